#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# docs_test.sh: the documentation keeps up with the public API.
#
# Every public name of uapi/linux/sigwake.h and helper/libsigwake.h (each
# #define SIGWAKE_* / LIBSIGWAKE_*, enum constant, struct and enum name,
# struct field, and sigwake_* function) must appear in docs/*.md or in a
# manual page (man/, helper/man/); sigwake(4) and docs/api-reference.md
# must be what scripts/gen-docs.sh generates from the header's kernel-doc,
# with a section for each ioctl command; the manual pages must format
# without a groff warning; the Markdown files that docs/ promises must
# exist.
set -u
. "$(dirname "$0")/lib.sh"

uapi=$TOP/uapi/linux/sigwake.h
lib=$TOP/helper/libsigwake.h
docs=$(ls "$TOP"/docs/*.md "$TOP"/man/*.[0-9] "$TOP"/helper/man/*.[0-9] 2>/dev/null)

for f in api api-reference state-machine integration design-decisions; do
	tap_check "docs/$f.md exists" test -s "$TOP/docs/$f.md"
done
for f in man/sigwake.4 man/libsigwake.3; do
	tap_check "$f exists" test -s "$TOP/$f"
done

# The names, one per line, with their kind: "<kind> <name>".  Comments are
# dropped first so that prose never counts as a declaration.
names() {
	sed -e 's|/\*.*\*/||g' -e '/\/\*/,/\*\//d' "$1" | awk '
		/^#define[ \t]+(SIGWAKE|LIBSIGWAKE)_[A-Z0-9_]+/ {
			n = $2; sub(/\(.*/, "", n)
			if (n !~ /_H$/) print "define", n
		}
		/^(typedef )?enum( [a-z_0-9]+)? *\{/ { inenum = 1
			if ($2 ~ /^sigwake_/) print "enum", $2
			next }
		inenum && /\}/ { inenum = 0 }
		inenum && match($0, /(SIGWAKE|LIBSIGWAKE)_[A-Z0-9_]+/) {
			print "constant", substr($0, RSTART, RLENGTH) }
		/^struct sigwake_[a-z_0-9]+ *\{/ { instruct = $2; print "struct", $2; next }
		instruct && /^\};/ { instruct = "" }
		instruct && /;/ {
			f = $0; sub(/;.*/, "", f); sub(/\[.*/, "", f)
			n = split(f, w, /[ \t*]+/)
			print "field", instruct "." w[n] }
		/^[a-z_].*[ *](sigwake_[a-z0-9_]+)\(/ {
			if (match($0, /sigwake_[a-z0-9_]+\(/)) {
				fn = substr($0, RSTART, RLENGTH - 1)
				if (fn !~ /^sigwake__/) print "function", fn } }
	' | sort -u
}

check_names() {
	local hdr=$1 kind name word missing=0 total=0
	while read -r kind name; do
		total=$((total + 1))
		word=$name
		[ "$kind" = field ] && word=${name#*.}
		if [ "$kind" = field ]; then
			# A field is documented as `field` or @field or .field.
			grep -Eq "(\`|@|\\.|\\\\fI|\\\\fB)$word\\b" $docs && continue
		else
			grep -qw -- "$word" $docs && continue
		fi
		echo "undocumented $kind: $name"
		missing=$((missing + 1))
	done < <(names "$hdr")
	echo "$total names, $missing undocumented"
	[ "$total" -gt 0 ] && [ "$missing" -eq 0 ]
}

# shellcheck disable=SC2086
tap_check "every public name of uapi/linux/sigwake.h is documented" check_names "$uapi"
tap_check "every public name of helper/libsigwake.h is documented" check_names "$lib"

# sigwake(4) and docs/api-reference.md are generated from the kernel-doc of
# the header by the kernel's scripts/kernel-doc (from the linux-source
# tarball, see scripts/gen-docs.sh): regenerating them changes nothing.
gen_docs_ok=false
if ! command -v python3 >/dev/null || ! command -v perl >/dev/null; then
	tap_skip "regenerating sigwake(4) and docs/api-reference.md changes nothing" \
		"python3 or perl missing"
elif [ ! -x "$TOP/build/ksrc/scripts/kernel-doc" ] &&
     [ ! -r "${KSRC_TARBALL:-/usr/src/linux-source-6.1.tar.xz}" ]; then
	tap_skip "regenerating sigwake(4) and docs/api-reference.md changes nothing" \
		"no kernel-doc (apt-get install linux-source-6.1)"
else
	gen_docs_ok=true
	tap_check "regenerating sigwake(4) and docs/api-reference.md changes nothing" \
		"$TOP/scripts/gen-docs.sh" --check
fi

# The check must be able to fail: a hand edit of a generated page, and a
# header entry that no template places, are both found.
gen_docs_fails() {
	local work rc=0
	work=$(mktemp -d)
	mkdir -p "$work/scripts" "$work/build/ksrc/scripts"
	cp -a "$TOP/scripts/gen-docs.sh" "$TOP/scripts/kdoc-render.py" "$work/scripts/"
	cp -a "$TOP/build/ksrc/scripts/kernel-doc" "$work/build/ksrc/scripts/"
	(cd "$TOP" && tar -cf - uapi man/sigwake.4 man/sigwake.4.in \
		docs/api-reference.md docs/api-reference.md.in) | tar -xf - -C "$work"
	sed -i 's/^Create a wait queue\.$/Create a queue./' "$work/docs/api-reference.md"
	if "$work/scripts/gen-docs.sh" --check >/dev/null 2>&1; then
		echo "a hand edit of docs/api-reference.md is not found"; rc=1
	fi
	cp "$TOP/docs/api-reference.md" "$work/docs/"
	printf '/**\n * SIGWAKE_DOC_TEST - an undocumented constant\n */\n#define SIGWAKE_DOC_TEST 1\n' \
		>>"$work/uapi/linux/sigwake.h"
	if "$work/scripts/gen-docs.sh" --check >/dev/null 2>&1; then
		echo "a header entry that no template places is not found"; rc=1
	fi
	rm -rf "$work"
	return $rc
}
if $gen_docs_ok; then
	tap_check "the regeneration check finds a hand edit and an unplaced entry" gen_docs_fails
else
	tap_skip "the regeneration check finds a hand edit and an unplaced entry" "no kernel-doc"
fi

ioctl_sections() {
	local cmd missing=0
	for cmd in $(grep -oE '^#define SIGWAKE_IOC_[A-Z_]+' "$uapi" | awk '{print $2}' |
		     grep -v MAGIC); do
		grep -Eq "^#+ .*\b$cmd\b" "$TOP/docs/api-reference.md" ||
			{ echo "docs/api-reference.md has no section for $cmd"; missing=1; }
		grep -q "^\.SS $cmd\$" "$TOP/man/sigwake.4" ||
			{ echo "man/sigwake.4 has no section for $cmd"; missing=1; }
	done
	return $missing
}
tap_check "each ioctl has a section in docs/api-reference.md and in sigwake(4)" ioctl_sections

each_errno() {
	local e missing=0
	for e in $(sed -n 's/^ \*  \(E[A-Z0-9]*\) .*/\1/p' "$uapi"); do
		grep -qw "$e" "$TOP/docs/api-reference.md" ||
			{ echo "docs/api-reference.md: no $e"; missing=1; }
		grep -qw "$e" "$TOP/man/sigwake.4" || { echo "sigwake.4: no $e"; missing=1; }
	done
	return $missing
}
tap_check "every errno of the uapi table is in docs/api-reference.md and sigwake(4)" each_errno

params() {
	local p missing=0
	for p in $(sed -n 's/^module_param_named(\([a-z_0-9]*\),.*/\1/p' "$TOP"/module/*.c); do
		grep -qw "$p" "$TOP/docs/design-decisions.md" ||
			{ echo "docs/design-decisions.md: no module parameter $p"; missing=1; }
		grep -qw "$p" "$TOP/man/sigwake.4" ||
			{ echo "sigwake.4: no module parameter $p"; missing=1; }
	done
	return $missing
}
tap_check "every module parameter is in design-decisions.md and sigwake(4)" params

lint_man() {
	local m out bad=0
	for m in "$TOP"/man/*.[0-9] "$TOP"/helper/man/*.[0-9]; do
		[ -f "$m" ] || continue
		out=$(LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 \
		      man --warnings -E UTF-8 -l -Tutf8 -Z "$m" 2>&1 >/dev/null)
		[ -z "$out" ] || { echo "${m#$TOP/}:"; echo "$out"; bad=1; }
	done
	return $bad
}
if command -v man >/dev/null && command -v groff >/dev/null; then
	tap_check "the manual pages format without groff warnings" lint_man
else
	tap_skip "the manual pages format without groff warnings" "man-db/groff not installed"
fi

# --- the code in the docs ----------------------------------------------
#
# Every ```c and ```sh block of README.md and docs/*.md and every .EX/.EE
# block of the manual pages is checked:
#  - a block right after "<!-- from examples/<file> -->" must appear
#    verbatim in that file (which "make demo" builds and runs);
#  - any other C block is compiled (-Wall -Wextra -Werror) after
#    snippet-prelude.h, which declares the runtime's names the snippets
#    leave undefined: at file scope if it defines something there, else as
#    the body of a function.  A block that restates a struct of the uapi
#    header is compiled as a copy whose size and field offsets must equal
#    the header's;
#  - a sh block must parse (bash -n);
#  - a block that waits with sigwake_wait() or sigwake_wait_fds() must take
#    both the pending signals and the flags (or use sigwake_wait_take()).
snip=$(mktemp -d "${TMPDIR:-/tmp}/sigwake-snippets.XXXXXX")
trap 'rm -rf "$snip"' EXIT

# extract <file>: writes $snip/<n>.{c,sh} with $snip/<n>.where (file:line)
# and, for included blocks, $snip/<n>.from.
extract() {
	local f=$1 rel=${1#$TOP/}
	case $f in
	*.md)
		awk -v dir="$snip" -v rel="$rel" '
			function out(ext) { n = sprintf("%s/%s-%03d", dir, base, ++cnt)
				file = n "." ext
				print rel ":" NR > (n ".where")
				if (from != "") print from > (n ".from")
				from = "" }
			BEGIN { base = rel; gsub(/[^A-Za-z0-9]/, "_", base) }
			inb && $0 ~ "^" ind "```" { inb = 0; close(file); next }
			inb { line = $0; if (index(line, ind) == 1) line = substr(line, length(ind) + 1)
			      print line > file; next }
			match($0, /^ *```(c|sh)$/) {
				ind = $0; sub(/```.*/, "", ind)
				lang = $0; sub(/^ *```/, "", lang)
				out(lang); inb = 1; next }
			/<!-- from [^ ]+ -->/ { from = $0; sub(/.*<!-- from /, "", from); sub(/ -->.*/, "", from); next }
			/^ *$/ { next }
			{ from = "" }
		' "$f" ;;
	*)
		awk -v dir="$snip" -v rel="$rel" '
			BEGIN { base = rel; gsub(/[^A-Za-z0-9]/, "_", base) }
			/^\.EE/ { inb = 0; close(file); next }
			inb { line = $0
			      gsub(/\\-/, "-", line); gsub(/\\\(aq/, "\047", line)
			      gsub(/\\\(dq/, "\"", line); gsub(/\\&/, "", line)
			      gsub(/\\e/, "\\", line)
			      print line > file; next }
			/^\.EX/ { n = sprintf("%s/%s-%03d", dir, base, ++cnt); file = n ".c"
				  print rel ":" NR > (n ".where"); inb = 1 }
		' "$f" ;;
	esac
}

for f in "$TOP/README.md" "$TOP"/docs/*.md "$TOP"/man/*.[0-9] "$TOP"/helper/man/*.[0-9]; do
	[ -f "$f" ] && extract "$f"
done

uapi_structs=$(sed -n 's/^struct \(sigwake_[a-z_0-9]*\) {$/\1/p' "$uapi")

# compile_block <block.c>: one C block, as described above.
compile_block() {
	local b=$1 tu=${1%.c}.tu.c s
	if grep -qE '^struct sigwake_[a-z_0-9]+ \{' "$b"; then
		{
			echo '#include <stddef.h>'
			echo '#include <linux/sigwake.h>'
			sed -E 's/struct (sigwake_[a-z_0-9]+)/struct doc_\1/g' "$b"
			awk '/^struct sigwake_[a-z_0-9]+ \{/ { s = $2; next }
			     /^\};/ { if (s != "") printf("_Static_assert(sizeof(struct doc_%s) == sizeof(struct %s), \"size of %s\");\n", s, s, s); s = ""; next }
			     s != "" && /;/ { f = $0; sub(/;.*/, "", f); sub(/\[.*/, "", f); n = split(f, w, /[ \t*]+/)
				printf("_Static_assert(offsetof(struct doc_%s, %s) == offsetof(struct %s, %s), \"%s.%s\");\n", s, w[n], s, w[n], s, w[n]) }' "$b"
		} >"$tu"
		for s in $(sed -n 's/^struct \(sigwake_[a-z_0-9]*\) {$/\1/p' "$b"); do
			grep -qx "$s" <<<"$uapi_structs" ||
				{ echo "struct $s is not in the uapi header"; return 1; }
		done
	elif grep -Eq '^(static |struct [a-z_0-9]+ \{|(const )?[a-z_][a-z_0-9]*( \**| +)\**[a-z_][a-z_0-9]*\(.*[),]$|(const )?[a-z_][a-z_0-9]*( \**| +)\**[a-z_][a-z_0-9]*\(.*\) *\{)' "$b"; then
		cp "$b" "$tu"
	else
		{
			grep '^#include' "$b"
			echo 'void snippet_body(void);'
			echo 'void snippet_body(void)'
			echo '{'
			grep -v '^#include' "$b"
			echo '}'
		} >"$tu"
	fi
	cc -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter -Wno-unused-variable \
		-Wno-unused-function -Wno-unused-but-set-variable -Wno-empty-body \
		-D_GNU_SOURCE -I"$TOP/uapi" -I"$TOP/helper" \
		-include "$HOST_DIR/snippet-prelude.h" -c -o "${b%.c}.o" "$tu"
}

check_snippets() {
	local b where from bad=0 n=0 content
	for b in "$snip"/*.c "$snip"/*.sh; do
		[ -f "$b" ] || continue
		case $b in *.tu.c) continue ;; esac
		n=$((n + 1))
		where=$(cat "${b%.*}.where")
		if [ -f "${b%.*}.from" ]; then
			from=$(cat "${b%.*}.from")
			content=$(cat "$TOP/$from" 2>/dev/null) ||
				{ echo "$where: $from does not exist"; bad=1; continue; }
			[[ $content == *"$(cat "$b")"* ]] ||
				{ echo "$where: the block is not in $from as written"; bad=1; }
		elif [[ $b == *.sh ]]; then
			bash -n "$b" || { echo "$where: sh block does not parse"; bad=1; }
		else
			compile_block "$b" 2>&1 | sed "s|^|$where: |" | head -n 20
			[ "${PIPESTATUS[0]}" -eq 0 ] || { echo "$where: does not compile"; bad=1; }
		fi
		if grep -Eq 'sigwake_wait(_fds)?\(' "$b" &&
		   ! { grep -q 'sigwake_take_pending' "$b" && grep -q 'sigwake_take_flags' "$b"; }; then
			echo "$where: waits with sigwake_wait()/sigwake_wait_fds() but does not take both pending and flags (use sigwake_wait_take())"
			bad=1
		fi
	done
	echo "$n code blocks checked"
	[ "$n" -gt 0 ] && [ "$bad" -eq 0 ]
}
tap_check "every code block of README.md, docs/ and the man pages compiles (or is in the file it quotes), and waits take what they report" check_snippets

# libsigwake_test calls every function of <libsigwake.h>.
lib_test_calls_all() {
	local fn missing=0
	for fn in $(names "$lib" | awk '$1 == "function" { print $2 }'); do
		grep -q "\b$fn(" "$TOP/selftests/libsigwake_test.c" ||
			{ echo "selftests/libsigwake_test.c never calls $fn()"; missing=1; }
	done
	return $missing
}
tap_check "selftests/libsigwake_test.c calls every function of libsigwake.h" lib_test_calls_all

# The examples use the library's wrappers, not hand-rolled sigwake ioctls.
examples_use_wrappers() {
	! grep -n 'ioctl([^,]*, *SIGWAKE_IOC_' "$TOP"/examples/*.c
}
tap_check "examples/ call libsigwake, not SIGWAKE_IOC_* ioctls" examples_use_wrappers

# The runner's documented defaults are its real ones.
qemu_defaults() {
	local mk rs doc
	mk=$(sed -n 's/^KERNELS ?= *//p' "$TOP/selftests/qemu/Makefile")
	rs=$(sed -n 's/^KERNELS=\${KERNELS:-\(.*\)}$/\1/p' "$TOP/selftests/qemu/run.sh")
	doc=$(sed -n 's/^| `KERNELS` | `\([^`]*\)` |.*/\1/p' "$TOP/selftests/qemu/README.md")
	echo "Makefile: '$mk', run.sh: '$rs', README: '$doc'"
	[ -n "$mk" ] && [ "$mk" = "$rs" ] && [ "$mk" = "$doc" ]
}
tap_check "selftests/qemu/README.md gives the default KERNELS that the Makefile and run.sh use" qemu_defaults
tap_done
