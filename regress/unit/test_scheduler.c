/*
 * test_scheduler.c: the in-memory schedule (scheduler_ram), driven with
 * made-up times: transactions, back-off, expiry, hold, schedule now,
 * removal, batch order and the in-flight limit.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "envelope.h"
#include "scheduler_ram.h"

#define T0	1700000000
#define MSG_A	0x0a0a0a0aU
#define MSG_B	0x0b0b0b0bU

static struct scheduler_ram *
new_sched(size_t inflight)
{
	struct sched_policy	 p;
	struct scheduler_ram	*s;

	scheduler_ram_policy_default(&p);
	p.inflight_max = inflight;
	p.ttl = 1000;
	s = scheduler_ram_new(&p);
	ck_assert_ptr_nonnull(s);
	return s;
}

static uint64_t
evp(uint32_t msgid, uint32_t n)
{
	return msgid_to_evpid(msgid) | n;
}

static void
insert(struct scheduler_ram *s, uint64_t evpid, uint32_t type,
    time_t creation)
{
	struct sched_info	 si;

	memset(&si, 0, sizeof(si));
	si.evpid = evpid;
	si.type = type;
	si.creation = creation;
	ck_assert_int_eq(scheduler_ram_insert(s, &si), 1);
}

static size_t
batch(struct scheduler_ram *s, time_t now, int paused,
    struct sched_item *items, int64_t *delay)
{
	return scheduler_ram_batch(s, now, paused, items, 64, delay);
}

START_TEST(test_commit_rollback)
{
	struct scheduler_ram	*s = new_sched(100);
	struct sched_item	 items[64];
	struct sched_status	 st;
	int64_t			 delay;

	insert(s, evp(MSG_A, 1), D_MDA, T0);
	insert(s, evp(MSG_A, 2), D_MDA, T0);
	insert(s, evp(MSG_B, 1), D_MDA, T0);
	/* staged: nothing schedulable, nothing listed */
	ck_assert_uint_eq(batch(s, T0, 0, items, &delay), 0);
	ck_assert_int_eq(delay, -1);
	ck_assert_int_eq(scheduler_ram_status(s, evp(MSG_A, 1), &st), 0);
	ck_assert_uint_eq(scheduler_ram_count(s), 0);

	/* a duplicate insert is ignored */
	{
		struct sched_info si = { .evpid = evp(MSG_A, 1),
		    .type = D_MDA, .creation = T0 };
		ck_assert_int_eq(scheduler_ram_insert(s, &si), 0);
	}

	ck_assert_uint_eq(scheduler_ram_rollback(s, MSG_B), 1);
	ck_assert_uint_eq(scheduler_ram_commit(s, MSG_B, T0), 0);
	ck_assert_uint_eq(scheduler_ram_commit(s, MSG_A, T0), 2);
	ck_assert_uint_eq(scheduler_ram_count(s), 2);
	/* a second commit changes nothing */
	ck_assert_uint_eq(scheduler_ram_commit(s, MSG_A, T0), 0);
	ck_assert_int_eq(scheduler_ram_status(s, evp(MSG_A, 2), &st), 1);
	ck_assert_int_eq(st.state, SCHED_PENDING);

	ck_assert_uint_eq(batch(s, T0, 0, items, &delay), 2);
	ck_assert(items[0].evpid == evp(MSG_A, 1));
	ck_assert(items[1].evpid == evp(MSG_A, 2));
	ck_assert_int_eq(items[0].action, SCHED_ACT_MDA);
	ck_assert_uint_eq(scheduler_ram_inflight(s), 2);
	ck_assert_int_eq(delay, -1);
	ck_assert_int_eq(scheduler_ram_done(s, evp(MSG_A, 1)), 1);
	/* a duplicate result is ignored */
	ck_assert_int_eq(scheduler_ram_done(s, evp(MSG_A, 1)), 0);
	ck_assert_int_eq(scheduler_ram_done(s, evp(MSG_B, 1)), 0);
	ck_assert_int_eq(scheduler_ram_done(s, evp(MSG_A, 2)), 1);
	ck_assert_uint_eq(scheduler_ram_count(s), 0);
	ck_assert_uint_eq(scheduler_ram_inflight(s), 0);
	scheduler_ram_free(s);
}
END_TEST

START_TEST(test_backoff)
{
	struct sched_policy	 p;
	struct scheduler_ram	*s = new_sched(100);
	struct sched_item	 items[64];
	struct sched_status	 st;
	int64_t			 delay;
	uint64_t		 id = evp(MSG_A, 7);

	scheduler_ram_policy_default(&p);
	ck_assert_int_eq(scheduler_ram_backoff(&p, 0), 0);
	ck_assert_int_eq(scheduler_ram_backoff(&p, 1), 10);
	ck_assert_int_eq(scheduler_ram_backoff(&p, 2), 20);
	ck_assert_int_eq(scheduler_ram_backoff(&p, 3), 40);
	ck_assert_int_eq(scheduler_ram_backoff(&p, 9), 2560);
	ck_assert_int_eq(scheduler_ram_backoff(&p, 10), 3600);
	ck_assert_int_eq(scheduler_ram_backoff(&p, 1000), 3600);

	insert(s, id, D_MDA, T0);
	scheduler_ram_commit(s, MSG_A, T0);
	ck_assert_uint_eq(batch(s, T0, 0, items, &delay), 1);
	ck_assert_int_eq(scheduler_ram_tempfail(s, id, 1, T0), 1);
	ck_assert_int_eq(scheduler_ram_status(s, id, &st), 1);
	ck_assert_int_eq(st.state, SCHED_PENDING);
	ck_assert_int_eq(st.retry, 1);
	ck_assert_int_eq(st.nexttry, T0 + 10);
	ck_assert_uint_eq(batch(s, T0 + 9, 0, items, &delay), 0);
	ck_assert_int_eq(delay, 1);
	ck_assert_uint_eq(batch(s, T0 + 10, 0, items, &delay), 1);
	/* retry 0 from the queue: the scheduler counts one more itself */
	ck_assert_int_eq(scheduler_ram_tempfail(s, id, 0, T0 + 10), 1);
	ck_assert_int_eq(scheduler_ram_status(s, id, &st), 1);
	ck_assert_int_eq(st.retry, 2);
	ck_assert_int_eq(st.nexttry, T0 + 30);
	ck_assert_uint_eq(batch(s, T0 + 29, 0, items, &delay), 0);
	ck_assert_int_eq(delay, 1);
	ck_assert_uint_eq(batch(s, T0 + 30, 0, items, &delay), 1);
	ck_assert_int_eq(scheduler_ram_tempfail(s, id, 0, T0 + 30), 1);
	ck_assert_int_eq(scheduler_ram_status(s, id, &st), 1);
	ck_assert_int_eq(st.nexttry, T0 + 70);
	/* not in flight any more: a second result is ignored */
	ck_assert_int_eq(scheduler_ram_tempfail(s, id, 0, T0 + 30), 0);
	scheduler_ram_free(s);
}
END_TEST

/* After a restart, an envelope waits from its last try. */
START_TEST(test_reload_keeps_backoff)
{
	struct scheduler_ram	*s = new_sched(100);
	struct sched_info	 si;
	struct sched_status	 st;

	memset(&si, 0, sizeof(si));
	si.evpid = evp(MSG_A, 1);
	si.type = D_MDA;
	si.creation = T0;
	si.lasttry = T0 + 100;
	si.retry = 3;		/* 40 s */
	ck_assert_int_eq(scheduler_ram_insert(s, &si), 1);
	si.evpid = evp(MSG_A, 2);
	si.lasttry = T0 + 1;
	ck_assert_int_eq(scheduler_ram_insert(s, &si), 1);
	ck_assert_uint_eq(scheduler_ram_commit(s, MSG_A, T0 + 120), 2);
	ck_assert_int_eq(scheduler_ram_status(s, evp(MSG_A, 1), &st), 1);
	ck_assert_int_eq(st.nexttry, T0 + 140);
	ck_assert_int_eq(scheduler_ram_status(s, evp(MSG_A, 2), &st), 1);
	ck_assert_int_eq(st.nexttry, T0 + 120);	/* overdue: now */
	scheduler_ram_free(s);
}
END_TEST

START_TEST(test_expiry)
{
	struct scheduler_ram	*s = new_sched(100);
	struct sched_item	 items[64];
	struct sched_info	 si;
	struct sched_status	 st;
	int64_t			 delay;
	uint64_t		 id = evp(MSG_A, 1), id2 = evp(MSG_A, 2);

	memset(&si, 0, sizeof(si));
	si.evpid = id;
	si.type = D_MDA;
	si.creation = T0;
	si.ttl = 100;
	ck_assert_int_eq(scheduler_ram_insert(s, &si), 1);
	si.evpid = id2;
	si.ttl = 0;		/* the policy's: 1000 */
	ck_assert_int_eq(scheduler_ram_insert(s, &si), 1);
	scheduler_ram_commit(s, MSG_A, T0);
	ck_assert_int_eq(scheduler_ram_status(s, id2, &st), 1);
	ck_assert_int_eq(st.expire, T0 + 1000);

	ck_assert_uint_eq(batch(s, T0, 0, items, &delay), 2);
	/* retry 4: 80 s, then retry 5 would be 160 s: past the expiry */
	ck_assert_int_eq(scheduler_ram_tempfail(s, id, 4, T0 + 10), 1);
	ck_assert_int_eq(scheduler_ram_done(s, id2), 1);
	ck_assert_uint_eq(batch(s, T0 + 10, 0, items, &delay), 0);
	ck_assert_int_eq(delay, 80);
	ck_assert_uint_eq(batch(s, T0 + 90, 0, items, &delay), 1);
	ck_assert_int_eq(items[0].action, SCHED_ACT_MDA);
	ck_assert_int_eq(scheduler_ram_tempfail(s, id, 5, T0 + 90), 1);
	/* the due time is cut to the expiry */
	ck_assert_int_eq(scheduler_ram_status(s, id, &st), 1);
	ck_assert_int_eq(st.nexttry, T0 + 100);
	ck_assert_uint_eq(batch(s, T0 + 95, 0, items, &delay), 0);
	ck_assert_int_eq(delay, 5);
	ck_assert_uint_eq(batch(s, T0 + 100, 0, items, &delay), 1);
	ck_assert_int_eq(items[0].action, SCHED_ACT_EXPIRE);
	/* the expiry failed (backend down): retried after a back-off */
	ck_assert_int_eq(scheduler_ram_tempfail(s, id, 0, T0 + 100), 1);
	ck_assert_uint_eq(batch(s, T0 + 101, 0, items, &delay), 0);
	ck_assert_int_eq(delay, scheduler_ram_backoff(&(struct sched_policy){
	    10, 3600, 100, 1000 }, 6) - 1);
	ck_assert_uint_eq(batch(s, T0 + 100 + 320, 0, items, &delay), 1);
	ck_assert_int_eq(items[0].action, SCHED_ACT_EXPIRE);
	ck_assert_int_eq(scheduler_ram_done(s, id), 1);
	ck_assert_uint_eq(scheduler_ram_count(s), 0);
	scheduler_ram_free(s);
}
END_TEST

/* Envelopes of a paused mda still expire. */
START_TEST(test_paused_mda)
{
	struct scheduler_ram	*s = new_sched(100);
	struct sched_item	 items[64];
	int64_t			 delay;

	insert(s, evp(MSG_A, 1), D_MDA, T0);
	insert(s, evp(MSG_A, 2), D_BOUNCE, T0 + 500);
	scheduler_ram_commit(s, MSG_A, T0 + 10);
	ck_assert_uint_eq(batch(s, T0 + 10, 1, items, &delay), 1);
	ck_assert(items[0].evpid == evp(MSG_A, 2));
	ck_assert_int_eq(items[0].action, SCHED_ACT_BOUNCE);
	/* next: the mda envelope's expiry */
	ck_assert_int_eq(delay, 990);
	ck_assert_uint_eq(batch(s, T0 + 1000, 1, items, &delay), 1);
	ck_assert(items[0].evpid == evp(MSG_A, 1));
	ck_assert_int_eq(items[0].action, SCHED_ACT_EXPIRE);
	scheduler_ram_free(s);
}
END_TEST

START_TEST(test_hold_resume)
{
	struct scheduler_ram	*s = new_sched(100);
	struct sched_item	 items[64];
	struct sched_status	 st;
	int64_t			 delay;

	insert(s, evp(MSG_A, 1), D_MDA, T0);
	insert(s, evp(MSG_A, 2), D_MDA, T0);
	insert(s, evp(MSG_B, 1), D_MDA, T0);
	scheduler_ram_commit(s, MSG_A, T0);
	scheduler_ram_commit(s, MSG_B, T0);

	ck_assert_uint_eq(scheduler_ram_hold(s, MSG_A), 2);
	ck_assert_uint_eq(scheduler_ram_hold(s, MSG_A), 0);
	ck_assert_int_eq(scheduler_ram_status(s, evp(MSG_A, 1), &st), 1);
	ck_assert_int_eq(st.state, SCHED_HELD);
	ck_assert_uint_eq(batch(s, T0, 0, items, &delay), 1);
	ck_assert(items[0].evpid == evp(MSG_B, 1));

	/* held in flight: held when it comes back with a tempfail */
	ck_assert_uint_eq(scheduler_ram_hold(s, evp(MSG_B, 1)), 1);
	ck_assert_int_eq(scheduler_ram_tempfail(s, evp(MSG_B, 1), 1, T0), 1);
	ck_assert_int_eq(scheduler_ram_status(s, evp(MSG_B, 1), &st), 1);
	ck_assert_int_eq(st.state, SCHED_HELD);
	/* held envelopes never expire while held */
	ck_assert_uint_eq(batch(s, T0 + 5000, 0, items, &delay), 0);
	ck_assert_int_eq(delay, -1);

	ck_assert_uint_eq(scheduler_ram_release(s, evp(MSG_A, 2), T0), 1);
	ck_assert_uint_eq(batch(s, T0, 0, items, &delay), 1);
	ck_assert(items[0].evpid == evp(MSG_A, 2));
	ck_assert_int_eq(items[0].action, SCHED_ACT_MDA);
	ck_assert_uint_eq(scheduler_ram_release(s, SCHED_ID_ALL, T0 + 5000),
	    2);
	/* resumed late: they expire at once */
	ck_assert_uint_eq(batch(s, T0 + 5000, 0, items, &delay), 2);
	ck_assert_int_eq(items[0].action, SCHED_ACT_EXPIRE);
	ck_assert_int_eq(items[1].action, SCHED_ACT_EXPIRE);
	scheduler_ram_free(s);
}
END_TEST

START_TEST(test_schedule_now)
{
	struct scheduler_ram	*s = new_sched(100);
	struct sched_item	 items[64];
	int64_t			 delay;

	insert(s, evp(MSG_A, 1), D_MDA, T0);
	insert(s, evp(MSG_B, 1), D_MDA, T0);
	scheduler_ram_commit(s, MSG_A, T0);
	scheduler_ram_commit(s, MSG_B, T0);
	ck_assert_uint_eq(batch(s, T0, 0, items, &delay), 2);
	scheduler_ram_tempfail(s, evp(MSG_A, 1), 5, T0);
	scheduler_ram_tempfail(s, evp(MSG_B, 1), 5, T0);
	ck_assert_uint_eq(batch(s, T0 + 1, 0, items, &delay), 0);
	ck_assert_int_eq(delay, 159);

	ck_assert_uint_eq(scheduler_ram_schedule(s, evp(MSG_B, 1), T0 + 1),
	    1);
	ck_assert_uint_eq(batch(s, T0 + 1, 0, items, &delay), 1);
	ck_assert(items[0].evpid == evp(MSG_B, 1));
	/* in flight: not affected */
	ck_assert_uint_eq(scheduler_ram_schedule(s, evp(MSG_B, 1), T0 + 1),
	    0);
	ck_assert_uint_eq(scheduler_ram_schedule(s, 0x12345678, T0 + 1), 0);
	ck_assert_uint_eq(scheduler_ram_match(s, 0x12345678), 0);
	ck_assert_uint_eq(scheduler_ram_match(s, evp(MSG_B, 1)), 1);
	ck_assert_uint_eq(scheduler_ram_match(s, MSG_A), 1);
	ck_assert_uint_eq(scheduler_ram_match(s, SCHED_ID_ALL), 2);
	ck_assert_uint_eq(scheduler_ram_schedule(s, SCHED_ID_ALL, T0 + 2), 1);
	ck_assert_uint_eq(batch(s, T0 + 2, 0, items, &delay), 1);
	ck_assert(items[0].evpid == evp(MSG_A, 1));
	scheduler_ram_free(s);
}
END_TEST

START_TEST(test_remove)
{
	struct scheduler_ram	*s = new_sched(100);
	struct sched_item	 items[64];
	struct sched_status	 st;
	int64_t			 delay;

	insert(s, evp(MSG_A, 1), D_MDA, T0);
	insert(s, evp(MSG_A, 2), D_MDA, T0);
	insert(s, evp(MSG_B, 1), D_MDA, T0);
	insert(s, evp(MSG_B, 2), D_MDA, T0);
	scheduler_ram_commit(s, MSG_A, T0);
	scheduler_ram_commit(s, MSG_B, T0);
	ck_assert_uint_eq(batch(s, T0, 0, items, &delay), 4);
	scheduler_ram_tempfail(s, evp(MSG_A, 1), 1, T0);
	scheduler_ram_tempfail(s, evp(MSG_A, 2), 1, T0);
	ck_assert_uint_eq(scheduler_ram_hold(s, evp(MSG_A, 2)), 1);

	/* pending, held and in flight alike */
	ck_assert_uint_eq(scheduler_ram_remove(s, SCHED_ID_ALL), 4);
	ck_assert_int_eq(scheduler_ram_status(s, evp(MSG_A, 2), &st), 1);
	ck_assert_int_eq(st.remove, 1);
	ck_assert_uint_eq(batch(s, T0, 0, items, &delay), 2);
	ck_assert_int_eq(items[0].action, SCHED_ACT_REMOVE);
	ck_assert_int_eq(items[1].action, SCHED_ACT_REMOVE);
	ck_assert_int_eq(scheduler_ram_done(s, items[0].evpid), 1);
	/* removing failed: tried again after a back-off */
	ck_assert_int_eq(scheduler_ram_tempfail(s, items[1].evpid, 0, T0), 1);
	ck_assert_uint_eq(batch(s, T0, 0, items, &delay), 0);
	ck_assert_int_eq(delay, 20);
	/* in flight when removed: delivered anyway, or removed on return */
	ck_assert_int_eq(scheduler_ram_done(s, evp(MSG_B, 1)), 1);
	ck_assert_int_eq(scheduler_ram_tempfail(s, evp(MSG_B, 2), 1, T0), 1);
	ck_assert_uint_eq(batch(s, T0, 0, items, &delay), 1);
	ck_assert(items[0].evpid == evp(MSG_B, 2));
	ck_assert_int_eq(items[0].action, SCHED_ACT_REMOVE);
	scheduler_ram_free(s);
}
END_TEST

START_TEST(test_batch_order)
{
	struct scheduler_ram	*s = new_sched(100);
	struct sched_item	 items[64];
	struct sched_info	 si;
	int64_t			 delay;

	/* committed in the reverse of the order expected */
	insert(s, evp(MSG_A, 9), D_MDA, T0);		/* due T0 */
	insert(s, evp(MSG_A, 8), D_MDA, T0);		/* due T0 */
	insert(s, evp(MSG_A, 7), D_BOUNCE, T0);		/* bounce */
	memset(&si, 0, sizeof(si));
	si.evpid = evp(MSG_A, 6);
	si.type = D_MDA;
	si.creation = T0 - 2000;			/* expired */
	ck_assert_int_eq(scheduler_ram_insert(s, &si), 1);
	insert(s, evp(MSG_A, 5), D_MDA, T0);		/* removed */
	scheduler_ram_commit(s, MSG_A, T0);
	ck_assert_uint_eq(scheduler_ram_remove(s, evp(MSG_A, 5)), 1);

	ck_assert_uint_eq(batch(s, T0, 0, items, &delay), 5);
	ck_assert(items[0].evpid == evp(MSG_A, 5));
	ck_assert_int_eq(items[0].action, SCHED_ACT_REMOVE);
	ck_assert(items[1].evpid == evp(MSG_A, 6));
	ck_assert_int_eq(items[1].action, SCHED_ACT_EXPIRE);
	ck_assert(items[2].evpid == evp(MSG_A, 7));
	ck_assert_int_eq(items[2].action, SCHED_ACT_BOUNCE);
	ck_assert(items[3].evpid == evp(MSG_A, 8));
	ck_assert(items[4].evpid == evp(MSG_A, 9));
	ck_assert_int_eq(items[4].action, SCHED_ACT_MDA);

	/* within a kind: the oldest due time first */
	scheduler_ram_tempfail(s, evp(MSG_A, 8), 2, T0);	/* T0 + 20 */
	scheduler_ram_tempfail(s, evp(MSG_A, 9), 1, T0);	/* T0 + 10 */
	ck_assert_uint_eq(batch(s, T0 + 30, 0, items, &delay), 2);
	ck_assert(items[0].evpid == evp(MSG_A, 9));
	ck_assert(items[1].evpid == evp(MSG_A, 8));
	scheduler_ram_free(s);
}
END_TEST

START_TEST(test_inflight_limit)
{
	struct scheduler_ram	*s = new_sched(3);
	struct sched_item	 items[64];
	int64_t			 delay;
	uint32_t		 i;

	for (i = 1; i <= 5; i++)
		insert(s, evp(MSG_A, i), D_MDA, T0);
	scheduler_ram_commit(s, MSG_A, T0);
	ck_assert_uint_eq(batch(s, T0, 0, items, &delay), 3);
	ck_assert_int_eq(delay, -1);		/* wait for a result */
	ck_assert_uint_eq(batch(s, T0, 0, items, &delay), 0);
	ck_assert_int_eq(scheduler_ram_done(s, evp(MSG_A, 1)), 1);
	ck_assert_uint_eq(batch(s, T0, 0, items, &delay), 1);
	ck_assert(items[0].evpid == evp(MSG_A, 4));
	/* a batch smaller than the free slots: call again now */
	ck_assert_int_eq(scheduler_ram_done(s, evp(MSG_A, 2)), 1);
	ck_assert_int_eq(scheduler_ram_done(s, evp(MSG_A, 3)), 1);
	ck_assert_uint_eq(scheduler_ram_batch(s, T0, 0, items, 0, &delay), 0);
	ck_assert_int_eq(delay, 0);
	scheduler_ram_free(s);
}
END_TEST

START_TEST(test_list)
{
	struct scheduler_ram	*s = new_sched(100);
	struct sched_status	 st[8];
	struct sched_item	 items[64];
	int64_t			 delay;

	insert(s, evp(MSG_B, 1), D_MDA, T0);
	insert(s, evp(MSG_A, 1), D_MDA, T0);
	insert(s, evp(MSG_A, 2), D_BOUNCE, T0);
	scheduler_ram_commit(s, MSG_A, T0);	/* MSG_B stays staged */
	ck_assert_uint_eq(scheduler_ram_list(s, 0, st, 8), 2);
	ck_assert(st[0].evpid == evp(MSG_A, 1));
	ck_assert(st[1].evpid == evp(MSG_A, 2));
	ck_assert_uint_eq(scheduler_ram_list(s, evp(MSG_A, 1), st, 8), 1);
	ck_assert_uint_eq(scheduler_ram_list(s, 0, st, 1), 1);
	batch(s, T0, 0, items, &delay);
	ck_assert_uint_eq(scheduler_ram_list(s, 0, st, 8), 2);
	ck_assert_int_eq(st[0].state, SCHED_INFLIGHT);
	ck_assert_int_eq(st[1].action, SCHED_ACT_BOUNCE);
	ck_assert_str_eq(scheduler_state_name(st[0].state), "inflight");
	scheduler_ram_free(s);
}
END_TEST

START_TEST(test_id_parse)
{
	uint64_t	 id;

	ck_assert_int_eq(sched_id_parse("all", &id), 0);
	ck_assert(id == SCHED_ID_ALL);
	ck_assert_int_eq(sched_id_parse("0a0a0a0a", &id), 0);
	ck_assert(id == MSG_A);
	ck_assert_int_eq(sched_id_parse("0A0A0A0A00000001", &id), 0);
	ck_assert(id == evp(MSG_A, 1));
	ck_assert_int_eq(sched_id_parse("", &id), -1);
	ck_assert_int_eq(sched_id_parse("0", &id), -1);
	ck_assert_int_eq(sched_id_parse("00000000deadbeef", &id), -1);
	ck_assert_int_eq(sched_id_parse("0a0a0a0a000000012", &id), -1);
	ck_assert_int_eq(sched_id_parse("xyz", &id), -1);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("scheduler");
	TCase	*tc = tcase_create("ram");
	SRunner	*sr;
	int	 failed;

	tcase_add_test(tc, test_commit_rollback);
	tcase_add_test(tc, test_backoff);
	tcase_add_test(tc, test_reload_keeps_backoff);
	tcase_add_test(tc, test_expiry);
	tcase_add_test(tc, test_paused_mda);
	tcase_add_test(tc, test_hold_resume);
	tcase_add_test(tc, test_schedule_now);
	tcase_add_test(tc, test_remove);
	tcase_add_test(tc, test_batch_order);
	tcase_add_test(tc, test_inflight_limit);
	tcase_add_test(tc, test_list);
	tcase_add_test(tc, test_id_parse);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
