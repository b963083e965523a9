/*
 * test_smtp_session.c: the SMTP session state machine, driven over a
 * socketpair, with the lookup and queue processes played by this file
 * (proc_send is replaced: each frame the session sends is answered
 * from the event loop, as a real peer would).
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <check.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "smtpd-api.h"
#include "config.h"
#include "envelope.h"
#include "frames.h"
#include "proc.h"
#include "smtp.h"
#include "smtp_session.h"

/* What the session's process would have. */
struct smtpd_env	 smtpd_env;
struct event_base	*proc_base;
enum proc_id		 proc_self = PROC_NETWORK;

static struct smtpd_config	 conf;
static struct smtp_listener	 listener;

/* The fake peers' state. */
struct reply {
	struct reply	*next;
	uint32_t	 type;
	struct msg	 body;
	int		 fd;
};
static struct reply	*replies, **replies_tail = &replies;
static struct event	*deliver_ev;
static int		 hold_create;		/* keep CREATE answers */
static struct reply	*held;
static int		 commit_result;
static int		 create_result;
static int		 nrollback, nsubmit, ncommit, ncreate;
static uint32_t		 last_rollback, last_msgid;
static uint32_t		 next_msgid;
static char		 msgpath[256];		/* last message file */
static char		 tmpdir[64];
static struct envelope	 last_template;
static int		 last_local;

static int		 client = -1;
static char		 rbuf[65536];
static size_t		 rlen;
static int		 client_eof;

/* ------------------------------------------------------------------ */
/* stand-ins for proc.c and smtp.c                                     */
/* ------------------------------------------------------------------ */

void
proc_stat(const char *key, int64_t delta)
{
}

void
smtp_session_ended(void)
{
}

static void
deliver(int fd, short ev, void *arg)
{
	struct reply		*r;
	struct imsg		 imsg;
	struct msg_reader	 reader;

	while ((r = replies) != NULL) {
		replies = r->next;
		if (replies == NULL)
			replies_tail = &replies;
		memset(&imsg, 0, sizeof(imsg));
		imsg.hdr.type = r->type;
		imsg.fd = r->fd;
		imsg.data = r->body.buf;
		imsg.datalen = r->body.len;
		msg_reader_init(&reader, imsg.data, imsg.datalen);
		smtp_session_imsg(&imsg, &reader);
		ck_assert_int_eq(imsg.fd, -1);
		msg_free(&r->body);
		free(r);
	}
}

static struct reply *
reply_new(uint32_t type, uint64_t sid)
{
	struct reply	*r = calloc(1, sizeof(*r));

	ck_assert_ptr_nonnull(r);
	r->type = type;
	r->fd = -1;
	msg_init(&r->body);
	msg_add_id(&r->body, sid);
	return r;
}

static void
reply_queue(struct reply *r)
{
	struct timeval	 tv = { 0, 0 };

	*replies_tail = r;
	replies_tail = &r->next;
	evtimer_add(deliver_ev, &tv);
}

static void
fake_lookup_rcpt(uint64_t sid, struct msg_reader *mr)
{
	struct envelope	 e;
	struct reply	*r;
	const void	*data;
	size_t		 len;
	char		*tag, err[128], text[ENVELOPE_TEXT_MAX];
	int32_t		 local;
	int		 i, n;
	static const char *const list[] = { "alice", "bob", "alice" };

	ck_assert_int_eq(msg_get_data(mr, &data, &len), 0);
	ck_assert_int_eq(msg_get_string(mr, &tag), 0);
	ck_assert_int_eq(msg_get_int32(mr, &local), 0);
	ck_assert_int_eq(msg_end(mr), 0);
	free(tag);
	last_local = local;
	ck_assert_int_eq(envelope_load(&e, data, len, err, sizeof(err)), 0);
	last_template = e;
	if (strcmp(e.rcpt.user, "unknown") == 0) {
		r = reply_new(IMSG_LOOKUP_RCPT_DONE, sid);
		msg_add_int32(&r->body, 0);
		msg_add_uint32(&r->body, 550);
		msg_add_string(&r->body, "5.1.1");
		msg_add_string(&r->body, "Invalid recipient");
		reply_queue(r);
		return;
	}
	if (strcmp(e.rcpt.user, "tempfail") == 0) {
		/* a wrong 5xx with a temporary failure: must become 4xx */
		r = reply_new(IMSG_LOOKUP_RCPT_DONE, sid);
		msg_add_int32(&r->body, -1);
		msg_add_uint32(&r->body, 550);
		msg_add_string(&r->body, "5.1.1");
		msg_add_string(&r->body, "");
		reply_queue(r);
		return;
	}
	n = strcmp(e.rcpt.user, "list") == 0 ? 3 : 1;
	for (i = 0; i < n; i++) {
		strlcpy(e.dispatcher, "local", sizeof(e.dispatcher));
		if (n > 1)
			strlcpy(e.dest.user, list[i], sizeof(e.dest.user));
		ck_assert_int_gt(len = envelope_dump(&e, text, sizeof(text)),
		    0);
		r = reply_new(IMSG_LOOKUP_RCPT_ENVELOPE, sid);
		msg_add_data(&r->body, text, len);
		reply_queue(r);
	}
	r = reply_new(IMSG_LOOKUP_RCPT_DONE, sid);
	msg_add_int32(&r->body, 1);
	msg_add_uint32(&r->body, 250);
	msg_add_string(&r->body, "2.1.5");
	msg_add_string(&r->body, "");
	reply_queue(r);
}

void
proc_send(enum proc_id to, uint32_t type, const struct msg *body, int fd)
{
	struct msg_reader	 mr;
	struct sockaddr_storage	 ss;
	struct reply		*r;
	uint64_t		 sid = 0;
	uint32_t		 msgid;
	const void		*data;
	size_t			 len;

	ck_assert_int_eq(fd, -1);
	msg_reader_init(&mr, body->buf, body->len);
	if (type != IMSG_RECV_ROLLBACK)
		ck_assert_int_eq(msg_get_id(&mr, &sid), 0);
	switch (type) {
	case IMSG_LOOKUP_RDNS:
		ck_assert_int_eq(to, PROC_LOOKUP);
		ck_assert_int_eq(msg_get_sockaddr(&mr, &ss), 0);
		r = reply_new(type, sid);
		msg_add_int32(&r->body, 1);
		msg_add_string(&r->body, "client.example");
		reply_queue(r);
		break;
	case IMSG_LOOKUP_RCPT:
		ck_assert_int_eq(to, PROC_LOOKUP);
		fake_lookup_rcpt(sid, &mr);
		break;
	case IMSG_RECV_CREATE:
		ck_assert_int_eq(to, PROC_QUEUE);
		ncreate++;
		r = reply_new(type, sid);
		last_msgid = ++next_msgid;
		if (create_result == 1) {
			snprintf(msgpath, sizeof(msgpath), "%s/msg.%u", tmpdir,
			    last_msgid);
			r->fd = open(msgpath, O_WRONLY | O_CREAT | O_TRUNC,
			    0600);
			ck_assert_int_ne(r->fd, -1);
		}
		msg_add_int32(&r->body, create_result);
		msg_add_uint32(&r->body, create_result == 1 ? last_msgid : 0);
		if (hold_create)
			held = r;
		else
			reply_queue(r);
		break;
	case IMSG_RECV_SUBMIT:
		ck_assert_int_eq(msg_get_uint32(&mr, &msgid), 0);
		ck_assert_int_eq(msgid, last_msgid);
		ck_assert_int_eq(msg_get_data(&mr, &data, &len), 0);
		nsubmit++;
		r = reply_new(type, sid);
		msg_add_int32(&r->body, 1);
		msg_add_id(&r->body, ((uint64_t)msgid << 32) | nsubmit);
		reply_queue(r);
		break;
	case IMSG_RECV_COMMIT:
		ck_assert_int_eq(msg_get_uint32(&mr, &msgid), 0);
		ck_assert_int_eq(msgid, last_msgid);
		ncommit++;
		r = reply_new(type, sid);
		msg_add_int32(&r->body, commit_result);
		reply_queue(r);
		break;
	case IMSG_RECV_ROLLBACK:
		ck_assert_int_eq(msg_get_uint32(&mr, &msgid), 0);
		nrollback++;
		last_rollback = msgid;
		break;
	default:
		ck_abort_msg("unexpected frame %u", type);
	}
}

/* ------------------------------------------------------------------ */
/* the client                                                          */
/* ------------------------------------------------------------------ */

static void
tick(int fd, short ev, void *arg)
{
}

/* One turn of the loop, never longer than the tick. */
static void
turn(void)
{
	ssize_t	 n;

	event_base_loop(proc_base, EVLOOP_ONCE);
	for (;;) {
		n = recv(client, rbuf + rlen, sizeof(rbuf) - 1 - rlen,
		    MSG_DONTWAIT);
		if (n > 0) {
			rlen += n;
			rbuf[rlen] = '\0';
			continue;
		}
		if (n == 0)
			client_eof = 1;
		break;
	}
}

static void
say(const char *s)
{
	size_t	 len = strlen(s);

	ck_assert_int_eq(write(client, s, len), (ssize_t)len);
}

/* The next complete reply (all its lines), or NULL at EOF/deadline. */
static char *
get_reply(void)
{
	static char	 out[8192];
	time_t		 deadline = time(NULL) + 30;
	char		*line, *eol;
	size_t		 len;

	for (;;) {
		for (line = rbuf; (eol = strstr(line, "\r\n")) != NULL;
		    line = eol + 2) {
			if (eol - line >= 4 && line[3] == '-')
				continue;
			len = eol + 2 - rbuf;
			ck_assert_uint_lt(len, sizeof(out));
			memcpy(out, rbuf, len);
			out[len] = '\0';
			memmove(rbuf, rbuf + len, rlen - len + 1);
			rlen -= len;
			return out;
		}
		if (client_eof || time(NULL) > deadline)
			return NULL;
		turn();
	}
}

#define expect(prefix) do {						\
	char	*got_ = get_reply();					\
	ck_assert_msg(got_ != NULL, "no reply, wanted %s", prefix);	\
	ck_assert_msg(strncmp(got_, prefix, strlen(prefix)) == 0,	\
	    "got \"%s\", wanted \"%s\"", got_, prefix);			\
} while (0)

static void
wait_eof(void)
{
	time_t	 deadline = time(NULL) + 30;

	while (!client_eof && time(NULL) <= deadline)
		turn();
	ck_assert_msg(client_eof, "the session did not close");
	while (smtp_session_count() > 0 && time(NULL) <= deadline)
		turn();
	ck_assert_int_eq(smtp_session_count(), 0);
}

static void
start(int local, int mask_src)
{
	struct sockaddr_storage	 ss, lss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	int			 sv[2];

	memset(&ss, 0, sizeof(ss));
	memset(&lss, 0, sizeof(lss));
	if (!local) {
		sin->sin_family = AF_INET;
		inet_pton(AF_INET, "192.0.2.1", &sin->sin_addr);
		lss = ss;
	}
	memset(&listener, 0, sizeof(listener));
	listener.hostname = "test.example";
	listener.local = local;
	listener.mask_src = mask_src;
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	client = sv[1];
	rlen = 0;
	rbuf[0] = '\0';
	client_eof = 0;
	smtp_session_start(sv[0], &listener, &ss, &lss, 1000);
	expect("220 test.example ESMTP smtpd\r\n");
}

static void
stop(void)
{
	if (client != -1)
		close(client);
	client = -1;
	while (smtp_session_count() > 0)
		turn();
}

static char *
slurp(const char *path)
{
	static char	 buf[65536];
	ssize_t		 n;
	int		 fd;

	ck_assert_int_ne(fd = open(path, O_RDONLY), -1);
	n = read(fd, buf, sizeof(buf) - 1);
	ck_assert_int_ge(n, 0);
	buf[n] = '\0';
	close(fd);
	return buf;
}

static void
setup(void)
{
	struct timeval	 tv = { 0, 20000 };
	static struct event *tick_ev;

	memset(&conf, 0, sizeof(conf));
	conf.max_message_size = 1000000;
	conf.max_mails = 100;
	conf.max_rcpt = 100;
	conf.timeout_command = 300;
	conf.timeout_data = 600;
	conf.queue_ttl = 3600;
	smtpd_env.conf = &conf;
	strlcpy(smtpd_env.hostname, "test.example", sizeof(smtpd_env.hostname));
	if (proc_base == NULL) {
		proc_base = event_base_new();
		deliver_ev = evtimer_new(proc_base, deliver, NULL);
		tick_ev = event_new(proc_base, -1, EV_PERSIST, tick, NULL);
		evtimer_add(tick_ev, &tv);
		strlcpy(tmpdir, "/tmp/test_smtp_session.XXXXXX",
		    sizeof(tmpdir));
		ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	}
	hold_create = 0;
	held = NULL;
	commit_result = 1;
	create_result = 1;
	nrollback = nsubmit = ncommit = ncreate = 0;
	last_rollback = 0;
	msgpath[0] = '\0';
	log_init(1, "test_smtp_session");
}

static void
teardown(void)
{
	stop();
}

/* ------------------------------------------------------------------ */
/* tests                                                               */
/* ------------------------------------------------------------------ */

START_TEST(test_happy_path)
{
	static const char want_received[] = "Received: from client.example "
	    "(client.example [192.0.2.1])\n\tby test.example (smtpd) with "
	    "ESMTP id ";
	char	*r, *body, want[64];

	start(0, 0);
	say("EHLO client.example\r\n");
	r = get_reply();
	ck_assert_ptr_nonnull(r);
	ck_assert_ptr_nonnull(strstr(r, "250-test.example Hello "
	    "client.example [192.0.2.1]"));
	ck_assert_ptr_nonnull(strstr(r, "250-PIPELINING\r\n"));
	ck_assert_ptr_nonnull(strstr(r, "250-8BITMIME\r\n"));
	ck_assert_ptr_nonnull(strstr(r, "250-SIZE 1000000\r\n"));
	ck_assert_ptr_nonnull(strstr(r, "250-ENHANCEDSTATUSCODES\r\n"));
	ck_assert_ptr_nonnull(strstr(r, "250-SMTPUTF8\r\n"));
	ck_assert_ptr_nonnull(strstr(r, "250 HELP\r\n"));
	say("MAIL FROM:<alice@example.net> SIZE=100\r\n");
	expect("250 2.1.0 ");
	say("RCPT TO:<bob@example.org>\r\n");
	expect("250 2.1.5 ");
	ck_assert_str_eq(last_template.sender.user, "alice");
	ck_assert_str_eq(last_template.rcpt.user, "bob");
	ck_assert_str_eq(last_template.helo, "client.example");
	ck_assert_str_eq(last_template.hostname, "client.example");
	ck_assert_str_eq(last_template.smtpname, "test.example");
	ck_assert_int_eq(last_template.flags & EF_LOCAL, 0);
	ck_assert_int_eq(last_local, 0);
	say("DATA\r\n");
	expect("354 ");
	say("Subject: hi\r\n\r\n..dotted\r\nline2\nlast\r\n.\r\n");
	snprintf(want, sizeof(want), "250 2.0.0 %08x Message accepted "
	    "for delivery\r\n", last_msgid);
	expect(want);
	ck_assert_int_eq(ncommit, 1);
	ck_assert_int_eq(nsubmit, 1);
	body = slurp(msgpath);
	ck_assert_msg(strncmp(body, want_received, strlen(want_received)) ==
	    0, "%s", body);
	ck_assert_ptr_nonnull(strstr(body, "\tfor <bob@example.org>;\n"));
	ck_assert_ptr_nonnull(strstr(body, "\nSubject: hi\n\n.dotted\nline2\n"
	    "last\n"));
	ck_assert_ptr_null(strchr(body, '\r'));
	ck_assert_ptr_null(strstr(body, "Message-ID"));
	say("QUIT\r\n");
	expect("221 2.0.0 ");
	wait_eof();
	ck_assert_int_eq(nrollback, 0);
}
END_TEST

START_TEST(test_pipelining)
{
	start(0, 0);
	/* everything at once: answers come in order */
	say("EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<unknown@x>\r\n"
	    "RCPT TO:<list@x>\r\nRCPT TO:<tempfail@x>\r\nNOOP\r\nDATA\r\n");
	ck_assert_ptr_nonnull(get_reply());
	expect("250 2.1.0 ");
	expect("550 5.1.1 Invalid recipient\r\n");
	expect("250 2.1.5 ");
	expect("451 4.3.0 ");		/* never 5xx for a failure */
	expect("250 2.0.0 Ok\r\n");
	expect("354 ");
	/* alice, bob, alice: the duplicate is not submitted */
	ck_assert_int_eq(nsubmit, 2);
	say("x\r\n.\r\nQUIT\r\n");
	expect("250 2.0.0 ");
	expect("221 ");
	wait_eof();
}
END_TEST

START_TEST(test_sequence_errors)
{
	start(0, 0);
	say("MAIL FROM:<a@b>\r\n");
	expect("503 5.5.1 ");
	say("RCPT TO:<a@b>\r\n");
	expect("503 5.5.1 ");
	say("DATA\r\n");
	expect("503 5.5.1 ");
	say("HELO\r\n");
	expect("501 5.5.4 ");
	say("HELO c\r\n");
	expect("250 test.example Hello c [192.0.2.1]");
	say("MAIL FROM:<a@b>\r\n");
	expect("250 ");
	say("MAIL FROM:<a@b>\r\n");
	expect("503 5.5.1 ");
	say("DATA\r\n");
	expect("554 5.5.1 No valid recipients\r\n");
	say("RSET\r\n");
	expect("250 2.0.0 ");
	ck_assert_int_eq(nrollback, 1);
	ck_assert_int_eq(last_rollback, last_msgid);
	say("MAIL FROM:<a@b> SIZE=1000001\r\n");
	expect("552 5.3.4 ");
	say("FOO\r\n");
	expect("500 5.5.1 ");
	say("STARTTLS\r\n");
	expect("502 5.5.1 ");
	say("AUTH PLAIN\r\n");
	expect("502 5.5.1 ");
	say("VRFY bob\r\n");
	expect("252 2.1.5 ");
	say("EXPN list\r\n");
	expect("502 5.5.1 ");
	say("HELP\r\n");
	expect("214-2.0.0");
	say("NOOP whatever\r\n");
	expect("250 2.0.0 ");
	say("RSET now\r\n");
	expect("501 5.5.4 ");
	say("QUIT\r\n");
	expect("221 ");
	wait_eof();
}
END_TEST

START_TEST(test_line_too_long)
{
	char	 line[1200];

	start(0, 0);
	memset(line, 'A', sizeof(line));
	memcpy(line, "NOOP ", 5);
	memcpy(line + sizeof(line) - 3, "\r\n", 3);
	say(line);
	expect("500 5.5.2 Line too long\r\n");
	/* the session goes on after the long line */
	say("NOOP\r\n");
	expect("250 ");
	/* 510 octets and CRLF is still fine */
	memset(line, 'A', 512);
	memcpy(line, "NOOP ", 5);
	memcpy(line + 510, "\r\n", 3);
	say(line);
	expect("250 ");
	say("QUIT\r\n");
	expect("221 ");
	wait_eof();
}
END_TEST

START_TEST(test_limits)
{
	conf.max_rcpt = 2;
	conf.max_mails = 1;
	start(0, 0);
	say("EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<x@y>\r\nRCPT TO:<y@y>\r\n"
	    "RCPT TO:<z@y>\r\nDATA\r\n");
	ck_assert_ptr_nonnull(get_reply());
	expect("250 ");
	expect("250 ");
	expect("250 ");
	expect("452 4.5.3 Too many recipients\r\n");
	expect("354 ");
	say(".\r\n");
	expect("250 2.0.0 ");
	say("MAIL FROM:<a@b>\r\n");
	expect("452 4.5.3 ");
	say("QUIT\r\n");
	expect("221 ");
	wait_eof();
}
END_TEST

START_TEST(test_too_many_errors)
{
	int	 i;

	start(0, 0);
	for (i = 0; i < 9; i++) {
		say("BOGUS\r\n");
		expect("500 5.5.1 ");
	}
	say("BOGUS\r\n");
	expect("500 5.5.1 ");
	expect("421 4.7.0 ");
	wait_eof();
}
END_TEST

START_TEST(test_data_refused)
{
	char	 big[2048];

	conf.max_message_size = 1000;
	start(0, 0);
	say("HELO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<x@y>\r\nDATA\r\n");
	expect("250 ");
	expect("250 ");
	expect("250 ");
	expect("354 ");
	memset(big, 'x', 900);
	memcpy(big + 900, "\r\n", 3);
	say(big);
	say(big);
	say(".\r\n");
	expect("552 5.3.4 ");
	ck_assert_int_eq(ncommit, 0);
	ck_assert_int_eq(nrollback, 1);

	/* a NUL byte */
	say("MAIL FROM:<a@b>\r\nRCPT TO:<x@y>\r\nDATA\r\n");
	expect("250 ");
	expect("250 ");
	expect("354 ");
	ck_assert_int_eq(write(client, "a\0b\r\n.\r\n", 8), 8);
	expect("554 5.6.0 ");
	ck_assert_int_eq(nrollback, 2);

	/* a line over 1000 octets: read to the end, then refused */
	say("MAIL FROM:<a@b>\r\nRCPT TO:<x@y>\r\nDATA\r\n");
	expect("250 ");
	expect("250 ");
	expect("354 ");
	memset(big, 'y', 1500);
	memcpy(big + 1500, "\r\n.\r\n", 6);
	say(big);
	expect("552 5.5.2 ");
	ck_assert_int_eq(nrollback, 3);
	ck_assert_int_eq(ncommit, 0);
	say("QUIT\r\n");
	expect("221 ");
	wait_eof();
}
END_TEST

START_TEST(test_queue_failures)
{
	start(0, 0);
	say("HELO c\r\n");
	expect("250 ");
	create_result = -1;
	say("MAIL FROM:<a@b>\r\n");
	expect("451 4.3.0 ");
	create_result = 1;
	commit_result = -1;
	say("MAIL FROM:<a@b>\r\nRCPT TO:<x@y>\r\nDATA\r\n");
	expect("250 ");
	expect("250 ");
	expect("354 ");
	say("hello\r\n.\r\n");
	expect("451 4.3.0 ");
	ck_assert_int_eq(ncommit, 1);
	ck_assert_int_eq(nrollback, 1);
	say("QUIT\r\n");
	expect("221 ");
	wait_eof();
}
END_TEST

START_TEST(test_local_submission)
{
	char	*body;

	start(1, 0);
	say("EHLO localhost\r\nMAIL FROM:<joe>\r\nRCPT TO:<bob>\r\nDATA\r\n");
	ck_assert_ptr_nonnull(get_reply());
	expect("250 ");
	expect("250 ");
	ck_assert_int_eq(last_template.flags & EF_LOCAL, EF_LOCAL);
	ck_assert_int_eq(last_local, 1);
	ck_assert_int_eq(last_template.ss.ss_family, AF_UNSPEC);
	/* domainless addresses are ours */
	ck_assert_str_eq(last_template.sender.domain, "test.example");
	ck_assert_str_eq(last_template.rcpt.domain, "test.example");
	expect("354 ");
	say("Subject: local\r\nFrom: joe\r\n\r\nbody\r\n.\r\n");
	expect("250 2.0.0 ");
	body = slurp(msgpath);
	ck_assert_msg(strncmp(body, "Received: from localhost (localhost "
	    "[local])\n", 45) == 0, "%s", body);
	/* added at the end of the header block */
	ck_assert_msg(strstr(body, "\nSubject: local\nFrom: joe\n"
	    "Message-ID: <") != NULL, "%s", body);
	ck_assert_ptr_nonnull(strstr(body, "\nDate: "));
	ck_assert_ptr_nonnull(strstr(body, "\n\nbody\n"));

	/* present ones are kept, not doubled */
	say("MAIL FROM:<joe>\r\nRCPT TO:<bob>\r\nDATA\r\n");
	expect("250 ");
	expect("250 ");
	expect("354 ");
	say("Message-ID: <x@y>\r\nDate: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
	    "\r\nbody\r\n.\r\n");
	expect("250 2.0.0 ");
	body = slurp(msgpath);
	ck_assert_ptr_null(strstr(body, "Message-ID: <x@y>\nMessage-ID"));
	ck_assert_ptr_eq(strstr(body, "Message-ID"), strstr(body,
	    "Message-ID: <x@y>"));
	ck_assert_ptr_eq(strstr(body, "\nDate:"), strstr(body,
	    "\nDate: Tue, 14 Nov"));
	say("QUIT\r\n");
	expect("221 ");
	wait_eof();
}
END_TEST

START_TEST(test_mask_src)
{
	char	*body;

	start(0, 1);
	say("HELO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<x@y>\r\nDATA\r\n");
	expect("250 ");
	expect("250 ");
	expect("250 ");
	expect("354 ");
	say("\r\n.\r\n");
	expect("250 ");
	body = slurp(msgpath);
	ck_assert_msg(strncmp(body, "Received: by test.example (smtpd) with "
	    "SMTP id ", strlen("Received: by test.example (smtpd) with "
	    "SMTP id ")) == 0, "%s", body);
	ck_assert_ptr_null(strstr(body, "192.0.2.1"));
	/* not a local submission: nothing added */
	ck_assert_ptr_null(strstr(body, "Message-ID"));
	say("QUIT\r\n");
	expect("221 ");
	wait_eof();
}
END_TEST

START_TEST(test_timeout)
{
	conf.timeout_command = 1;
	start(0, 0);
	expect("421 4.4.2 ");
	wait_eof();
}
END_TEST

START_TEST(test_half_close)
{
	start(0, 0);
	/* the client sends everything and shuts its side at once */
	say("HELO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<x@y>\r\nDATA\r\n"
	    "hi\r\n.\r\nQUIT\r\n");
	ck_assert_int_eq(shutdown(client, SHUT_WR), 0);
	expect("250 ");
	expect("250 ");
	expect("250 ");
	expect("354 ");
	expect("250 2.0.0 ");
	expect("221 ");
	wait_eof();
	ck_assert_int_eq(ncommit, 1);
}
END_TEST

START_TEST(test_disconnect_rollback)
{
	start(0, 0);
	say("HELO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<x@y>\r\nDATA\r\n"
	    "partial\r\n");
	expect("250 ");
	expect("250 ");
	expect("250 ");
	expect("354 ");
	close(client);
	client = -1;
	while (smtp_session_count() > 0)
		turn();
	ck_assert_int_eq(nrollback, 1);
	ck_assert_int_eq(last_rollback, last_msgid);
	ck_assert_int_eq(ncommit, 0);
}
END_TEST

START_TEST(test_orphan_create)
{
	conf.timeout_command = 1;
	start(0, 0);
	hold_create = 1;
	say("HELO c\r\nMAIL FROM:<a@b>\r\n");
	expect("250 ");
	/* waiting for the queue does not stop the session's own clock */
	expect("421 4.4.2 ");
	wait_eof();
	ck_assert_ptr_nonnull(held);
	/* the queue's late answer: its message is rolled back */
	ck_assert_int_eq(nrollback, 0);
	reply_queue(held);
	held = NULL;
	turn();
	ck_assert_int_eq(nrollback, 1);
	ck_assert_int_eq(last_rollback, last_msgid);
}
END_TEST

START_TEST(test_utf8)
{
	char	*body;

	start(0, 0);
	say("EHLO c\r\n");
	ck_assert_ptr_nonnull(get_reply());
	say("MAIL FROM:<j\xc3\xa9r\xc3\xb4me@example.net>\r\n");
	expect("553 5.6.7 ");
	say("MAIL FROM:<j\xc3\xa9r\xc3\xb4me@example.net> SMTPUTF8\r\n");
	expect("250 ");
	say("RCPT TO:<\xc3\xa9l\xc3\xa8ve@\xc3\xa9" "cole.example>\r\n");
	expect("250 ");
	ck_assert_str_eq(last_template.rcpt.user, "\xc3\xa9l\xc3\xa8ve");
	say("DATA\r\n");
	expect("354 ");
	say("Subject: caf\xc3\xa9\r\n\r\n\xe2\x82\xac\r\n.\r\n");
	expect("250 ");
	body = slurp(msgpath);
	ck_assert_ptr_nonnull(strstr(body, "with UTF8SMTP id"));
	ck_assert_ptr_nonnull(strstr(body, "\n\xe2\x82\xac\n"));
	say("QUIT\r\n");
	expect("221 ");
	wait_eof();
}
END_TEST

START_TEST(test_data_line_limits)
{
	char	 line[1100], *body;

	conf.max_message_size = 2000;
	start(0, 0);
	say("HELO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<x@y>\r\nDATA\r\n");
	expect("250 ");
	expect("250 ");
	expect("250 ");
	expect("354 ");
	/*
	 * 998 octets that start with a dot: 999 on the wire, the doubled
	 * dot not counted (RFC 5321 4.5.3.1.6), nor in the size (RFC 1870):
	 * 1000 + 1000 is exactly the limit.
	 */
	line[0] = line[1] = '.';
	memset(line + 2, 'd', 997);
	memcpy(line + 999, "\r\n", 3);
	say(line);
	memset(line, 'e', 998);
	memcpy(line + 998, "\r\n.\r\n", 6);
	say(line);
	expect("250 2.0.0 ");
	body = slurp(msgpath);
	ck_assert_ptr_nonnull(strstr(body, "\n.ddd"));
	ck_assert_ptr_nonnull(strstr(body, "ddd\neee"));
	ck_assert_int_eq(ncommit, 1);

	/* 999 octets after the doubled dot are too many */
	say("MAIL FROM:<a@b>\r\nRCPT TO:<x@y>\r\nDATA\r\n");
	expect("250 ");
	expect("250 ");
	expect("354 ");
	line[0] = line[1] = '.';
	memset(line + 2, 'd', 998);
	memcpy(line + 1000, "\r\n.\r\n", 6);
	say(line);
	expect("552 5.5.2 ");
	ck_assert_int_eq(ncommit, 1);
	say("QUIT\r\n");
	expect("221 ");
	wait_eof();
}
END_TEST

START_TEST(test_data_cr)
{
	start(0, 0);
	say("HELO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<x@y>\r\nDATA\r\n");
	expect("250 ");
	expect("250 ");
	expect("250 ");
	expect("354 ");
	say("Subject: cr\r\n\r\nbare\rcr\r\n.\r\n");
	expect("554 5.6.0 ");
	ck_assert_int_eq(ncommit, 0);
	ck_assert_int_eq(nrollback, 1);
	say("QUIT\r\n");
	expect("221 ");
	wait_eof();
}
END_TEST

/*
 * A client that trickles a line a byte at a time, never pausing, still
 * times out: the reply must come while it trickles.
 */
static void
trickle_until_closed(void)
{
	time_t	 deadline = time(NULL) + 30;

	while (rlen == 0 && !client_eof && time(NULL) <= deadline) {
		if (send(client, "N", 1, MSG_NOSIGNAL) != 1)
			break;
		turn();
	}
	ck_assert_msg(strncmp(rbuf, "421 4.4.2 ", 10) == 0,
	    "no timeout while the client trickled: \"%s\"", rbuf);
	wait_eof();
}

START_TEST(test_slow_client)
{
	conf.timeout_command = 1;
	start(0, 0);
	trickle_until_closed();
}
END_TEST

START_TEST(test_slow_client_data)
{
	conf.timeout_data = 1;
	start(0, 0);
	say("HELO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<x@y>\r\nDATA\r\n");
	expect("250 ");
	expect("250 ");
	expect("250 ");
	expect("354 ");
	trickle_until_closed();
	ck_assert_int_eq(nrollback, 1);
	ck_assert_int_eq(ncommit, 0);
}
END_TEST

/* RFC 5321 4.5.3.1.5: a reply line is at most 512 octets, CRLF included. */
START_TEST(test_reply_length)
{
	char	 name[254], helo[300], *r, *line, *eol;

	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	start(0, 0);
	listener.hostname = name;
	memcpy(helo, "EHLO ", 5);
	memset(helo + 5, 'h', 255);
	memcpy(helo + 260, "\r\n", 3);
	say(helo);
	ck_assert_ptr_nonnull(r = get_reply());
	ck_assert_int_eq(strncmp(r, "250-nnn", 7), 0);
	for (line = r; (eol = strstr(line, "\r\n")) != NULL; line = eol + 2)
		ck_assert_int_le(eol + 2 - line, 512);
	say("QUIT\r\n");
	expect("221 ");
	wait_eof();
	listener.hostname = "test.example";
}
END_TEST

static void
cleanup(void)
{
	char	 path[300];
	uint32_t i;

	if (tmpdir[0] == '\0')
		return;
	for (i = 1; i <= next_msgid; i++) {
		snprintf(path, sizeof(path), "%s/msg.%u", tmpdir, i);
		(void)unlink(path);
	}
	(void)rmdir(tmpdir);
}

int
main(void)
{
	Suite	*s = suite_create("smtp_session");
	TCase	*tc = tcase_create("session");
	SRunner	*sr;
	int	 failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_happy_path);
	tcase_add_test(tc, test_pipelining);
	tcase_add_test(tc, test_sequence_errors);
	tcase_add_test(tc, test_line_too_long);
	tcase_add_test(tc, test_limits);
	tcase_add_test(tc, test_too_many_errors);
	tcase_add_test(tc, test_data_refused);
	tcase_add_test(tc, test_queue_failures);
	tcase_add_test(tc, test_local_submission);
	tcase_add_test(tc, test_mask_src);
	tcase_add_test(tc, test_timeout);
	tcase_add_test(tc, test_half_close);
	tcase_add_test(tc, test_disconnect_rollback);
	tcase_add_test(tc, test_orphan_create);
	tcase_add_test(tc, test_utf8);
	tcase_add_test(tc, test_data_line_limits);
	tcase_add_test(tc, test_data_cr);
	tcase_add_test(tc, test_slow_client);
	tcase_add_test(tc, test_slow_client_data);
	tcase_add_test(tc, test_reply_length);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	/* no fork: the loop and the fake peers live in this process */
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	cleanup();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
