#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# fetch-kernel.sh <kernel>
#
# Find the Debian kernel that matches installed headers, and cache its boot
# image and the few modules the test VM needs outside the repository, in
#     ${SIGWAKE_CACHE:-$HOME/.cache/sigwake}/kernels/<release>/
#         vmlinuz  config  version  modules/{irqbypass,ccp,kvm,kvm-amd}.ko
#
# <kernel> is "6.1" (the release linux-headers-amd64 points at), "6.12"
# (linux-headers-6.12-amd64), or a full release such as 6.1.0-56-amd64 whose
# headers are installed in /lib/modules/<release>/build.
#
# On success prints, on stdout, the same interface as debug-kernel.sh:
#     KERNELDIR=/lib/modules/<release>/build
#     BZIMAGE=<cache>/kernels/<release>/vmlinuz
#     RELEASE=<release>
#     MODDIR=<cache>/kernels/<release>/modules
# Progress and errors go to stderr.
set -eu

die() { echo "fetch-kernel: $*" >&2; exit 1; }
log() { echo "fetch-kernel: $*" >&2; }

[ $# -eq 1 ] || die "usage: $0 <6.1|6.12|release>"
want=$1
cache=${SIGWAKE_CACHE:-${HOME:-/root}/.cache/sigwake}

# The headers package of a release, e.g. linux-headers-6.1.0-56-amd64, is
# what a meta-package (linux-headers-amd64) depends on.
release_of_meta() {
	local meta=$1 dep
	dep=$(dpkg-query -W -f='${Depends}' "$meta" 2>/dev/null) ||
		die "package $meta is not installed (run scripts/deps.sh)"
	dep=$(printf '%s\n' "$dep" | tr ',' '\n' |
	      sed -n 's/^ *linux-headers-\([^ ]*-amd64\).*/\1/p' | head -n1)
	[ -n "$dep" ] || die "cannot find the headers release $meta depends on"
	echo "$dep"
}

case $want in
6.1)	release=$(release_of_meta linux-headers-amd64) ;;
6.12)	release=$(release_of_meta linux-headers-6.12-amd64) ;;
*)	release=$want ;;
esac

kerneldir=/lib/modules/$release/build
[ -f "$kerneldir/Makefile" ] ||
	die "no kernel headers for $release in $kerneldir (install linux-headers-$release)"

# Exact Debian version of the headers, so that the image matches them.
version=$(dpkg-query -W -f='${Version}' "linux-headers-$release" 2>/dev/null || true)

dir=$cache/kernels/$release
kvm_mods="virt/lib/irqbypass drivers/crypto/ccp/ccp arch/x86/kvm/kvm arch/x86/kvm/kvm-amd"

emit() {
	echo "KERNELDIR=$kerneldir"
	echo "BZIMAGE=$dir/vmlinuz"
	echo "RELEASE=$release"
	echo "MODDIR=$dir/modules"
}

if [ -f "$dir/vmlinuz" ] && [ -f "$dir/complete" ]; then
	cached=$(cat "$dir/version" 2>/dev/null || true)
	if [ -z "$version" ] || [ "$cached" = "$version" ]; then
		emit
		exit 0
	fi
	log "cached $release is $cached, headers are $version: refreshing"
fi

mkdir -p "$cache/kernels"
tmp=$(mktemp -d "$cache/kernels/.tmp.$release.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# apt-get download writes into the current directory; as root apt drops
# privileges to _apt, which must be able to write there.
chmod 755 "$tmp"
mkdir "$tmp/deb"
chmod 777 "$tmp/deb"

try_download() {
	(cd "$tmp/deb" && apt-get download "$@" >/dev/null 2>"$tmp/apt.err") ||
		return 1
}

deb=
got_version=
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

mkdir "$tmp/out" "$tmp/out/modules"
if [ -n "$deb" ]; then
	log "extracting $(basename "$deb")"
	mkdir "$tmp/x"
	# Only the boot files and the KVM modules, not the whole 400 MB tree.
	dpkg-deb --fsys-tarfile "$deb" |
		tar -x -C "$tmp/x" --wildcards './boot/*' \
		    './lib/modules/*/kernel/arch/x86/kvm/*' \
		    './lib/modules/*/kernel/virt/lib/*' \
		    './lib/modules/*/kernel/drivers/crypto/ccp/*'
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

cp "$root/boot/vmlinuz-$release" "$tmp/out/vmlinuz"
cp "$root/boot/config-$release" "$tmp/out/config" 2>/dev/null || true
cp "$root/boot/System.map-$release" "$tmp/out/System.map" 2>/dev/null || true

# KVM and its dependencies, uncompressed for busybox insmod.  Missing ones
# (a kernel with KVM built in or disabled) are not an error.
for m in $kvm_mods; do
	base=$root/lib/modules/$release/kernel/$m
	name=$(basename "$m").ko
	if [ -f "$base.ko" ]; then
		cp "$base.ko" "$tmp/out/modules/$name"
	elif [ -f "$base.ko.xz" ]; then
		xz -dc "$base.ko.xz" >"$tmp/out/modules/$name"
	elif [ -f "$base.ko.zst" ]; then
		zstd -qdc "$base.ko.zst" >"$tmp/out/modules/$name"
	elif [ -f "$base.ko.gz" ]; then
		gzip -dc "$base.ko.gz" >"$tmp/out/modules/$name"
	else
		log "note: $name not found in the $release image"
	fi
done

echo "${got_version:-$version}" >"$tmp/out/version"
touch "$tmp/out/complete"
rm -rf "$dir"
mv "$tmp/out" "$dir"
log "cached $release ($(cat "$dir/version")) in $dir"
emit
