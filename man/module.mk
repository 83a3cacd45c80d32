# man/ - the manual pages (man(7) macros)
#
#   make man-lint   mandoc -T lint -W style and groff's warnings: silent or fail
#
# units/install.mk installs every man/*.5 and man/*.8 (install-man).
# tests/integration/test_man.py runs the same lint in make check and
# also checks the pages against the programs (options, exit codes, keys).

MAN_LINT_PAGES := $(sort $(wildcard man/*.5 man/*.8))

.PHONY: man-lint

man-lint:
	@fail=0; for p in $(MAN_LINT_PAGES); do \
		out=$$(mandoc -T lint -W style $$p 2>&1) || fail=1; \
		[ -z "$$out" ] || { echo "$$out"; fail=1; }; \
		out=$$(MANWIDTH=80 man --warnings=all -E UTF-8 -l $$p 2>&1 >/dev/null) || fail=1; \
		[ -z "$$out" ] || { echo "$$p: $$out"; fail=1; }; \
	done; exit $$fail
