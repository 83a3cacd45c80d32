# smtpd/ - mailout-smtpd, one SMTP session per process
#
# SMTPD_SRCS is the library part (linked into unit tests and fuzzers);
# smtpd_main.c holds only main().

SMTPD_SRCS := \
	smtpd/smtpd_proto.c \
	smtpd/smtpd_cmd.c \
	smtpd/smtpd_parse.c \
	smtpd/smtpd_io.c \
	smtpd/smtpd_tls.c \
	smtpd/smtpd_data.c \
	smtpd/smtpd_queue.c \
	smtpd/smtpd_policy.c \
	smtpd/smtpd_policy_dns.c \
	smtpd/smtpd_block.c \
	smtpd/smtpd_explain.c \
	smtpd/smtpd_auth.c \
	smtpd/smtpd_passwd.c

SMTPD_MAIN_SRCS := \
	smtpd/smtpd_main.c

# AUTH: PAM for the campus directory, libxcrypt for the passwd file
SMTPD_LIBS := -lpam -lcrypt

# The shared objects go through an archive, so the program links only
# the modules it uses.  queue_id_new() lives in lib/mail_spool.c; until
# lib/module.mk names it, the archive carries it.
SMTPD_DEP_SRCS := $(LIB_SRCS) $(CONF_SRCS)
ifeq ($(filter lib/mail_spool.c,$(LIB_SRCS)),)
SMTPD_DEP_SRCS += lib/mail_spool.c
endif

# `objs` is defined after the includes in the Makefile: spell it out.
SMTPD_OBJS := $(patsubst %.c,$(OBJ)/%.o,$(SMTPD_MAIN_SRCS) $(SMTPD_SRCS))
SMTPD_DEP_ARCHIVE := $(OBJ)/smtpd/libsmtpd-deps.a
SMTPD_DEP_OBJS := $(patsubst %.c,$(OBJ)/%.o,$(SMTPD_DEP_SRCS))

$(SMTPD_DEP_ARCHIVE): $(SMTPD_DEP_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(BIN)/mailout-smtpd: $(SMTPD_OBJS) $(SMTPD_DEP_ARCHIVE)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $(SMTPD_OBJS) $(SMTPD_DEP_ARCHIVE) $(PKG_LIBS) $(SMTPD_LIBS)

PROGRAMS += $(BIN)/mailout-smtpd

# --- mailout-scan: executable attachments (a filter in the queue chain) ---
# SCAN_SRCS is the library part (unit tests, fuzzers); scan_main.c holds
# only main().  Links libarchive; mailout-smtpd does not.
SCAN_SRCS := \
	smtpd/scan_archive.c \
	smtpd/scan_filter.c \
	smtpd/scan_inspect.c \
	smtpd/scan_io.c \
	smtpd/scan_reply.c \
	smtpd/scan_sandbox.c

SCAN_MAIN_SRCS := \
	smtpd/scan_main.c

SCAN_LIBS := $(ARCHIVE_LIBS)

SCAN_OBJS := $(patsubst %.c,$(OBJ)/%.o,$(SCAN_MAIN_SRCS) $(SCAN_SRCS))
SCAN_LIB_OBJS := $(patsubst %.c,$(OBJ)/%.o,$(SCAN_SRCS))
SCAN_DEP_ARCHIVE := $(OBJ)/smtpd/libscan-deps.a
SCAN_DEP_OBJS := $(patsubst %.c,$(OBJ)/%.o,$(LIB_SRCS) $(CONF_SRCS))

$(SCAN_DEP_ARCHIVE): $(SCAN_DEP_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(BIN)/mailout-scan: $(SCAN_OBJS) $(SCAN_DEP_ARCHIVE)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $(SCAN_OBJS) $(SCAN_DEP_ARCHIVE) $(PKG_LIBS) $(SCAN_LIBS)

PROGRAMS += $(BIN)/mailout-scan

# Until tests/module.mk and tests/fuzz.mk list $(SCAN_SRCS) among the
# library sources, their archives carry the objects (the archive rules
# put every prerequisite in; harmless once they do).
$(BUILD)/libmailout-test.a: $(SCAN_LIB_OBJS)
$(BUILD)/libmailout-fuzz.a: $(SCAN_LIB_OBJS)
# --- end mailout-scan -----------------------------------------------------
