#!/bin/sh
# DKIM signatures made by filter-dkim-sign behind a real smtpd verify
# (regress/dkim/verify.py, python3-dkim, the key record given without
# DNS) once delivered: rsa-sha256 and ed25519-sha256, relaxed and simple
# canonicalization, on a message with dot-stuffed lines, lines of 998
# bytes, 8-bit text, a folded header and trailing blanks.  What the
# signer saw is what was queued: a changed delivery would not verify.
. "$TOP/regress/lib.sh"

VERIFY="$PYTHON $TOP/regress/dkim/verify.py"
$PYTHON -c 'import dkim' 2>/dev/null ||
    skip "python3-dkim is not installed"

openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
    -out "$WORK/rsa.pem" 2>/dev/null || fail "RSA keygen"
openssl genpkey -algorithm ED25519 -out "$WORK/ed25519.pem" ||
    fail "Ed25519 keygen"
for k in rsa ed25519; do
	openssl pkey -in "$WORK/$k.pem" -pubout -out "$WORK/$k.pub" ||
	    fail "public key of $k"
	chmod 644 "$WORK/$k.pem"	# the filter runs as _smtpd
done

# user port key canonicalization, one listener each
set -- alice rsa relaxed/relaxed  bob rsa simple/simple \
    carol ed25519 relaxed/relaxed  dave ed25519 simple/simple
make_users alice bob carol dave
{
	i=0
	while [ $# -gt 0 ]; do
		i=$((i + 1))
		p=$(free_port)
		echo "$1 $p $2 $3" >>"$WORK/plan"
		echo "filter sign$i proc-exec \"filter-dkim-sign -k" \
		    "@WORK@/$2.pem -d example.org -s sel1 -c $3\""
		echo "listen on 127.0.0.1 port $p filter sign$i"
		shift 3
	done
	echo 'table users file:@WORK@/userbase'
	echo 'action "local" maildir userbase <users>'
	echo 'match from any for local action "local"'
} >"$WORK/conf.in"
PORT=$(sed -n 1p "$WORK/plan" | cut -d' ' -f2)
make_instance main <"$WORK/conf.in"
start_smtpd

long=$(awk 'BEGIN { while (n++ < 998) printf "x" }')
longdot=$(awk 'BEGIN { printf "."; while (n++ < 996) printf "y" }')
{
	printf 'From: Joe <joe@example.org>\n'
	printf 'To: friends@example.net\n'
	printf 'Subject:   folded  \n\t subject with  blanks\n'
	printf 'Date: Mon, 2 Jan 2023 10:00:00 +0000\n'
	printf 'Message-ID: <dkim-scenario@example.org>\n'
	printf '\n'
	printf 'Hi.\n'
	printf '.a line that starts with a dot\n'
	printf '..two dots\n'
	printf '.\n'
	printf '%s\n' "$long" "$longdot"
	printf 'caf\351 latin-1, caf\303\251 UTF-8\n'
	printf 'trailing blanks   \n'
	printf '\n\n'
} >"$WORK/msg"

while read -r user port key canon; do
	run_script "send-$user" <<EOF
connect 127.0.0.1 $port
expect 220
send EHLO client.test
expect 250
send MAIL FROM:<joe@example.org>
expect 250
send RCPT TO:<$user@localhost>
expect 250
send DATA
expect 354
data-file \${WORK}/msg
expect 250
send QUIT
expect 221
EOF
done <"$WORK/plan"

while read -r user port key canon; do
	md=$WORK/home/$user/Maildir
	wait_maildir "$md" 1
	f=$(maildir_files "$md")
	expect_file_has "$f" '^DKIM-Signature: v=1; a='
	case $key in
	rsa)	expect_file_has "$f" 'a=rsa-sha256;' ;;
	*)	expect_file_has "$f" 'a=ed25519-sha256;' ;;
	esac
	expect_file_has "$f" "c=$canon;"
	$VERIFY -k "$WORK/$key.pub" -d example.org -s sel1 "$f" ||
	    fail "$user ($key, $canon): the signature does not verify"
	# After the signature, the message as it was sent.
	size=$(wc -c <"$WORK/msg")
	tail -c "$size" "$f" | cmp -s - "$WORK/msg" ||
	    fail "$user: the message changed"
	note "$user: $key $canon verifies"
done <"$WORK/plan"

# The verifier is not a rubber stamp: a changed body does not verify.
f=$(maildir_files "$WORK/home/alice/Maildir")
sed 's/^Hi\.$/Hi!/' "$f" >"$WORK/tampered"
if $VERIFY -k "$WORK/rsa.pub" "$WORK/tampered" >/dev/null 2>&1; then
	fail "a tampered message verified"
fi
stop_smtpd
pass
