/*
 * client.h: talking to smtpd's control socket (smtpd/control.h has the
 * protocol), for smtpctl, mailq, newaliases and sendmail.
 */
#ifndef SMTPCTL_CLIENT_H
#define SMTPCTL_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#define CLIENT_SOCKET_SYSTEM	"/var/run/smtpd.sock"
#define CLIENT_CONF_DEFAULT	"/etc/smtpd.conf"
#define CLIENT_REPLY_TIMEOUT	120	/* seconds without a reply */

/*
 * Where the daemon listens, tried in order: -s SOCKET alone; else with
 * -f FILE the spool of that configuration, as smtpd itself decides
 * (the system socket for the default spool when smtpd runs as root,
 * SPOOL/smtpd.sock otherwise: both are tried for the default spool);
 * else $SMTPD_SOCKET; else the system socket, then the default spool's.
 */
struct client_where {
	char	 paths[2][1024];
	int	 npaths;
};

/* 0, or -1 with err (the configuration does not parse, ...). */
int		 client_where(const char *sockopt, const char *conffile,
		    struct client_where *, char *err, size_t errsz);

struct client;

struct client_reply {
	int32_t		 result;	/* 1, 0, -1 */
	int		 more;
	const char	*data;		/* valid until the next read */
	size_t		 len;
};

/*
 * Connect.  NULL with err set; *notrunning is 1 when nobody listens
 * there (err then reads "smtpd is not running").
 */
struct client	*client_open(const struct client_where *, int *notrunning,
		    char *err, size_t errsz);
void		 client_close(struct client *);
const char	*client_path(const struct client *);

/* Send a request (verb and arguments as control.h lists them). */
int		 client_request(struct client *, const char *verb,
		    const char *args);
/*
 * The next reply: 1 got one, 0 the daemon closed the connection, -1
 * an error (err set).  timeout in seconds, 0 for none.
 */
int		 client_reply(struct client *, struct client_reply *,
		    int timeout, char *err, size_t errsz);
/*
 * A local SMTP session: its socket, or -1 with err (the daemon's
 * reason, or what went wrong).
 */
int		 client_smtp_session(struct client *, char *err, size_t errsz);

#endif /* SMTPCTL_CLIENT_H */
