#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# gen-bindings.sh [--check]
#
# Regenerate src/bindings.rs from uapi/linux/sigwake.h (through wrapper.h)
# with Debian 12's bindgen (package "bindgen", 0.60.1; it loads libclang).
# --check writes nothing: it regenerates into a temporary file and fails,
# showing the diff, if that differs from the checked-in src/bindings.rs.
set -eu

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=$here/src/bindings.rs
BINDGEN=${BINDGEN:-bindgen}

# The exact command, relative to bindings/rust/; it is also written into
# the generated file's header.
cmd="bindgen wrapper.h --allowlist-type 'sigwake_.*' --allowlist-var 'SIGWAKE_.*' --no-prepend-enum-name --no-doc-comments -- -I../../uapi"

generate() {
	cd "$here"
	printf '%s\n' \
		'// SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note' \
		'//' \
		'// Generated, do not edit: raw bindings of uapi/linux/sigwake.h.' \
		'// Regenerate with bindings/rust/gen-bindings.sh, which runs in bindings/rust/:' \
		"//   $cmd" \
		'// selftests/host/rust_test.sh fails if regenerating changes this file.' \
		''
	# shellcheck disable=SC2086
	eval "${cmd/#bindgen/\"\$BINDGEN\"}"
}

case ${1:-} in
--check)
	tmp=$(mktemp)
	trap 'rm -f "$tmp"' EXIT
	generate >"$tmp"
	if ! diff -u "$out" "$tmp"; then
		echo "gen-bindings.sh: src/bindings.rs is stale: run bindings/rust/gen-bindings.sh" >&2
		exit 1
	fi
	;;
"")
	generate >"$out.tmp"
	mv "$out.tmp" "$out"
	;;
*)
	echo "usage: $0 [--check]" >&2
	exit 2
	;;
esac
