#!/bin/sh
# The debugging workflow of smtpd-probe(8): a helper run under gdb (in
# batch mode here) and under valgrind still answers, and -S lets a
# helper started by hand connect to the probe.

probe=$TOP/probe/smtpd-probe
static=$TOP/tables/table-static/table-static

fail() {
	echo "FAIL: $*"
	for f in "$WORK"/out "$WORK"/err "$WORK"/helper.err; do
		[ -f "$f" ] && { echo "--- $f"; cat "$f"; }
	done
	exit 1
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
want='lookup alias root: found "bob, alice"'

if command -v gdb >/dev/null 2>&1; then
	gdb="gdb -batch -ex run -ex bt --args"
	"$probe" table "$gdb $static $WORK/aliases" \
	    lookup alias root </dev/null >"$WORK/out" 2>"$WORK/err" ||
	    fail "under gdb: exit status $?"
	# gdb writes its own lines to the same stdout.
	grep -qxF "$want" "$WORK/out" || fail "under gdb: no answer"
	# The instance is named for the helper, not for gdb.
	grep -q '^helper table-static ready: ' "$WORK/err" ||
	    fail "under gdb: ready line"
else
	echo "SKIP gdb part: gdb is not installed"
fi

# valgrind cannot run programs built with the address sanitizer.
if command -v valgrind >/dev/null 2>&1 &&
    ! grep -q __asan_init "$static"; then
	"$probe" table \
	    "valgrind -q --error-exitcode=99 $static $WORK/aliases" \
	    lookup alias root </dev/null >"$WORK/out" 2>"$WORK/err" ||
	    fail "under valgrind: exit status $?"
	grep -qxF "$want" "$WORK/out" || fail "under valgrind: no answer"
	! grep -q 'exited with status' "$WORK/err" ||
	    fail "under valgrind: errors found"
else
	echo "SKIP valgrind part: no valgrind, or a sanitizer build"
fi

# -S: the probe waits on a socket, the helper is started by hand.
sock=$WORK/sock
"$probe" -S "$sock" table x lookup alias root </dev/null >"$WORK/out" \
    2>"$WORK/err" &
probe_pid=$!
# The line comes once the socket listens.
wait_until "the probe's socket" grep -qxF "waiting for a helper on $sock" \
    "$WORK/err"
test -S "$sock" || fail "-S: no socket"
"$static" -S "$sock" "$WORK/aliases" 2>"$WORK/helper.err" ||
    fail "-S: helper exit status $?"
wait $probe_pid || fail "-S: probe exit status $?"
grep -qxF "$want" "$WORK/out" || fail "-S: no answer"
[ ! -e "$sock" ] || fail "-S: socket file left behind"

echo "probe_gdb: ok"
