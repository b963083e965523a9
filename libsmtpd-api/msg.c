/*
 * msg.c: typed encoding of frame bodies.
 *
 * Each field is a tag byte and a value; integers are little-endian
 * whatever the host, so that the bytes on the wire never depend on a
 * compiler's idea of a struct.  Writers keep the first error and ignore
 * everything after it; readers check the tag and the length of every
 * field and never read past the body.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <netinet/in.h>

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtpd-api.h"

/* Family bytes of MSG_SOCKADDR. */
#define MSG_AF_UNSPEC	0
#define MSG_AF_INET	1
#define MSG_AF_INET6	2
#define MSG_AF_UNIX	3

static int	 msg_reserve(struct msg *, size_t);
static void	 msg_put(struct msg *, const void *, size_t);
static void	 msg_put_tag(struct msg *, int);
static void	 msg_put_le(struct msg *, uint64_t, size_t);
static void	 msg_add_fixed(struct msg *, int, uint64_t, size_t);
static void	 msg_add_bytes(struct msg *, int, const void *, size_t);

static int	 msg_fail(struct msg_reader *, const char *, ...)
		    __attribute__((__format__(printf, 2, 3)));
static int	 msg_check_tag(struct msg_reader *, int);
static int	 msg_need(struct msg_reader *, size_t, size_t, int,
		    const char *);
static uint64_t	 msg_le(const unsigned char *, size_t);
static int	 msg_get_fixed(struct msg_reader *, int, size_t, uint64_t *);
static int	 msg_get_bytes(struct msg_reader *, int,
		    const unsigned char **, size_t *);
static int64_t	 msg_to_int64(uint64_t);

/* ------------------------------------------------------------------ */
/* writing                                                             */
/* ------------------------------------------------------------------ */

void
msg_init(struct msg *m)
{
	memset(m, 0, sizeof(*m));
}

void
msg_reset(struct msg *m)
{
	m->len = 0;
	m->error = 0;
}

void
msg_free(struct msg *m)
{
	free(m->buf);
	memset(m, 0, sizeof(*m));
}

int
msg_error(const struct msg *m)
{
	return m->error;
}

/* Room for n more bytes; a body never grows past IMSG_MAX_BODY. */
static int
msg_reserve(struct msg *m, size_t n)
{
	unsigned char	*p;
	size_t		 cap;

	if (m->error)
		return -1;
	if (n > IMSG_MAX_BODY - m->len) {
		m->error = EMSGSIZE;
		return -1;
	}
	if (m->len + n <= m->cap)
		return 0;
	cap = m->cap ? m->cap : 128;
	while (cap < m->len + n)
		cap *= 2;
	if (cap > IMSG_MAX_BODY)
		cap = IMSG_MAX_BODY;
	if ((p = realloc(m->buf, cap)) == NULL) {
		m->error = ENOMEM;
		return -1;
	}
	m->buf = p;
	m->cap = cap;
	return 0;
}

/* Callers reserve first: these only copy. */
static void
msg_put(struct msg *m, const void *p, size_t n)
{
	if (n > 0)
		memcpy(m->buf + m->len, p, n);
	m->len += n;
}

static void
msg_put_tag(struct msg *m, int tag)
{
	m->buf[m->len++] = (unsigned char)tag;
}

static void
msg_put_le(struct msg *m, uint64_t v, size_t width)
{
	size_t	 i;

	for (i = 0; i < width; i++)
		m->buf[m->len++] = (unsigned char)(v >> (8 * i));
}

static void
msg_add_fixed(struct msg *m, int tag, uint64_t v, size_t width)
{
	if (msg_reserve(m, 1 + width) == -1)
		return;
	msg_put_tag(m, tag);
	msg_put_le(m, v, width);
}

static void
msg_add_bytes(struct msg *m, int tag, const void *p, size_t n)
{
	if (m->error)
		return;
	if (n > UINT32_MAX) {
		m->error = EMSGSIZE;
		return;
	}
	if (msg_reserve(m, 1 + 4 + n) == -1)
		return;
	msg_put_tag(m, tag);
	msg_put_le(m, n, 4);
	msg_put(m, p, n);
}

void
msg_add_int32(struct msg *m, int32_t v)
{
	msg_add_fixed(m, MSG_INT32, (uint32_t)v, 4);
}

void
msg_add_uint32(struct msg *m, uint32_t v)
{
	msg_add_fixed(m, MSG_UINT32, v, 4);
}

void
msg_add_uint64(struct msg *m, uint64_t v)
{
	msg_add_fixed(m, MSG_UINT64, v, 8);
}

void
msg_add_id(struct msg *m, uint64_t v)
{
	msg_add_fixed(m, MSG_ID, v, 8);
}

void
msg_add_time(struct msg *m, time_t t)
{
	msg_add_fixed(m, MSG_TIME, (uint64_t)(int64_t)t, 8);
}

/* A NULL string is a programming error, kept as EINVAL. */
void
msg_add_string(struct msg *m, const char *s)
{
	if (s == NULL) {
		if (m->error == 0)
			m->error = EINVAL;
		return;
	}
	msg_add_bytes(m, MSG_STRING, s, strlen(s));
}

void
msg_add_data(struct msg *m, const void *p, size_t n)
{
	if (p == NULL && n > 0) {
		if (m->error == 0)
			m->error = EINVAL;
		return;
	}
	msg_add_bytes(m, MSG_DATA, p, n);
}

/*
 * family byte, 2-byte port (host order value, little-endian on the
 * wire; 0 for unix and unspec), then the address.
 */
void
msg_add_sockaddr(struct msg *m, const struct sockaddr *sa)
{
	const struct sockaddr_in	*sin;
	const struct sockaddr_in6	*sin6;
	const struct sockaddr_un	*sun;
	size_t				 n;

	if (m->error)
		return;
	if (sa == NULL) {
		m->error = EINVAL;
		return;
	}
	switch (sa->sa_family) {
	case AF_UNSPEC:
		if (msg_reserve(m, 1 + 1 + 2) == -1)
			return;
		msg_put_tag(m, MSG_SOCKADDR);
		msg_put_le(m, MSG_AF_UNSPEC, 1);
		msg_put_le(m, 0, 2);
		break;
	case AF_INET:
		sin = (const struct sockaddr_in *)sa;
		if (msg_reserve(m, 1 + 1 + 2 + 4) == -1)
			return;
		msg_put_tag(m, MSG_SOCKADDR);
		msg_put_le(m, MSG_AF_INET, 1);
		msg_put_le(m, ntohs(sin->sin_port), 2);
		msg_put(m, &sin->sin_addr, 4);
		break;
	case AF_INET6:
		sin6 = (const struct sockaddr_in6 *)sa;
		if (msg_reserve(m, 1 + 1 + 2 + 16) == -1)
			return;
		msg_put_tag(m, MSG_SOCKADDR);
		msg_put_le(m, MSG_AF_INET6, 1);
		msg_put_le(m, ntohs(sin6->sin6_port), 2);
		msg_put(m, &sin6->sin6_addr, 16);
		break;
	case AF_UNIX:
		sun = (const struct sockaddr_un *)sa;
		n = strnlen(sun->sun_path, sizeof(sun->sun_path));
		if (msg_reserve(m, 1 + 1 + 2 + 4 + n) == -1)
			return;
		msg_put_tag(m, MSG_SOCKADDR);
		msg_put_le(m, MSG_AF_UNIX, 1);
		msg_put_le(m, 0, 2);
		msg_put_le(m, n, 4);
		msg_put(m, sun->sun_path, n);
		break;
	default:
		m->error = EAFNOSUPPORT;
		break;
	}
}

/* ------------------------------------------------------------------ */
/* reading                                                             */
/* ------------------------------------------------------------------ */

void
msg_reader_init(struct msg_reader *r, const void *buf, size_t len)
{
	memset(r, 0, sizeof(*r));
	r->buf = buf;
	r->len = buf != NULL ? len : 0;
}

static int
msg_fail(struct msg_reader *r, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(r->error, sizeof(r->error), fmt, ap);
	va_end(ap);
	r->failed = 1;
	return -1;
}

const char *
msg_type_name(int type)
{
	switch (type) {
	case MSG_INT32:
		return "int32";
	case MSG_UINT32:
		return "uint32";
	case MSG_UINT64:
		return "uint64";
	case MSG_ID:
		return "id";
	case MSG_TIME:
		return "time";
	case MSG_STRING:
		return "string";
	case MSG_DATA:
		return "data";
	case MSG_SOCKADDR:
		return "sockaddr";
	default:
		return "unknown";
	}
}

/* Fields are numbered from 1 in messages, as a human counts them. */
static int
msg_check_tag(struct msg_reader *r, int want)
{
	int	 tag;

	if (r->failed)
		return -1;
	if (r->off >= r->len)
		return msg_fail(r, "field %d: expected %s, found end of body",
		    r->field + 1, msg_type_name(want));
	tag = r->buf[r->off];
	if (tag == want)
		return 0;
	if (tag >= MSG_INT32 && tag <= MSG_SOCKADDR)
		return msg_fail(r, "field %d: expected %s, found %s",
		    r->field + 1, msg_type_name(want), msg_type_name(tag));
	return msg_fail(r, "field %d: expected %s, found unknown tag 0x%02x",
	    r->field + 1, msg_type_name(want), tag);
}

/* n bytes must remain at offset off (relative to the current field). */
static int
msg_need(struct msg_reader *r, size_t off, size_t n, int type,
    const char *what)
{
	size_t	 left = r->len - r->off;

	left = off <= left ? left - off : 0;
	if (n <= left)
		return 0;
	return msg_fail(r,
	    "field %d: truncated %s%s (need %zu bytes, %zu left)",
	    r->field + 1, msg_type_name(type), what, n, left);
}

static uint64_t
msg_le(const unsigned char *p, size_t width)
{
	uint64_t	 v = 0;
	size_t		 i;

	for (i = 0; i < width; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* Two's complement without relying on implementation-defined casts. */
static int64_t
msg_to_int64(uint64_t u)
{
	if (u <= INT64_MAX)
		return (int64_t)u;
	return -(int64_t)(~u) - 1;
}

static int
msg_get_fixed(struct msg_reader *r, int tag, size_t width, uint64_t *v)
{
	if (msg_check_tag(r, tag) == -1 || msg_need(r, 1, width, tag, "") == -1)
		return -1;
	*v = msg_le(r->buf + r->off + 1, width);
	r->off += 1 + width;
	r->field++;
	return 0;
}

/* Length-prefixed value: *p points into the body. */
static int
msg_get_bytes(struct msg_reader *r, int tag, const unsigned char **p,
    size_t *n)
{
	uint64_t	 len;

	if (msg_check_tag(r, tag) == -1 ||
	    msg_need(r, 1, 4, tag, " length") == -1)
		return -1;
	len = msg_le(r->buf + r->off + 1, 4);
	if (msg_need(r, 5, len, tag, "") == -1)
		return -1;
	*p = r->buf + r->off + 5;
	*n = len;
	r->off += 5 + len;
	r->field++;
	return 0;
}

int
msg_get_int32(struct msg_reader *r, int32_t *v)
{
	uint64_t	 u;
	int64_t		 s;

	if (msg_get_fixed(r, MSG_INT32, 4, &u) == -1)
		return -1;
	s = (int64_t)u;
	if (s > INT32_MAX)
		s -= (int64_t)1 << 32;
	*v = (int32_t)s;
	return 0;
}

int
msg_get_uint32(struct msg_reader *r, uint32_t *v)
{
	uint64_t	 u;

	if (msg_get_fixed(r, MSG_UINT32, 4, &u) == -1)
		return -1;
	*v = (uint32_t)u;
	return 0;
}

int
msg_get_uint64(struct msg_reader *r, uint64_t *v)
{
	return msg_get_fixed(r, MSG_UINT64, 8, v);
}

int
msg_get_id(struct msg_reader *r, uint64_t *v)
{
	return msg_get_fixed(r, MSG_ID, 8, v);
}

int
msg_get_time(struct msg_reader *r, time_t *t)
{
	uint64_t	 u;
	int64_t		 s;

	if (msg_get_fixed(r, MSG_TIME, 8, &u) == -1)
		return -1;
	s = msg_to_int64(u);
	if (sizeof(time_t) < sizeof(int64_t) &&
	    (s > (int64_t)INT32_MAX || s < (int64_t)INT32_MIN)) {
		r->field--;
		r->off -= 9;
		return msg_fail(r, "field %d: time %lld out of range",
		    r->field + 1, (long long)s);
	}
	*t = (time_t)s;
	return 0;
}

int
msg_get_string(struct msg_reader *r, char **s)
{
	const unsigned char	*p;
	size_t			 n;
	char			*copy;

	if (msg_get_bytes(r, MSG_STRING, &p, &n) == -1)
		return -1;
	if (memchr(p, '\0', n) != NULL) {
		r->field--;
		r->off -= 5 + n;
		return msg_fail(r, "field %d: string contains a NUL byte",
		    r->field + 1);
	}
	if ((copy = malloc(n + 1)) == NULL) {
		r->field--;
		r->off -= 5 + n;
		return msg_fail(r, "field %d: out of memory for a string of "
		    "%zu bytes", r->field + 1, n);
	}
	memcpy(copy, p, n);
	copy[n] = '\0';
	*s = copy;
	return 0;
}

int
msg_get_data(struct msg_reader *r, const void **p, size_t *n)
{
	const unsigned char	*q;
	size_t			 len;

	if (msg_get_bytes(r, MSG_DATA, &q, &len) == -1)
		return -1;
	*p = q;
	*n = len;
	return 0;
}

int
msg_get_sockaddr(struct msg_reader *r, struct sockaddr_storage *ss)
{
	struct sockaddr_in	*sin;
	struct sockaddr_in6	*sin6;
	struct sockaddr_un	*sun;
	const unsigned char	*p;
	uint16_t		 port;
	uint64_t		 len;
	int			 family;

	if (msg_check_tag(r, MSG_SOCKADDR) == -1 ||
	    msg_need(r, 1, 3, MSG_SOCKADDR, " header") == -1)
		return -1;
	p = r->buf + r->off + 1;
	family = p[0];
	port = (uint16_t)msg_le(p + 1, 2);
	memset(ss, 0, sizeof(*ss));
	switch (family) {
	case MSG_AF_UNSPEC:
		ss->ss_family = AF_UNSPEC;
		r->off += 1 + 3;
		break;
	case MSG_AF_INET:
		if (msg_need(r, 4, 4, MSG_SOCKADDR, " inet address") == -1)
			return -1;
		sin = (struct sockaddr_in *)ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		memcpy(&sin->sin_addr, p + 3, 4);
		r->off += 1 + 3 + 4;
		break;
	case MSG_AF_INET6:
		if (msg_need(r, 4, 16, MSG_SOCKADDR, " inet6 address") == -1)
			return -1;
		sin6 = (struct sockaddr_in6 *)ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		memcpy(&sin6->sin6_addr, p + 3, 16);
		r->off += 1 + 3 + 16;
		break;
	case MSG_AF_UNIX:
		if (msg_need(r, 4, 4, MSG_SOCKADDR, " unix path length") == -1)
			return -1;
		len = msg_le(p + 3, 4);
		if (msg_need(r, 8, len, MSG_SOCKADDR, " unix path") == -1)
			return -1;
		sun = (struct sockaddr_un *)ss;
		/* sockaddr_storage has room for a NUL after a full path */
		if (len > sizeof(sun->sun_path))
			return msg_fail(r, "field %d: unix path of %llu bytes "
			    "too long (max %zu)", r->field + 1,
			    (unsigned long long)len, sizeof(sun->sun_path));
		if (memchr(p + 7, '\0', len) != NULL)
			return msg_fail(r, "field %d: unix path contains a "
			    "NUL byte", r->field + 1);
		sun->sun_family = AF_UNIX;
		memcpy(sun->sun_path, p + 7, len);
		r->off += 1 + 3 + 4 + len;
		break;
	default:
		return msg_fail(r, "field %d: unknown sockaddr family %d",
		    r->field + 1, family);
	}
	r->field++;
	return 0;
}

int
msg_peek_type(const struct msg_reader *r)
{
	if (r->off >= r->len)
		return 0;
	return r->buf[r->off];
}

int
msg_remaining(const struct msg_reader *r)
{
	return (int)(r->len - r->off);
}

int
msg_end(struct msg_reader *r)
{
	if (r->failed)
		return -1;
	if (r->off < r->len)
		return msg_fail(r, "field %d: expected end of body, found %zu "
		    "trailing bytes", r->field + 1, r->len - r->off);
	return 0;
}

const char *
msg_reader_error(const struct msg_reader *r)
{
	if (!r->failed)
		return "no error";
	return r->error;
}
