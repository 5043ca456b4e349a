#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# ynl_cli_test.sh: the kernel's generic ynl CLI (Linux 7.2's
# tools/net/ynl/pyynl/cli.py) drives the "sigwake" family from nothing but
# its spec, Documentation/netlink/specs/sigwake.yaml: the spec and the
# module agree on commands, attributes, types and policy (TAP; POSIX sh,
# busybox in the test VM).
#
# Needs the python bundle next to it (ynl-python/, selftests/ynl-bundle.sh;
# everything is skipped without it), sigwake_hold, and the module loaded.

here=$(cd "$(dirname "$0")" && pwd)
b=$here/ynl-python
PATH=$here:$PATH
export PATH

echo "TAP version 13"
if [ ! -x "$b/bin/python3" ]; then
	echo "1..0 # SKIP no python bundle (selftests/ynl-bundle.sh)"
	exit 0
fi

tmp=$(mktemp -d /tmp/ynl_cli_test.XXXXXX) || exit 1
holder=
cleanup() {
	[ -n "$holder" ] && kill "$holder" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

n=0
fails=0
ok() { n=$((n + 1)); echo "ok $n $1"; }
not_ok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n $1"; }
diag() { sed 's/^/# /' "$@"; }

# ynl <args...>: the CLI on the spec, output (and errors) in $tmp/out.
ynl() {
	env -i PYTHONHOME="$b" PYTHONPATH="$b/site:$b/pyynl" \
		PYTHONDONTWRITEBYTECODE=1 \
		"$b/lib/ld-linux-x86-64.so.2" --library-path "$b/lib" \
		"$b/bin/python3" -S "$b/pyynl/cli.py" --spec "$b/sigwake.yaml" \
		--no-schema --output-json "$@" >"$tmp/out" 2>&1
}

# has <key> <value>: the JSON output holds "key": value.
has() {
	grep -q "\"$1\": $2[,}]" "$tmp/out"
}

echo "1..5"

sigwake_hold -t 2 -q 1 >"$tmp/hold" 2>&1 </dev/null &
holder=$!
i=0
while ! grep -q '^ready' "$tmp/hold" 2>/dev/null; do
	i=$((i + 1))
	if [ $i -gt 400 ] || ! kill -0 "$holder" 2>/dev/null; then
		diag "$tmp/hold"
		echo "Bail out! sigwake_hold did not start"
		exit 1
	fi
	sleep 0.05
done

# 1: a dump of every domain holds the holder's, found by its pid.
start=$(date +%s)
if ynl --dump domain-get && has pid "$holder"; then
	ok "ynl --dump domain-get reports pid $holder ($(($(date +%s) - start)) s)"
else
	diag "$tmp/out"
	not_ok "ynl --dump domain-get reports pid $holder"
fi
id=$(tr '{' '\n' <"$tmp/out" | grep "\"pid\": $holder[,}]" |
	sed -n 's/.*"domain-id": \([0-9]*\).*/\1/p' | head -n 1)

# 2: a do request with the domain id: its threads, queues and name.
if [ -n "$id" ] && ynl --do domain-get --json "{\"domain-id\": $id}" &&
	has nr-threads 2 && has nr-queues 1 && has comm '"sigwake_hold"'; then
	ok "ynl --do domain-get of domain $id: 2 threads, 1 queue, sigwake_hold"
else
	diag "$tmp/out"
	not_ok "ynl --do domain-get of the holder's domain"
fi

# 3: the thread dump, with the nested counters decoded.
if [ -n "$id" ] && ynl --dump thread-get --json "{\"domain-id\": $id}" &&
	has handle 1 && has handle 2 && grep -q '"counters": {' "$tmp/out"; then
	ok "ynl --dump thread-get of domain $id: handles 1 and 2, counters"
else
	diag "$tmp/out"
	not_ok "ynl --dump thread-get of the holder's domain"
fi

# 4: the policy the spec states (domain-id >= 1) is the module's.
if ! ynl --do domain-get --json '{"domain-id": 0}' &&
	grep -qi "range\|error" "$tmp/out"; then
	ok "ynl --do domain-get with domain-id 0 is refused"
else
	diag "$tmp/out"
	not_ok "ynl --do domain-get with domain-id 0 is refused"
fi

# 5: a domain that does not exist answers ENOENT.
if ! ynl --do domain-get --json '{"domain-id": 4000000000}' &&
	grep -qi "no such domain\|No such file" "$tmp/out"; then
	ok "ynl --do domain-get of an unknown domain: no such domain"
else
	diag "$tmp/out"
	not_ok "ynl --do domain-get of an unknown domain"
fi

[ "$fails" -eq 0 ]
