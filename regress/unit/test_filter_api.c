/*
 * test_filter_api.c: the helper side of filters (libsmtpd-api/
 * filter_api.c), driven frame by frame.  Each test forks a filter made
 * of a few callbacks, with its channel on descriptor 3 as the daemon
 * would start it, and plays the owner with raw frames.  The filters
 * must not call ck_assert: check's own channel is what descriptor 3
 * was before the fork.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <check.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "smtpd-api.h"

#define DEADLINE_MS	30000

static Suite	*filter_api_suite(void);
static void	 start(void (*)(void));
static void	 stop(void);
static void	 send_frame(uint32_t, uint64_t, const struct msg *);
static void	 recv_frame(struct imsg *, struct msg_reader *);
static void	 query(uint32_t, uint64_t, const struct msg *,
		    struct filter_reply *);
static void	 send_lines(uint64_t, uint64_t, const char *const *, size_t);
static uint32_t	 recv_ack(uint64_t);
static size_t	 recv_dataout(uint64_t, char ***);
static void	 free_lines(char **, size_t);

static struct imsgbuf	*ibuf;
static pid_t		 child;
static uint64_t		 hello_caps;

/* ---- the owner's side ---- */

static void
start(void (*setup)(void))
{
	struct msg		 m;
	struct imsg		 imsg;
	struct msg_reader	 r;
	uint32_t		 version;
	int			 sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_ne(child = fork(), -1);
	if (child == 0) {
		close(sv[0]);
		if (dup2(sv[1], 3) == -1)
			_exit(99);
		if (sv[1] != 3)
			close(sv[1]);
		filter_api_init("test-filter");
		setup();
		_exit(filter_api_loop());
	}
	close(sv[1]);
	ck_assert_ptr_nonnull(ibuf = imsgbuf_new(sv[0]));

	msg_init(&m);
	msg_add_uint32(&m, SMTPD_API_VERSION);
	msg_add_string(&m, HELPER_ROLE_FILTER);
	msg_add_string(&m, "test");
	msg_add_string(&m, "");
	msg_add_uint32(&m, 0);
	msg_add_uint32(&m, 0);
	ck_assert_int_eq(imsg_compose(ibuf, IMSG_HELLO, 0, 0, -1, m.buf,
	    m.len), 0);
	msg_free(&m);
	ck_assert_int_eq(imsgbuf_flush(ibuf), 0);
	recv_frame(&imsg, &r);
	ck_assert_uint_eq(imsg.hdr.type, IMSG_READY);
	ck_assert_int_eq(msg_get_uint32(&r, &version), 0);
	ck_assert_int_eq(msg_get_uint64(&r, &hello_caps), 0);
	imsg_free(&imsg);
}

/* Closing the channel ends the filter's loop with status 0. */
static void
stop(void)
{
	int	 status;
	int	 fd = imsgbuf_fd(ibuf);

	imsgbuf_free(ibuf);
	close(fd);
	ck_assert_int_eq(waitpid(child, &status, 0), child);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
}

/* reqid 0: an event; otherwise a request with that id first. */
static void
send_frame(uint32_t type, uint64_t reqid, const struct msg *body)
{
	struct msg	 idf;
	unsigned char	*buf;
	size_t		 len;

	msg_init(&idf);
	if (reqid != 0)
		msg_add_id(&idf, reqid);
	len = idf.len + (body != NULL ? body->len : 0);
	ck_assert_ptr_nonnull(buf = malloc(len + 1));
	if (idf.len > 0)
		memcpy(buf, idf.buf, idf.len);
	if (body != NULL && body->len > 0) {
		ck_assert_int_eq(msg_error(body), 0);
		memcpy(buf + idf.len, body->buf, body->len);
	}
	ck_assert_int_eq(imsg_compose(ibuf, type, 0, 0, -1, buf, len), 0);
	ck_assert_int_eq(imsgbuf_flush(ibuf), 0);
	free(buf);
	msg_free(&idf);
}

static void
recv_frame(struct imsg *imsg, struct msg_reader *r)
{
	struct pollfd	 pfd;
	int		 got;
	ssize_t		 n;

	while ((got = imsg_get(ibuf, imsg)) == 0) {
		pfd.fd = imsgbuf_fd(ibuf);
		pfd.events = POLLIN;
		ck_assert_int_eq(poll(&pfd, 1, DEADLINE_MS), 1);
		n = imsgbuf_read(ibuf);
		ck_assert_int_gt(n, 0);
	}
	ck_assert_msg(got == 1, "bad frame: %s", imsgbuf_error(ibuf));
	msg_reader_init(r, imsg->data, imsg->datalen);
}

static void
query(uint32_t type, uint64_t reqid, const struct msg *body,
    struct filter_reply *rep)
{
	struct imsg		 imsg;
	struct msg_reader	 r;
	uint64_t		 id;
	char			 err[256];

	send_frame(type, reqid, body);
	recv_frame(&imsg, &r);
	ck_assert_uint_eq(imsg.hdr.type, type);
	ck_assert(imsg.hdr.flags & IMSGF_REPLY);
	ck_assert_int_eq(msg_get_id(&r, &id), 0);
	ck_assert_uint_eq(id, reqid);
	ck_assert_int_eq(filter_proto_reply_decode(type, &r, rep, err,
	    sizeof(err)), 0);
	imsg_free(&imsg);
}

static void
send_lines(uint64_t reqid, uint64_t session, const char *const *lines,
    size_t n)
{
	struct msg	 m;
	size_t		 i;

	msg_init(&m);
	filter_proto_lines_start(&m, session);
	for (i = 0; i < n; i++)
		ck_assert_int_eq(filter_proto_lines_add(&m, lines[i]), 1);
	send_frame(IMSG_FILTER_DATALINES, reqid, &m);
	msg_free(&m);
}

static uint32_t
recv_ack(uint64_t reqid)
{
	struct imsg		 imsg;
	struct msg_reader	 r;
	uint64_t		 id;
	uint32_t		 n;
	char			 err[256];

	recv_frame(&imsg, &r);
	ck_assert_uint_eq(imsg.hdr.type, IMSG_FILTER_DATALINES);
	ck_assert_int_eq(msg_get_id(&r, &id), 0);
	ck_assert_uint_eq(id, reqid);
	ck_assert_int_eq(filter_proto_ack_decode(&r, &n, err, sizeof(err)), 0);
	imsg_free(&imsg);
	return n;
}

/* One DATAOUT frame's lines. */
static size_t
recv_dataout(uint64_t session, char ***lines)
{
	struct imsg		 imsg;
	struct msg_reader	 r;
	uint64_t		 s;
	char			*line;
	size_t			 n = 0;

	*lines = NULL;
	recv_frame(&imsg, &r);
	ck_assert_uint_eq(imsg.hdr.type, IMSG_FILTER_DATAOUT);
	ck_assert_int_eq(filter_proto_lines_session(&r, &s), 0);
	ck_assert_uint_eq(s, session);
	while (filter_proto_lines_next(&r, &line) == 1) {
		*lines = reallocarray(*lines, n + 1, sizeof(**lines));
		(*lines)[n++] = line;
	}
	imsg_free(&imsg);
	return n;
}

static void
free_lines(char **lines, size_t n)
{
	while (n > 0)
		free(lines[--n]);
	free(lines);
}

/* ---- the filters ---- */

static void
mail_bad_code(uint64_t id, const struct filter_mailaddr *m, void *arg)
{
	if (strcmp(m->domain, "later.example") == 0)
		return;		/* decided from the rcpt callback below */
	if (strcmp(m->domain, "spam.example") == 0)
		filter_api_reject(id, 250, "2.0.0", "not really");
	else
		filter_api_tempfail(id, 0, NULL, NULL);
}

/* Decides the pending MAIL of the same session: a late decision. */
static void
decide_later(uint64_t id, void *arg)
{
	filter_api_reject(id, 553, "5.1.8", "decided later");
}

static void
mail_timer(uint64_t id, const struct filter_mailaddr *m, void *arg)
{
	if (filter_api_timer(id, 10, decide_later, NULL) == -1)
		filter_api_tempfail(id, 0, NULL, "timer refused");
}

static void
setup_mail(void)
{
	filter_api_on_mail(mail_bad_code, NULL);
}

static void
setup_timer(void)
{
	filter_api_on_mail(mail_timer, NULL);
}

/* Every line twice; the first line of a transaction says its number. */
static int	 allocations;

static void *
tx_new(uint64_t id)
{
	int	*n = malloc(sizeof(*n));

	*n = ++allocations;
	return n;
}

static void
tx_free(uint64_t id, void *p)
{
	free(p);
}

static void
dataline_double(uint64_t id, const char *line, void *arg)
{
	int	*tx = filter_api_transaction(id);

	if (strcmp(line, "number?") == 0) {
		filter_api_printf(id, "transaction %d", *tx);
		return;
	}
	if (strcmp(line, "huge") == 0) {
		char	*big = malloc(FILTER_LINE_MAX + 2);

		memset(big, 'h', FILTER_LINE_MAX + 1);
		big[FILTER_LINE_MAX + 1] = '\0';
		/* Refused: the owner sees the 451 at EOM. */
		if (filter_api_writeln(id, big) != -1)
			filter_api_writeln(id, "huge line accepted");
		free(big);
		return;
	}
	filter_api_writeln(id, line);
	filter_api_writeln(id, line);
}

static void
setup_dataline(void)
{
	filter_api_on_dataline(dataline_double, NULL);
	filter_api_transaction_allocator(tx_new);
	filter_api_transaction_destructor(tx_free);
}

/* ---- the tests ---- */

START_TEST(test_ready_announces_hooks)
{
	start(setup_mail);
	ck_assert_uint_eq(hello_caps, FILTER_HOOK_MAIL | FILTER_HOOK_LIFECYCLE);
	stop();
	start(setup_dataline);
	/* dataline brings eom along, for the line count. */
	ck_assert_uint_eq(hello_caps, FILTER_HOOK_DATALINE | FILTER_HOOK_EOM |
	    FILTER_HOOK_LIFECYCLE);
	stop();
}
END_TEST

START_TEST(test_decisions_coerced_and_defaults)
{
	struct filter_reply	 rep;
	struct msg		 m;

	start(setup_mail);
	msg_init(&m);
	filter_proto_mailaddr_encode(&m, 1, "x", "spam.example");
	query(IMSG_FILTER_MAIL, 100, &m, &rep);
	/* A "reject 250" is made a real reject, never an accept. */
	ck_assert_int_eq(rep.status, FILTER_REJECT);
	ck_assert_uint_eq(rep.code, 550);
	ck_assert_str_eq(rep.enhanced, "5.7.1");
	ck_assert_str_eq(rep.message, "not really");

	msg_reset(&m);
	filter_proto_mailaddr_encode(&m, 1, "x", "other.example");
	query(IMSG_FILTER_MAIL, 101, &m, &rep);
	ck_assert_int_eq(rep.status, FILTER_TEMPFAIL);
	ck_assert_uint_eq(rep.code, 451);

	/* No callback for RCPT (not announced either): accepted. */
	msg_reset(&m);
	filter_proto_mailaddr_encode(&m, 1, "y", "example.org");
	query(IMSG_FILTER_RCPT, 102, &m, &rep);
	ck_assert_int_eq(rep.status, FILTER_ACCEPT);

	/* A malformed query gets the failure reply, not silence. */
	msg_reset(&m);
	msg_add_id(&m, 1);
	query(IMSG_FILTER_MAIL, 103, &m, &rep);
	ck_assert_int_eq(rep.status, FILTER_TEMPFAIL);
	ck_assert_uint_eq(rep.code, 451);
	msg_free(&m);
	stop();
}
END_TEST

START_TEST(test_late_decision_and_pending_query)
{
	struct filter_reply	 rep;
	struct imsg		 imsg;
	struct msg_reader	 r;
	struct msg		 m;
	uint64_t		 id;
	char			 err[256];

	start(setup_timer);
	msg_init(&m);
	filter_proto_mailaddr_encode(&m, 5, "a", "b.example");
	send_frame(IMSG_FILTER_MAIL, 200, &m);
	/* A second query of the session while MAIL waits: refused at once,
	 * temporarily; the MAIL is still answered by its own timer. */
	msg_reset(&m);
	filter_proto_mailaddr_encode(&m, 5, "c", "d.example");
	query(IMSG_FILTER_RCPT, 201, &m, &rep);
	ck_assert_int_eq(rep.status, FILTER_TEMPFAIL);
	recv_frame(&imsg, &r);
	ck_assert_int_eq(msg_get_id(&r, &id), 0);
	ck_assert_uint_eq(id, 200);
	ck_assert_int_eq(filter_proto_reply_decode(IMSG_FILTER_MAIL, &r, &rep,
	    err, sizeof(err)), 0);
	ck_assert_int_eq(rep.status, FILTER_REJECT);
	ck_assert_uint_eq(rep.code, 553);
	ck_assert_str_eq(rep.message, "decided later");
	imsg_free(&imsg);

	/*
	 * A session that disconnects while its decision is pending gets no
	 * answer: session 7's timer is armed after session 6's, so were
	 * session 6 answered, that answer would come first.
	 */
	msg_reset(&m);
	filter_proto_mailaddr_encode(&m, 6, "a", "b.example");
	send_frame(IMSG_FILTER_MAIL, 202, &m);
	msg_reset(&m);
	filter_proto_session_encode(&m, 6);
	send_frame(IMSG_FILTER_DISCONNECT, 0, &m);
	msg_reset(&m);
	filter_proto_mailaddr_encode(&m, 7, "a", "b.example");
	send_frame(IMSG_FILTER_MAIL, 203, &m);
	recv_frame(&imsg, &r);
	ck_assert_int_eq(msg_get_id(&r, &id), 0);
	ck_assert_uint_eq(id, 203);
	imsg_free(&imsg);
	msg_free(&m);
	stop();
}
END_TEST

START_TEST(test_data_lines_counted)
{
	static const char *const batch1[] = { "Subject: x", "" };
	static const char *const batch2[] = { "body", "number?" };
	struct filter_reply	 rep;
	struct msg		 m;
	char			**out;
	size_t			 n;

	start(setup_dataline);
	send_lines(300, 9, batch1, 2);
	n = recv_dataout(9, &out);
	ck_assert_uint_eq(n, 4);
	ck_assert_str_eq(out[0], "Subject: x");
	ck_assert_str_eq(out[1], "Subject: x");
	ck_assert_str_eq(out[3], "");
	free_lines(out, n);
	ck_assert_uint_eq(recv_ack(300), 2);

	send_lines(301, 9, batch2, 2);
	n = recv_dataout(9, &out);
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(out[2], "transaction 1");
	free_lines(out, n);
	ck_assert_uint_eq(recv_ack(301), 2);

	/* The filter reports exactly what it emitted: 4 + 3. */
	msg_init(&m);
	filter_proto_eom_encode(&m, 9, 4, 0);
	query(IMSG_FILTER_EOM, 302, &m, &rep);
	ck_assert_int_eq(rep.status, FILTER_ACCEPT);
	ck_assert_uint_eq(rep.lines_out, 7);

	/* After a commit, a new transaction gets new data. */
	msg_reset(&m);
	filter_proto_tx_encode(&m, 9, 1);
	send_frame(IMSG_FILTER_TX_COMMIT, 0, &m);
	send_lines(303, 9, batch2 + 1, 1);
	n = recv_dataout(9, &out);
	ck_assert_str_eq(out[0], "transaction 2");
	free_lines(out, n);
	ck_assert_uint_eq(recv_ack(303), 1);

	/* The owner says 5 lines, the filter got 1: a 451, not a 5xx. */
	msg_reset(&m);
	filter_proto_eom_encode(&m, 9, 5, 0);
	query(IMSG_FILTER_EOM, 304, &m, &rep);
	ck_assert_int_eq(rep.status, FILTER_TEMPFAIL);
	ck_assert_uint_eq(rep.code, 451);
	ck_assert_str_eq(rep.enhanced, "4.3.0");
	msg_free(&m);
	stop();
}
END_TEST

START_TEST(test_refused_output_line_fails_message)
{
	static const char *const lines[] = { "huge" };
	struct filter_reply	 rep;
	struct msg		 m;

	start(setup_dataline);
	send_lines(400, 3, lines, 1);
	ck_assert_uint_eq(recv_ack(400), 1);
	msg_init(&m);
	filter_proto_eom_encode(&m, 3, 1, 6);
	query(IMSG_FILTER_EOM, 401, &m, &rep);
	ck_assert_int_eq(rep.status, FILTER_TEMPFAIL);
	ck_assert_str_eq(rep.enhanced, "4.3.0");
	ck_assert_uint_eq(rep.lines_out, 0);
	msg_free(&m);
	stop();
}
END_TEST

START_TEST(test_empty_message)
{
	struct filter_reply	 rep;
	struct msg		 m;

	start(setup_dataline);
	msg_init(&m);
	filter_proto_eom_encode(&m, 4, 0, 0);
	query(IMSG_FILTER_EOM, 500, &m, &rep);
	ck_assert_int_eq(rep.status, FILTER_ACCEPT);
	ck_assert_uint_eq(rep.lines_out, 0);
	msg_free(&m);
	stop();
}
END_TEST

static Suite *
filter_api_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("filter_api");
	tc = tcase_create("filter_api");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_ready_announces_hooks);
	tcase_add_test(tc, test_decisions_coerced_and_defaults);
	tcase_add_test(tc, test_late_decision_and_pending_query);
	tcase_add_test(tc, test_data_lines_counted);
	tcase_add_test(tc, test_refused_output_line_fails_message);
	tcase_add_test(tc, test_empty_message);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(filter_api_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
