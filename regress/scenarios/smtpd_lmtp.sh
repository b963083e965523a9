#!/bin/sh
# Delivery over LMTP, to a small LMTP server (regress/smtp-script/
# lmtp_server.py) on a loopback TCP port and on a UNIX socket in $WORK:
# LHLO, MAIL FROM the sender, RCPT TO the user name (or the address with
# rcpt-to), the message dot-stuffed; the server's 5xx is a permanent
# failure, its 4xx a temporary one, both logged with its reply.
. "$TOP/regress/lib.sh"

make_users bob carol rejectme laterme
lmtp=$TOP/regress/smtp-script/lmtp_server.py
"$PYTHON" "$lmtp" --out "$WORK/lmtp-tcp" --tcp "$WORK/lmtp.port" \
    2>"$WORK/lmtp-tcp.err" &
bg_register $!
"$PYTHON" "$lmtp" --out "$WORK/lmtp-unix" --unix "$WORK/lmtp.sock" \
    2>"$WORK/lmtp-unix.err" &
bg_register $!
wait_for_file "$WORK/lmtp.port"
wait_for "test -S '$WORK/lmtp.sock'"
LPORT=$(cat "$WORK/lmtp.port")

make_instance main <<CONF
listen on 127.0.0.1 port @PORT@
table users file:@WORK@/userbase
action "by-tcp" lmtp 127.0.0.1:$LPORT userbase <users>
action "by-unix" lmtp "@WORK@/lmtp.sock" rcpt-to userbase <users>
match from any for domain tcp.test action "by-tcp"
match from any for domain unix.test action "by-unix"
CONF
start_smtpd

printf '%s\n' 'Subject: over lmtp' '' 'hello' '.starts with a dot' \
    'bye' >"$WORK/msg"
run_script send <<'EOF'
connect 127.0.0.1 ${PORT}
expect 220
send EHLO client.test
expect 250
send MAIL FROM:<sender@example.org>
expect 250
send RCPT TO:<bob@tcp.test>
expect 250
send RCPT TO:<carol@unix.test>
expect 250
send DATA
expect 354
data-file ${WORK}/msg
expect 250
send MAIL FROM:<>
expect 250
send RCPT TO:<rejectme@tcp.test>
expect 250
send RCPT TO:<laterme@tcp.test>
expect 250
send DATA
expect 354
data-file ${WORK}/msg
expect 250
send QUIT
expect 221
EOF

wait_for "grep -l '^RCPT TO:<bob>' '$WORK'/lmtp-tcp/msg.* 2>/dev/null"
wait_for "ls '$WORK'/lmtp-unix/msg.* 2>/dev/null"
tcpmsg=$(grep -l '^RCPT TO:<bob>' "$WORK"/lmtp-tcp/msg.*)
unixmsg=$(ls "$WORK"/lmtp-unix/msg.* | head -n 1)
for m in $tcpmsg $unixmsg; do
	echo "--- $m:"
	cat "$m"
done
expect_file_has "$WORK/lmtp-tcp/log" '^LHLO .'
[ "$(sed -n 1p "$tcpmsg")" = "MAIL FROM:<sender@example.org>" ] ||
    fail "LMTP over TCP: MAIL FROM is not the sender"
[ "$(sed -n 2p "$tcpmsg")" = "RCPT TO:<bob>" ] ||
    fail "LMTP over TCP: RCPT TO is not the user name"
[ "$(sed -n 2p "$unixmsg")" = "RCPT TO:<carol@unix.test>" ] ||
    fail "LMTP with rcpt-to: RCPT TO is not the address"
for m in $tcpmsg $unixmsg; do
	expect_file_has "$m" '^Return-Path: <sender@example\.org>'
	expect_file_has "$m" '^Received: '
	# The content as sent, CRLF on the wire, dot-stuffing undone.
	tail -n 5 "$m" | tr -d '\r' >"$WORK/tail"
	cmp -s "$WORK/msg" "$WORK/tail" || fail "$m: the content differs"
done
wait_log "to=<bob@tcp\\.test>.*result=Ok"
wait_log "to=<carol@unix\\.test>.*result=Ok"

# The server's 550 and 451 at RCPT.
wait_log "to=<rejectme@tcp\\.test>.*result=PermFail.*550"
wait_log "to=<laterme@tcp\\.test>.*result=TempFail.*451"
stop_smtpd
pass
