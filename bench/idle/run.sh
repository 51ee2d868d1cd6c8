#!/usr/bin/env bash
# Idle-connection benchmark (issue #6): what N idle downstream connections
# of each kind cost the proxy, next to nginx measured the same way.
#
# For each target and kind, a fresh proxy is started and several client
# processes (bench/idle, "idle client") open N connections through it, one
# request each, and then hold them idle. The script reads the proxy's RSS
# (VmRSS) before and after, its CPU time over an idle window, the kernel's
# slab memory, and then has the clients check every connection and time a
# request on random ones. See bench/idle/README.md.
#
# Environment (defaults in brackets):
#   N           connections per kind [15000]
#   PER_PROC    most connections per client process [5000]; the clients are
#               max(3, ceil(N/PER_PROC)) processes
#   IDLE        seconds of the idle window whose CPU time is measured [30]
#   SETTLE      seconds between the last connection opened and the first
#               RSS reading [3]
#   PROBE       connections timed per client process (0: all of them) [500]
#   KINDS       kinds measured through our proxy ["http1 h2c bolt"]
#   NGX_KINDS   kinds measured through nginx ["http1 h2c"]
#   HEARTBEAT   bolt heartbeat period per connection, as sofa-bolt's client
#               default (bolt.tcp.heartbeat.interval, 15 s); 0: none [15s]
#   CONC        connections each client process opens at once [64]
#   PROFILE=0   skip the heap profile, goroutine count and forced-GC figures of our proxy [1]
#   CPU_PROFILE=1  also a CPU profile of our proxy over the idle window (top 25 printed)
#   GC_WAIT     seconds between two forced GCs of our proxy and the "after GC" RSS reading [5]
#   MOSN        proxy binary [built from the tree into bin/mosn]
#   MOSNLOAD    bolt echo server binary [built from cmd/mosnload into the temp dir]
#   NGINX=0     skip nginx
#   PROXY_CPU   CPU of the proxies [0]     LOAD_CPU   CPU of clients and upstreams [1]
#   NICE, KEEP_TMP as in bench/tcp.sh (bench/lib.sh)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
N=${N:-15000}
PER_PROC=${PER_PROC:-5000}
IDLE=${IDLE:-30}
SETTLE=${SETTLE:-3}
PROBE=${PROBE:-500}
KINDS=${KINDS:-http1 h2c bolt}
NGX_KINDS=${NGX_KINDS:-http1 h2c}
HEARTBEAT=${HEARTBEAT:-15s}
CONC=${CONC:-64}
GC_WAIT=${GC_WAIT:-5}
CPU_PROFILE=${CPU_PROFILE:-0}
PROFILE=${PROFILE:-1}
NGINX=${NGINX:-1}
PROXY_CPU=${PROXY_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
KEEP_TMP=${KEEP_TMP:-0}
NICE=${NICE:-}

BENCH_NAME=bench/idle/run.sh
BENCH_SCRIPT=${BASH_SOURCE[0]}
# shellcheck source=SCRIPTDIR/../lib.sh
source "$ROOT/bench/lib.sh"

command -v go >/dev/null || die "go not found"
command -v taskset >/dev/null || die "taskset not found (apt-get install -y util-linux)"
command -v curl >/dev/null || die "curl not found (apt-get install -y curl)"
# Every process started from here inherits the limit: the proxies hold N
# sockets each, a client process PER_PROC.
ulimit -n "$(ulimit -Hn)"
NOFILE=$(ulimit -n)
((N + 100 <= NOFILE)) || die "N=$N does not fit the open-file limit $NOFILE of the proxy process: lower N"
((PER_PROC + 100 <= NOFILE)) || die "PER_PROC=$PER_PROC does not fit the open-file limit $NOFILE"

bench_priority BENCH_IDLE_SESSION "$@"
bench_tmp bench-idle
trap 'exit 143' TERM

# The clients and the second upstream are ours to stop too: lib.sh's
# cleanup, run after them, stops the proxies and the first upstream.
CLIENT_PIDS=() BOLT_UP_PID=""
eval "lib_$(declare -f cleanup)"
cleanup() {
	local rc=$? p
	for p in "${CLIENT_PIDS[@]}"; do
		stop_pid "$p" USR2
	done
	stop_pid "$BOLT_UP_PID" TERM
	# lib_cleanup reads the exit status from $?; a failing command in an
	# || list does not trip set -e.
	if ((rc == 0)); then
		lib_cleanup
	else
		(exit "$rc") || lib_cleanup
	fi
}

# --- tools, upstreams --------------------------------------------------------

if [[ -z ${MOSN:-} ]]; then
	(cd "$ROOT" && go build -o bin/mosn ./cmd/mosn) || die "building cmd/mosn failed"
	MOSN=$ROOT/bin/mosn
fi
[[ -x $MOSN ]] || die "$MOSN is not executable"
if [[ -z ${MOSNLOAD:-} ]]; then
	(cd "$ROOT" && go build -o "$TMP/mosnload" ./cmd/mosnload) || die "building cmd/mosnload failed"
	MOSNLOAD=$TMP/mosnload
fi
(cd "$ROOT" && go build -o "$TMP/idle" ./bench/idle) || die "building bench/idle failed"
(cd "$ROOT" && go build -o "$TMP/httpup" ./bench/httpup) || die "building bench/httpup failed"
IDLEC=$TMP/idle
CLK_TCK=$(getconf CLK_TCK)
PAGE=$(getconf PAGESIZE)

read -r UP_PORT BOLT_UP_PORT H1_PORT H2_PORT BOLT_PORT NGX_H1_PORT NGX_H2_PORT PPROF_PORT < <("$IDLEC" freeport -n 8)
UP_ADDR=127.0.0.1:$UP_PORT
BOLT_UP_ADDR=127.0.0.1:$BOLT_UP_PORT
declare -A ADDR=(
	[ours,http1]=127.0.0.1:$H1_PORT [ours,h2c]=127.0.0.1:$H2_PORT [ours,bolt]=127.0.0.1:$BOLT_PORT
	[nginx,http1]=127.0.0.1:$NGX_H1_PORT [nginx,h2c]=127.0.0.1:$NGX_H2_PORT
)
MOSN_ADDR=${ADDR[ours,http1]}
NGX_ADDR=${ADDR[nginx,http1]}

# HTTP/1 upstream for both HTTP kinds: httpup's one-thread epoll server.
"${ON_LOAD[@]}" "$TMP/httpup" serve -addr "$UP_ADDR" 2>"$TMP/upstream.log" &
UP_PID=$!
# Bolt upstream: mosnload's echo server (it answers heartbeats too).
"${ON_LOAD[@]}" "$MOSNLOAD" serve -p sofarpc "$BOLT_UP_ADDR" >"$TMP/bolt-upstream.log" 2>&1 &
BOLT_UP_PID=$!
"$IDLEC" wait -addr "$UP_ADDR,$BOLT_UP_ADDR" || die "the upstream servers did not start: $(cat "$TMP/upstream.log" "$TMP/bolt-upstream.log")"

mkdir -p "$TMP/mosn"
PPROF_JSON=""
if [[ $PROFILE == 1 ]]; then
	PPROF_JSON="\"pprof\": {\"debug\": true, \"endpoint\": \"127.0.0.1\", \"port_value\": $PPROF_PORT},"
fi
cat >"$TMP/mosn/mosn.json" <<EOF
{
  $PPROF_JSON
  "servers": [{
    "default_log_path": "$TMP/mosn/mosn.log",
    "default_log_level": "WARN",
    "listeners": [
      {"name": "h1", "address": "${ADDR[ours,http1]}", "bind_port": true,
       "filter_chains": [{"filters": [{"type": "proxy", "config": {"downstream_protocol": "Http1", "router_config_name": "r"}}]}]},
      {"name": "h2", "address": "${ADDR[ours,h2c]}", "bind_port": true,
       "filter_chains": [{"filters": [{"type": "proxy", "config": {"downstream_protocol": "Http2", "upstream_protocol": "Http1", "router_config_name": "r"}}]}]},
      {"name": "bolt", "address": "${ADDR[ours,bolt]}", "bind_port": true,
       "filter_chains": [{"filters": [{"type": "proxy", "config": {"downstream_protocol": "bolt", "cluster": "echo"}}]}]}
    ],
    "routers": [{
      "router_config_name": "r",
      "virtual_hosts": [{"name": "v", "domains": ["*"], "routers": [{"match": {"prefix": "/"}, "route": {"cluster_name": "http"}}]}]
    }]
  }],
  "cluster_manager": {
    "clusters": [
      {"name": "http", "hosts": [{"address": "$UP_ADDR"}]},
      {"name": "echo", "hosts": [{"address": "$BOLT_UP_ADDR"}]}
    ]
  }
}
EOF

mkdir -p "$TMP/nginx/logs"
cat >"$TMP/nginx/nginx.conf" <<EOF
daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile $NOFILE;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/logs/error.log warn;
events { worker_connections $((NOFILE - 100)); }
http {
    access_log off;
    # Held connections must outlive the run: 1 h idle, no request cap.
    keepalive_timeout 3600s;
    keepalive_requests 1000000;
    upstream u {
        server $UP_ADDR;
        keepalive 64;
    }
    server {
        listen ${ADDR[nginx,http1]};
        listen ${ADDR[nginx,h2c]} http2;
        location / {
            proxy_pass http://u;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
EOF

# --- measuring ---------------------------------------------------------------

# Client processes and how many connections each opens.
PROCS=$(((N + PER_PROC - 1) / PER_PROC))
((PROCS >= 3)) || PROCS=3
((N >= PROCS)) || PROCS=$N
SHARE=()
for ((i = 0; i < PROCS; i++)); do
	SHARE[i]=$((N / PROCS + (i < N % PROCS ? 1 : 0)))
done

start_target() { # TARGET
	case $1 in
	ours)
		start_mosn "$IDLEC"
		"$IDLEC" wait -addr "${ADDR[ours,h2c]},${ADDR[ours,bolt]}" || die "bin/mosn did not open every listener"
		;;
	nginx)
		run_nginx "$IDLEC" || die "nginx: $NGX_NOTE"
		"$IDLEC" wait -addr "${ADDR[nginx,h2c]}" || die "nginx did not open its h2c port"
		;;
	esac
}

stop_target() { # TARGET
	case $1 in
	ours) stop_pid "$MOSN_PID" INT && MOSN_PID="" ;;
	nginx) stop_pid "$NGX_PID" TERM && NGX_PID="" ;;
	esac
}

# rss_kb PID...: resident set size in KiB, summed.
rss_kb() {
	local t=0 p v
	for p in "$@"; do
		v=$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null || true)
		t=$((t + ${v:-0}))
	done
	echo "$t"
}

# fds PID...: open file descriptors, summed.
fds() {
	local t=0 p
	for p in "$@"; do
		t=$((t + $(find "/proc/$p/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)))
	done
	echo "$t"
}

# slab_kb: the kernel's slab memory (/proc/meminfo Slab), KiB.
slab_kb() { awk '/^Slab:/ {print $2}' /proc/meminfo; }

# tcp_stat: "INUSE MEMPAGES" of /proc/net/sockstat's TCP line.
tcp_stat() { awk '/^TCP:/ {for (i = 2; i < NF; i++) {if ($i == "inuse") u = $(i+1); if ($i == "mem") m = $(i+1)}; print u, m}' /proc/net/sockstat; }

# slab_objs: "NAME ACTIVE_OBJS OBJSIZE" for the caches a TCP socket uses,
# when /proc/slabinfo is readable.
SLAB_CACHES="TCP sock_inode_cache filp dentry eventpoll_epi"
slab_objs() {
	[[ -r /proc/slabinfo ]] || return 0
	awk -v want=" $SLAB_CACHES " 'index(want, " " $1 " ") {print $1, $2, $4}' /proc/slabinfo 2>/dev/null || true
}

# memstats: our proxy's runtime.MemStats (from the pprof heap page) after
# two forced GCs, as KEY=VALUE words; Stack and MSpan become *Inuse and
# *Sys. Two: a sync.Pool keeps what it holds through the first GC (in its
# victim cache), so only the second frees the read buffers that idle
# connections gave back.
memstats() {
	curl -sS -f -o /dev/null "http://127.0.0.1:$PPROF_PORT/debug/pprof/heap?gc=1" 2>/dev/null || true
	curl -sS -f "http://127.0.0.1:$PPROF_PORT/debug/pprof/heap?gc=1&debug=1" 2>/dev/null |
		sed -n -E 's/^# (Sys|HeapSys|HeapInuse|HeapIdle|HeapReleased|HeapAlloc|HeapObjects|GCSys|OtherSys|NextGC|NumGC) = ([0-9]+)$/\1=\2/p
			s/^# (Stack|MSpan) = ([0-9]+) \/ ([0-9]+)$/\1Inuse=\2 \1Sys=\3/p' | tr '\n' ' ' || true
}

# goroutines: our proxy's goroutine count.
goroutines() {
	curl -sS -f "http://127.0.0.1:$PPROF_PORT/debug/pprof/goroutine?debug=1" 2>/dev/null | sed -n 's/^goroutine profile: total //p' || true
}

# wait_lines WORD SECONDS FILE...: until every FILE has a line starting with
# WORD; fails after SECONDS or when a client died.
wait_lines() {
	local word=$1 limit=$2 f p all t
	shift 2
	for ((t = 0; t < limit * 10; t++)); do
		all=1
		for f in "$@"; do
			grep -q "^$word " "$f" 2>/dev/null || all=0
		done
		[[ $all == 1 ]] && return 0
		for p in "${CLIENT_PIDS[@]}"; do
			kill -0 "$p" 2>/dev/null || {
				echo "  a client exited before $word: $(cat "$TMP"/*.err 2>/dev/null | tail -5)" >&2
				return 1
			}
		done
		sleep 0.1
	done
	echo "  no $word line from every client within $limit s" >&2
	return 1
}

field() { tr ' ' '\n' <<<"$2" | sed -n "s/^$1=//p"; }

# sum_field KEY LINE...: the sum of KEY over the lines.
sum_field() {
	local k=$1 t=0 l v
	shift
	for l in "$@"; do
		v=$(field "$k" "$l")
		t=$((t + ${v:-0}))
	done
	echo "$t"
}

# pct FILE P...: nearest-rank percentiles of the numbers in FILE.
pct() {
	local f=$1
	shift
	sort -g "$f" | awk -v ps="$*" '{v[NR] = $1} END {
		n = split(ps, p, " ")
		for (i = 1; i <= n; i++) {
			if (NR == 0) { printf "- "; continue }
			r = int(p[i] / 100 * NR + 0.999999); if (r < 1) r = 1; if (r > NR) r = NR
			printf "%s ", v[r]
		}
	}'
}

declare -A R # R[target,kind,key]
RUN=0

# measure TARGET KIND: one fresh proxy, N held connections, the figures.
measure() {
	local target=$1 kind=$2 addr=${ADDR[$1,$2]} tag="$1-$2" i
	local -a pids outs opens probes
	RUN=$((RUN + 1))
	echo "== $tag: N=$N over $PROCS client processes (${SHARE[*]}), idle window ${IDLE}s"
	start_target "$target"
	read -r -a pids <<<"$(pids_of "$target")"
	local hb=0
	[[ $kind == bolt ]] && hb=$HEARTBEAT
	# Warm-up: a few connections, one request each, closed again, so that
	# upstream connections and lazily built state exist before the baseline.
	"${ON_LOAD[@]}" "$IDLEC" client -kind "$kind" -addr "$addr" -n 8 -probe 0 >"$TMP/$tag.warm.out" 2>&1 &
	CLIENT_PIDS=($!)
	wait_lines OPEN 30 "$TMP/$tag.warm.out" || die "$tag: the warm-up client failed: $(cat "$TMP/$tag.warm.out")"
	kill -USR1 "${CLIENT_PIDS[0]}"
	wait_lines PROBE 30 "$TMP/$tag.warm.out" || die "$tag: the warm-up probe failed"
	stop_pid "${CLIENT_PIDS[0]}" USR2
	CLIENT_PIDS=()
	sleep 1
	read -r -a pids <<<"$(pids_of "$target")"

	local gor0="-" memstats0=""
	if [[ $target == ours && $PROFILE == 1 ]]; then
		# After a forced GC, as the figures after the idle window.
		memstats0=$(memstats)
		gor0=$(goroutines)
	fi
	local rss0 slab0 tcp0 fd0
	rss0=$(rss_kb "${pids[@]}")
	slab0=$(slab_kb)
	tcp0=$(tcp_stat)
	fd0=$(fds "${pids[@]}")
	slab_objs >"$TMP/$tag.slab0"

	cpu_mark 0 "${pids[@]}"
	outs=()
	for ((i = 0; i < PROCS; i++)); do
		outs[i]=$TMP/$tag.client$i
		# Each process its own source address (127.0.RUN.10+i), each with
		# its own ephemeral port range.
		"${ON_LOAD[@]}" "$IDLEC" client -kind "$kind" -addr "$addr" -n "${SHARE[i]}" -c "$CONC" \
			-src "127.0.$RUN.$((10 + i))" -probe "$PROBE" -heartbeat "$hb" -seed "$((RUN * 100 + i))" \
			-latfile "${outs[i]}" >"${outs[i]}.out" 2>"${outs[i]}.err" &
		CLIENT_PIDS+=($!)
	done
	local outfiles=("${outs[@]/%/.out}")
	if ! wait_lines OPEN 600 "${outfiles[@]}"; then
		FAILED=1
		die "$tag: the clients did not open their connections"
	fi
	cpu_mark 1 "${pids[@]}"
	local accept_cpu_ns=$((CPU_R[1] - CPU_R[0]))
	opens=()
	for ((i = 0; i < PROCS; i++)); do
		opens[i]=$(grep '^OPEN ' "${outs[i]}.out")
		echo "  ${opens[i]}"
	done
	sleep "$SETTLE"

	local rss1 slab1 tcp1 fd1 thr1
	rss1=$(rss_kb "${pids[@]}")
	slab1=$(slab_kb)
	tcp1=$(tcp_stat)
	fd1=$(fds "${pids[@]}")
	thr1=$(for p in "${pids[@]}"; do cat "/proc/$p/status"; done 2>/dev/null | awk '/^Threads:/ {t += $2} END {print t}')
	slab_objs >"$TMP/$tag.slab1"

	local prof_pid=""
	if [[ $target == ours && $PROFILE == 1 && $CPU_PROFILE == 1 ]]; then
		curl -sS -f -o "$TMP/$tag.cpu.prof" "http://127.0.0.1:$PPROF_PORT/debug/pprof/profile?seconds=$IDLE" 2>/dev/null &
		prof_pid=$!
	fi
	cpu_mark 0 "${pids[@]}"
	sleep "$IDLE"
	cpu_mark 1 "${pids[@]}"
	if [[ -n $prof_pid ]]; then
		wait "$prof_pid" || true
	fi
	cpu_store "$target" "$kind" proxies
	local rss2
	rss2=$(rss_kb "${pids[@]}")

	local gor="-" memstats="" rss_gc=""
	if [[ $target == ours && $PROFILE == 1 ]]; then
		gor=$(goroutines)
		memstats=$(memstats)
		# The profile of the GC memstats just forced.
		curl -sS -f -o "$TMP/$tag.heap.prof" "http://127.0.0.1:$PPROF_PORT/debug/pprof/heap" || true
		# What the runtime's scavenger gives back to the kernel within
		# GC_WAIT seconds of those GCs.
		sleep "$GC_WAIT"
		rss_gc=$(rss_kb "${pids[@]}")
	fi

	for p in "${CLIENT_PIDS[@]}"; do
		kill -USR1 "$p" 2>/dev/null || echo "  client pid $p is gone before the probe" >&2
	done
	wait_lines PROBE 600 "${outfiles[@]}" || FAILED=1
	probes=()
	for ((i = 0; i < PROCS; i++)); do
		probes[i]=$(grep '^PROBE ' "${outs[i]}.out" | tail -1 || true)
		echo "  ${probes[i]}"
	done
	local rss3
	rss3=$(rss_kb "${pids[@]}")
	for p in "${CLIENT_PIDS[@]}"; do stop_pid "$p" USR2; done
	CLIENT_PIDS=()
	for ((i = 0; i < PROCS; i++)); do
		if grep -q '^DONE .* signal=\(TERM\|INT\)' "${outs[i]}.out"; then
			echo "  $tag client $i was stopped by a stray $(sed -n 's/^DONE .*signal=//p' "${outs[i]}.out") from outside the benchmark" >&2
			FAILED=1
		fi
		if [[ -s ${outs[i]}.err ]]; then
			sed "s/^/  $tag client $i: /" "${outs[i]}.err" >&2
		fi
	done
	if ! kill -0 "${pids[0]}" 2>/dev/null; then
		echo "  $target died during $tag; its logs are in $TMP" >&2
		FAILED=1
	fi
	stop_target "$target"

	# Figures.
	local conns ofail start end
	conns=$(sum_field conns "${opens[@]}")
	ofail=$(sum_field failed "${opens[@]}")
	if ((conns == 0)); then
		FAILED=1
		die "$tag: no connection could be opened"
	fi
	start=$(for l in "${opens[@]}"; do field start_unix_ns "$l"; done | sort -n | head -1)
	end=$(for l in "${opens[@]}"; do field end_unix_ns "$l"; done | sort -n | tail -1)
	cat "${outs[@]/%/.open}" >"$TMP/$tag.open.all"
	cat "${outs[@]/%/.probe}" >"$TMP/$tag.probe.all" 2>/dev/null || : >"$TMP/$tag.probe.all"
	local k=$target,$kind
	R[$k,conns]=$conns
	R[$k,ofail]=$ofail
	R[$k,accept_s]=$(awk -v a="$start" -v b="$end" 'BEGIN {printf "%.2f", (b - a) / 1e9}')
	R[$k,accept_rate]=$(awk -v n="$conns" -v a="$start" -v b="$end" 'BEGIN {printf "%.0f", n / ((b - a) / 1e9)}')
	read -r "R[$k,open_p50]" "R[$k,open_p99]" "R[$k,open_max]" <<<"$(pct "$TMP/$tag.open.all" 50 99 100)"
	read -r "R[$k,probe_p50]" "R[$k,probe_p99]" "R[$k,probe_max]" <<<"$(pct "$TMP/$tag.probe.all" 50 99 100)"
	R[$k,probed]=$(sum_field probed "${probes[@]}")
	R[$k,pfail]=$(sum_field failed "${probes[@]}")
	R[$k,alive]=$(sum_field alive "${probes[@]}")
	R[$k,pending]=$(sum_field pending "${probes[@]}")
	R[$k,closed]=$(sum_field closed "${probes[@]}")
	R[$k,hb_ok]=$(sum_field heartbeats_ok "${probes[@]}")
	R[$k,hb_failed]=$(sum_field heartbeats_failed "${probes[@]}")
	R[$k,rss0]=$rss0
	R[$k,rss_open]=$(awk -v a="$rss0" -v b="$rss1" -v n="$conns" 'BEGIN {printf "%.0f", (b - a) * 1024 / n}')
	R[$k,rss_idle]=$(awk -v a="$rss0" -v b="$rss2" -v n="$conns" 'BEGIN {printf "%.0f", (b - a) * 1024 / n}')
	R[$k,rss_gc]=-
	if [[ -n $rss_gc ]]; then
		R[$k,rss_gc]=$(awk -v a="$rss0" -v b="$rss_gc" -v n="$conns" 'BEGIN {printf "%.0f B", (b - a) * 1024 / n}')
	fi
	R[$k,rss_probe]=$(awk -v a="$rss0" -v b="$rss3" -v n="$conns" 'BEGIN {printf "%.0f", (b - a) * 1024 / n}')
	# Per TCP socket the run added on the machine: both ends of every
	# connection, and the upstream connections the proxy opened.
	R[$k,tcp_inuse]=$((${tcp1% *} - ${tcp0% *}))
	local socks=${R[$k,tcp_inuse]}
	((socks > 0)) || socks=$((2 * conns))
	R[$k,slab_sock]=$(awk -v a="$slab0" -v b="$slab1" -v n="$socks" 'BEGIN {printf "%.0f", (b - a) * 1024 / n}')
	R[$k,tcpmem_sock]=$(awk -v a="${tcp0#* }" -v b="${tcp1#* }" -v n="$socks" -v pg="$PAGE" 'BEGIN {printf "%.1f", (b - a) * pg / n}')
	R[$k,fds]=$((fd1 - fd0))
	R[$k,threads]=$thr1
	R[$k,gor]=$gor
	R[$k,gor0]=$gor0
	R[$k,memstats]=$memstats
	R[$k,memstats0]=$memstats0
	R[$k,slabobjs]=$(awk -v n="$socks" 'NR == FNR {a[$1] = $2; next} {printf "%s %.0f B, ", $1, ($2 - a[$1]) * $3 / n}' \
		"$TMP/$tag.slab0" "$TMP/$tag.slab1" | sed 's/, $//')
	R[$k,slabsum]=$(awk -v n="$socks" 'NR == FNR {a[$1] = $2; next} {t += ($2 - a[$1]) * $3} END {if (NR) printf "%.0f", t / n; else print "-"}' \
		"$TMP/$tag.slab0" "$TMP/$tag.slab1")
	R[$k,accept_cpu]=$(awk -v c="$accept_cpu_ns" -v n="$conns" 'BEGIN {printf "%.0f", c / 1e3 / n}')
	R[$k,cpu_pct]=$(awk -v c="${R[$k,cpu]}" -v s="$IDLE" 'BEGIN {printf "%.2f", 100 * c / s}')
	echo "  RESULT target=$target kind=$kind conns=$conns open_failed=$ofail accept_s=${R[$k,accept_s]}" \
		"rss_base_kb=$rss0 rss_open_kb=$rss1 rss_idle_kb=$rss2 rss_gc_kb=${rss_gc:--} rss_probe_kb=$rss3" \
		"rss_per_conn_open_b=${R[$k,rss_open]} rss_per_conn_idle_b=${R[$k,rss_idle]} rss_per_conn_gc=${R[$k,rss_gc]// /} rss_per_conn_probe_b=${R[$k,rss_probe]}" \
		"accept_cpu_us_per_conn=${R[$k,accept_cpu]} idle_cpu_s=${R[$k,cpu]} idle_stat_cpu_s=${R[$k,statcpu]} idle_runq_s=${R[$k,runq]} fds_added=${R[$k,fds]} threads=$thr1 goroutines=$gor" \
		"slab_kb=$slab0/$slab1 tcp_inuse_added=${R[$k,tcp_inuse]} tcp_mem_pages=${tcp0#* }/${tcp1#* }"
	if [[ -n $memstats ]]; then
		echo "  memstats at the baseline (after a forced GC): $memstats0"
		echo "  memstats after the idle window (after a forced GC): $memstats"
	fi
	[[ -n ${R[$k,slabobjs]} ]] && echo "  slab caches per socket: ${R[$k,slabobjs]}"
	if ((ofail > 0 || ${R[$k,pfail]} > 0 || ${R[$k,closed]} > 0)); then
		FAILED=1
		echo "  FAILURE $tag: $ofail connections not opened, ${R[$k,closed]} closed while idle, ${R[$k,pfail]} probes failed" >&2
	fi
	if [[ -s $TMP/$tag.cpu.prof ]]; then
		echo "  CPU profile of the idle window, top 25:"
		go tool pprof -top -nodecount=25 "$MOSN" "$TMP/$tag.cpu.prof" 2>/dev/null | sed -n '/flat%/,$p' | sed 's/^/    /'
	fi
	if [[ $target == ours && $PROFILE == 1 && -s $TMP/$tag.heap.prof ]]; then
		echo "  heap profile (inuse_space, after the idle window), top 12:"
		go tool pprof -top -sample_index=inuse_space -nodecount=12 "$MOSN" "$TMP/$tag.heap.prof" 2>/dev/null |
			sed -n '/flat%/,$p' | sed 's/^/    /'
	fi
	echo
}

echo "# bench/idle/run.sh: idle connections, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
describe_machine
echo "- pinning: proxies on CPU $PROXY_CPU (GOMAXPROCS=1 for ours, 1 worker for nginx); clients and upstreams on CPU $LOAD_CPU"
describe_priority "the clients"
echo "- N=$N per kind over $PROCS client processes (${SHARE[*]}), ${CONC} opened at once per process, SETTLE=${SETTLE}s, IDLE=${IDLE}s, PROBE=$PROBE per process, bolt HEARTBEAT=$HEARTBEAT"
echo "- open files: $NOFILE per process; ephemeral ports $(tr '\t' '-' </proc/sys/net/ipv4/ip_local_port_range); tcp_mem $(cat /proc/sys/net/ipv4/tcp_mem) pages"
echo

TARGETS=()
for kind in $KINDS; do
	TARGETS+=("ours,$kind")
done
NGX_NOTE=""
if [[ $NGINX != 1 ]]; then
	NGX_NOTE="nginx skipped (NGINX=$NGINX)"
elif ! command -v nginx >/dev/null; then
	NGX_NOTE="nginx is not installed (apt-get install -y nginx)"
else
	for kind in $NGX_KINDS; do
		TARGETS+=("nginx,$kind")
	done
fi
for t in "${TARGETS[@]}"; do
	measure "${t%,*}" "${t#*,}"
done
MOSN_VERSION=$("$MOSN" version 2>/dev/null | head -1 || echo unknown)
NGX_VERSION=$(nginx -v 2>&1 | sed 's/.*nginx\///' || true)

# --- the tables --------------------------------------------------------------

echo "- ours: $MOSN_VERSION; nginx: ${NGX_VERSION:-$NGX_NOTE}"
echo
echo "Idle connections (RSS per connection = RSS growth over the baseline divided by the connections held;"
echo "after open: ${SETTLE} s after the last connection opened; after idle: at the end of the ${IDLE} s window;"
echo "after GC (ours only): ${GC_WAIT} s after two forced GCs, which an idle Go process also runs on its own, every 2 minutes):"
echo
echo "| target | kind | conns | RSS/conn after open | RSS/conn after idle | after GC | idle CPU (${IDLE} s) | accept $N: time, conn/s, proxy CPU/conn | first answer p50 / p99 | alive / closed | probe p50 / p99 / max | failed |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
for t in "${TARGETS[@]}"; do
	k=$t
	printf '| %s | %s | %s | %s B | %s B | %s | %s s (%s%%) | %s s, %s/s, %s us | %s / %s us | %s / %s | %s / %s / %s us (%s) | %s |\n' \
		"${t%,*}" "${t#*,}" "${R[$k,conns]}" "${R[$k,rss_open]}" "${R[$k,rss_idle]}" "${R[$k,rss_gc]}" "${R[$k,cpu]}" "${R[$k,cpu_pct]}" \
		"${R[$k,accept_s]}" "${R[$k,accept_rate]}" "${R[$k,accept_cpu]}" "${R[$k,open_p50]}" "${R[$k,open_p99]}" \
		"${R[$k,alive]}" "${R[$k,closed]}" "${R[$k,probe_p50]}" "${R[$k,probe_p99]}" "${R[$k,probe_max]}" "${R[$k,probed]} timed" \
		"$((${R[$k,ofail]} + ${R[$k,pfail]}))"
done
echo
if [[ " $KINDS " == *" bolt "* && $HEARTBEAT != 0 ]]; then
	k=ours,bolt
	echo "bolt: every connection sent a heartbeat each $HEARTBEAT (${R[$k,hb_ok]} answered, ${R[$k,hb_failed]} failed over the run);" \
		"the idle CPU figure includes answering them: $(awk -v c="${R[$k,cpu]}" -v n="${R[$k,conns]}" -v s="$IDLE" -v hb="$HEARTBEAT" \
			'BEGIN { sub("s$", "", hb); if (hb > 0 && n > 0) printf "%.0f heartbeats/s, about %.1f us of CPU each", n / hb, c * 1e6 / (n * s / hb) }')."
	echo
fi
echo "Kernel memory per TCP socket (slab growth divided by the TCP sockets the run added, /proc/net/sockstat:"
echo "both ends of every connection are on this machine, plus the proxy's upstream connections; other"
echo "processes on the machine add noise):"
echo
echo "| target | kind | Slab total | the socket caches | tcp_mem (sockstat) | by cache |"
echo "|---|---|---|---|---|---|"
for t in "${TARGETS[@]}"; do
	printf '| %s | %s | %s B | %s B | %s B | %s |\n' "${t%,*}" "${t#*,}" "${R[$t,slab_sock]}" "${R[$t,slabsum]}" "${R[$t,tcpmem_sock]}" "${R[$t,slabobjs]:--}"
done
echo
echo "Extrapolation to 1,000,000 idle connections (linear in the per-connection figures above; see README.md for the assumptions):"
echo
echo "| target | kind | user space (RSS after idle) | user space (RSS after GC) | kernel (the proxy's sockets, Slab total) | total (after idle) |"
echo "|---|---|---|---|---|---|"
for t in "${TARGETS[@]}"; do
	awk -v t="${t%,*}" -v k="${t#*,}" -v u="${R[$t,rss_idle]}" -v g="${R[$t,rss_gc]% B}" -v s="${R[$t,slab_sock]}" 'BEGIN {
		gib = 1024 * 1024 * 1024
		gc = "-"
		if (g != "-") gc = sprintf("%.2f GiB", g * 1e6 / gib)
		printf "| %s | %s | %.2f GiB | %s | %.2f GiB | %.2f GiB |\n", t, k, u * 1e6 / gib, gc, s * 1e6 / gib, (u + s) * 1e6 / gib }'
done
if [[ $PROFILE == 1 ]]; then
	echo
	echo "Our proxy's Go runtime after the idle window, growth over the baseline per held connection (pprof;"
	echo "memory figures after a forced GC, so garbage is not counted; RSS also holds freed heap the runtime"
	echo "has not returned to the kernel yet, HeapIdle - HeapReleased):"
	echo
	echo "| kind | goroutines/conn | StackInuse/conn | HeapInuse/conn | MSpanInuse/conn | GCSys/conn | (HeapIdle-HeapReleased)/conn | threads |"
	echo "|---|---|---|---|---|---|---|---|"
	for kind in $KINDS; do
		k=ours,$kind
		awk -v kind="$kind" -v a="${R[$k,memstats0]}" -v b="${R[$k,memstats]}" -v g0="${R[$k,gor0]}" -v g="${R[$k,gor]}" \
			-v n="${R[$k,conns]}" -v th="${R[$k,threads]}" '
			function parse(s, m,   w, i, kv) { split(s, w, " "); for (i in w) { split(w[i], kv, "="); m[kv[1]] = kv[2] } }
			BEGIN {
				parse(a, x); parse(b, y)
				printf "| %s | %.2f | %.0f B | %.0f B | %.0f B | %.0f B | %.0f B | %s |\n", kind, (g - g0) / n,
					(y["StackInuse"] - x["StackInuse"]) / n, (y["HeapInuse"] - x["HeapInuse"]) / n,
					(y["MSpanInuse"] - x["MSpanInuse"]) / n, (y["GCSys"] - x["GCSys"]) / n,
					((y["HeapIdle"] - y["HeapReleased"]) - (x["HeapIdle"] - x["HeapReleased"])) / n, th
			}'
	done
fi

if [[ $FAILED != 0 ]]; then
	echo
	echo "**Some runs failed** (see the FAILURE lines above; logs in $TMP)."
	exit 1
fi
