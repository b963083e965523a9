/*
 * blast.h: what the session threads of smtp-blast share with main.
 */

#ifndef BLAST_H
#define BLAST_H

#include <stdatomic.h>
#include <stddef.h>

struct blast {
	/* set by main before the threads start, read-only after */
	const char	*host;		/* numeric IPv4 address */
	int		 port;
	int		 messages;	/* M: messages in all */
	const char	*from;
	const char	*rcpt;
	const char	*body;		/* header tail and body, CRLF, ending
					   with ".\r\n" */
	size_t		 bodylen;
	int		 timeout;	/* seconds, per reply */
	double		 t0;		/* start (monotonic seconds) */

	/* shared by the threads */
	atomic_int	 next;		/* next message number to send */
	atomic_int	 accepted;	/* 250 after the data */
	atomic_int	 retries;	/* messages tried again */
	atomic_int	 connections;	/* sessions opened */
	double		*latency;	/* [messages]: MAIL to 250, seconds,
					   < 0 when not accepted */
	_Atomic long long last_ns;	/* last 250, ns after t0 */
};

double	 blast_now(void);
void	*blast_session(void *);	/* one SMTP session: struct blast * */

#endif
