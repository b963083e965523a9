/*
 * test_smtpctl.c: the parts of smtpctl, sendmail and makemap that do
 * no I/O with the daemon: command parsing and abbreviations, the
 * header scanning of sendmail -t, makemap's checks; and the counters
 * the control process keeps for show stats and monitor.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../smtpctl/commands.h"
#include "../../smtpctl/headers.h"
#include "../../smtpctl/makemap.h"
#include "../../smtpd/control.h"

static int
parse(const char *line, struct command *cmd, char *err, size_t errsz)
{
	char	*copy, *argv[16], *w, *p;
	int	 argc = 0, r;

	copy = strdup(line);
	ck_assert_ptr_nonnull(copy);
	for (p = copy; (w = strsep(&p, " ")) != NULL && argc < 16; )
		if (*w != '\0')
			argv[argc++] = w;
	r = command_parse(argc, argv, cmd, err, errsz);
	free(copy);
	return r;
}

static void
expect_command(const char *line, const char *verb, const char *args)
{
	struct command	 cmd;
	char		 err[512];

	if (parse(line, &cmd, err, sizeof(err)) == -1)
		ck_abort_msg("\"%s\": %s", line, err);
	ck_assert_str_eq(cmd.verb, verb);
	ck_assert_str_eq(cmd.args, args);
}

static void
expect_error(const char *line, const char *fragment)
{
	struct command	 cmd;
	char		 err[512];

	ck_assert_msg(parse(line, &cmd, err, sizeof(err)) == -1,
	    "\"%s\" parsed", line);
	ck_assert_msg(strstr(err, fragment) != NULL, "\"%s\": %s", line, err);
}

START_TEST(test_commands_full)
{
	expect_command("show queue", "show queue", "");
	expect_command("show queue 1a2b3c4d", "show queue", "1a2b3c4d");
	expect_command("show envelope 1a2b3c4d5e6f7a8b", "show envelope",
	    "1a2b3c4d5e6f7a8b");
	expect_command("show message 1a2b3c4d", "show message", "1a2b3c4d");
	expect_command("show stats", "show stats", "");
	expect_command("show status", "show status", "");
	expect_command("pause envelope all", "pause envelope", "all");
	expect_command("resume smtp", "resume smtp", "");
	expect_command("schedule 1a2b3c4d5e6f7a8b", "schedule",
	    "1a2b3c4d5e6f7a8b");
	expect_command("remove all", "remove", "all");
	expect_command("log verbose", "log", "verbose");
	expect_command("trace imsg", "trace", "imsg");
	expect_command("untrace all", "untrace", "all");
	expect_command("profile queue", "profile", "queue");
	expect_command("update table aliases", "update table", "aliases");
	expect_command("monitor", "monitor", "");
	expect_command("stop", "stop", "");
}
END_TEST

START_TEST(test_commands_prefixes)
{
	struct command	 cmd;
	char		 err[512];

	expect_command("sh q", "show queue", "");
	expect_command("sh stats", "show stats", "");
	expect_command("sh statu", "show status", "");
	expect_command("sch all", "schedule", "all");
	expect_command("st", "stop", "");
	expect_command("pa e all", "pause envelope", "all");
	expect_error("p e all", "ambiguous command: p (pause, profile)");
	expect_command("l b", "log", "brief");
	expect_command("prof i", "profile", "imsg");
	expect_command("unp q", "unprofile", "queue");
	expect_command("up t aliases", "update table", "aliases");
	expect_command("mon", "monitor", "");
	/* arguments are not abbreviations: "all" must be whole */
	expect_error("remove al", "invalid id");
	ck_assert_int_eq(parse("sh q", &cmd, err, sizeof(err)), 0);
	ck_assert_int_eq(cmd.kind, CMD_REQUEST);
	ck_assert_int_eq(parse("mon", &cmd, err, sizeof(err)), 0);
	ck_assert_int_eq(cmd.kind, CMD_MONITOR);
	ck_assert_int_eq(parse("stop", &cmd, err, sizeof(err)), 0);
	ck_assert_int_eq(cmd.kind, CMD_STOP);
}
END_TEST

START_TEST(test_commands_errors)
{
	expect_error("s", "ambiguous command: s (show, schedule, stop)");
	expect_error("sh stat", "ambiguous word: stat (stats, status)");
	expect_error("r all", "ambiguous command: r (resume, remove)");
	expect_error("frobnicate", "unknown command: frobnicate");
	expect_error("show", "incomplete command");
	expect_error("show frob", "unknown word: frob");
	expect_error("show envelope", "argument missing");
	expect_error("show envelope 1a2b3c4d", "invalid evpid");
	expect_error("show queue xyz", "invalid id");
	expect_error("show queue 1 2", "too many arguments");
	expect_error("show stats now", "too many arguments");
	expect_error("schedule 12345678901234567", "invalid id");
	expect_error("trace everything", "unknown subsystem");
	expect_error("update table a/b", "invalid table name");
	expect_error("log loud", "unknown word: loud");
	expect_error("", "no command given");
}
END_TEST

START_TEST(test_valid_id)
{
	ck_assert_int_eq(command_valid_id("all", 1, 0), 1);
	ck_assert_int_eq(command_valid_id("all", 0, 0), 0);
	ck_assert_int_eq(command_valid_id("deadbeef", 0, 0), 1);
	ck_assert_int_eq(command_valid_id("DEADBEEF00000001", 0, 1), 1);
	ck_assert_int_eq(command_valid_id("deadbeef", 0, 1), 0);
	ck_assert_int_eq(command_valid_id("", 0, 0), 0);
	ck_assert_int_eq(command_valid_id("0x12", 0, 0), 0);
}
END_TEST

static void
expect_addresses(const char *value, const char *const *want)
{
	struct addr_list	 l;
	char			 err[512];
	size_t			 i;

	memset(&l, 0, sizeof(l));
	if (headers_parse_addresses(value, &l, err, sizeof(err)) == -1)
		ck_abort_msg("\"%s\": %s", value, err);
	for (i = 0; want[i] != NULL; i++) {
		ck_assert_msg(i < l.count, "\"%s\": only %zu addresses",
		    value, l.count);
		ck_assert_str_eq(l.addrs[i], want[i]);
	}
	ck_assert_msg(l.count == i, "\"%s\": %zu addresses, want %zu", value,
	    l.count, i);
	addr_list_free(&l);
}

START_TEST(test_addresses)
{
	static const char *const plain[] = { "a@b.example", NULL };
	static const char *const list[] = { "a@x", "b@y", "c@z", NULL };
	static const char *const named[] = { "alice@x", "bob@y", NULL };
	static const char *const group[] = { "g1@x", "g2@x", "after@y",
	    NULL };
	static const char *const quoted[] = { "\"john doe\"@x", NULL };
	static const char *const literal[] = { "u@[IPv6:2001:db8::1]", NULL };
	static const char *const route[] = { "user@c", NULL };
	static const char *const local[] = { "bob", NULL };
	static const char *const none[] = { NULL };
	static const char *const dup[] = { "a@x", NULL };

	expect_addresses("a@b.example", plain);
	expect_addresses(" a@x ,b@y,\n\tc@z ", list);
	expect_addresses("Alice <alice@x>, \"Bob, the builder\" <bob@y>",
	    named);
	expect_addresses("a@x (a comment, with a comma)", dup);
	expect_addresses("friends: g1@x, g2@x; after@y", group);
	expect_addresses("undisclosed-recipients:;", none);
	expect_addresses("\"john doe\"@x", quoted);
	expect_addresses("u@[IPv6:2001:db8::1]", literal);
	expect_addresses("<@a,@b:user@c>", route);
	expect_addresses("bob", local);
	expect_addresses("a@x, A <a@x>", dup);
	expect_addresses("", none);
}
END_TEST

START_TEST(test_addresses_bad)
{
	struct addr_list	 l;
	char			 err[512];

	memset(&l, 0, sizeof(l));
	ck_assert_int_eq(headers_parse_addresses("John Smith john@x", &l,
	    err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "malformed address"));
	ck_assert_int_eq(headers_parse_addresses("a <b@x", &l, err,
	    sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "unbalanced"));
	ck_assert_int_eq(headers_parse_addresses("\"open@x", &l, err,
	    sizeof(err)), -1);
	ck_assert_int_eq(headers_parse_addresses("<>", &l, err,
	    sizeof(err)), -1);
	ck_assert_int_eq(headers_parse_addresses("<a@x> <b@y>", &l, err,
	    sizeof(err)), -1);
	addr_list_free(&l);
}
END_TEST

START_TEST(test_scan_extract)
{
	struct addr_list	 l;
	struct header_info	 info;
	char			 err[512];
	char			 msg[] =
	    "From: me@x\r\n"
	    "To: Alice <alice@x>,\r\n"
	    "  bob@y\r\n"
	    "cC: carol@z\r\n"
	    "Bcc: secret@w,\r\n"
	    "\tother@w\r\n"
	    "Subject: To: not@me\r\n"
	    "\r\n"
	    "To: body@x\r\n";
	const char		*want =
	    "From: me@x\r\n"
	    "To: Alice <alice@x>,\r\n"
	    "  bob@y\r\n"
	    "cC: carol@z\r\n"
	    "Subject: To: not@me\r\n"
	    "\r\n"
	    "To: body@x\r\n";
	size_t			 len = strlen(msg);

	memset(&l, 0, sizeof(l));
	ck_assert_int_eq(headers_scan(msg, &len, &l, &info, err, sizeof(err)),
	    0);
	ck_assert_uint_eq(l.count, 5);
	ck_assert_str_eq(l.addrs[0], "alice@x");
	ck_assert_str_eq(l.addrs[1], "bob@y");
	ck_assert_str_eq(l.addrs[2], "carol@z");
	ck_assert_str_eq(l.addrs[3], "secret@w");
	ck_assert_str_eq(l.addrs[4], "other@w");
	ck_assert_int_eq(info.has_from, 1);
	ck_assert_int_eq(info.has_date, 0);
	/* Bcc and its continuation are gone, nothing else moved */
	ck_assert_uint_eq(len, strlen(want));
	ck_assert(memcmp(msg, want, len) == 0);
	ck_assert_str_eq(msg + info.body, "To: body@x\r\n");
	addr_list_free(&l);
}
END_TEST

START_TEST(test_scan_no_extract)
{
	struct header_info	 info;
	char			 err[512];
	char			 msg[] = "Subject: hi\nBCC: x@y\nDate: now\n"
	    "Message-ID: <1@x>\n\nbody\n";
	size_t			 len = strlen(msg);

	/* without -t Bcc still goes: it must never reach a recipient */
	ck_assert_int_eq(headers_scan(msg, &len, NULL, &info, err,
	    sizeof(err)), 0);
	ck_assert_str_eq(msg, "Subject: hi\nDate: now\nMessage-ID: <1@x>\n"
	    "\nbody\n");
	ck_assert_uint_eq(len, strlen(msg));
	ck_assert_int_eq(info.has_from, 0);
	ck_assert_int_eq(info.has_date, 1);
	ck_assert_int_eq(info.has_message_id, 1);
}
END_TEST

START_TEST(test_scan_edges)
{
	struct addr_list	 l;
	struct header_info	 info;
	char			 err[512];
	char			 nohead[] = "just a body line\nTo: x@y\n";
	char			 nobody[] = "To: a@x";
	char			 bad[] = "To: John Smith john@x\n\nbody\n";
	size_t			 len;

	memset(&l, 0, sizeof(l));
	len = strlen(nohead);
	ck_assert_int_eq(headers_scan(nohead, &len, &l, &info, err,
	    sizeof(err)), 0);
	ck_assert_uint_eq(l.count, 0);
	ck_assert_uint_eq(info.body, 0);

	len = strlen(nobody);
	ck_assert_int_eq(headers_scan(nobody, &len, &l, &info, err,
	    sizeof(err)), 0);
	ck_assert_uint_eq(l.count, 1);
	ck_assert_uint_eq(info.body, len);

	len = strlen(bad);
	ck_assert_int_eq(headers_scan(bad, &len, &l, &info, err,
	    sizeof(err)), -1);
	ck_assert_msg(strncmp(err, "To header: malformed", 20) == 0, "%s",
	    err);
	addr_list_free(&l);
}
END_TEST

/* makemap_check on a file holding text; the errors it printed. */
static int
check_text(const char *text, enum makemap_type type, char *out,
    size_t outsz)
{
	char	 path[] = "/tmp/test_smtpctl.XXXXXX";
	FILE	*errors;
	size_t	 n;
	int	 fd, r;

	fd = mkstemp(path);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	errors = tmpfile();
	ck_assert_ptr_nonnull(errors);
	r = makemap_check(path, type, errors);
	rewind(errors);
	n = fread(out, 1, outsz - 1, errors);
	out[n] = '\0';
	fclose(errors);
	unlink(path);
	/* the file name varies: keep what follows it */
	if (strncmp(out, path, strlen(path)) == 0)
		memmove(out, out + strlen(path), strlen(out + strlen(path)) +
		    1);
	return r;
}

START_TEST(test_makemap)
{
	char	 out[2048];

	ck_assert_int_eq(check_text("# comment\nroot: alice\nbob bob@x\n",
	    MAKEMAP_ANY, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "");
	ck_assert_int_eq(check_text("", MAKEMAP_ALIASES, out, sizeof(out)),
	    0);
	ck_assert_int_eq(check_text("root: alice, |/bin/cat, /tmp/f\n",
	    MAKEMAP_ALIASES, out, sizeof(out)), 0);

	/* table-static's own errors, with the line */
	ck_assert_int_eq(check_text("root: alice\nroot: bob\n", MAKEMAP_ANY,
	    out, sizeof(out)), -1);
	ck_assert_msg(strncmp(out, ":2: ", 4) == 0, "%s", out);
	ck_assert_int_eq(check_text("a b\nlonely\n", MAKEMAP_ANY, out,
	    sizeof(out)), -1);
	ck_assert_msg(strncmp(out, ":2: ", 4) == 0, "%s", out);

	/* the type's rules */
	ck_assert_int_eq(check_text("a\nb\n", MAKEMAP_SET, out, sizeof(out)),
	    0);
	ck_assert_int_eq(check_text("a b\n", MAKEMAP_SET, out, sizeof(out)),
	    -1);
	ck_assert_msg(strstr(out, ":1: a set is a list") != NULL, "%s", out);
	ck_assert_int_eq(check_text("alice\n", MAKEMAP_ALIASES, out,
	    sizeof(out)), -1);
	ck_assert_msg(strstr(out, ":1: an aliases table") != NULL, "%s", out);

	/* every bad alias is told, not only the first */
	ck_assert_int_eq(check_text("ok: alice\nq: \"unbalanced\n"
	    "fine: bob\nr: \"again\n", MAKEMAP_ALIASES, out, sizeof(out)), -1);
	ck_assert_msg(strstr(out, ":2: q: ") != NULL, "%s", out);
	ck_assert_msg(strstr(out, ":4: r: ") != NULL, "%s", out);
	ck_assert_msg(strstr(out, ":3:") == NULL, "%s", out);

	ck_assert_int_eq(makemap_check("/nonexistent/table", MAKEMAP_ANY,
	    tmpfile()), -1);
}
END_TEST

START_TEST(test_stats)
{
	struct control_sample	 a, b;
	char			*text, line[256];

	control_stats_clear();
	ck_assert_int_eq(control_stats_add("smtp.session", 1), 0);
	ck_assert_int_eq(control_stats_add("smtp.session", 1), 0);
	ck_assert_int_eq(control_stats_add("queue.bounce", 3), 0);
	ck_assert_int_eq(control_stats_add("zz.last", -2), 0);
	ck_assert_int_eq(control_stats_add("bad key", 1), -1);
	ck_assert_int_eq(control_stats_add("", 1), -1);
	ck_assert_int_eq(control_stats_add("a..b", 1), -1);
	ck_assert_int_eq(control_stats_value("smtp.session"), 2);
	ck_assert_int_eq(control_stats_value("unknown"), 0);

	text = control_stats_render(90061);
	ck_assert_ptr_nonnull(text);
	ck_assert_str_eq(text,
	    "queue.bounce=3\n"
	    "smtp.session=2\n"
	    "uptime=90061\n"
	    "uptime.human=1d1h1m1s\n"
	    "zz.last=-2\n");
	free(text);

	control_stats_sample(&a);
	control_stats_add("smtp.session", 1);
	control_stats_add("smtp.session", -2);
	control_stats_add("scheduler.envelope", 4);
	control_stats_add("scheduler.delivery.ok", 1);
	control_stats_sample(&b);
	control_stats_monitor_line(&a, &b, line, sizeof(line));
	/* clients: 1 now, 1 new, 2 gone; envelopes: 4, 4 in; 1 ok */
	ck_assert_str_eq(line,
	    "    1    1    2      4    4    0     1       0        0  "
	    "      0       0      0\n");
	ck_assert_ptr_nonnull(strstr(control_stats_monitor_header(),
	    "curr"));
	control_stats_clear();
	ck_assert_int_eq(control_stats_value("smtp.session"), 0);
}
END_TEST

START_TEST(test_duration)
{
	char	 buf[64];

	ck_assert_str_eq(control_stats_duration(0, buf, sizeof(buf)), "0s");
	ck_assert_str_eq(control_stats_duration(59, buf, sizeof(buf)), "59s");
	ck_assert_str_eq(control_stats_duration(3600, buf, sizeof(buf)),
	    "1h");
	ck_assert_str_eq(control_stats_duration(86400 * 2 + 61, buf,
	    sizeof(buf)), "2d1m1s");
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("smtpctl");
	TCase	*tc = tcase_create("pure");
	SRunner	*sr;
	int	 failed;

	tcase_add_test(tc, test_commands_full);
	tcase_add_test(tc, test_commands_prefixes);
	tcase_add_test(tc, test_commands_errors);
	tcase_add_test(tc, test_valid_id);
	tcase_add_test(tc, test_addresses);
	tcase_add_test(tc, test_addresses_bad);
	tcase_add_test(tc, test_scan_extract);
	tcase_add_test(tc, test_scan_no_extract);
	tcase_add_test(tc, test_scan_edges);
	tcase_add_test(tc, test_makemap);
	tcase_add_test(tc, test_stats);
	tcase_add_test(tc, test_duration);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
