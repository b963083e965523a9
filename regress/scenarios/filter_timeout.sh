#!/bin/sh
# A filter that answers after the owner's deadline: the owner answers a
# temporary failure (421 at connect and helo, 451 later), never a 5xx;
# with a deadline it meets, the same filter is accepted.
set -u

TOP=${TOP:-$(pwd)}
WORK=${WORK:?}
PROBE="$TOP/probe/smtpd-probe"
FILTER="$TOP/filters/filter-monkey/filter-monkey"

fail() {
	echo "FAIL: $*"
	exit 1
}

for f in "$PROBE" "$FILTER"; do
	[ -x "$f" ] || fail "$f not built"
done

# Each query of the monkey takes 5 s; the probe waits 300 ms.
printf 'connect 192.0.2.1\n' >"$WORK/s1"
printf 'mail a@example.org\n' >"$WORK/s2"
printf 'line hello\neom\n' >"$WORK/s3"
for s in s1 s2 s3; do
	if "$PROBE" -t 300 -f "$WORK/$s" filter "$FILTER -f 0 -H 0 -l 5000" \
	    >"$WORK/$s.out" 2>"$WORK/$s.err"; then
		fail "$s: a timeout is not a failure"
	fi
	cat "$WORK/$s.out"
	grep -E ' 5[0-9][0-9] ' "$WORK/$s.out" && fail "$s: a 5xx"
done
grep -qE '^connect 192.0.2.1: timeout.*: disconnect 421 4\.7\.0 ' \
    "$WORK/s1.out" || fail "connect timeout is not a 421"
grep -qE '^mail a@example.org: timeout.*: tempfail 451 4\.7\.1 ' \
    "$WORK/s2.out" || fail "mail timeout is not a 451"
grep -qE '^eom: timeout.*: tempfail 451 4\.3\.0 ' "$WORK/s3.out" ||
    fail "eom timeout is not a 451 4.3.0"

# The same filter within a generous deadline.
printf 'connect 192.0.2.1\n' >"$WORK/s4"
"$PROBE" -t 30000 -f "$WORK/s4" filter "$FILTER -f 0 -l 200" \
    >"$WORK/s4.out" 2>"$WORK/s4.err" || fail "slow but in time: $?"
grep -qxF "connect 192.0.2.1: accept" "$WORK/s4.out" ||
    fail "slow but in time not accepted"
