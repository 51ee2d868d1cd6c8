package fault

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"mosn.dev/proxy/accesslog"
	"mosn.dev/proxy/config"
	"mosn.dev/proxy/stream"
	"mosn.dev/proxy/stream/streamtest"
)

func build(t *testing.T, raw string) *filter {
	t.Helper()
	f, err := Build(nil, "stream_filters[0].config", json.RawMessage(raw))
	if err != nil {
		t.Fatalf("Build(%s): %v", raw, err)
	}
	return f.(*filter)
}

// TestREADME builds the README's example, so the documentation cannot
// drift from the code: unknown keys (typos) fail too.
func TestREADME(t *testing.T) {
	cf := streamtest.BuildREADME[Config](t, "README.md", Name)
	if cf.Empty() {
		t.Fatal("README example built no filters")
	}
}

func TestBuildErrors(t *testing.T) {
	for _, tc := range []struct {
		name, raw string
		want      []string // "path: message" fragments, all required
	}{
		{"nothing", `{}`, []string{"stream_filters[0].config: set delay, abort or both"}},
		{"abort percentage", `{"abort": {"status": 503, "percentage": 101}}`,
			[]string{"stream_filters[0].config.abort.percentage: must be 0..100"}},
		{"negative percentage", `{"abort": {"status": 503, "percentage": -1}}`,
			[]string{"stream_filters[0].config.abort.percentage: must be 0..100"}},
		{"abort status", `{"abort": {"status": 42, "percentage": 1}}`,
			[]string{"stream_filters[0].config.abort.status: must be an HTTP status 200..599"}},
		{"abort status missing", `{"abort": {"percentage": 1}}`,
			[]string{"stream_filters[0].config.abort.status: must be an HTTP status"}},
		{"delay zero", `{"delay": {"percentage": 100}}`,
			[]string{"stream_filters[0].config.delay.fixed_delay: must be a positive duration"}},
		{"delay percentage", `{"delay": {"fixed_delay": "1s", "percentage": 200}}`,
			[]string{"stream_filters[0].config.delay.percentage: must be 0..100"}},
		{"bad duration", `{"delay": {"fixed_delay": "soon", "percentage": 1}}`,
			[]string{"stream_filters[0].config.delay.fixed_delay"}},
		{"header name", `{"abort": {"status": 500, "percentage": 1}, "headers": [{"value": "x"}]}`,
			[]string{"stream_filters[0].config.headers[0].name: a header name is required"}},
		{"header regex", `{"abort": {"status": 500, "percentage": 1}, "headers": [{"name": "a"}, {"name": "b", "value": "(", "regex": true}]}`,
			[]string{"stream_filters[0].config.headers[1].value: invalid regex"}},
		{"wrong type", `{"abort": {"status": "x", "percentage": 1}}`,
			[]string{"stream_filters[0].config.abort.status"}},
		{"all at once", `{"delay": {"percentage": 101}, "abort": {"percentage": -5}}`, []string{
			"stream_filters[0].config.delay.fixed_delay:",
			"stream_filters[0].config.delay.percentage: must be 0..100",
			"stream_filters[0].config.abort.status:",
			"stream_filters[0].config.abort.percentage: must be 0..100",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Build(nil, "stream_filters[0].config", json.RawMessage(tc.raw))
			if err == nil {
				t.Fatalf("Build(%s) succeeded", tc.raw)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestOnReceive(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name    string
		raw     string
		cb      streamtest.Callbacks
		ctx     context.Context
		status  stream.Status
		reply   int // status replied, 0 for none
		flags   uint64
		replies int
	}{
		{name: "abort always", raw: `{"abort": {"status": 503, "percentage": 100}}`,
			status: stream.Stop, reply: 503, flags: accesslog.FaultInjected, replies: 1},
		{name: "abort never", raw: `{"abort": {"status": 503, "percentage": 0}}`,
			status: stream.Continue},
		{name: "delay always then go on", raw: `{"delay": {"fixed_delay": "1ms", "percentage": 100}}`,
			status: stream.Continue, flags: accesslog.DelayInjected},
		{name: "delay never", raw: `{"delay": {"fixed_delay": "1h", "percentage": 0}}`,
			status: stream.Continue},
		// A context that is already done shows the delay was started
		// without waiting for it.
		{name: "delay cut short by the client", raw: `{"delay": {"fixed_delay": "1h", "percentage": 100}}`,
			ctx: canceled, status: stream.Stop, flags: accesslog.DelayInjected},
		{name: "delay then abort", raw: `{"delay": {"fixed_delay": "1ms", "percentage": 100}, "abort": {"status": 500, "percentage": 100}}`,
			status: stream.Stop, reply: 500, flags: accesslog.DelayInjected | accesslog.FaultInjected, replies: 1},
		{name: "cluster matches", raw: `{"abort": {"status": 502, "percentage": 100}, "upstream_cluster": "web"}`,
			cb: streamtest.Callbacks{ClusterName: "web"}, status: stream.Stop, reply: 502, flags: accesslog.FaultInjected, replies: 1},
		{name: "cluster differs", raw: `{"abort": {"status": 502, "percentage": 100}, "upstream_cluster": "web"}`,
			cb: streamtest.Callbacks{ClusterName: "db"}, status: stream.Continue},
		{name: "header value matches", raw: `{"abort": {"status": 500, "percentage": 100}, "headers": [{"name": "X-Fault", "value": "on"}]}`,
			cb: streamtest.Callbacks{Request: streamtest.Headers{"x-fault": "on"}}, status: stream.Stop, reply: 500, flags: accesslog.FaultInjected, replies: 1},
		{name: "header value differs", raw: `{"abort": {"status": 500, "percentage": 100}, "headers": [{"name": "x-fault", "value": "on"}]}`,
			cb: streamtest.Callbacks{Request: streamtest.Headers{"x-fault": "off"}}, status: stream.Continue},
		{name: "header missing", raw: `{"abort": {"status": 500, "percentage": 100}, "headers": [{"name": "x-fault", "value": "on"}]}`,
			status: stream.Continue},
		{name: "presence only", raw: `{"abort": {"status": 500, "percentage": 100}, "headers": [{"name": "x-fault"}]}`,
			cb: streamtest.Callbacks{Request: streamtest.Headers{"x-fault": "anything"}}, status: stream.Stop, reply: 500, flags: accesslog.FaultInjected, replies: 1},
		{name: "all headers must match", raw: `{"abort": {"status": 500, "percentage": 100}, "headers": [{"name": "a", "value": "1"}, {"name": "b", "value": "2"}]}`,
			cb: streamtest.Callbacks{Request: streamtest.Headers{"a": "1", "b": "3"}}, status: stream.Continue},
		{name: "regex matches whole value", raw: `{"abort": {"status": 500, "percentage": 100}, "headers": [{"name": "v", "value": "v[0-9]", "regex": true}]}`,
			cb: streamtest.Callbacks{Request: streamtest.Headers{"v": "v7"}}, status: stream.Stop, reply: 500, flags: accesslog.FaultInjected, replies: 1},
		{name: "regex is anchored", raw: `{"abort": {"status": 500, "percentage": 100}, "headers": [{"name": "v", "value": "v[0-9]", "regex": true}]}`,
			cb: streamtest.Callbacks{Request: streamtest.Headers{"v": "v10"}}, status: stream.Continue},
		{name: "method pseudo header", raw: `{"abort": {"status": 405, "percentage": 100}, "headers": [{"name": ":method", "value": "POST"}]}`,
			cb: streamtest.Callbacks{RequestMethod: "POST"}, status: stream.Stop, reply: 405, flags: accesslog.FaultInjected, replies: 1},
		{name: "method as MOSN spells it", raw: `{"abort": {"status": 405, "percentage": 100}, "headers": [{"name": "method", "value": "GET"}]}`,
			cb: streamtest.Callbacks{RequestMethod: "PUT"}, status: stream.Continue},
		{name: "path pseudo header", raw: `{"abort": {"status": 500, "percentage": 100}, "headers": [{"name": ":path", "value": "/api/.*", "regex": true}]}`,
			cb: streamtest.Callbacks{RequestPath: "/web/x"}, status: stream.Continue},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := build(t, tc.raw)
			cb := tc.cb
			if cb.Request == nil {
				cb.Request = streamtest.Headers{}
			}
			ctx := tc.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			if got := f.OnReceive(ctx, &cb, stream.AfterRoute); got != tc.status {
				t.Errorf("status %v, want %v", got, tc.status)
			}
			if cb.ReplyStatus() != tc.reply || len(cb.Replies) != tc.replies {
				t.Errorf("replied %d (%d times), want %d (%d times)", cb.ReplyStatus(), len(cb.Replies), tc.reply, tc.replies)
			}
			if tc.reply != 0 && cb.ReplyBody() != AbortBody {
				t.Errorf("body %q, want %q", cb.ReplyBody(), AbortBody)
			}
			if cb.Flags != tc.flags {
				t.Errorf("flags %#x, want %#x", cb.Flags, tc.flags)
			}
		})
	}
}

// TestPercentageDraw checks the per-request draw against a fixed source:
// a request is hit when the draw is below the percentage.
func TestPercentageDraw(t *testing.T) {
	f := build(t, `{"abort": {"status": 500, "percentage": 30}}`)
	for _, tc := range []struct {
		draw int
		hit  bool
	}{{0, true}, {29, true}, {30, false}, {99, false}} {
		f.intn = func(n int) int {
			if n != 100 {
				t.Fatalf("drew from [0, %d), want [0, 100)", n)
			}
			return tc.draw
		}
		cb := &streamtest.Callbacks{Request: streamtest.Headers{}}
		f.OnReceive(context.Background(), cb, stream.AfterRoute)
		if got := len(cb.Replies) == 1; got != tc.hit {
			t.Errorf("draw %d: aborted %v, want %v", tc.draw, got, tc.hit)
		}
	}
}

// TestPercentageStatistics uses the real random source. For 2000 fair
// draws the share is 50% ± 1.1% (one standard deviation), so the 35..65%
// window is more than 13 deviations wide: it cannot flake.
func TestPercentageStatistics(t *testing.T) {
	f := build(t, `{"abort": {"status": 500, "percentage": 50}}`)
	const n = 2000
	aborted := 0
	for range n {
		cb := &streamtest.Callbacks{Request: streamtest.Headers{}}
		if f.OnReceive(context.Background(), cb, stream.AfterRoute) == stream.Stop {
			aborted++
		}
	}
	if aborted < n*35/100 || aborted > n*65/100 {
		t.Fatalf("aborted %d of %d, want 35%%..65%%", aborted, n)
	}
}

// TestChainPhase checks the filter only runs at AfterRoute in a chain.
func TestChainPhase(t *testing.T) {
	cf, err := stream.Build(nil, "stream_filters", []config.Filter{{Type: Name, Config: json.RawMessage(`{"abort": {"status": 503, "percentage": 100}}`)}})
	if err != nil {
		t.Fatal(err)
	}
	ch := cf.New()
	cb := &streamtest.Callbacks{Request: streamtest.Headers{}}
	if st := ch.OnReceive(context.Background(), cb, stream.BeforeRoute); st != stream.Continue || len(cb.Replies) != 0 {
		t.Fatalf("BeforeRoute: %v, %d replies; want Continue and none", st, len(cb.Replies))
	}
	if st := ch.OnReceive(context.Background(), cb, stream.AfterRoute); st != stream.Stop || cb.ReplyStatus() != 503 {
		t.Fatalf("AfterRoute: %v, reply %d; want Stop and 503", st, cb.ReplyStatus())
	}
}

func BenchmarkOnReceive(b *testing.B) {
	f, err := Build(nil, "c", json.RawMessage(`{"abort": {"status": 503, "percentage": 1}, "upstream_cluster": "web",
		"headers": [{"name": "x-fault", "value": "on"}, {"name": "x-v", "value": "v[0-9]+", "regex": true}]}`))
	if err != nil {
		b.Fatal(err)
	}
	cb := &streamtest.Callbacks{ClusterName: "web", Request: streamtest.Headers{"x-fault": "on", "x-v": "v12"}}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		f.(*filter).OnReceive(ctx, cb, stream.AfterRoute)
	}
}

// FuzzBuild feeds arbitrary configs to the parser: it must return a
// filter or problems, never panic, and a built filter must run.
func FuzzBuild(f *testing.F) {
	for _, s := range []string{
		`{"delay": {"fixed_delay": "200ms", "percentage": 100}}`,
		`{"abort": {"status": 503, "percentage": 50}, "upstream_cluster": "web"}`,
		`{"abort": {"status": 500, "percentage": 1}, "headers": [{"name": "a", "value": "(x|y)+", "regex": true}]}`,
		`{"delay": {"fixed_delay": 1.5, "percentage": -1}}`,
		`{"headers": [{}]}`, `[]`, `null`, `{`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		fac, err := Build(nil, "c", json.RawMessage(raw))
		if err != nil {
			return
		}
		flt := fac.(*filter)
		if flt.delay > 0 && flt.delayPct > 0 {
			return // would sleep
		}
		flt.OnReceive(context.Background(), &streamtest.Callbacks{Request: streamtest.Headers{"a": "x"}}, stream.AfterRoute)
	})
}
