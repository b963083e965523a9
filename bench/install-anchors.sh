#!/bin/sh
# bench/install-anchors.sh: make the two anchors of "make bench" usable,
# without starting any system service and without binding port 25.
#
#	OpenSMTPD	the Debian package "opensmtpd", installed with apt-get.
#			Its spool (/var/spool/smtpd), helper programs and
#			users are compiled in, so it needs a real install.
#			A policy-rc.d that exits 101 keeps its init script
#			from starting it.
#	Postfix		the Debian package "postfix" conflicts with
#			"opensmtpd" (both are a mail-transport-agent), so it
#			is not installed: its .deb is downloaded and unpacked
#			under $BENCH_CACHE/postfix-root, and every path it
#			uses is set in the private main.cf.  Its maintainer
#			scripts never run, so there is no debconf question,
#			no /etc/postfix and no service; only its libraries
#			and its two accounts ("postfix", group "postdrop")
#			are added, as the package would.
#
# Quiet and quick when everything is there.  Needs root (apt-get).

set -eu

BENCH_CACHE=${BENCH_CACHE:-/var/tmp/smtpd-bench}
PF_ROOT=$BENCH_CACHE/postfix-root

say() {
	echo "bench: $*" >&2
}

if [ "$(id -u)" != 0 ]; then
	say "the anchors are Debian packages: run make bench as root"
	exit 1
fi

installed() {
	dpkg-query -W -f='${Status}\n' "$1" 2>/dev/null |
	    grep -q 'install ok installed'
}

# The list is read once, and only when something must be fetched.
APT_UPDATED=0
apt_update() {
	if [ $APT_UPDATED = 0 ]; then
		apt-get update -qq
		APT_UPDATED=1
	fi
}

# apt-get install with no service started: our own policy-rc.d for the
# time of the call, unless one that refuses everything is already there.
POLICY=/usr/sbin/policy-rc.d
POLICY_SAVED=""
policy_restore() {
	if [ -n "$POLICY_SAVED" ]; then
		mv -f "$POLICY_SAVED" "$POLICY"
		POLICY_SAVED=""
	elif [ -f "$POLICY.smtpd-bench" ]; then
		rm -f "$POLICY" "$POLICY.smtpd-bench"
	fi
}
trap policy_restore EXIT
trap 'exit 1' INT TERM HUP

apt_install() {
	if [ -f "$POLICY" ]; then
		POLICY_SAVED=$POLICY.smtpd-bench-saved
		cp -p "$POLICY" "$POLICY_SAVED"
	else
		: >"$POLICY.smtpd-bench"	# marks ours for removal
	fi
	printf '#!/bin/sh\n# smtpd bench: start no service\nexit 101\n' \
	    >"$POLICY"
	chmod 755 "$POLICY"
	apt_update
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    -o Dpkg::Options::=--force-confdef \
	    -o Dpkg::Options::=--force-confold "$@" >/dev/null
	policy_restore
}

# ---- OpenSMTPD ----------------------------------------------------------

if ! installed opensmtpd; then
	say "installing opensmtpd (no service started)"
	# The questions its postinst asks, answered for a machine that
	# only ever runs it privately.
	printf '%s\n' \
	    'opensmtpd opensmtpd/mailname string localhost' \
	    'opensmtpd opensmtpd/root_address string' |
	    debconf-set-selections
	apt_install opensmtpd
fi
# Were it started by something else anyway, it would hold port 25: say
# so rather than touch it.
if [ -x /usr/bin/ss ] && ss -ltn 2>/dev/null | awk '{ print $4 }' |
    grep -Eq ':25$'; then
	say "note: something listens on port 25; the bench does not use it"
fi

# ---- Postfix --------------------------------------------------------------

if [ ! -x "$PF_ROOT/usr/lib/postfix/sbin/master" ]; then
	say "unpacking postfix under $PF_ROOT (not installed)"
	apt_update
	# The libraries it links with (no conflict there).
	libs=$(apt-cache depends postfix | awk '$1 == "Depends:" &&
	    $2 ~ /^lib/ { print $2 }')
	missing=""
	for p in $libs; do
		installed "$p" || missing="$missing $p"
	done
	[ -z "$missing" ] || apt_install $missing
	mkdir -p "$BENCH_CACHE/debs"
	rm -f "$BENCH_CACHE"/debs/postfix_*.deb
	(cd "$BENCH_CACHE/debs" && apt-get download -qq postfix 2>/dev/null)
	rm -rf "$PF_ROOT.tmp"
	dpkg-deb -x "$BENCH_CACHE"/debs/postfix_*.deb "$PF_ROOT.tmp"
	rm -rf "$PF_ROOT"
	mv "$PF_ROOT.tmp" "$PF_ROOT"
fi
getent group postdrop >/dev/null || groupadd --system postdrop
getent passwd postfix >/dev/null || useradd --system --user-group \
    --no-create-home --home-dir /var/spool/postfix \
    --shell /usr/sbin/nologin postfix
exit 0
