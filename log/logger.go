// Package log is the proxy's error log, compatible with MOSN's line format:
//
//	2022-11-30 10:18:43,248 [INFO] [admin store] [start service] start service Mosn Admin Server on [::]:34901
//
// A line is the local time as "YYYY-MM-DD HH:MM:SS,mmm" (milliseconds always
// three digits), a space, the level tag ("[INFO]"), a space, the message and a
// newline. Callers start their messages with their own bracketed components,
// as MOSN's do.
//
// A Logger writes to one output: standard output ("stdout", "/dev/stdout"),
// standard error ("stderr", "/dev/stderr", or the empty path) or a file
// (opened for append with mode 0644, parent directories created with mode
// 0755). Each line is one write call, serialized with the logger's other
// writes, so lines from concurrent goroutines never interleave.
//
// Level checks are one atomic load. The printf-style methods take variadic
// arguments, and Go boxes non-constant arguments before the call, so hot
// paths should guard them:
//
//	if lg.Enabled(log.DEBUG) {
//		lg.Debugf("[proxy] stream %d reset: %v", id, reason)
//	}
//
// There is no global logger: a Manager holds one Logger per path and the
// default logger, and is passed to whoever needs it.
package log

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// ErrClosed is returned by Reopen on a closed logger.
var ErrClosed = errors.New("log: logger closed")

// Logger writes MOSN-format error-log lines to one output. Its methods are
// safe for concurrent use. The zero value is not usable; use Open, New or Nop.
type Logger struct {
	path string

	// level is the configured level; eff is what Enabled compares against:
	// level, or -1 while disabled (so even FATAL is filtered). cfgMu orders
	// the writers of the pair so they never disagree.
	level atomic.Int32
	eff   atomic.Int32
	cfgMu sync.Mutex

	// mu serializes writes and the swap of the output in Reopen/Close.
	mu     sync.Mutex
	out    io.Writer
	file   *os.File // non-nil when out is a file this logger opened
	closed bool

	stamp atomic.Pointer[stamp]
}

// stamp caches the formatted "YYYY-MM-DD HH:MM:SS," prefix of one second, so
// most lines only format their milliseconds.
type stamp struct {
	sec  int64
	text [20]byte
}

// Open returns a logger at DefaultLevel writing to path. See the package
// documentation for the accepted paths.
func Open(path string) (*Logger, error) {
	out, file, err := OpenOutput(path)
	if err != nil {
		return nil, err
	}
	l := newLogger(path, out)
	l.file = file
	return l, nil
}

// New returns a logger at DefaultLevel writing to w. Path reports "" and
// Reopen does nothing. It is meant for tests and embedding.
func New(w io.Writer) *Logger {
	return newLogger("", w)
}

// Nop returns a disabled logger that discards everything, for tests and for
// components built without a logger.
func Nop() *Logger {
	l := newLogger("", io.Discard)
	l.Disable()
	return l
}

func newLogger(path string, w io.Writer) *Logger {
	l := &Logger{path: path, out: w}
	l.level.Store(int32(DefaultLevel))
	l.eff.Store(int32(DefaultLevel))
	return l
}

// Path returns the path the logger was opened with.
func (l *Logger) Path() string { return l.path }

// Enabled reports whether a line at lvl would be written: the logger is
// enabled and lvl is at or above its level in severity. It is one atomic load.
func (l *Logger) Enabled(lvl Level) bool {
	return int32(lvl) <= l.eff.Load()
}

// Level returns the configured level (also while disabled).
func (l *Logger) Level() Level { return Level(l.level.Load()) }

// SetLevel changes the level; it takes effect for the next line written.
// Values outside FATAL..TRACE are clamped into that range.
func (l *Logger) SetLevel(lvl Level) {
	lvl = min(max(lvl, FATAL), TRACE)
	l.cfgMu.Lock()
	l.level.Store(int32(lvl))
	if l.eff.Load() >= 0 {
		l.eff.Store(int32(lvl))
	}
	l.cfgMu.Unlock()
}

// Disable stops all output, whatever the level, until Enable.
func (l *Logger) Disable() {
	l.cfgMu.Lock()
	l.eff.Store(-1)
	l.cfgMu.Unlock()
}

// Enable resumes output at the configured level after Disable.
func (l *Logger) Enable() {
	l.cfgMu.Lock()
	l.eff.Store(l.level.Load())
	l.cfgMu.Unlock()
}

// Disabled reports whether Disable is in effect.
func (l *Logger) Disabled() bool { return l.eff.Load() < 0 }

// Fatalf writes a FATAL line and returns; deciding to exit is the caller's.
func (l *Logger) Fatalf(format string, args ...any) {
	if l.Enabled(FATAL) {
		l.output(FATAL, format, args)
	}
}

// Errorf writes an ERROR line.
func (l *Logger) Errorf(format string, args ...any) {
	if l.Enabled(ERROR) {
		l.output(ERROR, format, args)
	}
}

// Warnf writes a WARN line.
func (l *Logger) Warnf(format string, args ...any) {
	if l.Enabled(WARN) {
		l.output(WARN, format, args)
	}
}

// Infof writes an INFO line.
func (l *Logger) Infof(format string, args ...any) {
	if l.Enabled(INFO) {
		l.output(INFO, format, args)
	}
}

// Debugf writes a DEBUG line.
func (l *Logger) Debugf(format string, args ...any) {
	if l.Enabled(DEBUG) {
		l.output(DEBUG, format, args)
	}
}

// Tracef writes a TRACE line.
func (l *Logger) Tracef(format string, args ...any) {
	if l.Enabled(TRACE) {
		l.output(TRACE, format, args)
	}
}

// maxPooledBuf bounds the buffers kept in the pool, so one huge message does
// not pin its buffer for the life of the process.
const maxPooledBuf = 64 << 10

var bufPool = sync.Pool{New: func() any {
	b := make([]byte, 0, 256)
	return &b
}}

func (l *Logger) output(lvl Level, format string, args []any) {
	bp := bufPool.Get().(*[]byte)
	b := l.appendTime((*bp)[:0], time.Now())
	b = append(b, levelTags[lvl]...)
	b = fmt.Appendf(b, format, args...)
	// Callers sometimes end messages with "\n"; one line stays one line.
	if b[len(b)-1] != '\n' {
		b = append(b, '\n')
	}
	l.mu.Lock()
	if !l.closed {
		// A failed write has nowhere to be reported; the line is lost.
		_, _ = l.out.Write(b)
	}
	l.mu.Unlock()
	if cap(b) <= maxPooledBuf {
		*bp = b
		bufPool.Put(bp)
	}
}

// appendTime appends "YYYY-MM-DD HH:MM:SS,mmm " in local time.
func (l *Logger) appendTime(b []byte, now time.Time) []byte {
	sec := now.Unix()
	s := l.stamp.Load()
	if s == nil || s.sec != sec {
		s = &stamp{sec: sec}
		now.AppendFormat(s.text[:0], "2006-01-02 15:04:05,")
		l.stamp.Store(s)
	}
	b = append(b, s.text[:]...)
	ms := now.Nanosecond() / int(time.Millisecond)
	return append(b, byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10), ' ')
}

// Reopen reopens a file output at the same path, for log rotation: after the
// file was renamed, new lines go to a new file at the path. It is a no-op for
// standard output and standard error. If the new file cannot be opened the
// logger keeps writing to the old one and the error is returned.
func (l *Logger) Reopen() error {
	l.mu.Lock()
	closed, file := l.closed, l.file
	l.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if file == nil {
		return nil
	}
	nf, err := OpenFile(l.path)
	if err != nil {
		return err
	}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return errors.Join(ErrClosed, nf.Close())
	}
	old := l.file
	l.file, l.out = nf, nf
	l.mu.Unlock()
	return old.Close()
}

// Close closes a file output; later lines are dropped. Standard output and
// standard error are left open. Close is idempotent.
func (l *Logger) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	if l.file != nil {
		err := l.file.Close()
		l.file = nil
		return err
	}
	return nil
}

// OpenOutput maps a log path to its writer: "stdout" or "/dev/stdout",
// "stderr", "/dev/stderr" or "" (standard error), else the file, opened
// by OpenFile; file is non-nil for a file path. The error log, the access
// logs and the health-check event log all name their outputs this way.
func OpenOutput(path string) (out io.Writer, file *os.File, err error) {
	switch path {
	case "stdout", "/dev/stdout":
		return os.Stdout, nil, nil
	case "", "stderr", "/dev/stderr":
		return os.Stderr, nil, nil
	}
	f, err := OpenFile(path)
	if err != nil {
		return nil, nil, err
	}
	return f, f, nil
}

// OpenFile opens path for appending (mode 0644), creating its parent
// directories (mode 0755).
func OpenFile(path string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	return os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
}
