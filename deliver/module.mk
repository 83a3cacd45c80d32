# deliver/ - mailout-deliver (deliver_*.c) and mailout-spool (spool_*.c)

# --- mailout-deliver: drain the spool to the gateway -----------------
# DELIVER_SRCS is the library part (linked into unit tests and fuzzers);
# deliver_main.c holds main().
DELIVER_SRCS := \
	deliver/deliver_bounce.c \
	deliver/deliver_conn.c \
	deliver/deliver_dns.c \
	deliver/deliver_msg.c \
	deliver/deliver_run.c \
	deliver/deliver_send.c \
	deliver/deliver_smtp.c \
	deliver/deliver_tls.c

DELIVER_OBJS := $(patsubst %.c,$(OBJ)/%.o,deliver/deliver_main.c $(DELIVER_SRCS) \
	$(CONF_SRCS) $(LIB_SRCS))
PROGRAMS += $(BIN)/mailout-deliver

$(BIN)/mailout-deliver: $(DELIVER_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS)
# --- end of mailout-deliver ------------------------------------------

# --- mailout-spool: the admin's view of the spool ----------------------
# SPOOLTOOL_SRCS is the library part (linked into unit tests);
# spool_main.c holds only main().
SPOOLTOOL_SRCS := \
	deliver/spool_act.c \
	deliver/spool_print.c \
	deliver/spool_read.c

SPOOLTOOL_OBJS := $(patsubst %.c,$(OBJ)/%.o,deliver/spool_main.c $(SPOOLTOOL_SRCS))
SPOOLTOOL_DEP_ARCHIVE := $(OBJ)/deliver/libspool-deps.a
SPOOLTOOL_DEP_OBJS := $(patsubst %.c,$(OBJ)/%.o,$(sort $(LIB_SRCS) $(CONF_SRCS)))

$(SPOOLTOOL_DEP_ARCHIVE): $(SPOOLTOOL_DEP_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(BIN)/mailout-spool: $(SPOOLTOOL_OBJS) $(SPOOLTOOL_DEP_ARCHIVE)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $(SPOOLTOOL_OBJS) $(SPOOLTOOL_DEP_ARCHIVE) $(PKG_LIBS)

PROGRAMS += $(BIN)/mailout-spool

# Until tests/module.mk archives $(SPOOLTOOL_SRCS) too, the spool-tool
# unit tests link its objects directly (harmless once it does).
SPOOLTOOL_TEST_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,\
	$(wildcard tests/unit/test_spool_tool*.c))
$(SPOOLTOOL_TEST_BINS): $(patsubst %.c,$(OBJ)/%.o,$(SPOOLTOOL_SRCS))
$(SPOOLTOOL_TEST_BINS): LDFLAGS_ALL += $(patsubst %.c,$(OBJ)/%.o,$(SPOOLTOOL_SRCS))
# --- end of mailout-spool ----------------------------------------------
