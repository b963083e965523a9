#!/bin/sh
# A filter chain through a real smtpd: the filters run in the order of
# the chain (each filter-trace -H puts its header on top of what it is
# given, so the last one's header comes first), the session's own
# Received: header goes through the chain like the client's lines, the
# message is otherwise delivered byte for byte (dot-stuffing, a blank
# line, an 8-bit line), a reject by the first filter stops the chain,
# a filter listed on a second listener alone runs once for both, and a
# big message flows through with the session pausing its reading.
. "$TOP/regress/lib.sh"

make_users alice
PORT2=$(free_port)
make_instance main <<CONF
filter example proc-exec "@TOP@/examples/filter-example/filter-example"
filter one proc-exec "filter-trace -H 'X-Chain: one'"
filter two proc-exec "filter-trace -H 'X-Chain: two'"
filter all chain { example, one, two }
listen on 127.0.0.1 port @PORT@ hostname mx.test filter all
listen on 127.0.0.1 port $PORT2 hostname mx.test filter two
table users file:@WORK@/userbase
action "local" maildir userbase <users>
match from any for local action "local"
CONF
start_smtpd

{
	printf '%s\n' 'From: Bob <bob@example.org>' 'Subject: chain' '' \
	    'first' '.starts with a dot' '..two' '.' ''
	printf 'caf\351 8-bit\nlast\n'
} >"$WORK/msg"
run_script send <<'EOF'
connect 127.0.0.1 ${PORT}
expect 220
send EHLO client.test
expect 250
send MAIL FROM:<bob@spam.example>
expect 550 ^550 5\.7\.1 No mail from spam\.example$
send MAIL FROM:<bob@example.org>
expect 250
send RCPT TO:<alice@localhost>
expect 250
send DATA
expect 354
data-file ${WORK}/msg
expect 250
send QUIT
expect 221
EOF

md=$WORK/home/alice/Maildir
wait_maildir "$md" 1
f=$(maildir_files "$md")
echo "--- delivered:"
cat "$f"
# Return-Path, Delivered-To (delivery), then what left the chain.
[ "$(sed -n 3p "$f")" = "X-Chain: two" ] || fail "line 3 is not two's"
[ "$(sed -n 4p "$f")" = "X-Chain: one" ] || fail "line 4 is not one's"
sed -n 5p "$f" | grep -q '^Received: from client\.test ' ||
    fail "Received: does not follow the filters' headers"
size=$(wc -c <"$WORK/msg")
tail -c "$size" "$f" | cmp -s - "$WORK/msg" ||
    fail "the message changed on its way through the chain"
# The first filter refused: the others never saw that MAIL FROM.
expect_file_lacks "$LOG" 'filter-trace: .*mail from <bob@spam\.example>'
expect_file_has "$LOG" 'filter example: reject at mail: 550 5\.7\.1'

# The second listener: filter two alone (one process for both uses).
run_script send2 <<EOF
connect 127.0.0.1 $PORT2
expect 220
send HELO client.test
expect 250
send MAIL FROM:<bob@spam.example>
expect 250
send RCPT TO:<alice@localhost>
expect 250
send DATA
expect 354
data-file \${WORK}/msg
expect 250
send QUIT
expect 221
EOF
wait_maildir "$md" 2
n=$(ps -o args= --ppid "$(smtpd_pid network)" | grep -c "X-Chain: two")
[ "$n" = 1 ] || fail "filter two runs $n times"

# A big message (8 MB): the chain's backlog makes the session stop
# reading the client and resume; every line arrives, in order.
awk 'BEGIN { print "Subject: big"; print "";
    for (i = 0; i < 80000; i++)
	printf "%06d %s\n", i, "0123456789abcdefghijklmnopqrstuvwxyz" \
	    "0123456789abcdefghijklmnopqrstuvwxyz0123456789" }' >"$WORK/big"
run_script big <<'EOF'
connect 127.0.0.1 ${PORT}
expect 220
send EHLO client.test
expect 250
send MAIL FROM:<bob@example.org>
expect 250
send RCPT TO:<alice@localhost>
expect 250
send DATA
expect 354
data-file ${WORK}/big
expect 250
send QUIT
expect 221
EOF
wait_maildir "$md" 3
f=$(grep -l '^Subject: big$' "$md"/new/* "$md"/cur/* 2>/dev/null)
[ -n "$f" ] || fail "the big message was not delivered"
size=$(wc -c <"$WORK/big")
tail -c "$size" "$f" | cmp -s - "$WORK/big" ||
    fail "the big message changed on its way through the chain"
stop_smtpd
pass
