#!/usr/bin/python3
"""A tiny LMTP server (RFC 2033) for the scenarios: it records what it
receives and answers like a mail store would.

    lmtp_server.py --out DIR (--tcp PORTFILE | --unix PATH)

With --tcp it listens on a free 127.0.0.1 port and writes the number to
PORTFILE once it listens; with --unix it listens on PATH.  Each
transaction is written to DIR/msg.N (N from 1): the lines "MAIL FROM:..."
and "RCPT TO:..." as received, a line "DATA", then the message exactly
as it came, dot-stuffing removed.  DIR/log gets every command line.

Recipients whose local part is "reject..." get 550 5.1.1, "later..."
get 451 4.2.0, at RCPT time; every other recipient is accepted and
gets its own 250 after the data, as LMTP wants.
"""
import argparse
import os
import socket
import socketserver
import threading

lock = threading.Lock()
counter = [0]


class Handler(socketserver.StreamRequestHandler):
    def reply(self, text):
        self.wfile.write(text.encode() + b"\r\n")
        self.wfile.flush()

    def log(self, line):
        with lock, open(os.path.join(args.out, "log"), "ab") as f:
            f.write(line + b"\n")

    def handle(self):
        self.reply("220 lmtp.test LMTP ready")
        mail, rcpts = None, []
        while True:
            line = self.rfile.readline()
            if not line:
                return
            line = line.rstrip(b"\r\n")
            self.log(line)
            verb = line.split(b" ", 1)[0].upper()
            if verb == b"LHLO":
                self.reply("250-lmtp.test\r\n250-PIPELINING\r\n"
                           "250-8BITMIME\r\n250-SMTPUTF8\r\n"
                           "250 ENHANCEDSTATUSCODES")
            elif verb == b"MAIL":
                mail, rcpts = line, []
                self.reply("250 2.1.0 Ok")
            elif verb == b"RCPT":
                local = line.split(b"<", 1)[-1].lower()
                if local.startswith(b"reject"):
                    self.reply("550 5.1.1 No such mailbox here")
                elif local.startswith(b"later"):
                    self.reply("451 4.2.0 Mailbox busy, try later")
                else:
                    rcpts.append(line)
                    self.reply("250 2.1.5 Ok")
            elif verb == b"DATA":
                if mail is None or not rcpts:
                    self.reply("503 5.5.1 No valid recipients")
                    continue
                self.reply("354 Go ahead")
                body = []
                while True:
                    d = self.rfile.readline()
                    if not d:
                        return
                    if d == b".\r\n":
                        break
                    if d.startswith(b"."):
                        d = d[1:]
                    body.append(d)
                with lock:
                    counter[0] += 1
                    n = counter[0]
                path = os.path.join(args.out, "msg.%d" % n)
                with open(path + ".tmp", "wb") as f:
                    f.write(mail + b"\n")
                    for r in rcpts:
                        f.write(r + b"\n")
                    f.write(b"DATA\n")
                    f.write(b"".join(body))
                os.rename(path + ".tmp", path)
                for r in rcpts:
                    self.reply("250 2.0.0 Ok: delivered")
                mail, rcpts = None, []
            elif verb == b"RSET":
                mail, rcpts = None, []
                self.reply("250 2.0.0 Ok")
            elif verb == b"NOOP":
                self.reply("250 2.0.0 Ok")
            elif verb == b"QUIT":
                self.reply("221 2.0.0 Bye")
                return
            else:
                self.reply("500 5.5.1 Unknown command")


class TCPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class UnixServer(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True


parser = argparse.ArgumentParser()
parser.add_argument("--out", required=True)
parser.add_argument("--tcp")
parser.add_argument("--unix")
args = parser.parse_args()
os.makedirs(args.out, exist_ok=True)
if args.tcp:
    server = TCPServer(("127.0.0.1", 0), Handler)
    with open(args.tcp + ".tmp", "w") as f:
        f.write("%d\n" % server.server_address[1])
    os.rename(args.tcp + ".tmp", args.tcp)
else:
    if os.path.exists(args.unix):
        os.unlink(args.unix)
    server = UnixServer(args.unix, Handler)
    # The delivery runs as the test user; root makes it reachable.
    os.chmod(args.unix, 0o777)
server.serve_forever()
