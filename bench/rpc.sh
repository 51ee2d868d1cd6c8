#!/usr/bin/env bash
# The seeds' headline benchmark: a bolt (sofarpc) listener under the
# sofaload command line, run with mosnload (our sofaload) against the bolt
# echo server directly and through the proxy, in one invocation.
#
#   mosnload -D 10 --qps=2000 -c 200 -t 16 -p sofarpc sofarpc://127.0.0.1:PORT
#
# Prints p50/p99/max for direct and proxied runs, the proxy-added latency,
# the proxy's CPU time per request, and the proxy's maximum closed-loop rate
# on one core. Environment: DURATION [10], QPS [2000], CONNS [200],
# PROXY_CPU [0], LOAD_CPU [1], MOSN [bin/mosn], MOSNLOAD [bin/mosnload].
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MOSN=${MOSN:-$ROOT/bin/mosn}
MOSNLOAD=${MOSNLOAD:-$ROOT/bin/mosnload}
DURATION=${DURATION:-10}
QPS=${QPS:-2000}
CONNS=${CONNS:-200}
PROXY_CPU=${PROXY_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}

BENCH_NAME=bench/rpc.sh
# shellcheck source=SCRIPTDIR/lib.sh
source "$ROOT/bench/lib.sh"

[[ -x $MOSN && -x $MOSNLOAD ]] || die "run 'make build' first"

TMP=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$TMP"
}
trap cleanup EXIT

read -r UP PX < <(free_ports 2)

# cpu_ns PID: on-CPU nanoseconds of a process, all threads.
cpu_ns() { sched_ns "$1" | cut -d' ' -f1; }

taskset -c "$LOAD_CPU" "$MOSNLOAD" serve -p sofarpc "127.0.0.1:$UP" >"$TMP/server.log" 2>&1 &
pids+=($!)
cat >"$TMP/mosn.json" <<JSON
{"servers": [{"default_log_path": "$TMP/mosn.log", "default_log_level": "WARN", "listeners": [{
   "name": "bolt", "address": "127.0.0.1:$PX", "bind_port": true,
   "filter_chains": [{"filters": [{"type": "proxy", "config": {"downstream_protocol": "bolt", "cluster": "echo"}}]}]}]}],
 "cluster_manager": {"clusters": [{"name": "echo", "hosts": [{"address": "127.0.0.1:$UP"}]}]}}
JSON
taskset -c "$PROXY_CPU" "$MOSN" start -c "$TMP/mosn.json" >"$TMP/mosn.out" 2>&1 &
MPID=$!
pids+=("$MPID")
for _ in $(seq 100); do
	if (exec 3<>"/dev/tcp/127.0.0.1/$PX") 2>/dev/null && (exec 3<>"/dev/tcp/127.0.0.1/$UP") 2>/dev/null; then break; fi
	sleep 0.1
done

run() { # name target extra-args...
	local name=$1 target=$2
	shift 2
	taskset -c "$LOAD_CPU" "$MOSNLOAD" "$@" -p sofarpc "sofarpc://$target" >"$TMP/$name.out" 2>&1 || true
	grep '^RESULT' "$TMP/$name.out" | sed "s/^RESULT /$name /"
}
field() { echo "$1" | tr ' ' '\n' | awk -F= -v k="$2" '$1==k {print $2}'; }

echo "== mosnload -D $DURATION --qps=$QPS -c $CONNS -t 16 -p sofarpc (seed scenario); proxy on CPU $PROXY_CPU, load+server on CPU $LOAD_CPU"
direct=$(run direct "127.0.0.1:$UP" -D "$DURATION" --qps="$QPS" -c "$CONNS" -t 16)
c0=$(cpu_ns "$MPID")
proxied=$(run proxied "127.0.0.1:$PX" -D "$DURATION" --qps="$QPS" -c "$CONNS" -t 16)
c1=$(cpu_ns "$MPID")
c2=$(cpu_ns "$MPID")
maxrate=$(run maxrate "127.0.0.1:$PX" -D "$DURATION" -c 32 -m 8 -t 16)
c3=$(cpu_ns "$MPID")

printf '\n| run | req/s | succeeded | failed | p50 us | p99 us | max us | proxy CPU us/req |\n|---|---|---|---|---|---|---|---|\n'
for r in "$direct" "$proxied" "$maxrate"; do
	name=${r%% *}
	cpu="-"
	if [[ $name == proxied ]]; then cpu=$(awk -v a="$c0" -v b="$c1" -v n="$(field "$r" "done")" 'BEGIN {printf "%.1f", (b-a)/1000/n}'); fi
	if [[ $name == maxrate ]]; then cpu=$(awk -v a="$c2" -v b="$c3" -v n="$(field "$r" "done")" 'BEGIN {printf "%.1f", (b-a)/1000/n}'); fi
	printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$name" "$(field "$r" rps)" "$(field "$r" succeeded)" "$(field "$r" failed)" \
		"$(field "$r" p50_us)" "$(field "$r" p99_us)" "$(field "$r" max_us)" "$cpu"
done
printf '\nproxy-added latency at %s QPS: p50 %+d us, p99 %+d us\n' "$QPS" \
	$(($(field "$proxied" p50_us) - $(field "$direct" p50_us))) $(($(field "$proxied" p99_us) - $(field "$direct" p99_us)))
echo
echo "--- proxied run, full mosnload report ---"
sed -n '/^finished/,/^RESULT/p' "$TMP/proxied.out"
failed=$(($(field "$proxied" failed) + $(field "$direct" failed)))
[[ $failed == 0 ]] || { echo "bench/rpc.sh: $failed failed requests" >&2; exit 1; }
