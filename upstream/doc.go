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
//
// # Subset load balancing
//
// A cluster whose lb_subset_config has subset_selectors divides its hosts
// by their "mosn.lb" metadata, as MOSN and Envoy do. For each selector (a
// set of keys) every distinct tuple of values that hosts carry for those
// keys is a subset, and each subset with a healthy host gets its own
// balancer of the cluster's lb_type; all are built with the snapshot, so a
// host update or health change rebuilds them and Pick only looks one up
// (no scan, and no allocation unless the values of a multi-key match
// total more than about 120 bytes). A request's LBContext.MetadataMatch selects a subset only
// when its key set equals a selector's; a match with other keys, values no
// healthy host carries, or an empty match (a route without metadata_match)
// takes the fall_back_policy: 0 picks nothing, 1 picks among all healthy
// hosts, 2 among the healthy hosts holding every pair of default_subset
// (all hosts when it is empty). Without selectors MetadataMatch is
// ignored, and LB_ORIGINAL_DST ignores lb_subset_config altogether.
//
// # Outlier detection
//
// A cluster with outlier_detection ejects a host after consecutive_errors
// failed results in a row, reported by the proxy with ReportResult (Dial
// reports failed connects itself). Ejection is a flag of the host's shared
// state beside its health flag; a snapshot's healthy list holds the hosts
// that are healthy and not ejected, so every balancer and subset skips an
// ejected host with no cost on Pick. An ejection publishes a new snapshot
// and starts one timer that returns the host; ejections lengthen on
// repeat and are capped by max_ejection_percent (see outlier.go). Events go
// to the listener set with Manager.SetOutlierListener; OutlierLogger logs
// and counts them.
package upstream
