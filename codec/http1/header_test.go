package http1

import (
	"strings"
	"testing"
)

func parsedRequest(t *testing.T, raw string) *Header {
	t.Helper()
	p := NewRequestParser(Limits{})
	if _, err := p.Parse([]byte(raw)); err != nil {
		t.Fatal(err)
	}
	var h Header
	p.Header().CopyTo(&h)
	p.Reset() // the copy must not depend on the parser
	return &h
}

func TestHeaderLookup(t *testing.T) {
	h := parsedRequest(t, head("GET / HTTP/1.1", "Host: a", "Accept: x", "accept: y", "ACCEPT: z", "X-One: 1"))
	if v, ok := h.Get("aCCept"); !ok || string(v) != "x" {
		t.Errorf("Get = %q, %v", v, ok)
	}
	if _, ok := h.Get("Accep"); ok {
		t.Error("prefix matched")
	}
	if _, ok := h.Get("Accepts"); ok {
		t.Error("longer name matched")
	}
	if h.Has("missing") || !h.Has("x-one") {
		t.Error("Has")
	}
	var vals []string
	h.Values("accept", func(v []byte) bool { vals = append(vals, string(v)); return true })
	if strings.Join(vals, ",") != "x,y,z" {
		t.Errorf("Values = %q", vals)
	}
	vals = nil
	h.Values("accept", func(v []byte) bool { vals = append(vals, string(v)); return false })
	if len(vals) != 1 {
		t.Errorf("Values did not stop: %q", vals)
	}
	count := 0
	h.Range(func(n, v []byte) bool { count++; return count < 2 })
	if count != 2 {
		t.Errorf("Range did not stop: %d", count)
	}
	if h.Len() != 5 {
		t.Errorf("Len = %d", h.Len())
	}
	if n, v := h.Field(4); string(n) != "X-One" || string(v) != "1" {
		t.Errorf("Field(4) = %q %q", n, v)
	}
	// Appending to a returned slice must not write into the Header.
	v, _ := h.Get("Host")
	_ = append(v, "XXXX"...)
	if got := h.String(); !strings.Contains(got, "Host: a\r\nAccept: x") {
		t.Errorf("buffer clobbered: %q", got)
	}
}

func TestHeaderMutation(t *testing.T) {
	h := parsedRequest(t, head("GET /old?q=1 HTTP/1.0", "Host: a", "X-A: 1", "x-a: 2", "Keep: k", "X-A: 3"))
	before, _ := h.Get("Keep")
	if err := h.Set("X-A", " new "); err != nil {
		t.Fatal(err)
	}
	if err := h.Add("X-Added", "v\tw"); err != nil {
		t.Fatal(err)
	}
	h.Del("keep")
	if err := h.SetMethod("POST"); err != nil {
		t.Fatal(err)
	}
	if err := h.SetTarget("http://b.example:81/new/p?x=y"); err != nil {
		t.Fatal(err)
	}
	if err := h.SetProto(1); err != nil {
		t.Fatal(err)
	}
	want := "POST http://b.example:81/new/p?x=y HTTP/1.1\r\nHost: a\r\nX-A: new\r\nX-Added: v\tw\r\n\r\n"
	if got := string(h.AppendRequest(nil)); got != want {
		t.Errorf("after mutation:\n%q\nwant\n%q", got, want)
	}
	if string(h.Path()) != "/new/p" || string(h.Query()) != "x=y" || string(h.Authority()) != "b.example:81" ||
		h.Form() != FormAbsolute {
		t.Errorf("target parts: %q %q %q %v", h.Path(), h.Query(), h.Authority(), h.Form())
	}
	if host, _ := h.Host(); string(host) != "b.example:81" {
		t.Errorf("Host() = %q", host)
	}
	if string(before) != "k" {
		t.Errorf("slice taken before mutation changed to %q", before)
	}
	// The mutated head parses back to the same thing.
	p := NewRequestParser(Limits{})
	out := h.AppendRequest(nil)
	if n, err := p.Parse(out); err != nil || n != len(out) || p.Header().String() != string(out) {
		t.Errorf("reparse: %d, %v, %q", n, err, p.Header().String())
	}
}

func TestHeaderInvalidMutations(t *testing.T) {
	h := parsedRequest(t, head("GET / HTTP/1.1", "Host: a"))
	want := h.String()
	cases := []struct {
		name string
		err  error
	}{
		{"Add bad name", h.Add("Bad Name", "v")},
		{"Add empty name", h.Add("", "v")},
		{"Add CRLF value", h.Add("X", "a\r\nInjected: 1")},
		{"Add NUL value", h.Add("X", "a\x00")},
		{"Set LF value", h.Set("Host", "a\nb")},
		{"Set bad name", h.Set("Host:", "b")},
		{"SetMethod space", h.SetMethod("GE T")},
		{"SetMethod empty", h.SetMethod("")},
		{"SetTarget space", h.SetTarget("/a b")},
		{"SetTarget CRLF", h.SetTarget("/a\r\n")},
		{"SetTarget relative", h.SetTarget("a/b")},
		{"SetTarget bad percent", h.SetTarget("/%g0")},
		{"SetTarget empty", h.SetTarget("")},
		{"SetProto 2", h.SetProto(2)},
		{"SetStatus 99", h.SetStatus(99, "")},
		{"SetStatus 600", h.SetStatus(600, "")},
		{"SetStatus CR reason", h.SetStatus(200, "O\rK")},
	}
	for _, c := range cases {
		if c.err != ErrInvalidArgument {
			t.Errorf("%s: err = %v", c.name, c.err)
		}
	}
	if got := h.String(); got != want {
		t.Errorf("failed mutations changed the head:\n%q\nwant\n%q", got, want)
	}
}

func TestHeaderBuildResponse(t *testing.T) {
	var h Header
	if err := h.SetStatus(404, ""); err != nil {
		t.Fatal(err)
	}
	if err := h.Add("Content-Length", "0"); err != nil {
		t.Fatal(err)
	}
	if got := string(h.AppendResponse(nil)); got != "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n" {
		t.Errorf("built response %q", got)
	}
	if err := h.SetStatus(299, ""); err != nil {
		t.Fatal(err)
	}
	_ = h.SetProto(0)
	if got := string(h.AppendResponse(nil)); got != "HTTP/1.0 299 \r\nContent-Length: 0\r\n\r\n" {
		t.Errorf("unknown code %q", got)
	}
	h.Reset()
	if h.Len() != 0 || h.Status() != 0 || h.Proto() != "HTTP/1.1" {
		t.Errorf("Reset left %q", h.String())
	}
}

func TestHeaderReserialize(t *testing.T) {
	// Canonical serialisation: one SP after the colon, OWS trimmed, names
	// keep their case.
	h := parsedRequest(t, head("GET /x HTTP/1.1", "host:a", "X-Pad:  \tv  ", "x-EMPTY:"))
	want := "GET /x HTTP/1.1\r\nhost: a\r\nX-Pad: v\r\nx-EMPTY: \r\n\r\n"
	if got := string(h.AppendRequest(nil)); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	p := NewResponseParser(Limits{})
	if _, err := p.Parse([]byte(head("HTTP/1.1 200", "A:b"))); err != nil {
		t.Fatal(err)
	}
	if got := string(p.Header().AppendResponse(nil)); got != "HTTP/1.1 200 \r\nA: b\r\n\r\n" {
		t.Errorf("response %q", got)
	}
}
