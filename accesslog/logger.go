package accesslog

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"mosn.dev/proxy/log"
)

// Buffering limits of every writer.
const (
	// FlushInterval is the longest an entry waits in memory before the
	// background goroutine writes it.
	FlushInterval = 100 * time.Millisecond
	// FlushBytes of pending entries trigger a write without waiting for
	// FlushInterval.
	FlushBytes = 64 << 10
	// MaxPending bounds the bytes waiting for a slow output; entries beyond
	// it are dropped and counted.
	MaxPending = 4 << 20
)

// ErrClosed is returned by Reopen and Flush on a closed logger.
var ErrClosed = errors.New("accesslog: logger closed")

// Logger writes access-log entries in one Format to one output. Its methods
// are safe for concurrent use; Log never blocks on the output.
type Logger struct {
	f      *Format
	w      *writer
	owner  *Writers // nil for a logger from Open
	closed atomic.Bool
}

// Open returns a logger writing entries in f to path, with its own writer:
// "stdout" or "/dev/stdout", "stderr", "/dev/stderr" or "" for standard error,
// or a file opened for append (mode 0644, parent directories created with
// mode 0755). A nil f means the default format. Use Writers to share one file
// among several loggers.
func Open(path string, f *Format) (*Logger, error) {
	w, err := newWriter(path)
	if err != nil {
		return nil, err
	}
	w.refs = 1
	return &Logger{f: defaultIfNil(f), w: w}, nil
}

func defaultIfNil(f *Format) *Format {
	if f != nil {
		return f
	}
	f, err := Compile(DefaultFormat)
	if err != nil {
		panic("accesslog: default format does not compile: " + err.Error())
	}
	return f
}

// Path returns the path of the logger's output.
func (l *Logger) Path() string { return l.w.path }

// Format returns the logger's format.
func (l *Logger) Format() *Format { return l.f }

// lineCap is the initial capacity of a pooled line buffer; lines rarely
// exceed it, and longer ones grow it once.
const lineCap = 512

var linePool = sync.Pool{New: func() any {
	b := make([]byte, 0, lineCap)
	return &b
}}

// Log formats one entry and queues it. It returns at once: a disabled or
// closed output ignores the entry, and a backlog over MaxPending drops it
// (see Dropped).
func (l *Logger) Log(info *Info) {
	w := l.w
	if w.disabled.Load() || l.closed.Load() {
		return
	}
	bp := linePool.Get().(*[]byte)
	b := l.f.Append((*bp)[:0], info)
	b = append(b, '\n')
	w.enqueue(b)
	if cap(b) <= 16*lineCap {
		*bp = b
		linePool.Put(bp)
	}
}

// Dropped returns how many entries never reached the output of this
// logger's writer (shared with the other loggers of the same path): dropped
// over MaxPending, or lost in a failed write.
func (l *Logger) Dropped() uint64 { return l.w.dropped.Load() }

// Flush writes the pending entries now and returns the write error, if any.
func (l *Logger) Flush() error {
	if l.closed.Load() {
		return ErrClosed
	}
	return l.w.flush()
}

// Reopen writes the pending entries to the current file, then reopens the
// path (log rotation). It is a no-op for standard output and error. If the
// path cannot be opened the old file stays in use and the error is returned.
// With Writers, this reopens the file for every logger sharing it.
func (l *Logger) Reopen() error {
	if l.closed.Load() {
		return ErrClosed
	}
	return l.w.reopen()
}

// Close flushes everything and releases the output; later entries are
// ignored. A logger from Writers closes the shared file only when its last
// logger closes. Close is idempotent.
func (l *Logger) Close() error {
	if l.closed.Swap(true) {
		return nil
	}
	if l.owner != nil {
		return l.owner.release(l.w)
	}
	return l.w.close()
}

// Writers shares one writer per output path among loggers, so the access
// logs of several listeners naming the same file append to it through one
// buffer and one goroutine. The zero value is ready to use; it is safe for
// concurrent use.
type Writers struct {
	mu sync.Mutex
	m  map[string]*writer
}

// NewWriters returns an empty Writers; the zero value is equally usable.
func NewWriters() *Writers { return &Writers{} }

// Open returns a logger with format f (nil for the default) on the shared
// writer of path, opening the writer on first use. Paths naming the same
// output ("stdout" and "/dev/stdout"; "a/../b.log" and "b.log") share it.
func (ws *Writers) Open(path string, f *Format) (*Logger, error) {
	key := canonicalPath(path)
	ws.mu.Lock()
	defer ws.mu.Unlock()
	w := ws.m[key]
	if w == nil {
		var err error
		if w, err = newWriter(path); err != nil {
			return nil, err
		}
		if ws.m == nil {
			ws.m = make(map[string]*writer)
		}
		ws.m[key] = w
	}
	w.refs++
	return &Logger{f: defaultIfNil(f), w: w, owner: ws}, nil
}

func (ws *Writers) release(w *writer) error {
	ws.mu.Lock()
	w.refs--
	last := w.refs == 0
	if last {
		key := canonicalPath(w.path)
		if ws.m[key] == w {
			delete(ws.m, key)
		}
	}
	ws.mu.Unlock()
	if last {
		return w.close()
	}
	return nil
}

func (ws *Writers) snapshot() []*writer {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	out := make([]*writer, 0, len(ws.m))
	for _, w := range ws.m {
		out = append(out, w)
	}
	return out
}

// Paths returns the open output paths, sorted.
func (ws *Writers) Paths() []string {
	var ps []string
	for _, w := range ws.snapshot() {
		ps = append(ps, w.path)
	}
	sort.Strings(ps)
	return ps
}

// ReopenAll reopens every file output (see Logger.Reopen) and joins the
// errors.
func (ws *Writers) ReopenAll() error {
	var errs []error
	for _, w := range ws.snapshot() {
		if err := w.reopen(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", w.path, err))
		}
	}
	return errors.Join(errs...)
}

// CloseAll flushes and closes every writer and forgets them; their loggers
// ignore later entries. A later Open starts a new writer.
func (ws *Writers) CloseAll() error {
	ws.mu.Lock()
	m := ws.m
	ws.m = nil
	ws.mu.Unlock()
	var errs []error
	for _, w := range m {
		if err := w.close(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", w.path, err))
		}
	}
	return errors.Join(errs...)
}

// Disable makes the loggers of path ignore entries until Enable (the admin
// API's disable_log); an unknown path is an error.
func (ws *Writers) Disable(path string) error { return ws.setDisabled(path, true) }

// Enable undoes Disable; an unknown path is an error.
func (ws *Writers) Enable(path string) error { return ws.setDisabled(path, false) }

func (ws *Writers) setDisabled(path string, v bool) error {
	ws.mu.Lock()
	w := ws.m[canonicalPath(path)]
	ws.mu.Unlock()
	if w == nil {
		return fmt.Errorf("accesslog: no access log at path %q", path)
	}
	w.disabled.Store(v)
	return nil
}

func canonicalPath(path string) string {
	switch path {
	case "stdout", "/dev/stdout":
		return "stdout"
	case "", "stderr", "/dev/stderr":
		return "stderr"
	}
	return filepath.Clean(path)
}

// writer buffers entries for one output and writes them from one goroutine.
type writer struct {
	path string

	// Limits; the constants, except in tests.
	interval   time.Duration
	flushBytes int
	maxPending int

	mu      sync.Mutex // guards pending, spare, closed
	pending []byte
	spare   []byte
	closed  bool

	dropped  atomic.Uint64
	disabled atomic.Bool
	refs     int // guarded by the owning Writers' mu

	kick   chan struct{} // pending became non-empty
	full   chan struct{} // pending reached flushBytes
	done   chan struct{}
	exited chan struct{}

	// ioMu orders flushes and guards the output; held for a whole write so
	// batches reach the output in order and Reopen never swaps mid-write.
	ioMu sync.Mutex
	out  io.Writer
	file *os.File // non-nil for a file output
}

func newWriter(path string) (*writer, error) {
	out, file, err := log.OpenOutput(path)
	if err != nil {
		return nil, err
	}
	w := newWriterTo(path, out)
	w.file = file
	go w.run()
	return w, nil
}

// newWriterTo builds a writer without starting its goroutine.
func newWriterTo(path string, out io.Writer) *writer {
	return &writer{
		path:       path,
		interval:   FlushInterval,
		flushBytes: FlushBytes,
		maxPending: MaxPending,
		kick:       make(chan struct{}, 1),
		full:       make(chan struct{}, 1),
		done:       make(chan struct{}),
		exited:     make(chan struct{}),
		out:        out,
	}
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

func (w *writer) enqueue(line []byte) {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return
	}
	n := len(w.pending)
	if n+len(line) > w.maxPending {
		w.mu.Unlock()
		w.dropped.Add(1)
		return
	}
	w.pending = append(w.pending, line...)
	m := len(w.pending)
	w.mu.Unlock()
	if n == 0 {
		signal(w.kick)
	}
	if n < w.flushBytes && m >= w.flushBytes {
		signal(w.full)
	}
}

// run writes batches until close; close writes the last one itself so it
// can report its error.
func (w *writer) run() {
	defer close(w.exited)
	t := time.NewTimer(w.interval)
	t.Stop()
	for {
		select {
		case <-w.kick:
			// The first entry of a batch: give others up to interval to join.
			t.Reset(w.interval)
			select {
			case <-t.C:
			case <-w.full:
				t.Stop()
			case <-w.done:
				t.Stop()
				return
			}
		case <-w.full:
		case <-w.done:
			return
		}
		_ = w.flush()
	}
}

// maxSpare bounds the buffer kept between flushes, so a burst does not pin
// MaxPending bytes forever.
const maxSpare = 1 << 20

func (w *writer) flush() error {
	w.ioMu.Lock()
	defer w.ioMu.Unlock()
	return w.flushLocked()
}

// flushLocked writes the pending bytes; ioMu must be held.
func (w *writer) flushLocked() error {
	w.mu.Lock()
	batch := w.pending
	w.pending, w.spare = w.spare[:0], nil
	w.mu.Unlock()
	if len(batch) == 0 {
		w.keepSpare(batch)
		return nil
	}
	var err error
	if w.out == nil {
		err = ErrClosed
	} else {
		_, err = w.out.Write(batch)
	}
	if err != nil {
		w.dropped.Add(uint64(bytes.Count(batch, []byte{'\n'})))
	}
	w.keepSpare(batch)
	return err
}

func (w *writer) keepSpare(b []byte) {
	if cap(b) == 0 || cap(b) > maxSpare {
		return
	}
	w.mu.Lock()
	if w.spare == nil {
		w.spare = b[:0]
	}
	w.mu.Unlock()
}

func (w *writer) reopen() error {
	w.mu.Lock()
	closed := w.closed
	w.mu.Unlock()
	if closed {
		return ErrClosed
	}
	w.ioMu.Lock()
	defer w.ioMu.Unlock()
	if w.file == nil {
		return nil
	}
	// Entries logged before rotation belong in the rotated file.
	werr := w.flushLocked()
	nf, err := log.OpenFile(w.path)
	if err != nil {
		return errors.Join(werr, err)
	}
	old := w.file
	w.file, w.out = nf, nf
	return errors.Join(werr, old.Close())
}

// close stops the goroutine, writes what is pending and closes a file
// output. It is idempotent.
func (w *writer) close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	w.mu.Unlock()
	close(w.done)
	<-w.exited
	w.ioMu.Lock()
	defer w.ioMu.Unlock()
	err := w.flushLocked()
	w.out = nil
	if w.file != nil {
		err = errors.Join(err, w.file.Close())
		w.file = nil
	}
	return err
}
