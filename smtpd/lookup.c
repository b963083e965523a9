/*
 * lookup.c: the lookup process.
 *
 * It owns the table helpers (lookup_tables.c) and answers:
 *	network	IMSG_LOOKUP_RCPT: match the ruleset and expand
 *		(expand.c), then one IMSG_LOOKUP_RCPT_ENVELOPE per final
 *		envelope and IMSG_LOOKUP_RCPT_DONE;
 *		IMSG_LOOKUP_RDNS: the client's name (lookup_dns.c)
 *	queue	IMSG_LOOKUP_RCPT too, to route the sender of a bounce
 *	control	IMSG_LOOKUP_UPDATE_TABLE, or IMSG_CTL_REQUEST "update
 *		table": the table helper reloads its data
 * Many sessions have requests under way at once; everything is
 * asynchronous.  Requests of one session are answered in the order
 * they came (a session that pipelines RCPTs gets its answers in
 * order), and an answer for a session that went away meanwhile is
 * harmless: the network process drops it.
 *
 * The process drops its privileges before it starts the helpers, so
 * they run as _smtpd too; it is not chrooted, so that a helper that
 * dies can be exec'd again.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <event.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "smtpd-api.h"
#include "config.h"
#include "envelope.h"
#include "expand.h"
#include "frames.h"
#include "lookup.h"
#include "proc.h"
#include "ruleset.h"

/* One RCPT of one session, waiting for its turn or being expanded. */
struct rcpt_request {
	TAILQ_ENTRY(rcpt_request) entry;
	enum proc_id		 from;	/* network, or queue for bounces */
	uint64_t		 sid;
	struct envelope		 tmpl;
	char			 tag[ENVELOPE_NAME_MAX];
	int			 local;
	struct expansion	*x;	/* NULL while waiting its turn */
};
TAILQ_HEAD(rcpt_list, rcpt_request);

struct rdns_request {
	uint64_t		 sid;
};

/* update table: answered in the order asked when there is no id. */
struct update_request {
	TAILQ_ENTRY(update_request) entry;
	int			 ctl;		/* came as IMSG_CTL_REQUEST */
	uint64_t		 ctlid;
	char			 name[256];
	int			 done;
	int			 result;
};
TAILQ_HEAD(update_list, update_request);

static struct lookup_env	 env;
static struct lookup_tables	*tables;
static struct rcpt_list		 rcpts = TAILQ_HEAD_INITIALIZER(rcpts);
static struct update_list	 updates = TAILQ_HEAD_INITIALIZER(updates);

static void	lookup_dispatch(enum proc_id, struct imsg *,
		    struct msg_reader *);
static void	lookup_unpriv_user(void);
static void	lookup_rcpt(enum proc_id, struct msg_reader *);
static void	lookup_rcpt_start(struct rcpt_request *);
static void	lookup_rcpt_next(struct rcpt_request *);
static void	lookup_rcpt_on_done(struct expansion *,
		    const struct expand_result *, void *);
static void	lookup_rdns_request(struct msg_reader *);
static void	lookup_rdns_on_done(int, const char *, void *);
static void	lookup_update(struct msg_reader *, int);
static void	lookup_update_on_done(int, const char *, void *);
static void	lookup_update_flush(void);

void
lookup_main(void)
{
	struct config_listener	*l;

	proc_init(PROC_LOOKUP);

	env.base = proc_base;
	env.conf = smtpd_env.conf;
	lookup_unpriv_user();
	if (ruleset_local_init(&env, smtpd_env.hostname) == -1)
		fatal("lookup: local names");
	/* The names the listeners announce are ours too. */
	TAILQ_FOREACH(l, &smtpd_env.conf->listeners, entry)
		if (l->hostname != NULL &&
		    ruleset_local_add(&env, l->hostname) == -1)
			fatal("lookup: local names");
	if (lookup_rdns_init(proc_base) == -1)
		log_warnx("lookup: no reverse DNS: every client is "
		    "\"unknown\"");

	proc_drop_privileges(NULL);

	/* After the drop: the helpers run unprivileged as well. */
	if ((tables = lookup_tables_start(proc_base, smtpd_env.conf,
	    helper_path)) == NULL)
		fatal("lookup: tables");
	lookup_tables_ops(tables, &env.tables);
	env.userbase = lookup_tables_getpwnam(tables);

	proc_loop(lookup_dispatch);
}

/* Who runs the /file and |command targets of aliases: _smtpd. */
static void
lookup_unpriv_user(void)
{
	struct passwd	*pw;

	env.unpriv_uid = smtpd_env.smtpd_uid;
	env.unpriv_gid = smtpd_env.smtpd_gid;
	if ((pw = getpwuid(smtpd_env.smtpd_uid)) != NULL) {
		strlcpy(env.unpriv_user, pw->pw_name, sizeof(env.unpriv_user));
		strlcpy(env.unpriv_home, pw->pw_dir, sizeof(env.unpriv_home));
	} else {
		snprintf(env.unpriv_user, sizeof(env.unpriv_user), "%lu",
		    (unsigned long)smtpd_env.smtpd_uid);
		strlcpy(env.unpriv_home, "/", sizeof(env.unpriv_home));
	}
	if (env.unpriv_home[0] != '/')
		strlcpy(env.unpriv_home, "/", sizeof(env.unpriv_home));
}

static void
lookup_dispatch(enum proc_id from, struct imsg *imsg, struct msg_reader *r)
{
	switch (imsg->hdr.type) {
	case IMSG_LOOKUP_RCPT:
		/* the queue routes the senders of bounces this way */
		if (from != PROC_NETWORK && from != PROC_QUEUE)
			break;
		lookup_rcpt(from, r);
		return;
	case IMSG_LOOKUP_RDNS:
		if (from != PROC_NETWORK)
			break;
		lookup_rdns_request(r);
		return;
	case IMSG_LOOKUP_UPDATE_TABLE:
		if (from != PROC_CONTROL)
			break;
		lookup_update(r, 0);
		return;
	case IMSG_CTL_REQUEST:
		if (from != PROC_CONTROL)
			break;
		lookup_update(r, 1);
		return;
	}
	fatalx("lookup: unexpected frame %u from %s", imsg->hdr.type,
	    proc_name(from));
}

/* ---- RCPT ---- */

static void
lookup_rcpt(enum proc_id from, struct msg_reader *r)
{
	struct rcpt_request	*req, *o;
	const void		*data;
	size_t			 len;
	char			*tag = NULL, err[256];
	int32_t			 local;

	if ((req = calloc(1, sizeof(*req))) == NULL)
		fatal("lookup: rcpt");
	req->from = from;
	if (msg_get_id(r, &req->sid) == -1 ||
	    msg_get_data(r, &data, &len) == -1 ||
	    msg_get_string(r, &tag) == -1 ||
	    msg_get_int32(r, &local) == -1 || msg_end(r) == -1)
		fatalx("lookup: bad rcpt frame: %s", msg_reader_error(r));
	if (envelope_load(&req->tmpl, data, len, err, sizeof(err)) == -1)
		fatalx("lookup: bad rcpt envelope: %s", err);
	strlcpy(req->tag, tag, sizeof(req->tag));
	free(tag);
	req->local = local != 0;
	log_trace(TRACE_LOOKUP, "%016" PRIx64 " lookup rcpt <%s@%s>",
	    req->sid, req->tmpl.rcpt.user, req->tmpl.rcpt.domain);

	/* One at a time per session, in order. */
	TAILQ_FOREACH(o, &rcpts, entry)
		if (o->from == req->from && o->sid == req->sid)
			break;
	TAILQ_INSERT_TAIL(&rcpts, req, entry);
	if (o == NULL)
		lookup_rcpt_start(req);
}

static void
lookup_rcpt_start(struct rcpt_request *req)
{
	struct msg		 m;

	req->x = expand_start(&env, req->sid, &req->tmpl, req->tag,
	    req->local, lookup_rcpt_on_done, req);
	if (req->x != NULL)
		return;
	/* Out of memory: a temporary failure, answered now. */
	msg_init(&m);
	msg_add_id(&m, req->sid);
	msg_add_int32(&m, -1);
	msg_add_uint32(&m, 451);
	msg_add_string(&m, "4.3.0");
	msg_add_string(&m, "Temporary failure");
	proc_send(req->from, IMSG_LOOKUP_RCPT_DONE, &m, -1);
	msg_free(&m);
	lookup_rcpt_next(req);
}

/* Forget req and start the session's next RCPT, if one waits. */
static void
lookup_rcpt_next(struct rcpt_request *req)
{
	struct rcpt_request	*next;

	for (next = TAILQ_NEXT(req, entry); next != NULL;
	    next = TAILQ_NEXT(next, entry))
		if (next->from == req->from && next->sid == req->sid)
			break;
	TAILQ_REMOVE(&rcpts, req, entry);
	free(req);
	if (next != NULL)
		lookup_rcpt_start(next);
}

static void
lookup_rcpt_on_done(struct expansion *x, const struct expand_result *res,
    void *arg)
{
	struct rcpt_request	*req = arg;
	struct envelope		*e;
	struct msg		 m;
	char			 text[ENVELOPE_TEXT_MAX];
	size_t			 i;
	int			 len, result = res->result;
	uint32_t		 code = res->code;
	const char		*esc = res->esc, *why = res->text;

	if (result == 1) {
		if ((e = malloc(sizeof(*e))) == NULL)
			fatal("lookup: envelope");
		for (i = 0; i < res->nenvelopes; i++) {
			expand_envelope(x, i, e);
			len = envelope_dump(e, text, sizeof(text));
			if (len == -1) {
				log_warnx("%016" PRIx64 " lookup: envelope "
				    "too large", req->sid);
				result = -1;
				break;
			}
			msg_init(&m);
			msg_add_id(&m, req->sid);
			msg_add_data(&m, text, len);
			proc_send(req->from, IMSG_LOOKUP_RCPT_ENVELOPE, &m,
			    -1);
			msg_free(&m);
		}
		free(e);
		if (result == -1) {
			code = 451;
			esc = "4.3.0";
			why = "Temporary failure";
		}
	}
	msg_init(&m);
	msg_add_id(&m, req->sid);
	msg_add_int32(&m, result);
	msg_add_uint32(&m, code);
	msg_add_string(&m, esc);
	msg_add_string(&m, why);
	proc_send(req->from, IMSG_LOOKUP_RCPT_DONE, &m, -1);
	msg_free(&m);

	expand_free(x);
	lookup_rcpt_next(req);
}

/* ---- rDNS ---- */

static void
lookup_rdns_request(struct msg_reader *r)
{
	struct rdns_request	*req;
	struct sockaddr_storage	 ss;

	if ((req = calloc(1, sizeof(*req))) == NULL)
		fatal("lookup: rdns");
	if (msg_get_id(r, &req->sid) == -1 ||
	    msg_get_sockaddr(r, &ss) == -1 || msg_end(r) == -1)
		fatalx("lookup: bad rdns frame: %s", msg_reader_error(r));
	lookup_rdns(&ss, lookup_rdns_on_done, req);
}

static void
lookup_rdns_on_done(int result, const char *name, void *arg)
{
	struct rdns_request	*req = arg;
	struct msg		 m;

	log_trace(TRACE_LOOKUP, "%016" PRIx64 " lookup rdns: %s", req->sid,
	    name);
	msg_init(&m);
	msg_add_id(&m, req->sid);
	msg_add_int32(&m, result == 1 ? 1 : 0);
	msg_add_string(&m, result == 1 ? name : "unknown");
	proc_send(PROC_NETWORK, IMSG_LOOKUP_RDNS, &m, -1);
	msg_free(&m);
	free(req);
}

/* ---- update table ---- */

/*
 * IMSG_LOOKUP_UPDATE_TABLE: string name.  IMSG_CTL_REQUEST: ctlid,
 * verb, arguments, uid; only "update table NAME" is for lookup.
 */
static void
lookup_update(struct msg_reader *r, int ctl)
{
	struct update_request	*u;
	struct msg		 m;
	char			*verb = NULL, *args = NULL, text[512];
	uint64_t		 ctlid = 0;
	uint32_t		 uid;

	if ((u = calloc(1, sizeof(*u))) == NULL)
		fatal("lookup: update");
	u->ctl = ctl;
	if (ctl) {
		/* control sends the id as a uint64 or an id */
		if ((msg_peek_type(r) == MSG_ID ? msg_get_id(r, &ctlid) :
		    msg_get_uint64(r, &ctlid)) == -1 ||
		    msg_get_string(r, &verb) == -1 ||
		    msg_get_string(r, &args) == -1 ||
		    msg_get_uint32(r, &uid) == -1 || msg_end(r) == -1)
			fatalx("lookup: bad control request: %s",
			    msg_reader_error(r));
		u->ctlid = ctlid;
		if (strcmp(verb, "update table") != 0) {
			snprintf(text, sizeof(text), "unknown request: %s\n",
			    verb);
			msg_init(&m);
			msg_add_uint64(&m, ctlid);
			msg_add_int32(&m, 0);
			msg_add_data(&m, text, strlen(text));
			msg_add_int32(&m, 0);
			proc_send(PROC_CONTROL, IMSG_CTL_REPLY, &m, -1);
			msg_free(&m);
			free(verb);
			free(args);
			free(u);
			return;
		}
		strlcpy(u->name, args, sizeof(u->name));
		free(verb);
		free(args);
	} else {
		if (msg_get_string(r, &args) == -1 || msg_end(r) == -1)
			fatalx("lookup: bad update frame: %s",
			    msg_reader_error(r));
		strlcpy(u->name, args, sizeof(u->name));
		free(args);
	}
	TAILQ_INSERT_TAIL(&updates, u, entry);
	log_debug("lookup: update table %s", u->name);
	lookup_tables_update(tables, u->name, lookup_update_on_done, u);
}

static void
lookup_update_on_done(int result, const char *value, void *arg)
{
	struct update_request	*u = arg;

	u->done = 1;
	u->result = result;
	lookup_update_flush();
}

/* Answer the updates that are done, oldest first. */
static void
lookup_update_flush(void)
{
	struct update_request	*u;
	struct msg		 m;
	char			 text[512];
	int			 result;

	while ((u = TAILQ_FIRST(&updates)) != NULL && u->done) {
		TAILQ_REMOVE(&updates, u, entry);
		if (u->result == 1) {
			result = 1;
			snprintf(text, sizeof(text), "table %s updated",
			    u->name);
			log_info("lookup: table %s updated", u->name);
		} else if (u->result == 0) {
			result = 0;
			snprintf(text, sizeof(text), "no table %s in use",
			    u->name);
		} else {
			result = -1;
			snprintf(text, sizeof(text), "table %s: update failed, "
			    "it keeps its previous contents (see the log)",
			    u->name);
			log_warnx("lookup: table %s: update failed", u->name);
		}
		msg_init(&m);
		if (u->ctl) {
			strlcat(text, "\n", sizeof(text));
			msg_add_uint64(&m, u->ctlid);
			msg_add_int32(&m, result);
			msg_add_data(&m, text, strlen(text));
			msg_add_int32(&m, 0);
			proc_send(PROC_CONTROL, IMSG_CTL_REPLY, &m, -1);
		} else {
			msg_add_int32(&m, result);
			msg_add_string(&m, text);
			proc_send(PROC_CONTROL, IMSG_LOOKUP_UPDATE_TABLE, &m,
			    -1);
		}
		msg_free(&m);
		free(u);
	}
}
