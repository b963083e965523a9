/*
 * bounce.c: the text of a delivery status notification (RFC 3464).
 *
 * Everything written here comes from the queue: addresses, error lines
 * and the original headers may hold anything a client sent, so each
 * field is made one printable line before it goes into a header or a
 * report field.
 */
#include <sys/types.h>

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bounce.h"

#define FIELD_MAX	512	/* one sanitised field */

static void	 clean_field(char *, size_t, const char *);
static int	 status_valid(const char *, enum bounce_type);
static const char *diagnostic_type(const char *);
static const char *rfc5322_date(time_t, char *, size_t);
static void	 make_boundary(const struct bounce_report *, char *, size_t);
static void	 duration_text(int64_t, char *, size_t);
static void	 write_headers(FILE *, const struct bounce_report *,
		    const char *);
static void	 write_human(FILE *, const struct bounce_report *);
static void	 write_status(FILE *, const struct bounce_report *);
static void	 write_original(FILE *, const struct bounce_report *);

int
bounce_allowed(const struct envelope *e)
{
	if (e->sender.user[0] == '\0' && e->sender.domain[0] == '\0')
		return 0;
	if (e->flags & EF_BOUNCE)
		return 0;
	return 1;
}

const char *
bounce_status_default(enum bounce_type type)
{
	return type == B_DELAYED ? "4.0.0" : "5.0.0";
}

size_t
bounce_headers_length(const char *msg, size_t len)
{
	size_t	 off = 0, kept = 0;
	const char *eol;

	if (len > BOUNCE_HEADERS_MAX)
		len = BOUNCE_HEADERS_MAX;
	while (off < len) {
		if (msg[off] == '\n' || (msg[off] == '\r' && off + 1 < len &&
		    msg[off + 1] == '\n'))
			break;		/* the empty line: end of headers */
		if ((eol = memchr(msg + off, '\n', len - off)) == NULL)
			break;		/* a line cut by the limit */
		off = (size_t)(eol - msg) + 1;
		kept = off;
	}
	return kept;
}

/* One line of printable bytes (UTF-8 kept), at most dstsz - 1. */
static void
clean_field(char *dst, size_t dstsz, const char *src)
{
	size_t	 i = 0;
	unsigned char c;

	if (src == NULL)
		src = "";
	for (; *src != '\0' && i + 1 < dstsz; src++) {
		c = (unsigned char)*src;
		if (c == '\r' || c == '\n' || c == '\t')
			c = ' ';
		else if (c < 0x20 || c == 0x7f)
			c = '?';
		dst[i++] = (char)c;
	}
	dst[i] = '\0';
}

/* "d.ddd.ddd" whose class fits: 5 or 4 for a failure, 4 for a delay. */
static int
status_valid(const char *s, enum bounce_type type)
{
	int	 part, digits;

	if (s == NULL || strlen(s) > 9)
		return 0;
	if (!(s[0] == '5' || s[0] == '4') || (type == B_DELAYED &&
	    s[0] != '4'))
		return 0;
	s++;
	for (part = 0; part < 2; part++) {
		if (*s++ != '.')
			return 0;
		for (digits = 0; isdigit((unsigned char)*s); s++)
			digits++;
		if (digits < 1 || digits > 3)
			return 0;
	}
	return *s == '\0';
}

/*
 * RFC 3464 2.3.6: "smtp" says the text is a reply an SMTP (or LMTP)
 * server gave, "250 2.0.0 ..."; our own reasons ("mda exited 1: ...",
 * "Envelope expired") are not, and go as X-Unix, the type of local
 * delivery agents' diagnostics.
 */
static const char *
diagnostic_type(const char *diag)
{
	if (diag[0] >= '2' && diag[0] <= '5' &&
	    isdigit((unsigned char)diag[1]) &&
	    isdigit((unsigned char)diag[2]) &&
	    (diag[3] == ' ' || diag[3] == '-' || diag[3] == '\0'))
		return "smtp";
	return "X-Unix";
}

static const char *
rfc5322_date(time_t t, char *buf, size_t bufsz)
{
	struct tm	 tm;

	if (localtime_r(&t, &tm) == NULL ||
	    strftime(buf, bufsz, "%a, %d %b %Y %H:%M:%S %z", &tm) == 0)
		snprintf(buf, bufsz, "Thu, 01 Jan 1970 00:00:00 +0000");
	return buf;
}

static void
duration_text(int64_t s, char *buf, size_t bufsz)
{
	if (s < 0)
		s = 0;
	if (s >= 86400 && s % 86400 == 0)
		snprintf(buf, bufsz, "%" PRId64 " day%s", s / 86400,
		    s / 86400 > 1 ? "s" : "");
	else if (s >= 3600)
		snprintf(buf, bufsz, "%" PRId64 " hour%s", s / 3600,
		    s / 3600 > 1 ? "s" : "");
	else if (s >= 60)
		snprintf(buf, bufsz, "%" PRId64 " minute%s", s / 60,
		    s / 60 > 1 ? "s" : "");
	else
		snprintf(buf, bufsz, "%" PRId64 " second%s", s,
		    s != 1 ? "s" : "");
}

/* A boundary that the original headers, the only foreign part, lack. */
static void
make_boundary(const struct bounce_report *r, char *buf, size_t bufsz)
{
	int	 tries;

	if (r->boundary != NULL) {
		snprintf(buf, bufsz, "%s", r->boundary);
		return;
	}
	for (tries = 0; tries < 8; tries++) {
		snprintf(buf, bufsz, "=_dsn_%08" PRIx32 "%08" PRIx32 "_%lld",
		    arc4random(), arc4random(), (long long)r->now);
		if (r->headers == NULL || memmem(r->headers, r->headers_len,
		    buf, strlen(buf)) == NULL)
			return;
	}
}

static void
write_headers(FILE *fp, const struct bounce_report *r, const char *boundary)
{
	char	 host[FIELD_MAX], sender[FIELD_MAX], date[64];

	clean_field(host, sizeof(host), r->hostname);
	clean_field(sender, sizeof(sender), r->sender);
	fprintf(fp, "From: Mail Delivery System <MAILER-DAEMON@%s>\n", host);
	fprintf(fp, "To: <%s>\n", sender);
	fprintf(fp, "Subject: Delivery Status Notification: %s\n",
	    r->type == B_DELAYED ? "delay" : "failure");
	fprintf(fp, "Date: %s\n", rfc5322_date(r->now, date, sizeof(date)));
	fprintf(fp, "Message-ID: <%lld.%08" PRIx32 ".dsn@%s>\n",
	    (long long)r->now, arc4random(), host);
	fprintf(fp, "MIME-Version: 1.0\n");
	fprintf(fp, "Auto-Submitted: auto-replied\n");
	fprintf(fp, "Content-Type: multipart/report; "
	    "report-type=delivery-status;\n\tboundary=\"%s\"\n", boundary);
	fprintf(fp, "\nThis is a MIME-encapsulated message.\n\n");
}

static void
write_human(FILE *fp, const struct bounce_report *r)
{
	char	 host[FIELD_MAX], addr[FIELD_MAX], diag[FIELD_MAX];
	char	 when[64], late[64];
	size_t	 i;

	clean_field(host, sizeof(host), r->hostname);
	fprintf(fp, "Content-Type: text/plain; charset=utf-8\n"
	    "Content-Description: Notification\n\n");
	fprintf(fp, "This is the mail delivery system at %s.\n\n", host);
	if (r->type == B_DELAYED) {
		duration_text(r->now - r->arrival, late, sizeof(late));
		fprintf(fp, "Your message has not been delivered yet to the "
		    "recipients below,\n%s after it arrived.  Delivery will "
		    "be tried again until\n%s; you do not need to send it "
		    "again.\n\n", late,
		    rfc5322_date(r->retry_until, when, sizeof(when)));
	} else
		fprintf(fp, "Your message could not be delivered to the "
		    "recipients below, and no\nfurther attempt will be "
		    "made.\n\n");
	for (i = 0; i < r->nrcpts; i++) {
		clean_field(addr, sizeof(addr), r->rcpts[i].address);
		clean_field(diag, sizeof(diag), r->rcpts[i].diagnostic);
		fprintf(fp, "  <%s>:\n    %s\n", addr, diag[0] != '\0' ? diag :
		    (r->type == B_DELAYED ? "delivery delayed" :
		    "delivery failed"));
	}
	fprintf(fp, "\nThe headers of your message follow the delivery "
	    "report.\n");
}

static void
write_status(FILE *fp, const struct bounce_report *r)
{
	char		 host[FIELD_MAX], addr[FIELD_MAX], diag[FIELD_MAX];
	char		 date[64];
	const char	*status;
	size_t		 i;

	clean_field(host, sizeof(host), r->hostname);
	fprintf(fp, "Content-Type: message/delivery-status\n"
	    "Content-Description: Delivery report\n\n");
	fprintf(fp, "Reporting-MTA: dns; %s\n", host);
	fprintf(fp, "Arrival-Date: %s\n",
	    rfc5322_date(r->arrival, date, sizeof(date)));
	for (i = 0; i < r->nrcpts; i++) {
		clean_field(addr, sizeof(addr), r->rcpts[i].address);
		clean_field(diag, sizeof(diag), r->rcpts[i].diagnostic);
		status = r->rcpts[i].status;
		if (!status_valid(status, r->type))
			status = bounce_status_default(r->type);
		fprintf(fp, "\nFinal-Recipient: rfc822; %s\n", addr);
		fprintf(fp, "Action: %s\n", r->type == B_DELAYED ? "delayed" :
		    "failed");
		fprintf(fp, "Status: %s\n", status);
		if (diag[0] != '\0')
			fprintf(fp, "Diagnostic-Code: %s; %s\n",
			    diagnostic_type(diag), diag);
		if (r->rcpts[i].lasttry != 0)
			fprintf(fp, "Last-Attempt-Date: %s\n",
			    rfc5322_date(r->rcpts[i].lasttry, date,
			    sizeof(date)));
		if (r->type == B_DELAYED)
			fprintf(fp, "Will-Retry-Until: %s\n",
			    rfc5322_date(r->retry_until, date, sizeof(date)));
	}
}

static void
write_original(FILE *fp, const struct bounce_report *r)
{
	fprintf(fp, "Content-Type: text/rfc822-headers\n"
	    "Content-Description: Headers of the original message\n\n");
	if (r->headers != NULL && r->headers_len > 0) {
		fwrite(r->headers, 1, r->headers_len, fp);
		if (r->headers[r->headers_len - 1] != '\n')
			fputc('\n', fp);
	}
}

int
bounce_write(FILE *fp, const struct bounce_report *r)
{
	char	 boundary[BOUNCE_BOUNDARY_MAX];

	make_boundary(r, boundary, sizeof(boundary));
	write_headers(fp, r, boundary);
	fprintf(fp, "--%s\n", boundary);
	write_human(fp, r);
	fprintf(fp, "\n--%s\n", boundary);
	write_status(fp, r);
	fprintf(fp, "\n--%s\n", boundary);
	write_original(fp, r);
	fprintf(fp, "\n--%s--\n", boundary);
	if (fflush(fp) == EOF || ferror(fp)) {
		if (errno == 0)
			errno = EIO;
		return -1;
	}
	return 0;
}
