# bench/mta-smtpd.sh: our smtpd, from this tree, as a private instance.
# Sourced by bench/run.sh.
#
# smtpd_bench_start DIR PORT: configuration, spool and maildir under DIR
# (fresh), listening on 127.0.0.1 port PORT; every recipient at
# localhost is the userbase user "bench" (uid and gid of nobody, home
# DIR/home/bench), delivered to DIR/home/bench/Maildir.  Sets MTA_LOG and
# MTA_MAILDIR (its "new" folder), starts the daemon in the background
# and tracks it.  smtpd_bench_stop stops it.
#
# bench/profile.sh runs variants: SMTPD_BENCH_ARGS are more smtpd
# arguments ("-P mda"), SMTPD_BENCH_ENV more environment ("NAME=value").

smtpd_bench_start() {
	_d=$1
	mkdir -p "$_d/libexec" "$_d/home/bench"
	chown "$BENCH_UID:$BENCH_GID" "$_d/home/bench"
	printf 'bench\t%s:%s:%s\n' "$BENCH_UID" "$BENCH_GID" \
	    "$_d/home/bench" >"$_d/userbase"
	cat >"$_d/smtpd.conf" <<CONF
spool "$_d/spool"
listen on 127.0.0.1 port $2 hostname bench.localdomain
table users file:$_d/userbase
action "local" maildir userbase <users>
match from any for local action "local"
CONF
	for _h in "$TOP"/tables/*/table-* "$TOP"/queues/*/queue-* \
	    "$TOP"/filters/*/filter-*; do
		[ -f "$_h" ] && [ -x "$_h" ] || continue
		ln -sf "$_h" "$_d/libexec/$(basename "$_h")"
	done
	chmod -R go+rX "$_d"
	MTA_LOG=$_d/smtpd.log
	MTA_MAILDIR=$_d/home/bench/Maildir/new
	bench_spawn "$MTA_LOG" env SMTPD_LIBEXEC="$_d/libexec" \
	    ${SMTPD_BENCH_ENV:-} "$TOP/smtpd/smtpd" -d \
	    ${SMTPD_BENCH_ARGS:-} -f "$_d/smtpd.conf"
	bench_wait_up "$2" smtpd
}

smtpd_bench_stop() {
	bench_stop_tracked
}
