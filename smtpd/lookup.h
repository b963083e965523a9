/*
 * lookup.h: the lookup process (lookup.c) and what its modules share.
 *
 * lookup answers the network process: IMSG_LOOKUP_RCPT (match the
 * ruleset, expand, answer the final envelopes) and IMSG_LOOKUP_RDNS;
 * and control: IMSG_LOOKUP_UPDATE_TABLE.  Nothing outside the lookup
 * process calls any of this: the other processes only send frames.
 *
 * Table access goes through struct lookup_table_ops, so that ruleset.c
 * and expand.c do not know how a table is reached: lookup_tables.c
 * backs it with one imsgproc per configured table, and a test may back
 * it with anything that answers from the event loop.
 */
#ifndef SMTPD_LOOKUP_H
#define SMTPD_LOOKUP_H

#include <sys/types.h>
#include <sys/socket.h>

#include <stdint.h>

#include "smtpd-api.h"
#include "envelope.h"

struct config_table;
struct smtpd_config;
struct event_base;

/* Deadline of one table request. */
#define LOOKUP_TABLE_TIMEOUT_MS		5000
/* Deadline of one reverse DNS lookup; then the name is "unknown". */
#define LOOKUP_RDNS_TIMEOUT_MS		5000

/*
 * One table request is answered exactly once, always from the event
 * loop (never from inside the call that made it), unless cancelled:
 * result 1 found (value set for a lookup, NULL for a check), 0 not
 * found, -1 temporary failure (table down, timeout, refused service).
 * value is valid during the callback only.
 */
typedef void	(*lookup_table_cb)(int result, const char *value, void *arg);

struct lookup_table_ops {
	/* type is IMSG_TABLE_CHECK or IMSG_TABLE_LOOKUP.  Returns a
	 * handle for cancel, never NULL. */
	void	*(*request)(void *ctx, uint32_t type, struct config_table *,
		    enum table_service, const char *key, lookup_table_cb,
		    void *arg);
	/* The callback of handle will not be called. */
	void	 (*cancel)(void *ctx, void *handle);
	void	*ctx;
};

/*
 * Everything ruleset.c and expand.c need to know about the instance.
 * lookup.c fills it at start-up; tests fill it by hand.
 */
struct lookup_env {
	struct event_base	*base;
	struct smtpd_config	*conf;
	struct lookup_table_ops	 tables;
	/* userbase of actions without one: a table-getpwnam instance */
	struct config_table	*userbase;
	/* "for local": lowercased names and address literals */
	char			**localnames;
	size_t			 nlocalnames;
	/* who runs the /file and |command targets of aliases */
	char			 unpriv_user[ENVELOPE_NAME_MAX];
	uid_t			 unpriv_uid;
	gid_t			 unpriv_gid;
	char			 unpriv_home[ENVELOPE_PATH_MAX];
};

/* ---- lookup_tables.c: the table helpers ---- */

struct lookup_tables;

/*
 * Start one imsgproc per table of conf, plus the built-in getpwnam
 * userbase (named "<getpwnam>").  resolve maps a helper program name
 * to its path (helper_path in the daemon).  NULL on a set-up failure.
 */
struct lookup_tables	*lookup_tables_start(struct event_base *,
			    struct smtpd_config *,
			    char *(*resolve)(const char *, char *, size_t));
void			 lookup_tables_free(struct lookup_tables *);
/* Fill ops with the functions that use these tables. */
void			 lookup_tables_ops(struct lookup_tables *,
			    struct lookup_table_ops *);
struct config_table	*lookup_tables_getpwnam(struct lookup_tables *);
/*
 * Ask table name to reload (UPDATE).  cb gets 1 done, 0 (unknown
 * table, answered from the loop too) or -1 (the helper failed), and a
 * text for the requester.
 */
void			 lookup_tables_update(struct lookup_tables *,
			    const char *name, lookup_table_cb, void *arg);

/* ---- lookup_dns.c: reverse DNS with c-ares ---- */

/* result 1 with the name, 0 no name or failure ("unknown"). */
typedef void	(*lookup_rdns_cb)(int result, const char *name, void *arg);

int		 lookup_rdns_init(struct event_base *);
/* Tests only: use these name servers ("127.0.0.1:5353,...") instead
 * of the system's.  0 or -1. */
int		 lookup_rdns_servers(const char *csv);
/* The callback always runs from the event loop; cancel forgets it. */
void		*lookup_rdns(const struct sockaddr_storage *, lookup_rdns_cb,
		    void *arg);
void		 lookup_rdns_cancel(void *);

#endif /* SMTPD_LOOKUP_H */
