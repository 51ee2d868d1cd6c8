package healthcheck

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestAppendEvent(t *testing.T) {
	tests := []struct {
		healthy, success, changed bool
		want                      string
	}{
		// The line of seed 001, byte for byte.
		{true, true, false, "time:1672987413,host:127.0.0.1:8080,health_status:1,current_result:1,status_changed:0\n"},
		{false, false, true, "time:1672987413,host:127.0.0.1:8080,health_status:0,current_result:0,status_changed:1\n"},
		{true, false, false, "time:1672987413,host:127.0.0.1:8080,health_status:1,current_result:0,status_changed:0\n"},
		{true, true, true, "time:1672987413,host:127.0.0.1:8080,health_status:1,current_result:1,status_changed:1\n"},
	}
	for _, tt := range tests {
		got := string(appendEvent(nil, 1672987413, "127.0.0.1:8080", tt.healthy, tt.success, tt.changed))
		if got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
}

func TestEventLogFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x", "y", "hc.log")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	// An existing file is appended to, not truncated.
	if err := os.WriteFile(path, []byte("old\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := openEventLog(path)
	if err != nil {
		t.Fatal(err)
	}
	const writers, each = 8, 200
	var wg sync.WaitGroup
	now := time.Unix(1672987413, 0)
	for i := range writers {
		wg.Go(func() {
			for range each {
				l.write(now, "127.0.0.1:8080", i%2 == 0, true, false)
			}
		})
	}
	wg.Wait()
	if err := l.close(); err != nil {
		t.Fatal(err)
	}
	l.write(now, "127.0.0.1:8080", true, true, false) // dropped after close
	if err := l.close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if lines[0] != "old" || len(lines) != 1+writers*each {
		t.Fatalf("%d lines starting with %q, want the old line then %d", len(lines), lines[0], writers*each)
	}
	for _, line := range lines[1:] {
		if !eventRE.MatchString(line) {
			t.Fatalf("interleaved or malformed line %q", line)
		}
	}
}

func BenchmarkAppendEvent(b *testing.B) {
	b.ReportAllocs()
	buf := make([]byte, 0, 128)
	for b.Loop() {
		buf = appendEvent(buf[:0], 1672987413, "127.0.0.1:8080", true, true, false)
	}
}
