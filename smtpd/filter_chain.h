/*
 * filter_chain.h: the daemon's side of filters (issue 4), in the network
 * process.
 *
 * filter_chain_init() starts one imsgproc per proc-exec filter that a
 * listener uses (directly or as a chain member), restarted with back-off
 * when it dies.  An SMTP session whose listener has a filter opens a
 * filter_session on it (config_listener.filter: one proc-exec filter or
 * a chain) and asks it at each step before it answers the client:
 *
 *	connect -> helo -> mail (TX_BEGIN + MAIL) -> rcpt... -> data ->
 *	data lines -> data_end (EOM) -> tx_commit or tx_rollback ...
 *	reset at RSET, close at the end of the session.
 *
 * A query walks the chain in order: a filter that accepts passes the
 * query to the next one; the first reject, tempfail or disconnect stops
 * the walk and is the decision.  A filter that did not announce the
 * hook is skipped (accept).  The decision callback is called exactly
 * once per query, always from the event loop, never from inside the
 * call that asked (so the caller may set its wait state after asking).
 *
 * Failures are never a 5xx (filter_reply_failure()): a timeout (the
 * filter's own `timeout', per exchange), a dead filter, a malformed
 * reply or a wrong line count gives
 *	connect, helo		421 4.7.0, status FILTER_DISCONNECT
 *	mail, rcpt, data	451 4.7.1, status FILTER_TEMPFAIL
 *	data lines, data_end	451 4.3.0, status FILTER_TEMPFAIL
 * and one log line naming the filter and the exchange; a reply that
 * comes after the deadline is ignored.  A filter that was restarted
 * since it first saw this session has lost the session: the next query
 * of that session gets 421 4.7.0 (FILTER_DISCONNECT), at the end of a
 * message too.  Other sessions are not affected.
 *
 * What the session does with a decision (struct filter_reply):
 *	FILTER_ACCEPT		go on (code 0, no text)
 *	FILTER_REJECT		reply code/enhanced/message (5xx)
 *	FILTER_TEMPFAIL		reply it (4xx); at data_end: roll back
 *	FILTER_DISCONNECT	reply it (4xx or 5xx), then close the
 *				session (roll back an open transaction)
 * A refusal at connect is given instead of the banner, and the session
 * closes whatever the status.
 */
#ifndef SMTPD_FILTER_CHAIN_H
#define SMTPD_FILTER_CHAIN_H

#include <sys/types.h>
#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>

#include "smtpd-api.h"

struct event_base;
struct smtpd_config;
struct config_filter;
struct filter_session;

/*
 * Start every proc-exec filter used by a listener of conf, argv[0]
 * resolved with path_of (the daemon passes helper_path() of proc.h: a
 * bare name is looked up in the helpers directory, a path is kept; a
 * parameter so that this file does not need proc.c).  0, or -1 after a
 * log line (a program that cannot be started: a start-up error).
 * Sessions may open at once: a query waits for a filter that is
 * starting until it is ready or fails its handshake (imsgproc's
 * deadline, 10 s); one that is down waiting for its restart (back-off)
 * fails the query at once.
 */
int		 filter_chain_init(struct event_base *,
		    const struct smtpd_config *conf,
		    char *(*path_of)(const char *, char *, size_t));
/* Stop every filter (shutdown, tests). */
void		 filter_chain_shutdown(void);
/* pid of a filter's program, or -1 when it is not running (tests). */
pid_t		 filter_chain_pid(const struct config_filter *);

/* Callbacks of one session, given at open. */
struct filter_session_cb {
	/*
	 * A line that left the last filter of the chain (dot-unstuffed,
	 * no CRLF): the session writes it to the message file.  Called
	 * from the event loop or from inside filter_data_line().  Lines
	 * of a message that ends in a failure may have been written: the
	 * data_end decision is then a tempfail and the session rolls the
	 * message back.
	 */
	void	(*dataline)(void *arg, const char *line);
	/*
	 * Flow control: high 1 when the lines buffered in the chain for
	 * this session pass FILTER_BACKLOG_HIGH bytes (stop reading the
	 * client), 0 when they fall back under FILTER_BACKLOG_LOW (read
	 * again).  May be NULL: then poll filter_session_backlog().
	 * "low" may also come from inside filter_tx_commit/_rollback,
	 * _reset and _session_close, which drop what is buffered.
	 */
	void	(*backlog)(void *arg, int high);
};

#define FILTER_BACKLOG_HIGH	(256 * 1024)
#define FILTER_BACKLOG_LOW	(64 * 1024)

/* The decision of a query. */
typedef void	(*filter_decision_cb)(struct filter_session *,
		    const struct filter_reply *, void *arg);

/*
 * Open a session on a proc-exec filter or a chain (listener->filter),
 * sid being the SMTP session id (the one in the logs).  Never NULL
 * (fatal on memory exhaustion).  cb is copied.
 */
struct filter_session *filter_session_open(const struct config_filter *,
		    uint64_t sid, const struct filter_session_cb *cb,
		    void *arg);
/*
 * End of the SMTP session: cancels a pending query (its callback is
 * not called), sends TX_ROLLBACK if a transaction is open, then
 * DISCONNECT to every filter that knows the session, and frees fs.
 */
void		 filter_session_close(struct filter_session *);
/* Bytes of lines buffered in the chain for this session. */
size_t		 filter_session_backlog(const struct filter_session *);
/* A query is pending (its decision not yet delivered). */
int		 filter_session_busy(const struct filter_session *);

/*
 * Queries: one at a time per session, in SMTP order.  Asking while a
 * query is pending is a programming error (fatalx).
 *
 * connect: local and remote (AF_UNSPEC for the enqueue socket), rdns
 * "" when none, fcrdns 1 confirmed, 0 not, -1 unknown.
 */
void		 filter_connect(struct filter_session *,
		    const struct sockaddr *local, const struct sockaddr *remote,
		    const char *rdns, int fcrdns, filter_decision_cb, void *);
void		 filter_helo(struct filter_session *, const char *helo,
		    filter_decision_cb, void *);
/*
 * MAIL FROM: sends TX_BEGIN msgid, then the MAIL query (filters keep
 * per-transaction state from TX_BEGIN, so the queue's CREATE must have
 * answered the msgid before).  After a refusal the session rolls the
 * message back and calls filter_tx_rollback().  The null sender is
 * user "" domain "".
 */
void		 filter_mail(struct filter_session *, uint32_t msgid,
		    const char *user, const char *domain, filter_decision_cb,
		    void *);
void		 filter_rcpt(struct filter_session *, const char *user,
		    const char *domain, filter_decision_cb, void *);
/* DATA: after its acceptance the data phase is open. */
void		 filter_data(struct filter_session *, filter_decision_cb,
		    void *);

/*
 * One line of the message, len bytes (dot-unstuffed, without CRLF; the
 * session sends its Received: header first, so filters see and may
 * sign the message as it is queued).  Lines go through the chain in
 * batches; what leaves the last filter goes to cb->dataline.  Never
 * fails here: a line the filters cannot take (a NUL, CR or LF inside,
 * over FILTER_LINE_MAX) or any failure of the chain makes the data_end
 * decision a 451 4.3.0.
 */
void		 filter_data_line(struct filter_session *, const char *line,
		    size_t len);
/*
 * End of the message: EOM through the chain in order, each filter told
 * the lines and bytes it was given, and its DATAOUT count checked
 * against what it says it sent.  The decision comes once every line
 * that leaves the chain has been handed to cb->dataline.
 */
void		 filter_data_end(struct filter_session *, filter_decision_cb,
		    void *);

/*
 * Events, no decision.  reset: RSET (the session sends tx_rollback
 * first when a transaction was open).  tx_commit: the message is
 * queued and 250 was sent.  tx_rollback: the transaction is abandoned
 * (refused MAIL, failed or refused message, RSET, a new MAIL...).
 */
void		 filter_reset(struct filter_session *);
void		 filter_tx_commit(struct filter_session *);
void		 filter_tx_rollback(struct filter_session *);

#endif /* SMTPD_FILTER_CHAIN_H */
