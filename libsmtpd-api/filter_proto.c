/*
 * filter_proto.c: the bodies of every filter frame, written and read
 * here for both sides, so that the daemon's filter driver, smtpd-probe
 * and filter_api.c cannot disagree on a field.  The frame layouts and
 * the rules for replies are documented in section 9 of smtpd-api.h.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtpd-api.h"

/* Size of a lines body holding only its session id: tag + 8 bytes. */
#define LINES_HEADER	9
/* Size a string field adds besides its bytes: tag + length. */
#define STRING_OVERHEAD	5

struct reply_default {
	uint32_t	 type;
	int		 status;
	uint32_t	 code;
	const char	*enhanced;
	const char	*message;
};

static const struct reply_default *reply_default_find(uint32_t, int);
static int	 code_allowed(int, uint32_t);
static int	 enhanced_valid(const char *, uint32_t);
static int	 sanitize_message(char *);
static int	 decode_fail(struct msg_reader *, char *, size_t);
static char	*join_address(const char *, const char *);

/* Type 0 matches any query; the first match wins. */
static const struct reply_default reply_defaults[] = {
	{ IMSG_FILTER_CONNECT, FILTER_REJECT, 554, "5.7.1",
	    "Connection rejected" },
	{ IMSG_FILTER_HELO, FILTER_REJECT, 550, "5.7.1", "Hello rejected" },
	{ IMSG_FILTER_MAIL, FILTER_REJECT, 550, "5.7.1", "Sender rejected" },
	{ IMSG_FILTER_RCPT, FILTER_REJECT, 550, "5.7.1",
	    "Recipient rejected" },
	{ 0, FILTER_REJECT, 554, "5.7.1", "Message rejected" },
	{ IMSG_FILTER_CONNECT, FILTER_TEMPFAIL, 421, "4.7.0",
	    "Temporary failure, try again later" },
	{ 0, FILTER_TEMPFAIL, 451, "4.7.1",
	    "Temporary failure, try again later" },
	{ 0, FILTER_DISCONNECT, 421, "4.7.0", "Closing connection" },
};

/* ------------------------------------------------------------------ */
/* queries and events                                                  */
/* ------------------------------------------------------------------ */

int
filter_proto_connect_encode(struct msg *m, uint64_t session,
    const struct sockaddr *local, const struct sockaddr *remote,
    const char *rdns, int fcrdns)
{
	msg_add_id(m, session);
	msg_add_sockaddr(m, local);
	msg_add_sockaddr(m, remote);
	msg_add_string(m, rdns != NULL ? rdns : "");
	msg_add_int32(m, fcrdns < 0 ? -1 : fcrdns > 0);
	return msg_error(m) ? -1 : 0;
}

int
filter_proto_helo_encode(struct msg *m, uint64_t session, const char *helo)
{
	msg_add_id(m, session);
	msg_add_string(m, helo);
	return msg_error(m) ? -1 : 0;
}

int
filter_proto_mailaddr_encode(struct msg *m, uint64_t session,
    const char *user, const char *domain)
{
	msg_add_id(m, session);
	msg_add_string(m, user != NULL ? user : "");
	msg_add_string(m, domain != NULL ? domain : "");
	return msg_error(m) ? -1 : 0;
}

int
filter_proto_session_encode(struct msg *m, uint64_t session)
{
	msg_add_id(m, session);
	return msg_error(m) ? -1 : 0;
}

int
filter_proto_tx_encode(struct msg *m, uint64_t session, uint32_t msgid)
{
	msg_add_id(m, session);
	msg_add_uint32(m, msgid);
	return msg_error(m) ? -1 : 0;
}

int
filter_proto_eom_encode(struct msg *m, uint64_t session, uint32_t lines,
    uint64_t bytes)
{
	msg_add_id(m, session);
	msg_add_uint32(m, lines);
	msg_add_uint64(m, bytes);
	return msg_error(m) ? -1 : 0;
}

int
filter_proto_event_decode(uint32_t type, struct msg_reader *r,
    struct filter_event *ev, char *err, size_t errsz)
{
	int32_t	 fcrdns;

	memset(ev, 0, sizeof(*ev));
	ev->type = type;
	ev->connect.local_addr = ev->connect.remote_addr = "";
	ev->connect.rdns = "";
	ev->mailaddr.user = ev->mailaddr.domain = ev->mailaddr.address = "";
	if (msg_get_id(r, &ev->session) == -1)
		return decode_fail(r, err, errsz);

	switch (type) {
	case IMSG_FILTER_CONNECT:
		if (msg_get_sockaddr(r, &ev->connect.local) == -1 ||
		    msg_get_sockaddr(r, &ev->connect.remote) == -1 ||
		    msg_get_string(r, &ev->str[0]) == -1 ||
		    msg_get_int32(r, &fcrdns) == -1)
			return decode_fail(r, err, errsz);
		if (fcrdns < -1 || fcrdns > 1) {
			snprintf(err, errsz, "connect: fcrdns %d is not -1, "
			    "0 or 1", fcrdns);
			return -1;
		}
		ev->connect.fcrdns = fcrdns;
		ev->connect.rdns = ev->str[0];
		strlcpy(ev->addrbuf[0], filter_api_sockaddr_to_text(
		    (struct sockaddr *)&ev->connect.local),
		    sizeof(ev->addrbuf[0]));
		strlcpy(ev->addrbuf[1], filter_api_sockaddr_to_text(
		    (struct sockaddr *)&ev->connect.remote),
		    sizeof(ev->addrbuf[1]));
		ev->connect.local_addr = ev->addrbuf[0];
		ev->connect.remote_addr = ev->addrbuf[1];
		break;
	case IMSG_FILTER_HELO:
		if (msg_get_string(r, &ev->str[0]) == -1)
			return decode_fail(r, err, errsz);
		ev->helo = ev->str[0];
		break;
	case IMSG_FILTER_MAIL:
	case IMSG_FILTER_RCPT:
		if (msg_get_string(r, &ev->str[0]) == -1 ||
		    msg_get_string(r, &ev->str[1]) == -1)
			return decode_fail(r, err, errsz);
		if ((ev->str[2] = join_address(ev->str[0], ev->str[1])) ==
		    NULL) {
			snprintf(err, errsz, "out of memory");
			return -1;
		}
		ev->mailaddr.user = ev->str[0];
		ev->mailaddr.domain = ev->str[1];
		ev->mailaddr.address = ev->str[2];
		break;
	case IMSG_FILTER_DATA:
	case IMSG_FILTER_RESET:
	case IMSG_FILTER_DISCONNECT:
		break;
	case IMSG_FILTER_EOM:
		if (msg_get_uint32(r, &ev->eom.lines) == -1 ||
		    msg_get_uint64(r, &ev->eom.bytes) == -1)
			return decode_fail(r, err, errsz);
		break;
	case IMSG_FILTER_TX_BEGIN:
	case IMSG_FILTER_TX_COMMIT:
	case IMSG_FILTER_TX_ROLLBACK:
		if (msg_get_uint32(r, &ev->msgid) == -1)
			return decode_fail(r, err, errsz);
		break;
	default:
		snprintf(err, errsz, "frame type %u is not a filter query or "
		    "event", type);
		return -1;
	}
	if (msg_end(r) == -1)
		return decode_fail(r, err, errsz);
	return 0;
}

void
filter_event_free(struct filter_event *ev)
{
	size_t	 i;

	for (i = 0; i < sizeof(ev->str) / sizeof(ev->str[0]); i++) {
		free(ev->str[i]);
		ev->str[i] = NULL;
	}
}

/* "user@domain", "user" without a domain, "" for the null sender. */
static char *
join_address(const char *user, const char *domain)
{
	char	*s;

	if (*domain == '\0')
		return strdup(user);
	if (asprintf(&s, "%s@%s", user, domain) == -1)
		return NULL;
	return s;
}

static int
decode_fail(struct msg_reader *r, char *err, size_t errsz)
{
	snprintf(err, errsz, "%s", msg_reader_error(r));
	return -1;
}

/* ------------------------------------------------------------------ */
/* decisions                                                           */
/* ------------------------------------------------------------------ */

int
filter_proto_reply_encode(struct msg *m, uint32_t type,
    const struct filter_reply *rep)
{
	msg_add_int32(m, rep->status);
	msg_add_uint32(m, rep->code);
	msg_add_string(m, rep->enhanced);
	msg_add_string(m, rep->message);
	if (type == IMSG_FILTER_EOM)
		msg_add_uint32(m, rep->lines_out);
	return msg_error(m) ? -1 : 0;
}

int
filter_proto_reply_decode(uint32_t type, struct msg_reader *r,
    struct filter_reply *rep, char *err, size_t errsz)
{
	char	*enhanced = NULL, *message = NULL;
	int	 cut = 0, ret;

	memset(rep, 0, sizeof(*rep));
	if (!filter_frame_is_query(type)) {
		snprintf(err, errsz, "frame type %u has no decision reply",
		    type);
		return -1;
	}
	if (msg_get_int32(r, &rep->status) == -1 ||
	    msg_get_uint32(r, &rep->code) == -1 ||
	    msg_get_string(r, &enhanced) == -1 ||
	    msg_get_string(r, &message) == -1 ||
	    (type == IMSG_FILTER_EOM &&
	    msg_get_uint32(r, &rep->lines_out) == -1) ||
	    msg_end(r) == -1) {
		free(enhanced);
		free(message);
		return decode_fail(r, err, errsz);
	}
	if (strlcpy(rep->enhanced, enhanced, sizeof(rep->enhanced)) >=
	    sizeof(rep->enhanced))
		rep->enhanced[0] = '\0';	/* cannot be valid: default */
	if (strlcpy(rep->message, message, sizeof(rep->message)) >=
	    sizeof(rep->message))
		cut = 1;
	free(enhanced);
	free(message);

	ret = filter_reply_normalize(type, rep, err, errsz);
	if (cut && ret == 0) {
		snprintf(err, errsz, "message cut to %d bytes",
		    FILTER_MESSAGE_MAX - 1);
		ret = 1;
	}
	return ret == 0 ? 0 : 1;
}

void
filter_reply_default(uint32_t type, int status, struct filter_reply *rep)
{
	const struct reply_default	*d;

	memset(rep, 0, sizeof(*rep));
	rep->status = status;
	if ((d = reply_default_find(type, status)) == NULL)
		return;			/* accept: no text */
	rep->code = d->code;
	strlcpy(rep->enhanced, d->enhanced, sizeof(rep->enhanced));
	strlcpy(rep->message, d->message, sizeof(rep->message));
}

void
filter_reply_failure(uint32_t type, struct filter_reply *rep)
{
	memset(rep, 0, sizeof(*rep));
	switch (type) {
	case IMSG_FILTER_CONNECT:
	case IMSG_FILTER_HELO:
		rep->status = FILTER_DISCONNECT;
		rep->code = 421;
		strlcpy(rep->enhanced, "4.7.0", sizeof(rep->enhanced));
		strlcpy(rep->message, "Filter unavailable, try again later",
		    sizeof(rep->message));
		break;
	case IMSG_FILTER_EOM:
	case IMSG_FILTER_DATALINES:
	case IMSG_FILTER_DATAOUT:
		rep->status = FILTER_TEMPFAIL;
		rep->code = 451;
		strlcpy(rep->enhanced, "4.3.0", sizeof(rep->enhanced));
		strlcpy(rep->message, "Message filter failed, try again later",
		    sizeof(rep->message));
		break;
	default:
		rep->status = FILTER_TEMPFAIL;
		rep->code = 451;
		strlcpy(rep->enhanced, "4.7.1", sizeof(rep->enhanced));
		strlcpy(rep->message, "Filter unavailable, try again later",
		    sizeof(rep->message));
		break;
	}
}

int
filter_reply_normalize(uint32_t type, struct filter_reply *rep, char *why,
    size_t whysz)
{
	struct filter_reply	 def;
	char			 given[FILTER_ENHANCED_MAX];
	int			 ret = 0;

	if (whysz > 0)
		why[0] = '\0';
	switch (rep->status) {
	case FILTER_ACCEPT:
		rep->code = 0;
		rep->enhanced[0] = rep->message[0] = '\0';
		return 0;
	case FILTER_REJECT:
	case FILTER_TEMPFAIL:
	case FILTER_DISCONNECT:
		break;
	default:
		snprintf(why, whysz, "unknown status %d made a tempfail",
		    rep->status);
		filter_reply_default(type, FILTER_TEMPFAIL, rep);
		return -1;
	}
	filter_reply_default(type, rep->status, &def);

	if (rep->code == 0)
		rep->code = def.code;
	else if (!code_allowed(rep->status, rep->code)) {
		snprintf(why, whysz, "code %u not allowed for %s, made %u",
		    rep->code, filter_status_name(rep->status), def.code);
		rep->code = def.code;
		ret = 1;
	}

	if (rep->enhanced[0] == '\0' ||
	    !enhanced_valid(rep->enhanced, rep->code)) {
		strlcpy(given, rep->enhanced, sizeof(given));
		strlcpy(rep->enhanced, def.enhanced, sizeof(rep->enhanced));
		/* The default's detail, in the class of the code kept. */
		rep->enhanced[0] = '0' + rep->code / 100;
		if (given[0] != '\0' && ret == 0) {
			snprintf(why, whysz, "enhanced code \"%s\" does not "
			    "fit %u, made %s", given, rep->code,
			    rep->enhanced);
			ret = 1;
		}
	}

	if (rep->message[0] == '\0')
		strlcpy(rep->message, def.message, sizeof(rep->message));
	else if (sanitize_message(rep->message) && ret == 0) {
		snprintf(why, whysz, "control characters in the message "
		    "replaced");
		ret = 1;
	}
	return ret;
}

static const struct reply_default *
reply_default_find(uint32_t type, int status)
{
	size_t	 i;

	if (type == IMSG_FILTER_DATALINES)
		type = IMSG_FILTER_EOM;
	for (i = 0; i < sizeof(reply_defaults) / sizeof(reply_defaults[0]);
	    i++)
		if (reply_defaults[i].status == status &&
		    (reply_defaults[i].type == 0 ||
		    reply_defaults[i].type == type))
			return &reply_defaults[i];
	return NULL;
}

/* SMTP reply codes: first digit by status, second 0..5, third 0..9. */
static int
code_allowed(int status, uint32_t code)
{
	uint32_t	 class = code / 100;

	if (code < 400 || code > 599 || (code / 10) % 10 > 5)
		return 0;
	switch (status) {
	case FILTER_REJECT:
		return class == 5;
	case FILTER_TEMPFAIL:
		return class == 4;
	case FILTER_DISCONNECT:
		return 1;
	}
	return 0;
}

/* RFC 3463: class.subject.detail, subject and detail 1 to 3 digits. */
static int
enhanced_valid(const char *s, uint32_t code)
{
	int	 part, digits;

	if (s[0] != (char)('0' + code / 100) || s[1] != '.')
		return 0;
	s += 2;
	for (part = 0; part < 2; part++) {
		for (digits = 0; isdigit((unsigned char)*s); s++)
			digits++;
		if (digits < 1 || digits > 3)
			return 0;
		if (part == 0 && *s++ != '.')
			return 0;
	}
	return *s == '\0';
}

/* One printable line: anything else becomes '?'.  1 if changed. */
static int
sanitize_message(char *s)
{
	int	 changed = 0;

	for (; *s != '\0'; s++)
		if (!isprint((unsigned char)*s)) {
			*s = '?';
			changed = 1;
		}
	return changed;
}

/* ------------------------------------------------------------------ */
/* data lines                                                          */
/* ------------------------------------------------------------------ */

void
filter_proto_lines_start(struct msg *m, uint64_t session)
{
	msg_reset(m);
	msg_add_id(m, session);
}

int
filter_proto_lines_add(struct msg *m, const char *line)
{
	size_t	 len = strlen(line);

	/* A line with its own CR or LF would be two lines to the queue. */
	if (len > FILTER_LINE_MAX || strpbrk(line, "\r\n") != NULL)
		return -1;
	/* A line always fits in an empty batch. */
	if (m->len > LINES_HEADER &&
	    m->len + STRING_OVERHEAD + len > FILTER_BATCH_MAX)
		return 0;
	msg_add_string(m, line);
	return msg_error(m) ? -1 : 1;
}

int
filter_proto_lines_session(struct msg_reader *r, uint64_t *session)
{
	return msg_get_id(r, session);
}

int
filter_proto_lines_next(struct msg_reader *r, char **line)
{
	if (msg_remaining(r) == 0)
		return 0;
	if (msg_get_string(r, line) == -1)
		return -1;
	if (strlen(*line) > FILTER_LINE_MAX ||
	    strpbrk(*line, "\r\n") != NULL) {
		r->failed = 1;
		snprintf(r->error, sizeof(r->error), "field %d: %s", r->field,
		    strlen(*line) > FILTER_LINE_MAX ? "line longer than "
		    "FILTER_LINE_MAX bytes" : "CR or LF inside a line");
		free(*line);
		*line = NULL;
		return -1;
	}
	return 1;
}

int
filter_proto_ack_encode(struct msg *m, uint32_t lines)
{
	msg_add_uint32(m, lines);
	return msg_error(m) ? -1 : 0;
}

int
filter_proto_ack_decode(struct msg_reader *r, uint32_t *lines, char *err,
    size_t errsz)
{
	if (msg_get_uint32(r, lines) == -1 || msg_end(r) == -1)
		return decode_fail(r, err, errsz);
	return 0;
}

/* ------------------------------------------------------------------ */
/* names                                                               */
/* ------------------------------------------------------------------ */

int
filter_frame_is_query(uint32_t type)
{
	switch (type) {
	case IMSG_FILTER_CONNECT:
	case IMSG_FILTER_HELO:
	case IMSG_FILTER_MAIL:
	case IMSG_FILTER_RCPT:
	case IMSG_FILTER_DATA:
	case IMSG_FILTER_EOM:
		return 1;
	}
	return 0;
}

uint64_t
filter_frame_hook(uint32_t type)
{
	switch (type) {
	case IMSG_FILTER_CONNECT:	return FILTER_HOOK_CONNECT;
	case IMSG_FILTER_HELO:		return FILTER_HOOK_HELO;
	case IMSG_FILTER_MAIL:		return FILTER_HOOK_MAIL;
	case IMSG_FILTER_RCPT:		return FILTER_HOOK_RCPT;
	case IMSG_FILTER_DATA:		return FILTER_HOOK_DATA;
	case IMSG_FILTER_EOM:		return FILTER_HOOK_EOM;
	case IMSG_FILTER_RESET:		return FILTER_HOOK_RESET;
	case IMSG_FILTER_DISCONNECT:	return FILTER_HOOK_DISCONNECT;
	case IMSG_FILTER_TX_BEGIN:	return FILTER_HOOK_TX_BEGIN;
	case IMSG_FILTER_TX_COMMIT:	return FILTER_HOOK_TX_COMMIT;
	case IMSG_FILTER_TX_ROLLBACK:	return FILTER_HOOK_TX_ROLLBACK;
	case IMSG_FILTER_DATALINES:	return FILTER_HOOK_DATALINE;
	}
	return 0;
}

const char *
filter_frame_name(uint32_t type)
{
	switch (type) {
	case IMSG_FILTER_CONNECT:	return "connect";
	case IMSG_FILTER_HELO:		return "helo";
	case IMSG_FILTER_MAIL:		return "mail";
	case IMSG_FILTER_RCPT:		return "rcpt";
	case IMSG_FILTER_DATA:		return "data";
	case IMSG_FILTER_EOM:		return "eom";
	case IMSG_FILTER_RESET:		return "reset";
	case IMSG_FILTER_DISCONNECT:	return "disconnect";
	case IMSG_FILTER_TX_BEGIN:	return "tx-begin";
	case IMSG_FILTER_TX_COMMIT:	return "tx-commit";
	case IMSG_FILTER_TX_ROLLBACK:	return "tx-rollback";
	case IMSG_FILTER_DATALINES:	return "datalines";
	case IMSG_FILTER_DATAOUT:	return "dataout";
	}
	return "unknown";
}

const char *
filter_hook_name(uint64_t hook)
{
	switch (hook) {
	case FILTER_HOOK_CONNECT:	return "connect";
	case FILTER_HOOK_HELO:		return "helo";
	case FILTER_HOOK_MAIL:		return "mail";
	case FILTER_HOOK_RCPT:		return "rcpt";
	case FILTER_HOOK_DATA:		return "data";
	case FILTER_HOOK_DATALINE:	return "dataline";
	case FILTER_HOOK_EOM:		return "eom";
	case FILTER_HOOK_RESET:		return "reset";
	case FILTER_HOOK_DISCONNECT:	return "disconnect";
	case FILTER_HOOK_TX_BEGIN:	return "tx-begin";
	case FILTER_HOOK_TX_COMMIT:	return "tx-commit";
	case FILTER_HOOK_TX_ROLLBACK:	return "tx-rollback";
	}
	return "unknown";
}

const char *
filter_status_name(int status)
{
	switch (status) {
	case FILTER_ACCEPT:	return "accept";
	case FILTER_REJECT:	return "reject";
	case FILTER_TEMPFAIL:	return "tempfail";
	case FILTER_DISCONNECT:	return "disconnect";
	}
	return "unknown";
}

const char *
filter_api_sockaddr_to_text(const struct sockaddr *sa)
{
	static char	 buf[INET6_ADDRSTRLEN];
	const void	*addr;

	switch (sa->sa_family) {
	case AF_INET:
		addr = &((const struct sockaddr_in *)sa)->sin_addr;
		break;
	case AF_INET6:
		addr = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		break;
	default:
		return "local";
	}
	if (inet_ntop(sa->sa_family, addr, buf, sizeof(buf)) == NULL)
		return "local";
	return buf;
}
