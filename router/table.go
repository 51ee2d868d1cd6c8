package router

// Table is one compiled router config (a "routers" entry), selected by its
// router_config_name. It is immutable and safe for concurrent use.
type Table struct {
	name   string
	vhosts []*vhost

	// exact is keyed by "host" (any port) and "host:port".
	exact map[string]*vhost
	// suffix and prefix hold the wildcard domains by port; "" is any port.
	suffix map[string]*wildIndex
	prefix map[string]*wildIndex
	// portDefault holds "*:port" domains; def is "*".
	portDefault map[string]*vhost
	def         *vhost
	// onlyDefault skips reading the host when "*" is the only domain, the
	// usual RPC sidecar table.
	onlyDefault bool
}

// wildIndex finds the longest wildcard domain of one kind matching a host.
// Domains sit in a map keyed by their fixed part; lens lists the distinct
// key lengths, longest first, so a lookup costs one map probe per length.
type wildIndex struct {
	m    map[string]*vhost
	lens []int
}

// suffixMatch finds the longest "*suffix" with at least one host byte
// matched by the star.
func (w *wildIndex) suffixMatch(host string) *vhost {
	for _, n := range w.lens {
		if n >= len(host) {
			continue
		}
		if v := w.m[host[len(host)-n:]]; v != nil {
			return v
		}
	}
	return nil
}

// prefixMatch finds the longest "prefix*" with at least one host byte
// matched by the star.
func (w *wildIndex) prefixMatch(host string) *vhost {
	for _, n := range w.lens {
		if n >= len(host) {
			continue
		}
		if v := w.m[host[:n]]; v != nil {
			return v
		}
	}
	return nil
}

// vhost is a compiled virtual host: its routes as a list of steps.
type vhost struct {
	name  string
	steps []step
	// routes are all the routes in config order, for inspection.
	routes []*Route
}

// step is either one route, matched in full, or an index of a run of
// consecutive routes that each test one string for equality: exact-path
// routes without header matchers (keyed by path), or header-only routes
// with one exact header matcher on the same header (keyed by its value,
// e.g. bolt's "service"). A run keeps the first route of each key, so the
// index answers exactly as trying the run in order would, and steps keep
// the config order around it.
type step struct {
	route *Route
	index map[string]*Route
	// header names the header whose value is the key; "" keys by path.
	header string
	// fold: the path index keys are lower case and the path is lowered to
	// look them up.
	fold bool
}

// minPathRun and minHeaderRun are the shortest runs worth a map: below
// them, comparing a few strings beats hashing. A header run pays off
// sooner as it saves a header lookup per route.
const (
	minPathRun   = 8
	minHeaderRun = 4
)

// Name is the table's router_config_name.
func (t *Table) Name() string { return t.name }

// Match returns the first route of the selected virtual host matching req,
// or nil when no virtual host or no route matches (the caller answers 404,
// or the RPC protocol's "no processor" status).
func (t *Table) Match(req Request) *Route {
	v := t.selectVHost(req)
	if v == nil {
		return nil
	}
	return v.match(req)
}

func (v *vhost) match(req Request) *Route {
	path := req.Path()
	var lowered string
	loweredDone := false
	for i := range v.steps {
		s := &v.steps[i]
		if s.index == nil {
			if s.route.m.match(req, path) {
				return s.route
			}
			continue
		}
		key := path
		switch {
		case s.header != "":
			v, ok := req.Header(s.header)
			if !ok {
				continue
			}
			key = v
		case s.fold:
			if !loweredDone {
				lowered, loweredDone = lowerASCII(path), true
			}
			key = lowered
		}
		if r := s.index[key]; r != nil {
			return r
		}
	}
	return nil
}

// selectVHost picks the virtual host by the request host: exact name with
// the port, exact name for any port, longest "*suffix" (for the port, then
// any port), longest "prefix*" (likewise), "*:port", then "*". Host names
// compare case-insensitively.
func (t *Table) selectVHost(req Request) *vhost {
	if t.onlyDefault {
		return t.def
	}
	hostport := lowerASCII(req.Host())
	host, port := splitHostPort(hostport)
	if port != "" {
		if v := t.exact[hostport]; v != nil {
			return v
		}
	}
	if v := t.exact[host]; v != nil {
		return v
	}
	if len(t.suffix) > 0 {
		if port != "" {
			if w := t.suffix[port]; w != nil {
				if v := w.suffixMatch(host); v != nil {
					return v
				}
			}
		}
		if w := t.suffix[""]; w != nil {
			if v := w.suffixMatch(host); v != nil {
				return v
			}
		}
	}
	if len(t.prefix) > 0 {
		if port != "" {
			if w := t.prefix[port]; w != nil {
				if v := w.prefixMatch(host); v != nil {
					return v
				}
			}
		}
		if w := t.prefix[""]; w != nil {
			if v := w.prefixMatch(host); v != nil {
				return v
			}
		}
	}
	if port != "" {
		if v := t.portDefault[port]; v != nil {
			return v
		}
	}
	return t.def
}
