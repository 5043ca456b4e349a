#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# ynl-src.sh
#
# Print the directory that holds the kernel's YNL tools (tools/net/ynl/pyynl:
# ynl_gen_c.py, cli.py) and the netlink spec schemas
# (Documentation/netlink/*.yaml) of Linux $YNL_KERNEL (default 7.2), taken
# from Debian's linux-source-$YNL_KERNEL package.  Nothing of it enters the
# repository: it is extracted once into
#     ${SIGWAKE_CACHE:-$HOME/.cache/sigwake}/ynl-<version>/
# from the source tarball cached in
#     ${SIGWAKE_CACHE:-$HOME/.cache/sigwake}/src/linux-source-<kernel>.tar.xz
# which is downloaded first if it is not there, with a private apt
# configuration (Debian sid, lists and cache under the cache directory); the
# system's apt sources are never read nor changed, nothing is installed.
# Progress goes to stderr.
set -eu

die() { echo "ynl-src: $*" >&2; exit 1; }
log() { echo "ynl-src: $*" >&2; }

kver=${YNL_KERNEL:-7.2}
cache=${SIGWAKE_CACHE:-${HOME:-/root}/.cache/sigwake}
pkg=linux-source-$kver
tarball=$cache/src/$pkg.tar.xz
out=$cache/ynl-$kver

if [ -f "$out/.complete" ]; then
	echo "$out"
	exit 0
fi

if [ ! -f "$tarball" ]; then
	command -v apt-get >/dev/null || die "$tarball missing and no apt-get"
	apt=$cache/apt-src
	mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$cache/src"
	echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian sid main" \
		> "$apt/sources.list"
	opts=(-o "Dir::Etc::SourceList=$apt/sources.list"
	      -o Dir::Etc::SourceParts=/dev/null
	      -o "Dir::State::Lists=$apt/lists"
	      -o "Dir::Cache=$apt/cache"
	      -o Debug::NoLocking=1)
	log "downloading $pkg from Debian sid (private apt lists in $apt)"
	apt-get -q "${opts[@]}" update >&2
	tmp=$(mktemp -d "$cache/src/.tmp.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	# As root, apt drops privileges to _apt, which must write here.
	chmod 755 "$tmp"
	(cd "$tmp" && apt-get -q "${opts[@]}" download "$pkg" >&2)
	deb=$(ls "$tmp"/"$pkg"_*.deb 2>/dev/null | head -n1)
	[ -n "$deb" ] || die "apt-get download $pkg gave no package"
	dpkg-deb --fsys-tarfile "$deb" |
		tar -xf - -C "$tmp" "./usr/src/$pkg.tar.xz"
	mv "$tmp/usr/src/$pkg.tar.xz" "$tarball"
	dpkg-deb -f "$deb" Version > "$cache/src/$pkg.version"
fi

log "extracting tools/net/ynl/pyynl and the netlink schemas of $pkg into $out"
rm -rf "$out"
mkdir -p "$out"
tar -xJf "$tarball" -C "$out" --strip-components=1 --wildcards \
	"*/tools/net/ynl/pyynl/*" "*/Documentation/netlink/*.yaml" ||
	die "cannot extract from $tarball"
[ -f "$out/tools/net/ynl/pyynl/ynl_gen_c.py" ] ||
	die "no tools/net/ynl/pyynl/ynl_gen_c.py in $tarball"
cp "$cache/src/$pkg.version" "$out/version" 2>/dev/null || true
touch "$out/.complete"
echo "$out"
