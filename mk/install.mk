# install.mk - `make install` and `make uninstall`.
#
#   make install                          binaries in /usr/local/bin, man
#                                         pages in /usr/local/share/man/man1
#   make install PREFIX=$HOME/.local      somewhere else
#   make install DESTDIR=/tmp/stage       staged, e.g. for a package
#
# Every program in PROGRAMS is installed, with its man page man/NAME.1 when
# there is one; uninstall removes exactly those files (and no directory, as
# they may hold other things).

PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
MAN1DIR ?= $(PREFIX)/share/man/man1
INSTALL ?= install

# Evaluated late: fragments read after this one may still add programs.
INSTALL_MANS = $(wildcard $(patsubst %,man/%.1,$(notdir $(PROGRAMS))))

.PHONY: install uninstall

install: programs
	$(INSTALL) -d '$(DESTDIR)$(BINDIR)' '$(DESTDIR)$(MAN1DIR)'
	$(INSTALL) -m 755 $(PROGRAMS) '$(DESTDIR)$(BINDIR)/'
	$(if $(INSTALL_MANS),$(INSTALL) -m 644 $(INSTALL_MANS) '$(DESTDIR)$(MAN1DIR)/')

uninstall:
	rm -f $(foreach p,$(notdir $(PROGRAMS)),'$(DESTDIR)$(BINDIR)/$(p)') \
	      $(foreach m,$(notdir $(INSTALL_MANS)),'$(DESTDIR)$(MAN1DIR)/$(m)')
