#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# ynl_test.sh: the generated netlink code is what the spec gives.
#
# scripts/ynl-gen.sh --check runs the kernel's ynl-gen (Linux 7.2's
# tools/net/ynl, extracted by scripts/ynl-src.sh from the cached
# linux-source tarball, downloaded once if absent) on
# Documentation/netlink/specs/sigwake.yaml, validating it against the
# genetlink-legacy schema, and compares the output with the checked-in
# module/genl-gen.[ch] and the YNL-GEN section of uapi/linux/sigwake.h.
set -u
. "$(dirname "$0")/lib.sh"

python3 -c 'import yaml, jsonschema' 2>/dev/null ||
	tap_skip_all "python3 yaml/jsonschema missing (scripts/deps.sh)"

src=$("$TOP/scripts/ynl-src.sh" 2>>"$TAP_LOG") ||
	tap_skip_all "no kernel ynl-gen (scripts/ynl-src.sh failed, see $TAP_LOG)"
tap_diag "ynl-gen from $src ($(cat "$src/version" 2>/dev/null))"

tap_check "regenerating from the spec changes nothing" \
	"$TOP/scripts/ynl-gen.sh" --check

# The check must be able to fail: a generated file that differs is found.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/scripts"
cp -a "$TOP/scripts/ynl-gen.sh" "$TOP/scripts/ynl-src.sh" "$work/scripts/"
(cd "$TOP" && tar -cf - Documentation/netlink module/genl-gen.c \
	module/genl-gen.h uapi/linux/sigwake.h) | tar -xf - -C "$work"
sed -i 's/NLA_POLICY_MIN(NLA_U32, 1)/NLA_POLICY_MIN(NLA_U32, 2)/' \
	"$work/module/genl-gen.c"
if "$work/scripts/ynl-gen.sh" --check >/dev/null 2>&1; then
	tap_fail "a hand edit of module/genl-gen.c is found"
else
	tap_ok "a hand edit of module/genl-gen.c is found"
fi
tap_done
