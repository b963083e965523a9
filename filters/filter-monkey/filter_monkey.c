/*
 * filter-monkey: chaos for the paths that are rarely taken.  Every
 * query is answered late, after a random delay, and some fail
 * temporarily (451) or close the session (421); some messages are held
 * whole and written out only at the end of data.  It never answers a
 * 5xx: a daemon running behind it must never refuse a mail for good
 * that it would take without it.  A seed makes a run reproducible.
 */
#include <sys/types.h>

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "smtpd-api.h"

enum monkey_verdict {
	MONKEY_ACCEPT,
	MONKEY_TEMPFAIL,
	MONKEY_DISCONNECT,
};

/* A message held until its end of data. */
struct held {
	int		 holding;
	char		**lines;
	size_t		 count;
	size_t		 cap;
};

static void	 usage(void) __attribute__((__noreturn__));
static int	 percent_arg(const char *, char);
static void	 latency_arg(const char *);
static int	 chance(int);
static enum monkey_verdict roll(uint64_t, const char *);
static void	 schedule(uint64_t, void (*)(uint64_t, void *),
		    enum monkey_verdict);
static void	 later(uint64_t, const char *);
static void	 verdict_due(uint64_t, void *);
static void	 eom_due(uint64_t, void *);
static void	 on_connect(uint64_t, const struct filter_connect *, void *);
static void	 on_helo(uint64_t, const char *, void *);
static void	 on_mailaddr(uint64_t, const struct filter_mailaddr *, void *);
static void	 on_data(uint64_t, void *);
static void	 on_dataline(uint64_t, const char *, void *);
static void	 on_eom(uint64_t, const struct filter_eom *, void *);
static void	*held_new(uint64_t);
static void	 held_free(uint64_t, void *);

static int		 fail_pct = 10;		/* -f */
static int		 hold_pct = 20;		/* -H */
static unsigned int	 latency_min = 0;	/* -l */
static unsigned int	 latency_max = 50;

static void
usage(void)
{
	fprintf(stderr, "usage: filter-monkey [-n] [-f percent] "
	    "[-H percent] [-l min[-max]] [-S socket]\n"
	    "                     [-s seed]\n");
	exit(1);
}

int
main(int argc, char *argv[])
{
	const char	*errstr;
	unsigned int	 seed;
	int		 ch, lines = 1;

	filter_api_init("filter-monkey");
	seed = (unsigned int)time(NULL) ^ (unsigned int)getpid();
	while ((ch = getopt(argc, argv, "f:H:l:nS:s:")) != -1) {
		switch (ch) {
		case 'f':
			fail_pct = percent_arg(optarg, ch);
			break;
		case 'H':
			hold_pct = percent_arg(optarg, ch);
			break;
		case 'l':
			latency_arg(optarg);
			break;
		case 'n':
			lines = 0;
			break;
		case 'S':
			helper_set_socket(optarg);
			break;
		case 's':
			seed = strtonum(optarg, 0, UINT_MAX, &errstr);
			if (errstr != NULL)
				fatalx("-s %s: %s", optarg, errstr);
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	/* Logged so that a run that found a bug can be replayed. */
	log_info("seed %u, %d%% failures, %d%% held messages, latency "
	    "%u-%u ms", seed, fail_pct, lines ? hold_pct : 0, latency_min,
	    latency_max);
	srandom(seed);

	filter_api_on_connect(on_connect, NULL);
	filter_api_on_helo(on_helo, NULL);
	filter_api_on_mail(on_mailaddr, "mail");
	filter_api_on_rcpt(on_mailaddr, "rcpt");
	filter_api_on_data(on_data, NULL);
	if (lines) {
		filter_api_on_dataline(on_dataline, NULL);
		filter_api_transaction_allocator(held_new);
		filter_api_transaction_destructor(held_free);
	}
	filter_api_on_eom(on_eom, NULL);
	return filter_api_loop();
}

static int
percent_arg(const char *text, char opt)
{
	const char	*errstr;
	int		 pct;

	pct = strtonum(text, 0, 100, &errstr);
	if (errstr != NULL)
		fatalx("-%c %s: a percentage is 0 to 100", opt, text);
	return pct;
}

static void
latency_arg(const char *text)
{
	char		 buf[64], *dash;
	const char	*errstr;

	strlcpy(buf, text, sizeof(buf));
	if ((dash = strchr(buf, '-')) != NULL)
		*dash++ = '\0';
	latency_min = strtonum(buf, 0, 600000, &errstr);
	if (errstr == NULL)
		latency_max = dash != NULL ? strtonum(dash, latency_min,
		    600000, &errstr) : latency_min;
	if (errstr != NULL)
		fatalx("-l %s: want MIN or MIN-MAX milliseconds, MIN <= MAX",
		    text);
}

static int
chance(int pct)
{
	return random() % 100 < pct;
}

/* A failure is a 451, or one time in four a 421 and the end. */
static enum monkey_verdict
roll(uint64_t id, const char *what)
{
	enum monkey_verdict	 v;

	if (!chance(fail_pct))
		return MONKEY_ACCEPT;
	v = random() % 4 == 0 ? MONKEY_DISCONNECT : MONKEY_TEMPFAIL;
	log_info("session %016" PRIx64 ": %s: monkey %s", id, what,
	    v == MONKEY_DISCONNECT ? "disconnects" : "fails");
	return v;
}

/* Decided now, answered after the latency: the verdict is the arg. */
static void
schedule(uint64_t id, void (*due)(uint64_t, void *), enum monkey_verdict v)
{
	unsigned int	 ms;

	ms = latency_min + random() % (latency_max - latency_min + 1);
	if (filter_api_timer(id, ms, due, (void *)(uintptr_t)v) == -1)
		filter_api_tempfail(id, 0, NULL, NULL);
}

static void
later(uint64_t id, const char *what)
{
	schedule(id, verdict_due, roll(id, what));
}

static void
verdict_due(uint64_t id, void *arg)
{
	switch ((enum monkey_verdict)(uintptr_t)arg) {
	case MONKEY_ACCEPT:
		filter_api_accept(id);
		break;
	case MONKEY_TEMPFAIL:
		filter_api_tempfail(id, 451, "4.7.1", "Monkey says try again "
		    "later");
		break;
	case MONKEY_DISCONNECT:
		filter_api_disconnect(id, 421, "4.7.0", "Monkey closes the "
		    "connection");
		break;
	}
}

static void
on_connect(uint64_t id, const struct filter_connect *c, void *arg)
{
	later(id, "connect");
}

static void
on_helo(uint64_t id, const char *helo, void *arg)
{
	later(id, "helo");
}

static void
on_mailaddr(uint64_t id, const struct filter_mailaddr *addr, void *what)
{
	later(id, what);
}

static void
on_data(uint64_t id, void *arg)
{
	later(id, "data");
}

/* Lines go out at once, or are held when the message was picked. */
static void
on_dataline(uint64_t id, const char *line, void *arg)
{
	struct held	*h = filter_api_transaction(id);
	char		**grown;

	if (h == NULL || !h->holding) {
		filter_api_writeln(id, line);
		return;
	}
	if (h->count == h->cap) {
		h->cap = h->cap ? h->cap * 2 : 256;
		if ((grown = reallocarray(h->lines, h->cap,
		    sizeof(*h->lines))) == NULL)
			fatal("reallocarray");
		h->lines = grown;
	}
	if ((h->lines[h->count++] = strdup(line)) == NULL)
		fatal("strdup");
}

static void
on_eom(uint64_t id, const struct filter_eom *eom, void *arg)
{
	enum monkey_verdict	 v = roll(id, "eom");

	schedule(id, v == MONKEY_ACCEPT ? eom_due : verdict_due, v);
}

/* The held lines go out now, just before the decision. */
static void
eom_due(uint64_t id, void *arg)
{
	struct held	*h = filter_api_transaction(id);
	size_t		 i;

	if (h != NULL && h->holding)
		for (i = 0; i < h->count; i++)
			filter_api_writeln(id, h->lines[i]);
	filter_api_accept(id);
}

static void *
held_new(uint64_t id)
{
	struct held	*h;

	if ((h = calloc(1, sizeof(*h))) == NULL)
		fatal("calloc");
	h->holding = chance(hold_pct);
	return h;
}

static void
held_free(uint64_t id, void *arg)
{
	struct held	*h = arg;
	size_t		 i;

	for (i = 0; i < h->count; i++)
		free(h->lines[i]);
	free(h->lines);
	free(h);
}
