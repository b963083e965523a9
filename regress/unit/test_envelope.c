/*
 * test_envelope.c: the ASCII envelope form round-trips and refuses
 * what it cannot read.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "../../smtpd/envelope.h"

static void
sample(struct envelope *e)
{
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&e->ss;

	memset(e, 0, sizeof(*e));
	e->type = D_MDA;
	strlcpy(e->tag, "inbound", sizeof(e->tag));
	strlcpy(e->dispatcher, "local_mail", sizeof(e->dispatcher));
	strlcpy(e->smtpname, "mx.example.org", sizeof(e->smtpname));
	strlcpy(e->helo, "client.example.net", sizeof(e->helo));
	strlcpy(e->hostname, "client.example.net", sizeof(e->hostname));
	sin6->sin6_family = AF_INET6;
	inet_pton(AF_INET6, "2001:db8::1", &sin6->sin6_addr);
	mailaddr_from_text(&e->sender, "alice@example.net");
	mailaddr_from_text(&e->rcpt, "Bob+tag@example.org");
	mailaddr_from_text(&e->dest, "bob@example.org");
	e->creation = 1700000000;
	e->lasttry = 1700000100;
	e->ttl = 4 * 86400;
	e->retry = 3;
	e->flags = EF_AUTHENTICATED | EF_LOCAL;
	e->mda_method = M_MDA;
	strlcpy(e->mda_buffer, "/usr/bin/procmail -d bob",
	    sizeof(e->mda_buffer));
	strlcpy(e->mda_user, "bob", sizeof(e->mda_user));
	e->mda_uid = 1001;
	e->mda_gid = 100;
	strlcpy(e->mda_home, "/home/bob", sizeof(e->mda_home));
	strlcpy(e->esc, "4.2.0", sizeof(e->esc));
	strlcpy(e->errorline, "mailbox busy", sizeof(e->errorline));
}

START_TEST(test_round_trip)
{
	struct envelope	 e, back;
	char		 buf[ENVELOPE_TEXT_MAX], buf2[ENVELOPE_TEXT_MAX];
	char		 err[128];
	int		 n;

	sample(&e);
	n = envelope_dump(&e, buf, sizeof(buf));
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq((int)strlen(buf), n);
	ck_assert_ptr_nonnull(strstr(buf, "sockaddr: IPv6:2001:db8::1\n"));
	ck_assert_ptr_nonnull(strstr(buf, "flags: authenticated local\n"));
	ck_assert_int_eq(envelope_load(&back, buf, n, err, sizeof(err)), 0);
	ck_assert_str_eq(back.dest.user, "bob");
	ck_assert_str_eq(back.rcpt.user, "Bob+tag");
	ck_assert_int_eq(back.mda_uid, 1001);
	ck_assert_int_eq(back.mda_method, M_MDA);
	ck_assert_int_eq(back.retry, 3);
	ck_assert_int_eq(envelope_dump(&back, buf2, sizeof(buf2)), n);
	ck_assert_str_eq(buf, buf2);
}
END_TEST

START_TEST(test_control_chars_cleaned)
{
	struct envelope	 e, back;
	char		 buf[ENVELOPE_TEXT_MAX], err[128];
	int		 n;

	sample(&e);
	strlcpy(e.errorline, "550 no\r\nrcpt: evil@x", sizeof(e.errorline));
	n = envelope_dump(&e, buf, sizeof(buf));
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(envelope_load(&back, buf, n, err, sizeof(err)), 0);
	ck_assert_str_eq(back.rcpt.user, "Bob+tag");
	ck_assert_str_eq(back.errorline, "550 no??rcpt: evil@x");
}
END_TEST

START_TEST(test_bad_input)
{
	struct envelope	 e;
	char		 err[128];
	const char	*t;

	t = "version: 1\ntype: mda\nctime: soon\n";
	ck_assert_int_eq(envelope_load(&e, t, strlen(t), err, sizeof(err)),
	    -1);
	ck_assert_str_eq(err, "line 3: bad value for ctime");
	t = "version: 1\ntype: mda\ncolour: blue\n";
	ck_assert_int_eq(envelope_load(&e, t, strlen(t), err, sizeof(err)),
	    -1);
	ck_assert_str_eq(err, "line 3: unknown key \"colour\"");
	t = "version: 1\nno colon here\n";
	ck_assert_int_eq(envelope_load(&e, t, strlen(t), err, sizeof(err)),
	    -1);
	ck_assert_str_eq(err, "line 2: no ':' after the key");
	t = "type: mda\n";
	ck_assert_int_eq(envelope_load(&e, t, strlen(t), err, sizeof(err)),
	    -1);
	ck_assert_str_eq(err, "no version line");
	t = "version: 7\ntype: mda\n";
	ck_assert_int_eq(envelope_load(&e, t, strlen(t), err, sizeof(err)),
	    -1);
	t = "version: 1\ntype: mda\nsockaddr: 300.1.1.1\n";
	ck_assert_int_eq(envelope_load(&e, t, strlen(t), err, sizeof(err)),
	    -1);
}
END_TEST

START_TEST(test_too_small)
{
	struct envelope	 e;
	char		 buf[64];

	sample(&e);
	ck_assert_int_eq(envelope_dump(&e, buf, sizeof(buf)), -1);
}
END_TEST

START_TEST(test_mailaddr)
{
	struct mailaddr	 a;
	char		 buf[600];

	ck_assert_int_eq(mailaddr_from_text(&a, ""), 0);
	ck_assert_int_eq(mailaddr_to_text(&a, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "");
	ck_assert_int_eq(mailaddr_from_text(&a, "postmaster"), 0);
	ck_assert_str_eq(a.user, "postmaster");
	ck_assert_str_eq(a.domain, "");
	ck_assert_int_eq(mailaddr_from_text(&a, "\"a@b\"@example.org"), 0);
	ck_assert_str_eq(a.user, "\"a@b\"");
	ck_assert_str_eq(a.domain, "example.org");
	ck_assert_int_eq(mailaddr_from_text(&a, "user@"), -1);
	ck_assert_int_eq(mailaddr_from_text(&a, "us er@x"), -1);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("envelope");
	TCase	*tc = tcase_create("ascii");
	SRunner	*sr;
	int	 failed;

	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_control_chars_cleaned);
	tcase_add_test(tc, test_bad_input);
	tcase_add_test(tc, test_too_small);
	tcase_add_test(tc, test_mailaddr);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
