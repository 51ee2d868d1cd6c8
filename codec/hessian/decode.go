package hessian

import (
	"errors"
	"fmt"
)

// ErrSkippedRef reports a reference, met by Decode, to a list, map or object
// that the Reader skipped instead of decoding.
var ErrSkippedRef = errors.New("hessian: reference to a skipped value")

// List is a decoded Hessian list. Type is empty for untyped lists.
type List struct {
	Type  string
	Items []any
}

// Map is a decoded Hessian map, entries in stream order. Type is empty for
// untyped maps.
type Map struct {
	Type    string
	Entries []MapEntry
}

// MapEntry is one key/value pair of a Map.
type MapEntry struct {
	Key, Value any
}

// Get returns the value of the first entry whose key is the string key.
func (m *Map) Get(key string) (any, bool) {
	for _, e := range m.Entries {
		if k, ok := e.Key.(string); ok && k == key {
			return e.Value, true
		}
	}
	return nil, false
}

// Object is a decoded Hessian object: its class name, the class's field
// names and the values in field order.
type Object struct {
	Class  string
	Fields []string
	Values []any
}

// Field returns the value of the named field.
func (o *Object) Field(name string) (any, bool) {
	for i, f := range o.Fields {
		if f == name {
			return o.Values[i], true
		}
	}
	return nil, false
}

// decodeState is what Decode needs on top of the skipping state.
type decodeState struct {
	// refs holds decoded reference targets by index; nil entries were skipped.
	refs []any
	// classes caches decoded class names by class index.
	classes []*classInfo
	// types caches decoded type names by offset, so that many references to
	// one long type name cost one decoding.
	types map[int]string
}

type classInfo struct {
	name   string
	fields []string
}

func (d *decodeState) reset() {
	clear(d.refs)
	d.refs = d.refs[:0]
	clear(d.classes)
	d.classes = d.classes[:0]
	clear(d.types)
}

// typeAt returns the type name whose string starts at offset pos.
func (r *Reader) typeAt(pos int) (string, error) {
	if s, ok := r.dec.types[pos]; ok {
		return s, nil
	}
	s, err := r.stringAt(pos)
	if err != nil {
		return "", err
	}
	if r.dec.types == nil {
		r.dec.types = make(map[int]string)
	}
	r.dec.types[pos] = s
	return s, nil
}

// Decode reads the next value into Go values: nil, bool, int32, int64,
// float64, time.Time (UTC), string, []byte (a copy), *List, *Map or *Object.
// A reference yields the same pointer as the value it refers to, so cyclic
// data decodes into cyclic pointers. Decode allocates; use the Read methods
// and Skip on hot paths.
func (r *Reader) Decode() (any, error) {
	if r.dec == nil {
		r.dec = &decodeState{}
	}
	return r.decode(0)
}

func (r *Reader) decode(depth int) (any, error) {
	t, err := r.tag()
	if err != nil {
		return nil, err
	}
	switch kinds[t] {
	case KindNull:
		r.pos++
		return nil, nil
	case KindBool:
		return r.ReadBool()
	case KindInt:
		return r.readIntTag(t)
	case KindLong:
		return r.ReadLong()
	case KindDouble:
		return r.ReadDouble()
	case KindDate:
		return r.ReadDate()
	case KindString:
		return r.ReadString()
	case KindBinary:
		b, err := r.ReadBinary()
		if err != nil {
			return nil, err
		}
		return append([]byte{}, b...), nil
	case KindRef:
		i, err := r.readRef()
		if err != nil {
			return nil, err
		}
		if i < len(r.dec.refs) && r.dec.refs[i] != nil {
			return r.dec.refs[i], nil
		}
		return nil, ErrSkippedRef
	case KindList:
		if depth >= MaxDepth {
			return nil, ErrTooDeep
		}
		return r.decodeList(t, depth)
	case KindMap:
		if depth >= MaxDepth {
			return nil, ErrTooDeep
		}
		return r.decodeMap(t, depth)
	case KindObject:
		if depth >= MaxDepth {
			return nil, ErrTooDeep
		}
		return r.decodeObject(t, depth)
	}
	return nil, malformed("invalid tag 0x%02x at offset %d", t, r.pos)
}

// addRef registers v as the next reference target.
func (r *Reader) addRef(v any) {
	i := r.nrefs
	r.nrefs++
	for len(r.dec.refs) < i {
		r.dec.refs = append(r.dec.refs, nil)
	}
	r.dec.refs = append(r.dec.refs, v)
}

// stringAt decodes the string at offset pos (validated before) and restores
// the read position.
func (r *Reader) stringAt(pos int) (string, error) {
	saved := r.pos
	r.pos = pos
	s, err := r.ReadString()
	r.pos = saved
	return s, err
}

func (r *Reader) decodeList(t byte, depth int) (any, error) {
	typePos, n, err := r.listHeader(t)
	if err != nil {
		return nil, err
	}
	l := &List{}
	if typePos >= 0 {
		if l.Type, err = r.typeAt(typePos); err != nil {
			return nil, err
		}
	}
	r.addRef(l)
	if n < 0 {
		for {
			end, err := r.End()
			if err != nil {
				return nil, err
			}
			if end {
				return l, nil
			}
			v, err := r.decode(depth + 1)
			if err != nil {
				return nil, err
			}
			l.Items = append(l.Items, v)
		}
	}
	// Every item takes at least one byte, so n beyond the input fails; the
	// initial capacity is small so that claimed lengths cannot make Decode
	// allocate more than the items it actually reads.
	l.Items = make([]any, 0, min(n, r.Len(), 16))
	for i := 0; i < n; i++ {
		v, err := r.decode(depth + 1)
		if err != nil {
			return nil, err
		}
		l.Items = append(l.Items, v)
	}
	return l, nil
}

func (r *Reader) decodeMap(t byte, depth int) (any, error) {
	m := &Map{}
	r.pos++
	if t == 'M' {
		typePos, err := r.readType()
		if err != nil {
			return nil, err
		}
		if m.Type, err = r.typeAt(typePos); err != nil {
			return nil, err
		}
	}
	r.addRef(m)
	for {
		end, err := r.End()
		if err != nil {
			return nil, err
		}
		if end {
			return m, nil
		}
		k, err := r.decode(depth + 1)
		if err != nil {
			return nil, err
		}
		v, err := r.decode(depth + 1)
		if err != nil {
			return nil, err
		}
		m.Entries = append(m.Entries, MapEntry{Key: k, Value: v})
	}
}

func (r *Reader) decodeObject(t byte, depth int) (any, error) {
	idx, def, err := r.objectHeader(t)
	if err != nil {
		return nil, err
	}
	info, err := r.classInfo(idx, def)
	if err != nil {
		return nil, err
	}
	o := &Object{Class: info.name, Fields: info.fields, Values: make([]any, 0, def.nfields)}
	r.addRef(o)
	for i := 0; i < def.nfields; i++ {
		v, err := r.decode(depth + 1)
		if err != nil {
			return nil, err
		}
		o.Values = append(o.Values, v)
	}
	return o, nil
}

// classInfo decodes (once per class) the names of class idx.
func (r *Reader) classInfo(idx int, def classDef) (*classInfo, error) {
	d := r.dec
	for len(d.classes) <= idx {
		d.classes = append(d.classes, nil)
	}
	if ci := d.classes[idx]; ci != nil {
		return ci, nil
	}
	name, err := r.stringAt(def.namePos)
	if err != nil {
		return nil, err
	}
	ci := &classInfo{name: name, fields: make([]string, def.nfields)}
	saved := r.pos
	r.pos = def.fieldsPos
	for i := range ci.fields {
		if ci.fields[i], err = r.ReadString(); err != nil {
			r.pos = saved
			return nil, fmt.Errorf("hessian: class %s field %d: %w", name, i, err)
		}
	}
	r.pos = saved
	d.classes[idx] = ci
	return ci, nil
}
