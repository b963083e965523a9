#!/bin/sh
# Delivery to an mbox in /var/mail: a From_ line, the message with its
# body's "From " lines quoted, a blank line after each message, two
# messages appended in order.  Root only (the mail spool is root's).
. "$TOP/regress/lib.sh"

[ "$(id -u)" = 0 ] || skip "needs root to write in /var/mail"
[ -d /var/mail ] || skip "no /var/mail"

# A user name nobody has; the userbase maps it to the invoking user.
mbuser=smtpdregress
mbox=/var/mail/$mbuser
lib_user_cleanup() {
	rm -f "$mbox" "$mbox.lock"
}
lib_user_cleanup
printf '%s\t%s:%s:%s\n' "$mbuser" "$TEST_UID" "$TEST_GID" \
    "$WORK/home/$mbuser" >"$WORK/userbase"
mkdir -p "$WORK/home/$mbuser"
chmod 755 "$WORK/home" "$WORK/home/$mbuser"
chmod 644 "$WORK/userbase"

make_instance main <<'CONF'
listen on 127.0.0.1 port @PORT@
table users file:@WORK@/userbase
action "mbox" mbox userbase <users>
match from any for local action "mbox"
CONF
start_smtpd

printf '%s\n' 'Subject: first' '' 'From the start, a line to quote.' \
    '>From already quoted' 'end of first' >"$WORK/msg1"
printf '%s\n' 'Subject: second' '' 'end of second' >"$WORK/msg2"
run_script send <<EOF
connect 127.0.0.1 \${PORT}
expect 220
send EHLO client.test
expect 250
send MAIL FROM:<sender@example.org>
expect 250
send RCPT TO:<$mbuser@localhost>
expect 250
send DATA
expect 354
data-file \${WORK}/msg1
expect 250
send MAIL FROM:<other@example.org>
expect 250
send RCPT TO:<$mbuser@localhost>
expect 250
send DATA
expect 354
data-file \${WORK}/msg2
expect 250
send QUIT
expect 221
EOF

wait_for "[ \$(grep -c '^From ' '$mbox') -ge 2 ]"
wait_log "mda delivery .*from=<other@example.org> to=<$mbuser@localhost>.*result=Ok"
echo "--- $mbox:"
cat "$mbox"
# Two messages, each opened by a From_ line with the sender and a date.
[ "$(grep -c '^From ' "$mbox")" = 2 ] || fail "not two From_ lines"
expect_file_has "$mbox" '^From sender@example\.org [A-Z][a-z]{2} [A-Z][a-z]{2} [ 0-9][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2} [0-9]{4}$'
expect_file_has "$mbox" '^From other@example\.org '
[ "$(sed -n 1p "$mbox" | cut -d' ' -f2)" = sender@example.org ] ||
    fail "the first message is not first"
expect_file_has "$mbox" '^Return-Path: <sender@example\.org>$'
expect_file_has "$mbox" "^Delivered-To: $mbuser@localhost\$"
# The body's "From " is quoted (mboxo: a ">From " line stays as it is).
expect_file_has "$mbox" '^>From the start, a line to quote\.$'
expect_file_has "$mbox" '^>From already quoted$'
# A blank line before the second From_ line, and at the very end.
n=$(grep -n '^From other@' "$mbox" | cut -d: -f1)
[ -z "$(sed -n "$((n - 1))p" "$mbox")" ] ||
    fail "no blank line before the second message"
[ -z "$(tail -n 1 "$mbox")" ] || fail "no blank line at the end"
[ "$(stat -c %u "$mbox")" = "$TEST_UID" ] ||
    fail "$mbox is not owned by the user"
[ ! -e "$mbox.lock" ] || fail "the lock file was left behind"
stop_smtpd
pass
