#!/bin/sh
# Recipients refused at RCPT time: an unknown local user (550 5.1.1), a
# domain no rule accepts (550 5.7.1, no relaying), a "match ... reject"
# rule on the recipient and one on the sender.  DATA without a valid
# recipient is refused; the session goes on and a good recipient is
# still delivered, the refused ones never.
. "$TOP/regress/lib.sh"

make_users alice blocked
make_instance main <<'CONF'
listen on 127.0.0.1 port @PORT@
table users file:@WORK@/userbase
action "local" maildir userbase <users>
match from any mail-from spammer@example.org for any reject
match from any for rcpt-to blocked@localhost reject
match from any for local action "local"
CONF
start_smtpd

printf 'Subject: good\n\nhello\n' >"$WORK/msg"
run_script send <<'EOF'
connect 127.0.0.1 ${PORT}
expect 220
send EHLO client.test
expect 250
send MAIL FROM:<sender@example.org>
expect 250
send RCPT TO:<nosuchuser@localhost>
expect 550 ^550 5\.1\.1 
send RCPT TO:<someone@example.com>
expect 550 ^550 5\.7\.1 
send RCPT TO:<blocked@localhost>
expect 550 ^550 5\.[0-9]+\.[0-9]+ 
send DATA
expect 5xx ^5[0-9][0-9] 5\.[0-9]+\.[0-9]+ 
send RSET
expect 250
send MAIL FROM:<spammer@example.org>
expect 250
send RCPT TO:<alice@localhost>
expect 550 ^550 5\.[0-9]+\.[0-9]+ 
send RSET
expect 250
send MAIL FROM:<sender@example.org>
expect 250
send RCPT TO:<nosuchuser@localhost>
expect 550
send RCPT TO:<alice@localhost>
expect 250 ^250 2\.[0-9]+\.[0-9]+ 
send DATA
expect 354
data-file ${WORK}/msg
expect 250
send QUIT
expect 221
EOF
wait_maildir "$WORK/home/alice/Maildir" 1
wait_log "to=<alice@localhost>.*result=Ok"
[ "$(maildir_count "$WORK/home/blocked/Maildir")" = 0 ] ||
    fail "blocked@localhost got mail"
expect_file_lacks "$LOG" 'smtp envelope .*to=<(nosuchuser@localhost|someone@example\.com|blocked@localhost)>'
stop_smtpd
pass
