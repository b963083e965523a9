/*
 * log.c: logging to stderr or syslog, verbosity and trace subsystems.
 *
 * Every function here keeps errno as it found it, so that a caller can
 * log a failure and then still test or report errno.
 */
#include <sys/types.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "smtpd-api.h"

/* Longest line written; longer messages are cut. */
#define LOG_LINE_MAX	8192

static void	log_write_stderr(const char *);
static void	log_sanitize(char *);
static void	vlog_errno(int, int, const char *, va_list)
		    __attribute__((__format__(printf, 3, 0)));

static const struct {
	const char	*name;
	uint32_t	 mask;
} trace_names[] = {
	{ "imsg",	TRACE_IMSG },
	{ "io",		TRACE_IO },
	{ "smtp",	TRACE_SMTP },
	{ "filters",	TRACE_FILTERS },
	{ "mta",	TRACE_MTA },
	{ "bounce",	TRACE_BOUNCE },
	{ "scheduler",	TRACE_SCHEDULER },
	{ "expand",	TRACE_EXPAND },
	{ "lookup",	TRACE_LOOKUP },
	{ "stat",	TRACE_STAT },
	{ "rules",	TRACE_RULES },
	{ "tables",	TRACE_TABLES },
	{ "queue",	TRACE_QUEUE },
	{ "helpers",	TRACE_HELPERS },
	{ "all",	TRACE_ALL },
};

/* Until log_init is called, messages go to stderr under the program name. */
static int	 log_to_stderr = 1;
static char	 log_ident[64];
static int	 log_verbose;
static uint32_t	 log_tracing;

void
log_init(int to_stderr, const char *ident)
{
	int	 saved_errno = errno;

	if (ident == NULL)
		ident = program_invocation_short_name;
	strlcpy(log_ident, ident, sizeof(log_ident));
	if (!log_to_stderr)
		closelog();
	log_to_stderr = to_stderr;
	if (!to_stderr)
		openlog(log_ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
	errno = saved_errno;
}

void
log_setverbose(int verbose)
{
	log_verbose = verbose;
}

int
log_getverbose(void)
{
	return log_verbose;
}

void
log_settrace(uint32_t mask)
{
	log_tracing = mask;
}

uint32_t
log_gettrace(void)
{
	return log_tracing;
}

uint32_t
log_trace_from_name(const char *name)
{
	size_t	 i;

	if (name == NULL)
		return 0;
	for (i = 0; i < sizeof(trace_names) / sizeof(trace_names[0]); i++)
		if (strcmp(trace_names[i].name, name) == 0)
			return trace_names[i].mask;
	return 0;
}

/* The name of one subsystem bit (or of TRACE_ALL); "unknown" otherwise. */
const char *
log_trace_name(uint32_t subsystem)
{
	size_t	 i;

	for (i = 0; i < sizeof(trace_names) / sizeof(trace_names[0]); i++)
		if (trace_names[i].mask == subsystem)
			return trace_names[i].name;
	return "unknown";
}

/*
 * Control characters would let a peer forge log lines (a newline in an
 * SMTP argument, say): show them as '?'.
 */
static void
log_sanitize(char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 && *s != '\t')
			*s = '?';
		else if ((unsigned char)*s == 0x7f)
			*s = '?';
}

/* One write(2) per line, so that lines of concurrent processes do not mix. */
static void
log_write_stderr(const char *msg)
{
	char		 line[LOG_LINE_MAX + 80];
	const char	*ident;
	size_t		 len, off;
	ssize_t		 n;
	int		 r;

	ident = log_ident[0] != '\0' ? log_ident :
	    program_invocation_short_name;
	r = snprintf(line, sizeof(line), "%s: %s\n", ident, msg);
	if (r < 0)
		return;
	len = (size_t)r;
	if (len >= sizeof(line)) {
		len = sizeof(line) - 1;
		line[len - 1] = '\n';
	}
	for (off = 0; off < len; off += (size_t)n) {
		n = write(STDERR_FILENO, line + off, len - off);
		if (n == -1 && errno == EINTR) {
			n = 0;
			continue;
		}
		if (n <= 0)
			return;
	}
}

/* errnum >= 0 appends ": strerror(errnum)". */
static void
vlog_errno(int priority, int errnum, const char *fmt, va_list ap)
{
	char	 msg[LOG_LINE_MAX];
	size_t	 len;

	if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
		strlcpy(msg, "(unprintable log message)", sizeof(msg));
	log_sanitize(msg);
	if (errnum >= 0) {
		len = strlen(msg);
		snprintf(msg + len, sizeof(msg) - len, ": %s",
		    strerror(errnum));
	}
	if (log_to_stderr)
		log_write_stderr(msg);
	else
		syslog(priority, "%s", msg);
}

void
vlog(int priority, const char *fmt, va_list ap)
{
	int	 saved_errno = errno;

	vlog_errno(priority, -1, fmt, ap);
	errno = saved_errno;
}

void
log_warn(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved_errno = errno;

	va_start(ap, fmt);
	vlog_errno(LOG_ERR, saved_errno, fmt, ap);
	va_end(ap);
	errno = saved_errno;
}

void
log_warnx(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved_errno = errno;

	va_start(ap, fmt);
	vlog_errno(LOG_ERR, -1, fmt, ap);
	va_end(ap);
	errno = saved_errno;
}

void
log_info(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved_errno = errno;

	va_start(ap, fmt);
	vlog_errno(LOG_INFO, -1, fmt, ap);
	va_end(ap);
	errno = saved_errno;
}

void
log_debug(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved_errno = errno;

	if (!log_verbose)
		return;
	va_start(ap, fmt);
	vlog_errno(LOG_DEBUG, -1, fmt, ap);
	va_end(ap);
	errno = saved_errno;
}

void
log_trace(uint32_t subsystem, const char *fmt, ...)
{
	va_list	 ap;
	int	 saved_errno = errno;

	if ((log_tracing & subsystem) == 0)
		return;
	va_start(ap, fmt);
	vlog_errno(LOG_DEBUG, -1, fmt, ap);
	va_end(ap);
	errno = saved_errno;
}

void
fatal(const char *fmt, ...)
{
	char	 msg[LOG_LINE_MAX];
	va_list	 ap;
	int	 saved_errno = errno;

	va_start(ap, fmt);
	if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
		msg[0] = '\0';
	va_end(ap);
	if (saved_errno != 0)
		log_warnx("fatal: %s: %s", msg, strerror(saved_errno));
	else
		log_warnx("fatal: %s", msg);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	char	 msg[LOG_LINE_MAX];
	va_list	 ap;

	va_start(ap, fmt);
	if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
		msg[0] = '\0';
	va_end(ap);
	log_warnx("fatal: %s", msg);
	exit(1);
}
