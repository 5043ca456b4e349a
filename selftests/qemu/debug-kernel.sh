#!/bin/bash
# Build one of sigwake's small debug kernels once and cache it outside the repo.
#
# The kernels are built from a Debian linux-source-X.Y package, configured
# as `make tinyconfig` (x86_64) + selftests/qemu/debug-common.config + the
# flavour's fragment:
#   debug  Linux 7.2 (sid's linux-source-7.2, fetched by fetch-kernel.sh
#          --source 7.2 into the cache) + debug.config: KASAN, lockdep
#          with raw lock nesting, UBSAN, kmemleak, fault injection, ...
#   kcsan  Linux 6.1 (Debian 12's linux-source-6.1, installed) +
#          kcsan.config: KCSAN, the data race detector (excludes KASAN)
# They boot under QEMU TCG with a busybox-static initramfs, and the built tree
# doubles as KERNELDIR for the out-of-tree module:
#   make -C "$KERNELDIR" M=/path/to/module modules
#
# Module signing (README.md, "Module signing"): before configuring, a test
# key pair is generated in the tree, certs/sigwake-test.{key,crt}; the
# kernel trusts the certificate (CONFIG_SYSTEM_TRUSTED_KEYS) and the key
# stays in the tree, so that a module signed with
#   $KERNELDIR/scripts/sign-file sha256 $SIGN_KEY $SIGN_CERT sigwake.ko
# loads on this kernel booted with module.sig_enforce=1. The in-tree modules
# (kvm.ko, ...) are signed with the kernel's own build key after the build.
#
# The two flavours share nothing worth sharing: every object is compiled
# with the flavour's sanitizer, and extracting the source costs ~15-25 s of
# a build of 15-35 minutes, so each has its own self-contained tree.
#
# Cache: ${SIGWAKE_CACHE:-$HOME/.cache/sigwake}/<flavour>-<key>/, where <key>
# is a short hash of the flavour, both fragments' options (not their
# comments), the linux-source-X.Y package version, the compiler version and
# the build settings below. A tree is built in a temporary directory and
# renamed into place only once it is complete, so a cache directory that
# exists is always a finished build. A per-key flock
# makes concurrent invocations wait for a single build.
#
# Usage:
#   debug-kernel.sh [debug|kcsan]  build if needed (default flavour: debug),
#                                  then print on stdout exactly
#                                    KERNELDIR=<abs path of the built tree>
#                                    BZIMAGE=<abs path of its bzImage>
#                                    SIGN_KEY=<abs path of the test key>
#                                    SIGN_CERT=<abs path of its certificate>
#   debug-kernel.sh [debug|kcsan] --print-key  print only the cache key
#
# Everything else (progress, errors) goes to stderr; the full build log is
# kept at <cache>/<flavour>-<key>.log and its path is printed on failure.

set -eu
set -o pipefail

# --- build-affecting settings (all of them feed the cache key) -------------
KARCH=x86_64
BASE_CONFIG=tinyconfig
BUILD_TARGETS="bzImage modules"
# Bump when the procedure below changes in a way that changes the result.
RECIPE=2

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
COMMON_FRAGMENT=$SCRIPT_DIR/debug-common.config
# The module signing test key pair, generated in the tree (relative paths).
TEST_KEY=certs/sigwake-test.key
TEST_CERT=certs/sigwake-test.crt
CACHE_ROOT=${SIGWAKE_CACHE:-$HOME/.cache/sigwake}

LOG=
say() {
	printf 'debug-kernel: %s\n' "$*" >&2
	if [ -n "$LOG" ] && [ -f "$LOG" ]; then
		printf '### %s %s\n' "$(date -u +%H:%M:%S)" "$*" >>"$LOG"
	fi
}
die() { say "error: $*"; exit 1; }

usage() {
	sed -n '/^# Usage:/,/^#$/p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
}

print_key=0
FLAVOUR=
for arg; do
	case $arg in
	--print-key) print_key=1 ;;
	-h | --help) usage; exit 0 ;;
	debug | kcsan)
		[ -z "$FLAVOUR" ] || { usage; die "more than one flavour"; }
		FLAVOUR=$arg
		;;
	*) usage; die "unknown argument: $arg" ;;
	esac
done
FLAVOUR=${FLAVOUR:-debug}
# The source: debug is the newest kernel (sid's, the 7.2 token's), whose
# printk tells lockdep that legacy console printing from any context is
# fine off PREEMPT_RT, so PROVE_RAW_LOCK_NESTING reports sigwake's nesting
# and not the 8250 console's; kcsan is Debian 12's own 6.1.
case $FLAVOUR in
debug)	SRC_FROM=7.2 ;;
kcsan)	SRC_FROM=installed SRC_PKG=linux-source-6.1
	SRC_TARBALL=/usr/src/linux-source-6.1.tar.xz ;;
esac
FRAGMENT=$SCRIPT_DIR/$FLAVOUR.config
FRAGMENTS=("$COMMON_FRAGMENT" "$FRAGMENT")
for f in "${FRAGMENTS[@]}"; do
	[ -r "$f" ] || die "config fragment not found: $f"
done

# The build must not pick up settings from the caller's environment (e.g.
# when run from another make, or from a shell set up for a cross build).
unset ARCH SUBARCH CROSS_COMPILE LLVM CC KBUILD_OUTPUT O KCONFIG_CONFIG \
	KBUILD_EXTMOD M MAKEFLAGS MFLAGS MAKELEVEL GNUMAKEFLAGS

is_root() { [ "$(id -u)" -eq 0 ]; }

src_version() {
	if [ "$SRC_FROM" != installed ]; then
		echo "$SRC_VERSION"
		return
	fi
	dpkg-query -W -f='${db:Status-Status} ${Version}\n' "$SRC_PKG" 2>/dev/null |
		awk '$1 == "installed" { print $2 }'
}

apt_install() {
	say "installing: $*"
	if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >&2; then
		say "apt-get install failed; retrying after apt-get update"
		apt-get update >&2
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >&2
	fi
}

ensure_source() {
	local out
	if [ "$SRC_FROM" != installed ]; then
		# Another suite's source, through fetch-kernel.sh's private apt
		# state (cached in <cache>/src, nothing installed).
		out=$(SIGWAKE_CACHE=$CACHE_ROOT bash "$SCRIPT_DIR/fetch-kernel.sh" --source "$SRC_FROM") ||
			die "cannot fetch the source of the $SRC_FROM kernel"
		SRC_TARBALL=$(printf '%s\n' "$out" | sed -n 's/^SRC_TARBALL=//p')
		SRC_PKG=$(printf '%s\n' "$out" | sed -n 's/^SRC_PKG=//p')
		SRC_VERSION=$(printf '%s\n' "$out" | sed -n 's/^SRC_VERSION=//p')
		[ -r "$SRC_TARBALL" ] && [ -n "$SRC_VERSION" ] ||
			die "fetch-kernel.sh --source $SRC_FROM gave no source tarball"
		return 0
	fi
	if [ -n "$(src_version)" ] && [ -r "$SRC_TARBALL" ]; then
		return 0
	fi
	if [ "$print_key" = 1 ]; then
		die "$SRC_PKG is not installed; the key depends on its version (run without --print-key as root to install it)"
	fi
	if ! is_root; then
		die "$SRC_PKG is not installed ($SRC_TARBALL missing) and we are not root: run 'apt-get install $SRC_PKG' as root"
	fi
	apt_install "$SRC_PKG"
	if [ -z "$(src_version)" ] || [ ! -r "$SRC_TARBALL" ]; then
		die "$SRC_PKG installed but $SRC_TARBALL is still missing"
	fi
}

# Host tools the kernel build needs; installed on demand when we are root.
ensure_build_tools() {
	local missing=() tool
	for tool in make:make gcc:gcc flex:flex bison:bison bc:bc perl:perl \
		xz:xz-utils tar:tar flock:util-linux; do
		command -v "${tool%%:*}" >/dev/null 2>&1 || missing+=("${tool#*:}")
	done
	# objtool (x86_64) links against libelf; module signing needs openssl
	# for the keys and libssl-dev for scripts/sign-file and extract-cert.
	[ -e /usr/include/gelf.h ] || missing+=(libelf-dev)
	command -v openssl >/dev/null 2>&1 || missing+=(openssl)
	[ -e /usr/include/openssl/evp.h ] || missing+=(libssl-dev)
	[ ${#missing[@]} -eq 0 ] && return 0
	if ! is_root; then
		die "missing build tools; as root run: apt-get install ${missing[*]}"
	fi
	apt_install "${missing[@]}"
}

compute_key() {
	local ver cc
	ver=$(src_version)
	cc=$(gcc --version 2>/dev/null | head -n 1) || cc=unknown
	{
		printf 'flavour=%s\nrecipe=%s\narch=%s\nbase=%s\ntargets=%s\n' \
			"$FLAVOUR" "$RECIPE" "$KARCH" "$BASE_CONFIG" "$BUILD_TARGETS"
		printf 'source=%s %s\ncc=%s\n--- fragments ---\n' "$SRC_PKG" "$ver" "$cc"
		# The options only: a comment edited is not a new kernel.
		cat "${FRAGMENTS[@]}" |
			grep -E '^(CONFIG_[A-Za-z0-9_]+=|# CONFIG_[A-Za-z0-9_]+ is not set$)'

	} | sha256sum | cut -c1-12
}

emit() {
	printf 'KERNELDIR=%s\n' "$1"
	printf 'BZIMAGE=%s\n' "$1/arch/x86/boot/bzImage"
	printf 'SIGN_KEY=%s\n' "$1/$TEST_KEY"
	printf 'SIGN_CERT=%s\n' "$1/$TEST_CERT"
}

cache_hit() {
	[ -f "$1/.sigwake-debug-kernel" ] && [ -f "$1/arch/x86/boot/bzImage" ] &&
		[ -f "$1/Module.symvers" ] && [ -f "$1/$TEST_KEY" ] &&
		[ -x "$1/scripts/sign-file" ]
}

# Check that every option the fragments ask for made it into .config.
# "CONFIG_X=v" lines must appear verbatim; "# CONFIG_X is not set" lines
# must not be enabled.  debug-common.config serves two sources (7.2 and
# 6.1): a symbol that no Kconfig file of this source defines (BASE_FULL
# is 6.1's, 7.x has BASE_SMALL) is noted in the log, not failed.
verify_config() {
	local cfg=$1 line sym bad=() known
	known=$(cd "$TMP" && find . -name 'Kconfig*' -print0 |
		xargs -0 sed -n 's/^[[:space:]]*\(menu\)\{0,1\}config[[:space:]]\{1,\}\([A-Za-z0-9_]*\).*/CONFIG_\2/p' |
		sort -u)
	while IFS= read -r line; do
		sym=${line#\# }
		sym=${sym%%[= ]*}
		case $sym in CONFIG_*) ;; *) continue ;; esac
		if ! grep -qxF -- "$sym" <<<"$known"; then
			printf '### note: %s is not an option of %s: skipped\n' "$sym" "$SRC_PKG" >>"$LOG"
			continue
		fi
		case $line in
		CONFIG_*=*)
			grep -qxF -- "$line" "$cfg" ||
				bad+=("$line (got: $(grep -E "^(# )?${line%%=*}[= ]" "$cfg" || echo 'absent, dependencies not met'))")
			;;
		'# CONFIG_'*' is not set')
			sym=${line#\# }
			sym=${sym%% *}
			! grep -q "^$sym=" "$cfg" || bad+=("$line (got: $(grep "^$sym=" "$cfg"))")
			;;
		esac
	done < <(cat "${FRAGMENTS[@]}")
	if [ ${#bad[@]} -ne 0 ]; then
		say "error: ${#bad[@]} option(s) from the fragments did not survive olddefconfig:"
		printf '  %s\n' "${bad[@]}" | tee -a "$LOG" >&2
		return 1
	fi
}

ensure_source
# The compiler version is part of the key, so install missing tools first.
[ "$print_key" = 1 ] || ensure_build_tools
KEY=$(compute_key)
if [ "$print_key" = 1 ]; then
	printf '%s\n' "$KEY"
	exit 0
fi

mkdir -p "$CACHE_ROOT"
CACHE_ROOT=$(cd "$CACHE_ROOT" && pwd -P)
NAME=$FLAVOUR-$KEY
DEST=$CACHE_ROOT/$NAME
LOG=$CACHE_ROOT/$NAME.log

if cache_hit "$DEST"; then
	emit "$DEST"
	exit 0
fi

exec 9>"$CACHE_ROOT/$NAME.lock"
if ! flock -n 9; then
	say "another build of $NAME is running; waiting for it"
	flock 9
fi
if cache_hit "$DEST"; then
	emit "$DEST"
	exit 0
fi
if [ -e "$DEST" ]; then
	say "removing incomplete $DEST"
	rm -rf "$DEST"
fi

# Leftovers of interrupted (killed) builds: ours can go since we hold our
# lock; another key's only if nobody holds that key's lock.
for stale in "$CACHE_ROOT"/.*-*.tmp.*; do
	[ -e "$stale" ] || continue
	k=${stale#"$CACHE_ROOT"/.}
	k=${k%%.tmp.*}
	if [ "$k" = "$NAME" ]; then
		rm -rf "$stale"
	else
		(flock -n 8 && rm -rf "$stale") 8>"$CACHE_ROOT/$k.lock" || true
	fi
done
TMP=$(mktemp -d "$CACHE_ROOT/.$NAME.tmp.XXXXXX")
chmod 755 "$TMP"
KPID=
on_exit() {
	local rc=$?
	if [ -n "$KPID" ]; then
		# Interrupted mid-make: stop the whole make process group.
		kill -TERM -- -"$KPID" 2>/dev/null || true
		wait "$KPID" 2>/dev/null || true
	fi
	if [ $rc -ne 0 ]; then
		rm -rf "$TMP"
		say "build FAILED (exit $rc); full log: $LOG"
		[ -f "$LOG" ] && tail -n 30 "$LOG" | sed 's/^/  | /' >&2
	fi
	exit $rc
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

JOBS=$(($(nproc) + 1))
# make runs in its own session (process group) in the background so that a
# signal to this script is handled at once and takes all of make down.
kmake() {
	setsid make -C "$TMP" ARCH="$KARCH" "$@" >>"$LOG" 2>&1 </dev/null &
	KPID=$!
	wait "$KPID"
	KPID=
}

: >"$LOG"
say "building $FLAVOUR kernel $KEY ($SRC_PKG $(src_version), -j$JOBS); log: $LOG"
start=$SECONDS

say "extracting $SRC_TARBALL"
tar -xf "$SRC_TARBALL" -C "$TMP" --strip-components=1 >>"$LOG" 2>&1
[ -f "$TMP/Makefile" ] || die "unexpected layout of $SRC_TARBALL"

say "generating the module signing test key ($TEST_KEY, $TEST_CERT)"
cat >"$TMP/certs/sigwake-test.genkey" <<'EOF'
[ req ]
default_bits = 2048
distinguished_name = req_distinguished_name
prompt = no
string_mask = utf8only
x509_extensions = myexts

[ req_distinguished_name ]
O = sigwake selftests
CN = sigwake selftest module key (test only, key not secret)

[ myexts ]
basicConstraints = critical,CA:FALSE
keyUsage = digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
openssl req -new -nodes -utf8 -sha256 -days 36500 -batch -x509 \
	-config "$TMP/certs/sigwake-test.genkey" -outform PEM \
	-out "$TMP/$TEST_CERT" -keyout "$TMP/$TEST_KEY" >>"$LOG" 2>&1 ||
	die "openssl could not generate the test key"

say "configuring: $BASE_CONFIG + $(basename "$COMMON_FRAGMENT") + $(basename "$FRAGMENT")"
kmake "$BASE_CONFIG"
(cd "$TMP" && ARCH=$KARCH ./scripts/kconfig/merge_config.sh -m .config "${FRAGMENTS[@]}") >>"$LOG" 2>&1
kmake olddefconfig
verify_config "$TMP/.config"

say "compiling $BUILD_TARGETS (takes several minutes)"
# shellcheck disable=SC2086 # BUILD_TARGETS is a word list
kmake -j"$JOBS" $BUILD_TARGETS
[ -f "$TMP/arch/x86/boot/bzImage" ] || die "no bzImage after the build"
[ -f "$TMP/Module.symvers" ] || die "no Module.symvers after the build"
[ -x "$TMP/scripts/sign-file" ] || die "no scripts/sign-file after the build"

# `make modules` leaves modules unsigned (modules_install signs them): sign
# the in-tree ones (kvm.ko, ...) with the kernel's own build key, so that
# they load with module.sig_enforce=1 too.
say "signing the in-tree modules with certs/signing_key.pem"
while IFS= read -r -d '' ko; do
	"$TMP/scripts/sign-file" sha256 "$TMP/certs/signing_key.pem" \
		"$TMP/certs/signing_key.x509" "$ko" >>"$LOG" 2>&1 ||
		die "cannot sign $ko"
done < <(find "$TMP" -name '*.ko' -print0)

# The tree must work as KERNELDIR for out-of-tree modules: prove it.
say "checking an out-of-tree module builds against the tree"
TESTMOD=$TMP/.sigwake-modcheck
mkdir "$TESTMOD"
cat >"$TESTMOD/sigwake_kdir_check.c" <<'EOF'
#include <linux/module.h>
static int __init kdir_check_init(void) { return 0; }
static void __exit kdir_check_exit(void) { }
module_init(kdir_check_init);
module_exit(kdir_check_exit);
MODULE_LICENSE("GPL");
EOF
echo 'obj-m := sigwake_kdir_check.o' >"$TESTMOD/Kbuild"
kmake M="$TESTMOD" modules
[ -f "$TESTMOD/sigwake_kdir_check.ko" ] || die "out-of-tree module check produced no .ko"
rm -rf "$TESTMOD"

{
	printf 'flavour=%s\nkey=%s\nbuilt=%s\nseconds=%s\n' "$FLAVOUR" "$KEY" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$((SECONDS - start))"
	printf 'recipe=%s\narch=%s\nbase=%s\ntargets=%s\n' "$RECIPE" "$KARCH" "$BASE_CONFIG" "$BUILD_TARGETS"
	printf 'source=%s %s\ncc=%s\n' "$SRC_PKG" "$(src_version)" "$(gcc --version | head -n 1)"
} >"$TMP/.sigwake-debug-kernel"
cat "${FRAGMENTS[@]}" >"$TMP/.sigwake-debug.config"

mv -T "$TMP" "$DEST"
say "built $DEST in $((SECONDS - start))s"
emit "$DEST"
