/*
 * mda_format.c: the %{...} expansion of maildir paths, mda commands and
 * wrappers.  A pure function of the envelope: no I/O, no allocation.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mda_format.h"

/* What a value may hold: an address, a home directory or a command. */
#define VALUE_MAX	(ENVELOPE_PATH_MAX + MAILADDR_USER_MAX + \
			    MAILADDR_DOMAIN_MAX)

/* Characters a shell or a path would make something of. */
#define UNSAFE_CHARS	"!#$%&'*?`{|}~"
/*
 * What else a value keeps as is: the rest of an atom, the dot and '@'
 * of an address, the brackets and colons of a domain literal.  A
 * quoted local part ("...") can hold anything else ('"', '\\', ';',
 * '<', '>', blanks): that becomes ':' too.
 */
#define SAFE_CHARS	"+-/=^_.@[]:"

struct token {
	char		 name[MDA_FORMAT_TOKEN_MAX + 1];
	int		 has_range;
	long		 begin, end;	/* as written, before clamping */
	int		 begin_set, end_set;
	int		 lowercase, uppercase, strip, raw;
};

static int	 token_parse(struct token *, const char *, size_t,
		    char *, size_t);
static int	 range_parse(struct token *, const char *, char *, size_t);
static int	 modifiers_parse(struct token *, char *, char *, size_t);
static int	 token_value(const struct token *, const struct envelope *,
		    const char *, char *, size_t, int *);
static int	 addr_part(const struct mailaddr *, const char *, char *,
		    size_t);
static int	 range_apply(const struct token *, char *, char *, size_t);
static long	 utf8_length(const char *);
static size_t	 utf8_offset(const char *, long);
static int	 token_has_subaddr(const char *);
static void	 sanitise(char *);
static void	 strip_subaddr(char *, char);
static int	 append(char *, size_t, size_t *, const char *, size_t);
static void	 seterr(char *, size_t, const char *, ...)
		    __attribute__((__format__(printf, 3, 4)));

int
mda_format(char *buf, size_t bufsz, const char *fmt,
    const struct envelope *env, const char *mda, char delim, char *err,
    size_t errsz)
{
	struct token	 tok;
	char		 value[VALUE_MAX];
	const char	*p, *end;
	size_t		 len = 0, n;
	int		 unsafe_ok;
	char		*c;

	if (bufsz == 0) {
		seterr(err, errsz, "expansion too long");
		return -1;
	}
	buf[0] = '\0';
	p = fmt;
	/* "~/" only at the start: elsewhere it is a plain '~'. */
	if (p[0] == '~' && p[1] == '/') {
		if (env->mda_home[0] == '\0') {
			seterr(err, errsz, "~/ with no home directory");
			return -1;
		}
		if (append(buf, bufsz, &len, env->mda_home,
		    strlen(env->mda_home)) == -1 ||
		    append(buf, bufsz, &len, "/", 1) == -1)
			goto toolong;
		p += 2;
	}
	while (*p != '\0') {
		if (p[0] != '%' || (p[1] != '%' && p[1] != '{')) {
			if (append(buf, bufsz, &len, p, 1) == -1)
				goto toolong;
			p++;
			continue;
		}
		if (p[1] == '%') {
			if (append(buf, bufsz, &len, "%", 1) == -1)
				goto toolong;
			p += 2;
			continue;
		}
		p += 2;
		if ((end = strchr(p, '}')) == NULL) {
			seterr(err, errsz, "unterminated %%{ in \"%s\"", fmt);
			return -1;
		}
		if (token_parse(&tok, p, end - p, err, errsz) == -1)
			return -1;
		if (token_value(&tok, env, mda, value, sizeof(value),
		    &unsafe_ok) == -1) {
			seterr(err, errsz, "unknown token %%{%s}%s", tok.name,
			    strcasecmp(tok.name, "mda") == 0 ?
			    " (only in a wrapper)" : "");
			return -1;
		}
		if (tok.strip && token_has_subaddr(tok.name))
			strip_subaddr(value, delim);
		if (range_apply(&tok, value, err, errsz) == -1)
			return -1;
		for (c = value; *c != '\0'; c++) {
			if (tok.lowercase)
				*c = tolower((unsigned char)*c);
			if (tok.uppercase)
				*c = toupper((unsigned char)*c);
		}
		/* After the range: a range can make a ".." too. */
		if (!tok.raw && !unsafe_ok)
			sanitise(value);
		n = strlen(value);
		if (append(buf, bufsz, &len, value, n) == -1)
			goto toolong;
		p = end + 1;
	}
	return (int)len;

toolong:
	seterr(err, errsz, "expansion too long (over %zu bytes)", bufsz - 1);
	return -1;
}

/* "name[range]:mod|mod" of length len, braces excluded. */
static int
token_parse(struct token *tok, const char *s, size_t len, char *err,
    size_t errsz)
{
	char	 text[MDA_FORMAT_TOKEN_MAX + 1];
	char	*mods, *range, *close;

	memset(tok, 0, sizeof(*tok));
	if (len == 0) {
		seterr(err, errsz, "empty %%{}");
		return -1;
	}
	if (len > MDA_FORMAT_TOKEN_MAX) {
		seterr(err, errsz, "token too long: %%{%.*s...}",
		    MDA_FORMAT_TOKEN_MAX, s);
		return -1;
	}
	memcpy(text, s, len);
	text[len] = '\0';
	if (strchr(text, '%') != NULL || strchr(text, '{') != NULL) {
		seterr(err, errsz, "nested %% in %%{%s}", text);
		return -1;
	}
	/* the modifiers' ':' comes after a range, which may hold one */
	close = strchr(text, ']');
	if ((mods = strchr(close ? close : text, ':')) != NULL)
		*mods++ = '\0';
	if ((range = strchr(text, '[')) != NULL) {
		if ((close = strchr(range, ']')) == NULL || close[1] != '\0') {
			seterr(err, errsz, "bad range in %%{%.*s}", (int)len, s);
			return -1;
		}
		*range++ = '\0';
		*close = '\0';
		tok->has_range = 1;
		if (range_parse(tok, range, err, errsz) == -1)
			return -1;
	}
	if (strlcpy(tok->name, text, sizeof(tok->name)) >= sizeof(tok->name))
		return -1;
	if (mods != NULL && modifiers_parse(tok, mods, err, errsz) == -1)
		return -1;
	return 0;
}

/* "N", "B:E", "B:", ":E" */
static int
range_parse(struct token *tok, const char *s, char *err, size_t errsz)
{
	const char	*colon, *part[2];
	long		*val[2];
	int		*set[2], i;
	char		*ep;

	colon = strchr(s, ':');
	part[0] = s;
	part[1] = colon ? colon + 1 : NULL;
	val[0] = &tok->begin;
	val[1] = &tok->end;
	set[0] = &tok->begin_set;
	set[1] = &tok->end_set;
	for (i = 0; i < 2; i++) {
		if (part[i] == NULL || *part[i] == ':' || *part[i] == '\0')
			continue;
		errno = 0;
		*val[i] = strtol(part[i], &ep, 10);
		if (errno != 0 || *val[i] < -INT_MAX || *val[i] > INT_MAX ||
		    (*ep != '\0' && !(i == 0 && *ep == ':'))) {
			seterr(err, errsz, "bad range [%s]", s);
			return -1;
		}
		*set[i] = 1;
	}
	if (colon == NULL) {
		if (!tok->begin_set) {
			seterr(err, errsz, "bad range [%s]", s);
			return -1;
		}
		/* [N]: one character */
		tok->end = tok->begin;
		tok->end_set = 1;
	}
	return 0;
}

static int
modifiers_parse(struct token *tok, char *mods, char *err, size_t errsz)
{
	char	*m;

	while ((m = strsep(&mods, "|")) != NULL) {
		if (strcasecmp(m, "lowercase") == 0)
			tok->lowercase = 1;
		else if (strcasecmp(m, "uppercase") == 0)
			tok->uppercase = 1;
		else if (strcasecmp(m, "strip") == 0)
			tok->strip = 1;
		else if (strcasecmp(m, "raw") == 0)
			tok->raw = 1;
		else {
			seterr(err, errsz, "unknown modifier \"%s\" in %%{%s}",
			    m, tok->name);
			return -1;
		}
	}
	if (tok->lowercase && tok->uppercase) {
		seterr(err, errsz, "lowercase and uppercase in %%{%s}",
		    tok->name);
		return -1;
	}
	return 0;
}

/* 0 and the value, or -1 for an unknown token. */
static int
token_value(const struct token *tok, const struct envelope *env,
    const char *mda, char *val, size_t valsz, int *unsafe_ok)
{
	static const struct {
		const char	*prefix;
		size_t		 off;
	} addrs[] = {
		{ "sender", offsetof(struct envelope, sender) },
		{ "rcpt", offsetof(struct envelope, rcpt) },
		{ "dest", offsetof(struct envelope, dest) },
	};
	const struct mailaddr	*addr;
	const char		*name = tok->name, *dot;
	size_t			 i, plen;

	*unsafe_ok = 0;
	val[0] = '\0';
	for (i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
		plen = strlen(addrs[i].prefix);
		if (strncasecmp(name, addrs[i].prefix, plen) != 0)
			continue;
		dot = name + plen;
		if (*dot != '\0' && *dot != '.')
			continue;
		addr = (const struct mailaddr *)((const char *)env +
		    addrs[i].off);
		return addr_part(addr, *dot ? dot + 1 : "", val, valsz);
	}
	if (strcasecmp(name, "user.username") == 0)
		strlcpy(val, env->mda_user, valsz);
	else if (strcasecmp(name, "user.directory") == 0) {
		strlcpy(val, env->mda_home, valsz);
		*unsafe_ok = 1;
	} else if (strcasecmp(name, "mbox.from") == 0) {
		if (env->sender.user[0] == '\0' &&
		    env->sender.domain[0] == '\0')
			strlcpy(val, "MAILER-DAEMON", valsz);
		else
			return addr_part(&env->sender, "", val, valsz);
	} else if (strcasecmp(name, "mda") == 0 && mda != NULL) {
		strlcpy(val, mda, valsz);
		*unsafe_ok = 1;
	} else
		return -1;
	return 0;
}

/* part: "" the address, "user" or "domain". */
static int
addr_part(const struct mailaddr *addr, const char *part, char *val,
    size_t valsz)
{
	if (*part == '\0') {
		if (mailaddr_to_text(addr, val, valsz) == -1)
			val[0] = '\0';
	} else if (strcasecmp(part, "user") == 0)
		strlcpy(val, addr->user, valsz);
	else if (strcasecmp(part, "domain") == 0)
		strlcpy(val, addr->domain, valsz);
	else
		return -1;
	return 0;
}

/*
 * Keeps characters begin..end of value in place; an empty value stays
 * empty.  Positions count characters, so that a UTF-8 sequence is
 * never cut in two (a hashed maildir layout of "\xc3\xa9lodie" takes
 * "\xc3\xa9", not half of it).
 */
static int
range_apply(const struct token *tok, char *value, char *err, size_t errsz)
{
	long	 len, b, e;
	size_t	 from, to;

	len = utf8_length(value);
	if (!tok->has_range || len == 0)
		return 0;
	b = tok->begin_set ? tok->begin : 0;
	e = tok->end_set ? tok->end : len - 1;
	if (b < 0)
		b += len;
	if (e < 0)
		e += len;
	if (e >= len)
		e = len - 1;
	if (b < 0 || e < 0 || b >= len || e < b) {
		seterr(err, errsz, "bad range in %%{%s}: \"%s\" has %ld "
		    "characters", tok->name, value, len);
		return -1;
	}
	from = utf8_offset(value, b);
	to = utf8_offset(value, e + 1);
	memmove(value, value + from, to - from);
	value[to - from] = '\0';
	return 0;
}

/*
 * Characters of a UTF-8 string: each byte but continuation bytes
 * starts one (a stray continuation byte sticks to the one before, or
 * counts alone at the start).
 */
static long
utf8_length(const char *s)
{
	long	 n = 0;
	size_t	 i;

	for (i = 0; s[i] != '\0'; i++)
		if (i == 0 || ((unsigned char)s[i] & 0xc0) != 0x80)
			n++;
	return n;
}

/* Byte offset where character n starts; the length for the end. */
static size_t
utf8_offset(const char *s, long n)
{
	long	 seen = 0;
	size_t	 i;

	for (i = 0; s[i] != '\0'; i++) {
		if (i != 0 && ((unsigned char)s[i] & 0xc0) == 0x80)
			continue;
		if (seen++ == n)
			return i;
	}
	return i;
}

/* A domain, a directory or a command holds no sub-address. */
static int
token_has_subaddr(const char *name)
{
	const char	*dot = strrchr(name, '.');

	if (dot != NULL && strcasecmp(dot, ".domain") == 0)
		return 0;
	return strcasecmp(name, "user.directory") != 0 &&
	    strcasecmp(name, "mda") != 0;
}

/*
 * What an address brings into a path or a command: every character
 * outside an atom's safe part (UNSAFE_CHARS, and what only a quoted
 * local part can hold) becomes ':', and so does every "..", which no
 * atom holds either: a value never climbs out of its directory.
 */
static void
sanitise(char *value)
{
	unsigned char	*c;

	for (c = (unsigned char *)value; *c != '\0'; c++) {
		if (c[0] == '.' && c[1] == '.') {
			c[0] = c[1] = ':';
			c++;
			continue;
		}
		if (*c >= 0x80 || isalnum(*c))
			continue;
		if (strchr(UNSAFE_CHARS, *c) != NULL ||
		    strchr(SAFE_CHARS, *c) == NULL)
			*c = ':';
	}
}

/* "user+tag@domain" -> "user@domain", "user+tag" -> "user" */
static void
strip_subaddr(char *value, char delim)
{
	char	*d, *at;
	size_t	 ulen;

	if (delim == '\0')
		return;
	/* only the user part holds a sub-address */
	at = strchr(value, '@');
	ulen = at ? (size_t)(at - value) : strlen(value);
	if ((d = memchr(value, delim, ulen)) == NULL)
		return;
	if (at == NULL)
		*d = '\0';
	else
		memmove(d, at, strlen(at) + 1);
}

static int
append(char *buf, size_t bufsz, size_t *len, const char *s, size_t n)
{
	if (n >= bufsz - *len)
		return -1;
	memcpy(buf + *len, s, n);
	*len += n;
	buf[*len] = '\0';
	return 0;
}

static void
seterr(char *err, size_t errsz, const char *fmt, ...)
{
	va_list	 ap;

	if (err == NULL || errsz == 0)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
}
