package log

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// lineRE is the MOSN error-log line: local time with comma milliseconds,
// level tag, message.
var lineRE = regexp.MustCompile(`^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}),(\d{3}) \[(FATAL|ERROR|WARN|INFO|DEBUG|TRACE)\] (.*)$`)

func lines(t *testing.T, s string) []string {
	t.Helper()
	if s == "" {
		return nil
	}
	if !strings.HasSuffix(s, "\n") {
		t.Fatalf("output does not end with a newline: %q", s)
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

func TestLineFormat(t *testing.T) {
	var buf bytes.Buffer
	l := New(&buf)
	before := time.Now().Truncate(time.Millisecond)
	l.Infof("[admin store] [start service] start service %s on %s", "Mosn Admin Server", "[::]:34901")
	l.Errorf("[mosn] [NewMosn] getInheritListeners failed, exit\n") // trailing newline not doubled
	after := time.Now()

	got := lines(t, buf.String())
	if len(got) != 2 {
		t.Fatalf("got %d lines, want 2: %q", len(got), buf.String())
	}
	wants := []struct{ level, msg string }{
		{"INFO", "[admin store] [start service] start service Mosn Admin Server on [::]:34901"},
		{"ERROR", "[mosn] [NewMosn] getInheritListeners failed, exit"},
	}
	for i, w := range wants {
		m := lineRE.FindStringSubmatch(got[i])
		if m == nil {
			t.Fatalf("line %d %q does not match %s", i, got[i], lineRE)
		}
		if m[3] != w.level || m[4] != w.msg {
			t.Errorf("line %d: level %q msg %q, want %q %q", i, m[3], m[4], w.level, w.msg)
		}
		ts, err := time.ParseInLocation("2006-01-02 15:04:05.000", m[1]+"."+m[2], time.Local)
		if err != nil {
			t.Fatalf("line %d: timestamp: %v", i, err)
		}
		if ts.Before(before) || ts.After(after) {
			t.Errorf("line %d: timestamp %v outside [%v, %v]", i, ts, before, after)
		}
	}
}

func TestAppendTimeMillisecondsPadded(t *testing.T) {
	l := New(io.Discard)
	cases := []struct {
		ns   int
		want string
	}{
		{0, "2022-11-30 10:18:43,000 "},
		{31 * int(time.Millisecond), "2022-11-30 10:18:43,031 "},
		{248*int(time.Millisecond) + 999, "2022-11-30 10:18:43,248 "},
		{999999999, "2022-11-30 10:18:43,999 "},
	}
	for _, c := range cases {
		ts := time.Date(2022, 11, 30, 10, 18, 43, c.ns, time.Local)
		if got := string(l.appendTime(nil, ts)); got != c.want {
			t.Errorf("appendTime(%v) = %q, want %q", ts, got, c.want)
		}
	}
	// The cached second must be replaced when the second changes.
	ts := time.Date(2022, 11, 30, 10, 18, 44, 5*int(time.Millisecond), time.Local)
	if got, want := string(l.appendTime(nil, ts)), "2022-11-30 10:18:44,005 "; got != want {
		t.Errorf("after second change: %q, want %q", got, want)
	}
}

func TestLevelFiltering(t *testing.T) {
	all := []Level{FATAL, ERROR, WARN, INFO, DEBUG, TRACE}
	for _, lvl := range all {
		t.Run(lvl.String(), func(t *testing.T) {
			var buf bytes.Buffer
			l := New(&buf)
			l.SetLevel(lvl)
			l.Fatalf("m")
			l.Errorf("m")
			l.Warnf("m")
			l.Infof("m")
			l.Debugf("m")
			l.Tracef("m")
			var tags []string
			for _, ln := range lines(t, buf.String()) {
				m := lineRE.FindStringSubmatch(ln)
				if m == nil {
					t.Fatalf("bad line %q", ln)
				}
				tags = append(tags, m[3])
			}
			var want []string
			for _, w := range all {
				if w <= lvl {
					want = append(want, w.String())
				}
				if got := l.Enabled(w); got != (w <= lvl) {
					t.Errorf("Enabled(%v) = %v at level %v", w, got, lvl)
				}
			}
			if strings.Join(tags, ",") != strings.Join(want, ",") {
				t.Errorf("written levels %v, want %v", tags, want)
			}
		})
	}
}

func TestDefaultLevelIsInfo(t *testing.T) {
	l := New(io.Discard)
	if l.Level() != INFO || !l.Enabled(INFO) || l.Enabled(DEBUG) {
		t.Fatalf("new logger: level %v, Enabled(INFO)=%v Enabled(DEBUG)=%v", l.Level(), l.Enabled(INFO), l.Enabled(DEBUG))
	}
}

func TestDisableEnable(t *testing.T) {
	var buf bytes.Buffer
	l := New(&buf)
	l.SetLevel(DEBUG)
	l.Disable()
	if !l.Disabled() || l.Enabled(FATAL) {
		t.Fatalf("disabled logger: Disabled=%v Enabled(FATAL)=%v", l.Disabled(), l.Enabled(FATAL))
	}
	l.Fatalf("dropped")
	l.SetLevel(TRACE) // level changes while disabled are kept for Enable
	if l.Level() != TRACE || l.Enabled(ERROR) {
		t.Fatalf("SetLevel while disabled: Level=%v Enabled(ERROR)=%v", l.Level(), l.Enabled(ERROR))
	}
	l.Enable()
	l.Tracef("kept")
	got := lines(t, buf.String())
	if len(got) != 1 || !strings.HasSuffix(got[0], "[TRACE] kept") {
		t.Fatalf("got %q, want one TRACE line", got)
	}
}

func TestFatalfReturns(t *testing.T) {
	var buf bytes.Buffer
	l := New(&buf)
	l.Fatalf("[mosn] fatal %d", 1)
	l.Infof("after")
	got := lines(t, buf.String())
	if len(got) != 2 || !strings.HasSuffix(got[0], "[FATAL] [mosn] fatal 1") {
		t.Fatalf("got %q", got)
	}
}

func TestNop(t *testing.T) {
	l := Nop()
	for _, lvl := range []Level{FATAL, ERROR, WARN, INFO, DEBUG, TRACE} {
		if l.Enabled(lvl) {
			t.Errorf("Nop().Enabled(%v) = true", lvl)
		}
	}
	l.Errorf("x") // must not panic
	if err := l.Reopen(); err != nil {
		t.Errorf("Nop().Reopen() = %v", err)
	}
}

func TestParseLevel(t *testing.T) {
	cases := []struct {
		in   string
		want Level
		ok   bool
	}{
		{"FATAL", FATAL, true},
		{"error", ERROR, true},
		{"Warn", WARN, true},
		{"warning", WARN, true},
		{" INFO ", INFO, true},
		{"debug", DEBUG, true},
		{"TrAcE", TRACE, true},
		{"", 0, false},
		{"RAW", 0, false},
		{"INF", 0, false},
		{"3", 0, false},
	}
	for _, c := range cases {
		got, err := ParseLevel(c.in)
		if (err == nil) != c.ok || (c.ok && got != c.want) {
			t.Errorf("ParseLevel(%q) = %v, %v; want %v ok=%v", c.in, got, err, c.want, c.ok)
		}
	}
}

func TestLevelString(t *testing.T) {
	want := map[Level]string{FATAL: "FATAL", ERROR: "ERROR", WARN: "WARN", INFO: "INFO", DEBUG: "DEBUG", TRACE: "TRACE", 9: "Level(9)", -1: "Level(-1)"}
	for l, s := range want {
		if l.String() != s {
			t.Errorf("Level(%d).String() = %q, want %q", int32(l), l.String(), s)
		}
	}
}

func TestLevelJSON(t *testing.T) {
	b, err := json.Marshal(map[string]Level{"/var/log/a.log": DEBUG})
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"/var/log/a.log":"DEBUG"}` {
		t.Fatalf("marshal = %s", b)
	}
	var m map[string]Level
	if err := json.Unmarshal([]byte(`{"x":"warn"}`), &m); err != nil || m["x"] != WARN {
		t.Fatalf("unmarshal = %v, %v", m, err)
	}
	if err := json.Unmarshal([]byte(`{"x":"loud"}`), &m); err == nil {
		t.Fatal("unmarshal of bad level succeeded")
	}
}

func TestSetLevelClamps(t *testing.T) {
	l := New(io.Discard)
	l.SetLevel(42)
	if l.Level() != TRACE {
		t.Errorf("SetLevel(42) -> %v, want TRACE", l.Level())
	}
	l.SetLevel(-5)
	if l.Level() != FATAL {
		t.Errorf("SetLevel(-5) -> %v, want FATAL", l.Level())
	}
}

// lockedBuffer lets the test read what was written while writers may still run.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *lockedBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *lockedBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

func TestConcurrentWritesAndLevelChanges(t *testing.T) {
	var buf lockedBuffer
	l := New(&buf)
	const writers, perWriter = 8, 300
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				l.Infof("[test] writer %d line %d %s", w, i, strings.Repeat("x", i%50))
				l.Debugf("[test] debug %d %d", w, i)
			}
		})
	}
	stop := make(chan struct{})
	toggler := sync.WaitGroup{}
	toggler.Go(func() {
		lvls := []Level{DEBUG, INFO, TRACE, WARN}
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			l.SetLevel(lvls[i%len(lvls)])
			if i%3 == 0 {
				l.Disable()
				_ = l.Enabled(INFO)
				l.Enable()
			}
			_ = l.Level()
		}
	})
	wg.Wait()
	close(stop)
	toggler.Wait()

	for _, ln := range lines(t, buf.String()) {
		m := lineRE.FindStringSubmatch(ln)
		if m == nil {
			t.Fatalf("interleaved or malformed line %q", ln)
		}
		if m[3] != "INFO" && m[3] != "DEBUG" {
			t.Fatalf("unexpected level in %q", ln)
		}
	}
}

func TestFileOutputAndReopenAfterRename(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "logs", "mosn", "default.log") // parents do not exist yet
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	if l.Path() != path {
		t.Errorf("Path() = %q", l.Path())
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if extra := fi.Mode().Perm() &^ 0o644; extra != 0 {
		t.Errorf("file mode %v has bits beyond 0644", fi.Mode().Perm())
	}
	di, err := os.Stat(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if extra := di.Mode().Perm() &^ 0o755; extra != 0 {
		t.Errorf("dir mode %v has bits beyond 0755", di.Mode().Perm())
	}

	for i := range 3 {
		l.Infof("before %d", i)
	}
	rotated := path + ".1"
	if err := os.Rename(path, rotated); err != nil {
		t.Fatal(err)
	}
	l.Infof("between rename and reopen") // still goes to the renamed file
	if err := l.Reopen(); err != nil {
		t.Fatalf("Reopen: %v", err)
	}
	oldSize := fileSize(t, rotated)
	for i := range 2 {
		l.Warnf("after %d", i)
	}
	if got := fileSize(t, rotated); got != oldSize {
		t.Errorf("rotated file grew from %d to %d after Reopen", oldSize, got)
	}
	old := lines(t, readFile(t, rotated))
	if len(old) != 4 || !strings.HasSuffix(old[3], "[INFO] between rename and reopen") {
		t.Errorf("rotated file lines = %q", old)
	}
	cur := lines(t, readFile(t, path))
	if len(cur) != 2 || !strings.HasSuffix(cur[0], "[WARN] after 0") || !strings.HasSuffix(cur[1], "[WARN] after 1") {
		t.Errorf("new file lines = %q", cur)
	}
}

func TestFileAppends(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.log")
	if err := os.WriteFile(path, []byte("existing\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	l.Infof("new")
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	got := lines(t, readFile(t, path))
	if len(got) != 2 || got[0] != "existing" || !strings.HasSuffix(got[1], "[INFO] new") {
		t.Fatalf("file = %q", got)
	}
}

func TestCloseDropsAndIsIdempotent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.log")
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	l.Infof("one")
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	l.Infof("two")
	if err := l.Reopen(); err != ErrClosed {
		t.Fatalf("Reopen after Close = %v, want ErrClosed", err)
	}
	if got := lines(t, readFile(t, path)); len(got) != 1 {
		t.Fatalf("file = %q, want only the line before Close", got)
	}
}

func TestOpenStdStreams(t *testing.T) {
	cases := []struct {
		path string
		want *os.File
	}{
		{"stdout", os.Stdout},
		{"/dev/stdout", os.Stdout},
		{"stderr", os.Stderr},
		{"/dev/stderr", os.Stderr},
		{"", os.Stderr},
	}
	for _, c := range cases {
		l, err := Open(c.path)
		if err != nil {
			t.Fatalf("Open(%q): %v", c.path, err)
		}
		if l.out != c.want || l.file != nil {
			t.Errorf("Open(%q): out=%v file=%v", c.path, l.out, l.file)
		}
		if err := l.Reopen(); err != nil {
			t.Errorf("Open(%q).Reopen() = %v", c.path, err)
		}
		if err := l.Close(); err != nil {
			t.Errorf("Open(%q).Close() = %v", c.path, err)
		}
	}
	// Closing the logger must not have closed the process's stream.
	if _, err := os.Stderr.Stat(); err != nil {
		t.Fatalf("stderr closed: %v", err)
	}
}

func TestOpenError(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "file")
	if err := os.WriteFile(blocker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(filepath.Join(blocker, "sub", "x.log")); err == nil {
		t.Fatal("Open under a regular file succeeded")
	}
}

func TestDisabledLevelDoesNotAllocate(t *testing.T) {
	l := New(io.Discard)
	l.SetLevel(INFO)
	n, s := 12345, "stream"
	cases := map[string]func(){
		"Enabled": func() { _ = l.Enabled(DEBUG) },
		"guarded": func() {
			if l.Enabled(DEBUG) {
				l.Debugf("[proxy] %s %d", s, n)
			}
		},
		"constant": func() { l.Tracef("[proxy] constant message") },
	}
	for name, f := range cases {
		if a := testing.AllocsPerRun(1000, f); a != 0 {
			t.Errorf("%s: %v allocs per run, want 0", name, a)
		}
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func FuzzParseLevel(f *testing.F) {
	for _, s := range []string{"INFO", "debug", " Warn ", "warning", "", "RAW", "TRACE\n", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := ParseLevel(s)
		if err != nil {
			return
		}
		if !l.valid() {
			t.Fatalf("ParseLevel(%q) = invalid %d", s, l)
		}
		back, err := ParseLevel(l.String())
		if err != nil || back != l {
			t.Fatalf("round trip of %v: %v, %v", l, back, err)
		}
	})
}

func BenchmarkDisabled(b *testing.B) {
	l := New(io.Discard)
	n := 42
	b.ReportAllocs()
	for b.Loop() {
		if l.Enabled(DEBUG) {
			l.Debugf("[proxy] stream %d", n)
		}
	}
}

func BenchmarkEnabled(b *testing.B) {
	l := New(io.Discard)
	n := 42
	b.ReportAllocs()
	for b.Loop() {
		l.Infof("[proxy] [upstream] connection %d closed", n)
	}
}

func BenchmarkEnabledParallel(b *testing.B) {
	l := New(io.Discard)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			l.Infof("[proxy] [upstream] connection closed")
		}
	})
}
