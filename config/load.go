package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strings"
)

// source remembers where a parsed config came from, so that Validate can
// give positions. It is not part of the config's value: Equal ignores it
// and Dump does not write it.
type source struct {
	file string
	pos  map[string]position
}

// lookup returns the position of path or of its nearest known ancestor.
func (s *source) lookup(path string) (position, bool) {
	if s == nil {
		return position{}, false
	}
	for p := path; p != ""; p = parentPath(p) {
		if pos, ok := s.pos[p]; ok {
			return pos, true
		}
		// Keys inside raw sub-configs are recorded as written, and
		// factories match them case-insensitively ("Cluster" for
		// "cluster"); this is only reached on the error path.
		var best position
		for k, pos := range s.pos {
			if strings.EqualFold(k, p) && (best.line == 0 || pos.line < best.line || pos.line == best.line && pos.col < best.col) {
				best = pos
			}
		}
		if best.line > 0 {
			return best, true
		}
	}
	return position{}, false
}

// Parse reads a config from data. filename is only used in messages.
//
// The syntax is JSON plus // and /* */ comments and trailing commas. A
// syntax error is returned as a *SyntaxError. Otherwise every type error
// is collected and returned together as Problems. On error cfg is nil.
// Warnings (unknown keys, duplicate keys, MOSN fields that are set but not
// supported) never make Parse fail. Parse does not run Validate and does
// not fill in defaults.
func Parse(data []byte, filename string) (cfg *Config, warnings []Problem, err error) {
	root, err := parseTree(data, filename)
	if err != nil {
		return nil, nil, err
	}
	if root.kind != kindObject {
		p := Problem{Line: root.pos.line, Col: root.pos.col, File: filename, Msg: "want an object, got " + describeNode(root)}
		return nil, nil, Problems{p}
	}
	d := newTreeDecoder(filename)
	c := new(Config)
	d.decode("", root, reflect.ValueOf(c).Elem())
	if len(d.errs) > 0 {
		return nil, d.warns, d.errs
	}
	c.src = &source{file: filename, pos: d.pos}
	return c, d.warns, nil
}

// Load reads and parses the config file at path; see Parse.
func Load(path string) (*Config, []Problem, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(data, path)
}

// Dump renders the config as indented JSON (two spaces, a final newline)
// as it was loaded: defaults are not filled in, and zero values are left
// out. Parse(Dump(c)) gives a config Equal to c.
func (c *Config) Dump() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(c); err != nil {
		return nil, fmt.Errorf("dump config: %w", err)
	}
	return buf.Bytes(), nil
}

// Equal reports whether c and o hold the same settings, ignoring where
// they were read from.
func (c *Config) Equal(o *Config) bool {
	if c == nil || o == nil {
		return c == o
	}
	a, b := *c, *o
	a.src, b.src = nil, nil
	return reflect.DeepEqual(a, b)
}
