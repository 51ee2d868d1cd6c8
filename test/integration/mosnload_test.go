package integration

import (
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"mosn.dev/proxy/internal/testutil"
)

const loadConfig = `{
  "servers": [{"default_log_path": "${DIR}/mosn.log", "listeners": [{
    "name": "rpc", "address": "127.0.0.1:${PORT}", "bind_port": true,
    "filter_chains": [{"filters": [{"type": "proxy", "config": {"downstream_protocol": "${DOWN}", "cluster": "up"}}]}]
  }]}],
  "cluster_manager": {"clusters": [{"name": "up", "hosts": [{"address": "${UP}"}]}]},
  "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": ${ADMIN}}}}
}`

// resultFields parses mosnload's final "RESULT k=v ..." line.
func resultFields(t *testing.T, out string) map[string]string {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(line, "RESULT "); ok {
			m := map[string]string{}
			for _, kv := range strings.Fields(rest) {
				k, v, _ := strings.Cut(kv, "=")
				m[k] = v
			}
			return m
		}
	}
	t.Fatalf("no RESULT line in mosnload output:\n%s", out)
	return nil
}

// TestMosnloadThroughProxy runs our load generator through the proxy to
// its echo server for each RPC protocol, with random upstream delays so
// responses return out of order over few multiplexed connections.
func TestMosnloadThroughProxy(t *testing.T) {
	for _, tc := range []struct {
		proto, down, scheme string
		extra               []string
	}{
		{"sofarpc", "bolt", "sofarpc", nil},
		{"sofarpc", "bolt", "sofarpc", []string{"--bolt-version", "2"}},
		{"dubbo", "dubbo", "dubbo", nil},
		{"sofarpc", "Auto", "sofarpc", nil},
		{"dubbo", "Auto", "dubbo", nil},
	} {
		t.Run(tc.proto+"/"+tc.down+strings.Join(tc.extra, ""), func(t *testing.T) {
			upPort := testutil.FreePort(t)
			up := fmt.Sprintf("127.0.0.1:%d", upPort)
			srv := exec.Command(mosnloadBin, "serve", "-p", tc.proto, "--delay-random=0-3ms", up)
			if err := srv.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { srv.Process.Signal(syscall.SIGTERM); srv.Wait() })
			port, admin := testutil.FreePort(t), testutil.FreePort(t)
			cfg := expand(loadConfig, map[string]string{"DIR": t.TempDir(), "PORT": fmt.Sprint(port), "ADMIN": fmt.Sprint(admin), "DOWN": tc.down, "UP": up})
			p := startMosn(t, writeConfig(t, cfg), fmt.Sprintf("127.0.0.1:%d", admin))
			p.waitListening(up)
			args := append([]string{"-n", "3000", "-c", "8", "-m", "16", "-p", tc.proto, "--timeout", "10s"}, tc.extra...)
			cmd := exec.Command(mosnloadBin, append(args, fmt.Sprintf("%s://127.0.0.1:%d", tc.scheme, port))...)
			done := make(chan struct{})
			var out []byte
			var err error
			go func() { out, err = cmd.CombinedOutput(); close(done) }()
			select {
			case <-done:
			case <-time.After(60 * time.Second):
				cmd.Process.Kill()
				<-done
				t.Fatalf("mosnload did not finish:\n%s", out)
			}
			r := resultFields(t, string(out))
			if err != nil || r["total"] != "3000" || r["succeeded"] != "3000" || r["failed"] != "0" {
				t.Fatalf("mosnload through the proxy (%v): %v\n%s", err, r, out)
			}
		})
	}
}
