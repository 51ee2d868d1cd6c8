package http2

import (
	"errors"
	"strings"
	"testing"

	"golang.org/x/net/http2/hpack"
)

// fuzzMaxStrings are the MaxString values the fuzzer picks from (0: no
// bound).
var fuzzMaxStrings = [...]int{0, 4, 16, 64}

// fuzzInput packs up to three header blocks the way FuzzDecode unpacks
// them: a MaxString selector, the lengths of the first two blocks (at
// most 255 bytes each), then the blocks.
func fuzzInput(maxSel byte, blocks ...[]byte) []byte {
	if len(blocks) > 3 {
		panic("at most 3 blocks")
	}
	out := []byte{maxSel, 0, 0}
	for i, b := range blocks {
		if i < 2 {
			if len(b) > 255 {
				panic("block too long for a seed")
			}
			out[1+i] = byte(len(b))
		}
		out = append(out, b...)
	}
	return out
}

// splitFuzzInput undoes fuzzInput on arbitrary bytes: lengths beyond the
// data are clipped.
func splitFuzzInput(data []byte) (maxString int, blocks [][]byte, ok bool) {
	if len(data) < 3 {
		return 0, nil, false
	}
	maxString = fuzzMaxStrings[int(data[0])%len(fuzzMaxStrings)]
	n1, n2 := int(data[1]), int(data[2])
	rest := data[3:]
	n1 = min(n1, len(rest))
	b1, rest := rest[:n1], rest[n1:]
	n2 = min(n2, len(rest))
	b2, b3 := rest[:n2], rest[n2:]
	return maxString, [][]byte{b1, b2, b3}, true
}

// allowedDifference reports whether our decoder and x/net's may disagree
// on a block, and why. Each case is a place where x/net departs from RFC
// 7541 or where the RFC leaves a limit to the implementation; once they
// disagree their tables may differ, so the caller stops there.
func allowedDifference(ourErr, xErr error, ours []Field, maxString int) (string, bool) {
	switch {
	case ourErr != nil && xErr == nil && errors.Is(ourErr, ErrInteger):
		// RFC 7541 §5.1: "Integer encodings that exceed implementation
		// limits -- in value or octet length -- MUST be treated as
		// decoding errors." Ours stops at 5 continuation bytes (values
		// up to 2^35), x/net reads up to 9 and accepts redundant zero
		// continuation bytes.
		return "integer longer than our limit", true
	case ourErr != nil && xErr == nil && errors.Is(ourErr, ErrSizeUpdate):
		// RFC 7541 §4.2: a dynamic table size update "MUST occur at the
		// beginning of the first header block following the change";
		// §6.3 places it at the start of the block. x/net accepts one
		// after a field while its table is empty (it only checks
		// "!firstField && dynTab.size > 0"). An update above the limit
		// x/net refuses too, so x/net succeeding means the mid-block case.
		return "x/net accepts a mid-block size update while its table is empty", true
	case ourErr == nil && xErr != nil && strings.Contains(xErr.Error(), "dynamic table size update MUST occur at the beginning"):
		// RFC 7541 §4.2 allows two size updates at the start of a block
		// ("at most two dynamic table size updates"). x/net clears its
		// first-field flag after the first update, so it refuses a
		// second one while its table holds entries. Ours succeeded, so
		// every update of this block was in its leading run.
		return "x/net refuses a second leading size update", true
	case ourErr == nil && xErr != nil && errors.Is(xErr, hpack.ErrStringLength) && maxString > 0:
		// MaxString is ours to choose (RFC 7541 §4.1 sizes fields by
		// their decoded length and leaves limits to the implementation).
		// Ours bounds the strings read from the block, by their decoded
		// length; x/net also compares a Huffman string's encoded length
		// with the bound, and bounds static table names and values (a
		// bound below 27 refuses "access-control-allow-origin"). Ours
		// succeeded, so every string it emitted is within the bound or
		// came from the static table.
		for _, f := range ours {
			for _, s := range []string{f.Name, f.Value} {
				if len(s) > maxString && !isStaticString(s) {
					return "", false
				}
			}
		}
		return "x/net bounds encoded Huffman lengths and static strings", true
	}
	return "", false
}

// isStaticString reports whether s is a name or value of RFC 7541
// Appendix A.
func isStaticString(s string) bool {
	for _, f := range staticTable {
		if s == f.Name || s == f.Value {
			return true
		}
	}
	return false
}

// FuzzDecode decodes up to three consecutive header blocks with our
// decoder and x/net's, and requires them to agree on each block's success
// and, on success, on the fields emitted.
func FuzzDecode(f *testing.F) {
	for _, series := range [][][]byte{c3Blocks, c4Blocks, c5Blocks, c6Blocks} {
		for sel := range byte(len(fuzzMaxStrings)) {
			f.Add(fuzzInput(sel, series...))
		}
	}
	// Encoder outputs: each field alone, then all of them in a third
	// block (which may be of any length).
	var all []byte
	for _, tt := range appendCases {
		b := AppendField(nil, tt.f)
		all = append(all, b...)
		if len(b) <= 255 {
			f.Add(fuzzInput(0, b, nil, all))
		}
	}
	for _, b := range [][]byte{
		hx("20 3f e1 1f 82"),          // two leading size updates
		hx("82 20"),                   // size update after a field
		hx("3f 80 80 80 80 80 00"),    // overlong integer
		hx("00 81 18 00"),             // bad Huffman padding
		hx("00 01 61 84 ff ff ff fc"), // Huffman EOS
		hx("40 01 61 01 62 be"),       // insert, then refer to it
		hx("ff"),                      // truncated integer
	} {
		f.Add(fuzzInput(0, b, c3Blocks[0], b))
	}
	// A table of 12 entries and references deep into it.
	insert, _ := deepInsert(12)
	var refer []byte
	for i := 62; i < 62+12; i++ {
		refer = append(refer, byte(0x80|i))
	}
	f.Add(fuzzInput(0, insert, refer, refer))
	f.Fuzz(func(t *testing.T, data []byte) {
		maxString, blocks, ok := splitFuzzInput(data)
		if !ok {
			return
		}
		od := NewDecoder(DefaultTableSize)
		od.MaxString = maxString
		xd := hpack.NewDecoder(DefaultTableSize, nil)
		xd.SetMaxStringLength(maxString)
		for i, b := range blocks {
			var ours []Field
			ourErr := od.Decode(b, func(f Field) { ours = append(ours, f) })
			theirs, xErr := xd.DecodeFull(b)
			if (ourErr == nil) != (xErr == nil) {
				if _, ok := allowedDifference(ourErr, xErr, ours, maxString); ok {
					return
				}
				t.Fatalf("block %d %x (MaxString %d): ours err %v, x/net err %v", i, b, maxString, ourErr, xErr)
			}
			if ourErr != nil {
				return // the tables are no longer defined
			}
			if maxString == 0 && i%2 == 0 {
				od.Pack() // an idle connection's table must decode the same
			}
			if len(ours) != len(theirs) {
				t.Fatalf("block %d %x: ours %d fields %+v, x/net %d fields %+v", i, b, len(ours), ours, len(theirs), theirs)
			}
			for j := range ours {
				o, x := ours[j], theirs[j]
				if o.Name != x.Name || o.Value != x.Value || o.Sensitive != x.Sensitive {
					t.Fatalf("block %d %x field %d: ours %+v, x/net %+v", i, b, j, o, x)
				}
				if maxString > 0 && (len(o.Name) > maxString || len(o.Value) > maxString) {
					t.Fatalf("block %d field %d %+v exceeds MaxString %d", i, j, o, maxString)
				}
			}
		}
	})
}

// TestAllowedDifferences pins each exception FuzzDecode allows to a block
// that shows it, so an exception that no longer happens (x/net or our
// decoder changed) is noticed and can be removed.
func TestAllowedDifferences(t *testing.T) {
	fiveNul := strings.Repeat("\x00", 5) // 9 bytes Huffman-coded
	tests := []struct {
		name      string
		maxString int
		blocks    [][]byte // all but the last decode the same on both
		oursOK    bool
	}{
		{"overlong integer", 0, [][]byte{hx("3f 80 80 80 80 80 00")}, false},
		{"mid-block size update, empty table", 0, [][]byte{hx("82 3f e1 1f")}, false},
		{"two leading size updates, table in use", 0, [][]byte{c3Blocks[0], hx("3f e0 1f 3f e1 1f")}, true},
		{"Huffman encoded over bound, decoded within", 5,
			[][]byte{append(append(hx("00 81 1f"), encInt(0x80, 7, hpack.HuffmanEncodeLength(fiveNul))...), hpack.AppendHuffmanString(nil, fiveNul)...)}, true},
		{"static name over bound", 4, [][]byte{hx("82")}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			od := NewDecoder(DefaultTableSize)
			od.MaxString = tt.maxString
			xd := hpack.NewDecoder(DefaultTableSize, nil)
			xd.SetMaxStringLength(tt.maxString)
			var ourErr, xErr error
			var ours []Field
			for i, b := range tt.blocks {
				ours = ours[:0]
				ourErr = od.Decode(b, func(f Field) { ours = append(ours, f) })
				_, xErr = xd.DecodeFull(b)
				if i < len(tt.blocks)-1 && (ourErr != nil || xErr != nil) {
					t.Fatalf("setup block %d: ours %v, x/net %v", i, ourErr, xErr)
				}
			}
			if (ourErr == nil) != tt.oursOK || (xErr == nil) == tt.oursOK {
				t.Fatalf("ours err %v, x/net err %v: not the expected disagreement", ourErr, xErr)
			}
			if why, ok := allowedDifference(ourErr, xErr, ours, tt.maxString); !ok {
				t.Fatalf("not allowed: ours %v, x/net %v", ourErr, xErr)
			} else {
				t.Log(why)
			}
		})
	}
}
