/*
 * test_mda_format.c: the %{...} expansion of maildir paths, mda
 * commands and wrappers: every token, substrings, modifiers, the
 * sanitising of unsafe characters, and each error.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "mda_format.h"

static struct envelope	 env;

static void
setup(void)
{
	memset(&env, 0, sizeof(env));
	env.type = D_MDA;
	mailaddr_from_text(&env.sender, "Alice.Smith@Example.NET");
	mailaddr_from_text(&env.rcpt, "Bob+Lists@Example.org");
	mailaddr_from_text(&env.dest, "bob@example.org");
	strlcpy(env.mda_user, "bob", sizeof(env.mda_user));
	strlcpy(env.mda_home, "/home/bob", sizeof(env.mda_home));
}

/* Expands fmt (no %{mda}, '+' as delimiter) and returns a static copy. */
static const char *
expand(const char *fmt)
{
	static char	 buf[1024];
	char		 err[256];

	err[0] = '\0';
	if (mda_format(buf, sizeof(buf), fmt, &env, NULL, '+', err,
	    sizeof(err)) == -1)
		ck_abort_msg("\"%s\" failed: %s", fmt, err);
	return buf;
}

/* fmt must fail, with an error text holding want. */
static void
expand_fails(const char *fmt, const char *want)
{
	char	 buf[1024], err[256];

	err[0] = '\0';
	ck_assert_msg(mda_format(buf, sizeof(buf), fmt, &env, NULL, '+', err,
	    sizeof(err)) == -1, "\"%s\" expanded to \"%s\"", fmt, buf);
	ck_assert_msg(strstr(err, want) != NULL, "\"%s\": error \"%s\", "
	    "want \"%s\"", fmt, err, want);
}

START_TEST(test_tokens)
{
	ck_assert_str_eq(expand("%{sender}"), "Alice.Smith@Example.NET");
	ck_assert_str_eq(expand("%{sender.user}"), "Alice.Smith");
	ck_assert_str_eq(expand("%{sender.domain}"), "Example.NET");
	ck_assert_str_eq(expand("%{rcpt}"), "Bob+Lists@Example.org");
	ck_assert_str_eq(expand("%{rcpt.user}"), "Bob+Lists");
	ck_assert_str_eq(expand("%{rcpt.domain}"), "Example.org");
	ck_assert_str_eq(expand("%{dest}"), "bob@example.org");
	ck_assert_str_eq(expand("%{dest.user}"), "bob");
	ck_assert_str_eq(expand("%{dest.domain}"), "example.org");
	ck_assert_str_eq(expand("%{user.username}"), "bob");
	ck_assert_str_eq(expand("%{user.directory}"), "/home/bob");
	ck_assert_str_eq(expand("%{mbox.from}"), "Alice.Smith@Example.NET");
	ck_assert_str_eq(expand("/var/vmail/%{dest.domain}/%{dest.user}/x"),
	    "/var/vmail/example.org/bob/x");
	ck_assert_str_eq(expand("no tokens at all"), "no tokens at all");
	ck_assert_str_eq(expand(""), "");
}
END_TEST

START_TEST(test_case_insensitive_names)
{
	ck_assert_str_eq(expand("%{SENDER.Domain}"), "Example.NET");
	ck_assert_str_eq(expand("%{User.UserName}"), "bob");
	ck_assert_str_eq(expand("%{rcpt.user:LOWERCASE}"), "bob+lists");
}
END_TEST

START_TEST(test_empty_sender)
{
	memset(&env.sender, 0, sizeof(env.sender));
	ck_assert_str_eq(expand("<%{sender}>"), "<>");
	ck_assert_str_eq(expand("<%{sender.user}>"), "<>");
	ck_assert_str_eq(expand("<%{sender.domain}>"), "<>");
	ck_assert_str_eq(expand("%{mbox.from}"), "MAILER-DAEMON");
	/* a range of an empty string is empty, not an error */
	ck_assert_str_eq(expand("<%{sender[2:4]}>"), "<>");
}
END_TEST

START_TEST(test_substrings)
{
	/* dest.user is "bob", user.directory "/home/bob" */
	ck_assert_str_eq(expand("%{dest.user[0]}"), "b");
	ck_assert_str_eq(expand("%{dest.user[1]}"), "o");
	ck_assert_str_eq(expand("%{dest.user[-1]}"), "b");
	ck_assert_str_eq(expand("%{user.directory[1:4]}"), "home");
	ck_assert_str_eq(expand("%{user.directory[6:]}"), "bob");
	ck_assert_str_eq(expand("%{user.directory[:4]}"), "/home");
	ck_assert_str_eq(expand("%{user.directory[-3:]}"), "bob");
	ck_assert_str_eq(expand("%{user.directory[-3:-2]}"), "bo");
	ck_assert_str_eq(expand("%{user.directory[:]}"), "/home/bob");
	/* an end past the end stops there */
	ck_assert_str_eq(expand("%{dest.user[1:100]}"), "ob");
	/* the classic hashed layout */
	ck_assert_str_eq(expand("/m/%{dest.user[0]}/%{dest.user[0:1]}/"
	    "%{dest.user}"), "/m/b/bo/bob");
}
END_TEST

START_TEST(test_modifiers)
{
	ck_assert_str_eq(expand("%{rcpt:lowercase}"), "bob+lists@example.org");
	ck_assert_str_eq(expand("%{rcpt:uppercase}"), "BOB+LISTS@EXAMPLE.ORG");
	ck_assert_str_eq(expand("%{rcpt:strip}"), "Bob@Example.org");
	ck_assert_str_eq(expand("%{rcpt.user:strip}"), "Bob");
	ck_assert_str_eq(expand("%{rcpt:strip|lowercase}"), "bob@example.org");
	ck_assert_str_eq(expand("%{rcpt.user:lowercase|strip}"), "bob");
	/* nothing to strip */
	ck_assert_str_eq(expand("%{dest:strip}"), "bob@example.org");
	/* a substring and modifiers together */
	ck_assert_str_eq(expand("%{rcpt.domain[0:2]:uppercase}"), "EXA");
}
END_TEST

START_TEST(test_strip_delimiter)
{
	char	 buf[256], err[256];

	mailaddr_from_text(&env.rcpt, "bob-lists+x@example.org");
	ck_assert_int_ge(mda_format(buf, sizeof(buf), "%{rcpt:strip}", &env,
	    NULL, '-', err, sizeof(err)), 0);
	ck_assert_str_eq(buf, "bob@example.org");
	/* the delimiter in the domain is not a sub-address */
	mailaddr_from_text(&env.rcpt, "bob@ex-ample.org");
	ck_assert_int_ge(mda_format(buf, sizeof(buf), "%{rcpt:strip}", &env,
	    NULL, '-', err, sizeof(err)), 0);
	ck_assert_str_eq(buf, "bob@ex-ample.org");
}
END_TEST

START_TEST(test_sanitising)
{
	mailaddr_from_text(&env.rcpt, "a!b#c$d%e&f'g*h?i`j{k|l}m~n@example.org");
	ck_assert_str_eq(expand("%{rcpt.user}"), "a:b:c:d:e:f:g:h:i:j:k:l:m:n");
	ck_assert_str_eq(expand("%{rcpt.user:raw}"),
	    "a!b#c$d%e&f'g*h?i`j{k|l}m~n");
	/* what the format itself holds is left alone */
	ck_assert_str_eq(expand("|$HOME/bin/x %{dest.user}"),
	    "|$HOME/bin/x bob");
	/* user.directory is trusted */
	strlcpy(env.mda_home, "/home/we$ird~", sizeof(env.mda_home));
	ck_assert_str_eq(expand("%{user.directory}/Maildir"),
	    "/home/we$ird~/Maildir");
	/* other characters pass */
	mailaddr_from_text(&env.dest, "o'neil.x-y_z=1@example.org");
	ck_assert_str_eq(expand("%{dest.user}"), "o:neil.x-y_z=1");
}
END_TEST

/*
 * A quoted local part ("...") may hold what no atom can: quotes,
 * backslashes, ';', '<', '>', and "/../".  None of it reaches a
 * command or a path, unless raw.
 */
START_TEST(test_quoted_local_part)
{
	mailaddr_from_text(&env.rcpt, "\"x\\\";id>/tmp/p;\\\"\"@example.org");
	ck_assert_str_eq(env.rcpt.user, "\"x\\\";id>/tmp/p;\\\"\"");
	ck_assert_str_eq(expand("\"%{rcpt.user}\""), "\":x:::id:/tmp/p::::\"");
	ck_assert_str_eq(expand("%{rcpt}"), ":x:::id:/tmp/p::::@example.org");
	ck_assert_str_eq(expand("%{rcpt.user:raw}"), env.rcpt.user);
	/* no way up the tree */
	mailaddr_from_text(&env.dest, "\"a/../../b\"@example.org");
	ck_assert_str_eq(expand("/var/vmail/%{dest.user}"),
	    "/var/vmail/:a/::/::/b:");
	ck_assert_str_eq(expand("/var/vmail/%{dest.user[1:3]}"),
	    "/var/vmail/a/.");
	mailaddr_from_text(&env.dest, "\"..\"@example.org");
	ck_assert_str_eq(expand("/v/%{dest.user[1:2]}/x"), "/v/::/x");
	/* the sender too; a domain literal keeps its brackets and colons */
	mailaddr_from_text(&env.sender, "\"a(b)<c>,d\"@[IPv6:2001:db8::1]");
	ck_assert_str_eq(expand("%{sender}"), ":a:b::c::d:@[IPv6:2001:db8::1]");
	ck_assert_str_eq(expand("%{mbox.from}"),
	    ":a:b::c::d:@[IPv6:2001:db8::1]");
}
END_TEST

/* Ranges count characters: a UTF-8 sequence is never cut in two. */
START_TEST(test_utf8_ranges)
{
	mailaddr_from_text(&env.dest, "\xc3\xa9lodie@\xc3\xa9t\xc3\xa9.example");
	ck_assert_str_eq(expand("%{dest.user[0]}"), "\xc3\xa9");
	ck_assert_str_eq(expand("%{dest.user[0:1]}"), "\xc3\xa9l");
	ck_assert_str_eq(expand("%{dest.user[-1]}"), "e");
	ck_assert_str_eq(expand("%{dest.user[1:]}"), "lodie");
	ck_assert_str_eq(expand("%{dest.domain[:2]}"), "\xc3\xa9t\xc3\xa9");
	ck_assert_str_eq(expand("%{dest.domain[-11:-10]}"), "\xc3\xa9t");
	ck_assert_str_eq(expand("%{dest.user[5]}"), "e");
	expand_fails("%{dest.user[6]}", "has 6 characters");
	/* case modifiers leave other bytes alone */
	ck_assert_str_eq(expand("%{dest.user:uppercase}"), "\xc3\xa9LODIE");
}
END_TEST

/* strip drops a sub-address: a domain or a directory has none. */
START_TEST(test_strip_not_domains)
{
	char	 buf[256], err[256];

	mailaddr_from_text(&env.rcpt, "bob-x@ex-ample.org");
	strlcpy(env.mda_home, "/home/bob-smith", sizeof(env.mda_home));
	ck_assert_int_ge(mda_format(buf, sizeof(buf), "%{rcpt.domain:strip}/"
	    "%{rcpt.user:strip}/%{user.directory:strip}", &env, NULL, '-',
	    err, sizeof(err)), 0);
	ck_assert_str_eq(buf, "ex-ample.org/bob//home/bob-smith");
}
END_TEST

START_TEST(test_percent_and_home)
{
	ck_assert_str_eq(expand("100%%"), "100%");
	ck_assert_str_eq(expand("%%{dest}"), "%{dest}");
	/* a lone % is kept: date +%s */
	ck_assert_str_eq(expand("date +%s"), "date +%s");
	ck_assert_str_eq(expand("~/Maildir"), "/home/bob/Maildir");
	ck_assert_str_eq(expand("~/Maildir/%{rcpt.user:strip|lowercase}"),
	    "/home/bob/Maildir/bob");
	/* only at the start */
	ck_assert_str_eq(expand("/x/~/y"), "/x/~/y");
	ck_assert_str_eq(expand("~bob/y"), "~bob/y");
	env.mda_home[0] = '\0';
	expand_fails("~/Maildir", "home");
}
END_TEST

START_TEST(test_mda_token)
{
	char	 buf[256], err[256];

	ck_assert_int_ge(mda_format(buf, sizeof(buf),
	    "/usr/bin/wrap -u %{user.username} -- %{mda}", &env,
	    "procmail -f 'x' | y", '+', err, sizeof(err)), 0);
	/* %{mda} is not sanitised: it is the admin's own command */
	ck_assert_str_eq(buf, "/usr/bin/wrap -u bob -- procmail -f 'x' | y");
	/* outside a wrapper it is unknown */
	expand_fails("%{mda}", "only in a wrapper");
}
END_TEST

START_TEST(test_errors)
{
	char	 buf[16], err[256];

	expand_fails("%{nope}", "unknown token %{nope}");
	expand_fails("%{sender.bogus}", "unknown token");
	expand_fails("%{senderx}", "unknown token");
	expand_fails("%{dest", "unterminated");
	expand_fails("%{}", "empty");
	expand_fails("%{dest:shout}", "unknown modifier \"shout\"");
	expand_fails("%{dest:lowercase|}", "unknown modifier");
	expand_fails("%{dest:lowercase|uppercase}", "lowercase and uppercase");
	expand_fails("%{dest.user[3]}", "bad range");
	expand_fails("%{dest.user[5:]}", "bad range");
	expand_fails("%{dest.user[-4]}", "bad range");
	expand_fails("%{dest.user[2:1]}", "bad range");
	expand_fails("%{dest.user[x]}", "bad range");
	expand_fails("%{dest.user[]}", "bad range");
	expand_fails("%{dest.user[1:2:3]}", "bad range");
	expand_fails("%{dest.user[1}", "bad range");
	expand_fails("%{dest.user[1]x}", "bad range");
	expand_fails("%{dest.user[99999999999999999999]}", "bad range");
	expand_fails("%{a%{dest}}", "nested");
	expand_fails("%{aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa}", "too long");
	/* overflow, by the format and by an expansion */
	ck_assert_int_eq(mda_format(buf, sizeof(buf), "0123456789abcdef",
	    &env, NULL, '+', err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "too long"));
	ck_assert_int_eq(mda_format(buf, sizeof(buf), "/x/%{dest}", &env,
	    NULL, '+', err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "too long"));
	ck_assert_int_eq(mda_format(buf, sizeof(buf), "0123456789abcde",
	    &env, NULL, '+', err, sizeof(err)), 15);
	ck_assert_int_eq(mda_format(buf, 0, "", &env, NULL, '+', err,
	    sizeof(err)), -1);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("mda_format");
	TCase	*tc = tcase_create("mda_format");
	SRunner	*sr;
	int	 failed;

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_tokens);
	tcase_add_test(tc, test_case_insensitive_names);
	tcase_add_test(tc, test_empty_sender);
	tcase_add_test(tc, test_substrings);
	tcase_add_test(tc, test_modifiers);
	tcase_add_test(tc, test_strip_delimiter);
	tcase_add_test(tc, test_sanitising);
	tcase_add_test(tc, test_quoted_local_part);
	tcase_add_test(tc, test_utf8_ranges);
	tcase_add_test(tc, test_strip_not_domains);
	tcase_add_test(tc, test_percent_and_home);
	tcase_add_test(tc, test_mda_token);
	tcase_add_test(tc, test_errors);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
