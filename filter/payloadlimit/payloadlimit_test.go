package payloadlimit

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"regexp"
	"strings"
	"testing"

	"mosn.dev/proxy/config"
	"mosn.dev/proxy/stream"
)

type fakeHeaders map[string]string

func (h fakeHeaders) Get(n string) (string, bool) { v, ok := h[strings.ToLower(n)]; return v, ok }
func (h fakeHeaders) Set(n, v string)             { h[strings.ToLower(n)] = v }
func (h fakeHeaders) Add(n, v string)             { h[strings.ToLower(n)] = v }
func (h fakeHeaders) Del(n string)                { delete(h, strings.ToLower(n)) }

// fakeCB records the body limit a filter sets.
type fakeCB struct {
	limit   int64
	status  int
	sets    int
	replies int
}

func (c *fakeCB) Protocol() string                     { return "HTTP1" }
func (c *fakeCB) RemoteAddr() net.Addr                 { return &net.TCPAddr{} }
func (c *fakeCB) LocalAddr() net.Addr                  { return &net.TCPAddr{} }
func (c *fakeCB) Method() string                       { return "POST" }
func (c *fakeCB) Path() string                         { return "/" }
func (c *fakeCB) ContentLength() int64                 { return 4096 }
func (c *fakeCB) Cluster() string                      { return "web" }
func (c *fakeCB) Host() string                         { return "" }
func (c *fakeCB) RequestHeaders() stream.Headers       { return fakeHeaders{} }
func (c *fakeCB) SetMetadata(string, string)           {}
func (c *fakeCB) Flag(uint64)                          {}
func (c *fakeCB) Reply(int, map[string]string, string) { c.replies++ }
func (c *fakeCB) SetBodyLimit(limit int64, status int) { c.limit, c.status = limit, status; c.sets++ }

func readmeJSON(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```json\n(.*?)```").FindSubmatch(b)
	if m == nil {
		t.Fatal("README.md has no ```json block")
	}
	return m[1]
}

// TestREADME builds the README's example, so the documentation cannot
// drift from the code: unknown keys (typos) fail too.
func TestREADME(t *testing.T) {
	var doc struct {
		StreamFilters []config.Filter `json:"stream_filters"`
	}
	if err := json.Unmarshal(readmeJSON(t), &doc); err != nil {
		t.Fatalf("README json: %v", err)
	}
	if len(doc.StreamFilters) == 0 || doc.StreamFilters[0].Type != Name {
		t.Fatalf("README example does not configure a %q filter: %+v", Name, doc.StreamFilters)
	}
	for i, f := range doc.StreamFilters {
		var c Config
		warns, err := config.DecodeInto(f.Config, config.Path("stream_filters", i, "config"), &c)
		if err != nil || len(warns) > 0 {
			t.Fatalf("README config %d: err %v, warnings %v", i, err, warns)
		}
	}
	cf, err := stream.Build(nil, "stream_filters", doc.StreamFilters)
	if err != nil {
		t.Fatalf("stream.Build(README example): %v", err)
	}
	cb := &fakeCB{}
	cf.New().OnReceive(context.Background(), cb, stream.AfterRoute)
	if cb.limit != 1024 || cb.status != 413 {
		t.Fatalf("README example set limit %d status %d, want 1024 and 413", cb.limit, cb.status)
	}
}

func TestBuild(t *testing.T) {
	for _, tc := range []struct {
		name, raw string
		limit     int64
		status    int
		err       string // "" for success
	}{
		{"default status", `{"max_entity_size": 1024}`, 1024, 413, ""},
		{"own status", `{"max_entity_size": 10, "http_status": 400}`, 10, 400, ""},
		{"large", `{"max_entity_size": 8589934592}`, 8 << 30, 413, ""},
		{"missing size", `{"http_status": 413}`, 0, 0, "stream_filters[0].config.max_entity_size: must be a positive number of bytes"},
		{"negative size", `{"max_entity_size": -1}`, 0, 0, "stream_filters[0].config.max_entity_size: must be a positive"},
		{"bad status", `{"max_entity_size": 1, "http_status": 200}`, 0, 0, "stream_filters[0].config.http_status: must be an HTTP error status 400..599"},
		{"status too big", `{"max_entity_size": 1, "http_status": 600}`, 0, 0, "stream_filters[0].config.http_status:"},
		{"string size", `{"max_entity_size": "1k"}`, 0, 0, "stream_filters[0].config.max_entity_size"},
		{"empty", ``, 0, 0, "stream_filters[0].config.max_entity_size: must be"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fac, err := Build(nil, "stream_filters[0].config", json.RawMessage(tc.raw))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			cb := &fakeCB{}
			f := fac.New().(stream.ReceiverFilter)
			if st := f.OnReceive(context.Background(), cb, stream.AfterRoute); st != stream.Continue {
				t.Errorf("status %v, want Continue", st)
			}
			if cb.limit != tc.limit || cb.status != tc.status || cb.sets != 1 || cb.replies != 0 {
				t.Errorf("SetBodyLimit(%d, %d) x%d, %d replies; want (%d, %d) once, no reply", cb.limit, cb.status, cb.sets, cb.replies, tc.limit, tc.status)
			}
		})
	}
}

func TestPhases(t *testing.T) {
	fac, err := Build(nil, "c", json.RawMessage(`{"max_entity_size": 1}`))
	if err != nil {
		t.Fatal(err)
	}
	if ps := fac.Phases(); len(ps) != 1 || ps[0] != stream.AfterRoute {
		t.Fatalf("phases %v, want [AfterRoute]", ps)
	}
}

func FuzzBuild(f *testing.F) {
	for _, s := range []string{`{"max_entity_size": 1024}`, `{"max_entity_size": 1, "http_status": 400}`, `{"max_entity_size": -5}`, `{}`, `[`, `1e999`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		fac, err := Build(nil, "c", json.RawMessage(raw))
		if err != nil {
			return
		}
		cb := &fakeCB{}
		fac.New().(stream.ReceiverFilter).OnReceive(context.Background(), cb, stream.AfterRoute)
		if cb.limit <= 0 || cb.status < 400 || cb.status > 599 {
			t.Fatalf("built a filter with limit %d status %d from %q", cb.limit, cb.status, raw)
		}
	})
}
