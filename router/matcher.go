package router

import (
	"regexp"
	"strings"
)

type matchKind uint8

const (
	// matchAny has no path criterion: MOSN's "RPC rule", matched by its
	// headers alone (or every request when it has none).
	matchAny matchKind = iota
	matchPrefix
	matchPath
	matchRegex
)

// matcher is a route's match: one path criterion and header matchers that
// must all match.
type matcher struct {
	kind matchKind
	// value is the prefix or path, lower-cased when fold.
	value   string
	fold    bool
	re      *regexp.Regexp
	headers []headerMatcher
}

// headerSource says where a header matcher reads its value from.
type headerSource uint8

const (
	fromHeader headerSource = iota
	fromMethod
	fromPath
	fromHost
)

type headerMatcher struct {
	name  string
	src   headerSource
	value string
	re    *regexp.Regexp
	// anyValue is MOSN's legacy RPC fast match: a rule whose only header
	// is "service" with the value ".*" matches any non-empty service.
	anyValue bool
}

func (h *headerMatcher) match(req Request) bool {
	var v string
	switch h.src {
	case fromMethod:
		v = req.Method()
	case fromPath:
		v = req.Path()
	case fromHost:
		v = req.Host()
	default:
		var ok bool
		if v, ok = req.Header(h.name); !ok {
			return false
		}
	}
	switch {
	case h.anyValue:
		return v != ""
	case h.re != nil:
		return h.re.MatchString(v)
	}
	return v == h.value
}

// matchPathOnly checks the path criterion alone.
func (m *matcher) matchPathOnly(path string) bool {
	switch m.kind {
	case matchPrefix:
		if m.fold {
			return hasPrefixFold(path, m.value)
		}
		return strings.HasPrefix(path, m.value)
	case matchPath:
		if m.fold {
			return equalFold(path, m.value)
		}
		return path == m.value
	case matchRegex:
		return m.re.MatchString(path)
	}
	return true
}

func (m *matcher) match(req Request, path string) bool {
	if !m.matchPathOnly(path) {
		return false
	}
	for i := range m.headers {
		if !m.headers[i].match(req) {
			return false
		}
	}
	return true
}

// matchedLen is the length of the path part that prefix_rewrite replaces:
// the prefix of a prefix route, the whole path of a path route. ok is false
// when path does not match or the route has no such part.
func (m *matcher) matchedLen(path string) (n int, ok bool) {
	switch m.kind {
	case matchPrefix, matchPath:
		if m.matchPathOnly(path) {
			return len(m.value), true
		}
	}
	return 0, false
}
