#!/bin/sh
# aliases(5) through an alias table: a user, a list of users,
# :include: of a file of addresses, a |command, a /file and error:
# (refused at RCPT with the code it gives).
. "$TOP/regress/lib.sh"

make_users alice bob carol dave
mkdir -p "$WORK/out"
chmod 1777 "$WORK/out"
cat >"$WORK/aliases" <<EOF
# aliases for the test
postmaster:	alice
team:		alice, bob
list:		:include:$WORK/list.txt
pipe:		"|$WORK/pipe.sh"
tofile:		$WORK/out/file.mbox
gone:		error:550 5.1.6 This address is gone
EOF
printf 'carol\ndave@localhost\n' >"$WORK/list.txt"
cat >"$WORK/pipe.sh" <<EOF
#!/bin/sh
cat >"$WORK/out/pipe.tmp" && mv "$WORK/out/pipe.tmp" "$WORK/out/pipe.msg"
EOF
chmod 755 "$WORK/pipe.sh"
chmod 644 "$WORK/aliases" "$WORK/list.txt"

make_instance main <<'CONF'
listen on 127.0.0.1 port @PORT@
table aliases file:@WORK@/aliases
table users file:@WORK@/userbase
action "local" maildir alias <aliases> userbase <users>
match from any for local action "local"
CONF
start_smtpd

# One transaction per alias, each with its own Subject.
{
	echo 'connect 127.0.0.1 ${PORT}'
	echo 'expect 220'
	echo 'send EHLO client.test'
	echo 'expect 250'
	for a in postmaster team list pipe tofile; do
		printf 'Subject: to %s\n\nfor %s\n' "$a" "$a" >"$WORK/msg-$a"
		echo 'send MAIL FROM:<sender@example.org>'
		echo 'expect 250'
		echo "send RCPT TO:<$a@localhost>"
		echo 'expect 250'
		echo 'send DATA'
		echo 'expect 354'
		echo "data-file \${WORK}/msg-$a"
		echo 'expect 250'
	done
	echo 'send MAIL FROM:<sender@example.org>'
	echo 'expect 250'
	echo 'send RCPT TO:<gone@localhost>'
	echo 'expect 550 ^550 5\.1\.6 .*This address is gone'
	echo 'send QUIT'
	echo 'expect 221'
} >"$WORK/send.gen"
run_script send <"$WORK/send.gen"

# subjects_of USER: the Subject lines delivered to USER, sorted.
subjects_of() {
	for f in $(maildir_files "$WORK/home/$1/Maildir"); do
		sed -n 's/^Subject: //p' "$f"
	done | sort | tr '\n' ' '
}
wait_maildir "$WORK/home/alice/Maildir" 2
wait_maildir "$WORK/home/bob/Maildir" 1
wait_maildir "$WORK/home/carol/Maildir" 1
wait_maildir "$WORK/home/dave/Maildir" 1
wait_for_file "$WORK/out/pipe.msg"
wait_for "grep -q '^for tofile' '$WORK/out/file.mbox'"
wait_log "to=<tofile@localhost>.*result=Ok"

[ "$(subjects_of alice)" = "to postmaster to team " ] ||
    fail "alice got: $(subjects_of alice)"
[ "$(subjects_of bob)" = "to team " ] || fail "bob got: $(subjects_of bob)"
[ "$(subjects_of carol)" = "to list " ] ||
    fail "carol got: $(subjects_of carol)"
[ "$(subjects_of dave)" = "to list " ] || fail "dave got: $(subjects_of dave)"
expect_file_has "$WORK/out/pipe.msg" '^Subject: to pipe$'
expect_file_has "$WORK/out/pipe.msg" '^Return-Path: <sender@example\.org>$'
expect_file_has "$WORK/out/file.mbox" '^From sender@example\.org '
expect_file_has "$WORK/out/file.mbox" '^Subject: to tofile$'
stop_smtpd
pass
