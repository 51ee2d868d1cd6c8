package integration

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestCurlAndH2load drives an Auto listener with the real curl (HTTP/1.1
// and --http2-prior-knowledge) and h2load (h2c, many streams per
// connection), in front of an HTTP/1 and an h2c upstream.
func TestCurlAndH2load(t *testing.T) {
	for _, tool := range []string{"curl", "h2load"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not installed (.ci/run installs it: apt-get install curl nghttp2-client)", tool)
		}
	}
	for _, tc := range []struct {
		name, up string
		upH2     bool
	}{
		{"to-h1", "Http1", false},
		{"to-h2", "Auto", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := startH2(t, "Auto", tc.up, h2Upstream(t, tc.upH2))
			run := func(args ...string) string {
				t.Helper()
				cmd := exec.Command(args[0], args[1:]...)
				done := make(chan struct{})
				var out []byte
				var err error
				go func() { out, err = cmd.CombinedOutput(); close(done) }()
				select {
				case <-done:
				case <-time.After(60 * time.Second):
					cmd.Process.Kill()
					<-done
					t.Fatalf("%v did not finish", args)
				}
				if err != nil {
					t.Fatalf("%v: %v\n%s", args, err, out)
				}
				return string(out)
			}
			out := run("curl", "-sS", "--http1.1", "-d", "abc", base+"/c1")
			if !strings.Contains(out, "POST /c1 body=3") {
				t.Errorf("curl --http1.1: %q", out)
			}
			out = run("curl", "-sS", "--http2-prior-knowledge", "-i", base+"/c2")
			if !strings.HasPrefix(out, "HTTP/2 200") || !strings.Contains(out, "GET /c2 body=0") {
				t.Errorf("curl --http2-prior-knowledge: %q", out)
			}
			out = run("h2load", "-n", "2000", "-c", "4", "-m", "16", base+"/load")
			m := regexp.MustCompile(`requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored`).FindStringSubmatch(out)
			if m == nil || m[1] != "2000" || m[3] != "2000" || m[4] != "0" || m[5] != "0" {
				t.Errorf("h2load through the proxy:\n%s", out)
			}
			if !strings.Contains(out, "2000 2xx") {
				t.Errorf("h2load status codes:\n%s", out)
			}
		})
	}
}
