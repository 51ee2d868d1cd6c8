//go:build linux

package proxy

import (
	"bytes"
	"syscall"
	"testing"

	"mosn.dev/proxy/codec/bolt"
	"mosn.dev/proxy/codec/dubbo"
)

// socketPair returns the two descriptors of a connected unix stream pair.
func socketPair(t *testing.T) (a, b int) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fds[0]); syscall.Close(fds[1]) })
	return fds[0], fds[1]
}

// TestFastHeartbeat: heartbeats read from a parked connection's bare
// descriptor are answered on it; anything else is kept for the ordinary
// path, byte for byte.
func TestFastHeartbeat(t *testing.T) {
	boltReq := bolt.EchoRequest()
	dubboReq := dubbo.AppendRequest(nil, 9, dubbo.Meta{DubboVersion: "2.0.2", Service: "com.foo.A", Method: "echo"}, "", nil)
	tests := []struct {
		name    string
		codec   rpcCodec
		in      []byte
		handled bool
		reply   []byte
	}{
		{"bolt v1 heartbeat", boltCodec{}, bolt.AppendHeartbeat(nil, bolt.ProtoV1, 7),
			true, bolt.AppendHeartbeatAck(nil, bolt.ProtoV1, 7)},
		{"two bolt heartbeats", boltCodec{},
			bolt.AppendHeartbeat(bolt.AppendHeartbeat(nil, bolt.ProtoV1, 1), bolt.ProtoV1, 2),
			true, bolt.AppendHeartbeatAck(bolt.AppendHeartbeatAck(nil, bolt.ProtoV1, 1), bolt.ProtoV1, 2)},
		{"dubbo heartbeat", dubboCodec{}, dubbo.AppendHeartbeat(nil, 5),
			true, dubbo.AppendHeartbeatReply(nil, 5)},
		{"bolt request", boltCodec{}, boltReq, false, nil},
		{"heartbeat then request", boltCodec{}, append(bolt.AppendHeartbeat(nil, bolt.ProtoV1, 3), boltReq[:40]...), false, nil},
		{"partial heartbeat", boltCodec{}, bolt.AppendHeartbeat(nil, bolt.ProtoV1, 4)[:10], false, nil},
		{"dubbo request", dubboCodec{}, dubboReq, false, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ours, peer := socketPair(t)
			if _, err := syscall.Write(peer, tc.in); err != nil {
				t.Fatal(err)
			}
			d := &rpcDown{codec: tc.codec}
			if got := d.fastHeartbeat(ours); got != tc.handled {
				t.Fatalf("handled %v, want %v", got, tc.handled)
			}
			if tc.handled {
				buf := make([]byte, 256)
				n, err := syscall.Read(peer, buf)
				if err != nil || !bytes.Equal(buf[:n], tc.reply) {
					t.Fatalf("reply % x, %v; want % x", buf[:n], err, tc.reply)
				}
				if len(d.pre) != 0 {
					t.Fatalf("kept %d bytes after a handled heartbeat", len(d.pre))
				}
				return
			}
			// What was read must reach the ordinary path unchanged (up to
			// the fast path's read size).
			want := tc.in
			if len(want) > 256 {
				want = want[:256]
			}
			if !bytes.Equal(d.pre, want) || d.broken {
				t.Fatalf("kept % x (broken %v), want % x", d.pre, d.broken, want)
			}
		})
	}
	// EOF: nothing kept, not handled.
	ours, peer := socketPair(t)
	syscall.Close(peer)
	d := &rpcDown{codec: boltCodec{}}
	if d.fastHeartbeat(ours) || len(d.pre) != 0 {
		t.Fatal("EOF handled or kept")
	}
}
