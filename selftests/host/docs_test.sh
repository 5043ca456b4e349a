#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# docs_test.sh: the documentation keeps up with the public API.
#
# Every public name of uapi/linux/sigwake.h and helper/libsigwake.h (each
# #define SIGWAKE_* / LIBSIGWAKE_*, enum constant, struct and enum name,
# struct field, and sigwake_* function) must appear in docs/*.md or in a
# manual page (man/, helper/man/); each ioctl command must have its own
# section in docs/api.md; the manual pages must format without a groff
# warning; the Markdown files that docs/ promises must exist.
set -u
. "$(dirname "$0")/lib.sh"

uapi=$TOP/uapi/linux/sigwake.h
lib=$TOP/helper/libsigwake.h
docs=$(ls "$TOP"/docs/*.md "$TOP"/man/*.[0-9] "$TOP"/helper/man/*.[0-9] 2>/dev/null)

for f in api state-machine integration design-decisions; do
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

ioctl_sections() {
	local cmd missing=0
	for cmd in $(grep -oE '^#define SIGWAKE_IOC_[A-Z_]+' "$uapi" | awk '{print $2}' |
		     grep -v MAGIC); do
		grep -Eq "^#+ .*\b$cmd\b" "$TOP/docs/api.md" ||
			{ echo "docs/api.md has no section for $cmd"; missing=1; }
		grep -q "$cmd" "$TOP/man/sigwake.4" ||
			{ echo "man/sigwake.4 does not mention $cmd"; missing=1; }
	done
	return $missing
}
tap_check "each ioctl has a section in docs/api.md and a place in sigwake(4)" ioctl_sections

each_errno() {
	local e missing=0
	for e in $(sed -n 's/^ \*  \(E[A-Z0-9]*\) .*/\1/p' "$uapi"); do
		grep -qw "$e" "$TOP/docs/api.md" || { echo "docs/api.md: no $e"; missing=1; }
		grep -qw "$e" "$TOP/man/sigwake.4" || { echo "sigwake.4: no $e"; missing=1; }
	done
	return $missing
}
tap_check "every errno of the uapi table is in docs/api.md and sigwake(4)" each_errno

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
tap_done
