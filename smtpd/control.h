/*
 * control.h: the control process and its socket, the one way in for
 * smtpctl, mailq, newaliases and sendmail.
 *
 * control_main() binds the socket at smtpd_env.sockpath (mode 0666:
 * anyone may connect) before the privilege drop, then takes requests.
 * Who asks is known from SO_PEERCRED, never from what the client says.
 * A requester is privileged when its uid is 0 or the daemon's
 * (smtpd_env.smtpd_uid: the invoking user of a non-root instance).
 * Anybody else may only "show queue" (the queue then lists only the
 * envelopes that user sent locally) and open a local SMTP session
 * (sendmail); everything else is answered "permission denied".
 *
 * ---- The client protocol, on the socket ----
 *
 * imsg frames (smtpd-api.h section 2) with msg bodies (section 3), the
 * same layouts as between the processes (frames.h), so one decoder
 * does for both:
 *
 *   client -> control
 *	IMSG_CTL_REQUEST	uint64 id (the client's, echoed back),
 *				string verb, string arguments ("" none),
 *				uint32 uid (ignored: SO_PEERCRED wins)
 *	IMSG_CTL_SMTP_SESSION	uint64 id, uint32 uid (ignored)
 *   control -> client
 *	IMSG_CTL_REPLY		uint64 id, int32 result, data text,
 *				int32 more
 *	IMSG_CTL_SMTP_SESSION	uint64 id, int32 result, string text
 *				+ the session's socket when result is 1
 *
 * "uint64" is a MSG_UINT64 field (a MSG_ID is accepted too), "data" a
 * MSG_DATA (a MSG_STRING is accepted too), result is 1 done, 0 refused
 * or failed for good (text says why), -1 temporary failure.  A request
 * may be answered by several replies: every one but the last has more
 * 1.  The data of a reply is text, normally whole lines ending in LF,
 * printed as it is.  A client may have several requests under way; it
 * tells their replies apart by id.
 *
 * ---- Verbs ----
 *
 * smtpctl expands the abbreviations; control takes only these words
 * (arguments in the arguments string, blank separated):
 *
 *   verb		arguments	answered by
 *   show queue		[ID]		queue (queue.h)
 *   show envelope	EVPID		queue
 *   show message	ID		queue
 *   schedule		ID|all		scheduler (queue.h)
 *   remove		ID|all		scheduler
 *   pause envelope	ID|all		scheduler
 *   resume envelope	ID|all		scheduler
 *   pause mda		-		scheduler, then network
 *   resume mda		-		scheduler, then network
 *   pause smtp		-		network
 *   resume smtp	-		network
 *   show status	-		control ("smtp paused|running",
 *					as network last answered pause
 *					or resume smtp, or smtpd -P), then
 *					scheduler ("mda paused|running")
 *   update table	NAME		lookup (as an IMSG_CTL_REQUEST)
 *   show stats		-		control: "key=value" lines, sorted
 *   monitor		-		control: one line per second, for
 *					as long as the client stays
 *   log		verbose|brief	control -> parent
 *					IMSG_PARENT_LOG_VERBOSE
 *   trace, untrace	SUBSYSTEM	control -> parent IMSG_PARENT_TRACE
 *   profile, unprofile	imsg|queue	control -> parent IMSG_PARENT_TRACE
 *					(the PROFILE_* bits below)
 *   stop		-		control -> parent IMSG_PARENT_SHUTDOWN
 *
 * A request for several processes is sent to all at once; their
 * replies reach the client in the order of the table, and the second
 * one's text only when it failed (pause mda: the scheduler speaks).
 *
 * ---- What the other processes answer (IMSG_CTL_REQUEST) ----
 *
 * Every process that gets an IMSG_CTL_REQUEST answers it with at least
 * one IMSG_CTL_REPLY carrying the same ctlid, the last with more 0,
 * within CONTROL_REQUEST_TIMEOUT seconds of the request or of its
 * previous reply (else the client is told the process did not answer).
 * An unknown verb is answered result 0 "unknown request: VERB".  The
 * queue and the scheduler: see queue.h; lookup: lookup.c.  The network
 * process:
 *   "pause smtp"	result 1 "smtp paused" (smtp_pause)
 *   "resume smtp"	result 1 "smtp resumed"
 *   "pause mda"	result 1 (mda_pause(1): deliveries already handed
 *			over wait; the scheduler stops the rest)
 *   "resume mda"	result 1 (mda_pause(0))
 * and IMSG_CTL_SMTP_SESSION (frames.h) with smtp_enqueue_session(uid).
 * Replies whose data is empty print nothing.
 *
 * ---- Counters ----
 *
 * IMSG_CTL_STAT (proc_stat) adds delta to a counter kept here; show
 * stats prints every counter with its current value, plus uptime and
 * uptime.human.  monitor prints, each second, the current value of
 * the gauges and what the counters did in that second:
 *	clients curr	smtp.session (+1 connect, -1 disconnect)
 *	clients new/gone	its increments / decrements
 *	envelopes curr	scheduler.envelope (+1 queued, -1 done)
 *	envelopes in/out	its increments / decrements
 *	ok, tempfail, permfail	scheduler.delivery.ok, .tempfail, .permfail
 *	expired, removed	scheduler.envelope.expired, .removed
 *	bounces		queue.bounce
 * At most CONTROL_STATS_MAX keys of at most CONTROL_STAT_KEY_MAX bytes.
 *
 * ---- Profiling ----
 *
 * profile imsg|queue sets a bit of the trace mask above the TRACE_*
 * subsystems (it travels with IMSG_PARENT_TRACE like any trace bit):
 * with PROFILE_IMSG set, a process logs with log_trace(PROFILE_IMSG,
 * ...) how long it took to handle each frame; with PROFILE_QUEUE, the
 * queue process logs how long each backend request took.
 */
#ifndef SMTPD_CONTROL_H
#define SMTPD_CONTROL_H

#include <stdint.h>

#define PROFILE_IMSG		0x00010000
#define PROFILE_QUEUE		0x00020000

#define CONTROL_REQUEST_TIMEOUT	60	/* seconds without an answer */
#define CONTROL_MAX_CLIENTS	128	/* then accepting waits */
#define CONTROL_CLIENT_REQUESTS	16	/* under way per client */
#define CONTROL_CLIENT_QUEUED	(64 * 1024 * 1024) /* unsent reply bytes
						   before a client is
						   dropped */
#define CONTROL_STATS_MAX	1024
#define CONTROL_STAT_KEY_MAX	64
#define CONTROL_ARGS_MAX	1024	/* bytes of verb + arguments */

/*
 * control_stats.c: the counters, without any I/O (the unit tests drive
 * it directly).  A key is kept with its value and, apart, the sum of
 * its increments and of its decrements, so that the monitor can tell
 * "3 new, 2 gone" from a gauge that moved by one.
 */
struct control_sample {
	uint64_t	 up[8];
	uint64_t	 down[8];
	int64_t		 value[8];
};

void		 control_stats_clear(void);
/* 0, or -1 when the key is malformed or the table is full (the
 * caller logs it once). */
int		 control_stats_add(const char *key, int64_t delta);
/* 0 for an unknown key. */
int64_t		 control_stats_value(const char *key);
/*
 * Every counter as "key=value\n", sorted by key, uptime and
 * uptime.human among them.  Returns a string the caller frees, or
 * NULL (ENOMEM).
 */
char		*control_stats_render(int64_t uptime);
/* "1d2h3m4s", "0s" */
const char	*control_stats_duration(int64_t seconds, char *buf,
		    size_t bufsz);
/* The counters the monitor shows, now. */
void		 control_stats_sample(struct control_sample *);
/* The monitor's two header lines, and one line for an interval. */
const char	*control_stats_monitor_header(void);
void		 control_stats_monitor_line(const struct control_sample *prev,
		    const struct control_sample *now, char *buf, size_t bufsz);

#endif /* SMTPD_CONTROL_H */
