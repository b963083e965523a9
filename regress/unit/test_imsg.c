/*
 * test_imsg.c: framing and descriptor passing (libsmtpd-api/imsg.c).
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "smtpd-api.h"

/* A frame of 60 KiB for the queue tests. */
#define BIG_BODY	(60 * 1024)
#define BIG_FRAMES	1000

static void	 make_pair(int[2]);
static void	 set_nonblock(int);
static void	 raw_write(int, const void *, size_t);
static size_t	 raw_frame(unsigned char *, uint32_t, uint32_t, uint16_t,
		    uint16_t, const void *, size_t);
static void	 raw_sendmsg(int, const void *, size_t, const int *, int);
static int	 wait_frame(struct imsgbuf *, struct imsg *);
static int	 count_fds(void);
static int	 fd_is_open(int);
static void	 fill_body(unsigned char *, size_t, uint32_t);
static int	 check_body(const unsigned char *, size_t, uint32_t);
static Suite	*imsg_suite(void);

static void
make_pair(int sv[2])
{
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
}

static void
set_nonblock(int fd)
{
	int	 flags;

	flags = fcntl(fd, F_GETFL);
	ck_assert_int_ne(flags, -1);
	ck_assert_int_ne(fcntl(fd, F_SETFL, flags | O_NONBLOCK), -1);
}

static void
raw_write(int fd, const void *p, size_t n)
{
	ck_assert_int_eq(write(fd, p, n), (ssize_t)n);
}

/* A frame built by hand, to send what imsg_compose refuses to. */
static size_t
raw_frame(unsigned char *buf, uint32_t type, uint32_t len, uint16_t flags,
    uint16_t reserved, const void *body, size_t bodylen)
{
	struct imsg_hdr	 hdr;

	memset(&hdr, 0, sizeof(hdr));
	hdr.type = type;
	hdr.len = len;
	hdr.flags = flags;
	hdr.reserved = reserved;
	hdr.pid = 1;
	memcpy(buf, &hdr, sizeof(hdr));
	if (bodylen > 0)
		memcpy(buf + sizeof(hdr), body, bodylen);
	return sizeof(hdr) + bodylen;
}

/* One sendmsg with nfds descriptors attached. */
static void
raw_sendmsg(int sock, const void *p, size_t n, const int *fds, int nfds)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int) * 4)];
	} cmsgbuf;
	struct msghdr	 msg;
	struct iovec	 iov;
	struct cmsghdr	*cmsg;

	ck_assert_int_le(nfds, 4);
	memset(&msg, 0, sizeof(msg));
	memset(&cmsgbuf, 0, sizeof(cmsgbuf));
	iov.iov_base = (void *)(uintptr_t)p;
	iov.iov_len = n;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (nfds > 0) {
		msg.msg_control = cmsgbuf.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * nfds);
	}
	ck_assert_int_eq(sendmsg(sock, &msg, 0), (ssize_t)n);
}

/* Read (blocking socket) until a frame is there: 1, or 0 at EOF, -1 error. */
static int
wait_frame(struct imsgbuf *ib, struct imsg *imsg)
{
	ssize_t	 n;
	int	 r;

	for (;;) {
		if ((r = imsg_get(ib, imsg)) != 0)
			return r;
		n = imsgbuf_read(ib);
		if (n == 0)
			return 0;
		if (n == -1)
			return -1;
	}
}

static int
count_fds(void)
{
	DIR		*d;
	struct dirent	*de;
	int		 n = 0;

	d = opendir("/proc/self/fd");
	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static int
fd_is_open(int fd)
{
	return fcntl(fd, F_GETFD) != -1;
}

static void
fill_body(unsigned char *p, size_t n, uint32_t seed)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		p[i] = (unsigned char)(seed * 31 + i * 7);
}

static int
check_body(const unsigned char *p, size_t n, uint32_t seed)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (p[i] != (unsigned char)(seed * 31 + i * 7))
			return 0;
	return 1;
}

START_TEST(test_roundtrip)
{
	struct imsgbuf	*a, *b;
	struct imsg	 imsg;
	int		 sv[2];

	make_pair(sv);
	a = imsgbuf_new(sv[0]);
	b = imsgbuf_new(sv[1]);
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(imsgbuf_fd(a), sv[0]);
	ck_assert_str_eq(imsgbuf_error(a), "no error");

	ck_assert_int_eq(imsg_compose(a, 7, 99, IMSGF_REPLY, -1, "hello", 5),
	    0);
	ck_assert_int_eq(imsg_compose(a, 8, 0, 0, -1, NULL, 0), 0);
	/* HASFD without a descriptor is not believed */
	ck_assert_int_eq(imsg_compose(a, 9, 0, IMSGF_HASFD, -1, "x", 1), 0);
	ck_assert_uint_eq(imsgbuf_queued(a), 3 * IMSG_HEADER_SIZE + 6);
	ck_assert_int_eq(imsgbuf_flush(a), 0);
	ck_assert_uint_eq(imsgbuf_queued(a), 0);

	ck_assert_int_eq(wait_frame(b, &imsg), 1);
	ck_assert_uint_eq(imsg.hdr.type, 7);
	ck_assert_uint_eq(imsg.hdr.len, IMSG_HEADER_SIZE + 5);
	ck_assert_uint_eq(imsg.hdr.flags, IMSGF_REPLY);
	ck_assert_uint_eq(imsg.hdr.reserved, 0);
	ck_assert_uint_eq(imsg.hdr.peerid, 99);
	ck_assert_uint_eq(imsg.hdr.pid, (uint32_t)getpid());
	ck_assert_int_eq(imsg.fd, -1);
	ck_assert_uint_eq(imsg.datalen, 5);
	ck_assert_mem_eq(imsg.data, "hello", 5);
	imsg_free(&imsg);
	ck_assert_ptr_null(imsg.data);

	ck_assert_int_eq(wait_frame(b, &imsg), 1);
	ck_assert_uint_eq(imsg.hdr.type, 8);
	ck_assert_uint_eq(imsg.datalen, 0);
	ck_assert_ptr_nonnull(imsg.data);
	imsg_free(&imsg);

	ck_assert_int_eq(wait_frame(b, &imsg), 1);
	ck_assert_uint_eq(imsg.hdr.type, 9);
	ck_assert_uint_eq(imsg.hdr.flags, 0);
	ck_assert_int_eq(imsg.fd, -1);
	imsg_free(&imsg);
	ck_assert_int_eq(imsg_get(b, &imsg), 0);

	/* and back the other way */
	ck_assert_int_eq(imsg_compose(b, 1, 2, 0, -1, "pong", 4), 0);
	ck_assert_int_eq(imsgbuf_write(b), 1);
	ck_assert_int_eq(wait_frame(a, &imsg), 1);
	ck_assert_uint_eq(imsg.hdr.type, 1);
	ck_assert_mem_eq(imsg.data, "pong", 4);
	imsg_free(&imsg);

	imsgbuf_free(a);
	imsgbuf_free(b);
	/* the imsgbuf does not own its socket */
	ck_assert(fd_is_open(sv[0]));
	ck_assert(fd_is_open(sv[1]));
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* A frame arriving one byte per read is assembled, not misparsed. */
START_TEST(test_split_reads)
{
	unsigned char	 frame[IMSG_HEADER_SIZE + 300], body[300];
	struct imsgbuf	*b;
	struct imsg	 imsg;
	size_t		 len, i;
	int		 sv[2], round;

	make_pair(sv);
	b = imsgbuf_new(sv[1]);
	fill_body(body, sizeof(body), 3);
	len = raw_frame(frame, 42, sizeof(frame), 0, 0, body, sizeof(body));
	for (round = 0; round < 2; round++) {
		for (i = 0; i < len; i++) {
			ck_assert_int_eq(imsg_get(b, &imsg), 0);
			raw_write(sv[0], frame + i, 1);
			ck_assert_int_eq(imsgbuf_read(b), 1);
		}
		ck_assert_int_eq(imsg_get(b, &imsg), 1);
		ck_assert_uint_eq(imsg.hdr.type, 42);
		ck_assert_uint_eq(imsg.datalen, sizeof(body));
		ck_assert(check_body(imsg.data, imsg.datalen, 3));
		imsg_free(&imsg);
		ck_assert_int_eq(imsg_get(b, &imsg), 0);
	}
	imsgbuf_free(b);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(test_many_frames_one_read)
{
	struct imsgbuf	*a, *b;
	struct imsg	 imsg;
	uint32_t	 i;
	size_t		 total;
	int		 sv[2];

	make_pair(sv);
	a = imsgbuf_new(sv[0]);
	b = imsgbuf_new(sv[1]);
	total = 0;
	for (i = 0; i < 200; i++) {
		ck_assert_int_eq(imsg_compose(a, i, i, 0, -1, &i, i % 5), 0);
		total += IMSG_HEADER_SIZE + i % 5;
	}
	ck_assert_int_eq(imsgbuf_flush(a), 0);
	/* everything is in the socket: one read takes it all */
	ck_assert_int_eq(imsgbuf_read(b), (ssize_t)total);
	for (i = 0; i < 200; i++) {
		ck_assert_int_eq(imsg_get(b, &imsg), 1);
		ck_assert_uint_eq(imsg.hdr.type, i);
		ck_assert_uint_eq(imsg.hdr.peerid, i);
		ck_assert_uint_eq(imsg.datalen, i % 5);
		ck_assert_mem_eq(imsg.data, &i, i % 5);
		imsg_free(&imsg);
	}
	ck_assert_int_eq(imsg_get(b, &imsg), 0);
	imsgbuf_free(a);
	imsgbuf_free(b);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/*
 * Pipes travel with frames, among frames without one; each received
 * descriptor reads its own pipe, and the sender's copy is closed.
 */
START_TEST(test_fd_passing)
{
	struct imsgbuf	*a, *b;
	struct imsg	 imsg;
	char		 text[32], got[32];
	int		 sv[2], p[5][2], i, sent_fd[5], n;

	make_pair(sv);
	a = imsgbuf_new(sv[0]);
	b = imsgbuf_new(sv[1]);
	for (i = 0; i < 5; i++) {
		ck_assert_int_eq(pipe(p[i]), 0);
		snprintf(text, sizeof(text), "pipe %d", i);
		raw_write(p[i][1], text, strlen(text));
		close(p[i][1]);
		sent_fd[i] = p[i][0];
		/* two with a descriptor back to back, then one without */
		ck_assert_int_eq(imsg_compose(a, 100 + i, 0, 0, p[i][0],
		    &i, sizeof(i)), 0);
		if (i % 2 == 1)
			ck_assert_int_eq(imsg_compose(a, 200 + i, 0, 0, -1,
			    &i, sizeof(i)), 0);
	}
	/* still open until written */
	ck_assert(fd_is_open(sent_fd[0]));
	ck_assert_int_eq(imsgbuf_flush(a), 0);
	for (i = 0; i < 5; i++)
		ck_assert_msg(!fd_is_open(sent_fd[i]),
		    "sent descriptor %d left open", i);

	for (i = 0; i < 5; i++) {
		ck_assert_int_eq(wait_frame(b, &imsg), 1);
		ck_assert_uint_eq(imsg.hdr.type, 100 + i);
		ck_assert_uint_eq(imsg.hdr.flags & IMSGF_HASFD, IMSGF_HASFD);
		ck_assert_int_ge(imsg.fd, 0);
		ck_assert_int_eq(fcntl(imsg.fd, F_GETFD) & FD_CLOEXEC,
		    FD_CLOEXEC);
		n = read(imsg.fd, got, sizeof(got) - 1);
		ck_assert_int_gt(n, 0);
		got[n] = '\0';
		snprintf(text, sizeof(text), "pipe %d", i);
		ck_assert_str_eq(got, text);
		close(imsg.fd);
		imsg_free(&imsg);
		if (i % 2 == 1) {
			ck_assert_int_eq(wait_frame(b, &imsg), 1);
			ck_assert_uint_eq(imsg.hdr.type, 200 + i);
			ck_assert_int_eq(imsg.fd, -1);
			imsg_free(&imsg);
		}
	}
	imsgbuf_free(a);
	imsgbuf_free(b);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/*
 * The association rule, with sendmsg by hand: a descriptor belongs to
 * the first IMSGF_HASFD frame starting in its read; frames without the
 * flag in the same read do not take it; extra descriptors are closed;
 * a descriptor with no frame to take it is closed.
 */
START_TEST(test_fd_association)
{
	unsigned char	 buf[4 * IMSG_HEADER_SIZE + 16];
	struct imsgbuf	*b;
	struct imsg	 imsg;
	size_t		 len;
	int		 sv[2], p1[2], p2[2], fds[2], before;
	char		 c;

	make_pair(sv);
	b = imsgbuf_new(sv[1]);
	ck_assert_int_eq(pipe(p1), 0);
	ck_assert_int_eq(pipe(p2), 0);
	raw_write(p1[1], "1", 1);
	raw_write(p2[1], "2", 1);
	before = count_fds();

	/* A (no flag), B (flag), with two descriptors in one sendmsg */
	len = raw_frame(buf, 1, IMSG_HEADER_SIZE, 0, 0, NULL, 0);
	len += raw_frame(buf + len, 2, IMSG_HEADER_SIZE, IMSGF_HASFD, 0,
	    NULL, 0);
	fds[0] = p1[0];
	fds[1] = p2[0];
	raw_sendmsg(sv[0], buf, len, fds, 2);
	ck_assert_int_eq(imsgbuf_read(b), (ssize_t)len);
	/* the second descriptor was closed at once: one more than before */
	ck_assert_int_eq(count_fds(), before + 1);

	ck_assert_int_eq(imsg_get(b, &imsg), 1);
	ck_assert_uint_eq(imsg.hdr.type, 1);
	ck_assert_int_eq(imsg.fd, -1);
	imsg_free(&imsg);
	ck_assert_int_eq(imsg_get(b, &imsg), 1);
	ck_assert_uint_eq(imsg.hdr.type, 2);
	ck_assert_int_ge(imsg.fd, 0);
	ck_assert_int_eq(read(imsg.fd, &c, 1), 1);
	ck_assert_int_eq(c, '1');
	close(imsg.fd);
	imsg_free(&imsg);

	/* a descriptor with frames that do not want it is dropped */
	before = count_fds();
	len = raw_frame(buf, 3, IMSG_HEADER_SIZE, 0, 0, NULL, 0);
	raw_sendmsg(sv[0], buf, len, &p2[0], 1);
	ck_assert_int_eq(imsgbuf_read(b), (ssize_t)len);
	ck_assert_int_eq(imsg_get(b, &imsg), 1);
	ck_assert_int_eq(imsg.fd, -1);
	imsg_free(&imsg);
	ck_assert_int_eq(count_fds(), before);

	/* a header split across reads still gets its descriptor */
	len = raw_frame(buf, 4, IMSG_HEADER_SIZE + 2, IMSGF_HASFD, 0, "ab", 2);
	raw_sendmsg(sv[0], buf, 5, &p2[0], 1);
	ck_assert_int_eq(imsgbuf_read(b), 5);
	ck_assert_int_eq(imsg_get(b, &imsg), 0);
	raw_write(sv[0], buf + 5, 10);
	ck_assert_int_eq(imsgbuf_read(b), 10);
	raw_write(sv[0], buf + 15, len - 15);
	ck_assert_int_eq(imsgbuf_read(b), (ssize_t)(len - 15));
	ck_assert_int_eq(imsg_get(b, &imsg), 1);
	ck_assert_uint_eq(imsg.hdr.type, 4);
	ck_assert_int_ge(imsg.fd, 0);
	ck_assert_int_eq(read(imsg.fd, &c, 1), 1);
	ck_assert_int_eq(c, '2');
	close(imsg.fd);
	imsg_free(&imsg);

	imsgbuf_free(b);
	close(p1[0]);
	close(p1[1]);
	close(p2[0]);
	close(p2[1]);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* A frame flagged HASFD whose bytes came without a descriptor. */
START_TEST(test_hasfd_without_fd)
{
	unsigned char	 buf[IMSG_HEADER_SIZE];
	struct imsgbuf	*b;
	struct imsg	 imsg;
	int		 sv[2];

	make_pair(sv);
	b = imsgbuf_new(sv[1]);
	raw_frame(buf, 77, IMSG_HEADER_SIZE, IMSGF_HASFD, 0, NULL, 0);
	raw_write(sv[0], buf, sizeof(buf));
	ck_assert_int_eq(imsgbuf_read(b), IMSG_HEADER_SIZE);
	ck_assert_int_eq(imsg_get(b, &imsg), -1);
	ck_assert_str_eq(imsgbuf_error(b),
	    "frame type 77 is flagged with a descriptor but none was received");
	imsgbuf_free(b);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/*
 * A descriptor that came with a later read belongs to a frame starting
 * in that read, never to an earlier flagged frame that had none.
 */
START_TEST(test_fd_not_given_to_earlier_frame)
{
	unsigned char	 buf[2 * IMSG_HEADER_SIZE];
	struct imsgbuf	*b;
	struct imsg	 imsg;
	int		 sv[2], p[2], before;

	make_pair(sv);
	b = imsgbuf_new(sv[1]);
	ck_assert_int_eq(pipe(p), 0);
	close(p[1]);
	raw_frame(buf, 78, IMSG_HEADER_SIZE, IMSGF_HASFD, 0, NULL, 0);
	raw_frame(buf + IMSG_HEADER_SIZE, 79, IMSG_HEADER_SIZE, IMSGF_HASFD,
	    0, NULL, 0);
	raw_write(sv[0], buf, 5);
	ck_assert_int_eq(imsgbuf_read(b), 5);
	raw_sendmsg(sv[0], buf + 5, sizeof(buf) - 5, &p[0], 1);
	close(p[0]);
	before = count_fds();
	ck_assert_int_eq(imsgbuf_read(b), (ssize_t)sizeof(buf) - 5);
	ck_assert_int_eq(imsg_get(b, &imsg), -1);
	ck_assert_str_eq(imsgbuf_error(b),
	    "frame type 78 is flagged with a descriptor but none was received");
	/* the descriptor is held for frame 79 until the buffer goes */
	ck_assert_int_eq(count_fds(), before + 1);
	imsgbuf_free(b);
	ck_assert_int_eq(count_fds(), before);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(test_max_size)
{
	struct imsgbuf	*a, *b;
	struct imsg	 imsg;
	unsigned char	*body;
	uint32_t	 next;
	int		 sv[2], r;

	body = malloc(IMSG_MAX_BODY + 1);
	ck_assert_ptr_nonnull(body);
	fill_body(body, IMSG_MAX_BODY + 1, 9);
	make_pair(sv);
	a = imsgbuf_new(sv[0]);
	b = imsgbuf_new(sv[1]);

	errno = 0;
	ck_assert_int_eq(imsg_compose(a, 1, 0, 0, -1, body, IMSG_MAX_BODY + 1),
	    -1);
	ck_assert_int_eq(errno, EMSGSIZE);
	ck_assert_uint_eq(imsgbuf_queued(a), 0);

	ck_assert_int_eq(imsg_compose(a, 2, 0, 0, -1, body, IMSG_MAX_BODY), 0);
	ck_assert_uint_eq(imsgbuf_queued(a), IMSG_MAX_SIZE);
	/* two of them, so that the second one starts mid-buffer */
	ck_assert_int_eq(imsg_compose(a, 3, 0, 0, -1, body, IMSG_MAX_BODY), 0);
	set_nonblock(sv[0]);
	set_nonblock(sv[1]);
	for (next = 2; next <= 3; next++) {
		for (;;) {
			ck_assert_int_ne(imsgbuf_write(a), -1);
			if ((r = imsg_get(b, &imsg)) == 1)
				break;
			ck_assert_int_eq(r, 0);
			ck_assert(imsgbuf_read(b) > 0 || errno == EAGAIN);
		}
		ck_assert_uint_eq(imsg.hdr.type, next);
		ck_assert_uint_eq(imsg.hdr.len, IMSG_MAX_SIZE);
		ck_assert(check_body(imsg.data, IMSG_MAX_BODY, 9));
		imsg_free(&imsg);
	}
	ck_assert_uint_eq(imsgbuf_queued(a), 0);
	imsgbuf_free(a);
	imsgbuf_free(b);
	close(sv[0]);
	close(sv[1]);
	free(body);
}
END_TEST

START_TEST(test_garbage_headers)
{
	static const struct {
		uint32_t	 len;
		uint16_t	 reserved;
		const char	*error;
	} cases[] = {
		{ 0, 0, "frame length 0 shorter than the 20-byte header" },
		{ 19, 0, "frame length 19 shorter than the 20-byte header" },
		{ 70000, 0, "frame length 70000 exceeds maximum 65536" },
		{ IMSG_MAX_SIZE + 1, 0,
		    "frame length 65537 exceeds maximum 65536" },
		{ 0xffffffffu, 0,
		    "frame length 4294967295 exceeds maximum 65536" },
		{ 20, 1, "frame type 5: reserved header field is 0x0001, "
		    "not zero" },
	};
	unsigned char	 buf[2 * IMSG_HEADER_SIZE];
	struct imsgbuf	*b;
	struct imsg	 imsg;
	size_t		 i, len;
	int		 sv[2];

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		make_pair(sv);
		b = imsgbuf_new(sv[1]);
		/* a good frame first: it is still delivered */
		len = raw_frame(buf, 4, IMSG_HEADER_SIZE, 0, 0, NULL, 0);
		len += raw_frame(buf + len, 5, cases[i].len, 0,
		    cases[i].reserved, NULL, 0);
		raw_write(sv[0], buf, len);
		ck_assert_int_eq(imsgbuf_read(b), (ssize_t)len);
		ck_assert_int_eq(imsg_get(b, &imsg), 1);
		ck_assert_uint_eq(imsg.hdr.type, 4);
		imsg_free(&imsg);
		ck_assert_int_eq(imsg_get(b, &imsg), -1);
		ck_assert_str_eq(imsgbuf_error(b), cases[i].error);
		/* and it stays broken */
		ck_assert_int_eq(imsg_get(b, &imsg), -1);
		imsgbuf_free(b);
		close(sv[0]);
		close(sv[1]);
	}
}
END_TEST

START_TEST(test_eof)
{
	struct imsgbuf	*a, *b;
	struct imsg	 imsg;
	int		 sv[2];

	make_pair(sv);
	a = imsgbuf_new(sv[0]);
	b = imsgbuf_new(sv[1]);
	ck_assert_int_eq(imsg_compose(a, 1, 0, 0, -1, "last", 4), 0);
	ck_assert_int_eq(imsgbuf_flush(a), 0);
	imsgbuf_free(a);
	close(sv[0]);

	/* the frame sent before the close still arrives, then EOF */
	ck_assert_int_eq(imsgbuf_read(b), IMSG_HEADER_SIZE + 4);
	ck_assert_int_eq(imsgbuf_read(b), 0);
	ck_assert_int_eq(imsg_get(b, &imsg), 1);
	ck_assert_mem_eq(imsg.data, "last", 4);
	imsg_free(&imsg);
	ck_assert_int_eq(imsg_get(b, &imsg), 0);
	ck_assert_int_eq(imsgbuf_read(b), 0);

	/* writing to a peer that is gone: EPIPE, no SIGPIPE */
	ck_assert_int_eq(imsg_compose(b, 2, 0, 0, -1, "x", 1), 0);
	errno = 0;
	ck_assert_int_eq(imsgbuf_write(b), -1);
	ck_assert_int_eq(errno, EPIPE);
	ck_assert_ptr_nonnull(strstr(imsgbuf_error(b), "write"));
	imsgbuf_free(b);
	close(sv[1]);
}
END_TEST

/* Nothing to read on a non-blocking socket is EAGAIN, not EOF. */
START_TEST(test_eagain)
{
	struct imsgbuf	*b;
	int		 sv[2];

	make_pair(sv);
	set_nonblock(sv[1]);
	b = imsgbuf_new(sv[1]);
	errno = 0;
	ck_assert_int_eq(imsgbuf_read(b), -1);
	ck_assert_int_eq(errno, EAGAIN);
	imsgbuf_free(b);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/*
 * Memory stays bounded: a reader that does not take frames gets
 * ENOBUFS rather than a growing buffer, and resumes once it takes them.
 */
START_TEST(test_read_buffer_bounded)
{
	struct imsgbuf	*a, *b;
	struct imsg	 imsg;
	unsigned char	*body;
	size_t		 got;
	ssize_t		 n;
	int		 sv[2], i, frames;

	body = calloc(1, IMSG_MAX_BODY);
	ck_assert_ptr_nonnull(body);
	make_pair(sv);
	set_nonblock(sv[0]);
	set_nonblock(sv[1]);
	a = imsgbuf_new(sv[0]);
	b = imsgbuf_new(sv[1]);
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(imsg_compose(a, i, 0, 0, -1, body,
		    IMSG_MAX_BODY), 0);
	got = 0;
	for (;;) {
		ck_assert_int_ne(imsgbuf_write(a), -1);
		n = imsgbuf_read(b);
		if (n == -1 && errno == ENOBUFS)
			break;
		ck_assert_msg(n > 0 || errno == EAGAIN, "read: %s",
		    strerror(errno));
		if (n > 0)
			got += (size_t)n;
		ck_assert_uint_le(got, IMSG_MAX_SIZE + 16 * 1024);
	}
	ck_assert_ptr_nonnull(strstr(imsgbuf_error(b), "read buffer full"));
	frames = 0;
	while (frames < 3) {
		while (imsg_get(b, &imsg) == 1) {
			ck_assert_uint_eq(imsg.hdr.type, frames);
			imsg_free(&imsg);
			frames++;
		}
		ck_assert_int_ne(imsgbuf_write(a), -1);
		n = imsgbuf_read(b);
		ck_assert(n > 0 || (n == -1 && errno == EAGAIN) || frames == 3);
	}
	imsgbuf_free(a);
	imsgbuf_free(b);
	close(sv[0]);
	close(sv[1]);
	free(body);
}
END_TEST

/*
 * 1000 frames of 60 KiB through a non-blocking socket, writer and reader
 * taking turns in one process: partial writes happen and every frame
 * arrives whole and in order.
 */
START_TEST(test_nonblocking_large_queue)
{
	struct imsgbuf	*a, *b;
	struct imsg	 imsg;
	unsigned char	*body;
	uint32_t	 i, next;
	int		 sv[2], r, partial = 0;

	body = malloc(BIG_BODY);
	ck_assert_ptr_nonnull(body);
	make_pair(sv);
	set_nonblock(sv[0]);
	set_nonblock(sv[1]);
	a = imsgbuf_new(sv[0]);
	b = imsgbuf_new(sv[1]);
	for (i = 0; i < BIG_FRAMES; i++) {
		fill_body(body, BIG_BODY, i);
		ck_assert_int_eq(imsg_compose(a, i, 0, 0, -1, body, BIG_BODY),
		    0);
	}
	ck_assert_uint_eq(imsgbuf_queued(a),
	    (size_t)BIG_FRAMES * (IMSG_HEADER_SIZE + BIG_BODY));

	next = 0;
	while (next < BIG_FRAMES) {
		r = imsgbuf_write(a);
		ck_assert_int_ne(r, -1);
		if (r == 0)
			partial = 1;
		if (imsgbuf_read(b) == -1) {
			ck_assert_int_eq(errno, EAGAIN);
			continue;
		}
		while ((r = imsg_get(b, &imsg)) == 1) {
			ck_assert_uint_eq(imsg.hdr.type, next);
			ck_assert_uint_eq(imsg.datalen, BIG_BODY);
			ck_assert_msg(check_body(imsg.data, BIG_BODY, next),
			    "frame %u corrupted", next);
			imsg_free(&imsg);
			next++;
		}
		ck_assert_int_eq(r, 0);
	}
	ck_assert(partial);
	ck_assert_uint_eq(imsgbuf_queued(a), 0);
	imsgbuf_free(a);
	imsgbuf_free(b);
	close(sv[0]);
	close(sv[1]);
	free(body);
}
END_TEST

/* imsgbuf_flush blocks (poll) until a reader in another process drains. */
START_TEST(test_flush_to_child)
{
	struct imsgbuf	*a, *b;
	struct imsg	 imsg;
	unsigned char	*body;
	uint32_t	 i;
	pid_t		 pid;
	int		 sv[2], status, bad;

	body = malloc(BIG_BODY);
	ck_assert_ptr_nonnull(body);
	make_pair(sv);
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		free(body);	/* the parent's; valgrind counts it lost */
		close(sv[0]);
		b = imsgbuf_new(sv[1]);
		bad = 0;
		for (i = 0; i < 200; i++) {
			if (wait_frame(b, &imsg) != 1 || imsg.hdr.type != i ||
			    imsg.datalen != BIG_BODY ||
			    !check_body(imsg.data, BIG_BODY, i))
				bad = 1;
			imsg_free(&imsg);
			if (bad)
				_exit(1);
		}
		_exit(wait_frame(b, &imsg) == 0 ? 0 : 2);
	}
	close(sv[1]);
	set_nonblock(sv[0]);
	a = imsgbuf_new(sv[0]);
	for (i = 0; i < 200; i++) {
		fill_body(body, BIG_BODY, i);
		ck_assert_int_eq(imsg_compose(a, i, 0, 0, -1, body, BIG_BODY),
		    0);
	}
	ck_assert_int_eq(imsgbuf_flush(a), 0);
	ck_assert_uint_eq(imsgbuf_queued(a), 0);
	imsgbuf_free(a);
	close(sv[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	free(body);
}
END_TEST

/* Descriptors still queued or unclaimed are closed by imsgbuf_free. */
START_TEST(test_free_closes_queued_fds)
{
	unsigned char	 buf[IMSG_HEADER_SIZE];
	struct imsgbuf	*a, *b;
	int		 sv[2], p[2], before;

	make_pair(sv);
	before = count_fds();
	a = imsgbuf_new(sv[0]);
	ck_assert_int_eq(pipe(p), 0);
	close(p[1]);
	ck_assert_int_eq(imsg_compose(a, 1, 0, 0, p[0], NULL, 0), 0);
	imsgbuf_free(a);
	ck_assert_int_eq(count_fds(), before);

	/* received for a frame nobody took */
	b = imsgbuf_new(sv[1]);
	ck_assert_int_eq(pipe(p), 0);
	close(p[1]);
	raw_frame(buf, 1, IMSG_HEADER_SIZE, IMSGF_HASFD, 0, NULL, 0);
	raw_sendmsg(sv[0], buf, sizeof(buf), &p[0], 1);
	close(p[0]);
	ck_assert_int_eq(imsgbuf_read(b), IMSG_HEADER_SIZE);
	ck_assert_int_eq(count_fds(), before + 1);
	imsgbuf_free(b);
	ck_assert_int_eq(count_fds(), before);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

static Suite *
imsg_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("imsg");
	tc = tcase_create("imsg");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_roundtrip);
	tcase_add_test(tc, test_split_reads);
	tcase_add_test(tc, test_many_frames_one_read);
	tcase_add_test(tc, test_fd_passing);
	tcase_add_test(tc, test_fd_association);
	tcase_add_test(tc, test_hasfd_without_fd);
	tcase_add_test(tc, test_fd_not_given_to_earlier_frame);
	tcase_add_test(tc, test_max_size);
	tcase_add_test(tc, test_garbage_headers);
	tcase_add_test(tc, test_eof);
	tcase_add_test(tc, test_eagain);
	tcase_add_test(tc, test_read_buffer_bounded);
	tcase_add_test(tc, test_nonblocking_large_queue);
	tcase_add_test(tc, test_flush_to_child);
	tcase_add_test(tc, test_free_closes_queued_fds);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	/* a peer that goes away must be EPIPE, never a fatal signal */
	signal(SIGPIPE, SIG_DFL);
	sr = srunner_create(imsg_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
