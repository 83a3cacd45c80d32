# queue/ - mailout-queue, the only program that writes the spool, and
# mailout-sendmail, local injection.  X_SRCS are the library parts
# (linked into unit tests and fuzzers); X_main.c hold only main().

QUEUE_SRCS := \
	queue/queue_msg.c \
	queue/queue_server.c \
	queue/queue_sock.c \
	queue/queue_spool.c

$(call objs,queue/queue_main.c $(QUEUE_SRCS)): CPPFLAGS_ALL += -Iqueue

# No OpenSSL: it is exec'd once per message (--as-needed drops it).
$(BIN)/mailout-queue: $(call objs,queue/queue_main.c $(QUEUE_SRCS)) $(LIBMAILOUT)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS)

PROGRAMS += $(BIN)/mailout-queue

SENDMAIL_SRCS := \
	queue/sendmail_args.c \
	queue/sendmail_enqueue.c \
	queue/sendmail_exec.c \
	queue/sendmail_headers.c \
	queue/sendmail_input.c \
	queue/sendmail_queue.c \
	queue/sendmail_rcpt.c

$(BIN)/mailout-sendmail: $(call objs,queue/sendmail_main.c $(SENDMAIL_SRCS)) $(LIBMAILOUT)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS)

PROGRAMS += $(BIN)/mailout-sendmail
