#!/bin/sh
# bench/run.sh: "make bench".  The same workload against our smtpd and
# the two anchors, OpenSMTPD and Postfix, each a private instance on a
# free loopback port with its own configuration, spool and maildir in a
# scratch directory; prints the medians and the ratios.  See
# bench/README.md.  Run from the top of the tree, as root (the anchors
# are Debian packages that bench/install-anchors.sh installs).
#
# Environment (the bench target passes the BENCH_* make variables):
#	BENCH_SESSIONS	concurrent SMTP sessions (8)
#	BENCH_MESSAGES	messages per measured run (2000)
#	BENCH_SIZE	bytes per message (4096)
#	BENCH_RUNS	runs of each MTA, interleaved (3)
#	BENCH_MTAS	which, in order ("smtpd opensmtpd postfix")
#	BENCH_TIMEOUT	seconds a run may take to deliver everything (300)
#	BENCH_CACHE	the unpacked Postfix, the lock, the scratch
#			directories (/var/tmp/smtpd-bench)
#	BENCH_KEEP	1: keep the scratch directory (logs, maildirs)

set -u

TOP=$(pwd)
BENCH_SESSIONS=${BENCH_SESSIONS:-8}
BENCH_MESSAGES=${BENCH_MESSAGES:-2000}
BENCH_SIZE=${BENCH_SIZE:-4096}
BENCH_RUNS=${BENCH_RUNS:-3}
BENCH_MTAS=${BENCH_MTAS:-smtpd opensmtpd postfix}
BENCH_TIMEOUT=${BENCH_TIMEOUT:-300}
BENCH_CACHE=${BENCH_CACHE:-/var/tmp/smtpd-bench}
BENCH_KEEP=${BENCH_KEEP:-0}
BLAST=$TOP/bench/smtp-blast/smtp-blast
SCRATCH=""
CURRENT_STOP=""		# the stop function of the MTA that runs

. "$TOP/bench/lib.sh"
. "$TOP/bench/mta-smtpd.sh"
. "$TOP/bench/mta-opensmtpd.sh"
. "$TOP/bench/mta-postfix.sh"

bench_cleanup() {
	_rc=$?
	if [ -n "$CURRENT_STOP" ]; then
		$CURRENT_STOP
		CURRENT_STOP=""
	fi
	bench_stop_tracked
	if [ -n "$SCRATCH" ]; then
		if [ "$_rc" = 0 ] && [ "$BENCH_KEEP" != 1 ]; then
			rm -rf "$SCRATCH"
		else
			echo "bench: logs and maildirs kept in $SCRATCH" >&2
		fi
	fi
	exit "$_rc"
}
trap bench_cleanup EXIT
trap 'exit 1' INT TERM HUP

# ---- checks and set-up --------------------------------------------------

for _m in $BENCH_MTAS; do
	case $_m in
	smtpd|opensmtpd|postfix) ;;
	*)	bench_fail "unknown MTA $_m (smtpd, opensmtpd, postfix)" ;;
	esac
done
[ -x "$BLAST" ] || bench_fail "$BLAST is not built (make)"
[ -x "$TOP/smtpd/smtpd" ] || bench_fail "smtpd/smtpd is not built (make)"
[ -x "$SMTP_SCRIPT" ] || bench_fail "$SMTP_SCRIPT is not built (make)"
[ "$(id -u)" = 0 ] || bench_fail "run make bench as root: the anchors" \
    "are Debian packages, and every MTA delivers as the user nobody"

mkdir -p "$BENCH_CACHE"
chmod 755 "$BENCH_CACHE"
# One bench at a time: OpenSMTPD's spool is the machine's.
exec 9>"$BENCH_CACHE/lock"
flock -n 9 || bench_fail "another make bench is running"

case " $BENCH_MTAS " in
*" opensmtpd "*|*" postfix "*)
	BENCH_CACHE=$BENCH_CACHE sh "$TOP/bench/install-anchors.sh" ||
	    bench_fail "the anchors could not be installed" \
	    "(make bench BENCH_MTAS=smtpd runs ours alone)" ;;
esac

BENCH_UID=$(id -u nobody) || bench_fail "no user nobody"
BENCH_GID=$(id -g nobody)
SCRATCH=$(mktemp -d "$BENCH_CACHE/run.XXXXXX") ||
    bench_fail "cannot make a scratch directory in $BENCH_CACHE"
chmod 755 "$SCRATCH"	# the daemons' own users reach their spools
RESULTS=$SCRATCH/results

echo "bench: $BENCH_SESSIONS sessions, $BENCH_MESSAGES messages of" \
    "$BENCH_SIZE bytes, $BENCH_RUNS runs each of: $BENCH_MTAS"
echo "bench: delivery to maildir as nobody; scratch $SCRATCH"

# ---- the runs ---------------------------------------------------------------

# bench_one MTA RUN: a fresh instance, a warm-up of two messages per
# session (delivered), the measured run, the instance stopped.
bench_one() {
	_dir=$SCRATCH/$1.$2
	mkdir -p "$_dir"
	_port=$(bench_free_port)
	CURRENT_STOP=${1}_bench_stop
	"${1}_bench_start" "$_dir" "$_port"
	bench_blast "$_dir/warmup.out" -c "$BENCH_SESSIONS" \
	    -n $((BENCH_SESSIONS * 2)) -s "$BENCH_SIZE" -t "$BENCH_TIMEOUT" \
	    -w "$MTA_MAILDIR" -p "$_port" ||
	    bench_fail "$1: warm-up failed: $(cat "$_dir/warmup.out")"
	bench_blast "$_dir/blast.out" -c "$BENCH_SESSIONS" \
	    -n "$BENCH_MESSAGES" -s "$BENCH_SIZE" -t "$BENCH_TIMEOUT" \
	    -w "$MTA_MAILDIR" -p "$_port" ||
	    bench_fail "$1: run $2 failed: $(cat "$_dir/blast.out")"
	$CURRENT_STOP
	CURRENT_STOP=""
	# key=value pairs to "MTA RUN accept_rate deliver_s deliver_rate
	# lat_p50_ms lat_p99_ms"
	tr ' ' '\n' <"$_dir/blast.out" | awk -F= -v m="$1" -v r="$2" '
	    { v[$1] = $2 }
	    END { print m, r, v["accept_rate"], v["deliver_s"],
		v["deliver_rate"], v["lat_p50_ms"], v["lat_p99_ms"] }' \
	    >>"$RESULTS"
	tail -n 1 "$RESULTS" | awk '{ printf "bench: run %s %-9s %8.1f" \
	    " msg/s accepted, all delivered after %.2f s\n", $2, $1, $3, $4 }'
}

_r=1
while [ $_r -le "$BENCH_RUNS" ]; do
	for _m in $BENCH_MTAS; do
		bench_one "$_m" "$_r"
	done
	_r=$((_r + 1))
done

# ---- the table ------------------------------------------------------------------

# median MTA COLUMN
median() {
	awk -v m="$1" -v c="$2" '$1 == m { print $c }' "$RESULTS" | sort -g |
	    awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2];
		else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

echo
echo "medians of $BENCH_RUNS runs ($BENCH_SESSIONS sessions, $BENCH_MESSAGES" \
    "messages of $BENCH_SIZE bytes, maildir delivery):"
printf '%-10s %12s %14s %13s %9s %9s\n' MTA "accept/s" "delivered in" \
    "delivered/s" "p50 ms" "p99 ms"
for _m in $BENCH_MTAS; do
	printf '%-10s %12.1f %12.2f s %13.1f %9.2f %9.2f\n' "$_m" \
	    "$(median "$_m" 3)" "$(median "$_m" 4)" "$(median "$_m" 5)" \
	    "$(median "$_m" 6)" "$(median "$_m" 7)"
done
case " $BENCH_MTAS " in
*" smtpd "*)
	_first=1
	for _a in opensmtpd postfix; do
		case " $BENCH_MTAS " in *" $_a "*) ;; *) continue ;; esac
		if [ $_first = 1 ]; then
			echo
			echo "ratios of the medians, ours / anchor" \
			    "(above 1: ours is faster):"
			printf '%-16s %12s %13s\n' "" "accept/s" "delivered/s"
			_first=0
		fi
		printf '%-16s %12.2f %13.2f\n' "smtpd/$_a" \
		    "$(awk -v a="$(median smtpd 3)" -v b="$(median "$_a" 3)" \
		    'BEGIN { print (b > 0 ? a / b : 0) }')" \
		    "$(awk -v a="$(median smtpd 5)" -v b="$(median "$_a" 5)" \
		    'BEGIN { print (b > 0 ? a / b : 0) }')"
	done ;;
esac
exit 0
