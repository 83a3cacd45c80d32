# deliver/ - mailout-deliver (deliver_*.c), which drains the spool to the
# gateway, and mailout-spool (spool_*.c), the admin's view of the spool.
# X_SRCS are the library parts (unit tests, fuzzers); X_main.c hold only main().

DELIVER_SRCS := \
	deliver/deliver_bounce.c \
	deliver/deliver_conn.c \
	deliver/deliver_dns.c \
	deliver/deliver_msg.c \
	deliver/deliver_run.c \
	deliver/deliver_send.c \
	deliver/deliver_smtp.c \
	deliver/deliver_tls.c

$(BIN)/mailout-deliver: $(call objs,deliver/deliver_main.c $(DELIVER_SRCS)) $(LIBMAILOUT)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS)

PROGRAMS += $(BIN)/mailout-deliver

SPOOLTOOL_SRCS := \
	deliver/spool_act.c \
	deliver/spool_print.c \
	deliver/spool_read.c

$(BIN)/mailout-spool: $(call objs,deliver/spool_main.c $(SPOOLTOOL_SRCS)) $(LIBMAILOUT)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS)

PROGRAMS += $(BIN)/mailout-spool
