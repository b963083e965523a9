#!/bin/sh
# smtpctl remove of an envelope whose delivery is running: it is counted
# as removed, and when the delivery comes back with a temporary failure
# the envelope leaves the queue (logged "Removed by administrator")
# instead of being tried again; no bounce.
. "$TOP/regress/lib.sh"

make_users alice slow
cat >"$WORK/mda.sh" <<EOF
#!/bin/sh
cat >/dev/null
touch "$WORK/started"
while [ ! -e "$WORK/go" ]; do sleep 0.2; done
echo "busy" >&2
exit 75
EOF
chmod 755 "$WORK/mda.sh"
make_instance main <<'CONF'
listen on 127.0.0.1 port @PORT@
table users file:@WORK@/userbase
action "inbox" maildir userbase <users>
action "slow" mda "@WORK@/mda.sh" userbase <users>
match from any for rcpt-to alice@localhost action "inbox"
match from any for local action "slow"
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
send RCPT TO:<slow@localhost>
expect 250
send DATA
expect 354
send Subject: slow
send
send x
send .
expect 250
send QUIT
expect 221
EOF
msgid=$(script_msgid send)
wait_for_file "$WORK/started"
ctl show queue
evp=$(awk -F'|' '{print $1}' "$WORK/ctl.out" | head -n 1)
ctl remove "$evp"
expect_file_has "$WORK/ctl.out" '1 envelope removed'
touch "$WORK/go"
wait_log "Remove for $evp: .*Removed by administrator"
wait_for "[ -z \"\$(find '$SPOOL' -path '*/envelopes/*')\" ]"
ctl show queue
[ ! -s "$WORK/ctl.out" ] || fail "still queued"
ctl show stats
expect_file_has "$WORK/ctl.out" '^scheduler\.envelope\.removed=1$'
expect_file_has "$WORK/ctl.out" '^scheduler\.envelope=0$'
[ "$(maildir_count "$WORK/home/alice/Maildir" 2>/dev/null || echo 0)" = 0 ] ||
    fail "a bounce was sent"
stop_smtpd
pass
