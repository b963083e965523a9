/*
 * test_expand.c: from a recipient to its final envelopes (expand.c),
 * with a real smtpd.conf, real table-static and table-getpwnam helpers
 * and real ~/.forward files in scratch home directories.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <check.h>
#include <event.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "smtpd-api.h"
#include "config.h"
#include "envelope.h"
#include "expand.h"
#include "lookup.h"
#include "ruleset.h"

#define MAX_ENVS	32

static struct event_base	*base;
static struct event		*tick;
static struct smtpd_config	*conf;
static struct lookup_tables	*tables;
static struct lookup_env	 env;
static char			 dir[64];
/* The users' ids: ours, or, when root, some other user's. */
static uid_t			 test_uid;
static gid_t			 test_gid;

struct outcome {
	int			 done;
	struct expand_result	 res;
	struct envelope		 env[MAX_ENVS];
	size_t			 n;
};

static void	mkdir_home(const char *);

static char *
resolve(const char *name, char *buf, size_t bufsz)
{
	snprintf(buf, bufsz, "tables/%s/%s", name, name);
	return buf;
}

static void
on_tick(int fd, short ev, void *arg)
{
}

static void
setup(void)
{
	struct timeval	 tv = { 0, 200000 };

	log_init(1, "test_expand");
	if (getenv("TEST_TRACE") != NULL) {
		log_setverbose(1);
		log_settrace(TRACE_ALL);
	}
	test_uid = getuid() == 0 ? 12345 : getuid();
	test_gid = getuid() == 0 ? 12345 : getgid();
	strlcpy(dir, "/tmp/test_expand.XXXXXX", sizeof(dir));
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(chmod(dir, 0755), 0);
	ck_assert_ptr_nonnull(base = event_base_new());
	ck_assert_ptr_nonnull(tick = event_new(base, -1, EV_PERSIST, on_tick,
	    NULL));
	event_add(tick, &tv);
	memset(&env, 0, sizeof(env));
	env.base = base;
	strlcpy(env.unpriv_user, "_smtpd", sizeof(env.unpriv_user));
	env.unpriv_uid = 4242;
	env.unpriv_gid = 4343;
	strlcpy(env.unpriv_home, "/var/empty", sizeof(env.unpriv_home));
	conf = NULL;
	tables = NULL;
}

static void
teardown(void)
{
	char	 cmd[128];

	ruleset_local_free(&env);
	lookup_tables_free(tables);
	/* Until the helpers are reaped: nothing else is left. */
	event_free(tick);
	event_base_dispatch(base);
	if (conf != NULL)
		config_free(conf);
	event_base_free(base);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* Write DIR/name, with every "DIR" in the text replaced by dir. */
static void
put_file(const char *name, mode_t mode, const char *fmt, ...)
{
	char		 path[256], text[8192], *p;
	const char	*s;
	va_list		 ap;
	FILE		*fp;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((p = strrchr(path, '/')) != NULL && p != path) {
		*p = '\0';
		mkdir(path, 0755);
		*p = '/';
	}
	ck_assert_ptr_nonnull(fp = fopen(path, "w"));
	for (s = text; *s != '\0'; s++) {
		if (strncmp(s, "DIR", 3) == 0) {
			fputs(dir, fp);
			s += 2;
		} else
			fputc(*s, fp);
	}
	ck_assert_int_eq(fclose(fp), 0);
	ck_assert_int_eq(chmod(path, mode), 0);
	/* As root, files belong to the test user, as a user's would. */
	if (getuid() == 0) {
		ck_assert_int_eq(chown(path, test_uid, test_gid), 0);
		if ((p = strrchr(path, '/')) != NULL) {
			*p = '\0';
			if (strcmp(path, dir) != 0)
				ck_assert_int_eq(chown(path, test_uid,
				    test_gid), 0);
		}
	}
}

/* The users of the tests, all with this process's ids. */
static void
put_users(void)
{
	unsigned long	 u = test_uid, g = test_gid;

	put_file("users", 0644,
	    "gilles %lu:%lu:DIR/gilles\n"
	    "eric %lu:%lu:DIR/eric\n"
	    "joe %lu:%lu:DIR/joe\n"
	    "catchall %lu:%lu:DIR/catchall\n",
	    u, g, u, g, u, g, u, g);
	mkdir_home("gilles");
}

static void
load(const char *fmt)
{
	put_file("smtpd.conf", 0644, "%s", fmt);
	{
		char	 path[128];

		snprintf(path, sizeof(path), "%s/smtpd.conf", dir);
		ck_assert_ptr_nonnull(conf = config_parse(path, NULL,
		    stderr));
	}
	ck_assert_ptr_nonnull(tables = lookup_tables_start(base, conf,
	    resolve));
	lookup_tables_ops(tables, &env.tables);
	env.conf = conf;
	env.userbase = lookup_tables_getpwnam(tables);
	ck_assert_int_eq(ruleset_local_add(&env, "localhost"), 0);
	ck_assert_int_eq(ruleset_local_add(&env, "mx.test.example"), 0);
}

static void
on_done(struct expansion *x, const struct expand_result *res, void *arg)
{
	struct outcome	*o = arg;
	size_t		 i;

	ck_assert_int_eq(o->done, 0);
	o->done = 1;
	o->res = *res;
	if (res->result == 1) {
		ck_assert_uint_le(res->nenvelopes, MAX_ENVS);
		for (i = 0; i < res->nenvelopes; i++)
			expand_envelope(x, i, &o->env[i]);
		o->n = res->nenvelopes;
	}
	expand_free(x);
}

static struct outcome *
expand(const char *rcpt, int local)
{
	static struct outcome	 o;
	struct envelope		 tmpl;
	struct sockaddr_in	*sin;
	time_t			 deadline = time(NULL) + 60;

	memset(&o, 0, sizeof(o));
	memset(&tmpl, 0, sizeof(tmpl));
	tmpl.version = ENVELOPE_VERSION;
	tmpl.type = D_MDA;
	tmpl.ttl = 345600;
	strlcpy(tmpl.hostname, local ? "localhost" : "mx.remote.example",
	    sizeof(tmpl.hostname));
	sin = (struct sockaddr_in *)&tmpl.ss;
	sin->sin_family = AF_INET;
	ck_assert_int_eq(inet_pton(AF_INET, local ? "127.0.0.1" :
	    "192.0.2.1", &sin->sin_addr), 1);
	ck_assert_int_eq(mailaddr_from_text(&tmpl.sender,
	    "sender@remote.example"), 0);
	ck_assert_int_eq(mailaddr_from_text(&tmpl.rcpt, rcpt), 0);
	tmpl.dest = tmpl.rcpt;
	ck_assert_ptr_nonnull(expand_start(&env, 0x1234, &tmpl, "", local,
	    on_done, &o));
	ck_assert_int_eq(o.done, 0);
	while (!o.done) {
		ck_assert_msg(time(NULL) < deadline, "no answer in 60s");
		event_base_loop(base, EVLOOP_ONCE);
	}
	return &o;
}

/* The envelope going to (method, buffer or user), or NULL. */
static const struct envelope *
find(const struct outcome *o, enum mda_method method, const char *what)
{
	size_t	 i;

	for (i = 0; i < o->n; i++) {
		if (o->env[i].mda_method != method)
			continue;
		if (method == M_NONE && strcmp(o->env[i].mda_user, what) == 0)
			return &o->env[i];
		if (method != M_NONE && strcmp(o->env[i].mda_buffer,
		    what) == 0)
			return &o->env[i];
	}
	return NULL;
}

static void
expect_ok(const struct outcome *o, size_t n)
{
	ck_assert_msg(o->res.result == 1, "got %d %s %s", o->res.code,
	    o->res.esc, o->res.text);
	ck_assert_int_eq(o->res.code, 250);
	ck_assert_uint_eq(o->n, n);
}

static void
expect_fail(const struct outcome *o, int code, const char *esc,
    const char *text)
{
	ck_assert_int_eq(o->res.result, code / 100 == 4 ? -1 : 0);
	ck_assert_int_eq(o->res.code, code);
	ck_assert_str_eq(o->res.esc, esc);
	ck_assert_str_eq(o->res.text, text);
}

static void
mkdir_home(const char *user)
{
	char	 path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, user);
	mkdir(path, 0755);
}

START_TEST(test_aliases)
{
	const struct outcome	*o;
	const struct envelope	*e;
	char			 home[256];

	put_users();
	put_file("aliases", 0644,
	    "root: gilles, /var/log/root-mail\n"
	    "postmaster: root\n"
	    "gilles: gilles, \"|/usr/bin/true\"\n"
	    "loop1: loop2\n"
	    "loop2: loop1\n"
	    "list: :include:DIR/list\n"
	    "bad: error:550 5.1.1 No such list\n"
	    "later: error:451 4.2.0 Try later\n"
	    "remote: someone@remote.example\n"
	    "broken: \"unbalanced\n"
	    "nohome: nosuchuser\n"
	    "joe: joe, \\joe, joe\n"
	    "aloop: bloop@localhost\n"
	    "bloop: aloop@localhost\n"
	    "halfloop: aloop, eric\n");
	put_file("list", 0644, "# the staff\neric\n\nroot, eric\n");
	load("table aliases \"DIR/aliases\"\n"
	    "table users \"DIR/users\"\n"
	    "action \"local\" mbox alias <aliases> userbase <users> ttl 2h\n"
	    "match for local action \"local\"\n");

	o = expand("Postmaster@localhost", 1);
	expect_ok(o, 3);
	snprintf(home, sizeof(home), "%s/gilles", dir);
	ck_assert_ptr_nonnull(e = find(o, M_NONE, "gilles"));
	ck_assert_int_eq(e->type, D_MDA);
	ck_assert_str_eq(e->dispatcher, "local");
	ck_assert_str_eq(e->dest.user, "Postmaster");
	ck_assert_str_eq(e->dest.domain, "localhost");
	ck_assert_str_eq(e->rcpt.user, "Postmaster");
	ck_assert_int_eq(e->mda_uid, test_uid);
	ck_assert_int_eq(e->mda_gid, test_gid);
	ck_assert_str_eq(e->mda_home, home);
	ck_assert_int_eq(e->ttl, 7200);
	/* an alias's files and commands run as the unprivileged user */
	ck_assert_ptr_nonnull(e = find(o, M_MDA, "/usr/bin/true"));
	ck_assert_str_eq(e->mda_user, "_smtpd");
	ck_assert_int_eq(e->mda_uid, 4242);
	ck_assert_int_eq(e->mda_gid, 4343);
	ck_assert_ptr_nonnull(e = find(o, M_FILE, "/var/log/root-mail"));
	ck_assert_str_eq(e->mda_user, "_smtpd");

	/* user+tag: the alias of user (no "gilles+x" entry) */
	o = expand("gilles+x@localhost", 1);
	expect_ok(o, 2);
	ck_assert_ptr_nonnull(e = find(o, M_NONE, "gilles"));
	ck_assert_str_eq(e->dest.user, "gilles+x");

	/* a loop ends, and says so when it leaves nothing to deliver */
	o = expand("loop1@localhost", 1);
	expect_fail(o, 550, "5.4.6", "Alias loop");
	o = expand("aloop@localhost", 1);
	expect_fail(o, 550, "5.4.6", "Alias loop");
	/* a loop beside a real target is harmless */
	o = expand("halfloop@localhost", 1);
	expect_ok(o, 1);
	ck_assert_ptr_nonnull(find(o, M_NONE, "eric"));
	/* a user naming itself twice gets one copy */
	o = expand("joe@localhost", 1);
	expect_ok(o, 1);
	ck_assert_ptr_nonnull(find(o, M_NONE, "joe"));

	/* :include: gives eric (once) and root's targets */
	o = expand("list@localhost", 1);
	expect_ok(o, 4);
	ck_assert_ptr_nonnull(find(o, M_NONE, "eric"));
	ck_assert_ptr_nonnull(find(o, M_NONE, "gilles"));

	o = expand("bad@localhost", 1);
	expect_fail(o, 550, "5.1.1", "No such list");
	o = expand("later@localhost", 1);
	expect_fail(o, 451, "4.2.0", "Try later");
	/* no alias, not in the userbase */
	o = expand("nobody-here@localhost", 1);
	expect_fail(o, 550, "5.1.1", "Invalid recipient");
	o = expand("nohome@localhost", 1);
	expect_fail(o, 550, "5.1.1", "Invalid recipient");
	/* an alias to a domain nobody delivers */
	o = expand("remote@localhost", 1);
	expect_fail(o, 550, "5.7.1", "Relaying denied");
	/* an admin's typo keeps the mail: temporary */
	o = expand("broken@localhost", 1);
	expect_fail(o, 451, "4.3.0", "Temporary failure");
	/* relaying is not for remote clients */
	o = expand("gilles@remote.example", 0);
	expect_fail(o, 550, "5.7.1", "Relaying denied");
	o = expand("gilles@localhost", 0);
	expect_fail(o, 550, "5.1.1", "Invalid recipient");
}
END_TEST

START_TEST(test_virtual)
{
	const struct outcome	*o;
	const struct envelope	*e;

	put_users();
	put_file("virtuals", 0644,
	    "joe@example.org joe\n"
	    "ann+lists@example.org eric\n"
	    "ann@example.org gilles\n"
	    "staff joe, eric\n"
	    "@example.org catchall\n"
	    "@ eric\n"
	    "fwd@example.org gilles@example.net\n");
	load("table vdoms { example.org, example.net }\n"
	    "table virtuals \"DIR/virtuals\"\n"
	    "table users \"DIR/users\"\n"
	    "action \"vmail\" maildir \"DIR/mail/%{dest.user}\" "
	    "virtual <virtuals> userbase <users>\n"
	    "match from any for domain <vdoms> action \"vmail\"\n");

	o = expand("joe@example.org", 0);
	expect_ok(o, 1);
	ck_assert_ptr_nonnull(e = find(o, M_NONE, "joe"));
	ck_assert_str_eq(e->dispatcher, "vmail");
	ck_assert_str_eq(e->dest.user, "joe");
	ck_assert_str_eq(e->dest.domain, "example.org");

	/* user+tag@dom first, then user@dom */
	o = expand("ann+lists@example.org", 0);
	expect_ok(o, 1);
	ck_assert_ptr_nonnull(find(o, M_NONE, "eric"));
	o = expand("ann+other@example.org", 0);
	expect_ok(o, 1);
	ck_assert_ptr_nonnull(find(o, M_NONE, "gilles"));
	o = expand("Joe+news@Example.ORG", 0);
	expect_ok(o, 1);
	ck_assert_ptr_nonnull(e = find(o, M_NONE, "joe"));
	ck_assert_str_eq(e->dest.user, "Joe+news");

	/* a user alone, any virtual domain */
	o = expand("staff@example.net", 0);
	expect_ok(o, 2);
	ck_assert_ptr_nonnull(find(o, M_NONE, "joe"));
	ck_assert_ptr_nonnull(find(o, M_NONE, "eric"));

	/* @domain, then the global @ */
	o = expand("whoever@example.org", 0);
	expect_ok(o, 1);
	ck_assert_ptr_nonnull(find(o, M_NONE, "catchall"));
	o = expand("whoever@example.net", 0);
	expect_ok(o, 1);
	ck_assert_ptr_nonnull(find(o, M_NONE, "eric"));

	/* an address target is matched again: the global @ for it */
	o = expand("fwd@example.org", 0);
	expect_ok(o, 1);
	ck_assert_ptr_nonnull(e = find(o, M_NONE, "eric"));
	ck_assert_str_eq(e->dest.user, "gilles");
	ck_assert_str_eq(e->dest.domain, "example.net");

	/* not a virtual domain */
	o = expand("joe@example.com", 0);
	expect_fail(o, 550, "5.7.1", "Relaying denied");
}
END_TEST

/*
 * The usual virtual hosting: every address maps to one system user,
 * and the maildir path tells the mailboxes apart by %{dest.user}.  The
 * same user reached through two addresses is two deliveries.
 */
START_TEST(test_virtual_shared_user)
{
	const struct outcome	*o;
	int			 a, b;
	size_t			 i;

	put_users();
	put_file("virtuals", 0644,
	    "info@example.org ann@example.org, bob@example.org\n"
	    "ann@example.org joe\n"
	    "bob@example.org joe\n"
	    "both@example.org ann@example.org, bob@example.org, "
	    "ann@example.org\n");
	load("table virtuals \"DIR/virtuals\"\n"
	    "table users \"DIR/users\"\n"
	    "action \"vmail\" maildir \"DIR/mail/%{dest.user}\" "
	    "virtual <virtuals> userbase <users>\n"
	    "match from any for domain { example.org } action \"vmail\"\n");

	o = expand("info@example.org", 0);
	expect_ok(o, 2);
	for (a = b = 0, i = 0; i < o->n; i++) {
		ck_assert_str_eq(o->env[i].mda_user, "joe");
		a += strcmp(o->env[i].dest.user, "ann") == 0;
		b += strcmp(o->env[i].dest.user, "bob") == 0;
	}
	ck_assert_int_eq(a, 1);
	ck_assert_int_eq(b, 1);
	/* one address listed twice is still one delivery */
	o = expand("both@example.org", 0);
	expect_ok(o, 2);
}
END_TEST

static void
on_count(struct expansion *x, const struct expand_result *res, void *arg)
{
	struct outcome	*o = arg;
	struct envelope	 e;
	size_t		 i;

	o->done = 1;
	o->res = *res;
	o->n = res->result == 1 ? res->nenvelopes : 0;
	/* every envelope goes to its own address */
	for (i = 0; i < o->n; i++) {
		expand_envelope(x, i, &e);
		if (strcmp(e.mda_user, "joe") != 0 ||
		    strncmp(e.dest.user, "u", 1) != 0)
			o->n = 0;
	}
	expand_free(x);
}

/* A list of 1000 virtual addresses: 1000 envelopes, in good time. */
START_TEST(test_thousand_addresses)
{
	struct envelope	 tmpl;
	struct outcome	*o;
	char		 path[256];
	size_t		 i;
	time_t		 deadline = time(NULL) + 60;
	FILE		*fp;

	put_users();
	/* longer than put_file takes */
	snprintf(path, sizeof(path), "%s/big", dir);
	ck_assert_ptr_nonnull(fp = fopen(path, "w"));
	for (i = 0; i < 1000; i++)
		fprintf(fp, "u%zu@example.org\n", i);
	ck_assert_int_eq(fclose(fp), 0);
	ck_assert_int_eq(chmod(path, 0644), 0);
	put_file("aliases", 0644, "big: :include:DIR/big\n");
	put_file("virtuals", 0644, "@example.org joe\n");
	load("table aliases \"DIR/aliases\"\n"
	    "table virtuals \"DIR/virtuals\"\n"
	    "table users \"DIR/users\"\n"
	    "action \"local\" mbox alias <aliases> userbase <users>\n"
	    "action \"vmail\" maildir \"DIR/mail/%{dest.user}\" "
	    "virtual <virtuals> userbase <users>\n"
	    "match for local action \"local\"\n"
	    "match from any for domain { example.org } action \"vmail\"\n");

	ck_assert_ptr_nonnull(o = calloc(1, sizeof(*o)));
	memset(&tmpl, 0, sizeof(tmpl));
	ck_assert_int_eq(mailaddr_from_text(&tmpl.rcpt, "big@localhost"), 0);
	ck_assert_ptr_nonnull(expand_start(&env, 7, &tmpl, "", 1, on_count,
	    o));
	while (!o->done) {
		ck_assert_msg(time(NULL) < deadline, "no answer in 60s");
		event_base_loop(base, EVLOOP_ONCE);
	}
	ck_assert_msg(o->res.result == 1, "got %d %s %s", o->res.code,
	    o->res.esc, o->res.text);
	ck_assert_uint_eq(o->res.nenvelopes, 1000);
	ck_assert_uint_eq(o->n, 1000);
	free(o);
}
END_TEST

START_TEST(test_virtual_no_catchall)
{
	const struct outcome	*o;

	put_users();
	load("table users \"DIR/users\"\n"
	    "action \"vmail\" maildir virtual { joe@example.org = joe, "
	    "ghost@example.org = ghost } userbase <users>\n"
	    "match from any for domain { example.org } action \"vmail\"\n");
	o = expand("joe@example.org", 0);
	expect_ok(o, 1);
	o = expand("jim@example.org", 0);
	expect_fail(o, 550, "5.1.1", "Invalid recipient");
	/* the user a virtual entry names must exist */
	o = expand("ghost@example.org", 0);
	expect_fail(o, 550, "5.1.1", "Invalid recipient");
}
END_TEST

START_TEST(test_forward)
{
	const struct outcome	*o;
	const struct envelope	*e;

	put_users();
	put_file("eric/.forward", 0644,
	    "# eric's forward\n"
	    "\\eric\n"
	    "\"|/usr/bin/procmail -f-\"\n"
	    "gilles@localhost, /home/eric/archive\n");
	put_file("gilles/.forward", 0664, "eric\n");
	put_file("joe/.forward", 0644, "joe, :include:DIR/list\n");
	put_file("list", 0644, "gilles\n");
	put_file("catchall/.forward", 0644, "# nothing\n\n");
	load("table users \"DIR/users\"\n"
	    "action \"local\" mbox userbase <users>\n"
	    "match for local action \"local\"\n");

	o = expand("eric@localhost", 1);
	expect_ok(o, 4);
	ck_assert_ptr_nonnull(e = find(o, M_NONE, "eric"));
	/* a .forward's commands and files run as its user */
	ck_assert_ptr_nonnull(e = find(o, M_MDA, "/usr/bin/procmail -f-"));
	ck_assert_str_eq(e->mda_user, "eric");
	ck_assert_int_eq(e->mda_uid, test_uid);
	ck_assert_ptr_nonnull(e = find(o, M_FILE, "/home/eric/archive"));
	ck_assert_str_eq(e->mda_user, "eric");
	/* the address is matched again, as coming from here */
	ck_assert_ptr_nonnull(e = find(o, M_NONE, "gilles"));
	ck_assert_str_eq(e->dest.user, "gilles");
	ck_assert_str_eq(e->dest.domain, "localhost");

	/* a group-writable .forward is ignored: the mailbox */
	o = expand("gilles@localhost", 1);
	expect_ok(o, 1);
	ck_assert_ptr_nonnull(find(o, M_NONE, "gilles"));

	/* a user naming itself; :include: is not for .forward files */
	o = expand("joe@localhost", 1);
	expect_ok(o, 1);
	ck_assert_ptr_nonnull(find(o, M_NONE, "joe"));

	/* an empty .forward is none */
	o = expand("catchall@localhost", 1);
	expect_ok(o, 1);
	ck_assert_ptr_nonnull(find(o, M_NONE, "catchall"));
}
END_TEST

START_TEST(test_forward_root)
{
	const struct outcome	*o;

	if (getuid() != 0)
		return;		/* needs a file owned by uid 0 */
	put_users();
	put_file("users", 0644, "root 0:0:DIR/root\ngilles 0:0:DIR/gilles\n");
	put_file("root/.forward", 0644, "\"|/bin/sh -c evil\", gilles\n");
	{
		char	 path[256];

		snprintf(path, sizeof(path), "%s/root/.forward", dir);
		ck_assert_int_eq(chown(path, 0, 0), 0);
	}
	mkdir_home("gilles");
	load("table users \"DIR/users\"\n"
	    "action \"local\" mbox userbase <users>\n"
	    "match for local action \"local\"\n");
	/* root's commands are refused, the rest is kept */
	o = expand("root@localhost", 1);
	expect_ok(o, 1);
	ck_assert_ptr_nonnull(find(o, M_NONE, "gilles"));
}
END_TEST

START_TEST(test_forward_only_expand_only)
{
	const struct outcome	*o;

	put_users();
	put_file("eric/.forward", 0644, "joe@example.org\n");
	put_file("joe/.forward", 0644, "\"|/usr/bin/true\"\n");
	load("table users \"DIR/users\"\n"
	    "action \"fwd\" forward-only userbase <users>\n"
	    "action \"exp\" expand-only userbase <users>\n"
	    "action \"box\" mbox userbase <users>\n"
	    "match for domain { fwd.example } action \"fwd\"\n"
	    "match for domain { exp.example } action \"exp\"\n"
	    "match from any for domain { example.org } action \"box\"\n");

	/* forward-only: addresses only */
	o = expand("eric@fwd.example", 1);
	expect_ok(o, 1);
	ck_assert_str_eq(o->env[0].dispatcher, "box");
	o = expand("gilles@fwd.example", 1);
	expect_fail(o, 550, "5.1.1", "Invalid recipient");
	o = expand("joe@fwd.example", 1);
	expect_fail(o, 550, "5.1.1", "Invalid recipient");

	/* expand-only: what the expansion chose, never the mailbox */
	o = expand("joe@exp.example", 1);
	expect_ok(o, 1);
	ck_assert_ptr_nonnull(find(o, M_MDA, "/usr/bin/true"));
	ck_assert_str_eq(o->env[0].dispatcher, "exp");
	o = expand("gilles@exp.example", 1);
	expect_fail(o, 550, "5.1.1", "Invalid recipient");
}
END_TEST

START_TEST(test_action_user)
{
	const struct outcome	*o;
	const struct envelope	*e;
	struct passwd		*pw;

	ck_assert_ptr_nonnull(pw = getpwnam("nobody"));
	put_users();
	put_file("gilles/.forward", 0644, "eric\n");
	load("table users \"DIR/users\"\n"
	    "action \"vm\" maildir userbase <users> user nobody\n"
	    "match for local action \"vm\"\n");
	/* delivered as `user' (from the system), other .forwards unread */
	o = expand("gilles@localhost", 1);
	expect_ok(o, 1);
	ck_assert_ptr_nonnull(e = find(o, M_NONE, "nobody"));
	ck_assert_int_eq(e->mda_uid, pw->pw_uid);
	ck_assert_int_eq(e->mda_gid, pw->pw_gid);
	ck_assert_str_eq(e->mda_home, pw->pw_dir);
	ck_assert_str_eq(e->dest.user, "gilles");
	/* the recipient must still be a user of the userbase */
	o = expand("unknown@localhost", 1);
	expect_fail(o, 550, "5.1.1", "Invalid recipient");
}
END_TEST

START_TEST(test_system_userbase)
{
	const struct outcome	*o;
	const struct envelope	*e;
	struct passwd		*pw;

	/* no userbase: the built-in table-getpwnam */
	ck_assert_ptr_nonnull(pw = getpwnam("nobody"));
	load("action \"local\" mbox\n"
	    "match for local action \"local\"\n");
	o = expand("nobody@localhost", 1);
	expect_ok(o, 1);
	ck_assert_ptr_nonnull(e = find(o, M_NONE, "nobody"));
	ck_assert_int_eq(e->mda_uid, pw->pw_uid);
	o = expand("no-such-user-here@localhost", 1);
	expect_fail(o, 550, "5.1.1", "Invalid recipient");
}
END_TEST

START_TEST(test_failures_are_temporary)
{
	const struct outcome	*o;
	char			 text[4096];
	size_t			 i;

	put_users();
	/* a list where a mapping was needed: the table refuses */
	put_file("notaliases", 0644, "a\nb\n");
	/* a chain deeper than the limit */
	text[0] = '\0';
	for (i = 0; i <= EXPAND_DEPTH_MAX + 1; i++)
		snprintf(text + strlen(text), sizeof(text) - strlen(text),
		    "d%zu d%zu\n", i, i + 1);
	put_file("deep", 0644, "%s", text);
	load("table notaliases \"DIR/notaliases\"\n"
	    "table deep \"DIR/deep\"\n"
	    "table users \"DIR/users\"\n"
	    "action \"a\" mbox alias <notaliases> userbase <users>\n"
	    "action \"d\" mbox alias <deep> userbase <users>\n"
	    "match for domain { a.example } action \"a\"\n"
	    "match for domain { d.example } action \"d\"\n");
	o = expand("gilles@a.example", 1);
	expect_fail(o, 451, "4.3.0", "Temporary failure");
	o = expand("d0@d.example", 1);
	expect_fail(o, 451, "4.3.0", "Temporary failure");
}
END_TEST

START_TEST(test_reject_rule)
{
	const struct outcome	*o;

	load("action \"local\" mbox\n"
	    "match from any for rcpt-to { spam@localhost } reject\n"
	    "match for local action \"local\"\n");
	o = expand("spam@localhost", 1);
	expect_fail(o, 550, "5.7.1", "Delivery not authorized");
}
END_TEST

START_TEST(test_cancel)
{
	struct envelope	 tmpl;
	struct outcome	 o;
	int		 i;

	load("action \"local\" mbox\n"
	    "match for local action \"local\"\n");
	memset(&tmpl, 0, sizeof(tmpl));
	ck_assert_int_eq(mailaddr_from_text(&tmpl.rcpt, "nobody@localhost"),
	    0);
	memset(&o, 0, sizeof(o));
	/* cancelled at once, and cancelled mid-way */
	expand_cancel(expand_start(&env, 1, &tmpl, "", 1, on_done, &o));
	{
		struct expansion	*x;

		x = expand_start(&env, 2, &tmpl, "", 1, on_done, &o);
		for (i = 0; i < 3; i++)
			event_base_loop(base, EVLOOP_NONBLOCK);
		expand_cancel(x);
	}
	/* a later one still works */
	expect_ok(expand("nobody@localhost", 1), 1);
}
END_TEST

static Suite *
expand_suite(void)
{
	Suite	*s = suite_create("expand");
	TCase	*tc = tcase_create("expand");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_aliases);
	tcase_add_test(tc, test_virtual);
	tcase_add_test(tc, test_virtual_shared_user);
	tcase_add_test(tc, test_thousand_addresses);
	tcase_add_test(tc, test_virtual_no_catchall);
	tcase_add_test(tc, test_forward);
	tcase_add_test(tc, test_forward_root);
	tcase_add_test(tc, test_forward_only_expand_only);
	tcase_add_test(tc, test_action_user);
	tcase_add_test(tc, test_system_userbase);
	tcase_add_test(tc, test_failures_are_temporary);
	tcase_add_test(tc, test_reject_rule);
	tcase_add_test(tc, test_cancel);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(expand_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
