# queue/ - mailout-queue, the only program that writes the spool
#
# QUEUE_SRCS is the library part (linked into unit tests and fuzzers);
# queue_main.c holds only main().

QUEUE_SRCS := \
	queue/queue_msg.c \
	queue/queue_spool.c

# The spool format and the envelope parser belong to the mail layer;
# until lib/module.mk names lib/mail_spool.c, this module carries it.
ifeq ($(filter lib/mail_spool.c,$(LIB_SRCS)),)
QUEUE_SRCS += lib/mail_spool.c
endif

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
