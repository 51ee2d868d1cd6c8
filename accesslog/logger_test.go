package accesslog

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// waitTimeout bounds waits for the background goroutine; reaching it is a
// failure, not a timing assertion.
const waitTimeout = 10 * time.Second

func mustCompile(t testing.TB, format string) *Format {
	t.Helper()
	f, err := Compile(format)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	if s == "" {
		return nil
	}
	if !strings.HasSuffix(s, "\n") {
		t.Fatalf("%s does not end with a newline", path)
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

func TestLoggerWritesAllLinesAndCloseFlushes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "logs", "access.log")
	l, err := Open(path, mustCompile(t, "%stream_id% %protocol% %response_code%"))
	if err != nil {
		t.Fatal(err)
	}
	const n = 1000
	for i := range n {
		l.Log(&Info{StreamID: uint64(i + 1), Protocol: "Http1", ResponseCode: 200})
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	got := readLines(t, path)
	if len(got) != n {
		t.Fatalf("%d lines, want %d", len(got), n)
	}
	for i, ln := range got {
		if want := fmt.Sprintf("%d Http1 200", i+1); ln != want {
			t.Fatalf("line %d = %q, want %q", i, ln, want)
		}
	}
	if l.Dropped() != 0 {
		t.Errorf("Dropped() = %d", l.Dropped())
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if extra := fi.Mode().Perm() &^ 0o644; extra != 0 {
		t.Errorf("file mode %v has bits beyond 0644", fi.Mode().Perm())
	}
}

func TestLoggerFlush(t *testing.T) {
	path := filepath.Join(t.TempDir(), "access.log")
	l, err := Open(path, mustCompile(t, "%protocol%"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	l.Log(&Info{Protocol: "bolt"})
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := readLines(t, path); len(got) != 1 || got[0] != "bolt" {
		t.Fatalf("after Flush: %q", got)
	}
}

func TestNilFormatIsDefault(t *testing.T) {
	l, err := Open(filepath.Join(t.TempDir(), "a.log"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	if l.Format().String() != DefaultFormat {
		t.Errorf("Format() = %q", l.Format().String())
	}
}

// notifyWriter reports each Write on a channel and can hold writes until
// released.
type notifyWriter struct {
	mu      sync.Mutex
	data    []byte
	writes  chan int
	release chan struct{} // nil: never block
	err     error
}

func (w *notifyWriter) Write(p []byte) (int, error) {
	if w.release != nil {
		w.writes <- len(p) // the write has started
		<-w.release
	}
	w.mu.Lock()
	err := w.err
	if err == nil {
		w.data = append(w.data, p...)
	}
	w.mu.Unlock()
	if w.release == nil {
		select { // the write is done
		case w.writes <- len(p):
		default:
		}
	}
	if err != nil {
		return 0, err
	}
	return len(p), nil
}

func (w *notifyWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return string(w.data)
}

func startTestLogger(t *testing.T, f *Format, out io.Writer, setup func(w *writer)) *Logger {
	t.Helper()
	w := newWriterTo("test", out)
	if setup != nil {
		setup(w)
	}
	w.refs = 1
	go w.run()
	l := &Logger{f: f, w: w}
	t.Cleanup(func() { l.Close() })
	return l
}

func TestBackgroundFlushWithoutClose(t *testing.T) {
	out := &notifyWriter{writes: make(chan int, 16)}
	l := startTestLogger(t, mustCompile(t, "%protocol%"), out, nil)
	l.Log(&Info{Protocol: "Http2"})
	select {
	case <-out.writes:
	case <-time.After(waitTimeout):
		t.Fatal("background goroutine never wrote the entry")
	}
	if got := out.String(); got != "Http2\n" {
		t.Fatalf("written %q", got)
	}
}

func TestFlushBytesTriggersWrite(t *testing.T) {
	out := &notifyWriter{writes: make(chan int, 16)}
	l := startTestLogger(t, mustCompile(t, "%trace_id%"), out, func(w *writer) {
		w.interval = time.Hour // only the size trigger can cause a write
		w.flushBytes = 1000
	})
	id := strings.Repeat("a", 99) // 100 bytes a line
	for range 9 {
		l.Log(&Info{TraceID: id})
	}
	select {
	case n := <-out.writes:
		t.Fatalf("wrote %d bytes before reaching flushBytes", n)
	default:
	}
	l.Log(&Info{TraceID: id})
	select {
	case n := <-out.writes:
		if n != 1000 {
			t.Fatalf("wrote %d bytes, want 1000", n)
		}
	case <-time.After(waitTimeout):
		t.Fatal("reaching flushBytes did not trigger a write")
	}
}

func TestSlowOutputDropsAndCounts(t *testing.T) {
	out := &notifyWriter{writes: make(chan int, 1), release: make(chan struct{})}
	l := startTestLogger(t, mustCompile(t, "%trace_id%"), out, func(w *writer) {
		w.interval = time.Hour
		w.flushBytes = 100
		w.maxPending = 1000
	})
	id := strings.Repeat("x", 49) // 50 bytes a line
	l.Log(&Info{TraceID: id})
	l.Log(&Info{TraceID: id}) // reaches flushBytes: the goroutine takes 100 bytes and blocks
	select {
	case <-out.writes:
	case <-time.After(waitTimeout):
		t.Fatal("no write started")
	}
	// The output is stuck: 20 lines fit in maxPending, the rest are dropped,
	// and Log keeps returning.
	const more = 50
	for range more {
		l.Log(&Info{TraceID: id})
	}
	if got, want := l.Dropped(), uint64(more-20); got != want {
		t.Fatalf("Dropped() = %d, want %d", got, want)
	}
	close(out.release)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Count(out.String(), "\n"), 2+20; got != want {
		t.Fatalf("%d lines written, want %d", got, want)
	}
}

func TestWriteErrorCountsDropped(t *testing.T) {
	out := &notifyWriter{writes: make(chan int, 16), err: errors.New("disk full")}
	l := startTestLogger(t, mustCompile(t, "%protocol%"), out, func(w *writer) { w.interval = time.Hour })
	for range 3 {
		l.Log(&Info{Protocol: "Http1"})
	}
	if err := l.Flush(); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("Flush() = %v, want the write error", err)
	}
	if l.Dropped() != 3 {
		t.Fatalf("Dropped() = %d, want 3", l.Dropped())
	}
}

func TestConcurrentLogSharedWriter(t *testing.T) {
	var ws Writers
	t.Cleanup(func() { ws.CloseAll() })
	path := filepath.Join(t.TempDir(), "shared.log")
	a, err := ws.Open(path, mustCompile(t, "A %connection_id% %stream_id%"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := ws.Open(path, mustCompile(t, "B %connection_id% %stream_id%"))
	if err != nil {
		t.Fatal(err)
	}
	const goroutines, per = 8, 500
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			l := a
			if g%2 == 1 {
				l = b
			}
			for i := range per {
				l.Log(&Info{ConnectionID: uint64(g + 1), StreamID: uint64(i + 1)})
			}
		})
	}
	wg.Go(func() {
		for range 20 {
			_ = a.Flush()
			_ = ws.ReopenAll() // no rename: reopens the same file under load
		}
	})
	wg.Wait()
	if err := ws.CloseAll(); err != nil {
		t.Fatal(err)
	}
	got := readLines(t, path)
	if len(got) != goroutines*per {
		t.Fatalf("%d lines, want %d", len(got), goroutines*per)
	}
	seen := make(map[string]bool, len(got))
	for _, ln := range got {
		var tag string
		var g, i int
		if _, err := fmt.Sscanf(ln, "%s %d %d", &tag, &g, &i); err != nil {
			t.Fatalf("malformed line %q: %v", ln, err)
		}
		if want := map[bool]string{true: "B", false: "A"}[(g-1)%2 == 1]; tag != want || seen[ln] {
			t.Fatalf("bad or duplicate line %q", ln)
		}
		seen[ln] = true
	}
}

func TestWritersShareAndRefcount(t *testing.T) {
	var ws Writers
	t.Cleanup(func() { ws.CloseAll() })
	dir := t.TempDir()
	path := filepath.Join(dir, "a.log")
	f := mustCompile(t, "%protocol%")
	l1, err := ws.Open(path, f)
	if err != nil {
		t.Fatal(err)
	}
	l2, err := ws.Open(filepath.Join(dir, "x", "..", "a.log"), f)
	if err != nil {
		t.Fatal(err)
	}
	l3, err := ws.Open(filepath.Join(dir, "b.log"), f)
	if err != nil {
		t.Fatal(err)
	}
	if l1.w != l2.w {
		t.Error("same file, different writers")
	}
	if l1.w == l3.w {
		t.Error("different files share a writer")
	}
	if p := ws.Paths(); len(p) != 2 {
		t.Errorf("Paths() = %q", p)
	}

	if err := l1.Close(); err != nil {
		t.Fatal(err)
	}
	l2.Log(&Info{Protocol: "still-open"})
	if err := l2.Flush(); err != nil {
		t.Fatalf("shared writer closed with a logger left: %v", err)
	}
	if got := readLines(t, path); len(got) != 1 || got[0] != "still-open" {
		t.Fatalf("file = %q", got)
	}
	if err := l2.Close(); err != nil {
		t.Fatal(err)
	}
	if p := ws.Paths(); len(p) != 1 || p[0] != filepath.Join(dir, "b.log") {
		t.Errorf("after closing both loggers of a.log, Paths() = %q", p)
	}
	l4, err := ws.Open(path, f)
	if err != nil {
		t.Fatal(err)
	}
	if l4.w == l1.w {
		t.Error("Open after the last Close reused the closed writer")
	}
}

func TestStdStreamsShareByAlias(t *testing.T) {
	ws := NewWriters()
	t.Cleanup(func() { ws.CloseAll() })
	for _, pair := range [][2]string{{"stdout", "/dev/stdout"}, {"stderr", "/dev/stderr"}, {"", "stderr"}} {
		a, err := ws.Open(pair[0], nil)
		if err != nil {
			t.Fatal(err)
		}
		b, err := ws.Open(pair[1], nil)
		if err != nil {
			t.Fatal(err)
		}
		if a.w != b.w {
			t.Errorf("%q and %q do not share a writer", pair[0], pair[1])
		}
		if err := a.Reopen(); err != nil {
			t.Errorf("Reopen on %q = %v", pair[0], err)
		}
	}
	l, err := Open("stdout", nil)
	if err != nil {
		t.Fatal(err)
	}
	if l.w.out != os.Stdout || l.w.file != nil {
		t.Error("stdout logger does not write to os.Stdout")
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stdout.Stat(); err != nil {
		t.Fatalf("Close closed stdout: %v", err)
	}
}

func TestReopenAfterRename(t *testing.T) {
	var ws Writers
	t.Cleanup(func() { ws.CloseAll() })
	path := filepath.Join(t.TempDir(), "access.log")
	l, err := ws.Open(path, mustCompile(t, "%trace_id%"))
	if err != nil {
		t.Fatal(err)
	}
	l.Log(&Info{TraceID: "before"})
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	l.Log(&Info{TraceID: "logged-before-reopen"})
	if err := ws.ReopenAll(); err != nil {
		t.Fatal(err)
	}
	l.Log(&Info{TraceID: "after"})
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if got := readLines(t, path+".1"); strings.Join(got, ",") != "before,logged-before-reopen" {
		t.Errorf("rotated file = %q", got)
	}
	if got := readLines(t, path); strings.Join(got, ",") != "after" {
		t.Errorf("new file = %q", got)
	}
}

func TestDisableEnable(t *testing.T) {
	var ws Writers
	t.Cleanup(func() { ws.CloseAll() })
	path := filepath.Join(t.TempDir(), "a.log")
	l, err := ws.Open(path, mustCompile(t, "%trace_id%"))
	if err != nil {
		t.Fatal(err)
	}
	if err := ws.Disable(path); err != nil {
		t.Fatal(err)
	}
	l.Log(&Info{TraceID: "ignored"})
	if err := ws.Enable(path); err != nil {
		t.Fatal(err)
	}
	l.Log(&Info{TraceID: "kept"})
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if got := readLines(t, path); strings.Join(got, ",") != "kept" {
		t.Errorf("file = %q", got)
	}
	if ws.Disable("/no/such/log") == nil || ws.Enable("/no/such/log") == nil {
		t.Error("Disable/Enable of an unknown path succeeded")
	}
}

func TestClosedLogger(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.log")
	l, err := Open(path, mustCompile(t, "%trace_id%"))
	if err != nil {
		t.Fatal(err)
	}
	l.Log(&Info{TraceID: "one"})
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
	l.Log(&Info{TraceID: "two"})
	if err := l.Flush(); !errors.Is(err, ErrClosed) {
		t.Errorf("Flush after Close = %v", err)
	}
	if err := l.Reopen(); !errors.Is(err, ErrClosed) {
		t.Errorf("Reopen after Close = %v", err)
	}
	if got := readLines(t, path); strings.Join(got, ",") != "one" {
		t.Errorf("file = %q", got)
	}
}

func TestCloseAllThenLoggerClose(t *testing.T) {
	var ws Writers
	path := filepath.Join(t.TempDir(), "a.log")
	l, err := ws.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ws.CloseAll(); err != nil {
		t.Fatal(err)
	}
	l.Log(filledInfo()) // ignored, must not panic
	if err := l.Close(); err != nil {
		t.Fatalf("Close after CloseAll = %v", err)
	}
	if len(ws.Paths()) != 0 {
		t.Errorf("Paths() = %q", ws.Paths())
	}
}

func TestOpenError(t *testing.T) {
	blocker := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(blocker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(filepath.Join(blocker, "a.log"), nil); err == nil {
		t.Error("Open under a regular file succeeded")
	}
	var ws Writers
	if _, err := ws.Open(filepath.Join(blocker, "a.log"), nil); err == nil {
		t.Error("Writers.Open under a regular file succeeded")
	}
}

func BenchmarkLog(b *testing.B) {
	w := newWriterTo("bench", io.Discard)
	go w.run()
	l := &Logger{f: mustCompile(b, ""), w: w}
	b.Cleanup(func() { l.Close() })
	info := filledInfo()
	b.ReportAllocs()
	for b.Loop() {
		l.Log(info)
	}
	b.ReportMetric(float64(l.Dropped())/float64(b.N), "dropped/op")
}

func BenchmarkLogParallel(b *testing.B) {
	w := newWriterTo("bench", io.Discard)
	go w.run()
	l := &Logger{f: mustCompile(b, ""), w: w}
	b.Cleanup(func() { l.Close() })
	info := filledInfo()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			l.Log(info)
		}
	})
	b.ReportMetric(float64(l.Dropped())/float64(b.N), "dropped/op")
}
