/*
 * smtp_session.c: one incoming SMTP session (RFC 5321 with PIPELINING,
 * 8BITMIME, SIZE, ENHANCEDSTATUSCODES and SMTPUTF8).
 *
 * Commands are taken from the input buffer one at a time, in order,
 * and answered in order; replies collect in the output buffer and go
 * out in batches from the event loop.  A step that needs another
 * process (rDNS and MAIL, RCPT, end of data) sends its frame and sets
 * s->wait: nothing more is read until the answer arrives (or the
 * session's own timeout fires).  Once a session starts closing it
 * leaves the session tree, so every late answer is an orphan, cleaned
 * up by smtp_orphan_imsg().
 *
 * Filter hook points (issue 4): each step goes through smtp_hook(),
 * which continues at once when the listener has no filter, or asks the
 * chain (filter_chain.h), sets s->wait to W_FILTER and continues from
 * its decision.  MAIL is asked once the queue gave the msgid (filters
 * see TX_BEGIN first); everything written into the message (our
 * Received: header, the client's lines, the headers added for local
 * submissions) goes through smtp_hook_dataline(), so through the
 * chain: what the last filter returns is what is queued, and the file
 * is closed only after the end-of-message decision.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/tree.h>
#include <netinet/in.h>

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/util.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "smtpd-api.h"
#include "config.h"
#include "envelope.h"
#include "filter_chain.h"
#include "frames.h"
#include "proc.h"
#include "smtp.h"
#include "smtp_parse.h"
#include "smtp_session.h"

#define SMTP_INPUT_MAX		(64 * 1024)	/* read no further ahead */
#define SMTP_OUTPUT_MAX		(64 * 1024)	/* replies the client has
						   not read: stop reading */
#define SMTP_RDNS_TIMEOUT	15		/* then the name is unknown */
#define SMTP_FLUSH_TIMEOUT	10		/* last reply, then close */
#define SMTP_MAX_BAD		10		/* protocol errors, then 421 */
#define SMTP_MAX_EXPAND		10000		/* envelopes of one RCPT */
#define SMTP_FILE_BUFFER	(64 * 1024)
#define SMTP_REPLY_MAX		512		/* a reply line with its CRLF
						   (RFC 5321 4.5.3.1.5) */

enum smtp_state {
	S_CONNECTED,		/* waiting for rDNS, no banner yet */
	S_GREETED,		/* banner sent, no HELO */
	S_HELO,			/* HELO/EHLO done, no transaction */
	S_MAIL,			/* MAIL accepted, RCPTs */
	S_DATA,			/* reading the message */
};

enum smtp_wait {
	W_NONE = 0,
	W_RDNS,
	W_CREATE,
	W_LOOKUP,
	W_SUBMIT,
	W_COMMIT,
	W_FILTER,		/* issue 4 */
};

enum smtp_hook_point {
	HOOK_CONNECT,
	HOOK_HELO,
	HOOK_MAIL,
	HOOK_RCPT,
	HOOK_DATA,
	HOOK_EOM,
};

/* An envelope submitted to the queue, for the log and duplicates. */
struct smtp_evp {
	TAILQ_ENTRY(smtp_evp)	 entry;
	uint64_t		 evpid;
	char			 dest[MAILADDR_USER_MAX + MAILADDR_DOMAIN_MAX];
	char			*key;		/* what makes it a duplicate */
};
TAILQ_HEAD(smtp_evp_list, smtp_evp);

/* An envelope the lookup gave for the RCPT in progress. */
struct smtp_pending {
	char			*text;
	size_t			 len;
};

struct smtp_tx {
	uint32_t		 msgid;		/* 0 until CREATE answers */
	FILE			*fp;
	int			 committing;	/* COMMIT sent: no rollback */
	int			 failed;	/* a SUBMIT failed */
	int			 write_error;
	struct smtp_mailfrom	 mail;
	char			 sender[MAILADDR_USER_MAX +
				    MAILADDR_DOMAIN_MAX];
	int			 nrcpt;		/* accepted RCPT commands */
	char			 first_rcpt[MAILADDR_USER_MAX +
				    MAILADDR_DOMAIN_MAX];
	struct smtp_evp_list	 evps;
	int			 nevp;
	uint64_t		 written;	/* bytes in the message file */
	struct smtp_data	 data;

	/* the RCPT in progress */
	struct mailaddr		 rcpt;
	struct smtp_pending	*pending;
	size_t			 npending;
	size_t			 submitted;
	int			 overflow;
};

struct smtp_session {
	RB_ENTRY(smtp_session)	 entry;
	uint64_t		 id;
	const struct smtp_listener *listener;
	struct bufferevent	*bev;
	struct event		*timer;
	struct sockaddr_storage	 ss;
	struct sockaddr_storage	 local_ss;
	char			 addr[INET6_ADDRSTRLEN];
	char			 rdns[ENVELOPE_NAME_MAX];
	char			 helo[ENVELOPE_NAME_MAX];
	int			 ehlo;
	int			 local;		/* enqueue socket: EF_LOCAL */
	int			 client_local;	/* socket or loopback */
	uint32_t		 uid;
	enum smtp_state		 state;
	enum smtp_wait		 wait;
	int			 nbad;
	int			 nmails;
	int			 eof;		/* the client stopped sending */
	int			 closing;
	int			 in_tree;
	struct smtp_linereader	 lr;
	char			 line[SMTP_DATALINE_BUF];
	char			 cmd[SMTP_CMDLINE_MAX];	/* for the log */
	struct smtp_tx		*tx;

	/* filters (issue 4); fs NULL when the listener has none */
	struct filter_session	*fs;
	enum smtp_hook_point	 hook_point;
	void			(*hook_next)(struct smtp_session *);
	int			 filter_backlog; /* chain full: stop reading */
};

RB_HEAD(smtp_tree, smtp_session);

static int	 smtp_cmp(struct smtp_session *, struct smtp_session *);
RB_PROTOTYPE(smtp_tree, smtp_session, entry, smtp_cmp);

static struct smtp_session *smtp_find(uint64_t);
static void	 smtp_timer_arm(struct smtp_session *, int);
static void	 smtp_on_read(struct bufferevent *, void *);
static void	 smtp_on_write(struct bufferevent *, void *);
static void	 smtp_on_event(struct bufferevent *, short, void *);
static void	 smtp_on_timer(int, short, void *);
static void	 smtp_process(struct smtp_session *);
static void	 smtp_reply(struct smtp_session *, const char *, ...)
		    __attribute__((__format__(printf, 2, 3)));
static void	 smtp_close(struct smtp_session *, const char *, int);
static void	 smtp_free(struct smtp_session *);
static void	 smtp_hook(struct smtp_session *, enum smtp_hook_point,
		    void (*)(struct smtp_session *));
static void	 smtp_hook_dataline(struct smtp_session *, const char *,
		    size_t);
static void	 smtp_message_text(struct smtp_session *, const char *,
		    size_t);
static void	 smtp_filter_decision(struct filter_session *,
		    const struct filter_reply *, void *);
static void	 smtp_filter_dataline(void *, const char *);
static void	 smtp_filter_backlog(void *, int);
static void	 smtp_mail_accepted(struct smtp_session *);
static void	 smtp_data_done(struct smtp_session *);
static void	 smtp_rdns_request(struct smtp_session *);
static void	 smtp_connected(struct smtp_session *);
static void	 smtp_banner(struct smtp_session *);
static void	 smtp_command(struct smtp_session *, struct smtp_line *);
static void	 smtp_cmd_helo(struct smtp_session *, const char *, int);
static void	 smtp_helo_done(struct smtp_session *);
static void	 smtp_cmd_mail(struct smtp_session *, const char *);
static void	 smtp_mail_create(struct smtp_session *);
static void	 smtp_cmd_rcpt(struct smtp_session *, const char *);
static void	 smtp_rcpt_lookup(struct smtp_session *);
static void	 smtp_rcpt_submit_next(struct smtp_session *);
static void	 smtp_cmd_data(struct smtp_session *, const char *);
static void	 smtp_data_begin(struct smtp_session *);
static void	 smtp_data(struct smtp_session *, struct smtp_line *);
static void	 smtp_data_end(struct smtp_session *);
static void	 smtp_eom_commit(struct smtp_session *);
static void	 smtp_missing_headers(struct smtp_session *);
static void	 smtp_write(struct smtp_session *, const char *, size_t);
static void	 smtp_tx_end(struct smtp_session *);
static void	 smtp_pending_clear(struct smtp_tx *);
static const char *smtp_proto(struct smtp_session *);
static void	 smtp_imsg_create(struct smtp_session *, int, uint32_t, int);
static void	 smtp_imsg_submit(struct smtp_session *, int, uint64_t);
static void	 smtp_imsg_commit(struct smtp_session *, int);
static void	 smtp_imsg_envelope(struct smtp_session *, const void *,
		    size_t);
static void	 smtp_imsg_done(struct smtp_session *, int, uint32_t,
		    const char *, const char *);
static void	 smtp_imsg_rdns(struct smtp_session *, int, const char *);
static void	 smtp_orphan_imsg(uint32_t, int, uint32_t, int);
static void	 smtp_addr_text(const struct mailaddr *, char *, size_t);
static int	 smtp_client_is_loopback(const struct sockaddr_storage *);

static struct smtp_tree	 sessions = RB_INITIALIZER(&sessions);
static unsigned int	 nsessions;
static const struct filter_session_cb smtp_filter_cb = {
	.dataline = smtp_filter_dataline,
	.backlog = smtp_filter_backlog,
};

RB_GENERATE(smtp_tree, smtp_session, entry, smtp_cmp);

static int
smtp_cmp(struct smtp_session *a, struct smtp_session *b)
{
	if (a->id < b->id)
		return -1;
	return a->id > b->id;
}

static struct smtp_session *
smtp_find(uint64_t id)
{
	struct smtp_session	 key;

	key.id = id;
	return RB_FIND(smtp_tree, &sessions, &key);
}

unsigned int
smtp_session_count(void)
{
	return nsessions;
}

/* ------------------------------------------------------------------ */
/* life cycle                                                          */
/* ------------------------------------------------------------------ */

void
smtp_session_start(int fd, const struct smtp_listener *l,
    const struct sockaddr_storage *ss, const struct sockaddr_storage *local,
    uint32_t uid)
{
	struct smtp_session	*s;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		log_warn("smtp: session");
		close(fd);
		return;
	}
	do {
		s->id = ((uint64_t)arc4random() << 32) | arc4random();
	} while (s->id == 0 || smtp_find(s->id) != NULL);
	s->listener = l;
	s->ss = *ss;
	s->local_ss = *local;
	s->uid = uid;
	s->local = l->local;
	s->client_local = s->local || smtp_client_is_loopback(ss);
	smtp_ss_to_text(ss, s->addr, sizeof(s->addr));
	if (evutil_make_socket_nonblocking(fd) == -1 ||
	    (s->bev = bufferevent_socket_new(proc_base, fd,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL ||
	    (s->timer = evtimer_new(proc_base, smtp_on_timer, s)) == NULL) {
		log_warnx("smtp: cannot set up a session");
		if (s->bev != NULL)
			bufferevent_free(s->bev);
		else
			close(fd);
		free(s);
		return;
	}
	bufferevent_setcb(s->bev, smtp_on_read, smtp_on_write, smtp_on_event,
	    s);
	bufferevent_setwatermark(s->bev, EV_READ, 0, SMTP_INPUT_MAX);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	RB_INSERT(smtp_tree, &sessions, s);
	s->in_tree = 1;
	nsessions++;
	if (l->conf != NULL && l->conf->filter != NULL)
		s->fs = filter_session_open(l->conf->filter, s->id,
		    &smtp_filter_cb, s);

	proc_stat("smtp.session", 1);
	proc_stat(s->local ? "smtp.session.local" :
	    ss->ss_family == AF_INET6 ? "smtp.session.inet6" :
	    "smtp.session.inet4", 1);

	s->state = S_CONNECTED;
	if (s->local) {
		strlcpy(s->rdns, "localhost", sizeof(s->rdns));
		smtp_connected(s);
		return;
	}
	smtp_rdns_request(s);
}

/* The banner waits for the client's name, at most SMTP_RDNS_TIMEOUT. */
static void
smtp_rdns_request(struct smtp_session *s)
{
	struct msg	 m;

	msg_init(&m);
	msg_add_id(&m, s->id);
	msg_add_sockaddr(&m, (const struct sockaddr *)&s->ss);
	proc_send(PROC_LOOKUP, IMSG_LOOKUP_RDNS, &m, -1);
	msg_free(&m);
	s->wait = W_RDNS;
	smtp_timer_arm(s, SMTP_RDNS_TIMEOUT);
}

static void
smtp_connected(struct smtp_session *s)
{
	s->wait = W_NONE;
	log_info("%016llx smtp connected address=%s host=%s",
	    (unsigned long long)s->id, s->addr, s->rdns);
	if (s->local)
		log_debug("%016llx smtp local submission by uid %u",
		    (unsigned long long)s->id, s->uid);
	smtp_hook(s, HOOK_CONNECT, smtp_banner);
}

static void
smtp_banner(struct smtp_session *s)
{
	smtp_reply(s, "220 %s ESMTP smtpd", s->listener->hostname);
	s->state = S_GREETED;
	smtp_timer_arm(s, smtpd_env.conf->timeout_command);
	smtp_process(s);
}

/*
 * Start closing: no more input; the last reply (if flush) goes out
 * within SMTP_FLUSH_TIMEOUT, then the session is freed.  The session
 * leaves the tree at once, so late answers of peers are orphans.
 */
static void
smtp_close(struct smtp_session *s, const char *reason, int flush)
{
	struct timeval	 tv = { 0, 0 };

	if (s->closing)
		return;
	s->closing = 1;
	log_info("%016llx smtp disconnected reason=%s",
	    (unsigned long long)s->id, reason);
	if (s->tx != NULL)
		smtp_tx_end(s);
	if (s->fs != NULL) {
		filter_session_close(s->fs);
		s->fs = NULL;
	}
	if (s->in_tree) {
		RB_REMOVE(smtp_tree, &sessions, s);
		s->in_tree = 0;
	}
	bufferevent_disable(s->bev, EV_READ);
	if (flush && evbuffer_get_length(bufferevent_get_output(s->bev)) > 0)
		tv.tv_sec = SMTP_FLUSH_TIMEOUT;
	evtimer_add(s->timer, &tv);
}

static void
smtp_free(struct smtp_session *s)
{
	if (s->tx != NULL)
		smtp_tx_end(s);
	if (s->fs != NULL)
		filter_session_close(s->fs);
	if (s->in_tree)
		RB_REMOVE(smtp_tree, &sessions, s);
	bufferevent_free(s->bev);
	event_free(s->timer);
	free(s);
	nsessions--;
	proc_stat("smtp.session", -1);
	smtp_session_ended();
}

static void
smtp_timer_arm(struct smtp_session *s, int seconds)
{
	struct timeval	 tv;

	if (s->closing)
		return;
	tv.tv_sec = seconds > 0 ? seconds : 1;
	tv.tv_usec = 0;
	evtimer_add(s->timer, &tv);
}

static void
smtp_on_timer(int fd, short events, void *arg)
{
	struct smtp_session	*s = arg;

	if (s->closing) {
		smtp_free(s);
		return;
	}
	if (s->wait == W_RDNS) {
		strlcpy(s->rdns, "unknown", sizeof(s->rdns));
		smtp_connected(s);
		return;
	}
	s->cmd[0] = '\0';
	smtp_reply(s, "421 4.4.2 %s Timeout, closing connection",
	    s->listener->hostname);
	smtp_close(s, "timeout", 1);
}

static void
smtp_on_read(struct bufferevent *bev, void *arg)
{
	struct smtp_session	*s = arg;

	if (s->closing || s->state == S_CONNECTED)
		return;
	smtp_process(s);
}

static void
smtp_on_write(struct bufferevent *bev, void *arg)
{
	struct smtp_session	*s = arg;
	struct timeval		 now = { 0, 0 };

	/* the output buffer is empty */
	if (s->closing) {
		evtimer_add(s->timer, &now);
		return;
	}
	smtp_process(s);
}

static void
smtp_on_event(struct bufferevent *bev, short what, void *arg)
{
	struct smtp_session	*s = arg;
	struct timeval		 now = { 0, 0 };
	char			 reason[128];

	if (s->closing) {
		evtimer_add(s->timer, &now);
		return;
	}
	if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR)) {
		/*
		 * A half-closed client may still read: answer what it
		 * sent before it stopped.
		 */
		s->eof = 1;
		smtp_process(s);
		return;
	}
	snprintf(reason, sizeof(reason), "\"io-error: %s\"",
	    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	smtp_close(s, reason, 0);
}

/*
 * The heart of pipelining: one command after the other from what is
 * buffered, while nothing is pending and the client reads its replies.
 */
static void
smtp_process(struct smtp_session *s)
{
	struct evbuffer	*in = bufferevent_get_input(s->bev);
	struct evbuffer	*out = bufferevent_get_output(s->bev);
	struct smtp_line line;
	size_t		 bufsz;

	while (!s->closing && s->wait == W_NONE && !s->filter_backlog &&
	    s->state != S_CONNECTED) {
		if (evbuffer_get_length(out) > SMTP_OUTPUT_MAX)
			return;		/* smtp_on_write comes back */
		bufsz = s->state == S_DATA ? SMTP_DATALINE_BUF :
		    SMTP_CMDLINE_MAX - 1;
		if (!smtp_getline(in, &s->lr, s->line, bufsz, &line))
			break;
		/*
		 * The clock restarts for a whole line only: a client that
		 * trickles a byte at a time still times out.
		 */
		smtp_timer_arm(s, s->state == S_DATA ?
		    smtpd_env.conf->timeout_data :
		    smtpd_env.conf->timeout_command);
		if (s->state == S_DATA)
			smtp_data(s, &line);
		else
			smtp_command(s, &line);
	}
	if (s->eof && !s->closing && s->wait == W_NONE && !s->filter_backlog)
		smtp_close(s, "disconnect", 1);
}

static void
smtp_reply(struct smtp_session *s, const char *fmt, ...)
{
	char	 buf[SMTP_REPLY_MAX - 1];	/* the text, CRLF added */
	va_list	 ap;
	int	 n;

	/* an over-long text (the client's HELO name echoed) is cut */
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(buf))
		n = sizeof(buf) - 1;
	log_trace(TRACE_SMTP, "%016llx smtp > %s",
	    (unsigned long long)s->id, buf);
	if ((buf[0] == '4' || buf[0] == '5') && s->cmd[0] != '\0')
		log_info("%016llx smtp failed-command command=\"%s\" "
		    "result=\"%s\"", (unsigned long long)s->id, s->cmd, buf);
	/* protocol errors; 502 (not implemented) is a fair question */
	if (strncmp(buf, "500", 3) == 0 || strncmp(buf, "501", 3) == 0 ||
	    strncmp(buf, "503", 3) == 0 || strncmp(buf, "555", 3) == 0)
		s->nbad++;
	evbuffer_add(bufferevent_get_output(s->bev), buf, n);
	evbuffer_add(bufferevent_get_output(s->bev), "\r\n", 2);
}

/* ------------------------------------------------------------------ */
/* filter hook points                                                  */
/* ------------------------------------------------------------------ */

static void
smtp_hook(struct smtp_session *s, enum smtp_hook_point point,
    void (*next)(struct smtp_session *))
{
	struct smtp_tx	*tx = s->tx;

	if (s->fs == NULL) {
		next(s);
		return;
	}
	/* The decision is never given from inside these calls. */
	s->hook_point = point;
	s->hook_next = next;
	s->wait = W_FILTER;
	switch (point) {
	case HOOK_CONNECT:
		filter_connect(s->fs, (struct sockaddr *)&s->local_ss,
		    (struct sockaddr *)&s->ss, strcmp(s->rdns, "unknown") == 0 ?
		    "" : s->rdns, -1, smtp_filter_decision, s);
		break;
	case HOOK_HELO:
		filter_helo(s->fs, s->helo, smtp_filter_decision, s);
		break;
	case HOOK_MAIL:
		filter_mail(s->fs, tx->msgid, tx->mail.addr.user,
		    tx->mail.addr.domain, smtp_filter_decision, s);
		break;
	case HOOK_RCPT:
		filter_rcpt(s->fs, tx->rcpt.user, tx->rcpt.domain,
		    smtp_filter_decision, s);
		break;
	case HOOK_DATA:
		filter_data(s->fs, smtp_filter_decision, s);
		break;
	case HOOK_EOM:
		filter_data_end(s->fs, smtp_filter_decision, s);
		break;
	}
}

/*
 * The chain's decision.  A refusal is the filter's reply; at connect,
 * or with a disconnect, the session then closes; a refused MAIL or
 * message is rolled back (the EOM of a failed filter is a tempfail).
 */
static void
smtp_filter_decision(struct filter_session *fs, const struct filter_reply *rep,
    void *arg)
{
	struct smtp_session	*s = arg;
	void			(*next)(struct smtp_session *) = s->hook_next;

	s->wait = W_NONE;
	s->hook_next = NULL;
	if (rep->status == FILTER_ACCEPT) {
		next(s);
		smtp_process(s);
		return;
	}
	smtp_reply(s, "%u %s %s", rep->code, rep->enhanced, rep->message);
	if (rep->status == FILTER_DISCONNECT || s->hook_point == HOOK_CONNECT) {
		smtp_close(s, "filter", 1);
		return;
	}
	switch (s->hook_point) {
	case HOOK_HELO:
		s->state = S_GREETED;
		break;
	case HOOK_MAIL:
	case HOOK_EOM:
		smtp_tx_end(s);
		break;
	default:
		break;
	}
	smtp_process(s);
}

static void
smtp_hook_dataline(struct smtp_session *s, const char *text, size_t len)
{
	if (s->fs != NULL) {
		filter_data_line(s->fs, text, len);
		return;
	}
	smtp_write(s, text, len);
	smtp_write(s, "\n", 1);
}

/* Text of our own for the message: one line at a time, as the client's. */
static void
smtp_message_text(struct smtp_session *s, const char *text, size_t len)
{
	const char	*nl;

	while (len > 0) {
		if ((nl = memchr(text, '\n', len)) == NULL) {
			smtp_hook_dataline(s, text, len);
			return;
		}
		smtp_hook_dataline(s, text, nl - text);
		len -= nl - text + 1;
		text = nl + 1;
	}
}

/* A line that left the last filter goes to the message file. */
static void
smtp_filter_dataline(void *arg, const char *line)
{
	struct smtp_session	*s = arg;

	if (s->tx == NULL)
		return;
	smtp_write(s, line, strlen(line));
	smtp_write(s, "\n", 1);
}

/* Too many lines in the chain: stop reading the client until it drains. */
static void
smtp_filter_backlog(void *arg, int high)
{
	struct smtp_session	*s = arg;

	s->filter_backlog = high;
	if (!high && !s->closing)
		bufferevent_trigger(s->bev, EV_READ,
		    BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
}

/* ------------------------------------------------------------------ */
/* commands                                                            */
/* ------------------------------------------------------------------ */

static void
smtp_command(struct smtp_session *s, struct smtp_line *line)
{
	const char	*args;
	char		*end;
	enum smtp_verb	 verb;

	smtp_log_sanitize(s->cmd, sizeof(s->cmd), line->text);
	log_trace(TRACE_SMTP, "%016llx smtp < %s", (unsigned long long)s->id,
	    s->cmd);
	if (line->toolong)
		smtp_reply(s, "500 5.5.2 Line too long");
	else if (memchr(line->text, '\0', line->len) != NULL)
		smtp_reply(s, "500 5.5.2 Invalid character in command");
	else {
		verb = smtp_parse_verb(line->text, &args);
		/* trailing blanks are not part of an argument */
		end = line->text + strlen(line->text);
		while (end > args && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		switch (verb) {
		case SMTP_CMD_HELO:
		case SMTP_CMD_EHLO:
			smtp_cmd_helo(s, args, verb == SMTP_CMD_EHLO);
			break;
		case SMTP_CMD_MAIL:
			smtp_cmd_mail(s, args);
			break;
		case SMTP_CMD_RCPT:
			smtp_cmd_rcpt(s, args);
			break;
		case SMTP_CMD_DATA:
			smtp_cmd_data(s, args);
			break;
		case SMTP_CMD_RSET:
			if (*args != '\0') {
				smtp_reply(s, "501 5.5.4 Syntax: RSET");
				break;
			}
			if (s->tx != NULL)
				smtp_tx_end(s);
			if (s->fs != NULL)
				filter_reset(s->fs);
			if (s->state == S_MAIL)
				s->state = S_HELO;
			smtp_reply(s, "250 2.0.0 Reset state");
			break;
		case SMTP_CMD_NOOP:
			smtp_reply(s, "250 2.0.0 Ok");
			break;
		case SMTP_CMD_QUIT:
			s->cmd[0] = '\0';
			smtp_reply(s, "221 2.0.0 Bye");
			smtp_close(s, "quit", 1);
			return;
		case SMTP_CMD_HELP:
			smtp_reply(s, "214-2.0.0 This is smtpd");
			smtp_reply(s, "214-2.0.0 Commands: HELO EHLO MAIL RCPT "
			    "DATA RSET NOOP QUIT HELP VRFY");
			smtp_reply(s, "214 2.0.0 End of HELP info");
			break;
		case SMTP_CMD_VRFY:
			if (*args == '\0')
				smtp_reply(s, "501 5.5.4 Syntax: VRFY address");
			else
				smtp_reply(s, "252 2.1.5 Cannot VRFY user, but "
				    "will accept message and attempt delivery");
			break;
		case SMTP_CMD_EXPN:
			smtp_reply(s, "502 5.5.1 EXPN not supported");
			break;
		case SMTP_CMD_STARTTLS:
		case SMTP_CMD_AUTH:
			smtp_reply(s, "502 5.5.1 %s not supported yet",
			    smtp_verb_name(verb));
			break;
		default:
			smtp_reply(s, "500 5.5.1 Command unrecognized");
			break;
		}
	}
	if (!s->closing && s->nbad >= SMTP_MAX_BAD) {
		s->cmd[0] = '\0';
		smtp_reply(s, "421 4.7.0 %s Too many errors, closing "
		    "connection", s->listener->hostname);
		smtp_close(s, "too-many-errors", 1);
	}
}

static void
smtp_cmd_helo(struct smtp_session *s, const char *args, int ehlo)
{
	const char	*reply;
	char		 helo[ENVELOPE_NAME_MAX];

	if (smtp_parse_helo(args, helo, sizeof(helo), &reply) == -1) {
		smtp_reply(s, "%s", reply);
		return;
	}
	/* a new greeting resets the transaction (RFC 5321 4.1.4) */
	if (s->tx != NULL)
		smtp_tx_end(s);
	strlcpy(s->helo, helo, sizeof(s->helo));
	s->ehlo = ehlo;
	s->state = S_HELO;
	smtp_hook(s, HOOK_HELO, smtp_helo_done);
}

static void
smtp_helo_done(struct smtp_session *s)
{
	const char	*name = s->listener->hostname;

	if (!s->ehlo) {
		smtp_reply(s, "250 %s Hello %s [%s], pleased to meet you",
		    name, s->helo, s->addr);
		return;
	}
	smtp_reply(s, "250-%s Hello %s [%s], pleased to meet you", name,
	    s->helo, s->addr);
	smtp_reply(s, "250-8BITMIME");
	smtp_reply(s, "250-ENHANCEDSTATUSCODES");
	smtp_reply(s, "250-SIZE %llu",
	    (unsigned long long)smtpd_env.conf->max_message_size);
	smtp_reply(s, "250-PIPELINING");
	smtp_reply(s, "250-SMTPUTF8");
	smtp_reply(s, "250 HELP");
}

static void
smtp_cmd_mail(struct smtp_session *s, const char *args)
{
	struct smtp_mailfrom	 mf;
	const char		*reply;
	uint64_t		 max = smtpd_env.conf->max_message_size;

	if (s->state < S_HELO) {
		smtp_reply(s, "503 5.5.1 Say HELO or EHLO first");
		return;
	}
	if (s->tx != NULL) {
		smtp_reply(s, "503 5.5.1 Sender already specified");
		return;
	}
	if (s->nmails >= smtpd_env.conf->max_mails) {
		smtp_reply(s, "452 4.5.3 Too many messages in this session");
		return;
	}
	if (smtp_parse_mail(args, s->local, &mf, &reply) == -1) {
		smtp_reply(s, "%s", reply);
		return;
	}
	if (max != 0 && mf.size > max) {
		smtp_reply(s, "552 5.3.4 Message size exceeds fixed maximum "
		    "message size");
		return;
	}
	if ((s->tx = calloc(1, sizeof(*s->tx))) == NULL) {
		log_warn("smtp: transaction");
		smtp_reply(s, "451 4.3.0 Temporary failure, try again later");
		return;
	}
	TAILQ_INIT(&s->tx->evps);
	if (!mf.null && mf.addr.domain[0] == '\0')
		strlcpy(mf.addr.domain, smtpd_env.hostname,
		    sizeof(mf.addr.domain));
	s->tx->mail = mf;
	smtp_addr_text(&mf.addr, s->tx->sender, sizeof(s->tx->sender));
	/* filters are asked once the msgid is known (smtp_imsg_create) */
	smtp_mail_create(s);
}

static void
smtp_mail_create(struct smtp_session *s)
{
	struct msg	 m;

	msg_init(&m);
	msg_add_id(&m, s->id);
	proc_send(PROC_QUEUE, IMSG_RECV_CREATE, &m, -1);
	msg_free(&m);
	s->wait = W_CREATE;
}

static void
smtp_cmd_rcpt(struct smtp_session *s, const char *args)
{
	struct smtp_tx	*tx = s->tx;
	const char	*reply;

	if (tx == NULL) {
		smtp_reply(s, "503 5.5.1 Need MAIL before RCPT");
		return;
	}
	if (tx->failed) {
		smtp_reply(s, "451 4.3.0 Temporary failure, try again later");
		return;
	}
	if (tx->nrcpt >= smtpd_env.conf->max_rcpt) {
		smtp_reply(s, "452 4.5.3 Too many recipients");
		return;
	}
	if (smtp_parse_rcpt(args, tx->mail.smtputf8, s->local, &tx->rcpt,
	    &reply) == -1) {
		smtp_reply(s, "%s", reply);
		return;
	}
	if (tx->rcpt.domain[0] == '\0' && s->local)
		strlcpy(tx->rcpt.domain, smtpd_env.hostname,
		    sizeof(tx->rcpt.domain));
	smtp_hook(s, HOOK_RCPT, smtp_rcpt_lookup);
}

/* The template envelope: who sends, to whom, from where. */
static void
smtp_rcpt_lookup(struct smtp_session *s)
{
	struct smtp_tx	*tx = s->tx;
	struct envelope	*e;
	struct msg	 m;
	char		 text[ENVELOPE_TEXT_MAX];
	int		 len;

	if ((e = calloc(1, sizeof(*e))) == NULL) {
		smtp_reply(s, "451 4.3.0 Temporary failure, try again later");
		return;
	}
	e->version = ENVELOPE_VERSION;
	e->type = D_MDA;
	if (s->listener->tag != NULL)
		strlcpy(e->tag, s->listener->tag, sizeof(e->tag));
	strlcpy(e->smtpname, s->listener->hostname, sizeof(e->smtpname));
	strlcpy(e->helo, s->helo, sizeof(e->helo));
	strlcpy(e->hostname, s->rdns, sizeof(e->hostname));
	e->ss = s->ss;
	e->sender = tx->mail.addr;
	e->rcpt = tx->rcpt;
	e->dest = tx->rcpt;
	e->creation = time(NULL);
	e->ttl = smtpd_env.conf->queue_ttl;
	e->flags = s->local ? EF_LOCAL : 0;
	len = envelope_dump(e, text, sizeof(text));
	free(e);
	if (len == -1) {
		smtp_reply(s, "451 4.3.0 Temporary failure, try again later");
		return;
	}
	msg_init(&m);
	msg_add_id(&m, s->id);
	msg_add_data(&m, text, len);
	msg_add_string(&m, s->listener->tag != NULL ? s->listener->tag : "");
	msg_add_int32(&m, s->client_local);
	proc_send(PROC_LOOKUP, IMSG_LOOKUP_RCPT, &m, -1);
	msg_free(&m);
	tx->npending = 0;
	tx->submitted = 0;
	tx->overflow = 0;
	s->wait = W_LOOKUP;
}

/*
 * Submit the lookup's envelopes one at a time; a duplicate of one
 * already in this message (same destination, same way) is skipped.
 */
static void
smtp_rcpt_submit_next(struct smtp_session *s)
{
	struct smtp_tx		*tx = s->tx;
	struct smtp_pending	*p;
	struct smtp_evp		*evp;
	struct envelope		*e;
	struct msg		 m;
	char			 err[128], key[ENVELOPE_TEXT_MAX];

	while (tx->submitted < tx->npending) {
		p = &tx->pending[tx->submitted];
		if ((e = calloc(1, sizeof(*e))) == NULL ||
		    envelope_load(e, p->text, p->len, err,
		    sizeof(err)) == -1) {
			log_warnx("%016llx smtp: bad envelope from lookup: %s",
			    (unsigned long long)s->id,
			    e != NULL ? err : "out of memory");
			free(e);
			tx->failed = 1;
			break;
		}
		snprintf(key, sizeof(key), "%s@%s|%s|%d|%s|%s",
		    e->dest.user, e->dest.domain, e->dispatcher,
		    (int)e->mda_method, e->mda_buffer, e->mda_user);
		TAILQ_FOREACH(evp, &tx->evps, entry)
			if (strcmp(evp->key, key) == 0)
				break;
		if (evp != NULL) {
			free(e);
			tx->submitted++;
			continue;
		}
		if ((evp = calloc(1, sizeof(*evp))) == NULL ||
		    (evp->key = strdup(key)) == NULL) {
			free(evp);
			free(e);
			tx->failed = 1;
			break;
		}
		smtp_addr_text(&e->dest, evp->dest, sizeof(evp->dest));
		free(e);
		TAILQ_INSERT_TAIL(&tx->evps, evp, entry);
		msg_init(&m);
		msg_add_id(&m, s->id);
		msg_add_uint32(&m, tx->msgid);
		msg_add_data(&m, p->text, p->len);
		proc_send(PROC_QUEUE, IMSG_RECV_SUBMIT, &m, -1);
		msg_free(&m);
		s->wait = W_SUBMIT;
		return;
	}
	smtp_pending_clear(tx);
	s->wait = W_NONE;
	if (tx->failed) {
		smtp_reply(s, "451 4.3.0 Temporary failure, try again later");
		return;
	}
	if (tx->nrcpt++ == 0)
		smtp_addr_text(&tx->rcpt, tx->first_rcpt,
		    sizeof(tx->first_rcpt));
	smtp_reply(s, "250 2.1.5 Recipient ok");
}

static void
smtp_cmd_data(struct smtp_session *s, const char *args)
{
	if (s->tx == NULL) {
		smtp_reply(s, "503 5.5.1 Need MAIL and RCPT before DATA");
		return;
	}
	if (*args != '\0') {
		smtp_reply(s, "501 5.5.4 Syntax: DATA");
		return;
	}
	if (s->tx->failed) {
		smtp_reply(s, "451 4.3.0 Temporary failure, try again later");
		smtp_tx_end(s);
		s->state = S_HELO;
		return;
	}
	if (s->tx->nrcpt == 0) {
		smtp_reply(s, "554 5.5.1 No valid recipients");
		return;
	}
	smtp_hook(s, HOOK_DATA, smtp_data_begin);
}

static void
smtp_data_begin(struct smtp_session *s)
{
	struct smtp_tx		*tx = s->tx;
	struct smtp_received	 r;
	char			 buf[2048];
	int			 n;

	memset(&r, 0, sizeof(r));
	r.helo = s->helo;
	r.rdns = s->rdns;
	r.ss = &s->ss;
	r.hostname = s->listener->hostname;
	r.proto = smtp_proto(s);
	r.msgid = tx->msgid;
	r.rcpt = tx->nrcpt == 1 ? tx->first_rcpt : NULL;
	r.when = time(NULL);
	r.mask_src = s->listener->mask_src;
	if ((n = smtp_received_format(buf, sizeof(buf), &r)) == -1) {
		/* a name too long for our buffer: leave the clause out */
		r.mask_src = 1;
		n = smtp_received_format(buf, sizeof(buf), &r);
	}
	if (n > 0)
		smtp_message_text(s, buf, n);
	smtp_data_init(&tx->data, smtpd_env.conf->max_message_size);
	s->state = S_DATA;
	smtp_reply(s, "354 Enter mail, end with \".\" on a line by itself");
	smtp_timer_arm(s, smtpd_env.conf->timeout_data);
}

static void
smtp_data(struct smtp_session *s, struct smtp_line *line)
{
	struct smtp_tx		*tx = s->tx;
	struct smtp_data_out	 out;

	smtp_data_line(&tx->data, line, &out);
	if (out.end) {
		smtp_data_end(s);
		return;
	}
	if (out.headers_end)
		smtp_missing_headers(s);
	if (out.text != NULL)
		smtp_hook_dataline(s, out.text, out.len);
}

/* Message-ID and Date for local submissions, at the end of the header. */
static void
smtp_missing_headers(struct smtp_session *s)
{
	struct smtp_tx	*tx = s->tx;
	char		 buf[512], date[64];
	int		 n;

	if (!s->local)
		return;
	if (!tx->data.has_msgid) {
		n = snprintf(buf, sizeof(buf), "Message-ID: <%08x.%08x%08x@%s>\n",
		    tx->msgid, arc4random(), arc4random(),
		    s->listener->hostname);
		if (n > 0 && (size_t)n < sizeof(buf))
			smtp_message_text(s, buf, n);
		tx->data.has_msgid = 1;
	}
	if (!tx->data.has_date &&
	    smtp_date_format(date, sizeof(date), time(NULL)) != -1) {
		n = snprintf(buf, sizeof(buf), "Date: %s\n", date);
		if (n > 0 && (size_t)n < sizeof(buf))
			smtp_message_text(s, buf, n);
		tx->data.has_date = 1;
	}
}

static void
smtp_data_end(struct smtp_session *s)
{
	struct smtp_tx	*tx = s->tx;

	s->state = S_HELO;
	smtp_timer_arm(s, smtpd_env.conf->timeout_command);
	if (tx->data.in_headers)
		smtp_missing_headers(s);
	if (tx->data.error != SMTP_DATA_OK) {
		smtp_reply(s, "%s", smtp_data_error_reply(tx->data.error));
		smtp_tx_end(s);
		return;
	}
	/* filters write until their decision: the file stays open */
	smtp_hook(s, HOOK_EOM, smtp_data_done);
}

static void
smtp_data_done(struct smtp_session *s)
{
	struct smtp_tx	*tx = s->tx;

	if (tx->fp != NULL) {
		if (fflush(tx->fp) == EOF)
			tx->write_error = 1;
		if (fclose(tx->fp) == EOF)
			tx->write_error = 1;
		tx->fp = NULL;
	}
	if (tx->write_error) {
		log_warnx("%016llx smtp: message %08x: write error",
		    (unsigned long long)s->id, tx->msgid);
		smtp_reply(s, "451 4.3.0 Temporary failure, message not "
		    "queued");
		smtp_tx_end(s);
		return;
	}
	if (tx->nevp == 0) {
		/* every recipient expanded to nothing: nothing to queue */
		s->nmails++;
		smtp_reply(s, "250 2.0.0 %08x Message accepted for delivery",
		    tx->msgid);
		log_info("%016llx smtp message msgid=%08x size=%llu nrcpt=%d "
		    "proto=%s (no envelope)", (unsigned long long)s->id,
		    tx->msgid, (unsigned long long)tx->written, tx->nrcpt,
		    smtp_proto(s));
		if (s->fs != NULL)
			filter_tx_commit(s->fs);
		smtp_tx_end(s);
		return;
	}
	smtp_eom_commit(s);
}

static void
smtp_eom_commit(struct smtp_session *s)
{
	struct msg	 m;

	msg_init(&m);
	msg_add_id(&m, s->id);
	msg_add_uint32(&m, s->tx->msgid);
	proc_send(PROC_QUEUE, IMSG_RECV_COMMIT, &m, -1);
	msg_free(&m);
	s->tx->committing = 1;
	s->wait = W_COMMIT;
}

/* Buffered writes to the message file; the first error is remembered. */
static void
smtp_write(struct smtp_session *s, const char *buf, size_t len)
{
	struct smtp_tx	*tx = s->tx;

	if (tx->fp == NULL || tx->write_error || len == 0)
		return;
	if (fwrite(buf, 1, len, tx->fp) != len) {
		log_warn("%016llx smtp: message %08x",
		    (unsigned long long)s->id, tx->msgid);
		tx->write_error = 1;
		return;
	}
	tx->written += len;
}

/* The transaction is over: anything not committed is rolled back. */
static void
smtp_tx_end(struct smtp_session *s)
{
	struct smtp_tx	*tx = s->tx;
	struct smtp_evp	*evp;
	struct msg	 m;

	if (tx == NULL)
		return;
	if (s->fs != NULL)
		filter_tx_rollback(s->fs);	/* no-op after a commit */
	if (tx->fp != NULL)
		fclose(tx->fp);
	if (tx->msgid != 0 && !tx->committing) {
		msg_init(&m);
		msg_add_uint32(&m, tx->msgid);
		proc_send(PROC_QUEUE, IMSG_RECV_ROLLBACK, &m, -1);
		msg_free(&m);
	}
	while ((evp = TAILQ_FIRST(&tx->evps)) != NULL) {
		TAILQ_REMOVE(&tx->evps, evp, entry);
		free(evp->key);
		free(evp);
	}
	smtp_pending_clear(tx);
	free(tx);
	s->tx = NULL;
}

static void
smtp_pending_clear(struct smtp_tx *tx)
{
	size_t	 i;

	for (i = 0; i < tx->npending; i++)
		free(tx->pending[i].text);
	free(tx->pending);
	tx->pending = NULL;
	tx->npending = 0;
	tx->submitted = 0;
}

static const char *
smtp_proto(struct smtp_session *s)
{
	if (s->tx != NULL && s->tx->mail.smtputf8)
		return "UTF8SMTP";
	return s->ehlo ? "ESMTP" : "SMTP";
}

static void
smtp_addr_text(const struct mailaddr *a, char *buf, size_t bufsz)
{
	if (a->user[0] == '\0' && a->domain[0] == '\0')
		buf[0] = '\0';
	else if (a->domain[0] == '\0')
		strlcpy(buf, a->user, bufsz);
	else
		snprintf(buf, bufsz, "%s@%s", a->user, a->domain);
}

static int
smtp_client_is_loopback(const struct sockaddr_storage *ss)
{
	const struct sockaddr_in	*sin = (const struct sockaddr_in *)ss;
	const struct sockaddr_in6	*sin6 = (const struct sockaddr_in6 *)ss;

	if (ss->ss_family == AF_INET)
		return (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
	if (ss->ss_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr);
	return ss->ss_family == AF_UNSPEC || ss->ss_family == AF_UNIX;
}

/* ------------------------------------------------------------------ */
/* answers of the other processes                                      */
/* ------------------------------------------------------------------ */

void
smtp_session_imsg(struct imsg *imsg, struct msg_reader *r)
{
	struct smtp_session	*s;
	uint64_t		 sid, evpid = 0;
	int32_t			 result = 0;
	uint32_t		 msgid = 0, code = 0;
	char			*esc = NULL, *text = NULL, *name = NULL;
	const void		*data = NULL;
	size_t			 datalen = 0;
	int			 fd = imsg->fd;

	imsg->fd = -1;
	if (msg_get_id(r, &sid) == -1)
		goto bad;
	switch (imsg->hdr.type) {
	case IMSG_RECV_CREATE:
		if (msg_get_int32(r, &result) == -1 ||
		    (result == 1 && msg_get_uint32(r, &msgid) == -1))
			goto bad;
		break;
	case IMSG_RECV_SUBMIT:
		if (msg_get_int32(r, &result) == -1 ||
		    (result == 1 && msg_get_id(r, &evpid) == -1))
			goto bad;
		break;
	case IMSG_RECV_COMMIT:
		if (msg_get_int32(r, &result) == -1)
			goto bad;
		break;
	case IMSG_LOOKUP_RCPT_ENVELOPE:
		if (msg_get_data(r, &data, &datalen) == -1)
			goto bad;
		break;
	case IMSG_LOOKUP_RCPT_DONE:
		if (msg_get_int32(r, &result) == -1 ||
		    msg_get_uint32(r, &code) == -1 ||
		    msg_get_string(r, &esc) == -1 ||
		    msg_get_string(r, &text) == -1)
			goto bad;
		break;
	case IMSG_LOOKUP_RDNS:
		if (msg_get_int32(r, &result) == -1 ||
		    msg_get_string(r, &name) == -1)
			goto bad;
		break;
	default:
		fatalx("smtp: unexpected frame %u", imsg->hdr.type);
	}
	/* the queue may or may not add the msgid after a failure */
	if (msg_remaining(r) > 0 && result != 1 &&
	    (imsg->hdr.type == IMSG_RECV_CREATE ||
	    imsg->hdr.type == IMSG_RECV_SUBMIT))
		r->off = r->len;
	if (msg_end(r) == -1)
		goto bad;

	s = smtp_find(sid);
	if (s == NULL) {
		smtp_orphan_imsg(imsg->hdr.type, result, msgid, fd);
		goto done;
	}
	switch (imsg->hdr.type) {
	case IMSG_RECV_CREATE:
		if (s->wait != W_CREATE)
			goto unexpected;
		smtp_imsg_create(s, result, msgid, fd);
		fd = -1;
		break;
	case IMSG_RECV_SUBMIT:
		if (s->wait != W_SUBMIT)
			goto unexpected;
		smtp_imsg_submit(s, result, evpid);
		break;
	case IMSG_RECV_COMMIT:
		if (s->wait != W_COMMIT)
			goto unexpected;
		smtp_imsg_commit(s, result);
		break;
	case IMSG_LOOKUP_RCPT_ENVELOPE:
		if (s->wait != W_LOOKUP)
			goto unexpected;
		smtp_imsg_envelope(s, data, datalen);
		break;
	case IMSG_LOOKUP_RCPT_DONE:
		if (s->wait != W_LOOKUP)
			goto unexpected;
		smtp_imsg_done(s, result, code, esc, text);
		break;
	case IMSG_LOOKUP_RDNS:
		/* late (after SMTP_RDNS_TIMEOUT): the session went on */
		if (s->wait == W_RDNS)
			smtp_imsg_rdns(s, result, name);
		break;
	}
	goto done;

unexpected:
	log_warnx("%016llx smtp: unexpected frame %u in wait state %d",
	    (unsigned long long)sid, imsg->hdr.type, (int)s->wait);
	smtp_orphan_imsg(imsg->hdr.type, result, msgid, fd);
	fd = -1;
done:
	if (fd != -1)
		close(fd);
	free(esc);
	free(text);
	free(name);
	return;
bad:
	fatalx("smtp: bad frame %u: %s", imsg->hdr.type, msg_reader_error(r));
}

/* An answer for a session that is gone: release what it holds. */
static void
smtp_orphan_imsg(uint32_t type, int result, uint32_t msgid, int fd)
{
	struct msg	 m;

	if (fd != -1)
		close(fd);
	if (type == IMSG_RECV_CREATE && result == 1) {
		msg_init(&m);
		msg_add_uint32(&m, msgid);
		proc_send(PROC_QUEUE, IMSG_RECV_ROLLBACK, &m, -1);
		msg_free(&m);
	}
}

static void
smtp_imsg_rdns(struct smtp_session *s, int result, const char *name)
{
	size_t	 i;

	if (result == 1 && name[0] != '\0' &&
	    strlcpy(s->rdns, name, sizeof(s->rdns)) < sizeof(s->rdns)) {
		for (i = 0; s->rdns[i] != '\0'; i++)
			if ((unsigned char)s->rdns[i] <= 0x20 ||
			    (unsigned char)s->rdns[i] >= 0x7f ||
			    s->rdns[i] == '(' || s->rdns[i] == ')')
				s->rdns[i] = '?';
	} else
		strlcpy(s->rdns, "unknown", sizeof(s->rdns));
	smtp_connected(s);
}

static void
smtp_imsg_create(struct smtp_session *s, int result, uint32_t msgid, int fd)
{
	struct smtp_tx	*tx = s->tx;

	s->wait = W_NONE;
	/* from here on, smtp_tx_end rolls the message back */
	if (result == 1)
		tx->msgid = msgid;
	if (result == 1 && fd != -1) {
		if ((tx->fp = fdopen(fd, "w")) == NULL) {
			log_warn("%016llx smtp: fdopen",
			    (unsigned long long)s->id);
			close(fd);
		} else if (setvbuf(tx->fp, NULL, _IOFBF, SMTP_FILE_BUFFER)) {
			log_warnx("%016llx smtp: setvbuf failed",
			    (unsigned long long)s->id);
		}
	} else {
		if (result == 1)
			log_warnx("%016llx smtp: message %08x came without a "
			    "file", (unsigned long long)s->id, msgid);
		if (fd != -1)
			close(fd);
	}
	if (tx->fp == NULL) {
		smtp_reply(s, "451 4.3.0 Temporary failure, try again later");
		smtp_tx_end(s);
	} else
		smtp_hook(s, HOOK_MAIL, smtp_mail_accepted);
	smtp_process(s);
}

static void
smtp_mail_accepted(struct smtp_session *s)
{
	s->state = S_MAIL;
	smtp_reply(s, "250 2.1.0 Ok");
}

static void
smtp_imsg_envelope(struct smtp_session *s, const void *data, size_t len)
{
	struct smtp_tx		*tx = s->tx;
	struct smtp_pending	*p;

	if (tx->overflow)
		return;
	if (tx->npending >= SMTP_MAX_EXPAND) {
		tx->overflow = 1;
		return;
	}
	p = reallocarray(tx->pending, tx->npending + 1, sizeof(*p));
	if (p == NULL) {
		tx->overflow = 1;
		return;
	}
	tx->pending = p;
	p = &tx->pending[tx->npending];
	if ((p->text = malloc(len)) == NULL) {
		tx->overflow = 1;
		return;
	}
	memcpy(p->text, data, len);
	p->len = len;
	tx->npending++;
}

static void
smtp_imsg_done(struct smtp_session *s, int result, uint32_t code,
    const char *esc, const char *text)
{
	struct smtp_tx	*tx = s->tx;
	const char	*defesc, *deftext;

	s->wait = W_NONE;
	if (result == 1 && tx->overflow) {
		smtp_pending_clear(tx);
		smtp_reply(s, "452 4.5.3 Too many recipients after "
		    "expansion");
	} else if (result == 1) {
		smtp_rcpt_submit_next(s);
	} else {
		smtp_pending_clear(tx);
		/* our own trouble is never a permanent failure */
		if (result == 0 && code >= 500 && code <= 599) {
			defesc = "5.1.1";
			deftext = "Recipient rejected";
		} else if (result != 0 && code >= 400 && code <= 499) {
			defesc = "4.3.0";
			deftext = "Temporary failure, try again later";
		} else {
			code = result == 0 ? 550 : 451;
			defesc = result == 0 ? "5.1.1" : "4.3.0";
			deftext = result == 0 ? "Recipient rejected" :
			    "Temporary failure, try again later";
			esc = text = "";
		}
		if (esc[0] != (char)('0' + code / 100) || esc[1] != '.')
			esc = defesc;
		smtp_reply(s, "%u %s %s", code, esc,
		    text[0] != '\0' ? text : deftext);
	}
	smtp_process(s);
}

static void
smtp_imsg_submit(struct smtp_session *s, int result, uint64_t evpid)
{
	struct smtp_tx	*tx = s->tx;
	struct smtp_evp	*evp;

	s->wait = W_NONE;
	evp = TAILQ_LAST(&tx->evps, smtp_evp_list);
	tx->submitted++;
	if (result == 1) {
		evp->evpid = evpid;
		tx->nevp++;
	} else {
		/* the message is spoilt: its other envelopes are in */
		TAILQ_REMOVE(&tx->evps, evp, entry);
		free(evp->key);
		free(evp);
		tx->failed = 1;
		tx->submitted = tx->npending;
	}
	smtp_rcpt_submit_next(s);
	smtp_process(s);
}

static void
smtp_imsg_commit(struct smtp_session *s, int result)
{
	struct smtp_tx	*tx = s->tx;
	struct smtp_evp	*evp;
	struct msg	 m;

	s->wait = W_NONE;
	if (result != 1) {
		log_warnx("%016llx smtp: message %08x: commit failed",
		    (unsigned long long)s->id, tx->msgid);
		smtp_reply(s, "451 4.3.0 Temporary failure, message not "
		    "queued");
		/* a failed commit leaves an uncommitted message: drop it */
		msg_init(&m);
		msg_add_uint32(&m, tx->msgid);
		proc_send(PROC_QUEUE, IMSG_RECV_ROLLBACK, &m, -1);
		msg_free(&m);
		smtp_tx_end(s);
		smtp_process(s);
		return;
	}
	s->nmails++;
	smtp_reply(s, "250 2.0.0 %08x Message accepted for delivery",
	    tx->msgid);
	log_info("%016llx smtp message msgid=%08x size=%llu nrcpt=%d "
	    "proto=%s", (unsigned long long)s->id, tx->msgid,
	    (unsigned long long)tx->written, tx->nrcpt, smtp_proto(s));
	TAILQ_FOREACH(evp, &tx->evps, entry)
		log_info("%016llx smtp envelope evpid=%016llx from=<%s> "
		    "to=<%s>", (unsigned long long)s->id,
		    (unsigned long long)evp->evpid, tx->sender, evp->dest);
	proc_stat("smtp.message", 1);
	if (s->fs != NULL)
		filter_tx_commit(s->fs);
	smtp_tx_end(s);
	smtp_process(s);
}
