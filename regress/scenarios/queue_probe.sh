#!/bin/sh
# smtpd-probe drives the queue backends alone: a message's whole life in
# queue-fs and queue-ram, the spool surviving between runs, a kill -9 in
# the middle of a transaction, and an envelope an admin made unreadable.

probe=$TOP/probe/smtpd-probe
fs=$TOP/queues/queue-fs/queue-fs
ram=$TOP/queues/queue-ram/queue-ram
spool=$WORK/spool

fail() {
	printf 'FAIL: %s\n' "$*"
	for f in "$WORK"/out "$WORK"/err; do
		[ -f "$f" ] && { echo "--- $f"; cat "$f"; }
	done
	exit 1
}

# expect FILE LINE: LINE is one whole line of FILE
expect() {
	grep -qxF -- "$2" "$1" || fail "$1 lacks: $2"
}

# wait_for FILE REGEX: poll (up to 60 s) until a line of FILE matches
wait_for() {
	i=0
	while ! grep -q -- "$2" "$1" 2>/dev/null; do
		i=$((i + 1))
		[ $i -le 600 ] || fail "timed out waiting for: $2"
		sleep 0.1
	done
}

printf 'Subject: probe\r\n\r\nHello.\r\n' >"$WORK/body"
printf 'version: 2\nrcpt: alice@example.org\n' >"$WORK/env1"
printf 'version: 2\nrcpt: bob@example.net\n' >"$WORK/env2"
printf 'version: 2\nrcpt: carol@example.net\n' >"$WORK/env3"

# A message's life; $msgid and $evpid are the last ones made.
cat >"$WORK/life" <<EOT
create $WORK/body
envelope \$msgid $WORK/env1
envelope \$msgid $WORK/env2
walk
commit \$msgid
walk
load \$evpid
update \$evpid $WORK/env3
load \$evpid
cat \$msgid
EOT
for backend in "$fs $spool" "$ram"; do
	"$probe" -f "$WORK/life" queue "$backend" >"$WORK/out" \
	    2>"$WORK/err" || fail "$backend: exit status $?"
	msgid=$(sed -n "s|^create $WORK/body: msgid \([0-9a-f]\{8\}\)$|\1|p" \
	    "$WORK/out")
	[ -n "$msgid" ] || fail "$backend: no msgid"
	evpid=$(sed -n 's|^envelope \$msgid .*/env2: evpid \([0-9a-f]\{16\}\)$|\1|p' \
	    "$WORK/out")
	[ -n "$evpid" ] || fail "$backend: no evpid"
	expect "$WORK/out" "walk: 0 envelopes"
	expect "$WORK/out" 'commit $msgid: done'
	expect "$WORK/out" "walk: $evpid \"version: 2\\nrcpt: bob@example.net\\n\""
	expect "$WORK/out" "walk: 2 envelopes"
	expect "$WORK/out" 'load $evpid: found "version: 2\nrcpt: bob@example.net\n"'
	expect "$WORK/out" 'load $evpid: found "version: 2\nrcpt: carol@example.net\n"'
	expect "$WORK/out" 'cat $msgid: found 26 bytes "Subject: probe\r\n\r\nHello.\r\n"'
done

# The fs spool outlives the process: another run finds the message.
printf 'walk\n' >"$WORK/walk"
"$probe" -f "$WORK/walk" queue "$fs $spool" >"$WORK/out" 2>"$WORK/err" ||
    fail "second run: exit status $?"
expect "$WORK/out" "walk: 2 envelopes"
grep -q "^walk: [0-9a-f]\{16\} \"version: 2\\\\nrcpt: carol@example.net" \
    "$WORK/out" || fail "second run: the update was lost"
ls "$spool"/queue/*/*/message >/dev/null 2>&1 || fail "no message file"
[ "$(ls "$spool"/queue/*/*/envelopes | grep -c '^[0-9a-f]\{16\}$')" -eq 2 ] ||
    fail "not two envelope files"

# kill -9 in the middle of a transaction: never acknowledged, so gone.
mkfifo "$WORK/fifo" || fail "mkfifo"
"$probe" queue "$fs $spool" <"$WORK/fifo" >"$WORK/out" 2>"$WORK/err" &
probe_pid=$!
exec 3>"$WORK/fifo"
echo "create $WORK/body" >&3
echo "envelope \$msgid $WORK/env1" >&3
wait_for "$WORK/out" '^envelope .*: evpid '
[ "$(ls "$spool/incoming" | wc -l)" -eq 1 ] || fail "nothing in incoming/"
helper=$(ps -o pid= --ppid "$probe_pid" | tr -d ' ')
[ -n "$helper" ] || fail "no helper process"
kill -9 "$helper"
exec 3>&-
wait "$probe_pid"
"$probe" -f "$WORK/walk" queue "$fs $spool" >"$WORK/out" 2>"$WORK/err" ||
    fail "after kill: exit status $?"
expect "$WORK/out" "walk: 2 envelopes"
[ "$(ls "$spool/incoming" | wc -l)" -eq 0 ] || fail "incoming/ not cleaned"

# An envelope made unreadable: a temporary failure naming the file,
# and the helper goes on serving.  Root reads mode 000 files, so the
# helper runs without the capabilities that allow it.
envfile=$(ls "$spool"/queue/*/*/envelopes/* | head -n 1)
other=$(ls "$spool"/queue/*/*/envelopes/* | tail -n 1)
chmod 000 "$envfile"
cmd="$fs $spool"
if [ "$(id -u)" = 0 ]; then
	drop="setpriv --bounding-set=-dac_override,-dac_read_search"
	if ! $drop true 2>/dev/null; then
		chmod 600 "$envfile"
		echo "queue_probe: ok (chmod part skipped: cannot drop root's" \
		    "capabilities here)"
		exit 0
	fi
	cmd="$drop $fs $spool"
fi
printf 'load %s\nload %s\n' "$(basename "$envfile")" "$(basename "$other")" \
    >"$WORK/chmod"
"$probe" -f "$WORK/chmod" queue "$cmd" >"$WORK/out" 2>"$WORK/err"
[ $? -eq 1 ] || fail "chmod: exit status not 1"
expect "$WORK/out" "load $(basename "$envfile"): temporary failure"
grep -q "^load $(basename "$other"): found" "$WORK/out" ||
    fail "chmod: the other envelope was not served"
grep -q "$(basename "$envfile").*Permission denied" "$WORK/err" ||
    fail "chmod: no log line naming the file"
chmod 600 "$envfile"

echo "queue_probe: ok"
