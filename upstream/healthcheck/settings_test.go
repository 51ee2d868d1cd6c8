package healthcheck

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"mosn.dev/proxy/config"
)

func TestParseSettingsDefaults(t *testing.T) {
	s, err := parseSettings(&config.HealthCheck{})
	if err != nil {
		t.Fatal(err)
	}
	want := settings{
		protocol:           ProtocolTCP,
		timeout:            time.Second,
		interval:           15 * time.Second,
		jitter:             5 * time.Millisecond,
		healthyThreshold:   1,
		unhealthyThreshold: 1,
	}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("defaults %+v, want %+v", s, want)
	}
}

// TestParseSeedConfig decodes a health_check the way the config loader
// does (JSON numbers as float64) from MOSN-style JSON.
func TestParseSeedConfig(t *testing.T) {
	const js = `{
		"protocol": "Http1",
		"timeout": "2s",
		"interval": "10s",
		"interval_jitter": "1s",
		"initial_delay_seconds": 3,
		"healthy_threshold": 2,
		"unhealthy_threshold": 4,
		"service_name": "service8080",
		"event_log_path": "stdout",
		"check_config": {"http_check_config": {
			"port": 8081, "path": "/status?v=1", "method": "POST", "domain": "a.example",
			"timeout": "500ms", "scheme": "HTTPS",
			"codes": [{"start": 200, "end": 299}, 304, "401-403"]
		}}
	}`
	var hc config.HealthCheck
	if err := json.Unmarshal([]byte(js), &hc); err != nil {
		t.Fatal(err)
	}
	s, err := parseSettings(&hc)
	if err != nil {
		t.Fatal(err)
	}
	if s.protocol != ProtocolHTTP1 || s.timeout != 2*time.Second || s.interval != 10*time.Second ||
		s.jitter != time.Second || s.initialDelay != 3*time.Second || s.healthyThreshold != 2 ||
		s.unhealthyThreshold != 4 || s.serviceName != "service8080" || s.eventLogPath != "stdout" {
		t.Errorf("settings %+v", s)
	}
	h := s.http
	if h == nil {
		t.Fatal("no http settings")
	}
	if h.port != 8081 || h.target.String() != "/status?v=1" || h.method != "POST" || h.domain != "a.example" ||
		h.timeout != 500*time.Millisecond || h.scheme != "https" {
		t.Errorf("http settings %+v", h)
	}
	if got := h.codesString(); got != "[200-299 304 401-403]" {
		t.Errorf("codes %s", got)
	}
	for code, want := range map[int]bool{199: false, 200: true, 250: true, 299: true, 300: false, 304: true, 400: false, 402: true, 403: true, 404: false} {
		if h.accepts(code) != want {
			t.Errorf("accepts(%d) = %v, want %v", code, !want, want)
		}
	}
}

func TestParseHTTPConfig(t *testing.T) {
	tests := []struct {
		name     string
		cc       string // JSON of check_config
		wantNil  bool   // TCP fallback
		wantPath string
		wantErr  string
	}{
		{name: "no check_config", cc: `null`, wantNil: true},
		{name: "empty check_config", cc: `{}`, wantNil: true},
		{name: "empty http_check_config", cc: `{"http_check_config": {}}`, wantPath: "/"},
		{name: "flat path", cc: `{"path": "health"}`, wantPath: "/health"},
		{name: "keys match case-insensitively", cc: `{"HTTP_CHECK_CONFIG": {"Path": "/x", "Port": 1}}`, wantPath: "/x"},
		{name: "empty method means GET", cc: `{"method": "", "path": "/"}`, wantPath: "/"},
		{name: "both layouts", cc: `{"http_check_config": {}, "path": "/"}`, wantErr: "set either http_check_config.path or path"},
		{name: "unknown top-level key", cc: `{"pth": "/"}`, wantErr: "pth: unknown key"},
		{name: "unknown nested key", cc: `{"http_check_config": {"pth": "/"}}`, wantErr: "http_check_config.pth: unknown key"},
		{name: "duplicate key", cc: `{"path": "/a", "Path": "/b"}`, wantErr: "given twice"},
		{name: "nested not an object", cc: `{"http_check_config": "x"}`, wantErr: "http_check_config: want an object"},
		{name: "bad port", cc: `{"port": 70000}`, wantErr: "port: want a port number"},
		{name: "fractional port", cc: `{"port": 80.5}`, wantErr: "port: want a port number"},
		{name: "bad path", cc: `{"path": "/a b#frag"}`, wantErr: "path:"},
		{name: "bad method", cc: `{"method": "GE T"}`, wantErr: "method: want an HTTP method"},
		{name: "method not a string", cc: `{"method": 1}`, wantErr: "method: want an HTTP method"},
		{name: "bad scheme", cc: `{"scheme": "ftp"}`, wantErr: `scheme: want "http" or "https", got "ftp"`},
		{name: "bad domain", cc: `{"domain": "a b"}`, wantErr: "domain:"},
		{name: "bad timeout", cc: `{"timeout": "soon"}`, wantErr: "timeout: invalid duration"},
		{name: "codes not a list", cc: `{"codes": 200}`, wantErr: "codes: want a list"},
		{name: "code out of range", cc: `{"codes": [99]}`, wantErr: "codes: [0]: 99-99 is not a range"},
		{name: "reversed range", cc: `{"codes": ["299-200"]}`, wantErr: "codes: [0]: 299-200"},
		{name: "half a range", cc: `{"codes": [{"start": 200}]}`, wantErr: "needs both start and end"},
		{name: "range with an unknown key", cc: `{"codes": [{"start": 200, "stop": 299}]}`, wantErr: "stop: unknown key"},
		{name: "code not a number", cc: `{"codes": ["2xx"]}`, wantErr: `"2xx" is not a code`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var cc map[string]any
			if err := json.Unmarshal([]byte(tt.cc), &cc); err != nil {
				t.Fatal(err)
			}
			hs, err := parseHTTPConfig(cc)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				// The same mistake through the exported entry point.
				if err := Validate(&config.HealthCheck{Protocol: "http1", CheckConfig: cc}); err == nil || !strings.Contains(err.Error(), "check_config: ") {
					t.Errorf("Validate: %v, want a check_config error", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantNil {
				if hs != nil {
					t.Fatalf("got %+v, want the TCP fallback", hs)
				}
				return
			}
			if hs == nil || hs.target.String() != tt.wantPath || hs.method == "" {
				t.Fatalf("got %+v, want path %s", hs, tt.wantPath)
			}
		})
	}
}

func TestValidateIgnoresCheckConfigOfOtherProtocols(t *testing.T) {
	for _, p := range []string{"", "tcp", "bolt", "dubbo"} {
		hc := &config.HealthCheck{Protocol: p, CheckConfig: map[string]any{"anything": 1}}
		if err := Validate(hc); err != nil {
			t.Errorf("protocol %q: %v", p, err)
		}
	}
	// Every protocol the config package accepts, this package accepts.
	for _, p := range config.HealthCheckProtocols {
		if err := Validate(&config.HealthCheck{Protocol: p}); err != nil {
			t.Errorf("protocol %q from config.HealthCheckProtocols: %v", p, err)
		}
	}
}
