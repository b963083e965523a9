/*
 * queue_bounce.c: bounces and delay warnings, in the queue process.
 *
 * A recipient that fails for good (or expires) is replaced in its
 * message by a bounce envelope (type D_BOUNCE), written before the
 * failed one is deleted, so that a crash loses no bounce.  When the
 * scheduler hands a bounce envelope out, it joins the group of its
 * message, sender and kind; the group waits a little for the others,
 * then becomes one DSN (bounce.c) in a new message from <>, routed by
 * the lookup process like a RCPT from a local client.  Only once that
 * message is committed are the bounce envelopes deleted.  Any failure
 * on the way gives the bounce envelopes back to the scheduler as
 * temporary failures.
 */
#include <sys/types.h>
#include <sys/queue.h>

#include <errno.h>
#include <event.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "smtpd-api.h"
#include "bounce.h"
#include "config.h"
#include "envelope.h"
#include "frames.h"
#include "proc.h"
#include "queue.h"

#define BOUNCE_GROUP_MAX	100	/* recipients in one DSN */
#define LOOKUP_SID_FLAG		(1ULL << 63)

struct bounce_group {
	TAILQ_ENTRY(bounce_group) entry;
	uint32_t		 msgid;
	enum bounce_type	 type;
	struct mailaddr		 sender;
	struct envelope		*members;	/* the D_BOUNCE envelopes */
	size_t			 nmembers;
	int			 working;	/* collecting no more */
	struct event		 timer;		/* delay, then lookup */
	uint64_t		 sid;		/* lookup request */
	char			*headers;	/* of the original message */
	size_t			 headers_len;
	struct envelope		*dsn;		/* envelopes of the DSN */
	size_t			 ndsn;
	uint32_t		 newmsgid;
	size_t			 creating;	/* ENVELOPE_CREATE in flight */
	int			 create_failed;
};
TAILQ_HEAD(bounce_groups, bounce_group);

/* A bounce envelope being written, or one DSN envelope. */
struct bctx {
	uint64_t		 orig;		/* the failed envelope */
	struct envelope		 env;
	struct bounce_group	*group;
	size_t			 index;
};

static struct envelope *bounce_envelope(const struct envelope *,
		    enum bounce_type, const char *, const char *, time_t);
static void	 failed_cb(struct imsgproc *, int, struct imsg *,
		    struct msg_reader *, void *);
static void	 delayed_cb(struct imsgproc *, int, struct imsg *,
		    struct msg_reader *, void *);
static struct bounce_group *group_find(const struct envelope *);
static void	 group_fire(int, short, void *);
static void	 group_headers_cb(struct imsgproc *, int, struct imsg *,
		    struct msg_reader *, void *);
static void	 group_lookup(struct bounce_group *);
static void	 group_lookup_timeout(int, short, void *);
static void	 group_lookup_done(struct bounce_group *, int32_t, uint32_t,
		    const char *, const char *);
static void	 group_create_cb(struct imsgproc *, int, struct imsg *,
		    struct msg_reader *, void *);
static int	 group_write(struct bounce_group *, int fd);
static void	 group_envelope_cb(struct imsgproc *, int, struct imsg *,
		    struct msg_reader *, void *);
static void	 group_commit_cb(struct imsgproc *, int, struct imsg *,
		    struct msg_reader *, void *);
static void	 group_abort(struct bounce_group *, const char *why);
static void	 group_discard_cb(struct imsgproc *, int, struct imsg *,
		    struct msg_reader *, void *);
static void	 group_end(struct bounce_group *, uint32_t sched_type);
static void	 group_free(struct bounce_group *);

static struct bounce_groups	 groups = TAILQ_HEAD_INITIALIZER(groups);
static int			 bounce_delay = QUEUE_BOUNCE_DELAY_DEFAULT;
static uint64_t			 lookup_sid;

void
queue_bounce_init(void)
{
	const char	*s;
	char		*end;
	long		 v;

	if ((s = getenv("SMTPD_BOUNCE_DELAY")) == NULL || *s == '\0')
		return;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < 0 || v > 3600)
		fatalx("queue: bad SMTPD_BOUNCE_DELAY: %s", s);
	bounce_delay = (int)v;
}

/* The bounce envelope that stands for e in its message. */
static struct envelope *
bounce_envelope(const struct envelope *e, enum bounce_type type,
    const char *line, const char *esc, time_t now)
{
	struct envelope	*b;

	if ((b = malloc(sizeof(*b))) == NULL)
		fatal("queue: malloc");
	*b = *e;
	b->id = 0;
	b->type = D_BOUNCE;
	b->bounce_type = type;
	b->retry = 0;
	b->lastbounce = 0;
	strlcpy(b->errorline, line, sizeof(b->errorline));
	strlcpy(b->esc, esc, sizeof(b->esc));
	if (type == B_DELAYED)
		b->bounce_delay = now - e->creation;
	else {
		/* a failure report gets a queue ttl of its own */
		b->bounce_delay = 0;
		b->ttl = (now - e->creation) + smtpd_env.conf->queue_ttl;
	}
	return b;
}

void
queue_bounce_failed(const struct envelope *e, const char *line,
    const char *esc)
{
	struct envelope	*b;
	struct bctx	*c;
	struct msg	 m;

	if (!bounce_allowed(e)) {
		log_info("queue: %016" PRIx64 " to <%s> failed for good (%s); "
		    "its sender is <>: no bounce (never bounce a bounce)",
		    e->id, queue_addr(&e->rcpt, 0), line);
		queue_envelope_delete(e->id);
		queue_sched_evpid(IMSG_SCHED_PERMFAIL, e->id);
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL)
		fatal("queue: calloc");
	b = bounce_envelope(e, B_FAILED, line, esc, time(NULL));
	c->orig = e->id;
	c->env = *b;
	free(b);
	msg_init(&m);
	msg_add_uint32(&m, evpid_to_msgid(e->id));
	if (queue_envelope_add(&m, &c->env) == -1) {
		msg_free(&m);
		free(c);
		log_warnx("queue: bounce envelope for %016" PRIx64 " too large",
		    e->id);
		queue_sched_tempfail(e->id, 0);
		return;
	}
	queue_backend_request(IMSG_QUEUE_ENVELOPE_CREATE, &m, -1, failed_cb,
	    c);
	msg_free(&m);
}

static void
failed_cb(struct imsgproc *p, int result, struct imsg *imsg,
    struct msg_reader *r, void *arg)
{
	struct bctx	*c = arg;
	uint64_t	 evpid;

	if (queue_backend_result(result, r) != 1 ||
	    msg_get_id(r, &evpid) == -1) {
		log_warnx("queue: cannot queue the bounce for %016" PRIx64
		    ", trying again later", c->orig);
		queue_sched_tempfail(c->orig, 0);
		free(c);
		return;
	}
	c->env.id = evpid;
	queue_sched_envelope(&c->env);
	queue_sched_msgid(IMSG_SCHED_COMMIT, evpid_to_msgid(evpid));
	queue_envelope_delete(c->orig);
	queue_sched_evpid(IMSG_SCHED_PERMFAIL, c->orig);
	log_debug("queue: %016" PRIx64 " failed for good; bounce "
	    "%016" PRIx64 " queued for <%s>", c->orig, evpid,
	    queue_addr(&c->env.sender, 0));
	free(c);
}

/*
 * The warning step e has reached and not yet been warned about: the
 * last `bounce warn-interval' step it is older than, if its last
 * warning came before that step.  -1 when none is due.
 */
int
queue_bounce_warn_due(const struct envelope *e, time_t now)
{
	const struct smtpd_config	*conf = smtpd_env.conf;
	time_t				 step;
	int				 i;

	if (e->type != D_MDA || !bounce_allowed(e))
		return -1;
	for (i = conf->nbounce_warn - 1; i >= 0; i--) {
		step = e->creation + conf->bounce_warn[i];
		if (now < step)
			continue;
		if (step >= e->creation + e->ttl)
			return -1;	/* it expires first */
		return e->lastbounce < step ? i : -1;
	}
	return -1;
}

void
queue_bounce_delayed(const struct envelope *e)
{
	struct envelope	*b;
	struct bctx	*c;
	struct msg	 m;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		fatal("queue: calloc");
	b = bounce_envelope(e, B_DELAYED, e->errorline, e->esc, time(NULL));
	c->orig = e->id;
	c->env = *b;
	free(b);
	msg_init(&m);
	msg_add_uint32(&m, evpid_to_msgid(e->id));
	if (queue_envelope_add(&m, &c->env) == 0)
		queue_backend_request(IMSG_QUEUE_ENVELOPE_CREATE, &m, -1,
		    delayed_cb, c);
	else
		free(c);
	msg_free(&m);
}

static void
delayed_cb(struct imsgproc *p, int result, struct imsg *imsg,
    struct msg_reader *r, void *arg)
{
	struct bctx	*c = arg;
	uint64_t	 evpid;

	/* a warning is a courtesy: one that could not be queued is lost */
	if (queue_backend_result(result, r) != 1 ||
	    msg_get_id(r, &evpid) == -1) {
		log_warnx("queue: cannot queue a delay warning for %016"
		    PRIx64, c->orig);
		free(c);
		return;
	}
	c->env.id = evpid;
	queue_sched_envelope(&c->env);
	queue_sched_msgid(IMSG_SCHED_COMMIT, evpid_to_msgid(evpid));
	log_debug("queue: %016" PRIx64 " delayed; warning %016" PRIx64
	    " queued for <%s>", c->orig, evpid,
	    queue_addr(&c->env.sender, 0));
	free(c);
}

/* ---- grouping ---- */

static struct bounce_group *
group_find(const struct envelope *e)
{
	struct bounce_group	*g;

	TAILQ_FOREACH(g, &groups, entry)
		if (!g->working && g->msgid == evpid_to_msgid(e->id) &&
		    g->type == e->bounce_type &&
		    strcmp(g->sender.user, e->sender.user) == 0 &&
		    strcmp(g->sender.domain, e->sender.domain) == 0)
			return g;
	return NULL;
}

void
queue_bounce_deliver(const struct envelope *e)
{
	struct bounce_group	*g;
	struct envelope		*members;
	struct timeval		 tv = { bounce_delay, 0 };

	if (e->sender.user[0] == '\0' && e->sender.domain[0] == '\0') {
		log_warnx("queue: bounce %016" PRIx64 " has no sender, "
		    "dropped", e->id);
		queue_envelope_delete(e->id);
		queue_sched_evpid(IMSG_SCHED_PERMFAIL, e->id);
		return;
	}
	if ((g = group_find(e)) == NULL) {
		if ((g = calloc(1, sizeof(*g))) == NULL)
			fatal("queue: calloc");
		g->msgid = evpid_to_msgid(e->id);
		g->type = e->bounce_type == B_DELAYED ? B_DELAYED : B_FAILED;
		g->sender = e->sender;
		evtimer_assign(&g->timer, proc_base, group_fire, g);
		TAILQ_INSERT_TAIL(&groups, g, entry);
		evtimer_add(&g->timer, &tv);
	}
	members = reallocarray(g->members, g->nmembers + 1, sizeof(*members));
	if (members == NULL)
		fatal("queue: reallocarray");
	g->members = members;
	g->members[g->nmembers++] = *e;
	if (g->nmembers >= BOUNCE_GROUP_MAX) {
		tv.tv_sec = 0;
		evtimer_add(&g->timer, &tv);
	}
}

/* The collection delay is over: read the original headers. */
static void
group_fire(int fd, short events, void *arg)
{
	struct bounce_group	*g = arg;
	struct msg		 m;

	g->working = 1;
	msg_init(&m);
	msg_add_uint32(&m, g->msgid);
	queue_backend_request(IMSG_QUEUE_MESSAGE_FD_R, &m, -1,
	    group_headers_cb, g);
	msg_free(&m);
}

static void
group_headers_cb(struct imsgproc *p, int result, struct imsg *imsg,
    struct msg_reader *r, void *arg)
{
	struct bounce_group	*g = arg;
	char			*buf;
	size_t			 len = 0;
	ssize_t			 n;
	int			 res;

	res = queue_backend_result(result, r);
	if (res == -1 || (res == 1 && imsg->fd == -1)) {
		group_abort(g, "cannot read the original message");
		return;
	}
	if (res == 1) {
		/* a local file: reading it here does not block for long */
		if ((buf = malloc(BOUNCE_HEADERS_MAX)) == NULL)
			fatal("queue: malloc");
		while (len < BOUNCE_HEADERS_MAX) {
			n = read(imsg->fd, buf + len, BOUNCE_HEADERS_MAX - len);
			if (n == -1 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			len += (size_t)n;
		}
		g->headers = buf;
		g->headers_len = bounce_headers_length(buf, len);
	}
	group_lookup(g);
}

/* Route the original sender as a local client's RCPT would be. */
static void
group_lookup(struct bounce_group *g)
{
	struct envelope		*t;
	struct msg		 m;
	struct timeval		 tv = { QUEUE_LOOKUP_TIMEOUT, 0 };

	if ((t = calloc(1, sizeof(*t))) == NULL)
		fatal("queue: calloc");
	t->type = D_MDA;
	strlcpy(t->smtpname, smtpd_env.hostname, sizeof(t->smtpname));
	strlcpy(t->helo, smtpd_env.hostname, sizeof(t->helo));
	strlcpy(t->hostname, "localhost", sizeof(t->hostname));
	t->ss.ss_family = AF_UNSPEC;
	t->rcpt = g->sender;
	t->creation = time(NULL);
	t->flags = EF_INTERNAL | EF_BOUNCE;
	g->sid = LOOKUP_SID_FLAG | ++lookup_sid;
	msg_init(&m);
	msg_add_id(&m, g->sid);
	if (queue_envelope_add(&m, t) == -1) {
		msg_free(&m);
		free(t);
		group_abort(g, "sender address too long");
		return;
	}
	msg_add_string(&m, "");
	msg_add_int32(&m, 1);
	proc_send(PROC_LOOKUP, IMSG_LOOKUP_RCPT, &m, -1);
	msg_free(&m);
	free(t);
	evtimer_assign(&g->timer, proc_base, group_lookup_timeout, g);
	evtimer_add(&g->timer, &tv);
}

static void
group_lookup_timeout(int fd, short events, void *arg)
{
	struct bounce_group	*g = arg;

	g->sid = 0;	/* a late answer is ignored */
	group_abort(g, "no answer from lookup");
}

void
queue_bounce_lookup_frame(struct imsg *imsg, struct msg_reader *r)
{
	struct bounce_group	*g;
	struct envelope		*dsn;
	const void		*text;
	size_t			 len;
	uint64_t		 sid;
	int32_t			 result;
	uint32_t		 code;
	char			*esc = NULL, *why = NULL, err[128];

	if (msg_get_id(r, &sid) == -1)
		fatalx("queue: bad lookup frame: %s", msg_reader_error(r));
	TAILQ_FOREACH(g, &groups, entry)
		if (g->working && g->sid == sid)
			break;
	if (imsg->hdr.type == IMSG_LOOKUP_RCPT_ENVELOPE) {
		if (msg_get_data(r, &text, &len) == -1 || msg_end(r) == -1)
			fatalx("queue: bad IMSG_LOOKUP_RCPT_ENVELOPE: %s",
			    msg_reader_error(r));
		if (g == NULL)
			return;
		dsn = reallocarray(g->dsn, g->ndsn + 1, sizeof(*dsn));
		if (dsn == NULL)
			fatal("queue: reallocarray");
		g->dsn = dsn;
		if (envelope_load(&g->dsn[g->ndsn], text, len, err,
		    sizeof(err)) == -1)
			fatalx("queue: bad envelope from lookup: %s", err);
		g->ndsn++;
		return;
	}
	if (msg_get_int32(r, &result) == -1 || msg_get_uint32(r, &code) == -1 ||
	    msg_get_string(r, &esc) == -1 || msg_get_string(r, &why) == -1 ||
	    msg_end(r) == -1)
		fatalx("queue: bad IMSG_LOOKUP_RCPT_DONE: %s",
		    msg_reader_error(r));
	if (g != NULL) {
		evtimer_del(&g->timer);
		g->sid = 0;
		group_lookup_done(g, result, code, esc, why);
	}
	free(esc);
	free(why);
}

static void
group_lookup_done(struct bounce_group *g, int32_t result, uint32_t code,
    const char *esc, const char *why)
{
	const char	*sender = queue_addr(&g->sender, 0);

	if (result == 1 && g->ndsn > 0) {
		queue_backend_request(IMSG_QUEUE_MESSAGE_CREATE, NULL, -1,
		    group_create_cb, g);
		return;
	}
	if (result == 1) {
		log_warnx("queue: bounce for <%s> (message %08" PRIx32 "): "
		    "the address expands to nobody, dropped", sender,
		    g->msgid);
		group_end(g, IMSG_SCHED_PERMFAIL);
	} else if (result == 0 && strncmp(esc, "5.1.", 4) == 0) {
		log_warnx("queue: bounce for <%s> (message %08" PRIx32 "): "
		    "%u %s %s, dropped", sender, g->msgid, code, esc, why);
		group_end(g, IMSG_SCHED_PERMFAIL);
	} else if (result == 0) {
		log_warnx("queue: bounce for <%s> (message %08" PRIx32 ") "
		    "cannot be delivered: %u %s %s (relaying is not "
		    "supported yet); kept until it expires", sender, g->msgid,
		    code, esc, why);
		group_end(g, IMSG_SCHED_TEMPFAIL);
	} else
		group_abort(g, "lookup failed temporarily");
}

static void
group_create_cb(struct imsgproc *p, int result, struct imsg *imsg,
    struct msg_reader *r, void *arg)
{
	struct bounce_group	*g = arg;
	struct bctx		*c;
	struct envelope		*e;
	struct msg		 m;
	time_t			 now = time(NULL);
	size_t			 i;

	if (queue_backend_result(result, r) != 1 ||
	    msg_get_uint32(r, &g->newmsgid) == -1 || imsg->fd == -1) {
		g->newmsgid = 0;
		group_abort(g, "cannot create the bounce message");
		return;
	}
	if (group_write(g, imsg->fd) == -1) {
		imsg->fd = -1;
		group_abort(g, "cannot write the bounce message");
		return;
	}
	imsg->fd = -1;
	for (i = 0; i < g->ndsn; i++) {
		e = &g->dsn[i];
		memset(&e->sender, 0, sizeof(e->sender));
		e->flags |= EF_BOUNCE | EF_INTERNAL;
		e->creation = now;
		e->lasttry = 0;
		e->retry = 0;
		/* lookup set the ttl of the action that takes it, if any */
		if (e->ttl <= 0)
			e->ttl = smtpd_env.conf->queue_ttl;
		if ((c = calloc(1, sizeof(*c))) == NULL)
			fatal("queue: calloc");
		c->group = g;
		c->index = i;
		msg_init(&m);
		msg_add_uint32(&m, g->newmsgid);
		if (queue_envelope_add(&m, e) == -1) {
			msg_free(&m);
			free(c);
			g->create_failed = 1;
			continue;
		}
		g->creating++;
		queue_backend_request(IMSG_QUEUE_ENVELOPE_CREATE, &m, -1,
		    group_envelope_cb, c);
		msg_free(&m);
	}
	if (g->creating == 0)
		group_abort(g, "cannot add the bounce recipients");
}

/* Write the DSN; fd is always closed. */
static int
group_write(struct bounce_group *g, int fd)
{
	struct bounce_report	 rep;
	struct bounce_rcpt	*rcpts;
	char			(*addrs)[MAILADDR_USER_MAX +
				    MAILADDR_DOMAIN_MAX + 2];
	char			 sender[MAILADDR_USER_MAX +
				    MAILADDR_DOMAIN_MAX + 2];
	FILE			*fp;
	size_t			 i;
	int			 ret;

	if ((fp = fdopen(fd, "w")) == NULL) {
		close(fd);
		return -1;
	}
	rcpts = calloc(g->nmembers, sizeof(*rcpts));
	addrs = calloc(g->nmembers, sizeof(*addrs));
	if (rcpts == NULL || addrs == NULL)
		fatal("queue: calloc");
	for (i = 0; i < g->nmembers; i++) {
		if (mailaddr_to_text(&g->members[i].rcpt, addrs[i],
		    sizeof(addrs[i])) == -1)
			strlcpy(addrs[i], "?", sizeof(addrs[i]));
		rcpts[i].address = addrs[i];
		rcpts[i].status = g->members[i].esc;
		rcpts[i].diagnostic = g->members[i].errorline;
		rcpts[i].lasttry = g->members[i].lasttry;
	}
	if (mailaddr_to_text(&g->sender, sender, sizeof(sender)) == -1)
		strlcpy(sender, "?", sizeof(sender));
	memset(&rep, 0, sizeof(rep));
	rep.type = g->type;
	rep.hostname = smtpd_env.hostname;
	rep.sender = sender;
	rep.arrival = g->members[0].creation;
	rep.now = time(NULL);
	rep.retry_until = g->members[0].creation + g->members[0].ttl;
	rep.rcpts = rcpts;
	rep.nrcpts = g->nmembers;
	rep.headers = g->headers;
	rep.headers_len = g->headers_len;
	ret = bounce_write(fp, &rep);
	if (fclose(fp) == EOF)
		ret = -1;
	free(rcpts);
	free(addrs);
	return ret;
}

static void
group_envelope_cb(struct imsgproc *p, int result, struct imsg *imsg,
    struct msg_reader *r, void *arg)
{
	struct bctx		*c = arg;
	struct bounce_group	*g = c->group;
	struct msg		 m;
	uint64_t		 evpid;

	if (queue_backend_result(result, r) != 1 ||
	    msg_get_id(r, &evpid) == -1)
		g->create_failed = 1;
	else
		g->dsn[c->index].id = evpid;
	free(c);
	if (--g->creating > 0)
		return;
	if (g->create_failed) {
		group_abort(g, "cannot add the bounce recipients");
		return;
	}
	msg_init(&m);
	msg_add_uint32(&m, g->newmsgid);
	queue_backend_request(IMSG_QUEUE_MESSAGE_COMMIT, &m, -1,
	    group_commit_cb, g);
	msg_free(&m);
}

static void
group_commit_cb(struct imsgproc *p, int result, struct imsg *imsg,
    struct msg_reader *r, void *arg)
{
	struct bounce_group	*g = arg;
	size_t			 i;

	if (queue_backend_result(result, r) != 1) {
		group_abort(g, "cannot commit the bounce message");
		return;
	}
	for (i = 0; i < g->ndsn; i++)
		if (g->dsn[i].id != 0)
			queue_sched_envelope(&g->dsn[i]);
	queue_sched_msgid(IMSG_SCHED_COMMIT, g->newmsgid);
	log_info("queue: bounce msgid=%08" PRIx32 " to <%s>: %s report for "
	    "%zu recipient%s of msgid=%08" PRIx32, g->newmsgid,
	    queue_addr(&g->sender, 0), g->type == B_DELAYED ? "delay" :
	    "failure", g->nmembers, g->nmembers == 1 ? "" : "s", g->msgid);
	proc_stat("queue.bounce", 1);
	g->newmsgid = 0;
	group_end(g, IMSG_SCHED_DELIVERED);
}

/* Something failed: undo the new message, retry the bounces later. */
static void
group_abort(struct bounce_group *g, const char *why)
{
	struct msg	 m;
	uint32_t	*msgid;

	log_warnx("queue: bounce for <%s> (message %08" PRIx32 "): %s; "
	    "trying again later", queue_addr(&g->sender, 0), g->msgid, why);
	if (g->newmsgid != 0) {
		if ((msgid = malloc(sizeof(*msgid))) == NULL)
			fatal("queue: malloc");
		*msgid = g->newmsgid;
		msg_init(&m);
		msg_add_uint32(&m, g->newmsgid);
		queue_backend_request(IMSG_QUEUE_MESSAGE_DELETE, &m, -1,
		    group_discard_cb, msgid);
		msg_free(&m);
	}
	group_end(g, IMSG_SCHED_TEMPFAIL);
}

static void
group_discard_cb(struct imsgproc *p, int result, struct imsg *imsg,
    struct msg_reader *r, void *arg)
{
	uint32_t	*msgid = arg;

	if (queue_backend_result(result, r) == -1)
		log_warnx("queue: unfinished bounce message %08" PRIx32
		    " could not be discarded now", *msgid);
	free(msgid);
}

/*
 * The bounce envelopes are done (DELIVERED: the DSN is queued;
 * PERMFAIL: dropped) and deleted, or handed back (TEMPFAIL).
 */
static void
group_end(struct bounce_group *g, uint32_t sched_type)
{
	size_t	 i;

	for (i = 0; i < g->nmembers; i++) {
		if (sched_type == IMSG_SCHED_TEMPFAIL)
			queue_sched_tempfail(g->members[i].id, 0);
		else {
			queue_envelope_delete(g->members[i].id);
			queue_sched_evpid(sched_type, g->members[i].id);
		}
	}
	group_free(g);
}

static void
group_free(struct bounce_group *g)
{
	evtimer_del(&g->timer);
	TAILQ_REMOVE(&groups, g, entry);
	free(g->members);
	free(g->headers);
	free(g->dsn);
	free(g);
}
