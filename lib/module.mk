# lib/ - shared code: generic layer (buf, log, net) and mail layer (mail_*)
LIB_SRCS := \
	lib/buf.c \
	lib/timefmt.c \
	lib/log.c \
	lib/net.c \
	lib/mail_reply.c \
	lib/mail_spool.c \
	lib/mail_addr.c \
	lib/mail_data.c \
	lib/mail_spool_read.c \
	lib/mail_state.c \
	lib/mail_dsn.c \
	lib/smtp_client.c

# mail_rewrite: sender masquerading (mailout-sendmail; smtpd classes with rewrite = true)
LIB_SRCS += lib/mail_rewrite.c

# dns: the one resolver (PTR, A, AAAA, MX; res_nsend, answers parsed here)
# client_state: per-client-address counters shared by all sessions (rates, AUTH failures)
LIB_SRCS += lib/dns.c
LIB_SRCS += lib/client_state.c

# mail_mime: the MIME walker (mailout-scan)
LIB_SRCS += lib/mail_mime.c

# mail_qclient: the queue hand-off (mailout-smtpd, -sendmail, -scan, -deliver)
LIB_SRCS += lib/mail_qclient.c
LIB_SRCS += lib/mail_qclient_start.c

# ticket_keys: TLS session ticket keys shared by the receiver's processes (state_dir)
LIB_SRCS += lib/ticket_keys.c

# log_journal: the structured journal sink (journald's native protocol,
# no libsystemd), only in the programs that call log_journal_enable()
LIB_SRCS += lib/log_journal.c
