package http2

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"

	xhttp2 "golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// prefix is what every frame test appends to, so an Append function that
// drops or overwrites dst is caught.
var prefix = []byte("pre")

// readFrames parses buf (after prefix) with x/net's Framer, calling check
// for each frame while it is valid, and fails unless exactly want frames
// are read and buf ends with the last one.
func readFrames(t *testing.T, buf []byte, want int, meta bool, check func(i int, f xhttp2.Frame)) {
	t.Helper()
	if !bytes.HasPrefix(buf, prefix) {
		t.Fatalf("dst prefix lost: %q", buf[:min(len(buf), len(prefix))])
	}
	checkReserved(t, buf[len(prefix):])
	fr := xhttp2.NewFramer(nil, bytes.NewReader(buf[len(prefix):]))
	if meta {
		fr.ReadMetaHeaders = hpack.NewDecoder(DefaultTableSize, nil)
	}
	for i := range want {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		check(i, f)
	}
	if f, err := fr.ReadFrame(); !errors.Is(err, io.EOF) {
		t.Fatalf("after %d frames: %v, %v; want EOF", want, f, err)
	}
}

// checkReserved walks the frames in buf and fails if a reserved bit that
// RFC 9113 says MUST be unset on sending is set: the stream identifier's
// (§4.1), WINDOW_UPDATE's (§6.9) and GOAWAY's last stream's (§6.8).
// x/net's Framer ignores these bits on reading, so they are checked here.
func checkReserved(t *testing.T, buf []byte) {
	t.Helper()
	for len(buf) > 0 {
		if len(buf) < HeaderLen {
			t.Fatalf("%d bytes left, less than a frame header", len(buf))
		}
		n := int(buf[0])<<16 | int(buf[1])<<8 | int(buf[2])
		typ := buf[3]
		if buf[5]&0x80 != 0 {
			t.Fatalf("frame type %d: stream identifier's reserved bit set", typ)
		}
		p := buf[HeaderLen:]
		if len(p) < n {
			t.Fatalf("frame type %d: length %d, %d bytes left", typ, n, len(p))
		}
		if (typ == FrameWindowUpdate || typ == FrameGoAway) && n >= 4 && p[0]&0x80 != 0 {
			t.Fatalf("frame type %d: payload's reserved bit set", typ)
		}
		buf = p[n:]
	}
}

func checkHeader(t *testing.T, h xhttp2.FrameHeader, typ xhttp2.FrameType, flags xhttp2.Flags, stream uint32, length int) {
	t.Helper()
	if h.Type != typ || h.Flags != flags || h.StreamID != stream || h.Length != uint32(length) {
		t.Fatalf("header %v: want type %v flags %#x stream %d length %d", h, typ, flags, stream, length)
	}
}

func TestAppendData(t *testing.T) {
	tests := []struct {
		name      string
		stream    uint32
		end       bool
		data      []byte
		wantID    uint32
		wantFlags xhttp2.Flags
	}{
		{"no end", 1, false, []byte("hello"), 1, 0},
		{"end", 3, true, []byte("world"), 3, xhttp2.FlagDataEndStream},
		{"empty end", 5, true, nil, 5, xhttp2.FlagDataEndStream},
		{"empty no end", 7, false, []byte{}, 7, 0},
		{"max frame", 0x7fffffff, false, bytes.Repeat([]byte{0xa5}, 16384), 0x7fffffff, 0},
		{"reserved bit cleared", 0x80000009, false, []byte("x"), 9, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			buf := AppendData(bytes.Clone(prefix), tt.stream, tt.end, tt.data)
			readFrames(t, buf, 1, false, func(_ int, f xhttp2.Frame) {
				df, ok := f.(*xhttp2.DataFrame)
				if !ok {
					t.Fatalf("got %T", f)
				}
				checkHeader(t, df.Header(), xhttp2.FrameData, tt.wantFlags, tt.wantID, len(tt.data))
				if df.StreamEnded() != tt.end {
					t.Fatalf("StreamEnded %v, want %v", df.StreamEnded(), tt.end)
				}
				if !bytes.Equal(df.Data(), tt.data) {
					t.Fatalf("data %q, want %q", df.Data(), tt.data)
				}
			})
		})
	}
}

// respFields is a typical response head, with a sensitive cookie and a
// long value so small frame sizes need several CONTINUATION frames.
var respFields = []Field{
	{Name: ":status", Value: "200"},
	{Name: "content-type", Value: "text/html; charset=utf-8"},
	{Name: "content-length", Value: "1234"},
	{Name: "date", Value: "Mon, 21 Oct 2013 20:13:21 GMT"},
	{Name: "server", Value: "mosn"},
	{Name: "set-cookie", Value: "id=a3fWa; Max-Age=2592000", Sensitive: true},
	{Name: "x-long", Value: strings.Repeat("0123456789abcdef", 40)},
}

func encodeFields(fields []Field) []byte {
	var b []byte
	for _, f := range fields {
		b = AppendField(b, f)
	}
	return b
}

func TestAppendHeaders(t *testing.T) {
	block := encodeFields(respFields)
	tests := []struct {
		name     string
		stream   uint32
		end      bool
		block    []byte
		maxFrame int
	}{
		{"one frame", 1, false, block, 16384},
		{"one frame end stream", 3, true, block, 16384},
		{"exactly max frame", 5, false, block, len(block)},
		{"one byte over", 7, true, block, len(block) - 1},
		{"small frames", 9, true, block, 16},
		{"one-byte frames", 11, false, block, 1},
		{"empty block", 13, true, nil, 16},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			buf := AppendHeaders(bytes.Clone(prefix), tt.stream, tt.end, tt.block, tt.maxFrame)
			nframes := max(1, (len(tt.block)+tt.maxFrame-1)/tt.maxFrame)

			// Frame by frame: HEADERS then CONTINUATION, each at most
			// maxFrame, END_STREAM only on HEADERS, END_HEADERS only on
			// the last, fragments adding up to the block.
			var frags []byte
			readFrames(t, buf, nframes, false, func(i int, f xhttp2.Frame) {
				last := i == nframes-1
				var flags xhttp2.Flags
				if last {
					flags |= xhttp2.FlagHeadersEndHeaders
				}
				n := min(tt.maxFrame, len(tt.block)-i*tt.maxFrame)
				switch f := f.(type) {
				case *xhttp2.HeadersFrame:
					if i != 0 {
						t.Fatalf("HEADERS as frame %d", i)
					}
					if tt.end {
						flags |= xhttp2.FlagHeadersEndStream
					}
					checkHeader(t, f.Header(), xhttp2.FrameHeaders, flags, tt.stream, n)
					if f.StreamEnded() != tt.end || f.HeadersEnded() != last {
						t.Fatalf("StreamEnded %v HeadersEnded %v", f.StreamEnded(), f.HeadersEnded())
					}
					frags = append(frags, f.HeaderBlockFragment()...)
				case *xhttp2.ContinuationFrame:
					if i == 0 {
						t.Fatal("CONTINUATION first")
					}
					checkHeader(t, f.Header(), xhttp2.FrameContinuation, flags, tt.stream, n)
					frags = append(frags, f.HeaderBlockFragment()...)
				default:
					t.Fatalf("frame %d is %T", i, f)
				}
			})
			if !bytes.Equal(frags, tt.block) {
				t.Fatalf("fragments %x, want block %x", frags, tt.block)
			}

			// As a server reads it: one MetaHeadersFrame with the fields.
			readFrames(t, buf, 1, true, func(_ int, f xhttp2.Frame) {
				mh, ok := f.(*xhttp2.MetaHeadersFrame)
				if !ok {
					t.Fatalf("got %T", f)
				}
				if mh.StreamID != tt.stream || mh.StreamEnded() != tt.end {
					t.Fatalf("stream %d ended %v", mh.StreamID, mh.StreamEnded())
				}
				var want []hpack.HeaderField
				if tt.block != nil {
					for _, f := range respFields {
						want = append(want, hpack.HeaderField{Name: f.Name, Value: f.Value, Sensitive: f.Sensitive})
					}
				}
				if !reflect.DeepEqual(mh.Fields, want) && len(mh.Fields)+len(want) > 0 {
					t.Fatalf("fields\n got %+v\nwant %+v", mh.Fields, want)
				}
			})
		})
	}
}

func TestAppendSettings(t *testing.T) {
	tests := []struct {
		name string
		ack  bool
		s    []Setting
	}{
		{"ack", true, nil},
		{"empty", false, nil},
		{"server settings", false, []Setting{
			{ID: uint16(xhttp2.SettingMaxConcurrentStreams), Val: 100},
			{ID: uint16(xhttp2.SettingInitialWindowSize), Val: 1<<31 - 1},
			{ID: uint16(xhttp2.SettingMaxFrameSize), Val: 1<<24 - 1},
			{ID: uint16(xhttp2.SettingHeaderTableSize), Val: 0},
			{ID: uint16(xhttp2.SettingMaxHeaderListSize), Val: 0xffffffff},
			{ID: 0xabcd, Val: 0x01020304}, // unknown IDs are carried as is
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			buf := AppendSettings(bytes.Clone(prefix), tt.ack, tt.s...)
			readFrames(t, buf, 1, false, func(_ int, f xhttp2.Frame) {
				sf, ok := f.(*xhttp2.SettingsFrame)
				if !ok {
					t.Fatalf("got %T", f)
				}
				var flags xhttp2.Flags
				if tt.ack {
					flags = xhttp2.FlagSettingsAck
				}
				checkHeader(t, sf.Header(), xhttp2.FrameSettings, flags, 0, 6*len(tt.s))
				if sf.IsAck() != tt.ack || sf.NumSettings() != len(tt.s) {
					t.Fatalf("ack %v, %d settings", sf.IsAck(), sf.NumSettings())
				}
				for i, s := range tt.s {
					got := sf.Setting(i)
					if uint16(got.ID) != s.ID || got.Val != s.Val {
						t.Fatalf("setting %d: %v, want %+v", i, got, s)
					}
				}
			})
		})
	}
	// An ack ignores the settings passed with it (its payload must be
	// empty, RFC 9113 §6.5).
	buf := AppendSettings(bytes.Clone(prefix), true, Setting{ID: 1, Val: 2})
	readFrames(t, buf, 1, false, func(_ int, f xhttp2.Frame) {
		checkHeader(t, f.Header(), xhttp2.FrameSettings, xhttp2.FlagSettingsAck, 0, 0)
	})
}

func TestAppendWindowUpdate(t *testing.T) {
	tests := []struct {
		name         string
		stream, incr uint32
		wantIncr     uint32
	}{
		{"connection", 0, 65535, 65535},
		{"stream", 1, 1, 1},
		{"max", 0x7fffffff, 1<<31 - 1, 1<<31 - 1},
		{"reserved bit cleared", 3, 0x80000010, 0x10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			buf := AppendWindowUpdate(bytes.Clone(prefix), tt.stream, tt.incr)
			readFrames(t, buf, 1, false, func(_ int, f xhttp2.Frame) {
				wu, ok := f.(*xhttp2.WindowUpdateFrame)
				if !ok {
					t.Fatalf("got %T", f)
				}
				checkHeader(t, wu.Header(), xhttp2.FrameWindowUpdate, 0, tt.stream, 4)
				if wu.Increment != tt.wantIncr {
					t.Fatalf("increment %d, want %d", wu.Increment, tt.wantIncr)
				}
			})
		})
	}
}

func TestAppendRSTStream(t *testing.T) {
	tests := []struct {
		stream uint32
		code   xhttp2.ErrCode
	}{
		{1, xhttp2.ErrCodeNo},
		{3, xhttp2.ErrCodeProtocol},
		{5, xhttp2.ErrCodeRefusedStream},
		{7, xhttp2.ErrCodeCancel},
		{0x7fffffff, xhttp2.ErrCode(0xdeadbeef)}, // unknown codes are carried as is
	}
	for _, tt := range tests {
		t.Run(tt.code.String(), func(t *testing.T) {
			buf := AppendRSTStream(bytes.Clone(prefix), tt.stream, uint32(tt.code))
			readFrames(t, buf, 1, false, func(_ int, f xhttp2.Frame) {
				rf, ok := f.(*xhttp2.RSTStreamFrame)
				if !ok {
					t.Fatalf("got %T", f)
				}
				checkHeader(t, rf.Header(), xhttp2.FrameRSTStream, 0, tt.stream, 4)
				if rf.ErrCode != tt.code {
					t.Fatalf("code %v, want %v", rf.ErrCode, tt.code)
				}
			})
		})
	}
}

func TestAppendPing(t *testing.T) {
	tests := []struct {
		name string
		ack  bool
		data [8]byte
	}{
		{"ping", false, [8]byte{1, 2, 3, 4, 5, 6, 7, 8}},
		{"ack", true, [8]byte{0xff, 0, 0xff, 0, 0x80, 0x7f, 0, 1}},
		{"zero ack", true, [8]byte{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			buf := AppendPing(bytes.Clone(prefix), tt.ack, tt.data)
			readFrames(t, buf, 1, false, func(_ int, f xhttp2.Frame) {
				pf, ok := f.(*xhttp2.PingFrame)
				if !ok {
					t.Fatalf("got %T", f)
				}
				var flags xhttp2.Flags
				if tt.ack {
					flags = xhttp2.FlagPingAck
				}
				checkHeader(t, pf.Header(), xhttp2.FramePing, flags, 0, 8)
				if pf.IsAck() != tt.ack || pf.Data != tt.data {
					t.Fatalf("ack %v data %x", pf.IsAck(), pf.Data)
				}
			})
		})
	}
}

func TestAppendGoAway(t *testing.T) {
	tests := []struct {
		name       string
		lastStream uint32
		code       xhttp2.ErrCode
		debug      string
		wantLast   uint32
	}{
		{"graceful", 0x7fffffff, xhttp2.ErrCodeNo, "", 0x7fffffff},
		{"with debug data", 7, xhttp2.ErrCodeProtocol, "bad HEADERS on stream 9", 7},
		{"compression error", 0, xhttp2.ErrCodeCompression, "hpack: invalid table index", 0},
		{"reserved bit cleared", 0x80000005, xhttp2.ErrCodeEnhanceYourCalm, "\x00\xff", 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			buf := AppendGoAway(bytes.Clone(prefix), tt.lastStream, uint32(tt.code), tt.debug)
			readFrames(t, buf, 1, false, func(_ int, f xhttp2.Frame) {
				gf, ok := f.(*xhttp2.GoAwayFrame)
				if !ok {
					t.Fatalf("got %T", f)
				}
				checkHeader(t, gf.Header(), xhttp2.FrameGoAway, 0, 0, 8+len(tt.debug))
				if gf.LastStreamID != tt.wantLast || gf.ErrCode != tt.code || string(gf.DebugData()) != tt.debug {
					t.Fatalf("last %d code %v debug %q", gf.LastStreamID, gf.ErrCode, gf.DebugData())
				}
			})
		})
	}
}

// TestAppendFramesSequence writes a whole server turn into one buffer and
// reads it back in order, as a connection's write buffer would be.
func TestAppendFramesSequence(t *testing.T) {
	var buf []byte
	buf = append(buf, prefix...)
	buf = AppendSettings(buf, false, Setting{ID: uint16(xhttp2.SettingMaxConcurrentStreams), Val: 250})
	buf = AppendSettings(buf, true)
	buf = AppendHeaders(buf, 1, false, encodeFields(respFields), 100)
	buf = AppendData(buf, 1, true, []byte("body"))
	buf = AppendWindowUpdate(buf, 0, 1000)
	buf = AppendPing(buf, true, [8]byte{9})
	buf = AppendRSTStream(buf, 3, uint32(xhttp2.ErrCodeCancel))
	buf = AppendGoAway(buf, 3, 0, "bye")
	want := []string{"*http2.SettingsFrame", "*http2.SettingsFrame", "*http2.MetaHeadersFrame", "*http2.DataFrame",
		"*http2.WindowUpdateFrame", "*http2.PingFrame", "*http2.RSTStreamFrame", "*http2.GoAwayFrame"}
	readFrames(t, buf, len(want), true, func(i int, f xhttp2.Frame) {
		if got := reflect.TypeOf(f).String(); got != want[i] {
			t.Fatalf("frame %d is %s, want %s", i, got, want[i])
		}
	})
}
