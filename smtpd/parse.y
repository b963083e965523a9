/*
 * parse.y: the smtpd.conf grammar and its lexer.
 *
 * One statement per line; a syntax error skips to the end of its line
 * so that every error of a file is reported, each as "file:line: what
 * is wrong", up to CONFIG_MAX_ERRORS.  The lexer handles comments, "\"
 * line continuation, quoted strings, macros ($name, expanded outside
 * quotes, anywhere in a word) and include, with the line numbers of
 * each file.  Objects are built with the helpers of config.c; what
 * needs the whole file (references, table uses) is checked after the
 * last line by config_resolve() in config_check.c.
 */

%code requires {
#include "config.h"

struct kv {
	char	*key;
	char	*value;		/* NULL for a list entry */
};

struct strlist {
	char	**v;
	size_t	  n;
};

struct crit {
	int			 kind;
	int			 regex;
	struct config_tableref	*ref;	/* NULL when none */
};
}

%code top {
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
}

%code {
/* A location is the first token's; an empty rule takes the previous. */
#define YYLLOC_DEFAULT(Cur, Rhs, N)					\
	do {								\
		if (N)							\
			(Cur) = YYRHSLOC(Rhs, 1);			\
		else							\
			(Cur) = YYRHSLOC(Rhs, 0);			\
	} while (0)

/* Pushed after a macro's value: the end of the expansion. */
#define DONE_EXPAND	0x100

struct input {
	struct input		*prev;
	FILE			*fp;
	const char		*name;		/* owned by the config */
	int			 lineno;
	int			 depth;
	dev_t			 dev;
	ino_t			 ino;
	int			 start_nl;	/* ends the include statement */
	struct config_where	 include_where;
	int			 eof_nl;	/* final newline given */
};

/* Bits of the options given once per statement. */
enum {
	L_PORT = 1 << 0, L_FAMILY = 1 << 1, L_HOSTNAME = 1 << 2,
	L_HOSTNAMES = 1 << 3, L_TAG = 1 << 4, L_MASK_SRC = 1 << 5,
	L_SENDERS = 1 << 6, L_NO_DSN = 1 << 7, L_FILTER = 1 << 8,
};
enum {
	A_ALIAS = 1 << 0, A_VIRTUAL = 1 << 1, A_USERBASE = 1 << 2,
	A_USER = 1 << 3, A_TTL = 1 << 4, A_WRAPPER = 1 << 5,
	A_HOST = 1 << 6, A_DOMAIN = 1 << 7, A_BACKUP = 1 << 8,
	A_TLS = 1 << 9, A_AUTH = 1 << 10, A_SRC = 1 << 11, A_HELO = 1 << 12,
	A_HELO_SRC = 1 << 13, A_PKI = 1 << 14, A_CA = 1 << 15,
	A_MAIL_FROM = 1 << 16, A_SRS = 1 << 17,
};

static struct parse_state {
	struct smtpd_config	*cfg;
	struct config_errors	*errors;
	struct input		*input;
	int			*pushback;
	size_t			 npushback;
	size_t			 pushback_cap;
	int			 expanding;
	char			 token[64];	/* for "syntax error near" */
	int			 token_keyword;	/* token is a reserved word */
	struct config_listener	*listener;
	unsigned int		 listener_seen;
	struct config_action	*action;
	unsigned int		 action_seen;
	int			 action_dup;
	struct config_rule	*rule;
} ps;

static int	 yylex(void);
static void	 yyerror(const char *);
static int	 lgetc(int);
static void	 lungetc(int);
static int	 word_start(int);
static int	 word_char(int);
static int	 lex_quoted(int);
static int	 lex_word(int);
static int	 lex_token(int, const char *);
static void	 lex_error(const char *, ...)
		    __attribute__((__format__(printf, 1, 2)));
static void	 expand_macro(void);
static int	 kw_cmp(const void *, const void *);
static int	 input_push(const char *, const struct config_where *);
static void	 input_pop(void);
static void	 include_file(const struct config_where *, char *);
static void	 define_macro(const struct config_where *, char *, char *);
static void	 statement_abort(void);
static void	 unsupported(const struct config_where *, const char *);
static void	 out_of_memory(const struct config_where *);
static void	 perr(const struct config_where *, const char *, ...)
		    __attribute__((__format__(printf, 2, 3)));

static struct strlist *strlist_add(struct strlist *, char *);
static void	 strlist_free(struct strlist *);
static struct config_tableref *tableref_named(const struct config_where *,
		    char *);
static struct config_tableref *tableref_inline(const struct config_where *,
		    struct config_table *);
static struct config_tableref *tableref_literal(const struct config_where *,
		    char *);
static void	 tableref_free(struct config_tableref *);
static void	 tableref_set(struct config_tableref *,
		    struct config_tableref *, uint32_t, int);
static struct config_table *inline_add(struct config_table *,
		    const struct config_where *, struct kv);

static void	 set_spool(const struct config_where *, char *);
static void	 set_queue_ttl(const struct config_where *, char *);
static void	 add_warn_interval(const struct config_where *, char *);
static void	 set_limit(const struct config_where *, char *, char *);
static void	 set_timeout(const struct config_where *, char *, char *);
static void	 set_max_message_size(const struct config_where *, char *);
static void	 set_sub_addr_delim(const struct config_where *, char *);
static void	 define_wrapper(const struct config_where *, char *, char *);
static void	 define_table(const struct config_where *, char *, char *,
		    struct config_table *);
static void	 define_filter(const struct config_where *, char *, char *,
		    int, struct strlist *);

static void	 listener_start(const struct config_where *, char *, int);
static int	 listener_once(unsigned int, const char *,
		    const struct config_where *);
static void	 listener_end(void);
static void	 listener_port(const struct config_where *, char *);
static void	 listener_family(const struct config_where *, int);
static void	 listener_filter(const struct config_where *, char *,
		    struct strlist *);

static void	 action_start(const struct config_where *, char *);
static int	 action_once(unsigned int, const char *,
		    const struct config_where *);
static int	 action_local(const char *, const struct config_where *);
static void	 action_relay_option(unsigned int, const char *,
		    const struct config_where *);
static void	 action_end(void);

static struct crit crit(int, int, struct config_tableref *);
static void	 rule_start(const struct config_where *);
static void	 rule_criterion(struct match_criterion *, const char *,
		    const struct config_where *, int, struct crit, uint32_t);
static void	 rule_end(void);
}

%define api.prefix {conf_yy}
%define api.location.type {struct config_where}
%locations

%union {
	char			*string;
	int			 number;
	struct kv		 kv;
	struct strlist		*list;
	struct config_table	*table;
	struct config_tableref	*ref;
	struct crit		 crit;
}

%token	ACTION ALIAS ANY ARROW AUTH AUTH_OPTIONAL BACKUP BOUNCE CA CERT CHAIN
%token	COMPRESSION DOMAIN ENCRYPTION EXPAND_ONLY FAMILY FILTER FOR
%token	FORWARD_ONLY FROM HELO HELO_SRC HOST HOSTNAME HOSTNAMES INCLUDE
%token	INET4 INET6 JUNK KEY LIMIT LISTEN LMTP LOCAL MAIL_FROM MAILDIR
%token	MASK_SRC MASQUERADE MATCH MAX_MESSAGE_SIZE MBOX MDA MX NO_DSN
%token	NO_VERIFY ON PKI PORT PROC_EXEC PROXY_V2 QUEUE RCPT_TO RDNS
%token	RECEIVED_AUTH REGEX REJECT RELAY SENDERS SMTP SMTPS SOCKET SPOOL SRC
%token	SRS SUB_ADDR_DELIM TABLE TAG TIMEOUT TLS TLS_REQUIRE TTL USER
%token	USERBASE VERIFY VIRTUAL WARN_INTERVAL WRAPPER
%token	<string> STRING

%type	<number> negation optregex filter_timeout
%type	<kv> tval
%type	<list> names
%type	<table> tvals
%type	<ref> tableref
%type	<crit> from_spec for_spec

%destructor { free($$); } <string>
%destructor { free($$.key); free($$.value); } <kv>
%destructor { strlist_free($$); } <list>
%destructor { config_table_free($$); } <table>
%destructor { tableref_free($$); } <ref>
%destructor { tableref_free($$.ref); } <crit>

%%

grammar		: %empty
		| grammar '\n'
		| grammar include '\n'
		| grammar varset '\n'
		| grammar main '\n'
		| grammar error '\n'		{ statement_abort(); yyerrok; }
		;

include		: INCLUDE STRING		{ include_file(&@2, $2); }
		;

varset		: STRING '=' STRING		{ define_macro(&@1, $1, $3); }
		;

/* Inline lists: items separated by commas and/or newlines. */
optnl		: %empty
		| optnl '\n'
		;

nls		: '\n'
		| nls '\n'
		;

sep		: ',' optnl
		| nls
		;

optsep		: %empty
		| sep
		;

assign		: '='
		| ARROW
		;

tval		: STRING			{
			$$.key = $1;
			$$.value = NULL;
		}
		| STRING assign STRING		{ $$.key = $1; $$.value = $3; }
		;

tvals		: tval				{
			$$ = inline_add(NULL, &@1, $1);
			if ($$ == NULL)
				YYERROR;
		}
		| tvals sep tval		{
			$$ = inline_add($1, &@3, $3);
		}
		;

names		: STRING			{ $$ = strlist_add(NULL, $1); }
		| names sep STRING		{ $$ = strlist_add($1, $3); }
		;

tableref	: '<' STRING '>'		{
			$$ = tableref_named(&@1, $2);
		}
		| '{' optnl tvals optsep '}'	{
			$$ = tableref_inline(&@1, $3);
		}
		| '{' optnl '}'			{
			perr(&@1, "inline table is empty");
			$$ = NULL;
		}
		| STRING			{
			$$ = tableref_literal(&@1, $1);
		}
		;

negation	: %empty			{ $$ = 0; }
		| '!'				{ $$ = 1; }
		;

optregex	: %empty			{ $$ = 0; }
		| REGEX				{ $$ = 1; }
		;

main		: SPOOL STRING			{ set_spool(&@2, $2); }
		| QUEUE TTL STRING		{ set_queue_ttl(&@3, $3); }
		| QUEUE COMPRESSION		{
			unsupported(&@1, "queue compression");
		}
		| QUEUE ENCRYPTION		{
			unsupported(&@1, "queue encryption");
		}
		| QUEUE ENCRYPTION STRING	{
			free($3);
			unsupported(&@1, "queue encryption");
		}
		| BOUNCE WARN_INTERVAL durations
		| SMTP smtp_option
		| MDA WRAPPER STRING STRING	{ define_wrapper(&@1, $3, $4); }
		| PKI STRING pki_option		{
			free($2);
			unsupported(&@1, "pki");
		}
		| CA STRING CERT STRING		{
			free($2);
			free($4);
			unsupported(&@1, "ca");
		}
		| TABLE STRING STRING		{
			define_table(&@1, $2, $3, NULL);
		}
		| TABLE STRING '{' optnl tvals optsep '}' {
			define_table(&@1, $2, NULL, $5);
		}
		| TABLE STRING '{' optnl '}'	{
			free($2);
			perr(&@3, "inline table is empty");
		}
		| listen
		| action
		| match
		| filter
		;

durations	: STRING			{
			ps.cfg->nbounce_warn = 0;
			add_warn_interval(&@1, $1);
		}
		| durations ',' STRING		{ add_warn_interval(&@3, $3); }
		| durations STRING		{ add_warn_interval(&@2, $2); }
		;

pki_option	: CERT STRING			{ free($2); }
		| KEY STRING			{ free($2); }
		;

smtp_option	: MAX_MESSAGE_SIZE STRING	{
			set_max_message_size(&@2, $2);
		}
		| LIMIT limits
		| SUB_ADDR_DELIM STRING		{ set_sub_addr_delim(&@2, $2); }
		| TIMEOUT timeouts
		;

limits		: limit
		| limits limit
		;

limit		: STRING STRING			{ set_limit(&@1, $1, $2); }
		;

timeouts	: timeout
		| timeouts timeout
		;

timeout		: STRING STRING			{ set_timeout(&@1, $1, $2); }
		;

/* listen on ... */

/* A mid-rule action that takes a value clears it: bison would free it. */
listen		: LISTEN ON STRING		{
			listener_start(&@1, $3, 0);
			$3 = NULL;
		}
		    listen_options		{ listener_end(); }
		| LISTEN ON SOCKET		{
			listener_start(&@1, strdup("socket"), 1);
		}
		    listen_options		{ listener_end(); }
		;

listen_options	: %empty
		| listen_options listen_option
		;

listen_option	: PORT STRING			{ listener_port(&@1, $2); }
		| FAMILY INET4			{
			listener_family(&@1, AF_INET);
		}
		| FAMILY INET6			{
			listener_family(&@1, AF_INET6);
		}
		| INET4				{
			listener_family(&@1, AF_INET);
		}
		| INET6				{
			listener_family(&@1, AF_INET6);
		}
		| HOSTNAME STRING		{
			if (listener_once(L_HOSTNAME, "hostname", &@1))
				ps.listener->hostname = $2;
			else
				free($2);
		}
		| HOSTNAMES tableref		{
			/* the banner per local address: not done yet */
			unsupported(&@1, "hostnames");
			if (listener_once(L_HOSTNAMES, "hostnames", &@1))
				tableref_set(&ps.listener->hostnames, $2,
				    K_ADDRNAME, 0);
			else
				tableref_free($2);
		}
		| TAG STRING			{
			if (listener_once(L_TAG, "tag", &@1))
				ps.listener->tag = $2;
			else
				free($2);
		}
		| MASK_SRC			{
			if (listener_once(L_MASK_SRC, "mask-src", &@1))
				ps.listener->mask_src = 1;
		}
		| SENDERS tableref		{
			/* checks the authenticated user: AUTH comes later */
			perr(&@1, "senders is not supported yet (needs auth)");
			if (listener_once(L_SENDERS, "senders", &@1))
				tableref_set(&ps.listener->senders, $2,
				    K_MAILADDRMAP, 0);
			else
				tableref_free($2);
		}
		| SENDERS tableref MASQUERADE	{
			perr(&@1, "senders is not supported yet (needs auth)");
			if (listener_once(L_SENDERS, "senders", &@1)) {
				tableref_set(&ps.listener->senders, $2,
				    K_MAILADDRMAP, 0);
				ps.listener->masquerade = 1;
			} else
				tableref_free($2);
		}
		| NO_DSN			{
			if (listener_once(L_NO_DSN, "no-dsn", &@1))
				ps.listener->no_dsn = 1;
		}
		| FILTER STRING			{
			listener_filter(&@1, $2, NULL);
		}
		| FILTER '{' optnl names optsep '}' {
			listener_filter(&@1, NULL, $4);
		}
		| TLS				{ unsupported(&@1, "tls"); }
		| TLS_REQUIRE			{
			unsupported(&@1, "tls-require");
		}
		| TLS_REQUIRE VERIFY		{
			unsupported(&@1, "tls-require");
		}
		| SMTPS				{ unsupported(&@1, "smtps"); }
		| SMTPS VERIFY			{ unsupported(&@1, "smtps"); }
		| PKI STRING			{
			free($2);
			unsupported(&@1, "pki");
		}
		| CA STRING			{
			free($2);
			unsupported(&@1, "ca");
		}
		| AUTH				{ unsupported(&@1, "auth"); }
		| AUTH tableref			{
			tableref_free($2);
			unsupported(&@1, "auth");
		}
		| AUTH_OPTIONAL			{
			unsupported(&@1, "auth-optional");
		}
		| AUTH_OPTIONAL tableref	{
			tableref_free($2);
			unsupported(&@1, "auth-optional");
		}
		| RECEIVED_AUTH			{
			unsupported(&@1, "received-auth");
		}
		| PROXY_V2			{
			unsupported(&@1, "proxy-v2");
		}
		;

/* action NAME method [options] */

action		: ACTION STRING			{
			action_start(&@1, $2);
			$2 = NULL;
		}
		    action_method action_options { action_end(); }
		;

action_method	: MBOX				{
			ps.action->method = ACTION_MBOX;
		}
		| MAILDIR maildir_args		{
			ps.action->method = ACTION_MAILDIR;
		}
		| LMTP STRING			{
			ps.action->method = ACTION_LMTP;
			ps.action->lmtp = $2;
		}
		| LMTP STRING RCPT_TO		{
			ps.action->method = ACTION_LMTP;
			ps.action->lmtp = $2;
			ps.action->lmtp_rcpt_to = 1;
		}
		| MDA STRING			{
			ps.action->method = ACTION_MDA;
			ps.action->mda = $2;
		}
		| FORWARD_ONLY			{
			ps.action->method = ACTION_FORWARD_ONLY;
		}
		| EXPAND_ONLY			{
			ps.action->method = ACTION_EXPAND_ONLY;
		}
		| RELAY				{
			ps.action->method = ACTION_RELAY;
		}
		;

maildir_args	: %empty
		| STRING			{ ps.action->maildir = $1; }
		| JUNK				{ ps.action->junk = 1; }
		| STRING JUNK			{
			ps.action->maildir = $1;
			ps.action->junk = 1;
		}
		;

action_options	: %empty
		| action_options action_option
		;

action_option	: ALIAS tableref		{
			if (action_local("alias", &@1) &&
			    action_once(A_ALIAS, "alias", &@1))
				tableref_set(&ps.action->alias, $2, K_ALIAS, 0);
			else
				tableref_free($2);
		}
		| VIRTUAL tableref		{
			if (action_local("virtual", &@1) &&
			    action_once(A_VIRTUAL, "virtual", &@1))
				tableref_set(&ps.action->virtual, $2, K_ALIAS,
				    0);
			else
				tableref_free($2);
		}
		| USERBASE tableref		{
			if (action_local("userbase", &@1) &&
			    action_once(A_USERBASE, "userbase", &@1))
				tableref_set(&ps.action->userbase, $2,
				    K_USERINFO, 0);
			else
				tableref_free($2);
		}
		| USER STRING			{
			if (action_local("user", &@1) &&
			    action_once(A_USER, "user", &@1))
				ps.action->user = $2;
			else
				free($2);
		}
		| TTL STRING			{
			if (action_once(A_TTL, "ttl", &@1))
				config_parse_duration(ps.errors, &@2, $2,
				    &ps.action->ttl);
			free($2);
		}
		| WRAPPER STRING		{
			if (action_local("wrapper", &@1) &&
			    action_once(A_WRAPPER, "wrapper", &@1))
				ps.action->wrapper_name = $2;
			else
				free($2);
		}
		| HOST tableref			{
			tableref_free($2);
			action_relay_option(A_HOST, "host", &@1);
		}
		| DOMAIN tableref		{
			tableref_free($2);
			action_relay_option(A_DOMAIN, "domain", &@1);
		}
		| BACKUP			{
			action_relay_option(A_BACKUP, "backup", &@1);
		}
		| BACKUP MX STRING		{
			free($3);
			action_relay_option(A_BACKUP, "backup", &@1);
		}
		| TLS				{
			action_relay_option(A_TLS, "tls", &@1);
		}
		| TLS NO_VERIFY			{
			action_relay_option(A_TLS, "tls", &@1);
		}
		| AUTH tableref			{
			tableref_free($2);
			action_relay_option(A_AUTH, "auth", &@1);
		}
		| SRC tableref			{
			tableref_free($2);
			action_relay_option(A_SRC, "src", &@1);
		}
		| HELO STRING			{
			free($2);
			action_relay_option(A_HELO, "helo", &@1);
		}
		| HELO_SRC tableref		{
			tableref_free($2);
			action_relay_option(A_HELO_SRC, "helo-src", &@1);
		}
		| PKI STRING			{
			free($2);
			action_relay_option(A_PKI, "pki", &@1);
		}
		| CA STRING			{
			free($2);
			action_relay_option(A_CA, "ca", &@1);
		}
		| MAIL_FROM STRING		{
			free($2);
			action_relay_option(A_MAIL_FROM, "mail-from", &@1);
		}
		| SRS				{
			action_relay_option(A_SRS, "srs", &@1);
		}
		;

/* match [criteria] action NAME | reject */

match		: MATCH				{ rule_start(&@1); }
		    match_criteria match_end	{ rule_end(); }
		;

match_criteria	: %empty
		| match_criteria criterion
		;

criterion	: negation FROM from_spec	{
			rule_criterion(&ps.rule->from, "from", &@2, $1, $3,
			    0);
		}
		| negation FOR for_spec		{
			rule_criterion(&ps.rule->for_, "for", &@2, $1, $3, 0);
		}
		| negation AUTH			{
			rule_criterion(&ps.rule->auth, "auth", &@2, $1,
			    crit(0, 0, NULL), 0);
		}
		| negation AUTH optregex tableref {
			rule_criterion(&ps.rule->auth, "auth", &@2, $1,
			    crit(0, $3, $4), K_STRING);
		}
		| negation HELO optregex tableref {
			rule_criterion(&ps.rule->helo, "helo", &@2, $1,
			    crit(0, $3, $4), K_DOMAIN);
		}
		| negation MAIL_FROM optregex tableref {
			rule_criterion(&ps.rule->mail_from, "mail-from", &@2,
			    $1, crit(0, $3, $4), K_MAILADDR);
		}
		| negation RCPT_TO optregex tableref {
			rule_criterion(&ps.rule->rcpt_to, "rcpt-to", &@2, $1,
			    crit(0, $3, $4), K_MAILADDR);
		}
		| negation TAG optregex tableref {
			rule_criterion(&ps.rule->tag, "tag", &@2, $1,
			    crit(0, $3, $4), K_STRING);
		}
		| negation TLS			{
			rule_criterion(&ps.rule->tls, "tls", &@2, $1,
			    crit(0, 0, NULL), 0);
		}
		;

from_spec	: ANY			{ $$ = crit(FROM_ANY, 0, NULL); }
		| LOCAL			{ $$ = crit(FROM_LOCAL, 0, NULL); }
		| SOCKET		{ $$ = crit(FROM_SOCKET, 0, NULL); }
		| SRC optregex tableref	{ $$ = crit(FROM_SRC, $2, $3); }
		| RDNS			{ $$ = crit(FROM_RDNS, 0, NULL); }
		| RDNS optregex tableref {
			$$ = crit(FROM_RDNS, $2, $3);
		}
		| AUTH			{ $$ = crit(FROM_AUTH, 0, NULL); }
		| AUTH optregex tableref {
			$$ = crit(FROM_AUTH, $2, $3);
		}
		| MAIL_FROM optregex tableref {
			$$ = crit(FROM_MAIL_FROM, $2, $3);
		}
		;

for_spec	: ANY			{ $$ = crit(FOR_ANY, 0, NULL); }
		| LOCAL			{ $$ = crit(FOR_LOCAL, 0, NULL); }
		| DOMAIN optregex tableref {
			$$ = crit(FOR_DOMAIN, $2, $3);
		}
		| RCPT_TO optregex tableref {
			$$ = crit(FOR_RCPT_TO, $2, $3);
		}
		;

match_end	: ACTION STRING			{ ps.rule->action_name = $2; }
		| REJECT			{ ps.rule->reject = 1; }
		;

/* filter NAME proc-exec "command" [timeout D] | chain { ... } */

filter		: FILTER STRING PROC_EXEC STRING filter_timeout {
			define_filter(&@1, $2, $4, $5, NULL);
		}
		| FILTER STRING CHAIN '{' optnl names optsep '}' {
			define_filter(&@1, $2, NULL, 0, $6);
		}
		;

filter_timeout	: %empty			{ $$ = 0; }
		| TIMEOUT STRING		{
			if (config_parse_duration(ps.errors, &@2, $2,
			    &$$) == -1)
				$$ = 0;
			free($2);
		}
		;

%%

/* ------------------------------------------------------------------ */
/* Keywords                                                            */
/* ------------------------------------------------------------------ */

struct keyword {
	const char	*name;
	int		 token;
};

/* Sorted for bsearch. */
static const struct keyword keywords[] = {
	{ "action",		ACTION },
	{ "alias",		ALIAS },
	{ "any",		ANY },
	{ "auth",		AUTH },
	{ "auth-optional",	AUTH_OPTIONAL },
	{ "backup",		BACKUP },
	{ "bounce",		BOUNCE },
	{ "ca",			CA },
	{ "cert",		CERT },
	{ "chain",		CHAIN },
	{ "compression",	COMPRESSION },
	{ "domain",		DOMAIN },
	{ "encryption",		ENCRYPTION },
	{ "expand-only",	EXPAND_ONLY },
	{ "family",		FAMILY },
	{ "filter",		FILTER },
	{ "for",		FOR },
	{ "forward-only",	FORWARD_ONLY },
	{ "from",		FROM },
	{ "helo",		HELO },
	{ "helo-src",		HELO_SRC },
	{ "host",		HOST },
	{ "hostname",		HOSTNAME },
	{ "hostnames",		HOSTNAMES },
	{ "include",		INCLUDE },
	{ "inet4",		INET4 },
	{ "inet6",		INET6 },
	{ "junk",		JUNK },
	{ "key",		KEY },
	{ "limit",		LIMIT },
	{ "listen",		LISTEN },
	{ "lmtp",		LMTP },
	{ "local",		LOCAL },
	{ "mail-from",		MAIL_FROM },
	{ "maildir",		MAILDIR },
	{ "mask-src",		MASK_SRC },
	{ "masquerade",		MASQUERADE },
	{ "match",		MATCH },
	{ "max-message-size",	MAX_MESSAGE_SIZE },
	{ "mbox",		MBOX },
	{ "mda",		MDA },
	{ "mx",			MX },
	{ "no-dsn",		NO_DSN },
	{ "no-verify",		NO_VERIFY },
	{ "on",			ON },
	{ "pki",		PKI },
	{ "port",		PORT },
	{ "proc-exec",		PROC_EXEC },
	{ "proxy-v2",		PROXY_V2 },
	{ "queue",		QUEUE },
	{ "rcpt-to",		RCPT_TO },
	{ "rdns",		RDNS },
	{ "received-auth",	RECEIVED_AUTH },
	{ "regex",		REGEX },
	{ "reject",		REJECT },
	{ "relay",		RELAY },
	{ "senders",		SENDERS },
	{ "smtp",		SMTP },
	{ "smtps",		SMTPS },
	{ "socket",		SOCKET },
	{ "spool",		SPOOL },
	{ "src",		SRC },
	{ "srs",		SRS },
	{ "sub-addr-delim",	SUB_ADDR_DELIM },
	{ "table",		TABLE },
	{ "tag",		TAG },
	{ "timeout",		TIMEOUT },
	{ "tls",		TLS },
	{ "tls-require",	TLS_REQUIRE },
	{ "ttl",		TTL },
	{ "user",		USER },
	{ "userbase",		USERBASE },
	{ "verify",		VERIFY },
	{ "virtual",		VIRTUAL },
	{ "warn-interval",	WARN_INTERVAL },
	{ "wrapper",		WRAPPER },
};

static int
kw_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct keyword *)elem)->name);
}

int
config_is_keyword(const char *word)
{
	return bsearch(word, keywords, sizeof(keywords) / sizeof(keywords[0]),
	    sizeof(keywords[0]), kw_cmp) != NULL;
}

/* ------------------------------------------------------------------ */
/* Lexer                                                               */
/* ------------------------------------------------------------------ */

static int
lgetc(int quoted)
{
	struct input	*in = ps.input;
	int		 c, next;

	while (ps.npushback > 0) {
		c = ps.pushback[--ps.npushback];
		if (c != DONE_EXPAND)
			return c;
		ps.expanding = 0;
	}
	c = getc(in->fp);
	/* Outside quotes, a backslash before a newline joins the lines. */
	while (!quoted && c == '\\') {
		if ((next = getc(in->fp)) != '\n') {
			if (next != EOF)
				ungetc(next, in->fp);
			break;
		}
		in->lineno++;
		c = getc(in->fp);
	}
	return c;
}

static void
lungetc(int c)
{
	int	*p;
	size_t	 cap;

	if (c == EOF)
		return;
	if (ps.npushback == ps.pushback_cap) {
		cap = ps.pushback_cap ? ps.pushback_cap * 2 : 64;
		if ((p = reallocarray(ps.pushback, cap, sizeof(*p))) == NULL) {
			lex_error("%s", strerror(errno));
			return;
		}
		ps.pushback = p;
		ps.pushback_cap = cap;
	}
	ps.pushback[ps.npushback++] = c;
}

/* An error of the lexer: its line is poisoned against cascades. */
static void
lex_error(const char *fmt, ...)
{
	struct config_where	 where;
	char			 buf[256];
	va_list			 ap;

	where.file = ps.input->name;
	where.line = ps.input->lineno;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	config_error(ps.errors, &where, "%s", buf);
	ps.errors->poison_file = where.file;
	ps.errors->poison_line = where.line;
}

static int
word_start(int c)
{
	if (c == EOF || c <= 0 || c > 0x7f)
		return 0;
	return isalnum(c) || strchr("_/.:*@[~%", c) != NULL;
}

/* Punctuation that separates words; everything else printable joins. */
static int
word_char(int c)
{
	if (c == EOF || c <= 0 || c > 0x7f)
		return 0;
	if (isalnum(c))
		return 1;
	return ispunct(c) && strchr("(){}<>!=#,\"'", c) == NULL;
}

static int
lex_token(int token, const char *text)
{
	strlcpy(ps.token, text, sizeof(ps.token));
	ps.token_keyword = 0;
	return token;
}

/* $name: the value is read again as input, never expanded twice. */
static void
expand_macro(void)
{
	char		 name[128];
	const char	*value;
	size_t		 len = 0, i;
	int		 c;

	while ((c = lgetc(0)) != EOF && c < 0x80 &&
	    (isalnum(c) || c == '_'))
		if (len < sizeof(name) - 1)
			name[len++] = c;
	lungetc(c);
	name[len] = '\0';
	if ((value = macro_list_get(&ps.cfg->macros, name)) == NULL) {
		lex_error("macro \"%s\" is not defined", name);
		return;
	}
	if (strchr(value, '\n') != NULL) {
		lex_error("macro \"%s\" contains a line break", name);
		return;
	}
	lungetc(DONE_EXPAND);
	for (i = strlen(value); i > 0; i--)
		lungetc((unsigned char)value[i - 1]);
	ps.expanding = 1;
}

static int
yylex(void)
{
	struct input	*in;
	char		 text[2];
	int		 c, next;

	if (ps.errors->gave_up)
		return lex_token(0, "end of file");
top:
	in = ps.input;
	if (in->start_nl) {
		in->start_nl = 0;
		yylloc = in->include_where;
		return lex_token('\n', "end of line");
	}
	while ((c = lgetc(0)) == ' ' || c == '\t' || c == '\r' || c == '\f')
		;
	yylloc.file = in->name;
	yylloc.line = in->lineno;
	if (c == '#')
		while ((c = lgetc(0)) != '\n' && c != EOF)
			;
	if (c == '$' && !ps.expanding) {
		next = lgetc(0);
		lungetc(next);
		if (next != EOF && next < 0x80 && (isalnum(next) ||
		    next == '_')) {
			expand_macro();
			goto top;
		}
	}
	switch (c) {
	case '\n':
		in->lineno++;
		return lex_token('\n', "end of line");
	case EOF:
		/* A last line without its newline still ends a statement. */
		if (!in->eof_nl) {
			in->eof_nl = 1;
			return lex_token('\n', "end of line");
		}
		if (in->prev == NULL)
			return lex_token(0, "end of file");
		input_pop();
		goto top;
	case '"':
	case '\'':
		return lex_quoted(c);
	case '-':
	case '=':
		if ((next = lgetc(0)) == '>')
			return lex_token(ARROW, c == '-' ? "->" : "=>");
		lungetc(next);
		break;
	default:
		if (word_start(c))
			return lex_word(c);
		break;
	}
	text[0] = c;
	text[1] = '\0';
	return lex_token(c, text);
}

static int
lex_quoted(int quotec)
{
	char	 buf[CONFIG_TOKEN_MAX];
	size_t	 len = 0;
	int	 c, next, toolong = 0;

	for (;;) {
		c = lgetc(1);
		if (c == EOF || c == '\n') {
			lex_error("unterminated quoted string");
			lungetc(c);
			break;
		}
		if (c == '\\') {
			next = lgetc(1);
			if (next == quotec)
				c = quotec;
			else if (next == '\n') {
				ps.input->lineno++;
				continue;
			} else if (next == '\\') {
				/* Both stay, so that "a\\" ends the string. */
				if (len < sizeof(buf) - 2)
					buf[len++] = '\\';
			} else
				lungetc(next);
		} else if (c == quotec)
			break;
		if (c == '\0') {
			lex_error("NUL byte in quoted string");
			continue;
		}
		if (len >= sizeof(buf) - 1) {
			if (!toolong)
				lex_error("string too long");
			toolong = 1;
			continue;
		}
		buf[len++] = c;
	}
	buf[len] = '\0';
	if ((yylval.string = strdup(buf)) == NULL) {
		lex_error("%s", strerror(errno));
		return lex_token(0, "end of file");
	}
	return lex_token(STRING, buf);
}

/*
 * A word: macros are expanded inside it, and a %{...} format keeps its
 * braces, so that maildir $root/%{rcpt.user} is one word.
 */
static int
lex_word(int c)
{
	const struct keyword	*kw;
	char			 buf[CONFIG_TOKEN_MAX];
	size_t			 len = 0;
	int			 next, toolong = 0, inbrace = 0;

	for (;;) {
		if (c == '$' && !ps.expanding && !inbrace) {
			next = lgetc(0);
			lungetc(next);
			if (next != EOF && next < 0x80 && (isalnum(next) ||
			    next == '_')) {
				expand_macro();
				c = lgetc(0);
				if (!word_char(c))
					break;
				continue;
			}
		}
		if (c == '%' && !inbrace) {
			if ((next = lgetc(0)) == '{')
				inbrace = 1;
			lungetc(next);
		} else if (inbrace && c == '}')
			inbrace = 0;
		if (len >= sizeof(buf) - 1) {
			if (!toolong)
				lex_error("word too long");
			toolong = 1;
		} else
			buf[len++] = c;
		c = lgetc(0);
		if (inbrace && (c == '\n' || c == EOF)) {
			lex_error("unterminated %%{ in \"%.*s\"", (int)len,
			    buf);
			break;
		}
		if (!inbrace && !word_char(c))
			break;
	}
	lungetc(c);
	buf[len] = '\0';
	kw = bsearch(buf, keywords, sizeof(keywords) / sizeof(keywords[0]),
	    sizeof(keywords[0]), kw_cmp);
	if (kw != NULL) {
		lex_token(kw->token, buf);
		ps.token_keyword = 1;
		return kw->token;
	}
	if ((yylval.string = strdup(buf)) == NULL) {
		lex_error("%s", strerror(errno));
		return lex_token(0, "end of file");
	}
	return lex_token(STRING, buf);
}

static void
yyerror(const char *msg)
{
	ps.errors->syntax++;
	if (strcmp(ps.token, "end of line") == 0 ||
	    strcmp(ps.token, "end of file") == 0)
		config_error(ps.errors, &yylloc, "%s at %s", msg, ps.token);
	else if (ps.token_keyword)
		config_error(ps.errors, &yylloc, "%s near \"%s\" (a reserved "
		    "word: quote it to use it as a value)", msg, ps.token);
	else
		config_error(ps.errors, &yylloc, "%s near \"%s\"", msg,
		    ps.token);
}

/* ------------------------------------------------------------------ */
/* Files                                                               */
/* ------------------------------------------------------------------ */

static int
input_push(const char *path, const struct config_where *from)
{
	struct input	*in, *p;
	struct stat	 sb;
	FILE		*fp;

	if ((fp = fopen(path, "r")) == NULL) {
		if (from != NULL)
			perr(from, "cannot open \"%s\": %s", path,
			    strerror(errno));
		else
			fprintf(ps.errors->fp, "%s: %s\n", path,
			    strerror(errno));
		return -1;
	}
	if (fstat(fileno(fp), &sb) == -1 || !S_ISREG(sb.st_mode)) {
		if (from != NULL)
			perr(from, "\"%s\" is not a regular file", path);
		else
			fprintf(ps.errors->fp, "%s: not a regular file\n",
			    path);
		fclose(fp);
		return -1;
	}
	for (p = ps.input; p != NULL; p = p->prev)
		if (p->dev == sb.st_dev && p->ino == sb.st_ino) {
			perr(from, "\"%s\" includes itself", path);
			fclose(fp);
			return -1;
		}
	if ((in = calloc(1, sizeof(*in))) == NULL ||
	    (in->name = config_file_name(ps.cfg, path)) == NULL) {
		fprintf(ps.errors->fp, "%s: %s\n", path, strerror(errno));
		free(in);
		fclose(fp);
		return -1;
	}
	in->fp = fp;
	in->lineno = 1;
	in->dev = sb.st_dev;
	in->ino = sb.st_ino;
	in->prev = ps.input;
	in->depth = ps.input ? ps.input->depth + 1 : 0;
	if (from != NULL) {
		in->start_nl = 1;
		in->include_where = *from;
	}
	ps.input = in;
	return 0;
}

static void
input_pop(void)
{
	struct input	*in = ps.input;

	ps.input = in->prev;
	fclose(in->fp);
	free(in);
}

/* A relative name is taken from the including file's directory. */
static void
include_file(const struct config_where *where, char *name)
{
	char		 path[PATH_MAX];
	const char	*slash;
	int		 n;

	if (ps.input->depth + 1 >= CONFIG_INCLUDE_DEPTH_MAX) {
		perr(where, "include nested too deeply");
		free(name);
		return;
	}
	if (name[0] != '/' && (slash = strrchr(ps.input->name, '/')) != NULL)
		n = snprintf(path, sizeof(path), "%.*s/%s",
		    (int)(slash - ps.input->name), ps.input->name, name);
	else
		n = snprintf(path, sizeof(path), "%s", name);
	if (n < 0 || (size_t)n >= sizeof(path))
		perr(where, "include path too long");
	else
		input_push(path, where);
	free(name);
}

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

static void
perr(const struct config_where *where, const char *fmt, ...)
{
	char	 buf[1024];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	config_error(ps.errors, where, "%s", buf);
}

/*
 * The statement being built cannot be: stop reading (the lexer then
 * returns the end of file), so that no action runs without it.
 */
static void
out_of_memory(const struct config_where *where)
{
	perr(where, "%s", strerror(ENOMEM));
	ps.errors->gave_up = 1;
}

static void
unsupported(const struct config_where *where, const char *what)
{
	perr(where, "%s is not supported yet", what);
}

static void
define_macro(const struct config_where *where, char *name, char *value)
{
	struct macro	*m;

	if (!macro_name_valid(name))
		perr(where, "invalid macro name \"%s\"", name);
	else {
		TAILQ_FOREACH(m, &ps.cfg->macros, entry)
			if (strcmp(m->name, name) == 0)
				break;
		/* -D on the command line wins over the file. */
		if ((m == NULL || !m->cmdline) &&
		    macro_list_set(&ps.cfg->macros, name, value, 0) == -1)
			perr(where, "%s", strerror(errno));
	}
	free(name);
	free(value);
}

/* Whatever a statement with a syntax error had built is dropped. */
static void
statement_abort(void)
{
	config_listener_free(ps.listener);
	ps.listener = NULL;
	config_action_free(ps.action);
	ps.action = NULL;
	config_rule_free(ps.rule);
	ps.rule = NULL;
}

static struct strlist *
strlist_add(struct strlist *list, char *s)
{
	char	**v;

	if (list == NULL && (list = calloc(1, sizeof(*list))) == NULL) {
		free(s);
		perr(&yylloc, "%s", strerror(errno));
		return NULL;
	}
	if ((v = reallocarray(list->v, list->n + 2, sizeof(*v))) == NULL) {
		free(s);
		perr(&yylloc, "%s", strerror(errno));
		return list;
	}
	list->v = v;
	list->v[list->n++] = s;
	list->v[list->n] = NULL;
	return list;
}

static void
strlist_free(struct strlist *list)
{
	size_t	 i;

	if (list == NULL)
		return;
	for (i = 0; i < list->n; i++)
		free(list->v[i]);
	free(list->v);
	free(list);
}

static struct config_table *
inline_add(struct config_table *t, const struct config_where *where,
    struct kv kv)
{
	if (t == NULL && (t = config_table_new()) == NULL) {
		free(kv.key);
		free(kv.value);
		perr(where, "%s", strerror(errno));
		return NULL;
	}
	if (t->where.file == NULL)
		t->where = *where;
	config_table_add_entry(ps.errors, where, t, kv.key, kv.value);
	return t;
}

static struct config_tableref *
tableref_named(const struct config_where *where, char *name)
{
	struct config_tableref	*ref;

	if ((ref = calloc(1, sizeof(*ref))) == NULL) {
		perr(where, "%s", strerror(errno));
		free(name);
		return NULL;
	}
	ref->name = name;
	ref->where = *where;
	return ref;
}

static struct config_tableref *
tableref_inline(const struct config_where *where, struct config_table *t)
{
	struct config_tableref	*ref;

	t->where = *where;
	if ((t = config_table_anonymous(ps.cfg, t)) == NULL ||
	    (ref = calloc(1, sizeof(*ref))) == NULL) {
		perr(where, "%s", strerror(errno));
		return NULL;
	}
	ref->table = t;
	ref->where = *where;
	return ref;
}

/* A single value where a table is expected: a table of one entry. */
static struct config_tableref *
tableref_literal(const struct config_where *where, char *value)
{
	struct config_table	*t;

	if ((t = config_table_new()) == NULL) {
		perr(where, "%s", strerror(errno));
		free(value);
		return NULL;
	}
	config_table_add_entry(ps.errors, where, t, value, NULL);
	return tableref_inline(where, t);
}

static void
tableref_free(struct config_tableref *ref)
{
	if (ref == NULL)
		return;
	config_tableref_clear(ref);
	free(ref);
}

/* Moves ref into dst, with the service the use asks for. */
static void
tableref_set(struct config_tableref *dst, struct config_tableref *ref,
    uint32_t service, int regex)
{
	if (ref == NULL)
		return;
	config_tableref_clear(dst);
	*dst = *ref;
	dst->service = regex ? K_REGEX : service;
	dst->regex = regex;
	free(ref);
}

/* ------------------------------------------------------------------ */
/* Global settings                                                     */
/* ------------------------------------------------------------------ */

static void
set_spool(const struct config_where *where, char *path)
{
	if (path[0] != '/') {
		perr(where, "spool \"%s\" must be an absolute path", path);
		free(path);
		return;
	}
	free(ps.cfg->spool);
	ps.cfg->spool = path;
}

static void
set_queue_ttl(const struct config_where *where, char *text)
{
	config_parse_duration(ps.errors, where, text, &ps.cfg->queue_ttl);
	free(text);
}

static void
add_warn_interval(const struct config_where *where, char *text)
{
	struct smtpd_config	*cfg = ps.cfg;
	int			 d;

	if (config_parse_duration(ps.errors, where, text, &d) == 0) {
		if (cfg->nbounce_warn == CONFIG_BOUNCE_WARN_MAX)
			perr(where, "at most %d warn-interval delays",
			    CONFIG_BOUNCE_WARN_MAX);
		else if (cfg->nbounce_warn > 0 &&
		    d <= cfg->bounce_warn[cfg->nbounce_warn - 1])
			perr(where, "warn-interval delays must increase");
		else
			cfg->bounce_warn[cfg->nbounce_warn++] = d;
	}
	free(text);
}

static void
set_limit(const struct config_where *where, char *name, char *value)
{
	int64_t	 n;

	if (strcmp(name, "max-mails") != 0 && strcmp(name, "max-rcpt") != 0)
		perr(where, "unknown smtp limit \"%s\" (max-mails or "
		    "max-rcpt)", name);
	else if (config_parse_number(ps.errors, where, value, 1, INT_MAX,
	    &n) == 0) {
		if (strcmp(name, "max-mails") == 0)
			ps.cfg->max_mails = (int)n;
		else
			ps.cfg->max_rcpt = (int)n;
	}
	free(name);
	free(value);
}

static void
set_timeout(const struct config_where *where, char *name, char *value)
{
	int	*dst = NULL;

	if (strcmp(name, "command") == 0)
		dst = &ps.cfg->timeout_command;
	else if (strcmp(name, "data") == 0)
		dst = &ps.cfg->timeout_data;
	else
		perr(where, "unknown smtp timeout \"%s\" (command or data)",
		    name);
	if (dst != NULL)
		config_parse_duration(ps.errors, where, value, dst);
	free(name);
	free(value);
}

static void
set_max_message_size(const struct config_where *where, char *text)
{
	config_parse_size(ps.errors, where, text, &ps.cfg->max_message_size);
	free(text);
}

static void
set_sub_addr_delim(const struct config_where *where, char *text)
{
	if (strlen(text) != 1 || !isgraph((unsigned char)text[0]) ||
	    text[0] == '@')
		perr(where, "sub-addr-delim must be one printable character "
		    "other than @ and space");
	else
		ps.cfg->sub_addr_delim = text[0];
	free(text);
}

static void
define_wrapper(const struct config_where *where, char *name, char *command)
{
	struct config_wrapper	*w;

	if ((w = config_wrapper_find(ps.cfg, name)) != NULL)
		perr(where, "wrapper \"%s\" already defined at %s:%d", name,
		    w->where.file, w->where.line);
	else if (command[0] == '\0')
		perr(where, "wrapper \"%s\" has an empty command", name);
	else if ((w = calloc(1, sizeof(*w))) == NULL)
		perr(where, "%s", strerror(errno));
	else {
		w->name = name;
		w->command = command;
		w->where = *where;
		TAILQ_INSERT_TAIL(&ps.cfg->wrappers, w, entry);
		return;
	}
	free(name);
	free(command);
}

/* table NAME SPEC, or table NAME { ... } with t the entries. */
static void
define_table(const struct config_where *where, char *name, char *spec,
    struct config_table *t)
{
	struct config_table	*o;

	if (!config_name_valid(name))
		perr(where, "invalid table name \"%s\" (letters, digits, "
		    "'_', '.' and '-')", name);
	else if ((o = config_table_find(ps.cfg, name)) != NULL)
		perr(where, "table <%s> already defined at %s:%d", name,
		    o->where.file, o->where.line);
	else if (t == NULL && (t = config_table_new()) == NULL)
		perr(where, "%s", strerror(errno));
	else if (spec != NULL &&
	    config_table_set_source(ps.errors, where, t, spec) == -1)
		;
	else {
		t->name = name;
		t->where = *where;
		TAILQ_INSERT_TAIL(&ps.cfg->tables, t, entry);
		free(spec);
		return;
	}
	config_table_free(t);
	free(name);
	free(spec);
}

/* filter NAME proc-exec "cmd" [timeout D], or NAME chain { ... }. */
static void
define_filter(const struct config_where *where, char *name, char *command,
    int timeout, struct strlist *members)
{
	struct config_filter	*f, *o;
	char			 err[256];

	if (!config_name_valid(name))
		perr(where, "invalid filter name \"%s\" (letters, digits, "
		    "'_', '.' and '-')", name);
	else if ((o = config_filter_find(ps.cfg, name)) != NULL)
		perr(where, "filter \"%s\" already defined at %s:%d", name,
		    o->where.file, o->where.line);
	else if ((f = calloc(1, sizeof(*f))) == NULL)
		perr(where, "%s", strerror(errno));
	else {
		f->name = name;
		f->where = *where;
		if (members != NULL) {
			f->kind = FILTER_CHAIN;
			f->members = members->v;
			f->nmembers = members->n;
			free(members);
		} else {
			f->kind = FILTER_PROC_EXEC;
			f->command = command;
			f->timeout = timeout ? timeout :
			    CONFIG_FILTER_TIMEOUT_DEFAULT;
			f->timeout_set = timeout != 0;
			if ((f->argv = imsgproc_argv_split(command, err,
			    sizeof(err))) == NULL)
				perr(where, "invalid filter command: %s", err);
		}
		TAILQ_INSERT_TAIL(&ps.cfg->filters, f, entry);
		return;
	}
	free(name);
	free(command);
	strlist_free(members);
}

/* ------------------------------------------------------------------ */
/* listen on                                                           */
/* ------------------------------------------------------------------ */

static void
listener_start(const struct config_where *where, char *on, int socket)
{
	struct config_listener	*l;
	struct in6_addr		 a6;
	struct in_addr		 a4;
	size_t			 len;

	if (on == NULL || (l = calloc(1, sizeof(*l))) == NULL) {
		out_of_memory(where);
		free(on);
		return;
	}
	l->where = *where;
	l->family = AF_UNSPEC;
	l->port = socket ? 0 : CONFIG_PORT_DEFAULT;
	/* [::1] is the same address as ::1. */
	len = strlen(on);
	if (len > 2 && on[0] == '[' && on[len - 1] == ']') {
		memmove(on, on + 1, len - 2);
		on[len - 2] = '\0';
	}
	l->on = on;
	if (socket)
		l->kind = LISTEN_SOCKET;
	else if (strcmp(on, "localhost") == 0)
		l->kind = LISTEN_LOCALHOST;
	else if (strcmp(on, "all") == 0)
		l->kind = LISTEN_ALL;
	else if (inet_pton(AF_INET, on, &a4) == 1 ||
	    inet_pton(AF_INET6, on, &a6) == 1)
		l->kind = LISTEN_ADDRESS;
	else
		l->kind = LISTEN_INTERFACE;
	ps.listener = l;
	ps.listener_seen = 0;
}

static int
listener_once(unsigned int bit, const char *name,
    const struct config_where *where)
{
	if (ps.listener_seen & bit) {
		perr(where, "option \"%s\" given twice", name);
		return 0;
	}
	ps.listener_seen |= bit;
	if (ps.listener->kind == LISTEN_SOCKET && (bit & (L_TAG |
	    L_MASK_SRC | L_NO_DSN | L_FILTER)) == 0) {
		perr(where, "option \"%s\" is not valid on the socket "
		    "listener", name);
		return 0;
	}
	return 1;
}

static void
listener_port(const struct config_where *where, char *text)
{
	struct servent	*se;
	int64_t		 n;

	if (listener_once(L_PORT, "port", where)) {
		if (isdigit((unsigned char)text[0])) {
			if (config_parse_number(ps.errors, where, text, 1,
			    65535, &n) == 0)
				ps.listener->port = (uint16_t)n;
		} else if ((se = getservbyname(text, "tcp")) != NULL)
			ps.listener->port = ntohs(se->s_port);
		else
			perr(where, "unknown port \"%s\"", text);
	}
	free(text);
}

static void
listener_family(const struct config_where *where, int family)
{
	if (listener_once(L_FAMILY, "family", where))
		ps.listener->family = family;
}

static void
listener_filter(const struct config_where *where, char *name,
    struct strlist *list)
{
	struct config_filter	*f;
	char			 buf[32];

	if (!listener_once(L_FILTER, "filter", where)) {
		free(name);
		strlist_free(list);
		return;
	}
	ps.listener->filter_where = *where;
	if (name != NULL) {
		ps.listener->filter_name = name;
		return;
	}
	/* An anonymous chain, checked with the named ones. */
	if ((f = calloc(1, sizeof(*f))) == NULL) {
		perr(where, "%s", strerror(errno));
		strlist_free(list);
		return;
	}
	snprintf(buf, sizeof(buf), "chain:%d", ++ps.cfg->nchain);
	if ((f->name = strdup(buf)) == NULL) {
		out_of_memory(where);
		free(f);
		strlist_free(list);
		return;
	}
	f->anonymous = 1;
	f->kind = FILTER_CHAIN;
	f->members = list->v;
	f->nmembers = list->n;
	f->where = *where;
	free(list);
	TAILQ_INSERT_TAIL(&ps.cfg->filters, f, entry);
	ps.listener->filter = f;
}

static void
listener_end(void)
{
	struct config_listener	*l = ps.listener;

	ps.listener = NULL;
	if (l == NULL)
		return;
	if (config_check_listener(ps.errors, ps.cfg, l) == -1) {
		config_listener_free(l);
		return;
	}
	TAILQ_INSERT_TAIL(&ps.cfg->listeners, l, entry);
}

/* ------------------------------------------------------------------ */
/* action                                                              */
/* ------------------------------------------------------------------ */

static void
action_start(const struct config_where *where, char *name)
{
	struct config_action	*a, *o;

	if ((a = calloc(1, sizeof(*a))) == NULL) {
		out_of_memory(where);
		free(name);
		return;
	}
	a->name = name;
	a->where = *where;
	ps.action = a;
	ps.action_seen = 0;
	ps.action_dup = 0;
	if ((o = config_action_find(ps.cfg, name)) != NULL) {
		perr(where, "action \"%s\" already defined at %s:%d", name,
		    o->where.file, o->where.line);
		ps.action_dup = 1;
	}
}

static int
action_once(unsigned int bit, const char *name,
    const struct config_where *where)
{
	if (ps.action_seen & bit) {
		perr(where, "option \"%s\" given twice", name);
		return 0;
	}
	ps.action_seen |= bit;
	return 1;
}

static int
action_local(const char *name, const struct config_where *where)
{
	if (ps.action->method == ACTION_RELAY) {
		perr(where, "option \"%s\" is not valid with relay", name);
		return 0;
	}
	return 1;
}

/* Relay options parse; relaying itself is refused at the end. */
static void
action_relay_option(unsigned int bit, const char *name,
    const struct config_where *where)
{
	if (ps.action->method != ACTION_RELAY)
		perr(where, "option \"%s\" is only valid with relay", name);
	else
		action_once(bit, name, where);
}

static void
action_end(void)
{
	struct config_action	*a = ps.action;

	ps.action = NULL;
	if (a == NULL)
		return;
	if (config_check_action(ps.errors, a) == -1 || ps.action_dup) {
		config_action_free(a);
		return;
	}
	TAILQ_INSERT_TAIL(&ps.cfg->actions, a, entry);
}

/* ------------------------------------------------------------------ */
/* match                                                               */
/* ------------------------------------------------------------------ */

static void
rule_start(const struct config_where *where)
{
	if ((ps.rule = calloc(1, sizeof(*ps.rule))) == NULL) {
		out_of_memory(where);
		return;
	}
	ps.rule->where = *where;
}

static struct crit
crit(int kind, int regex, struct config_tableref *ref)
{
	struct crit	 c;

	c.kind = kind;
	c.regex = regex;
	c.ref = ref;
	return c;
}

static void
rule_criterion(struct match_criterion *c, const char *name,
    const struct config_where *where, int negate, struct crit spec,
    uint32_t service)
{
	if (c->set) {
		perr(where, "criterion \"%s\" given twice", name);
		tableref_free(spec.ref);
		return;
	}
	c->set = 1;
	c->negate = negate;
	c->kind = spec.kind;
	if (spec.ref == NULL)
		return;
	if (service == 0) {
		/* from src, for domain...: the service follows the kind. */
		switch (spec.kind) {
		case FROM_SRC:
			service = K_NETADDR;
			break;
		case FROM_RDNS:
			service = K_DOMAIN;
			break;
		case FROM_AUTH:
			service = K_STRING;
			break;
		case FROM_MAIL_FROM:
			service = K_MAILADDR;
			break;
		}
		if (c == &ps.rule->for_)
			service = spec.kind == FOR_DOMAIN ? K_DOMAIN :
			    K_MAILADDR;
	}
	tableref_set(&c->table, spec.ref, service, spec.regex);
}

static void
rule_end(void)
{
	struct config_rule	*r = ps.rule;

	ps.rule = NULL;
	if (r != NULL)
		TAILQ_INSERT_TAIL(&ps.cfg->rules, r, entry);
}

/* ------------------------------------------------------------------ */
/* Entry point                                                         */
/* ------------------------------------------------------------------ */

struct smtpd_config *
config_parse(const char *path, const struct macro_list *cmdline,
    FILE *errfp)
{
	struct config_errors	 errors;
	struct smtpd_config	*cfg;
	const struct macro	*m;
	int			 r;

	memset(&errors, 0, sizeof(errors));
	errors.fp = errfp != NULL ? errfp : stderr;
	if ((cfg = config_new()) == NULL) {
		fprintf(errors.fp, "%s: %s\n", path, strerror(errno));
		return NULL;
	}
	if (cmdline != NULL)
		TAILQ_FOREACH(m, cmdline, entry)
			if (macro_list_set(&cfg->macros, m->name, m->value,
			    1) == -1) {
				fprintf(errors.fp, "%s: -D %s: %s\n", path,
				    m->name, strerror(errno));
				config_free(cfg);
				return NULL;
			}

	memset(&ps, 0, sizeof(ps));
	ps.cfg = cfg;
	ps.errors = &errors;
	if (input_push(path, NULL) == -1) {
		config_free(cfg);
		return NULL;
	}
	r = yyparse();
	while (ps.input != NULL)
		input_pop();
	statement_abort();
	free(ps.pushback);
	memset(&ps, 0, sizeof(ps));

	if (r == 2)
		fprintf(errors.fp, "%s: out of memory\n", path);
	/* After a syntax error the references would only mislead. */
	if (r == 0 && errors.syntax == 0 && !errors.gave_up)
		config_resolve(&errors, cfg);
	if (r != 0 || errors.count > 0 || errors.gave_up) {
		config_free(cfg);
		return NULL;
	}
	return cfg;
}
