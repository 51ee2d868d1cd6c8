package ipaccess

import (
	"context"
	"encoding/json"
	"net"
	"net/netip"
	"strings"
	"testing"

	"mosn.dev/proxy/stream"
	"mosn.dev/proxy/stream/streamtest"
)

// strAddr is a net.Addr that is not a *net.TCPAddr.
type strAddr string

func (a strAddr) Network() string { return "tcp" }
func (a strAddr) String() string  { return string(a) }

func tcp(s string) net.Addr {
	ap := netip.MustParseAddrPort(s)
	return net.TCPAddrFromAddrPort(ap)
}

// TestREADME builds the README's example, so the documentation cannot
// drift from the code: unknown keys (typos) fail too. It then checks the
// example does what the README says.
func TestREADME(t *testing.T) {
	cf := streamtest.BuildREADME[Config](t, "README.md", Name)
	for _, tc := range []struct {
		xff   string
		allow bool
	}{{"10.1.2.3", false}, {"10.9.9.9", true}, {"192.168.1.1", false}, {"", true}} {
		cb := &streamtest.Callbacks{Remote: tcp("127.0.0.1:5000"), Request: streamtest.Headers{}}
		if tc.xff != "" {
			cb.Request["x-forwarded-for"] = tc.xff
		}
		st := cf.New().OnReceive(context.Background(), cb, stream.BeforeRoute)
		if got := st == stream.Continue; got != tc.allow {
			t.Errorf("README example, x-forwarded-for %q: allowed %v, want %v", tc.xff, got, tc.allow)
		}
	}
}

func TestBuildErrors(t *testing.T) {
	for _, tc := range []struct {
		name, raw string
		want      []string
	}{
		{"default action", `{"default_action": "reject"}`,
			[]string{`stream_filters[0].config.default_action: must be "allow" or "deny", got "reject"`}},
		{"rule action", `{"ips": [{"action": "allow", "addrs": ["1.2.3.4"]}, {"addrs": ["1.2.3.4"]}]}`,
			[]string{`stream_filters[0].config.ips[1].action: must be "allow" or "deny", got ""`}},
		{"no addrs", `{"ips": [{"action": "deny"}]}`,
			[]string{"stream_filters[0].config.ips[0].addrs: list at least one"}},
		{"bad addr", `{"ips": [{"action": "deny", "addrs": ["10.0.0.0/8", "10.0.0.300", "10.0.0.0/33", "host"]}]}`, []string{
			`stream_filters[0].config.ips[0].addrs[1]: "10.0.0.300" is not an IP address or CIDR prefix`,
			`stream_filters[0].config.ips[0].addrs[2]:`,
			`stream_filters[0].config.ips[0].addrs[3]:`,
		}},
		{"type", `{"ips": {"action": "deny"}}`, []string{"stream_filters[0].config.ips"}},
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
			if strings.Contains(err.Error(), "addrs[0]") {
				t.Errorf("a valid address was reported: %v", err)
			}
		})
	}
}

func TestOnReceive(t *testing.T) {
	const rules = `"ips": [
		{"action": "deny", "addrs": ["10.1.0.0/16", "192.168.0.7"]},
		{"action": "allow", "addrs": ["10.0.0.0/8", "127.0.0.1", "2001:db8::/32"]}]`
	allowDefault := `{` + rules + `}`
	denyDefault := `{"default_action": "deny", ` + rules + `}`
	withHeader := `{"default_action": "deny", "header": "X-Forwarded-For", ` + rules + `}`
	for _, tc := range []struct {
		name    string
		raw     string
		remote  net.Addr
		headers streamtest.Headers
		allow   bool
	}{
		{"first rule wins over a later allow", denyDefault, tcp("10.1.2.3:1"), nil, false},
		{"later allow rule", denyDefault, tcp("10.2.0.1:1"), nil, true},
		{"single address", denyDefault, tcp("127.0.0.1:9"), nil, true},
		{"single address denied", allowDefault, tcp("192.168.0.7:9"), nil, false},
		{"neighbour of a single address", allowDefault, tcp("192.168.0.8:9"), nil, true},
		{"default deny", denyDefault, tcp("8.8.8.8:53"), nil, false},
		{"default allow", allowDefault, tcp("8.8.8.8:53"), nil, true},
		{"ipv6 prefix", denyDefault, tcp("[2001:db8::5]:80"), nil, true},
		{"ipv4-mapped peer", denyDefault, tcp("[::ffff:127.0.0.1]:80"), nil, true},
		{"peer as a string", denyDefault, strAddr("127.0.0.1:80"), nil, true},
		{"no peer", allowDefault, nil, nil, true},
		{"header decides", withHeader, tcp("127.0.0.1:1"), streamtest.Headers{"x-forwarded-for": "10.1.2.3"}, false},
		{"header first address", withHeader, tcp("10.1.0.1:1"), streamtest.Headers{"x-forwarded-for": " 127.0.0.1 , 10.1.2.3"}, true},
		{"header with port", withHeader, tcp("127.0.0.1:1"), streamtest.Headers{"x-forwarded-for": "10.1.2.3:8080"}, false},
		{"header bracketed ipv6", withHeader, tcp("127.0.0.1:1"), streamtest.Headers{"x-forwarded-for": "[2001:db8::1]"}, true},
		{"header missing: peer", withHeader, tcp("127.0.0.1:1"), streamtest.Headers{}, true},
		{"header empty: peer", withHeader, tcp("10.1.0.1:1"), streamtest.Headers{"x-forwarded-for": ""}, false},
		{"header garbage: default", withHeader, tcp("127.0.0.1:1"), streamtest.Headers{"x-forwarded-for": "unknown"}, false},
		{"no rules allow", `{}`, tcp("1.1.1.1:1"), nil, true},
		{"no rules deny", `{"default_action": "deny"}`, tcp("127.0.0.1:1"), nil, false},
		{"match all", `{"default_action": "allow", "ips": [{"action": "deny", "addrs": ["0.0.0.0/0", "::/0"]}]}`, tcp("[::1]:1"), nil, false},
		{"host bits masked", `{"default_action": "deny", "ips": [{"action": "allow", "addrs": ["10.9.9.9/8"]}]}`, tcp("10.200.0.1:1"), nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fac, err := Build(nil, "c", json.RawMessage(tc.raw))
			if err != nil {
				t.Fatal(err)
			}
			h := tc.headers
			if h == nil {
				h = streamtest.Headers{}
			}
			cb := &streamtest.Callbacks{Remote: tc.remote, Request: h}
			st := fac.New().(stream.ReceiverFilter).OnReceive(context.Background(), cb, stream.BeforeRoute)
			if tc.allow {
				if st != stream.Continue || len(cb.Replies) != 0 {
					t.Fatalf("denied (%v, reply %d), want allowed", st, cb.ReplyStatus())
				}
				return
			}
			if st != stream.Stop || len(cb.Replies) != 1 || cb.ReplyStatus() != 403 || cb.ReplyBody() != "forbidden" {
				t.Fatalf("got %v, %d replies, %d %q; want Stop, one 403 \"forbidden\"", st, len(cb.Replies), cb.ReplyStatus(), cb.ReplyBody())
			}
		})
	}
}

func BenchmarkOnReceive(b *testing.B) {
	fac, err := Build(nil, "c", json.RawMessage(`{"default_action": "deny", "header": "x-forwarded-for", "ips": [
		{"action": "deny", "addrs": ["10.1.0.0/16", "192.168.0.0/16", "172.16.0.0/12"]},
		{"action": "allow", "addrs": ["10.0.0.0/8", "127.0.0.1"]}]}`))
	if err != nil {
		b.Fatal(err)
	}
	f := fac.New().(stream.ReceiverFilter)
	cb := &streamtest.Callbacks{Remote: tcp("127.0.0.1:1"), Request: streamtest.Headers{"x-forwarded-for": "10.2.3.4, 127.0.0.1"}}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		f.OnReceive(ctx, cb, stream.BeforeRoute)
	}
}

// FuzzClientIP feeds arbitrary header values: the filter must decide
// without panicking, and a value that is a plain address must be read.
func FuzzClientIP(f *testing.F) {
	for _, s := range []string{"10.1.2.3", "10.1.2.3:80, 1.1.1.1", "[::1]:443", "[::1]", "::ffff:10.1.2.3", "fe80::1%eth0", "", ",", "[", "unknown"} {
		f.Add(s)
	}
	fac, err := Build(nil, "c", json.RawMessage(`{"default_action": "allow", "header": "x-forwarded-for", "ips": [{"action": "deny", "addrs": ["10.0.0.0/8"]}]}`))
	if err != nil {
		f.Fatal(err)
	}
	flt := fac.(*filter)
	f.Fuzz(func(t *testing.T, v string) {
		cb := &streamtest.Callbacks{Remote: tcp("127.0.0.1:1"), Request: streamtest.Headers{"x-forwarded-for": v}}
		st := flt.OnReceive(context.Background(), cb, stream.BeforeRoute)
		if a, err := netip.ParseAddr(v); err == nil && a.Zone() == "" {
			if want := !netip.MustParsePrefix("10.0.0.0/8").Contains(a.Unmap()); (st == stream.Continue) != want {
				t.Fatalf("%q: status %v, want allowed=%v", v, st, want)
			}
		}
	})
}

// FuzzBuild feeds arbitrary configs to the parser.
func FuzzBuild(f *testing.F) {
	for _, s := range []string{
		`{"default_action": "deny", "header": "x-real-ip", "ips": [{"action": "allow", "addrs": ["10.0.0.0/8", "::1"]}]}`,
		`{"ips": [{"action": "deny", "addrs": ["::ffff:10.0.0.0/104", "1.2.3.4/40"]}]}`, `{}`, `[]`, `{"ips": [{}]}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		fac, err := Build(nil, "c", json.RawMessage(raw))
		if err != nil {
			return
		}
		fac.New().(stream.ReceiverFilter).OnReceive(context.Background(), &streamtest.Callbacks{Remote: tcp("127.0.0.1:1"), Request: streamtest.Headers{}}, stream.BeforeRoute)
	})
}
