# shellcheck shell=bash
# The globals set here are read by the sourcing scripts, and R is their
# associative array (string keys, so its subscripts are not arithmetic).
# shellcheck disable=SC2034,SC2154,SC2004
# Shared parts of the whole-proxy benchmarks (bench/tcp.sh, bench/http.sh,
# bench/rpc.sh). Sourcing defines functions only; the caller sets
# BENCH_NAME (its name in messages, e.g. "bench/tcp.sh") first, and for
# bench_priority also BENCH_SCRIPT (its own path), PROXY_CPU, LOAD_CPU and
# NICE. The functions share the caller's globals: TMP, UP_PID, UP2_PID (a
# second upstream server, optional), MOSN_PID, NGX_PID, LOAD_PID, FAILED,
# KEEP_TMP, the *_ADDR variables and R.

die() {
	echo "$BENCH_NAME: $*" >&2
	exit 1
}

# bench_priority SESSION_VAR ARGS...: priority. Where allowed (root), every
# benchmark process runs at nice NICE so that other work on a shared machine
# takes less CPU from the runs. With autogroup scheduling (sched(7)) the
# kernel first shares a CPU between sessions and nice only orders processes
# within one, so the script then re-runs itself (with SESSION_VAR=1 and
# ARGS) in a session of its own (for itself, the load generator and the
# upstream) and starts each proxy in another, each at autogroup nice NICE:
# one session holding processes on both CPUs would otherwise have its share
# split between them. Sets NICE, AUTOGROUP, ON_PROXY and ON_LOAD.
bench_priority() {
	local session_var=$1
	shift
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
	if [[ $AUTOGROUP == 1 && -z ${!session_var:-} ]]; then
		# env execs setsid, which execs the script: $! is the script's pid.
		env "$session_var=1" setsid -w "$BENCH_SCRIPT" "$@" &
		local inner=$!
		# The new session does not get the terminal's Ctrl-C: pass it on.
		# shellcheck disable=SC2064 # inner is local: expand it now
		trap "kill -TERM $inner 2>/dev/null || true" INT TERM
		local rc
		while :; do
			rc=0
			wait "$inner" || rc=$?
			kill -0 "$inner" 2>/dev/null || exit "$rc"
		done
	fi
	if [[ $AUTOGROUP == 1 ]]; then
		echo "$NICE" >/proc/self/autogroup || die "cannot set the autogroup nice (NICE=0 to run without)"
	fi
	# Arrays, not functions: a backgrounded function would be a subshell, and $!
	# must be the pid of the process itself (setsid, taskset and nice exec it).
	ON_PROXY=(taskset -c "$PROXY_CPU" nice -n "$NICE")
	if [[ $AUTOGROUP == 1 ]]; then
		ON_PROXY=(setsid "${ON_PROXY[@]}")
	fi
	ON_LOAD=(taskset -c "$LOAD_CPU" nice -n "$NICE")
}

# set_prio PID: the autogroup nice of a process started in a new session.
set_prio() {
	if [[ $AUTOGROUP == 1 ]]; then
		echo "$NICE" >"/proc/$1/autogroup" || die "cannot set the autogroup nice of pid $1"
	fi
}

# bench_tmp PREFIX: the temp dir TMP (named PREFIX.XXXXXX), the process
# pids and FAILED, and the EXIT and INT traps that stop the processes and
# remove TMP unless KEEP_TMP=1 or something failed.
bench_tmp() {
	TMP=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
	UP_PID="" UP2_PID="" MOSN_PID="" NGX_PID="" LOAD_PID=""
	FAILED=0
	trap cleanup EXIT
	trap 'exit 130' INT
}

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
		echo "$BENCH_NAME: pid $pid still running 5 s after SIG$sig; killing it" >&2
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
	stop_pid "${UP2_PID:-}" TERM
	if [[ $KEEP_TMP == 1 || $FAILED != 0 || $rc != 0 ]]; then
		echo "$BENCH_NAME: logs and configs kept in $TMP" >&2
	else
		rm -rf "$TMP"
	fi
	exit "$rc"
}

# free_ports N: N distinct free TCP ports on 127.0.0.1, on one line (for
# scripts without a Go helper of their own; bound together so that they
# differ).
free_ports() {
	python3 -c 'import socket, sys
ss = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in ss: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))' "$1"
}

# start_mosn WAITER: starts $MOSN with $TMP/mosn/mosn.json on the proxy CPU
# and waits (WAITER wait -addr) for $MOSN_ADDR. Sets MOSN_PID, MOSN_VERSION.
start_mosn() {
	local waiter=$1 comm
	"${ON_PROXY[@]}" "$MOSN" start -c "$TMP/mosn/mosn.json" >"$TMP/mosn/stdout.log" 2>&1 &
	MOSN_PID=$!
	if ! "$waiter" wait -addr "$MOSN_ADDR" || ! kill -0 "$MOSN_PID" 2>/dev/null; then
		cat "$TMP/mosn/stdout.log" "$TMP/mosn/mosn.log" 2>/dev/null >&2 || true
		die "bin/mosn did not start (output above)"
	fi
	# The CPU figures read /proc/$MOSN_PID: make sure that is the proxy itself.
	comm=$(cat "/proc/$MOSN_PID/comm")
	[[ $comm == "$(basename "$MOSN" | cut -c1-15)" ]] || die "pid $MOSN_PID is $comm, not $MOSN"
	set_prio "$MOSN_PID" # only now: before its exec, the pid was still in our session
	MOSN_VERSION=$("$MOSN" version 2>/dev/null || echo unknown)
}

# run_nginx WAITER: tests and starts nginx with $TMP/nginx/nginx.conf on the
# proxy CPU and waits for $NGX_ADDR. Sets NGX_PID and NGX_VERSION; on
# failure sets NGX_NOTE and returns 1.
run_nginx() {
	local waiter=$1 elog=()
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
	if ! "$waiter" wait -addr "$NGX_ADDR" || ! kill -0 "$NGX_PID" 2>/dev/null; then
		NGX_NOTE="nginx did not start: $(cat "$TMP/nginx/stdout.log" "$TMP/nginx/logs/error.log" 2>/dev/null | tr '\n' ' ')"
		return 1
	fi
	set_prio "$NGX_PID"
	NGX_VERSION=$(nginx -v 2>&1 | sed 's/.*nginx\///')
}

# choose_targets INSTALL_HINT: TARGETS, with nginx when NGINX=1, it is
# installed and the caller's start_nginx succeeds; NGX_NOTE says why not.
choose_targets() {
	NGX_NOTE=""
	TARGETS=(direct ours)
	if [[ $NGINX != 1 ]]; then
		NGX_NOTE="nginx skipped (NGINX=$NGINX)"
	elif ! command -v nginx >/dev/null; then
		NGX_NOTE="nginx is not installed; for the nginx column: $1"
	elif start_nginx; then
		TARGETS+=(nginx)
	fi
}

addr_of() {
	case $1 in
	direct) echo "$UP_ADDR" ;;
	ours) echo "$MOSN_ADDR" ;;
	nginx) echo "$NGX_ADDR" ;;
	esac
}

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

# cpu_mark N PID...: snapshot N (0 before a run, 1 after) of the proxy
# processes' ticks (CPU_T) and schedstat times (CPU_R, CPU_Q) and of the
# upstream servers' wait for a CPU (CPU_U; UP2_PID too when set: an idle
# upstream adds nothing).
CPU_T=() CPU_R=() CPU_Q=() CPU_U=()
cpu_mark() {
	local n=$1 _
	shift
	CPU_T[n]=$(cpu_ticks "$@")
	read -r "CPU_R[$n]" "CPU_Q[$n]" <<<"$(sched_ns "$@")"
	read -r _ "CPU_U[$n]" <<<"$(sched_ns "$UP_PID" ${UP2_PID:+"$UP2_PID"})"
}

# cpu_store SCENARIO TARGET TICKS_FALLBACK: R[...,statcpu|cpu|runq|uprunq]
# from the two cpu_mark snapshots, in seconds. Without schedstat (a kernel
# without CONFIG_SCHED_INFO) cpu falls back to the ticks: for every target
# when TICKS_FALLBACK is "all", else for the proxies only.
cpu_store() {
	local scen=$1 target=$2
	R[$scen,$target,statcpu]=$(awk -v d=$((CPU_T[1] - CPU_T[0])) -v hz="$CLK_TCK" 'BEGIN { printf "%.3f", d / hz }')
	R[$scen,$target,cpu]=$(awk -v d=$((CPU_R[1] - CPU_R[0])) 'BEGIN { printf "%.4f", d / 1e9 }')
	if [[ ${CPU_R[1]} == 0 && ($3 == all || $target != direct) ]]; then
		R[$scen,$target,cpu]=${R[$scen,$target,statcpu]}
	fi
	R[$scen,$target,runq]=$(awk -v d=$((CPU_Q[1] - CPU_Q[0])) 'BEGIN { printf "%.3f", d / 1e9 }')
	R[$scen,$target,uprunq]=$(awk -v d=$((CPU_U[1] - CPU_U[0])) 'BEGIN { printf "%.3f", d / 1e9 }')
}

# check_alive SCENARIO TARGET: FAILED=1 when a proxy died during the run.
check_alive() {
	if [[ $2 != direct ]] && ! kill -0 "$(pids_of "$2" | cut -d' ' -f1)" 2>/dev/null; then
		echo "  $2 died during $1; its logs are in $TMP" >&2
		FAILED=1
	fi
}

# field KEY LINE: the value of KEY=value in a RESULT line.
field() { tr ' ' '\n' <<<"$2" | sed -n "s/^$1=//p"; }

# describe_machine: the machine line of the report.
describe_machine() {
	echo "- machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), kernel $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg)"
}

# describe_priority LOAD_WHO: the priority line of the report.
describe_priority() {
	if [[ $AUTOGROUP == 1 ]]; then
		echo "- priority: nice $NICE; the proxies, and $1 with the upstream, run in sessions (autogroups) of their own at autogroup nice $NICE"
	else
		echo "- priority: every benchmark process runs at nice $NICE"
	fi
}

# --- the tables --------------------------------------------------------------

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

# throughput_header: the head of the throughput and CPU table; sets has_nginx.
throughput_header() {
	has_nginx=0
	[[ " ${TARGETS[*]} " == *" nginx "* ]] && has_nginx=1
	if [[ $has_nginx == 1 ]]; then
		echo "| scenario | direct | ours | ours/direct | ours CPU | nginx | nginx/direct | nginx CPU | ours/nginx | CPU ours/nginx |"
		echo "|---|---|---|---|---|---|---|---|---|---|"
	else
		echo "| scenario | direct | ours | ours/direct | ours CPU |"
		echo "|---|---|---|---|---|"
	fi
}

# throughput_row SCENARIO UNIT CPU_UNIT DIRECT OURS OURS_CPU [NGINX NGINX_CPU]:
# one row of that table (the nginx columns when has_nginx=1).
throughput_row() {
	local name=$1 unit=$2 cunit=$3 d=$4 o=$5 oc=$6 n=${7:-} nc=${8:-} row
	row="| $name | $(cell "$d" "$unit" "${R[$name,direct,failures]}") | $(cell "$o" "$unit" "${R[$name,ours,failures]}") | $(ratio "$o" "$d") | ${oc:--} $cunit ($(busy "$name" ours)) |"
	if [[ $has_nginx == 1 ]]; then
		row="$row $(cell "$n" "$unit" "${R[$name,nginx,failures]}") | $(ratio "$n" "$d") | ${nc:--} $cunit ($(busy "$name" nginx)) | $(ratio "$o" "$n") | $(ratio "$oc" "$nc") |"
	fi
	echo "$row"
}
