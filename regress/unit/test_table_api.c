/*
 * test_table_api.c: table helpers through the real protocol.  The test
 * is the owner: imsgproc spawns tables/table-static/table-static and
 * tables/table-getpwnam/table-getpwnam (run from the top of the tree)
 * and sends CHECK, LOOKUP, FETCH and UPDATE frames, well-formed and
 * not.  Waits are on conditions with a generous deadline.
 */
#include <sys/types.h>

#include <check.h>
#include <event.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "smtpd-api.h"

#define WAIT_SEC	60
#define STATIC_PATH	"tables/table-static/table-static"
#define GETPWNAM_PATH	"tables/table-getpwnam/table-getpwnam"
#define EXAMPLE_PATH	"examples/table-example/table-example"

struct watch {
	int		 ready;
	uint64_t	 caps;
	int		 down;
};

struct answer {
	int		 called;
	int		 result;	/* imsgproc result */
	int32_t		 r;		/* the table's answer */
	char		 value[TABLE_VALUE_MAX];
	int		 decoded;	/* body read to its end */
};

static struct event_base	*base;
static struct event		*tick;
static struct watch		 w;
static char			 dir[64];
static char			 path[128];

static void
on_tick(evutil_socket_t fd, short ev, void *arg)
{
}

static void
setup(void)
{
	struct timeval	 tv = { 0, 50000 };

	log_init(1, "test_table_api");
	memset(&w, 0, sizeof(w));
	ck_assert_ptr_nonnull(base = event_base_new());
	tick = event_new(base, -1, EV_PERSIST, on_tick, NULL);
	event_add(tick, &tv);
	strlcpy(dir, "/tmp/test_table_api.XXXXXX", sizeof(dir));
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/table", dir);
}

static void
teardown(void)
{
	event_free(tick);
	event_base_dispatch(base);
	event_base_free(base);
	unlink(path);
	rmdir(dir);
}

static void
write_file(const char *text)
{
	char	 tmp[160];
	FILE	*fp;

	/* Replaced by rename, as an admin's editor would. */
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	ck_assert_ptr_nonnull(fp = fopen(tmp, "w"));
	ck_assert_int_eq(fputs(text, fp) >= 0, 1);
	ck_assert_int_eq(fclose(fp), 0);
	ck_assert_int_eq(rename(tmp, path), 0);
}

static void
wait_int(const int *flag, int want)
{
	time_t	 end = time(NULL) + WAIT_SEC;

	while (*flag < want) {
		ck_assert_msg(time(NULL) < end, "condition not met in %d s",
		    WAIT_SEC);
		event_base_loop(base, EVLOOP_ONCE);
	}
}

static void
on_ready(struct imsgproc *p, uint64_t caps, const char *hname, void *arg)
{
	w.ready++;
	w.caps = caps;
}

static void
on_down(struct imsgproc *p, const char *why, void *arg)
{
	w.down++;
}

static struct imsgproc *
start(const char *cmdline, const char *config)
{
	struct imsgproc_params	 params;
	struct imsgproc		*p;
	char			 err[128], **argv;

	ck_assert_ptr_nonnull(argv = imsgproc_argv_split(cmdline, err,
	    sizeof(err)));
	memset(&params, 0, sizeof(params));
	params.role = HELPER_ROLE_TABLE;
	params.name = "test";
	params.argv = argv;
	params.config = config ? config : "";
	params.restart = IMSGPROC_NO_RESTART;
	params.fd = -1;
	params.timeout_ms = 20000;
	params.handshake_ms = 20000;
	params.on_ready = on_ready;
	params.on_down = on_down;
	ck_assert_ptr_nonnull(p = imsgproc_start(base, &params));
	imsgproc_argv_free(argv);
	return p;
}

static struct imsgproc *
start_ready(const char *cmdline, const char *config)
{
	struct imsgproc	*p = start(cmdline, config);

	wait_int(&w.ready, 1);
	return p;
}

static void
stop(struct imsgproc *p)
{
	imsgproc_stop(p);
	imsgproc_free(p);
}

static void
on_answer(struct imsgproc *p, int result, struct imsg *imsg,
    struct msg_reader *rd, void *arg)
{
	struct answer	*a = arg;
	char		*value;

	a->called = 1;
	a->result = result;
	if (result != IMSGPROC_REPLY)
		return;
	ck_assert_int_eq(msg_get_int32(rd, &a->r), 0);
	if (msg_peek_type(rd) == MSG_STRING) {
		ck_assert_int_eq(msg_get_string(rd, &value), 0);
		strlcpy(a->value, value, sizeof(a->value));
		free(value);
	}
	a->decoded = msg_end(rd) == 0;
}

/* Send a frame with this body and wait for its answer. */
static struct answer *
send_body(struct imsgproc *p, uint32_t type, struct msg *body)
{
	static struct answer	 a;

	memset(&a, 0, sizeof(a));
	ck_assert_int_eq(msg_error(body), 0);
	imsgproc_request(p, type, body, -1, 0, on_answer, &a);
	wait_int(&a.called, 1);
	ck_assert_msg(a.result == IMSGPROC_REPLY, "no answer: %s",
	    imsgproc_result_name(a.result));
	ck_assert_int_eq(a.decoded, 1);
	return &a;
}

static struct answer *
request(struct imsgproc *p, uint32_t type, enum table_service s,
    const char *key)
{
	struct answer	*a;
	struct msg	 body;

	msg_init(&body);
	if (type != IMSG_TABLE_UPDATE)
		msg_add_uint32(&body, s);
	if (key != NULL)
		msg_add_string(&body, key);
	a = send_body(p, type, &body);
	msg_free(&body);
	return a;
}

/* "value" when found, "" when not, "-1" on a temporary failure. */
static const char *
lookup(struct imsgproc *p, enum table_service s, const char *key)
{
	struct answer	*a = request(p, IMSG_TABLE_LOOKUP, s, key);

	if (a->r == 1)
		return a->value;
	ck_assert_str_eq(a->value, "");
	return a->r == 0 ? "" : "-1";
}

static int
check(struct imsgproc *p, enum table_service s, const char *key)
{
	return request(p, IMSG_TABLE_CHECK, s, key)->r;
}

static const char *
fetch(struct imsgproc *p, enum table_service s)
{
	struct answer	*a = request(p, IMSG_TABLE_FETCH, s, NULL);

	return a->r == 1 ? a->value : a->r == 0 ? "" : "-1";
}

static int
update(struct imsgproc *p)
{
	return request(p, IMSG_TABLE_UPDATE, K_NONE, NULL)->r;
}

START_TEST(test_static_file)
{
	struct imsgproc	*p;
	char		 cmd[256];

	write_file("root: gilles\nabuse root, eric@example.org\n");
	snprintf(cmd, sizeof(cmd), "%s %s", STATIC_PATH, path);
	p = start_ready(cmd, NULL);
	ck_assert_uint_eq(w.caps, K_ALIAS | K_DOMAIN | K_CREDENTIALS |
	    K_NETADDR | K_MAILADDR | K_ADDRNAME | K_MAILADDRMAP |
	    K_RELAYHOST | K_STRING);
	ck_assert_str_eq(lookup(p, K_ALIAS, "root"), "gilles");
	ck_assert_str_eq(lookup(p, K_ALIAS, "abuse"),
	    "root, eric@example.org");
	ck_assert_str_eq(lookup(p, K_ALIAS, "nobody"), "");
	ck_assert_int_eq(check(p, K_ALIAS, "root"), 1);
	ck_assert_int_eq(check(p, K_ALIAS, "nobody"), 0);
	/* A mapping has nothing to hand out in turn. */
	ck_assert_str_eq(fetch(p, K_STRING), "-1");
	stop(p);
}
END_TEST

START_TEST(test_static_list)
{
	struct imsgproc	*p;
	char		 cmd[256];

	write_file("192.0.2.1\n192.0.2.2\n10.0.0.0/8\n[2001:db8::]/32\n"
	    "*.example.org\n");
	snprintf(cmd, sizeof(cmd), "%s %s", STATIC_PATH, path);
	p = start_ready(cmd, NULL);
	ck_assert_uint_eq(w.caps, K_DOMAIN | K_NETADDR | K_SOURCE |
	    K_MAILADDR | K_RELAYHOST | K_STRING);
	ck_assert_int_eq(check(p, K_NETADDR, "10.1.2.3"), 1);
	ck_assert_int_eq(check(p, K_NETADDR, "2001:db8::1"), 1);
	ck_assert_int_eq(check(p, K_NETADDR, "11.1.2.3"), 0);
	ck_assert_int_eq(check(p, K_DOMAIN, "mx.example.org"), 1);
	ck_assert_int_eq(check(p, K_DOMAIN, "example.org"), 0);
	ck_assert_str_eq(fetch(p, K_SOURCE), "192.0.2.1");
	ck_assert_str_eq(fetch(p, K_SOURCE), "192.0.2.2");
	ck_assert_str_eq(fetch(p, K_SOURCE), "10.0.0.0/8");
	stop(p);
}
END_TEST

START_TEST(test_static_update)
{
	struct imsgproc	*p;
	char		 cmd[256];

	write_file("root gilles\n");
	snprintf(cmd, sizeof(cmd), "%s %s", STATIC_PATH, path);
	p = start_ready(cmd, NULL);
	ck_assert_str_eq(lookup(p, K_ALIAS, "root"), "gilles");

	write_file("root eric\npostmaster root\n");
	ck_assert_int_eq(update(p), 1);
	ck_assert_str_eq(lookup(p, K_ALIAS, "root"), "eric");
	ck_assert_str_eq(lookup(p, K_ALIAS, "postmaster"), "root");

	/* A broken file fails the update and keeps the old contents. */
	write_file("root chl\nroot chl\n");
	ck_assert_int_eq(update(p), -1);
	ck_assert_str_eq(lookup(p, K_ALIAS, "root"), "eric");
	ck_assert_str_eq(lookup(p, K_ALIAS, "postmaster"), "root");

	/* A file gone is no different. */
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(update(p), -1);
	ck_assert_str_eq(lookup(p, K_ALIAS, "root"), "eric");

	write_file("root chl\n");
	ck_assert_int_eq(update(p), 1);
	ck_assert_str_eq(lookup(p, K_ALIAS, "root"), "chl");
	ck_assert_str_eq(lookup(p, K_ALIAS, "postmaster"), "");
	ck_assert_int_eq(w.down, 0);
	stop(p);
}
END_TEST

START_TEST(test_static_inline)
{
	struct imsgproc	*p;

	p = start_ready(STATIC_PATH, "root gilles\nabuse root\n");
	/* READY comes before the inline table is read: all is offered. */
	ck_assert_uint_eq(w.caps, K_ANY);
	ck_assert_str_eq(lookup(p, K_ALIAS, "root"), "gilles");
	ck_assert_int_eq(check(p, K_STRING, "abuse"), 1);
	/* What a mapping cannot serve fails instead. */
	ck_assert_str_eq(fetch(p, K_SOURCE), "-1");
	ck_assert_int_eq(update(p), 1);
	stop(p);
}
END_TEST

START_TEST(test_static_inline_broken)
{
	struct imsgproc	*p;

	p = start_ready(STATIC_PATH, "a.example.org\na.example.org\n");
	ck_assert_int_eq(check(p, K_DOMAIN, "a.example.org"), -1);
	ck_assert_int_eq(update(p), -1);
	stop(p);
}
END_TEST

/* A broken file: exit status 1 and "file:line: what" on stderr. */
START_TEST(test_static_startup_error)
{
	struct imsgproc	*p;
	char		 cmd[256], logpath[160], text[1024], want[512];
	int		 fd, saved;
	ssize_t		 n;

	write_file("root gilles\nROOT eric\n");
	snprintf(cmd, sizeof(cmd), "%s %s", STATIC_PATH, path);
	snprintf(logpath, sizeof(logpath), "%s/stderr", dir);
	ck_assert_int_ne(fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC,
	    0600), -1);
	saved = dup(STDERR_FILENO);
	dup2(fd, STDERR_FILENO);
	close(fd);

	p = start(cmd, NULL);
	wait_int(&w.down, 1);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	ck_assert_int_eq(w.ready, 0);
	ck_assert_int_ne(imsgproc_state(p), IMSGPROC_RUNNING);
	stop(p);

	ck_assert_int_ne(fd = open(logpath, O_RDONLY), -1);
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	unlink(logpath);
	ck_assert_int_gt(n, 0);
	text[n] = '\0';
	snprintf(want, sizeof(want), "table-static: %s:2: duplicate key "
	    "\"root\" (first on line 1)\n", path);
	ck_assert_msg(strstr(text, want) != NULL, "stderr was: %s", text);
}
END_TEST

/* Requests the callbacks must never see get -1, and the helper lives. */
START_TEST(test_bad_requests)
{
	struct imsgproc	*p;
	struct answer	 with_fd;
	struct msg	 body;
	char		 cmd[256], key[TABLE_KEY_MAX + 2];
	int		 fd;

	write_file("root gilles\n");
	snprintf(cmd, sizeof(cmd), "%s %s", STATIC_PATH, path);
	p = start_ready(cmd, NULL);

	/* Unknown service, several services at once, unannounced one. */
	ck_assert_int_eq(check(p, 0x2000, "root"), -1);
	ck_assert_int_eq(check(p, K_ALIAS | K_STRING, "root"), -1);
	ck_assert_int_eq(check(p, K_NONE, "root"), -1);
	ck_assert_str_eq(lookup(p, K_USERINFO, "root"), "-1");
	ck_assert_str_eq(fetch(p, K_SOURCE), "-1");

	/* A key of TABLE_KEY_MAX bytes is fine, one more is not. */
	memset(key, 'a', TABLE_KEY_MAX);
	key[TABLE_KEY_MAX] = '\0';
	ck_assert_int_eq(check(p, K_ALIAS, key), 0);
	key[TABLE_KEY_MAX] = 'a';
	key[TABLE_KEY_MAX + 1] = '\0';
	ck_assert_int_eq(check(p, K_ALIAS, key), -1);

	/* Malformed bodies: missing key, wrong types, trailing field. */
	msg_init(&body);
	msg_add_uint32(&body, K_ALIAS);
	ck_assert_int_eq(send_body(p, IMSG_TABLE_LOOKUP, &body)->r, -1);
	msg_reset(&body);
	msg_add_int32(&body, K_ALIAS);
	msg_add_string(&body, "root");
	ck_assert_int_eq(send_body(p, IMSG_TABLE_CHECK, &body)->r, -1);
	msg_reset(&body);
	msg_add_uint32(&body, K_ALIAS);
	msg_add_data(&body, "root", 4);
	ck_assert_int_eq(send_body(p, IMSG_TABLE_LOOKUP, &body)->r, -1);
	msg_reset(&body);
	msg_add_uint32(&body, K_ALIAS);
	msg_add_string(&body, "root");
	msg_add_string(&body, "extra");
	ck_assert_int_eq(send_body(p, IMSG_TABLE_LOOKUP, &body)->r, -1);
	msg_reset(&body);
	msg_add_uint32(&body, K_STRING);
	msg_add_uint32(&body, 0);
	ck_assert_int_eq(send_body(p, IMSG_TABLE_FETCH, &body)->r, -1);
	msg_reset(&body);
	msg_add_string(&body, "what");
	ck_assert_int_eq(send_body(p, IMSG_TABLE_UPDATE, &body)->r, -1);
	/* A frame type tables do not know. */
	msg_reset(&body);
	msg_add_string(&body, "hello");
	ck_assert_int_eq(send_body(p, 150, &body)->r, -1);
	msg_free(&body);

	/* A descriptor has no business with a table: closed, answered. */
	ck_assert_int_ne(fd = open("/dev/null", O_RDONLY), -1);
	memset(&with_fd, 0, sizeof(with_fd));
	msg_init(&body);
	msg_add_uint32(&body, K_ALIAS);
	msg_add_string(&body, "root");
	imsgproc_request(p, IMSG_TABLE_CHECK, &body, fd, 0, on_answer,
	    &with_fd);
	msg_free(&body);
	wait_int(&with_fd.called, 1);
	ck_assert_int_eq(with_fd.result, IMSGPROC_REPLY);
	ck_assert_int_eq(with_fd.r, 1);

	/* Still serving, never restarted. */
	ck_assert_str_eq(lookup(p, K_ALIAS, "root"), "gilles");
	ck_assert_int_eq(w.down, 0);
	ck_assert_uint_eq(imsgproc_restarts(p), 0);
	stop(p);
}
END_TEST

START_TEST(test_getpwnam)
{
	struct imsgproc	*p;
	struct passwd	*pw;
	char		 want[TABLE_VALUE_MAX];

	ck_assert_ptr_nonnull(pw = getpwuid(getuid()));
	snprintf(want, sizeof(want), "%lu:%lu:%s", (unsigned long)pw->pw_uid,
	    (unsigned long)pw->pw_gid, pw->pw_dir);

	p = start_ready(GETPWNAM_PATH, NULL);
	ck_assert_uint_eq(w.caps, K_USERINFO);
	ck_assert_str_eq(lookup(p, K_USERINFO, pw->pw_name), want);
	ck_assert_int_eq(check(p, K_USERINFO, pw->pw_name), 1);
	ck_assert_str_eq(lookup(p, K_USERINFO, "no-such-user-here"), "");
	ck_assert_int_eq(check(p, K_USERINFO, "no-such-user-here"), 0);
	/* Only userinfo is served; UPDATE has nothing to do. */
	ck_assert_str_eq(lookup(p, K_ALIAS, pw->pw_name), "-1");
	ck_assert_int_eq(update(p), 1);
	stop(p);
}
END_TEST

/* The example of table_api(3) works as its man page says. */
START_TEST(test_example)
{
	struct imsgproc	*p;

	p = start_ready(EXAMPLE_PATH, NULL);
	ck_assert_uint_eq(w.caps, K_ALIAS);
	ck_assert_str_eq(lookup(p, K_ALIAS, "abuse"), "root");
	ck_assert_int_eq(check(p, K_ALIAS, "nobody"), 0);
	/* No fetch callback: -1; no update callback: 1. */
	ck_assert_str_eq(fetch(p, K_ALIAS), "-1");
	ck_assert_int_eq(update(p), 1);
	stop(p);
}
END_TEST

START_TEST(test_service_names)
{
	enum table_service	 s;

	for (s = K_ALIAS; s <= K_REGEX; s <<= 1)
		ck_assert_uint_eq(table_service_from_name(
		    table_service_name(s)), s);
	ck_assert_str_eq(table_service_name(K_MAILADDRMAP), "mailaddrmap");
	ck_assert_uint_eq(table_service_from_name("netaddr"), K_NETADDR);
	ck_assert_uint_eq(table_service_from_name("nosuch"), K_NONE);
	ck_assert_uint_eq(table_service_from_name(NULL), K_NONE);
	ck_assert_str_eq(table_service_name(0x4000), "unknown");
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("table_api");
	TCase	*tc = tcase_create("protocol");
	SRunner	*sr;
	int	 failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_static_file);
	tcase_add_test(tc, test_static_list);
	tcase_add_test(tc, test_static_update);
	tcase_add_test(tc, test_static_inline);
	tcase_add_test(tc, test_static_inline_broken);
	tcase_add_test(tc, test_static_startup_error);
	tcase_add_test(tc, test_bad_requests);
	tcase_add_test(tc, test_getpwnam);
	tcase_add_test(tc, test_example);
	tcase_add_test(tc, test_service_names);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
