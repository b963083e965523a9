#!/bin/sh
# Delivery to a maildir: a message sent over SMTP lands in the user's
# ~/Maildir/new with Return-Path:, Delivered-To: and Received: in front
# of the message exactly as sent (dot-stuffing undone, CRLF made LF);
# one copy per recipient; the log tells the story.
. "$TOP/regress/lib.sh"

make_users alice bob
make_instance main <<'CONF'
listen on 127.0.0.1 port @PORT@ hostname mx.test
table users file:@WORK@/userbase
action "local" maildir userbase <users>
match from any for local action "local"
CONF
start_smtpd

# The content as the user will see it (LF line ends).
printf '%s\n' \
    'From: Sender <sender@example.org>' \
    'To: alice@localhost' \
    'Subject: maildir test' \
    'Message-ID: <maildir-1@example.org>' \
    '' \
    'First line.' \
    '.a line that starts with a dot' \
    '..two dots' \
    '.' \
    'trailing blanks   ' \
    'last line' >"$WORK/msg1"

run_script send1 <<'EOF'
connect 127.0.0.1 ${PORT}
expect 220 ^220 mx\.test ESMTP
send EHLO client.test
expect 250 ^250[- ]ENHANCEDSTATUSCODES
send MAIL FROM:<sender@example.org>
expect 250
send RCPT TO:<alice@localhost>
expect 250
send DATA
expect 354
data-file ${WORK}/msg1
expect 250 ^250 2\.0\.0 [0-9a-f]{8} Message accepted for delivery$
send QUIT
expect 221
expect-close
EOF
msgid=$(script_msgid send1)
[ -n "$msgid" ] || fail "no msgid in the 250 reply"

md=$WORK/home/alice/Maildir
wait_maildir "$md" 1
f=$(maildir_files "$md")
echo "--- delivered $f:"
cat "$f"
[ "$(sed -n 1p "$f")" = "Return-Path: <sender@example.org>" ] ||
    fail "line 1 is not the Return-Path"
[ "$(sed -n 2p "$f")" = "Delivered-To: alice@localhost" ] ||
    fail "line 2 is not the Delivered-To"
expect_file_has "$f" '^Received: from client\.test '
expect_file_has "$f" "[[:space:]]by mx\\.test[[:space:]]"
expect_file_has "$f" "[[:space:]]id $msgid([[:space:];]|\$)"
expect_file_lacks "$f" "$(printf '\r')"
# The message itself, byte for byte, closes the file.
size=$(wc -c <"$WORK/msg1")
tail -c "$size" "$f" >"$WORK/tail1"
cmp "$WORK/msg1" "$WORK/tail1" || {
	diff "$WORK/msg1" "$WORK/tail1"
	fail "the delivered message differs from what was sent"
}
# The Received: header sits before the message's own headers.
[ "$(grep -n '^Received:' "$f" | cut -d: -f1)" -lt \
    "$(grep -n '^From: Sender' "$f" | cut -d: -f1)" ] ||
    fail "Received: is not above the message's headers"
[ -z "$(ls -A "$md/tmp" 2>/dev/null)" ] || fail "$md/tmp is not empty"
wait_log "mda delivery evpid=$msgid[0-9a-f]{8} from=<sender@example.org> to=<alice@localhost> .*result=Ok stat=Delivered"
expect_file_has "$LOG" "smtp message msgid=$msgid .*nrcpt=1"
expect_file_has "$LOG" "smtp connected address=127\\.0\\.0\\.1"

# Two recipients in one transaction: one copy each.
printf 'Subject: two\n\nfor both\n' >"$WORK/msg2"
run_script send2 <<'EOF'
connect 127.0.0.1 ${PORT}
expect 220
send HELO client.test
expect 250
send MAIL FROM:<>
expect 250
send RCPT TO:<alice@localhost>
expect 250
send RCPT TO:<BOB@LocalHost>
expect 250
send DATA
expect 354
data-file ${WORK}/msg2
expect 250
send QUIT
expect 221
EOF
wait_maildir "$md" 2
wait_maildir "$WORK/home/bob/Maildir" 1
fb=$(maildir_files "$WORK/home/bob/Maildir")
[ "$(sed -n 1p "$fb")" = "Return-Path: <>" ] ||
    fail "bob's copy: line 1 is not Return-Path: <>"
expect_file_has "$fb" '^Delivered-To: (bob|BOB)@(localhost|LocalHost)$'
expect_file_has "$fb" '^for both$'

# A message that already went through this mailbox is a loop: refused
# for good at delivery (the sender is <>, so no bounce), never stored.
printf 'Delivered-To: alice@localhost\nSubject: looping\n\nround\n' \
    >"$WORK/msg3"
run_script send3 <<'EOF'
connect 127.0.0.1 ${PORT}
expect 220
send HELO client.test
expect 250
send MAIL FROM:<>
expect 250
send RCPT TO:<alice@localhost>
expect 250
send DATA
expect 354
data-file ${WORK}/msg3
expect 250
send QUIT
expect 221
EOF
loopid=$(script_msgid send3)
wait_log "evpid=$loopid[0-9a-f]{8} .*result=PermFail.*[Ll]oop"
stop_smtpd
[ "$(maildir_count "$md")" = 2 ] || fail "the looping message was delivered"
pass
