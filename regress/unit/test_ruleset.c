/*
 * test_ruleset.c: matching the rules of a real smtpd.conf (parsed by
 * config_parse) against transactions, with the tables served by real
 * table-static helpers through imsgproc (lookup_tables.c), and a few
 * cases through an in-memory table backend that checks the walk's use
 * of the lookup_table_ops interface (concurrency, cancel).
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <check.h>
#include <event.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "smtpd-api.h"
#include "config.h"
#include "envelope.h"
#include "frames.h"
#include "lookup.h"
#include "ruleset.h"

static struct event_base	*base;
static struct event		*tick;
static struct smtpd_config	*conf;
static struct lookup_tables	*tables;
static struct lookup_env	 env;
static char			 dir[64];

/* What one transaction looks like to the ruleset. */
struct tx {
	const char	*client;	/* numeric address, NULL: socket */
	const char	*rdns;
	const char	*helo;
	const char	*sender;
	const char	*rcpt;
	const char	*tag;
	int		 local;
	uint32_t	 flags;
};

struct answer {
	int			 done;
	int			 result;
	struct config_rule	*rule;
};

/* Helpers run from the top of the tree: tables/NAME/NAME. */
static char *
resolve(const char *name, char *buf, size_t bufsz)
{
	snprintf(buf, bufsz, "tables/%s/%s", name, name);
	return buf;
}

static void
on_tick(int fd, short ev, void *arg)
{
}

static void
setup(void)
{
	struct timeval	 tv = { 0, 200000 };

	log_init(1, "test_ruleset");
	if (getenv("TEST_TRACE") != NULL) {
		log_setverbose(1);
		log_settrace(TRACE_ALL);
	}
	strlcpy(dir, "/tmp/test_ruleset.XXXXXX", sizeof(dir));
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_ptr_nonnull(base = event_base_new());
	/* The loop never sleeps forever, whatever a test waits for. */
	ck_assert_ptr_nonnull(tick = event_new(base, -1, EV_PERSIST, on_tick,
	    NULL));
	event_add(tick, &tv);
	memset(&env, 0, sizeof(env));
	env.base = base;
	conf = NULL;
	tables = NULL;
}

static void
teardown(void)
{
	char	 cmd[128];

	ruleset_local_free(&env);
	lookup_tables_free(tables);
	/* Until the helpers are reaped: nothing else is left. */
	event_free(tick);
	event_base_dispatch(base);
	if (conf != NULL)
		config_free(conf);
	event_base_free(base);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* Parse text as smtpd.conf and start its tables. */
static void
load(const char *text)
{
	char	 path[128];
	FILE	*fp;

	snprintf(path, sizeof(path), "%s/smtpd.conf", dir);
	ck_assert_ptr_nonnull(fp = fopen(path, "w"));
	fputs(text, fp);
	ck_assert_int_eq(fclose(fp), 0);
	ck_assert_ptr_nonnull(conf = config_parse(path, NULL, stderr));
	ck_assert_ptr_nonnull(tables = lookup_tables_start(base, conf,
	    resolve));
	lookup_tables_ops(tables, &env.tables);
	env.conf = conf;
	env.userbase = lookup_tables_getpwnam(tables);
	ck_assert_int_eq(ruleset_local_add(&env, "localhost"), 0);
	ck_assert_int_eq(ruleset_local_add(&env, "mx.test.example"), 0);
	ck_assert_int_eq(ruleset_local_add(&env, "[127.0.0.1]"), 0);
	ck_assert_int_eq(ruleset_local_add(&env, "[IPv6:::1]"), 0);
}

static void
on_answer(int result, struct config_rule *rule, void *arg)
{
	struct answer	*a = arg;

	ck_assert_int_eq(a->done, 0);
	a->done = 1;
	a->result = result;
	a->rule = rule;
}

static void
wait_done(int *done)
{
	time_t	 deadline = time(NULL) + 60;

	while (!*done) {
		ck_assert_msg(time(NULL) < deadline, "no answer in 60s");
		event_base_loop(base, EVLOOP_ONCE);
	}
}

static void
tx_envelope(const struct tx *t, struct envelope *e, struct mailaddr *rcpt)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)&e->ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&e->ss;

	memset(e, 0, sizeof(*e));
	if (t->client != NULL && strchr(t->client, ':') != NULL) {
		sin6->sin6_family = AF_INET6;
		ck_assert_int_eq(inet_pton(AF_INET6, t->client,
		    &sin6->sin6_addr), 1);
	} else if (t->client != NULL) {
		sin->sin_family = AF_INET;
		ck_assert_int_eq(inet_pton(AF_INET, t->client,
		    &sin->sin_addr), 1);
	}
	strlcpy(e->hostname, t->rdns ? t->rdns : "unknown",
	    sizeof(e->hostname));
	strlcpy(e->helo, t->helo ? t->helo : "", sizeof(e->helo));
	ck_assert_int_eq(mailaddr_from_text(&e->sender,
	    t->sender ? t->sender : ""), 0);
	ck_assert_int_eq(mailaddr_from_text(rcpt, t->rcpt), 0);
	e->rcpt = *rcpt;
	e->flags = t->flags;
}

/* The line of the rule that matched, 0 no match, -1 temporary failure. */
static int
match(const struct tx *t)
{
	struct ruleset_input	 in;
	struct envelope		 e;
	struct mailaddr		 rcpt;
	struct answer		 a;

	tx_envelope(t, &e, &rcpt);
	memset(&in, 0, sizeof(in));
	in.env = &e;
	in.rcpt = &rcpt;
	in.tag = t->tag;
	in.local = t->local;
	memset(&a, 0, sizeof(a));
	ck_assert_ptr_nonnull(ruleset_match(&env, &in, on_answer, &a));
	/* Never answered from inside the call. */
	ck_assert_int_eq(a.done, 0);
	wait_done(&a.done);
	if (a.result == RULESET_TEMPFAIL)
		return -1;
	if (a.result == RULESET_NOMATCH) {
		ck_assert_ptr_null(a.rule);
		return 0;
	}
	ck_assert_int_eq(a.result, RULESET_MATCH);
	return a.rule->where.line;
}

START_TEST(test_first_match_and_local)
{
	struct tx	 t;

	load("action \"local\" mbox\n"
	    "action \"other\" mbox\n"
	    "match for local action \"local\"\n"
	    "match from any for any action \"other\"\n");

	memset(&t, 0, sizeof(t));
	t.client = "127.0.0.1";
	t.local = 1;
	t.rcpt = "gilles@localhost";
	ck_assert_int_eq(match(&t), 3);
	/* from defaults to local: a remote client skips rule 3 */
	t.client = "192.0.2.1";
	t.local = 0;
	ck_assert_int_eq(match(&t), 4);
	t.client = "127.0.0.1";
	t.local = 1;
	t.rcpt = "gilles@remote.example";
	ck_assert_int_eq(match(&t), 4);
	/* the server name, any case, with a trailing dot */
	t.rcpt = "gilles@MX.Test.Example.";
	ck_assert_int_eq(match(&t), 3);
	/* address literals of this host */
	t.rcpt = "gilles@[127.0.0.1]";
	ck_assert_int_eq(match(&t), 3);
	t.rcpt = "gilles@[IPv6:0:0::1]";
	ck_assert_int_eq(match(&t), 3);
	t.rcpt = "gilles@[192.0.2.55]";
	ck_assert_int_eq(match(&t), 4);
	/* RCPT TO:<postmaster> */
	t.rcpt = "postmaster";
	ck_assert_int_eq(match(&t), 3);
}
END_TEST

START_TEST(test_no_match)
{
	struct tx	 t;

	load("action \"local\" mbox\n"
	    "match for local action \"local\"\n");
	memset(&t, 0, sizeof(t));
	t.client = "192.0.2.1";
	t.rcpt = "someone@remote.example";
	ck_assert_int_eq(match(&t), 0);
}
END_TEST

START_TEST(test_table_criteria)
{
	struct tx	 t;

	load("action \"a\" mbox\n"
	    "match from src { 192.0.2.0/24, \"[2001:db8::]/32\" } "
	    "for domain { example.org, \"*.example.net\" } action \"a\"\n"
	    "match from any ! for domain { example.org } "
	    "mail-from { \"@good.example\" } action \"a\"\n"
	    "match from any for rcpt-to regex { \"^admin[0-9]+@\" } "
	    "action \"a\"\n"
	    "match from any for any helo { mx.example.com } tag { \"in\" } "
	    "action \"a\"\n"
	    "match from any for any reject\n");

	memset(&t, 0, sizeof(t));
	t.client = "192.0.2.7";
	t.rcpt = "u@sub.example.net";
	ck_assert_int_eq(match(&t), 2);
	t.client = "2001:db8::25";
	t.rcpt = "u@EXAMPLE.org";
	ck_assert_int_eq(match(&t), 2);

	/* negated domain: rule 3 is for the others */
	t.client = "198.51.100.1";
	t.sender = "x@good.example";
	t.rcpt = "u@example.org";
	ck_assert_int_eq(match(&t), 6);
	t.rcpt = "u@other.example";
	ck_assert_int_eq(match(&t), 3);
	t.sender = "x@bad.example";
	ck_assert_int_eq(match(&t), 6);

	/* a regex over the whole recipient */
	t.rcpt = "Admin12@anywhere.example";
	ck_assert_int_eq(match(&t), 4);
	t.rcpt = "admin@anywhere.example";
	ck_assert_int_eq(match(&t), 6);

	/* helo and the listener's tag */
	t.helo = "mx.example.com";
	t.tag = "in";
	ck_assert_int_eq(match(&t), 5);
	t.tag = "out";
	ck_assert_int_eq(match(&t), 6);
	t.tag = NULL;
	ck_assert_int_eq(match(&t), 6);
}
END_TEST

/*
 * An IPv4 client seen through an IPv6 socket (::ffff:192.0.2.7) is
 * the IPv4 address to every table, a regex included; negated
 * criteria and rule order as usual.
 */
START_TEST(test_src_mapped_and_negated)
{
	struct tx	 t;

	load("action \"a\" mbox\n"
	    "match from src regex { \"^192[.]0[.]2[.]\" } for any "
	    "action \"a\"\n"
	    "match from src { 198.51.100.0/24, \"2001:db8::/32\" } "
	    "! for domain { example.org } action \"a\"\n"
	    "match ! from src { 203.0.113.0/24 } for domain { example.org } "
	    "action \"a\"\n"
	    "match from any for any reject\n");

	memset(&t, 0, sizeof(t));
	t.rcpt = "u@example.org";
	t.client = "192.0.2.7";
	ck_assert_int_eq(match(&t), 2);
	t.client = "::ffff:192.0.2.7";
	ck_assert_int_eq(match(&t), 2);
	t.client = "::ffff:198.51.100.9";
	t.rcpt = "u@other.example";
	ck_assert_int_eq(match(&t), 3);
	t.client = "2001:db8::5";
	ck_assert_int_eq(match(&t), 3);
	t.rcpt = "u@example.org";
	ck_assert_int_eq(match(&t), 4);
	t.client = "::ffff:203.0.113.1";
	ck_assert_int_eq(match(&t), 5);
	t.client = "203.0.113.1";
	ck_assert_int_eq(match(&t), 5);
}
END_TEST

START_TEST(test_origin_criteria)
{
	struct tx	 t;

	load("action \"a\" mbox\n"
	    "match from socket for any action \"a\"\n"
	    "match from rdns { \"*.trusted.example\" } for any action \"a\"\n"
	    "match from rdns for domain { rdns.example } action \"a\"\n"
	    "match ! from local for any action \"a\"\n"
	    "match from local for any action \"a\"\n");

	memset(&t, 0, sizeof(t));
	t.client = NULL;
	t.rdns = "localhost";
	t.flags = EF_LOCAL;
	t.rcpt = "u@any.example";
	ck_assert_int_eq(match(&t), 2);

	t.flags = 0;
	t.client = "203.0.113.9";
	t.rdns = "mail.trusted.example";
	ck_assert_int_eq(match(&t), 3);
	/* no name: rdns rules do not apply */
	t.rdns = "unknown";
	t.rcpt = "u@rdns.example";
	ck_assert_int_eq(match(&t), 5);
	t.rdns = "host.any.example";
	ck_assert_int_eq(match(&t), 4);

	t.client = "127.0.0.1";
	t.local = 1;
	t.rdns = "localhost";
	t.rcpt = "u@other.example";
	ck_assert_int_eq(match(&t), 6);

	/* mail smtpd makes itself (a bounce): local, not the socket */
	t.client = NULL;
	t.local = 0;
	t.flags = EF_INTERNAL | EF_BOUNCE;
	ck_assert_int_eq(match(&t), 6);
}
END_TEST

START_TEST(test_auth_and_tls_never_yet)
{
	struct tx	 t;

	load("action \"a\" mbox\n"
	    "match from any for any auth action \"a\"\n"
	    "match from any for any tls action \"a\"\n"
	    "match from any for any ! tls action \"a\"\n");
	memset(&t, 0, sizeof(t));
	t.client = "192.0.2.1";
	t.rcpt = "u@example.org";
	ck_assert_int_eq(match(&t), 4);
	/* a bare auth only asks whether the session authenticated */
	t.flags = EF_AUTHENTICATED;
	ck_assert_int_eq(match(&t), 2);
}
END_TEST

START_TEST(test_table_failure_is_temporary)
{
	struct tx	 t;

	load("table broken \"/nonexistent/table\"\n"
	    "action \"a\" mbox\n"
	    "match from any for domain <broken> action \"a\"\n"
	    "match from any for any action \"a\"\n");
	memset(&t, 0, sizeof(t));
	t.client = "192.0.2.1";
	t.rcpt = "u@example.org";
	/* never falls through to the next rule */
	ck_assert_int_eq(match(&t), -1);
}
END_TEST

START_TEST(test_cancel_real_tables)
{
	struct ruleset_input	 in;
	struct envelope		 e;
	struct mailaddr		 rcpt;
	struct answer		 a, b;
	struct tx		 t;

	load("action \"a\" mbox\n"
	    "match from any for domain { example.org } action \"a\"\n");
	memset(&t, 0, sizeof(t));
	t.client = "192.0.2.1";
	t.rcpt = "u@example.org";
	tx_envelope(&t, &e, &rcpt);
	memset(&in, 0, sizeof(in));
	in.env = &e;
	in.rcpt = &rcpt;
	memset(&a, 0, sizeof(a));
	ruleset_cancel(ruleset_match(&env, &in, on_answer, &a));
	/* A later walk completes; the cancelled one never answers. */
	memset(&b, 0, sizeof(b));
	ck_assert_ptr_nonnull(ruleset_match(&env, &in, on_answer, &b));
	wait_done(&b.done);
	ck_assert_int_eq(b.result, RULESET_MATCH);
	ck_assert_int_eq(a.done, 0);
}
END_TEST

/* ---- an in-memory backend behind lookup_table_ops ---- */

struct mem_request {
	lookup_table_cb	 cb;
	void		*arg;
	int		 result;
	struct event	*ev;
	int		 cancelled;
};

static int	 mem_requests, mem_cancels, mem_hold;
static struct mem_request *mem_held;

static void
mem_on_event(int fd, short ev, void *arg)
{
	struct mem_request	*r = arg;

	r->cb(r->result, NULL, r->arg);
	event_free(r->ev);
	free(r);
}

/* "yes*" keys are found; the answer comes from the loop. */
static void *
mem_request(void *ctx, uint32_t type, struct config_table *t,
    enum table_service service, const char *key, lookup_table_cb cb,
    void *arg)
{
	struct mem_request	*r;

	ck_assert_int_eq(type, IMSG_TABLE_CHECK);
	ck_assert_ptr_nonnull(r = calloc(1, sizeof(*r)));
	r->cb = cb;
	r->arg = arg;
	r->result = strncmp(key, "yes", 3) == 0 ? 1 : 0;
	mem_requests++;
	if (mem_hold) {
		mem_held = r;
		return r;
	}
	ck_assert_ptr_nonnull(r->ev = event_new(base, -1, 0, mem_on_event,
	    r));
	event_active(r->ev, EV_TIMEOUT, 1);
	return r;
}

static void
mem_cancel(void *ctx, void *handle)
{
	struct mem_request	*r = handle;

	mem_cancels++;
	ck_assert_ptr_eq(r, mem_held);
	free(r);
	mem_held = NULL;
}

static void
load_mem(const char *text)
{
	load(text);
	env.tables.request = mem_request;
	env.tables.cancel = mem_cancel;
	env.tables.ctx = NULL;
	mem_requests = mem_cancels = mem_hold = 0;
	mem_held = NULL;
}

START_TEST(test_many_walks_at_once)
{
	struct ruleset_input	 in[40];
	struct envelope		 e[40];
	struct mailaddr		 rcpt[40];
	struct answer		 a[40];
	struct tx		 t;
	char			 addr[64];
	int			 i, all;

	load_mem("action \"a\" mbox\n"
	    "match from any for rcpt-to { x } helo { y } action \"a\"\n"
	    "match from any for any action \"a\"\n");
	memset(&t, 0, sizeof(t));
	t.client = "192.0.2.1";
	for (i = 0; i < 40; i++) {
		/* even ones pass both table criteria of rule 2 */
		snprintf(addr, sizeof(addr), "%s%d@example.org",
		    i % 2 ? "no" : "yes", i);
		t.rcpt = addr;
		t.helo = i % 4 == 2 ? "nohelo" : "yeshelo";
		tx_envelope(&t, &e[i], &rcpt[i]);
		memset(&in[i], 0, sizeof(in[i]));
		in[i].env = &e[i];
		in[i].rcpt = &rcpt[i];
		memset(&a[i], 0, sizeof(a[i]));
		ck_assert_ptr_nonnull(ruleset_match(&env, &in[i], on_answer,
		    &a[i]));
	}
	do {
		event_base_loop(base, EVLOOP_ONCE);
		for (all = 1, i = 0; i < 40; i++)
			all &= a[i].done;
	} while (!all);
	for (i = 0; i < 40; i++)
		ck_assert_int_eq(a[i].rule->where.line,
		    i % 2 == 0 && i % 4 != 2 ? 2 : 3);
	/* odd ones stop at rcpt-to: helo is not asked */
	ck_assert_int_eq(mem_requests, 40 + 20);
}
END_TEST

START_TEST(test_cancel_while_waiting)
{
	struct ruleset_input	 in;
	struct envelope		 e;
	struct mailaddr		 rcpt;
	struct answer		 a;
	struct ruleset_walk	*w;
	struct tx		 t;
	int			 i;

	load_mem("action \"a\" mbox\n"
	    "match from any for rcpt-to { x } action \"a\"\n");
	mem_hold = 1;
	memset(&t, 0, sizeof(t));
	t.client = "192.0.2.1";
	t.rcpt = "yes@example.org";
	tx_envelope(&t, &e, &rcpt);
	memset(&in, 0, sizeof(in));
	in.env = &e;
	in.rcpt = &rcpt;
	memset(&a, 0, sizeof(a));
	ck_assert_ptr_nonnull(w = ruleset_match(&env, &in, on_answer, &a));
	for (i = 0; i < 5; i++)
		event_base_loop(base, EVLOOP_NONBLOCK);
	ck_assert_int_eq(mem_requests, 1);
	ck_assert_ptr_nonnull(mem_held);
	ck_assert_int_eq(a.done, 0);
	ruleset_cancel(w);
	ck_assert_int_eq(mem_cancels, 1);
	for (i = 0; i < 5; i++)
		event_base_loop(base, EVLOOP_NONBLOCK);
	ck_assert_int_eq(a.done, 0);
}
END_TEST

static Suite *
ruleset_suite(void)
{
	Suite	*s = suite_create("ruleset");
	TCase	*tc = tcase_create("ruleset");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_first_match_and_local);
	tcase_add_test(tc, test_no_match);
	tcase_add_test(tc, test_table_criteria);
	tcase_add_test(tc, test_src_mapped_and_negated);
	tcase_add_test(tc, test_origin_criteria);
	tcase_add_test(tc, test_auth_and_tls_never_yet);
	tcase_add_test(tc, test_table_failure_is_temporary);
	tcase_add_test(tc, test_cancel_real_tables);
	tcase_add_test(tc, test_many_walks_at_once);
	tcase_add_test(tc, test_cancel_while_waiting);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(ruleset_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
