package metrics

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"mosn.dev/proxy/config"
)

func TestConcurrentMetrics(t *testing.T) {
	const workers, perWorker = 8, 2000
	r := NewRegistry(nil)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	scraped := make(chan struct{})
	go func() { // scrapes race with the writers
		defer close(scraped)
		for {
			select {
			case <-stop:
				return
			default:
				if err := r.WritePrometheus(discard{}); err != nil {
					t.Error(err)
					return
				}
				_ = r.StatsJSON()
			}
		}
	}()
	for w := range workers {
		wg.Go(func() {
			// Every worker looks its metrics up itself: creation races too.
			s := r.Set("downstream", "listener", "l1")
			c, g, h := s.Counter("request_total"), s.Gauge("request_active"), s.Histogram("request_time")
			other := r.Set("upstream", "cluster", fmt.Sprint("c", w%2)).Counter("request_total")
			for i := range perWorker {
				c.Inc()
				c.Add(2)
				g.Add(1)
				g.Add(-1)
				h.Observe(time.Duration(i) * time.Microsecond)
				other.Inc()
			}
		})
	}
	wg.Wait()
	close(stop)
	<-scraped

	s := r.Set("downstream", "listener", "l1")
	if got, want := s.Counter("request_total").Value(), int64(workers*perWorker*3); got != want {
		t.Errorf("counter = %d, want %d", got, want)
	}
	if got := s.Gauge("request_active").Value(); got != 0 {
		t.Errorf("gauge = %d, want 0", got)
	}
	h := s.Histogram("request_time")
	if got, want := h.Count(), uint64(workers*perWorker); got != want {
		t.Errorf("histogram count = %d, want %d", got, want)
	}
	// sum of i us for i in [0, perWorker), per worker
	wantSum := time.Duration(workers*perWorker*(perWorker-1)/2) * time.Microsecond
	if got := h.Sum(); got != wantSum {
		t.Errorf("histogram sum = %v, want %v", got, wantSum)
	}
	total := r.Set("upstream", "cluster", "c0").Counter("request_total").Value() +
		r.Set("upstream", "cluster", "c1").Counter("request_total").Value()
	if total != workers*perWorker {
		t.Errorf("upstream total = %d, want %d", total, workers*perWorker)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func TestSetCaching(t *testing.T) {
	r := NewRegistry(nil)
	a := r.Set("downstream", "listener", "http")
	labels := []string{"listener", "http"}
	b := r.Set("downstream", labels...)
	labels[1] = "changed" // the registry must not keep the caller's slice
	if a != b {
		t.Fatal("same arguments gave different sets")
	}
	if got := a.Labels(); got[1] != "http" {
		t.Errorf("labels = %q after caller reused its slice", got)
	}
	if a.Counter("x") != b.Counter("x") || a.Gauge("y") != b.Gauge("y") || a.Histogram("z") != b.Histogram("z") {
		t.Error("same key gave different metrics")
	}
	distinct := []*Set{
		a,
		r.Set("downstream", "listener", "https"),
		r.Set("downstream", "http", "listener"),
		r.Set("upstream", "listener", "http"),
		r.Set("downstream"),
		r.Set("downstreamlistener", "http"), // length-prefixed keys: no concatenation clash
	}
	for i := range distinct {
		for j := range i {
			if distinct[i] == distinct[j] {
				t.Errorf("sets %d and %d are the same object", i, j)
			}
		}
	}
	if got := r.Set("t", "a", "1", "a", "2").Labels(); len(got) != 2 || got[1] != "1" {
		t.Errorf("repeated label name: labels = %q, want the first pair only", got)
	}
	if got := r.Set("t", "odd").Labels(); len(got) != 2 || got[0] != "odd" || got[1] != "" {
		t.Errorf("odd labels = %q, want [odd \"\"]", got)
	}
}

func TestKindConflicts(t *testing.T) {
	r := NewRegistry(nil)
	s := r.Set("downstream")
	if s.Counter("k") == nil {
		t.Fatal("counter is nil")
	}
	if s.Gauge("k") != nil || s.Histogram("k") != nil {
		t.Error("key of a counter also returned a gauge or histogram")
	}
	// Same family name from another set with another kind.
	if r.Set("downstream", "l", "x").Gauge("k") != nil {
		t.Error("family mosn_downstream_k got a gauge next to a counter")
	}
	// Sanitizing makes "a.b" and "a_b" the same series: the second is refused.
	if r.Set("t").Counter("a.b") == nil {
		t.Fatal("first series refused")
	}
	if r.Set("t").Counter("a_b") != nil {
		t.Error("duplicate series mosn_t_a_b accepted")
	}
}

func TestStatsMatcher(t *testing.T) {
	t.Run("reject all", func(t *testing.T) {
		r := NewRegistry(&config.StatsMatcher{RejectAll: true})
		s := r.Set("downstream", "listener", "l")
		c, g, h := s.Counter("request_total"), s.Gauge("g"), s.Histogram("h")
		if c != nil || g != nil || h != nil {
			t.Fatalf("metrics = %v %v %v, want nil", c, g, h)
		}
		c.Inc()
		c.Add(3)
		g.Set(4)
		g.Add(1)
		h.Observe(time.Second)
		if c.Value() != 0 || g.Value() != 0 || h.Count() != 0 || h.Sum() != 0 {
			t.Error("no-op metric reports a value")
		}
		if got := r.StatsJSON(); len(got) != 0 {
			t.Errorf("StatsJSON = %v, want empty", got)
		}
		r.SetCollect(false, false)
		var b strings.Builder
		if err := r.WritePrometheus(&b); err != nil || b.String() != "" {
			t.Errorf("exposition = %q, %v; want empty", b.String(), err)
		}
	})
	t.Run("exclusion keys", func(t *testing.T) {
		r := NewRegistry(&config.StatsMatcher{ExclusionKeys: []string{"request_total", "request_time"}})
		s := r.Set("downstream", "listener", "l")
		if s.Counter("request_total") != nil || s.Histogram("request_time") != nil {
			t.Error("excluded key returned a metric")
		}
		c := s.Counter("connection_total")
		if c == nil {
			t.Fatal("kept key returned nil")
		}
		c.Inc()
		got, ok := r.Stats("downstream.l")
		if !ok || len(got) != 1 || got["connection_total"] != int64(1) {
			t.Errorf("Stats = %v, %v; want only connection_total=1", got, ok)
		}
	})
	t.Run("exclusion labels merge", func(t *testing.T) {
		r := NewRegistry(&config.StatsMatcher{ExclusionLabels: []string{"host"}})
		a := r.Set("upstream", "cluster", "c", "host", "10.0.0.1:80")
		b := r.Set("upstream", "cluster", "c", "host", "10.0.0.2:80")
		if a != b {
			t.Fatal("sets differing only in an excluded label are distinct")
		}
		if a.Counter("request_total") != b.Counter("request_total") {
			t.Fatal("merged set gave different counters")
		}
		a.Counter("request_total").Inc()
		b.Counter("request_total").Inc()
		if got := r.Set("upstream", "cluster", "c").Counter("request_total").Value(); got != 2 {
			t.Errorf("merged counter = %d, want 2", got)
		}
		if got := a.Labels(); len(got) != 2 || got[0] != "cluster" {
			t.Errorf("labels = %q, want only cluster", got)
		}
	})
}

func TestStatsJSONAndGlob(t *testing.T) {
	r := NewRegistry(nil)
	http := r.Set("downstream", "listener", "http")
	http.Counter("request_total").Add(12)
	http.Gauge("request_active").Set(3)
	http.Histogram("request_time").Observe(1500 * time.Millisecond)
	http.Histogram("request_time").Observe(500 * time.Millisecond)
	bolt := r.Set("downstream", "listener", "bolt")
	bolt.Counter("request_total").Add(5)
	bolt.Counter("connection_total").Add(2)
	bolt.Gauge("connection_active").Set(9) // a gauge: not in the glob totals
	r.Set("upstream", "cluster", "c", "host", "h").Counter("request_total").Add(100)
	r.Set("downstream").Counter("request_total").Add(1)

	got := r.StatsJSON()
	want := map[string]map[string]any{
		"downstream.http": {"request_total": int64(12), "request_active": int64(3), "request_time_count": int64(2), "request_time_sum": 2.0},
		"downstream.bolt": {"request_total": int64(5), "connection_total": int64(2), "connection_active": int64(9)},
		"upstream.c.h":    {"request_total": int64(100)},
		"downstream":      {"request_total": int64(1)},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) { // fmt sorts map keys
		t.Errorf("StatsJSON =\n%v\nwant\n%v", got, want)
	}
	if s, ok := r.Stats("downstream.bolt"); !ok || fmt.Sprint(s) != fmt.Sprint(want["downstream.bolt"]) {
		t.Errorf("Stats(downstream.bolt) = %v, %v", s, ok)
	}
	if s, ok := r.Stats("nope"); ok || len(s) != 0 {
		t.Errorf("Stats(nope) = %v, %v; want empty, false", s, ok)
	}
	if got, want := r.StatsGlob(), "connection_total:2\nrequest_total:18\n"; got != want {
		t.Errorf("StatsGlob = %q, want %q", got, want)
	}
}

func TestHistogramBuckets(t *testing.T) {
	b := Buckets()
	if b[0] != 50e-6 || b[len(b)-1] != 60 {
		t.Errorf("buckets span %v..%v, want 5e-05..60", b[0], b[len(b)-1])
	}
	for i := 1; i < len(b); i++ {
		if b[i] <= b[i-1] {
			t.Fatalf("buckets not ascending at %d: %v", i, b)
		}
	}
	tests := []struct {
		d      time.Duration
		bucket int // index of the first bucket whose cumulative count includes d
	}{
		{-time.Second, 0},
		{0, 0},
		{50 * time.Microsecond, 0}, // upper bounds are inclusive
		{50*time.Microsecond + 1, 1},
		{time.Millisecond, 4},
		{60 * time.Second, len(b) - 1},
		{60*time.Second + 1, len(b)}, // +Inf
	}
	for _, tc := range tests {
		var h Histogram
		h.Observe(tc.d)
		s := h.snapshot()
		for i, c := range s.cumulative {
			want := uint64(0)
			if i >= tc.bucket {
				want = 1
			}
			if c != want {
				t.Errorf("Observe(%v): cumulative[%d] = %d, want %d", tc.d, i, c, want)
			}
		}
	}
}
