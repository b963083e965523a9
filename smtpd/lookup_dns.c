/*
 * lookup_dns.c: reverse DNS of SMTP clients, with c-ares on the lookup
 * process's event loop.
 *
 * c-ares tells which sockets it wants watched (the sock_state callback)
 * and when it wants to be woken for its retries (ares_timeout); both
 * become libevent events.  The hosts file is read first ("fb" lookups),
 * so 127.0.0.1 is "localhost" without any DNS.  Each query also has
 * its own deadline: past it, or on any failure, the answer is 0 and the
 * session goes on with "unknown"; nothing ever waits on DNS.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <ares.h>
#include <ctype.h>
#include <event.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtpd-api.h"
#include "lookup.h"

struct rdns_socket {
	ares_socket_t		 fd;
	struct event		*ev;
	struct rdns_socket	*next;
};

struct rdns_query {
	lookup_rdns_cb		 cb;	/* NULL once answered or cancelled */
	void			*arg;
	struct event		*ev;	/* deadline, then the answer */
	int			 result;
	int			 ares_busy;	/* c-ares holds a pointer */
	char			 name[NI_MAXHOST];
};

static struct event_base	*rdns_base;
static ares_channel		 rdns_channel;
static int			 rdns_ready;
static struct event		*rdns_timer;
static struct rdns_socket	*rdns_sockets;

static void	rdns_sock_state(void *, ares_socket_t, int, int);
static void	rdns_on_socket(int, short, void *);
static void	rdns_on_timer(int, short, void *);
static void	rdns_rearm(void);
static void	rdns_on_host(void *, int, int, struct hostent *);
static void	rdns_on_event(int, short, void *);
static void	rdns_answer(struct rdns_query *, int, const char *);
static void	rdns_release(struct rdns_query *);
static int	rdns_name_valid(const char *);

int
lookup_rdns_init(struct event_base *base)
{
	struct ares_options	 opts;
	int			 r, mask;

	rdns_base = base;
	if ((r = ares_library_init(ARES_LIB_INIT_ALL)) != ARES_SUCCESS) {
		log_warnx("rdns: c-ares: %s", ares_strerror(r));
		return -1;
	}
	memset(&opts, 0, sizeof(opts));
	opts.sock_state_cb = rdns_sock_state;
	opts.sock_state_cb_data = NULL;
	opts.lookups = (char *)"fb";	/* the hosts file, then DNS */
	opts.timeout = LOOKUP_RDNS_TIMEOUT_MS / 3;
	opts.tries = 2;
	mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_LOOKUPS | ARES_OPT_TIMEOUTMS |
	    ARES_OPT_TRIES;
	if ((r = ares_init_options(&rdns_channel, &opts, mask)) !=
	    ARES_SUCCESS) {
		log_warnx("rdns: c-ares: %s; every client is \"unknown\"",
		    ares_strerror(r));
		return -1;
	}
	if ((rdns_timer = evtimer_new(base, rdns_on_timer, NULL)) == NULL) {
		ares_destroy(rdns_channel);
		return -1;
	}
	rdns_ready = 1;
	return 0;
}

int
lookup_rdns_servers(const char *csv)
{
	int	 r;

	if (!rdns_ready)
		return -1;
	if ((r = ares_set_servers_ports_csv(rdns_channel, csv)) !=
	    ARES_SUCCESS) {
		log_warnx("rdns: servers %s: %s", csv, ares_strerror(r));
		return -1;
	}
	return 0;
}

void *
lookup_rdns(const struct sockaddr_storage *ss, lookup_rdns_cb cb, void *arg)
{
	struct rdns_query		*q;
	const struct sockaddr_in6	*sin6;
	struct in_addr			 v4;
	struct timeval			 tv;

	if ((q = calloc(1, sizeof(*q))) == NULL)
		fatal("rdns query");
	q->cb = cb;
	q->arg = arg;
	if ((q->ev = evtimer_new(rdns_base, rdns_on_event, q)) == NULL)
		fatal("rdns query timer");
	tv.tv_sec = LOOKUP_RDNS_TIMEOUT_MS / 1000;
	tv.tv_usec = (LOOKUP_RDNS_TIMEOUT_MS % 1000) * 1000;
	evtimer_add(q->ev, &tv);

	switch (ss->ss_family) {
	case AF_INET:
		if (!rdns_ready)
			break;
		q->ares_busy = 1;
		ares_gethostbyaddr(rdns_channel,
		    &((const struct sockaddr_in *)ss)->sin_addr,
		    sizeof(struct in_addr), AF_INET, rdns_on_host, q);
		rdns_rearm();
		return q;
	case AF_INET6:
		if (!rdns_ready)
			break;
		sin6 = (const struct sockaddr_in6 *)ss;
		q->ares_busy = 1;
		/* ::ffff:192.0.2.1 is 192.0.2.1 for the hosts file too. */
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			memcpy(&v4, &sin6->sin6_addr.s6_addr[12], sizeof(v4));
			ares_gethostbyaddr(rdns_channel, &v4, sizeof(v4),
			    AF_INET, rdns_on_host, q);
		} else
			ares_gethostbyaddr(rdns_channel, &sin6->sin6_addr,
			    sizeof(struct in6_addr), AF_INET6, rdns_on_host,
			    q);
		rdns_rearm();
		return q;
	default:
		/* The local socket. */
		rdns_answer(q, 1, "localhost");
		return q;
	}
	rdns_answer(q, 0, "unknown");
	return q;
}

void
lookup_rdns_cancel(void *handle)
{
	struct rdns_query	*q = handle;

	if (q == NULL)
		return;
	q->cb = NULL;
	rdns_release(q);
}

/* c-ares may answer from inside ares_gethostbyaddr: always defer. */
static void
rdns_on_host(void *arg, int status, int timeouts, struct hostent *host)
{
	struct rdns_query	*q = arg;

	q->ares_busy = 0;
	if (q->cb == NULL) {
		rdns_release(q);
		return;
	}
	if (status == ARES_SUCCESS && host != NULL && host->h_name != NULL &&
	    rdns_name_valid(host->h_name))
		rdns_answer(q, 1, host->h_name);
	else {
		log_trace(TRACE_LOOKUP, "rdns: %s", ares_strerror(status));
		rdns_answer(q, 0, "unknown");
	}
}

/* Fix the answer; it is delivered by the query's event. */
static void
rdns_answer(struct rdns_query *q, int result, const char *name)
{
	q->result = result;
	strlcpy(q->name, name, sizeof(q->name));
	evtimer_del(q->ev);
	event_active(q->ev, EV_READ, 1);
}

/* EV_TIMEOUT: the deadline; EV_READ: the answer is there. */
static void
rdns_on_event(int fd, short events, void *arg)
{
	struct rdns_query	*q = arg;
	lookup_rdns_cb		 cb = q->cb;

	if (cb == NULL) {
		rdns_release(q);
		return;
	}
	if (!(events & EV_READ)) {
		log_trace(TRACE_LOOKUP, "rdns: deadline passed");
		q->result = 0;
		strlcpy(q->name, "unknown", sizeof(q->name));
	}
	q->cb = NULL;
	cb(q->result, q->name, q->arg);
	rdns_release(q);
}

/* Freed once nobody waits for it and c-ares is done with it. */
static void
rdns_release(struct rdns_query *q)
{
	if (q->cb != NULL || q->ares_busy)
		return;
	if (q->ev != NULL) {
		event_free(q->ev);
		q->ev = NULL;
	}
	free(q);
}

static void
rdns_sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
	struct rdns_socket	*s, **prev;
	short			 what = EV_PERSIST;

	for (prev = &rdns_sockets; (s = *prev) != NULL; prev = &s->next)
		if (s->fd == fd)
			break;
	if (s != NULL) {
		event_free(s->ev);
		s->ev = NULL;
	}
	if (!readable && !writable) {
		if (s != NULL) {
			*prev = s->next;
			free(s);
		}
		return;
	}
	if (s == NULL) {
		if ((s = calloc(1, sizeof(*s))) == NULL) {
			log_warn("rdns: socket");
			return;
		}
		s->fd = fd;
		s->next = rdns_sockets;
		rdns_sockets = s;
	}
	if (readable)
		what |= EV_READ;
	if (writable)
		what |= EV_WRITE;
	if ((s->ev = event_new(rdns_base, fd, what, rdns_on_socket, s)) ==
	    NULL || event_add(s->ev, NULL) == -1)
		log_warnx("rdns: cannot watch socket %d", fd);
}

static void
rdns_on_socket(int fd, short events, void *arg)
{
	ares_process_fd(rdns_channel,
	    (events & EV_READ) ? fd : ARES_SOCKET_BAD,
	    (events & EV_WRITE) ? fd : ARES_SOCKET_BAD);
	rdns_rearm();
}

static void
rdns_on_timer(int fd, short events, void *arg)
{
	ares_process_fd(rdns_channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	rdns_rearm();
}

/* Wake c-ares when its next retry or timeout is due. */
static void
rdns_rearm(void)
{
	struct timeval	 tv, *next;

	if (!rdns_ready)
		return;
	evtimer_del(rdns_timer);
	if ((next = ares_timeout(rdns_channel, NULL, &tv)) != NULL)
		evtimer_add(rdns_timer, next);
}

/* A host name as DNS may not guarantee: letters, digits, - . _ */
static int
rdns_name_valid(const char *name)
{
	size_t	 i;

	if (*name == '\0' || strlen(name) >= 256)
		return 0;
	for (i = 0; name[i] != '\0'; i++)
		if (!isalnum((unsigned char)name[i]) && name[i] != '-' &&
		    name[i] != '.' && name[i] != '_')
			return 0;
	return 1;
}
