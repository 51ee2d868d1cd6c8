package log

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func newTestManager(t *testing.T) *Manager {
	t.Helper()
	m := NewManager()
	t.Cleanup(func() { m.Close() })
	return m
}

func TestManagerGetReturnsOneLoggerPerPath(t *testing.T) {
	m := newTestManager(t)
	dir := t.TempDir()
	a1, err := m.Get(filepath.Join(dir, "a.log"))
	if err != nil {
		t.Fatal(err)
	}
	a2, err := m.Get(filepath.Join(dir, "a.log"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.Get(filepath.Join(dir, "b.log"))
	if err != nil {
		t.Fatal(err)
	}
	if a1 != a2 {
		t.Error("Get twice with the same path returned different loggers")
	}
	if a1 == b {
		t.Error("different paths share a logger")
	}
}

func TestManagerLoggersAndSetLevel(t *testing.T) {
	m := newTestManager(t)
	dir := t.TempDir()
	pa, pb := filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log")
	a, _ := m.Get(pa)
	if _, err := m.Get(pb); err != nil {
		t.Fatal(err)
	}
	if err := m.SetLevel(pa, DEBUG); err != nil {
		t.Fatal(err)
	}
	if a.Level() != DEBUG {
		t.Errorf("level after SetLevel = %v", a.Level())
	}
	got := m.Loggers()
	if len(got) != 2 || got[pa] != DEBUG || got[pb] != INFO {
		t.Errorf("Loggers() = %v", got)
	}

	if err := m.SetLevel(filepath.Join(dir, "unknown.log"), DEBUG); err == nil {
		t.Error("SetLevel on an unknown path succeeded")
	}
	if _, err := os.Stat(filepath.Join(dir, "unknown.log")); !os.IsNotExist(err) {
		t.Error("SetLevel on an unknown path created a file")
	}
	if len(m.Loggers()) != 2 {
		t.Error("SetLevel on an unknown path registered a logger")
	}
	if err := m.SetLevel(pa, Level(17)); err == nil {
		t.Error("SetLevel with an invalid level succeeded")
	}
}

func TestManagerEnableDisable(t *testing.T) {
	m := newTestManager(t)
	p := filepath.Join(t.TempDir(), "a.log")
	l, _ := m.Get(p)
	if err := m.Disable(p); err != nil {
		t.Fatal(err)
	}
	if !l.Disabled() {
		t.Error("Disable(path) did not disable the logger")
	}
	if err := m.Enable(p); err != nil {
		t.Fatal(err)
	}
	if l.Disabled() {
		t.Error("Enable(path) did not enable the logger")
	}
	if m.Disable("nope") == nil || m.Enable("nope") == nil {
		t.Error("Enable/Disable on an unknown path succeeded")
	}
}

func TestManagerDefault(t *testing.T) {
	m := newTestManager(t)
	d := m.Default()
	if d == nil || d.Path() != "stderr" {
		t.Fatalf("lazy default = %v", d)
	}
	if d2 := m.Default(); d2 != d {
		t.Error("Default() not stable")
	}
	if _, ok := m.Loggers()["stderr"]; !ok {
		t.Error("lazy default not registered (admin API could not change its level)")
	}
	f, err := m.Get(filepath.Join(t.TempDir(), "default.log"))
	if err != nil {
		t.Fatal(err)
	}
	m.SetDefault(f)
	if m.Default() != f {
		t.Error("SetDefault not honoured")
	}
}

func TestManagerReopenAll(t *testing.T) {
	m := newTestManager(t)
	dir := t.TempDir()
	pa, pb := filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log")
	a, _ := m.Get(pa)
	b, _ := m.Get(pb)
	if _, err := m.Get("stdout"); err != nil {
		t.Fatal(err)
	}
	a.Infof("a1")
	b.Infof("b1")
	for _, p := range []string{pa, pb} {
		if err := os.Rename(p, p+".old"); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.ReopenAll(); err != nil {
		t.Fatalf("ReopenAll: %v", err)
	}
	a.Infof("a2")
	b.Infof("b2")
	for _, c := range []struct{ path, want string }{
		{pa + ".old", "a1"}, {pa, "a2"}, {pb + ".old", "b1"}, {pb, "b2"},
	} {
		got := lines(t, readFile(t, c.path))
		if len(got) != 1 || !strings.HasSuffix(got[0], "[INFO] "+c.want) {
			t.Errorf("%s = %q, want one line %q", c.path, got, c.want)
		}
	}
}

func TestManagerClose(t *testing.T) {
	m := NewManager()
	p := filepath.Join(t.TempDir(), "a.log")
	a, _ := m.Get(p)
	m.SetDefault(a)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if len(m.Loggers()) != 0 {
		t.Error("Close did not forget loggers")
	}
	if m.Default() == a {
		t.Error("closed default logger still the default")
	}
	a2, err := m.Get(p)
	if err != nil {
		t.Fatal(err)
	}
	if a2 == a {
		t.Error("Get after Close returned the closed logger")
	}
	a2.Infof("x")
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if got := lines(t, readFile(t, p)); len(got) != 1 {
		t.Errorf("file = %q", got)
	}
}
