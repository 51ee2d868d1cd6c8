package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

func addTestdataSeeds(f *testing.F) {
	files, err := os.ReadDir("testdata")
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range files {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		data, err := os.ReadFile("testdata/" + e.Name())
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		`{}`, `[]`, `{"servers": [{"graceful_timeout": 1e300}]}`, `{"metrics": {"shm_size": "9223372036854775807g"}}`,
		`{"servers": [{"processor": "auto", "listeners": [{"bind_port": "yes"}]}]}`, `{"a": /* c */ [1,],}`,
		`{"tracing": {"config": "\ud800\u0000"}}`, `{"cluster_manager": {"clusters": [{"Name": "x", "NAME": "y"}]}}`,
	} {
		f.Add([]byte(s))
	}
}

// FuzzParse checks that Parse never panics, that its errors have the
// documented types, and that a parsed config survives Dump and Parse.
func FuzzParse(f *testing.F) {
	addTestdataSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, _, err := Parse(data, "fuzz.json")
		if err != nil {
			if cfg != nil {
				t.Fatal("cfg is not nil on error")
			}
			var se *SyntaxError
			var ps Problems
			if !errors.As(err, &se) && !errors.As(err, &ps) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		_ = cfg.Validate()
		out, err := cfg.Dump()
		if err != nil {
			t.Fatalf("Dump: %v", err)
		}
		again, warns, err := Parse(out, "dump.json")
		if err != nil {
			t.Fatalf("re-parse of the dump: %v\n%s", err, out)
		}
		for _, w := range warns {
			if strings.Contains(w.Msg, "unknown field") || strings.Contains(w.Msg, "duplicate key") {
				t.Errorf("dump produced warning %v", w)
			}
		}
		if !cfg.Equal(again) {
			t.Fatalf("round trip changed the config:\n%s", out)
		}
	})
}

// FuzzJSONTree checks the reader against encoding/json: every document
// that encoding/json accepts (and that is valid UTF-8 and not absurdly
// deep) is accepted with the same meaning, and what the reader writes back
// is always strict JSON.
func FuzzJSONTree(f *testing.F) {
	addTestdataSeeds(f)
	for _, s := range []string{`"x"`, `1.5e-3`, `[null,true,false]`, `{"a":{"a":1},"a":2}`, `"\u00e9\ud83d\ude00"`, `-0`, `// c` + "\n1"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := parseTree(data, "fuzz.json")
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) || se.Line < 1 || se.Col < 1 {
				t.Fatalf("bad error %#v", err)
			}
			if json.Valid(data) && utf8.Valid(data) && !strings.Contains(se.Msg, "nesting deeper") {
				t.Fatalf("rejected valid JSON: %v", err)
			}
			return
		}
		out := appendJSON(nil, n)
		if !json.Valid(out) || !utf8.Valid(out) {
			t.Fatalf("wrote invalid JSON %q", out)
		}
		if !json.Valid(data) {
			return // comments or trailing commas
		}
		var want, got any
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		if err := dec.Decode(&want); err != nil {
			t.Fatal(err)
		}
		dec = json.NewDecoder(bytes.NewReader(out))
		dec.UseNumber()
		if err := dec.Decode(&got); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(want, got) {
			t.Fatalf("meaning changed:\n%q\n%q", data, out)
		}
	})
}
