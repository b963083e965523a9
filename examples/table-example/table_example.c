/*
 * table-example: the smallest useful table backend.  It serves the
 * alias service from a few entries built into the program.  Copy this
 * folder to start a table of your own: replace the entries with your
 * database, keep the callbacks' 1 / 0 / -1 convention (table_api(3)).
 *
 *	make examples/table-example/table-example
 *	smtpd-probe table examples/table-example/table-example \
 *	    lookup alias abuse
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "smtpd-api.h"

static int	example_check(enum table_service, const char *);
static int	example_lookup(enum table_service, const char *, char *,
		    size_t);

static const struct {
	const char	*key;
	const char	*value;
} entries[] = {
	{ "abuse",	"root" },
	{ "postmaster",	"root" },
	{ "root",	"admin@example.org" },
};

int
main(int argc, char *argv[])
{
	int	 ch;

	while ((ch = getopt(argc, argv, "S:")) != -1) {
		switch (ch) {
		case 'S':
			helper_set_socket(optarg);
			break;
		default:
			fprintf(stderr, "usage: table-example [-S socket]\n");
			return 1;
		}
	}
	table_api_on_check(example_check);
	table_api_on_lookup(example_lookup);
	return table_api_dispatch(K_ALIAS);
}

/* Keys arrive lowercased; only the announced service (alias) comes. */
static int
example_lookup(enum table_service service, const char *key, char *dst,
    size_t dstsz)
{
	size_t	 i;

	for (i = 0; i < sizeof(entries) / sizeof(entries[0]); i++) {
		if (strcmp(key, entries[i].key) != 0)
			continue;
		if (strlcpy(dst, entries[i].value, dstsz) >= dstsz)
			return -1;	/* cannot answer: temporary failure */
		return 1;		/* found */
	}
	return 0;			/* not found */
}

static int
example_check(enum table_service service, const char *key)
{
	char	 value[TABLE_VALUE_MAX];

	return example_lookup(service, key, value, sizeof(value));
}
