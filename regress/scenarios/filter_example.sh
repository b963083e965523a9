#!/bin/sh
# examples/filter-example, the smallest filter: it rejects its one
# sender domain, accepts every other, and announces only MAIL.
set -u

TOP=${TOP:-$(pwd)}
WORK=${WORK:?}
PROBE="$TOP/probe/smtpd-probe"
FILTER="$TOP/examples/filter-example/filter-example"

fail() {
	echo "FAIL: $*"
	exit 1
}

for f in "$PROBE" "$FILTER"; do
	[ -x "$f" ] || fail "$f not built"
done

cat >"$WORK/script" <<'SCRIPT'
connect 192.0.2.1
mail <bob@spam.example>
mail alice@SPAM.Example
mail carol@example.org
mail dave@notspam.example
rcpt someone@spam.example
SCRIPT
"$PROBE" -f "$WORK/script" filter "$FILTER" >"$WORK/out" 2>"$WORK/err" ||
    fail "probe exit status $?: $(cat "$WORK/err")"
cat "$WORK/out"
cat >"$WORK/expected" <<'EXPECTED'
connect 192.0.2.1: accept (no connect hook)
mail <bob@spam.example>: reject 550 5.7.1 "No mail from spam.example"
mail alice@SPAM.Example: reject 550 5.7.1 "No mail from spam.example"
mail carol@example.org: accept
mail dave@notspam.example: accept
rcpt someone@spam.example: accept (no rcpt hook)
EXPECTED
diff "$WORK/expected" "$WORK/out" || fail "decisions differ"
# Twenty-odd lines, as promised to whoever copies it.
n=$(grep -c . "$TOP/examples/filter-example/filter_example.c")
[ "$n" -le 30 ] || fail "the example grew to $n lines"
