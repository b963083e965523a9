/*
 * table_config.c: the key/value configuration file of a table backend.
 *
 * A backend that talks to a database is declared with the path of its
 * own configuration file ("table users sqlite:/etc/mail/sqlite.conf");
 * this parser spares each backend from writing one.  The format:
 *
 *	# a comment: '#' as the first non-blank character of a line
 *	dbpath		/var/db/mail.db
 *	query_alias	SELECT value FROM aliases
 *			WHERE key = ?
 *
 * A key is the first word of a line (letters, digits, '_', '-', '.');
 * the value is the rest of the line with surrounding blanks removed.
 * A line that starts with a blank continues the value of the line above
 * (joined with one space), so that long SQL queries stay readable.
 * A '#' inside a value is kept: passwords and queries may hold one.
 * A key given twice, a key without a value, a line longer than
 * CONFIG_LINE_MAX or a value longer than CONFIG_VALUE_MAX is an error
 * reported as "file:line: what is wrong".
 */
#include <sys/types.h>

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtpd-api.h"

#define CONFIG_LINE_MAX		8192
#define CONFIG_VALUE_MAX	16384

struct config_entry {
	char	*key;
	char	*value;
	int	 line;
};

struct table_config {
	struct config_entry	*entries;
	size_t			 count;
	size_t			 cap;
};

static int	config_getline(FILE *, char *, size_t);
static int	config_parse(struct table_config *, FILE *, const char *,
		    char *, size_t);
static int	config_add(struct table_config *, const char *, const char *,
		    int);
static int	config_append(struct config_entry *, const char *);
static struct config_entry *config_find(const struct table_config *,
		    const char *);
static int	config_key_char(int);
static void	config_error(char *, size_t, const char *, int, const char *,
		    ...) __attribute__((__format__(printf, 5, 6)));

struct table_config *
table_config_load(const char *path, char *err, size_t errsz)
{
	struct table_config	*cf;
	FILE			*fp;

	if (err != NULL && errsz > 0)
		err[0] = '\0';
	if ((fp = fopen(path, "r")) == NULL) {
		if (err != NULL)
			snprintf(err, errsz, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if ((cf = calloc(1, sizeof(*cf))) == NULL) {
		if (err != NULL)
			snprintf(err, errsz, "%s: %s", path, strerror(errno));
		fclose(fp);
		return NULL;
	}
	if (config_parse(cf, fp, path, err, errsz) == -1) {
		table_config_free(cf);
		fclose(fp);
		return NULL;
	}
	fclose(fp);
	return cf;
}

const char *
table_config_get(const struct table_config *cf, const char *key)
{
	struct config_entry	*e;

	if (cf == NULL || key == NULL || (e = config_find(cf, key)) == NULL)
		return NULL;
	return e->value;
}

const char *
table_config_unknown(const struct table_config *cf,
    const char *const *allowed)
{
	size_t	 i, j;

	if (cf == NULL)
		return NULL;
	for (i = 0; i < cf->count; i++) {
		for (j = 0; allowed != NULL && allowed[j] != NULL; j++)
			if (strcmp(cf->entries[i].key, allowed[j]) == 0)
				break;
		if (allowed == NULL || allowed[j] == NULL)
			return cf->entries[i].key;
	}
	return NULL;
}

int
table_config_line(const struct table_config *cf, const char *key)
{
	struct config_entry	*e;

	if (cf == NULL || key == NULL || (e = config_find(cf, key)) == NULL)
		return 0;
	return e->line;
}

void
table_config_free(struct table_config *cf)
{
	size_t	 i;

	if (cf == NULL)
		return;
	for (i = 0; i < cf->count; i++) {
		free(cf->entries[i].key);
		free(cf->entries[i].value);
	}
	free(cf->entries);
	free(cf);
}

/*
 * Reads one line into buf without its newline.  Returns 1 with a line,
 * 0 at the end of the file, -1 on a read error, -2 for a line longer
 * than bufsz - 1 bytes and -3 for a NUL byte.  The rest of an overlong
 * line is not read: the caller stops at the first error.
 */
static int
config_getline(FILE *fp, char *buf, size_t bufsz)
{
	size_t	 len = 0;
	int	 c;

	while ((c = getc(fp)) != EOF && c != '\n') {
		if (c == '\0')
			return -3;
		if (len + 1 >= bufsz)
			return -2;
		buf[len++] = c;
	}
	buf[len] = '\0';
	if (c == EOF) {
		if (ferror(fp))
			return -1;
		if (len == 0)
			return 0;
	}
	return 1;
}

static int
config_parse(struct table_config *cf, FILE *fp, const char *path,
    char *err, size_t errsz)
{
	char	 line[CONFIG_LINE_MAX + 1];
	char	*p, *key, *value, *end;
	size_t	 len;
	int	 lineno = 0, r;

	for (;;) {
		lineno++;
		if ((r = config_getline(fp, line, sizeof(line))) == 0)
			break;
		if (r == -1) {
			if (err != NULL)
				snprintf(err, errsz, "%s: %s", path,
				    strerror(errno));
			return -1;
		}
		if (r == -2) {
			config_error(err, errsz, path, lineno,
			    "line too long (more than %d bytes)",
			    CONFIG_LINE_MAX);
			return -1;
		}
		if (r == -3) {
			config_error(err, errsz, path, lineno,
			    "NUL byte in line");
			return -1;
		}
		/* Trailing blanks (and a DOS carriage return) go. */
		len = strlen(line);
		while (len > 0 && isspace((unsigned char)line[len - 1]))
			line[--len] = '\0';
		for (p = line; isspace((unsigned char)*p); p++)
			;
		if (*p == '\0' || *p == '#')
			continue;

		if (p != line) {
			/* Continuation of the previous value. */
			if (cf->count == 0) {
				config_error(err, errsz, path, lineno,
				    "continuation line without a key above");
				return -1;
			}
			if (config_append(&cf->entries[cf->count - 1],
			    p) == -1) {
				if (errno == EMSGSIZE)
					config_error(err, errsz, path, lineno,
					    "value too long (more than %d "
					    "bytes)", CONFIG_VALUE_MAX);
				else
					config_error(err, errsz, path, lineno,
					    "out of memory");
				return -1;
			}
			continue;
		}

		key = p;
		for (end = p; config_key_char((unsigned char)*end); end++)
			;
		if (*end != '\0' && !isspace((unsigned char)*end)) {
			config_error(err, errsz, path, lineno,
			    "invalid character '%c' in key", *end);
			return -1;
		}
		for (value = end; isspace((unsigned char)*value); value++)
			;
		*end = '\0';
		if (*value == '\0') {
			config_error(err, errsz, path, lineno,
			    "missing value for key \"%s\"", key);
			return -1;
		}
		if (config_find(cf, key) != NULL) {
			config_error(err, errsz, path, lineno,
			    "duplicate key \"%s\" (first given on line %d)",
			    key, table_config_line(cf, key));
			return -1;
		}
		if (config_add(cf, key, value, lineno) == -1) {
			config_error(err, errsz, path, lineno,
			    "out of memory");
			return -1;
		}
	}
	return 0;
}

static int
config_add(struct table_config *cf, const char *key, const char *value,
    int line)
{
	struct config_entry	*entries, *e;
	size_t			 cap;

	if (cf->count == cf->cap) {
		cap = cf->cap ? cf->cap * 2 : 16;
		entries = reallocarray(cf->entries, cap, sizeof(*entries));
		if (entries == NULL)
			return -1;
		cf->entries = entries;
		cf->cap = cap;
	}
	e = &cf->entries[cf->count];
	if ((e->key = strdup(key)) == NULL)
		return -1;
	if ((e->value = strdup(value)) == NULL) {
		free(e->key);
		return -1;
	}
	e->line = line;
	cf->count++;
	return 0;
}

static int
config_append(struct config_entry *e, const char *more)
{
	size_t	 len = strlen(e->value), morelen = strlen(more);
	char	*value;

	if (len + 1 + morelen > CONFIG_VALUE_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	if ((value = realloc(e->value, len + 1 + morelen + 1)) == NULL)
		return -1;
	value[len] = ' ';
	memcpy(value + len + 1, more, morelen + 1);
	e->value = value;
	return 0;
}

static struct config_entry *
config_find(const struct table_config *cf, const char *key)
{
	size_t	 i;

	/* Configuration files hold a dozen keys: a scan is enough. */
	for (i = 0; i < cf->count; i++)
		if (strcmp(cf->entries[i].key, key) == 0)
			return &cf->entries[i];
	return NULL;
}

static int
config_key_char(int c)
{
	return isalnum(c) || c == '_' || c == '-' || c == '.';
}

static void
config_error(char *err, size_t errsz, const char *path, int line,
    const char *fmt, ...)
{
	char	 what[512];
	va_list	 ap;

	if (err == NULL || errsz == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(err, errsz, "%s:%d: %s", path, line, what);
}
