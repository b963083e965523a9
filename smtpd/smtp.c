/*
 * smtp.c: the SMTP listeners of the network process.
 *
 * Each `listen on' becomes one or more bound sockets: an address
 * literal, localhost (127.0.0.1 and ::1), all (the IPv4 and IPv6
 * wildcards), or an interface name (its addresses, from getifaddrs; a
 * host name as a last resort).  Accepting stops while smtp is paused,
 * while the session limit is reached, and for a second after the
 * process ran out of descriptors; the sessions already open go on.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <event2/event.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "smtpd-api.h"
#include "config.h"
#include "proc.h"
#include "smtp.h"
#include "smtp_parse.h"
#include "smtp_session.h"

#define SMTP_BACKLOG		128
#define SMTP_ACCEPT_BATCH	32	/* accepts per wake-up */
#define SMTP_SESSIONS_MAX	4096	/* even with descriptors to spare */
#define SMTP_FD_RESERVE		64	/* channels, helpers, deliveries */

struct smtp_socket {
	TAILQ_ENTRY(smtp_socket) entry;
	int			 fd;
	struct event		*ev;
	int			 active;	/* ev is added */
	struct smtp_listener	 l;
};
TAILQ_HEAD(smtp_socket_list, smtp_socket);

static void	 smtp_listener_setup(const struct config_listener *);
static int	 smtp_resolve(const struct config_listener *,
		    struct sockaddr_storage *, int, int *);
static int	 smtp_add_address(struct sockaddr_storage *, int, int *,
		    const struct sockaddr *, int);
static int	 smtp_bind(const struct config_listener *,
		    const struct sockaddr_storage *, int);
static void	 smtp_accept(int, short, void *);
static void	 smtp_update(void);
static void	 smtp_backoff_end(int, short, void *);
static unsigned int smtp_max_sessions(void);

static struct smtp_socket_list	 sockets = TAILQ_HEAD_INITIALIZER(sockets);
static struct smtp_listener	 local_listener;
static int			 paused;
static int			 backoff;	/* out of descriptors */
static struct event		*backoff_ev;
static unsigned int		 max_sessions;

void
smtp_init(void)
{
	struct config_listener	*cl;

	local_listener.hostname = smtpd_env.hostname;
	local_listener.local = 1;
	max_sessions = smtp_max_sessions();
	TAILQ_FOREACH(cl, &smtpd_env.conf->listeners, entry) {
		/* parsed, but their work has not landed yet */
		if (cl->hostnames.table != NULL)
			log_warnx("%s:%d: listen on %s: hostnames is not "
			    "supported yet, the banner uses %s",
			    cl->where.file, cl->where.line, cl->on,
			    cl->hostname != NULL ? cl->hostname :
			    smtpd_env.hostname);
		/* filters: see filter_chain.c, started by network_main */
		if (cl->kind == LISTEN_SOCKET) {
			local_listener.conf = cl;
			if (cl->hostname != NULL)
				local_listener.hostname = cl->hostname;
			local_listener.tag = cl->tag;
			local_listener.mask_src = cl->mask_src;
			continue;
		}
		smtp_listener_setup(cl);
	}
	if ((backoff_ev = evtimer_new(proc_base, smtp_backoff_end,
	    NULL)) == NULL)
		fatalx("smtp: evtimer_new");
	log_debug("smtp: at most %u sessions at once", max_sessions);
	paused = smtpd_env.paused_smtp;
	if (paused)
		log_info("smtp: paused (-P smtp): not accepting connections");
	smtp_update();
}

/*
 * Two descriptors a session at worst (the client, the message file);
 * the soft limit is raised to the hard one first.
 */
static unsigned int
smtp_max_sessions(void)
{
	struct rlimit	 rl;
	rlim_t		 n;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return 256;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			(void)getrlimit(RLIMIT_NOFILE, &rl);
	}
	n = rl.rlim_cur;
	if (n == RLIM_INFINITY || n > 2 * SMTP_SESSIONS_MAX + SMTP_FD_RESERVE)
		return SMTP_SESSIONS_MAX;
	if (n < SMTP_FD_RESERVE + 8)
		return 4;
	return (unsigned int)((n - SMTP_FD_RESERVE) / 2);
}

static void
smtp_listener_setup(const struct config_listener *cl)
{
	struct sockaddr_storage	 addrs[64];
	int			 n, i, bound = 0, optional;

	n = smtp_resolve(cl, addrs, 64, &optional);
	for (i = 0; i < n; i++)
		if (smtp_bind(cl, &addrs[i], optional) == 0)
			bound++;
	if (bound == 0)
		fatalx("%s:%d: listen on %s: no address could be bound",
		    cl->where.file, cl->where.line, cl->on);
}

static int
smtp_add_address(struct sockaddr_storage *addrs, int max, int *n,
    const struct sockaddr *sa, int family)
{
	size_t	 len;
	int	 i;

	if (sa == NULL || (sa->sa_family != AF_INET &&
	    sa->sa_family != AF_INET6))
		return 0;
	if (family != AF_UNSPEC && sa->sa_family != family)
		return 0;
	len = sa->sa_family == AF_INET ? sizeof(struct sockaddr_in) :
	    sizeof(struct sockaddr_in6);
	for (i = 0; i < *n; i++)
		if (memcmp(&addrs[i], sa, len) == 0)
			return 0;
	if (*n >= max)
		return -1;
	memset(&addrs[*n], 0, sizeof(addrs[*n]));
	memcpy(&addrs[*n], sa, len);
	(*n)++;
	return 0;
}

/*
 * The addresses of a listener, ports not set yet.  *optional: an
 * address that cannot be bound (no IPv6 on this host) is skipped with
 * a warning rather than fatal, as long as one of them is bound.
 */
static int
smtp_resolve(const struct config_listener *cl, struct sockaddr_storage *addrs,
    int max, int *optional)
{
	struct addrinfo		 hints, *res, *ai;
	struct ifaddrs		*ifap, *ifa;
	struct sockaddr_in	 sin;
	struct sockaddr_in6	 sin6;
	int			 n = 0, error;

	*optional = 1;
	memset(&sin, 0, sizeof(sin));
	memset(&sin6, 0, sizeof(sin6));
	sin.sin_family = AF_INET;
	sin6.sin6_family = AF_INET6;
	switch (cl->kind) {
	case LISTEN_LOCALHOST:
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sin6.sin6_addr = in6addr_loopback;
		smtp_add_address(addrs, max, &n, (struct sockaddr *)&sin,
		    cl->family);
		smtp_add_address(addrs, max, &n, (struct sockaddr *)&sin6,
		    cl->family);
		break;
	case LISTEN_ALL:
		sin.sin_addr.s_addr = htonl(INADDR_ANY);
		sin6.sin6_addr = in6addr_any;
		smtp_add_address(addrs, max, &n, (struct sockaddr *)&sin,
		    cl->family);
		smtp_add_address(addrs, max, &n, (struct sockaddr *)&sin6,
		    cl->family);
		break;
	case LISTEN_ADDRESS:
		*optional = 0;
		memset(&hints, 0, sizeof(hints));
		hints.ai_family = cl->family;
		hints.ai_socktype = SOCK_STREAM;
		hints.ai_flags = AI_NUMERICHOST;
		if ((error = getaddrinfo(cl->on, NULL, &hints, &res)) != 0)
			fatalx("%s:%d: listen on %s: %s", cl->where.file,
			    cl->where.line, cl->on, gai_strerror(error));
		for (ai = res; ai != NULL; ai = ai->ai_next)
			smtp_add_address(addrs, max, &n, ai->ai_addr,
			    cl->family);
		freeaddrinfo(res);
		break;
	case LISTEN_INTERFACE:
		if (getifaddrs(&ifap) == -1)
			fatal("smtp: getifaddrs");
		for (ifa = ifap; ifa != NULL; ifa = ifa->ifa_next)
			if (strcmp(ifa->ifa_name, cl->on) == 0)
				smtp_add_address(addrs, max, &n, ifa->ifa_addr,
				    cl->family);
		freeifaddrs(ifap);
		if (n > 0)
			break;
		/* not an interface: a host name, resolved once now */
		memset(&hints, 0, sizeof(hints));
		hints.ai_family = cl->family;
		hints.ai_socktype = SOCK_STREAM;
		if ((error = getaddrinfo(cl->on, NULL, &hints, &res)) != 0)
			fatalx("%s:%d: listen on %s: not an interface nor a "
			    "host name (%s)", cl->where.file, cl->where.line,
			    cl->on, gai_strerror(error));
		for (ai = res; ai != NULL; ai = ai->ai_next)
			smtp_add_address(addrs, max, &n, ai->ai_addr,
			    cl->family);
		freeaddrinfo(res);
		break;
	case LISTEN_SOCKET:
		break;
	}
	if (n == 0)
		fatalx("%s:%d: listen on %s: no %saddress", cl->where.file,
		    cl->where.line, cl->on, cl->family == AF_INET ? "IPv4 " :
		    cl->family == AF_INET6 ? "IPv6 " : "");
	return n;
}

static int
smtp_bind(const struct config_listener *cl, const struct sockaddr_storage *a,
    int optional)
{
	struct sockaddr_storage	 ss = *a;
	struct smtp_socket	*sock;
	socklen_t		 len;
	char			 text[INET6_ADDRSTRLEN];
	int			 fd, on = 1, saved;

	smtp_ss_to_text(&ss, text, sizeof(text));
	if (ss.ss_family == AF_INET) {
		((struct sockaddr_in *)&ss)->sin_port = htons(cl->port);
		len = sizeof(struct sockaddr_in);
	} else {
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(cl->port);
		len = sizeof(struct sockaddr_in6);
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1)
		goto fail;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1)
		goto fail;
	/* so that :: and 0.0.0.0 can both be bound */
	if (ss.ss_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6,
	    IPV6_V6ONLY, &on, sizeof(on)) == -1)
		goto fail;
	if (bind(fd, (struct sockaddr *)&ss, len) == -1)
		goto fail;
	if (listen(fd, SMTP_BACKLOG) == -1)
		goto fail;
	if ((sock = calloc(1, sizeof(*sock))) == NULL)
		fatal("smtp: listener");
	sock->fd = fd;
	sock->l.conf = cl;
	sock->l.hostname = cl->hostname != NULL ? cl->hostname :
	    smtpd_env.hostname;
	sock->l.tag = cl->tag;
	sock->l.mask_src = cl->mask_src;
	sock->l.ss = ss;
	if ((sock->ev = event_new(proc_base, fd, EV_READ | EV_PERSIST,
	    smtp_accept, sock)) == NULL)
		fatalx("smtp: event_new");
	TAILQ_INSERT_TAIL(&sockets, sock, entry);
	log_debug("smtp: listening on %s port %u", text, cl->port);
	return 0;

fail:
	saved = errno;
	if (fd != -1)
		close(fd);
	errno = saved;
	if (optional && ss.ss_family == AF_INET6 && (errno == EADDRNOTAVAIL ||
	    errno == EAFNOSUPPORT)) {
		log_warn("smtp: listen on %s: skipping %s port %u", cl->on,
		    text, cl->port);
		return -1;
	}
	fatal("%s:%d: listen on %s: cannot listen on %s port %u",
	    cl->where.file, cl->where.line, cl->on, text, cl->port);
}

/* Accept while there is room; each connection becomes a session. */
static void
smtp_accept(int fd, short events, void *arg)
{
	struct smtp_socket	*sock = arg;
	struct sockaddr_storage	 ss, local;
	struct timeval		 tv = { 1, 0 };
	socklen_t		 len;
	int			 i, s;

	for (i = 0; i < SMTP_ACCEPT_BATCH; i++) {
		if (smtp_session_count() >= max_sessions) {
			smtp_update();
			return;
		}
		len = sizeof(ss);
		memset(&ss, 0, sizeof(ss));
		s = accept4(fd, (struct sockaddr *)&ss, &len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (s == -1) {
			if (errno == EMFILE || errno == ENFILE) {
				log_warn("smtp: accept: pausing for a second");
				backoff = 1;
				evtimer_add(backoff_ev, &tv);
				smtp_update();
			} else if (errno != EAGAIN && errno != EINTR &&
			    errno != ECONNABORTED)
				log_warn("smtp: accept");
			return;
		}
		len = sizeof(local);
		memset(&local, 0, sizeof(local));
		if (getsockname(s, (struct sockaddr *)&local, &len) == -1)
			local = sock->l.ss;
		smtp_session_start(s, &sock->l, &ss, &local, 0);
	}
}

static void
smtp_backoff_end(int fd, short events, void *arg)
{
	backoff = 0;
	smtp_update();
}

/* Listen when nothing stops us, stop when something does. */
static void
smtp_update(void)
{
	struct smtp_socket	*sock;
	int			 want;

	want = !paused && !backoff && smtp_session_count() < max_sessions;
	TAILQ_FOREACH(sock, &sockets, entry) {
		if (want && !sock->active) {
			if (event_add(sock->ev, NULL) == -1)
				fatalx("smtp: event_add");
			sock->active = 1;
		} else if (!want && sock->active) {
			event_del(sock->ev);
			sock->active = 0;
		}
	}
}

void
smtp_session_ended(void)
{
	smtp_update();
}

void
smtp_pause(void)
{
	paused = 1;
	smtp_update();
}

void
smtp_resume(void)
{
	paused = 0;
	smtp_update();
}

int
smtp_paused(void)
{
	return paused;
}

const struct smtp_listener *
smtp_local_listener(void)
{
	return &local_listener;
}

int
smtp_enqueue_session(uint32_t uid)
{
	struct sockaddr_storage	 none;
	int			 sv[2];

	/* blocking: the client's end is shared with smtpctl as it is */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1) {
		log_warn("smtp: local session: socketpair");
		return -1;
	}
	memset(&none, 0, sizeof(none));
	none.ss_family = AF_UNSPEC;
	smtp_session_start(sv[0], &local_listener, &none, &none, uid);
	return sv[1];
}
