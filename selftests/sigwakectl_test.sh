#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# sigwakectl_test.sh: the sigwakectl CLI and the sigwake tracepoints, as a
# user would drive them (TAP; POSIX sh, busybox in the test VM).
#
# Needs sigwakectl and sigwake_hold next to it or in PATH, the module
# loaded, and root for the monitor, other-user and tracing checks (they
# are skipped otherwise).
#
# SIGWAKE_ALLOW_SKIP=1 turns a missing module into a skip of everything.

here=$(cd "$(dirname "$0")" && pwd)
PATH=$here:$PATH
export PATH

tmp=$(mktemp -d /tmp/sigwakectl_test.XXXXXX) || exit 1
holders=
cleanup() {
	for p in $holders; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

n=0
fails=0
ok() { n=$((n + 1)); echo "ok $n $1"; }
not_ok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n $1"; }
skip() { n=$((n + 1)); echo "ok $n $1 # SKIP $2"; }
# check <description> <command...>: ok if the command succeeds
check() {
	d=$1
	shift
	if "$@"; then ok "$d"; else not_ok "$d"; fi
}
diag() { sed 's/^/# /' "$@"; }

is_root() { [ "$(id -u)" = 0 ]; }

# as_nobody <command...>: run as uid/gid 65534, with util-linux setpriv or
# with su (busybox).
as_nobody() {
	if setpriv --reuid=65534 --regid=65534 --clear-groups true 2>/dev/null; then
		setpriv --reuid=65534 --regid=65534 --clear-groups "$@"
	else
		su -s /bin/sh nobody -c "$*"
	fi
}

# start_holder <file> <args...>: run sigwake_hold in the background until
# it said "ready"; its pid is in $holder.
start_holder() {
	out=$1
	shift
	sigwake_hold "$@" >"$out" 2>&1 </dev/null &
	holder=$!
	holders="$holders $holder"
	i=0
	while ! grep -q '^ready' "$out" 2>/dev/null; do
		i=$((i + 1))
		if [ $i -gt 400 ] || ! kill -0 "$holder" 2>/dev/null; then
			diag "$out"
			return 1
		fi
		sleep 0.05
	done
}

stop_holder() {
	kill "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

# json_obj <json> <key> <value>: the object of a one-line JSON array of
# domain or thread objects (each starts with "domain") whose key is value.
json_obj() {
	printf '%s\n' "$1" | awk '{ gsub(/},\{"domain"/, "}\n{\"domain\""); print }' |
		grep "\"$2\":$3[,}]"
}

# field <chunk> <key>: a numeric or string value from a JSON chunk.
field() {
	printf '%s\n' "$1" | sed -n "s/.*\"$2\":\"\{0,1\}\([^,\"}]*\).*/\1/p" | head -n 1
}

echo "TAP version 13"
echo "1..14"

if ! command -v sigwakectl >/dev/null || ! command -v sigwake_hold >/dev/null; then
	echo "Bail out! sigwakectl or sigwake_hold not found"
	exit 1
fi

# -- 1: usage and exit codes
rc_help=0; sigwakectl help >"$tmp/help" 2>&1 || rc_help=$?
rc_sub=0; sigwakectl threads --help >"$tmp/subhelp" 2>&1 || rc_sub=$?
rc_bad=0; sigwakectl frobnicate >"$tmp/bad" 2>&1 || rc_bad=$?
rc_arg=0; sigwakectl threads >"$tmp/arg" 2>&1 || rc_arg=$?
if [ $rc_help = 0 ] && [ $rc_sub = 0 ] && [ $rc_bad = 2 ] && [ $rc_arg = 2 ] &&
	grep -q monitor "$tmp/help" && grep -q 'Usage: sigwakectl threads' "$tmp/subhelp"; then
	ok "help exits 0, usage errors exit 2"
else
	echo "# help=$rc_help subhelp=$rc_sub unknown=$rc_bad missing-arg=$rc_arg"
	not_ok "help exits 0, usage errors exit 2"
fi

# -- module present?
rc=0; sigwakectl list >"$tmp/list0" 2>&1 || rc=$?
if [ $rc = 3 ]; then
	diag "$tmp/list0"
	if [ "${SIGWAKE_ALLOW_SKIP:-0}" != 0 ]; then
		i=1
		while [ $i -le 13 ]; do skip "needs the module" "module not loaded"; i=$((i + 1)); done
		exit 0
	fi
	echo "Bail out! sigwake module not loaded"
	exit 1
fi

# -- 2: list --json reports what a process created
if start_holder "$tmp/h1" -t 3 -q 2 -p 10; then
	h1=$holder
	json=$(sigwakectl list --json)
	obj=$(json_obj "$json" pid "$h1")
	id=$(field "$obj" domain)
	if [ -n "$obj" ] && [ "$(field "$obj" threads)" = 3 ] &&
		[ "$(field "$obj" queues)" = 2 ] &&
		[ "$(field "$obj" comm)" = sigwake_hold ] &&
		[ "$(field "$obj" uid)" = "$(id -u)" ] &&
		[ "$(field "$obj" posts)" = 1 ]; then
		ok "list --json: domain $id of pid $h1 with 3 threads, 2 queues, 1 post"
	else
		echo "# $json"
		not_ok "list --json reports the holder's domain"
	fi
else
	not_ok "list --json reports the holder's domain (holder did not start)"
	id=
fi

# -- 3: the table has a header and the same domain
if [ -n "$id" ] && sigwakectl list >"$tmp/list" &&
	head -n 1 "$tmp/list" | grep -q '^DOMAIN' &&
	grep -Eq "^ *$id +$h1 +sigwake_hold " "$tmp/list"; then
	ok "list: table row for domain $id"
else
	diag "$tmp/list"
	not_ok "list: table row for the holder's domain"
fi

# -- 4: threads --json: three live threads, handle 1 has signal 10 pending
if [ -n "$id" ] && json=$(sigwakectl threads --json "$id"); then
	t1=$(json_obj "$json" handle 1)
	count=$(printf '%s\n' "$json" | awk '{ gsub(/},\{"domain"/, "}\n{\"domain\""); print }' |
		grep -c '"handle":')
	if [ "$count" = 3 ] && [ "$(field "$t1" tid)" = "$h1" ] &&
		printf '%s\n' "$t1" | grep -q '"pending":\[10\]' &&
		printf '%s\n' "$t1" | grep -q '"state":"host"'; then
		ok "threads --json: 3 threads, handle 1 is the main thread with signal 10 pending"
	else
		echo "# $json"
		not_ok "threads --json: 3 threads, handle 1 with signal 10 pending"
	fi
else
	not_ok "threads --json"
fi

# -- 5: show <pid> and show <domain-id> agree
if [ -n "$id" ] && sigwakectl show --pid "$h1" >"$tmp/show-pid" &&
	sigwakectl show "$id" >"$tmp/show-id" && cmp -s "$tmp/show-pid" "$tmp/show-id" &&
	grep -q "^domain $id: pid $h1 (sigwake_hold)" "$tmp/show-id" &&
	grep -q '^ *HANDLE' "$tmp/show-id"; then
	ok "show <pid> and show <domain-id>"
else
	diag "$tmp/show-pid" "$tmp/show-id"
	not_ok "show <pid> and show <domain-id>"
fi

# -- 6: stats --json sums the counters
if json=$(sigwakectl stats --json) &&
	printf '%s\n' "$json" | grep -q '"total":{"posts":[1-9]'; then
	ok "stats --json has totals"
else
	echo "# $json"
	not_ok "stats --json has totals"
fi

# -- 7: an unknown domain: exit 1 with the kernel's message
rc=0; sigwakectl threads 2147483000 >"$tmp/nodom" 2>&1 || rc=$?
if [ $rc = 1 ] && grep -q 'no such domain' "$tmp/nodom"; then
	ok "threads <unknown id>: exit 1, extack 'no such domain'"
else
	echo "# rc=$rc"
	diag "$tmp/nodom"
	not_ok "threads <unknown id>: exit 1 with the kernel's message"
fi

# -- 8: a waiting thread shows as waiting
if start_holder "$tmp/h2" -t 1 -q 1 -w; then
	h2=$holder
	if sigwakectl show --json --pid "$h2" >"$tmp/show-w" &&
		grep -q '"waiting":true' "$tmp/show-w" &&
		grep -q '"state":"waiting"' "$tmp/show-w"; then
		ok "a thread in SIGWAKE_IOC_WAIT shows as waiting"
	else
		diag "$tmp/show-w"
		not_ok "a thread in SIGWAKE_IOC_WAIT shows as waiting"
	fi
	stop_holder "$h2"
else
	not_ok "a thread in SIGWAKE_IOC_WAIT shows as waiting (holder did not start)"
fi

# -- 9: another user sees none of root's domains
if ! is_root; then
	skip "another user sees none of root's domains" "not root"
else
	rc=0
	as_nobody "$here/sigwakectl" list --json >"$tmp/nobody" 2>&1 || rc=$?
	if [ $rc = 0 ] && grep -qx '\[\]' "$tmp/nobody" &&
		! grep -q '"domain":' "$tmp/nobody"; then
		ok "another user sees none of root's domains"
	else
		echo "# rc=$rc"
		diag "$tmp/nobody"
		not_ok "another user sees none of root's domains"
	fi
fi

# -- 10: another user cannot join the monitor group: exit 4
if ! is_root; then
	skip "monitor without CAP_SYS_ADMIN exits 4" "not root"
else
	rc=0
	as_nobody "$here/sigwakectl" monitor --count 1 >"$tmp/mon-nobody" 2>&1 || rc=$?
	if [ $rc = 4 ] && grep -q 'permission denied' "$tmp/mon-nobody"; then
		ok "monitor without CAP_SYS_ADMIN exits 4"
	elif [ $rc = 1 ] && grep -q 'offers no' "$tmp/mon-nobody"; then
		skip "monitor without CAP_SYS_ADMIN exits 4" "no monitor group on this kernel"
	else
		echo "# rc=$rc"
		diag "$tmp/mon-nobody"
		not_ok "monitor without CAP_SYS_ADMIN exits 4"
	fi
fi

# -- 11, 12: monitor sees the NEW and DEL events (text and JSON)
monitor_check() {
	mode=$1
	desc="monitor${mode:+ $mode}: domain_new, thread_new, thread_del (exit, close), domain_del"
	if ! is_root; then
		skip "$desc" "not root"
		return
	fi
	sigwakectl monitor $mode >"$tmp/mon" 2>"$tmp/mon.err" &
	mon=$!
	holders="$holders $mon"
	sleep 0.5
	if ! kill -0 $mon 2>/dev/null; then
		wait $mon
		rc=$?
		if grep -q 'offers no' "$tmp/mon.err"; then
			skip "$desc" "no monitor group on this kernel"
		else
			echo "# rc=$rc"
			diag "$tmp/mon.err"
			not_ok "$desc"
		fi
		return
	fi
	if start_holder "$tmp/h3" -t 2 -e 1 -q 1; then
		h3=$holder
		sleep 0.5
		stop_holder "$h3"
	fi
	i=0
	while ! grep -Eq "domain_del.*(\"pid\":$h3,| pid=$h3 )" "$tmp/mon" &&
		[ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	kill -INT $mon
	wait $mon
	rc=$?
	if [ "$mode" = --json ]; then
		new=$(grep -c '"event":"domain_new".*"pid":'"$h3"',' "$tmp/mon")
		tnew=$(grep -c '"event":"thread_new"' "$tmp/mon")
		texit=$(grep -c '"event":"thread_del".*"reason":"exit"' "$tmp/mon")
		tclose=$(grep -c '"event":"thread_del".*"reason":"close"' "$tmp/mon")
		tunreg=$(grep -c '"event":"thread_del".*"reason":"unregister"' "$tmp/mon")
		del=$(grep -c '"event":"domain_del".*"pid":'"$h3"',' "$tmp/mon")
	else
		new=$(grep -c "^domain_new .* pid=$h3 comm=sigwake_hold" "$tmp/mon")
		tnew=$(grep -c '^thread_new ' "$tmp/mon")
		texit=$(grep -c '^thread_del .* reason=exit' "$tmp/mon")
		tclose=$(grep -c '^thread_del .* reason=close' "$tmp/mon")
		tunreg=$(grep -c '^thread_del .* reason=unregister' "$tmp/mon")
		del=$(grep -c "^domain_del .* pid=$h3 " "$tmp/mon")
	fi
	# -t 2 -e 1: three registrations; the main thread unregisters itself,
	# the sleeper is released at close, the exiter at its exit.
	if [ $rc = 0 ] && [ "$new" = 1 ] && [ "$tnew" = 3 ] && [ "$texit" = 1 ] &&
		[ "$tclose" = 1 ] && [ "$tunreg" = 1 ] && [ "$del" = 1 ]; then
		ok "$desc"
	else
		echo "# rc=$rc new=$new thread_new=$tnew exit=$texit close=$tclose unregister=$tunreg del=$del"
		diag "$tmp/mon" "$tmp/mon.err"
		not_ok "$desc"
	fi
}
monitor_check ""
monitor_check --json

# -- 13, 14: tracepoints
tracefs=
for d in /sys/kernel/tracing /sys/kernel/debug/tracing; do
	if [ -d "$d/events" ]; then tracefs=$d; break; fi
done
if ! is_root || [ -z "$tracefs" ]; then
	skip "tracepoint sigwake:post has the right fields" "not root or no tracefs"
	skip "tracepoints sigwake:wait_begin, wake, wait_end" "not root or no tracefs"
elif [ ! -d "$tracefs/events/sigwake/post" ]; then
	ls "$tracefs/events" | head -n 5 | sed 's/^/# /'
	not_ok "tracepoint sigwake:post exists in $tracefs"
	not_ok "tracepoints sigwake:wait_begin, wake, wait_end"
else
	ev=$tracefs/events/sigwake
	echo 0 >"$tracefs/tracing_on"
	: >"$tracefs/trace"
	echo 1 >"$ev/post/enable"
	echo 1 >"$ev/wait_begin/enable"
	echo 1 >"$ev/wait_end/enable"
	echo 1 >"$ev/wake/enable"
	echo 1 >"$tracefs/tracing_on"
	if start_holder "$tmp/h4" -t 1 -q 1 -w -p 12; then
		h4=$holder
		obj=$(json_obj "$(sigwakectl list --json)" pid "$h4")
		id4=$(field "$obj" domain)
		stop_holder "$h4"
	fi
	echo 0 >"$tracefs/tracing_on"
	for e in post wait_begin wait_end wake; do echo 0 >"$ev/$e/enable"; done
	cp "$tracefs/trace" "$tmp/trace"
	: >"$tracefs/trace"
	echo 1 >"$tracefs/tracing_on"

	# The holder posts guest signal 12 to its main thread (handle 1),
	# which runs in host: recorded.
	if [ -n "$id4" ] &&
		grep -q "sigwake_hold-$h4 .* post: domain=$id4 target=1 handle=1 signo=12 outcome=recorded" "$tmp/trace" &&
		grep -q 'field:u32 signo;' "$ev/post/format"; then
		ok "tracepoint sigwake:post: domain=$id4 target=1 handle=1 signo=12 outcome=recorded"
	else
		echo "# domain '$id4', holder $h4"
		diag "$tmp/trace"
		not_ok "tracepoint sigwake:post has the right fields"
	fi
	# Its waiter (handle 2) waits on queue 1 without a timeout until the
	# holder, stopping, wakes the queue.
	if [ -n "$id4" ] &&
		grep -q "wait_begin: domain=$id4 handle=2 wq=1 expected=0 timeout_ns=-1" "$tmp/trace" &&
		grep -q "wake: domain=$id4 wq=1 nr=1 woken=1" "$tmp/trace" &&
		grep -q "wait_end: domain=$id4 handle=2 reason=wake" "$tmp/trace"; then
		ok "tracepoints sigwake:wait_begin, wake, wait_end"
	else
		diag "$tmp/trace"
		not_ok "tracepoints sigwake:wait_begin, wake, wait_end"
	fi
fi

[ $fails = 0 ]
