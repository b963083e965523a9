/*
 * queue_recv.c: reception, in the queue process.
 *
 * The network process creates a message (the backend gives a msgid and
 * a descriptor to write the body into), submits its envelopes one by
 * one, then commits it.  The envelopes are kept here until the commit
 * is durable, then told to the scheduler all together; a rollback
 * forgets them.  Every answer carries all its fields: on failure the
 * msgid or evpid is 0 and no descriptor rides along.
 */
#include <sys/types.h>
#include <sys/tree.h>

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "smtpd-api.h"
#include "config.h"
#include "envelope.h"
#include "frames.h"
#include "proc.h"
#include "queue.h"

/* A message being received, until its commit or rollback. */
struct incoming {
	RB_ENTRY(incoming)	 entry;
	uint32_t		 msgid;
	struct envelope		*envs;		/* as told to the scheduler */
	size_t			 nenvs, cap;
};
RB_HEAD(incoming_tree, incoming);

static int	 incoming_cmp(struct incoming *, struct incoming *);
RB_PROTOTYPE(incoming_tree, incoming, entry, incoming_cmp);

static void	 recv_create(struct msg_reader *);
static void	 recv_create_cb(struct imsgproc *, int, struct imsg *,
		    struct msg_reader *, void *);
static void	 recv_submit(struct msg_reader *);
static void	 recv_submit_cb(struct imsgproc *, int, struct imsg *,
		    struct msg_reader *, void *);
static void	 recv_commit(struct msg_reader *);
static void	 recv_commit_cb(struct imsgproc *, int, struct imsg *,
		    struct msg_reader *, void *);
static void	 recv_rollback(struct msg_reader *);
static void	 rollback_cb(struct imsgproc *, int, struct imsg *,
		    struct msg_reader *, void *);
static void	 recv_reply(uint32_t type, uint64_t sid, int32_t result,
		    int with_id, uint64_t id, int fd);
static struct incoming *incoming_find(uint32_t);
static void	 incoming_free(struct incoming *);

RB_GENERATE(incoming_tree, incoming, entry, incoming_cmp)

static struct incoming_tree	 incomings = RB_INITIALIZER(&incomings);

static int
incoming_cmp(struct incoming *a, struct incoming *b)
{
	return a->msgid < b->msgid ? -1 : a->msgid > b->msgid;
}

void
queue_recv_frame(struct imsg *imsg, struct msg_reader *r)
{
	switch (imsg->hdr.type) {
	case IMSG_RECV_CREATE:
		recv_create(r);
		break;
	case IMSG_RECV_SUBMIT:
		recv_submit(r);
		break;
	case IMSG_RECV_COMMIT:
		recv_commit(r);
		break;
	case IMSG_RECV_ROLLBACK:
		recv_rollback(r);
		break;
	default:
		fatalx("queue: not a reception frame: %u", imsg->hdr.type);
	}
}

static struct incoming *
incoming_find(uint32_t msgid)
{
	struct incoming	 key;

	key.msgid = msgid;
	return RB_FIND(incoming_tree, &incomings, &key);
}

static void
incoming_free(struct incoming *in)
{
	RB_REMOVE(incoming_tree, &incomings, in);
	free(in->envs);
	free(in);
}

/* Every field is always there; on failure the id is 0, with no fd. */
static void
recv_reply(uint32_t type, uint64_t sid, int32_t result, int with_id,
    uint64_t id, int fd)
{
	struct msg	 m;

	msg_init(&m);
	msg_add_id(&m, sid);
	msg_add_int32(&m, result);
	if (with_id == 32)
		msg_add_uint32(&m, (uint32_t)id);
	else if (with_id == 64)
		msg_add_id(&m, id);
	proc_send(PROC_NETWORK, type, &m, fd);
	msg_free(&m);
}

static void
recv_create(struct msg_reader *r)
{
	struct queue_req *c = queue_req_new();

	if (msg_get_id(r, &c->sid) == -1 || msg_end(r) == -1)
		queue_bad_frame("IMSG_RECV_CREATE", r);
	queue_backend_request(IMSG_QUEUE_MESSAGE_CREATE, NULL, -1,
	    recv_create_cb, c);
}

static void
recv_create_cb(struct imsgproc *p, int result, struct imsg *imsg,
    struct msg_reader *r, void *arg)
{
	struct queue_req *c = arg;
	struct incoming	*in;
	uint32_t	 msgid;

	if (queue_backend_result(result, r) != 1 ||
	    msg_get_uint32(r, &msgid) == -1 || msgid == 0 || imsg->fd == -1) {
		log_warnx("queue: cannot create a message: %s",
		    result == IMSGPROC_REPLY ? "backend failure" :
		    imsgproc_result_name(result));
		recv_reply(IMSG_RECV_CREATE, c->sid, -1, 32, 0, -1);
		free(c);
		return;
	}
	/* a restarted backend forgot a message still known here */
	if ((in = incoming_find(msgid)) != NULL)
		incoming_free(in);
	if ((in = calloc(1, sizeof(*in))) == NULL)
		fatal("queue: calloc");
	in->msgid = msgid;
	RB_INSERT(incoming_tree, &incomings, in);
	recv_reply(IMSG_RECV_CREATE, c->sid, 1, 32, msgid, imsg->fd);
	imsg->fd = -1;
	log_trace(TRACE_QUEUE, "queue: created %08" PRIx32, msgid);
	free(c);
}

/*
 * The network process sends the final envelope; the queue fills what
 * it decides: the creation time and the ttl (the action's, else the
 * queue's).
 */
static void
recv_submit(struct msg_reader *r)
{
	struct queue_req	*c = queue_req_new();
	struct config_action	*action;
	const void		*text;
	size_t			 len;
	struct msg		 m;
	char			 err[128];

	if (msg_get_id(r, &c->sid) == -1 ||
	    msg_get_uint32(r, &c->msgid) == -1 ||
	    msg_get_data(r, &text, &len) == -1 || msg_end(r) == -1)
		queue_bad_frame("IMSG_RECV_SUBMIT", r);
	if (envelope_load(&c->env, text, len, err, sizeof(err)) == -1) {
		log_warnx("queue: bad envelope from the network process: %s",
		    err);
		recv_reply(IMSG_RECV_SUBMIT, c->sid, -1, 64, 0, -1);
		free(c);
		return;
	}
	if (c->env.creation == 0)
		c->env.creation = time(NULL);
	if (c->env.ttl <= 0) {
		action = c->env.dispatcher[0] != '\0' ?
		    config_action_find(smtpd_env.conf, c->env.dispatcher) :
		    NULL;
		c->env.ttl = action != NULL && action->ttl > 0 ? action->ttl :
		    smtpd_env.conf->queue_ttl;
	}
	msg_init(&m);
	msg_add_uint32(&m, c->msgid);
	if (queue_envelope_add(&m, &c->env) == -1) {
		msg_free(&m);
		log_warnx("queue: envelope too large for the queue");
		recv_reply(IMSG_RECV_SUBMIT, c->sid, -1, 64, 0, -1);
		free(c);
		return;
	}
	queue_backend_request(IMSG_QUEUE_ENVELOPE_CREATE, &m, -1,
	    recv_submit_cb, c);
	msg_free(&m);
}

static void
recv_submit_cb(struct imsgproc *p, int result, struct imsg *imsg,
    struct msg_reader *r, void *arg)
{
	struct queue_req *c = arg;
	struct incoming	*in;
	struct envelope	*envs;
	uint64_t	 evpid;

	if (queue_backend_result(result, r) != 1 ||
	    msg_get_id(r, &evpid) == -1 || evpid == 0 ||
	    (in = incoming_find(c->msgid)) == NULL) {
		log_warnx("queue: cannot add an envelope to message %08" PRIx32
		    ": %s", c->msgid, result == IMSGPROC_REPLY ?
		    "backend failure" : imsgproc_result_name(result));
		recv_reply(IMSG_RECV_SUBMIT, c->sid, -1, 64, 0, -1);
		free(c);
		return;
	}
	if (in->nenvs == in->cap) {
		envs = reallocarray(in->envs, in->cap ? in->cap * 2 : 4,
		    sizeof(*envs));
		if (envs == NULL)
			fatal("queue: reallocarray");
		in->envs = envs;
		in->cap = in->cap ? in->cap * 2 : 4;
	}
	c->env.id = evpid;
	in->envs[in->nenvs++] = c->env;
	recv_reply(IMSG_RECV_SUBMIT, c->sid, 1, 64, evpid, -1);
	free(c);
}

static void
recv_commit(struct msg_reader *r)
{
	struct queue_req *c = queue_req_new();
	struct msg	 m;

	if (msg_get_id(r, &c->sid) == -1 ||
	    msg_get_uint32(r, &c->msgid) == -1 || msg_end(r) == -1)
		queue_bad_frame("IMSG_RECV_COMMIT", r);
	msg_init(&m);
	msg_add_uint32(&m, c->msgid);
	queue_backend_request(IMSG_QUEUE_MESSAGE_COMMIT, &m, -1,
	    recv_commit_cb, c);
	msg_free(&m);
}

/* Durable: now the scheduler may see the envelopes, all together. */
static void
recv_commit_cb(struct imsgproc *p, int result, struct imsg *imsg,
    struct msg_reader *r, void *arg)
{
	struct queue_req *c = arg;
	struct incoming	*in;
	size_t		 i;

	if (queue_backend_result(result, r) != 1) {
		log_warnx("queue: cannot commit message %08" PRIx32 ": %s",
		    c->msgid, result == IMSGPROC_REPLY ? "backend failure" :
		    imsgproc_result_name(result));
		recv_reply(IMSG_RECV_COMMIT, c->sid, -1, 0, 0, -1);
		free(c);
		return;
	}
	if ((in = incoming_find(c->msgid)) != NULL) {
		for (i = 0; i < in->nenvs; i++)
			queue_sched_envelope(&in->envs[i]);
		incoming_free(in);
	}
	queue_sched_msgid(IMSG_SCHED_COMMIT, c->msgid);
	log_trace(TRACE_QUEUE, "queue: committed %08" PRIx32, c->msgid);
	recv_reply(IMSG_RECV_COMMIT, c->sid, 1, 0, 0, -1);
	free(c);
}

static void
rollback_cb(struct imsgproc *p, int result, struct imsg *imsg,
    struct msg_reader *r, void *arg)
{
	struct queue_req *c = arg;

	/* queue-fs cleans incoming/ at its next start anyway */
	if (queue_backend_result(result, r) == -1)
		log_warnx("queue: message %08" PRIx32 " could not be "
		    "discarded now", c->msgid);
	free(c);
}

static void
recv_rollback(struct msg_reader *r)
{
	struct queue_req *c = queue_req_new();
	struct incoming	*in;
	struct msg	 m;

	if (msg_get_uint32(r, &c->msgid) == -1 || msg_end(r) == -1)
		queue_bad_frame("IMSG_RECV_ROLLBACK", r);
	if ((in = incoming_find(c->msgid)) != NULL)
		incoming_free(in);
	msg_init(&m);
	msg_add_uint32(&m, c->msgid);
	queue_backend_request(IMSG_QUEUE_MESSAGE_DELETE, &m, -1, rollback_cb,
	    c);
	msg_free(&m);
	log_trace(TRACE_QUEUE, "queue: rolled back %08" PRIx32, c->msgid);
}
