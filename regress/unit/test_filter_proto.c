/*
 * test_filter_proto.c: the filter frame bodies (libsmtpd-api/
 * filter_proto.c): every query and event round trips, replies are
 * checked and coerced, batches of lines fill and split as documented,
 * and malformed bodies are refused.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtpd-api.h"

static Suite	*filter_proto_suite(void);
static int	 decode(uint32_t, struct msg *, struct filter_event *);
static int	 reply_roundtrip(uint32_t, const struct filter_reply *,
		    struct filter_reply *, char *, size_t);

static int
decode(uint32_t type, struct msg *m, struct filter_event *ev)
{
	struct msg_reader	 r;
	char			 err[256];

	ck_assert_int_eq(msg_error(m), 0);
	msg_reader_init(&r, m->buf, m->len);
	return filter_proto_event_decode(type, &r, ev, err, sizeof(err));
}

START_TEST(test_connect_roundtrip)
{
	struct sockaddr_in	 local;
	struct sockaddr_in6	 remote;
	struct sockaddr_un	 sun;
	struct filter_event	 ev;
	struct msg		 m;

	memset(&local, 0, sizeof(local));
	local.sin_family = AF_INET;
	local.sin_port = htons(25);
	inet_pton(AF_INET, "127.0.0.1", &local.sin_addr);
	memset(&remote, 0, sizeof(remote));
	remote.sin6_family = AF_INET6;
	remote.sin6_port = htons(40000);
	inet_pton(AF_INET6, "2001:db8::7", &remote.sin6_addr);

	msg_init(&m);
	ck_assert_int_eq(filter_proto_connect_encode(&m, 0x1122334455667788ULL,
	    (struct sockaddr *)&local, (struct sockaddr *)&remote,
	    "mx.example.org", 1), 0);
	ck_assert_int_eq(decode(IMSG_FILTER_CONNECT, &m, &ev), 0);
	ck_assert_uint_eq(ev.session, 0x1122334455667788ULL);
	ck_assert_str_eq(ev.connect.local_addr, "127.0.0.1");
	ck_assert_str_eq(ev.connect.remote_addr, "2001:db8::7");
	ck_assert_str_eq(ev.connect.rdns, "mx.example.org");
	ck_assert_int_eq(ev.connect.fcrdns, 1);
	ck_assert_int_eq(ev.connect.remote.ss_family, AF_INET6);
	ck_assert_int_eq(ntohs(((struct sockaddr_in6 *)
	    &ev.connect.remote)->sin6_port), 40000);
	filter_event_free(&ev);

	/* A local submission: unix socket, no name, fcrdns unknown. */
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strlcpy(sun.sun_path, "/var/run/smtpd.sock", sizeof(sun.sun_path));
	msg_reset(&m);
	filter_proto_connect_encode(&m, 2, (struct sockaddr *)&sun,
	    (struct sockaddr *)&sun, NULL, -5);
	ck_assert_int_eq(decode(IMSG_FILTER_CONNECT, &m, &ev), 0);
	ck_assert_str_eq(ev.connect.remote_addr, "local");
	ck_assert_str_eq(ev.connect.rdns, "");
	ck_assert_int_eq(ev.connect.fcrdns, -1);
	filter_event_free(&ev);
	msg_free(&m);
}
END_TEST

START_TEST(test_queries_and_events_roundtrip)
{
	struct filter_event	 ev;
	struct msg		 m;

	msg_init(&m);
	filter_proto_helo_encode(&m, 7, "client.example.org");
	ck_assert_int_eq(decode(IMSG_FILTER_HELO, &m, &ev), 0);
	ck_assert_uint_eq(ev.session, 7);
	ck_assert_str_eq(ev.helo, "client.example.org");
	filter_event_free(&ev);

	msg_reset(&m);
	filter_proto_mailaddr_encode(&m, 7, "bob+tag", "Example.ORG");
	ck_assert_int_eq(decode(IMSG_FILTER_MAIL, &m, &ev), 0);
	ck_assert_str_eq(ev.mailaddr.user, "bob+tag");
	ck_assert_str_eq(ev.mailaddr.domain, "Example.ORG");
	ck_assert_str_eq(ev.mailaddr.address, "bob+tag@Example.ORG");
	filter_event_free(&ev);

	/* The null sender, and a recipient without a domain. */
	msg_reset(&m);
	filter_proto_mailaddr_encode(&m, 7, "", "");
	ck_assert_int_eq(decode(IMSG_FILTER_MAIL, &m, &ev), 0);
	ck_assert_str_eq(ev.mailaddr.address, "");
	filter_event_free(&ev);
	msg_reset(&m);
	filter_proto_mailaddr_encode(&m, 7, "postmaster", NULL);
	ck_assert_int_eq(decode(IMSG_FILTER_RCPT, &m, &ev), 0);
	ck_assert_str_eq(ev.mailaddr.address, "postmaster");
	ck_assert_str_eq(ev.mailaddr.domain, "");
	filter_event_free(&ev);

	msg_reset(&m);
	filter_proto_eom_encode(&m, 7, 123456, UINT64_C(0x100000000));
	ck_assert_int_eq(decode(IMSG_FILTER_EOM, &m, &ev), 0);
	ck_assert_uint_eq(ev.eom.lines, 123456);
	ck_assert_uint_eq(ev.eom.bytes, UINT64_C(0x100000000));
	filter_event_free(&ev);

	msg_reset(&m);
	filter_proto_tx_encode(&m, 7, 0xdeadbeef);
	ck_assert_int_eq(decode(IMSG_FILTER_TX_ROLLBACK, &m, &ev), 0);
	ck_assert_uint_eq(ev.msgid, 0xdeadbeef);
	filter_event_free(&ev);

	msg_reset(&m);
	filter_proto_session_encode(&m, UINT64_MAX);
	ck_assert_int_eq(decode(IMSG_FILTER_DISCONNECT, &m, &ev), 0);
	ck_assert_uint_eq(ev.session, UINT64_MAX);
	filter_event_free(&ev);
	msg_free(&m);
}
END_TEST

START_TEST(test_malformed_events)
{
	struct filter_event	 ev;
	struct msg		 m;
	struct msg_reader	 r;
	char			 err[256];
	size_t			 cut;

	/* Every truncation of a HELO body is refused, never over-read. */
	msg_init(&m);
	filter_proto_helo_encode(&m, 9, "a.name");
	for (cut = 0; cut < m.len; cut++) {
		msg_reader_init(&r, m.buf, cut);
		ck_assert_int_eq(filter_proto_event_decode(IMSG_FILTER_HELO,
		    &r, &ev, err, sizeof(err)), -1);
		ck_assert(err[0] != '\0');
		filter_event_free(&ev);
	}
	/* Trailing bytes. */
	msg_add_uint32(&m, 1);
	ck_assert_int_eq(decode(IMSG_FILTER_HELO, &m, &ev), -1);
	filter_event_free(&ev);
	/* The wrong frame type for the body. */
	msg_reset(&m);
	filter_proto_helo_encode(&m, 9, "a.name");
	ck_assert_int_eq(decode(IMSG_FILTER_EOM, &m, &ev), -1);
	filter_event_free(&ev);
	ck_assert_int_eq(decode(IMSG_FILTER_DATAOUT, &m, &ev), -1);
	filter_event_free(&ev);
	ck_assert_int_eq(decode(IMSG_TABLE_CHECK, &m, &ev), -1);
	filter_event_free(&ev);
	/* fcrdns outside -1..1. */
	msg_reset(&m);
	msg_add_id(&m, 1);
	msg_add_sockaddr(&m, &(struct sockaddr){ .sa_family = AF_UNSPEC });
	msg_add_sockaddr(&m, &(struct sockaddr){ .sa_family = AF_UNSPEC });
	msg_add_string(&m, "");
	msg_add_int32(&m, 2);
	ck_assert_int_eq(decode(IMSG_FILTER_CONNECT, &m, &ev), -1);
	filter_event_free(&ev);
	msg_free(&m);
}
END_TEST

static int
reply_roundtrip(uint32_t type, const struct filter_reply *in,
    struct filter_reply *out, char *err, size_t errsz)
{
	struct msg		 m;
	struct msg_reader	 r;
	int			 ret;

	msg_init(&m);
	ck_assert_int_eq(filter_proto_reply_encode(&m, type, in), 0);
	msg_reader_init(&r, m.buf, m.len);
	ret = filter_proto_reply_decode(type, &r, out, err, errsz);
	msg_free(&m);
	return ret;
}

START_TEST(test_reply_roundtrip)
{
	struct filter_reply	 in, out;
	char			 err[256];

	memset(&in, 0, sizeof(in));
	in.status = FILTER_REJECT;
	in.code = 553;
	strlcpy(in.enhanced, "5.1.8", sizeof(in.enhanced));
	strlcpy(in.message, "Bad sender domain", sizeof(in.message));
	ck_assert_int_eq(reply_roundtrip(IMSG_FILTER_MAIL, &in, &out, err,
	    sizeof(err)), 0);
	ck_assert_int_eq(out.status, FILTER_REJECT);
	ck_assert_uint_eq(out.code, 553);
	ck_assert_str_eq(out.enhanced, "5.1.8");
	ck_assert_str_eq(out.message, "Bad sender domain");

	/* lines_out travels with EOM only. */
	memset(&in, 0, sizeof(in));
	in.status = FILTER_ACCEPT;
	in.lines_out = 4242;
	ck_assert_int_eq(reply_roundtrip(IMSG_FILTER_EOM, &in, &out, err,
	    sizeof(err)), 0);
	ck_assert_uint_eq(out.lines_out, 4242);
	ck_assert_int_eq(reply_roundtrip(IMSG_FILTER_RCPT, &in, &out, err,
	    sizeof(err)), 0);
	ck_assert_uint_eq(out.lines_out, 0);

	/* Events and data frames have no decision reply. */
	ck_assert_int_eq(reply_roundtrip(IMSG_FILTER_RESET, &in, &out, err,
	    sizeof(err)), -1);
}
END_TEST

START_TEST(test_reply_defaults_and_coercion)
{
	struct filter_reply	 in, out;
	char			 err[256];

	/* Nothing given: the query's default. */
	memset(&in, 0, sizeof(in));
	in.status = FILTER_REJECT;
	ck_assert_int_eq(reply_roundtrip(IMSG_FILTER_RCPT, &in, &out, err,
	    sizeof(err)), 0);
	ck_assert_uint_eq(out.code, 550);
	ck_assert_str_eq(out.enhanced, "5.7.1");
	ck_assert_str_eq(out.message, "Recipient rejected");
	ck_assert_int_eq(reply_roundtrip(IMSG_FILTER_EOM, &in, &out, err,
	    sizeof(err)), 0);
	ck_assert_uint_eq(out.code, 554);
	in.status = FILTER_TEMPFAIL;
	ck_assert_int_eq(reply_roundtrip(IMSG_FILTER_CONNECT, &in, &out, err,
	    sizeof(err)), 0);
	ck_assert_uint_eq(out.code, 421);
	ck_assert_int_eq(reply_roundtrip(IMSG_FILTER_DATA, &in, &out, err,
	    sizeof(err)), 0);
	ck_assert_uint_eq(out.code, 451);
	ck_assert_str_eq(out.enhanced, "4.7.1");

	/* A reject must be 5xx: a 250 or a 451 becomes the default. */
	in.status = FILTER_REJECT;
	in.code = 250;
	ck_assert_int_eq(reply_roundtrip(IMSG_FILTER_MAIL, &in, &out, err,
	    sizeof(err)), 1);
	ck_assert_uint_eq(out.code, 550);
	ck_assert_ptr_nonnull(strstr(err, "250"));
	in.code = 451;
	ck_assert_int_eq(reply_roundtrip(IMSG_FILTER_MAIL, &in, &out, err,
	    sizeof(err)), 1);
	ck_assert_uint_eq(out.code, 550);

	/* A tempfail must never become a 5xx. */
	in.status = FILTER_TEMPFAIL;
	in.code = 550;
	strlcpy(in.enhanced, "5.7.1", sizeof(in.enhanced));
	ck_assert_int_eq(reply_roundtrip(IMSG_FILTER_MAIL, &in, &out, err,
	    sizeof(err)), 1);
	ck_assert_uint_eq(out.code, 451);
	ck_assert_str_eq(out.enhanced, "4.7.1");

	/* A good code keeps its class; a wrong enhanced code takes it. */
	in.status = FILTER_DISCONNECT;
	in.code = 554;
	strlcpy(in.enhanced, "4.7.0", sizeof(in.enhanced));
	ck_assert_int_eq(reply_roundtrip(IMSG_FILTER_HELO, &in, &out, err,
	    sizeof(err)), 1);
	ck_assert_uint_eq(out.code, 554);
	ck_assert_str_eq(out.enhanced, "5.7.0");
	strlcpy(in.enhanced, "5.1000.1", sizeof(in.enhanced));
	ck_assert_int_eq(reply_roundtrip(IMSG_FILTER_HELO, &in, &out, err,
	    sizeof(err)), 1);
	strlcpy(in.enhanced, "5.1.", sizeof(in.enhanced));
	ck_assert_int_eq(reply_roundtrip(IMSG_FILTER_HELO, &in, &out, err,
	    sizeof(err)), 1);
	strlcpy(in.enhanced, "5.12.345", sizeof(in.enhanced));
	ck_assert_int_eq(reply_roundtrip(IMSG_FILTER_HELO, &in, &out, err,
	    sizeof(err)), 0);

	/* Codes out of the SMTP ranges. */
	in.status = FILTER_REJECT;
	in.code = 560;		/* second digit above 5 */
	strlcpy(in.enhanced, "5.7.1", sizeof(in.enhanced));
	ck_assert_int_eq(reply_roundtrip(IMSG_FILTER_MAIL, &in, &out, err,
	    sizeof(err)), 1);
	ck_assert_uint_eq(out.code, 550);
	in.code = 5500;
	ck_assert_int_eq(reply_roundtrip(IMSG_FILTER_MAIL, &in, &out, err,
	    sizeof(err)), 1);

	/* A message is one printable line. */
	in.code = 550;
	strlcpy(in.message, "line one\r\n250 fake", sizeof(in.message));
	ck_assert_int_eq(reply_roundtrip(IMSG_FILTER_MAIL, &in, &out, err,
	    sizeof(err)), 1);
	ck_assert_str_eq(out.message, "line one??250 fake");

	/* An unknown status is a tempfail, whatever else it says. */
	in.status = 99;
	ck_assert_int_eq(reply_roundtrip(IMSG_FILTER_MAIL, &in, &out, err,
	    sizeof(err)), 1);
	ck_assert_int_eq(out.status, FILTER_TEMPFAIL);
	ck_assert_uint_eq(out.code / 100, 4);

	/* An accept carries nothing. */
	in.status = FILTER_ACCEPT;
	ck_assert_int_eq(reply_roundtrip(IMSG_FILTER_MAIL, &in, &out, err,
	    sizeof(err)), 0);
	ck_assert_uint_eq(out.code, 0);
	ck_assert_str_eq(out.message, "");
}
END_TEST

START_TEST(test_reply_long_message_cut)
{
	struct msg		 m;
	struct msg_reader	 r;
	struct filter_reply	 out;
	char			 longmsg[1000], err[256];

	memset(longmsg, 'x', sizeof(longmsg) - 1);
	longmsg[sizeof(longmsg) - 1] = '\0';
	msg_init(&m);
	msg_add_int32(&m, FILTER_REJECT);
	msg_add_uint32(&m, 550);
	msg_add_string(&m, "5.7.1");
	msg_add_string(&m, longmsg);
	msg_reader_init(&r, m.buf, m.len);
	ck_assert_int_eq(filter_proto_reply_decode(IMSG_FILTER_MAIL, &r, &out,
	    err, sizeof(err)), 1);
	ck_assert_uint_eq(strlen(out.message), FILTER_MESSAGE_MAX - 1);
	msg_free(&m);
}
END_TEST

START_TEST(test_reply_malformed)
{
	struct filter_reply	 in, out;
	struct msg		 m;
	struct msg_reader	 r;
	char			 err[256];
	size_t			 cut;

	memset(&in, 0, sizeof(in));
	in.status = FILTER_ACCEPT;
	in.lines_out = 3;
	msg_init(&m);
	filter_proto_reply_encode(&m, IMSG_FILTER_EOM, &in);
	for (cut = 0; cut < m.len; cut++) {
		msg_reader_init(&r, m.buf, cut);
		ck_assert_int_eq(filter_proto_reply_decode(IMSG_FILTER_EOM,
		    &r, &out, err, sizeof(err)), -1);
	}
	/* An EOM reply read as a MAIL reply has a byte too many. */
	msg_reader_init(&r, m.buf, m.len);
	ck_assert_int_eq(filter_proto_reply_decode(IMSG_FILTER_MAIL, &r, &out,
	    err, sizeof(err)), -1);
	msg_free(&m);
}
END_TEST

START_TEST(test_failure_replies_never_5xx)
{
	static const uint32_t	 types[] = { IMSG_FILTER_CONNECT,
	    IMSG_FILTER_HELO, IMSG_FILTER_MAIL, IMSG_FILTER_RCPT,
	    IMSG_FILTER_DATA, IMSG_FILTER_EOM, IMSG_FILTER_DATALINES };
	struct filter_reply	 rep;
	size_t			 i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		filter_reply_failure(types[i], &rep);
		ck_assert_uint_eq(rep.code / 100, 4);
		ck_assert_int_ne(rep.status, FILTER_REJECT);
		ck_assert_int_ne(rep.status, FILTER_ACCEPT);
		ck_assert(rep.enhanced[0] == '4');
	}
	filter_reply_failure(IMSG_FILTER_HELO, &rep);
	ck_assert_int_eq(rep.status, FILTER_DISCONNECT);
	ck_assert_uint_eq(rep.code, 421);
	filter_reply_failure(IMSG_FILTER_RCPT, &rep);
	ck_assert_uint_eq(rep.code, 451);
	ck_assert_str_eq(rep.enhanced, "4.7.1");
	filter_reply_failure(IMSG_FILTER_DATALINES, &rep);
	ck_assert_str_eq(rep.enhanced, "4.3.0");
}
END_TEST

START_TEST(test_lines_batches)
{
	struct msg		 m;
	struct msg_reader	 r;
	char			 line[FILTER_LINE_MAX + 2], *got;
	uint64_t		 session;
	uint32_t		 n, total = 0, batches = 0, i;
	int			 ret;

	/* 10000 lines of 100 bytes split into batches under the limit. */
	memset(line, 'a', 100);
	line[100] = '\0';
	msg_init(&m);
	filter_proto_lines_start(&m, 77);
	for (i = 0; i < 10000; i++) {
		if ((ret = filter_proto_lines_add(&m, line)) == 0) {
			ck_assert_uint_le(m.len, FILTER_BATCH_MAX);
			msg_reader_init(&r, m.buf, m.len);
			ck_assert_int_eq(filter_proto_lines_session(&r,
			    &session), 0);
			ck_assert_uint_eq(session, 77);
			for (n = 0; (ret = filter_proto_lines_next(&r,
			    &got)) == 1; n++) {
				ck_assert_str_eq(got, line);
				free(got);
			}
			ck_assert_int_eq(ret, 0);
			total += n;
			batches++;
			filter_proto_lines_start(&m, 77);
			ret = filter_proto_lines_add(&m, line);
		}
		ck_assert_int_eq(ret, 1);
	}
	msg_reader_init(&r, m.buf, m.len);
	filter_proto_lines_session(&r, &session);
	while (filter_proto_lines_next(&r, &got) == 1) {
		total++;
		free(got);
	}
	ck_assert_uint_eq(total, 10000);
	ck_assert_uint_gt(batches, 20);

	/* The longest line fits an empty batch; one byte more never. */
	memset(line, 'b', FILTER_LINE_MAX);
	line[FILTER_LINE_MAX] = '\0';
	filter_proto_lines_start(&m, 1);
	ck_assert_int_eq(filter_proto_lines_add(&m, "first"), 1);
	ck_assert_int_eq(filter_proto_lines_add(&m, line), 1);
	ck_assert_int_eq(filter_proto_lines_add(&m, line), 0);
	filter_proto_lines_start(&m, 1);
	ck_assert_int_eq(filter_proto_lines_add(&m, line), 1);
	line[FILTER_LINE_MAX] = 'b';
	line[FILTER_LINE_MAX + 1] = '\0';
	filter_proto_lines_start(&m, 1);
	ck_assert_int_eq(filter_proto_lines_add(&m, line), -1);
	/* A CR or LF inside would make two lines of one. */
	filter_proto_lines_start(&m, 1);
	ck_assert_int_eq(filter_proto_lines_add(&m, "two\nlines"), -1);
	ck_assert_int_eq(filter_proto_lines_add(&m, "bare cr\r"), -1);
	/* Empty lines are lines. */
	filter_proto_lines_start(&m, 1);
	ck_assert_int_eq(filter_proto_lines_add(&m, ""), 1);
	msg_reader_init(&r, m.buf, m.len);
	filter_proto_lines_session(&r, &session);
	ck_assert_int_eq(filter_proto_lines_next(&r, &got), 1);
	ck_assert_str_eq(got, "");
	free(got);
	ck_assert_int_eq(filter_proto_lines_next(&r, &got), 0);
	msg_free(&m);
}
END_TEST

START_TEST(test_lines_malformed)
{
	struct msg		 m;
	struct msg_reader	 r;
	char			*got, big[FILTER_LINE_MAX + 2];
	uint64_t		 session;
	uint32_t		 n;

	/* A field that is not a string, in the middle of a batch. */
	msg_init(&m);
	filter_proto_lines_start(&m, 5);
	filter_proto_lines_add(&m, "ok");
	msg_add_uint32(&m, 3);
	msg_reader_init(&r, m.buf, m.len);
	ck_assert_int_eq(filter_proto_lines_session(&r, &session), 0);
	ck_assert_int_eq(filter_proto_lines_next(&r, &got), 1);
	free(got);
	ck_assert_int_eq(filter_proto_lines_next(&r, &got), -1);

	/* A line over the limit sent by a foreign peer. */
	memset(big, 'c', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	msg_reset(&m);
	msg_add_id(&m, 5);
	msg_add_string(&m, big);
	msg_reader_init(&r, m.buf, m.len);
	filter_proto_lines_session(&r, &session);
	ck_assert_int_eq(filter_proto_lines_next(&r, &got), -1);
	ck_assert_ptr_nonnull(strstr(msg_reader_error(&r), "longer"));

	/* A line with a CR or LF inside, from a foreign peer. */
	msg_reset(&m);
	msg_add_id(&m, 5);
	msg_add_string(&m, "a\r\nb");
	msg_reader_init(&r, m.buf, m.len);
	filter_proto_lines_session(&r, &session);
	ck_assert_int_eq(filter_proto_lines_next(&r, &got), -1);

	/* No session id at all. */
	msg_reset(&m);
	msg_add_string(&m, "x");
	msg_reader_init(&r, m.buf, m.len);
	ck_assert_int_eq(filter_proto_lines_session(&r, &session), -1);

	/* The acknowledgement. */
	msg_reset(&m);
	filter_proto_ack_encode(&m, 17);
	msg_reader_init(&r, m.buf, m.len);
	ck_assert_int_eq(filter_proto_ack_decode(&r, &n, big, sizeof(big)),
	    0);
	ck_assert_uint_eq(n, 17);
	msg_add_uint32(&m, 1);
	msg_reader_init(&r, m.buf, m.len);
	ck_assert_int_eq(filter_proto_ack_decode(&r, &n, big, sizeof(big)),
	    -1);
	msg_free(&m);
}
END_TEST

START_TEST(test_names_and_hooks)
{
	uint32_t	 t;
	uint64_t	 seen = 0;

	for (t = IMSG_FILTER_CONNECT; t <= IMSG_FILTER_DATAOUT; t++) {
		if (strcmp(filter_frame_name(t), "unknown") == 0)
			continue;
		seen |= filter_frame_hook(t);
		if (filter_frame_hook(t) != 0)
			ck_assert_str_eq(filter_hook_name(filter_frame_hook(t)),
			    t == IMSG_FILTER_DATALINES ? "dataline" :
			    filter_frame_name(t));
	}
	/* Every hook has its frame, DATAOUT none. */
	ck_assert_uint_eq(seen, FILTER_HOOK_ALL);
	ck_assert_uint_eq(filter_frame_hook(IMSG_FILTER_DATAOUT), 0);
	ck_assert_int_eq(filter_frame_is_query(IMSG_FILTER_EOM), 1);
	ck_assert_int_eq(filter_frame_is_query(IMSG_FILTER_DATALINES), 0);
	ck_assert_int_eq(filter_frame_is_query(IMSG_FILTER_TX_BEGIN), 0);
	ck_assert_str_eq(filter_status_name(FILTER_TEMPFAIL), "tempfail");
	ck_assert_str_eq(filter_status_name(42), "unknown");
	ck_assert_str_eq(filter_frame_name(399), "unknown");
}
END_TEST

static Suite *
filter_proto_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("filter_proto");
	tc = tcase_create("filter_proto");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_connect_roundtrip);
	tcase_add_test(tc, test_queries_and_events_roundtrip);
	tcase_add_test(tc, test_malformed_events);
	tcase_add_test(tc, test_reply_roundtrip);
	tcase_add_test(tc, test_reply_defaults_and_coercion);
	tcase_add_test(tc, test_reply_long_message_cut);
	tcase_add_test(tc, test_reply_malformed);
	tcase_add_test(tc, test_failure_replies_never_5xx);
	tcase_add_test(tc, test_lines_batches);
	tcase_add_test(tc, test_lines_malformed);
	tcase_add_test(tc, test_names_and_hooks);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(filter_proto_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
