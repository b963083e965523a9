#!/bin/sh
# filter-monkey driven alone through smtpd-probe: hundreds of queries
# with failures and latency give accepts and 4xx, never a 5xx; the same
# seed gives the same run; held messages come back whole.
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

awk 'BEGIN { print "Subject: monkey"; print "";
    for (i = 0; i < 3000; i++) print "line " i " of the body" }' \
    >"$WORK/body"

# 40 sessions, 10 queries each.
i=0
while [ $i -lt 40 ]; do
	i=$((i + 1))
	echo "connect 192.0.2.$i client$i.example.org confirmed"
	echo "helo client$i.example.org"
	echo "tx-begin"
	echo "mail sender$i@example.org"
	echo "rcpt a@example.net"
	echo "rcpt b@example.net"
	echo "rcpt c@example.net"
	echo "data"
	echo "body $WORK/body"
	echo "eom"
	echo "tx-commit"
	echo "mail again$i@example.org"
	echo "rcpt d@example.net"
	echo "disconnect"
done >"$WORK/script"

# run NAME ARGS: the decisions of one run (data-out lines left out).
run() {
	name=$1
	shift
	"$PROBE" -f "$WORK/script" filter "$FILTER $*" >"$WORK/$name.all" \
	    2>"$WORK/$name.err"
	# 1 is expected: some requests fail, on purpose.
	[ $? -le 1 ] || fail "probe failed: $(tail -3 "$WORK/$name.err")"
	grep -v ': data-out: ' "$WORK/$name.all" >"$WORK/$name"
}

run run1 -s 1234 -f 30 -l 0-10
run run2 -s 1234 -f 30 -l 0-10

decisions=$(grep -cE ': (accept|reject|tempfail|disconnect)' "$WORK/run1")
[ "$decisions" -ge 400 ] || fail "only $decisions decisions"
grep -E ': (reject|tempfail|disconnect|timeout)' "$WORK/run1" |
    grep -E ' 5[0-9][0-9] ' && fail "the monkey answered a 5xx"
grep -q ': reject ' "$WORK/run1" && fail "the monkey rejected"
grep -q ': tempfail 451 4.7.1 ' "$WORK/run1" || fail "no tempfail at all"
grep -q ': disconnect 421 4.7.0 ' "$WORK/run1" || fail "no disconnect at all"
grep -q 'eom: accept, 3002 lines out' "$WORK/run1" || fail "no message passed"
grep -qi 'timeout\|malformed' "$WORK/run1" && fail "a failure of the filter"
cmp -s "$WORK/run1" "$WORK/run2" || {
	diff "$WORK/run1" "$WORK/run2" | head
	fail "the same seed gave another run"
}
echo "$decisions decisions, none 5xx; seed reproducible"

# Every message held, none failed: each comes back whole, at the end.
printf 'output %s\nconnect 192.0.2.1\ntx-begin\nmail a@b.example\ndata\nbody %s\neom\n' \
    "$WORK/held.out" "$WORK/body" >"$WORK/script2"
"$PROBE" -f "$WORK/script2" filter "$FILTER -f 0 -H 100 -l 0" \
    >"$WORK/out2" 2>"$WORK/err2" || fail "held run: $(cat "$WORK/err2")"
grep -qxF "eom: accept, 3002 lines out" "$WORK/out2" || fail "held eom"
cmp -s "$WORK/body" "$WORK/held.out" || fail "a held message changed"
echo "held message intact"
