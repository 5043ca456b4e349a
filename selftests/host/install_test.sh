#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# install_test.sh: "make install DESTDIR=<tmp> PREFIX=/usr" of a copy of the
# tree puts every file where it belongs (the module through modules_install
# with INSTALL_MOD_PATH, no depmod in a staged tree), and an outside program
# builds against the staged libsigwake and <linux/sigwake.h> through
# pkg-config alone, linked shared and static.  Then "make uninstall" leaves
# nothing behind.  Needs no root: everything happens under a temporary
# directory.  SIGWAKE_KREL picks the kernel headers for the module.
set -u
. "$(dirname "$0")/lib.sh"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sigwake-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
src=$tmp/src dest=$tmp/dest

krel=${SIGWAKE_KREL:-$(supported_kernels | head -n1)}
copy_tree "$src"

if [ -n "$krel" ]; then
	tap_check "make install DESTDIR PREFIX=/usr (module for $krel)" \
		make -C "$src" install DESTDIR="$dest" PREFIX=/usr KERNELRELEASE="$krel"
else
	tap_check "make install-user DESTDIR PREFIX=/usr (no supported kernel headers)" \
		make -C "$src" install-user DESTDIR="$dest" PREFIX=/usr
fi
[ -d "$dest" ] || tap_bail "nothing was installed"

expect() {
	local f
	for f in "$@"; do
		[ -e "$dest$f" ] || { echo "missing: $f"; return 1; }
	done
}
tap_check "headers: /usr/include/linux/sigwake.h, /usr/include/libsigwake.h" \
	expect /usr/include/linux/sigwake.h /usr/include/libsigwake.h
tap_check "libraries: libsigwake.a, libsigwake.so.0, libsigwake.so" \
	expect /usr/lib/libsigwake.a /usr/lib/libsigwake.so.0 /usr/lib/libsigwake.so
tap_check "libsigwake.so is a symlink to libsigwake.so.0" \
	test "$(readlink "$dest/usr/lib/libsigwake.so")" = libsigwake.so.0
tap_check "libsigwake.so.0 has SONAME libsigwake.so.0" \
	bash -c "readelf -d '$dest/usr/lib/libsigwake.so.0' | grep -q 'SONAME.*\[libsigwake\.so\.0\]'"
tap_check "pkg-config file: /usr/lib/pkgconfig/libsigwake.pc" \
	expect /usr/lib/pkgconfig/libsigwake.pc
tap_check "man pages: sigwake(4), libsigwake(3), sigwake_wait_take(3), a page name per function" \
	expect /usr/share/man/man4/sigwake.4 /usr/share/man/man3/libsigwake.3 \
	       /usr/share/man/man3/sigwake_wait_take.3 \
	       /usr/share/man/man3/sigwake_post.3 /usr/share/man/man3/sigwake_enter_guest.3 \
	       /usr/share/man/man3/sigwake_revoke.3
tap_check "udev rule: /lib/udev/rules.d/60-sigwake.rules, MODE 0666" \
	grep -q 'KERNEL=="sigwake".*MODE="0666"' "$dest/lib/udev/rules.d/60-sigwake.rules"
tap_check "modules-load.d example in /usr/share/doc/sigwake/examples" \
	grep -qx sigwake "$dest/usr/share/doc/sigwake/examples/modules-load.d-sigwake.conf"
if [ -f "$src/helper/sigwakectl.c" ]; then
	tap_check "sigwakectl in /usr/bin, sigwakectl(8)" \
		expect /usr/bin/sigwakectl /usr/share/man/man8/sigwakectl.8
else
	tap_skip "sigwakectl in /usr/bin, sigwakectl(8)" "helper/sigwakectl.c does not exist yet"
fi
if [ -n "$krel" ]; then
	tap_check "module: /lib/modules/$krel/updates/sigwake.ko*" \
		bash -c "ls '$dest/lib/modules/$krel/updates/'sigwake.ko*"
	tap_check "no depmod output in a staged tree" \
		bash -c "! ls '$dest/lib/modules/$krel/'modules.dep* 2>/dev/null"
else
	tap_skip "module: /lib/modules/<release>/updates/sigwake.ko*" "no supported kernel headers"
	tap_skip "no depmod output in a staged tree" "no module"
fi

# An outside program, built with nothing but pkg-config pointed at DESTDIR.
# The system has no <linux/sigwake.h> of its own, so a successful build
# proves the staged headers were used.
cat >"$tmp/outside.c" <<'PROG'
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <libsigwake.h>
#include <linux/sigwake.h>

static struct sigwake_thread_block blk __attribute__((aligned(64)));

int main(void)
{
	int fd;

	if (sizeof(struct sigwake_thread_block) != SIGWAKE_THREAD_BLOCK_SIZE)
		return 1;
	if (strcmp(sigwake_reason_name(SIGWAKE_REASON_KICK), "kick") ||
	    strcmp(sigwake_outcome_name(SIGWAKE_POST_QUEUED), "queued"))
		return 2;
	blk.pending = sigwake_sigbit(2);
	if (sigwake_enter_guest(&blk) != sigwake_sigbit(2) ||
	    sigwake_take_pending(&blk) != sigwake_sigbit(2) ||
	    sigwake_enter_guest(&blk) != 0)
		return 3;
	sigwake_leave_guest(&blk);
	fd = sigwake_open();
	printf("outside: libsigwake %d.%d, ioctl 0x%lx, sigwake_open: %s\n",
	       LIBSIGWAKE_VERSION_MAJOR, LIBSIGWAKE_VERSION_MINOR,
	       (unsigned long)SIGWAKE_IOC_POST,
	       fd >= 0 ? "ok" : strerror(-fd));
	if (fd >= 0)
		close(fd);
	return 0;
}
PROG

pc() {
	PKG_CONFIG_SYSROOT_DIR=$dest PKG_CONFIG_LIBDIR=$dest/usr/lib/pkgconfig \
	PKG_CONFIG_PATH= pkg-config "$@" libsigwake
}
tap_check "pkg-config --modversion libsigwake (sysroot DESTDIR)" pc --modversion
tap_check "pkg-config paths point into DESTDIR" \
	bash -c "[[ '$(pc --cflags 2>&1)' == *'-I$dest/usr/include'* && '$(pc --libs 2>&1)' == *'-L$dest/usr/lib'* ]]"

cflags=$(pc --cflags 2>/dev/null)
libs=$(pc --libs 2>/dev/null)
slibs=$(pc --static --libs 2>/dev/null)
# shellcheck disable=SC2086
tap_check "outside program links against the shared libsigwake" \
	cc -Wall -Werror -o "$tmp/outside-shared" "$tmp/outside.c" $cflags $libs
tap_check "shared program needs libsigwake.so.0 and runs from DESTDIR" \
	bash -c "readelf -d '$tmp/outside-shared' | grep -q 'NEEDED.*\[libsigwake\.so\.0\]' &&
		 LD_LIBRARY_PATH='$dest/usr/lib' ldd '$tmp/outside-shared' | grep -q '$dest/usr/lib/libsigwake.so.0' &&
		 LD_LIBRARY_PATH='$dest/usr/lib' '$tmp/outside-shared'"
# shellcheck disable=SC2086
tap_check "outside program links statically (pkg-config --static)" \
	cc -Wall -Werror -static -o "$tmp/outside-static" "$tmp/outside.c" $cflags $slibs
tap_check "static program runs without libsigwake.so" \
	bash -c "! readelf -d '$tmp/outside-static' 2>/dev/null | grep -q libsigwake &&
		 '$tmp/outside-static'"

# Without installing: pkg-config finds libsigwake-uninstalled.pc in the
# helper build directory and points into the tree.
tap_check "make -C helper writes libsigwake-uninstalled.pc" \
	make -C "$src/helper" OUT="$tmp/uninst" static "$tmp/uninst/libsigwake-uninstalled.pc"
ucflags=$(PKG_CONFIG_PATH=$tmp/uninst PKG_CONFIG_LIBDIR= pkg-config --cflags libsigwake 2>&1)
ulibs=$(PKG_CONFIG_PATH=$tmp/uninst PKG_CONFIG_LIBDIR= pkg-config --static --libs libsigwake 2>&1)
# shellcheck disable=SC2086
tap_check "an outside program links against the tree's libsigwake, nothing installed" \
	bash -c "cc -Wall -Werror -static -o '$tmp/outside-uninst' '$tmp/outside.c' $ucflags $ulibs &&
		 [[ '$ucflags' == *'-I$src/helper'* ]] && '$tmp/outside-uninst'"

# No kernel headers: the module targets say which and how to name
# another kernel; install-user needs none.
no_headers() {
	local out
	out=$(make -C "$src" module KERNELRELEASE=0.0-none 2>&1) && return 1
	echo "$out" | grep -v '^make'
	grep -q 'no kernel headers for 0.0-none' <<<"$out" &&
		grep -q 'KERNELRELEASE=' <<<"$out" && grep -q 'KERNELDIR=' <<<"$out" &&
		grep -q 'make install-user' <<<"$out"
}
tap_check "make without kernel headers names them, KERNELRELEASE=, KERNELDIR= and install-user" no_headers
tap_check "make install-user needs no kernel headers" \
	make -C "$src" install-user DESTDIR="$tmp/dest-user" PREFIX=/usr KERNELRELEASE=0.0-none

# And back out again.
if [ -n "$krel" ]; then
	tap_check "make uninstall DESTDIR PREFIX=/usr" \
		make -C "$src" uninstall DESTDIR="$dest" PREFIX=/usr KERNELRELEASE="$krel"
else
	tap_check "make uninstall DESTDIR PREFIX=/usr" \
		make -C "$src" uninstall DESTDIR="$dest" PREFIX=/usr KERNELRELEASE=none
fi
left=$(find "$dest" ! -type d 2>/dev/null)
if [ -z "$left" ]; then
	tap_ok "make uninstall leaves no file behind"
else
	tap_fail "make uninstall leaves no file behind"
	tap_diag "$left"
fi
tap_done
