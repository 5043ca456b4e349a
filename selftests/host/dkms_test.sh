#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# dkms_test.sh: the DKMS path end to end, for real, on this machine.
#
#   make dkms-install               sources into /usr/src/sigwake-<version>
#   dkms add sigwake/<version>
#   dkms build / install -k <release>      for every installed kernel whose
#                                   headers sigwake supports (5.10 and later)
#   dkms build -k <release> --kernelsourcedir <headers>   for every kernel
#                                   whose headers make check unpacked into
#                                   the kernel cache (5.10, 7.2, 7.2-rt ...:
#                                   built, not installed, as that kernel is
#                                   not installed here)
#   boot each DKMS-built module in QEMU (selftests/qemu/run.sh with
#   SIGWAKE_KO=<that .ko>, KERNELS=<release>) and run the smoke tests
#   dkms remove sigwake/<version> --all; rm -rf /usr/src/sigwake-<version>
#
# and leaves the machine as it found it: nothing of sigwake in dkms status,
# /usr/src, /var/lib/dkms or /lib/modules/*/updates/dkms, depmod re-run, the
# files that dkms and depmod created in /lib/modules/<release>/ removed, the
# dkms signing key removed if this test made dkms create it.
#
# Root only (it installs dkms with apt-get if missing).  Environment:
#   SIGWAKE_DKMS_TESTS   the selftests to boot with each module
#                        (default "ioctl_test wait_test post_test")
#   SIGWAKE_DKMS_BOOT=0  build and install only, no QEMU
set -u
. "$(dirname "$0")/lib.sh"

is_root || tap_skip_all "needs root: dkms writes /usr/src, /var/lib/dkms and /lib/modules"

if ! command -v dkms >/dev/null; then
	echo "# installing dkms"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y --no-install-recommends dkms </dev/null >/dev/null 2>&1 ||
		{ apt-get update </dev/null >/dev/null 2>&1 &&
		  apt-get install -y --no-install-recommends dkms </dev/null >/dev/null 2>&1; }
	command -v dkms >/dev/null || tap_bail "apt-get install dkms"
fi

# One dkms_test at a time on a machine (several trees may run make check):
# they would share /usr/src/sigwake-<version> and the dkms tree.
exec 9>/run/lock/sigwake-dkms-test.lock 2>/dev/null || exec 9>/tmp/sigwake-dkms-test.lock
if ! flock -w 1800 9; then
	tap_skip_all "another dkms_test has held /run/lock/sigwake-dkms-test.lock for 30 minutes"
fi

ver=$(sed -n 's/^VERSION := *//p' "$TOP/Makefile")
[ -n "$ver" ] || tap_bail "no VERSION in $TOP/Makefile"
mapfile -t kernels < <(supported_kernels)
mapfile -t unpacked < <(unpacked_kernels)
[ "${#kernels[@]}" -gt 0 ] || [ "${#unpacked[@]}" -gt 0 ] ||
	tap_skip_all "no kernel headers in the supported range (/lib/modules/*/build, the kernel cache)"
if dkms status -m sigwake 2>/dev/null | grep -q . || [ -e "/usr/src/sigwake-$ver" ]; then
	tap_skip_all "sigwake is already installed with dkms here ($(dkms status -m sigwake | head -n1)); not touching it"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sigwake-dkms.XXXXXX")
mok_before=
[ -e /var/lib/dkms/mok.key ] && mok_before=1
for k in "${kernels[@]}"; do
	ls -A "/lib/modules/$k" >"$tmp/before.$k"
	[ -d "/lib/modules/$k/updates" ] && echo updates >>"$tmp/dirs.$k"
done

# Put the machine back, whatever happened.
restore() {
	local k f
	if dkms status -m sigwake 2>/dev/null | grep -q .; then
		dkms remove "sigwake/$ver" --all >/dev/null 2>&1
	fi
	rm -rf "/usr/src/sigwake-$ver" /var/lib/dkms/sigwake
	for k in "${kernels[@]}"; do
		rm -f "/lib/modules/$k/updates/dkms/"sigwake.ko*
		rmdir "/lib/modules/$k/updates/dkms" 2>/dev/null
		grep -qx updates "$tmp/dirs.$k" 2>/dev/null ||
			rmdir "/lib/modules/$k/updates" 2>/dev/null
		if grep -qx modules.dep "$tmp/before.$k"; then
			depmod -a "$k" 2>/dev/null
		else
			# depmod output that only dkms's depmod run created.
			for f in "/lib/modules/$k"/modules.*; do
				[ -e "$f" ] || continue
				grep -qx "${f##*/}" "$tmp/before.$k" || rm -f "$f"
			done
		fi
	done
	[ -n "$mok_before" ] || rm -f /var/lib/dkms/mok.key /var/lib/dkms/mok.pub
	rm -rf "$tmp"
}
trap restore EXIT

echo "# sigwake $ver; kernels: ${kernels[*]}; unpacked in the kernel cache: ${unpacked[*]}"

# 1. Sources into /usr/src, exactly the build sources.
tap_check "make dkms-install" make -C "$TOP" --no-print-directory dkms-install
srcdir=/usr/src/sigwake-$ver
expected=$( (cd "$TOP" && ls Kbuild Makefile dkms.conf module/*.[ch] uapi/linux/*.h) | sort)
got=$( (cd "$srcdir" 2>/dev/null && find . -type f | sed 's|^\./||') | sort)
if [ "$got" = "$expected" ]; then
	tap_ok "/usr/src/sigwake-$ver holds exactly Kbuild Makefile dkms.conf module/*.[ch] uapi/"
else
	tap_fail "/usr/src/sigwake-$ver holds exactly Kbuild Makefile dkms.conf module/*.[ch] uapi/"
	tap_diag "$(diff <(echo "$expected") <(echo "$got"))"
fi
tap_check "dkms.conf is stamped with PACKAGE_VERSION=\"$ver\"" \
	grep -qx "PACKAGE_VERSION=\"$ver\"" "$srcdir/dkms.conf"

# 2. Add, build, install against every supported kernel.
tap_check "dkms add sigwake/$ver" dkms add "sigwake/$ver"
for k in "${kernels[@]}"; do
	tap_check "dkms build sigwake/$ver -k $k" dkms build "sigwake/$ver" -k "$k"
	if ! dkms status "sigwake/$ver" -k "$k" 2>/dev/null | grep -Eq ': (built|installed)'; then
		grep -E 'error|ERROR|Error [0-9]' "/var/lib/dkms/sigwake/$ver/build/make.log" 2>/dev/null |
			head -n 20 | sed 's/^/# make.log: /'
	fi
	tap_check "dkms install sigwake/$ver -k $k" dkms install "sigwake/$ver" -k "$k"
	tap_check "dkms status: sigwake/$ver, $k: installed" \
		bash -c "dkms status 'sigwake/$ver' -k '$k' | grep -q ': installed'"
done

# 2b. Build (only) against the headers unpacked in the kernel cache.
for k in "${unpacked[@]}"; do
	kdir=$(unpacked_kerneldir "$k")
	tap_check "dkms build sigwake/$ver -k $k --kernelsourcedir <cache>/${kdir#"$(kernel_cache)"/}" \
		dkms build "sigwake/$ver" -k "$k" --kernelsourcedir "$kdir"
	if ! dkms status "sigwake/$ver" -k "$k" 2>/dev/null | grep -Eq ': built'; then
		grep -E 'error|ERROR|Error [0-9]' "/var/lib/dkms/sigwake/$ver/build/make.log" 2>/dev/null |
			head -n 20 | sed 's/^/# make.log: /'
	fi
done
all=("${kernels[@]}" "${unpacked[@]}")

# 3. The installed module, uncompressed (busybox insmod in the VM takes a
# plain .ko), must be built for that kernel; boot it.
unpack() {
	local in=$1 out=$2
	case $in in
	*.ko.xz)  xz -dc "$in" >"$out" ;;
	*.ko.zst) zstd -qdc "$in" >"$out" ;;
	*.ko.gz)  gzip -dc "$in" >"$out" ;;
	*.ko)     cp "$in" "$out" ;;
	*)        return 1 ;;
	esac
}
declare -A ko
for k in "${all[@]}"; do
	inst=$(ls "/lib/modules/$k/updates/dkms/"sigwake.ko* 2>/dev/null | head -n1)
	[ -n "$inst" ] || inst=$(ls "/var/lib/dkms/sigwake/$ver/$k/x86_64/module/"sigwake.ko* 2>/dev/null | head -n1)
	mkdir -p "$tmp/$k"
	if [ -n "$inst" ] && unpack "$inst" "$tmp/$k/sigwake.ko"; then
		tap_ok "DKMS module for $k: ${inst#/lib/modules/$k/}"
	else
		tap_fail "DKMS module for $k: not found in updates/dkms nor /var/lib/dkms"
		continue
	fi
	vm=$(modinfo -F vermagic "$tmp/$k/sigwake.ko" 2>/dev/null)
	if [ "${vm%% *}" = "$k" ]; then
		tap_ok "its vermagic is $k"
		ko[$k]=$tmp/$k/sigwake.ko
	else
		tap_fail "its vermagic is $k (got '$vm')"
	fi
done

tests=${SIGWAKE_DKMS_TESTS:-ioctl_test wait_test post_test}
# Build just those programs (unless the list has globs), so that a program
# the boot does not run cannot break it.
mkdir -p "$tmp/no-demos"   # the boot runs no example either
tests_dir=
if [[ $tests != *[*?[]* ]] && [ "${SIGWAKE_DKMS_BOOT:-1}" != 0 ]; then
	tests_dir=$tmp/tests
	targets=$(for t in $tests; do printf '%s/%s ' "$tests_dir" "$t"; done)
	# The kselftest headers of an earlier build, rather than the tarball.
	ksft=$TOP/build/qemu/user/tests/include
	[ -f "$ksft/kselftest_harness.h" ] && [ -f "$ksft/kselftest.h" ] || ksft=
	# shellcheck disable=SC2086
	if ! make -C "$TOP/selftests" --no-print-directory OUT="$tests_dir" \
		${ksft:+KSFT_HEADERS="$ksft"} \
		$targets "$tests_dir/TESTS" >"$tmp/tests-build.log" 2>&1; then
		tail -n 20 "$tmp/tests-build.log" | sed 's/^/# /'
		tests_dir=
	fi
fi
for k in "${all[@]}"; do
	what="QEMU $k boots the DKMS-built module and passes: $tests"
	if [ "${SIGWAKE_DKMS_BOOT:-1}" = 0 ]; then
		tap_skip "$what" "SIGWAKE_DKMS_BOOT=0"
		continue
	fi
	if [ -z "${ko[$k]:-}" ]; then
		tap_fail "$what (no module)"
		continue
	fi
	log=$tmp/qemu-$k.log
	KERNELS=$k SIGWAKE_KO=${ko[$k]} TESTS_FILTER=$tests HOST_TESTS=0 QUIET=1 \
	TESTS_DIR=$tests_dir DEMOS_DIR=$tmp/no-demos \
		bash "$TOP/selftests/qemu/run.sh" check >"$log" 2>&1
	rc=$?
	sum=$(grep -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped( on .*)?$' "$log" | tail -n1)
	np=$(echo "$sum" | awk '{print $1}')
	nf=$(echo "$sum" | awk '{print $3}')
	if [ "$rc" -eq 0 ] && [ -n "$sum" ] && [ "${nf:-1}" -eq 0 ] && [ "${np:-0}" -gt 0 ] &&
	   grep -q "using SIGWAKE_KO=${ko[$k]}" "$log"; then
		tap_ok "$what ($sum)"
	else
		tap_fail "$what (status $rc: ${sum:-no summary})"
		tail -n 30 "$log" | sed 's/^/# /'
	fi
	cp "$log" "$TOP/build/host/dkms-qemu-$k.log" 2>/dev/null
done

# 4. Remove, and check that nothing is left.
tap_check "dkms remove sigwake/$ver --all" dkms remove "sigwake/$ver" --all
tap_check "rm -rf /usr/src/sigwake-$ver (make dkms-uninstall)" \
	make -C "$TOP" --no-print-directory dkms-uninstall
tap_check "dkms status shows no sigwake" \
	bash -c "! dkms status | grep -q sigwake"
tap_check "nothing left in /lib/modules/*/updates/dkms/sigwake*, /usr/src, /var/lib/dkms" \
	bash -c "! ls -d /lib/modules/*/updates/dkms/sigwake* /usr/src/sigwake-$ver /var/lib/dkms/sigwake 2>/dev/null | grep -q ."
for k in "${kernels[@]}"; do
	tap_check "depmod re-run: modules.dep of $k has no sigwake" \
		bash -c "! grep -qs sigwake '/lib/modules/$k/modules.dep'"
done
tap_done
