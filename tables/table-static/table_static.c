/*
 * table-static: a table held in memory, read from a table(5) file or
 * from the inline table ("{ a, b }") the daemon sends in HELLO.
 *
 * The file is read and checked before the handshake, so a broken file
 * is an error on stderr and exit status 1 at start-up; UPDATE reads it
 * again and keeps the old contents if the new ones are broken.  The
 * parsing and matching live in static_file.c and static_match.c.
 */
#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "smtpd-api.h"
#include "static_file.h"

static void	usage(void) __attribute__((__noreturn__));
static int	static_loaded(void);
static int	static_on_update(void);
static int	static_on_check(enum table_service, const char *);
static int	static_on_lookup(enum table_service, const char *, char *,
		    size_t);
static int	static_on_fetch(enum table_service, char *, size_t);

static const char		*table_path;	/* NULL: inline table */
static struct static_table	*table;
static int			 inline_broken;

int
main(int argc, char *argv[])
{
	char		 err[1024];
	uint64_t	 services;
	int		 ch;

	log_init(1, getprogname());
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

	if (argc == 1) {
		table_path = argv[0];
		if ((table = static_table_load_file(table_path, err,
		    sizeof(err))) == NULL) {
			log_warnx("%s", err);
			return 1;
		}
		services = static_table_services(table);
	} else {
		/*
		 * The inline table comes with HELLO, after READY has to
		 * name the services: offer all, and let the table refuse
		 * what its form cannot serve.
		 */
		services = K_ANY;
	}

	table_api_on_update(static_on_update);
	table_api_on_check(static_on_check);
	table_api_on_lookup(static_on_lookup);
	table_api_on_fetch(static_on_fetch);
	return table_api_dispatch(services);
}

static void
usage(void)
{
	fprintf(stderr, "usage: %s [-S socket] [file]\n", getprogname());
	exit(1);
}

/* The inline table is parsed on the first request, once HELLO is in. */
static int
static_loaded(void)
{
	char		 err[1024], label[256];
	const char	*config;

	if (table != NULL)
		return 0;
	if (inline_broken)
		return -1;
	config = table_api_get_config();
	snprintf(label, sizeof(label), "inline:%s", table_api_get_name());
	if ((table = static_table_load_text(config, strlen(config), label,
	    err, sizeof(err))) == NULL) {
		log_warnx("%s; every request will fail", err);
		inline_broken = 1;
		return -1;
	}
	log_debug("%s: %zu entries, a %s", label, table->count,
	    static_form_name(table->form));
	return 0;
}

static int
static_on_update(void)
{
	struct static_table	*fresh;
	char			 err[1024];

	if (table_path == NULL)
		return static_loaded() == -1 ? -1 : 1;
	if ((fresh = static_table_load_file(table_path, err,
	    sizeof(err))) == NULL) {
		log_warnx("%s; keeping the previous contents", err);
		return -1;
	}
	if (static_table_services(fresh) != static_table_services(table))
		log_warnx("%s: now a %s table serving other services than "
		    "announced; restart it to announce them", table_path,
		    static_form_name(fresh->form));
	static_table_free(table);
	table = fresh;
	log_info("%s: reloaded, %zu %s", table_path, table->count,
	    table->count == 1 ? "entry" : "entries");
	return 1;
}

static int
static_on_check(enum table_service service, const char *key)
{
	if (static_loaded() == -1)
		return -1;
	return static_table_check(table, service, key);
}

static int
static_on_lookup(enum table_service service, const char *key, char *dst,
    size_t dstsz)
{
	if (static_loaded() == -1)
		return -1;
	return static_table_lookup(table, service, key, dst, dstsz);
}

static int
static_on_fetch(enum table_service service, char *dst, size_t dstsz)
{
	if (static_loaded() == -1)
		return -1;
	return static_table_fetch(table, service, dst, dstsz);
}
