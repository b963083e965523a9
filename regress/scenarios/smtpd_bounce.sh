#!/bin/sh
# Bounces over time: a recipient whose delivery keeps failing for now
# brings its local sender a delay warning (Action: delayed) once the
# message is older than "bounce warn-interval"; one whose action's ttl
# runs out is bounced (Action: failed) and leaves the queue.  A bounce
# is never bounced: the null sender gets none.
. "$TOP/regress/lib.sh"

make_users alice later doomed
cat >"$WORK/tempfail.sh" <<'EOF'
#!/bin/sh
echo "mailbox busy" >&2
exit 75
EOF
chmod 755 "$WORK/tempfail.sh"
make_instance main <<'CONF'
bounce warn-interval 1s
listen on 127.0.0.1 port @PORT@
table users file:@WORK@/userbase
action "inbox" maildir userbase <users>
action "slow" mda "@WORK@/tempfail.sh" userbase <users>
action "expire" mda "@WORK@/tempfail.sh" ttl 3s userbase <users>
match from any for rcpt-to alice@localhost action "inbox"
match from any for rcpt-to later@localhost action "slow"
match from any for rcpt-to doomed@localhost action "expire"
CONF
start_smtpd

printf 'Subject: slow one\n\nx\n' >"$WORK/msg1"
printf 'Subject: doomed one\n\nx\n' >"$WORK/msg2"
printf 'Subject: doomed null\n\nx\n' >"$WORK/msg3"
run_script send <<'EOF'
connect 127.0.0.1 ${PORT}
expect 220
send EHLO client.test
expect 250
send MAIL FROM:<alice@localhost>
expect 250
send RCPT TO:<later@localhost>
expect 250
send DATA
expect 354
data-file ${WORK}/msg1
expect 250
send MAIL FROM:<alice@localhost>
expect 250
send RCPT TO:<doomed@localhost>
expect 250
send DATA
expect 354
data-file ${WORK}/msg2
expect 250
send MAIL FROM:<>
expect 250
send RCPT TO:<doomed@localhost>
expect 250
send DATA
expect 354
data-file ${WORK}/msg3
expect 250
send QUIT
expect 221
EOF
md=$WORK/home/alice/Maildir

# dsn_with REGEX...: a DSN in alice's maildir matching every REGEX.
dsn_with() {
	for f in $(maildir_files "$md"); do
		_ok=1
		for re in "$@"; do
			grep -Eq -- "$re" "$f" || _ok=0
		done
		[ $_ok = 1 ] && { echo "$f"; return 0; }
	done
	return 1
}
wait_for "dsn_with '^Action: delayed' 'Final-Recipient: rfc822; ?later@localhost'" 120
f=$(dsn_with '^Action: delayed' 'Final-Recipient: rfc822; ?later@localhost')
echo "--- the delay warning:"
cat "$f"
expect_file_has "$f" '^Return-Path: <>$'
expect_file_has "$f" '^Status: 4\.[0-9]+\.[0-9]+$'
expect_file_has "$f" '^Subject: slow one$'

wait_for "dsn_with '^Action: failed' 'Final-Recipient: rfc822; ?doomed@localhost'" 120
f=$(dsn_with '^Action: failed' 'Final-Recipient: rfc822; ?doomed@localhost')
echo "--- the bounce after the ttl:"
cat "$f"
expect_file_has "$f" '^Subject: doomed one$'
# Both messages for doomed leave the queue; only later's stays.
wait_for "[ \$(find '$SPOOL' -path '*/envelopes/*' -type f | wc -l) = 1 ]" 120
# The message from <> expired without a bounce to anyone.
for f in $(maildir_files "$md"); do
	expect_file_lacks "$f" '^Subject: doomed null$'
done
stop_smtpd
pass
