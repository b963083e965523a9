#!/bin/sh
# Delivery as another user: started as root, the daemon forks each
# delivery as the recipient's uid and gid, in its home, umask 077, with
# the supplementary groups of that system account and no others: a
# virtual user whose name happens to be a system account's (mapped to
# another uid by the userbase) gets none of that account's groups.
. "$TOP/regress/lib.sh"

[ "$(id -u)" = 0 ] || skip "needs root to deliver as another user"
nobody_uid=$(id -u nobody 2>/dev/null) || skip "no user nobody"
nobody_gid=$(id -g nobody)

# A system account listed as a member of a group: an existing one, or
# root in a group made for the test.
member=""
tmpgroup=""
lib_user_cleanup() {
	[ -z "$tmpgroup" ] || groupdel "$tmpgroup" 2>/dev/null
}
find_member() {
	getent group | while IFS=: read -r _g _x _gid _members; do
		for _m in $(echo "$_members" | tr ',' ' '); do
			_u=$(id -u "$_m" 2>/dev/null) || continue
			[ "$_u" != "$nobody_uid" ] && [ "$_gid" != "$nobody_gid" ] &&
			    { echo "$_m $_gid"; return 0; }
		done
	done
}
set -- $(find_member)
if [ $# = 2 ]; then
	member=$1 member_gid=$2
elif command -v groupadd >/dev/null && command -v gpasswd >/dev/null; then
	tmpgroup=smtpdregress$$
	groupadd "$tmpgroup" && gpasswd -a root "$tmpgroup" >/dev/null ||
	    fail "cannot make group $tmpgroup"
	member=root member_gid=$(getent group "$tmpgroup" | cut -d: -f3)
else
	note "no group with a member, no groupadd: groups not checked"
fi

make_users alice
: >"$WORK/userbase"
for u in nob nobcmd $member; do
	mkdir -p "$WORK/home/$u"
	chown "$nobody_uid:$nobody_gid" "$WORK/home/$u"
	printf '%s\t%s:%s:%s\n' "$u" "$nobody_uid" "$nobody_gid" \
	    "$WORK/home/$u" >>"$WORK/userbase"
done
chmod 755 "$WORK/home"
mkdir -p "$WORK/out"
chmod 1777 "$WORK/out"
cat >"$WORK/mda.sh" <<EOF
#!/bin/sh
cat >"$WORK/out/\$USER.msg"
{ id -u; id -g; id -G; umask; pwd; } >"$WORK/out/\$USER.ids"
EOF
chmod 755 "$WORK/mda.sh"
make_instance main <<'CONF'
listen on 127.0.0.1 port @PORT@
table users file:@WORK@/userbase
action "md" maildir userbase <users>
action "cmd" mda "@WORK@/mda.sh" userbase <users>
match from any for rcpt-to nob@localhost action "md"
match from any for local action "cmd"
CONF
start_smtpd
{
	echo 'connect 127.0.0.1 ${PORT}'
	echo 'expect 220'
	echo 'send EHLO client.test'
	echo 'expect 250'
	echo 'send MAIL FROM:<alice@localhost>'
	echo 'expect 250'
	for u in nob nobcmd $member; do
		echo "send RCPT TO:<$u@localhost>"
		echo 'expect 250'
	done
	printf '%s\n' 'send DATA' 'expect 354' 'send Subject: as nobody' \
	    'send' 'send hi' 'send .' 'expect 250' 'send QUIT' 'expect 221'
} | run_script send

# maildir: the file is nobody's, private
wait_maildir "$WORK/home/nob/Maildir" 1
f=$(maildir_files "$WORK/home/nob/Maildir")
[ "$(stat -c %u:%g:%a "$f")" = "$nobody_uid:$nobody_gid:600" ] ||
    fail "maildir file $(stat -c %u:%g:%a "$f")"

# mda: nobody's ids, only nobody's group, umask 077, the home
for u in nobcmd $member; do
	wait_for_file "$WORK/out/$u.ids"
	echo "--- $u:"
	cat "$WORK/out/$u.ids"
	printf '%s\n' "$nobody_uid" "$nobody_gid" "$nobody_gid" 0077 \
	    "$WORK/home/$u" | cmp -s - "$WORK/out/$u.ids" ||
	    fail "ids of the mda run for $u (groups of $member: $member_gid?)"
done
stop_smtpd
pass
