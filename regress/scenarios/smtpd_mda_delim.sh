#!/bin/sh
# smtp sub-addr-delim reaches the environment of mda commands: with
# "-" as the delimiter, bob-lists@localhost is delivered to bob with
# LOCAL=bob and EXTENSION=lists (and a "+" is then an ordinary
# character of the local part).
. "$TOP/regress/lib.sh"

make_users bob
mkdir -p "$WORK/mda-out"
chmod 1777 "$WORK/mda-out"
cat >"$WORK/mda.sh" <<EOF
#!/bin/sh
cat >/dev/null
env | sort >"$WORK/mda-out/\$1.env"
EOF
chmod 755 "$WORK/mda.sh"

make_instance main <<'CONF'
smtp sub-addr-delim "-"
listen on 127.0.0.1 port @PORT@
table users file:@WORK@/userbase
action "mda" mda "@WORK@/mda.sh %{rcpt.user}" userbase <users>
match from any for local action "mda"
CONF
start_smtpd

run_script send <<'EOF'
connect 127.0.0.1 ${PORT}
expect 220
send EHLO client.test
expect 250
send MAIL FROM:<sender@example.org>
expect 250
send RCPT TO:<bob-lists@localhost>
expect 250
send DATA
expect 354
send Subject: delim
send
send body
send .
expect 250
send QUIT
expect 221
EOF

e=$WORK/mda-out/bob-lists.env
wait_for_file "$e"
wait_log "to=<bob-lists@localhost>.*result=Ok"
expect_file_has "$e" '^USER=bob$'
expect_file_has "$e" '^LOCAL=bob$'
expect_file_has "$e" '^EXTENSION=lists$'
expect_file_has "$e" '^ORIGINAL_RECIPIENT=bob-lists@localhost$'
stop_smtpd
pass
