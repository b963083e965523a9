#!/bin/sh
# Users: a userbase table (user to uid:gid:home) decides who exists and
# where home is, %{user.directory} follows it; without a userbase the
# system's users are used (getpwnam); an unknown user is refused at
# RCPT with 550 5.1.1 either way.  The format specifiers of a maildir
# path: ranges and modifiers.
. "$TOP/regress/lib.sh"

make_users alice carol
mkdir -p "$WORK/homes2/bob"
chmod 755 "$WORK/homes2" "$WORK/homes2/bob"
printf 'bob\t%s:%s:%s\n' "$TEST_UID" "$TEST_GID" "$WORK/homes2/bob" \
    >>"$WORK/userbase"
mkdir -p "$WORK/sys" "$WORK/fmt"
chmod 1777 "$WORK/sys" "$WORK/fmt"

make_instance main <<'CONF'
listen on 127.0.0.1 port @PORT@
table users file:@WORK@/userbase
action "ub" maildir "%{user.directory}/mail/%{rcpt.domain}" userbase <users>
action "sys" maildir "@WORK@/sys/%{user.username}"
action "fmt" maildir \
	"@WORK@/fmt/%{user.username[1:3]}/%{rcpt.user:strip|uppercase}/%{rcpt.domain:lowercase}" \
	userbase <users>
match from any for domain ub.test action "ub"
match from any for domain sys.test action "sys"
match from any for domain fmt.test action "fmt"
CONF
start_smtpd

printf 'Subject: userbase\n\nhello\n' >"$WORK/msg"
run_script send <<EOF
connect 127.0.0.1 \${PORT}
expect 220
send EHLO client.test
expect 250
send MAIL FROM:<sender@example.org>
expect 250
send RCPT TO:<alice@ub.test>
expect 250
send RCPT TO:<bob@ub.test>
expect 250
send RCPT TO:<$TEST_USER@ub.test>
expect 550 ^550 5\.1\.1
send RCPT TO:<nosuchuser-$$@ub.test>
expect 550 ^550 5\.1\.1
send RCPT TO:<$TEST_USER@sys.test>
expect 250
send RCPT TO:<nosuchuser-$$@sys.test>
expect 550 ^550 5\.1\.1
send RCPT TO:<Carol+Tag@FMT.Test>
expect 250
send DATA
expect 354
data-file \${WORK}/msg
expect 250
send QUIT
expect 221
EOF

wait_maildir "$WORK/home/alice/mail/ub.test" 1
wait_maildir "$WORK/homes2/bob/mail/ub.test" 1
wait_maildir "$WORK/sys/$TEST_USER" 1
wait_maildir "$WORK/fmt/aro/CAROL/fmt.test" 1
f=$(maildir_files "$WORK/sys/$TEST_USER")
[ "$(stat -c %u "$f")" = "$(id -u "$TEST_USER")" ] ||
    fail "the system user's mail is not owned by $TEST_USER"
stop_smtpd
pass
