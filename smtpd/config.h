/*
 * config.h: the parsed smtpd.conf, as plain structs and <sys/queue.h>
 * lists.
 *
 * config_parse() reads a file (parse.y), checks it (config.c) and
 * returns a struct smtpd_config in which every reference is resolved:
 * a rule points at its action, a listener at its filter, an option at
 * its table.  Every object remembers where it was written (file:line)
 * for the daemon's run-time messages.  Nothing here opens a table,
 * resolves a name or touches the network: that is the daemon's job.
 */
#ifndef SMTPD_CONFIG_H
#define SMTPD_CONFIG_H

#include <sys/types.h>
#include <sys/queue.h>

#include <stdint.h>
#include <stdio.h>

#include "smtpd-api.h"		/* enum table_service */

/* Defaults; each is what a config that does not mention it gets. */
#define CONFIG_SPOOL_DEFAULT		"/var/spool/smtpd"
#define CONFIG_QUEUE_TTL_DEFAULT	(4 * 24 * 3600)
#define CONFIG_BOUNCE_WARN_DEFAULT	(4 * 3600)
#define CONFIG_BOUNCE_WARN_MAX		4
#define CONFIG_MAX_MESSAGE_SIZE_DEFAULT	((uint64_t)35 * 1024 * 1024)
#define CONFIG_MAX_MAILS_DEFAULT	100
#define CONFIG_MAX_RCPT_DEFAULT		1000
#define CONFIG_SUB_ADDR_DELIM_DEFAULT	'+'
#define CONFIG_TIMEOUT_COMMAND_DEFAULT	300
#define CONFIG_TIMEOUT_DATA_DEFAULT	600
#define CONFIG_FILTER_TIMEOUT_DEFAULT	60
#define CONFIG_PORT_DEFAULT		25

#define CONFIG_MAX_ERRORS		25	/* then "too many errors" */
#define CONFIG_INCLUDE_DEPTH_MAX	16
#define CONFIG_TOKEN_MAX		8192

/* Where an object was written.  file points into the config. */
struct config_where {
	const char	*file;
	int		 line;
};

/* Macros: "name = value" in the file, or smtpd -D name=value. */
struct macro {
	TAILQ_ENTRY(macro)	 entry;
	char			*name;
	char			*value;
	int			 cmdline;	/* -D: wins over the file */
};
TAILQ_HEAD(macro_list, macro);

/* ------------------------------------------------------------------ */
/* Tables                                                              */
/* ------------------------------------------------------------------ */

/* One entry of an inline table; value is NULL in a list. */
struct table_entry {
	TAILQ_ENTRY(table_entry) entry;
	char			*key;
	char			*value;
};
TAILQ_HEAD(table_entry_list, table_entry);

/*
 * A table is one helper program.  argv[0] is the bare program name,
 * "table-<backend>", which the daemon looks up in PATH_LIBEXEC; config
 * is the configuration string of its HELLO.
 *	table t /path		argv { "table-static", "/path" }, config ""
 *	table t sqlite:/path	argv { "table-sqlite", "/path" }, config ""
 *	table t { a, b }	argv { "table-static" }, config = the
 *				entries as table(5) text (see config.c)
 * A literal or { ... } written where a table is expected becomes an
 * anonymous inline table named "inline:N"; identical ones are shared.
 */
struct config_table {
	TAILQ_ENTRY(config_table) entry;
	char			*name;
	int			 anonymous;
	char			*backend;	/* "static", "sqlite", ... */
	char			*path;		/* NULL for an inline table */
	struct table_entry_list	 entries;	/* inline tables only */
	int			 nentries;
	int			 is_mapping;	/* inline: key = value */
	char			**argv;		/* NULL-terminated */
	char			*config;	/* HELLO configuration string */
	uint32_t		 services;	/* K_* every use asks for */
	int			 used;
	struct config_where	 where;
};
TAILQ_HEAD(table_list, config_table);

/*
 * A use of a table: by name ("<name>") or inline.  After parsing, table
 * is set whenever the option or criterion was given.  service is what
 * the use asks of it (K_REGEX with "regex").
 */
struct config_tableref {
	char			*name;		/* as written, NULL if inline */
	struct config_table	*table;
	uint32_t		 service;
	int			 regex;
	struct config_where	 where;
};

/* ------------------------------------------------------------------ */
/* Wrappers, filters                                                   */
/* ------------------------------------------------------------------ */

/* mda wrapper NAME "command" */
struct config_wrapper {
	TAILQ_ENTRY(config_wrapper) entry;
	char			*name;
	char			*command;	/* may hold %{mda} */
	int			 used;
	struct config_where	 where;
};
TAILQ_HEAD(wrapper_list, config_wrapper);

enum filter_kind {
	FILTER_PROC_EXEC,	/* one program, fork+exec'd by the daemon */
	FILTER_CHAIN,		/* proc-exec filters run in order */
};

struct config_filter {
	TAILQ_ENTRY(config_filter) entry;
	char			*name;		/* "chain:N" if anonymous */
	int			 anonymous;	/* listen ... filter { a, b } */
	enum filter_kind	 kind;
	/* FILTER_PROC_EXEC */
	char			*command;	/* as written */
	char			**argv;		/* split without a shell; a
						   relative argv[0] is run
						   from PATH_LIBEXEC */
	int			 timeout;	/* seconds, per exchange */
	int			 timeout_set;	/* written in the file */
	/* FILTER_CHAIN */
	char			**members;	/* names, NULL-terminated */
	size_t			 nmembers;
	struct config_filter	**chain;	/* resolved, proc-exec only */
	int			 used;
	struct config_where	 where;
};
TAILQ_HEAD(filter_list, config_filter);

/* ------------------------------------------------------------------ */
/* Listeners                                                           */
/* ------------------------------------------------------------------ */

enum listen_kind {
	LISTEN_ADDRESS,		/* an IPv4 or IPv6 literal */
	LISTEN_INTERFACE,	/* an interface or host name, resolved at
				   start-up (no DNS at parse time) */
	LISTEN_LOCALHOST,	/* 127.0.0.1 and ::1 */
	LISTEN_ALL,		/* every address (the wildcard) */
	LISTEN_SOCKET,		/* the local enqueue socket */
};

struct config_listener {
	TAILQ_ENTRY(config_listener) entry;
	enum listen_kind	 kind;
	char			*on;		/* as written; "socket" */
	int			 family;	/* AF_UNSPEC, AF_INET(6) */
	uint16_t		 port;		/* 0 for the socket */
	char			*hostname;	/* NULL: the server name */
	struct config_tableref	 hostnames;	/* K_ADDRNAME */
	char			*tag;
	int			 mask_src;
	int			 no_dsn;
	struct config_tableref	 senders;	/* K_MAILADDRMAP */
	int			 masquerade;
	char			*filter_name;	/* NULL: no filter */
	struct config_filter	*filter;	/* proc-exec or chain */
	struct config_where	 filter_where;
	struct config_where	 where;
};
TAILQ_HEAD(listener_list, config_listener);

/* ------------------------------------------------------------------ */
/* Actions                                                             */
/* ------------------------------------------------------------------ */

enum action_method {
	ACTION_MBOX,
	ACTION_MAILDIR,
	ACTION_LMTP,
	ACTION_MDA,
	ACTION_FORWARD_ONLY,
	ACTION_EXPAND_ONLY,
	ACTION_RELAY,		/* parsed, refused for now */
};

struct config_action {
	TAILQ_ENTRY(config_action) entry;
	char			*name;
	enum action_method	 method;
	char			*maildir;	/* format; NULL: ~/Maildir */
	int			 junk;
	char			*lmtp;		/* host:port or /socket */
	int			 lmtp_rcpt_to;
	char			*mda;		/* command format */
	struct config_tableref	 alias;		/* K_ALIAS */
	struct config_tableref	 virtual;	/* K_ALIAS */
	struct config_tableref	 userbase;	/* K_USERINFO */
	char			*user;
	int			 ttl;		/* seconds; 0: queue ttl */
	char			*wrapper_name;
	struct config_wrapper	*wrapper;
	int			 used;
	struct config_where	 where;
};
TAILQ_HEAD(action_list, config_action);

/* ------------------------------------------------------------------ */
/* Match rules                                                         */
/* ------------------------------------------------------------------ */

enum match_from {
	FROM_LOCAL = 0,		/* the default */
	FROM_ANY,
	FROM_SOCKET,
	FROM_SRC,		/* table: K_NETADDR */
	FROM_RDNS,		/* table (optional): K_DOMAIN */
	FROM_AUTH,		/* table (optional): K_STRING */
	FROM_MAIL_FROM,		/* table: K_MAILADDR */
};

enum match_for {
	FOR_LOCAL = 0,		/* the default */
	FOR_ANY,
	FOR_DOMAIN,		/* table: K_DOMAIN */
	FOR_RCPT_TO,		/* table: K_MAILADDR */
};

/*
 * One criterion of a rule.  set is 0 when the rule does not mention it
 * (from and for then mean "local").  table.table is NULL when the
 * criterion takes no table (from any, tls, a bare auth or rdns).
 */
struct match_criterion {
	int			 set;
	int			 negate;
	int			 kind;		/* enum match_from/match_for */
	struct config_tableref	 table;
};

struct config_rule {
	TAILQ_ENTRY(config_rule) entry;
	struct match_criterion	 from;
	struct match_criterion	 for_;
	struct match_criterion	 auth;		/* K_STRING */
	struct match_criterion	 helo;		/* K_DOMAIN */
	struct match_criterion	 mail_from;	/* K_MAILADDR */
	struct match_criterion	 rcpt_to;	/* K_MAILADDR */
	struct match_criterion	 tag;		/* K_STRING */
	struct match_criterion	 tls;
	int			 reject;
	char			*action_name;	/* NULL with reject */
	struct config_action	*action;
	struct config_where	 where;
};
TAILQ_HEAD(rule_list, config_rule);

/* ------------------------------------------------------------------ */
/* The whole configuration                                             */
/* ------------------------------------------------------------------ */

struct config_file {
	TAILQ_ENTRY(config_file) entry;
	char			*name;
};
TAILQ_HEAD(config_file_list, config_file);

struct smtpd_config {
	char			*spool;
	int			 queue_ttl;		/* seconds */
	int			 bounce_warn[CONFIG_BOUNCE_WARN_MAX];
	int			 nbounce_warn;		/* increasing seconds */
	uint64_t		 max_message_size;	/* bytes */
	int			 max_mails;		/* per session */
	int			 max_rcpt;		/* per transaction */
	char			 sub_addr_delim;
	int			 timeout_command;	/* seconds */
	int			 timeout_data;		/* seconds */

	struct macro_list	 macros;	/* -D ones first */
	struct table_list	 tables;	/* declared and anonymous */
	struct wrapper_list	 wrappers;
	struct filter_list	 filters;	/* named and anonymous */
	struct listener_list	 listeners;	/* may be empty */
	struct action_list	 actions;
	struct rule_list	 rules;		/* in order: first match wins */

	struct config_file_list	 files;		/* names where.file points to */
	int			 ninline;	/* inline:N counter */
	int			 nchain;	/* chain:N counter */
};

/* ------------------------------------------------------------------ */
/* API for the daemon                                                  */
/* ------------------------------------------------------------------ */

/*
 * Parse path.  cmdline_macros (may be NULL) are -D definitions: they
 * win over the file's own.  Every error is printed to errors (stderr
 * if NULL) as "file:line: what is wrong", up to CONFIG_MAX_ERRORS;
 * then NULL is returned.  A file that cannot be opened reads
 * "path: strerror".  Not reentrant (one parse at a time).
 */
struct smtpd_config	*config_parse(const char *path,
			    const struct macro_list *cmdline_macros,
			    FILE *errors);
void			 config_free(struct smtpd_config *);
/* The configuration in canonical smtpd.conf form; it parses back. */
void			 config_dump(const struct smtpd_config *, FILE *);

struct config_table	*config_table_find(const struct smtpd_config *,
			    const char *);
struct config_action	*config_action_find(const struct smtpd_config *,
			    const char *);
struct config_filter	*config_filter_find(const struct smtpd_config *,
			    const char *);
struct config_wrapper	*config_wrapper_find(const struct smtpd_config *,
			    const char *);

/* Reserved words of the grammar (they must be quoted as values). */
int			 config_is_keyword(const char *);

/* Macro lists, for smtpd -D. */
void			 macro_list_init(struct macro_list *);
/* Sets or replaces; 0, or -1 (errno EINVAL for a bad name, ENOMEM). */
int			 macro_list_set(struct macro_list *, const char *name,
			    const char *value, int cmdline);
/* "name=value" as given to -D; -1 when malformed. */
int			 macro_list_define(struct macro_list *,
			    const char *definition);
const char		*macro_list_get(const struct macro_list *,
			    const char *name);
void			 macro_list_clear(struct macro_list *);
int			 macro_name_valid(const char *);

/* Text forms, for messages and the dump: "4h", "35M". */
const char		*config_duration_text(int seconds, char *buf,
			    size_t bufsz);
const char		*config_size_text(uint64_t bytes, char *buf,
			    size_t bufsz);
const char		*config_method_name(enum action_method);

/* ------------------------------------------------------------------ */
/* Used by parse.y while it builds the configuration                   */
/* ------------------------------------------------------------------ */

struct config_errors {
	FILE		*fp;
	int		 count;
	int		 syntax;	/* syntax errors among them */
	int		 gave_up;	/* CONFIG_MAX_ERRORS reached */
	const char	*poison_file;	/* a line the lexer reported: */
	int		 poison_line;	/* later errors there would cascade */
};

void		 config_error(struct config_errors *,
		    const struct config_where *, const char *, ...)
		    __attribute__((__format__(printf, 3, 4)));

struct smtpd_config *config_new(void);
/* Keeps a copy of name for the life of the config. */
const char	*config_file_name(struct smtpd_config *, const char *);

/* Values: 0, or -1 after an error at where. */
int		 config_parse_duration(struct config_errors *,
		    const struct config_where *, const char *, int *);
int		 config_parse_size(struct config_errors *,
		    const struct config_where *, const char *, uint64_t *);
int		 config_parse_number(struct config_errors *,
		    const struct config_where *, const char *, int64_t,
		    int64_t, int64_t *);

struct config_table *config_table_new(void);
/* Table and filter names: letters, digits, '_', '.' and '-', so never
 * the generated "inline:N" or "chain:N". */
int		 config_name_valid(const char *);
/* Fills argv and config of an inline table, once its uses are known. */
int		 config_table_render(struct config_table *);
void		 config_table_free(struct config_table *);
/* Appends an entry to an inline table; -1 after an error. */
int		 config_table_add_entry(struct config_errors *,
		    const struct config_where *, struct config_table *,
		    char *key, char *value);
/* Declared "table NAME SPEC": checks SPEC and fills backend/path/argv. */
int		 config_table_set_source(struct config_errors *,
		    const struct config_where *, struct config_table *,
		    const char *spec);
/*
 * Registers an anonymous inline table, or frees it and returns an
 * identical one already registered.
 */
struct config_table *config_table_anonymous(struct smtpd_config *,
		    struct config_table *);
void		 config_tableref_clear(struct config_tableref *);

void		 config_filter_free(struct config_filter *);
void		 config_listener_free(struct config_listener *);
void		 config_action_free(struct config_action *);
void		 config_rule_free(struct config_rule *);

/* Statement checks, called as each statement ends; -1 after errors. */
int		 config_check_action(struct config_errors *,
		    struct config_action *);
int		 config_check_listener(struct config_errors *,
		    struct smtpd_config *, struct config_listener *);

/*
 * After the last line: resolves every reference, checks how each
 * table is used, renders inline tables.  -1 after errors.
 */
int		 config_resolve(struct config_errors *, struct smtpd_config *);

#endif /* SMTPD_CONFIG_H */
