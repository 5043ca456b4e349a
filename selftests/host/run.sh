#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# run.sh [name...]
#
# Run the host tests (every *_test.sh next to this file: docs, static,
# install, dkms, deb, ...), each a TAP producer, and print one summary line per test and
# a closing "host: N passed, N failed, N skipped".  The QEMU runner
# (selftests/qemu/run.sh) calls this once per "make check"; HOST_TESTS
# there (and here) is "1" for all, "0" for none, or a list of names.
# Exits non-zero if anything failed.
set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
want=${*:-${HOST_TESTS:-1}}
[ "$want" = 0 ] && { echo "host: 0 passed, 0 failed, 0 skipped"; exit 0; }
[ "$want" = 1 ] && want=
top=$(cd "$here/../.." && pwd)
logdir=${HOST_LOGDIR:-$top/build/host}
mkdir -p "$logdir"

# Order: the cheap ones first, then any other *_test.sh by name.
order="docs static install dkms deb"
for t in "$here"/*_test.sh; do
	name=$(basename "$t" _test.sh)
	[[ " $order " == *" $name "* ]] || order="$order $name"
done
P=0 F=0 S=0 status=0
for name in $order; do
	t=$here/${name}_test.sh
	[ -f "$t" ] || continue
	if [ -n "$want" ] && [[ " $want " != *" $name "* ]]; then
		continue
	fi
	log=$logdir/$name.tap
	echo "# host: $name ($t)"
	start=$(date +%s)
	TAP_LOG=$logdir/$name.log bash "$t" 2>&1 | tee "$log" | sed "s/^/[$name] /"
	rc=${PIPESTATUS[0]}
	np=$(grep -Ec '^ok [0-9]+( |$)' "$log" | tr -d ' ')
	ns=$(grep -Ec '^ok [0-9]+.*# *SKIP' "$log" | tr -d ' ')
	nf=$(grep -Ec '^not ok [0-9]+' "$log" | tr -d ' ')
	np=$((np - ns))
	if grep -Eq '^1\.\.0 *# *SKIP' "$log"; then
		ns=$((ns + 1))
	fi
	plan=$(sed -n 's/^1\.\.\([0-9]*\).*/\1/p' "$log" | tail -n1)
	if [ -z "$plan" ]; then
		echo "[$name] not ok - no TAP plan (the test died)"
		nf=$((nf + 1))
	elif [ "$plan" -ne $((np + ns + nf)) ] && [ "$plan" -ne 0 ]; then
		echo "[$name] not ok - planned $plan results, got $((np + ns + nf))"
		nf=$((nf + 1))
	fi
	if [ "$rc" -ne 0 ] && [ "$nf" -eq 0 ]; then
		echo "[$name] not ok - exited with status $rc"
		nf=$((nf + 1))
	fi
	echo "host $name: $np passed, $nf failed, $ns skipped ($(($(date +%s) - start))s)"
	P=$((P + np)) F=$((F + nf)) S=$((S + ns))
	[ "$nf" -eq 0 ] || status=1
done
echo "host: $P passed, $F failed, $S skipped"
exit $status
