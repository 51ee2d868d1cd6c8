package log

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// Manager owns the error loggers of one process: one Logger per path, plus
// the default logger. The admin API reads and changes levels through it
// (get_loglevel, update_loglevel, enable_log, disable_log), and the
// application calls ReopenAll on SIGUSR1. Its methods are safe for
// concurrent use.
type Manager struct {
	mu      sync.Mutex
	loggers map[string]*Logger
	def     atomic.Pointer[Logger]
}

// NewManager returns an empty manager.
func NewManager() *Manager {
	return &Manager{loggers: make(map[string]*Logger)}
}

// Get returns the logger for path, opening it at DefaultLevel the first time.
// Every call with the same path returns the same *Logger.
func (m *Manager) Get(path string) (*Logger, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if l, ok := m.loggers[path]; ok {
		return l, nil
	}
	l, err := Open(path)
	if err != nil {
		return nil, err
	}
	m.loggers[path] = l
	return l, nil
}

// Default returns the default logger: the one given to SetDefault or, until
// then, the logger for "stderr" (created and registered on first use).
func (m *Manager) Default() *Logger {
	if l := m.def.Load(); l != nil {
		return l
	}
	// Opening standard error cannot fail.
	l, _ := m.Get("stderr")
	m.def.CompareAndSwap(nil, l)
	return m.def.Load()
}

// SetDefault makes l the default logger. A nil l resets to the lazy
// standard-error default.
func (m *Manager) SetDefault(l *Logger) { m.def.Store(l) }

// Loggers returns each registered path with its configured level.
func (m *Manager) Loggers() map[string]Level {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]Level, len(m.loggers))
	for p, l := range m.loggers {
		out[p] = l.Level()
	}
	return out
}

func (m *Manager) lookup(path string) (*Logger, error) {
	m.mu.Lock()
	l, ok := m.loggers[path]
	m.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("log: no logger for path %q", path)
	}
	return l, nil
}

// SetLevel changes the level of the logger at path; an unknown path is an
// error and creates nothing.
func (m *Manager) SetLevel(path string, lvl Level) error {
	if !lvl.valid() {
		return fmt.Errorf("log: invalid level %d", int32(lvl))
	}
	l, err := m.lookup(path)
	if err != nil {
		return err
	}
	l.SetLevel(lvl)
	return nil
}

// Enable re-enables the logger at path; an unknown path is an error.
func (m *Manager) Enable(path string) error {
	l, err := m.lookup(path)
	if err != nil {
		return err
	}
	l.Enable()
	return nil
}

// Disable disables the logger at path; an unknown path is an error.
func (m *Manager) Disable(path string) error {
	l, err := m.lookup(path)
	if err != nil {
		return err
	}
	l.Disable()
	return nil
}

func (m *Manager) snapshot() []*Logger {
	m.mu.Lock()
	defer m.mu.Unlock()
	ls := make([]*Logger, 0, len(m.loggers))
	for _, l := range m.loggers {
		ls = append(ls, l)
	}
	return ls
}

// ReopenAll reopens every file output (see Logger.Reopen) and returns the
// joined errors; a logger that fails keeps its old file.
func (m *Manager) ReopenAll() error {
	var errs []error
	for _, l := range m.snapshot() {
		if err := l.Reopen(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", l.Path(), err))
		}
	}
	return errors.Join(errs...)
}

// Close closes every registered logger and forgets them; a later Get opens a
// new one. If the default logger was one of them, the default reverts to the
// lazy standard-error logger; a default that was never registered (from New)
// is kept.
func (m *Manager) Close() error {
	m.mu.Lock()
	ls := m.loggers
	m.loggers = make(map[string]*Logger)
	m.mu.Unlock()
	var errs []error
	for p, l := range ls {
		m.def.CompareAndSwap(l, nil)
		if err := l.Close(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p, err))
		}
	}
	return errors.Join(errs...)
}
