/*
 * envelope.c: the ASCII form of an envelope, as the queue stores it and
 * as processes pass it when a whole envelope must travel.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "envelope.h"

struct dumpbuf {
	char	*buf;
	size_t	 size;
	size_t	 len;
	int	 overflow;
};

static void	 put(struct dumpbuf *, const char *, const char *, ...)
		    __attribute__((__format__(printf, 3, 4)));
static void	 put_string(struct dumpbuf *, const char *, const char *);
static void	 put_mailaddr(struct dumpbuf *, const char *,
		    const struct mailaddr *);
static int	 sockaddr_to_envelope_text(const struct sockaddr_storage *,
		    char *, size_t);
static int	 sockaddr_from_envelope_text(struct sockaddr_storage *,
		    const char *);
static int	 parse_int64(const char *, int64_t, int64_t, int64_t *);
static int	 parse_flags(const char *, uint32_t *);
static int	 load_field(struct envelope *, const char *, const char *);
static int	 copy_field(char *, size_t, const char *);

static const char *const delivery_type_names[] = {
	[D_MDA] = "mda", [D_BOUNCE] = "bounce", [D_MTA] = "mta",
};
static const char *const mda_method_names[] = {
	[M_NONE] = "", [M_MBOX] = "mbox", [M_MAILDIR] = "maildir",
	[M_LMTP] = "lmtp", [M_MDA] = "mda", [M_FILE] = "file",
};
static const char *const bounce_type_names[] = {
	[B_NONE] = "", [B_FAILED] = "failed", [B_DELAYED] = "delayed",
};

const char *
delivery_type_name(enum delivery_type type)
{
	if (type < D_MDA || type > D_MTA)
		return "unknown";
	return delivery_type_names[type];
}

const char *
mda_method_name(enum mda_method method)
{
	if (method > M_FILE)
		return "unknown";
	return mda_method_names[method];
}

int
mailaddr_to_text(const struct mailaddr *addr, char *buf, size_t bufsz)
{
	int	n;

	if (addr->user[0] == '\0' && addr->domain[0] == '\0')
		n = snprintf(buf, bufsz, "%s", "");
	else if (addr->domain[0] == '\0')
		n = snprintf(buf, bufsz, "%s", addr->user);
	else
		n = snprintf(buf, bufsz, "%s@%s", addr->user, addr->domain);
	if (n < 0 || (size_t)n >= bufsz)
		return -1;
	return 0;
}

int
mailaddr_from_text(struct mailaddr *addr, const char *text)
{
	const char	*at;
	size_t		 ulen;

	memset(addr, 0, sizeof(*addr));
	if (*text == '\0')
		return 0;
	for (at = text; *at; at++)
		if (isspace((unsigned char)*at) || iscntrl((unsigned char)*at))
			return -1;
	/* the last '@' separates: a quoted local part may hold one */
	at = strrchr(text, '@');
	if (at == NULL)
		return strlcpy(addr->user, text, sizeof(addr->user)) <
		    sizeof(addr->user) ? 0 : -1;
	ulen = at - text;
	if (ulen >= sizeof(addr->user) || at[1] == '\0')
		return -1;
	memcpy(addr->user, text, ulen);
	addr->user[ulen] = '\0';
	if (strlcpy(addr->domain, at + 1, sizeof(addr->domain)) >=
	    sizeof(addr->domain))
		return -1;
	return 0;
}

static void
put(struct dumpbuf *d, const char *key, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	if (d->overflow)
		return;
	n = snprintf(d->buf + d->len, d->size - d->len, "%s: ", key);
	if (n < 0 || (size_t)n >= d->size - d->len) {
		d->overflow = 1;
		return;
	}
	d->len += n;
	va_start(ap, fmt);
	n = vsnprintf(d->buf + d->len, d->size - d->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n + 1 >= d->size - d->len) {
		d->overflow = 1;
		return;
	}
	d->len += n;
	d->buf[d->len++] = '\n';
	d->buf[d->len] = '\0';
}

/*
 * Values come from clients (HELO names, error lines from remote
 * servers): a control character would break the one-line-per-field
 * form, so it becomes '?'.
 */
static void
put_string(struct dumpbuf *d, const char *key, const char *value)
{
	char	clean[ENVELOPE_PATH_MAX];
	size_t	i;

	if (value[0] == '\0')
		return;
	for (i = 0; value[i] && i < sizeof(clean) - 1; i++)
		clean[i] = iscntrl((unsigned char)value[i]) ? '?' : value[i];
	clean[i] = '\0';
	put(d, key, "%s", clean);
}

static void
put_mailaddr(struct dumpbuf *d, const char *key, const struct mailaddr *a)
{
	char	text[MAILADDR_USER_MAX + MAILADDR_DOMAIN_MAX + 1];

	if (a->user[0] == '\0' && a->domain[0] == '\0')
		return;
	if (mailaddr_to_text(a, text, sizeof(text)) == -1) {
		d->overflow = 1;
		return;
	}
	put_string(d, key, text);
}

static int
sockaddr_to_envelope_text(const struct sockaddr_storage *ss, char *buf,
    size_t bufsz)
{
	char	addr[INET6_ADDRSTRLEN];

	switch (ss->ss_family) {
	case AF_INET:
		if (inet_ntop(AF_INET,
		    &((const struct sockaddr_in *)ss)->sin_addr, addr,
		    sizeof(addr)) == NULL)
			return -1;
		snprintf(buf, bufsz, "%s", addr);
		return 0;
	case AF_INET6:
		if (inet_ntop(AF_INET6,
		    &((const struct sockaddr_in6 *)ss)->sin6_addr, addr,
		    sizeof(addr)) == NULL)
			return -1;
		snprintf(buf, bufsz, "IPv6:%s", addr);
		return 0;
	default:
		snprintf(buf, bufsz, "local");
		return 0;
	}
}

static int
sockaddr_from_envelope_text(struct sockaddr_storage *ss, const char *text)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (strcmp(text, "local") == 0) {
		ss->ss_family = AF_UNSPEC;
		return 0;
	}
	if (strncasecmp(text, "IPv6:", 5) == 0) {
		if (inet_pton(AF_INET6, text + 5, &sin6->sin6_addr) != 1)
			return -1;
		sin6->sin6_family = AF_INET6;
		return 0;
	}
	if (inet_pton(AF_INET, text, &sin->sin_addr) != 1)
		return -1;
	sin->sin_family = AF_INET;
	return 0;
}

int
envelope_dump(const struct envelope *e, char *buf, size_t bufsz)
{
	struct dumpbuf	 d = { buf, bufsz, 0, 0 };
	char		 ss[INET6_ADDRSTRLEN + 8];
	char		 flags[64];

	if (bufsz == 0)
		return -1;
	buf[0] = '\0';
	put(&d, "version", "%d", ENVELOPE_VERSION);
	put(&d, "type", "%s", delivery_type_name(e->type));
	put_string(&d, "tag", e->tag);
	put_string(&d, "dispatcher", e->dispatcher);
	put_string(&d, "smtpname", e->smtpname);
	put_string(&d, "helo", e->helo);
	put_string(&d, "hostname", e->hostname);
	put_string(&d, "errorline", e->errorline);
	if (sockaddr_to_envelope_text(&e->ss, ss, sizeof(ss)) == -1)
		return -1;
	put(&d, "sockaddr", "%s", ss);
	put_mailaddr(&d, "sender", &e->sender);
	put_mailaddr(&d, "rcpt", &e->rcpt);
	put_mailaddr(&d, "dest", &e->dest);
	put(&d, "ctime", "%lld", (long long)e->creation);
	if (e->lasttry)
		put(&d, "last-try", "%lld", (long long)e->lasttry);
	if (e->lastbounce)
		put(&d, "last-bounce", "%lld", (long long)e->lastbounce);
	put(&d, "ttl", "%" PRId64, e->ttl);
	if (e->retry)
		put(&d, "retry", "%" PRIu32, e->retry);
	if (e->flags) {
		snprintf(flags, sizeof(flags), "%s%s%s%s",
		    e->flags & EF_AUTHENTICATED ? "authenticated " : "",
		    e->flags & EF_BOUNCE ? "bounce " : "",
		    e->flags & EF_INTERNAL ? "internal " : "",
		    e->flags & EF_LOCAL ? "local " : "");
		flags[strlen(flags) - 1] = '\0';
		put(&d, "flags", "%s", flags);
	}
	if (e->mda_method != M_NONE)
		put(&d, "mda-method", "%s", mda_method_name(e->mda_method));
	put_string(&d, "mda-buffer", e->mda_buffer);
	put_string(&d, "mda-user", e->mda_user);
	if (e->mda_user[0] != '\0') {
		put(&d, "mda-uid", "%lu", (unsigned long)e->mda_uid);
		put(&d, "mda-gid", "%lu", (unsigned long)e->mda_gid);
	}
	put_string(&d, "mda-home", e->mda_home);
	if (e->bounce_type != B_NONE) {
		put(&d, "bounce-type", "%s", bounce_type_names[e->bounce_type]);
		if (e->bounce_delay)
			put(&d, "bounce-delay", "%" PRId64, e->bounce_delay);
	}
	put_string(&d, "esc", e->esc);
	if (d.overflow)
		return -1;
	return (int)d.len;
}

static int
parse_int64(const char *s, int64_t min, int64_t max, int64_t *out)
{
	char		*end;
	long long	 v;

	if (*s == '\0')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int
parse_flags(const char *s, uint32_t *flags)
{
	char	 copy[128], *word, *next;

	if (strlcpy(copy, s, sizeof(copy)) >= sizeof(copy))
		return -1;
	*flags = 0;
	for (next = copy; (word = strsep(&next, " \t")) != NULL;) {
		if (*word == '\0')
			continue;
		if (strcasecmp(word, "authenticated") == 0)
			*flags |= EF_AUTHENTICATED;
		else if (strcasecmp(word, "bounce") == 0)
			*flags |= EF_BOUNCE;
		else if (strcasecmp(word, "internal") == 0)
			*flags |= EF_INTERNAL;
		else if (strcasecmp(word, "local") == 0)
			*flags |= EF_LOCAL;
		else
			return -1;
	}
	return 0;
}

static int
copy_field(char *dst, size_t dstsz, const char *value)
{
	return strlcpy(dst, value, dstsz) < dstsz ? 0 : -1;
}

/* -1: bad value; -2: unknown key */
static int
load_field(struct envelope *e, const char *key, const char *value)
{
	int64_t	 n;
	size_t	 i;

	if (strcasecmp(key, "version") == 0) {
		if (parse_int64(value, 1, ENVELOPE_VERSION, &n) == -1)
			return -1;
		e->version = (int)n;
		return 0;
	}
	if (strcasecmp(key, "type") == 0) {
		for (i = D_MDA; i <= D_MTA; i++)
			if (strcasecmp(value, delivery_type_names[i]) == 0) {
				e->type = i;
				return 0;
			}
		return -1;
	}
	if (strcasecmp(key, "tag") == 0)
		return copy_field(e->tag, sizeof(e->tag), value);
	if (strcasecmp(key, "dispatcher") == 0)
		return copy_field(e->dispatcher, sizeof(e->dispatcher), value);
	if (strcasecmp(key, "smtpname") == 0)
		return copy_field(e->smtpname, sizeof(e->smtpname), value);
	if (strcasecmp(key, "helo") == 0)
		return copy_field(e->helo, sizeof(e->helo), value);
	if (strcasecmp(key, "hostname") == 0)
		return copy_field(e->hostname, sizeof(e->hostname), value);
	if (strcasecmp(key, "errorline") == 0)
		return copy_field(e->errorline, sizeof(e->errorline), value);
	if (strcasecmp(key, "sockaddr") == 0)
		return sockaddr_from_envelope_text(&e->ss, value);
	if (strcasecmp(key, "sender") == 0)
		return mailaddr_from_text(&e->sender, value);
	if (strcasecmp(key, "rcpt") == 0)
		return mailaddr_from_text(&e->rcpt, value);
	if (strcasecmp(key, "dest") == 0)
		return mailaddr_from_text(&e->dest, value);
	if (strcasecmp(key, "ctime") == 0) {
		if (parse_int64(value, 0, INT64_MAX, &n) == -1)
			return -1;
		e->creation = (time_t)n;
		return 0;
	}
	if (strcasecmp(key, "last-try") == 0) {
		if (parse_int64(value, 0, INT64_MAX, &n) == -1)
			return -1;
		e->lasttry = (time_t)n;
		return 0;
	}
	if (strcasecmp(key, "last-bounce") == 0) {
		if (parse_int64(value, 0, INT64_MAX, &n) == -1)
			return -1;
		e->lastbounce = (time_t)n;
		return 0;
	}
	if (strcasecmp(key, "ttl") == 0)
		return parse_int64(value, 0, INT64_MAX, &e->ttl);
	if (strcasecmp(key, "retry") == 0) {
		if (parse_int64(value, 0, UINT32_MAX, &n) == -1)
			return -1;
		e->retry = (uint32_t)n;
		return 0;
	}
	if (strcasecmp(key, "flags") == 0)
		return parse_flags(value, &e->flags);
	if (strcasecmp(key, "mda-method") == 0) {
		for (i = M_MBOX; i <= M_FILE; i++)
			if (strcasecmp(value, mda_method_names[i]) == 0) {
				e->mda_method = i;
				return 0;
			}
		return -1;
	}
	if (strcasecmp(key, "mda-buffer") == 0)
		return copy_field(e->mda_buffer, sizeof(e->mda_buffer), value);
	if (strcasecmp(key, "mda-user") == 0)
		return copy_field(e->mda_user, sizeof(e->mda_user), value);
	if (strcasecmp(key, "mda-uid") == 0) {
		if (parse_int64(value, 0, UINT32_MAX - 1, &n) == -1)
			return -1;
		e->mda_uid = (uid_t)n;
		return 0;
	}
	if (strcasecmp(key, "mda-gid") == 0) {
		if (parse_int64(value, 0, UINT32_MAX - 1, &n) == -1)
			return -1;
		e->mda_gid = (gid_t)n;
		return 0;
	}
	if (strcasecmp(key, "mda-home") == 0)
		return copy_field(e->mda_home, sizeof(e->mda_home), value);
	if (strcasecmp(key, "bounce-type") == 0) {
		for (i = B_FAILED; i <= B_DELAYED; i++)
			if (strcasecmp(value, bounce_type_names[i]) == 0) {
				e->bounce_type = i;
				return 0;
			}
		return -1;
	}
	if (strcasecmp(key, "bounce-delay") == 0)
		return parse_int64(value, 0, INT64_MAX, &e->bounce_delay);
	if (strcasecmp(key, "esc") == 0)
		return copy_field(e->esc, sizeof(e->esc), value);
	return -2;
}

int
envelope_load(struct envelope *e, const char *text, size_t len, char *err,
    size_t errsz)
{
	char		 line[ENVELOPE_PATH_MAX + 64];
	char		*key, *value, *end;
	const char	*p, *eol, *stop = text + len;
	int		 lineno = 0, r, have_version = 0, have_type = 0;

	memset(e, 0, sizeof(*e));
	for (p = text; p < stop; p = eol + 1) {
		lineno++;
		eol = memchr(p, '\n', stop - p);
		if (eol == NULL)
			eol = stop;
		if ((size_t)(eol - p) >= sizeof(line)) {
			snprintf(err, errsz, "line %d: too long", lineno);
			return -1;
		}
		memcpy(line, p, eol - p);
		line[eol - p] = '\0';
		if (memchr(line, '\0', eol - p) != NULL) {
			snprintf(err, errsz, "line %d: NUL byte", lineno);
			return -1;
		}
		if (line[0] == '\0')
			continue;
		if ((value = strchr(line, ':')) == NULL) {
			snprintf(err, errsz, "line %d: no ':' after the key",
			    lineno);
			return -1;
		}
		*value++ = '\0';
		key = line;
		while (*value == ' ' || *value == '\t')
			value++;
		end = value + strlen(value);
		while (end > value && (end[-1] == ' ' || end[-1] == '\t' ||
		    end[-1] == '\r'))
			*--end = '\0';
		r = load_field(e, key, value);
		if (r == -2) {
			snprintf(err, errsz, "line %d: unknown key \"%s\"",
			    lineno, key);
			return -1;
		}
		if (r == -1) {
			snprintf(err, errsz, "line %d: bad value for %s",
			    lineno, key);
			return -1;
		}
		if (strcasecmp(key, "version") == 0)
			have_version = 1;
		if (strcasecmp(key, "type") == 0)
			have_type = 1;
	}
	if (!have_version) {
		snprintf(err, errsz, "no version line");
		return -1;
	}
	if (!have_type) {
		snprintf(err, errsz, "no type line");
		return -1;
	}
	return 0;
}
