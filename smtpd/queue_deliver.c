/*
 * queue_deliver.c: the envelopes the scheduler hands out, in the queue
 * process.
 *
 * Each is loaded from the backend first.  A local delivery goes to the
 * network process with a read-only descriptor on the message, and is
 * kept here until its result: deleted (delivered), updated and retried
 * (temporary failure) or replaced by a bounce (permanent failure).  An
 * expired envelope is bounced, a removed one deleted, a bounce
 * envelope goes to queue_bounce.c.  Every outcome is told to the
 * scheduler, which keeps the envelope in flight until then.
 */
#include <sys/types.h>
#include <sys/tree.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "smtpd-api.h"
#include "envelope.h"
#include "frames.h"
#include "proc.h"
#include "queue.h"

/* An envelope handed to the network process for delivery. */
struct delivery {
	RB_ENTRY(delivery)	 entry;
	uint64_t		 evpid;
	struct envelope		 env;
	char			 text[ENVELOPE_TEXT_MAX];
	size_t			 textlen;
};
RB_HEAD(delivery_tree, delivery);

typedef void (*queue_loaded_cb)(uint64_t, struct envelope *, const char *,
    size_t);

static int	 delivery_cmp(struct delivery *, struct delivery *);
RB_PROTOTYPE(delivery_tree, delivery, entry, delivery_cmp);

static void	 queue_load(uint64_t evpid, queue_loaded_cb);
static void	 queue_load_cb(struct imsgproc *, int, struct imsg *,
		    struct msg_reader *, void *);
static void	 sched_deliver(uint64_t, struct envelope *, const char *,
		    size_t);
static void	 deliver_fd_cb(struct imsgproc *, int, struct imsg *,
		    struct msg_reader *, void *);
static void	 sched_expire(uint64_t, struct envelope *, const char *,
		    size_t);
static void	 sched_remove(uint64_t, struct envelope *, const char *,
		    size_t);
static void	 remove_cb(struct imsgproc *, int, struct imsg *,
		    struct msg_reader *, void *);
static void	 mda_result(struct msg_reader *);
static void	 update_cb(struct imsgproc *, int, struct imsg *,
		    struct msg_reader *, void *);
static void	 log_envelope_end(const char *what, const struct envelope *,
		    const char *stat);

RB_GENERATE(delivery_tree, delivery, entry, delivery_cmp)

static struct delivery_tree	 deliveries = RB_INITIALIZER(&deliveries);

static int
delivery_cmp(struct delivery *a, struct delivery *b)
{
	return a->evpid < b->evpid ? -1 : a->evpid > b->evpid;
}

void
queue_deliver_frame(struct imsg *imsg, struct msg_reader *r)
{
	uint64_t	 evpid;

	switch (imsg->hdr.type) {
	case IMSG_MDA_RESULT:
		mda_result(r);
		return;
	case IMSG_SCHED_DELIVER:
	case IMSG_SCHED_EXPIRE:
	case IMSG_SCHED_REMOVED:
		if (msg_get_id(r, &evpid) == -1 || msg_end(r) == -1)
			queue_bad_frame("IMSG_SCHED_DELIVER", r);
		queue_load(evpid, imsg->hdr.type == IMSG_SCHED_DELIVER ?
		    sched_deliver : imsg->hdr.type == IMSG_SCHED_EXPIRE ?
		    sched_expire : sched_remove);
		return;
	default:
		fatalx("queue: not a delivery frame: %u", imsg->hdr.type);
	}
}

/*
 * Load an envelope for the scheduler's request, then call loaded with
 * it.  What cannot be loaded is answered here: a temporary failure is
 * retried later, an envelope that is gone is forgotten, one that
 * cannot be read sets its message aside.
 */
static void
queue_load(uint64_t evpid, queue_loaded_cb loaded)
{
	struct queue_req *c = queue_req_new();
	struct msg	 m;

	c->evpid = evpid;
	c->loaded = loaded;
	msg_init(&m);
	msg_add_id(&m, evpid);
	queue_backend_request(IMSG_QUEUE_ENVELOPE_LOAD, &m, -1, queue_load_cb,
	    c);
	msg_free(&m);
}

static void
queue_load_cb(struct imsgproc *p, int result, struct imsg *imsg,
    struct msg_reader *r, void *arg)
{
	struct queue_req *c = arg;
	const void	*text;
	size_t		 len;
	char		 err[128];
	int		 res;

	res = queue_backend_result(result, r);
	if (res == 1 && msg_get_data(r, &text, &len) == -1)
		res = -1;
	if (res == -1) {
		log_warnx("queue: cannot load envelope %016" PRIx64 " (%s), "
		    "trying again later", c->evpid, result == IMSGPROC_REPLY ?
		    "backend failure" : imsgproc_result_name(result));
		queue_sched_tempfail(c->evpid, 0);
	} else if (res == 0) {
		log_warnx("queue: envelope %016" PRIx64 " is no longer in the "
		    "queue", c->evpid);
		queue_sched_evpid(IMSG_SCHED_DELIVERED, c->evpid);
	} else if (envelope_load(&c->env, text, len, err, sizeof(err)) == -1) {
		log_warnx("queue: envelope %016" PRIx64 " cannot be read: %s; "
		    "message %08" PRIx32 " set aside as corrupt", c->evpid,
		    err, evpid_to_msgid(c->evpid));
		queue_message_corrupt(evpid_to_msgid(c->evpid));
		queue_sched_evpid(IMSG_SCHED_PERMFAIL, c->evpid);
	} else {
		c->env.id = c->evpid;
		c->loaded(c->evpid, &c->env, text, len);
	}
	free(c);
}

static void
sched_deliver(uint64_t evpid, struct envelope *e, const char *text,
    size_t len)
{
	struct delivery	 key, *d;
	struct queue_req *c;
	struct msg	 m;

	switch (e->type) {
	case D_BOUNCE:
		queue_bounce_deliver(e);
		return;
	case D_MDA:
		break;
	default:
		queue_bounce_failed(e, "relaying is not supported yet",
		    "5.3.3");
		return;
	}
	key.evpid = evpid;
	if (RB_FIND(delivery_tree, &deliveries, &key) != NULL) {
		log_warnx("queue: envelope %016" PRIx64 " is already being "
		    "delivered", evpid);
		return;
	}
	if ((d = calloc(1, sizeof(*d))) == NULL)
		fatal("queue: calloc");
	d->evpid = evpid;
	d->env = *e;
	if (len >= sizeof(d->text))
		len = sizeof(d->text) - 1;
	memcpy(d->text, text, len);
	d->textlen = len;
	RB_INSERT(delivery_tree, &deliveries, d);

	c = queue_req_new();
	c->evpid = evpid;
	msg_init(&m);
	msg_add_uint32(&m, evpid_to_msgid(evpid));
	queue_backend_request(IMSG_QUEUE_MESSAGE_FD_R, &m, -1, deliver_fd_cb,
	    c);
	msg_free(&m);
}

static void
deliver_fd_cb(struct imsgproc *p, int result, struct imsg *imsg,
    struct msg_reader *r, void *arg)
{
	struct queue_req *c = arg;
	struct delivery	 key, *d;
	struct msg	 m;

	key.evpid = c->evpid;
	d = RB_FIND(delivery_tree, &deliveries, &key);
	if (d == NULL)
		fatalx("queue: delivery %016" PRIx64 " lost", c->evpid);
	if (queue_backend_result(result, r) != 1 || imsg->fd == -1) {
		/* even "not found": an admin may have moved it away */
		log_warnx("queue: cannot open message %08" PRIx32 " for "
		    "envelope %016" PRIx64 ", trying again later",
		    evpid_to_msgid(c->evpid), c->evpid);
		RB_REMOVE(delivery_tree, &deliveries, d);
		free(d);
		queue_sched_tempfail(c->evpid, 0);
		free(c);
		return;
	}
	msg_init(&m);
	msg_add_id(&m, d->evpid);
	msg_add_data(&m, d->text, d->textlen);
	proc_send(PROC_NETWORK, IMSG_MDA_DELIVER, &m, imsg->fd);
	imsg->fd = -1;
	msg_free(&m);
	free(c);
}

static void
mda_result(struct msg_reader *r)
{
	struct delivery	 key, *d;
	struct queue_req *c;
	struct msg	 m;
	char		*text = NULL, *esc = NULL;
	int32_t		 result;
	time_t		 now = time(NULL);

	if (msg_get_id(r, &key.evpid) == -1 ||
	    msg_get_int32(r, &result) == -1 ||
	    msg_get_string(r, &text) == -1 || msg_get_string(r, &esc) == -1 ||
	    msg_end(r) == -1)
		queue_bad_frame("IMSG_MDA_RESULT", r);
	if ((d = RB_FIND(delivery_tree, &deliveries, &key)) == NULL) {
		log_warnx("queue: result for envelope %016" PRIx64 " which is "
		    "not being delivered, ignored", key.evpid);
		goto done;
	}
	RB_REMOVE(delivery_tree, &deliveries, d);
	strlcpy(d->env.errorline, text, sizeof(d->env.errorline));
	strlcpy(d->env.esc, esc, sizeof(d->env.esc));
	switch (result) {
	case 1:
		queue_envelope_delete(d->evpid);
		queue_sched_evpid(IMSG_SCHED_DELIVERED, d->evpid);
		break;
	case 0:
		queue_bounce_failed(&d->env, text, esc);
		break;
	default:
		d->env.retry++;
		d->env.lasttry = now;
		if (queue_bounce_warn_due(&d->env, now) >= 0) {
			d->env.lastbounce = now;
			queue_bounce_delayed(&d->env);
		}
		c = queue_req_new();
		c->evpid = d->evpid;
		msg_init(&m);
		msg_add_id(&m, d->evpid);
		if (queue_envelope_add(&m, &d->env) == 0)
			queue_backend_request(IMSG_QUEUE_ENVELOPE_UPDATE, &m,
			    -1, update_cb, c);
		else
			free(c);
		msg_free(&m);
		queue_sched_tempfail(d->evpid, d->env.retry);
		break;
	}
	free(d);
done:
	free(text);
	free(esc);
}

static void
update_cb(struct imsgproc *p, int result, struct imsg *imsg,
    struct msg_reader *r, void *arg)
{
	struct queue_req *c = arg;

	/* the scheduler keeps the count; the file catches up next time */
	if (queue_backend_result(result, r) != 1)
		log_warnx("queue: envelope %016" PRIx64 " could not be "
		    "updated after a temporary failure", c->evpid);
	free(c);
}

static void
sched_expire(uint64_t evpid, struct envelope *e, const char *text,
    size_t len)
{
	char	 line[ENVELOPE_ERROR_MAX + 64];

	if (e->type == D_BOUNCE) {
		log_warnx("queue: bounce %016" PRIx64 " to <%s> expired "
		    "undelivered, dropped", evpid, queue_addr(&e->sender, 0));
		queue_envelope_delete(evpid);
		queue_sched_evpid(IMSG_SCHED_PERMFAIL, evpid);
		return;
	}
	log_envelope_end("Expire", e, "Envelope expired");
	if (e->errorline[0] != '\0')
		snprintf(line, sizeof(line), "Envelope expired; last error: %s",
		    e->errorline);
	else
		snprintf(line, sizeof(line), "Envelope expired");
	queue_bounce_failed(e, line, e->esc[0] != '\0' && e->esc[0] != '2' ?
	    e->esc : "4.4.7");
}

static void
sched_remove(uint64_t evpid, struct envelope *e, const char *text,
    size_t len)
{
	struct queue_req *c = queue_req_new();
	struct msg	 m;

	c->evpid = evpid;
	c->env = *e;
	msg_init(&m);
	msg_add_id(&m, evpid);
	queue_backend_request(IMSG_QUEUE_ENVELOPE_DELETE, &m, -1, remove_cb,
	    c);
	msg_free(&m);
}

static void
remove_cb(struct imsgproc *p, int result, struct imsg *imsg,
    struct msg_reader *r, void *arg)
{
	struct queue_req *c = arg;

	if (queue_backend_result(result, r) == -1) {
		log_warnx("queue: envelope %016" PRIx64 " could not be "
		    "removed now, trying again later", c->evpid);
		queue_sched_tempfail(c->evpid, 0);
	} else {
		log_envelope_end("Remove", &c->env,
		    "Removed by administrator");
		queue_sched_evpid(IMSG_SCHED_DELIVERED, c->evpid);
	}
	free(c);
}

/* "delivery: Expire for EVPID: from=<>, to=<>, rcpt=<>, delay=, stat=" */
static void
log_envelope_end(const char *what, const struct envelope *e,
    const char *stat)
{
	char	 delay[32];

	log_info("delivery: %s for %016" PRIx64 ": from=<%s>, to=<%s>, "
	    "rcpt=<%s>, delay=%s, stat=%s", what, e->id,
	    queue_addr(&e->sender, 0), queue_addr(&e->dest, 1),
	    queue_addr(&e->rcpt, 2), queue_duration(time(NULL) - e->creation,
	    delay, sizeof(delay)), stat);
}
