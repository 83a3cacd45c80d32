# man/ - the manual pages (man(7) macros)
#
#   make man-lint      mandoc -T lint -W style and groff's warnings, silent or fail
#   make install-man   into $(DESTDIR)$(MANDIR)/man5 and man8
#
# tests/integration/test_man.py runs the same lint in make check, and
# also checks the pages against the programs (options, exit codes, keys).

MAN5_PAGES := \
	man/mailout.conf.5

MAN8_PAGES := \
	man/mailout-deliver.8 \
	man/mailout-queue.8 \
	man/mailout-sendmail.8 \
	man/mailout-smtpd.8 \
	man/mailout-spool.8

MAN_PAGES := $(MAN5_PAGES) $(MAN8_PAGES)

.PHONY: man-lint install-man

man-lint:
	@fail=0; for p in $(MAN_PAGES); do \
		out=$$(mandoc -T lint -W style $$p 2>&1) || fail=1; \
		[ -z "$$out" ] || { echo "$$out"; fail=1; }; \
		out=$$(MANWIDTH=80 man --warnings=all -E UTF-8 -l $$p 2>&1 >/dev/null) || fail=1; \
		[ -z "$$out" ] || { echo "$$p: $$out"; fail=1; }; \
	done; exit $$fail

install-man:
	install -d $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8
	install -m 0644 $(MAN5_PAGES) $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 $(MAN8_PAGES) $(DESTDIR)$(MANDIR)/man8/
