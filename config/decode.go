package config

import (
	"encoding"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"
)

// treeDecoder fills typed structs from a parsed tree by reflection. It
// follows encoding/json's rules (json tags, exact key match first, then
// case-insensitive; json.Unmarshaler and encoding.TextUnmarshaler honoured;
// null leaves the zero value) but never stops at the first problem: every
// type error is collected with its JSON path and position, unknown keys
// and set `mosn:"unimplemented"` fields become warnings, and it records
// where each value was so that validation can point into the file too.
type treeDecoder struct {
	file    string
	errs    Problems
	warns   []Problem
	pos     map[string]position
	structs map[reflect.Type]*structFields
}

type structFields struct {
	list   []fieldInfo
	byName map[string]int
}

type fieldInfo struct {
	name          string
	index         []int
	unimplemented bool
}

var (
	unmarshalerType     = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
	rawMessageType      = reflect.TypeFor[json.RawMessage]()
)

func newTreeDecoder(file string) *treeDecoder {
	return &treeDecoder{
		file:    file,
		pos:     make(map[string]position),
		structs: make(map[reflect.Type]*structFields),
	}
}

func (d *treeDecoder) problem(path string, p position, format string, args ...any) Problem {
	return Problem{Path: path, Line: p.line, Col: p.col, File: d.file, Msg: fmt.Sprintf(format, args...)}
}

func (d *treeDecoder) errorf(path string, p position, format string, args ...any) {
	d.errs = append(d.errs, d.problem(path, p, format, args...))
}

func (d *treeDecoder) warnf(path string, p position, format string, args ...any) {
	d.warns = append(d.warns, d.problem(path, p, format, args...))
}

// decode stores n into v, which must be settable.
func (d *treeDecoder) decode(path string, n *node, v reflect.Value) {
	if path != "" {
		d.pos[path] = n.pos
	}
	if n.kind == kindNull {
		v.SetZero()
		return
	}
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decode(path, n, v.Elem())
		return
	}
	if v.CanAddr() {
		pv := v.Addr()
		if pv.Type().Implements(unmarshalerType) {
			if v.Type() == rawMessageType {
				// Filter configs are decoded later by their factories;
				// remember where their parts are so that their errors
				// can point into the file too.
				d.recordPositions(path, n)
			}
			// A fresh slice each time: unmarshalers may keep it
			// (json.RawMessage does).
			raw := appendJSON(nil, n)
			if err := pv.Interface().(json.Unmarshaler).UnmarshalJSON(raw); err != nil {
				d.errorf(path, n.pos, "%s", err.Error())
			}
			return
		}
		if pv.Type().Implements(textUnmarshalerType) {
			if n.kind != kindString {
				d.errorf(path, n.pos, "want a string, got %s", describeNode(n))
				return
			}
			if err := pv.Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(n.str)); err != nil {
				d.errorf(path, n.pos, "%s", err.Error())
			}
			return
		}
	}
	switch v.Kind() {
	case reflect.Struct:
		d.decodeStruct(path, n, v)
	case reflect.Map:
		d.decodeMap(path, n, v)
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 && n.kind == kindString {
			b, err := base64.StdEncoding.DecodeString(n.str)
			if err != nil {
				d.errorf(path, n.pos, "want base64 data: %v", err)
				return
			}
			v.SetBytes(b)
			return
		}
		if n.kind != kindArray {
			d.errorf(path, n.pos, "want an array, got %s", describeNode(n))
			return
		}
		if len(n.items) == 0 {
			// Empty and absent lists mean the same; keeping nil makes
			// Parse(Dump(c)) deep-equal to c, as Dump omits empty lists.
			v.SetZero()
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.items), len(n.items))
		for i, it := range n.items {
			d.decode(Path(path, i), it, s.Index(i))
		}
		v.Set(s)
	case reflect.Array:
		if n.kind != kindArray {
			d.errorf(path, n.pos, "want an array, got %s", describeNode(n))
			return
		}
		if len(n.items) > v.Len() {
			d.errorf(path, n.pos, "want at most %d elements, got %d", v.Len(), len(n.items))
		}
		v.SetZero()
		for i, it := range n.items {
			if i < v.Len() {
				d.decode(Path(path, i), it, v.Index(i))
			}
		}
	case reflect.String:
		if n.kind != kindString {
			d.errorf(path, n.pos, "want a string, got %s", describeNode(n))
			return
		}
		v.SetString(n.str)
	case reflect.Bool:
		if n.kind != kindBool {
			d.errorf(path, n.pos, "want a boolean, got %s", describeNode(n))
			return
		}
		v.SetBool(n.boolean)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		d.decodeInt(path, n, v)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		d.decodeUint(path, n, v)
	case reflect.Float32, reflect.Float64:
		if n.kind != kindNumber {
			d.errorf(path, n.pos, "want a number, got %s", describeNode(n))
			return
		}
		f, err := strconv.ParseFloat(n.str, 64)
		if err != nil || v.OverflowFloat(f) {
			d.errorf(path, n.pos, "number %s out of range", n.str)
			return
		}
		v.SetFloat(f)
	case reflect.Interface:
		if v.NumMethod() != 0 {
			d.errorf(path, n.pos, "cannot decode into Go type %s", v.Type())
			return
		}
		a, ok := d.toAny(path, n)
		if ok {
			v.Set(reflect.ValueOf(&a).Elem())
		}
	default:
		d.errorf(path, n.pos, "cannot decode into Go type %s", v.Type())
	}
}

func (d *treeDecoder) decodeInt(path string, n *node, v reflect.Value) {
	if n.kind != kindNumber {
		d.errorf(path, n.pos, "want an integer, got %s", describeNode(n))
		return
	}
	i, err := strconv.ParseInt(n.str, 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(n.str, 64)
		switch {
		case ferr == nil && f == math.Trunc(f) && f >= math.MinInt64 && f < math.MaxInt64:
			i = int64(f)
		case ferr == nil && f != math.Trunc(f):
			d.errorf(path, n.pos, "want an integer, got number %s", n.str)
			return
		default:
			d.errorf(path, n.pos, "number %s out of range (%d..%d)", n.str, minInt(v.Type().Bits()), maxInt(v.Type().Bits()))
			return
		}
	}
	if v.OverflowInt(i) {
		d.errorf(path, n.pos, "number %s out of range (%d..%d)", n.str, minInt(v.Type().Bits()), maxInt(v.Type().Bits()))
		return
	}
	v.SetInt(i)
}

func (d *treeDecoder) decodeUint(path string, n *node, v reflect.Value) {
	if n.kind != kindNumber {
		d.errorf(path, n.pos, "want a non-negative integer, got %s", describeNode(n))
		return
	}
	u, err := strconv.ParseUint(n.str, 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(n.str, 64)
		switch {
		case ferr == nil && f != math.Trunc(f):
			d.errorf(path, n.pos, "want an integer, got number %s", n.str)
			return
		case ferr == nil && f == 0:
			u = 0 // "-0", "0e5"
		case ferr == nil && f > 0 && f < math.MaxUint64:
			u = uint64(f)
		default:
			d.errorf(path, n.pos, "number %s out of range (0..%d)", n.str, maxUint(v.Type().Bits()))
			return
		}
	}
	if v.OverflowUint(u) {
		d.errorf(path, n.pos, "number %s out of range (0..%d)", n.str, maxUint(v.Type().Bits()))
		return
	}
	v.SetUint(u)
}

func minInt(bits int) int64   { return -1 << (bits - 1) }
func maxInt(bits int) int64   { return 1<<(bits-1) - 1 }
func maxUint(bits int) uint64 { return 1<<bits - 1 }

func (d *treeDecoder) decodeStruct(path string, n *node, v reflect.Value) {
	if n.kind != kindObject {
		d.errorf(path, n.pos, "want an object, got %s", describeNode(n))
		return
	}
	sf := d.fields(v.Type())
	seen := make(map[int]position, len(n.members))
	for _, m := range n.members {
		fi, ok := sf.byName[m.key]
		if !ok {
			fi = -1
			for i := range sf.list {
				if strings.EqualFold(sf.list[i].name, m.key) {
					fi = i
					break
				}
			}
		}
		if fi < 0 {
			d.warnf(Path(path, Key(m.key)), m.keyPos, "unknown field, ignored")
			continue
		}
		f := &sf.list[fi]
		fpath := Path(path, f.name)
		if prev, dup := seen[fi]; dup {
			d.warnf(fpath, m.keyPos, "duplicate key (first at line %d:%d); the last value wins", prev.line, prev.col)
		}
		seen[fi] = m.keyPos
		fv := v.FieldByIndex(f.index)
		d.decode(fpath, m.value, fv)
		if f.unimplemented && !isEmptyValue(fv) {
			d.warnf(fpath, m.value.pos, "MOSN field not supported by this proxy; kept for config_dump only")
		}
	}
}

func (d *treeDecoder) decodeMap(path string, n *node, v reflect.Value) {
	if n.kind != kindObject {
		d.errorf(path, n.pos, "want an object, got %s", describeNode(n))
		return
	}
	t := v.Type()
	if t.Key().Kind() != reflect.String {
		d.errorf(path, n.pos, "cannot decode into Go type %s", t)
		return
	}
	if len(n.members) == 0 {
		v.SetZero() // as for empty lists
		return
	}
	if v.IsNil() {
		v.Set(reflect.MakeMapWithSize(t, len(n.members)))
	}
	for _, m := range n.members {
		ev := reflect.New(t.Elem()).Elem()
		d.decode(Path(path, Key(m.key)), m.value, ev)
		v.SetMapIndex(reflect.ValueOf(m.key).Convert(t.Key()), ev)
	}
}

// recordPositions remembers the position of every value under n.
func (d *treeDecoder) recordPositions(path string, n *node) {
	d.pos[path] = n.pos
	for i, it := range n.items {
		d.recordPositions(Path(path, i), it)
	}
	for _, m := range n.members {
		d.recordPositions(Path(path, Key(m.key)), m.value)
	}
}

// toAny converts n the way encoding/json fills an interface{}: objects
// become map[string]any, arrays []any, numbers float64.
func (d *treeDecoder) toAny(path string, n *node) (any, bool) {
	if path != "" {
		d.pos[path] = n.pos
	}
	switch n.kind {
	case kindNull:
		return nil, true
	case kindBool:
		return n.boolean, true
	case kindString:
		return n.str, true
	case kindNumber:
		f, err := strconv.ParseFloat(n.str, 64)
		if err != nil {
			d.errorf(path, n.pos, "number %s out of range", n.str)
			return nil, false
		}
		return f, true
	case kindArray:
		out := make([]any, len(n.items))
		ok := true
		for i, it := range n.items {
			var iok bool
			out[i], iok = d.toAny(Path(path, i), it)
			ok = ok && iok
		}
		return out, ok
	default:
		out := make(map[string]any, len(n.members))
		ok := true
		for _, m := range n.members {
			a, mok := d.toAny(Path(path, Key(m.key)), m.value)
			out[m.key] = a
			ok = ok && mok
		}
		return out, ok
	}
}

// fields lists the JSON-visible fields of struct type t, flattening
// untagged embedded structs as encoding/json does.
func (d *treeDecoder) fields(t reflect.Type) *structFields {
	if sf, ok := d.structs[t]; ok {
		return sf
	}
	sf := &structFields{byName: make(map[string]int)}
	var walk func(t reflect.Type, index []int)
	walk = func(t reflect.Type, index []int) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			if tag == "-" {
				continue
			}
			idx := append(append([]int(nil), index...), i)
			name, _, _ := strings.Cut(tag, ",")
			if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
				walk(f.Type, idx)
				continue
			}
			if !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			if _, dup := sf.byName[name]; dup {
				continue
			}
			sf.byName[name] = len(sf.list)
			sf.list = append(sf.list, fieldInfo{
				name:          name,
				index:         idx,
				unimplemented: f.Tag.Get("mosn") == "unimplemented",
			})
		}
	}
	walk(t, nil)
	d.structs[t] = sf
	return sf
}

// isEmptyValue reports whether a decoded value carries no setting: nil,
// zero, empty, or a raw JSON null/{}/[]/""/0/false. Types with an
// IsZero method (Size) decide for themselves.
func isEmptyValue(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return true
		}
		return isEmptyValue(v.Elem())
	}
	if z, ok := v.Interface().(interface{ IsZero() bool }); ok {
		return z.IsZero()
	}
	if v.Type() == rawMessageType {
		switch strings.TrimSpace(string(v.Bytes())) {
		case "", "null", "{}", "[]", `""`, "0", "false":
			return true
		}
		return false
	}
	switch v.Kind() {
	case reflect.Slice, reflect.Map:
		return v.Len() == 0
	}
	return v.IsZero()
}

// describeNode renders a value for "got ..." in messages.
func describeNode(n *node) string {
	switch n.kind {
	case kindNull:
		return "null"
	case kindBool:
		return "boolean " + strconv.FormatBool(n.boolean)
	case kindNumber:
		return "number " + n.str
	case kindString:
		s := n.str
		if utf8.RuneCountInString(s) > 40 {
			s = string([]rune(s)[:40]) + "..."
		}
		return "string " + strconv.Quote(s)
	case kindArray:
		return "array"
	default:
		return "object"
	}
}
