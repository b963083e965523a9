/*
 * delivery.h: one local delivery, in the child the parent forks.
 *
 * parent_mda.c forks, and the child becomes the user (setgid,
 * initgroups, setuid when the daemon runs as root), then calls
 * delivery_run() and _exit()s with what it returns.  Nothing here
 * needs privileges: every file is made as the user.  An mbox in a
 * directory the user cannot write (/var/mail without group mail)
 * fails temporarily with a reason saying so, unless the mbox exists:
 * the parent, while still root, creates a missing one (mode 0600,
 * owned by the user) before it drops privileges.
 */
#ifndef SMTPD_DELIVERY_H
#define SMTPD_DELIVERY_H

#include "envelope.h"

/*
 * Deliver the message read from msgfd (a read-only descriptor of a
 * regular file, positioned anywhere: it is read from the start, more
 * than once, moving its offset) for env, whose
 * sender, rcpt, dest, mda_user and mda_home are used.
 *
 * method and buffer come from IMSG_MDA_FORK (mda.c expanded them; the
 * frame carries the method as mda_method_name(), delivery_method()
 * below turns it back):
 *	M_MBOX		buffer: the mbox path ("/var/mail/user")
 *	M_FILE		buffer: the file to append to, mbox style
 *	M_MAILDIR	buffer: the maildir path, prefixed with "junk:"
 *			(DELIVERY_JUNK_PREFIX) when the action says junk,
 *			e.g. "junk:/home/u/Maildir"
 *	M_MDA		buffer: a command for /bin/sh -c, message on stdin
 *	M_LMTP		buffer: "host:port" or "/socket", optionally
 *			followed by " rcpt-to" (DELIVERY_LMTP_RCPT_TO:
 *			RCPT TO the full address, not the user name)
 * wrapper: NULL or "" for none; else, for M_MDA only, the expanded
 * wrapper command (its %{mda} already replaced by buffer): it is what
 * runs, instead of buffer.
 *
 * Success is reported only once the mail is on disk: maildir, mbox and
 * file deliveries fsync what they wrote and the directories that got
 * a new entry (the file in new/, directories just made, the directory
 * of a mailbox or file that was empty, as one just created is).
 *
 * Returns an exit status for the child: 0 delivered, EX_TEMPFAIL (75)
 * temporary failure, anything else (EX_NOUSER, EX_CANTCREAT,
 * EX_DATAERR, ...) permanent failure.  Writes one line of reason
 * (at most DELIVERY_REASON_MAX bytes, with a final newline) to
 * reasonfd when reasonfd >= 0; it starts with an enhanced status
 * code: "2.0.0 Delivered", "5.4.6 Loop detected", "4.3.0 mda exited
 * 75: <its stderr's first line>", "5.1.1 lmtp: 550 5.1.1 no such
 * user".  The parent passes that line back as the text of
 * IMSG_MDA_DONE (it may strip the newline); mda.c takes the esc from
 * it.
 */
#define DELIVERY_REASON_MAX	256
#define DELIVERY_JUNK_PREFIX	"junk:"
#define DELIVERY_LMTP_RCPT_TO	" rcpt-to"
#define DELIVERY_LMTP_TIMEOUT	300	/* seconds per LMTP exchange */

/*
 * The sub-address delimiter, for EXTENSION and LOCAL in an mda
 * command's environment: '+' unless the caller sets it to
 * conf->sub_addr_delim before delivery_run.
 */
extern char	 delivery_sub_addr_delim;

/*
 * Seconds an LMTP server has to answer each command (and to take each
 * write): DELIVERY_LMTP_TIMEOUT unless the caller (a test) sets it.
 * Running out of it is a temporary failure, like any other LMTP
 * trouble that is not a 5xx reply.
 */
extern int	 delivery_lmtp_timeout;

/* "mbox" -> M_MBOX ...; M_NONE for an unknown name. */
enum mda_method	 delivery_method(const char *name);

int	delivery_run(const struct envelope *, enum mda_method,
	    const char *buffer, const char *wrapper, int msgfd,
	    int reasonfd);

#endif /* SMTPD_DELIVERY_H */
