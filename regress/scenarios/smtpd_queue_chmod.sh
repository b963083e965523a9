#!/bin/sh
# An administrator's hands in the queue: an envelope made unreadable
# (chmod 000; as root, who reads mode 000 files, the envelope is swapped
# for a directory) and a message directory moved away, while delivery
# is paused.  On resume each is a temporary failure with a log line,
# the daemon stays up; once put back, both messages are delivered.
. "$TOP/regress/lib.sh"

make_users alice
make_instance main <<'CONF'
listen on 127.0.0.1 port @PORT@
table users file:@WORK@/userbase
action "local" maildir userbase <users>
match from any for local action "local"
CONF
start_smtpd -P mda

{
	echo 'connect 127.0.0.1 ${PORT}'
	echo 'expect 220'
	echo 'send EHLO client.test'
	echo 'expect 250'
	for i in 1 2; do
		printf 'Subject: chmod %s\n\nmessage %s\n' $i $i >"$WORK/msg$i"
		echo 'send MAIL FROM:<sender@example.org>'
		echo 'expect 250'
		echo 'send RCPT TO:<alice@localhost>'
		echo 'expect 250'
		echo 'send DATA'
		echo 'expect 354'
		echo "data-file \${WORK}/msg$i"
		echo 'expect 250'
	done
	echo 'send QUIT'
	echo 'expect 221'
} >"$WORK/send.gen"
run_script send <"$WORK/send.gen"
set -- $(sed -n 's/^S: 250 2\.0\.0 \([0-9a-f]\{8\}\) .*/\1/p' "$WORK/send.out")
[ $# = 2 ] || fail "not two msgids"
msg1=$1
msg2=$2

wait_for "find '$SPOOL' -path '*/envelopes/*' -type f -name '$msg1*' | grep -q ."
wait_for "find '$SPOOL' -type d -name '$msg2' | grep -q ."
env1=$(find "$SPOOL" -path '*/envelopes/*' -type f -name "$msg1*")
evp1=$(basename "$env1")
dir2=$(find "$SPOOL" -type d -name "$msg2")
note "envelope $env1, message directory $dir2"

# Message 1: its envelope cannot be read.
if [ "$TEST_UID" = 0 ]; then
	mv "$env1" "$WORK/envelope.saved"
	mkdir "$env1"
else
	chmod 000 "$env1"
fi
# Message 2: the whole directory is gone.
mv "$dir2" "$WORK/msgdir.saved"

ctl resume mda
wait_log "$evp1.*([Tt]emp|fail|error|denied|directory)|([Tt]emp|fail|error|denied|directory).*$evp1"
wait_log "$msg2[0-9a-f]{8}.*([Tt]emp|fail|error|No such)|([Tt]emp|fail|error|No such).*$msg2"
proc_alive "$SMTPD_ID" || fail "smtpd died"
[ "$(maildir_count "$WORK/home/alice/Maildir")" = 0 ] ||
    fail "delivered though the queue was broken"
expect_file_lacks "$LOG" "$evp1.*result=PermFail"
expect_file_lacks "$LOG" "$msg2[0-9a-f]{8}.*result=PermFail"

# Put back; schedule now rather than wait for the back-off.
if [ "$TEST_UID" = 0 ]; then
	rmdir "$env1"
	mv "$WORK/envelope.saved" "$env1"
else
	chmod 600 "$env1"
fi
mv "$WORK/msgdir.saved" "$dir2"
ctl schedule all
wait_maildir "$WORK/home/alice/Maildir" 2
subjects=$(for f in $(maildir_files "$WORK/home/alice/Maildir"); do
	sed -n 's/^Subject: //p' "$f"; done | sort | tr '\n' ' ')
[ "$subjects" = "chmod 1 chmod 2 " ] || fail "delivered: $subjects"
stop_smtpd
pass
