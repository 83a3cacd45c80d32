/*
 * mail_qclient_int.h - what the queue hand-off's two files share (private)
 *
 *   mail_qclient_start.c  qclient_open: program or socket, pipes, spawn
 *   mail_qclient.c        streaming, envelope, verdict, the exit table
 *
 * Only lib/mail_qclient*.c include this; callers see mail_qclient.h.
 */
#ifndef MAILOUT_MAIL_QCLIENT_INT_H
#define MAILOUT_MAIL_QCLIENT_INT_H

#include "mail_qclient.h"

/* qclient_close_fd - close *fd when open and set it to -1; close's
 * result (0 when it was not open) */
int qclient_close_fd(int *fd);

#endif
