/*
 * smtp-blast: the load generator of "make bench".  It opens N
 * concurrent SMTP sessions to one address on loopback and sends M
 * messages of S bytes in all over them, then prints one line of
 * figures:
 *
 *	smtp-blast [-c sessions] [-n messages] [-s size] [-f from]
 *	    [-r rcpt] [-t seconds] [-w maildir/new] -p port [host]
 *
 *	accepted=2000 failed=0 sessions=24 retries=16 accept_s=1.234
 *	    accept_rate=1620.7 lat_p50_ms=4.1 lat_p99_ms=12.0
 *	    deliver_s=2.345 deliver_rate=852.9
 *
 * A session goes on until the server refuses a message (OpenSMTPD and
 * ours take 100 per session by default) or the connection is lost;
 * then a new session tries that message again, up to 3 times.
 * sessions counts the connections, retries the messages tried again.
 * accept_s runs from the first connection to the last "250" after the
 * data, accept_rate is accepted / accept_s; lat_* are the times from
 * MAIL FROM to that 250, per message.  With -w DIR (a maildir's "new"
 * folder), it then counts DIR until it holds accepted messages more
 * than it held at the start: deliver_s is the time from the first
 * connection to that moment (0.02 s polls), or the run fails after -t.
 *
 * Exit status: 0 every message was accepted (and delivered with -w),
 * 1 otherwise, 2 usage errors.
 */

#include <dirent.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "blast.h"

#define SESSIONS_MAX	1000
#define BODY_LINE	76	/* characters of each body line, CRLF apart */

static void	 usage(void);
static int	 number(const char *, int, int, const char *);
static char	*make_body(size_t, size_t *);
static long	 count_dir(const char *);
static int	 cmp_double(const void *, const void *);
static double	 percentile(double *, int, double);

static void
usage(void)
{
	fprintf(stderr, "usage: smtp-blast [-c sessions] [-n messages] "
	    "[-s size] [-f from] [-r rcpt]\n"
	    "\t[-t seconds] [-w maildir/new] -p port [host]\n");
	exit(2);
}

static int
number(const char *s, int min, int max, const char *what)
{
	char	*end;
	long	 v;

	v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || v < min || v > max) {
		fprintf(stderr, "smtp-blast: %s: %s not in %d..%d\n", s, what,
		    min, max);
		exit(2);
	}
	return (int)v;
}

/*
 * Everything after the headers that differ per message: a Date, the
 * blank line, lines of text up to about size bytes in all, the final
 * dot.  No line starts with a dot: nothing to stuff.
 */
static char *
make_body(size_t size, size_t *lenp)
{
	const char	*date = "Date: Thu, 01 Jan 2026 00:00:00 +0000\r\n\r\n";
	char		*b;
	size_t		 len, i, room;

	/* about 150 bytes of headers come before this part */
	room = size > 150 ? size - 150 : 0;
	if ((b = malloc(strlen(date) + room + BODY_LINE + 8)) == NULL) {
		perror("smtp-blast: malloc");
		exit(1);
	}
	len = strlcpy(b, date, strlen(date) + 1);
	while (room > 0) {
		for (i = 0; i < BODY_LINE && i + 2 < room; i++)
			b[len + i] = 'a' + (len + i) % 26;
		len += i;
		b[len++] = '\r';
		b[len++] = '\n';
		room = room > i + 2 ? room - i - 2 : 0;
	}
	memcpy(b + len, ".\r\n", 3);
	*lenp = len + 3;
	return b;
}

static long
count_dir(const char *path)
{
	DIR		*d;
	struct dirent	*e;
	long		 n = 0;

	if ((d = opendir(path)) == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static int
cmp_double(const void *a, const void *b)
{
	double	 x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The p-th percentile (0..1) of the n values >= 0 of v (sorted here). */
static double
percentile(double *v, int n, double p)
{
	int	 i, k = 0;

	for (i = 0; i < n; i++)
		if (v[i] >= 0)
			v[k++] = v[i];
	if (k == 0)
		return 0;
	qsort(v, k, sizeof(*v), cmp_double);
	return v[(int)(p * (k - 1) + 0.5)];
}

int
main(int argc, char *argv[])
{
	struct blast	 b;
	struct timespec	 nap = { 0, 20 * 1000 * 1000 };
	pthread_t	*th;
	const char	*waitdir = NULL;
	double		 accept_s, deliver_s = 0, deadline;
	long		 base = 0, have;
	int		 ch, i, sessions = 8, size = 4096, delivered = 1;
	int		 failed;

	memset(&b, 0, sizeof(b));
	b.host = "127.0.0.1";
	b.messages = 2000;
	b.from = "blast@smtp-blast.test";
	b.rcpt = "bench@localhost";
	b.timeout = 300;
	while ((ch = getopt(argc, argv, "c:f:n:p:r:s:t:w:")) != -1) {
		switch (ch) {
		case 'c':
			sessions = number(optarg, 1, SESSIONS_MAX, "sessions");
			break;
		case 'f':
			b.from = optarg;
			break;
		case 'n':
			b.messages = number(optarg, 1, 10000000, "messages");
			break;
		case 'p':
			b.port = number(optarg, 1, 65535, "port");
			break;
		case 'r':
			b.rcpt = optarg;
			break;
		case 's':
			size = number(optarg, 0, 64 * 1024 * 1024, "size");
			break;
		case 't':
			b.timeout = number(optarg, 1, 86400, "timeout");
			break;
		case 'w':
			waitdir = optarg;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc > 1 || b.port == 0)
		usage();
	if (argc == 1)
		b.host = argv[0];
	if (waitdir != NULL && (base = count_dir(waitdir)) == -1)
		base = 0;	/* made by the first delivery */

	b.body = make_body(size, &b.bodylen);
	b.latency = calloc(b.messages, sizeof(*b.latency));
	th = calloc(sessions, sizeof(*th));
	if (b.latency == NULL || th == NULL) {
		perror("smtp-blast: calloc");
		return 1;
	}
	for (i = 0; i < b.messages; i++)
		b.latency[i] = -1;

	b.t0 = blast_now();
	for (i = 0; i < sessions; i++)
		if (pthread_create(&th[i], NULL, blast_session, &b) != 0) {
			fprintf(stderr, "smtp-blast: pthread_create failed\n");
			return 1;
		}
	for (i = 0; i < sessions; i++)
		pthread_join(th[i], NULL);
	accept_s = atomic_load(&b.last_ns) / 1e9;

	if (waitdir != NULL && atomic_load(&b.accepted) > 0) {
		deadline = blast_now() + b.timeout;
		while ((have = count_dir(waitdir)) < base + b.accepted) {
			if (blast_now() > deadline) {
				fprintf(stderr, "smtp-blast: %ld of %d "
				    "delivered after %d s\n", have - base,
				    atomic_load(&b.accepted), b.timeout);
				delivered = 0;
				break;
			}
			nanosleep(&nap, NULL);
		}
		deliver_s = blast_now() - b.t0;
	}

	failed = b.messages - atomic_load(&b.accepted);
	printf("accepted=%d failed=%d sessions=%d retries=%d accept_s=%.3f "
	    "accept_rate=%.1f lat_p50_ms=%.2f lat_p99_ms=%.2f",
	    atomic_load(&b.accepted), failed, atomic_load(&b.connections),
	    atomic_load(&b.retries), accept_s, accept_s > 0 ? b.accepted / accept_s : 0,
	    percentile(b.latency, b.messages, 0.5) * 1000,
	    percentile(b.latency, b.messages, 0.99) * 1000);
	if (waitdir != NULL)
		printf(" deliver_s=%.3f deliver_rate=%.1f", deliver_s,
		    delivered && deliver_s > 0 ? b.accepted / deliver_s : 0);
	printf("\n");
	free(th);
	free(b.latency);
	free((char *)b.body);
	return (failed == 0 && delivered) ? 0 : 1;
}
