#!/bin/sh
# ~/.forward: alice forwards to bob and to a |command (run as alice);
# dave keeps a copy (his own name) and sends one to bob; carol's
# .forward is writable by her group, so it is ignored and her mail is
# delivered to her.  Run as root, alice is the unprivileged "nobody"
# (root may not run commands from a .forward).
. "$TOP/regress/lib.sh"

make_users alice bob carol dave
fuid=$TEST_UID
fgid=$TEST_GID
if [ "$TEST_UID" = 0 ]; then
	fuid=$(id -u nobody) && fgid=$(id -g nobody) ||
	    skip "no user nobody to own alice's .forward"
	sed -i "s|^alice\t[^:]*:[^:]*:|alice\t$fuid:$fgid:|" "$WORK/userbase"
fi
mkdir -p "$WORK/out"
chmod 1777 "$WORK/out"
cat >"$WORK/fwd.sh" <<EOF
#!/bin/sh
id -u >"$WORK/out/fwd.uid"
cat >"$WORK/out/fwd.tmp" && mv "$WORK/out/fwd.tmp" "$WORK/out/fwd.msg"
EOF
chmod 755 "$WORK/fwd.sh"

h=$WORK/home
printf '# where my mail goes\nbob\n"|%s"\n' "$WORK/fwd.sh" >"$h/alice/.forward"
printf 'dave\nbob\n' >"$h/dave/.forward"
printf 'bob\n' >"$h/carol/.forward"
chmod 644 "$h/alice/.forward" "$h/dave/.forward"
chmod 664 "$h/carol/.forward"
chown "$fuid:$fgid" "$h/alice" "$h/alice/.forward"

make_instance main <<'CONF'
listen on 127.0.0.1 port @PORT@
table users file:@WORK@/userbase
action "local" maildir userbase <users>
match from any for local action "local"
CONF
start_smtpd

{
	echo 'connect 127.0.0.1 ${PORT}'
	echo 'expect 220'
	echo 'send EHLO client.test'
	echo 'expect 250'
	for u in alice carol dave; do
		printf 'Subject: to %s\n\nhello %s\n' "$u" "$u" >"$WORK/msg-$u"
		echo 'send MAIL FROM:<sender@example.org>'
		echo 'expect 250'
		echo "send RCPT TO:<$u@localhost>"
		echo 'expect 250'
		echo 'send DATA'
		echo 'expect 354'
		echo "data-file \${WORK}/msg-$u"
		echo 'expect 250'
	done
	echo 'send QUIT'
	echo 'expect 221'
} >"$WORK/send.gen"
run_script send <"$WORK/send.gen"

subjects_of() {
	for f in $(maildir_files "$WORK/home/$1/Maildir"); do
		sed -n 's/^Subject: //p' "$f"
	done | sort | tr '\n' ' '
}
wait_maildir "$h/bob/Maildir" 2
wait_maildir "$h/carol/Maildir" 1
wait_maildir "$h/dave/Maildir" 1
wait_for_file "$WORK/out/fwd.msg"
[ "$(subjects_of bob)" = "to alice to dave " ] ||
    fail "bob got: $(subjects_of bob)"
[ "$(subjects_of carol)" = "to carol " ] ||
    fail "carol got: $(subjects_of carol)"
[ "$(subjects_of dave)" = "to dave " ] || fail "dave got: $(subjects_of dave)"
[ "$(maildir_count "$h/alice/Maildir")" = 0 ] ||
    fail "alice kept a copy though her .forward does not say so"
expect_file_has "$WORK/out/fwd.msg" '^Subject: to alice$'
[ "$(cat "$WORK/out/fwd.uid")" = "$fuid" ] ||
    fail "the .forward command ran as uid $(cat "$WORK/out/fwd.uid"), not $fuid"
stop_smtpd
pass
