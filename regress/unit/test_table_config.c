/*
 * test_table_config.c: the key/value configuration file of table
 * backends (table_config_* in libsmtpd-api), errors included.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "smtpd-api.h"

static char	 dir[64];
static char	 path[128];
static char	 err[512];

static void
setup(void)
{
	strlcpy(dir, "/tmp/test_table_config.XXXXXX", sizeof(dir));
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/backend.conf", dir);
	err[0] = '\0';
}

static void
teardown(void)
{
	unlink(path);
	rmdir(dir);
}

static void
write_file(const char *text)
{
	FILE	*fp;

	ck_assert_ptr_nonnull(fp = fopen(path, "w"));
	ck_assert_int_eq(fputs(text, fp) >= 0, 1);
	ck_assert_int_eq(fclose(fp), 0);
}

/* Loading must fail with exactly "path:line: what". */
static void
expect_error(const char *text, int line, const char *what)
{
	struct table_config	*cf;
	char			 want[512];

	write_file(text);
	cf = table_config_load(path, err, sizeof(err));
	ck_assert_ptr_null(cf);
	snprintf(want, sizeof(want), "%s:%d: %s", path, line, what);
	ck_assert_str_eq(err, want);
}

START_TEST(test_values)
{
	struct table_config	*cf;

	write_file(
	    "# database settings\n"
	    "\n"
	    "dbpath\t\t/var/db/mail.db\n"
	    "   # an indented comment\n"
	    "query_alias  SELECT value FROM aliases WHERE key = ?  \n"
	    "password pass#word # kept whole\r\n"
	    "max-conn.count 4\n");
	cf = table_config_load(path, err, sizeof(err));
	ck_assert_msg(cf != NULL, "load failed: %s", err);
	ck_assert_str_eq(table_config_get(cf, "dbpath"), "/var/db/mail.db");
	ck_assert_str_eq(table_config_get(cf, "query_alias"),
	    "SELECT value FROM aliases WHERE key = ?");
	/* '#' inside a value is data (passwords, queries). */
	ck_assert_str_eq(table_config_get(cf, "password"),
	    "pass#word # kept whole");
	ck_assert_str_eq(table_config_get(cf, "max-conn.count"), "4");
	ck_assert_ptr_null(table_config_get(cf, "missing"));
	ck_assert_ptr_null(table_config_get(cf, "DBPATH"));
	ck_assert_int_eq(table_config_line(cf, "dbpath"), 3);
	ck_assert_int_eq(table_config_line(cf, "max-conn.count"), 7);
	ck_assert_int_eq(table_config_line(cf, "missing"), 0);
	table_config_free(cf);
}
END_TEST

START_TEST(test_continuation)
{
	struct table_config	*cf;

	write_file(
	    "query_domain\tSELECT domain\n"
	    "\t\tFROM domains\n"
	    "# a comment does not end it\n"
	    "    WHERE domain = ?\n"
	    "dbpath /x\n");
	cf = table_config_load(path, err, sizeof(err));
	ck_assert_msg(cf != NULL, "load failed: %s", err);
	ck_assert_str_eq(table_config_get(cf, "query_domain"),
	    "SELECT domain FROM domains WHERE domain = ?");
	ck_assert_str_eq(table_config_get(cf, "dbpath"), "/x");
	table_config_free(cf);
}
END_TEST

START_TEST(test_unknown)
{
	struct table_config	*cf;
	const char *const	 allowed[] = { "dbpath", "query_alias", NULL };
	const char *const	 all[] = { "dbpath", "query_alias", "tyop",
				    NULL };

	write_file("dbpath /x\ntyop 1\nquery_alias q\n");
	cf = table_config_load(path, err, sizeof(err));
	ck_assert_ptr_nonnull(cf);
	ck_assert_str_eq(table_config_unknown(cf, allowed), "tyop");
	ck_assert_int_eq(table_config_line(cf, "tyop"), 2);
	ck_assert_ptr_null(table_config_unknown(cf, all));
	table_config_free(cf);
}
END_TEST

START_TEST(test_empty)
{
	struct table_config	*cf;
	const char *const	 none[] = { NULL };

	write_file("# nothing\n\n");
	cf = table_config_load(path, err, sizeof(err));
	ck_assert_ptr_nonnull(cf);
	ck_assert_ptr_null(table_config_get(cf, "dbpath"));
	ck_assert_ptr_null(table_config_unknown(cf, none));
	table_config_free(cf);
}
END_TEST

START_TEST(test_errors)
{
	char	 longline[9000];

	expect_error("dbpath /x\n\ndbpath /y\n", 3,
	    "duplicate key \"dbpath\" (first given on line 1)");
	expect_error("# c\ndbpath\n", 2, "missing value for key \"dbpath\"");
	expect_error("  indented value\n", 1,
	    "continuation line without a key above");
	expect_error("a=b c\n", 1, "invalid character '=' in key");
	expect_error("ok 1\nkey: value\n", 2, "invalid character ':' in key");

	memset(longline, 'x', sizeof(longline) - 1);
	longline[sizeof(longline) - 1] = '\0';
	longline[3] = ' ';
	expect_error(longline, 1, "line too long (more than 8192 bytes)");
}
END_TEST

START_TEST(test_nul)
{
	FILE	*fp;

	ck_assert_ptr_nonnull(fp = fopen(path, "w"));
	fwrite("a 1\nb \0x\n", 1, 9, fp);
	fclose(fp);
	ck_assert_ptr_null(table_config_load(path, err, sizeof(err)));
	ck_assert_str_eq(strchr(err, ':'), ":2: NUL byte in line");
}
END_TEST

START_TEST(test_missing_file)
{
	char	 want[256];

	ck_assert_ptr_null(table_config_load(path, err, sizeof(err)));
	snprintf(want, sizeof(want), "%s: No such file or directory", path);
	ck_assert_str_eq(err, want);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("table_config");
	TCase	*tc = tcase_create("parse");
	SRunner	*sr;
	int	 failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_values);
	tcase_add_test(tc, test_continuation);
	tcase_add_test(tc, test_unknown);
	tcase_add_test(tc, test_empty);
	tcase_add_test(tc, test_errors);
	tcase_add_test(tc, test_nul);
	tcase_add_test(tc, test_missing_file);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
