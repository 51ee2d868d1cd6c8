// Package healthcheck runs MOSN's active health checks of a cluster's
// hosts: a TCP dial (the default), an HTTP/1.1 request ("Http1"), a bolt
// heartbeat or a dubbo heartbeat, every interval. Consecutive failures past
// unhealthy_threshold take a host out of its cluster's load balancing
// (upstream.Cluster.SetHostHealth), consecutive successes past
// healthy_threshold bring it back, and each check can be written to MOSN's
// event log:
//
//	time:1672987413,host:127.0.0.1:8080,health_status:1,current_result:1,status_changed:0
//
// One Checker serves one cluster with one goroutine that runs rounds; a
// round checks every host of the cluster's current host set with at most 32
// checks in flight, so thousands of hosts cost no more goroutines than a
// few. See README.md for the configuration.
package healthcheck
