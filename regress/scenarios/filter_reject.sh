#!/bin/sh
# filter-reject driven alone through smtpd-probe: every criterion, inline
# and from table(5) files, gives its reply (or the default one); mail
# that matches nothing is accepted; bad rules files are refused with
# file:line errors.
set -u

TOP=${TOP:-$(pwd)}
WORK=${WORK:?}
PROBE="$TOP/probe/smtpd-probe"
FILTER="$TOP/filters/filter-reject/filter-reject"

fail() {
	echo "FAIL: $*"
	exit 1
}

for f in "$PROBE" "$FILTER"; do
	[ -x "$f" ] || fail "$f not built"
done

printf '@spam.example\nbadguy@example.net\n' >"$WORK/senders"
printf '203.0.113.0/24\n[2001:db8:bad::]/48\n' >"$WORK/networks"
printf '# @regex\n^X-Spam-Flag: *YES\n(?i)^subject:.*lottery\n' >"$WORK/headers"
cat >"$WORK/rules" <<RULES
# every criterion once inline, some from tables
table senders $WORK/senders
table networks $WORK/networks
table headers $WORK/headers
client 192.0.2.0/24 554 5.7.1 "Your network is blocked"
client <networks>
rdns *.dynamic.example 550 5.7.1 "Use your provider's relay"
no-rdns 450 4.7.25 "No reverse DNS, try again"
no-fcrdns 450 4.7.25 "Reverse DNS does not match"
helo localhost 550 5.7.1 "You are not me"
sender <senders> 550 5.7.1 "Sender blocked"
sender @*.junk.example
recipient noone@example.org 550 5.1.1 "No such user"
recipient @closed.example 451 4.3.2 "Closed for now"
header <headers> 554 5.7.1 "Looks like spam"
header '^Subject: .*viagra'
RULES

"$FILTER" -n "$WORK/rules" >"$WORK/check" 2>&1 || {
	cat "$WORK/check"
	fail "rules file refused"
}

cat >"$WORK/msg-spam" <<'MSG'
From: a@example.org
X-Spam-Flag:
  YES
Subject: hi

body
MSG
cat >"$WORK/msg-lottery" <<'MSG'
From: a@example.org
Subject: You won the
 LOTTERY

body
MSG
cat >"$WORK/msg-viagra" <<'MSG'
Subject: cheap viagra

MSG
cat >"$WORK/msg-ham" <<'MSG'
From: a@example.org
Subject: lunch

Subject: viagra in the body is not a header
X-Spam-Flag: YES
MSG

message() {
	echo "tx-begin"
	echo "mail ok@example.org"
	echo "data"
	echo "body $WORK/$1"
	echo "eom"
	echo "tx-commit"
}

{
	echo "connect 192.0.2.7 mail.example.org confirmed"
	echo "connect 203.0.113.9 mail.example.org confirmed"
	echo "connect 2001:db8:bad::1 mail.example.org confirmed"
	echo "connect 198.51.100.1 host-1.dynamic.example confirmed"
	echo "connect 198.51.100.1"
	echo "connect 198.51.100.1 mail.example.org unconfirmed"
	echo "connect 198.51.100.1 mail.example.org confirmed"
	echo "helo localhost"
	echo "helo mail.example.org"
	echo "mail <bob@spam.example>"
	echo "mail badguy@example.net"
	echo "mail someone@deep.junk.example"
	echo "mail goodguy@example.net"
	echo "rcpt noone@example.org"
	echo "rcpt x@closed.example"
	echo "rcpt someone@example.org"
	message msg-spam
	message msg-lottery
	message msg-viagra
	echo "output $WORK/ham.out"
	message msg-ham
} >"$WORK/script"

"$PROBE" -f "$WORK/script" filter "$FILTER $WORK/rules" >"$WORK/stdout" \
    2>"$WORK/stderr" || {
	cat "$WORK/stdout" "$WORK/stderr"
	fail "probe exit status $?"
}
cat "$WORK/stdout"

expect() {
	grep -qxF "$1" "$WORK/stdout" || fail "expected \"$1\""
}
expect 'connect 192.0.2.7 mail.example.org confirmed: reject 554 5.7.1 "Your network is blocked"'
expect 'connect 203.0.113.9 mail.example.org confirmed: reject 554 5.7.1 "Connection rejected"'
expect 'connect 2001:db8:bad::1 mail.example.org confirmed: reject 554 5.7.1 "Connection rejected"'
expect 'connect 198.51.100.1 host-1.dynamic.example confirmed: reject 550 5.7.1 "Use your provider'"'"'s relay"'
expect 'connect 198.51.100.1: tempfail 450 4.7.25 "No reverse DNS, try again"'
expect 'connect 198.51.100.1 mail.example.org unconfirmed: tempfail 450 4.7.25 "Reverse DNS does not match"'
expect 'connect 198.51.100.1 mail.example.org confirmed: accept'
expect 'helo localhost: reject 550 5.7.1 "You are not me"'
expect 'helo mail.example.org: accept'
expect 'mail <bob@spam.example>: reject 550 5.7.1 "Sender blocked"'
expect 'mail badguy@example.net: reject 550 5.7.1 "Sender blocked"'
expect 'mail someone@deep.junk.example: reject 550 5.7.1 "Sender rejected"'
expect 'mail goodguy@example.net: accept'
expect 'rcpt noone@example.org: reject 550 5.1.1 "No such user"'
expect 'rcpt x@closed.example: tempfail 451 4.3.2 "Closed for now"'
expect 'rcpt someone@example.org: accept'

# Header rules decide at the end of each message, in order.
grep '^eom: [a-z]' "$WORK/stdout" >"$WORK/eoms"
cat >"$WORK/eoms.expected" <<'EOMS'
eom: reject 554 5.7.1 "Looks like spam"
eom: reject 554 5.7.1 "Looks like spam"
eom: reject 554 5.7.1 "Message rejected"
eom: accept, 5 lines out
EOMS
diff "$WORK/eoms.expected" "$WORK/eoms" || fail "header decisions"
cmp -s "$WORK/msg-ham" "$WORK/ham.out" || fail "accepted message changed"
grep -q "rules:12: reject sender \"someone@deep.junk.example\"" \
    "$WORK/stderr" || fail "a rejection is not logged with its rule"

# Only the hooks the rules need: a sender-only file sees nothing else.
echo "sender @spam.example" >"$WORK/rules2"
printf 'connect 192.0.2.1\nmail a@spam.example\n' >"$WORK/script2"
"$PROBE" -f "$WORK/script2" filter "$FILTER $WORK/rules2" \
    >"$WORK/stdout2" 2>"$WORK/stderr2" || fail "sender-only filter"
grep -q "ready: hooks mail, reset," "$WORK/stderr2" ||
    fail "sender-only rules announce more than mail"
grep -qxF "connect 192.0.2.1: accept (no connect hook)" "$WORK/stdout2" ||
    fail "connect sent to a sender-only filter"

# Bad rules files: refused at start-up with file:line.
bad() {
	printf '%s\n' "$1" >"$WORK/bad"
	if "$FILTER" -n "$WORK/bad" >"$WORK/bad.out" 2>&1; then
		fail "accepted bad rule: $1"
	fi
	grep -qF "$WORK/bad:1: $2" "$WORK/bad.out" || {
		cat "$WORK/bad.out"
		fail "wrong error for: $1"
	}
}
bad "sendr a@b" "unknown criterion"
bad "sender" "sender needs something to match"
bad "client 10.0.0.300" "bad address"
bad "client 10.0.0.0/33" "bad CIDR"
bad "sender a@b 250 2.0.0 \"ok\"" "code 250"
bad "sender a@b 550 4.7.1 \"x\"" "bad reply"
bad "sender a@b 550 5.7.1" "the reply is CODE"
bad "sender <nosuch>" "no table <nosuch> declared"
bad "header '(unclosed'" "bad regex"
bad "table t /nonexistent/file" "table <t>"
bad "sender \"a b\"" "\"a b\" is not one entry"
echo "filter-reject: every criterion decided"
