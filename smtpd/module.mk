# smtpd/ - mailout-smtpd, one SMTP session per process, and mailout-scan,
# the executable-attachment filter in the queue chain (mailout-sendmail
# runs it; mailout-smtpd links the same inspection, SCAN_SRCS, and
# inspects what it receives itself).  X_SRCS are the library parts (unit
# tests, fuzzers); X_main.c hold only main().

SMTPD_SRCS := \
	smtpd/smtpd_proto.c \
	smtpd/smtpd_cmd.c \
	smtpd/smtpd_parse.c \
	smtpd/smtpd_io.c \
	smtpd/smtpd_tls.c \
	smtpd/smtpd_data.c \
	smtpd/smtpd_queue.c \
	smtpd/smtpd_inspect.c \
	smtpd/smtpd_policy.c \
	smtpd/smtpd_policy_from.c \
	smtpd/smtpd_policy_dns.c \
	smtpd/smtpd_block.c \
	smtpd/smtpd_explain.c \
	smtpd/smtpd_auth.c \
	smtpd/smtpd_pam.c \
	smtpd/smtpd_passwd.c \
	smtpd/smtpd_crypt.c \
	smtpd/smtpd_dl.c \
	smtpd/smtpd_ssl.c

# AUTH: libxcrypt for the passwd file (smtpd/smtpd_crypt.c) and libpam
# for the campus directory (smtpd/smtpd_pam.c) are dlopen'ed on first
# use, not linked
SMTPD_LIBS :=

# Nor is OpenSSL: smtpd/smtpd_ssl.c dlopens it at the first STARTTLS
# (or implicit-TLS connection).  Linked without it, so that a call
# that bypasses that table fails to link instead of loading libssl.
#
# libconfuse is linked from its archive when there is one: the dynamic
# linker's binding of libconfuse.so (its symbols, and its own imports
# from libc) cost every connection 0.1 M instructions, half what loading
# the config costs.  A libconfuse update then needs a rebuild of
# mailout-smtpd (the other programs still load libconfuse.so).
CONFUSE_ARCHIVE := $(wildcard $(shell $(PKG_CONFIG) --variable=libdir libconfuse 2>/dev/null)/libconfuse.a)
SMTPD_PKG_LIBS := $(or $(CONFUSE_ARCHIVE),$(shell $(PKG_CONFIG) --libs libconfuse 2>/dev/null))

SCAN_SRCS := \
	smtpd/scan_act.c \
	smtpd/scan_arcload.c \
	smtpd/scan_archive.c \
	smtpd/scan_filter.c \
	smtpd/scan_inspect.c \
	smtpd/scan_inspector.c \
	smtpd/scan_io.c \
	smtpd/scan_reply.c \
	smtpd/scan_sandbox.c

$(BIN)/mailout-smtpd: $(call objs,smtpd/smtpd_main.c $(SMTPD_SRCS) $(SCAN_SRCS)) $(LIBMAILOUT)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(SMTPD_PKG_LIBS) $(SMTPD_LIBS)

PROGRAMS += $(BIN)/mailout-smtpd

# libarchive is not linked: smtpd/scan_arcload.c dlopens it when a
# message may hold an archive (its headers are still needed to build).
$(BIN)/mailout-scan: $(call objs,smtpd/scan_main.c $(SCAN_SRCS)) $(LIBMAILOUT)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS)

PROGRAMS += $(BIN)/mailout-scan
