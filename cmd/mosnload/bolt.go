package main

import (
	"errors"
	"fmt"
	"io"

	"mosn.dev/proxy/codec/bolt"
)

// boltCodec is the client side of sofarpc: it sends sofaload's echo
// request with a per-connection request id.
type boltCodec struct {
	tmpl []byte
}

// newBoltCodec builds the request template: bolt.EchoRequest as is for
// version 1, the same request in a v2 frame for version 2.
func newBoltCodec(version int) (*boltCodec, error) {
	req := bolt.EchoRequest()
	if version != 2 {
		return &boltCodec{tmpl: req}, nil
	}
	f, _, err := bolt.Parse(req)
	if err != nil {
		return nil, fmt.Errorf("bolt echo request: %w", err)
	}
	var pairs [][2]string
	f.RangeHeaders(func(k, v []byte) bool {
		pairs = append(pairs, [2]string{string(k), string(v)})
		return true
	})
	v2 := bolt.AppendRequest(nil, bolt.Request{
		Proto:   bolt.ProtoV2,
		Ver1:    bolt.DefaultVer1,
		CmdCode: f.CmdCode,
		Ver2:    f.Ver2,
		Codec:   f.Codec,
		Timeout: f.Timeout,
		Class:   string(f.Class),
		Headers: pairs,
		Content: f.Content,
	})
	return &boltCodec{tmpl: v2}, nil
}

func (b *boltCodec) appendRequest(dst []byte, id uint64) []byte {
	n := len(dst)
	dst = append(dst, b.tmpl...)
	bolt.SetRequestID(dst[n:], uint32(id))
	return dst
}

// nextID counts from 1 and wraps at 2^32, skipping 0.
func (b *boltCodec) nextID(id uint64) uint64 {
	id = uint64(uint32(id + 1))
	if id == 0 {
		id = 1
	}
	return id
}

func (b *boltCodec) parse(data []byte) (rpcFrame, int, error) {
	f, n, err := bolt.Parse(data)
	if errors.Is(err, bolt.ErrNeedMore) {
		return rpcFrame{}, 0, nil
	}
	if err != nil {
		return rpcFrame{}, 0, err
	}
	rf := rpcFrame{id: uint64(f.RequestID), status: int(f.Status),
		data: len(f.Class) + len(f.HeaderBytes) + len(f.Content)}
	switch {
	case f.CmdCode == bolt.CmdHeartbeat && f.IsRequest():
		rf.kind = framePing
		rf.reply = bolt.AppendHeartbeatAck(nil, f.Proto, f.RequestID)
	case f.CmdCode == bolt.CmdResponse && f.Type == bolt.TypeResponse:
		rf.kind = frameResponse
	}
	return rf, n, nil
}

// boltServerCodec answers bolt requests: an echo of the content with status
// SUCCESS and class SofaResponse in the request's protocol version, or an
// empty response with the forced status.
type boltServerCodec struct {
	status  forcedStatus
	scratch []byte
}

func (b *boltServerCodec) parse(data []byte) (srvFrame, int, error) {
	f, n, err := bolt.Parse(data)
	if errors.Is(err, bolt.ErrNeedMore) {
		return srvFrame{}, 0, nil
	}
	if err != nil {
		return srvFrame{}, 0, err
	}
	switch {
	case f.CmdCode == bolt.CmdHeartbeat && f.IsRequest():
		b.scratch = bolt.AppendHeartbeatAck(b.scratch[:0], f.Proto, f.RequestID)
		return srvFrame{reply: b.scratch}, n, nil
	case f.CmdCode == bolt.CmdHeartbeat:
		return srvFrame{ack: true}, n, nil
	case !f.IsRequest():
		return srvFrame{}, n, nil
	case f.Oneway():
		return srvFrame{request: true, id: uint64(f.RequestID)}, n, nil
	case b.status.forced && b.status.code != int(bolt.StatusSuccess):
		b.scratch = bolt.AppendErrorResponse(b.scratch[:0], f, uint16(b.status.code))
	default:
		b.scratch = bolt.AppendResponse(b.scratch[:0], bolt.Response{
			Proto:     f.Proto,
			Ver1:      f.Ver1,
			Switch:    f.Switch,
			CmdCode:   bolt.CmdResponse,
			Ver2:      f.Ver2,
			RequestID: f.RequestID,
			Codec:     f.Codec,
			Status:    bolt.StatusSuccess,
			Class:     bolt.ClassResponse,
			Content:   f.Content,
		})
	}
	return srvFrame{reply: b.scratch, request: true, id: uint64(f.RequestID)}, n, nil
}

func (b *boltServerCodec) appendHeartbeat(dst []byte, id uint64) []byte {
	return bolt.AppendHeartbeat(dst, bolt.ProtoV1, uint32(id))
}

// boltStatusName returns the sofa-bolt name of a status ("" when unknown).
func boltStatusName(s uint16) string { return bolt.StatusName(s) }

// boltStatusLines is the layout of sofaload's status block: the code and
// label of each count, four to a line.
var boltStatusLines = [][]struct {
	code  uint16
	label string
}{
	{{bolt.StatusSuccess, "success"}, {bolt.StatusError, "error"}, {bolt.StatusServerException, "server exception"}, {bolt.StatusUnknown, "unknown"}},
	{{bolt.StatusServerThreadpoolBusy, "server threadpool busy"}, {bolt.StatusErrorComm, "error comm"}, {bolt.StatusNoProcessor, "no processor"}, {bolt.StatusTimeout, "timeout"}},
	{{bolt.StatusClientSendError, "client send error"}, {bolt.StatusCodecException, "codec exception"}, {bolt.StatusConnectionClosed, "connection closed"}, {bolt.StatusServerSerialException, "server serial exception"}},
	{{bolt.StatusServerDeserialException, "server deserial exception"}},
}

// printBoltStatus prints the "sofaRPC status codes:" block as sofaload
// does, plus a line for codes outside the sofa-bolt list when there are
// any.
func printBoltStatus(w io.Writer, counts []int64) {
	fmt.Fprintln(w, "sofaRPC status codes: ")
	known := make(map[int]bool)
	for _, line := range boltStatusLines {
		fmt.Fprint(w, "\t")
		for i, e := range line {
			if i > 0 {
				fmt.Fprint(w, ", ")
			}
			fmt.Fprintf(w, "%d %s", counts[e.code], e.label)
			known[int(e.code)] = true
		}
		fmt.Fprintln(w)
	}
	printOtherStatus(w, counts, known)
}

// printOtherStatus prints the counts of codes not in known, if any.
func printOtherStatus(w io.Writer, counts []int64, known map[int]bool) {
	var other int64
	for c, n := range counts {
		if !known[c] {
			other += n
		}
	}
	if other > 0 {
		fmt.Fprintf(w, "\t%d other\n", other)
	}
}

func boltSpec(o *options) (*protoSpec, error) {
	codec, err := newBoltCodec(o.boltProto)
	if err != nil {
		return nil, err
	}
	return &protoSpec{
		label: protoSofaRPC,
		newTransport: func(cl *client) transport {
			return newRPCConn(cl, codec, o.addr, o.timeout)
		},
		success:     func(s int) bool { return s == int(bolt.StatusSuccess) },
		printStatus: printBoltStatus,
	}, nil
}
