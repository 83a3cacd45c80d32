# mailout - send-only mail relay for campus hosts
#
#   make            build every program into $(BUILD)/bin
#   make check      install test dependencies, build with ASan+UBSan, run all tests
#   make run        start a complete local relay on 127.0.0.1:2525
#   make install    honours DESTDIR PREFIX SYSCONFDIR LOCALSTATEDIR LIBEXECDIR UNITDIR
#   make fuzz       build the libFuzzer targets (clang)
#
# Each program directory holds a module.mk that names its sources.

PREFIX        ?= /usr/local
EXEC_PREFIX   ?= $(PREFIX)
BINDIR        ?= $(EXEC_PREFIX)/bin
SBINDIR       ?= $(EXEC_PREFIX)/sbin
LIBEXECDIR    ?= $(EXEC_PREFIX)/libexec
SYSCONFDIR    ?= $(PREFIX)/etc
LOCALSTATEDIR ?= /var
RUNSTATEDIR   ?= /run
MANDIR        ?= $(PREFIX)/share/man
UNITDIR       ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR   ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR   ?= $(PREFIX)/lib/tmpfiles.d
DESTDIR       ?=

BUILD ?= build
CC    ?= cc
PKG_CONFIG ?= pkg-config

PKGS := openssl libconfuse
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)
ARCHIVE_LIBS := $(shell $(PKG_CONFIG) --libs libarchive 2>/dev/null)

WARN := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wformat-security \
	-Wstrict-prototypes -Wmissing-prototypes -Wvla -Wpointer-arith \
	-Wno-unused-parameter
HARDEN := -fstack-protector-strong -fPIE -fstack-clash-protection
ifeq ($(SAN),1)
OPT := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
	-fno-sanitize-recover=undefined
SANLD := -fsanitize=address,undefined
else
OPT := -O2 -g
FORTIFY := -D_FORTIFY_SOURCE=2
endif

PATHDEFS := -DMAILOUT_SYSCONFDIR='"$(SYSCONFDIR)"' \
	-DMAILOUT_LOCALSTATEDIR='"$(LOCALSTATEDIR)"' \
	-DMAILOUT_RUNSTATEDIR='"$(RUNSTATEDIR)"' \
	-DMAILOUT_LIBEXECDIR='"$(LIBEXECDIR)"' \
	-DMAILOUT_SBINDIR='"$(SBINDIR)"'

CFLAGS_ALL := -std=c11 $(OPT) $(WARN) $(HARDEN) $(PKG_CFLAGS) $(CFLAGS)
CPPFLAGS_ALL := -D_GNU_SOURCE $(FORTIFY) -Ilib -Iconf $(PATHDEFS) $(CPPFLAGS)
LDFLAGS_ALL := -pie -Wl,-z,relro,-z,now -Wl,--as-needed $(SANLD) $(LDFLAGS)

OBJ := $(BUILD)/obj
BIN := $(BUILD)/bin

# Objects a program links: $(call objs,SRCS)
objs = $(patsubst %.c,$(OBJ)/%.o,$(1))

.DEFAULT_GOAL := all

# Filled in by the module.mk files.
PROGRAMS :=
TESTS :=
FUZZERS :=

include lib/module.mk
include conf/module.mk

# The shared layers (lib/, conf/) go into one archive: each program links
# it and takes only the modules it uses (mailout-queue stays free of
# OpenSSL, mailout-smtpd of libarchive).
LIBMAILOUT := $(OBJ)/libmailout.a
$(LIBMAILOUT): $(call objs,$(LIB_SRCS) $(CONF_SRCS))
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

include queue/module.mk
include smtpd/module.mk
include deliver/module.mk
include tests/module.mk
include man/module.mk
include units/install.mk

.PHONY: all clean check run fuzz bench format format-check deps lint

all: $(PROGRAMS)

$(OBJ)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) -MMD -MP -c -o $@ $<

-include $(shell find $(OBJ) -name '*.d' 2>/dev/null)

clean:
	rm -rf build run

# Test dependencies come from Debian; installed once, as root.
deps:
	@tests/deps.sh

check: deps
	@$(MAKE) --no-print-directory BUILD=build/check SAN=1 all tests
	@$(MAKE) --no-print-directory format-check lint
	@tests/run-all.sh build/check

fuzz:
	@$(MAKE) --no-print-directory -f tests/fuzz.mk

run: deps
	@$(MAKE) --no-print-directory BUILD=build/run LOCALSTATEDIR=$(CURDIR)/run/var \
		RUNSTATEDIR=$(CURDIR)/run/run SYSCONFDIR=$(CURDIR)/run/etc all
	@tests/run-local.sh build/run

bench: all
	@tests/bench/bench.sh $(BUILD)

FORMAT_SRCS = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
format:
	clang-format -i $(FORMAT_SRCS)
format-check:
	@clang-format --dry-run --Werror $(FORMAT_SRCS)

# lint - what the compiler cannot see: unbounded string calls outside
# tests, and POSIX's R_OK (access(2)) mistaken for enum result.
lint:
	@! git grep -nE '\b(strcpy|strcat|sprintf|vsprintf|gets|strtok)\s*\(' -- '*.c' ':!tests/' || \
		{ echo "lint: unbounded string call (use struct buf / bounded_format)"; exit 1; }
	@! git grep -nwE 'R_OK|R_TEMP|R_PERM' -- '*.c' '*.h' || \
		{ echo "lint: enum result is RES_OK/RES_TEMP/RES_PERM (R_OK is access(2)'s)"; exit 1; }
	@cppcheck --quiet --error-exitcode=1 --enable=warning,portability \
		--suppress=missingIncludeSystem --suppress=duplicateAssignExpression -D_GNU_SOURCE -Ilib -Iconf \
		lib conf smtpd queue deliver
