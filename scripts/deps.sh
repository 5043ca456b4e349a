#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# shellcheck disable=SC2086 # the package lists are split on purpose
#
# Make sure the Debian 12 packages needed to build sigwake and to run its
# QEMU test matrix are installed.
#
#   scripts/deps.sh            check; install what is missing if running as root
#   scripts/deps.sh --check    only check, never install
#   scripts/deps.sh --list     print the package list and exit
#
# As root, missing packages are installed with apt-get ("apt-get update" is
# run first, and only when something has to be installed).  With CI=true or
# when stdin is not a terminal the install is non-interactive (-y,
# DEBIAN_FRONTEND=noninteractive); otherwise apt-get asks before installing.
# As another user, the missing packages are printed with the command to
# install them and the script exits non-zero.
#
# SIGWAKE_EXTRA_DEPS adds packages to the list (space separated).
set -eu

packages="
	build-essential gcc make libc6-dev
	linux-headers-amd64 linux-headers-6.12-amd64 linux-source-6.1
	qemu-system-x86 busybox-static cpio gzip xz-utils zstd rsync file
	libnl-3-dev libnl-genl-3-dev pkg-config
	sparse bc flex bison libelf-dev libssl-dev openssl kmod dwarves
	spin
	python3-yaml python3-jsonschema
	rustc cargo librust-libc-dev bindgen libclang-dev
"
packages="$packages ${SIGWAKE_EXTRA_DEPS:-}"

mode=install
case "${1:-}" in
	--check) mode=check ;;
	--list) echo $packages; exit 0 ;;
	"") ;;
	*) echo "usage: $0 [--check|--list]" >&2; exit 2 ;;
esac

if ! command -v dpkg-query >/dev/null 2>&1; then
	echo "deps.sh: dpkg-query not found: this script supports Debian 12 (bookworm) only" >&2
	exit 1
fi

missing=
for p in $packages; do
	status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$status" = installed ] || missing="$missing $p"
done
missing=${missing# }

if [ -z "$missing" ]; then
	exit 0
fi

if [ "$mode" = check ] || [ "$(id -u)" -ne 0 ]; then
	echo "deps.sh: missing Debian packages: $missing" >&2
	echo "deps.sh: install them with:" >&2
	echo "    sudo apt-get update && sudo apt-get install $missing" >&2
	exit 1
fi

echo "deps.sh: installing missing packages: $missing" >&2
if [ "${CI:-}" = true ] || [ ! -t 0 ]; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update </dev/null
	apt-get install -y --no-install-recommends $missing </dev/null
else
	apt-get update
	apt-get install --no-install-recommends $missing
fi
