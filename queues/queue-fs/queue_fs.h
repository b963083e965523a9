/*
 * queue_fs.h: what the files of queue-fs share.
 *
 * The process works with the spool directory as its current directory,
 * so every path below is relative to it; log lines prefix the spool.
 */
#ifndef QUEUE_FS_H
#define QUEUE_FS_H

#include <stddef.h>
#include <stdint.h>

#define QUEUE_FS_PATH_MAX	128	/* longest spool-relative path */

/* Counters, exposed by the STATS frame. */
struct queue_fs_stats {
	uint64_t	 messages_created;
	uint64_t	 messages_committed;
	uint64_t	 messages_deleted;
	uint64_t	 messages_corrupt;
	uint64_t	 envelopes_created;
	uint64_t	 envelopes_updated;
	uint64_t	 envelopes_deleted;
	uint64_t	 commit_rounds;		/* batches of group commit */
	uint64_t	 syncs;			/* sync system calls */
	uint64_t	 temporary_failures;
	uint64_t	 purge_backlog;		/* entries of purge/ to remove */
	uint64_t	 purge_removed;		/* entries of purge/ removed */
};

extern struct queue_fs_stats	 queue_fs_stats;

/* queue_fs_spool.c */
int	 queue_fs_spool_open(const char *);
const char *queue_fs_spool(void);
void	 queue_fs_path_incoming(char *, uint32_t);
void	 queue_fs_path_committed(char *, uint32_t);
void	 queue_fs_path_bucket(char *, uint32_t);
int	 queue_fs_locate(uint32_t, char *, int *);
int	 queue_fs_remove(const char *);
int	 queue_fs_sync(void);
int	 queue_fs_sync_dir(const char *);
int	 queue_fs_fail(const char *, const char *);
int	 queue_fs_write_file(const char *, int, const void *, size_t, int);
int	 queue_fs_tmp_path(char *, uint64_t);
int	 queue_fs_pathf(char *, const char *, ...)
	    __attribute__((__format__(printf, 2, 3)));

/* queue_fs_message.c */
int	 queue_fs_message_create(uint32_t *, int *);
int	 queue_fs_message_delete(uint32_t);
int	 queue_fs_message_fd_r(uint32_t, int *);
int	 queue_fs_message_corrupt(uint32_t);
int	 queue_fs_message_purge(const char *, uint32_t, uint64_t, int);

/* queue_fs_envelope.c */
int	 queue_fs_envelope_create(uint32_t, const void *, size_t,
	    uint64_t *);
int	 queue_fs_envelope_update(uint64_t, const void *, size_t);
int	 queue_fs_envelope_load(uint64_t, void *, size_t, size_t *);
int	 queue_fs_envelope_delete(uint64_t);
int	 queue_fs_envelope_read(const char *, void *, size_t, size_t *);

/* queue_fs_walk.c */
struct queue_api_walk;
int	 queue_fs_walk(uint64_t, struct queue_api_walk *);

/* queue_fs_purge.c: removal of deleted messages when idle */
int	 queue_fs_purge_init(void);
void	 queue_fs_purge_path(char *, uint32_t);
void	 queue_fs_purge_add(const char *, uint64_t, int);

/* queue_fs_commit.c: group commit */
int	 queue_fs_message_commit(uint32_t);
int	 queue_fs_commit_update(uint64_t, const char *);

#endif /* QUEUE_FS_H */
