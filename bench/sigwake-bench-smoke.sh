#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# sigwake-bench-smoke: "sigwake-bench --quick" as a TAP test (busybox sh).
#
# Passes when the benchmark runs to completion and reports zero lost events
# for sigwake.  Speed is never a result: the table is printed as comments.
# Skips (exit 4) when /dev/sigwake is missing.

here=$(cd "$(dirname "$0")" && pwd)
json=${TMPDIR:-/tmp}/sigwake-bench-smoke.$$.json

echo "TAP version 13"
echo "1..2"
"$here/sigwake-bench" --quick --json "$json" >"$json.out" 2>&1
rc=$?
sed 's/^/# /' "$json.out"
rm -f "$json.out"

if [ $rc -eq 4 ]; then
	echo "ok 1 sigwake-bench --quick runs to completion # SKIP /dev/sigwake unavailable"
	echo "ok 2 sigwake loses no event # SKIP /dev/sigwake unavailable"
	rm -f "$json"
	exit 4
fi

fail=0
if [ $rc -ne 0 ] && [ $rc -ne 3 ]; then
	echo "not ok 1 sigwake-bench --quick runs to completion # exit status $rc"
	fail=1
elif ! grep -q '"complete": true' "$json" 2>/dev/null; then
	echo "not ok 1 sigwake-bench --quick runs to completion # no complete JSON"
	fail=1
else
	echo "ok 1 sigwake-bench --quick runs to completion"
fi

lost=$(sed -n 's/^ *"sigwake_lost_events": *\(-\{0,1\}[0-9]*\),*$/\1/p' "$json" 2>/dev/null)
if [ "$lost" = 0 ]; then
	echo "ok 2 sigwake loses no event"
else
	echo "not ok 2 sigwake loses no event # sigwake_lost_events=${lost:-missing}"
	fail=1
fi
rm -f "$json"
exit $fail
