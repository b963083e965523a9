#!/bin/sh
# Mail in the queue survives a restart: smtpd -P mda accepts three
# messages without delivering them, stops; started again without -P,
# it finds them in its spool and delivers each exactly once.
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
	for i in 1 2 3; do
		printf 'Subject: queued %s\n\nmessage %s\n' $i $i >"$WORK/msg$i"
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
msgids=$(sed -n 's/^S: 250 2\.0\.0 \([0-9a-f]\{8\}\) .*/\1/p' "$WORK/send.out")
[ "$(echo $msgids | wc -w)" = 3 ] || fail "not three msgids: $msgids"

# Paused: in the spool, not delivered.
envelopes() {
	find "$SPOOL" -path '*/envelopes/*' -type f | wc -l
}
wait_for '[ $(envelopes) = 3 ]'
[ "$(maildir_count "$WORK/home/alice/Maildir")" = 0 ] ||
    fail "delivered while mda was paused"
stop_smtpd

[ "$(envelopes)" = 3 ] || fail "the spool lost envelopes at shutdown"
start_smtpd
wait_log 'queue: 3 envelopes loaded'
wait_maildir "$WORK/home/alice/Maildir" 3
subjects=$(for f in $(maildir_files "$WORK/home/alice/Maildir"); do
	sed -n 's/^Subject: //p' "$f"; done | sort | tr '\n' ' ')
[ "$subjects" = "queued 1 queued 2 queued 3 " ] ||
    fail "delivered after the restart: $subjects"
for id in $msgids; do
	wait_log "mda delivery evpid=$id[0-9a-f]{8} .*result=Ok"
done
wait_for '[ $(envelopes) = 0 ]'
stop_smtpd
pass
