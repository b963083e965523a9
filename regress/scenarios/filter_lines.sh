#!/bin/sh
# Message lines in band: a body of many batches goes through a filter
# that adds a header line; the filter's count of lines out is exactly
# what came back, and the message is the header plus the body, byte for
# byte, long lines, dots and empty lines included.
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

# 20000 lines, some empty, some with dots, one of 10000 bytes.
awk 'BEGIN {
	print "Subject: many lines"; print "";
	for (i = 0; i < 20000; i++) {
		if (i % 1000 == 0) print "";
		else if (i % 777 == 0) print ".." i;
		else print "line " i " of a long message";
	}
	s = ""; for (i = 0; i < 10000; i++) s = s "y"; print s;
	print "the end" }' >"$WORK/body"
lines=$(wc -l <"$WORK/body")

cat >"$WORK/script" <<SCRIPT
output $WORK/out
connect 192.0.2.1
tx-begin
mail a@example.org
rcpt b@example.org
data
body $WORK/body
eom
tx-commit
SCRIPT
"$PROBE" -f "$WORK/script" filter "$FILTER -H 'X-Filtered: yes'" \
    >"$WORK/stdout" 2>"$WORK/stderr" || fail "probe: $(tail -3 "$WORK/stderr")"
cat "$WORK/stdout"

batches=$(sed -n 's/^body .*: sent [0-9]* lines in \([0-9]*\) batches$/\1/p' \
    "$WORK/stdout")
[ -n "$batches" ] && [ "$batches" -gt 8 ] ||
    fail "the body did not take several windows of batches"
grep -qxF "eom: accept, $((lines + 1)) lines out" "$WORK/stdout" ||
    fail "lines out is not $((lines + 1))"
{ echo "X-Filtered: yes"; cat "$WORK/body"; } >"$WORK/expected"
cmp "$WORK/expected" "$WORK/out" || fail "the message changed"

# The filter saw every line in order, with the eom count and size.
grep -c ': dataline ' "$WORK/stderr" | grep -qx "$lines" ||
    fail "the filter did not see $lines lines"
bytes=$(awk '{ n += length($0) + 2 } END { print n }' "$WORK/body")
grep -qF ": eom, $lines lines, $bytes bytes" "$WORK/stderr" ||
    fail "eom count or size wrong"
