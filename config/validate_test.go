package config

import (
	"strings"
	"testing"
)

// listenerCfg wraps one listener object in a minimal config.
func listenerCfg(listener string) string {
	return `{"servers": [{"listeners": [` + listener + `]}]}`
}

// clusterCfg wraps one cluster object in a minimal config.
func clusterCfg(cluster string) string {
	return `{"cluster_manager": {"clusters": [` + cluster + `]}}`
}

// routeCfg wraps one route object in a minimal config.
func routeCfg(route string) string {
	return `{"servers": [{"routers": [{"router_config_name": "r", "virtual_hosts": [{"name": "v", "domains": ["*"], "routers": [` + route + `]}]}]}]}`
}

func TestValidateRejects(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string // one substring per expected problem, in order
	}{
		{"two servers", `{"servers": [{}, {}]}`, []string{"servers[1] (f.json:1:18): MOSN supports at most one server, got 2"}},
		{"listener without name", listenerCfg(`{"address": "127.0.0.1:1"}`), []string{"servers[0].listeners[0].name (f.json:1:29): a listener name is required"}},
		{"duplicate listener names", listenerCfg(`{"name": "a", "address": "127.0.0.1:1"}, {"name": "a", "address": "127.0.0.1:2"}`),
			[]string{`servers[0].listeners[1].name (f.json:1:79): duplicate listener name "a" (first at servers[0].listeners[0])`}},
		{"missing address", listenerCfg(`{"name": "a"}`), []string{"servers[0].listeners[0].address (f.json:1:29): an address is required"}},
		{"address without port", listenerCfg(`{"name": "a", "address": "127.0.0.1"}`), []string{`servers[0].listeners[0].address (f.json:1:54): invalid address "127.0.0.1": want host:port`}},
		{"port out of range", listenerCfg(`{"name": "a", "address": "127.0.0.1:65536"}`), []string{`servers[0].listeners[0].address (f.json:1:54): invalid address "127.0.0.1:65536": port "65536" is not a number in 0..65535`}},
		{"port not a number", listenerCfg(`{"name": "a", "address": "127.0.0.1:http"}`), []string{`port "http" is not a number`}},
		{"listener host name", listenerCfg(`{"name": "a", "address": "example.com:80"}`), []string{`"example.com" is not an IP address`}},
		{"bad IPv4", listenerCfg(`{"name": "a", "address": "127.0.0.256:80"}`), []string{`"127.0.0.256" is not an IP address`}},
		{"IPv6 without brackets", listenerCfg(`{"name": "a", "address": "::1:80"}`), []string{"IPv6 addresses need brackets"}},
		{"bracketed IPv4", listenerCfg(`{"name": "a", "address": "[127.0.0.1]:80"}`), []string{`"127.0.0.1" is not an IPv6 address`}},
		{"udp", listenerCfg(`{"name": "a", "address": "127.0.0.1:53", "network": "udp"}`), []string{`servers[0].listeners[0].network (f.json:1:81): network "udp" is not supported yet`}},
		{"unix", listenerCfg(`{"name": "a", "address": "/tmp/x.sock", "network": "unix"}`), []string{`network "unix" is not supported yet`}},
		{"unknown network", listenerCfg(`{"name": "a", "address": "127.0.0.1:1", "network": "sctp"}`), []string{`unknown network "sctp"`}},
		{"original dst", listenerCfg(`{"name": "a", "address": "127.0.0.1:1", "use_original_dst": "yes"}`), []string{`servers[0].listeners[0].use_original_dst (f.json:1:89): unknown use_original_dst "yes"`}},
		{"listener type", listenerCfg(`{"name": "a", "address": "127.0.0.1:1", "type": "both"}`), []string{`unknown listener type "both"`}},
		{"log level", `{"servers": [{"default_log_level": "VERBOSE"}]}`, []string{`servers[0].default_log_level (f.json:1:36): unknown log level "VERBOSE" (want one of FATAL, ERROR, WARN, INFO, DEBUG, TRACE)`}},
		{"access log path", listenerCfg(`{"name": "a", "address": "127.0.0.1:1", "access_logs": [{"log_format": "%protocol%"}]}`), []string{"servers[0].listeners[0].access_logs[0].log_path (f.json:1:85): a log_path is required"}},
		{"filter type", listenerCfg(`{"name": "a", "address": "127.0.0.1:1", "filter_chains": [{"filters": [{"config": {}}]}]}`), []string{"servers[0].listeners[0].filter_chains[0].filters[0].type (f.json:1:100): a filter type is required"}},
		{"stream filter type", listenerCfg(`{"name": "a", "address": "127.0.0.1:1", "stream_filters": [{}]}`), []string{"servers[0].listeners[0].stream_filters[0].type"}},
		{"tls", listenerCfg(`{"name": "a", "address": "127.0.0.1:1", "filter_chains": [{"tls_context": {"status": true}}]}`), []string{"servers[0].listeners[0].filter_chains[0].tls_context.status (f.json:1:114): TLS is not supported yet"}},
		{"cluster tls", clusterCfg(`{"name": "c", "tls_context": {"status": true}}`), []string{"cluster_manager.clusters[0].tls_context.status"}},
		{"cluster without name", clusterCfg(`{"type": "SIMPLE"}`), []string{"cluster_manager.clusters[0].name (f.json:1:35): a cluster name is required"}},
		{"duplicate cluster names", clusterCfg(`{"name": "c"}, {"Name": "c"}`), []string{`cluster_manager.clusters[1].name (f.json:1:59): duplicate cluster name "c" (first at cluster_manager.clusters[0])`}},
		{"strict dns", clusterCfg(`{"name": "c", "type": "STRICT_DNS"}`), []string{`cluster_manager.clusters[0].type (f.json:1:57): cluster type STRICT_DNS is not supported yet`}},
		{"unknown cluster type", clusterCfg(`{"name": "c", "type": "LOGICAL_DNS"}`), []string{`unknown cluster type "LOGICAL_DNS"`}},
		{"unknown lb_type", clusterCfg(`{"name": "c", "lb_type": "LB_FASTEST"}`), []string{`cluster_manager.clusters[0].lb_type (f.json:1:60): unknown lb_type "LB_FASTEST" (want one of LB_RANDOM, LB_ROUNDROBIN, LB_WEIGHTED_ROUNDROBIN, LB_LEAST_CONNECTION, LB_LEAST_REQUEST, LB_ORIGINAL_DST, LB_MAGLEV, LB_RINGHASH, LB_REQUEST_ROUNDROBIN, LB_PEAK_EWMA)`}},
		{"lb_type is case-sensitive", clusterCfg(`{"name": "c", "lb_type": "lb_random"}`), []string{`unknown lb_type "lb_random"`}},
		{"host address", clusterCfg(`{"name": "c", "hosts": [{"address": "10.0.0.1"}]}`), []string{`cluster_manager.clusters[0].hosts[0].address (f.json:1:71): invalid address "10.0.0.1": want host:port`}},
		{"host port 0", clusterCfg(`{"name": "c", "hosts": [{"address": "10.0.0.1:0"}]}`), []string{`invalid address "10.0.0.1:0": port 0`}},
		{"host without host", clusterCfg(`{"name": "c", "hosts": [{"address": ":80"}]}`), []string{"the host is missing"}},
		{"host bad name", clusterCfg(`{"name": "c", "hosts": [{"address": "bad_name!:80"}]}`), []string{`"bad_name!" is not an IP address or host name`}},
		{"host missing address", clusterCfg(`{"name": "c", "hosts": [{"weight": 1}]}`), []string{"cluster_manager.clusters[0].hosts[0].address (f.json:1:59): an address is required"}},
		{"host weight", clusterCfg(`{"name": "c", "hosts": [{"address": "10.0.0.1:80", "weight": 129}]}`), []string{"cluster_manager.clusters[0].hosts[0].weight (f.json:1:96): weight 129 out of range (1..128; 0 means 1)"}},
		{"health check protocol", clusterCfg(`{"name": "c", "health_check": {"protocol": "grpc"}}`), []string{`cluster_manager.clusters[0].health_check.protocol (f.json:1:78): unknown health check protocol "grpc"`}},
		{"outlier percent", clusterCfg(`{"name": "c", "outlier_detection": {"max_ejection_percent": 101}}`), []string{"cluster_manager.clusters[0].outlier_detection.max_ejection_percent (f.json:1:95): 101 out of range (1..100; 0 means 10)"}},
		{"outlier max below base", clusterCfg(`{"name": "c", "outlier_detection": {"base_ejection_time": "1m", "max_ejection_time": "30s"}}`), []string{"cluster_manager.clusters[0].outlier_detection.max_ejection_time", "30s is shorter than base_ejection_time 1m0s"}},
		{"subset fallback", clusterCfg(`{"name": "c", "lb_subset_config": {"fall_back_policy": 3}}`), []string{"unknown fall_back_policy 3"}},
		{"admin port", `{"admin": {"address": {"socket_address": {"address": "0.0.0.0", "port_value": 70000}}}}`, []string{"admin.address.socket_address.port_value (f.json:1:79): port 70000 out of range (1..65535)"}},
		{"admin address", `{"admin": {"address": {"socket_address": {"address": "0.0.0.0:80", "port_value": 1}}}}`, []string{`admin.address.socket_address.address (f.json:1:54): invalid address "0.0.0.0:80"`}},
		{"pprof port", `{"pprof": {"port_value": 65536}}`, []string{"pprof.port_value (f.json:1:26): port 65536 out of range (1..65535)"}},
		{"sink type", `{"metrics": {"sinks": [{"config": {}}]}}`, []string{"metrics.sinks[0].type"}},
		{"tracing driver", `{"tracing": {"enable": true}}`, []string{"tracing.driver (f.json:1:13): a driver is required when tracing is enabled"}},
		{"router name", `{"servers": [{"routers": [{}]}]}`, []string{"servers[0].routers[0].router_config_name (f.json:1:27): a router_config_name is required"}},
		{"duplicate router names", `{"servers": [{"routers": [{"router_config_name": "r"}, {"router_config_name": "r"}]}]}`, []string{`servers[0].routers[1].router_config_name (f.json:1:79): duplicate router_config_name "r" (first at servers[0].routers[0])`}},
		{"duplicate default vhost", `{"servers": [{"routers": [{"router_config_name": "r", "virtual_hosts": [{"domains": ["*"]}, {"domains": ["*"]}]}]}]}`, []string{`servers[0].routers[0].virtual_hosts[1].domains[0] (f.json:1:106): duplicate default virtual host "*" (first at servers[0].routers[0].virtual_hosts[0])`}},
		{"two path matchers", routeCfg(`{"match": {"prefix": "/", "path": "/a"}, "route": {"cluster_name": "c"}}`), []string{"servers[0].routers[0].virtual_hosts[0].routers[0].match (f.json:1:127): set at most one of prefix, path and regex"}},
		{"bad regex", routeCfg(`{"match": {"regex": "(a"}, "route": {"cluster_name": "c"}}`), []string{"servers[0].routers[0].virtual_hosts[0].routers[0].match.regex (f.json:1:137): invalid regular expression: error parsing regexp: missing closing ): `(a`"}},
		{"bad header regex", routeCfg(`{"match": {"headers": [{"name": "h", "value": "[", "regex": true}]}, "route": {"cluster_name": "c"}}`), []string{"match.headers[0].value", "invalid regular expression"}},
		{"header matcher name", routeCfg(`{"match": {"headers": [{"value": "v"}]}, "route": {"cluster_name": "c"}}`), []string{"match.headers[0].name", "a header name is required"}},
		{"no action", routeCfg(`{"match": {"prefix": "/"}}`), []string{"servers[0].routers[0].virtual_hosts[0].routers[0] (f.json:1:117): set exactly one of route, direct_response and redirect (got 0)"}},
		{"two actions", routeCfg(`{"match": {"prefix": "/"}, "route": {"cluster_name": "c"}, "direct_response": {"status": 200}}`), []string{"(got 2)"}},
		{"no cluster", routeCfg(`{"match": {"prefix": "/"}, "route": {"timeout": "1s"}}`), []string{"routers[0].route (f.json:1:153): set one of cluster_name, cluster_header, cluster_variable and weighted_clusters"}},
		{"weighted cluster weight", routeCfg(`{"match": {"prefix": "/"}, "route": {"weighted_clusters": [{"cluster": {"name": "a", "weight": 0}}]}}`), []string{"route.weighted_clusters[0].cluster.weight", "weight must be greater than 0"}},
		{"weighted cluster name", routeCfg(`{"match": {"prefix": "/"}, "route": {"weighted_clusters": [{"cluster": {"weight": 1}}]}}`), []string{"route.weighted_clusters[0].cluster.name", "a cluster name is required"}},
		{"hash policy", routeCfg(`{"match": {"prefix": "/"}, "route": {"cluster_name": "c", "hash_policy": [{}]}}`), []string{"route.hash_policy[0]", "set exactly one of header, cookie and source_ip"}},
		{"regex rewrite", routeCfg(`{"match": {"prefix": "/"}, "route": {"cluster_name": "c", "regex_rewrite": {"pattern": {"regex": "*"}}}}`), []string{"route.regex_rewrite.pattern.regex", "invalid regular expression"}},
		{"header to add", routeCfg(`{"match": {"prefix": "/"}, "route": {"cluster_name": "c", "request_headers_to_add": [{"header": {"value": "v"}}]}}`), []string{"route.request_headers_to_add[0].header.key", "a header key is required"}},
		{"direct response status", routeCfg(`{"match": {"prefix": "/"}, "direct_response": {"status": 99}}`), []string{"direct_response.status", "status 99 out of range (100..599)"}},
		{"redirect code", routeCfg(`{"match": {"prefix": "/"}, "redirect": {"response_code": 200}}`), []string{"redirect.response_code", "response_code 200 is not a redirect"}},
		{"several problems", `{"servers": [{"listeners": [{"name": "a", "address": "x"}, {"name": "a", "address": "127.0.0.1:1", "network": "udp"}]}], "cluster_manager": {"clusters": [{"lb_type": "X"}]}}`,
			[]string{"servers[0].listeners[0].address", "servers[0].listeners[1].name", "servers[0].listeners[1].network", "cluster_manager.clusters[0].name", "cluster_manager.clusters[0].lb_type"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _, err := Parse([]byte(tt.in), "f.json")
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			probs := cfg.Validate()
			if tt.name == "several problems" {
				// One problem per entry, in order.
				if len(probs) != len(tt.want) {
					t.Fatalf("got %d problems, want %d:\n%v", len(probs), len(tt.want), probs)
				}
				for i, w := range tt.want {
					if !strings.Contains(probs[i].String(), w) {
						t.Errorf("problem %d = %q, want it to contain %q", i, probs[i], w)
					}
				}
				return
			}
			// One problem containing every entry.
			if len(probs) != 1 {
				t.Fatalf("got %d problems, want 1:\n%v", len(probs), probs)
			}
			for _, w := range tt.want {
				if !strings.Contains(probs[0].String(), w) {
					t.Errorf("problem = %q, want it to contain %q", probs[0], w)
				}
			}
		})
	}
}

func TestValidateAccepts(t *testing.T) {
	tests := []struct{ name, in string }{
		{"empty config", `{}`},
		{"no servers, xDS only", `{"dynamic_resources": {"ads_config": {}}, "static_resources": {}}`},
		{"listener on port 0", listenerCfg(`{"name": "a", "address": "127.0.0.1:0"}`)},
		{"listener on all interfaces", listenerCfg(`{"name": "a", "address": ":2045"}`)},
		{"listener on IPv6", listenerCfg(`{"name": "a", "address": "[::1]:2045"}`)},
		{"listener on IPv6 with zone", listenerCfg(`{"name": "a", "address": "[fe80::1%eth0]:2045"}`)},
		{"listener on localhost", listenerCfg(`{"name": "a", "address": "localhost:2045", "network": "TCP"}`)},
		{"tproxy listener", listenerCfg(`{"name": "a", "address": "0.0.0.0:12345", "use_original_dst": "tproxy", "type": "egress"}`)},
		{"lower-case log level", `{"servers": [{"default_log_level": "debug"}]}`},
		{"original dst without hosts", clusterCfg(`{"name": "c", "type": "ORIGINAL_DST", "lb_type": "LB_ORIGINAL_DST"}`)},
		{"simple cluster without hosts", clusterCfg(`{"name": "c", "type": "SIMPLE"}`)},
		{"static and eds aliases", clusterCfg(`{"name": "a", "type": "STATIC"}, {"name": "b", "type": "EDS"}, {"name": "d", "type": "DYNAMIC"}`)},
		{"host name and max weight", clusterCfg(`{"name": "c", "hosts": [{"address": "backend.svc.cluster.local:8080", "weight": 128}]}`)},
		{"every lb type", clusterCfg(`{"name": "a", "lb_type": "LB_RANDOM"}, {"name": "b", "lb_type": "LB_MAGLEV"}, {"name": "d", "lb_type": "LB_PEAK_EWMA"}, {"name": "e", "lb_type": "LB_RINGHASH"}`)},
		{"health check protocols", clusterCfg(`{"name": "a", "health_check": {"protocol": "tcp"}}, {"name": "b", "health_check": {"protocol": "http1", "timeout": "15s"}}, {"name": "d", "health_check": {"protocol": "bolt", "timeout": "30s", "interval": "1m"}}`)},
		{"outlier detection defaults", clusterCfg(`{"name": "c", "outlier_detection": {}}`)},
		{"outlier detection set", clusterCfg(`{"name": "c", "outlier_detection": {"consecutive_errors": 1, "base_ejection_time": "50ms", "max_ejection_time": "50ms", "max_ejection_percent": 100}}`)},
		{"outlier base above default max", clusterCfg(`{"name": "c", "outlier_detection": {"base_ejection_time": "10m"}}`)},
		{"admin without address", `{"admin": {}}`},
		{"tls context off", listenerCfg(`{"name": "a", "address": "127.0.0.1:1", "filter_chains": [{"tls_context": {"status": false}}]}`)},
		{"header-only route", routeCfg(`{"match": {"headers": [{"name": "service", "value": ".*", "regex": true}]}, "route": {"cluster_header": "x-cluster"}}`)},
		{"default vhost listed twice in one vhost", `{"servers": [{"routers": [{"router_config_name": "r", "virtual_hosts": [{"domains": ["*", "*"]}]}]}]}`},
		{"redirect with default code", routeCfg(`{"match": {"prefix": "/"}, "redirect": {"host_redirect": "example.com"}}`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _, err := Parse([]byte(tt.in), "f.json")
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if probs := cfg.Validate(); len(probs) > 0 {
				t.Errorf("Validate:\n%v", probs)
			}
		})
	}
}

// TestValidateWithoutSource checks configs built in code: no positions.
func TestValidateWithoutSource(t *testing.T) {
	cfg := &Config{Servers: []Server{{Listeners: []Listener{{Name: "a", Address: "nope"}}}}}
	probs := cfg.Validate()
	if len(probs) != 1 || probs[0].String() != `servers[0].listeners[0].address: invalid address "nope": want host:port` {
		t.Errorf("problems = %v", probs)
	}
}
