# tests/fuzz.mk - libFuzzer targets: tests/fuzz/fuzz_NAME.c -> build/fuzz/fuzz_NAME
#
#   make -f tests/fuzz.mk            (or: make fuzz)
#
# The library sources (every X_SRCS of the module.mk files) are compiled
# with clang and -fsanitize=fuzzer-no-link,address,undefined into
# build/fuzz/obj and put in one archive; each target links that archive
# with -fsanitize=fuzzer.  Nothing here touches the gcc build.

BUILD := build/fuzz
OBJ := $(BUILD)/obj
BIN := $(BUILD)/bin
FUZZ_CC ?= clang
CC := $(FUZZ_CC)
PKG_CONFIG ?= pkg-config

PKGS := openssl libconfuse
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)
ARCHIVE_LIBS := $(shell $(PKG_CONFIG) --libs libarchive 2>/dev/null)

FUZZ_SAN := address,undefined
PATHDEFS := -DMAILOUT_SYSCONFDIR='"/etc"' -DMAILOUT_LOCALSTATEDIR='"/var"' \
	-DMAILOUT_RUNSTATEDIR='"/run"' -DMAILOUT_LIBEXECDIR='"/usr/libexec"' \
	-DMAILOUT_SBINDIR='"/usr/sbin"'
CFLAGS_ALL := -std=c11 -g -O1 -fno-omit-frame-pointer -Wall -Wno-unused-parameter $(PKG_CFLAGS)
CPPFLAGS_ALL := -D_GNU_SOURCE -Ilib -Iconf -Ismtpd -Iqueue -Ideliver $(PATHDEFS)
LDFLAGS_ALL :=

# The module.mk files fill these and add their program rules (unused here).
PROGRAMS :=
TESTS :=
FUZZERS :=
objs = $(patsubst %.c,$(OBJ)/%.o,$(1))

include lib/module.mk
include conf/module.mk
include queue/module.mk
include smtpd/module.mk
include deliver/module.mk

.DEFAULT_GOAL := fuzzers
.PHONY: fuzzers

FUZZ_SRCS := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(BUILD)/%,$(FUZZ_SRCS))
FUZZ_LIB_SRCS := $(sort $(LIB_SRCS) $(CONF_SRCS) $(SMTPD_SRCS) $(QUEUE_SRCS) $(DELIVER_SRCS) \
	$(SCAN_SRCS) $(SENDMAIL_SRCS) $(SPOOLTOOL_SRCS))
FUZZ_LIB_OBJS := $(patsubst %.c,$(OBJ)/%.o,$(FUZZ_LIB_SRCS))
FUZZ_ARCHIVE := $(BUILD)/libmailout-fuzz.a
FUZZ_EXTRA_LIBS := $(LIB_LIBS) $(CONF_LIBS) $(SMTPD_LIBS) $(QUEUE_LIBS) $(DELIVER_LIBS) \
	-lpam -lcrypt -lresolv

fuzzers: $(FUZZ_BINS)

.SECONDARY: $(patsubst tests/fuzz/%.c,$(OBJ)/tests/fuzz/%.o,$(FUZZ_SRCS))

$(OBJ)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) -fsanitize=fuzzer-no-link,$(FUZZ_SAN) -MMD -MP -c -o $@ $<

-include $(shell find $(OBJ) -name '*.d' 2>/dev/null)

$(FUZZ_ARCHIVE): $(FUZZ_LIB_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@
	$(if $^,ar rcs $@ $^,ar rcs $@)

$(BUILD)/fuzz_%: $(OBJ)/tests/fuzz/fuzz_%.o $(FUZZ_ARCHIVE)
	$(CC) -fsanitize=fuzzer,$(FUZZ_SAN) -o $@ $< $(FUZZ_ARCHIVE) $(PKG_LIBS) $(ARCHIVE_LIBS) \
		-Wl,--as-needed $(FUZZ_EXTRA_LIBS)
