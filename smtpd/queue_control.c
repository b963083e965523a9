/*
 * queue_control.c: what smtpctl reads from the queue (queue.h lists
 * the verbs and the replies): show queue, show envelope, show message.
 *
 * show queue walks the backend (a consistent, evpid-ordered view of
 * what is on disk) and asks the scheduler for the state of each batch
 * of envelopes, then formats one line per envelope.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <errno.h>
#include <event.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "smtpd-api.h"
#include "envelope.h"
#include "frames.h"
#include "proc.h"
#include "queue.h"
#include "scheduler_ram.h"

#define SHOWQ_LINE_MAX	2048

/* One control request in progress. */
struct ctl_req {
	TAILQ_ENTRY(ctl_req)	 entry;
	int			 idtype;	/* ctlid's msg type */
	uint64_t		 ctlid;
	int			 admin;
	char			 user[256];	/* when not admin */
	uint64_t		 cursor;	/* walk: evpids after this */
	uint64_t		 last;		/* walk: up to this one */
	uint64_t		 reqid;		/* IMSG_SCHED_LIST */
	struct envelope		*envs;		/* batch being shown */
	size_t			 nenvs;
	int			 walk_done;
	int			 fd;		/* show message */
	struct event		 ev;
};
TAILQ_HEAD(ctl_reqs, ctl_req);

static void	 ctl_free(struct ctl_req *);
static void	 ctl_fail(struct ctl_req *, int32_t, const char *);
static int	 ctl_may_see(struct ctl_req *, const struct envelope *);
static void	 showq_walk(struct ctl_req *);
static void	 showq_walk_cb(struct imsgproc *, int, struct imsg *,
		    struct msg_reader *, void *);
static void	 showq_line(struct ctl_req *, const struct envelope *,
		    uint32_t state, uint32_t retry, time_t nexttry,
		    char *, size_t);
static void	 show_envelope(struct ctl_req *, uint64_t);
static void	 show_envelope_cb(struct imsgproc *, int, struct imsg *,
		    struct msg_reader *, void *);
static void	 show_message(struct ctl_req *);
static void	 show_message_walk_cb(struct imsgproc *, int, struct imsg *,
		    struct msg_reader *, void *);
static void	 show_message_open(struct ctl_req *);
static void	 show_message_cb(struct imsgproc *, int, struct imsg *,
		    struct msg_reader *, void *);
static void	 show_message_chunk(int, short, void *);

static struct ctl_reqs	 reqs = TAILQ_HEAD_INITIALIZER(reqs);
static uint64_t		 next_reqid;

void
queue_ctl_reply(int idtype, uint64_t ctlid, int32_t result, const void *data,
    size_t len, int more)
{
	struct msg	 m;

	msg_init(&m);
	if (idtype == MSG_ID)
		msg_add_id(&m, ctlid);
	else
		msg_add_uint64(&m, ctlid);
	msg_add_int32(&m, result);
	msg_add_data(&m, data, len);
	msg_add_int32(&m, more);
	proc_send(PROC_CONTROL, IMSG_CTL_REPLY, &m, -1);
	msg_free(&m);
}

static void
ctl_free(struct ctl_req *c)
{
	TAILQ_REMOVE(&reqs, c, entry);
	if (c->fd != -1)
		close(c->fd);
	free(c->envs);
	free(c);
}

static void
ctl_fail(struct ctl_req *c, int32_t result, const char *text)
{
	char	 line[256];

	snprintf(line, sizeof(line), "%s\n", text);
	queue_ctl_reply(c->idtype, c->ctlid, result, line, strlen(line), 0);
	ctl_free(c);
}

/* An ordinary user sees what it submitted itself, and nothing else. */
static int
ctl_may_see(struct ctl_req *c, const struct envelope *e)
{
	if (c->admin)
		return 1;
	return (e->flags & EF_LOCAL) && c->user[0] != '\0' &&
	    strcmp(e->sender.user, c->user) == 0;
}

void
queue_control_request(struct imsg *imsg, struct msg_reader *r)
{
	struct ctl_req	*c;
	struct passwd	*pw;
	char		*verb = NULL, *args = NULL, *line, *p, *w, *words[8];
	uint64_t	 id = 0;
	uint32_t	 uid;
	int		 nwords = 0;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		fatal("queue: calloc");
	c->fd = -1;
	TAILQ_INSERT_TAIL(&reqs, c, entry);
	c->idtype = msg_peek_type(r);
	if ((c->idtype == MSG_ID ? msg_get_id(r, &c->ctlid) :
	    msg_get_uint64(r, &c->ctlid)) == -1 ||
	    msg_get_string(r, &verb) == -1 ||
	    msg_get_string(r, &args) == -1 ||
	    msg_get_uint32(r, &uid) == -1 || msg_end(r) == -1)
		fatalx("queue: bad IMSG_CTL_REQUEST: %s", msg_reader_error(r));
	c->admin = uid == 0 || uid == (uint32_t)smtpd_env.smtpd_uid;
	if (!c->admin && (pw = getpwuid(uid)) != NULL)
		strlcpy(c->user, pw->pw_name, sizeof(c->user));
	if (asprintf(&line, "%s %s", verb, args) == -1)
		fatal("queue: asprintf");
	for (p = line; (w = strsep(&p, " \t")) != NULL && nwords < 8;)
		if (*w != '\0')
			words[nwords++] = w;

	if (nwords < 2 || strcmp(words[0], "show") != 0 || nwords > 3) {
		ctl_fail(c, 0, "unknown request");
		goto done;
	}
	if (nwords == 3 && (sched_id_parse(words[2], &id) == -1 ||
	    id == SCHED_ID_ALL)) {
		ctl_fail(c, 0, "invalid id");
		goto done;
	}
	if (strcmp(words[1], "queue") == 0) {
		c->cursor = 0;
		c->last = UINT64_MAX;
		if (id > UINT32_MAX) {
			c->cursor = id - 1;
			c->last = id;
		} else if (id != 0) {
			c->cursor = msgid_to_evpid(id);
			c->last = msgid_to_evpid(id) | UINT32_MAX;
		}
		showq_walk(c);
	} else if (strcmp(words[1], "envelope") == 0 && nwords == 3) {
		if (id <= UINT32_MAX)
			ctl_fail(c, 0, "show envelope needs an envelope id");
		else
			show_envelope(c, id);
	} else if (strcmp(words[1], "message") == 0 && nwords == 3) {
		c->cursor = id > UINT32_MAX ? id - 1 :
		    msgid_to_evpid(id);
		c->last = id > UINT32_MAX ? id :
		    (msgid_to_evpid(id) | UINT32_MAX);
		show_message(c);
	} else
		ctl_fail(c, 0, "unknown request");
done:
	free(line);
	free(verb);
	free(args);
}

/* ---- show queue ---- */

static void
showq_walk(struct ctl_req *c)
{
	struct msg	 m;

	msg_init(&m);
	msg_add_id(&m, c->cursor);
	queue_backend_request(IMSG_QUEUE_WALK, &m, -1, showq_walk_cb, c);
	msg_free(&m);
}

static void
showq_walk_cb(struct imsgproc *p, int result, struct imsg *imsg,
    struct msg_reader *r, void *arg)
{
	struct ctl_req	*c = arg;
	struct envelope	*envs;
	struct msg	 m;
	const void	*text;
	size_t		 len, i;
	uint64_t	 next, evpid;
	uint32_t	 done, count, n;
	char		 err[128];

	if (queue_backend_result(result, r) != 1 ||
	    msg_get_id(r, &next) == -1 || msg_get_uint32(r, &done) == -1 ||
	    msg_get_uint32(r, &count) == -1) {
		ctl_fail(c, -1, "queue backend unavailable, try again");
		return;
	}
	free(c->envs);
	c->envs = NULL;
	c->nenvs = 0;
	if (count > 0 && (c->envs = calloc(count, sizeof(*envs))) == NULL)
		fatal("queue: calloc");
	c->walk_done = done != 0;
	for (n = 0; n < count; n++) {
		if (msg_get_id(r, &evpid) == -1 ||
		    msg_get_data(r, &text, &len) == -1) {
			ctl_fail(c, -1, "queue backend unavailable, try again");
			return;
		}
		c->cursor = evpid;
		if (evpid > c->last) {
			c->walk_done = 1;
			break;
		}
		envs = &c->envs[c->nenvs];
		if (envelope_load(envs, text, len, err, sizeof(err)) == -1)
			continue;	/* the walk at start-up logged it */
		envs->id = evpid;
		if (ctl_may_see(c, envs))
			c->nenvs++;
	}
	if (next > c->cursor && next <= c->last)
		c->cursor = next;
	if (c->nenvs == 0) {
		if (c->walk_done) {
			queue_ctl_reply(c->idtype, c->ctlid, 1, "", 0, 0);
			ctl_free(c);
		} else
			showq_walk(c);
		return;
	}
	/* the scheduler knows which are pending, in flight or held */
	c->reqid = ++next_reqid;
	msg_init(&m);
	msg_add_uint64(&m, c->reqid);
	msg_add_uint32(&m, (uint32_t)c->nenvs);
	for (i = 0; i < c->nenvs; i++)
		msg_add_id(&m, c->envs[i].id);
	proc_send(PROC_SCHEDULER, IMSG_SCHED_LIST, &m, -1);
	msg_free(&m);
}

void
queue_control_sched_list(struct imsg *imsg, struct msg_reader *r)
{
	struct ctl_req	*c;
	char		*out, line[SHOWQ_LINE_MAX];
	size_t		 outlen = 0, i, linelen;
	uint64_t	 reqid, evpid;
	uint32_t	 count, state, retry;
	time_t		 nexttry;

	if (msg_get_uint64(r, &reqid) == -1 ||
	    msg_get_uint32(r, &count) == -1)
		fatalx("queue: bad IMSG_SCHED_LIST: %s", msg_reader_error(r));
	TAILQ_FOREACH(c, &reqs, entry)
		if (c->reqid == reqid)
			break;
	if (c == NULL || count != c->nenvs)
		fatalx("queue: IMSG_SCHED_LIST answer does not match");
	if ((out = malloc(QUEUE_CTL_CHUNK)) == NULL)
		fatal("queue: malloc");
	for (i = 0; i < count; i++) {
		if (msg_get_id(r, &evpid) == -1 ||
		    msg_get_uint32(r, &state) == -1 ||
		    msg_get_uint32(r, &retry) == -1 ||
		    msg_get_time(r, &nexttry) == -1)
			fatalx("queue: bad IMSG_SCHED_LIST: %s",
			    msg_reader_error(r));
		showq_line(c, &c->envs[i], state, retry, nexttry, line,
		    sizeof(line));
		linelen = strlen(line);
		if (outlen + linelen > QUEUE_CTL_CHUNK) {
			queue_ctl_reply(c->idtype, c->ctlid, 1, out, outlen, 1);
			outlen = 0;
		}
		memcpy(out + outlen, line, linelen);
		outlen += linelen;
	}
	if (msg_end(r) == -1)
		fatalx("queue: bad IMSG_SCHED_LIST: %s", msg_reader_error(r));
	c->reqid = 0;
	if (c->walk_done) {
		queue_ctl_reply(c->idtype, c->ctlid, 1, out, outlen, 0);
		ctl_free(c);
	} else {
		queue_ctl_reply(c->idtype, c->ctlid, 1, out, outlen, 1);
		showq_walk(c);
	}
	free(out);
}

/*
 * evpid|source|type|flags|sender|rcpt|dest|ctime|expire|lasttry|retry|
 * state|nexttry-in|errorline
 */
static void
showq_line(struct ctl_req *c, const struct envelope *e, uint32_t state,
    uint32_t retry, time_t nexttry, char *buf, size_t bufsz)
{
	const char	*source, *type, *st;
	char		 flags[64], error[ENVELOPE_ERROR_MAX];
	time_t		 now = time(NULL);
	size_t		 i;

	switch (e->ss.ss_family) {
	case AF_INET:
		source = "inet4";
		break;
	case AF_INET6:
		source = "inet6";
		break;
	default:
		source = "local";
	}
	type = e->type == D_BOUNCE ? "bounce" : e->type == D_MTA ? "mta" :
	    "mda";
	snprintf(flags, sizeof(flags), "%s%s%s%s",
	    e->flags & EF_LOCAL ? "local," : "",
	    e->flags & EF_AUTHENTICATED ? "auth," : "",
	    e->flags & EF_BOUNCE ? "bounce," : "",
	    e->flags & EF_INTERNAL ? "internal," : "");
	if (flags[0] == '\0')
		strlcpy(flags, "-,", sizeof(flags));
	flags[strlen(flags) - 1] = '\0';
	switch (state) {
	case SCHED_PENDING:
		st = "pending";
		break;
	case SCHED_INFLIGHT:
		st = "inflight";
		break;
	case SCHED_HELD:
		st = "held";
		break;
	default:
		st = "unknown";
		retry = e->retry;
	}
	strlcpy(error, e->errorline, sizeof(error));
	for (i = 0; error[i] != '\0'; i++)
		if (error[i] == '\n' || error[i] == '\r')
			error[i] = ' ';
	snprintf(buf, bufsz, "%016" PRIx64 "|%s|%s|%s|%s|%s|%s|%lld|%lld|"
	    "%lld|%" PRIu32 "|%s|%lld|%s\n", e->id, source, type, flags,
	    e->sender.user[0] || e->sender.domain[0] ?
	    queue_addr(&e->sender, 0) : "<>", queue_addr(&e->rcpt, 1),
	    queue_addr(&e->dest, 2), (long long)e->creation,
	    (long long)(e->creation + e->ttl), (long long)e->lasttry, retry,
	    st, state == SCHED_PENDING && nexttry > now ?
	    (long long)(nexttry - now) : 0LL, error);
}

/* ---- show envelope ---- */

static void
show_envelope(struct ctl_req *c, uint64_t evpid)
{
	struct msg	 m;

	c->cursor = evpid;
	msg_init(&m);
	msg_add_id(&m, evpid);
	queue_backend_request(IMSG_QUEUE_ENVELOPE_LOAD, &m, -1,
	    show_envelope_cb, c);
	msg_free(&m);
}

static void
show_envelope_cb(struct imsgproc *p, int result, struct imsg *imsg,
    struct msg_reader *r, void *arg)
{
	struct ctl_req	*c = arg;
	struct envelope	*e;
	const void	*text;
	size_t		 len;
	char		*out, err[128];
	int		 res, n;

	res = queue_backend_result(result, r);
	if (res == 1 && msg_get_data(r, &text, &len) == -1)
		res = -1;
	if (res == -1) {
		/* queue-fs says so too for a message directory not there */
		if ((n = asprintf(&out, "cannot load envelope %016" PRIx64
		    ": not in the queue, or the queue is unavailable",
		    c->cursor)) == -1)
			fatal("queue: asprintf");
		ctl_fail(c, -1, out);
		free(out);
		return;
	}
	if ((e = malloc(sizeof(*e))) == NULL)
		fatal("queue: malloc");
	if (res == 0 || (!c->admin && (envelope_load(e, text, len, err,
	    sizeof(err)) == -1 || !ctl_may_see(c, e)))) {
		free(e);
		if ((n = asprintf(&out, "no such envelope: %016" PRIx64,
		    c->cursor)) == -1)
			fatal("queue: asprintf");
		ctl_fail(c, 0, out);
		free(out);
		return;
	}
	free(e);
	if ((n = asprintf(&out, "evpid: %016" PRIx64 "\n%.*s%s", c->cursor,
	    (int)len, (const char *)text, len > 0 &&
	    ((const char *)text)[len - 1] == '\n' ? "" : "\n")) == -1)
		fatal("queue: asprintf");
	queue_ctl_reply(c->idtype, c->ctlid, 1, out, (size_t)n, 0);
	free(out);
	ctl_free(c);
}

/* ---- show message ---- */

/*
 * An administrator reads any message; a user only one holding an
 * envelope it may see, which the walk finds.
 */
static void
show_message(struct ctl_req *c)
{
	struct msg	 m;

	if (c->admin) {
		show_message_open(c);
		return;
	}
	msg_init(&m);
	msg_add_id(&m, c->cursor);
	queue_backend_request(IMSG_QUEUE_WALK, &m, -1, show_message_walk_cb,
	    c);
	msg_free(&m);
}

static void
show_message_walk_cb(struct imsgproc *p, int result, struct imsg *imsg,
    struct msg_reader *r, void *arg)
{
	struct ctl_req	*c = arg;
	struct envelope	*e;
	const void	*text;
	size_t		 len;
	uint64_t	 next, evpid;
	uint32_t	 done, count, n;
	char		 err[128];
	int		 seen = 0;

	if (queue_backend_result(result, r) != 1 ||
	    msg_get_id(r, &next) == -1 || msg_get_uint32(r, &done) == -1 ||
	    msg_get_uint32(r, &count) == -1) {
		ctl_fail(c, -1, "queue backend unavailable, try again");
		return;
	}
	if ((e = malloc(sizeof(*e))) == NULL)
		fatal("queue: malloc");
	for (n = 0; n < count && !seen; n++) {
		if (msg_get_id(r, &evpid) == -1 ||
		    msg_get_data(r, &text, &len) == -1 || evpid > c->last)
			break;
		if (envelope_load(e, text, len, err, sizeof(err)) == 0 &&
		    ctl_may_see(c, e))
			seen = 1;
	}
	free(e);
	if (!seen) {
		ctl_fail(c, 0, "no such message");
		return;
	}
	show_message_open(c);
}

static void
show_message_open(struct ctl_req *c)
{
	struct msg	 m;

	msg_init(&m);
	msg_add_uint32(&m, evpid_to_msgid(c->last));
	queue_backend_request(IMSG_QUEUE_MESSAGE_FD_R, &m, -1,
	    show_message_cb, c);
	msg_free(&m);
}

static void
show_message_cb(struct imsgproc *p, int result, struct imsg *imsg,
    struct msg_reader *r, void *arg)
{
	struct ctl_req	*c = arg;
	char		 text[128];
	int		 res;

	res = queue_backend_result(result, r);
	if (res == 0) {
		ctl_fail(c, 0, "no such message");
		return;
	}
	if (res == -1 || imsg->fd == -1) {
		snprintf(text, sizeof(text), "cannot read message %08" PRIx32
		    ": not in the queue, or the queue is unavailable",
		    evpid_to_msgid(c->last));
		ctl_fail(c, -1, text);
		return;
	}
	c->fd = imsg->fd;
	imsg->fd = -1;
	evtimer_assign(&c->ev, proc_base, show_message_chunk, c);
	show_message_chunk(-1, 0, c);
}

/* One chunk per turn of the event loop, so that nothing waits long. */
static void
show_message_chunk(int fd, short events, void *arg)
{
	struct ctl_req	*c = arg;
	struct timeval	 tv = { 0, 0 };
	char		*buf;
	size_t		 len = 0;
	ssize_t		 n;

	if ((buf = malloc(QUEUE_CTL_CHUNK)) == NULL)
		fatal("queue: malloc");
	while (len < QUEUE_CTL_CHUNK) {
		n = read(c->fd, buf + len, QUEUE_CTL_CHUNK - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			free(buf);
			ctl_fail(c, -1, "cannot read the message");
			return;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len < QUEUE_CTL_CHUNK) {
		queue_ctl_reply(c->idtype, c->ctlid, 1, buf, len, 0);
		ctl_free(c);
	} else {
		queue_ctl_reply(c->idtype, c->ctlid, 1, buf, len, 1);
		evtimer_add(&c->ev, &tv);
	}
	free(buf);
}
