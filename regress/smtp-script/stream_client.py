#!/usr/bin/python3
"""A stream of messages over SMTP with smtplib, for the crash scenarios.

    stream_client.py --port P --rcpt ADDR --accepted FILE --stop FILE
                     [--prefix P] [--per-session N]

Sends messages to 127.0.0.1:P until FILE --stop exists, up to N per
session (default 3).  Each message carries a unique id, in a header
"X-Test-Id: ID" and in its body "id=ID"; once the server answers 250 to
the end of its data, ID is appended to --accepted (one per line,
flushed).  Refused connections, closed sessions and 4xx replies are
normal while the daemon is killed: the client counts them on stderr and
goes on with a new id.  Exits 0 when told to stop.
"""
import argparse
import os
import smtplib
import sys
import time

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--rcpt", required=True)
parser.add_argument("--accepted", required=True)
parser.add_argument("--stop", required=True)
parser.add_argument("--prefix", default="m")
parser.add_argument("--per-session", type=int, default=3)
args = parser.parse_args()

accepted = open(args.accepted, "a")
n = 0
errors = 0
while not os.path.exists(args.stop):
    try:
        with smtplib.SMTP("127.0.0.1", args.port, timeout=30) as s:
            s.ehlo("stream.test")
            for _ in range(args.per_session):
                if os.path.exists(args.stop):
                    break
                n += 1
                mid = "%s-%06d" % (args.prefix, n)
                msg = ("From: stream@example.org\r\n"
                       "To: %s\r\n"
                       "Subject: stream %s\r\n"
                       "X-Test-Id: %s\r\n"
                       "\r\n"
                       "id=%s\r\n" % (args.rcpt, mid, mid, mid))
                s.sendmail("stream@example.org", [args.rcpt], msg)
                accepted.write(mid + "\n")
                accepted.flush()
            s.quit()
    except (OSError, smtplib.SMTPException) as e:
        errors += 1
        sys.stderr.write("stream: %s: %s\n" % (type(e).__name__, e))
        time.sleep(0.05)
sys.stderr.write("stream: %d attempted, %d errors\n" % (n, errors))
