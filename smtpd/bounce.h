/*
 * bounce.h: the text of a delivery status notification (RFC 3464).
 *
 * A pure module: it writes one DSN for one message and one sender,
 * grouping every recipient given, into a stdio stream.  The queue
 * (queue_bounce.c) decides when, collects the recipients and stores
 * the result as a new message whose envelope sender is <>.
 *
 * The message written (LF line ends, as the queue stores mail):
 *	From: Mail Delivery System <MAILER-DAEMON@hostname>
 *	To: <sender>
 *	Subject: Delivery Status Notification: failure | delay
 *	Date, Message-ID, MIME-Version, Auto-Submitted: auto-replied
 *	Content-Type: multipart/report; report-type=delivery-status;
 *	    boundary="..."
 *   then three parts:
 *	text/plain		for a human: which recipients, why
 *	message/delivery-status	Reporting-MTA: dns; hostname
 *				Arrival-Date: ...
 *				and per recipient, after a blank line:
 *				Final-Recipient: rfc822; addr
 *				Action: failed | delayed
 *				Status: x.y.z
 *				Diagnostic-Code: smtp; 550 5.1.1 text
 *				(a server's reply) or X-Unix; text
 *				(a reason of our own)
 *				[Last-Attempt-Date, Will-Retry-Until]
 *	text/rfc822-headers	the original message's headers
 */
#ifndef SMTPD_BOUNCE_H
#define SMTPD_BOUNCE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "envelope.h"

#define BOUNCE_HEADERS_MAX	65536	/* bytes of original headers kept */
#define BOUNCE_BOUNDARY_MAX	96

struct bounce_rcpt {
	const char	*address;	/* as the sender wrote it */
	const char	*status;	/* "5.1.1"; "" or NULL: a default */
	const char	*diagnostic;	/* last error, may be "" */
	time_t		 lasttry;	/* 0: never tried */
};

struct bounce_report {
	enum bounce_type	 type;		/* B_FAILED or B_DELAYED */
	const char		*hostname;	/* this server */
	const char		*sender;	/* original sender, not "" */
	time_t			 arrival;	/* when the message came */
	time_t			 now;		/* Date of the DSN */
	time_t			 retry_until;	/* B_DELAYED: expiry */
	const struct bounce_rcpt *rcpts;
	size_t			 nrcpts;
	const char		*headers;	/* original headers, may be */
	size_t			 headers_len;	/* NULL/0 */
	const char		*boundary;	/* NULL: one is made up */
};

/*
 * Never bounce a bounce: 0 when e's sender is <> (or e is flagged
 * EF_BOUNCE, carrying a DSN), 1 when a bounce may be sent to it.
 */
int		 bounce_allowed(const struct envelope *e);
/*
 * Length of the header section at the start of a message (up to, not
 * including, the empty line), cut after the last whole line that fits
 * in BOUNCE_HEADERS_MAX.
 */
size_t		 bounce_headers_length(const char *msg, size_t len);
/* Status written when a recipient has none: 5.0.0 or 4.0.0. */
const char	*bounce_status_default(enum bounce_type);
/* Write the DSN: 0, or -1 with errno on a write error. */
int		 bounce_write(FILE *, const struct bounce_report *);

#endif /* SMTPD_BOUNCE_H */
