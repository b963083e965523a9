/*
 * test_filter_chain: the daemon's filter-chain driver (smtpd/filter_chain.c)
 * against the real filter programs, spawned with imsgproc on an event
 * base as the network process does: chain order, every query, data
 * through two filters, deadlines, a filter killed mid-message, and
 * filter-monkey under a stream of sessions.
 *
 * Run from the top of the tree (regress/run.sh does).  Every wait is a
 * condition polled with a generous deadline.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <check.h>
#include <errno.h>
#include <event2/event.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "smtpd-api.h"
#include "config.h"
#include "filter_chain.h"
#include "proc.h"

#define WAIT_SECONDS	60

/* proc.o (helper_path) wants the processes' entry points. */
void control_main(void) { abort(); }
void lookup_main(void) { abort(); }
void queue_main(void) { abort(); }
void scheduler_main(void) { abort(); }
void network_main(void) { abort(); }

/* One SMTP session as the test plays it. */
struct client {
	struct filter_session	*fs;
	uint64_t		 sid;
	int			 decided;
	struct filter_reply	 rep;
	char			**out;
	size_t			 nout;
	int			 backlog_high;
	int			 backlog_events;
	/* filter-monkey stream */
	int			 step;
	int			 sessions_left;
	int			 messages_ok;
	int			 refusals;
	int			 done;
	int			 bad;
	char			 why[256];
};

static struct event_base	*base;
static struct smtpd_config	*conf;
static char			 top[1024];
static char			 tmpdir[256];
static uint64_t			 next_sid = 0x1000;

static void	 run_for_ms(int);

static void
setup(void)
{
	ck_assert_ptr_nonnull(getcwd(top, sizeof(top)));
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_filter_chain.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	log_init(1, "test_filter_chain");
	log_setverbose(getenv("TEST_VERBOSE") != NULL);
	signal(SIGPIPE, SIG_IGN);
	ck_assert_ptr_nonnull(base = event_base_new());
}

static void
teardown(void)
{
	char	 cmd[PATH_MAX + 16];
	time_t	 end;

	filter_chain_shutdown();
	if (conf != NULL)
		config_free(conf);
	conf = NULL;
	/* Let imsgproc reap the filters: its timers go when they are. */
	for (end = time(NULL) + 10; time(NULL) < end &&
	    event_base_get_num_events(base, EVENT_BASE_COUNT_ADDED) > 0;)
		run_for_ms(20);
	event_base_free(base);
	base = NULL;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", tmpdir);
}

/* Runs the loop until *flag is set; 1 if it was, 0 at the deadline. */
static int
wait_for(const int *flag, int seconds)
{
	struct timeval	 tv = { 0, 20000 };
	time_t		 end = time(NULL) + seconds;

	while (!*flag && time(NULL) < end) {
		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
	}
	return *flag != 0;
}

static void
run_for_ms(int ms)
{
	struct timeval	 tv = { ms / 1000, (ms % 1000) * 1000 };

	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

static void
write_file(const char *name, const char *text)
{
	char	 path[PATH_MAX];
	FILE	*f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
}

/*
 * Parse a configuration (%T is the top of the tree, %W the scratch
 * directory) and start its filters.
 */
static void
start(const char *fmt)
{
	char		 text[8192], path[PATH_MAX];
	const char	*p;
	size_t		 n = 0;

	for (p = fmt; *p != '\0' && n < sizeof(text) - PATH_MAX; p++) {
		if (p[0] == '%' && (p[1] == 'T' || p[1] == 'W')) {
			n += strlcpy(text + n, p[1] == 'T' ? top : tmpdir,
			    sizeof(text) - n);
			p++;
		} else
			text[n++] = *p;
	}
	text[n] = '\0';
	write_file("smtpd.conf", text);
	snprintf(path, sizeof(path), "%s/smtpd.conf", tmpdir);
	conf = config_parse(path, NULL, stderr);
	ck_assert_msg(conf != NULL, "config:\n%s", text);
	ck_assert_int_eq(filter_chain_init(base, conf, helper_path), 0);
}

static const struct config_filter *
listener_filter(void)
{
	struct config_listener	*l = TAILQ_FIRST(&conf->listeners);

	ck_assert_ptr_nonnull(l);
	ck_assert_ptr_nonnull(l->filter);
	return l->filter;
}

/* ------------------------------------------------------------------ */
/* a client                                                            */
/* ------------------------------------------------------------------ */

static void
client_dataline(void *arg, const char *line)
{
	struct client	*c = arg;
	char		**grown;

	if ((grown = reallocarray(c->out, c->nout + 1,
	    sizeof(*c->out))) == NULL)
		abort();
	c->out = grown;
	if ((c->out[c->nout++] = strdup(line)) == NULL)
		abort();
}

static void
client_backlog(void *arg, int high)
{
	struct client	*c = arg;

	c->backlog_high = high;
	c->backlog_events++;
}

static void
client_clear(struct client *c)
{
	size_t	 i;

	for (i = 0; i < c->nout; i++)
		free(c->out[i]);
	free(c->out);
	c->out = NULL;
	c->nout = 0;
}

static void
client_open(struct client *c, const struct config_filter *f)
{
	static const struct filter_session_cb	 cb = {
		.dataline = client_dataline,
		.backlog = client_backlog,
	};

	c->sid = next_sid++;
	c->fs = filter_session_open(f, c->sid, &cb, c);
}

static void
client_close(struct client *c)
{
	filter_session_close(c->fs);
	c->fs = NULL;
	client_clear(c);
}

static void
on_decision(struct filter_session *fs, const struct filter_reply *rep,
    void *arg)
{
	struct client	*c = arg;

	ck_assert_ptr_eq(fs, c->fs);
	c->rep = *rep;
	c->decided = 1;
}

/* Waits for the decision; the callback is never synchronous. */
static const struct filter_reply *
decision(struct client *c)
{
	ck_assert_int_eq(c->decided, 0);
	ck_assert_int_eq(filter_session_busy(c->fs), 1);
	ck_assert_msg(wait_for(&c->decided, WAIT_SECONDS), "no decision");
	ck_assert_int_eq(filter_session_busy(c->fs), 0);
	c->decided = 0;
	return &c->rep;
}

static const struct filter_reply *
q_connect(struct client *c, const char *addr, const char *rdns)
{
	struct sockaddr_in	 local, remote;

	memset(&local, 0, sizeof(local));
	local.sin_family = AF_INET;
	local.sin_port = htons(25);
	inet_pton(AF_INET, "127.0.0.1", &local.sin_addr);
	memset(&remote, 0, sizeof(remote));
	remote.sin_family = AF_INET;
	remote.sin_port = htons(40000);
	ck_assert_int_eq(inet_pton(AF_INET, addr, &remote.sin_addr), 1);
	filter_connect(c->fs, (struct sockaddr *)&local,
	    (struct sockaddr *)&remote, rdns, 1, on_decision, c);
	return decision(c);
}

static const struct filter_reply *
q_helo(struct client *c, const char *name)
{
	filter_helo(c->fs, name, on_decision, c);
	return decision(c);
}

static const struct filter_reply *
q_mail(struct client *c, uint32_t msgid, const char *user, const char *dom)
{
	filter_mail(c->fs, msgid, user, dom, on_decision, c);
	return decision(c);
}

static const struct filter_reply *
q_rcpt(struct client *c, const char *user, const char *dom)
{
	filter_rcpt(c->fs, user, dom, on_decision, c);
	return decision(c);
}

static const struct filter_reply *
q_data(struct client *c)
{
	filter_data(c->fs, on_decision, c);
	return decision(c);
}

static const struct filter_reply *
q_eom(struct client *c)
{
	filter_data_end(c->fs, on_decision, c);
	return decision(c);
}

#define ck_accept(rep)	do {						\
	const struct filter_reply *r_ = (rep);				\
	ck_assert_msg(r_->status == FILTER_ACCEPT, "%s %u %s %s",	\
	    filter_status_name(r_->status), r_->code, r_->enhanced,	\
	    r_->message);						\
} while (0)

#define ck_reply(rep, st, cd, enh)	do {				\
	const struct filter_reply *r_ = (rep);				\
	ck_assert_msg(r_->status == (st) && r_->code == (cd) &&	\
	    strcmp(r_->enhanced, (enh)) == 0, "got %s %u %s %s",	\
	    filter_status_name(r_->status), r_->code, r_->enhanced,	\
	    r_->message);						\
} while (0)

/* connect, helo, mail, rcpt and data, all accepted. */
static void
client_up_to_data(struct client *c, uint32_t msgid)
{
	ck_accept(q_connect(c, "192.0.2.1", "mail.example.org"));
	ck_accept(q_helo(c, "mail.example.org"));
	ck_accept(q_mail(c, msgid, "alice", "example.org"));
	ck_accept(q_rcpt(c, "bob", "example.com"));
	ck_accept(q_data(c));
}

static void
send_line(struct filter_session *fs, const char *line)
{
	filter_data_line(fs, line, strlen(line));
}

static int
pid_gone(pid_t pid)
{
	return kill(pid, 0) == -1 && errno == ESRCH;
}

/* ------------------------------------------------------------------ */
/* tests                                                               */
/* ------------------------------------------------------------------ */

#define TRACE	"%T/filters/filter-trace/filter-trace"
#define REJECT	"%T/filters/filter-reject/filter-reject"
#define MONKEY	"%T/filters/filter-monkey/filter-monkey"
#define EXAMPLE	"%T/examples/filter-example/filter-example"
#define SLOW	"%T/regress/unit/helper_filter_slow"
#define LIAR	"%T/regress/unit/helper_filter_liar"

START_TEST(test_chain_order)
{
	struct client	 c = { 0 };

	start("filter one proc-exec \"" TRACE " -H 'X-One: 1'\"\n"
	    "filter two proc-exec \"" TRACE " -H 'X-Two: 2'\"\n"
	    "filter both chain { one, two }\n"
	    "listen on 127.0.0.1 port 2525 filter both\n");
	client_open(&c, listener_filter());
	client_up_to_data(&c, 0x11);
	send_line(c.fs, "Subject: order");
	send_line(c.fs, "");
	send_line(c.fs, "body");
	ck_accept(q_eom(&c));
	/* "one" ran first: "two" put its header on top of one's output. */
	ck_assert_uint_eq(c.nout, 5);
	ck_assert_str_eq(c.out[0], "X-Two: 2");
	ck_assert_str_eq(c.out[1], "X-One: 1");
	ck_assert_str_eq(c.out[2], "Subject: order");
	ck_assert_str_eq(c.out[3], "");
	ck_assert_str_eq(c.out[4], "body");
	filter_tx_commit(c.fs);

	/* A second message of the same session, and an empty one. */
	client_clear(&c);
	ck_accept(q_mail(&c, 0x12, "", ""));
	ck_accept(q_rcpt(&c, "postmaster", ""));
	ck_accept(q_data(&c));
	/* filter-trace stamps at the first line: nothing, counted right. */
	ck_accept(q_eom(&c));
	ck_assert_uint_eq(c.nout, 0);
	filter_tx_commit(c.fs);
	filter_reset(c.fs);
	client_close(&c);
}
END_TEST

START_TEST(test_reject_stops_chain)
{
	struct client	 c = { 0 };

	write_file("second.rules",
	    "sender @example.org 553 5.7.1 \"second says no\"\n");
	start("filter first proc-exec \"" EXAMPLE "\"\n"
	    "filter second proc-exec \"" REJECT " %W/second.rules\"\n"
	    "filter both chain { first, second }\n"
	    "listen on 127.0.0.1 filter both\n");
	client_open(&c, listener_filter());
	ck_accept(q_connect(&c, "192.0.2.1", ""));
	ck_accept(q_helo(&c, "client.example"));
	/* The first refuses: the second is not asked. */
	ck_reply(q_mail(&c, 1, "bob", "spam.example"), FILTER_REJECT, 550,
	    "5.7.1");
	ck_assert_str_eq(c.rep.message, "No mail from spam.example");
	filter_tx_rollback(c.fs);
	/* The first accepts: the second decides. */
	ck_reply(q_mail(&c, 2, "carol", "example.org"), FILTER_REJECT, 553,
	    "5.7.1");
	ck_assert_str_eq(c.rep.message, "second says no");
	filter_tx_rollback(c.fs);
	/* Both accept. */
	ck_accept(q_mail(&c, 3, "dave", "example.net"));
	ck_accept(q_rcpt(&c, "x", "example.net"));
	client_close(&c);
}
END_TEST

/* filter-reject's criteria, each at its own query, through the driver. */
START_TEST(test_every_query)
{
	struct client	 c = { 0 };

	write_file("rules",
	    "client 192.0.2.0/24 554 5.7.1 \"network blocked\"\n"
	    "helo localhost 550 5.7.1 \"You are not me\"\n"
	    "sender @spam.example\n"
	    "recipient noone@example.org 550 5.1.1 \"No such user\"\n"
	    "header '^X-Spam-Flag: *YES' 554 5.7.1 \"Looks like spam\"\n");
	start("filter trace proc-exec \"" TRACE " -n\"\n"
	    "filter rules proc-exec \"" REJECT " %W/rules\"\n"
	    "listen on 127.0.0.1 filter { trace, rules }\n");

	client_open(&c, listener_filter());
	ck_reply(q_connect(&c, "192.0.2.9", ""), FILTER_REJECT, 554, "5.7.1");
	client_close(&c);

	client_open(&c, listener_filter());
	ck_accept(q_connect(&c, "198.51.100.1", "mx.example.org"));
	ck_reply(q_helo(&c, "localhost"), FILTER_REJECT, 550, "5.7.1");
	ck_accept(q_helo(&c, "mx.example.org"));
	ck_reply(q_mail(&c, 1, "x", "spam.example"), FILTER_REJECT, 550,
	    "5.7.1");
	filter_tx_rollback(c.fs);
	ck_accept(q_mail(&c, 2, "x", "example.org"));
	ck_reply(q_rcpt(&c, "noone", "example.org"), FILTER_REJECT, 550,
	    "5.1.1");
	ck_accept(q_rcpt(&c, "someone", "example.org"));
	ck_accept(q_data(&c));
	send_line(c.fs, "Subject: hello");
	send_line(c.fs, "X-Spam-Flag: YES");
	send_line(c.fs, "");
	send_line(c.fs, "hi");
	ck_reply(q_eom(&c), FILTER_REJECT, 554, "5.7.1");
	filter_tx_rollback(c.fs);

	client_clear(&c);
	ck_accept(q_mail(&c, 3, "x", "example.org"));
	ck_accept(q_rcpt(&c, "someone", "example.org"));
	ck_accept(q_data(&c));
	send_line(c.fs, "Subject: hello");
	send_line(c.fs, "");
	send_line(c.fs, "X-Spam-Flag: YES is not a header here");
	ck_accept(q_eom(&c));
	ck_assert_uint_eq(c.nout, 3);
	filter_tx_commit(c.fs);
	client_close(&c);
}
END_TEST

/* Line i: its number, then letters up to a length between 0 and 997. */
static void
make_line(char line[1001], size_t i)
{
	size_t	 len = (i * 37) % 998, n;

	n = (size_t)snprintf(line, 1001, "%zu:", i);
	while (n < len)
		line[n++] = 'a' + i % 26;
	line[n] = '\0';
}

/*
 * Many lines through three stages, the middle one without the dataline
 * hook (the driver passes its lines itself), in batches and windows:
 * what comes out is what went in under two headers, counted exactly,
 * and the backlog told the session to pause and resume.
 */
START_TEST(test_lines_through_chain)
{
	struct client	 c = { 0 };
	char		 line[1001];
	size_t		 i, n = 20000;

	start("filter a proc-exec \"" TRACE " -H 'X-A: a'\"\n"
	    "filter b proc-exec \"" TRACE " -n\"\n"
	    "filter c proc-exec \"" TRACE " -H 'X-C: c'\"\n"
	    "listen on 127.0.0.1 filter { a, b, c }\n");
	client_open(&c, listener_filter());
	client_up_to_data(&c, 7);
	for (i = 0; i < n; i++) {
		make_line(line, i);
		send_line(c.fs, line);
	}
	/* Nothing ran yet: most of it is waiting in the chain. */
	ck_assert_int_eq(c.backlog_high, 1);
	ck_assert_uint_gt(filter_session_backlog(c.fs), FILTER_BACKLOG_HIGH);
	ck_accept(q_eom(&c));
	ck_assert_int_eq(c.backlog_high, 0);
	ck_assert_int_ge(c.backlog_events, 2);
	ck_assert_uint_eq(filter_session_backlog(c.fs), 0);
	ck_assert_uint_eq(c.nout, n + 2);
	ck_assert_str_eq(c.out[0], "X-C: c");
	ck_assert_str_eq(c.out[1], "X-A: a");
	for (i = 0; i < n; i++) {
		make_line(line, i);
		ck_assert_str_eq(c.out[i + 2], line);
	}
	filter_tx_commit(c.fs);
	client_close(&c);
}
END_TEST

/* A line the protocol cannot carry fails the message, never a 5xx. */
START_TEST(test_bad_line)
{
	struct client	 c = { 0 };

	start("filter a proc-exec \"" TRACE "\"\n"
	    "listen on 127.0.0.1 filter a\n");
	client_open(&c, listener_filter());
	client_up_to_data(&c, 7);
	send_line(c.fs, "one");
	send_line(c.fs, "bare\rCR");
	send_line(c.fs, "three");
	ck_reply(q_eom(&c), FILTER_TEMPFAIL, 451, "4.3.0");
	filter_tx_rollback(c.fs);
	client_clear(&c);
	ck_accept(q_mail(&c, 9, "a", "example.org"));
	ck_accept(q_data(&c));
	filter_data_line(c.fs, "a\0b", 3);
	ck_reply(q_eom(&c), FILTER_TEMPFAIL, 451, "4.3.0");
	filter_tx_rollback(c.fs);
	/* The next message is fine. */
	client_clear(&c);
	ck_accept(q_mail(&c, 8, "a", "example.org"));
	ck_accept(q_data(&c));
	send_line(c.fs, "one");
	ck_accept(q_eom(&c));
	ck_assert_uint_eq(c.nout, 1);
	client_close(&c);
}
END_TEST

/* Relative program names are looked up with helper_path(). */
START_TEST(test_relative_name)
{
	struct client	 c = { 0 };
	char		 dir[PATH_MAX];

	snprintf(dir, sizeof(dir), "%s/filters/filter-trace", top);
	ck_assert_int_eq(setenv("SMTPD_LIBEXEC", dir, 1), 0);
	start("filter t proc-exec \"filter-trace -H 'X-Rel: 1'\"\n"
	    "listen on 127.0.0.1 filter t\n");
	client_open(&c, listener_filter());
	client_up_to_data(&c, 1);
	send_line(c.fs, "x");
	ck_accept(q_eom(&c));
	ck_assert_uint_eq(c.nout, 2);
	ck_assert_str_eq(c.out[0], "X-Rel: 1");
	client_close(&c);

	/* A program that does not exist is a start-up error. */
	filter_chain_shutdown();
	config_free(conf);
	conf = NULL;
	write_file("bad.conf", "filter t proc-exec \"no-such-filter\"\n"
	    "listen on 127.0.0.1 filter t\n");
	{
		char path[PATH_MAX];

		snprintf(path, sizeof(path), "%s/bad.conf", tmpdir);
		ck_assert_ptr_nonnull(conf = config_parse(path, NULL, stderr));
		ck_assert_int_eq(filter_chain_init(base, conf, helper_path), -1);
	}
}
END_TEST

/* The driver checks what a filter says against what it did. */
START_TEST(test_protocol_checks)
{
	struct client		 c = { 0 };
	struct config_listener	*l;
	const char		*lines[] = { "one", "two", "three" };
	size_t			 i;
	int			 n = 0;

	start("filter count proc-exec \"" LIAR " count\"\n"
	    "filter ack proc-exec \"" LIAR " ack\"\n"
	    "filter dataout proc-exec \"" LIAR " dataout\"\n"
	    "filter malformed proc-exec \"" LIAR " malformed\"\n"
	    "listen on 127.0.0.1 port 1 filter count\n"
	    "listen on 127.0.0.1 port 2 filter ack\n"
	    "listen on 127.0.0.1 port 3 filter dataout\n"
	    "listen on 127.0.0.1 port 4 filter malformed\n");
	TAILQ_FOREACH(l, &conf->listeners, entry) {
		client_open(&c, l->filter);
		if (n++ == 3) {
			/* A reply that does not decode: a failed filter. */
			ck_accept(q_connect(&c, "192.0.2.1", ""));
			ck_reply(q_mail(&c, 1, "a", "example.org"),
			    FILTER_TEMPFAIL, 451, "4.7.1");
			client_close(&c);
			break;
		}
		client_up_to_data(&c, 1);
		for (i = 0; i < 3; i++)
			send_line(c.fs, lines[i]);
		/* count: one line more than it sent; ack: a batch not all
		 * taken; dataout: lines for a session it does not know. */
		ck_reply(q_eom(&c), FILTER_TEMPFAIL, 451, "4.3.0");
		if (n == 3)
			ck_assert_uint_eq(c.nout, 0);
		filter_tx_rollback(c.fs);
		client_close(&c);
	}
	ck_assert_int_eq(n, 4);
}
END_TEST

/* Late decisions (a timer in the filter): 451 or 421, then it works. */
START_TEST(test_query_timeout)
{
	struct client	 c = { 0 }, d = { 0 };

	start("filter m proc-exec \"" SLOW " -d 60000 mail\" timeout 5s\n"
	    "filter k proc-exec \"" SLOW " -d 60000 connect\" timeout 5s\n"
	    "filter e proc-exec \"" SLOW " -d 60000 eom\" timeout 5s\n"
	    "filter t proc-exec \"" TRACE "\"\n"
	    "listen on 127.0.0.1 port 1 filter { t, m }\n"
	    "listen on 127.0.0.1 port 2 filter k\n"
	    "listen on 127.0.0.1 port 3 filter { e, t }\n");
	client_open(&c, listener_filter());
	ck_accept(q_connect(&c, "192.0.2.1", ""));
	ck_accept(q_helo(&c, "a.example"));
	ck_reply(q_mail(&c, 1, "a", "example.org"), FILTER_TEMPFAIL, 451,
	    "4.7.1");
	filter_tx_rollback(c.fs);
	/* Other sessions carry on meanwhile. */
	client_open(&d, listener_filter());
	client_up_to_data(&d, 2);
	send_line(d.fs, "x");
	ck_accept(q_eom(&d));
	client_close(&d);
	client_close(&c);

	/* At connect: 421 and the session is closed. */
	client_open(&c, TAILQ_NEXT(TAILQ_FIRST(&conf->listeners),
	    entry)->filter);
	ck_reply(q_connect(&c, "192.0.2.1", ""), FILTER_DISCONNECT, 421,
	    "4.7.0");
	client_close(&c);
	client_open(&c, TAILQ_NEXT(TAILQ_FIRST(&conf->listeners),
	    entry)->filter);
	ck_accept(q_connect(&c, "192.0.2.1", ""));
	client_close(&c);

	/* At the end of a message: 451 4.3.0, then the next one goes. */
	client_open(&c, TAILQ_LAST(&conf->listeners, listener_list)->filter);
	client_up_to_data(&c, 4);
	send_line(c.fs, "x");
	ck_reply(q_eom(&c), FILTER_TEMPFAIL, 451, "4.3.0");
	filter_tx_rollback(c.fs);
	client_close(&c);
	/* (That session's EOM is still pending in the filter, which
	 * refuses another query of it until it decides: a new session.) */
	client_open(&c, TAILQ_LAST(&conf->listeners, listener_list)->filter);
	client_up_to_data(&c, 5);
	send_line(c.fs, "y");
	ck_accept(q_eom(&c));
	ck_assert_uint_eq(c.nout, 1);
	ck_assert_str_eq(c.out[0], "y");
	client_close(&c);
}
END_TEST

/* A filter stuck in a data line: 451 4.3.0, then the next one works. */
START_TEST(test_dataline_timeout)
{
	struct client	 c = { 0 };
	struct stat	 sb;
	char		 done[PATH_MAX];
	int		 awake = 0;
	time_t		 end;

	start("filter s proc-exec \"" SLOW " -b -d 8000 -w %W/awake "
	    "dataline\" timeout 5s\n"
	    "listen on 127.0.0.1 filter s\n");
	client_open(&c, listener_filter());
	client_up_to_data(&c, 1);
	/* Three batches out when the deadlines pass, in any order. */
	send_line(c.fs, "one");
	run_for_ms(50);
	send_line(c.fs, "two");
	run_for_ms(50);
	send_line(c.fs, "three");
	ck_reply(q_eom(&c), FILTER_TEMPFAIL, 451, "4.3.0");
	filter_tx_rollback(c.fs);
	client_close(&c);

	/* Once it is awake again, a new session goes through. */
	snprintf(done, sizeof(done), "%s/awake", tmpdir);
	for (end = time(NULL) + WAIT_SECONDS; !awake && time(NULL) < end;) {
		run_for_ms(50);
		awake = stat(done, &sb) == 0;
	}
	ck_assert_msg(awake, "the slow filter never woke up");
	client_open(&c, listener_filter());
	client_up_to_data(&c, 2);
	send_line(c.fs, "three");
	ck_accept(q_eom(&c));
	ck_assert_uint_eq(c.nout, 1);
	ck_assert_str_eq(c.out[0], "three");
	client_close(&c);
}
END_TEST

/*
 * Killed mid-message: a 4xx for the message, never a 5xx; the session
 * it lost gets 421 at its next query; the filter is restarted and a
 * new session works.
 */
START_TEST(test_killed_mid_message)
{
	struct client	 c = { 0 }, d = { 0 };
	const struct filter_reply *rep;
	const struct config_filter *f;
	pid_t		 pid, pid2;
	int		 gone = 0, i;
	time_t		 end;

	start("filter t proc-exec \"" TRACE "\"\n"
	    "filter u proc-exec \"" TRACE " -H 'X-U: u'\"\n"
	    "listen on 127.0.0.1 filter { t, u }\n");
	f = listener_filter();
	client_open(&c, f);
	client_up_to_data(&c, 1);
	for (i = 0; i < 10; i++)
		send_line(c.fs, "before");
	/* Wait until those lines went through both filters. */
	for (end = time(NULL) + WAIT_SECONDS; c.nout < 11 &&
	    time(NULL) < end;)
		run_for_ms(20);
	ck_assert_uint_eq(c.nout, 11);

	pid = filter_chain_pid(f->chain[0]);
	ck_assert_int_gt(pid, 0);
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	for (end = time(NULL) + WAIT_SECONDS; !gone && time(NULL) < end;) {
		run_for_ms(20);
		gone = pid_gone(pid) && filter_chain_pid(f->chain[0]) > 0 &&
		    filter_chain_pid(f->chain[0]) != pid;
	}
	ck_assert(gone);
	send_line(c.fs, "after");
	rep = q_eom(&c);
	ck_assert_msg(rep->code >= 400 && rep->code < 500 &&
	    rep->status != FILTER_ACCEPT && rep->status != FILTER_REJECT,
	    "got %s %u", filter_status_name(rep->status), rep->code);
	filter_tx_rollback(c.fs);
	/* The restarted filter never saw this session. */
	ck_reply(q_mail(&c, 2, "a", "example.org"), FILTER_DISCONNECT, 421,
	    "4.7.0");
	client_close(&c);

	/* The restarted filter serves a new session. */
	client_open(&d, f);
	client_up_to_data(&d, 3);
	send_line(d.fs, "new");
	ck_accept(q_eom(&d));
	ck_assert_uint_eq(d.nout, 2);
	ck_assert_str_eq(d.out[0], "X-U: u");
	ck_assert_str_eq(d.out[1], "new");
	pid2 = filter_chain_pid(f->chain[0]);
	ck_assert_int_gt(pid2, 0);
	ck_assert_int_ne(pid2, pid);
	client_close(&d);
}
END_TEST

/* ------------------------------------------------------------------ */
/* filter-monkey under a stream of sessions                            */
/* ------------------------------------------------------------------ */

#define MONKEY_STREAMS	4
#define MONKEY_SESSIONS	12
#define MONKEY_LINES	300

static const struct config_filter *monkey_chain;
static void	 monkey_step(struct client *);

static void
monkey_decision(struct filter_session *fs, const struct filter_reply *rep,
    void *arg)
{
	struct client	*c = arg;

	c->rep = *rep;
	if (rep->status == FILTER_ACCEPT) {
		c->step++;
		monkey_step(c);
		return;
	}
	/* Never a 5xx; whatever else, this session is over. */
	if (rep->status == FILTER_REJECT || rep->code < 400 ||
	    rep->code >= 500) {
		snprintf(c->why, sizeof(c->why), "step %d: %s %u %s", c->step,
		    filter_status_name(rep->status), rep->code, rep->enhanced);
		c->bad++;
	}
	c->refusals++;
	client_close(c);
	c->step = 0;
	monkey_step(c);
}

static void
monkey_step(struct client *c)
{
	struct sockaddr_in	 sin;
	char			 line[64];
	size_t			 i;
	int			 ok;

	switch (c->step) {
	case 0:
		if (c->sessions_left-- == 0) {
			c->done = 1;
			return;
		}
		client_open(c, monkey_chain);
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		inet_pton(AF_INET, "192.0.2.3", &sin.sin_addr);
		filter_connect(c->fs, (struct sockaddr *)&sin,
		    (struct sockaddr *)&sin, "", -1, monkey_decision, c);
		break;
	case 1:
		filter_helo(c->fs, "monkey.example", monkey_decision, c);
		break;
	case 2:
		filter_mail(c->fs, (uint32_t)c->sid, "a", "example.org",
		    monkey_decision, c);
		break;
	case 3:
		filter_rcpt(c->fs, "b", "example.org", monkey_decision, c);
		break;
	case 4:
		filter_data(c->fs, monkey_decision, c);
		break;
	case 5:
		for (i = 0; i < MONKEY_LINES; i++) {
			snprintf(line, sizeof(line), "line %zu of %016llx", i,
			    (unsigned long long)c->sid);
			send_line(c->fs, line);
		}
		filter_data_end(c->fs, monkey_decision, c);
		break;
	case 6:
		/* Accepted: every line there, in order, under the header. */
		ok = c->nout == MONKEY_LINES + 1 &&
		    strcmp(c->out[0], "X-Monkey-Seen: yes") == 0;
		for (i = 0; ok && i < MONKEY_LINES; i++) {
			snprintf(line, sizeof(line), "line %zu of %016llx", i,
			    (unsigned long long)c->sid);
			ok = strcmp(c->out[i + 1], line) == 0;
		}
		if (!ok) {
			snprintf(c->why, sizeof(c->why), "message of %016llx "
			    "came out with %zu lines", (unsigned long long)
			    c->sid, c->nout);
			c->bad++;
		}
		c->messages_ok++;
		filter_tx_commit(c->fs);
		client_close(c);
		c->step = 0;
		monkey_step(c);
		break;
	}
}

START_TEST(test_monkey_stream)
{
	struct client	 c[MONKEY_STREAMS];
	int		 i, all = 0, ok = 0, refused = 0;
	time_t		 end;

	start("filter monkey proc-exec \"" MONKEY " -f 15 -H 30 -l 0-20 "
	    "-s 4242\"\n"
	    "filter trace proc-exec \"" TRACE " -H 'X-Monkey-Seen: yes'\"\n"
	    "listen on 127.0.0.1 filter { monkey, trace }\n");
	monkey_chain = listener_filter();
	memset(c, 0, sizeof(c));
	for (i = 0; i < MONKEY_STREAMS; i++) {
		c[i].sessions_left = MONKEY_SESSIONS;
		monkey_step(&c[i]);
	}
	for (end = time(NULL) + 3 * WAIT_SECONDS; !all && time(NULL) < end;) {
		run_for_ms(50);
		for (all = 1, i = 0; i < MONKEY_STREAMS; i++)
			all = all && c[i].done;
	}
	ck_assert_msg(all, "the stream did not finish");
	for (i = 0; i < MONKEY_STREAMS; i++) {
		ck_assert_msg(c[i].bad == 0, "stream %d: %s", i, c[i].why);
		ok += c[i].messages_ok;
		refused += c[i].refusals;
	}
	ck_assert_int_eq(ok + refused, MONKEY_STREAMS * MONKEY_SESSIONS);
	/* With 15% failures at each of six steps, both kinds happen. */
	ck_assert_int_gt(ok, 0);
	ck_assert_int_gt(refused, 0);
}
END_TEST

static Suite *
filter_chain_suite(void)
{
	Suite	*s = suite_create("filter_chain");
	TCase	*tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_chain_order);
	tcase_add_test(tc, test_reject_stops_chain);
	tcase_add_test(tc, test_every_query);
	tcase_add_test(tc, test_lines_through_chain);
	tcase_add_test(tc, test_bad_line);
	tcase_add_test(tc, test_relative_name);
	tcase_add_test(tc, test_protocol_checks);
	tcase_add_test(tc, test_query_timeout);
	tcase_add_test(tc, test_dataline_timeout);
	tcase_add_test(tc, test_killed_mid_message);
	tcase_add_test(tc, test_monkey_stream);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(filter_chain_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
