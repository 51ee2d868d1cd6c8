package headertometadata

import (
	"context"
	"encoding/json"
	"maps"
	"strings"
	"testing"

	"mosn.dev/proxy/stream"
	"mosn.dev/proxy/stream/streamtest"
)

// TestREADME builds the README's example, so the documentation cannot
// drift from the code: unknown keys (typos) fail too. It then checks the
// example does what the README says.
func TestREADME(t *testing.T) {
	cf := streamtest.BuildREADME[Config](t, "README.md", Name)
	for _, tc := range []struct {
		headers streamtest.Headers
		meta    map[string]string
		left    streamtest.Headers
	}{
		{streamtest.Headers{"x-version": "v2", "x-keep": "1"}, map[string]string{"version": "v2"}, streamtest.Headers{"x-keep": "1"}},
		{streamtest.Headers{}, map[string]string{"version": "v1"}, streamtest.Headers{}},
	} {
		cb := &streamtest.Callbacks{Request: tc.headers}
		cf.New().OnReceive(context.Background(), cb, stream.AfterRoute)
		if !maps.Equal(cb.Metadata, tc.meta) || !maps.Equal(cb.Request, tc.left) {
			t.Errorf("README example: metadata %v, headers %v; want %v, %v", cb.Metadata, cb.Request, tc.meta, tc.left)
		}
	}
}

func TestBuildErrors(t *testing.T) {
	for _, tc := range []struct {
		name, raw string
		want      []string
	}{
		{"no rules", `{}`, []string{"stream_filters[0].config.request_rules: list at least one rule"}},
		{"no header", `{"request_rules": [{"on_header_present": {"key": "k"}}]}`,
			[]string{"stream_filters[0].config.request_rules[0].header: a header name is required"}},
		{"no action", `{"request_rules": [{"header": "h", "remove": true}]}`,
			[]string{"stream_filters[0].config.request_rules[0]: set on_header_present, on_header_missing or both"}},
		{"no key", `{"request_rules": [{"header": "h", "on_header_present": {"metadata_namespace": "mosn.lb"}}]}`,
			[]string{"stream_filters[0].config.request_rules[0].on_header_present.key: a metadata key is required"}},
		{"missing without value", `{"request_rules": [{"header": "h", "on_header_missing": {"key": "k"}}]}`,
			[]string{"stream_filters[0].config.request_rules[0].on_header_missing.value: on_header_missing needs a value"}},
		{"bad type", `{"request_rules": [{"header": "h", "on_header_present": {"key": "k", "type": "BOOL"}}]}`,
			[]string{`stream_filters[0].config.request_rules[0].on_header_present.type: must be STRING or NUMBER, got "BOOL"`}},
		{"protobuf value", `{"request_rules": [{"header": "h", "on_header_present": {"key": "k", "type": "PROTOBUF_VALUE"}}]}`,
			[]string{"on_header_present.type: PROTOBUF_VALUE is not supported"}},
		{"number value", `{"request_rules": [{"header": "h", "on_header_missing": {"key": "k", "value": "ten", "type": "NUMBER"}}]}`,
			[]string{`on_header_missing.value: "ten" is not a NUMBER`}},
		{"bad encode", `{"request_rules": [{"header": "h", "on_header_present": {"key": "k", "encode": "HEX"}}]}`,
			[]string{"on_header_present.encode: must be NONE or BASE64"}},
		{"regex rewrite", `{"request_rules": [{"header": "h", "on_header_present": {"key": "k", "regex_value_rewrite": {"pattern": {"regex": "x"}}}}]}`,
			[]string{"on_header_present.regex_value_rewrite: regex_value_rewrite is not supported"}},
		{"cookie", `{"request_rules": [{"cookie": "c", "on_header_present": {"key": "k"}}]}`,
			[]string{"request_rules[0].cookie: cookie rules are not supported", "request_rules[0].header:"}},
		{"response rules", `{"request_rules": [{"header": "h", "remove": true, "on_header_present": {"key": "k"}}], "response_rules": [{"header": "h"}]}`,
			[]string{"stream_filters[0].config.response_rules: response rules are not supported"}},
		{"second rule", `{"request_rules": [{"header": "a", "on_header_present": {"key": "a"}}, {"header": "b", "on_header_present": {}}]}`,
			[]string{"request_rules[1].on_header_present.key:"}},
		{"wrong type", `{"request_rules": [{"header": 5}]}`, []string{"request_rules[0].header"}},
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
	for _, tc := range []struct {
		name    string
		rules   string
		headers streamtest.Headers
		meta    map[string]string  // nil: none set
		left    streamtest.Headers // headers after the filter
	}{
		{"present takes the header value",
			`{"header": "X-Version", "on_header_present": {"metadata_namespace": "mosn.lb", "key": "version"}}`,
			streamtest.Headers{"x-version": "v2"}, map[string]string{"version": "v2"}, streamtest.Headers{"x-version": "v2"}},
		{"present with a fixed value",
			`{"header": "x-canary", "on_header_present": {"key": "stage", "value": "canary"}}`,
			streamtest.Headers{"x-canary": "yes"}, map[string]string{"stage": "canary"}, streamtest.Headers{"x-canary": "yes"}},
		{"missing sets its value",
			`{"header": "x-version", "on_header_missing": {"metadata_namespace": "mosn.lb", "key": "version", "value": "v1"}}`,
			streamtest.Headers{}, map[string]string{"version": "v1"}, streamtest.Headers{}},
		{"missing rule idle when present",
			`{"header": "x-version", "on_header_missing": {"key": "version", "value": "v1"}}`,
			streamtest.Headers{"x-version": "v9"}, nil, streamtest.Headers{"x-version": "v9"}},
		{"present rule idle when missing",
			`{"header": "x-version", "on_header_present": {"key": "version"}}`,
			streamtest.Headers{"other": "1"}, nil, streamtest.Headers{"other": "1"}},
		{"both, present",
			`{"header": "x-version", "on_header_present": {"key": "version"}, "on_header_missing": {"key": "default", "value": "true"}}`,
			streamtest.Headers{"x-version": "v3"}, map[string]string{"version": "v3"}, streamtest.Headers{"x-version": "v3"}},
		{"both, missing",
			`{"header": "x-version", "on_header_present": {"key": "version"}, "on_header_missing": {"key": "default", "value": "true"}}`,
			streamtest.Headers{}, map[string]string{"default": "true"}, streamtest.Headers{}},
		{"remove",
			`{"header": "x-version", "on_header_present": {"key": "version"}, "remove": true}`,
			streamtest.Headers{"x-version": "v2", "x-other": "o"}, map[string]string{"version": "v2"}, streamtest.Headers{"x-other": "o"}},
		{"envoy.lb is the LB namespace too",
			`{"header": "x-version", "on_header_present": {"metadata_namespace": "envoy.lb", "key": "version"}}`,
			streamtest.Headers{"x-version": "v2"}, map[string]string{"version": "v2"}, streamtest.Headers{"x-version": "v2"}},
		{"other namespace: no metadata, remove still applies",
			`{"header": "x-user", "on_header_present": {"metadata_namespace": "com.example.auth", "key": "user"}, "remove": true}`,
			streamtest.Headers{"x-user": "alice"}, nil, streamtest.Headers{}},
		{"other namespace without remove",
			`{"header": "x-user", "on_header_present": {"metadata_namespace": "com.example.auth", "key": "user"}}`,
			streamtest.Headers{"x-user": "alice"}, nil, streamtest.Headers{"x-user": "alice"}},
		{"empty header value adds nothing",
			`{"header": "x-version", "on_header_present": {"key": "version"}}`,
			streamtest.Headers{"x-version": ""}, nil, streamtest.Headers{"x-version": ""}},
		{"over-long header value adds nothing",
			`{"header": "x-version", "on_header_present": {"key": "version"}}`,
			streamtest.Headers{"x-version": strings.Repeat("v", 8192)}, nil, streamtest.Headers{"x-version": strings.Repeat("v", 8192)}},
		{"longest header value",
			`{"header": "x-version", "on_header_present": {"key": "version"}}`,
			streamtest.Headers{"x-version": strings.Repeat("v", 8191)}, map[string]string{"version": strings.Repeat("v", 8191)}, streamtest.Headers{"x-version": strings.Repeat("v", 8191)}},
		{"number",
			`{"header": "x-shard", "on_header_present": {"key": "shard", "type": "NUMBER"}}`,
			streamtest.Headers{"x-shard": " 12 "}, map[string]string{"shard": "12"}, streamtest.Headers{"x-shard": " 12 "}},
		{"not a number adds nothing",
			`{"header": "x-shard", "on_header_present": {"key": "shard", "type": "NUMBER"}}`,
			streamtest.Headers{"x-shard": "twelve"}, nil, streamtest.Headers{"x-shard": "twelve"}},
		{"base64",
			`{"header": "x-v", "on_header_present": {"key": "version", "encode": "BASE64"}}`,
			streamtest.Headers{"x-v": "djI="}, map[string]string{"version": "v2"}, streamtest.Headers{"x-v": "djI="}},
		{"bad base64 adds nothing",
			`{"header": "x-v", "on_header_present": {"key": "version", "encode": "BASE64"}}`,
			streamtest.Headers{"x-v": "%%%"}, nil, streamtest.Headers{"x-v": "%%%"}},
		{"rules in order, later wins a shared key",
			`{"header": "a", "on_header_present": {"key": "k"}}, {"header": "b", "on_header_present": {"key": "k"}}`,
			streamtest.Headers{"a": "1", "b": "2"}, map[string]string{"k": "2"}, streamtest.Headers{"a": "1", "b": "2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fac, err := Build(nil, "c", json.RawMessage(`{"request_rules": [`+tc.rules+`]}`))
			if err != nil {
				t.Fatal(err)
			}
			cb := &streamtest.Callbacks{Request: tc.headers}
			if st := fac.New().(stream.ReceiverFilter).OnReceive(context.Background(), cb, stream.AfterRoute); st != stream.Continue || len(cb.Replies) != 0 {
				t.Fatalf("status %v with %d replies, want Continue and none", st, len(cb.Replies))
			}
			if !maps.Equal(cb.Metadata, tc.meta) {
				t.Errorf("metadata %v, want %v", cb.Metadata, tc.meta)
			}
			if !maps.Equal(cb.Request, tc.left) {
				t.Errorf("headers %v, want %v", cb.Request, tc.left)
			}
		})
	}
}

func TestPhases(t *testing.T) {
	fac, err := Build(nil, "c", json.RawMessage(`{"request_rules": [{"header": "h", "on_header_present": {"key": "k"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if ps := fac.Phases(); len(ps) != 1 || ps[0] != stream.AfterRoute {
		t.Fatalf("phases %v, want [AfterRoute]", ps)
	}
}

func BenchmarkOnReceive(b *testing.B) {
	fac, err := Build(nil, "c", json.RawMessage(`{"request_rules": [
		{"header": "x-version", "on_header_present": {"metadata_namespace": "mosn.lb", "key": "version"}, "remove": true},
		{"header": "x-zone", "on_header_missing": {"metadata_namespace": "mosn.lb", "key": "zone", "value": "a"}}]}`))
	if err != nil {
		b.Fatal(err)
	}
	f := fac.New().(stream.ReceiverFilter)
	ctx := context.Background()
	cb := &streamtest.Callbacks{Request: streamtest.Headers{}, Metadata: map[string]string{}}
	b.ReportAllocs()
	for b.Loop() {
		cb.Request["x-version"] = "v2"
		f.OnReceive(ctx, cb, stream.AfterRoute)
	}
}

// FuzzBuild feeds arbitrary configs to the parser; a built filter must
// run on a request without panicking.
func FuzzBuild(f *testing.F) {
	for _, s := range []string{
		`{"request_rules": [{"header": "x-version", "on_header_present": {"metadata_namespace": "mosn.lb", "key": "version", "type": "STRING"}, "remove": true}]}`,
		`{"request_rules": [{"header": "x", "on_header_missing": {"key": "k", "value": "1", "type": "NUMBER", "encode": "BASE64"}}]}`,
		`{"request_rules": [{}]}`, `{"response_rules": null, "request_rules": null}`, `[]`, `{`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		fac, err := Build(nil, "c", json.RawMessage(raw))
		if err != nil {
			return
		}
		cb := &streamtest.Callbacks{Request: streamtest.Headers{"x-version": "djI=", "x": "1"}}
		fac.New().(stream.ReceiverFilter).OnReceive(context.Background(), cb, stream.AfterRoute)
	})
}

// FuzzValue checks the header value rules on arbitrary values.
func FuzzValue(f *testing.F) {
	for _, s := range []string{"v2", "", " 1.5e3 ", "djI=", "NaN", "\x00"} {
		f.Add(s, false, false)
	}
	f.Fuzz(func(t *testing.T, v string, number, b64 bool) {
		e := &entry{lb: true, key: "k", number: number, base64: b64}
		got, ok := e.valueFrom(v)
		if ok && (got == "" || len(got) >= maxValueLen) {
			t.Fatalf("valueFrom(%q) = %q, accepted an empty or over-long value", v, got)
		}
		if ok && number && !isNumber(got) {
			t.Fatalf("valueFrom(%q) = %q, not a number", v, got)
		}
		if !number && !b64 && ok != (v != "" && len(v) < maxValueLen) {
			t.Fatalf("valueFrom(%q) ok = %v", v, ok)
		}
	})
}
