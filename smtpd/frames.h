/*
 * frames.h: the frames the daemon's processes exchange (not helpers:
 * those are in smtpd-api.h).  Bodies are msg fields in the order given;
 * "sid" is a 64-bit SMTP session id (MSG_ID), "evpid" an envelope id
 * (MSG_ID), "env" an envelope in ASCII form (MSG_DATA, envelope_dump),
 * "result" an int32 (1 ok, 0 permanent failure, -1 temporary failure).
 *
 * Flows, in short:
 *  reception	network -> queue RECV_CREATE (msgid + writable fd),
 *		network -> lookup RCPT, lookup -> network RCPT_ENVELOPE*
 *		then RCPT_DONE, network -> queue RECV_SUBMIT per envelope,
 *		network -> queue RECV_COMMIT; queue -> scheduler ENVELOPE* +
 *		COMMIT; queue -> network COMMIT reply; network sends 250.
 *  delivery	scheduler -> queue DELIVER, queue -> network MDA_DELIVER
 *		(+ read-only message fd), network -> parent MDA_FORK
 *		(+ fd), parent -> network MDA_DONE, network -> queue
 *		MDA_RESULT, queue -> scheduler DELIVERED|TEMPFAIL|PERMFAIL.
 */
#ifndef SMTPD_FRAMES_H
#define SMTPD_FRAMES_H

enum smtpd_frame {
	/* network <-> queue: reception */
	IMSG_RECV_CREATE = 1000,	/* N->Q sid
					   Q->N sid, result, uint32 msgid
					        + writable fd on success */
	IMSG_RECV_SUBMIT,		/* N->Q sid, uint32 msgid, env
					   Q->N sid, result, evpid */
	IMSG_RECV_COMMIT,		/* N->Q sid, uint32 msgid
					   Q->N sid, result (1 only once
					   durable) */
	IMSG_RECV_ROLLBACK,		/* N->Q uint32 msgid; no answer */

	/* network <-> lookup */
	IMSG_LOOKUP_RCPT = 1100,	/* N->L sid, env (a template: sender,
					   rcpt, helo, hostname, ss, tag,
					   flags, smtpname), string
					   listener tag, int32 local
					   (client is local/socket).
					   Q->L too, to route a bounce
					   (queue_bounce.c): sid with the
					   top bit set, sender <>, rcpt
					   the original sender, flags
					   EF_INTERNAL|EF_BOUNCE, tag "",
					   local 1; lookup answers the
					   queue with the two frames
					   below, as it does network */
	IMSG_LOOKUP_RCPT_ENVELOPE,	/* L->N sid, env (final, type D_MDA,
					   dispatcher, dest, mda_*) */
	IMSG_LOOKUP_RCPT_DONE,		/* L->N sid, result, uint32 code,
					   string esc, string text
					   (result 1: code 250) */
	IMSG_LOOKUP_RDNS,		/* N->L sid, sockaddr
					   L->N sid, result, string name */
	IMSG_LOOKUP_UPDATE_TABLE,	/* C->L string name; L->C result,
					   string text */

	/* queue <-> scheduler */
	IMSG_SCHED_ENVELOPE = 1200,	/* Q->S evpid, uint32 type,
					   time creation, time lasttry,
					   int64 ttl, uint32 retry; staged
					   until COMMIT of its msgid */
	IMSG_SCHED_COMMIT,		/* Q->S uint32 msgid */
	IMSG_SCHED_ROLLBACK,		/* Q->S uint32 msgid */
	IMSG_SCHED_DELIVER,		/* S->Q evpid (type D_MDA/D_BOUNCE) */
	IMSG_SCHED_EXPIRE,		/* S->Q evpid: past its ttl */
	IMSG_SCHED_DELIVERED,		/* Q->S evpid: done, forget it */
	IMSG_SCHED_TEMPFAIL,		/* Q->S evpid, uint32 retry */
	IMSG_SCHED_PERMFAIL,		/* Q->S evpid: done (bounced) */
	IMSG_SCHED_REMOVED,		/* S->Q evpid: removed by the admin */
	IMSG_SCHED_LIST,		/* Q->S uint64 reqid, uint32 count,
					   count x evpid
					   S->Q uint64 reqid, uint32 count,
					   count x (evpid, uint32 state
					   (enum sched_state), uint32
					   retry, time nexttry): the
					   scheduler's view, for show
					   queue (queue.h) */

	/* delivery: queue -> network -> parent and back */
	IMSG_MDA_DELIVER = 1300,	/* Q->N evpid, env + read-only
					   message fd */
	IMSG_MDA_FORK,			/* N->P evpid, env, string
					   method, string buffer (the
					   expanded path, command or
					   lmtp destination), string
					   wrapper command ("" none)
					   + message fd */
	IMSG_MDA_DONE,			/* P->N evpid, result, string text */
	IMSG_MDA_RESULT,		/* N->Q evpid, result, string text,
					   string esc */

	/* control (smtpctl) <-> processes; see control.c */
	IMSG_CTL_REQUEST = 1400,	/* C->X uint64 ctlid, string verb,
					   string arguments, uint32 uid
					   of the requester */
	IMSG_CTL_REPLY,			/* X->C uint64 ctlid, result,
					   data (text lines), int32 more
					   (1: further replies follow) */
	IMSG_CTL_SMTP_SESSION,		/* C->N uint64 ctlid, uint32 uid
					   N->C uint64 ctlid, result + fd
					   of a local SMTP session */
	IMSG_CTL_STAT,			/* X->C string key, int64 delta
					   (as MSG_UINT64, two's
					   complement; see proc_stat):
					   counters for show stats */

	/* parent <-> everyone */
	IMSG_PARENT_SHUTDOWN = 1500,	/* P->X: exit now
					   C->P (smtpctl stop): the parent
					   stops everything as on SIGTERM */
	IMSG_PARENT_LOG_VERBOSE,	/* P->X int32 verbose
					   C->P the same (smtpctl log
					   verbose|brief): the parent
					   applies it and sends it to
					   every process, control too */
	IMSG_PARENT_TRACE,		/* P->X uint32 trace mask
					   C->P the same, the whole new
					   mask (trace/untrace: control
					   or's/clears bits of its own
					   log_gettrace()); forwarded to
					   every process as above.
					   proc_loop handles these three
					   in the children (proc.h) */
};

#endif /* SMTPD_FRAMES_H */
