#!/bin/sh
# Hundreds of sessions at once in the one network process: 200 clients
# connect and all get their banner while every one of them stays open,
# then each sends a message; all 200 are delivered.
. "$TOP/regress/lib.sh"

make_users alice
make_instance main <<'CONF'
listen on 127.0.0.1 port @PORT@
table users file:@WORK@/userbase
action "local" maildir userbase <users>
match from any for local action "local"
CONF
start_smtpd

cat >"$WORK/many.py" <<'EOF'
import socket, sys

port, n = int(sys.argv[1]), int(sys.argv[2])

def reply(f):
    lines = []
    while True:
        line = f.readline()
        if not line:
            sys.exit("connection closed after %r" % lines)
        lines.append(line)
        if line[3:4] != b"-":
            return lines[-1]

conns = []
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port), timeout=120)
    conns.append((s, s.makefile("rb")))
# Every session open at the same time has its banner.
for s, f in conns:
    r = reply(f)
    if not r.startswith(b"220 "):
        sys.exit("banner: %r" % r)
for i, (s, f) in enumerate(conns):
    s.sendall(b"EHLO many.test\r\nMAIL FROM:<many@example.org>\r\n"
              b"RCPT TO:<alice@localhost>\r\nDATA\r\n")
for i, (s, f) in enumerate(conns):
    for want in (b"250", b"250", b"250", b"354"):
        r = reply(f)
        if not r.startswith(want):
            sys.exit("session %d: %r, not %r" % (i, r, want))
    s.sendall(b"Subject: many %d\r\n\r\nsession %d\r\n.\r\nQUIT\r\n"
              % (i, i))
for i, (s, f) in enumerate(conns):
    for want in (b"250", b"221"):
        r = reply(f)
        if not r.startswith(want):
            sys.exit("session %d: %r, not %r" % (i, r, want))
    s.close()
print("%d sessions done" % n)
EOF
"$PYTHON" "$WORK/many.py" "$PORT" 200 >"$WORK/many.out" 2>&1 || {
	cat "$WORK/many.out"
	fail "200 concurrent sessions failed"
}
cat "$WORK/many.out"
wait_maildir "$WORK/home/alice/Maildir" 200 120
n=$(maildir_files "$WORK/home/alice/Maildir" | xargs grep -h '^Subject: many ' |
    sort -u | wc -l)
[ "$n" = 200 ] || fail "$n distinct messages delivered, not 200"
stop_smtpd
pass
