/*
 * scheduler.c: the scheduler process.
 *
 * It owns nothing but memory: the queue tells it about envelopes and
 * results, it decides when each one is tried (scheduler_ram.c) and asks
 * the queue to act.  After every frame it runs one batch from a
 * zero-delay timer, so that frames read together are handled together,
 * then sleeps until the next envelope is due.  The administrator's
 * verbs (queue.h lists them and their replies) arrive from control.
 *
 * Environment: SMTPD_RETRY_BASE, seconds of the first back-off
 * (default 10), for tests that must see a retry soon.
 */
#include <sys/types.h>

#include <errno.h>
#include <event.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "smtpd-api.h"
#include "config.h"
#include "envelope.h"
#include "frames.h"
#include "proc.h"
#include "scheduler_ram.h"

#define SCHED_BATCH_MAX		256
#define SCHED_LIST_MAX		1024	/* evpids of one IMSG_SCHED_LIST */

static void	 scheduler_dispatch(enum proc_id, struct imsg *,
		    struct msg_reader *);
static void	 scheduler_queue_frame(struct imsg *, struct msg_reader *);
static void	 scheduler_result(uint32_t type, uint64_t evpid,
		    uint32_t retry);
static void	 scheduler_list(struct msg_reader *);
static void	 scheduler_control(enum proc_id, struct imsg *,
		    struct msg_reader *);
static int	 scheduler_verb(char **words, int nwords, uint32_t uid,
		    char *text, size_t textsz);
static int	 scheduler_id_verb(const char *what, const char *idtext,
		    char *text, size_t textsz);
static void	 scheduler_reply(int idtype, uint64_t ctlid, int32_t result,
		    const char *text);
static void	 scheduler_soon(void);
static void	 scheduler_run(int, short, void *);
static void	 bad_frame(const char *, struct msg_reader *)
		    __attribute__((__noreturn__));

static struct scheduler_ram	*sched;
static struct event		 ev_run;
static int			 mda_paused;

void
scheduler_main(void)
{
	struct sched_policy	 policy;
	const char		*base;
	long			 v;
	char			*end;

	proc_init(PROC_SCHEDULER);
	scheduler_ram_policy_default(&policy);
	if (smtpd_env.conf != NULL && smtpd_env.conf->queue_ttl > 0)
		policy.ttl = smtpd_env.conf->queue_ttl;
	if ((base = getenv("SMTPD_RETRY_BASE")) != NULL && *base != '\0') {
		errno = 0;
		v = strtol(base, &end, 10);
		if (errno != 0 || *end != '\0' || v < 1 || v > 3600)
			fatalx("scheduler: bad SMTPD_RETRY_BASE: %s", base);
		policy.retry_base = (int)v;
	}
	if ((sched = scheduler_ram_new(&policy)) == NULL)
		fatal("scheduler: scheduler_ram_new");
	mda_paused = smtpd_env.paused_mda;
	evtimer_assign(&ev_run, proc_base, scheduler_run, NULL);
	proc_drop_privileges(PROC_CHROOT_DIR);
	log_debug("scheduler: retry base %ds, max %ds, %zu in flight%s",
	    policy.retry_base, policy.retry_max, policy.inflight_max,
	    mda_paused ? ", mda paused" : "");
	proc_loop(scheduler_dispatch);
}

static void
bad_frame(const char *what, struct msg_reader *r)
{
	fatalx("scheduler: bad %s frame: %s", what, msg_reader_error(r));
}

static void
scheduler_dispatch(enum proc_id from, struct imsg *imsg,
    struct msg_reader *r)
{
	if (imsg->fd != -1) {
		close(imsg->fd);
		imsg->fd = -1;
	}
	switch (from) {
	case PROC_QUEUE:
		if (imsg->hdr.type == IMSG_CTL_REQUEST)
			fatalx("scheduler: control request from the queue");
		scheduler_queue_frame(imsg, r);
		break;
	case PROC_CONTROL:
		if (imsg->hdr.type != IMSG_CTL_REQUEST)
			fatalx("scheduler: unexpected frame %u from control",
			    imsg->hdr.type);
		scheduler_control(from, imsg, r);
		break;
	default:
		fatalx("scheduler: unexpected frame %u from %s",
		    imsg->hdr.type, proc_name(from));
	}
	scheduler_soon();
}

static void
scheduler_queue_frame(struct imsg *imsg, struct msg_reader *r)
{
	struct sched_info	 si;
	uint64_t		 evpid;
	uint32_t		 msgid, retry = 0;
	size_t			 n;

	switch (imsg->hdr.type) {
	case IMSG_SCHED_ENVELOPE:
		memset(&si, 0, sizeof(si));
		if (msg_get_id(r, &si.evpid) == -1 ||
		    msg_get_uint32(r, &si.type) == -1 ||
		    msg_get_time(r, &si.creation) == -1 ||
		    msg_get_time(r, &si.lasttry) == -1 ||
		    msg_get_uint64(r, (uint64_t *)&si.ttl) == -1 ||
		    msg_get_uint32(r, &si.retry) == -1 || msg_end(r) == -1)
			bad_frame("IMSG_SCHED_ENVELOPE", r);
		if (scheduler_ram_insert(sched, &si) == -1)
			fatal("scheduler: insert");
		log_trace(TRACE_SCHEDULER, "scheduler: staged %016" PRIx64,
		    si.evpid);
		break;
	case IMSG_SCHED_COMMIT:
	case IMSG_SCHED_ROLLBACK:
		if (msg_get_uint32(r, &msgid) == -1 || msg_end(r) == -1)
			bad_frame("IMSG_SCHED_COMMIT", r);
		if (imsg->hdr.type == IMSG_SCHED_COMMIT) {
			n = scheduler_ram_commit(sched, msgid, time(NULL));
			proc_stat("scheduler.envelope", (int64_t)n);
		} else
			n = scheduler_ram_rollback(sched, msgid);
		log_trace(TRACE_SCHEDULER, "scheduler: %s %08" PRIx32
		    ": %zu envelopes", imsg->hdr.type == IMSG_SCHED_COMMIT ?
		    "commit" : "rollback", msgid, n);
		break;
	case IMSG_SCHED_TEMPFAIL:
		if (msg_get_id(r, &evpid) == -1 ||
		    msg_get_uint32(r, &retry) == -1 || msg_end(r) == -1)
			bad_frame("IMSG_SCHED_TEMPFAIL", r);
		scheduler_result(imsg->hdr.type, evpid, retry);
		break;
	case IMSG_SCHED_DELIVERED:
	case IMSG_SCHED_PERMFAIL:
		if (msg_get_id(r, &evpid) == -1 || msg_end(r) == -1)
			bad_frame("IMSG_SCHED_DELIVERED", r);
		scheduler_result(imsg->hdr.type, evpid, 0);
		break;
	case IMSG_SCHED_LIST:
		scheduler_list(r);
		break;
	default:
		fatalx("scheduler: unexpected frame %u from the queue",
		    imsg->hdr.type);
	}
}

/* A result for an in-flight envelope, counted for show stats. */
static void
scheduler_result(uint32_t type, uint64_t evpid, uint32_t retry)
{
	struct sched_status	 st;
	const char		*key;

	if (!scheduler_ram_status(sched, evpid, &st) ||
	    st.state != SCHED_INFLIGHT) {
		log_debug("scheduler: result for %016" PRIx64 " which is not "
		    "in flight, ignored", evpid);
		return;
	}
	proc_stat("scheduler.envelope.inflight", -1);
	if (type == IMSG_SCHED_TEMPFAIL) {
		scheduler_ram_tempfail(sched, evpid, retry, time(NULL));
		if (st.action == SCHED_ACT_MDA || st.action == SCHED_ACT_BOUNCE)
			proc_stat("scheduler.delivery.tempfail", 1);
		log_trace(TRACE_SCHEDULER, "scheduler: %016" PRIx64
		    " tempfail, retry %" PRIu32, evpid, retry);
		return;
	}
	scheduler_ram_done(sched, evpid);
	proc_stat("scheduler.envelope", -1);
	if (st.action == SCHED_ACT_REMOVE)
		key = "scheduler.envelope.removed";
	else if (st.action == SCHED_ACT_EXPIRE)
		key = "scheduler.envelope.expired";
	else if (type == IMSG_SCHED_PERMFAIL)
		key = "scheduler.delivery.permfail";
	else
		key = "scheduler.delivery.ok";
	proc_stat(key, 1);
	log_trace(TRACE_SCHEDULER, "scheduler: %016" PRIx64 " done (%s)",
	    evpid, key);
}

/* IMSG_SCHED_LIST: the state of each evpid asked, for show queue. */
static void
scheduler_list(struct msg_reader *r)
{
	struct sched_status	 st;
	struct msg		 m;
	uint64_t		 reqid, evpid;
	uint32_t		 count, i;

	if (msg_get_uint64(r, &reqid) == -1 ||
	    msg_get_uint32(r, &count) == -1)
		bad_frame("IMSG_SCHED_LIST", r);
	if (count > SCHED_LIST_MAX)
		fatalx("scheduler: IMSG_SCHED_LIST of %" PRIu32 " envelopes",
		    count);
	msg_init(&m);
	msg_add_uint64(&m, reqid);
	msg_add_uint32(&m, count);
	for (i = 0; i < count; i++) {
		if (msg_get_id(r, &evpid) == -1)
			bad_frame("IMSG_SCHED_LIST", r);
		if (!scheduler_ram_status(sched, evpid, &st))
			memset(&st, 0, sizeof(st));
		msg_add_id(&m, evpid);
		msg_add_uint32(&m, st.state);
		msg_add_uint32(&m, st.retry);
		msg_add_time(&m, st.state == SCHED_PENDING ? st.nexttry : 0);
	}
	if (msg_end(r) == -1)
		bad_frame("IMSG_SCHED_LIST", r);
	proc_send(PROC_QUEUE, IMSG_SCHED_LIST, &m, -1);
	msg_free(&m);
}

static void
scheduler_control(enum proc_id from, struct imsg *imsg, struct msg_reader *r)
{
	char		*verb = NULL, *args = NULL, *line = NULL;
	char		*words[8], *p, *w;
	char		 text[256];
	struct msg	 m;
	uint64_t	 ctlid;
	uint32_t	 uid;
	int		 idtype, nwords = 0, result;

	idtype = msg_peek_type(r);
	if ((idtype == MSG_ID ? msg_get_id(r, &ctlid) :
	    msg_get_uint64(r, &ctlid)) == -1 ||
	    msg_get_string(r, &verb) == -1 ||
	    msg_get_string(r, &args) == -1 ||
	    msg_get_uint32(r, &uid) == -1 || msg_end(r) == -1)
		bad_frame("IMSG_CTL_REQUEST", r);
	if (asprintf(&line, "%s %s", verb, args) == -1)
		fatal("scheduler: asprintf");
	for (p = line; (w = strsep(&p, " \t")) != NULL && nwords < 8;)
		if (*w != '\0')
			words[nwords++] = w;

	if (nwords >= 2 && strcmp(words[0], "show") == 0 &&
	    strcmp(words[1], "queue") == 0) {
		/* the queue has the envelopes: it answers control */
		msg_init(&m);
		if (idtype == MSG_ID)
			msg_add_id(&m, ctlid);
		else
			msg_add_uint64(&m, ctlid);
		msg_add_string(&m, verb);
		msg_add_string(&m, args);
		msg_add_uint32(&m, uid);
		proc_send(PROC_QUEUE, IMSG_CTL_REQUEST, &m, -1);
		msg_free(&m);
		goto done;
	}
	result = scheduler_verb(words, nwords, uid, text, sizeof(text));
	log_debug("scheduler: control (uid %" PRIu32 "): %s %s: %s", uid,
	    verb, args, text);
	scheduler_reply(idtype, ctlid, result, text);
done:
	free(line);
	free(verb);
	free(args);
}

static int
scheduler_verb(char **w, int n, uint32_t uid, char *text, size_t textsz)
{
	int	 admin;

	admin = uid == 0 || uid == (uint32_t)smtpd_env.smtpd_uid;
	if (n == 2 && strcmp(w[0], "show") == 0 &&
	    strcmp(w[1], "status") == 0) {
		snprintf(text, textsz, "mda %s", mda_paused ? "paused" :
		    "running");
		return 1;
	}
	if (!admin) {
		snprintf(text, textsz, "permission denied");
		return 0;
	}
	if (n == 2 && strcmp(w[1], "mda") == 0 &&
	    (strcmp(w[0], "pause") == 0 || strcmp(w[0], "resume") == 0)) {
		mda_paused = strcmp(w[0], "pause") == 0;
		log_info("scheduler: mda %s by the administrator",
		    mda_paused ? "paused" : "resumed");
		snprintf(text, textsz, "mda %s", mda_paused ? "paused" :
		    "resumed");
		return 1;
	}
	if (n == 2 && (strcmp(w[0], "schedule") == 0 ||
	    strcmp(w[0], "remove") == 0))
		return scheduler_id_verb(w[0], w[1], text, textsz);
	if (n == 3 && strcmp(w[1], "envelope") == 0 &&
	    (strcmp(w[0], "pause") == 0 || strcmp(w[0], "resume") == 0))
		return scheduler_id_verb(w[0], w[2], text, textsz);
	snprintf(text, textsz, "unknown request");
	return 0;
}

static int
scheduler_id_verb(const char *what, const char *idtext, char *text,
    size_t textsz)
{
	const char	*done;
	uint64_t	 id;
	size_t		 n;
	time_t		 now = time(NULL);

	if (sched_id_parse(idtext, &id) == -1) {
		snprintf(text, textsz, "invalid id: %s", idtext);
		return 0;
	}
	if (strcmp(what, "schedule") == 0) {
		n = scheduler_ram_schedule(sched, id, now);
		done = "scheduled";
	} else if (strcmp(what, "remove") == 0) {
		n = scheduler_ram_remove(sched, id);
		done = "removed";
	} else if (strcmp(what, "pause") == 0) {
		n = scheduler_ram_hold(sched, id);
		done = "paused";
	} else {
		n = scheduler_ram_release(sched, id, now);
		done = "resumed";
	}
	/* known but not in a state the verb changes: nothing to do */
	if (n == 0 && scheduler_ram_match(sched, id) == 0 &&
	    id != SCHED_ID_ALL) {
		snprintf(text, textsz, "no such envelope or message: %s",
		    idtext);
		return 0;
	}
	snprintf(text, textsz, "%zu envelope%s %s", n, n == 1 ? "" : "s",
	    done);
	return 1;
}

static void
scheduler_reply(int idtype, uint64_t ctlid, int32_t result, const char *text)
{
	struct msg	 m;
	char		 line[300];

	snprintf(line, sizeof(line), "%s\n", text);
	msg_init(&m);
	if (idtype == MSG_ID)
		msg_add_id(&m, ctlid);
	else
		msg_add_uint64(&m, ctlid);
	msg_add_int32(&m, result);
	msg_add_data(&m, line, strlen(line));
	msg_add_int32(&m, 0);
	proc_send(PROC_CONTROL, IMSG_CTL_REPLY, &m, -1);
	msg_free(&m);
}

static void
scheduler_soon(void)
{
	struct timeval	 tv = { 0, 0 };

	evtimer_add(&ev_run, &tv);
}

/* Hand out what is due, then sleep until the next envelope is. */
static void
scheduler_run(int fd, short events, void *arg)
{
	struct sched_item	 items[SCHED_BATCH_MAX];
	struct timeval		 tv;
	struct msg		 m;
	int64_t			 delay;
	uint32_t		 type;
	size_t			 n, i;

	n = scheduler_ram_batch(sched, time(NULL), mda_paused, items,
	    SCHED_BATCH_MAX, &delay);
	for (i = 0; i < n; i++) {
		switch (items[i].action) {
		case SCHED_ACT_REMOVE:
			type = IMSG_SCHED_REMOVED;
			break;
		case SCHED_ACT_EXPIRE:
			type = IMSG_SCHED_EXPIRE;
			break;
		default:
			type = IMSG_SCHED_DELIVER;
			break;
		}
		log_trace(TRACE_SCHEDULER, "scheduler: %016" PRIx64 " -> %s",
		    items[i].evpid, type == IMSG_SCHED_REMOVED ? "remove" :
		    type == IMSG_SCHED_EXPIRE ? "expire" : "deliver");
		msg_init(&m);
		msg_add_id(&m, items[i].evpid);
		proc_send(PROC_QUEUE, type, &m, -1);
		msg_free(&m);
		proc_stat("scheduler.envelope.inflight", 1);
	}
	if (delay < 0)
		return;
	/* a full batch: go on from the event loop, after pending frames */
	tv.tv_sec = delay > 86400 ? 86400 : delay;
	tv.tv_usec = 0;
	evtimer_add(&ev_run, &tv);
}
