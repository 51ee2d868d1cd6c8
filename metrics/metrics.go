// Package metrics is the proxy's metric registry and its Prometheus text
// exposition, with MOSN's naming: metrics live in sets keyed by a type and
// labels (for example type "downstream" with label listener="http"), and a
// metric key such as "request_total" in set type "downstream" is exported as
// mosn_downstream_request_total.
//
// Registering is rare and takes a lock; the data path keeps the *Counter,
// *Gauge and *Histogram pointers it obtained once, so recording a value is a
// single atomic operation (two for a histogram). A nil metric pointer is a
// valid no-op metric: it is what a stats matcher's rejection returns.
package metrics

import (
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"mosn.dev/proxy/config"
)

// kind is the Prometheus family type of a metric.
type kind uint8

const (
	kindNone kind = iota // rejected: the entry only caches the rejection
	kindCounter
	kindGauge
	kindHistogram
)

func (k kind) String() string {
	switch k {
	case kindCounter:
		return "counter"
	case kindGauge:
		return "gauge"
	case kindHistogram:
		return "histogram"
	}
	return "untyped"
}

// Registry holds every metric set of one proxy instance. It is passed to
// the components that record metrics; there is no global registry. The zero
// value is not usable: call NewRegistry.
type Registry struct {
	rejectAll  bool
	exclKeys   map[string]struct{}
	exclLabels map[string]struct{}
	noop       *Set // returned by Set when every metric is rejected

	sets sync.Map // set key (see setKey) -> *Set; lock-free lookups

	mu       sync.Mutex          // serialises creation of sets and metrics
	families map[string]kind     // exported family name -> its type
	series   map[string]struct{} // family + "\xff" + rendered labels, to refuse duplicates

	version        atomic.Pointer[string]
	noProcess      atomic.Bool
	noGoRuntime    atomic.Bool
	procStatReader func() ([]byte, error) // replaced in tests
}

// NewRegistry returns an empty registry filtered by m; a nil m keeps every
// metric. With m.RejectAll every Counter, Gauge and Histogram is a no-op
// (nil) metric. m.ExclusionKeys rejects metrics by key (exact match, e.g.
// "request_total"). m.ExclusionLabels drops the named labels from every set,
// so sets that differ only in those labels become the same *Set. Process and
// Go runtime families are exported regardless of m (see SetCollect).
func NewRegistry(m *config.StatsMatcher) *Registry {
	r := &Registry{
		families:       make(map[string]kind),
		series:         make(map[string]struct{}),
		procStatReader: readProcSelfStat,
	}
	r.noop = &Set{r: r, noop: true}
	if m != nil {
		r.rejectAll = m.RejectAll
		if len(m.ExclusionKeys) > 0 {
			r.exclKeys = make(map[string]struct{}, len(m.ExclusionKeys))
			for _, k := range m.ExclusionKeys {
				r.exclKeys[k] = struct{}{}
			}
		}
		if len(m.ExclusionLabels) > 0 {
			r.exclLabels = make(map[string]struct{}, len(m.ExclusionLabels))
			for _, l := range m.ExclusionLabels {
				r.exclLabels[l] = struct{}{}
			}
		}
	}
	return r
}

// SetVersion sets the proxy version exported as
// mosn_process_version{version="..."} 1. The family is omitted while the
// version is empty, which is the default.
func (r *Registry) SetVersion(v string) { r.version.Store(&v) }

// SetCollect chooses whether the exposition includes the process families
// (process_cpu_seconds_total, process_resident_memory_bytes) and the Go
// runtime families (go_goroutines, go_memstats_heap_alloc_bytes), like
// MOSN's disable_collect_process and disable_collect_go. Both default to true.
func (r *Registry) SetCollect(process, goRuntime bool) {
	r.noProcess.Store(!process)
	r.noGoRuntime.Store(!goRuntime)
}

// Set returns the metric set of type typ with labels given as name, value
// pairs, e.g. Set("downstream", "listener", "http"). The same arguments give
// the same *Set; label order matters. A missing final value is taken as "".
// Labels named in the matcher's ExclusionLabels are dropped first. Repeated
// label names keep the first pair.
func (r *Registry) Set(typ string, labels ...string) *Set {
	if r.rejectAll {
		return r.noop
	}
	labels = r.filterLabels(labels)
	key := setKey(typ, labels)
	if s, ok := r.sets.Load(key); ok {
		return s.(*Set)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if s, ok := r.sets.Load(key); ok {
		return s.(*Set)
	}
	s := newSet(r, typ, labels)
	r.sets.Store(key, s)
	return s
}

// filterLabels returns labels as complete pairs without excluded or
// repeated names. It copies so that callers may reuse their slice.
func (r *Registry) filterLabels(in []string) []string {
	out := make([]string, 0, len(in)+len(in)%2)
	for i := 0; i < len(in); i += 2 {
		name, value := in[i], ""
		if i+1 < len(in) {
			value = in[i+1]
		}
		if _, ok := r.exclLabels[name]; ok {
			continue
		}
		dup := false
		for j := 0; j < len(out); j += 2 {
			if out[j] == name {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, name, value)
		}
	}
	return out
}

// setKey encodes typ and labels unambiguously (length-prefixed).
func setKey(typ string, labels []string) string {
	var b strings.Builder
	for _, s := range append([]string{typ}, labels...) {
		b.WriteString(strconv.Itoa(len(s)))
		b.WriteByte(':')
		b.WriteString(s)
	}
	return b.String()
}

// Set is the group of metrics sharing one type and one label set. Its
// methods are safe for concurrent use; a nil *Set returns no-op metrics.
type Set struct {
	r          *Registry
	typ        string
	labels     []string // name, value pairs after filtering
	promLabels string   // rendered `a="x",b="y"` with sanitized names
	noop       bool

	metrics sync.Map // key -> *entry
}

// entry is one key of a set. Exactly one of c, g, h is set unless the key
// was rejected, in which case all are nil and lookups stay cached.
type entry struct {
	kind   kind
	family string
	c      *Counter
	g      *Gauge
	h      *Histogram
}

func newSet(r *Registry, typ string, labels []string) *Set {
	s := &Set{r: r, typ: typ, labels: labels}
	var b strings.Builder
	seen := make(map[string]bool, len(labels)/2)
	for i := 0; i < len(labels); i += 2 {
		name := labelName(labels[i])
		if seen[name] { // distinct raw names may sanitize alike
			continue
		}
		seen[name] = true
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(name)
		b.WriteString(`="`)
		b.WriteString(escapeLabelValue(labels[i+1]))
		b.WriteByte('"')
	}
	s.promLabels = b.String()
	return s
}

// Type returns the set's type, e.g. "downstream".
func (s *Set) Type() string {
	if s == nil {
		return ""
	}
	return s.typ
}

// Labels returns a copy of the set's label pairs after filtering.
func (s *Set) Labels() []string {
	if s == nil {
		return nil
	}
	return append([]string(nil), s.labels...)
}

// Counter returns the counter named key, creating it at zero. It returns
// nil (a no-op counter) when the matcher rejects key, or when the exported
// name is already used by a metric of another type or by an identical series.
func (s *Set) Counter(key string) *Counter { return s.get(key, kindCounter).c }

// Gauge returns the gauge named key, creating it at zero; nil as for Counter.
func (s *Set) Gauge(key string) *Gauge { return s.get(key, kindGauge).g }

// Histogram returns the latency histogram named key, creating it empty; nil
// as for Counter.
func (s *Set) Histogram(key string) *Histogram { return s.get(key, kindHistogram).h }

var rejected = &entry{}

func (s *Set) get(key string, k kind) *entry {
	if s == nil || s.noop {
		return rejected
	}
	if e, ok := s.metrics.Load(key); ok {
		return e.(*entry)
	}
	r := s.r
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := s.metrics.Load(key); ok {
		return e.(*entry)
	}
	e := r.newEntry(s, key, k)
	s.metrics.Store(key, e)
	return e
}

// newEntry applies the matcher and the exposition's uniqueness rules.
// r.mu must be held.
func (r *Registry) newEntry(s *Set, key string, k kind) *entry {
	if _, ok := r.exclKeys[key]; ok {
		return rejected
	}
	fam := familyName(s.typ, key)
	if fk, ok := r.families[fam]; ok && fk != k {
		return rejected
	}
	sk := fam + "\xff" + s.promLabels
	if _, ok := r.series[sk]; ok {
		return rejected
	}
	r.families[fam] = k
	r.series[sk] = struct{}{}
	e := &entry{kind: k, family: fam}
	switch k {
	case kindCounter:
		e.c = new(Counter)
	case kindGauge:
		e.g = new(Gauge)
	case kindHistogram:
		e.h = new(Histogram)
	}
	return e
}

// familyName is the exported name of key in sets of type typ.
func familyName(typ, key string) string {
	return sanitizeName("mosn_" + typ + "_" + key)
}

// sanitizeName maps every byte outside [a-zA-Z0-9_] to '_'. Callers add a
// non-digit prefix, so the result is a valid metric name.
func sanitizeName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			b[i] = '_'
		}
	}
	return string(b)
}

// labelName makes a valid Prometheus label name: sanitized, not empty, not
// starting with a digit, and not "le" (reserved by histogram buckets).
func labelName(s string) string {
	n := sanitizeName(s)
	if n == "" || n[0] >= '0' && n[0] <= '9' {
		n = "_" + n
	}
	if n == "le" {
		n = "exported_le"
	}
	return n
}

// labelValueEscaper escapes a label value for the text format.
var labelValueEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

// escapeLabelValue escapes s and replaces invalid UTF-8, which the text
// format does not allow.
func escapeLabelValue(s string) string {
	return labelValueEscaper.Replace(strings.ToValidUTF8(s, "\uFFFD"))
}
