/*
 * queue_fs_purge.c: removing deleted messages, off the critical path.
 *
 * A delete is answered as soon as one rename has taken the message
 * directory out of the queue into purge/ (queue_fs_message_purge).
 * Its files are removed later, a few system calls per turn of the
 * event loop, by an event of the lowest priority: libevent runs it
 * only in a turn where no frame came in and no group commit waits, so
 * a commit never waits behind more than one such small step.  Removing
 * a file costs a journal update much like a commit does, and when
 * deletes and commits shared one loop, commits waited for them.
 *
 * The layout of a purged message is known (queue_fs_message.c), so
 * every call is the right one for what it removes: unlink for files,
 * rmdir for directories.  Anything else found there (an admin's file)
 * is removed by the generic queue_fs_remove().  What cannot be removed
 * is logged and left for the next start-up, which empties purge/.
 *
 * Under a load that never lets the loop idle, the backlog is bounded:
 * past PURGE_BACKLOG entries, each new delete first finishes the
 * oldest entry itself.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event.h>

#include "smtpd-api.h"
#include "queue_fs.h"

#define PURGE_STEPS	4	/* removals per idle turn: one message */
#define PURGE_BACKLOG	4096	/* entries waiting before deletes help */
#define PURGE_PRIORITIES 3	/* the default is 1; purging is 2 */

enum purge_stage {
	STAGE_ENVELOPES,	/* the envelope known to be left, or all */
	STAGE_MESSAGE,		/* the body */
	STAGE_ENVDIR,		/* envelopes/ */
	STAGE_DIR,		/* the message directory */
	STAGE_DONE,
};

struct purge_item {
	char		 dir[QUEUE_FS_PATH_MAX];	/* purge/<name> */
	uint64_t	 evpid;		/* the one envelope left, or 0 */
	int		 scan;		/* envelopes unknown: list them */
	enum purge_stage stage;
};

static int	purge_schedule(void);
static void	purge_tick(evutil_socket_t, short, void *);
static int	purge_run(int);
static int	purge_step(struct purge_item *);
static int	purge_call(struct purge_item *, const char *, int);
static int	purge_envelopes(struct purge_item *);

static struct purge_item	*items;
static size_t			 head, count, cap;
static struct event		*purge_ev;
static uint64_t			 purge_serial;

/*
 * Called once before the loop runs: gives the purge event a priority
 * below every other event (frames, group commit).
 */
int
queue_fs_purge_init(void)
{
	struct event_base	*base = helper_event_base();

	if (base == NULL || event_base_priority_init(base,
	    PURGE_PRIORITIES) == -1 ||
	    (purge_ev = evtimer_new(base, purge_tick, NULL)) == NULL ||
	    event_priority_set(purge_ev, PURGE_PRIORITIES - 1) == -1) {
		log_warnx("purge: cannot set up the idle event");
		return -1;
	}
	return 0;
}

/*
 * The name in purge/ for message msgid.  A serial keeps two deletes of
 * the same msgid (reused after the first) apart.
 */
void
queue_fs_purge_path(char *buf, uint32_t msgid)
{
	queue_fs_pathf(buf, "purge/%08x.%" PRIu64, msgid, ++purge_serial);
}

/*
 * dir was just renamed into purge/; evpid is the one envelope known to
 * be left in it (0 with scan set when the envelopes are not known).
 * Never fails: what is not removed now goes at the next start-up.
 */
void
queue_fs_purge_add(const char *dir, uint64_t evpid, int scan)
{
	struct purge_item	*it;
	size_t			 ncap;

	if (count - head >= PURGE_BACKLOG)
		purge_run(-1);
	if (count == cap && head > 0) {
		memmove(items, items + head, (count - head) * sizeof(*items));
		count -= head;
		head = 0;
	}
	if (count == cap) {
		ncap = cap ? cap * 2 : 64;
		if ((it = reallocarray(items, ncap, sizeof(*it))) == NULL) {
			log_warn("purge: %s left for the next start-up", dir);
			return;
		}
		items = it;
		cap = ncap;
	}
	it = &items[count++];
	strlcpy(it->dir, dir, sizeof(it->dir));
	it->evpid = evpid;
	it->scan = scan;
	it->stage = STAGE_ENVELOPES;
	queue_fs_stats.purge_backlog = count - head;
	purge_schedule();
}

static int
purge_schedule(void)
{
	struct timeval	 now = { 0, 0 };

	if (purge_ev == NULL || count == head)
		return 0;
	if (!evtimer_pending(purge_ev, NULL) && evtimer_add(purge_ev,
	    &now) == -1) {
		log_warnx("purge: cannot schedule the idle event");
		return -1;
	}
	return 0;
}

static void
purge_tick(evutil_socket_t fd, short events, void *arg)
{
	purge_run(PURGE_STEPS);
	purge_schedule();
}

/*
 * Up to budget removals, whole entries first in, first out; with a
 * negative budget, exactly the oldest entry.  Returns the calls made.
 */
static int
purge_run(int budget)
{
	struct purge_item	*it;
	int			 calls = 0;

	while (head < count && (budget < 0 || calls < budget)) {
		it = &items[head];
		calls += purge_step(it);
		if (it->stage != STAGE_DONE)
			continue;
		queue_fs_stats.purge_removed++;
		if (++head == count)
			head = count = 0;
		if (budget < 0)
			break;
	}
	queue_fs_stats.purge_backlog = count - head;
	return calls;
}

/* One stage of it; returns the calls made.  An error ends the entry. */
static int
purge_step(struct purge_item *it)
{
	char	 path[QUEUE_FS_PATH_MAX];
	int	 calls = 1;

	switch (it->stage) {
	case STAGE_ENVELOPES:
		if (it->scan)
			return purge_envelopes(it);
		if (it->evpid == 0) {
			calls = 0;
			break;
		}
		queue_fs_pathf(path, "%s/envelopes/%016" PRIx64, it->dir,
		    it->evpid);
		return purge_call(it, path, 0);
	case STAGE_MESSAGE:
		queue_fs_pathf(path, "%s/message", it->dir);
		return purge_call(it, path, 0);
	case STAGE_ENVDIR:
		queue_fs_pathf(path, "%s/envelopes", it->dir);
		return purge_call(it, path, 1);
	case STAGE_DIR:
		return purge_call(it, it->dir, 1);
	case STAGE_DONE:
		return 0;
	}
	it->stage++;
	return calls;
}

/*
 * Removes path, a file or (isdir) an empty directory, and moves on.
 * Gone already is fine (an admin was faster); a directory that is not
 * empty holds something unexpected and goes the generic way.
 */
static int
purge_call(struct purge_item *it, const char *path, int isdir)
{
	int	 r;

	r = isdir ? rmdir(path) : unlink(path);
	if (r == -1 && errno != ENOENT) {
		if (isdir && (errno == ENOTEMPTY || errno == EEXIST))
			r = queue_fs_remove(path);
		else
			r = queue_fs_fail(path, isdir ? "rmdir" : "unlink");
		if (r == -1) {
			log_warnx("%s/%s: left for the next start-up",
			    queue_fs_spool(), it->dir);
			it->stage = STAGE_DONE;
			return 1;
		}
	}
	it->stage++;
	return 1;
}

/* Every entry of envelopes/ (a MESSAGE_DELETE of a live message). */
static int
purge_envelopes(struct purge_item *it)
{
	char		 dir[QUEUE_FS_PATH_MAX], path[QUEUE_FS_PATH_MAX];
	struct dirent	*de;
	DIR		*d;
	int		 calls = 1;

	queue_fs_pathf(dir, "%s/envelopes", it->dir);
	if ((d = opendir(dir)) == NULL) {
		if (errno != ENOENT)
			queue_fs_fail(dir, "opendir");
		/* The rmdir of STAGE_ENVDIR will tell. */
		it->stage = STAGE_MESSAGE;
		return calls;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (queue_fs_pathf(path, "%s/%s", dir, de->d_name) == -1)
			continue;
		calls++;
		/* Envelopes are files; anything else is an admin's. */
		if (de->d_type != DT_REG)
			queue_fs_remove(path);
		else if (unlink(path) == -1 && errno != ENOENT)
			queue_fs_fail(path, "unlink");
	}
	closedir(d);
	it->stage = STAGE_MESSAGE;
	return calls;
}
