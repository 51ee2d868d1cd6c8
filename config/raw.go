package config

import (
	"encoding/json"
	"fmt"
	"reflect"
)

// DecodeInto decodes a raw sub-config, such as a filter's "config", into v
// (a non-nil pointer) with the same rules as Parse; path is where raw sits
// in the config and prefixes every problem's path. It is DecodeRaw
// without file positions, for callers that do not hold the *Config.
func DecodeInto(raw json.RawMessage, path string, v any) (warnings []Problem, err error) {
	var c *Config
	return c.DecodeRaw(path, raw, v)
}

// DecodeRaw decodes a raw sub-config of c, such as a filter's "config",
// into v (a non-nil pointer) with the same rules as Parse: keys match
// exactly, then case-insensitively; every type error is reported; unknown
// keys are warnings. path is where raw sits in c, e.g.
// "servers[0].listeners[0].filter_chains[0].filters[0].config"; problems
// carry paths below it and, when c came from Parse, file positions. An
// empty raw leaves v untouched. The error is Problems, or a *SyntaxError
// if raw is not JSON. c may be nil (no positions).
func (c *Config) DecodeRaw(path string, raw json.RawMessage, v any) (warnings []Problem, err error) {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return nil, fmt.Errorf("config: DecodeRaw needs a non-nil pointer, got %T", v)
	}
	if len(raw) == 0 {
		return nil, nil
	}
	root, err := parseTree(raw, "")
	if err != nil {
		return nil, err
	}
	d := newTreeDecoder("")
	d.decode(path, root, rv.Elem())
	var src *source
	if c != nil {
		src = c.src
	}
	locate := func(ps []Problem) {
		for i := range ps {
			ps[i].Line, ps[i].Col, ps[i].File = 0, 0, ""
			if pos, ok := src.lookup(ps[i].Path); ok {
				ps[i].Line, ps[i].Col, ps[i].File = pos.line, pos.col, src.file
			}
		}
	}
	locate(d.warns)
	locate(d.errs)
	if len(d.errs) > 0 {
		return d.warns, d.errs
	}
	return d.warns, nil
}

// Problemf makes a Problem at path, with the file position when c came
// from Parse and the path is known (or the nearest enclosing value's).
// Factories use it to report errors in their configs, e.g.
// c.Problemf(Path(filterPath, "cluster"), "unknown cluster %q", name).
// c may be nil.
func (c *Config) Problemf(path string, format string, args ...any) Problem {
	p := Problem{Path: path, Msg: fmt.Sprintf(format, args...)}
	if c == nil {
		return p
	}
	if pos, ok := c.src.lookup(path); ok {
		p.Line, p.Col, p.File = pos.line, pos.col, c.src.file
	}
	return p
}
