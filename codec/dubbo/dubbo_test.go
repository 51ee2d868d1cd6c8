package dubbo

import (
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
	"strings"
	"testing"

	"mosn.dev/proxy/codec/hessian"
)

func TestMatch(t *testing.T) {
	tests := []struct {
		in       []byte
		ok, more bool
	}{
		{nil, false, true},
		{[]byte{0xda}, false, true},
		{[]byte{0xda, 0xbb}, true, false},
		{[]byte{0xda, 0xbc}, false, false},
		{[]byte{0x01}, false, false},
		{[]byte("GET"), false, false},
	}
	for _, tt := range tests {
		if ok, more := Match(tt.in); ok != tt.ok || more != tt.more {
			t.Errorf("Match(% x) = %v, %v; want %v, %v", tt.in, ok, more, tt.ok, tt.more)
		}
	}
}

// javaStyleRequest builds a request body the way Java dubbo's DubboCodec
// writes it, with arguments of several kinds and attachments holding
// non-string entries.
func javaStyleRequest(id uint64) []byte {
	var body []byte
	body = hessian.AppendString(body, "2.0.2")
	body = hessian.AppendString(body, "com.foo.DemoService")
	body = hessian.AppendString(body, "1.0.0")
	body = hessian.AppendString(body, "sayHello")
	body = hessian.AppendString(body, "Ljava/lang/String;I[JLcom/foo/User;Ljava/util/Map;")
	// String argument, chunked and with a supplementary character.
	body = hessian.AppendString(body, strings.Repeat("名", 40000)+"😀")
	body = hessian.AppendInt(body, 5)
	body = hessian.AppendListStart(body, "[long", 3)
	body = hessian.AppendLong(body, 1)
	body = hessian.AppendLong(body, 1<<40)
	body = hessian.AppendLong(body, -7)
	// A POJO with a nested list and a reference back to itself.
	body = hessian.AppendClassDef(body, "com.foo.User", "name", "tags", "self", "born")
	body = hessian.AppendObjectStart(body, 0)
	body = hessian.AppendString(body, "alice")
	body = hessian.AppendListStart(body, "", 2)
	body = hessian.AppendString(body, "a")
	body = hessian.AppendDouble(body, 3.25)
	body = hessian.AppendRef(body, 1) // the list [long] is ref 0, the user ref 1
	body = append(body, 'J', 0, 0, 0, 0xd0, 0x4b, 0x92, 0x84, 0xb8)
	// A typed map argument.
	body = hessian.AppendMapStart(body, "java.util.HashMap")
	body = hessian.AppendString(body, "k")
	body = hessian.AppendBinary(body, []byte{1, 2, 3})
	body = hessian.AppendEnd(body)
	// Attachments.
	body = hessian.AppendMapStart(body, "")
	for _, kv := range [][2]string{{"path", "com.foo.DemoService"}, {"interface", "com.foo.DemoServiceIface"}} {
		body = hessian.AppendString(body, kv[0])
		body = hessian.AppendString(body, kv[1])
	}
	body = hessian.AppendString(body, "timeout") // int value: left out
	body = hessian.AppendInt(body, 3000)
	body = hessian.AppendInt(body, 1) // int key: left out
	body = hessian.AppendString(body, "x")
	body = hessian.AppendString(body, "nullvalue") // null value: left out
	body = hessian.AppendNull(body)
	body = hessian.AppendString(body, "group")
	body = hessian.AppendString(body, "blue")
	body = hessian.AppendString(body, "version")
	body = hessian.AppendString(body, "1.0.0")
	body = hessian.AppendEnd(body)

	raw := []byte{MagicHigh, MagicLow, FlagRequest | FlagTwoWay | SerializationHessian2, 0}
	raw = binary.BigEndian.AppendUint64(raw, id)
	raw = binary.BigEndian.AppendUint32(raw, uint32(len(body)))
	return append(raw, body...)
}

func TestServiceJavaStyle(t *testing.T) {
	raw := javaStyleRequest(42)
	f, n, err := Parse(raw)
	if err != nil || n != len(raw) {
		t.Fatalf("Parse = %d, %v", n, err)
	}
	if !f.IsRequest || !f.TwoWay || f.IsEvent || f.Serialization != 2 || f.ID != 42 {
		t.Errorf("frame %+v", f)
	}
	m, err := f.Service()
	if err != nil {
		t.Fatal(err)
	}
	want := Meta{
		DubboVersion: "2.0.2",
		Service:      "com.foo.DemoServiceIface",
		Version:      "1.0.0",
		Method:       "sayHello",
		Group:        "blue",
		Attachments: [][2]string{
			{"path", "com.foo.DemoService"},
			{"interface", "com.foo.DemoServiceIface"},
			{"group", "blue"},
			{"version", "1.0.0"},
		},
	}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("Service\n got %+v\nwant %+v", m, want)
	}
}

func TestRequestRoundTrip(t *testing.T) {
	args := [][]byte{
		hessian.AppendString(nil, "world"),
		hessian.AppendLong(nil, 1<<50),
	}
	tests := []struct {
		name string
		in   Meta
		want Meta
	}{
		{
			"no attachments, null version",
			Meta{DubboVersion: "2.7.8", Service: "a.B", Method: "m"},
			Meta{DubboVersion: "2.7.8", Service: "a.B", Method: "m"},
		},
		{
			"attachments",
			Meta{DubboVersion: "2.0.2", Service: "a.B", Version: "2.0", Method: "m",
				Attachments: [][2]string{{"path", "a.B"}, {"group", "g1"}, {"中文", "值😀"}}},
			Meta{DubboVersion: "2.0.2", Service: "a.B", Version: "2.0", Method: "m", Group: "g1",
				Attachments: [][2]string{{"path", "a.B"}, {"group", "g1"}, {"中文", "值😀"}}},
		},
		{
			"empty interface does not override",
			Meta{DubboVersion: "2.0.2", Service: "a.B", Method: "m", Attachments: [][2]string{{"interface", ""}}},
			Meta{DubboVersion: "2.0.2", Service: "a.B", Method: "m", Attachments: [][2]string{{"interface", ""}}},
		},
		{
			"many attachments",
			Meta{DubboVersion: "2.0.2", Service: "a.B", Method: "m", Attachments: manyPairs(40)},
			Meta{DubboVersion: "2.0.2", Service: "a.B", Method: "m", Attachments: manyPairs(40)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := AppendRequest([]byte("junk"), 7, tt.in, "Ljava/lang/String;J", args)[4:]
			f, n, err := Parse(raw)
			if err != nil || n != len(raw) {
				t.Fatalf("Parse = %d, %v", n, err)
			}
			if f.Flag != 0xc2 || f.ID != 7 || f.Status != 0 || len(f.Body) != n-HeaderLen || &f.Raw[0] != &raw[0] {
				t.Errorf("frame %+v", f)
			}
			m, err := f.Service()
			if err != nil || !reflect.DeepEqual(m, tt.want) {
				t.Errorf("Service = %+v, %v\nwant %+v", m, err, tt.want)
			}
		})
	}
}

func manyPairs(n int) [][2]string {
	var p [][2]string
	for i := 0; i < n; i++ {
		p = append(p, [2]string{"key" + strings.Repeat("k", i), strings.Repeat("v", i)})
	}
	return p
}

func TestServiceErrors(t *testing.T) {
	good := AppendRequest(nil, 1, Meta{DubboVersion: "2.0.2", Service: "a.B", Method: "m"}, "I", [][]byte{hessian.AppendInt(nil, 1)})
	withFlag := func(flag byte) Frame {
		f, _, _ := Parse(good)
		f.Flag = flag
		f.IsRequest = flag&FlagRequest != 0
		f.IsEvent = flag&FlagEvent != 0
		f.Serialization = flag & SerializationMask
		return f
	}
	tests := []struct {
		name string
		f    Frame
		want error
	}{
		{"response", withFlag(SerializationHessian2), ErrNotRequest},
		{"event", withFlag(FlagRequest | FlagTwoWay | FlagEvent | SerializationHessian2), ErrNotRequest},
		{"fastjson", withFlag(FlagRequest | FlagTwoWay | 6), ErrSerialization},
	}
	badBody := func(body []byte) Frame {
		raw := AppendResponse(nil, 1, 0, body)
		raw[2] = FlagRequest | FlagTwoWay | SerializationHessian2
		f, _, err := Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	four := func() []byte {
		var b []byte
		for _, s := range []string{"2.0.2", "a.B", "1.0", "m"} {
			b = hessian.AppendString(b, s)
		}
		return b
	}
	tests = append(tests, []struct {
		name string
		f    Frame
		want error
	}{
		{"empty body", badBody(nil), hessian.ErrUnexpectedEnd},
		{"int instead of version", badBody([]byte{0x90}), hessian.ErrMalformed},
		{"bad descriptor", badBody(hessian.AppendString(four(), "Q")), ErrInvalid},
		{"missing argument", badBody(hessian.AppendString(four(), "II")), hessian.ErrUnexpectedEnd},
		{"attachments not a map", badBody(append(hessian.AppendString(four(), ""), 0x90)), hessian.ErrMalformed},
		{"attachments unterminated", badBody(append(hessian.AppendString(four(), ""), 'H', 0x01, 'a', 0x01, 'b')), hessian.ErrUnexpectedEnd},
	}...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tt.f.Service(); !errors.Is(err, tt.want) {
				t.Errorf("Service = %v, want %v", err, tt.want)
			}
		})
	}
	// No attachments at all, or a null map, is fine.
	for _, body := range [][]byte{hessian.AppendString(four(), ""), append(hessian.AppendString(four(), ""), 'N')} {
		f := badBody(body)
		if m, err := f.Service(); err != nil || m.Service != "a.B" || m.Attachments != nil {
			t.Errorf("Service without attachments = %+v, %v", m, err)
		}
	}
	// Every truncation of a real body fails cleanly.
	full, _, _ := Parse(javaStyleRequest(1))
	for i := 0; i < len(full.Body); i += 1 + i/64 {
		f := full
		f.Body = full.Body[:i]
		if _, err := f.Service(); err == nil {
			t.Fatalf("Service on %d-byte body prefix succeeded", i)
		}
	}
}

func TestCountArgs(t *testing.T) {
	tests := []struct {
		desc string
		n    int
		ok   bool
	}{
		{"", 0, true},
		{"I", 1, true},
		{"Ljava/lang/String;", 1, true},
		{"Ljava/lang/String;I[J", 3, true},
		{"ZBCSIJFD", 8, true},
		{"[[Ljava/lang/Object;[[[I", 2, true},
		{"Ljava/lang/String", 0, false},
		{"L;", 0, false},
		{"[", 0, false},
		{"V", 0, false},
		{"I,J", 0, false},
	}
	for _, tt := range tests {
		n, err := CountArgs([]byte(tt.desc))
		if n != tt.n || (err == nil) != tt.ok {
			t.Errorf("CountArgs(%q) = %d, %v", tt.desc, n, err)
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("CountArgs(%q) error %v does not wrap ErrInvalid", tt.desc, err)
		}
	}
}

func TestHeartbeat(t *testing.T) {
	hb := AppendHeartbeat(nil, 0x0102030405060708)
	want := []byte{0xda, 0xbb, 0xe2, 0x00, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 1, 'N'}
	if !bytes.Equal(hb, want) {
		t.Errorf("heartbeat % x", hb)
	}
	f, _, err := Parse(hb)
	if err != nil || !f.IsHeartbeat() || !f.IsRequest || !f.TwoWay || f.ID != 0x0102030405060708 {
		t.Errorf("heartbeat frame %+v, %v", f, err)
	}
	if _, err := f.Service(); err != ErrNotRequest {
		t.Errorf("Service on heartbeat = %v", err)
	}
	reply := AppendHeartbeatReply(nil, f.ID)
	want = []byte{0xda, 0xbb, 0x22, 20, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 1, 'N'}
	if !bytes.Equal(reply, want) {
		t.Errorf("heartbeat reply % x", reply)
	}
	r, _, err := Parse(reply)
	if err != nil || !r.IsEvent || r.IsRequest || r.Status != StatusOK || r.ID != f.ID {
		t.Errorf("reply frame %+v, %v", r, err)
	}
}

func TestResponses(t *testing.T) {
	body := hessian.AppendString(hessian.AppendInt(nil, ResponseValue), "hello")
	raw := AppendResponse(nil, 99, StatusOK, body)
	f, n, err := Parse(raw)
	if err != nil || n != len(raw) || f.IsRequest || f.TwoWay || f.IsEvent || f.Status != StatusOK || f.ID != 99 ||
		!bytes.Equal(f.Body, body) {
		t.Errorf("response %+v, %v", f, err)
	}

	req, _, _ := Parse(javaStyleRequest(1234))
	raw = AppendErrorResponse(nil, req, StatusServiceNotFound, "no provider for 服务")
	f, _, err = Parse(raw)
	if err != nil || f.Status != StatusServiceNotFound || f.ID != 1234 || f.IsRequest || f.Serialization != SerializationHessian2 {
		t.Fatalf("error response %+v, %v", f, err)
	}
	r := hessian.NewReader(f.Body)
	if msg, err := r.ReadString(); err != nil || msg != "no provider for 服务" || r.Len() != 0 {
		t.Errorf("error body %q, %v", msg, err)
	}
}

func TestSetID(t *testing.T) {
	orig := javaStyleRequest(5)
	raw := bytes.Clone(orig)
	f, _, _ := Parse(raw)
	f.SetID(0xfedcba9876543210)
	if f.ID != 0xfedcba9876543210 {
		t.Error("Frame.ID not updated")
	}
	for i := range raw {
		if raw[i] != orig[i] && (i < 4 || i >= 12) {
			t.Errorf("byte %d changed", i)
		}
	}
	g, _, err := Parse(raw)
	if err != nil || g.ID != 0xfedcba9876543210 {
		t.Errorf("re-parsed id %#x, %v", g.ID, err)
	}
	SetID(raw, 5)
	if !bytes.Equal(raw, orig) {
		t.Error("restoring the id did not restore the frame")
	}
	short := []byte{0xda, 0xbb, 0xc2}
	SetID(short, 1)
	if !bytes.Equal(short, []byte{0xda, 0xbb, 0xc2}) {
		t.Error("SetID changed a short buffer")
	}
}

func TestBackToBackAndSplits(t *testing.T) {
	frames := [][]byte{
		javaStyleRequest(1),
		AppendHeartbeat(nil, 2),
		AppendHeartbeatReply(nil, 2),
		AppendResponse(nil, 1, StatusOK, []byte{0x92}),
		AppendRequest(nil, 3, Meta{DubboVersion: "2.0.2", Service: "s", Method: "m"}, "", nil),
		AppendResponse(nil, 4, StatusOK, nil),
	}
	var stream []byte
	for _, fr := range frames {
		stream = append(stream, fr...)
	}
	rest := stream
	for i, fr := range frames {
		f, n, err := Parse(rest)
		if err != nil || n != len(fr) || !bytes.Equal(f.Raw, fr) {
			t.Fatalf("frame %d: n %d, %v", i, n, err)
		}
		for k := 0; k < len(fr); k++ {
			if _, n, err := Parse(fr[:k]); err != ErrNeedMore || n != 0 {
				t.Fatalf("frame %d prefix %d: %d, %v", i, k, n, err)
			}
		}
		rest = rest[n:]
	}
	if len(rest) != 0 {
		t.Errorf("%d bytes left", len(rest))
	}
}

func TestInvalidFrames(t *testing.T) {
	big := AppendResponse(nil, 1, StatusOK, make([]byte, 100))
	tests := []struct {
		name  string
		in    []byte
		limit int
		want  string
	}{
		{"bad first byte", []byte{0xdb}, MaxBodySize, "bad magic"},
		{"bad second byte", []byte{0xda, 0xbc, 0, 0}, MaxBodySize, "bad magic"},
		{"http", []byte("GET / HTTP/1.1\r\n\r\n"), MaxBodySize, "bad magic"},
		{"body over default", []byte{0xda, 0xbb, 0x02, 20, 0, 0, 0, 0, 0, 0, 0, 1, 0x00, 0x80, 0x00, 0x01}, MaxBodySize, "exceeds the limit"},
		{"body over limit", big[:HeaderLen], 99, "exceeds the limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, n, err := ParseLimit(tt.in, tt.limit)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) || n != 0 || f.Raw != nil {
				t.Errorf("ParseLimit = %d, %v; want error containing %q", n, err, tt.want)
			}
		})
	}
	if _, n, err := ParseLimit(big, 100); err != nil || n != len(big) {
		t.Errorf("body at the limit: %d, %v", n, err)
	}
	// Exactly MaxBodySize is accepted (once complete).
	hdr := []byte{0xda, 0xbb, 0x02, 20, 0, 0, 0, 0, 0, 0, 0, 1, 0x00, 0x80, 0x00, 0x00}
	if _, _, err := Parse(hdr); err != ErrNeedMore {
		t.Errorf("8 MiB body header: %v", err)
	}
}

func TestStatusName(t *testing.T) {
	names := map[byte]string{
		20: "OK", 30: "CLIENT_TIMEOUT", 31: "SERVER_TIMEOUT", 40: "BAD_REQUEST", 50: "BAD_RESPONSE",
		60: "SERVICE_NOT_FOUND", 70: "SERVICE_ERROR", 80: "SERVER_ERROR", 90: "CLIENT_ERROR",
		100: "SERVER_THREADPOOL_EXHAUSTED_ERROR", 0: "", 21: "",
	}
	for s, want := range names {
		if got := StatusName(s); got != want {
			t.Errorf("StatusName(%d) = %q, want %q", s, got, want)
		}
	}
}

func TestAllocations(t *testing.T) {
	raw := typicalRequest()
	var id uint64
	allocs := testing.AllocsPerRun(100, func() {
		f, _, err := Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		id++
		SetID(f.Raw, id)
	})
	if allocs != 0 {
		t.Errorf("Parse+SetID allocated %.1f times", allocs)
	}
	f, _, _ := Parse(raw)
	allocs = testing.AllocsPerRun(100, func() {
		if _, err := f.Service(); err != nil {
			t.Fatal(err)
		}
	})
	// One string for all the text, one slice of attachments.
	if allocs > 2 {
		t.Errorf("Service allocated %.1f times, want at most 2", allocs)
	}
}

// typicalRequest is a request as a Java consumer sends it: a string and a
// POJO argument and the usual attachments.
func typicalRequest() []byte {
	var pojo []byte
	pojo = hessian.AppendClassDef(pojo, "com.foo.HelloRequest", "name", "age", "tags")
	pojo = hessian.AppendObjectStart(pojo, 0)
	pojo = hessian.AppendString(pojo, "alice")
	pojo = hessian.AppendInt(pojo, 30)
	pojo = hessian.AppendListStart(pojo, "java.util.ArrayList", 2)
	pojo = hessian.AppendString(pojo, "x")
	pojo = hessian.AppendString(pojo, "y")
	return AppendRequest(nil, 1, Meta{
		DubboVersion: "2.0.2",
		Service:      "com.foo.HelloService",
		Version:      "1.0.0",
		Method:       "sayHello",
		Attachments: [][2]string{
			{"path", "com.foo.HelloService"},
			{"interface", "com.foo.HelloService"},
			{"version", "1.0.0"},
			{"group", "default"},
			{"timeout", "3000"},
			{"remote.application", "consumer-app"},
		},
	}, "Ljava/lang/String;Lcom/foo/HelloRequest;", [][]byte{hessian.AppendString(nil, "hello"), pojo})
}
