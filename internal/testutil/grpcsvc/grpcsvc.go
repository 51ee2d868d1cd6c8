// Package grpcsvc is a hand-registered gRPC test service (no generated
// code) with a server on loopback port 0 and typed client calls. Messages
// are protobuf well-known wrappers, so the default "proto" codec carries
// them exactly as it would carry generated messages.
package grpcsvc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// ServiceName is the fully qualified name of the test service.
const ServiceName = "mosn.test.Echo"

// MaxMsgSize is the largest message, in bytes, the server sends or
// receives: 16 MiB, four times gRPC's default, so that a 4 MiB payload
// plus its framing fits.
const MaxMsgSize = 16 << 20

// Metadata keys the service reads and writes.
const (
	// ReqKey is request metadata that Unary copies into the response
	// header metadata under EchoKey.
	ReqKey = "x-req"
	// EchoKey is response header metadata holding the value of ReqKey.
	EchoKey = "x-echo"
	// DeadlineKey is response header metadata holding the call's time
	// left, in whole milliseconds, as Unary saw it from the grpc-timeout
	// request header, or "none" without a deadline.
	DeadlineKey = "x-deadline-ms"
	// BinKey is binary response header metadata (base64 on the wire).
	BinKey = "x-raw-bin"
	// TrailerKey is Unary's response trailer metadata: TrailerValue of
	// the request message.
	TrailerKey = "x-trailer"
)

// TrailerValue is what Unary sends under TrailerKey for the request msg:
// "t:" and msg quoted in ASCII, as metadata values must be printable ASCII.
func TrailerValue(msg string) string { return "t:" + strconv.QuoteToASCII(msg) }

// NotFoundPrefix makes Unary fail: a request "notfound:<msg>" answers
// codes.NotFound with message <msg>, trailer TrailerKey and one status
// detail (a StringValue holding <msg>).
const NotFoundPrefix = "notfound:"

// BinValue is the value Unary sends under BinKey; it holds bytes that
// are not valid in a plain header.
var BinValue = string([]byte{0, 1, 2, 0xfe, 0xff, '\r', '\n'})

// service is the handler type the ServiceDesc is registered with.
type service interface {
	unary(ctx context.Context, in *wrapperspb.StringValue) (*wrapperspb.StringValue, error)
}

// Server is a running gRPC server with the test service.
type Server struct {
	ln       net.Listener
	srv      *grpc.Server
	sleepEnd chan error
}

// Start serves the test service on 127.0.0.1:0 in plaintext HTTP/2 and
// stops it at test cleanup.
func Start(t testing.TB) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	s := &Server{
		ln:       ln,
		srv:      grpc.NewServer(grpc.MaxRecvMsgSize(MaxMsgSize), grpc.MaxSendMsgSize(MaxMsgSize)),
		sleepEnd: make(chan error, 16),
	}
	s.srv.RegisterService(&desc, s)
	go s.srv.Serve(ln)
	t.Cleanup(s.srv.Stop)
	return s
}

// Addr returns "127.0.0.1:port".
func (s *Server) Addr() string { return s.ln.Addr().String() }

// SleepEnded receives, for every Sleep call, the reason its handler
// returned: the context's error, or nil if it slept the full duration.
func (s *Server) SleepEnded() <-chan error { return s.sleepEnd }

var desc = grpc.ServiceDesc{
	ServiceName: ServiceName,
	HandlerType: (*service)(nil),
	Methods: []grpc.MethodDesc{
		{MethodName: "Unary", Handler: unaryHandler(func(s *Server, ctx context.Context, in *wrapperspb.StringValue) (any, error) {
			return s.unary(ctx, in)
		})},
		{MethodName: "Sleep", Handler: unaryHandler(func(s *Server, ctx context.Context, in *wrapperspb.StringValue) (any, error) {
			return s.sleep(ctx, in)
		})},
		{MethodName: "Big", Handler: bigHandler},
	},
	Streams: []grpc.StreamDesc{
		{StreamName: "ServerStream", Handler: serverStream, ServerStreams: true},
		{StreamName: "ClientStream", Handler: clientStream, ClientStreams: true},
		{StreamName: "Bidi", Handler: bidi, ServerStreams: true, ClientStreams: true},
	},
}

// Stream descriptors for the client side, in the order of desc.Streams.
var (
	serverStreamDesc = &desc.Streams[0]
	clientStreamDesc = &desc.Streams[1]
	bidiDesc         = &desc.Streams[2]
)

func method(name string) string { return "/" + ServiceName + "/" + name }

func unaryHandler(f func(*Server, context.Context, *wrapperspb.StringValue) (any, error)) grpc.MethodHandler {
	return func(srv any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
		in := new(wrapperspb.StringValue)
		if err := dec(in); err != nil {
			return nil, err
		}
		return f(srv.(*Server), ctx, in)
	}
}

func bigHandler(_ any, _ context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
	in := new(wrapperspb.BytesValue)
	if err := dec(in); err != nil {
		return nil, err
	}
	return in, nil
}

// unary echoes the message with header and trailer metadata, or fails
// with NotFound for NotFoundPrefix requests.
func (s *Server) unary(ctx context.Context, in *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	if err := grpc.SetTrailer(ctx, metadata.Pairs(TrailerKey, TrailerValue(in.Value))); err != nil {
		return nil, err
	}
	if msg, ok := strings.CutPrefix(in.Value, NotFoundPrefix); ok {
		st, err := status.New(codes.NotFound, msg).WithDetails(wrapperspb.String(msg))
		if err != nil {
			return nil, err
		}
		return nil, st.Err()
	}
	left := "none"
	if d, ok := ctx.Deadline(); ok {
		left = strconv.FormatInt(time.Until(d).Milliseconds(), 10)
	}
	h := metadata.Pairs(EchoKey, strings.Join(md.Get(ReqKey), ","), BinKey, BinValue, DeadlineKey, left)
	if err := grpc.SetHeader(ctx, h); err != nil {
		return nil, err
	}
	return wrapperspb.String("echo:" + in.Value), nil
}

// sleep waits for the duration in the request (time.ParseDuration) or
// until the call ends, and reports which came first on SleepEnded.
func (s *Server) sleep(ctx context.Context, in *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
	d, err := time.ParseDuration(in.Value)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		s.sleepEnd <- nil
		return wrapperspb.String("slept"), nil
	case <-ctx.Done():
		s.sleepEnd <- ctx.Err()
		return nil, status.FromContextError(ctx.Err()).Err()
	}
}

// serverStream answers a count n with n messages "msg-0".."msg-(n-1)".
func serverStream(_ any, stream grpc.ServerStream) error {
	in := new(wrapperspb.StringValue)
	if err := stream.RecvMsg(in); err != nil {
		return err
	}
	n, err := strconv.Atoi(in.Value)
	if err != nil {
		return status.Error(codes.InvalidArgument, err.Error())
	}
	for i := range n {
		if err := stream.SendMsg(wrapperspb.String(fmt.Sprintf("msg-%d", i))); err != nil {
			return err
		}
	}
	stream.SetTrailer(metadata.Pairs(TrailerKey, fmt.Sprintf("sent=%d", n)))
	return nil
}

// clientStream reads messages until the client closes its side and
// answers with Summary of them.
func clientStream(_ any, stream grpc.ServerStream) error {
	var msgs []string
	for {
		in := new(wrapperspb.StringValue)
		err := stream.RecvMsg(in)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		msgs = append(msgs, in.Value)
	}
	return stream.SendMsg(wrapperspb.String(Summary(msgs)))
}

// Summary is what ClientStream answers for msgs: their count and a
// digest that depends on every byte and on the order.
func Summary(msgs []string) string {
	// FNV-1a over the messages, each followed by a separator.
	h := uint64(14695981039346656037)
	for _, m := range msgs {
		for i := 0; i < len(m); i++ {
			h = (h ^ uint64(m[i])) * 1099511628211
		}
		h = (h ^ 0xff) * 1099511628211
	}
	return fmt.Sprintf("count=%d digest=%016x", len(msgs), h)
}

// Next is Bidi's answer to a request value v.
func Next(v uint64) uint64 { return v*6364136223846793005 + 1442695040888963407 }

// bidi answers each request (a decimal uint64) with Next of it, one
// message at a time, until the client closes its side.
func bidi(_ any, stream grpc.ServerStream) error {
	for {
		in := new(wrapperspb.StringValue)
		err := stream.RecvMsg(in)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		v, err := strconv.ParseUint(in.Value, 10, 64)
		if err != nil {
			return status.Error(codes.InvalidArgument, err.Error())
		}
		if err := stream.SendMsg(wrapperspb.String(strconv.FormatUint(Next(v), 10))); err != nil {
			return err
		}
	}
}

// Unary calls Unary with msg and returns the answer.
func Unary(ctx context.Context, cc grpc.ClientConnInterface, msg string, opts ...grpc.CallOption) (string, error) {
	out := new(wrapperspb.StringValue)
	if err := cc.Invoke(ctx, method("Unary"), wrapperspb.String(msg), out, opts...); err != nil {
		return "", err
	}
	return out.Value, nil
}

// Sleep calls Sleep for d.
func Sleep(ctx context.Context, cc grpc.ClientConnInterface, d time.Duration, opts ...grpc.CallOption) error {
	return cc.Invoke(ctx, method("Sleep"), wrapperspb.String(d.String()), new(wrapperspb.StringValue), opts...)
}

// Big sends b to Big and returns the echoed bytes.
func Big(ctx context.Context, cc grpc.ClientConnInterface, b []byte, opts ...grpc.CallOption) ([]byte, error) {
	out := new(wrapperspb.BytesValue)
	opts = append([]grpc.CallOption{grpc.MaxCallRecvMsgSize(MaxMsgSize), grpc.MaxCallSendMsgSize(MaxMsgSize)}, opts...)
	if err := cc.Invoke(ctx, method("Big"), wrapperspb.Bytes(b), out, opts...); err != nil {
		return nil, err
	}
	return out.Value, nil
}

// ServerStream asks for n messages and returns them with the stream's
// trailer metadata.
func ServerStream(ctx context.Context, cc grpc.ClientConnInterface, n int) ([]string, metadata.MD, error) {
	st, err := cc.NewStream(ctx, serverStreamDesc, method("ServerStream"))
	if err != nil {
		return nil, nil, err
	}
	if err := st.SendMsg(wrapperspb.String(strconv.Itoa(n))); err != nil {
		return nil, nil, err
	}
	if err := st.CloseSend(); err != nil {
		return nil, nil, err
	}
	var got []string
	for {
		m := new(wrapperspb.StringValue)
		err := st.RecvMsg(m)
		if errors.Is(err, io.EOF) {
			return got, st.Trailer(), nil
		}
		if err != nil {
			return got, st.Trailer(), err
		}
		got = append(got, m.Value)
	}
}

// ClientStream sends msgs and returns the server's summary.
func ClientStream(ctx context.Context, cc grpc.ClientConnInterface, msgs []string) (string, error) {
	st, err := cc.NewStream(ctx, clientStreamDesc, method("ClientStream"))
	if err != nil {
		return "", err
	}
	for _, m := range msgs {
		if err := st.SendMsg(wrapperspb.String(m)); err != nil {
			// The real error is the stream's status, read below.
			break
		}
	}
	if err := st.CloseSend(); err != nil {
		return "", err
	}
	out := new(wrapperspb.StringValue)
	if err := st.RecvMsg(out); err != nil {
		return "", err
	}
	return out.Value, nil
}

// BidiStream is an open Bidi call.
type BidiStream struct{ st grpc.ClientStream }

// Bidi opens a Bidi call.
func Bidi(ctx context.Context, cc grpc.ClientConnInterface) (*BidiStream, error) {
	st, err := cc.NewStream(ctx, bidiDesc, method("Bidi"))
	if err != nil {
		return nil, err
	}
	return &BidiStream{st: st}, nil
}

// Send sends v.
func (b *BidiStream) Send(v uint64) error {
	return b.st.SendMsg(wrapperspb.String(strconv.FormatUint(v, 10)))
}

// Recv receives one answer.
func (b *BidiStream) Recv() (uint64, error) {
	m := new(wrapperspb.StringValue)
	if err := b.st.RecvMsg(m); err != nil {
		return 0, err
	}
	return strconv.ParseUint(m.Value, 10, 64)
}

// Close closes the sending side and waits for the call's final status:
// nil when the server ended the call with OK and sent nothing more.
func (b *BidiStream) Close() error {
	if err := b.st.CloseSend(); err != nil {
		return err
	}
	m := new(wrapperspb.StringValue)
	err := b.st.RecvMsg(m)
	if errors.Is(err, io.EOF) {
		return nil
	}
	if err == nil {
		return fmt.Errorf("unexpected message %q after the last answer", m.Value)
	}
	return err
}
