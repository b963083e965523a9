/*
 * queue.c: the queue process (see queue.h for what it answers): its
 * set-up, the backend helper, the frames to the scheduler, the walk
 * that reloads the scheduler at start-up, deletions that must not be
 * forgotten.  Reception is in queue_recv.c, what the scheduler hands
 * out in queue_deliver.c, bounces in queue_bounce.c, control verbs in
 * queue_control.c.
 *
 * Every stored byte goes through the backend helper.  A request to the
 * backend carries a small context naming the ids it works for, never a
 * pointer to something that could go away first.
 */
#include <sys/types.h>
#include <sys/queue.h>

#include <event.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "smtpd-api.h"
#include "config.h"
#include "control.h"
#include "envelope.h"
#include "frames.h"
#include "proc.h"
#include "queue.h"

#define DELETE_RETRY_SEC	10	/* a failed envelope deletion */
#define WALK_RETRY_SEC		1	/* a failed start-up walk batch */

/* A deletion the backend refused for now. */
struct pending_delete {
	TAILQ_ENTRY(pending_delete) entry;
	uint64_t		 evpid;
};
TAILQ_HEAD(pending_deletes, pending_delete);

/*
 * A backend request timed for profile queue: the caller's callback
 * and argument, and the ids it works for, for the log line.
 */
struct backend_timing {
	imsgproc_reply_cb	 cb;
	void			*arg;
	uint32_t		 type;
	int			 idtype;	/* MSG_UINT32 msgid, MSG_ID
						   evpid (cursor: walk), 0 */
	uint64_t		 id;
	struct timespec		 start;
};

static void	 queue_dispatch(enum proc_id, struct imsg *,
		    struct msg_reader *);
static void	 queue_backend_start(void);
static void	 queue_on_ready(struct imsgproc *, uint64_t, const char *,
		    void *);
static void	 queue_on_down(struct imsgproc *, const char *, void *);
static void	 backend_timed_ids(struct backend_timing *, const struct msg *);
static void	 backend_timed_cb(struct imsgproc *, int, struct imsg *,
		    struct msg_reader *, void *);

static void	 walk_next(void);
static void	 walk_cb(struct imsgproc *, int, struct imsg *,
		    struct msg_reader *, void *);
static void	 walk_flush_message(void);
static void	 corrupt_cb(struct imsgproc *, int, struct imsg *,
		    struct msg_reader *, void *);
static void	 walk_retry(int, short, void *);

static void	 delete_cb(struct imsgproc *, int, struct imsg *,
		    struct msg_reader *, void *);
static void	 delete_retry(int, short, void *);

static struct imsgproc		*backend;
static const char		*backend_name;
static struct pending_deletes	 deletes = TAILQ_HEAD_INITIALIZER(deletes);
static struct event		 ev_delete_retry;
static struct event		 ev_walk_retry;

static struct {
	int		 started;
	uint64_t	 cursor;
	uint32_t	 msgid;		/* message whose envelopes are staged */
	int		 corrupt;	/* one of them could not be read */
	size_t		 count;
	size_t		 corrupted;
} walk;

void
queue_main(void)
{
	proc_init(PROC_QUEUE);
	evtimer_assign(&ev_delete_retry, proc_base, delete_retry, NULL);
	evtimer_assign(&ev_walk_retry, proc_base, walk_retry, NULL);
	queue_bounce_init();
	/* the parent made queue_dir ours; the helper runs as we do */
	proc_drop_privileges(NULL);
	queue_backend_start();
	proc_loop(queue_dispatch);
}

/*
 * SMTPD_QUEUE_BACKEND picks the backend: queue-fs on <spool>/queue, or
 * queue-ram.  A backend that cannot even be started is fatal here, at
 * start-up; one that dies later is restarted by imsgproc.
 */
static void
queue_backend_start(void)
{
	struct imsgproc_params	 params;
	static char		 path[1024];
	char			*argv[3];
	const char		*which;

	which = getenv("SMTPD_QUEUE_BACKEND");
	if (which == NULL || *which == '\0' || strcmp(which, "fs") == 0)
		backend_name = "queue-fs";
	else if (strcmp(which, "ram") == 0)
		backend_name = "queue-ram";
	else
		fatalx("queue: SMTPD_QUEUE_BACKEND must be fs or ram, not %s",
		    which);
	if (helper_path(backend_name, path, sizeof(path)) == NULL)
		fatal("queue: %s", backend_name);
	argv[0] = path;
	argv[1] = strcmp(backend_name, "queue-fs") == 0 ?
	    smtpd_env.queue_dir : NULL;
	argv[2] = NULL;

	memset(&params, 0, sizeof(params));
	params.role = HELPER_ROLE_QUEUE;
	params.name = backend_name;
	params.argv = argv;
	params.config = "";
	params.fd = -1;		/* spawn it */
	params.timeout_ms = QUEUE_BACKEND_TIMEOUT_MS;
	params.on_ready = queue_on_ready;
	params.on_down = queue_on_down;
	if ((backend = imsgproc_start(proc_base, &params)) == NULL)
		fatalx("queue: cannot start the queue backend %s", path);
	log_debug("queue: backend %s%s%s", path, argv[1] != NULL ? " " : "",
	    argv[1] != NULL ? argv[1] : "");
}

static void
queue_on_ready(struct imsgproc *p, uint64_t caps, const char *name, void *arg)
{
	if (imsgproc_restarts(p) > 0)
		log_warnx("queue: backend %s is back", name);
	if (!walk.started) {
		walk.started = 1;
		walk_next();
	}
}

static void
queue_on_down(struct imsgproc *p, const char *why, void *arg)
{
	log_warnx("queue: backend %s down (%s): its requests fail "
	    "temporarily until it is restarted", backend_name, why);
}

uint64_t
queue_backend_request(uint32_t type, const struct msg *body, int fd,
    imsgproc_reply_cb cb, void *arg)
{
	struct backend_timing	*t;

	if ((log_gettrace() & PROFILE_QUEUE) == 0)
		return imsgproc_request(backend, type, body, fd, 0, cb, arg);
	/* profile queue: from send to answer, through a wrapper */
	if ((t = calloc(1, sizeof(*t))) == NULL)
		fatal("queue: calloc");
	t->cb = cb;
	t->arg = arg;
	t->type = type;
	backend_timed_ids(t, body);
	clock_gettime(CLOCK_MONOTONIC, &t->start);
	return imsgproc_request(backend, type, body, fd, 0, backend_timed_cb,
	    t);
}

/* The first field of every request but create and stats names an id. */
static void
backend_timed_ids(struct backend_timing *t, const struct msg *body)
{
	struct msg_reader	 r;
	uint32_t		 msgid;

	if (body == NULL)
		return;
	msg_reader_init(&r, body->buf, body->len);
	switch (msg_peek_type(&r)) {
	case MSG_UINT32:
		if (msg_get_uint32(&r, &msgid) == 0) {
			t->idtype = MSG_UINT32;
			t->id = msgid;
		}
		break;
	case MSG_ID:
		if (msg_get_id(&r, &t->id) == 0)
			t->idtype = MSG_ID;
		break;
	}
}

/*
 * Log the request's time, then hand the answer over untouched: the ids
 * a create answers are read from a copy of the reader.
 */
static void
backend_timed_cb(struct imsgproc *p, int result, struct imsg *imsg,
    struct msg_reader *r, void *arg)
{
	struct backend_timing	*t = arg;
	struct msg_reader	 copy;
	struct timespec		 now;
	char			 ids[40];
	long long		 us;
	int32_t			 v;
	uint32_t		 msgid;
	uint64_t		 evpid;

	clock_gettime(CLOCK_MONOTONIC, &now);
	us = (long long)(now.tv_sec - t->start.tv_sec) * 1000000 +
	    (now.tv_nsec - t->start.tv_nsec) / 1000;
	if (result == IMSGPROC_REPLY && r != NULL) {
		copy = *r;
		if (msg_get_int32(&copy, &v) == 0 && v == 1) {
			if (t->type == IMSG_QUEUE_MESSAGE_CREATE &&
			    msg_get_uint32(&copy, &msgid) == 0) {
				t->idtype = MSG_UINT32;
				t->id = msgid;
			} else if (t->type == IMSG_QUEUE_ENVELOPE_CREATE &&
			    msg_get_id(&copy, &evpid) == 0) {
				t->idtype = MSG_ID;
				t->id = evpid;
			}
		}
	}
	if (t->idtype == MSG_UINT32)
		snprintf(ids, sizeof(ids), "msgid=%08" PRIx32,
		    (uint32_t)t->id);
	else if (t->idtype == MSG_ID)
		snprintf(ids, sizeof(ids), "%s=%016" PRIx64,
		    t->type == IMSG_QUEUE_WALK ? "cursor" : "evpid", t->id);
	else
		strlcpy(ids, "-", sizeof(ids));
	log_trace(PROFILE_QUEUE, "profile: queue: %s %s, %lld us%s%s",
	    queue_frame_name(t->type), ids, us,
	    result == IMSGPROC_REPLY ? "" : ", ",
	    result == IMSGPROC_REPLY ? "" : imsgproc_result_name(result));
	t->cb(p, result, imsg, r, t->arg);
	free(t);
}

int
queue_backend_result(int result, struct msg_reader *r)
{
	int32_t	 v;

	if (result != IMSGPROC_REPLY || r == NULL)
		return -1;
	if (msg_get_int32(r, &v) == -1 || v < -1 || v > 1)
		return -1;
	return v;
}

struct queue_req *
queue_req_new(void)
{
	struct queue_req	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		fatal("queue: calloc");
	return c;
}

void
queue_bad_frame(const char *what, struct msg_reader *r)
{
	fatalx("queue: bad %s frame: %s", what, msg_reader_error(r));
}

static void
queue_dispatch(enum proc_id from, struct imsg *imsg, struct msg_reader *r)
{
	switch (imsg->hdr.type) {
	case IMSG_RECV_CREATE:
	case IMSG_RECV_SUBMIT:
	case IMSG_RECV_COMMIT:
	case IMSG_RECV_ROLLBACK:
		queue_recv_frame(imsg, r);
		break;
	case IMSG_MDA_RESULT:
	case IMSG_SCHED_DELIVER:
	case IMSG_SCHED_EXPIRE:
	case IMSG_SCHED_REMOVED:
		queue_deliver_frame(imsg, r);
		break;
	case IMSG_SCHED_LIST:
		queue_control_sched_list(imsg, r);
		break;
	case IMSG_CTL_REQUEST:
		queue_control_request(imsg, r);
		break;
	case IMSG_LOOKUP_RCPT_ENVELOPE:
	case IMSG_LOOKUP_RCPT_DONE:
		queue_bounce_lookup_frame(imsg, r);
		break;
	default:
		fatalx("queue: unexpected frame %u from %s", imsg->hdr.type,
		    proc_name(from));
	}
	if (imsg->fd != -1) {
		close(imsg->fd);
		imsg->fd = -1;
	}
}

/* ---- the scheduler ---- */

void
queue_sched_envelope(const struct envelope *e)
{
	struct msg	 m;

	msg_init(&m);
	msg_add_id(&m, e->id);
	msg_add_uint32(&m, e->type);
	msg_add_time(&m, e->creation);
	msg_add_time(&m, e->lasttry);
	msg_add_uint64(&m, (uint64_t)e->ttl);
	msg_add_uint32(&m, e->retry);
	proc_send(PROC_SCHEDULER, IMSG_SCHED_ENVELOPE, &m, -1);
	msg_free(&m);
}

void
queue_sched_msgid(uint32_t type, uint32_t msgid)
{
	struct msg	 m;

	msg_init(&m);
	msg_add_uint32(&m, msgid);
	proc_send(PROC_SCHEDULER, type, &m, -1);
	msg_free(&m);
}

void
queue_sched_evpid(uint32_t type, uint64_t evpid)
{
	struct msg	 m;

	msg_init(&m);
	msg_add_id(&m, evpid);
	proc_send(PROC_SCHEDULER, type, &m, -1);
	msg_free(&m);
}

void
queue_sched_tempfail(uint64_t evpid, uint32_t retry)
{
	struct msg	 m;

	msg_init(&m);
	msg_add_id(&m, evpid);
	msg_add_uint32(&m, retry);
	proc_send(PROC_SCHEDULER, IMSG_SCHED_TEMPFAIL, &m, -1);
	msg_free(&m);
}

/* ---- the start-up walk ---- */

static void
walk_next(void)
{
	struct msg	 m;

	msg_init(&m);
	msg_add_id(&m, walk.cursor);
	queue_backend_request(IMSG_QUEUE_WALK, &m, -1, walk_cb, NULL);
	msg_free(&m);
}

static void
walk_retry(int fd, short events, void *arg)
{
	walk_next();
}

/*
 * Envelopes come in evpid order, so those of one message are together:
 * each message is committed to the scheduler once its last envelope is
 * seen, or set aside whole if one of them cannot be read.
 */
static void
walk_cb(struct imsgproc *p, int result, struct imsg *imsg,
    struct msg_reader *r, void *arg)
{
	struct envelope	 e;
	struct timeval	 tv = { WALK_RETRY_SEC, 0 };
	const void	*text;
	size_t		 len;
	uint64_t	 next, evpid;
	uint32_t	 done, count, i;
	char		 err[128];

	if (queue_backend_result(result, r) != 1 ||
	    msg_get_id(r, &next) == -1 || msg_get_uint32(r, &done) == -1 ||
	    msg_get_uint32(r, &count) == -1) {
		log_warnx("queue: walking the queue failed (%s), trying again",
		    result == IMSGPROC_REPLY ? "backend failure" :
		    imsgproc_result_name(result));
		evtimer_add(&ev_walk_retry, &tv);
		return;
	}
	for (i = 0; i < count; i++) {
		if (msg_get_id(r, &evpid) == -1 ||
		    msg_get_data(r, &text, &len) == -1) {
			log_warnx("queue: bad walk reply: %s",
			    msg_reader_error(r));
			evtimer_add(&ev_walk_retry, &tv);
			return;
		}
		if (evpid_to_msgid(evpid) != walk.msgid) {
			walk_flush_message();
			walk.msgid = evpid_to_msgid(evpid);
		}
		walk.cursor = evpid;
		if (envelope_load(&e, text, len, err, sizeof(err)) == -1) {
			log_warnx("queue: envelope %016" PRIx64 " cannot be "
			    "read: %s", evpid, err);
			walk.corrupt = 1;
			continue;
		}
		e.id = evpid;
		queue_sched_envelope(&e);
		walk.count++;
	}
	if (next > walk.cursor)
		walk.cursor = next;
	if (!done) {
		walk_next();
		return;
	}
	walk_flush_message();
	log_info("queue: %zu envelopes loaded%s", walk.count,
	    walk.corrupted ? " (some messages set aside as corrupt)" : "");
}

static void
corrupt_cb(struct imsgproc *p, int result, struct imsg *imsg,
    struct msg_reader *r, void *arg)
{
	struct queue_req	*c = arg;

	if (queue_backend_result(result, r) != 1)
		log_warnx("queue: message %08" PRIx32 " could not be set "
		    "aside; it stays in the queue, unscheduled", c->msgid);
	free(c);
}

void
queue_message_corrupt(uint32_t msgid)
{
	struct queue_req	*c = queue_req_new();
	struct msg		 m;

	c->msgid = msgid;
	msg_init(&m);
	msg_add_uint32(&m, msgid);
	queue_backend_request(IMSG_QUEUE_MESSAGE_CORRUPT, &m, -1, corrupt_cb,
	    c);
	msg_free(&m);
}

static void
walk_flush_message(void)
{
	if (walk.msgid == 0)
		return;
	if (!walk.corrupt)
		queue_sched_msgid(IMSG_SCHED_COMMIT, walk.msgid);
	else {
		queue_sched_msgid(IMSG_SCHED_ROLLBACK, walk.msgid);
		log_warnx("queue: message %08" PRIx32 " set aside as corrupt "
		    "(see queue-fs(8))", walk.msgid);
		walk.corrupted++;
		queue_message_corrupt(walk.msgid);
	}
	walk.msgid = 0;
	walk.corrupt = 0;
}

/* ---- deletions ---- */

void
queue_envelope_delete(uint64_t evpid)
{
	struct queue_req	*c = queue_req_new();
	struct msg	 m;

	c->evpid = evpid;
	msg_init(&m);
	msg_add_id(&m, evpid);
	queue_backend_request(IMSG_QUEUE_ENVELOPE_DELETE, &m, -1, delete_cb,
	    c);
	msg_free(&m);
}

/*
 * A delivered envelope that stays in the queue would be delivered
 * again after a restart: keep trying to delete it.
 */
static void
delete_cb(struct imsgproc *p, int result, struct imsg *imsg,
    struct msg_reader *r, void *arg)
{
	struct queue_req		*c = arg;
	struct pending_delete	*pd;
	struct timeval		 tv = { DELETE_RETRY_SEC, 0 };

	if (queue_backend_result(result, r) == -1) {
		log_warnx("queue: envelope %016" PRIx64 " could not be "
		    "deleted now, trying again in %ds", c->evpid,
		    DELETE_RETRY_SEC);
		if ((pd = calloc(1, sizeof(*pd))) == NULL)
			fatal("queue: calloc");
		pd->evpid = c->evpid;
		TAILQ_INSERT_TAIL(&deletes, pd, entry);
		if (!evtimer_pending(&ev_delete_retry, NULL))
			evtimer_add(&ev_delete_retry, &tv);
	}
	free(c);
}

static void
delete_retry(int fd, short events, void *arg)
{
	struct pending_delete	*pd;

	while ((pd = TAILQ_FIRST(&deletes)) != NULL) {
		TAILQ_REMOVE(&deletes, pd, entry);
		queue_envelope_delete(pd->evpid);
		free(pd);
	}
}

/* ---- small helpers ---- */

int
queue_envelope_add(struct msg *m, const struct envelope *e)
{
	char	 buf[ENVELOPE_TEXT_MAX];
	int	 len;

	if ((len = envelope_dump(e, buf, sizeof(buf))) == -1 ||
	    len > QUEUE_ENVELOPE_MAX)
		return -1;
	msg_add_data(m, buf, (size_t)len);
	return 0;
}

const char *
queue_duration(int64_t s, char *buf, size_t bufsz)
{
	char	 part[24];

	if (s < 0)
		s = 0;
	buf[0] = '\0';
	if (s >= 86400) {
		snprintf(part, sizeof(part), "%" PRId64 "d", s / 86400);
		strlcat(buf, part, bufsz);
	}
	if (s % 86400 >= 3600) {
		snprintf(part, sizeof(part), "%" PRId64 "h", s % 86400 / 3600);
		strlcat(buf, part, bufsz);
	}
	if (s % 3600 >= 60) {
		snprintf(part, sizeof(part), "%" PRId64 "m", s % 3600 / 60);
		strlcat(buf, part, bufsz);
	}
	if (s % 60 != 0 || s == 0) {
		snprintf(part, sizeof(part), "%" PRId64 "s", s % 60);
		strlcat(buf, part, bufsz);
	}
	return buf;
}

const char *
queue_addr(const struct mailaddr *a, int slot)
{
	static char	 buf[3][MAILADDR_USER_MAX + MAILADDR_DOMAIN_MAX + 2];

	if (slot < 0 || slot > 2)
		slot = 0;
	if (mailaddr_to_text(a, buf[slot], sizeof(buf[slot])) == -1)
		strlcpy(buf[slot], "?", sizeof(buf[slot]));
	return buf[slot];
}
