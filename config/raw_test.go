package config

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// tcpProxyConfig stands in for a filter factory's config type.
type tcpProxyConfig struct {
	StatPrefix  string    `json:"stat_prefix"`
	Cluster     string    `json:"cluster"`
	IdleTimeout *Duration `json:"idle_timeout"`
	Routes      []struct {
		Cluster string `json:"cluster"`
	} `json:"routes"`
	MaxConnectAttempts uint32 `json:"max_connect_attempts"`
}

const rawTestConfig = `{
  "servers": [{
    "listeners": [{
      "name": "l",
      "address": "127.0.0.1:1",
      "filter_chains": [{"filters": [{
        "type": "tcp_proxy",
        "config": {
          "Cluster": "backend",
          "idle_timeout": "soon",
          "routes": [{"cluster": 7}],
          "bogus": true,
        }
      }]}]
    }]
  }]
}`

const rawFilterPath = "servers[0].listeners[0].filter_chains[0].filters[0].config"

func TestDecodeRaw(t *testing.T) {
	cfg, _, err := Parse([]byte(rawTestConfig), "mosn_config.json")
	if err != nil {
		t.Fatal(err)
	}
	raw := cfg.Servers[0].Listeners[0].FilterChains[0].Filters[0].Config
	var tc tcpProxyConfig
	warns, err := cfg.DecodeRaw(rawFilterPath, raw, &tc)
	var probs Problems
	if !errors.As(err, &probs) {
		t.Fatalf("err = %v (%T), want Problems", err, err)
	}
	wantErrs := []string{
		rawFilterPath + `.idle_timeout (mosn_config.json:10:27): invalid duration "soon" (want a form like "10s", "1m", "500ms")`,
		rawFilterPath + `.routes[0].cluster (mosn_config.json:11:34): want a string, got number 7`,
	}
	if got := problemStrings(probs); !reflect.DeepEqual(got, wantErrs) {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantErrs, "\n"))
	}
	wantWarns := []string{rawFilterPath + `.bogus (mosn_config.json:12:20): unknown field, ignored`}
	if got := problemStrings(warns); !reflect.DeepEqual(got, wantWarns) {
		t.Errorf("warnings = %q, want %q", got, wantWarns)
	}
	if tc.Cluster != "backend" {
		t.Errorf("cluster = %q (key written \"Cluster\")", tc.Cluster)
	}

	// A factory's own check, located in the file.
	p := cfg.Problemf(Path(rawFilterPath, "cluster"), "unknown cluster %q", "x")
	if want := rawFilterPath + `.cluster (mosn_config.json:9:22): unknown cluster "x"`; p.String() != want {
		t.Errorf("Problemf = %q, want %q", p, want)
	}
	// A path that is not in the file points at the nearest enclosing value.
	p = cfg.Problemf(Path(rawFilterPath, "max_connect_attempts"), "too many")
	if want := rawFilterPath + `.max_connect_attempts (mosn_config.json:8:19): too many`; p.String() != want {
		t.Errorf("Problemf = %q, want %q", p, want)
	}
}

func TestDecodeRawWithoutSource(t *testing.T) {
	var tc tcpProxyConfig
	var nilCfg *Config
	warns, err := nilCfg.DecodeRaw("f.config", json.RawMessage(`{"cluster":"c","idle_timeout":"1m","max_connect_attempts":-1}`), &tc)
	if len(warns) != 0 {
		t.Errorf("warnings = %v", warns)
	}
	if err == nil || err.Error() != "f.config.max_connect_attempts: number -1 out of range (0..4294967295)" {
		t.Errorf("err = %v", err)
	}
	if tc.Cluster != "c" || tc.IdleTimeout.D() != time.Minute {
		t.Errorf("decoded %+v", tc)
	}
	if w, err := nilCfg.DecodeRaw("p", nil, &tc); w != nil || err != nil {
		t.Errorf("empty raw: %v, %v", w, err)
	}
	if _, err := nilCfg.DecodeRaw("p", json.RawMessage(`{}`), tc); err == nil {
		t.Error("non-pointer accepted")
	}
	var se *SyntaxError
	if _, err := nilCfg.DecodeRaw("p", json.RawMessage(`{`), &tc); !errors.As(err, &se) {
		t.Errorf("malformed raw: %v", err)
	}
	var tc2 tcpProxyConfig
	warns, err = DecodeInto(json.RawMessage(`{"cluster":"c","Idle_Timeout":"2s","x":1}`), "f.config", &tc2)
	if err != nil || tc2.IdleTimeout.D() != 2*time.Second || len(warns) != 1 || warns[0].String() != "f.config.x: unknown field, ignored" {
		t.Errorf("DecodeInto: %+v, %v, %v", tc2, warns, err)
	}
	if p := nilCfg.Problemf("a.b", "m %d", 1); p.String() != "a.b: m 1" {
		t.Errorf("Problemf on nil config = %q", p)
	}
}
