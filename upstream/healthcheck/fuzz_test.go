package healthcheck

import (
	"encoding/json"
	"strings"
	"testing"
)

// FuzzParseHTTPConfig feeds arbitrary check_config JSON to the parser: it
// must never panic, and what it accepts must be usable as is.
func FuzzParseHTTPConfig(f *testing.F) {
	for _, s := range []string{
		`{}`,
		`{"http_check_config": {}}`,
		`{"http_check_config": {"port": 8080, "path": "/health?x=1", "method": "GET", "domain": "a.example", "timeout": "1s", "scheme": "https", "codes": [{"start": 200, "end": 299}]}}`,
		`{"path": "/", "codes": [200, "300-399", {"Start": 404, "End": 404}]}`,
		`{"port": "8080", "timeout": 2}`,
		`{"codes": [1e300]}`,
		`{"port": -1}`,
		`{"path": "%zz"}`,
		`{"http_check_config": null}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, js string) {
		var cc map[string]any
		if json.Unmarshal([]byte(js), &cc) != nil {
			return
		}
		hs, err := parseHTTPConfig(cc)
		if err != nil || hs == nil {
			return
		}
		if hs.port < 0 || hs.port > 65535 {
			t.Fatalf("port %d accepted", hs.port)
		}
		if !validToken(hs.method) || (hs.scheme != "http" && hs.scheme != "https") {
			t.Fatalf("method %q scheme %q accepted", hs.method, hs.scheme)
		}
		if !strings.HasPrefix(hs.target.String(), "/") || hs.target.Host != "" {
			t.Fatalf("target %q accepted", hs.target.String())
		}
		if hs.timeout < 0 || len(hs.codes) == 0 {
			t.Fatalf("timeout %v codes %v accepted", hs.timeout, hs.codes)
		}
		for _, r := range hs.codes {
			if r.lo < 100 || r.hi > 599 || r.lo > r.hi {
				t.Fatalf("code range %v accepted", r)
			}
		}
	})
}
