/*
 * helper_filter_slow: a filter for test_filter_chain that is late on
 * purpose, to exercise the daemon's deadlines.
 *
 *	helper_filter_slow [-b] [-d ms] [-n count] [-w file] hook
 *
 * hook is connect, helo, mail, rcpt, data, eom or dataline.  The first
 * count (default 1) times that hook runs, the decision is delayed by
 * ms (default 3000): with a timer, so that other sessions are served
 * meanwhile, or with -b by sleeping (a filter stuck in a loop).  A
 * dataline always sleeps (its callback is synchronous).  -w creates
 * file once the delay is over, so that a test can wait for it instead
 * of guessing how long to sleep.  Everything else is accepted and the
 * lines go through unchanged.
 */
#include <sys/types.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "smtpd-api.h"

static void	 usage(void) __attribute__((__noreturn__));
static int	 slow_now(void);
static void	 delay_over(void);
static void	 decide_later(uint64_t);
static void	 timer_due(uint64_t, void *);
static void	 on_connect(uint64_t, const struct filter_connect *, void *);
static void	 on_helo(uint64_t, const char *, void *);
static void	 on_mailaddr(uint64_t, const struct filter_mailaddr *, void *);
static void	 on_data(uint64_t, void *);
static void	 on_dataline(uint64_t, const char *, void *);
static void	 on_eom(uint64_t, const struct filter_eom *, void *);

static unsigned int	 delay_ms = 3000;
static int		 count = 1;
static int		 block;
static const char	*done_file;

static void
usage(void)
{
	fprintf(stderr, "usage: helper_filter_slow [-b] [-d ms] [-n count] "
	    "[-w file] hook\n");
	exit(1);
}

int
main(int argc, char *argv[])
{
	const char	*hook;
	int		 ch;

	filter_api_init("helper_filter_slow");
	while ((ch = getopt(argc, argv, "bd:n:w:")) != -1) {
		switch (ch) {
		case 'b':
			block = 1;
			break;
		case 'd':
			delay_ms = (unsigned int)strtoul(optarg, NULL, 10);
			break;
		case 'n':
			count = atoi(optarg);
			break;
		case 'w':
			done_file = optarg;
			break;
		default:
			usage();
		}
	}
	if (argc - optind != 1)
		usage();
	hook = argv[optind];
	if (strcmp(hook, "connect") == 0)
		filter_api_on_connect(on_connect, NULL);
	else if (strcmp(hook, "helo") == 0)
		filter_api_on_helo(on_helo, NULL);
	else if (strcmp(hook, "mail") == 0)
		filter_api_on_mail(on_mailaddr, NULL);
	else if (strcmp(hook, "rcpt") == 0)
		filter_api_on_rcpt(on_mailaddr, NULL);
	else if (strcmp(hook, "data") == 0)
		filter_api_on_data(on_data, NULL);
	else if (strcmp(hook, "eom") == 0)
		filter_api_on_eom(on_eom, NULL);
	else if (strcmp(hook, "dataline") == 0)
		filter_api_on_dataline(on_dataline, NULL);
	else
		usage();
	return filter_api_loop();
}

/* Is this occurrence of the hook one of the slow ones? */
static int
slow_now(void)
{
	if (count <= 0)
		return 0;
	count--;
	return 1;
}

static void
delay_over(void)
{
	int	 fd;

	if (done_file == NULL)
		return;
	if ((fd = open(done_file, O_WRONLY | O_CREAT, 0644)) == -1)
		log_warn("%s", done_file);
	else
		close(fd);
}

static void
decide_later(uint64_t id)
{
	struct timespec	 ts;

	if (!slow_now()) {
		filter_api_accept(id);
		return;
	}
	if (!block) {
		if (filter_api_timer(id, delay_ms, timer_due, NULL) == -1)
			filter_api_accept(id);
		return;
	}
	ts.tv_sec = delay_ms / 1000;
	ts.tv_nsec = (long)(delay_ms % 1000) * 1000000;
	while (nanosleep(&ts, &ts) == -1)
		;
	delay_over();
	filter_api_accept(id);
}

static void
timer_due(uint64_t id, void *arg)
{
	delay_over();
	/* Late: the daemon has given up and ignores it. */
	filter_api_accept(id);
}

static void
on_connect(uint64_t id, const struct filter_connect *c, void *arg)
{
	decide_later(id);
}

static void
on_helo(uint64_t id, const char *helo, void *arg)
{
	decide_later(id);
}

static void
on_mailaddr(uint64_t id, const struct filter_mailaddr *m, void *arg)
{
	decide_later(id);
}

static void
on_data(uint64_t id, void *arg)
{
	decide_later(id);
}

static void
on_eom(uint64_t id, const struct filter_eom *e, void *arg)
{
	decide_later(id);
}

static void
on_dataline(uint64_t id, const char *line, void *arg)
{
	struct timespec	 ts;

	if (slow_now()) {
		ts.tv_sec = delay_ms / 1000;
		ts.tv_nsec = (long)(delay_ms % 1000) * 1000000;
		while (nanosleep(&ts, &ts) == -1)
			;
		delay_over();
	}
	filter_api_writeln(id, line);
}
