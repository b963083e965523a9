#!/bin/sh
# 8BITMIME and SMTPUTF8 (RFC 6152, 6531): both announced; a UTF-8 sender
# and recipient with SMTPUTF8 are accepted and an 8-bit body (UTF-8 and
# raw Latin-1 bytes) is delivered byte for byte; without SMTPUTF8 a
# UTF-8 address is refused with 553 5.6.7.
. "$TOP/regress/lib.sh"

make_users alice
printf 'jörg:\talice\n' >"$WORK/aliases"
chmod 644 "$WORK/aliases"
make_instance main <<'CONF'
listen on 127.0.0.1 port @PORT@
table users file:@WORK@/userbase
table aliases file:@WORK@/aliases
action "local" maildir alias <aliases> userbase <users>
match from any for local action "local"
CONF
start_smtpd

# Every byte value but NUL, CR and LF, in lines, after UTF-8 headers.
"$PYTHON" - "$WORK/msg" <<'EOF'
import sys
lines = [
    "From: Dörte <dörte@exämple.org>".encode(),
    "To: Jörg <jörg@localhost>".encode(),
    "Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=".encode(),
    "Content-Type: text/plain; charset=utf-8".encode(),
    "Content-Transfer-Encoding: 8bit".encode(),
    b"",
    "Grüße aus Köln — ☃ 😀".encode(),
    b"latin-1 bytes: caf\xe9 na\xefve \xa9",
]
allbytes = bytes(b for b in range(1, 256) if b not in (10, 13))
for i in range(0, len(allbytes), 60):
    lines.append(allbytes[i:i + 60])
with open(sys.argv[1], "wb") as f:
    f.write(b"\n".join(lines) + b"\n")
EOF

run_script utf8 <<'EOF'
connect 127.0.0.1 ${PORT}
expect 220
send EHLO client.test
expect 250 ^250[- ]8BITMIME$
send EHLO client.test
expect 250 ^250[- ]SMTPUTF8$
send MAIL FROM:<dörte@exämple.org> BODY=8BITMIME
expect 553 ^553 5\.6\.7 
send MAIL FROM:<sender@example.org> BODY=8BITMIME
expect 250
send RCPT TO:<jörg@localhost>
expect 553 ^553 5\.6\.7 
send RSET
expect 250
send MAIL FROM:<dörte@exämple.org> BODY=8BITMIME SMTPUTF8
expect 250
send RCPT TO:<jörg@localhost>
expect 250
send RCPT TO:<alice@localhost>
expect 250
send DATA
expect 354
data-file ${WORK}/msg
expect 250
send QUIT
expect 221
EOF
wait_maildir "$WORK/home/alice/Maildir" 2
for f in $(maildir_files "$WORK/home/alice/Maildir"); do
	[ "$(sed -n 1p "$f")" = "Return-Path: <dörte@exämple.org>" ] ||
	    fail "$f: line 1 is not the UTF-8 Return-Path"
	expect_file_has "$f" 'with UTF8SMTP'
	size=$(wc -c <"$WORK/msg")
	tail -c "$size" "$f" >"$WORK/tail"
	cmp "$WORK/msg" "$WORK/tail" ||
	    fail "$f: the 8-bit content was not delivered byte for byte"
done
stop_smtpd
pass
