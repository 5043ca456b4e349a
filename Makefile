# SPDX-License-Identifier: GPL-2.0
#
# sigwake: kernel module, libsigwake, sigwakectl, selftests.
#
#   make                     build sigwake.ko for the running kernel
#   make KERNELRELEASE=...   ... or for another installed kernel's headers
#   make KERNELDIR=...       ... or against any configured kernel tree
#   make check               the test suite in QEMU on every kernel of the matrix
#   make demo                the example runtime scenarios in QEMU
#   make install | dkms-install | style | sparse | w1 | uapi-test | helper

VERSION := 0.1.0
KERNELRELEASE ?= $(shell uname -r)
KERNELDIR ?= /lib/modules/$(KERNELRELEASE)/build
PREFIX ?= /usr/local
DESTDIR ?=
TOP := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
BUILD ?= $(TOP)/build
KSRC_TARBALL ?= /usr/src/linux-source-6.1.tar.xz

MODULE_SOURCES := Kbuild Makefile dkms.conf module uapi

all: module

module:
	$(MAKE) -C $(KERNELDIR) M=$(TOP) modules

debug:
	$(MAKE) -C $(KERNELDIR) M=$(TOP) CONFIG_SIGWAKE_DEBUG=y modules

clean:
	$(MAKE) -C $(KERNELDIR) M=$(TOP) clean 2>/dev/null || true
	rm -rf $(BUILD)

install: module
	$(MAKE) -C $(KERNELDIR) M=$(TOP) INSTALL_MOD_DIR=updates modules_install
	depmod -a $(KERNELRELEASE) || true
	$(MAKE) -C helper PREFIX=$(PREFIX) DESTDIR=$(DESTDIR) install

helper:
	$(MAKE) -C helper

dkms-install:
	rm -rf $(DESTDIR)/usr/src/sigwake-$(VERSION)
	install -d $(DESTDIR)/usr/src/sigwake-$(VERSION)
	cp -r $(MODULE_SOURCES) $(DESTDIR)/usr/src/sigwake-$(VERSION)/
	sed -i 's/@VERSION@/$(VERSION)/' $(DESTDIR)/usr/src/sigwake-$(VERSION)/dkms.conf

dkms-uninstall:
	rm -rf $(DESTDIR)/usr/src/sigwake-$(VERSION)

# Static checks.  checkpatch.pl comes from the linux-source tarball, extracted
# at build time; it is never part of this repository.
$(BUILD)/ksrc/.stamp:
	@test -r $(KSRC_TARBALL) || { echo "$(KSRC_TARBALL) missing: apt-get install linux-source-6.1" >&2; exit 1; }
	mkdir -p $(BUILD)/ksrc
	tar -xJf $(KSRC_TARBALL) -C $(BUILD)/ksrc --strip-components=1 \
		--wildcards '*/scripts/checkpatch.pl' '*/scripts/spelling.txt' \
		'*/scripts/const_structs.checkpatch' \
		'*/tools/testing/selftests/kselftest_harness.h' \
		'*/tools/testing/selftests/kselftest.h'
	touch $@

style: $(BUILD)/ksrc/.stamp
	$(BUILD)/ksrc/scripts/checkpatch.pl --no-tree --strict --terse \
		--show-types -f $(filter-out module/compat.h,$(wildcard module/*.[ch]))
	$(BUILD)/ksrc/scripts/checkpatch.pl --no-tree --strict --terse \
		--show-types --ignore BIT_MACRO -f uapi/linux/sigwake.h
	$(BUILD)/ksrc/scripts/checkpatch.pl --no-tree --strict --terse \
		--show-types --ignore LINUX_VERSION_CODE,CONSTANT_COMPARISON -f module/compat.h

sparse:
	$(MAKE) -C $(KERNELDIR) M=$(TOP) C=2 CF="-D__CHECK_ENDIAN__" modules

w1:
	$(MAKE) -C $(KERNELDIR) M=$(TOP) W=1 KCFLAGS=-Werror modules

uapi-test:
	mkdir -p $(BUILD)
	printf '#include <linux/sigwake.h>\nint main(void) { return sizeof(struct sigwake_thread_block) != 64; }\n' > $(BUILD)/uapi-test.c
	$(CC) -std=c90 -pedantic -Wall -Werror -I$(TOP)/uapi -c $(BUILD)/uapi-test.c -o $(BUILD)/uapi-test-c90.o
	$(CXX) -x c++ -Wall -Werror -I$(TOP)/uapi -c $(BUILD)/uapi-test.c -o $(BUILD)/uapi-test-cxx.o

check:
	$(MAKE) -C selftests/qemu check

demo:
	$(MAKE) -C selftests/qemu demo

.PHONY: all module debug clean install helper dkms-install dkms-uninstall \
	style sparse w1 uapi-test check demo
