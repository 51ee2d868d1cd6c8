package metrics

import (
	"fmt"
	"testing"
)

func TestParseProcStat(t *testing.T) {
	tests := []struct {
		name, in string
		want     procStat
		wantErr  bool
	}{
		{"plain", "1 (mosn) S 0 1 1 0 -1 4194560 1 2 3 4 11 22 0 0 20 0 8 0 5 123456 789 18446744073709551615",
			procStat{utime: 11, stime: 22, rssPages: 789}, false},
		{"spaces and parens in comm", "7 (my (odd) name) R 0 1 1 0 -1 0 0 0 0 0 5 6 0 0 20 0 1 0 9 100 42 0",
			procStat{utime: 5, stime: 6, rssPages: 42}, false},
		{"no comm", "1 mosn S 0", procStat{}, true},
		{"short", "1 (mosn) S 0 1 1 0 -1 0 0 0 0 0 5 6", procStat{}, true},
		{"bad number", "1 (m) S 0 1 1 0 -1 0 0 0 0 0 x 6 0 0 20 0 1 0 9 100 42", procStat{}, true},
		{"negative utime", "1 (m) S 0 1 1 0 -1 0 0 0 0 0 -5 6 0 0 20 0 1 0 9 100 42", procStat{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseProcStat([]byte(tc.in))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if err == nil && got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
	if got := (procStat{utime: 150, stime: 100}).cpuSeconds(); got != 2.5 {
		t.Errorf("cpuSeconds = %v, want 2.5", got)
	}
}

func TestReadProcSelfStat(t *testing.T) {
	b, err := readProcSelfStat()
	if err != nil {
		t.Skipf("no /proc/self/stat here: %v", err)
	}
	st, err := parseProcStat(b)
	if err != nil {
		t.Fatalf("parse own stat %q: %v", b, err)
	}
	if st.rssPages <= 0 {
		t.Errorf("rss = %d pages, want > 0", st.rssPages)
	}
}

func FuzzParseProcStat(f *testing.F) {
	f.Add([]byte("1 (mosn) S 0 1 1 0 -1 4194560 1 2 3 4 11 22 0 0 20 0 8 0 5 123456 789 0"))
	f.Add([]byte("7 (a) b) R 0 1 1 0 -1 0 0 0 0 0 5 6 0 0 20 0 1 0 9 100 42 0"))
	f.Add([]byte(")"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := parseProcStat(b) // must not panic on any input
		if err != nil {
			return
		}
		// Whatever parsed must survive a round trip through a canonical line.
		line := fmt.Sprintf("1 (x) S 0 1 1 0 -1 0 0 0 0 0 %d %d 0 0 20 0 1 0 9 100 %d 0", st.utime, st.stime, st.rssPages)
		again, err := parseProcStat([]byte(line))
		if err != nil || again != st {
			t.Fatalf("round trip of %+v: %+v, %v", st, again, err)
		}
	})
}
