#!/usr/bin/env bash
# Whole-proxy benchmark of L4 proxying (the tcp_proxy network filter).
#
# Runs every scenario against the upstream directly, through bin/mosn and,
# when nginx is installed, through nginx's stream proxy, all in one run, and
# prints Markdown tables of the figures, the ratios and the proxies' CPU
# time per connection / request / GiB. See bench/README.md.
#
# Environment (defaults in brackets):
#   DURATION      length of each connrate and rr run [10s; 3s with QUICK=1]
#   QUICK=1       short runs: 3s and smaller bulk transfers
#   BULK1_BYTES   bytes of the single-connection bulk runs, per direction [1G; QUICK 256M]
#   BULK8_BYTES   bytes per connection of the 8-connection bulk run, per direction [128M; QUICK 32M]
#   CONNRATE_C    connrate workers [32]      RR_C    rr connections [32]
#   SIZE          request/answer size of connrate and rr, bytes [64]
#   PROXY_CPU     CPU the proxies are pinned to [0]
#   LOAD_CPU      CPU of the upstream server and the load generator [1]
#   MOSN          proxy binary [bin/mosn]
#   NGINX=0       skip nginx even when it is installed
#   KEEP_TMP=1    keep the temp dir (configs, logs) after the run
#   NICE          nice value (and autogroup nice) of the benchmark's processes [-15 when
#                 allowed (root), else 0; NICE=0 leaves priorities and sessions alone]
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MOSN=${MOSN:-$ROOT/bin/mosn}
QUICK=${QUICK:-0}
if [[ $QUICK == 1 ]]; then
	DURATION=${DURATION:-3s}
	BULK1_BYTES=${BULK1_BYTES:-256M}
	BULK8_BYTES=${BULK8_BYTES:-32M}
else
	DURATION=${DURATION:-10s}
	BULK1_BYTES=${BULK1_BYTES:-1G}
	BULK8_BYTES=${BULK8_BYTES:-128M}
fi
CONNRATE_C=${CONNRATE_C:-32}
RR_C=${RR_C:-32}
SIZE=${SIZE:-64}
PROXY_CPU=${PROXY_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
NGINX=${NGINX:-1}
KEEP_TMP=${KEEP_TMP:-0}
NICE=${NICE:-}

die() {
	echo "bench/tcp.sh: $*" >&2
	exit 1
}

[[ -x $MOSN ]] || die "$MOSN not found: run 'make build' first (or 'make bench-tcp')"
command -v taskset >/dev/null || die "taskset not found (apt-get install -y util-linux)"
command -v go >/dev/null || die "go not found"
CLK_TCK=$(getconf CLK_TCK)

# Priority. Where allowed (root), every benchmark process runs at nice
# NICE so that other work on a shared machine takes less CPU from the runs.
# With autogroup scheduling (sched(7)) the kernel first shares a CPU between
# sessions and nice only orders processes within one, so the script then
# re-runs itself in a session of its own (for itself, the load generator and
# the upstream) and starts each proxy in another, each at autogroup nice
# NICE: one session holding processes on both CPUs would otherwise have its
# share split between them.
if [[ -z $NICE ]]; then
	NICE=0
	if nice -n -15 true 2>/dev/null; then
		NICE=-15
	fi
fi
AUTOGROUP=0
if [[ $NICE != 0 && $(cat /proc/sys/kernel/sched_autogroup_enabled 2>/dev/null || true) == 1 &&
	-e /proc/self/autogroup ]] && command -v setsid >/dev/null; then
	AUTOGROUP=1
fi
if [[ $AUTOGROUP == 1 && -z ${BENCH_TCP_SESSION:-} ]]; then
	BENCH_TCP_SESSION=1 setsid -w "${BASH_SOURCE[0]}" "$@" &
	inner=$!
	# The new session does not get the terminal's Ctrl-C: pass it on.
	trap 'kill -TERM "$inner" 2>/dev/null || true' INT TERM
	while :; do
		rc=0
		wait "$inner" || rc=$?
		kill -0 "$inner" 2>/dev/null || exit "$rc"
	done
fi
if [[ $AUTOGROUP == 1 ]]; then
	echo "$NICE" >/proc/self/autogroup || die "cannot set the autogroup nice (NICE=0 to run without)"
fi
# set_prio PID: the autogroup nice of a process started in a new session.
set_prio() {
	if [[ $AUTOGROUP == 1 ]]; then
		echo "$NICE" >"/proc/$1/autogroup" || die "cannot set the autogroup nice of pid $1"
	fi
}
# Arrays, not functions: a backgrounded function would be a subshell, and $!
# must be the pid of the process itself (setsid, taskset and nice exec it).
ON_PROXY=(taskset -c "$PROXY_CPU" nice -n "$NICE")
if [[ $AUTOGROUP == 1 ]]; then
	ON_PROXY=(setsid "${ON_PROXY[@]}")
fi
ON_LOAD=(taskset -c "$LOAD_CPU" nice -n "$NICE")

TMP=$(mktemp -d "${TMPDIR:-/tmp}/bench-tcp.XXXXXX")
UP_PID="" MOSN_PID="" NGX_PID="" LOAD_PID=""
FAILED=0

# stop_pid PID SIGNAL: signal a process we started and wait up to 5 s for it.
stop_pid() {
	local pid=$1 sig=$2
	[[ -n $pid ]] || return 0
	kill -0 "$pid" 2>/dev/null || return 0
	kill "-$sig" "$pid" 2>/dev/null || true
	for _ in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "bench/tcp.sh: pid $pid still running 5 s after SIG$sig; killing it" >&2
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
}

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	stop_pid "$LOAD_PID" TERM
	stop_pid "$MOSN_PID" INT
	stop_pid "$NGX_PID" TERM
	stop_pid "$UP_PID" TERM
	if [[ $KEEP_TMP == 1 || $FAILED != 0 || $rc != 0 ]]; then
		echo "bench/tcp.sh: logs and configs kept in $TMP" >&2
	else
		rm -rf "$TMP"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- tools, ports, processes -------------------------------------------------

(cd "$ROOT" && go build -o "$TMP/tcpload" ./bench/tcpload) || die "building bench/tcpload failed"
TCPLOAD=$TMP/tcpload
read -r UP_PORT MOSN_PORT NGX_PORT < <("$TCPLOAD" freeport -n 3)
UP_ADDR=127.0.0.1:$UP_PORT
MOSN_ADDR=127.0.0.1:$MOSN_PORT
NGX_ADDR=127.0.0.1:$NGX_PORT

"${ON_LOAD[@]}" "$TCPLOAD" serve -addr "$UP_ADDR" 2>"$TMP/upstream.log" &
UP_PID=$!
"$TCPLOAD" wait -addr "$UP_ADDR" || die "the upstream server did not start: $(cat "$TMP/upstream.log")"

mkdir -p "$TMP/mosn"
cat >"$TMP/mosn/mosn.json" <<EOF
{
  "servers": [{
    "default_log_path": "$TMP/mosn/mosn.log",
    "default_log_level": "WARN",
    "graceful_timeout": "5s",
    "listeners": [{
      "name": "tcp",
      "address": "$MOSN_ADDR",
      "bind_port": true,
      "filter_chains": [{"filters": [{"type": "tcp_proxy", "config": {"cluster": "up"}}]}]
    }]
  }],
  "cluster_manager": {
    "clusters": [{
      "name": "up", "type": "SIMPLE", "lb_type": "LB_ROUNDROBIN",
      "hosts": [{"address": "$UP_ADDR"}]
    }]
  }
}
EOF
"${ON_PROXY[@]}" "$MOSN" start -c "$TMP/mosn/mosn.json" >"$TMP/mosn/stdout.log" 2>&1 &
MOSN_PID=$!
if ! "$TCPLOAD" wait -addr "$MOSN_ADDR" || ! kill -0 "$MOSN_PID" 2>/dev/null; then
	cat "$TMP/mosn/stdout.log" "$TMP/mosn/mosn.log" 2>/dev/null >&2 || true
	die "bin/mosn did not start (output above)"
fi
# The CPU figures read /proc/$MOSN_PID: make sure that is the proxy itself.
comm=$(cat "/proc/$MOSN_PID/comm")
[[ $comm == "$(basename "$MOSN" | cut -c1-15)" ]] || die "pid $MOSN_PID is $comm, not $MOSN"
set_prio "$MOSN_PID" # only now: before its exec, the pid was still in our session
MOSN_VERSION=$("$MOSN" version 2>/dev/null || echo unknown)

# nginx's stream module is dynamic on Debian (libnginx-mod-stream): load it
# by absolute path, because our own prefix has no modules/ directory.
NGX_NOTE=""
start_nginx() {
	local v mods=""
	v=$(nginx -V 2>&1) || return 1
	if grep -q -- '--with-stream=dynamic' <<<"$v"; then
		local mdir
		mdir=$(grep -o -- '--modules-path=[^ ]*' <<<"$v" | cut -d= -f2)
		mdir=${mdir:-/usr/lib/nginx/modules}
		if [[ ! -f $mdir/ngx_stream_module.so ]]; then
			NGX_NOTE="nginx has no stream module: apt-get install -y libnginx-mod-stream"
			return 1
		fi
		mods="load_module $mdir/ngx_stream_module.so;"
	elif ! grep -q -- '--with-stream\b' <<<"$v"; then
		NGX_NOTE="this nginx is built without the stream module"
		return 1
	fi
	mkdir -p "$TMP/nginx/logs"
	cat >"$TMP/nginx/nginx.conf" <<EOF
$mods
daemon off;
master_process on;
worker_processes 1;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/logs/error.log warn;
events { worker_connections 16384; }
stream {
    upstream up { server $UP_ADDR; }
    server { listen $NGX_ADDR; proxy_pass up; }
}
EOF
	local elog=()
	if nginx -h 2>&1 | grep -q -- '-e filename'; then
		elog=(-e "$TMP/nginx/logs/error.log")
	fi
	if ! nginx -t -q -p "$TMP/nginx/" "${elog[@]}" -c "$TMP/nginx/nginx.conf" 2>"$TMP/nginx/test.log"; then
		NGX_NOTE="nginx rejected the config: $(tr '\n' ' ' <"$TMP/nginx/test.log")"
		return 1
	fi
	"${ON_PROXY[@]}" nginx -p "$TMP/nginx/" "${elog[@]}" -c "$TMP/nginx/nginx.conf" \
		>"$TMP/nginx/stdout.log" 2>&1 &
	NGX_PID=$!
	if ! "$TCPLOAD" wait -addr "$NGX_ADDR" || ! kill -0 "$NGX_PID" 2>/dev/null; then
		NGX_NOTE="nginx did not start: $(cat "$TMP/nginx/stdout.log" "$TMP/nginx/logs/error.log" 2>/dev/null | tr '\n' ' ')"
		return 1
	fi
	set_prio "$NGX_PID"
	NGX_VERSION=$(nginx -v 2>&1 | sed 's/.*nginx\///')
}
TARGETS=(direct ours)
if [[ $NGINX != 1 ]]; then
	NGX_NOTE="nginx skipped (NGINX=$NGINX)"
elif ! command -v nginx >/dev/null; then
	NGX_NOTE="nginx is not installed; for the nginx column: apt-get install -y nginx libnginx-mod-stream"
elif start_nginx; then
	TARGETS+=(nginx)
fi

# --- measuring ---------------------------------------------------------------

# pids_of TARGET: the processes whose CPU time is the proxy's.
pids_of() {
	case $1 in
	ours) echo "$MOSN_PID" ;;
	nginx) echo "$NGX_PID" "$(cat /proc/"$NGX_PID"/task/*/children 2>/dev/null)" ;;
	esac
}

# sched_ns PID...: "ON_CPU WAITING" nanoseconds summed over the processes'
# threads (schedstat: time on a CPU, time runnable but waiting for a CPU).
# The first is the precise twin of /proc/PID/stat's tick count; the second
# shows how much a shared machine starved a process during a run.
sched_ns() {
	local run=0 wait=0 p f
	local -a v
	for p in "$@"; do
		for f in /proc/"$p"/task/*/schedstat; do
			read -r -a v 2>/dev/null <"$f" || continue
			run=$((run + v[0]))
			wait=$((wait + v[1]))
		done
	done
	echo "$run $wait"
}

# cpu_ticks PID...: user+system clock ticks used so far by the processes.
cpu_ticks() {
	local total=0 p s
	local -a f
	for p in "$@"; do
		s=$(cat "/proc/$p/stat" 2>/dev/null) || continue
		read -r -a f <<<"${s##*) }" # fields from the 3rd (state) on
		total=$((total + f[11] + f[12]))
	done
	echo "$total"
}

addr_of() {
	case $1 in
	direct) echo "$UP_ADDR" ;;
	ours) echo "$MOSN_ADDR" ;;
	nginx) echo "$NGX_ADDR" ;;
	esac
}

# field KEY LINE: the value of KEY=value in a RESULT line.
field() { tr ' ' '\n' <<<"$2" | sed -n "s/^$1=//p"; }

declare -A R # R[scenario,target,key]

# measure SCENARIO TARGET tcpload-args...: one run; stores its figures.
measure() {
	local scen=$1 target=$2 out rc=0 t0 t1 line
	local -a pids
	shift 2
	read -r -a pids <<<"$(pids_of "$target")"
	local r0 q0 r1 q1 u0 u1 _
	t0=$(cpu_ticks "${pids[@]}")
	read -r r0 q0 <<<"$(sched_ns "${pids[@]}")"
	read -r _ u0 <<<"$(sched_ns "$UP_PID")"
	# In the background and waited for, so that a signal stops the script
	# at once rather than after the run.
	"${ON_LOAD[@]}" "$TCPLOAD" "$@" -addr "$(addr_of "$target")" >"$TMP/run.out" 2>"$TMP/run.err" &
	LOAD_PID=$!
	wait "$LOAD_PID" || rc=$?
	LOAD_PID=""
	out=$(<"$TMP/run.out")
	t1=$(cpu_ticks "${pids[@]}")
	read -r r1 q1 <<<"$(sched_ns "${pids[@]}")"
	read -r _ u1 <<<"$(sched_ns "$UP_PID")"
	if [[ -s $TMP/run.err ]]; then
		sed "s/^/  $scen via $target: /" "$TMP/run.err" >&2
		cat "$TMP/run.err" >>"$TMP/tcpload.err"
	fi
	line=$(grep '^RESULT ' <<<"$out" | tail -1 || true)
	if [[ -z $line ]]; then
		echo "  $scen via $target: tcpload exited $rc without a result" >&2
		line="RESULT failures=all"
	fi
	R[$scen,$target,line]=$line
	R[$scen,$target,statcpu]=$(awk -v d=$((t1 - t0)) -v hz="$CLK_TCK" 'BEGIN { printf "%.3f", d / hz }')
	R[$scen,$target,cpu]=$(awk -v d=$((r1 - r0)) 'BEGIN { printf "%.4f", d / 1e9 }')
	if [[ $r1 == 0 ]]; then
		# No schedstat (a kernel without CONFIG_SCHED_INFO): ticks only.
		R[$scen,$target,cpu]=${R[$scen,$target,statcpu]}
	fi
	R[$scen,$target,runq]=$(awk -v d=$((q1 - q0)) 'BEGIN { printf "%.3f", d / 1e9 }')
	R[$scen,$target,uprunq]=$(awk -v d=$((u1 - u0)) 'BEGIN { printf "%.3f", d / 1e9 }')
	local fails
	fails=$(field failures "$line")
	R[$scen,$target,failures]=${fails:-?}
	if [[ ${fails:-?} != 0 ]]; then
		FAILED=1
	fi
	if [[ $target != direct ]] && ! kill -0 "$(pids_of "$target" | cut -d' ' -f1)" 2>/dev/null; then
		echo "  $target died during $scen; its logs are in $TMP" >&2
		FAILED=1
	fi
	printf '  %-12s %-7s %s proxy_cpu_s=%s proxy_stat_cpu_s=%s proxy_runq_s=%s upstream_runq_s=%s\n' \
		"$scen" "$target" "${line#RESULT }" "${R[$scen,$target,cpu]}" "${R[$scen,$target,statcpu]}" \
		"${R[$scen,$target,runq]}" "${R[$scen,$target,uprunq]}"
}

# The scenarios: name, kind, tcpload arguments.
SCENARIOS=(
	"bulk-1-up|bulk|bulk -conns 1 -bytes $BULK1_BYTES -dir up"
	"bulk-1-down|bulk|bulk -conns 1 -bytes $BULK1_BYTES -dir down"
	"bulk-8-both|bulk|bulk -conns 8 -bytes $BULK8_BYTES -dir both"
	"connrate-$CONNRATE_C|connrate|connrate -c $CONNRATE_C -d $DURATION -size $SIZE"
	"rr-$RR_C|rr|rr -c $RR_C -d $DURATION -size $SIZE"
)

echo "# bench/tcp.sh: tcp_proxy whole-proxy benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
echo "- machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), kernel $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- pinning: proxies (mosn, nginx) on CPU $PROXY_CPU; upstream server and load generator share CPU $LOAD_CPU" \
	"(Go sizes GOMAXPROCS from the affinity, so each Go process runs with GOMAXPROCS=1)"
if [[ $AUTOGROUP == 1 ]]; then
	echo "- priority: nice $NICE; the proxies, and the load generator with the upstream, run in sessions (autogroups) of their own at autogroup nice $NICE"
else
	echo "- priority: every benchmark process runs at nice $NICE"
fi
echo "- ours: $MOSN_VERSION, log level WARN, no access log"
if [[ " ${TARGETS[*]} " == *" nginx "* ]]; then
	echo "- nginx: $NGX_VERSION, stream proxy_pass, 1 worker, default buffers"
else
	echo "- nginx: $NGX_NOTE"
fi
echo "- DURATION=$DURATION, BULK1_BYTES=$BULK1_BYTES, BULK8_BYTES=$BULK8_BYTES (per connection and direction), SIZE=$SIZE"
echo

# A short untimed warm-up per target so that no target pays for first-use
# costs (page faults, Go heap growth) inside a measured run.
for target in "${TARGETS[@]}"; do
	"${ON_LOAD[@]}" "$TCPLOAD" rr -c 4 -d 1s -size "$SIZE" -addr "$(addr_of "$target")" >/dev/null 2>&1 || true
done

echo "Runs:"
echo '```'
for s in "${SCENARIOS[@]}"; do
	IFS='|' read -r name kind args <<<"$s"
	for target in "${TARGETS[@]}"; do
		# shellcheck disable=SC2086 # args is a word list on purpose
		measure "$name" "$target" $args
	done
done
echo '```'
echo

# --- the tables --------------------------------------------------------------

# fig SCENARIO KIND TARGET: the throughput figure (MB/s, conn/s or req/s).
fig() {
	local line=${R[$1,$3,line]}
	case $2 in
	bulk) field mb_per_s "$line" ;;
	*) field ops_per_s "$line" ;;
	esac
}

# cpu_per SCENARIO KIND TARGET: proxy CPU per unit of work.
cpu_per() {
	local line=${R[$1,$3,line]} cpu=${R[$1,$3,cpu]}
	case $2 in
	bulk) awk -v c="$cpu" -v b="$(field bytes "$line")" 'BEGIN { if (b > 0) printf "%.3f", c / (b / 1073741824) }' ;;
	*) awk -v c="$cpu" -v n="$(field ops "$line")" 'BEGIN { if (n > 0) printf "%.1f", c * 1e6 / n }' ;;
	esac
}

# busy SCENARIO TARGET: the proxy's CPU use and its wait for a CPU over the
# run, each as a share of the run's wall time.
busy() {
	awk -v c="${R[$1,$2,cpu]}" -v q="${R[$1,$2,runq]}" -v s="$(field seconds "${R[$1,$2,line]}")" \
		'BEGIN { if (s > 0) printf "busy %.0f%%, runq %.0f%%", 100 * c / s, 100 * q / s }'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "" && b > 0) printf "%.2f", a / b; else printf "-" }'; }

cell() {
	local val=$1 unit=$2 fails=$3
	if [[ -z $val ]]; then val="-"; else val="$val $unit"; fi
	if [[ $fails != 0 ]]; then val="$val (**$fails failed**)"; fi
	echo "$val"
}

has_nginx=0
[[ " ${TARGETS[*]} " == *" nginx "* ]] && has_nginx=1

echo "Throughput (higher is better) and proxy CPU time per unit of work (lower is better):"
echo
if [[ $has_nginx == 1 ]]; then
	echo "| scenario | direct | ours | ours/direct | ours CPU | nginx | nginx/direct | nginx CPU | ours/nginx | CPU ours/nginx |"
	echo "|---|---|---|---|---|---|---|---|---|---|"
else
	echo "| scenario | direct | ours | ours/direct | ours CPU |"
	echo "|---|---|---|---|---|"
fi
for s in "${SCENARIOS[@]}"; do
	IFS='|' read -r name kind _ <<<"$s"
	case $kind in
	bulk) unit="MB/s" cunit="s/GiB" ;;
	connrate) unit="conn/s" cunit="us/conn" ;;
	rr) unit="req/s" cunit="us/req" ;;
	esac
	d=$(fig "$name" "$kind" direct)
	o=$(fig "$name" "$kind" ours)
	oc=$(cpu_per "$name" "$kind" ours)
	row="| $name | $(cell "$d" "$unit" "${R[$name,direct,failures]}") | $(cell "$o" "$unit" "${R[$name,ours,failures]}") | $(ratio "$o" "$d") | ${oc:--} $cunit ($(busy "$name" ours)) |"
	if [[ $has_nginx == 1 ]]; then
		n=$(fig "$name" "$kind" nginx)
		nc=$(cpu_per "$name" "$kind" nginx)
		row="$row $(cell "$n" "$unit" "${R[$name,nginx,failures]}") | $(ratio "$n" "$d") | ${nc:--} $cunit ($(busy "$name" nginx)) | $(ratio "$o" "$n") | $(ratio "$oc" "$nc") |"
	fi
	echo "$row"
done
echo
echo "Latency of the timed scenarios, p50 / p99 / max in microseconds (connrate: connect + request + answer; rr: one request):"
echo
if [[ $has_nginx == 1 ]]; then
	echo "| scenario | direct | ours | nginx |"
	echo "|---|---|---|---|"
else
	echo "| scenario | direct | ours |"
	echo "|---|---|---|"
fi
for s in "${SCENARIOS[@]}"; do
	IFS='|' read -r name kind _ <<<"$s"
	[[ $kind == bulk ]] && continue
	row="| $name |"
	for target in "${TARGETS[@]}"; do
		line=${R[$name,$target,line]}
		row="$row $(field p50_us "$line") / $(field p99_us "$line") / $(field max_us "$line") |"
	done
	echo "$row"
done
echo
echo "The CPU columns are the proxy's CPU time over the run divided by the work done: the on-CPU" \
	"nanoseconds of all its threads from /proc/PID/task/*/schedstat (the runs above also show" \
	"proxy_stat_cpu_s, user+system from /proc/PID/stat in 1/$CLK_TCK s ticks, which agrees but is coarse)." \
	"In brackets, as shares of the run's wall time: busy = that CPU time; runq = time the proxy's threads" \
	"were runnable but waiting for the CPU (held by other processes, or by the proxy's own other threads:" \
	"summed over threads, it can pass 100%). A high runq with a low busy means machine noise starved" \
	"the throughput figure; the CPU-per-work figure is the one to trust then."

if [[ $FAILED != 0 ]]; then
	echo
	echo "**Some runs failed** (see FAILURE lines above and the logs in $TMP)."
	exit 1
fi
