/*
 * expand.c: from one recipient to its final envelopes.
 *
 * An expansion is a tree of nodes worked through one at a time from a
 * queue.  An address is matched against the ruleset; its action then
 * gives the next step:
 *	virtual <t>	the address is looked up as user+tag@dom,
 *			user@dom, user+tag, user, @dom, @ (first found
 *			wins); its targets are new nodes, and nothing
 *			found is an invalid recipient
 *	otherwise	the user part becomes a local user node
 * A local user is looked up in the action's alias table (user+tag,
 * then user); if found, its targets are new nodes.  Otherwise the user
 * (without its +tag) must be in the userbase, which gives uid, gid and
 * home; then ~/.forward, if any, gives new nodes, and without one the
 * user's mailbox is a final delivery.  Files and commands are final.
 *
 * Each node is expanded once per recipient (so alias loops end; a
 * loop that leaves nothing to deliver is 550 5.4.6), a user is one
 * node per address it was reached through (its mailbox may depend on
 * %{dest}), a user that names itself in its own alias or .forward is
 * delivered to its mailbox, nesting is limited to EXPAND_DEPTH_MAX,
 * and any failure fails the whole recipient: a table down is 451
 * 4.3.0, never 5xx.
 */
#include <sys/types.h>
#include <sys/queue.h>

#include <ctype.h>
#include <errno.h>
#include <event.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtpd-api.h"
#include "aliases.h"
#include "config.h"
#include "expand.h"
#include "frames.h"
#include "ruleset.h"

#define ADDR_TEXT_MAX	(MAILADDR_USER_MAX + MAILADDR_DOMAIN_MAX + 1)
#define VIRTUAL_KEYS	6

enum node_kind {
	N_ADDRESS,
	N_USER,
	N_FILE,
	N_COMMAND,
	N_INCLUDE,
};

struct node {
	TAILQ_ENTRY(node)	 entry;		/* work queue */
	struct node		*seen_next;	/* same hash bucket */
	struct node		*parent;
	enum node_kind		 kind;
	int			 depth;
	struct config_action	*action;	/* in force (address: its
						   match) */
	char			*text;		/* address, user, path */
	char			*key;		/* for the seen tree */
	int			 verbatim;	/* "\user" */
	int			 sameuser;	/* names its parent user */
	int			 from_forward;	/* listed in a .forward */
	/* users, once found in the userbase */
	int			 realuser;
	uid_t			 uid;
	gid_t			 gid;
	char			*home;
};
TAILQ_HEAD(node_queue, node);

/* The nodes already expanded, by key. */
#define SEEN_BUCKETS	256

/* A final delivery. */
struct final {
	struct config_action	*action;
	enum mda_method		 method;	/* M_NONE, M_FILE, M_MDA */
	char			*buffer;	/* path or command */
	char			*dest;		/* address text */
	char			*user;
	uid_t			 uid;
	gid_t			 gid;
	char			*home;
};

/* The account of an action's `user' option, looked up once. */
struct runas {
	struct config_action	*action;
	uid_t			 uid;
	gid_t			 gid;
	char			*home;
};

struct expansion {
	struct lookup_env	*env;
	uint64_t		 sid;
	struct envelope		 tmpl;
	char			 tag[ENVELOPE_NAME_MAX];
	int			 local;
	char			 rcpt[ADDR_TEXT_MAX];	/* for logs */
	expand_cb		 cb;
	void			*arg;
	struct event		*ev_done;

	struct node_queue	 queue;
	struct node		*seen[SEEN_BUCKETS];
	struct node		**nodes;	/* every node, to free */
	size_t			 nnodes;
	struct final		*finals;
	size_t			 nfinals;
	struct runas		*runas;
	size_t			 nrunas;

	/* the step in progress */
	struct node		*cur;
	struct ruleset_walk	*walk;
	void			*pending;
	char			 keys[VIRTUAL_KEYS][ADDR_TEXT_MAX];
	int			 nkeys;
	int			 ikey;
	int			 mailbox_next;	/* after runas: mailbox? */

	struct expand_result	 res;
	int			 failed;
	int			 looped;	/* a target led back up */
};

static void	expand_run(struct expansion *);
static int	expand_node(struct expansion *, struct node *);
static void	expand_fail(struct expansion *, int, const char *,
		    const char *, ...)
		    __attribute__((__format__(printf, 4, 5)));
static void	expand_tempfail(struct expansion *);
static void	expand_log(uint32_t, const char *, ...)
		    __attribute__((__format__(printf, 2, 3)));
static void	expand_finish(struct expansion *);
static void	expand_on_done(int, short, void *);
static struct node *node_new(struct expansion *, struct node *,
		    enum node_kind, const char *, struct config_action *);
static int	node_add_target(const struct alias_target *, void *);
static void	node_add_list(struct expansion *, struct node *,
		    const char *, int, const char *);
static struct node *node_user_ancestor(struct node *);
static int	node_key(struct expansion *, struct node *);
static int	node_loops(const struct node *);
static int	node_seen(struct expansion *, struct node *);
static void	address_on_rule(int, struct config_rule *, void *);
static int	address_virtual_next(struct expansion *);
static void	address_on_virtual(int, const char *, void *);
static int	user_alias(struct expansion *, struct node *);
static void	user_on_alias(int, const char *, void *);
static int	user_userbase(struct expansion *, struct node *);
static void	user_on_userbase(int, const char *, void *);
static int	user_forward(struct expansion *, struct node *);
static int	final_mailbox(struct expansion *, struct node *);
static int	final_target(struct expansion *, struct node *);
static int	final_runas(struct expansion *, struct node *, int);
static void	final_on_runas(int, const char *, void *);
static struct runas *runas_find(struct expansion *, struct config_action *);
static int	final_add(struct expansion *, struct node *, enum mda_method,
		    const char *, uid_t, gid_t, const char *);
static const char *node_dest(struct node *, const struct expansion *);
static int	userinfo_parse(const char *, uid_t *, gid_t *, char *,
		    size_t);
static const char *user_strip_tag(const char *, char, char *, size_t);

/* 1 when a node with the same key was seen, else remember n. */
static int
node_seen(struct expansion *x, struct node *n)
{
	struct node		*o;
	uint32_t		 h = 2166136261u;
	const unsigned char	*p;

	for (p = (const unsigned char *)n->key; *p != '\0'; p++)
		h = (h ^ *p) * 16777619u;
	h %= SEEN_BUCKETS;
	for (o = x->seen[h]; o != NULL; o = o->seen_next)
		if (strcmp(o->key, n->key) == 0)
			return 1;
	n->seen_next = x->seen[h];
	x->seen[h] = n;
	return 0;
}

struct expansion *
expand_start(struct lookup_env *env, uint64_t sid,
    const struct envelope *tmpl, const char *tag, int local, expand_cb cb,
    void *arg)
{
	struct expansion	*x;
	struct node		*root;

	if ((x = calloc(1, sizeof(*x))) == NULL)
		return NULL;
	if ((x->ev_done = evtimer_new(env->base, expand_on_done, x)) == NULL) {
		free(x);
		return NULL;
	}
	x->env = env;
	x->sid = sid;
	x->tmpl = *tmpl;
	if (tag != NULL)
		strlcpy(x->tag, tag, sizeof(x->tag));
	x->local = local;
	x->cb = cb;
	x->arg = arg;
	TAILQ_INIT(&x->queue);
	if (mailaddr_to_text(&tmpl->rcpt, x->rcpt, sizeof(x->rcpt)) == -1 ||
	    (root = node_new(x, NULL, N_ADDRESS, x->rcpt, NULL)) == NULL ||
	    node_key(x, root) == -1) {
		expand_free(x);
		return NULL;
	}
	node_seen(x, root);
	TAILQ_INSERT_TAIL(&x->queue, root, entry);
	expand_run(x);
	return x;
}

void
expand_cancel(struct expansion *x)
{
	expand_free(x);
}

void
expand_free(struct expansion *x)
{
	size_t	 i;

	if (x == NULL)
		return;
	if (x->walk != NULL)
		ruleset_cancel(x->walk);
	if (x->pending != NULL)
		x->env->tables.cancel(x->env->tables.ctx, x->pending);
	for (i = 0; i < x->nnodes; i++) {
		free(x->nodes[i]->text);
		free(x->nodes[i]->key);
		free(x->nodes[i]->home);
		free(x->nodes[i]);
	}
	free(x->nodes);
	for (i = 0; i < x->nfinals; i++) {
		free(x->finals[i].buffer);
		free(x->finals[i].dest);
		free(x->finals[i].user);
		free(x->finals[i].home);
	}
	free(x->finals);
	for (i = 0; i < x->nrunas; i++)
		free(x->runas[i].home);
	free(x->runas);
	event_free(x->ev_done);
	free(x);
}

void
expand_envelope(const struct expansion *x, size_t i, struct envelope *e)
{
	const struct final	*f = &x->finals[i];

	*e = x->tmpl;
	e->id = 0;
	e->type = D_MDA;
	strlcpy(e->dispatcher, f->action->name, sizeof(e->dispatcher));
	if (mailaddr_from_text(&e->dest, f->dest) == -1)
		e->dest = e->rcpt;
	e->mda_method = f->method;
	strlcpy(e->mda_buffer, f->buffer != NULL ? f->buffer : "",
	    sizeof(e->mda_buffer));
	strlcpy(e->mda_user, f->user, sizeof(e->mda_user));
	e->mda_uid = f->uid;
	e->mda_gid = f->gid;
	strlcpy(e->mda_home, f->home, sizeof(e->mda_home));
	if (f->action->ttl > 0)
		e->ttl = f->action->ttl;
}

/* ---- the work queue ---- */

/* Work until a step waits for an answer, or everything is done. */
static void
expand_run(struct expansion *x)
{
	struct node	*n;

	while (!x->failed && x->cur == NULL &&
	    (n = TAILQ_FIRST(&x->queue)) != NULL) {
		TAILQ_REMOVE(&x->queue, n, entry);
		x->cur = n;
		if (expand_node(x, n) == 1)
			return;		/* a callback goes on */
		x->cur = NULL;
	}
	if (x->cur != NULL)
		return;
	if (!x->failed && x->nfinals == 0 && x->looped) {
		log_warnx("%016" PRIx64 " lookup rcpt <%s>: alias loop, "
		    "nothing to deliver", x->sid, x->rcpt);
		expand_fail(x, 550, "5.4.6", "Alias loop");
	}
	if (!x->failed && x->nfinals == 0)
		expand_fail(x, 550, "5.1.1", "Invalid recipient");
	if (!x->failed) {
		x->res.result = 1;
		x->res.code = 250;
		strlcpy(x->res.esc, "2.1.5", sizeof(x->res.esc));
		strlcpy(x->res.text, "Recipient ok", sizeof(x->res.text));
		x->res.nenvelopes = x->nfinals;
	}
	expand_finish(x);
}

/* A step's callback is done with x->cur: go on with the queue. */
static void
expand_next(struct expansion *x)
{
	x->cur = NULL;
	expand_run(x);
}

/* 0 done with the node (or failed), 1 waiting for an answer. */
static int
expand_node(struct expansion *x, struct node *n)
{
	struct ruleset_input	 in;
	struct mailaddr		 addr;
	char			*text = NULL, why[256];

	switch (n->kind) {
	case N_ADDRESS:
		if (mailaddr_from_text(&addr, n->text) == -1) {
			expand_fail(x, 550, "5.1.3", "Invalid address");
			return 0;
		}
		memset(&in, 0, sizeof(in));
		in.env = &x->tmpl;
		in.rcpt = &addr;
		in.tag = x->tag;
		/* What an expansion produced comes from here. */
		in.local = n->depth == 0 ? x->local : 1;
		if ((x->walk = ruleset_match(x->env, &in, address_on_rule,
		    x)) == NULL) {
			log_warnx("%016" PRIx64 " lookup: out of memory",
			    x->sid);
			expand_tempfail(x);
			return 0;
		}
		return 1;
	case N_USER:
		if (n->verbatim || n->sameuser ||
		    n->action->alias.table == NULL)
			return user_userbase(x, n);
		return user_alias(x, n);
	case N_FILE:
	case N_COMMAND:
		return final_target(x, n);
	case N_INCLUDE:
		if (n->from_forward) {
			log_info("%016" PRIx64 " lookup: :include:%s in a "
			    ".forward ignored", x->sid, n->text);
			return 0;
		}
		if (include_read(n->text, &text, why, sizeof(why)) == -1) {
			log_warnx("%016" PRIx64 " lookup: :include:%s", x->sid,
			    why);
			expand_tempfail(x);
			return 0;
		}
		/* The file's targets stand where the include stood. */
		node_add_list(x, n, text, 1, n->text);
		free(text);
		return 0;
	}
	return 0;
}

static void
expand_fail(struct expansion *x, int code, const char *esc,
    const char *fmt, ...)
{
	va_list	 ap;

	if (x->failed)
		return;
	x->failed = 1;
	x->res.result = code / 100 == 4 ? -1 : 0;
	x->res.code = code;
	strlcpy(x->res.esc, esc, sizeof(x->res.esc));
	va_start(ap, fmt);
	vsnprintf(x->res.text, sizeof(x->res.text), fmt, ap);
	va_end(ap);
}

static void
expand_tempfail(struct expansion *x)
{
	expand_fail(x, 451, "4.3.0", "Temporary failure");
}

/* A trace line when its subsystem is traced, else a debug line. */
static void
expand_log(uint32_t subsystem, const char *fmt, ...)
{
	char	 line[1024];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (log_gettrace() & subsystem)
		log_trace(subsystem, "%s", line);
	else
		log_debug("%s", line);
}

/* The answer always comes from the event loop, after everything. */
static void
expand_finish(struct expansion *x)
{
	if (x->res.result == 1)
		expand_log(TRACE_LOOKUP, "%016" PRIx64 " lookup rcpt <%s>: "
		    "%zu %s", x->sid,
		    x->rcpt, x->nfinals,
		    x->nfinals == 1 ? "envelope" : "envelopes");
	else
		expand_log(TRACE_LOOKUP, "%016" PRIx64 " lookup rcpt <%s>: "
		    "%d %s %s", x->sid,
		    x->rcpt, x->res.code, x->res.esc, x->res.text);
	event_active(x->ev_done, EV_TIMEOUT, 1);
}

static void
expand_on_done(int fd, short events, void *arg)
{
	struct expansion	*x = arg;

	x->cb(x, &x->res, x->arg);
}

/* ---- nodes ---- */

static struct node *
node_new(struct expansion *x, struct node *parent, enum node_kind kind,
    const char *text, struct config_action *action)
{
	struct node	*n, **grown;

	if (x->nnodes >= EXPAND_NODES_MAX) {
		log_warnx("%016" PRIx64 " lookup rcpt <%s>: more than %d "
		    "targets", x->sid, x->rcpt, EXPAND_NODES_MAX);
		return NULL;
	}
	if ((n = calloc(1, sizeof(*n))) == NULL)
		return NULL;
	if ((grown = reallocarray(x->nodes, x->nnodes + 1,
	    sizeof(*grown))) == NULL) {
		free(n);
		return NULL;
	}
	x->nodes = grown;
	x->nodes[x->nnodes++] = n;
	n->parent = parent;
	n->kind = kind;
	n->depth = parent != NULL ? parent->depth + 1 : 0;
	n->action = action;
	if ((n->text = strdup(text)) == NULL)
		return NULL;
	return n;
}

/* Where new targets go: their parent, action and origin. */
struct add_ctx {
	struct expansion	*x;
	struct node		*parent;
	int			 from_forward;
};

/*
 * Parse a list (aliases or virtual value) or lines (a .forward or
 * :include: file, lines set) into new nodes under parent.  A malformed
 * value, or an error: target, fails x.
 */
static void
node_add_list(struct expansion *x, struct node *parent, const char *text,
    int lines, const char *origin)
{
	struct add_ctx	 ctx;
	char		 err[512];
	int		 r;

	memset(&ctx, 0, sizeof(ctx));
	ctx.x = x;
	ctx.parent = parent;
	ctx.from_forward = parent->kind == N_USER && parent->realuser;
	if (lines)
		r = alias_parse_lines(text, node_add_target, &ctx, err,
		    sizeof(err));
	else
		r = alias_parse_list(text, node_add_target, &ctx, err,
		    sizeof(err));
	if (r == ALIAS_PARSE_ERROR) {
		/* An admin's or a user's mistake: keep the mail until it
		 * is fixed. */
		log_warnx("%016" PRIx64 " lookup rcpt <%s>: %s: %s", x->sid,
		    x->rcpt, origin, err);
		expand_tempfail(x);
	}
}

static int
node_add_target(const struct alias_target *t, void *arg)
{
	struct add_ctx		*ctx = arg;
	struct expansion	*x = ctx->x;
	struct node		*parent = ctx->parent, *n, *owner;
	enum node_kind		 kind;
	char			 text[ADDR_TEXT_MAX + 8];
	const char		*value;

	switch (t->kind) {
	case ALIAS_ERROR:
		log_debug("%016" PRIx64 " lookup rcpt <%s>: error target: "
		    "%d %s %s", x->sid, x->rcpt, t->code, t->esc, t->text);
		expand_fail(x, t->code, t->esc, "%s", t->text);
		return 1;
	case ALIAS_USER:
		kind = N_USER;
		value = t->user;
		break;
	case ALIAS_ADDRESS:
		kind = N_ADDRESS;
		if (mailaddr_to_text(&t->addr, text, sizeof(text)) == -1) {
			expand_fail(x, 550, "5.1.3", "Invalid address");
			return 1;
		}
		value = text;
		break;
	case ALIAS_FILE:
		kind = N_FILE;
		value = t->path;
		break;
	case ALIAS_COMMAND:
		kind = N_COMMAND;
		value = t->path;
		break;
	default:
		kind = N_INCLUDE;
		value = t->path;
		break;
	}
	if (parent->depth + 1 > EXPAND_DEPTH_MAX) {
		log_warnx("%016" PRIx64 " lookup rcpt <%s>: expansion deeper "
		    "than %d at %s", x->sid, x->rcpt, EXPAND_DEPTH_MAX, value);
		expand_tempfail(x);
		return 1;
	}
	/* The user whose .forward this is: root may not run commands. */
	owner = ctx->from_forward ? parent : NULL;
	if (owner != NULL && owner->uid == 0 &&
	    (kind == N_COMMAND || kind == N_INCLUDE)) {
		log_info("%016" PRIx64 " lookup: %s of %s's .forward ignored: "
		    "not for root", x->sid, kind == N_COMMAND ? "command" :
		    ":include:", owner->text);
		return 0;
	}
	if ((n = node_new(x, parent, kind, value, parent->action)) == NULL) {
		expand_tempfail(x);
		return 1;
	}
	n->verbatim = t->verbatim;
	n->from_forward = ctx->from_forward;
	/* An include is transparent: its targets hang on its parent. */
	if (parent->kind == N_INCLUDE) {
		n->parent = parent->parent;
		n->from_forward = parent->from_forward;
	}
	/* "gilles: gilles, /backup": the user's own mailbox. */
	if (kind == N_USER && n->parent->kind == N_USER &&
	    strcmp(n->parent->text, n->text) == 0)
		n->sameuser = 1;
	if (node_key(x, n) == -1) {
		expand_tempfail(x);
		return 1;
	}
	if (node_seen(x, n)) {
		if (node_loops(n)) {
			x->looped = 1;
			log_info("%016" PRIx64 " lookup rcpt <%s>: %s %s loops "
			    "back, skipped", x->sid, x->rcpt,
			    alias_kind_name(t->kind), value);
		} else
			log_trace(TRACE_EXPAND, "%016" PRIx64 " expand: %s %s "
			    "already expanded", x->sid,
			    alias_kind_name(t->kind), value);
		return 0;
	}
	log_trace(TRACE_EXPAND, "%016" PRIx64 " expand: %s %s [depth=%d]",
	    x->sid, alias_kind_name(t->kind), value, n->depth);
	TAILQ_INSERT_TAIL(&x->queue, n, entry);
	return 0;
}

/*
 * What makes a node the same as another: its kind and text (addresses
 * and users without regard to case); for files and commands of a
 * .forward, whose they are; for a user, the address it was reached
 * through, since its mailbox may depend on it (virtual addresses that
 * all map to one "vmail" user, told apart by %{dest.user}); and
 * whether it is a user naming itself (its mailbox, not its aliases).
 */
static int
node_key(struct expansion *x, struct node *n)
{
	struct node	*owner;
	const char	*context = "";
	size_t		 len, i;

	if ((n->kind == N_FILE || n->kind == N_COMMAND) && n->from_forward &&
	    (owner = node_user_ancestor(n->parent)) != NULL)
		context = owner->text;
	if (n->kind == N_USER)
		context = node_dest(n, x);
	len = strlen(n->text) + strlen(context) + 16;
	if ((n->key = malloc(len)) == NULL)
		return -1;
	snprintf(n->key, len, "%d:%s:%s%s", n->kind, n->text, context,
	    n->sameuser ? ":self" : "");
	if (n->kind == N_ADDRESS || n->kind == N_USER)
		for (i = 0; n->key[i] != '\0'; i++)
			n->key[i] = tolower((unsigned char)n->key[i]);
	return 0;
}

/* 1 when n is the same as one of its ancestors: a loop. */
static int
node_loops(const struct node *n)
{
	const struct node	*p;

	for (p = n->parent; p != NULL; p = p->parent)
		if (p->key != NULL && strcmp(p->key, n->key) == 0)
			return 1;
	return 0;
}

/* The nearest user node at or above n, through includes. */
static struct node *
node_user_ancestor(struct node *n)
{
	for (; n != NULL; n = n->parent)
		if (n->kind == N_USER)
			return n;
	return NULL;
}

/* ---- addresses ---- */

static void
address_on_rule(int result, struct config_rule *rule, void *arg)
{
	struct expansion	*x = arg;
	struct node		*n = x->cur, *u;
	struct config_action	*a;
	struct mailaddr		 addr;
	char			 where[256], user[MAILADDR_USER_MAX];
	const char		*tagp;
	char			 delim = x->env->conf->sub_addr_delim;
	size_t			 i;

	x->walk = NULL;
	if (mailaddr_from_text(&addr, n->text) == -1)
		memset(&addr, 0, sizeof(addr));
	if (result == RULESET_TEMPFAIL) {
		expand_tempfail(x);
		expand_next(x);
		return;
	}
	if (result == RULESET_NOMATCH) {
		expand_log(TRACE_RULES, "%016" PRIx64 " lookup rcpt <%s>: "
		    "no rule matches", x->sid, n->text);
		if (ruleset_local_domain(x->env, addr.domain))
			expand_fail(x, 550, "5.1.1", "Invalid recipient");
		else
			expand_fail(x, 550, "5.7.1", "Relaying denied");
		expand_next(x);
		return;
	}
	ruleset_rule_where(rule, where, sizeof(where));
	if (rule->reject) {
		expand_log(TRACE_RULES, "%016" PRIx64 " lookup rcpt <%s>: "
		    "rule at %s matched, reject", x->sid, n->text, where);
		expand_fail(x, 550, "5.7.1", "Delivery not authorized");
		expand_next(x);
		return;
	}
	a = rule->action;
	expand_log(TRACE_RULES, "%016" PRIx64 " lookup rcpt <%s>: rule at %s "
	    "matched, action %s", x->sid, n->text, where, a->name);
	n->action = a;
	if (a->method == ACTION_RELAY) {
		/* Refused when the configuration is read: never here. */
		log_warnx("%016" PRIx64 " lookup rcpt <%s>: action %s relays: "
		    "not supported", x->sid, n->text, a->name);
		expand_fail(x, 550, "5.7.1", "Relaying denied");
		expand_next(x);
		return;
	}
	if (a->virtual.table != NULL) {
		/* user+tag@dom, user@dom, user+tag, user, @dom, @ */
		strlcpy(user, addr.user, sizeof(user));
		tagp = delim != '\0' ? strchr(user, delim) : NULL;
		x->nkeys = 0;
		if (tagp != NULL)
			snprintf(x->keys[x->nkeys++], ADDR_TEXT_MAX, "%s@%s",
			    user, addr.domain);
		snprintf(x->keys[x->nkeys++], ADDR_TEXT_MAX, "%.*s@%s",
		    (int)(tagp != NULL ? tagp - user : (long)strlen(user)),
		    user, addr.domain);
		if (tagp != NULL)
			snprintf(x->keys[x->nkeys++], ADDR_TEXT_MAX, "%s",
			    user);
		snprintf(x->keys[x->nkeys++], ADDR_TEXT_MAX, "%.*s",
		    (int)(tagp != NULL ? tagp - user : (long)strlen(user)),
		    user);
		snprintf(x->keys[x->nkeys++], ADDR_TEXT_MAX, "@%s",
		    addr.domain);
		snprintf(x->keys[x->nkeys++], ADDR_TEXT_MAX, "@");
		x->ikey = 0;
		if (address_virtual_next(x) == 1)
			return;
		expand_next(x);
		return;
	}
	/* A local domain's user. */
	for (i = 0; addr.user[i] != '\0'; i++)
		addr.user[i] = tolower((unsigned char)addr.user[i]);
	if ((u = node_new(x, n, N_USER, addr.user, a)) == NULL ||
	    node_key(x, u) == -1) {
		expand_tempfail(x);
		expand_next(x);
		return;
	}
	if (!node_seen(x, u))
		TAILQ_INSERT_TAIL(&x->queue, u, entry);
	expand_next(x);
}

/* 1 when a lookup was sent. */
static int
address_virtual_next(struct expansion *x)
{
	struct node	*n = x->cur;

	if (x->ikey >= x->nkeys) {
		log_debug("%016" PRIx64 " lookup rcpt <%s>: not in virtual "
		    "table %s", x->sid, n->text,
		    n->action->virtual.table->name);
		expand_fail(x, 550, "5.1.1", "Invalid recipient");
		return 0;
	}
	x->pending = x->env->tables.request(x->env->tables.ctx,
	    IMSG_TABLE_LOOKUP, n->action->virtual.table, K_ALIAS,
	    x->keys[x->ikey], address_on_virtual, x);
	return 1;
}

static void
address_on_virtual(int result, const char *value, void *arg)
{
	struct expansion	*x = arg;
	struct node		*n = x->cur;
	char			 origin[ADDR_TEXT_MAX + 300];

	x->pending = NULL;
	if (result == -1) {
		expand_tempfail(x);
		expand_next(x);
		return;
	}
	if (result == 0) {
		x->ikey++;
		if (address_virtual_next(x) == 0)
			expand_next(x);
		return;
	}
	log_trace(TRACE_EXPAND, "%016" PRIx64 " expand: virtual %s -> %s",
	    x->sid, x->keys[x->ikey], value);
	snprintf(origin, sizeof(origin), "virtual table %s, key \"%s\"",
	    n->action->virtual.table->name, x->keys[x->ikey]);
	node_add_list(x, n, value, 0, origin);
	expand_next(x);
}

/* ---- local users ---- */

static int
user_alias(struct expansion *x, struct node *n)
{
	char	 delim = x->env->conf->sub_addr_delim;

	/* user+tag first, then user. */
	x->nkeys = 0;
	strlcpy(x->keys[x->nkeys++], n->text, ADDR_TEXT_MAX);
	if (delim != '\0' && strchr(n->text, delim) != NULL)
		user_strip_tag(n->text, delim, x->keys[x->nkeys++],
		    ADDR_TEXT_MAX);
	x->ikey = 0;
	x->pending = x->env->tables.request(x->env->tables.ctx,
	    IMSG_TABLE_LOOKUP, n->action->alias.table, K_ALIAS,
	    x->keys[0], user_on_alias, x);
	return 1;
}

static void
user_on_alias(int result, const char *value, void *arg)
{
	struct expansion	*x = arg;
	struct node		*n = x->cur;
	char			 origin[ADDR_TEXT_MAX + 300];

	x->pending = NULL;
	if (result == -1) {
		expand_tempfail(x);
		expand_next(x);
		return;
	}
	if (result == 0 && ++x->ikey < x->nkeys) {
		x->pending = x->env->tables.request(x->env->tables.ctx,
		    IMSG_TABLE_LOOKUP, n->action->alias.table, K_ALIAS,
		    x->keys[x->ikey], user_on_alias, x);
		return;
	}
	if (result == 0) {
		if (user_userbase(x, n) == 0)
			expand_next(x);
		return;
	}
	log_trace(TRACE_EXPAND, "%016" PRIx64 " expand: alias %s -> %s",
	    x->sid, x->keys[x->ikey], value);
	snprintf(origin, sizeof(origin), "alias table %s, key \"%s\"",
	    n->action->alias.table->name, x->keys[x->ikey]);
	node_add_list(x, n, value, 0, origin);
	expand_next(x);
}

static int
user_userbase(struct expansion *x, struct node *n)
{
	struct config_table	*ub = n->action->userbase.table;

	if (ub == NULL)
		ub = x->env->userbase;
	user_strip_tag(n->text, x->env->conf->sub_addr_delim, x->keys[0],
	    ADDR_TEXT_MAX);
	x->pending = x->env->tables.request(x->env->tables.ctx,
	    IMSG_TABLE_LOOKUP, ub, K_USERINFO, x->keys[0], user_on_userbase,
	    x);
	return 1;
}

static void
user_on_userbase(int result, const char *value, void *arg)
{
	struct expansion	*x = arg;
	struct node		*n = x->cur;
	char			 home[ENVELOPE_PATH_MAX];

	x->pending = NULL;
	if (result == -1) {
		expand_tempfail(x);
		expand_next(x);
		return;
	}
	if (result == 0) {
		log_debug("%016" PRIx64 " lookup rcpt <%s>: no user \"%s\"",
		    x->sid, x->rcpt, x->keys[0]);
		expand_fail(x, 550, "5.1.1", "Invalid recipient");
		expand_next(x);
		return;
	}
	if (userinfo_parse(value, &n->uid, &n->gid, home, sizeof(home)) == -1 ||
	    (n->home = strdup(home)) == NULL) {
		log_warnx("%016" PRIx64 " lookup: user \"%s\": bad userinfo "
		    "\"%s\" (uid:gid:/home)", x->sid, x->keys[0], value);
		expand_tempfail(x);
		expand_next(x);
		return;
	}
	n->realuser = 1;
	if (user_forward(x, n) == 0)
		expand_next(x);
}

/* ~/.forward, or the mailbox.  0 done, 1 waiting. */
static int
user_forward(struct expansion *x, struct node *n)
{
	struct config_action	*a = n->action;
	char			*text = NULL, why[512];
	int			 r;

	/* "\user", or a user naming itself: its mailbox, as is. */
	if (n->verbatim || n->sameuser)
		return final_mailbox(x, n);
	/* With `user', only that account's .forward counts. */
	if (a->user != NULL && strcmp(a->user, x->keys[0]) != 0)
		return final_mailbox(x, n);
	r = forward_read(n->home, n->uid, &text, why, sizeof(why));
	if (r == -1) {
		log_warnx("%016" PRIx64 " lookup: .forward of %s: %s", x->sid,
		    n->text, why);
		expand_tempfail(x);
		return 0;
	}
	if (r == FORWARD_UNREACHABLE) {
		/* Every delivery to root would say it: not a warning. */
		log_debug("%016" PRIx64 " lookup: .forward of %s not "
		    "reachable: %s", x->sid, n->text, why);
		return final_mailbox(x, n);
	}
	if (r == 0) {
		if (why[0] != '\0')
			log_warnx("%016" PRIx64 " lookup: .forward of %s "
			    "ignored: %s", x->sid, n->text, why);
		return final_mailbox(x, n);
	}
	log_trace(TRACE_EXPAND, "%016" PRIx64 " expand: %s/.forward of %s",
	    x->sid, n->home, n->text);
	snprintf(why, sizeof(why), "%s/.forward", n->home);
	r = alias_parse_lines(text, NULL, NULL, why, sizeof(why));
	if (r == 0) {
		/* Nothing in it: as if there were none. */
		free(text);
		return final_mailbox(x, n);
	}
	snprintf(why, sizeof(why), "%s/.forward", n->home);
	node_add_list(x, n, text, 1, why);
	free(text);
	return 0;
}

/* ---- final deliveries ---- */

static int
final_mailbox(struct expansion *x, struct node *n)
{
	struct config_action	*a = n->action;

	if (a->method == ACTION_FORWARD_ONLY ||
	    a->method == ACTION_EXPAND_ONLY) {
		log_debug("%016" PRIx64 " lookup rcpt <%s>: user %s has no "
		    "alias or .forward for %s action %s", x->sid, x->rcpt,
		    n->text, config_method_name(a->method), a->name);
		expand_fail(x, 550, "5.1.1", "Invalid recipient");
		return 0;
	}
	if (a->user != NULL)
		return final_runas(x, n, 1);
	user_strip_tag(n->text, x->env->conf->sub_addr_delim, x->keys[0],
	    ADDR_TEXT_MAX);
	final_add(x, n, M_NONE, x->keys[0], n->uid, n->gid, n->home);
	return 0;
}

/* A file or a command. */
static int
final_target(struct expansion *x, struct node *n)
{
	struct config_action	*a = n->action;
	struct node		*owner;
	const struct lookup_env	*env = x->env;
	enum mda_method		 method = n->kind == N_FILE ? M_FILE : M_MDA;

	if (a->method == ACTION_FORWARD_ONLY) {
		log_debug("%016" PRIx64 " lookup rcpt <%s>: %s %s on "
		    "forward-only action %s", x->sid, x->rcpt,
		    n->kind == N_FILE ? "file" : "command", n->text, a->name);
		expand_fail(x, 550, "5.1.1", "Invalid recipient");
		return 0;
	}
	/* From a .forward: as its user; else as `user', or _smtpd. */
	owner = n->from_forward ? node_user_ancestor(n->parent) : NULL;
	if (owner != NULL && owner->realuser) {
		user_strip_tag(owner->text, env->conf->sub_addr_delim,
		    x->keys[0], ADDR_TEXT_MAX);
		final_add(x, n, method, x->keys[0], owner->uid, owner->gid,
		    owner->home);
		return 0;
	}
	if (a->user != NULL)
		return final_runas(x, n, 0);
	final_add(x, n, method, env->unpriv_user, env->unpriv_uid,
	    env->unpriv_gid, env->unpriv_home);
	return 0;
}

/* As the action's `user': its account from the system userbase. */
static int
final_runas(struct expansion *x, struct node *n, int mailbox)
{
	struct runas	*ra;

	if ((ra = runas_find(x, n->action)) != NULL) {
		final_add(x, n, mailbox ? M_NONE : n->kind == N_FILE ? M_FILE :
		    M_MDA, n->action->user, ra->uid, ra->gid, ra->home);
		return 0;
	}
	x->mailbox_next = mailbox;
	x->pending = x->env->tables.request(x->env->tables.ctx,
	    IMSG_TABLE_LOOKUP, x->env->userbase, K_USERINFO, n->action->user,
	    final_on_runas, x);
	return 1;
}

static void
final_on_runas(int result, const char *value, void *arg)
{
	struct expansion	*x = arg;
	struct node		*n = x->cur;
	struct runas		*grown, *ra;
	char			 home[ENVELOPE_PATH_MAX];

	x->pending = NULL;
	if (result != 1 || userinfo_parse(value, &(uid_t){ 0 }, &(gid_t){ 0 },
	    home, sizeof(home)) == -1) {
		if (result != -1)
			log_warnx("%016" PRIx64 " lookup: user \"%s\" of "
			    "action %s: %s", x->sid, n->action->user,
			    n->action->name, result == 0 ? "no such user" :
			    "bad userinfo");
		expand_tempfail(x);
		expand_next(x);
		return;
	}
	if ((grown = reallocarray(x->runas, x->nrunas + 1,
	    sizeof(*grown))) == NULL) {
		expand_tempfail(x);
		expand_next(x);
		return;
	}
	x->runas = grown;
	ra = &x->runas[x->nrunas];
	memset(ra, 0, sizeof(*ra));
	ra->action = n->action;
	userinfo_parse(value, &ra->uid, &ra->gid, home, sizeof(home));
	if ((ra->home = strdup(home)) == NULL) {
		expand_tempfail(x);
		expand_next(x);
		return;
	}
	x->nrunas++;
	final_runas(x, n, x->mailbox_next);
	expand_next(x);
}

static struct runas *
runas_find(struct expansion *x, struct config_action *a)
{
	size_t	 i;

	for (i = 0; i < x->nrunas; i++)
		if (x->runas[i].action == a)
			return &x->runas[i];
	return NULL;
}

static int
final_add(struct expansion *x, struct node *n, enum mda_method method,
    const char *user, uid_t uid, gid_t gid, const char *home)
{
	struct final	*grown, *f;

	if ((grown = reallocarray(x->finals, x->nfinals + 1,
	    sizeof(*grown))) == NULL) {
		expand_tempfail(x);
		return -1;
	}
	x->finals = grown;
	f = &x->finals[x->nfinals];
	memset(f, 0, sizeof(*f));
	f->action = n->action;
	f->method = method;
	f->uid = uid;
	f->gid = gid;
	if ((method != M_NONE && (f->buffer = strdup(n->text)) == NULL) ||
	    (f->dest = strdup(node_dest(n, x))) == NULL ||
	    (f->user = strdup(user)) == NULL ||
	    (f->home = strdup(home != NULL ? home : "/")) == NULL) {
		free(f->buffer);
		free(f->dest);
		free(f->user);
		expand_tempfail(x);
		return -1;
	}
	x->nfinals++;
	log_trace(TRACE_EXPAND, "%016" PRIx64 " expand: deliver %s%s%s to "
	    "<%s> as %s, action %s", x->sid, mda_method_name(method),
	    f->buffer ? " " : "", f->buffer ? f->buffer : "", f->dest, user,
	    f->action->name);
	return 0;
}

/* The address a delivery was reached through: the nearest above. */
static const char *
node_dest(struct node *n, const struct expansion *x)
{
	for (; n != NULL; n = n->parent)
		if (n->kind == N_ADDRESS)
			return n->text;
	return x->rcpt;
}

/* "uid:gid:/home" */
static int
userinfo_parse(const char *value, uid_t *uid, gid_t *gid, char *home,
    size_t homesz)
{
	unsigned long long	 u, g;
	char			*end;

	errno = 0;
	if (!isdigit((unsigned char)*value))
		return -1;
	u = strtoull(value, &end, 10);
	if (errno != 0 || *end != ':' || u > UINT32_MAX - 1 ||
	    !isdigit((unsigned char)end[1]))
		return -1;
	g = strtoull(end + 1, &end, 10);
	if (errno != 0 || *end != ':' || g > UINT32_MAX - 1 || end[1] != '/')
		return -1;
	if (strlcpy(home, end + 1, homesz) >= homesz)
		return -1;
	*uid = (uid_t)u;
	*gid = (gid_t)g;
	return 0;
}

/* "gilles+lists" -> "gilles" */
static const char *
user_strip_tag(const char *user, char delim, char *buf, size_t bufsz)
{
	char	*p;

	strlcpy(buf, user, bufsz);
	if (delim != '\0' && (p = strchr(buf, delim)) != NULL && p != buf)
		*p = '\0';
	return buf;
}
