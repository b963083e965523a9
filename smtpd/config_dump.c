/*
 * config_dump.c: the configuration printed back as smtpd.conf, one
 * statement per line in a fixed order, with every value the daemon
 * will use (defaults included).  The output parses back to the same
 * output: the unit tests hold it to that.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "config.h"

static void	 dump_word(FILE *, const char *);
static void	 dump_entries(FILE *, const struct config_table *);
static void	 dump_tableref(FILE *, const char *,
		    const struct config_tableref *);
static void	 dump_names(FILE *, char **, size_t);
static void	 dump_globals(const struct smtpd_config *, FILE *);
static void	 dump_table(const struct config_table *, FILE *);
static void	 dump_filter(const struct config_filter *, FILE *);
static void	 dump_listener(const struct config_listener *, FILE *);
static void	 dump_action(const struct config_action *, FILE *);
static void	 dump_rule(const struct config_rule *, FILE *);
static void	 dump_criterion(FILE *, const char *,
		    const struct match_criterion *);

void
config_dump(const struct smtpd_config *cfg, FILE *fp)
{
	const struct macro		*m;
	const struct config_wrapper	*w;
	const struct config_table	*t;
	const struct config_filter	*f;
	const struct config_listener	*l;
	const struct config_action	*a;
	const struct config_rule	*r;

	TAILQ_FOREACH(m, &cfg->macros, entry) {
		fprintf(fp, "%s = ", m->name);
		dump_word(fp, m->value);
		fputc('\n', fp);
	}
	dump_globals(cfg, fp);
	TAILQ_FOREACH(w, &cfg->wrappers, entry) {
		fputs("mda wrapper ", fp);
		dump_word(fp, w->name);
		fputc(' ', fp);
		dump_word(fp, w->command);
		fputc('\n', fp);
	}
	TAILQ_FOREACH(t, &cfg->tables, entry)
		if (!t->anonymous)
			dump_table(t, fp);
	TAILQ_FOREACH(f, &cfg->filters, entry)
		if (!f->anonymous)
			dump_filter(f, fp);
	TAILQ_FOREACH(l, &cfg->listeners, entry)
		dump_listener(l, fp);
	TAILQ_FOREACH(a, &cfg->actions, entry)
		dump_action(a, fp);
	TAILQ_FOREACH(r, &cfg->rules, entry)
		dump_rule(r, fp);
}

/*
 * Bare when the lexer would read the word back as it is, quoted
 * otherwise.  Quotes only escape the quote character.
 */
static void
dump_word(FILE *fp, const char *s)
{
	const char	*p;
	int		 bare;

	bare = *s != '\0' && (isalnum((unsigned char)*s) || *s == '/' ||
	    *s == '_') && !config_is_keyword(s);
	for (p = s; bare && *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) &&
		    strchr("_-./:@+", *p) == NULL)
			bare = 0;
	if (bare) {
		fputs(s, fp);
		return;
	}
	fputc('"', fp);
	for (p = s; *p != '\0'; p++) {
		if (*p == '"')
			fputc('\\', fp);
		fputc(*p, fp);
	}
	fputc('"', fp);
}

static void
dump_globals(const struct smtpd_config *cfg, FILE *fp)
{
	char	 buf[32], delim[2];
	int	 i;

	fputs("spool ", fp);
	dump_word(fp, cfg->spool);
	fputc('\n', fp);
	fprintf(fp, "queue ttl %s\n", config_duration_text(cfg->queue_ttl,
	    buf, sizeof(buf)));
	fputs("bounce warn-interval", fp);
	for (i = 0; i < cfg->nbounce_warn; i++)
		fprintf(fp, "%s %s", i ? "," : "",
		    config_duration_text(cfg->bounce_warn[i], buf,
		    sizeof(buf)));
	fputc('\n', fp);
	fprintf(fp, "smtp max-message-size %s\n",
	    config_size_text(cfg->max_message_size, buf, sizeof(buf)));
	fprintf(fp, "smtp limit max-mails %d max-rcpt %d\n", cfg->max_mails,
	    cfg->max_rcpt);
	delim[0] = cfg->sub_addr_delim;
	delim[1] = '\0';
	fputs("smtp sub-addr-delim ", fp);
	dump_word(fp, delim);
	fputc('\n', fp);
	fprintf(fp, "smtp timeout command %s",
	    config_duration_text(cfg->timeout_command, buf, sizeof(buf)));
	fprintf(fp, " data %s\n",
	    config_duration_text(cfg->timeout_data, buf, sizeof(buf)));
}

static void
dump_entries(FILE *fp, const struct config_table *t)
{
	const struct table_entry	*e;

	fputs("{ ", fp);
	TAILQ_FOREACH(e, &t->entries, entry) {
		dump_word(fp, e->key);
		if (e->value != NULL) {
			fputs(" = ", fp);
			dump_word(fp, e->value);
		}
		fputs(TAILQ_NEXT(e, entry) != NULL ? ", " : " }", fp);
	}
}

static void
dump_table(const struct config_table *t, FILE *fp)
{
	fputs("table ", fp);
	dump_word(fp, t->name);
	fputc(' ', fp);
	if (t->path == NULL)
		dump_entries(fp, t);
	else if (strcmp(t->backend, "static") == 0)
		dump_word(fp, t->path);
	else {
		char	 spec[1024];

		snprintf(spec, sizeof(spec), "%s:%s", t->backend, t->path);
		dump_word(fp, spec);
	}
	fputc('\n', fp);
}

/* " alias <name>", " alias { ... }" or a lone literal. */
static void
dump_tableref(FILE *fp, const char *keyword, const struct config_tableref *ref)
{
	const struct config_table	*t = ref->table;

	if (t == NULL)
		return;
	if (*keyword != '\0')
		fprintf(fp, " %s", keyword);
	if (ref->regex)
		fputs(" regex", fp);
	fputc(' ', fp);
	if (!t->anonymous) {
		fputc('<', fp);
		dump_word(fp, t->name);
		fputc('>', fp);
	} else if (t->nentries == 1 && !t->is_mapping)
		dump_word(fp, TAILQ_FIRST(&t->entries)->key);
	else
		dump_entries(fp, t);
}

static void
dump_names(FILE *fp, char **names, size_t n)
{
	size_t	 i;

	fputs("{ ", fp);
	for (i = 0; i < n; i++) {
		dump_word(fp, names[i]);
		fputs(i + 1 < n ? ", " : " }", fp);
	}
}

static void
dump_filter(const struct config_filter *f, FILE *fp)
{
	char	 buf[32];

	fputs("filter ", fp);
	dump_word(fp, f->name);
	if (f->kind == FILTER_CHAIN) {
		fputs(" chain ", fp);
		dump_names(fp, f->members, f->nmembers);
	} else {
		fputs(" proc-exec ", fp);
		dump_word(fp, f->command);
		fprintf(fp, " timeout %s", config_duration_text(f->timeout,
		    buf, sizeof(buf)));
	}
	fputc('\n', fp);
}

static void
dump_listener(const struct config_listener *l, FILE *fp)
{
	fputs("listen on ", fp);
	if (l->kind == LISTEN_SOCKET)
		fputs("socket", fp);
	else {
		dump_word(fp, l->on);
		if (l->family == AF_INET)
			fputs(" family inet4", fp);
		else if (l->family == AF_INET6)
			fputs(" family inet6", fp);
		fprintf(fp, " port %u", l->port);
	}
	if (l->hostname != NULL) {
		fputs(" hostname ", fp);
		dump_word(fp, l->hostname);
	}
	dump_tableref(fp, "hostnames", &l->hostnames);
	if (l->tag != NULL) {
		fputs(" tag ", fp);
		dump_word(fp, l->tag);
	}
	if (l->mask_src)
		fputs(" mask-src", fp);
	dump_tableref(fp, "senders", &l->senders);
	if (l->masquerade)
		fputs(" masquerade", fp);
	if (l->no_dsn)
		fputs(" no-dsn", fp);
	if (l->filter != NULL && l->filter->anonymous) {
		fputs(" filter ", fp);
		dump_names(fp, l->filter->members, l->filter->nmembers);
	} else if (l->filter_name != NULL) {
		fputs(" filter ", fp);
		dump_word(fp, l->filter_name);
	}
	fputc('\n', fp);
}

static void
dump_action(const struct config_action *a, FILE *fp)
{
	char	 buf[32];

	fputs("action ", fp);
	dump_word(fp, a->name);
	fprintf(fp, " %s", config_method_name(a->method));
	switch (a->method) {
	case ACTION_MAILDIR:
		if (a->maildir != NULL) {
			fputc(' ', fp);
			dump_word(fp, a->maildir);
		}
		if (a->junk)
			fputs(" junk", fp);
		break;
	case ACTION_LMTP:
		fputc(' ', fp);
		dump_word(fp, a->lmtp);
		if (a->lmtp_rcpt_to)
			fputs(" rcpt-to", fp);
		break;
	case ACTION_MDA:
		fputc(' ', fp);
		dump_word(fp, a->mda);
		break;
	default:
		break;
	}
	dump_tableref(fp, "alias", &a->alias);
	dump_tableref(fp, "virtual", &a->virtual);
	dump_tableref(fp, "userbase", &a->userbase);
	if (a->user != NULL) {
		fputs(" user ", fp);
		dump_word(fp, a->user);
	}
	if (a->ttl != 0)
		fprintf(fp, " ttl %s", config_duration_text(a->ttl, buf,
		    sizeof(buf)));
	if (a->wrapper_name != NULL) {
		fputs(" wrapper ", fp);
		dump_word(fp, a->wrapper_name);
	}
	fputc('\n', fp);
}

static void
dump_criterion(FILE *fp, const char *keyword, const struct match_criterion *c)
{
	if (!c->set)
		return;
	fprintf(fp, " %s%s", c->negate ? "!" : "", keyword);
	if (c->table.table != NULL)
		dump_tableref(fp, "", &c->table);
}

static void
dump_rule(const struct config_rule *r, FILE *fp)
{
	static const char *const froms[] = {
		[FROM_LOCAL] = "from local", [FROM_ANY] = "from any",
		[FROM_SOCKET] = "from socket", [FROM_SRC] = "from src",
		[FROM_RDNS] = "from rdns", [FROM_AUTH] = "from auth",
		[FROM_MAIL_FROM] = "from mail-from",
	};
	static const char *const fors[] = {
		[FOR_LOCAL] = "for local", [FOR_ANY] = "for any",
		[FOR_DOMAIN] = "for domain", [FOR_RCPT_TO] = "for rcpt-to",
	};

	fputs("match", fp);
	dump_criterion(fp, froms[r->from.kind], &r->from);
	dump_criterion(fp, fors[r->for_.kind], &r->for_);
	dump_criterion(fp, "auth", &r->auth);
	dump_criterion(fp, "helo", &r->helo);
	dump_criterion(fp, "mail-from", &r->mail_from);
	dump_criterion(fp, "rcpt-to", &r->rcpt_to);
	dump_criterion(fp, "tag", &r->tag);
	dump_criterion(fp, "tls", &r->tls);
	if (r->reject)
		fputs(" reject\n", fp);
	else {
		fputs(" action ", fp);
		dump_word(fp, r->action_name);
		fputc('\n', fp);
	}
}
