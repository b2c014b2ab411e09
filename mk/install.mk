# install.mk - `make install` and `make uninstall`.
#
#   make install                          binaries in /usr/local/bin, man
#                                         pages in /usr/local/share/man/man1
#   make install PREFIX=$HOME/.local      somewhere else
#   make install DESTDIR=/tmp/stage       staged, e.g. for a package
#   make install-systemd                  also the systemd units of
#                                         contrib/systemd/ (only when asked),
#                                         in $(PREFIX)/lib/systemd/system
#
# Every program in PROGRAMS is installed, with its man page man/NAME.1 when
# there is one; uninstall removes exactly those files (and no directory, as
# they may hold other things).

PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
MAN1DIR ?= $(PREFIX)/share/man/man1
INSTALL ?= install
UNITDIR ?= $(PREFIX)/lib/systemd/system
UNITS   := echoserv.socket echoserv.service

# Evaluated late: fragments read after this one may still add programs.
INSTALL_MANS = $(wildcard $(patsubst %,man/%.1,$(notdir $(PROGRAMS))))

.PHONY: install uninstall install-systemd uninstall-systemd

install: programs
	$(INSTALL) -d '$(DESTDIR)$(BINDIR)' '$(DESTDIR)$(MAN1DIR)'
	$(INSTALL) -m 755 $(PROGRAMS) '$(DESTDIR)$(BINDIR)/'
	$(if $(INSTALL_MANS),$(INSTALL) -m 644 $(INSTALL_MANS) '$(DESTDIR)$(MAN1DIR)/')

uninstall:
	rm -f $(foreach p,$(notdir $(PROGRAMS)),'$(DESTDIR)$(BINDIR)/$(p)') \
	      $(foreach m,$(notdir $(INSTALL_MANS)),'$(DESTDIR)$(MAN1DIR)/$(m)')

# The units, with ExecStart pointing at the installed binary.
install-systemd: install
	$(INSTALL) -d '$(DESTDIR)$(UNITDIR)'
	$(INSTALL) -m 644 contrib/systemd/echoserv.socket '$(DESTDIR)$(UNITDIR)/'
	sed 's|@BINDIR@|$(BINDIR)|g' contrib/systemd/echoserv.service \
		>'$(DESTDIR)$(UNITDIR)/echoserv.service'
	chmod 644 '$(DESTDIR)$(UNITDIR)/echoserv.service'

uninstall-systemd: uninstall
	rm -f $(foreach u,$(UNITS),'$(DESTDIR)$(UNITDIR)/$(u)')
