/*
 * headers.c: the header fields sendmail looks at.
 *
 * Only what -t needs: field names, folding, and the address lists of
 * RFC 5322 (display names, angle addresses, quoted strings, comments,
 * groups, domain literals).  Anything it cannot read as an address is
 * an error rather than a guess: a guessed recipient is a mail sent to
 * the wrong place.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "headers.h"

#define ADDR_MAX	1024

struct addr_buf {
	char	 text[ADDR_MAX];
	size_t	 len;
	int	 overflow;
};

static void	 buf_add(struct addr_buf *, char);
static int	 finish_item(struct addr_buf *, struct addr_buf *, int, int,
		    struct addr_list *, char *, size_t);
static int	 field_is(const char *, size_t, const char *);
static char	*field_value(const char *, size_t, size_t);

void
addr_list_free(struct addr_list *l)
{
	size_t	 i;

	for (i = 0; i < l->count; i++)
		free(l->addrs[i]);
	free(l->addrs);
	memset(l, 0, sizeof(*l));
}

int
addr_list_add(struct addr_list *l, const char *addr)
{
	char	**p;
	size_t	  i;

	for (i = 0; i < l->count; i++)
		if (strcmp(l->addrs[i], addr) == 0)
			return 0;
	if (l->count == l->cap) {
		if ((p = reallocarray(l->addrs, l->cap ? l->cap * 2 : 8,
		    sizeof(*p))) == NULL)
			return -1;
		l->addrs = p;
		l->cap = l->cap ? l->cap * 2 : 8;
	}
	if ((l->addrs[l->count] = strdup(addr)) == NULL)
		return -1;
	l->count++;
	return 0;
}

static void
buf_add(struct addr_buf *b, char c)
{
	if (b->len + 1 >= sizeof(b->text)) {
		b->overflow = 1;
		return;
	}
	b->text[b->len++] = c;
	b->text[b->len] = '\0';
}

/*
 * One item of the list is over: the angle address if there was one
 * (the words before it are a display name), else the words, which must
 * then be one address.
 */
static int
finish_item(struct addr_buf *item, struct addr_buf *angle, int have_angle,
    int several_words, struct addr_list *list, char *err, size_t errsz)
{
	const char	*addr;
	char		*colon;

	if (item->overflow || angle->overflow) {
		snprintf(err, errsz, "address too long");
		return -1;
	}
	if (have_angle) {
		addr = angle->text;
		/* obsolete source route: <@a,@b:user@c> */
		if (addr[0] == '@' && (colon = strchr(angle->text, ':')) !=
		    NULL)
			addr = colon + 1;
		if (*addr == '\0') {
			snprintf(err, errsz, "empty address <>");
			return -1;
		}
	} else {
		if (item->len == 0)
			return 0;
		if (several_words) {
			snprintf(err, errsz, "malformed address: \"%s\" (a "
			    "name needs the address in <>)", item->text);
			return -1;
		}
		addr = item->text;
	}
	if (addr_list_add(list, addr) == -1) {
		snprintf(err, errsz, "%s", strerror(errno));
		return -1;
	}
	return 0;
}

int
headers_parse_addresses(const char *value, struct addr_list *list,
    char *err, size_t errsz)
{
	struct addr_buf	 item, angle;
	struct addr_buf	*cur;
	const char	*p;
	int		 quoted = 0, depth = 0, in_angle = 0, have_angle = 0;
	int		 bracket = 0, gap = 0, several = 0;
	char		 c;

	memset(&item, 0, sizeof(item));
	memset(&angle, 0, sizeof(angle));
	for (p = value; ; p++) {
		c = *p;
		cur = in_angle ? &angle : &item;
		if (c == '\0' || (!quoted && depth == 0 && !in_angle &&
		    !bracket && (c == ',' || c == ';'))) {
			if (c == '\0' && (quoted || depth > 0 || in_angle ||
			    bracket)) {
				snprintf(err, errsz, "malformed address list: "
				    "unbalanced %s", quoted ? "quote" :
				    depth > 0 ? "parenthesis" : in_angle ?
				    "<" : "[");
				return -1;
			}
			if (finish_item(&item, &angle, have_angle, several,
			    list, err, errsz) == -1)
				return -1;
			if (c == '\0')
				return 0;
			memset(&item, 0, sizeof(item));
			memset(&angle, 0, sizeof(angle));
			have_angle = gap = several = 0;
			continue;
		}
		if (quoted) {
			buf_add(cur, c);
			if (c == '\\' && p[1] != '\0')
				buf_add(cur, *++p);
			else if (c == '"')
				quoted = 0;
			continue;
		}
		if (depth > 0) {
			if (c == '(')
				depth++;
			else if (c == ')')
				depth--;
			else if (c == '\\' && p[1] != '\0')
				p++;
			continue;
		}
		if (bracket) {
			buf_add(cur, c);
			if (c == ']')
				bracket = 0;
			continue;
		}
		if (c == '(') {
			depth = 1;
			gap = 1;
			continue;
		}
		if (isspace((unsigned char)c)) {
			gap = 1;
			continue;
		}
		if (in_angle) {
			if (c == '>')
				in_angle = 0;
			else {
				buf_add(cur, c);
				if (c == '"')
					quoted = 1;
				else if (c == '[')
					bracket = 1;
			}
			continue;
		}
		if (c == '<') {
			if (have_angle) {
				snprintf(err, errsz, "malformed address list: "
				    "two <addresses> in one item");
				return -1;
			}
			in_angle = have_angle = 1;
			continue;
		}
		if (c == ':') {
			/* "group:" the name before is no address */
			memset(&item, 0, sizeof(item));
			gap = several = 0;
			continue;
		}
		if (gap && item.len > 0)
			several = 1;
		gap = 0;
		buf_add(&item, c);
		if (c == '"')
			quoted = 1;
		else if (c == '[')
			bracket = 1;
	}
}

/* The field of len bytes at line is named name (case-insensitive). */
static int
field_is(const char *line, size_t len, const char *name)
{
	size_t	 n = strlen(name);

	return len > n && line[n] == ':' && strncasecmp(line, name, n) == 0;
}

/* The value of a field of len bytes, unfolded: CR and LF dropped. */
static char *
field_value(const char *field, size_t len, size_t colon)
{
	char	*v;
	size_t	 i, j = 0;

	if ((v = malloc(len - colon)) == NULL)
		return NULL;
	for (i = colon + 1; i < len; i++)
		if (field[i] != '\r' && field[i] != '\n')
			v[j++] = field[i];
	v[j] = '\0';
	return v;
}

int
headers_scan(char *msg, size_t *len, struct addr_list *rcpts,
    struct header_info *info, char *err, size_t errsz)
{
	char	*nl, *value, why[ADDR_MAX + 128];
	size_t	 pos = 0, end, linelen, colon;
	int	 r;

	memset(info, 0, sizeof(*info));
	while (pos < *len) {
		nl = memchr(msg + pos, '\n', *len - pos);
		end = nl != NULL ? (size_t)(nl - msg) + 1 : *len;
		linelen = (nl != NULL ? (size_t)(nl - msg) : *len) - pos;
		if (linelen > 0 && msg[pos + linelen - 1] == '\r')
			linelen--;
		if (linelen == 0) {
			info->body = end;
			return 0;
		}
		/* a field name: printable, no blank, up to a ':' */
		for (colon = pos; colon < pos + linelen; colon++)
			if (msg[colon] == ':' || msg[colon] <= ' ' ||
			    msg[colon] > '~')
				break;
		if (colon == pos || colon == pos + linelen ||
		    msg[colon] != ':') {
			info->body = pos;
			return 0;
		}
		/* its continuation lines */
		while (end < *len && (msg[end] == ' ' || msg[end] == '\t')) {
			nl = memchr(msg + end, '\n', *len - end);
			end = nl != NULL ? (size_t)(nl - msg) + 1 : *len;
		}
		if (field_is(msg + pos, end - pos, "from"))
			info->has_from = 1;
		else if (field_is(msg + pos, end - pos, "date"))
			info->has_date = 1;
		else if (field_is(msg + pos, end - pos, "message-id"))
			info->has_message_id = 1;
		if (rcpts != NULL && (field_is(msg + pos, end - pos, "to") ||
		    field_is(msg + pos, end - pos, "cc") ||
		    field_is(msg + pos, end - pos, "bcc"))) {
			if ((value = field_value(msg + pos, end - pos,
			    colon - pos)) == NULL) {
				snprintf(err, errsz, "%s", strerror(errno));
				return -1;
			}
			r = headers_parse_addresses(value, rcpts, why,
			    sizeof(why));
			free(value);
			if (r == -1) {
				snprintf(err, errsz, "%.*s header: %s",
				    (int)(colon - pos), msg + pos, why);
				return -1;
			}
		}
		if (field_is(msg + pos, end - pos, "bcc")) {
			/* the NUL after the message moves too */
			memmove(msg + pos, msg + end, *len - end + 1);
			*len -= end - pos;
			continue;
		}
		pos = end;
	}
	info->body = *len;
	return 0;
}
