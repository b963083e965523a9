/*
 * smtp_session.h: one incoming SMTP session, from the banner to QUIT.
 *
 * A session reads commands from its client, one at a time and in
 * order (pipelining), and answers each; a command that needs another
 * process (rDNS, MAIL -> queue, RCPT -> lookup + queue, end of data ->
 * queue) suspends the reading until the answer frame comes back,
 * routed here by network.c with the session id.
 */
#ifndef SMTPD_SMTP_SESSION_H
#define SMTPD_SMTP_SESSION_H

#include <sys/types.h>
#include <sys/socket.h>

#include <stdint.h>

#include "smtpd-api.h"

struct smtp_listener;

/*
 * Take over a connected socket.  ss is the client (AF_UNSPEC for a
 * local enqueue session), local the address it reached.  uid is the
 * local submitter (local sessions only, for the log).
 */
void		 smtp_session_start(int fd, const struct smtp_listener *,
		    const struct sockaddr_storage *ss,
		    const struct sockaddr_storage *local, uint32_t uid);
/*
 * Frames for sessions: IMSG_RECV_CREATE, _SUBMIT, _COMMIT replies and
 * IMSG_LOOKUP_RCPT_ENVELOPE, _RCPT_DONE, _RDNS.  A frame for a session
 * that is gone is dropped (releasing what it carries).
 */
void		 smtp_session_imsg(struct imsg *, struct msg_reader *);
/* Number of sessions alive. */
unsigned int	 smtp_session_count(void);

#endif /* SMTPD_SMTP_SESSION_H */
