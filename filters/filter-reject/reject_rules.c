/*
 * reject_rules.c: reading filter-reject's rules file.
 *
 *	# comment (whole lines only)
 *	table NAME PATH
 *	CRITERION [MATCH] [CODE ENHANCED MESSAGE]
 *
 * Words split like a shell would (quotes group, backslash escapes; put
 * regexes in single quotes).  MATCH is <NAME> for a declared table(5)
 * file, or one inline entry written as that file would hold it.  Every
 * error is "file:line: what is wrong", found at start-up.
 */
#include <sys/types.h>

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtpd-api.h"
#include "static_file.h"
#include "reject_rules.h"

#define RULES_LINE_MAX	8192

struct named_table {
	char			*name;
	struct static_table	*table;		/* owned by the rules */
};

struct criterion_info {
	const char		*name;
	enum reject_criterion	 criterion;
	enum table_service	 service;	/* K_NONE: takes no MATCH */
	uint32_t		 query;
};

static const struct criterion_info criteria[] = {
	{ "client",	CRIT_CLIENT,	K_NETADDR,	IMSG_FILTER_CONNECT },
	{ "rdns",	CRIT_RDNS,	K_DOMAIN,	IMSG_FILTER_CONNECT },
	{ "no-rdns",	CRIT_NO_RDNS,	K_NONE,		IMSG_FILTER_CONNECT },
	{ "no-fcrdns",	CRIT_NO_FCRDNS,	K_NONE,		IMSG_FILTER_CONNECT },
	{ "helo",	CRIT_HELO,	K_DOMAIN,	IMSG_FILTER_HELO },
	{ "sender",	CRIT_SENDER,	K_MAILADDR,	IMSG_FILTER_MAIL },
	{ "recipient",	CRIT_RECIPIENT,	K_MAILADDR,	IMSG_FILTER_RCPT },
	{ "header",	CRIT_HEADER,	K_REGEX,	IMSG_FILTER_EOM },
};

static const struct criterion_info *criterion_find(const char *);
static int	 parse_line(struct reject_rules *, char **, int, char *,
		    size_t);
static int	 parse_table(struct reject_rules *, char **, int, char *,
		    size_t);
static void	 keep_table(struct reject_rules *, struct static_table *);
static int	 parse_match(struct reject_rules *, struct reject_rule *,
		    const char *, int, char *, size_t);
static int	 parse_reply(struct reject_rule *, char **, const char *, int,
		    char *, size_t);
static void	 rules_error(char *, size_t, const char *, int, const char *,
		    ...) __attribute__((__format__(printf, 5, 6)));

/* Tables by name, while the file is read. */
static struct named_table	*tables;
static size_t			 ntables;

struct reject_rules *
reject_rules_load(const char *path, char *err, size_t errsz)
{
	struct reject_rules	*rs;
	FILE			*f;
	char			*line = NULL, **words, *p, argerr[128];
	size_t			 cap = 0, i;
	ssize_t			 n;
	int			 lineno = 0, ok = 1;

	if ((f = fopen(path, "r")) == NULL) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if ((rs = calloc(1, sizeof(*rs))) == NULL ||
	    (rs->path = strdup(path)) == NULL)
		fatal("calloc");
	while (ok && (n = getline(&line, &cap, f)) != -1) {
		lineno++;
		if (n > RULES_LINE_MAX) {
			rules_error(err, errsz, path, lineno, "line longer "
			    "than %d bytes", RULES_LINE_MAX);
			ok = 0;
			break;
		}
		for (p = line; isspace((unsigned char)*p); p++)
			;
		if (*p == '\0' || *p == '#')
			continue;
		if ((words = imsgproc_argv_split(p, argerr,
		    sizeof(argerr))) == NULL) {
			rules_error(err, errsz, path, lineno, "%s", argerr);
			ok = 0;
			break;
		}
		if (strcmp(words[0], "table") == 0)
			ok = parse_table(rs, words, lineno, err, errsz) == 0;
		else
			ok = parse_line(rs, words, lineno, err, errsz) == 0;
		imsgproc_argv_free(words);
	}
	if (ok && ferror(f)) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		ok = 0;
	}
	free(line);
	fclose(f);
	/* Tables stay with the rules that use them; names are done. */
	for (i = 0; i < ntables; i++)
		free(tables[i].name);
	free(tables);
	tables = NULL;
	ntables = 0;
	if (!ok) {
		reject_rules_free(rs);
		return NULL;
	}
	return rs;
}

void
reject_rules_free(struct reject_rules *rs)
{
	size_t	 i;

	if (rs == NULL)
		return;
	for (i = 0; i < rs->ntables; i++)
		static_table_free(rs->tables[i]);
	free(rs->tables);
	free(rs->rules);
	free(rs->path);
	free(rs);
}

static void
keep_table(struct reject_rules *rs, struct static_table *t)
{
	struct static_table	**grown;

	if ((grown = reallocarray(rs->tables, rs->ntables + 1,
	    sizeof(*rs->tables))) == NULL)
		fatal("reallocarray");
	rs->tables = grown;
	rs->tables[rs->ntables++] = t;
}

/* table NAME PATH */
static int
parse_table(struct reject_rules *rs, char **words, int lineno, char *err,
    size_t errsz)
{
	struct named_table	*grown;
	struct static_table	*t;
	char			 terr[512];
	size_t			 i;
	int			 nw;

	for (nw = 0; words[nw] != NULL; nw++)
		;
	if (nw != 3) {
		rules_error(err, errsz, rs->path, lineno, "usage: table NAME "
		    "PATH");
		return -1;
	}
	for (i = 0; i < ntables; i++)
		if (strcmp(tables[i].name, words[1]) == 0) {
			rules_error(err, errsz, rs->path, lineno, "table <%s> "
			    "declared twice", words[1]);
			return -1;
		}
	if ((t = static_table_load_file(words[2], terr,
	    sizeof(terr))) == NULL) {
		rules_error(err, errsz, rs->path, lineno, "table <%s>: %s",
		    words[1], terr);
		return -1;
	}
	keep_table(rs, t);
	if ((grown = reallocarray(tables, ntables + 1,
	    sizeof(*tables))) == NULL)
		fatal("reallocarray");
	tables = grown;
	if ((tables[ntables].name = strdup(words[1])) == NULL)
		fatal("strdup");
	tables[ntables++].table = t;
	return 0;
}

/* CRITERION [MATCH] [CODE ENHANCED MESSAGE] */
static int
parse_line(struct reject_rules *rs, char **words, int lineno, char *err,
    size_t errsz)
{
	const struct criterion_info	*ci;
	struct reject_rule		 rule, *grown;
	int				 nw, w = 1;

	for (nw = 0; words[nw] != NULL; nw++)
		;
	if ((ci = criterion_find(words[0])) == NULL) {
		rules_error(err, errsz, rs->path, lineno, "unknown criterion "
		    "\"%s\" (client, rdns, no-rdns, no-fcrdns, helo, sender, "
		    "recipient, header, or a table declaration)", words[0]);
		return -1;
	}
	memset(&rule, 0, sizeof(rule));
	rule.criterion = ci->criterion;
	rule.service = ci->service;
	rule.status = FILTER_REJECT;
	rule.line = lineno;
	if (ci->service != K_NONE) {
		if (nw < 2) {
			rules_error(err, errsz, rs->path, lineno, "%s needs "
			    "something to match", ci->name);
			return -1;
		}
		if (parse_match(rs, &rule, words[1], lineno, err,
		    errsz) == -1)
			return -1;
		w = 2;
	}
	if (nw - w != 0 && nw - w != 3) {
		rules_error(err, errsz, rs->path, lineno, "the reply is CODE "
		    "ENHANCED \"MESSAGE\", e.g. 550 5.7.1 \"Go away\"");
		return -1;
	}
	if (nw - w == 3 &&
	    parse_reply(&rule, words + w, rs->path, lineno, err, errsz) == -1)
		return -1;

	if ((grown = reallocarray(rs->rules, rs->count + 1,
	    sizeof(*rs->rules))) == NULL)
		fatal("reallocarray");
	rs->rules = grown;
	rs->rules[rs->count++] = rule;
	rs->hooks |= filter_frame_hook(ci->query);
	/* Headers are read line by line. */
	if (ci->criterion == CRIT_HEADER)
		rs->hooks |= FILTER_HOOK_DATALINE;
	return 0;
}

/* <NAME>, or one inline entry loaded as a one-line table. */
static int
parse_match(struct reject_rules *rs, struct reject_rule *rule,
    const char *word, int lineno, char *err, size_t errsz)
{
	const char	*path = rs->path, *why;
	char		 label[16], terr[512], *text;
	size_t	 len = strlen(word), i;

	if (len > 2 && word[0] == '<' && word[len - 1] == '>') {
		for (i = 0; i < ntables; i++)
			if (strncmp(tables[i].name, word + 1, len - 2) == 0 &&
			    tables[i].name[len - 2] == '\0')
				break;
		if (i == ntables) {
			rules_error(err, errsz, path, lineno, "no table %s "
			    "declared above", word);
			return -1;
		}
		rule->table = tables[i].table;
	} else {
		strlcpy(label, "inline", sizeof(label));
		if (asprintf(&text, "%s%s\n", rule->criterion == CRIT_HEADER ?
		    "# @regex\n" : "", word) == -1)
			fatal("asprintf");
		rule->table = static_table_load_text(text, strlen(text),
		    label, terr, sizeof(terr));
		free(text);
		if (rule->table == NULL) {
			/* "inline:1: what": the line is ours, not the
			 * one-line table's. */
			why = strstr(terr, ": ");
			rules_error(err, errsz, path, lineno, "%s",
			    why != NULL ? why + 2 : terr);
			return -1;
		}
		keep_table(rs, rule->table);
		if (rule->table->count != 1 ||
		    rule->table->form != STATIC_LIST) {
			rules_error(err, errsz, path, lineno, "\"%s\" is not "
			    "one entry: use a table for more", word);
			return -1;
		}
	}
	if ((static_table_services(rule->table) & rule->service) == 0) {
		rules_error(err, errsz, path, lineno, "%s cannot be matched "
		    "as %s", word, table_service_name(rule->service));
		return -1;
	}
	return 0;
}

/* CODE ENHANCED MESSAGE: 5xx rejects, 4xx fails temporarily. */
static int
parse_reply(struct reject_rule *rule, char **words, const char *path,
    int lineno, char *err, size_t errsz)
{
	struct filter_reply	 rep;
	const char		*errstr;
	char			 why[256];

	rule->code = strtonum(words[0], 400, 599, &errstr);
	if (errstr != NULL) {
		rules_error(err, errsz, path, lineno, "code %s: must be 4xx "
		    "(tempfail) or 5xx (reject)", words[0]);
		return -1;
	}
	rule->status = rule->code >= 500 ? FILTER_REJECT : FILTER_TEMPFAIL;
	memset(&rep, 0, sizeof(rep));
	rep.status = rule->status;
	rep.code = rule->code;
	if (strlcpy(rep.enhanced, words[1], sizeof(rep.enhanced)) >=
	    sizeof(rep.enhanced) || strlcpy(rep.message, words[2],
	    sizeof(rep.message)) >= sizeof(rep.message)) {
		rules_error(err, errsz, path, lineno, "reply too long");
		return -1;
	}
	/* What the library would coerce at run time is an error here. */
	if (filter_reply_normalize(IMSG_FILTER_MAIL, &rep, why,
	    sizeof(why)) != 0 || rep.code != (uint32_t)rule->code ||
	    strcmp(rep.enhanced, words[1]) != 0) {
		rules_error(err, errsz, path, lineno, "bad reply: %s",
		    why[0] ? why : "enhanced code must be like 5.7.1");
		return -1;
	}
	strlcpy(rule->enhanced, rep.enhanced, sizeof(rule->enhanced));
	strlcpy(rule->message, rep.message, sizeof(rule->message));
	return 0;
}

static const struct criterion_info *
criterion_find(const char *name)
{
	size_t	 i;

	for (i = 0; i < sizeof(criteria) / sizeof(criteria[0]); i++)
		if (strcmp(criteria[i].name, name) == 0)
			return &criteria[i];
	return NULL;
}

const char *
reject_criterion_name(enum reject_criterion c)
{
	size_t	 i;

	for (i = 0; i < sizeof(criteria) / sizeof(criteria[0]); i++)
		if (criteria[i].criterion == c)
			return criteria[i].name;
	return "unknown";
}

uint32_t
reject_criterion_query(enum reject_criterion c)
{
	size_t	 i;

	for (i = 0; i < sizeof(criteria) / sizeof(criteria[0]); i++)
		if (criteria[i].criterion == c)
			return criteria[i].query;
	return 0;
}

static void
rules_error(char *err, size_t errsz, const char *path, int lineno,
    const char *fmt, ...)
{
	char	 msg[512];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(err, errsz, "%s:%d: %s", path, lineno, msg);
}
