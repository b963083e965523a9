/*
 * test_helper.c: the helper's side (helper.c), driving the fake helper
 * regress/unit/helper_echo by hand over a socketpair, frame by frame.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <check.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "smtpd-api.h"
#include "helper_test.h"

#define ECHO_PATH	"regress/unit/helper_echo"

/*
 * Start helper_echo with chan on descriptor 3 (none when -1) and its
 * stderr into a pipe whose read end is returned in *err.
 */
static pid_t
spawn(int chan, int *err)
{
	int	 ep[2];
	pid_t	 pid;

	ck_assert_int_eq(pipe(ep), 0);
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		dup2(ep[1], STDERR_FILENO);
		if (chan == -1)
			close(3);
		else if (chan != 3)
			dup2(chan, 3);
		closefrom(4);
		execl(ECHO_PATH, "helper_echo", (char *)NULL);
		_exit(127);
	}
	close(ep[1]);
	*err = ep[0];
	return pid;
}

/* Everything the child wrote on stderr, once it is done. */
static void
slurp(int fd, char *buf, size_t sz)
{
	size_t	 off = 0;
	ssize_t	 n;

	while (off < sz - 1 && (n = read(fd, buf + off, sz - 1 - off)) > 0)
		off += (size_t)n;
	buf[off] = '\0';
	close(fd);
}

static int
exit_status(pid_t pid)
{
	int	 status;

	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static void
send_hello(struct imsgbuf *ib, uint32_t version, const char *role)
{
	struct msg	 m;

	msg_init(&m);
	msg_add_uint32(&m, version);
	msg_add_string(&m, role);
	msg_add_string(&m, "inst");
	msg_add_string(&m, "conf");
	msg_add_uint32(&m, 0);
	msg_add_uint32(&m, 0);
	ck_assert_int_eq(imsg_compose(ib, IMSG_HELLO, 0, 0, -1, m.buf, m.len),
	    0);
	ck_assert_int_eq(imsgbuf_flush(ib), 0);
	msg_free(&m);
}

/* Blocking: the channel is left blocking in these tests. */
static int
get_frame(struct imsgbuf *ib, struct imsg *imsg)
{
	int	 r;

	while ((r = imsg_get(ib, imsg)) == 0)
		if (imsgbuf_read(ib) <= 0)
			return 0;
	return r;
}

static void
check_ready(struct imsgbuf *ib)
{
	struct msg_reader	 rd;
	struct imsg		 imsg;
	uint32_t		 version;
	uint64_t		 caps;
	char			*name;

	ck_assert_int_eq(get_frame(ib, &imsg), 1);
	ck_assert_uint_eq(imsg.hdr.type, IMSG_READY);
	msg_reader_init(&rd, imsg.data, imsg.datalen);
	ck_assert_int_eq(msg_get_uint32(&rd, &version), 0);
	ck_assert_uint_eq(version, SMTPD_API_VERSION);
	ck_assert_int_eq(msg_get_uint64(&rd, &caps), 0);
	ck_assert_uint_eq(caps, TEST_CAPABILITIES);
	ck_assert_int_eq(msg_get_string(&rd, &name), 0);
	ck_assert_str_eq(name, TEST_HELPER_NAME);
	ck_assert_int_eq(msg_end(&rd), 0);
	free(name);
	imsg_free(&imsg);
}

START_TEST(test_no_channel)
{
	char	 out[1024];
	pid_t	 pid;
	int	 err;

	pid = spawn(-1, &err);
	slurp(err, out, sizeof(out));
	ck_assert_int_eq(exit_status(pid), 1);
	ck_assert_msg(strstr(out, "helper_echo: no channel on descriptor 3: "
	    "this program is started by smtpd (or smtpd-probe); to start it "
	    "by hand use -S socket") != NULL, "got: %s", out);
}
END_TEST

START_TEST(test_not_a_socket)
{
	char	 out[1024];
	pid_t	 pid;
	int	 err, fd;

	fd = open("/dev/null", O_RDWR);
	ck_assert_int_ne(fd, -1);
	pid = spawn(fd, &err);
	close(fd);
	slurp(err, out, sizeof(out));
	ck_assert_int_eq(exit_status(pid), 1);
	ck_assert_ptr_nonnull(strstr(out, "no channel on descriptor 3"));
}
END_TEST

START_TEST(test_version_mismatch)
{
	struct imsgbuf	*ib;
	char		 out[1024];
	pid_t		 pid;
	int		 sp[2], err;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	pid = spawn(sp[1], &err);
	close(sp[1]);
	ib = imsgbuf_new(sp[0]);
	send_hello(ib, 999, TEST_ROLE);
	/* READY comes anyway, so that the owner can log the mismatch. */
	check_ready(ib);
	slurp(err, out, sizeof(out));
	ck_assert_int_eq(exit_status(pid), 1);
	ck_assert_msg(strstr(out, "version 999") != NULL, "got: %s", out);
	imsgbuf_free(ib);
	close(sp[0]);
}
END_TEST

START_TEST(test_wrong_role)
{
	struct imsgbuf	*ib;
	struct imsg	 imsg;
	char		 out[1024];
	pid_t		 pid;
	int		 sp[2], err;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	pid = spawn(sp[1], &err);
	close(sp[1]);
	ib = imsgbuf_new(sp[0]);
	send_hello(ib, SMTPD_API_VERSION, HELPER_ROLE_QUEUE);
	ck_assert_int_eq(get_frame(ib, &imsg), 0);	/* no READY */
	slurp(err, out, sizeof(out));
	ck_assert_int_eq(exit_status(pid), 1);
	ck_assert_msg(strstr(out, "started as a queue helper") != NULL,
	    "got: %s", out);
	imsgbuf_free(ib);
	close(sp[0]);
}
END_TEST

START_TEST(test_not_hello)
{
	struct imsgbuf	*ib;
	char		 out[1024];
	pid_t		 pid;
	int		 sp[2], err;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	pid = spawn(sp[1], &err);
	close(sp[1]);
	ib = imsgbuf_new(sp[0]);
	ck_assert_int_eq(imsg_compose(ib, T_ECHO, 0, 0, -1, NULL, 0), 0);
	ck_assert_int_eq(imsgbuf_flush(ib), 0);
	slurp(err, out, sizeof(out));
	ck_assert_int_eq(exit_status(pid), 1);
	ck_assert_msg(strstr(out, "expected HELLO first") != NULL, "got: %s",
	    out);
	imsgbuf_free(ib);
	close(sp[0]);
}
END_TEST

/*
 * A request sent in the same write as HELLO is served (it was buffered
 * during the handshake); the reply has IMSGF_REPLY and leads with the
 * id; closing the channel ends the helper with status 0.
 */
START_TEST(test_reply_and_eof)
{
	struct msg_reader	 rd;
	struct imsgbuf		*ib;
	struct imsg		 imsg;
	struct msg		 m;
	uint64_t		 id;
	char			*s, out[1024];
	pid_t			 pid;
	int			 sp[2], err;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	ib = imsgbuf_new(sp[0]);
	msg_init(&m);
	msg_add_uint32(&m, SMTPD_API_VERSION);
	msg_add_string(&m, TEST_ROLE);
	msg_add_string(&m, "inst");
	msg_add_string(&m, "conf");
	msg_add_uint32(&m, 0);
	msg_add_uint32(&m, 0);
	ck_assert_int_eq(imsg_compose(ib, IMSG_HELLO, 0, 0, -1, m.buf, m.len),
	    0);
	msg_reset(&m);
	msg_add_id(&m, 0x1122334455667788ULL);
	msg_add_string(&m, "early");
	ck_assert_int_eq(imsg_compose(ib, T_ECHO, 0, 0, -1, m.buf, m.len), 0);
	ck_assert_int_eq(imsgbuf_flush(ib), 0);
	msg_free(&m);
	pid = spawn(sp[1], &err);
	close(sp[1]);
	check_ready(ib);

	ck_assert_int_eq(get_frame(ib, &imsg), 1);
	ck_assert_uint_eq(imsg.hdr.type, T_ECHO);
	ck_assert(imsg.hdr.flags & IMSGF_REPLY);
	msg_reader_init(&rd, imsg.data, imsg.datalen);
	ck_assert_int_eq(msg_get_id(&rd, &id), 0);
	ck_assert(id == 0x1122334455667788ULL);
	ck_assert_int_eq(msg_get_string(&rd, &s), 0);
	ck_assert_str_eq(s, "early");
	ck_assert_int_eq(msg_end(&rd), 0);
	free(s);
	imsg_free(&imsg);

	imsgbuf_free(ib);
	close(sp[0]);
	slurp(err, out, sizeof(out));
	ck_assert_msg(exit_status(pid) == 0, "got: %s", out);
}
END_TEST

/* A malformed frame ends helper_loop with -1: helper_echo exits 1. */
START_TEST(test_malformed_frame)
{
	struct imsgbuf	*ib;
	struct imsg_hdr	 hdr;
	char		 out[1024];
	pid_t		 pid;
	int		 sp[2], err;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	pid = spawn(sp[1], &err);
	close(sp[1]);
	ib = imsgbuf_new(sp[0]);
	send_hello(ib, SMTPD_API_VERSION, TEST_ROLE);
	check_ready(ib);
	memset(&hdr, 0, sizeof(hdr));
	hdr.type = T_ECHO;
	hdr.len = IMSG_MAX_SIZE + 1;
	ck_assert_int_eq(write(sp[0], &hdr, sizeof(hdr)), sizeof(hdr));
	slurp(err, out, sizeof(out));
	ck_assert_msg(exit_status(pid) == 1, "got: %s", out);
	ck_assert_msg(strstr(out, "malformed frame") != NULL, "got: %s", out);
	imsgbuf_free(ib);
	close(sp[0]);
}
END_TEST

static Suite *
helper_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("helper");
	tc = tcase_create("channel");
	tcase_add_test(tc, test_no_channel);
	tcase_add_test(tc, test_not_a_socket);
	tcase_add_test(tc, test_version_mismatch);
	tcase_add_test(tc, test_wrong_role);
	tcase_add_test(tc, test_not_hello);
	tcase_add_test(tc, test_reply_and_eof);
	tcase_add_test(tc, test_malformed_frame);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	/* A helper that dies must not kill the test with SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);
	sr = srunner_create(helper_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
