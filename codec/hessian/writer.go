package hessian

import (
	"encoding/binary"
	"math"
	"time"
	"unicode/utf8"
)

// chunkUnits is the largest string chunk written, in UTF-16 units (the
// Java implementation's choice).
const chunkUnits = 0x8000

// AppendNull appends a null.
func AppendNull(dst []byte) []byte { return append(dst, 'N') }

// AppendBool appends a boolean.
func AppendBool(dst []byte, v bool) []byte {
	if v {
		return append(dst, 'T')
	}
	return append(dst, 'F')
}

// AppendInt appends a 32-bit int in its shortest encoding.
func AppendInt(dst []byte, v int32) []byte {
	switch {
	case v >= -0x10 && v <= 0x2f:
		return append(dst, byte(0x90+v))
	case v >= -0x800 && v <= 0x7ff:
		return append(dst, byte(0xc8+(v>>8)), byte(v))
	case v >= -0x40000 && v <= 0x3ffff:
		return append(dst, byte(0xd4+(v>>16)), byte(v>>8), byte(v))
	}
	return binary.BigEndian.AppendUint32(append(dst, 'I'), uint32(v))
}

// AppendLong appends a 64-bit long in its shortest encoding.
func AppendLong(dst []byte, v int64) []byte {
	switch {
	case v >= -0x08 && v <= 0x0f:
		return append(dst, byte(0xe0+v))
	case v >= -0x800 && v <= 0x7ff:
		return append(dst, byte(0xf8+(v>>8)), byte(v))
	case v >= -0x40000 && v <= 0x3ffff:
		return append(dst, byte(0x3c+(v>>16)), byte(v>>8), byte(v))
	case v >= math.MinInt32 && v <= math.MaxInt32:
		return binary.BigEndian.AppendUint32(append(dst, 'Y'), uint32(v))
	}
	return binary.BigEndian.AppendUint64(append(dst, 'L'), uint64(v))
}

// AppendDouble appends a double in its shortest exact encoding.
func AppendDouble(dst []byte, v float64) []byte {
	switch {
	case math.Float64bits(v) == 0:
		return append(dst, 0x5b)
	case v == 1:
		return append(dst, 0x5c)
	case v >= -0x80 && v <= 0x7f && v == math.Trunc(v) && !(v == 0 && math.Signbit(v)):
		return append(dst, 0x5d, byte(int8(v)))
	case v >= -0x8000 && v <= 0x7fff && v == math.Trunc(v) && !(v == 0 && math.Signbit(v)):
		return binary.BigEndian.AppendUint16(append(dst, 0x5e), uint16(int16(v)))
	}
	if m := v * 1000; m >= math.MinInt32 && m <= math.MaxInt32 {
		mills := int32(m)
		if float64(mills)*0.001 == v && !(v == 0 && math.Signbit(v)) {
			return binary.BigEndian.AppendUint32(append(dst, 0x5f), uint32(mills))
		}
	}
	return binary.BigEndian.AppendUint64(append(dst, 'D'), math.Float64bits(v))
}

// AppendDate appends t with millisecond precision, as minutes ('K') when
// that is exact.
func AppendDate(dst []byte, t time.Time) []byte {
	ms := t.UnixMilli()
	if ms%60000 == 0 {
		if m := ms / 60000; m >= math.MinInt32 && m <= math.MaxInt32 {
			return binary.BigEndian.AppendUint32(append(dst, 'K'), uint32(int32(m)))
		}
	}
	return binary.BigEndian.AppendUint64(append(dst, 'J'), uint64(ms))
}

// AppendString appends s as a Hessian string. Lengths count UTF-16 units;
// characters outside the Basic Multilingual Plane are written as surrogate
// pairs of 3-byte sequences, which Java readers require, and invalid UTF-8
// bytes as U+FFFD. Strings longer than 32768 units are split into chunks.
func AppendString(dst []byte, s string) []byte {
	if len(s) <= chunkUnits && isASCII(s) {
		return append(stringHeader(dst, len(s), true), s...)
	}
	for {
		end, units := chunkEnd(s)
		final := end == len(s)
		dst = stringHeader(dst, units, final)
		dst = appendJavaUTF8(dst, s[:end])
		if final {
			return dst
		}
		s = s[end:]
	}
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// chunkEnd returns how many bytes of s fit in one chunk and their length in
// UTF-16 units; surrogate pairs are never split.
func chunkEnd(s string) (end, units int) {
	for end < len(s) {
		u := 1
		size := 1
		if s[end] >= utf8.RuneSelf {
			var r rune
			r, size = utf8.DecodeRuneInString(s[end:])
			if r > 0xffff {
				u = 2
			}
		}
		if units+u > chunkUnits {
			break
		}
		units += u
		end += size
	}
	return end, units
}

func stringHeader(dst []byte, n int, final bool) []byte {
	switch {
	case !final:
		return binary.BigEndian.AppendUint16(append(dst, 'R'), uint16(n))
	case n <= 0x1f:
		return append(dst, byte(n))
	case n <= 0x3ff:
		return append(dst, byte(0x30+n>>8), byte(n))
	}
	return binary.BigEndian.AppendUint16(append(dst, 'S'), uint16(n))
}

// appendJavaUTF8 appends s in Java's modified encoding: surrogate pairs as
// two 3-byte sequences, invalid bytes as U+FFFD.
func appendJavaUTF8(dst []byte, s string) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			dst = append(dst, c)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		if r > 0xffff {
			r -= 0x10000
			dst = append3(dst, 0xd800+(r>>10))
			dst = append3(dst, 0xdc00+(r&0x3ff))
			continue
		}
		dst = utf8.AppendRune(dst, r)
	}
	return dst
}

// append3 appends the 3-byte encoding of a 16-bit code unit.
func append3(dst []byte, r rune) []byte {
	return append(dst, byte(0xe0|r>>12), byte(0x80|(r>>6)&0x3f), byte(0x80|r&0x3f))
}

// AppendBinary appends b as a Hessian binary, in 32768-byte chunks when
// longer.
func AppendBinary(dst []byte, b []byte) []byte {
	for len(b) > chunkUnits {
		dst = binary.BigEndian.AppendUint16(append(dst, 'A'), chunkUnits)
		dst = append(dst, b[:chunkUnits]...)
		b = b[chunkUnits:]
	}
	n := len(b)
	switch {
	case n <= 0x0f:
		dst = append(dst, byte(0x20+n))
	case n <= 0x3ff:
		dst = append(dst, byte(0x34+n>>8), byte(n))
	default:
		dst = binary.BigEndian.AppendUint16(append(dst, 'B'), uint16(n))
	}
	return append(dst, b...)
}

// AppendMapStart starts a map: untyped ('H') when typ is empty, else typed
// ('M'). Append keys and values alternately, then AppendEnd.
func AppendMapStart(dst []byte, typ string) []byte {
	if typ == "" {
		return append(dst, 'H')
	}
	return AppendString(append(dst, 'M'), typ)
}

// AppendEnd appends the 'Z' that closes a map or a variable-length list.
func AppendEnd(dst []byte) []byte { return append(dst, 'Z') }

// AppendStringMap appends an untyped map of string keys and values in the
// given order.
func AppendStringMap(dst []byte, pairs [][2]string) []byte {
	dst = append(dst, 'H')
	for _, kv := range pairs {
		dst = AppendString(dst, kv[0])
		dst = AppendString(dst, kv[1])
	}
	return append(dst, 'Z')
}

// AppendListStart starts a fixed-length list of n items, typed when typ is
// not empty; append exactly n values after it.
func AppendListStart(dst []byte, typ string, n int) []byte {
	if typ == "" {
		if n < 8 {
			return append(dst, byte(0x78+n))
		}
		return AppendInt(append(dst, 'X'), int32(n))
	}
	if n < 8 {
		return AppendString(append(dst, byte(0x70+n)), typ)
	}
	return AppendInt(AppendString(append(dst, 'V'), typ), int32(n))
}

// AppendVarListStart starts a variable-length list, typed when typ is not
// empty; close it with AppendEnd.
func AppendVarListStart(dst []byte, typ string) []byte {
	if typ == "" {
		return append(dst, 'W')
	}
	return AppendString(append(dst, 'U'), typ)
}

// AppendClassDef appends a class definition. Definitions are numbered from 0
// in stream order; AppendObjectStart refers to them by that number.
func AppendClassDef(dst []byte, name string, fields ...string) []byte {
	dst = AppendString(append(dst, 'C'), name)
	dst = AppendInt(dst, int32(len(fields)))
	for _, f := range fields {
		dst = AppendString(dst, f)
	}
	return dst
}

// AppendObjectStart starts an instance of class definition class; append
// one value per field after it.
func AppendObjectStart(dst []byte, class int) []byte {
	if class >= 0 && class <= 0x0f {
		return append(dst, byte(0x60+class))
	}
	return AppendInt(append(dst, 'O'), int32(class))
}

// AppendRef appends a reference to the idx-th list, map or object of the
// stream (counted from 0 in the order they start).
func AppendRef(dst []byte, idx int) []byte {
	return AppendInt(append(dst, 'Q'), int32(idx))
}
