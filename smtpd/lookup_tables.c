/*
 * lookup_tables.c: the table helpers of the lookup process.
 *
 * Each table of the configuration is one helper program run as an
 * imsgproc: argv from the configuration (argv[0] resolved to the
 * libexec directory), the inline entries as the HELLO configuration
 * string, the default deadline, restart on death.  The default
 * userbase is one more: a table-getpwnam instance named "<getpwnam>".
 *
 * Requests are wrapped so that a cancelled one is simply forgotten: its
 * imsgproc completion still runs (every request ends, at the latest at
 * its deadline) and frees the wrapper without calling anybody.
 */
#include <sys/types.h>

#include <ctype.h>
#include <errno.h>
#include <event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtpd-api.h"
#include "config.h"
#include "frames.h"
#include "lookup.h"

#define GETPWNAM_NAME	"<getpwnam>"

struct table_proc {
	struct config_table	*table;
	struct imsgproc		*proc;
};

struct lookup_tables {
	struct event_base	*base;
	struct table_proc	*procs;
	size_t			 nprocs;
	struct config_table	 getpwnam;	/* not in conf->tables */
	char			*getpwnam_argv[2];
	int			 stopping;
};

struct table_request {
	struct lookup_tables	*tables;
	struct config_table	*table;
	uint32_t		 type;
	enum table_service	 service;
	lookup_table_cb		 cb;	/* NULL once cancelled */
	void			*arg;
	struct event		*ev;	/* answers that need no helper */
	int			 result;
	char			 key[TABLE_KEY_MAX + 1];
};

static struct imsgproc	*tables_start_one(struct lookup_tables *,
			    struct config_table *,
			    char *(*)(const char *, char *, size_t));
static struct table_proc *tables_proc(struct lookup_tables *,
			    const struct config_table *);
static void		*tables_request(void *, uint32_t,
			    struct config_table *, enum table_service,
			    const char *, lookup_table_cb, void *);
static void		 tables_cancel(void *, void *);
static void		 tables_on_reply(struct imsgproc *, int, struct imsg *,
			    struct msg_reader *, void *);
static void		 tables_on_update(struct imsgproc *, int, struct imsg *,
			    struct msg_reader *, void *);
static void		 tables_answer_later(struct table_request *, int);
static void		 tables_on_later(int, short, void *);
static void		 tables_on_down(struct imsgproc *, const char *,
			    void *);

struct lookup_tables *
lookup_tables_start(struct event_base *base, struct smtpd_config *conf,
    char *(*resolve)(const char *, char *, size_t))
{
	struct lookup_tables	*lt;
	struct config_table	*t;
	size_t			 n = 1;

	if ((lt = calloc(1, sizeof(*lt))) == NULL)
		return NULL;
	lt->base = base;
	TAILQ_FOREACH(t, &conf->tables, entry)
		n++;
	if ((lt->procs = calloc(n, sizeof(*lt->procs))) == NULL) {
		free(lt);
		return NULL;
	}
	lt->getpwnam.name = GETPWNAM_NAME;
	lt->getpwnam.backend = "getpwnam";
	lt->getpwnam_argv[0] = "table-getpwnam";
	lt->getpwnam.argv = lt->getpwnam_argv;
	lt->getpwnam.config = "";
	lt->getpwnam.services = K_USERINFO;
	TAILQ_INIT(&lt->getpwnam.entries);

	TAILQ_FOREACH(t, &conf->tables, entry) {
		/* An unused table serves nobody: no process for it. */
		if (!t->used || t->argv == NULL)
			continue;
		lt->procs[lt->nprocs].table = t;
		lt->procs[lt->nprocs].proc = tables_start_one(lt, t, resolve);
		lt->nprocs++;
	}
	lt->procs[lt->nprocs].table = &lt->getpwnam;
	lt->procs[lt->nprocs].proc = tables_start_one(lt, &lt->getpwnam,
	    resolve);
	lt->nprocs++;
	return lt;
}

/* NULL when it could not even be spawned: requests then fail. */
static struct imsgproc *
tables_start_one(struct lookup_tables *lt, struct config_table *t,
    char *(*resolve)(const char *, char *, size_t))
{
	struct imsgproc_params	 params;
	struct imsgproc		*p;
	char			 path[1024], **argv;
	size_t			 n, i;

	for (n = 0; t->argv[n] != NULL; n++)
		;
	if ((argv = calloc(n + 1, sizeof(*argv))) == NULL) {
		log_warn("table %s", t->name);
		return NULL;
	}
	for (i = 0; i < n; i++)
		argv[i] = t->argv[i];
	if (resolve != NULL) {
		if (resolve(t->argv[0], path, sizeof(path)) == NULL) {
			log_warn("table %s: %s", t->name, t->argv[0]);
			free(argv);
			return NULL;
		}
		argv[0] = path;
	}
	memset(&params, 0, sizeof(params));
	params.role = HELPER_ROLE_TABLE;
	params.name = t->name;
	params.argv = argv;
	params.config = t->config != NULL ? t->config : "";
	params.timeout_ms = LOOKUP_TABLE_TIMEOUT_MS;
	params.fd = -1;
	params.on_down = tables_on_down;
	params.arg = lt;
	p = imsgproc_start(lt->base, &params);
	free(argv);
	if (p == NULL)
		log_warnx("table %s: cannot start %s", t->name, t->argv[0]);
	else
		log_debug("table %s: started %s", t->name, t->argv[0]);
	return p;
}

static void
tables_on_down(struct imsgproc *p, const char *why, void *arg)
{
	struct lookup_tables	*lt = arg;

	if (!lt->stopping)
		log_warnx("table %s: helper down: %s", imsgproc_name(p), why);
}

void
lookup_tables_free(struct lookup_tables *lt)
{
	size_t	 i;

	if (lt == NULL)
		return;
	lt->stopping = 1;
	for (i = 0; i < lt->nprocs; i++)
		if (lt->procs[i].proc != NULL)
			imsgproc_free(lt->procs[i].proc);
	free(lt->procs);
	free(lt);
}

void
lookup_tables_ops(struct lookup_tables *lt, struct lookup_table_ops *ops)
{
	ops->request = tables_request;
	ops->cancel = tables_cancel;
	ops->ctx = lt;
}

struct config_table *
lookup_tables_getpwnam(struct lookup_tables *lt)
{
	return &lt->getpwnam;
}

static struct table_proc *
tables_proc(struct lookup_tables *lt, const struct config_table *t)
{
	size_t	 i;

	for (i = 0; i < lt->nprocs; i++)
		if (lt->procs[i].table == t)
			return &lt->procs[i];
	return NULL;
}

static void *
tables_request(void *ctx, uint32_t type, struct config_table *t,
    enum table_service service, const char *key, lookup_table_cb cb,
    void *arg)
{
	struct lookup_tables	*lt = ctx;
	struct table_request	*req;
	struct table_proc	*tp;
	struct msg		 body;
	size_t			 i, len;

	if ((req = calloc(1, sizeof(*req))) == NULL)
		fatal("table request");
	req->tables = lt;
	req->table = t;
	req->type = type;
	req->service = service;
	req->cb = cb;
	req->arg = arg;

	/* Keys go lowercased (table_api's contract), and bounded. */
	len = strlen(key);
	if (len > TABLE_KEY_MAX) {
		log_debug("table %s: key of %zu bytes not looked up",
		    t->name, len);
		tables_answer_later(req, 0);
		return req;
	}
	for (i = 0; i <= len; i++)
		req->key[i] = tolower((unsigned char)key[i]);

	if ((tp = tables_proc(lt, t)) == NULL || tp->proc == NULL) {
		log_warnx("table %s: no helper running", t->name);
		tables_answer_later(req, -1);
		return req;
	}
	/* Dead and waiting to restart: fail now rather than at the
	 * deadline, the client gets its 451 at once. */
	if (imsgproc_state(tp->proc) == IMSGPROC_BACKOFF) {
		log_debug("table %s: helper restarting", t->name);
		tables_answer_later(req, -1);
		return req;
	}
	log_trace(TRACE_TABLES, "table %s: %s %s \"%s\"", t->name,
	    type == IMSG_TABLE_CHECK ? "check" : "lookup",
	    table_service_name(service), req->key);
	msg_init(&body);
	msg_add_uint32(&body, service);
	msg_add_string(&body, req->key);
	/* The callback runs even when the request cannot be queued. */
	imsgproc_request(tp->proc, type, &body, -1, 0, tables_on_reply, req);
	msg_free(&body);
	return req;
}

static void
tables_cancel(void *ctx, void *handle)
{
	struct table_request	*req = handle;

	if (req != NULL)
		req->cb = NULL;
}

static void
tables_on_reply(struct imsgproc *p, int result, struct imsg *imsg,
    struct msg_reader *r, void *arg)
{
	struct table_request	*req = arg;
	int32_t			 found = -1;
	char			*value = NULL;

	if (result != IMSGPROC_REPLY) {
		log_warnx("table %s: %s %s \"%s\": %s", req->table->name,
		    req->type == IMSG_TABLE_CHECK ? "check" : "lookup",
		    table_service_name(req->service), req->key,
		    imsgproc_result_name(result));
	} else if (msg_get_int32(r, &found) == -1 ||
	    (found == 1 && req->type == IMSG_TABLE_LOOKUP &&
	    msg_get_string(r, &value) == -1) || msg_end(r) == -1 ||
	    found < -1 || found > 1) {
		log_warnx("table %s: malformed answer: %s", req->table->name,
		    msg_reader_error(r));
		found = -1;
		free(value);
		value = NULL;
	}
	log_trace(TRACE_TABLES, "table %s: \"%s\" -> %d%s%s",
	    req->table->name, req->key, found, value ? " " : "",
	    value ? value : "");
	if (req->cb != NULL)
		req->cb(found, value, req->arg);
	free(value);
	free(req);
}

/* An answer known at once still comes from the event loop. */
static void
tables_answer_later(struct table_request *req, int result)
{
	req->result = result;
	if ((req->ev = evtimer_new(req->tables->base, tables_on_later,
	    req)) == NULL)
		fatal("table request timer");
	event_active(req->ev, EV_TIMEOUT, 1);
}

static void
tables_on_later(int fd, short events, void *arg)
{
	struct table_request	*req = arg;

	if (req->cb != NULL)
		req->cb(req->result, NULL, req->arg);
	event_free(req->ev);
	free(req);
}

void
lookup_tables_update(struct lookup_tables *lt, const char *name,
    lookup_table_cb cb, void *arg)
{
	struct table_request	*req;
	struct table_proc	*tp = NULL;
	size_t			 i;

	if ((req = calloc(1, sizeof(*req))) == NULL)
		fatal("table update");
	req->tables = lt;
	req->cb = cb;
	req->arg = arg;
	req->type = IMSG_TABLE_UPDATE;
	strlcpy(req->key, name, sizeof(req->key));
	for (i = 0; i < lt->nprocs; i++)
		if (strcmp(lt->procs[i].table->name, name) == 0)
			tp = &lt->procs[i];
	if (tp == NULL) {
		tables_answer_later(req, 0);
		return;
	}
	req->table = tp->table;
	if (tp->proc == NULL) {
		tables_answer_later(req, -1);
		return;
	}
	imsgproc_request(tp->proc, IMSG_TABLE_UPDATE, NULL, -1, 0,
	    tables_on_update, req);
}

static void
tables_on_update(struct imsgproc *p, int result, struct imsg *imsg,
    struct msg_reader *r, void *arg)
{
	struct table_request	*req = arg;
	int32_t			 done = -1;

	if (result != IMSGPROC_REPLY)
		log_warnx("table %s: update: %s", req->table->name,
		    imsgproc_result_name(result));
	else if (msg_get_int32(r, &done) == -1 || msg_end(r) == -1) {
		log_warnx("table %s: update: malformed answer: %s",
		    req->table->name, msg_reader_error(r));
		done = -1;
	}
	if (done != 1)
		done = -1;
	if (req->cb != NULL)
		req->cb(done, NULL, req->arg);
	free(req);
}
