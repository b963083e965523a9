/*
 * smtp.h: the SMTP listeners of the network process.
 *
 * smtp_init() resolves and binds every `listen on' of the
 * configuration (before the privilege drop: port 25 needs root) and
 * accepts connections from the event loop, each handed to
 * smtp_session_start().  Pausing stops accepting; sessions already
 * running go on.
 */
#ifndef SMTPD_SMTP_H
#define SMTPD_SMTP_H

#include <sys/types.h>
#include <sys/socket.h>

#include <stdint.h>

struct config_listener;

/*
 * One listener as the sessions see it: the configuration it came from
 * (NULL for the local enqueue path when the file has no `listen on
 * socket'), the name it announces, and whether its clients are local.
 */
struct smtp_listener {
	const struct config_listener *conf;
	const char		*hostname;	/* banner, Received */
	const char		*tag;		/* NULL: none */
	int			 mask_src;
	int			 local;		/* the enqueue socket */
	struct sockaddr_storage	 ss;		/* bound address */
};

/* Bind every listener; fatal on a start-up error. */
void		 smtp_init(void);
/* Stop/start accepting (smtpctl pause smtp, smtpd -P smtp). */
void		 smtp_pause(void);
void		 smtp_resume(void);
int		 smtp_paused(void);
/*
 * A session ended: accepting may resume if it was stopped by the
 * session limit.
 */
void		 smtp_session_ended(void);
/* The listener of local enqueue sessions (`listen on socket'). */
const struct smtp_listener *smtp_local_listener(void);
/*
 * A local enqueue session for smtpctl/sendmail: a socketpair whose one
 * end becomes a local session; the other is returned (or -1).
 */
int		 smtp_enqueue_session(uint32_t uid);

#endif /* SMTPD_SMTP_H */
