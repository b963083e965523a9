/*
 * test_table_static.c: the table(5) parser and the matching rules of
 * every service, linked directly against table-static's objects.
 * The protocol around them is tested in test_table_api.c.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "smtpd-api.h"
#include "../../tables/table-static/static_file.h"

static char	 dir[64];
static char	 path[128];
static char	 err[1024];

static void
setup(void)
{
	log_init(1, "test_table_static");
	strlcpy(dir, "/tmp/test_table_static.XXXXXX", sizeof(dir));
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/table", dir);
	err[0] = '\0';
}

static void
teardown(void)
{
	unlink(path);
	rmdir(dir);
}

static void
write_file(const char *text, size_t len)
{
	FILE	*fp;

	ck_assert_ptr_nonnull(fp = fopen(path, "w"));
	ck_assert_uint_eq(fwrite(text, 1, len, fp), len);
	ck_assert_int_eq(fclose(fp), 0);
}

static struct static_table *
load(const char *text)
{
	struct static_table	*t;

	write_file(text, strlen(text));
	t = static_table_load_file(path, err, sizeof(err));
	ck_assert_msg(t != NULL, "load failed: %s", err);
	return t;
}

/* Loading must fail with exactly "path:line: what". */
static void
expect_error(const char *text, int line, const char *what)
{
	char	 want[1024];

	write_file(text, strlen(text));
	ck_assert_ptr_null(static_table_load_file(path, err, sizeof(err)));
	snprintf(want, sizeof(want), "%s:%d: %s", path, line, what);
	ck_assert_str_eq(err, want);
}

static int
check(struct static_table *t, enum table_service s, const char *key)
{
	return static_table_check(t, s, key);
}

/* The value a lookup gives, "" when not found, "-1" on failure. */
static const char *
lookup(struct static_table *t, enum table_service s, const char *key)
{
	static char	 value[TABLE_VALUE_MAX];
	int		 r;

	value[0] = '\0';
	r = static_table_lookup(t, s, key, value, sizeof(value));
	if (r == -1)
		return "-1";
	if (r == 0)
		return "";
	ck_assert_int_eq(r, 1);
	return value;
}

static const char *
fetch(struct static_table *t, enum table_service s)
{
	static char	 value[TABLE_VALUE_MAX];
	int		 r;

	r = static_table_fetch(t, s, value, sizeof(value));
	if (r != 1)
		return r == 0 ? "" : "-1";
	return value;
}

START_TEST(test_mapping_separators)
{
	struct static_table	*t;

	t = load(
	    "# aliases\n"
	    "\n"
	    "root: gilles\n"
	    "Postmaster:root   \n"
	    "abuse\t\troot, Admin@Example.org\n"
	    "list :include:/etc/mail/list\n"
	    "list2: :include:/etc/mail/list2\n"
	    "bin : /dev/null  # a trailing comment\n"
	    "pipe \"|/usr/bin/prog arg\"\n"
	    "  indented   value\n"
	    "hash pass#word\n");
	ck_assert_int_eq(t->form, STATIC_MAPPING);
	ck_assert_uint_eq(t->count, 9);
	ck_assert_str_eq(lookup(t, K_ALIAS, "root"), "gilles");
	/* Keys are lowercased, values keep their case. */
	ck_assert_str_eq(lookup(t, K_ALIAS, "postmaster"), "root");
	ck_assert_str_eq(lookup(t, K_ALIAS, "POSTMASTER"), "root");
	ck_assert_str_eq(lookup(t, K_ALIAS, "abuse"),
	    "root, Admin@Example.org");
	ck_assert_str_eq(lookup(t, K_ALIAS, "list"),
	    ":include:/etc/mail/list");
	ck_assert_str_eq(lookup(t, K_ALIAS, "list2"),
	    ":include:/etc/mail/list2");
	ck_assert_str_eq(lookup(t, K_ALIAS, "bin"), "/dev/null");
	ck_assert_str_eq(lookup(t, K_ALIAS, "pipe"),
	    "\"|/usr/bin/prog arg\"");
	ck_assert_str_eq(lookup(t, K_ALIAS, "indented"), "value");
	/* '#' after a non-blank is data. */
	ck_assert_str_eq(lookup(t, K_ALIAS, "hash"), "pass#word");
	ck_assert_str_eq(lookup(t, K_ALIAS, "nobody"), "");
	ck_assert_int_eq(check(t, K_ALIAS, "root"), 1);
	ck_assert_int_eq(check(t, K_ALIAS, "roo"), 0);
	static_table_free(t);
}
END_TEST

START_TEST(test_services_by_form)
{
	struct static_table	*t;

	t = load("root gilles\n");
	ck_assert_uint_eq(static_table_services(t), K_ALIAS | K_DOMAIN |
	    K_CREDENTIALS | K_NETADDR | K_MAILADDR | K_ADDRNAME |
	    K_MAILADDRMAP | K_RELAYHOST | K_STRING);
	/* A service the form does not serve fails, it is not "not found". */
	ck_assert_int_eq(check(t, K_USERINFO, "root"), -1);
	ck_assert_int_eq(check(t, K_REGEX, "root"), -1);
	ck_assert_str_eq(fetch(t, K_SOURCE), "-1");
	ck_assert_str_eq(fetch(t, K_STRING), "-1");
	static_table_free(t);

	t = load("example.org\n*.example.net\n");
	ck_assert_int_eq(t->form, STATIC_LIST);
	ck_assert_uint_eq(static_table_services(t), K_DOMAIN | K_NETADDR |
	    K_SOURCE | K_MAILADDR | K_RELAYHOST | K_STRING);
	ck_assert_str_eq(lookup(t, K_ALIAS, "example.org"), "-1");
	static_table_free(t);

	/* All entries are regexes: a list serves regex too. */
	t = load("example\\.org$\nfoo\n");
	ck_assert_uint_eq(static_table_services(t) & K_REGEX, K_REGEX);
	static_table_free(t);

	/* Nothing to find: every service answers "not found". */
	t = load("# nothing yet\n\n");
	ck_assert_int_eq(t->form, STATIC_EMPTY);
	ck_assert_uint_eq(static_table_services(t), K_ANY);
	ck_assert_str_eq(lookup(t, K_ALIAS, "root"), "");
	ck_assert_int_eq(check(t, K_NETADDR, "10.0.0.1"), 0);
	ck_assert_str_eq(fetch(t, K_SOURCE), "");
	static_table_free(t);

	/* So is a forced list or regex list with nothing in it yet. */
	t = load("# @regex\n");
	ck_assert_int_eq(t->form, STATIC_EMPTY);
	ck_assert_uint_eq(static_table_services(t), K_ANY);
	ck_assert_int_eq(check(t, K_REGEX, "x"), 0);
	ck_assert_str_eq(fetch(t, K_SOURCE), "");
	static_table_free(t);
}
END_TEST

START_TEST(test_domain)
{
	struct static_table	*t;

	t = load("example.org\n*.example.net\nOpenSMTPD.org\n");
	ck_assert_int_eq(check(t, K_DOMAIN, "example.org"), 1);
	ck_assert_int_eq(check(t, K_DOMAIN, "example.org."), 1);
	ck_assert_int_eq(check(t, K_DOMAIN, "opensmtpd.org"), 1);
	ck_assert_int_eq(check(t, K_DOMAIN, "www.example.org"), 0);
	ck_assert_int_eq(check(t, K_DOMAIN, "mx.example.net"), 1);
	ck_assert_int_eq(check(t, K_DOMAIN, "a.b.example.net"), 1);
	/* The wildcard wants at least one more label. */
	ck_assert_int_eq(check(t, K_DOMAIN, "example.net"), 0);
	ck_assert_int_eq(check(t, K_DOMAIN, "badexample.net"), 0);
	ck_assert_int_eq(check(t, K_DOMAIN, "org"), 0);
	ck_assert_str_eq(lookup(t, K_DOMAIN, "mx.example.net"),
	    "*.example.net");
	static_table_free(t);

	/* A mapping checks its keys the same way. */
	t = load("example.org enabled\n*.example.net enabled\n");
	ck_assert_int_eq(check(t, K_DOMAIN, "x.example.net"), 1);
	ck_assert_int_eq(check(t, K_DOMAIN, "example.com"), 0);
	static_table_free(t);
}
END_TEST

START_TEST(test_netaddr)
{
	struct static_table	*t;

	t = load(
	    "10.0.0.0/8\n"
	    "10.1.0.0/16\n"
	    "192.168.1.5\n"
	    "[2001:db8::]/32\n"
	    "[2001:db8:1::/48]\n"
	    "[::1]\n"
	    "172.16.1.2/12\n");
	ck_assert_int_eq(check(t, K_NETADDR, "10.2.3.4"), 1);
	ck_assert_int_eq(check(t, K_NETADDR, "11.0.0.1"), 0);
	ck_assert_int_eq(check(t, K_NETADDR, "192.168.1.5"), 1);
	ck_assert_int_eq(check(t, K_NETADDR, "192.168.1.6"), 0);
	/* Host bits of a network are ignored. */
	ck_assert_int_eq(check(t, K_NETADDR, "172.31.255.255"), 1);
	ck_assert_int_eq(check(t, K_NETADDR, "172.32.0.0"), 0);
	/* IPv6, written with or without brackets. */
	ck_assert_int_eq(check(t, K_NETADDR, "2001:db8:ffff::1"), 1);
	ck_assert_int_eq(check(t, K_NETADDR, "[2001:db8::25]"), 1);
	ck_assert_int_eq(check(t, K_NETADDR, "2001:db9::1"), 0);
	ck_assert_int_eq(check(t, K_NETADDR, "::1"), 1);
	ck_assert_int_eq(check(t, K_NETADDR, "[0:0::1]"), 1);
	ck_assert_int_eq(check(t, K_NETADDR, "ipv6:::1"), 1);
	ck_assert_int_eq(check(t, K_NETADDR, "::2"), 0);
	/* An IPv4-mapped IPv6 address is the IPv4 address. */
	ck_assert_int_eq(check(t, K_NETADDR, "::ffff:10.9.9.9"), 1);
	/* Not an address: not found, no error. */
	ck_assert_int_eq(check(t, K_NETADDR, "localhost"), 0);
	/* The most specific network answers a lookup. */
	ck_assert_str_eq(lookup(t, K_NETADDR, "10.1.2.3"), "10.1.0.0/16");
	ck_assert_str_eq(lookup(t, K_NETADDR, "10.2.2.3"), "10.0.0.0/8");
	ck_assert_str_eq(lookup(t, K_NETADDR, "2001:db8:1::9"),
	    "[2001:db8:1::/48]");
	static_table_free(t);
}
END_TEST

/*
 * A bare IPv6 address or network is one entry, though table(5) wants
 * brackets: its colons do not end a key (before, such a list silently
 * became a mapping of "2001" to "db8::1").
 */
START_TEST(test_bare_ipv6)
{
	struct static_table	*t;

	t = load(
	    "2001:db8::1\n"
	    "192.0.2.1\n"
	    "2001:db8:1::/48\n"
	    "::1\n"
	    "IPv6:2001:db8:2::7\n"
	    "::ffff:10.0.0.0/104\n");
	ck_assert_int_eq(t->form, STATIC_LIST);
	ck_assert_uint_eq(t->count, 6);
	ck_assert_int_eq(check(t, K_NETADDR, "2001:db8::1"), 1);
	ck_assert_int_eq(check(t, K_NETADDR, "2001:db8::2"), 0);
	ck_assert_int_eq(check(t, K_NETADDR, "2001:db8:1:ffff::9"), 1);
	ck_assert_int_eq(check(t, K_NETADDR, "::1"), 1);
	ck_assert_int_eq(check(t, K_NETADDR, "2001:db8:2::7"), 1);
	ck_assert_int_eq(check(t, K_NETADDR, "10.20.30.40"), 1);
	ck_assert_int_eq(check(t, K_NETADDR, "192.0.2.1"), 1);
	ck_assert_str_eq(lookup(t, K_NETADDR, "2001:db8:1::2"),
	    "2001:db8:1::/48");
	static_table_free(t);

	/* as the key of a mapping, with any separator */
	t = load(
	    "2001:db8::1 mx6.example.org\n"
	    "::1: localhost\n"
	    "192.0.2.1 mx1.example.org\n");
	ck_assert_int_eq(t->form, STATIC_MAPPING);
	ck_assert_str_eq(lookup(t, K_ADDRNAME, "2001:db8:0::1"),
	    "mx6.example.org");
	ck_assert_str_eq(lookup(t, K_ADDRNAME, "::1"), "localhost");
	static_table_free(t);

	/* what is not an address still splits at ':' */
	t = load("abc:def\nroot:gilles\nbad:cafe: x\n");
	ck_assert_int_eq(t->form, STATIC_MAPPING);
	ck_assert_str_eq(lookup(t, K_ALIAS, "abc"), "def");
	ck_assert_str_eq(lookup(t, K_ALIAS, "bad"), "cafe: x");
	static_table_free(t);

	/* an address literal keeps its colons too */
	t = load("gilles@[IPv6:2001:db8::1]\n@[192.0.2.1]\n");
	ck_assert_int_eq(t->form, STATIC_LIST);
	ck_assert_int_eq(check(t, K_MAILADDR, "Gilles@[IPv6:2001:db8::1]"), 1);
	ck_assert_int_eq(check(t, K_MAILADDR, "eric@[IPv6:2001:db8::1]"), 0);
	ck_assert_int_eq(check(t, K_MAILADDR, "eric@[192.0.2.1]"), 1);
	static_table_free(t);

	/* and a mistyped one is an error, not a key "2001" */
	expect_error("192.0.2.1\n2001:db8::/129\n", 2,
	    "bad CIDR \"2001:db8::/129\": prefix length must be 0 to 128");
	expect_error("2001:db8::12345\n", 1,
	    "bad address \"2001:db8::12345\": not an IPv6 address");
}
END_TEST

START_TEST(test_source_fetch)
{
	struct static_table	*t;

	t = load("192.0.2.3\n192.0.2.1\n[2001:db8::2]\n");
	/* Rotation in file order, wrapping around. */
	ck_assert_str_eq(fetch(t, K_SOURCE), "192.0.2.3");
	ck_assert_str_eq(fetch(t, K_SOURCE), "192.0.2.1");
	ck_assert_str_eq(fetch(t, K_SOURCE), "[2001:db8::2]");
	ck_assert_str_eq(fetch(t, K_SOURCE), "192.0.2.3");
	ck_assert_int_eq(check(t, K_SOURCE, "192.0.2.1"), 1);
	ck_assert_int_eq(check(t, K_SOURCE, "2001:db8::2"), 1);
	ck_assert_int_eq(check(t, K_SOURCE, "192.0.2.2"), 0);
	static_table_free(t);
}
END_TEST

START_TEST(test_addrname)
{
	struct static_table	*t;

	t = load("192.0.2.1 mx1.example.org\n"
	    "[2001:db8::1] mx6.example.org\n");
	ck_assert_str_eq(lookup(t, K_ADDRNAME, "192.0.2.1"),
	    "mx1.example.org");
	ck_assert_str_eq(lookup(t, K_ADDRNAME, "2001:db8::1"),
	    "mx6.example.org");
	ck_assert_str_eq(lookup(t, K_ADDRNAME, "[2001:db8:0::1]"),
	    "mx6.example.org");
	ck_assert_str_eq(lookup(t, K_ADDRNAME, "192.0.2.2"), "");
	static_table_free(t);
}
END_TEST

START_TEST(test_mailaddr)
{
	struct static_table	*t;

	t = load(
	    "gilles\n"
	    "@example.org\n"
	    "eric@poolp.org\n"
	    "chl@*.example.net\n"
	    "@*.example.com\n"
	    "tagged+list@poolp.org\n");
	/* "user" matches that user at any domain. */
	ck_assert_int_eq(check(t, K_MAILADDR, "gilles"), 1);
	ck_assert_int_eq(check(t, K_MAILADDR, "gilles@anywhere.org"), 1);
	/* "@domain" matches anyone there, only there. */
	ck_assert_int_eq(check(t, K_MAILADDR, "someone@example.org"), 1);
	ck_assert_int_eq(check(t, K_MAILADDR, "someone@sub.example.org"), 0);
	/* "user@domain" exactly. */
	ck_assert_int_eq(check(t, K_MAILADDR, "eric@poolp.org"), 1);
	ck_assert_int_eq(check(t, K_MAILADDR, "eric@example.net"), 0);
	ck_assert_int_eq(check(t, K_MAILADDR, "eric"), 0);
	/* Wildcard domains. */
	ck_assert_int_eq(check(t, K_MAILADDR, "chl@mx.example.net"), 1);
	ck_assert_int_eq(check(t, K_MAILADDR, "chl@a.b.example.net"), 1);
	ck_assert_int_eq(check(t, K_MAILADDR, "chl@example.net"), 0);
	ck_assert_int_eq(check(t, K_MAILADDR, "bob@x.example.com"), 1);
	ck_assert_int_eq(check(t, K_MAILADDR, "bob@example.com"), 0);
	/* A +tag is ignored by entries without one, kept by the others. */
	ck_assert_int_eq(check(t, K_MAILADDR, "eric+lists@poolp.org"), 1);
	ck_assert_int_eq(check(t, K_MAILADDR, "tagged+list@poolp.org"), 1);
	ck_assert_int_eq(check(t, K_MAILADDR, "tagged+other@poolp.org"), 0);
	ck_assert_int_eq(check(t, K_MAILADDR, "tagged@poolp.org"), 0);
	ck_assert_int_eq(check(t, K_MAILADDR, "nobody@nowhere.org"), 0);
	ck_assert_str_eq(lookup(t, K_MAILADDR, "chl@mx.example.net"),
	    "chl@*.example.net");
	static_table_free(t);

	/* "@" alone matches every address. */
	t = load("@\n");
	ck_assert_int_eq(check(t, K_MAILADDR, "anyone@anywhere.org"), 1);
	ck_assert_int_eq(check(t, K_MAILADDR, "anyone"), 1);
	static_table_free(t);
}
END_TEST

START_TEST(test_regex)
{
	struct static_table	*t;

	t = load(
	    "# @regex\n"
	    "^[a-z]+ [0-9]+$\n"
	    "(?i)^SPAM\\.\n"
	    "@example\\.(org|net)$\n");
	ck_assert_int_eq(t->form, STATIC_LIST);
	ck_assert_uint_eq(static_table_services(t), K_REGEX | K_STRING);
	/* A forced list takes whole lines: blanks belong to the regex. */
	ck_assert_int_eq(check(t, K_REGEX, "abc 123"), 1);
	ck_assert_int_eq(check(t, K_REGEX, "abc123"), 0);
	ck_assert_int_eq(check(t, K_REGEX, "spam.example.com"), 1);
	ck_assert_int_eq(check(t, K_REGEX, "SpAm.x"), 1);
	ck_assert_int_eq(check(t, K_REGEX, "xspam.x"), 0);
	ck_assert_int_eq(check(t, K_REGEX, "gilles@example.net"), 1);
	ck_assert_int_eq(check(t, K_REGEX, "gilles@example.com"), 0);
	ck_assert_str_eq(lookup(t, K_REGEX, "user@example.org"),
	    "@example\\.(org|net)$");
	static_table_free(t);

	/* Without (?i) case counts (patterns keep their case). */
	t = load("^Foo$\n");
	ck_assert_int_eq(check(t, K_REGEX, "Foo"), 1);
	ck_assert_int_eq(check(t, K_REGEX, "foo"), 0);
	static_table_free(t);

	/* A list with a non-regex entry does not serve regex. */
	t = load("example.org\n*.example.net\n");
	ck_assert_uint_eq(static_table_services(t) & K_REGEX, 0);
	ck_assert_int_eq(check(t, K_REGEX, "example.org"), -1);
	static_table_free(t);
}
END_TEST

START_TEST(test_forced_list)
{
	struct static_table	*t;

	t = load("\n#  @list  \n# comment\nfirst entry: with colon\nsecond\n");
	ck_assert_int_eq(t->form, STATIC_LIST);
	ck_assert_int_eq(check(t, K_STRING, "first entry: with colon"), 1);
	ck_assert_int_eq(check(t, K_STRING, "first"), 0);
	ck_assert_int_eq(check(t, K_STRING, "second"), 1);
	static_table_free(t);

	/* "# @list" after the first entry is just a comment. */
	expect_error("a\n# @list\nb c\n", 3,
	    "entry with a value, but the table is a list (see line 1)");
}
END_TEST

START_TEST(test_userinfo)
{
	struct static_table	*t;

	t = load("vuser 1000:1000:/home/vuser\n"
	    "other: 20:200:/var/vmail/other\n");
	ck_assert_uint_eq(static_table_services(t) & K_USERINFO, K_USERINFO);
	ck_assert_str_eq(lookup(t, K_USERINFO, "vuser"),
	    "1000:1000:/home/vuser");
	ck_assert_str_eq(lookup(t, K_USERINFO, "other"),
	    "20:200:/var/vmail/other");
	ck_assert_str_eq(lookup(t, K_USERINFO, "root"), "");
	ck_assert_int_eq(check(t, K_USERINFO, "vuser"), 1);
	static_table_free(t);

	/* One value that is not uid:gid:homedir: no userinfo. */
	t = load("vuser 1000:1000:/home/vuser\nbad 1000:x:/home\n");
	ck_assert_uint_eq(static_table_services(t) & K_USERINFO, 0);
	ck_assert_str_eq(lookup(t, K_USERINFO, "vuser"), "-1");
	static_table_free(t);

	ck_assert_int_eq(static_userinfo_valid("0:0:/root"), 1);
	ck_assert_int_eq(static_userinfo_valid("4294967295:1:/x"), 1);
	ck_assert_int_eq(static_userinfo_valid("4294967296:1:/x"), 0);
	ck_assert_int_eq(static_userinfo_valid("1:2:relative"), 0);
	ck_assert_int_eq(static_userinfo_valid("1:2"), 0);
	ck_assert_int_eq(static_userinfo_valid(":2:/x"), 0);
	ck_assert_int_eq(static_userinfo_valid("user:1:2:/x"), 0);
}
END_TEST

START_TEST(test_other_mappings)
{
	struct static_table	*t;

	t = load(
	    "gilles $2b$08$abcdefghijklmnopqrstuv\n"
	    "relay  user:secret\n"
	    "eric   eric@poolp.org, eric@openbsd.org\n"
	    "example.org smtp+tls://mx.example.org:587\n"
	    "*.example.net smtp://relay.example.net\n");
	ck_assert_str_eq(lookup(t, K_CREDENTIALS, "gilles"),
	    "$2b$08$abcdefghijklmnopqrstuv");
	ck_assert_str_eq(lookup(t, K_CREDENTIALS, "relay"), "user:secret");
	ck_assert_str_eq(lookup(t, K_MAILADDRMAP, "eric"),
	    "eric@poolp.org, eric@openbsd.org");
	ck_assert_str_eq(lookup(t, K_STRING, "relay"), "user:secret");
	ck_assert_int_eq(check(t, K_STRING, "relay"), 1);
	ck_assert_int_eq(check(t, K_STRING, "user"), 0);
	/* relayhost: the relay of a domain, wildcards allowed. */
	ck_assert_str_eq(lookup(t, K_RELAYHOST, "example.org"),
	    "smtp+tls://mx.example.org:587");
	ck_assert_str_eq(lookup(t, K_RELAYHOST, "a.example.net"),
	    "smtp://relay.example.net");
	ck_assert_str_eq(lookup(t, K_RELAYHOST, "example.com"), "");
	static_table_free(t);

	/* relayhost as a list: check, and fetch in turn. */
	t = load("smtp://a.example.org\nsmtps://user@b.example.org:465\n");
	ck_assert_int_eq(t->form, STATIC_LIST);
	ck_assert_int_eq(check(t, K_RELAYHOST,
	    "smtps://user@b.example.org:465"), 1);
	ck_assert_str_eq(fetch(t, K_RELAYHOST), "smtp://a.example.org");
	ck_assert_str_eq(fetch(t, K_RELAYHOST),
	    "smtps://user@b.example.org:465");
	static_table_free(t);
}
END_TEST

START_TEST(test_inline)
{
	struct static_table	*t;
	const char		*text = "root => gilles\n";

	t = static_table_load_text("a.example.org\nb.example.org",
	    strlen("a.example.org\nb.example.org"), "inline:domains", err,
	    sizeof(err));
	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(check(t, K_DOMAIN, "b.example.org"), 1);
	static_table_free(t);

	t = static_table_load_text("x 1\ny\n", 6, "inline:t", err,
	    sizeof(err));
	ck_assert_ptr_null(t);
	ck_assert_str_eq(err, "inline:t:2: entry without a value, but the "
	    "table is a mapping (see line 1)");

	/* "=>" is not a separator in table(5): it becomes the value. */
	t = static_table_load_text(text, strlen(text), "inline:x", err,
	    sizeof(err));
	ck_assert_ptr_nonnull(t);
	ck_assert_str_eq(lookup(t, K_ALIAS, "root"), "=> gilles");
	static_table_free(t);
}
END_TEST

START_TEST(test_errors)
{
	char	 text[STATIC_LINE_MAX + 64];

	expect_error("root a\nabuse b\n\nROOT c\n", 4,
	    "duplicate key \"root\" (first on line 1)");
	expect_error("a.org\nb.org\na.org\na.org\n", 3,
	    "duplicate entry \"a.org\" (first on line 1)");
	expect_error("10.0.0.0/8\n10.0.0.0/33\n", 2,
	    "bad CIDR \"10.0.0.0/33\": prefix length must be 0 to 32");
	expect_error("[2001:db8::]/129\n", 1,
	    "bad CIDR \"[2001:db8::]/129\": prefix length must be 0 to 128");
	expect_error("10.0.0.0/x8\n", 1,
	    "bad CIDR \"10.0.0.0/x8\": prefix length must be 0 to 32");
	expect_error("10.0.0.300\n", 1,
	    "bad address \"10.0.0.300\": not an IPv4 address");
	expect_error("10.0.0/8\n", 1,
	    "bad CIDR \"10.0.0/8\": not an IPv4 or IPv6 network");
	expect_error("[zz::1]\n", 1,
	    "bad address \"[zz::1]\": not an IPv6 or IPv4 address");
	expect_error("[::1 localhost\n", 1, "'[' without ']' in key");
	expect_error("root gilles\nabuse\n", 2,
	    "entry without a value, but the table is a mapping (see line 1)");
	expect_error("# aliases\nexample.org\nroot gilles\n", 3,
	    "entry with a value, but the table is a list (see line 2)");
	expect_error("# @regex\nok\nbad(\n", 3,
	    "bad regex \"bad(\": Unmatched ( or \\(");

	memset(text, 'a', sizeof(text));
	text[STATIC_LINE_MAX + 1] = '\n';
	text[STATIC_LINE_MAX + 2] = '\0';
	expect_error(text, 1, "line too long (more than 8192 bytes)");

	memset(text, 'k', TABLE_KEY_MAX + 1);
	strlcpy(text + TABLE_KEY_MAX + 1, " value\n", 16);
	expect_error(text, 1, "key too long (more than 1024 bytes)");

	memcpy(text, "key ", 4);
	memset(text + 4, 'v', TABLE_VALUE_MAX);
	text[4 + TABLE_VALUE_MAX] = '\0';
	expect_error(text, 1, "value too long (more than 4095 bytes)");
}
END_TEST

START_TEST(test_nul_and_missing)
{
	char	 want[256];

	write_file("a\nb\0c\n", 6);
	ck_assert_ptr_null(static_table_load_file(path, err, sizeof(err)));
	snprintf(want, sizeof(want), "%s:2: NUL byte in line", path);
	ck_assert_str_eq(err, want);

	unlink(path);
	ck_assert_ptr_null(static_table_load_file(path, err, sizeof(err)));
	snprintf(want, sizeof(want), "%s: No such file or directory", path);
	ck_assert_str_eq(err, want);
}
END_TEST

START_TEST(test_net_parse)
{
	struct static_net	 n;
	const char		*why;

	ck_assert_int_eq(static_net_parse("10.1.2.3/8", &n, &why), 1);
	ck_assert_int_eq(n.family, AF_INET);
	ck_assert_int_eq(n.prefix, 8);
	ck_assert_int_eq(n.addr[0], 10);
	ck_assert_int_eq(n.addr[1], 0);
	ck_assert_int_eq(static_net_parse("[::ffff:192.0.2.1]", &n, &why), 1);
	ck_assert_int_eq(n.family, AF_INET);
	ck_assert_int_eq(n.prefix, 32);
	ck_assert_int_eq(static_net_parse("example.org", &n, &why), 0);
	ck_assert_int_eq(static_net_parse("^a.b/c", &n, &why), 0);
	ck_assert_int_eq(static_net_parse("1.2", &n, &why), 0);
	ck_assert_int_eq(static_net_parse("[::1]x", &n, &why), -1);
	ck_assert_str_eq(why, "text after ']'");
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("table_static");
	TCase	*tc = tcase_create("static");
	SRunner	*sr;
	int	 failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_mapping_separators);
	tcase_add_test(tc, test_services_by_form);
	tcase_add_test(tc, test_domain);
	tcase_add_test(tc, test_netaddr);
	tcase_add_test(tc, test_bare_ipv6);
	tcase_add_test(tc, test_source_fetch);
	tcase_add_test(tc, test_addrname);
	tcase_add_test(tc, test_mailaddr);
	tcase_add_test(tc, test_regex);
	tcase_add_test(tc, test_forced_list);
	tcase_add_test(tc, test_userinfo);
	tcase_add_test(tc, test_other_mappings);
	tcase_add_test(tc, test_inline);
	tcase_add_test(tc, test_errors);
	tcase_add_test(tc, test_nul_and_missing);
	tcase_add_test(tc, test_net_parse);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
