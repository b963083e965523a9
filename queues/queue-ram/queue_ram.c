/*
 * queue-ram: a queue backend in memory, for tests and throwaway setups.
 *
 * Same operations as queue-fs, no durability: everything is lost when
 * the process ends.  Message bodies live in memfd_create(2) files (the
 * daemon writes to one descriptor, readers get their own read-only
 * one); the body is sealed against writes at commit.  Envelopes sit in
 * one tree ordered by evpid, which is the order WALK wants.
 */
#include <sys/types.h>
#include <sys/mman.h>
#include <sys/tree.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "smtpd-api.h"

struct ram_message {
	RB_ENTRY(ram_message)	 entry;
	uint32_t		 msgid;
	int			 fd;		/* the memfd */
	int			 committed;
	int			 corrupt;	/* quarantined: kept, unseen */
	size_t			 envelopes;
};

struct ram_envelope {
	RB_ENTRY(ram_envelope)	 entry;
	uint64_t		 evpid;
	struct ram_message	*message;
	char			*text;
	size_t			 len;
};

RB_HEAD(message_tree, ram_message);
RB_HEAD(envelope_tree, ram_envelope);

static int	message_cmp(struct ram_message *, struct ram_message *);
static int	envelope_cmp(struct ram_envelope *, struct ram_envelope *);
RB_PROTOTYPE(message_tree, ram_message, entry, message_cmp);
RB_PROTOTYPE(envelope_tree, ram_envelope, entry, envelope_cmp);

static int	ram_message_create(uint32_t *, int *);
static int	ram_message_commit(uint32_t);
static int	ram_message_delete(uint32_t);
static int	ram_message_fd_r(uint32_t, int *);
static int	ram_message_corrupt(uint32_t);
static int	ram_envelope_create(uint32_t, const void *, size_t, uint64_t *);
static int	ram_envelope_update(uint64_t, const void *, size_t);
static int	ram_envelope_load(uint64_t, void *, size_t, size_t *);
static int	ram_envelope_delete(uint64_t);
static int	ram_walk(uint64_t, struct queue_api_walk *);
static void	ram_stats(struct queue_api_stats *);
static struct ram_message *message_find(uint32_t);
static struct ram_envelope *envelope_find(uint64_t);
static void	message_free(struct ram_message *);
static void	envelope_free(struct ram_envelope *);
static void	usage(void) __attribute__((__noreturn__));

static struct message_tree	 messages = RB_INITIALIZER(&messages);
static struct envelope_tree	 envelopes = RB_INITIALIZER(&envelopes);
static uint64_t			 stat_messages, stat_envelopes;
static uint64_t			 stat_commits, stat_corrupt;

int
main(int argc, char *argv[])
{
	int	 ch;

	log_init(1, "queue-ram");
	while ((ch = getopt(argc, argv, "S:")) != -1) {
		switch (ch) {
		case 'S':
			helper_set_socket(optarg);
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();

	queue_api_on_message_create(ram_message_create);
	queue_api_on_message_commit(ram_message_commit);
	queue_api_on_message_delete(ram_message_delete);
	queue_api_on_message_fd_r(ram_message_fd_r);
	queue_api_on_message_corrupt(ram_message_corrupt);
	queue_api_on_envelope_create(ram_envelope_create);
	queue_api_on_envelope_update(ram_envelope_update);
	queue_api_on_envelope_load(ram_envelope_load);
	queue_api_on_envelope_delete(ram_envelope_delete);
	queue_api_on_walk(ram_walk);
	queue_api_on_stats(ram_stats);
	return queue_api_dispatch();
}

static int
ram_message_create(uint32_t *msgid, int *fd)
{
	struct ram_message	*m;
	char			 name[32];

	if ((m = calloc(1, sizeof(*m))) == NULL) {
		log_warn("create");
		return -1;
	}
	do
		m->msgid = queue_generate_msgid();
	while (message_find(m->msgid) != NULL);
	snprintf(name, sizeof(name), "queue-ram-%08x", m->msgid);
	if ((m->fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING)) ==
	    -1) {
		log_warn("memfd_create");
		free(m);
		return -1;
	}
	/* The daemon gets its own descriptor: ours stays for readers. */
	if ((*fd = dup(m->fd)) == -1) {
		log_warn("dup");
		close(m->fd);
		free(m);
		return -1;
	}
	RB_INSERT(message_tree, &messages, m);
	*msgid = m->msgid;
	stat_messages++;
	return 1;
}

static int
ram_message_commit(uint32_t msgid)
{
	struct ram_message	*m;

	if ((m = message_find(msgid)) == NULL)
		return 0;
	if (m->committed)
		return 1;
	/* The body is final: a late write by mistake fails loudly. */
	if (fcntl(m->fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW |
	    F_SEAL_SHRINK | F_SEAL_SEAL) == -1)
		log_debug("message %08x: cannot seal the body: %s", msgid,
		    strerror(errno));
	m->committed = 1;
	stat_commits++;
	return 1;
}

static int
ram_message_delete(uint32_t msgid)
{
	struct ram_message	*m;

	if ((m = message_find(msgid)) == NULL)
		return 0;
	message_free(m);
	return 1;
}

static int
ram_message_fd_r(uint32_t msgid, int *fd)
{
	struct ram_message	*m;
	char			 path[64];

	if ((m = message_find(msgid)) == NULL || !m->committed)
		return 0;
	/* A fresh open: read-only, and an offset of its own. */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", m->fd);
	if ((*fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		log_warn("message %08x: %s", msgid, path);
		return -1;
	}
	return 1;
}

static int
ram_message_corrupt(uint32_t msgid)
{
	struct ram_message	*m;
	struct ram_envelope	*e, *next;

	if ((m = message_find(msgid)) == NULL)
		return 0;
	RB_FOREACH_SAFE(e, envelope_tree, &envelopes, next)
		if (e->message == m)
			envelope_free(e);
	m->corrupt = 1;
	stat_corrupt++;
	log_info("message %08x quarantined", msgid);
	return 1;
}

static int
ram_envelope_create(uint32_t msgid, const void *text, size_t len,
    uint64_t *evpid)
{
	struct ram_message	*m;
	struct ram_envelope	*e;

	if ((m = message_find(msgid)) == NULL)
		return -1;	/* the daemon knows it: not ours to lose */
	if ((e = calloc(1, sizeof(*e))) == NULL ||
	    (e->text = malloc(len)) == NULL) {
		log_warn("envelope_create");
		free(e);
		return -1;
	}
	do
		e->evpid = queue_generate_evpid(msgid);
	while (envelope_find(e->evpid) != NULL);
	memcpy(e->text, text, len);
	e->len = len;
	e->message = m;
	m->envelopes++;
	RB_INSERT(envelope_tree, &envelopes, e);
	*evpid = e->evpid;
	stat_envelopes++;
	return 1;
}

static int
ram_envelope_update(uint64_t evpid, const void *text, size_t len)
{
	struct ram_envelope	*e;
	char			*copy;

	if ((e = envelope_find(evpid)) == NULL)
		return 0;
	if ((copy = malloc(len)) == NULL) {
		log_warn("envelope_update");
		return -1;
	}
	memcpy(copy, text, len);
	free(e->text);
	e->text = copy;
	e->len = len;
	return 1;
}

static int
ram_envelope_load(uint64_t evpid, void *buf, size_t bufsz, size_t *len)
{
	struct ram_envelope	*e;

	if ((e = envelope_find(evpid)) == NULL || !e->message->committed)
		return 0;
	if (e->len > bufsz)
		return -1;
	memcpy(buf, e->text, e->len);
	*len = e->len;
	return 1;
}

static int
ram_envelope_delete(uint64_t evpid)
{
	struct ram_envelope	*e;
	struct ram_message	*m;

	if ((e = envelope_find(evpid)) == NULL)
		return 0;
	m = e->message;
	envelope_free(e);
	if (m->committed && m->envelopes == 0)
		message_free(m);
	return 1;
}

static int
ram_walk(uint64_t cursor, struct queue_api_walk *w)
{
	struct ram_envelope	 key, *e;

	key.evpid = cursor + 1;
	for (e = RB_NFIND(envelope_tree, &envelopes, &key); e != NULL;
	    e = RB_NEXT(envelope_tree, &envelopes, e)) {
		if (e->evpid <= cursor || !e->message->committed)
			continue;
		if (queue_api_walk_add(w, e->evpid, e->text, e->len) == -1)
			return 0;
	}
	return 1;
}

static void
ram_stats(struct queue_api_stats *s)
{
	queue_api_stats_add(s, "message.create", stat_messages);
	queue_api_stats_add(s, "message.commit", stat_commits);
	queue_api_stats_add(s, "message.corrupt", stat_corrupt);
	queue_api_stats_add(s, "envelope.create", stat_envelopes);
}

/* Quarantined messages are found by nothing but their msgid's uniqueness. */
static struct ram_message *
message_find(uint32_t msgid)
{
	struct ram_message	 key, *m;

	key.msgid = msgid;
	m = RB_FIND(message_tree, &messages, &key);
	return (m != NULL && !m->corrupt) ? m : NULL;
}

static struct ram_envelope *
envelope_find(uint64_t evpid)
{
	struct ram_envelope	 key;

	key.evpid = evpid;
	return RB_FIND(envelope_tree, &envelopes, &key);
}

static void
message_free(struct ram_message *m)
{
	struct ram_envelope	*e, *next;

	if (m->envelopes > 0)
		RB_FOREACH_SAFE(e, envelope_tree, &envelopes, next)
			if (e->message == m)
				envelope_free(e);
	RB_REMOVE(message_tree, &messages, m);
	close(m->fd);
	free(m);
}

static void
envelope_free(struct ram_envelope *e)
{
	RB_REMOVE(envelope_tree, &envelopes, e);
	e->message->envelopes--;
	free(e->text);
	free(e);
}

static int
message_cmp(struct ram_message *a, struct ram_message *b)
{
	return a->msgid < b->msgid ? -1 : a->msgid > b->msgid;
}

static int
envelope_cmp(struct ram_envelope *a, struct ram_envelope *b)
{
	return a->evpid < b->evpid ? -1 : a->evpid > b->evpid;
}

RB_GENERATE(message_tree, ram_message, entry, message_cmp)
RB_GENERATE(envelope_tree, ram_envelope, entry, envelope_cmp)

static void
usage(void)
{
	fprintf(stderr, "usage: queue-ram [-S socket]\n");
	exit(1);
}
