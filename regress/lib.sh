# regress/lib.sh: the harness of the end-to-end scenarios, sourced by
# regress/scenarios/smtpd_*.sh.  regress/run.sh runs each scenario with
# sh from the top of the tree, with $TOP (the tree) and $WORK (a private
# empty scratch directory); exit 0 is a pass.
#
# A scenario writes a configuration, starts a real smtpd on a free
# loopback port with its spool in $WORK, talks to it, and checks what
# happened:
#
#	. "$TOP/regress/lib.sh"
#	make_users alice			# $WORK/userbase, homes
#	make_instance main <<'EOF'
#	listen on 127.0.0.1 port @PORT@
#	table users @WORK@/userbase
#	action "local" maildir userbase <users>
#	match from any for local action "local"
#	EOF
#	start_smtpd
#	run_script send1 <<'EOF'
#	connect 127.0.0.1 ${PORT}
#	expect 220
#	...
#	EOF
#	wait_maildir "$WORK/home/alice/Maildir" 1
#	stop_smtpd
#	pass
#
# Functions (each fails the scenario with a message and the tail of the
# smtpd log when its condition does not hold):
#	free_port		prints a free loopback TCP port
#	make_users NAME...	a userbase table ($WORK/userbase) mapping each
#				NAME to the invoking uid:gid and a home
#				$WORK/home/NAME (made, mode 755)
#	make_instance NAME	the configuration on stdin, with @PORT@,
#				@WORK@, @SPOOL@, @TOP@, @UID@, @GID@, @USER@
#				replaced, in $CONF ($WORK/NAME.conf); a
#				"spool @SPOOL@" line is added unless the
#				text has its own spool line; sets PORT
#				(unless already set) and SPOOL
#	start_smtpd [ARGS]	smtpd -d -f $CONF ARGS in the background,
#				stderr to $LOG ($WORK/smtpd.log, appended
#				across restarts); waits until the control
#				socket exists and the port answers 220
#				(unless ARGS pause smtp); sets SMTPD_PID
#				and SMTPD_ID; SMTPD_BOUNCE_DELAY is 0
#				unless the scenario sets it
#	stop_smtpd [STATUS]	SIGTERM; the parent must exit with STATUS
#				(0; "any") and every process of the daemon
#				must be gone within the deadline
#	smtpd_wait_gone [ST]	the same without the SIGTERM (after a crash
#				or "smtpctl stop"); sets SMTPD_STATUS
#	smtpd_pid NAME		pid of the process NAME (control, lookup,
#				queue, scheduler, network) or of a helper
#				(queue-fs, table-static...)
#	run_script NAME		an smtp-script script on stdin, saved as
#				$WORK/NAME.script, run with PORT, WORK and
#				SPOOL defined; transcript in $WORK/NAME.out
#	smtpctl ARGS		smtpctl for this instance (-s socket)
#	ctl ARGS		the same, which must succeed; output shown
#				and kept in $WORK/ctl.out
#	wait_for 'CMD' [SECS]	poll (default 60 s) until CMD succeeds
#	wait_for_file PATH	until PATH exists
#	wait_log REGEX		until a line of $LOG matches (grep -E)
#	maildir_count DIR	number of messages in DIR/new and DIR/cur
#	wait_maildir DIR N	until DIR holds at least N messages
#	maildir_files DIR	the message files of DIR, one per line
#	expect_file_has F RE	a line of F matches RE (grep -E)
#	expect_file_lacks F RE	no line of F matches RE
#	script_msgid NAME	the msgid of the last "250 2.0.0 <msgid>"
#				in the transcript of script NAME
#	poll_until 'CMD' [SECS]	like wait_for, but returns 1 on timeout
#	proc_id PID, proc_alive ID
#				a process as "pid:starttime", and whether
#				that very process still runs
#	bg_register PID		a background process: SIGTERM, then SIGKILL,
#				at exit
#	note MSG, fail MSG, skip MSG, pass
#
# The EXIT trap stops whatever is left (smtpd, its children, background
# processes) on every way out, and calls lib_user_cleanup, which a
# scenario redefines when it touches something outside $WORK.
#
# Running as root, smtpd drops its children to _smtpd: the harness makes
# the user (and /var/empty, the chroot of control and scheduler) when
# they are missing, as "make install" would, and keeps $WORK readable
# by it.  Deliveries still go to $WORK: the userbase maps test users to
# the invoking uid.

set -u

TOP=${TOP:-$(pwd)}
WORK=${WORK:?WORK must name a scratch directory}
case "$WORK" in /*) ;; *) WORK=$(cd "$WORK" && pwd) ;; esac
case "$TOP" in /*) ;; *) TOP=$(cd "$TOP" && pwd) ;; esac
export TOP WORK

SMTPD_BIN=$TOP/smtpd/smtpd
SMTPCTL_BIN=$TOP/smtpctl/smtpctl
SMTP_SCRIPT=$TOP/regress/smtp-script/smtp-script
PYTHON=/usr/bin/python3
LOG=$WORK/smtpd.log
DEADLINE=60

SMTPD_PID=""		# the parent, our child
SMTPD_ID=""		# the same as pid:starttime (see proc_id)
SMTPD_PIDS=""		# every process of the running daemon (ids)
BG_PIDS=""
CONF=""
SPOOL=$WORK/spool
PORT=""
TEST_UID=$(id -u)
TEST_GID=$(id -g)
TEST_USER=$(id -un)
SCENARIO=$(basename "$0" .sh)

# ---- reporting ----------------------------------------------------------

log_tail() {
	if [ -s "$LOG" ]; then
		echo "--- last lines of $LOG:"
		tail -n "${1:-40}" "$LOG" | sed 's/^/    /'
	fi
}

fail() {
	echo "FAIL: $SCENARIO: $*"
	log_tail 40
	exit 1
}

skip() {
	echo "SKIP: $SCENARIO: $*"
	exit 0
}

pass() {
	echo "PASS: $SCENARIO"
	exit 0
}

note() {
	echo "-- $*"
}

# ---- processes --------------------------------------------------------------
#
# A process is named by "pid:starttime" (the start time in clock ticks
# from /proc): pids wrap around quickly on a busy machine, and a stale
# pid must never make the harness signal somebody else's process.

# proc_id PID: "PID:START" while PID runs (a zombie has stopped), else "".
proc_id() {
	awk -v p="$1" '{ sub(/.*\) /, ""); if ($1 != "Z") print p ":" $20 }' \
	    "/proc/$1/stat" 2>/dev/null
}

proc_alive() {
	[ -n "$1" ] && [ "$(proc_id "${1%%:*}")" = "$1" ]
}

# proc_kill SIGNAL ID
proc_kill() {
	proc_alive "$2" && kill "-$1" "${2%%:*}" 2>/dev/null
}

# bg_register PID: a background process of the scenario, stopped at exit.
bg_register() {
	BG_PIDS="$BG_PIDS $(proc_id "$1")"
}

# smtpd_tree PID: every process of the daemon, the parent and its
# descendants (helpers and deliveries included), as ids.
smtpd_tree() {
	_todo=$1
	_all=""
	while [ -n "$_todo" ]; do
		_next=""
		for _p in $_todo; do
			_id=$(proc_id "$_p")
			[ -n "$_id" ] || continue
			_all="$_all $_id"
			_next="$_next $(ps -o pid= --ppid "$_p" 2>/dev/null)"
		done
		_todo=$(echo $_next)
	done
	echo $_all
}

lib_cleanup() {
	_status=$?
	for _p in $BG_PIDS; do
		proc_kill TERM "$_p"
	done
	if proc_alive "$SMTPD_ID"; then
		SMTPD_PIDS="$SMTPD_PIDS $(smtpd_tree "$SMTPD_PID")"
		proc_kill TERM "$SMTPD_ID"
		_i=0
		while proc_alive "$SMTPD_ID" && [ $_i -lt 50 ]; do
			sleep 0.1
			_i=$((_i + 1))
		done
	fi
	for _p in $SMTPD_PIDS $BG_PIDS; do
		proc_kill KILL "$_p"
	done
	lib_user_cleanup 2>/dev/null
	exit $_status
}

# Scenarios that touch things outside $WORK (/var/mail) redefine this.
lib_user_cleanup() {
	:
}

trap lib_cleanup EXIT
trap 'exit 1' INT TERM HUP

# ---- waiting ----------------------------------------------------------------

# poll_until 'CMD' [SECS]: 0 once CMD succeeds, 1 after SECS seconds.
# A daemon that dies meanwhile fails the scenario at once (unless
# SMTPD_MAY_DIE is set: a crash scenario waiting for just that).
poll_until() {
	_n=$(( ${2:-$DEADLINE} * 10 ))
	while ! eval "$1" >/dev/null 2>&1; do
		_n=$((_n - 1))
		[ $_n -gt 0 ] || return 1
		if [ -n "$SMTPD_ID" ] && [ -z "${SMTPD_MAY_DIE:-}" ] &&
		    ! proc_alive "$SMTPD_ID"; then
			wait "$SMTPD_PID"
			_rc=$?
			SMTPD_PID=""
			SMTPD_ID=""
			fail "smtpd exited (status $_rc) while waiting for: $1"
		fi
		sleep 0.1
	done
	return 0
}

wait_for() {
	poll_until "$1" "${2:-$DEADLINE}" ||
	    fail "timed out after ${2:-$DEADLINE} s waiting for: $1"
}

wait_for_file() {
	wait_for "test -e '$1'" "${2:-$DEADLINE}"
}

wait_log() {
	wait_for "grep -Eq -- '$1' '$LOG'" "${2:-$DEADLINE}"
}

maildir_files() {
	for _f in "$1"/new/* "$1"/cur/*; do
		[ -f "$_f" ] && echo "$_f"
	done
	return 0
}

maildir_count() {
	maildir_files "$1" | wc -l | tr -d ' '
}

wait_maildir() {
	wait_for "[ \$(maildir_count '$1') -ge $2 ]" "${3:-$DEADLINE}"
	# One more is a bug too: give it no time, but look.
	_c=$(maildir_count "$1")
	[ "$_c" -le "$2" ] ||
	    note "$1 holds $_c messages, more than the $2 waited for"
}

expect_file_has() {
	[ -f "$1" ] || fail "$1 does not exist"
	grep -Eq -- "$2" "$1" || {
		echo "--- $1:"
		sed 's/^/    /' "$1" | head -n 60
		fail "$1 has no line matching: $2"
	}
}

expect_file_lacks() {
	[ -f "$1" ] || fail "$1 does not exist"
	if grep -Eq -- "$2" "$1"; then
		echo "--- $1:"
		sed 's/^/    /' "$1" | head -n 60
		fail "$1 has a line matching: $2"
	fi
}

# ---- set-up -----------------------------------------------------------------

free_port() {
	"$PYTHON" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

lib_build_tools() {
	[ -x "$SMTPD_BIN" ] || fail "$SMTPD_BIN is not built"
	[ -x "$SMTP_SCRIPT" ] || fail "$SMTP_SCRIPT is not built (make)"
}

lib_privileges() {
	chmod 755 "$WORK"
	[ "$TEST_UID" = 0 ] || return 0
	if ! getent passwd _smtpd >/dev/null; then
		useradd --system --no-create-home --home-dir /var/empty \
		    --shell /usr/sbin/nologin _smtpd ||
		    fail "cannot create the _smtpd user"
	fi
	[ -d /var/empty ] || { mkdir -p /var/empty && chmod 755 /var/empty; }
	# _smtpd must reach $WORK: every directory above it traversable.
	_d=$WORK
	while [ "$_d" != / ]; do
		_d=$(dirname "$_d")
		case "$(stat -c %A "$_d" | cut -c10)" in
		x|t)	;;
		*)	fail "$_d is not traversable by others:" \
			    "_smtpd cannot reach $WORK" ;;
		esac
	done
}

# The helpers smtpd runs, as SMTPD_LIBEXEC sees them.
lib_libexec() {
	mkdir -p "$WORK/libexec"
	for _h in "$TOP"/tables/*/table-* "$TOP"/queues/*/queue-* \
	    "$TOP"/filters/*/filter-*; do
		[ -f "$_h" ] && [ -x "$_h" ] || continue
		ln -sf "$_h" "$WORK/libexec/$(basename "$_h")"
	done
	chmod 755 "$WORK/libexec"
}

make_users() {
	: >"$WORK/userbase"
	for _u in "$@"; do
		mkdir -p "$WORK/home/$_u"
		chmod 755 "$WORK/home" "$WORK/home/$_u"
		printf '%s\t%s:%s:%s\n' "$_u" "$TEST_UID" "$TEST_GID" \
		    "$WORK/home/$_u" >>"$WORK/userbase"
	done
	chmod 644 "$WORK/userbase"
}

make_instance() {
	[ -n "$PORT" ] || PORT=$(free_port)
	CONF=$WORK/$1.conf
	cat >"$WORK/$1.conf.in"
	{
		grep -Eq '^[[:space:]]*spool[[:space:]]' "$WORK/$1.conf.in" ||
		    echo 'spool "@SPOOL@"'
		cat "$WORK/$1.conf.in"
	} | sed -e "s|@PORT@|$PORT|g" -e "s|@WORK@|$WORK|g" \
	    -e "s|@SPOOL@|$SPOOL|g" -e "s|@TOP@|$TOP|g" \
	    -e "s|@UID@|$TEST_UID|g" -e "s|@GID@|$TEST_GID|g" \
	    -e "s|@USER@|$TEST_USER|g" >"$CONF"
	chmod 644 "$CONF"
	export PORT SPOOL
}

# ---- the daemon -------------------------------------------------------------

# 0 when a session on PORT gets its banner.
smtpd_answers() {
	printf 'connect 127.0.0.1 %s\nexpect 220\nsend QUIT\nexpect 221\n' \
	    "$PORT" | "$SMTP_SCRIPT" -q -t 10 - >/dev/null 2>&1
}

start_smtpd() {
	[ -n "$CONF" ] || fail "start_smtpd before make_instance"
	lib_build_tools
	lib_privileges
	lib_libexec
	_paused_smtp=0
	case " $* " in *" -P smtp "*|*" -Psmtp "*) _paused_smtp=1 ;; esac
	echo "=== $(date '+%H:%M:%S') start: smtpd -d -f $CONF $*" >>"$LOG"
	# Bounces are made at once: no test waits for the grouping delay.
	# Under ASan, LeakSanitizer cannot work in the chrooted processes
	# (no /proc there) and would fail their exit: leaks are checked by
	# the unit tests instead.
	ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0} \
	SMTPD_BOUNCE_DELAY=${SMTPD_BOUNCE_DELAY:-0} \
	SMTPD_LIBEXEC=$WORK/libexec "$SMTPD_BIN" -d -f "$CONF" "$@" \
	    >>"$LOG" 2>&1 &
	SMTPD_PID=$!
	SMTPD_ID=$(proc_id "$SMTPD_PID")
	_n=$((DEADLINE * 5))
	while :; do
		if ! proc_alive "$SMTPD_ID"; then
			wait "$SMTPD_PID"
			_rc=$?
			SMTPD_PID=""
			SMTPD_ID=""
			fail "smtpd exited with status $_rc while starting"
		fi
		if [ -S "$SPOOL/smtpd.sock" ] &&
		    { [ $_paused_smtp = 1 ] || smtpd_answers; }; then
			break
		fi
		_n=$((_n - 1))
		[ $_n -gt 0 ] || fail "smtpd did not answer within $DEADLINE s"
		sleep 0.2
	done
	SMTPD_PIDS=$(smtpd_tree "$SMTPD_PID")
	note "smtpd started, pid $SMTPD_PID" \
	    "(processes: $(echo " $SMTPD_PIDS" | sed 's/:[0-9]*//g'))"
}

# stop_smtpd [STATUS]: SIGTERM; the parent must exit (with STATUS, 0 by
# default; "any" for any) and every process of the daemon with it.
stop_smtpd() {
	proc_alive "$SMTPD_ID" || fail "stop_smtpd: smtpd is not running"
	SMTPD_PIDS="$SMTPD_PIDS $(smtpd_tree "$SMTPD_PID")"
	proc_kill TERM "$SMTPD_ID"
	smtpd_wait_gone "${1:-0}"
}

# smtpd_wait_gone [STATUS]: the parent exits by itself (after a kill -9
# of a child, say), and everything else goes with it; sets
# SMTPD_STATUS.
smtpd_wait_gone() {
	_n=$((DEADLINE * 10))
	while proc_alive "$SMTPD_ID"; do
		_n=$((_n - 1))
		if [ $_n -le 0 ]; then
			proc_kill KILL "$SMTPD_ID"
			fail "smtpd (pid $SMTPD_PID) still running after" \
			    "$DEADLINE s"
		fi
		sleep 0.1
	done
	wait "$SMTPD_PID"
	_rc=$?
	_pid=$SMTPD_PID
	SMTPD_PID=""
	SMTPD_ID=""
	echo "=== $(date '+%H:%M:%S') smtpd exited with status $_rc" >>"$LOG"
	smtpd_wait_others "smtpd $_pid"
	case "${1:-0}" in
	any)	;;
	*)	[ "$_rc" = "${1:-0}" ] ||
		    fail "smtpd exited with status $_rc, not ${1:-0}" ;;
	esac
	SMTPD_STATUS=$_rc
}

# smtpd_wait_others WHAT: every process of SMTPD_PIDS ends (within the
# deadline; then they are killed and the scenario fails).
smtpd_wait_others() {
	_n=$((DEADLINE * 10))
	while :; do
		_left=""
		for _p in $SMTPD_PIDS; do
			proc_alive "$_p" && _left="$_left ${_p%%:*}"
		done
		[ -n "$_left" ] || break
		_n=$((_n - 1))
		if [ $_n -le 0 ]; then
			ps -o pid,ppid,args -p "$(echo $_left | tr ' ' ,)"
			for _p in $SMTPD_PIDS; do
				proc_kill KILL "$_p"
			done
			SMTPD_PIDS=""
			fail "processes of $1 left behind:$_left"
		fi
		sleep 0.1
	done
	SMTPD_PIDS=""
}

# smtpd_pid NAME: the process of the running daemon whose title names it
# ("smtpd: lookup"), or a helper program ("queue-fs").
smtpd_pid() {
	for _p in $(smtpd_tree "$SMTPD_PID" | sed 's/:[0-9]*//g'); do
		_args=$(ps -o args= -p "$_p" 2>/dev/null)
		case "$_args" in
		*"smtpd: $1"|*"smtpd: $1 "*|*"/$1"|*"/$1 "*|"$1"|"$1 "*)
			echo "$_p"
			return 0 ;;
		esac
	done
	return 1
}

smtpctl() {
	"$SMTPCTL_BIN" -s "$SPOOL/smtpd.sock" "$@"
}

# ctl ARGS: smtpctl that must succeed; its output is shown and kept in
# $WORK/ctl.out.
ctl() {
	[ -x "$SMTPCTL_BIN" ] || fail "$SMTPCTL_BIN is not built"
	echo "\$ smtpctl $*"
	smtpctl "$@" >"$WORK/ctl.out" 2>&1
	_rc=$?
	sed 's/^/    /' "$WORK/ctl.out"
	[ $_rc = 0 ] || fail "smtpctl $*: exit status $_rc"
}

# ---- clients ----------------------------------------------------------------

run_script() {
	cat >"$WORK/$1.script"
	"$SMTP_SCRIPT" -D PORT="$PORT" -D WORK="$WORK" -D SPOOL="$SPOOL" \
	    "$WORK/$1.script" >"$WORK/$1.out" 2>"$WORK/$1.err"
	_rc=$?
	if [ $_rc != 0 ]; then
		echo "--- transcript of $1 (last lines):"
		tail -n 30 "$WORK/$1.out" | sed 's/^/    /'
		echo "--- $1 failed:"
		sed 's/^/    /' "$WORK/$1.err"
		fail "script $1 failed (status $_rc)"
	fi
}

# The msgid a script's transcript shows in its last "250 2.0.0 <msgid>".
script_msgid() {
	sed -n 's/^S: 250 2\.0\.0 \([0-9a-f]\{8\}\) .*/\1/p' "$WORK/$1.out" |
	    tail -n 1
}
