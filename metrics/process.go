package metrics

import (
	"bytes"
	"errors"
	"os"
	"runtime"
	"strconv"
)

// userHZ is the kernel's USER_HZ, the unit of /proc/<pid>/stat CPU times.
// It is 100 on every mainstream Linux architecture, and the standard
// library cannot call sysconf(_SC_CLK_TCK).
const userHZ = 100

var pageSize = os.Getpagesize()

// procStat is the part of /proc/self/stat the exposition uses.
type procStat struct {
	utime, stime uint64 // clock ticks (userHZ)
	rssPages     int64
}

func (p procStat) cpuSeconds() float64 { return float64(p.utime+p.stime) / userHZ }

var errNoProcStat = errors.New("metrics: /proc/self/stat is only read on Linux")

func readProcSelfStat() ([]byte, error) {
	if runtime.GOOS != "linux" {
		return nil, errNoProcStat
	}
	return os.ReadFile("/proc/self/stat")
}

// parseProcStat parses proc(5) /proc/<pid>/stat. The command name (field 2)
// is in parentheses and may itself contain spaces and parentheses, so the
// fields are counted from the last ')'.
func parseProcStat(b []byte) (procStat, error) {
	var st procStat
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return st, errors.New("metrics: /proc stat: no command name")
	}
	f := bytes.Fields(b[i+1:])
	// f[0] is field 3 (state): field n is f[n-3].
	const utime, stime, rss = 14 - 3, 15 - 3, 24 - 3
	if len(f) <= rss {
		return st, errors.New("metrics: /proc stat: too few fields")
	}
	var err error
	if st.utime, err = strconv.ParseUint(string(f[utime]), 10, 64); err != nil {
		return st, err
	}
	if st.stime, err = strconv.ParseUint(string(f[stime]), 10, 64); err != nil {
		return st, err
	}
	if st.rssPages, err = strconv.ParseInt(string(f[rss]), 10, 64); err != nil {
		return st, err
	}
	return st, nil
}
