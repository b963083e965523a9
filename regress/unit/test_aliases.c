/*
 * test_aliases.c: parsing alias values and .forward lines (aliases.c),
 * and the checks made before a ~/.forward is used (forward.c).
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <check.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "smtpd-api.h"
#include "aliases.h"

#define MAX_TARGETS	16

struct collected {
	struct alias_target	 t[MAX_TARGETS];
	int			 n;
	int			 stop_at;	/* stop after this many */
};

static char	 err[512];
static char	 dir[64];

static int
collect(const struct alias_target *t, void *arg)
{
	struct collected	*c = arg;

	ck_assert_int_lt(c->n, MAX_TARGETS);
	c->t[c->n++] = *t;
	return c->stop_at != 0 && c->n == c->stop_at;
}

static struct collected *
parse(const char *list)
{
	static struct collected	 c;
	int			 r;

	memset(&c, 0, sizeof(c));
	r = alias_parse_list(list, collect, &c, err, sizeof(err));
	ck_assert_msg(r >= 0, "\"%s\": %s", list, err);
	ck_assert_int_eq(r, c.n);
	return &c;
}

static void
parse_fails(const char *list, const char *why)
{
	struct collected	c;

	memset(&c, 0, sizeof(c));
	err[0] = '\0';
	ck_assert_int_eq(alias_parse_list(list, collect, &c, err, sizeof(err)),
	    ALIAS_PARSE_ERROR);
	ck_assert_msg(strstr(err, why) != NULL, "\"%s\": got \"%s\", want "
	    "\"%s\"", list, err, why);
}

START_TEST(test_kinds)
{
	struct collected	*c;

	c = parse("gilles, Root@Example.ORG, /var/mail/archive, "
	    "|/usr/bin/vacation -a me, :include:/etc/mail/staff, "
	    "error:550 5.1.1 gone away");
	ck_assert_int_eq(c->n, 6);
	ck_assert_int_eq(c->t[0].kind, ALIAS_USER);
	ck_assert_str_eq(c->t[0].user, "gilles");
	ck_assert_int_eq(c->t[0].verbatim, 0);
	ck_assert_int_eq(c->t[1].kind, ALIAS_ADDRESS);
	ck_assert_str_eq(c->t[1].addr.user, "Root");
	ck_assert_str_eq(c->t[1].addr.domain, "example.org");
	ck_assert_int_eq(c->t[2].kind, ALIAS_FILE);
	ck_assert_str_eq(c->t[2].path, "/var/mail/archive");
	ck_assert_int_eq(c->t[3].kind, ALIAS_COMMAND);
	ck_assert_str_eq(c->t[3].path, "/usr/bin/vacation -a me");
	ck_assert_int_eq(c->t[4].kind, ALIAS_INCLUDE);
	ck_assert_str_eq(c->t[4].path, "/etc/mail/staff");
	ck_assert_int_eq(c->t[5].kind, ALIAS_ERROR);
	ck_assert_int_eq(c->t[5].code, 550);
	ck_assert_str_eq(c->t[5].esc, "5.1.1");
	ck_assert_str_eq(c->t[5].text, "gone away");
}
END_TEST

START_TEST(test_users_lowercased)
{
	struct collected	*c;

	c = parse("Gilles");
	ck_assert_str_eq(c->t[0].user, "gilles");
	ck_assert_str_eq(alias_kind_name(c->t[0].kind), "user");
}
END_TEST

START_TEST(test_quotes_and_commas)
{
	struct collected	*c;

	/* A quoted command keeps its commas and blanks. */
	c = parse("\"|/usr/bin/prog -x a,b  \" , eric");
	ck_assert_int_eq(c->n, 2);
	ck_assert_int_eq(c->t[0].kind, ALIAS_COMMAND);
	ck_assert_str_eq(c->t[0].path, "/usr/bin/prog -x a,b  ");
	ck_assert_str_eq(c->t[1].user, "eric");

	/* Empty items between commas are nothing, not errors. */
	c = parse(" a ,, b , ");
	ck_assert_int_eq(c->n, 2);
	ck_assert_str_eq(c->t[0].user, "a");
	ck_assert_str_eq(c->t[1].user, "b");

	c = parse("");
	ck_assert_int_eq(c->n, 0);
}
END_TEST

START_TEST(test_backslash)
{
	struct collected	*c;

	/* "\user": deliver to that mailbox, do not expand. */
	c = parse("\\gilles, /tmp/a\\,b, \"/tmp/q\\\"uote\"");
	ck_assert_int_eq(c->n, 3);
	ck_assert_int_eq(c->t[0].kind, ALIAS_USER);
	ck_assert_int_eq(c->t[0].verbatim, 1);
	ck_assert_str_eq(c->t[0].user, "gilles");
	ck_assert_str_eq(c->t[1].path, "/tmp/a,b");
	ck_assert_str_eq(c->t[2].path, "/tmp/q\"uote");
}
END_TEST

START_TEST(test_errors)
{
	struct collected	*c;

	c = parse("error:451 try later");
	ck_assert_int_eq(c->t[0].code, 451);
	ck_assert_str_eq(c->t[0].esc, "4.0.0");
	ck_assert_str_eq(c->t[0].text, "try later");
	c = parse("ERROR:550");
	ck_assert_int_eq(c->t[0].code, 550);
	ck_assert_str_eq(c->t[0].esc, "5.0.0");
	ck_assert_str_eq(c->t[0].text, "Delivery refused");

	parse_fails("error:250 fine", "4xx or 5xx");
	parse_fails("error:55 x", "4xx or 5xx");
	parse_fails("error:550 4.1.1 mixed", "another class");
	parse_fails("\"unbalanced", "unbalanced quote");
	parse_fails("a, b\\", "backslash at the end");
	parse_fails(":include:relative/path", "absolute");
	parse_fails("|", "empty command");
	parse_fails("user@", "invalid address");
	parse_fails("@example.org", "invalid address");
	parse_fails("a b", "blank");
	parse_fails("\\gilles@example.org", "local users only");
	parse_fails("bad:name", "invalid user name");
	parse_fails("ok, \"\"", "target 2");
}
END_TEST

START_TEST(test_stop)
{
	struct collected	c;

	memset(&c, 0, sizeof(c));
	c.stop_at = 2;
	ck_assert_int_eq(alias_parse_list("a, b, c", collect, &c, err,
	    sizeof(err)), ALIAS_PARSE_STOPPED);
	ck_assert_int_eq(c.n, 2);
	/* Without a callback the list is only checked and counted. */
	ck_assert_int_eq(alias_parse_list("a, b, c", NULL, NULL, err,
	    sizeof(err)), 3);
}
END_TEST

START_TEST(test_lines)
{
	struct collected	c;

	memset(&c, 0, sizeof(c));
	ck_assert_int_eq(alias_parse_lines(
	    "# my forward\n"
	    "\n"
	    "  gilles@example.org, \\me\n"
	    "\"|/usr/bin/procmail -f-\"\n"
	    "   # indented comment\n"
	    "/home/me/archive", collect, &c, err, sizeof(err)), 4);
	ck_assert_int_eq(c.n, 4);
	ck_assert_int_eq(c.t[0].kind, ALIAS_ADDRESS);
	ck_assert_int_eq(c.t[1].verbatim, 1);
	ck_assert_int_eq(c.t[2].kind, ALIAS_COMMAND);
	ck_assert_str_eq(c.t[2].path, "/usr/bin/procmail -f-");
	ck_assert_int_eq(c.t[3].kind, ALIAS_FILE);

	memset(&c, 0, sizeof(c));
	ck_assert_int_eq(alias_parse_lines("ok\n\nbad user\n", collect, &c,
	    err, sizeof(err)), ALIAS_PARSE_ERROR);
	ck_assert_msg(strncmp(err, "line 3: ", 8) == 0, "%s", err);

	ck_assert_int_eq(alias_parse_lines("# only comments\n\n", NULL, NULL,
	    err, sizeof(err)), 0);
}
END_TEST

/* ---- forward.c ---- */

static void
fwd_setup(void)
{
	log_init(1, "test_aliases");
	strlcpy(dir, "/tmp/test_aliases.XXXXXX", sizeof(dir));
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(chmod(dir, 0755), 0);
}

static void
fwd_teardown(void)
{
	char	 cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static void
write_forward(const char *text, mode_t mode)
{
	char	 path[128];
	FILE	*fp;

	snprintf(path, sizeof(path), "%s/.forward", dir);
	unlink(path);
	ck_assert_ptr_nonnull(fp = fopen(path, "w"));
	fputs(text, fp);
	ck_assert_int_eq(fclose(fp), 0);
	ck_assert_int_eq(chmod(path, mode), 0);
}

START_TEST(test_forward_read)
{
	char	*text, why[512];

	/* No file: no forward, and no reason to log. */
	ck_assert_int_eq(forward_read(dir, getuid(), &text, why, sizeof(why)),
	    0);
	ck_assert_str_eq(why, "");
	ck_assert_ptr_null(text);

	write_forward("gilles@example.org\n", 0644);
	ck_assert_int_eq(forward_read(dir, getuid(), &text, why, sizeof(why)),
	    1);
	ck_assert_str_eq(text, "gilles@example.org\n");
	free(text);

	/* Not the user's file: refused. */
	ck_assert_int_eq(forward_read(dir, getuid() + 1, &text, why,
	    sizeof(why)), 0);
	ck_assert_msg(strstr(why, "owned by uid") != NULL, "%s", why);

	/* Writable by others: refused. */
	write_forward("x\n", 0664);
	ck_assert_int_eq(forward_read(dir, getuid(), &text, why, sizeof(why)),
	    0);
	ck_assert_msg(strstr(why, "writable by group or others") != NULL,
	    "%s", why);
	write_forward("x\n", 0644);

	/* A home others can write to: refused. */
	ck_assert_int_eq(chmod(dir, 0775), 0);
	ck_assert_int_eq(forward_read(dir, getuid(), &text, why, sizeof(why)),
	    0);
	ck_assert_msg(strstr(why, dir) != NULL, "%s", why);
	ck_assert_int_eq(chmod(dir, 0755), 0);

	/* No home at all. */
	ck_assert_int_eq(forward_read("/nonexistent/home", getuid(), &text,
	    why, sizeof(why)), 0);
}
END_TEST

/*
 * forward_read(home) in a child that is neither root nor the owner of
 * the test files (root drops to uid 65534, like lookup to _smtpd):
 * its result, or -9 when the reason does not hold `expect'.
 */
static int
forward_read_as_other(const char *home, const char *expect)
{
	char	*text, why[512];
	pid_t	 pid;
	int	 r, status;

	ck_assert_int_ne(pid = fork(), -1);
	if (pid == 0) {
		if (getuid() == 0 && (setgroups(0, NULL) == -1 ||
		    setresgid(65534, 65534, 65534) == -1 ||
		    setresuid(65534, 65534, 65534) == -1))
			_exit(99);
		r = forward_read(home, getuid(), &text, why, sizeof(why));
		if (strstr(why, expect) == NULL) {
			fprintf(stderr, "reason: %s\n", why);
			_exit(1);
		}
		_exit(r + 10);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_ne(WEXITSTATUS(status), 99);
	return WEXITSTATUS(status) == 1 ? -9 : WEXITSTATUS(status) - 10;
}

/*
 * A home lookup cannot enter (root's, for _smtpd) is told apart from a
 * .forward that is there but cannot be read: the first is logged at
 * debug level only, on every delivery.
 */
START_TEST(test_forward_unreachable)
{
	char	 path[128], sub[128];

	write_forward("x\n", 0644);
	ck_assert_int_eq(chmod(dir, 0), 0);
	ck_assert_int_eq(forward_read_as_other(dir, "Permission denied"),
	    FORWARD_UNREACHABLE);
	/* A directory above the home closed: the same. */
	snprintf(sub, sizeof(sub), "%s/home", dir);
	ck_assert_int_eq(chmod(dir, 0755), 0);
	ck_assert_int_eq(mkdir(sub, 0755), 0);
	ck_assert_int_eq(chmod(dir, 0), 0);
	ck_assert_int_eq(forward_read_as_other(sub, "Permission denied"),
	    FORWARD_UNREACHABLE);
	ck_assert_int_eq(chmod(dir, 0755), 0);

	/* The home open, the file in it unreadable: refused, warned. */
	snprintf(path, sizeof(path), "%s/.forward", dir);
	ck_assert_int_eq(chmod(path, 0), 0);
	ck_assert_int_eq(forward_read_as_other(dir, "Permission denied"), 0);
}
END_TEST

START_TEST(test_forward_not_regular)
{
	char	 path[128], *text, why[512];

	snprintf(path, sizeof(path), "%s/.forward", dir);
	/* A FIFO must neither be read nor hang the process. */
	ck_assert_int_eq(mkfifo(path, 0644), 0);
	ck_assert_int_eq(forward_read(dir, getuid(), &text, why, sizeof(why)),
	    0);
	ck_assert_msg(strstr(why, "not a regular file") != NULL, "%s", why);
}
END_TEST

START_TEST(test_forward_too_large)
{
	char	*big, *text, why[512];

	ck_assert_ptr_nonnull(big = malloc(FORWARD_SIZE_MAX + 2));
	memset(big, 'a', FORWARD_SIZE_MAX + 1);
	big[FORWARD_SIZE_MAX + 1] = '\0';
	write_forward(big, 0644);
	free(big);
	ck_assert_int_eq(forward_read(dir, getuid(), &text, why, sizeof(why)),
	    -1);
	ck_assert_msg(strstr(why, "larger than") != NULL, "%s", why);
}
END_TEST

START_TEST(test_include_read)
{
	char	 path[128], *text, why[512];

	write_forward("a, b\n", 0644);
	snprintf(path, sizeof(path), "%s/.forward", dir);
	ck_assert_int_eq(include_read(path, &text, why, sizeof(why)), 1);
	ck_assert_str_eq(text, "a, b\n");
	free(text);
	/* A missing include is a failure: an admin named it. */
	snprintf(path, sizeof(path), "%s/nothere", dir);
	ck_assert_int_eq(include_read(path, &text, why, sizeof(why)), -1);
	/* One that others may write to could run their commands. */
	write_forward("a, \"|/bin/sh -c evil\"\n", 0664);
	snprintf(path, sizeof(path), "%s/.forward", dir);
	ck_assert_int_eq(include_read(path, &text, why, sizeof(why)), -1);
	ck_assert_msg(strstr(why, "writable by group or others") != NULL,
	    "%s", why);
	ck_assert_int_eq(chmod(path, 0646), 0);
	ck_assert_int_eq(include_read(path, &text, why, sizeof(why)), -1);
}
END_TEST

/* A sticky home means "not now": the lookup fails temporarily. */
START_TEST(test_forward_sticky_home)
{
	char	*text, why[512];

	write_forward("gilles@example.org\n", 0644);
	ck_assert_int_eq(chmod(dir, 01755), 0);
	ck_assert_int_eq(forward_read(dir, getuid(), &text, why, sizeof(why)),
	    -1);
	ck_assert_ptr_null(text);
	ck_assert_msg(strstr(why, "sticky") != NULL, "%s", why);
	/* a home like /tmp is no convention: the .forward is refused */
	ck_assert_int_eq(chmod(dir, 01777), 0);
	ck_assert_int_eq(forward_read(dir, getuid(), &text, why, sizeof(why)),
	    0);
	ck_assert_msg(strstr(why, "writable by group or others") != NULL,
	    "%s", why);
	ck_assert_int_eq(chmod(dir, 0755), 0);
	ck_assert_int_eq(forward_read(dir, getuid(), &text, why, sizeof(why)),
	    1);
	free(text);
}
END_TEST

static Suite *
aliases_suite(void)
{
	Suite	*s = suite_create("aliases");
	TCase	*tc = tcase_create("parse"), *tf = tcase_create("forward");

	tcase_add_test(tc, test_kinds);
	tcase_add_test(tc, test_users_lowercased);
	tcase_add_test(tc, test_quotes_and_commas);
	tcase_add_test(tc, test_backslash);
	tcase_add_test(tc, test_errors);
	tcase_add_test(tc, test_stop);
	tcase_add_test(tc, test_lines);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(tf, fwd_setup, fwd_teardown);
	tcase_add_test(tf, test_forward_read);
	tcase_add_test(tf, test_forward_unreachable);
	tcase_add_test(tf, test_forward_not_regular);
	tcase_add_test(tf, test_forward_too_large);
	tcase_add_test(tf, test_include_read);
	tcase_add_test(tf, test_forward_sticky_home);
	suite_add_tcase(s, tf);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(aliases_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
