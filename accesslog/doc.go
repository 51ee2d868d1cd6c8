// Package accesslog writes per-listener access logs in MOSN's format language:
// text with %variable% tokens, e.g.
//
//	%start_time% %protocol% %response_code% %duration% %request_header_x-request-id%
//
// A format is compiled once (Compile) into segments; (*Format).Append renders
// one entry from an Info, a plain struct the proxy fills per request. The
// built-in variables render without allocating.
//
// # Format syntax
//
//   - %name% is a variable when name is non-empty and made only of header
//     token characters (letters, digits and !#$&'*+-.^_`|~) or ':'. An unknown
//     name is a compile error (*UnknownVariableError) naming the variable.
//   - %% is a literal percent sign (MOSN rejects it).
//   - A % that starts no valid token (no closing %, or a space or other
//     non-name character before the next %) is literal text (MOSN rejects an
//     unclosed %).
//   - A % preceded by a backslash is literal and the backslash is kept, as in
//     MOSN: "\%" prints "\%".
//   - The empty format is DefaultFormat, MOSN's default.
//
// # Variables
//
// Built-in variables, taken from Info:
//
//	start_time                   StartTime, local layout "2006/01/02 15:04:05.000" (MOSN's)
//	request_received_duration    RequestReceivedDuration
//	response_received_duration   ResponseReceivedDuration
//	request_finished_duration    RequestFinishedDuration
//	process_time_duration        ProcessTimeDuration
//	duration                     Duration
//	bytes_sent, bytes_received   BytesSent, BytesReceived (decimal)
//	protocol                     Protocol
//	response_code                ResponseCode (decimal, 0 when there was none)
//	response_flag, response_flags  "true" if any ResponseFlags bit is set, else "false" (MOSN)
//	upstream_transport_failure_reason  the set flags' short names joined by ","
//	upstream_local_address, upstream_host, upstream_cluster,
//	downstream_local_address, downstream_remote_address,
//	listener_name, route_name, requested_server_name, trace_id   the string fields
//	connection_id, upstream_connection_id, stream_id   decimal; 0 means unknown
//
// Durations print as Go's time.Duration.String does, which is what MOSN
// prints: "0s", "850ns", "1.234ms", "2.5s", "1m30s".
//
// Variables resolved through Info.Lookup, which receives the full variable
// name (e.g. "request_header_x-request-id"):
//
//   - the prefix families request_header_<name>, response_header_<name>,
//     request_arg_<name> and cookie_<name>, and their protocol-qualified forms
//     <Proto>_request_header_<name>, <Proto>_request_arg_<name>,
//     <Proto>_cookie_<name> (MOSN's Http1_/Http2_ variables);
//   - request_scheme, request_method, request_length, request_path,
//     request_path_original, request_arg, request_uri, request_use_stream,
//     response_use_stream, and each of them as <Proto>_<name>;
//   - listener_port, listener_type, downstream_protocol, upstream_protocol,
//     authority, the x-mosn-* variables (x-mosn-host, x-mosn-path,
//     x-mosn-path-original, x-mosn-method, x-mosn-querystring, x-mosn-scheme,
//     x-mosn-status, x-mosn-direction, x-mosn-rpc-service, x-mosn-rpc-method)
//     and the proxy_* controls (proxy_try_timeout, proxy_global_timeout,
//     proxy_hijack_status, proxy_gzip_switch, proxy_direct_response,
//     proxy_disable_retry);
//   - names accepted by the predicate given to CompileWith.
//
// # Missing values
//
// An empty string field, a zero StartTime, a zero ID, a nil Lookup, or a
// Lookup that reports the name missing or returns "" prints "-" (MOSN's
// ValueNotFound). Control bytes (< 0x20 and 0x7f) in string values are
// printed as \xHH so that a header value cannot forge a log line; MOSN
// prints them raw.
//
// # Response flags
//
// The flag bits have MOSN's values (mosn.io/api ResponseFlag), so they can be
// exchanged with MOSN code unchanged; DownstreamConnectionTermination is ours.
// MOSN prints %response_flag% only as "true"/"false", and so do we. The short
// names used by %upstream_transport_failure_reason% and FlagName are Envoy's
// response-flag codes (UH, UF, UT, LR, UR, UC, UO, NR, DI, FI, RL, DC), which
// Istio users already grep for; ReqEntityTooLarge, which Envoy lacks, is
// "RETL".
//
// # Writers
//
// A Logger renders entries into a pooled buffer and appends them, under a
// short mutex, to its writer's pending buffer. One goroutine per output writes
// the pending bytes at least every FlushInterval, or as soon as FlushBytes are
// pending. When MaxPending bytes are already waiting (a stalled disk), new
// entries are dropped and counted (Dropped) instead of blocking the data
// path. Writers shares one writer among the loggers of one path.
package accesslog
