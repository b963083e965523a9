#!/bin/sh
# sendmail(8), smtpctl under another name (a symlink in $WORK), with the
# daemon found through SMTPD_SOCKET: recipients on the command line, -t
# (To/Cc/Bcc, Bcc removed), -f, -i, Date:/Message-ID:/From: added to a
# local submission, a refused recipient (EX_NOUSER, nothing sent), -bs,
# mailq listing a local message, and EX_TEMPFAIL when smtpd is down.
. "$TOP/regress/lib.sh"

[ -x "$SMTPCTL_BIN" ] || fail "$SMTPCTL_BIN is not built"
make_users alice bob carol
make_instance main <<'CONF'
listen on 127.0.0.1 port @PORT@
listen on socket
table users file:@WORK@/userbase
action "local" maildir userbase <users>
match from any for local action "local"
CONF
start_smtpd
mkdir -p "$WORK/bin"
for n in sendmail mailq; do
	ln -sf "$SMTPCTL_BIN" "$WORK/bin/$n"
done
SMTPD_SOCKET=$SPOOL/smtpd.sock
export SMTPD_SOCKET
sendmail="$WORK/bin/sendmail"

subjects_of() {
	for f in $(maildir_files "$WORK/home/$1/Maildir"); do
		sed -n 's/^Subject: //p' "$f"
	done | sort | tr '\n' ' '
}
file_with() {	# USER SUBJECT: the file of USER's mail with that subject
	grep -l "^Subject: $2\$" $(maildir_files "$WORK/home/$1/Maildir") |
	    head -n 1
}

# Recipients on the command line; the headers a submission lacks.
printf 'Subject: argv\n\nbody\n' | "$sendmail" alice bob@localhost ||
    fail "sendmail alice bob@localhost: status $?"
wait_maildir "$WORK/home/alice/Maildir" 1
wait_maildir "$WORK/home/bob/Maildir" 1
f=$(file_with alice argv)
echo "--- $f:"
cat "$f"
expect_file_has "$f" "^Return-Path: <$TEST_USER@[^>]+>\$"
expect_file_has "$f" '^Date: [A-Z][a-z]{2}, [ 0-9]?[0-9] [A-Z][a-z]{2} [0-9]{4} '
expect_file_has "$f" '^Message-ID: <[^>]+@[^>]+>$'
expect_file_has "$f" "^From: .*$TEST_USER@"
expect_file_has "$f" '^Received: from '

# -t: To, Cc and Bcc; Bcc is removed from every copy.  -f: the sender.
"$sendmail" -t -f list-owner@example.org <<'EOF' ||
From: Someone <someone@example.org>
To: alice@localhost
Cc: Bob <bob@localhost>
Bcc: carol@localhost
Subject: dash t
Date: Mon, 1 Jan 2024 00:00:00 +0000
Message-ID: <dash-t@example.org>

the body of -t
EOF
    fail "sendmail -t: status $?"
wait_maildir "$WORK/home/carol/Maildir" 1
wait_maildir "$WORK/home/alice/Maildir" 2
wait_maildir "$WORK/home/bob/Maildir" 2
for u in alice bob carol; do
	f=$(file_with $u "dash t")
	[ -n "$f" ] || fail "$u did not get the -t message"
	expect_file_lacks "$f" '^Bcc:'
	expect_file_has "$f" '^Return-Path: <list-owner@example\.org>$'
	[ "$(grep -c '^Message-ID:' "$f")" = 1 ] ||
	    fail "a Message-ID was added to a message that had one"
	[ "$(grep -c '^Date:' "$f")" = 1 ] ||
	    fail "a Date was added to a message that had one"
done

# -i: a lone dot is content; without it, it ends the message.
printf 'Subject: dot i\n\nbefore\n.\nafter\n' | "$sendmail" -i alice ||
    fail "sendmail -i: status $?"
printf 'Subject: dot\n\nbefore\n.\nafter\n' | "$sendmail" alice ||
    fail "sendmail: status $?"
wait_maildir "$WORK/home/alice/Maildir" 4
expect_file_has "$(file_with alice 'dot i')" '^after$'
expect_file_lacks "$(file_with alice 'dot')" '^after$'

# A refused recipient: EX_NOUSER, and nobody gets the message.
printf 'Subject: refused\n\nx\n' | "$sendmail" alice nosuchuser \
    >"$WORK/refused.out" 2>&1
rc=$?
cat "$WORK/refused.out"
[ $rc = 67 ] || fail "sendmail to an unknown user: status $rc, not 67"
grep -q '550' "$WORK/refused.out" || fail "sendmail did not print the 550"

# -bs: SMTP on stdin and stdout.
printf 'EHLO me\r\nQUIT\r\n' | "$sendmail" -bs >"$WORK/bs.out" 2>&1 ||
    fail "sendmail -bs: status $?"
cat "$WORK/bs.out"
expect_file_has "$WORK/bs.out" '^220 '
expect_file_has "$WORK/bs.out" '^221 '

# mailq lists a queued local message.
ctl pause mda
printf 'Subject: queued\n\nx\n' | "$sendmail" carol ||
    fail "sendmail carol: status $?"
wait_for "'$WORK/bin/mailq' | grep -q '|carol@'"
"$WORK/bin/mailq" >"$WORK/mailq.out" || fail "mailq: status $?"
cat "$WORK/mailq.out"
expect_file_has "$WORK/mailq.out" "^[0-9a-f]{16}\\|local\\|mda\\|([a-z,]*,)?local(,[a-z,]*)?\\|$TEST_USER@"
ctl resume mda
wait_maildir "$WORK/home/carol/Maildir" 2
stop_smtpd

[ "$(subjects_of alice)" = "argv dash t dot dot i " ] ||
    fail "alice got: $(subjects_of alice)"

# The daemon is down: EX_TEMPFAIL, the caller keeps the message.
printf 'Subject: down\n\nx\n' | "$sendmail" alice >"$WORK/down.out" 2>&1
rc=$?
[ $rc = 75 ] || fail "sendmail with smtpd down: status $rc, not 75"
pass
