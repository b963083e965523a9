/*
 * test_lookup_dns.c: reverse DNS of clients (lookup_dns.c).  No real
 * DNS is ever asked: loopback comes from the hosts file, and the name
 * server is a local UDP socket that never answers, so that a failure
 * gives "unknown" without blocking the event loop.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

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
#include "lookup.h"

static struct event_base	*base;
static int			 silent = -1;	/* a mute name server */
static int			 ticks;

struct answer {
	int	 done;
	int	 result;
	char	 name[256];
};

static void
on_tick(int fd, short ev, void *arg)
{
	ticks++;
}

/* One c-ares channel per process: set it up once, for every test. */
static void
setup_once(void)
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);
	char			 csv[64];

	log_init(1, "test_lookup_dns");
	ck_assert_ptr_nonnull(base = event_base_new());
	ck_assert_int_eq(lookup_rdns_init(base), 0);
	ck_assert_int_ne(silent = socket(AF_INET, SOCK_DGRAM, 0), -1);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(silent, (struct sockaddr *)&sin, sizeof(sin)),
	    0);
	ck_assert_int_eq(getsockname(silent, (struct sockaddr *)&sin, &len),
	    0);
	snprintf(csv, sizeof(csv), "127.0.0.1:%d", ntohs(sin.sin_port));
	ck_assert_int_eq(lookup_rdns_servers(csv), 0);
}

static void
on_answer(int result, const char *name, void *arg)
{
	struct answer	*a = arg;

	ck_assert_int_eq(a->done, 0);
	a->done = 1;
	a->result = result;
	strlcpy(a->name, name, sizeof(a->name));
}

static void
ask(const struct sockaddr_storage *ss, struct answer *a)
{
	struct event	*tick;
	struct timeval	 tv = { 0, 100000 };
	time_t		 deadline = time(NULL) + 60;

	memset(a, 0, sizeof(*a));
	ck_assert_ptr_nonnull(tick = event_new(base, -1, EV_PERSIST, on_tick,
	    NULL));
	event_add(tick, &tv);
	ticks = 0;
	ck_assert_ptr_nonnull(lookup_rdns(ss, on_answer, a));
	/* never answered from inside the call */
	ck_assert_int_eq(a->done, 0);
	while (!a->done) {
		ck_assert_msg(time(NULL) < deadline, "no answer in 60 s");
		event_base_loop(base, EVLOOP_ONCE);
	}
	event_free(tick);
}

static void
inet(struct sockaddr_storage *ss, const char *text)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (strchr(text, ':') != NULL) {
		sin6->sin6_family = AF_INET6;
		ck_assert_int_eq(inet_pton(AF_INET6, text, &sin6->sin6_addr),
		    1);
	} else {
		sin->sin_family = AF_INET;
		ck_assert_int_eq(inet_pton(AF_INET, text, &sin->sin_addr), 1);
	}
}

START_TEST(test_loopback_from_hosts)
{
	struct sockaddr_storage	 ss;
	struct answer		 a;
	FILE			*fp;
	char			 line[512];
	int			 listed = 0;

	/* The hosts file must say it for this test to mean anything. */
	if ((fp = fopen("/etc/hosts", "r")) != NULL) {
		while (fgets(line, sizeof(line), fp) != NULL)
			if (strncmp(line, "127.0.0.1", 9) == 0 &&
			    strstr(line, "localhost") != NULL)
				listed = 1;
		fclose(fp);
	}
	if (!listed)
		return;
	inet(&ss, "127.0.0.1");
	ask(&ss, &a);
	ck_assert_int_eq(a.result, 1);
	ck_assert_str_eq(a.name, "localhost");
	/* the IPv4-mapped form is the same client */
	inet(&ss, "::ffff:127.0.0.1");
	ask(&ss, &a);
	ck_assert_int_eq(a.result, 1);
	ck_assert_str_eq(a.name, "localhost");
}
END_TEST

START_TEST(test_local_socket)
{
	struct sockaddr_storage	 ss;
	struct answer		 a;

	memset(&ss, 0, sizeof(ss));
	ss.ss_family = AF_UNIX;
	ask(&ss, &a);
	ck_assert_int_eq(a.result, 1);
	ck_assert_str_eq(a.name, "localhost");
}
END_TEST

START_TEST(test_no_answer_is_unknown)
{
	struct sockaddr_storage	 ss;
	struct answer		 a;

	/* TEST-NET: not in the hosts file; the server never answers */
	inet(&ss, "192.0.2.77");
	ask(&ss, &a);
	ck_assert_int_eq(a.result, 0);
	ck_assert_str_eq(a.name, "unknown");
	/* the loop kept turning while it waited */
	ck_assert_int_gt(ticks, 5);
}
END_TEST

START_TEST(test_cancel)
{
	struct sockaddr_storage	 ss;
	struct answer		 a, b;

	inet(&ss, "192.0.2.78");
	memset(&a, 0, sizeof(a));
	lookup_rdns_cancel(lookup_rdns(&ss, on_answer, &a));
	/* another query completes; the cancelled one never answers */
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = AF_UNIX;
	ask(&ss, &b);
	inet(&ss, "192.0.2.79");
	ask(&ss, &b);
	ck_assert_int_eq(a.done, 0);
}
END_TEST

static Suite *
dns_suite(void)
{
	Suite	*s = suite_create("lookup_dns");
	TCase	*tc = tcase_create("rdns");

	tcase_set_timeout(tc, 120);
	tcase_add_unchecked_fixture(tc, setup_once, NULL);
	tcase_add_test(tc, test_loopback_from_hosts);
	tcase_add_test(tc, test_local_socket);
	tcase_add_test(tc, test_no_answer_is_unknown);
	tcase_add_test(tc, test_cancel);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(dns_suite());
	/* One c-ares channel, one event base: no fork per test. */
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	close(silent);
	return failed == 0 ? 0 : 1;
}
