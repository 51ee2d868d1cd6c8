package healthcheck

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"time"

	"mosn.dev/proxy/log"
)

// eventLog writes MOSN's health-check event lines to one output. Each line
// is a single Write under mu, so lines of concurrent checks never
// interleave.
type eventLog struct {
	mu     sync.Mutex
	w      io.Writer
	file   *os.File // non-nil when the log owns a file
	closed bool
	buf    []byte
}

// openEventLog opens path: "stdout" or "stderr" (also as /dev/stdout and
// /dev/stderr), or a file opened for append with mode 0644, its parent
// directories created with mode 0755.
func openEventLog(path string) (*eventLog, error) {
	w, f, err := log.OpenOutput(path)
	if err != nil {
		return nil, fmt.Errorf("event_log_path: %w", err)
	}
	return &eventLog{w: w, file: f}, nil
}

// write logs one check. A failed write has nowhere to be reported and is
// dropped, as the error log does.
func (l *eventLog) write(now time.Time, addr string, healthy, success, changed bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	l.buf = appendEvent(l.buf[:0], now.Unix(), addr, healthy, success, changed)
	_, _ = l.w.Write(l.buf)
}

// close closes a file output; later writes are dropped. Standard output and
// standard error stay open.
func (l *eventLog) close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	if l.file != nil {
		return l.file.Close()
	}
	return nil
}

// appendEvent appends one event line, exactly as MOSN writes it:
//
//	time:1672987413,host:127.0.0.1:8080,health_status:1,current_result:1,status_changed:0
//
// health_status is the host's state after the check, current_result the
// check's outcome, status_changed whether this check changed the state.
func appendEvent(b []byte, unix int64, addr string, healthy, success, changed bool) []byte {
	b = append(b, "time:"...)
	b = strconv.AppendInt(b, unix, 10)
	b = append(b, ",host:"...)
	b = append(b, addr...)
	b = append(b, ",health_status:"...)
	b = appendBit(b, healthy)
	b = append(b, ",current_result:"...)
	b = appendBit(b, success)
	b = append(b, ",status_changed:"...)
	b = appendBit(b, changed)
	return append(b, '\n')
}

func appendBit(b []byte, v bool) []byte {
	if v {
		return append(b, '1')
	}
	return append(b, '0')
}
