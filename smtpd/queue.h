/*
 * queue.h: the queue process.
 *
 * The queue owns the queue backend helper (queue-fs by default, an
 * imsgproc) and everything that touches stored mail: reception
 * (create, submit, commit, rollback), the start-up walk that reloads
 * the scheduler, the hand-over of each due envelope to the network
 * process for delivery, delivery results, bounces and delay warnings,
 * expiry and removal, and the control verbs that read the queue.
 *
 * Files: queue.c (process, backend, walk, deletions), queue_recv.c
 * (reception), queue_deliver.c (what the scheduler hands out, delivery
 * results, expiry, removal), queue_bounce.c (bounce envelopes,
 * grouping, DSN messages; the text itself is bounce.c) and
 * queue_control.c (show queue|envelope|message).
 *
 * Environment, read once at start-up (documented in smtpd.8):
 *	SMTPD_QUEUE_BACKEND	"fs" (default): queue-fs, spool <spool>/queue;
 *				"ram": queue-ram, nothing survives a restart
 *				(tests, throwaway instances).
 *	SMTPD_BOUNCE_DELAY	seconds a failure waits for the other
 *				failures of its message before its DSN is
 *				made (default QUEUE_BOUNCE_DELAY_DEFAULT;
 *				0 for tests that must not wait).
 *	SMTPD_RETRY_BASE	(read by the scheduler) seconds of the first
 *				retry back-off, 1 to 3600, default 10.
 *
 * Wire conventions with the network process (frames.h): every field
 * of an answer is always present; on failure msgid and evpid are 0 and
 * no descriptor rides along.
 *
 * Delivery results (IMSG_MDA_RESULT) are final for the envelope:
 *	1	deleted from the queue, scheduler told DELIVERED
 *	-1	retry, lasttry, errorline and esc updated, scheduler told
 *		TEMPFAIL; a delay warning (B_DELAYED) is queued when the
 *		envelope has become older than the next `bounce
 *		warn-interval' step and none was sent for that step
 *	0	a bounce envelope (D_BOUNCE, B_FAILED) replaces it in the
 *		same message, scheduler told PERMFAIL; the sender <> is
 *		never bounced (logged, deleted)
 * A backend failure anywhere is a temporary failure: the envelope is
 * tried again later, never lost and never bounced for it.
 *
 * Bounces.  A D_BOUNCE envelope handed out by the scheduler joins the
 * group of its msgid, sender and kind (failed or delayed); the group
 * waits SMTPD_BOUNCE_DELAY seconds for the others, then one DSN
 * (bounce.c) is written into a new message whose envelope sender is
 * <>.  Its recipients are found by asking lookup to route the original
 * sender as a RCPT from a local client: IMSG_LOOKUP_RCPT from the
 * queue (sid: a queue-made id with the top bit set, template sender <>,
 * rcpt the original sender, flags EF_INTERNAL|EF_BOUNCE, tag "",
 * local 1), answered to the queue with IMSG_LOOKUP_RCPT_ENVELOPE* and
 * IMSG_LOOKUP_RCPT_DONE like for the network process.  A sender that is
 * not local (lookup refuses it with anything but 5.1.x, e.g. 5.7.1
 * relay denied) cannot be reached until relaying is supported: the
 * bounce envelope is logged and kept, tried again with back-off, and
 * dropped (logged) when it expires.  An unknown local sender (5.1.x)
 * is logged and the bounce dropped.
 *
 * Control verbs answered by the queue process (IMSG_CTL_REQUEST: the
 * verb may also arrive split as "show" + "queue ...").  Every reply is
 * IMSG_CTL_REPLY ctlid, result, data, more; a listing ends with a reply
 * whose more is 0 (its data may be empty).  Ids are hex: up to 8
 * digits a msgid, 9 to 16 an evpid.  A requester whose uid is neither
 * 0 nor the daemon's sees only envelopes whose sender is its own user
 * name and that were submitted locally (EF_LOCAL).
 *
 *   "show queue" [ID]	result 1, one line per envelope, in evpid
 *			order, in replies of many lines each:
 *	evpid|source|type|flags|sender|rcpt|dest|ctime|expire|lasttry|
 *	retry|state|nexttry-in|errorline
 *			source: local, inet4 or inet6; type: mda, bounce or
 *			mta; flags: comma-separated among local, auth,
 *			bounce, internal ("-" for none); sender "<>" when
 *			empty; ctime, expire and lasttry in seconds since
 *			the epoch (lasttry 0: never tried); state: pending,
 *			inflight, held or unknown (the scheduler has not
 *			seen it yet); nexttry-in: seconds until the next
 *			try of a pending envelope, else 0; errorline: the
 *			last error, may be empty.
 *   "show envelope" EVPID
 *			result 1 and the envelope's "key: value" lines as
 *			stored (plus "evpid: ..." first); result 0 and "no
 *			such envelope: ID" when it does not exist.
 *   "show message" ID	result 1 and the message body (LF line ends),
 *			in replies of at most QUEUE_CTL_CHUNK bytes each;
 *			result 0 "no such message: ID".
 * Other failures: result -1 and a one-line reason ("queue backend
 * unavailable, try again").  "show queue" sent to the scheduler is
 * forwarded here by the scheduler (same ctlid; the answer comes from
 * the queue).
 *
 * Control verbs answered by the scheduler process (scheduler.c); the
 * requester must be uid 0 or the daemon's user, else result 0
 * "permission denied".  ID is an evpid, a msgid or "all".
 *   "schedule" ID		result 1 "N envelopes scheduled"
 *   "remove" ID		result 1 "N envelopes removed" (each one is
 *				deleted from the queue and logged as
 *				"Remove for EVPID: ... stat=Removed by
 *				administrator")
 *   "pause envelope" ID	result 1 "N envelopes paused"
 *   "resume envelope" ID	result 1 "N envelopes resumed"
 *   "pause mda"		result 1 "mda paused"
 *   "resume mda"		result 1 "mda resumed"
 *   "show status"		result 1 "mda paused" or "mda running"
 * "N envelope" when N is 1.  An ID the scheduler knows but that is in
 * no state the verb changes (schedule of an envelope in flight) gets
 * result 1 and N = 0.  An ID that matches nothing: result 0 "no such
 * envelope or message: ID"; a malformed ID or an unknown verb: result
 * 0 and a one-line reason.
 *
 * Counters (proc_stat): queue.bounce (+1 per DSN message made),
 * scheduler.envelope (+/-: envelopes in the queue),
 * scheduler.envelope.inflight (+/-), scheduler.delivery.ok,
 * scheduler.delivery.tempfail, scheduler.delivery.permfail,
 * scheduler.envelope.expired, scheduler.envelope.removed.
 */
#ifndef SMTPD_QUEUE_H
#define SMTPD_QUEUE_H

#include <stdint.h>
#include <time.h>

#include "smtpd-api.h"
#include "proc.h"

#include "envelope.h"

#define QUEUE_BOUNCE_DELAY_DEFAULT	5	/* seconds */
#define QUEUE_CTL_CHUNK			16384	/* bytes of one reply */
#define QUEUE_BACKEND_TIMEOUT_MS	30000	/* commits, updates */
#define QUEUE_LOOKUP_TIMEOUT		60	/* seconds for a bounce RCPT */

/* ---- queue.c, for the other queue_*.c files ---- */

/*
 * What a backend request works for: ids, and room for the envelope
 * being worked on.  Allocated per request, freed by its callback.
 */
struct queue_req {
	uint64_t		 sid;
	uint64_t		 evpid;
	uint32_t		 msgid;
	void			(*loaded)(uint64_t, struct envelope *,
				    const char *, size_t);
	struct envelope		 env;
};

struct queue_req *queue_req_new(void);		/* fatal on ENOMEM */
/* A peer process sent a frame that does not decode: a bug. */
void		 queue_bad_frame(const char *, struct msg_reader *)
		    __attribute__((__noreturn__));
/* Set a message aside (MESSAGE_CORRUPT), logged. */
void		 queue_message_corrupt(uint32_t msgid);

/* The backend helper; requests fail temporarily while it restarts. */
uint64_t	 queue_backend_request(uint32_t type, const struct msg *body,
		    int fd, imsgproc_reply_cb cb, void *arg);
/* Read an int32 result; -1 when the request failed or is malformed. */
int		 queue_backend_result(int result, struct msg_reader *);
/* Tell the scheduler about committed envelopes of one message. */
void		 queue_sched_envelope(const struct envelope *);
void		 queue_sched_msgid(uint32_t type, uint32_t msgid);
void		 queue_sched_evpid(uint32_t type, uint64_t evpid);
void		 queue_sched_tempfail(uint64_t evpid, uint32_t retry);
/* Delete an envelope; on failure it is retried later (logged). */
void		 queue_envelope_delete(uint64_t evpid);
/* envelope_dump into a msg as a MSG_DATA field; -1 if it is too big. */
int		 queue_envelope_add(struct msg *, const struct envelope *);
/* "1d2h3m4s" */
const char	*queue_duration(int64_t seconds, char *buf, size_t bufsz);
/* "user@domain" or "" for <>, in a static buffer of each slot. */
const char	*queue_addr(const struct mailaddr *, int slot);

/* ---- queue_recv.c: IMSG_RECV_* from the network process ---- */

void		 queue_recv_frame(struct imsg *, struct msg_reader *);

/* ---- queue_deliver.c: IMSG_SCHED_DELIVER|EXPIRE|REMOVED, MDA_RESULT ---- */

void		 queue_deliver_frame(struct imsg *, struct msg_reader *);

/* ---- queue_bounce.c ---- */

void		 queue_bounce_init(void);
/*
 * Permanent failure (or expiry) of envelope e, in flight for the
 * scheduler: queue a bounce (unless the sender is <>), delete e and
 * tell the scheduler PERMFAIL; on a backend failure, tell it TEMPFAIL
 * instead.  e is copied.
 */
void		 queue_bounce_failed(const struct envelope *e,
		    const char *line, const char *esc);
/* Queue a delay warning for e (a D_MDA envelope being retried). */
void		 queue_bounce_delayed(const struct envelope *e);
/* The delay warning step e has reached, or -1; see queue.c. */
int		 queue_bounce_warn_due(const struct envelope *e, time_t now);
/* A D_BOUNCE envelope handed out by the scheduler, loaded. */
void		 queue_bounce_deliver(const struct envelope *e);
/* IMSG_LOOKUP_RCPT_ENVELOPE and _DONE from lookup. */
void		 queue_bounce_lookup_frame(struct imsg *,
		    struct msg_reader *);

/* ---- queue_control.c ---- */

void		 queue_control_request(struct imsg *, struct msg_reader *);
/* IMSG_SCHED_LIST answers from the scheduler. */
void		 queue_control_sched_list(struct imsg *, struct msg_reader *);
/*
 * Send one IMSG_CTL_REPLY; idtype is the msg type the request's ctlid
 * came as (MSG_UINT64, or MSG_ID), echoed as it came.
 */
void		 queue_ctl_reply(int idtype, uint64_t ctlid, int32_t result,
		    const void *data, size_t len, int more);

#endif /* SMTPD_QUEUE_H */
