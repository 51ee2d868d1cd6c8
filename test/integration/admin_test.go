package integration

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"mosn.dev/proxy/internal/testutil"
)

func TestAdminAPI(t *testing.T) {
	echo := testutil.NewServer(t, testutil.Echo)
	_, admin, p := startTCP(t, tcpSetup{lb: "LB_ROUNDROBIN", hosts: []string{echo.Addr()}})
	base := "http://" + admin
	pid := p.cmd.Process.Pid

	code, body := httpGet(t, base+"/")
	if code != 200 || !strings.Contains(body, "/api/v1/config_dump") || !strings.Contains(body, "/api/v1/states") {
		t.Errorf("/: %d %q", code, body)
	}
	if code, body := httpGet(t, base+"/api/v1/version"); code != 200 || !strings.HasPrefix(body, "mosn version: ") {
		t.Errorf("version: %d %q", code, body)
	}
	if code, body := httpGet(t, base+"/api/v1/states"); code != 200 || body != fmt.Sprintf("pid=%d&state=6", pid) {
		t.Errorf("states: %d %q, want pid=%d&state=6", code, body, pid)
	}

	// config_dump and its parameters.
	code, body = httpGet(t, base+"/api/v1/config_dump")
	var dump struct {
		MosnConfig json.RawMessage            `json:"mosn_config"`
		Listener   map[string]json.RawMessage `json:"listener"`
		Cluster    map[string]json.RawMessage `json:"cluster"`
	}
	if err := json.Unmarshal([]byte(body), &dump); code != 200 || err != nil {
		t.Fatalf("config_dump: %d %v %q", code, err, body)
	}
	if _, ok := dump.Listener["tcp"]; !ok {
		t.Errorf("config_dump has no listener tcp: %s", body)
	}
	if _, ok := dump.Cluster["up"]; !ok {
		t.Errorf("config_dump has no cluster up: %s", body)
	}
	for _, q := range []struct {
		query, want string
		code        int
	}{
		{"mosnconfig", `"cluster_manager"`, 200},
		{"alllisteners", `"tcp"`, 200},
		{"allclusters", `"up"`, 200},
		{"allrouters", `{}`, 200},
		{"listener=tcp", `"address": "127.0.0.1:`, 200},
		{"cluster=up", `"lb_type": "LB_ROUNDROBIN"`, 200},
		{"cluster=nope", "not found", 404},
		{"bogus", "unknown parameter", 400},
	} {
		code, body := httpGet(t, base+"/api/v1/config_dump?"+q.query)
		if code != q.code || !strings.Contains(body, q.want) {
			t.Errorf("config_dump?%s: %d %q, want %d containing %q", q.query, code, body, q.code, q.want)
		}
	}

	// The dumped mosn_config loads back as a valid config.
	path := writeConfig(t, string(dump.MosnConfig))
	if code, out := runMosn(t, "validate", "-c", path); code != 0 {
		t.Errorf("validate the dumped config: exit %d\n%s", code, out)
	}

	// Log levels.
	code, body = httpGet(t, base+"/api/v1/get_loglevel")
	var levels map[string]string
	if err := json.Unmarshal([]byte(body), &levels); code != 200 || err != nil {
		t.Fatalf("get_loglevel: %d %v %q", code, err, body)
	}
	var logPath string
	for p, l := range levels {
		if strings.HasSuffix(p, "mosn.log") {
			logPath = p
			if l != "INFO" {
				t.Errorf("level of %s = %s, want INFO", p, l)
			}
		}
	}
	if logPath == "" {
		t.Fatalf("get_loglevel does not list the error log: %v", levels)
	}
	if code, body := httpPost(t, base+"/api/v1/update_loglevel", fmt.Sprintf(`{"log_path": %q, "log_level": "DEBUG"}`, logPath)); code != 200 {
		t.Errorf("update_loglevel: %d %q", code, body)
	}
	_, body = httpGet(t, base+"/api/v1/get_loglevel")
	json.Unmarshal([]byte(body), &levels)
	if levels[logPath] != "DEBUG" {
		t.Errorf("after update_loglevel: %v", levels)
	}
	if code, _ := httpPost(t, base+"/api/v1/update_loglevel", `{"log_path": "/nope", "log_level": "DEBUG"}`); code != 400 {
		t.Errorf("update_loglevel on an unknown logger: %d, want 400", code)
	}
	if code, _ := httpPost(t, base+"/api/v1/update_loglevel", fmt.Sprintf(`{"log_path": %q, "log_level": "LOUD"}`, logPath)); code != 400 {
		t.Errorf("update_loglevel with a bad level: %d, want 400", code)
	}
	if code, body := httpPost(t, base+"/api/v1/disable_log", logPath); code != 200 {
		t.Errorf("disable_log: %d %q", code, body)
	}
	if code, body := httpPost(t, base+"/api/v1/enable_log", logPath); code != 200 {
		t.Errorf("enable_log: %d %q", code, body)
	}
	if code, _ := httpGet(t, base+"/api/v1/update_loglevel"); code != 405 {
		t.Errorf("GET update_loglevel: %d, want 405", code)
	}

	// The Istio-facing endpoints pilot-agent polls.
	if code, body := httpGet(t, base+"/stats"); code != 200 || !strings.Contains(body, "server.state: 0\n") ||
		!strings.Contains(body, "listener_manager.workers_started: 1") {
		t.Errorf("/stats: %d %q", code, body)
	}
	if code, body := httpGet(t, base+"/server_info"); code != 200 || !strings.Contains(body, `"state": "LIVE"`) {
		t.Errorf("/server_info: %d %q", code, body)
	}

	// Features and env.
	if code, body := httpGet(t, base+"/api/v1/features"); code != 200 || !strings.HasPrefix(body, "{") {
		t.Errorf("features: %d %q", code, body)
	}
	code, body = httpGet(t, base+"/api/v1/env?key=PATH&key=MOSN_SURELY_UNSET")
	var env struct {
		Env      map[string]string `json:"env"`
		NotFound []string          `json:"not_found"`
	}
	if err := json.Unmarshal([]byte(body), &env); code != 200 || err != nil || env.Env["PATH"] == "" ||
		len(env.NotFound) != 1 || env.NotFound[0] != "MOSN_SURELY_UNSET" {
		t.Errorf("env: %d %q", code, body)
	}
}
