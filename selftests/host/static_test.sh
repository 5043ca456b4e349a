#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# static_test.sh: the static checks, each a TAP result.
#
#   make style       checkpatch.pl --strict of module/ and the uapi header:
#                    clean (no ERROR, WARNING or CHECK)
#   make sparse      C=2 against the oldest supported kernel's headers (all
#                    of them with STATIC_SPARSE_ALL=1): no warning or error
#                    from sparse in module code
#   make w1          W=1 KCFLAGS=-Werror against each supported kernel
#   make uapi-test   the uapi header alone, as C90 (-pedantic) and as C++
#
# The kernel builds run in fresh copies of the module sources under
# build/host/static/, never in the shared work tree.
set -u
. "$(dirname "$0")/lib.sh"

work=${STATIC_WORK:-$TOP/build/host/static}
rm -rf "$work"
mkdir -p "$work"

# A fresh copy of the module sources for one build: <dir>
fresh_src() {
	local p
	rm -rf "$1"
	mkdir -p "$1"
	for p in Kbuild Makefile module uapi; do
		cp -a "$TOP/$p" "$1/"
	done
}

tap_check "make style (checkpatch --strict clean)" \
	make --no-print-directory -C "$TOP" style

# sparse prints its findings as warnings but exits 0: any "warning:" or
# "error:" line about module code fails the check.
sparse_check() {
	local out
	fresh_src "$work/sparse-$1"
	out=$(make --no-print-directory -C "$work/sparse-$1" sparse \
		KERNELDIR="/lib/modules/$1/build" BUILD="$work/sparse-$1/build" 2>&1) ||
		{ printf '%s\n' "$out"; return 1; }
	printf '%s\n' "$out" | grep -E '(warning|error):' | grep -E '(module|uapi)/' && return 1
	return 0
}

w1_check() {
	fresh_src "$work/w1-$1"
	make --no-print-directory -C "$work/w1-$1" w1 \
		KERNELDIR="/lib/modules/$1/build" BUILD="$work/w1-$1/build"
}

kernels=$(supported_kernels)
if ! command -v sparse >/dev/null; then
	tap_skip "make sparse" "sparse is not installed"
fi
if [ -z "$kernels" ]; then
	tap_skip "make sparse, make w1" "no supported kernel headers installed"
fi
# sparse once, against the oldest supported kernel (STATIC_SPARSE_ALL=1: all)
sparse_kernels=$kernels
[ -n "${STATIC_SPARSE_ALL:-}" ] || sparse_kernels=$(printf '%s\n' $kernels | head -n 1)
for k in $kernels; do
	if command -v sparse >/dev/null && [[ " $(echo $sparse_kernels) " == *" $k "* ]]; then
		tap_check "make sparse (C=2) against $k: no warnings" sparse_check "$k"
	fi
	tap_check "make w1 (W=1 -Werror) against $k" w1_check "$k"
done

tap_check "make uapi-test (C90 -pedantic and C++)" \
	make --no-print-directory -C "$TOP" uapi-test BUILD="$work/uapi"
tap_done
