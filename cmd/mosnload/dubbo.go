package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"mosn.dev/proxy/codec/dubbo"
	"mosn.dev/proxy/codec/hessian"
)

// The dubbo echo request: service, method and a 1 KiB string argument.
const (
	dubboService = "com.alipay.test.TestService"
	dubboMethod  = "echoStr"
	dubboArgLen  = 1024
)

// dubboEchoRequest returns the hessian2 request the dubbo client sends, with
// id 0.
func dubboEchoRequest() []byte {
	arg := strings.Repeat("1234567890", dubboArgLen/10+1)[:dubboArgLen]
	return dubbo.AppendRequest(nil, 0, dubbo.Meta{
		DubboVersion: "2.0.2",
		Service:      dubboService,
		Method:       dubboMethod,
		Attachments: [][2]string{
			{"path", dubboService},
			{"interface", dubboService},
		},
	}, "Ljava/lang/String;", [][]byte{hessian.AppendString(nil, arg)})
}

// dubboCodec is the client side of dubbo.
type dubboCodec struct {
	tmpl []byte
}

func (d *dubboCodec) appendRequest(dst []byte, id uint64) []byte {
	n := len(dst)
	dst = append(dst, d.tmpl...)
	dubbo.SetID(dst[n:], id)
	return dst
}

// nextID counts from 1, skipping 0 when the 64-bit space wraps.
func (d *dubboCodec) nextID(id uint64) uint64 {
	id++
	if id == 0 {
		id = 1
	}
	return id
}

func (d *dubboCodec) parse(data []byte) (rpcFrame, int, error) {
	f, n, err := dubbo.Parse(data)
	if errors.Is(err, dubbo.ErrNeedMore) {
		return rpcFrame{}, 0, nil
	}
	if err != nil {
		return rpcFrame{}, 0, err
	}
	rf := rpcFrame{id: f.ID, status: int(f.Status), data: len(f.Body)}
	switch {
	case f.IsEvent && f.IsRequest:
		if f.TwoWay {
			rf.kind = framePing
			rf.reply = dubbo.AppendHeartbeatReply(nil, f.ID)
		}
	case !f.IsEvent && !f.IsRequest:
		rf.kind = frameResponse
	}
	return rf, n, nil
}

// dubboServerCodec answers dubbo requests with status OK and a body of
// response type VALUE followed by the first argument as received (null
// response type without arguments), or with the forced status and a
// message.
type dubboServerCodec struct {
	status  forcedStatus
	r       hessian.Reader
	body    []byte
	scratch []byte
}

func (d *dubboServerCodec) parse(data []byte) (srvFrame, int, error) {
	f, n, err := dubbo.Parse(data)
	if errors.Is(err, dubbo.ErrNeedMore) {
		return srvFrame{}, 0, nil
	}
	if err != nil {
		return srvFrame{}, 0, err
	}
	switch {
	case f.IsEvent && f.IsRequest:
		if !f.TwoWay {
			return srvFrame{}, n, nil
		}
		d.scratch = dubbo.AppendHeartbeatReply(d.scratch[:0], f.ID)
		return srvFrame{reply: d.scratch}, n, nil
	case f.IsEvent:
		return srvFrame{ack: true}, n, nil
	case !f.IsRequest:
		return srvFrame{}, n, nil
	case !f.TwoWay:
		return srvFrame{request: true, id: f.ID}, n, nil
	case d.status.forced && d.status.code != int(dubbo.StatusOK):
		d.scratch = dubbo.AppendErrorResponse(d.scratch[:0], f, byte(d.status.code), "mosnload: forced status")
	default:
		body, err := d.echoBody(&f)
		if err != nil {
			d.scratch = dubbo.AppendErrorResponse(d.scratch[:0], f, dubbo.StatusBadRequest, err.Error())
		} else {
			d.scratch = dubbo.AppendResponse(d.scratch[:0], f.ID, dubbo.StatusOK, body)
		}
	}
	return srvFrame{reply: d.scratch, request: true, id: f.ID}, n, nil
}

// echoBody builds the body of the answer to a hessian2 invocation.
func (d *dubboServerCodec) echoBody(f *dubbo.Frame) ([]byte, error) {
	if f.Serialization != dubbo.SerializationHessian2 {
		return nil, dubbo.ErrSerialization
	}
	r := &d.r
	r.Reset(f.Body)
	for range 4 { // dubbo version, service, version, method
		if err := r.Skip(); err != nil {
			return nil, err
		}
	}
	desc, _, err := r.ReadStringBytes()
	if err != nil {
		return nil, err
	}
	nargs, err := dubbo.CountArgs(desc)
	if err != nil {
		return nil, err
	}
	if nargs == 0 {
		return hessian.AppendInt(d.body[:0], dubbo.ResponseNullValue), nil
	}
	start := r.Offset()
	if err := r.Skip(); err != nil {
		return nil, err
	}
	d.body = hessian.AppendInt(d.body[:0], dubbo.ResponseValue)
	d.body = append(d.body, f.Body[start:r.Offset()]...)
	return d.body, nil
}

func (d *dubboServerCodec) appendHeartbeat(dst []byte, id uint64) []byte {
	return dubbo.AppendHeartbeat(dst, id)
}

// dubboStatusName returns the dubbo name of a status ("" when unknown).
func dubboStatusName(s byte) string { return dubbo.StatusName(s) }

// dubboStatusLines is the layout of the dubbo status block, in the style of
// sofaload's.
var dubboStatusLines = [][]struct {
	code  byte
	label string
}{
	{{dubbo.StatusOK, "ok"}, {dubbo.StatusClientTimeout, "client timeout"}, {dubbo.StatusServerTimeout, "server timeout"}, {dubbo.StatusBadRequest, "bad request"}},
	{{dubbo.StatusBadResponse, "bad response"}, {dubbo.StatusServiceNotFound, "service not found"}, {dubbo.StatusServiceError, "service error"}, {dubbo.StatusServerError, "server error"}},
	{{dubbo.StatusClientError, "client error"}, {dubbo.StatusServerThreadpoolExhausted, "server threadpool exhausted"}},
}

// printDubboStatus prints the "dubbo status codes:" block.
func printDubboStatus(w io.Writer, counts []int64) {
	fmt.Fprintln(w, "dubbo status codes: ")
	known := make(map[int]bool)
	for _, line := range dubboStatusLines {
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

func dubboSpec(o *options) *protoSpec {
	codec := &dubboCodec{tmpl: dubboEchoRequest()}
	return &protoSpec{
		label: protoDubbo,
		newTransport: func(cl *client) transport {
			return newRPCConn(cl, codec, o.addr, o.timeout)
		},
		success:     func(s int) bool { return s == int(dubbo.StatusOK) },
		printStatus: printDubboStatus,
	}
}
