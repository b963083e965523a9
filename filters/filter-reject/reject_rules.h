/*
 * reject_rules.h: the rules file of filter-reject, read into memory.
 *
 * Each rule names what it looks at (a criterion), what matches (a
 * table(5) file or one inline entry, both matched by table-static's
 * matcher) and the reply to give.  reject_rules.c reads and checks the
 * file; filter_reject.c applies the rules.
 */
#ifndef REJECT_RULES_H
#define REJECT_RULES_H

#include "smtpd-api.h"

enum reject_criterion {
	CRIT_CLIENT,		/* client address or network (connect) */
	CRIT_RDNS,		/* client's reverse DNS name (connect) */
	CRIT_NO_RDNS,		/* no reverse DNS name (connect) */
	CRIT_NO_FCRDNS,		/* name not forward-confirmed (connect) */
	CRIT_HELO,		/* HELO/EHLO name */
	CRIT_SENDER,		/* MAIL FROM address or @domain */
	CRIT_RECIPIENT,		/* RCPT TO address or @domain */
	CRIT_HEADER,		/* a header line, by regex (end of message) */
};

struct static_table;

struct reject_rule {
	enum reject_criterion	 criterion;
	struct static_table	*table;		/* NULL for no-rdns, no-fcrdns */
	enum table_service	 service;
	int			 status;	/* FILTER_REJECT or _TEMPFAIL */
	int			 code;		/* 0: the query's default */
	char			 enhanced[FILTER_ENHANCED_MAX];
	char			 message[FILTER_MESSAGE_MAX];
	int			 line;
};

struct reject_rules {
	char			*path;
	struct reject_rule	*rules;
	size_t			 count;
	struct static_table	**tables;	/* every table loaded */
	size_t			 ntables;
	uint64_t		 hooks;		/* FILTER_HOOK_* the rules need */
};

/* NULL with err set to "file:line: what is wrong". */
struct reject_rules *reject_rules_load(const char *path, char *err,
		    size_t errsz);
void		 reject_rules_free(struct reject_rules *);
const char	*reject_criterion_name(enum reject_criterion);
/* The query type a criterion is decided at. */
uint32_t	 reject_criterion_query(enum reject_criterion);

#endif /* REJECT_RULES_H */
