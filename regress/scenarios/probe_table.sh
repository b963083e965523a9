#!/bin/sh
# smtpd-probe drives table-static alone: every table request kind, one
# request on the command line, several in a script file, requests fed
# one by one on stdin, and an update after the file was rewritten.

probe=$TOP/probe/smtpd-probe
static=$TOP/tables/table-static/table-static

fail() {
	echo "FAIL: $*"
	for f in "$WORK"/out "$WORK"/err; do
		[ -f "$f" ] && { echo "--- $f"; cat "$f"; }
	done
	exit 1
}

# expect FILE LINE: LINE is one whole line of FILE
expect() {
	grep -qxF -- "$2" "$1" || fail "$1 lacks: $2"
}

# wait_for FILE LINE: poll (up to 60 s) until LINE is in FILE
wait_for() {
	i=0
	while ! grep -qxF -- "$2" "$1" 2>/dev/null; do
		i=$((i + 1))
		[ $i -le 600 ] || fail "timed out waiting for: $2"
		sleep 0.1
	done
}

cat > "$WORK/aliases" <<'EOT'
# aliases for the probe test
root: bob, alice
Postmaster: root
nobody-here-but: x
EOT
cat > "$WORK/sources" <<'EOT'
192.0.2.1
192.0.2.2
EOT

# The example of the manual: one lookup on the command line.
"$probe" table "$static $WORK/aliases" lookup alias root \
    >"$WORK/out" 2>"$WORK/err" || fail "lookup exit status $?"
[ "$(cat "$WORK/out")" = 'lookup alias root: found "bob, alice"' ] ||
    fail "lookup output"
grep -q '^helper table-static ready: services .*alias' "$WORK/err" ||
    fail "no ready line on stderr"

# Each kind, one per run; keys are lowercased as the daemon does.
"$probe" table "$static $WORK/aliases" check alias root >"$WORK/out" \
    2>"$WORK/err" || fail "check: exit status"
expect "$WORK/out" "check alias root: found"
"$probe" table "$static $WORK/aliases" check alias nosuch >"$WORK/out" \
    2>"$WORK/err" || fail "check not found: exit status"
expect "$WORK/out" "check alias nosuch: not found"
"$probe" table "$static $WORK/aliases" lookup alias POSTMASTER \
    >"$WORK/out" 2>"$WORK/err" || fail "lookup uppercase: exit status"
expect "$WORK/out" 'lookup alias postmaster: found "root"'
"$probe" table "$static $WORK/aliases" lookup alias nosuch >"$WORK/out" \
    2>"$WORK/err" || fail "lookup not found: exit status"
expect "$WORK/out" "lookup alias nosuch: not found"
"$probe" table "$static $WORK/sources" fetch source >"$WORK/out" \
    2>"$WORK/err" || fail "fetch: exit status"
expect "$WORK/out" 'fetch source: found "192.0.2.1"'
"$probe" table "$static $WORK/aliases" update >"$WORK/out" \
    2>"$WORK/err" || fail "update: exit status"
expect "$WORK/out" "update: done"

# A script file: comments and blank lines skipped, one line per request.
cat > "$WORK/script" <<'EOT'
# several requests
lookup alias root

check alias Postmaster
lookup alias "nobody-here-but"
fetch source
EOT
"$probe" -f "$WORK/script" table "$static $WORK/aliases" >"$WORK/out" \
    2>"$WORK/err"
status=$?
[ "$(wc -l <"$WORK/out")" -eq 4 ] || fail "script: not 4 lines"
expect "$WORK/out" 'lookup alias root: found "bob, alice"'
expect "$WORK/out" 'check alias postmaster: found'
expect "$WORK/out" 'lookup alias nobody-here-but: found "x"'
# A mapping does not serve "source": the helper answers -1, which is a
# temporary failure and exit status 1, after every other request ran.
expect "$WORK/out" 'fetch source: temporary failure'
[ $status -eq 1 ] || fail "script: status $status, not 1"

# A bad request in a script is found before any helper is started.
printf 'lookup alias root\nlookup nosuchservice x\n' >"$WORK/bad"
"$probe" -f "$WORK/bad" table \
    "sh -c 'touch $WORK/started; exec $static $WORK/aliases'" \
    >"$WORK/out" 2>"$WORK/err"
[ $? -eq 2 ] || fail "bad script: status not 2"
grep -q "$WORK/bad:2: unknown table service" "$WORK/err" ||
    fail "bad script: no file:line error"
[ ! -e "$WORK/started" ] || fail "bad script: helper was started"

# Requests on stdin, one at a time: rewrite the file, update, look again.
mkfifo "$WORK/fifo" || fail "mkfifo"
"$probe" table "$static $WORK/aliases" <"$WORK/fifo" >"$WORK/out" \
    2>"$WORK/err" &
probe_pid=$!
exec 3>"$WORK/fifo"
echo "lookup alias root" >&3
wait_for "$WORK/out" 'lookup alias root: found "bob, alice"'
printf 'root: carol\n' >"$WORK/aliases.new"
mv "$WORK/aliases.new" "$WORK/aliases"
echo "update" >&3
wait_for "$WORK/out" "update: done"
echo "lookup alias root" >&3
wait_for "$WORK/out" 'lookup alias root: found "carol"'
exec 3>&-
wait $probe_pid || fail "stdin session: exit status $?"
[ "$(wc -l <"$WORK/out")" -eq 3 ] || fail "stdin session: not 3 lines"

echo "probe_table: ok"
