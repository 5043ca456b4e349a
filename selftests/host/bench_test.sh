#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# bench_test.sh: the statistics and the JSON of sigwake-bench (bench/).
#
# 1. bench_stats.c checks bench/stats.h on fixed inputs: median, p99, the
#    t quantiles, the geometric mean of per-run ratios and its 95% interval.
# 2. sigwake-bench, built here, runs a few iterations of its baselines on
#    this host (without /dev/sigwake: exit status 4), and its JSON parses
#    and holds what docs/benchmarks.md describes: runs, per-run medians,
#    the trace events, a ratio whose interval contains its value.
# Speed is never checked.  Everything is built under build/host/bench.
set -u
. "$(dirname "$0")/lib.sh"

cc=${CC:-gcc}
command -v "$cc" >/dev/null || tap_skip_all "no C compiler"
out=${BENCH_TEST_BUILD:-$TOP/build/host/bench}
mkdir -p "$out"

if "$cc" -std=gnu11 -Wall -Wextra -Werror -O2 -o "$out/bench_stats" \
	"$HOST_DIR/bench_stats.c" -lm >"$out/bench_stats.log" 2>&1; then
	while IFS= read -r line; do
		case $line in
		"ok "*)     tap_ok "stats: ${line#ok * - }" ;;
		"not ok "*) tap_fail "stats: ${line#not ok * - }" ;;
		esac
	done < <("$out/bench_stats")
else
	tap_fail "bench_stats.c builds"
	tail -n 20 "$out/bench_stats.log" | sed 's/^/# /'
fi

if ! make -s -C "$TOP/bench" OUT="$out" all >"$out/build.log" 2>&1; then
	tap_fail "sigwake-bench builds"
	tail -n 20 "$out/build.log" | sed 's/^/# /'
	tap_done
fi
tap_ok "sigwake-bench builds"

json=$out/bench.json
rm -f "$json"
"$out/sigwake-bench" --only roundtrip,entry,floor --runs 3 --iterations 5 \
	--json "$json" >"$out/run.log" 2>&1
rc=$?
if [ $rc -eq 0 ] || [ $rc -eq 4 ]; then
	tap_ok "sigwake-bench runs (exit status $rc)"
else
	tap_fail "sigwake-bench runs (exit status $rc)"
	tail -n 20 "$out/run.log" | sed 's/^/# /'
fi

if ! command -v jq >/dev/null; then
	tap_skip "the JSON parses" "jq is not installed"
	tap_done
fi
if jq -e . "$json" >/dev/null 2>&1; then
	tap_ok "the JSON parses"
else
	tap_fail "the JSON parses"
	tap_done
fi

# jq_check <what> <filter>: the filter must yield true.
jq_check() {
	if [ "$(jq -r "$2" "$json" 2>&1)" = true ]; then
		tap_ok "$1"
	else
		tap_fail "$1"
		tap_diag "filter: $2"
	fi
}
jq_check "env: runs and the state of the trace events" \
	'.env.runs == 3 and (.env.trace_events.sigwake | IN("on", "off", "unknown"))
	 and (.env.trace_events.enabled | type == "array")'
jq_check "env: pinning of the round trip and the floor" \
	'(.env.pinning["wake_roundtrip.same_cpu"] | type == "string") and
	 (.env.pinning.syscall_floor | type == "string")'
jq_check "the round trip has a same-CPU and a cross-CPU futex row" \
	'(.benchmarks.wake_roundtrip.same_cpu.futex.n == 15) and
	 (.benchmarks.wake_roundtrip.cross_cpu.futex | has("median_ns") or has("skipped"))'
jq_check "the round trip has a hand-off row" \
	'.benchmarks.wake_roundtrip.same_cpu.sigwake_handoff | has("median_ns") or has("skipped")'
jq_check "every measured row has one median per run" \
	'[.benchmarks.wake_roundtrip[][], .benchmarks.syscall_floor[],
	  .benchmarks.syscall_floor_1thread[]
	  | select(has("skipped") | not) | .run_medians_ns | length == 3] | all'
jq_check "a ratio has 3 per-run ratios and an interval around its value" \
	'.aims[] | select(.name == "control: eventfd round trip, same CPU")
	 | .runs == 3 and (.run_ratios | length == 3) and
	   .ci95[0] <= .value and .value <= .ci95[1]'
jq_check "the value is the geometric mean of the per-run ratios" \
	'.aims[] | select(.name == "floor: VFS ioctl vs syscall")
	 | ((.run_ratios | map(log) | add / length | exp) - .value | fabs) < 1e-3'
jq_check "the aims of issue 15 are listed" \
	'[.aims[].name] | contains(["round trip, same CPU", "round trip, cross CPU",
	  "WAIT, word changed (EAGAIN)", "WAKE, no waiter", "guest entry + exit",
	  "hand-off round trip"])'
tap_done
