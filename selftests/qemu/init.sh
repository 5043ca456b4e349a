#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
#
# /init of the sigwake test VM (busybox ash; no bash in the VM).
#
# Reads its orders from the kernel command line:
#   sigwake.mode=check|demo|shell  run /tests/TESTS, run /demos/DEMOS, or a shell
#   sigwake.mode=bench             as check, with trace events off (see below)
#   sigwake.kernel=<name>          exported to the programs as SIGWAKE_KERNEL
#   sigwake.timeout=<seconds>      per-program timeout
#   sigwake.hostload=<load>        the host's load average, and its CPU count,
#   sigwake.hostcpus=<n>           exported as SIGWAKE_HOST_LOAD, _CPUS
#   sigwake.race_seconds=<s>       exported as SIGWAKE_RACE_SECONDS (race_test)
#
# Everything the host parses goes to the second serial port (/dev/ttyS1),
# framed by "# sigwake-run:" lines; the kernel log stays on ttyS0.
# This script must not exit: init exiting panics the kernel.

/bin/busybox mkdir -p /bin /sbin /usr/bin /usr/sbin /proc /sys /dev /tmp /run
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
export HOME=/root
umask 022

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm /root
mount -t devpts devpts /dev/pts 2>/dev/null
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs tmpfs /run
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
hostname sigwake-vm
ip link set lo up 2>/dev/null

mode=check
kernel=unknown
timeout=600
set -f
read -r cmdline </proc/cmdline
for arg in $cmdline; do
	case $arg in
	sigwake.mode=*)    mode=${arg#*=} ;;
	sigwake.kernel=*)  kernel=${arg#*=} ;;
	sigwake.timeout=*) timeout=${arg#*=} ;;
	sigwake.hostload=*) export SIGWAKE_HOST_LOAD="${arg#*=}" ;;
	sigwake.hostcpus=*) export SIGWAKE_HOST_CPUS="${arg#*=}" ;;
	sigwake.race_seconds=*) export SIGWAKE_RACE_SECONDS="${arg#*=}" ;;
	esac
done
set +f
export SIGWAKE_VM=qemu-tcg SIGWAKE_KERNEL="$kernel"

# KCSAN (the kcsan kernel): races of the core kernel that the tests run
# into, benign and left alone upstream, are dropped by KCSAN's own report
# filter ("!<function>": a report whose top frame on either side is one of
# them), one by one with the reason; any other report is judged by run.sh.
#   do_nanosleep, hrtimer_wakeup: the sleeper reads its hrtimer_sleeper's
#     ->task plainly while the timer interrupt on the same CPU clears it
#     (seen with KCSAN_INTERRUPT_WATCHER by any test that sleeps).
if [ -w /sys/kernel/debug/kcsan ]; then
	for fn in do_nanosleep hrtimer_wakeup; do
		echo "!$fn" >/sys/kernel/debug/kcsan
	done
fi

# fd 3: the result port.
if [ -c /dev/ttyS1 ] && exec 3>/dev/ttyS1; then
	stty -F /dev/ttyS1 raw -echo 2>/dev/null
else
	echo "sigwake-init: no /dev/ttyS1, results go to the console" >/dev/console
	exec 3>/dev/console
fi

out() { echo "$*" >&3; }
mark() { out "# sigwake-run: $*"; }
note() { echo "sigwake-init: $*" >/dev/kmsg 2>/dev/null; }

# One pseudo-test reported by init itself: report <name> <0|1|skip> [reason]
report() {
	mark "BEGIN $1"
	out "1..1"
	case $2 in
	0)    out "ok 1 $1" ;;
	skip) out "ok 1 $1 # SKIP $3" ;;
	*)    out "not ok 1 $1${3:+ # $3}" ;;
	esac
	mark "END rc=0 time=0 timeout=0 $1"
}

# Is a process of process group $1 still alive (zombies do not count)?
group_alive() {
	pg=$1
	for f in /proc/[0-9]*/stat; do
		read -r st <"$f" || continue
		# After "(comm) ": state ppid pgrp ...
		# shellcheck disable=SC2086
		set -- ${st##*) }
		[ "$3" = "$pg" ] && [ "$1" != Z ] && return 0
	done 2>/dev/null
	return 1
}

# Run one line of TESTS/DEMOS in <dir>, in its own session and process
# group, with a timeout; output to the result port.
run_one() {
	dir=$1 line=$2
	mark "BEGIN $line"
	note "start: $line"
	start=$(date +%s)
	rm -f /tmp/.sigwake-timedout
	(cd "$dir" && exec setsid sh -c "exec $line") </dev/null >&3 2>&3 &
	pid=$!
	(
		deadline=$((start + timeout))
		while [ "$(date +%s)" -lt $deadline ]; do
			sleep 1
			kill -0 $pid 2>/dev/null || exit 0
		done
		touch /tmp/.sigwake-timedout
		out "# sigwake-run: timeout after ${timeout}s, killing process group $pid"
		kill -TERM -$pid 2>/dev/null
		sleep 5
		kill -KILL -$pid 2>/dev/null
	) &
	wd=$!
	wait $pid
	rc=$?
	kill $wd 2>/dev/null
	wait $wd 2>/dev/null
	# Children the program left behind in its process group: kill them
	# and wait until they are gone, so that they do not hold the module.
	kill -KILL -$pid 2>/dev/null
	n=0
	while group_alive $pid && [ $n -lt 20 ]; do
		sleep 0.5
		n=$((n + 1))
	done
	group_alive $pid && out "# sigwake-run: processes of process group $pid still alive after 10 s"
	to=0
	[ -e /tmp/.sigwake-timedout ] && to=1
	mark "END rc=$rc time=$(($(date +%s) - start)) timeout=$to $line"
	note "end: rc=$rc: $line"
}

# Each non-empty, non-comment line of a list file, in order.
run_list() {
	dir=$1 list=$2 loaded=$3
	[ -f "$list" ] || { out "# sigwake-run: $list is missing"; return; }
	while IFS= read -r line; do
		case $line in ""|"#"*) continue ;; esac
		if [ "$loaded" = 1 ]; then
			run_one "$dir" "$line"
		else
			mark "NOTRUN $line"
		fi
	done <"$list"
}

load_kvm() {
	for m in irqbypass rng-core ccp kvm kvm-amd; do
		[ -f /lib/kvm/$m.ko ] || continue
		if msg=$(insmod /lib/kvm/$m.ko 2>&1); then
			out "# sigwake-run: insmod $m.ko: ok"
		else
			out "# sigwake-run: insmod $m.ko: failed: $msg"
		fi
	done
	if [ -c /dev/kvm ]; then
		out "# sigwake-run: /dev/kvm is available"
	else
		out "# sigwake-run: /dev/kvm is not available"
	fi
}

# Switch on, before the module comes, every static key that its insmod and
# rmmod would switch, so that they only count and no kernel text that runs
# all the time (__schedule(), do_exit(), exec, signal sending) is live-patched
# while the VM runs.  QEMU's multi-threaded TCG can livelock a vCPU that
# executes a jump label while the other vCPU patches it: the guest shows an
# RCU stall and a soft lockup in text_poke_bp() (see keyhold.c).
# sigwake's own tracepoints are held too once it is loaded
# (switch_module_keys), so the tracing checks do not patch code that other
# threads run.
keys=/sys/kernel/tracing/instances/sigwake-keys
kernel_events="sched/sched_process_exit sched/sched_process_exec signal/signal_generate"
hold_kernel_keys() {
	if [ -c /dev/kvm ] && [ -x /bin/keyhold ]; then
		/bin/keyhold >/tmp/keyhold.out 2>&1 </dev/null &
		n=0
		while ! grep -q . /tmp/keyhold.out && [ $n -lt 50 ]; do
			sleep 0.1
			n=$((n + 1))
		done
		out "# sigwake-run: preempt notifiers: $(cat /tmp/keyhold.out)"
	elif [ -f /keyhold_kmod.ko ]; then
		# No KVM (PREEMPT_RT 7.x under TCG): the test-only module holds
		# the key instead (keyhold-kmod/keyhold_kmod.c).
		if insmod /keyhold_kmod.ko 2>/tmp/keyhold.out; then
			out "# sigwake-run: preempt notifiers: held by keyhold_kmod.ko"
		else
			out "# sigwake-run: preempt notifiers: not held ($(cat /tmp/keyhold.out))"
		fi
	fi
	if mkdir $keys 2>/dev/null; then
		echo 0 >$keys/tracing_on
		for e in $kernel_events; do
			echo 1 >$keys/events/$e/enable 2>/dev/null ||
				out "# sigwake-run: cannot hold tracepoint $e"
		done
		out "# sigwake-run: tracepoints held in $keys"
	fi
}

# switch_kernel_events 1|0: enable or disable the held events of the kernel's
# tracepoints.  Only while the module is loaded and the VM quiet: its own
# probes on the same tracepoints keep their static keys on meanwhile, so
# only the tracepoints' call targets change.
switch_kernel_events() {
	[ -d $keys ] || return 0
	for e in $kernel_events; do
		echo "$1" >$keys/events/"$e"/enable 2>/dev/null ||
			out "# sigwake-run: cannot switch the event $e to $1"
	done
}

# switch_module_keys 1|0: hold or release the module's tracepoints.
switch_module_keys() {
	[ -d $keys/events/"$module" ] || return 0
	echo "$1" >$keys/events/"$module"/enable 2>/dev/null ||
		out "# sigwake-run: cannot switch the $module tracepoints to $1"
}

kml=/sys/kernel/debug/kmemleak
kmemleak_ok=0
kmemleak_prepare() {
	[ -e $kml ] || return
	# Forget what the kernel leaked while booting: objects must be 5 s
	# old before kmemleak reports them.
	sleep 5
	# No automatic scans: only the explicit ones below count.
	echo scan=off >$kml 2>/dev/null
	if echo scan >$kml 2>/dev/null && echo clear >$kml 2>/dev/null; then
		kmemleak_ok=1
	else
		out "# sigwake-run: kmemleak is present but not usable"
	fi
}

kmemleak_check() {
	[ $kmemleak_ok = 1 ] || return
	sleep 6
	echo scan >$kml
	sleep 1
	echo scan >$kml
	if grep -q "unreferenced object" $kml; then
		mark "BEGIN no kmemleak reports"
		out "1..1"
		sed 's/^/# /' $kml >&3
		out "not ok 1 no kmemleak reports # $(grep -c 'unreferenced object' $kml) unreferenced objects"
		mark "END rc=0 time=0 timeout=0 no kmemleak reports"
	else
		report "no kmemleak reports" 0
	fi
}

ko=$(find / -maxdepth 1 -name "*.ko" | head -n1)
module=$(basename "${ko:-/sigwake.ko}" .ko)

# Module signing test: run.sh puts an unsigned copy of the module in
# /unsigned/ (and a signed one in /) only on a kernel that trusts its test
# key, and boots it with module.sig_enforce=1.  The unsigned copy must be
# refused with EKEYREJECTED ("Key was rejected by service"), as on a Secure
# Boot machine; the signed one is then loaded by load_module.
signed=
check_unsigned_refused() {
	u=/unsigned/$module.ko
	[ -f "$u" ] || return 0
	signed=" (signed with the test key)"
	name="unsigned $module.ko is refused with module.sig_enforce=1"
	enforce=$(cat /sys/module/module/parameters/sig_enforce 2>/dev/null)
	if [ "$enforce" != Y ]; then
		report "$name" 1 "sig_enforce is '$enforce', not Y"
	elif msg=$(insmod "$u" 2>&1); then
		report "$name" 1 "the unsigned module loaded"
		rmmod "$module" 2>/dev/null
	else
		out "# $msg"
		case $msg in
		*"Key was rejected by service"*) report "$name" 0 ;;
		*) report "$name" 1 "refused, but not with EKEYREJECTED" ;;
		esac
	fi
}

load_module() {
	loaded=0
	if [ -z "$ko" ]; then
		report "insmod $module.ko" 1 "no module in the initramfs"
	elif msg=$(insmod "$ko" 2>&1); then
		loaded=1
		report "insmod $module.ko$signed" 0
		# To map addresses in later reports (kmemleak after rmmod
		# prints bare addresses) back to the .ko.
		out "# sigwake-run: $module .text at $(cat /sys/module/"$module"/sections/.text 2>/dev/null)"
	else
		out "# $msg"
		report "insmod $module.ko$signed" 1 "insmod failed"
	fi
}

# rmmod, retried for a few seconds: the last references go away with the
# last files of exiting processes, which can lag behind their exit.
unload_retry() {
	n=0
	while ! msg=$(rmmod "$module" 2>&1); do
		n=$((n + 1))
		[ $n -ge 10 ] && return 1
		sleep 1
	done
	[ $n -gt 0 ] && out "# sigwake-run: rmmod succeeded after $n retries"
	return 0
}

unload_module() {
	if [ "$loaded" != 1 ]; then
		report "module unloads cleanly" skip "not loaded"
	elif unload_retry; then
		if grep -q "^$module " /proc/modules; then
			report "module unloads cleanly" 1 "still in /proc/modules"
		else
			report "module unloads cleanly" 0
		fi
	else
		out "# $msg"
		grep "^$module " /proc/modules | sed 's/^/# /' >&3
		report "module unloads cleanly" 1 "rmmod failed"
	fi
}

finish() {
	out "# sigwake-run: taint=$(cat /proc/sys/kernel/tainted)"
	mark "DONE"
	sync
	poweroff -f
	sleep 10
	echo o >/proc/sysrq-trigger
}

note "mode=$mode kernel=$kernel timeout=$timeout"
out "# sigwake-run: mode=$mode kernel=$kernel release=$(uname -r) cpus=$(nproc)"

# The benchmark (make bench) runs with no trace event on: a live tracepoint
# costs a call per event in the paths it measures (six per sigwake round
# trip; one per signal sent, for the signal-based baselines).  Nothing in it
# switches tracing, so the module's events need no holding: they stay off,
# and its insmod and rmmod patch none of them.  The kernel's tracepoints
# that the module probes stay on through the module's own probes while it
# is loaded, so their held events are switched off after insmod and on
# again before rmmod, both while nothing else runs.
case $mode in
check|demo|bench)
	load_kvm
	hold_kernel_keys
	kmemleak_prepare
	check_unsigned_refused
	load_module
	if [ "$loaded" = 1 ] && [ "$mode" = bench ]; then
		switch_kernel_events 0
		out "# sigwake-run: bench: trace events off"
	elif [ "$loaded" = 1 ]; then
		switch_module_keys 1
	fi
	if [ "$mode" = demo ]; then
		export PATH=/demos:$PATH
		run_list /demos /demos/DEMOS "$loaded"
	else
		export PATH=/tests:$PATH
		run_list /tests /tests/TESTS "$loaded"
	fi
	# Nothing runs the module's code now: its tracepoints may switch off.
	if [ "$loaded" = 1 ] && [ "$mode" = bench ]; then
		switch_kernel_events 1
	elif [ "$loaded" = 1 ]; then
		switch_module_keys 0
	fi
	unload_module
	kmemleak_check
	finish
	;;
shell)
	load_kvm
	hold_kernel_keys
	check_unsigned_refused
	load_module
	export PATH=/tests:/demos:$PATH PS1='sigwake-vm:\w# '
	cd /tests 2>/dev/null || cd /
	echo
	echo "sigwake test VM: module $module.ko $( [ $loaded = 1 ] && echo loaded || echo NOT loaded)."
	echo "Tests in /tests (see TESTS), demos in /demos (see DEMOS). Exit the shell to power off."
	setsid cttyhack sh
	poweroff -f
	;;
*)
	out "# sigwake-run: unknown mode '$mode'"
	finish
	;;
esac
sleep 1000000
