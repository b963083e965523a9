/*
 * probe_input.h: where smtpd-probe's requests come from: the command
 * line (one request), a script file (-f, read and checked up front) or
 * stdin (one line at a time, as it comes, with a prompt on a tty).
 */
#ifndef PROBE_INPUT_H
#define PROBE_INPUT_H

struct event_base;
struct probe_input;
struct probe_role;

enum probe_input_result {
	PROBE_INPUT_WORDS,	/* a request: *words, *n */
	PROBE_INPUT_WAIT,	/* cb will be called when input comes */
	PROBE_INPUT_EOF,	/* no more requests */
	PROBE_INPUT_ERROR,	/* a bad line, err says where and why */
};

typedef int	(*probe_check_fn)(const struct probe_role *, char **words,
		    int n, char *err, size_t errsz);

struct probe_input *probe_input_argv(int argc, char **argv);
struct probe_input *probe_input_file(const char *path, char *err,
		    size_t errsz);
struct probe_input *probe_input_stdin(void);
/* Runs check on every request of a file; err is "file:line: ...". */
int		 probe_input_check(struct probe_input *,
		    const struct probe_role *, probe_check_fn, char *err,
		    size_t errsz);
/* The words stay valid until the next call. */
int		 probe_input_next(struct probe_input *, struct event_base *,
		    void (*cb)(int, short, void *), void *arg, char ***words,
		    int *n, char *err, size_t errsz);
/* Where the last request came from: "stdin:3", "script:7", "". */
const char	*probe_input_where(struct probe_input *);
/* Stop waiting for stdin. */
void		 probe_input_cancel(struct probe_input *);
/* Requests come from stdin, as someone types them. */
int		 probe_input_interactive(struct probe_input *);
void		 probe_input_free(struct probe_input *);

#endif /* PROBE_INPUT_H */
