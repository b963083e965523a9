/*
 * scheduler_ram.h: when each envelope is tried, in memory.
 *
 * A pure module: no I/O, no clock, no process.  The scheduler process
 * (scheduler.c) feeds it what the queue reports and asks it, after each
 * event, for the next batch of work and the delay until the one after.
 * Tests drive it with made-up times.
 *
 * Life of an envelope:
 *	insert		staged under its msgid, not schedulable
 *	commit		every staged envelope of the msgid becomes pending
 *	rollback	every staged envelope of the msgid is forgotten
 *	batch		due pending envelopes go in flight, one action each
 *	done		an in-flight envelope is finished (delivered,
 *			bounced, expired, removed): forgotten
 *	tempfail	an in-flight envelope goes back to pending, next try
 *			after the back-off of its new retry count
 *
 * Policy (documented in smtpd.8):
 *	back-off	retry n (n >= 1) waits base * 2^(n-1) seconds after
 *			the failure, at most retry_max: with the defaults
 *			10 s, 20 s, 40 s, ... 1 h, then every hour.  An
 *			envelope loaded at start-up waits from its lasttry.
 *	expiry		at creation + ttl (ttl <= 0: the policy's ttl); a
 *			due envelope past it is handed out as EXPIRE instead
 *			of being tried.  A held envelope does not expire
 *			while held; it expires when resumed, if late.
 *	in flight	at most inflight_max envelopes are out at a time
 *			(every action counts); batch hands out nothing more
 *			until one comes back.
 *	order		a batch holds removals, then expiries, then bounces,
 *			then local deliveries; within a kind, the oldest due
 *			time first, then the smallest evpid.
 *	paused mda	(scheduler_ram_batch's mda_paused) no D_MDA
 *			delivery is handed out; removals, expiries and
 *			bounces go on.
 *	hold		(pause envelope) a held envelope is never handed
 *			out but can be removed; one in flight is held when
 *			it comes back with a temporary failure.
 *	schedule	a pending envelope becomes due now (retry count
 *			kept); held and in-flight ones are left alone.
 *	remove		a pending or held envelope is handed out as REMOVE
 *			at the next batch; one in flight is removed when it
 *			comes back with a temporary failure.
 *
 * Ids given to schedule, remove, hold and release: SCHED_ID_ALL for
 * every envelope, a value <= 0xffffffff for every envelope of that
 * msgid, anything larger for one evpid.
 *
 * The scheduler process (scheduler.c) answers the control verbs
 * schedule, remove, pause|resume envelope, pause|resume mda and show
 * status with these; queue.h lists the verbs of both processes and the
 * exact reply texts.  Its environment: SMTPD_RETRY_BASE (seconds, the
 * first back-off, default SCHED_RETRY_BASE_DEFAULT) for tests.
 */
#ifndef SMTPD_SCHEDULER_RAM_H
#define SMTPD_SCHEDULER_RAM_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define SCHED_RETRY_BASE_DEFAULT	10	/* seconds */
#define SCHED_RETRY_MAX_DEFAULT		3600	/* seconds */
#define SCHED_INFLIGHT_MAX_DEFAULT	100
#define SCHED_ID_ALL			0

struct sched_policy {
	int		 retry_base;	/* seconds, first back-off */
	int		 retry_max;	/* seconds, back-off cap */
	size_t		 inflight_max;
	int64_t		 ttl;		/* for envelopes with ttl <= 0 */
};

/* What the queue tells about an envelope (IMSG_SCHED_ENVELOPE). */
struct sched_info {
	uint64_t	 evpid;
	uint32_t	 type;		/* enum delivery_type: D_MDA, D_BOUNCE */
	time_t		 creation;
	time_t		 lasttry;	/* 0: never tried */
	int64_t		 ttl;
	uint32_t	 retry;
};

enum sched_state {
	SCHED_UNKNOWN = 0,		/* not in the scheduler */
	SCHED_STAGED,			/* inserted, not committed */
	SCHED_PENDING,			/* waiting for its next try */
	SCHED_INFLIGHT,			/* handed out, result awaited */
	SCHED_HELD,			/* paused by the administrator */
};

enum sched_action {
	SCHED_ACT_REMOVE = 1,		/* IMSG_SCHED_REMOVED */
	SCHED_ACT_EXPIRE,		/* IMSG_SCHED_EXPIRE */
	SCHED_ACT_BOUNCE,		/* IMSG_SCHED_DELIVER of a D_BOUNCE */
	SCHED_ACT_MDA,			/* IMSG_SCHED_DELIVER of a D_MDA */
};

struct sched_item {
	uint64_t		 evpid;
	enum sched_action	 action;
};

/* One envelope as seen by the scheduler, for show queue and tests. */
struct sched_status {
	uint64_t		 evpid;
	uint32_t		 type;
	enum sched_state	 state;
	uint32_t		 retry;
	time_t			 creation;
	time_t			 lasttry;
	time_t			 nexttry;	/* pending: when due */
	time_t			 expire;
	enum sched_action	 action;	/* in flight: what for */
	int			 hold;		/* held, or held on return */
	int			 remove;	/* removal requested */
};

struct scheduler_ram;

/* NULL on ENOMEM.  policy NULL: the defaults above, ttl 4 days. */
struct scheduler_ram *scheduler_ram_new(const struct sched_policy *);
void		 scheduler_ram_free(struct scheduler_ram *);
void		 scheduler_ram_policy_default(struct sched_policy *);

/* Seconds to wait after the retry-th failure (retry 0: none). */
int64_t		 scheduler_ram_backoff(const struct sched_policy *,
		    uint32_t retry);

/* 1 staged, 0 already known (ignored), -1 out of memory. */
int		 scheduler_ram_insert(struct scheduler_ram *,
		    const struct sched_info *);
/* Number of envelopes made pending, or forgotten. */
size_t		 scheduler_ram_commit(struct scheduler_ram *, uint32_t msgid,
		    time_t now);
size_t		 scheduler_ram_rollback(struct scheduler_ram *,
		    uint32_t msgid);

/*
 * Results for an in-flight envelope: 1 done, 0 when it is not in
 * flight (unknown, or a duplicate result: ignored).  tempfail's retry
 * is the envelope's new retry count; 0 means "unknown", the scheduler
 * then counts one more failure itself.
 */
int		 scheduler_ram_done(struct scheduler_ram *, uint64_t evpid);
int		 scheduler_ram_tempfail(struct scheduler_ram *, uint64_t evpid,
		    uint32_t retry, time_t now);

/*
 * Hand out at most max items due at now (they go in flight), in the
 * order above.  *delay is set to the seconds until the next batch can
 * hold something (0: call again now), or -1 when nothing will be due
 * without new input (nothing pending, or the in-flight limit is
 * reached).
 */
size_t		 scheduler_ram_batch(struct scheduler_ram *, time_t now,
		    int mda_paused, struct sched_item *items, size_t max,
		    int64_t *delay);

/* Administrator's requests: the number of envelopes affected. */
size_t		 scheduler_ram_schedule(struct scheduler_ram *, uint64_t id,
		    time_t now);
size_t		 scheduler_ram_remove(struct scheduler_ram *, uint64_t id);
size_t		 scheduler_ram_hold(struct scheduler_ram *, uint64_t id);
size_t		 scheduler_ram_release(struct scheduler_ram *, uint64_t id,
		    time_t now);

/* 1 and *st filled, or 0 when the envelope is unknown (or staged). */
int		 scheduler_ram_status(struct scheduler_ram *, uint64_t evpid,
		    struct sched_status *);
/* Committed envelopes with evpid > after, ascending: the count. */
size_t		 scheduler_ram_list(struct scheduler_ram *, uint64_t after,
		    struct sched_status *, size_t max);
size_t		 scheduler_ram_count(struct scheduler_ram *);	/* committed */
/* Committed envelopes an id names (SCHED_ID_ALL, msgid or evpid). */
size_t		 scheduler_ram_match(struct scheduler_ram *, uint64_t id);
size_t		 scheduler_ram_inflight(struct scheduler_ram *);

const char	*scheduler_state_name(enum sched_state);
/*
 * An id as the administrator writes it: "all" (SCHED_ID_ALL), 1 to 8
 * hex digits for a msgid, 9 to 16 for an evpid (whose msgid half is
 * not 0).  0, or -1 when malformed.
 */
int		 sched_id_parse(const char *, uint64_t *);

#endif /* SMTPD_SCHEDULER_RAM_H */
