/*
 * ruleset.c: the `match' rules, first match wins.
 *
 * A walk goes through the rules in order.  For each rule it first
 * decides the criteria that need no table (cheap, at once), then asks
 * the tables of the others one at a time, resuming in each answer's
 * callback.  A table that fails makes the whole walk a temporary
 * failure: a recipient is never refused because a table was down.
 *
 * Negation applies to the answer of the criterion; a criterion that
 * cannot apply (no rDNS name for `rdns <t>', no TLS for `tls') is
 * false, so its negation is true.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <event.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smtpd-api.h"
#include "config.h"
#include "frames.h"
#include "ruleset.h"

#define ADDR_TEXT_MAX	(MAILADDR_USER_MAX + MAILADDR_DOMAIN_MAX + 1)

enum crit_index {
	CRIT_FROM,
	CRIT_FOR,
	CRIT_AUTH,
	CRIT_HELO,
	CRIT_MAIL_FROM,
	CRIT_RCPT_TO,
	CRIT_TAG,
	CRIT_TLS,
	CRIT_MAX
};

/* What one criterion needs: an answer now, or a table check. */
enum crit_need {
	NEED_FALSE,
	NEED_TRUE,
	NEED_TABLE,
};

struct ruleset_walk {
	struct lookup_env	*env;
	ruleset_cb		 cb;
	void			*arg;
	struct config_rule	*rule;		/* being checked */
	int			 pass;		/* 0: built-in, 1: tables */
	int			 crit;		/* next criterion */
	const struct match_criterion *asked;	/* waiting for its table */
	void			*pending;	/* table handle */
	struct event		*ev_done;
	int			 result;
	struct config_rule	*matched;

	/* the input, copied */
	char			 sender[ADDR_TEXT_MAX];
	char			 rcpt[ADDR_TEXT_MAX];
	char			 rcpt_domain[MAILADDR_DOMAIN_MAX];
	char			 helo[ENVELOPE_NAME_MAX];
	char			 rdns[ENVELOPE_NAME_MAX];	/* "" none */
	char			 addr[64];	/* client, numeric */
	char			 tag[ENVELOPE_NAME_MAX];
	int			 local;
	int			 socket;
	int			 authenticated;
};

static void	walk_step(struct ruleset_walk *);
static void	walk_finish(struct ruleset_walk *, int, struct config_rule *);
static void	walk_on_done(int, short, void *);
static void	walk_on_table(int, const char *, void *);
static const struct match_criterion *rule_criterion(struct config_rule *,
		    int);
static enum crit_need crit_need(struct ruleset_walk *,
		    const struct match_criterion *, int, const char **);
static const char *crit_name(int);
static int	literal_canonical(const char *, char *, size_t);

struct ruleset_walk *
ruleset_match(struct lookup_env *env, const struct ruleset_input *in,
    ruleset_cb cb, void *arg)
{
	struct ruleset_walk		*w;
	const struct envelope		*e = in->env;
	const struct sockaddr_storage	*ss = &e->ss;
	const struct in6_addr		*a6;
	char				 text[ADDR_TEXT_MAX];
	size_t				 i;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return NULL;
	if ((w->ev_done = evtimer_new(env->base, walk_on_done, w)) == NULL) {
		free(w);
		return NULL;
	}
	w->env = env;
	w->cb = cb;
	w->arg = arg;
	if (mailaddr_to_text(&e->sender, text, sizeof(text)) == 0)
		strlcpy(w->sender, text, sizeof(w->sender));
	if (mailaddr_to_text(in->rcpt, text, sizeof(text)) == 0)
		strlcpy(w->rcpt, text, sizeof(w->rcpt));
	strlcpy(w->rcpt_domain, in->rcpt->domain, sizeof(w->rcpt_domain));
	for (i = 0; w->rcpt_domain[i] != '\0'; i++)
		w->rcpt_domain[i] = tolower((unsigned char)w->rcpt_domain[i]);
	strlcpy(w->helo, e->helo, sizeof(w->helo));
	/* "unknown" or "[192.0.2.1]" is what a client without a name
	 * gets: that is no name. */
	if (e->hostname[0] != '\0' && e->hostname[0] != '[' &&
	    strcmp(e->hostname, "unknown") != 0)
		strlcpy(w->rdns, e->hostname, sizeof(w->rdns));
	switch (ss->ss_family) {
	case AF_INET:
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr,
		    w->addr, sizeof(w->addr));
		break;
	case AF_INET6:
		/* ::ffff:192.0.2.1 is 192.0.2.1 to every table (a regex, a
		 * backend that stores IPv4 text). */
		a6 = &((const struct sockaddr_in6 *)ss)->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(a6))
			inet_ntop(AF_INET, &a6->s6_addr[12], w->addr,
			    sizeof(w->addr));
		else
			inet_ntop(AF_INET6, a6, w->addr, sizeof(w->addr));
		break;
	default:
		strlcpy(w->addr, "local", sizeof(w->addr));
		break;
	}
	if (in->tag != NULL)
		strlcpy(w->tag, in->tag, sizeof(w->tag));
	/* The socket's sessions carry EF_LOCAL; AF_UNSPEC without it is
	 * mail smtpd makes itself (bounces): local, not the socket. */
	w->socket = (e->flags & EF_LOCAL) != 0 || ss->ss_family == AF_UNIX;
	w->local = in->local || w->socket || ss->ss_family == AF_UNSPEC ||
	    (e->flags & EF_INTERNAL) != 0;
	w->authenticated = (e->flags & EF_AUTHENTICATED) != 0;

	w->rule = TAILQ_FIRST(&env->conf->rules);
	walk_step(w);
	return w;
}

void
ruleset_cancel(struct ruleset_walk *w)
{
	if (w == NULL)
		return;
	if (w->pending != NULL)
		w->env->tables.cancel(w->env->tables.ctx, w->pending);
	event_free(w->ev_done);
	free(w);
}

/* Go on until a table must be asked or the walk is decided. */
static void
walk_step(struct ruleset_walk *w)
{
	const struct match_criterion	*c;
	const char			*key;
	char				 where[256];
	enum crit_need			 need;
	int				 truth;

	while (w->rule != NULL) {
		for (; w->crit < CRIT_MAX; w->crit++) {
			c = rule_criterion(w->rule, w->crit);
			need = crit_need(w, c, w->crit, &key);
			if (need == NEED_TABLE && w->pass == 0)
				continue;
			if (need == NEED_TABLE) {
				w->asked = c;
				w->crit++;
				w->pending = w->env->tables.request(
				    w->env->tables.ctx, IMSG_TABLE_CHECK,
				    c->table.table, c->table.service, key,
				    walk_on_table, w);
				return;
			}
			if (w->pass == 1)
				continue;	/* decided in pass 0 */
			truth = need == NEED_TRUE;
			if (c->set && c->negate)
				truth = !truth;
			if (!truth)
				break;
		}
		if (w->crit == CRIT_MAX && w->pass == 0) {
			w->pass = 1;
			w->crit = 0;
			continue;
		}
		if (w->crit == CRIT_MAX) {
			walk_finish(w, RULESET_MATCH, w->rule);
			return;
		}
		log_trace(TRACE_RULES, "ruleset: rule at %s: %s does not "
		    "match", ruleset_rule_where(w->rule, where, sizeof(where)),
		    crit_name(w->crit));
		w->rule = TAILQ_NEXT(w->rule, entry);
		w->pass = 0;
		w->crit = 0;
	}
	walk_finish(w, RULESET_NOMATCH, NULL);
}

static void
walk_on_table(int result, const char *value, void *arg)
{
	struct ruleset_walk		*w = arg;
	const struct match_criterion	*c = w->asked;
	char				 where[256];
	int				 truth;

	w->pending = NULL;
	w->asked = NULL;
	if (result == -1) {
		log_warnx("ruleset: rule at %s: table %s failed",
		    ruleset_rule_where(w->rule, where, sizeof(where)),
		    c->table.table->name);
		walk_finish(w, RULESET_TEMPFAIL, NULL);
		return;
	}
	truth = result == 1;
	if (c->negate)
		truth = !truth;
	if (truth) {
		walk_step(w);
		return;
	}
	log_trace(TRACE_RULES, "ruleset: rule at %s: %s <%s> does not match",
	    ruleset_rule_where(w->rule, where, sizeof(where)),
	    crit_name(w->crit - 1), c->table.table->name);
	w->rule = TAILQ_NEXT(w->rule, entry);
	w->pass = 0;
	w->crit = 0;
	walk_step(w);
}

/* The answer always comes from the event loop. */
static void
walk_finish(struct ruleset_walk *w, int result, struct config_rule *rule)
{
	w->result = result;
	w->matched = rule;
	event_active(w->ev_done, EV_TIMEOUT, 1);
}

static void
walk_on_done(int fd, short events, void *arg)
{
	struct ruleset_walk	*w = arg;
	ruleset_cb		 cb = w->cb;
	void			*cbarg = w->arg;
	struct config_rule	*rule = w->matched;
	int			 result = w->result;

	event_free(w->ev_done);
	free(w);
	cb(result, rule, cbarg);
}

/* from and for default to "local" when the rule does not say. */
static const struct match_criterion *
rule_criterion(struct config_rule *r, int i)
{
	/* zero: not set, not negated, FROM_LOCAL / FOR_LOCAL */
	static const struct match_criterion local_default;

	switch (i) {
	case CRIT_FROM:
		return r->from.set ? &r->from : &local_default;
	case CRIT_FOR:
		return r->for_.set ? &r->for_ : &local_default;
	case CRIT_AUTH:
		return &r->auth;
	case CRIT_HELO:
		return &r->helo;
	case CRIT_MAIL_FROM:
		return &r->mail_from;
	case CRIT_RCPT_TO:
		return &r->rcpt_to;
	case CRIT_TAG:
		return &r->tag;
	default:
		return &r->tls;
	}
}

/*
 * What criterion c needs, before its negation: an answer now, or a
 * check of its table with *key.  Criteria a rule does not set are
 * true (from and for come as their "local" default).
 */
static enum crit_need
crit_need(struct ruleset_walk *w, const struct match_criterion *c, int i,
    const char **key)
{
	const int	 has_table = c->table.table != NULL;

	*key = NULL;
	if (!c->set && i != CRIT_FROM && i != CRIT_FOR)
		return NEED_TRUE;
	switch (i) {
	case CRIT_FROM:
		switch (c->kind) {
		case FROM_ANY:
			return NEED_TRUE;
		case FROM_LOCAL:
			return w->local ? NEED_TRUE : NEED_FALSE;
		case FROM_SOCKET:
			return w->socket ? NEED_TRUE : NEED_FALSE;
		case FROM_SRC:
			*key = w->addr;
			return NEED_TABLE;
		case FROM_RDNS:
			if (w->rdns[0] == '\0')
				return NEED_FALSE;
			*key = w->rdns;
			return has_table ? NEED_TABLE : NEED_TRUE;
		case FROM_AUTH:
			/* Authentication comes with its issue: nobody is
			 * authenticated yet, and no user name is known. */
			if (!w->authenticated || has_table)
				return NEED_FALSE;
			return NEED_TRUE;
		case FROM_MAIL_FROM:
			*key = w->sender;
			return NEED_TABLE;
		}
		return NEED_FALSE;
	case CRIT_FOR:
		switch (c->kind) {
		case FOR_ANY:
			return NEED_TRUE;
		case FOR_LOCAL:
			return ruleset_local_domain(w->env, w->rcpt_domain) ?
			    NEED_TRUE : NEED_FALSE;
		case FOR_DOMAIN:
			if (w->rcpt_domain[0] == '\0')
				return NEED_FALSE;
			*key = w->rcpt_domain;
			return NEED_TABLE;
		case FOR_RCPT_TO:
			*key = w->rcpt;
			return NEED_TABLE;
		}
		return NEED_FALSE;
	case CRIT_AUTH:
		if (!w->authenticated || has_table)
			return NEED_FALSE;
		return NEED_TRUE;
	case CRIT_HELO:
		if (w->helo[0] == '\0')
			return NEED_FALSE;
		*key = w->helo;
		return NEED_TABLE;
	case CRIT_MAIL_FROM:
		*key = w->sender;
		return NEED_TABLE;
	case CRIT_RCPT_TO:
		*key = w->rcpt;
		return NEED_TABLE;
	case CRIT_TAG:
		if (w->tag[0] == '\0')
			return NEED_FALSE;
		*key = w->tag;
		return NEED_TABLE;
	default:
		/* TLS comes with its issue: no session is encrypted. */
		return NEED_FALSE;
	}
}

static const char *
crit_name(int i)
{
	static const char *const names[CRIT_MAX] = {
		"from", "for", "auth", "helo", "mail-from", "rcpt-to", "tag",
		"tls"
	};

	return i >= 0 && i < CRIT_MAX ? names[i] : "?";
}

const char *
ruleset_rule_where(const struct config_rule *r, char *buf, size_t bufsz)
{
	snprintf(buf, bufsz, "%s:%d", r->where.file != NULL ? r->where.file :
	    "?", r->where.line);
	return buf;
}

/* ---- "for local" ---- */

int
ruleset_local_domain(const struct lookup_env *env, const char *domain)
{
	char	 name[MAILADDR_DOMAIN_MAX];
	size_t	 i, len;

	if (*domain == '\0')
		return 1;
	if (domain[0] == '[') {
		if (literal_canonical(domain, name, sizeof(name)) == -1)
			return 0;
	} else {
		strlcpy(name, domain, sizeof(name));
		for (i = 0; name[i] != '\0'; i++)
			name[i] = tolower((unsigned char)name[i]);
		len = strlen(name);
		if (len > 1 && name[len - 1] == '.')
			name[len - 1] = '\0';
	}
	for (i = 0; i < env->nlocalnames; i++)
		if (strcmp(env->localnames[i], name) == 0)
			return 1;
	return 0;
}

/* "[192.0.2.1]", "[IPv6:2001:DB8::1]" -> "[192.0.2.1]", "[ipv6:2001:db8::1]" */
static int
literal_canonical(const char *lit, char *buf, size_t bufsz)
{
	char		 inner[MAILADDR_DOMAIN_MAX], text[INET6_ADDRSTRLEN];
	unsigned char	 addr[sizeof(struct in6_addr)];
	size_t		 len = strlen(lit);

	if (len < 3 || lit[0] != '[' || lit[len - 1] != ']' ||
	    len - 2 >= sizeof(inner))
		return -1;
	memcpy(inner, lit + 1, len - 2);
	inner[len - 2] = '\0';
	if (strncasecmp(inner, "ipv6:", 5) == 0) {
		if (inet_pton(AF_INET6, inner + 5, addr) != 1 ||
		    inet_ntop(AF_INET6, addr, text, sizeof(text)) == NULL)
			return -1;
		snprintf(buf, bufsz, "[ipv6:%s]", text);
		return 0;
	}
	if (inet_pton(AF_INET, inner, addr) != 1 ||
	    inet_ntop(AF_INET, addr, text, sizeof(text)) == NULL)
		return -1;
	snprintf(buf, bufsz, "[%s]", text);
	return 0;
}

int
ruleset_local_add(struct lookup_env *env, const char *name)
{
	char	 canon[MAILADDR_DOMAIN_MAX], **grown, *copy;
	size_t	 i;

	if (name[0] == '[') {
		if (literal_canonical(name, canon, sizeof(canon)) == -1)
			return -1;
	} else {
		strlcpy(canon, name, sizeof(canon));
		for (i = 0; canon[i] != '\0'; i++)
			canon[i] = tolower((unsigned char)canon[i]);
	}
	if (canon[0] == '\0' || ruleset_local_domain(env, canon))
		return 0;
	if ((copy = strdup(canon)) == NULL)
		return -1;
	if ((grown = reallocarray(env->localnames, env->nlocalnames + 1,
	    sizeof(*grown))) == NULL) {
		free(copy);
		return -1;
	}
	env->localnames = grown;
	env->localnames[env->nlocalnames++] = copy;
	return 0;
}

int
ruleset_local_init(struct lookup_env *env, const char *hostname)
{
	struct ifaddrs	*ifa, *i;
	char		 text[INET6_ADDRSTRLEN], lit[INET6_ADDRSTRLEN + 8];
	const void	*a;

	if (ruleset_local_add(env, "localhost") == -1 ||
	    (hostname != NULL && *hostname != '\0' &&
	    ruleset_local_add(env, hostname) == -1) ||
	    ruleset_local_add(env, "[127.0.0.1]") == -1 ||
	    ruleset_local_add(env, "[IPv6:::1]") == -1)
		return -1;
	if (getifaddrs(&ifa) == -1) {
		log_warn("getifaddrs: only loopback literals are local");
		return 0;
	}
	for (i = ifa; i != NULL; i = i->ifa_next) {
		if (i->ifa_addr == NULL)
			continue;
		if (i->ifa_addr->sa_family == AF_INET)
			a = &((struct sockaddr_in *)i->ifa_addr)->sin_addr;
		else if (i->ifa_addr->sa_family == AF_INET6)
			a = &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;
		else
			continue;
		if (inet_ntop(i->ifa_addr->sa_family, a, text,
		    sizeof(text)) == NULL)
			continue;
		snprintf(lit, sizeof(lit), "[%s%s]",
		    i->ifa_addr->sa_family == AF_INET6 ? "IPv6:" : "", text);
		if (ruleset_local_add(env, lit) == -1) {
			freeifaddrs(ifa);
			return -1;
		}
	}
	freeifaddrs(ifa);
	return 0;
}

void
ruleset_local_free(struct lookup_env *env)
{
	size_t	 i;

	for (i = 0; i < env->nlocalnames; i++)
		free(env->localnames[i]);
	free(env->localnames);
	env->localnames = NULL;
	env->nlocalnames = 0;
}
