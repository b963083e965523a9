/*
 * forward.c: reading a user's ~/.forward and the files of :include:
 * targets.
 *
 * The lookup process reads them itself, and it runs as the
 * unprivileged _smtpd user when smtpd was started as root: a
 * ~/.forward is used only when that user can read it.  A home
 * directory closed to others (root's, typically) means no forwarding
 * and is told apart (FORWARD_UNREACHABLE), since it happens on every
 * delivery to that user: only a .forward that is there but refused
 * deserves a warning.
 * The checks are made on the opened descriptor, so that the file
 * checked is the file read: a .forward is refused unless it is a
 * regular file owned by the user, not writable by group or others, in
 * a home directory not writable by group or others either (anyone who
 * can write there could plant one).  A missing file is simply no
 * forward.  A sticky home directory is the old convention for "this
 * home is being worked on": a temporary failure, tried again later
 * (unless others may write to it, as to /tmp: that is refused).
 * An :include: file is refused when others may write to it: its
 * commands run as _smtpd, whose are the queue and every message.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aliases.h"

static int	file_read_all(int, const char *, char **, char *, size_t);

int
forward_read(const char *home, uid_t uid, char **text, char *reason,
    size_t reasonsz)
{
	struct stat	 sb;
	char		 path[ENVELOPE_PATH_MAX + 16];
	int		 fd, r, saved_errno;

	*text = NULL;
	reason[0] = '\0';
	if (home == NULL || home[0] != '/') {
		snprintf(reason, reasonsz, "no home directory");
		return 0;
	}
	if (stat(home, &sb) == -1) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		if (errno == EACCES) {
			snprintf(reason, reasonsz, "%s: %s", home,
			    strerror(errno));
			return FORWARD_UNREACHABLE;
		}
		snprintf(reason, reasonsz, "%s: %s", home, strerror(errno));
		return -1;
	}
	/* Sticky and shared like /tmp is no convention: ignored below. */
	if ((sb.st_mode & S_ISVTX) && !(sb.st_mode & S_IWOTH)) {
		snprintf(reason, reasonsz, "%s is sticky: not now", home);
		return -1;
	}
	if (sb.st_mode & (S_IWGRP | S_IWOTH)) {
		snprintf(reason, reasonsz, "%s is writable by group or "
		    "others", home);
		return 0;
	}
	r = snprintf(path, sizeof(path), "%s/.forward", home);
	if (r < 0 || (size_t)r >= sizeof(path)) {
		snprintf(reason, reasonsz, "%s: path too long", home);
		return 0;
	}
	/* O_NONBLOCK: a FIFO planted there must not hang the process. */
	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) == -1) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		if (errno == EACCES || errno == ELOOP) {
			saved_errno = errno;
			snprintf(reason, reasonsz, "%s: %s", path,
			    strerror(saved_errno));
			/* The home closed to us, or the file in it? */
			if (saved_errno == EACCES && faccessat(AT_FDCWD, home,
			    X_OK, AT_EACCESS) == -1 && errno == EACCES)
				return FORWARD_UNREACHABLE;
			return 0;
		}
		snprintf(reason, reasonsz, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) == -1) {
		snprintf(reason, reasonsz, "%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (!S_ISREG(sb.st_mode)) {
		snprintf(reason, reasonsz, "%s is not a regular file", path);
		close(fd);
		return 0;
	}
	if (sb.st_uid != uid) {
		snprintf(reason, reasonsz, "%s is owned by uid %lu, not by "
		    "the user (uid %lu)", path, (unsigned long)sb.st_uid,
		    (unsigned long)uid);
		close(fd);
		return 0;
	}
	if (sb.st_mode & (S_IWGRP | S_IWOTH)) {
		snprintf(reason, reasonsz, "%s is writable by group or "
		    "others", path);
		close(fd);
		return 0;
	}
	r = file_read_all(fd, path, text, reason, reasonsz);
	close(fd);
	return r;
}

int
include_read(const char *path, char **text, char *reason, size_t reasonsz)
{
	struct stat	 sb;
	int		 fd, r;

	*text = NULL;
	reason[0] = '\0';
	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) == -1) {
		snprintf(reason, reasonsz, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode)) {
		snprintf(reason, reasonsz, "%s: not a regular file", path);
		close(fd);
		return -1;
	}
	if (sb.st_mode & (S_IWGRP | S_IWOTH)) {
		snprintf(reason, reasonsz, "%s: writable by group or others",
		    path);
		close(fd);
		return -1;
	}
	r = file_read_all(fd, path, text, reason, reasonsz);
	close(fd);
	return r == 1 ? 1 : -1;
}

/* 1 with the whole file in *text, -1 on an error or a file too large. */
static int
file_read_all(int fd, const char *path, char **text, char *reason,
    size_t reasonsz)
{
	char	*buf;
	size_t	 len = 0;
	ssize_t	 n;

	if ((buf = malloc(FORWARD_SIZE_MAX + 1)) == NULL) {
		snprintf(reason, reasonsz, "%s: %s", path, strerror(errno));
		return -1;
	}
	for (;;) {
		n = read(fd, buf + len, FORWARD_SIZE_MAX + 1 - len);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			snprintf(reason, reasonsz, "%s: %s", path,
			    strerror(errno));
			free(buf);
			return -1;
		}
		if (n == 0)
			break;
		len += n;
		if (len > FORWARD_SIZE_MAX) {
			snprintf(reason, reasonsz, "%s: larger than %d bytes",
			    path, FORWARD_SIZE_MAX);
			free(buf);
			return -1;
		}
	}
	if (memchr(buf, '\0', len) != NULL) {
		snprintf(reason, reasonsz, "%s: holds a NUL byte", path);
		free(buf);
		return -1;
	}
	buf[len] = '\0';
	*text = buf;
	return 1;
}
