package metrics

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"runtime"
	rtmetrics "runtime/metrics"
	"slices"
	"strconv"
	"strings"
)

// ContentType is the media type of the Prometheus text exposition format.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// family is one exported metric family.
type family struct {
	name   string
	help   string
	kind   kind
	series []series
}

// series is one sample line (or, for a histogram, one group of lines).
type series struct {
	labels string // rendered without braces, may be empty
	value  float64
	hist   *histSnapshot
}

// WritePrometheus writes every metric in the Prometheus text format 0.0.4:
// families sorted by name, each with one HELP and one TYPE line, series
// sorted by labels; histograms as _bucket{le=...} (seconds), _sum (seconds)
// and _count. It returns the first write error.
func (r *Registry) WritePrometheus(w io.Writer) error {
	fams := r.gather()
	bw := bufio.NewWriter(w)
	for _, f := range fams {
		writeFamily(bw, f)
	}
	return bw.Flush()
}

// Handler serves WritePrometheus to any GET or HEAD request.
func (r *Registry) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		// Buffered so that a failure cannot leave a truncated 200 behind.
		var buf bytes.Buffer
		if err := r.WritePrometheus(&buf); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", ContentType)
		w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
		if req.Method == http.MethodGet {
			_, _ = w.Write(buf.Bytes())
		}
	})
}

// gather collects the registry's families and the runtime ones, sorted.
func (r *Registry) gather() []*family {
	byName := make(map[string]*family)
	r.sets.Range(func(_, v any) bool {
		s := v.(*Set)
		s.metrics.Range(func(k, v any) bool {
			e := v.(*entry)
			if e.kind == kindNone {
				return true
			}
			f := byName[e.family]
			if f == nil {
				f = &family{name: e.family, kind: e.kind, help: "MOSN " + s.typ + " metric " + k.(string) + "."}
				byName[e.family] = f
			}
			sr := series{labels: s.promLabels}
			switch e.kind {
			case kindCounter:
				sr.value = float64(e.c.Value())
			case kindGauge:
				sr.value = float64(e.g.Value())
			case kindHistogram:
				snap := e.h.snapshot()
				sr.hist = &snap
			}
			f.series = append(f.series, sr)
			return true
		})
		return true
	})
	for _, f := range r.runtimeFamilies() {
		if _, dup := byName[f.name]; !dup {
			byName[f.name] = f
		}
	}
	out := make([]*family, 0, len(byName))
	for _, f := range byName {
		slices.SortFunc(f.series, func(a, b series) int { return strings.Compare(a.labels, b.labels) })
		out = append(out, f)
	}
	slices.SortFunc(out, func(a, b *family) int { return strings.Compare(a.name, b.name) })
	return out
}

// runtimeFamilies reads the version, Go runtime and process families.
func (r *Registry) runtimeFamilies() []*family {
	var out []*family
	if v := r.version.Load(); v != nil && *v != "" {
		out = append(out, &family{
			name: "mosn_process_version", kind: kindGauge, help: "MOSN proxy version; the value is always 1.",
			series: []series{{labels: `version="` + escapeLabelValue(*v) + `"`, value: 1}},
		})
	}
	if !r.noGoRuntime.Load() {
		// runtime/metrics instead of runtime.ReadMemStats: no stop-the-world.
		sample := []rtmetrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		rtmetrics.Read(sample)
		out = append(out,
			&family{name: "go_goroutines", kind: kindGauge, help: "Number of goroutines that currently exist.",
				series: []series{{value: float64(runtime.NumGoroutine())}}})
		if sample[0].Value.Kind() == rtmetrics.KindUint64 {
			out = append(out, &family{name: "go_memstats_heap_alloc_bytes", kind: kindGauge,
				help:   "Number of heap bytes allocated and still in use.",
				series: []series{{value: float64(sample[0].Value.Uint64())}}})
		}
	}
	if !r.noProcess.Load() {
		if b, err := r.procStatReader(); err == nil {
			if st, err := parseProcStat(b); err == nil {
				out = append(out,
					&family{name: "process_cpu_seconds_total", kind: kindCounter,
						help:   "Total user and system CPU time spent in seconds.",
						series: []series{{value: st.cpuSeconds()}}},
					&family{name: "process_resident_memory_bytes", kind: kindGauge,
						help:   "Resident memory size in bytes.",
						series: []series{{value: float64(st.rssPages * int64(pageSize))}}})
			}
		}
	}
	return out
}

var leValues = func() []string {
	out := make([]string, len(bucketBounds)+1)
	for i, b := range Buckets() {
		out[i] = formatFloat(b)
	}
	out[len(bucketBounds)] = "+Inf"
	return out
}()

func writeFamily(w *bufio.Writer, f *family) {
	w.WriteString("# HELP ")
	w.WriteString(f.name)
	w.WriteByte(' ')
	w.WriteString(escapeHelp(f.help))
	w.WriteString("\n# TYPE ")
	w.WriteString(f.name)
	w.WriteByte(' ')
	w.WriteString(f.kind.String())
	w.WriteByte('\n')
	for _, s := range f.series {
		if s.hist == nil {
			writeSample(w, f.name, s.labels, "", formatFloat(s.value))
			continue
		}
		for i, c := range s.hist.cumulative {
			writeSample(w, f.name+"_bucket", s.labels, leValues[i], strconv.FormatUint(c, 10))
		}
		writeSample(w, f.name+"_sum", s.labels, "", formatFloat(s.hist.sum.Seconds()))
		writeSample(w, f.name+"_count", s.labels, "", strconv.FormatUint(s.hist.cumulative[len(bucketBounds)], 10))
	}
}

func writeSample(w *bufio.Writer, name, labels, le, value string) {
	w.WriteString(name)
	if labels != "" || le != "" {
		w.WriteByte('{')
		w.WriteString(labels)
		if le != "" {
			if labels != "" {
				w.WriteByte(',')
			}
			w.WriteString(`le="`)
			w.WriteString(le)
			w.WriteByte('"')
		}
		w.WriteByte('}')
	}
	w.WriteByte(' ')
	w.WriteString(value)
	w.WriteByte('\n')
}

func formatFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

var helpEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`)

// escapeHelp escapes a HELP text and replaces invalid UTF-8.
func escapeHelp(s string) string { return helpEscaper.Replace(strings.ToValidUTF8(s, "\uFFFD")) }
