#!/bin/sh
# Runs every test: the check unit tests named on the command line, each
# end-to-end scenario in regress/scenarios/*.sh, and mandoc -Tlint over
# the man pages.  Prints one line per test and a closing
# "N passed, N failed" line; exits non-zero if anything failed.
#
# A scenario is a shell script run from the top of the tree with a
# private scratch directory in $WORK; exit 0 is a pass.

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
work_root="$top/regress/work"

# Run as root, smtpd drops to _smtpd, which must reach the tree (it
# runs the helpers from it) and the scratch directories.  A tree under
# a private home directory is out of its reach: in CI (a throwaway
# machine) open the path up, elsewhere say what to do.
if [ "$(id -u)" = 0 ]; then
	d=$top
	while [ "$d" != / ]; do
		case "$(stat -c %A "$d" | cut -c10)" in
		x|t)	;;
		*)	if [ "${CI:-}" = true ]; then
				echo "run.sh: chmod o+x $d so that _smtpd reaches $top"
				chmod o+x "$d"
			else
				echo "run.sh: $d is not traversable by others, so" \
				    "smtpd's _smtpd user cannot reach $top;" \
				    "run the tests from a tree it can reach" >&2
				exit 1
			fi ;;
		esac
		d=$(dirname "$d")
	done
fi
rm -rf "$work_root"
mkdir -p "$work_root"

passed=0
failed=0
failures=""

run_one() {
	name=$1; shift
	log="$work_root/$(echo "$name" | tr '/' '_').log"
	if "$@" >"$log" 2>&1; then
		passed=$((passed + 1))
		echo "PASS $name"
	else
		failed=$((failed + 1))
		failures="$failures $name"
		echo "FAIL $name (log follows)"
		sed 's/^/    | /' "$log" | tail -n 60
	fi
}

for t in "$@"; do
	# check forks each test; CK_DEFAULT_TIMEOUT is per test, generous
	# for a loaded machine.
	CK_DEFAULT_TIMEOUT=120 run_one "$t" "./$t"
	grep -h '^[0-9]*%: Checks' "$work_root/$(echo "$t" | tr '/' '_').log"
done

for s in regress/scenarios/*.sh; do
	[ -f "$s" ] || continue
	w="$work_root/$(basename "$s" .sh)"
	mkdir -p "$w"
	WORK="$w" TOP="$top" run_one "$s" sh "$s"
done

if ls man/*.[1-8] >/dev/null 2>&1; then
	run_one "mandoc -Tlint" mandoc -Tlint -Wwarning man/*.[1-8]
fi

[ -n "$failures" ] && echo "failed:$failures"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
