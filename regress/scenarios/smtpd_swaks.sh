#!/bin/sh
# swaks, a real SMTP client, against the daemon: a plain message, one
# with PIPELINING and an attachment, and a refused recipient.
. "$TOP/regress/lib.sh"

command -v swaks >/dev/null || fail "swaks is not installed"
make_users alice bob
make_instance main <<'CONF'
listen on 127.0.0.1 port @PORT@
table users file:@WORK@/userbase
action "local" maildir userbase <users>
match from any for local action "local"
CONF
start_smtpd

swaks --server 127.0.0.1 --port "$PORT" --helo swaks.test \
    --from sender@example.org --to alice@localhost \
    --header 'Subject: swaks plain' --body 'Sent by swaks.' \
    >"$WORK/swaks1.out" 2>&1 || {
	cat "$WORK/swaks1.out"
	fail "swaks (plain) failed"
}
expect_file_has "$WORK/swaks1.out" '<- +250 2\.0\.0 [0-9a-f]{8} Message accepted'

printf 'attached text\n' >"$WORK/attachment.txt"
swaks --server 127.0.0.1 --port "$PORT" --helo swaks.test --pipeline \
    --from sender@example.org --to alice@localhost,bob@localhost \
    --header 'Subject: swaks pipelined' --body 'With an attachment.' \
    --attach "$WORK/attachment.txt" >"$WORK/swaks2.out" 2>&1 || {
	cat "$WORK/swaks2.out"
	fail "swaks --pipeline failed"
}
expect_file_has "$WORK/swaks2.out" '250 2\.0\.0 [0-9a-f]{8} Message accepted'

swaks --server 127.0.0.1 --port "$PORT" --helo swaks.test \
    --from sender@example.org --to nosuchuser@localhost \
    >"$WORK/swaks3.out" 2>&1 && fail "swaks to an unknown user succeeded"
expect_file_has "$WORK/swaks3.out" '<\*\* +550 5\.1\.1 '

wait_maildir "$WORK/home/alice/Maildir" 2
wait_maildir "$WORK/home/bob/Maildir" 1
f=$(grep -l '^Subject: swaks plain$' $(maildir_files "$WORK/home/alice/Maildir"))
[ -n "$f" ] || fail "alice has no 'swaks plain'"
expect_file_has "$f" '^Sent by swaks\.$'
expect_file_has "$f" '^Received: from swaks\.test '
f=$(maildir_files "$WORK/home/bob/Maildir")
expect_file_has "$f" '^Subject: swaks pipelined$'
expect_file_has "$f" '^Content-Type: multipart/mixed'
# swaks sends the attachment in base64: "attached text\n".
expect_file_has "$f" '^YXR0YWNoZWQgdGV4dAo=$'
stop_smtpd
pass
