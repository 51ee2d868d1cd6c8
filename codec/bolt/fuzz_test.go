package bolt

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

func FuzzBoltParse(f *testing.F) {
	for _, s := range sampleFrames() {
		f.Add(s.raw)
		f.Add(s.raw[:len(s.raw)/2])
	}
	f.Add(EchoRequest())
	f.Add(append(AppendHeartbeat(nil, ProtoV1, 1), AppendHeartbeat(nil, ProtoV2, 2)...))
	f.Add([]byte{0x02, 0x02, 0x01, 0x00, 0x01, 0x01, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{0x01, 0x01, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		orig := bytes.Clone(data)
		fr, n, err := Parse(data)
		if !bytes.Equal(data, orig) {
			t.Fatal("Parse modified its input")
		}
		if err != nil {
			if n != 0 || (err != ErrNeedMore && !errors.Is(err, ErrInvalid)) {
				t.Fatalf("error %v with n=%d", err, n)
			}
			return
		}
		if n < ResponseHeaderLenV1 || n > len(data) || len(fr.Raw) != n || &fr.Raw[0] != &data[0] {
			t.Fatalf("n=%d, len(Raw)=%d, len(data)=%d", n, len(fr.Raw), len(data))
		}
		// The same frame parses alone, and every prefix asks for more.
		alone, n2, err := Parse(data[:n])
		if err != nil || n2 != n || !reflect.DeepEqual(alone, fr) {
			t.Fatalf("frame alone: %v", err)
		}
		if _, _, err := Parse(data[:n-1]); err != ErrNeedMore {
			t.Fatalf("prefix: %v", err)
		}
		// Header access never fails on an accepted frame.
		m, err := fr.DecodeHeaders()
		if err != nil {
			t.Fatalf("DecodeHeaders: %v", err)
		}
		fr.RangeHeaders(func(k, v []byte) bool {
			if got, ok := fr.Header(string(k)); !ok || (m[string(k)] == "" && len(got) != 0) {
				t.Fatalf("Header(%q) = %q, %v", k, got, ok)
			}
			return true
		})
		// Rewriting the id keeps the bytes; a new id changes only the id.
		raw := bytes.Clone(fr.Raw)
		SetRequestID(raw, fr.RequestID)
		if !bytes.Equal(raw, fr.Raw) {
			t.Fatal("SetRequestID with the same id changed the frame")
		}
		SetRequestID(raw, fr.RequestID+1)
		g, _, err := Parse(raw)
		if err != nil || g.RequestID != fr.RequestID+1 {
			t.Fatalf("after SetRequestID: %v, id %d", err, g.RequestID)
		}
		g.RequestID--
		g.Raw, g.Class, g.HeaderBytes, g.Content = fr.Raw, fr.Class, fr.HeaderBytes, fr.Content
		if !reflect.DeepEqual(g, fr) {
			t.Fatalf("fields other than the id changed: %+v vs %+v", g, fr)
		}
		// Rebuilding from the parsed fields yields the same bytes when the
		// header map round-trips (no nulls or duplicates).
		if fr.IsRequest() || fr.Type == TypeResponse {
			rebuilt := rebuild(fr)
			if rebuilt != nil && !bytes.Equal(rebuilt, fr.Raw) {
				t.Fatalf("rebuilt % x\n  raw % x", rebuilt, fr.Raw)
			}
		}
	})
}

// rebuild re-encodes f with the builders, or returns nil when its header map
// does not survive a decode (null entries or repeated keys).
func rebuild(f Frame) []byte {
	var pairs [][2]string
	f.RangeHeaders(func(k, v []byte) bool {
		pairs = append(pairs, [2]string{string(k), string(v)})
		return true
	})
	if !bytes.Equal(AppendHeaderMap(nil, pairs), f.HeaderBytes) {
		return nil
	}
	if f.Type == TypeResponse {
		return AppendResponse(nil, Response{Proto: f.Proto, Ver1: f.Ver1, Switch: f.Switch, CmdCode: f.CmdCode, Ver2: f.Ver2,
			RequestID: f.RequestID, Codec: f.Codec, Status: f.Status, Class: string(f.Class), Headers: pairs, Content: f.Content})
	}
	return AppendRequest(nil, Request{Proto: f.Proto, Ver1: f.Ver1, Switch: f.Switch, Oneway: f.Oneway(), CmdCode: f.CmdCode,
		Ver2: f.Ver2, RequestID: f.RequestID, Codec: f.Codec, Timeout: f.Timeout, Class: string(f.Class), Headers: pairs, Content: f.Content})
}
