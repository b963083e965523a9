#!/bin/sh
# bench/profile.sh: "make bench-profile": where the time goes in our
# smtpd under the bench workload.  Root, from the top of the tree.
#
# 1. The workload three ways, each on a fresh instance: as is; with
#    local deliveries paused (smtpd -P mda: reception alone); with the
#    queue in memory (SMTPD_QUEUE_BACKEND=ram: no queue file system).
# 2. As is again, with "strace -f -c -w" on every process of the daemon
#    (deliveries are children of the parent): per process, the wall
#    time spent in each system call.  The busy time of a process is its
#    total less the time it waited in epoll_wait; strace slows every
#    call down, so compare the processes, not the absolute figures.
#
# Same environment as bench/run.sh (BENCH_SESSIONS, BENCH_MESSAGES,
# BENCH_SIZE, BENCH_CACHE, BENCH_KEEP).

set -u

TOP=$(pwd)
BENCH_SESSIONS=${BENCH_SESSIONS:-8}
BENCH_MESSAGES=${BENCH_MESSAGES:-2000}
BENCH_SIZE=${BENCH_SIZE:-4096}
BENCH_TIMEOUT=${BENCH_TIMEOUT:-300}
BENCH_CACHE=${BENCH_CACHE:-/var/tmp/smtpd-bench}
BENCH_KEEP=${BENCH_KEEP:-0}
BLAST=$TOP/bench/smtp-blast/smtp-blast
SCRATCH=""
STRACES=""

. "$TOP/bench/lib.sh"
. "$TOP/bench/mta-smtpd.sh"

profile_cleanup() {
	_rc=$?
	for _s in $STRACES; do
		kill -INT "$_s" 2>/dev/null
	done
	bench_stop_tracked
	if [ -n "$SCRATCH" ]; then
		if [ "$_rc" = 0 ] && [ "$BENCH_KEEP" != 1 ]; then
			rm -rf "$SCRATCH"
		else
			echo "bench: kept in $SCRATCH" >&2
		fi
	fi
	exit "$_rc"
}
trap profile_cleanup EXIT
trap 'exit 1' INT TERM HUP

[ "$(id -u)" = 0 ] || bench_fail "run make bench-profile as root"
[ -x "$BLAST" ] || bench_fail "$BLAST is not built (make)"
command -v strace >/dev/null 2>&1 ||
    bench_fail "strace is missing: apt-get install strace"
mkdir -p "$BENCH_CACHE"
chmod 755 "$BENCH_CACHE"
BENCH_UID=$(id -u nobody) || bench_fail "no user nobody"
BENCH_GID=$(id -g nobody)
SCRATCH=$(mktemp -d "$BENCH_CACHE/profile.XXXXXX") ||
    bench_fail "cannot make a scratch directory in $BENCH_CACHE"
chmod 755 "$SCRATCH"

# variant DIR NAME WAIT [HOOK]: one instance in $SCRATCH/DIR, a warm-up,
# HOOK, the workload; WAIT 1 waits for the deliveries.  Prints a line of
# the table.
variant() {
	_d=$SCRATCH/$1
	shift
	mkdir -p "$_d"
	_port=$(bench_free_port)
	smtpd_bench_start "$_d" "$_port"
	_w=""
	[ "$2" = 1 ] && _w="-w $MTA_MAILDIR"
	bench_blast "$_d/warmup.out" -c "$BENCH_SESSIONS" \
	    -n $((BENCH_SESSIONS * 2)) -s "$BENCH_SIZE" -t "$BENCH_TIMEOUT" \
	    $_w -p "$_port" || bench_fail "$1: warm-up failed"
	[ -z "${3:-}" ] || $3
	bench_blast "$_d/blast.out" -c "$BENCH_SESSIONS" \
	    -n "$BENCH_MESSAGES" -s "$BENCH_SIZE" -t "$BENCH_TIMEOUT" \
	    $_w -p "$_port" || bench_fail "$1 failed: $(cat "$_d/blast.out")"
	if [ -n "$STRACES" ]; then
		for _s in $STRACES; do
			kill -INT "$_s" 2>/dev/null
		done
		wait $STRACES 2>/dev/null
		STRACES=""
	fi
	smtpd_bench_stop
	awk -v n="$1" '{ for (i = 1; i <= NF; i++) {
		split($i, kv, "="); v[kv[1]] = kv[2] }
	    printf "%-22s %10.1f %14s %9.2f %9.2f\n", n, v["accept_rate"],
		v["deliver_s"] == "" ? "-" : sprintf("%.2f s", v["deliver_s"]),
		v["lat_p50_ms"], v["lat_p99_ms"] }' "$_d/blast.out"
}

# strace on every process of the running daemon, one output file each
# named for the process.
attach_strace() {
	for _t in $(bench_tree "$BENCH_TRACKED"); do
		_p=${_t%%:*}
		_n=$(ps -o args= -p "$_p" | sed -e 's/^smtpd: //' \
		    -e 's/ .*//' -e 's#.*/##' \
		    -e 's/^parent$/parent+deliveries/')
		strace -f -c -w -o "$SCRATCH/strace.$_n.$_p" -p "$_p" \
		    2>/dev/null &
		STRACES="$STRACES $!"
	done
	sleep 1		# attached before the first message
}

echo "bench: our smtpd, $BENCH_SESSIONS sessions, $BENCH_MESSAGES" \
    "messages of $BENCH_SIZE bytes"
printf '%-22s %10s %14s %9s %9s\n' variant "accept/s" "delivered in" \
    "p50 ms" "p99 ms"
variant plain "as is" 1
SMTPD_BENCH_ARGS="-P mda" variant paused "deliveries paused" 0
SMTPD_BENCH_ENV="SMTPD_QUEUE_BACKEND=ram" variant ram "queue in memory" 1
variant strace "as is, under strace" 1 attach_strace

echo
echo "busy seconds per process under strace (total less epoll_wait), and"
echo "its costliest system calls (seconds, calls per message); the parent"
echo "counts its delivery children too, which run in parallel:"
for _f in "$SCRATCH"/strace.*; do
	awk -v f="${_f##*/strace.}" -v m="$BENCH_MESSAGES" '
	    $NF == "total" { total = $2 }
	    $NF == "epoll_wait" { idle = $2 }
	    $1 ~ /^[0-9.]+$/ && $NF != "total" && $NF != "epoll_wait" {
		s[++n] = sprintf("%s %.3f %.1f", $NF, $2, $4 / m) }
	    END { printf "%.3f %s", total - idle, f
		for (i = 1; i <= n && i <= 5; i++) printf " | %s", s[i]
		printf "\n" }' "$_f"
done | sort -rn | awk '{ printf "%7.3f s  %s\n", $1, substr($0, index($0, $2)) }'
