/*
 * probe_filter.c: the filter role of smtpd-probe: a scripted SMTP
 * session played against one filter, the way the daemon would.
 *
 *	connect ADDR [RDNS [confirmed|unconfirmed]]	new session
 *	helo NAME | mail ADDR | rcpt ADDR | data | eom	queries
 *	line [TEXT] | body FILE		message lines, sent in batches
 *	reset | disconnect | tx-begin [MSGID] | tx-commit | tx-rollback
 *	output FILE			write data-out lines there ("-": stdout)
 *
 * A query prints its decision: "mail bob@spam.example: reject 550 5.7.1
 * \"no spam\"".  At eom the lines the filter sent back are printed as
 * "eom: data-out: LINE" (or written to the output file), then the
 * decision with the number of lines out.  Frames for hooks the filter
 * did not announce are not sent: queries are then accepted and lines
 * passed through, as the daemon does.  Filter decisions, tempfail
 * included, count as answers; a timeout, a malformed reply or a line
 * count that does not match is a failure, printed with what the daemon
 * would answer.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "smtpd-api.h"
#include "probe.h"

static int	 filter_parse(int, char **, uint32_t *, struct msg *, int *,
		    char *, size_t);
static int	 filter_print(uint32_t, struct msg_reader *, FILE *);
static void	 filter_describe(uint64_t, FILE *);
static void	 filter_on_frame(struct probe *, struct imsg *,
		    struct msg_reader *);
static int	 filter_script(struct probe *, int, char **, char *, size_t);
static void	 filter_abort(struct probe *);
static int	 script_check(int, char **, char *, size_t);
static int	 parse_address(const char *, struct sockaddr_storage *);
static void	 split_mailaddr(const char *, char *, size_t, char *, size_t);
static void	 query(struct probe *, uint32_t, struct msg *);
static void	 query_reply(struct probe *, int, struct imsg *,
		    struct msg_reader *, void *);
static void	 event(struct probe *, uint32_t, struct msg *);
static void	 message_reset(void);
static void	 lines_begin(struct probe *, const char *, FILE *);
static void	 lines_pump(struct probe *);
static void	 lines_ack(struct probe *, int, struct imsg *,
		    struct msg_reader *, void *);
static void	 out_add(const char *);
static int	 out_emit(struct probe *);
static void	 fail(struct probe *, uint32_t, const char *, ...)
		    __attribute__((__format__(printf, 3, 4)));
static void	 print_reply(FILE *, const struct filter_reply *);

const struct probe_role probe_role_filter = {
	.name = HELPER_ROLE_FILTER,
	.usage =
	    "\tconnect ADDR [RDNS [confirmed|unconfirmed]]\n"
	    "\thelo NAME | mail ADDR | rcpt ADDR | data | eom\n"
	    "\tline [TEXT] | body FILE\n"
	    "\treset | disconnect | tx-begin [MSGID] | tx-commit | "
	    "tx-rollback\n"
	    "\toutput FILE\n",
	.parse = filter_parse,
	.print = filter_print,
	.describe = filter_describe,
	.on_frame = filter_on_frame,
	.script = filter_script,
	.abort = filter_abort,
};

/* The session being played and its current message. */
static struct {
	uint64_t	 session;		/* 1 for the first connect */
	uint32_t	 msgid;
	unsigned int	 transactions;
	char		*output;		/* NULL: stdout */

	uint32_t	 lines;			/* given to the filter */
	uint64_t	 bytes;
	char		**out;			/* data-out lines */
	size_t		 nout;
	size_t		 outcap;

	/* A line or body exchange in progress. */
	FILE		*in;
	char		*single;		/* the line of "line" */
	char		*carry;			/* did not fit its batch */
	int		 eof;
	int		 inflight;
	uint32_t	 window[FILTER_DATA_WINDOW];	/* lines per batch */
	uint32_t	 batches;
	uint32_t	 sent;
} pf;

/* Every verb is a script: one shared path for queries, events, lines. */
static int
filter_parse(int argc, char **argv, uint32_t *type, struct msg *body,
    int *fd, char *err, size_t errsz)
{
	snprintf(err, errsz, "unknown filter request \"%s\"", argv[0]);
	return -1;
}

static int
filter_print(uint32_t type, struct msg_reader *r, FILE *out)
{
	return PROBE_MALFORMED;
}

static void
filter_describe(uint64_t hooks, FILE *out)
{
	uint64_t	 bit;
	const char	*sep = "";

	fputs("hooks ", out);
	if (hooks == 0)
		fputs("none", out);
	for (bit = 1; bit != 0; bit <<= 1) {
		if ((hooks & bit) == 0)
			continue;
		if (bit & FILTER_HOOK_ALL)
			fprintf(out, "%s%s", sep, filter_hook_name(bit));
		else
			fprintf(out, "%sunknown 0x%" PRIx64, sep, bit);
		sep = ", ";
	}
}

static int
script_check(int argc, char **argv, char *err, size_t errsz)
{
	struct sockaddr_storage	 ss;
	const char		*v = argv[0];

	if (strcmp(v, "connect") == 0) {
		if (argc < 2 || argc > 4 || (argc == 4 &&
		    strcmp(argv[3], "confirmed") != 0 &&
		    strcmp(argv[3], "unconfirmed") != 0)) {
			snprintf(err, errsz, "usage: connect ADDR [RDNS "
			    "[confirmed|unconfirmed]]");
			return -1;
		}
		if (parse_address(argv[1], &ss) == -1) {
			snprintf(err, errsz, "connect: \"%s\" is not an IPv4 "
			    "or IPv6 address, nor \"local\"", argv[1]);
			return -1;
		}
	} else if (strcmp(v, "helo") == 0 || strcmp(v, "mail") == 0 ||
	    strcmp(v, "rcpt") == 0 || strcmp(v, "body") == 0 ||
	    strcmp(v, "output") == 0) {
		if (argc != 2) {
			snprintf(err, errsz, "usage: %s %s", v,
			    v[0] == 'h' ? "NAME" : v[0] == 'b' ||
			    v[0] == 'o' ? "FILE" : "ADDR");
			return -1;
		}
		if (v[0] == 'b' && access(argv[1], R_OK) == -1) {
			snprintf(err, errsz, "body %s: %s", argv[1],
			    strerror(errno));
			return -1;
		}
	} else if (strcmp(v, "line") == 0) {
		if (argc > 2) {
			snprintf(err, errsz, "usage: line [TEXT] (quote a "
			    "line with spaces)");
			return -1;
		}
		if (argc == 2 && strlen(argv[1]) > FILTER_LINE_MAX) {
			snprintf(err, errsz, "line longer than %d bytes",
			    FILTER_LINE_MAX);
			return -1;
		}
	} else if (strcmp(v, "tx-begin") == 0) {
		if (argc > 2) {
			snprintf(err, errsz, "usage: tx-begin [MSGID]");
			return -1;
		}
	} else if (strcmp(v, "data") == 0 || strcmp(v, "eom") == 0 ||
	    strcmp(v, "reset") == 0 || strcmp(v, "disconnect") == 0 ||
	    strcmp(v, "tx-commit") == 0 || strcmp(v, "tx-rollback") == 0) {
		if (argc != 1) {
			snprintf(err, errsz, "usage: %s", v);
			return -1;
		}
	} else
		return 0;
	return 1;
}

static int
filter_script(struct probe *p, int argc, char **argv, char *err,
    size_t errsz)
{
	struct sockaddr_storage	 local, remote;
	struct msg		 m;
	char			 user[512], domain[512], *end;
	const char		*v = argv[0];
	int			 r;
	FILE			*f;

	if ((r = script_check(argc, argv, err, errsz)) != 1 || p == NULL)
		return r;
	msg_init(&m);

	if (strcmp(v, "connect") == 0) {
		pf.session++;
		pf.transactions = 0;
		message_reset();
		parse_address(argv[1], &remote);
		parse_address(remote.ss_family == AF_INET6 ? "::1" :
		    remote.ss_family == AF_INET ? "127.0.0.1" : "local",
		    &local);
		filter_proto_connect_encode(&m, pf.session,
		    (struct sockaddr *)&local, (struct sockaddr *)&remote,
		    argc > 2 ? argv[2] : "", argc > 3 ?
		    strcmp(argv[3], "confirmed") == 0 : -1);
		query(p, IMSG_FILTER_CONNECT, &m);
	} else if (strcmp(v, "helo") == 0) {
		filter_proto_helo_encode(&m, pf.session, argv[1]);
		query(p, IMSG_FILTER_HELO, &m);
	} else if (strcmp(v, "mail") == 0 || strcmp(v, "rcpt") == 0) {
		if (v[0] == 'm')
			message_reset();
		split_mailaddr(argv[1], user, sizeof(user), domain,
		    sizeof(domain));
		filter_proto_mailaddr_encode(&m, pf.session, user, domain);
		query(p, v[0] == 'm' ? IMSG_FILTER_MAIL : IMSG_FILTER_RCPT,
		    &m);
	} else if (strcmp(v, "data") == 0) {
		message_reset();
		filter_proto_session_encode(&m, pf.session);
		query(p, IMSG_FILTER_DATA, &m);
	} else if (strcmp(v, "eom") == 0) {
		filter_proto_eom_encode(&m, pf.session, pf.lines, pf.bytes);
		query(p, IMSG_FILTER_EOM, &m);
	} else if (strcmp(v, "line") == 0) {
		lines_begin(p, argc == 2 ? argv[1] : "", NULL);
	} else if (strcmp(v, "body") == 0) {
		if ((f = fopen(argv[1], "r")) == NULL) {
			probe_done(p, PROBE_FAILED, "%s: %s", argv[1],
			    strerror(errno));
			return 1;
		}
		lines_begin(p, NULL, f);
	} else if (strcmp(v, "output") == 0) {
		free(pf.output);
		pf.output = NULL;
		if (strcmp(argv[1], "-") != 0 &&
		    (pf.output = strdup(argv[1])) == NULL)
			fatal("strdup");
		probe_done(p, PROBE_ANSWERED, "data-out to %s", argv[1]);
	} else if (strcmp(v, "tx-begin") == 0) {
		pf.transactions++;
		pf.msgid = (uint32_t)(pf.session << 16 | pf.transactions);
		if (argc == 2) {
			errno = 0;
			pf.msgid = strtoul(argv[1], &end, 16);
			if (errno != 0 || *end != '\0') {
				probe_done(p, PROBE_FAILED, "bad msgid");
				return 1;
			}
		}
		filter_proto_tx_encode(&m, pf.session, pf.msgid);
		event(p, IMSG_FILTER_TX_BEGIN, &m);
	} else if (strcmp(v, "tx-commit") == 0 ||
	    strcmp(v, "tx-rollback") == 0) {
		filter_proto_tx_encode(&m, pf.session, pf.msgid);
		event(p, v[3] == 'c' ? IMSG_FILTER_TX_COMMIT :
		    IMSG_FILTER_TX_ROLLBACK, &m);
	} else {
		filter_proto_session_encode(&m, pf.session);
		event(p, v[0] == 'r' ? IMSG_FILTER_RESET :
		    IMSG_FILTER_DISCONNECT, &m);
	}
	msg_free(&m);
	return 1;
}

/* "192.0.2.1", "2001:db8::1" or "local" (a local submission). */
static int
parse_address(const char *text, struct sockaddr_storage *ss)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (strcmp(text, "local") == 0) {
		ss->ss_family = AF_UNSPEC;
		return 0;
	}
	if (inet_pton(AF_INET, text, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(25);
		return 0;
	}
	if (inet_pton(AF_INET6, text, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(25);
		return 0;
	}
	return -1;
}

/* "<user@domain>" or "user@domain"; "<>" is the null sender. */
static void
split_mailaddr(const char *text, char *user, size_t usersz, char *domain,
    size_t domainsz)
{
	char	 buf[1024], *at;
	size_t	 len;

	strlcpy(buf, text, sizeof(buf));
	len = strlen(buf);
	if (len >= 2 && buf[0] == '<' && buf[len - 1] == '>') {
		buf[len - 1] = '\0';
		memmove(buf, buf + 1, len - 1);
	}
	domain[0] = '\0';
	if ((at = strrchr(buf, '@')) != NULL) {
		*at = '\0';
		strlcpy(domain, at + 1, domainsz);
	}
	strlcpy(user, buf, usersz);
}

/* ------------------------------------------------------------------ */
/* queries and events                                                  */
/* ------------------------------------------------------------------ */

static void
query(struct probe *p, uint32_t type, struct msg *m)
{
	uint64_t	 hook = filter_frame_hook(type);

	if (msg_error(m)) {
		probe_done(p, PROBE_FAILED, "request too large");
		return;
	}
	if ((probe_capabilities(p) & hook) == 0) {
		/* Not announced: not sent, and the daemon goes on. */
		if (type == IMSG_FILTER_EOM) {
			if (out_emit(p) == -1)
				return;
			probe_done(p, PROBE_ANSWERED, "accept, %zu lines out "
			    "(no eom hook)", pf.nout);
			message_reset();
		} else
			probe_done(p, PROBE_ANSWERED, "accept (no %s hook)",
			    filter_hook_name(hook));
		return;
	}
	probe_request(p, type, m, -1, query_reply, (void *)(uintptr_t)type);
}

static void
query_reply(struct probe *p, int result, struct imsg *imsg,
    struct msg_reader *r, void *arg)
{
	struct filter_reply	 rep;
	uint32_t		 type = (uint32_t)(uintptr_t)arg;
	char			*text = NULL, err[256];
	size_t			 len = 0;
	int			 dataline;
	FILE			*f;

	if (result != IMSGPROC_REPLY) {
		fail(p, type, "%s", imsgproc_result_name(result));
		return;
	}
	switch (filter_proto_reply_decode(type, r, &rep, err, sizeof(err))) {
	case -1:
		fail(p, type, "malformed reply: %s", err);
		return;
	case 1:
		log_warnx("%s reply coerced: %s", filter_frame_name(type),
		    err);
		break;
	}
	if (type == IMSG_FILTER_EOM) {
		/* What the filter says it sent must be what came. */
		dataline = (probe_capabilities(p) & FILTER_HOOK_DATALINE) != 0;
		if (rep.lines_out != (dataline ? pf.nout : pf.lines)) {
			fail(p, type, "filter says %u lines out, %zu came",
			    rep.lines_out, dataline ? pf.nout :
			    (size_t)pf.lines);
			return;
		}
		if (rep.status == FILTER_ACCEPT && out_emit(p) == -1)
			return;
	}
	if ((f = open_memstream(&text, &len)) == NULL)
		fatal("open_memstream");
	print_reply(f, &rep);
	if (type == IMSG_FILTER_EOM && rep.status == FILTER_ACCEPT)
		fprintf(f, ", %u lines out", rep.lines_out);
	if (fclose(f) != 0)
		fatal("open_memstream");
	if (type == IMSG_FILTER_EOM)
		message_reset();
	probe_done(p, PROBE_ANSWERED, "%s", text);
	free(text);
}

static void
event(struct probe *p, uint32_t type, struct msg *m)
{
	uint64_t	 hook = filter_frame_hook(type);

	if ((probe_capabilities(p) & hook) == 0)
		probe_done(p, PROBE_ANSWERED, "not sent (no %s hook)",
		    filter_hook_name(hook));
	else if (probe_send(p, type, m, -1) == -1)
		probe_done(p, PROBE_FAILED, "helper down");
	else if (type == IMSG_FILTER_TX_BEGIN)
		probe_done(p, PROBE_ANSWERED, "sent, msgid %08x", pf.msgid);
	else
		probe_done(p, PROBE_ANSWERED, "sent");
	if (type == IMSG_FILTER_RESET || type == IMSG_FILTER_DISCONNECT ||
	    type == IMSG_FILTER_TX_ROLLBACK)
		message_reset();
}

/* A failed exchange: what the daemon would answer, never a 5xx. */
static void
fail(struct probe *p, uint32_t type, const char *fmt, ...)
{
	struct filter_reply	 rep;
	va_list			 ap;
	char			*why, *text = NULL;
	size_t			 len = 0;
	FILE			*f;

	va_start(ap, fmt);
	if (vasprintf(&why, fmt, ap) == -1)
		fatal("vasprintf");
	va_end(ap);
	filter_reply_failure(type, &rep);
	if ((f = open_memstream(&text, &len)) == NULL)
		fatal("open_memstream");
	fprintf(f, "%s: ", why);
	print_reply(f, &rep);
	if (fclose(f) != 0)
		fatal("open_memstream");
	filter_abort(p);
	message_reset();
	probe_done(p, PROBE_FAILED, "%s", text);
	free(text);
	free(why);
}

static void
print_reply(FILE *f, const struct filter_reply *rep)
{
	fputs(filter_status_name(rep->status), f);
	if (rep->status == FILTER_ACCEPT)
		return;
	fprintf(f, " %u %s ", rep->code, rep->enhanced);
	probe_print_quoted(f, rep->message, strlen(rep->message));
}

/* ------------------------------------------------------------------ */
/* message lines                                                       */
/* ------------------------------------------------------------------ */

static void
message_reset(void)
{
	size_t	 i;

	for (i = 0; i < pf.nout; i++)
		free(pf.out[i]);
	pf.nout = 0;
	pf.lines = 0;
	pf.bytes = 0;
}

static void
lines_begin(struct probe *p, const char *line, FILE *in)
{
	pf.in = in;
	if (line != NULL && (pf.single = strdup(line)) == NULL)
		fatal("strdup");
	pf.carry = NULL;
	pf.eof = 0;
	pf.inflight = 0;
	pf.batches = pf.sent = 0;
	lines_pump(p);
}

/* Next input line, or NULL at the end; -1 in *bad for an error. */
static char *
next_line(int *bad)
{
	char	*line = NULL;
	size_t	 cap = 0;
	ssize_t	 n;

	*bad = 0;
	if (pf.carry != NULL) {
		line = pf.carry;
		pf.carry = NULL;
		return line;
	}
	if (pf.single != NULL) {
		line = pf.single;
		pf.single = NULL;
		return line;
	}
	if (pf.in == NULL)
		return NULL;
	if ((n = getline(&line, &cap, pf.in)) == -1) {
		free(line);
		*bad = ferror(pf.in) ? -1 : 0;
		return NULL;
	}
	if (n > 0 && line[n - 1] == '\n')
		line[--n] = '\0';
	if (n > 0 && line[n - 1] == '\r')
		line[--n] = '\0';
	if (memchr(line, '\0', n) != NULL || n > FILTER_LINE_MAX)
		*bad = -1;
	return line;
}

/* Fill and send batches while the window allows, then wait for acks. */
static void
lines_pump(struct probe *p)
{
	struct msg	 m;
	char		*line;
	uint32_t	 n;
	int		 bad, r, dataline;

	dataline = (probe_capabilities(p) & FILTER_HOOK_DATALINE) != 0;
	msg_init(&m);
	while (!pf.eof && pf.inflight < FILTER_DATA_WINDOW) {
		filter_proto_lines_start(&m, pf.session);
		n = 0;
		for (;;) {
			if ((line = next_line(&bad)) == NULL) {
				if (!bad)
					pf.eof = 1;
				break;
			}
			if (bad) {
				free(line);
				break;
			}
			if (dataline &&
			    (r = filter_proto_lines_add(&m, line)) != 1) {
				if (r == 0) {
					pf.carry = line;	/* batch full */
					break;
				}
				free(line);
				bad = -1;
				break;
			}
			if (!dataline)
				out_add(line);	/* the daemon passes it on */
			pf.lines++;
			pf.bytes += strlen(line) + 2;
			n++;
			free(line);
		}
		if (bad) {
			msg_free(&m);
			fail(p, IMSG_FILTER_DATALINES, "line %u of the "
			    "message is too long, has a NUL byte or cannot "
			    "be read", pf.lines + 1);
			return;
		}
		if (n == 0 || !dataline)
			continue;
		pf.window[pf.inflight++] = n;
		pf.batches++;
		pf.sent += n;
		probe_request(p, IMSG_FILTER_DATALINES, &m, -1, lines_ack,
		    NULL);
	}
	msg_free(&m);
	if (pf.eof && pf.inflight == 0) {
		n = dataline ? pf.sent : 0;
		filter_abort(p);
		if (dataline)
			probe_done(p, PROBE_ANSWERED, "sent %u line%s in %u "
			    "batch%s", n, n == 1 ? "" : "s", pf.batches,
			    pf.batches == 1 ? "" : "es");
		else
			probe_done(p, PROBE_ANSWERED, "passed through (no "
			    "dataline hook)");
	}
}

static void
lines_ack(struct probe *p, int result, struct imsg *imsg,
    struct msg_reader *r, void *arg)
{
	uint32_t	 n;
	char		 err[256];

	if (result != IMSGPROC_REPLY) {
		fail(p, IMSG_FILTER_DATALINES, "%s",
		    imsgproc_result_name(result));
		return;
	}
	if (filter_proto_ack_decode(r, &n, err, sizeof(err)) == -1) {
		fail(p, IMSG_FILTER_DATALINES, "malformed ack: %s", err);
		return;
	}
	if (n != pf.window[0]) {
		fail(p, IMSG_FILTER_DATALINES, "filter consumed %u of %u "
		    "lines", n, pf.window[0]);
		return;
	}
	pf.inflight--;
	memmove(pf.window, pf.window + 1, pf.inflight * sizeof(pf.window[0]));
	lines_pump(p);
}

static void
filter_on_frame(struct probe *p, struct imsg *imsg, struct msg_reader *r)
{
	uint64_t	 session;
	char		*line;
	int		 ret;

	if (imsg->hdr.type != IMSG_FILTER_DATAOUT) {
		log_warnx("unexpected frame %s (%u) from the filter",
		    filter_frame_name(imsg->hdr.type), imsg->hdr.type);
		return;
	}
	if (filter_proto_lines_session(r, &session) == -1) {
		log_warnx("malformed dataout: %s", msg_reader_error(r));
		return;
	}
	if (session != pf.session) {
		log_warnx("dataout for session %016" PRIx64 ", not the "
		    "current one", session);
		return;
	}
	while ((ret = filter_proto_lines_next(r, &line)) == 1) {
		out_add(line);
		free(line);
	}
	if (ret == -1)
		log_warnx("malformed dataout: %s", msg_reader_error(r));
}

static void
out_add(const char *line)
{
	char	**grown;

	if (pf.nout == pf.outcap) {
		pf.outcap = pf.outcap ? pf.outcap * 2 : 64;
		if ((grown = reallocarray(pf.out, pf.outcap,
		    sizeof(*pf.out))) == NULL)
			fatal("reallocarray");
		pf.out = grown;
	}
	if ((pf.out[pf.nout++] = strdup(line)) == NULL)
		fatal("strdup");
}

/* The message as the filter returned it: to stdout or the output file. */
static int
out_emit(struct probe *p)
{
	FILE	*f;
	size_t	 i;

	if (pf.output == NULL) {
		for (i = 0; i < pf.nout; i++)
			probe_line(p, "data-out: %s", pf.out[i]);
		return 0;
	}
	if ((f = fopen(pf.output, "w")) == NULL) {
		fail(p, IMSG_FILTER_EOM, "%s: %s", pf.output, strerror(errno));
		return -1;
	}
	for (i = 0; i < pf.nout; i++)
		fprintf(f, "%s\n", pf.out[i]);
	if (fclose(f) != 0) {
		fail(p, IMSG_FILTER_EOM, "%s: %s", pf.output, strerror(errno));
		return -1;
	}
	return 0;
}

/* Drops the state of a line exchange; the message itself is kept. */
static void
filter_abort(struct probe *p)
{
	if (pf.in != NULL)
		fclose(pf.in);
	pf.in = NULL;
	free(pf.single);
	free(pf.carry);
	pf.single = pf.carry = NULL;
	pf.inflight = 0;
}
