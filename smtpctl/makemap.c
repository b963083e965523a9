/*
 * makemap.c: check a table(5) file, optionally write a checked copy.
 *
 * Other MTAs compile such files into a database; our static tables are
 * read as text by table-static, which also rereads them on smtpctl
 * update table.  So makemap only checks, with table-static's own
 * parser (the same errors the daemon would give at start-up) and, for
 * aliases, with the daemon's aliases(5) parser.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "smtpd-api.h"
#include "aliases.h"
#include "static_file.h"
#include "makemap.h"

static int	 read_input(const char *, char **, size_t *, FILE *);
static int	 check_table(const char *, struct static_table *,
		    enum makemap_type, FILE *);
static int	 write_copy(const char *, const char *, size_t);
static void	 dump_table(const struct static_table *);
static void	 makemap_usage(void) __attribute__((noreturn));

static void
makemap_usage(void)
{
	fprintf(stderr, "usage: makemap [-U] [-d dbtype] [-o file] "
	    "[-t aliases|set] file\n");
	exit(1);
}

/* The whole input: path, or stdin for "-". */
static int
read_input(const char *path, char **text, size_t *len, FILE *errors)
{
	char	*buf = NULL, *p;
	size_t	 cap = 0;
	ssize_t	 n;
	int	 fd;

	*len = 0;
	if (strcmp(path, "-") == 0)
		fd = STDIN_FILENO;
	else if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		fprintf(errors, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	for (;;) {
		if (*len == cap) {
			if (cap >= STATIC_FILE_MAX) {
				fprintf(errors, "%s: larger than %d bytes\n",
				    path, STATIC_FILE_MAX);
				goto fail;
			}
			cap = cap ? cap * 2 : 64 * 1024;
			if ((p = realloc(buf, cap)) == NULL) {
				fprintf(errors, "%s: %s\n", path,
				    strerror(errno));
				goto fail;
			}
			buf = p;
		}
		if ((n = read(fd, buf + *len, cap - *len)) == -1) {
			if (errno == EINTR)
				continue;
			fprintf(errors, "%s: %s\n", path, strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		*len += n;
	}
	if (fd != STDIN_FILENO)
		close(fd);
	*text = buf != NULL ? buf : strdup("");
	return *text != NULL ? 0 : -1;
fail:
	if (fd != STDIN_FILENO)
		close(fd);
	free(buf);
	return -1;
}

/* What the table must look like for its use; every error printed. */
static int
check_table(const char *label, struct static_table *t,
    enum makemap_type type, FILE *errors)
{
	const struct static_entry	*e;
	char				 err[512];
	size_t				 i;
	int				 bad = 0;

	if (t->form == STATIC_EMPTY)
		return 0;
	if (type == MAKEMAP_SET && t->form != STATIC_LIST) {
		e = &t->entries[t->order[0]];
		fprintf(errors, "%s:%d: a set is a list of values, but this "
		    "line holds a key and a value\n", label, e->line);
		return -1;
	}
	if (type != MAKEMAP_ALIASES)
		return 0;
	if (t->form != STATIC_MAPPING) {
		e = &t->entries[t->order[0]];
		fprintf(errors, "%s:%d: an aliases table maps names to "
		    "targets, but this line holds a name alone\n", label,
		    e->line);
		return -1;
	}
	for (i = 0; i < t->count; i++) {
		e = &t->entries[t->order[i]];
		if (alias_parse_list(e->value, NULL, NULL, err,
		    sizeof(err)) == ALIAS_PARSE_ERROR) {
			fprintf(errors, "%s:%d: %s: %s\n", label, e->line,
			    e->raw, err);
			bad = 1;
		}
	}
	return bad ? -1 : 0;
}

int
makemap_check(const char *path, enum makemap_type type, FILE *errors)
{
	struct static_table	*t;
	char			*text, err[1024];
	size_t			 len;
	int			 r;

	if (read_input(path, &text, &len, errors) == -1)
		return -1;
	t = static_table_load_text(text, len,
	    strcmp(path, "-") == 0 ? "<stdin>" : path, err, sizeof(err));
	free(text);
	if (t == NULL) {
		fprintf(errors, "%s\n", err);
		return -1;
	}
	r = check_table(strcmp(path, "-") == 0 ? "<stdin>" : path, t, type,
	    errors);
	static_table_free(t);
	return r;
}

/* out.tmp, synced, then renamed: a reader sees the old or the new. */
static int
write_copy(const char *out, const char *text, size_t len)
{
	char	 tmp[4096];
	size_t	 off = 0;
	ssize_t	 n;
	int	 fd;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", out) >= sizeof(tmp)) {
		fprintf(stderr, "makemap: %s: name too long\n", out);
		return -1;
	}
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) ==
	    -1) {
		fprintf(stderr, "makemap: %s: %s\n", tmp, strerror(errno));
		return -1;
	}
	while (off < len) {
		if ((n = write(fd, text + off, len - off)) == -1) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		off += n;
	}
	if (fsync(fd) == -1 || close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	if (rename(tmp, out) == -1) {
		fprintf(stderr, "makemap: %s: %s\n", out, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
fail:
	fprintf(stderr, "makemap: %s: %s\n", tmp, strerror(errno));
	if (fd != -1)
		close(fd);
	unlink(tmp);
	return -1;
}

/* -U: the entries as table-static sees them, in file order. */
static void
dump_table(const struct static_table *t)
{
	const struct static_entry	*e;
	size_t				 i;

	for (i = 0; i < t->count; i++) {
		e = &t->entries[t->order[i]];
		if (e->value != NULL)
			printf("%s %s\n", e->key, e->value);
		else
			printf("%s\n", e->raw);
	}
}

int
makemap_main(int argc, char *argv[])
{
	struct static_table	*t;
	enum makemap_type	 type = MAKEMAP_ANY;
	const char		*out = NULL, *label;
	char			*text, err[1024];
	size_t			 len;
	int			 ch, dump = 0, r;

	while ((ch = getopt(argc, argv, "d:ho:t:U")) != -1) {
		switch (ch) {
		case 'd':
			/* the database types of other makemaps: no effect */
			if (strcmp(optarg, "hash") != 0 &&
			    strcmp(optarg, "btree") != 0 &&
			    strcmp(optarg, "dbm") != 0) {
				fprintf(stderr, "makemap: unknown database "
				    "type: %s\n", optarg);
				return 1;
			}
			break;
		case 'o':
			out = optarg;
			break;
		case 't':
			if (strcmp(optarg, "aliases") == 0)
				type = MAKEMAP_ALIASES;
			else if (strcmp(optarg, "set") == 0)
				type = MAKEMAP_SET;
			else {
				fprintf(stderr, "makemap: unknown table type: "
				    "%s (aliases or set)\n", optarg);
				return 1;
			}
			break;
		case 'U':
			dump = 1;
			break;
		default:
			makemap_usage();
		}
	}
	if (optind + 1 != argc)
		makemap_usage();
	label = strcmp(argv[optind], "-") == 0 ? "<stdin>" : argv[optind];
	if (read_input(argv[optind], &text, &len, stderr) == -1)
		return 1;
	if ((t = static_table_load_text(text, len, label, err,
	    sizeof(err))) == NULL) {
		fprintf(stderr, "%s\n", err);
		free(text);
		return 1;
	}
	r = check_table(label, t, type, stderr);
	if (r == 0 && dump)
		dump_table(t);
	if (r == 0 && out != NULL)
		r = write_copy(out, text, len);
	static_table_free(t);
	free(text);
	if (fflush(stdout) == EOF)
		r = -1;
	return r == 0 ? 0 : 1;
}
