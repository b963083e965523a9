#!/bin/sh
# filter-monkey (random latency, 4xx and 421 at every step, messages
# held whole until their end) in a chain behind a real smtpd, under
# three concurrent streams of sessions: the daemon never answers a 5xx,
# every message it accepted with 250 is delivered whole, and no message
# it refused is (nothing of a failed transaction is queued).
. "$TOP/regress/lib.sh"

make_users alice
make_instance main <<'CONF'
filter monkey proc-exec "filter-monkey -f 12 -H 30 -l 0-30 -s 20231"
filter seen proc-exec "filter-trace -n"
listen on 127.0.0.1 port @PORT@ filter { monkey, seen }
table users file:@WORK@/userbase
action "local" maildir userbase <users>
match from any for local action "local"
CONF
start_smtpd

cat >"$WORK/client.py" <<'EOF'
import smtplib, sys
port, prefix, count = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
acc = open(sys.argv[4], "w")
ref = open(sys.argv[5], "w")
bad = 0

def check(step, code, mid):
    global bad
    if 200 <= code < 400:
        return True
    if code >= 500 or code < 200:
        bad += 1
        print("%s: %s answered %d" % (mid, step, code))
    ref.write(mid + "\n")
    return False

for i in range(count):
    mid = "%s-%04d" % (prefix, i)
    body = "".join("line %d of %s\r\n" % (n, mid) for n in range(200))
    msg = ("From: m@example.org\r\nSubject: %s\r\nX-Test-Id: %s\r\n\r\n%s"
           % (mid, mid, body))
    try:
        s = smtplib.SMTP("127.0.0.1", port, timeout=60)
    except smtplib.SMTPConnectError as e:
        check("banner", e.smtp_code, mid)
        continue
    try:
        ok = (check("ehlo", s.ehlo("monkey.test")[0], mid) and
              check("mail", s.mail("m@example.org")[0], mid) and
              check("rcpt", s.rcpt("alice@localhost")[0], mid))
        if ok:
            try:
                code = s.data(msg)[0]
            except smtplib.SMTPDataError as e:
                code = e.smtp_code
            if check("data", code, mid):
                acc.write(mid + "\n")
        s.quit()
    except smtplib.SMTPServerDisconnected:
        ref.write(mid + "\n")
    acc.flush()
    ref.flush()
sys.exit(1 if bad else 0)
EOF

pids=""
for c in a b c; do
	$PYTHON "$WORK/client.py" "$PORT" "$c" 25 "$WORK/acc.$c" \
	    "$WORK/ref.$c" >"$WORK/client.$c.out" 2>&1 &
	pids="$pids $!"
	bg_register $!
done
for p in $pids; do
	wait "$p" || { cat "$WORK"/client.*.out; fail "a client saw a 5xx"; }
done
cat "$WORK"/acc.? | sort -u >"$WORK/accepted"
cat "$WORK"/ref.? | sort -u >"$WORK/refused"
nacc=$(wc -l <"$WORK/accepted")
nref=$(wc -l <"$WORK/refused")
note "$nacc accepted, $nref refused"
[ $((nacc + nref)) = 75 ] || fail "$nacc + $nref messages is not 75"
[ "$nacc" -gt 0 ] && [ "$nref" -gt 0 ] || fail "the monkey did nothing"

md=$WORK/home/alice/Maildir
wait_maildir "$md" "$nacc" 120
: >"$WORK/delivered.raw"
for f in $(maildir_files "$md"); do
	[ "$(grep -c '^line [0-9]* of ' "$f")" = 200 ] ||
	    fail "$f lost lines"
	sed -n 's/^X-Test-Id: //p' "$f" >>"$WORK/delivered.raw"
done
sort "$WORK/delivered.raw" >"$WORK/delivered"
cmp -s "$WORK/delivered" "$WORK/accepted" || {
	diff "$WORK/accepted" "$WORK/delivered"
	fail "what was delivered is not what was accepted"
}
expect_file_lacks "$LOG" 'smtp failed-command .*result="5'
stop_smtpd
pass
