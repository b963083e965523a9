/*
 * test_smtp_parse.c: the pure parts of an SMTP session: lines, the
 * command parser, the DATA rules, the headers the session writes.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <check.h>
#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "smtp_parse.h"

/* ---- helpers ---- */

static struct evbuffer *
input(const char *s, size_t len)
{
	struct evbuffer	*in = evbuffer_new();

	ck_assert_ptr_nonnull(in);
	ck_assert_int_eq(evbuffer_add(in, s, len), 0);
	return in;
}

/* Feed text to a fresh data state; return what was stored. */
struct data_result {
	char		 stored[8192];
	int		 ended;
	int		 error;
	int		 headers_end_at;	/* line number, 0 never */
	int		 has_date;
	int		 has_msgid;
	int		 in_headers;
};

static void
run_data(const char *text, size_t len, uint64_t max, struct data_result *res)
{
	struct evbuffer		*in = input(text, len);
	struct smtp_linereader	 lr;
	struct smtp_data	 d;
	struct smtp_data_out	 out;
	struct smtp_line	 line;
	char			 buf[SMTP_DATALINE_BUF];
	int			 n = 0;

	memset(res, 0, sizeof(*res));
	memset(&lr, 0, sizeof(lr));
	smtp_data_init(&d, max);
	/* as the session reads them */
	while (!res->ended &&
	    smtp_getline(in, &lr, buf, sizeof(buf), &line)) {
		n++;
		smtp_data_line(&d, &line, &out);
		if (out.end) {
			res->ended = 1;
			break;
		}
		if (out.headers_end)
			res->headers_end_at = n;
		if (out.text != NULL) {
			ck_assert_uint_lt(strlen(res->stored) + out.len + 2,
			    sizeof(res->stored));
			strncat(res->stored, out.text, out.len);
			strcat(res->stored, "\n");
		}
	}
	res->error = d.error;
	res->has_date = d.has_date;
	res->has_msgid = d.has_msgid;
	res->in_headers = d.in_headers;
	evbuffer_free(in);
}

/* ---- lines ---- */

START_TEST(test_getline_basic)
{
	struct evbuffer		*in;
	struct smtp_linereader	 lr;
	struct smtp_line	 line;
	char			 buf[16];

	memset(&lr, 0, sizeof(lr));
	in = input("HELO a\r\nNOOP\nQU", 15);
	ck_assert_int_eq(smtp_getline(in, &lr, buf, sizeof(buf), &line), 1);
	ck_assert_str_eq(line.text, "HELO a");
	ck_assert_int_eq(line.crlf, 1);
	ck_assert_int_eq(line.toolong, 0);
	ck_assert_int_eq(smtp_getline(in, &lr, buf, sizeof(buf), &line), 1);
	ck_assert_str_eq(line.text, "NOOP");
	ck_assert_int_eq(line.crlf, 0);		/* bare LF ends a line */
	ck_assert_int_eq(smtp_getline(in, &lr, buf, sizeof(buf), &line), 0);
	evbuffer_add(in, "IT\r", 3);
	/* a CR alone is not a line end yet */
	ck_assert_int_eq(smtp_getline(in, &lr, buf, sizeof(buf), &line), 0);
	evbuffer_add(in, "\n", 1);
	ck_assert_int_eq(smtp_getline(in, &lr, buf, sizeof(buf), &line), 1);
	ck_assert_str_eq(line.text, "QUIT");
	ck_assert_int_eq(line.crlf, 1);
	ck_assert_uint_eq(evbuffer_get_length(in), 0);
	evbuffer_free(in);
}
END_TEST

START_TEST(test_getline_toolong)
{
	struct evbuffer		*in;
	struct smtp_linereader	 lr;
	struct smtp_line	 line;
	char			 buf[8], big[100];

	memset(&lr, 0, sizeof(lr));
	/* fits exactly: 7 bytes for a buffer of 8 */
	in = input("1234567\r\n12345678\r\nok\r\n", 23);
	ck_assert_int_eq(smtp_getline(in, &lr, buf, sizeof(buf), &line), 1);
	ck_assert_str_eq(line.text, "1234567");
	ck_assert_int_eq(line.toolong, 0);
	ck_assert_int_eq(smtp_getline(in, &lr, buf, sizeof(buf), &line), 1);
	ck_assert_int_eq(line.toolong, 1);
	ck_assert_uint_eq(line.len, 8);
	ck_assert_int_eq(line.crlf, 1);
	ck_assert_int_eq(smtp_getline(in, &lr, buf, sizeof(buf), &line), 1);
	ck_assert_str_eq(line.text, "ok");
	evbuffer_free(in);

	/* an over-long line arriving in pieces is drained as it comes */
	memset(&lr, 0, sizeof(lr));
	memset(big, 'x', sizeof(big));
	in = input(big, 40);
	ck_assert_int_eq(smtp_getline(in, &lr, buf, sizeof(buf), &line), 0);
	ck_assert_uint_le(evbuffer_get_length(in), 1);
	evbuffer_add(in, big, 50);
	ck_assert_int_eq(smtp_getline(in, &lr, buf, sizeof(buf), &line), 0);
	ck_assert_uint_le(evbuffer_get_length(in), 1);
	evbuffer_add(in, "\r", 1);
	ck_assert_int_eq(smtp_getline(in, &lr, buf, sizeof(buf), &line), 0);
	evbuffer_add(in, "\nnext\r\n", 7);
	ck_assert_int_eq(smtp_getline(in, &lr, buf, sizeof(buf), &line), 1);
	ck_assert_int_eq(line.toolong, 1);
	ck_assert_uint_eq(line.len, 90);
	ck_assert_int_eq(line.crlf, 1);
	ck_assert_int_eq(smtp_getline(in, &lr, buf, sizeof(buf), &line), 1);
	ck_assert_str_eq(line.text, "next");
	ck_assert_int_eq(line.toolong, 0);
	evbuffer_free(in);
}
END_TEST

START_TEST(test_getline_nul)
{
	struct evbuffer		*in;
	struct smtp_linereader	 lr;
	struct smtp_line	 line;
	char			 buf[32];

	memset(&lr, 0, sizeof(lr));
	in = input("a\0b\r\n", 5);
	ck_assert_int_eq(smtp_getline(in, &lr, buf, sizeof(buf), &line), 1);
	ck_assert_uint_eq(line.len, 3);
	ck_assert_int_eq(memcmp(line.text, "a\0b", 3), 0);
	evbuffer_free(in);
}
END_TEST

/* ---- commands ---- */

START_TEST(test_verb)
{
	const char	*args;

	ck_assert_int_eq(smtp_parse_verb("ehlo client.example", &args),
	    SMTP_CMD_EHLO);
	ck_assert_str_eq(args, "client.example");
	ck_assert_int_eq(smtp_parse_verb("MAIL FROM:<a@b>", &args),
	    SMTP_CMD_MAIL);
	ck_assert_str_eq(args, "FROM:<a@b>");
	ck_assert_int_eq(smtp_parse_verb("Data", &args), SMTP_CMD_DATA);
	ck_assert_str_eq(args, "");
	ck_assert_int_eq(smtp_parse_verb("QUITX", &args), SMTP_CMD_UNKNOWN);
	ck_assert_int_eq(smtp_parse_verb("", &args), SMTP_CMD_UNKNOWN);
	ck_assert_int_eq(smtp_parse_verb(" NOOP", &args), SMTP_CMD_UNKNOWN);
	ck_assert_int_eq(smtp_parse_verb("starttls", &args),
	    SMTP_CMD_STARTTLS);
	ck_assert_str_eq(smtp_verb_name(SMTP_CMD_RCPT), "RCPT");
}
END_TEST

START_TEST(test_helo)
{
	char		 buf[16];
	const char	*reply = NULL;

	ck_assert_int_eq(smtp_parse_helo("mx.example", buf, sizeof(buf),
	    &reply), 0);
	ck_assert_str_eq(buf, "mx.example");
	ck_assert_int_eq(smtp_parse_helo("[192.0.2.1]", buf, sizeof(buf),
	    &reply), 0);
	ck_assert_int_eq(smtp_parse_helo("", buf, sizeof(buf), &reply), -1);
	ck_assert_str_eq(reply, "501 5.5.4 Syntax: HELO/EHLO hostname");
	ck_assert_int_eq(smtp_parse_helo("a b", buf, sizeof(buf), &reply),
	    -1);
	ck_assert_int_eq(smtp_parse_helo("a\x01", buf, sizeof(buf), &reply),
	    -1);
	ck_assert_int_eq(smtp_parse_helo("0123456789abcdefgh", buf,
	    sizeof(buf), &reply), -1);
}
END_TEST

START_TEST(test_mail_ok)
{
	struct smtp_mailfrom	 mf;
	const char		*reply = NULL;

	ck_assert_int_eq(smtp_parse_mail("FROM:<alice@example.org>", 0, &mf,
	    &reply), 0);
	ck_assert_str_eq(mf.addr.user, "alice");
	ck_assert_str_eq(mf.addr.domain, "example.org");
	ck_assert_int_eq(mf.null, 0);
	ck_assert_int_eq(mf.body, SMTP_BODY_NONE);

	ck_assert_int_eq(smtp_parse_mail("from: <>", 0, &mf, &reply), 0);
	ck_assert_int_eq(mf.null, 1);
	ck_assert_str_eq(mf.addr.user, "");
	ck_assert_str_eq(mf.addr.domain, "");

	ck_assert_int_eq(smtp_parse_mail("FROM:<a.b+c@x.example> SIZE=1000 "
	    "BODY=8BITMIME", 0, &mf, &reply), 0);
	ck_assert_str_eq(mf.addr.user, "a.b+c");
	ck_assert_uint_eq(mf.size, 1000);
	ck_assert_int_eq(mf.body, SMTP_BODY_8BITMIME);

	ck_assert_int_eq(smtp_parse_mail("FROM:<a@x> body=7bit", 0, &mf,
	    &reply), 0);
	ck_assert_int_eq(mf.body, SMTP_BODY_7BIT);

	/* a source route is accepted and ignored */
	ck_assert_int_eq(smtp_parse_mail("FROM:<@relay.example,@b.example:"
	    "joe@example.org>", 0, &mf, &reply), 0);
	ck_assert_str_eq(mf.addr.user, "joe");
	ck_assert_str_eq(mf.addr.domain, "example.org");

	/* address literals */
	ck_assert_int_eq(smtp_parse_mail("FROM:<joe@[192.0.2.7]>", 0, &mf,
	    &reply), 0);
	ck_assert_str_eq(mf.addr.domain, "[192.0.2.7]");
	ck_assert_int_eq(smtp_parse_mail("FROM:<joe@[IPv6:2001:db8::7]>", 0,
	    &mf, &reply), 0);
	ck_assert_str_eq(mf.addr.domain, "[IPv6:2001:db8::7]");

	/* huge SIZE: as big as can be, for the caller to refuse */
	ck_assert_int_eq(smtp_parse_mail("FROM:<a@x> SIZE="
	    "99999999999999999999999", 0, &mf, &reply), 0);
	ck_assert(mf.size == UINT64_MAX);
	/* leading zeros are no overflow */
	ck_assert_int_eq(smtp_parse_mail("FROM:<a@x> SIZE="
	    "0000000000000000000001000", 0, &mf, &reply), 0);
	ck_assert_uint_eq(mf.size, 1000);

	/* a domainless sender only on the local path */
	ck_assert_int_eq(smtp_parse_mail("FROM:<root>", 1, &mf, &reply), 0);
	ck_assert_str_eq(mf.addr.user, "root");
	ck_assert_str_eq(mf.addr.domain, "");
}
END_TEST

START_TEST(test_mail_quoted)
{
	struct smtp_mailfrom	 mf;
	const char		*reply = NULL;

	/* a quoted plain dot-string is the same address unquoted */
	ck_assert_int_eq(smtp_parse_mail("FROM:<\"john.doe\"@example.org>", 0,
	    &mf, &reply), 0);
	ck_assert_str_eq(mf.addr.user, "john.doe");
	/* otherwise the quotes and escapes stay */
	ck_assert_int_eq(smtp_parse_mail("FROM:<\"a@b\"@example.org>", 0,
	    &mf, &reply), 0);
	ck_assert_str_eq(mf.addr.user, "\"a@b\"");
	ck_assert_str_eq(mf.addr.domain, "example.org");
	ck_assert_int_eq(smtp_parse_mail("FROM:<\"a\\\"b..c\"@example.org>",
	    0, &mf, &reply), 0);
	ck_assert_str_eq(mf.addr.user, "\"a\\\"b..c\"");
	/* spaces cannot be carried by our envelopes */
	ck_assert_int_eq(smtp_parse_mail("FROM:<\"john doe\"@example.org>",
	    0, &mf, &reply), -1);
	ck_assert_int_eq(strncmp(reply, "553 5.1.7", 9), 0);
	/* unterminated, empty */
	ck_assert_int_eq(smtp_parse_mail("FROM:<\"abc@example.org>", 0, &mf,
	    &reply), -1);
	ck_assert_int_eq(smtp_parse_mail("FROM:<\"\"@example.org>", 0, &mf,
	    &reply), -1);
}
END_TEST

START_TEST(test_mail_bad)
{
	static const struct {
		const char	*args;
		const char	*code;
	} cases[] = {
		{ "<a@b>",			"501 5.5.4" },
		{ "FROM:a@b",			"501 5.5.4" },
		{ "FROM:",			"501 5.5.4" },
		{ "FROM:<a@b",			"501 5.1.7" },
		{ "FROM:<a@b>x",		"501 5.1.7" },
		{ "FROM:<a..b@c>",		"501 5.1.7" },
		{ "FROM:<.a@c>",		"501 5.1.7" },
		{ "FROM:<a.@c>",		"501 5.1.7" },
		{ "FROM:<a@-c.example>",	"501 5.1.7" },
		{ "FROM:<a@c-.example>",	"501 5.1.7" },
		{ "FROM:<a@c..example>",	"501 5.1.7" },
		{ "FROM:<a@>",			"501 5.1.7" },
		{ "FROM:<@c>",			"501 5.1.7" },
		{ "FROM:<a b@c>",		"501 5.1.7" },
		{ "FROM:<a@[300.1.1.1]>",	"501 5.1.7" },
		{ "FROM:<a@[IPv6:zz]>",		"501 5.1.7" },
		{ "FROM:<a(b)@c>",		"501 5.1.7" },
		{ "FROM:<alice>",		"501 5.1.7" },
		{ "FROM:<a@b> SIZE=",		"501 5.5.4" },
		{ "FROM:<a@b> SIZE=12x",	"501 5.5.4" },
		{ "FROM:<a@b> SIZE=1 SIZE=2",	"501 5.5.4" },
		{ "FROM:<a@b> BODY=BINARYMIME",	"501 5.5.4" },
		{ "FROM:<a@b> SMTPUTF8=yes",	"501 5.5.4" },
		{ "FROM:<a@b> RET=FULL",	"555 5.5.4" },
		{ "FROM:<a@b> AUTH=<>",		"555 5.5.4" },
		{ "FROM:<a@b> =x",		"501 5.5.4" },
		{ "FROM:<j\xc3\xa9r\xc3\xb4me@b>",	"553 5.6.7" },
		{ "FROM:<a@b\xc3\xa9>",		"553 5.6.7" },
		/* invalid UTF-8 is bad syntax even with SMTPUTF8 */
		{ "FROM:<a\xc3@b> SMTPUTF8",	"501 5.1.7" },
		{ "FROM:<a\xc0\xaf@b> SMTPUTF8",	"501 5.1.7" },
		{ "FROM:<a\xed\xa0\x80@b> SMTPUTF8",	"501 5.1.7" },
	};
	struct smtp_mailfrom	 mf;
	const char		*reply;
	size_t			 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		reply = NULL;
		ck_assert_msg(smtp_parse_mail(cases[i].args, 0, &mf,
		    &reply) == -1, "accepted: %s", cases[i].args);
		ck_assert_msg(strncmp(reply, cases[i].code, 9) == 0,
		    "%s: got \"%s\", want %s", cases[i].args, reply,
		    cases[i].code);
	}
}
END_TEST

START_TEST(test_mail_utf8)
{
	struct smtp_mailfrom	 mf;
	const char		*reply = NULL;

	ck_assert_int_eq(smtp_parse_mail("FROM:<j\xc3\xa9r\xc3\xb4me@"
	    "\xc3\xa9t\xc3\xa9.example> SMTPUTF8", 0, &mf, &reply), 0);
	ck_assert_int_eq(mf.smtputf8, 1);
	ck_assert_str_eq(mf.addr.user, "j\xc3\xa9r\xc3\xb4me");
	ck_assert_str_eq(mf.addr.domain, "\xc3\xa9t\xc3\xa9.example");
	/* SMTPUTF8 with a plain ASCII address is fine too */
	ck_assert_int_eq(smtp_parse_mail("FROM:<a@b> SMTPUTF8 BODY=8BITMIME",
	    0, &mf, &reply), 0);
	ck_assert_int_eq(mf.smtputf8, 1);
	/* a 4-byte sequence */
	ck_assert_int_eq(smtp_parse_mail("FROM:<\xf0\x9f\x98\x80@b> smtputf8",
	    0, &mf, &reply), 0);
}
END_TEST

START_TEST(test_rcpt)
{
	struct mailaddr	 a;
	const char	*reply = NULL;

	ck_assert_int_eq(smtp_parse_rcpt("TO:<bob@example.org>", 0, 0, &a,
	    &reply), 0);
	ck_assert_str_eq(a.user, "bob");
	ck_assert_str_eq(a.domain, "example.org");
	ck_assert_int_eq(smtp_parse_rcpt("to: <Bob+tag@Example.ORG>", 0, 0,
	    &a, &reply), 0);
	ck_assert_str_eq(a.user, "Bob+tag");
	ck_assert_str_eq(a.domain, "Example.ORG");

	/* postmaster needs no domain, in any case */
	ck_assert_int_eq(smtp_parse_rcpt("TO:<PostMaster>", 0, 0, &a,
	    &reply), 0);
	ck_assert_str_eq(a.user, "postmaster");
	ck_assert_str_eq(a.domain, "");
	ck_assert_int_eq(smtp_parse_rcpt("TO:<bob>", 0, 0, &a, &reply), -1);
	ck_assert_str_eq(reply, "501 5.1.3 Recipient address needs a domain");
	ck_assert_int_eq(smtp_parse_rcpt("TO:<bob>", 0, 1, &a, &reply), 0);
	ck_assert_str_eq(a.user, "bob");

	ck_assert_int_eq(smtp_parse_rcpt("TO:<>", 0, 0, &a, &reply), -1);
	ck_assert_int_eq(strncmp(reply, "501 5.1.3", 9), 0);
	ck_assert_int_eq(smtp_parse_rcpt("TO:<a@b> NOTIFY=NEVER", 0, 0, &a,
	    &reply), -1);
	ck_assert_int_eq(strncmp(reply, "555 5.5.4", 9), 0);
	ck_assert_int_eq(smtp_parse_rcpt("<a@b>", 0, 0, &a, &reply), -1);
	ck_assert_int_eq(strncmp(reply, "501 5.5.4", 9), 0);
	ck_assert_int_eq(smtp_parse_rcpt("TO:<a@@b>", 0, 0, &a, &reply), -1);
	ck_assert_int_eq(strncmp(reply, "501 5.1.3", 9), 0);
	/* trailing blanks are harmless */
	ck_assert_int_eq(smtp_parse_rcpt("TO:<a@b>  ", 0, 0, &a, &reply), 0);

	/* UTF-8 only in an SMTPUTF8 transaction */
	ck_assert_int_eq(smtp_parse_rcpt("TO:<\xc3\xa9@b>", 0, 0, &a, &reply),
	    -1);
	ck_assert_str_eq(reply, "553 5.6.7 Non-ASCII address requires "
	    "SMTPUTF8");
	ck_assert_int_eq(smtp_parse_rcpt("TO:<\xc3\xa9@b>", 1, 0, &a, &reply),
	    0);
	ck_assert_str_eq(a.user, "\xc3\xa9");
}
END_TEST

/* ---- DATA ---- */

START_TEST(test_data_dots)
{
	struct data_result	 r;
	static const char	 msg[] =
	    "Subject: x\r\n\r\n..leading dot\r\n.\r\n...\r\nlast\r\n.\r\n"
	    "QUIT\r\n";

	run_data(msg, sizeof(msg) - 1, 0, &r);
	ck_assert_int_eq(r.ended, 1);
	ck_assert_int_eq(r.error, SMTP_DATA_OK);
	/* the first ".\r\n" ends the data: the rest is not read */
	ck_assert_str_eq(r.stored, "Subject: x\n\n.leading dot\n");
}
END_TEST

START_TEST(test_data_unstuff)
{
	struct data_result	 r;
	static const char	 msg[] =
	    "a\r\n..\r\n...x\r\n.y\r\n\r\n.\r\n";

	run_data(msg, sizeof(msg) - 1, 0, &r);
	ck_assert_int_eq(r.ended, 1);
	ck_assert_str_eq(r.stored, "a\n.\n..x\ny\n\n");
}
END_TEST

START_TEST(test_data_bare_lf)
{
	struct data_result	 r;
	static const char	 msg1[] = "a\nb\r\n.\r\n";
	/* "\n.\n", "\r\n.\n" and "\n.\r\n" end nothing (smuggling) */
	static const char	 msg2[] =
	    "a\n.\nMAIL FROM:<x@y>\r\n.\nb\n.\r\nc\r\n.\r\n";

	run_data(msg1, sizeof(msg1) - 1, 0, &r);
	ck_assert_int_eq(r.ended, 1);
	ck_assert_str_eq(r.stored, "a\nb\n");

	run_data(msg2, sizeof(msg2) - 1, 0, &r);
	ck_assert_int_eq(r.ended, 1);
	ck_assert_int_eq(r.error, SMTP_DATA_OK);
	ck_assert_str_eq(r.stored, "a\n.\nMAIL FROM:<x@y>\n.\nb\n.\nc\n");
}
END_TEST

START_TEST(test_data_line_length)
{
	struct data_result	 r;
	char			 msg[4096];
	size_t			 n;

	/* 998 octets and CRLF: the longest line allowed */
	memset(msg, 'a', 998);
	memcpy(msg + 998, "\r\n.\r\n", 5);
	run_data(msg, 1003, 0, &r);
	ck_assert_int_eq(r.ended, 1);
	ck_assert_int_eq(r.error, SMTP_DATA_OK);
	ck_assert_uint_eq(strlen(r.stored), 999);

	/* 999: refused, but the data is read to its end */
	memset(msg, 'a', 999);
	n = 999;
	memcpy(msg + n, "\r\nafter\r\n.\r\n", 12);
	run_data(msg, n + 12, 0, &r);
	ck_assert_int_eq(r.ended, 1);
	ck_assert_int_eq(r.error, SMTP_DATA_TOOLONG);
	ck_assert_int_eq(strncmp(smtp_data_error_reply(r.error), "552 5.5.2",
	    9), 0);

	/*
	 * The doubled dot is not counted (RFC 5321 4.5.3.1.6): 998 octets
	 * that start with a dot are 999 on the wire and pass...
	 */
	msg[0] = msg[1] = '.';
	memset(msg + 2, 'c', 997);
	memcpy(msg + 999, "\r\n.\r\n", 5);
	run_data(msg, 1004, 0, &r);
	ck_assert_int_eq(r.ended, 1);
	ck_assert_int_eq(r.error, SMTP_DATA_OK);
	ck_assert_uint_eq(strlen(r.stored), 999);
	ck_assert_int_eq(strncmp(r.stored, ".ccc", 4), 0);
	/* ...but 999 after the dot do not */
	msg[0] = msg[1] = '.';
	memset(msg + 2, 'c', 998);
	memcpy(msg + 1000, "\r\n.\r\n", 5);
	run_data(msg, 1005, 0, &r);
	ck_assert_int_eq(r.ended, 1);
	ck_assert_int_eq(r.error, SMTP_DATA_TOOLONG);

	/* a very long line, then the end */
	memset(msg, 'b', 3000);
	memcpy(msg + 3000, "\r\n.\r\n", 5);
	run_data(msg, 3005, 0, &r);
	ck_assert_int_eq(r.ended, 1);
	ck_assert_int_eq(r.error, SMTP_DATA_TOOLONG);
}
END_TEST

START_TEST(test_data_nul)
{
	struct data_result	 r;
	static const char	 msg[] = "Subject: a\r\n\r\nx\0y\r\nz\r\n.\r\n";

	run_data(msg, sizeof(msg) - 1, 0, &r);
	ck_assert_int_eq(r.ended, 1);
	ck_assert_int_eq(r.error, SMTP_DATA_NUL);
	ck_assert_str_eq(smtp_data_error_reply(r.error),
	    "554 5.6.0 Message refused: it contains NUL bytes");
	/* nothing stored past the error */
	ck_assert_str_eq(r.stored, "Subject: a\n\n");
}
END_TEST

START_TEST(test_data_size)
{
	struct data_result	 r;
	static const char	 msg[] = "0123456789\r\n0123456789\r\n.\r\n";
	static const char	 stuffed[] =
	    "..12345678\r\n0123456789\r\n.\r\n";

	/* each line counts with its CRLF: 12 + 12 */
	run_data(msg, sizeof(msg) - 1, 24, &r);
	ck_assert_int_eq(r.error, SMTP_DATA_OK);
	run_data(msg, sizeof(msg) - 1, 23, &r);
	ck_assert_int_eq(r.ended, 1);
	ck_assert_int_eq(r.error, SMTP_DATA_TOOBIG);
	ck_assert_int_eq(strncmp(smtp_data_error_reply(r.error), "552 5.3.4",
	    9), 0);

	/* RFC 1870: the doubled dot is not part of the size: 11 + 12 */
	run_data(stuffed, sizeof(stuffed) - 1, 23, &r);
	ck_assert_int_eq(r.error, SMTP_DATA_OK);
	ck_assert_str_eq(r.stored, ".12345678\n0123456789\n");
	run_data(stuffed, sizeof(stuffed) - 1, 22, &r);
	ck_assert_int_eq(r.error, SMTP_DATA_TOOBIG);
}
END_TEST

START_TEST(test_data_cr)
{
	struct data_result	 r;
	static const char	 m1[] = "Subject: a\r\n\r\nx\ry\r\nz\r\n.\r\n";
	static const char	 m2[] = "Subject: a\r\n\r\nx\r\r\n.\r\n";

	/* a CR that does not end a line refuses the message */
	run_data(m1, sizeof(m1) - 1, 0, &r);
	ck_assert_int_eq(r.ended, 1);
	ck_assert_int_eq(r.error, SMTP_DATA_CR);
	ck_assert_str_eq(smtp_data_error_reply(r.error),
	    "554 5.6.0 Message refused: it contains a CR that does not end "
	    "a line");
	ck_assert_str_eq(r.stored, "Subject: a\n\n");
	/* CR CR LF too: the first CR is no part of the line end */
	run_data(m2, sizeof(m2) - 1, 0, &r);
	ck_assert_int_eq(r.ended, 1);
	ck_assert_int_eq(r.error, SMTP_DATA_CR);
}
END_TEST

START_TEST(test_data_headers)
{
	struct data_result	 r;
	static const char	 m1[] =
	    "From: a@b\r\nSubject: folded\r\n  continued\r\n\r\nbody\r\n"
	    "Date: not a header\r\n.\r\n";
	static const char	 m2[] =
	    "DATE: Tue, 1 Jan 2030 00:00:00 +0000\r\n"
	    "message-id: <x@y>\r\n\r\n.\r\n";
	static const char	 m3[] = "Subject: only headers\r\n.\r\n";
	static const char	 m4[] = "no header here\r\nDate: x\r\n.\r\n";
	static const char	 m5[] = "Date : spaced\r\nX-Date: x\r\n\r\n.\r\n";

	run_data(m1, sizeof(m1) - 1, 0, &r);
	ck_assert_int_eq(r.headers_end_at, 4);
	ck_assert_int_eq(r.has_date, 0);
	ck_assert_int_eq(r.has_msgid, 0);

	run_data(m2, sizeof(m2) - 1, 0, &r);
	ck_assert_int_eq(r.headers_end_at, 3);
	ck_assert_int_eq(r.has_date, 1);
	ck_assert_int_eq(r.has_msgid, 1);

	run_data(m3, sizeof(m3) - 1, 0, &r);
	ck_assert_int_eq(r.headers_end_at, 0);
	ck_assert_int_eq(r.in_headers, 1);

	run_data(m4, sizeof(m4) - 1, 0, &r);
	ck_assert_int_eq(r.headers_end_at, 1);
	ck_assert_int_eq(r.has_date, 0);

	run_data(m5, sizeof(m5) - 1, 0, &r);
	ck_assert_int_eq(r.headers_end_at, 1);
	ck_assert_int_eq(r.has_date, 0);
}
END_TEST

/* ---- headers we write ---- */

START_TEST(test_date)
{
	char	 buf[64];

	setenv("TZ", "UTC", 1);
	tzset();
	ck_assert_int_gt(smtp_date_format(buf, sizeof(buf), 1700000000), 0);
	ck_assert_str_eq(buf, "Tue, 14 Nov 2023 22:13:20 +0000");
	setenv("TZ", "CET-1", 1);
	tzset();
	ck_assert_int_gt(smtp_date_format(buf, sizeof(buf), 1700000000), 0);
	ck_assert_str_eq(buf, "Tue, 14 Nov 2023 23:13:20 +0100");
	setenv("TZ", "<-0330>3:30", 1);
	tzset();
	ck_assert_int_gt(smtp_date_format(buf, sizeof(buf), 0), 0);
	ck_assert_str_eq(buf, "Wed, 31 Dec 1969 20:30:00 -0330");
	ck_assert_int_eq(smtp_date_format(buf, 10, 0), -1);
}
END_TEST

START_TEST(test_received)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;
	struct smtp_received	 r;
	char			 buf[1024];

	setenv("TZ", "UTC", 1);
	tzset();
	memset(&ss, 0, sizeof(ss));
	sin->sin_family = AF_INET;
	inet_pton(AF_INET, "192.0.2.7", &sin->sin_addr);
	memset(&r, 0, sizeof(r));
	r.helo = "client.example";
	r.rdns = "mx.example.net";
	r.ss = &ss;
	r.hostname = "mail.example.org";
	r.proto = "ESMTP";
	r.msgid = 0xc0ffee12;
	r.rcpt = "bob@example.org";
	r.when = 1700000000;
	ck_assert_int_gt(smtp_received_format(buf, sizeof(buf), &r), 0);
	ck_assert_str_eq(buf,
	    "Received: from client.example (mx.example.net [192.0.2.7])\n"
	    "\tby mail.example.org (smtpd) with ESMTP id c0ffee12\n"
	    "\tfor <bob@example.org>;\n"
	    "\tTue, 14 Nov 2023 22:13:20 +0000\n");

	/* several recipients: no "for"; IPv6 as an address literal */
	memset(&ss, 0, sizeof(ss));
	sin6->sin6_family = AF_INET6;
	inet_pton(AF_INET6, "2001:db8::1", &sin6->sin6_addr);
	r.rcpt = NULL;
	r.proto = "UTF8SMTP";
	ck_assert_int_gt(smtp_received_format(buf, sizeof(buf), &r), 0);
	ck_assert_str_eq(buf,
	    "Received: from client.example (mx.example.net "
	    "[IPv6:2001:db8::1])\n"
	    "\tby mail.example.org (smtpd) with UTF8SMTP id c0ffee12;\n"
	    "\tTue, 14 Nov 2023 22:13:20 +0000\n");

	/* mask-src: no from clause at all */
	r.mask_src = 1;
	r.rcpt = "bob@example.org";
	ck_assert_int_gt(smtp_received_format(buf, sizeof(buf), &r), 0);
	ck_assert_str_eq(buf,
	    "Received: by mail.example.org (smtpd) with UTF8SMTP id c0ffee12\n"
	    "\tfor <bob@example.org>;\n"
	    "\tTue, 14 Nov 2023 22:13:20 +0000\n");
	ck_assert_ptr_null(strstr(buf, "2001:db8"));

	/* a local submission */
	memset(&ss, 0, sizeof(ss));
	r.mask_src = 0;
	r.helo = "localhost";
	r.rdns = "localhost";
	r.rcpt = NULL;
	r.proto = "ESMTP";
	ck_assert_int_gt(smtp_received_format(buf, sizeof(buf), &r), 0);
	ck_assert_int_eq(strncmp(buf, "Received: from localhost (localhost "
	    "[local])\n", 45), 0);

	ck_assert_int_eq(smtp_received_format(buf, 40, &r), -1);

	/* a HELO name that would break the header's comments */
	r.helo = "a(b)\\c;d,e<f>@\"g";
	ck_assert_int_gt(smtp_received_format(buf, sizeof(buf), &r), 0);
	ck_assert_int_eq(strncmp(buf, "Received: from a?b??c?d?e?f???g "
	    "(localhost [local])\n", 52), 0);
}
END_TEST

START_TEST(test_text)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;
	char			 buf[64];

	memset(&ss, 0, sizeof(ss));
	ck_assert_str_eq(smtp_ss_to_text(&ss, buf, sizeof(buf)), "local");
	sin6->sin6_family = AF_INET6;
	sin6->sin6_addr = in6addr_loopback;
	ck_assert_str_eq(smtp_ss_to_text(&ss, buf, sizeof(buf)), "::1");

	smtp_log_sanitize(buf, sizeof(buf), "MAIL FROM:<\"a\"@b>\x01\x7f");
	ck_assert_str_eq(buf, "MAIL FROM:<?a?@b>??");
	smtp_log_sanitize(buf, 5, "abcdefgh");
	ck_assert_str_eq(buf, "abcd");
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("smtp_parse");
	TCase	*tc_lines = tcase_create("lines");
	TCase	*tc_cmd = tcase_create("commands");
	TCase	*tc_data = tcase_create("data");
	TCase	*tc_hdr = tcase_create("headers");
	SRunner	*sr;
	int	 failed;

	tcase_add_test(tc_lines, test_getline_basic);
	tcase_add_test(tc_lines, test_getline_toolong);
	tcase_add_test(tc_lines, test_getline_nul);
	tcase_add_test(tc_cmd, test_verb);
	tcase_add_test(tc_cmd, test_helo);
	tcase_add_test(tc_cmd, test_mail_ok);
	tcase_add_test(tc_cmd, test_mail_quoted);
	tcase_add_test(tc_cmd, test_mail_bad);
	tcase_add_test(tc_cmd, test_mail_utf8);
	tcase_add_test(tc_cmd, test_rcpt);
	tcase_add_test(tc_data, test_data_dots);
	tcase_add_test(tc_data, test_data_unstuff);
	tcase_add_test(tc_data, test_data_bare_lf);
	tcase_add_test(tc_data, test_data_line_length);
	tcase_add_test(tc_data, test_data_nul);
	tcase_add_test(tc_data, test_data_cr);
	tcase_add_test(tc_data, test_data_size);
	tcase_add_test(tc_data, test_data_headers);
	tcase_add_test(tc_hdr, test_date);
	tcase_add_test(tc_hdr, test_received);
	tcase_add_test(tc_hdr, test_text);
	suite_add_tcase(s, tc_lines);
	suite_add_tcase(s, tc_cmd);
	suite_add_tcase(s, tc_data);
	suite_add_tcase(s, tc_hdr);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
