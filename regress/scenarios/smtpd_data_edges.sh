#!/bin/sh
# The edges of the data phase, each on a listener without a filter and
# on one with a filter, which must answer alike:
# - a line of 998 octets that starts with a dot is 999 on the wire and
#   passes (the doubled dot is not counted, RFC 5321 4.5.3.1.6); a line
#   of 999 octets gets 552 5.5.2;
# - a message of exactly max-message-size made of dot-stuffed lines
#   passes (RFC 1870 counts no doubled dot), one octet more gets 552;
# - a CR that does not end a line refuses the message for good
#   (554 5.6.0): the filter protocol cannot carry it, and a 451 would be
#   retried for days;
# - a client that trickles a line a byte at a time times out like a
#   silent one, in commands and in the data.
. "$TOP/regress/lib.sh"

make_users alice
PORT2=$(free_port)
make_instance main <<CONF
filter trace proc-exec "filter-trace"
listen on 127.0.0.1 port @PORT@
listen on 127.0.0.1 port $PORT2 filter trace
table users file:@WORK@/userbase
action "local" maildir userbase <users>
match from any for local action "local"
smtp max-message-size 3000
smtp timeout command 5
smtp timeout data 5
CONF
start_smtpd

"$PYTHON" - "$WORK" <<'EOF' || fail "cannot write the messages"
import sys
work = sys.argv[1]
def write(name, lines):
    with open("%s/%s" % (work, name), "w") as f:
        f.write("".join(l + "\n" for l in lines))
write("dot998", ["Subject: dot line", "", "." + "d" * 997, "end"])
write("plain999", ["Subject: long line", "", "e" * 999])
# exactly 3000 octets as RFC 1870 counts them: each line and CRLF
lines = ["Subject: exact size", ""] + ["." + "s" * 47] * 55
size = sum(len(l) + 2 for l in lines)
lines.append("." + "t" * (3000 - size - 3))
assert sum(len(l) + 2 for l in lines) == 3000
write("exact", lines)
lines[-1] += "t"
write("over", lines)
EOF

for p in $PORT $PORT2; do
	run_script "data_$p" <<EOF
connect 127.0.0.1 $p
expect 220
send EHLO client.test
expect 250
send MAIL FROM:<bob@example.org>
expect 250
send RCPT TO:<alice@localhost>
expect 250
send DATA
expect 354
data-file \${WORK}/dot998
expect 250 ^250 2\.0\.0
send MAIL FROM:<bob@example.org>
expect 250
send RCPT TO:<alice@localhost>
expect 250
send DATA
expect 354
data-file \${WORK}/plain999
expect 552 ^552 5\.5\.2
send MAIL FROM:<bob@example.org> SIZE=3000
expect 250
send RCPT TO:<alice@localhost>
expect 250
send DATA
expect 354
data-file \${WORK}/exact
expect 250 ^250 2\.0\.0
send MAIL FROM:<bob@example.org>
expect 250
send RCPT TO:<alice@localhost>
expect 250
send DATA
expect 354
data-file \${WORK}/over
expect 552 ^552 5\.3\.4
send MAIL FROM:<bob@example.org>
expect 250
send RCPT TO:<alice@localhost>
expect 250
send DATA
expect 354
send-raw Subject: bare cr\r\n\r\nbare\rcr\r\n.\r\n
expect 554 ^554 5\.6\.0
send QUIT
expect 221
EOF
done

md=$WORK/home/alice/Maildir
wait_maildir "$md" 4
for f in $(maildir_files "$md"); do
	grep -q '^Subject: dot line$' "$f" || continue
	expect_file_has "$f" "^\\.d{997}\$"
	expect_file_has "$f" '^end$'
done
expect_file_lacks "$LOG" 'will be refused 451'

# A byte at a time, never a whole line: the timeout still applies.
cat >"$WORK/trickle.py" <<'EOF'
import socket, sys, time
port, phase = int(sys.argv[1]), sys.argv[2]
s = socket.create_connection(("127.0.0.1", port))
s.settimeout(30)
got = b""
def reply(code):
    global got
    while not any(l.startswith(code + b" ") for l in got.split(b"\r\n")):
        d = s.recv(4096)
        if not d:
            sys.exit("closed while waiting for %s: %r" % (code, got))
        got += d
    got = b""
reply(b"220")
if phase == "data":
    s.sendall(b"EHLO c\r\nMAIL FROM:<bob@example.org>\r\n"
        b"RCPT TO:<alice@localhost>\r\nDATA\r\n")
    reply(b"354")
s.settimeout(0.5)
deadline = time.time() + 60
while time.time() < deadline and b"\r\n" not in got:
    try:
        s.sendall(b"N")
        d = s.recv(4096)
    except socket.timeout:
        continue
    except OSError:
        break
    if not d:
        break
    got += d
if got.startswith(b"421 4.4.2 "):
    print(got.decode().strip())
    sys.exit(0)
sys.exit("no 421 while trickling for 60 s: %r" % got)
EOF
for p in $PORT $PORT2; do
	for phase in command data; do
		note "trickling on port $p, $phase phase"
		"$PYTHON" "$WORK/trickle.py" "$p" "$phase" ||
		    fail "a trickling client did not time out ($phase, port $p)"
	done
done
stop_smtpd
[ "$(maildir_count "$md")" = 4 ] || fail "a refused message was delivered"
pass
