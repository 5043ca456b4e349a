#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# rust_test.sh: the Rust crate (bindings/rust) on the host, each a TAP result.
#
#   bindings      regenerating src/bindings.rs with Debian's bindgen changes
#                 nothing (gen-bindings.sh --check)
#   cargo test    with Debian's rustc 1.63 and cargo, offline, from Debian's
#                 packaged crates: the unit tests, the doc examples and the
#                 compile_fail misuse checks (the VM tests skip here: no
#                 /dev/sigwake; make check runs them in the VM as rust_test)
#   rustdoc       cargo doc without a warning (every public item documented:
#                 the crate denies missing_docs)
set -u
. "$(dirname "$0")/lib.sh"

crate=$TOP/bindings/rust
command -v /usr/bin/cargo >/dev/null ||
	tap_skip_all "no /usr/bin/cargo (scripts/deps.sh installs Debian's cargo)"

if command -v bindgen >/dev/null; then
	tap_check "bindings: regenerating src/bindings.rs changes nothing" \
		"$crate/gen-bindings.sh" --check
else
	tap_skip "bindings: regenerating src/bindings.rs changes nothing" "no bindgen"
fi

tap_check "cargo test (unit, doc and compile_fail tests; rustc $(/usr/bin/rustc --version | cut -d' ' -f2))" \
	make --no-print-directory -C "$crate" test

doc_check() {
	local out
	out=$(cd "$crate" && RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc \
		CARGO_TARGET_DIR=$TOP/build/rust /usr/bin/cargo doc --no-deps 2>&1) || {
		printf '%s\n' "$out"
		return 1
	}
	if printf '%s\n' "$out" | grep -E '^(warning|error)'; then
		printf '%s\n' "$out"
		return 1
	fi
}
tap_check "cargo doc: no warning" doc_check

tap_done
