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
#include <poll.h>
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
#define PURGE_WAIT_MS	60000	/* generous: the purge runs when idle */
#define POLL_MS		20

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

/*
 * Waits until the backend has removed removed entries of purge/ since
 * the counter was at base and holds none back; the purge runs when the
 * backend is idle, so this polls with a generous deadline.
 */
static void
wait_purged(int64_t base, int64_t removed)
{
	int	 waited;

	for (waited = 0; waited < PURGE_WAIT_MS; waited += POLL_MS) {
		if (qc_stat(&c, "purge.removed") - base >= removed &&
		    qc_stat(&c, "purge.backlog") == 0)
			return;
		poll(NULL, 0, POLL_MS);
	}
	ck_abort_msg("purge/ not emptied after %d ms", PURGE_WAIT_MS);
}

/* The name of the one entry of path, into buf. */
static void
only_entry(const char *path, char *buf, size_t bufsz)
{
	struct dirent	*de;
	DIR		*d;
	int		 n = 0;

	d = opendir(path);
	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		strlcpy(buf, de->d_name, bufsz);
		n++;
	}
	closedir(d);
	ck_assert_int_eq(n, 1);
}

/*
 * Deleting the last envelope is one rename into purge/, answered at
 * once: the files are removed later.  Shown without a clock by an
 * envelope that cannot be removed (its directory made read-only): the
 * delete still succeeds, the message is out of the queue, its files
 * wait in purge/ for the next start-up.  Removing the files before the
 * answer, as queue-fs once did, failed that delete.
 */
START_TEST(test_delete_before_purge)
{
	const char *const texts[] = { ENV1 };
	uint64_t	 evpid, walked[4];
	uint32_t	 msgid;
	size_t		 n;
	char		 path[256], name[64], want[16], cmd[512];
	int64_t		 base;

	if (drop_dac_capabilities() == -1)
		return;		/* root, and cannot be less: untestable */
	start();
	msgid = message(texts, &evpid, 1);
	snprintf(path, sizeof(path), "%s/queue/%02x/%08x/envelopes", spool,
	    msgid >> 24, msgid);
	ck_assert_int_eq(chmod(path, 0500), 0);
	base = qc_stat(&c, "purge.removed");

	ck_assert_int_eq(qc_delete(&c, evpid), 1);
	ck_assert_int_eq(qc_walk(&c, walked, 4, &n, NULL), 1);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(qc_delete(&c, evpid), 0);
	wait_purged(base, 1);
	ck_assert_msg(log_has("left for the next start-up", NULL),
	    "no log line");
	snprintf(path, sizeof(path), "%s/purge", spool);
	only_entry(path, name, sizeof(name));
	snprintf(want, sizeof(want), "%08x.", msgid);
	ck_assert_int_eq(strncmp(name, want, strlen(want)), 0);

	/* Made removable again, it goes at the next start-up. */
	qc_stop(&c);
	snprintf(cmd, sizeof(cmd), "chmod -R u+rwx %s/purge", spool);
	ck_assert_int_eq(system(cmd), 0);
	start();
	ck_assert_int_eq(dir_entries(path), 0);
	qc_stop(&c);
}
END_TEST

/*
 * Deleted messages, by their last envelope or whole, committed or not,
 * are removed from purge/ once the backend is idle, without an error.
 */
START_TEST(test_purge_when_idle)
{
	const char *const texts[] = { ENV1, ENV2, ENV3 };
	uint64_t	 a[3], b[3], evpid, walked[4];
	uint32_t	 ma, mb, mc;
	size_t		 n;
	char		 path[256];
	int64_t		 base, deleted, tempfail;

	start();
	ma = message(texts, a, 2);
	mb = message(texts, b, 3);
	ck_assert_int_eq(qc_create(&c, BODY, &mc), 1);
	ck_assert_int_eq(qc_envelope(&c, mc, ENV1, &evpid), 1);
	base = qc_stat(&c, "purge.removed");
	ck_assert_int_ge(base, 0);
	deleted = qc_stat(&c, "message.delete");
	tempfail = qc_stat(&c, "tempfail");

	ck_assert_int_eq(qc_delete(&c, a[0]), 1);
	ck_assert_int_eq(qc_delete(&c, a[1]), 1);
	ck_assert_int_eq(qc_delmsg(&c, mb), 1);
	ck_assert_int_eq(qc_delmsg(&c, mc), 1);
	ck_assert_int_eq(qc_stat(&c, "message.delete") - deleted, 3);
	ck_assert_int_eq(qc_walk(&c, walked, 4, &n, NULL), 1);
	ck_assert_uint_eq(n, 0);

	wait_purged(base, 3);
	snprintf(path, sizeof(path), "%s/purge", spool);
	ck_assert_int_eq(dir_entries(path), 0);
	snprintf(path, sizeof(path), "%s/queue/%02x/%08x", spool, ma >> 24,
	    ma);
	ck_assert_int_eq(access(path, F_OK), -1);
	snprintf(path, sizeof(path), "%s/queue/%02x/%08x", spool, mb >> 24,
	    mb);
	ck_assert_int_eq(access(path, F_OK), -1);
	snprintf(path, sizeof(path), "%s/incoming", spool);
	ck_assert_int_eq(dir_entries(path), 0);
	ck_assert_int_eq(qc_stat(&c, "tempfail"), tempfail);
	qc_stop(&c);
}
END_TEST

/*
 * queue-fs makes a bucket directory once, not at every commit; one an
 * admin removed since is made again.  Messages are created until one
 * falls in the removed bucket (1 in 256).
 */
START_TEST(test_bucket_removed)
{
	const char *const texts[] = { ENV1 };
	uint64_t	 evpid, walked[4];
	uint32_t	 first, msgid;
	size_t		 n;
	char		 path[256];
	int64_t		 base;
	int		 i;

	start();
	first = message(texts, &evpid, 1);
	base = qc_stat(&c, "purge.removed");
	ck_assert_int_eq(qc_delete(&c, evpid), 1);
	wait_purged(base, 1);
	snprintf(path, sizeof(path), "%s/queue/%02x", spool, first >> 24);
	ck_assert_int_eq(rmdir(path), 0);

	for (i = 0; i < 20000; i++) {
		ck_assert_int_eq(qc_create(&c, BODY, &msgid), 1);
		if (msgid >> 24 == first >> 24)
			break;
		ck_assert_int_eq(qc_delmsg(&c, msgid), 1);
	}
	ck_assert_int_lt(i, 20000);
	ck_assert_int_eq(qc_envelope(&c, msgid, ENV1, &evpid), 1);
	ck_assert_int_eq(qc_commit(&c, msgid), 1);
	ck_assert_int_eq(qc_walk(&c, walked, 4, &n, NULL), 1);
	ck_assert_uint_eq(n, 1);
	ck_assert(walked[0] == evpid);
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
	tcase_add_test(tc, test_delete_before_purge);
	tcase_add_test(tc, test_purge_when_idle);
	tcase_add_test(tc, test_bucket_removed);
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
