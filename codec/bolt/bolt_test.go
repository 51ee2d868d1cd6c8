package bolt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"reflect"
	"strings"
	"testing"
)

func TestMatch(t *testing.T) {
	tests := []struct {
		in       []byte
		ok, more bool
		what     string
	}{
		{nil, false, true, "empty"},
		{[]byte{0x01}, true, false, "v1"},
		{[]byte{0x02, 0x01}, true, false, "v2"},
		{[]byte{0x03}, false, false, "unknown"},
		{[]byte{0xda, 0xbb}, false, false, "dubbo"},
		{[]byte("GET /"), false, false, "http"},
	}
	for _, tt := range tests {
		ok, more := Match(tt.in)
		if ok != tt.ok || more != tt.more {
			t.Errorf("Match(%s) = %v, %v; want %v, %v", tt.what, ok, more, tt.ok, tt.more)
		}
	}
}

func TestEchoRequest(t *testing.T) {
	raw := EchoRequest()
	if len(raw) != 1426 || EchoRequestLen != 1426 {
		t.Fatalf("echo request is %d bytes, want 1426", len(raw))
	}
	// The fixed header as sofaload writes it.
	wantHeader := []byte{
		0x01, 0x01, 0x00, 0x01, 0x01, // proto, type, cmdcode, ver2
		0, 0, 0, 0, // request id
		0x01,                   // codec
		0x00, 0x00, 0x13, 0x88, // timeout 5000
		0x00, 44, 0x00, 46, 0x00, 0x00, 0x05, 0x22, // lengths 44, 46, 1314
	}
	if !bytes.Equal(raw[:22], wantHeader) {
		t.Errorf("header % x\nwant   % x", raw[:22], wantHeader)
	}
	f, n, err := Parse(raw)
	if err != nil || n != 1426 {
		t.Fatalf("Parse = %d, %v", n, err)
	}
	if f.Proto != ProtoV1 || f.Type != TypeRequest || f.CmdCode != CmdRequest || f.Ver2 != 1 || f.Codec != 1 ||
		f.Timeout != 5000 || string(f.Class) != ClassRequest || len(f.HeaderBytes) != 46 || len(f.Content) != 1314 {
		t.Errorf("frame %+v", f)
	}
	if v, ok := f.Header("service"); !ok || string(v) != "com.alipay.test.TestService:1.0" {
		t.Errorf("service = %q, %v", v, ok)
	}
	checkEchoContent(t, f.Content)
	// Each call returns a fresh copy.
	SetRequestID(raw, 7)
	if again := EchoRequest(); binary.BigEndian.Uint32(again[5:]) != 0 {
		t.Error("EchoRequest shares its buffer")
	}
}

// checkEchoContent walks the early-draft Hessian SofaRequest and checks its
// fields, so that the content is what sofaload sends and not filler.
func checkEchoContent(t *testing.T, c []byte) {
	t.Helper()
	p := 0
	fail := func(what string) {
		t.Helper()
		t.Fatalf("content: %s at offset %d", what, p)
	}
	byteAt := func(want byte) {
		t.Helper()
		if p >= len(c) || c[p] != want {
			fail("expected " + string(rune(want)))
		}
		p++
	}
	str := func() string {
		t.Helper()
		if p >= len(c) {
			fail("string expected")
		}
		var n int
		switch {
		case c[p] < 0x20:
			n = int(c[p])
			p++
		case c[p] == 'S':
			n = int(binary.BigEndian.Uint16(c[p+1:]))
			p += 3
		default:
			fail("string expected")
		}
		s := string(c[p : p+n])
		p += n
		return s
	}
	byteAt('O')
	if s := str(); s != ClassRequest {
		t.Errorf("class %q", s)
	}
	byteAt(0x95)
	var fields []string
	for i := 0; i < 5; i++ {
		fields = append(fields, str())
	}
	if strings.Join(fields, ",") != "targetAppName,methodName,targetServiceUniqueName,requestProps,methodArgSigs" {
		t.Errorf("fields %v", fields)
	}
	byteAt('o')
	byteAt(0x90)
	byteAt('N')
	if s := str(); s != "echoStr" {
		t.Errorf("method %q", s)
	}
	if s := str(); s != EchoService {
		t.Errorf("service %q", s)
	}
	byteAt('M')
	byteAt('t')
	byteAt(0)
	byteAt(0)
	if k, v := str(), str(); k != "protocol" || v != "bolt" {
		t.Errorf("requestProps %q=%q", k, v)
	}
	byteAt('z')
	byteAt('V')
	byteAt('t')
	byteAt(0)
	byteAt(7)
	if string(c[p:p+7]) != "[string" {
		fail("list type")
	}
	p += 7
	byteAt('n')
	byteAt(1)
	if s := str(); s != "java.lang.String" {
		t.Errorf("arg sig %q", s)
	}
	byteAt('z')
	arg := str()
	if len(arg) < 1000 || !strings.HasPrefix(arg, "12345678901234567890") || strings.Trim(arg, "0123456789") != "" {
		t.Errorf("argument %d bytes %q...", len(arg), arg[:min(20, len(arg))])
	}
	if p != len(c) {
		t.Errorf("content has %d trailing bytes", len(c)-p)
	}
}

// sample frames of every kind, used by several tests.
func sampleFrames() []struct {
	name string
	raw  []byte
	want Frame
} {
	hdrs := [][2]string{{"service", "com.foo.HelloService:1.0"}, {"sofa_head_method_name", "sayHello"}, {"empty", ""}}
	content := []byte("hessian content")
	crcReq := AppendRequest(nil, Request{Proto: ProtoV2, Ver1: Ver1CRC, Switch: SwitchCRC, CmdCode: CmdRequest, Ver2: 1,
		RequestID: 77, Codec: 1, Timeout: 3000, Class: ClassRequest, Headers: hdrs, Content: content})
	crcFrame, _, _ := Parse(crcReq)
	return []struct {
		name string
		raw  []byte
		want Frame
	}{
		{
			"v1 request",
			AppendRequest(nil, Request{CmdCode: CmdRequest, Ver2: 1, RequestID: 1, Codec: 1, Timeout: 3000,
				Class: ClassRequest, Headers: hdrs, Content: content}),
			Frame{Proto: ProtoV1, Type: TypeRequest, CmdCode: CmdRequest, Ver2: 1, RequestID: 1, Codec: 1, Timeout: 3000},
		},
		{
			"v1 oneway",
			AppendRequest(nil, Request{Proto: ProtoV1, Oneway: true, CmdCode: CmdRequest, Ver2: 1, RequestID: 0xfffffffe, Codec: 11,
				Timeout: -1, Class: ClassRequest, Content: content}),
			Frame{Proto: ProtoV1, Type: TypeOneway, CmdCode: CmdRequest, Ver2: 1, RequestID: 0xfffffffe, Codec: 11, Timeout: -1},
		},
		{
			"v1 response",
			AppendResponse(nil, Response{CmdCode: CmdResponse, Ver2: 1, RequestID: 1, Codec: 1, Status: StatusServerException,
				Class: ClassResponse, Headers: hdrs[:1], Content: content}),
			Frame{Proto: ProtoV1, Type: TypeResponse, CmdCode: CmdResponse, Ver2: 1, RequestID: 1, Codec: 1, Status: StatusServerException},
		},
		{
			"v1 heartbeat",
			AppendHeartbeat(nil, ProtoV1, 9),
			Frame{Proto: ProtoV1, Type: TypeRequest, CmdCode: CmdHeartbeat, Ver2: 1, RequestID: 9, Codec: 1, Timeout: -1},
		},
		{
			"v1 heartbeat ack",
			AppendHeartbeatAck(nil, ProtoV1, 9),
			Frame{Proto: ProtoV1, Type: TypeResponse, CmdCode: CmdHeartbeat, Ver2: 1, RequestID: 9, Codec: 1},
		},
		{
			"v2 request",
			AppendRequest(nil, Request{Proto: ProtoV2, Ver1: 1, Switch: 0, CmdCode: CmdRequest, Ver2: 1, RequestID: 2,
				Codec: 1, Timeout: 1000, Class: ClassRequest, Headers: hdrs, Content: content}),
			Frame{Proto: ProtoV2, Ver1: 1, Type: TypeRequest, CmdCode: CmdRequest, Ver2: 1, RequestID: 2, Codec: 1, Timeout: 1000},
		},
		{
			"v2 switch on but ver1 1: no CRC",
			AppendRequest(nil, Request{Proto: ProtoV2, Ver1: 1, Switch: SwitchCRC, CmdCode: CmdRequest, Ver2: 1, RequestID: 3,
				Codec: 1, Class: ClassRequest, Content: content}),
			Frame{Proto: ProtoV2, Ver1: 1, Switch: SwitchCRC, Type: TypeRequest, CmdCode: CmdRequest, Ver2: 1, RequestID: 3, Codec: 1},
		},
		{
			"v2 request with CRC",
			crcReq,
			Frame{Proto: ProtoV2, Ver1: Ver1CRC, Switch: SwitchCRC, Type: TypeRequest, CmdCode: CmdRequest, Ver2: 1, RequestID: 77, Codec: 1, Timeout: 3000},
		},
		{
			"v2 response with CRC",
			AppendResponse(nil, Response{Proto: ProtoV2, Ver1: Ver1CRC, Switch: SwitchCRC | 0x80, CmdCode: CmdResponse, Ver2: 1,
				RequestID: 4, Codec: 1, Status: StatusSuccess, Class: ClassResponse, Content: content}),
			Frame{Proto: ProtoV2, Ver1: Ver1CRC, Switch: SwitchCRC | 0x80, Type: TypeResponse, CmdCode: CmdResponse, Ver2: 1, RequestID: 4, Codec: 1},
		},
		{
			"v2 heartbeat",
			AppendHeartbeat(nil, ProtoV2, 10),
			Frame{Proto: ProtoV2, Ver1: 1, Type: TypeRequest, CmdCode: CmdHeartbeat, Ver2: 1, RequestID: 10, Codec: 1, Timeout: -1},
		},
		{
			"v2 heartbeat ack",
			AppendHeartbeatAck(nil, ProtoV2, 10),
			Frame{Proto: ProtoV2, Ver1: 1, Type: TypeResponse, CmdCode: CmdHeartbeat, Ver2: 1, RequestID: 10, Codec: 1},
		},
		{
			"v2 error response to CRC request",
			AppendErrorResponse(nil, crcFrame, StatusNoProcessor),
			Frame{Proto: ProtoV2, Ver1: Ver1CRC, Switch: SwitchCRC, Type: TypeResponse, CmdCode: CmdResponse, Ver2: 1, RequestID: 77, Codec: 1, Status: StatusNoProcessor},
		},
		{
			"goaway",
			AppendRequest(nil, Request{CmdCode: CmdGoAway, Ver2: 1, Codec: 1}),
			Frame{Proto: ProtoV1, Type: TypeRequest, CmdCode: CmdGoAway, Ver2: 1, Codec: 1},
		},
	}
}

func TestRoundTrip(t *testing.T) {
	for _, tt := range sampleFrames() {
		t.Run(tt.name, func(t *testing.T) {
			orig := bytes.Clone(tt.raw)
			f, n, err := Parse(tt.raw)
			if err != nil || n != len(tt.raw) {
				t.Fatalf("Parse = %d, %v; want %d", n, err, len(tt.raw))
			}
			if !bytes.Equal(tt.raw, orig) {
				t.Fatal("Parse modified its input")
			}
			if &f.Raw[0] != &tt.raw[0] || len(f.Raw) != n {
				t.Error("Raw is not the input frame")
			}
			got := f
			got.Raw, got.Class, got.HeaderBytes, got.Content = nil, nil, nil, nil
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("fields\n got %+v\nwant %+v", got, tt.want)
			}
			// The variable segments sit back to back after the header.
			hl := headerLen(f.Proto, f.Type)
			rest := len(f.Class) + len(f.HeaderBytes) + len(f.Content)
			if f.HasCRC() {
				rest += CRCLen
			}
			if hl+rest != n {
				t.Errorf("segments %d + %d != %d", hl, rest, n)
			}
			if f.IsHeartbeat() != (tt.want.CmdCode == CmdHeartbeat) {
				t.Error("IsHeartbeat wrong")
			}
			if f.IsRequest() != (tt.want.Type != TypeResponse) || f.Oneway() != (tt.want.Type == TypeOneway) {
				t.Error("IsRequest/Oneway wrong")
			}
		})
	}
}

func TestBuildersRoundTripFields(t *testing.T) {
	hdrs := [][2]string{{"service", "a.B:1.0"}, {"k", "v"}, {"", "empty key"}}
	content := bytes.Repeat([]byte{0xab}, 300)
	for _, proto := range []byte{ProtoV1, ProtoV2} {
		req := Request{Proto: proto, Ver1: 1, CmdCode: CmdRequest, Ver2: 1, RequestID: 5, Codec: 1, Timeout: 42,
			Class: ClassRequest, Headers: hdrs, Content: content}
		f, _, err := Parse(AppendRequest([]byte("prefix"), req)[6:])
		if err != nil {
			t.Fatal(err)
		}
		if string(f.Class) != ClassRequest || !bytes.Equal(f.Content, content) {
			t.Errorf("v%d class/content differ", proto)
		}
		m, err := f.DecodeHeaders()
		if err != nil || !reflect.DeepEqual(m, map[string]string{"service": "a.B:1.0", "k": "v", "": "empty key"}) {
			t.Errorf("v%d headers %v, %v", proto, m, err)
		}
		var order []string
		f.RangeHeaders(func(k, v []byte) bool {
			order = append(order, string(k)+"="+string(v))
			return true
		})
		if strings.Join(order, ";") != "service=a.B:1.0;k=v;=empty key" {
			t.Errorf("v%d RangeHeaders order %v", proto, order)
		}
		if len(f.HeaderBytes) != HeaderMapLen(hdrs) {
			t.Errorf("HeaderMapLen %d != %d", HeaderMapLen(hdrs), len(f.HeaderBytes))
		}
	}
}

func TestHeaderLookup(t *testing.T) {
	// Null keys are skipped; null values are present but nil.
	var hm []byte
	hm = binary.BigEndian.AppendUint32(hm, nullLen)
	hm = binary.BigEndian.AppendUint32(hm, 3)
	hm = append(hm, "nul"...) // value of the null key
	hm = AppendHeader(hm, "service", "x.Y:1.0")
	hm = binary.BigEndian.AppendUint32(hm, 4)
	hm = append(hm, "nval"...)
	hm = binary.BigEndian.AppendUint32(hm, nullLen)
	hm = AppendHeader(hm, "service", "second")
	f := Frame{HeaderBytes: hm}
	if err := validateHeaderMap(hm); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		key     string
		want    string
		present bool
	}{
		{"service", "x.Y:1.0", true}, // first wins
		{"nval", "", true},
		{"nul", "", false},
		{"Service", "", false},
		{"", "", false},
		{"missing", "", false},
	}
	for _, tt := range tests {
		v, ok := f.Header(tt.key)
		if ok != tt.present || string(v) != tt.want {
			t.Errorf("Header(%q) = %q, %v; want %q, %v", tt.key, v, ok, tt.want, tt.present)
		}
	}
	if v, _ := f.Header("nval"); v != nil {
		t.Errorf("null value = %q, want nil", v)
	}
	m, err := f.DecodeHeaders()
	if err != nil || !reflect.DeepEqual(m, map[string]string{"service": "second", "nval": ""}) {
		t.Errorf("DecodeHeaders = %v, %v", m, err)
	}
	n := 0
	f.RangeHeaders(func(k, v []byte) bool {
		n++
		return false
	})
	if n != 1 {
		t.Errorf("RangeHeaders did not stop: %d calls", n)
	}
	// Malformed maps: lookups fail softly, decoding reports an error.
	for _, bad := range [][]byte{{0, 0, 0}, {0, 0, 0, 5, 'a'}, {0, 0, 0, 1, 'a', 0, 0}, {0xff, 0xff, 0xff, 0xfe}} {
		f := Frame{HeaderBytes: bad}
		if _, ok := f.Header("a"); ok {
			t.Errorf("Header on % x found a value", bad)
		}
		if _, err := f.DecodeHeaders(); !errors.Is(err, ErrInvalid) {
			t.Errorf("DecodeHeaders(% x) = %v", bad, err)
		}
		f.RangeHeaders(func(k, v []byte) bool { return true })
	}
}

func TestSetRequestID(t *testing.T) {
	for _, tt := range sampleFrames() {
		t.Run(tt.name, func(t *testing.T) {
			raw := bytes.Clone(tt.raw)
			f, _, err := Parse(raw)
			if err != nil {
				t.Fatal(err)
			}
			f.SetRequestID(0xdeadbeef)
			if f.RequestID != 0xdeadbeef {
				t.Error("Frame.RequestID not updated")
			}
			off := RequestIDOffset(raw[0])
			crc := f.HasCRC()
			for i := range raw {
				inID := i >= off && i < off+4
				inCRC := crc && i >= len(raw)-CRCLen
				if raw[i] != tt.raw[i] && !inID && !inCRC {
					t.Errorf("byte %d changed", i)
				}
			}
			if got := binary.BigEndian.Uint32(raw[off:]); got != 0xdeadbeef {
				t.Errorf("id bytes hold %#x", got)
			}
			g, n, err := Parse(raw)
			if err != nil || n != len(raw) {
				t.Fatalf("re-parse: %v", err)
			}
			want := tt.want
			want.RequestID = 0xdeadbeef
			g.Raw, g.Class, g.HeaderBytes, g.Content = nil, nil, nil, nil
			if !reflect.DeepEqual(g, want) {
				t.Errorf("re-parsed %+v", g)
			}
			// Setting the old id back restores the original bytes, CRC included.
			SetRequestID(raw, tt.want.RequestID)
			if !bytes.Equal(raw, tt.raw) {
				t.Error("restoring the id did not restore the frame")
			}
		})
	}
	// Too short or unknown input is left alone rather than panicking.
	for _, b := range [][]byte{nil, {0x01, 1, 2}, {0x02, 2, 0, 0, 1, 1, 0, 0, 0, 1, 1, 1}, {0x09, 0, 0, 0, 0, 0, 0, 0, 0, 0}} {
		c := bytes.Clone(b)
		SetRequestID(c, 5)
		if !bytes.Equal(c, b) {
			t.Errorf("SetRequestID changed % x", b)
		}
	}
}

func TestBackToBackAndSplits(t *testing.T) {
	var stream []byte
	var lens []int
	samples := sampleFrames()
	for _, tt := range samples {
		stream = append(stream, tt.raw...)
		lens = append(lens, len(tt.raw))
	}
	stream = append(stream, EchoRequest()...)
	lens = append(lens, EchoRequestLen)

	// One pass over the whole buffer, v1 and v2 interleaved.
	rest := stream
	for i, l := range lens {
		f, n, err := Parse(rest)
		if err != nil || n != l {
			t.Fatalf("frame %d: n %d, %v; want %d", i, n, err, l)
		}
		if i < len(samples) && f.RequestID != samples[i].want.RequestID {
			t.Errorf("frame %d id %d", i, f.RequestID)
		}
		rest = rest[n:]
	}
	if len(rest) != 0 {
		t.Fatalf("%d bytes left", len(rest))
	}

	// Every proper prefix of every frame asks for more, then the whole frame
	// parses identically.
	off := 0
	for i, l := range lens {
		frame := stream[off : off+l]
		full, _, _ := Parse(frame)
		for k := 0; k < l; k++ {
			if _, n, err := Parse(frame[:k]); err != ErrNeedMore || n != 0 {
				t.Fatalf("frame %d prefix %d: n %d, %v", i, k, n, err)
			}
		}
		// With the next frame's bytes behind it, the result is unchanged.
		f, n, err := Parse(stream[off:])
		if err != nil || n != l || !reflect.DeepEqual(f, full) {
			t.Fatalf("frame %d in stream: %v", i, err)
		}
		off += l
	}
}

func TestInvalidFrames(t *testing.T) {
	good := AppendRequest(nil, Request{CmdCode: CmdRequest, Ver2: 1, RequestID: 1, Codec: 1,
		Class: ClassRequest, Headers: [][2]string{{"service", "s"}}, Content: []byte("c")})
	crc := AppendRequest(nil, Request{Proto: ProtoV2, Ver1: Ver1CRC, Switch: SwitchCRC, CmdCode: CmdRequest, Ver2: 1,
		RequestID: 1, Codec: 1, Content: []byte("c")})
	mutate := func(b []byte, fn func([]byte)) []byte {
		c := bytes.Clone(b)
		fn(c)
		return c
	}
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"unknown proto", []byte{0x03, 1, 0, 1}, "unknown protocol code 0x03"},
		{"unknown proto zero", []byte{0x00}, "unknown protocol code 0x00"},
		{"unknown type v1", []byte{0x01, 0x03}, "unknown type 0x03"},
		{"unknown type v2", []byte{0x02, 0x01, 0x07}, "unknown type 0x07"},
		{"content too long", mutate(good, func(b []byte) { binary.BigEndian.PutUint32(b[18:], 0xffffffff) }), "exceeds the limit"},
		{"header map key beyond", mutate(good, func(b []byte) { b[22+len(ClassRequest)+3] = 200 }), "malformed header map"},
		{"header map negative", mutate(good, func(b []byte) { binary.BigEndian.PutUint32(b[22+len(ClassRequest):], 0xfffffffe) }), "malformed header map"},
		{"crc mismatch", mutate(crc, func(b []byte) { b[len(b)-1] ^= 1 }), "CRC32 mismatch"},
		{"crc covers content", mutate(crc, func(b []byte) { b[len(b)-5] ^= 1 }), "CRC32 mismatch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, n, err := Parse(tt.in)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse = %v, want error containing %q", err, tt.want)
			}
			if n != 0 || f.Raw != nil {
				t.Errorf("failed Parse returned n=%d frame %+v", n, f)
			}
		})
	}
	// A frame over a configured limit is refused before it is complete.
	big := AppendRequest(nil, Request{CmdCode: CmdRequest, Content: make([]byte, 1000)})
	if _, _, err := ParseLimit(big[:30], 500); !errors.Is(err, ErrInvalid) {
		t.Errorf("ParseLimit over limit = %v", err)
	}
	if _, n, err := ParseLimit(big, len(big)); err != nil || n != len(big) {
		t.Errorf("ParseLimit at limit = %d, %v", n, err)
	}
	if _, _, err := ParseLimit(big, len(big)-1); !errors.Is(err, ErrInvalid) {
		t.Errorf("ParseLimit one over = %v", err)
	}
}

func TestErrorResponse(t *testing.T) {
	req, _, err := Parse(EchoRequest())
	if err != nil {
		t.Fatal(err)
	}
	req.SetRequestID(4242)
	raw := AppendErrorResponse(nil, req, StatusTimeout)
	// What sofaload reads: a v1 20-byte header, id at 5, status at 10.
	if len(raw) != ResponseHeaderLenV1+len(ClassResponse) || raw[0] != ProtoV1 || raw[1] != byte(TypeResponse) ||
		binary.BigEndian.Uint32(raw[5:]) != 4242 || binary.BigEndian.Uint16(raw[10:]) != StatusTimeout {
		t.Errorf("error response % x", raw)
	}
	f, _, err := Parse(raw)
	if err != nil || f.CmdCode != CmdResponse || string(f.Class) != ClassResponse || len(f.HeaderBytes) != 0 ||
		len(f.Content) != 0 || f.Codec != req.Codec || f.Ver2 != req.Ver2 {
		t.Errorf("parsed %+v, %v", f, err)
	}
	hb, _, _ := Parse(AppendHeartbeat(nil, ProtoV2, 3))
	f, _, err = Parse(AppendErrorResponse(nil, hb, StatusServerThreadpoolBusy))
	if err != nil || f.CmdCode != CmdHeartbeat || f.Proto != ProtoV2 || f.Status != StatusServerThreadpoolBusy {
		t.Errorf("error response to heartbeat %+v, %v", f, err)
	}
}

func TestHeartbeatBytes(t *testing.T) {
	want := []byte{0x01, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 9, 0x01, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0}
	if got := AppendHeartbeat(nil, ProtoV1, 9); !bytes.Equal(got, want) {
		t.Errorf("heartbeat % x", got)
	}
	wantAck := []byte{0x01, 0x00, 0x00, 0x00, 0x01, 0, 0, 0, 9, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	if got := AppendHeartbeatAck(nil, ProtoV1, 9); !bytes.Equal(got, wantAck) {
		t.Errorf("heartbeat ack % x", got)
	}
	if got := AppendHeartbeat(nil, ProtoV2, 9); len(got) != RequestHeaderLenV2 || got[1] != 1 || got[11] != 0 {
		t.Errorf("v2 heartbeat % x", got)
	}
}

func TestCRCValue(t *testing.T) {
	raw := AppendHeartbeat(nil, ProtoV2, 1)
	raw[1], raw[11] = Ver1CRC, SwitchCRC
	raw = binary.BigEndian.AppendUint32(raw, crc32.ChecksumIEEE(raw))
	f, n, err := Parse(raw)
	if err != nil || n != RequestHeaderLenV2+CRCLen || !f.HasCRC() {
		t.Fatalf("hand-made CRC frame: %d, %v", n, err)
	}
	built := AppendRequest(nil, Request{Proto: ProtoV2, Ver1: Ver1CRC, Switch: SwitchCRC, CmdCode: CmdHeartbeat,
		Ver2: 1, RequestID: 1, Codec: 1, Timeout: -1})
	if !bytes.Equal(built, raw) {
		t.Errorf("builder CRC % x, want % x", built, raw)
	}
}

func TestStatus(t *testing.T) {
	tests := []struct {
		s    uint16
		name string
		http int
	}{
		{StatusSuccess, "SUCCESS", 200},
		{StatusError, "ERROR", 500},
		{StatusServerException, "SERVER_EXCEPTION", 500},
		{StatusUnknown, "UNKNOWN", 500},
		{StatusServerThreadpoolBusy, "SERVER_THREADPOOL_BUSY", 503},
		{StatusErrorComm, "ERROR_COMM", 500},
		{StatusNoProcessor, "NO_PROCESSOR", 500},
		{StatusTimeout, "TIMEOUT", 504},
		{StatusClientSendError, "CLIENT_SEND_ERROR", 500},
		{StatusCodecException, "CODEC_EXCEPTION", 500},
		{StatusConnectionClosed, "CONNECTION_CLOSED", 502},
		{StatusServerSerialException, "SERVER_SERIAL_EXCEPTION", 500},
		{StatusServerDeserialException, "SERVER_DESERIAL_EXCEPTION", 500},
		{0x0a, "", 500},
	}
	for _, tt := range tests {
		if got := StatusName(tt.s); got != tt.name {
			t.Errorf("StatusName(%#x) = %q, want %q", tt.s, got, tt.name)
		}
		if got := StatusToHTTP(tt.s); got != tt.http {
			t.Errorf("StatusToHTTP(%#x) = %d, want %d", tt.s, got, tt.http)
		}
	}
	if StatusConnectionClosed != 16 {
		t.Error("CONNECTION_CLOSED must be 0x10")
	}
}

func TestBuilderPanicsOnOversize(t *testing.T) {
	for name, r := range map[string]Request{
		"class":   {Class: strings.Repeat("c", 1<<16)},
		"headers": {Headers: [][2]string{{"k", strings.Repeat("v", 1<<16)}}},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("oversized %s did not panic", name)
				}
			}()
			AppendRequest(nil, r)
		}()
	}
}

func TestHotPathDoesNotAllocate(t *testing.T) {
	raw := EchoRequest()
	crc := AppendRequest(nil, Request{Proto: ProtoV2, Ver1: Ver1CRC, Switch: SwitchCRC, CmdCode: CmdRequest, Ver2: 1,
		Codec: 1, Class: ClassRequest, Headers: [][2]string{{"service", EchoService}}, Content: make([]byte, 1300)})
	for _, in := range [][]byte{raw, crc} {
		id := uint32(0)
		allocs := testing.AllocsPerRun(100, func() {
			f, _, err := Parse(in)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := f.Header("service"); !ok {
				t.Fatal("no service")
			}
			id++
			SetRequestID(f.Raw, id)
		})
		if allocs != 0 {
			t.Errorf("hot path allocated %.1f times per frame", allocs)
		}
	}
}
