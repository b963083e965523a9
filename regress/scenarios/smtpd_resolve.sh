#!/bin/sh
# Address resolution corner cases, end to end:
# - virtual addresses that all map to one "vmail" user keep their own
#   maildirs (%{dest.user}): an alias of two of them delivers to both;
# - a quoted local part ("...") smuggles neither shell syntax into an
#   mda command nor "/../" out of a maildir path;
# - an alias loop is refused with 550 5.4.6, and logged;
# - a list file of bare IPv6 addresses (no brackets) is a list: its
#   127.0.0.1 line lets this client relay-match;
# - a sticky home makes a ~/.forward lookup fail temporarily (451);
# - an :include: file others may write to is refused (451), then used
#   once it is fixed.
. "$TOP/regress/lib.sh"

make_users vmail alice bob
mkdir -p "$WORK/out" "$WORK/vm" "$WORK/lists"
chmod 777 "$WORK/out" "$WORK/vm"
cat >"$WORK/virtuals" <<'EOF'
info@example.org	ann@example.org, bob@example.org
ann@example.org		vmail
bob@example.org		vmail
@example.net		vmail
EOF
cat >"$WORK/aliases" <<EOF
loop1:	loop2
loop2:	loop1
list:	:include:$WORK/lists/list
EOF
printf 'alice\n' >"$WORK/lists/list"
printf '2001:db8::1\n127.0.0.1\n::1\n2001:db8:1::/48\n' >"$WORK/trusted"
printf 'alice@localhost\n' >"$WORK/home/bob/.forward"
chmod 644 "$WORK/virtuals" "$WORK/aliases" "$WORK/trusted" \
    "$WORK/home/bob/.forward"
chmod 666 "$WORK/lists/list"
chmod 1755 "$WORK/home/bob"

make_instance main <<'CONF'
listen on 127.0.0.1 port @PORT@
table users file:@WORK@/userbase
table virtuals file:@WORK@/virtuals
table aliases file:@WORK@/aliases
table trusted file:@WORK@/trusted
action "vm" maildir "@WORK@/vm/%{dest.domain}/%{dest.user}" \
    virtual <virtuals> userbase <users>
action "cmd" mda "cat > \"@WORK@/out/%{rcpt.user}\"" \
    virtual { "@" = vmail } userbase <users>
action "local" maildir alias <aliases> userbase <users>
match from any for domain { example.org, example.net } action "vm"
match from any for domain { example.com } action "cmd"
match from src <trusted> for domain { trusted.test } action "local"
match from any for local action "local"
CONF
start_smtpd

printf 'Subject: info\n\nfor ann and bob\n' >"$WORK/msg-info"
printf 'Subject: quoted\n\nhello\n' >"$WORK/msg-quoted"
run_script send <<'EOF'
connect 127.0.0.1 ${PORT}
expect 220
send EHLO client.test
expect 250
send MAIL FROM:<sender@example.org>
expect 250
send RCPT TO:<info@example.org>
expect 250
send DATA
expect 354
data-file ${WORK}/msg-info
expect 250
send MAIL FROM:<sender@example.org>
expect 250
send RCPT TO:<"x\";id>${WORK}/out/PWNED;\""@example.com>
expect 250
send RCPT TO:<"a/../../../escaped"@example.net>
expect 250
send DATA
expect 354
data-file ${WORK}/msg-quoted
expect 250
send MAIL FROM:<sender@example.org>
expect 250
send RCPT TO:<loop1@localhost>
expect 550 ^550 5\.4\.6 
send RCPT TO:<alice@trusted.test>
expect 250
send RCPT TO:<bob@localhost>
expect 451 ^451 4\.3\.0 
send RCPT TO:<list@localhost>
expect 451 ^451 4\.3\.0 
send QUIT
expect 221
EOF

# Both mailboxes of the one vmail user.
wait_maildir "$WORK/vm/example.org/ann" 1
wait_maildir "$WORK/vm/example.org/bob" 1
# The quoted local parts: delivered (or failed) without effect outside.
wait_log 'mda delivery .*to=<"x\\";id>.* result='
wait_log 'mda delivery .*to=<"a/\.\./\.\./\.\./escaped"@example\.net>.*result=Ok'
[ ! -e "$WORK/out/PWNED" ] || fail "a quoted local part ran a command"
found=$(find "$WORK" -path "$WORK/vm" -prune -o -name '*escaped*' -print)
[ -z "$found" ] || fail "a quoted local part left the maildir tree: $found"
[ -n "$(find "$WORK/vm/example.net" -name '*escaped*')" ] ||
    fail "no maildir for the quoted local part under $WORK/vm/example.net"
expect_file_has "$LOG" 'lookup rcpt <loop1@localhost>: alias loop'
expect_file_has "$LOG" 'is sticky'
expect_file_has "$LOG" 'list: writable by group or others'

# Fixed: the home is no longer sticky, the list no longer writable.
chmod 755 "$WORK/home/bob"
chmod 644 "$WORK/lists/list"
run_script again <<'EOF'
connect 127.0.0.1 ${PORT}
expect 220
send EHLO client.test
expect 250
send MAIL FROM:<sender@example.org>
expect 250
send RCPT TO:<bob@localhost>
expect 250
send RCPT TO:<list@localhost>
expect 250
send RSET
expect 250
send QUIT
expect 221
EOF
stop_smtpd
pass
