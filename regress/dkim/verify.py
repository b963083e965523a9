#!/usr/bin/env python3
"""Verify the DKIM signature of messages without any DNS.

usage: verify.py (-k PUBKEY.pem | -r RECORD) [-d DOMAIN] [-s SELECTOR]
                 MESSAGE...

The key record a verifier would fetch from DNS is built from the PEM
public key (or given as is with -r, e.g. "v=DKIM1; k=ed25519; p=...") and
handed to dkim.verify() through its dnsfunc hook.  -d and -s check that
the signature asks for that domain and selector.  Exit status: 0 when
every MESSAGE verifies, 1 when one does not, 2 on a usage error.
"""

import argparse
import base64
import os
import sys

try:
    import dkim
except ImportError:
    # A python3 earlier in PATH (a virtualenv, pyenv) may lack the
    # Debian module: try the system interpreter once.
    system = "/usr/bin/python3"
    if os.path.exists(system) and os.path.realpath(sys.executable) != \
            os.path.realpath(system) and "DKIM_VERIFY_REEXEC" not in os.environ:
        os.environ["DKIM_VERIFY_REEXEC"] = "1"
        os.execv(system, [system] + sys.argv)
    print("verify.py: python module dkim missing "
          "(Debian package python3-dkim)", file=sys.stderr)
    sys.exit(2)

OID_RSA = bytes.fromhex("2a864886f70d010101")     # rsaEncryption
OID_ED25519 = bytes.fromhex("2b6570")             # id-Ed25519


def record_from_pem(path):
    """The TXT record for a PEM public (SubjectPublicKeyInfo) key."""
    with open(path, "rb") as f:
        lines = f.read().decode("ascii").split("\n")
    body = "".join(l.strip() for l in lines
                   if l.strip() and not l.startswith("-----"))
    der = base64.b64decode(body)
    if OID_ED25519 in der[:16]:
        # RFC 8463: the bare 32-byte key, not the SPKI structure.
        return "v=DKIM1; k=ed25519; p=" + \
            base64.b64encode(der[-32:]).decode("ascii")
    if OID_RSA in der[:32]:
        return "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode("ascii")
    print("verify.py: %s: not an RSA or Ed25519 public key" % path,
          file=sys.stderr)
    sys.exit(2)


def main():
    ap = argparse.ArgumentParser(description="verify DKIM without DNS")
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("-k", dest="pubkey", help="PEM public key")
    g.add_argument("-r", dest="record", help="key record text")
    ap.add_argument("-d", dest="domain", help="expected d=")
    ap.add_argument("-s", dest="selector", help="expected s=")
    ap.add_argument("messages", nargs="+")
    args = ap.parse_args()

    record = args.record if args.record else record_from_pem(args.pubkey)
    record = record.encode("ascii")
    asked = []

    def dnsfunc(name, timeout=5):
        asked.append(name)
        return record

    failed = 0
    for path in args.messages:
        with open(path, "rb") as f:
            message = f.read()
        del asked[:]
        ok = dkim.verify(message, dnsfunc=dnsfunc)
        if ok and (args.domain or args.selector):
            want = (args.selector or "") + "._domainkey." + \
                (args.domain or "") + "."
            got = asked[0].decode() if asked and isinstance(asked[0], bytes) \
                else (asked[0] if asked else "")
            if (args.selector and not got.startswith(args.selector + ".")) or \
                    (args.domain and not got.endswith("." + args.domain + ".")):
                print("%s: key asked for %s, expected %s" % (path, got, want))
                ok = False
        print("%s: %s" % (path, "pass" if ok else "FAIL"))
        if not ok:
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
