package accesslog

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

var testStart = time.Date(2022, 11, 30, 10, 18, 43, 248_000_000, time.Local)

var testLookup = map[string]string{
	"request_header_x-request-id":   "req-1",
	"response_header_content-type":  "text/plain",
	"request_arg_q":                 "go",
	"cookie_session":                "abc",
	"Http1_request_method":          "GET",
	"Http1_request_header_host":     "h.example",
	"x-mosn-host":                   "h.example",
	"listener_port":                 "2045",
	"request_header_empty":          "",
	"request_header_x-evil":         "a\nb\r\x7f",
	"Http2_cookie_c":                "c2",
	"bolt_request_arg_k":            "v",
	"request_header_:authority":     "pseudo",
	"request_header_x!#$&'*+-.^_|~": "token-chars",
}

func filledInfo() *Info {
	return &Info{
		StartTime:                testStart,
		RequestReceivedDuration:  1234567 * time.Nanosecond,
		ResponseReceivedDuration: 2500 * time.Microsecond,
		RequestFinishedDuration:  3*time.Second + 5*time.Millisecond,
		ProcessTimeDuration:      850 * time.Nanosecond,
		Duration:                 90 * time.Second,
		BytesSent:                1024,
		BytesReceived:            77,
		Protocol:                 "Http1",
		ResponseCode:             503,
		ResponseFlags:            NoHealthyUpstream | UpstreamRequestTimeout,
		UpstreamLocalAddress:     "10.0.0.1:52000",
		UpstreamHost:             "10.0.0.2:8080",
		UpstreamCluster:          "serverCluster",
		DownstreamLocalAddress:   "127.0.0.1:2045",
		DownstreamRemoteAddress:  "127.0.0.1:61000",
		ListenerName:             "serverListener",
		RouteName:                "route-a",
		RequestedServerName:      "example.com",
		ConnectionID:             7,
		UpstreamConnectionID:     9,
		StreamID:                 11,
		TraceID:                  "0a1b2c3d",
		Lookup: func(name string) (string, bool) {
			v, ok := testLookup[name]
			return v, ok
		},
	}
}

func render(t *testing.T, format string, info *Info) string {
	t.Helper()
	f, err := Compile(format)
	if err != nil {
		t.Fatalf("Compile(%q): %v", format, err)
	}
	return string(f.Append(nil, info))
}

func TestBuiltinVariables(t *testing.T) {
	info := filledInfo()
	cases := []struct{ name, want string }{
		{"start_time", "2022/11/30 10:18:43.248"},
		{"request_received_duration", "1.234567ms"},
		{"response_received_duration", "2.5ms"},
		{"request_finished_duration", "3.005s"},
		{"process_time_duration", "850ns"},
		{"duration", "1m30s"},
		{"bytes_sent", "1024"},
		{"bytes_received", "77"},
		{"protocol", "Http1"},
		{"response_code", "503"},
		{"response_flag", "true"},
		{"response_flags", "true"},
		{"upstream_transport_failure_reason", "UH,UT"},
		{"upstream_local_address", "10.0.0.1:52000"},
		{"upstream_host", "10.0.0.2:8080"},
		{"upstream_cluster", "serverCluster"},
		{"downstream_local_address", "127.0.0.1:2045"},
		{"downstream_remote_address", "127.0.0.1:61000"},
		{"listener_name", "serverListener"},
		{"route_name", "route-a"},
		{"requested_server_name", "example.com"},
		{"connection_id", "7"},
		{"upstream_connection_id", "9"},
		{"stream_id", "11"},
		{"trace_id", "0a1b2c3d"},
	}
	if len(cases) != len(builtins) {
		t.Fatalf("table covers %d variables, package has %d built-ins", len(cases), len(builtins))
	}
	for _, c := range cases {
		if got := render(t, "%"+c.name+"%", info); got != c.want {
			t.Errorf("%%%s%% = %q, want %q", c.name, got, c.want)
		}
	}
}

func TestStartTimeMatchesLayout(t *testing.T) {
	f := mustCompile(t, "%start_time%")
	east := time.FixedZone("UTC+8", 8*3600)
	base := time.Date(2022, 11, 30, 23, 59, 58, 0, time.UTC)
	times := []time.Time{
		base, base.Add(999 * time.Millisecond), base.Add(time.Second), base.In(east),
		base.Local(), base.Add(1500 * time.Millisecond), base.In(east), base,
		time.Date(12345, 1, 2, 3, 4, 5, 6_000_000, time.UTC), base, time.Date(-5, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC), // not the zero time
	}
	for _, ts := range times {
		if got, want := string(f.Append(nil, &Info{StartTime: ts})), ts.Format(StartTimeLayout); got != want {
			t.Errorf("start_time of %v = %q, want %q", ts, got, want)
		}
	}
}

func TestMissingValues(t *testing.T) {
	var info Info
	cases := []struct{ name, want string }{
		{"start_time", "-"},
		{"duration", "0s"},
		{"request_received_duration", "0s"},
		{"bytes_sent", "0"},
		{"protocol", "-"},
		{"response_code", "0"},
		{"response_flag", "false"},
		{"upstream_transport_failure_reason", "-"},
		{"upstream_host", "-"},
		{"upstream_local_address", "-"},
		{"downstream_remote_address", "-"},
		{"connection_id", "-"},
		{"upstream_connection_id", "-"},
		{"stream_id", "-"},
		{"trace_id", "-"},
		{"request_header_x-request-id", "-"}, // nil Lookup
	}
	for _, c := range cases {
		if got := render(t, "%"+c.name+"%", &info); got != c.want {
			t.Errorf("empty Info: %%%s%% = %q, want %q", c.name, got, c.want)
		}
	}
}

func TestDefaultFormat(t *testing.T) {
	f, err := Compile("")
	if err != nil {
		t.Fatal(err)
	}
	if f.String() != DefaultFormat {
		t.Errorf("String() = %q", f.String())
	}
	got := string(f.Append(nil, filledInfo()))
	want := "2022/11/30 10:18:43.248 1.234567ms 2.5ms 1024 77 Http1 503 1m30s true 503 " +
		"10.0.0.1:52000 127.0.0.1:2045 127.0.0.1:61000 10.0.0.2:8080"
	if got != want {
		t.Errorf("default format:\n got %q\nwant %q", got, want)
	}
	wantVars := "start_time request_received_duration response_received_duration bytes_sent bytes_received " +
		"protocol response_code duration response_flag upstream_local_address downstream_local_address " +
		"downstream_remote_address upstream_host"
	if v := strings.Join(f.Variables(), " "); v != wantVars {
		t.Errorf("Variables() = %q", v)
	}
}

func TestLookupVariables(t *testing.T) {
	info := filledInfo()
	var asked []string
	inner := info.Lookup
	info.Lookup = func(name string) (string, bool) {
		asked = append(asked, name)
		return inner(name)
	}
	cases := []struct{ format, want string }{
		{"%request_header_x-request-id%", "req-1"},
		{"%response_header_content-type%", "text/plain"},
		{"%request_arg_q%", "go"},
		{"%cookie_session%", "abc"},
		{"%Http1_request_method%", "GET"},
		{"%Http1_request_header_host%", "h.example"},
		{"%Http2_cookie_c%", "c2"},
		{"%bolt_request_arg_k%", "v"},
		{"%x-mosn-host%", "h.example"},
		{"%listener_port%", "2045"},
		{"%request_header_:authority%", "pseudo"},
		{"%request_header_x!#$&'*+-.^_|~%", "token-chars"},
		{"%request_header_absent%", "-"},
		{"%request_header_empty%", "-"},
		{"%request_header_x-evil%", `a\x0ab\x0d\x7f`},
		{"%request_method%", "-"},
		{"%proxy_hijack_status%", "-"},
	}
	for _, c := range cases {
		asked = asked[:0]
		if got := render(t, c.format, info); got != c.want {
			t.Errorf("%s = %q, want %q", c.format, got, c.want)
		}
		if name := strings.Trim(c.format, "%"); len(asked) != 1 || asked[0] != name {
			t.Errorf("%s: Lookup asked %q, want [%q]", c.format, asked, name)
		}
	}
}

func TestStringFieldsEscapeControlBytes(t *testing.T) {
	info := &Info{TraceID: "a\tb\nc", RequestedServerName: "\x00x"}
	if got := render(t, "%trace_id% %requested_server_name%", info); got != `a\x09b\x0ac \x00x` {
		t.Errorf("got %q", got)
	}
}

func TestUnknownVariable(t *testing.T) {
	cases := []struct {
		format string
		name   string
		offset int
	}{
		{"%nope%", "nope", 0},
		{"%protocol% %start_tme%", "start_tme", 11},
		{"%request_header_%", "request_header_", 0},
		{"%cookie_%", "cookie_", 0},
		{"%Http1_response_header_x%", "Http1_response_header_x", 0},
		{"%_request_method%", "_request_method", 0},
		{"%Ht-tp_request_method%", "Ht-tp_request_method", 0},
		{"%Http1_foo%", "Http1_foo", 0},
		{"a%StartTime%", "StartTime", 1}, // MOSN 0.x names are not variables now
		{"%listener_port_x%", "listener_port_x", 0},
	}
	for _, c := range cases {
		_, err := Compile(c.format)
		var uv *UnknownVariableError
		if !errors.As(err, &uv) {
			t.Errorf("Compile(%q) error = %v, want *UnknownVariableError", c.format, err)
			continue
		}
		if uv.Name != c.name || uv.Offset != c.offset {
			t.Errorf("Compile(%q): name %q offset %d, want %q %d", c.format, uv.Name, uv.Offset, c.name, c.offset)
		}
		if !strings.Contains(err.Error(), "%"+c.name+"%") {
			t.Errorf("error %q does not name the variable", err)
		}
	}
}

func TestCompileWithExtra(t *testing.T) {
	extra := func(name string) bool { return name == "dsl_result" }
	f, err := CompileWith("[%dsl_result%]", extra)
	if err != nil {
		t.Fatal(err)
	}
	info := &Info{Lookup: func(n string) (string, bool) { return "ok:" + n, true }}
	if got := string(f.Append(nil, info)); got != "[ok:dsl_result]" {
		t.Errorf("got %q", got)
	}
	if _, err := CompileWith("%other%", extra); err == nil {
		t.Error("name rejected by extra compiled")
	}
}

func TestSyntax(t *testing.T) {
	info := &Info{Protocol: "Http1", ResponseCode: 200}
	cases := []struct{ format, want string }{
		{"plain text", "plain text"},
		{"%protocol%", "Http1"},
		{"[%protocol%]", "[Http1]"},
		{"%protocol%%response_code%", "Http1200"},
		{"%protocol% %response_code%", "Http1 200"},
		{"100%% sure", "100% sure"},
		{"%%", "%"},
		{"%", "%"},
		{"50% of %protocol%", "50% of Http1"},
		{"%protocol", "%protocol"},
		{"%protocol% 100%", "Http1 100%"},
		{"%not a var% %protocol%", "%not a var% Http1"},
		{`\%protocol%`, `\%protocol%`},
		{`a\%b`, `a\%b`},
		{"tab\t%protocol%", "tab\tHttp1"},
		{"ünïcode %protocol% ✓", "ünïcode Http1 ✓"},
	}
	for _, c := range cases {
		if got := render(t, c.format, info); got != c.want {
			t.Errorf("%q renders %q, want %q", c.format, got, c.want)
		}
	}
}

func TestAppendDoesNotAllocate(t *testing.T) {
	var all []string
	for name := range builtins {
		all = append(all, "%"+name+"%")
	}
	formats := map[string]string{
		"default":  "",
		"builtins": strings.Join(all, " "),
	}
	info := filledInfo()
	info.Lookup = nil
	for name, format := range formats {
		f, err := Compile(format)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 0, 4096)
		if a := testing.AllocsPerRun(200, func() { buf = f.Append(buf[:0], info) }); a != 0 {
			t.Errorf("%s: %v allocs per Append, want 0", name, a)
		}
	}
}

func TestAppendDurationMatchesString(t *testing.T) {
	cases := []time.Duration{
		0, 1, 999, 1000, 1001, 1500, 999999, 1000000, 1234567, 999999999,
		time.Second, time.Second + 1, 90 * time.Second, time.Minute, time.Hour,
		time.Hour + time.Second, 72*time.Hour + 3*time.Minute + 500*time.Millisecond,
		-1, -1500, -time.Hour, math.MaxInt64, math.MinInt64, math.MinInt64 + 1,
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		cases = append(cases, time.Duration(r.Int64N(int64(10*time.Hour))-int64(5*time.Hour)))
		cases = append(cases, time.Duration(r.Int64N(2_000_000)))
	}
	for _, d := range cases {
		if got, want := string(appendDuration(nil, d)), d.String(); got != want {
			t.Fatalf("appendDuration(%d) = %q, want %q", int64(d), got, want)
		}
	}
}

func TestFlagNames(t *testing.T) {
	names := map[uint64]string{
		NoHealthyUpstream: "UH", UpstreamRequestTimeout: "UT", UpstreamLocalReset: "LR",
		UpstreamRemoteReset: "UR", UpstreamConnectionFailure: "UF", UpstreamConnectionTermination: "UC",
		UpstreamOverflow: "UO", NoRouteFound: "NR", DelayInjected: "DI", FaultInjected: "FI",
		RateLimited: "RL", ReqEntityTooLarge: "RETL", DownstreamConnectionTermination: "DC",
	}
	for f, n := range names {
		if got := FlagName(f); got != n {
			t.Errorf("FlagName(%#x) = %q, want %q", f, got, n)
		}
	}
	for _, f := range []uint64{0, 1, NoHealthyUpstream | RateLimited, 1 << 40} {
		if got := FlagName(f); got != "" {
			t.Errorf("FlagName(%#x) = %q, want empty", f, got)
		}
	}
	appends := []struct {
		flags uint64
		want  string
	}{
		{0, "-"},
		{NoRouteFound, "NR"},
		{RateLimited | NoHealthyUpstream | DownstreamConnectionTermination, "UH,RL,DC"},
		{UpstreamOverflow | 1<<20, "UO,0x100000"},
	}
	for _, c := range appends {
		if got := string(AppendFlagNames(nil, c.flags)); got != c.want {
			t.Errorf("AppendFlagNames(%#x) = %q, want %q", c.flags, got, c.want)
		}
	}
}

func FuzzCompile(f *testing.F) {
	for _, s := range []string{
		"", DefaultFormat, "%", "%%", "%%%", "%protocol%%", "100% %protocol%", `\%protocol%`,
		"%request_header_x-id% %cookie_a% %Http1_request_arg_q%", "%nope%", "%a b%", "%%protocol%%",
		"%start_time%\n", "%upstream_transport_failure_reason%", "%\x00%", "ü%protocol%ü",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, format string) {
		fm, err := Compile(format)
		if err != nil {
			var uv *UnknownVariableError
			if !errors.As(err, &uv) {
				t.Fatalf("Compile(%q): error %v is not *UnknownVariableError", format, err)
			}
			if !strings.HasPrefix(format[uv.Offset:], "%"+uv.Name+"%") {
				t.Fatalf("Compile(%q): error offset %d does not point at %%%s%%", format, uv.Offset, uv.Name)
			}
			return
		}
		full := filledInfo()
		out := fm.Append(nil, full)
		empty := fm.Append([]byte("prefix"), &Info{})
		if !strings.HasPrefix(string(empty), "prefix") {
			t.Fatal("Append did not preserve dst")
		}
		if format != "" && !strings.Contains(format, "%") && string(out) != format {
			t.Fatalf("text-only %q rendered %q", format, out)
		}
		// Values never add line breaks: every newline comes from the format.
		if format != "" && strings.Count(string(out), "\n") != strings.Count(format, "\n") {
			t.Fatalf("%q rendered %q with extra newlines", format, out)
		}
		// Recompiling the source gives the same rendering.
		again, err := Compile(fm.String())
		if err != nil || string(again.Append(nil, full)) != string(out) {
			t.Fatalf("recompiling %q: %v", fm.String(), err)
		}
	})
}

func FuzzAppendDuration(f *testing.F) {
	for _, d := range []int64{0, 1, -1, 1e3, 1e6, 1e9, 3600e9, math.MaxInt64, math.MinInt64} {
		f.Add(d)
	}
	f.Fuzz(func(t *testing.T, d int64) {
		if got, want := string(appendDuration(nil, time.Duration(d))), time.Duration(d).String(); got != want {
			t.Fatalf("appendDuration(%d) = %q, want %q", d, got, want)
		}
	})
}

func BenchmarkAppendDefault(b *testing.B) {
	f, _ := Compile("")
	info := filledInfo()
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = f.Append(buf[:0], info)
	}
}

func BenchmarkAppendWithHeaders(b *testing.B) {
	f, _ := Compile(DefaultFormat + " %request_header_x-request-id% %trace_id% %connection_id%")
	info := filledInfo()
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = f.Append(buf[:0], info)
	}
}

func TestUsesLookup(t *testing.T) {
	for _, c := range []struct {
		format string
		want   bool
	}{
		{"%start_time% %response_code% %duration%", false},
		{"", false}, // the default format
		{"%request_header_x-request-id%", true},
		{"code %response_code% ua %request_header_user-agent%", true},
		{"%response_header_content-type%", true},
	} {
		f, err := Compile(c.format)
		if err != nil {
			t.Fatalf("%q: %v", c.format, err)
		}
		if got := f.UsesLookup(); got != c.want {
			t.Errorf("%q: UsesLookup() = %v, want %v", c.format, got, c.want)
		}
	}
}
