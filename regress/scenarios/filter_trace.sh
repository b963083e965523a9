#!/bin/sh
# filter-trace driven alone through smtpd-probe: one session that uses
# every hook; the trace on stderr must show each event with the session
# id, every query is accepted, and the message comes back unchanged.
set -u

TOP=${TOP:-$(pwd)}
WORK=${WORK:?}
PROBE="$TOP/probe/smtpd-probe"
FILTER="$TOP/filters/filter-trace/filter-trace"

fail() {
	echo "FAIL: $*"
	exit 1
}

for f in "$PROBE" "$FILTER"; do
	[ -x "$f" ] || fail "$f not built"
done

printf 'Subject: trace\n\nbody line\n..starts with a dot\n' >"$WORK/body"
cat >"$WORK/script" <<SCRIPT
output $WORK/out
connect 192.0.2.1 mx.example.org confirmed
helo mx.example.org
tx-begin 0badcafe
mail <bob@example.org>
rcpt alice@example.net
data
body $WORK/body
eom
tx-commit
tx-begin 0badcaff
mail <>
tx-rollback
reset
disconnect
SCRIPT
# The script ends with events, which need no answer: they must still
# reach the filter before the probe closes the channel.

"$PROBE" -f "$WORK/script" filter "$FILTER" >"$WORK/stdout" 2>"$WORK/stderr" ||
    fail "probe exit status $?"
cat "$WORK/stdout"

# Every query answered, the message counted exactly.
for q in "connect 192.0.2.1 mx.example.org confirmed: accept" \
    "helo mx.example.org: accept" "mail <bob@example.org>: accept" \
    "rcpt alice@example.net: accept" "data: accept" \
    "eom: accept, 4 lines out" "mail <>: accept"; do
	grep -qxF "$q" "$WORK/stdout" || fail "no \"$q\""
done
cmp -s "$WORK/body" "$WORK/out" || fail "message changed on the way"

# Every event in the trace, with the session id.
s="filter-trace: session 0000000000000001:"
for e in "connect from 192.0.2.1 (rdns \"mx.example.org\", fcrdns yes) on 127.0.0.1" \
    "helo \"mx.example.org\"" "tx-begin 0badcafe" \
    "mail from <bob@example.org> (user \"bob\", domain \"example.org\")" \
    "rcpt to <alice@example.net> (user \"alice\", domain \"example.net\")" \
    "data" "dataline \"Subject: trace\"" "dataline \"\"" \
    "dataline \"..starts with a dot\"" "eom, 4 lines, 50 bytes" \
    "tx-commit 0badcafe" "mail from <> (user \"\", domain \"\")" \
    "tx-rollback 0badcaff" "reset" "disconnect"; do
	grep -qxF "$s $e" "$WORK/stderr" || {
		cat "$WORK/stderr"
		fail "no trace line \"$s $e\""
	}
done

# Without the dataline hook the probe passes lines through itself and
# the filter sees none of them; READY says which hooks it has.
printf 'output %s\nconnect local\ndata\nbody %s\neom\n' "$WORK/out2" \
    "$WORK/body" >"$WORK/script2"
"$PROBE" -f "$WORK/script2" filter "$FILTER -n" >"$WORK/stdout2" \
    2>"$WORK/stderr2" || fail "probe -n exit status $?"
grep -q "ready: hooks connect, helo, mail, rcpt, data, eom," \
    "$WORK/stderr2" || fail "READY lists a dataline hook with -n"
grep -q "dataline" "$WORK/stderr2" && fail "lines reached the filter with -n"
grep -qxF "body $WORK/body: passed through (no dataline hook)" \
    "$WORK/stdout2" || fail "body not passed through"
grep -qxF "eom: accept, 4 lines out" "$WORK/stdout2" || fail "eom with -n"
grep -qF "connect from local (rdns \"\", fcrdns unknown) on local" \
    "$WORK/stderr2" || fail "local submission not traced"
cmp -s "$WORK/body" "$WORK/out2" || fail "message changed with -n"
echo "filter-trace: every event traced"
