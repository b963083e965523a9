#!/bin/sh
# A failure report read by a real MIME parser (Python's email package):
# two recipients of one message whose mda command exits 1 give ONE DSN,
# multipart/report; report-type=delivery-status, with a text/plain
# part, a message/delivery-status part whose fields follow RFC 3464 and
# a text/rfc822-headers part holding the original headers; it comes
# from MAILER-DAEMON with the envelope sender <>, a Date, a Message-ID
# and Auto-Submitted: auto-replied (RFC 3834).  The mda's reason is not
# an SMTP reply, so its Diagnostic-Code is not of type smtp.
. "$TOP/regress/lib.sh"

make_users alice fail1 fail2
cat >"$WORK/mda.sh" <<'EOF'
#!/bin/sh
cat >/dev/null
echo "refused by the test" >&2
exit 1
EOF
chmod 755 "$WORK/mda.sh"
make_instance main <<'CONF'
listen on 127.0.0.1 port @PORT@
table users file:@WORK@/userbase
action "inbox" maildir userbase <users>
action "fail" mda "@WORK@/mda.sh" userbase <users>
match from any for rcpt-to alice@localhost action "inbox"
match from any for local action "fail"
CONF
# both failures must meet in one report, however loaded the machine
SMTPD_BOUNCE_DELAY=20
start_smtpd

printf '%s\n' 'From: Alice <alice@localhost>' 'To: fail1@localhost' \
    'Subject: doomed twice' 'Message-ID: <orig.1@client.test>' '' \
    'body' >"$WORK/msg"
run_script send <<'EOF'
connect 127.0.0.1 ${PORT}
expect 220
send EHLO client.test
expect 250
send MAIL FROM:<alice@localhost>
expect 250
send RCPT TO:<fail1@localhost>
expect 250
send RCPT TO:<fail2@localhost>
expect 250
send DATA
expect 354
data-file ${WORK}/msg
expect 250
send QUIT
expect 221
EOF
md=$WORK/home/alice/Maildir
wait_log "queue: bounce msgid=.* report for 2 recipients"
wait_maildir "$md" 1
dsn=$(maildir_files "$md" | head -n 1)
echo "--- the DSN:"
cat "$dsn"
[ "$(maildir_count "$md")" = 1 ] || fail "more than one DSN"

"$PYTHON" - "$dsn" <<'EOF' || fail "the DSN does not parse as RFC 3464 says"
import email, email.policy, re, sys
from email.utils import parsedate_to_datetime

def check(cond, what):
    if not cond:
        print("DSN check failed:", what)
        sys.exit(1)

with open(sys.argv[1], "rb") as f:
    m = email.message_from_binary_file(f, policy=email.policy.compat32)
check(m["Return-Path"] == "<>", "envelope sender <>: %r" % m["Return-Path"])
check("MAILER-DAEMON@" in (m["From"] or ""), "From MAILER-DAEMON")
check(m["Date"] and parsedate_to_datetime(m["Date"]) is not None, "Date")
check(re.match(r"^<[^<>@\s]+@[^<>@\s]+>$", m["Message-ID"] or ""),
      "Message-ID: %r" % m["Message-ID"])
check((m["Auto-Submitted"] or "").strip() == "auto-replied",
      "Auto-Submitted")
check(m.get_content_type() == "multipart/report", "multipart/report")
check(m.get_param("report-type") == "delivery-status", "report-type")
check(not m.defects, "defects: %r" % m.defects)
parts = m.get_payload()
check(len(parts) == 3, "three parts, not %d" % len(parts))
check(parts[0].get_content_type() == "text/plain", "text/plain first")
check(parts[1].get_content_type() == "message/delivery-status",
      "message/delivery-status second")
check(parts[2].get_content_type() == "text/rfc822-headers",
      "text/rfc822-headers third")
# message/delivery-status: a list of header blocks, per-message first
blocks = parts[1].get_payload()
check(len(blocks) == 3, "1 per-message + 2 per-recipient blocks, not %d"
      % len(blocks))
pm = blocks[0]
check(re.match(r"^dns;\s*\S+$", pm["Reporting-MTA"] or ""), "Reporting-MTA")
check(pm["Arrival-Date"] and parsedate_to_datetime(pm["Arrival-Date"]),
      "Arrival-Date")
check(pm["Final-Recipient"] is None, "no recipient field per message")
rcpts = set()
for b in blocks[1:]:
    fr = b["Final-Recipient"] or ""
    mm = re.match(r"^rfc822;\s*(\S+@\S+)$", fr)
    check(mm, "Final-Recipient: %r" % fr)
    rcpts.add(mm.group(1))
    check(b["Action"] == "failed", "Action: %r" % b["Action"])
    check(re.match(r"^5\.\d{1,3}\.\d{1,3}$", b["Status"] or ""),
          "Status: %r" % b["Status"])
    dc = b["Diagnostic-Code"] or ""
    check(re.match(r"^[A-Za-z0-9-]+;\s*\S", dc), "Diagnostic-Code: %r" % dc)
    # "smtp" is for a server's reply ("550 5.1.1 ..."), nothing else
    dtype, _, dtext = dc.partition(";")
    check(dtype.strip().lower() != "smtp" or
          re.match(r"^[2-5]\d\d[ -]", dtext.strip()),
          "Diagnostic-Code of type smtp without a reply: %r" % dc)
    check("refused by the test" in dc, "the mda's reason in %r" % dc)
    for k in b.keys():
        check(k in ("Final-Recipient", "Original-Recipient", "Action",
                    "Status", "Remote-MTA", "Diagnostic-Code",
                    "Last-Attempt-Date", "Final-Log-ID",
                    "Will-Retry-Until") or k.startswith("X-"),
              "unknown per-recipient field %s" % k)
check(rcpts == {"fail1@localhost", "fail2@localhost"}, "recipients %r" % rcpts)
orig = email.message_from_string(parts[2].get_payload())
check(orig["Subject"] == "doomed twice", "original Subject")
check(orig["Message-ID"] == "<orig.1@client.test>", "original Message-ID")
print("DSN ok:", sorted(rcpts))
EOF
stop_smtpd
pass
