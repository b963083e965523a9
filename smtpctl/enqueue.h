/*
 * enqueue.h: sendmail, the program mail clients run to send a message.
 */
#ifndef SMTPCTL_ENQUEUE_H
#define SMTPCTL_ENQUEUE_H

#define ENQUEUE_EHLO_NAME	"localhost"

int		 enqueue_main(int, char **);

/* smtpctl.c: sendmail -bp and -bi run these. */
int		 mailq_main(int, char **);
int		 newaliases_main(int, char **);

#endif /* SMTPCTL_ENQUEUE_H */
