package metrics

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// goldenRegistry builds a registry covering every exposition feature:
// kinds, label escaping and sanitizing, sets without labels, histogram
// edges, and the version family.
func goldenRegistry() *Registry {
	r := NewRegistry(nil)
	r.SetCollect(false, false)
	r.SetVersion("1.2.3")
	http := r.Set("downstream", "listener", "http")
	http.Counter("request_total").Add(12)
	http.Gauge("request_active").Set(-3)
	h := http.Histogram("request_time")
	for _, d := range []time.Duration{30 * time.Microsecond, time.Millisecond, 2500 * time.Millisecond, 90 * time.Second} {
		h.Observe(d)
	}
	r.Set("downstream", "listener", "bolt").Counter("request_total").Add(5)
	r.Set("downstream").Counter("request_total").Inc()
	r.Set("upstream", "cluster", "a\"b\\c\nd", "bad-name", "v", "le", "x").Counter("connection.total").Add(7)
	r.Set("upstream", "cluster", "empty").Histogram("rt")
	return r
}

const golden = `# HELP mosn_downstream_request_active MOSN downstream metric request_active.
# TYPE mosn_downstream_request_active gauge
mosn_downstream_request_active{listener="http"} -3
# HELP mosn_downstream_request_time MOSN downstream metric request_time.
# TYPE mosn_downstream_request_time histogram
mosn_downstream_request_time_bucket{listener="http",le="5e-05"} 1
mosn_downstream_request_time_bucket{listener="http",le="0.0001"} 1
mosn_downstream_request_time_bucket{listener="http",le="0.0002"} 1
mosn_downstream_request_time_bucket{listener="http",le="0.0005"} 1
mosn_downstream_request_time_bucket{listener="http",le="0.001"} 2
mosn_downstream_request_time_bucket{listener="http",le="0.002"} 2
mosn_downstream_request_time_bucket{listener="http",le="0.005"} 2
mosn_downstream_request_time_bucket{listener="http",le="0.01"} 2
mosn_downstream_request_time_bucket{listener="http",le="0.02"} 2
mosn_downstream_request_time_bucket{listener="http",le="0.05"} 2
mosn_downstream_request_time_bucket{listener="http",le="0.1"} 2
mosn_downstream_request_time_bucket{listener="http",le="0.2"} 2
mosn_downstream_request_time_bucket{listener="http",le="0.5"} 2
mosn_downstream_request_time_bucket{listener="http",le="1"} 2
mosn_downstream_request_time_bucket{listener="http",le="2"} 2
mosn_downstream_request_time_bucket{listener="http",le="5"} 3
mosn_downstream_request_time_bucket{listener="http",le="10"} 3
mosn_downstream_request_time_bucket{listener="http",le="20"} 3
mosn_downstream_request_time_bucket{listener="http",le="60"} 3
mosn_downstream_request_time_bucket{listener="http",le="+Inf"} 4
mosn_downstream_request_time_sum{listener="http"} 92.50103
mosn_downstream_request_time_count{listener="http"} 4
# HELP mosn_downstream_request_total MOSN downstream metric request_total.
# TYPE mosn_downstream_request_total counter
mosn_downstream_request_total 1
mosn_downstream_request_total{listener="bolt"} 5
mosn_downstream_request_total{listener="http"} 12
# HELP mosn_process_version MOSN proxy version; the value is always 1.
# TYPE mosn_process_version gauge
mosn_process_version{version="1.2.3"} 1
# HELP mosn_upstream_connection_total MOSN upstream metric connection.total.
# TYPE mosn_upstream_connection_total counter
mosn_upstream_connection_total{cluster="a\"b\\c\nd",bad_name="v",exported_le="x"} 7
# HELP mosn_upstream_rt MOSN upstream metric rt.
# TYPE mosn_upstream_rt histogram
mosn_upstream_rt_bucket{cluster="empty",le="5e-05"} 0
mosn_upstream_rt_bucket{cluster="empty",le="0.0001"} 0
mosn_upstream_rt_bucket{cluster="empty",le="0.0002"} 0
mosn_upstream_rt_bucket{cluster="empty",le="0.0005"} 0
mosn_upstream_rt_bucket{cluster="empty",le="0.001"} 0
mosn_upstream_rt_bucket{cluster="empty",le="0.002"} 0
mosn_upstream_rt_bucket{cluster="empty",le="0.005"} 0
mosn_upstream_rt_bucket{cluster="empty",le="0.01"} 0
mosn_upstream_rt_bucket{cluster="empty",le="0.02"} 0
mosn_upstream_rt_bucket{cluster="empty",le="0.05"} 0
mosn_upstream_rt_bucket{cluster="empty",le="0.1"} 0
mosn_upstream_rt_bucket{cluster="empty",le="0.2"} 0
mosn_upstream_rt_bucket{cluster="empty",le="0.5"} 0
mosn_upstream_rt_bucket{cluster="empty",le="1"} 0
mosn_upstream_rt_bucket{cluster="empty",le="2"} 0
mosn_upstream_rt_bucket{cluster="empty",le="5"} 0
mosn_upstream_rt_bucket{cluster="empty",le="10"} 0
mosn_upstream_rt_bucket{cluster="empty",le="20"} 0
mosn_upstream_rt_bucket{cluster="empty",le="60"} 0
mosn_upstream_rt_bucket{cluster="empty",le="+Inf"} 0
mosn_upstream_rt_sum{cluster="empty"} 0
mosn_upstream_rt_count{cluster="empty"} 0
`

func TestExpositionGolden(t *testing.T) {
	var b strings.Builder
	if err := goldenRegistry().WritePrometheus(&b); err != nil {
		t.Fatal(err)
	}
	if got := b.String(); got != golden {
		t.Errorf("exposition differs:\n%s", lineDiff(got, golden))
	}
	if err := checkExposition(b.String()); err != nil {
		t.Error(err)
	}
}

func lineDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	var out strings.Builder
	for i := 0; i < max(len(g), len(w)); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			fmt.Fprintf(&out, "line %d:\n  got  %q\n  want %q\n", i+1, gl, wl)
		}
	}
	return out.String()
}

// runtimeRegistry is the golden registry plus the process and Go families.
func runtimeRegistry(t *testing.T) string {
	t.Helper()
	r := goldenRegistry()
	r.SetCollect(true, true)
	var b strings.Builder
	if err := r.WritePrometheus(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestRuntimeFamilies(t *testing.T) {
	out := runtimeRegistry(t)
	if err := checkExposition(out); err != nil {
		t.Fatal(err)
	}
	want := []string{"go_goroutines", "go_memstats_heap_alloc_bytes"}
	if _, err := readProcSelfStat(); err == nil {
		want = append(want, "process_cpu_seconds_total", "process_resident_memory_bytes")
	} else {
		t.Logf("process families not checked: %v", err)
	}
	for _, name := range want {
		re := regexp.MustCompile(`(?m)^` + name + ` ([0-9.e+]+)$`)
		m := re.FindStringSubmatch(out)
		if m == nil {
			t.Errorf("no sample for %s in\n%s", name, out)
			continue
		}
		if name != "process_cpu_seconds_total" && (m[1] == "0") { // CPU time may round to 0
			t.Errorf("%s = 0", name)
		}
	}
}

func TestProcessFamiliesFromStat(t *testing.T) {
	r := NewRegistry(nil)
	r.SetCollect(true, false)
	r.procStatReader = func() ([]byte, error) {
		return []byte("42 (a) b) R 1 1 1 0 -1 0 0 0 0 0 250 150 0 0 20 0 1 0 100 1000 3 0 0"), nil
	}
	var b strings.Builder
	if err := r.WritePrometheus(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"process_cpu_seconds_total 4\n",
		fmt.Sprintf("process_resident_memory_bytes %d\n", 3*pageSize),
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("exposition lacks %q:\n%s", want, b.String())
		}
	}
	r.procStatReader = func() ([]byte, error) { return nil, errNoProcStat }
	b.Reset()
	if err := r.WritePrometheus(&b); err != nil || strings.Contains(b.String(), "process_") {
		t.Errorf("unreadable stat: exposition = %q, %v; want no process families", b.String(), err)
	}
}

func TestPromtool(t *testing.T) {
	path, err := exec.LookPath("promtool")
	if err != nil {
		t.Skipf("promtool not on PATH (Debian package %q): %v", "prometheus", err)
	}
	// MOSN names some counters without _total (request_retry); promtool's
	// linter flags those, and only those lint problems are accepted.
	r := goldenRegistry()
	r.SetCollect(true, true)
	r.Set("upstream", "cluster", "c").Counter("request_retry").Inc()
	var b strings.Builder
	if err := r.WritePrometheus(&b); err != nil {
		t.Fatal(err)
	}
	if out, err := promtoolCheck(path, b.String()); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 3 {
			t.Fatalf("promtool check metrics: %v\n%s", err, out)
		}
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			if !strings.Contains(line, `counter metrics should have "_total" suffix`) {
				t.Errorf("promtool lint problem: %s", line)
			}
		}
	}
	// promtool must reject what is broken, or passing proves nothing.
	if out, err := promtoolCheck(path, "# TYPE x_total counter\nx_total{a=\"1\",a=\"2\"} 1\n"); err == nil {
		t.Errorf("promtool accepted a repeated label: %s", out)
	}
}

func promtoolCheck(path, text string) (string, error) {
	cmd := exec.Command(path, "check", "metrics")
	cmd.Stdin = strings.NewReader(text)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestHandler(t *testing.T) {
	r := goldenRegistry()
	srv := httptest.NewServer(r.Handler())
	t.Cleanup(srv.Close)

	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != ContentType {
		t.Errorf("status %d, Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if string(body) != golden {
		t.Errorf("body differs:\n%s", lineDiff(string(body), golden))
	}

	resp, err = http.Post(srv.URL+"/metrics", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST status = %d, want 405", resp.StatusCode)
	}
}

// The text format's lines, checked without a parser.
var (
	reName     = `[a-zA-Z_:][a-zA-Z0-9_:]*`
	reLabel    = `[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"`
	reValue    = `(?:[+-]?(?:[0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?|Inf)|NaN)`
	reHelp     = regexp.MustCompile(`^# HELP (` + reName + `) (?:[^\\\n]|\\[\\n])*$`)
	reType     = regexp.MustCompile(`^# TYPE (` + reName + `) (counter|gauge|histogram|summary|untyped)$`)
	reSample   = regexp.MustCompile(`^(` + reName + `)(\{(?:` + reLabel + `(?:,` + reLabel + `)*)?\})? (` + reValue + `)$`)
	reLabelOne = regexp.MustCompile(reLabel)
)

// checkExposition checks every line against the format's regexps, and the
// family structure: HELP then TYPE once per family, families sorted,
// samples named after the current family, no repeated label name, and
// histograms with an le on every bucket ending in +Inf.
func checkExposition(text string) error {
	if text == "" {
		return nil
	}
	if !strings.HasSuffix(text, "\n") {
		return fmt.Errorf("no final newline")
	}
	if !utf8.ValidString(text) {
		return fmt.Errorf("invalid UTF-8")
	}
	seen := map[string]bool{}
	var fam, typ, help, last string
	for i, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		n := i + 1
		if m := reHelp.FindStringSubmatch(line); m != nil {
			if seen[m[1]] {
				return fmt.Errorf("line %d: family %s repeated", n, m[1])
			}
			if m[1] < last {
				return fmt.Errorf("line %d: family %s after %s: not sorted", n, m[1], last)
			}
			seen[m[1]], help, fam, typ, last = true, m[1], "", "", m[1]
			continue
		}
		if m := reType.FindStringSubmatch(line); m != nil {
			if m[1] != help || fam != "" {
				return fmt.Errorf("line %d: TYPE %s not right after its HELP", n, m[1])
			}
			fam, typ = m[1], m[2]
			continue
		}
		m := reSample.FindStringSubmatch(line)
		if m == nil {
			return fmt.Errorf("line %d: not a valid line: %q", n, line)
		}
		name, labels := m[1], m[2]
		names := map[string]bool{}
		for _, l := range reLabelOne.FindAllString(labels, -1) {
			ln := l[:strings.IndexByte(l, '=')]
			if names[ln] {
				return fmt.Errorf("line %d: label %s repeated", n, ln)
			}
			names[ln] = true
		}
		switch {
		case fam == "":
			return fmt.Errorf("line %d: sample before any TYPE", n)
		case typ == "histogram" && name == fam+"_bucket":
			if !names["le"] {
				return fmt.Errorf("line %d: bucket without le", n)
			}
		case typ == "histogram" && (name == fam+"_sum" || name == fam+"_count"):
			if names["le"] {
				return fmt.Errorf("line %d: le outside a bucket", n)
			}
		case name != fam || typ == "histogram":
			return fmt.Errorf("line %d: sample %s in family %s (%s)", n, name, fam, typ)
		}
	}
	return nil
}

func TestCheckExpositionRejects(t *testing.T) {
	// The checker must be able to fail, or the other tests prove nothing.
	bad := []string{
		"x 1",   // no final newline
		"x 1\n", // sample before TYPE
		"# HELP x h\n# TYPE x counter\nx{a=\"1\",a=\"2\"} 1\n",
		"# HELP x h\n# TYPE x counter\nx{a=\"\n\"} 1\n",
		"# HELP x h\n# TYPE x counter\nx{a=\"\\q\"} 1\n",
		"# HELP x h\n# TYPE x counter\nx{1a=\"v\"} 1\n",
		"# HELP x h\n# TYPE x counter\ny 1\n",
		"# HELP x h\n# TYPE x counter\nx one\n",
		"# HELP y h\n# TYPE y counter\n# HELP x h\n# TYPE x counter\n",
		"# HELP x h\n# TYPE x counter\n# HELP x h\n# TYPE x counter\n",
		"# HELP x h\n# TYPE x histogram\nx_bucket 1\n",
		"# HELP x h\n# TYPE x wrong\n",
	}
	for _, text := range bad {
		if checkExposition(text) == nil {
			t.Errorf("accepted %q", text)
		}
	}
}

func FuzzExposition(f *testing.F) {
	f.Add("downstream", "request_total", "listener", "http")
	f.Add("up.stream", "a-b", "le", "x\"y\\z\nw")
	f.Add("", "", "", "")
	f.Add("9", "\xff", "__x", "\xc3")
	f.Fuzz(func(t *testing.T, typ, key, label, value string) {
		r := NewRegistry(nil)
		r.SetCollect(false, false)
		r.SetVersion(value)
		s := r.Set(typ, label, value)
		s.Counter(key).Inc()
		s.Gauge(key + "g").Set(-1)
		s.Histogram(key + "h").Observe(time.Millisecond)
		r.Set(typ).Counter(key).Inc()
		var b bytes.Buffer
		if err := r.WritePrometheus(&b); err != nil {
			t.Fatal(err)
		}
		if err := checkExposition(b.String()); err != nil {
			t.Fatalf("%v\n%s", err, b.String())
		}
		_ = r.StatsJSON()
		_ = r.StatsGlob()
	})
}
