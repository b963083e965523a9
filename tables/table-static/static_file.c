/*
 * static_file.c: reading a table(5) file into memory.
 *
 * A file is a list (one entry per line) or a mapping (key, then blanks
 * and/or ':', then the value); the first entry decides, and a "# @list"
 * or "# @regex" comment before it forces a list whose entries are whole
 * lines.  Everything a lookup will rely on is checked here, once, with
 * "file:line: what is wrong" errors: a table that loads answers every
 * request without surprises.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <netinet/in.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "static_file.h"

static int	static_parse_line(struct static_table *, char *, int,
		    char *, size_t);
static int	static_marker(struct static_table *, const char *);
static void	static_strip_comment(char *);
static int	static_split(char *, char **, const char **);
static size_t	static_bare_ipv6(const char *);
static int	static_add(struct static_table *, const char *, const char *,
		    int);

struct static_table *
static_table_load_file(const char *path, char *err, size_t errsz)
{
	struct static_table	*t;
	struct stat		 sb;
	char			*text = NULL;
	size_t			 len = 0, cap = 0;
	ssize_t			 n;
	int			 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &sb) == -1 || S_ISDIR(sb.st_mode)) {
		snprintf(err, errsz, "%s: %s", path,
		    S_ISDIR(sb.st_mode) ? "is a directory" : strerror(errno));
		close(fd);
		return NULL;
	}
	for (;;) {
		if (len == cap) {
			char	*p;

			if (cap >= STATIC_FILE_MAX) {
				snprintf(err, errsz, "%s: file larger than %d "
				    "bytes", path, STATIC_FILE_MAX);
				goto fail;
			}
			cap = cap ? cap * 2 : 64 * 1024;
			if (cap > STATIC_FILE_MAX)
				cap = STATIC_FILE_MAX;
			if ((p = realloc(text, cap)) == NULL) {
				snprintf(err, errsz, "%s: %s", path,
				    strerror(errno));
				goto fail;
			}
			text = p;
		}
		if ((n = read(fd, text + len, cap - len)) == -1) {
			if (errno == EINTR)
				continue;
			snprintf(err, errsz, "%s: %s", path, strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		len += n;
	}
	close(fd);
	t = static_table_load_text(text ? text : "", len, path, err, errsz);
	free(text);
	return t;

fail:
	close(fd);
	free(text);
	return NULL;
}

struct static_table *
static_table_load_text(const char *text, size_t len, const char *label,
    char *err, size_t errsz)
{
	struct static_table	*t;
	char			 line[STATIC_LINE_MAX + 1];
	const char		*p = text, *end = text + len, *nl;
	size_t			 linelen;
	int			 lineno = 0;

	if ((t = calloc(1, sizeof(*t))) == NULL ||
	    (t->source = strdup(label)) == NULL) {
		snprintf(err, errsz, "%s: %s", label, strerror(errno));
		free(t);
		return NULL;
	}
	while (p < end) {
		lineno++;
		if ((nl = memchr(p, '\n', end - p)) == NULL)
			nl = end;
		linelen = nl - p;
		if (linelen > STATIC_LINE_MAX) {
			static_error(err, errsz, label, lineno,
			    "line too long (more than %d bytes)",
			    STATIC_LINE_MAX);
			goto fail;
		}
		if (memchr(p, '\0', linelen) != NULL) {
			static_error(err, errsz, label, lineno,
			    "NUL byte in line");
			goto fail;
		}
		memcpy(line, p, linelen);
		line[linelen] = '\0';
		if (static_parse_line(t, line, lineno, err, errsz) == -1)
			goto fail;
		p = nl + 1;
	}
	if (static_table_index(t, err, errsz) == -1)
		goto fail;
	return t;

fail:
	static_table_free(t);
	return NULL;
}

void
static_table_free(struct static_table *t)
{
	size_t	 i;

	if (t == NULL)
		return;
	for (i = 0; i < t->count; i++) {
		free(t->entries[i].key);
		free(t->entries[i].raw);
		free(t->entries[i].value);
		if (t->regexes != NULL)
			regfree(&t->regexes[i]);
	}
	free(t->regexes);
	free(t->entries);
	free(t->order);
	free(t->nets);
	free(t->source);
	free(t);
}

uint64_t
static_table_services(const struct static_table *t)
{
	return t->services;
}

const char *
static_form_name(enum static_form form)
{
	switch (form) {
	case STATIC_LIST:
		return "list";
	case STATIC_MAPPING:
		return "mapping";
	default:
		return "empty";
	}
}

static int
static_parse_line(struct static_table *t, char *line, int lineno,
    char *err, size_t errsz)
{
	enum static_form	 form;
	char			*key, *value, *end;
	const char		*why;
	size_t			 i;

	for (key = line; isspace((unsigned char)*key); key++)
		;
	if (*key == '#' && t->count == 0 && !t->forced &&
	    static_marker(t, key + 1))
		return 0;
	static_strip_comment(key);
	end = key + strlen(key);
	while (end > key && isspace((unsigned char)end[-1]))
		*--end = '\0';
	if (*key == '\0')
		return 0;

	if (t->forced)
		value = NULL;
	else if (static_split(key, &value, &why) == -1) {
		static_error(err, errsz, t->source, lineno, "%s", why);
		return -1;
	}

	form = value != NULL ? STATIC_MAPPING : STATIC_LIST;
	if (t->form == STATIC_EMPTY)
		t->form = form;
	else if (t->form != form) {
		static_error(err, errsz, t->source, lineno,
		    "%s, but the table is a %s (see line %d)",
		    form == STATIC_MAPPING ? "entry with a value" :
		    "entry without a value", static_form_name(t->form),
		    t->entries[0].line);
		return -1;
	}
	if (strlen(key) > TABLE_KEY_MAX) {
		static_error(err, errsz, t->source, lineno,
		    "key too long (more than %d bytes)", TABLE_KEY_MAX);
		return -1;
	}
	if (value != NULL && strlen(value) >= TABLE_VALUE_MAX) {
		static_error(err, errsz, t->source, lineno,
		    "value too long (more than %d bytes)",
		    TABLE_VALUE_MAX - 1);
		return -1;
	}
	if (static_add(t, key, value, lineno) == -1) {
		static_error(err, errsz, t->source, lineno, "%s",
		    strerror(errno));
		return -1;
	}
	for (i = 0; t->entries[t->count - 1].key[i] != '\0'; i++)
		t->entries[t->count - 1].key[i] =
		    tolower((unsigned char)t->entries[t->count - 1].key[i]);
	return 0;
}

/* A comment before the first entry may force the form of the table. */
static int
static_marker(struct static_table *t, const char *text)
{
	char	 word[16];
	size_t	 len;

	while (isspace((unsigned char)*text))
		text++;
	len = strlen(text);
	while (len > 0 && isspace((unsigned char)text[len - 1]))
		len--;
	if (len >= sizeof(word))
		return 0;
	memcpy(word, text, len);
	word[len] = '\0';
	if (strcmp(word, "@list") == 0) {
		t->forced = 1;
		t->form = STATIC_LIST;
		return 1;
	}
	if (strcmp(word, "@regex") == 0) {
		t->forced = 1;
		t->regex_only = 1;
		t->form = STATIC_LIST;
		return 1;
	}
	return 0;
}

/*
 * '#' starts a comment at the start of a line or after a blank, so that
 * a value such as a password or a "pass#word" keeps its '#'.
 */
static void
static_strip_comment(char *line)
{
	char	*p;

	for (p = line; *p != '\0'; p++)
		if (*p == '#' && (p == line || isspace((unsigned char)p[-1]))) {
			*p = '\0';
			return;
		}
}

/*
 * Cut a line into key and value.  The key ends at a blank or ':' (an
 * IPv6 address in brackets keeps its colons, also in an address
 * literal, and so does one without brackets); then come blanks, and a ':' followed by a blank, as in
 * "root: gilles", "root gilles" and "root:gilles".  A value that starts with ':' after a blank stays
 * whole (":include:/path"), and so does a URL ("smtp://host").
 * *valuep is NULL on a line without value.
 */
static int
static_split(char *line, char **valuep, const char **why)
{
	char	*p = line, *bracket;

	*valuep = NULL;
	/* Brackets keep their colons, at the start of the key or later:
	 * "[2001:db8::1]", "gilles@[IPv6:2001:db8::1]". */
	bracket = p + strcspn(p, "[: \t\r\v\f");
	if (*bracket == '[') {
		if ((p = strchr(bracket, ']')) == NULL) {
			*why = "'[' without ']' in key";
			return -1;
		}
	} else
		p += static_bare_ipv6(p);
	/* After "scheme://" (a relayhost list) ':' is part of the URL. */
	for (; *p != '\0' && !isspace((unsigned char)*p); p++) {
		if (*p != ':')
			continue;
		if (strncmp(p, "://", 3) != 0)
			break;
		while (*p != '\0' && !isspace((unsigned char)*p))
			p++;
		break;
	}
	if (*p == '\0')
		return 0;
	if (*p == ':')
		*p++ = '\0';
	else {
		*p++ = '\0';
		while (isspace((unsigned char)*p))
			p++;
		if (*p == ':' && (p[1] == '\0' || isspace((unsigned char)p[1])))
			p++;
	}
	while (isspace((unsigned char)*p))
		p++;
	if (*p != '\0')
		*valuep = p;
	return 0;
}

/*
 * The length of the first word of s when it is an IPv6 address or
 * network written without brackets ("2001:db8::1", "::1/128", and
 * "::1:" before a value), or one that only a typo keeps from being
 * one ("2001:db8::/129"), so that the whole word is the key and the
 * typo is reported; else 0.
 */
static size_t
static_bare_ipv6(const char *s)
{
	struct static_net	 net;
	char			 word[INET6_ADDRSTRLEN + 16];
	const char		*why;
	size_t			 len;
	int			 r;

	len = strcspn(s, " \t\r\v\f");
	if (len == 0 || len >= sizeof(word) || memchr(s, ':', len) == NULL)
		return 0;
	memcpy(word, s, len);
	word[len] = '\0';
	if ((r = static_net_parse(word, &net, &why)) != 1 &&
	    word[len - 1] == ':') {
		/* "::1: localhost": that last ':' is the separator */
		word[len - 1] = '\0';
		if (static_net_parse(word, &net, &why) == 1)
			return len - 1;
	}
	return r != 0 ? len : 0;
}

static int
static_add(struct static_table *t, const char *key, const char *value,
    int line)
{
	struct static_entry	*e;
	size_t			 cap;

	if (t->count == t->cap) {
		cap = t->cap ? t->cap * 2 : 64;
		if ((e = reallocarray(t->entries, cap, sizeof(*e))) == NULL)
			return -1;
		t->entries = e;
		t->cap = cap;
	}
	e = &t->entries[t->count];
	memset(e, 0, sizeof(*e));
	e->line = line;
	if ((e->key = strdup(key)) == NULL || (e->raw = strdup(key)) == NULL ||
	    (value != NULL && (e->value = strdup(value)) == NULL)) {
		free(e->key);
		free(e->raw);
		return -1;
	}
	t->count++;
	return 0;
}


void
static_error(char *err, size_t errsz, const char *source, int line,
    const char *fmt, ...)
{
	char	 what[512];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(err, errsz, "%s:%d: %s", source, line, what);
}
