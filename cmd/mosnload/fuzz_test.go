package main

import (
	"encoding/binary"
	"net"
	"strings"
	"testing"
	"time"

	"mosn.dev/proxy/codec/bolt"
	"mosn.dev/proxy/codec/dubbo"
)

func FuzzParseTarget(f *testing.F) {
	for _, s := range [][2]string{
		{"sofarpc://127.0.0.1:12200", ""}, {"http://h/x?y", "h2c"}, {"h:1", "dubbo"}, {"dubbo://[::1]", ""},
		{"http://", ""}, {"bolt://h:1/p", "bolt"}, {"://", "http1"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, target, proto string) {
		addr, _, path, p, err := parseTarget(target, proto)
		if err != nil {
			return
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			t.Errorf("parseTarget(%q, %q) gave address %q: %v", target, proto, addr, err)
		}
		if !strings.HasPrefix(path, "/") && path != "*" {
			t.Errorf("parseTarget(%q, %q) gave path %q", target, proto, path)
		}
		if _, err := normProto(p); err != nil || p == "" {
			t.Errorf("parseTarget(%q, %q) gave protocol %q", target, proto, p)
		}
	})
}

func FuzzParseDurations(f *testing.F) {
	for _, s := range []string{"10", "0.5", "500ms", "0-5ms", "1ms-2ms", "-", "1e300", "NaN", "5-"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if d, err := parseSeconds(s); err == nil && d < 0 {
			t.Errorf("parseSeconds(%q) = %v", s, d)
		}
		if lo, hi, err := parseDelayRange(s); err == nil && (lo < 0 || hi < lo) {
			t.Errorf("parseDelayRange(%q) = %v, %v", s, lo, hi)
		}
	})
}

// FuzzCodecs feeds arbitrary bytes to the client and server codecs, frame
// after frame, as a connection would.
func FuzzCodecs(f *testing.F) {
	echo := bolt.EchoRequest()
	bolt.SetRequestID(echo, 3)
	f.Add(echo)
	f.Add(bolt.AppendHeartbeat(nil, bolt.ProtoV2, 1))
	f.Add(bolt.AppendErrorResponse(nil, bolt.Frame{Proto: bolt.ProtoV1, RequestID: 2}, bolt.StatusTimeout))
	f.Add(dubboEchoRequest())
	f.Add(dubbo.AppendHeartbeat(nil, 7))
	f.Add(dubbo.AppendResponse(nil, 1, dubbo.StatusOK, []byte{0x91, 0x01, 'x'}))
	f.Add([]byte{0xda, 0xbb, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 'N', 'N'})
	f.Fuzz(func(t *testing.T, data []byte) {
		servers := []srvCodec{&boltServerCodec{}, &dubboServerCodec{}, &boltServerCodec{status: forcedStatus{4, true}}}
		for _, c := range servers {
			for b := data; len(b) > 0; {
				_, n, err := c.parse(b)
				if err != nil || n == 0 {
					break
				}
				if n > len(b) {
					t.Fatalf("%T consumed %d of %d bytes", c, n, len(b))
				}
				b = b[n:]
			}
		}
		bc, err := newBoltCodec(2)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []rpcCodec{bc, &dubboCodec{}} {
			for b := data; len(b) > 0; {
				fr, n, err := c.parse(b)
				if err != nil || n == 0 {
					break
				}
				if n > len(b) || fr.data > n {
					t.Fatalf("%T: frame of %d bytes with %d data bytes, from %d", c, n, fr.data, len(b))
				}
				b = b[n:]
			}
		}
	})
}

func FuzzHistogram(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8})
	f.Add(binary.BigEndian.AppendUint64(nil, 1<<62))
	f.Fuzz(func(t *testing.T, data []byte) {
		h := newHistogram()
		for len(data) >= 8 {
			h.record(time.Duration(binary.BigEndian.Uint64(data)))
			data = data[8:]
		}
		if h.count() == 0 {
			return
		}
		prev := time.Duration(-1)
		for _, p := range []float64{0.001, 1, 25, 50, 90, 99, 99.99, 100} {
			v := h.percentile(p)
			if v < prev || v < h.minimum() || v > h.maximum() {
				t.Fatalf("p%v = %v after %v; min %v max %v", p, v, prev, h.minimum(), h.maximum())
			}
			prev = v
		}
		if w := h.withinSD(); w < 0 || w > 100 {
			t.Fatalf("within sd %v%%", w)
		}
	})
}
