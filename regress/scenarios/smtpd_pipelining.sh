#!/bin/sh
# PIPELINING (RFC 2920): EHLO announces it; a whole transaction in one
# write (EHLO, MAIL, twenty RCPTs, DATA) gets its replies in order; then
# the message, a second transaction and QUIT in one more write.
. "$TOP/regress/lib.sh"

users=""
i=1
while [ $i -le 20 ]; do
	users="$users u$i"
	i=$((i + 1))
done
make_users $users
make_instance main <<'CONF'
listen on 127.0.0.1 port @PORT@
table users file:@WORK@/userbase
action "local" maildir userbase <users>
match from any for local action "local"
CONF
start_smtpd

printf 'Subject: pipelined 1\n\none\n' >"$WORK/msg1"
printf 'Subject: pipelined 2\n\ntwo\n' >"$WORK/msg2"
run_script pipe <<'EOF'
connect 127.0.0.1 ${PORT}
expect 220
pipeline
	send EHLO client.test
	send MAIL FROM:<sender@example.org>
	repeat 20
		send RCPT TO:<u${n}@localhost>
	end
	send RCPT TO:<nosuchuser@localhost>
	send DATA
	expect 250 ^250[- ]PIPELINING$
	expect 250 ^250 2\.1\.0 
	repeat 20
		expect 250 ^250 2\.1\.5 
	end
	expect 550 ^550 5\.1\.1 
	expect 354
end
pipeline
	data-file ${WORK}/msg1
	send MAIL FROM:<sender@example.org>
	send RCPT TO:<u1@localhost>
	send RCPT TO:<u2@localhost>
	send DATA
	data-file ${WORK}/msg2
	send NOOP
	send RSET
	send QUIT
	expect 250 ^250 2\.0\.0 [0-9a-f]{8} Message accepted
	expect 250
	expect 250
	expect 250
	expect 354
	expect 250 ^250 2\.0\.0 [0-9a-f]{8} Message accepted
	expect 250
	expect 250
	expect 221
	expect-close
end
EOF
i=1
while [ $i -le 20 ]; do
	n=1
	[ $i -le 2 ] && n=2
	wait_maildir "$WORK/home/u$i/Maildir" $n
	i=$((i + 1))
done
expect_file_has "$LOG" 'smtp message msgid=[0-9a-f]{8} .*nrcpt=20'
expect_file_has "$LOG" 'smtp message msgid=[0-9a-f]{8} .*nrcpt=2'
stop_smtpd
pass
