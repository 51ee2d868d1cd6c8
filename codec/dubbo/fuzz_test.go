package dubbo

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"mosn.dev/proxy/codec/hessian"
)

func FuzzDubboParse(f *testing.F) {
	f.Add(javaStyleRequest(1))
	f.Add(typicalRequest())
	f.Add(AppendHeartbeat(nil, 2))
	f.Add(AppendHeartbeatReply(nil, 2))
	f.Add(AppendResponse(nil, 3, StatusOK, []byte{0x91, 0x05, 'h', 'e', 'l', 'l', 'o'}))
	f.Add(append(AppendHeartbeat(nil, 4), typicalRequest()[:20]...))
	f.Add([]byte{0xda, 0xbb, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 3, 0x01, '2', 'Q'})
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
		if n < HeaderLen || n > len(data) || len(fr.Raw) != n || &fr.Raw[0] != &data[0] || len(fr.Body) != n-HeaderLen {
			t.Fatalf("n=%d, len(Raw)=%d, len(data)=%d", n, len(fr.Raw), len(data))
		}
		if _, _, err := Parse(data[:n-1]); err != ErrNeedMore {
			t.Fatalf("prefix: %v", err)
		}
		raw := bytes.Clone(fr.Raw)
		SetID(raw, fr.ID)
		if !bytes.Equal(raw, fr.Raw) {
			t.Fatal("SetID with the same id changed the frame")
		}
		SetID(raw, ^fr.ID)
		g, _, err := Parse(raw)
		if err != nil || g.ID != ^fr.ID {
			t.Fatalf("after SetID: %v", err)
		}
		g.ID, g.Raw, g.Body = fr.ID, fr.Raw, fr.Body
		if !reflect.DeepEqual(g, fr) {
			t.Fatal("fields other than the id changed")
		}
		// Decoding the invocation never panics; a success survives a
		// rebuild with the same meta.
		m, err := fr.Service()
		if err != nil {
			return
		}
		if m.Group != "" && !hasPair(m.Attachments, "group", m.Group) {
			t.Fatalf("group %q not among attachments", m.Group)
		}
		rebuilt := AppendRequest(nil, fr.ID, m, "", nil)
		rf, _, err := Parse(rebuilt)
		if err != nil {
			t.Fatal(err)
		}
		m2, err := rf.Service()
		if err != nil || !reflect.DeepEqual(m, m2) {
			t.Fatalf("rebuilt meta %+v, %v; want %+v", m2, err, m)
		}
		r := hessian.NewReader(rf.Body)
		for r.Len() > 0 {
			if err := r.Skip(); err != nil {
				t.Fatalf("rebuilt body: %v", err)
			}
		}
	})
}

func hasPair(pairs [][2]string, k, v string) bool {
	for _, p := range pairs {
		if p[0] == k && p[1] == v {
			return true
		}
	}
	return false
}
