package metrics

import (
	"io"
	"testing"
	"time"
)

func BenchmarkCounterIncParallel(b *testing.B) {
	c := NewRegistry(nil).Set("downstream", "listener", "http").Counter("request_total")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c.Inc()
		}
	})
}

func BenchmarkHistogramObserve(b *testing.B) {
	h := NewRegistry(nil).Set("downstream", "listener", "http").Histogram("request_time")
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		h.Observe(time.Duration(i&0xffff) * time.Microsecond)
	}
}

func BenchmarkHistogramObserveParallel(b *testing.B) {
	h := NewRegistry(nil).Set("downstream", "listener", "http").Histogram("request_time")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		var i time.Duration
		for pb.Next() {
			i++
			h.Observe((i & 0xffff) * time.Microsecond)
		}
	})
}

func BenchmarkWritePrometheus(b *testing.B) {
	r := NewRegistry(nil)
	for _, l := range []string{"a", "b", "c", "d"} {
		s := r.Set("downstream", "listener", l)
		s.Counter("request_total").Inc()
		s.Gauge("request_active").Set(1)
		s.Histogram("request_time").Observe(time.Millisecond)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := r.WritePrometheus(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}
