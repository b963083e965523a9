#!/bin/sh
# smtp timeout: a client that says nothing for longer than the command
# timeout, or stops in the middle of its data for longer than the data
# timeout, gets 421 4.4.2 and is disconnected; the half-sent message is
# not delivered, and the daemon serves the next client.
. "$TOP/regress/lib.sh"

make_users alice
make_instance main <<'CONF'
smtp timeout command 2s data 3s
listen on 127.0.0.1 port @PORT@
table users file:@WORK@/userbase
action "local" maildir userbase <users>
match from any for local action "local"
CONF
start_smtpd

run_script idle <<'EOF'
connect 127.0.0.1 ${PORT}
expect 220
send EHLO client.test
expect 250
timeout 60
expect 421 ^421 4\.4\.2 
expect-close
EOF
run_script data <<'EOF'
connect 127.0.0.1 ${PORT}
expect 220
send EHLO client.test
expect 250
send MAIL FROM:<sender@example.org>
expect 250
send RCPT TO:<alice@localhost>
expect 250
send DATA
expect 354
send Subject: never finished
send
send the client stops here
timeout 60
expect 421 ^421 4\.4\.2 
expect-close
EOF
wait_log 'smtp disconnected reason=timeout'
printf 'Subject: after\n\nfine\n' >"$WORK/msg"
run_script after <<'EOF'
connect 127.0.0.1 ${PORT}
expect 220
send EHLO client.test
expect 250
send MAIL FROM:<sender@example.org>
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
wait_maildir "$WORK/home/alice/Maildir" 1
expect_file_has "$(maildir_files "$WORK/home/alice/Maildir")" '^Subject: after$'
stop_smtpd
[ "$(maildir_count "$WORK/home/alice/Maildir")" = 1 ] ||
    fail "the message cut short by the timeout was delivered"
pass
