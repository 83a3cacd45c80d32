# queue/ - mailout-queue, the only program that writes the spool
#
# QUEUE_SRCS is the library part (linked into unit tests and fuzzers);
# queue_main.c holds only main().

QUEUE_SRCS := \
	queue/queue_msg.c \
	queue/queue_spool.c

# The spool format and the envelope parser (lib/mail_spool.c) are in
# LIB_SRCS: the mail layer.

QUEUE_MAIN_SRCS := \
	queue/queue_main.c

QUEUE_LIBS :=

# `objs` is defined after the includes in the Makefile: spell it out.
# The shared objects go through an archive, so the program links only
# the modules it uses (no OpenSSL: it is exec'd once per message).
QUEUE_OBJS := $(patsubst %.c,$(OBJ)/%.o,$(QUEUE_MAIN_SRCS) $(QUEUE_SRCS))
QUEUE_DEP_ARCHIVE := $(OBJ)/queue/libqueue-deps.a
QUEUE_DEP_OBJS := $(patsubst %.c,$(OBJ)/%.o,$(LIB_SRCS) $(CONF_SRCS))

$(QUEUE_OBJS): CPPFLAGS_ALL += -Iqueue

$(QUEUE_DEP_ARCHIVE): $(QUEUE_DEP_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(BIN)/mailout-queue: $(QUEUE_OBJS) $(QUEUE_DEP_ARCHIVE)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $(QUEUE_OBJS) $(QUEUE_DEP_ARCHIVE) $(PKG_LIBS) $(QUEUE_LIBS)

PROGRAMS += $(BIN)/mailout-queue

# --- mailout-sendmail: sendmail-compatible local injection ----------------
# SENDMAIL_SRCS is the library part (linked into unit tests);
# sendmail_main.c holds only main().  It hands messages to mailout-queue
# and links no spool code but the queue-ID maker (lib/mail_spool.c).

SENDMAIL_SRCS := \
	queue/sendmail_args.c \
	queue/sendmail_enqueue.c \
	queue/sendmail_exec.c \
	queue/sendmail_headers.c \
	queue/sendmail_input.c \
	queue/sendmail_queue.c \
	queue/sendmail_rcpt.c

SENDMAIL_MAIN_SRCS := \
	queue/sendmail_main.c

SENDMAIL_OBJS := $(patsubst %.c,$(OBJ)/%.o,$(SENDMAIL_MAIN_SRCS) $(SENDMAIL_SRCS))
SENDMAIL_LIB_OBJS := $(patsubst %.c,$(OBJ)/%.o,$(SENDMAIL_SRCS))
SENDMAIL_DEP_ARCHIVE := $(OBJ)/queue/libsendmail-deps.a
SENDMAIL_DEP_OBJS := $(patsubst %.c,$(OBJ)/%.o,$(sort $(LIB_SRCS) $(CONF_SRCS) lib/mail_spool.c))

$(SENDMAIL_DEP_ARCHIVE): $(SENDMAIL_DEP_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(BIN)/mailout-sendmail: $(SENDMAIL_OBJS) $(SENDMAIL_DEP_ARCHIVE)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $(SENDMAIL_OBJS) $(SENDMAIL_DEP_ARCHIVE) $(PKG_LIBS)

PROGRAMS += $(BIN)/mailout-sendmail

# Until tests/module.mk archives $(SENDMAIL_SRCS) too, the sendmail unit
# tests link its objects directly (harmless once it does).
SENDMAIL_TEST_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,\
	$(wildcard tests/unit/test_sendmail*.c))
$(SENDMAIL_TEST_BINS): $(SENDMAIL_LIB_OBJS)
$(SENDMAIL_TEST_BINS): LDFLAGS_ALL += $(SENDMAIL_LIB_OBJS)
# --- end mailout-sendmail -------------------------------------------------
