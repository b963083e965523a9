#!/bin/sh
# filter-reject through a real smtpd: each criterion answers its code at
# its step (client at the banner, helo, sender, recipient, header at the
# end of data), a 4xx rule gives that 4xx, a refused message is not
# delivered and a good one is, whole; filters see the session as the
# daemon has it (a chain of filter-trace -n and filter-reject).
. "$TOP/regress/lib.sh"

make_users alice
cat >"$WORK/rules" <<'EOF'
helo bad.example 550 5.7.1 "You are not me"
sender @spam.example
sender @later.example 451 4.7.1 "Come back later"
recipient noone@localhost 550 5.1.1 "No such user"
header '^X-Spam-Flag: *YES' 554 5.7.1 "Looks like spam"
EOF
echo 'client 127.0.0.0/8 554 5.7.1 "Your network is blocked"' \
    >"$WORK/block.rules"
chmod 644 "$WORK/rules" "$WORK/block.rules"
PORT2=$(free_port)
make_instance main <<CONF
filter trace proc-exec "filter-trace -n"
filter rules proc-exec "filter-reject @WORK@/rules"
filter block proc-exec "filter-reject @WORK@/block.rules"
listen on 127.0.0.1 port @PORT@ filter { trace, rules }
listen on 127.0.0.1 port $PORT2 filter block
table users file:@WORK@/userbase
action "local" maildir userbase <users>
match from any for local action "local"
CONF
start_smtpd

# client: refused instead of the banner, then closed
run_script client <<EOF
connect 127.0.0.1 $PORT2
expect 554 ^554 5\.7\.1 Your network is blocked$
expect-close
EOF

printf 'Subject: spam\nX-Spam-Flag: YES\n\nbuy now\n' >"$WORK/spam"
printf 'Subject: ham\n\nX-Spam-Flag: YES in the body is fine\n.dot\n' \
    >"$WORK/ham"
run_script steps <<'EOF'
connect 127.0.0.1 ${PORT}
expect 220
send EHLO bad.example
expect 550 ^550 5\.7\.1 You are not me$
send EHLO good.example
expect 250
send MAIL FROM:<bob@spam.example>
expect 550 ^550 5\.7\.1 Sender rejected$
send MAIL FROM:<bob@later.example>
expect 451 ^451 4\.7\.1 Come back later$
send MAIL FROM:<bob@example.org>
expect 250
send RCPT TO:<noone@localhost>
expect 550 ^550 5\.1\.1 No such user$
send RCPT TO:<alice@localhost>
expect 250
send DATA
expect 354
data-file ${WORK}/spam
expect 554 ^554 5\.7\.1 Looks like spam$
send MAIL FROM:<bob@example.org>
expect 250
send RCPT TO:<alice@localhost>
expect 250
send DATA
expect 354
data-file ${WORK}/ham
expect 250 ^250 2\.0\.0 [0-9a-f]{8} Message accepted
send QUIT
expect 221
EOF

md=$WORK/home/alice/Maildir
wait_maildir "$md" 1
f=$(maildir_files "$md")
expect_file_has "$f" '^Subject: ham$'
expect_file_has "$f" '^\.dot$'
expect_file_lacks "$f" '^Subject: spam$'
size=$(wc -c <"$WORK/ham")
tail -c "$size" "$f" | cmp -s - "$WORK/ham" ||
    fail "the delivered message is not the message sent"
expect_file_has "$LOG" 'filter rules: reject at eom: 554 5\.7\.1'
expect_file_lacks "$LOG" 'filter .*(timeout|restarted)'
stop_smtpd
[ "$(maildir_count "$md")" = 1 ] || fail "the spam was delivered"
pass
