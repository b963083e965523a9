/*
 * aliases.c: parsing the values of aliases(5) and virtual tables, and
 * the lines of ~/.forward and :include: files.
 *
 * Only parsing lives here: what each target means is expand.c's job.
 * Values come from files an admin or a user wrote, so every target is
 * checked and a bad one is an error naming it, never a guess.
 */
#include <sys/types.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aliases.h"

static int	alias_split_next(const char **, char *, size_t, char *,
		    size_t);
static int	alias_parse_error(const char *, struct alias_target *, char *,
		    size_t);
static int	alias_user_valid(const char *);
static char	*alias_trim(char *);

const char *
alias_kind_name(enum alias_kind kind)
{
	switch (kind) {
	case ALIAS_USER:
		return "user";
	case ALIAS_ADDRESS:
		return "address";
	case ALIAS_FILE:
		return "file";
	case ALIAS_COMMAND:
		return "command";
	case ALIAS_INCLUDE:
		return "include";
	case ALIAS_ERROR:
		return "error";
	}
	return "unknown";
}

int
alias_parse_list(const char *list, alias_target_cb cb, void *arg, char *err,
    size_t errsz)
{
	struct alias_target	 target;
	const char		*p = list;
	char			 item[ENVELOPE_PATH_MAX + 16], why[128];
	int			 n = 0, r;

	for (;;) {
		r = alias_split_next(&p, item, sizeof(item), why, sizeof(why));
		if (r == -1) {
			snprintf(err, errsz, "target %d: %s", n + 1, why);
			return ALIAS_PARSE_ERROR;
		}
		if (r == 0)
			return n;
		/* "a,,b" or a trailing comma: nothing to deliver there. */
		if (item[0] == '\0' && r != 2)
			continue;
		if (alias_parse_target(item, &target, why, sizeof(why)) == -1) {
			snprintf(err, errsz, "target %d \"%s\": %s", n + 1,
			    item, why);
			return ALIAS_PARSE_ERROR;
		}
		n++;
		if (cb != NULL && cb(&target, arg) != 0)
			return ALIAS_PARSE_STOPPED;
	}
}

int
alias_parse_lines(const char *text, alias_target_cb cb, void *arg,
    char *err, size_t errsz)
{
	char	*copy, *next, *line, *s, why[512];
	int	 lineno = 0, n = 0, r;

	if ((copy = strdup(text)) == NULL) {
		snprintf(err, errsz, "out of memory");
		return ALIAS_PARSE_ERROR;
	}
	for (next = copy; next != NULL; ) {
		line = strsep(&next, "\n");
		lineno++;
		s = alias_trim(line);
		if (*s == '\0' || *s == '#')
			continue;
		if ((r = alias_parse_list(s, cb, arg, why, sizeof(why))) < 0) {
			if (r == ALIAS_PARSE_ERROR)
				snprintf(err, errsz, "line %d: %s", lineno,
				    why);
			free(copy);
			return r;
		}
		n += r;
	}
	free(copy);
	return n;
}

/*
 * Take the next comma-separated item off *p into item, quotes and
 * backslashes resolved.  1 got one, 2 got one that was quoted (so an
 * empty "" is still a target, and an invalid one), 0 at the end, -1 on
 * an error.
 */
static int
alias_split_next(const char **p, char *item, size_t itemsz, char *err,
    size_t errsz)
{
	const char	*s = *p;
	size_t		 len = 0, end = 0;
	int		 quoted = 0, inquote = 0;

	while (isspace((unsigned char)*s))
		s++;
	if (*s == '\0') {
		*p = s;
		return 0;
	}
	/* Blanks outside quotes at either end are dropped; inside kept. */
	for (; *s != '\0'; s++) {
		if (*s == ',' && !inquote)
			break;
		if (*s == '"') {
			inquote = !inquote;
			quoted = 1;
			end = len;
			continue;
		}
		if (*s == '\\') {
			if (s[1] == '\0') {
				snprintf(err, errsz, "backslash at the end");
				return -1;
			}
			/* "\user" keeps its backslash: it means verbatim. */
			if (len == 0 && !inquote && !quoted &&
			    s[1] != ',' && s[1] != '"' && s[1] != '\\') {
				if (len + 1 >= itemsz)
					goto toolong;
				item[len++] = '\\';
			}
			s++;
			if (len + 1 >= itemsz)
				goto toolong;
			item[len++] = *s;
			end = len;
			continue;
		}
		if (len + 1 >= itemsz)
			goto toolong;
		item[len++] = *s;
		if (inquote || !isspace((unsigned char)*s))
			end = len;
	}
	if (inquote) {
		snprintf(err, errsz, "unbalanced quote");
		return -1;
	}
	item[end] = '\0';
	*p = *s == ',' ? s + 1 : s;
	return quoted ? 2 : 1;
toolong:
	snprintf(err, errsz, "longer than %zu bytes", itemsz - 1);
	return -1;
}

int
alias_parse_target(const char *item, struct alias_target *t, char *err,
    size_t errsz)
{
	const char	*s = item;
	size_t		 i;

	memset(t, 0, sizeof(*t));
	while (isspace((unsigned char)*s))
		s++;
	if (*s == '\0') {
		snprintf(err, errsz, "empty target");
		return -1;
	}
	if (*s == '|') {
		s++;
		while (isspace((unsigned char)*s))
			s++;
		if (*s == '\0') {
			snprintf(err, errsz, "empty command");
			return -1;
		}
		t->kind = ALIAS_COMMAND;
		goto path;
	}
	if (*s == '/') {
		t->kind = ALIAS_FILE;
		goto path;
	}
	if (strncasecmp(s, ":include:", 9) == 0) {
		s += 9;
		while (isspace((unsigned char)*s))
			s++;
		if (*s != '/') {
			snprintf(err, errsz, ":include: needs an absolute "
			    "path");
			return -1;
		}
		t->kind = ALIAS_INCLUDE;
		goto path;
	}
	if (strncasecmp(s, "error:", 6) == 0)
		return alias_parse_error(s + 6, t, err, errsz);

	if (*s == '\\') {
		t->verbatim = 1;
		s++;
	}
	for (i = 0; s[i] != '\0'; i++)
		if (iscntrl((unsigned char)s[i]) ||
		    isspace((unsigned char)s[i])) {
			snprintf(err, errsz, "blank or control character in "
			    "an address");
			return -1;
		}
	if (strchr(s, '@') != NULL) {
		if (t->verbatim) {
			snprintf(err, errsz, "\\ applies to local users only");
			return -1;
		}
		if (mailaddr_from_text(&t->addr, s) == -1 ||
		    t->addr.user[0] == '\0' || t->addr.domain[0] == '\0') {
			snprintf(err, errsz, "invalid address");
			return -1;
		}
		for (i = 0; t->addr.domain[i] != '\0'; i++)
			t->addr.domain[i] = tolower(
			    (unsigned char)t->addr.domain[i]);
		t->kind = ALIAS_ADDRESS;
		return 0;
	}
	if (!alias_user_valid(s)) {
		snprintf(err, errsz, "invalid user name");
		return -1;
	}
	if (strlcpy(t->user, s, sizeof(t->user)) >= sizeof(t->user)) {
		snprintf(err, errsz, "user name too long");
		return -1;
	}
	for (i = 0; t->user[i] != '\0'; i++)
		t->user[i] = tolower((unsigned char)t->user[i]);
	t->kind = ALIAS_USER;
	return 0;

path:
	if (strlcpy(t->path, s, sizeof(t->path)) >= sizeof(t->path)) {
		snprintf(err, errsz, "longer than %zu bytes",
		    sizeof(t->path) - 1);
		return -1;
	}
	for (i = 0; t->path[i] != '\0'; i++)
		if (iscntrl((unsigned char)t->path[i])) {
			snprintf(err, errsz, "control character");
			return -1;
		}
	return 0;
}

/* "550 text", "550 5.1.1 text", "421 4.3.2". */
static int
alias_parse_error(const char *s, struct alias_target *t, char *err,
    size_t errsz)
{
	const char	*p;
	size_t		 n;

	while (isspace((unsigned char)*s))
		s++;
	if (!isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1]) ||
	    !isdigit((unsigned char)s[2]) ||
	    (s[3] != '\0' && !isspace((unsigned char)s[3])) ||
	    (s[0] != '4' && s[0] != '5')) {
		snprintf(err, errsz, "error: needs a 4xx or 5xx code");
		return -1;
	}
	t->kind = ALIAS_ERROR;
	t->code = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
	s += 3;
	while (isspace((unsigned char)*s))
		s++;
	/* An enhanced code of the same class, if one comes first. */
	p = s;
	if (p[0] == s[0] && p[0] != '\0' && p[1] == '.') {
		n = strspn(p + 2, "0123456789");
		if (n > 0 && n <= 3 && p[2 + n] == '.' &&
		    strspn(p + 3 + n, "0123456789") > 0 &&
		    strspn(p + 3 + n, "0123456789") <= 3) {
			n = 3 + n + strspn(p + 3 + n, "0123456789");
			if (p[n] == '\0' || isspace((unsigned char)p[n])) {
				if (p[0] - '0' != t->code / 100) {
					snprintf(err, errsz, "enhanced code "
					    "of another class than %d",
					    t->code);
					return -1;
				}
				memcpy(t->esc, p, n);
				t->esc[n] = '\0';
				s = p + n;
				while (isspace((unsigned char)*s))
					s++;
			}
		}
	}
	if (t->esc[0] == '\0')
		snprintf(t->esc, sizeof(t->esc), "%d.0.0", t->code / 100);
	if (*s == '\0')
		s = "Delivery refused";
	strlcpy(t->text, s, sizeof(t->text));
	for (n = 0; t->text[n] != '\0'; n++)
		if (iscntrl((unsigned char)t->text[n]))
			t->text[n] = '?';
	return 0;
}

/* What getpwnam and a table key can hold; no '/', ':' or '|'. */
static int
alias_user_valid(const char *s)
{
	if (*s == '\0' || *s == '-' || *s == ':')
		return 0;
	for (; *s != '\0'; s++)
		if (*s == '/' || *s == ':' || *s == '|' || *s == '"' ||
		    *s == '\\')
			return 0;
	return 1;
}

static char *
alias_trim(char *s)
{
	char	*end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}
