#!/bin/sh
# The protocol's own refusals: commands out of sequence (503), unknown
# commands (500), an over-long command line (500), VRFY/EXPN (252/502),
# HELP, NOOP, RSET; in the data, a line over 1000 octets and a NUL byte
# refuse the message (5xx after the dot); a bare LF ends a line but
# "\n.\n" does not end the message (no SMTP smuggling); too many errors
# end the session with 421.
. "$TOP/regress/lib.sh"

make_users alice
make_instance main <<'CONF'
listen on 127.0.0.1 port @PORT@
table users file:@WORK@/userbase
action "local" maildir userbase <users>
match from any for local action "local"
CONF
start_smtpd

long=$("$PYTHON" -c 'print("x" * 600)')
"$PYTHON" -c 'print("Subject: long line\n\n" + "y" * 1200)' >"$WORK/longline"
run_script sequence <<EOF
connect 127.0.0.1 \${PORT}
expect 220
send MAIL FROM:<sender@example.org>
expect 503 ^503 5\.5\.1 
send EHLO client.test
expect 250
send RCPT TO:<alice@localhost>
expect 503 ^503 5\.5\.1 
send DATA
expect 503 ^503 5\.5\.1 
send MAIL FROM:<sender@example.org>
expect 250
send MAIL FROM:<sender@example.org>
expect 503 ^503 5\.5\.1 
send DATA
expect 5xx ^(503|554) 5\.5\.1 
send FOO bar
expect 500 ^500 5\.5\.[0-9]+ 
send NOOP $long
expect 500 ^500 5\.5\.[0-9]+ 
send VRFY alice
expect 252 ^252 2\.[0-9]+\.[0-9]+ 
send EXPN list
expect 502 ^502 5\.5\.1 
send HELP
expect 214 ^214 2\.0\.0 
send NOOP
expect 250 ^250 2\.0\.0 
send RSET
expect 250 ^250 2\.0\.0 
send MAIL FROM:<sender@example.org>
expect 250
send RCPT TO:<alice@localhost>
expect 250
send DATA
expect 354
data-file \${WORK}/longline
expect 5xx ^5[0-9][0-9] 5\.[0-9]+\.[0-9]+ .*line
send MAIL FROM:<sender@example.org>
expect 250
send RCPT TO:<alice@localhost>
expect 250
send DATA
expect 354
send Subject: nul
send
send-raw a NUL \0 in the body\r\n.\r\n
expect 554 ^554 5\.6\.0 
send QUIT
expect 221
expect-close
EOF

# A bare LF ends a line; "\n.\n" and "\n.\r\n" inside are content.
run_script bare_lf <<'EOF'
connect 127.0.0.1 ${PORT}
expect 220
send EHLO client.test
expect 250
send MAIL FROM:<sender@example.org>
expect 250
send RCPT TO:<alice@localhost>
expect 250
send DATA
expect 354
send-raw Subject: bare lf\r\n\r\nline one\nline two\n.\nMAIL FROM:<smuggled@example.org>\r\nafter\n.\r\nlast\r\n.\r\n
expect 250
send QUIT
expect 221
EOF
wait_maildir "$WORK/home/alice/Maildir" 1
f=$(maildir_files "$WORK/home/alice/Maildir")
echo "--- $f:"
cat "$f"
expect_file_has "$f" '^line one$'
expect_file_has "$f" '^line two$'
expect_file_has "$f" '^MAIL FROM:<smuggled@example\.org>$'
expect_file_has "$f" '^last$'
expect_file_lacks "$LOG" 'from=<smuggled@example\.org>'

# Errors upon errors: the server gives up with 421 and closes.
{
	echo 'connect 127.0.0.1 ${PORT}'
	echo 'expect 220'
	echo 'pipeline'
	i=0
	while [ $i -lt 30 ]; do
		echo 'send FOO'
		i=$((i + 1))
	done
	echo 'end'
	echo 'sleep-until-closed'
} >"$WORK/errors.gen"
run_script errors <"$WORK/errors.gen"
grep -q '^S: 421 4\.[0-9]*\.[0-9]* ' "$WORK/errors.out" ||
    fail "no 421 before the close"
stop_smtpd
[ "$(maildir_count "$WORK/home/alice/Maildir")" = 1 ] ||
    fail "a refused message was delivered"
pass
