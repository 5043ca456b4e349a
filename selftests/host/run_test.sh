#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# run_test.sh: "make run PROG=... KERNEL=... OUT=..." runs a user's static
# programs in the VM and writes nothing into the tree.
#
# Without a VM: no PROG, a missing PROG and a dynamically linked PROG are
# refused with a message.  With one VM (RUN_TEST_KERNEL, default 6.1): a
# directory of two programs built outside the tree against libsigwake,
# one that passes (it opens a domain, registers, posts itself a guest
# signal and takes it with sigwake_wait_take()) and one that exits 3, is
# run; the output of both is shown, the summary says 1 passed and 1 failed,
# make exits non-zero, the logs are in OUT and no file of the tree changed.
set -u
. "$(dirname "$0")/lib.sh"

command -v qemu-system-x86_64 >/dev/null ||
	tap_skip_all "qemu-system-x86_64 is not installed"
kernel=${RUN_TEST_KERNEL:-6.1}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sigwake-run.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

refused() {
	local want=$1 out
	shift
	out=$(make --no-print-directory -C "$TOP" run SKIP_DEPS=1 OUT="$tmp/none" "$@" 2>&1) &&
		{ echo "make run $* succeeded"; return 1; }
	echo "$out" | tail -n 3
	grep -q -- "$want" <<<"$out"
}
tap_check "make run without PROG says how to use it" refused "give PROG="
tap_check "make run PROG=<missing> is refused" refused "no such file" PROG="$tmp/missing"
cc -o "$tmp/dynamic" -x c - <<<'int main(void) { return 0; }'
tap_check "make run PROG=<dynamic program> asks for -static" refused "link it with -static" \
	PROG="$tmp/dynamic"

mkdir -p "$tmp/progs"
make --no-print-directory -C "$TOP/helper" OUT="$tmp/helper" static >/dev/null 2>&1 ||
	tap_bail "cannot build libsigwake.a"
cat >"$tmp/hello.c" <<'PROG'
#include <stdio.h>
#include <libsigwake.h>

int main(void)
{
	struct sigwake_self *me;
	struct sigwake_taken t;
	int fd = sigwake_open(), r;

	if (fd < 0) {
		printf("not ok: %s\n", sigwake_open_error(fd));
		return 1;
	}
	if (sigwake_register(fd, 0, NULL, &me) ||
	    sigwake_post(fd, me->handle, 7, NULL) != SIGWAKE_POST_RECORDED)
		return 1;
	r = sigwake_wait_take(me, SIGWAKE_NO_WQ, 0, 1000000000, 0, NULL, 0, &t);
	printf("hello from the VM: %s, signals %#llx\n", sigwake_reason_name(r),
	       (unsigned long long)t.signals);
	return r == SIGWAKE_REASON_SIGNAL && t.signals == sigwake_sigbit(7) ? 0 : 1;
}
PROG
tap_check "a program builds against libsigwake outside the tree (-static)" \
	cc -static -Wall -Werror -I"$TOP/helper" -I"$TOP/uapi" -o "$tmp/progs/hello" \
	"$tmp/hello.c" "$tmp/helper/libsigwake.a" -pthread
printf '#!/bin/sh\necho "failing on purpose"\nexit 3\n' >"$tmp/progs/fails"
chmod +x "$tmp/progs/fails"

stamp=$tmp/stamp
touch "$stamp"
untracked() { git -C "$TOP" ls-files --others --exclude-standard 2>/dev/null; }
untracked >"$tmp/untracked.before"
sleep 1
rc=0
make --no-print-directory -C "$TOP" run PROG="$tmp/progs" KERNEL="$kernel" \
	OUT="$tmp/out" >"$tmp/run.log" 2>&1 || rc=$?
cat "$tmp/run.log" >>"$TAP_LOG"
tap_check "make run exits non-zero when a program fails" test "$rc" -ne 0
tap_check "the passing program's output is shown" \
	grep -q "hello from the VM: signal, signals 0x40" "$tmp/run.log"
tap_check "the failing program's output and status are shown" \
	bash -c "grep -q 'failing on purpose' '$tmp/run.log' && grep -q 'fails: exited with status 3' '$tmp/run.log'"
tap_check "the summary counts the two programs (not insmod or rmmod)" \
	grep -qE ': 1 programs passed, 1 failed$' "$tmp/run.log"
tap_check "the logs are in OUT/$kernel" \
	bash -c "test -s '$tmp/out/$kernel/result.tap' && test -s '$tmp/out/$kernel/console.log'"
# Where a runner writes (build/, new files) - not the sources, which an
# editor may be changing meanwhile.  SIGWAKE_BUSY_DIRS: the directories of
# the VMs that "make check" runs beside the host tests (LANES), written by
# them meanwhile, not by "make run".
changed() {
	local f d skip=()
	for d in ${SIGWAKE_BUSY_DIRS:-}; do
		skip+=(! -path "$d/*")
	done
	f=$({ find "$TOP/build" -newer "$stamp" ! -type d ! -path "$TOP/build/host/*" "${skip[@]}" 2>/dev/null
	      untracked | grep -vxF -f "$tmp/untracked.before"; } | sort -u)
	[ -z "$f" ] || { echo "written into the tree:"; echo "$f" | head; return 1; }
}
tap_check "nothing in the tree was written" changed
if [ "$rc" -ne 0 ] && ! grep -q 'fails: exited with status 3' "$tmp/run.log"; then
	tail -n 30 "$tmp/run.log" | sed 's/^/# /'
fi
tap_done
