// Package router holds the proxy's route tables: the compiled form of a
// server's "routers" config, matched against HTTP/1, HTTP/2 and RPC (bolt,
// dubbo) requests. It is pure: no I/O, no goroutines, no locks. A Table is
// immutable after Build and safe for concurrent use; so are its Routes.
//
// The matching rules and the differences from MOSN and Envoy are described
// in README.md beside this file.
package router

// Request is what matching and the route actions read from a request, so
// that HTTP and RPC requests share one table. Implementations should not
// allocate in these methods: Match calls them on every request.
type Request interface {
	// Host is the request authority (HTTP Host or :authority), possibly
	// with a port. RPC requests usually return "".
	Host() string
	// Path is the request path without the query string ("" for RPC).
	Path() string
	// Query is the query string without the leading '?' ("" for none).
	Query() string
	// Method is the HTTP method, or the RPC method name when the protocol
	// has one.
	Method() string
	// Header returns a request header. HTTP implementations match the name
	// case-insensitively; RPC implementations look the name up in the
	// protocol's header map as is.
	Header(name string) (string, bool)
}

// Schemer is optionally implemented by a Request to give the scheme
// ("http" or "https") of the downstream request; Redirect uses it to keep
// the original scheme. Without it, Redirect reads the x-forwarded-proto
// header and falls back to "http".
type Schemer interface {
	Scheme() string
}

// VariableGetter is optionally implemented by a Request to resolve MOSN
// variables; Route.Cluster uses it for cluster_variable.
type VariableGetter interface {
	Variable(name string) (string, bool)
}

// HeaderSetter is the header map that HeaderOps.Apply mutates.
type HeaderSetter interface {
	Get(name string) (string, bool)
	// Set replaces every value of the header.
	Set(name, value string)
	// Add appends a value, keeping the existing ones.
	Add(name, value string)
	Del(name string)
}

// HeaderAdd is one header to add.
type HeaderAdd struct {
	Name  string
	Value string
	// Append adds the value next to existing ones (HeaderSetter.Add); when
	// false the value replaces them (HeaderSetter.Set).
	Append bool
}

// HeaderOps is a list of header mutations: removals, then additions, in
// order. Values are literal: MOSN's %variable% references are not
// expanded (a later layer may do it).
type HeaderOps struct {
	Add    []HeaderAdd
	Remove []string
}

// Empty reports whether there is nothing to do.
func (o HeaderOps) Empty() bool { return len(o.Add) == 0 && len(o.Remove) == 0 }

// Apply removes the headers of o.Remove, then adds those of o.Add in order,
// so that a header both removed and added ends up with the added value.
func (o HeaderOps) Apply(h HeaderSetter) {
	for _, name := range o.Remove {
		h.Del(name)
	}
	for _, a := range o.Add {
		if a.Append {
			h.Add(a.Name, a.Value)
		} else {
			h.Set(a.Name, a.Value)
		}
	}
}
