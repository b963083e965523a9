# bench/mta-opensmtpd.sh: OpenSMTPD (the Debian package) as a private
# instance.  Sourced by bench/run.sh.
#
# Its configuration, userbase and maildir are under DIR, like ours; its
# spool is not: the Debian build (6.8) has /var/spool/smtpd and the
# control socket /var/run/smtpd.sock compiled in, with no option to
# move them.  So the bench refuses to start when that spool holds mail
# it did not put there, or when another OpenSMTPD answers on that
# socket; it removes the spool before and after each run.

OSMTPD_SPOOL=/var/spool/smtpd
OSMTPD_MARK=$OSMTPD_SPOOL/.smtpd-bench

opensmtpd_bench_clean() {
	[ -d "$OSMTPD_SPOOL" ] || return 0
	if [ ! -e "$OSMTPD_MARK" ] &&
	    [ -n "$(find "$OSMTPD_SPOOL" -type f 2>/dev/null | head -n 1)" ]
	then
		bench_fail "$OSMTPD_SPOOL holds a queue the bench did not" \
		    "make: move it away to bench OpenSMTPD"
	fi
	rm -rf "$OSMTPD_SPOOL"
}

opensmtpd_bench_start() {
	_d=$1
	[ -x /usr/sbin/smtpd ] || bench_fail "OpenSMTPD is not installed"
	if [ -S /var/run/smtpd.sock ] && smtpctl show status \
	    >/dev/null 2>&1; then
		bench_fail "an OpenSMTPD already runs (/var/run/smtpd.sock)"
	fi
	opensmtpd_bench_clean
	mkdir -p "$_d/home/bench"
	chown "$BENCH_UID:$BENCH_GID" "$_d/home/bench"
	printf 'bench\t%s:%s:%s\n' "$BENCH_UID" "$BENCH_GID" \
	    "$_d/home/bench" >"$_d/userbase"
	cat >"$_d/smtpd.conf" <<CONF
table users file:$_d/userbase
listen on 127.0.0.1 port $2 hostname bench.localdomain
action "local" maildir userbase <users>
match from any for local action "local"
CONF
	chmod -R go+rX "$_d"
	chmod 644 "$_d/smtpd.conf" "$_d/userbase"
	MTA_LOG=$_d/smtpd.log
	MTA_MAILDIR=$_d/home/bench/Maildir/new
	mkdir -p "$OSMTPD_SPOOL"
	chmod 711 "$OSMTPD_SPOOL"
	: >"$OSMTPD_MARK"
	bench_spawn "$MTA_LOG" /usr/sbin/smtpd -d -f "$_d/smtpd.conf"
	bench_wait_up "$2" OpenSMTPD
}

opensmtpd_bench_stop() {
	bench_stop_tracked
	rm -rf "$OSMTPD_SPOOL"
}
