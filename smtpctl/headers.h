/*
 * headers.h: what sendmail reads in a message's header (RFC 5322):
 * the recipients of To, Cc and Bcc for -t, the Bcc lines to remove,
 * and whether From is there.  No I/O: the unit tests drive it.
 */
#ifndef SMTPCTL_HEADERS_H
#define SMTPCTL_HEADERS_H

#include <stddef.h>

struct addr_list {
	char	**addrs;
	size_t	  count;
	size_t	  cap;
};

void		 addr_list_free(struct addr_list *);
/* Copies addr; one already in the list is not added twice.  0 or -1. */
int		 addr_list_add(struct addr_list *, const char *addr);

/*
 * The addresses of an address list: "a@b, Name <c@d>, "Q, R" <e@f>,
 * g@h (comment), group: i@j, k@l;".  Appended to list; 0, or -1 with
 * err ("malformed address: ...").
 */
int		 headers_parse_addresses(const char *value,
		    struct addr_list *, char *err, size_t errsz);

struct header_info {
	int	 has_from;
	int	 has_date;
	int	 has_message_id;
	size_t	 body;		/* offset of the body (after the blank
				   line), or the length when none */
};

/*
 * Scan the header of msg, len bytes then a NUL (lines end in LF or
 * CRLF; the header ends at the first empty line, or at a line that is
 * neither a field nor a continuation).  Every Bcc field is removed
 * from msg and *len shrinks.  With rcpts, the addresses of To, Cc and
 * Bcc are appended to it.  0, or -1 with err.
 */
int		 headers_scan(char *msg, size_t *len, struct addr_list *rcpts,
		    struct header_info *, char *err, size_t errsz);

#endif /* SMTPCTL_HEADERS_H */
