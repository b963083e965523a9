/*
 * config.c: building blocks of the parsed configuration: creation and
 * freeing of its objects, macros, durations and sizes, and tables.
 *
 * parse.y calls these while it reads the file; config_check.c resolves
 * and checks what was read; config_dump.c prints it back.
 */
#include <sys/types.h>

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

static void	 table_entries_free(struct table_entry_list *);
static int	 table_entry_equal(const struct table_entry *,
		    const struct table_entry *);
static int	 table_name_char(int);
static char	**argv_make(const char *, const char *);

void
config_error(struct config_errors *errors, const struct config_where *where,
    const char *fmt, ...)
{
	va_list	 ap;

	if (errors->gave_up)
		return;
	/* A line already reported by the lexer would only cascade. */
	if (errors->poison_file != NULL && where != NULL &&
	    where->file == errors->poison_file &&
	    where->line == errors->poison_line)
		return;
	if (errors->count == CONFIG_MAX_ERRORS) {
		fprintf(errors->fp, "%s:%d: too many errors, giving up\n",
		    where ? where->file : "?", where ? where->line : 0);
		errors->gave_up = 1;
		return;
	}
	errors->count++;
	fprintf(errors->fp, "%s:%d: ", where ? where->file : "?",
	    where ? where->line : 0);
	va_start(ap, fmt);
	vfprintf(errors->fp, fmt, ap);
	va_end(ap);
	fputc('\n', errors->fp);
	fflush(errors->fp);
}

struct smtpd_config *
config_new(void)
{
	struct smtpd_config	*cfg;

	if ((cfg = calloc(1, sizeof(*cfg))) == NULL)
		return NULL;
	if ((cfg->spool = strdup(CONFIG_SPOOL_DEFAULT)) == NULL) {
		free(cfg);
		return NULL;
	}
	cfg->queue_ttl = CONFIG_QUEUE_TTL_DEFAULT;
	cfg->bounce_warn[0] = CONFIG_BOUNCE_WARN_DEFAULT;
	cfg->nbounce_warn = 1;
	cfg->max_message_size = CONFIG_MAX_MESSAGE_SIZE_DEFAULT;
	cfg->max_mails = CONFIG_MAX_MAILS_DEFAULT;
	cfg->max_rcpt = CONFIG_MAX_RCPT_DEFAULT;
	cfg->sub_addr_delim = CONFIG_SUB_ADDR_DELIM_DEFAULT;
	cfg->timeout_command = CONFIG_TIMEOUT_COMMAND_DEFAULT;
	cfg->timeout_data = CONFIG_TIMEOUT_DATA_DEFAULT;
	macro_list_init(&cfg->macros);
	TAILQ_INIT(&cfg->tables);
	TAILQ_INIT(&cfg->wrappers);
	TAILQ_INIT(&cfg->filters);
	TAILQ_INIT(&cfg->listeners);
	TAILQ_INIT(&cfg->actions);
	TAILQ_INIT(&cfg->rules);
	TAILQ_INIT(&cfg->files);
	return cfg;
}

const char *
config_file_name(struct smtpd_config *cfg, const char *name)
{
	struct config_file	*f;

	TAILQ_FOREACH(f, &cfg->files, entry)
		if (strcmp(f->name, name) == 0)
			return f->name;
	if ((f = calloc(1, sizeof(*f))) == NULL)
		return NULL;
	if ((f->name = strdup(name)) == NULL) {
		free(f);
		return NULL;
	}
	TAILQ_INSERT_TAIL(&cfg->files, f, entry);
	return f->name;
}

void
config_free(struct smtpd_config *cfg)
{
	struct config_table	*t;
	struct config_wrapper	*w;
	struct config_filter	*f;
	struct config_listener	*l;
	struct config_action	*a;
	struct config_rule	*r;
	struct config_file	*file;

	if (cfg == NULL)
		return;
	while ((r = TAILQ_FIRST(&cfg->rules)) != NULL) {
		TAILQ_REMOVE(&cfg->rules, r, entry);
		config_rule_free(r);
	}
	while ((a = TAILQ_FIRST(&cfg->actions)) != NULL) {
		TAILQ_REMOVE(&cfg->actions, a, entry);
		config_action_free(a);
	}
	while ((l = TAILQ_FIRST(&cfg->listeners)) != NULL) {
		TAILQ_REMOVE(&cfg->listeners, l, entry);
		config_listener_free(l);
	}
	while ((f = TAILQ_FIRST(&cfg->filters)) != NULL) {
		TAILQ_REMOVE(&cfg->filters, f, entry);
		config_filter_free(f);
	}
	while ((w = TAILQ_FIRST(&cfg->wrappers)) != NULL) {
		TAILQ_REMOVE(&cfg->wrappers, w, entry);
		free(w->name);
		free(w->command);
		free(w);
	}
	while ((t = TAILQ_FIRST(&cfg->tables)) != NULL) {
		TAILQ_REMOVE(&cfg->tables, t, entry);
		config_table_free(t);
	}
	while ((file = TAILQ_FIRST(&cfg->files)) != NULL) {
		TAILQ_REMOVE(&cfg->files, file, entry);
		free(file->name);
		free(file);
	}
	macro_list_clear(&cfg->macros);
	free(cfg->spool);
	free(cfg);
}

void
config_filter_free(struct config_filter *f)
{
	size_t	 i;

	if (f == NULL)
		return;
	free(f->name);
	free(f->command);
	imsgproc_argv_free(f->argv);
	for (i = 0; i < f->nmembers; i++)
		free(f->members[i]);
	free(f->members);
	free(f->chain);
	free(f);
}

void
config_listener_free(struct config_listener *l)
{
	if (l == NULL)
		return;
	free(l->on);
	free(l->hostname);
	config_tableref_clear(&l->hostnames);
	free(l->tag);
	config_tableref_clear(&l->senders);
	free(l->filter_name);
	free(l);
}

void
config_action_free(struct config_action *a)
{
	if (a == NULL)
		return;
	free(a->name);
	free(a->maildir);
	free(a->lmtp);
	free(a->mda);
	config_tableref_clear(&a->alias);
	config_tableref_clear(&a->virtual);
	config_tableref_clear(&a->userbase);
	free(a->user);
	free(a->wrapper_name);
	free(a);
}

void
config_rule_free(struct config_rule *r)
{
	if (r == NULL)
		return;
	config_tableref_clear(&r->from.table);
	config_tableref_clear(&r->for_.table);
	config_tableref_clear(&r->auth.table);
	config_tableref_clear(&r->helo.table);
	config_tableref_clear(&r->mail_from.table);
	config_tableref_clear(&r->rcpt_to.table);
	config_tableref_clear(&r->tag.table);
	config_tableref_clear(&r->tls.table);
	free(r->action_name);
	free(r);
}

/* The table itself belongs to the config: only the name is the ref's. */
void
config_tableref_clear(struct config_tableref *ref)
{
	free(ref->name);
	ref->name = NULL;
	ref->table = NULL;
}

/* ------------------------------------------------------------------ */
/* Lookups by name                                                     */
/* ------------------------------------------------------------------ */

struct config_table *
config_table_find(const struct smtpd_config *cfg, const char *name)
{
	struct config_table	*t;

	TAILQ_FOREACH(t, &cfg->tables, entry)
		if (!t->anonymous && strcmp(t->name, name) == 0)
			return t;
	return NULL;
}

struct config_action *
config_action_find(const struct smtpd_config *cfg, const char *name)
{
	struct config_action	*a;

	TAILQ_FOREACH(a, &cfg->actions, entry)
		if (strcmp(a->name, name) == 0)
			return a;
	return NULL;
}

struct config_filter *
config_filter_find(const struct smtpd_config *cfg, const char *name)
{
	struct config_filter	*f;

	TAILQ_FOREACH(f, &cfg->filters, entry)
		if (!f->anonymous && strcmp(f->name, name) == 0)
			return f;
	return NULL;
}

struct config_wrapper *
config_wrapper_find(const struct smtpd_config *cfg, const char *name)
{
	struct config_wrapper	*w;

	TAILQ_FOREACH(w, &cfg->wrappers, entry)
		if (strcmp(w->name, name) == 0)
			return w;
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Macros                                                              */
/* ------------------------------------------------------------------ */

void
macro_list_init(struct macro_list *list)
{
	TAILQ_INIT(list);
}

int
macro_name_valid(const char *name)
{
	const char	*p;

	if (*name == '\0')
		return 0;
	for (p = name; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && *p != '_')
			return 0;
	return 1;
}

int
macro_list_set(struct macro_list *list, const char *name, const char *value,
    int cmdline)
{
	struct macro	*m;
	char		*v;

	if (!macro_name_valid(name)) {
		errno = EINVAL;
		return -1;
	}
	if ((v = strdup(value)) == NULL)
		return -1;
	TAILQ_FOREACH(m, list, entry)
		if (strcmp(m->name, name) == 0) {
			free(m->value);
			m->value = v;
			m->cmdline = cmdline;
			return 0;
		}
	if ((m = calloc(1, sizeof(*m))) == NULL ||
	    (m->name = strdup(name)) == NULL) {
		free(m);
		free(v);
		return -1;
	}
	m->value = v;
	m->cmdline = cmdline;
	TAILQ_INSERT_TAIL(list, m, entry);
	return 0;
}

int
macro_list_define(struct macro_list *list, const char *definition)
{
	const char	*eq;
	char		*name;
	int		 r;

	if ((eq = strchr(definition, '=')) == NULL) {
		errno = EINVAL;
		return -1;
	}
	if ((name = strndup(definition, eq - definition)) == NULL)
		return -1;
	r = macro_list_set(list, name, eq + 1, 1);
	free(name);
	return r;
}

const char *
macro_list_get(const struct macro_list *list, const char *name)
{
	const struct macro	*m;

	TAILQ_FOREACH(m, list, entry)
		if (strcmp(m->name, name) == 0)
			return m->value;
	return NULL;
}

void
macro_list_clear(struct macro_list *list)
{
	struct macro	*m;

	while ((m = TAILQ_FIRST(list)) != NULL) {
		TAILQ_REMOVE(list, m, entry);
		free(m->name);
		free(m->value);
		free(m);
	}
}

/* ------------------------------------------------------------------ */
/* Values                                                              */
/* ------------------------------------------------------------------ */

int
config_parse_number(struct config_errors *errors,
    const struct config_where *where, const char *text, int64_t min,
    int64_t max, int64_t *out)
{
	const char	*p;
	int64_t		 n = 0;

	if (*text == '\0')
		goto bad;
	for (p = text; *p != '\0'; p++) {
		if (!isdigit((unsigned char)*p))
			goto bad;
		if (n > (INT64_MAX - (*p - '0')) / 10)
			goto range;
		n = n * 10 + (*p - '0');
	}
	if (n < min || n > max)
		goto range;
	*out = n;
	return 0;

bad:
	config_error(errors, where, "invalid number \"%s\"", text);
	return -1;
range:
	config_error(errors, where, "number \"%s\" out of range (%" PRId64
	    " to %" PRId64 ")", text, min, max);
	return -1;
}

/* A number with an optional s, m, h or d suffix; seconds. */
int
config_parse_duration(struct config_errors *errors,
    const struct config_where *where, const char *text, int *out)
{
	const char	*p;
	int64_t		 n = 0, unit = 1;

	for (p = text; isdigit((unsigned char)*p); p++) {
		n = n * 10 + (*p - '0');
		if (n > INT_MAX)
			goto range;
	}
	if (p == text)
		goto bad;
	switch (*p) {
	case '\0':
		break;
	case 's':
		break;
	case 'm':
		unit = 60;
		break;
	case 'h':
		unit = 3600;
		break;
	case 'd':
		unit = 86400;
		break;
	default:
		goto bad;
	}
	if (*p != '\0' && p[1] != '\0')
		goto bad;
	if (n * unit > INT_MAX)
		goto range;
	if (n == 0) {
		config_error(errors, where, "duration \"%s\" must not be zero",
		    text);
		return -1;
	}
	*out = (int)(n * unit);
	return 0;

bad:
	config_error(errors, where, "invalid duration \"%s\" (a number with "
	    "s, m, h or d)", text);
	return -1;
range:
	config_error(errors, where, "duration \"%s\" is too long", text);
	return -1;
}

/* A number of bytes with an optional K, M or G suffix (powers of 1024). */
int
config_parse_size(struct config_errors *errors,
    const struct config_where *where, const char *text, uint64_t *out)
{
	const char	*p;
	uint64_t	 n = 0, unit = 1;

	for (p = text; isdigit((unsigned char)*p); p++) {
		n = n * 10 + (*p - '0');
		if (n > UINT32_MAX * (uint64_t)1024)
			goto range;
	}
	if (p == text)
		goto bad;
	switch (*p) {
	case '\0':
		break;
	case 'k':
	case 'K':
		unit = 1024;
		break;
	case 'm':
	case 'M':
		unit = 1024 * 1024;
		break;
	case 'g':
	case 'G':
		unit = 1024 * 1024 * 1024;
		break;
	default:
		goto bad;
	}
	if (*p != '\0' && p[1] != '\0')
		goto bad;
	if (n > UINT64_MAX / unit)
		goto range;
	if (n == 0) {
		config_error(errors, where, "size \"%s\" must not be zero",
		    text);
		return -1;
	}
	*out = n * unit;
	return 0;

bad:
	config_error(errors, where, "invalid size \"%s\" (a number with K, M "
	    "or G)", text);
	return -1;
range:
	config_error(errors, where, "size \"%s\" is too large", text);
	return -1;
}

const char *
config_duration_text(int seconds, char *buf, size_t bufsz)
{
	if (seconds > 0 && seconds % 86400 == 0)
		snprintf(buf, bufsz, "%dd", seconds / 86400);
	else if (seconds > 0 && seconds % 3600 == 0)
		snprintf(buf, bufsz, "%dh", seconds / 3600);
	else if (seconds > 0 && seconds % 60 == 0)
		snprintf(buf, bufsz, "%dm", seconds / 60);
	else
		snprintf(buf, bufsz, "%ds", seconds);
	return buf;
}

const char *
config_size_text(uint64_t bytes, char *buf, size_t bufsz)
{
	const uint64_t	 k = 1024;

	if (bytes > 0 && bytes % (k * k * k) == 0)
		snprintf(buf, bufsz, "%" PRIu64 "G", bytes / (k * k * k));
	else if (bytes > 0 && bytes % (k * k) == 0)
		snprintf(buf, bufsz, "%" PRIu64 "M", bytes / (k * k));
	else if (bytes > 0 && bytes % k == 0)
		snprintf(buf, bufsz, "%" PRIu64 "K", bytes / k);
	else
		snprintf(buf, bufsz, "%" PRIu64, bytes);
	return buf;
}

const char *
config_method_name(enum action_method method)
{
	switch (method) {
	case ACTION_MBOX:
		return "mbox";
	case ACTION_MAILDIR:
		return "maildir";
	case ACTION_LMTP:
		return "lmtp";
	case ACTION_MDA:
		return "mda";
	case ACTION_FORWARD_ONLY:
		return "forward-only";
	case ACTION_EXPAND_ONLY:
		return "expand-only";
	case ACTION_RELAY:
		return "relay";
	}
	return "?";
}

/* ------------------------------------------------------------------ */
/* Tables                                                              */
/* ------------------------------------------------------------------ */

struct config_table *
config_table_new(void)
{
	struct config_table	*t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	TAILQ_INIT(&t->entries);
	return t;
}

static void
table_entries_free(struct table_entry_list *list)
{
	struct table_entry	*e;

	while ((e = TAILQ_FIRST(list)) != NULL) {
		TAILQ_REMOVE(list, e, entry);
		free(e->key);
		free(e->value);
		free(e);
	}
}

void
config_table_free(struct config_table *t)
{
	size_t	 i;

	if (t == NULL)
		return;
	table_entries_free(&t->entries);
	if (t->argv != NULL)
		for (i = 0; t->argv[i] != NULL; i++)
			free(t->argv[i]);
	free(t->argv);
	free(t->name);
	free(t->backend);
	free(t->path);
	free(t->config);
	free(t);
}

/*
 * Entries go to table-static as table(5) lines (see config_check.c),
 * so refuse what that form cannot carry: line breaks, a '#' that would
 * start a comment, a key that would be split, mixed forms, duplicates.
 * Takes key and value (which may be NULL) in every case.
 */
int
config_table_add_entry(struct config_errors *errors,
    const struct config_where *where, struct config_table *t, char *key,
    char *value)
{
	struct table_entry	*e, *o;
	const char		*p, *bad = NULL;

	if (*key == '\0' || (value != NULL && *value == '\0'))
		bad = "is empty";
	else if (strchr(key, '\n') != NULL ||
	    (value != NULL && strchr(value, '\n') != NULL))
		bad = "contains a line break";
	else if (strlen(key) > TABLE_KEY_MAX ||
	    (value != NULL && strlen(value) >= TABLE_VALUE_MAX))
		bad = "is too long";
	else if (*key == '#' || (value != NULL && *value == '#'))
		bad = "starts with '#'";
	if (bad == NULL)
		for (p = value != NULL ? value : key; *p != '\0'; p++)
			if (*p == '#' && isspace((unsigned char)p[-1]))
				bad = "has a '#' after a blank";
	/* table-static ends a key at a blank or ':', except in [v6], URLs. */
	if (bad == NULL && value != NULL && *key != '[' &&
	    strstr(key, "://") == NULL)
		for (p = key; *p != '\0'; p++)
			if (isspace((unsigned char)*p) || *p == ':')
				bad = "has a key with a blank or ':'";
	if (bad != NULL) {
		config_error(errors, where, "inline table entry \"%s\" %s",
		    key, bad);
		goto fail;
	}
	if (t->nentries > 0 && t->is_mapping != (value != NULL)) {
		config_error(errors, where, "inline table mixes list entries "
		    "and key = value entries");
		goto fail;
	}
	TAILQ_FOREACH(o, &t->entries, entry)
		if (strcasecmp(o->key, key) == 0) {
			config_error(errors, where, "duplicate entry \"%s\" in "
			    "inline table", key);
			goto fail;
		}
	if ((e = calloc(1, sizeof(*e))) == NULL) {
		config_error(errors, where, "%s", strerror(errno));
		goto fail;
	}
	e->key = key;
	e->value = value;
	t->is_mapping = value != NULL;
	t->nentries++;
	TAILQ_INSERT_TAIL(&t->entries, e, entry);
	return 0;

fail:
	free(key);
	free(value);
	return -1;
}

static int
table_name_char(int c)
{
	return isalnum(c) || c == '_' || c == '-' || c == '.';
}

static char **
argv_make(const char *program, const char *arg)
{
	char	**argv;

	if ((argv = calloc(3, sizeof(*argv))) == NULL)
		return NULL;
	if ((argv[0] = strdup(program)) == NULL ||
	    (arg != NULL && (argv[1] = strdup(arg)) == NULL)) {
		free(argv[0]);
		free(argv);
		return NULL;
	}
	return argv;
}

/*
 * "/path", "file:/path" (static) or "backend:/path".  The backend name
 * becomes the program table-<backend>; the path is its argument.
 */
int
config_table_set_source(struct config_errors *errors,
    const struct config_where *where, struct config_table *t,
    const char *spec)
{
	const char	*colon, *path = spec, *p;
	char		*backend = NULL, program[128];

	if ((colon = strchr(spec, ':')) != NULL && spec[0] != '/') {
		for (p = spec; p < colon; p++)
			if (!islower((unsigned char)*p) &&
			    !isdigit((unsigned char)*p) && *p != '-' &&
			    *p != '_')
				break;
		if (p != colon || p == spec || colon - spec > 64) {
			config_error(errors, where, "invalid table backend in "
			    "\"%s\"", spec);
			return -1;
		}
		backend = strndup(spec, colon - spec);
		path = colon + 1;
	} else
		backend = strdup("static");
	if (backend == NULL) {
		config_error(errors, where, "%s", strerror(errno));
		return -1;
	}
	if (strcmp(backend, "file") == 0) {
		free(backend);
		if ((backend = strdup("static")) == NULL) {
			config_error(errors, where, "%s", strerror(errno));
			return -1;
		}
	}
	if (*path != '/') {
		config_error(errors, where, "table path \"%s\" must be "
		    "absolute", path);
		free(backend);
		return -1;
	}
	snprintf(program, sizeof(program), "table-%s", backend);
	t->backend = backend;
	if ((t->path = strdup(path)) == NULL ||
	    (t->argv = argv_make(program, path)) == NULL ||
	    (t->config = strdup("")) == NULL) {
		config_error(errors, where, "%s", strerror(errno));
		return -1;
	}
	return 0;
}

/* Declared names may not look like the generated "inline:N". */
int
config_name_valid(const char *name)
{
	const char	*p;

	if (*name == '\0')
		return 0;
	for (p = name; *p != '\0'; p++)
		if (!table_name_char((unsigned char)*p))
			return 0;
	return 1;
}

static int
table_entry_equal(const struct table_entry *a, const struct table_entry *b)
{
	if (strcmp(a->key, b->key) != 0)
		return 0;
	if (a->value == NULL || b->value == NULL)
		return a->value == b->value;
	return strcmp(a->value, b->value) == 0;
}

struct config_table *
config_table_anonymous(struct smtpd_config *cfg, struct config_table *t)
{
	struct config_table	*o;
	struct table_entry	*a, *b;
	char			 name[32];

	TAILQ_FOREACH(o, &cfg->tables, entry) {
		if (!o->anonymous || o->nentries != t->nentries ||
		    o->is_mapping != t->is_mapping)
			continue;
		b = TAILQ_FIRST(&o->entries);
		TAILQ_FOREACH(a, &t->entries, entry) {
			if (!table_entry_equal(a, b))
				break;
			b = TAILQ_NEXT(b, entry);
		}
		if (a == NULL) {
			config_table_free(t);
			return o;
		}
	}
	snprintf(name, sizeof(name), "inline:%d", ++cfg->ninline);
	if ((t->name = strdup(name)) == NULL) {
		config_table_free(t);
		return NULL;
	}
	t->anonymous = 1;
	TAILQ_INSERT_TAIL(&cfg->tables, t, entry);
	return t;
}

/* The inline table's argv and HELLO text, once its uses are known. */
int
config_table_render(struct config_table *t)
{
	struct table_entry	*e;
	char			*text = NULL;
	size_t			 len = 0;
	FILE			*fp;

	if (t->path != NULL || t->argv != NULL)
		return 0;
	if ((fp = open_memstream(&text, &len)) == NULL)
		return -1;
	/*
	 * table-static decides list or mapping from the first line: say
	 * it, so that an entry with a blank in it stays whole.
	 */
	if (!t->is_mapping)
		fprintf(fp, "%s\n", t->services == K_REGEX ? "# @regex" :
		    "# @list");
	TAILQ_FOREACH(e, &t->entries, entry) {
		if (e->value != NULL)
			fprintf(fp, "%s %s\n", e->key, e->value);
		else
			fprintf(fp, "%s\n", e->key);
	}
	if (fclose(fp) != 0) {
		free(text);
		return -1;
	}
	t->config = text;
	if ((t->backend = strdup("static")) == NULL ||
	    (t->argv = argv_make("table-static", NULL)) == NULL)
		return -1;
	return 0;
}
