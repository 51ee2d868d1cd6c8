// Package upstream is the upstream side of the proxy: hosts, immutable host
// sets, clusters, the cluster manager, upstream dialing and the load-balancer
// registry.
//
// Reads on the data path never take a lock: a Cluster publishes an immutable
// snapshot (its config, HostSet and the Balancer built for that HostSet)
// through an atomic.Pointer, and the Manager publishes its name-to-Cluster
// map the same way. Writers (config updates, health changes) build a new
// snapshot under a mutex and swap it in.
//
// The balancers themselves live in package upstream/lb, which registers them
// by lb_type name with RegisterBalancer in its init function; this package
// does not import it, so a binary must link it (plugins/all does).
package upstream
