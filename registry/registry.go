// Package registry holds typed registries of named factories. Registries
// hold factories only, never runtime state: extensions register in init()
// and plugins/all lists which extensions the binary links.
package registry

import (
	"fmt"
	"sort"
	"sync"
)

// Registry maps names to factories of type F. It is safe for concurrent
// use; registration normally happens in init().
type Registry[F any] struct {
	kind string
	mu   sync.RWMutex
	m    map[string]F
}

// New returns an empty registry; kind names what it holds in messages
// (for example "network filter").
func New[F any](kind string) *Registry[F] {
	return &Registry[F]{kind: kind, m: make(map[string]F)}
}

// Register adds a factory. It panics on an empty or duplicate name: both
// are programming errors that must fail at start-up, not at first use.
func (r *Registry[F]) Register(name string, f F) {
	if name == "" {
		panic(fmt.Sprintf("registry: empty %s name", r.kind))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.m[name]; dup {
		panic(fmt.Sprintf("registry: %s %q registered twice", r.kind, name))
	}
	r.m[name] = f
}

// Get returns the factory registered under name.
func (r *Registry[F]) Get(name string) (F, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	f, ok := r.m[name]
	return f, ok
}

// Names returns the registered names, sorted.
func (r *Registry[F]) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := make([]string, 0, len(r.m))
	for n := range r.m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Kind returns what the registry holds, for messages.
func (r *Registry[F]) Kind() string { return r.kind }
