/*
 * probe_input.c: smtpd-probe's requests, from the command line, from a
 * script file or from stdin.  A request line is split into words like
 * the helper's command line (quotes and backslashes, no shell); blank
 * lines and lines starting with '#' are skipped.
 *
 * stdin may be the terminal the helper (or gdb) also reads, so it is
 * read only when the probe has nothing else to do, and never at all
 * when the requests come from the command line or a file.
 */
#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event.h>

#include "smtpd-api.h"
#include "probe.h"
#include "probe_input.h"

struct request_line {
	char		**words;	/* from imsgproc_argv_split */
	int		 n;
	int		 lineno;
};

struct probe_input {
	/* Requests known in advance: the command line or a file. */
	struct request_line	*lines;
	size_t			 nlines;
	size_t			 next;
	char			 where[PATH_MAX + 16];
	char			*path;		/* file name, for errors */
	int			 argv_copy;	/* lines[0] copied from argv */

	/* stdin */
	int			 from_stdin;
	int			 pollable;	/* tty, pipe: wait in loop */
	int			 tty;		/* prompt */
	int			 eof;
	int			 discarding;	/* rest of a too long line */
	int			 lineno;
	char			 buf[PROBE_LINE_MAX];
	size_t			 len;
	char			**words;	/* the current stdin request */
	struct event		*ev;
};

static int	 split_line(const char *, char ***, int *, char *, size_t);
static int	 stdin_take_line(struct probe_input *, char *, size_t);
static int	 stdin_next(struct probe_input *, struct event_base *,
		    void (*)(int, short, void *), void *, char ***, int *,
		    char *, size_t);

/*
 * Words of one line: 1 a request, 0 nothing (blank or comment), -1 a
 * bad line (err filled).
 */
static int
split_line(const char *line, char ***words, int *n, char *err, size_t errsz)
{
	char	**w;
	int	 i;

	line += strspn(line, " \t\r");
	if (*line == '\0' || *line == '\n' || *line == '#')
		return 0;
	if ((w = imsgproc_argv_split(line, err, errsz)) == NULL)
		return -1;
	for (i = 0; w[i] != NULL; i++)
		;
	if (i == 0) {
		imsgproc_argv_free(w);
		return 0;
	}
	if (i > PROBE_WORDS_MAX) {
		snprintf(err, errsz, "more than %d words", PROBE_WORDS_MAX);
		imsgproc_argv_free(w);
		return -1;
	}
	*words = w;
	*n = i;
	return 1;
}

struct probe_input *
probe_input_argv(int argc, char **argv)
{
	struct probe_input	*in;
	int			 i;

	if ((in = calloc(1, sizeof(*in))) == NULL ||
	    (in->lines = calloc(1, sizeof(*in->lines))) == NULL ||
	    (in->lines[0].words = calloc(argc + 1, sizeof(char *))) == NULL)
		fatal("calloc");
	for (i = 0; i < argc; i++)
		if ((in->lines[0].words[i] = strdup(argv[i])) == NULL)
			fatal("strdup");
	in->lines[0].n = argc;
	in->nlines = 1;
	in->argv_copy = 1;
	return in;
}

struct probe_input *
probe_input_file(const char *path, char *err, size_t errsz)
{
	struct probe_input	*in;
	struct request_line	*l;
	FILE			*f;
	char			*line = NULL, why[200];
	size_t			 sz = 0;
	ssize_t			 len;
	int			 lineno = 0, r;

	if ((f = fopen(path, "r")) == NULL) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if ((in = calloc(1, sizeof(*in))) == NULL ||
	    (in->path = strdup(path)) == NULL)
		fatal("calloc");
	while ((len = getline(&line, &sz, f)) != -1) {
		lineno++;
		if (len >= PROBE_LINE_MAX) {
			snprintf(err, errsz, "%s:%d: line longer than %d bytes",
			    path, lineno, PROBE_LINE_MAX - 1);
			goto fail;
		}
		if (len > 0 && line[len - 1] == '\n')
			line[len - 1] = '\0';
		in->lines = reallocarray(in->lines, in->nlines + 1,
		    sizeof(*in->lines));
		if (in->lines == NULL)
			fatal("reallocarray");
		l = &in->lines[in->nlines];
		memset(l, 0, sizeof(*l));
		if ((r = split_line(line, &l->words, &l->n, why,
		    sizeof(why))) == -1) {
			snprintf(err, errsz, "%s:%d: %s", path, lineno, why);
			goto fail;
		}
		if (r == 1) {
			l->lineno = lineno;
			in->nlines++;
		}
	}
	if (ferror(f)) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		goto fail;
	}
	free(line);
	fclose(f);
	return in;

 fail:
	free(line);
	fclose(f);
	probe_input_free(in);
	return NULL;
}

struct probe_input *
probe_input_stdin(void)
{
	struct probe_input	*in;
	struct stat		 sb;

	if ((in = calloc(1, sizeof(*in))) == NULL)
		fatal("calloc");
	in->from_stdin = 1;
	in->tty = isatty(STDIN_FILENO);
	/* Regular files and /dev/null cannot be waited on; they never block. */
	if (fstat(STDIN_FILENO, &sb) == 0 && (S_ISFIFO(sb.st_mode) ||
	    S_ISSOCK(sb.st_mode) || in->tty))
		in->pollable = 1;
	return in;
}

int
probe_input_check(struct probe_input *in, const struct probe_role *role,
    probe_check_fn check, char *err, size_t errsz)
{
	char	 why[256];
	size_t	 i;

	for (i = 0; i < in->nlines; i++) {
		if (check(role, in->lines[i].words, in->lines[i].n, why,
		    sizeof(why)) == -1) {
			snprintf(err, errsz, "%s:%d: %s", in->path,
			    in->lines[i].lineno, why);
			return -1;
		}
	}
	return 0;
}

int
probe_input_next(struct probe_input *in, struct event_base *base,
    void (*cb)(int, short, void *), void *arg, char ***words, int *n,
    char *err, size_t errsz)
{
	if (in->from_stdin)
		return stdin_next(in, base, cb, arg, words, n, err, errsz);
	if (in->next >= in->nlines)
		return PROBE_INPUT_EOF;
	*words = in->lines[in->next].words;
	*n = in->lines[in->next].n;
	if (in->path != NULL)
		snprintf(in->where, sizeof(in->where), "%s:%d", in->path,
		    in->lines[in->next].lineno);
	in->next++;
	return PROBE_INPUT_WORDS;
}

/*
 * 1 a complete line copied to line, 0 none yet, -1 the end of a line
 * too long for the buffer (its bytes were dropped as they came).
 */
static int
stdin_take_line(struct probe_input *in, char *line, size_t linesz)
{
	char	*nl;
	size_t	 len;

	nl = memchr(in->buf, '\n', in->len);
	if (nl == NULL && !in->eof) {
		if (in->len >= sizeof(in->buf) - 1) {
			in->len = 0;
			in->discarding = 1;
		}
		return 0;
	}
	if (nl == NULL && in->len == 0 && !in->discarding)
		return 0;
	len = nl != NULL ? (size_t)(nl - in->buf) : in->len;
	if (len >= linesz)
		len = linesz - 1;
	memcpy(line, in->buf, len);
	line[len] = '\0';
	if (nl != NULL) {
		in->len -= nl + 1 - in->buf;
		memmove(in->buf, nl + 1, in->len);
	} else
		in->len = 0;
	if (in->discarding) {
		in->discarding = 0;
		return -1;
	}
	return 1;
}

static int
stdin_next(struct probe_input *in, struct event_base *base,
    void (*cb)(int, short, void *), void *arg, char ***words, int *n,
    char *err, size_t errsz)
{
	struct pollfd	 pfd;
	char		 line[PROBE_LINE_MAX], why[200];
	ssize_t		 got;
	int		 r;

	if (in->words != NULL) {
		imsgproc_argv_free(in->words);
		in->words = NULL;
	}
	for (;;) {
		if ((r = stdin_take_line(in, line, sizeof(line))) != 0) {
			in->lineno++;
			if (r == -1) {
				snprintf(err, errsz, "stdin:%d: line longer "
				    "than %d bytes", in->lineno,
				    PROBE_LINE_MAX - 1);
				return PROBE_INPUT_ERROR;
			}
			r = split_line(line, &in->words, n, why, sizeof(why));
			if (r == 0)
				continue;
			if (r == -1) {
				snprintf(err, errsz, "stdin:%d: %s",
				    in->lineno, why);
				return PROBE_INPUT_ERROR;
			}
			*words = in->words;
			snprintf(in->where, sizeof(in->where), "stdin:%d",
			    in->lineno);
			return PROBE_INPUT_WORDS;
		}
		if (in->eof)
			return PROBE_INPUT_EOF;
		if (in->pollable) {
			pfd.fd = STDIN_FILENO;
			pfd.events = POLLIN;
			if (poll(&pfd, 1, 0) == 0) {
				if (in->tty && in->len == 0) {
					fputs("smtpd-probe> ", stderr);
					fflush(stderr);
				}
				if (in->ev == NULL && (in->ev = event_new(base,
				    STDIN_FILENO, EV_READ, cb, arg)) == NULL)
					fatalx("event_new failed");
				if (event_add(in->ev, NULL) == -1)
					fatalx("event_add failed");
				return PROBE_INPUT_WAIT;
			}
		}
		got = read(STDIN_FILENO, in->buf + in->len,
		    sizeof(in->buf) - 1 - in->len);
		if (got == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (got == -1) {
			log_warn("stdin");
			in->eof = 1;
		} else if (got == 0) {
			in->eof = 1;
			if (in->tty)
				fputc('\n', stderr);
		} else
			in->len += got;
	}
}

const char *
probe_input_where(struct probe_input *in)
{
	return in->where;
}

void
probe_input_cancel(struct probe_input *in)
{
	if (in->ev != NULL)
		event_del(in->ev);
}

int
probe_input_interactive(struct probe_input *in)
{
	return in->from_stdin;
}

void
probe_input_free(struct probe_input *in)
{
	size_t	 i;
	int	 j;

	if (in == NULL)
		return;
	for (i = 0; i < in->nlines; i++) {
		if (in->argv_copy) {
			for (j = 0; j < in->lines[i].n; j++)
				free(in->lines[i].words[j]);
			free(in->lines[i].words);
		} else
			imsgproc_argv_free(in->lines[i].words);
	}
	free(in->lines);
	free(in->path);
	if (in->words != NULL)
		imsgproc_argv_free(in->words);
	if (in->ev != NULL)
		event_free(in->ev);
	free(in);
}
