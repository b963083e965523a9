/*
 * test_queue_fs.c: what queue-fs promises beyond the operations: the
 * spool layout, recovery after kill -9, temporary failures (never a
 * crash) when an admin chmods or moves things, group commit, and one
 * instance per spool.  Run from the top of the tree.
 */
#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/stat.h>

#include <linux/capability.h>

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "smtpd-api.h"
#include "queue_client.h"

#define FS_PATH		"queues/queue-fs/queue-fs"
#define BODY		"Subject: durable\r\n\r\nKeep me.\r\n"
#define ENV1		"version: 2\ntype: mda\nrcpt: alice@example.org\n"
#define ENV2		"version: 2\ntype: mta\nrcpt: bob@example.net\n"
#define ENV3		"version: 2\ntype: mta\nrcpt: carol@example.net\n"
#define GROUP		50

static struct qc	 c;
static char		 top[80];	/* scratch: spool, moved, log */
static char		 spool[128];
static char		 logfile[128];

static void
setup(void)
{
	int	 fd;

	log_init(1, "test_queue_fs");
	strlcpy(top, "/tmp/test_queue_fs.XXXXXX", sizeof(top));
	ck_assert_ptr_nonnull(mkdtemp(top));
	snprintf(spool, sizeof(spool), "%s/spool", top);
	snprintf(logfile, sizeof(logfile), "%s/log", top);
	/* The helper inherits stderr: its log lines land in logfile. */
	fd = open(logfile, O_WRONLY | O_CREAT | O_APPEND, 0600);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	close(fd);
}

static void
teardown(void)
{
	char	 cmd[256];

	snprintf(cmd, sizeof(cmd), "chmod -R u+rwx %s; rm -rf %s", top, top);
	if (system(cmd) != 0)
		fprintf(stdout, "cannot clean %s\n", top);
}

static void
start(void)
{
	char	*argv[] = { FS_PATH, spool, NULL };

	qc_start(&c, argv, "");
	/* READY comes before recovery; the first answer comes after. */
	ck_assert_int_ge(qc_stat(&c, "syncs"), 0);
}

/* A committed message with the given envelopes. */
static uint32_t
message(const char *const *texts, uint64_t *evpids, size_t n)
{
	uint32_t	 msgid;
	size_t		 i;

	ck_assert_int_eq(qc_create(&c, BODY, &msgid), 1);
	for (i = 0; i < n; i++)
		ck_assert_int_eq(qc_envelope(&c, msgid, texts[i],
		    &evpids[i]), 1);
	ck_assert_int_eq(qc_commit(&c, msgid), 1);
	return msgid;
}

static void
read_file(const char *path, char *buf, size_t bufsz)
{
	ssize_t	 n;
	int	 fd;

	fd = open(path, O_RDONLY);
	ck_assert_msg(fd != -1, "%s: %s", path, strerror(errno));
	n = read(fd, buf, bufsz - 1);
	ck_assert_int_ge(n, 0);
	buf[n] = '\0';
	close(fd);
}

static int
log_has(const char *a, const char *b)
{
	char	 buf[65536];

	read_file(logfile, buf, sizeof(buf));
	return strstr(buf, a) != NULL && (b == NULL || strstr(buf, b) != NULL);
}

static int
dir_entries(const char *path)
{
	struct dirent	*de;
	DIR		*d;
	int		 n = 0;

	d = opendir(path);
	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

START_TEST(test_layout)
{
	const char *const texts[] = { ENV1, ENV2 };
	uint64_t	 evpids[2];
	uint32_t	 msgid;
	char		 path[256], buf[4096];

	start();
	msgid = message(texts, evpids, 2);
	snprintf(path, sizeof(path), "%s/queue/%02x/%08x/message", spool,
	    msgid >> 24, msgid);
	read_file(path, buf, sizeof(buf));
	ck_assert_str_eq(buf, BODY);
	snprintf(path, sizeof(path), "%s/queue/%02x/%08x/envelopes/%016llx",
	    spool, msgid >> 24, msgid, (unsigned long long)evpids[1]);
	read_file(path, buf, sizeof(buf));
	ck_assert_str_eq(buf, ENV2);
	snprintf(path, sizeof(path), "%s/incoming", spool);
	ck_assert_int_eq(dir_entries(path), 0);
	qc_stop(&c);
}
END_TEST

/* Never acknowledged, so gone after a crash: nothing half-made stays. */
START_TEST(test_kill_before_commit)
{
	uint64_t	 evpid, walked[4];
	uint32_t	 msgid;
	size_t		 n;
	char		 path[256];

	start();
	ck_assert_int_eq(qc_create(&c, BODY, &msgid), 1);
	ck_assert_int_eq(qc_envelope(&c, msgid, ENV1, &evpid), 1);
	qc_kill(&c);
	start();
	snprintf(path, sizeof(path), "%s/incoming", spool);
	ck_assert_int_eq(dir_entries(path), 0);
	ck_assert_int_eq(qc_walk(&c, walked, 4, &n, NULL), 1);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(qc_commit(&c, msgid), 0);
	qc_stop(&c);
}
END_TEST

/* Acknowledged, so found after a crash, with its latest updates. */
START_TEST(test_kill_after_commit)
{
	const char *const texts[] = { ENV1, ENV2 };
	uint64_t	 evpids[3], walked[4];
	uint32_t	 msgid;
	size_t		 n;
	char		 buf[QUEUE_ENVELOPE_MAX + 1];

	start();
	msgid = message(texts, evpids, 2);
	ck_assert_int_eq(qc_update(&c, evpids[0], ENV3), 1);
	/* An envelope added after the commit is durable on its own. */
	ck_assert_int_eq(qc_envelope(&c, msgid, ENV1, &evpids[2]), 1);
	qc_kill(&c);
	start();
	ck_assert_int_eq(qc_walk(&c, walked, 4, &n, NULL), 1);
	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(qc_load(&c, evpids[0], buf, sizeof(buf)), 1);
	ck_assert_str_eq(buf, ENV3);
	ck_assert_int_eq(qc_load(&c, evpids[2], buf, sizeof(buf)), 1);
	ck_assert_str_eq(buf, ENV1);
	ck_assert_int_eq(qc_cat(&c, msgid, buf, sizeof(buf)), 1);
	ck_assert_str_eq(buf, BODY);
	qc_stop(&c);
}
END_TEST

/* Leftovers of a crash are cleaned at start-up. */
START_TEST(test_startup_cleanup)
{
	uint64_t	 walked[4];
	size_t		 n;
	char		 path[256];
	int		 fd;

	start();
	qc_stop(&c);
	snprintf(path, sizeof(path), "%s/incoming/12345678", spool);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/incoming/12345678/envelopes", spool);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/tmp/1234567800000001.7", spool);
	ck_assert_int_ne(fd = open(path, O_WRONLY | O_CREAT, 0600), -1);
	close(fd);
	snprintf(path, sizeof(path), "%s/purge/87654321", spool);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	/* A message whose last envelope went just before a crash. */
	snprintf(path, sizeof(path), "%s/queue/ab", spool);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/queue/ab/ab000001", spool);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/queue/ab/ab000001/envelopes", spool);
	ck_assert_int_eq(mkdir(path, 0700), 0);

	start();
	snprintf(path, sizeof(path), "%s/incoming", spool);
	ck_assert_int_eq(dir_entries(path), 0);
	snprintf(path, sizeof(path), "%s/tmp", spool);
	ck_assert_int_eq(dir_entries(path), 0);
	snprintf(path, sizeof(path), "%s/purge", spool);
	ck_assert_int_eq(dir_entries(path), 0);
	ck_assert_int_eq(qc_walk(&c, walked, 4, &n, NULL), 1);
	ck_assert_uint_eq(n, 0);
	snprintf(path, sizeof(path), "%s/queue/ab", spool);
	ck_assert_int_eq(dir_entries(path), 0);
	qc_stop(&c);
}
END_TEST

/*
 * Root reads a mode 000 file anyway: the helper is started without the
 * capabilities that allow it, so that the test means the same for root.
 * Returns -1 when that cannot be done.
 */
static int
drop_dac_capabilities(void)
{
	if (geteuid() != 0)
		return 0;
	if (prctl(PR_CAPBSET_DROP, CAP_DAC_OVERRIDE, 0, 0, 0) == -1 ||
	    prctl(PR_CAPBSET_DROP, CAP_DAC_READ_SEARCH, 0, 0, 0) == -1)
		return -1;
	return 0;
}

START_TEST(test_chmod_envelope)
{
	const char *const texts[] = { ENV1, ENV2 };
	uint64_t	 evpids[2], walked[4];
	uint32_t	 msgid;
	size_t		 n;
	char		 path[256], full[512], aside[512];
	char		 buf[QUEUE_ENVELOPE_MAX + 1];
	int		 chmod_bites;

	chmod_bites = drop_dac_capabilities() == 0;
	start();
	msgid = message(texts, evpids, 2);
	snprintf(path, sizeof(path), "queue/%02x/%08x/envelopes/%016llx",
	    msgid >> 24, msgid, (unsigned long long)evpids[0]);
	snprintf(full, sizeof(full), "%s/%s", spool, path);
	if (chmod_bites)
		ck_assert_int_eq(chmod(full, 0), 0);
	else {
		/* Without the means to drop root's power: unreadable too. */
		snprintf(aside, sizeof(aside), "%s/aside", top);
		ck_assert_int_eq(rename(full, aside), 0);
		ck_assert_int_eq(mkdir(full, 0700), 0);
	}

	ck_assert_int_eq(qc_load(&c, evpids[0], buf, sizeof(buf)), -1);
	ck_assert_msg(log_has(path, chmod_bites ? "Permission denied" :
	    "Is a directory"), "no log line");
	/* Still serving: the other envelope, and WALK skips the bad one. */
	ck_assert_int_eq(qc_load(&c, evpids[1], buf, sizeof(buf)), 1);
	ck_assert_str_eq(buf, ENV2);
	ck_assert_int_eq(qc_walk(&c, walked, 4, &n, NULL), 1);
	ck_assert_uint_eq(n, 1);
	ck_assert(walked[0] == evpids[1]);
	qc_stop(&c);
}
END_TEST

START_TEST(test_moved_message)
{
	const char *const texts[] = { ENV1 };
	uint64_t	 evpid, other_evpid, walked[4];
	uint32_t	 msgid;
	size_t		 n;
	char		 path[256], moved[256], rel[64];
	char		 buf[QUEUE_ENVELOPE_MAX + 1];

	start();
	msgid = message(texts, &evpid, 1);
	message(texts, &other_evpid, 1);
	snprintf(rel, sizeof(rel), "queue/%02x/%08x", msgid >> 24, msgid);
	snprintf(path, sizeof(path), "%s/%s", spool, rel);
	snprintf(moved, sizeof(moved), "%s/moved", top);
	ck_assert_int_eq(rename(path, moved), 0);

	ck_assert_int_eq(qc_load(&c, evpid, buf, sizeof(buf)), -1);
	ck_assert_int_eq(qc_cat(&c, msgid, buf, sizeof(buf)), -1);
	ck_assert_int_eq(qc_update(&c, evpid, ENV2), -1);
	ck_assert_msg(log_has(rel, "No such file or directory"),
	    "no log line");
	ck_assert_int_eq(qc_load(&c, other_evpid, buf, sizeof(buf)), 1);
	ck_assert_int_eq(qc_walk(&c, walked, 4, &n, NULL), 1);
	ck_assert_uint_eq(n, 1);

	/* Put back, it is served again. */
	ck_assert_int_eq(rename(moved, path), 0);
	ck_assert_int_eq(qc_load(&c, evpid, buf, sizeof(buf)), 1);
	ck_assert_str_eq(buf, ENV1);
	qc_stop(&c);
}
END_TEST

/*
 * Commits sent together share their syncs: the counters tell, so the
 * test needs no clock.  Sequential commits cost a round each, which
 * shows the counter would catch a backend syncing per commit.
 */
START_TEST(test_group_commit)
{
	static struct qc_reply	 replies[GROUP];
	struct msg		 m;
	uint64_t		 evpid;
	uint32_t		 msgids[GROUP];
	int64_t			 rounds, syncs, commits;
	size_t			 i;

	start();
	for (i = 0; i < GROUP; i++) {
		ck_assert_int_eq(qc_create(&c, BODY, &msgids[i]), 1);
		ck_assert_int_eq(qc_envelope(&c, msgids[i], ENV1, &evpid), 1);
	}
	rounds = qc_stat(&c, "commit.rounds");
	syncs = qc_stat(&c, "syncs");
	commits = qc_stat(&c, "message.commit");
	ck_assert_int_ge(rounds, 0);

	for (i = 0; i < GROUP; i++) {
		msg_init(&m);
		msg_add_uint32(&m, msgids[i]);
		qc_send(&c, IMSG_QUEUE_MESSAGE_COMMIT, &m, &replies[i]);
		msg_free(&m);
	}
	qc_wait(&c, replies, GROUP);
	for (i = 0; i < GROUP; i++) {
		ck_assert_int_eq(replies[i].result, 1);
		qc_reply_free(&replies[i]);
	}
	ck_assert_int_eq(qc_stat(&c, "message.commit") - commits, GROUP);
	ck_assert_int_le(qc_stat(&c, "commit.rounds") - rounds, GROUP / 5);
	ck_assert_int_le(qc_stat(&c, "syncs") - syncs, 2 * GROUP / 5);

	rounds = qc_stat(&c, "commit.rounds");
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(qc_create(&c, BODY, &msgids[i]), 1);
		ck_assert_int_eq(qc_envelope(&c, msgids[i], ENV1, &evpid), 1);
		ck_assert_int_eq(qc_commit(&c, msgids[i]), 1);
	}
	ck_assert_int_eq(qc_stat(&c, "commit.rounds") - rounds, 3);
	qc_stop(&c);
}
END_TEST

/* The spool may come from HELLO's configuration string. */
START_TEST(test_spool_from_config)
{
	char		*argv[] = { FS_PATH, NULL };
	const char *const texts[] = { ENV1 };
	uint64_t	 evpid;
	uint32_t	 msgid;
	char		 path[256];

	qc_start(&c, argv, spool);
	msgid = message(texts, &evpid, 1);
	snprintf(path, sizeof(path), "%s/queue/%02x/%08x/message", spool,
	    msgid >> 24, msgid);
	ck_assert_int_eq(access(path, R_OK), 0);
	qc_stop(&c);
}
END_TEST

/* Two instances would clean each other's incoming messages. */
START_TEST(test_one_instance)
{
	struct qc	 first;
	char		*argv[] = { FS_PATH, spool, NULL };

	qc_start(&first, argv, "");
	qc_start(&c, argv, "");
	qc_wait_down(&c);
	qc_stop(&c);
	ck_assert_msg(log_has("spool in use", NULL), "no log line");
	qc_stop(&first);
}
END_TEST

static Suite *
queue_fs_suite(void)
{
	Suite	*s = suite_create("queue_fs");
	TCase	*tc = tcase_create("fs");

	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_layout);
	tcase_add_test(tc, test_kill_before_commit);
	tcase_add_test(tc, test_kill_after_commit);
	tcase_add_test(tc, test_startup_cleanup);
	tcase_add_test(tc, test_chmod_envelope);
	tcase_add_test(tc, test_moved_message);
	tcase_add_test(tc, test_group_commit);
	tcase_add_test(tc, test_spool_from_config);
	tcase_add_test(tc, test_one_instance);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(queue_fs_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
