#!/usr/bin/env bash
# Whole-proxy benchmark of HTTP/1.1 L7 proxying (the proxy network filter).
#
# Runs wrk (keep-alive GET) against the upstream directly, through bin/mosn
# and, when nginx is installed, through nginx as a reverse proxy, all in one
# run, and prints Markdown tables of requests/s, latency, the ratios and the
# proxies' CPU time per request. See bench/README.md.
#
# Environment (defaults in brackets):
#   DURATION        length of each wrk run [10s; 3s with QUICK=1]
#   QUICK=1         short runs
#   CONNS           wrk connection counts, one scenario pair each ["32 128"]
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
#   KEEP_TMP=1      keep the temp dir (configs, logs, wrk output) after the run
#   NICE            nice value (and autogroup nice) of the benchmark's processes [-15 when
#                   allowed (root), else 0; NICE=0 leaves priorities and sessions alone]
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
CONNS=${CONNS:-32 128}
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

BENCH_NAME=bench/http.sh
BENCH_SCRIPT=${BASH_SOURCE[0]}
# shellcheck source=SCRIPTDIR/lib.sh
source "$ROOT/bench/lib.sh"

[[ -x $MOSN ]] || die "$MOSN not found: run 'make build' first"
command -v "$WRK" >/dev/null || die "wrk not found (apt-get install -y wrk)"
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
read -r UP_PORT MOSN_PORT NGX_PORT PPROF_PORT < <("$HTTPUP" freeport -n 4)
UP_ADDR=127.0.0.1:$UP_PORT
MOSN_ADDR=127.0.0.1:$MOSN_PORT
NGX_ADDR=127.0.0.1:$NGX_PORT

# The upstream: httpup's epoll server (one thread, one read and one write
# per request), the cheapest of the upstreams tried (see bench/README.md).
"${ON_LOAD[@]}" "$HTTPUP" serve -addr "$UP_ADDR" 2>"$TMP/upstream.log" &
UP_PID=$!
"$HTTPUP" wait -addr "$UP_ADDR" || die "the upstream server did not start: $(cat "$TMP/upstream.log")"

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
    }],
    "routers": [{
      "router_config_name": "r",
      "virtual_hosts": [{"name": "v", "domains": ["*"], "routers": [{"match": {"prefix": "/"}, "route": {"cluster_name": "c"}}]}]
    }]
  }],
  "cluster_manager": {
    "clusters": [{"name": "c", "hosts": [{"address": "$UP_ADDR"}]}]
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
	local kr="" ukr=""
	if [[ -n $NGX_KEEPALIVE_REQUESTS ]]; then
		kr="keepalive_requests $NGX_KEEPALIVE_REQUESTS;"
		ukr=$kr
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

# up_stats: "CONNS REQUESTS" the upstream has accepted and answered so far
# (its counters; the query's own connection counts as one), "- -" when it
# does not answer.
up_stats() {
	local out
	if out=$("$HTTPUP" stats -addr "$UP_ADDR" 2>&1); then
		awk '{ sub("conns=", "", $1); sub("requests=", "", $2); print $1, $2 }' <<<"$out"
	else
		echo "  the upstream did not answer /stats: $out" >&2
		echo "- -"
	fi
}

# diff_count A B [EXTRA]: B - A - EXTRA, or "-" when either is unknown.
diff_count() { awk -v a="$1" -v b="$2" -v x="${3:-0}" 'BEGIN { if (a ~ /^[0-9]+$/ && b ~ /^[0-9]+$/) print b - a - x; else print "-" }'; }

declare -A R # R[scenario,target,key]

# measure SCENARIO TARGET PATH CONNS: one wrk run; stores its figures.
measure() {
	local scen=$1 target=$2 path=$3 conns=$4 rc=0 line out
	local -a pids
	read -r -a pids <<<"$(pids_of "$target")"
	local c0 c1 n0 n1
	cpu_mark 0 "${pids[@]}"
	read -r c0 n0 <<<"$(up_stats)"
	out=$TMP/wrk-$scen-$target.txt
	# In the background and waited for, so that a signal stops the script
	# at once rather than after the run.
	"${ON_LOAD[@]}" "$WRK" -t "$THREADS" -c "$conns" -d "$DURATION" --timeout "$WRK_TIMEOUT" --latency \
		-s "$TMP/report.lua" "http://$(addr_of "$target")$path" >"$out" 2>&1 &
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

# The scenarios: name, path, connections.
SCENARIOS=()
for c in $CONNS; do
	SCENARIOS+=("small-$c|/small|$c")
done
for c in $CONNS; do
	SCENARIOS+=("4k-$c|/4k|$c")
done

echo "# bench/http.sh: HTTP/1.1 whole-proxy benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
describe_machine
echo "- pinning: proxies (mosn, nginx) on CPU $PROXY_CPU; upstream server (bench/httpup) and wrk ($THREADS thread) share CPU $LOAD_CPU" \
	"(Go sizes GOMAXPROCS from the affinity, so the proxy runs with GOMAXPROCS=1)"
describe_priority wrk
echo "- ours: $MOSN_VERSION, proxy filter, downstream Http1, log level WARN, no access log, cluster defaults (max_request_per_conn 1024)"
if [[ " ${TARGETS[*]} " == *" nginx "* ]]; then
	echo "- nginx: $NGX_VERSION, proxy_pass to an upstream block with keepalive $NGX_UPSTREAM_KEEPALIVE, proxy_http_version 1.1, 1 worker, access_log off, keepalive_requests ${NGX_KEEPALIVE_REQUESTS:-1000 (default)}"
else
	echo "- nginx: $NGX_NOTE"
fi
echo "- wrk: $("$WRK" --version 2>&1 | head -1 | cut -d' ' -f1-2), keep-alive GET, -t $THREADS, DURATION=$DURATION; /small answers 12 bytes, /4k 4096 bytes"
echo

# A short untimed warm-up per target so that no target pays for first-use
# costs (page faults, heap growth, upstream connections) inside a timed run.
for target in "${TARGETS[@]}"; do
	"${ON_LOAD[@]}" "$WRK" -t 1 -c 32 -d 1s "http://$(addr_of "$target")/small" >/dev/null 2>&1 || true
done

echo "Runs:"
echo '```'
for s in "${SCENARIOS[@]}"; do
	IFS='|' read -r name path conns <<<"$s"
	for target in "${TARGETS[@]}"; do
		measure "$name" "$target" "$path" "$conns"
	done
done
echo '```'
echo

# --- the tables --------------------------------------------------------------

rps() {
	local line=${R[$1,$2,line]}
	awk -v n="$(field requests "$line")" -v s="$(field seconds "$line")" 'BEGIN { if (s > 0) printf "%.0f", n / s }'
}

# cpu_per SCENARIO TARGET: proxy CPU microseconds per request.
cpu_per() {
	awk -v c="${R[$1,$2,cpu]}" -v n="$(field requests "${R[$1,$2,line]}")" 'BEGIN { if (n > 0) printf "%.1f", c * 1e6 / n }'
}

us() { awk -v v="$1" 'BEGIN { if (v == "") print "-"; else if (v >= 10000) printf "%.1f ms", v / 1000; else printf "%.0f us", v }'; }

echo "Requests/s (higher is better) and proxy CPU time per request (lower is better):"
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
echo "The CPU columns are the proxy's CPU time over the run divided by the requests served: the" \
	"on-CPU nanoseconds of all its threads (nginx: master and worker) from /proc/PID/task/*/schedstat" \
	"(the runs above also show proxy_stat_cpu_s, user+system from /proc/PID/stat in 1/$CLK_TCK s ticks)." \
	"1e6 divided by it is the requests/s one proxy core could serve. In brackets, as shares of the run's" \
	"wall time: busy = that CPU time; runq = time the proxy's threads were runnable but waiting for the" \
	"CPU. A busy near 100% means the proxy was the bottleneck; a high runq with a low busy means machine" \
	"noise starved the run, and the CPU-per-request figure is the one to trust."

# yn VALUE LIMIT: whether VALUE is at most LIMIT.
yn() { awk -v v="$1" -v lim="$2" 'BEGIN { if (v == "" || v == "-") print "-"; else if (v <= lim) print "yes (" v ")"; else print "**no** (" v ")" }'; }

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
	echo "**Some runs failed** (see the FAILURE lines above and the wrk output in $TMP)."
	exit 1
fi
