#!/bin/sh
# A DSN is delivered like any mail: the action that takes it decides
# how long it may stay in the queue.  Here the sender's own action has
# "ttl 3s" and always fails for now, so the failure report for its
# bounced message expires after 3 seconds (and, being a bounce, is not
# bounced in turn) instead of waiting for the 4 days of "queue ttl".
. "$TOP/regress/lib.sh"

make_users alice bob
cat >"$WORK/tempfail.sh" <<'EOF'
#!/bin/sh
cat >/dev/null
echo "mailbox busy" >&2
exit 75
EOF
cat >"$WORK/fail.sh" <<'EOF'
#!/bin/sh
cat >/dev/null
echo "no such mailbox" >&2
exit 1
EOF
chmod 755 "$WORK/tempfail.sh" "$WORK/fail.sh"
make_instance main <<'CONF'
listen on 127.0.0.1 port @PORT@
table users file:@WORK@/userbase
action "busy" mda "@WORK@/tempfail.sh" ttl 3s userbase <users>
action "fail" mda "@WORK@/fail.sh" userbase <users>
match from any for rcpt-to alice@localhost action "busy"
match from any for local action "fail"
CONF
SMTPD_RETRY_BASE=1
export SMTPD_RETRY_BASE
start_smtpd
run_script send <<'EOF'
connect 127.0.0.1 ${PORT}
expect 220
send EHLO client.test
expect 250
send MAIL FROM:<alice@localhost>
expect 250
send RCPT TO:<bob@localhost>
expect 250
send DATA
expect 354
send Subject: for bob
send
send x
send .
expect 250
send QUIT
expect 221
EOF
msgid=$(script_msgid send)
wait_log "queue: bounce msgid=[0-9a-f]{8} to <alice@localhost>: failure report for 1 recipient of msgid=$msgid"
dsn=$(sed -nE "s/.*queue: bounce msgid=([0-9a-f]{8}) to <alice@localhost>.*/\1/p" "$LOG" | head -n 1)
note "the DSN is message $dsn"
wait_log "evpid=$dsn[0-9a-f]{8} .*to=<alice@localhost>.*result=TempFail"
wait_log "Expire for $dsn[0-9a-f]{8}: from=<>, to=<alice@localhost>"
wait_log "queue: $dsn[0-9a-f]{8} to <alice@localhost> failed for good .*no bounce"
wait_for "[ -z \"\$(smtpctl show queue)\" ]"
stop_smtpd
pass
