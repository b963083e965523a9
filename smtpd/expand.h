/*
 * expand.h: from one RCPT to the final envelopes.
 *
 * The recipient is matched against the ruleset; the matched action's
 * alias or virtual table, the userbase and ~/.forward turn it into a
 * tree of targets (users, addresses, files, commands), each address an
 * expansion produces being matched against the ruleset again.  The
 * leaves are the final deliveries.  Every step that needs a table is
 * asynchronous; the expansion answers once, with every final envelope
 * or with one error for the whole recipient.
 */
#ifndef SMTPD_EXPAND_H
#define SMTPD_EXPAND_H

#include <stdint.h>

#include "envelope.h"
#include "lookup.h"

#define EXPAND_DEPTH_MAX	10	/* nested aliases, forwards */
#define EXPAND_NODES_MAX	5000	/* targets of one recipient */
#define EXPAND_TEXT_MAX		256

struct expansion;

struct expand_result {
	int		 result;	/* 1 ok, 0 permanent, -1 temporary */
	int		 code;		/* 250, 550, 451... */
	char		 esc[16];	/* "2.1.5", "5.1.1"... */
	char		 text[EXPAND_TEXT_MAX];
	size_t		 nenvelopes;	/* with result 1 */
};

/* Runs once from the event loop; use expand_envelope() inside it. */
typedef void	(*expand_cb)(struct expansion *, const struct expand_result *,
		    void *arg);

/*
 * Start expanding tmpl->rcpt.  tmpl is the template the network sent
 * (sender, rcpt, helo, hostname, ss, tag, flags, smtpname); tag the
 * listener tag; local whether the client is local.  sid is for log
 * lines.  NULL only when out of memory.
 */
struct expansion	*expand_start(struct lookup_env *, uint64_t sid,
			    const struct envelope *tmpl, const char *tag,
			    int local, expand_cb, void *arg);
/* Stop an expansion before its callback ran: nothing is called. */
void			 expand_cancel(struct expansion *);
/*
 * Final envelope i (0 <= i < nenvelopes), built from the template:
 * type D_MDA, dispatcher, dest, mda_*.  Valid inside the callback.
 */
void			 expand_envelope(const struct expansion *, size_t i,
			    struct envelope *);
/* Free an expansion after its callback (or inside it). */
void			 expand_free(struct expansion *);

#endif /* SMTPD_EXPAND_H */
