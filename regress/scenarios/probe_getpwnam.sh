#!/bin/sh
# smtpd-probe asks table-getpwnam for the current user's userinfo: the
# answer must be what id(1) and the password database say.

probe=$TOP/probe/smtpd-probe
getpwnam=$TOP/tables/table-getpwnam/table-getpwnam

fail() {
	echo "FAIL: $*"
	for f in "$WORK"/out "$WORK"/err; do
		[ -f "$f" ] && { echo "--- $f"; cat "$f"; }
	done
	exit 1
}

user=$(id -un) || fail "id -un"
uid=$(id -u)
gid=$(id -g)
home=$(getent passwd "$user" | cut -d: -f6)
[ -n "$home" ] || fail "no home directory for $user in getent passwd"
# The probe lowercases keys, as the daemon does.
key=$(printf '%s' "$user" | tr 'A-Z' 'a-z')

"$probe" table "$getpwnam" lookup userinfo "$user" >"$WORK/out" \
    2>"$WORK/err" || fail "lookup: exit status $?"
want="lookup userinfo $key: found \"$uid:$gid:$home\""
[ "$(cat "$WORK/out")" = "$want" ] || fail "expected: $want"
grep -qx 'helper table-getpwnam ready: services userinfo' "$WORK/err" ||
    fail "ready line"

"$probe" table "$getpwnam" check userinfo "$user" >"$WORK/out" \
    2>"$WORK/err" || fail "check: exit status $?"
grep -qxF "check userinfo $key: found" "$WORK/out" || fail "check"

nosuch=nosuchuser$$x
getent passwd "$nosuch" >/dev/null && fail "$nosuch exists"
"$probe" table "$getpwnam" lookup userinfo "$nosuch" >"$WORK/out" \
    2>"$WORK/err" || fail "lookup unknown user: exit status $?"
grep -qxF "lookup userinfo $nosuch: not found" "$WORK/out" ||
    fail "unknown user"

echo "probe_getpwnam: ok"
