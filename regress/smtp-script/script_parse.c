/*
 * script_parse.c: reading a scenario script into commands, ${name}
 * variables and the escapes of send-raw.  The language is described at
 * the top of smtp_script.c.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "script.h"

#define VARS_MAX	64

struct keyword {
	const char	*name;
	enum script_op	 op;
	int		 arg;		/* 0 none, 1 required, 2 optional */
};

static const struct keyword keywords[] = {
	{ "connect",		OP_CONNECT,		1 },
	{ "connect-unix",	OP_CONNECT_UNIX,	1 },
	{ "close",		OP_CLOSE,		0 },
	{ "send",		OP_SEND,		2 },
	{ "send-raw",		OP_SEND_RAW,		1 },
	{ "data-file",		OP_DATA_FILE,		1 },
	{ "expect",		OP_EXPECT,		1 },
	{ "expect-close",	OP_EXPECT_CLOSE,	0 },
	{ "expect-silence",	OP_EXPECT_SILENCE,	1 },
	{ "sleep-until-closed",	OP_SLEEP_UNTIL_CLOSED,	0 },
	{ "timeout",		OP_TIMEOUT,		1 },
	{ "wait-file",		OP_WAIT_FILE,		1 },
	{ "print",		OP_PRINT,		2 },
	{ "pipeline",		OP_PIPELINE,		0 },
	{ "repeat",		OP_REPEAT,		1 },
};

static char	*var_name[VARS_MAX];
static char	*var_value[VARS_MAX];
static int	 nvars;

static struct script_cmd *parse_block(FILE *, const char *, int *, int,
		    int *, int *);

/*
 * Commands up to "end" (inside a block) or the end of the file.
 * *lineno counts lines; *ended says an "end" closed the block.
 */
static struct script_cmd *
parse_block(FILE *fp, const char *name, int *lineno, int depth, int *ended,
    int *error)
{
	struct script_cmd	*head = NULL, **tail = &head, *c;
	const struct keyword	*kw;
	char			 buf[8192], *p, *word, *arg;
	size_t			 len, i;
	int			 sub_ended;

	*ended = 0;
	while (fgets(buf, sizeof(buf), fp) != NULL) {
		(*lineno)++;
		len = strlen(buf);
		if (len == sizeof(buf) - 1 && buf[len - 1] != '\n') {
			fprintf(stderr, "%s:%d: line too long\n", name,
			    *lineno);
			(*error)++;
			return head;
		}
		if (len > 0 && buf[len - 1] == '\n')
			buf[--len] = '\0';
		if (len > 0 && buf[len - 1] == '\r')
			buf[--len] = '\0';
		for (p = buf; *p == ' ' || *p == '\t'; p++)
			;
		if (*p == '\0' || *p == '#')
			continue;
		word = p;
		while (*p != '\0' && *p != ' ' && *p != '\t')
			p++;
		arg = NULL;
		if (*p != '\0') {
			*p++ = '\0';
			while (*p == ' ' || *p == '\t')
				p++;
			arg = p;	/* the rest, trailing blanks kept */
		}
		if (strcmp(word, "end") == 0) {
			if (depth == 0) {
				fprintf(stderr, "%s:%d: \"end\" without a "
				    "block\n", name, *lineno);
				(*error)++;
				continue;
			}
			*ended = 1;
			return head;
		}
		kw = NULL;
		for (i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++)
			if (strcmp(word, keywords[i].name) == 0)
				kw = &keywords[i];
		if (kw == NULL) {
			fprintf(stderr, "%s:%d: unknown command \"%s\"\n", name,
			    *lineno, word);
			(*error)++;
			continue;
		}
		if (kw->arg == 1 && (arg == NULL || *arg == '\0')) {
			fprintf(stderr, "%s:%d: %s needs an argument\n", name,
			    *lineno, word);
			(*error)++;
			continue;
		}
		if (kw->arg == 0 && arg != NULL && *arg != '\0') {
			fprintf(stderr, "%s:%d: %s takes no argument\n", name,
			    *lineno, word);
			(*error)++;
			continue;
		}
		if ((c = calloc(1, sizeof(*c))) == NULL ||
		    (c->arg = strdup(arg != NULL ? arg : "")) == NULL) {
			perror("calloc");
			exit(2);
		}
		c->line = *lineno;
		c->op = kw->op;
		*tail = c;
		tail = &c->next;
		if (c->op == OP_PIPELINE || c->op == OP_REPEAT) {
			c->body = parse_block(fp, name, lineno, depth + 1,
			    &sub_ended, error);
			if (!sub_ended) {
				fprintf(stderr, "%s:%d: %s without \"end\"\n",
				    name, c->line, word);
				(*error)++;
				return head;
			}
		}
	}
	return head;
}

struct script_cmd *
script_parse(FILE *fp, const char *name, int *error)
{
	struct script_cmd	*head;
	int			 lineno = 0, ended;

	*error = 0;
	head = parse_block(fp, name, &lineno, 0, &ended, error);
	if (ferror(fp)) {
		fprintf(stderr, "%s: read error\n", name);
		(*error)++;
	}
	return head;
}

int
vars_define(const char *definition)
{
	const char	*eq = strchr(definition, '=');
	size_t		 i;

	if (eq == NULL || eq == definition || nvars == VARS_MAX)
		return -1;
	for (i = 0; definition + i < eq; i++)
		if (!isalnum((unsigned char)definition[i]) &&
		    definition[i] != '_')
			return -1;
	var_name[nvars] = strndup(definition, eq - definition);
	var_value[nvars] = strdup(eq + 1);
	if (var_name[nvars] == NULL || var_value[nvars] == NULL)
		return -1;
	nvars++;
	return 0;
}

int
vars_expand(const char *src, int counter, char *dst, size_t dstsz,
    char *err, size_t errsz)
{
	char		 name[128], num[32];
	const char	*end, *value;
	size_t		 used = 0, n;
	int		 i;

	while (*src != '\0') {
		value = NULL;
		if (src[0] == '$' && src[1] == '{' &&
		    (end = strchr(src, '}')) != NULL &&
		    (size_t)(end - src - 2) < sizeof(name)) {
			memcpy(name, src + 2, end - src - 2);
			name[end - src - 2] = '\0';
			for (i = nvars - 1; i >= 0 && value == NULL; i--)
				if (strcmp(var_name[i], name) == 0)
					value = var_value[i];
			if (value == NULL && strcmp(name, "n") == 0) {
				if (counter == 0) {
					snprintf(err, errsz, "${n} outside "
					    "a repeat");
					return -1;
				}
				snprintf(num, sizeof(num), "%d", counter);
				value = num;
			}
			if (value == NULL)
				value = getenv(name);
			if (value == NULL) {
				snprintf(err, errsz, "${%s} is not defined",
				    name);
				return -1;
			}
			src = end + 1;
		}
		n = value != NULL ? strlen(value) : 1;
		if (used + n >= dstsz) {
			snprintf(err, errsz, "line too long once expanded");
			return -1;
		}
		if (value != NULL)
			memcpy(dst + used, value, n);
		else
			dst[used] = *src++;
		used += n;
	}
	dst[used] = '\0';
	return 0;
}

int
unescape(const char *src, char *dst, size_t dstsz)
{
	size_t		 used = 0;
	unsigned int	 v;
	char		 c;

	while (*src != '\0') {
		if (used + 1 >= dstsz)
			return -1;
		if (*src != '\\') {
			dst[used++] = *src++;
			continue;
		}
		src++;
		switch (*src) {
		case 'r':	c = '\r'; break;
		case 'n':	c = '\n'; break;
		case 't':	c = '\t'; break;
		case '0':	c = '\0'; break;
		case '\\':	c = '\\'; break;
		case 'x':
			if (!isxdigit((unsigned char)src[1]) ||
			    !isxdigit((unsigned char)src[2]) ||
			    sscanf(src + 1, "%2x", &v) != 1)
				return -1;
			c = (char)v;
			src += 2;
			break;
		default:
			return -1;
		}
		src++;
		dst[used++] = c;
	}
	dst[used] = '\0';
	return (int)used;
}
