// Package http2 holds the parts of HTTP/2 the proxy's own server needs
// below the frame layer: an HPACK decoder whose dynamic table the server
// owns (so an idle connection can keep it compactly without a decoder
// object), a stateless HPACK encoder, and appenders for the frames the
// server writes. Frames are read with golang.org/x/net/http2's Framer.
package http2

import (
	"encoding/binary"
	"errors"
	"unsafe"

	"golang.org/x/net/http2/hpack"
)

// DefaultTableSize is the HPACK dynamic table size both ends start with
// (RFC 7541 §4.2; SETTINGS_HEADER_TABLE_SIZE's initial value), in bytes.
const DefaultTableSize = 4096

// entryOverhead is what RFC 7541 §4.1 adds to each entry's size.
const entryOverhead = 32

// Decoding errors. Any of them is a COMPRESSION_ERROR for the connection:
// the dynamic table can no longer be trusted.
var (
	ErrIndex        = errors.New("hpack: invalid table index")
	ErrInteger      = errors.New("hpack: integer overflow")
	ErrTruncated    = errors.New("hpack: truncated header block")
	ErrSizeUpdate   = errors.New("hpack: table size update not at the start of the block or above the limit")
	ErrStringLength = errors.New("hpack: string longer than allowed")
	ErrHuffman      = errors.New("hpack: invalid Huffman code")
)

// Field is one decoded header field. Name and Value may share memory with
// the decoder's table and must be treated as read-only strings.
type Field struct {
	Name, Value string
	// Sensitive is set for "never indexed" literals (RFC 7541 §6.2.3),
	// which an intermediary must forward the same way.
	Sensitive bool
}

// Size is the field's size as RFC 7541 §4.1 counts it.
func (f Field) Size() uint32 { return uint32(len(f.Name)+len(f.Value)) + entryOverhead }

// Decoder decodes header blocks of one connection. Its dynamic table
// holds the entries the peer inserted, newest last; the zero value is not
// ready: use NewDecoder.
type Decoder struct {
	ents []Field // oldest first
	// packed holds the entries instead of ents after Pack, until the
	// next Decode.
	packed string
	size   uint32 // sum of the entries' sizes
	// max is the table size currently in force (set by the peer's size
	// updates); limit is what our SETTINGS_HEADER_TABLE_SIZE allows.
	max, limit uint32
	// MaxString bounds every decoded name and value, in bytes (0: no
	// bound beyond the block's own length).
	MaxString int
}

// NewDecoder returns a decoder whose table may grow to limit bytes.
func NewDecoder(limit uint32) *Decoder {
	d := &Decoder{}
	d.Init(limit)
	return d
}

// Init makes d an empty decoder whose table may grow to limit bytes (for
// a Decoder held by value).
func (d *Decoder) Init(limit uint32) {
	*d = Decoder{max: limit, limit: limit}
}

// TableSize reports the bytes the dynamic table holds (RFC 7541 sizes).
func (d *Decoder) TableSize() uint32 { return d.size }

// Entries reports how many fields the dynamic table holds.
func (d *Decoder) Entries() int {
	d.unpack()
	return len(d.ents)
}

// Decode decodes one complete header block, calling emit for each field
// in order. A block that fails leaves the table in an unknown state; the
// connection must end with COMPRESSION_ERROR.
func (d *Decoder) Decode(b []byte, emit func(Field)) error {
	d.unpack()
	first := true
	for len(b) > 0 {
		c := b[0]
		switch {
		case c&0x80 != 0: // indexed field
			i, rest, err := readInt(b, 7)
			if err != nil {
				return err
			}
			f, ok := d.at(i)
			if !ok {
				return ErrIndex
			}
			b = rest
			emit(f)
		case c&0xc0 == 0x40: // literal with incremental indexing
			f, rest, err := d.literal(b, 6)
			if err != nil {
				return err
			}
			b = rest
			d.add(f)
			emit(f)
		case c&0xe0 == 0x20: // dynamic table size update
			if !first {
				return ErrSizeUpdate
			}
			v, rest, err := readInt(b, 5)
			if err != nil {
				return err
			}
			if v > uint64(d.limit) {
				return ErrSizeUpdate
			}
			d.max = uint32(v)
			d.evict(0)
			b = rest
			continue // several updates may start a block
		default: // literal without indexing (0000) or never indexed (0001)
			f, rest, err := d.literal(b, 4)
			if err != nil {
				return err
			}
			f.Sensitive = c&0x10 != 0
			b = rest
			emit(f)
		}
		first = false
	}
	return nil
}

// SetLimit changes the table size our settings allow (after the peer
// acknowledged them); entries beyond it are evicted.
func (d *Decoder) SetLimit(v uint32) {
	d.unpack()
	d.limit = v
	if d.max > v {
		d.max = v
		d.evict(0)
	}
}

func (d *Decoder) at(i uint64) (Field, bool) {
	if i == 0 {
		return Field{}, false
	}
	if i <= uint64(len(staticTable)) {
		return staticTable[i-1], true
	}
	j := i - uint64(len(staticTable))
	if j > uint64(len(d.ents)) {
		return Field{}, false
	}
	return d.ents[len(d.ents)-int(j)], true
}

// literal reads a literal field whose name index has an n-bit prefix.
func (d *Decoder) literal(b []byte, n uint8) (Field, []byte, error) {
	idx, b, err := readInt(b, n)
	if err != nil {
		return Field{}, nil, err
	}
	var f Field
	if idx > 0 {
		nf, ok := d.at(idx)
		if !ok {
			return Field{}, nil, ErrIndex
		}
		f.Name = nf.Name
	} else if f.Name, b, err = d.str(b); err != nil {
		return Field{}, nil, err
	}
	f.Value, b, err = d.str(b)
	return f, b, err
}

func (d *Decoder) str(b []byte) (string, []byte, error) {
	if len(b) == 0 {
		return "", nil, ErrTruncated
	}
	huff := b[0]&0x80 != 0
	n, b, err := readInt(b, 7)
	if err != nil {
		return "", nil, err
	}
	if n > uint64(len(b)) {
		return "", nil, ErrTruncated
	}
	raw := b[:n]
	b = b[n:]
	if !huff {
		if d.MaxString > 0 && len(raw) > d.MaxString {
			return "", nil, ErrStringLength
		}
		return string(raw), b, nil
	}
	// Every Huffman code is at most 30 bits: an input this long cannot
	// decode to an allowed string, so it is refused before decoding.
	if d.MaxString > 0 && len(raw)*8/30 > d.MaxString {
		return "", nil, ErrStringLength
	}
	s, err := hpack.HuffmanDecodeToString(raw)
	if err != nil {
		return "", nil, ErrHuffman
	}
	if d.MaxString > 0 && len(s) > d.MaxString {
		return "", nil, ErrStringLength
	}
	return s, b, nil
}

// add inserts f as the newest entry, evicting the oldest ones to make
// room; an entry larger than the table empties it (RFC 7541 §4.4).
func (d *Decoder) add(f Field) {
	f.Sensitive = false
	sz := f.Size()
	if sz > d.max {
		clear(d.ents)
		d.ents = d.ents[:0]
		d.size = 0
		return
	}
	d.evict(sz)
	d.ents = append(d.ents, f)
	d.size += sz
}

// evict drops the oldest entries until room more bytes fit.
func (d *Decoder) evict(room uint32) {
	n := 0
	for d.size+room > d.max && n < len(d.ents) {
		d.size -= d.ents[n].Size()
		n++
	}
	if n > 0 {
		copy(d.ents, d.ents[n:])
		clear(d.ents[len(d.ents)-n:])
		d.ents = d.ents[:len(d.ents)-n]
	}
}

// Compact shrinks the table's backing array to its entries, for a
// connection that is about to sit idle.
func (d *Decoder) Compact() {
	if cap(d.ents) > len(d.ents) {
		if len(d.ents) == 0 {
			d.ents = nil
			return
		}
		d.ents = append([]Field(nil), d.ents...)
	}
}

// Pack stores the table's entries in one string, for a connection about
// to sit idle: a single allocation instead of the entry slice and a
// string per name and value. The next use unpacks it; names and values
// then share the packed string.
func (d *Decoder) Pack() {
	if d.packed != "" || len(d.ents) == 0 {
		d.Compact()
		return
	}
	n := 0
	for _, e := range d.ents {
		n += uvarintLen(len(e.Name)) + len(e.Name) + uvarintLen(len(e.Value)) + len(e.Value)
	}
	b := make([]byte, 0, n)
	for _, e := range d.ents {
		b = binary.AppendUvarint(b, uint64(len(e.Name)))
		b = append(b, e.Name...)
		b = binary.AppendUvarint(b, uint64(len(e.Value)))
		b = append(b, e.Value...)
	}
	d.packed = unsafe.String(unsafe.SliceData(b), len(b))
	d.ents = nil
}

func (d *Decoder) unpack() {
	if d.packed == "" {
		return
	}
	p := d.packed
	d.packed = ""
	n := 0
	for q := p; len(q) > 0; n++ {
		q = skipString(skipString(q))
	}
	d.ents = make([]Field, 0, n)
	for len(p) > 0 {
		var f Field
		f.Name, p = readPacked(p)
		f.Value, p = readPacked(p)
		d.ents = append(d.ents, f)
	}
}

func readPacked(p string) (string, string) {
	var l, shift uint
	i := 0
	for ; ; i++ {
		c := p[i]
		l |= uint(c&0x7f) << shift
		if c < 0x80 {
			break
		}
		shift += 7
	}
	p = p[i+1:]
	return p[:l], p[l:]
}

func skipString(p string) string {
	_, rest := readPacked(p)
	return rest
}

func uvarintLen(n int) int {
	l := 1
	for n >= 0x80 {
		n >>= 7
		l++
	}
	return l
}

// readInt decodes an HPACK integer with an n-bit prefix (RFC 7541 §5.1).
func readInt(b []byte, n uint8) (uint64, []byte, error) {
	if len(b) == 0 {
		return 0, nil, ErrTruncated
	}
	mask := uint64(1)<<n - 1
	v := uint64(b[0]) & mask
	b = b[1:]
	if v < mask {
		return v, b, nil
	}
	var shift uint
	for i, c := range b {
		if shift > 28 {
			// Nothing in HTTP/2 needs integers above 2^32.
			return 0, nil, ErrInteger
		}
		v += uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			return v, b[i+1:], nil
		}
		shift += 7
	}
	return 0, nil, ErrTruncated
}

// appendInt encodes v with an n-bit prefix whose high bits are first.
func appendInt(dst []byte, first byte, n uint8, v uint64) []byte {
	mask := uint64(1)<<n - 1
	if v < mask {
		return append(dst, first|byte(v))
	}
	dst = append(dst, first|byte(mask))
	v -= mask
	for v >= 0x80 {
		dst = append(dst, byte(v)|0x80)
		v >>= 7
	}
	return append(dst, byte(v))
}

// AppendField encodes f without touching any dynamic table: an exact
// static match is indexed, anything else is a literal without indexing
// (never indexed if f.Sensitive) with a static name index when there is
// one, and strings Huffman-coded when that is shorter. The proxy's
// responses use no dynamic table, so encoding needs no per-connection
// state (nginx encodes responses the same way). Name must be lower case.
func AppendField(dst []byte, f Field) []byte {
	if !f.Sensitive {
		if i, ok := staticPair[f]; ok {
			return appendInt(dst, 0x80, 7, uint64(i))
		}
	}
	first := byte(0x00)
	if f.Sensitive {
		first = 0x10
	}
	if i, ok := staticName[f.Name]; ok {
		dst = appendInt(dst, first, 4, uint64(i))
	} else {
		dst = append(dst, first)
		dst = appendString(dst, f.Name)
	}
	return appendString(dst, f.Value)
}

// AppendLiteralLower encodes name and value as a literal without
// indexing whose name is lower-cased as it is copied, so that a canonical
// (mixed-case) header name needs no lower-case string of its own. The
// name is always sent as a string (no static-table lookup), the value
// Huffman-coded when that is shorter.
func AppendLiteralLower(dst []byte, name, value string) []byte {
	dst = append(dst, 0)
	dst = appendInt(dst, 0, 7, uint64(len(name)))
	for i := 0; i < len(name); i++ {
		c := name[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return appendString(dst, value)
}

func appendString(dst []byte, s string) []byte {
	if hl := hpack.HuffmanEncodeLength(s); hl < uint64(len(s)) {
		dst = appendInt(dst, 0x80, 7, hl)
		return hpack.AppendHuffmanString(dst, s)
	}
	dst = appendInt(dst, 0, 7, uint64(len(s)))
	return append(dst, s...)
}

// staticTable is RFC 7541 Appendix A; index i is entry i+1.
var staticTable = [...]Field{
	{Name: ":authority"},
	{Name: ":method", Value: "GET"},
	{Name: ":method", Value: "POST"},
	{Name: ":path", Value: "/"},
	{Name: ":path", Value: "/index.html"},
	{Name: ":scheme", Value: "http"},
	{Name: ":scheme", Value: "https"},
	{Name: ":status", Value: "200"},
	{Name: ":status", Value: "204"},
	{Name: ":status", Value: "206"},
	{Name: ":status", Value: "304"},
	{Name: ":status", Value: "400"},
	{Name: ":status", Value: "404"},
	{Name: ":status", Value: "500"},
	{Name: "accept-charset"},
	{Name: "accept-encoding", Value: "gzip, deflate"},
	{Name: "accept-language"},
	{Name: "accept-ranges"},
	{Name: "accept"},
	{Name: "access-control-allow-origin"},
	{Name: "age"},
	{Name: "allow"},
	{Name: "authorization"},
	{Name: "cache-control"},
	{Name: "content-disposition"},
	{Name: "content-encoding"},
	{Name: "content-language"},
	{Name: "content-length"},
	{Name: "content-location"},
	{Name: "content-range"},
	{Name: "content-type"},
	{Name: "cookie"},
	{Name: "date"},
	{Name: "etag"},
	{Name: "expect"},
	{Name: "expires"},
	{Name: "from"},
	{Name: "host"},
	{Name: "if-match"},
	{Name: "if-modified-since"},
	{Name: "if-none-match"},
	{Name: "if-range"},
	{Name: "if-unmodified-since"},
	{Name: "last-modified"},
	{Name: "link"},
	{Name: "location"},
	{Name: "max-forwards"},
	{Name: "proxy-authenticate"},
	{Name: "proxy-authorization"},
	{Name: "range"},
	{Name: "referer"},
	{Name: "refresh"},
	{Name: "retry-after"},
	{Name: "server"},
	{Name: "set-cookie"},
	{Name: "strict-transport-security"},
	{Name: "transfer-encoding"},
	{Name: "user-agent"},
	{Name: "vary"},
	{Name: "via"},
	{Name: "www-authenticate"},
}

// staticPair and staticName index the static table for the encoder
// (lowest index wins); they are built once and never change.
var (
	staticPair = map[Field]int{}
	staticName = map[string]int{}
)

func init() {
	for i := len(staticTable) - 1; i >= 0; i-- {
		f := staticTable[i]
		if f.Value != "" {
			staticPair[f] = i + 1
		}
		staticName[f.Name] = i + 1
	}
}
