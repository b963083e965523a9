/*
 * filter_chain.c: the daemon's side of filters, in the network process.
 *
 * One imsgproc per proc-exec filter a listener uses; one filter_session
 * per SMTP session of a filtered listener.  A session walks its chain
 * (its "stages") for each query, one filter at a time, and streams the
 * message through the stages in batches: stage i's DATAOUT lines are
 * stage i+1's input, the last stage's go to the session.  Every frame
 * body is made and read by filter_proto.c, as smtpd-probe does.
 *
 * Restarts: each filter has a generation, bumped whenever its helper
 * goes down.  A stage remembers the generation of the instance that saw
 * the session's first exchange; a mismatch later means the filter lost
 * the session, which then gets 421 at its next query.
 *
 * Requests carry a small token rather than the session itself, so that
 * a session closed while a request is out (and whose request could not
 * be cancelled) is never touched by the late callback.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/tree.h>

#include <errno.h>
#include <event2/event.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtpd-api.h"
#include "config.h"
#include "filter_chain.h"

/* Wire bytes of a line in a DATALINES body (tag, length), and of the
 * session id that starts the body: to tell when a batch is full. */
#define LINE_OVERHEAD		5
#define BATCH_HEADER		9

struct filter_proc {
	TAILQ_ENTRY(filter_proc) entry;
	const struct config_filter *conf;
	struct imsgproc		*proc;
	int			 timeout_ms;
	uint64_t		 gen;		/* bumped at each going down */
	TAILQ_HEAD(, filter_session) waiting;	/* for READY */
};

/* An outstanding request: the callback finds its session through it. */
struct filter_req {
	struct filter_session	*fs;		/* NULL: session gone */
	struct imsgproc		*proc;
	uint64_t		 reqid;		/* 0: cannot be cancelled */
	size_t			 stage;
	uint32_t		 lines;		/* DATALINES: batch size */
};

struct line {
	TAILQ_ENTRY(line)	 entry;
	size_t			 len;
	char			 text[];
};
TAILQ_HEAD(line_queue, line);

struct stage {
	struct filter_proc	*fp;
	int			 known;		/* the filter saw the session */
	uint64_t		 gen;		/* ...in this generation */

	/* the message in progress */
	int			 dataline;	/* lines go to the filter */
	struct line_queue	 queue;		/* not sent yet */
	size_t			 qbytes;	/* their wire size */
	struct filter_req	*batch[FILTER_DATA_WINDOW];
	int			 inflight;
	uint32_t		 lines_in;	/* given to this stage */
	uint64_t		 bytes_in;	/* with CRLF */
	uint32_t		 lines_out;	/* DATAOUT (or passed on) */
	int			 eom_done;
};

struct filter_session {
	RB_ENTRY(filter_session) entry;
	uint64_t		 sid;
	const struct config_filter *conf;
	struct filter_session_cb cb;
	void			*arg;
	struct stage		*stages;
	size_t			 nstages;

	/* the query in progress; qtype 0 when none */
	uint32_t		 qtype;
	struct msg		 qbody;
	size_t			 qstage;
	struct filter_req	*qreq;
	filter_decision_cb	 qcb;
	void			*qarg;
	int			 decided;
	struct filter_reply	 decision;
	struct event		*ev_decide;

	/* waiting for a filter that is (re)starting: READY, or down
	 * (imsgproc's handshake deadline) */
	struct filter_proc	*parked;
	TAILQ_ENTRY(filter_session) park_entry;

	/* transaction and message */
	int			 tx_open;
	uint32_t		 msgid;
	int			 in_data;
	int			 data_failed;
	size_t			 backlog;	/* bytes queued in stages */
	int			 backlog_high;
	struct event		*ev_flush;
};

RB_HEAD(filter_session_tree, filter_session);

static int	 session_cmp(struct filter_session *, struct filter_session *);
RB_PROTOTYPE(filter_session_tree, filter_session, entry, session_cmp);

static struct filter_proc *proc_find(const struct config_filter *);
static int	 proc_add(const struct config_filter *,
		    char *(*)(const char *, char *, size_t));
static void	 proc_on_ready(struct imsgproc *, uint64_t, const char *,
		    void *);
static void	 proc_on_down(struct imsgproc *, const char *, void *);
static void	 proc_on_frame(struct imsgproc *, struct imsg *,
		    struct msg_reader *, void *);
static const char *stage_name(const struct stage *);
static struct filter_req *req_new(struct filter_session *, size_t);
static void	 req_cancel(struct filter_req *);
static void	 query_start(struct filter_session *, uint32_t,
		    filter_decision_cb, void *);
static void	 query_step(struct filter_session *);
static int	 query_send(struct filter_session *, struct stage *);
static void	 query_reply(struct imsgproc *, int, struct imsg *,
		    struct msg_reader *, void *);
static void	 query_failed(struct filter_session *, struct stage *,
		    const char *, ...)
		    __attribute__((__format__(printf, 3, 4)));
static void	 query_lost(struct filter_session *, struct stage *);
static void	 decide(struct filter_session *, const struct filter_reply *);
static void	 decide_fire(evutil_socket_t, short, void *);
static void	 park(struct filter_session *, struct filter_proc *);
static void	 unpark(struct filter_session *);
static void	 broadcast(struct filter_session *, uint32_t,
		    const struct msg *);
static void	 data_begin(struct filter_session *);
static void	 data_reset(struct filter_session *);
static void	 data_stop(struct filter_session *);
static void	 data_fail(struct filter_session *, struct stage *,
		    const char *, ...)
		    __attribute__((__format__(printf, 3, 4)));
static void	 stage_input(struct filter_session *, size_t, const char *,
		    size_t);
static void	 stage_pump(struct filter_session *, size_t, int);
static void	 batch_ack(struct imsgproc *, int, struct imsg *,
		    struct msg_reader *, void *);
static void	 flush_fire(evutil_socket_t, short, void *);
static void	 backlog_check(struct filter_session *);

static struct event_base	*fc_base;
static TAILQ_HEAD(, filter_proc) fc_procs = TAILQ_HEAD_INITIALIZER(fc_procs);
static struct filter_session_tree fc_sessions =
    RB_INITIALIZER(&fc_sessions);

RB_GENERATE(filter_session_tree, filter_session, entry, session_cmp)

static int
session_cmp(struct filter_session *a, struct filter_session *b)
{
	return a->sid < b->sid ? -1 : a->sid > b->sid;
}

/* ------------------------------------------------------------------ */
/* the filter programs                                                 */
/* ------------------------------------------------------------------ */

int
filter_chain_init(struct event_base *base, const struct smtpd_config *conf,
    char *(*path_of)(const char *, char *, size_t))
{
	struct config_listener	*l;
	struct config_filter	*f;
	size_t			 i;

	fc_base = base;
	TAILQ_FOREACH(l, &conf->listeners, entry) {
		if ((f = l->filter) == NULL)
			continue;
		if (f->kind == FILTER_PROC_EXEC) {
			if (proc_add(f, path_of) == -1)
				return -1;
			continue;
		}
		for (i = 0; i < f->nmembers; i++)
			if (proc_add(f->chain[i], path_of) == -1)
				return -1;
	}
	return 0;
}

void
filter_chain_shutdown(void)
{
	struct filter_proc	*fp;

	while ((fp = TAILQ_FIRST(&fc_procs)) != NULL) {
		TAILQ_REMOVE(&fc_procs, fp, entry);
		imsgproc_stop(fp->proc);
		imsgproc_free(fp->proc);
		free(fp);
	}
}

pid_t
filter_chain_pid(const struct config_filter *f)
{
	struct filter_proc	*fp;

	if ((fp = proc_find(f)) == NULL ||
	    imsgproc_state(fp->proc) != IMSGPROC_RUNNING)
		return -1;
	return imsgproc_pid(fp->proc);
}

static struct filter_proc *
proc_find(const struct config_filter *f)
{
	struct filter_proc	*fp;

	TAILQ_FOREACH(fp, &fc_procs, entry)
		if (fp->conf == f)
			return fp;
	return NULL;
}

static int
proc_add(const struct config_filter *f,
    char *(*path_of)(const char *, char *, size_t))
{
	struct imsgproc_params	 params;
	struct filter_proc	*fp;
	char			 path[1024], **argv;
	size_t			 n;

	if (proc_find(f) != NULL)
		return 0;
	if (f->kind != FILTER_PROC_EXEC || f->argv == NULL ||
	    f->argv[0] == NULL) {
		log_warnx("filter %s: no command", f->name);
		return -1;
	}
	if (path_of(f->argv[0], path, sizeof(path)) == NULL) {
		log_warn("filter %s: %s", f->name, f->argv[0]);
		return -1;
	}
	for (n = 0; f->argv[n] != NULL; n++)
		;
	if ((argv = calloc(n + 1, sizeof(*argv))) == NULL ||
	    (fp = calloc(1, sizeof(*fp))) == NULL)
		fatal("filter %s", f->name);
	memcpy(argv, f->argv, n * sizeof(*argv));
	argv[0] = path;
	fp->conf = f;
	fp->timeout_ms = (f->timeout > 0 ? f->timeout :
	    CONFIG_FILTER_TIMEOUT_DEFAULT) * 1000;
	fp->gen = 1;
	TAILQ_INIT(&fp->waiting);

	memset(&params, 0, sizeof(params));
	params.role = HELPER_ROLE_FILTER;
	params.name = f->name;
	params.argv = argv;
	params.config = "";
	params.timeout_ms = fp->timeout_ms;
	params.fd = -1;
	params.on_ready = proc_on_ready;
	params.on_down = proc_on_down;
	params.on_frame = proc_on_frame;
	params.arg = fp;
	fp->proc = imsgproc_start(fc_base, &params);
	free(argv);
	if (fp->proc == NULL) {
		log_warnx("filter %s: cannot start %s", f->name, path);
		free(fp);
		return -1;
	}
	TAILQ_INSERT_TAIL(&fc_procs, fp, entry);
	log_debug("filter %s: started %s, timeout %ds", f->name, path,
	    fp->timeout_ms / 1000);
	return 0;
}

/* Sessions that waited for this filter go on. */
static void
proc_on_ready(struct imsgproc *p, uint64_t caps, const char *hname,
    void *arg)
{
	struct filter_proc	*fp = arg;
	struct filter_session	*fs;

	log_debug("filter %s: ready (%s), hooks 0x%" PRIx64,
	    fp->conf->name, hname, caps);
	while ((fs = TAILQ_FIRST(&fp->waiting)) != NULL) {
		unpark(fs);
		query_step(fs);
	}
}

/*
 * The helper lost every session it knew: a new generation.  Requests
 * that were out fail on their own (IMSGPROC_DOWN); sessions waiting for
 * READY fail too: a filter that dies before it is ready may do so again
 * and again, and no client should wait on that.
 */
static void
proc_on_down(struct imsgproc *p, const char *why, void *arg)
{
	struct filter_proc	*fp = arg;
	struct filter_session	*fs;

	fp->gen++;
	while ((fs = TAILQ_FIRST(&fp->waiting)) != NULL) {
		unpark(fs);
		query_failed(fs, &fs->stages[fs->qstage], "%s", why);
	}
}

/* DATAOUT: the filter's output lines, the next stage's input. */
static void
proc_on_frame(struct imsgproc *p, struct imsg *imsg, struct msg_reader *r,
    void *arg)
{
	struct filter_proc	*fp = arg;
	struct filter_session	 key, *fs;
	struct stage		*st = NULL;
	uint64_t		 sid;
	size_t			 i;
	char			*line;
	int			 ret;

	if (imsg->hdr.type != IMSG_FILTER_DATAOUT) {
		log_warnx("filter %s: unexpected frame %s (%u)",
		    fp->conf->name, filter_frame_name(imsg->hdr.type),
		    imsg->hdr.type);
		return;
	}
	if (filter_proto_lines_session(r, &sid) == -1) {
		log_warnx("filter %s: malformed dataout: %s", fp->conf->name,
		    msg_reader_error(r));
		return;
	}
	key.sid = sid;
	if ((fs = RB_FIND(filter_session_tree, &fc_sessions, &key)) != NULL)
		for (i = 0; i < fs->nstages; i++)
			if (fs->stages[i].fp == fp)
				st = &fs->stages[i];
	if (st == NULL || !fs->in_data || fs->data_failed || !st->dataline ||
	    st->eom_done || st->gen != fp->gen) {
		log_debug("%016" PRIx64 " filter %s: dataout out of a "
		    "message, ignored", sid, fp->conf->name);
		return;
	}
	i = st - fs->stages;
	while ((ret = filter_proto_lines_next(r, &line)) == 1) {
		st->lines_out++;
		stage_input(fs, i + 1, line, strlen(line));
		free(line);
		if (fs->data_failed)
			return;
	}
	if (ret == -1) {
		data_fail(fs, st, "malformed dataout: %s",
		    msg_reader_error(r));
		return;
	}
	if (i + 1 < fs->nstages)
		stage_pump(fs, i + 1, 1);
}

static const char *
stage_name(const struct stage *st)
{
	return st->fp->conf->name;
}

/* ------------------------------------------------------------------ */
/* sessions                                                            */
/* ------------------------------------------------------------------ */

struct filter_session *
filter_session_open(const struct config_filter *f, uint64_t sid,
    const struct filter_session_cb *cb, void *arg)
{
	struct filter_session	*fs;
	size_t			 i, n;

	n = f->kind == FILTER_PROC_EXEC ? 1 : f->nmembers;
	if ((fs = calloc(1, sizeof(*fs))) == NULL ||
	    (fs->stages = calloc(n ? n : 1, sizeof(*fs->stages))) == NULL)
		fatal("filter_session_open");
	fs->sid = sid;
	fs->conf = f;
	if (cb != NULL)
		fs->cb = *cb;
	fs->arg = arg;
	fs->nstages = n;
	for (i = 0; i < n; i++) {
		fs->stages[i].fp = proc_find(f->kind == FILTER_PROC_EXEC ? f :
		    f->chain[i]);
		if (fs->stages[i].fp == NULL)
			fatalx("filter %s: not started", f->kind ==
			    FILTER_PROC_EXEC ? f->name : f->chain[i]->name);
		TAILQ_INIT(&fs->stages[i].queue);
	}
	msg_init(&fs->qbody);
	if ((fs->ev_decide = evtimer_new(fc_base, decide_fire, fs)) == NULL ||
	    (fs->ev_flush = evtimer_new(fc_base, flush_fire, fs)) == NULL)
		fatalx("filter_session_open: evtimer_new");
	if (RB_INSERT(filter_session_tree, &fc_sessions, fs) != NULL)
		fatalx("filter session %016" PRIx64 " opened twice", sid);
	return fs;
}

void
filter_session_close(struct filter_session *fs)
{
	struct msg	 m;

	if (fs->qreq != NULL)
		req_cancel(fs->qreq);
	fs->qreq = NULL;
	unpark(fs);
	if (fs->tx_open)
		filter_tx_rollback(fs);
	data_reset(fs);
	msg_init(&m);
	filter_proto_session_encode(&m, fs->sid);
	broadcast(fs, IMSG_FILTER_DISCONNECT, &m);
	msg_free(&m);

	RB_REMOVE(filter_session_tree, &fc_sessions, fs);
	event_free(fs->ev_decide);
	event_free(fs->ev_flush);
	msg_free(&fs->qbody);
	free(fs->stages);
	free(fs);
}

size_t
filter_session_backlog(const struct filter_session *fs)
{
	return fs->backlog;
}

int
filter_session_busy(const struct filter_session *fs)
{
	return fs->qtype != 0;
}

/* Events go to every filter that knows the session and asked for them. */
static void
broadcast(struct filter_session *fs, uint32_t type, const struct msg *m)
{
	struct stage	*st;
	size_t		 i;

	for (i = 0; i < fs->nstages; i++) {
		st = &fs->stages[i];
		if (!st->known || st->gen != st->fp->gen ||
		    (imsgproc_capabilities(st->fp->proc) &
		    filter_frame_hook(type)) == 0)
			continue;
		if (imsgproc_send(st->fp->proc, type, m, -1) == -1)
			log_debug("%016" PRIx64 " filter %s: %s not sent",
			    fs->sid, stage_name(st), filter_frame_name(type));
	}
}

static struct filter_req *
req_new(struct filter_session *fs, size_t stage)
{
	struct filter_req	*req;

	if ((req = calloc(1, sizeof(*req))) == NULL)
		fatal("filter request");
	req->fs = fs;
	req->stage = stage;
	req->proc = fs->stages[stage].fp->proc;
	return req;
}

/* The callback will not run, or will find no session. */
static void
req_cancel(struct filter_req *req)
{
	if (req->reqid != 0) {
		imsgproc_cancel(req->proc, req->reqid);
		free(req);
	} else
		req->fs = NULL;
}

/* ------------------------------------------------------------------ */
/* queries                                                             */
/* ------------------------------------------------------------------ */

void
filter_connect(struct filter_session *fs, const struct sockaddr *local,
    const struct sockaddr *remote, const char *rdns, int fcrdns,
    filter_decision_cb cb, void *arg)
{
	msg_reset(&fs->qbody);
	filter_proto_connect_encode(&fs->qbody, fs->sid, local, remote,
	    rdns != NULL ? rdns : "", fcrdns);
	query_start(fs, IMSG_FILTER_CONNECT, cb, arg);
}

void
filter_helo(struct filter_session *fs, const char *helo,
    filter_decision_cb cb, void *arg)
{
	msg_reset(&fs->qbody);
	filter_proto_helo_encode(&fs->qbody, fs->sid, helo);
	query_start(fs, IMSG_FILTER_HELO, cb, arg);
}

void
filter_mail(struct filter_session *fs, uint32_t msgid, const char *user,
    const char *domain, filter_decision_cb cb, void *arg)
{
	struct msg	 m;

	if (fs->tx_open)
		filter_tx_rollback(fs);
	data_reset(fs);
	fs->tx_open = 1;
	fs->msgid = msgid;
	msg_init(&m);
	filter_proto_tx_encode(&m, fs->sid, msgid);
	broadcast(fs, IMSG_FILTER_TX_BEGIN, &m);
	msg_free(&m);

	msg_reset(&fs->qbody);
	filter_proto_mailaddr_encode(&fs->qbody, fs->sid, user, domain);
	query_start(fs, IMSG_FILTER_MAIL, cb, arg);
}

void
filter_rcpt(struct filter_session *fs, const char *user, const char *domain,
    filter_decision_cb cb, void *arg)
{
	msg_reset(&fs->qbody);
	filter_proto_mailaddr_encode(&fs->qbody, fs->sid, user, domain);
	query_start(fs, IMSG_FILTER_RCPT, cb, arg);
}

void
filter_data(struct filter_session *fs, filter_decision_cb cb, void *arg)
{
	data_reset(fs);
	msg_reset(&fs->qbody);
	filter_proto_session_encode(&fs->qbody, fs->sid);
	query_start(fs, IMSG_FILTER_DATA, cb, arg);
}

void
filter_data_end(struct filter_session *fs, filter_decision_cb cb, void *arg)
{
	data_begin(fs);		/* an empty message too */
	query_start(fs, IMSG_FILTER_EOM, cb, arg);
}

static void
query_start(struct filter_session *fs, uint32_t type, filter_decision_cb cb,
    void *arg)
{
	if (fs->qtype != 0)
		fatalx("%016" PRIx64 " filter: %s asked while %s is pending",
		    fs->sid, filter_frame_name(type),
		    filter_frame_name(fs->qtype));
	fs->qtype = type;
	fs->qcb = cb;
	fs->qarg = arg;
	fs->qstage = 0;
	fs->decided = 0;
	if (msg_error(&fs->qbody)) {
		query_failed(fs, &fs->stages[0], "query too large");
		return;
	}
	query_step(fs);
}

/*
 * Walk on from fs->qstage: the first filter that has the hook gets the
 * query; past the last one the query is accepted.
 */
static void
query_step(struct filter_session *fs)
{
	struct stage	*st;
	struct filter_proc *fp;

	for (; fs->qstage < fs->nstages; fs->qstage++) {
		st = &fs->stages[fs->qstage];
		fp = st->fp;
		if (!st->known) {
			switch (imsgproc_state(fp->proc)) {
			case IMSGPROC_RUNNING:
				st->known = 1;
				st->gen = fp->gen;
				break;
			case IMSGPROC_STARTING:
				park(fs, fp);	/* at start-up, or restarted */
				return;
			default:
				query_failed(fs, st, "not running");
				return;
			}
		} else if (st->gen != fp->gen) {
			query_lost(fs, st);
			return;
		}
		if (fs->qtype == IMSG_FILTER_EOM) {
			if (fs->data_failed) {
				query_failed(fs, NULL, "message failed");
				return;
			}
			/* Its EOM follows its last batch of lines. */
			stage_pump(fs, fs->qstage, 1);
			if (fs->data_failed || !TAILQ_EMPTY(&st->queue))
				return;		/* batch_ack calls again */
		}
		if ((imsgproc_capabilities(fp->proc) &
		    filter_frame_hook(fs->qtype)) == 0) {
			st->eom_done = fs->qtype == IMSG_FILTER_EOM;
			continue;
		}
		if (query_send(fs, st) == -1)
			query_failed(fs, st, "request too large");
		return;
	}
	decide(fs, NULL);
}

static int
query_send(struct filter_session *fs, struct stage *st)
{
	struct filter_req	*req;
	struct msg		 eom;
	const struct msg	*body = &fs->qbody;
	int			 ret = 0;

	msg_init(&eom);
	if (fs->qtype == IMSG_FILTER_EOM) {
		filter_proto_eom_encode(&eom, fs->sid, st->lines_in,
		    st->bytes_in);
		body = &eom;
	}
	if (msg_error(body))
		ret = -1;
	else {
		req = req_new(fs, st - fs->stages);
		fs->qreq = req;
		log_trace(TRACE_FILTERS, "%016" PRIx64 " filter %s: > %s",
		    fs->sid, stage_name(st), filter_frame_name(fs->qtype));
		req->reqid = imsgproc_request(st->fp->proc, fs->qtype, body,
		    -1, st->fp->timeout_ms, query_reply, req);
	}
	msg_free(&eom);
	return ret;
}

static void
query_reply(struct imsgproc *p, int result, struct imsg *imsg,
    struct msg_reader *r, void *arg)
{
	struct filter_req	*req = arg;
	struct filter_session	*fs = req->fs;
	struct filter_reply	 rep;
	struct stage		*st;
	uint32_t		 expected;
	char			 err[256];

	free(req);
	if (fs == NULL)
		return;
	fs->qreq = NULL;
	st = &fs->stages[fs->qstage];
	if (result != IMSGPROC_REPLY) {
		query_failed(fs, st, "%s", imsgproc_result_name(result));
		return;
	}
	switch (filter_proto_reply_decode(fs->qtype, r, &rep, err,
	    sizeof(err))) {
	case -1:
		query_failed(fs, st, "malformed reply: %s", err);
		return;
	case 1:
		log_warnx("%016" PRIx64 " filter %s: %s reply coerced: %s",
		    fs->sid, stage_name(st), filter_frame_name(fs->qtype),
		    err);
		break;
	}
	log_trace(TRACE_FILTERS, "%016" PRIx64 " filter %s: < %s %s",
	    fs->sid, stage_name(st), filter_frame_name(fs->qtype),
	    filter_status_name(rep.status));
	if (fs->qtype == IMSG_FILTER_EOM) {
		if (fs->data_failed) {
			query_failed(fs, NULL, "message failed");
			return;
		}
		st->eom_done = 1;
		/* Every DATAOUT of the message came before this reply. */
		expected = st->dataline ? st->lines_out : st->lines_in;
		if (rep.status == FILTER_ACCEPT && rep.lines_out != expected) {
			query_failed(fs, st, "returned %u lines, sent %u",
			    expected, rep.lines_out);
			return;
		}
	}
	if (rep.status != FILTER_ACCEPT) {
		log_info("%016" PRIx64 " filter %s: %s at %s: %u %s %s",
		    fs->sid, stage_name(st), filter_status_name(rep.status),
		    filter_frame_name(fs->qtype), rep.code, rep.enhanced,
		    rep.message);
		decide(fs, &rep);
		return;
	}
	fs->qstage++;
	query_step(fs);
}

/* A failed exchange: what filter_reply_failure() says, never a 5xx. */
static void
query_failed(struct filter_session *fs, struct stage *st, const char *fmt,
    ...)
{
	struct filter_reply	 rep;
	va_list			 ap;
	char			 why[512];

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	filter_reply_failure(fs->qtype, &rep);
	if (st != NULL)
		log_warnx("%016" PRIx64 " filter %s: %s at %s, answering "
		    "%u %s", fs->sid, stage_name(st), why,
		    filter_frame_name(fs->qtype), rep.code, rep.enhanced);
	if (fs->qtype == IMSG_FILTER_EOM)
		data_stop(fs);
	decide(fs, &rep);
}

/* The filter was restarted since it first saw this session. */
static void
query_lost(struct filter_session *fs, struct stage *st)
{
	struct filter_reply	 rep;

	filter_reply_failure(IMSG_FILTER_CONNECT, &rep);
	log_warnx("%016" PRIx64 " filter %s: restarted since the session "
	    "began, at %s, answering %u %s", fs->sid, stage_name(st),
	    filter_frame_name(fs->qtype), rep.code, rep.enhanced);
	if (fs->qtype == IMSG_FILTER_EOM)
		data_stop(fs);
	decide(fs, &rep);
}

/* The decision, delivered from the event loop.  NULL: accept. */
static void
decide(struct filter_session *fs, const struct filter_reply *rep)
{
	static const struct timeval	 now = { 0, 0 };

	if (fs->decided)
		return;
	if (fs->qreq != NULL)
		req_cancel(fs->qreq);
	fs->qreq = NULL;
	unpark(fs);
	if (rep != NULL)
		fs->decision = *rep;
	else
		filter_reply_default(fs->qtype, FILTER_ACCEPT, &fs->decision);
	fs->decided = 1;
	evtimer_add(fs->ev_decide, &now);
}

static void
decide_fire(evutil_socket_t fd, short events, void *arg)
{
	struct filter_session	*fs = arg;
	struct filter_reply	 rep = fs->decision;
	filter_decision_cb	 cb = fs->qcb;
	void			*cbarg = fs->qarg;

	fs->qtype = 0;
	fs->qcb = NULL;
	fs->qarg = NULL;
	fs->decided = 0;
	/* The callback may close fs. */
	if (cb != NULL)
		cb(fs, &rep, cbarg);
}

static void
park(struct filter_session *fs, struct filter_proc *fp)
{
	fs->parked = fp;
	TAILQ_INSERT_TAIL(&fp->waiting, fs, park_entry);
}

static void
unpark(struct filter_session *fs)
{
	if (fs->parked == NULL)
		return;
	TAILQ_REMOVE(&fs->parked->waiting, fs, park_entry);
	fs->parked = NULL;
}

/* ------------------------------------------------------------------ */
/* events                                                              */
/* ------------------------------------------------------------------ */

void
filter_reset(struct filter_session *fs)
{
	struct msg	 m;

	data_reset(fs);
	msg_init(&m);
	filter_proto_session_encode(&m, fs->sid);
	broadcast(fs, IMSG_FILTER_RESET, &m);
	msg_free(&m);
}

void
filter_tx_commit(struct filter_session *fs)
{
	struct msg	 m;

	data_reset(fs);
	if (!fs->tx_open)
		return;
	fs->tx_open = 0;
	msg_init(&m);
	filter_proto_tx_encode(&m, fs->sid, fs->msgid);
	broadcast(fs, IMSG_FILTER_TX_COMMIT, &m);
	msg_free(&m);
}

void
filter_tx_rollback(struct filter_session *fs)
{
	struct msg	 m;

	data_reset(fs);
	if (!fs->tx_open)
		return;
	fs->tx_open = 0;
	msg_init(&m);
	filter_proto_tx_encode(&m, fs->sid, fs->msgid);
	broadcast(fs, IMSG_FILTER_TX_ROLLBACK, &m);
	msg_free(&m);
}

/* ------------------------------------------------------------------ */
/* message data                                                        */
/* ------------------------------------------------------------------ */

void
filter_data_line(struct filter_session *fs, const char *text, size_t len)
{
	static const struct timeval	 now = { 0, 0 };
	char				*line;

	data_begin(fs);
	if (fs->data_failed)
		return;
	if (len > FILTER_LINE_MAX || memchr(text, '\0', len) != NULL ||
	    memchr(text, '\r', len) != NULL ||
	    memchr(text, '\n', len) != NULL) {
		data_fail(fs, NULL, "line %u of the message is too long or "
		    "holds a NUL, CR or LF", fs->stages[0].lines_in + 1);
		return;
	}
	if ((line = strndup(text, len)) == NULL)
		fatal("filter line");
	stage_input(fs, 0, line, len);
	free(line);
	/* What is left of a batch goes once this round of input is done. */
	if (!fs->data_failed && !evtimer_pending(fs->ev_flush, NULL))
		evtimer_add(fs->ev_flush, &now);
}

/*
 * The data phase starts at the first line or at the end of an empty
 * message.  Stages whose filter does not take lines pass them on.
 */
static void
data_begin(struct filter_session *fs)
{
	struct stage	*st;
	size_t		 i;

	if (fs->in_data)
		return;
	fs->in_data = 1;
	for (i = 0; i < fs->nstages; i++) {
		st = &fs->stages[i];
		st->dataline = (imsgproc_capabilities(st->fp->proc) &
		    FILTER_HOOK_DATALINE) != 0;
		if (!st->known || st->gen != st->fp->gen) {
			data_fail(fs, st, "restarted since the session began");
			return;
		}
	}
}

/* Forget the message: nothing in flight, nothing queued. */
static void
data_reset(struct filter_session *fs)
{
	struct stage	*st;
	size_t		 i;

	data_stop(fs);
	for (i = 0; i < fs->nstages; i++) {
		st = &fs->stages[i];
		st->dataline = 0;
		st->lines_in = st->lines_out = 0;
		st->bytes_in = 0;
		st->eom_done = 0;
	}
	fs->in_data = 0;
	fs->data_failed = 0;
}

/*
 * The message cannot go through: stop moving it, and if its EOM is
 * pending, that is the decision (451 4.3.0).  Otherwise data_end gives
 * it.  st NULL: the session's own input was at fault.
 */
static void
data_fail(struct filter_session *fs, struct stage *st, const char *fmt, ...)
{
	va_list		 ap;
	char		 why[512];

	if (fs->data_failed)
		return;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	log_warnx("%016" PRIx64 " filter %s: %s during the message, which "
	    "will be refused 451 4.3.0", fs->sid, st != NULL ?
	    stage_name(st) : fs->conf->name, why);
	data_stop(fs);
	if (fs->qtype == IMSG_FILTER_EOM && !fs->decided)
		query_failed(fs, NULL, "message failed");
}

/* Nothing more of the message moves: in flight or queued, dropped. */
static void
data_stop(struct filter_session *fs)
{
	struct stage	*st;
	struct line	*l;
	size_t		 i;
	int		 j;

	fs->data_failed = 1;
	for (i = 0; i < fs->nstages; i++) {
		st = &fs->stages[i];
		for (j = 0; j < st->inflight; j++)
			req_cancel(st->batch[j]);
		st->inflight = 0;
		while ((l = TAILQ_FIRST(&st->queue)) != NULL) {
			TAILQ_REMOVE(&st->queue, l, entry);
			free(l);
		}
		st->qbytes = 0;
	}
	evtimer_del(fs->ev_flush);
	fs->backlog = 0;
	backlog_check(fs);
}

/* A line for stage i, passed on at once by stages without the hook. */
static void
stage_input(struct filter_session *fs, size_t i, const char *line,
    size_t len)
{
	struct stage	*st;
	struct line	*l;

	for (; i < fs->nstages; i++) {
		st = &fs->stages[i];
		st->lines_in++;
		st->bytes_in += len + 2;
		if (st->dataline)
			break;
		st->lines_out++;
	}
	if (i == fs->nstages) {
		if (fs->cb.dataline != NULL)
			fs->cb.dataline(fs->arg, line);
		return;
	}
	if ((l = malloc(sizeof(*l) + len + 1)) == NULL)
		fatal("filter line");
	l->len = len;
	memcpy(l->text, line, len + 1);
	TAILQ_INSERT_TAIL(&st->queue, l, entry);
	st->qbytes += len + LINE_OVERHEAD;
	fs->backlog += len;
	if (st->qbytes + BATCH_HEADER >= FILTER_BATCH_MAX)
		stage_pump(fs, i, 0);
	backlog_check(fs);
}

/*
 * Send stage i's queued lines in batches while the window allows; only
 * full batches unless flush (the rest waits for more input).
 */
static void
stage_pump(struct filter_session *fs, size_t i, int flush)
{
	struct stage		*st = &fs->stages[i];
	struct filter_req	*req;
	struct line		*l;
	struct msg		 m;
	uint32_t		 n;
	int			 r;

	if (fs->data_failed || !st->dataline)
		return;
	if (!TAILQ_EMPTY(&st->queue) && st->gen != st->fp->gen) {
		data_fail(fs, st, "restarted during the message");
		return;
	}
	msg_init(&m);
	while (st->inflight < FILTER_DATA_WINDOW && !TAILQ_EMPTY(&st->queue)) {
		if (!flush && st->qbytes + BATCH_HEADER < FILTER_BATCH_MAX)
			break;
		filter_proto_lines_start(&m, fs->sid);
		n = 0;
		while ((l = TAILQ_FIRST(&st->queue)) != NULL) {
			if ((r = filter_proto_lines_add(&m, l->text)) == 0)
				break;
			if (r == -1) {
				/* checked on the way in: a bug or ENOMEM */
				msg_free(&m);
				data_fail(fs, st, "line cannot be sent");
				return;
			}
			TAILQ_REMOVE(&st->queue, l, entry);
			st->qbytes -= l->len + LINE_OVERHEAD;
			fs->backlog -= l->len;
			free(l);
			n++;
		}
		req = req_new(fs, i);
		req->lines = n;
		st->batch[st->inflight++] = req;
		log_trace(TRACE_FILTERS, "%016" PRIx64 " filter %s: > %u "
		    "lines", fs->sid, stage_name(st), n);
		req->reqid = imsgproc_request(st->fp->proc,
		    IMSG_FILTER_DATALINES, &m, -1, st->fp->timeout_ms,
		    batch_ack, req);
	}
	msg_free(&m);
	backlog_check(fs);
}

static void
batch_ack(struct imsgproc *p, int result, struct imsg *imsg,
    struct msg_reader *r, void *arg)
{
	struct filter_req	*req = arg;
	struct filter_session	*fs = req->fs;
	struct stage		*st;
	uint32_t		 n, lines = req->lines;
	size_t			 i = req->stage;
	char			 err[256];
	int			 k;

	if (fs == NULL) {
		free(req);
		return;
	}
	st = &fs->stages[i];
	/* Out of the window, wherever it is (timeouts come in any order). */
	for (k = 0; k < st->inflight && st->batch[k] != req; k++)
		;
	free(req);
	if (k == st->inflight) {
		data_fail(fs, st, "unknown batch acknowledged");
		return;
	}
	st->inflight--;
	memmove(st->batch + k, st->batch + k + 1,
	    (st->inflight - k) * sizeof(st->batch[0]));
	if (result != IMSGPROC_REPLY) {
		data_fail(fs, st, "%s", imsgproc_result_name(result));
		return;
	}
	if (filter_proto_ack_decode(r, &n, err, sizeof(err)) == -1) {
		data_fail(fs, st, "malformed acknowledgement: %s", err);
		return;
	}
	/* A filter answers its batches in order: this was the oldest. */
	if (k != 0) {
		data_fail(fs, st, "batch acknowledged out of order");
		return;
	}
	if (n != lines) {
		data_fail(fs, st, "took %u of %u lines", n, lines);
		return;
	}
	stage_pump(fs, i, 1);
	/* An EOM waiting for this stage's last batch to leave. */
	if (fs->qtype == IMSG_FILTER_EOM && !fs->decided &&
	    fs->qreq == NULL && fs->parked == NULL && fs->qstage == i)
		query_step(fs);
}

static void
flush_fire(evutil_socket_t fd, short events, void *arg)
{
	struct filter_session	*fs = arg;
	size_t			 i;

	for (i = 0; i < fs->nstages && !fs->data_failed; i++)
		stage_pump(fs, i, 1);
}

static void
backlog_check(struct filter_session *fs)
{
	if (!fs->backlog_high && fs->backlog > FILTER_BACKLOG_HIGH) {
		log_trace(TRACE_FILTERS, "%016" PRIx64 " filter: %zu bytes "
		    "waiting in the chain, pausing", fs->sid, fs->backlog);
		fs->backlog_high = 1;
		if (fs->cb.backlog != NULL)
			fs->cb.backlog(fs->arg, 1);
	} else if (fs->backlog_high && fs->backlog < FILTER_BACKLOG_LOW) {
		log_trace(TRACE_FILTERS, "%016" PRIx64 " filter: %zu bytes "
		    "waiting in the chain, resuming", fs->sid, fs->backlog);
		fs->backlog_high = 0;
		if (fs->cb.backlog != NULL)
			fs->cb.backlog(fs->arg, 0);
	}
}
