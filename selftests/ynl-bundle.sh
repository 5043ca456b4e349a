#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# ynl-bundle.sh <out dir>
#
# Put into <out dir> what ynl_cli_test.sh needs to run the kernel's ynl CLI
# (Linux 7.2's tools/net/ynl/pyynl/cli.py, see scripts/ynl-src.sh) in the
# test VM, which has busybox and no python:
#   bin/python3          the host's Debian python3 ...
#   lib/                 ... its shared libraries and dynamic loader,
#   lib/python3.X/       only the standard-library modules the CLI imports
#                        (found by running it on the host), with lib-dynload
#   site/yaml/           PyYAML (pure python; the CLI runs with --no-schema,
#                        so jsonschema is not needed)
#   pyynl/               cli.py and its lib/
#   sigwake.yaml         the spec
# Nothing is written, and the test skips, if python3 or PyYAML is missing
# or ynl cannot be had.  The VM's initramfs carries the bundle only when
# ynl_cli_test.sh is among the tests it runs (selftests/qemu/run.sh).
set -eu

die() { echo "ynl-bundle: $*" >&2; exit 1; }

out=$1
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
py=/usr/bin/python3
[ -x "$py" ] || die "no $py"
"$py" -c 'import yaml' 2>/dev/null || die "no PyYAML for $py (python3-yaml)"
ynl=$("$top/scripts/ynl-src.sh") || die "no ynl sources"
pyynl=$ynl/tools/net/ynl/pyynl
spec=$top/Documentation/netlink/specs/sigwake.yaml

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/b/bin" "$tmp/b/lib" "$tmp/b/site" "$tmp/b/pyynl"

# Every module the CLI has loaded once it parsed the spec and its
# arguments: its imports are at module level, so that is all of them even
# though the host has no sigwake family and the call fails.
"$py" - "$pyynl/cli.py" "$spec" >"$tmp/files" <<'PY'
import atexit, runpy, sys

def dump():
    for m in list(sys.modules.values()):
        f = getattr(m, '__file__', None)
        if f:
            print(f)

cli, spec = sys.argv[1], sys.argv[2]
atexit.register(dump)
sys.argv = [cli, '--spec', spec, '--no-schema', '--list-ops']
sys.path.insert(0, cli.rsplit('/', 1)[0])
try:
    runpy.run_path(cli, run_name='__main__')
except BaseException:  # pylint: disable=broad-except
    pass
import json, pprint, ipaddress, uuid, queue, selectors, socket  # noqa
PY

stdlib=$("$py" -c 'import sysconfig; print(sysconfig.get_path("stdlib"))')
pyver=$(basename "$stdlib")
mkdir -p "$tmp/b/lib/$pyver/lib-dynload"
while read -r f; do
	case $f in
	"$stdlib"/*)	rel=${f#"$stdlib"/}
			d=$(dirname "$rel")
			mkdir -p "$tmp/b/lib/$pyver/$d"
			cp -p "$f" "$tmp/b/lib/$pyver/$rel"
			# The distribution's bytecode (same mtime): no compiling
			# in the VM, which runs without writing any.
			pyc=$(dirname "$f")/__pycache__/$(basename "${f%.py}").cpython-${pyver#python}.pyc
			pyc=${pyc/cpython-3./cpython-3}
			if [ -f "$pyc" ]; then
				mkdir -p "$tmp/b/lib/$pyver/$d/__pycache__"
				cp -p "$pyc" "$tmp/b/lib/$pyver/$d/__pycache__/"
			fi ;;
	*/yaml/*)	mkdir -p "$tmp/b/site/yaml"
			cp "$f" "$tmp/b/site/yaml/" ;;
	esac
done <"$tmp/files"
# The whole yaml package (a few modules are loaded lazily).
cp "$(dirname "$(grep -m1 '/yaml/__init__.py$' "$tmp/files")")"/*.py \
	"$tmp/b/site/yaml/"
cp "$pyynl/cli.py" "$tmp/b/pyynl/"
cp -r "$pyynl/lib" "$tmp/b/pyynl/"
cp "$spec" "$tmp/b/sigwake.yaml"
"$py" -m compileall -q "$tmp/b/site" "$tmp/b/pyynl" >/dev/null

# The interpreter, and the libraries of it and of its extension modules.
cp "$(readlink -f "$py")" "$tmp/b/bin/python3"
for f in "$tmp/b/bin/python3" "$tmp"/b/lib/"$pyver"/lib-dynload/*.so \
	 "$tmp"/b/site/yaml/*.so; do
	[ -f "$f" ] || continue
	ldd "$f" | awk '/=> \// { print $3 } /^\t\/lib/ { print $1 }'
done | sort -u | while read -r lib; do
	cp -L "$lib" "$tmp/b/lib/"
done
ls "$tmp"/b/lib/ld-linux-* >/dev/null 2>&1 || die "no dynamic loader found"

rm -rf "$out"
mkdir -p "$(dirname "$out")"
mv "$tmp/b" "$out"
echo "ynl-bundle: $(du -sh "$out" | cut -f1) in $out" >&2
