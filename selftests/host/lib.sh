# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# TAP helpers for the host tests (sourced).  Each test prints "ok N - what",
# "not ok N - what" or "ok N - what # SKIP why", then the plan "1..N" at the
# end (TAP 13 allows a trailing plan).  Diagnostics go to stdout as "# ...".

HOST_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=${SIGWAKE_TOP:-$(cd "$HOST_DIR/../.." && pwd)}
_tap_n=0
_tap_failed=0

tap_ok()   { _tap_n=$((_tap_n + 1)); echo "ok $_tap_n - $*"; }
tap_fail() { _tap_n=$((_tap_n + 1)); _tap_failed=$((_tap_failed + 1)); echo "not ok $_tap_n - $*"; }
tap_skip() { _tap_n=$((_tap_n + 1)); echo "ok $_tap_n - $1 # SKIP $2"; }
tap_diag() { printf '%s\n' "$@" | sed 's/^/# /'; }

# tap_check <what> <command...>: one result from a command's status; its
# output is kept in $TAP_LOG and the tail shown on failure.
TAP_LOG=${TAP_LOG:-/dev/null}
tap_check() {
	local what=$1 out
	shift
	if out=$("$@" 2>&1); then
		tap_ok "$what"
		[ -z "$out" ] || printf '%s\n' "$out" >>"$TAP_LOG"
	else
		tap_fail "$what"
		printf '%s\n' "$out" >>"$TAP_LOG"
		printf '%s\n' "$out" | tail -n 25 | sed 's/^/# /'
	fi
}

# tap_skip_all <why>: the whole test does not apply here.
tap_skip_all() { echo "1..0 # SKIP $*"; exit 0; }

# tap_bail <why>: stop here; everything not yet run counts as failed.
tap_bail() { tap_fail "$*"; tap_done; }

tap_done() {
	echo "1..$_tap_n"
	[ "$_tap_failed" -eq 0 ] && exit 0
	exit 1
}

is_root() { [ "$(id -u)" -eq 0 ]; }

# The kernel releases whose headers are installed and that sigwake supports
# (the BUILD_EXCLUSIVE_KERNEL range of dkms.conf), oldest first.
supported_kernels() {
	local re d k
	re=$(sed -n 's/^BUILD_EXCLUSIVE_KERNEL="\(.*\)"$/\1/p' "$TOP/dkms.conf")
	for d in /lib/modules/*/build; do
		[ -f "$d/Makefile" ] || continue
		k=${d%/build}
		k=${k##*/}
		[[ $k =~ $re ]] && echo "$k"
	done | sort -V
}

# The kernel cache of selftests/qemu/fetch-kernel.sh.
kernel_cache() {
	echo "${SIGWAKE_CACHE:-${HOME:-/root}/.cache/sigwake}"
}

# Releases whose headers fetch-kernel.sh unpacked into the kernel cache
# (not installed in /lib/modules), in the range dkms.conf accepts.
unpacked_kernels() {
	local re d k
	re=$(sed -n 's/^BUILD_EXCLUSIVE_KERNEL="\(.*\)"$/\1/p' "$TOP/dkms.conf")
	for d in "$(kernel_cache)"/kernels/*/headers/complete; do
		[ -f "$d" ] || continue
		k=${d%/headers/complete}
		k=${k##*/}
		[ -f "/lib/modules/$k/build/Makefile" ] && continue
		[ -f "$(unpacked_kerneldir "$k")/Makefile" ] || continue
		[[ $k =~ $re ]] && echo "$k"
	done | sort -V
}

unpacked_kerneldir() {
	echo "$(kernel_cache)/kernels/$1/headers/usr/src/linux-headers-$1"
}

# Copy the source tree (what a release tarball would hold: no .git, no
# build/, no objects of an in-tree build) to <dir>.
copy_tree() {
	mkdir -p "$1"
	rsync -a --exclude=/.git --exclude=/build \
		--exclude='*.o' --exclude='*.ko' --exclude='*.ko.*' --exclude='.*.cmd' \
		--exclude='*.mod' --exclude='*.mod.c' --exclude='*.a' --exclude='*.so*' \
		--exclude=modules.order --exclude=Module.symvers --exclude='.*.d' \
		--exclude='.tmp*' --exclude='.cache.mk' "$TOP/" "$1/"
}
