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
	$(wildcard smtpd/smtpd_policy.c smtpd/smtpd_explain.c)

SMTPD_LIBS :=

# `objs` is defined after the includes in the Makefile: spell it out.
SMTPD_OBJS := $(patsubst %.c,$(OBJ)/%.o,smtpd/smtpd_main.c $(SMTPD_SRCS) $(LIB_SRCS) $(CONF_SRCS))

$(BIN)/mailout-smtpd: $(SMTPD_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $(SMTPD_OBJS) $(PKG_LIBS) $(SMTPD_LIBS)

PROGRAMS += $(BIN)/mailout-smtpd
