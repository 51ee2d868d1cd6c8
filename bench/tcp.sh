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

BENCH_NAME=bench/tcp.sh
BENCH_SCRIPT=${BASH_SOURCE[0]}
# shellcheck source=SCRIPTDIR/lib.sh
source "$ROOT/bench/lib.sh"

[[ -x $MOSN ]] || die "$MOSN not found: run 'make build' first (or 'make bench-tcp')"
command -v taskset >/dev/null || die "taskset not found (apt-get install -y util-linux)"
command -v go >/dev/null || die "go not found"
CLK_TCK=$(getconf CLK_TCK)

bench_priority BENCH_TCP_SESSION "$@"
bench_tmp bench-tcp
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
start_mosn "$TCPLOAD"

# nginx's stream module is dynamic on Debian (libnginx-mod-stream): load it
# by absolute path, because our own prefix has no modules/ directory.
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
	run_nginx "$TCPLOAD"
}
choose_targets "apt-get install -y nginx libnginx-mod-stream"

# --- measuring ---------------------------------------------------------------

declare -A R # R[scenario,target,key]

# measure SCENARIO TARGET tcpload-args...: one run; stores its figures.
measure() {
	local scen=$1 target=$2 out rc=0 line
	local -a pids
	shift 2
	read -r -a pids <<<"$(pids_of "$target")"
	cpu_mark 0 "${pids[@]}"
	# In the background and waited for, so that a signal stops the script
	# at once rather than after the run.
	"${ON_LOAD[@]}" "$TCPLOAD" "$@" -addr "$(addr_of "$target")" >"$TMP/run.out" 2>"$TMP/run.err" &
	LOAD_PID=$!
	wait "$LOAD_PID" || rc=$?
	LOAD_PID=""
	out=$(<"$TMP/run.out")
	cpu_mark 1 "${pids[@]}"
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
	cpu_store "$scen" "$target" all
	local fails
	fails=$(field failures "$line")
	R[$scen,$target,failures]=${fails:-?}
	if [[ ${fails:-?} != 0 ]]; then
		FAILED=1
	fi
	check_alive "$scen" "$target"
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
describe_machine
echo "- pinning: proxies (mosn, nginx) on CPU $PROXY_CPU; upstream server and load generator share CPU $LOAD_CPU" \
	"(Go sizes GOMAXPROCS from the affinity, so each Go process runs with GOMAXPROCS=1)"
describe_priority "the load generator"
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

echo "Throughput (higher is better) and proxy CPU time per unit of work (lower is better):"
echo
throughput_header
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
	n="" nc=""
	if [[ $has_nginx == 1 ]]; then
		n=$(fig "$name" "$kind" nginx)
		nc=$(cpu_per "$name" "$kind" nginx)
	fi
	throughput_row "$name" "$unit" "$cunit" "$d" "$o" "$oc" "$n" "$nc"
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
