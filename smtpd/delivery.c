/*
 * delivery.c: one local delivery, in the child the parent forked, as
 * the user already.  Blocking code: this process does nothing else.
 *
 * Every method delivers the message with two lines in front,
 * "Return-Path: <sender>" and "Delivered-To: dest"; a message that
 * already carries that Delivered-To went round in a loop and is
 * refused.
 */
#include <sys/types.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <netinet/in.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "delivery.h"

#define ADDR_MAX	(MAILADDR_USER_MAX + MAILADDR_DOMAIN_MAX + 1)
#define LOCK_WAIT	60	/* seconds to wait for an mbox lock */
#define DOTLOCK_STALE	300	/* seconds after which a dotlock is stale */
#define MDA_PATH	"/usr/bin:/bin"

char	delivery_sub_addr_delim = '+';
int	delivery_lmtp_timeout = DELIVERY_LMTP_TIMEOUT;

/* How the message is written out. */
enum write_mode {
	WRITE_PLAIN,	/* as it is (maildir, mda) */
	WRITE_MBOX,	/* ">From " quoting, a blank line at the end */
	WRITE_LMTP,	/* CRLF, dot-stuffing, "." at the end */
};

struct dlv {
	const struct envelope	*env;
	FILE			*in;
	char			 sender[ADDR_MAX];
	char			 dest[ADDR_MAX];
	char			 rcpt[ADDR_MAX];
	int			 spam;		/* X-Spam: yes */
	int			 loop;		/* Delivered-To: dest */
	char			 reason[DELIVERY_REASON_MAX];
};

static int	 scan_headers(struct dlv *);
static int	 header_is(const char *, const char *, const char **);
static int	 write_message(struct dlv *, FILE *, enum write_mode);
static int	 deliver_maildir(struct dlv *, const char *);
static int	 maildir_make(struct dlv *, const char *);
static int	 mkdirs(const char *);
static int	 fsync_dir(const char *);
static int	 fsync_parent(const char *);
static int	 mbox_sync_dir(const char *);
static int	 deliver_mbox(struct dlv *, const char *, int);
static int	 mbox_lock(struct dlv *, int, const char *, char *, size_t);
static int	 deliver_mda(struct dlv *, const char *);
static void	 mda_exec(struct dlv *, const char *, int, int)
		    __attribute__((noreturn));
static void	 first_line(int, char *, size_t);
static int	 deliver_lmtp(struct dlv *, const char *);
static int	 lmtp_connect(struct dlv *, const char *, int *);
static int	 lmtp_reply(struct dlv *, FILE *, char *, size_t);
static int	 lmtp_step(struct dlv *, FILE *, FILE *, int, const char *,
		    ...) __attribute__((__format__(printf, 5, 6)));
static int	 fail(struct dlv *, int, const char *, ...)
		    __attribute__((__format__(printf, 3, 4)));

enum mda_method
delivery_method(const char *name)
{
	static const enum mda_method methods[] = {
		M_MBOX, M_MAILDIR, M_LMTP, M_MDA, M_FILE
	};
	size_t	 i;

	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (strcmp(name, mda_method_name(methods[i])) == 0)
			return methods[i];
	return M_NONE;
}

int
delivery_run(const struct envelope *env, enum mda_method method,
    const char *buffer, const char *wrapper, int msgfd, int reasonfd)
{
	struct dlv	 d;
	int		 fd, status;

	memset(&d, 0, sizeof(d));
	d.env = env;
	/* A command that stops reading is judged by its exit status. */
	signal(SIGPIPE, SIG_IGN);
	if (mailaddr_to_text(&env->sender, d.sender, sizeof(d.sender)) == -1 ||
	    mailaddr_to_text(&env->dest, d.dest, sizeof(d.dest)) == -1 ||
	    mailaddr_to_text(&env->rcpt, d.rcpt, sizeof(d.rcpt)) == -1) {
		status = fail(&d, EX_DATAERR, "5.1.3 Address too long");
		goto done;
	}
	if ((fd = dup(msgfd)) == -1 || (d.in = fdopen(fd, "r")) == NULL) {
		status = fail(&d, EX_TEMPFAIL, "4.3.0 Cannot read the "
		    "message: %s", strerror(errno));
		if (fd != -1)
			close(fd);
		goto done;
	}
	if (scan_headers(&d) == -1) {
		status = EX_TEMPFAIL;
		goto done;
	}
	if (d.loop) {
		status = fail(&d, EX_DATAERR, "5.4.6 Loop detected: "
		    "Delivered-To: %s already", d.dest);
		goto done;
	}
	if (buffer == NULL || buffer[0] == '\0') {
		status = fail(&d, EX_TEMPFAIL, "4.3.0 No delivery target");
		goto done;
	}

	switch (method) {
	case M_MAILDIR:
		status = deliver_maildir(&d, buffer);
		break;
	case M_MBOX:
		status = deliver_mbox(&d, buffer, 1);
		break;
	case M_FILE:
		status = deliver_mbox(&d, buffer, 0);
		break;
	case M_MDA:
		status = deliver_mda(&d, wrapper != NULL && wrapper[0] != '\0' ?
		    wrapper : buffer);
		break;
	case M_LMTP:
		status = deliver_lmtp(&d, buffer);
		break;
	default:
		status = fail(&d, EX_TEMPFAIL, "4.3.0 Unknown delivery "
		    "method %d", (int)method);
		break;
	}
	if (status == 0 && d.reason[0] == '\0')
		fail(&d, 0, "2.0.0 Delivered");
done:
	if (d.in != NULL)
		fclose(d.in);
	if (reasonfd >= 0)
		(void)dprintf(reasonfd, "%s\n", d.reason);
	return status;
}

/*
 * Reads the header block once: a Delivered-To naming dest is a loop
 * (loop set), "X-Spam: yes" marks junk (spam set).  Leaves the input at the
 * start.  -1 on a read error (reason set).
 */
static int
scan_headers(struct dlv *d)
{
	char		*line = NULL, *end;
	const char	*value;
	size_t		 cap = 0;
	ssize_t		 n;
	int		 ret = 0;

	if (fseeko(d->in, 0, SEEK_SET) == -1) {
		fail(d, EX_TEMPFAIL, "4.3.0 Cannot read the message: %s",
		    strerror(errno));
		return -1;
	}
	while ((n = getline(&line, &cap, d->in)) > 0) {
		if (line[0] == '\n' || (line[0] == '\r' && line[1] == '\n'))
			break;
		line[strcspn(line, "\r\n")] = '\0';
		if (header_is(line, "Delivered-To", &value)) {
			if (value[0] == '<' && (end = strchr(value, '>')) != NULL) {
				value++;
				*end = '\0';
			}
			if (d->dest[0] != '\0' && strcasecmp(value, d->dest) == 0)
				d->loop = 1;
		} else if (header_is(line, "X-Spam", &value) &&
		    strncasecmp(value, "yes", 3) == 0)
			d->spam = 1;
	}
	if (ferror(d->in)) {
		fail(d, EX_TEMPFAIL, "4.3.0 Cannot read the message: %s",
		    strerror(errno));
		ret = -1;
	} else if (fseeko(d->in, 0, SEEK_SET) == -1) {
		fail(d, EX_TEMPFAIL, "4.3.0 Cannot read the message: %s",
		    strerror(errno));
		ret = -1;
	}
	free(line);
	return ret;
}

/* "Name: value" (any case, blanks around the value): 1 and the value. */
static int
header_is(const char *line, const char *name, const char **value)
{
	size_t	 len = strlen(name);
	char	*end;

	if (strncasecmp(line, name, len) != 0)
		return 0;
	line += len;
	while (*line == ' ' || *line == '\t')
		line++;
	if (*line != ':')
		return 0;
	line++;
	while (*line == ' ' || *line == '\t')
		line++;
	*value = line;
	/* trailing blanks: the line is ours to cut */
	end = (char *)line + strlen(line);
	while (end > line && (end[-1] == ' ' || end[-1] == '\t'))
		*--end = '\0';
	return 1;
}

/*
 * The two delivery headers, then the message.  -1 on an error (errno
 * set; EIO when reading failed).  Flushes out but does not close it.
 */
static int
write_message(struct dlv *d, FILE *out, enum write_mode mode)
{
	const char	*eol = mode == WRITE_LMTP ? "\r\n" : "\n";
	char		*line = NULL;
	size_t		 cap = 0, len;
	ssize_t		 n;
	int		 ended = 1, ret = -1;

	if (fseeko(d->in, 0, SEEK_SET) == -1)
		return -1;
	if (fprintf(out, "Return-Path: <%s>%sDelivered-To: %s%s",
	    d->sender, eol, d->dest, eol) < 0)
		goto done;
	while ((n = getline(&line, &cap, d->in)) > 0) {
		len = (size_t)n;
		ended = line[len - 1] == '\n';
		if (ended)
			len--;
		if (mode == WRITE_LMTP) {
			if (len > 0 && line[len - 1] == '\r')
				len--;
			if (line[0] == '.' && len > 0 && fputc('.', out) == EOF)
				goto done;
		}
		if (mode == WRITE_MBOX && len >= 5 &&
		    memcmp(line, "From ", 5) == 0 && fputc('>', out) == EOF)
			goto done;
		if (fwrite(line, 1, len, out) != len)
			goto done;
		if ((ended || mode != WRITE_PLAIN) && fputs(eol, out) == EOF)
			goto done;
	}
	if (ferror(d->in)) {
		errno = EIO;
		goto done;
	}
	if (mode == WRITE_MBOX && fputs("\n", out) == EOF)
		goto done;
	if (mode == WRITE_LMTP && fputs(".\r\n", out) == EOF)
		goto done;
	if (fflush(out) == EOF)
		goto done;
	ret = 0;
done:
	free(line);
	return ret;
}

/*
 * maildir: write tmp/NAME, sync it, link it as new/NAME, sync new/.
 * buffer is the path, "junk:" in front to file spam under .Junk.
 */
static int
deliver_maildir(struct dlv *d, const char *buffer)
{
	static unsigned int	 counter;
	char			 path[PATH_MAX], host[256], name[512];
	char			 tmp[PATH_MAX], new[PATH_MAX], *c;
	FILE			*out;
	int			 fd, tries, saved, status;

	if (strncmp(buffer, DELIVERY_JUNK_PREFIX,
	    strlen(DELIVERY_JUNK_PREFIX)) == 0) {
		buffer += strlen(DELIVERY_JUNK_PREFIX);
		if (snprintf(path, sizeof(path), "%s%s", buffer,
		    d->spam ? "/.Junk" : "") >= (int)sizeof(path))
			return fail(d, EX_CANTCREAT, "5.3.0 Maildir path too "
			    "long");
	} else if (strlcpy(path, buffer, sizeof(path)) >= sizeof(path))
		return fail(d, EX_CANTCREAT, "5.3.0 Maildir path too long");
	if ((status = maildir_make(d, path)) != 0)
		return status;

	/* '/' and ':' have a meaning in maildir names: not in ours */
	if (gethostname(host, sizeof(host)) == -1)
		strlcpy(host, "localhost", sizeof(host));
	host[sizeof(host) - 1] = '\0';
	for (c = host; *c != '\0'; c++)
		if (*c == '/' || *c == ':')
			*c = '_';

	for (tries = 0;; tries++) {
		snprintf(name, sizeof(name), "%lld.%ld_%u.%s",
		    (long long)time(NULL), (long)getpid(), counter++, host);
		if (snprintf(tmp, sizeof(tmp), "%s/tmp/%s", path, name) >=
		    (int)sizeof(tmp) ||
		    snprintf(new, sizeof(new), "%s/new/%s", path, name) >=
		    (int)sizeof(new))
			return fail(d, EX_CANTCREAT, "5.3.0 Maildir path too "
			    "long");
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd != -1 || errno != EEXIST || tries >= 100)
			break;
	}
	if (fd == -1)
		return fail(d, EX_TEMPFAIL, "4.2.0 Maildir: %s: %s", tmp,
		    strerror(errno));
	if ((out = fdopen(fd, "w")) == NULL) {
		saved = errno;
		close(fd);
		unlink(tmp);
		return fail(d, EX_TEMPFAIL, "4.3.0 Maildir: %s",
		    strerror(saved));
	}
	if (write_message(d, out, WRITE_PLAIN) == -1 || fsync(fd) == -1) {
		saved = errno;
		fclose(out);
		unlink(tmp);
		return fail(d, EX_TEMPFAIL, "%s Maildir: writing %s: %s",
		    saved == ENOSPC || saved == EDQUOT ? "4.2.2" : "4.3.0",
		    tmp, strerror(saved));
	}
	if (fclose(out) == EOF) {
		saved = errno;
		unlink(tmp);
		return fail(d, EX_TEMPFAIL, "4.3.0 Maildir: writing %s: %s",
		    tmp, strerror(saved));
	}
	/* link, not rename: never replace a message already in new/ */
	if (link(tmp, new) == -1) {
		saved = errno;
		unlink(tmp);
		return fail(d, EX_TEMPFAIL, "4.3.0 Maildir: link %s: %s", new,
		    strerror(saved));
	}
	unlink(tmp);
	*strrchr(new, '/') = '\0';	/* path/new */
	if (fsync_dir(new) == -1)
		return fail(d, EX_TEMPFAIL, "4.3.0 Maildir: fsync %s: %s", new,
		    strerror(errno));
	return fail(d, 0, "2.0.0 Delivered to maildir %s", path);
}

/* path and its tmp, new and cur, made if missing: 0 or a status. */
static int
maildir_make(struct dlv *d, const char *path)
{
	static const char	*const subdirs[] = { "tmp", "new", "cur" };
	char			 sub[PATH_MAX];
	size_t			 i;
	int			 made = 0;

	if (mkdirs(path) == -1)
		return fail(d, EX_TEMPFAIL, "4.2.0 Maildir: cannot create %s: "
		    "%s", path, strerror(errno));
	for (i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
		if (snprintf(sub, sizeof(sub), "%s/%s", path, subdirs[i]) >=
		    (int)sizeof(sub))
			return fail(d, EX_TEMPFAIL, "4.3.0 Maildir path too "
			    "long");
		if (mkdir(sub, 0700) == 0)
			made = 1;
		else if (errno != EEXIST)
			return fail(d, EX_TEMPFAIL, "4.2.0 Maildir: cannot "
			    "create %s: %s", sub, strerror(errno));
	}
	/* a message in new/ lasts only if new/ itself does */
	if (made && fsync_dir(path) == -1)
		return fail(d, EX_TEMPFAIL, "4.3.0 Maildir: fsync %s: %s",
		    path, strerror(errno));
	return 0;
}

/*
 * mkdir -p, mode 0700, each directory made synced into its parent
 * (unless the user may not read that parent); 0 or -1 (errno set).
 */
static int
mkdirs(const char *path)
{
	char		 p[PATH_MAX], *s;
	struct stat	 sb;

	if (strlcpy(p, path, sizeof(p)) >= sizeof(p)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (s = p + 1; ; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		if (s[-1] != '/') {
			char	 c = *s;

			*s = '\0';
			if (mkdir(p, 0700) == 0) {
				if (fsync_parent(p) == -1 && errno != EACCES)
					return -1;
			} else if (errno != EEXIST)
				return -1;
			*s = c;
		}
		if (*s == '\0')
			break;
	}
	if (stat(path, &sb) == -1)
		return -1;
	if (!S_ISDIR(sb.st_mode)) {
		errno = ENOTDIR;
		return -1;
	}
	return 0;
}

static int
fsync_dir(const char *path)
{
	int	 fd, ret;

	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	ret = fsync(fd);
	close(fd);
	return ret;
}

/* fsync the directory holding path, after an entry was made in it. */
static int
fsync_parent(const char *path)
{
	char	 dir[PATH_MAX], *slash;

	if (strlcpy(dir, path, sizeof(dir)) >= sizeof(dir)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((slash = strrchr(dir, '/')) == NULL)
		return fsync_dir(".");
	if (slash == dir)
		slash[1] = '\0';	/* "/file": the root */
	else
		*slash = '\0';
	return fsync_dir(dir);
}

/*
 * mbox (is_mbox: the user's mailbox, a regular file of theirs) or a
 * file an alias names: append a From_ line and the message, under a
 * lock.  A failed write is undone by truncating back.
 */
static int
deliver_mbox(struct dlv *d, const char *path, int is_mbox)
{
	struct stat	 sb;
	char		 lockpath[PATH_MAX], date[64];
	FILE		*out;
	time_t		 now;
	off_t		 size = 0;
	int		 fd, flags, regular, saved, status;

	flags = O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC;
	if (is_mbox)
		flags |= O_NOFOLLOW;
	if ((fd = open(path, flags, 0600)) == -1) {
		saved = errno;
		if (saved == EACCES && is_mbox && access(path, F_OK) == -1)
			return fail(d, EX_TEMPFAIL, "4.2.0 Mailbox %s does "
			    "not exist and its directory is not writable by "
			    "%s", path, d->env->mda_user);
		return fail(d, EX_TEMPFAIL, "4.2.0 Cannot open %s: %s", path,
		    strerror(saved));
	}
	if (fstat(fd, &sb) == -1) {
		saved = errno;
		close(fd);
		return fail(d, EX_TEMPFAIL, "4.3.0 %s: %s", path,
		    strerror(saved));
	}
	regular = S_ISREG(sb.st_mode);
	if (is_mbox && (!regular || sb.st_uid != geteuid() ||
	    sb.st_nlink != 1)) {
		close(fd);
		return fail(d, EX_TEMPFAIL, "4.2.0 Mailbox %s is not a plain "
		    "file of %s", path, d->env->mda_user);
	}
	lockpath[0] = '\0';
	if (regular && (status = mbox_lock(d, fd, path, lockpath,
	    sizeof(lockpath))) != 0) {
		close(fd);
		return status;
	}
	if (regular && fstat(fd, &sb) == 0)
		size = sb.st_size;
	if ((out = fdopen(fd, "a")) == NULL) {
		saved = errno;
		close(fd);
		status = fail(d, EX_TEMPFAIL, "4.3.0 %s: %s", path,
		    strerror(saved));
		goto unlock;
	}
	now = time(NULL);
	if (strftime(date, sizeof(date), "%a %b %e %H:%M:%S %Y",
	    localtime(&now)) == 0)
		strlcpy(date, "Thu Jan  1 00:00:00 1970", sizeof(date));
	if (fprintf(out, "From %s %s\n", d->sender[0] != '\0' ? d->sender :
	    "MAILER-DAEMON", date) < 0 ||
	    write_message(d, out, WRITE_MBOX) == -1 ||
	    (fsync(fd) == -1 && regular) ||
	    (regular && size == 0 && mbox_sync_dir(path) == -1)) {
		saved = errno;
		if (regular && ftruncate(fd, size) == -1)
			saved = errno;
		fclose(out);
		status = fail(d, EX_TEMPFAIL, "%s Writing %s: %s",
		    saved == ENOSPC || saved == EDQUOT ? "4.2.2" : "4.3.0",
		    path, strerror(saved));
		goto unlock;
	}
	if (fclose(out) == EOF) {
		status = fail(d, EX_TEMPFAIL, "4.3.0 Writing %s: %s", path,
		    strerror(errno));
		goto unlock;
	}
	status = fail(d, 0, "2.0.0 Delivered to %s", path);
unlock:
	/* the fcntl lock went with the descriptor */
	if (lockpath[0] != '\0')
		unlink(lockpath);
	return status;
}

/*
 * A file that was empty may have just been made (here, or by the
 * parent for a mailbox in /var/mail): its name must last as well as
 * its content.  A directory the user may not read cannot be synced by
 * it: that much is left to the file system.
 */
static int
mbox_sync_dir(const char *path)
{
	if (fsync_parent(path) == -1 && errno != EACCES)
		return -1;
	return 0;
}

/*
 * An fcntl lock on fd, and a dotlock (path.lock) where the directory
 * lets the user make one: mail readers use either.  lockpath is set
 * when a dotlock was taken.  0, or a status (reason set) after
 * LOCK_WAIT seconds.
 */
static int
mbox_lock(struct dlv *d, int fd, const char *path, char *lockpath,
    size_t lockpathsz)
{
	struct flock	 fl;
	struct stat	 sb;
	char		 name[PATH_MAX];
	time_t		 deadline = time(NULL) + LOCK_WAIT;
	int		 lfd;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	while (fcntl(fd, F_SETLK, &fl) == -1) {
		if ((errno != EACCES && errno != EAGAIN) ||
		    time(NULL) >= deadline)
			return fail(d, EX_TEMPFAIL, "4.2.0 Cannot lock %s: %s",
			    path, strerror(errno));
		sleep(1);
	}
	if (snprintf(name, sizeof(name), "%s.lock", path) >= (int)sizeof(name))
		return 0;
	for (;;) {
		lfd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC, 0600);
		if (lfd != -1) {
			close(lfd);
			strlcpy(lockpath, name, lockpathsz);
			return 0;
		}
		/* no right to make one there: the fcntl lock must do */
		if (errno != EEXIST)
			return 0;
		if (lstat(name, &sb) == 0 &&
		    time(NULL) - sb.st_mtime > DOTLOCK_STALE) {
			(void)unlink(name);
			continue;
		}
		if (time(NULL) >= deadline)
			return fail(d, EX_TEMPFAIL, "4.2.0 %s is locked "
			    "(%s)", path, name);
		sleep(1);
	}
}

/*
 * mda: /bin/sh -c command, the message on its stdin, its output kept
 * aside (not in a pipe, which a talkative command could fill while we
 * write its input) for the first line of the reason.
 */
static int
deliver_mda(struct dlv *d, const char *command)
{
	FILE	*out;
	char	 line[DELIVERY_REASON_MAX - 64];
	pid_t	 pid;
	int	 in[2], outfd, status, code;

	if ((outfd = memfd_create("mda-output", MFD_CLOEXEC)) == -1) {
		FILE	*tmp;

		if ((tmp = tmpfile()) == NULL ||
		    (outfd = dup(fileno(tmp))) == -1)
			return fail(d, EX_TEMPFAIL, "4.3.0 mda: output file: "
			    "%s", strerror(errno));
		fclose(tmp);
	}
	if (pipe2(in, O_CLOEXEC) == -1) {
		close(outfd);
		return fail(d, EX_TEMPFAIL, "4.3.0 mda: pipe: %s",
		    strerror(errno));
	}
	switch (pid = fork()) {
	case -1:
		close(in[0]);
		close(in[1]);
		close(outfd);
		return fail(d, EX_TEMPFAIL, "4.3.0 mda: fork: %s",
		    strerror(errno));
	case 0:
		close(in[1]);
		mda_exec(d, command, in[0], outfd);
	}
	close(in[0]);
	if ((out = fdopen(in[1], "w")) == NULL)
		close(in[1]);
	else {
		/* EPIPE: the command did not want it all; its status says */
		(void)write_message(d, out, WRITE_PLAIN);
		fclose(out);
	}
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR) {
			close(outfd);
			return fail(d, EX_TEMPFAIL, "4.3.0 mda: waitpid: %s",
			    strerror(errno));
		}
	first_line(outfd, line, sizeof(line));
	close(outfd);
	if (WIFSIGNALED(status))
		return fail(d, EX_TEMPFAIL, "4.3.0 mda killed by signal "
		    "%d%s%s", WTERMSIG(status), line[0] ? ": " : "", line);
	code = WEXITSTATUS(status);
	if (code == 0)
		return fail(d, 0, "2.0.0 Delivered by mda");
	if (code == EX_TEMPFAIL || code == EX_OSERR)
		return fail(d, EX_TEMPFAIL, "4.3.0 mda exited %d%s%s", code,
		    line[0] ? ": " : "", line);
	return fail(d, code == EX_NOUSER ? EX_NOUSER : EX_UNAVAILABLE,
	    "%s mda exited %d%s%s", code == EX_NOUSER ? "5.1.1" : "5.3.0",
	    code, line[0] ? ": " : "", line);
}

/* In the command's process: descriptors, environment, exec. */
static void
mda_exec(struct dlv *d, const char *command, int infd, int outfd)
{
	const struct envelope	*env = d->env;
	char			*envp[16], ext[MAILADDR_USER_MAX];
	char			 local[MAILADDR_USER_MAX], *p;
	sigset_t		 set;
	int			 n = 0;

	if (dup2(infd, STDIN_FILENO) == -1 ||
	    dup2(outfd, STDOUT_FILENO) == -1 ||
	    dup2(outfd, STDERR_FILENO) == -1)
		_exit(EX_OSERR);
	closefrom(STDERR_FILENO + 1);
	signal(SIGPIPE, SIG_DFL);
	sigemptyset(&set);
	sigprocmask(SIG_SETMASK, &set, NULL);
	if (env->mda_home[0] == '\0' || chdir(env->mda_home) == -1)
		(void)chdir("/");

	/* LOCAL is the local part without its extension */
	ext[0] = '\0';
	strlcpy(local, env->rcpt.user, sizeof(local));
	if (delivery_sub_addr_delim != '\0' &&
	    (p = strchr(local, delivery_sub_addr_delim)) != NULL) {
		strlcpy(ext, p + 1, sizeof(ext));
		*p = '\0';
	}
	if (asprintf(&envp[n++], "PATH=%s", MDA_PATH) == -1 ||
	    asprintf(&envp[n++], "SHELL=/bin/sh") == -1 ||
	    asprintf(&envp[n++], "HOME=%s", env->mda_home) == -1 ||
	    asprintf(&envp[n++], "USER=%s", env->mda_user) == -1 ||
	    asprintf(&envp[n++], "LOGNAME=%s", env->mda_user) == -1 ||
	    asprintf(&envp[n++], "SENDER=%s", d->sender) == -1 ||
	    asprintf(&envp[n++], "RECIPIENT=%s", d->dest) == -1 ||
	    asprintf(&envp[n++], "ORIGINAL_RECIPIENT=%s", d->rcpt) == -1 ||
	    asprintf(&envp[n++], "LOCAL=%s", local) == -1 ||
	    asprintf(&envp[n++], "DOMAIN=%s", env->rcpt.domain) == -1 ||
	    asprintf(&envp[n++], "EXTENSION=%s", ext) == -1)
		_exit(EX_OSERR);
	envp[n] = NULL;
	execle("/bin/sh", "sh", "-c", command, (char *)NULL, envp);
	dprintf(STDERR_FILENO, "exec /bin/sh: %s\n", strerror(errno));
	_exit(EX_OSERR);
}

/* The first non-empty line of what fd holds, printable. */
static void
first_line(int fd, char *line, size_t linesz)
{
	char	 buf[1024];
	ssize_t	 n, i;
	size_t	 o = 0;

	line[0] = '\0';
	if ((n = pread(fd, buf, sizeof(buf), 0)) <= 0)
		return;
	for (i = 0; i < n && (buf[i] == '\n' || buf[i] == '\r'); i++)
		;
	for (; i < n && buf[i] != '\n' && o + 1 < linesz; i++) {
		if (buf[i] == '\r')
			continue;
		line[o++] = isprint((unsigned char)buf[i]) ? buf[i] : '?';
	}
	line[o] = '\0';
}

/*
 * lmtp: "host:port", "[v6addr]:port" or "/socket", then " rcpt-to" to
 * give RCPT TO the address rather than the user name.
 */
static int
deliver_lmtp(struct dlv *d, const char *buffer)
{
	char	 dest[ENVELOPE_PATH_MAX], host[256];
	FILE	*rd = NULL, *wr = NULL;
	size_t	 len, suf = strlen(DELIVERY_LMTP_RCPT_TO);
	int	 s = -1, rcpt_to = 0, status;

	if (strlcpy(dest, buffer, sizeof(dest)) >= sizeof(dest))
		return fail(d, EX_TEMPFAIL, "4.3.0 LMTP destination too long");
	len = strlen(dest);
	if (len > suf && strcmp(dest + len - suf, DELIVERY_LMTP_RCPT_TO) == 0) {
		dest[len - suf] = '\0';
		rcpt_to = 1;
	}
	if ((status = lmtp_connect(d, dest, &s)) != 0)
		return status;
	if ((rd = fdopen(s, "r")) == NULL) {
		close(s);
		return fail(d, EX_TEMPFAIL, "4.3.0 LMTP: %s", strerror(errno));
	}
	if ((s = dup(s)) == -1 || (wr = fdopen(s, "w")) == NULL) {
		if (s != -1)
			close(s);
		fclose(rd);
		return fail(d, EX_TEMPFAIL, "4.3.0 LMTP: %s", strerror(errno));
	}
	if (gethostname(host, sizeof(host)) == -1)
		strlcpy(host, "localhost", sizeof(host));
	host[sizeof(host) - 1] = '\0';

	if ((status = lmtp_step(d, rd, wr, 2, NULL)) != 0 ||
	    (status = lmtp_step(d, rd, wr, 2, "LHLO %s", host)) != 0 ||
	    (status = lmtp_step(d, rd, wr, 2, "MAIL FROM:<%s>",
	    d->sender)) != 0 ||
	    (status = lmtp_step(d, rd, wr, 2, "RCPT TO:<%s>", rcpt_to ?
	    d->dest : d->env->mda_user)) != 0 ||
	    (status = lmtp_step(d, rd, wr, 3, "DATA")) != 0)
		goto done;
	if (write_message(d, wr, WRITE_LMTP) == -1) {
		status = fail(d, EX_TEMPFAIL, "4.4.2 LMTP: sending the "
		    "message: %s", strerror(errno));
		goto done;
	}
	/* one recipient, so one reply after the final dot */
	if ((status = lmtp_step(d, rd, wr, 2, NULL)) != 0)
		goto done;
	(void)lmtp_step(d, rd, wr, 2, "QUIT");
	status = fail(d, 0, "2.0.0 Delivered by LMTP to %s", dest);
done:
	fclose(rd);
	fclose(wr);
	return status;
}

/* A connected socket with send and receive deadlines: 0 or a status. */
static int
lmtp_connect(struct dlv *d, const char *dest, int *sp)
{
	struct addrinfo		 hints, *res = NULL, *ai;
	struct sockaddr_un	 sun;
	struct timeval		 tv;
	char			 host[256], *colon;
	const char		*port, *end;
	int			 s = -1, error, saved = 0;

	tv.tv_sec = delivery_lmtp_timeout;
	tv.tv_usec = 0;
	if (dest[0] == '/') {
		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		if (strlcpy(sun.sun_path, dest, sizeof(sun.sun_path)) >=
		    sizeof(sun.sun_path))
			return fail(d, EX_TEMPFAIL, "4.3.0 LMTP socket path "
			    "too long");
		if ((s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
			return fail(d, EX_TEMPFAIL, "4.3.0 LMTP: socket: %s",
			    strerror(errno));
		(void)setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		(void)setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (connect(s, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
			saved = errno;
			close(s);
			return fail(d, EX_TEMPFAIL, "4.4.1 LMTP: connect to "
			    "%s: %s", dest, strerror(saved));
		}
		*sp = s;
		return 0;
	}

	port = NULL;
	if (dest[0] == '[') {
		/* [v6addr]:port */
		if ((end = strchr(dest, ']')) == NULL ||
		    (size_t)(end - dest - 1) >= sizeof(host))
			return fail(d, EX_TEMPFAIL, "4.3.0 LMTP: bad "
			    "destination %s", dest);
		memcpy(host, dest + 1, end - dest - 1);
		host[end - dest - 1] = '\0';
		if (end[1] == ':')
			port = end + 2;
	} else {
		if (strlcpy(host, dest, sizeof(host)) >= sizeof(host))
			return fail(d, EX_TEMPFAIL, "4.3.0 LMTP host too "
			    "long");
		if ((colon = strrchr(host, ':')) != NULL) {
			*colon = '\0';
			port = colon + 1;
		}
	}
	if (port == NULL || *port == '\0')
		port = "24";

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((error = getaddrinfo(host, port, &hints, &res)) != 0)
		return fail(d, EX_TEMPFAIL, "4.4.3 LMTP: %s: %s", dest,
		    gai_strerror(error));
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if ((s = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
		    ai->ai_protocol)) == -1) {
			saved = errno;
			continue;
		}
		(void)setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		(void)setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (connect(s, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		saved = errno;
		close(s);
		s = -1;
	}
	freeaddrinfo(res);
	if (s == -1)
		return fail(d, EX_TEMPFAIL, "4.4.1 LMTP: connect to %s: %s",
		    dest, strerror(saved));
	*sp = s;
	return 0;
}

/*
 * Send a command (none when fmt is NULL), read the reply, and compare
 * its first digit with want.  0, or an exit status with the reason.
 */
static int
lmtp_step(struct dlv *d, FILE *rd, FILE *wr, int want, const char *fmt, ...)
{
	va_list	 ap;
	char	 reply[DELIVERY_REASON_MAX - 32], cmd[32], esc[16];
	size_t	 n;
	int	 ret;

	cmd[0] = '\0';
	if (fmt != NULL) {
		va_start(ap, fmt);
		ret = vfprintf(wr, fmt, ap);
		va_end(ap);
		if (ret < 0 || fputs("\r\n", wr) == EOF || fflush(wr) == EOF)
			return fail(d, EX_TEMPFAIL, "4.4.2 LMTP: sending: %s",
			    strerror(errno));
		strlcpy(cmd, fmt, sizeof(cmd));
		cmd[strcspn(cmd, " %")] = '\0';
	} else
		strlcpy(cmd, want == 2 ? "after data" : "greeting",
		    sizeof(cmd));
	if ((ret = lmtp_reply(d, rd, reply, sizeof(reply))) != 0)
		return ret;
	if (reply[0] == '0' + want)
		return 0;
	/* the server's enhanced code when it gave one of the right class */
	n = strlen(reply) > 4 ? strspn(reply + 4, "0123456789.") : 0;
	if (n >= 5 && n < sizeof(esc) && reply[4] == reply[0] &&
	    (reply[4 + n] == ' ' || reply[4 + n] == '\0')) {
		memcpy(esc, reply + 4, n);
		esc[n] = '\0';
	} else
		snprintf(esc, sizeof(esc), "%c.0.0", reply[0] == '5' ? '5' :
		    '4');
	if (reply[0] == '5')
		return fail(d, EX_UNAVAILABLE, "%s LMTP %s: %s", esc, cmd,
		    reply);
	return fail(d, EX_TEMPFAIL, "%s LMTP %s: %s", esc, cmd, reply);
}

/* The last line of a reply ("250-..." lines continue it): 0 or a status. */
static int
lmtp_reply(struct dlv *d, FILE *rd, char *reply, size_t replysz)
{
	char	 line[1024];
	size_t	 len;
	int	 c;

	for (;;) {
		if (fgets(line, sizeof(line), rd) == NULL) {
			if (ferror(rd) && (errno == EAGAIN ||
			    errno == EWOULDBLOCK))
				return fail(d, EX_TEMPFAIL, "4.4.2 LMTP: no "
				    "answer within %ds", delivery_lmtp_timeout);
			return fail(d, EX_TEMPFAIL, "4.4.2 LMTP: connection "
			    "closed%s%s", ferror(rd) ? ": " : "",
			    ferror(rd) ? strerror(errno) : "");
		}
		len = strlen(line);
		if (len > 0 && line[len - 1] != '\n')
			/* too long: the rest of the line is dropped */
			while ((c = fgetc(rd)) != EOF && c != '\n')
				;
		line[strcspn(line, "\r\n")] = '\0';
		if (strlen(line) < 3 || !isdigit((unsigned char)line[0]) ||
		    !isdigit((unsigned char)line[1]) ||
		    !isdigit((unsigned char)line[2]) ||
		    (line[3] != ' ' && line[3] != '-' && line[3] != '\0'))
			return fail(d, EX_TEMPFAIL, "4.4.2 LMTP: bad reply "
			    "\"%.64s\"", line);
		if (line[3] != '-')
			break;
	}
	strlcpy(reply, line, replysz);
	return 0;
}

/* Sets the reason line; returns status. */
static int
fail(struct dlv *d, int status, const char *fmt, ...)
{
	va_list	 ap;
	char	*c;

	va_start(ap, fmt);
	(void)vsnprintf(d->reason, sizeof(d->reason), fmt, ap);
	va_end(ap);
	for (c = d->reason; *c != '\0'; c++)
		if (*c == '\n' || *c == '\r')
			*c = ' ';
	return status;
}
