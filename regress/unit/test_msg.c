/*
 * test_msg.c: typed body encoding (libsmtpd-api/msg.c).
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <check.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtpd-api.h"

static void	build_mixed(struct msg *);
static int	read_mixed(const void *, size_t, char *, size_t);
static Suite	*msg_suite(void);

START_TEST(test_roundtrip_integers)
{
	static const int32_t	 i32[] = { INT32_MIN, -1, 0, 1, INT32_MAX };
	static const uint32_t	 u32[] = { 0, 1, 0x80000000u, UINT32_MAX };
	static const uint64_t	 u64[] = { 0, 1,
	    UINT64_C(0x8000000000000000), UINT64_MAX };
	static const time_t	 tv[] = { 0, -1, 1700000000,
	    (time_t)INT64_MAX, (time_t)INT64_MIN };
	struct msg		 m;
	struct msg_reader	 r;
	int32_t			 a;
	uint32_t		 b;
	uint64_t		 c;
	time_t			 t;
	size_t			 i;

	msg_init(&m);
	for (i = 0; i < sizeof(i32) / sizeof(i32[0]); i++)
		msg_add_int32(&m, i32[i]);
	for (i = 0; i < sizeof(u32) / sizeof(u32[0]); i++)
		msg_add_uint32(&m, u32[i]);
	for (i = 0; i < sizeof(u64) / sizeof(u64[0]); i++) {
		msg_add_uint64(&m, u64[i]);
		msg_add_id(&m, u64[i]);
	}
	for (i = 0; i < sizeof(tv) / sizeof(tv[0]); i++)
		msg_add_time(&m, tv[i]);
	ck_assert_int_eq(msg_error(&m), 0);

	msg_reader_init(&r, m.buf, m.len);
	for (i = 0; i < sizeof(i32) / sizeof(i32[0]); i++) {
		ck_assert_int_eq(msg_peek_type(&r), MSG_INT32);
		ck_assert_int_eq(msg_get_int32(&r, &a), 0);
		ck_assert_int_eq(a, i32[i]);
	}
	for (i = 0; i < sizeof(u32) / sizeof(u32[0]); i++) {
		ck_assert_int_eq(msg_get_uint32(&r, &b), 0);
		ck_assert_uint_eq(b, u32[i]);
	}
	for (i = 0; i < sizeof(u64) / sizeof(u64[0]); i++) {
		ck_assert_int_eq(msg_get_uint64(&r, &c), 0);
		ck_assert(c == u64[i]);
		ck_assert_int_eq(msg_peek_type(&r), MSG_ID);
		ck_assert_int_eq(msg_get_id(&r, &c), 0);
		ck_assert(c == u64[i]);
	}
	for (i = 0; i < sizeof(tv) / sizeof(tv[0]); i++) {
		ck_assert_int_eq(msg_get_time(&r, &t), 0);
		ck_assert(t == tv[i]);
	}
	ck_assert_int_eq(msg_peek_type(&r), 0);
	ck_assert_int_eq(msg_remaining(&r), 0);
	ck_assert_int_eq(msg_end(&r), 0);
	msg_free(&m);
}
END_TEST

START_TEST(test_roundtrip_strings_data)
{
	static const unsigned char	 bin[] = { 0, 1, 2, 0, 0xff, 0 };
	struct msg			 m;
	struct msg_reader		 r;
	char				*big, *s;
	const void			*p;
	size_t				 n;

	big = malloc(40000);
	ck_assert_ptr_nonnull(big);
	memset(big, 'x', 39999);
	big[39999] = '\0';

	msg_init(&m);
	msg_add_string(&m, "");
	msg_add_string(&m, "hello, world");
	msg_add_string(&m, big);
	msg_add_data(&m, NULL, 0);
	msg_add_data(&m, bin, sizeof(bin));
	ck_assert_int_eq(msg_error(&m), 0);

	msg_reader_init(&r, m.buf, m.len);
	ck_assert_int_eq(msg_get_string(&r, &s), 0);
	ck_assert_str_eq(s, "");
	free(s);
	ck_assert_int_eq(msg_get_string(&r, &s), 0);
	ck_assert_str_eq(s, "hello, world");
	free(s);
	ck_assert_int_eq(msg_get_string(&r, &s), 0);
	ck_assert_str_eq(s, big);
	free(s);
	ck_assert_int_eq(msg_get_data(&r, &p, &n), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(msg_get_data(&r, &p, &n), 0);
	ck_assert_uint_eq(n, sizeof(bin));
	ck_assert_mem_eq(p, bin, sizeof(bin));
	/* data points into the body, no copy */
	ck_assert(p > (const void *)m.buf && p < (const void *)(m.buf + m.len));
	ck_assert_int_eq(msg_end(&r), 0);
	msg_free(&m);
	free(big);
}
END_TEST

START_TEST(test_roundtrip_sockaddr)
{
	struct sockaddr_in	 sin, *psin;
	struct sockaddr_in6	 sin6, *psin6;
	struct sockaddr_un	 sun, *psun;
	struct sockaddr		 unspec;
	struct sockaddr_storage	 ss;
	struct msg		 m;
	struct msg_reader	 r;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(2525);
	ck_assert_int_eq(inet_pton(AF_INET, "192.0.2.7", &sin.sin_addr), 1);
	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_port = htons(65535);
	ck_assert_int_eq(inet_pton(AF_INET6, "2001:db8::1:2", &sin6.sin6_addr),
	    1);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strlcpy(sun.sun_path, "/var/run/smtpd.sock", sizeof(sun.sun_path));
	memset(&unspec, 0, sizeof(unspec));
	unspec.sa_family = AF_UNSPEC;

	msg_init(&m);
	msg_add_sockaddr(&m, (struct sockaddr *)&sin);
	msg_add_sockaddr(&m, (struct sockaddr *)&sin6);
	msg_add_sockaddr(&m, (struct sockaddr *)&sun);
	msg_add_sockaddr(&m, &unspec);
	ck_assert_int_eq(msg_error(&m), 0);

	msg_reader_init(&r, m.buf, m.len);
	ck_assert_int_eq(msg_peek_type(&r), MSG_SOCKADDR);
	ck_assert_int_eq(msg_get_sockaddr(&r, &ss), 0);
	psin = (struct sockaddr_in *)&ss;
	ck_assert_int_eq(psin->sin_family, AF_INET);
	ck_assert_int_eq(ntohs(psin->sin_port), 2525);
	ck_assert_mem_eq(&psin->sin_addr, &sin.sin_addr, 4);

	ck_assert_int_eq(msg_get_sockaddr(&r, &ss), 0);
	psin6 = (struct sockaddr_in6 *)&ss;
	ck_assert_int_eq(psin6->sin6_family, AF_INET6);
	ck_assert_int_eq(ntohs(psin6->sin6_port), 65535);
	ck_assert_mem_eq(&psin6->sin6_addr, &sin6.sin6_addr, 16);

	ck_assert_int_eq(msg_get_sockaddr(&r, &ss), 0);
	psun = (struct sockaddr_un *)&ss;
	ck_assert_int_eq(psun->sun_family, AF_UNIX);
	ck_assert_str_eq(psun->sun_path, "/var/run/smtpd.sock");

	ck_assert_int_eq(msg_get_sockaddr(&r, &ss), 0);
	ck_assert_int_eq(ss.ss_family, AF_UNSPEC);
	ck_assert_int_eq(msg_end(&r), 0);
	msg_free(&m);
}
END_TEST

/* The bytes on the wire, whatever the host's endianness. */
START_TEST(test_wire_format)
{
	static const unsigned char	 want[] = {
		MSG_INT32, 0xfe, 0xff, 0xff, 0xff,
		MSG_UINT32, 0x04, 0x03, 0x02, 0x01,
		MSG_UINT64, 0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,
		MSG_ID, 0x01, 0, 0, 0, 0, 0, 0, 0,
		MSG_TIME, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		MSG_STRING, 2, 0, 0, 0, 'a', 'b',
		MSG_DATA, 1, 0, 0, 0, 0x00,
		MSG_SOCKADDR, 1, 25, 0, 10, 0, 0, 1,
		MSG_SOCKADDR, 2, 0x01, 0x02, 0, 0, 0, 0, 0, 0, 0, 0,
		    0, 0, 0, 0, 0, 0, 0, 1,
		MSG_SOCKADDR, 3, 0, 0, 2, 0, 0, 0, '/', 's',
		MSG_SOCKADDR, 0, 0, 0,
	};
	struct sockaddr_in	 sin;
	struct sockaddr_in6	 sin6;
	struct sockaddr_un	 sun;
	struct sockaddr_storage	 unspec;
	struct msg		 m;
	unsigned char		 zero = 0;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(25);
	sin.sin_addr.s_addr = htonl(0x0a000001);
	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_port = htons(0x0201);
	sin6.sin6_addr = in6addr_loopback;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, "/s", 2);
	memset(&unspec, 0, sizeof(unspec));

	msg_init(&m);
	msg_add_int32(&m, -2);
	msg_add_uint32(&m, 0x01020304);
	msg_add_uint64(&m, UINT64_C(0x0102030405060708));
	msg_add_id(&m, 1);
	msg_add_time(&m, -1);
	msg_add_string(&m, "ab");
	msg_add_data(&m, &zero, 1);
	msg_add_sockaddr(&m, (struct sockaddr *)&sin);
	msg_add_sockaddr(&m, (struct sockaddr *)&sin6);
	msg_add_sockaddr(&m, (struct sockaddr *)&sun);
	msg_add_sockaddr(&m, (struct sockaddr *)&unspec);
	ck_assert_int_eq(msg_error(&m), 0);
	ck_assert_uint_eq(m.len, sizeof(want));
	ck_assert_mem_eq(m.buf, want, sizeof(want));
	msg_free(&m);
}
END_TEST

START_TEST(test_wrong_type)
{
	struct msg		 m;
	struct msg_reader	 r;
	uint32_t		 u;
	uint64_t		 id;
	char			*s = NULL;

	msg_init(&m);
	msg_add_id(&m, 42);
	msg_add_uint32(&m, 7);
	msg_add_uint32(&m, 8);
	msg_reader_init(&r, m.buf, m.len);
	ck_assert_int_eq(msg_get_id(&r, &id), 0);
	ck_assert_int_eq(msg_get_uint32(&r, &u), 0);
	ck_assert_int_eq(msg_get_string(&r, &s), -1);
	ck_assert_ptr_null(s);
	ck_assert_str_eq(msg_reader_error(&r),
	    "field 3: expected string, found uint32");
	/* sticky: the right type is refused too once failed */
	ck_assert_int_eq(msg_get_uint32(&r, &u), -1);
	ck_assert_int_eq(msg_end(&r), -1);
	ck_assert_str_eq(msg_reader_error(&r),
	    "field 3: expected string, found uint32");

	/* an unknown tag */
	m.buf[0] = 0x63;
	msg_reader_init(&r, m.buf, m.len);
	ck_assert_str_eq(msg_reader_error(&r), "no error");
	ck_assert_int_eq(msg_get_id(&r, &id), -1);
	ck_assert_str_eq(msg_reader_error(&r),
	    "field 1: expected id, found unknown tag 0x63");

	/* uint64 and id are distinct types */
	m.buf[0] = MSG_UINT64;
	msg_reader_init(&r, m.buf, m.len);
	ck_assert_int_eq(msg_get_id(&r, &id), -1);
	ck_assert_str_eq(msg_reader_error(&r),
	    "field 1: expected id, found uint64");
	msg_free(&m);
}
END_TEST

static void
build_mixed(struct msg *m)
{
	static const char	 blob[100] = "some data";
	struct sockaddr_in6	 sin6;
	struct sockaddr_un	 sun;

	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_port = htons(587);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strlcpy(sun.sun_path, "/tmp/x", sizeof(sun.sun_path));

	msg_init(m);
	msg_add_id(m, 0x1122334455667788ULL);
	msg_add_int32(m, -5);
	msg_add_string(m, "user@example.org");
	msg_add_data(m, blob, sizeof(blob));
	msg_add_time(m, 1234567890);
	msg_add_sockaddr(m, (struct sockaddr *)&sin6);
	msg_add_sockaddr(m, (struct sockaddr *)&sun);
	msg_add_uint64(m, 9);
	msg_add_uint32(m, 3);
}

/* Decode what build_mixed wrote: 0, or -1 with the error in err. */
static int
read_mixed(const void *buf, size_t len, char *err, size_t errsz)
{
	struct msg_reader	 r;
	struct sockaddr_storage	 ss;
	const void		*p;
	uint64_t		 id, u64;
	uint32_t		 u32;
	int32_t			 i32;
	time_t			 t;
	size_t			 n;
	char			*s = NULL;
	int			 ret;

	msg_reader_init(&r, buf, len);
	ret = 0;
	if (msg_get_id(&r, &id) == -1 || msg_get_int32(&r, &i32) == -1 ||
	    msg_get_string(&r, &s) == -1 || msg_get_data(&r, &p, &n) == -1 ||
	    msg_get_time(&r, &t) == -1 || msg_get_sockaddr(&r, &ss) == -1 ||
	    msg_get_sockaddr(&r, &ss) == -1 ||
	    msg_get_uint64(&r, &u64) == -1 || msg_get_uint32(&r, &u32) == -1 ||
	    msg_end(&r) == -1)
		ret = -1;
	else {
		ck_assert(id == 0x1122334455667788ULL);
		ck_assert_int_eq(i32, -5);
		ck_assert_str_eq(s, "user@example.org");
		ck_assert_uint_eq(n, 100);
		ck_assert(t == 1234567890);
		ck_assert(u64 == 9);
		ck_assert_uint_eq(u32, 3);
	}
	free(s);
	strlcpy(err, msg_reader_error(&r), errsz);
	return ret;
}

/*
 * Every prefix of a valid body fails to decode.  Each prefix is copied
 * into a buffer of exactly its size so that ASan sees any over-read.
 */
START_TEST(test_truncation_every_offset)
{
	struct msg	 m;
	unsigned char	*copy;
	char		 err[128];
	size_t		 len;

	build_mixed(&m);
	ck_assert_int_eq(msg_error(&m), 0);
	ck_assert_int_eq(read_mixed(m.buf, m.len, err, sizeof(err)), 0);
	for (len = 0; len < m.len; len++) {
		copy = malloc(len > 0 ? len : 1);
		ck_assert_ptr_nonnull(copy);
		memcpy(copy, m.buf, len);
		ck_assert_msg(read_mixed(copy, len, err, sizeof(err)) == -1,
		    "prefix of %zu bytes decoded", len);
		ck_assert_msg(strstr(err, "truncated") != NULL ||
		    strstr(err, "end of body") != NULL,
		    "prefix %zu: unexpected error \"%s\"", len, err);
		free(copy);
	}
	msg_free(&m);
}
END_TEST

START_TEST(test_truncation_messages)
{
	static const unsigned char	 short_data[] = {
		MSG_UINT32, 1, 0, 0, 0,
		MSG_DATA, 100, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
	};
	static const unsigned char	 short_int[] = {
		MSG_UINT64, 1, 2, 3,
	};
	struct msg_reader		 r;
	const void			*p;
	size_t				 n;
	uint32_t			 u;
	uint64_t			 v;

	msg_reader_init(&r, short_data, sizeof(short_data));
	ck_assert_int_eq(msg_get_uint32(&r, &u), 0);
	ck_assert_int_eq(msg_get_data(&r, &p, &n), -1);
	ck_assert_str_eq(msg_reader_error(&r),
	    "field 2: truncated data (need 100 bytes, 12 left)");

	msg_reader_init(&r, short_int, sizeof(short_int));
	ck_assert_int_eq(msg_get_uint64(&r, &v), -1);
	ck_assert_str_eq(msg_reader_error(&r),
	    "field 1: truncated uint64 (need 8 bytes, 3 left)");

	msg_reader_init(&r, NULL, 0);
	ck_assert_int_eq(msg_peek_type(&r), 0);
	ck_assert_int_eq(msg_get_uint32(&r, &u), -1);
	ck_assert_str_eq(msg_reader_error(&r),
	    "field 1: expected uint32, found end of body");
}
END_TEST

START_TEST(test_nul_in_string)
{
	static const unsigned char	 body[] = {
		MSG_STRING, 3, 0, 0, 0, 'a', 0, 'b',
	};
	static const unsigned char	 path[] = {
		MSG_SOCKADDR, 3, 0, 0, 3, 0, 0, 0, '/', 0, 'b',
	};
	struct msg_reader		 r;
	struct sockaddr_storage		 ss;
	char				*s = NULL;

	msg_reader_init(&r, body, sizeof(body));
	ck_assert_int_eq(msg_get_string(&r, &s), -1);
	ck_assert_ptr_null(s);
	ck_assert_str_eq(msg_reader_error(&r),
	    "field 1: string contains a NUL byte");

	msg_reader_init(&r, path, sizeof(path));
	ck_assert_int_eq(msg_get_sockaddr(&r, &ss), -1);
	ck_assert_str_eq(msg_reader_error(&r),
	    "field 1: unix path contains a NUL byte");
}
END_TEST

START_TEST(test_sockaddr_errors)
{
	unsigned char		 body[1 + 1 + 2 + 4 + 200];
	struct msg_reader	 r;
	struct sockaddr_storage	 ss;
	struct msg		 m;
	struct sockaddr		 sa;

	memset(body, 'p', sizeof(body));
	body[0] = MSG_SOCKADDR;
	body[1] = 9;
	msg_reader_init(&r, body, sizeof(body));
	ck_assert_int_eq(msg_get_sockaddr(&r, &ss), -1);
	ck_assert_str_eq(msg_reader_error(&r),
	    "field 1: unknown sockaddr family 9");

	body[1] = 3;
	body[2] = body[3] = 0;
	body[4] = 200;
	body[5] = body[6] = body[7] = 0;
	msg_reader_init(&r, body, sizeof(body));
	ck_assert_int_eq(msg_get_sockaddr(&r, &ss), -1);
	ck_assert_ptr_nonnull(strstr(msg_reader_error(&r), "too long"));

	body[1] = 1;
	msg_reader_init(&r, body, 6);
	ck_assert_int_eq(msg_get_sockaddr(&r, &ss), -1);
	ck_assert_str_eq(msg_reader_error(&r),
	    "field 1: truncated sockaddr inet address (need 4 bytes, 2 left)");

	/* a family the encoding does not know is a writer error */
	memset(&sa, 0, sizeof(sa));
	sa.sa_family = AF_APPLETALK;
	msg_init(&m);
	msg_add_sockaddr(&m, &sa);
	ck_assert_int_eq(msg_error(&m), EAFNOSUPPORT);
	ck_assert_uint_eq(m.len, 0);
	msg_free(&m);
}
END_TEST

START_TEST(test_trailing_bytes)
{
	struct msg		 m;
	struct msg_reader	 r;
	uint32_t		 u;

	msg_init(&m);
	msg_add_uint32(&m, 1);
	msg_add_string(&m, "extra");
	msg_reader_init(&r, m.buf, m.len);
	ck_assert_int_eq(msg_get_uint32(&r, &u), 0);
	ck_assert_int_eq(msg_remaining(&r), 10);
	ck_assert_int_eq(msg_peek_type(&r), MSG_STRING);
	ck_assert_int_eq(msg_end(&r), -1);
	ck_assert_str_eq(msg_reader_error(&r),
	    "field 2: expected end of body, found 10 trailing bytes");
	msg_free(&m);
}
END_TEST

START_TEST(test_emsgsize)
{
	struct msg	 m;
	char		*big;
	size_t		 len;

	big = calloc(1, IMSG_MAX_BODY + 1);
	ck_assert_ptr_nonnull(big);

	/* exactly IMSG_MAX_BODY fits */
	msg_init(&m);
	msg_add_data(&m, big, IMSG_MAX_BODY - 5);
	ck_assert_int_eq(msg_error(&m), 0);
	ck_assert_uint_eq(m.len, IMSG_MAX_BODY);
	/* one more field does not, and the error sticks */
	msg_add_int32(&m, 1);
	ck_assert_int_eq(msg_error(&m), EMSGSIZE);
	len = m.len;
	msg_add_string(&m, "");
	ck_assert_int_eq(msg_error(&m), EMSGSIZE);
	ck_assert_uint_eq(m.len, len);

	/* reset clears the error and keeps the memory */
	msg_reset(&m);
	ck_assert_int_eq(msg_error(&m), 0);
	ck_assert_uint_eq(m.len, 0);
	ck_assert_ptr_nonnull(m.buf);
	msg_add_uint32(&m, 5);
	ck_assert_int_eq(msg_error(&m), 0);
	ck_assert_uint_eq(m.len, 5);

	/* a single field too big */
	msg_reset(&m);
	msg_add_data(&m, big, IMSG_MAX_BODY - 4);
	ck_assert_int_eq(msg_error(&m), EMSGSIZE);
	msg_reset(&m);
	memset(big, 'a', IMSG_MAX_BODY);
	big[IMSG_MAX_BODY] = '\0';
	msg_add_string(&m, big);
	ck_assert_int_eq(msg_error(&m), EMSGSIZE);
	ck_assert_uint_eq(m.len, 0);

	msg_free(&m);
	free(big);
}
END_TEST

START_TEST(test_type_names)
{
	ck_assert_str_eq(msg_type_name(MSG_INT32), "int32");
	ck_assert_str_eq(msg_type_name(MSG_UINT32), "uint32");
	ck_assert_str_eq(msg_type_name(MSG_UINT64), "uint64");
	ck_assert_str_eq(msg_type_name(MSG_ID), "id");
	ck_assert_str_eq(msg_type_name(MSG_TIME), "time");
	ck_assert_str_eq(msg_type_name(MSG_STRING), "string");
	ck_assert_str_eq(msg_type_name(MSG_DATA), "data");
	ck_assert_str_eq(msg_type_name(MSG_SOCKADDR), "sockaddr");
	ck_assert_str_eq(msg_type_name(0), "unknown");
	ck_assert_str_eq(msg_type_name(200), "unknown");
}
END_TEST

/*
 * Random bodies through every getter: only -1 or 0, never a crash or
 * an over-read (run under ASan by make SANITIZE=1).
 */
START_TEST(test_random_bodies)
{
	struct msg_reader	 r;
	struct sockaddr_storage	 ss;
	unsigned char		*buf;
	const void		*p;
	unsigned int		 seed = 12345;
	uint64_t		 u64;
	uint32_t		 u32;
	int32_t			 i32;
	time_t			 t;
	size_t			 len, i, n;
	char			*s;
	int			 round, k, ret;

	for (round = 0; round < 20000; round++) {
		len = (size_t)rand_r(&seed) % 40;
		buf = malloc(len > 0 ? len : 1);
		ck_assert_ptr_nonnull(buf);
		for (i = 0; i < len; i++) {
			buf[i] = (unsigned char)rand_r(&seed);
			/* plausible tags and small lengths, more often */
			if (rand_r(&seed) % 3 == 0)
				buf[i] = (unsigned char)(rand_r(&seed) % 10);
		}
		msg_reader_init(&r, buf, len);
		for (k = 0; k < 6; k++) {
			s = NULL;
			switch (rand_r(&seed) % 8) {
			case 0:
				ret = msg_get_int32(&r, &i32);
				break;
			case 1:
				ret = msg_get_uint32(&r, &u32);
				break;
			case 2:
				ret = msg_get_uint64(&r, &u64);
				break;
			case 3:
				ret = msg_get_id(&r, &u64);
				break;
			case 4:
				ret = msg_get_time(&r, &t);
				break;
			case 5:
				ret = msg_get_string(&r, &s);
				if (ret == 0)
					ck_assert(strlen(s) + 5 <= len);
				free(s);
				break;
			case 6:
				ret = msg_get_data(&r, &p, &n);
				break;
			default:
				ret = msg_get_sockaddr(&r, &ss);
				break;
			}
			ck_assert(ret == 0 || ret == -1);
			ck_assert_int_ge(msg_remaining(&r), 0);
		}
		(void)msg_end(&r);
		free(buf);
	}
}
END_TEST

static Suite *
msg_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("msg");
	tc = tcase_create("msg");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_roundtrip_integers);
	tcase_add_test(tc, test_roundtrip_strings_data);
	tcase_add_test(tc, test_roundtrip_sockaddr);
	tcase_add_test(tc, test_wire_format);
	tcase_add_test(tc, test_wrong_type);
	tcase_add_test(tc, test_truncation_every_offset);
	tcase_add_test(tc, test_truncation_messages);
	tcase_add_test(tc, test_nul_in_string);
	tcase_add_test(tc, test_sockaddr_errors);
	tcase_add_test(tc, test_trailing_bytes);
	tcase_add_test(tc, test_emsgsize);
	tcase_add_test(tc, test_type_names);
	tcase_add_test(tc, test_random_bodies);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(msg_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
