/*
 * probe.h: what a role module of smtpd-probe implements.
 *
 * smtpd-probe plays the daemon's side of the helper protocol.  The core
 * (probe.c) spawns the helper, does the handshake, reads requests (one
 * per line: words split like a shell would, without a shell) and
 * prints one line per request.  What the words of a request mean and
 * how a reply reads is the business of one role module per role:
 * probe_table.c, probe_queue.c, probe_filter.c.  Each exports one
 * struct probe_role and adds one line to the roles[] array in probe.c
 * and one object to probe/build.mk.
 *
 * A simple request is one frame out and one reply back: the role's
 * parse() turns the words into a frame type and body, the core sends it
 * with a request id and a deadline, and print() turns the reply into
 * the text after "WORDS: ".  A request that is an exchange of several
 * frames (a filter session, a queue message with its content) is
 * driven by the role's script() hook with the probe_* calls below.
 */
#ifndef PROBE_H
#define PROBE_H

#include <stdint.h>
#include <stdio.h>

#include "smtpd-api.h"

/* How a request ended: decides the exit status (0, or 1 if any failed). */
#define PROBE_ANSWERED	 0	/* found, not found, done, rejected... */
#define PROBE_FAILED	 1	/* temporary failure, timeout, helper down */
#define PROBE_MALFORMED	(-1)	/* print(): the reply did not decode */

/* Longest request line; longest word count of a request. */
#define PROBE_LINE_MAX	8192
#define PROBE_WORDS_MAX	64

struct probe;			/* the core's state, opaque to roles */

struct probe_role {
	const char	*name;		/* HELPER_ROLE_*, the ROLE argument */
	/* Request syntax, one request per line, for usage messages. */
	const char	*usage;

	/*
	 * One request: argv[0] is the verb.  Fill *type and body (already
	 * msg_init'ed, without the request id, which the core prepends);
	 * *fd may be set to a descriptor to pass (the core closes it
	 * once sent), it is -1 on entry.  The role may rewrite the words
	 * in place (the table role lowercases keys): the output line
	 * shows the words as sent.  Returns 0, or -1 with err filled for
	 * a usage error ("lookup needs SERVICE KEY").  Called once to
	 * validate requests before the helper is spawned, and again to
	 * send, so it must not have side effects beyond its outputs.
	 */
	int		(*parse)(int argc, char **argv, uint32_t *type,
			    struct msg *body, int *fd, char *err,
			    size_t errsz);

	/*
	 * A reply to a request of the given type, reader positioned after
	 * the request id: write the text that follows "WORDS: " to out
	 * (no newline).  Returns PROBE_ANSWERED, PROBE_FAILED (the helper
	 * answered "temporary failure"), or PROBE_MALFORMED (the core
	 * then prints the reader's error instead of what was written).
	 */
	int		(*print)(uint32_t type, struct msg_reader *, FILE *out);

	/*
	 * READY's capabilities in words, for the line
	 * "helper NAME ready: <text>" on stderr: "services alias, domain".
	 */
	void		(*describe)(uint64_t capabilities, FILE *out);

	/* Optional (NULL): a frame that is neither READY nor a reply. */
	void		(*on_frame)(struct probe *, struct imsg *,
			    struct msg_reader *);

	/*
	 * Optional (NULL): a request that is an exchange of several
	 * frames.  Return 0 when argv[0] is not such a verb (the core
	 * then uses parse()), -1 with err filled on a usage error, 1 when
	 * the exchange has started: the role then calls probe_done()
	 * exactly once, from a callback.  With p == NULL only validate
	 * the words (the helper is not running yet) and send nothing.
	 * The core bounds the whole exchange by the request deadline:
	 * when it expires, or the helper goes down, the core ends the
	 * request itself and calls abort() so the role drops its state.
	 */
	int		(*script)(struct probe *p, int argc, char **argv,
			    char *err, size_t errsz);
	void		(*abort)(struct probe *);
};

typedef void	(*probe_reply_fn)(struct probe *, int result,
		    struct imsg *, struct msg_reader *, void *arg);

/*
 * For script() exchanges.  probe_request sends a request with the
 * probe's deadline; fn gets an imsgproc_result and, for
 * IMSGPROC_REPLY, the reader after the request id.  Returns 0 when it
 * could not be queued (fn is still called, later).  probe_send sends
 * a frame without a request id; 0, or -1 when the helper is down.
 */
uint64_t	 probe_request(struct probe *, uint32_t type,
		    const struct msg *body, int fd, probe_reply_fn, void *arg);
int		 probe_send(struct probe *, uint32_t type,
		    const struct msg *body, int fd);
/* An extra output line "WORDS: text" for the request in progress. */
void		 probe_line(struct probe *, const char *fmt, ...)
		    __attribute__((__format__(printf, 2, 3)));
/* End the request in progress: prints "WORDS: text", outcome as above. */
void		 probe_done(struct probe *, int outcome, const char *fmt, ...)
		    __attribute__((__format__(printf, 3, 4)));
/* Nonzero while a script() request is in progress. */
int		 probe_busy(struct probe *);
uint64_t	 probe_capabilities(struct probe *);
int		 probe_timeout_ms(struct probe *);

/* Helpers for print(): a string in double quotes, C escapes inside. */
void		 probe_print_quoted(FILE *, const char *, size_t len);

/* One per role file; each is listed in roles[] in probe.c. */
extern const struct probe_role probe_role_table;	/* probe_table.c */
extern const struct probe_role probe_role_queue;	/* probe_queue.c */
extern const struct probe_role probe_role_filter;	/* probe_filter.c */

#endif /* PROBE_H */
