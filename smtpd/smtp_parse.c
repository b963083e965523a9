/*
 * smtp_parse.c: the pure parts of an SMTP session (see smtp_parse.h):
 * line splitting, commands and their paths and parameters, the DATA
 * line rules and the headers the session writes.  Nothing here does
 * I/O or knows about processes, so the unit tests drive it directly.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "smtp_parse.h"

/* What a path parse found; the mailaddr is filled at the end. */
struct path {
	char		 user[MAILADDR_USER_MAX];
	char		 domain[MAILADDR_DOMAIN_MAX];
	int		 null;		/* <> */
	int		 eightbit;	/* UTF-8 somewhere */
};

static int	 is_atext(unsigned char, int);
static int	 utf8_valid(const char *, size_t);
static int	 dot_string_valid(const char *, size_t, int);
static const char *parse_local_part(const char *, struct path *, int *);
static const char *parse_domain(const char *, struct path *);
static int	 address_literal_valid(const char *, size_t);
static const char *parse_path(const char *, struct path *, int *);
static const char *skip_route(const char *);
static int	 param_split(char *, char **, char **);
static int	 header_name_is(const char *, size_t, const char *);
static int	 header_line(const char *, size_t);

/* ------------------------------------------------------------------ */
/* lines                                                               */
/* ------------------------------------------------------------------ */

int
smtp_getline(struct evbuffer *in, struct smtp_linereader *lr, char *buf,
    size_t bufsz, struct smtp_line *line)
{
	struct evbuffer_ptr	 p;
	size_t			 eol_len = 0, len, max = bufsz - 1, take;

	memset(line, 0, sizeof(*line));
	line->text = buf;
	p = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_CRLF);
	if (p.pos == -1) {
		len = evbuffer_get_length(in);
		/*
		 * One byte stays behind: it may be the CR of a CRLF whose LF
		 * has not arrived.
		 */
		if (len <= max + 1 && !lr->skipping)
			return 0;
		if (!lr->skipping) {
			take = max;
			if (evbuffer_remove(in, buf, take) != (int)take)
				take = 0;
			buf[take] = '\0';
			lr->skipping = 1;
			lr->skipped = take;
			len -= take;
		}
		if (len > 1) {
			evbuffer_drain(in, len - 1);
			lr->skipped += len - 1;
		}
		return 0;
	}
	len = (size_t)p.pos;
	line->crlf = eol_len == 2;
	if (lr->skipping) {
		/* buf still holds the start of the line */
		evbuffer_drain(in, len + eol_len);
		line->len = lr->skipped + len;
		line->toolong = 1;
		lr->skipping = 0;
		lr->skipped = 0;
		return 1;
	}
	if (len > max) {
		if (evbuffer_remove(in, buf, max) != (int)max)
			buf[0] = '\0';
		else
			buf[max] = '\0';
		evbuffer_drain(in, len - max + eol_len);
		line->len = len;
		line->toolong = 1;
		return 1;
	}
	if (len > 0 && evbuffer_remove(in, buf, len) != (int)len)
		len = 0;
	buf[len] = '\0';
	evbuffer_drain(in, eol_len);
	line->len = len;
	return 1;
}

/* ------------------------------------------------------------------ */
/* commands                                                            */
/* ------------------------------------------------------------------ */

static const struct {
	const char	*name;
	enum smtp_verb	 verb;
} verbs[] = {
	{ "HELO", SMTP_CMD_HELO },
	{ "EHLO", SMTP_CMD_EHLO },
	{ "MAIL", SMTP_CMD_MAIL },
	{ "RCPT", SMTP_CMD_RCPT },
	{ "DATA", SMTP_CMD_DATA },
	{ "RSET", SMTP_CMD_RSET },
	{ "NOOP", SMTP_CMD_NOOP },
	{ "QUIT", SMTP_CMD_QUIT },
	{ "HELP", SMTP_CMD_HELP },
	{ "VRFY", SMTP_CMD_VRFY },
	{ "EXPN", SMTP_CMD_EXPN },
	{ "STARTTLS", SMTP_CMD_STARTTLS },
	{ "AUTH", SMTP_CMD_AUTH },
};

enum smtp_verb
smtp_parse_verb(const char *line, const char **args)
{
	size_t	 i, n;

	n = strcspn(line, " \t");
	*args = line + n;
	while (**args == ' ' || **args == '\t')
		(*args)++;
	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (strlen(verbs[i].name) == n &&
		    strncasecmp(line, verbs[i].name, n) == 0)
			return verbs[i].verb;
	return SMTP_CMD_UNKNOWN;
}

const char *
smtp_verb_name(enum smtp_verb verb)
{
	size_t	 i;

	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (verbs[i].verb == verb)
			return verbs[i].name;
	return "UNKNOWN";
}

int
smtp_parse_helo(const char *args, char *buf, size_t bufsz,
    const char **reply)
{
	size_t	 n, i;

	n = strcspn(args, " \t");
	if (n == 0) {
		*reply = "501 5.5.4 Syntax: HELO/EHLO hostname";
		return -1;
	}
	for (i = n; args[i] == ' ' || args[i] == '\t'; i++)
		;
	if (args[i] != '\0') {
		*reply = "501 5.5.4 Syntax: HELO/EHLO hostname";
		return -1;
	}
	if (n >= bufsz) {
		*reply = "501 5.5.4 Hostname too long";
		return -1;
	}
	for (i = 0; i < n; i++)
		if ((unsigned char)args[i] < 0x21 ||
		    (unsigned char)args[i] > 0x7e) {
			*reply = "501 5.5.4 Invalid character in hostname";
			return -1;
		}
	memcpy(buf, args, n);
	buf[n] = '\0';
	return 0;
}

/* RFC 5322 atext, plus every byte of a UTF-8 sequence when eight. */
static int
is_atext(unsigned char c, int eight)
{
	if (c >= 0x80)
		return eight;
	if (isalnum(c))
		return 1;
	return strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL && c != '\0';
}

/* Well-formed UTF-8, no overlongs or surrogates. */
static int
utf8_valid(const char *s, size_t len)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i = 0, n, k;
	uint32_t		 cp;

	while (i < len) {
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		if ((p[i] & 0xe0) == 0xc0) {
			n = 1;
			cp = p[i] & 0x1f;
		} else if ((p[i] & 0xf0) == 0xe0) {
			n = 2;
			cp = p[i] & 0x0f;
		} else if ((p[i] & 0xf8) == 0xf0) {
			n = 3;
			cp = p[i] & 0x07;
		} else
			return 0;
		if (i + n >= len)
			return 0;
		for (k = 1; k <= n; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) ||
		    (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += n + 1;
	}
	return 1;
}

/* atoms of atext separated by single dots */
static int
dot_string_valid(const char *s, size_t len, int eight)
{
	size_t	 i;

	if (len == 0 || s[0] == '.' || s[len - 1] == '.')
		return 0;
	for (i = 0; i < len; i++) {
		if (s[i] == '.') {
			if (s[i + 1] == '.')
				return 0;
			continue;
		}
		if (!is_atext((unsigned char)s[i], eight))
			return 0;
	}
	return 1;
}

/*
 * Local-part = Dot-string / Quoted-string.  A quoted one whose content
 * is a plain dot-string is stored unquoted ("john"@x is john@x); other
 * quoted ones keep their quotes and escapes.  *unsupported is set for
 * content our envelopes cannot carry (spaces, control characters).
 */
static const char *
parse_local_part(const char *p, struct path *path, int *unsupported)
{
	char		 content[MAILADDR_USER_MAX];
	size_t		 n = 0, i, o;
	unsigned char	 c;

	if (*p != '"') {
		while (is_atext((unsigned char)*p, 1) || *p == '.') {
			if ((unsigned char)*p >= 0x80)
				path->eightbit = 1;
			if (n + 1 >= sizeof(path->user))
				return NULL;
			path->user[n++] = *p++;
		}
		path->user[n] = '\0';
		if (!dot_string_valid(path->user, n, 1))
			return NULL;
		return p;
	}
	for (p++; *p != '"'; p++) {
		c = (unsigned char)*p;
		if (c == '\0')
			return NULL;
		if (c == '\\') {
			p++;
			c = (unsigned char)*p;
			if (c < 0x20 || c > 0x7e)
				return NULL;
		} else if (c < 0x20 || c == 0x7f)
			return NULL;
		if (c >= 0x80)
			path->eightbit = 1;
		if (c == ' ' || c == '\t')
			*unsupported = 1;
		if (n + 1 >= sizeof(content))
			return NULL;
		content[n++] = (char)c;
	}
	p++;
	content[n] = '\0';
	if (n == 0)
		return NULL;
	if (dot_string_valid(content, n, 1)) {
		memcpy(path->user, content, n + 1);
		return p;
	}
	o = 0;
	path->user[o++] = '"';
	for (i = 0; i < n; i++) {
		if (o + 3 >= sizeof(path->user))
			return NULL;
		if (content[i] == '"' || content[i] == '\\')
			path->user[o++] = '\\';
		path->user[o++] = content[i];
	}
	path->user[o++] = '"';
	path->user[o] = '\0';
	return p;
}

/* [192.0.2.1] or [IPv6:2001:db8::1]: checked with inet_pton. */
static int
address_literal_valid(const char *s, size_t len)
{
	char			 buf[64];
	struct in_addr		 a4;
	struct in6_addr		 a6;

	if (len < 2 || len - 2 >= sizeof(buf))
		return 0;
	memcpy(buf, s + 1, len - 2);
	buf[len - 2] = '\0';
	if (strncasecmp(buf, "IPv6:", 5) == 0)
		return inet_pton(AF_INET6, buf + 5, &a6) == 1;
	return inet_pton(AF_INET, buf, &a4) == 1;
}

/* sub-domain *("." sub-domain), each a let-dig [ldh-str]; or a literal */
static const char *
parse_domain(const char *p, struct path *path)
{
	const char	*start = p;
	size_t		 n, label = 0;
	unsigned char	 c;

	if (*p == '[') {
		n = strcspn(p, "]");
		if (p[n] != ']' || n + 2 > sizeof(path->domain))
			return NULL;
		if (!address_literal_valid(p, n + 1))
			return NULL;
		memcpy(path->domain, p, n + 1);
		path->domain[n + 1] = '\0';
		return p + n + 1;
	}
	for (;; p++) {
		c = (unsigned char)*p;
		if (isalnum(c) || c >= 0x80) {
			if (c >= 0x80)
				path->eightbit = 1;
			label++;
			continue;
		}
		if (c == '-') {
			if (label == 0)
				return NULL;
			label++;
			continue;
		}
		if (c == '.') {
			if (label == 0 || p[-1] == '-')
				return NULL;
			label = 0;
			continue;
		}
		break;
	}
	if (label == 0 || p[-1] == '-')
		return NULL;
	n = p - start;
	if (n >= sizeof(path->domain))
		return NULL;
	memcpy(path->domain, start, n);
	path->domain[n] = '\0';
	return p;
}

/* A-d-l ":" (RFC 5321 4.1.2): accepted and ignored. */
static const char *
skip_route(const char *p)
{
	struct path	 scratch;

	for (;;) {
		if (*p != '@')
			return NULL;
		memset(&scratch, 0, sizeof(scratch));
		if ((p = parse_domain(p + 1, &scratch)) == NULL)
			return NULL;
		if (*p == ':')
			return p + 1;
		if (*p != ',')
			return NULL;
		p++;
	}
}

/*
 * "<" [route] mailbox ">" or "<>", mailbox with or without a domain.
 * Returns what follows the ">", or NULL when malformed.
 */
static const char *
parse_path(const char *p, struct path *path, int *unsupported)
{
	memset(path, 0, sizeof(*path));
	if (*p++ != '<')
		return NULL;
	if (*p == '>') {
		path->null = 1;
		return p + 1;
	}
	if (*p == '@' && (p = skip_route(p)) == NULL)
		return NULL;
	if ((p = parse_local_part(p, path, unsupported)) == NULL)
		return NULL;
	if (*p == '@' && (p = parse_domain(p + 1, path)) == NULL)
		return NULL;
	if (*p++ != '>')
		return NULL;
	if (path->eightbit && (!utf8_valid(path->user, strlen(path->user)) ||
	    !utf8_valid(path->domain, strlen(path->domain))))
		return NULL;
	return p;
}

/* "KEY=VALUE" or "KEY" in place; -1 when the keyword is malformed. */
static int
param_split(char *word, char **key, char **value)
{
	char	*eq, *c;

	*key = word;
	*value = NULL;
	if ((eq = strchr(word, '=')) != NULL) {
		*eq = '\0';
		*value = eq + 1;
	}
	if (**key == '\0')
		return -1;
	for (c = *key; *c; c++)
		if (!isalnum((unsigned char)*c) && *c != '-')
			return -1;
	if (*value != NULL) {
		if (**value == '\0')
			return -1;
		for (c = *value; *c; c++)
			if ((unsigned char)*c < 0x21 ||
			    (unsigned char)*c > 0x7e || *c == '=')
				return -1;
	}
	return 0;
}

int
smtp_parse_mail(const char *args, int local, struct smtp_mailfrom *mf,
    const char **reply)
{
	struct path	 path;
	char		 params[SMTP_CMDLINE_MAX], *word, *next, *key, *value;
	char		*end;
	const char	*p;
	int		 unsupported = 0, seen_size = 0, seen_body = 0;
	unsigned long long size;

	memset(mf, 0, sizeof(*mf));
	if (strncasecmp(args, "FROM:", 5) != 0) {
		*reply = "501 5.5.4 Syntax: MAIL FROM:<address>";
		return -1;
	}
	for (p = args + 5; *p == ' '; p++)
		;
	if (*p != '<') {
		*reply = "501 5.5.4 Syntax: MAIL FROM:<address>";
		return -1;
	}
	if ((p = parse_path(p, &path, &unsupported)) == NULL ||
	    (*p != '\0' && *p != ' ')) {
		*reply = "501 5.1.7 Bad sender address syntax";
		return -1;
	}
	if (unsupported) {
		*reply = "553 5.1.7 Quoted local parts with spaces are not "
		    "supported";
		return -1;
	}
	if (!path.null && path.domain[0] == '\0' && !local) {
		*reply = "501 5.1.7 Sender address needs a domain";
		return -1;
	}
	if (strlcpy(params, p, sizeof(params)) >= sizeof(params)) {
		*reply = "501 5.5.4 Parameters too long";
		return -1;
	}
	for (word = params; word != NULL; word = next) {
		while (*word == ' ')
			word++;
		if (*word == '\0')
			break;
		if ((next = strchr(word, ' ')) != NULL)
			*next++ = '\0';
		if (param_split(word, &key, &value) == -1) {
			*reply = "501 5.5.4 Bad parameter syntax";
			return -1;
		}
		if (strcasecmp(key, "SIZE") == 0) {
			if (seen_size++ || value == NULL ||
			    strspn(value, "0123456789") != strlen(value)) {
				*reply = "501 5.5.4 Bad SIZE parameter";
				return -1;
			}
			/*
			 * Overflow saturates: as big as can be, refused by
			 * the caller.  Leading zeros are no overflow.
			 */
			size = strtoull(value, &end, 10);
			mf->size = size;
		} else if (strcasecmp(key, "BODY") == 0) {
			if (seen_body++ || value == NULL) {
				*reply = "501 5.5.4 Bad BODY parameter";
				return -1;
			}
			if (strcasecmp(value, "7BIT") == 0)
				mf->body = SMTP_BODY_7BIT;
			else if (strcasecmp(value, "8BITMIME") == 0)
				mf->body = SMTP_BODY_8BITMIME;
			else {
				*reply = "501 5.5.4 Unsupported BODY type";
				return -1;
			}
		} else if (strcasecmp(key, "SMTPUTF8") == 0) {
			if (value != NULL || mf->smtputf8) {
				*reply = "501 5.5.4 Bad SMTPUTF8 parameter";
				return -1;
			}
			mf->smtputf8 = 1;
		} else {
			*reply = "555 5.5.4 Unsupported parameter";
			return -1;
		}
	}
	if (path.eightbit && !mf->smtputf8) {
		*reply = "553 5.6.7 Non-ASCII address requires SMTPUTF8";
		return -1;
	}
	mf->null = path.null;
	memcpy(mf->addr.user, path.user, sizeof(mf->addr.user));
	memcpy(mf->addr.domain, path.domain, sizeof(mf->addr.domain));
	return 0;
}

int
smtp_parse_rcpt(const char *args, int smtputf8, int local,
    struct mailaddr *addr, const char **reply)
{
	struct path	 path;
	const char	*p;
	int		 unsupported = 0;

	memset(addr, 0, sizeof(*addr));
	if (strncasecmp(args, "TO:", 3) != 0) {
		*reply = "501 5.5.4 Syntax: RCPT TO:<address>";
		return -1;
	}
	for (p = args + 3; *p == ' '; p++)
		;
	if (*p != '<') {
		*reply = "501 5.5.4 Syntax: RCPT TO:<address>";
		return -1;
	}
	if ((p = parse_path(p, &path, &unsupported)) == NULL ||
	    (*p != '\0' && *p != ' ') || path.null) {
		*reply = "501 5.1.3 Bad recipient address syntax";
		return -1;
	}
	while (*p == ' ')
		p++;
	if (*p != '\0') {
		*reply = "555 5.5.4 Unsupported parameter";
		return -1;
	}
	if (unsupported) {
		*reply = "553 5.1.3 Quoted local parts with spaces are not "
		    "supported";
		return -1;
	}
	if (path.eightbit && !smtputf8) {
		*reply = "553 5.6.7 Non-ASCII address requires SMTPUTF8";
		return -1;
	}
	if (path.domain[0] == '\0' && !local) {
		if (strcasecmp(path.user, "postmaster") != 0) {
			*reply = "501 5.1.3 Recipient address needs a domain";
			return -1;
		}
		strlcpy(path.user, "postmaster", sizeof(path.user));
	}
	memcpy(addr->user, path.user, sizeof(addr->user));
	memcpy(addr->domain, path.domain, sizeof(addr->domain));
	return 0;
}

/* ------------------------------------------------------------------ */
/* DATA                                                                */
/* ------------------------------------------------------------------ */

void
smtp_data_init(struct smtp_data *d, uint64_t max_size)
{
	memset(d, 0, sizeof(*d));
	d->max_size = max_size;
	d->last_crlf = 1;
	d->in_headers = 1;
}

/* field-name ":" with a field-name of printable ASCII but ':' */
static int
header_line(const char *s, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++) {
		if (s[i] == ':')
			return i > 0;
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return 0;
	}
	return 0;
}

static int
header_name_is(const char *s, size_t len, const char *name)
{
	size_t	 n = strlen(name);

	return len > n && s[n] == ':' && strncasecmp(s, name, n) == 0;
}

void
smtp_data_line(struct smtp_data *d, const struct smtp_line *line,
    struct smtp_data_out *out)
{
	const char	*text = line->text;
	size_t		 len = line->len;
	int		 toolong = line->toolong;

	memset(out, 0, sizeof(*out));
	if (!toolong && len == 1 && text[0] == '.' && line->crlf &&
	    d->last_crlf) {
		out->end = 1;
		return;
	}
	d->lines++;
	d->last_crlf = line->crlf;
	/* RFC 5321 4.5.2; a lone "." that did not end the data stays. */
	if (!toolong && len > 1 && text[0] == '.') {
		text++;
		len--;
	}
	/*
	 * The doubled dot counts neither in the line limit (RFC 5321
	 * 4.5.3.1.6) nor in the size (RFC 1870).
	 */
	if (len > SMTP_DATALINE_MAX - 2)
		toolong = 1;
	d->size += len + 2;
	if (d->error == SMTP_DATA_OK) {
		if (toolong)
			d->error = SMTP_DATA_TOOLONG;
		else if (memchr(text, '\0', len) != NULL)
			d->error = SMTP_DATA_NUL;
		else if (memchr(text, '\r', len) != NULL)
			d->error = SMTP_DATA_CR;
		else if (d->max_size != 0 && d->size > d->max_size)
			d->error = SMTP_DATA_TOOBIG;
	}
	if (d->in_headers) {
		if (!toolong && header_line(text, len)) {
			if (header_name_is(text, len, "Date"))
				d->has_date = 1;
			else if (header_name_is(text, len, "Message-ID"))
				d->has_msgid = 1;
		} else if (d->lines == 1 || toolong || len == 0 ||
		    (text[0] != ' ' && text[0] != '\t')) {
			d->in_headers = 0;
			out->headers_end = 1;
		}
	}
	if (d->error != SMTP_DATA_OK)
		return;
	out->text = text;
	out->len = len;
}

const char *
smtp_data_error_reply(int error)
{
	switch (error) {
	case SMTP_DATA_TOOLONG:
		return "552 5.5.2 Message refused: a line is longer than "
		    "1000 octets";
	case SMTP_DATA_TOOBIG:
		return "552 5.3.4 Message too big";
	case SMTP_DATA_NUL:
		return "554 5.6.0 Message refused: it contains NUL bytes";
	case SMTP_DATA_CR:
		return "554 5.6.0 Message refused: it contains a CR that "
		    "does not end a line";
	default:
		return "451 4.3.0 Temporary failure";
	}
}

/* ------------------------------------------------------------------ */
/* headers                                                             */
/* ------------------------------------------------------------------ */

int
smtp_date_format(char *buf, size_t bufsz, time_t t)
{
	static const char *const days[] = {
		"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"
	};
	static const char *const months[] = {
		"Jan", "Feb", "Mar", "Apr", "May", "Jun",
		"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
	};
	struct tm	 tm;
	long		 off;
	int		 r;

	if (localtime_r(&t, &tm) == NULL)
		return -1;
	off = tm.tm_gmtoff / 60;
	r = snprintf(buf, bufsz, "%s, %d %s %d %02d:%02d:%02d %c%02ld%02ld",
	    days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12],
	    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec,
	    off < 0 ? '-' : '+', labs(off) / 60, labs(off) % 60);
	if (r < 0 || (size_t)r >= bufsz)
		return -1;
	return r;
}

int
smtp_received_format(char *buf, size_t bufsz, const struct smtp_received *r)
{
	char	 date[64], addr[INET6_ADDRSTRLEN + 8], from[600];
	char	 helo[ENVELOPE_NAME_MAX];
	size_t	 i;
	int	 n;

	if (smtp_date_format(date, sizeof(date), r->when) == -1)
		return -1;
	/*
	 * The client's name is an atom here: a parenthesis, a backslash
	 * or a specials character of its own would open a comment that
	 * never closes or split the header (RFC 5322 3.2.2, 3.2.3).
	 */
	if (strlcpy(helo, r->helo, sizeof(helo)) >= sizeof(helo))
		return -1;
	for (i = 0; helo[i] != '\0'; i++)
		if (strchr("()<>;@\\,\"", helo[i]) != NULL)
			helo[i] = '?';
	from[0] = '\0';
	if (!r->mask_src) {
		if (r->ss == NULL || r->ss->ss_family == AF_UNSPEC)
			strlcpy(addr, "local", sizeof(addr));
		else {
			if (r->ss->ss_family == AF_INET6)
				strlcpy(addr, "IPv6:", sizeof(addr));
			else
				addr[0] = '\0';
			smtp_ss_to_text(r->ss, addr + strlen(addr),
			    sizeof(addr) - strlen(addr));
		}
		n = snprintf(from, sizeof(from), "from %s (%s [%s])\n\t",
		    helo[0] != '\0' ? helo : "unknown",
		    r->rdns[0] != '\0' ? r->rdns : "unknown", addr);
		if (n < 0 || (size_t)n >= sizeof(from))
			return -1;
	}
	if (r->rcpt != NULL)
		n = snprintf(buf, bufsz, "Received: %sby %s (smtpd) with %s "
		    "id %08x\n\tfor <%s>;\n\t%s\n", from, r->hostname,
		    r->proto, r->msgid, r->rcpt, date);
	else
		n = snprintf(buf, bufsz, "Received: %sby %s (smtpd) with %s "
		    "id %08x;\n\t%s\n", from, r->hostname, r->proto,
		    r->msgid, date);
	if (n < 0 || (size_t)n >= bufsz)
		return -1;
	return n;
}

/* ------------------------------------------------------------------ */
/* text                                                                */
/* ------------------------------------------------------------------ */

const char *
smtp_ss_to_text(const struct sockaddr_storage *ss, char *buf, size_t bufsz)
{
	const struct sockaddr_in	*sin;
	const struct sockaddr_in6	*sin6;

	switch (ss->ss_family) {
	case AF_INET:
		sin = (const struct sockaddr_in *)ss;
		if (inet_ntop(AF_INET, &sin->sin_addr, buf, bufsz) != NULL)
			return buf;
		break;
	case AF_INET6:
		sin6 = (const struct sockaddr_in6 *)ss;
		if (inet_ntop(AF_INET6, &sin6->sin6_addr, buf, bufsz) != NULL)
			return buf;
		break;
	}
	strlcpy(buf, "local", bufsz);
	return buf;
}

void
smtp_log_sanitize(char *dst, size_t dstsz, const char *src)
{
	size_t		 i;
	unsigned char	 c;

	if (dstsz == 0)
		return;
	for (i = 0; i + 1 < dstsz && src[i] != '\0'; i++) {
		c = (unsigned char)src[i];
		if (c < 0x20 || c == 0x7f || c == '"' || c == '\\')
			c = '?';
		dst[i] = (char)c;
	}
	dst[i] = '\0';
}
