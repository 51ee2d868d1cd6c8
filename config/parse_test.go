package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func testdataFiles(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob("testdata/*.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 6 {
		t.Fatalf("expected the seed configs and full_features.json in testdata, found %v", files)
	}
	return files
}

func problemStrings(ps []Problem) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}

// TestTestdataLoads checks that every config from the seeds (copied as
// written) parses and validates, with exactly the warnings expected.
func TestTestdataLoads(t *testing.T) {
	wantWarnings := map[string][]string{
		"seed000_tproxy.json":       nil,
		"seed001_healthcheck.json":  nil,
		"seed001_leastconn.json":    nil,
		"seed002_moe.json":          nil, // shm_zone "" and shm_size "0" are unset values
		"seed003_http_example.json": nil,
		"full_features.json":        nil,
	}
	files := testdataFiles(t)
	for _, f := range files {
		name := filepath.Base(f)
		want, ok := wantWarnings[name]
		if !ok {
			t.Errorf("%s: add it to the expected warnings table", name)
			continue
		}
		t.Run(name, func(t *testing.T) {
			cfg, warns, err := Load(f)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if got := problemStrings(warns); !reflect.DeepEqual(got, want) && (len(got) != 0 || len(want) != 0) {
				t.Errorf("warnings = %q, want %q", got, want)
			}
			if probs := cfg.Validate(); len(probs) > 0 {
				t.Errorf("Validate:\n%v", probs)
			}
		})
	}
}

func TestSeedContents(t *testing.T) {
	cfg, _, err := Load("testdata/seed000_tproxy.json")
	if err != nil {
		t.Fatal(err)
	}
	// "Name" is matched case-insensitively, as encoding/json (and so MOSN) does.
	c := cfg.ClusterByName("serverCluster")
	if c == nil {
		t.Fatal(`cluster "serverCluster" (written with key "Name") not found`)
	}
	if c.LbType != "LB_ORIGINAL_DST" || c.Mark != 68 || c.ConnBufferLimitBytes != 32768 || len(c.Hosts) != 0 {
		t.Errorf("cluster = %+v", c)
	}
	l := cfg.ListenerByName("proxyListener")
	if l == nil {
		t.Fatal("listener not found")
	}
	// The trailing comma inside the filter config is gone from the raw JSON.
	if got, want := string(l.FilterChains[0].Filters[0].Config), `{"cluster":"serverCluster"}`; got != want {
		t.Errorf("filter config = %s, want %s", got, want)
	}
	if tc := l.FilterChains[0].TLSContext; tc == nil || tc.Status {
		t.Errorf("tls_context = %+v, want an empty context", tc)
	}

	cfg, _, err = Load("testdata/seed002_moe.json")
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Pprof.Addr(); got != "0.0.0.0:34902" {
		t.Errorf("pprof addr = %q", got)
	}
	if got := cfg.Admin.Addr(); got != "0.0.0.0:34901" {
		t.Errorf("admin addr = %q", got)
	}
	if cfg.Metrics.ShmSize == nil || cfg.Metrics.ShmSize.Bytes != 0 {
		t.Errorf("shm_size = %+v", cfg.Metrics.ShmSize)
	}
	s := cfg.Server()
	if s.DefaultLogLevel != "WARN" || s.Listeners[0].BindPort || len(s.Listeners[0].ListenerFilters) != 0 {
		t.Errorf("server = %+v", s)
	}
}

func TestFullFeatures(t *testing.T) {
	cfg, _, err := Load("testdata/full_features.json")
	if err != nil {
		t.Fatal(err)
	}
	r := cfg.RouterByName("http_router")
	if r == nil {
		t.Fatal("router not found")
	}
	vh := r.VirtualHosts[0]
	rt := vh.Routers[0]
	if rt.Match.CaseSensitiveOrDefault() || rt.Route.TimeoutOrDefault() != 3*time.Second {
		t.Errorf("route = %+v", rt)
	}
	if wc := rt.Route.WeightedClusters[1].Cluster; wc.Name != "api_v2" || wc.Weight != 10 || wc.MetadataMatch.LB()["version"] != "v2" {
		t.Errorf("weighted cluster = %+v", wc)
	}
	if rp := rt.Route.RetryPolicy; !rp.RetryOn || rp.RetryTimeout.D() != time.Second || rp.NumRetries != 2 || !reflect.DeepEqual(rp.StatusCodes, []uint32{502, 503}) {
		t.Errorf("retry policy = %+v", rp)
	}
	if h := rt.Route.RequestHeadersToAdd[0]; h.AppendOrDefault() || h.Header.Key != "x-route" {
		t.Errorf("header = %+v", h)
	}
	if got := string(rt.PerFilterConfig["fault"]); got != `{"delay":{"fixed_delay":"0s","percentage":0}}` {
		t.Errorf("per_filter_config = %s", got)
	}
	hp := vh.Routers[3].Route.HashPolicy
	if hp[0].Header.Key != "x-user" || hp[1].Cookie.TTL.D() != time.Hour || hp[2].SourceIP == nil {
		t.Errorf("hash policy = %+v", hp)
	}
	if vh.Routers[3].Route.RegexRewrite.Substitution != `/\1` {
		t.Errorf("substitution = %q", vh.Routers[3].Route.RegexRewrite.Substitution)
	}
	if rd := vh.Routers[2].Redirect; rd.ResponseCodeOrDefault() != 308 || rd.SchemeRedirect != "https" {
		t.Errorf("redirect = %+v", rd)
	}
	c := cfg.ClusterByName("api_v1")
	hc := c.HealthCheck
	if hc.TimeoutOrDefault() != 500*time.Millisecond || hc.IntervalOrDefault() != 5*time.Second ||
		hc.HealthyThresholdOrDefault() != 2 || hc.CheckConfig["port"] != float64(8080) {
		t.Errorf("health check = %+v", hc)
	}
	if od := c.OutlierDetection; od == nil || od.ConsecutiveErrorsOrDefault() != 3 || od.BaseEjectionTimeOrDefault() != 10*time.Second ||
		od.MaxEjectionTimeOrDefault() != 2*time.Minute || od.MaxEjectionPercentOrDefault() != 50 {
		t.Errorf("outlier detection = %+v", od)
	}
	if c.Hosts[1].Address != "[2001:db8::1]:8080" || c.Hosts[0].Metadata.LB()["zone"] != "a" {
		t.Errorf("hosts = %+v", c.Hosts)
	}
	if cfg.ClusterByName("api_v2") == nil {
		t.Error(`"Name" key not matched`)
	}
	if got := cfg.Server().GracefulTimeoutOrDefault(); got != 45*time.Second {
		t.Errorf("graceful timeout = %v", got)
	}
}

// TestRoundTrip checks that Dump keeps every setting: Parse, Dump, Parse
// gives an equal config, and a second Dump gives the same bytes.
func TestRoundTrip(t *testing.T) {
	for _, f := range testdataFiles(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			cfg, _, err := Load(f)
			if err != nil {
				t.Fatal(err)
			}
			out, err := cfg.Dump()
			if err != nil {
				t.Fatal(err)
			}
			again, warns, err := Parse(out, "dump.json")
			if err != nil {
				t.Fatalf("re-parse of the dump: %v\n%s", err, out)
			}
			if len(warns) > 0 {
				t.Errorf("re-parse warnings: %v", warns)
			}
			if !cfg.Equal(again) {
				t.Errorf("round trip changed the config:\n%s", out)
			}
			out2, err := again.Dump()
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != string(out2) {
				t.Errorf("second dump differs:\n%s\n---\n%s", out, out2)
			}
		})
	}
}

func TestEqualIgnoresSource(t *testing.T) {
	a, _, err := Parse([]byte(`{"pid": "x"}`), "a.json")
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := Parse([]byte("\n\n  {\"pid\": \"x\"}"), "b.json")
	if err != nil {
		t.Fatal(err)
	}
	if !a.Equal(b) {
		t.Error("configs read from different positions are not Equal")
	}
	b.Pid = "y"
	if a.Equal(b) {
		t.Error("configs with different pids are Equal")
	}
	if !(*Config)(nil).Equal(nil) || a.Equal(nil) {
		t.Error("nil handling")
	}
}

func TestDumpDoesNotFillDefaults(t *testing.T) {
	cfg, _, err := Parse([]byte(`{"cluster_manager": {"clusters": [{"name": "c"}]}, "admin": {}}`), "t.json")
	if err != nil {
		t.Fatal(err)
	}
	out, err := cfg.Dump()
	if err != nil {
		t.Fatal(err)
	}
	want := "{\n  \"cluster_manager\": {\n    \"clusters\": [\n      {\n        \"name\": \"c\"\n      }\n    ]\n  },\n  \"admin\": {}\n}\n"
	if string(out) != want {
		t.Errorf("dump =\n%s\nwant\n%s", out, want)
	}
	c := cfg.ClusterByName("c")
	if c.LbTypeOrDefault() != "LB_ROUNDROBIN" || c.LbType != "" {
		t.Errorf("lb type %q / %q", c.LbTypeOrDefault(), c.LbType)
	}
}

func TestSyntaxErrors(t *testing.T) {
	tests := []struct {
		name, in  string
		line, col int
		msg       string
	}{
		{"missing comma", "{\n  \"servers\": [\n    {\n      \"default_log_path\": \"stdout\"\n      \"listeners\": []\n    }\n  ]\n}", 5, 7, "expected ',' or '}' after object value"},
		{"missing comma in array", `{"a": [1 2]}`, 1, 10, "expected ',' or ']' after array element"},
		{"missing colon", `{"a" 1}`, 1, 6, "expected ':' after object key"},
		{"double comma", `{"a": 1,, "b": 2}`, 1, 9, "expected a string key or '}'"},
		{"lone comma in object", `{,}`, 1, 2, "expected a string key or '}'"},
		{"lone comma in array", `{"a": [,]}`, 1, 8, "unexpected ',', expected a value or ']'"},
		{"double comma in array", `{"a": [1,,2]}`, 1, 10, "unexpected ','"},
		{"single quotes", `{'a': 1}`, 1, 2, "expected a string key"},
		{"single-quoted value", `{"a": 'x'}`, 1, 7, "strings need double quotes"},
		{"bare word", `{"a": yes}`, 1, 7, `unexpected word "yes"`},
		{"capitalised literal", `{"a": True}`, 1, 7, `unexpected word "True"`},
		{"leading zero", `{"a": 01}`, 1, 7, `invalid number "01"`},
		{"plus sign", `{"a": +1}`, 1, 7, "unexpected '+'"},
		{"bad fraction", `{"a": 1.}`, 1, 7, `invalid number "1."`},
		{"bad exponent", `{"a": 1e}`, 1, 7, `invalid number "1e"`},
		{"hex number", `{"a": 0x10}`, 1, 7, `invalid number "0x10"`},
		{"unterminated string", `{"a": "abc`, 1, 7, "unterminated string"},
		{"newline in string", "{\"a\": \"ab\nc\"}", 1, 7, "strings cannot span lines"},
		{"control character", "{\"a\": \"a\tb\"}", 1, 9, "control character U+0009"},
		{"bad escape", `{"a": "\x"}`, 1, 8, `invalid escape "\x" in string`},
		{"short unicode escape", `{"a": "\u12"}`, 1, 8, `invalid \u escape`},
		{"invalid utf-8", "{\"a\": \"\xff\"}", 1, 8, "invalid UTF-8"},
		{"unclosed object", "{\n  \"a\": {\n    \"b\": 1\n", 4, 1, "object opened at 2:8 is not closed"},
		{"unclosed array", `{"a": [1, 2`, 1, 12, "array opened at 1:7 is not closed"},
		{"unterminated comment", "{\n  /* never closed\n}", 2, 3, "unterminated /* comment"},
		{"single slash", `{"a": 1 / 2}`, 1, 9, "comments start with // or /*"},
		{"trailing garbage", `{} {}`, 1, 4, "unexpected '{' after the top-level value"},
		{"empty", "  \n // only a comment\n", 3, 1, "empty document"},
		{"wide characters count once", `{"名字": "值" x}`, 1, 12, "expected ',' or '}' after object value"},
		{"too deep", strings.Repeat("[", maxDepth+1), 1, maxDepth + 1, "nesting deeper than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _, err := Parse([]byte(tt.in), "mosn_config.json")
			if cfg != nil {
				t.Error("cfg is not nil on error")
			}
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("err = %v (%T), want a *SyntaxError", err, err)
			}
			if se.Line != tt.line || se.Col != tt.col || !strings.Contains(se.Msg, tt.msg) {
				t.Errorf("got %d:%d %q, want %d:%d containing %q", se.Line, se.Col, se.Msg, tt.line, tt.col, tt.msg)
			}
			if want := "mosn_config.json:"; !strings.HasPrefix(se.Error(), want) {
				t.Errorf("Error() = %q, want the prefix %q", se.Error(), want)
			}
		})
	}
}

func TestSyntaxErrorFormat(t *testing.T) {
	in := "{\n  \"servers\": [\n    {\n      \"listeners\": [\n        {\"name\": \"a\"}\n        {\"name\": \"b\"}\n      ]\n    }\n  ]\n}"
	_, _, err := Parse([]byte(in), "mosn_config.json")
	want := "mosn_config.json:6:9: expected ',' or ']' after array element"
	if err == nil || err.Error() != want {
		t.Errorf("err = %v, want %s", err, want)
	}
}

func TestLenientSyntax(t *testing.T) {
	in := "\ufeff// leading comment\n{\n  /* block\n     comment */ \"pid\": \"a//b\", // not a comment inside the string\n  \"servers\": [{\"listeners\": [{\"name\": \"x\", \"address\": \"1.2.3.4:5\",},],},],\n  \"tracing\": {\"config\": {\"a\": [1, 2,], \"b\": /* c */ null,},},\n}\n"
	cfg, warns, err := Parse([]byte(in), "t.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(warns) != 0 {
		t.Errorf("warnings: %v", warns)
	}
	if cfg.Pid != "a//b" || cfg.ListenerByName("x") == nil {
		t.Errorf("cfg = %+v", cfg)
	}
	if got := string(cfg.Tracing.Config); got != `{"a":[1,2],"b":null}` {
		t.Errorf("raw config = %s", got)
	}
}

func TestRawMessageIsCanonical(t *testing.T) {
	in := `{"tracing": {"config": {"s": "tab\there \u00e9 \ud83d\ude00 \ud800 \/ <&>", "n": 1.50e+2, "e": {}, "a": []}}}`
	cfg, _, err := Parse([]byte(in), "t.json")
	if err != nil {
		t.Fatal(err)
	}
	want := "{\"s\":\"tab\\there é 😀 \ufffd / <&>\",\"n\":1.50e+2,\"e\":{},\"a\":[]}"
	if got := string(cfg.Tracing.Config); got != want {
		t.Errorf("raw = %s\nwant  %s", got, want)
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string // complete problem strings, in order
	}{
		{
			name: "boolean as string",
			in: `{
  "servers": [{
    "listeners": [
      {"name": "a", "address": "127.0.0.1:1"},
      {"name": "b",
       "bind_port": "yes"}
    ]
  }]
}`,
			want: []string{`servers[0].listeners[1].bind_port (f.json:6:21): want a boolean, got string "yes"`},
		},
		{
			name: "outlier detection types",
			in:   `{"cluster_manager": {"clusters": [{"name": "c", "outlier_detection": {"base_ejection_time": "soon", "max_ejection_percent": -1}}]}}`,
			want: []string{
				`cluster_manager.clusters[0].outlier_detection.base_ejection_time (f.json:1:93): invalid duration "soon" (want a form like "10s", "1m", "500ms")`,
				`cluster_manager.clusters[0].outlier_detection.max_ejection_percent (f.json:1:125): number -1 out of range (0..4294967295)`,
			},
		},
		{
			name: "every problem is reported",
			in: `{"cluster_manager": {"clusters": [
  {"name": 5, "max_request_per_conn": 1.5, "mark": -1},
  {"name": "b", "connect_timeout": "ten seconds", "hosts": {}}
]}, "pprof": {"port_value": "9090"}}`,
			want: []string{
				`cluster_manager.clusters[0].name (f.json:2:12): want a string, got number 5`,
				`cluster_manager.clusters[0].max_request_per_conn (f.json:2:39): want an integer, got number 1.5`,
				`cluster_manager.clusters[0].mark (f.json:2:52): number -1 out of range (0..4294967295)`,
				`cluster_manager.clusters[1].connect_timeout (f.json:3:36): invalid duration "ten seconds" (want a form like "10s", "1m", "500ms")`,
				`cluster_manager.clusters[1].hosts (f.json:3:60): want an array, got object`,
				`pprof.port_value (f.json:4:29): want a non-negative integer, got string "9090"`,
			},
		},
		{
			name: "uint8 range",
			in:   `{"cluster_manager": {"clusters": [{"lb_subset_config": {"fall_back_policy": 300}}]}}`,
			want: []string{`cluster_manager.clusters[0].lb_subset_config.fall_back_policy (f.json:1:77): number 300 out of range (0..255)`},
		},
		{
			name: "integer overflow",
			in:   `{"servers": [{"listeners": [{"default_read_buffer_size": 1e30}]}]}`,
			want: []string{`servers[0].listeners[0].default_read_buffer_size (f.json:1:58): number 1e30 out of range (-9223372036854775808..9223372036854775807)`},
		},
		{
			name: "negative duration",
			in:   `{"servers": [{"graceful_timeout": "-5s"}]}`,
			want: []string{`servers[0].graceful_timeout (f.json:1:35): negative duration "-5s"`},
		},
		{
			name: "negative duration number",
			in:   `{"servers": [{"graceful_timeout": -5}]}`,
			want: []string{`servers[0].graceful_timeout (f.json:1:35): negative duration -5`},
		},
		{
			name: "huge duration",
			in:   `{"servers": [{"graceful_timeout": 1e300}]}`,
			want: []string{`servers[0].graceful_timeout (f.json:1:35): duration 1e300 seconds is too large`},
		},
		{
			name: "processor",
			in:   `{"servers": [{"processor": "many"}]}`,
			want: []string{`servers[0].processor (f.json:1:28): invalid processor "many" (want a positive number or "auto")`},
		},
		{
			name: "size",
			in:   `{"metrics": {"shm_size": "12q"}}`,
			want: []string{`metrics.shm_size (f.json:1:26): invalid size "12q" (want a number with an optional k, m or g suffix)`},
		},
		{
			name: "map value",
			in:   `{"cluster_manager": {"clusters": [{"hosts": [{"metadata": {"filter_metadata": {"mosn.lb": {"version": 1}}}}]}]}}`,
			want: []string{`cluster_manager.clusters[0].hosts[0].metadata.filter_metadata["mosn.lb"].version (f.json:1:103): want a string, got number 1`},
		},
		{
			name: "top level not an object",
			in:   `[1]`,
			want: []string{`f.json:1:1: want an object, got array`},
		},
		{
			name: "top level null",
			in:   "// nothing\nnull",
			want: []string{`f.json:2:1: want an object, got null`},
		},
		{
			name: "raw message keeps its type",
			in:   `{"servers": [{"listeners": [{"filter_chains": [{"filters": [{"type": 1, "config": "x"}]}]}]}]}`,
			want: []string{`servers[0].listeners[0].filter_chains[0].filters[0].type (f.json:1:70): want a string, got number 1`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _, err := Parse([]byte(tt.in), "f.json")
			if cfg != nil {
				t.Error("cfg is not nil on error")
			}
			var probs Problems
			if !errors.As(err, &probs) {
				t.Fatalf("err = %v (%T), want Problems", err, err)
			}
			if got := problemStrings(probs); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			if err.Error() != strings.Join(tt.want, "\n") {
				t.Errorf("Error() = %q", err.Error())
			}
		})
	}
}

func TestDecodeAccepts(t *testing.T) {
	in := `{
  "servers": [{"processor": 4, "graceful_timeout": 1.5, "listeners": null}],
  "cluster_manager": {"clusters": [{"NAME": "a", "Max_Request_Per_Conn": 1e3, "mark": 0, "connect_timeout": ""}]},
  "admin": null,
  "metrics": {"shm_size": 1024}
}`
	cfg, warns, err := Parse([]byte(in), "f.json")
	if err != nil {
		t.Fatal(err)
	}
	// A non-zero shm_size is a setting we do not support.
	if got := problemStrings(warns); len(got) != 1 || !strings.HasPrefix(got[0], "metrics.shm_size (f.json:5:27): MOSN field not supported") {
		t.Errorf("warnings: %q", got)
	}
	s := cfg.Server()
	if s.ProcessorOrDefault() != 4 || s.GracefulTimeoutOrDefault() != 1500*time.Millisecond || s.Listeners != nil {
		t.Errorf("server = %+v", s)
	}
	c := cfg.ClusterByName("a")
	if c == nil || c.MaxRequestPerConn != 1000 || c.ConnectTimeoutOrDefault() != DefaultConnectTimeout {
		t.Errorf("cluster = %+v", c)
	}
	if cfg.Admin != nil {
		t.Error("null admin is not nil")
	}
	if cfg.Metrics.ShmSize.Bytes != 1024 {
		t.Errorf("shm_size = %+v", cfg.Metrics.ShmSize)
	}
}

func TestWarnings(t *testing.T) {
	in := `{
  "cluster_manager": {"clusters": [{"name": "c", "foo": 1, "dns_lookup_family": "V4_ONLY"}]},
  "metrics": {"shm_zone": "zone", "shm_size": "64m", "flush_mosn": false, "sample": {}},
  "dynamic_resources": {"ads_config": {}},
  "static_resources": {},
  "servers": [{"name": "a", "mosn_server_name": "b", "Mosn_Server_Name": "c"}],
  "x.y": true
}`
	cfg, warns, err := Parse([]byte(in), "f.json")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`cluster_manager.clusters[0].foo (f.json:2:50): unknown field, ignored`,
		`cluster_manager.clusters[0].dns_lookup_family (f.json:2:81): MOSN field not supported by this proxy; kept for config_dump only`,
		`metrics.shm_zone (f.json:3:27): MOSN field not supported by this proxy; kept for config_dump only`,
		`metrics.shm_size (f.json:3:47): MOSN field not supported by this proxy; kept for config_dump only`,
		`dynamic_resources (f.json:4:24): MOSN field not supported by this proxy; kept for config_dump only`,
		`servers[0].name (f.json:6:16): unknown field, ignored`,
		`servers[0].mosn_server_name (f.json:6:54): duplicate key (first at line 6:29); the last value wins`,
		`["x.y"] (f.json:7:3): unknown field, ignored`,
	}
	if got := problemStrings(warns); !reflect.DeepEqual(got, want) {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if cfg.Server().ServerName != "c" {
		t.Errorf("server name = %q, want the last value", cfg.Server().ServerName)
	}
	// Unknown keys are dropped, unimplemented ones kept for config_dump.
	out, err := cfg.Dump()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "foo") || !strings.Contains(string(out), `"shm_zone": "zone"`) || !strings.Contains(string(out), `"ads_config": {}`) {
		t.Errorf("dump:\n%s", out)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, _, err := Load(filepath.Join(t.TempDir(), "nope.json"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("err = %v, want not-exist", err)
	}
}

func TestLoadReportsFileName(t *testing.T) {
	p := filepath.Join(t.TempDir(), "mosn_config.json")
	if err := os.WriteFile(p, []byte("{\"servers\": [{\"listeners\": [{\"bind_port\": 1}]}]}"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err := Load(p)
	want := "servers[0].listeners[0].bind_port (" + p + ":1:43): want a boolean, got number 1"
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}
}

func TestProblemString(t *testing.T) {
	tests := []struct {
		p    Problem
		want string
	}{
		{Problem{Path: "a.b", Line: 1, Col: 2, File: "f", Msg: "m"}, "a.b (f:1:2): m"},
		{Problem{Path: "a.b", Line: 1, Col: 2, Msg: "m"}, "a.b (1:2): m"},
		{Problem{Path: "a.b", Msg: "m"}, "a.b: m"},
		{Problem{Path: "a.b", File: "f", Msg: "m"}, "a.b (f): m"},
		{Problem{Line: 3, Col: 4, File: "f", Msg: "m"}, "f:3:4: m"},
		{Problem{Msg: "m"}, "m"},
	}
	for _, tt := range tests {
		if got := tt.p.String(); got != tt.want {
			t.Errorf("%+v: got %q, want %q", tt.p, got, tt.want)
		}
	}
	if Problems(nil).Err() != nil {
		t.Error("empty Problems.Err() is not nil")
	}
	if err := (Problems{{Msg: "a"}, {Msg: "b"}}).Err(); err == nil || err.Error() != "a\nb" {
		t.Errorf("Err() = %v", err)
	}
	se := &SyntaxError{Line: 1, Col: 2, Msg: "m"}
	if se.Error() != "1:2: m" {
		t.Errorf("SyntaxError without file = %q", se.Error())
	}
}

func TestPath(t *testing.T) {
	tests := []struct {
		parts []any
		want  string
	}{
		{[]any{"servers", 0, "listeners", 1}, "servers[0].listeners[1]"},
		{[]any{"servers[0].listeners[0]", "filter_chains", 0, "filters", 0, "config", "cluster"}, "servers[0].listeners[0].filter_chains[0].filters[0].config.cluster"},
		{[]any{"", "a", "", 2}, "a[2]"},
		{[]any{0, "a"}, "[0].a"},
		{[]any{"filter_metadata", Key("mosn.lb"), Key("version")}, `filter_metadata["mosn.lb"].version`},
		{[]any{"m", Key(`a"b`)}, `m["a\"b"]`},
		{[]any{"h", Key("x-mosn-host")}, "h.x-mosn-host"},
		{[]any{Key("")}, `[""]`},
		{[]any{"a", uint32(3), int64(4)}, "a[3][4]"},
		{nil, ""},
	}
	for _, tt := range tests {
		if got := Path(tt.parts...); got != tt.want {
			t.Errorf("Path(%v) = %q, want %q", tt.parts, got, tt.want)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	data, err := os.ReadFile("testdata/full_features.json")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, _, err := Parse(data, "full_features.json"); err != nil {
			b.Fatal(err)
		}
	}
}
