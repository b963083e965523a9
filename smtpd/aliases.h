/*
 * aliases.h: the values of aliases(5) and virtual tables, and the lines
 * of ~/.forward and :include: files (forward(5)).
 *
 * A value is a comma-separated list of targets.  Double quotes group
 * (a command may hold commas and blanks), a backslash makes the next
 * character plain, blanks around a target are dropped.  Each target is
 * one of:
 *	user		a local user; "\user" delivers to that user's
 *			mailbox without expanding it again
 *	user@domain	an address, matched against the ruleset again
 *	/path		append to a file
 *	|command	pipe to a command
 *	:include:/path	the targets listed in a file
 *	error:CODE text	fail the recipient with CODE (4xx or 5xx),
 *			optionally followed by an enhanced code
 */
#ifndef SMTPD_ALIASES_H
#define SMTPD_ALIASES_H

#include <sys/types.h>

#include "envelope.h"

#define ALIAS_TEXT_MAX		256	/* error: text, NUL included */
#define FORWARD_SIZE_MAX	(64 * 1024)	/* ~/.forward, :include: */

enum alias_kind {
	ALIAS_USER,
	ALIAS_ADDRESS,
	ALIAS_FILE,
	ALIAS_COMMAND,
	ALIAS_INCLUDE,
	ALIAS_ERROR,
};

struct alias_target {
	enum alias_kind	 kind;
	int		 verbatim;	/* "\user" */
	char		 user[MAILADDR_USER_MAX];	/* USER, lowercased */
	struct mailaddr	 addr;				/* ADDRESS */
	char		 path[ENVELOPE_PATH_MAX];	/* FILE, COMMAND
							   (without '|'),
							   INCLUDE */
	int		 code;				/* ERROR */
	char		 esc[16];
	char		 text[ALIAS_TEXT_MAX];
};

/* Called for each target in order; non-zero stops the parse. */
typedef int	(*alias_target_cb)(const struct alias_target *, void *arg);

#define ALIAS_PARSE_ERROR	(-1)	/* err says what is wrong */
#define ALIAS_PARSE_STOPPED	(-2)	/* the callback stopped it */

/*
 * One target, already split from its list (quotes and backslashes
 * are taken off here).  0, or -1 with err saying what is wrong.
 */
int		 alias_parse_target(const char *item, struct alias_target *,
		    char *err, size_t errsz);
/*
 * A comma-separated list; cb may be NULL to only check it.  Returns the
 * number of targets (an empty list is 0), ALIAS_PARSE_ERROR on a
 * malformed target or list (unbalanced quote) with err set, or
 * ALIAS_PARSE_STOPPED.
 */
int		 alias_parse_list(const char *list, alias_target_cb,
		    void *arg, char *err, size_t errsz);
/*
 * A file's text: each line is a list; blank lines and lines whose
 * first non-blank is '#' are skipped.  Errors name the line.
 */
int		 alias_parse_lines(const char *text, alias_target_cb,
		    void *arg, char *err, size_t errsz);
const char	*alias_kind_name(enum alias_kind);

/* ---- forward.c ---- */

/*
 * Read home/.forward for a user whose id is uid.  Returns 1 with the
 * text (NUL-terminated, the caller frees it), 0 when there is no file
 * to use (missing, unreadable by this process, or refused: not owned
 * by uid, group or world writable, in a group or world writable home,
 * not a regular file; reason then says why, "" when simply missing),
 * FORWARD_UNREACHABLE when the home directory cannot be entered by
 * this process (EACCES: a private home, such as root's, and lookup
 * running as _smtpd; reason set): no forward, and nothing the user
 * did wrong, so the caller logs it at debug level only,
 * -1 on a temporary failure (I/O error, too large, a sticky home: the
 * old convention for "being worked on, not now") with reason set.
 */
#define FORWARD_UNREACHABLE	2
int		 forward_read(const char *home, uid_t uid, char **text,
		    char *reason, size_t reasonsz);
/*
 * Read an :include: file: 1 with the text, -1 when it cannot be read
 * or when its group or others may write to it (its commands run as
 * _smtpd), reason set.  A missing file is a failure too: an admin
 * named it.
 */
int		 include_read(const char *path, char **text, char *reason,
		    size_t reasonsz);

#endif /* SMTPD_ALIASES_H */
