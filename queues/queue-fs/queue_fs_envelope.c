/*
 * queue_fs_envelope.c: envelopes of queue-fs, one file each.
 *
 * An envelope is <message dir>/envelopes/<evpid>, the text exactly as
 * the daemon gave it.  Before the commit, files are written in place
 * without a sync (the commit syncs them with the message).  After it,
 * a new version is written to tmp/ and renamed over the old one, so a
 * reader or a crash sees the old or the new text, never a mix; updates
 * of committed messages share the syncs of the group commit.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "smtpd-api.h"
#include "queue_fs.h"

#define CREATE_TRIES	100	/* random evpids tried before giving up */

/* What envelopes_left() finds. */
#define ENVELOPE_ABSENT	0
#define ENVELOPE_ALONE	1
#define ENVELOPE_OTHERS	2

static int	envelope_message(uint32_t, char *, int *);
static void	envelope_path(char *, const char *, uint64_t);
static int	envelope_create_committed(const char *, const char *,
		    const void *, size_t, uint64_t);
static int	envelopes_left(const char *, uint64_t);

int
queue_fs_envelope_create(uint32_t msgid, const void *text, size_t len,
    uint64_t *evpid)
{
	char		 dir[QUEUE_FS_PATH_MAX], path[QUEUE_FS_PATH_MAX];
	uint64_t	 id;
	int		 committed, i, r;

	if (envelope_message(msgid, dir, &committed) == -1)
		return -1;
	for (i = 0; i < CREATE_TRIES; i++) {
		id = queue_generate_evpid(msgid);
		envelope_path(path, dir, id);
		if (committed)
			r = envelope_create_committed(dir, path, text, len, id);
		else
			r = queue_fs_write_file(path, O_EXCL, text, len, 0);
		if (r == 0)
			break;
		if (errno != EEXIST)
			return -1;
	}
	if (i == CREATE_TRIES) {
		log_warnx("%s/%s: no free evpid after %d tries",
		    queue_fs_spool(), dir, CREATE_TRIES);
		return -1;
	}
	*evpid = id;
	queue_fs_stats.envelopes_created++;
	return 1;
}

int
queue_fs_envelope_update(uint64_t evpid, const void *text, size_t len)
{
	char		 dir[QUEUE_FS_PATH_MAX], path[QUEUE_FS_PATH_MAX];
	char		 tmp[QUEUE_FS_PATH_MAX];
	struct stat	 sb;
	int		 committed;

	if (envelope_message(queue_evpid_to_msgid(evpid), dir,
	    &committed) == -1)
		return -1;
	envelope_path(path, dir, evpid);
	if (stat(path, &sb) == -1)
		return errno == ENOENT ? 0 : queue_fs_fail(path, "stat");
	queue_fs_tmp_path(tmp, evpid);
	if (queue_fs_write_file(tmp, O_EXCL, text, len, 0) == -1)
		return -1;
	if (committed)
		return queue_fs_commit_update(evpid, tmp);
	if (rename(tmp, path) == -1) {
		queue_fs_fail(path, "rename");
		unlink(tmp);
		return -1;
	}
	queue_fs_stats.envelopes_updated++;
	return 1;
}

int
queue_fs_envelope_load(uint64_t evpid, void *buf, size_t bufsz, size_t *len)
{
	char		 dir[QUEUE_FS_PATH_MAX], path[QUEUE_FS_PATH_MAX];
	int		 committed;

	if (envelope_message(queue_evpid_to_msgid(evpid), dir,
	    &committed) == -1)
		return -1;
	if (!committed)
		return 0;	/* not visible before its commit */
	envelope_path(path, dir, evpid);
	return queue_fs_envelope_read(path, buf, bufsz, len);
}

/* 1 read, 0 no such file, -1 (logged) unreadable or too long. */
int
queue_fs_envelope_read(const char *path, void *buf, size_t bufsz, size_t *len)
{
	char		 extra;
	size_t		 got = 0;
	ssize_t		 n;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return errno == ENOENT ? 0 : queue_fs_fail(path, "open");
	while (got < bufsz) {
		if ((n = read(fd, (char *)buf + got, bufsz - got)) == -1) {
			if (errno == EINTR)
				continue;
			close(fd);
			return queue_fs_fail(path, "read");
		}
		if (n == 0)
			break;
		got += n;
	}
	if (got == bufsz && read(fd, &extra, 1) > 0) {
		close(fd);
		log_warnx("%s/%s: longer than %zu bytes", queue_fs_spool(),
		    path, bufsz);
		queue_fs_stats.temporary_failures++;
		return -1;
	}
	close(fd);
	*len = got;
	return 1;
}

int
queue_fs_envelope_delete(uint64_t evpid)
{
	char		 dir[QUEUE_FS_PATH_MAX], path[QUEUE_FS_PATH_MAX];
	uint32_t	 msgid = queue_evpid_to_msgid(evpid);
	int		 committed, r;

	/* Deleting is idempotent: a message already gone is not found. */
	if ((r = queue_fs_locate(msgid, dir, &committed)) != 1)
		return r;
	/*
	 * The last envelope of a committed message goes with it, in one
	 * rename into purge/: its file is removed later, when idle.
	 * Before the commit the daemon may still add envelopes.
	 */
	if (committed) {
		if ((r = envelopes_left(dir, evpid)) == -1)
			return -1;
		if (r == ENVELOPE_ABSENT)
			return 0;
		if (r == ENVELOPE_ALONE) {
			if (queue_fs_message_purge(dir, msgid, evpid, 0) == -1)
				return -1;
			queue_fs_stats.envelopes_deleted++;
			queue_fs_stats.messages_deleted++;
			return 1;
		}
	}
	envelope_path(path, dir, evpid);
	if (unlink(path) == -1)
		return errno == ENOENT ? 0 : queue_fs_fail(path, "unlink");
	queue_fs_stats.envelopes_deleted++;
	return 1;
}

/*
 * The directory of the message an envelope belongs to.  The daemon
 * asks only about messages it knows, so one missing here was moved or
 * removed behind our back: a temporary failure, logged.
 */
static int
envelope_message(uint32_t msgid, char *dir, int *committed)
{
	int	 r;

	if ((r = queue_fs_locate(msgid, dir, committed)) != 0)
		return r == 1 ? 0 : -1;
	queue_fs_path_committed(dir, msgid);
	errno = ENOENT;
	return queue_fs_fail(dir, "message directory");
}

static void
envelope_path(char *buf, const char *dir, uint64_t evpid)
{
	queue_fs_pathf(buf, "%s/envelopes/%016" PRIx64, dir,
	    evpid);
}

/*
 * A new envelope of a committed message is durable before the answer:
 * written and synced aside, then linked in (which fails on a taken
 * name, unlike rename) and the directory synced.
 */
static int
envelope_create_committed(const char *dir, const char *path, const void *text,
    size_t len, uint64_t evpid)
{
	char	 tmp[QUEUE_FS_PATH_MAX], envdir[QUEUE_FS_PATH_MAX];
	int	 saved;

	queue_fs_tmp_path(tmp, evpid);
	if (queue_fs_write_file(tmp, O_EXCL, text, len, 1) == -1)
		return -1;
	if (link(tmp, path) == -1) {
		saved = errno;
		if (saved != EEXIST)
			queue_fs_fail(path, "link");
		unlink(tmp);
		errno = saved;
		return -1;
	}
	unlink(tmp);
	queue_fs_pathf(envdir, "%s/envelopes", dir);
	if (queue_fs_sync_dir(envdir) == -1) {
		unlink(path);
		errno = EIO;
		return -1;
	}
	return 0;
}

/*
 * What the envelopes directory holds besides evpid's file: whether that
 * file is there and alone (ENVELOPE_ALONE), there with others
 * (ENVELOPE_OTHERS) or missing (ENVELOPE_ABSENT); -1 (logged) when the
 * directory cannot be read.
 */
static int
envelopes_left(const char *dir, uint64_t evpid)
{
	char		 path[QUEUE_FS_PATH_MAX], name[32];
	struct dirent	*de;
	DIR		*d;
	int		 found = 0, others = 0;

	snprintf(name, sizeof(name), "%016" PRIx64, evpid);
	queue_fs_pathf(path, "%s/envelopes", dir);
	if ((d = opendir(path)) == NULL)
		return queue_fs_fail(path, "opendir");
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (strcmp(de->d_name, name) == 0)
			found = 1;
		else
			others = 1;
		if (found && others)
			break;
	}
	closedir(d);
	if (!found)
		return ENVELOPE_ABSENT;
	return others ? ENVELOPE_OTHERS : ENVELOPE_ALONE;
}
