/*
 * queue_fs_commit.c: group commit.
 *
 * A commit (or an update of a committed envelope) is not answered at
 * once: it joins a batch, and the batch is flushed from the event loop
 * after every frame already read has been dispatched.  While a flush
 * runs, new frames pile up in the socket and form the next batch.  One
 * flush, whatever its size, costs two syncs:
 *	1. syncfs(2): the bodies, envelope files and directories of every
 *	   message of the batch, and the new envelope versions in tmp/;
 *	2. one rename per message (incoming/<msgid> to queue/<bucket>/)
 *	   and per update (tmp/ over the old version);
 *	3. syncfs(2) again: the renames;
 * and only then are the requests answered.  A crash before 3 leaves
 * each message either in incoming/ (cleaned at start-up, never
 * acknowledged) or in the queue complete.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event.h>

#include "smtpd-api.h"
#include "queue_fs.h"

enum batch_kind {
	BATCH_COMMIT,
	BATCH_UPDATE,
};

struct batch_op {
	enum batch_kind			 kind;
	uint32_t			 msgid;
	uint64_t			 evpid;
	char				 tmp[QUEUE_FS_PATH_MAX];
	int				 result;
	int				 renamed;
	struct queue_api_pending	*pending;
};

static int	batch_add(enum batch_kind, uint32_t, uint64_t, const char *);
static void	batch_flush(evutil_socket_t, short, void *);
static void	batch_rename(struct batch_op *);
static void	batch_undo(struct batch_op *);
static int	bucket_make(uint32_t, int);

static struct batch_op	*batch;
static size_t		 batch_count;
static size_t		 batch_cap;
static struct event	*batch_ev;
static unsigned char	 bucket_made[256 / 8];	/* buckets known to exist */

int
queue_fs_message_commit(uint32_t msgid)
{
	char		 dir[QUEUE_FS_PATH_MAX], path[QUEUE_FS_PATH_MAX];
	struct stat	 sb;

	queue_fs_path_incoming(dir, msgid);
	queue_fs_pathf(path, "%s/message", dir);
	if (stat(path, &sb) == -1) {
		if (errno != ENOENT)
			return queue_fs_fail(path, "stat");
		/* A commit repeated after a lost answer is done. */
		queue_fs_path_committed(dir, msgid);
		if (stat(dir, &sb) == 0)
			return 1;
		return 0;
	}
	return batch_add(BATCH_COMMIT, msgid, 0, NULL);
}

/* tmp holds the new version, to be renamed over the envelope. */
int
queue_fs_commit_update(uint64_t evpid, const char *tmp)
{
	int	 r;

	if ((r = batch_add(BATCH_UPDATE, queue_evpid_to_msgid(evpid), evpid,
	    tmp)) != QUEUE_API_DEFERRED)
		unlink(tmp);
	return r;
}

static int
batch_add(enum batch_kind kind, uint32_t msgid, uint64_t evpid,
    const char *tmp)
{
	struct timeval	 now = { 0, 0 };
	struct batch_op	*op;
	size_t		 ncap;

	if (batch_ev == NULL && (batch_ev = evtimer_new(helper_event_base(),
	    batch_flush, NULL)) == NULL) {
		log_warnx("group commit: cannot create the flush event");
		return -1;
	}
	if (batch_count == batch_cap) {
		ncap = batch_cap ? batch_cap * 2 : 64;
		if ((op = reallocarray(batch, ncap, sizeof(*op))) == NULL) {
			log_warn("group commit");
			return -1;
		}
		batch = op;
		batch_cap = ncap;
	}
	op = &batch[batch_count];
	op->kind = kind;
	op->msgid = msgid;
	op->evpid = evpid;
	op->tmp[0] = '\0';
	if (tmp != NULL)
		strlcpy(op->tmp, tmp, sizeof(op->tmp));
	op->result = -1;
	op->renamed = 0;
	if ((op->pending = queue_api_defer()) == NULL)
		return -1;
	batch_count++;
	/* Zero delay: runs once the frames already read are dispatched. */
	if (batch_count == 1 && evtimer_add(batch_ev, &now) == -1)
		log_warnx("group commit: cannot schedule the flush");
	return QUEUE_API_DEFERRED;
}

static void
batch_flush(evutil_socket_t fd, short events, void *arg)
{
	struct batch_op	*op;
	size_t		 i, messages = 0, updates = 0;
	uint64_t	 syncs = queue_fs_stats.syncs;
	int		 synced, renamed = 0;

	if (batch_count == 0)
		return;
	synced = queue_fs_sync() == 0;
	for (i = 0; synced && i < batch_count; i++) {
		batch_rename(&batch[i]);
		renamed |= batch[i].renamed;
	}
	/* Renamed but not durable: put back, answer a temporary failure. */
	if (renamed && queue_fs_sync() == -1) {
		for (i = 0; i < batch_count; i++)
			batch_undo(&batch[i]);
	}

	queue_fs_stats.commit_rounds++;
	for (i = 0; i < batch_count; i++) {
		op = &batch[i];
		if (op->kind == BATCH_COMMIT) {
			messages++;
			if (op->result == 1)
				queue_fs_stats.messages_committed++;
		} else {
			updates++;
			if (op->result == 1)
				queue_fs_stats.envelopes_updated++;
			else if (op->tmp[0] != '\0')
				unlink(op->tmp);
		}
		queue_api_done(op->pending, op->result);
	}
	log_trace(TRACE_QUEUE, "group commit: %zu messages, %zu updates, "
	    "%" PRIu64 " syncs", messages, updates,
	    queue_fs_stats.syncs - syncs);
	batch_count = 0;
}

static void
batch_rename(struct batch_op *op)
{
	char		 src[QUEUE_FS_PATH_MAX], dst[QUEUE_FS_PATH_MAX];
	struct stat	 sb;
	int		 r;

	if (op->kind == BATCH_COMMIT) {
		queue_fs_path_incoming(src, op->msgid);
		queue_fs_path_committed(dst, op->msgid);
		if (bucket_make(op->msgid, 0) == -1) {
			op->result = -1;
			return;
		}
		if (rename(src, dst) == -1) {
			/* The bucket may have been removed behind our back. */
			r = errno == ENOENT ? bucket_make(op->msgid, 1) : 0;
			if (r == -1) {
				op->result = -1;
				return;
			}
			if (r == 0 || rename(src, dst) == -1) {
				/* Deleted while its commit waited: not found. */
				op->result = errno == ENOENT ? 0 :
				    queue_fs_fail(src, "rename");
				return;
			}
		}
	} else {
		queue_fs_path_committed(src, op->msgid);
		queue_fs_pathf(dst, "%s/envelopes/%016" PRIx64, src,
		    op->evpid);
		/* Deleted while its update waited: do not bring it back. */
		if (stat(dst, &sb) == -1) {
			op->result = errno == ENOENT ? 0 :
			    queue_fs_fail(dst, "stat");
			return;
		}
		if (rename(op->tmp, dst) == -1) {
			op->result = queue_fs_fail(dst, "rename");
			return;
		}
		op->tmp[0] = '\0';
	}
	op->renamed = 1;
	op->result = 1;
}

/*
 * The bucket directory of msgid, made once per run rather than tried
 * at every commit.  With again, after a rename failed with ENOENT: the
 * bucket may have been removed behind our back; 1 when it was made
 * anew (the rename is worth trying again), 0 when it was there.
 */
static int
bucket_make(uint32_t msgid, int again)
{
	char		 dir[QUEUE_FS_PATH_MAX];
	unsigned int	 b = msgid >> 24;
	int		 saved = errno;

	if (!again && (bucket_made[b / 8] & (1U << (b % 8))))
		return 0;
	queue_fs_path_bucket(dir, msgid);
	if (mkdir(dir, 0700) == -1) {
		if (errno != EEXIST)
			return queue_fs_fail(dir, "mkdir");
		bucket_made[b / 8] |= 1U << (b % 8);
		errno = saved;
		return 0;
	}
	bucket_made[b / 8] |= 1U << (b % 8);
	errno = saved;
	return 1;
}

/* Best effort: a message put back in incoming/ goes at next start-up. */
static void
batch_undo(struct batch_op *op)
{
	char	 src[QUEUE_FS_PATH_MAX], dst[QUEUE_FS_PATH_MAX];

	if (!op->renamed)
		return;
	op->result = -1;
	if (op->kind != BATCH_COMMIT)
		return;	/* the new version is in place; it may not last */
	queue_fs_path_committed(src, op->msgid);
	queue_fs_path_incoming(dst, op->msgid);
	if (rename(src, dst) == -1)
		queue_fs_fail(src, "rename back to incoming/");
}
