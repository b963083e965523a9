/*
 * table-getpwnam: the system's users as a userinfo table, the default
 * userbase of local delivery.
 *
 * lookup userinfo USER answers "uid:gid:homedir" from getpwnam_r(3);
 * check userinfo USER tells whether the user exists.  A failure of the
 * password database itself (an unreachable NSS server, no descriptor
 * left) is a temporary failure, never "no such user": the seeds tell
 * how a getpwnam() error once bounced mail that should have waited.
 */
#include <sys/types.h>

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "smtpd-api.h"

/* getpwnam_r wants room for the strings of the entry; grow up to this. */
#define PW_BUFFER_MAX	(1024 * 1024)

static void	usage(void) __attribute__((__noreturn__));
static int	getpwnam_user(const char *, char *, size_t);
static int	getpwnam_on_check(enum table_service, const char *);
static int	getpwnam_on_lookup(enum table_service, const char *, char *,
		    size_t);

int
main(int argc, char *argv[])
{
	int	 ch;

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
	if (argc != optind)
		usage();

	table_api_on_check(getpwnam_on_check);
	table_api_on_lookup(getpwnam_on_lookup);
	return table_api_dispatch(K_USERINFO);
}

static void
usage(void)
{
	fprintf(stderr, "usage: %s [-S socket]\n", getprogname());
	exit(1);
}

/* 1 with "uid:gid:homedir" in dst, 0 no such user, -1 failure. */
static int
getpwnam_user(const char *name, char *dst, size_t dstsz)
{
	struct passwd	 pw, *result;
	char		*buf = NULL, *bigger;
	size_t		 bufsz = 4096;
	int		 r, ret = -1;

	for (;;) {
		if ((bigger = realloc(buf, bufsz)) == NULL) {
			log_warn("getpwnam %s", name);
			goto done;
		}
		buf = bigger;
		r = getpwnam_r(name, &pw, buf, bufsz, &result);
		if (r != ERANGE)
			break;
		if (bufsz >= PW_BUFFER_MAX) {
			log_warnx("getpwnam %s: entry larger than %d bytes",
			    name, PW_BUFFER_MAX);
			goto done;
		}
		bufsz *= 2;
	}
	if (result == NULL) {
		/* Some systems say "not found" with an error number. */
		if (r == 0 || r == ENOENT || r == ESRCH) {
			ret = 0;
			goto done;
		}
		errno = r;
		log_warn("getpwnam %s", name);
		goto done;
	}
	if (snprintf(dst, dstsz, "%lu:%lu:%s", (unsigned long)pw.pw_uid,
	    (unsigned long)pw.pw_gid, pw.pw_dir) >= (int)dstsz) {
		log_warnx("getpwnam %s: home directory too long", name);
		goto done;
	}
	ret = 1;
done:
	free(buf);
	return ret;
}

static int
getpwnam_on_check(enum table_service service, const char *key)
{
	char	 value[TABLE_VALUE_MAX];

	return getpwnam_user(key, value, sizeof(value));
}

static int
getpwnam_on_lookup(enum table_service service, const char *key, char *dst,
    size_t dstsz)
{
	return getpwnam_user(key, dst, dstsz);
}
