#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# sigwake-bench-tap [--emit-json] [sigwake-bench options]
#
# Runs sigwake-bench (next to this script) as a TAP test, in busybox sh;
# without options, a --quick smoke run (what "make check" runs):
#
#   ok 1  the benchmark ran to completion and wrote its JSON
#   ok 2  it reports zero lost events for sigwake
#
# Speed is never a result: the benchmark's table and notes become TAP
# comments.  With --emit-json the JSON follows, verbatim, between the lines
# "# sigwake-bench-json: BEGIN" and "# sigwake-bench-json: END", for the
# QEMU runner's "make bench" to extract (which passes --full).
# Exit status 4 (skip) when /dev/sigwake is missing.

here=$(cd "$(dirname "$0")" && pwd)
emit=
if [ "${1:-}" = --emit-json ]; then
	emit=1
	shift
fi
[ $# -gt 0 ] || set -- --quick
json=${TMPDIR:-/tmp}/sigwake-bench.$$.json
rcfile=$json.rc

echo "TAP version 13"
echo "1..2"
# Streamed, so that a long run shows its progress; the status goes through
# a file because busybox sh may lack pipefail.
{
	"$here/sigwake-bench" "$@" --json "$json"
	echo $? >"$rcfile"
} 2>&1 | sed 's/^/# /'
rc=$(cat "$rcfile" 2>/dev/null || echo 1)
rm -f "$rcfile"
if [ -n "$emit" ] && [ -f "$json" ]; then
	echo "# sigwake-bench-json: BEGIN"
	cat "$json"
	echo "# sigwake-bench-json: END"
fi

if [ $rc -eq 4 ]; then
	echo "ok 1 sigwake-bench runs to completion # SKIP /dev/sigwake unavailable"
	echo "ok 2 sigwake loses no event # SKIP /dev/sigwake unavailable"
	rm -f "$json"
	exit 4
fi

fail=0
if [ $rc -ne 0 ] && [ $rc -ne 3 ]; then
	echo "not ok 1 sigwake-bench runs to completion # exit status $rc"
	fail=1
elif ! grep -q '"complete": true' "$json" 2>/dev/null; then
	echo "not ok 1 sigwake-bench runs to completion # no complete JSON"
	fail=1
else
	echo "ok 1 sigwake-bench runs to completion"
fi

lost=$(sed -n 's/^ *"sigwake_lost_events": *\(-\{0,1\}[0-9]*\),*$/\1/p' "$json" 2>/dev/null)
case $lost in
0)	echo "ok 2 sigwake loses no event" ;;
-1)	echo "ok 2 sigwake loses no event # SKIP the lost-event benchmark did not run" ;;
*)	echo "not ok 2 sigwake loses no event # sigwake_lost_events=${lost:-missing}"
	fail=1 ;;
esac
rm -f "$json"
exit $fail
