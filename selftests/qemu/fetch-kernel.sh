#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# fetch-kernel.sh <kernel>
# fetch-kernel.sh --source <kernel>
#
# Find a Debian kernel, and cache its boot image and the few modules the
# test VM needs outside the repository, in
#     ${SIGWAKE_CACHE:-$HOME/.cache/sigwake}/kernels/<release>/
#         vmlinuz  config  version  modules/{irqbypass,ccp,kvm,kvm-amd}.ko
#
# <kernel> is
#   6.1     the release linux-headers-amd64 points at (installed headers)
#   6.12    the release linux-headers-6.12-amd64 points at (installed headers)
#   5.10    Debian 11 (bullseye)'s newest linux-image-amd64
#   6.1-rt  Debian 12's newest linux-image-rt-amd64
#   7.2     Debian unstable (sid)'s newest linux-image-amd64 (a 7.x: sid
#           moves, the release that ran is printed)
#   7.2-rt  sid's newest linux-image-rt-amd64
#   or a full release such as 6.1.0-56-amd64 whose headers are installed in
#   /lib/modules/<release>/build.
#
# The kernels of other Debian releases (and 6.1-rt, whose headers need not
# be installed) come from a private apt state in <cache>/apt/<suite>/: the
# system's apt sources are never changed and nothing is installed.  Their
# headers and kbuild packages are unpacked (dpkg -x) into
# <cache>/kernels/<release>/headers/; when the kbuild host tools do not run
# here (sid's need a newer glibc), modpost, objtool, fixdep ... are built
# from that release's linux-source-X.Y (tarball cached in <cache>/src/),
# and a gcc the headers were not built with gets a wrapper (<cache>/
# kernels/<release>/bin/cc) that maps or drops what it does not know.
#
# On success prints, on stdout, the same interface as debug-kernel.sh:
#     KERNELDIR=<headers>
#     BZIMAGE=<cache>/kernels/<release>/vmlinuz
#     RELEASE=<release>
#     MODDIR=<cache>/kernels/<release>/modules
# With --source (the other suites' tokens only), fetches that kernel's
# linux-source-X.Y instead (debug-kernel.sh builds the debug kernel from
# sid's) and prints
#     SRC_TARBALL=<cache>/src/linux-source-X.Y.tar.xz
#     SRC_PKG=linux-source-X.Y
#     SRC_VERSION=<its Debian version>
# Progress and errors go to stderr.
set -eu

die() { echo "fetch-kernel: $*" >&2; exit 1; }
log() { echo "fetch-kernel: $*" >&2; }

mode=kernel
if [ "${1:-}" = --source ]; then
	mode=source
	shift
fi
[ $# -eq 1 ] || die "usage: $0 [--source] <6.1|6.12|5.10|6.1-rt|7.2|7.2-rt|release>"
want=$1
cache=${SIGWAKE_CACHE:-${HOME:-/root}/.cache/sigwake}
mkdir -p "$cache/kernels"
# rng-core: ccp needs hwrng_register, a module on 5.10.
kvm_mods="virt/lib/irqbypass drivers/char/hw_random/rng-core drivers/crypto/ccp/ccp arch/x86/kvm/kvm arch/x86/kvm/kvm-amd"
kvm_globs=()
for d in ./lib/modules ./usr/lib/modules; do
	kvm_globs+=("$d/*/kernel/arch/x86/kvm/*" "$d/*/kernel/virt/lib/*"
		    "$d/*/kernel/drivers/crypto/ccp/*" "$d/*/kernel/drivers/char/hw_random/rng-core.ko*")
done

# ---------------------------------------------------------------- private apt
# One apt state per Debian suite, under <cache>/apt/<suite>: its own
# sources.list, lists and archive cache; the system's are not read or
# written (Dir::State::status=/dev/null: nothing counts as installed).
suite_sources() {
	local k=/usr/share/keyrings/debian-archive-keyring.gpg
	case $1 in
	bullseye)
		echo "deb [signed-by=$k] http://deb.debian.org/debian bullseye main"
		echo "deb [signed-by=$k] http://deb.debian.org/debian-security bullseye-security main" ;;
	bookworm)
		echo "deb [signed-by=$k] http://deb.debian.org/debian bookworm main"
		echo "deb [signed-by=$k] http://deb.debian.org/debian bookworm-updates main"
		echo "deb [signed-by=$k] http://deb.debian.org/debian-security bookworm-security main" ;;
	sid)
		echo "deb [signed-by=$k] http://deb.debian.org/debian sid main" ;;
	*)	die "unknown suite $1" ;;
	esac
}

apt_opts() {
	local a=$cache/apt/$1
	echo "-o Dir::Etc::SourceList=$a/sources.list -o Dir::Etc::SourceParts=/dev/null" \
	     "-o Dir::Etc::Preferences=/dev/null -o Dir::Etc::PreferencesParts=/dev/null" \
	     "-o Dir::State::Lists=$a/lists -o Dir::Cache=$a/cache -o Dir::State::status=/dev/null" \
	     "-o APT::Sandbox::User=root -o Debug::NoLocking=1"
}

# suite_update <suite> [force]: refresh the lists when older than a day
# (sid moves every few weeks; old versions leave the archive).
suite_update() {
	local suite=$1 force=${2:-} a=$cache/apt/$1
	mkdir -p "$a/lists/partial" "$a/cache/archives/partial"
	suite_sources "$suite" >"$a/sources.list.new"
	if ! cmp -s "$a/sources.list.new" "$a/sources.list"; then
		mv "$a/sources.list.new" "$a/sources.list"
		force=1
	else
		rm -f "$a/sources.list.new"
	fi
	if [ -z "$force" ] && [ -f "$a/updated" ] &&
	   [ -z "$(find "$a/updated" -mmin +1440)" ]; then
		return 0
	fi
	log "apt-get update ($suite, private state in $a)"
	# shellcheck disable=SC2046
	apt-get $(apt_opts "$suite") -q update >"$a/update.log" 2>&1 ||
		{ cat "$a/update.log" >&2; die "apt-get update for $suite failed"; }
	touch "$a/updated"
}

# suite_cache <suite> <apt-cache args...>
suite_cache() {
	local suite=$1
	shift
	# shellcheck disable=SC2046
	apt-cache $(apt_opts "$suite") "$@"
}

# suite_has <suite> <package>: the package is in the suite's lists.
suite_has() {
	suite_cache "$1" show "$2" >/dev/null 2>&1
}

# The headers release a headers meta-package depends on, in a suite.
suite_release_of_meta() {
	local suite=$1 meta=$2 flavour=$3 dep
	dep=$(suite_cache "$suite" show --no-all-versions "$meta" 2>/dev/null |
	      sed -n 's/^Depends: //p' | tr ',' '\n' |
	      sed -n "s/^ *linux-headers-\([^ ]*-$flavour\)\( .*\)\{0,1\}\$/\1/p" | head -n1)
	[ -n "$dep" ] || die "cannot find the headers release $meta depends on in $suite"
	echo "$dep"
}

suite_version() {
	suite_cache "$1" show --no-all-versions "$2" 2>/dev/null | sed -n 's/^Version: //p' | head -n1
}

# suite_download <suite> <dir> <package...>: .debs into <dir>, kept there
# (a package already in <dir> at the candidate version is not fetched again).
suite_download() {
	local suite=$1 dir=$2 p v need=()
	shift 2
	mkdir -p "$dir"
	chmod 777 "$dir"
	for p; do
		v=$(suite_version "$suite" "$p")
		[ -n "$v" ] || die "$p is not in $suite"
		ls "$dir/${p}_${v//:/%3a}_"*.deb >/dev/null 2>&1 || need+=("$p=$v")
	done
	[ ${#need[@]} -eq 0 ] && return 0
	log "downloading ${need[*]} ($suite)"
	# shellcheck disable=SC2046
	(cd "$dir" && apt-get $(apt_opts "$suite") -q download "${need[@]}" >"$dir/.apt.log" 2>&1) ||
		{ cat "$dir/.apt.log" >&2; return 1; }
}

# shellcheck disable=SC2012 # Debian package file names
deb_of() { ls "$1/${2}_"*.deb 2>/dev/null | sort -V | tail -n1; }

# fetch_source: the linux-source-X.Y of $release from $suite, as
# <cache>/src/linux-source-X.Y.tar.xz (+ .version); sets src_pkg, src_ver.
fetch_source() {
	local t
	src_pkg=linux-source-$(echo "$release" | sed -n 's/^\([0-9]*\.[0-9]*\)\..*/\1/p')
	src_ver=$(suite_version "$suite" "$src_pkg")
	[ -n "$src_ver" ] || die "$src_pkg is not in $suite"
	mkdir -p "$cache/src"
	if [ "$(cat "$cache/src/$src_pkg.version" 2>/dev/null)" = "$src_ver" ] &&
	   [ -f "$cache/src/$src_pkg.tar.xz" ]; then
		return 0
	fi
	t=$(mktemp -d "$cache/src/.dl.XXXXXX")
	suite_download "$suite" "$t" "$src_pkg" ||
		{ rm -rf "$t"; die "cannot download $src_pkg from $suite"; }
	dpkg-deb --fsys-tarfile "$(deb_of "$t" "$src_pkg")" |
		tar -xO "./usr/src/$src_pkg.tar.xz" >"$cache/src/.$src_pkg.tar.xz"
	mv "$cache/src/.$src_pkg.tar.xz" "$cache/src/$src_pkg.tar.xz"
	echo "$src_ver" >"$cache/src/$src_pkg.version"
	rm -rf "$t"
}

# ---------------------------------------------------------------- system headers
# The headers package of a release, e.g. linux-headers-6.1.0-56-amd64, is
# what an installed meta-package (linux-headers-amd64) depends on.
release_of_meta() {
	local meta=$1 dep
	dep=$(dpkg-query -W -f='${Depends}' "$meta" 2>/dev/null) ||
		die "package $meta is not installed (run scripts/deps.sh)"
	dep=$(printf '%s\n' "$dep" | tr ',' '\n' |
	      sed -n 's/^ *linux-headers-\([^ ]*-amd64\).*/\1/p' | head -n1)
	[ -n "$dep" ] || die "cannot find the headers release $meta depends on"
	echo "$dep"
}

suite=
case $want in
6.1)	release=$(release_of_meta linux-headers-amd64) ;;
6.12)	release=$(release_of_meta linux-headers-6.12-amd64) ;;
5.10)	suite=bullseye meta=linux-headers-amd64 flavour=amd64 major=5.10 ;;
6.1-rt)	suite=bookworm meta=linux-headers-rt-amd64 flavour=rt-amd64 major=6.1 ;;
7.2)	suite=sid meta=linux-headers-amd64 flavour=amd64 major=7 ;;
7.2-rt)	suite=sid meta=linux-headers-rt-amd64 flavour=rt-amd64 major=7 ;;
*)	release=$want ;;
esac

# Serialise fetches of one kernel (several worktrees share the cache), and
# then of one suite: "make check" fetches the next kernels while other VMs
# run, and the kernels of one suite share its apt lists (a second apt-get
# update fails on apt's lock), its .deb directory, the source tarball and
# the kbuild tools (7.2, 7.2-rt and the debug kernel's source).
exec 9>"$cache/kernels/.lock-$want"
flock 9
exec 8>"$cache/kernels/.lock-suite-${suite:-system}"
flock 8

[ "$mode" = kernel ] || [ -n "$suite" ] ||
	die "--source $want: only the kernels of other Debian suites (5.10, 6.1-rt, 7.2, 7.2-rt)"
dir=
if [ -n "$suite" ]; then
	suite_update "$suite"
	release=$(suite_release_of_meta "$suite" "$meta" "$flavour")
	case $release in
	"$major".*) ;;
	*) log "warning: $suite's $meta is $release, not a $major kernel: using it" ;;
	esac
	if [ "$mode" = source ]; then
		fetch_source
		echo "SRC_TARBALL=$cache/src/$src_pkg.tar.xz"
		echo "SRC_PKG=$src_pkg"
		echo "SRC_VERSION=$src_ver"
		exit 0
	fi
	version=$(suite_version "$suite" "linux-headers-$release")
	dir=$cache/kernels/$release
	# Headers installed in the system at that version are used as they are.
	if [ -f "/lib/modules/$release/build/Makefile" ] &&
	   [ "$(dpkg-query -W -f='${Version}' "linux-headers-$release" 2>/dev/null)" = "$version" ]; then
		kerneldir=/lib/modules/$release/build
	else
		kerneldir=$dir/headers/usr/src/linux-headers-$release
	fi
elif [ ! -f "/lib/modules/$release/build/Makefile" ] &&
     [ -f "$cache/kernels/$release/complete" ] &&
     [ -f "$cache/kernels/$release/headers/complete" ]; then
	# A release fetched earlier by its token (5.10, 7.2 ...): as cached.
	dir=$cache/kernels/$release
	kerneldir=$dir/headers/usr/src/linux-headers-$release
	echo "KERNELDIR=$kerneldir"
	echo "BZIMAGE=$dir/vmlinuz"
	echo "RELEASE=$release"
	echo "MODDIR=$dir/modules"
	exit 0
else
	kerneldir=/lib/modules/$release/build
	[ -f "$kerneldir/Makefile" ] ||
		die "no kernel headers for $release in $kerneldir (install linux-headers-$release)"
	# Exact Debian version of the headers, so that the image matches them.
	version=$(dpkg-query -W -f='${Version}' "linux-headers-$release" 2>/dev/null || true)
	dir=$cache/kernels/$release
fi

emit() {
	echo "KERNELDIR=$kerneldir"
	echo "BZIMAGE=$dir/vmlinuz"
	echo "RELEASE=$release"
	echo "MODDIR=$dir/modules"
}

if [ -f "$dir/vmlinuz" ] && [ -f "$dir/complete" ] &&
   { [ "$kerneldir" = "/lib/modules/$release/build" ] || [ -f "$dir/headers/complete" ]; }; then
	cached=$(cat "$dir/version" 2>/dev/null || true)
	if [ -z "$version" ] || [ "$cached" = "$version" ]; then
		emit
		exit 0
	fi
	log "cached $release is $cached, headers are $version: refreshing"
fi

tmp=$(mktemp -d "$cache/kernels/.tmp.$release.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp"

# ---------------------------------------------------------------- kbuild tools
# kbuild_tools_run <kbuild dir>: its host programs run on this system
# (Debian's modpost and objtool are wrappers around modpost.real-lsb-64 and
# objtool.real-x86: each ELF program is tried, with --help).
kbuild_tools_run() {
	local f out
	while read -r f; do
		file -b "$f" | grep -q '^ELF' || continue
		out=$("$f" --help </dev/null 2>&1 || true)
		case $out in
		*GLIBC_*|*"error while loading shared libraries"*|*"cannot execute"*)
			log "$(basename "$f") does not run here: ${out##*: }"
			return 1 ;;
		esac
	done < <(find "$1" -type f)
	return 0
}

# build_kbuild_tools <kbuild dir> <config>: replace the host programs of an
# unpacked linux-kbuild-X.Y by ones built here from linux-source-X.Y
# ("make modules_prepare" on the kernel's own config; BTF and Rust off).
build_kbuild_tools() {
	local kb=$1 config=$2 srcdir b f rel base built
	fetch_source
	# Built once per kbuild package and source version (7.2 and 7.2-rt
	# share linux-kbuild-7.2.x).
	built=$cache/kbuild-tools/$(basename "$kb")_$src_ver
	if [ -f "$built/complete" ]; then
		log "using the kbuild host tools built in $built"
		(cd "$built" && find . -type f ! -name complete) | while read -r rel; do
			cp "$built/$rel" "$kb/$rel"
		done
		return 0
	fi
	log "building the kbuild host tools from $src_pkg $src_ver (a few minutes)"
	b=$tmp/kbuild-src
	mkdir -p "$b"
	tar -xJf "$cache/src/$src_pkg.tar.xz" -C "$b"
	srcdir=$b/$src_pkg
	cp "$config" "$srcdir/.config"
	"$srcdir/scripts/config" --file "$srcdir/.config" \
		-d DEBUG_INFO_BTF -d DEBUG_INFO_BTF_MODULES -d RUST -d MODULE_SIG
	# shellcheck disable=SC2046
	if ! make -C "$srcdir" olddefconfig >"$tmp/kbuild-tools.log" 2>&1 ||
	   ! make -C "$srcdir" -j"$(nproc)" modules_prepare >>"$tmp/kbuild-tools.log" 2>&1; then
		tail -n 40 "$tmp/kbuild-tools.log" >&2
		die "building the kbuild tools from $src_pkg failed"
	fi
	# Every ELF program of the package with a counterpart built here
	# (modpost.real-lsb-64 is modpost, objtool.real-x86 is objtool); the
	# others (genksyms, recordmcount, resolve_btfids ...) are not used by
	# a module build of this configuration.
	find "$kb" -type f | while read -r f; do
		file -b "$f" | grep -q '^ELF' || continue
		rel=${f#"$kb"/}
		base=${rel%%.real-*}
		if [ -f "$srcdir/$base" ]; then
			cp "$srcdir/$base" "$f"
			mkdir -p "$b/out/$(dirname "$rel")"
			cp "$srcdir/$base" "$b/out/$rel"
		else
			# Not built by modules_prepare, so not used by a module
			# build of this configuration: a stub that says so.
			log "note: $rel not rebuilt (unused by module builds): replaced by a stub"
			printf '#!/bin/sh\necho "%s: not rebuilt for this system by fetch-kernel.sh" >&2\nexit 1\n' \
				"$rel" >"$f"
			mkdir -p "$b/out/$(dirname "$rel")"
			cp "$f" "$b/out/$rel"
		fi
	done
	touch "$b/out/complete"
	rm -rf "$built"
	mkdir -p "$cache/kbuild-tools"
	mv "$b/out" "$built"
	rm -rf "$b"
}

# cc_wrapper <headers dir>: point the headers' CC at gcc; if the kernel was
# built with a newer gcc, through a wrapper that maps the flags the system's
# gcc lacks.  The generated config still claims the newer compiler's
# features, so attributes gcc does not know (__counted_by) are warned
# about, not errors: they only annotate, they change no layout.
cc_wrapper() {
	local h=$1 kver sysver cc=gcc
	kver=$(sed -n 's/^CONFIG_GCC_VERSION=\([0-9]*\)/\1/p' "$h/.config")
	sysver=$(gcc -dumpfullversion | awk -F. '{printf "%d%02d%02d", $1, $2, $3}')
	if [ -n "$kver" ] && [ "$kver" -gt "$sysver" ]; then
		mkdir -p "$tmp/out/bin"
		cat >"$tmp/out/bin/cc" <<'EOS'
#!/bin/sh
# gcc for a kernel configured with a newer gcc (fetch-kernel.sh).
for a do
	shift
	case $a in
	-fmin-function-alignment=*) set -- "$@" "-falign-functions=${a#*=}" ;;
	*) set -- "$@" "$a" ;;
	esac
done
exec gcc "$@" -Wno-attributes
EOS
		chmod 755 "$tmp/out/bin/cc"
		cc=$dir/bin/cc
	fi
	sed -i "s|^\(CC = .*\)\$(CROSS_COMPILE)gcc-[0-9.]*\$|\1$cc|" "$h/.kernelvariables"
	grep -q "^CC = .*$cc\$" "$h/.kernelvariables" ||
		die "cannot set CC in $h/.kernelvariables"
}

# unpack_headers: headers, common headers and kbuild into $tmp/out/headers.
unpack_headers() {
	local debs=$cache/debs/$suite pkgs kbuild root=$tmp/out/headers h f
	pkgs=$(suite_cache "$suite" show --no-all-versions "linux-headers-$release" |
	       sed -n 's/^Depends: //p' | tr ',' '\n' |
	       sed -n 's/^ *\(linux-\(headers\|kbuild\)-[^ ]*\).*/\1/p')
	# shellcheck disable=SC2086 # a list
	suite_download "$suite" "$debs" "linux-headers-$release" $pkgs ||
		die "cannot download the headers of $release from $suite"
	mkdir -p "$root"
	# shellcheck disable=SC2086
	for f in "linux-headers-$release" $pkgs; do
		dpkg -x "$(deb_of "$debs" "$f")" "$root"
	done
	h=$root/usr/src/linux-headers-$release
	[ -f "$h/Makefile" ] || die "no $h/Makefile after unpacking"
	# The Makefile names the common headers by absolute path.
	sed -i "s|/usr/src/|$dir/headers/usr/src/|g" "$h/Makefile"
	kbuild=$(readlink "$h/scripts")
	kbuild=$(cd "$h" && cd "$(dirname "$kbuild")" && pwd)
	if ! kbuild_tools_run "$kbuild"; then
		build_kbuild_tools "$kbuild" "$h/.config"
		kbuild_tools_run "$kbuild" || die "the rebuilt kbuild tools do not run either"
	fi
	# pahole here is older than the kernel's: no BTF for modules.
	if grep -q '^CONFIG_DEBUG_INFO_BTF_MODULES=y' "$h/include/config/auto.conf" &&
	   [ "$(sed -n 's/^CONFIG_PAHOLE_VERSION=//p' "$h/.config")" -gt \
	     "$(pahole --version 2>/dev/null | tr -dc 0-9 || echo 0)" ]; then
		sed -i '/^CONFIG_DEBUG_INFO_BTF_MODULES=/d' "$h/include/config/auto.conf"
	fi
	cc_wrapper "$h"
	touch "$root/complete"
}

# ---------------------------------------------------------------- image
mkdir "$tmp/out" "$tmp/out/modules" "$tmp/x"
root=
got_version=
if [ -n "$suite" ]; then
	debs=$cache/debs/$suite
	if suite_has "$suite" "linux-binary-$release"; then
		# Split image (sid, 2026): vmlinuz, base files, modules.
		img_pkgs="linux-binary-$release linux-base-$release linux-modules-$release"
	elif suite_has "$suite" "linux-image-$release-unsigned"; then
		img_pkgs="linux-image-$release-unsigned"
	else
		img_pkgs="linux-image-$release"
	fi
	# shellcheck disable=SC2086
	if ! suite_download "$suite" "$debs" $img_pkgs; then
		suite_update "$suite" force
		# shellcheck disable=SC2086
		suite_download "$suite" "$debs" $img_pkgs ||
			die "cannot download $img_pkgs from $suite"
	fi
	for p in $img_pkgs; do
		log "extracting $(basename "$(deb_of "$debs" "$p")")"
		# Only the boot files and the KVM modules, not the whole tree.
		dpkg-deb --fsys-tarfile "$(deb_of "$debs" "$p")" |
			tar -x -C "$tmp/x" --wildcards './boot/*' \
			    './usr/lib/modules/*/vmlinuz' './usr/lib/modules/*/config' \
			    './usr/lib/modules/*/System.map' \
			    "${kvm_globs[@]}" 2>/dev/null || true
	done
	root=$tmp/x
	got_version=$(suite_version "$suite" "${img_pkgs%% *}")
	[ "$kerneldir" = "/lib/modules/$release/build" ] || unpack_headers
else
	# The system's apt (Debian 12): apt-get download writes into the
	# current directory; as root apt drops privileges to _apt, which must
	# be able to write there.
	mkdir "$tmp/deb"
	chmod 777 "$tmp/deb"
	try_download() {
		(cd "$tmp/deb" && apt-get download "$@" >/dev/null 2>"$tmp/apt.err") ||
			return 1
	}
	deb=
	for pkg in "linux-image-$release-unsigned" "linux-image-$release"; do
		for spec in ${version:+"$pkg=$version"} "$pkg"; do
			if try_download "$spec"; then
				deb=$(ls "$tmp"/deb/*.deb)
				got_version=$(dpkg-deb -f "$deb" Version)
				break 2
			fi
		done
	done
	if [ -z "$deb" ] && [ "$(id -u)" -eq 0 ]; then
		log "apt-get download failed; running apt-get update and retrying"
		DEBIAN_FRONTEND=noninteractive apt-get update >&2 </dev/null || true
		for pkg in "linux-image-$release-unsigned" "linux-image-$release"; do
			if try_download "$pkg"; then
				deb=$(ls "$tmp"/deb/*.deb)
				got_version=$(dpkg-deb -f "$deb" Version)
				break
			fi
		done
	fi
	# Only the boot files and the KVM modules, not the whole 400 MB tree.
	if [ -n "$deb" ]; then
		log "extracting $(basename "$deb")"
		dpkg-deb --fsys-tarfile "$deb" |
			tar -x -C "$tmp/x" --wildcards './boot/*' "${kvm_globs[@]}" 2>/dev/null || true
		root=$tmp/x
		[ -n "$version" ] && [ "$got_version" != "$version" ] &&
			log "warning: headers are $version but the image is $got_version"
	elif [ -f "/boot/vmlinuz-$release" ] && [ -r "/boot/vmlinuz-$release" ] &&
	     [ -d "/lib/modules/$release/kernel" ]; then
		log "apt-get download failed ($(tail -n1 "$tmp/apt.err")); using the installed /boot/vmlinuz-$release"
		root=
		got_version=$(dpkg-query -W -f='${Version}' "linux-image-$release" 2>/dev/null ||
			      dpkg-query -W -f='${Version}' "linux-image-$release-unsigned" 2>/dev/null || true)
	else
		cat "$tmp/apt.err" >&2 2>/dev/null || true
		die "cannot get the kernel image for $release: apt-get download linux-image-$release-unsigned failed
  (is the package list up to date? as root run apt-get update; if the archive has moved
  on to a newer ABI, upgrade linux-headers-amd64 / linux-headers-6.12-amd64)"
	fi
fi

# Boot files: /boot/<file>-<release> (up to 6.x), or
# /usr/lib/modules/<release>/<file> (sid's split packages).
for f in vmlinuz config System.map; do
	for src in "$root/boot/$f-$release" "$root/usr/lib/modules/$release/$f"; do
		[ -f "$src" ] && { cp "$src" "$tmp/out/$f"; break; }
	done
done
[ -f "$tmp/out/vmlinuz" ] || die "no vmlinuz for $release in its packages"

# KVM and its dependencies, uncompressed for busybox insmod.  Missing ones
# (a kernel with KVM built in or disabled) are not an error.
for m in $kvm_mods; do
	name=$(basename "$m").ko
	found=
	for base in "$root/lib/modules/$release/kernel/$m" "$root/usr/lib/modules/$release/kernel/$m"; do
		found=1
		if [ -f "$base.ko" ]; then
			cp "$base.ko" "$tmp/out/modules/$name"
		elif [ -f "$base.ko.xz" ]; then
			xz -dc "$base.ko.xz" >"$tmp/out/modules/$name"
		elif [ -f "$base.ko.zst" ]; then
			zstd -qdc "$base.ko.zst" >"$tmp/out/modules/$name"
		elif [ -f "$base.ko.gz" ]; then
			gzip -dc "$base.ko.gz" >"$tmp/out/modules/$name"
		else
			found=
		fi
		[ -n "$found" ] && break
	done
	[ -n "$found" ] || log "note: $name not found in the $release image"
done

echo "${got_version:-$version}" >"$tmp/out/version"
touch "$tmp/out/complete"
rm -rf "$dir"
mv "$tmp/out" "$dir"
log "cached $release ($(cat "$dir/version")) in $dir"
emit
