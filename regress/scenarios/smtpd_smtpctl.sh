#!/bin/sh
# smtpctl on a running daemon: show queue / envelope / message / stats /
# status, remove, pause and resume of envelopes, mda and smtp (a
# connection made while smtp is paused gets no banner until resume),
# schedule, update table after the alias file changed, stop.  Run as
# root, another user sees none of the queue and may change nothing.
. "$TOP/regress/lib.sh"

make_users alice bob
printf 'team:\talice\n' >"$WORK/aliases"
chmod 644 "$WORK/aliases"
make_instance main <<'CONF'
listen on 127.0.0.1 port @PORT@
table users file:@WORK@/userbase
table aliases file:@WORK@/aliases
action "local" maildir alias <aliases> userbase <users>
match from any for local action "local"
CONF
start_smtpd -P mda

printf 'Subject: first\n\nfirst body\n' >"$WORK/msg1"
printf 'Subject: second\n\nsecond body\n' >"$WORK/msg2"
run_script send <<'EOF'
connect 127.0.0.1 ${PORT}
expect 220
send EHLO client.test
expect 250
send MAIL FROM:<sender@example.org>
expect 250
send RCPT TO:<alice@localhost>
expect 250
send DATA
expect 354
data-file ${WORK}/msg1
expect 250
send MAIL FROM:<sender@example.org>
expect 250
send RCPT TO:<alice@localhost>
expect 250
send RCPT TO:<bob@localhost>
expect 250
send DATA
expect 354
data-file ${WORK}/msg2
expect 250
send QUIT
expect 221
EOF
set -- $(sed -n 's/^S: 250 2\.0\.0 \([0-9a-f]\{8\}\) .*/\1/p' "$WORK/send.out")
[ $# = 2 ] || fail "not two msgids"
msg1=$1
msg2=$2

# show status, show queue: three envelopes, fourteen fields each.
ctl show status
expect_file_has "$WORK/ctl.out" '^smtp running$'
expect_file_has "$WORK/ctl.out" '^mda paused$'
wait_for "smtpctl show queue | grep -c '^[0-9a-f]\{16\}|' | grep -qx 3"
ctl show queue
q=$WORK/queue.txt
cp "$WORK/ctl.out" "$q"
[ "$(grep -c . "$q")" = 3 ] || fail "show queue: not three lines"
awk -F'|' 'NF != 14 { exit 1 }' "$q" || fail "show queue: not 14 fields"
awk -F'|' '$2 != "inet4" || $3 != "mda" || $5 != "sender@example.org" \
    { exit 1 }' "$q" || fail "show queue: wrong source, type or sender"
expect_file_has "$q" "^$msg1[0-9a-f]{8}\\|.*\\|alice@localhost\\|"
expect_file_has "$q" "^$msg2[0-9a-f]{8}\\|.*\\|bob@localhost\\|"
evp1=$(grep "^$msg1" "$q" | cut -d'|' -f1)
evp2a=$(grep "^$msg2" "$q" | grep '|alice@localhost|' | cut -d'|' -f1)
evp2b=$(grep "^$msg2" "$q" | grep '|bob@localhost|' | cut -d'|' -f1)
ctl show queue "$msg2"
[ "$(grep -c . "$WORK/ctl.out")" = 2 ] || fail "show queue $msg2: not 2 lines"

# show envelope, show message.
ctl show envelope "$evp1"
[ "$(sed -n 1p "$WORK/ctl.out")" = "evpid: $evp1" ] ||
    fail "show envelope: the first line is not evpid: $evp1"
expect_file_has "$WORK/ctl.out" '^rcpt: alice@localhost$'
expect_file_has "$WORK/ctl.out" '^sender: sender@example\.org$'
ctl show message "$msg1"
expect_file_has "$WORK/ctl.out" '^Received: from client\.test '
expect_file_has "$WORK/ctl.out" '^Subject: first$'
expect_file_has "$WORK/ctl.out" '^first body$'
smtpctl show envelope 0123456789abcdef >"$WORK/none.out" 2>&1 &&
    fail "show envelope of an unknown id succeeded"

# remove: bob's envelope goes, without a bounce.
ctl remove "$evp2b"
expect_file_has "$WORK/ctl.out" '1 envelopes? removed'
wait_log "$evp2b.*Removed by administrator"
smtpctl show queue >"$WORK/q2" || fail "show queue after remove failed"
expect_file_lacks "$WORK/q2" "^$evp2b"

# pause envelope: held through resume mda, then released and scheduled.
ctl pause envelope "$evp1"
expect_file_has "$WORK/ctl.out" '1 envelopes? paused'
ctl show queue "$evp1"
[ "$(cut -d'|' -f12 "$WORK/ctl.out")" = held ] || fail "$evp1 is not held"
ctl resume mda
wait_maildir "$WORK/home/alice/Maildir" 1
wait_log "evpid=$evp2a .*result=Ok"
expect_file_lacks "$LOG" "evpid=$evp1 .*result="
ctl resume envelope "$evp1"

wait_maildir "$WORK/home/alice/Maildir" 2
[ "$(maildir_count "$WORK/home/bob/Maildir")" = 0 ] ||
    fail "the removed envelope was delivered"
wait_for "[ -z \"\$(smtpctl show queue)\" ]"

# show stats: key=value lines, sorted, with the uptime.
ctl show stats
expect_file_has "$WORK/ctl.out" '^uptime=[0-9]+$'
expect_file_has "$WORK/ctl.out" '^uptime\.human=([0-9]+[dhms])+$'
expect_file_has "$WORK/ctl.out" '^scheduler\.delivery\.ok=2$'
expect_file_has "$WORK/ctl.out" '^scheduler\.envelope\.removed=1$'
awk -F= 'NF < 2 { exit 1 }' "$WORK/ctl.out" || fail "show stats: not key=value"
cut -d= -f1 "$WORK/ctl.out" | LC_ALL=C sort -c || fail "show stats: not sorted"

# pause smtp: a connection gets no banner until resume.
ctl pause smtp
run_script probe_paused <<'EOF' &
connect 127.0.0.1 ${PORT}
print connected
expect-silence 3
print silent
wait-file ${WORK}/resumed
timeout 60
expect 220
send QUIT
expect 221
EOF
probe=$!
wait_for "grep -q '^silent' '$WORK/probe_paused.out'"
ctl show status
expect_file_has "$WORK/ctl.out" '^smtp paused$'
ctl resume smtp
touch "$WORK/resumed"
wait $probe || fail "the session made while paused did not go on"

# update table: the alias file changes, the daemon rereads it.
printf 'Subject: team 1\n\nx\n' >"$WORK/team1"
printf 'Subject: team 2\n\nx\n' >"$WORK/team2"
send_team() {
	run_script "team$1" <<EOF
connect 127.0.0.1 \${PORT}
expect 220
send HELO client.test
expect 250
send MAIL FROM:<sender@example.org>
expect 250
send RCPT TO:<team@localhost>
expect 250
send DATA
expect 354
data-file \${WORK}/team$1
expect 250
send QUIT
expect 221
EOF
}
send_team 1
wait_maildir "$WORK/home/alice/Maildir" 3
printf 'team:\tbob\n' >"$WORK/aliases.new"
chmod 644 "$WORK/aliases.new"
mv "$WORK/aliases.new" "$WORK/aliases"
ctl update table aliases
send_team 2
wait_maildir "$WORK/home/bob/Maildir" 1
expect_file_has "$(maildir_files "$WORK/home/bob/Maildir")" '^Subject: team 2$'
[ "$(maildir_count "$WORK/home/alice/Maildir")" = 3 ] ||
    fail "alice still gets the team's mail after update table"

# Someone else: sees none of this queue, may not act on it.
if [ "$TEST_UID" = 0 ]; then
	ctl pause mda
	run_script send3 <<'EOF'
connect 127.0.0.1 ${PORT}
expect 220
send HELO client.test
expect 250
send MAIL FROM:<sender@example.org>
expect 250
send RCPT TO:<alice@localhost>
expect 250
send DATA
expect 354
data-file ${WORK}/msg1
expect 250
send QUIT
expect 221
EOF
	wait_for "smtpctl show queue | grep -q ."
	asuser="setpriv --reuid=$(id -u nobody) --regid=$(id -g nobody) \
	    --clear-groups"
	$asuser "$SMTPCTL_BIN" -s "$SPOOL/smtpd.sock" show queue \
	    >"$WORK/other.out" 2>&1 || fail "show queue as nobody failed"
	[ ! -s "$WORK/other.out" ] || fail "nobody sees the queue"
	if $asuser "$SMTPCTL_BIN" -s "$SPOOL/smtpd.sock" remove all \
	    >"$WORK/other.out" 2>&1; then
		fail "nobody could remove envelopes"
	fi
	expect_file_has "$WORK/other.out" 'permission denied'
	ctl resume mda
	wait_maildir "$WORK/home/alice/Maildir" 4
fi

# stop: the daemon exits, as with SIGTERM.
ctl stop
smtpd_wait_gone 0
pass
