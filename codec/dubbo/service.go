package dubbo

import (
	"errors"
	"fmt"

	"mosn.dev/proxy/codec/hessian"
)

var (
	// ErrNotRequest is returned by Service for responses and events, which
	// carry no invocation.
	ErrNotRequest = errors.New("dubbo: not an invocation request")
	// ErrSerialization is returned by Service for bodies in a serialization
	// other than hessian2.
	ErrSerialization = errors.New("dubbo: body serialization is not hessian2")
)

// Meta is what routing needs from a request.
type Meta struct {
	// DubboVersion is the framework version, e.g. "2.0.2".
	DubboVersion string
	// Service is the service path, or the "interface" attachment when
	// present.
	Service string
	// Version is the service version from the body ("" when null).
	Version string
	Method  string
	// Group is the "group" attachment ("" when absent).
	Group string
	// Attachments are the string-to-string attachments in wire order;
	// entries with other key or value types are left out.
	Attachments [][2]string
}

// span locates one decoded string in the scratch buffer of Service.
type span struct{ off, end int }

// inlinePairs is how many attachments Service collects before it allocates
// room for more.
const inlinePairs = 16

// Service decodes the invocation of a hessian2 request: the four leading
// strings, the parameter-type descriptor (to know how many arguments to
// skip), the arguments (skipped) and the attachments map. All strings of the
// result share one allocation. It returns ErrNotRequest for responses and
// events, ErrSerialization for other serializations, and a decoding error
// (wrapping hessian.ErrMalformed or hessian.ErrUnexpectedEnd) for bad bodies.
func (f *Frame) Service() (Meta, error) {
	if !f.IsRequest || f.IsEvent {
		return Meta{}, ErrNotRequest
	}
	if f.Serialization != SerializationHessian2 {
		return Meta{}, fmt.Errorf("%w (serialization id %d)", ErrSerialization, f.Serialization)
	}
	var r hessian.Reader
	r.Reset(f.Body)
	var arr [512]byte
	buf := arr[:0]
	var fields [4]span
	names := [4]string{"dubbo version", "service path", "service version", "method name"}
	for i := range fields {
		var err error
		if buf, fields[i], _, err = appendString(&r, buf); err != nil {
			return Meta{}, fmt.Errorf("dubbo: decoding the %s: %w", names[i], err)
		}
	}
	desc, _, err := r.ReadStringBytes()
	if err != nil {
		return Meta{}, fmt.Errorf("dubbo: decoding the parameter types: %w", err)
	}
	nargs, err := CountArgs(desc)
	if err != nil {
		return Meta{}, err
	}
	for i := 0; i < nargs; i++ {
		if err := r.Skip(); err != nil {
			return Meta{}, fmt.Errorf("dubbo: skipping argument %d of %d: %w", i+1, nargs, err)
		}
	}
	var pairArr [inlinePairs][2]span
	pairs := pairArr[:0]
	if r.Len() > 0 {
		if buf, pairs, err = readAttachments(&r, buf, pairs); err != nil {
			return Meta{}, fmt.Errorf("dubbo: decoding the attachments: %w", err)
		}
	}
	s := string(buf)
	str := func(sp span) string { return s[sp.off:sp.end] }
	m := Meta{
		DubboVersion: str(fields[0]),
		Service:      str(fields[1]),
		Version:      str(fields[2]),
		Method:       str(fields[3]),
	}
	if len(pairs) > 0 {
		m.Attachments = make([][2]string, len(pairs))
		for i, p := range pairs {
			k, v := str(p[0]), str(p[1])
			m.Attachments[i] = [2]string{k, v}
			switch k {
			case "interface":
				if v != "" {
					m.Service = v
				}
			case "group":
				m.Group = v
			}
		}
	}
	return m, nil
}

// appendString reads a string or null and appends its bytes to buf.
func appendString(r *hessian.Reader, buf []byte) ([]byte, span, bool, error) {
	b, isNull, err := r.ReadStringBytes()
	if err != nil {
		return buf, span{}, false, err
	}
	off := len(buf)
	buf = append(buf, b...)
	return buf, span{off, len(buf)}, isNull, nil
}

// readAttachments reads the attachments map (or null), keeping the entries
// whose key and value are both strings.
func readAttachments(r *hessian.Reader, buf []byte, pairs [][2]span) ([]byte, [][2]span, error) {
	isNull, err := r.ReadMapStart()
	if err != nil || isNull {
		return buf, pairs, err
	}
	for {
		end, err := r.End()
		if err != nil {
			return buf, pairs, err
		}
		if end {
			return buf, pairs, nil
		}
		mark := len(buf)
		k, err := r.PeekKind()
		if err != nil {
			return buf, pairs, err
		}
		var ks span
		keep := k == hessian.KindString
		if keep {
			if buf, ks, _, err = appendString(r, buf); err != nil {
				return buf, pairs, err
			}
		} else if err := r.Skip(); err != nil {
			return buf, pairs, err
		}
		v, err := r.PeekKind()
		if err != nil {
			return buf, pairs, err
		}
		if keep && v == hessian.KindString {
			var vs span
			if buf, vs, _, err = appendString(r, buf); err != nil {
				return buf, pairs, err
			}
			pairs = append(pairs, [2]span{ks, vs})
			continue
		}
		buf = buf[:mark]
		if err := r.Skip(); err != nil {
			return buf, pairs, err
		}
	}
}

// CountArgs returns the number of parameters a JVM method descriptor lists,
// e.g. 3 for "Ljava/lang/String;I[J"; "" lists none.
func CountArgs(desc []byte) (int, error) {
	n := 0
	for i := 0; i < len(desc); n++ {
		for i < len(desc) && desc[i] == '[' {
			i++
		}
		if i == len(desc) {
			return 0, fmt.Errorf("%w: parameter descriptor %q ends inside an array type", ErrInvalid, desc)
		}
		switch desc[i] {
		case 'Z', 'B', 'C', 'S', 'I', 'J', 'F', 'D':
			i++
		case 'L':
			j := i + 1
			for j < len(desc) && desc[j] != ';' {
				j++
			}
			if j == len(desc) || j == i+1 {
				return 0, fmt.Errorf("%w: parameter descriptor %q has a bad class type at %d", ErrInvalid, desc, i)
			}
			i = j + 1
		default:
			return 0, fmt.Errorf("%w: parameter descriptor %q has an unknown type %q at %d", ErrInvalid, desc, desc[i], i)
		}
	}
	return n, nil
}
