/*
 * enqueue.c: sendmail.  Reads a message on stdin and submits it to the
 * running smtpd through a local SMTP session, which the daemon opens
 * on request over the control socket: the message then goes through
 * the same checks, filters and queue as any other.  Nothing is written
 * anywhere by this program; when smtpd is down it fails (EX_TEMPFAIL)
 * and the mail client keeps the message.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "smtpd-api.h"
#include "client.h"
#include "enqueue.h"
#include "headers.h"

#define PATH_MAILNAME	"/etc/mailname"
#define REPLY_MAX	4096

struct smtp {
	FILE	*in;
	FILE	*out;
	int	 verbose;
	int	 code;
	char	 reply[REPLY_MAX];	/* every line, LF separated */
	int	 ext_8bitmime;
	int	 ext_smtputf8;
};

struct options {
	const char	*sender;	/* -f/-r, NULL: the user */
	const char	*fullname;	/* -F */
	const char	*conffile;	/* -C */
	int		 extract;	/* -t */
	int		 ignore_dots;	/* -i, -oi */
	int		 verbose;	/* -v */
	int		 smtp_mode;	/* -bs */
};

static void	 enqueue_usage(void) __attribute__((noreturn));
static int	 enqueue_message(const struct options *, int, char **);
static int	 smtp_transaction(struct smtp *, const char *, const char *,
		    const struct addr_list *, const char *, size_t);
static int	 open_session(const struct options *);
static int	 read_message(FILE *, int, char **, size_t *);
static void	 local_names(char *, size_t, char *, size_t);
static void	 from_header(char *, size_t, const char *, const char *,
		    const char *);
static int	 has_8bit(const char *, size_t);
static int	 smtp_reply(struct smtp *);
static int	 smtp_command(struct smtp *, const char *, ...)
		    __attribute__((__format__(printf, 2, 3)));
static int	 smtp_fail(struct smtp *, int, const char *);
static int	 smtp_send_data(struct smtp *, const char *, const char *,
		    size_t);
static int	 relay_session(int);

static void
enqueue_usage(void)
{
	fprintf(stderr, "usage: sendmail [-tiv] [-C file] [-F name] "
	    "[-f from] [-bs] [recipient ...]\n");
	exit(EX_USAGE);
}

int
enqueue_main(int argc, char *argv[])
{
	struct options		 o;
	char			*argv2[4];
	const char		*mode = "m";
	int			 ch, fd, argc2;

	memset(&o, 0, sizeof(o));
	signal(SIGPIPE, SIG_IGN);
	while ((ch = getopt(argc, argv,
	    "+A:B:b:C:E::e:F:f:h:iJ::L:mN:o:p:qr:R:StvV:x")) != -1) {
		switch (ch) {
		case 'b':
			mode = optarg;
			break;
		case 'C':
			o.conffile = optarg;
			break;
		case 'F':
			o.fullname = optarg;
			break;
		case 'f':
		case 'r':
			o.sender = optarg;
			break;
		case 'i':
			o.ignore_dots = 1;
			break;
		case 'o':
			/* -oi is -i; the other sendmail options mean nothing
			 * here */
			if (optarg[0] == 'i')
				o.ignore_dots = 1;
			break;
		case 'q':
			fprintf(stderr, "sendmail: -q is not supported: smtpd "
			    "runs its queue itself (see smtpctl schedule)\n");
			return EX_SOFTWARE;
		case 't':
			o.extract = 1;
			break;
		case 'v':
			o.verbose = 1;
			break;
		case 'A': case 'B': case 'E': case 'e': case 'h': case 'J':
		case 'L': case 'm': case 'N': case 'p': case 'R': case 'S':
		case 'V': case 'x':
			break;		/* what mail clients pass: no effect */
		default:
			enqueue_usage();
		}
	}
	argc -= optind;
	argv += optind;

	if (strcmp(mode, "p") == 0 || strcmp(mode, "i") == 0) {
		argc2 = 0;
		argv2[argc2++] = strcmp(mode, "p") == 0 ? "mailq" :
		    "newaliases";
		if (o.conffile != NULL) {
			argv2[argc2++] = "-f";
			argv2[argc2++] = (char *)o.conffile;
		}
		argv2[argc2] = NULL;
		optind = 0;	/* glibc: start again */
		return strcmp(mode, "p") == 0 ? mailq_main(argc2, argv2) :
		    newaliases_main(argc2, argv2);
	}
	if (strcmp(mode, "s") == 0) {
		if ((fd = open_session(&o)) == -1)
			return EX_TEMPFAIL;
		return relay_session(fd);
	}
	if (strcmp(mode, "m") != 0) {
		fprintf(stderr, "sendmail: -b%s is not supported\n", mode);
		return EX_USAGE;
	}

	return enqueue_message(&o, argc, argv);
}

/* Read the message, find its sender and recipients, send it. */
static int
enqueue_message(const struct options *o, int argc, char *argv[])
{
	struct addr_list	 rcpts;
	struct header_info	 info;
	struct smtp		 s;
	char			*msg = NULL, err[1024], login[256];
	char			 hostname[256], from[2048], sender[1024];
	size_t			 len, i;
	int			 fd, ex;

	memset(&rcpts, 0, sizeof(rcpts));
	memset(&s, 0, sizeof(s));
	for (i = 0; i < (size_t)argc; i++)
		if (headers_parse_addresses(argv[i], &rcpts, err,
		    sizeof(err)) == -1) {
			fprintf(stderr, "sendmail: %s: %s\n", argv[i], err);
			ex = EX_USAGE;
			goto done;
		}
	if (read_message(stdin, o->ignore_dots, &msg, &len) == -1) {
		fprintf(stderr, "sendmail: reading the message: %s\n",
		    strerror(errno));
		ex = EX_IOERR;
		goto done;
	}
	if (headers_scan(msg, &len, o->extract ? &rcpts : NULL, &info, err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "sendmail: %s\n", err);
		ex = EX_DATAERR;
		goto done;
	}
	if (rcpts.count == 0) {
		fprintf(stderr, "sendmail: no recipients\n");
		ex = EX_USAGE;
		goto done;
	}
	local_names(login, sizeof(login), hostname, sizeof(hostname));
	if (o->sender != NULL) {
		/* -f '<addr>' and -f '' (the null sender) are common */
		strlcpy(sender, o->sender[0] == '<' ? o->sender + 1 :
		    o->sender, sizeof(sender));
		if (o->sender[0] == '<' && sender[0] != '\0' &&
		    sender[strlen(sender) - 1] == '>')
			sender[strlen(sender) - 1] = '\0';
	} else
		strlcpy(sender, login, sizeof(sender));
	from[0] = '\0';
	if (!info.has_from)
		from_header(from, sizeof(from), sender[0] != '\0' ? sender :
		    login, hostname, o->fullname);

	if ((fd = open_session(o)) == -1) {
		ex = EX_TEMPFAIL;
		goto done;
	}
	s.verbose = o->verbose;
	if ((s.in = fdopen(fd, "r")) == NULL ||
	    (s.out = fdopen(dup(fd), "w")) == NULL) {
		fprintf(stderr, "sendmail: %s\n", strerror(errno));
		if (s.in == NULL)
			close(fd);
		ex = EX_OSERR;
		goto done;
	}
	ex = smtp_transaction(&s, sender, from, &rcpts, msg, len);
done:
	if (s.in != NULL)
		fclose(s.in);
	if (s.out != NULL)
		fclose(s.out);
	free(msg);
	addr_list_free(&rcpts);
	return ex;
}

/* The SMTP exchange: the exit status. */
static int
smtp_transaction(struct smtp *s, const char *sender, const char *from,
    const struct addr_list *rcpts, const char *msg, size_t len)
{
	char	 what[1100];
	size_t	 i;
	int	 code, utf8;

	if ((code = smtp_reply(s)) != 220)
		return smtp_fail(s, code, "connection");
	if ((code = smtp_command(s, "EHLO %s", ENQUEUE_EHLO_NAME)) != 250)
		return smtp_fail(s, code, "EHLO");
	utf8 = has_8bit(sender, strlen(sender)) ||
	    has_8bit(from, strlen(from));
	for (i = 0; i < rcpts->count; i++)
		if (has_8bit(rcpts->addrs[i], strlen(rcpts->addrs[i])))
			utf8 = 1;
	code = smtp_command(s, "MAIL FROM:<%s>%s%s", sender,
	    s->ext_8bitmime && has_8bit(msg, len) ? " BODY=8BITMIME" : "",
	    s->ext_smtputf8 && utf8 ? " SMTPUTF8" : "");
	if (code != 250)
		return smtp_fail(s, code, "MAIL FROM");
	for (i = 0; i < rcpts->count; i++) {
		code = smtp_command(s, "RCPT TO:<%s>", rcpts->addrs[i]);
		if (code != 250 && code != 251) {
			snprintf(what, sizeof(what), "RCPT TO:<%s>",
			    rcpts->addrs[i]);
			return smtp_fail(s, code, what);
		}
	}
	if ((code = smtp_command(s, "DATA")) != 354)
		return smtp_fail(s, code, "DATA");
	if (smtp_send_data(s, from, msg, len) == -1) {
		fprintf(stderr, "sendmail: sending the message: %s\n",
		    strerror(errno));
		return EX_TEMPFAIL;
	}
	if ((code = smtp_reply(s)) != 250)
		return smtp_fail(s, code, "end of data");
	(void)smtp_command(s, "QUIT");
	return EX_OK;
}

/* A local SMTP session from the daemon, or -1 (told on stderr). */
static int
open_session(const struct options *o)
{
	struct client_where	 where;
	struct client		*c;
	char			 err[1024];
	int			 notrunning, fd;

	if (client_where(NULL, o->conffile, &where, err, sizeof(err)) == -1) {
		fprintf(stderr, "sendmail: %s\n", err);
		return -1;
	}
	if ((c = client_open(&where, &notrunning, err, sizeof(err))) == NULL) {
		fprintf(stderr, "sendmail: %s\n", err);
		return -1;
	}
	fd = client_smtp_session(c, err, sizeof(err));
	if (fd == -1)
		fprintf(stderr, "sendmail: %s\n", err);
	client_close(c);
	return fd;
}

/*
 * The whole message.  Unless -i, a line holding only a dot ends it,
 * as it would in SMTP.
 */
static int
read_message(FILE *fp, int ignore_dots, char **msgp, size_t *lenp)
{
	char	*line = NULL, *msg = NULL, *p;
	size_t	 linecap = 0, len = 0, cap = 0;
	ssize_t	 n;
	int	 saved;

	while ((n = getline(&line, &linecap, fp)) != -1) {
		if (!ignore_dots && (strcmp(line, ".\n") == 0 ||
		    strcmp(line, ".\r\n") == 0 || strcmp(line, ".") == 0))
			break;
		if (len + n + 1 > cap) {
			cap = (len + n + 1) * 2;
			if ((p = realloc(msg, cap)) == NULL)
				goto fail;
			msg = p;
		}
		memcpy(msg + len, line, n);
		len += n;
	}
	if (ferror(fp))
		goto fail;
	free(line);
	if (msg == NULL && (msg = strdup("")) == NULL)
		return -1;
	msg[len] = '\0';
	*msgp = msg;
	*lenp = len;
	return 0;
fail:
	saved = errno;
	free(line);
	free(msg);
	errno = saved;
	return -1;
}

static void
local_names(char *login, size_t loginsz, char *host, size_t hostsz)
{
	struct passwd	*pw;
	FILE		*fp;

	if ((pw = getpwuid(getuid())) != NULL)
		strlcpy(login, pw->pw_name, loginsz);
	else
		snprintf(login, loginsz, "%u", (unsigned int)getuid());
	/* the name smtpd uses too: /etc/mailname, else the host name */
	host[0] = '\0';
	if ((fp = fopen(PATH_MAILNAME, "r")) != NULL) {
		if (fgets(host, hostsz, fp) == NULL)
			host[0] = '\0';
		fclose(fp);
		host[strcspn(host, " \t\r\n")] = '\0';
	}
	if (host[0] == '\0' && gethostname(host, hostsz) == -1)
		host[0] = '\0';
	host[hostsz - 1] = '\0';
	if (host[0] == '\0')
		strlcpy(host, "localhost", hostsz);
}

/*
 * "From: Full Name <user@host>" for a message without one: the name
 * from -F, else the user's passwd entry; quoted when it holds
 * characters that would mean something in an address.
 */
static void
from_header(char *buf, size_t bufsz, const char *sender, const char *host,
    const char *fullname)
{
	struct passwd	*pw;
	char		 name[256], quoted[600], addr[1024];
	size_t		 i, j = 0;
	int		 special = 0;

	name[0] = '\0';
	if (fullname != NULL)
		strlcpy(name, fullname, sizeof(name));
	else if ((pw = getpwuid(getuid())) != NULL && pw->pw_gecos != NULL) {
		strlcpy(name, pw->pw_gecos, sizeof(name));
		name[strcspn(name, ",")] = '\0';
	}
	name[strcspn(name, "\r\n")] = '\0';
	if (strchr(sender, '@') != NULL)
		strlcpy(addr, sender, sizeof(addr));
	else
		snprintf(addr, sizeof(addr), "%s@%s", sender, host);
	if (name[0] == '\0') {
		snprintf(buf, bufsz, "From: %s\n", addr);
		return;
	}
	for (i = 0; name[i] != '\0'; i++)
		if (strchr("()<>[]:;@\\,.\"", name[i]) != NULL)
			special = 1;
	if (special)
		quoted[j++] = '"';
	for (i = 0; name[i] != '\0' && j + 3 < sizeof(quoted); i++) {
		if (special && (name[i] == '"' || name[i] == '\\'))
			quoted[j++] = '\\';
		quoted[j++] = name[i];
	}
	if (special)
		quoted[j++] = '"';
	quoted[j] = '\0';
	snprintf(buf, bufsz, "From: %s <%s>\n", quoted, addr);
}

static int
has_8bit(const char *p, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		if ((unsigned char)p[i] >= 0x80)
			return 1;
	return 0;
}

/*
 * One reply, every line of it: its code, or -1 when the session broke
 * or the reply is not SMTP.  EHLO's keywords are noted on the way.
 */
static int
smtp_reply(struct smtp *s)
{
	char	 line[1024];
	size_t	 len, used = 0;
	int	 code = -1;

	s->reply[0] = '\0';
	for (;;) {
		if (fgets(line, sizeof(line), s->in) == NULL) {
			strlcpy(s->reply, ferror(s->in) ? strerror(errno) :
			    "connection closed by smtpd", sizeof(s->reply));
			return s->code = -1;
		}
		len = strcspn(line, "\r\n");
		line[len] = '\0';
		if (s->verbose)
			fprintf(stderr, "<<< %s\n", line);
		if (len < 3 || line[0] < '2' || line[0] > '5' ||
		    line[1] < '0' || line[1] > '9' || line[2] < '0' ||
		    line[2] > '9' || (len > 3 && line[3] != ' ' &&
		    line[3] != '-')) {
			snprintf(s->reply, sizeof(s->reply), "not an SMTP "
			    "reply: %.200s", line);
			return s->code = -1;
		}
		code = (line[0] - '0') * 100 + (line[1] - '0') * 10 +
		    (line[2] - '0');
		if (len > 4) {
			if (strcasecmp(line + 4, "8BITMIME") == 0)
				s->ext_8bitmime = 1;
			else if (strcasecmp(line + 4, "SMTPUTF8") == 0)
				s->ext_smtputf8 = 1;
		}
		if (used > 0 && used + 1 < sizeof(s->reply))
			s->reply[used++] = '\n';
		used += strlcpy(s->reply + used, line,
		    sizeof(s->reply) - used);
		if (used >= sizeof(s->reply))
			used = sizeof(s->reply) - 1;
		if (len <= 3 || line[3] == ' ')
			return s->code = code;
	}
}

static int
smtp_command(struct smtp *s, const char *fmt, ...)
{
	va_list	 ap;
	char	 cmd[2048];

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (s->verbose)
		fprintf(stderr, ">>> %s\n", cmd);
	if (fprintf(s->out, "%s\r\n", cmd) < 0 || fflush(s->out) == EOF) {
		snprintf(s->reply, sizeof(s->reply), "%s", strerror(errno));
		return s->code = -1;
	}
	return smtp_reply(s);
}

/*
 * The server said no: tell why, in its words; the exit status a mail
 * client expects (EX_TEMPFAIL: keep the message and retry).
 */
static int
smtp_fail(struct smtp *s, int code, const char *what)
{
	int	 ex;

	fprintf(stderr, "sendmail: %s: %s\n", what, s->reply);
	if (code >= 200 && code < 600)
		(void)smtp_command(s, "QUIT");
	if (code >= 500 && strncmp(what, "RCPT", 4) == 0)
		ex = EX_NOUSER;
	else if (code >= 500)
		ex = EX_UNAVAILABLE;
	else
		ex = EX_TEMPFAIL;
	return ex;
}

/*
 * The message, CRLF line ends and dot-stuffed, then the final dot.
 * from (may be "") is a From: line to put first.
 */
static int
smtp_send_data(struct smtp *s, const char *from, const char *msg,
    size_t len)
{
	const char	*p = msg, *end = msg + len, *nl;
	size_t		 n;

	if (s->verbose)
		fprintf(stderr, ">>> (%zu bytes of message)\n", len);
	if (from[0] != '\0' && fprintf(s->out, "%.*s\r\n",
	    (int)strcspn(from, "\n"), from) < 0)
		return -1;
	while (p < end) {
		if ((nl = memchr(p, '\n', end - p)) == NULL)
			nl = end;
		n = nl - p;
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (*p == '.' && fputc('.', s->out) == EOF)
			return -1;
		if (fwrite(p, 1, n, s->out) != n ||
		    fputs("\r\n", s->out) == EOF)
			return -1;
		p = nl + 1;
	}
	if (s->verbose)
		fprintf(stderr, ">>> .\n");
	if (fputs(".\r\n", s->out) == EOF || fflush(s->out) == EOF)
		return -1;
	return 0;
}

/*
 * -bs: the caller speaks SMTP itself, on stdin and stdout; bytes go
 * both ways until smtpd closes the session.
 */
static int
relay_session(int fd)
{
	struct pollfd	 pfd[2];
	char		 buf[8192];
	ssize_t		 n;
	size_t		 off;
	int		 in_open = 1;

	for (;;) {
		pfd[0].fd = in_open ? STDIN_FILENO : -1;
		pfd[0].events = POLLIN;
		pfd[1].fd = fd;
		pfd[1].events = POLLIN;
		if (poll(pfd, 2, -1) == -1) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "sendmail: poll: %s\n",
			    strerror(errno));
			return EX_OSERR;
		}
		if (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			if ((n = read(fd, buf, sizeof(buf))) <= 0) {
				if (n == -1 && errno == EINTR)
					continue;
				close(fd);
				return n == 0 ? EX_OK : EX_IOERR;
			}
			for (off = 0; off < (size_t)n; ) {
				ssize_t w = write(STDOUT_FILENO, buf + off,
				    n - off);
				if (w == -1 && errno == EINTR)
					continue;
				if (w == -1) {
					close(fd);
					return EX_IOERR;
				}
				off += w;
			}
		}
		if (in_open && (pfd[0].revents & (POLLIN | POLLHUP |
		    POLLERR))) {
			if ((n = read(STDIN_FILENO, buf, sizeof(buf))) <= 0) {
				if (n == -1 && errno == EINTR)
					continue;
				/* no more input: smtpd ends the session */
				in_open = 0;
				shutdown(fd, SHUT_WR);
				continue;
			}
			for (off = 0; off < (size_t)n; ) {
				ssize_t w = write(fd, buf + off, n - off);
				if (w == -1 && errno == EINTR)
					continue;
				if (w == -1) {
					close(fd);
					return EX_IOERR;
				}
				off += w;
			}
		}
	}
}
