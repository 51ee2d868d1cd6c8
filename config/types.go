// Package config holds the MOSN-compatible JSON configuration: the types,
// the lenient loader (trailing commas and // comments), validation with JSON
// paths, and the dump used by the admin API.
//
// Field names and JSON keys follow MOSN's v2 config so that existing
// mosn_config.json files load unchanged. Fields tagged `mosn:"unimplemented"`
// are accepted and kept for config_dump, and reported by name as warnings.
package config

import "encoding/json"

// Config is the whole process configuration (MOSN's MOSNConfig).
type Config struct {
	Servers        []Server       `json:"servers,omitempty"`
	ClusterManager ClusterManager `json:"cluster_manager,omitzero"`
	Admin          *Admin         `json:"admin,omitempty"`
	Pprof          *Pprof         `json:"pprof,omitempty"`
	Metrics        *Metrics       `json:"metrics,omitempty"`
	Tracing        *Tracing       `json:"tracing,omitempty"`

	// DynamicResources, StaticResources and Node are Envoy v3 bootstrap
	// JSON for xDS; they are kept raw until the xDS client lands.
	DynamicResources json.RawMessage `json:"dynamic_resources,omitempty" mosn:"unimplemented"`
	StaticResources  json.RawMessage `json:"static_resources,omitempty" mosn:"unimplemented"`
	Node             json.RawMessage `json:"node,omitempty" mosn:"unimplemented"`

	// Pid is the pid file path. Default: mosn.pid in UDSDir.
	Pid string `json:"pid,omitempty"`
	// UDSDir is where reconfig.sock and friends live. Default: the config
	// file's directory.
	UDSDir               string `json:"uds_dir,omitempty"`
	DisableUpgrade       bool   `json:"disable_upgrade,omitempty"`
	CloseGraceful        bool   `json:"close_graceful,omitempty"`
	InheritOldMosnconfig bool   `json:"inherit_old_mosnconfig,omitempty" mosn:"unimplemented"`

	Plugin            json.RawMessage `json:"plugin,omitempty" mosn:"unimplemented"`
	ThirdPartCodec    json.RawMessage `json:"third_part_codec,omitempty" mosn:"unimplemented"`
	Extends           json.RawMessage `json:"extends,omitempty" mosn:"unimplemented"`
	WasmGlobalPlugins json.RawMessage `json:"wasm_global_plugins,omitempty" mosn:"unimplemented"`

	// src is where Parse read the config from; Validate uses it for
	// positions. It is not a setting: Equal ignores it.
	src *source
}

// Server is one entry of "servers"; MOSN supports exactly one.
type Server struct {
	ServerName      string `json:"mosn_server_name,omitempty"`
	DefaultLogPath  string `json:"default_log_path,omitempty"`
	DefaultLogLevel string `json:"default_log_level,omitempty"`
	GlobalLogRoller string `json:"global_log_roller,omitempty" mosn:"unimplemented"`
	UseNetpollMode  bool   `json:"use_netpoll_mode,omitempty" mosn:"unimplemented"`
	// GracefulTimeout bounds the drain on SIGTERM and upgrade. Default 30s.
	GracefulTimeout *Duration `json:"graceful_timeout,omitempty"`
	// Processor sets GOMAXPROCS: a number, or "auto" (the default) for all CPUs.
	Processor *Processor `json:"processor,omitempty"`
	Listeners []Listener `json:"listeners,omitempty"`
	Routers   []Router   `json:"routers,omitempty"`
}

// Listener is one listening socket and what runs on its connections.
type Listener struct {
	Name string `json:"name,omitempty"`
	// Type is "ingress" or "egress"; informational.
	Type    string `json:"type,omitempty"`
	Address string `json:"address,omitempty"`
	// BindPort false means the listener does not open its own socket and
	// only receives connections handed over by an original-dst listener.
	BindPort  bool   `json:"bind_port,omitempty"`
	ReusePort bool   `json:"reuseport,omitempty"`
	Network   string `json:"network,omitempty"`
	// UseOriginalDst is "", "redirect" or "tproxy".
	UseOriginalDst string `json:"use_original_dst,omitempty"`
	// LogPath and LogLevel are MOSN's legacy per-listener logger fields.
	LogPath               string        `json:"log_path,omitempty"`
	LogLevel              string        `json:"log_level,omitempty"`
	AccessLogs            []AccessLog   `json:"access_logs,omitempty"`
	ListenerFilters       []Filter      `json:"listener_filters,omitempty"`
	FilterChains          []FilterChain `json:"filter_chains,omitempty"`
	StreamFilters         []Filter      `json:"stream_filters,omitempty"`
	Inspector             bool          `json:"inspector,omitempty" mosn:"unimplemented"`
	ConnectionIdleTimeout *Duration     `json:"connection_idle_timeout,omitempty"`
	DefaultReadBufferSize int           `json:"default_read_buffer_size,omitempty"`
}

// AccessLog is one access-log sink of a listener.
type AccessLog struct {
	// Path is a file path, "stdout" or "stderr" ("/dev/stdout" works too).
	Path string `json:"log_path,omitempty"`
	// Format uses MOSN %variable% tokens; empty means MOSN's default format.
	Format string `json:"log_format,omitempty"`
}

// FilterChain is a set of network filters for the listener's connections.
type FilterChain struct {
	Match         json.RawMessage `json:"match,omitempty" mosn:"unimplemented"`
	TLSContext    *TLSConfig      `json:"tls_context,omitempty"`
	TLSContextSet []TLSConfig     `json:"tls_context_set,omitempty"`
	Filters       []Filter        `json:"filters,omitempty"`
}

// Filter is a typed extension: a network filter, stream filter or
// listener filter. Config is decoded by the factory registered for Type.
type Filter struct {
	Type           string          `json:"type,omitempty"`
	Config         json.RawMessage `json:"config,omitempty"`
	GoPluginConfig json.RawMessage `json:"go_plugin_config,omitempty" mosn:"unimplemented"`
}

// ClusterManager holds the upstream clusters.
type ClusterManager struct {
	Clusters          []Cluster  `json:"clusters,omitempty"`
	ClustersConfigs   string     `json:"clusters_configs,omitempty" mosn:"unimplemented"`
	TLSContext        *TLSConfig `json:"tls_context,omitempty"`
	ClusterPoolEnable bool       `json:"cluster_pool_enable,omitempty" mosn:"unimplemented"`
}

// Cluster is a named group of upstream hosts with a load balancer.
type Cluster struct {
	// Name is the cluster name. MOSN's seeds also spell the key "Name".
	Name    string `json:"name,omitempty"`
	Type    string `json:"type,omitempty"`
	SubType string `json:"sub_type,omitempty" mosn:"unimplemented"`
	// LbType is one of the LB_* names. Default LB_ROUNDROBIN.
	LbType string `json:"lb_type,omitempty"`
	// MaxRequestPerConn caps requests on one upstream connection. Default 1024.
	MaxRequestPerConn uint32 `json:"max_request_per_conn,omitempty"`
	// ConnBufferLimitBytes is the per-connection buffer limit. Default 16384.
	ConnBufferLimitBytes uint32 `json:"conn_buffer_limit_bytes,omitempty"`
	// Mark is set as SO_MARK on upstream sockets (Linux) when non-zero.
	Mark uint32 `json:"mark,omitempty"`
	// ConnectTimeout bounds an upstream connect. Default 10s.
	ConnectTimeout *Duration `json:"connect_timeout,omitempty"`
	// IdleTimeout closes idle upstream connections; 0 means never.
	IdleTimeout         *Duration            `json:"idle_timeout,omitempty"`
	CircuitBreakers     []CircuitBreaker     `json:"circuit_breakers,omitempty"`
	HealthCheck         *HealthCheck         `json:"health_check,omitempty"`
	OutlierDetection    *OutlierDetection    `json:"outlier_detection,omitempty"`
	LbSubsetConfig      *LbSubsetConfig      `json:"lb_subset_config,omitempty"`
	OriginalDstLbConfig *OriginalDstLbConfig `json:"original_dst_lb_config,omitempty"`
	LbConfig            *LbConfig            `json:"lbconfig,omitempty"`
	TLSContext          *TLSConfig           `json:"tls_context,omitempty"`
	ClusterManagerTLS   bool                 `json:"cluster_manager_tls,omitempty" mosn:"unimplemented"`
	Hosts               []Host               `json:"hosts,omitempty"`

	Spec              json.RawMessage `json:"spec,omitempty" mosn:"unimplemented"`
	Keepalive         json.RawMessage `json:"keepalive,omitempty" mosn:"unimplemented"`
	SlowStart         json.RawMessage `json:"slow_start,omitempty" mosn:"unimplemented"`
	DNSRefreshRate    *Duration       `json:"dns_refresh_rate,omitempty" mosn:"unimplemented"`
	RespectDNSTTL     bool            `json:"respect_dns_ttl,omitempty" mosn:"unimplemented"`
	DNSLookupFamily   string          `json:"dns_lookup_family,omitempty" mosn:"unimplemented"`
	DNSResolvers      json.RawMessage `json:"dns_resolvers,omitempty" mosn:"unimplemented"`
	DNSResolverFile   string          `json:"dns_resolver_file,omitempty" mosn:"unimplemented"`
	DNSResolverPort   string          `json:"dns_resolver_port,omitempty" mosn:"unimplemented"`
	ClusterPoolEnable bool            `json:"cluster_pool_enable,omitempty" mosn:"unimplemented"`
}

// Host is one static upstream endpoint.
type Host struct {
	Address  string `json:"address,omitempty"`
	Hostname string `json:"hostname,omitempty"`
	// Weight is 1..128; 0 means the default 1.
	Weight     uint32    `json:"weight,omitempty"`
	Metadata   *Metadata `json:"metadata,omitempty"`
	TLSDisable bool      `json:"tls_disable,omitempty"`
}

// Metadata is MOSN's {"filter_metadata": {"mosn.lb": {"k": "v"}}} shape,
// used by host metadata and route metadata_match for subset balancing.
type Metadata struct {
	FilterMetadata map[string]map[string]string `json:"filter_metadata,omitempty"`
}

// LB returns the "mosn.lb" map, the only namespace MOSN balances on.
func (m *Metadata) LB() map[string]string {
	if m == nil {
		return nil
	}
	return m.FilterMetadata["mosn.lb"]
}

// CircuitBreaker is one threshold set; only the first entry is used and 0
// means unlimited.
type CircuitBreaker struct {
	Priority           string `json:"priority,omitempty"`
	MaxConnections     uint32 `json:"max_connections,omitempty"`
	MaxPendingRequests uint32 `json:"max_pending_requests,omitempty"`
	MaxRequests        uint32 `json:"max_requests,omitempty"`
	MaxRetries         uint32 `json:"max_retries,omitempty"`
}

// HealthCheck configures active health checking of a cluster's hosts.
type HealthCheck struct {
	// Protocol is "tcp" (default), "Http1", "bolt" or "dubbo".
	Protocol string `json:"protocol,omitempty"`
	// Timeout of one check. Default 1s.
	Timeout *Duration `json:"timeout,omitempty"`
	// Interval between checks. Default 15s.
	Interval *Duration `json:"interval,omitempty"`
	// IntervalJitter is added at random to each interval. Default 5ms.
	IntervalJitter      *Duration `json:"interval_jitter,omitempty"`
	InitialDelaySeconds *Duration `json:"initial_delay_seconds,omitempty"`
	// HealthyThreshold and UnhealthyThreshold count consecutive results
	// needed to change state. Default 1.
	HealthyThreshold   uint32         `json:"healthy_threshold,omitempty"`
	UnhealthyThreshold uint32         `json:"unhealthy_threshold,omitempty"`
	ServiceName        string         `json:"service_name,omitempty"`
	CheckConfig        map[string]any `json:"check_config,omitempty"`
	CommonCallbacks    []string       `json:"common_callbacks,omitempty" mosn:"unimplemented"`
	// EventLogPath gets one line per check: stdout, stderr or a file.
	EventLogPath string `json:"event_log_path,omitempty"`
}

// OutlierDetection configures passive outlier ejection (Envoy's
// outlier_detection, consecutive errors only): a host whose requests fail
// consecutive_errors times in a row is taken out of load balancing for a
// back-off period, and comes back when it ends. LB_ORIGINAL_DST clusters
// ignore it: their destination is chosen by the client.
type OutlierDetection struct {
	// ConsecutiveErrors is how many failures in a row eject a host: failed
	// connects, resets, timeouts, HTTP 5xx answers and RPC error statuses.
	// Any other answer resets the count. Default 5; 0 means the default.
	ConsecutiveErrors uint32 `json:"consecutive_errors,omitempty"`
	// BaseEjectionTime is the first ejection's length; the n-th ejection in
	// a row lasts n times as long. Default 30s; unset or 0 means the default.
	BaseEjectionTime *Duration `json:"base_ejection_time,omitempty"`
	// MaxEjectionTime caps an ejection's length. Default 300s, or
	// base_ejection_time when that is longer; unset or 0 means the default.
	MaxEjectionTime *Duration `json:"max_ejection_time,omitempty"`
	// MaxEjectionPercent caps the share of the cluster's hosts ejected at
	// once, 1..100. One host of a cluster of two or more may always be
	// ejected. Default 10; 0 means the default.
	MaxEjectionPercent uint32 `json:"max_ejection_percent,omitempty"`
}

// LbSubsetConfig configures the subset load balancer.
type LbSubsetConfig struct {
	// FallBackPolicy is 0 none, 1 any, 2 default subset.
	FallBackPolicy  uint8             `json:"fall_back_policy,omitempty"`
	DefaultSubset   map[string]string `json:"default_subset,omitempty"`
	SubsetSelectors [][]string        `json:"subset_selectors,omitempty"`
}

// OriginalDstLbConfig tells LB_ORIGINAL_DST where the destination comes from.
type OriginalDstLbConfig struct {
	UseHeader    bool   `json:"use_header,omitempty"`
	HeaderName   string `json:"header_name,omitempty"`
	ReplaceLocal bool   `json:"replace_local,omitempty"`
}

// LbConfig tunes the least-request balancers.
type LbConfig struct {
	ChoiceCount       uint32  `json:"choice_count,omitempty"`
	ActiveRequestBias float64 `json:"active_request_bias,omitempty"`
	ClientErrorBias   float64 `json:"client_error_bias,omitempty" mosn:"unimplemented"`
	ServerErrorBias   float64 `json:"server_error_bias,omitempty" mosn:"unimplemented"`
}

// TLSConfig is MOSN's tls_context. TLS is not implemented yet: an empty
// context is accepted; one with status true is a validation error, because
// serving plaintext where the user asked for TLS would be unsafe.
type TLSConfig struct {
	Status            bool            `json:"status,omitempty"`
	Type              string          `json:"type,omitempty"`
	ServerName        string          `json:"server_name,omitempty"`
	CACert            string          `json:"ca_cert,omitempty"`
	CertChain         string          `json:"cert_chain,omitempty"`
	PrivateKey        string          `json:"private_key,omitempty"`
	VerifyClient      bool            `json:"verify_client,omitempty"`
	RequireClientCert bool            `json:"require_client_cert,omitempty"`
	InsecureSkip      bool            `json:"insecure_skip,omitempty"`
	CipherSuites      string          `json:"cipher_suites,omitempty"`
	EcdhCurves        string          `json:"ecdh_curves,omitempty"`
	MinVersion        string          `json:"min_version,omitempty"`
	MaxVersion        string          `json:"max_version,omitempty"`
	ALPN              string          `json:"alpn,omitempty"`
	Ticket            string          `json:"ticket,omitempty"`
	Fallback          bool            `json:"fall_back,omitempty"`
	ExtendVerify      json.RawMessage `json:"extend_verify,omitempty"`
	SdsSource         json.RawMessage `json:"sds_source,omitempty"`
	Callbacks         json.RawMessage `json:"callbacks,omitempty"`
}

// Admin is the admin API listener.
type Admin struct {
	Address AdminAddress `json:"address,omitzero"`
}

// AdminAddress is Envoy's address shape.
type AdminAddress struct {
	SocketAddress SocketAddress `json:"socket_address,omitzero"`
}

// SocketAddress is an IP and port.
type SocketAddress struct {
	Address   string `json:"address,omitempty"`
	PortValue uint32 `json:"port_value,omitempty"`
}

// Pprof enables net/http/pprof on its own listener.
type Pprof struct {
	Debug bool `json:"debug,omitempty"`
	// PortValue is the pprof port. Default 9090.
	PortValue uint32 `json:"port_value,omitempty"`
	Endpoint  string `json:"endpoint,omitempty"`
}

// Tracing is accepted and kept; no tracer driver is built in yet.
type Tracing struct {
	Enable bool            `json:"enable,omitempty"`
	Driver string          `json:"driver,omitempty"`
	Config json.RawMessage `json:"config,omitempty"`
}

// Metrics configures metric sinks and filtering.
type Metrics struct {
	Sinks        []Filter        `json:"sinks,omitempty"`
	StatsMatcher *StatsMatcher   `json:"stats_matcher,omitempty"`
	ShmZone      string          `json:"shm_zone,omitempty" mosn:"unimplemented"`
	ShmSize      *Size           `json:"shm_size,omitempty" mosn:"unimplemented"`
	FlushMosn    bool            `json:"flush_mosn,omitempty" mosn:"unimplemented"`
	LazyFlush    bool            `json:"lazy_flush,omitempty" mosn:"unimplemented"`
	Sample       json.RawMessage `json:"sample,omitempty" mosn:"unimplemented"`
	Ewma         json.RawMessage `json:"ewma,omitempty" mosn:"unimplemented"`
}

// StatsMatcher filters exported metrics.
type StatsMatcher struct {
	RejectAll       bool     `json:"reject_all,omitempty"`
	ExclusionLabels []string `json:"exclusion_labels,omitempty"`
	ExclusionKeys   []string `json:"exclusion_keys,omitempty"`
}
