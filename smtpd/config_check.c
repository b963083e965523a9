/*
 * config_check.c: what is checked once a statement or the whole file
 * has been read: statement consistency, references between objects,
 * and whether each table suits the way it is used.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

static void	 resolve_tableref(struct config_errors *,
		    struct smtpd_config *, struct config_tableref *,
		    const char *);
static void	 check_inline_use(struct config_errors *,
		    struct config_tableref *, const char *);
static const char *tableref_label(const struct config_tableref *, char *,
		    size_t);
static int	 netaddr_valid(const char *);
static int	 userinfo_valid(const char *);
static void	 resolve_filters(struct config_errors *,
		    struct smtpd_config *);
static void	 resolve_criterion(struct config_errors *,
		    struct smtpd_config *, struct match_criterion *,
		    const char *);
static const char *from_name(int);
static const char *for_name(int);
static int	 lmtp_destination_valid(const char *);

/* Services that need a key-value table, and those that need a list. */
#define MAPPING_ONLY	(K_ALIAS | K_CREDENTIALS | K_USERINFO | \
			 K_ADDRNAME | K_MAILADDRMAP)
#define LIST_ONLY	(K_REGEX | K_SOURCE)

int
config_check_action(struct config_errors *errors, struct config_action *a)
{
	int	 before = errors->count;

	switch (a->method) {
	case ACTION_MAILDIR:
		if (a->maildir != NULL && a->maildir[0] != '/' &&
		    strncmp(a->maildir, "~/", 2) != 0 &&
		    strncmp(a->maildir, "%{", 2) != 0)
			config_error(errors, &a->where, "maildir path \"%s\" "
			    "must be absolute, or start with ~/ or %%{",
			    a->maildir);
		break;
	case ACTION_LMTP:
		if (!lmtp_destination_valid(a->lmtp))
			config_error(errors, &a->where, "invalid lmtp "
			    "destination \"%s\" (host:port or /socket)",
			    a->lmtp);
		break;
	case ACTION_MDA:
		if (a->mda[0] == '\0')
			config_error(errors, &a->where, "mda command is empty");
		break;
	case ACTION_RELAY:
		config_error(errors, &a->where, "relay is not supported yet");
		break;
	default:
		break;
	}
	if (a->user != NULL && (a->method == ACTION_MBOX ||
	    a->method == ACTION_FORWARD_ONLY ||
	    a->method == ACTION_EXPAND_ONLY))
		config_error(errors, &a->where, "user is not valid with %s",
		    config_method_name(a->method));
	if (a->wrapper_name != NULL && (a->method == ACTION_FORWARD_ONLY ||
	    a->method == ACTION_EXPAND_ONLY))
		config_error(errors, &a->where, "wrapper is not valid with %s",
		    config_method_name(a->method));
	if ((a->alias.name != NULL || a->alias.table != NULL) &&
	    (a->virtual.name != NULL || a->virtual.table != NULL))
		config_error(errors, &a->where, "alias and virtual cannot be "
		    "used together");
	return errors->count > before ? -1 : 0;
}

/* "host:port" (a host may be [IPv6]) or an absolute socket path. */
static int
lmtp_destination_valid(const char *dest)
{
	const char	*colon, *p;

	if (dest[0] == '/')
		return 1;
	if ((colon = strrchr(dest, ':')) == NULL || colon == dest ||
	    colon[1] == '\0' || strlen(colon + 1) > 5)
		return 0;
	for (p = colon + 1; *p != '\0'; p++)
		if (!isdigit((unsigned char)*p))
			return 0;
	if (atoi(colon + 1) < 1 || atoi(colon + 1) > 65535)
		return 0;
	if (dest[0] == '[')
		return colon[-1] == ']';
	/* An IPv6 address without brackets would be ambiguous. */
	return memchr(dest, ':', colon - dest) == NULL;
}

int
config_check_listener(struct config_errors *errors, struct smtpd_config *cfg,
    struct config_listener *l)
{
	struct config_listener	*o;
	struct in6_addr		 a6;
	struct in_addr		 a4;
	int			 before = errors->count;

	if (l->kind == LISTEN_ADDRESS && l->family != AF_UNSPEC) {
		if (l->family == AF_INET6 && inet_pton(AF_INET, l->on,
		    &a4) == 1)
			config_error(errors, &l->where, "address \"%s\" is not "
			    "inet6", l->on);
		if (l->family == AF_INET && inet_pton(AF_INET6, l->on,
		    &a6) == 1)
			config_error(errors, &l->where, "address \"%s\" is not "
			    "inet4", l->on);
	}
	TAILQ_FOREACH(o, &cfg->listeners, entry) {
		if (o->kind != l->kind || strcmp(o->on, l->on) != 0 ||
		    o->port != l->port || o->family != l->family)
			continue;
		if (l->kind == LISTEN_SOCKET)
			config_error(errors, &l->where, "listener on socket "
			    "already defined at %s:%d", o->where.file,
			    o->where.line);
		else
			config_error(errors, &l->where, "listener on %s port "
			    "%u already defined at %s:%d", l->on, l->port,
			    o->where.file, o->where.line);
		break;
	}
	return errors->count > before ? -1 : 0;
}

/* ------------------------------------------------------------------ */
/* After the last line                                                 */
/* ------------------------------------------------------------------ */

int
config_resolve(struct config_errors *errors, struct smtpd_config *cfg)
{
	struct config_listener	*l;
	struct config_action	*a;
	struct config_rule	*r;
	struct config_table	*t;
	int			 before = errors->count;

	resolve_filters(errors, cfg);

	TAILQ_FOREACH(l, &cfg->listeners, entry) {
		resolve_tableref(errors, cfg, &l->hostnames, "hostnames");
		resolve_tableref(errors, cfg, &l->senders, "senders");
		if (l->filter_name == NULL)
			continue;
		if ((l->filter = config_filter_find(cfg,
		    l->filter_name)) == NULL)
			config_error(errors, &l->filter_where, "filter \"%s\" "
			    "is not defined", l->filter_name);
		else
			l->filter->used = 1;
	}

	TAILQ_FOREACH(a, &cfg->actions, entry) {
		resolve_tableref(errors, cfg, &a->alias, "alias");
		resolve_tableref(errors, cfg, &a->virtual, "virtual");
		resolve_tableref(errors, cfg, &a->userbase, "userbase");
		if (a->wrapper_name == NULL)
			continue;
		if ((a->wrapper = config_wrapper_find(cfg,
		    a->wrapper_name)) == NULL)
			config_error(errors, &a->where, "wrapper \"%s\" is not "
			    "defined", a->wrapper_name);
		else
			a->wrapper->used = 1;
	}

	TAILQ_FOREACH(r, &cfg->rules, entry) {
		resolve_criterion(errors, cfg, &r->from,
		    from_name(r->from.kind));
		resolve_criterion(errors, cfg, &r->for_,
		    for_name(r->for_.kind));
		resolve_criterion(errors, cfg, &r->auth, "auth");
		resolve_criterion(errors, cfg, &r->helo, "helo");
		resolve_criterion(errors, cfg, &r->mail_from, "mail-from");
		resolve_criterion(errors, cfg, &r->rcpt_to, "rcpt-to");
		resolve_criterion(errors, cfg, &r->tag, "tag");
		if (r->reject)
			continue;
		if ((r->action = config_action_find(cfg,
		    r->action_name)) == NULL)
			config_error(errors, &r->where, "action \"%s\" is not "
			    "defined", r->action_name);
		else
			r->action->used = 1;
	}

	TAILQ_FOREACH(t, &cfg->tables, entry)
		if (config_table_render(t) == -1)
			config_error(errors, &t->where, "%s", strerror(errno));

	return errors->count > before ? -1 : 0;
}

static const char *
from_name(int kind)
{
	switch (kind) {
	case FROM_SRC:
		return "from src";
	case FROM_RDNS:
		return "from rdns";
	case FROM_AUTH:
		return "from auth";
	case FROM_MAIL_FROM:
		return "from mail-from";
	default:
		return "from";
	}
}

static const char *
for_name(int kind)
{
	switch (kind) {
	case FOR_DOMAIN:
		return "for domain";
	case FOR_RCPT_TO:
		return "for rcpt-to";
	default:
		return "for";
	}
}

static void
resolve_criterion(struct config_errors *errors, struct smtpd_config *cfg,
    struct match_criterion *c, const char *use)
{
	if (c->set)
		resolve_tableref(errors, cfg, &c->table, use);
}

/*
 * Chains hold proc-exec filters only, each once; a listener's anonymous
 * list is a chain like the others.
 */
static void
resolve_filters(struct config_errors *errors, struct smtpd_config *cfg)
{
	struct config_filter	*f, *m;
	char			 label[128];
	size_t			 i, j;

	TAILQ_FOREACH(f, &cfg->filters, entry) {
		if (f->kind != FILTER_CHAIN)
			continue;
		if (f->anonymous)
			snprintf(label, sizeof(label), "the filter list");
		else
			snprintf(label, sizeof(label), "chain \"%s\"", f->name);
		if ((f->chain = calloc(f->nmembers + 1,
		    sizeof(*f->chain))) == NULL) {
			config_error(errors, &f->where, "%s", strerror(errno));
			continue;
		}
		for (i = 0; i < f->nmembers; i++) {
			for (j = 0; j < i; j++)
				if (strcmp(f->members[j], f->members[i]) == 0)
					break;
			if (j < i) {
				config_error(errors, &f->where, "filter \"%s\" "
				    "appears twice in %s", f->members[i],
				    label);
				continue;
			}
			if ((m = config_filter_find(cfg,
			    f->members[i])) == NULL) {
				config_error(errors, &f->where, "filter \"%s\" "
				    "is not defined", f->members[i]);
				continue;
			}
			if (m->kind == FILTER_CHAIN) {
				config_error(errors, &f->where, "%s cannot "
				    "contain chain \"%s\"", label, m->name);
				continue;
			}
			m->used = 1;
			f->chain[i] = m;
		}
	}
}

static const char *
tableref_label(const struct config_tableref *ref, char *buf, size_t bufsz)
{
	if (ref->name != NULL)
		snprintf(buf, bufsz, "<%s>", ref->name);
	else
		snprintf(buf, bufsz, "the inline table");
	return buf;
}

static void
resolve_tableref(struct config_errors *errors, struct smtpd_config *cfg,
    struct config_tableref *ref, const char *use)
{
	struct config_table	*t;

	if (ref->table == NULL && ref->name == NULL)
		return;
	if (ref->table == NULL) {
		if ((t = config_table_find(cfg, ref->name)) == NULL) {
			config_error(errors, &ref->where, "table <%s> is not "
			    "defined", ref->name);
			return;
		}
		ref->table = t;
	}
	t = ref->table;
	t->used = 1;
	t->services |= ref->service;
	/* A file's content is for its helper to check when it loads. */
	if (t->path == NULL)
		check_inline_use(errors, ref, use);
}

static void
check_inline_use(struct config_errors *errors, struct config_tableref *ref,
    const char *use)
{
	struct config_table	*t = ref->table;
	struct table_entry	*e;
	regex_t			 re;
	char			 label[128], why[128];
	const char		*text;
	const char		*rx = ref->regex ? " regex" : "";
	int			 r, flags;

	if ((ref->service & MAPPING_ONLY) && !t->is_mapping) {
		config_error(errors, &ref->where, "%s needs a key-value table, "
		    "but %s is a list", use, tableref_label(ref, label,
		    sizeof(label)));
		return;
	}
	if ((ref->service & LIST_ONLY) && t->is_mapping) {
		config_error(errors, &ref->where, "%s%s needs a list, but %s "
		    "is a key-value table", use, rx, tableref_label(ref, label,
		    sizeof(label)));
		return;
	}
	TAILQ_FOREACH(e, &t->entries, entry) {
		switch (ref->service) {
		case K_REGEX:
			text = e->key;
			flags = REG_EXTENDED | REG_NOSUB;
			if (strncmp(text, "(?i)", 4) == 0) {
				flags |= REG_ICASE;
				text += 4;
			}
			if ((r = regcomp(&re, text, flags)) != 0) {
				regerror(r, &re, why, sizeof(why));
				config_error(errors, &ref->where,
				    "%s%s: invalid regex \"%s\": %s", use, rx,
				    e->key, why);
				return;
			}
			regfree(&re);
			break;
		case K_NETADDR:
			if (!netaddr_valid(e->key)) {
				config_error(errors, &ref->where, "%s: invalid "
				    "address or network \"%s\"", use, e->key);
				return;
			}
			break;
		case K_USERINFO:
			if (!userinfo_valid(e->value)) {
				config_error(errors, &ref->where, "%s: invalid "
				    "user information \"%s\" for \"%s\" "
				    "(uid:gid:/home/directory)", use, e->value,
				    e->key);
				return;
			}
			break;
		default:
			break;
		}
	}
}

/* An IPv4 or IPv6 address, maybe in brackets, maybe with a /prefix. */
static int
netaddr_valid(const char *text)
{
	char		 buf[INET6_ADDRSTRLEN + 8], *slash, *end;
	unsigned char	 addr[sizeof(struct in6_addr)];
	size_t		 len = strlen(text);
	long		 prefix, max;

	if (len >= sizeof(buf))
		return 0;
	if (text[0] == '[') {
		if ((end = strchr(text, ']')) == NULL)
			return 0;
		memcpy(buf, text + 1, end - text - 1);
		buf[end - text - 1] = '\0';
		if (end[1] != '\0' && end[1] != '/')
			return 0;
		if (end[1] == '/')
			strlcat(buf, end + 1, sizeof(buf));
	} else
		strlcpy(buf, text, sizeof(buf));
	if ((slash = strchr(buf, '/')) != NULL)
		*slash++ = '\0';
	if (inet_pton(AF_INET, buf, addr) == 1)
		max = 32;
	else if (inet_pton(AF_INET6, buf, addr) == 1)
		max = 128;
	else
		return 0;
	if (slash == NULL)
		return 1;
	if (*slash == '\0' || strspn(slash, "0123456789") != strlen(slash))
		return 0;
	prefix = strtol(slash, NULL, 10);
	return prefix >= 0 && prefix <= max;
}

static int
userinfo_valid(const char *value)
{
	const char	*p = value;
	int		 field;

	for (field = 0; field < 2; field++) {
		if (!isdigit((unsigned char)*p))
			return 0;
		while (isdigit((unsigned char)*p))
			p++;
		if (*p++ != ':')
			return 0;
	}
	return *p == '/';
}
