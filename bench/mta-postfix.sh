# bench/mta-postfix.sh: Postfix (the Debian package, unpacked under
# $BENCH_CACHE/postfix-root by bench/install-anchors.sh) as a private
# instance.  Sourced by bench/run.sh.
#
# Everything is under DIR: main.cf and master.cf, the queue, the data
# directory, the log (maillog_file, through postlogd) and the maildir.
# Only the services a local delivery needs run, none chrooted; the
# one smtpd listens on 127.0.0.1 port PORT.  Mail for localhost goes to
# virtual(8), which writes DIR/home/bench/Maildir as nobody: the same
# maildir, user and path as for the two others.  The libraries of the
# unpacked package come through LD_LIBRARY_PATH, which master passes on
# (import_environment).

PF_ROOT=$BENCH_CACHE/postfix-root
PF_CONF=""

postfix_bench_start() {
	_d=$1
	[ -x "$PF_ROOT/usr/lib/postfix/sbin/master" ] ||
	    bench_fail "Postfix is not unpacked in $PF_ROOT"
	mkdir -p "$_d/etc" "$_d/spool" "$_d/data" "$_d/home/bench"
	chown "$BENCH_UID:$BENCH_GID" "$_d/home/bench"
	chown postfix "$_d/data"
	cp "$PF_ROOT/etc/postfix/postfix-files" "$_d/etc/"
	: >"$_d/etc/dynamicmaps.cf"
	: >"$_d/etc/aliases"
	cat >"$_d/etc/main.cf" <<CONF
compatibility_level = 3.6
queue_directory = $_d/spool
data_directory = $_d/data
meta_directory = $_d/etc
command_directory = $PF_ROOT/usr/sbin
daemon_directory = $PF_ROOT/usr/lib/postfix/sbin
shlib_directory = $PF_ROOT/usr/lib/postfix
sendmail_path = $PF_ROOT/usr/sbin/sendmail
newaliases_path = $PF_ROOT/usr/bin/newaliases
mailq_path = $PF_ROOT/usr/bin/mailq
manpage_directory = $PF_ROOT/usr/share/man
sample_directory = no
readme_directory = no
html_directory = no
mail_owner = postfix
setgid_group = postdrop
import_environment = MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ LANG=C
    LD_LIBRARY_PATH
maillog_file = $_d/maillog
myhostname = bench.localdomain
mydomain = localdomain
myorigin = \$myhostname
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
alias_maps =
alias_database =
biff = no
virtual_mailbox_domains = localhost
virtual_mailbox_base = $_d/home
virtual_mailbox_maps = static:bench/Maildir/
virtual_uid_maps = static:$BENCH_UID
virtual_gid_maps = static:$BENCH_GID
CONF
	cat >"$_d/etc/master.cf" <<CONF
127.0.0.1:$2 inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
CONF
	chmod -R go+rX "$_d"
	PF_CONF=$_d/etc
	MTA_LOG=$_d/postfix.log
	MTA_MAILDIR=$_d/home/bench/Maildir/new
	bench_spawn "$MTA_LOG" env LD_LIBRARY_PATH="$PF_ROOT/usr/lib/postfix" \
	    "$PF_ROOT/usr/sbin/postfix" -c "$_d/etc" start-fg
	bench_wait_up "$2" Postfix
}

# "postfix stop" tells master, which stops its children; the
# postfix-script that started it then exits.
postfix_bench_stop() {
	LD_LIBRARY_PATH=$PF_ROOT/usr/lib/postfix \
	    "$PF_ROOT/usr/sbin/postfix" -c "$PF_CONF" stop >/dev/null 2>&1
	bench_stop_tracked
}
