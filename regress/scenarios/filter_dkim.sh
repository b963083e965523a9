#!/bin/sh
# filter-dkim-sign driven alone through smtpd-probe: scripted sessions,
# the data-out lines checked by regress/dkim/verify.py (python3-dkim, no
# DNS) for both algorithms; mail from another domain comes out
# unchanged; -E signs on the envelope sender; a bad key stops start-up.
set -u

TOP=${TOP:-$(pwd)}
WORK=${WORK:?}
PROBE="$TOP/probe/smtpd-probe"
FILTER="$TOP/filters/filter-dkim-sign/filter-dkim-sign"
VERIFY="${PYTHON:-python3} $TOP/regress/dkim/verify.py"
FIX="$TOP/regress/dkim"

fail() {
	echo "FAIL: $*"
	exit 1
}

for f in "$PROBE" "$FILTER"; do
	[ -x "$f" ] || fail "$f not built"
done

# Keys, made here.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
    -out "$WORK/rsa.pem" 2>/dev/null || fail "RSA keygen"
openssl genpkey -algorithm ED25519 -out "$WORK/ed25519.pem" ||
    fail "Ed25519 keygen"
for k in rsa ed25519; do
	openssl pkey -in "$WORK/$k.pem" -pubout -out "$WORK/$k.pub" ||
	    fail "public key of $k"
done

# The fixture plus a line far over 998 bytes.
cp "$FIX/from-signing-domain.eml" "$WORK/signing.eml"
awk 'BEGIN { s = ""; for (i = 0; i < 3000; i++) s = s "x"; print s }' \
    >>"$WORK/signing.eml"
echo "last line" >>"$WORK/signing.eml"

# session NAME MAILFROM MESSAGE [MAILFROM MESSAGE] -- FILTER ARGS...:
# one session, one transaction per message, data-out in NAME.N.out.
session() {
	name=$1
	shift
	script="$WORK/$name.script"
	{
		echo "connect 192.0.2.1 client.example.net confirmed"
		echo "helo client.example.net"
		count=0
		while [ "$1" != "--" ]; do
			count=$((count + 1))
			echo "tx-begin"
			echo "mail $1"
			echo "rcpt suzie@shopping.example.net"
			echo "data"
			echo "output $WORK/$name.$count.out"
			echo "body $2"
			echo "eom"
			echo "tx-commit"
			shift 2
		done
		echo "disconnect"
	} >"$script"
	shift
	"$PROBE" -t 30000 -f "$script" filter "$FILTER $*" \
	    >"$WORK/$name.log" 2>&1 || {
		cat "$WORK/$name.log"
		fail "$name: probe session failed"
	}
	grep -q '^eom: accept' "$WORK/$name.log" || {
		cat "$WORK/$name.log"
		fail "$name: eom not accepted"
	}
}

verify() {
	key=$1
	shift
	$VERIFY -k "$WORK/$key.pub" -d example.org -s sel1 "$@" ||
	    fail "verify.py with $key: $*"
}

# Both algorithms; the default (relaxed/relaxed) and simple/simple.
for k in rsa ed25519; do
	for c in relaxed/relaxed simple/simple simple/relaxed; do
		n=$k-$(echo $c | tr / -)
		session "$n" joe@example.org "$WORK/signing.eml" -- \
		    -k "$WORK/$k.pem" -d example.net -d example.org -s sel1 \
		    -c $c
		out="$WORK/$n.1.out"
		head -n 1 "$out" | grep -q '^DKIM-Signature: v=1; a=' ||
		    fail "$n: no DKIM-Signature first"
		# After the signature, the message exactly as it came.
		awk 'NR == 1 { sig = 1; next }
		    sig && /^[ \t]/ { next }
		    { sig = 0; print }' "$out" >"$WORK/$n.rest"
		cmp -s "$WORK/$n.rest" "$WORK/signing.eml" ||
		    fail "$n: message lines changed"
		grep -q "c=$c;" "$out" || fail "$n: c= is not $c"
		verify $k "$out"
	done
done
grep -q 'a=ed25519-sha256;' "$WORK/ed25519-relaxed-relaxed.1.out" ||
    fail "ed25519 key did not give a=ed25519-sha256"

# The verifier is not a rubber stamp: a changed body fails.
sed 's/^Hi\.$/Hi!/' "$WORK/rsa-relaxed-relaxed.1.out" >"$WORK/tampered.out"
if $VERIFY -k "$WORK/rsa.pub" "$WORK/tampered.out" >/dev/null; then
	fail "a tampered message verified"
fi

# Another domain: out unchanged, unsigned.  Two transactions in one
# session: the second, from our domain, is signed.
session other joe@other.example.net "$FIX/from-other-domain.eml" \
    joe@example.org "$WORK/signing.eml" -- \
    -k "$WORK/ed25519.pem" -d example.org -s sel1
cmp -s "$WORK/other.1.out" "$FIX/from-other-domain.eml" ||
    fail "mail from another domain was changed"
verify ed25519 "$WORK/other.2.out"

# Two From: fields (RFC 5322 allows one): not signed, even when ours.
{ echo "From: eve@example.org"; cat "$WORK/signing.eml"; } >"$WORK/twofrom.eml"
session twofrom joe@example.org "$WORK/twofrom.eml" -- \
    -k "$WORK/ed25519.pem" -d example.org -s sel1
cmp -s "$WORK/twofrom.1.out" "$WORK/twofrom.eml" ||
    fail "a message with two From: fields was changed"

# An empty message (no line at all) goes through, unsigned and empty;
# with -E the envelope sender gets it signed all the same.
: >"$WORK/empty.eml"
session empty joe@example.org "$WORK/empty.eml" -- \
    -k "$WORK/ed25519.pem" -d example.org -s sel1
grep -q '^eom: accept, 0 lines out' "$WORK/empty.log" ||
    fail "empty message: $(grep '^eom' "$WORK/empty.log")"
session emptyenv joe@example.org "$WORK/empty.eml" -- \
    -E -k "$WORK/ed25519.pem" -d example.org -s sel1
verify ed25519 "$WORK/emptyenv.1.out"

# The envelope sender does not count without -E ...
session noenv joe@example.org "$FIX/from-other-domain.eml" -- \
    -k "$WORK/rsa.pem" -d example.org -s sel1
cmp -s "$WORK/noenv.1.out" "$FIX/from-other-domain.eml" ||
    fail "signed on the envelope sender without -E"
# ... and does with it.
session env joe@example.org "$FIX/from-other-domain.eml" -- \
    -E -k "$WORK/rsa.pem" -d example.org -s sel1
verify rsa "$WORK/env.1.out"

# Oversigned From and a header list of our own.
session list joe@example.org "$WORK/signing.eml" -- \
    -o -h subject:from:x-absent -k "$WORK/ed25519.pem" -d example.org -s sel1
grep -q 'h=subject:from:from;' "$WORK/list.1.out" ||
    fail "-o -h: unexpected h= in $(head -n 3 "$WORK/list.1.out")"
verify ed25519 "$WORK/list.1.out"

# A key that cannot be used stops the filter at start-up, saying why.
if "$FILTER" -k "$WORK/missing.pem" -d example.org -s sel1 \
    2>"$WORK/badkey.err"; then
	fail "started with a missing key"
fi
grep -q 'missing.pem' "$WORK/badkey.err" || fail "no clear key error"
echo "not a key" >"$WORK/garbage.pem"
if "$FILTER" -k "$WORK/garbage.pem" -d example.org -s sel1 \
    2>"$WORK/garbage.err"; then
	fail "started with a garbage key"
fi
grep -q 'garbage.pem' "$WORK/garbage.err" || fail "no clear key error"

echo "filter_dkim: all checks passed"
exit 0
