/*
 * queue_fs_spool.c: the spool directory of queue-fs.
 *
 * Opening the spool creates its layout, takes its lock (one queue-fs
 * per spool) and throws away what a crash left half done: messages
 * never committed (incoming/), deletions cut short (purge/) and
 * envelope updates never renamed into place (tmp/).  Also the small
 * path, sync and error helpers the other files share.
 */
#include <sys/types.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "smtpd-api.h"
#include "queue_fs.h"

#define LOCK_TRIES	100	/* times LOCK_WAIT_MS: 5 seconds */
#define LOCK_WAIT_MS	50

static int	queue_fs_empty_dir(const char *);
static int	queue_fs_remove_entry(const char *, const struct stat *, int,
		    struct FTW *);

/* What a fresh spool holds; the lock file stays at the top. */
static const char *const spool_dirs[] = {
	"incoming", "queue", "corrupt", "purge", "tmp",
};

static char	 spool_path[PATH_MAX];
static int	 spool_lock = -1;
static int	 spool_fd = -1;
static uint64_t	 tmp_serial;

struct queue_fs_stats	 queue_fs_stats;

int
queue_fs_spool_open(const char *path)
{
	size_t	 i;
	int	 created = 0;

	if (strlcpy(spool_path, path, sizeof(spool_path)) >=
	    sizeof(spool_path)) {
		log_warnx("spool directory name too long: %s", path);
		return -1;
	}
	if (mkdir(path, 0700) == 0)
		log_info("created spool directory %s", path);
	else if (errno != EEXIST) {
		log_warn("%s", path);
		return -1;
	}
	if (chdir(path) == -1) {
		log_warn("%s", path);
		return -1;
	}
	/* Kept open for syncfs(2): two syncs a batch, no open for each. */
	if ((spool_fd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		log_warn("%s", path);
		return -1;
	}
	/* Two instances would clean each other's incoming messages. */
	if ((spool_lock = open("lock", O_RDWR | O_CREAT | O_CLOEXEC,
	    0600)) == -1) {
		log_warn("%s/lock", path);
		return -1;
	}
	/* A predecessor just killed may take a moment to let go. */
	for (i = 0; flock(spool_lock, LOCK_EX | LOCK_NB) == -1; i++) {
		if (errno != EWOULDBLOCK || i == LOCK_TRIES) {
			log_warn("%s/lock: spool in use by another queue-fs",
			    path);
			return -1;
		}
		poll(NULL, 0, LOCK_WAIT_MS);
	}
	for (i = 0; i < sizeof(spool_dirs) / sizeof(spool_dirs[0]); i++) {
		if (mkdir(spool_dirs[i], 0700) == 0)
			created = 1;
		else if (errno != EEXIST) {
			log_warn("%s/%s", path, spool_dirs[i]);
			return -1;
		}
	}
	if (created && queue_fs_sync_dir(".") == -1)
		return -1;
	if (queue_fs_empty_dir("incoming") == -1 ||
	    queue_fs_empty_dir("purge") == -1 ||
	    queue_fs_empty_dir("tmp") == -1)
		return -1;
	return 0;
}

const char *
queue_fs_spool(void)
{
	return spool_path;
}

/* The bucket is the first two hex digits of the msgid. */
void
queue_fs_path_bucket(char *buf, uint32_t msgid)
{
	queue_fs_pathf(buf, "queue/%02x", msgid >> 24);
}

void
queue_fs_path_incoming(char *buf, uint32_t msgid)
{
	queue_fs_pathf(buf, "incoming/%08x", msgid);
}

void
queue_fs_path_committed(char *buf, uint32_t msgid)
{
	queue_fs_pathf(buf, "queue/%02x/%08x", msgid >> 24,
	    msgid);
}

/*
 * Where message msgid lives: 1 and its directory in buf, with
 * *committed set; 0 when neither place has it; -1 (logged) when the
 * spool cannot be looked at.
 */
int
queue_fs_locate(uint32_t msgid, char *buf, int *committed)
{
	struct stat	 sb;

	queue_fs_path_committed(buf, msgid);
	if (stat(buf, &sb) == 0) {
		*committed = 1;
		return 1;
	}
	if (errno != ENOENT)
		return queue_fs_fail(buf, "stat");
	queue_fs_path_incoming(buf, msgid);
	if (stat(buf, &sb) == 0) {
		*committed = 0;
		return 1;
	}
	if (errno != ENOENT)
		return queue_fs_fail(buf, "stat");
	return 0;
}

/* Every path of the spool is short: truncation is logged, never used. */
int
queue_fs_pathf(char *buf, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(buf, QUEUE_FS_PATH_MAX, fmt, ap);
	va_end(ap);
	if (n < 0 || n >= QUEUE_FS_PATH_MAX) {
		log_warnx("%s: path too long: %s...", spool_path, buf);
		return -1;
	}
	return 0;
}

int
queue_fs_tmp_path(char *buf, uint64_t evpid)
{
	queue_fs_pathf(buf, "tmp/%016" PRIx64 ".%" PRIu64,
	    evpid, ++tmp_serial);
	return 0;
}

/*
 * The log line an admin needs: which file, which call, which errno.
 * Always returns -1, the temporary failure the caller answers.
 */
int
queue_fs_fail(const char *path, const char *call)
{
	log_warn("%s/%s: %s", spool_path, path, call);
	queue_fs_stats.temporary_failures++;
	return -1;
}

/*
 * Writes a whole file; with sync, fsync()s it before closing.  0, or
 * -1 (logged) with the file removed.
 */
int
queue_fs_write_file(const char *path, int flags, const void *buf, size_t len,
    int sync)
{
	const char	*p = buf;
	const char	*what = "write";
	ssize_t		 n;
	int		 fd, saved;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | flags,
	    0600)) == -1) {
		if (errno == EEXIST)
			return -1;	/* the caller picks another name */
		return queue_fs_fail(path, "open");
	}
	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		p += n;
		len -= n;
	}
	what = "fsync";
	if (sync) {
		queue_fs_stats.syncs++;
		if (fsync(fd) == -1)
			goto fail;
	}
	what = "close";
	if (close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	return 0;

fail:
	saved = errno;
	if (fd != -1)
		close(fd);
	unlink(path);
	errno = saved;
	return queue_fs_fail(path, what);
}

/*
 * One syncfs(2) makes every file and directory entry written since the
 * last one durable, however many there are: the heart of group commit.
 */
int
queue_fs_sync(void)
{
	int	 r;

	queue_fs_stats.syncs++;
	r = syncfs(spool_fd);
	if (r == -1)
		queue_fs_fail(".", "syncfs");
	return r;
}

int
queue_fs_sync_dir(const char *path)
{
	int	 fd, r;

	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return queue_fs_fail(path, "open");
	queue_fs_stats.syncs++;
	r = fsync(fd);
	if (r == -1)
		queue_fs_fail(path, "fsync");
	close(fd);
	return r;
}

/* rm -r path; 0, or -1 (logged) when something stayed. */
int
queue_fs_remove(const char *path)
{
	if (nftw(path, queue_fs_remove_entry, 8, FTW_DEPTH | FTW_PHYS) == -1)
		return queue_fs_fail(path, "remove");
	return 0;
}

/* nftw has told what each entry is: no call made in vain. */
static int
queue_fs_remove_entry(const char *path, const struct stat *sb, int flag,
    struct FTW *ftw)
{
	int	 r;

	if (flag == FTW_DP || flag == FTW_D || flag == FTW_DNR)
		r = rmdir(path);
	else
		r = unlink(path);
	if (r == -1 && errno != ENOENT)
		return -1;
	return 0;
}

/* Start-up only: what is left here was never acknowledged. */
static int
queue_fs_empty_dir(const char *dir)
{
	char		 path[QUEUE_FS_PATH_MAX];
	struct dirent	*de;
	DIR		*d;
	int		 removed = 0;

	if ((d = opendir(dir)) == NULL)
		return queue_fs_fail(dir, "opendir");
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (queue_fs_pathf(path, "%s/%s", dir, de->d_name) == -1)
			continue;
		if (queue_fs_remove(path) == -1) {
			closedir(d);
			return -1;
		}
		removed++;
	}
	closedir(d);
	if (removed)
		log_info("%s/%s: removed %d leftovers of an earlier run",
		    spool_path, dir, removed);
	return 0;
}
