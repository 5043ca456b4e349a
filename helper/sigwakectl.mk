# SPDX-License-Identifier: GPL-2.0
#
# sigwakectl, included by helper/Makefile: libnl-3 and libnl-genl-3 through
# pkg-config (static archives when LDFLAGS has -static), with a fallback
# and a message when pkg-config does not know them; the man page.

.DEFAULT_GOAL := all
MANDIR ?= $(PREFIX)/share/man

# Without libnl's headers at all, sigwakectl is left out (with a warning)
# and the library still builds and installs: "make install-user" needs no
# libnl.
SIGWAKECTL := yes
ifneq ($(shell $(PKG_CONFIG) --exists $(LIBNL_PKGS) 2>/dev/null && echo yes),yes)
ifeq ($(wildcard /usr/include/libnl3/netlink/genl/genl.h),)
$(warning libnl-3 and libnl-genl-3 not found (apt-get install libnl-3-dev libnl-genl-3-dev): building libsigwake without sigwakectl)
PROGS := $(filter-out sigwakectl,$(PROGS))
SIGWAKECTL :=
else
$(warning pkg-config does not find $(LIBNL_PKGS) (apt-get install libnl-3-dev libnl-genl-3-dev); trying /usr/include/libnl3 and -lnl-genl-3 -lnl-3)
sigwakectl_CFLAGS := -I/usr/include/libnl3
sigwakectl_LIBS := -lnl-genl-3 -lnl-3 -lpthread
endif
else ifneq ($(filter -static,$(LDFLAGS)),)
sigwakectl_LIBS := $(shell $(PKG_CONFIG) --static --libs $(LIBNL_PKGS))
endif

.PHONY: install-sigwakectl-man uninstall-sigwakectl-man
ifeq ($(SIGWAKECTL),yes)
install: install-sigwakectl-man
endif
uninstall: uninstall-sigwakectl-man

install-sigwakectl-man:
	$(INSTALL) -d $(DESTDIR)$(MANDIR)/man8
	$(INSTALL) -m 644 $(HELPER_DIR)/man/sigwakectl.8 \
		$(DESTDIR)$(MANDIR)/man8/sigwakectl.8

uninstall-sigwakectl-man:
	rm -f $(DESTDIR)$(MANDIR)/man8/sigwakectl.8
