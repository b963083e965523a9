#!/bin/sh
# smtpd-probe reports what goes wrong plainly, on stderr, with the exit
# status of smtpd-probe(8): 2 for usage and handshake errors, 1 when a
# request failed (timeout, helper down).

probe=$TOP/probe/smtpd-probe
static=$TOP/tables/table-static/table-static
raw=$TOP/regress/unit/helper_raw

fail() {
	echo "FAIL: $*"
	for f in "$WORK"/out "$WORK"/err; do
		[ -f "$f" ] && { echo "--- $f"; cat "$f"; }
	done
	exit 1
}

# status WANT DESCRIPTION: the last command exited with WANT
check_status() {
	[ "$1" -eq "$2" ] || fail "$3: exit status $1, not $2"
}

# wait_until DESCRIPTION TEST...: poll (up to 60 s) until TEST succeeds
wait_until() {
	what=$1
	shift
	i=0
	while ! "$@"; do
		i=$((i + 1))
		[ $i -le 600 ] || fail "timed out waiting for $what"
		sleep 0.1
	done
}

printf 'root: bob, alice\n' >"$WORK/aliases"

# A program that does not exist.
"$probe" table "$WORK/no-such-table arg" lookup alias root \
    >"$WORK/out" 2>"$WORK/err"
check_status $? 2 "missing program"
grep -q "cannot execute $WORK/no-such-table" "$WORK/err" ||
    fail "missing program: no clear error"
[ ! -s "$WORK/out" ] || fail "missing program: output on stdout"

# A program that exits at once.
"$probe" table false lookup alias root >"$WORK/out" 2>"$WORK/err"
check_status $? 2 "false"
grep -q "helper false did not become ready" "$WORK/err" ||
    fail "false: no clear error"

# A table file with an error: the helper's file:line message shows.
printf 'root: bob\nroot: alice\n' >"$WORK/broken"
"$probe" table "$static $WORK/broken" lookup alias root >"$WORK/out" \
    2>"$WORK/err"
check_status $? 2 "broken table"
grep -q "$WORK/broken:2: " "$WORK/err" || fail "broken table: no file:line"
grep -q "helper table-static did not become ready" "$WORK/err" ||
    fail "broken table: no handshake error"

# A helper that speaks another API version.
"$probe" table "$raw badversion" lookup alias root >"$WORK/out" \
    2>"$WORK/err"
check_status $? 2 "bad version"
grep -q "API version 999" "$WORK/err" || fail "bad version: not said"

# A helper that never answers HELLO, within the handshake deadline.
"$probe" -H 1000 table "$raw mute" lookup alias root >"$WORK/out" \
    2>"$WORK/err"
check_status $? 2 "mute helper"
grep -q "did not become ready: no READY within 1000 ms" "$WORK/err" ||
    fail "mute helper: no clear error"

# Usage errors: nothing is started.
"$probe" nosuchrole "$static $WORK/aliases" lookup alias root \
    >"$WORK/out" 2>"$WORK/err"
check_status $? 2 "unknown role"
grep -q 'unknown role "nosuchrole"' "$WORK/err" || fail "unknown role"
"$probe" table "sh -c 'touch $WORK/started'" lookup alias >"$WORK/out" \
    2>"$WORK/err"
check_status $? 2 "short request"
grep -q "usage: lookup SERVICE KEY" "$WORK/err" || fail "short request"
[ ! -e "$WORK/started" ] || fail "short request: helper was started"
"$probe" table "$static 'unbalanced" lookup alias root >"$WORK/out" \
    2>"$WORK/err"
check_status $? 2 "bad command line"
grep -q "command line: unbalanced single quote" "$WORK/err" ||
    fail "bad command line"

# A helper that stops answering, then dies.  It is started by hand
# with -S so that this script knows its pid; the requests go through a
# FIFO one at a time.
sock=$WORK/sock
mkfifo "$WORK/fifo" || fail "mkfifo"
"$probe" -S "$sock" -t 1000 table x <"$WORK/fifo" >"$WORK/out" \
    2>"$WORK/err" &
probe_pid=$!
exec 3>"$WORK/fifo"
wait_until "the probe's socket" grep -qxF "waiting for a helper on $sock" \
    "$WORK/err"
"$static" -S "$sock" "$WORK/aliases" 2>"$WORK/helper.err" &
helper_pid=$!
wait_until "the helper" grep -q "^helper table-static ready" "$WORK/err"

kill -STOP $helper_pid
echo "lookup alias root" >&3
wait_until "a timeout" grep -qxF "lookup alias root: timeout after 1000 ms" \
    "$WORK/out"
kill -CONT $helper_pid
# Its late answer to the first request is dropped; this one is answered.
echo "check alias root" >&3
wait_until "an answer" grep -qxF "check alias root: found" "$WORK/out"

kill -STOP $helper_pid
echo "lookup alias postmaster" >&3
kill -KILL $helper_pid
wait_until "helper down" grep -qxF "lookup alias postmaster: helper down" \
    "$WORK/out"
# With the helper gone, the probe ends without waiting for more input.
wait $probe_pid
check_status $? 1 "helper down"
exec 3>&-
wait $helper_pid 2>/dev/null
[ "$(wc -l <"$WORK/out")" -eq 3 ] || fail "not one line per request"

echo "probe_errors: ok"
