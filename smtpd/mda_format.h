/*
 * mda_format.h: the %{...} expansion of maildir paths, mda commands
 * and wrappers (smtpd.conf(5), "FORMAT SPECIFIERS").
 */
#ifndef SMTPD_MDA_FORMAT_H
#define SMTPD_MDA_FORMAT_H

#include <stddef.h>

#include "envelope.h"

#define MDA_FORMAT_TOKEN_MAX	64	/* "%{...}" body, braces excluded */

/*
 * Expand fmt into buf for env:
 *	%{sender} %{sender.user} %{sender.domain}
 *	%{rcpt} %{rcpt.user} %{rcpt.domain}	(RCPT TO as given)
 *	%{dest} %{dest.user} %{dest.domain}	(after expansion)
 *	%{user.username} %{user.directory}	(mda_user, mda_home)
 *	%{mbox.from}				(sender, MAILER-DAEMON for <>)
 *	%{mda}					(mda; NULL: not allowed)
 * Token names are case-insensitive.  %{tok[N]} is one character,
 * %{tok[B:E]} an inclusive range (B or E may be left out, negative
 * values count from the end; characters, not bytes: a UTF-8 sequence
 * is one); a start past the end is an error, an end past it stops at
 * the end.  Modifiers follow ':' and chain with '|': lowercase,
 * uppercase, strip (drops the sub-address: from the first delim up to
 * the '@'; nothing for a domain, user.directory or mda), raw.  Unless
 * raw, each of !#$%&'*?`{|}~ in an expanded value becomes ':', and so
 * does any other character outside letters, digits, UTF-8 bytes and
 * +-/=^_.@[]: (what a quoted local part may bring: '"', '\\', ';'...),
 * and each ".." (not in user.directory nor mda).  %% is a '%'; a '%'
 * before anything else is kept.  A leading "~/" becomes the user's
 * home and a '/'.
 *
 * Returns the length written, or -1 with err filled ("unknown token
 * %{foo}", "bad range in %{rcpt[9]}", "expansion too long").
 */
int	mda_format(char *buf, size_t bufsz, const char *fmt,
	    const struct envelope *env, const char *mda, char delim,
	    char *err, size_t errsz);

#endif /* SMTPD_MDA_FORMAT_H */
