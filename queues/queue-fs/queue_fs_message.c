/*
 * queue_fs_message.c: messages of queue-fs, the body and its directory.
 *
 * A message is built in incoming/<msgid>/ (the body in "message", the
 * envelopes in "envelopes/") and committed by renaming that directory
 * to queue/<bucket>/<msgid>/ (queue_fs_commit.c).  Deleting renames the
 * directory into purge/, so that a crash in the middle never leaves a
 * half-deleted message in the queue, and removes its files later
 * (queue_fs_purge.c).
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "smtpd-api.h"
#include "queue_fs.h"

#define CREATE_TRIES	100	/* random msgids tried before giving up */

int
queue_fs_message_create(uint32_t *msgid, int *fd)
{
	char		 dir[QUEUE_FS_PATH_MAX], path[QUEUE_FS_PATH_MAX];
	struct stat	 sb;
	uint32_t	 id;
	int		 i;

	for (i = 0; i < CREATE_TRIES; i++) {
		id = queue_generate_msgid();
		queue_fs_path_committed(dir, id);
		if (stat(dir, &sb) == 0)
			continue;
		if (errno != ENOENT)
			return queue_fs_fail(dir, "stat");
		queue_fs_path_incoming(dir, id);
		if (mkdir(dir, 0700) == 0)
			break;
		if (errno != EEXIST)
			return queue_fs_fail(dir, "mkdir");
	}
	if (i == CREATE_TRIES) {
		log_warnx("%s: no free msgid after %d tries",
		    queue_fs_spool(), CREATE_TRIES);
		return -1;
	}

	queue_fs_pathf(path, "%s/envelopes", dir);
	if (mkdir(path, 0700) == -1) {
		queue_fs_fail(path, "mkdir");
		goto fail;
	}
	queue_fs_pathf(path, "%s/message", dir);
	if ((*fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) == -1) {
		queue_fs_fail(path, "open");
		goto fail;
	}
	*msgid = id;
	queue_fs_stats.messages_created++;
	return 1;

fail:
	queue_fs_remove(dir);
	return -1;
}

int
queue_fs_message_fd_r(uint32_t msgid, int *fd)
{
	char	 dir[QUEUE_FS_PATH_MAX], path[QUEUE_FS_PATH_MAX];
	int	 committed, r;

	if ((r = queue_fs_locate(msgid, dir, &committed)) == -1)
		return -1;
	if (r == 1 && !committed)
		return 0;	/* not visible before its commit */
	if (r == 0) {
		/* The daemon knows it: someone moved it away. */
		queue_fs_path_committed(dir, msgid);
		errno = ENOENT;
		return queue_fs_fail(dir, "message");
	}
	queue_fs_pathf(path, "%s/message", dir);
	if ((*fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return queue_fs_fail(path, "open");
	return 1;
}

int
queue_fs_message_delete(uint32_t msgid)
{
	char	 dir[QUEUE_FS_PATH_MAX];
	int	 committed, r;

	if ((r = queue_fs_locate(msgid, dir, &committed)) != 1)
		return r;
	/* Its envelopes are not known here: the purge lists them. */
	if (queue_fs_message_purge(dir, msgid, 0, 1) == -1)
		return -1;
	queue_fs_stats.messages_deleted++;
	return 1;
}

/*
 * One rename takes it out of the queue, and the delete is answered;
 * the files are removed later, when the loop is idle
 * (queue_fs_purge.c).  evpid is the one envelope known to be left in
 * it, or 0; scan says the envelopes are not known.
 */
int
queue_fs_message_purge(const char *dir, uint32_t msgid, uint64_t evpid,
    int scan)
{
	char	 purge[QUEUE_FS_PATH_MAX];

	queue_fs_purge_path(purge, msgid);
	if (rename(dir, purge) == -1)
		return queue_fs_fail(dir, "rename to purge/");
	queue_fs_purge_add(purge, evpid, scan);
	return 0;
}

int
queue_fs_message_corrupt(uint32_t msgid)
{
	char	 dir[QUEUE_FS_PATH_MAX], dst[QUEUE_FS_PATH_MAX];
	int	 committed, r;

	if ((r = queue_fs_locate(msgid, dir, &committed)) != 1)
		return r;
	queue_fs_pathf(dst, "corrupt/%08x", msgid);
	if (rename(dir, dst) == -1) {
		if (errno != EEXIST && errno != ENOTEMPTY)
			return queue_fs_fail(dir, "rename to corrupt/");
		/* The same msgid was quarantined before: keep both. */
		queue_fs_pathf(dst, "corrupt/%08x.%lld", msgid,
		    (long long)time(NULL));
		if (rename(dir, dst) == -1)
			return queue_fs_fail(dir, "rename to corrupt/");
	}
	log_info("%s/%s: message %08x quarantined", queue_fs_spool(), dst,
	    msgid);
	queue_fs_stats.messages_corrupt++;
	return 1;
}
