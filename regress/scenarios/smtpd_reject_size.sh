#!/bin/sh
# smtp max-message-size: announced with SIZE, a MAIL with a larger SIZE=
# refused at once (552 5.3.4), a message that turns out larger refused
# after its final dot (552 5.3.4) and not delivered; the session goes on.
. "$TOP/regress/lib.sh"

make_users alice
make_instance main <<'CONF'
smtp max-message-size 10K
listen on 127.0.0.1 port @PORT@
table users file:@WORK@/userbase
action "local" maildir userbase <users>
match from any for local action "local"
CONF
start_smtpd

printf 'Subject: big\n\n' >"$WORK/big"
i=0
while [ $i -lt 300 ]; do
	echo "line $i of a message that is far too big for this server......"
	i=$((i + 1))
done >>"$WORK/big"
printf 'Subject: small\n\nsmall enough\n' >"$WORK/small"

run_script send <<'EOF'
connect 127.0.0.1 ${PORT}
expect 220
send EHLO client.test
expect 250 ^250[- ]SIZE 10240$
send MAIL FROM:<sender@example.org> SIZE=20000
expect 552 ^552 5\.3\.4 
send MAIL FROM:<sender@example.org> SIZE=100
expect 250
send RCPT TO:<alice@localhost>
expect 250
send DATA
expect 354
data-file ${WORK}/big
expect 552 ^552 5\.3\.4 
send MAIL FROM:<sender@example.org> SIZE=1000
expect 250
send RCPT TO:<alice@localhost>
expect 250
send DATA
expect 354
data-file ${WORK}/small
expect 250
send QUIT
expect 221
EOF
wait_maildir "$WORK/home/alice/Maildir" 1
f=$(maildir_files "$WORK/home/alice/Maildir")
expect_file_has "$f" '^Subject: small$'
stop_smtpd
[ "$(maildir_count "$WORK/home/alice/Maildir")" = 1 ] ||
    fail "the message that was too big was delivered"
pass
