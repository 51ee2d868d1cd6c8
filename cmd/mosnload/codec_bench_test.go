package main

import (
	"testing"

	"mosn.dev/proxy/codec/bolt"
)

// BenchmarkBoltClientCodec is the client's per-request work: encoding a
// request and parsing its response.
func BenchmarkBoltClientCodec(b *testing.B) {
	c, err := newBoltCodec(1)
	if err != nil {
		b.Fatal(err)
	}
	srv := &boltServerCodec{}
	req := c.appendRequest(nil, 1)
	f, _, err := srv.parse(req)
	if err != nil {
		b.Fatal(err)
	}
	resp := append([]byte(nil), f.reply...)
	buf := make([]byte, 0, 2*bolt.EchoRequestLen)
	b.ReportAllocs()
	b.SetBytes(int64(len(req) + len(resp)))
	var id uint64
	for b.Loop() {
		id = c.nextID(id)
		buf = c.appendRequest(buf[:0], id)
		if fr, n, err := c.parse(resp); err != nil || n != len(resp) || fr.kind != frameResponse {
			b.Fatal(fr, n, err)
		}
	}
}

// BenchmarkServerCodecs is the echo server's per-request work.
func BenchmarkServerCodecs(b *testing.B) {
	boltReq := bolt.EchoRequest()
	dubboReq := dubboEchoRequest()
	for _, tc := range []struct {
		name  string
		codec srvCodec
		req   []byte
	}{
		{"bolt", &boltServerCodec{}, boltReq},
		{"dubbo", &dubboServerCodec{}, dubboReq},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(tc.req)))
			for b.Loop() {
				f, n, err := tc.codec.parse(tc.req)
				if err != nil || n != len(tc.req) || f.reply == nil {
					b.Fatal(f, n, err)
				}
			}
		})
	}
}
