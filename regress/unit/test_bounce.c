/*
 * test_bounce.c: the DSN text (bounce.c) parses back as a
 * multipart/report of RFC 3464, for one and for several recipients,
 * failures and delays; and the sender <> is never bounced.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bounce.h"
#include "envelope.h"

#define ORIG_HEADERS \
	"Received: from client by mx.example.org\n" \
	"From: Alice <alice@example.net>\n" \
	"To: bob@example.org\n" \
	"Subject: lunch\n"
#define ORIG_MESSAGE	ORIG_HEADERS "\nthe body, not to be returned\n"

struct parsed {
	char	*text;			/* the whole DSN */
	char	*headers;		/* top-level header block */
	char	 boundary[128];
	char	*parts[8];		/* each part: headers, blank, body */
	int	 nparts;
	int	 closed;		/* the closing --boundary-- seen */
};

/* The value of header name in a header block, unfolded, or NULL. */
static char *
header_value(const char *block, const char *name)
{
	static char	 value[1024];
	const char	*p = block, *eol;
	size_t		 nlen = strlen(name), len = 0;

	while (*p != '\0' && *p != '\n') {
		eol = strchr(p, '\n');
		if (eol == NULL)
			eol = p + strlen(p);
		if (strncasecmp(p, name, nlen) == 0 && p[nlen] == ':') {
			p += nlen + 1;
			while (*p == ' ')
				p++;
			for (;;) {
				memcpy(value + len, p, eol - p);
				len += eol - p;
				/* folded continuation lines */
				if (eol[0] == '\n' && (eol[1] == ' ' ||
				    eol[1] == '\t')) {
					p = eol + 1;
					while (*p == ' ' || *p == '\t')
						p++;
					value[len++] = ' ';
					eol = strchr(p, '\n');
					continue;
				}
				break;
			}
			value[len] = '\0';
			return value;
		}
		p = *eol == '\n' ? eol + 1 : eol;
	}
	return NULL;
}

static void
parse_dsn(const struct bounce_report *r, struct parsed *ps)
{
	char		*buf = NULL, *p, *next, *ct, *b, *sep, *close;
	size_t		 len = 0, seplen;
	FILE		*fp;

	memset(ps, 0, sizeof(*ps));
	fp = open_memstream(&buf, &len);
	ck_assert_ptr_nonnull(fp);
	ck_assert_int_eq(bounce_write(fp, r), 0);
	fclose(fp);
	ps->text = buf;
	ps->headers = strdup(buf);
	if ((p = strstr(ps->headers, "\n\n")) != NULL)
		p[1] = '\0';

	ct = header_value(ps->headers, "Content-Type");
	ck_assert_ptr_nonnull(ct);
	ck_assert_ptr_nonnull(strstr(ct, "multipart/report"));
	ck_assert_ptr_nonnull(strstr(ct, "report-type=delivery-status"));
	b = strstr(ct, "boundary=\"");
	ck_assert_ptr_nonnull(b);
	b += strlen("boundary=\"");
	ck_assert_ptr_nonnull(strchr(b, '"'));
	snprintf(ps->boundary, sizeof(ps->boundary), "%.*s",
	    (int)(strchr(b, '"') - b), b);

	/* split the body on "\n--boundary\n" lines */
	if (asprintf(&sep, "\n--%s\n", ps->boundary) == -1 ||
	    asprintf(&close, "\n--%s--\n", ps->boundary) == -1)
		ck_abort_msg("asprintf");
	seplen = strlen(sep);
	p = strstr(buf, sep);
	ck_assert_ptr_nonnull(p);
	while (p != NULL && ps->nparts < 8) {
		p += seplen;
		next = strstr(p, sep);
		if (next == NULL) {
			next = strstr(p, close);
			ck_assert_ptr_nonnull(next);
			ps->closed = 1;
		}
		ps->parts[ps->nparts++] = strndup(p, next - p);
		p = ps->closed ? NULL : next;
	}
	free(sep);
	free(close);
}

static void
parsed_free(struct parsed *ps)
{
	int	 i;

	for (i = 0; i < ps->nparts; i++)
		free(ps->parts[i]);
	free(ps->headers);
	free(ps->text);
}

/* The body of a part, after its own headers. */
static const char *
part_body(const char *part)
{
	const char	*p = strstr(part, "\n\n");

	ck_assert_ptr_nonnull(p);
	return p + 2;
}

/* Per-recipient field blocks of the delivery-status part. */
static int
status_blocks(const char *part, char **blocks, int max)
{
	char	*copy = strdup(part_body(part)), *p = copy, *q;
	int	 n = 0;

	/* the first block is per-message, the others per recipient */
	while ((q = strstr(p, "\n\n")) != NULL && n < max) {
		*q = '\0';
		blocks[n++] = strdup(p);
		p = q + 2;
	}
	if (*p != '\0' && n < max)
		blocks[n++] = strdup(p);
	free(copy);
	return n;
}

static void
report_init(struct bounce_report *r, const struct bounce_rcpt *rcpts,
    size_t n, enum bounce_type type)
{
	memset(r, 0, sizeof(*r));
	r->type = type;
	r->hostname = "mx.example.org";
	r->sender = "alice@example.net";
	r->arrival = 1700000000;
	r->now = 1700003600;
	r->retry_until = 1700000000 + 4 * 86400;
	r->rcpts = rcpts;
	r->nrcpts = n;
	r->headers = ORIG_MESSAGE;
	r->headers_len = bounce_headers_length(ORIG_MESSAGE,
	    strlen(ORIG_MESSAGE));
}

START_TEST(test_one_recipient)
{
	struct bounce_rcpt	 rcpt = { "bob@example.org", "5.1.1",
	    "550 5.1.1 no such user", 1700003000 };
	struct bounce_report	 r;
	struct parsed		 ps;
	char			*blocks[8];
	int			 n, i;

	report_init(&r, &rcpt, 1, B_FAILED);
	parse_dsn(&r, &ps);
	ck_assert_str_eq(header_value(ps.headers, "From"),
	    "Mail Delivery System <MAILER-DAEMON@mx.example.org>");
	ck_assert_str_eq(header_value(ps.headers, "To"),
	    "<alice@example.net>");
	ck_assert_ptr_nonnull(strstr(header_value(ps.headers, "Subject"),
	    "failure"));
	ck_assert_str_eq(header_value(ps.headers, "MIME-Version"), "1.0");
	ck_assert_str_eq(header_value(ps.headers, "Auto-Submitted"),
	    "auto-replied");
	ck_assert_ptr_nonnull(header_value(ps.headers, "Date"));
	ck_assert_ptr_nonnull(header_value(ps.headers, "Message-ID"));

	ck_assert_int_eq(ps.nparts, 3);
	ck_assert_int_eq(ps.closed, 1);
	/* 1: for a human */
	ck_assert_ptr_nonnull(strstr(header_value(ps.parts[0],
	    "Content-Type"), "text/plain"));
	ck_assert_ptr_nonnull(strstr(ps.parts[0], "<bob@example.org>"));
	ck_assert_ptr_nonnull(strstr(ps.parts[0], "550 5.1.1 no such user"));
	/* 2: for a program */
	ck_assert_str_eq(header_value(ps.parts[1], "Content-Type"),
	    "message/delivery-status");
	n = status_blocks(ps.parts[1], blocks, 8);
	ck_assert_int_eq(n, 2);
	ck_assert_str_eq(header_value(blocks[0], "Reporting-MTA"),
	    "dns; mx.example.org");
	ck_assert_ptr_nonnull(header_value(blocks[0], "Arrival-Date"));
	ck_assert_str_eq(header_value(blocks[1], "Final-Recipient"),
	    "rfc822; bob@example.org");
	ck_assert_str_eq(header_value(blocks[1], "Action"), "failed");
	ck_assert_str_eq(header_value(blocks[1], "Status"), "5.1.1");
	ck_assert_str_eq(header_value(blocks[1], "Diagnostic-Code"),
	    "smtp; 550 5.1.1 no such user");
	ck_assert_ptr_nonnull(header_value(blocks[1], "Last-Attempt-Date"));
	ck_assert_ptr_null(header_value(blocks[1], "Will-Retry-Until"));
	for (i = 0; i < n; i++)
		free(blocks[i]);
	/* 3: the original headers, without the body */
	ck_assert_str_eq(header_value(ps.parts[2], "Content-Type"),
	    "text/rfc822-headers");
	ck_assert_str_eq(part_body(ps.parts[2]), ORIG_HEADERS);
	ck_assert_ptr_null(strstr(ps.text, "the body, not to be returned"));
	parsed_free(&ps);
}
END_TEST

START_TEST(test_several_recipients)
{
	struct bounce_rcpt	 rcpts[3] = {
		{ "bob@example.org", "5.2.2", "552 mailbox full", 0 },
		{ "carol@example.org", NULL, "", 0 },
		{ "dave@example.org", "2.0.0", "weird status", 0 },
	};
	struct bounce_report	 r;
	struct parsed		 ps;
	char			*blocks[8];
	int			 n, i;

	report_init(&r, rcpts, 3, B_FAILED);
	parse_dsn(&r, &ps);
	ck_assert_int_eq(ps.nparts, 3);
	for (i = 0; i < 3; i++)
		ck_assert_ptr_nonnull(strstr(ps.parts[0], rcpts[i].address));
	n = status_blocks(ps.parts[1], blocks, 8);
	ck_assert_int_eq(n, 4);
	ck_assert_str_eq(header_value(blocks[1], "Final-Recipient"),
	    "rfc822; bob@example.org");
	ck_assert_str_eq(header_value(blocks[1], "Status"), "5.2.2");
	ck_assert_str_eq(header_value(blocks[2], "Final-Recipient"),
	    "rfc822; carol@example.org");
	/* no status, or one of the wrong class: the default */
	ck_assert_str_eq(header_value(blocks[2], "Status"), "5.0.0");
	ck_assert_ptr_null(header_value(blocks[2], "Diagnostic-Code"));
	ck_assert_str_eq(header_value(blocks[3], "Status"), "5.0.0");
	/* a text of our own is no SMTP reply: not of type smtp */
	ck_assert_str_eq(header_value(blocks[3], "Diagnostic-Code"),
	    "X-Unix; weird status");
	for (i = 1; i < n; i++)
		ck_assert_str_eq(header_value(blocks[i], "Action"), "failed");
	for (i = 0; i < n; i++)
		free(blocks[i]);
	parsed_free(&ps);
}
END_TEST

START_TEST(test_delayed)
{
	struct bounce_rcpt	 rcpt = { "bob@example.org", "4.2.1",
	    "421 try later", 1700003000 };
	struct bounce_report	 r;
	struct parsed		 ps;
	char			*blocks[8];
	int			 n, i;

	report_init(&r, &rcpt, 1, B_DELAYED);
	parse_dsn(&r, &ps);
	ck_assert_ptr_nonnull(strstr(header_value(ps.headers, "Subject"),
	    "delay"));
	ck_assert_ptr_nonnull(strstr(ps.parts[0], "not been delivered yet"));
	ck_assert_ptr_nonnull(strstr(ps.parts[0], "1 hour"));
	n = status_blocks(ps.parts[1], blocks, 8);
	ck_assert_int_eq(n, 2);
	ck_assert_str_eq(header_value(blocks[1], "Action"), "delayed");
	ck_assert_str_eq(header_value(blocks[1], "Status"), "4.2.1");
	ck_assert_ptr_nonnull(header_value(blocks[1], "Will-Retry-Until"));
	for (i = 0; i < n; i++)
		free(blocks[i]);
	parsed_free(&ps);

	/* a delay report never carries a permanent status */
	rcpt.status = "5.1.1";
	parse_dsn(&r, &ps);
	n = status_blocks(ps.parts[1], blocks, 8);
	ck_assert_str_eq(header_value(blocks[1], "Status"), "4.0.0");
	for (i = 0; i < n; i++)
		free(blocks[i]);
	parsed_free(&ps);
}
END_TEST

/* What a client sent cannot add lines to the report. */
START_TEST(test_fields_cleaned)
{
	struct bounce_rcpt	 rcpt = { "bob@example.org\nX-Evil: 1",
	    "5.1.1", "550 oops\r\nAction: delivered", 0 };
	struct bounce_report	 r;
	struct parsed		 ps;
	char			*blocks[8];
	int			 n, i;

	report_init(&r, &rcpt, 1, B_FAILED);
	r.sender = "alice@example.net\nBcc: victim@example.com";
	parse_dsn(&r, &ps);
	ck_assert_ptr_null(header_value(ps.headers, "Bcc"));
	n = status_blocks(ps.parts[1], blocks, 8);
	ck_assert_int_eq(n, 2);
	ck_assert_str_eq(header_value(blocks[1], "Action"), "failed");
	ck_assert_ptr_null(header_value(blocks[1], "X-Evil"));
	for (i = 0; i < n; i++)
		free(blocks[i]);
	parsed_free(&ps);
}
END_TEST

START_TEST(test_given_boundary_and_no_headers)
{
	struct bounce_rcpt	 rcpt = { "bob@example.org", "5.1.1", "x", 0 };
	struct bounce_report	 r;
	struct parsed		 ps;

	report_init(&r, &rcpt, 1, B_FAILED);
	r.boundary = "fixed-boundary";
	r.headers = NULL;
	r.headers_len = 0;
	parse_dsn(&r, &ps);
	ck_assert_str_eq(ps.boundary, "fixed-boundary");
	ck_assert_int_eq(ps.nparts, 3);
	ck_assert_str_eq(part_body(ps.parts[2]), "");
	parsed_free(&ps);
}
END_TEST

START_TEST(test_headers_length)
{
	const char	*crlf = "A: 1\r\nB: 2\r\n\r\nbody\r\n";
	const char	*nobody = "A: 1\nB: 2\n";
	const char	*cut = "A: 1\nB: unfinished";
	char		*big;
	size_t		 n;

	ck_assert_uint_eq(bounce_headers_length(ORIG_MESSAGE,
	    strlen(ORIG_MESSAGE)), strlen(ORIG_HEADERS));
	ck_assert_uint_eq(bounce_headers_length(crlf, strlen(crlf)), 12);
	ck_assert_uint_eq(bounce_headers_length(nobody, strlen(nobody)), 10);
	ck_assert_uint_eq(bounce_headers_length(cut, strlen(cut)), 5);
	ck_assert_uint_eq(bounce_headers_length("\nbody\n", 6), 0);

	/* headers longer than the limit: cut after a whole line */
	n = BOUNCE_HEADERS_MAX + 100;
	big = malloc(n);
	ck_assert_ptr_nonnull(big);
	memset(big, 'x', n);
	memcpy(big, "A: 1\n", 5);
	big[BOUNCE_HEADERS_MAX - 10] = '\n';
	ck_assert_uint_eq(bounce_headers_length(big, n),
	    BOUNCE_HEADERS_MAX - 9);
	free(big);
}
END_TEST

START_TEST(test_never_bounce_a_bounce)
{
	struct envelope	 e;

	memset(&e, 0, sizeof(e));
	e.type = D_MDA;
	ck_assert_int_eq(bounce_allowed(&e), 0);	/* MAIL FROM:<> */
	ck_assert_int_eq(mailaddr_from_text(&e.sender, "alice@example.net"),
	    0);
	ck_assert_int_eq(bounce_allowed(&e), 1);
	e.flags = EF_BOUNCE;				/* carries a DSN */
	ck_assert_int_eq(bounce_allowed(&e), 0);
	e.flags = EF_LOCAL;
	ck_assert_int_eq(bounce_allowed(&e), 1);
	ck_assert_str_eq(bounce_status_default(B_FAILED), "5.0.0");
	ck_assert_str_eq(bounce_status_default(B_DELAYED), "4.0.0");
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("bounce");
	TCase	*tc = tcase_create("dsn");
	SRunner	*sr;
	int	 failed;

	tcase_add_test(tc, test_one_recipient);
	tcase_add_test(tc, test_several_recipients);
	tcase_add_test(tc, test_delayed);
	tcase_add_test(tc, test_fields_cleaned);
	tcase_add_test(tc, test_given_boundary_and_no_headers);
	tcase_add_test(tc, test_headers_length);
	tcase_add_test(tc, test_never_bounce_a_bounce);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
