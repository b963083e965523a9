/*
 * script_io.c: the scenario tool's one connection.
 *
 * Everything waits with poll(2) and a deadline of io_timeout seconds,
 * so that a server that never answers makes the script fail with a
 * message instead of hanging the test suite.  Received bytes go to a
 * growing buffer: io_write keeps reading while it writes, so a long
 * pipeline never dead-locks against the replies it provokes.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "script.h"

#define IO_LINE_MAX	65536	/* longest reply line we accept */

int		 io_timeout = 30;
int		 io_verbose = 1;

static int	 conn = -1;
static char	*inbuf;
static size_t	 inlen, incap;
static int	 ineof;

static long	 now_ms(void);
static int	 io_fill(long deadline, char *, size_t);
static int	 io_read_line(char *, size_t, char *, size_t);
static void	 io_show(const char *, const char *, size_t);

static long
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Print received bytes as transcript lines. */
static void
io_show(const char *prefix, const char *buf, size_t len)
{
	size_t	 i;

	if (!io_verbose)
		return;
	fputs(prefix, stdout);
	for (i = 0; i < len; i++) {
		if (buf[i] == '\n' && i + 1 < len)
			fprintf(stdout, "\n%s", prefix);
		else if (buf[i] == '\r' || buf[i] == '\n')
			continue;
		else
			putchar(buf[i]);
	}
	putchar('\n');
	fflush(stdout);
}

int
io_connect_tcp(const char *host, const char *port, char *err, size_t errsz)
{
	struct addrinfo	 hints, *res, *ai;
	int		 r, s = -1, saved = 0;

	io_close();
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	/* Numeric only: the tests never use the machine's DNS. */
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	if ((r = getaddrinfo(host, port, &hints, &res)) != 0) {
		snprintf(err, errsz, "%s port %s: %s", host, port,
		    gai_strerror(r));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		s = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
		    ai->ai_protocol);
		if (s == -1) {
			saved = errno;
			continue;
		}
		if (connect(s, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		saved = errno;
		close(s);
		s = -1;
	}
	freeaddrinfo(res);
	if (s == -1) {
		snprintf(err, errsz, "connect %s port %s: %s", host, port,
		    strerror(saved));
		return -1;
	}
	conn = s;
	return 0;
}

int
io_connect_unix(const char *path, char *err, size_t errsz)
{
	struct sockaddr_un	 sun;
	int			 s;

	io_close();
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errsz, "%s: socket path too long", path);
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if ((s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		snprintf(err, errsz, "socket: %s", strerror(errno));
		return -1;
	}
	if (connect(s, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		snprintf(err, errsz, "connect %s: %s", path, strerror(errno));
		close(s);
		return -1;
	}
	conn = s;
	return 0;
}

void
io_close(void)
{
	if (conn != -1)
		close(conn);
	conn = -1;
	inlen = 0;
	ineof = 0;
}

int
io_connected(void)
{
	return conn != -1;
}

/* Read what is there into inbuf: 1 data, 0 end of file, -1 error. */
static int
io_fill(long deadline, char *err, size_t errsz)
{
	struct pollfd	 pfd;
	ssize_t		 n;
	long		 left;
	char		*p;

	if (incap - inlen < 4096) {
		if ((p = realloc(inbuf, incap + 65536)) == NULL) {
			snprintf(err, errsz, "out of memory");
			return -1;
		}
		inbuf = p;
		incap += 65536;
	}
	for (;;) {
		left = deadline - now_ms();
		if (left <= 0) {
			snprintf(err, errsz, "got nothing within %d s",
			    io_timeout);
			return -1;
		}
		pfd.fd = conn;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, (int)left) == -1) {
			if (errno == EINTR)
				continue;
			snprintf(err, errsz, "poll: %s", strerror(errno));
			return -1;
		}
		if (pfd.revents == 0)
			continue;
		n = read(conn, inbuf + inlen, incap - inlen);
		if (n == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n == -1 && errno == ECONNRESET)
			n = 0;
		if (n == -1) {
			snprintf(err, errsz, "read: %s", strerror(errno));
			return -1;
		}
		if (n == 0) {
			ineof = 1;
			return 0;
		}
		inlen += n;
		return 1;
	}
}

/* One line, CR LF or LF stripped: 1, 0 at end of file, -1 error. */
static int
io_read_line(char *line, size_t linesz, char *err, size_t errsz)
{
	long	 deadline = now_ms() + io_timeout * 1000L;
	char	*nl;
	size_t	 len;
	int	 r;

	for (;;) {
		if (inlen > 0 && (nl = memchr(inbuf, '\n', inlen)) != NULL)
			break;
		if (inlen > IO_LINE_MAX) {
			snprintf(err, errsz, "got a reply line longer than "
			    "%d bytes", IO_LINE_MAX);
			return -1;
		}
		if (ineof) {
			if (inlen > 0) {
				io_show("S: ", inbuf, inlen);
				snprintf(err, errsz, "got connection closed "
				    "after an unterminated line");
				return -1;
			}
			return 0;
		}
		if ((r = io_fill(deadline, err, errsz)) == -1)
			return -1;
	}
	len = nl - inbuf;
	io_show("S: ", inbuf, len);
	if (len > 0 && inbuf[len - 1] == '\r')
		len--;
	if (len >= linesz)
		len = linesz - 1;
	memcpy(line, inbuf, len);
	line[len] = '\0';
	len = nl - inbuf + 1;
	memmove(inbuf, inbuf + len, inlen - len);
	inlen -= len;
	return 1;
}

int
io_read_reply(char code[4], char *text, size_t textsz, char *err,
    size_t errsz)
{
	static char	 line[IO_LINE_MAX + 1];
	size_t		 used = 0, n;
	int		 r;

	text[0] = '\0';
	if (conn == -1) {
		snprintf(err, errsz, "not connected");
		return -1;
	}
	for (;;) {
		if ((r = io_read_line(line, sizeof(line), err, errsz)) == -1)
			return -1;
		if (r == 0) {
			snprintf(err, errsz, "got connection closed%s%s",
			    used ? " in the middle of: " : "", text);
			return -1;
		}
		n = strlen(line);
		if (used > 0 && used + 1 < textsz)
			text[used++] = '\n';
		if (used + n >= textsz)
			n = used < textsz - 1 ? textsz - 1 - used : 0;
		memcpy(text + used, line, n);
		used += n;
		text[used] = '\0';
		if (strlen(line) < 3 || line[0] < '0' || line[0] > '9' ||
		    line[1] < '0' || line[1] > '9' || line[2] < '0' ||
		    line[2] > '9' || (line[3] != '\0' && line[3] != ' ' &&
		    line[3] != '-')) {
			snprintf(err, errsz, "got a malformed reply line: %s",
			    line);
			return -1;
		}
		if (line[3] != '-')
			break;
	}
	memcpy(code, line, 3);
	code[3] = '\0';
	return 0;
}

int
io_write(const char *buf, size_t len, char *err, size_t errsz)
{
	struct pollfd	 pfd;
	long		 deadline = now_ms() + io_timeout * 1000L, left;
	ssize_t		 n;
	size_t		 off = 0;

	if (conn == -1) {
		snprintf(err, errsz, "not connected");
		return -1;
	}
	while (off < len) {
		left = deadline - now_ms();
		if (left <= 0) {
			snprintf(err, errsz, "could not write within %d s "
			    "(%zu of %zu bytes written)", io_timeout, off,
			    len);
			return -1;
		}
		pfd.fd = conn;
		pfd.events = POLLOUT | (ineof ? 0 : POLLIN);
		if (poll(&pfd, 1, (int)left) == -1) {
			if (errno == EINTR)
				continue;
			snprintf(err, errsz, "poll: %s", strerror(errno));
			return -1;
		}
		if ((pfd.revents & POLLIN) && !ineof &&
		    io_fill(deadline, err, errsz) == -1)
			return -1;
		if ((pfd.revents & (POLLOUT | POLLERR | POLLHUP)) == 0)
			continue;
		n = send(conn, buf + off, len - off, MSG_NOSIGNAL);
		if (n == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n == -1) {
			snprintf(err, errsz, "write: %s (%zu of %zu bytes "
			    "written)", strerror(errno), off, len);
			return -1;
		}
		off += n;
		deadline = now_ms() + io_timeout * 1000L;
	}
	return 0;
}

int
io_wait_close(int strict, char *err, size_t errsz)
{
	long	 deadline = now_ms() + io_timeout * 1000L;
	int	 r;

	if (conn == -1)
		return 0;
	for (;;) {
		if (inlen > 0) {
			io_show("S: ", inbuf, inlen);
			if (strict) {
				snprintf(err, errsz, "got data instead of the "
				    "close: %.*s", (int)(inlen > 200 ? 200 :
				    inlen), inbuf);
				return -1;
			}
			inlen = 0;
		}
		if (ineof)
			break;
		if ((r = io_fill(deadline, err, errsz)) == -1) {
			snprintf(err, errsz, "the connection was still open "
			    "after %d s", io_timeout);
			return -1;
		}
	}
	io_close();
	return 0;
}

int
io_expect_silence(int seconds, char *err, size_t errsz)
{
	long	 deadline = now_ms() + seconds * 1000L;
	int	 r;

	if (conn == -1) {
		snprintf(err, errsz, "not connected");
		return -1;
	}
	if (inlen == 0 && !ineof) {
		r = io_fill(deadline, err, errsz);
		if (r == -1 && now_ms() >= deadline)
			return 0;	/* silence, as wanted */
		if (r == -1)
			return -1;
	}
	if (inlen > 0) {
		io_show("S: ", inbuf, inlen);
		snprintf(err, errsz, "got data: %.*s", (int)(inlen > 200 ?
		    200 : inlen), inbuf);
	} else
		snprintf(err, errsz, "got connection closed");
	return -1;
}
