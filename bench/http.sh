#!/usr/bin/env bash
# Whole-proxy benchmark of HTTP L7 proxying (the proxy network filter).
#
# Runs wrk (HTTP/1.1 keep-alive GET) and h2load (HTTP/2 over cleartext with
# prior knowledge, h2c) against the upstream directly, through bin/mosn and,
# when nginx is installed, through nginx as a reverse proxy, all in one run,
# and prints Markdown tables of requests/s, latency, the ratios and the
# proxies' CPU time per request. See bench/README.md.
#
# Environment (defaults in brackets):
#   DURATION        length of each wrk and h2load run [10s; 3s with QUICK=1]
#   QUICK=1         short runs
#   ROUNDS          how many times every scenario runs, each round through
#                   all targets in turn [1]. With more than one, each round
#                   gets its own tables, then a summary gives the per-round
#                   ratios ours/nginx and their medians: on a noisy machine
#                   a ratio from one round can be off by 20% either way.
#   H1=0            skip the wrk (HTTP/1.1) scenarios
#   CONNS           wrk connection counts, one scenario pair each ["32 128"]
#   POST_CONNS      wrk connection counts of the POST scenarios (post-N: a
#                   1 KiB body to /small, which the upstream discards) ["32";
#                   "" for none]
#   THREADS         wrk threads [1: wrk shares one CPU with the upstream]
#   WRK_TIMEOUT     wrk's per-request timeout; a timeout is a failure [5s]
#   PROXY_CPU       CPU the proxies are pinned to [0]
#   LOAD_CPU        CPU of the upstream server and wrk [1]
#   MOSN            proxy binary [bin/mosn]
#   WRK             wrk binary [wrk]
#   NGINX=0         skip nginx even when it is installed
#   NGX_UPSTREAM_KEEPALIVE  idle upstream connections nginx keeps (its
#                   upstream block's keepalive) [64]
#   NGX_KEEPALIVE_REQUESTS  nginx keepalive_requests, client and upstream
#                   side [unset: nginx's default, 1000]
#   PROFILE=1       after the tables, a CPU profile of bin/mosn (pprof) under
#                   small-body load with the first CONNS count, printed as
#                   a top-40 list; the profile is kept in the temp dir
#   PROFILE_SECONDS length of that profile [20]
#   KEEP_TMP=1      keep the temp dir (configs, logs, wrk and h2load output) after the run
#   NICE            nice value (and autogroup nice) of the benchmark's processes [-15 when
#                   allowed (root), else 0; NICE=0 leaves priorities and sessions alone]
#   H2=0            skip the h2load (h2c) scenarios
#   H2_SCENARIOS    h2c scenarios, each CxM: h2load -c C clients (connections)
#                   with -m M concurrent streams each, named h2c-CxM ["32x1 8x16"]
#   H2_PATH         path the h2c scenarios fetch [/small]
#   H2_THREADS      h2load threads [1]
#   H2LOAD          h2load binary [h2load]
# The h2c targets: direct (httpup serve -impl h2c, net/http), ours with
# upstream_protocol Http2 (to that server) and Http1 (to the HTTP/1.1
# upstream), nginx (listen ... http2; its upstream side is HTTP/1.1).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MOSN=${MOSN:-$ROOT/bin/mosn}
WRK=${WRK:-wrk}
QUICK=${QUICK:-0}
if [[ $QUICK == 1 ]]; then
	DURATION=${DURATION:-3s}
else
	DURATION=${DURATION:-10s}
fi
H1=${H1:-1}
ROUNDS=${ROUNDS:-1}
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || { echo "ROUNDS: $ROUNDS is not a positive number" >&2; exit 2; }
CONNS=${CONNS:-32 128}
POST_CONNS=${POST_CONNS-32}
THREADS=${THREADS:-1}
WRK_TIMEOUT=${WRK_TIMEOUT:-5s}
PROXY_CPU=${PROXY_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
NGINX=${NGINX:-1}
NGX_UPSTREAM_KEEPALIVE=${NGX_UPSTREAM_KEEPALIVE:-64}
NGX_KEEPALIVE_REQUESTS=${NGX_KEEPALIVE_REQUESTS:-}
PROFILE=${PROFILE:-0}
PROFILE_SECONDS=${PROFILE_SECONDS:-20}
KEEP_TMP=${KEEP_TMP:-0}
NICE=${NICE:-}
H2=${H2:-1}
H2_SCENARIOS=${H2_SCENARIOS:-32x1 8x16}
H2_PATH=${H2_PATH:-/small}
H2_THREADS=${H2_THREADS:-1}
H2LOAD=${H2LOAD:-h2load}

BENCH_NAME=bench/http.sh
BENCH_SCRIPT=${BASH_SOURCE[0]}
# shellcheck source=SCRIPTDIR/lib.sh
source "$ROOT/bench/lib.sh"

[[ -x $MOSN ]] || die "$MOSN not found: run 'make build' first"
[[ $H1 == 1 || $H2 == 1 ]] || die "H1=0 and H2=0: nothing to run"
if [[ $H1 == 1 || $PROFILE == 1 ]]; then
	command -v "$WRK" >/dev/null || die "wrk not found (apt-get install -y wrk)"
fi
if [[ $H2 == 1 ]]; then
	command -v "$H2LOAD" >/dev/null || die "h2load not found (apt-get install -y nghttp2-client)"
	for s in $H2_SCENARIOS; do
		[[ $s =~ ^[1-9][0-9]*x[1-9][0-9]*$ ]] || die "H2_SCENARIOS: $s is not CxM (e.g. 32x1)"
	done
fi
command -v taskset >/dev/null || die "taskset not found (apt-get install -y util-linux)"
command -v go >/dev/null || die "go not found"
if [[ $PROFILE == 1 ]]; then
	command -v curl >/dev/null || die "PROFILE=1 needs curl (apt-get install -y curl)"
fi
CLK_TCK=$(getconf CLK_TCK)

# Priority and clean-up: see bench/lib.sh. A profile run keeps its temp dir.
bench_priority BENCH_HTTP_SESSION "$@"
if [[ $PROFILE == 1 ]]; then
	KEEP_TMP=1
fi
bench_tmp bench-http

# --- tools, ports, processes -------------------------------------------------

(cd "$ROOT" && go build -o "$TMP/httpup" ./bench/httpup) || die "building bench/httpup failed"
HTTPUP=$TMP/httpup
read -r UP_PORT MOSN_PORT NGX_PORT PPROF_PORT H2UP_PORT MOSN_H2_PORT MOSN_H21_PORT NGX_H2_PORT \
	< <("$HTTPUP" freeport -n 8)
UP_ADDR=127.0.0.1:$UP_PORT
MOSN_ADDR=127.0.0.1:$MOSN_PORT
NGX_ADDR=127.0.0.1:$NGX_PORT
# The h2c targets (H2=1): the h2c upstream, our two h2c listeners (Http2 and
# Http1 upstream side) and nginx's h2c server.
H2UP_ADDR=127.0.0.1:$H2UP_PORT
MOSN_H2_ADDR=127.0.0.1:$MOSN_H2_PORT
MOSN_H21_ADDR=127.0.0.1:$MOSN_H21_PORT
NGX_H2_ADDR=127.0.0.1:$NGX_H2_PORT

# The upstream: httpup's epoll server (one thread, one read and one write
# per request), the cheapest of the upstreams tried (see bench/README.md).
"${ON_LOAD[@]}" "$HTTPUP" serve -addr "$UP_ADDR" 2>"$TMP/upstream.log" &
UP_PID=$!
"$HTTPUP" wait -addr "$UP_ADDR" || die "the upstream server did not start: $(cat "$TMP/upstream.log")"

# The h2c upstream: the built-in servers speak only HTTP/1.1, so net/http
# (HTTP/1.1 and h2c prior knowledge on one port; /stats over HTTP/1.1). It
# costs several times the epoll server per request, on the CPU it shares
# with h2load: see the notes printed with the h2c tables.
H2_LISTENERS="" H2_ROUTERS="" H2_CLUSTERS=""
if [[ $H2 == 1 ]]; then
	"${ON_LOAD[@]}" "$HTTPUP" serve -impl h2c -addr "$H2UP_ADDR" 2>"$TMP/upstream-h2c.log" &
	UP2_PID=$!
	"$HTTPUP" wait -addr "$H2UP_ADDR" || die "the h2c upstream server did not start: $(cat "$TMP/upstream-h2c.log")"
	# Spliced into the config below: two more listeners, a router and a
	# cluster, each list item with its leading comma.
	H2_LISTENERS=$(
		cat <<EOF
,
    {
      "name": "h2",
      "address": "$MOSN_H2_ADDR",
      "bind_port": true,
      "filter_chains": [{"filters": [{"type": "proxy", "config": {"downstream_protocol": "Http2", "upstream_protocol": "Http2", "router_config_name": "r2"}}]}]
    },
    {
      "name": "h21",
      "address": "$MOSN_H21_ADDR",
      "bind_port": true,
      "filter_chains": [{"filters": [{"type": "proxy", "config": {"downstream_protocol": "Http2", "upstream_protocol": "Http1", "router_config_name": "r"}}]}]
    }
EOF
	)
	H2_ROUTERS=$(
		cat <<EOF
,
    {
      "router_config_name": "r2",
      "virtual_hosts": [{"name": "v2", "domains": ["*"], "routers": [{"match": {"prefix": "/"}, "route": {"cluster_name": "c2"}}]}]
    }
EOF
	)
	H2_CLUSTERS=", {\"name\": \"c2\", \"hosts\": [{\"address\": \"$H2UP_ADDR\"}]}"
fi

PPROF_JSON=""
if [[ $PROFILE == 1 ]]; then
	PPROF_JSON="\"pprof\": {\"debug\": true, \"port_value\": $PPROF_PORT},"
fi
mkdir -p "$TMP/mosn"
cat >"$TMP/mosn/mosn.json" <<EOF
{
  $PPROF_JSON
  "servers": [{
    "default_log_path": "$TMP/mosn/mosn.log",
    "default_log_level": "WARN",
    "listeners": [{
      "name": "h",
      "address": "$MOSN_ADDR",
      "bind_port": true,
      "filter_chains": [{"filters": [{"type": "proxy", "config": {"downstream_protocol": "Http1", "router_config_name": "r"}}]}]
    }$H2_LISTENERS],
    "routers": [{
      "router_config_name": "r",
      "virtual_hosts": [{"name": "v", "domains": ["*"], "routers": [{"match": {"prefix": "/"}, "route": {"cluster_name": "c"}}]}]
    }$H2_ROUTERS]
  }],
  "cluster_manager": {
    "clusters": [{"name": "c", "hosts": [{"address": "$UP_ADDR"}]}$H2_CLUSTERS]
  }
}
EOF
start_mosn "$HTTPUP"

start_nginx() {
	mkdir -p "$TMP/nginx/logs"
	# By default nginx closes a keep-alive connection after 1000 requests
	# (client side, and upstream side since 1.15.3), as ours closes an
	# upstream connection after max_request_per_conn (MOSN's default 1024):
	# both run with their defaults unless NGX_KEEPALIVE_REQUESTS is set.
	local kr="" ukr="" h2srv=""
	if [[ -n $NGX_KEEPALIVE_REQUESTS ]]; then
		kr="keepalive_requests $NGX_KEEPALIVE_REQUESTS;"
		ukr=$kr
	fi
	# h2c with prior knowledge: "http2" on a plain listen. nginx sends
	# GOAWAY after keepalive_requests (1000) requests on an HTTP/2
	# connection too, and h2load does not reconnect: the client stops (and
	# its streams in flight fail). Ours has no such limit, so neither has
	# this server. Upstream, nginx speaks HTTP/1.1 only.
	if [[ $H2 == 1 ]]; then
		h2srv="server {
        listen $NGX_H2_ADDR http2;
        keepalive_requests 1000000000;
        location / {
            proxy_pass http://u;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
        }
    }"
	fi
	cat >"$TMP/nginx/nginx.conf" <<EOF
daemon off;
master_process on;
worker_processes 1;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/logs/error.log warn;
events { worker_connections 16384; }
http {
    access_log off;
    $kr
    upstream u {
        server $UP_ADDR;
        keepalive $NGX_UPSTREAM_KEEPALIVE;
        $ukr
    }
    server {
        listen $NGX_ADDR;
        location / {
            proxy_pass http://u;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
    $h2srv
}
EOF
	run_nginx "$HTTPUP"
}
choose_targets "apt-get install -y nginx"

# Every target must answer /small and /4k exactly before anything is timed.
for target in "${TARGETS[@]}"; do
	if ! "$HTTPUP" check -addr "$(addr_of "$target")" 2>"$TMP/check.err"; then
		FAILED=1
		die "$target does not proxy correctly: $(cat "$TMP/check.err")"
	fi
done

# The h2c targets: ours twice, once per upstream protocol ("ours" speaks h2c
# to the upstream, "ours-h1" HTTP/1.1, as nginx does).
H2_TARGETS=()
if [[ $H2 == 1 ]]; then
	H2_TARGETS=(direct ours ours-h1)
	if [[ " ${TARGETS[*]} " == *" nginx "* ]]; then
		H2_TARGETS+=(nginx)
	fi
fi

# h2_addr_of TARGET: the h2c address of a target.
h2_addr_of() {
	case $1 in
	direct) echo "$H2UP_ADDR" ;;
	ours) echo "$MOSN_H2_ADDR" ;;
	ours-h1) echo "$MOSN_H21_ADDR" ;;
	nginx) echo "$NGX_H2_ADDR" ;;
	esac
}

# h2_proc_of TARGET: the process kind (for pids_of and check_alive).
h2_proc_of() {
	case $1 in
	ours-h1) echo ours ;;
	*) echo "$1" ;;
	esac
}

# h2_up_of TARGET: "PID ADDR" of the upstream server a target's requests
# reach: the h2c one, or the HTTP/1.1 one for the HTTP/1.1 upstream sides.
h2_up_of() {
	case $1 in
	direct | ours) echo "$UP2_PID $H2UP_ADDR" ;;
	*) echo "$UP_PID $UP_ADDR" ;;
	esac
}

# h2_label TARGET: the target as the h2c tables name it.
h2_label() {
	case $1 in
	direct) echo "direct (h2c upstream)" ;;
	ours) echo "ours h2c→h2c" ;;
	ours-h1) echo "ours h2c→HTTP/1.1" ;;
	nginx) echo "nginx h2c→HTTP/1.1" ;;
	esac
}

for target in "${H2_TARGETS[@]}"; do
	if ! "$HTTPUP" check -h2c -addr "$(h2_addr_of "$target")" 2>"$TMP/check.err"; then
		FAILED=1
		die "$target (h2c) does not proxy correctly: $(cat "$TMP/check.err")"
	fi
done

# --- measuring ---------------------------------------------------------------

# wrk reports through this script's done(): one machine-readable line with
# the latency percentiles in microseconds and every error count.
cat >"$TMP/report.lua" <<'EOF'
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d seconds=%.4f bytes=%d p50_us=%.1f p90_us=%.1f p99_us=%.1f max_us=%.1f " ..
    "err_connect=%d err_read=%d err_write=%d err_timeout=%d non2xx=%d\n",
    summary.requests, summary.duration / 1e6, summary.bytes,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.timeout, e.status))
end
EOF

# The POST scenarios' script: the same report, requests with a body.
{
	echo 'wrk.method = "POST"'
	echo 'wrk.body = string.rep("x", 1024)'
	echo 'wrk.headers["Content-Type"] = "application/octet-stream"'
	cat "$TMP/report.lua"
} >"$TMP/post.lua"

# up_stats [ADDR]: "CONNS REQUESTS" the upstream at ADDR (default: the
# HTTP/1.1 one) has accepted and answered so far (its counters; the query's
# own connection counts as one), "- -" when it does not answer.
up_stats() {
	local out
	if out=$("$HTTPUP" stats -addr "${1:-$UP_ADDR}" 2>&1); then
		awk '{ sub("conns=", "", $1); sub("requests=", "", $2); print $1, $2 }' <<<"$out"
	else
		echo "  the upstream did not answer /stats: $out" >&2
		echo "- -"
	fi
}

# diff_count A B [EXTRA]: B - A - EXTRA, or "-" when either is unknown.
diff_count() { awk -v a="$1" -v b="$2" -v x="${3:-0}" 'BEGIN { if (a ~ /^[0-9]+$/ && b ~ /^[0-9]+$/) print b - a - x; else print "-" }'; }

declare -A R # R[scenario,target,key]

# measure SCENARIO TARGET PATH CONNS [SCRIPT]: one wrk run (SCRIPT: the
# Lua script, report.lua by default); stores its figures.
measure() {
	local scen=$1 target=$2 path=$3 conns=$4 script=${5:-$TMP/report.lua} rc=0 line out
	local -a pids
	read -r -a pids <<<"$(pids_of "$target")"
	local c0 c1 n0 n1
	cpu_mark 0 "${pids[@]}"
	read -r c0 n0 <<<"$(up_stats)"
	out=$TMP/wrk-$scen-$target.txt
	# In the background and waited for, so that a signal stops the script
	# at once rather than after the run.
	"${ON_LOAD[@]}" "$WRK" -t "$THREADS" -c "$conns" -d "$DURATION" --timeout "$WRK_TIMEOUT" --latency \
		-s "$script" "http://$(addr_of "$target")$path" >"$out" 2>&1 &
	LOAD_PID=$!
	wait "$LOAD_PID" || rc=$?
	LOAD_PID=""
	cpu_mark 1 "${pids[@]}"
	read -r c1 n1 <<<"$(up_stats)"
	line=$(grep '^RESULT ' "$out" | tail -1 || true)
	if [[ -z $line ]]; then
		echo "  $scen via $target: wrk exited $rc without a result:" >&2
		sed 's/^/    /' "$out" >&2
		line="RESULT failures=all"
	fi
	local fails
	fails=$(awk -v l="$line" 'BEGIN {
		n = split(l, kv, " "); f = 0; ok = 0
		for (i = 1; i <= n; i++) {
			split(kv[i], p, "=")
			if (p[1] ~ /^(err_|non2xx)/) { f += p[2]; ok = 1 }
		}
		if (ok) print f; else print "all" }')
	R[$scen,$target,line]=$line
	R[$scen,$target,failures]=$fails
	cpu_store "$scen" "$target" proxies
	# The "after" query's connection is one of the new ones.
	R[$scen,$target,upconns]=$(diff_count "$c0" "$c1" 1)
	R[$scen,$target,upreqs]=$(diff_count "$n0" "$n1")
	if [[ ${R[$scen,$target,upconns]} == - ]]; then
		FAILED=1 # the upstream did not answer /stats
	fi
	if [[ $fails != 0 ]]; then
		FAILED=1
		echo "  FAILURE $scen via $target: $fails failed requests; wrk said:" >&2
		grep -E 'Socket errors|Non-2xx|requests in' "$out" | sed 's/^/    /' >&2 || true
	fi
	check_alive "$scen" "$target"
	printf '  %-10s %-7s %s proxy_cpu_s=%s proxy_stat_cpu_s=%s proxy_runq_s=%s upstream_runq_s=%s upstream_new_conns=%s upstream_requests=%s\n' \
		"$scen" "$target" "${line#RESULT }" "${R[$scen,$target,cpu]}" "${R[$scen,$target,statcpu]}" \
		"${R[$scen,$target,runq]}" "${R[$scen,$target,uprunq]}" "${R[$scen,$target,upconns]}" "${R[$scen,$target,upreqs]}"
}

# h2_result OUT LOG: h2load's output file and --log-file as one RESULT line
# (requests = 2xx answers; latency percentiles over them, nearest rank, in
# microseconds), or nothing when h2load printed no summary.
h2_result() {
	local out=$1 log=$2 fin req st lat
	fin=$(grep -m1 '^finished in ' "$out" || true)
	req=$(grep -m1 '^requests: ' "$out" || true)
	st=$(grep -m1 '^status codes: ' "$out" || true)
	[[ -n $fin && -n $req && -n $st ]] || return 0
	# h2load logs one line per finished stream: start (us since the
	# epoch), status (-1 for a failed stream), microseconds to the end of
	# the response.
	lat=$(awk -F'\t' '$2 >= 200 && $2 < 300 { print $3 }' "$log" 2>/dev/null | sort -n | awk '
		function rank(p,   i) { i = int(p * NR); if (i < p * NR) i++; if (i < 1) i = 1; return v[i] }
		{ v[NR] = $1 }
		END { if (NR > 0) printf "p50_us=%d p99_us=%d max_us=%d logged=%d", rank(0.5), rank(0.99), v[NR], NR; else printf "logged=0" }')
	awk -v fin="$fin" -v req="$req" -v st="$st" -v lat="$lat" 'BEGIN {
		# "finished in 10.00s, ..." (ms or us for short runs)
		split(fin, f, /[ ,]+/); d = f[3]; sec = d + 0
		if (d ~ /ms$/) sec /= 1e3; else if (d ~ /us$/) sec /= 1e6
		# "requests: N total, N started, N done, N succeeded, N failed, N errored, N timeout"
		n = split(req, r, /[ ,]+/)
		for (i = 2; i < n; i += 2) q[r[i + 1]] = r[i]
		# "status codes: N 2xx, N 3xx, N 4xx, N 5xx"
		n = split(st, s, /[ ,]+/)
		for (i = 3; i < n; i += 2) c[s[i + 1]] = s[i]
		printf "RESULT requests=%d seconds=%.4f started=%d done=%d failed=%d errored=%d timeout=%d s3xx=%d s4xx=%d s5xx=%d %s\n",
			c["2xx"], sec, q["started"], q["done"], q["failed"], q["errored"], q["timeout"], c["3xx"], c["4xx"], c["5xx"], lat
	}'
}

# measure_h2 SCENARIO TARGET CLIENTS STREAMS: one h2load run; stores its
# figures under R[SCENARIO,TARGET,...] as measure does, plus upcpu (the
# upstream server's CPU seconds).
measure_h2() {
	local scen=$1 target=$2 clients=$3 streams=$4 rc=0 line out log upid upaddr fails
	local -a pids
	read -r -a pids <<<"$(pids_of "$(h2_proc_of "$target")")"
	read -r upid upaddr <<<"$(h2_up_of "$target")"
	local c0 c1 n0 n1 u0 u1 _
	cpu_mark 0 "${pids[@]}"
	read -r u0 _ <<<"$(sched_ns "$upid")"
	read -r c0 n0 <<<"$(up_stats "$upaddr")"
	out=$TMP/h2load-$scen-$target.txt
	log=$TMP/h2load-$scen-$target.log
	rm -f "$log" # h2load appends to its log file
	# -N: a connection silent for WRK_TIMEOUT is closed and its requests
	# count as timed out, as wrk's --timeout makes them errors.
	"${ON_LOAD[@]}" "$H2LOAD" -t "$H2_THREADS" -c "$clients" -m "$streams" -D "$DURATION" -N "$WRK_TIMEOUT" \
		--log-file="$log" "http://$(h2_addr_of "$target")$H2_PATH" >"$out" 2>&1 &
	LOAD_PID=$!
	wait "$LOAD_PID" || rc=$?
	LOAD_PID=""
	cpu_mark 1 "${pids[@]}"
	read -r u1 _ <<<"$(sched_ns "$upid")"
	read -r c1 n1 <<<"$(up_stats "$upaddr")"
	line=$(h2_result "$out" "$log")
	if [[ -z $line || $rc != 0 ]]; then
		echo "  $scen via $target: h2load exited $rc${line:+ (with a summary)}:" >&2
		sed 's/^/    /' "$out" | tail -20 >&2
		line="RESULT failures=all"
		fails=all
	else
		# h2load's failed counts errors, timeouts and 4xx/5xx answers; a
		# redirect is a success to h2load but not here.
		fails=$(($(field failed "$line") + $(field s3xx "$line")))
		if [[ $(field requests "$line") == 0 ]]; then
			fails=all
		fi
	fi
	R[$scen,$target,line]=$line
	R[$scen,$target,failures]=$fails
	cpu_store "$scen" "$target" proxies
	R[$scen,$target,upcpu]=$(awk -v d=$((u1 - u0)) 'BEGIN { printf "%.4f", d / 1e9 }')
	R[$scen,$target,upconns]=$(diff_count "$c0" "$c1" 1)
	R[$scen,$target,upreqs]=$(diff_count "$n0" "$n1")
	if [[ ${R[$scen,$target,upconns]} == - ]]; then
		FAILED=1 # the upstream did not answer /stats
	fi
	if [[ $fails != 0 ]]; then
		FAILED=1
		echo "  FAILURE $scen via $target: $fails failed requests; h2load said:" >&2
		grep -E '^(finished|requests|status codes):' "$out" | sed 's/^/    /' >&2 || true
	fi
	check_alive "$scen" "$(h2_proc_of "$target")"
	printf '  %-10s %-8s %s proxy_cpu_s=%s proxy_stat_cpu_s=%s proxy_runq_s=%s upstream_cpu_s=%s upstream_runq_s=%s upstream_new_conns=%s upstream_requests=%s\n' \
		"$scen" "$target" "${line#RESULT }" "${R[$scen,$target,cpu]}" "${R[$scen,$target,statcpu]}" \
		"${R[$scen,$target,runq]}" "${R[$scen,$target,upcpu]}" "${R[$scen,$target,uprunq]}" \
		"${R[$scen,$target,upconns]}" "${R[$scen,$target,upreqs]}"
}

# The scenarios: name, path, connections.
SCENARIOS=()
if [[ $H1 == 1 ]]; then
	for c in $CONNS; do
		SCENARIOS+=("small-$c|/small|$c")
	done
	for c in $CONNS; do
		SCENARIOS+=("4k-$c|/4k|$c")
	done
	for c in $POST_CONNS; do
		SCENARIOS+=("post-$c|/small|$c|$TMP/post.lua")
	done
fi
# The h2c scenarios: name, clients, streams per client.
H2_SCENS=()
if [[ $H2 == 1 ]]; then
	for s in $H2_SCENARIOS; do
		H2_SCENS+=("h2c-$s|${s%x*}|${s#*x}")
	done
fi

echo "# bench/http.sh: HTTP whole-proxy benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
describe_machine
LOADGEN=""
[[ $H1 == 1 ]] && LOADGEN="wrk, $THREADS thread(s)"
[[ $H2 == 1 ]] && LOADGEN="${LOADGEN:+$LOADGEN; }h2load, $H2_THREADS thread(s)"
echo "- pinning: proxies (mosn, nginx) on CPU $PROXY_CPU; upstream servers (bench/httpup) and the load generator ($LOADGEN)" \
	"share CPU $LOAD_CPU (Go sizes GOMAXPROCS from the affinity, so the proxy runs with GOMAXPROCS=1)"
describe_priority "the load generator"
echo "- ours: $MOSN_VERSION, proxy filter, downstream Http1, log level WARN, no access log, cluster defaults (max_request_per_conn 1024)"
if [[ " ${TARGETS[*]} " == *" nginx "* ]]; then
	echo "- nginx: $NGX_VERSION, proxy_pass to an upstream block with keepalive $NGX_UPSTREAM_KEEPALIVE, proxy_http_version 1.1, 1 worker, access_log off, keepalive_requests ${NGX_KEEPALIVE_REQUESTS:-1000 (default)}"
else
	echo "- nginx: $NGX_NOTE"
fi
if [[ $H1 == 1 ]]; then
	echo "- wrk: $("$WRK" --version 2>&1 | head -1 | cut -d' ' -f1-2), keep-alive GET (post-N: POST with a 1 KiB body), -t $THREADS, DURATION=$DURATION; /small answers 12 bytes, /4k 4096 bytes"
fi
if [[ $H2 == 1 ]]; then
	echo "- h2load: $("$H2LOAD" --version 2>&1 | head -1), h2c with prior knowledge, GET $H2_PATH, -t $H2_THREADS -D $DURATION -N $WRK_TIMEOUT; h2c-CxM = -c C clients (connections) x -m M concurrent streams;" \
		"p50/p99 from its --log-file (h2load prints no percentiles)"
	ngx_h2=""
	if [[ " ${H2_TARGETS[*]} " == *" nginx "* ]]; then
		ngx_h2="; nginx h2c→HTTP/1.1 = \`listen ... http2\` (h2c), keepalive_requests 1000000000 on that server (h2load does not reconnect after nginx's GOAWAY), the same HTTP/1.1 upstream block (nginx proxies to upstreams over HTTP/1.x only)"
	fi
	echo "- h2c targets: direct = \`httpup serve -impl h2c\` (Go net/http's HTTP/2 server, on CPU $LOAD_CPU with h2load);" \
		"ours h2c→h2c = a listener with downstream_protocol Http2 and upstream_protocol Http2 to that server;" \
		"ours h2c→HTTP/1.1 = upstream_protocol Http1 to the HTTP/1.1 upstream$ngx_h2"
fi
echo

# A short untimed warm-up per target so that no target pays for first-use
# costs (page faults, heap growth, upstream connections) inside a timed run.
if [[ $H1 == 1 ]]; then
	for target in "${TARGETS[@]}"; do
		"${ON_LOAD[@]}" "$WRK" -t 1 -c 32 -d 1s "http://$(addr_of "$target")/small" >/dev/null 2>&1 || true
	done
fi
for target in "${H2_TARGETS[@]}"; do
	"${ON_LOAD[@]}" "$H2LOAD" -c 8 -m 4 -D 1s "http://$(h2_addr_of "$target")$H2_PATH" >/dev/null 2>&1 || true
done

# save_round N: moves this round's figures from R[scenario,...] to
# R[scenario~N,...]; load_round N copies them back for the tables.
save_round() {
	local k
	for k in "${!R[@]}"; do
		[[ $k == *"~"* ]] && continue
		R[${k%%,*}~$1,${k#*,}]=${R[$k]}
		unset "R[$k]"
	done
}
load_round() {
	local k
	for k in "${!R[@]}"; do
		[[ ${k%%,*} == *"~$1" ]] || continue
		R[${k%%~*},${k#*,}]=${R[$k]}
	done
}

echo "Runs:"
echo '```'
for ((round = 1; round <= ROUNDS; round++)); do
	((ROUNDS == 1)) || echo "round $round"
	for s in "${SCENARIOS[@]}"; do
		IFS='|' read -r name path conns script <<<"$s"
		for target in "${TARGETS[@]}"; do
			measure "$name" "$target" "$path" "$conns" "$script"
		done
	done
	for s in "${H2_SCENS[@]}"; do
		IFS='|' read -r name clients streams <<<"$s"
		for target in "${H2_TARGETS[@]}"; do
			measure_h2 "$name" "$target" "$clients" "$streams"
		done
	done
	((ROUNDS == 1)) || save_round "$round"
done
echo '```'
echo

# --- the tables --------------------------------------------------------------

rps() {
	local line=${R[$1,$2,line]}
	awk -v n="$(field requests "$line")" -v s="$(field seconds "$line")" 'BEGIN { if (s > 0) printf "%.0f", n / s }'
}

# cpu_per SCENARIO TARGET [KEY]: proxy CPU (or KEY's: upcpu for the
# upstream's) microseconds per request.
cpu_per() {
	awk -v c="${R[$1,$2,${3:-cpu}]}" -v n="$(field requests "${R[$1,$2,line]}")" 'BEGIN { if (n > 0) printf "%.1f", c * 1e6 / n }'
}

us() { awk -v v="$1" 'BEGIN { if (v == "") print "-"; else if (v >= 10000) printf "%.1f ms", v / 1000; else printf "%.0f us", v }'; }

# yn VALUE LIMIT: whether VALUE is at most LIMIT.
yn() { awk -v v="$1" -v lim="$2" 'BEGIN { if (v == "" || v == "-") print "-"; else if (v <= lim) print "yes (" v ")"; else print "**no** (" v ")" }'; }

cpu_note() {
	echo "The CPU columns are the proxy's CPU time over the run divided by the requests served: the" \
		"on-CPU nanoseconds of all its threads (nginx: master and worker) from /proc/PID/task/*/schedstat" \
		"(the runs above also show proxy_stat_cpu_s, user+system from /proc/PID/stat in 1/$CLK_TCK s ticks)." \
		"1e6 divided by it is the requests/s one proxy core could serve. In brackets, as shares of the run's" \
		"wall time: busy = that CPU time; runq = time the proxy's threads were runnable but waiting for the" \
		"CPU. A busy near 100% means the proxy was the bottleneck; a high runq with a low busy means machine" \
		"noise starved the run, and the CPU-per-request figure is the one to trust."
}

# h1_tables: the wrk scenarios' tables.
h1_tables() {
	local s name d o oc n nc row target line cr pr
	echo "HTTP/1.1 (wrk): requests/s (higher is better) and proxy CPU time per request (lower is better):"
	echo
	throughput_header
	for s in "${SCENARIOS[@]}"; do
		IFS='|' read -r name _ _ <<<"$s"
		d=$(rps "$name" direct)
		o=$(rps "$name" ours)
		oc=$(cpu_per "$name" ours)
		n="" nc=""
		if [[ $has_nginx == 1 ]]; then
			n=$(rps "$name" nginx)
			nc=$(cpu_per "$name" nginx)
		fi
		throughput_row "$name" req/s us/req "$d" "$o" "$oc" "$n" "$nc"
	done
	echo
	echo "Latency p50 / p99 (wrk --latency; lower is better):"
	echo
	if [[ $has_nginx == 1 ]]; then
		echo "| scenario | direct | ours | nginx | p99 ours/nginx |"
		echo "|---|---|---|---|---|"
	else
		echo "| scenario | direct | ours |"
		echo "|---|---|---|"
	fi
	for s in "${SCENARIOS[@]}"; do
		IFS='|' read -r name _ _ <<<"$s"
		row="| $name |"
		for target in "${TARGETS[@]}"; do
			line=${R[$name,$target,line]}
			row="$row $(us "$(field p50_us "$line")") / $(us "$(field p99_us "$line")") |"
		done
		if [[ $has_nginx == 1 ]]; then
			row="$row $(ratio "$(field p99_us "${R[$name,ours,line]}")" "$(field p99_us "${R[$name,nginx,line]}")") |"
		fi
		echo "$row"
	done
	echo
	cpu_note

	if [[ $has_nginx == 1 ]]; then
		echo
		echo "Against the goals in DESIGN.md: ours at most 20 us of CPU per request, per-core requests/s" \
			"at least nginx's (CPU ours/nginx at most 1), p99 no worse than nginx's:"
		echo
		echo "| scenario | ours CPU <= 20 us | CPU ours/nginx <= 1 | p99 ours/nginx <= 1 |"
		echo "|---|---|---|---|"
		for s in "${SCENARIOS[@]}"; do
			IFS='|' read -r name _ _ <<<"$s"
			oc=$(cpu_per "$name" ours)
			nc=$(cpu_per "$name" nginx)
			cr=$(ratio "$oc" "$nc")
			pr=$(ratio "$(field p99_us "${R[$name,ours,line]}")" "$(field p99_us "${R[$name,nginx,line]}")")
			echo "| $name | $(yn "$oc" 20) | $(yn "$cr" 1) | $(yn "$pr" 1) |"
		done
	fi
}

# h1_ref CLIENTS STREAMS: the wrk scenario an h2c scenario is held against:
# small-N with N = CLIENTS x STREAMS requests in flight when it ran, else
# the first small one; nothing without wrk scenarios.
h1_ref() {
	local s name first=""
	for s in "${SCENARIOS[@]}"; do
		IFS='|' read -r name _ _ <<<"$s"
		[[ $name == small-* ]] || continue
		[[ -n $first ]] || first=$name
		if [[ $name == "small-$(($1 * $2))" ]]; then
			echo "$name"
			return
		fi
	done
	echo "$first"
}

# h2_tables: the h2load scenarios' tables.
h2_tables() {
	local s name clients streams target has_ngx=0 d n r row p50 p99 pc uc href h1r r2 r21
	[[ " ${H2_TARGETS[*]} " == *" nginx "* ]] && has_ngx=1
	echo "HTTP/2 (h2c, h2load): requests/s and latency, each also as a ratio to direct's and to nginx's" \
		"(req/s: higher is better; CPU and latency: lower is better):"
	echo
	echo "| scenario | target | req/s | /direct | /nginx | proxy CPU | CPU /nginx | upstream CPU | p50 / p99 | /direct | /nginx |"
	echo "|---|---|---|---|---|---|---|---|---|---|---|"
	for s in "${H2_SCENS[@]}"; do
		IFS='|' read -r name _ _ <<<"$s"
		d=${R[$name,direct,line]}
		n=""
		if [[ $has_ngx == 1 ]]; then
			n=${R[$name,nginx,line]}
		fi
		for target in "${H2_TARGETS[@]}"; do
			r=${R[$name,$target,line]}
			p50=$(field p50_us "$r")
			p99=$(field p99_us "$r")
			row="| $name | $(h2_label "$target") | $(cell "$(rps "$name" "$target")" req/s "${R[$name,$target,failures]}") |"
			if [[ $target == direct ]]; then
				row="$row - |"
			else
				row="$row $(ratio "$(rps "$name" "$target")" "$(rps "$name" direct)") |"
			fi
			if [[ $target == nginx || $has_ngx == 0 ]]; then
				row="$row - |"
			else
				row="$row $(ratio "$(rps "$name" "$target")" "$(rps "$name" nginx)") |"
			fi
			if [[ $target == direct ]]; then
				row="$row - | - |"
			else
				pc=$(cpu_per "$name" "$target")
				row="$row ${pc:--} us/req ($(busy "$name" "$target")) |"
				if [[ $target == nginx || $has_ngx == 0 ]]; then
					row="$row - |"
				else
					row="$row $(ratio "$(cpu_per "$name" "$target")" "$(cpu_per "$name" nginx)") |"
				fi
			fi
			uc=$(cpu_per "$name" "$target" upcpu)
			row="$row ${uc:--} us/req | $(us "$p50") / $(us "$p99") |"
			if [[ $target == direct ]]; then
				row="$row - |"
			else
				row="$row $(ratio "$p50" "$(field p50_us "$d")") / $(ratio "$p99" "$(field p99_us "$d")") |"
			fi
			if [[ $target == nginx || $has_ngx == 0 ]]; then
				row="$row - |"
			else
				row="$row $(ratio "$p50" "$(field p50_us "$n")") / $(ratio "$p99" "$(field p99_us "$n")") |"
			fi
			echo "$row"
		done
	done
	echo
	if [[ $H1 == 1 ]]; then
		echo "The CPU columns are measured as for HTTP/1.1 above."
	else
		cpu_note
	fi
	echo "The upstream CPU column is the upstream server's CPU time per request, on CPU $LOAD_CPU with h2load:" \
		"the h2c upstream (net/http's HTTP/2 server; direct and ours h2c→h2c) costs more per request than the" \
		"HTTP/1.1 epoll upstream (ours h2c→HTTP/1.1 and nginx), so direct's requests/s is CPU $LOAD_CPU's limit" \
		"with that server; compare the proxies by CPU per request."
	if [[ $has_ngx == 1 ]]; then
		echo "nginx keeps at most $NGX_UPSTREAM_KEEPALIVE idle upstream connections: with more requests in flight" \
			"it opens new ones constantly (upstream_new_conns above), as in the HTTP/1.1 128-connection runs."
	fi

	[[ $has_ngx == 1 ]] || return 0
	echo
	echo "Against issue #3's goal, h2c within 10% of our HTTP/1 per-core figure against nginx: CPU ours/nginx" \
		"for h2c at most 1.1 times that of the HTTP/1.1 wrk scenario with as many requests in flight (this run):"
	echo
	echo "| h2c scenario | HTTP/1.1 scenario | its CPU ours/nginx | h2c CPU ours/nginx, h2c→h2c | h2c CPU ours/nginx, h2c→HTTP/1.1 | h2c→h2c within 10% | h2c→HTTP/1.1 within 10% |"
	echo "|---|---|---|---|---|---|---|"
	for s in "${H2_SCENS[@]}"; do
		IFS='|' read -r name clients streams <<<"$s"
		href=$(h1_ref "$clients" "$streams")
		h1r=""
		if [[ -n $href && " ${TARGETS[*]} " == *" nginx "* ]]; then
			h1r=$(ratio "$(cpu_per "$href" ours)" "$(cpu_per "$href" nginx)")
		fi
		r2=$(ratio "$(cpu_per "$name" ours)" "$(cpu_per "$name" nginx)")
		r21=$(ratio "$(cpu_per "$name" ours-h1)" "$(cpu_per "$name" nginx)")
		echo "| $name | ${href:--} | ${h1r:--} | $r2 | $r21 | $(within "$r2" "$h1r") | $(within "$r21" "$h1r") |"
	done
	if [[ $H1 != 1 ]]; then
		echo
		echo "(H1=0: no HTTP/1.1 figure in this run; compare with the HTTP/1 section of docs/benchmarks.md.)"
	fi
}

# within VALUE REF: whether VALUE is at most 1.1 x REF, with VALUE/REF.
within() {
	awk -v v="$1" -v r="$2" 'BEGIN {
		if (v == "" || v == "-" || r == "" || r == "-" || r <= 0) { print "-"; exit }
		q = sprintf("%.2f", v / r)
		if (v <= 1.1 * r) print "yes (" q "x)"; else print "**no** (" q "x)" }'
}

# median V...: the median of the numbers given ("-" ones left out).
median() {
	printf '%s\n' "$@" | grep -E '^[0-9.]+$' | sort -g | awk '{ v[NR] = $1 }
		END { if (NR == 0) print "-"; else if (NR % 2) printf "%.2f", v[(NR + 1) / 2]; else printf "%.2f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# rounds_summary: per scenario, the ratios ours/nginx of every round and
# their medians, against the goals.
rounds_summary() {
	local s name target r cr pr row cpus p99s label
	echo "Across the $ROUNDS rounds: CPU per request and p99, ours/nginx, per round and the median" \
		"(goal: at most 1 for HTTP/1.1; at most 1.1 for h2c):"
	echo
	echo "| scenario | CPU ours/nginx by round | median | p99 ours/nginx by round | median |"
	echo "|---|---|---|---|---|"
	local -a rows=()
	for s in "${SCENARIOS[@]}"; do
		IFS='|' read -r name _ _ <<<"$s"
		rows+=("$name|ours|$name")
	done
	for s in "${H2_SCENS[@]}"; do
		IFS='|' read -r name _ _ <<<"$s"
		rows+=("$name|ours-h1|$name, h2c→HTTP/1.1" "$name|ours|$name, h2c→h2c")
	done
	for row in "${rows[@]}"; do
		IFS='|' read -r name target label <<<"$row"
		cpus=() p99s=()
		for ((r = 1; r <= ROUNDS; r++)); do
			cpus+=("$(ratio "$(cpu_per "$name~$r" "$target")" "$(cpu_per "$name~$r" nginx)")")
			p99s+=("$(ratio "$(field p99_us "${R[$name~$r,$target,line]}")" "$(field p99_us "${R[$name~$r,nginx,line]}")")")
		done
		echo "| $label | ${cpus[*]} | $(median "${cpus[@]}") | ${p99s[*]} | $(median "${p99s[@]}") |"
	done
}

for ((round = 1; round <= ROUNDS; round++)); do
	if ((ROUNDS > 1)); then
		load_round "$round"
		echo "## Round $round"
		echo
	fi
	if [[ $H1 == 1 ]]; then
		h1_tables
	fi
	if [[ $H2 == 1 ]]; then
		[[ $H1 == 1 ]] && echo
		h2_tables
	fi
	echo
done
if ((ROUNDS > 1)) && [[ " ${TARGETS[*]} ${H2_TARGETS[*]} " == *" nginx "* ]]; then
	echo "## Summary"
	echo
	rounds_summary
fi

# --- profile -----------------------------------------------------------------

if [[ $PROFILE == 1 ]]; then
	read -r pconns _ <<<"$CONNS"
	echo
	echo "Profile: ${PROFILE_SECONDS}s of bin/mosn CPU under wrk -c $pconns /small (pprof on 127.0.0.1:$PPROF_PORT):"
	echo
	"${ON_LOAD[@]}" "$WRK" -t "$THREADS" -c "$pconns" -d "$((PROFILE_SECONDS + 4))s" --timeout "$WRK_TIMEOUT" \
		-s "$TMP/report.lua" "http://$MOSN_ADDR/small" >"$TMP/wrk-profile.txt" 2>&1 &
	LOAD_PID=$!
	sleep 2 # let the load reach its steady state before sampling
	if curl -sS -f -o "$TMP/cpu.prof" "http://127.0.0.1:$PPROF_PORT/debug/pprof/profile?seconds=$PROFILE_SECONDS" 2>"$TMP/curl.err"; then
		echo '```'
		go tool pprof -top -nodecount=40 "$MOSN" "$TMP/cpu.prof" 2>&1
		echo '```'
		echo
		echo "The profile is $TMP/cpu.prof (go tool pprof -http=: $MOSN $TMP/cpu.prof)."
	else
		echo "fetching the profile failed: $(cat "$TMP/curl.err")" >&2
		FAILED=1
	fi
	wait "$LOAD_PID" || true
	LOAD_PID=""
	echo "Load during the profile: $(grep '^RESULT' "$TMP/wrk-profile.txt" | sed 's/^RESULT //')"
fi

if [[ $FAILED != 0 ]]; then
	echo
	echo "**Some runs failed** (see the FAILURE lines above and the wrk and h2load output in $TMP)."
	exit 1
fi
