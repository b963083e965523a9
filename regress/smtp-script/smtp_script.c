/*
 * smtp-script: run an SMTP conversation from a script and check every
 * reply.  Used by the end-to-end scenarios in regress/scenarios/.
 *
 *	smtp-script [-q] [-t seconds] [-D name=value ...] script | -
 *
 * Exit status: 0 every step passed, 1 a step failed (the message on
 * stderr names the script line, what was expected and what came), 2
 * usage or script syntax errors.  The transcript goes to stdout: "C: "
 * for what was sent, "S: " for what was received (-q: none).
 *
 * The language, one command a line; blank lines and lines starting
 * with '#' are ignored, leading blanks too (indent blocks freely):
 *
 *	connect HOST PORT	TCP connection (numeric address only);
 *				closes the previous one
 *	connect-unix PATH	the same over a UNIX socket
 *	close			close the connection
 *	send LINE		LINE and CRLF (the rest of the line as is,
 *				inner and trailing blanks included)
 *	send-raw BYTES		BYTES only, with the escapes \r \n \t \0
 *				\\ and \xHH: bare LF, NUL, no CRLF...
 *	data-file FILE		FILE as message content: each line
 *				dot-stuffed and ended with CRLF (a CR
 *				before LF in the file is dropped first),
 *				then ".": send DATA and expect 354 before
 *	expect CODE [REGEX]	read one whole reply (every "CODE-" line
 *				up to the "CODE " line); CODE is three
 *				characters, digits or x for any ("2xx");
 *				REGEX, if given, is a POSIX extended regular
 *				expression searched in the reply's lines
 *				(codes included; ^ and $ match at each line)
 *	expect-close		the server closes the connection, sending
 *				nothing more
 *	sleep-until-closed	wait until the server closes it, whatever
 *				it sends meanwhile
 *	expect-silence SECS	nothing arrives during SECS seconds (for a
 *				paused listener: the banner must not come)
 *	pipeline ... end	every send, send-raw and data-file of the
 *				block goes out in one write, then each expect
 *				of the block is checked, in order
 *	repeat N ... end	the block N times; ${n} is the count (1..N)
 *	timeout SECS		how long each later step may wait (default
 *				30 s, or -t)
 *	wait-file PATH		wait (up to the timeout) until PATH exists:
 *				a rendezvous with the shell script
 *	print TEXT		print TEXT on stdout
 *
 * ${name} anywhere in a line is replaced by a -D definition, else by
 * the environment variable of that name; ${n} is the counter of the
 * innermost repeat.  An undefined name fails the step.
 *
 * Example:
 *	connect 127.0.0.1 ${PORT}
 *	expect 220
 *	pipeline
 *		send EHLO test
 *		send MAIL FROM:<a@example.org>
 *		expect 250 PIPELINING
 *		expect 250
 *	end
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "script.h"

#define LINE_MAX_EXPANDED	65536
#define REPLY_MAX		65536

enum run_mode {
	RUN_ALL,	/* each command as it comes */
	RUN_SEND,	/* first pass of a pipeline: only what sends */
	RUN_EXPECT,	/* second pass: only what reads */
};

static const char	*script_name;
static struct script_cmd *script;	/* global: reachable until exit */
static char		*outbuf;	/* what is to be written */
static size_t		 outlen, outcap;

static void	 usage(void) __attribute__((noreturn));
static void	 fail(const struct script_cmd *, const char *, ...)
		    __attribute__((noreturn, format(printf, 2, 3)));
static void	 out_append(const char *, size_t);
static void	 out_flush(const struct script_cmd *);
static void	 run_list(const struct script_cmd *, int, enum run_mode);
static void	 run_one(const struct script_cmd *, int, enum run_mode);
static void	 run_expect(const struct script_cmd *, const char *);
static void	 run_data_file(const struct script_cmd *, const char *);
static void	 run_wait_file(const struct script_cmd *, const char *);
static int	 number(const char *);

static void
usage(void)
{
	fprintf(stderr, "usage: smtp-script [-q] [-t seconds] "
	    "[-D name=value] script | -\n");
	exit(2);
}

static void
fail(const struct script_cmd *c, const char *fmt, ...)
{
	va_list	 ap;

	fflush(stdout);
	fprintf(stderr, "%s:%d: ", script_name, c->line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static int
number(const char *s)
{
	char	*end;
	long	 v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 0 || v > 1000000)
		return -1;
	return (int)v;
}

static void
out_append(const char *buf, size_t len)
{
	char	*p;

	if (outlen + len > outcap) {
		if ((p = realloc(outbuf, outlen + len + 65536)) == NULL) {
			perror("realloc");
			exit(2);
		}
		outbuf = p;
		outcap = outlen + len + 65536;
	}
	memcpy(outbuf + outlen, buf, len);
	outlen += len;
}

static void
out_flush(const struct script_cmd *c)
{
	char	 err[512];

	if (outlen == 0)
		return;
	if (io_write(outbuf, outlen, err, sizeof(err)) == -1)
		fail(c, "sending: %s", err);
	outlen = 0;
}

static void
run_expect(const struct script_cmd *c, const char *arg)
{
	static char	 text[REPLY_MAX];
	char		 want[4], code[4], err[512], *re;
	regex_t		 preg;
	size_t		 i;
	int		 r;

	if (strlen(arg) < 3 || (arg[3] != '\0' && arg[3] != ' ' &&
	    arg[3] != '\t'))
		fail(c, "expect: bad code \"%s\"", arg);
	memcpy(want, arg, 3);
	want[3] = '\0';
	for (i = 0; i < 3; i++)
		if ((want[i] < '0' || want[i] > '9') && want[i] != 'x' &&
		    want[i] != 'X')
			fail(c, "expect: bad code \"%s\"", want);
	for (re = (char *)arg + 3; *re == ' ' || *re == '\t'; re++)
		;
	if (io_read_reply(code, text, sizeof(text), err, sizeof(err)) == -1)
		fail(c, "expected %s%s%s, %s", want, *re ? " matching " : "",
		    re, err);
	for (i = 0; i < 3; i++)
		if (want[i] != 'x' && want[i] != 'X' && want[i] != code[i])
			fail(c, "expected %s%s%s, got:\n%s", want,
			    *re ? " matching " : "", re, text);
	if (*re == '\0')
		return;
	if ((r = regcomp(&preg, re, REG_EXTENDED | REG_NEWLINE |
	    REG_NOSUB)) != 0) {
		regerror(r, &preg, err, sizeof(err));
		fail(c, "bad regular expression \"%s\": %s", re, err);
	}
	r = regexec(&preg, text, 0, NULL, 0);
	regfree(&preg);
	if (r != 0)
		fail(c, "expected %s matching %s, got:\n%s", want, re, text);
}

static void
run_data_file(const struct script_cmd *c, const char *path)
{
	FILE	*fp;
	char	*line = NULL;
	size_t	 linesz = 0, before = outlen;
	ssize_t	 n;
	int	 lines = 0;

	if ((fp = fopen(path, "r")) == NULL)
		fail(c, "%s: %s", path, strerror(errno));
	while ((n = getline(&line, &linesz, fp)) != -1) {
		if (n > 0 && line[n - 1] == '\n')
			n--;
		if (n > 0 && line[n - 1] == '\r')
			n--;
		if (n > 0 && line[0] == '.')
			out_append(".", 1);
		out_append(line, n);
		out_append("\r\n", 2);
		lines++;
	}
	if (ferror(fp))
		fail(c, "%s: read error", path);
	free(line);
	fclose(fp);
	out_append(".\r\n", 3);
	if (io_verbose)
		printf("C: <data-file %s: %d lines, %zu bytes>\nC: .\n", path,
		    lines, outlen - before);
}

static void
run_wait_file(const struct script_cmd *c, const char *path)
{
	struct timespec	 tick = { 0, 100 * 1000 * 1000 };
	struct stat	 sb;
	int		 i;

	for (i = 0; i < io_timeout * 10; i++) {
		if (stat(path, &sb) == 0)
			return;
		nanosleep(&tick, NULL);
	}
	fail(c, "%s did not appear within %d s", path, io_timeout);
}

static void
run_one(const struct script_cmd *c, int counter, enum run_mode mode)
{
	static char	 arg[LINE_MAX_EXPANDED], raw[LINE_MAX_EXPANDED];
	char		 err[512], *port;
	int		 n, sends, i;

	if (vars_expand(c->arg, counter, arg, sizeof(arg), err,
	    sizeof(err)) == -1)
		fail(c, "%s", err);
	sends = c->op == OP_SEND || c->op == OP_SEND_RAW ||
	    c->op == OP_DATA_FILE;
	if (mode != RUN_ALL && c->op != OP_REPEAT && !sends &&
	    c->op != OP_EXPECT && c->op != OP_EXPECT_CLOSE)
		fail(c, "not allowed inside a pipeline");
	if ((mode == RUN_SEND && !sends && c->op != OP_REPEAT) ||
	    (mode == RUN_EXPECT && sends))
		return;

	switch (c->op) {
	case OP_CONNECT:
		if ((port = strrchr(arg, ' ')) == NULL)
			fail(c, "usage: connect HOST PORT");
		*port++ = '\0';
		if (io_connect_tcp(arg, port, err, sizeof(err)) == -1)
			fail(c, "%s", err);
		if (io_verbose)
			printf("-- connected to %s port %s\n", arg, port);
		break;
	case OP_CONNECT_UNIX:
		if (io_connect_unix(arg, err, sizeof(err)) == -1)
			fail(c, "%s", err);
		if (io_verbose)
			printf("-- connected to %s\n", arg);
		break;
	case OP_CLOSE:
		io_close();
		break;
	case OP_SEND:
		if (io_verbose)
			printf("C: %s\n", arg);
		out_append(arg, strlen(arg));
		out_append("\r\n", 2);
		break;
	case OP_SEND_RAW:
		if ((n = unescape(arg, raw, sizeof(raw))) == -1)
			fail(c, "bad escape in \"%s\"", arg);
		if (io_verbose)
			printf("C: (raw) %s\n", arg);
		out_append(raw, n);
		break;
	case OP_DATA_FILE:
		run_data_file(c, arg);
		break;
	case OP_EXPECT:
		run_expect(c, arg);
		break;
	case OP_EXPECT_CLOSE:
	case OP_SLEEP_UNTIL_CLOSED:
		if (io_wait_close(c->op == OP_EXPECT_CLOSE, err,
		    sizeof(err)) == -1)
			fail(c, "expected the server to close: %s", err);
		if (io_verbose)
			printf("-- closed by the server\n");
		break;
	case OP_EXPECT_SILENCE:
		if ((n = number(arg)) < 1)
			fail(c, "bad number of seconds \"%s\"", arg);
		if (io_expect_silence(n, err, sizeof(err)) == -1)
			fail(c, "expected nothing for %d s, %s", n, err);
		if (io_verbose)
			printf("-- nothing for %d s\n", n);
		break;
	case OP_TIMEOUT:
		if ((n = number(arg)) < 1)
			fail(c, "bad number of seconds \"%s\"", arg);
		io_timeout = n;
		break;
	case OP_WAIT_FILE:
		run_wait_file(c, arg);
		break;
	case OP_PRINT:
		printf("%s\n", arg);
		break;
	case OP_PIPELINE:
		run_list(c->body, counter, RUN_SEND);
		out_flush(c);
		run_list(c->body, counter, RUN_EXPECT);
		break;
	case OP_REPEAT:
		if ((n = number(arg)) < 0)
			fail(c, "bad count \"%s\"", arg);
		for (i = 1; i <= n; i++)
			run_list(c->body, i, mode);
		break;
	}
	if (mode == RUN_ALL)
		out_flush(c);
	fflush(stdout);
}

static void
run_list(const struct script_cmd *c, int counter, enum run_mode mode)
{
	for (; c != NULL; c = c->next)
		run_one(c, counter, mode);
}

int
main(int argc, char *argv[])
{
	FILE			*fp;
	int			 ch, errors;

	while ((ch = getopt(argc, argv, "D:qt:")) != -1) {
		switch (ch) {
		case 'D':
			if (vars_define(optarg) == -1) {
				fprintf(stderr, "smtp-script: -D %s: expected "
				    "name=value\n", optarg);
				exit(2);
			}
			break;
		case 'q':
			io_verbose = 0;
			break;
		case 't':
			if ((io_timeout = number(optarg)) < 1)
				usage();
			break;
		default:
			usage();
		}
	}
	if (argc - optind != 1)
		usage();
	script_name = argv[optind];
	if (strcmp(script_name, "-") == 0) {
		fp = stdin;
		script_name = "(stdin)";
	} else if ((fp = fopen(script_name, "r")) == NULL) {
		fprintf(stderr, "smtp-script: %s: %s\n", script_name,
		    strerror(errno));
		exit(2);
	}
	script = script_parse(fp, script_name, &errors);
	if (errors > 0)
		exit(2);
	if (fp != stdin)
		fclose(fp);
	run_list(script, 0, RUN_ALL);
	io_close();
	return 0;
}
