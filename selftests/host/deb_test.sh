#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# deb_test.sh: "make deb" builds the four Debian packages into build/deb/
# from a copy of the tree (the repository stays clean), lintian finds no
# error in them, and each package holds what it should (dpkg -c).  Root
# only: "make deb" installs the missing build dependencies with apt-get.
set -u
. "$(dirname "$0")/lib.sh"

is_root || tap_skip_all "needs root: make deb installs its build dependencies with apt-get"

debdir=$TOP/build/deb
ver=$(sed -n 's/^VERSION := *//p' "$TOP/Makefile")
# What dpkg-buildpackage would leave in a tree it built in place: debian/
# artefacts, and packages in the parent directory.
leftovers() {
	git -C "$TOP" status --porcelain --ignored -- debian 2>/dev/null
	ls "$TOP/.."/sigwake*_*.changes "$TOP/.."/*sigwake*_*.deb \
	   "$TOP/.."/sigwake_*.buildinfo 2>/dev/null
}
status_before=$(leftovers)

log=$TOP/build/host/deb-build.log
mkdir -p "$TOP/build/host"
if make -C "$TOP" --no-print-directory deb >"$log" 2>&1; then
	tap_ok "make deb (dpkg-buildpackage -us -uc -b, then lintian)"
else
	tail -n 40 "$log" | sed 's/^/# /'
	tap_bail "make deb (dpkg-buildpackage -us -uc -b, then lintian); log: $log"
fi

status_after=$(leftovers)
if [ "$status_before" = "$status_after" ]; then
	tap_ok "the source tree is untouched (built from build/deb/src)"
else
	tap_fail "the source tree is untouched (built from build/deb/src)"
	tap_diag "$(diff <(echo "$status_before") <(echo "$status_after"))"
fi

arch=$(dpkg-architecture -qDEB_HOST_ARCH)
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
deb_of() {
	ls "$debdir/$1_${ver}-"*"_$2.deb" 2>/dev/null | head -n1
}
# has <deb> <path...>: every path is in the package.
has() {
	local deb=$1 p list
	shift
	[ -n "$deb" ] || { echo "no such package"; return 1; }
	list=$(dpkg -c "$deb" | awk '{print $6}' | sed 's|^\./|/|')
	for p in "$@"; do
		grep -qx -- "$p" <<<"$list" || { echo "$(basename "$deb") lacks $p"; return 1; }
	done
}

dkms=$(deb_of sigwake-dkms all)
lib=$(deb_of libsigwake0 "$arch")
dev=$(deb_of libsigwake-dev "$arch")
tools=$(deb_of sigwake-tools "$arch")
for d in "sigwake-dkms:$dkms" "libsigwake0:$lib" "libsigwake-dev:$dev" "sigwake-tools:$tools"; do
	if [ -n "${d#*:}" ]; then
		tap_ok "${d%%:*} built: $(basename "${d#*:}") ($(stat -c %s "${d#*:}") bytes)"
	else
		tap_fail "${d%%:*} built in $debdir"
	fi
done

src=/usr/src/sigwake-$ver
tap_check "sigwake-dkms: dkms sources, dkms.conf, udev rule, sigwake(4)" \
	has "$dkms" "$src/dkms.conf" "$src/Kbuild" "$src/Makefile" "$src/module/main.c" \
	"$src/uapi/linux/sigwake.h" /lib/udev/rules.d/60-sigwake.rules \
	/usr/share/man/man4/sigwake.4.gz
tap_check "sigwake-dkms: dkms.conf stamped with $ver, depends on dkms, postinst runs dkms" \
	bash -c "dpkg-deb --fsys-tarfile '$dkms' | tar -xO .$src/dkms.conf | grep -qx 'PACKAGE_VERSION=\"$ver\"' &&
		 dpkg-deb -f '$dkms' Depends | grep -q dkms &&
		 dpkg-deb -I '$dkms' postinst | grep -q dkms"
tap_check "sigwake-dkms: no object files" \
	bash -c "! dpkg -c '$dkms' | grep -Eq '\.(o|ko|cmd)$'"
tap_check "libsigwake0: libsigwake.so.0 only (SONAME package)" \
	has "$lib" "/usr/lib/$multiarch/libsigwake.so.0"
tap_check "libsigwake-dev: headers, .a, .so link, pkg-config, libsigwake(3), docs" \
	has "$dev" /usr/include/libsigwake.h /usr/include/linux/sigwake.h \
	"/usr/lib/$multiarch/libsigwake.a" "/usr/lib/$multiarch/libsigwake.so" \
	"/usr/lib/$multiarch/pkgconfig/libsigwake.pc" /usr/share/man/man3/libsigwake.3.gz \
	/usr/share/doc/libsigwake-dev/api.md.gz
tap_check "libsigwake-dev depends on libsigwake0 (= its version)" \
	bash -c "dpkg-deb -f '$dev' Depends | grep -q 'libsigwake0 (= $ver-'"
if [ -f "$TOP/helper/sigwakectl.c" ]; then
	tap_check "sigwake-tools: sigwakectl, sigwakectl(8)" \
		has "$tools" /usr/bin/sigwakectl /usr/share/man/man8/sigwakectl.8.gz
else
	tap_skip "sigwake-tools: sigwakectl, sigwakectl(8)" "helper/sigwakectl.c does not exist yet"
fi

# lintian ran inside make deb (--fail-on error); run it again for the list.
changes=$(ls "$debdir"/*.changes 2>/dev/null | head -n1)
if [ -n "$changes" ]; then
	lintian --tag-display-limit 0 "$changes" >"$TOP/build/host/lintian.txt" 2>&1
	lrc=$?
	nerr=$(grep -c '^E: ' "$TOP/build/host/lintian.txt")
	nwarn=$(grep -c '^W: ' "$TOP/build/host/lintian.txt")
	grep -E '^[EW]: ' "$TOP/build/host/lintian.txt" | sed 's/^/# lintian: /'
	if [ "$lrc" -eq 0 ] && [ "$nerr" -eq 0 ]; then
		tap_ok "lintian: 0 errors, $nwarn warnings"
	else
		tap_fail "lintian: $nerr errors, $nwarn warnings (status $lrc)"
	fi
else
	tap_fail "lintian: no .changes in $debdir"
fi
tap_done
