#!/bin/sh
# smtp limit max-rcpt and max-mails: the recipient over the limit gets
# 452 4.5.3 (the others are kept and delivered), the message over the
# session's limit gets 452 4.5.3 at MAIL; a new session may send again.
. "$TOP/regress/lib.sh"

make_users u1 u2 u3 u4
make_instance main <<'CONF'
smtp limit max-rcpt 3 max-mails 2
listen on 127.0.0.1 port @PORT@
table users file:@WORK@/userbase
action "local" maildir userbase <users>
match from any for local action "local"
CONF
start_smtpd

printf 'Subject: limits\n\nhello\n' >"$WORK/msg"
run_script send <<'EOF'
connect 127.0.0.1 ${PORT}
expect 220
send EHLO client.test
expect 250
send MAIL FROM:<sender@example.org>
expect 250
send RCPT TO:<u1@localhost>
expect 250
send RCPT TO:<u2@localhost>
expect 250
send RCPT TO:<u3@localhost>
expect 250
send RCPT TO:<u4@localhost>
expect 452 ^452 4\.5\.3 
send DATA
expect 354
data-file ${WORK}/msg
expect 250
send MAIL FROM:<sender@example.org>
expect 250
send RCPT TO:<u4@localhost>
expect 250
send DATA
expect 354
data-file ${WORK}/msg
expect 250
send MAIL FROM:<sender@example.org>
expect 452 ^452 4\.5\.3 
send QUIT
expect 221
connect 127.0.0.1 ${PORT}
expect 220
send HELO client.test
expect 250
send MAIL FROM:<sender@example.org>
expect 250
send QUIT
expect 221
EOF
for u in u1 u2 u3 u4; do
	wait_maildir "$WORK/home/$u/Maildir" 1
done
expect_file_has "$LOG" 'smtp message msgid=[0-9a-f]{8} .*nrcpt=3'
stop_smtpd
pass
