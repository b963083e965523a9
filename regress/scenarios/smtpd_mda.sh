#!/bin/sh
# Delivery through an mda command: the message on its standard input,
# the documented environment (SENDER, RECIPIENT, USER, HOME, EXTENSION,
# ...), the %{...} format expanded in the command line; exit 75 is a
# temporary failure that stays queued, any other failure bounces: one
# DSN (multipart/report) to the local sender for its failed recipients.
. "$TOP/regress/lib.sh"

make_users alice bob later permfail1 permfail2
mkdir -p "$WORK/mda-out"
chmod 1777 "$WORK/mda-out"
cat >"$WORK/mda.sh" <<EOF
#!/bin/sh
# \$1: the user (%{rcpt.user:strip}), \$2: the domain (%{rcpt.domain})
case "\$1" in
later*)		echo "mailbox busy" >&2; exit 75 ;;
permfail*)	echo "no such mailbox here" >&2; exit 67 ;;
esac
cat >"$WORK/mda-out/\$1.msg" || exit 75
env | sort >"$WORK/mda-out/\$1.env"
printf '%s\n' "\$@" >"$WORK/mda-out/\$1.args"
EOF
chmod 755 "$WORK/mda.sh"

make_instance main <<'CONF'
listen on 127.0.0.1 port @PORT@
table users file:@WORK@/userbase
action "mda" mda "@WORK@/mda.sh %{rcpt.user:strip} %{rcpt.domain}" \
	userbase <users>
action "inbox" maildir userbase <users>
match from any for rcpt-to alice@localhost action "inbox"
match from any for local action "mda"
CONF
SMTPD_BOUNCE_DELAY=20
start_smtpd

printf '%s\n' 'From: alice@localhost' 'Subject: to the mda' '' \
    'Body line one.' '.dotted' 'Body line three.' >"$WORK/msg"
run_script send <<'EOF'
connect 127.0.0.1 ${PORT}
expect 220
send EHLO client.test
expect 250
send MAIL FROM:<alice@localhost>
expect 250
send RCPT TO:<bob+tag@localhost>
expect 250
send RCPT TO:<later@localhost>
expect 250
send RCPT TO:<permfail1@localhost>
expect 250
send RCPT TO:<permfail2@localhost>
expect 250
send DATA
expect 354
data-file ${WORK}/msg
expect 250
send QUIT
expect 221
EOF
msgid=$(script_msgid send)

# bob: the message on stdin, the environment, the arguments.
wait_for_file "$WORK/mda-out/bob.args"
out=$WORK/mda-out
[ "$(cat "$out/bob.args")" = "$(printf 'bob\nlocalhost')" ] ||
    fail "mda arguments: $(cat "$out/bob.args")"
expect_file_has "$out/bob.msg" '^Return-Path: <alice@localhost>$'
expect_file_has "$out/bob.msg" '^Delivered-To: bob(\+tag)?@localhost$'
expect_file_has "$out/bob.msg" '^Received: '
tail -n 4 "$out/bob.msg" >"$WORK/bob.tail"
printf '%s\n' '' 'Body line one.' '.dotted' 'Body line three.' |
    cmp -s - "$WORK/bob.tail" || fail "the body the mda read differs"
echo "--- environment of the mda:"
cat "$out/bob.env"
e=$out/bob.env
expect_file_has "$e" '^SENDER=alice@localhost$'
expect_file_has "$e" '^RECIPIENT=bob(\+tag)?@localhost$'
expect_file_has "$e" '^ORIGINAL_RECIPIENT=bob\+tag@localhost$'
expect_file_has "$e" '^EXTENSION=tag$'
expect_file_has "$e" '^DOMAIN=localhost$'
expect_file_has "$e" '^LOCAL=bob(\+tag)?$'
expect_file_has "$e" '^USER=bob$'
expect_file_has "$e" '^LOGNAME=bob$'
expect_file_has "$e" "^HOME=$WORK/home/bob\$"
expect_file_has "$e" '^SHELL=/bin/sh$'
expect_file_has "$e" '^PATH=.'
wait_log "mda delivery evpid=$msgid[0-9a-f]{8} .*to=<bob\\+tag@localhost>.*result=Ok"

# later: a temporary failure, logged with the mda's reason, still queued.
wait_log "mda delivery evpid=$msgid[0-9a-f]{8} .*to=<later@localhost>.*result=TempFail.*mailbox busy"
[ -n "$(find "$SPOOL" -path '*/envelopes/*' -type f | head -n 1)" ] ||
    fail "the tempfailed envelope is not in the queue"

# permfail1 and permfail2: one DSN to alice naming both.
wait_log "to=<permfail1@localhost>.*result=PermFail"
wait_log "to=<permfail2@localhost>.*result=PermFail"
md=$WORK/home/alice/Maildir
wait_for "cat '$md'/new/* '$md'/cur/* 2>/dev/null |
    grep -q '^Final-Recipient: rfc822; *permfail2@localhost'"
wait_for "cat '$md'/new/* '$md'/cur/* 2>/dev/null |
    grep -q '^Final-Recipient: rfc822; *permfail1@localhost'"
n=$(maildir_count "$md")
dsn=$(maildir_files "$md" | head -n 1)
echo "--- the DSN:"
cat "$dsn"
[ "$n" = 1 ] || fail "$n DSNs for one message's failed recipients, not 1"
expect_file_has "$dsn" '^Return-Path: <>$'
expect_file_has "$dsn" '^Delivered-To: alice@localhost$'
expect_file_has "$dsn" '^Content-Type: multipart/report;'
expect_file_has "$dsn" 'report-type="?delivery-status'
expect_file_has "$dsn" '^Content-Type: message/delivery-status'
expect_file_has "$dsn" '^Final-Recipient: rfc822; ?permfail1@localhost$'
expect_file_has "$dsn" '^Final-Recipient: rfc822; ?permfail2@localhost$'
expect_file_has "$dsn" '^Action: failed$'
expect_file_has "$dsn" '^Status: 5\.[0-9]+\.[0-9]+$'
expect_file_has "$dsn" 'no such mailbox here'
expect_file_lacks "$dsn" 'Final-Recipient: rfc822; ?(bob|later)'
# The original headers travel in the third part.
expect_file_has "$dsn" '^Content-Type: text/rfc822-headers'
expect_file_has "$dsn" '^Subject: to the mda$'
stop_smtpd
pass
