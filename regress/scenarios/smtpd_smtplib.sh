#!/bin/sh
# Python's smtplib against the daemon: the EHLO keywords, VRFY, NOOP, a
# message to several recipients with one refused (the others get it),
# an SMTPUTF8 message, and the errors smtplib raises for the rest.
. "$TOP/regress/lib.sh"

make_users alice bob
make_instance main <<'CONF'
listen on 127.0.0.1 port @PORT@
table users file:@WORK@/userbase
action "local" maildir userbase <users>
match from any for local action "local"
CONF
start_smtpd

cat >"$WORK/client.py" <<'EOF'
import smtplib, sys
from email.message import EmailMessage

port = int(sys.argv[1])
def check(cond, what):
    if not cond:
        sys.exit("FAILED: " + what)

with smtplib.SMTP("127.0.0.1", port, timeout=60) as s:
    code, _ = s.ehlo("smtplib.test")
    check(code == 250, "EHLO")
    for kw in ("pipelining", "8bitmime", "smtputf8", "size",
               "enhancedstatuscodes"):
        check(s.has_extn(kw), "EHLO lacks " + kw)
    check(int(s.esmtp_features["size"]) > 0, "SIZE without a number")
    check(s.noop()[0] == 250, "NOOP")
    check(s.verify("alice")[0] == 252, "VRFY")

    msg = EmailMessage()
    msg["From"] = "sender@example.org"
    msg["To"] = "alice@localhost, bob@localhost"
    msg["Subject"] = "smtplib several"
    msg.set_content("Three recipients, one refused.\n")
    refused = s.send_message(msg, to_addrs=["alice@localhost",
                             "nosuchuser@localhost", "bob@localhost"])
    check(list(refused) == ["nosuchuser@localhost"],
          "refused: %r" % refused)
    check(refused["nosuchuser@localhost"][0] == 550, "not 550")
    check(refused["nosuchuser@localhost"][1].startswith(b"5.1.1"),
          "not 5.1.1")

    msg = EmailMessage()
    msg["From"] = "Zoë <zoë@exämple.org>"
    msg["To"] = "alice@localhost"
    msg["Subject"] = "smtplib utf8 ☃"
    msg.set_content("Grüße ☃\n", cte="8bit")
    # smtplib adds SMTPUTF8 and BODY=8BITMIME itself for such a message.
    s.send_message(msg, from_addr="zoë@exämple.org",
                   to_addrs=["alice@localhost"])

    try:
        s.sendmail("sender@example.org", ["nosuchuser@localhost"], "x")
        check(False, "a message to nobody was accepted")
    except smtplib.SMTPRecipientsRefused as e:
        check(e.recipients["nosuchuser@localhost"][0] == 550,
              "refused with %r" % e.recipients)
    s.rset()
    try:
        s.sendmail("sender@example.org", ["someone@example.com"], "x")
        check(False, "relayed")
    except smtplib.SMTPRecipientsRefused as e:
        check(e.recipients["someone@example.com"][1].startswith(b"5.7.1"),
              "relay refused with %r" % e.recipients)
print("smtplib: all checks passed")
EOF
"$PYTHON" "$WORK/client.py" "$PORT" >"$WORK/client.out" 2>&1 || {
	cat "$WORK/client.out"
	fail "the smtplib client failed"
}
cat "$WORK/client.out"
wait_maildir "$WORK/home/alice/Maildir" 2
wait_maildir "$WORK/home/bob/Maildir" 1
f=$(grep -l '^Subject: smtplib several$' $(maildir_files "$WORK/home/alice/Maildir"))
[ -n "$f" ] || fail "alice has no 'smtplib several'"
expect_file_has "$f" '^Three recipients, one refused\.$'
f=$(grep -l '^Return-Path: <zoë@exämple\.org>$' $(maildir_files "$WORK/home/alice/Maildir"))
[ -n "$f" ] || fail "the SMTPUTF8 message is not there"
expect_file_has "$f" '^Grüße ☃$'
stop_smtpd
pass
