package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"mosn.dev/proxy/internal/testutil/grpcsvc"
)

// grpcCallTimeout bounds every call that is expected to succeed; it is
// far above what any call needs, so it only turns a hang into a failure.
const grpcCallTimeout = 10 * time.Second

// grpcEnv is one client connection to the test service, directly or
// through mosn.
type grpcEnv struct {
	cc      *grpc.ClientConn
	srv     *grpcsvc.Server
	proxied bool
}

func (e *grpcEnv) ctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), grpcCallTimeout)
	t.Cleanup(cancel)
	return ctx
}

// TestGRPC runs grpc-go clients and servers through the proxy over h2c,
// with explicit Http2 and with Auto detection on both sides. The direct
// mode runs the same cases without the proxy, so a failure only in a
// proxied mode is the proxy's.
func TestGRPC(t *testing.T) {
	for _, mode := range []struct {
		name, down, up string
		proxied        bool
	}{
		{"direct", "", "", false},
		{"h2->h2", "Http2", "Http2", true},
		{"auto->auto", "Auto", "Auto", true},
	} {
		t.Run(mode.name, func(t *testing.T) {
			srv := grpcsvc.Start(t)
			target := srv.Addr()
			if mode.proxied {
				target = strings.TrimPrefix(startH2(t, mode.down, mode.up, srv.Addr()), "http://")
			}
			cc, err := grpc.NewClient("passthrough:///"+target, grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cc.Close() })
			env := &grpcEnv{cc: cc, srv: srv, proxied: mode.proxied}
			for _, c := range []struct {
				name string
				run  func(*testing.T, *grpcEnv)
			}{
				{"unary", grpcUnary},
				{"status-error", grpcStatusError},
				{"server-stream", grpcServerStream},
				{"client-stream", grpcClientStream},
				{"bidi-ping-pong", grpcBidi},
				{"large-4MiB", grpcLarge},
				{"concurrent-50", grpcConcurrent},
				{"deadline-exceeded", grpcDeadline},
			} {
				t.Run(c.name, func(t *testing.T) { c.run(t, env) })
			}
		})
	}
}

// grpcUnary checks the answer, request metadata (two values of one key),
// plain and binary header metadata, trailer metadata and, through the
// proxy, the route's response header.
func grpcUnary(t *testing.T, e *grpcEnv) {
	ctx := metadata.AppendToOutgoingContext(e.ctx(t), grpcsvc.ReqKey, "one", grpcsvc.ReqKey, "two; =:/")
	var hdr, tr metadata.MD
	got, err := grpcsvc.Unary(ctx, e.cc, "hello", grpc.Header(&hdr), grpc.Trailer(&tr))
	if err != nil {
		t.Fatal(err)
	}
	if got != "echo:hello" {
		t.Errorf("answer %q, want %q", got, "echo:hello")
	}
	checkMD(t, "header", hdr, grpcsvc.EchoKey, "one,two; =:/")
	checkMD(t, "header", hdr, grpcsvc.BinKey, grpcsvc.BinValue)
	checkMD(t, "trailer", tr, grpcsvc.TrailerKey, grpcsvc.TrailerValue("hello"))
	// The deadline reaches the server as grpc-timeout: some time left, and
	// never more than the client gave.
	if v := hdr.Get(grpcsvc.DeadlineKey); len(v) != 1 {
		t.Errorf("header %s = %q, want one value", grpcsvc.DeadlineKey, v)
	} else if ms, err := strconv.ParseInt(v[0], 10, 64); err != nil || ms <= 0 || ms > grpcCallTimeout.Milliseconds() {
		t.Errorf("server saw %q ms left, want 1..%d", v[0], grpcCallTimeout.Milliseconds())
	}
	if e.proxied {
		checkMD(t, "header", hdr, "x-proxy", "mosn")
	}
}

func checkMD(t *testing.T, what string, md metadata.MD, key, want string) {
	t.Helper()
	if v := md.Get(key); len(v) != 1 || v[0] != want {
		t.Errorf("%s %s = %q, want [%q] (all: %v)", what, key, v, want, md)
	}
}

// grpcStatusError checks that a non-OK status (a trailers-only response:
// one HEADERS frame with END_STREAM) arrives with its code, a message that
// needs percent-encoding, a binary status detail and trailer metadata.
// The call is repeated because a proxy that splits the frame into headers
// and an empty body (the client then reports Internal "server closed the
// stream without sending trailers") may do so only some of the time.
func grpcStatusError(t *testing.T, e *grpcEnv) {
	const msg = "key «ключ» not found: 100% sure\n(second line)"
	const calls = 100
	bad := 0
	for i := range calls {
		if err := checkNotFound(e.ctx(t), e.cc, msg); err != nil {
			if bad == 0 {
				t.Errorf("call %d: %v", i, err)
			}
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d calls lost the status", bad, calls)
	}
	// The connection still serves calls after error statuses.
	if got, err := grpcsvc.Unary(e.ctx(t), e.cc, "after"); err != nil || got != "echo:after" {
		t.Errorf("call after the errors: %q, %v", got, err)
	}
}

func checkNotFound(ctx context.Context, cc grpc.ClientConnInterface, msg string) error {
	var tr metadata.MD
	_, err := grpcsvc.Unary(ctx, cc, grpcsvc.NotFoundPrefix+msg, grpc.Trailer(&tr))
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.NotFound || st.Message() != msg {
		return fmt.Errorf("error %v, want code NotFound message %q", err, msg)
	}
	det := st.Details()
	if len(det) != 1 {
		return fmt.Errorf("details %v, want one", det)
	}
	if sv, ok := det[0].(*wrapperspb.StringValue); !ok || !proto.Equal(sv, wrapperspb.String(msg)) {
		return fmt.Errorf("detail %v, want StringValue %q", det[0], msg)
	}
	if want := grpcsvc.TrailerValue(grpcsvc.NotFoundPrefix + msg); !equalMD(tr, grpcsvc.TrailerKey, want) {
		return fmt.Errorf("trailer %v, want %s=%q", tr, grpcsvc.TrailerKey, want)
	}
	return nil
}

// grpcServerStream receives 100 messages in order and the trailer that
// follows them.
func grpcServerStream(t *testing.T, e *grpcEnv) {
	const n = 100
	got, tr, err := grpcsvc.ServerStream(e.ctx(t), e.cc, n)
	if err != nil {
		t.Fatalf("after %d messages: %v", len(got), err)
	}
	if len(got) != n {
		t.Fatalf("%d messages, want %d", len(got), n)
	}
	for i, m := range got {
		if want := fmt.Sprintf("msg-%d", i); m != want {
			t.Fatalf("message %d = %q, want %q", i, m, want)
		}
	}
	checkMD(t, "trailer", tr, grpcsvc.TrailerKey, fmt.Sprintf("sent=%d", n))
}

// grpcClientStream sends 100 messages of different sizes; the server's
// summary covers every byte and the order of what it received.
func grpcClientStream(t *testing.T, e *grpcEnv) {
	msgs := make([]string, 100)
	for i := range msgs {
		msgs[i] = fmt.Sprintf("m%d:%s", i, strings.Repeat(string(rune('a'+i%26)), i*37))
	}
	got, err := grpcsvc.ClientStream(e.ctx(t), e.cc, msgs)
	if err != nil {
		t.Fatal(err)
	}
	if want := grpcsvc.Summary(msgs); got != want {
		t.Fatalf("summary %q, want %q", got, want)
	}
}

// grpcBidi sends each request only after the answer to the previous one
// arrived, and derives it from that answer: the exchange can only finish
// if the proxy forwards both directions of one stream as they flow.
func grpcBidi(t *testing.T, e *grpcEnv) {
	st, err := grpcsvc.Bidi(e.ctx(t), e.cc)
	if err != nil {
		t.Fatal(err)
	}
	v := uint64(42)
	for i := range 100 {
		if err := st.Send(v); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		got, err := st.Recv()
		if err != nil {
			t.Fatalf("receive %d: %v", i, err)
		}
		if want := grpcsvc.Next(v); got != want {
			t.Fatalf("answer %d = %d, want %d", i, got, want)
		}
		v = got ^ uint64(i)
	}
	if err := st.Close(); err != nil {
		t.Fatalf("end of call: %v", err)
	}
}

// grpcLarge echoes a 4 MiB message, far larger than the HTTP/2 flow
// control windows, so both directions need many window updates.
func grpcLarge(t *testing.T, e *grpcEnv) {
	b := make([]byte, 4<<20)
	rand.NewChaCha8([32]byte{7}).Read(b)
	got, err := grpcsvc.Big(e.ctx(t), e.cc, b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, b) {
		i := 0
		for i < len(got) && i < len(b) && got[i] == b[i] {
			i++
		}
		t.Fatalf("echo of %d bytes came back as %d bytes, first difference at %d", len(b), len(got), i)
	}
}

// grpcConcurrent runs 50 unary calls at once over the one client
// connection; each answer and header must belong to its own call.
func grpcConcurrent(t *testing.T, e *grpcEnv) {
	const n = 50
	ctx := e.ctx(t)
	errc := make(chan error, n)
	for i := range n {
		go func() {
			ctx := metadata.AppendToOutgoingContext(ctx, grpcsvc.ReqKey, fmt.Sprintf("r%d", i))
			var hdr, tr metadata.MD
			msg := fmt.Sprintf("c%d", i)
			got, err := grpcsvc.Unary(ctx, e.cc, msg, grpc.Header(&hdr), grpc.Trailer(&tr))
			switch {
			case err != nil:
				errc <- fmt.Errorf("call %d: %w", i, err)
			case got != "echo:"+msg:
				errc <- fmt.Errorf("call %d answered %q", i, got)
			case !equalMD(hdr, grpcsvc.EchoKey, fmt.Sprintf("r%d", i)):
				errc <- fmt.Errorf("call %d header %v", i, hdr)
			case !equalMD(tr, grpcsvc.TrailerKey, grpcsvc.TrailerValue(msg)):
				errc <- fmt.Errorf("call %d trailer %v", i, tr)
			default:
				errc <- nil
			}
		}()
	}
	for range n {
		if err := <-errc; err != nil {
			t.Error(err)
		}
	}
}

func equalMD(md metadata.MD, key, want string) bool {
	v := md.Get(key)
	return len(v) == 1 && v[0] == want
}

// grpcDeadline lets the client's deadline expire while the server is
// still working: the client gets DeadlineExceeded, the server's call is
// cancelled by the stream reset the proxy must pass on, and the next call
// succeeds.
//
// The client's context claims a deadline an hour away, so the server is
// told grpc-timeout=1h and never ends the call itself. With the true
// deadline the server would reset its stream at the same instant as the
// client gives up, and which of the two the client noticed first would be
// down to scheduling (the proxy answers an upstream reset with 502).
func grpcDeadline(t *testing.T, e *grpcEnv) {
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err := grpcsvc.Sleep(farDeadline{ctx, time.Now().Add(time.Hour)}, e.cc, time.Hour)
	if status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("error %v, want code DeadlineExceeded", err)
	}
	select {
	case err := <-e.srv.SleepEnded():
		if !errors.Is(err, context.Canceled) {
			t.Errorf("server call ended with %v, want context.Canceled from the client's reset", err)
		}
	case <-time.After(grpcCallTimeout):
		t.Errorf("server call still running %s after the client gave up", grpcCallTimeout)
	}
	if got, err := grpcsvc.Unary(e.ctx(t), e.cc, "next"); err != nil || got != "echo:next" {
		t.Errorf("call after the deadline: %q, %v", got, err)
	}
}

// farDeadline is a context that ends when its parent does but reports
// deadline as its own, which grpc-go sends as grpc-timeout.
type farDeadline struct {
	context.Context
	deadline time.Time
}

func (c farDeadline) Deadline() (time.Time, bool) { return c.deadline, true }
