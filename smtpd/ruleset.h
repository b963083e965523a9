/*
 * ruleset.h: matching the `match' rules of smtpd.conf, in order, against
 * one recipient of a transaction.  First match wins.
 *
 * Criteria that need no table (from any/local/socket, for any/local,
 * tls, a bare auth or rdns) are decided at once; each table-backed one
 * is a request to its table helper, so a match is an asynchronous walk
 * that resumes in the table's callback.
 */
#ifndef SMTPD_RULESET_H
#define SMTPD_RULESET_H

#include "envelope.h"
#include "lookup.h"

struct config_rule;

/* What a rule is matched against. */
struct ruleset_input {
	const struct envelope	*env;	/* sender, helo, hostname (rDNS),
					   ss, flags (EF_LOCAL: socket,
					   EF_AUTHENTICATED) */
	const struct mailaddr	*rcpt;	/* the recipient being matched */
	const char		*tag;	/* listener tag, NULL or "" none */
	int			 local;	/* the client is local: loopback
					   or the socket, or an address an
					   expansion produced */
};

enum ruleset_result {
	RULESET_TEMPFAIL	= -1,	/* a table failed */
	RULESET_NOMATCH		= 0,
	RULESET_MATCH		= 1,
};

/* rule is set with RULESET_MATCH (it may be a reject rule). */
typedef void	(*ruleset_cb)(int result, struct config_rule *rule,
		    void *arg);

struct ruleset_walk;

/*
 * Start a match; the callback runs exactly once from the event loop,
 * never from inside this call, unless the walk is cancelled first.
 * The input is copied.  NULL only when out of memory.
 */
struct ruleset_walk	*ruleset_match(struct lookup_env *,
			    const struct ruleset_input *, ruleset_cb,
			    void *arg);
void			 ruleset_cancel(struct ruleset_walk *);

/*
 * "for local": localhost, the server name, and the address literals
 * of this host's interfaces ([127.0.0.1], [IPv6:::1]).  An empty
 * domain (RCPT TO:<postmaster>) is local too.
 */
int			 ruleset_local_domain(const struct lookup_env *,
			    const char *domain);
/* Fill env->localnames from hostname and getifaddrs(3); 0 or -1. */
int			 ruleset_local_init(struct lookup_env *,
			    const char *hostname);
/* Add one name (tests, and extra names); 0 or -1. */
int			 ruleset_local_add(struct lookup_env *, const char *);
void			 ruleset_local_free(struct lookup_env *);

/* "file:line" of a rule, for log lines. */
const char		*ruleset_rule_where(const struct config_rule *,
			    char *buf, size_t bufsz);

#endif /* SMTPD_RULESET_H */
