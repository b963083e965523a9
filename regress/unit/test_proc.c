/*
 * test_proc.c: proc.c, the daemon's processes and their channels.
 *
 * helper_path is tested directly.  The channels are tested with fake
 * processes: this file provides the five *_main functions, so that
 * proc_spawn_all forks them for real; each one checks what it holds and
 * pings every peer, and the parent checks who reached whom.
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <event.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "smtpd-api.h"
#include "frames.h"
#include "proc.h"

/* Test-only frame types, far from frames.h's. */
#define T_PING		9001	/* X->Y: nothing */
#define T_SAW		9002	/* X->P uint32 from: X got a PING */
#define T_FDS		9003	/* X->P uint32 sockets, uint32 bad
				   flags or blocked signals */
#define T_VERBOSE	9004	/* X->P int32 log_getverbose() */
#define T_ASK_VERBOSE	9005	/* P->X */

static void	fake_main(enum proc_id) __attribute__((noreturn));
static void	fake_dispatch(enum proc_id, struct imsg *,
		    struct msg_reader *);
static void	fake_count_fds(uint32_t *, uint32_t *);
static void	parent_dispatch(enum proc_id, struct imsg *,
		    struct msg_reader *);
static void	parent_check_done(void);
static int	expected_talk(int, int);
static int	run_daemon(void);

/* ------------------------------------------------------------------ */
/* helper_path                                                         */
/* ------------------------------------------------------------------ */

START_TEST(test_helper_path_default)
{
	char	 buf[256];

	unsetenv("SMTPD_LIBEXEC");
	ck_assert_ptr_eq(helper_path("table-static", buf, sizeof(buf)), buf);
	ck_assert_str_eq(buf, PATH_LIBEXEC "/table-static");

	/* empty means unset */
	setenv("SMTPD_LIBEXEC", "", 1);
	ck_assert_ptr_nonnull(helper_path("queue-fs", buf, sizeof(buf)));
	ck_assert_str_eq(buf, PATH_LIBEXEC "/queue-fs");
}
END_TEST

START_TEST(test_helper_path_env)
{
	char	 buf[256];

	setenv("SMTPD_LIBEXEC", "/tmp/build/libexec", 1);
	ck_assert_ptr_nonnull(helper_path("table-static", buf, sizeof(buf)));
	ck_assert_str_eq(buf, "/tmp/build/libexec/table-static");
	unsetenv("SMTPD_LIBEXEC");
}
END_TEST

START_TEST(test_helper_path_slash_and_length)
{
	char	 buf[16];

	setenv("SMTPD_LIBEXEC", "/somewhere", 1);
	/* a path is used as it is */
	ck_assert_ptr_nonnull(helper_path("/bin/true", buf, sizeof(buf)));
	ck_assert_str_eq(buf, "/bin/true");
	ck_assert_ptr_nonnull(helper_path("./x", buf, sizeof(buf)));
	ck_assert_str_eq(buf, "./x");
	/* too long: an error, never a truncated name */
	errno = 0;
	ck_assert_ptr_null(helper_path("table-static", buf, sizeof(buf)));
	ck_assert_int_eq(errno, ENAMETOOLONG);
	ck_assert_ptr_null(helper_path("/a/very/long/path/name", buf,
	    sizeof(buf)));
	unsetenv("SMTPD_LIBEXEC");
}
END_TEST

START_TEST(test_proc_name)
{
	ck_assert_str_eq(proc_name(PROC_PARENT), "parent");
	ck_assert_str_eq(proc_name(PROC_CONTROL), "control");
	ck_assert_str_eq(proc_name(PROC_LOOKUP), "lookup");
	ck_assert_str_eq(proc_name(PROC_QUEUE), "queue");
	ck_assert_str_eq(proc_name(PROC_SCHEDULER), "scheduler");
	ck_assert_str_eq(proc_name(PROC_NETWORK), "network");
	ck_assert_str_eq(proc_name(PROC_MAX), "unknown");
}
END_TEST

/* ------------------------------------------------------------------ */
/* fake processes                                                      */
/* ------------------------------------------------------------------ */

/* The channel matrix of DAEMON.md, written out independently. */
static int
expected_talk(int a, int b)
{
	static const int pairs[][2] = {
		{ PROC_NETWORK, PROC_LOOKUP }, { PROC_NETWORK, PROC_QUEUE },
		{ PROC_QUEUE, PROC_SCHEDULER }, { PROC_QUEUE, PROC_LOOKUP },
		{ PROC_CONTROL, PROC_LOOKUP },
		{ PROC_CONTROL, PROC_QUEUE }, { PROC_CONTROL, PROC_SCHEDULER },
		{ PROC_CONTROL, PROC_NETWORK },
	};
	size_t	 i;

	if (a == b)
		return 0;
	if (a == PROC_PARENT || b == PROC_PARENT)
		return 1;
	for (i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++)
		if ((pairs[i][0] == a && pairs[i][1] == b) ||
		    (pairs[i][0] == b && pairs[i][1] == a))
			return 1;
	return 0;
}

/* Sockets this process holds, and how many lack O_NONBLOCK or CLOEXEC. */
static void
fake_count_fds(uint32_t *sockets, uint32_t *bad)
{
	struct dirent	*de;
	struct stat	 sb;
	DIR		*d;
	int		 fd, fl, fdfl;

	*sockets = *bad = 0;
	if ((d = opendir("/proc/self/fd")) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		fd = atoi(de->d_name);
		if (fd == dirfd(d) || fstat(fd, &sb) == -1 ||
		    !S_ISSOCK(sb.st_mode))
			continue;
		(*sockets)++;
		fl = fcntl(fd, F_GETFL);
		fdfl = fcntl(fd, F_GETFD);
		if (fl == -1 || !(fl & O_NONBLOCK) || fdfl == -1 ||
		    !(fdfl & FD_CLOEXEC))
			(*bad)++;
	}
	closedir(d);
}

static void
fake_main(enum proc_id self)
{
	struct msg	 m;
	sigset_t	 mask;
	uint32_t	 sockets, bad;
	int		 id;

	proc_init(self);
	proc_init(self);	/* a second call is harmless */
	proc_drop_privileges(NULL);	/* not root here: a no-op */

	fake_count_fds(&sockets, &bad);
	/* the parent's blocked signals must not stay blocked here */
	if (sigprocmask(SIG_SETMASK, NULL, &mask) == -1 ||
	    sigismember(&mask, SIGTERM) || sigismember(&mask, SIGCHLD))
		bad++;
	msg_init(&m);
	msg_add_uint32(&m, sockets);
	msg_add_uint32(&m, bad);
	proc_send(PROC_PARENT, T_FDS, &m, -1);
	msg_free(&m);

	for (id = PROC_PARENT + 1; id < PROC_MAX; id++)
		if (expected_talk(self, id))
			proc_send(id, T_PING, NULL, -1);
	proc_loop(fake_dispatch);
}

static void
fake_dispatch(enum proc_id from, struct imsg *imsg, struct msg_reader *r)
{
	struct msg	 m;

	msg_init(&m);
	switch (imsg->hdr.type) {
	case T_PING:
		msg_add_uint32(&m, from);
		proc_send(PROC_PARENT, T_SAW, &m, -1);
		break;
	case T_ASK_VERBOSE:
		msg_add_int32(&m, log_getverbose());
		proc_send(PROC_PARENT, T_VERBOSE, &m, -1);
		break;
	default:
		/* IMSG_PARENT_* must never get here */
		_exit(40 + (int)proc_self);
	}
	msg_free(&m);
}

void control_main(void) { fake_main(PROC_CONTROL); }
void lookup_main(void) { fake_main(PROC_LOOKUP); }
void queue_main(void) { fake_main(PROC_QUEUE); }
void scheduler_main(void) { fake_main(PROC_SCHEDULER); }
void network_main(void) { fake_main(PROC_NETWORK); }

/* ------------------------------------------------------------------ */
/* the fake parent                                                     */
/* ------------------------------------------------------------------ */

static int	saw[PROC_MAX][PROC_MAX];	/* saw[to][from] */
static int	fds_reported[PROC_MAX];
static int	verbose_reported[PROC_MAX];
static int	failures;
static int	asked_verbose;

static void
parent_dispatch(enum proc_id from, struct imsg *imsg, struct msg_reader *r)
{
	uint32_t	 u, bad;
	int32_t		 v;
	int		 a;

	switch (imsg->hdr.type) {
	case T_SAW:
		if (msg_get_uint32(r, &u) == -1 || u >= PROC_MAX)
			failures++;
		else
			saw[from][u]++;
		break;
	case T_FDS:
		if (msg_get_uint32(r, &u) == -1 ||
		    msg_get_uint32(r, &bad) == -1) {
			failures++;
			break;
		}
		/* one socket per channel it should have, all flagged */
		for (a = 0, v = 0; a < PROC_MAX; a++)
			v += expected_talk(from, a);
		if (u != (uint32_t)v || bad != 0) {
			fprintf(stderr, "%s holds %u sockets (%d expected), "
			    "%u bad (O_NONBLOCK/FD_CLOEXEC missing, "
			    "signals blocked)\n",
			    proc_name(from), u, v, bad);
			failures++;
		}
		fds_reported[from] = 1;
		break;
	case T_VERBOSE:
		if (msg_get_int32(r, &v) == -1 || v != 3)
			failures++;
		verbose_reported[from] = 1;
		break;
	default:
		failures++;
	}
	parent_check_done();
}

/* Once every ping is seen: set verbose 3 everywhere, ask it back, stop. */
static void
parent_check_done(void)
{
	struct msg	 m;
	int		 a, b, status;

	for (a = PROC_PARENT + 1; a < PROC_MAX; a++) {
		if (!fds_reported[a])
			return;
		for (b = PROC_PARENT + 1; b < PROC_MAX; b++)
			if (expected_talk(a, b) && saw[a][b] == 0)
				return;
	}
	if (!asked_verbose) {
		asked_verbose = 1;
		msg_init(&m);
		msg_add_int32(&m, 3);
		for (a = PROC_PARENT + 1; a < PROC_MAX; a++) {
			proc_send(a, IMSG_PARENT_LOG_VERBOSE, &m, -1);
			proc_send(a, T_ASK_VERBOSE, NULL, -1);
		}
		msg_free(&m);
		return;
	}
	for (a = PROC_PARENT + 1; a < PROC_MAX; a++)
		if (!verbose_reported[a])
			return;

	/* No pair that should not talk did. */
	for (a = 0; a < PROC_MAX; a++)
		for (b = 0; b < PROC_MAX; b++)
			if (!expected_talk(a, b) && saw[a][b] != 0)
				failures++;
	/* Closing the channels stops every child, quietly. */
	proc_close_all();
	for (a = PROC_PARENT + 1; a < PROC_MAX; a++) {
		if (waitpid(proc_pid(a), &status, 0) != proc_pid(a) ||
		    !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			fprintf(stderr, "%s ended with status 0x%x\n",
			    proc_name(a), status);
			failures++;
		}
	}
	_exit(failures == 0 ? 0 : 1);
}

/* The whole fake daemon, in a process of its own; its exit status. */
static int
run_daemon(void)
{
	sigset_t set;
	pid_t	 pid;
	int	 status;

	switch (pid = fork()) {
	case -1:
		return -1;
	case 0:
		alarm(60);	/* a hang is a failure, not a stuck run */
		log_init(1, "test_proc");
		/* as smtpd does around the forks */
		sigemptyset(&set);
		sigaddset(&set, SIGTERM);
		sigaddset(&set, SIGCHLD);
		sigprocmask(SIG_BLOCK, &set, NULL);
		proc_spawn_all();
		proc_init(PROC_PARENT);
		proc_loop(parent_dispatch);
	}
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return status;
}

START_TEST(test_channels)
{
	int	 status;

	status = run_daemon();
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "fake daemon ended with status 0x%x", status);
}
END_TEST

static Suite *
proc_suite(void)
{
	Suite	*s = suite_create("proc");
	TCase	*tc = tcase_create("proc");

	tcase_add_test(tc, test_helper_path_default);
	tcase_add_test(tc, test_helper_path_env);
	tcase_add_test(tc, test_helper_path_slash_and_length);
	tcase_add_test(tc, test_proc_name);
	tcase_add_test(tc, test_channels);
	suite_add_tcase(s, tc);
	return s;
}

extern char	**environ;

int
main(int argc, char *argv[])
{
	SRunner	*sr;
	int	 failed;

	/* the children name themselves, as in smtpd */
	setproctitle_init(argc, argv, environ);
	sr = srunner_create(proc_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
