package payloadlimit

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"mosn.dev/proxy/stream"
	"mosn.dev/proxy/stream/streamtest"
)

// TestREADME builds the README's example, so the documentation cannot
// drift from the code: unknown keys (typos) fail too.
func TestREADME(t *testing.T) {
	cf := streamtest.BuildREADME[Config](t, "README.md", Name)
	cb := &streamtest.Callbacks{}
	cf.New().OnReceive(context.Background(), cb, stream.AfterRoute)
	if cb.BodyLimit != 1024 || cb.BodyLimitStatus != 413 {
		t.Fatalf("README example set limit %d status %d, want 1024 and 413", cb.BodyLimit, cb.BodyLimitStatus)
	}
}

func TestBuild(t *testing.T) {
	for _, tc := range []struct {
		name, raw string
		limit     int64
		status    int
		err       string // "" for success
	}{
		{"default status", `{"max_entity_size": 1024}`, 1024, 413, ""},
		{"own status", `{"max_entity_size": 10, "http_status": 400}`, 10, 400, ""},
		{"large", `{"max_entity_size": 8589934592}`, 8 << 30, 413, ""},
		{"missing size", `{"http_status": 413}`, 0, 0, "stream_filters[0].config.max_entity_size: must be a positive number of bytes"},
		{"negative size", `{"max_entity_size": -1}`, 0, 0, "stream_filters[0].config.max_entity_size: must be a positive"},
		{"bad status", `{"max_entity_size": 1, "http_status": 200}`, 0, 0, "stream_filters[0].config.http_status: must be an HTTP error status 400..599"},
		{"status too big", `{"max_entity_size": 1, "http_status": 600}`, 0, 0, "stream_filters[0].config.http_status:"},
		{"string size", `{"max_entity_size": "1k"}`, 0, 0, "stream_filters[0].config.max_entity_size"},
		{"empty", ``, 0, 0, "stream_filters[0].config.max_entity_size: must be"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fac, err := Build(nil, "stream_filters[0].config", json.RawMessage(tc.raw))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			cb := &streamtest.Callbacks{}
			f := fac.New().(stream.ReceiverFilter)
			if st := f.OnReceive(context.Background(), cb, stream.AfterRoute); st != stream.Continue {
				t.Errorf("status %v, want Continue", st)
			}
			if cb.BodyLimit != tc.limit || cb.BodyLimitStatus != tc.status || cb.BodyLimitSets != 1 || len(cb.Replies) != 0 {
				t.Errorf("SetBodyLimit(%d, %d) x%d, %d replies; want (%d, %d) once, no reply", cb.BodyLimit, cb.BodyLimitStatus, cb.BodyLimitSets, len(cb.Replies), tc.limit, tc.status)
			}
		})
	}
}

func TestPhases(t *testing.T) {
	fac, err := Build(nil, "c", json.RawMessage(`{"max_entity_size": 1}`))
	if err != nil {
		t.Fatal(err)
	}
	if ps := fac.Phases(); len(ps) != 1 || ps[0] != stream.AfterRoute {
		t.Fatalf("phases %v, want [AfterRoute]", ps)
	}
}

func FuzzBuild(f *testing.F) {
	for _, s := range []string{`{"max_entity_size": 1024}`, `{"max_entity_size": 1, "http_status": 400}`, `{"max_entity_size": -5}`, `{}`, `[`, `1e999`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		fac, err := Build(nil, "c", json.RawMessage(raw))
		if err != nil {
			return
		}
		cb := &streamtest.Callbacks{}
		fac.New().(stream.ReceiverFilter).OnReceive(context.Background(), cb, stream.AfterRoute)
		if cb.BodyLimit <= 0 || cb.BodyLimitStatus < 400 || cb.BodyLimitStatus > 599 {
			t.Fatalf("built a filter with limit %d status %d from %q", cb.BodyLimit, cb.BodyLimitStatus, raw)
		}
	})
}
