#!/bin/sh
# The scheduler's and the queue's long game: a recipient that keeps
# failing temporarily is retried with back-off, gets its sender a delay
# warning (Action: delayed) once older than `bounce warn-interval', and
# expires after `queue ttl' with a failure report (Action: failed,
# "Envelope expired"); a bounce to a sender we cannot reach (relaying is
# not supported yet) stays queued until it expires; the sender <> is
# never bounced.  Then the same daemon on the queue-ram backend
# (SMTPD_QUEUE_BACKEND=ram): mail flows, nothing is written to the
# spool, and nothing survives a restart.
. "$TOP/regress/lib.sh"

make_users alice later perm
cat >"$WORK/mda.sh" <<EOF
#!/bin/sh
case "\$1" in
later*)	echo "mailbox busy" >&2; exit 75 ;;
perm*)	echo "no such mailbox" >&2; exit 67 ;;
esac
cat >/dev/null
EOF
chmod 755 "$WORK/mda.sh"
make_instance main <<'CONF'
queue ttl 20s
bounce warn-interval 4s
listen on 127.0.0.1 port @PORT@
table users file:@WORK@/userbase
action "mda" mda "@WORK@/mda.sh %{rcpt.user:strip}" userbase <users>
action "inbox" maildir userbase <users>
match from any for rcpt-to alice@localhost action "inbox"
match from any for local action "mda"
CONF
# retries after 1 s, 2 s, 4 s, 8 s...
SMTPD_RETRY_BASE=1
export SMTPD_RETRY_BASE
start_smtpd

send() {
	printf 'Subject: %s\n\nbody of %s\n' "$1" "$1" >"$WORK/$1.msg"
	run_script "$1" <<EOF
connect 127.0.0.1 \${PORT}
expect 220
send EHLO client.test
expect 250
send MAIL FROM:<$2>
expect 250
send RCPT TO:<$3>
expect 250
send DATA
expect 354
data-file \${WORK}/$1.msg
expect 250
send QUIT
expect 221
EOF
}
send late alice@localhost later@localhost
send remote bob@example.com perm@localhost
send null "" perm@localhost
late=$(script_msgid late)

# Retried with back-off, the attempts logged by the mda.
wait_log "evpid=$late[0-9a-f]{8} .*to=<later@localhost>.*delay=[1-9][0-9]*s result=TempFail"

# The sender <> gets nothing, with a line saying why.
wait_log "its sender is <>: no bounce"

# The bounce for bob@example.com cannot go out: kept, tried again.
wait_log "bounce for <bob@example\\.com> .*relaying is not supported yet"

# The delay warning, then the expiry report, both to alice.
md=$WORK/home/alice/Maildir
wait_for "grep -l '^Action: delayed' '$md'/new/* 2>/dev/null"
warn=$(grep -l '^Action: delayed' "$md"/new/*)
echo "--- the delay warning:"
cat "$warn"
expect_file_has "$warn" '^Return-Path: <>$'
expect_file_has "$warn" '^Subject: Delivery Status Notification: delay$'
expect_file_has "$warn" '^Final-Recipient: rfc822; later@localhost$'
expect_file_has "$warn" '^Status: 4\.[0-9]+\.[0-9]+$'
expect_file_has "$warn" '^Will-Retry-Until: '
expect_file_has "$warn" 'mailbox busy'
expect_file_has "$warn" '^Subject: late$'
wait_log "delivery: Expire for $late[0-9a-f]{8}: from=<alice@localhost>, to=<later@localhost>, .*stat=Envelope expired"
wait_for "grep -l '^Action: failed' '$md'/new/* 2>/dev/null"
fail=$(grep -l '^Action: failed' "$md"/new/*)
echo "--- the failure report:"
cat "$fail"
expect_file_has "$fail" '^Subject: Delivery Status Notification: failure$'
expect_file_has "$fail" '^Final-Recipient: rfc822; later@localhost$'
expect_file_has "$fail" '^Diagnostic-Code: X-Unix; Envelope expired'
expect_file_has "$fail" '^Subject: late$'
# One warning: the step was warned about once.
[ "$(grep -l '^Action: delayed' "$md"/new/* | wc -l)" = 1 ] ||
    fail "more than one delay warning"

# The unreachable bounce is dropped when it expires in its turn.
wait_log "bounce [0-9a-f]{16} to <bob@example\\.com> expired undelivered"
wait_for "[ -z \"\$(smtpctl show queue)\" ]"
[ "$(maildir_count "$md")" = 2 ] || fail "alice got $(maildir_count "$md") messages, not 2"
stop_smtpd

# ---- queue-ram ----
rm -rf "$SPOOL/queue"
SMTPD_QUEUE_BACKEND=ram
export SMTPD_QUEUE_BACKEND
start_smtpd
send ram1 someone@localhost alice@localhost
send ram2 someone@localhost later@localhost
wait_maildir "$md" 3
wait_for "smtpctl show queue | grep -q '|later@localhost|'"
[ -z "$(find "$SPOOL/queue" -mindepth 1 2>/dev/null)" ] ||
    fail "queue-ram wrote to $SPOOL/queue"
stop_smtpd
start_smtpd
[ -z "$(smtpctl show queue)" ] || fail "queue-ram kept mail across a restart"
stop_smtpd
pass
