#!/bin/sh
# Virtual domains: user@domain entries, an entry expanding to another
# virtual address, @domain, and the "@" catch-all; a virtual domain
# without a catch-all refuses an unknown user at RCPT (550 5.1.1), and a
# domain no rule accepts is not relayed (550 5.7.1).
. "$TOP/regress/lib.sh"

make_users alice bob carol catchall
cat >"$WORK/virt1" <<'EOF'
alice@example.org	alice
list@example.org	alice@example.org, bob
@example.net		bob
@			catchall
EOF
printf 'carol@example.com\tcarol\n' >"$WORK/virt2"
chmod 644 "$WORK/virt1" "$WORK/virt2"

make_instance main <<'CONF'
listen on 127.0.0.1 port @PORT@
table users file:@WORK@/userbase
table virt1 file:@WORK@/virt1
table virt2 file:@WORK@/virt2
action "v1" maildir virtual <virt1> userbase <users>
action "v2" maildir virtual <virt2> userbase <users>
match from any for domain { example.org, example.net } action "v1"
match from any for domain example.com action "v2"
CONF
start_smtpd

{
	echo 'connect 127.0.0.1 ${PORT}'
	echo 'expect 220'
	echo 'send EHLO client.test'
	echo 'expect 250'
	for a in alice@example.org list@example.org someone@example.net \
	    who@example.org carol@example.com; do
		printf 'Subject: to %s\n\nhello\n' "$a" >"$WORK/msg-$a"
		echo 'send MAIL FROM:<sender@example.org>'
		echo 'expect 250'
		echo "send RCPT TO:<$a>"
		echo 'expect 250'
		echo 'send DATA'
		echo 'expect 354'
		echo "data-file \${WORK}/msg-$a"
		echo 'expect 250'
	done
	echo 'send MAIL FROM:<sender@example.org>'
	echo 'expect 250'
	echo 'send RCPT TO:<nobody@example.com>'
	echo 'expect 550 ^550 5\.1\.1 '
	echo 'send RCPT TO:<someone@elsewhere.test>'
	echo 'expect 550 ^550 5\.7\.1 '
	echo 'send RCPT TO:<carol@example.com>'
	echo 'expect 250'
	echo 'send RSET'
	echo 'expect 250'
	echo 'send QUIT'
	echo 'expect 221'
} >"$WORK/send.gen"
run_script send <"$WORK/send.gen"

subjects_of() {
	for f in $(maildir_files "$WORK/home/$1/Maildir"); do
		sed -n 's/^Subject: //p' "$f"
	done | sort | tr '\n' ' '
}
wait_maildir "$WORK/home/alice/Maildir" 2
wait_maildir "$WORK/home/bob/Maildir" 2
wait_maildir "$WORK/home/carol/Maildir" 1
wait_maildir "$WORK/home/catchall/Maildir" 1
[ "$(subjects_of alice)" = "to alice@example.org to list@example.org " ] ||
    fail "alice got: $(subjects_of alice)"
[ "$(subjects_of bob)" = "to list@example.org to someone@example.net " ] ||
    fail "bob got: $(subjects_of bob)"
[ "$(subjects_of carol)" = "to carol@example.com " ] ||
    fail "carol got: $(subjects_of carol)"
[ "$(subjects_of catchall)" = "to who@example.org " ] ||
    fail "catchall got: $(subjects_of catchall)"
f=$(maildir_files "$WORK/home/catchall/Maildir")
expect_file_has "$f" '^Delivered-To: .'
stop_smtpd
pass
