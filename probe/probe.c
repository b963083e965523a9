/*
 * smtpd-probe: play the daemon's side of the helper protocol for one
 * helper, so that a table, queue backend or filter can be run alone,
 * by hand, under gdb or valgrind.
 *
 * main() parses the options, reads the requests given on the command
 * line or with -f (all validated before anything is started), starts
 * the helper with imsgproc (or accepts it on a socket with -S), and
 * then runs one request at a time: a line of words goes out as a frame
 * built by the role module, the reply comes back as one line of text.
 * Requests read from stdin are taken one line at a time as they come.
 */
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event.h>

#include "smtpd-api.h"
#include "probe.h"
#include "probe_channel.h"
#include "probe_input.h"

/* Every role the probe knows.  A new role is one file and one line here. */
static const struct probe_role *const roles[] = {
	&probe_role_table,
	&probe_role_queue,
	&probe_role_filter,
	NULL
};

#define PROBE_TIMEOUT_MS	5000	/* -t default */
#define PROBE_HANDSHAKE_MS	10000	/* -H default */
/* Under a debugger a human sets breakpoints and types "run". */
#define PROBE_DEBUGGER_MS	300000
#define EXIT_ANSWERED		0
#define EXIT_FAILED		1
#define EXIT_USAGE		2

struct probe {
	const struct probe_role	*role;
	struct event_base	*base;
	struct imsgproc		*proc;
	const char		*name;		/* instance name */
	int			 timeout_ms;
	int			 handshake_ms;
	int			 debugger;	/* 2 gdb, 1 valgrind..., 0 */
	pid_t			 pid;		/* spawned here (debugger) */
	int			 ready;
	int			 down;
	int			 finishing;
	int			 failed;	/* a request failed */
	int			 exit_status;	/* when not simply 0 or 1 */
	struct event		*deadline_ev;	/* of a script() request */

	struct probe_input	*input;

	/* The request in progress. */
	int			 busy;
	int			 scripted;
	unsigned int		 generation;
	uint32_t		 type;
	char			 label[PROBE_LINE_MAX];
};

/* Passes a script() request's callback through imsgproc. */
struct probe_call {
	struct probe		*p;
	unsigned int		 generation;
	probe_reply_fn		 fn;
	void			*arg;
};

/* What the command line says, besides what goes into struct probe. */
struct options {
	const char	*config;
	const char	*script;
	const char	*sockpath;
	const char	*cmdline;
	char		**words;	/* a request on the command line */
	int		 nwords;
	int		 verbose;
	uint32_t	 trace;
	int		 timeout_set;
	int		 handshake_set;
};

static void	 usage(void) __attribute__((__noreturn__));
static void	 parse_options(struct probe *, struct options *, int, char **);
static void	 load_requests(struct probe *, struct options *);
static void	 set_signals(struct probe *);
static int	 start_helper(struct probe *, char **, const char *, int);
static const struct probe_role *role_find(const char *);
static const char *default_name(char **);
static int	 is_debugger(char **, int *);
static void	 on_signal(int);
static void	 on_ready(struct imsgproc *, uint64_t, const char *, void *);
static void	 on_down(struct imsgproc *, const char *, void *);
static void	 on_frame(struct imsgproc *, struct imsg *, struct msg_reader *,
		    void *);
static void	 next_request(struct probe *);
static void	 next_request_cb(int, short, void *);
static void	 run_request(struct probe *, char **, int);
static void	 request_reply(struct imsgproc *, int, struct imsg *,
		    struct msg_reader *, void *);
static void	 script_expired(int, short, void *);
static void	 script_reply(struct imsgproc *, int, struct imsg *,
		    struct msg_reader *, void *);
static void	 request_end(struct probe *, int, const char *);
static void	 script_abort(struct probe *, const char *);
static void	 print_label(char *, size_t, char **, int);
static const char *failure_text(struct probe *, int, char *, size_t);
static int	 check_words(const struct probe_role *, char **, int, char *,
		    size_t);
static void	 finish(struct probe *);

static volatile sig_atomic_t interrupted;
static volatile sig_atomic_t keep_sigint;	/* gdb owns Ctrl-C */

static void
usage(void)
{
	int	 i;

	fprintf(stderr, "usage: smtpd-probe [-v] [-c config] [-f script] "
	    "[-H handshake_ms] [-n name]\n"
	    "                   [-S socket] [-T trace] [-t timeout_ms] "
	    "role 'command line'\n"
	    "                   [request args ...]\n");
	for (i = 0; roles[i] != NULL; i++)
		fprintf(stderr, "%s requests:\n%s", roles[i]->name,
		    roles[i]->usage);
	exit(EXIT_USAGE);
}

int
main(int argc, char *argv[])
{
	struct options	 opt;
	struct probe	 probe, *p = &probe;
	char		**cmd, err[256];
	int		 fd = -1;

	memset(p, 0, sizeof(*p));
	log_init(1, "smtpd-probe");
	parse_options(p, &opt, argc, argv);
	log_setverbose(opt.verbose);
	log_settrace(opt.trace);
	if (setvbuf(stdout, NULL, _IOLBF, 0) != 0)
		fatal("setvbuf");
	load_requests(p, &opt);

	if ((cmd = imsgproc_argv_split(opt.cmdline, err, sizeof(err))) ==
	    NULL) {
		log_warnx("command line: %s", err);
		exit(EXIT_USAGE);
	}
	if (p->name == NULL)
		p->name = default_name(cmd);
	if (opt.sockpath != NULL) {
		/* A human starts the helper in another terminal. */
		if (!opt.handshake_set)
			p->handshake_ms = PROBE_DEBUGGER_MS;
	} else if (is_debugger(cmd, &p->debugger)) {
		if (!opt.handshake_set)
			p->handshake_ms = PROBE_DEBUGGER_MS;
		if (!opt.timeout_set)
			p->timeout_ms = PROBE_DEBUGGER_MS;
	}
	set_signals(p);

	if (opt.sockpath != NULL)
		fd = probe_listen_accept(opt.sockpath, p->handshake_ms,
		    &interrupted);
	else if (p->debugger)
		fd = probe_spawn(cmd, &p->pid);
	if ((opt.sockpath != NULL || p->debugger) && fd == -1)
		exit(EXIT_USAGE);

	if ((p->base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	if ((p->deadline_ev = evtimer_new(p->base, script_expired, p)) == NULL)
		fatalx("evtimer_new failed");
	log_debug("starting %s helper %s: %s", p->role->name, p->name,
	    opt.cmdline);
	if (start_helper(p, cmd, opt.config, fd) == -1) {
		/* imsgproc said why. */
		if (p->pid > 0)
			probe_wait(p->pid);
		exit(EXIT_USAGE);
	}

	/* Runs until finish(), then until imsgproc has reaped its child. */
	event_base_dispatch(p->base);
	if (p->pid > 0)
		probe_wait(p->pid);

	event_free(p->deadline_ev);
	probe_input_free(p->input);
	imsgproc_argv_free(cmd);
	event_base_free(p->base);
	probe_socket_cleanup();
	if (p->exit_status != 0)
		return p->exit_status;
	return p->failed ? EXIT_FAILED : EXIT_ANSWERED;
}

static void
parse_options(struct probe *p, struct options *opt, int argc, char **argv)
{
	const char	*errstr;
	char		*tok, *list;
	uint32_t	 t;
	int		 ch;

	memset(opt, 0, sizeof(*opt));
	opt->config = "";
	p->timeout_ms = PROBE_TIMEOUT_MS;
	p->handshake_ms = PROBE_HANDSHAKE_MS;
	/* '+': stop at the role, so request words may start with '-'. */
	while ((ch = getopt(argc, argv, "+c:f:H:n:S:T:t:v")) != -1) {
		switch (ch) {
		case 'c':
			opt->config = optarg;
			break;
		case 'f':
			opt->script = optarg;
			break;
		case 'H':
			p->handshake_ms = strtonum(optarg, 1, INT_MAX, &errstr);
			if (errstr != NULL) {
				log_warnx("-H %s: %s", optarg, errstr);
				usage();
			}
			opt->handshake_set = 1;
			break;
		case 'n':
			p->name = optarg;
			break;
		case 'S':
			opt->sockpath = optarg;
			break;
		case 'T':
			if ((list = strdup(optarg)) == NULL)
				fatal("strdup");
			for (tok = strtok(list, ","); tok != NULL;
			    tok = strtok(NULL, ",")) {
				if ((t = log_trace_from_name(tok)) == 0) {
					log_warnx("-T %s: unknown subsystem",
					    tok);
					usage();
				}
				opt->trace |= t;
			}
			free(list);
			break;
		case 't':
			p->timeout_ms = strtonum(optarg, 1, INT_MAX, &errstr);
			if (errstr != NULL) {
				log_warnx("-t %s: %s", optarg, errstr);
				usage();
			}
			opt->timeout_set = 1;
			break;
		case 'v':
			opt->verbose++;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 2)
		usage();
	if ((p->role = role_find(argv[0])) == NULL) {
		log_warnx("unknown role \"%s\"", argv[0]);
		usage();
	}
	opt->cmdline = argv[1];
	opt->nwords = argc - 2;
	opt->words = argv + 2;
	if (opt->nwords > 0 && opt->script != NULL) {
		log_warnx("give requests either as arguments or with -f");
		usage();
	}
}

/* Every request given in advance is checked before anything runs. */
static void
load_requests(struct probe *p, struct options *opt)
{
	char	 err[PATH_MAX + 256];

	if (opt->nwords > 0) {
		if (check_words(p->role, opt->words, opt->nwords, err,
		    sizeof(err)) == -1) {
			log_warnx("%s", err);
			usage();
		}
		p->input = probe_input_argv(opt->nwords, opt->words);
	} else if (opt->script != NULL) {
		p->input = probe_input_file(opt->script, err, sizeof(err));
		if (p->input == NULL || probe_input_check(p->input, p->role,
		    check_words, err, sizeof(err)) == -1) {
			log_warnx("%s", err);
			exit(EXIT_USAGE);
		}
	} else
		p->input = probe_input_stdin();
}

static void
set_signals(struct probe *p)
{
	struct sigaction	 sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL) == -1)
		fatal("sigaction");
	/*
	 * Ctrl-C at an interactive debugger's prompt reaches the probe
	 * too: the debugger owns it then.  A handler, not SIG_IGN, so
	 * that the helper does not inherit it across exec.
	 */
	keep_sigint = p->debugger > 1;
	sa.sa_handler = on_signal;
	if (sigaction(SIGTERM, &sa, NULL) == -1 ||
	    sigaction(SIGHUP, &sa, NULL) == -1 ||
	    sigaction(SIGINT, &sa, NULL) == -1)
		fatal("sigaction");
}

/* imsgproc spawns the helper, or takes the channel made here (fd). */
static int
start_helper(struct probe *p, char **cmd, const char *config, int fd)
{
	struct imsgproc_params	 params;

	memset(&params, 0, sizeof(params));
	params.role = p->role->name;
	params.name = p->name;
	params.argv = cmd;
	params.config = config;
	params.timeout_ms = p->timeout_ms;
	params.handshake_ms = p->handshake_ms;
	/* One helper, one run: a crash is for the human to see. */
	params.restart = IMSGPROC_NO_RESTART;
	params.fd = fd;
	params.on_ready = on_ready;
	params.on_down = on_down;
	params.on_frame = on_frame;
	params.arg = p;
	if ((p->proc = imsgproc_start(p->base, &params)) == NULL)
		return -1;
	return 0;
}

static const struct probe_role *
role_find(const char *name)
{
	int	 i;

	for (i = 0; roles[i] != NULL; i++)
		if (strcmp(roles[i]->name, name) == 0)
			return roles[i];
	return NULL;
}

/*
 * The instance name defaults to the helper program's basename, looking
 * through a debugger: the word after gdb's --args, valgrind's first
 * word that is not an option.
 */
static const char *
default_name(char **cmd)
{
	const char	*prog = cmd[0], *slash;
	int		 i, dbg;

	if (is_debugger(cmd, &dbg)) {
		for (i = 1; cmd[i] != NULL; i++) {
			if (dbg > 1) {
				if (strcmp(cmd[i], "--args") == 0 &&
				    cmd[i + 1] != NULL) {
					prog = cmd[i + 1];
					break;
				}
			} else if (cmd[i][0] != '-') {
				prog = cmd[i];
				break;
			}
		}
	}
	if ((slash = strrchr(prog, '/')) != NULL && slash[1] != '\0')
		return slash + 1;
	return prog;
}

/*
 * A command line that starts with a debugger or a tracer gets long
 * deadlines.  *interactive is 2 for debuggers with a prompt (gdb,
 * lldb), 1 for the others.
 */
static int
is_debugger(char **cmd, int *interactive)
{
	static const char *const prompting[] = { "gdb", "cgdb", "lldb", NULL };
	static const char *const tracing[] = { "valgrind", "strace", "ltrace",
	    NULL };
	const char	*base;
	int		 i;

	*interactive = 0;
	base = strrchr(cmd[0], '/') != NULL ? strrchr(cmd[0], '/') + 1 :
	    cmd[0];
	for (i = 0; prompting[i] != NULL; i++)
		if (strcmp(base, prompting[i]) == 0) {
			*interactive = 2;
			return 1;
		}
	for (i = 0; tracing[i] != NULL; i++)
		if (strcmp(base, tracing[i]) == 0) {
			*interactive = 1;
			return 1;
		}
	return 0;
}

static void
on_signal(int sig)
{
	/* Only async-signal-safe calls here. */
	if (sig == SIGINT && keep_sigint) {
		interrupted = 1;
		return;
	}
	probe_socket_cleanup();
	_exit(EXIT_FAILED);
}

static void
on_ready(struct imsgproc *proc, uint64_t caps, const char *helper_name,
    void *arg)
{
	struct probe	*p = arg;
	char		*text = NULL;
	size_t		 len = 0;
	FILE		*f;

	if (p->ready)
		return;		/* no restarts: cannot happen */
	p->ready = 1;
	if ((f = open_memstream(&text, &len)) == NULL)
		fatal("open_memstream");
	p->role->describe(caps, f);
	if (fclose(f) != 0)
		fatal("open_memstream");
	fprintf(stderr, "helper %s ready: %s\n", helper_name, text);
	free(text);
	next_request(p);
}

static void
on_down(struct imsgproc *proc, const char *why, void *arg)
{
	struct probe	*p = arg;

	if (p->down || p->finishing)
		return;
	p->down = 1;
	if (!p->ready) {
		/* imsgproc logged the details: say what it means here. */
		log_warnx("helper %s did not become ready: %s", p->name, why);
		p->exit_status = EXIT_USAGE;
		finish(p);
		return;
	}
	/* Simple requests are failed by imsgproc; a script is ours. */
	if (p->busy && p->scripted)
		script_abort(p, "helper down");
	p->failed = 1;
	/* Nobody types requests for a helper that is gone. */
	if (!p->busy && probe_input_interactive(p->input))
		finish(p);
}

static void
on_frame(struct imsgproc *proc, struct imsg *imsg, struct msg_reader *r,
    void *arg)
{
	struct probe	*p = arg;

	if (p->role->on_frame != NULL)
		p->role->on_frame(p, imsg, r);
	else
		log_warnx("unexpected frame of type %u from helper %s",
		    imsg->hdr.type, p->name);
}

/* Requests run one after the other, each from a fresh loop turn. */
static void
next_request(struct probe *p)
{
	if (event_base_once(p->base, -1, EV_TIMEOUT, next_request_cb, p,
	    NULL) == -1)
		fatalx("event_base_once failed");
}

static void
next_request_cb(int fd, short ev, void *arg)
{
	struct probe	*p = arg;
	char		**words, err[256];
	int		 n;

	if (p->finishing)
		return;
	if (p->down && probe_input_interactive(p->input)) {
		finish(p);
		return;
	}
	switch (probe_input_next(p->input, p->base, next_request_cb, p,
	    &words, &n, err, sizeof(err))) {
	case PROBE_INPUT_WORDS:
		run_request(p, words, n);
		break;
	case PROBE_INPUT_ERROR:
		/* A bad line typed at the prompt: say so, go on. */
		log_warnx("%s", err);
		p->exit_status = EXIT_USAGE;
		next_request(p);
		break;
	case PROBE_INPUT_WAIT:
		break;
	case PROBE_INPUT_EOF:
		finish(p);
		break;
	}
}

static void
run_request(struct probe *p, char **words, int n)
{
	struct msg	 body;
	struct timeval	 tv;
	char		 err[256], text[64];
	uint32_t	 type = 0;
	int		 fd = -1, r;

	p->busy = 1;
	p->scripted = 0;
	p->generation++;
	print_label(p->label, sizeof(p->label), words, n);
	if (p->down) {
		/* Checked when read: the words would have been fine. */
		request_end(p, PROBE_FAILED, failure_text(p, IMSGPROC_DOWN,
		    text, sizeof(text)));
		return;
	}
	if (p->role->script != NULL) {
		r = p->role->script(p, n, words, err, sizeof(err));
		if (r == 1) {
			/* The role calls probe_done: it may have already. */
			if (p->busy) {
				p->scripted = 1;
				tv.tv_sec = p->timeout_ms / 1000;
				tv.tv_usec = (p->timeout_ms % 1000) * 1000;
				evtimer_add(p->deadline_ev, &tv);
			}
			return;
		}
		if (r == -1)
			goto bad;
	}
	msg_init(&body);
	if (p->role->parse(n, words, &type, &body, &fd, err,
	    sizeof(err)) == -1) {
		msg_free(&body);
		goto bad;
	}
	print_label(p->label, sizeof(p->label), words, n);
	p->type = type;
	if (msg_error(&body) != 0) {
		msg_free(&body);
		if (fd != -1)
			close(fd);
		request_end(p, PROBE_FAILED, "request too large");
		return;
	}
	imsgproc_request(p->proc, type, &body, fd, p->timeout_ms,
	    request_reply, p);
	msg_free(&body);
	return;

 bad:
	p->busy = 0;
	if (*probe_input_where(p->input) != '\0')
		log_warnx("%s: %s", probe_input_where(p->input), err);
	else
		log_warnx("%s", err);
	p->exit_status = EXIT_USAGE;
	next_request(p);
}

static void
request_reply(struct imsgproc *proc, int result, struct imsg *imsg,
    struct msg_reader *r, void *arg)
{
	struct probe	*p = arg;
	char		*text = NULL, failure[300];
	size_t		 len = 0;
	FILE		*f;
	int		 outcome;

	if (result != IMSGPROC_REPLY || r == NULL) {
		request_end(p, PROBE_FAILED, failure_text(p, result,
		    failure, sizeof(failure)));
		return;
	}
	if ((f = open_memstream(&text, &len)) == NULL)
		fatal("open_memstream");
	outcome = p->role->print(p->type, r, f);
	if (fclose(f) != 0)
		fatal("open_memstream");
	if (outcome != PROBE_MALFORMED && msg_end(r) == -1)
		outcome = PROBE_MALFORMED;
	if (outcome == PROBE_MALFORMED) {
		snprintf(failure, sizeof(failure), "malformed reply: %s",
		    msg_reader_error(r));
		request_end(p, PROBE_FAILED, failure);
	} else
		request_end(p, outcome, text);
	free(text);
}

static void
script_expired(int fd, short ev, void *arg)
{
	struct probe	*p = arg;
	char		 text[64];

	if (!p->busy || !p->scripted)
		return;
	script_abort(p, failure_text(p, IMSGPROC_TIMEOUT, text, sizeof(text)));
}

/* Prints the request's line and moves on to the next one. */
static void
request_end(struct probe *p, int outcome, const char *text)
{
	if (!p->busy)
		return;
	printf("%s: %s\n", p->label, text);
	if (outcome != PROBE_ANSWERED)
		p->failed = 1;
	p->busy = 0;
	if (p->scripted) {
		p->scripted = 0;
		evtimer_del(p->deadline_ev);
		/* Late replies of this exchange are dropped. */
		p->generation++;
	}
	next_request(p);
}

/* The core ends a script() request: the role forgets it. */
static void
script_abort(struct probe *p, const char *why)
{
	request_end(p, PROBE_FAILED, why);
	if (p->role->abort != NULL)
		p->role->abort(p);
}

static const char *
failure_text(struct probe *p, int result, char *buf, size_t bufsz)
{
	switch (result) {
	case IMSGPROC_TIMEOUT:
		snprintf(buf, bufsz, "timeout after %d ms", p->timeout_ms);
		return buf;
	case IMSGPROC_DOWN:
		return "helper down";
	case IMSGPROC_MALFORMED:
		return "malformed reply";
	case IMSGPROC_UNUSABLE:
		return "helper not usable";
	default:
		snprintf(buf, bufsz, "failed: %s",
		    imsgproc_result_name(result));
		return buf;
	}
}

/* The request's words as typed, quoted where a word needs it. */
static void
print_label(char *buf, size_t bufsz, char **words, int n)
{
	char		*text = NULL;
	size_t		 len = 0;
	FILE		*f;
	int		 i;
	const char	*w;

	if ((f = open_memstream(&text, &len)) == NULL)
		fatal("open_memstream");
	for (i = 0; i < n; i++) {
		w = words[i];
		if (i > 0)
			fputc(' ', f);
		if (*w == '\0' || *w == '#' || strpbrk(w, " \t\"'\\") != NULL)
			probe_print_quoted(f, w, strlen(w));
		else
			fputs(w, f);
	}
	if (fclose(f) != 0)
		fatal("open_memstream");
	strlcpy(buf, text, bufsz);
	free(text);
}

/* Validates one request before the helper runs. */
static int
check_words(const struct probe_role *role, char **words, int n, char *err,
    size_t errsz)
{
	struct msg	 body;
	uint32_t	 type;
	int		 fd = -1, r;

	if (role->script != NULL) {
		if ((r = role->script(NULL, n, words, err, errsz)) != 0)
			return r == 1 ? 0 : -1;
	}
	msg_init(&body);
	r = role->parse(n, words, &type, &body, &fd, err, errsz);
	msg_free(&body);
	if (fd != -1)
		close(fd);
	return r;
}

/*
 * After the last request, or when the helper is gone: close the
 * channel.  The loop then ends by itself once nothing is left in it
 * but imsgproc's reaping of the child.
 */
static void
finish(struct probe *p)
{
	if (p->finishing)
		return;
	p->finishing = 1;
	evtimer_del(p->deadline_ev);
	probe_input_cancel(p->input);
	imsgproc_free(p->proc);
	p->proc = NULL;
}

/* Functions for role modules: see probe.h. */

uint64_t
probe_request(struct probe *p, uint32_t type, const struct msg *body, int fd,
    probe_reply_fn fn, void *arg)
{
	struct probe_call	*call;

	if ((call = calloc(1, sizeof(*call))) == NULL)
		fatal("calloc");
	call->p = p;
	call->generation = p->generation;
	call->fn = fn;
	call->arg = arg;
	return imsgproc_request(p->proc, type, body, fd, p->timeout_ms,
	    script_reply, call);
}

static void
script_reply(struct imsgproc *proc, int result, struct imsg *imsg,
    struct msg_reader *r, void *arg)
{
	struct probe_call	*call = arg;
	struct probe		*p = call->p;

	/* A reply for an exchange that already ended is dropped. */
	if (p->busy && p->scripted && call->generation == p->generation)
		call->fn(p, result, imsg, r, call->arg);
	free(call);
}

int
probe_send(struct probe *p, uint32_t type, const struct msg *body, int fd)
{
	if (p->down) {
		if (fd != -1)
			close(fd);
		return -1;
	}
	return imsgproc_send(p->proc, type, body, fd);
}

void
probe_line(struct probe *p, const char *fmt, ...)
{
	va_list	 ap;

	printf("%s: ", p->label);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

void
probe_done(struct probe *p, int outcome, const char *fmt, ...)
{
	va_list	 ap;
	char	*text;

	va_start(ap, fmt);
	if (vasprintf(&text, fmt, ap) == -1)
		fatal("vasprintf");
	va_end(ap);
	request_end(p, outcome, text);
	free(text);
}

int
probe_busy(struct probe *p)
{
	return p->busy && p->scripted;
}

uint64_t
probe_capabilities(struct probe *p)
{
	return imsgproc_capabilities(p->proc);
}

int
probe_timeout_ms(struct probe *p)
{
	return p->timeout_ms;
}

void
probe_print_quoted(FILE *f, const char *s, size_t len)
{
	size_t		 i;
	unsigned char	 c;

	fputc('"', f);
	for (i = 0; i < len; i++) {
		c = s[i];
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c == '\t')
			fputs("\\t", f);
		else if (c == '\r')
			fputs("\\r", f);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\x%02x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}
