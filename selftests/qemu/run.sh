#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# run.sh check|demo|shell|fetch|bench|run
#
# Boot real kernels in QEMU (TCG) with sigwake.ko and run the selftests
# (check), the examples (demo) or an interactive shell (shell); "fetch"
# only fills the kernel cache; "bench" runs sigwake-bench (bench/) in the VM
# of $KERNEL; "run" runs the user's static program $PROG (or every
# executable in the directory $PROG) in the VM of $KERNEL, writing
# nothing into the tree.  See README.md for the variables.
set -eu

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=${SIGWAKE_TOP:-$(cd "$here/../.." && pwd)}
BUILD=${SIGWAKE_BUILD:-$TOP/build/qemu}
# "run": the module build, the initramfs and the logs go to RUN_OUT.
if [ "${1:-}" = run ]; then
	BUILD=${RUN_OUT:-${SIGWAKE_CACHE:-$HOME/.cache/sigwake}/run}
fi

KERNELS=${KERNELS:-5.10 6.1 6.12 7.2 6.1-rt 7.2-rt debug kcsan}
KERNEL=${KERNEL:-6.1}
TEST_TIMEOUT=${TEST_TIMEOUT:-600}
VM_TIMEOUT=${VM_TIMEOUT:-}
TESTS_FILTER=${TESTS_FILTER:-}
QEMU=${QEMU:-qemu-system-x86_64}
QEMU_MEM=${QEMU_MEM:-2G}
QEMU_SMP=${QEMU_SMP:-2}
QEMU_OPTS=${QEMU_OPTS:-}
# tsc=reliable: under TCG the vCPUs read one host clock, but the boot-time
# sync check rejects the TSC and every clock_gettime() becomes an HPET MMIO
# exit; mitigations=off: page-table isolation is costly under TCG.
KERNEL_CMDLINE=${KERNEL_CMDLINE:-console=ttyS0 panic=-1 oops=panic panic_on_warn=1 softlockup_panic=1 hung_task_panic=1 loglevel=7 mitigations=off tsc=reliable}
KERNEL_APPEND=${KERNEL_APPEND:-}
MODULE=${MODULE:-sigwake}
MODULE_SRC=${MODULE_SRC:-Kbuild module uapi}
TESTS_DIR=${TESTS_DIR:-}
DEMOS_DIR=${DEMOS_DIR:-}
QUIET=${QUIET:-}
SKIP_DEPS=${SKIP_DEPS:-}
SIGWAKE_KO=${SIGWAKE_KO:-}
HOST_TESTS=${HOST_TESTS:-1}

die() { echo "qemu-run: error: $*" >&2; exit 2; }
msg() { echo "qemu-run: $*" >&2; }

mode=${1:-}
case $mode in
check|demo|shell|fetch|bench|run) ;;
*) die "usage: $0 check|demo|shell|fetch|bench|run" ;;
esac

# Kernel splats that fail a run when they show up on the console.  "BUG:"
# also covers KCSAN ("BUG: KCSAN: data-race in ...") and lockdep's raw lock
# nesting check ("BUG: Invalid wait context"); KCSAN's boot-time
# "KCSAN: selftest: 3/3 tests passed" must not match.
splat_re='BUG:|WARNING:|kernel BUG at|KASAN:|UBSAN:|Kernel panic|general protection fault|Oops|'\
'possible recursive locking|possible circular locking|inconsistent lock state|'\
'suspicious RCU usage|DEBUG_LOCKS_WARN_ON|INFO: lockdep|lockdep (is )?turned off|'\
'trying to register non-static key|INFO: task .* blocked|'\
'sleeping function called from invalid context|scheduling while atomic|'\
'soft lockup|hard LOCKUP|RCU stall|rcu_.*detected stall|self-detected stall|'\
'refcount_t:|list_(add|del) corruption|stack guard page|double fault|Bad page'
# The command line is echoed on the console and may contain any of the words.
splat_ignore='Command line:'
# KCSAN reports in which no stack frame is sigwake's (a function of the
# module prints as "func+0x1/0x2 [sigwake]") are races of the core kernel
# that sigwake's tests merely ran into.  KCSAN_FOREIGN=note (the default)
# lists them in problems.txt and kcsan-foreign.txt without failing the run;
# KCSAN_FOREIGN=fail counts them as splats like any other.  A report with a
# sigwake frame in either stack always fails.
KCSAN_FOREIGN=${KCSAN_FOREIGN:-note}

jobs_flag() {
	case " ${MAKEFLAGS:-} " in
	*jobserver*|*" -j"*|*" j"*) ;;
	*) echo "-j$(nproc)" ;;
	esac
}

# ---------------------------------------------------------------- deps
deps() {
	[ -n "$SKIP_DEPS" ] && return 0
	"$TOP/scripts/deps.sh" ||
		die "missing dependencies (see above); SKIP_DEPS=1 skips this check"
}

# ---------------------------------------------------------------- kernels
# resolve <token>: sets KDIR BZIMAGE RELEASE MODDIR LABEL or returns 1.
resolve() {
	local tok=$1 out line
	KDIR='' BZIMAGE='' RELEASE='' MODDIR='' SIGN_KEY='' SIGN_CERT=''
	case $tok in
	debug|kcsan)
		if [ ! -f "$here/debug-kernel.sh" ]; then
			msg "$here/debug-kernel.sh does not exist (yet): cannot test the $tok kernel"
			return 1
		fi
		msg "$tok: building or finding the $tok kernel (debug-kernel.sh $tok)"
		out=$(bash "$here/debug-kernel.sh" "$tok") || { msg "debug-kernel.sh $tok failed"; return 1; }
		;;
	*)
		out=$("$here/fetch-kernel.sh" "$tok") || return 1
		;;
	esac
	while IFS= read -r line; do
		case $line in
		KERNELDIR=*) KDIR=${line#*=} ;;
		BZIMAGE=*)   BZIMAGE=${line#*=} ;;
		RELEASE=*)   RELEASE=${line#*=} ;;
		MODDIR=*)    MODDIR=${line#*=} ;;
		SIGN_KEY=*)  SIGN_KEY=${line#*=} ;;
		SIGN_CERT=*) SIGN_CERT=${line#*=} ;;
		esac
	done <<<"$out"
	if [ -z "$KDIR" ] || [ ! -f "$KDIR/Makefile" ]; then
		msg "$tok: no usable KERNELDIR (got '${KDIR}')"
		return 1
	fi
	if [ -z "$BZIMAGE" ] || [ ! -f "$BZIMAGE" ]; then
		msg "$tok: no kernel image (got '${BZIMAGE}')"
		return 1
	fi
	if [ -z "$RELEASE" ]; then
		RELEASE=$(cat "$KDIR/include/config/kernel.release" 2>/dev/null || echo "$tok")
	fi
	LABEL=$RELEASE
	case $tok in
	debug|kcsan) case $RELEASE in *"$tok"*) ;; *) LABEL="$RELEASE ($tok)" ;; esac ;;
	esac
}

# prefetch <token>: fill the kernel cache for the next kernel while this
# one's VM runs (download and unpack, for a cold cache several minutes,
# mostly waiting on the network and xz).  fetch-kernel.sh serialises on a
# per-kernel lock, so the resolve() of that kernel waits for it and then
# finds the cache warm.  The debug kernels are built, not fetched: their
# build would compete with the VM for the CPUs, so it is left in order.
PREFETCH=${PREFETCH:-1}
prefetch() {
	local tok=$1
	[ "$PREFETCH" != 0 ] || return 0
	case $tok in debug|kcsan|host|"") return 0 ;; esac
	mkdir -p "$BUILD/$tok"
	nice -n 10 "$here/fetch-kernel.sh" "$tok" >/dev/null 2>"$BUILD/$tok/prefetch.log" </dev/null &
}

# prebuild <token...>: build the debug kernels among them in the
# background, one after the other, at the lowest priority, as the check
# starts.  On a cold cache each takes 20-30 minutes of both CPUs; this way
# the builds use what the VMs of the kernels before them leave idle (tests
# that sleep, wait for timeouts, or run on one vCPU), instead of adding
# their whole length to the run.  resolve() of a debug kernel waits on
# debug-kernel.sh's per-kernel lock for a build under way and then finds it
# cached; a kernel already cached costs a hash.
prebuild() {
	local tok toks=()
	[ "$PREFETCH" != 0 ] || return 0
	for tok; do
		case $tok in debug|kcsan) toks+=("$tok") ;; esac
	done
	[ ${#toks[@]} -gt 0 ] || return 0
	for tok in "${toks[@]}"; do
		mkdir -p "$BUILD/$tok"
		rm -f "$BUILD/$tok/prebuild.done"
	done
	(
		for tok in "${toks[@]}"; do
			nice -n 19 bash "$here/debug-kernel.sh" "$tok" >/dev/null ||
				echo "prebuild: debug-kernel.sh $tok failed (resolve will say why)"
			# run_lanes() starts its VM now (resolve finds it
			# cached, or says why not).
			: >"$BUILD/$tok/prebuild.done"
		done
	) 2>"$BUILD/prebuild.log" </dev/null &
}

# prefetch_all <token...>: fetch the Debian kernels among them in the
# background, one after the other, in that order, then mark them all
# fetched: the host tests build against every one (dkms), so run_lanes()
# starts them after this.  A kernel already cached costs a lookup.
prefetch_all() {
	local tok toks=()
	mkdir -p "$BUILD/host"
	rm -f "$BUILD/host/prefetch-all.done"
	for tok; do
		case $tok in debug|kcsan|host) ;; *) toks+=("$tok") ;; esac
	done
	(
		for tok in "${toks[@]}"; do
			mkdir -p "$BUILD/$tok"
			nice -n 10 "$here/fetch-kernel.sh" "$tok" >/dev/null \
				2>"$BUILD/$tok/prefetch.log" || true
		done
		: >"$BUILD/host/prefetch-all.done"
	) </dev/null &
}

# KVM modules for the VM: from MODDIR, or from a kernel build tree.
kvm_modules() {
	local m f
	for m in virt/lib/irqbypass drivers/char/hw_random/rng-core drivers/crypto/ccp/ccp arch/x86/kvm/kvm arch/x86/kvm/kvm-amd; do
		f=
		if [ -n "$MODDIR" ] && [ -f "$MODDIR/$(basename $m).ko" ]; then
			f=$MODDIR/$(basename $m).ko
		elif [ -f "$KDIR/$m.ko" ]; then
			f=$KDIR/$m.ko
		fi
		[ -n "$f" ] && echo "$f"
	done
	return 0
}

# ---------------------------------------------------------------- builds
# build_module <kbuild dir>: builds the module there, sets KO to the .ko.
build_module() {
	local kb=$1 src=$1/src p have=
	mkdir -p "$src"
	for p in $MODULE_SRC; do
		[ -e "$TOP/$p" ] || continue
		have=1
		rsync -a --delete \
			--exclude='*.o' --exclude='*.ko' --exclude='.*.cmd' --exclude='*.mod' \
			--exclude='*.mod.c' --exclude='*.a' --exclude='modules.order' \
			--exclude='Module.symvers' --exclude='.*.d' --exclude='.tmp*' \
			"$TOP/$p" "$src/"
	done
	[ -n "$have" ] || { msg "none of '$MODULE_SRC' exists in $TOP"; return 1; }
	msg "building $MODULE.ko against $KDIR"
	# -Wno-error=cpp: compat.h's #warning on a kernel newer than the
	# tested range (sid moves on) is shown, it does not fail the build.
	# shellcheck disable=SC2046
	if ! make $(jobs_flag) -C "$KDIR" M="$src" modules W=1 KCFLAGS="-Werror -Wno-error=cpp" \
		>"$kb/module-build.log" 2>&1; then
		tail -n 60 "$kb/module-build.log" >&2
		msg "module build failed; full log: $kb/module-build.log"
		return 1
	fi
	grep -E 'warning:' "$kb/module-build.log" >&2 || true
	KO=$(find "$src" -name "$MODULE.ko" -print -quit)
	[ -n "$KO" ] || { msg "no $MODULE.ko after the build"; return 1; }
	build_keyhold_kmod "$kb"
}

# build_keyhold_kmod <kbuild dir>: the preempt-notifier holder for a VM in
# which KVM cannot load (keyhold-kmod/; init.sh).  Sets KEYHOLD_KO, or
# leaves it empty where it is not needed or cannot be had: on the kernels
# that enforce module signatures (the debug kernels, where KVM loads) and
# on a failed build (the VM then runs as before, unheld).
build_keyhold_kmod() {
	local kb=$1 src=$1/keyhold-src
	KEYHOLD_KO=
	[ -z "$SIGN_KEY" ] || return 0
	rm -rf "$src"
	cp -r "$here/keyhold-kmod" "$src"
	# shellcheck disable=SC2046
	if make $(jobs_flag) -C "$KDIR" M="$src" modules >"$kb/keyhold-build.log" 2>&1; then
		KEYHOLD_KO=$src/keyhold_kmod.ko
	else
		msg "note: keyhold_kmod did not build (log: $kb/keyhold-build.log)"
	fi
}

# build_user <selftests|examples> <out dir>
build_user() {
	local sub=$1 out=$2
	[ -f "$TOP/$sub/Makefile" ] || return 3
	mkdir -p "$out"
	msg "building $sub/ (static) into $out"
	# shellcheck disable=SC2046
	make $(jobs_flag) -C "$TOP/$sub" OUT="$out" all
}

# Normalised list (trimmed, no comments), filtered by TESTS_FILTER.
filter_list() {
	local in=$1 filter=$2 line name pat keep
	[ -f "$in" ] || return 0
	while IFS= read -r line || [ -n "$line" ]; do
		line=$(echo "$line" | tr -s ' \t' '  ')
		line=${line# }; line=${line% }
		case $line in ""|"#"*) continue ;; esac
		if [ -n "$filter" ]; then
			name=${line%% *}
			keep=
			set -f
			for pat in $filter; do
				set +f
				# shellcheck disable=SC2053
				if [[ $name == $pat || $(basename "$name") == $pat || $line == $pat ]]; then
					keep=1
				fi
			done
			set +f
			[ -n "$keep" ] || continue
		fi
		echo "$line"
	done <"$in"
}

# newc cpio entry for /dev/console, so that init has a console even when
# the initramfs is built by a user who cannot mknod.
console_cpio() {
	# magic ino mode uid gid nlink mtime size devmaj devmin rdevmaj rdevmin namesize check
	printf '070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X' \
		1 $((0020600)) 0 0 1 0 0 0 0 5 1 12 0
	printf 'dev/console\0\0\0'
	printf '070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X' \
		0 0 0 0 1 0 0 0 0 0 0 11 0
	printf 'TRAILER!!!\0\0\0\0'
}

# The VM's static-key holder (keyhold.c), built once per run.
KEYHOLD=$BUILD/keyhold
build_keyhold() {
	[ "$KEYHOLD" -nt "$here/keyhold.c" ] && return 0
	mkdir -p "$BUILD"
	cc -static -O2 -Wall -Werror -o "$KEYHOLD" "$here/keyhold.c" ||
		die "cannot build $here/keyhold.c"
}

# Module signing test (README.md, "Module signing"): on a kernel that
# trusts a test key (debug-kernel.sh prints SIGN_KEY and SIGN_CERT), the VM
# boots with module.sig_enforce=1 and gets the module twice: unsigned in
# /unsigned/, which init must see refused, and signed with the test key by
# the kernel's own scripts/sign-file, which it loads and tests.  Only for a
# module built here (not SIGWAKE_KO, which may be signed already).
# sign_module <kbuild dir>: sets KO to the signed copy, UNSIGNED_KO to $KO.
UNSIGNED_KO=
sign_module() {
	local kb=$1 sf=$KDIR/scripts/sign-file
	UNSIGNED_KO=
	[ -n "$SIGN_KEY" ] && [ -f "$SIGN_KEY" ] && [ -f "$SIGN_CERT" ] && [ -x "$sf" ] ||
		return 0
	mkdir -p "$kb/signed"
	cp "$KO" "$kb/signed/$MODULE.ko"
	if ! "$sf" sha256 "$SIGN_KEY" "$SIGN_CERT" "$kb/signed/$MODULE.ko"; then
		msg "cannot sign $MODULE.ko with $SIGN_KEY"
		return 1
	fi
	msg "signed $kb/signed/$MODULE.ko with $SIGN_KEY: booting with module.sig_enforce=1"
	UNSIGNED_KO=$KO
	KO=$kb/signed/$MODULE.ko
}

# make_initramfs <kbuild dir> <tests dir> <demos dir> <ko> [<unsigned ko>]
make_initramfs() {
	local kb=$1 tests=$2 demos=$3 ko=$4 unsigned=${5:-} st=$1/initramfs.d f
	rm -rf "$st"
	mkdir -p "$st"/{bin,dev,etc,proc,sys,tmp,root,lib/kvm,tests,demos}
	cp /bin/busybox "$st/bin/busybox"
	ln -s busybox "$st/bin/sh"
	cp "$here/init.sh" "$st/init"
	chmod 755 "$st/init"
	cp "$ko" "$st/$MODULE.ko"
	if [ -n "$unsigned" ]; then
		mkdir -p "$st/unsigned"
		cp "$unsigned" "$st/unsigned/$MODULE.ko"
	fi
	cp "$KEYHOLD" "$st/bin/keyhold"
	[ -z "${KEYHOLD_KO:-}" ] || cp "$KEYHOLD_KO" "$st/keyhold_kmod.ko"
	for f in $(kvm_modules); do cp "$f" "$st/lib/kvm/"; done
	local ex=(--exclude='*.o' --exclude='*.d' --exclude='*.a' --exclude='*.h')
	[ -n "$tests" ] && [ -d "$tests" ] && rsync -a "${ex[@]}" "$tests/" "$st/tests/"
	[ -n "$demos" ] && [ -d "$demos" ] && rsync -a "${ex[@]}" "$demos/" "$st/demos/"
	filter_list "$tests/TESTS" "$TESTS_FILTER" >"$st/tests/TESTS"
	# The python of ynl_cli_test.sh (17 MB) only for that test.
	grep -q '^ynl_cli_test' "$st/tests/TESTS" || rm -rf "$st/tests/ynl-python"
	filter_list "$demos/DEMOS" "" >"$st/demos/DEMOS"
	printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' \
		>"$st/etc/passwd"
	printf 'root:x:0:\nnogroup:x:65534:\n' >"$st/etc/group"
	{
		(cd "$st" && find . -mindepth 1 -print0 | LC_ALL=C sort -z |
			cpio --null -o -H newc -R 0:0 --quiet)
		console_cpio
	} | gzip -1 -n >"$kb/initramfs.cpio.gz"
}

# ---------------------------------------------------------------- QEMU
# boot <kbuild dir> <mode> <token> <vm timeout>: returns QEMU's status.
boot() {
	local kb=$1 vmode=$2 tok=$3 limit=$4 rc=0 qpid
	local append="$KERNEL_CMDLINE rdinit=/init sigwake.mode=$vmode sigwake.kernel=$tok sigwake.timeout=$TEST_TIMEOUT $KERNEL_APPEND"
	[ -z "$UNSIGNED_KO" ] || append="$append module.sig_enforce=1"
	# KCSAN panics on its first report under panic_on_warn, so a race of
	# the core kernel that a test ran into (KCSAN_FOREIGN=note) would end
	# the run: on the kcsan kernel a report is judged from the console
	# instead, and a WARN still counts as a splat there.
	[ "$tok" != kcsan ] || append="$append panic_on_warn=0"
	local -a cmd
	# shellcheck disable=SC2206
	cmd=("$QEMU" -machine q35 -accel "tcg,thread=multi" -cpu max
	     -smp "$QEMU_SMP" -m "$QEMU_MEM" -nodefaults -nographic -no-reboot
	     -monitor none -kernel "$BZIMAGE" -initrd "$kb/initramfs.cpio.gz"
	     -append "$append" $QEMU_OPTS)
	: >"$kb/result.tap"
	: >"$kb/console.log"
	if [ "$vmode" = shell ]; then
		"${cmd[@]}" -serial mon:stdio \
			-chardev "file,id=result,path=$kb/result.tap,append=on" -serial chardev:result ||
			rc=$?
		return $rc
	fi
	cmd+=(-serial "file:$kb/console.log"
	      -chardev "file,id=result,path=$kb/result.tap,append=on" -serial chardev:result)
	printf '%q ' "${cmd[@]}" >"$kb/qemu.cmd"
	echo >>"$kb/qemu.cmd"
	timeout --foreground -k 10 "$limit" "${cmd[@]}" </dev/null &
	qpid=$!
	if [ "$vmode" = demo ]; then
		tail -n +1 -f --pid=$qpid "$kb/result.tap" | show_demo
	elif [ "$mode" = bench ]; then
		tail -n +1 -f --pid=$qpid "$kb/result.tap" | show_bench
	elif [ -z "$QUIET" ]; then
		tail -n +1 -f --pid=$qpid "$kb/result.tap" | sed -u "s/\r\$//; s/^/[$tok] /"
	fi
	wait $qpid || rc=$?
	return $rc
}

# Demo output without the framing.
show_demo() {
	local line
	while IFS= read -r line; do
		line=${line%$'\r'}
		case $line in
		"# sigwake-run: BEGIN "*) echo; echo "\$ ${line#\# sigwake-run: BEGIN }" ;;
		"# sigwake-run: END "*)
			case $line in
			*" rc=0 "*" timeout=0 "*) ;;
			*) echo "[demo failed: ${line#\# sigwake-run: END }]" ;;
			esac ;;
		"# sigwake-run: DONE"*) ;;
		"# sigwake-run: "*) echo "[vm] ${line#\# sigwake-run: }" ;;
		*) echo "$line" ;;
		esac
	done
}

# ---------------------------------------------------------------- one kernel
P=0 F=0 S=0
RAN=()	# the label of each kernel that ran, for the summary line
FAILS=()	# "<kernel or host>: <what failed>", recapped before the summary

# add_fails <who>: each line of stdin becomes "<who>: <line>" in FAILS.
add_fails() {
	local line
	while IFS= read -r line; do
		FAILS+=("$1: $line")
	done
}

# kernel_failed <label> <why>: a kernel that could not run is one failure.
kernel_failed() {
	echo "$1: 0 passed, 1 failed, 0 skipped"
	F=$((F + 1))
	FAILS+=("$1: $2")
}

# run_kernel <token> <mode>: adds to P F S; returns 0 if everything passed.
run_kernel() {
	local tok=$1 vmode=$2 kb=$BUILD/$1 limit rc t0 t1 counts np nf ns vmdone splats first
	mkdir -p "$kb"
	echo "== $tok" >&2
	if ! resolve "$tok"; then
		kernel_failed "$tok" "no kernel (see its log)"
		return 1
	fi
	msg "$tok: $RELEASE, image $BZIMAGE"
	RAN+=("$LABEL")
	KO=$SIGWAKE_KO
	UNSIGNED_KO=
	if [ -n "$KO" ]; then
		msg "using SIGWAKE_KO=$KO, not building the module"
	elif ! build_module "$kb" || ! sign_module "$kb"; then
		kernel_failed "$LABEL" "the module did not build or sign"
		return 1
	fi
	build_keyhold
	make_initramfs "$kb" "$TESTS_OUT" "$DEMOS_OUT" "$KO" "$UNSIGNED_KO"
	if [ "$vmode" = check ] && [ ! -s "$kb/initramfs.d/tests/TESTS" ]; then
		msg "warning: no test programs to run (TESTS empty${TESTS_FILTER:+ after TESTS_FILTER=$TESTS_FILTER})"
	fi

	limit=$VM_TIMEOUT
	[ -n "$limit" ] || case $tok in debug|kcsan) limit=1500 ;; *) limit=900 ;; esac
	if [ "$vmode" = shell ]; then
		msg "booting $LABEL (shell: exit it to power off, Ctrl-A x kills QEMU)"
	else
		msg "booting $LABEL ($vmode; VM timeout ${limit}s, per-program ${TEST_TIMEOUT}s)"
	fi
	[ "$vmode" = check ] && prefetch "${NEXT_KERNEL:-}"
	t0=$(date +%s)
	rc=0
	boot "$kb" "$vmode" "$tok" "$limit" || rc=$?
	# A kernel that crashed before /init wrote its first line ran nothing
	# of ours: under TCG the boot's own text patching (the sched_clock
	# static key) can oops in an int3 now and then.  Boot it once more.
	if [ "$vmode" != shell ] && [ ! -s "$kb/result.tap" ] &&
	   grep -qE 'Oops|Kernel panic' "$kb/console.log"; then
		cp "$kb/console.log" "$kb/console-first-boot.log"
		msg "$LABEL crashed while booting, before /init ran ($(grep -m1 -E 'Oops|Kernel panic' "$kb/console.log" | tr -d '\r')): booting it once more"
		rc=0
		boot "$kb" "$vmode" "$tok" "$limit" || rc=$?
	fi
	t1=$(date +%s)
	if [ "$vmode" = shell ]; then
		return 0
	fi

	local list=$kb/initramfs.d/tests/TESTS
	[ "$vmode" = demo ] && list=$kb/initramfs.d/demos/DEMOS
	counts=$(awk -v mode="$vmode" -v list="$list" -f "$here/parse-tap.awk" "$kb/result.tap")
	printf '%s\n' "$counts" | grep -v '^COUNTS ' >"$kb/problems.txt" || true
	read -r _ np nf ns vmdone <<<"$(printf '%s\n' "$counts" | grep '^COUNTS ')"

	local failed=0
	if [ "$vmdone" != 1 ]; then
		nf=$((nf + 1))
		failed=1
		if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
			echo "  FAIL VM timed out after ${limit}s (VM_TIMEOUT)" >>"$kb/problems.txt"
		else
			echo "  FAIL VM stopped before the end of the run (crash or panic; qemu status $rc)" \
				>>"$kb/problems.txt"
		fi
	fi
	# Each splat line, with the program that was running at the time.
	# Pass 1 finds the KCSAN reports without a sigwake frame (from
	# "BUG: KCSAN:" to the closing "====" line); with KCSAN_FOREIGN=note
	# pass 2 leaves their lines out and writes them to kcsan-foreign.txt.
	: >"$kb/kcsan-foreign.txt"
	splats=$(awk -v re="$splat_re" -v ign="$splat_ignore" -v policy="$KCSAN_FOREIGN" \
		-v foreign="$kb/kcsan-foreign.txt" '
		FNR == NR {
			if (/BUG: KCSAN:/) { b = FNR; ours = 0; next }
			if (b && /\[sigwake\]|sigwake_[a-z0-9_]+\+0x/) ours = 1
			if (b && /====================/) {
				if (!ours && policy == "note")
					for (i = b; i <= FNR; i++) skip[i] = 1
				b = 0
			}
			next
		}
		/sigwake-init: start: / { sub(/.*sigwake-init: start: /, ""); cur = $0; next }
		/sigwake-init: end: / { cur = ""; next }
		FNR in skip {
			if (/BUG: KCSAN:/)
				print (cur != "" ? "[during " cur "] " : "") $0 >>"/dev/stderr"
			print >>foreign
			next
		}
		$0 ~ re && index($0, ign) == 0 { print FNR "	" (cur != "" ? "[during " cur "] " : "") $0 }
		' "$kb/console.log" "$kb/console.log" 2>"$kb/kcsan-foreign.list" | head -n 40 |
		tee "$kb/splat-lines" | cut -f2-)
	if [ -s "$kb/kcsan-foreign.list" ]; then
		{
			echo "  NOTE $(wc -l <"$kb/kcsan-foreign.list") KCSAN report(s) with no sigwake frame (KCSAN_FOREIGN=note; full reports in $kb/kcsan-foreign.txt):"
			sed 's/^/    /' "$kb/kcsan-foreign.list"
		} >>"$kb/problems.txt"
	fi
	if [ -n "$splats" ]; then
		nf=$((nf + 1))
		failed=1
		{
			echo "  FAIL kernel splat on the console:"
			printf '%s\n' "$splats" | sed 's/^/    /'
		} >>"$kb/problems.txt"
	fi
	[ "$nf" -gt 0 ] && failed=1

	msg "$LABEL: boot+run took $((t1 - t0))s"
	cat "$kb/problems.txt"
	add_fails "$LABEL" < <(sed -n 's/^  FAIL //p' "$kb/problems.txt")
	if [ "$failed" = 1 ]; then
		if [ -n "$splats" ]; then
			echo "  console from the first splat on:"
			first=$(cut -f1 "$kb/splat-lines" | head -n 1)
			tail -n "+$first" "$kb/console.log" | head -n 50 | sed 's/^/    | /'
		elif [ "$vmdone" != 1 ]; then
			echo "  last lines of the console:"
			tail -n 30 "$kb/console.log" | sed 's/^/    | /'
		fi
		echo "  console: $kb/console.log"
		echo "  results: $kb/result.tap"
	fi
	if [ "$mode" = run ]; then
		echo "$LABEL: $np programs passed, $nf failed"
	elif [ "$vmode" = demo ]; then
		echo "$LABEL demos: $np passed, $nf failed"
	else
		echo "$LABEL: $np passed, $nf failed, $ns skipped"
	fi
	P=$((P + np)) F=$((F + nf)) S=$((S + ns))
	return $failed
}

# ---------------------------------------------------------------- host tests
# selftests/host/run.sh (packaging, install, docs; owned there): once per
# "check", not per kernel.  Its closing "host: N passed, N failed, N
# skipped" line is added to the totals.  HOST_TESTS=0 skips it; a list of
# names ("docs install") runs only those.
run_host_tests() {
	local hr=$TOP/selftests/host/run.sh line np nf ns
	[ "$HOST_TESTS" != 0 ] && [ -f "$hr" ] || return 0
	echo "== host" >&2
	HOST_TESTS=$HOST_TESTS bash "$hr" | tee "$BUILD/host.log" || true
	line=$(grep -E '^host: [0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' \
		"$BUILD/host.log" | tail -n1)
	if [ -z "$line" ]; then
		echo "host: no summary line from $hr"
		F=$((F + 1))
		FAILS+=("host: no summary line from $hr")
		return 1
	fi
	read -r _ np _ nf _ ns _ <<<"${line//,/}"
	P=$((P + np)) F=$((F + nf)) S=$((S + ns))
	add_fails host < <(grep -E '^\[[a-z0-9_]+\] not ok' "$BUILD/host.log")
	[ "$nf" -eq 0 ]
}

# recap_failures: what failed, kernel by kernel, just above the summary
# line, so that the tail of a long log (all a CI page may show) names it.
recap_failures() {
	local max=20
	[ ${#FAILS[@]} -gt 0 ] || return 0
	echo "failed:"
	printf '  %s\n' "${FAILS[@]:0:$max}"
	[ ${#FAILS[@]} -le $max ] || echo "  ... and $((${#FAILS[@]} - max)) more (see above)"
}

# ---------------------------------------------------------------- lanes
# "check" with LANES=3 (the default): the kernels' VMs and the host tests
# run three jobs at a time.  One VM keeps the two host CPUs about half busy
# (a test sleeps, waits for a timeout or runs on one vCPU); two at a time
# finish the matrix in about two thirds of the time, and on the 2-core CI
# machine three at a time finished a warm run in 27.4 min against 29.9
# with two (README.md has the figures).  Tests must not depend on an idle
# host anyway: speed is measured by "make bench", never by a test.
# Each job's output goes to its own log, printed whole when the job ends,
# in the order the jobs started, so the CI log reads one kernel at a time.
# LANES=1 runs everything in the order given with the output live.
LANES=${LANES:-3}
# With lanes, race_test stops past its floor of 100,000 rounds after this
# many seconds (sigwake.race_seconds, race_test.c): its poster and waiter
# spin on each other across the two vCPUs, and beside another VM a vCPU
# that the host has descheduled stalls its partner, so each round costs
# several times what it costs alone (README.md: "The lost-event race").
LANE_RACE_SECONDS=${LANE_RACE_SECONDS:-20}

# job_rank <token|host>: the order jobs start in, longest first, so that
# no long job is left to run alone at the end: the debug kernel's VM
# (KASAN, lockdep: two to three times a Debian kernel's), the host tests
# (as long again, beside a VM), the kcsan VM, the PREEMPT_RT kernels,
# then the others in the order given.
job_rank() {
	case $1 in
	debug) echo 0 ;;
	host) echo 1 ;;
	kcsan) echo 2 ;;
	*-rt) echo 3 ;;
	*) echo 4 ;;
	esac
}

# job_ready <token|host> <started-count> <job-count>: whether the job can
# start: a debug kernel once prebuild() has it (cached or built), the host
# tests once every Debian kernel is fetched (prefetch_all(); without
# prefetching, once every VM has started, as its resolve fetches it).
job_ready() {
	case $1 in
	debug|kcsan)
		[ "$PREFETCH" = 0 ] || [ -e "$BUILD/$1/prebuild.done" ] ;;
	host)
		if [ "$PREFETCH" = 0 ]; then
			[ "$2" -ge $(($3 - 1)) ]
		else
			[ -e "$BUILD/host/prefetch-all.done" ]
		fi ;;
	*) true ;;
	esac
}

# lane_start <token|host>: start the job in the background; sets LANE_PID.
lane_start() {
	local job=$1 dir=$BUILD/$1
	mkdir -p "$dir"
	rm -f "$dir/lane.res" "$dir/lane.fails"
	(
		P=0 F=0 S=0 RAN=() FAILS=() rc=0
		if [ "$job" = host ]; then
			# What the VMs beside it write (run_test.sh).
			SIGWAKE_BUSY_DIRS=$LANES_BUSY run_host_tests || rc=1
		else
			KERNEL_APPEND="$KERNEL_APPEND sigwake.race_seconds=$LANE_RACE_SECONDS" \
				run_kernel "$job" check || rc=1
		fi
		[ ${#FAILS[@]} -eq 0 ] || printf '%s\n' "${FAILS[@]}" >"$dir/lane.fails"
		echo "$P $F $S $rc ${RAN[*]:-}" >"$dir/lane.res"
	) >"$dir/lane.log" 2>&1 </dev/null &
	LANE_PID=$!
}

# lane_end <token|host>: print the job's log, add its counts.
lane_end() {
	local job=$1 dir=$BUILD/$1 np nf ns rc labels
	cat "$dir/lane.log"
	if [ -s "$dir/lane.fails" ]; then
		mapfile -t -O ${#FAILS[@]} FAILS <"$dir/lane.fails"
	fi
	if ! read -r np nf ns rc labels 2>/dev/null <"$dir/lane.res"; then
		echo "$job: the job stopped before its summary (see above)"
		F=$((F + 1))
		FAILS+=("$job: the job stopped before its summary")
		return 1
	fi
	# shellcheck disable=SC2206
	[ -z "$labels" ] || RAN+=($labels)
	P=$((P + np)) F=$((F + nf)) S=$((S + ns))
	return "$rc"
}

# run_lanes <token...>: the kernels and the host tests, LANES at a time,
# each started by job_rank() among those job_ready() allows, or, when none
# is ready and a lane is free, a debug kernel's.  Jobs end in
# any order; their logs are printed in the order they started, each as
# soon as it and every one started before it ended.
run_lanes() {
	local -a jobs=() order=() pids=() ended=() started=()
	local tok j r best running i rc=0 shown=0 total
	for tok; do
		jobs+=("$tok")
	done
	[ "$HOST_TESTS" = 0 ] || jobs+=(host)
	total=${#jobs[@]}
	# The Debian kernels, fetched in the order their VMs start.
	local -a fetch=()
	for r in 3 4; do
		for tok in "${jobs[@]}"; do
			[ "$(job_rank "$tok")" = "$r" ] && fetch+=("$tok")
		done
	done
	# Only for the host tests (a nested run, dkms_test.sh's, has none).
	[ "$PREFETCH" = 0 ] || [ "$HOST_TESTS" = 0 ] || prefetch_all "${fetch[@]}"
	# A cached debug kernel is found within seconds: give prebuild() that
	# long before the first pick, so that its VM starts first.
	for ((i = 0; i < 30; i++)); do
		r=0
		for tok in "${jobs[@]}"; do
			case $tok in debug|kcsan) job_ready "$tok" 0 "$total" || r=1 ;; esac
		done
		[ "$r" = 1 ] || break
		sleep 1
	done
	while [ "$shown" -lt "$total" ]; do
		running=0
		for ((i = shown; i < ${#order[@]}; i++)); do
			[ -n "${ended[$i]:-}" ] || running=$((running + 1))
		done
		while [ "$running" -lt "$LANES" ] && [ ${#order[@]} -lt "$total" ]; do
			best=
			for j in "${!jobs[@]}"; do
				[ -z "${started[$j]:-}" ] || continue
				job_ready "${jobs[$j]}" ${#order[@]} "$total" || continue
				if [ -z "$best" ] ||
				   [ "$(job_rank "${jobs[$j]}")" -lt "$(job_rank "${jobs[$best]}")" ]; then
					best=$j
				fi
			done
			# Lanes with nothing ready: a debug kernel's job, whose
			# resolve waits for prebuild()'s build of it, or builds
			# it (the other flavour) on the idle CPUs meanwhile.
			if [ -z "$best" ]; then
				for j in "${!jobs[@]}"; do
					[ -z "${started[$j]:-}" ] || continue
					case ${jobs[$j]} in debug|kcsan) ;; *) continue ;; esac
					best=$j
					break
				done
			fi
			[ -n "$best" ] || break
			# What the VMs beside the host tests write, now or
			# later (the host tests skip it).
			LANES_BUSY=
			for tok in "${jobs[@]}"; do
				[ "$tok" = host ] || LANES_BUSY+=" $BUILD/$tok"
			done
			started[$best]=1
			lane_start "${jobs[$best]}"
			pids[${#order[@]}]=$LANE_PID
			order+=("${jobs[$best]}")
			running=$((running + 1))
		done
		sleep 1
		for ((i = shown; i < ${#order[@]}; i++)); do
			if [ -z "${ended[$i]:-}" ] && ! kill -0 "${pids[$i]}" 2>/dev/null; then
				wait "${pids[$i]}" || true
				ended[$i]=1
			fi
		done
		while [ "$shown" -lt ${#order[@]} ] && [ -n "${ended[$shown]:-}" ]; do
			lane_end "${order[$shown]}" || rc=1
			shown=$((shown + 1))
		done
	done
	wait
	return $rc
}

# ---------------------------------------------------------------- bench
# "make bench" (bench/, docs/benchmarks.md): sigwake-bench as the only
# program of a bench-mode VM of $KERNEL (a check VM with every trace event
# off, init.sh).  Its table is shown live and kept
# in build/bench/<kernel>/bench.txt; the JSON it frames on the result port
# goes to build/bench/<kernel>/bench.json.  BENCH_ARGS are passed to
# sigwake-bench; BENCH_TIMEOUT (seconds, default 2400) bounds it.
# BENCH_APPEND (default tsc=reliable) is added to the kernel command line:
# under TCG every vCPU reads one host clock, yet the kernel's sync check
# rejects the TSC and falls back to HPET, where each clock_gettime is an
# MMIO exit under QEMU's big lock.

# The benchmark's output without the TAP framing and the JSON.
show_bench() {
	local line json=
	while IFS= read -r line; do
		line=${line%$'\r'}
		case $line in
		"# sigwake-bench-json: BEGIN") json=1 ;;
		"# sigwake-bench-json: END") json= ;;
		*)
			[ -z "$json" ] || continue
			case $line in
			"# sigwake-run: "*|"TAP version"*|1..*) ;;
			"# "*) printf '%s\n' "${line#\# }" ;;
			"#") echo ;;
			*) printf '%s\n' "$line" ;;
			esac ;;
		esac
	done
}

run_bench() {
	local out=$BUILD/user/bench dest=$TOP/build/bench/$KERNEL rc=0
	msg "building bench/ (static) into $out"
	# shellcheck disable=SC2046
	make $(jobs_flag) -C "$TOP/bench" OUT="$out" all || die "building bench/ failed"
	printf 'sigwake-bench-tap --emit-json --full %s\n' "${BENCH_ARGS:-}" >"$out/TESTS"
	TESTS_OUT=$out DEMOS_OUT='' TESTS_FILTER=''
	TEST_TIMEOUT=${BENCH_TIMEOUT:-2400}
	[ -n "$VM_TIMEOUT" ] || VM_TIMEOUT=$((TEST_TIMEOUT + 600))
	KERNEL_APPEND="$KERNEL_APPEND ${BENCH_APPEND:-tsc=reliable}"
	# The host's state, for the benchmark's JSON.
	KERNEL_APPEND="$KERNEL_APPEND sigwake.hostload=$(cut -d' ' -f1 /proc/loadavg) sigwake.hostcpus=$(nproc)"
	mkdir -p "$dest"
	echo "host: $(nproc) CPUs, load before: $(cut -d' ' -f1-3 /proc/loadavg)" >"$dest/host.txt"
	run_kernel "$KERNEL" bench || rc=$?
	echo "host: load after: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$dest/host.txt"
	msg "$(tr '\n' ';' <"$dest/host.txt")"
	tr -d '\r' <"$BUILD/$KERNEL/result.tap" >"$dest/result.tap"
	show_bench <"$dest/result.tap" >"$dest/bench.txt"
	sed -n '/^# sigwake-bench-json: BEGIN$/,/^# sigwake-bench-json: END$/p' \
		"$dest/result.tap" | sed '1d;$d' >"$dest/bench.json"
	if [ -s "$dest/bench.json" ]; then
		msg "table: $dest/bench.txt"
		msg "JSON:  $dest/bench.json"
	else
		rm -f "$dest/bench.json"
		msg "no JSON came out of the VM (see $dest/result.tap)"
		rc=1
	fi
	return $rc
}

# ---------------------------------------------------------------- run
# "make run PROG=<file or dir> [ARGS=...] [KERNEL=6.1] [OUT=dir]": the
# user's static programs as the only "demos" of a VM of $KERNEL (each
# passes if it exits 0 in time and prints no "not ok" line).  Nothing of
# the tree is built but the module, and that into RUN_OUT.
stage_run() {
	local prog=${PROG:-} dir=$BUILD/user/run f name n=0
	[ -n "$prog" ] || die "run: give PROG=<static program or directory> (make run PROG=path [ARGS=...] [KERNEL=6.1] [OUT=dir])"
	[ -e "$prog" ] || die "run: PROG=$prog: no such file or directory"
	rm -rf "$dir"
	mkdir -p "$dir"
	if [ -d "$prog" ]; then
		[ -z "${ARGS:-}" ] || die "run: ARGS= is for a single program, not a directory"
		for f in "$prog"/*; do
			[ -f "$f" ] && [ -x "$f" ] || continue
			stage_one "$f" "$dir"
			n=$((n + 1))
		done
		[ "$n" -gt 0 ] || die "run: PROG=$prog holds no executable file"
	else
		[ -x "$prog" ] || die "run: PROG=$prog is not executable"
		stage_one "$prog" "$dir" "${ARGS:-}"
	fi
	DEMOS_OUT=$dir TESTS_OUT=''
}

# stage_one <program> <dir> [args]: copy it, add its line to <dir>/DEMOS.
stage_one() {
	local f=$1 dir=$2 name
	name=$(basename "$f")
	case $name in *[!A-Za-z0-9._+-]*) die "run: $f: use a file name of letters, digits and ._+-" ;; esac
	if [ "$(head -c 4 "$f" | od -An -c | tr -d ' ')" = '177ELF' ] &&
	   readelf -lW "$f" 2>/dev/null | grep -q 'Requesting program interpreter'; then
		die "run: $f is dynamically linked, and the VM has no libc: link it with -static (pkg-config --static --libs libsigwake)"
	fi
	cp "$f" "$dir/$name"
	echo "$name${3:+ $3}" >>"$dir/DEMOS"
}

# ---------------------------------------------------------------- main
deps
if [ -n "$SIGWAKE_KO" ]; then
	[ -f "$SIGWAKE_KO" ] || die "SIGWAKE_KO=$SIGWAKE_KO: no such file"
	[ "$(wc -w <<<"$KERNELS")" -eq 1 ] || [ "$mode" != check ] ||
		die "SIGWAKE_KO is built for one kernel: give KERNELS=<that one>"
fi
mkdir -p "$BUILD"

if [ "$mode" = fetch ]; then
	for k in $KERNELS; do resolve "$k" && msg "$k: $RELEASE $BZIMAGE"; done
	exit 0
fi

if [ "$mode" = bench ]; then
	run_bench
	exit $?
fi

if [ "$mode" = run ]; then
	stage_run
	msg "run: $(wc -l <"$DEMOS_OUT/DEMOS") program(s) on $KERNEL; output in $BUILD/$KERNEL"
	status=0
	run_kernel "$KERNEL" demo || status=1
	echo "  console: $BUILD/$KERNEL/console.log"
	echo "  output:  $BUILD/$KERNEL/result.tap"
	exit $status
fi

# User-space programs do not depend on the kernel: build them once (the
# selftests only where they run: check and shell).
TESTS_OUT=$TESTS_DIR
DEMOS_OUT=$DEMOS_DIR
if [ -z "$TESTS_OUT" ] && [ "$mode" != demo ]; then
	TESTS_OUT=$BUILD/user/tests
	rc=0; build_user selftests "$TESTS_OUT" || rc=$?
	case $rc in
	0) ;;
	3) [ "$mode" = check ] && die "$TOP/selftests/Makefile does not exist"; TESTS_OUT= ;;
	*) die "building the selftests failed" ;;
	esac
fi
if [ -z "$DEMOS_OUT" ]; then
	DEMOS_OUT=$BUILD/user/demos
	rc=0; build_user examples "$DEMOS_OUT" || rc=$?
	case $rc in
	0) ;;
	3) [ "$mode" = demo ] && die "$TOP/examples/Makefile does not exist"; DEMOS_OUT= ;;
	*) die "building the examples failed" ;;
	esac
fi
if [ "$mode" = check ] && [ ! -f "$TESTS_OUT/TESTS" ]; then
	die "$TESTS_OUT/TESTS was not produced by the selftests build"
fi
if [ "$mode" = demo ] && [ ! -f "$DEMOS_OUT/DEMOS" ]; then
	die "$DEMOS_OUT/DEMOS was not produced by the examples build"
fi

status=0
case $mode in
check)
	[ -n "$KERNELS" ] || die "KERNELS is empty"
	read -r -a klist <<<"$KERNELS"
	prebuild "${klist[@]}"
	build_keyhold
	if [ "$LANES" -gt 1 ]; then
		run_lanes "${klist[@]}" || status=1
	else
		for i in "${!klist[@]}"; do
			NEXT_KERNEL=${klist[$((i + 1))]:-}
			run_kernel "${klist[$i]}" check || status=1
		done
		wait
		run_host_tests || status=1
	fi
	ran=$(printf '%s, ' "${RAN[@]}")
	recap_failures
	echo "$P passed, $F failed, $S skipped${RAN[*]:+ on ${ran%, }}"
	;;
demo)
	run_kernel "$KERNEL" demo || status=1
	;;
shell)
	run_kernel "$KERNEL" shell || status=1
	;;
esac
exit $status
