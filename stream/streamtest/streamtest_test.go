package streamtest

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

func TestHeadersCaseInsensitive(t *testing.T) {
	h := Headers{}
	h.Set("X-A", "1")
	h.Add("x-b", "2")
	h.Add("X-B", "3")
	if v, ok := h.Get("x-a"); !ok || v != "1" {
		t.Fatalf("Get(x-a) = %q, %v; want 1, true", v, ok)
	}
	if v, _ := h.Get("X-b"); v != "3" {
		t.Fatalf("Get(X-b) = %q, want 3 (Add replaces)", v)
	}
	h.Del("X-A")
	if _, ok := h.Get("x-a"); ok {
		t.Fatal("x-a still set after Del")
	}
}

func TestCallbacksRecord(t *testing.T) {
	c := &Callbacks{}
	if c.Protocol() != "HTTP1" || c.RemoteAddr() == nil || c.LocalAddr() == nil {
		t.Fatalf("zero Callbacks: protocol %q, remote %v, local %v", c.Protocol(), c.RemoteAddr(), c.LocalAddr())
	}
	if c.ReplyStatus() != 0 || c.ReplyBody() != "" {
		t.Fatal("a reply reported before any Reply call")
	}
	c.RequestHeaders().Set("A", "1")
	c.ResponseHeaders().Set("B", "2")
	c.Reply(403, nil, "no")
	c.Reply(503, map[string]string{"k": "v"}, "busy")
	c.SetMetadata("version", "v1")
	c.SetBodyLimit(10, 413)
	c.SetBodyLimit(20, 400)
	c.Flag(1)
	c.Flag(4)
	for _, tc := range []struct {
		name      string
		got, want any
	}{
		{"request header", c.Request["a"], "1"},
		{"response header", c.Response["b"], "2"},
		{"replies", len(c.Replies), 2},
		{"last status", c.ReplyStatus(), 503},
		{"last body", c.ReplyBody(), "busy"},
		{"first status", c.Replies[0].Status, 403},
		{"metadata", c.Metadata["version"], "v1"},
		{"limit", c.BodyLimit, int64(20)},
		{"limit status", c.BodyLimitStatus, 400},
		{"limit sets", c.BodyLimitSets, 2},
		{"flags", c.Flags, uint64(5)},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %v, want %v", tc.name, tc.got, tc.want)
		}
	}
}

// fatalTB stops at the first Fatal, as testing.T does, and records it.
type fatalTB struct {
	testing.TB
	failed bool
}

func (f *fatalTB) Helper()               {}
func (f *fatalTB) Fatal(...any)          { f.failed = true; runtime.Goexit() }
func (f *fatalTB) Fatalf(string, ...any) { f.failed = true; runtime.Goexit() }

func TestREADMEConfig(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, text, want string
		fails            bool
	}{
		{"first block", "# x\n```json\n{\"a\": 1}\n```\n```json\n{}\n```\n", "{\"a\": 1}\n", false},
		{"no block", "# x\n```yaml\na: 1\n```\n", "", true},
		{"missing file", "", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name+".md")
			if tc.text != "" {
				if err := os.WriteFile(path, []byte(tc.text), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			ft := &fatalTB{TB: t}
			var got string
			done := make(chan struct{})
			go func() {
				defer close(done)
				got = string(READMEConfig(ft, path))
			}()
			<-done
			if ft.failed != tc.fails || got != tc.want {
				t.Fatalf("READMEConfig = %q, failed %v; want %q, failed %v", got, ft.failed, tc.want, tc.fails)
			}
		})
	}
}
