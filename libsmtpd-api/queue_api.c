/*
 * queue_api.c: the helper side of a queue backend.
 *
 * A queue program registers callbacks and calls queue_api_dispatch().
 * This file decodes each request (wire forms in smtpd-api.h section 8),
 * refuses malformed ones with a logged warning and a -1 answer, checks
 * what the callbacks give back (ids, lengths, descriptors) and encodes
 * the answers.  Result-only operations may be answered later, which is
 * how a backend batches the syncs of concurrent commits.
 */
#include <sys/types.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "smtpd-api.h"

/* Room for the fixed fields of a WALK or STATS answer and the id. */
#define QUEUE_API_HEADROOM	64
#define QUEUE_API_STATS_MAX	64

struct queue_api_pending {
	uint64_t	 reqid;
	uint32_t	 type;
	int		 stale;		/* answered already: done() only frees */
};

struct walk_entry {
	uint64_t	 evpid;
	void		*text;
	size_t		 len;
};

struct queue_api_walk {
	uint64_t		 cursor;
	struct walk_entry	*entries;
	size_t			 count;
	size_t			 cap;
	size_t			 size;	/* encoded bytes so far */
};

struct queue_api_stats {
	const char	*names[QUEUE_API_STATS_MAX];
	uint64_t	 values[QUEUE_API_STATS_MAX];
	size_t		 count;
};

static void	queue_api_frame(struct imsg *, struct msg_reader *, void *);
static void	queue_api_request(uint32_t, uint64_t, struct msg_reader *);
static int	queue_api_deferrable(uint32_t, uint64_t, uint32_t, uint64_t,
		    const void *, size_t);
static int	queue_api_result_only(uint32_t, uint32_t, uint64_t,
		    const void *, size_t);
static void	queue_api_create(uint64_t);
static void	queue_api_fd_r(uint64_t, uint32_t);
static void	queue_api_envelope_create(uint64_t, uint32_t, const void *,
		    size_t);
static void	queue_api_envelope_load(uint64_t, uint64_t);
static void	queue_api_walk(uint64_t, uint64_t);
static void	queue_api_stats(uint64_t);
static int	queue_api_result(const char *, int);
static void	queue_api_answer(uint32_t, uint64_t, int);
static void	queue_api_send(uint32_t, uint64_t, struct msg *, int);

static int	(*cb_init)(const char *);
static int	(*cb_message_create)(uint32_t *, int *);
static int	(*cb_message_commit)(uint32_t);
static int	(*cb_message_delete)(uint32_t);
static int	(*cb_message_fd_r)(uint32_t, int *);
static int	(*cb_message_corrupt)(uint32_t);
static int	(*cb_envelope_create)(uint32_t, const void *, size_t,
		    uint64_t *);
static int	(*cb_envelope_update)(uint64_t, const void *, size_t);
static int	(*cb_envelope_load)(uint64_t, void *, size_t, size_t *);
static int	(*cb_envelope_delete)(uint64_t);
static int	(*cb_walk)(uint64_t, struct queue_api_walk *);
static void	(*cb_stats)(struct queue_api_stats *);

/* The request a deferrable callback is running for, else NULL. */
static struct queue_api_pending	*deferrable;
static int			 deferred;

const char *
queue_frame_name(uint32_t type)
{
	switch (type) {
	case IMSG_QUEUE_MESSAGE_CREATE:
		return "create";
	case IMSG_QUEUE_MESSAGE_COMMIT:
		return "commit";
	case IMSG_QUEUE_MESSAGE_DELETE:
		return "delete";
	case IMSG_QUEUE_MESSAGE_FD_R:
		return "fd_r";
	case IMSG_QUEUE_MESSAGE_CORRUPT:
		return "corrupt";
	case IMSG_QUEUE_ENVELOPE_CREATE:
		return "envelope_create";
	case IMSG_QUEUE_ENVELOPE_UPDATE:
		return "envelope_update";
	case IMSG_QUEUE_ENVELOPE_LOAD:
		return "envelope_load";
	case IMSG_QUEUE_ENVELOPE_DELETE:
		return "envelope_delete";
	case IMSG_QUEUE_WALK:
		return "walk";
	case IMSG_QUEUE_STATS:
		return "stats";
	default:
		return "unknown";
	}
}

uint32_t
queue_generate_msgid(void)
{
	uint32_t	 msgid;

	while ((msgid = arc4random()) == 0)
		;
	return msgid;
}

uint64_t
queue_generate_evpid(uint32_t msgid)
{
	uint32_t	 low;

	while ((low = arc4random()) == 0)
		;
	return (uint64_t)msgid << 32 | low;
}

void
queue_api_on_init(int (*cb)(const char *))
{
	cb_init = cb;
}

void
queue_api_on_message_create(int (*cb)(uint32_t *, int *))
{
	cb_message_create = cb;
}

void
queue_api_on_message_commit(int (*cb)(uint32_t))
{
	cb_message_commit = cb;
}

void
queue_api_on_message_delete(int (*cb)(uint32_t))
{
	cb_message_delete = cb;
}

void
queue_api_on_message_fd_r(int (*cb)(uint32_t, int *))
{
	cb_message_fd_r = cb;
}

void
queue_api_on_message_corrupt(int (*cb)(uint32_t))
{
	cb_message_corrupt = cb;
}

void
queue_api_on_envelope_create(int (*cb)(uint32_t, const void *, size_t,
    uint64_t *))
{
	cb_envelope_create = cb;
}

void
queue_api_on_envelope_update(int (*cb)(uint64_t, const void *, size_t))
{
	cb_envelope_update = cb;
}

void
queue_api_on_envelope_load(int (*cb)(uint64_t, void *, size_t, size_t *))
{
	cb_envelope_load = cb;
}

void
queue_api_on_envelope_delete(int (*cb)(uint64_t))
{
	cb_envelope_delete = cb;
}

void
queue_api_on_walk(int (*cb)(uint64_t, struct queue_api_walk *))
{
	cb_walk = cb;
}

void
queue_api_on_stats(void (*cb)(struct queue_api_stats *))
{
	cb_stats = cb;
}

const char *
queue_api_get_name(void)
{
	return helper_instance_name();
}

const char *
queue_api_get_config(void)
{
	return helper_config();
}

int
queue_api_dispatch(void)
{
	if (helper_init(HELPER_ROLE_QUEUE, 0, getprogname()) == -1)
		return 1;
	if (cb_init != NULL && cb_init(helper_config()) == -1) {
		log_warnx("queue: backend initialisation failed");
		return 1;
	}
	if (helper_loop(queue_api_frame, NULL) == -1)
		return 1;
	return 0;
}

struct queue_api_pending *
queue_api_defer(void)
{
	struct queue_api_pending	*p;

	if (deferrable == NULL || deferred) {
		log_warnx("queue: queue_api_defer() outside a deferrable "
		    "callback, ignored");
		return NULL;
	}
	if ((p = malloc(sizeof(*p))) == NULL) {
		log_warn("queue: queue_api_defer");
		return NULL;
	}
	*p = *deferrable;
	deferred = 1;
	deferrable = p;
	return p;
}

void
queue_api_done(struct queue_api_pending *p, int result)
{
	if (p == NULL)
		return;
	if (!p->stale) {
		result = queue_api_result(queue_frame_name(p->type), result);
		log_trace(TRACE_QUEUE, "queue: %s (deferred) -> %d",
		    queue_frame_name(p->type), result);
		queue_api_answer(p->type, p->reqid, result);
	}
	free(p);
}

int
queue_api_walk_add(struct queue_api_walk *w, uint64_t evpid,
    const void *text, size_t len)
{
	struct walk_entry	*e;
	uint64_t		 last;
	size_t			 need;

	last = w->count ? w->entries[w->count - 1].evpid : w->cursor;
	/* Out of order would break the cursor: skip, never loop. */
	if (evpid <= last || len > QUEUE_ENVELOPE_MAX ||
	    (uint32_t)evpid == 0) {
		log_warnx("queue: walk: envelope %016llx out of order or "
		    "invalid, skipped", (unsigned long long)evpid);
		return 0;
	}
	need = 9 + 5 + len;
	if (w->size + need > IMSG_MAX_BODY - QUEUE_API_HEADROOM)
		return -1;
	if (w->count == w->cap) {
		size_t	 ncap = w->cap ? w->cap * 2 : 32;

		e = reallocarray(w->entries, ncap, sizeof(*e));
		if (e == NULL)
			return -1;
		w->entries = e;
		w->cap = ncap;
	}
	e = &w->entries[w->count];
	if ((e->text = malloc(len ? len : 1)) == NULL)
		return -1;
	if (len)
		memcpy(e->text, text, len);
	e->evpid = evpid;
	e->len = len;
	w->count++;
	w->size += need;
	return 0;
}

int
queue_api_stats_add(struct queue_api_stats *s, const char *name,
    uint64_t value)
{
	if (s->count == QUEUE_API_STATS_MAX)
		return -1;
	s->names[s->count] = name;
	s->values[s->count] = value;
	s->count++;
	return 0;
}

/*
 * Decoded from the frame itself, like table_api.c, so that nothing
 * depends on where helper_loop's reader stands.
 */
static void
queue_api_frame(struct imsg *imsg, struct msg_reader *unused, void *arg)
{
	struct msg_reader	 body;
	uint64_t		 reqid;

	/* No queue request carries a descriptor from the owner. */
	if (imsg->fd != -1) {
		log_warnx("queue: %s frame came with a descriptor, closed",
		    queue_frame_name(imsg->hdr.type));
		close(imsg->fd);
		imsg->fd = -1;
	}
	if (imsg->hdr.flags & IMSGF_REPLY) {
		log_warnx("queue: unexpected answer frame of type %u, ignored",
		    imsg->hdr.type);
		return;
	}
	msg_reader_init(&body, imsg->data, imsg->datalen);
	if (msg_get_id(&body, &reqid) == -1) {
		log_warnx("queue: malformed %s frame, no request id: %s",
		    queue_frame_name(imsg->hdr.type), msg_reader_error(&body));
		return;
	}
	queue_api_request(imsg->hdr.type, reqid, &body);
}

static void
queue_api_request(uint32_t type, uint64_t reqid, struct msg_reader *body)
{
	const void	*text = NULL;
	size_t		 len = 0;
	uint64_t	 id = 0;
	uint32_t	 msgid = 0;
	int		 r;

	switch (type) {
	case IMSG_QUEUE_MESSAGE_CREATE:
	case IMSG_QUEUE_STATS:
		if (msg_end(body) == -1)
			goto malformed;
		break;
	case IMSG_QUEUE_MESSAGE_COMMIT:
	case IMSG_QUEUE_MESSAGE_DELETE:
	case IMSG_QUEUE_MESSAGE_FD_R:
	case IMSG_QUEUE_MESSAGE_CORRUPT:
		if (msg_get_uint32(body, &msgid) == -1 || msg_end(body) == -1)
			goto malformed;
		break;
	case IMSG_QUEUE_ENVELOPE_CREATE:
		if (msg_get_uint32(body, &msgid) == -1 ||
		    msg_get_data(body, &text, &len) == -1 ||
		    msg_end(body) == -1)
			goto malformed;
		break;
	case IMSG_QUEUE_ENVELOPE_UPDATE:
		if (msg_get_id(body, &id) == -1 ||
		    msg_get_data(body, &text, &len) == -1 ||
		    msg_end(body) == -1)
			goto malformed;
		break;
	case IMSG_QUEUE_ENVELOPE_LOAD:
	case IMSG_QUEUE_ENVELOPE_DELETE:
	case IMSG_QUEUE_WALK:
		if (msg_get_id(body, &id) == -1 || msg_end(body) == -1)
			goto malformed;
		break;
	default:
		/* The owner learns at once, not at its deadline. */
		log_warnx("queue: unknown frame type %u (request %016llx), "
		    "answered -1", type, (unsigned long long)reqid);
		queue_api_answer(type, reqid, -1);
		return;
	}

	if ((type == IMSG_QUEUE_ENVELOPE_CREATE ||
	    type == IMSG_QUEUE_ENVELOPE_UPDATE) &&
	    (len == 0 || len > QUEUE_ENVELOPE_MAX)) {
		log_warnx("queue: %s with an envelope of %zu bytes (1 to %d "
		    "allowed), answered 0", queue_frame_name(type), len,
		    QUEUE_ENVELOPE_MAX);
		queue_api_answer(type, reqid, 0);
		return;
	}

	switch (type) {
	case IMSG_QUEUE_MESSAGE_CREATE:
		queue_api_create(reqid);
		return;
	case IMSG_QUEUE_MESSAGE_FD_R:
		queue_api_fd_r(reqid, msgid);
		return;
	case IMSG_QUEUE_ENVELOPE_CREATE:
		queue_api_envelope_create(reqid, msgid, text, len);
		return;
	case IMSG_QUEUE_ENVELOPE_LOAD:
		queue_api_envelope_load(reqid, id);
		return;
	case IMSG_QUEUE_WALK:
		queue_api_walk(reqid, id);
		return;
	case IMSG_QUEUE_STATS:
		queue_api_stats(reqid);
		return;
	default:	/* the result-only operations */
		r = queue_api_deferrable(type, reqid, msgid, id, text, len);
		break;
	}
	if (r == QUEUE_API_DEFERRED)
		return;
	log_trace(TRACE_QUEUE, "queue: %s %llx -> %d", queue_frame_name(type),
	    (unsigned long long)(msgid ? msgid : id), r);
	queue_api_answer(type, reqid, r);
	return;

malformed:
	log_warnx("queue: malformed %s request %016llx: %s, answered -1",
	    queue_frame_name(type), (unsigned long long)reqid,
	    msg_reader_error(body));
	queue_api_answer(type, reqid, -1);
}

/*
 * Runs a result-only callback, which may defer its answer.  Returns the
 * result to answer now, or QUEUE_API_DEFERRED when the backend took the
 * request.
 */
static int
queue_api_deferrable(uint32_t type, uint64_t reqid, uint32_t msgid,
    uint64_t evpid, const void *text, size_t len)
{
	struct queue_api_pending	 current;
	int				 r;

	current.reqid = reqid;
	current.type = type;
	current.stale = 0;
	deferrable = &current;
	deferred = 0;
	r = queue_api_result_only(type, msgid, evpid, text, len);
	if (deferred) {
		if (r == QUEUE_API_DEFERRED) {
			deferrable = NULL;
			deferred = 0;
			return r;
		}
		/* Answered now: the handle the backend holds only frees. */
		log_warnx("queue: %s callback deferred, then returned %d",
		    queue_frame_name(type), r);
		deferrable->stale = 1;
	} else if (r == QUEUE_API_DEFERRED) {
		log_warnx("queue: %s callback returned QUEUE_API_DEFERRED "
		    "without queue_api_defer(), answered -1",
		    queue_frame_name(type));
		r = -1;
	}
	deferrable = NULL;
	deferred = 0;
	return queue_api_result(queue_frame_name(type), r);
}

/* Ids no backend can hold (a zero half) are not found. */
static int
queue_api_result_only(uint32_t type, uint32_t msgid, uint64_t evpid,
    const void *text, size_t len)
{
	switch (type) {
	case IMSG_QUEUE_MESSAGE_COMMIT:
		if (msgid == 0)
			return 0;
		return cb_message_commit ? cb_message_commit(msgid) : -1;
	case IMSG_QUEUE_MESSAGE_DELETE:
		if (msgid == 0)
			return 0;
		return cb_message_delete ? cb_message_delete(msgid) : -1;
	case IMSG_QUEUE_MESSAGE_CORRUPT:
		if (msgid == 0)
			return 0;
		return cb_message_corrupt ? cb_message_corrupt(msgid) : -1;
	default:
		if ((uint32_t)evpid == 0 || (evpid >> 32) == 0)
			return 0;
		if (type == IMSG_QUEUE_ENVELOPE_UPDATE)
			return cb_envelope_update ?
			    cb_envelope_update(evpid, text, len) : -1;
		return cb_envelope_delete ? cb_envelope_delete(evpid) : -1;
	}
}

static void
queue_api_create(uint64_t reqid)
{
	struct msg	 m;
	uint32_t	 msgid = 0;
	int		 fd = -1, r;

	r = cb_message_create ? cb_message_create(&msgid, &fd) : -1;
	r = queue_api_result("create", r);
	if (r == 1 && (msgid == 0 || fd < 0)) {
		log_warnx("queue: create callback gave msgid %08x and "
		    "descriptor %d, answered -1", msgid, fd);
		r = -1;
	}
	if (r != 1 && fd >= 0) {
		close(fd);
		fd = -1;
	}
	log_trace(TRACE_QUEUE, "queue: create -> %d msgid %08x", r, msgid);
	msg_init(&m);
	msg_add_int32(&m, r);
	if (r == 1)
		msg_add_uint32(&m, msgid);
	queue_api_send(IMSG_QUEUE_MESSAGE_CREATE, reqid, &m, fd);
}

static void
queue_api_fd_r(uint64_t reqid, uint32_t msgid)
{
	struct msg	 m;
	int		 fd = -1, r;

	if (msgid == 0)
		r = 0;
	else
		r = cb_message_fd_r ? cb_message_fd_r(msgid, &fd) : -1;
	r = queue_api_result("fd_r", r);
	if (r == 1 && fd < 0) {
		log_warnx("queue: fd_r callback gave no descriptor, "
		    "answered -1");
		r = -1;
	}
	if (r != 1 && fd >= 0) {
		close(fd);
		fd = -1;
	}
	log_trace(TRACE_QUEUE, "queue: fd_r %08x -> %d", msgid, r);
	msg_init(&m);
	msg_add_int32(&m, r);
	queue_api_send(IMSG_QUEUE_MESSAGE_FD_R, reqid, &m, fd);
}

static void
queue_api_envelope_create(uint64_t reqid, uint32_t msgid, const void *text,
    size_t len)
{
	struct msg	 m;
	uint64_t	 evpid = 0;
	int		 r;

	if (msgid == 0)
		r = 0;
	else if (cb_envelope_create == NULL)
		r = -1;
	else
		r = cb_envelope_create(msgid, text, len, &evpid);
	r = queue_api_result("envelope_create", r);
	if (r == 1 && (queue_evpid_to_msgid(evpid) != msgid ||
	    (uint32_t)evpid == 0)) {
		log_warnx("queue: envelope_create callback gave evpid "
		    "%016llx for msgid %08x, answered -1",
		    (unsigned long long)evpid, msgid);
		r = -1;
	}
	log_trace(TRACE_QUEUE, "queue: envelope_create %08x -> %d %016llx",
	    msgid, r, (unsigned long long)evpid);
	msg_init(&m);
	msg_add_int32(&m, r);
	if (r == 1)
		msg_add_id(&m, evpid);
	queue_api_send(IMSG_QUEUE_ENVELOPE_CREATE, reqid, &m, -1);
}

static void
queue_api_envelope_load(uint64_t reqid, uint64_t evpid)
{
	struct msg	 m;
	char		*buf;
	size_t		 len = 0;
	int		 r;

	if ((buf = malloc(QUEUE_ENVELOPE_MAX)) == NULL) {
		log_warn("queue: envelope_load");
		queue_api_answer(IMSG_QUEUE_ENVELOPE_LOAD, reqid, -1);
		return;
	}
	if ((uint32_t)evpid == 0 || (evpid >> 32) == 0)
		r = 0;
	else if (cb_envelope_load == NULL)
		r = -1;
	else
		r = cb_envelope_load(evpid, buf, QUEUE_ENVELOPE_MAX, &len);
	r = queue_api_result("envelope_load", r);
	if (r == 1 && len > QUEUE_ENVELOPE_MAX) {
		log_warnx("queue: envelope_load callback gave %zu bytes, "
		    "answered -1", len);
		r = -1;
	}
	log_trace(TRACE_QUEUE, "queue: envelope_load %016llx -> %d",
	    (unsigned long long)evpid, r);
	msg_init(&m);
	msg_add_int32(&m, r);
	if (r == 1)
		msg_add_data(&m, buf, len);
	queue_api_send(IMSG_QUEUE_ENVELOPE_LOAD, reqid, &m, -1);
	free(buf);
}

static void
queue_api_walk(uint64_t reqid, uint64_t cursor)
{
	struct queue_api_walk	 w;
	struct msg		 m;
	uint64_t		 next;
	size_t			 i;
	int			 r;

	memset(&w, 0, sizeof(w));
	w.cursor = cursor;
	r = cb_walk ? cb_walk(cursor, &w) : -1;
	r = queue_api_result("walk", r);
	/* "Full" with nothing in it would make the owner loop forever. */
	if (r == 0 && w.count == 0) {
		log_warnx("queue: walk callback returned a full, empty "
		    "batch, answered -1");
		r = -1;
	}
	next = w.count ? w.entries[w.count - 1].evpid : cursor;
	log_trace(TRACE_QUEUE, "queue: walk from %016llx -> %d, %zu "
	    "envelopes%s", (unsigned long long)cursor, r, w.count,
	    r == 1 ? ", done" : "");

	msg_init(&m);
	if (r == -1)
		msg_add_int32(&m, -1);
	else {
		msg_add_int32(&m, 1);
		msg_add_id(&m, next);
		msg_add_uint32(&m, r == 1);
		msg_add_uint32(&m, (uint32_t)w.count);
		for (i = 0; i < w.count; i++) {
			msg_add_id(&m, w.entries[i].evpid);
			msg_add_data(&m, w.entries[i].text, w.entries[i].len);
		}
	}
	for (i = 0; i < w.count; i++)
		free(w.entries[i].text);
	free(w.entries);
	queue_api_send(IMSG_QUEUE_WALK, reqid, &m, -1);
}

static void
queue_api_stats(uint64_t reqid)
{
	struct queue_api_stats	 s;
	struct msg		 m;
	size_t			 i;

	memset(&s, 0, sizeof(s));
	if (cb_stats != NULL)
		cb_stats(&s);
	msg_init(&m);
	msg_add_int32(&m, 1);
	msg_add_uint32(&m, (uint32_t)s.count);
	for (i = 0; i < s.count; i++) {
		msg_add_string(&m, s.names[i]);
		msg_add_uint64(&m, s.values[i]);
	}
	queue_api_send(IMSG_QUEUE_STATS, reqid, &m, -1);
}

/* Callbacks promise 1, 0 or -1; anything else is a bug made safe. */
static int
queue_api_result(const char *what, int r)
{
	if (r == 1 || r == 0 || r == -1)
		return r;
	log_warnx("queue: %s callback returned %d (not 1, 0 or -1), "
	    "answered -1", what, r);
	return -1;
}

static void
queue_api_answer(uint32_t type, uint64_t reqid, int result)
{
	struct msg	 m;

	msg_init(&m);
	msg_add_int32(&m, result);
	queue_api_send(type, reqid, &m, -1);
}

/* Sends and frees m; an encoding failure becomes a bare -1. */
static void
queue_api_send(uint32_t type, uint64_t reqid, struct msg *m, int fd)
{
	if (msg_error(m)) {
		log_warnx("queue: cannot encode %s answer to request %016llx",
		    queue_frame_name(type), (unsigned long long)reqid);
		msg_reset(m);
		m->error = 0;
		msg_add_int32(m, -1);
		if (fd >= 0) {
			close(fd);
			fd = -1;
		}
	}
	if (helper_reply(type, reqid, m, fd) == -1)
		log_warnx("queue: cannot answer %s request %016llx",
		    queue_frame_name(type), (unsigned long long)reqid);
	msg_free(m);
}
