#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# gen-docs.sh [--check]
#
# Generate, from the kernel-doc comments of uapi/linux/sigwake.h (the one
# statement of the ioctl contract), with the kernel's scripts/kernel-doc (of
# the linux-source tarball the Makefile uses, extracted into build/ksrc):
#   man/sigwake.4              from the template man/sigwake.4.in
#   docs/api-reference.md      from the template docs/api-reference.md.in
# scripts/kdoc-render.py fills each template's "kernel-doc:" lines and fails
# if the header documents anything that a template does not place.
# With --check, write nothing and fail (status 1, a diff on stdout) if the
# checked-in files differ from what the generator gives.
# KERNEL_DOC names another kernel-doc script.
set -eu

die() { echo "gen-docs: $*" >&2; exit 2; }

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
check=false
case "${1:-}" in
	--check) check=true ;;
	"") ;;
	*) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

command -v python3 >/dev/null || die "python3 is needed"
kdoc=${KERNEL_DOC:-$top/build/ksrc/scripts/kernel-doc}
if [ ! -x "$kdoc" ] && [ -z "${KERNEL_DOC:-}" ]; then
	make -s -C "$top" "$kdoc" >&2 || die "cannot extract scripts/kernel-doc"
fi
[ -x "$kdoc" ] || die "no kernel-doc at $kdoc"

uapi=uapi/linux/sigwake.h
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# A fixed Sphinx version: kernel-doc would otherwise ask sphinx-build, and
# its output would depend on what is installed.
(cd "$top" && perl "$kdoc" -rst -enable-lineno -sphinx-version 3.4.3 "$uapi") \
	>"$tmp/kdoc.rst" 2>"$tmp/kdoc.err" || { cat "$tmp/kdoc.err" >&2; die "kernel-doc failed"; }
[ ! -s "$tmp/kdoc.err" ] || { cat "$tmp/kdoc.err" >&2; die "kernel-doc warned"; }

render() {
	local format=$1 template=$2 out=$3
	(cd "$top" && python3 scripts/kdoc-render.py --format "$format" \
		--rst "$tmp/kdoc.rst" --header "$uapi" --template "$template") \
		>"$tmp/$(basename "$out")" || die "kdoc-render.py failed on $template"
}
render man man/sigwake.4.in man/sigwake.4
render md docs/api-reference.md.in docs/api-reference.md

status=0
for f in man/sigwake.4 docs/api-reference.md; do
	if $check; then
		diff -u "$top/$f" "$tmp/$(basename "$f")" ||
			{ echo "gen-docs: $f is not what scripts/gen-docs.sh generates" >&2; status=1; }
	elif ! cmp -s "$top/$f" "$tmp/$(basename "$f")"; then
		cp "$tmp/$(basename "$f")" "$top/$f"
		echo "gen-docs: wrote $f" >&2
	fi
done
exit $status
