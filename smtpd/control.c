/*
 * control.c: the control process.
 *
 * Owns the control socket that smtpctl, mailq, newaliases and sendmail
 * connect to.  It answers nothing about mail itself: each request is
 * checked (who asks, from SO_PEERCRED), given an id and forwarded to
 * the process that knows (control.h has the table), and the replies
 * are passed back to the client in order.  The counters of show stats
 * and monitor live here (control_stats.c).
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>

#include <errno.h>
#include <event.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "smtpd-api.h"
#include "control.h"
#include "frames.h"
#include "proc.h"

enum ctl_handler {
	H_PROC,			/* forwarded to targets */
	H_STATS,
	H_MONITOR,
	H_STATUS,		/* our line, then forwarded */
	H_LOG,
	H_TRACE,
	H_PROFILE,
	H_STOP,
};

struct ctl_verb {
	const char	*verb;
	int		 minargs;
	int		 maxargs;
	int		 anyone;	/* not only privileged requesters */
	enum ctl_handler handler;
	int		 ntargets;
	enum proc_id	 targets[2];	/* replies in this order; what the
					   second says is shown only when
					   it fails */
};

static const struct ctl_verb ctl_verbs[] = {
	{ "show queue",		0, 1, 1, H_PROC, 1, { PROC_QUEUE } },
	{ "show envelope",	1, 1, 0, H_PROC, 1, { PROC_QUEUE } },
	{ "show message",	1, 1, 0, H_PROC, 1, { PROC_QUEUE } },
	{ "schedule",		1, 1, 0, H_PROC, 1, { PROC_SCHEDULER } },
	{ "remove",		1, 1, 0, H_PROC, 1, { PROC_SCHEDULER } },
	{ "pause envelope",	1, 1, 0, H_PROC, 1, { PROC_SCHEDULER } },
	{ "resume envelope",	1, 1, 0, H_PROC, 1, { PROC_SCHEDULER } },
	{ "pause mda",		0, 0, 0, H_PROC, 2,
	    { PROC_SCHEDULER, PROC_NETWORK } },
	{ "resume mda",		0, 0, 0, H_PROC, 2,
	    { PROC_SCHEDULER, PROC_NETWORK } },
	{ "pause smtp",		0, 0, 0, H_PROC, 1, { PROC_NETWORK } },
	{ "resume smtp",	0, 0, 0, H_PROC, 1, { PROC_NETWORK } },
	{ "show status",	0, 0, 0, H_STATUS, 1, { PROC_SCHEDULER } },
	{ "update table",	1, 1, 0, H_PROC, 1, { PROC_LOOKUP } },
	{ "show stats",		0, 0, 0, H_STATS, 0, { 0 } },
	{ "monitor",		0, 0, 0, H_MONITOR, 0, { 0 } },
	{ "log",		1, 1, 0, H_LOG, 0, { 0 } },
	{ "trace",		1, 1, 0, H_TRACE, 0, { 0 } },
	{ "untrace",		1, 1, 0, H_TRACE, 0, { 0 } },
	{ "profile",		1, 1, 0, H_PROFILE, 0, { 0 } },
	{ "unprofile",		1, 1, 0, H_PROFILE, 0, { 0 } },
	{ "stop",		0, 0, 0, H_STOP, 0, { 0 } },
};

struct ctl_client {
	TAILQ_ENTRY(ctl_client)	 entry;
	int			 fd;
	struct imsgbuf		*ibuf;
	struct event		 ev_read;
	struct event		 ev_write;
	int			 writing;
	int			 closing;	/* ev_close will free it */
	struct event		 ev_close;
	uid_t			 uid;
	pid_t			 pid;
	int			 privileged;
	int			 nrequests;
	/* monitor */
	int			 monitor;
	uint64_t		 monitor_id;
	unsigned int		 monitor_lines;
	struct control_sample	 monitor_last;
};

/* A reply of a later target, held until the earlier ones are done. */
struct ctl_held {
	TAILQ_ENTRY(ctl_held)	 entry;
	int32_t			 result;
	int			 more;
	size_t			 len;
	char			*data;
};
TAILQ_HEAD(ctl_held_list, ctl_held);

struct ctl_request {
	TAILQ_ENTRY(ctl_request) entry;
	uint64_t		 ctlid;
	uint64_t		 client_id;
	struct ctl_client	*client;
	const struct ctl_verb	*verb;		/* NULL: smtp session */
	int			 cur;		/* target replying now */
	int			 done[2];
	struct ctl_held_list	 held[2];
	struct event		 ev_timeout;
};
TAILQ_HEAD(ctl_request_list, ctl_request);

static void	control_listen(void);
static void	control_on_accept(int, short, void *);
static void	control_on_accept_pause(int, short, void *);
static void	control_client_new(int);
static void	control_client_free(struct ctl_client *, const char *);
static void	control_client_close(struct ctl_client *, const char *);
static void	control_on_client_close(int, short, void *);
static void	control_on_client_read(int, short, void *);
static void	control_on_client_write(int, short, void *);
static void	control_client_frame(struct ctl_client *, struct imsg *);
static void	control_client_request(struct ctl_client *, struct imsg *);
static void	control_client_session(struct ctl_client *, struct imsg *);
static void	control_reply(struct ctl_client *, uint64_t, int32_t,
		    const void *, size_t, int);
static void	control_reply_text(struct ctl_client *, uint64_t, int32_t,
		    const char *, int);
static void	control_client_flush(struct ctl_client *);
static const struct ctl_verb *control_verb_find(const char *);
static int	control_split_args(char *, char **, int);
static struct ctl_request *control_request_new(struct ctl_client *,
		    uint64_t, const struct ctl_verb *);
static void	control_request_free(struct ctl_request *);
static struct ctl_request *control_request_find(uint64_t);
static void	control_request_arm(struct ctl_request *);
static void	control_on_timeout(int, short, void *);
static void	control_forward(struct ctl_client *, uint64_t,
		    const struct ctl_verb *, const char *);
static void	control_proc_reply(enum proc_id, struct imsg *,
		    struct msg_reader *);
static void	control_request_advance(struct ctl_request *);
static int	control_pass(struct ctl_request *, int, int32_t,
		    const void *, size_t, int);
static void	control_session_reply(enum proc_id, struct imsg *,
		    struct msg_reader *);
static void	control_session_send(struct ctl_client *, uint64_t, int32_t,
		    const char *, int);
static void	control_session_failed(struct ctl_request *, const char *);
static void	control_stats_reply(struct ctl_client *, uint64_t);
static void	control_monitor_start(struct ctl_client *, uint64_t);
static void	control_on_monitor_tick(int, short, void *);
static void	control_log(struct ctl_client *, uint64_t, const char *);
static void	control_trace(struct ctl_client *, uint64_t,
		    const struct ctl_verb *, const char *);
static void	control_stop(struct ctl_client *, uint64_t);
static void	control_stat_frame(enum proc_id, struct msg_reader *);
static void	control_dispatch(enum proc_id, struct imsg *,
		    struct msg_reader *);
static int	control_get_u64(struct msg_reader *, uint64_t *);
static int	control_get_text(struct msg_reader *, const void **, size_t *,
		    char **);

static TAILQ_HEAD(, ctl_client) clients = TAILQ_HEAD_INITIALIZER(clients);
static struct ctl_request_list	 requests =
				    TAILQ_HEAD_INITIALIZER(requests);
static int			 listen_fd = -1;
static struct event		 ev_accept;
static struct event		 ev_accept_pause;
static struct event		 ev_monitor;
static unsigned int		 nclients;
static unsigned int		 nmonitors;
static uint64_t			 next_ctlid = 1;
static int			 stats_full_logged;
/* pause smtp as last answered by network (smtpd -P smtp at start) */
static int			 smtp_paused;

void
control_main(void)
{
	proc_init(PROC_CONTROL);
	smtp_paused = smtpd_env.paused_smtp;
	control_listen();
	proc_drop_privileges(PROC_CHROOT_DIR);

	event_assign(&ev_accept, proc_base, listen_fd, EV_READ | EV_PERSIST,
	    control_on_accept, NULL);
	evtimer_assign(&ev_accept_pause, proc_base, control_on_accept_pause,
	    NULL);
	evtimer_assign(&ev_monitor, proc_base, control_on_monitor_tick, NULL);
	if (event_add(&ev_accept, NULL) == -1)
		fatalx("control: event_add");
	proc_loop(control_dispatch);
}

/*
 * Bound before the privilege drop: the system socket lives in
 * /var/run, outside the chroot.  0666 because anyone may ask; what
 * they may do is decided per request.
 */
static void
control_listen(void)
{
	struct sockaddr_un	 sun;
	mode_t			 old;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, smtpd_env.sockpath, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path))
		fatalx("control: socket path too long: %s",
		    smtpd_env.sockpath);
	if ((listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1)
		fatal("control: socket");
	/* The parent found nobody listening there: what is left is stale. */
	if (unlink(smtpd_env.sockpath) == -1 && errno != ENOENT)
		fatal("control: unlink %s", smtpd_env.sockpath);
	old = umask(S_IXUSR | S_IXGRP | S_IXOTH);
	if (bind(listen_fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		fatal("control: bind %s", smtpd_env.sockpath);
	umask(old);
	if (chmod(smtpd_env.sockpath, 0666) == -1)
		fatal("control: chmod %s", smtpd_env.sockpath);
	if (listen(listen_fd, CONTROL_MAX_CLIENTS) == -1)
		fatal("control: listen %s", smtpd_env.sockpath);
	log_debug("control: listening on %s", smtpd_env.sockpath);
}

static void
control_on_accept(int fd, short events, void *arg)
{
	struct timeval	 tv = { 1, 0 };
	int		 s;

	if ((s = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK |
	    SOCK_CLOEXEC)) == -1) {
		if (errno == EAGAIN || errno == EINTR ||
		    errno == ECONNABORTED)
			return;
		/* Out of descriptors: try again in a second. */
		log_warn("control: accept");
		event_del(&ev_accept);
		evtimer_add(&ev_accept_pause, &tv);
		return;
	}
	control_client_new(s);
	if (nclients >= CONTROL_MAX_CLIENTS)
		event_del(&ev_accept);
}

static void
control_on_accept_pause(int fd, short events, void *arg)
{
	if (nclients < CONTROL_MAX_CLIENTS &&
	    event_add(&ev_accept, NULL) == -1)
		fatalx("control: event_add");
}

static void
control_client_new(int s)
{
	struct ctl_client	*c;
	struct ucred		 cred;
	socklen_t		 len = sizeof(cred);

	if (getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1) {
		log_warn("control: SO_PEERCRED");
		close(s);
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->ibuf = imsgbuf_new(s)) == NULL) {
		log_warn("control: new client");
		free(c);
		close(s);
		return;
	}
	c->fd = s;
	c->uid = cred.uid;
	c->pid = cred.pid;
	c->privileged = cred.uid == 0 || cred.uid == smtpd_env.smtpd_uid;
	event_assign(&c->ev_read, proc_base, s, EV_READ | EV_PERSIST,
	    control_on_client_read, c);
	event_assign(&c->ev_write, proc_base, s, EV_WRITE,
	    control_on_client_write, c);
	evtimer_assign(&c->ev_close, proc_base, control_on_client_close, c);
	if (event_add(&c->ev_read, NULL) == -1)
		fatalx("control: event_add");
	TAILQ_INSERT_TAIL(&clients, c, entry);
	nclients++;
	control_stats_add("control.session", 1);
	log_debug("control: client pid %d uid %u connected%s", (int)c->pid,
	    (unsigned int)c->uid, c->privileged ? " (privileged)" : "");
}

static void
control_client_free(struct ctl_client *c, const char *why)
{
	struct ctl_request	*req, *next;

	log_debug("control: client pid %d: %s", (int)c->pid, why);
	TAILQ_FOREACH_SAFE(req, &requests, entry, next)
		if (req->client == c)
			control_request_free(req);
	if (c->monitor && --nmonitors == 0)
		evtimer_del(&ev_monitor);
	event_del(&c->ev_read);
	event_del(&c->ev_write);
	evtimer_del(&c->ev_close);
	imsgbuf_free(c->ibuf);
	close(c->fd);
	TAILQ_REMOVE(&clients, c, entry);
	free(c);
	control_stats_add("control.session", -1);
	if (nclients-- == CONTROL_MAX_CLIENTS &&
	    !evtimer_pending(&ev_accept_pause, NULL) &&
	    event_add(&ev_accept, NULL) == -1)
		fatalx("control: event_add");
}

/*
 * Drop a client from inside a reply: it is freed from the event loop,
 * since the caller may still hold one of its requests.
 */
static void
control_client_close(struct ctl_client *c, const char *why)
{
	struct timeval	 tv = { 0, 0 };

	if (c->closing)
		return;
	log_warnx("control: client pid %d dropped: %s", (int)c->pid, why);
	c->closing = 1;
	event_del(&c->ev_read);
	event_del(&c->ev_write);
	c->writing = 0;
	evtimer_add(&c->ev_close, &tv);
}

static void
control_on_client_close(int fd, short events, void *arg)
{
	control_client_free(arg, "dropped");
}

static void
control_on_client_read(int fd, short events, void *arg)
{
	struct ctl_client	*c = arg;
	struct imsg		 imsg;
	struct timespec		 t0, t1;
	ssize_t			 n;
	int			 r;

	n = imsgbuf_read(c->ibuf);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		control_client_free(c, n == 0 ? "closed" : strerror(errno));
		return;
	}
	for (;;) {
		if ((r = imsg_get(c->ibuf, &imsg)) == -1) {
			log_warnx("control: client pid %d: %s", (int)c->pid,
			    imsgbuf_error(c->ibuf));
			control_client_free(c, "bad frame");
			return;
		}
		if (r == 0)
			return;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		control_client_frame(c, &imsg);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		/* the same form as proc.c's lines */
		log_trace(PROFILE_IMSG, "profile: imsg: control <- client: "
		    "%s (%u), %zu bytes, %lld us",
		    proc_frame_name(imsg.hdr.type), imsg.hdr.type,
		    imsg.datalen, (long long)(t1.tv_sec - t0.tv_sec) *
		    1000000 + (t1.tv_nsec - t0.tv_nsec) / 1000);
		imsg_free(&imsg);
		if (c->closing)
			return;
	}
}

static void
control_on_client_write(int fd, short events, void *arg)
{
	struct ctl_client	*c = arg;

	c->writing = 0;
	switch (imsgbuf_write(c->ibuf)) {
	case 1:
		return;
	case 0:
		break;
	default:
		if (errno != EAGAIN && errno != EINTR) {
			control_client_free(c, strerror(errno));
			return;
		}
	}
	if (event_add(&c->ev_write, NULL) == -1)
		fatalx("control: event_add");
	c->writing = 1;
}

static void
control_client_flush(struct ctl_client *c)
{
	if (c->closing)
		return;
	if (imsgbuf_queued(c->ibuf) > CONTROL_CLIENT_QUEUED) {
		control_client_close(c, "reads its replies too slowly");
		return;
	}
	if (!c->writing) {
		if (event_add(&c->ev_write, NULL) == -1)
			fatalx("control: event_add");
		c->writing = 1;
	}
}

static void
control_client_frame(struct ctl_client *c, struct imsg *imsg)
{
	switch (imsg->hdr.type) {
	case IMSG_CTL_REQUEST:
		control_client_request(c, imsg);
		break;
	case IMSG_CTL_SMTP_SESSION:
		control_client_session(c, imsg);
		break;
	default:
		if (imsg->fd != -1)
			close(imsg->fd);
		log_warnx("control: client pid %d sent frame %u", (int)c->pid,
		    imsg->hdr.type);
		control_client_close(c, "unexpected frame");
		return;
	}
}

/* Reply to a client; data is cut into frames that fit. */
static void
control_reply(struct ctl_client *c, uint64_t id, int32_t result,
    const void *data, size_t len, int more)
{
	const size_t	 chunk = IMSG_MAX_BODY - 64;
	struct msg	 m;
	const char	*p = data;
	size_t		 n;

	if (c->closing)
		return;
	msg_init(&m);
	do {
		n = len > chunk ? chunk : len;
		msg_reset(&m);
		msg_add_uint64(&m, id);
		msg_add_int32(&m, result);
		msg_add_data(&m, p, n);
		msg_add_int32(&m, (len > n || more) ? 1 : 0);
		if (msg_error(&m) != 0 ||
		    imsg_compose(c->ibuf, IMSG_CTL_REPLY, 0, 0, -1, m.buf,
		    m.len) == -1) {
			log_warn("control: reply to pid %d", (int)c->pid);
			break;
		}
		p += n;
		len -= n;
	} while (len > 0);
	msg_free(&m);
	control_client_flush(c);
}

static void
control_reply_text(struct ctl_client *c, uint64_t id, int32_t result,
    const char *text, int more)
{
	control_reply(c, id, result, text, strlen(text), more);
}

static const struct ctl_verb *
control_verb_find(const char *verb)
{
	size_t	 i;

	for (i = 0; i < sizeof(ctl_verbs) / sizeof(ctl_verbs[0]); i++)
		if (strcmp(ctl_verbs[i].verb, verb) == 0)
			return &ctl_verbs[i];
	return NULL;
}

/* Blank-separated words of s, in place; their count, or max + 1. */
static int
control_split_args(char *s, char **argv, int max)
{
	char	*word;
	int	 n = 0;

	while ((word = strsep(&s, " \t")) != NULL) {
		if (*word == '\0')
			continue;
		if (n == max)
			return max + 1;
		argv[n++] = word;
	}
	return n;
}

static void
control_client_request(struct ctl_client *c, struct imsg *imsg)
{
	struct msg_reader	 r;
	const struct ctl_verb	*v;
	uint64_t		 id;
	uint32_t		 uid;
	char			*verb = NULL, *args = NULL, *argv[2];
	char			 copy[CONTROL_ARGS_MAX], text[256];
	int			 argc;

	msg_reader_init(&r, imsg->data, imsg->datalen);
	if (control_get_u64(&r, &id) == -1 ||
	    msg_get_string(&r, &verb) == -1 ||
	    msg_get_string(&r, &args) == -1 ||
	    msg_get_uint32(&r, &uid) == -1 || msg_end(&r) == -1) {
		log_warnx("control: client pid %d: bad request: %s",
		    (int)c->pid, msg_reader_error(&r));
		free(verb);
		free(args);
		control_client_close(c, "bad request");
		return;
	}
	if (imsg->fd != -1)
		close(imsg->fd);

	if ((v = control_verb_find(verb)) == NULL) {
		snprintf(text, sizeof(text), "unknown request: %.64s\n", verb);
		control_reply_text(c, id, 0, text, 0);
		goto done;
	}
	if (strlcpy(copy, args, sizeof(copy)) >= sizeof(copy)) {
		control_reply_text(c, id, 0, "arguments too long\n", 0);
		goto done;
	}
	argc = control_split_args(copy, argv, 2);
	if (argc < v->minargs || argc > v->maxargs) {
		snprintf(text, sizeof(text), "%s: %s\n", v->verb,
		    argc < v->minargs ? "argument missing" :
		    "too many arguments");
		control_reply_text(c, id, 0, text, 0);
		goto done;
	}
	if (!v->anyone && !c->privileged) {
		log_info("control: %s refused to uid %u: permission denied",
		    v->verb, (unsigned int)c->uid);
		control_reply_text(c, id, 0, "permission denied\n", 0);
		goto done;
	}
	if (c->nrequests >= CONTROL_CLIENT_REQUESTS) {
		control_reply_text(c, id, -1, "too many requests under "
		    "way\n", 0);
		goto done;
	}
	log_debug("control: uid %u: %s%s%s", (unsigned int)c->uid, v->verb,
	    argc > 0 ? " " : "", argc > 0 ? args : "");

	switch (v->handler) {
	case H_STATUS:
		control_reply_text(c, id, 1, smtp_paused ? "smtp paused\n" :
		    "smtp running\n", 1);
		/* FALLTHROUGH */
	case H_PROC:
		control_forward(c, id, v, argc > 0 ? argv[0] : "");
		break;
	case H_STATS:
		control_stats_reply(c, id);
		break;
	case H_MONITOR:
		control_monitor_start(c, id);
		break;
	case H_LOG:
		control_log(c, id, argv[0]);
		break;
	case H_TRACE:
	case H_PROFILE:
		control_trace(c, id, v, argv[0]);
		break;
	case H_STOP:
		control_stop(c, id);
		break;
	}
done:
	free(verb);
	free(args);
}

static struct ctl_request *
control_request_new(struct ctl_client *c, uint64_t id,
    const struct ctl_verb *v)
{
	struct ctl_request	*req;

	if ((req = calloc(1, sizeof(*req))) == NULL) {
		log_warn("control: request");
		control_reply_text(c, id, -1, "out of memory\n", 0);
		return NULL;
	}
	req->ctlid = next_ctlid++;
	req->client_id = id;
	req->client = c;
	req->verb = v;
	TAILQ_INIT(&req->held[0]);
	TAILQ_INIT(&req->held[1]);
	evtimer_assign(&req->ev_timeout, proc_base, control_on_timeout, req);
	c->nrequests++;
	return req;
}

static void
control_request_free(struct ctl_request *req)
{
	struct ctl_held		*h;
	int			 i;

	TAILQ_REMOVE(&requests, req, entry);
	evtimer_del(&req->ev_timeout);
	for (i = 0; i < 2; i++)
		while ((h = TAILQ_FIRST(&req->held[i])) != NULL) {
			TAILQ_REMOVE(&req->held[i], h, entry);
			free(h->data);
			free(h);
		}
	if (req->client != NULL)
		req->client->nrequests--;
	free(req);
}

static struct ctl_request *
control_request_find(uint64_t ctlid)
{
	struct ctl_request	*req;

	TAILQ_FOREACH(req, &requests, entry)
		if (req->ctlid == ctlid)
			return req;
	return NULL;
}

static void
control_request_arm(struct ctl_request *req)
{
	struct timeval	 tv = { CONTROL_REQUEST_TIMEOUT, 0 };

	evtimer_add(&req->ev_timeout, &tv);
}

/*
 * A process that does not answer must not leave the client waiting
 * forever; its late replies are then dropped (unknown ctlid).
 */
static void
control_on_timeout(int fd, short events, void *arg)
{
	struct ctl_request	*req = arg;
	char			 text[128];
	const char		*who;

	if (req->verb == NULL)
		who = proc_name(PROC_NETWORK);
	else
		who = proc_name(req->verb->targets[req->cur]);
	log_warnx("control: %s did not answer \"%s\" within %ds", who,
	    req->verb != NULL ? req->verb->verb : "smtp session",
	    CONTROL_REQUEST_TIMEOUT);
	snprintf(text, sizeof(text), "the %s process did not answer, try "
	    "again later\n", who);
	if (req->verb == NULL)
		control_session_failed(req, text);
	else
		control_reply_text(req->client, req->client_id, -1, text, 0);
	control_request_free(req);
}

static void
control_forward(struct ctl_client *c, uint64_t id, const struct ctl_verb *v,
    const char *arg)
{
	struct ctl_request	*req;
	struct msg		 m;
	int			 i;

	if ((req = control_request_new(c, id, v)) == NULL)
		return;
	TAILQ_INSERT_TAIL(&requests, req, entry);
	msg_init(&m);
	msg_add_uint64(&m, req->ctlid);
	msg_add_string(&m, v->verb);
	msg_add_string(&m, arg);
	msg_add_uint32(&m, (uint32_t)c->uid);
	for (i = 0; i < v->ntargets; i++)
		proc_send(v->targets[i], IMSG_CTL_REQUEST, &m, -1);
	msg_free(&m);
	control_request_arm(req);
}

/*
 * IMSG_CTL_REPLY from a process: passed on if it is the turn of that
 * process, else held until the earlier ones are done.
 */
static void
control_proc_reply(enum proc_id from, struct imsg *imsg,
    struct msg_reader *r)
{
	struct ctl_request	*req;
	struct ctl_held		*h;
	const void		*data;
	char			*str = NULL;
	uint64_t		 ctlid;
	size_t			 len;
	int32_t			 result, more;
	int			 i;

	if (control_get_u64(r, &ctlid) == -1 ||
	    msg_get_int32(r, &result) == -1 ||
	    control_get_text(r, &data, &len, &str) == -1 ||
	    msg_get_int32(r, &more) == -1 || msg_end(r) == -1)
		fatalx("control: bad IMSG_CTL_REPLY from %s: %s",
		    proc_name(from), msg_reader_error(r));
	if ((req = control_request_find(ctlid)) == NULL || req->verb == NULL)
		goto out;
	for (i = 0; i < req->verb->ntargets; i++)
		if (req->verb->targets[i] == from && !req->done[i])
			break;
	if (i == req->verb->ntargets) {
		log_warnx("control: unexpected reply from %s for \"%s\"",
		    proc_name(from), req->verb->verb);
		goto out;
	}
	if (from == PROC_NETWORK && result == 1 &&
	    strcmp(req->verb->verb, "pause smtp") == 0)
		smtp_paused = 1;
	if (from == PROC_NETWORK && result == 1 &&
	    strcmp(req->verb->verb, "resume smtp") == 0)
		smtp_paused = 0;
	if (!more)
		req->done[i] = 1;
	if (i != req->cur) {
		if ((h = calloc(1, sizeof(*h))) == NULL ||
		    (len > 0 && (h->data = malloc(len)) == NULL)) {
			log_warn("control: held reply");
			free(h);
			control_reply_text(req->client, req->client_id, -1,
			    "out of memory\n", 0);
			control_request_free(req);
			goto out;
		}
		if (len > 0)
			memcpy(h->data, data, len);
		h->len = len;
		h->result = result;
		h->more = more;
		TAILQ_INSERT_TAIL(&req->held[i], h, entry);
		goto out;
	}
	if (control_pass(req, i, result, data, len, more)) {
		control_request_free(req);
		goto out;
	}
	control_request_arm(req);
	if (!more)
		control_request_advance(req);
out:
	free(str);
}

/*
 * One reply of target i to the client.  What a second target says is
 * shown only when it fails: "pause mda" is the scheduler's answer, the
 * network's is a formality.  Returns 1 when it was the last.
 */
static int
control_pass(struct ctl_request *req, int i, int32_t result,
    const void *data, size_t len, int more)
{
	int	 last = !more && i == req->verb->ntargets - 1;

	if (i > 0 && result == 1)
		len = 0;
	if (len > 0 || last)
		control_reply(req->client, req->client_id, result, data, len,
		    !last);
	return last;
}

/* The current target is done: pass on what the next ones said. */
static void
control_request_advance(struct ctl_request *req)
{
	struct ctl_held	*h;
	int		 last;

	while (++req->cur < req->verb->ntargets) {
		while ((h = TAILQ_FIRST(&req->held[req->cur])) != NULL) {
			TAILQ_REMOVE(&req->held[req->cur], h, entry);
			last = control_pass(req, req->cur, h->result, h->data,
			    h->len, h->more);
			free(h->data);
			free(h);
			if (last) {
				control_request_free(req);
				return;
			}
		}
		if (!req->done[req->cur])
			return;
	}
}

/*
 * sendmail: the network process makes a local session and gives one
 * end of it; the client gets that descriptor.  Anyone may ask.
 */
static void
control_client_session(struct ctl_client *c, struct imsg *imsg)
{
	struct msg_reader	 r;
	struct ctl_request	*req;
	struct msg		 m;
	uint64_t		 id;
	uint32_t		 uid;

	msg_reader_init(&r, imsg->data, imsg->datalen);
	if (control_get_u64(&r, &id) == -1 ||
	    msg_get_uint32(&r, &uid) == -1 || msg_end(&r) == -1) {
		log_warnx("control: client pid %d: bad session request: %s",
		    (int)c->pid, msg_reader_error(&r));
		control_client_close(c, "bad request");
		return;
	}
	if (imsg->fd != -1)
		close(imsg->fd);
	if ((req = control_request_new(c, id, NULL)) == NULL)
		return;
	TAILQ_INSERT_TAIL(&requests, req, entry);
	msg_init(&m);
	msg_add_uint64(&m, req->ctlid);
	msg_add_uint32(&m, (uint32_t)c->uid);
	proc_send(PROC_NETWORK, IMSG_CTL_SMTP_SESSION, &m, -1);
	msg_free(&m);
	control_request_arm(req);
}

static void
control_session_reply(enum proc_id from, struct imsg *imsg,
    struct msg_reader *r)
{
	struct ctl_request	*req;
	uint64_t		 ctlid;
	int32_t			 result;
	int			 fd = imsg->fd;

	if (from != PROC_NETWORK || control_get_u64(r, &ctlid) == -1 ||
	    msg_get_int32(r, &result) == -1 || msg_end(r) == -1)
		fatalx("control: bad IMSG_CTL_SMTP_SESSION from %s: %s",
		    proc_name(from), msg_reader_error(r));
	imsg->fd = -1;		/* ours now */
	if ((req = control_request_find(ctlid)) == NULL || req->verb != NULL) {
		if (fd != -1)
			close(fd);
		return;
	}
	if (result == 1 && fd != -1)
		control_session_send(req->client, req->client_id, 1, "", fd);
	else {
		if (fd != -1)
			close(fd);
		control_session_failed(req, "no local SMTP session "
		    "available, try again later");
	}
	control_request_free(req);
}

static void
control_session_failed(struct ctl_request *req, const char *why)
{
	char	 text[256];
	size_t	 len;

	/* one line, without the LF the text replies carry */
	strlcpy(text, why, sizeof(text));
	len = strlen(text);
	if (len > 0 && text[len - 1] == '\n')
		text[len - 1] = '\0';
	control_session_send(req->client, req->client_id, -1, text, -1);
}

static void
control_session_send(struct ctl_client *c, uint64_t id, int32_t result,
    const char *text, int fd)
{
	struct msg	 m;

	if (c->closing) {
		if (fd != -1)
			close(fd);
		return;
	}
	msg_init(&m);
	msg_add_uint64(&m, id);
	msg_add_int32(&m, result);
	msg_add_string(&m, text);
	if (msg_error(&m) != 0 || imsg_compose(c->ibuf, IMSG_CTL_SMTP_SESSION,
	    0, 0, fd, m.buf, m.len) == -1) {
		log_warn("control: session for pid %d", (int)c->pid);
		if (fd != -1)
			close(fd);
	}
	msg_free(&m);
	control_client_flush(c);
}

static void
control_stats_reply(struct ctl_client *c, uint64_t id)
{
	char	*text;

	if ((text = control_stats_render(time(NULL) -
	    smtpd_env.start_time)) == NULL) {
		control_reply_text(c, id, -1, "out of memory\n", 0);
		return;
	}
	control_reply_text(c, id, 1, text, 0);
	free(text);
}

/* The request never ends: the client closes when it has seen enough. */
static void
control_monitor_start(struct ctl_client *c, uint64_t id)
{
	struct timeval	 tv = { 1, 0 };

	if (c->monitor) {
		control_reply_text(c, id, 0, "already monitoring\n", 0);
		return;
	}
	c->monitor = 1;
	c->monitor_id = id;
	c->monitor_lines = 0;
	control_stats_sample(&c->monitor_last);
	control_reply_text(c, id, 1, control_stats_monitor_header(), 1);
	if (nmonitors++ == 0)
		evtimer_add(&ev_monitor, &tv);
}

static void
control_on_monitor_tick(int fd, short events, void *arg)
{
	struct timeval		 tv = { 1, 0 };
	struct ctl_client	*c, *next;
	struct control_sample	 now;
	char			 line[256];

	control_stats_sample(&now);
	TAILQ_FOREACH_SAFE(c, &clients, entry, next) {
		if (!c->monitor)
			continue;
		if (c->monitor_lines > 0 && c->monitor_lines % 25 == 0)
			control_reply_text(c, c->monitor_id, 1,
			    control_stats_monitor_header(), 1);
		control_stats_monitor_line(&c->monitor_last, &now, line,
		    sizeof(line));
		c->monitor_last = now;
		c->monitor_lines++;
		control_reply_text(c, c->monitor_id, 1, line, 1);
	}
	if (nmonitors > 0)
		evtimer_add(&ev_monitor, &tv);
}

static void
control_log(struct ctl_client *c, uint64_t id, const char *level)
{
	struct msg	 m;
	int32_t		 verbose;

	if (strcmp(level, "verbose") == 0)
		verbose = 1;
	else if (strcmp(level, "brief") == 0)
		verbose = 0;
	else {
		control_reply_text(c, id, 0, "log: expected verbose or "
		    "brief\n", 0);
		return;
	}
	msg_init(&m);
	msg_add_int32(&m, verbose);
	proc_send(PROC_PARENT, IMSG_PARENT_LOG_VERBOSE, &m, -1);
	msg_free(&m);
	control_reply_text(c, id, 1, verbose ? "logging verbose\n" :
	    "logging brief\n", 0);
}

/*
 * trace/untrace and profile/unprofile change bits of the one mask the
 * parent hands every process.  Ours is updated at once so that two
 * quick requests do not undo each other.
 */
static void
control_trace(struct ctl_client *c, uint64_t id, const struct ctl_verb *v,
    const char *what)
{
	struct msg	 m;
	char		 text[128];
	uint32_t	 bit, mask;
	int		 on = v->verb[0] != 'u';

	if (v->handler == H_PROFILE) {
		if (strcmp(what, "imsg") == 0)
			bit = PROFILE_IMSG;
		else if (strcmp(what, "queue") == 0)
			bit = PROFILE_QUEUE;
		else
			bit = 0;
	} else
		bit = log_trace_from_name(what);
	if (bit == 0) {
		snprintf(text, sizeof(text), "%s: unknown %s: %.64s\n",
		    v->verb, v->handler == H_PROFILE ? "profile (imsg or "
		    "queue)" : "subsystem", what);
		control_reply_text(c, id, 0, text, 0);
		return;
	}
	mask = log_gettrace();
	mask = on ? (mask | bit) : (mask & ~bit);
	log_settrace(mask);
	msg_init(&m);
	msg_add_uint32(&m, mask);
	proc_send(PROC_PARENT, IMSG_PARENT_TRACE, &m, -1);
	msg_free(&m);
	snprintf(text, sizeof(text), "%s %s\n", v->handler == H_PROFILE ?
	    (on ? "profiling" : "no longer profiling") :
	    (on ? "tracing" : "no longer tracing"), what);
	control_reply_text(c, id, 1, text, 0);
}

/*
 * The answer goes out before the parent is told: once it orders the
 * shutdown, this process exits at once.
 */
static void
control_stop(struct ctl_client *c, uint64_t id)
{
	log_info("control: stop requested by uid %u (pid %d)",
	    (unsigned int)c->uid, (int)c->pid);
	control_reply_text(c, id, 1, "smtpd stopping\n", 0);
	(void)imsgbuf_write(c->ibuf);
	proc_send(PROC_PARENT, IMSG_PARENT_SHUTDOWN, NULL, -1);
}

static void
control_stat_frame(enum proc_id from, struct msg_reader *r)
{
	char		*key = NULL;
	uint64_t	 delta;

	if (msg_get_string(r, &key) == -1 || msg_get_uint64(r, &delta) == -1 ||
	    msg_end(r) == -1)
		fatalx("control: bad IMSG_CTL_STAT from %s: %s",
		    proc_name(from), msg_reader_error(r));
	log_trace(TRACE_STAT, "stat: %s %s %" PRId64, proc_name(from), key,
	    (int64_t)delta);
	if (control_stats_add(key, (int64_t)delta) == -1 &&
	    !stats_full_logged) {
		log_warnx("control: counter \"%.64s\" from %s not kept: %s",
		    key, proc_name(from), errno == ENOSPC ?
		    "too many counters" : "malformed key");
		stats_full_logged = 1;
	}
	free(key);
}

/* proc.c times each frame for profile imsg. */
static void
control_dispatch(enum proc_id from, struct imsg *imsg, struct msg_reader *r)
{
	switch (imsg->hdr.type) {
	case IMSG_CTL_STAT:
		control_stat_frame(from, r);
		break;
	case IMSG_CTL_REPLY:
		control_proc_reply(from, imsg, r);
		break;
	case IMSG_CTL_SMTP_SESSION:
		control_session_reply(from, imsg, r);
		break;
	default:
		fatalx("control: unexpected frame %u from %s", imsg->hdr.type,
		    proc_name(from));
	}
	if (imsg->fd != -1) {
		close(imsg->fd);
		imsg->fd = -1;
	}
}

/* Ids: MSG_UINT64 as frames.h says, MSG_ID accepted as well. */
static int
control_get_u64(struct msg_reader *r, uint64_t *v)
{
	if (msg_peek_type(r) == MSG_ID)
		return msg_get_id(r, v);
	return msg_get_uint64(r, v);
}

/* Reply text: MSG_DATA, or a MSG_STRING (then *str is to be freed). */
static int
control_get_text(struct msg_reader *r, const void **data, size_t *len,
    char **str)
{
	*str = NULL;
	if (msg_peek_type(r) == MSG_STRING) {
		if (msg_get_string(r, str) == -1)
			return -1;
		*data = *str;
		*len = strlen(*str);
		return 0;
	}
	return msg_get_data(r, data, len);
}
