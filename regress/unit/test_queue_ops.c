/*
 * test_queue_ops.c: every queue operation, against queue-fs and
 * queue-ram alike (each test runs once per backend), through imsgproc
 * as the daemon would drive them.  Run from the top of the tree.
 */
#include <sys/types.h>

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "smtpd-api.h"
#include "queue_client.h"

#define FS_PATH		"queues/queue-fs/queue-fs"
#define RAM_PATH	"queues/queue-ram/queue-ram"

#define BODY		"Subject: test\r\n\r\nHello.\r\n"
#define ENV1		"version: 2\ntype: mda\nrcpt: alice@example.org\n"
#define ENV2		"version: 2\ntype: mta\nrcpt: bob@example.net\n"
#define ENV3		"version: 2\ntype: mta\nrcpt: carol@example.net\n"

static struct qc	 c;
static char		 spool[64];

/* _i is check's loop index: 0 queue-fs, 1 queue-ram. */
static void
start(int backend)
{
	char	*argv[3];

	log_init(1, "test_queue_ops");
	if (backend == 0) {
		strlcpy(spool, "/tmp/test_queue_ops.XXXXXX", sizeof(spool));
		ck_assert_ptr_nonnull(mkdtemp(spool));
		argv[0] = FS_PATH;
		argv[1] = spool;
		argv[2] = NULL;
	} else {
		spool[0] = '\0';
		argv[0] = RAM_PATH;
		argv[1] = NULL;
	}
	qc_start(&c, argv, "");
}

static void
stop(void)
{
	char	 cmd[128];

	qc_stop(&c);
	if (spool[0] != '\0') {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", spool);
		ck_assert_int_eq(system(cmd), 0);
	}
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

START_TEST(test_round_trip)
{
	const char *const texts[] = { ENV1, ENV2 };
	uint64_t	 evpids[2], walked[8];
	uint32_t	 msgid;
	size_t		 n;
	char		 buf[QUEUE_ENVELOPE_MAX + 1];

	start(_i);
	msgid = message(texts, evpids, 2);
	ck_assert_int_eq(qc_cat(&c, msgid, buf, sizeof(buf)), 1);
	ck_assert_str_eq(buf, BODY);
	ck_assert_int_eq(qc_load(&c, evpids[0], buf, sizeof(buf)), 1);
	ck_assert_str_eq(buf, ENV1);
	ck_assert_int_eq(qc_load(&c, evpids[1], buf, sizeof(buf)), 1);
	ck_assert_str_eq(buf, ENV2);

	ck_assert_int_eq(qc_walk(&c, walked, 8, &n, NULL), 1);
	ck_assert_uint_eq(n, 2);
	ck_assert(walked[0] == (evpids[0] < evpids[1] ? evpids[0] : evpids[1]));
	ck_assert(walked[1] == (evpids[0] < evpids[1] ? evpids[1] : evpids[0]));

	ck_assert_int_eq(qc_update(&c, evpids[0], ENV3), 1);
	ck_assert_int_eq(qc_load(&c, evpids[0], buf, sizeof(buf)), 1);
	ck_assert_str_eq(buf, ENV3);

	/* The message goes with its last envelope. */
	ck_assert_int_eq(qc_delete(&c, evpids[0]), 1);
	ck_assert_int_eq(qc_load(&c, evpids[0], buf, sizeof(buf)), 0);
	ck_assert_int_eq(qc_delete(&c, evpids[0]), 0);
	ck_assert_int_eq(qc_cat(&c, msgid, buf, sizeof(buf)), 1);
	ck_assert_int_eq(qc_delete(&c, evpids[1]), 1);
	ck_assert_int_ne(qc_cat(&c, msgid, buf, sizeof(buf)), 1);
	ck_assert_int_eq(qc_walk(&c, walked, 8, &n, NULL), 1);
	ck_assert_uint_eq(n, 0);
	stop();
}
END_TEST

START_TEST(test_ids)
{
	uint32_t	 msgids[20];
	uint64_t	 evpid;
	size_t		 i, j;

	start(_i);
	for (i = 0; i < 20; i++) {
		ck_assert_int_eq(qc_create(&c, BODY, &msgids[i]), 1);
		ck_assert_uint_ne(msgids[i], 0);
		for (j = 0; j < i; j++)
			ck_assert_uint_ne(msgids[i], msgids[j]);
		ck_assert_int_eq(qc_envelope(&c, msgids[i], ENV1, &evpid), 1);
		ck_assert_uint_eq(evpid >> 32, msgids[i]);
		ck_assert_uint_ne(evpid & 0xffffffff, 0);
	}
	stop();
}
END_TEST

/* Envelopes made before the commit appear with it, not before. */
START_TEST(test_transactional)
{
	uint64_t	 evpid, walked[4];
	uint32_t	 msgid;
	size_t		 n;
	char		 buf[QUEUE_ENVELOPE_MAX + 1];

	start(_i);
	ck_assert_int_eq(qc_create(&c, BODY, &msgid), 1);
	ck_assert_int_eq(qc_envelope(&c, msgid, ENV1, &evpid), 1);
	ck_assert_int_eq(qc_walk(&c, walked, 4, &n, NULL), 1);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(qc_load(&c, evpid, buf, sizeof(buf)), 0);
	ck_assert_int_eq(qc_cat(&c, msgid, buf, sizeof(buf)), 0);
	/* Updates before the commit are part of the transaction. */
	ck_assert_int_eq(qc_update(&c, evpid, ENV2), 1);
	ck_assert_int_eq(qc_commit(&c, msgid), 1);
	ck_assert_int_eq(qc_walk(&c, walked, 4, &n, NULL), 1);
	ck_assert_uint_eq(n, 1);
	ck_assert(walked[0] == evpid);
	ck_assert_int_eq(qc_load(&c, evpid, buf, sizeof(buf)), 1);
	ck_assert_str_eq(buf, ENV2);
	/* A repeated commit (answer lost) is still done. */
	ck_assert_int_eq(qc_commit(&c, msgid), 1);
	/* An unknown message is not found. */
	ck_assert_int_eq(qc_commit(&c, msgid ^ 0x5a5a5a5a), 0);
	stop();
}
END_TEST

START_TEST(test_delete_message)
{
	const char *const texts[] = { ENV1, ENV2 };
	uint64_t	 evpids[2], walked[4];
	uint32_t	 msgid, open_msgid;
	size_t		 n;

	start(_i);
	msgid = message(texts, evpids, 2);
	ck_assert_int_eq(qc_delmsg(&c, msgid), 1);
	ck_assert_int_eq(qc_walk(&c, walked, 4, &n, NULL), 1);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(qc_delmsg(&c, msgid), 0);
	/* A message never committed can be thrown away too. */
	ck_assert_int_eq(qc_create(&c, BODY, &open_msgid), 1);
	ck_assert_int_eq(qc_delmsg(&c, open_msgid), 1);
	ck_assert_int_eq(qc_commit(&c, open_msgid), 0);
	stop();
}
END_TEST

START_TEST(test_corrupt)
{
	const char *const texts[] = { ENV1 };
	uint64_t	 evpid, walked[4];
	uint32_t	 msgid;
	size_t		 n;
	char		 buf[QUEUE_ENVELOPE_MAX + 1], path[128];

	start(_i);
	msgid = message(texts, &evpid, 1);
	ck_assert_int_eq(qc_corrupt(&c, msgid), 1);
	ck_assert_int_eq(qc_walk(&c, walked, 4, &n, NULL), 1);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_ne(qc_load(&c, evpid, buf, sizeof(buf)), 1);
	ck_assert_int_eq(qc_corrupt(&c, msgid), 0);
	if (spool[0] != '\0') {
		/* Kept for a human, out of the queue. */
		snprintf(path, sizeof(path), "%s/corrupt/%08x/envelopes/%016llx",
		    spool, msgid, (unsigned long long)evpid);
		ck_assert_int_eq(access(path, R_OK), 0);
	}
	stop();
}
END_TEST

/* Enough envelopes that WALK needs several batches. */
START_TEST(test_walk_batches)
{
	static uint64_t	 evpids[64], walked[64];
	char		*text;
	uint32_t	 msgid;
	size_t		 i, n, batches;

	start(_i);
	text = malloc(4001);
	ck_assert_ptr_nonnull(text);
	memset(text, 'x', 4000);
	text[4000] = '\0';
	ck_assert_int_eq(qc_create(&c, BODY, &msgid), 1);
	for (i = 0; i < 40; i++)
		ck_assert_int_eq(qc_envelope(&c, msgid, text, &evpids[i]), 1);
	ck_assert_int_eq(qc_commit(&c, msgid), 1);
	ck_assert_int_eq(qc_walk(&c, walked, 64, &n, &batches), 1);
	ck_assert_uint_eq(n, 40);
	ck_assert_uint_ge(batches, 3);
	for (i = 0; i < 40; i++)
		ck_assert_uint_eq(walked[i] >> 32, msgid);
	free(text);
	stop();
}
END_TEST

/* Bad requests get an answer, and the backend goes on serving. */
START_TEST(test_bad_requests)
{
	struct msg	 m;
	uint64_t	 evpid;
	uint32_t	 msgid;
	char		 big[QUEUE_ENVELOPE_MAX + 2];

	start(_i);
	msg_init(&m);
	msg_add_string(&m, "not a msgid");
	ck_assert_int_eq(qc_raw(&c, IMSG_QUEUE_MESSAGE_COMMIT, &m), -1);
	msg_free(&m);
	msg_init(&m);
	ck_assert_int_eq(qc_raw(&c, 299, &m), -1);
	msg_free(&m);
	ck_assert_int_eq(qc_create(&c, BODY, &msgid), 1);
	memset(big, 'y', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ck_assert_int_eq(qc_envelope(&c, msgid, big, &evpid), 0);
	ck_assert_int_eq(qc_envelope(&c, msgid, "", &evpid), 0);
	ck_assert_int_eq(qc_envelope(&c, 0, ENV1, &evpid), 0);
	ck_assert_int_eq(qc_envelope(&c, msgid, ENV1, &evpid), 1);
	ck_assert_int_eq(qc_commit(&c, msgid), 1);
	ck_assert_int_eq(qc_stat(&c, "message.commit"), 1);
	stop();
}
END_TEST

static Suite *
queue_ops_suite(void)
{
	Suite	*s = suite_create("queue_ops");
	TCase	*tc = tcase_create("ops");

	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_round_trip, 0, 2);
	tcase_add_loop_test(tc, test_ids, 0, 2);
	tcase_add_loop_test(tc, test_transactional, 0, 2);
	tcase_add_loop_test(tc, test_delete_message, 0, 2);
	tcase_add_loop_test(tc, test_corrupt, 0, 2);
	tcase_add_loop_test(tc, test_walk_batches, 0, 2);
	tcase_add_loop_test(tc, test_bad_requests, 0, 2);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(queue_ops_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
