/*
 * test_imsgproc.c: the owner's side of helpers, against the fake
 * helpers regress/unit/helper_echo and helper_raw (run from the top of
 * the tree).  Waits are on conditions with a generous deadline; the
 * short request deadlines used here are not timing assertions.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <check.h>
#include <errno.h>
#include <event.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "smtpd-api.h"
#include "helper_test.h"

#define WAIT_SEC	30
#define ECHO_PATH	"regress/unit/helper_echo"
#define RAW_PATH	"regress/unit/helper_raw"

struct watch {
	int		 ready;
	uint64_t	 caps;
	char		 hname[64];
	int		 down;
	char		 why[256];
	int		 down_state;
	struct answer	*down_echo;	/* request sent from on_down */
	int		 frames;
	uint32_t	 frame_type;
	char		 frame_text[64];
};

struct answer {
	int		 called;
	int		 result;
	char		 text[128];
	int		 fd;
	int		 leave_fd;	/* let imsgproc close it */
	int		 seen_fd;	/* the one left */
	/* re-entrancy tests */
	struct imsgproc	*free_it;
	struct imsgproc	*stop_it;
	struct answer	*chain;	/* send another echo from the callback */
};

static uint64_t	 echo(struct imsgproc *, const char *, int,
		    struct answer *);

static struct event_base	*base;
static struct event		*tick;
static struct watch		 w;

static void
on_tick(evutil_socket_t fd, short ev, void *arg)
{
}

static void
setup(void)
{
	struct timeval	 tv = { 0, 50000 };

	log_init(1, "test_imsgproc");
	log_setverbose(1);
	memset(&w, 0, sizeof(w));
	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	/* So that one loop turn never waits long for nothing. */
	tick = event_new(base, -1, EV_PERSIST, on_tick, NULL);
	event_add(tick, &tv);
}

static void
teardown(void)
{
	time_t	 end = time(NULL) + WAIT_SEC;

	event_free(tick);
	/* Only reapers should remain: let them finish with the children. */
	while (event_base_get_num_events(base, EVENT_BASE_COUNT_ADDED) > 0 &&
	    time(NULL) < end)
		event_base_loop(base, EVLOOP_ONCE);
	event_base_free(base);
}

/* Turn the loop until *flag >= want; fails the test after WAIT_SEC. */
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
wait_state(struct imsgproc *p, enum imsgproc_state st)
{
	time_t	 end = time(NULL) + WAIT_SEC;

	while (imsgproc_state(p) != st) {
		ck_assert_msg(time(NULL) < end, "state %d not reached, is %d",
		    st, imsgproc_state(p));
		event_base_loop(base, EVLOOP_ONCE);
	}
}

static void
on_ready(struct imsgproc *p, uint64_t caps, const char *hname, void *arg)
{
	struct watch	*wp = arg;

	wp->ready++;
	wp->caps = caps;
	strlcpy(wp->hname, hname, sizeof(wp->hname));
}

static void
on_down(struct imsgproc *p, const char *why, void *arg)
{
	struct watch	*wp = arg;

	wp->down++;
	strlcpy(wp->why, why, sizeof(wp->why));
	wp->down_state = imsgproc_state(p);
	if (wp->down_echo != NULL) {
		/* Made while in BACKOFF: queued until the restart is READY. */
		ck_assert_uint_ne(echo(p, "queued", -1, wp->down_echo), 0);
		wp->down_echo = NULL;
	}
}

static void
on_frame(struct imsgproc *p, struct imsg *imsg, struct msg_reader *rd,
    void *arg)
{
	struct watch	*wp = arg;
	char		*s;

	wp->frames++;
	wp->frame_type = imsg->hdr.type;
	if (msg_get_string(rd, &s) == 0) {
		strlcpy(wp->frame_text, s, sizeof(wp->frame_text));
		free(s);
	}
}

static struct imsgproc *
start(const char *path, const char *mode, int restart)
{
	struct imsgproc_params	 params;
	char			*argv[3];

	argv[0] = (char *)path;
	argv[1] = (char *)mode;
	argv[2] = NULL;
	memset(&params, 0, sizeof(params));
	params.role = TEST_ROLE;
	params.name = "t1";
	params.config = "some config";
	params.argv = argv;
	params.fd = -1;
	params.restart = restart;
	params.backoff_min_ms = 20;
	params.backoff_max_ms = 100;
	params.handshake_ms = 30000;
	params.on_ready = on_ready;
	params.on_down = on_down;
	params.on_frame = on_frame;
	params.arg = &w;
	return imsgproc_start(base, &params);
}

static void
on_answer(struct imsgproc *p, int result, struct imsg *imsg,
    struct msg_reader *rd, void *arg)
{
	struct answer	*a = arg;
	char		*s;

	a->called++;
	a->result = result;
	a->fd = -1;
	if (result == IMSGPROC_REPLY) {
		ck_assert_ptr_nonnull(imsg);
		ck_assert_ptr_nonnull(rd);
		if (imsg->hdr.type == T_ECHO && msg_get_string(rd, &s) == 0) {
			strlcpy(a->text, s, sizeof(a->text));
			free(s);
		}
		a->seen_fd = imsg->fd;
		if (!a->leave_fd) {
			a->fd = imsg->fd;	/* taken */
			imsg->fd = -1;
		}
	} else {
		ck_assert_ptr_null(imsg);
		ck_assert_ptr_null(rd);
	}
	if (a->chain != NULL) {
		struct msg	 m;

		msg_init(&m);
		msg_add_string(&m, "chained");
		ck_assert_uint_ne(imsgproc_request(p, T_ECHO, &m, -1, 0,
		    on_answer, a->chain), 0);
		msg_free(&m);
	}
	if (a->stop_it != NULL)
		imsgproc_stop(a->stop_it);
	if (a->free_it != NULL)
		imsgproc_free(a->free_it);
}

static uint64_t
echo(struct imsgproc *p, const char *text, int fd, struct answer *a)
{
	struct msg	 m;
	uint64_t	 id;

	msg_init(&m);
	msg_add_string(&m, text);
	id = imsgproc_request(p, T_ECHO, &m, fd, 0, on_answer, a);
	msg_free(&m);
	return id;
}

static uint64_t
bare(struct imsgproc *p, uint32_t type, int timeout_ms, struct answer *a)
{
	return imsgproc_request(p, type, NULL, -1, timeout_ms, on_answer, a);
}

START_TEST(test_handshake)
{
	struct imsgproc	*p;

	log_settrace(TRACE_IMSG);
	p = start(ECHO_PATH, NULL, 0);
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(imsgproc_state(p), IMSGPROC_STARTING);
	ck_assert_int_gt(imsgproc_pid(p), 0);
	wait_int(&w.ready, 1);
	ck_assert_int_eq(imsgproc_state(p), IMSGPROC_RUNNING);
	ck_assert_uint_eq(w.caps, TEST_CAPABILITIES);
	ck_assert_uint_eq(imsgproc_capabilities(p), TEST_CAPABILITIES);
	ck_assert_str_eq(w.hname, TEST_HELPER_NAME);
	ck_assert_str_eq(imsgproc_name(p), "t1");
	ck_assert_uint_eq(imsgproc_restarts(p), 0);
	log_settrace(0);
	imsgproc_free(p);
	ck_assert_int_eq(w.down, 1);
	ck_assert_str_eq(w.why, "stopped");
}
END_TEST

/* What HELLO carried reaches the helper: name, config, verbose, trace. */
struct info {
	int	 called;
	char	 name[64];
	char	 config[64];
	uint32_t verbose;
	uint32_t trace;
};

static void
on_info(struct imsgproc *p, int result, struct imsg *imsg,
    struct msg_reader *rd, void *arg)
{
	struct info	*in = arg;
	char		*name, *config;

	ck_assert_int_eq(result, IMSGPROC_REPLY);
	ck_assert_int_eq(msg_get_string(rd, &name), 0);
	ck_assert_int_eq(msg_get_string(rd, &config), 0);
	ck_assert_int_eq(msg_get_uint32(rd, &in->verbose), 0);
	ck_assert_int_eq(msg_get_uint32(rd, &in->trace), 0);
	ck_assert_int_eq(msg_end(rd), 0);
	strlcpy(in->name, name, sizeof(in->name));
	strlcpy(in->config, config, sizeof(in->config));
	free(name);
	free(config);
	in->called++;
}

START_TEST(test_hello_fields)
{
	struct imsgproc	*p;
	struct info	 in;

	memset(&in, 0, sizeof(in));
	log_settrace(TRACE_LOOKUP | TRACE_QUEUE);
	p = start(ECHO_PATH, NULL, 0);
	log_settrace(0);
	ck_assert_ptr_nonnull(p);
	/* Made while STARTING: queued until READY. */
	ck_assert_uint_ne(imsgproc_request(p, T_INFO, NULL, -1, 0, on_info,
	    &in), 0);
	wait_int(&in.called, 1);
	ck_assert_str_eq(in.name, "t1");
	ck_assert_str_eq(in.config, "some config");
	ck_assert_uint_eq(in.verbose, 1);
	ck_assert_uint_eq(in.trace, TRACE_LOOKUP | TRACE_QUEUE);
	imsgproc_free(p);
}
END_TEST

START_TEST(test_version_mismatch)
{
	struct imsgproc	*p;
	struct answer	 a;

	memset(&a, 0, sizeof(a));
	p = start(RAW_PATH, "badversion", 0);
	ck_assert_ptr_nonnull(p);
	wait_state(p, IMSGPROC_FAILED);
	ck_assert_int_eq(w.ready, 0);
	ck_assert_int_eq(w.down, 1);
	ck_assert_ptr_nonnull(strstr(w.why, "speaks API version 999"));
	ck_assert_ptr_nonnull(strstr(w.why, "not using it"));
	ck_assert_uint_eq(bare(p, T_SILENT, 0, &a), 0);
	ck_assert_int_eq(a.called, 0);		/* from the loop, later */
	wait_int(&a.called, 1);
	ck_assert_int_eq(a.result, IMSGPROC_UNUSABLE);
	ck_assert_int_eq(imsgproc_state(p), IMSGPROC_FAILED);
	ck_assert_uint_eq(imsgproc_restarts(p), 0);
	imsgproc_free(p);
	ck_assert_int_eq(a.called, 1);
}
END_TEST

START_TEST(test_bad_ready)
{
	struct imsgproc	*p;

	p = start(RAW_PATH, "badready", 0);
	ck_assert_ptr_nonnull(p);
	wait_state(p, IMSGPROC_FAILED);
	ck_assert_ptr_nonnull(strstr(w.why, "malformed READY"));
	ck_assert_uint_eq(imsgproc_restarts(p), 0);
	imsgproc_free(p);
}
END_TEST

START_TEST(test_handshake_timeout)
{
	struct imsgproc_params	 params;
	struct imsgproc		*p;
	char			*argv[] = { RAW_PATH, "mute", NULL };

	memset(&params, 0, sizeof(params));
	params.role = TEST_ROLE;
	params.name = "mute";
	params.argv = argv;
	params.fd = -1;
	params.handshake_ms = 200;
	params.backoff_min_ms = 20;
	params.on_down = on_down;
	params.arg = &w;
	p = imsgproc_start(base, &params);
	ck_assert_ptr_nonnull(p);
	wait_int(&w.down, 2);
	ck_assert_ptr_nonnull(strstr(w.why, "no READY"));
	ck_assert_uint_ge(imsgproc_restarts(p), 1);
	imsgproc_free(p);
}
END_TEST

START_TEST(test_echo_fd)
{
	struct imsgproc	*p;
	struct answer	 a;
	struct stat	 sb1, sb2;
	char		 buf[64];
	int		 pfd[2];
	ssize_t		 n;

	memset(&a, 0, sizeof(a));
	p = start(ECHO_PATH, NULL, 0);
	ck_assert_ptr_nonnull(p);
	wait_int(&w.ready, 1);
	ck_assert_int_eq(pipe(pfd), 0);
	ck_assert_uint_ne(echo(p, "hello, helper", pfd[1], &a), 0);
	wait_int(&a.called, 1);
	ck_assert_int_eq(a.result, IMSGPROC_REPLY);
	ck_assert_str_eq(a.text, "hello, helper");
	/* The helper wrote into the descriptor and sent it back. */
	ck_assert_int_ne(a.fd, -1);
	ck_assert_int_eq(fstat(a.fd, &sb1), 0);
	ck_assert_int_eq(fstat(pfd[0], &sb2), 0);
	ck_assert(sb1.st_ino == sb2.st_ino && sb1.st_dev == sb2.st_dev);
	close(a.fd);
	n = read(pfd[0], buf, sizeof(buf) - 1);
	ck_assert_int_eq(n, 13);
	buf[n] = '\0';
	ck_assert_str_eq(buf, "hello, helper");
	close(pfd[0]);
	imsgproc_free(p);
}
END_TEST

/* A descriptor the callback does not take is closed, not leaked. */
START_TEST(test_reply_fd_closed)
{
	struct imsgproc	*p;
	struct answer	 a;
	struct stat	 sb, pipe_sb;
	int		 pfd[2];

	memset(&a, 0, sizeof(a));
	a.leave_fd = 1;
	p = start(ECHO_PATH, NULL, 0);
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(pipe(pfd), 0);
	ck_assert_int_eq(fstat(pfd[0], &pipe_sb), 0);
	ck_assert_uint_ne(echo(p, "x", pfd[1], &a), 0);
	wait_int(&a.called, 1);
	ck_assert_int_eq(a.result, IMSGPROC_REPLY);
	ck_assert_int_ge(a.seen_fd, 0);
	/* Closed after the callback (or its number reused for another). */
	ck_assert(fstat(a.seen_fd, &sb) == -1 ||
	    sb.st_ino != pipe_sb.st_ino || sb.st_dev != pipe_sb.st_dev);
	close(pfd[0]);
	imsgproc_free(p);
}
END_TEST

START_TEST(test_many_requests)
{
	struct imsgproc	*p;
	struct answer	 a[200];
	char		 text[32];
	int		 i, total;

	memset(a, 0, sizeof(a));
	p = start(ECHO_PATH, NULL, 0);
	ck_assert_ptr_nonnull(p);
	/* Half while STARTING (queued), half once RUNNING. */
	for (i = 0; i < 100; i++) {
		snprintf(text, sizeof(text), "request %d", i);
		ck_assert_uint_ne(echo(p, text, -1, &a[i]), 0);
	}
	wait_int(&w.ready, 1);
	for (i = 100; i < 200; i++) {
		snprintf(text, sizeof(text), "request %d", i);
		ck_assert_uint_ne(echo(p, text, -1, &a[i]), 0);
	}
	for (i = 0; i < 200; i++)
		wait_int(&a[i].called, 1);
	for (i = 0, total = 0; i < 200; i++) {
		snprintf(text, sizeof(text), "request %d", i);
		ck_assert_int_eq(a[i].result, IMSGPROC_REPLY);
		ck_assert_str_eq(a[i].text, text);
		total += a[i].called;
	}
	ck_assert_int_eq(total, 200);
	imsgproc_free(p);
}
END_TEST

START_TEST(test_timeout)
{
	struct imsgproc	*p;
	struct answer	 a, b;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	p = start(ECHO_PATH, NULL, 0);
	ck_assert_ptr_nonnull(p);
	wait_int(&w.ready, 1);
	ck_assert_uint_ne(bare(p, T_SILENT, 200, &a), 0);
	wait_int(&a.called, 1);
	ck_assert_int_eq(a.result, IMSGPROC_TIMEOUT);
	/* The helper is still fine. */
	ck_assert_uint_ne(echo(p, "after", -1, &b), 0);
	wait_int(&b.called, 1);
	ck_assert_int_eq(b.result, IMSGPROC_REPLY);
	ck_assert_str_eq(b.text, "after");
	ck_assert_int_eq(a.called, 1);
	imsgproc_free(p);
}
END_TEST

START_TEST(test_killed_restart)
{
	struct imsgproc	*p;
	struct answer	 a[3], b, q;
	pid_t		 pid1;
	int		 i;

	memset(a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	memset(&q, 0, sizeof(q));
	p = start(ECHO_PATH, NULL, 0);
	ck_assert_ptr_nonnull(p);
	wait_int(&w.ready, 1);
	pid1 = imsgproc_pid(p);
	for (i = 0; i < 3; i++)
		ck_assert_uint_ne(bare(p, T_SILENT, 60000, &a[i]), 0);
	w.down_echo = &q;
	ck_assert_int_eq(kill(pid1, SIGKILL), 0);
	for (i = 0; i < 3; i++) {
		wait_int(&a[i].called, 1);
		ck_assert_int_eq(a[i].result, IMSGPROC_DOWN);
	}
	ck_assert_int_ge(w.down, 1);
	ck_assert_int_eq(w.down_state, IMSGPROC_BACKOFF);
	wait_int(&w.ready, 2);
	wait_int(&q.called, 1);
	ck_assert_int_eq(q.result, IMSGPROC_REPLY);
	ck_assert_str_eq(q.text, "queued");
	ck_assert_int_eq(imsgproc_state(p), IMSGPROC_RUNNING);
	ck_assert_int_ne(imsgproc_pid(p), pid1);
	ck_assert_uint_eq(imsgproc_restarts(p), 1);
	ck_assert_uint_ne(echo(p, "again", -1, &b), 0);
	wait_int(&b.called, 1);
	ck_assert_int_eq(b.result, IMSGPROC_REPLY);
	ck_assert_str_eq(b.text, "again");
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(a[i].called, 1);
	imsgproc_free(p);
}
END_TEST

START_TEST(test_exit_restart)
{
	struct imsgproc	*p;
	struct answer	 a, b;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	p = start(ECHO_PATH, NULL, 0);
	ck_assert_ptr_nonnull(p);
	wait_int(&w.ready, 1);
	ck_assert_uint_ne(bare(p, T_EXIT, 60000, &a), 0);
	wait_int(&a.called, 1);
	ck_assert_int_eq(a.result, IMSGPROC_DOWN);
	wait_int(&w.ready, 2);
	ck_assert_uint_ne(echo(p, "back", -1, &b), 0);
	wait_int(&b.called, 1);
	ck_assert_int_eq(b.result, IMSGPROC_REPLY);
	imsgproc_free(p);
}
END_TEST

START_TEST(test_garbage_frame)
{
	struct imsgproc	*p;
	struct answer	 a, b;
	pid_t		 pid1;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	p = start(ECHO_PATH, NULL, 0);
	ck_assert_ptr_nonnull(p);
	wait_int(&w.ready, 1);
	pid1 = imsgproc_pid(p);
	ck_assert_uint_ne(bare(p, T_GARBAGE, 60000, &a), 0);
	wait_int(&a.called, 1);
	ck_assert_int_eq(a.result, IMSGPROC_DOWN);
	ck_assert_ptr_nonnull(strstr(w.why, "malformed frame"));
	wait_int(&w.ready, 2);
	ck_assert_int_ne(imsgproc_pid(p), pid1);
	ck_assert_uint_ne(echo(p, "fresh", -1, &b), 0);
	wait_int(&b.called, 1);
	ck_assert_int_eq(b.result, IMSGPROC_REPLY);
	ck_assert_str_eq(b.text, "fresh");
	imsgproc_free(p);
}
END_TEST

START_TEST(test_no_restart)
{
	struct imsgproc	*p;
	struct answer	 a, b;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	p = start(ECHO_PATH, NULL, IMSGPROC_NO_RESTART);
	ck_assert_ptr_nonnull(p);
	wait_int(&w.ready, 1);
	ck_assert_uint_ne(bare(p, T_SILENT, 60000, &a), 0);
	ck_assert_int_eq(kill(imsgproc_pid(p), SIGKILL), 0);
	wait_int(&a.called, 1);
	ck_assert_int_eq(a.result, IMSGPROC_DOWN);
	ck_assert_int_eq(imsgproc_state(p), IMSGPROC_STOPPED);
	ck_assert_uint_eq(bare(p, T_SILENT, 0, &b), 0);
	wait_int(&b.called, 1);
	ck_assert_int_eq(b.result, IMSGPROC_DOWN);
	ck_assert_uint_eq(imsgproc_restarts(p), 0);
	imsgproc_free(p);
}
END_TEST

START_TEST(test_wrong_type)
{
	struct imsgproc	*p;
	struct answer	 a;

	memset(&a, 0, sizeof(a));
	p = start(ECHO_PATH, NULL, 0);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_ne(bare(p, T_WRONGTYPE, 0, &a), 0);
	wait_int(&a.called, 1);
	ck_assert_int_eq(a.result, IMSGPROC_MALFORMED);
	imsgproc_free(p);
}
END_TEST

START_TEST(test_event_frame)
{
	struct imsgproc	*p;
	struct answer	 a;

	memset(&a, 0, sizeof(a));
	p = start(ECHO_PATH, NULL, 0);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_ne(bare(p, T_EVENT, 0, &a), 0);
	wait_int(&a.called, 1);
	ck_assert_int_eq(a.result, IMSGPROC_REPLY);
	/* Sent before the answer, so seen before it. */
	ck_assert_int_eq(w.frames, 1);
	ck_assert_uint_eq(w.frame_type, T_NOTICE);
	ck_assert_str_eq(w.frame_text, "notice");
	imsgproc_free(p);
}
END_TEST

START_TEST(test_cancel)
{
	struct imsgproc	*p;
	struct answer	 a, b;
	uint64_t	 id;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	p = start(ECHO_PATH, NULL, 0);
	ck_assert_ptr_nonnull(p);
	wait_int(&w.ready, 1);
	id = echo(p, "cancelled", -1, &a);
	ck_assert_uint_ne(id, 0);
	imsgproc_cancel(p, id);
	/* The late answer is dropped; the next request still works. */
	ck_assert_uint_ne(echo(p, "kept", -1, &b), 0);
	wait_int(&b.called, 1);
	ck_assert_str_eq(b.text, "kept");
	ck_assert_int_eq(a.called, 0);
	imsgproc_free(p);
	ck_assert_int_eq(a.called, 0);
}
END_TEST

START_TEST(test_stop)
{
	struct imsgproc	*p;
	struct answer	 a[2], b;

	memset(a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	p = start(ECHO_PATH, NULL, 0);
	ck_assert_ptr_nonnull(p);
	wait_int(&w.ready, 1);
	ck_assert_uint_ne(bare(p, T_SILENT, 60000, &a[0]), 0);
	ck_assert_uint_ne(bare(p, T_SILENT, 60000, &a[1]), 0);
	imsgproc_stop(p);
	ck_assert_int_eq(imsgproc_state(p), IMSGPROC_STOPPED);
	ck_assert_int_eq(a[0].called, 1);
	ck_assert_int_eq(a[0].result, IMSGPROC_DOWN);
	ck_assert_int_eq(a[1].called, 1);
	ck_assert_int_eq(w.down, 1);
	ck_assert_int_eq(imsgproc_pid(p), -1);
	ck_assert_uint_eq(bare(p, T_SILENT, 0, &b), 0);
	ck_assert_int_eq(b.called, 0);
	wait_int(&b.called, 1);
	ck_assert_int_eq(b.result, IMSGPROC_DOWN);
	imsgproc_stop(p);	/* twice is harmless */
	imsgproc_free(p);
	ck_assert_int_eq(w.down, 1);
	ck_assert_int_eq(a[0].called, 1);
}
END_TEST

/* Stopped before READY: queued requests fail at once. */
START_TEST(test_stop_starting)
{
	struct imsgproc	*p;
	struct answer	 a;

	memset(&a, 0, sizeof(a));
	p = start(ECHO_PATH, NULL, 0);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_ne(echo(p, "never", -1, &a), 0);
	imsgproc_stop(p);
	ck_assert_int_eq(a.called, 1);
	ck_assert_int_eq(a.result, IMSGPROC_DOWN);
	ck_assert_int_eq(w.ready, 0);
	ck_assert_int_eq(w.down, 1);
	imsgproc_free(p);
	ck_assert_int_eq(a.called, 1);
}
END_TEST

/* A callback frees its imsgproc while other requests are in flight. */
START_TEST(test_free_from_callback)
{
	struct imsgproc	*p;
	struct answer	 a, rest[3];
	int		 i;

	memset(&a, 0, sizeof(a));
	memset(rest, 0, sizeof(rest));
	p = start(ECHO_PATH, NULL, 0);
	ck_assert_ptr_nonnull(p);
	wait_int(&w.ready, 1);
	a.free_it = p;
	ck_assert_uint_ne(echo(p, "first", -1, &a), 0);
	for (i = 0; i < 3; i++)
		ck_assert_uint_ne(echo(p, "later", -1, &rest[i]), 0);
	wait_int(&a.called, 1);
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(rest[i].called, 1);
		ck_assert_int_eq(rest[i].result, IMSGPROC_DOWN);
	}
}
END_TEST

/* Callbacks that send more requests, then stop and free from a failure. */
START_TEST(test_reentrant_requests)
{
	struct imsgproc	*p;
	struct answer	 a, b, c, d;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	memset(&c, 0, sizeof(c));
	memset(&d, 0, sizeof(d));
	p = start(ECHO_PATH, NULL, 0);
	ck_assert_ptr_nonnull(p);
	a.chain = &b;
	ck_assert_uint_ne(echo(p, "first", -1, &a), 0);
	wait_int(&b.called, 1);
	ck_assert_int_eq(b.result, IMSGPROC_REPLY);
	ck_assert_str_eq(b.text, "chained");

	/* A timeout whose callback stops, then frees, the imsgproc. */
	c.stop_it = p;
	c.free_it = p;
	ck_assert_uint_ne(bare(p, T_SILENT, 100, &c), 0);
	ck_assert_uint_ne(bare(p, T_SILENT, 60000, &d), 0);
	wait_int(&c.called, 1);
	ck_assert_int_eq(c.result, IMSGPROC_TIMEOUT);
	ck_assert_int_eq(d.called, 1);
	ck_assert_int_eq(d.result, IMSGPROC_DOWN);
}
END_TEST

static const char *
wrapper_command(void)
{
#ifdef __SANITIZE_ADDRESS__
	/* Sanitized programs do not run under valgrind. */
	return "env SOME=thing " ECHO_PATH;
#else
	if (system("valgrind --version >/dev/null 2>&1") != 0)
		return "env SOME=thing " ECHO_PATH;
	return "valgrind -q --error-exitcode=9 " ECHO_PATH;
#endif
}

/* Wrappers such as valgrind or gdb --args keep descriptor 3 for it. */
START_TEST(test_wrapper_command)
{
	struct imsgproc_params	 params;
	struct imsgproc		*p;
	struct answer		 a;
	char			**argv, err[128];

	memset(&a, 0, sizeof(a));
	argv = imsgproc_argv_split(wrapper_command(), err, sizeof(err));
	ck_assert_ptr_nonnull(argv);
	memset(&params, 0, sizeof(params));
	params.role = TEST_ROLE;
	params.name = "wrapped";
	params.argv = argv;
	params.fd = -1;
	params.handshake_ms = 60000;
	params.on_ready = on_ready;
	params.arg = &w;
	p = imsgproc_start(base, &params);
	imsgproc_argv_free(argv);	/* copied */
	ck_assert_ptr_nonnull(p);
	wait_int(&w.ready, 1);
	ck_assert_str_eq(w.hname, TEST_HELPER_NAME);
	ck_assert_uint_ne(echo(p, "wrapped", -1, &a), 0);
	wait_int(&a.called, 1);
	ck_assert_int_eq(a.result, IMSGPROC_REPLY);
	ck_assert_str_eq(a.text, "wrapped");
	imsgproc_free(p);
}
END_TEST

START_TEST(test_exec_missing)
{
	struct imsgproc	*p;

	p = start("regress/unit/no_such_helper", NULL, 0);
	ck_assert_ptr_null(p);
}
END_TEST

/* smtpd-probe -S: the helper connects to us; no spawn, no restart. */
START_TEST(test_given_channel)
{
	struct imsgproc_params	 params;
	struct imsgproc		*p;
	struct sockaddr_un	 sun;
	struct answer		 a;
	char			 dir[] = "/tmp/test_imsgproc.XXXXXX";
	pid_t			 pid;
	int			 s, c, status;

	memset(&a, 0, sizeof(a));
	ck_assert_ptr_nonnull(mkdtemp(dir));
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/sock", dir);
	s = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_ne(s, -1);
	ck_assert_int_eq(bind(s, (struct sockaddr *)&sun, sizeof(sun)), 0);
	ck_assert_int_eq(listen(s, 1), 0);
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		execl(ECHO_PATH, "helper_echo", "-S", sun.sun_path,
		    (char *)NULL);
		_exit(127);
	}
	c = accept(s, NULL, NULL);
	ck_assert_int_ne(c, -1);
	close(s);

	memset(&params, 0, sizeof(params));
	params.role = TEST_ROLE;
	params.name = "by-hand";
	params.fd = c;
	params.on_ready = on_ready;
	params.on_down = on_down;
	params.arg = &w;
	p = imsgproc_start(base, &params);
	ck_assert_ptr_nonnull(p);
	wait_int(&w.ready, 1);
	ck_assert_int_eq(imsgproc_pid(p), -1);
	ck_assert_uint_ne(echo(p, "by hand", -1, &a), 0);
	wait_int(&a.called, 1);
	ck_assert_str_eq(a.text, "by hand");
	imsgproc_free(p);
	/* Closing the channel ends the helper's loop with status 0. */
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	unlink(sun.sun_path);
	rmdir(dir);
}
END_TEST

START_TEST(test_argv_split)
{
	char	**av, err[128];

	av = imsgproc_argv_split("  prog  -a 'b c'  \"d \\\"e\\\"\" f\\ g ", err,
	    sizeof(err));
	ck_assert_ptr_nonnull(av);
	ck_assert_str_eq(av[0], "prog");
	ck_assert_str_eq(av[1], "-a");
	ck_assert_str_eq(av[2], "b c");
	ck_assert_str_eq(av[3], "d \"e\"");
	ck_assert_str_eq(av[4], "f g");
	ck_assert_ptr_null(av[5]);
	imsgproc_argv_free(av);

	/* Quotes join with what touches them; '' is an empty word. */
	av = imsgproc_argv_split("a'b'\"c\" '' 'x\\y'", err, sizeof(err));
	ck_assert_ptr_nonnull(av);
	ck_assert_str_eq(av[0], "abc");
	ck_assert_str_eq(av[1], "");
	ck_assert_str_eq(av[2], "x\\y");
	ck_assert_ptr_null(av[3]);
	imsgproc_argv_free(av);

	av = imsgproc_argv_split("gdb --args prog\t-x", err, sizeof(err));
	ck_assert_ptr_nonnull(av);
	ck_assert_str_eq(av[3], "-x");
	ck_assert_ptr_null(av[4]);
	imsgproc_argv_free(av);

	ck_assert_ptr_null(imsgproc_argv_split("prog 'open", err,
	    sizeof(err)));
	ck_assert_str_eq(err, "unbalanced single quote");
	ck_assert_ptr_null(imsgproc_argv_split("prog \"open", err,
	    sizeof(err)));
	ck_assert_str_eq(err, "unbalanced double quote");
	ck_assert_ptr_null(imsgproc_argv_split("prog \\", err, sizeof(err)));
	ck_assert_str_eq(err, "backslash at the end");
	ck_assert_ptr_null(imsgproc_argv_split("   ", err, sizeof(err)));
	ck_assert_str_eq(err, "empty command");
	imsgproc_argv_free(NULL);
}
END_TEST

START_TEST(test_result_names)
{
	ck_assert_str_eq(imsgproc_result_name(IMSGPROC_TIMEOUT), "timeout");
	ck_assert_str_eq(imsgproc_result_name(IMSGPROC_DOWN), "helper down");
	ck_assert_str_eq(imsgproc_result_name(99), "unknown result");
}
END_TEST

static Suite *
imsgproc_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("imsgproc");
	tc = tcase_create("helpers");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_handshake);
	tcase_add_test(tc, test_hello_fields);
	tcase_add_test(tc, test_version_mismatch);
	tcase_add_test(tc, test_bad_ready);
	tcase_add_test(tc, test_handshake_timeout);
	tcase_add_test(tc, test_echo_fd);
	tcase_add_test(tc, test_reply_fd_closed);
	tcase_add_test(tc, test_many_requests);
	tcase_add_test(tc, test_timeout);
	tcase_add_test(tc, test_killed_restart);
	tcase_add_test(tc, test_exit_restart);
	tcase_add_test(tc, test_garbage_frame);
	tcase_add_test(tc, test_no_restart);
	tcase_add_test(tc, test_wrong_type);
	tcase_add_test(tc, test_event_frame);
	tcase_add_test(tc, test_cancel);
	tcase_add_test(tc, test_stop);
	tcase_add_test(tc, test_stop_starting);
	tcase_add_test(tc, test_free_from_callback);
	tcase_add_test(tc, test_reentrant_requests);
	tcase_add_test(tc, test_wrapper_command);
	tcase_add_test(tc, test_exec_missing);
	tcase_add_test(tc, test_given_channel);
	suite_add_tcase(s, tc);

	tc = tcase_create("argv");
	tcase_add_test(tc, test_argv_split);
	tcase_add_test(tc, test_result_names);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(imsgproc_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
