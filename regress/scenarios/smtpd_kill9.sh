#!/bin/sh
# kill -9 of each process in turn while a client sends a stream of
# messages (regress/smtp-script/stream_client.py, with smtplib): the
# daemon goes down cleanly (the parent exits non-zero, no process is left
# behind), starts again on the same spool, and every message that got a
# 250 is delivered.  A helper (queue-fs, table-static) killed the same
# way is restarted and the daemon keeps running.  Duplicates are allowed
# (delivery is at least once) and reported.
. "$TOP/regress/lib.sh"

make_users alice
make_instance main <<'CONF'
listen on 127.0.0.1 port @PORT@
table users file:@WORK@/userbase
action "local" maildir userbase <users>
match from any for local action "local"
CONF
md=$WORK/home/alice/Maildir

# delivered_ids: every X-Test-Id in the maildir, one per line, sorted.
delivered_ids() {
	maildir_files "$md" | xargs -r grep -h '^X-Test-Id: ' |
	    sed 's/^X-Test-Id: //' | sort
}

# all_delivered ROUND: every id the client saw accepted is delivered.
all_delivered() {
	delivered_ids | sort -u >"$WORK/delivered.sorted"
	sort -u "$WORK/accepted.$1" >"$WORK/accepted.sorted"
	[ -z "$(comm -23 "$WORK/accepted.sorted" "$WORK/delivered.sorted")" ]
}

accepted_count() {
	wc -l <"$WORK/accepted.$1" | tr -d ' '
}

for target in control lookup queue scheduler network parent queue-fs \
    table-static; do
	echo "=== round $target"
	start_smtpd
	: >"$WORK/accepted.$target"
	rm -f "$WORK/stop"
	"$PYTHON" "$TOP/regress/smtp-script/stream_client.py" \
	    --port "$PORT" --rcpt alice@localhost --prefix "$target" \
	    --accepted "$WORK/accepted.$target" --stop "$WORK/stop" \
	    2>"$WORK/client.$target.err" &
	client=$(proc_id $!)
	bg_register $!
	wait_for "[ \$(accepted_count $target) -ge 5 ]"

	if [ "$target" = parent ]; then
		victim=$SMTPD_PID
	else
		victim=$(smtpd_pid "$target") ||
		    fail "no process $target among: $(ps -o pid=,args= \
			-p "$(echo $(smtpd_tree "$SMTPD_PID" | sed 's/:[0-9]*//g') |
			tr ' ' ,)")"
	fi
	SMTPD_PIDS="$SMTPD_PIDS $(smtpd_tree "$SMTPD_PID")"
	before=$(accepted_count "$target")
	note "kill -9 $target (pid $victim) after $before messages"
	echo "=== $(date '+%H:%M:%S') kill -9 $target pid $victim" >>"$LOG"
	kill -KILL "$victim" || fail "kill -9 $victim failed"

	case "$target" in
	queue-fs|table-static)
		# Restarted: the stream goes on and the daemon stays up.
		wait_for "[ \$(accepted_count $target) -ge $((before + 5)) ]"
		proc_alive "$SMTPD_ID" ||
		    fail "smtpd died with its helper $target"
		;;
	parent)
		# Its children notice and go; nothing may linger.
		wait "$SMTPD_PID"
		SMTPD_PID=""
		SMTPD_ID=""
		smtpd_wait_others "the killed parent"
		;;
	*)
		SMTPD_MAY_DIE=1
		smtpd_wait_gone any
		SMTPD_MAY_DIE=""
		[ "$SMTPD_STATUS" != 0 ] ||
		    fail "smtpd exited with status 0 after losing $target"
		expect_file_has "$LOG" "lost child: $target"
		;;
	esac

	touch "$WORK/stop"
	poll_until "! proc_alive $client" || fail "the client did not stop"
	wait "${client%%:*}"
	proc_alive "$SMTPD_ID" || start_smtpd
	n=$(accepted_count "$target")
	poll_until "all_delivered $target" ||
	    fail "round $target: accepted but not delivered:" \
		"$(comm -23 "$WORK/accepted.sorted" "$WORK/delivered.sorted")"
	dups=$(delivered_ids | grep "^$target-" | uniq -d | wc -l)
	note "round $target: $n accepted, all delivered, $dups duplicated"
	stop_smtpd
done

note "$(delivered_ids | sort -u | wc -l) distinct messages delivered"
pass
