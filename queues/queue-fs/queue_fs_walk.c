/*
 * queue_fs_walk.c: WALK, every committed envelope in evpid order.
 *
 * Buckets are the first two hex digits of the msgid, which are also
 * the top byte of every evpid of the message, so walking buckets 00 to
 * ff, msgids and evpids in ascending order gives ascending evpids: the
 * cursor is simply the last evpid sent, and nothing is kept between
 * batches.  What cannot be read is logged and skipped: one envelope an
 * admin made unreadable must not keep the daemon from starting.
 */
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtpd-api.h"
#include "queue_fs.h"

struct id_list {
	uint64_t	*ids;
	size_t		 count;
	size_t		 cap;
};

static int	walk_message(uint32_t, uint64_t, struct queue_api_walk *,
		    char *);
static int	list_ids(const char *, size_t, uint64_t, uint64_t,
		    struct id_list *, size_t *);
static int	parse_hex(const char *, size_t, uint64_t *);
static int	cmp_id(const void *, const void *);

int
queue_fs_walk(uint64_t cursor, struct queue_api_walk *w)
{
	struct id_list	 msgs;
	char		 path[QUEUE_FS_PATH_MAX];
	char		*buf;
	uint64_t	 first = cursor >> 32;
	unsigned int	 bucket;
	size_t		 i;
	int		 r = 1;

	if ((buf = malloc(QUEUE_ENVELOPE_MAX)) == NULL) {
		log_warn("walk");
		return -1;
	}
	memset(&msgs, 0, sizeof(msgs));
	for (bucket = first >> 24; bucket <= 0xff && r == 1; bucket++) {
		queue_fs_path_bucket(path, (uint32_t)bucket << 24);
		msgs.count = 0;
		/* Messages of this bucket from the cursor's message on. */
		if (list_ids(path, 8, first > ((uint64_t)bucket << 24) ?
		    first : (uint64_t)bucket << 24,
		    ((uint64_t)bucket << 24) | 0xffffff, &msgs, NULL) == -1)
			continue;
		for (i = 0; i < msgs.count && r == 1; i++)
			r = walk_message((uint32_t)msgs.ids[i], cursor, w, buf);
	}
	free(msgs.ids);
	free(buf);
	return r;
}

/* 1 when every envelope of the message went in, 0 when the batch is full. */
static int
walk_message(uint32_t msgid, uint64_t cursor, struct queue_api_walk *w,
    char *buf)
{
	struct id_list	 evps;
	char		 dir[QUEUE_FS_PATH_MAX], path[QUEUE_FS_PATH_MAX];
	size_t		 i, len, total;
	uint64_t	 low = (uint64_t)msgid << 32;
	int		 r = 1;

	queue_fs_path_committed(dir, msgid);
	queue_fs_pathf(path, "%s/envelopes", dir);
	memset(&evps, 0, sizeof(evps));
	if (list_ids(path, 16, cursor + 1 > low ? cursor + 1 : low,
	    low | 0xffffffff, &evps, &total) == -1)
		return 1;
	/* Left by a crash between its last envelope and its removal. */
	if (total == 0) {
		log_info("%s/%s: message without envelopes removed",
		    queue_fs_spool(), dir);
		if (queue_fs_message_purge(dir, msgid, 0, 0) == 0)
			queue_fs_stats.messages_deleted++;
	}
	for (i = 0; i < evps.count; i++) {
		queue_fs_pathf(path, "%s/envelopes/%016" PRIx64, dir,
		    evps.ids[i]);
		if (queue_fs_envelope_read(path, buf, QUEUE_ENVELOPE_MAX,
		    &len) != 1)
			continue;
		if (queue_api_walk_add(w, evps.ids[i], buf, len) == -1) {
			r = 0;
			break;
		}
	}
	free(evps.ids);
	return r;
}

/*
 * The names of dir that are exactly digits hex digits and within
 * [min, max], sorted.  *total (if asked) counts every entry but . and
 * .., whatever its name.  -1 (logged) when the directory cannot be read.
 */
static int
list_ids(const char *dir, size_t digits, uint64_t min, uint64_t max,
    struct id_list *l, size_t *total)
{
	struct dirent	*de;
	uint64_t	*ids, id;
	size_t		 ncap;
	DIR		*d;

	if (total != NULL)
		*total = 0;
	if ((d = opendir(dir)) == NULL) {
		if (errno == ENOENT)
			return -1;	/* a bucket not used yet */
		return queue_fs_fail(dir, "opendir");
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (total != NULL)
			(*total)++;
		if (parse_hex(de->d_name, digits, &id) == -1 ||
		    id < min || id > max)
			continue;
		if (l->count == l->cap) {
			ncap = l->cap ? l->cap * 2 : 64;
			if ((ids = reallocarray(l->ids, ncap,
			    sizeof(*ids))) == NULL) {
				log_warn("walk");
				closedir(d);
				return -1;
			}
			l->ids = ids;
			l->cap = ncap;
		}
		l->ids[l->count++] = id;
	}
	closedir(d);
	if (l->count > 0)
		qsort(l->ids, l->count, sizeof(*l->ids), cmp_id);
	return 0;
}

static int
parse_hex(const char *s, size_t digits, uint64_t *out)
{
	uint64_t	 v = 0;
	size_t		 i;

	if (strlen(s) != digits)
		return -1;
	for (i = 0; i < digits; i++) {
		v <<= 4;
		if (s[i] >= '0' && s[i] <= '9')
			v |= s[i] - '0';
		else if (s[i] >= 'a' && s[i] <= 'f')
			v |= s[i] - 'a' + 10;
		else
			return -1;
	}
	*out = v;
	return 0;
}

static int
cmp_id(const void *a, const void *b)
{
	uint64_t	 x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}
