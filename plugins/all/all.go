// Package all links every built-in extension into the binary. It is the
// one list of what a default build contains.
package all

import (
	// Load balancers: LB_RANDOM, LB_ROUNDROBIN, LB_WEIGHTED_ROUNDROBIN, ...
	_ "mosn.dev/proxy/upstream/lb"
	// Network filters.
	_ "mosn.dev/proxy/tcpproxy"
	// The L7 proxy (HTTP/1.1 today).
	_ "mosn.dev/proxy/proxy"
	// Stream filters.
	_ "mosn.dev/proxy/filter/fault"
	_ "mosn.dev/proxy/filter/headertometadata"
	_ "mosn.dev/proxy/filter/ipaccess"
	_ "mosn.dev/proxy/filter/payloadlimit"
)
