/*
 * blast_session.c: one SMTP session of smtp-blast.  It connects, says
 * EHLO, then takes message numbers from the shared counter and sends
 * each message (MAIL, RCPT, DATA, content) waiting for every reply, as
 * a plain client without PIPELINING does, until none is left; then
 * QUIT.  A refused message, or a lost connection, ends the session
 * and the message is tried again on a new one (MESSAGE_TRIES times).
 */

#include <sys/socket.h>
#include <sys/time.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "blast.h"

#define REPLY_MAX	4096	/* one reply line, as RFC 5321 allows 512 */
#define HEADER_MAX	512
#define MESSAGE_TRIES	3	/* sessions a message is tried on */

struct conn {
	int	 fd;
	char	 buf[REPLY_MAX];
	size_t	 len;		/* bytes in buf */
};

static int	 conn_open(struct conn *, const struct blast *);
static int	 write_all(int, const char *, size_t);
static int	 read_line(struct conn *, char *, size_t);
static int	 reply(struct conn *);
static int	 command(struct conn *, const char *, int);
static int	 send_message(struct conn *, struct blast *, char *, int);
static int	 session_open(struct conn *, struct blast *);
static void	 note_last(struct blast *);

double
blast_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
conn_open(struct conn *c, const struct blast *b)
{
	struct sockaddr_in	 sin;
	struct timeval		 tv;
	int			 one = 1;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(b->port);
	if (inet_pton(AF_INET, b->host, &sin.sin_addr) != 1) {
		fprintf(stderr, "smtp-blast: %s: not an IPv4 address\n",
		    b->host);
		return -1;
	}
	if ((c->fd = socket(AF_INET, SOCK_STREAM, 0)) == -1) {
		perror("smtp-blast: socket");
		return -1;
	}
	c->len = 0;
	tv.tv_sec = b->timeout;
	tv.tv_usec = 0;
	/* A daemon that stops answering must not hang the bench. */
	if (setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1 ||
	    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == -1 ||
	    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one,
	    sizeof(one)) == -1 ||
	    connect(c->fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		fprintf(stderr, "smtp-blast: %s:%d: %s\n", b->host, b->port,
		    strerror(errno));
		close(c->fd);
		c->fd = -1;
		return -1;
	}
	return 0;
}

static int
write_all(int fd, const char *p, size_t len)
{
	ssize_t	 n;

	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= n;
	}
	return 0;
}

/* One line without its CRLF into line; -1 on error, close or overflow. */
static int
read_line(struct conn *c, char *line, size_t size)
{
	char	*eol;
	size_t	 n;
	ssize_t	 r;

	for (;;) {
		if ((eol = memchr(c->buf, '\n', c->len)) != NULL) {
			n = eol - c->buf;
			if (n + 1 > size)
				return -1;
			memcpy(line, c->buf, n);
			line[n] = '\0';
			if (n > 0 && line[n - 1] == '\r')
				line[n - 1] = '\0';
			c->len -= n + 1;
			memmove(c->buf, eol + 1, c->len);
			return 0;
		}
		if (c->len == sizeof(c->buf))
			return -1;
		r = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		c->len += r;
	}
}

/* The code of one whole (multi-line) reply, -1 when none came. */
static int
reply(struct conn *c)
{
	char	 line[REPLY_MAX];

	do {
		if (read_line(c, line, sizeof(line)) == -1 ||
		    strlen(line) < 3)
			return -1;
	} while (line[3] == '-');
	return atoi(line);
}

/* Send a command line; 0 when the reply has code want, 1 when it has
 * another, -1 when the connection failed. */
static int
command(struct conn *c, const char *cmd, int want)
{
	int	 code;

	if (write_all(c->fd, cmd, strlen(cmd)) == -1 ||
	    (code = reply(c)) == -1)
		return -1;
	return code == want ? 0 : 1;
}

static int
send_message(struct conn *c, struct blast *b, char *buf, int n)
{
	char	 cmd[HEADER_MAX];
	int	 hl, r;

	snprintf(cmd, sizeof(cmd), "MAIL FROM:<%s>\r\n", b->from);
	if ((r = command(c, cmd, 250)) != 0)
		return r;
	snprintf(cmd, sizeof(cmd), "RCPT TO:<%s>\r\n", b->rcpt);
	if ((r = command(c, cmd, 250)) != 0)
		return r;
	if ((r = command(c, "DATA\r\n", 354)) != 0)
		return r;
	/* Headers that differ, then the common part, in one write. */
	hl = snprintf(buf, HEADER_MAX,
	    "From: <%s>\r\nTo: <%s>\r\nSubject: smtp-blast message %d\r\n"
	    "Message-ID: <%d.%d@smtp-blast.test>\r\n",
	    b->from, b->rcpt, n, n, (int)getpid());
	if (hl < 0 || hl >= HEADER_MAX)
		return -1;
	memcpy(buf + hl, b->body, b->bodylen);
	if (write_all(c->fd, buf, hl + b->bodylen) == -1 ||
	    (r = reply(c)) == -1)
		return -1;
	return r == 250 ? 0 : 1;
}

/* The time of the last 250: the latest any thread saw. */
static void
note_last(struct blast *b)
{
	long long	 now, seen;

	now = (long long)((blast_now() - b->t0) * 1e9);
	seen = atomic_load(&b->last_ns);
	while (now > seen &&
	    !atomic_compare_exchange_weak(&b->last_ns, &seen, now))
		;
}

/* Connect and get through the banner and EHLO: 0, or -1. */
static int
session_open(struct conn *c, struct blast *b)
{
	if (conn_open(c, b) == -1)
		return -1;
	atomic_fetch_add(&b->connections, 1);
	if (reply(c) != 220 ||
	    command(c, "EHLO smtp-blast.test\r\n", 250) != 0) {
		fprintf(stderr, "smtp-blast: no banner or EHLO refused\n");
		close(c->fd);
		c->fd = -1;
		return -1;
	}
	return 0;
}

void *
blast_session(void *arg)
{
	struct blast	*b = arg;
	struct conn	 c;
	char		*buf;
	double		 t;
	int		 n = -1, tries = 0, r;

	c.fd = -1;
	if ((buf = malloc(HEADER_MAX + b->bodylen)) == NULL)
		return NULL;
	for (;;) {
		if (n == -1) {
			n = atomic_fetch_add(&b->next, 1);
			if (n >= b->messages)
				break;
			tries = 0;
		}
		if (c.fd == -1 && session_open(&c, b) == -1)
			break;
		t = blast_now();
		if ((r = send_message(&c, b, buf, n)) == 0) {
			b->latency[n] = blast_now() - t;
			atomic_fetch_add(&b->accepted, 1);
			note_last(b);
			n = -1;
			continue;
		}
		/*
		 * Refused ("452 Too many messages in this session" after
		 * 100 with OpenSMTPD and ours) or lost: as a real client,
		 * end this session and try again on a new one.
		 */
		if (r == 1)
			command(&c, "QUIT\r\n", 221);
		close(c.fd);
		c.fd = -1;
		atomic_fetch_add(&b->retries, 1);
		if (++tries == MESSAGE_TRIES) {
			fprintf(stderr, "smtp-blast: message %d refused %d "
			    "times\n", n, tries);
			n = -1;
		}
	}
	if (c.fd != -1) {
		command(&c, "QUIT\r\n", 221);
		close(c.fd);
	}
	free(buf);
	return NULL;
}
