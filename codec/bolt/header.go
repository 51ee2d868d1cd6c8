package bolt

import "encoding/binary"

// The header map is a sequence of pairs: u32 key length, key bytes, u32
// value length, value bytes. A length of 0xFFFFFFFF (-1) stands for a Java
// null; pairs with a null key are skipped, as MOSN does.
const nullLen = 0xFFFFFFFF

// nextPair splits the first pair off b. kNull/vNull report null key/value;
// ok is false when b is malformed.
func nextPair(b []byte) (k, v, rest []byte, kNull, vNull, ok bool) {
	k, rest, kNull, ok = nextString(b)
	if !ok {
		return nil, nil, nil, false, false, false
	}
	v, rest, vNull, ok = nextString(rest)
	return k, v, rest, kNull, vNull, ok
}

func nextString(b []byte) (s, rest []byte, null, ok bool) {
	if len(b) < 4 {
		return nil, nil, false, false
	}
	n := binary.BigEndian.Uint32(b)
	b = b[4:]
	if n == nullLen {
		return nil, b, true, true
	}
	if uint64(n) > uint64(len(b)) {
		return nil, nil, false, false
	}
	return b[:n:n], b[n:], false, true
}

// validateHeaderMap checks that b is a sequence of whole pairs.
func validateHeaderMap(b []byte) error {
	for len(b) > 0 {
		var ok bool
		if _, _, b, _, _, ok = nextPair(b); !ok {
			return invalid("malformed header map")
		}
	}
	return nil
}

// Header returns the value of the first header named key (compared
// byte-wise, case-sensitive) and whether it is present. A null value is
// reported as present with a nil slice. It does not allocate.
func (f *Frame) Header(key string) ([]byte, bool) {
	for b := f.HeaderBytes; len(b) > 0; {
		k, v, rest, kNull, _, ok := nextPair(b)
		if !ok {
			return nil, false
		}
		if !kNull && string(k) == key {
			return v, true
		}
		b = rest
	}
	return nil, false
}

// RangeHeaders calls fn for each header in wire order, skipping null keys
// (null values are passed as nil), until fn returns false. The slices point
// into the frame.
func (f *Frame) RangeHeaders(fn func(k, v []byte) bool) {
	for b := f.HeaderBytes; len(b) > 0; {
		k, v, rest, kNull, _, ok := nextPair(b)
		if !ok || (!kNull && !fn(k, v)) {
			return
		}
		b = rest
	}
}

// DecodeHeaders copies the header map into a Go map, validating every
// length. Null keys are skipped; null values become empty strings. A key
// that repeats keeps its last value.
func (f *Frame) DecodeHeaders() (map[string]string, error) {
	return DecodeHeaderMap(f.HeaderBytes)
}

// DecodeHeaderMap decodes an encoded header map; see Frame.DecodeHeaders.
func DecodeHeaderMap(b []byte) (map[string]string, error) {
	m := make(map[string]string)
	for len(b) > 0 {
		k, v, rest, kNull, _, ok := nextPair(b)
		if !ok {
			return nil, invalid("malformed header map")
		}
		if !kNull {
			m[string(k)] = string(v)
		}
		b = rest
	}
	return m, nil
}

// HeaderMapLen returns the encoded length of a header map of pairs.
func HeaderMapLen(pairs [][2]string) int {
	n := 0
	for _, kv := range pairs {
		n += 8 + len(kv[0]) + len(kv[1])
	}
	return n
}

// AppendHeader appends one encoded header pair to dst. Keys and values are
// written as given (never null).
func AppendHeader(dst []byte, key, value string) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(key)))
	dst = append(dst, key...)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(value)))
	return append(dst, value...)
}

// AppendHeaderMap appends the encoding of pairs, in order, to dst.
func AppendHeaderMap(dst []byte, pairs [][2]string) []byte {
	for _, kv := range pairs {
		dst = AppendHeader(dst, kv[0], kv[1])
	}
	return dst
}
