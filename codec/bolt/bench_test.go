package bolt

import "testing"

// BenchmarkEchoRequest is the proxy's per-request work on the sofaload
// request: find the frame, read the routing header, rewrite the id.
func BenchmarkEchoRequest(b *testing.B) {
	raw := EchoRequest()
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	var id uint32
	for b.Loop() {
		f, _, err := Parse(raw)
		if err != nil {
			b.Fatal(err)
		}
		if _, ok := f.Header("service"); !ok {
			b.Fatal("no service")
		}
		id++
		SetRequestID(f.Raw, id)
	}
}

// BenchmarkEchoRequestV2CRC is the same work on a v2 frame with CRC, where
// Parse verifies and SetRequestID recomputes the CRC32.
func BenchmarkEchoRequestV2CRC(b *testing.B) {
	echo, _, _ := Parse(EchoRequest())
	raw := AppendRequest(nil, Request{Proto: ProtoV2, Ver1: Ver1CRC, Switch: SwitchCRC, CmdCode: CmdRequest,
		Ver2: 1, Codec: 1, Timeout: 5000, Class: ClassRequest, Headers: [][2]string{{"service", EchoService}},
		Content: echo.Content})
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	var id uint32
	for b.Loop() {
		f, _, err := Parse(raw)
		if err != nil {
			b.Fatal(err)
		}
		if _, ok := f.Header("service"); !ok {
			b.Fatal("no service")
		}
		id++
		SetRequestID(f.Raw, id)
	}
}

func BenchmarkAppendErrorResponse(b *testing.B) {
	req, _, _ := Parse(EchoRequest())
	buf := make([]byte, 0, 128)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendErrorResponse(buf[:0], req, StatusNoProcessor)
	}
}
