/*
 * queue-fs: the default queue backend, one directory per message and
 * one file per envelope under a spool directory a human can inspect,
 * back up and move.  See queue-fs(8) for the layout and guarantees.
 *
 * This file is main and the table of callbacks; the work is in
 * queue_fs_spool.c (layout, recovery), queue_fs_message.c,
 * queue_fs_envelope.c, queue_fs_walk.c, queue_fs_commit.c (group
 * commit) and queue_fs_purge.c (removing deleted messages when idle).  Nothing here exits at run time: a failure is a logged
 * temporary failure the daemon retries.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "smtpd-api.h"
#include "queue_fs.h"

#ifndef PATH_SPOOL
#define PATH_SPOOL	"/var/spool/smtpd"
#endif

static int	queue_fs_init(const char *);
static void	queue_fs_report(struct queue_api_stats *);
static void	usage(void) __attribute__((__noreturn__));

/* From the command line; else HELLO's configuration string. */
static const char	*spool_arg;

int
main(int argc, char *argv[])
{
	int	 ch;

	log_init(1, "queue-fs");
	while ((ch = getopt(argc, argv, "S:")) != -1) {
		switch (ch) {
		case 'S':
			helper_set_socket(optarg);
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc > 1)
		usage();
	if (argc == 1)
		spool_arg = argv[0];

	queue_api_on_init(queue_fs_init);
	queue_api_on_message_create(queue_fs_message_create);
	queue_api_on_message_commit(queue_fs_message_commit);
	queue_api_on_message_delete(queue_fs_message_delete);
	queue_api_on_message_fd_r(queue_fs_message_fd_r);
	queue_api_on_message_corrupt(queue_fs_message_corrupt);
	queue_api_on_envelope_create(queue_fs_envelope_create);
	queue_api_on_envelope_update(queue_fs_envelope_update);
	queue_api_on_envelope_load(queue_fs_envelope_load);
	queue_api_on_envelope_delete(queue_fs_envelope_delete);
	queue_api_on_walk(queue_fs_walk);
	queue_api_on_stats(queue_fs_report);
	return queue_api_dispatch();
}

static int
queue_fs_init(const char *config)
{
	const char	*spool = spool_arg;

	if (spool == NULL)
		spool = (config != NULL && *config != '\0') ? config :
		    PATH_SPOOL;
	if (queue_fs_spool_open(spool) == -1 || queue_fs_purge_init() == -1)
		return -1;
	log_debug("queue-fs: serving spool %s", spool);
	return 0;
}

static void
queue_fs_report(struct queue_api_stats *s)
{
	const struct queue_fs_stats	*st = &queue_fs_stats;

	queue_api_stats_add(s, "message.create", st->messages_created);
	queue_api_stats_add(s, "message.commit", st->messages_committed);
	queue_api_stats_add(s, "message.delete", st->messages_deleted);
	queue_api_stats_add(s, "message.corrupt", st->messages_corrupt);
	queue_api_stats_add(s, "envelope.create", st->envelopes_created);
	queue_api_stats_add(s, "envelope.update", st->envelopes_updated);
	queue_api_stats_add(s, "envelope.delete", st->envelopes_deleted);
	queue_api_stats_add(s, "commit.rounds", st->commit_rounds);
	queue_api_stats_add(s, "syncs", st->syncs);
	queue_api_stats_add(s, "tempfail", st->temporary_failures);
	queue_api_stats_add(s, "purge.backlog", st->purge_backlog);
	queue_api_stats_add(s, "purge.removed", st->purge_removed);
}

static void
usage(void)
{
	fprintf(stderr, "usage: queue-fs [-S socket] [spooldir]\n");
	exit(1);
}
