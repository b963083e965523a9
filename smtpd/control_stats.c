/*
 * control_stats.c: the counters of show stats and monitor.
 *
 * Every process counts its events with proc_stat(); control adds the
 * deltas here.  The table is a sorted array: a few dozen keys, looked
 * up by binary search, printed in order without sorting.
 */
#include <sys/types.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"

struct control_stat {
	char		 key[CONTROL_STAT_KEY_MAX];
	int64_t		 value;
	uint64_t	 up;		/* sum of the increments */
	uint64_t	 down;		/* sum of the decrements */
};

static int	 stats_key_valid(const char *);
static struct control_stat *stats_find(const char *, size_t *);
static int	 stats_append(char **, size_t *, size_t *, const char *,
		    const char *);

static struct control_stat	 stats[CONTROL_STATS_MAX];
static size_t			 nstats;

/* The keys the monitor shows, in the order of struct control_sample. */
static const char *const monitor_keys[8] = {
	"smtp.session",
	"scheduler.envelope",
	"scheduler.delivery.ok",
	"scheduler.delivery.tempfail",
	"scheduler.delivery.permfail",
	"scheduler.envelope.expired",
	"scheduler.envelope.removed",
	"queue.bounce",
};

void
control_stats_clear(void)
{
	nstats = 0;
}

/* Dotted words of letters, digits, '-' and '_': safe to print as is. */
static int
stats_key_valid(const char *key)
{
	size_t	 i, len = strlen(key);

	if (len == 0 || len >= CONTROL_STAT_KEY_MAX || key[0] == '.' ||
	    key[len - 1] == '.')
		return 0;
	for (i = 0; i < len; i++) {
		if ((key[i] >= 'a' && key[i] <= 'z') ||
		    (key[i] >= 'A' && key[i] <= 'Z') ||
		    (key[i] >= '0' && key[i] <= '9') ||
		    key[i] == '-' || key[i] == '_')
			continue;
		if (key[i] == '.' && key[i + 1] != '.')
			continue;
		return 0;
	}
	return 1;
}

/* The entry of key, or NULL and where it would go. */
static struct control_stat *
stats_find(const char *key, size_t *slot)
{
	size_t	 lo = 0, hi = nstats, mid;
	int	 c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = strcmp(key, stats[mid].key);
		if (c == 0) {
			*slot = mid;
			return &stats[mid];
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	*slot = lo;
	return NULL;
}

int
control_stats_add(const char *key, int64_t delta)
{
	struct control_stat	*st;
	size_t			 slot;

	if (!stats_key_valid(key)) {
		errno = EINVAL;
		return -1;
	}
	if ((st = stats_find(key, &slot)) == NULL) {
		if (nstats == CONTROL_STATS_MAX) {
			errno = ENOSPC;
			return -1;
		}
		memmove(&stats[slot + 1], &stats[slot],
		    (nstats - slot) * sizeof(stats[0]));
		nstats++;
		st = &stats[slot];
		memset(st, 0, sizeof(*st));
		strlcpy(st->key, key, sizeof(st->key));
	}
	st->value += delta;
	if (delta > 0)
		st->up += (uint64_t)delta;
	else
		st->down += (uint64_t)0 - (uint64_t)delta;
	return 0;
}

int64_t
control_stats_value(const char *key)
{
	struct control_stat	*st;
	size_t			 slot;

	st = stats_find(key, &slot);
	return st != NULL ? st->value : 0;
}

const char *
control_stats_duration(int64_t seconds, char *buf, size_t bufsz)
{
	static const struct {
		int64_t	 unit;
		char	 name;
	} units[] = { { 86400, 'd' }, { 3600, 'h' }, { 60, 'm' }, { 1, 's' } };
	size_t	 i, len = 0;
	int	 r;

	if (bufsz == 0)
		return buf;
	buf[0] = '\0';
	if (seconds <= 0) {
		strlcpy(buf, "0s", bufsz);
		return buf;
	}
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (seconds < units[i].unit)
			continue;
		r = snprintf(buf + len, bufsz - len, "%" PRId64 "%c",
		    seconds / units[i].unit, units[i].name);
		if (r < 0 || (size_t)r >= bufsz - len)
			break;
		len += r;
		seconds %= units[i].unit;
	}
	return buf;
}

static int
stats_append(char **buf, size_t *len, size_t *cap, const char *key,
    const char *value)
{
	size_t	 need = strlen(key) + strlen(value) + 3;
	char	*p;

	if (*len + need > *cap) {
		if ((p = realloc(*buf, *cap * 2 + need)) == NULL)
			return -1;
		*buf = p;
		*cap = *cap * 2 + need;
	}
	*len += snprintf(*buf + *len, *cap - *len, "%s=%s\n", key, value);
	return 0;
}

char *
control_stats_render(int64_t uptime)
{
	char	 num[32], up[32], human[64];
	char	*buf;
	size_t	 i, len = 0, cap = 1024;
	int	 done_uptime = 0;

	if ((buf = malloc(cap)) == NULL)
		return NULL;
	buf[0] = '\0';
	snprintf(up, sizeof(up), "%" PRId64, uptime);
	control_stats_duration(uptime, human, sizeof(human));
	/* "uptime" and "uptime.human" sort among the others. */
	for (i = 0; i <= nstats; i++) {
		if (!done_uptime &&
		    (i == nstats || strcmp("uptime", stats[i].key) < 0)) {
			if (stats_append(&buf, &len, &cap, "uptime",
			    up) == -1 || stats_append(&buf, &len, &cap,
			    "uptime.human", human) == -1)
				goto fail;
			done_uptime = 1;
		}
		if (i == nstats)
			break;
		snprintf(num, sizeof(num), "%" PRId64, stats[i].value);
		if (stats_append(&buf, &len, &cap, stats[i].key, num) == -1)
			goto fail;
	}
	return buf;
fail:
	free(buf);
	return NULL;
}

void
control_stats_sample(struct control_sample *s)
{
	struct control_stat	*st;
	size_t			 i, slot;

	memset(s, 0, sizeof(*s));
	for (i = 0; i < sizeof(monitor_keys) / sizeof(monitor_keys[0]); i++) {
		if ((st = stats_find(monitor_keys[i], &slot)) == NULL)
			continue;
		s->up[i] = st->up;
		s->down[i] = st->down;
		s->value[i] = st->value;
	}
}

const char *
control_stats_monitor_header(void)
{
	return
	    "--- clients ---  -- envelopes --  ---- deliveries ----  "
	    "----- misc -----\n"
	    " curr  new gone   curr   in  out    ok tmpfail permfail  "
	    "expired removed bounce\n";
}

void
control_stats_monitor_line(const struct control_sample *prev,
    const struct control_sample *now, char *buf, size_t bufsz)
{
	uint64_t	 d[8];
	size_t		 i;

	for (i = 0; i < 8; i++)
		d[i] = now->up[i] - prev->up[i];
	snprintf(buf, bufsz,
	    "%5" PRId64 " %4" PRIu64 " %4" PRIu64 "  %5" PRId64 " %4" PRIu64
	    " %4" PRIu64 "  %4" PRIu64 " %7" PRIu64 " %8" PRIu64 "  %7" PRIu64
	    " %7" PRIu64 " %6" PRIu64 "\n",
	    now->value[0], d[0], now->down[0] - prev->down[0],
	    now->value[1], d[1], now->down[1] - prev->down[1],
	    d[2], d[3], d[4], d[5], d[6], d[7]);
}
