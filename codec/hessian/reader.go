// Package hessian reads and writes the Hessian 2.0 serialization, the format of
// dubbo bodies (serialization id 2) and of SOFARPC bolt content.
//
// The Reader works in place on one byte slice: it never copies the input, it
// returns ASCII and other single-chunk strings as sub-slices of it, it keeps
// the stream state Hessian needs (class definitions, type names, reference
// count) without allocating for the first few entries, and it reports
// malformed or truncated input as errors instead of panicking. Every step
// consumes at least one byte, so decoding always terminates.
package hessian

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
)

// MaxDepth is the deepest nesting of lists, maps and objects that Skip and
// Decode accept (64 levels); deeper input fails with ErrTooDeep.
const MaxDepth = 64

var (
	// ErrUnexpectedEnd reports a value cut short by the end of the data.
	ErrUnexpectedEnd = errors.New("hessian: unexpected end of data")
	// ErrTooDeep reports values nested deeper than MaxDepth.
	ErrTooDeep = errors.New("hessian: values nested too deeply")
	// ErrMalformed is wrapped by every error about invalid encodings.
	ErrMalformed = errors.New("hessian: malformed data")
)

// Kind is the kind of the next value in a Hessian stream.
type Kind uint8

// The kinds of Hessian values.
const (
	KindInvalid Kind = iota
	KindNull
	KindBool
	KindInt
	KindLong
	KindDouble
	KindDate
	KindString
	KindBinary
	KindList
	KindMap
	KindObject
	KindRef
	// kindClassDef marks the 'C' tag, which precedes an object and is not a
	// value by itself.
	kindClassDef
)

var kindNames = [...]string{"invalid", "null", "bool", "int", "long", "double", "date", "string", "binary", "list", "map", "object", "ref", "classdef"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "invalid"
}

// kinds maps a leading tag byte to its kind; filled once at init and never
// written afterwards.
var kinds = func() (t [256]Kind) {
	set := func(lo, hi int, k Kind) {
		for i := lo; i <= hi; i++ {
			t[i] = k
		}
	}
	set(0x00, 0x1f, KindString)
	set(0x20, 0x2f, KindBinary)
	set(0x30, 0x33, KindString)
	set(0x34, 0x37, KindBinary)
	set(0x38, 0x3f, KindLong)
	set('A', 'B', KindBinary)
	t['C'] = kindClassDef
	t['D'] = KindDouble
	t['F'] = KindBool
	t['H'] = KindMap
	t['I'] = KindInt
	set('J', 'K', KindDate)
	t['L'] = KindLong
	t['M'] = KindMap
	t['N'] = KindNull
	t['O'] = KindObject
	t['Q'] = KindRef
	set('R', 'S', KindString)
	t['T'] = KindBool
	set('U', 'X', KindList)
	t['Y'] = KindLong
	set(0x5b, 0x5f, KindDouble)
	set(0x60, 0x6f, KindObject)
	set(0x70, 0x7f, KindList)
	set(0x80, 0xd7, KindInt)
	set(0xd8, 0xff, KindLong)
	return t
}()

const (
	inlineClasses = 8
	inlineTypes   = 8
)

// classDef remembers where a class definition lives in the input so that
// its name and field names can be re-read on demand.
type classDef struct {
	namePos   int
	fieldsPos int
	nfields   int
}

// Reader decodes Hessian 2.0 values from a byte slice. The zero value reads
// an empty input; use Reset to start on new data. A Reader keeps the stream
// state (class definitions, types, references) across values, as one Hessian
// stream requires, until the next Reset. It is not safe for concurrent use.
type Reader struct {
	buf      []byte
	pos      int
	nrefs    int
	nclasses int
	ntypes   int
	classes  [inlineClasses]classDef
	types    [inlineTypes]int
	// moreClasses and moreTypes hold the entries past the inline arrays.
	moreClasses []classDef
	moreTypes   []int
	// scratch assembles chunked strings and binaries.
	scratch []byte
	// dec holds what Decode needs beyond skipping; nil until Decode is used.
	dec *decodeState
}

// NewReader returns a Reader positioned at the start of b.
func NewReader(b []byte) *Reader {
	r := &Reader{}
	r.Reset(b)
	return r
}

// Reset makes r read b from its start with an empty stream state, keeping
// the capacity of its internal buffers.
func (r *Reader) Reset(b []byte) {
	r.buf = b
	r.pos = 0
	r.nrefs = 0
	r.nclasses = 0
	r.ntypes = 0
	r.moreClasses = r.moreClasses[:0]
	r.moreTypes = r.moreTypes[:0]
	if r.dec != nil {
		r.dec.reset()
	}
}

// Offset returns the number of bytes consumed so far.
func (r *Reader) Offset() int { return r.pos }

// Len returns the number of bytes not yet consumed.
func (r *Reader) Len() int { return len(r.buf) - r.pos }

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
}

func (r *Reader) unexpected(want string, tag byte) error {
	return malformed("expected %s, found tag 0x%02x at offset %d", want, tag, r.pos)
}

// need reports ErrUnexpectedEnd unless n more bytes are available.
func (r *Reader) need(n int) error {
	if n < 0 || len(r.buf)-r.pos < n {
		return ErrUnexpectedEnd
	}
	return nil
}

// tag returns the next tag byte after consuming any class definitions, which
// Hessian places right before the object that first uses them.
func (r *Reader) tag() (byte, error) {
	for {
		if r.pos >= len(r.buf) {
			return 0, ErrUnexpectedEnd
		}
		t := r.buf[r.pos]
		if t != 'C' {
			return t, nil
		}
		if err := r.readClassDef(); err != nil {
			return 0, err
		}
	}
}

// PeekKind returns the kind of the next value without consuming it (class
// definitions in front of it are consumed).
func (r *Reader) PeekKind() (Kind, error) {
	t, err := r.tag()
	if err != nil {
		return KindInvalid, err
	}
	k := kinds[t]
	if k == KindInvalid {
		return k, malformed("invalid tag 0x%02x at offset %d", t, r.pos)
	}
	return k, nil
}

// TryNull consumes a null value and reports true when the next value is null.
func (r *Reader) TryNull() bool {
	t, err := r.tag()
	if err != nil || t != 'N' {
		return false
	}
	r.pos++
	return true
}

// ReadBool reads a boolean.
func (r *Reader) ReadBool() (bool, error) {
	t, err := r.tag()
	if err != nil {
		return false, err
	}
	switch t {
	case 'T':
		r.pos++
		return true, nil
	case 'F':
		r.pos++
		return false, nil
	}
	return false, r.unexpected("bool", t)
}

// ReadInt reads a 32-bit int in any of its encodings.
func (r *Reader) ReadInt() (int32, error) {
	t, err := r.tag()
	if err != nil {
		return 0, err
	}
	if kinds[t] != KindInt {
		return 0, r.unexpected("int", t)
	}
	return r.readIntTag(t)
}

// readIntTag decodes the int whose tag t is at r.pos.
func (r *Reader) readIntTag(t byte) (int32, error) {
	b := r.buf
	p := r.pos
	switch {
	case t >= 0x80 && t <= 0xbf:
		r.pos++
		return int32(t) - 0x90, nil
	case t >= 0xc0 && t <= 0xcf:
		if err := r.need(2); err != nil {
			return 0, err
		}
		r.pos += 2
		return (int32(t)-0xc8)<<8 | int32(b[p+1]), nil
	case t >= 0xd0 && t <= 0xd7:
		if err := r.need(3); err != nil {
			return 0, err
		}
		r.pos += 3
		return (int32(t)-0xd4)<<16 | int32(b[p+1])<<8 | int32(b[p+2]), nil
	case t == 'I':
		if err := r.need(5); err != nil {
			return 0, err
		}
		r.pos += 5
		return int32(binary.BigEndian.Uint32(b[p+1:])), nil
	}
	return 0, r.unexpected("int", t)
}

// ReadLong reads a 64-bit long in any of its encodings; an int is accepted
// too and widened, as Java readers do.
func (r *Reader) ReadLong() (int64, error) {
	t, err := r.tag()
	if err != nil {
		return 0, err
	}
	if kinds[t] == KindInt {
		v, err := r.readIntTag(t)
		return int64(v), err
	}
	b := r.buf
	p := r.pos
	switch {
	case t >= 0xd8 && t <= 0xef:
		r.pos++
		return int64(t) - 0xe0, nil
	case t >= 0xf0:
		if err := r.need(2); err != nil {
			return 0, err
		}
		r.pos += 2
		return (int64(t)-0xf8)<<8 | int64(b[p+1]), nil
	case t >= 0x38 && t <= 0x3f:
		if err := r.need(3); err != nil {
			return 0, err
		}
		r.pos += 3
		return (int64(t)-0x3c)<<16 | int64(b[p+1])<<8 | int64(b[p+2]), nil
	case t == 'Y':
		if err := r.need(5); err != nil {
			return 0, err
		}
		r.pos += 5
		return int64(int32(binary.BigEndian.Uint32(b[p+1:]))), nil
	case t == 'L':
		if err := r.need(9); err != nil {
			return 0, err
		}
		r.pos += 9
		return int64(binary.BigEndian.Uint64(b[p+1:])), nil
	}
	return 0, r.unexpected("long", t)
}

// ReadDouble reads a double in any of its encodings. The 0x5f form holds
// an int32 count of thousandths, as the Java implementation writes it.
func (r *Reader) ReadDouble() (float64, error) {
	t, err := r.tag()
	if err != nil {
		return 0, err
	}
	b := r.buf
	p := r.pos
	switch t {
	case 0x5b:
		r.pos++
		return 0, nil
	case 0x5c:
		r.pos++
		return 1, nil
	case 0x5d:
		if err := r.need(2); err != nil {
			return 0, err
		}
		r.pos += 2
		return float64(int8(b[p+1])), nil
	case 0x5e:
		if err := r.need(3); err != nil {
			return 0, err
		}
		r.pos += 3
		return float64(int16(binary.BigEndian.Uint16(b[p+1:]))), nil
	case 0x5f:
		if err := r.need(5); err != nil {
			return 0, err
		}
		r.pos += 5
		return float64(int32(binary.BigEndian.Uint32(b[p+1:]))) * 0.001, nil
	case 'D':
		if err := r.need(9); err != nil {
			return 0, err
		}
		r.pos += 9
		return math.Float64frombits(binary.BigEndian.Uint64(b[p+1:])), nil
	}
	return 0, r.unexpected("double", t)
}

// ReadDate reads a date ('J' milliseconds or 'K' minutes since the epoch)
// and returns it in UTC.
func (r *Reader) ReadDate() (time.Time, error) {
	ms, err := r.readDateMillis()
	if err != nil {
		return time.Time{}, err
	}
	return time.UnixMilli(ms).UTC(), nil
}

func (r *Reader) readDateMillis() (int64, error) {
	t, err := r.tag()
	if err != nil {
		return 0, err
	}
	p := r.pos
	switch t {
	case 'J':
		if err := r.need(9); err != nil {
			return 0, err
		}
		r.pos += 9
		return int64(binary.BigEndian.Uint64(r.buf[p+1:])), nil
	case 'K':
		if err := r.need(5); err != nil {
			return 0, err
		}
		r.pos += 5
		return int64(int32(binary.BigEndian.Uint32(r.buf[p+1:]))) * 60000, nil
	}
	return 0, r.unexpected("date", t)
}

// ReadString reads a string or null (returned as "") into a new Go string.
func (r *Reader) ReadString() (string, error) {
	b, _, err := r.ReadStringBytes()
	return string(b), err
}

// ReadStringBytes reads a string or null and returns its UTF-8 bytes without
// copying when the string is one chunk of standard UTF-8, else assembled in
// an internal buffer. The bytes are valid until the next read and must not be
// modified. Surrogate pairs written as two 3-byte sequences (as Java does) are
// converted to 4-byte UTF-8 and unpaired surrogates to U+FFFD.
func (r *Reader) ReadStringBytes() (b []byte, isNull bool, err error) {
	t, err := r.tag()
	if err != nil {
		return nil, false, err
	}
	if t == 'N' {
		r.pos++
		return nil, true, nil
	}
	first := true
	surrogates := false
	for {
		n, final, err := r.chunkHeader(t)
		if err != nil {
			return nil, false, err
		}
		start := r.pos
		end, sur, err := scanChars(r.buf, start, n)
		if err != nil {
			return nil, false, err
		}
		r.pos = end
		surrogates = surrogates || sur
		if first && final {
			b = r.buf[start:end]
			if surrogates {
				r.scratch = append(r.scratch[:0], b...)
				b = fixSurrogates(r.scratch)
			}
			return b, false, nil
		}
		if first {
			r.scratch = r.scratch[:0]
			first = false
		}
		r.scratch = append(r.scratch, r.buf[start:end]...)
		if final {
			b = r.scratch
			if surrogates {
				b = fixSurrogates(b)
			}
			return b, false, nil
		}
		if t, err = r.next(); err != nil {
			return nil, false, err
		}
	}
}

// next returns the tag at r.pos, which must exist; used between chunks,
// where class definitions are not allowed.
func (r *Reader) next() (byte, error) {
	if r.pos >= len(r.buf) {
		return 0, ErrUnexpectedEnd
	}
	return r.buf[r.pos], nil
}

// chunkHeader consumes the header of one string chunk starting with tag t
// and returns its length in UTF-16 units and whether it is the last chunk.
func (r *Reader) chunkHeader(t byte) (n int, final bool, err error) {
	b := r.buf
	p := r.pos
	switch {
	case t <= 0x1f:
		r.pos++
		return int(t), true, nil
	case t >= 0x30 && t <= 0x33:
		if err := r.need(2); err != nil {
			return 0, false, err
		}
		r.pos += 2
		return int(t-0x30)<<8 | int(b[p+1]), true, nil
	case t == 'S' || t == 'R':
		if err := r.need(3); err != nil {
			return 0, false, err
		}
		r.pos += 3
		return int(binary.BigEndian.Uint16(b[p+1:])), t == 'S', nil
	}
	return 0, false, r.unexpected("string", t)
}

// scanChars walks n UTF-16 units of UTF-8 (or CESU-8) text starting at p and
// returns the end offset and whether 3-byte encoded surrogates were seen. A
// 4-byte sequence counts as two units, as it stands for a surrogate pair.
func scanChars(b []byte, p, n int) (end int, surrogates bool, err error) {
	// Fast path: an all-ASCII run is exactly n bytes.
	if len(b)-p >= n && isASCIIBytes(b[p:p+n]) {
		return p + n, false, nil
	}
	for units := 0; units < n; {
		if p >= len(b) {
			return 0, false, ErrUnexpectedEnd
		}
		c := b[p]
		var size int
		switch {
		case c < 0x80:
			p++
			units++
			continue
		case c&0xe0 == 0xc0:
			size = 2
		case c&0xf0 == 0xe0:
			size = 3
		case c&0xf8 == 0xf0:
			size = 4
		default:
			return 0, false, malformed("invalid UTF-8 lead byte 0x%02x at offset %d", c, p)
		}
		if len(b)-p < size {
			return 0, false, ErrUnexpectedEnd
		}
		for i := 1; i < size; i++ {
			if b[p+i]&0xc0 != 0x80 {
				return 0, false, malformed("invalid UTF-8 continuation byte at offset %d", p+i)
			}
		}
		if size == 4 {
			if units+2 > n {
				return 0, false, malformed("surrogate pair split by string length at offset %d", p)
			}
			units += 2
		} else {
			if size == 3 && c == 0xed && b[p+1] >= 0xa0 {
				surrogates = true
			}
			units++
		}
		p += size
	}
	return p, surrogates, nil
}

// isASCIIBytes reports whether b holds only ASCII, eight bytes at a time.
func isASCIIBytes(b []byte) bool {
	for len(b) >= 8 {
		if binary.LittleEndian.Uint64(b)&0x8080808080808080 != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

// fixSurrogates rewrites, in place, CESU-8 surrogate pairs as 4-byte UTF-8
// and unpaired surrogates as U+FFFD. The output is never longer than the
// input. b must be structurally valid as checked by scanChars.
func fixSurrogates(b []byte) []byte {
	w := 0
	for i := 0; i < len(b); {
		c := b[i]
		if c == 0xed && i+2 < len(b) && b[i+1] >= 0xa0 {
			hi := rune(b[i+1]&0x3f)<<6 | rune(b[i+2]&0x3f) | 0xd000
			if hi < 0xdc00 && i+5 < len(b) && b[i+3] == 0xed && b[i+4] >= 0xb0 {
				lo := rune(b[i+4]&0x3f)<<6 | rune(b[i+5]&0x3f) | 0xd000
				cp := 0x10000 + (hi-0xd800)<<10 + (lo - 0xdc00)
				b[w] = byte(0xf0 | cp>>18)
				b[w+1] = byte(0x80 | (cp>>12)&0x3f)
				b[w+2] = byte(0x80 | (cp>>6)&0x3f)
				b[w+3] = byte(0x80 | cp&0x3f)
				w += 4
				i += 6
				continue
			}
			b[w], b[w+1], b[w+2] = 0xef, 0xbf, 0xbd
			w += 3
			i += 3
			continue
		}
		b[w] = c
		w++
		i++
	}
	return b[:w]
}

// ReadBinary reads a binary value or null (returned as nil). The bytes are a
// sub-slice of the input for a single chunk, else assembled in an internal
// buffer; either way they are valid until the next read and must not be
// modified.
func (r *Reader) ReadBinary() ([]byte, error) {
	t, err := r.tag()
	if err != nil {
		return nil, err
	}
	if t == 'N' {
		r.pos++
		return nil, nil
	}
	return r.binary(t, true)
}

// binary consumes the chunks of a binary value starting with tag t and,
// when collect is set, returns its bytes.
func (r *Reader) binary(t byte, collect bool) ([]byte, error) {
	first := true
	for {
		b := r.buf
		p := r.pos
		var n int
		final := true
		switch {
		case t >= 0x20 && t <= 0x2f:
			n = int(t - 0x20)
			r.pos++
		case t >= 0x34 && t <= 0x37:
			if err := r.need(2); err != nil {
				return nil, err
			}
			n = int(t-0x34)<<8 | int(b[p+1])
			r.pos += 2
		case t == 'A' || t == 'B':
			if err := r.need(3); err != nil {
				return nil, err
			}
			n = int(binary.BigEndian.Uint16(b[p+1:]))
			final = t == 'B'
			r.pos += 3
		default:
			return nil, r.unexpected("binary", t)
		}
		if err := r.need(n); err != nil {
			return nil, err
		}
		data := b[r.pos : r.pos+n]
		r.pos += n
		switch {
		case !collect:
		case first && final:
			return data, nil
		case first:
			r.scratch = append(r.scratch[:0], data...)
		default:
			r.scratch = append(r.scratch, data...)
		}
		first = false
		if final {
			return r.scratch, nil
		}
		var err error
		if t, err = r.next(); err != nil {
			return nil, err
		}
	}
}

// skipString consumes a string (all chunks) without assembling it.
func (r *Reader) skipString(t byte) error {
	for {
		n, final, err := r.chunkHeader(t)
		if err != nil {
			return err
		}
		end, _, err := scanChars(r.buf, r.pos, n)
		if err != nil {
			return err
		}
		r.pos = end
		if final {
			return nil
		}
		if t, err = r.next(); err != nil {
			return err
		}
	}
}

// readClassDef consumes 'C' name fieldCount fieldName* and records it.
func (r *Reader) readClassDef() error {
	r.pos++ // 'C'
	namePos := r.pos
	t, err := r.next()
	if err != nil {
		return err
	}
	if kinds[t] != KindString {
		return r.unexpected("class name", t)
	}
	if err := r.skipString(t); err != nil {
		return err
	}
	if t, err = r.next(); err != nil {
		return err
	}
	if kinds[t] != KindInt {
		return r.unexpected("field count", t)
	}
	n, err := r.readIntTag(t)
	if err != nil {
		return err
	}
	// Each field name takes at least one byte, which bounds n by the input.
	if n < 0 || int(n) > r.Len() {
		return malformed("class field count %d out of range", n)
	}
	fieldsPos := r.pos
	for i := 0; i < int(n); i++ {
		if t, err = r.next(); err != nil {
			return err
		}
		if kinds[t] != KindString {
			return r.unexpected("field name", t)
		}
		if err := r.skipString(t); err != nil {
			return err
		}
	}
	def := classDef{namePos: namePos, fieldsPos: fieldsPos, nfields: int(n)}
	if r.nclasses < inlineClasses {
		r.classes[r.nclasses] = def
	} else {
		r.moreClasses = append(r.moreClasses, def)
	}
	r.nclasses++
	return nil
}

func (r *Reader) class(i int) (classDef, error) {
	if i < 0 || i >= r.nclasses {
		return classDef{}, malformed("object refers to undefined class %d", i)
	}
	if i < inlineClasses {
		return r.classes[i], nil
	}
	return r.moreClasses[i-inlineClasses], nil
}

// readType consumes a list or map type (a string, or an int referring to an
// earlier type string) and returns the offset of the type string.
func (r *Reader) readType() (int, error) {
	t, err := r.next()
	if err != nil {
		return 0, err
	}
	switch kinds[t] {
	case KindString:
		pos := r.pos
		if err := r.skipString(t); err != nil {
			return 0, err
		}
		if r.ntypes < inlineTypes {
			r.types[r.ntypes] = pos
		} else {
			r.moreTypes = append(r.moreTypes, pos)
		}
		r.ntypes++
		return pos, nil
	case KindInt:
		i, err := r.readIntTag(t)
		if err != nil {
			return 0, err
		}
		if i < 0 || int(i) >= r.ntypes {
			return 0, malformed("type reference %d out of range", i)
		}
		if i < inlineTypes {
			return r.types[i], nil
		}
		return r.moreTypes[int(i)-inlineTypes], nil
	}
	return 0, r.unexpected("type", t)
}

// listHeader consumes the start of a list and returns the offset of its type
// string (-1 when untyped) and its length (-1 when terminated by 'Z').
func (r *Reader) listHeader(t byte) (typePos, n int, err error) {
	typePos = -1
	r.pos++
	switch {
	case t == 'U':
		typePos, err = r.readType()
		return typePos, -1, err
	case t == 'W':
		return -1, -1, nil
	case t == 'V' || t == 'X':
		if t == 'V' {
			if typePos, err = r.readType(); err != nil {
				return 0, 0, err
			}
		}
		c, err := r.next()
		if err != nil {
			return 0, 0, err
		}
		if kinds[c] != KindInt {
			return 0, 0, r.unexpected("list length", c)
		}
		l, err := r.readIntTag(c)
		if err != nil {
			return 0, 0, err
		}
		if l < 0 {
			return 0, 0, malformed("negative list length %d", l)
		}
		return typePos, int(l), nil
	case t >= 0x70 && t <= 0x77:
		typePos, err = r.readType()
		return typePos, int(t - 0x70), err
	case t >= 0x78 && t <= 0x7f:
		return -1, int(t - 0x78), nil
	}
	return 0, 0, r.unexpected("list", t)
}

// ReadListStart consumes the start of a list and returns its length, or -1
// for a variable-length list that ends when End reports true. A null list
// reports isNull. The list counts as a reference target.
func (r *Reader) ReadListStart() (n int, isNull bool, err error) {
	t, err := r.tag()
	if err != nil {
		return 0, false, err
	}
	if t == 'N' {
		r.pos++
		return 0, true, nil
	}
	if kinds[t] != KindList {
		return 0, false, r.unexpected("list", t)
	}
	_, n, err = r.listHeader(t)
	if err == nil {
		r.nrefs++
	}
	return n, false, err
}

// ReadMapStart consumes the start of a map ('H', or 'M' and its type); the
// entries follow until End reports true. A null map reports isNull. The map
// counts as a reference target.
func (r *Reader) ReadMapStart() (isNull bool, err error) {
	t, err := r.tag()
	if err != nil {
		return false, err
	}
	switch t {
	case 'N':
		r.pos++
		return true, nil
	case 'H':
		r.pos++
	case 'M':
		r.pos++
		if _, err := r.readType(); err != nil {
			return false, err
		}
	default:
		return false, r.unexpected("map", t)
	}
	r.nrefs++
	return false, nil
}

// End consumes the 'Z' that closes a map or variable-length list and
// reports true, or reports false when another value follows.
func (r *Reader) End() (bool, error) {
	t, err := r.next()
	if err != nil {
		return false, err
	}
	if t == 'Z' {
		r.pos++
		return true, nil
	}
	return false, nil
}

// Skip consumes the next value, whatever its kind, including everything it
// contains, and keeps the stream state up to date.
func (r *Reader) Skip() error { return r.skip(0) }

func (r *Reader) skip(depth int) error {
	t, err := r.tag()
	if err != nil {
		return err
	}
	switch kinds[t] {
	case KindNull, KindBool:
		r.pos++
		return nil
	case KindInt:
		_, err := r.readIntTag(t)
		return err
	case KindLong:
		_, err := r.ReadLong()
		return err
	case KindDouble:
		_, err := r.ReadDouble()
		return err
	case KindDate:
		_, err := r.readDateMillis()
		return err
	case KindString:
		return r.skipString(t)
	case KindBinary:
		_, err := r.binary(t, false)
		return err
	case KindRef:
		_, err := r.readRef()
		return err
	case KindList:
		if depth >= MaxDepth {
			return ErrTooDeep
		}
		_, n, err := r.listHeader(t)
		if err != nil {
			return err
		}
		r.nrefs++
		return r.skipItems(n, depth)
	case KindMap:
		if depth >= MaxDepth {
			return ErrTooDeep
		}
		if _, err := r.ReadMapStart(); err != nil {
			return err
		}
		for {
			end, err := r.End()
			if err != nil || end {
				return err
			}
			if err := r.skip(depth + 1); err != nil {
				return err
			}
			if err := r.skip(depth + 1); err != nil {
				return err
			}
		}
	case KindObject:
		if depth >= MaxDepth {
			return ErrTooDeep
		}
		_, def, err := r.objectHeader(t)
		if err != nil {
			return err
		}
		r.nrefs++
		return r.skipItems(def.nfields, depth)
	}
	return malformed("invalid tag 0x%02x at offset %d", t, r.pos)
}

// skipItems skips n values, or values up to 'Z' when n is -1.
func (r *Reader) skipItems(n, depth int) error {
	if n < 0 {
		for {
			end, err := r.End()
			if err != nil || end {
				return err
			}
			if err := r.skip(depth + 1); err != nil {
				return err
			}
		}
	}
	for i := 0; i < n; i++ {
		if err := r.skip(depth + 1); err != nil {
			return err
		}
	}
	return nil
}

// objectHeader consumes 'O' classIndex or 0x60+classIndex and returns the
// class index and definition.
func (r *Reader) objectHeader(t byte) (int, classDef, error) {
	var idx int
	if t == 'O' {
		r.pos++
		c, err := r.next()
		if err != nil {
			return 0, classDef{}, err
		}
		if kinds[c] != KindInt {
			return 0, classDef{}, r.unexpected("class index", c)
		}
		i, err := r.readIntTag(c)
		if err != nil {
			return 0, classDef{}, err
		}
		idx = int(i)
	} else {
		idx = int(t - 0x60)
		r.pos++
	}
	def, err := r.class(idx)
	return idx, def, err
}

// readRef consumes 'Q' index and checks that it names an earlier list, map
// or object.
func (r *Reader) readRef() (int, error) {
	r.pos++
	c, err := r.next()
	if err != nil {
		return 0, err
	}
	if kinds[c] != KindInt {
		return 0, r.unexpected("reference index", c)
	}
	i, err := r.readIntTag(c)
	if err != nil {
		return 0, err
	}
	if i < 0 || int(i) >= r.nrefs {
		return 0, malformed("reference %d out of range", i)
	}
	return int(i), nil
}
