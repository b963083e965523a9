#!/bin/sh
# smtpd -n: examples/smtpd.conf is valid; a broken file gets one
# "file:line: what is wrong" per error and exit status 1; and smtpd
# without -n refuses to start on it.
. "$TOP/regress/lib.sh"
lib_build_tools

"$SMTPD_BIN" -n -f "$TOP/examples/smtpd.conf" >"$WORK/ok.out" 2>&1
rc=$?
cat "$WORK/ok.out"
[ $rc = 0 ] || fail "smtpd -n examples/smtpd.conf: status $rc"
expect_file_has "$WORK/ok.out" '^configuration OK$'

# -n -v prints the file back as understood, and that parses again.
"$SMTPD_BIN" -n -v -f "$TOP/examples/smtpd.conf" >"$WORK/dump.out" 2>&1 ||
    fail "smtpd -n -v examples/smtpd.conf failed"
sed '/^configuration OK$/d' "$WORK/dump.out" >"$WORK/dump.conf"
"$SMTPD_BIN" -n -f "$WORK/dump.conf" >/dev/null 2>&1 ||
    fail "the dump of smtpd -n -v does not parse again"

cat >"$WORK/broken.conf" <<'CONF'
# a comment
listen on 127.0.0.1 port 2525
action "local" maildir "relative/Maildir"
table aliases file:/nonexistent/aliases
match from any for local action "nosuch"
CONF
"$SMTPD_BIN" -n -f "$WORK/broken.conf" >"$WORK/broken.out" 2>&1
rc=$?
cat "$WORK/broken.out"
[ $rc = 1 ] || fail "smtpd -n on a broken file: status $rc, not 1"
expect_file_has "$WORK/broken.out" "^$WORK/broken.conf:3: .*relative/Maildir"
expect_file_has "$WORK/broken.out" "^$WORK/broken.conf:5: .*nosuch.*not defined"
expect_file_lacks "$WORK/broken.out" '^configuration OK'

# Without -n the daemon does not start either (and makes no spool).
"$SMTPD_BIN" -d -f "$WORK/broken.conf" >"$WORK/start.out" 2>&1 &
pid=$!
id=$(proc_id $pid)
bg_register $pid
poll_until "! proc_alive '$id'" 60 || fail "smtpd started on a broken file"
wait $pid
rc=$?
[ $rc = 1 ] || fail "smtpd on a broken file: status $rc, not 1"
expect_file_has "$WORK/start.out" "broken.conf:3: "
expect_file_has "$WORK/start.out" "not starting"

# A syntax error and an unsupported feature, reported together.
printf 'listen on 127.0.0.1 port\nlisten on 127.0.0.1 port 25 tls\n' \
    >"$WORK/syntax.conf"
"$SMTPD_BIN" -n -f "$WORK/syntax.conf" >"$WORK/syntax.out" 2>&1
rc=$?
cat "$WORK/syntax.out"
[ $rc = 1 ] || fail "smtpd -n on a syntax error: status $rc, not 1"
expect_file_has "$WORK/syntax.out" "^$WORK/syntax.conf:1: "
expect_file_has "$WORK/syntax.out" "^$WORK/syntax.conf:2: .*not supported yet"
pass
