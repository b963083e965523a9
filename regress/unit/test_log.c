/*
 * test_log.c: logging, verbosity and trace subsystems (libsmtpd-api/log.c).
 *
 * Each test captures stderr in a temporary file (check runs each test in
 * its own process, so the redirection does not leak).
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "smtpd-api.h"

static FILE	*capture;

static void	 capture_start(void);
static char	*capture_text(void);
static Suite	*log_suite(void);

static void
capture_start(void)
{
	capture = tmpfile();
	ck_assert_ptr_nonnull(capture);
	ck_assert_int_eq(dup2(fileno(capture), STDERR_FILENO), STDERR_FILENO);
}

/* What was written to stderr since capture_start; static storage. */
static char *
capture_text(void)
{
	static char	 text[16384];
	ssize_t		 n;

	ck_assert_int_eq(lseek(fileno(capture), 0, SEEK_SET), 0);
	n = read(fileno(capture), text, sizeof(text) - 1);
	ck_assert_int_ge(n, 0);
	text[n] = '\0';
	return text;
}

START_TEST(test_stderr_lines)
{
	capture_start();
	log_init(1, "myident");
	log_warnx("hello %d", 5);
	log_info("info line");
	errno = ENOENT;
	log_warn("open %s", "/nonexistent");
	ck_assert_str_eq(capture_text(),
	    "myident: hello 5\n"
	    "myident: info line\n"
	    "myident: open /nonexistent: No such file or directory\n");
}
END_TEST

START_TEST(test_verbose)
{
	capture_start();
	log_init(1, "v");
	ck_assert_int_eq(log_getverbose(), 0);
	log_debug("hidden");
	log_setverbose(1);
	ck_assert_int_eq(log_getverbose(), 1);
	log_debug("shown %s", "now");
	log_setverbose(0);
	log_debug("hidden again");
	ck_assert_str_eq(capture_text(), "v: shown now\n");
}
END_TEST

START_TEST(test_trace)
{
	capture_start();
	log_init(1, "t");
	log_settrace(0);
	log_trace(TRACE_IMSG, "off");
	log_settrace(TRACE_IMSG | TRACE_QUEUE);
	ck_assert_uint_eq(log_gettrace(), TRACE_IMSG | TRACE_QUEUE);
	log_trace(TRACE_IMSG, "imsg on");
	log_trace(TRACE_SMTP, "smtp off");
	log_trace(TRACE_QUEUE, "queue on");
	/* trace does not need verbose, and verbose does not enable it */
	log_setverbose(1);
	log_settrace(0);
	log_trace(TRACE_QUEUE, "queue off");
	log_settrace(TRACE_ALL);
	log_trace(TRACE_HELPERS, "all on");
	ck_assert_str_eq(capture_text(),
	    "t: imsg on\nt: queue on\nt: all on\n");
}
END_TEST

START_TEST(test_trace_names)
{
	static const char	*names[] = { "imsg", "io", "smtp", "filters",
	    "mta", "bounce", "scheduler", "expand", "lookup", "stat", "rules",
	    "tables", "queue", "helpers" };
	uint32_t		 mask, all = 0;
	size_t			 i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		mask = log_trace_from_name(names[i]);
		ck_assert_uint_eq(mask, 1u << i);
		ck_assert_str_eq(log_trace_name(mask), names[i]);
		all |= mask;
	}
	ck_assert_uint_eq(all | TRACE_ALL, TRACE_ALL);
	ck_assert_uint_eq(log_trace_from_name("all"), TRACE_ALL);
	ck_assert_str_eq(log_trace_name(TRACE_ALL), "all");
	ck_assert_uint_eq(log_trace_from_name("IMSG"), 0);
	ck_assert_uint_eq(log_trace_from_name("bogus"), 0);
	ck_assert_uint_eq(log_trace_from_name(""), 0);
	ck_assert_uint_eq(log_trace_from_name(NULL), 0);
	ck_assert_str_eq(log_trace_name(0), "unknown");
	ck_assert_str_eq(log_trace_name(TRACE_IMSG | TRACE_IO), "unknown");
}
END_TEST

START_TEST(test_errno_kept)
{
	capture_start();
	log_init(1, "e");
	errno = EBADF;
	log_warn("a");
	ck_assert_int_eq(errno, EBADF);
	log_warnx("b");
	ck_assert_int_eq(errno, EBADF);
	log_info("c");
	ck_assert_int_eq(errno, EBADF);
	log_debug("d");
	ck_assert_int_eq(errno, EBADF);
	log_trace(TRACE_ALL, "e");
	ck_assert_int_eq(errno, EBADF);
	log_init(1, "again");
	ck_assert_int_eq(errno, EBADF);
}
END_TEST

/* A peer's newline cannot forge a second log line. */
START_TEST(test_control_characters)
{
	capture_start();
	log_init(1, "c");
	log_warnx("MAIL FROM:<%s>", "a\nc: forged\r\x1b[1m");
	ck_assert_str_eq(capture_text(), "c: MAIL FROM:<a?c: forged??[1m>\n");
}
END_TEST

START_TEST(test_long_line_cut)
{
	char	*big, *text;

	big = malloc(20000);
	ck_assert_ptr_nonnull(big);
	memset(big, 'x', 19999);
	big[19999] = '\0';
	capture_start();
	log_init(1, "l");
	log_warnx("%s", big);
	text = capture_text();
	ck_assert_uint_lt(strlen(text), 9000);
	ck_assert_int_eq(strncmp(text, "l: xxx", 6), 0);
	ck_assert_int_eq(text[strlen(text) - 1], '\n');
	free(big);
}
END_TEST

/* syslog mode writes nothing on stderr. */
START_TEST(test_syslog_mode)
{
	capture_start();
	log_init(0, "test_log");
	log_debug("not shown");
	log_init(1, "back");
	log_warnx("on stderr");
	ck_assert_str_eq(capture_text(), "back: on stderr\n");
}
END_TEST

START_TEST(test_fatalx)
{
	capture_start();
	log_init(1, "f");
	fatalx("cannot continue: %d", 3);
}
END_TEST

START_TEST(test_fatal)
{
	capture_start();
	log_init(1, "f");
	errno = EACCES;
	fatal("open %s", "x");
}
END_TEST

/* The exit tests above must also print their line: checked in a child. */
START_TEST(test_fatal_text)
{
	pid_t	 pid;
	int	 status;

	capture_start();
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		log_init(1, "f");
		errno = EACCES;
		fatal("open %s", "x");
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1);
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		log_init(1, "f");
		fatalx("bad config");
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1);
	ck_assert_str_eq(capture_text(),
	    "f: fatal: open x: Permission denied\n"
	    "f: fatal: bad config\n");
}
END_TEST

static Suite *
log_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("log");
	tc = tcase_create("log");
	tcase_add_test(tc, test_stderr_lines);
	tcase_add_test(tc, test_verbose);
	tcase_add_test(tc, test_trace);
	tcase_add_test(tc, test_trace_names);
	tcase_add_test(tc, test_errno_kept);
	tcase_add_test(tc, test_control_characters);
	tcase_add_test(tc, test_long_line_cut);
	tcase_add_test(tc, test_syslog_mode);
	tcase_add_exit_test(tc, test_fatalx, 1);
	tcase_add_exit_test(tc, test_fatal, 1);
	tcase_add_test(tc, test_fatal_text);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(log_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
