/*
 * filter-trace: log every event of every session to stderr, and accept
 * everything.
 *
 * This is the filter to read first: it registers every hook of the
 * filter API, shows what each callback receives, and answers every
 * query.  Message lines go through unchanged (pass -n to not register
 * the dataline hook at all, which is cheaper: the daemon then passes
 * the lines through itself), with -H a header line added on top of
 * each message, which shows how a filter adds lines and keeps state
 * for one transaction.
 */
#include <sys/types.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "smtpd-api.h"

/* What filter-trace remembers of the message being received. */
struct message {
	int	 stamped;	/* the -H header was written */
};

static void	 usage(void) __attribute__((__noreturn__));
static void	 on_connect(uint64_t, const struct filter_connect *, void *);
static void	 on_helo(uint64_t, const char *, void *);
static void	 on_mail(uint64_t, const struct filter_mailaddr *, void *);
static void	 on_rcpt(uint64_t, const struct filter_mailaddr *, void *);
static void	 on_data(uint64_t, void *);
static void	 on_dataline(uint64_t, const char *, void *);
static void	 on_eom(uint64_t, const struct filter_eom *, void *);
static void	 on_reset(uint64_t, void *);
static void	 on_disconnect(uint64_t, void *);
static void	 on_tx_begin(uint64_t, uint32_t, void *);
static void	 on_tx_commit(uint64_t, uint32_t, void *);
static void	 on_tx_rollback(uint64_t, uint32_t, void *);
static void	*message_new(uint64_t);
static void	 message_free(uint64_t, void *);

static const char	*stamp;		/* -H */

static void
usage(void)
{
	fprintf(stderr, "usage: filter-trace [-n] [-H header] [-S socket]\n");
	exit(1);
}

int
main(int argc, char *argv[])
{
	int	 ch, lines = 1;

	filter_api_init("filter-trace");
	while ((ch = getopt(argc, argv, "H:nS:")) != -1) {
		switch (ch) {
		case 'H':
			if (strlen(optarg) > FILTER_LINE_MAX)
				usage();
			stamp = optarg;
			break;
		case 'n':
			lines = 0;
			break;
		case 'S':
			helper_set_socket(optarg);
			break;
		default:
			usage();
		}
	}
	if (optind != argc || (stamp != NULL && !lines))
		usage();

	filter_api_on_connect(on_connect, NULL);
	filter_api_on_helo(on_helo, NULL);
	filter_api_on_mail(on_mail, NULL);
	filter_api_on_rcpt(on_rcpt, NULL);
	filter_api_on_data(on_data, NULL);
	if (lines)
		filter_api_on_dataline(on_dataline, NULL);
	filter_api_on_eom(on_eom, NULL);
	filter_api_on_reset(on_reset, NULL);
	filter_api_on_disconnect(on_disconnect, NULL);
	filter_api_on_tx_begin(on_tx_begin, NULL);
	filter_api_on_tx_commit(on_tx_commit, NULL);
	filter_api_on_tx_rollback(on_tx_rollback, NULL);
	/* Allocated at the first filter_api_transaction() of a message,
	 * freed by the library when the transaction ends. */
	filter_api_transaction_allocator(message_new);
	filter_api_transaction_destructor(message_free);
	return filter_api_loop();
}

/* Queries: log, then decide.  Every query needs exactly one decision. */

static void
on_connect(uint64_t id, const struct filter_connect *c, void *arg)
{
	log_info("session %016" PRIx64 ": connect from %s (rdns \"%s\", "
	    "fcrdns %s) on %s", id, c->remote_addr, c->rdns,
	    c->fcrdns == 1 ? "yes" : c->fcrdns == 0 ? "no" : "unknown",
	    c->local_addr);
	filter_api_accept(id);
}

static void
on_helo(uint64_t id, const char *helo, void *arg)
{
	log_info("session %016" PRIx64 ": helo \"%s\"", id, helo);
	filter_api_accept(id);
}

static void
on_mail(uint64_t id, const struct filter_mailaddr *m, void *arg)
{
	log_info("session %016" PRIx64 ": mail from <%s> (user \"%s\", "
	    "domain \"%s\")", id, m->address, m->user, m->domain);
	filter_api_accept(id);
}

static void
on_rcpt(uint64_t id, const struct filter_mailaddr *m, void *arg)
{
	log_info("session %016" PRIx64 ": rcpt to <%s> (user \"%s\", "
	    "domain \"%s\")", id, m->address, m->user, m->domain);
	filter_api_accept(id);
}

static void
on_data(uint64_t id, void *arg)
{
	log_info("session %016" PRIx64 ": data", id);
	filter_api_accept(id);
}

/*
 * Data lines need no decision, but what is not written is dropped: the
 * library counts the lines written and the daemon checks the count.
 */
static void
on_dataline(uint64_t id, const char *line, void *arg)
{
	struct message	*m = filter_api_transaction(id);

	log_info("session %016" PRIx64 ": dataline \"%s\"", id, line);
	if (stamp != NULL && !m->stamped) {
		filter_api_writeln(id, stamp);
		m->stamped = 1;
	}
	filter_api_writeln(id, line);
}

static void
on_eom(uint64_t id, const struct filter_eom *eom, void *arg)
{
	log_info("session %016" PRIx64 ": eom, %u lines, %" PRIu64 " bytes",
	    id, eom->lines, eom->bytes);
	filter_api_accept(id);
}

/* Events: log only, no decision. */

static void
on_reset(uint64_t id, void *arg)
{
	log_info("session %016" PRIx64 ": reset", id);
}

static void
on_disconnect(uint64_t id, void *arg)
{
	log_info("session %016" PRIx64 ": disconnect", id);
}

static void
on_tx_begin(uint64_t id, uint32_t msgid, void *arg)
{
	log_info("session %016" PRIx64 ": tx-begin %08x", id, msgid);
}

static void
on_tx_commit(uint64_t id, uint32_t msgid, void *arg)
{
	log_info("session %016" PRIx64 ": tx-commit %08x", id, msgid);
}

static void
on_tx_rollback(uint64_t id, uint32_t msgid, void *arg)
{
	log_info("session %016" PRIx64 ": tx-rollback %08x", id, msgid);
}

static void *
message_new(uint64_t id)
{
	struct message	*m;

	if ((m = calloc(1, sizeof(*m))) == NULL)
		fatal("calloc");
	return m;
}

static void
message_free(uint64_t id, void *m)
{
	free(m);
}
