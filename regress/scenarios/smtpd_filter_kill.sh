#!/bin/sh
# A filter killed in the middle of a message, behind a real smtpd: the
# message gets a 4xx and is not queued, the filter is restarted, and a
# new session goes through the chain again; the daemon itself is fine.
. "$TOP/regress/lib.sh"

make_users alice
make_instance main <<'CONF'
filter t proc-exec "filter-trace"
filter u proc-exec "filter-trace -H 'X-U: u'"
listen on 127.0.0.1 port @PORT@ filter { t, u }
table users file:@WORK@/userbase
action "local" maildir userbase <users>
match from any for local action "local"
CONF
start_smtpd

"$SMTP_SCRIPT" -D PORT="$PORT" -D WORK="$WORK" - >"$WORK/killed.out" \
    2>"$WORK/killed.err" <<'EOF' &
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
send Subject: killed
send
send line before the kill
wait-file ${WORK}/killed
send line after the kill
send .
expect 4xx
EOF
client=$!
bg_register $client

wait_log 'filter-trace: session [0-9a-f]+: dataline "line before the kill"'
pid=$(smtpd_pid filter-trace) || fail "no filter-trace process"
ps -o args= -p "$pid" | grep -q -- '-H' && fail "found u, not t"
note "killing filter t, pid $pid"
kill -KILL "$pid"
wait_log "helper t \\(pid $pid\\)"
touch "$WORK/killed"
wait "$client" || {
	cat "$WORK/killed.out" "$WORK/killed.err"
	fail "the killed message did not get a 4xx"
}
cat "$WORK/killed.out"
expect_file_has "$WORK/killed.out" '^S: 4[0-9][0-9] 4\.'
expect_file_lacks "$WORK/killed.out" '^S: 5'

wait_log 'helper t: restarting'
printf 'Subject: after\n\nafter the restart\n' >"$WORK/after"
run_script after <<'EOF'
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
data-file ${WORK}/after
expect 250
send QUIT
expect 221
EOF
md=$WORK/home/alice/Maildir
wait_maildir "$md" 1
f=$(maildir_files "$md")
expect_file_has "$f" '^X-U: u$'
expect_file_has "$f" '^Subject: after$'
newpid=$(smtpd_pid filter-trace) || fail "filter t is not running"
[ "$newpid" != "$pid" ] || fail "filter t was not restarted"
# Exactly one message was queued, the second one.
[ "$(grep -c 'smtp message msgid=' "$LOG")" = 1 ] ||
    fail "the killed message was queued"
stop_smtpd
[ "$(maildir_count "$md")" = 1 ] || fail "the killed message was delivered"
pass
