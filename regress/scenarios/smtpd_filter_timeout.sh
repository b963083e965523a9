#!/bin/sh
# Filters that miss their deadline (timeout 3s) behind a real smtpd:
# late at MAIL gives 451 4.7.1 and the session goes on; late at connect
# gives 421 4.7.0 and the session is closed; stuck in a data line gives
# 451 4.3.0 at the end of the message, which is not queued.  Never a
# 5xx, and the next session works each time.  The slow filter is
# regress/unit/helper_filter_slow: late once, then prompt.
. "$TOP/regress/lib.sh"

SLOW=@TOP@/regress/unit/helper_filter_slow
[ -x "$TOP/regress/unit/helper_filter_slow" ] ||
    fail "regress/unit/helper_filter_slow is not built"
make_users alice bob
mkdir -p "$WORK/rdv"
chmod 777 "$WORK/rdv"		# the filter (_smtpd) says when it woke up
PORT2=$(free_port)
PORT3=$(free_port)
make_instance main <<CONF
filter slowmail proc-exec "$SLOW -d 60000 mail" timeout 3s
filter slowline proc-exec "$SLOW -b -d 6000 -w @WORK@/rdv/awake dataline" \
    timeout 3s
filter slowconn proc-exec "$SLOW -d 60000 connect" timeout 3s
listen on 127.0.0.1 port @PORT@ filter slowmail
listen on 127.0.0.1 port $PORT2 filter slowline
listen on 127.0.0.1 port $PORT3 filter slowconn
table users file:@WORK@/userbase
action "local" maildir userbase <users>
match from any for local action "local"
CONF
start_smtpd

printf 'Subject: stuck\n\nnot queued\n' >"$WORK/stuck"
printf 'Subject: fine\n\nqueued\n' >"$WORK/fine"

note "late at MAIL"
run_script mail <<'EOF'
connect 127.0.0.1 ${PORT}
expect 220
send EHLO client.test
expect 250
send MAIL FROM:<a@example.org>
expect 451 ^451 4\.7\.1
send NOOP
expect 250
send QUIT
expect 221
connect 127.0.0.1 ${PORT}
expect 220
send EHLO client.test
expect 250
send MAIL FROM:<a@example.org>
expect 250
send RCPT TO:<alice@localhost>
expect 250
send DATA
expect 354
data-file ${WORK}/fine
expect 250
send QUIT
expect 221
EOF
wait_maildir "$WORK/home/alice/Maildir" 1
wait_log 'filter slowmail: timeout at mail, answering 451 4\.7\.1'

note "late at connect"
run_script connect <<EOF
connect 127.0.0.1 $PORT3
expect 421 ^421 4\.7\.0
expect-close
connect 127.0.0.1 $PORT3
expect 220
send QUIT
expect 221
EOF
wait_log 'filter slowconn: timeout at connect, answering 421 4\.7\.0'

note "stuck in a data line"
run_script data <<EOF
connect 127.0.0.1 $PORT2
expect 220
send EHLO client.test
expect 250
send MAIL FROM:<a@example.org>
expect 250
send RCPT TO:<bob@localhost>
expect 250
send DATA
expect 354
data-file \${WORK}/stuck
expect 451 ^451 4\.3\.0
send QUIT
expect 221
wait-file \${WORK}/rdv/awake
connect 127.0.0.1 $PORT2
expect 220
send EHLO client.test
expect 250
send MAIL FROM:<a@example.org>
expect 250
send RCPT TO:<bob@localhost>
expect 250
send DATA
expect 354
data-file \${WORK}/fine
expect 250
send QUIT
expect 221
EOF
wait_maildir "$WORK/home/bob/Maildir" 1
f=$(maildir_files "$WORK/home/bob/Maildir")
expect_file_has "$f" '^Subject: fine$'
for out in mail connect data; do
	expect_file_lacks "$WORK/$out.out" '^S: 5'
done
stop_smtpd
[ "$(maildir_count "$WORK/home/bob/Maildir")" = 1 ] ||
    fail "the message that timed out was delivered"
[ "$(maildir_count "$WORK/home/alice/Maildir")" = 1 ] ||
    fail "alice got more than one message"
pass
