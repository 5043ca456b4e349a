#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# run.sh: check model/sigwake.pml and model/post_any.pml with spin,
# exhaustively; TAP on stdout.
#
#   model/run.sh [build-dir]     (make model runs it with $(BUILD)/model)
#
# Each check generates pan in its own directory under the build directory
# (never in the source tree), compiles it with a memory cap and runs a full
# search:
#   - one safety run per scenario (assertions, invariants, quiescence
#     checks, invalid end states), which must find no error;
#   - a non-progress-cycle run under weak fairness for the scenarios with
#     loops (descriptor hints, KICK_WAIT), which must find none;
#   - the "reverted fix" runs: the same model with a fixed defect put back
#     (REVERT_WAKE_KICK, REVERT_CLOSE), which pass when spin finds the
#     violation and writes a trail; the trail's steps go to the log.
# A search that hits the depth bound or the memory cap fails: it was not
# exhaustive.  Exits non-zero if any check failed.
set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
model=$here/sigwake.pml
build=${1:-${MODEL_BUILD:-$here/../build/model}}
memlim=${MODEL_MEMLIM:-512}	# MB, for pan's -DMEMLIM
depth=${MODEL_DEPTH:-10000}
n=0 failed=0

ok()   { n=$((n + 1)); echo "ok $n - $*"; }
nok()  { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
diag() { printf '%s\n' "$@" | sed 's/^/# /'; }

if ! command -v spin >/dev/null || ! command -v "${CC:-gcc}" >/dev/null; then
	echo "not ok 1 - spin and a C compiler are installed (Debian: apt-get install spin)"
	echo "1..1"
	exit 1
fi
mkdir -p "$build" || exit 1
build=$(cd "$build" && pwd)
diag "$(spin -V)" "build directory: $build"

# pan_run <name> <mode> <spin -D flags...>: generate, compile and run pan in
# $build/<name>; mode is safety or np.  Sets $out (pan's report), $rc.
pan_run() {
	local name=$1 mode=$2 dir=$build/$1 cflags run
	shift 2
	rm -rf "$dir"
	mkdir -p "$dir"
	# -O0: pan.c compiles in a quarter of -O2's time and these searches
	# run about 20% slower, a net gain (model/README.md, Figures).
	cflags="-O0 -w -DMEMLIM=$memlim"
	run="-m$depth"
	if [ "$mode" = np ]; then
		cflags="$cflags -DNP -DNFAIR=3"
		run="$run -l -f"
	else
		cflags="$cflags -DSAFETY"
	fi
	cp "$model" "$dir/"
	# shellcheck disable=SC2086 # the flags are split on purpose
	if ! (cd "$dir" && spin -a "$@" "$(basename "$model")" >spin.log 2>&1 &&
	      ${CC:-gcc} $cflags -o pan pan.c >cc.log 2>&1); then
		out=$(cat "$dir/spin.log" "$dir/cc.log" 2>/dev/null)
		rc=2
		return
	fi
	# shellcheck disable=SC2086
	out=$(cd "$dir" && ./pan $run 2>&1)
	rc=$?
	printf '%s\n' "$out" >"$dir/pan.log"
}

# figures <name>: one diagnostic line from pan's report.
figures() {
	local states trans secs vec
	states=$(sed -n 's/^ *\([0-9][0-9.e+]*\) states, stored.*/\1/p' <<<"$out" | head -n1)
	trans=$(sed -n 's/^ *\([0-9][0-9.e+]*\) transitions.*/\1/p' <<<"$out" | head -n1)
	vec=$(sed -n 's/^State-vector \([0-9]*\) byte.*/\1/p' <<<"$out" | head -n1)
	secs=$(sed -n 's/^pan: elapsed time \([0-9.e+-]*\) seconds.*/\1/p' <<<"$out" | head -n1)
	diag "$1: ${states:-?} states, ${trans:-?} transitions, ${vec:-?}-byte state vector, ${secs:-?} s"
}

# exhaustive: the search was complete (no depth or memory bound hit).
exhaustive() {
	! grep -qE 'max search depth too small|out of memory|pan: reached -DMEMLIM|Search not completed' <<<"$out"
}

# must_verify <name> <what> <mode> <-D flags...>
must_verify() {
	local name=$1 what=$2 mode=$3
	shift 3
	pan_run "$name" "$mode" "$@"
	if [ "$rc" -eq 0 ] && grep -q 'errors: 0$' <<<"$out" && exhaustive; then
		ok "$what"
		figures "$name"
	else
		nok "$what"
		printf '%s\n' "$out" | grep -vE '^\s*$' | tail -n 25 | sed 's/^/# /'
	fi
}

# must_fail <name> <what> <-D flags...>: spin must find a violation; the
# trail, replayed, goes to $build/<name>/trail.txt.
must_fail() {
	local name=$1 what=$2 dir=$build/$1 v
	shift 2
	pan_run "$name" safety "$@"
	if grep -qE 'errors: [1-9]' <<<"$out" && [ -s "$dir/$(basename "$model").trail" ]; then
		ok "$what"
		v=$(grep -m1 -E 'assertion violated|invalid end state|acceptance cycle' <<<"$out")
		diag "$name: spin found it: ${v#pan:1: }"
		(cd "$dir" && spin -t -p "$@" "$(basename "$model")" >trail.txt 2>&1)
		diag "$name: trail $(grep -cE '^ *[0-9]+:' "$dir/trail.txt") steps, replayed in $dir/trail.txt"
		figures "$name"
	else
		nok "$what"
		printf '%s\n' "$out" | grep -vE '^\s*$' | tail -n 15 | sed 's/^/# /'
	fi
}

start=$(date +%s)
must_verify wake_kick "model: WAKE, KICK, POST against WAIT and guest entry: no loss" \
	safety -DWAKE_KICK
must_verify close "model: close, UNREGISTER, WQ_DESTROY, POST: no WAIT sleeps after them" \
	safety -DCLOSE
must_verify fd "model: descriptor hints, host signal, KICK: no loss, no stuck sleep" \
	safety -DFD
must_verify fd_np "model: descriptor hints: no livelock (non-progress cycles, weak fairness)" \
	np -DFD
must_verify kickwait "model: KICK_WAIT, POST, thread exit: no loss" \
	safety -DKICKWAIT
must_verify kickwait_np "model: KICK_WAIT ends (non-progress cycles, weak fairness)" \
	np -DKICKWAIT
must_fail revert_wake_kick "model: WAKE-then-KICK fix reverted (issue 11 #1): spin finds the lost kick" \
	-DWAKE_KICK -DNO_POST -DREVERT_WAKE_KICK
must_fail revert_post_kick "model: POST-then-KICK with that fix reverted: spin finds the lost kick" \
	-DWAKE_KICK -DREVERT_WAKE_KICK
must_fail revert_early_list "model: WAIT lists itself after reading the word: WAKE's early exit loses the wake-up" \
	-DWAKE_KICK -DNO_POST -DREVERT_EARLY_LIST
must_fail revert_wq_take "model: WAKE takes T off its queue before deciding: its wake-up ends T's next WAIT, on no queue" \
	-DWAKE_KICK -DREVERT_WQ_TAKE
must_fail revert_wq_take_destroy "model: WQ_DESTROY takes T off its queue before deciding: its EIDRM ends T's next WAIT" \
	-DCLOSE -DREVERT_WQ_TAKE
must_fail revert_early_order "model: the early EAGAIN reads the word last: it answers EAGAIN where a check before the word's held" \
	-DWAKE_KICK -DREVERT_EARLY_ORDER
must_fail revert_close "model: sticky-EBADF fix reverted (issue 11 #7): spin finds the WAIT asleep after close" \
	-DCLOSE -DREVERT_CLOSE

# post_any.pml: POST(SIGWAKE_TARGET_ANY) against two threads entering WAIT,
# with no domain-wide lock between them.
model=$here/post_any.pml
must_verify post_any "model: POST(ANY) vs two WAITs, no domain lock: had once, never lost, longest waiter" \
	safety
must_fail revert_any_order "model: WAIT reads the domain's queue before its stamp shows: spin finds the signal lost" \
	-DREVERT_ANY_ORDER
must_fail revert_any_rescan "model: POST(ANY) queues without looking at the waiters again: spin finds the signal lost" \
	-DREVERT_ANY_RESCAN
must_fail revert_any_take "model: POST(ANY) delivers without taking its bit back from the queue: spin finds it had twice" \
	-DREVERT_ANY_TAKE
diag "model: $n checks in $(($(date +%s) - start)) s"
echo "1..$n"
[ "$failed" -eq 0 ]
