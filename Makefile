# SPDX-License-Identifier: GPL-2.0
#
# sigwake: kernel module, libsigwake, sigwakectl, selftests.
#
#   make                     build sigwake.ko for the running kernel
#   make KERNELRELEASE=...   ... or for another installed kernel's headers
#   make KERNELDIR=...       ... or against any configured kernel tree
#   make check               the test suite in QEMU on every kernel of the matrix
#                            (KERNELS="5.10 6.1 6.12 7.2 6.1-rt 7.2-rt debug kcsan")
#   make demo                the example runtime scenarios in QEMU
#   make bench [KERNEL=6.1]  sigwake-bench in QEMU: table and JSON
#   make stress [KERNEL=debug] [STRESS_SECONDS=120]  the mixed stress in QEMU
#   make install | uninstall | dkms-install | dkms-uninstall | deb
#   make install-user        only libsigwake, headers, sigwakectl, man pages
#   make run PROG=path [KERNEL=6.1] [OUT=dir]  a static program (or a
#                            directory of them) in the VM
#   make style | sparse | w1 | uapi-test | helper
#   make model               spin checks of the per-thread protocol (model/)

VERSION := 0.1.0
# The summary line of `make check` must be the last line printed.
MAKEFLAGS += --no-print-directory
KERNELRELEASE ?= $(shell uname -r)
KERNELDIR ?= /lib/modules/$(KERNELRELEASE)/build
PREFIX ?= /usr/local
DESTDIR ?=
TOP := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
BUILD ?= $(TOP)/build
KSRC_TARBALL ?= /usr/src/linux-source-6.1.tar.xz

MODULE_SOURCES := Kbuild Makefile dkms.conf module uapi

all: module

# Every target that builds against kernel headers checks for them first,
# and says how to name another kernel (this host may run a kernel whose
# headers are not installed) or to install only the user-space parts.
KERNELDIR_OK = @test -f $(KERNELDIR)/Makefile || { \
	echo "sigwake: no kernel headers for $(KERNELRELEASE): $(KERNELDIR) does not exist." >&2; \
	echo "  Install them (Debian: apt-get install linux-headers-$(KERNELRELEASE))," >&2; \
	echo "  or build for another kernel: make KERNELRELEASE=<release> (headers installed for:" \
		"$$(ls -d /lib/modules/*/build 2>/dev/null | cut -d/ -f4 | tr '\n' ' ')), or make KERNELDIR=<configured kernel tree>." >&2; \
	echo "  Only libsigwake, the headers, sigwakectl and the man pages: make install-user." >&2; \
	exit 1; }

module:
	$(KERNELDIR_OK)
	$(MAKE) -C $(KERNELDIR) M=$(TOP) modules

debug:
	$(KERNELDIR_OK)
	$(MAKE) -C $(KERNELDIR) M=$(TOP) CONFIG_SIGWAKE_DEBUG=y modules

clean:
	$(MAKE) -C $(KERNELDIR) M=$(TOP) clean 2>/dev/null || true
	rm -rf $(BUILD)

# Installation directories (GNU names; DESTDIR stages, PREFIX relocates).
# The udev rule goes where udev reads it: the distribution's directory for
# PREFIX=/usr (packages), /etc for a local install.
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR ?= $(PREFIX)/share/man
DOCDIR ?= $(PREFIX)/share/doc/sigwake
UDEVRULESDIR ?= $(if $(filter /usr,$(PREFIX)),/lib/udev/rules.d,/etc/udev/rules.d)
INSTALL ?= install

# Every function of libsigwake gets a man page name (a .so link).
MAN3_LINKS := sigwake_open sigwake_register sigwake_unregister sigwake_forget \
	sigwake_unregister_handle sigwake_self sigwake_self_in sigwake_wait \
	sigwake_poll sigwake_wake sigwake_post sigwake_kick sigwake_wq_create \
	sigwake_kick_wait sigwake_wait_fds sigwake_forward \
	sigwake_forward_remove sigwake_preempt \
	sigwake_wq_destroy sigwake_reason_name sigwake_outcome_name \
	sigwake_try_enter sigwake_enter_guest sigwake_leave_guest \
	sigwake_enter_syscall sigwake_leave_syscall sigwake_take_pending \
	sigwake_set_blocked sigwake_take_flags sigwake_kicked sigwake_state \
	sigwake_wake_seq sigwake_sigbit sigwake_revoke sigwake_open_error
HELPER_VARS = PREFIX=$(PREFIX) DESTDIR=$(DESTDIR) LIBDIR=$(LIBDIR) \
	INCLUDEDIR=$(INCLUDEDIR) BINDIR=$(BINDIR) MANDIR=$(MANDIR)

install: install-module install-user

# The module for KERNELRELEASE into $(DESTDIR)/lib/modules/<release>/updates;
# depmod only for a live install (a staged tree gets it from its package).
install-module: module
	$(MAKE) -C $(KERNELDIR) M=$(TOP) INSTALL_MOD_PATH=$(DESTDIR) \
		INSTALL_MOD_DIR=updates DEPMOD=true modules_install
ifeq ($(DESTDIR),)
	depmod -a $(KERNELRELEASE)
endif

# helper/: libsigwake (static, shared, pkg-config), <linux/sigwake.h> and
# sigwakectl with its man page, when libnl is there to build it; then the
# man pages, the udev rule and the modules-load.d example.  Needs no kernel
# headers: the way to install the user-space parts alone.
install-user:
	$(MAKE) -C $(TOP)/helper $(HELPER_VARS) install
	$(INSTALL) -d $(DESTDIR)$(MANDIR)/man3 $(DESTDIR)$(MANDIR)/man4 \
		$(DESTDIR)$(UDEVRULESDIR) $(DESTDIR)$(DOCDIR)/examples
	$(INSTALL) -m 644 $(TOP)/man/sigwake.4 $(DESTDIR)$(MANDIR)/man4/sigwake.4
	$(INSTALL) -m 644 $(TOP)/man/libsigwake.3 $(DESTDIR)$(MANDIR)/man3/libsigwake.3
	$(INSTALL) -m 644 $(TOP)/man/sigwake_wait_take.3 \
		$(DESTDIR)$(MANDIR)/man3/sigwake_wait_take.3
	for f in $(MAN3_LINKS); do \
		echo '.so man3/libsigwake.3' > $(DESTDIR)$(MANDIR)/man3/$$f.3 || exit 1; \
	done
	$(INSTALL) -m 644 $(TOP)/udev/60-sigwake.rules \
		$(DESTDIR)$(UDEVRULESDIR)/60-sigwake.rules
	$(INSTALL) -m 644 $(TOP)/modules-load.d/sigwake.conf \
		$(DESTDIR)$(DOCDIR)/examples/modules-load.d-sigwake.conf
ifeq ($(DESTDIR),)
	-udevadm control --reload 2>/dev/null
endif

uninstall:
	rm -f $(DESTDIR)/lib/modules/$(KERNELRELEASE)/updates/sigwake.ko \
	      $(DESTDIR)/lib/modules/$(KERNELRELEASE)/updates/sigwake.ko.xz \
	      $(DESTDIR)/lib/modules/$(KERNELRELEASE)/updates/sigwake.ko.zst \
	      $(DESTDIR)/lib/modules/$(KERNELRELEASE)/updates/sigwake.ko.gz
ifeq ($(DESTDIR),)
	-depmod -a $(KERNELRELEASE)
endif
	$(MAKE) -C $(TOP)/helper $(HELPER_VARS) uninstall
	rm -f $(DESTDIR)$(MANDIR)/man4/sigwake.4 \
	      $(DESTDIR)$(MANDIR)/man3/libsigwake.3 \
	      $(DESTDIR)$(MANDIR)/man3/sigwake_wait_take.3 \
	      $(addprefix $(DESTDIR)$(MANDIR)/man3/,$(addsuffix .3,$(MAN3_LINKS))) \
	      $(DESTDIR)$(UDEVRULESDIR)/60-sigwake.rules \
	      $(DESTDIR)$(DOCDIR)/examples/modules-load.d-sigwake.conf
	-rmdir $(DESTDIR)$(DOCDIR)/examples $(DESTDIR)$(DOCDIR) 2>/dev/null

helper:
	$(MAKE) -C helper

# DKMS: exactly the module's build sources (no objects from an in-tree
# build) into $(DESTDIR)/usr/src/sigwake-$(VERSION), dkms.conf stamped with
# the version.  Then, as root: dkms add sigwake/$(VERSION); dkms install
# sigwake/$(VERSION) [-k <release>].  dkms-uninstall removes every build
# of that version from dkms first.
DKMS_SRC = $(DESTDIR)/usr/src/sigwake-$(VERSION)

dkms-install:
	rm -rf $(DKMS_SRC)
	$(INSTALL) -d $(DKMS_SRC)/module $(DKMS_SRC)/uapi/linux
	$(INSTALL) -m 644 $(TOP)/Kbuild $(TOP)/Makefile $(DKMS_SRC)/
	sed 's/@VERSION@/$(VERSION)/' $(TOP)/dkms.conf > $(DKMS_SRC)/dkms.conf
	$(INSTALL) -m 644 $(wildcard $(TOP)/module/*.[ch]) $(DKMS_SRC)/module/
	$(INSTALL) -m 644 $(wildcard $(TOP)/uapi/linux/*.h) $(DKMS_SRC)/uapi/linux/

dkms-uninstall:
ifeq ($(DESTDIR),)
	if command -v dkms >/dev/null && dkms status -m sigwake -v $(VERSION) | grep -q .; then \
		dkms remove -m sigwake -v $(VERSION) --all; \
	fi
endif
	rm -rf $(DKMS_SRC)

# Debian packages (debian/: sigwake-dkms, libsigwake0, libsigwake-dev,
# sigwake-tools) into $(BUILD)/deb/, then lintian.  dpkg-buildpackage writes
# into the parent of the source tree, so it builds a copy in $(BUILD)/deb/src
# and the repository stays clean.  As root, missing build dependencies are
# installed first.
DEB_DIR = $(BUILD)/deb
DEB_BUILD_DEPS = debhelper dh-dkms dkms libnl-3-dev libnl-genl-3-dev \
	pkg-config lintian fakeroot rsync
COPY_EXCLUDES = --exclude=/.git --exclude=/build --exclude='*.o' \
	--exclude='*.ko' --exclude='*.ko.*' --exclude='.*.cmd' --exclude='*.mod' \
	--exclude='*.mod.c' --exclude='*.a' --exclude='*.so*' --exclude='.*.d' \
	--exclude=modules.order --exclude=Module.symvers --exclude='.tmp*'

deb:
	@missing=$$(for p in $(DEB_BUILD_DEPS); do \
		dpkg-query -W -f='$${db:Status-Status}\n' $$p 2>/dev/null | \
			grep -qx installed || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" != 0 ]; then \
			echo "deb: missing build dependencies:" $$missing >&2; exit 1; \
		fi; \
		echo "deb: installing" $$missing; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y --no-install-recommends $$missing </dev/null || \
		{ apt-get update </dev/null && \
		  apt-get install -y --no-install-recommends $$missing </dev/null; }; \
	fi
	rm -rf $(DEB_DIR)
	mkdir -p $(DEB_DIR)/src
	rsync -a $(COPY_EXCLUDES) $(TOP)/ $(DEB_DIR)/src/
	cd $(DEB_DIR)/src && dpkg-buildpackage -us -uc -b
	lintian --fail-on error --no-tag-display-limit $(DEB_DIR)/*.changes

# Static checks.  checkpatch.pl comes from the linux-source tarball, extracted
# at build time; it is never part of this repository.  The section of the
# uapi header that ynl-gen writes (scripts/ynl-gen.sh) is checked by its
# generator, not by checkpatch: its lines are blanked out, keeping the line
# numbers of the rest.
$(BUILD)/ksrc/.stamp:
	@test -r $(KSRC_TARBALL) || { echo "$(KSRC_TARBALL) missing: apt-get install linux-source-6.1" >&2; exit 1; }
	mkdir -p $(BUILD)/ksrc
	tar -xJf $(KSRC_TARBALL) -C $(BUILD)/ksrc --strip-components=1 \
		--wildcards '*/scripts/checkpatch.pl' '*/scripts/spelling.txt' \
		'*/scripts/const_structs.checkpatch' \
		'*/tools/testing/selftests/kselftest_harness.h' \
		'*/tools/testing/selftests/kselftest.h'
	touch $@

# kernel-doc, from the same tarball (its own stamp: a tree extracted before
# kernel-doc was needed gets it too).
$(BUILD)/ksrc/scripts/kernel-doc:
	@test -r $(KSRC_TARBALL) || { echo "$(KSRC_TARBALL) missing: apt-get install linux-source-6.1" >&2; exit 1; }
	mkdir -p $(BUILD)/ksrc
	tar -xJf $(KSRC_TARBALL) -C $(BUILD)/ksrc --strip-components=1 \
		--wildcards '*/scripts/kernel-doc'
	touch $@

style: $(BUILD)/ksrc/.stamp $(BUILD)/ksrc/scripts/kernel-doc
	$(BUILD)/ksrc/scripts/checkpatch.pl --no-tree --strict --terse \
		--show-types -f $(filter-out module/compat.h,$(wildcard module/*.[ch]))
	awk '/^\/\* YNL-GEN section begin/ { gen = 1 } \
	     { print gen ? "/* generated */" : $$0 } \
	     /^\/\* YNL-GEN section end/ { gen = 0 }' \
		uapi/linux/sigwake.h > $(BUILD)/ksrc/sigwake.h
	$(BUILD)/ksrc/scripts/checkpatch.pl --no-tree --strict --terse \
		--show-types --ignore BIT_MACRO -f $(BUILD)/ksrc/sigwake.h
	$(BUILD)/ksrc/scripts/checkpatch.pl --no-tree --strict --terse \
		--show-types --ignore LINUX_VERSION_CODE,CONSTANT_COMPARISON -f module/compat.h
	@# kernel-doc -none prints a warning per problem: none is allowed.
	$(BUILD)/ksrc/scripts/kernel-doc -none uapi/linux/sigwake.h \
		$(wildcard module/*.[ch]) 2>&1 | tee $(BUILD)/kernel-doc.log
	@test ! -s $(BUILD)/kernel-doc.log

# sigwake(4) and docs/api-reference.md, generated from the kernel-doc of the
# uapi header (the host test "docs" checks that they are up to date).
docs: $(BUILD)/ksrc/scripts/kernel-doc
	KERNEL_DOC=$(BUILD)/ksrc/scripts/kernel-doc scripts/gen-docs.sh

sparse:
	$(KERNELDIR_OK)
	$(MAKE) -C $(KERNELDIR) M=$(TOP) C=2 CF="-D__CHECK_ENDIAN__" modules

w1:
	$(KERNELDIR_OK)
	$(MAKE) -C $(KERNELDIR) M=$(TOP) W=1 KCFLAGS=-Werror modules

uapi-test:
	mkdir -p $(BUILD)
	printf '#include <linux/sigwake.h>\nint main(void) { return sizeof(struct sigwake_thread_block) != 64; }\n' > $(BUILD)/uapi-test.c
	$(CC) -std=c90 -pedantic -Wall -Werror -I$(TOP)/uapi -c $(BUILD)/uapi-test.c -o $(BUILD)/uapi-test-c90.o
	$(CXX) -x c++ -Wall -Werror -I$(TOP)/uapi -c $(BUILD)/uapi-test.c -o $(BUILD)/uapi-test-cxx.o

# The Promela model of the per-thread protocol, checked exhaustively with
# spin (model/README.md); pan is built under $(BUILD)/model.  TAP output;
# fails if a check fails.  `make check` runs it as the host test "model".
model:
	bash $(TOP)/model/run.sh $(BUILD)/model

check:
	$(MAKE) -C selftests/qemu check

demo:
	$(MAKE) -C selftests/qemu demo

# A user's static program, or every executable of a directory, in the VM
# of KERNEL (6.1 default; 6.12, debug) with sigwake.ko built from this
# tree: make run PROG=path [ARGS="..."] [KERNEL=6.12] [OUT=dir].  The
# module build, initramfs and logs go to OUT (default
# ~/.cache/sigwake/run), never into the tree; the exit status is non-zero
# if a program failed.
run:
	$(MAKE) -C selftests/qemu run PROG="$(PROG)" ARGS="$(ARGS)" \
		KERNEL="$(or $(KERNEL),6.1)" RUN_OUT="$(OUT)"

# sigwake-bench in the VM of KERNEL (6.1 default; 6.12, debug): the table,
# and build/bench/<kernel>/bench.json (see docs/benchmarks.md).
bench: ; $(MAKE) -C selftests/qemu bench KERNEL=$(KERNEL)

# The mixed stress of selftests/stress_test.c for STRESS_SECONDS in the VM
# of KERNEL (debug by default; 6.1, 6.12): sigwake.stress=N on the kernel
# command line makes that program run only "mixed", for N seconds.
STRESS_SECONDS ?= 120
stress:
	$(MAKE) -C selftests/qemu check KERNELS=$(or $(KERNEL),debug) \
		TESTS_FILTER=stress_test HOST_TESTS=0 \
		KERNEL_APPEND="$(KERNEL_APPEND) sigwake.stress=$(STRESS_SECONDS)"

.PHONY: all module debug clean install install-module install-user uninstall \
	helper dkms-install dkms-uninstall deb style docs sparse w1 uapi-test model check demo \
	bench stress run
