# units/install.mk - systemd units, users, and the install targets
#
# Included by the top Makefile after the module.mk files (it needs
# $(PROGRAMS) and the directory variables).
#
#   make units                 generate the unit, sysusers.d and tmpfiles.d
#                              files into $(BUILD)/units (paths filled in)
#   make install               programs, config (never overwritten), units,
#                              sysusers.d/tmpfiles.d files, man pages; all
#                              under $(DESTDIR), nothing set-id, no users
#   make install-users         on the target host, as root: create the users
#                              (systemd-sysusers, else useradd), the spool
#                              owned by $(SPOOL_USER), state_dir owned by
#                              $(SMTPD_USER), and make mailout-queue set-uid
#                              $(SPOOL_USER) (SETUID_QUEUE=no: leave it 0755,
#                              for hosts where only mailout-queue.socket
#                              feeds the spool)
#   make install-sendmail-links  sendmail and mailq as links to
#                              mailout-sendmail (never over a real sendmail)
#
# A set-uid program needs its user to exist, and DESTDIR installs are
# for packages, which create users when they are installed: so `install`
# leaves the modes plain and `install-users` (which installs first, so
# an upgrade never leaves mailout-queue without its set-uid bit) does
# the rest.

SMTPD_USER   ?= mailout
SMTPD_GROUP  ?= $(SMTPD_USER)
SPOOL_USER   ?= mailout-spool
SPOOL_GROUP  ?= $(SPOOL_USER)
SPOOLDIR     ?= $(LOCALSTATEDIR)/spool/mailout
SETUID_QUEUE ?= yes
INSTALL      ?= install

UNIT_SRCS := $(sort $(wildcard units/*.service.in units/*.socket.in \
	units/*.timer.in units/*.path.in))
UNIT_FILES := $(patsubst units/%.in,$(BUILD)/units/%,$(UNIT_SRCS))
UNIT_OTHER := $(BUILD)/units/mailout.sysusers $(BUILD)/units/mailout.tmpfiles
MAN_PAGES := $(sort $(wildcard man/*.5 man/*.8))

UNIT_SED := -e 's|@SBINDIR@|$(SBINDIR)|g' \
	-e 's|@BINDIR@|$(BINDIR)|g' \
	-e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
	-e 's|@LOCALSTATEDIR@|$(LOCALSTATEDIR)|g' \
	-e 's|@RUNSTATEDIR@|$(RUNSTATEDIR)|g' \
	-e 's|@SPOOLDIR@|$(SPOOLDIR)|g' \
	-e 's|@SMTPD_USER@|$(SMTPD_USER)|g' \
	-e 's|@SMTPD_GROUP@|$(SMTPD_GROUP)|g' \
	-e 's|@SPOOL_USER@|$(SPOOL_USER)|g' \
	-e 's|@SPOOL_GROUP@|$(SPOOL_GROUP)|g'

.PHONY: units install-programs install-conf install-units install-man \
	install-users install-sendmail-links

units: $(UNIT_FILES) $(UNIT_OTHER)

# The paths are make variables: regenerate every time, a changed
# PREFIX must never leave a stale unit behind.
$(BUILD)/units/%: units/%.in FORCE_UNITS
	@mkdir -p $(dir $@)
	sed $(UNIT_SED) $< > $@.tmp
	@! grep -n '@[A-Z_]*@' $@.tmp || { echo "$<: unknown @VARIABLE@" >&2; exit 1; }
	mv $@.tmp $@

.PHONY: FORCE_UNITS
FORCE_UNITS:

# The lead's install recipe (if any) runs after these.
install: install-programs install-conf install-units install-man

install-programs: $(PROGRAMS)
	$(INSTALL) -d -m 0755 $(DESTDIR)$(SBINDIR)
	for p in $(PROGRAMS); do $(INSTALL) -m 0755 $$p $(DESTDIR)$(SBINDIR)/ || exit 1; done

install-conf:
	$(INSTALL) -d -m 0755 $(DESTDIR)$(SYSCONFDIR)/mailout
	$(INSTALL) -d -m 0700 $(DESTDIR)$(SYSCONFDIR)/mailout/tls \
		$(DESTDIR)$(SYSCONFDIR)/mailout/gateway
	test -e $(DESTDIR)$(SYSCONFDIR)/mailout/mailout.conf || \
		$(INSTALL) -m 0644 conf/mailout.conf $(DESTDIR)$(SYSCONFDIR)/mailout/mailout.conf

# mailout-queue@.service served the socket with Accept=yes, before
# mailout-queue.service (Accept=no) replaced it: an upgrade removes it.
install-units: units
	$(INSTALL) -d -m 0755 $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(TMPFILESDIR)
	rm -f $(DESTDIR)$(UNITDIR)/mailout-queue@.service
	$(INSTALL) -m 0644 $(UNIT_FILES) $(DESTDIR)$(UNITDIR)/
	$(INSTALL) -m 0644 $(BUILD)/units/mailout.sysusers $(DESTDIR)$(SYSUSERSDIR)/mailout.conf
	$(INSTALL) -m 0644 $(BUILD)/units/mailout.tmpfiles $(DESTDIR)$(TMPFILESDIR)/mailout.conf

install-man:
	@set -e; for m in $(MAN_PAGES); do \
		s=$${m##*.}; \
		echo "$(INSTALL) -m 0644 $$m $(DESTDIR)$(MANDIR)/man$$s/"; \
		$(INSTALL) -d -m 0755 $(DESTDIR)$(MANDIR)/man$$s; \
		$(INSTALL) -m 0644 $$m $(DESTDIR)$(MANDIR)/man$$s/; \
	done

# install-users - users first (a set-uid to a user that does not exist
# is impossible), then the directories they own, then the set-uid bit.
install-users: install
	@test "$$(id -u)" -eq 0 || { echo "install-users: run as root" >&2; exit 1; }
	if command -v systemd-sysusers >/dev/null 2>&1; then \
		systemd-sysusers $(DESTDIR)$(SYSUSERSDIR)/mailout.conf; \
	else \
		for u in $(SMTPD_USER) $(SPOOL_USER); do \
			id -u $$u >/dev/null 2>&1 || useradd --system --user-group \
				--no-create-home --home-dir / --shell /usr/sbin/nologin $$u || exit 1; \
		done; \
	fi
	$(INSTALL) -d -m 0750 -o $(SPOOL_USER) -g $(SPOOL_GROUP) $(DESTDIR)$(SPOOLDIR)
	for d in tmp new deferred hold state; do \
		$(INSTALL) -d -m 0750 -o $(SPOOL_USER) -g $(SPOOL_GROUP) \
			$(DESTDIR)$(SPOOLDIR)/$$d || exit 1; \
	done
	$(INSTALL) -d -m 0700 -o $(SMTPD_USER) -g $(SMTPD_GROUP) $(DESTDIR)$(RUNSTATEDIR)/mailout
	if [ "$(SETUID_QUEUE)" = yes ]; then \
		chown $(SPOOL_USER):$(SPOOL_GROUP) $(DESTDIR)$(SBINDIR)/mailout-queue && \
		chmod 4711 $(DESTDIR)$(SBINDIR)/mailout-queue; \
	fi

install-sendmail-links:
	$(INSTALL) -d -m 0755 $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR)
	@for l in $(DESTDIR)$(SBINDIR)/sendmail $(DESTDIR)$(BINDIR)/mailq; do \
		if [ -e "$$l" ] && [ ! -L "$$l" ]; then \
			echo "install-sendmail-links: $$l exists and is not a link; left alone" >&2; \
			exit 1; \
		fi; \
	done
	ln -sf $(SBINDIR)/mailout-sendmail $(DESTDIR)$(SBINDIR)/sendmail
	ln -sf $(SBINDIR)/mailout-sendmail $(DESTDIR)$(BINDIR)/mailq
