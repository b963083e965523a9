#!/bin/sh
# smtpctl profile imsg|queue: with "profile imsg" every process logs one
# line per frame it handles (process, peer, frame, size, microseconds);
# with "profile queue" the queue process logs one line per backend
# request (operation, msgid or evpid, microseconds); unprofile stops
# each, and one does not turn the other on.
#
# The new trace mask reaches each process asynchronously (control ->
# parent -> everyone): after each change one message goes through
# first, and only the lines logged for the next one are looked at,
# from a mark in the log taken before it was sent.
. "$TOP/regress/lib.sh"

make_users alice
make_instance main <<'CONF'
listen on 127.0.0.1 port @PORT@
table users file:@WORK@/userbase
action "local" maildir userbase <users>
match from any for local action "local"
CONF
start_smtpd

printf 'Subject: profile\n\nbody\n' >"$WORK/msg"
sent=0

# send_msg NAME: one message to alice, delivered and gone from the queue.
send_msg() {
	run_script "$1" <<'EOF'
connect 127.0.0.1 ${PORT}
expect 220
send EHLO client.test
expect 250
send MAIL FROM:<sender@example.org>
expect 250
send RCPT TO:<alice@localhost>
expect 250
send DATA
expect 354
data-file ${WORK}/msg
expect 250 ^250 2\.0\.0 [0-9a-f]{8} Message accepted
send QUIT
expect 221
EOF
	sent=$((sent + 1))
	wait_maildir "$WORK/home/alice/Maildir" "$sent"
	wait_for "[ -z \"\$(smtpctl show queue)\" ]"
}

mark() {
	MARK=$(wc -l <"$LOG")
}

# The lines of the log after the mark.
since_mark() {
	tail -n "+$((MARK + 1))" "$LOG"
}

# wait_since REGEX: until a line after the mark matches.
wait_since() {
	wait_for "since_mark | grep -Eq -- '$1'"
}

expect_none_since() {
	if since_mark | grep -Eq -- "$1"; then
		since_mark | grep -E -- "$1" | head -n 5 | sed 's/^/    /'
		fail "lines matching '$1' after the mark"
	fi
}

# Nothing profiled before it is asked for.
mark
send_msg plain
expect_none_since 'profile:'

# ---- profile imsg -----------------------------------------------------------
ctl profile imsg
expect_file_has "$WORK/ctl.out" '^profiling imsg$'
send_msg warmup1
mark
send_msg imsg
us='[0-9]+ bytes, [0-9]+ us$'
wait_since "profile: imsg: queue <- network: RECV_CREATE \\(1000\\), $us"
wait_since "profile: imsg: network <- lookup: LOOKUP_RCPT_DONE \\([0-9]+\\), $us"
wait_since "profile: imsg: scheduler <- queue: SCHED_COMMIT \\([0-9]+\\), $us"
wait_since "profile: imsg: queue <- scheduler: SCHED_DELIVER \\([0-9]+\\), $us"
wait_since "profile: imsg: parent <- network: MDA_FORK \\([0-9]+\\), $us"
wait_since "profile: imsg: network <- parent: MDA_DONE \\([0-9]+\\), $us"
expect_none_since 'profile: queue:'

# ---- unprofile imsg, profile queue ------------------------------------------
ctl unprofile imsg
expect_file_has "$WORK/ctl.out" '^no longer profiling imsg$'
ctl profile queue
expect_file_has "$WORK/ctl.out" '^profiling queue$'
send_msg warmup2
mark
send_msg queue
msgid=$(script_msgid queue)
[ -n "$msgid" ] || fail "no msgid in the transcript of queue"
evpid="$msgid[0-9a-f]{8}"
us='[0-9]+ us$'
wait_since "profile: queue: create msgid=$msgid, $us"
wait_since "profile: queue: envelope_create evpid=$evpid, $us"
wait_since "profile: queue: commit msgid=$msgid, $us"
wait_since "profile: queue: envelope_load evpid=$evpid, $us"
wait_since "profile: queue: fd_r msgid=$msgid, $us"
wait_since "profile: queue: envelope_delete evpid=$evpid, $us"
expect_none_since 'profile: imsg:'

# ---- unprofile queue: nothing any more --------------------------------------
ctl unprofile queue
expect_file_has "$WORK/ctl.out" '^no longer profiling queue$'
send_msg warmup3
mark
send_msg quiet
msgid=$(script_msgid quiet)
wait_since "mda delivery evpid=$msgid[0-9a-f]{8} .*result=Ok"
expect_none_since 'profile:'

stop_smtpd
pass
