# bench/lib.sh: what bench/run.sh and the bench/mta-*.sh files share.
# Sourced; $TOP is the tree, $SCRATCH this run's scratch directory.
#
#	bench_free_port		a free loopback TCP port
#	bench_answers PORT	0 when a session on PORT gets a 220 banner
#	bench_wait_up PORT NAME	until PORT answers (60 s), else fail (at
#				once when a tracked daemon has exited)
#	bench_spawn LOG CMD...	start a daemon in the background, output to
#				LOG, with no DNS (below), and track it
#	bench_track PID		remember a daemon process: stopped at exit
#	bench_blast OUT ARGS...	smtp-blast ARGS, its output in OUT; its exit
#				status.  In the background and waited for, so
#				that a signal stops the bench at once (the
#				EXIT trap of run.sh ends it)
#	bench_stop_tracked	SIGTERM to what bench_track remembered, then
#				SIGKILL to whatever of its tree is left
#	bench_fail MSG		print MSG (and the log named by $MTA_LOG),
#				exit 1; the EXIT trap stops every daemon

SMTP_SCRIPT=$TOP/regress/smtp-script/smtp-script
BENCH_TRACKED=""	# daemons as "pid:starttime"
BLAST_ID=""		# the smtp-blast that runs, as "pid:starttime"

bench_fail() {
	echo "bench: $*" >&2
	if [ -n "${MTA_LOG:-}" ] && [ -s "$MTA_LOG" ]; then
		echo "--- last lines of $MTA_LOG:" >&2
		tail -n 30 "$MTA_LOG" | sed 's/^/    /' >&2
	fi
	exit 1
}

# A daemon runs in a mount namespace of its own where /etc/resolv.conf
# names 127.0.0.1 only, where nothing answers: the machine's DNS is
# never asked.  Ours and Postfix find 127.0.0.1 in /etc/hosts anyway;
# Debian's OpenSMTPD asks DNS directly for the PTR of every client, and
# now gets a refusal at once (its sessions show "unknown" instead of
# "localhost").  unshare without --fork execs the command in the same
# process: the pid is the daemon's.
bench_spawn() {
	_log=$1
	shift
	if [ ! -f "$SCRATCH/resolv.conf" ]; then
		printf 'nameserver 127.0.0.1\noptions attempts:1 timeout:1\n' \
		    >"$SCRATCH/resolv.conf"
		chmod 644 "$SCRATCH/resolv.conf"
	fi
	unshare --mount --propagation private sh -c \
	    'mount --bind "$0" /etc/resolv.conf && exec "$@"' \
	    "$SCRATCH/resolv.conf" "$@" >"$_log" 2>&1 &
	bench_track $!
}

bench_free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

bench_answers() {
	printf 'connect 127.0.0.1 %s\nexpect 220\nsend QUIT\nexpect 221\n' \
	    "$1" | "$SMTP_SCRIPT" -q -t 10 - >/dev/null 2>&1
}

bench_wait_up() {
	_n=300
	until bench_answers "$1"; do
		_n=$((_n - 1))
		[ $_n -gt 0 ] || bench_fail "$2 does not answer on port $1"
		for _t in $BENCH_TRACKED; do
			bench_alive "$_t" || bench_fail "$2 exited"
		done
		sleep 0.2
	done
}

# A process as "pid:starttime": a pid that was reused by then is never
# signalled.
bench_proc_id() {
	awk -v p="$1" '{ sub(/.*\) /, ""); if ($1 != "Z") print p ":" $20 }' \
	    "/proc/$1/stat" 2>/dev/null
}

bench_alive() {
	[ -n "$1" ] && [ "$(bench_proc_id "${1%%:*}")" = "$1" ]
}

bench_track() {
	BENCH_TRACKED="$BENCH_TRACKED $(bench_proc_id "$1")"
}

# The process ID and every descendant, as ids.
bench_tree() {
	_todo=${1%%:*}
	_all=""
	while [ -n "$_todo" ]; do
		_next=""
		for _p in $_todo; do
			_id=$(bench_proc_id "$_p")
			[ -n "$_id" ] || continue
			_all="$_all $_id"
			_next="$_next $(ps -o pid= --ppid "$_p" 2>/dev/null)"
		done
		_todo=$(echo $_next)
	done
	echo $_all
}

bench_blast() {
	_out=$1
	shift
	"$TOP/bench/smtp-blast/smtp-blast" "$@" >"$_out" 2>&1 &
	BLAST_ID=$(bench_proc_id $!)
	wait $!
	_rc=$?
	BLAST_ID=""
	return $_rc
}

bench_stop_tracked() {
	bench_alive "$BLAST_ID" && kill -TERM "${BLAST_ID%%:*}" 2>/dev/null
	_tree=""
	for _t in $BENCH_TRACKED; do
		_tree="$_tree $(bench_tree "$_t")"
		bench_alive "$_t" && kill -TERM "${_t%%:*}" 2>/dev/null
	done
	_n=300
	while [ $_n -gt 0 ]; do
		_left=""
		for _t in $_tree; do
			bench_alive "$_t" && _left="$_left $_t"
		done
		[ -n "$_left" ] || break
		_n=$((_n - 1))
		sleep 0.1
	done
	for _t in $_tree; do
		bench_alive "$_t" && kill -KILL "${_t%%:*}" 2>/dev/null
	done
	BENCH_TRACKED=""
	return 0
}
