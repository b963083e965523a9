/*
 * smtp_parse.h: the pure parts of an SMTP session, kept apart so that
 * the unit tests exercise them without a daemon: splitting the input
 * into lines, the command parser (MAIL FROM/RCPT TO paths and
 * parameters), the DATA line handling (dot-unstuffing, limits, NUL,
 * the header scan) and the Received:/Date: header texts.
 *
 * Error replies are complete SMTP replies ("501 5.1.7 ..."), static
 * strings, so that the session sends them as they are.
 */
#ifndef SMTPD_SMTP_PARSE_H
#define SMTPD_SMTP_PARSE_H

#include <sys/types.h>
#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "envelope.h"

struct evbuffer;

/* RFC 5321 4.5.3.1: 512 octets a command line, 1000 a text line,
 * CRLF included. */
#define SMTP_CMDLINE_MAX	512
#define SMTP_DATALINE_MAX	1000
/*
 * The buffer a data line is read into (smtp_getline's bufsz): the 998
 * octets of a text line, the dot a client doubles in front of a line
 * that starts with one (not counted in the limit, RFC 5321 4.5.3.1.6)
 * and the NUL.
 */
#define SMTP_DATALINE_BUF	(SMTP_DATALINE_MAX - 2 + 1 + 1)

/* ---- lines ---- */

/*
 * A line ends at LF; a CR just before it is part of the terminator
 * (crlf set), so a bare LF ends a line too.  A line longer than the
 * caller's buffer is drained as it arrives and returned as one line
 * with toolong set and text holding its start.
 */
struct smtp_linereader {
	int		 skipping;	/* inside an over-long line */
	size_t		 skipped;	/* its length so far */
};

struct smtp_line {
	char		*text;		/* NUL-terminated (NULs may be inside) */
	size_t		 len;		/* without the terminator */
	int		 crlf;		/* ended with CRLF, not a bare LF */
	int		 toolong;	/* longer than bufsz - 1 */
};

/* 1: a line in *line (its text in buf), 0: no complete line yet. */
int		 smtp_getline(struct evbuffer *, struct smtp_linereader *,
		    char *buf, size_t bufsz, struct smtp_line *);

/* ---- commands ---- */

enum smtp_verb {
	SMTP_CMD_UNKNOWN = 0,
	SMTP_CMD_HELO,
	SMTP_CMD_EHLO,
	SMTP_CMD_MAIL,
	SMTP_CMD_RCPT,
	SMTP_CMD_DATA,
	SMTP_CMD_RSET,
	SMTP_CMD_NOOP,
	SMTP_CMD_QUIT,
	SMTP_CMD_HELP,
	SMTP_CMD_VRFY,
	SMTP_CMD_EXPN,
	SMTP_CMD_STARTTLS,
	SMTP_CMD_AUTH,
};

/*
 * The verb of a command line (case-insensitive) and its arguments:
 * what follows the verb and its spaces ("" when none).  For MAIL and
 * RCPT the verb is the first word only; "FROM:"/"TO:" are checked by
 * smtp_parse_mail/rcpt.
 */
enum smtp_verb	 smtp_parse_verb(const char *line, const char **args);
const char	*smtp_verb_name(enum smtp_verb);

/* HELO/EHLO argument: one word of printable characters. */
int		 smtp_parse_helo(const char *args, char *buf, size_t bufsz,
		    const char **reply);

enum smtp_body {
	SMTP_BODY_NONE = 0,
	SMTP_BODY_7BIT,
	SMTP_BODY_8BITMIME,
};

struct smtp_mailfrom {
	struct mailaddr	 addr;		/* user and domain "" for <> */
	int		 null;		/* MAIL FROM:<> */
	uint64_t	 size;		/* SIZE=, 0 when not given */
	enum smtp_body	 body;
	int		 smtputf8;
};

/*
 * "FROM:<path> [params]" (spaces after the colon tolerated).  Paths:
 * <>, <user@domain>, a quoted local part ("a.b"@x; kept quoted unless
 * it is a plain dot-string), an address literal domain ([192.0.2.1],
 * [IPv6:...]), a source route (ignored).  UTF-8 is allowed in the
 * address only with SMTPUTF8.  local: a domainless address is taken
 * (the session qualifies it).  0, or -1 with *reply.
 */
int		 smtp_parse_mail(const char *args, int local,
		    struct smtp_mailfrom *, const char **reply);
/*
 * "TO:<path>" without parameters (no DSN).  A domainless address is
 * accepted for postmaster (user "postmaster", domain ""), and any for a
 * local session.  smtputf8: the transaction's MAIL had SMTPUTF8.
 */
int		 smtp_parse_rcpt(const char *args, int smtputf8, int local,
		    struct mailaddr *, const char **reply);

/* ---- DATA ---- */

enum smtp_data_error {
	SMTP_DATA_OK = 0,
	SMTP_DATA_TOOLONG,	/* a line over SMTP_DATALINE_MAX */
	SMTP_DATA_TOOBIG,	/* over max_size */
	SMTP_DATA_NUL,		/* a NUL byte */
	SMTP_DATA_CR,		/* a CR that does not end a line */
};

struct smtp_data {
	uint64_t	 max_size;	/* 0: no limit */
	uint64_t	 size;		/* RFC 1870: each dot-unstuffed
					   line + CRLF */
	uint32_t	 lines;
	int		 error;		/* first enum smtp_data_error */
	int		 last_crlf;	/* the previous line ended in CRLF */
	int		 in_headers;
	int		 has_date;
	int		 has_msgid;
};

struct smtp_data_out {
	int		 end;		/* the final dot: nothing to store */
	int		 headers_end;	/* the header block ended just
					   before this line (once) */
	const char	*text;		/* to store (dot-unstuffed), or NULL
					   when the message is already
					   refused */
	size_t		 len;
};

void		 smtp_data_init(struct smtp_data *, uint64_t max_size);
/*
 * One line of the data phase (read with bufsz SMTP_DATALINE_BUF).  The
 * end is a "." line that ends with CRLF and follows a line that ended
 * with CRLF (or the DATA command): a "." next to a bare LF is content,
 * so that no "\n.\n" can end a message early (SMTP smuggling).  The
 * line limit and the size count apply to the dot-unstuffed line.  A CR
 * inside a line refuses the message: the filter protocol cannot carry
 * one, and a message must get the same answer with and without filters.
 */
void		 smtp_data_line(struct smtp_data *, const struct smtp_line *,
		    struct smtp_data_out *);
/* The reply for d->error (never 2xx). */
const char	*smtp_data_error_reply(int error);

/* ---- headers we write ---- */

/* RFC 5322 date-time, "Tue, 21 Nov 2023 10:00:00 +0100". */
int		 smtp_date_format(char *buf, size_t bufsz, time_t);

struct smtp_received {
	const char	*helo;		/* "" when none */
	const char	*rdns;		/* "unknown" when none */
	const struct sockaddr_storage *ss;	/* AF_UNSPEC: local */
	const char	*hostname;	/* ours */
	const char	*proto;		/* SMTP, ESMTP, UTF8SMTP... */
	uint32_t	 msgid;
	const char	*rcpt;		/* NULL unless exactly one */
	time_t		 when;
	int		 mask_src;	/* no "from" clause */
};

/* The folded header, LF line ends, trailing LF; length or -1. */
int		 smtp_received_format(char *buf, size_t bufsz,
		    const struct smtp_received *);

/* ---- text for logs and replies ---- */

/* Numeric address ("192.0.2.1", "2001:db8::1", "local"). */
const char	*smtp_ss_to_text(const struct sockaddr_storage *, char *,
		    size_t);
/* Printable, quote-free copy of client text for a log field. */
void		 smtp_log_sanitize(char *dst, size_t dstsz, const char *src);

#endif /* SMTPD_SMTP_PARSE_H */
