package http1

import (
	"fmt"
	"runtime"
	"syscall"
	"testing"
	"time"
)

func threadCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(1, &ru) // RUSAGE_THREAD
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func TestXCPU(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for _, c := range []struct{ name, raw string }{{"curl", curlRequest}, {"browser", browserRequest}} {
		data := []byte(c.raw)
		p := NewRequestParser(Limits{})
		out := make([]byte, 0, 4096)
		const N = 3000000
		for _, mode := range []string{"parse", "parse+get+append"} {
			start := threadCPU()
			for range N {
				p.Parse(data)
				if mode != "parse" {
					p.Header().Get("Host")
					out = p.Header().AppendRequest(out[:0])
				}
			}
			el := threadCPU() - start
			fmt.Printf("%s %s: %.1f ns/op (cpu)\n", c.name, mode, float64(el.Nanoseconds())/N)
		}
	}
	rp := NewResponseParser(Limits{})
	data := []byte(typicalResponse)
	const N = 3000000
	start := threadCPU()
	for range N {
		rp.Parse(data)
	}
	fmt.Printf("response parse: %.1f ns/op (cpu)\n", float64((threadCPU()-start).Nanoseconds())/N)
}
