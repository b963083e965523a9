/*
 * scheduler_ram.c: when each envelope is tried, in memory.
 *
 * Every known envelope is in the id tree.  A pending envelope is also
 * in exactly one due tree, ordered by (due time, evpid): removals,
 * bounces or local deliveries, so that a batch takes each kind in
 * order without looking at the others; and, unless it is being
 * removed, in the expiry tree, ordered by (expiry, evpid), so that
 * expired envelopes are found first whatever their due time.  Staged,
 * held and in-flight envelopes are in the id tree only.
 */
#include <sys/types.h>
#include <sys/tree.h>

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "envelope.h"
#include "scheduler_ram.h"

struct sched_evp;
RB_HEAD(sched_by_id, sched_evp);
RB_HEAD(sched_by_due, sched_evp);
RB_HEAD(sched_by_expire, sched_evp);

struct sched_evp {
	RB_ENTRY(sched_evp)	 by_id;
	RB_ENTRY(sched_evp)	 by_due;
	RB_ENTRY(sched_evp)	 by_expire;
	struct sched_by_due	*dueq;		/* pending: the tree it is in */
	int			 in_expireq;

	uint64_t		 evpid;
	uint32_t		 type;
	enum sched_state	 state;
	enum sched_action	 action;	/* in flight */
	uint32_t		 retry;
	time_t			 creation;
	time_t			 lasttry;
	time_t			 due;		/* pending, held: next try */
	time_t			 expire;
	int			 hold;
	int			 remove;
};

struct scheduler_ram {
	struct sched_policy	 policy;
	struct sched_by_id	 ids;
	struct sched_by_due	 removeq;
	struct sched_by_due	 bounceq;
	struct sched_by_due	 mdaq;
	struct sched_by_expire	 expireq;
	size_t			 ncommitted;
	size_t			 ninflight;
};

static int	 cmp_id(struct sched_evp *, struct sched_evp *);
static int	 cmp_due(struct sched_evp *, struct sched_evp *);
static int	 cmp_expire(struct sched_evp *, struct sched_evp *);
static void	 pend(struct scheduler_ram *, struct sched_evp *, time_t due,
		    time_t now);
static void	 unpend(struct scheduler_ram *, struct sched_evp *);
static void	 fly(struct scheduler_ram *, struct sched_evp *,
		    enum sched_action);
static void	 forget(struct scheduler_ram *, struct sched_evp *);
static struct sched_evp *first_of_range(struct scheduler_ram *, uint64_t,
		    uint64_t *last);
static struct sched_evp *find_inflight(struct scheduler_ram *, uint64_t);
static void	 fill_status(const struct sched_evp *, struct sched_status *);
static void	 candidate(time_t, time_t *, int *);
static int64_t	 next_event(struct scheduler_ram *, time_t now,
		    int mda_paused);

RB_PROTOTYPE(sched_by_id, sched_evp, by_id, cmp_id);
RB_PROTOTYPE(sched_by_due, sched_evp, by_due, cmp_due);
RB_PROTOTYPE(sched_by_expire, sched_evp, by_expire, cmp_expire);
RB_GENERATE(sched_by_id, sched_evp, by_id, cmp_id)
RB_GENERATE(sched_by_due, sched_evp, by_due, cmp_due)
RB_GENERATE(sched_by_expire, sched_evp, by_expire, cmp_expire)

static int
cmp_id(struct sched_evp *a, struct sched_evp *b)
{
	return a->evpid < b->evpid ? -1 : a->evpid > b->evpid;
}

static int
cmp_due(struct sched_evp *a, struct sched_evp *b)
{
	if (a->due != b->due)
		return a->due < b->due ? -1 : 1;
	return cmp_id(a, b);
}

static int
cmp_expire(struct sched_evp *a, struct sched_evp *b)
{
	if (a->expire != b->expire)
		return a->expire < b->expire ? -1 : 1;
	return cmp_id(a, b);
}

void
scheduler_ram_policy_default(struct sched_policy *p)
{
	p->retry_base = SCHED_RETRY_BASE_DEFAULT;
	p->retry_max = SCHED_RETRY_MAX_DEFAULT;
	p->inflight_max = SCHED_INFLIGHT_MAX_DEFAULT;
	p->ttl = 4 * 24 * 3600;
}

struct scheduler_ram *
scheduler_ram_new(const struct sched_policy *policy)
{
	struct scheduler_ram	*s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	if (policy != NULL)
		s->policy = *policy;
	else
		scheduler_ram_policy_default(&s->policy);
	if (s->policy.retry_base < 1)
		s->policy.retry_base = 1;
	if (s->policy.retry_max < s->policy.retry_base)
		s->policy.retry_max = s->policy.retry_base;
	if (s->policy.inflight_max < 1)
		s->policy.inflight_max = 1;
	if (s->policy.ttl <= 0)
		s->policy.ttl = 4 * 24 * 3600;
	RB_INIT(&s->ids);
	RB_INIT(&s->removeq);
	RB_INIT(&s->bounceq);
	RB_INIT(&s->mdaq);
	RB_INIT(&s->expireq);
	return s;
}

void
scheduler_ram_free(struct scheduler_ram *s)
{
	struct sched_evp	*e, *next;

	if (s == NULL)
		return;
	RB_FOREACH_SAFE(e, sched_by_id, &s->ids, next) {
		RB_REMOVE(sched_by_id, &s->ids, e);
		free(e);
	}
	free(s);
}

int64_t
scheduler_ram_backoff(const struct sched_policy *p, uint32_t retry)
{
	int64_t	 d;

	if (retry == 0)
		return 0;
	if (retry > 40)
		return p->retry_max;
	d = (int64_t)p->retry_base << (retry - 1);
	return d > p->retry_max ? p->retry_max : d;
}

/*
 * Make e pending, due at due.  The due time never goes past the expiry
 * (a late envelope must expire on time) unless the expiry is already
 * past: that is a failed expiry being retried, which must wait.
 */
static void
pend(struct scheduler_ram *s, struct sched_evp *e, time_t due, time_t now)
{
	if (e->expire > now && due > e->expire)
		due = e->expire;
	e->due = due;
	e->state = SCHED_PENDING;
	if (e->remove)
		e->dueq = &s->removeq;
	else if (e->type == D_BOUNCE)
		e->dueq = &s->bounceq;
	else
		e->dueq = &s->mdaq;
	RB_INSERT(sched_by_due, e->dueq, e);
	if (!e->remove) {
		RB_INSERT(sched_by_expire, &s->expireq, e);
		e->in_expireq = 1;
	}
}

static void
unpend(struct scheduler_ram *s, struct sched_evp *e)
{
	if (e->dueq != NULL) {
		RB_REMOVE(sched_by_due, e->dueq, e);
		e->dueq = NULL;
	}
	if (e->in_expireq) {
		RB_REMOVE(sched_by_expire, &s->expireq, e);
		e->in_expireq = 0;
	}
}

static void
fly(struct scheduler_ram *s, struct sched_evp *e, enum sched_action action)
{
	unpend(s, e);
	e->state = SCHED_INFLIGHT;
	e->action = action;
	s->ninflight++;
}

static void
forget(struct scheduler_ram *s, struct sched_evp *e)
{
	unpend(s, e);
	if (e->state == SCHED_INFLIGHT)
		s->ninflight--;
	if (e->state != SCHED_STAGED)
		s->ncommitted--;
	RB_REMOVE(sched_by_id, &s->ids, e);
	free(e);
}

int
scheduler_ram_insert(struct scheduler_ram *s, const struct sched_info *si)
{
	struct sched_evp	 key, *e;

	key.evpid = si->evpid;
	if (si->evpid == 0 || RB_FIND(sched_by_id, &s->ids, &key) != NULL)
		return 0;
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return -1;
	e->evpid = si->evpid;
	e->type = si->type;
	e->state = SCHED_STAGED;
	e->retry = si->retry;
	e->creation = si->creation;
	e->lasttry = si->lasttry;
	e->expire = si->creation + (si->ttl > 0 ? si->ttl : s->policy.ttl);
	RB_INSERT(sched_by_id, &s->ids, e);
	return 1;
}

/*
 * The envelopes of a msgid (or the one evpid, or all) are contiguous
 * in the id tree: the first one and the last id of the range.
 */
static struct sched_evp *
first_of_range(struct scheduler_ram *s, uint64_t id, uint64_t *last)
{
	struct sched_evp	 key;

	if (id == SCHED_ID_ALL) {
		*last = UINT64_MAX;
		return RB_MIN(sched_by_id, &s->ids);
	}
	if (id <= UINT32_MAX) {
		key.evpid = msgid_to_evpid(id);
		*last = key.evpid | UINT32_MAX;
	} else {
		key.evpid = id;
		*last = id;
	}
	return RB_NFIND(sched_by_id, &s->ids, &key);
}

size_t
scheduler_ram_commit(struct scheduler_ram *s, uint32_t msgid, time_t now)
{
	struct sched_evp	*e;
	uint64_t		 last;
	time_t			 due;
	size_t			 n = 0;

	if (msgid == 0)
		return 0;
	for (e = first_of_range(s, msgid, &last); e != NULL &&
	    e->evpid <= last; e = RB_NEXT(sched_by_id, &s->ids, e)) {
		if (e->state != SCHED_STAGED)
			continue;
		/* Reloaded after a restart: the back-off goes on. */
		due = now;
		if (e->retry > 0 && e->lasttry > 0)
			due = e->lasttry + scheduler_ram_backoff(&s->policy,
			    e->retry);
		if (due < now)
			due = now;
		s->ncommitted++;
		pend(s, e, due, now);
		n++;
	}
	return n;
}

size_t
scheduler_ram_rollback(struct scheduler_ram *s, uint32_t msgid)
{
	struct sched_evp	*e, *next;
	uint64_t		 last;
	size_t			 n = 0;

	if (msgid == 0)
		return 0;
	for (e = first_of_range(s, msgid, &last); e != NULL &&
	    e->evpid <= last; e = next) {
		next = RB_NEXT(sched_by_id, &s->ids, e);
		if (e->state != SCHED_STAGED)
			continue;
		forget(s, e);
		n++;
	}
	return n;
}

static struct sched_evp *
find_inflight(struct scheduler_ram *s, uint64_t evpid)
{
	struct sched_evp	 key, *e;

	key.evpid = evpid;
	e = RB_FIND(sched_by_id, &s->ids, &key);
	if (e == NULL || e->state != SCHED_INFLIGHT)
		return NULL;
	return e;
}

int
scheduler_ram_done(struct scheduler_ram *s, uint64_t evpid)
{
	struct sched_evp	*e;

	if ((e = find_inflight(s, evpid)) == NULL)
		return 0;
	forget(s, e);
	return 1;
}

int
scheduler_ram_tempfail(struct scheduler_ram *s, uint64_t evpid,
    uint32_t retry, time_t now)
{
	struct sched_evp	*e;

	if ((e = find_inflight(s, evpid)) == NULL)
		return 0;
	s->ninflight--;
	e->retry = retry > e->retry ? retry : e->retry + 1;
	e->lasttry = now;
	e->due = now + scheduler_ram_backoff(&s->policy, e->retry);
	/* removed while in flight: now, unless removing is what failed */
	if (e->remove && e->action != SCHED_ACT_REMOVE)
		e->due = now;
	if (e->hold && !e->remove) {
		e->state = SCHED_HELD;
		return 1;
	}
	pend(s, e, e->due, now);
	return 1;
}

/*
 * The next batch.  Each pass takes, in due order, what is due in one
 * queue; an envelope past its expiry is handed out as EXPIRE whichever
 * pass meets it.
 */
size_t
scheduler_ram_batch(struct scheduler_ram *s, time_t now, int mda_paused,
    struct sched_item *items, size_t max, int64_t *delay)
{
	struct sched_by_due	*queues[3];
	struct sched_evp	*e, *next;
	size_t			 n = 0, slots, q;
	enum sched_action	 action;

	slots = s->ninflight < s->policy.inflight_max ?
	    s->policy.inflight_max - s->ninflight : 0;
	if (slots > max)
		slots = max;

	/* removals first */
	for (e = RB_MIN(sched_by_due, &s->removeq); e != NULL && n < slots &&
	    e->due <= now; e = next) {
		next = RB_NEXT(sched_by_due, &s->removeq, e);
		items[n].evpid = e->evpid;
		items[n++].action = SCHED_ACT_REMOVE;
		fly(s, e, SCHED_ACT_REMOVE);
	}
	/* then expiries (a failed one waits for its due time) */
	for (e = RB_MIN(sched_by_expire, &s->expireq); e != NULL && n < slots &&
	    e->expire <= now; e = next) {
		next = RB_NEXT(sched_by_expire, &s->expireq, e);
		if (e->due > now)
			continue;
		items[n].evpid = e->evpid;
		items[n++].action = SCHED_ACT_EXPIRE;
		fly(s, e, SCHED_ACT_EXPIRE);
	}
	/* then bounces, then local deliveries */
	queues[0] = &s->bounceq;
	queues[1] = mda_paused ? NULL : &s->mdaq;
	queues[2] = NULL;
	for (q = 0; queues[q] != NULL; q++) {
		for (e = RB_MIN(sched_by_due, queues[q]); e != NULL &&
		    n < slots && e->due <= now; e = next) {
			next = RB_NEXT(sched_by_due, queues[q], e);
			action = e->expire <= now ? SCHED_ACT_EXPIRE :
			    (queues[q] == &s->bounceq ? SCHED_ACT_BOUNCE :
			    SCHED_ACT_MDA);
			items[n].evpid = e->evpid;
			items[n++].action = action;
			fly(s, e, action);
		}
	}

	if (s->ninflight >= s->policy.inflight_max)
		*delay = -1;
	else
		*delay = next_event(s, now, mda_paused);
	return n;
}

static void
candidate(time_t t, time_t *when, int *found)
{
	if (!*found || t < *when) {
		*when = t;
		*found = 1;
	}
}

/* Seconds until something can be handed out, -1 for never. */
static int64_t
next_event(struct scheduler_ram *s, time_t now, int mda_paused)
{
	struct sched_evp	*e;
	time_t			 when = 0;
	int			 found = 0;

	if ((e = RB_MIN(sched_by_due, &s->removeq)) != NULL)
		candidate(e->due, &when, &found);
	if ((e = RB_MIN(sched_by_due, &s->bounceq)) != NULL)
		candidate(e->due, &when, &found);
	if (!mda_paused && (e = RB_MIN(sched_by_due, &s->mdaq)) != NULL)
		candidate(e->due, &when, &found);
	/* expiries: a failed one is retried at its due time */
	RB_FOREACH(e, sched_by_expire, &s->expireq) {
		if (e->expire > now) {
			candidate(e->expire, &when, &found);
			break;
		}
		candidate(e->due, &when, &found);
	}
	if (!found)
		return -1;
	return when <= now ? 0 : (int64_t)(when - now);
}

size_t
scheduler_ram_schedule(struct scheduler_ram *s, uint64_t id, time_t now)
{
	struct sched_evp	*e;
	uint64_t		 last;
	size_t			 n = 0;

	for (e = first_of_range(s, id, &last); e != NULL &&
	    e->evpid <= last; e = RB_NEXT(sched_by_id, &s->ids, e)) {
		if (e->state != SCHED_PENDING)
			continue;
		unpend(s, e);
		pend(s, e, now, now);
		n++;
	}
	return n;
}

size_t
scheduler_ram_remove(struct scheduler_ram *s, uint64_t id)
{
	struct sched_evp	*e;
	uint64_t		 last;
	size_t			 n = 0;

	for (e = first_of_range(s, id, &last); e != NULL &&
	    e->evpid <= last; e = RB_NEXT(sched_by_id, &s->ids, e)) {
		switch (e->state) {
		case SCHED_PENDING:
		case SCHED_HELD:
			/* due at once: before anything else in a batch */
			unpend(s, e);
			e->remove = 1;
			e->hold = 0;
			pend(s, e, 0, 0);
			n++;
			break;
		case SCHED_INFLIGHT:
			if (e->action != SCHED_ACT_REMOVE)
				e->remove = 1;
			n++;
			break;
		default:
			break;
		}
	}
	return n;
}

size_t
scheduler_ram_hold(struct scheduler_ram *s, uint64_t id)
{
	struct sched_evp	*e;
	uint64_t		 last;
	size_t			 n = 0;

	for (e = first_of_range(s, id, &last); e != NULL &&
	    e->evpid <= last; e = RB_NEXT(sched_by_id, &s->ids, e)) {
		if (e->remove || e->hold)
			continue;
		if (e->state == SCHED_PENDING) {
			unpend(s, e);
			e->state = SCHED_HELD;
		} else if (e->state != SCHED_INFLIGHT)
			continue;
		e->hold = 1;
		n++;
	}
	return n;
}

size_t
scheduler_ram_release(struct scheduler_ram *s, uint64_t id, time_t now)
{
	struct sched_evp	*e;
	uint64_t		 last;
	size_t			 n = 0;

	for (e = first_of_range(s, id, &last); e != NULL &&
	    e->evpid <= last; e = RB_NEXT(sched_by_id, &s->ids, e)) {
		if (!e->hold)
			continue;
		e->hold = 0;
		if (e->state == SCHED_HELD)
			pend(s, e, e->due, now);
		n++;
	}
	return n;
}

static void
fill_status(const struct sched_evp *e, struct sched_status *st)
{
	memset(st, 0, sizeof(*st));
	st->evpid = e->evpid;
	st->type = e->type;
	st->state = e->state;
	st->retry = e->retry;
	st->creation = e->creation;
	st->lasttry = e->lasttry;
	st->nexttry = e->state == SCHED_INFLIGHT ? 0 : e->due;
	st->expire = e->expire;
	st->action = e->state == SCHED_INFLIGHT ? e->action : 0;
	st->hold = e->hold;
	st->remove = e->remove;
}

int
scheduler_ram_status(struct scheduler_ram *s, uint64_t evpid,
    struct sched_status *st)
{
	struct sched_evp	 key, *e;

	key.evpid = evpid;
	e = RB_FIND(sched_by_id, &s->ids, &key);
	if (e == NULL || e->state == SCHED_STAGED)
		return 0;
	fill_status(e, st);
	return 1;
}

size_t
scheduler_ram_list(struct scheduler_ram *s, uint64_t after,
    struct sched_status *out, size_t max)
{
	struct sched_evp	 key, *e;
	size_t			 n = 0;

	if (after == UINT64_MAX)
		return 0;
	key.evpid = after + 1;
	for (e = RB_NFIND(sched_by_id, &s->ids, &key); e != NULL && n < max;
	    e = RB_NEXT(sched_by_id, &s->ids, e)) {
		if (e->state == SCHED_STAGED)
			continue;
		fill_status(e, &out[n++]);
	}
	return n;
}

size_t
scheduler_ram_count(struct scheduler_ram *s)
{
	return s->ncommitted;
}

size_t
scheduler_ram_match(struct scheduler_ram *s, uint64_t id)
{
	struct sched_evp	*e;
	uint64_t		 last;
	size_t			 n = 0;

	if (id == SCHED_ID_ALL)
		return s->ncommitted;
	for (e = first_of_range(s, id, &last); e != NULL &&
	    e->evpid <= last; e = RB_NEXT(sched_by_id, &s->ids, e))
		if (e->state != SCHED_STAGED)
			n++;
	return n;
}

size_t
scheduler_ram_inflight(struct scheduler_ram *s)
{
	return s->ninflight;
}

const char *
scheduler_state_name(enum sched_state state)
{
	switch (state) {
	case SCHED_STAGED:
		return "staged";
	case SCHED_PENDING:
		return "pending";
	case SCHED_INFLIGHT:
		return "inflight";
	case SCHED_HELD:
		return "held";
	default:
		return "unknown";
	}
}

int
sched_id_parse(const char *text, uint64_t *id)
{
	uint64_t	 v = 0;
	size_t		 len, i;
	int		 c;

	if (strcasecmp(text, "all") == 0) {
		*id = SCHED_ID_ALL;
		return 0;
	}
	len = strlen(text);
	if (len == 0 || len > 16)
		return -1;
	for (i = 0; i < len; i++) {
		c = tolower((unsigned char)text[i]);
		if (c >= '0' && c <= '9')
			v = v << 4 | (uint64_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v = v << 4 | (uint64_t)(c - 'a' + 10);
		else
			return -1;
	}
	if (v == 0 || (len > 8 && v <= UINT32_MAX))
		return -1;
	*id = v;
	return 0;
}
