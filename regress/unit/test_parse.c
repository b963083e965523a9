/*
 * test_parse.c: the smtpd.conf parser (smtpd/parse.y, smtpd/config*.c)
 * against the fixtures of regress/parse/: the structures a rich config
 * builds, the exact text of every error of the invalid ones, and the
 * dump that parses back to itself.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

#define FIXTURES	"regress/parse/"

static struct smtpd_config *parse(const char *, const char *const *,
		    char **);
static char	*dump(const struct smtpd_config *);
static char	*write_temp(const char *);
static void	 assert_roundtrip(const char *, const char *const *);
static struct config_table *table_named(struct smtpd_config *,
		    const char *);
static struct config_listener *listener_at(struct smtpd_config *, int);
static struct config_rule *rule_at(struct smtpd_config *, int);
static Suite	*parse_suite(void);

/* Parses path with -D definitions; *errors gets what was printed. */
static struct smtpd_config *
parse(const char *path, const char *const *defines, char **errors)
{
	struct macro_list	 macros;
	struct smtpd_config	*cfg;
	FILE			*fp;
	size_t			 len;
	char			*text = NULL;

	macro_list_init(&macros);
	for (; defines != NULL && *defines != NULL; defines++)
		ck_assert_int_eq(macro_list_define(&macros, *defines), 0);
	ck_assert_ptr_nonnull(fp = open_memstream(&text, &len));
	cfg = config_parse(path, &macros, fp);
	ck_assert_int_eq(fclose(fp), 0);
	macro_list_clear(&macros);
	if (errors != NULL)
		*errors = text;
	else
		free(text);
	return cfg;
}

static char *
dump(const struct smtpd_config *cfg)
{
	FILE	*fp;
	char	*text = NULL;
	size_t	 len;

	ck_assert_ptr_nonnull(fp = open_memstream(&text, &len));
	config_dump(cfg, fp);
	ck_assert_int_eq(fclose(fp), 0);
	return text;
}

static char *
write_temp(const char *text)
{
	char	*path;
	FILE	*fp;
	int	 fd;

	ck_assert_ptr_nonnull(path = strdup("/tmp/test_parse.XXXXXX"));
	ck_assert_int_ne(fd = mkstemp(path), -1);
	ck_assert_ptr_nonnull(fp = fdopen(fd, "w"));
	ck_assert_int_eq(fputs(text, fp) >= 0, 1);
	ck_assert_int_eq(fclose(fp), 0);
	return path;
}

/* The dump parses back without error, to the very same dump. */
static void
assert_roundtrip(const char *path, const char *const *defines)
{
	struct smtpd_config	*cfg;
	char			*first, *second, *errors, *tmp;

	cfg = parse(path, defines, &errors);
	ck_assert_msg(cfg != NULL, "%s: %s", path, errors);
	free(errors);
	first = dump(cfg);
	config_free(cfg);

	tmp = write_temp(first);
	cfg = parse(tmp, NULL, &errors);
	ck_assert_msg(cfg != NULL, "dump of %s: %s\n%s", path, errors, first);
	ck_assert_str_eq(errors, "");
	second = dump(cfg);
	ck_assert_str_eq(second, first);
	config_free(cfg);
	unlink(tmp);
	free(tmp);
	free(errors);
	free(first);
	free(second);
}

static struct config_table *
table_named(struct smtpd_config *cfg, const char *name)
{
	struct config_table	*t;

	ck_assert_msg((t = config_table_find(cfg, name)) != NULL,
	    "no table %s", name);
	return t;
}

static struct config_listener *
listener_at(struct smtpd_config *cfg, int line)
{
	struct config_listener	*l;

	TAILQ_FOREACH(l, &cfg->listeners, entry)
		if (l->where.line == line)
			return l;
	ck_abort_msg("no listener at line %d", line);
	return NULL;
}

static struct config_rule *
rule_at(struct smtpd_config *cfg, int line)
{
	struct config_rule	*r;

	TAILQ_FOREACH(r, &cfg->rules, entry)
		if (r->where.line == line)
			return r;
	ck_abort_msg("no rule at line %d", line);
	return NULL;
}

START_TEST(test_rich_globals)
{
	struct smtpd_config	*cfg;
	struct config_wrapper	*w;
	char			*errors;

	cfg = parse(FIXTURES "valid-rich.conf", NULL, &errors);
	ck_assert_msg(cfg != NULL, "%s", errors);
	ck_assert_str_eq(errors, "");
	ck_assert_str_eq(cfg->spool, "/tmp/spool-test");
	ck_assert_int_eq(cfg->queue_ttl, 2 * 86400);
	ck_assert_int_eq(cfg->nbounce_warn, 3);
	ck_assert_int_eq(cfg->bounce_warn[0], 3600);
	ck_assert_int_eq(cfg->bounce_warn[1], 6 * 3600);
	ck_assert_int_eq(cfg->bounce_warn[2], 86400);
	ck_assert_uint_eq(cfg->max_message_size, 10 * 1024 * 1024);
	ck_assert_int_eq(cfg->max_mails, 50);
	ck_assert_int_eq(cfg->max_rcpt, 200);
	ck_assert_int_eq(cfg->sub_addr_delim, '-');
	ck_assert_int_eq(cfg->timeout_command, 120);
	ck_assert_int_eq(cfg->timeout_data, 900);
	ck_assert_str_eq(macro_list_get(&cfg->macros, "lan"), "127.0.0.1");
	ck_assert_str_eq(macro_list_get(&cfg->macros, "root"),
	    "/var/mail/vhosts");
	ck_assert_ptr_nonnull(w = config_wrapper_find(cfg, "sandbox"));
	ck_assert_str_eq(w->command, "/usr/bin/sandbox %{mda}");
	ck_assert_int_eq(w->used, 1);
	ck_assert_int_eq(w->where.line, 13);
	config_free(cfg);
	free(errors);
}
END_TEST

START_TEST(test_rich_tables)
{
	struct smtpd_config	*cfg;
	struct config_table	*t;
	struct table_entry	*e;

	ck_assert_ptr_nonnull(cfg = parse(FIXTURES "valid-rich.conf", NULL,
	    NULL));

	t = table_named(cfg, "aliases");
	ck_assert_str_eq(t->backend, "static");
	ck_assert_str_eq(t->path, "/etc/mail/aliases");
	ck_assert_str_eq(t->argv[0], "table-static");
	ck_assert_str_eq(t->argv[1], "/etc/mail/aliases");
	ck_assert_ptr_null(t->argv[2]);
	ck_assert_str_eq(t->config, "");
	ck_assert_uint_eq(t->services, K_ALIAS);
	ck_assert_int_eq(t->where.line, 15);

	t = table_named(cfg, "users");
	ck_assert_str_eq(t->argv[0], "table-sqlite");
	ck_assert_str_eq(t->argv[1], "/etc/mail/users.conf");
	ck_assert_int_eq(t->used, 0);

	/* Inline, across a continuation: the next line numbers still hold. */
	t = table_named(cfg, "domains");
	ck_assert_ptr_null(t->path);
	ck_assert_int_eq(t->nentries, 3);
	ck_assert_int_eq(t->is_mapping, 0);
	ck_assert_str_eq(t->argv[0], "table-static");
	ck_assert_ptr_null(t->argv[1]);
	ck_assert_str_eq(t->config,
	    "# @list\nexample.org\n*.example.net\nexample.com\n");
	ck_assert_uint_eq(t->services, K_DOMAIN);
	ck_assert_int_eq(t->where.line, 17);

	/* Over several lines, with = and -> as separators. */
	t = table_named(cfg, "vusers");
	ck_assert_int_eq(t->is_mapping, 1);
	ck_assert_int_eq(t->where.line, 19);
	e = TAILQ_FIRST(&t->entries);
	ck_assert_str_eq(e->key, "alice");
	ck_assert_str_eq(e->value, "1000:1000:/home/alice");
	ck_assert_str_eq(TAILQ_NEXT(e, entry)->key, "bob");
	ck_assert_str_eq(t->config,
	    "alice 1000:1000:/home/alice\nbob 1001:1001:/home/bob\n");
	ck_assert_uint_eq(t->services, K_ALIAS | K_USERINFO);

	/* From the included file, with its own name and lines. */
	t = table_named(cfg, "sendermap");
	ck_assert_str_eq(t->where.file, FIXTURES "valid-include.conf");
	ck_assert_int_eq(t->where.line, 2);
	ck_assert_int_eq(t->is_mapping, 1);
	t = table_named(cfg, "spamtraps");
	ck_assert_str_eq(t->config, "# @regex\n^trap[0-9]+@\n");
	ck_assert_uint_eq(t->services, K_REGEX);

	/* A literal is a one-entry anonymous table. */
	t = rule_at(cfg, 47)->for_.table.table;
	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(t->anonymous, 1);
	ck_assert_str_eq(t->config, "# @list\nexample.org\n");
	config_free(cfg);
}
END_TEST

START_TEST(test_rich_filters_listeners)
{
	struct smtpd_config	*cfg;
	struct config_filter	*f;
	struct config_listener	*l;

	ck_assert_ptr_nonnull(cfg = parse(FIXTURES "valid-rich.conf", NULL,
	    NULL));

	f = config_filter_find(cfg, "dkim");
	ck_assert_int_eq(f->kind, FILTER_PROC_EXEC);
	ck_assert_str_eq(f->command, "filter-dkim-sign -d example.org");
	ck_assert_str_eq(f->argv[0], "filter-dkim-sign");
	ck_assert_str_eq(f->argv[1], "-d");
	ck_assert_str_eq(f->argv[2], "example.org");
	ck_assert_ptr_null(f->argv[3]);
	ck_assert_int_eq(f->timeout, 30);
	ck_assert_int_eq(f->timeout_set, 1);
	f = config_filter_find(cfg, "rspamd");
	ck_assert_int_eq(f->timeout, CONFIG_FILTER_TIMEOUT_DEFAULT);
	ck_assert_int_eq(f->timeout_set, 0);
	f = config_filter_find(cfg, "checks");
	ck_assert_int_eq(f->kind, FILTER_CHAIN);
	ck_assert_uint_eq(f->nmembers, 2);
	ck_assert_ptr_eq(f->chain[0], config_filter_find(cfg, "rspamd"));
	ck_assert_ptr_eq(f->chain[1], config_filter_find(cfg, "dkim"));
	ck_assert_ptr_null(f->chain[2]);

	l = listener_at(cfg, 29);
	ck_assert_int_eq(l->kind, LISTEN_ADDRESS);
	ck_assert_str_eq(l->on, "127.0.0.1");		/* from $lan */
	ck_assert_int_eq(l->port, 2525);
	ck_assert_int_eq(l->family, AF_UNSPEC);
	ck_assert_str_eq(l->hostname, "mx.example.org");
	ck_assert_str_eq(l->tag, "IN");
	ck_assert_ptr_eq(l->filter, config_filter_find(cfg, "checks"));

	l = listener_at(cfg, 30);
	ck_assert_str_eq(l->on, "::1");
	ck_assert_int_eq(l->family, AF_INET6);
	ck_assert_int_eq(l->port, 2526);
	ck_assert_int_eq(l->mask_src, 1);
	ck_assert_int_eq(l->no_dsn, 1);
	ck_assert_int_eq(l->filter->anonymous, 1);
	ck_assert_int_eq(l->filter->kind, FILTER_CHAIN);
	ck_assert_ptr_eq(l->filter->chain[0], config_filter_find(cfg, "dkim"));
	ck_assert_ptr_eq(l->filter->chain[1],
	    config_filter_find(cfg, "rspamd"));

	l = listener_at(cfg, 32);
	ck_assert_int_eq(l->kind, LISTEN_SOCKET);
	ck_assert_int_eq(l->port, 0);
	ck_assert_str_eq(l->tag, "LOCAL");
	ck_assert_ptr_eq(l->filter, config_filter_find(cfg, "dkim"));

	l = listener_at(cfg, 33);
	ck_assert_int_eq(l->kind, LISTEN_LOCALHOST);
	ck_assert_int_eq(l->port, 587);
	ck_assert_str_eq(l->hostname, "submit.example.org");
	config_free(cfg);
}
END_TEST

START_TEST(test_rich_actions)
{
	struct smtpd_config	*cfg;
	struct config_action	*a;

	ck_assert_ptr_nonnull(cfg = parse(FIXTURES "valid-rich.conf", NULL,
	    NULL));
	a = config_action_find(cfg, "local");
	ck_assert_int_eq(a->method, ACTION_MBOX);
	ck_assert_ptr_eq(a->alias.table, table_named(cfg, "aliases"));
	ck_assert_int_eq(a->used, 1);

	/* A macro joined to a format in one word, over two lines. */
	a = config_action_find(cfg, "vmail");
	ck_assert_int_eq(a->method, ACTION_MAILDIR);
	ck_assert_str_eq(a->maildir,
	    "/var/mail/vhosts/%{dest.domain}/%{dest.user}");
	ck_assert_int_eq(a->junk, 1);
	ck_assert_ptr_eq(a->virtual.table, table_named(cfg, "vusers"));
	ck_assert_ptr_null(a->alias.table);
	ck_assert_ptr_eq(a->userbase.table, table_named(cfg, "vusers"));
	ck_assert_str_eq(a->user, "vmail");
	ck_assert_int_eq(a->ttl, 12 * 3600);
	ck_assert_int_eq(a->where.line, 36);
	ck_assert_int_eq(config_action_find(cfg, "lmtp_out")->where.line, 38);

	a = config_action_find(cfg, "lmtp_out");
	ck_assert_int_eq(a->method, ACTION_LMTP);
	ck_assert_str_eq(a->lmtp, "/var/run/dovecot/lmtp");
	ck_assert_int_eq(a->lmtp_rcpt_to, 1);

	a = config_action_find(cfg, "deliver");
	ck_assert_int_eq(a->method, ACTION_MDA);
	ck_assert_str_eq(a->mda, "/usr/local/bin/procmail -f %{sender}");
	ck_assert_ptr_eq(a->wrapper, config_wrapper_find(cfg, "sandbox"));

	a = config_action_find(cfg, "fwd");
	ck_assert_int_eq(a->method, ACTION_FORWARD_ONLY);
	ck_assert_int_eq(a->alias.table->anonymous, 1);
	ck_assert_str_eq(a->alias.table->config, "root alice, bob\n");

	a = config_action_find(cfg, "exp");
	ck_assert_int_eq(a->method, ACTION_EXPAND_ONLY);
	config_free(cfg);
}
END_TEST

START_TEST(test_rich_rules)
{
	struct smtpd_config	*cfg;
	struct config_rule	*r;
	int			 n = 0;

	ck_assert_ptr_nonnull(cfg = parse(FIXTURES "valid-rich.conf", NULL,
	    NULL));
	TAILQ_FOREACH(r, &cfg->rules, entry)
		n++;
	ck_assert_int_eq(n, 9);

	r = TAILQ_FIRST(&cfg->rules);
	ck_assert_int_eq(r->where.line, 43);
	ck_assert_int_eq(r->from.set, 1);
	ck_assert_int_eq(r->from.kind, FROM_LOCAL);
	ck_assert_int_eq(r->for_.kind, FOR_LOCAL);
	ck_assert_ptr_eq(r->action, config_action_find(cfg, "local"));

	r = rule_at(cfg, 45);
	ck_assert_int_eq(r->from.negate, 1);
	ck_assert_int_eq(r->from.kind, FROM_SRC);
	ck_assert_uint_eq(r->from.table.service, K_NETADDR);
	ck_assert_int_eq(r->from.table.table->nentries, 2);
	ck_assert_int_eq(r->for_.kind, FOR_ANY);
	ck_assert_int_eq(r->reject, 1);
	ck_assert_ptr_null(r->action);

	r = rule_at(cfg, 46);
	ck_assert_int_eq(r->from.kind, FROM_SOCKET);
	ck_assert_int_eq(r->for_.kind, FOR_RCPT_TO);
	ck_assert_int_eq(r->for_.table.regex, 1);
	ck_assert_uint_eq(r->for_.table.service, K_REGEX);

	r = rule_at(cfg, 47);
	ck_assert_int_eq(r->for_.negate, 1);
	ck_assert_int_eq(r->for_.kind, FOR_DOMAIN);
	ck_assert_int_eq(r->tag.set, 1);
	ck_assert_uint_eq(r->tag.table.service, K_STRING);
	ck_assert_int_eq(r->helo.set, 1);
	ck_assert_uint_eq(r->helo.table.service, K_DOMAIN);

	r = rule_at(cfg, 48);
	ck_assert_int_eq(r->from.set, 0);
	ck_assert_int_eq(r->mail_from.set, 1);
	ck_assert_int_eq(r->mail_from.negate, 0);
	ck_assert_uint_eq(r->mail_from.table.service, K_MAILADDR);
	ck_assert_int_eq(r->rcpt_to.negate, 1);
	ck_assert_ptr_eq(r->rcpt_to.table.table, table_named(cfg,
	    "spamtraps"));

	r = rule_at(cfg, 49);
	ck_assert_int_eq(r->from.kind, FROM_RDNS);
	ck_assert_int_eq(r->from.table.regex, 1);
	ck_assert_int_eq(r->tls.set, 1);
	ck_assert_int_eq(r->tls.negate, 1);

	r = rule_at(cfg, 50);
	ck_assert_int_eq(r->auth.set, 1);
	ck_assert_ptr_null(r->auth.table.table);
	ck_assert_int_eq(r->from.kind, FROM_AUTH);
	ck_assert_ptr_null(r->from.table.table);
	ck_assert_ptr_eq(r->action, config_action_find(cfg, "deliver"));

	r = rule_at(cfg, 51);
	ck_assert_int_eq(r->from.kind, FROM_MAIL_FROM);
	ck_assert_str_eq(r->from.table.table->config,
	    "# @list\nalice@example.org\n");
	config_free(cfg);
}
END_TEST

START_TEST(test_macros)
{
	static const char *const defines[] = { "name=from_cmdline", NULL };
	struct smtpd_config	*cfg;
	struct config_listener	*l;
	char			*errors;

	cfg = parse(FIXTURES "valid-macros.conf", defines, &errors);
	ck_assert_msg(cfg != NULL, "%s", errors);
	/* A value of several words reads as several words. */
	l = TAILQ_FIRST(&cfg->listeners);
	ck_assert_str_eq(l->on, "127.0.0.1");
	ck_assert_int_eq(l->port, 2525);
	ck_assert_str_eq(l->tag, "MACRO");
	/* -D wins over the file's own definition. */
	ck_assert_ptr_nonnull(config_action_find(cfg, "from_cmdline"));
	ck_assert_ptr_null(config_action_find(cfg, "from_file"));
	ck_assert_ptr_eq(TAILQ_LAST(&cfg->rules, rule_list)->action,
	    config_action_find(cfg, "from_cmdline"));
	/* Never inside quotes. */
	ck_assert_str_eq(config_action_find(cfg, "quoted")->mda,
	    "$addr stays as written");
	ck_assert_str_eq(config_action_find(cfg, "joined")->maildir,
	    "/var/mail/%{rcpt.user}/Maildir");
	ck_assert_str_eq(config_action_find(cfg, "nested")->maildir,
	    "/var/mail/sub");
	config_free(cfg);
	free(errors);

	/* Without -D, the file's definition. */
	ck_assert_ptr_nonnull(cfg = parse(FIXTURES "valid-macros.conf", NULL,
	    NULL));
	ck_assert_ptr_nonnull(config_action_find(cfg, "from_file"));
	config_free(cfg);
}
END_TEST

START_TEST(test_macro_list)
{
	struct macro_list	 m;

	macro_list_init(&m);
	ck_assert_int_eq(macro_list_define(&m, "novalue"), -1);
	ck_assert_int_eq(macro_list_define(&m, "bad-name=1"), -1);
	ck_assert_int_eq(macro_list_define(&m, "=1"), -1);
	ck_assert_int_eq(macro_list_define(&m, "a=b=c"), 0);
	ck_assert_str_eq(macro_list_get(&m, "a"), "b=c");
	ck_assert_int_eq(macro_list_define(&m, "a="), 0);
	ck_assert_str_eq(macro_list_get(&m, "a"), "");
	macro_list_clear(&m);
	ck_assert_ptr_null(macro_list_get(&m, "a"));
}
END_TEST

START_TEST(test_roundtrip)
{
	static const char *const run[] = { "run_dir=/tmp/x-y",
	    "spool_dir=/tmp/x-y/spool", "delivery_user=bob", NULL };

	assert_roundtrip(FIXTURES "valid-rich.conf", NULL);
	assert_roundtrip(FIXTURES "valid-macros.conf", NULL);
	assert_roundtrip("examples/smtpd.conf", NULL);
	assert_roundtrip("examples/smtpd.conf", run);
}
END_TEST

START_TEST(test_example)
{
	static const char *const run[] = { "run_dir=/work/run",
	    "spool_dir=/work/spool", "delivery_user=alice", NULL };
	struct smtpd_config	*cfg;
	struct config_listener	*l;
	struct config_action	*a;
	struct table_entry	*e;
	char			*errors;

	cfg = parse("examples/smtpd.conf", run, &errors);
	ck_assert_msg(cfg != NULL, "%s", errors);
	ck_assert_str_eq(cfg->spool, "/work/spool");
	l = TAILQ_FIRST(&cfg->listeners);
	ck_assert_str_eq(l->on, "127.0.0.1");
	ck_assert_int_eq(l->port, 2525);
	a = config_action_find(cfg, "local_mail");
	ck_assert_str_eq(a->maildir,
	    "/work/run/maildir/%{rcpt.user:lowercase}");
	/* the catch-all maps every recipient to the -D user */
	ck_assert_ptr_nonnull(a->virtual.table);
	e = TAILQ_FIRST(&a->virtual.table->entries);
	ck_assert_str_eq(e->key, "@");
	ck_assert_str_eq(e->value, "alice");
	config_free(cfg);
	free(errors);
}
END_TEST

/* Each invalid fixture and every line it must print, in order. */
static const struct {
	const char	*file;
	const char	*errors;
} invalid[] = {
	{ "err-syntax.conf",
	  FIXTURES "err-syntax.conf:2: syntax error at end of line\n"
	  FIXTURES "err-syntax.conf:3: syntax error near \"local\" (a reserved "
	      "word: quote it to use it as a value)\n"
	  FIXTURES "err-syntax.conf:4: syntax error near \"maildr\"\n"
	  FIXTURES "err-syntax.conf:5: syntax error near \"prot\"\n"
	  FIXTURES "err-syntax.conf:7: syntax error near \"statement\"\n"
	  /* The unclosed brace of line 8 shows on the next line. */
	  FIXTURES "err-syntax.conf:9: syntax error near \"match\" (a reserved "
	      "word: quote it to use it as a value)\n"
	  FIXTURES "err-syntax.conf:10: syntax error at end of line\n" },
	{ "err-lexer.conf",
	  FIXTURES "err-lexer.conf:2: unterminated quoted string\n"
	  FIXTURES "err-lexer.conf:3: macro \"nosuch\" is not defined\n"
	  FIXTURES "err-lexer.conf:4: unterminated %{ in "
	      "\"/var/%{rcpt.user\"\n"
	  FIXTURES "err-lexer.conf:5: invalid macro name \"x-y\"\n" },
	{ "err-global.conf",
	  FIXTURES "err-global.conf:1: spool \"relative/dir\" must be an "
	      "absolute path\n"
	  FIXTURES "err-global.conf:2: invalid duration \"5x\" (a number "
	      "with s, m, h or d)\n"
	  FIXTURES "err-global.conf:3: duration \"0\" must not be zero\n"
	  FIXTURES "err-global.conf:4: at most 4 warn-interval delays\n"
	  FIXTURES "err-global.conf:5: warn-interval delays must increase\n"
	  FIXTURES "err-global.conf:6: invalid size \"10Q\" (a number with "
	      "K, M or G)\n"
	  FIXTURES "err-global.conf:7: unknown smtp limit \"max-foo\" "
	      "(max-mails or max-rcpt)\n"
	  FIXTURES "err-global.conf:8: invalid number \"zero\"\n"
	  FIXTURES "err-global.conf:8: number \"99999999999\" out of range "
	      "(1 to 2147483647)\n"
	  FIXTURES "err-global.conf:9: sub-addr-delim must be one printable "
	      "character other than @ and space\n"
	  FIXTURES "err-global.conf:10: sub-addr-delim must be one printable "
	      "character other than @ and space\n"
	  FIXTURES "err-global.conf:11: unknown smtp timeout \"idle\" "
	      "(command or data)\n"
	  FIXTURES "err-global.conf:12: wrapper \"w\" has an empty command\n"
	  FIXTURES "err-global.conf:14: wrapper \"w2\" already defined at "
	      FIXTURES "err-global.conf:13\n" },
	{ "err-table.conf",
	  FIXTURES "err-table.conf:2: table <t1> already defined at "
	      FIXTURES "err-table.conf:1\n"
	  FIXTURES "err-table.conf:3: invalid table name \"bad name\" "
	      "(letters, digits, '_', '.' and '-')\n"
	  FIXTURES "err-table.conf:4: table path \"relative/path\" must be "
	      "absolute\n"
	  FIXTURES "err-table.conf:5: invalid table backend in \"Bad:/x\"\n"
	  FIXTURES "err-table.conf:6: inline table mixes list entries and "
	      "key = value entries\n"
	  FIXTURES "err-table.conf:7: duplicate entry \"A\" in inline table\n"
	  FIXTURES "err-table.conf:8: inline table entry \"a #b\" has a '#' "
	      "after a blank\n"
	  FIXTURES "err-table.conf:9: inline table entry \"a:b\" has a key "
	      "with a blank or ':'\n"
	  FIXTURES "err-table.conf:10: inline table is empty\n"
	  FIXTURES "err-table.conf:12: table <nosuch> is not defined\n"
	  FIXTURES "err-table.conf:13: alias needs a key-value table, but "
	      "<t1> is a list\n"
	  FIXTURES "err-table.conf:14: userbase: invalid user information "
	      "\"x:y\" for \"joe\" (uid:gid:/home/directory)\n"
	  FIXTURES "err-table.conf:15: from src: invalid address or network "
	      "\"10.0.0.300\"\n"
	  FIXTURES "err-table.conf:16: for domain regex: invalid regex "
	      "\"a(\": Unmatched ( or \\(\n"
	  FIXTURES "err-table.conf:17: from src regex needs a list, but the "
	      "inline table is a key-value table\n" },
	{ "err-action.conf",
	  FIXTURES "err-action.conf:2: action \"a1\" already defined at "
	      FIXTURES "err-action.conf:1\n"
	  FIXTURES "err-action.conf:3: alias and virtual cannot be used "
	      "together\n"
	  FIXTURES "err-action.conf:4: user is not valid with mbox\n"
	  FIXTURES "err-action.conf:5: maildir path \"relative/dir\" must be "
	      "absolute, or start with ~/ or %{\n"
	  FIXTURES "err-action.conf:6: invalid lmtp destination \"localhost\" "
	      "(host:port or /socket)\n"
	  FIXTURES "err-action.conf:8: option \"ttl\" given twice\n"
	  FIXTURES "err-action.conf:9: option \"host\" is only valid with "
	      "relay\n"
	  FIXTURES "err-action.conf:10: wrapper is not valid with "
	      "forward-only\n"
	  FIXTURES "err-action.conf:11: user is not valid with expand-only\n"
	  FIXTURES "err-action.conf:12: mda command is empty\n"
	  FIXTURES "err-action.conf:15: criterion \"from\" given twice\n"
	  FIXTURES "err-action.conf:16: criterion \"tls\" given twice\n"
	  /* References are checked once the whole file is read. */
	  FIXTURES "err-action.conf:7: wrapper \"nowrap\" is not defined\n"
	  FIXTURES "err-action.conf:14: action \"nosuch\" is not defined\n" },
	{ "err-listen.conf",
	  FIXTURES "err-listen.conf:2: listener on 127.0.0.1 port 25 already "
	      "defined at " FIXTURES "err-listen.conf:1\n"
	  FIXTURES "err-listen.conf:3: option \"port\" is not valid on the "
	      "socket listener\n"
	  FIXTURES "err-listen.conf:4: option \"hostname\" is not valid on the "
	      "socket listener\n"
	  FIXTURES "err-listen.conf:4: listener on socket already defined at "
	      FIXTURES "err-listen.conf:3\n"
	  FIXTURES "err-listen.conf:5: address \"::1\" is not inet4\n"
	  FIXTURES "err-listen.conf:6: number \"99999\" out of range "
	      "(1 to 65535)\n"
	  FIXTURES "err-listen.conf:7: option \"port\" given twice\n"
	  FIXTURES "err-listen.conf:8: unknown port \"nosuchservice\"\n"
	  FIXTURES "err-listen.conf:9: hostnames is not supported yet\n"
	  FIXTURES "err-listen.conf:10: listener on socket already defined at "
	      FIXTURES "err-listen.conf:3\n"
	  FIXTURES "err-listen.conf:11: listener on socket already defined at "
	      FIXTURES "err-listen.conf:3\n"
	  FIXTURES "err-listen.conf:1: filter \"nofilter\" is not defined\n"
	  FIXTURES "err-listen.conf:9: hostnames needs a key-value table, but "
	      "the inline table is a list\n" },
	{ "err-filter.conf",
	  FIXTURES "err-filter.conf:2: filter \"f1\" already defined at "
	      FIXTURES "err-filter.conf:1\n"
	  FIXTURES "err-filter.conf:5: invalid filter command: unbalanced "
	      "single quote\n"
	  FIXTURES "err-filter.conf:6: invalid filter command: empty "
	      "command\n"
	  FIXTURES "err-filter.conf:7: duration \"0\" must not be zero\n"
	  FIXTURES "err-filter.conf:8: invalid filter name \"chain:1\" "
	      "(letters, digits, '_', '.' and '-')\n"
	  FIXTURES "err-filter.conf:3: filter \"nosuch\" is not defined\n"
	  FIXTURES "err-filter.conf:3: filter \"f1\" appears twice in chain "
	      "\"c1\"\n"
	  FIXTURES "err-filter.conf:4: chain \"c2\" cannot contain chain "
	      "\"c1\"\n"
	  FIXTURES "err-filter.conf:9: the filter list cannot contain chain "
	      "\"c2\"\n" },
	{ "err-unsupported.conf",
	  FIXTURES "err-unsupported.conf:2: queue compression is not "
	      "supported yet\n"
	  FIXTURES "err-unsupported.conf:3: queue encryption is not "
	      "supported yet\n"
	  FIXTURES "err-unsupported.conf:4: queue encryption is not "
	      "supported yet\n"
	  FIXTURES "err-unsupported.conf:5: pki is not supported yet\n"
	  FIXTURES "err-unsupported.conf:6: pki is not supported yet\n"
	  FIXTURES "err-unsupported.conf:7: ca is not supported yet\n"
	  FIXTURES "err-unsupported.conf:8: tls is not supported yet\n"
	  FIXTURES "err-unsupported.conf:8: pki is not supported yet\n"
	  FIXTURES "err-unsupported.conf:9: smtps is not supported yet\n"
	  FIXTURES "err-unsupported.conf:10: tls-require is not supported "
	      "yet\n"
	  FIXTURES "err-unsupported.conf:10: auth is not supported yet\n"
	  FIXTURES "err-unsupported.conf:11: auth-optional is not supported "
	      "yet\n"
	  FIXTURES "err-unsupported.conf:11: ca is not supported yet\n"
	  FIXTURES "err-unsupported.conf:12: received-auth is not supported "
	      "yet\n"
	  FIXTURES "err-unsupported.conf:12: proxy-v2 is not supported yet\n"
	  FIXTURES "err-unsupported.conf:13: relay is not supported yet\n"
	  FIXTURES "err-unsupported.conf:15: relay is not supported yet\n"
	  FIXTURES "err-unsupported.conf:17: relay is not supported yet\n"
	  FIXTURES "err-unsupported.conf:19: option \"alias\" is not valid "
	      "with relay\n"
	  FIXTURES "err-unsupported.conf:19: relay is not supported yet\n"
	  /* senders checks the authenticated user: AUTH comes later */
	  FIXTURES "err-unsupported.conf:20: senders is not supported yet "
	      "(needs auth)\n"
	  FIXTURES "err-unsupported.conf:21: senders is not supported yet "
	      "(needs auth)\n"
	  FIXTURES "err-unsupported.conf:22: hostnames is not supported "
	      "yet\n" },
	{ "err-include.conf",
	  FIXTURES "err-include-inner.conf:3: syntax error near \"bogus\"\n"
	  FIXTURES "err-include.conf:3: cannot open \"" FIXTURES
	      "nosuch.conf\": No such file or directory\n"
	  FIXTURES "err-include.conf:4: \"" FIXTURES "err-include.conf\" "
	      "includes itself\n"
	  FIXTURES "err-include.conf:5: maildir path \"relative\" must be "
	      "absolute, or start with ~/ or %{\n" },
};

START_TEST(test_invalid)
{
	struct smtpd_config	*cfg;
	char			 path[256], *errors;

	snprintf(path, sizeof(path), FIXTURES "%s", invalid[_i].file);
	cfg = parse(path, NULL, &errors);
	ck_assert_ptr_null(cfg);
	ck_assert_str_eq(errors, invalid[_i].errors);
	free(errors);
}
END_TEST

START_TEST(test_too_many_errors)
{
	struct smtpd_config	*cfg;
	FILE			*fp;
	char			*text = NULL, *tmp, *errors, *line, *next;
	size_t			 len;
	int			 i, n = 0;

	ck_assert_ptr_nonnull(fp = open_memstream(&text, &len));
	for (i = 0; i < 40; i++)
		fprintf(fp, "bogus line %d\n", i);
	ck_assert_int_eq(fclose(fp), 0);
	tmp = write_temp(text);
	ck_assert_ptr_null(cfg = parse(tmp, NULL, &errors));
	for (line = errors; (next = strchr(line, '\n')) != NULL;
	    line = next + 1)
		n++;
	ck_assert_int_eq(n, CONFIG_MAX_ERRORS + 1);
	/* The last line says why the others are not there. */
	ck_assert_ptr_nonnull(strstr(errors, ":26: too many errors, giving "
	    "up\n"));
	unlink(tmp);
	free(tmp);
	free(text);
	free(errors);
}
END_TEST

START_TEST(test_edges)
{
	struct smtpd_config	*cfg;
	char			*tmp, *errors;

	/* No listener, no rule: defaults only. */
	tmp = write_temp("# nothing but a comment\n\n");
	ck_assert_ptr_nonnull(cfg = parse(tmp, NULL, NULL));
	ck_assert(TAILQ_EMPTY(&cfg->listeners));
	ck_assert_str_eq(cfg->spool, CONFIG_SPOOL_DEFAULT);
	ck_assert_int_eq(cfg->queue_ttl, CONFIG_QUEUE_TTL_DEFAULT);
	ck_assert_uint_eq(cfg->max_message_size,
	    CONFIG_MAX_MESSAGE_SIZE_DEFAULT);
	config_free(cfg);
	unlink(tmp);
	free(tmp);

	/* The last line may lack its newline. */
	tmp = write_temp("listen on 127.0.0.1 port 2525 # and a comment");
	ck_assert_ptr_nonnull(cfg = parse(tmp, NULL, NULL));
	ck_assert_int_eq(TAILQ_FIRST(&cfg->listeners)->port, 2525);
	config_free(cfg);
	unlink(tmp);
	free(tmp);

	/* Escapes in quotes; a backslash pair may end a string. */
	tmp = write_temp("action a mda \"say \\\"hi\\\" \\\\\"\n"
	    "action b mda 'single \"quoted\"'\n");
	cfg = parse(tmp, NULL, &errors);
	ck_assert_msg(cfg != NULL, "%s", errors);
	ck_assert_str_eq(config_action_find(cfg, "a")->mda,
	    "say \"hi\" \\\\");
	ck_assert_str_eq(config_action_find(cfg, "b")->mda,
	    "single \"quoted\"");
	config_free(cfg);
	unlink(tmp);
	free(tmp);
	free(errors);

	/* A file that is not there. */
	ck_assert_ptr_null(parse(FIXTURES "nosuch.conf", NULL, &errors));
	ck_assert_str_eq(errors, FIXTURES "nosuch.conf: No such file or "
	    "directory\n");
	free(errors);
}
END_TEST

START_TEST(test_text_forms)
{
	char	 buf[32];

	ck_assert_str_eq(config_duration_text(300, buf, sizeof(buf)), "5m");
	ck_assert_str_eq(config_duration_text(90, buf, sizeof(buf)), "90s");
	ck_assert_str_eq(config_duration_text(7200, buf, sizeof(buf)), "2h");
	ck_assert_str_eq(config_duration_text(4 * 86400, buf, sizeof(buf)),
	    "4d");
	ck_assert_str_eq(config_size_text(35 * 1024 * 1024, buf, sizeof(buf)),
	    "35M");
	ck_assert_str_eq(config_size_text(1536, buf, sizeof(buf)), "1536");
	ck_assert_str_eq(config_size_text(2048, buf, sizeof(buf)), "2K");
	ck_assert_int_eq(config_is_keyword("match"), 1);
	ck_assert_int_eq(config_is_keyword("wrapper"), 1);
	ck_assert_int_eq(config_is_keyword("action"), 1);
	ck_assert_int_eq(config_is_keyword("localhost"), 0);
}
END_TEST

static Suite *
parse_suite(void)
{
	Suite	*s = suite_create("parse");
	TCase	*tc = tcase_create("parse");

	tcase_add_test(tc, test_rich_globals);
	tcase_add_test(tc, test_rich_tables);
	tcase_add_test(tc, test_rich_filters_listeners);
	tcase_add_test(tc, test_rich_actions);
	tcase_add_test(tc, test_rich_rules);
	tcase_add_test(tc, test_macros);
	tcase_add_test(tc, test_macro_list);
	tcase_add_test(tc, test_roundtrip);
	tcase_add_test(tc, test_example);
	tcase_add_loop_test(tc, test_invalid, 0,
	    sizeof(invalid) / sizeof(invalid[0]));
	tcase_add_test(tc, test_too_many_errors);
	tcase_add_test(tc, test_edges);
	tcase_add_test(tc, test_text_forms);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(parse_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
