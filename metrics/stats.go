package metrics

import (
	"slices"
	"strconv"
	"strings"
)

// StatsJSON returns every metric shaped like MOSN's /api/v1/stats: the outer
// key is the set's type followed by its label values, joined by "." (e.g.
// "downstream.http"; just the type for a set without labels), the inner key
// is the metric key. Counters and gauges are int64; a histogram gives
// "<key>_count" (int64) and "<key>_sum" (float64 seconds). Sets whose outer
// keys coincide are merged.
func (r *Registry) StatsJSON() map[string]map[string]any {
	out := make(map[string]map[string]any)
	r.sets.Range(func(_, v any) bool {
		s := v.(*Set)
		k := s.statsKey()
		m := out[k]
		if m == nil {
			m = make(map[string]any)
		}
		s.fillStats(m)
		if len(m) > 0 {
			out[k] = m
		}
		return true
	})
	return out
}

// Stats returns the StatsJSON entry for one outer key, and whether any
// metric has that key.
func (r *Registry) Stats(key string) (map[string]any, bool) {
	m := make(map[string]any)
	r.sets.Range(func(_, v any) bool {
		if s := v.(*Set); s.statsKey() == key {
			s.fillStats(m)
		}
		return true
	})
	return m, len(m) > 0
}

// StatsGlob returns the downstream totals for MOSN's /api/v1/stats_glob:
// every counter key of every "downstream" set, summed across sets, as
// "key:value" lines sorted by key, each ending in "\n".
func (r *Registry) StatsGlob() string {
	sums := make(map[string]int64)
	r.sets.Range(func(_, v any) bool {
		s := v.(*Set)
		if s.typ != "downstream" {
			return true
		}
		s.metrics.Range(func(k, v any) bool {
			if e := v.(*entry); e.kind == kindCounter {
				sums[k.(string)] += e.c.Value()
			}
			return true
		})
		return true
	})
	keys := make([]string, 0, len(sums))
	for k := range sums {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k)
		b.WriteByte(':')
		b.WriteString(strconv.FormatInt(sums[k], 10))
		b.WriteByte('\n')
	}
	return b.String()
}

func (s *Set) statsKey() string {
	parts := []string{s.typ}
	for i := 1; i < len(s.labels); i += 2 {
		parts = append(parts, s.labels[i])
	}
	return strings.Join(parts, ".")
}

func (s *Set) fillStats(m map[string]any) {
	s.metrics.Range(func(k, v any) bool {
		key := k.(string)
		switch e := v.(*entry); e.kind {
		case kindCounter:
			m[key] = e.c.Value()
		case kindGauge:
			m[key] = e.g.Value()
		case kindHistogram:
			snap := e.h.snapshot()
			m[key+"_count"] = int64(snap.cumulative[len(bucketBounds)])
			m[key+"_sum"] = snap.sum.Seconds()
		}
		return true
	})
}
