#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# ynl-gen.sh [--check]
#
# Generate, with the kernel's ynl-gen (tools/net/ynl/pyynl/ynl_gen_c.py of
# Linux $YNL_KERNEL, see scripts/ynl-src.sh), from the netlink spec
# Documentation/netlink/specs/sigwake.yaml:
#   module/genl-gen.c, module/genl-gen.h   the policy and the op table
#   uapi/linux/sigwake.h                    the section between the
#                                           "YNL-GEN section" markers: the
#                                           family's enums and defines
# With --check, write nothing and fail (status 1, a diff on stdout) if the
# checked-in files differ from what the generator gives.
# Needs python3 with yaml and jsonschema (python3-yaml, python3-jsonschema).
set -eu

die() { echo "ynl-gen: $*" >&2; exit 2; }

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
check=false
case "${1:-}" in
	--check) check=true ;;
	"") ;;
	*) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

spec=Documentation/netlink/specs/sigwake.yaml
uapi=uapi/linux/sigwake.h
begin='/* YNL-GEN section begin: scripts/ynl-gen.sh owns everything up to its end */'
end='/* YNL-GEN section end */'

ynl=$("$top/scripts/ynl-src.sh") || die "no ynl-gen (scripts/ynl-src.sh failed)"
gen=$ynl/tools/net/ynl/pyynl/ynl_gen_c.py

# ynl-gen finds the schema at ../<protocol>.yaml from the spec, and the
# path it prints in the "auto-generated from" line relative to the
# directory that holds a MAINTAINERS file: give it a tree of that shape.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/tree/Documentation/netlink/specs" "$tmp/out/module" \
	"$tmp/out/uapi/linux"
: > "$tmp/tree/MAINTAINERS"
cp "$ynl"/Documentation/netlink/*.yaml "$tmp/tree/Documentation/netlink/"
cp "$top/$spec" "$tmp/tree/$spec"

run() {
	(cd "$tmp/tree" && python3 "$gen" --spec "$spec" "$@") ||
		die "ynl_gen_c.py $* failed"
}
run --mode kernel --source -o "$tmp/out/module/genl-gen.c"
run --mode kernel --header -o "$tmp/out/module/genl-gen.h"
run --mode uapi --header -o "$tmp/uapi.h"

# The section: ynl-gen's own header lines (but its pointer to the kernel's
# regeneration script), then what it puts inside the include guard.
grep -q "^$(printf '%s' "$begin" | sed 's/[][\.*^$/]/\\&/g')\$" "$top/$uapi" ||
	die "$uapi has no YNL-GEN section begin marker"
awk -v begin="$begin" -v end="$end" -v gen="$tmp/uapi.h" '
	function section(   line, n, i, first, last, body) {
		while ((getline line < gen) > 0) {
			if (line ~ /^\/\* SPDX-License-Identifier/ ||
			    line ~ /^\/\* To regenerate run:/ ||
			    line ~ /^#(ifndef|define) _UAPI_LINUX_SIGWAKE_H$/ ||
			    line ~ /^#endif \/\* _UAPI_LINUX_SIGWAKE_H/)
				continue
			body[++n] = line
		}
		for (first = 1; first <= n && body[first] == ""; first++)
			;
		for (last = n; last >= first && body[last] == ""; last--)
			;
		print begin
		for (i = first; i <= last; i++)
			if (!(body[i] == "" && body[i - 1] == ""))
				print body[i]
		print end
	}
	$0 == begin { section(); skip = 1; next }
	$0 == end { skip = 0; next }
	!skip { print }
' "$top/$uapi" > "$tmp/out/$uapi"

status=0
for f in module/genl-gen.c module/genl-gen.h "$uapi"; do
	if $check; then
		diff -u "$top/$f" "$tmp/out/$f" || status=1
	elif ! cmp -s "$tmp/out/$f" "$top/$f"; then
		cp "$tmp/out/$f" "$top/$f"
		echo "ynl-gen: wrote $f" >&2
	fi
done
$check && [ $status -ne 0 ] &&
	echo "ynl-gen: generated files are out of date: run scripts/ynl-gen.sh" >&2
exit $status
