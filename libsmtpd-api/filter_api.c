/*
 * filter_api.c: the helper side of filters.
 *
 * A filter registers callbacks and calls filter_api_loop().  Each frame
 * from the owner is decoded by filter_proto.c and handed to the
 * callback of its hook; queries stay pending until the filter calls
 * one of the decision functions, now or later.  The library keeps one
 * small record per SMTP session: the pending query, the data phase's
 * counters and output batch, the user's data and timers.
 */
#include <sys/types.h>
#include <sys/queue.h>

#include <event.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtpd-api.h"

struct filter_timer {
	TAILQ_ENTRY(filter_timer)	 entry;
	struct filter_session		*session;
	struct event			*ev;
	void				(*cb)(uint64_t, void *);
	void				*arg;
};

struct filter_session {
	LIST_ENTRY(filter_session)	 entry;
	uint64_t			 id;
	void				*udata;
	void				*txdata;
	int				 txdata_set;

	/* The query waiting for a decision; qtype 0 when none. */
	uint32_t			 qtype;
	uint64_t			 reqid;
	uint32_t			 eom_lines;	/* of a pending EOM */

	/* The data phase: only for filters with a dataline hook. */
	int				 in_data;
	int				 data_failed;
	uint32_t			 lines_in;
	uint32_t			 lines_out;
	struct msg			 out;		/* DATAOUT being filled */
	uint32_t			 out_batch;	/* lines in it */

	TAILQ_HEAD(, filter_timer)	 timers;
};

/* Sessions by id: a small hash table is plenty for an SMTP server's
 * concurrent sessions. */
#define SESSION_BUCKETS	1024
LIST_HEAD(filter_sessions, filter_session);

static struct filter_sessions *session_bucket(uint64_t);
static struct filter_session *session_find(uint64_t);
static struct filter_session *session_get(uint64_t);
static void	 session_free(struct filter_session *);
static void	 transaction_free(struct filter_session *);
static void	 dispatch(struct imsg *, struct msg_reader *, void *);
static void	 dispatch_query(struct filter_session *,
		    const struct filter_event *);
static void	 dispatch_event(struct filter_session *,
		    const struct filter_event *);
static void	 dispatch_datalines(struct msg_reader *, uint64_t);
static void	 reply_failure(uint32_t, uint64_t, const char *);
static void	 send_reply(uint32_t, uint64_t, const struct filter_reply *);
static int	 decide(uint64_t, int, int, const char *, const char *);
static void	 data_start(struct filter_session *);
static void	 data_end(struct filter_session *);
static void	 data_flush(struct filter_session *);
static void	 timer_fire(int, short, void *);

static struct filter_sessions	 sessions[SESSION_BUCKETS];
static const char		*filter_name;

static struct {
	filter_connect_cb	 connect;
	filter_helo_cb		 helo;
	filter_mailaddr_cb	 mail;
	filter_mailaddr_cb	 rcpt;
	filter_data_cb		 data;
	filter_dataline_cb	 dataline;
	filter_eom_cb		 eom;
	filter_event_cb		 reset;
	filter_event_cb		 disconnect;
	filter_tx_cb		 tx_begin;
	filter_tx_cb		 tx_commit;
	filter_tx_cb		 tx_rollback;
	void			*arg[12];
	uint64_t		 hooks;
} cb;

/* Indexes of cb.arg, in hook bit order. */
enum {
	ARG_CONNECT, ARG_HELO, ARG_MAIL, ARG_RCPT, ARG_DATA, ARG_DATALINE,
	ARG_EOM, ARG_RESET, ARG_DISCONNECT, ARG_TX_BEGIN, ARG_TX_COMMIT,
	ARG_TX_ROLLBACK
};

static void		*(*session_alloc)(uint64_t);
static void		 (*session_dtor)(uint64_t, void *);
static void		*(*tx_alloc)(uint64_t);
static void		 (*tx_dtor)(uint64_t, void *);

/* ------------------------------------------------------------------ */
/* registration and loop                                               */
/* ------------------------------------------------------------------ */

void
filter_api_init(const char *name)
{
	filter_name = name;
	log_init(1, name);
}

void
filter_api_on_connect(filter_connect_cb fn, void *arg)
{
	cb.connect = fn;
	cb.arg[ARG_CONNECT] = arg;
	cb.hooks |= FILTER_HOOK_CONNECT;
}

void
filter_api_on_helo(filter_helo_cb fn, void *arg)
{
	cb.helo = fn;
	cb.arg[ARG_HELO] = arg;
	cb.hooks |= FILTER_HOOK_HELO;
}

void
filter_api_on_mail(filter_mailaddr_cb fn, void *arg)
{
	cb.mail = fn;
	cb.arg[ARG_MAIL] = arg;
	cb.hooks |= FILTER_HOOK_MAIL;
}

void
filter_api_on_rcpt(filter_mailaddr_cb fn, void *arg)
{
	cb.rcpt = fn;
	cb.arg[ARG_RCPT] = arg;
	cb.hooks |= FILTER_HOOK_RCPT;
}

void
filter_api_on_data(filter_data_cb fn, void *arg)
{
	cb.data = fn;
	cb.arg[ARG_DATA] = arg;
	cb.hooks |= FILTER_HOOK_DATA;
}

void
filter_api_on_dataline(filter_dataline_cb fn, void *arg)
{
	cb.dataline = fn;
	cb.arg[ARG_DATALINE] = arg;
	cb.hooks |= FILTER_HOOK_DATALINE;
}

void
filter_api_on_eom(filter_eom_cb fn, void *arg)
{
	cb.eom = fn;
	cb.arg[ARG_EOM] = arg;
	cb.hooks |= FILTER_HOOK_EOM;
}

void
filter_api_on_reset(filter_event_cb fn, void *arg)
{
	cb.reset = fn;
	cb.arg[ARG_RESET] = arg;
	cb.hooks |= FILTER_HOOK_RESET;
}

void
filter_api_on_disconnect(filter_event_cb fn, void *arg)
{
	cb.disconnect = fn;
	cb.arg[ARG_DISCONNECT] = arg;
	cb.hooks |= FILTER_HOOK_DISCONNECT;
}

void
filter_api_on_tx_begin(filter_tx_cb fn, void *arg)
{
	cb.tx_begin = fn;
	cb.arg[ARG_TX_BEGIN] = arg;
	cb.hooks |= FILTER_HOOK_TX_BEGIN;
}

void
filter_api_on_tx_commit(filter_tx_cb fn, void *arg)
{
	cb.tx_commit = fn;
	cb.arg[ARG_TX_COMMIT] = arg;
	cb.hooks |= FILTER_HOOK_TX_COMMIT;
}

void
filter_api_on_tx_rollback(filter_tx_cb fn, void *arg)
{
	cb.tx_rollback = fn;
	cb.arg[ARG_TX_ROLLBACK] = arg;
	cb.hooks |= FILTER_HOOK_TX_ROLLBACK;
}

int
filter_api_loop(void)
{
	struct filter_session	*s;
	uint64_t		 hooks;
	int			 r, i;

	/* The library needs the lifecycle events to free its state, and
	 * EOM to check the line count of a dataline filter. */
	hooks = cb.hooks | FILTER_HOOK_LIFECYCLE;
	if (hooks & FILTER_HOOK_DATALINE)
		hooks |= FILTER_HOOK_EOM;
	if (helper_init(HELPER_ROLE_FILTER, hooks, filter_name) == -1)
		return 1;
	r = helper_loop(dispatch, NULL);
	for (i = 0; i < SESSION_BUCKETS; i++)
		while ((s = LIST_FIRST(&sessions[i])) != NULL)
			session_free(s);
	return r == 0 ? 0 : 1;
}

/* ------------------------------------------------------------------ */
/* sessions                                                            */
/* ------------------------------------------------------------------ */

static struct filter_sessions *
session_bucket(uint64_t id)
{
	/* Session ids are random or sequential: fold both halves. */
	return &sessions[(id ^ (id >> 32)) % SESSION_BUCKETS];
}

static struct filter_session *
session_find(uint64_t id)
{
	struct filter_session	*s;

	LIST_FOREACH(s, session_bucket(id), entry)
		if (s->id == id)
			return s;
	return NULL;
}

static struct filter_session *
session_get(uint64_t id)
{
	struct filter_session	*s;

	if ((s = session_find(id)) != NULL)
		return s;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		fatal("calloc");
	s->id = id;
	msg_init(&s->out);
	TAILQ_INIT(&s->timers);
	LIST_INSERT_HEAD(session_bucket(id), s, entry);
	if (session_alloc != NULL)
		s->udata = session_alloc(id);
	return s;
}

static void
session_free(struct filter_session *s)
{
	struct filter_timer	*t;

	while ((t = TAILQ_FIRST(&s->timers)) != NULL) {
		TAILQ_REMOVE(&s->timers, t, entry);
		event_free(t->ev);
		free(t);
	}
	transaction_free(s);
	if (session_dtor != NULL && s->udata != NULL)
		session_dtor(s->id, s->udata);
	LIST_REMOVE(s, entry);
	msg_free(&s->out);
	free(s);
}

static void
transaction_free(struct filter_session *s)
{
	if (s->txdata_set && tx_dtor != NULL && s->txdata != NULL)
		tx_dtor(s->id, s->txdata);
	s->txdata = NULL;
	s->txdata_set = 0;
}

void
filter_api_session_allocator(void *(*fn)(uint64_t))
{
	session_alloc = fn;
}

void
filter_api_session_destructor(void (*fn)(uint64_t, void *))
{
	session_dtor = fn;
}

void *
filter_api_session(uint64_t id)
{
	struct filter_session	*s;

	return (s = session_find(id)) != NULL ? s->udata : NULL;
}

void
filter_api_transaction_allocator(void *(*fn)(uint64_t))
{
	tx_alloc = fn;
}

void
filter_api_transaction_destructor(void (*fn)(uint64_t, void *))
{
	tx_dtor = fn;
}

void *
filter_api_transaction(uint64_t id)
{
	struct filter_session	*s;

	if ((s = session_find(id)) == NULL)
		return NULL;
	if (!s->txdata_set && tx_alloc != NULL) {
		s->txdata = tx_alloc(id);
		s->txdata_set = 1;
	}
	return s->txdata;
}

/* ------------------------------------------------------------------ */
/* frames from the owner                                               */
/* ------------------------------------------------------------------ */

static void
dispatch(struct imsg *imsg, struct msg_reader *r, void *unused)
{
	struct filter_event	 ev;
	struct filter_session	*s;
	uint32_t		 type = imsg->hdr.type;
	uint64_t		 reqid = 0;
	char			 err[256];

	if ((imsg->hdr.flags & IMSGF_REPLY) || filter_frame_hook(type) == 0) {
		log_warnx("unexpected frame type %u (%s) ignored", type,
		    filter_frame_name(type));
		return;
	}
	if ((filter_frame_is_query(type) || type == IMSG_FILTER_DATALINES) &&
	    msg_get_id(r, &reqid) == -1) {
		/* Without an id there is no one to answer: the owner's
		 * deadline turns this into a temporary failure. */
		log_warnx("%s: no request id: %s", filter_frame_name(type),
		    msg_reader_error(r));
		return;
	}
	if (type == IMSG_FILTER_DATALINES) {
		dispatch_datalines(r, reqid);
		return;
	}
	if (filter_proto_event_decode(type, r, &ev, err, sizeof(err)) == -1) {
		log_warnx("malformed %s frame: %s", filter_frame_name(type),
		    err);
		if (filter_frame_is_query(type))
			reply_failure(type, reqid, "malformed query");
		filter_event_free(&ev);
		return;
	}
	log_trace(TRACE_FILTERS, "session %016" PRIx64 ": < %s",
	    ev.session, filter_frame_name(type));
	s = session_get(ev.session);
	if (filter_frame_is_query(type)) {
		if (s->qtype != 0) {
			log_warnx("session %016" PRIx64 ": %s while %s is "
			    "pending", s->id, filter_frame_name(type),
			    filter_frame_name(s->qtype));
			reply_failure(type, reqid, "query already pending");
		} else {
			s->qtype = type;
			s->reqid = reqid;
			dispatch_query(s, &ev);
		}
	} else
		dispatch_event(s, &ev);
	filter_event_free(&ev);
}

static void
dispatch_query(struct filter_session *s, const struct filter_event *ev)
{
	uint64_t	 id = s->id;

	switch (ev->type) {
	case IMSG_FILTER_CONNECT:
		if (cb.connect != NULL) {
			cb.connect(id, &ev->connect, cb.arg[ARG_CONNECT]);
			return;
		}
		break;
	case IMSG_FILTER_HELO:
		if (cb.helo != NULL) {
			cb.helo(id, ev->helo, cb.arg[ARG_HELO]);
			return;
		}
		break;
	case IMSG_FILTER_MAIL:
		/* A new transaction: anything left of an old one is stale,
		 * even when the owner sent no TX_BEGIN before. */
		data_end(s);
		transaction_free(s);
		if (cb.mail != NULL) {
			cb.mail(id, &ev->mailaddr, cb.arg[ARG_MAIL]);
			return;
		}
		break;
	case IMSG_FILTER_RCPT:
		if (cb.rcpt != NULL) {
			cb.rcpt(id, &ev->mailaddr, cb.arg[ARG_RCPT]);
			return;
		}
		break;
	case IMSG_FILTER_DATA:
		if (cb.data != NULL) {
			cb.data(id, cb.arg[ARG_DATA]);
			return;
		}
		break;
	case IMSG_FILTER_EOM:
		s->eom_lines = ev->eom.lines;
		if (cb.dataline != NULL) {
			if (!s->in_data)
				data_start(s);	/* an empty message */
			if (ev->eom.lines != s->lines_in) {
				log_warnx("session %016" PRIx64 ": EOM says "
				    "%u lines, %u received", id,
				    ev->eom.lines, s->lines_in);
				s->data_failed = 1;
				/* decide() turns the accept into a 451. */
				break;
			}
		}
		if (cb.eom != NULL) {
			cb.eom(id, &ev->eom, cb.arg[ARG_EOM]);
			return;
		}
		break;
	}
	/* No callback for this query: accept. */
	decide(id, FILTER_ACCEPT, 0, NULL, NULL);
}

static void
dispatch_event(struct filter_session *s, const struct filter_event *ev)
{
	uint64_t	 id = s->id;

	switch (ev->type) {
	case IMSG_FILTER_RESET:
		data_end(s);
		if (cb.reset != NULL)
			cb.reset(id, cb.arg[ARG_RESET]);
		transaction_free(s);
		break;
	case IMSG_FILTER_TX_BEGIN:
		data_end(s);
		transaction_free(s);
		if (cb.tx_begin != NULL)
			cb.tx_begin(id, ev->msgid, cb.arg[ARG_TX_BEGIN]);
		break;
	case IMSG_FILTER_TX_COMMIT:
		if (cb.tx_commit != NULL)
			cb.tx_commit(id, ev->msgid, cb.arg[ARG_TX_COMMIT]);
		transaction_free(s);
		break;
	case IMSG_FILTER_TX_ROLLBACK:
		data_end(s);
		if (cb.tx_rollback != NULL)
			cb.tx_rollback(id, ev->msgid, cb.arg[ARG_TX_ROLLBACK]);
		transaction_free(s);
		break;
	case IMSG_FILTER_DISCONNECT:
		data_end(s);
		if (cb.disconnect != NULL)
			cb.disconnect(id, cb.arg[ARG_DISCONNECT]);
		session_free(s);
		break;
	}
}

/*
 * One batch of lines: each goes through the dataline callback (or
 * straight out), then the output so far is sent and the batch is
 * acknowledged with the number of lines consumed.
 */
static void
dispatch_datalines(struct msg_reader *r, uint64_t reqid)
{
	struct filter_session	*s;
	struct msg		 m;
	uint64_t		 id;
	uint32_t		 n = 0;
	char			*line;
	int			 ret;

	if (filter_proto_lines_session(r, &id) == -1) {
		log_warnx("malformed datalines frame: %s",
		    msg_reader_error(r));
		reply_failure(IMSG_FILTER_DATALINES, reqid, "malformed");
		return;
	}
	s = session_get(id);
	if (!s->in_data)
		data_start(s);
	while ((ret = filter_proto_lines_next(r, &line)) == 1) {
		s->lines_in++;
		n++;
		if (cb.dataline != NULL)
			cb.dataline(id, line, cb.arg[ARG_DATALINE]);
		else
			filter_api_writeln(id, line);
		free(line);
		/* A callback cannot end the session, but stay careful. */
		if ((s = session_find(id)) == NULL)
			return;
	}
	if (ret == -1) {
		log_warnx("session %016" PRIx64 ": malformed datalines frame "
		    "after %u lines: %s", id, n, msg_reader_error(r));
		s->data_failed = 1;
	}
	data_flush(s);
	msg_init(&m);
	filter_proto_ack_encode(&m, n);
	if (helper_reply(IMSG_FILTER_DATALINES, reqid, &m, -1) == -1)
		log_warn("session %016" PRIx64 ": datalines ack", id);
	msg_free(&m);
}

/* An answer that the owner treats like a failed filter. */
static void
reply_failure(uint32_t type, uint64_t reqid, const char *why)
{
	struct filter_reply	 rep;
	struct msg		 m;

	msg_init(&m);
	if (type == IMSG_FILTER_DATALINES)
		filter_proto_ack_encode(&m, 0);	/* count cannot match */
	else {
		filter_reply_failure(type, &rep);
		log_debug("%s answered %s %u: %s", filter_frame_name(type),
		    filter_status_name(rep.status), rep.code, why);
		filter_proto_reply_encode(&m, type, &rep);
	}
	if (helper_reply(type, reqid, &m, -1) == -1)
		log_warn("%s reply", filter_frame_name(type));
	msg_free(&m);
}

/* ------------------------------------------------------------------ */
/* decisions                                                           */
/* ------------------------------------------------------------------ */

int
filter_api_accept(uint64_t id)
{
	return decide(id, FILTER_ACCEPT, 0, NULL, NULL);
}

int
filter_api_reject(uint64_t id, int code, const char *enhanced,
    const char *message)
{
	return decide(id, FILTER_REJECT, code, enhanced, message);
}

int
filter_api_tempfail(uint64_t id, int code, const char *enhanced,
    const char *message)
{
	return decide(id, FILTER_TEMPFAIL, code, enhanced, message);
}

int
filter_api_disconnect(uint64_t id, int code, const char *enhanced,
    const char *message)
{
	return decide(id, FILTER_DISCONNECT, code, enhanced, message);
}

static int
decide(uint64_t id, int status, int code, const char *enhanced,
    const char *message)
{
	struct filter_session	*s;
	struct filter_reply	 rep;
	char			 why[256];
	uint32_t		 type;

	if ((s = session_find(id)) == NULL || s->qtype == 0) {
		log_warnx("session %016" PRIx64 ": %s without a pending "
		    "query ignored", id, filter_status_name(status));
		return -1;
	}
	type = s->qtype;
	memset(&rep, 0, sizeof(rep));
	rep.status = status;
	/* Out of range becomes a value normalize will refuse. */
	rep.code = code < 0 || code > 999 ? 1 : (uint32_t)code;
	if (enhanced != NULL)
		strlcpy(rep.enhanced, enhanced, sizeof(rep.enhanced));
	if (message != NULL && strlcpy(rep.message, message,
	    sizeof(rep.message)) >= sizeof(rep.message))
		log_warnx("session %016" PRIx64 ": %s message cut to %d "
		    "bytes", id, filter_frame_name(type),
		    FILTER_MESSAGE_MAX - 1);
	if (filter_reply_normalize(type, &rep, why, sizeof(why)) != 0)
		log_warnx("session %016" PRIx64 ": %s %s: %s", id,
		    filter_frame_name(type), filter_status_name(status), why);

	if (type == IMSG_FILTER_EOM) {
		if (cb.dataline != NULL) {
			data_flush(s);
			rep.lines_out = s->lines_out;
			if (s->data_failed && rep.status == FILTER_ACCEPT) {
				filter_reply_failure(type, &rep);
				rep.lines_out = s->lines_out;
			}
			data_end(s);
		} else
			rep.lines_out = s->eom_lines;
	}
	s->qtype = 0;
	send_reply(type, s->reqid, &rep);
	log_trace(TRACE_FILTERS, "session %016" PRIx64 ": > %s %s %u %s",
	    id, filter_frame_name(type), filter_status_name(rep.status),
	    rep.code, rep.message);
	return 0;
}

static void
send_reply(uint32_t type, uint64_t reqid, const struct filter_reply *rep)
{
	struct msg	 m;

	msg_init(&m);
	filter_proto_reply_encode(&m, type, rep);
	if (helper_reply(type, reqid, &m, -1) == -1)
		log_warn("%s reply", filter_frame_name(type));
	msg_free(&m);
}

/* ------------------------------------------------------------------ */
/* data phase                                                          */
/* ------------------------------------------------------------------ */

static void
data_start(struct filter_session *s)
{
	s->in_data = 1;
	s->data_failed = 0;
	s->lines_in = s->lines_out = 0;
	s->out_batch = 0;
	filter_proto_lines_start(&s->out, s->id);
}

/* Output not yet sent is dropped: the message is over or abandoned. */
static void
data_end(struct filter_session *s)
{
	s->in_data = 0;
	s->out_batch = 0;
	msg_reset(&s->out);
}

static void
data_flush(struct filter_session *s)
{
	if (s->out_batch == 0)
		return;
	if (helper_send(IMSG_FILTER_DATAOUT, &s->out, -1) == -1) {
		log_warn("session %016" PRIx64 ": dataout", s->id);
		s->data_failed = 1;
	}
	s->out_batch = 0;
	filter_proto_lines_start(&s->out, s->id);
}

int
filter_api_writeln(uint64_t id, const char *line)
{
	struct filter_session	*s;
	int			 r;

	if ((s = session_find(id)) == NULL || !s->in_data) {
		log_warnx("session %016" PRIx64 ": line written out of the "
		    "data phase ignored", id);
		return -1;
	}
	if ((r = filter_proto_lines_add(&s->out, line)) == 0) {
		data_flush(s);
		r = filter_proto_lines_add(&s->out, line);
	}
	if (r != 1) {
		log_warnx("session %016" PRIx64 ": output line of %zu bytes "
		    "refused (over %d bytes, or a CR or LF inside): the "
		    "message will be tempfailed", id, strlen(line),
		    FILTER_LINE_MAX);
		s->data_failed = 1;
		/* A line refused must not leave a broken batch behind. */
		if (msg_error(&s->out) != 0) {
			s->out_batch = 0;
			filter_proto_lines_start(&s->out, s->id);
		}
		return -1;
	}
	s->out_batch++;
	s->lines_out++;
	return 0;
}

int
filter_api_printf(uint64_t id, const char *fmt, ...)
{
	va_list	 ap;
	char	*line;
	int	 r;

	va_start(ap, fmt);
	r = vasprintf(&line, fmt, ap);
	va_end(ap);
	if (r == -1) {
		log_warn("session %016" PRIx64 ": printf", id);
		return -1;
	}
	r = filter_api_writeln(id, line);
	free(line);
	return r;
}

/* ------------------------------------------------------------------ */
/* timers                                                              */
/* ------------------------------------------------------------------ */

int
filter_api_timer(uint64_t id, unsigned int ms, void (*fn)(uint64_t, void *),
    void *arg)
{
	struct filter_session	*s;
	struct filter_timer	*t;
	struct timeval		 tv;

	if ((s = session_find(id)) == NULL) {
		log_warnx("session %016" PRIx64 ": timer for an unknown "
		    "session", id);
		return -1;
	}
	if ((t = calloc(1, sizeof(*t))) == NULL) {
		log_warn("timer");
		return -1;
	}
	t->session = s;
	t->cb = fn;
	t->arg = arg;
	if ((t->ev = evtimer_new(helper_event_base(), timer_fire, t)) ==
	    NULL) {
		log_warnx("timer: evtimer_new failed");
		free(t);
		return -1;
	}
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	if (evtimer_add(t->ev, &tv) == -1) {
		log_warnx("timer: evtimer_add failed");
		event_free(t->ev);
		free(t);
		return -1;
	}
	TAILQ_INSERT_TAIL(&s->timers, t, entry);
	return 0;
}

static void
timer_fire(int fd, short events, void *arg)
{
	struct filter_timer	*t = arg;
	uint64_t		 id = t->session->id;

	TAILQ_REMOVE(&t->session->timers, t, entry);
	event_free(t->ev);
	t->cb(id, t->arg);
	free(t);
}
