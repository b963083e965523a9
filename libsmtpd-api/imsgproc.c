/*
 * imsgproc.c: the owner's side of a helper program.
 *
 * An imsgproc spawns its helper (fork+exec, channel on descriptor 3),
 * does the HELLO/READY handshake, matches replies to requests by their
 * 64-bit id, enforces a deadline on every request and restarts a helper
 * that dies, with exponential back-off.  Everything runs from the
 * caller's libevent base and nothing blocks.
 *
 * Re-entrancy: user callbacks may call imsgproc_request, _cancel, _stop
 * and _free on the same imsgproc.  Every libevent handler and every API
 * function that calls user code holds a "depth" count; imsgproc_free
 * inside a callback only marks the imsgproc, and the outermost caller
 * releases it.  Handlers reading frames check a channel generation
 * number after each callback, since a callback may close the channel.
 *
 * Descriptors: one given to imsgproc_request or imsgproc_send is ours,
 * passed on or closed on failure.  One that comes with a reply or frame
 * is closed after the callback unless the callback took it by setting
 * imsg->fd to -1.  imsgproc_stop calls the failed requests' callbacks
 * before it returns: the owner asked for it.
 *
 * Children are reaped by waitpid() on their own pid only, polled from a
 * timer: a SIGCHLD handler would steal the daemon's other children.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <event.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "smtpd-api.h"

#define DEFAULT_TIMEOUT_MS	5000
#define DEFAULT_HANDSHAKE_MS	10000
#define DEFAULT_BACKOFF_MIN_MS	250
#define DEFAULT_BACKOFF_MAX_MS	30000
/* A helper that stayed up this long starts its back-off afresh. */
#define BACKOFF_RESET_SEC	60
/* A helper that closed its channel gets this long to exit by itself. */
#define REAP_GRACE_MS		1000
/* Between SIGTERM and SIGKILL. */
#define REAP_KILL_MS		2000
/* How often waitpid(pid, WNOHANG) is tried while a child lingers. */
#define REAP_POLL_MS		20
/* Room for the MSG_ID field that precedes a request body. */
#define REQID_FIELD_LEN		9

struct request {
	TAILQ_ENTRY(request)	 entry;
	struct imsgproc		*proc;
	uint64_t		 id;
	uint32_t		 type;
	int			 timeout_ms;
	struct event		*timer;
	imsgproc_reply_cb	 cb;
	void			*arg;
	unsigned char		*frame;	/* id field + body, until sent */
	size_t			 framelen;
	int			 fd;	/* to pass, until sent */
	int			 sent;
	int			 result;	/* once on the done list */
};
TAILQ_HEAD(request_list, request);

struct imsgproc {
	struct event_base	*base;
	char			*role;
	char			*name;
	char			*config;
	char			**argv;		/* NULL with a given channel */
	int			 timeout_ms;
	int			 handshake_ms;
	int			 backoff_min_ms;
	int			 backoff_max_ms;
	int			 restart;
	void			(*on_ready)(struct imsgproc *, uint64_t,
				    const char *, void *);
	void			(*on_down)(struct imsgproc *, const char *,
				    void *);
	void			(*on_frame)(struct imsgproc *, struct imsg *,
				    struct msg_reader *, void *);
	void			*arg;

	enum imsgproc_state	 state;
	pid_t			 pid;
	int			 fd;		/* channel, -1 when closed */
	struct imsgbuf		*ibuf;
	struct event		*ev_read;
	struct event		*ev_write;
	unsigned int		 gen;		/* bumped when fd closes */
	struct event		*ev_handshake;
	struct event		*ev_restart;
	struct event		*ev_done;
	int			 backoff_ms;	/* last delay, 0 = none yet */
	struct timespec		 ready_at;
	uint64_t		 capabilities;
	char			*helper_name;
	unsigned int		 restarts;

	struct request_list	 pending;	/* queued or sent */
	struct request_list	 done;		/* completion not yet called */
	int			 depth;
	int			 free_pending;
};

/* A child on its way out, outliving the imsgproc if need be. */
struct reaper {
	struct event	*timer;
	pid_t		 pid;
	char		 name[64];
	int		 expected;	/* we asked it to go: log at debug */
	int		 elapsed_ms;
	int		 term_at_ms;	/* when SIGTERM is due, -1 once sent */
	int		 kill_at_ms;	/* when SIGKILL is due, -1 once sent */
};

enum reap_how {
	REAP_WAIT,	/* it closed its channel: give it time to exit */
	REAP_TERM,	/* we drop it: SIGTERM now */
};

static int	 proc_spawn(struct imsgproc *);
static void	 proc_child(struct imsgproc *, int) __attribute__((__noreturn__));
static int	 proc_open_channel(struct imsgproc *, int);
static void	 proc_close_channel(struct imsgproc *, enum reap_how, int);
static void	 proc_send_hello(struct imsgproc *);
static int	 proc_compose(struct imsgproc *, uint32_t, uint16_t, int,
		    const void *, size_t);
static void	 proc_flush_queued(struct imsgproc *);
static void	 proc_send_request(struct imsgproc *, struct request *);
static void	 proc_on_read(evutil_socket_t, short, void *);
static void	 proc_on_write(evutil_socket_t, short, void *);
static void	 proc_on_handshake_timeout(evutil_socket_t, short, void *);
static void	 proc_on_restart(evutil_socket_t, short, void *);
static void	 proc_on_done(evutil_socket_t, short, void *);
static void	 proc_dispatch(struct imsgproc *, struct imsg *);
static void	 proc_ready(struct imsgproc *, struct imsg *);
static void	 proc_reply(struct imsgproc *, struct imsg *);
static void	 proc_down(struct imsgproc *, const char *, enum reap_how);
static void	 proc_failed(struct imsgproc *, const char *);
static void	 proc_fail_requests(struct imsgproc *, int, int);
static void	 proc_run_done(struct imsgproc *);
static void	 proc_leave(struct imsgproc *);
static void	 proc_release(struct imsgproc *);
static void	 request_complete(struct request *, int);
static void	 request_free(struct request *);
static void	 request_on_timeout(evutil_socket_t, short, void *);
static struct request *request_find(struct request_list *, uint64_t);
static uint64_t	 request_next_id(void);
static void	 reaper_start(struct event_base *, pid_t, const char *,
		    enum reap_how, int);
static void	 reaper_on_timer(evutil_socket_t, short, void *);
static void	 reaper_report(struct reaper *, int);
static int	 executable_exists(const char *);
static void	 ms_to_timeval(int, struct timeval *);
static char	**argv_copy(char *const *);

struct imsgproc *
imsgproc_start(struct event_base *base, const struct imsgproc_params *params)
{
	struct imsgproc	*p;
	const char	*name;

	name = params->name != NULL ? params->name :
	    (params->role != NULL ? params->role : "helper");
	if (params->fd < 0 && (params->argv == NULL ||
	    params->argv[0] == NULL)) {
		log_warnx("helper %s: no command to run", name);
		return NULL;
	}
	if (params->fd < 0 && !executable_exists(params->argv[0])) {
		log_warnx("helper %s: cannot execute %s: %s", name,
		    params->argv[0], strerror(errno));
		return NULL;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		log_warn("helper %s: calloc", name);
		return NULL;
	}
	TAILQ_INIT(&p->pending);
	TAILQ_INIT(&p->done);
	p->base = base;
	p->fd = -1;
	p->pid = -1;
	p->role = strdup(params->role != NULL ? params->role : "");
	p->name = strdup(name);
	p->config = strdup(params->config != NULL ? params->config : "");
	if (params->fd < 0)
		p->argv = argv_copy(params->argv);
	p->timeout_ms = params->timeout_ms > 0 ? params->timeout_ms :
	    DEFAULT_TIMEOUT_MS;
	p->handshake_ms = params->handshake_ms > 0 ? params->handshake_ms :
	    DEFAULT_HANDSHAKE_MS;
	p->backoff_min_ms = params->backoff_min_ms > 0 ?
	    params->backoff_min_ms : DEFAULT_BACKOFF_MIN_MS;
	p->backoff_max_ms = params->backoff_max_ms > 0 ?
	    params->backoff_max_ms : DEFAULT_BACKOFF_MAX_MS;
	if (p->backoff_max_ms < p->backoff_min_ms)
		p->backoff_max_ms = p->backoff_min_ms;
	/* A given channel cannot be made again. */
	p->restart = params->fd < 0 && params->restart != IMSGPROC_NO_RESTART;
	p->on_ready = params->on_ready;
	p->on_down = params->on_down;
	p->on_frame = params->on_frame;
	p->arg = params->arg;
	p->ev_handshake = evtimer_new(base, proc_on_handshake_timeout, p);
	p->ev_restart = evtimer_new(base, proc_on_restart, p);
	p->ev_done = event_new(base, -1, 0, proc_on_done, p);
	if (p->role == NULL || p->name == NULL || p->config == NULL ||
	    (params->fd < 0 && p->argv == NULL) || p->ev_handshake == NULL ||
	    p->ev_restart == NULL || p->ev_done == NULL) {
		log_warnx("helper %s: out of memory", name);
		goto fail;
	}

	if (params->fd >= 0) {
		if (proc_open_channel(p, params->fd) == -1)
			goto fail;
	} else if (proc_spawn(p) == -1)
		goto fail;
	p->state = IMSGPROC_STARTING;
	proc_send_hello(p);
	return p;

fail:
	p->state = IMSGPROC_STOPPED;
	proc_release(p);
	return NULL;
}

/*
 * Fork and exec the helper with its end of a fresh socketpair on
 * descriptor 3.  Both ends are close-on-exec here so that no other
 * child of the daemon inherits them; the child clears the flag on 3.
 */
static int
proc_spawn(struct imsgproc *p)
{
	sigset_t all, old;
	int	 sp[2], saved_errno;
	pid_t	 pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1) {
		log_warn("helper %s: socketpair", p->name);
		return -1;
	}
	/*
	 * Until it has reset them, the child runs the daemon's signal
	 * handlers: a SIGTERM from imsgproc_stop would reach libevent's
	 * handler there and look like a signal to the daemon.  So the
	 * child starts with every signal blocked.
	 */
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	pid = fork();
	saved_errno = errno;
	if (pid == 0) {
		close(sp[0]);
		proc_child(p, sp[1]);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (pid == -1) {
		errno = saved_errno;
		log_warn("helper %s: fork", p->name);
		close(sp[0]);
		close(sp[1]);
		return -1;
	}
	close(sp[1]);
	p->pid = pid;
	log_debug("helper %s: started %s, pid %ld", p->name, p->argv[0],
	    (long)pid);
	if (proc_open_channel(p, sp[0]) == -1) {
		reaper_start(p->base, pid, p->name, REAP_TERM, 1);
		p->pid = -1;
		return -1;
	}
	return 0;
}

static void
proc_child(struct imsgproc *p, int fd)
{
	sigset_t	 mask;
	char		 msg[512];
	ssize_t		 n;
	int		 sig, len, saved_errno;

	/*
	 * The daemon's handlers and ignored signals are none of its
	 * business; signals blocked since fork arrive once reset.
	 */
	for (sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	sigemptyset(&mask);
	sigprocmask(SIG_SETMASK, &mask, NULL);

	if (fd == 3) {
		if (fcntl(3, F_SETFD, 0) == -1)
			_exit(127);
	} else if (dup2(fd, 3) == -1)	/* the copy is not close-on-exec */
		_exit(127);
	closefrom(4);

	execvp(p->argv[0], p->argv);
	saved_errno = errno;
	len = snprintf(msg, sizeof(msg), "helper %s: cannot execute %s: %s\n",
	    p->name, p->argv[0], strerror(saved_errno));
	if (len > 0) {
		n = write(STDERR_FILENO, msg, (size_t)len < sizeof(msg) ?
		    (size_t)len : sizeof(msg) - 1);
		(void)n;	/* nowhere left to report it */
	}
	_exit(127);
}

static int
proc_open_channel(struct imsgproc *p, int fd)
{
	int	 flags;

	if ((flags = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) == -1) {
		log_warn("helper %s: fcntl", p->name);
		close(fd);
		return -1;
	}
	p->fd = fd;
	p->ibuf = imsgbuf_new(fd);
	p->ev_read = event_new(p->base, fd, EV_READ | EV_PERSIST,
	    proc_on_read, p);
	p->ev_write = event_new(p->base, fd, EV_WRITE | EV_PERSIST,
	    proc_on_write, p);
	if (p->ibuf == NULL || p->ev_read == NULL || p->ev_write == NULL ||
	    event_add(p->ev_read, NULL) == -1) {
		log_warnx("helper %s: cannot set up its channel", p->name);
		proc_close_channel(p, REAP_TERM, 1);
		return -1;
	}
	return 0;
}

/* Close the channel and hand the child, if any, to a reaper. */
static void
proc_close_channel(struct imsgproc *p, enum reap_how how, int expected)
{
	if (p->ev_read != NULL)
		event_free(p->ev_read);
	if (p->ev_write != NULL)
		event_free(p->ev_write);
	p->ev_read = p->ev_write = NULL;
	if (p->ibuf != NULL)
		imsgbuf_free(p->ibuf);
	p->ibuf = NULL;
	if (p->fd != -1)
		close(p->fd);
	p->fd = -1;
	p->gen++;
	if (p->ev_handshake != NULL)
		evtimer_del(p->ev_handshake);
	if (p->pid > 0)
		reaper_start(p->base, p->pid, p->name, how, expected);
	p->pid = -1;
}

static void
proc_send_hello(struct imsgproc *p)
{
	struct msg	 m;
	struct timeval	 tv;

	msg_init(&m);
	msg_add_uint32(&m, SMTPD_API_VERSION);
	msg_add_string(&m, p->role);
	msg_add_string(&m, p->name);
	msg_add_string(&m, p->config);
	msg_add_uint32(&m, (uint32_t)log_getverbose());
	msg_add_uint32(&m, log_gettrace());
	if (msg_error(&m) != 0) {
		/* A configuration string too large for a frame, say. */
		log_warnx("helper %s: cannot build HELLO: %s", p->name,
		    strerror(msg_error(&m)));
		msg_free(&m);
		p->state = IMSGPROC_FAILED;
		proc_close_channel(p, REAP_TERM, 1);
		proc_fail_requests(p, IMSGPROC_UNUSABLE, 1);
		return;
	}
	log_trace(TRACE_IMSG, "helper %s: > HELLO len %zu", p->name, m.len);
	if (proc_compose(p, IMSG_HELLO, 0, -1, m.buf, m.len) == -1)
		log_warn("helper %s: HELLO", p->name);
	msg_free(&m);
	ms_to_timeval(p->handshake_ms, &tv);
	evtimer_add(p->ev_handshake, &tv);
}

/* Queue one frame; the write event sends it when the socket takes it. */
static int
proc_compose(struct imsgproc *p, uint32_t type, uint16_t flags, int fd,
    const void *data, size_t len)
{
	if (imsg_compose(p->ibuf, type, 0, flags, fd, data, len) == -1)
		return -1;
	if (event_add(p->ev_write, NULL) == -1)
		log_warnx("helper %s: cannot watch its channel", p->name);
	return 0;
}

/* READY came: send what was queued meanwhile, oldest first. */
static void
proc_flush_queued(struct imsgproc *p)
{
	struct request	*r;

	TAILQ_FOREACH(r, &p->pending, entry)
		if (!r->sent)
			proc_send_request(p, r);
}

static void
proc_send_request(struct imsgproc *p, struct request *r)
{
	log_trace(TRACE_IMSG, "helper %s: > type %u len %zu id %" PRIu64 "%s",
	    p->name, r->type, r->framelen, r->id,
	    r->fd != -1 ? " with fd" : "");
	if (proc_compose(p, r->type, 0, r->fd, r->frame, r->framelen) == -1) {
		log_warn("helper %s: request type %u", p->name, r->type);
		if (r->fd != -1)
			close(r->fd);
	}
	/* On failure too: its deadline will complete it. */
	r->fd = -1;
	r->sent = 1;
	free(r->frame);
	r->frame = NULL;
}

static void
proc_on_read(evutil_socket_t fd, short events, void *arg)
{
	struct imsgproc	*p = arg;
	struct imsg	 imsg;
	unsigned int	 gen = p->gen;
	ssize_t		 n;
	char		 why[256];
	int		 r;

	p->depth++;
	if ((n = imsgbuf_read(p->ibuf)) == -1) {
		/* A helper that dies with unread input resets the channel. */
		if (errno == ECONNRESET)
			proc_down(p, "closed its channel (reset)", REAP_WAIT);
		else if (errno != EAGAIN && errno != EINTR) {
			snprintf(why, sizeof(why), "read error: %s",
			    strerror(errno));
			proc_down(p, why, REAP_TERM);
		}
		goto out;
	}
	if (n == 0) {
		proc_down(p, "closed its channel", REAP_WAIT);
		goto out;
	}
	while (p->gen == gen && !p->free_pending) {
		if ((r = imsg_get(p->ibuf, &imsg)) == 0)
			break;
		if (r == -1) {
			snprintf(why, sizeof(why), "malformed frame: %s",
			    imsgbuf_error(p->ibuf));
			proc_down(p, why, REAP_TERM);
			break;
		}
		proc_dispatch(p, &imsg);
		/* A callback takes a descriptor by setting imsg->fd to -1. */
		if (imsg.fd != -1)
			close(imsg.fd);
		imsg_free(&imsg);
	}
out:
	proc_leave(p);
}

static void
proc_on_write(evutil_socket_t fd, short events, void *arg)
{
	struct imsgproc	*p = arg;
	char		 why[256];
	int		 saved_errno;

	p->depth++;
	switch (imsgbuf_write(p->ibuf)) {
	case -1:
		saved_errno = errno;
		if (saved_errno == EPIPE || saved_errno == ECONNRESET)
			proc_down(p, "closed its channel (broken pipe)",
			    REAP_WAIT);
		else {
			snprintf(why, sizeof(why), "write error: %s",
			    strerror(saved_errno));
			proc_down(p, why, REAP_TERM);
		}
		break;
	case 1:
		event_del(p->ev_write);
		break;
	default:
		break;	/* the rest when the socket takes more */
	}
	proc_leave(p);
}

static void
proc_on_handshake_timeout(evutil_socket_t fd, short events, void *arg)
{
	struct imsgproc	*p = arg;
	char		 why[128];

	p->depth++;
	snprintf(why, sizeof(why), "no READY within %d ms", p->handshake_ms);
	proc_down(p, why, REAP_TERM);
	proc_leave(p);
}

static void
proc_on_restart(evutil_socket_t fd, short events, void *arg)
{
	struct imsgproc	*p = arg;

	p->depth++;
	p->restarts++;
	log_info("helper %s: restarting (restart %u)", p->name, p->restarts);
	if (proc_spawn(p) == -1)
		proc_down(p, "could not be restarted", REAP_TERM);
	else {
		p->state = IMSGPROC_STARTING;
		proc_send_hello(p);
	}
	proc_leave(p);
}

static void
proc_on_done(evutil_socket_t fd, short events, void *arg)
{
	struct imsgproc	*p = arg;

	p->depth++;
	proc_run_done(p);
	proc_leave(p);
}

static void
proc_dispatch(struct imsgproc *p, struct imsg *imsg)
{
	struct msg_reader	 rd;
	char			 why[256];

	if (p->state != IMSGPROC_RUNNING) {
		if (imsg->hdr.type == IMSG_READY &&
		    (imsg->hdr.flags & IMSGF_REPLY) == 0) {
			log_trace(TRACE_IMSG, "helper %s: < READY len %u",
			    p->name, imsg->hdr.len);
			proc_ready(p, imsg);
		} else {
			snprintf(why, sizeof(why), "sent frame type %u before "
			    "READY", imsg->hdr.type);
			proc_failed(p, why);
		}
		return;
	}
	if (imsg->hdr.flags & IMSGF_REPLY) {
		proc_reply(p, imsg);
		return;
	}
	log_trace(TRACE_IMSG, "helper %s: < type %u len %u", p->name,
	    imsg->hdr.type, imsg->hdr.len);
	if (imsg->hdr.type == IMSG_READY || imsg->hdr.type == IMSG_HELLO) {
		snprintf(why, sizeof(why), "unexpected %s frame",
		    imsg->hdr.type == IMSG_READY ? "READY" : "HELLO");
		proc_down(p, why, REAP_TERM);
		return;
	}
	if (p->on_frame == NULL) {
		log_debug("helper %s: frame type %u ignored", p->name,
		    imsg->hdr.type);
		return;
	}
	msg_reader_init(&rd, imsg->data, imsg->datalen);
	p->on_frame(p, imsg, &rd, p->arg);
}

static void
proc_ready(struct imsgproc *p, struct imsg *imsg)
{
	struct msg_reader	 rd;
	uint32_t		 version;
	uint64_t		 caps;
	char			*hname = NULL;
	char			 why[256];

	msg_reader_init(&rd, imsg->data, imsg->datalen);
	/* The version first: another version may shape READY otherwise. */
	if (msg_get_uint32(&rd, &version) == -1) {
		snprintf(why, sizeof(why), "malformed READY: %s",
		    msg_reader_error(&rd));
		proc_failed(p, why);
		return;
	}
	if (version != SMTPD_API_VERSION) {
		snprintf(why, sizeof(why), "speaks API version %u, this daemon "
		    "speaks %d; not using it", version, SMTPD_API_VERSION);
		proc_failed(p, why);
		return;
	}
	if (msg_get_uint64(&rd, &caps) == -1 ||
	    msg_get_string(&rd, &hname) == -1 || msg_end(&rd) == -1) {
		snprintf(why, sizeof(why), "malformed READY: %s",
		    msg_reader_error(&rd));
		free(hname);
		proc_failed(p, why);
		return;
	}
	evtimer_del(p->ev_handshake);
	free(p->helper_name);
	p->helper_name = hname;
	p->capabilities = caps;
	p->state = IMSGPROC_RUNNING;
	clock_gettime(CLOCK_MONOTONIC, &p->ready_at);
	log_debug("helper %s: ready (%s, pid %ld, capabilities %#" PRIx64 ")",
	    p->name, hname, (long)p->pid, caps);
	proc_flush_queued(p);
	if (p->on_ready != NULL)
		p->on_ready(p, caps, hname, p->arg);
}

static void
proc_reply(struct imsgproc *p, struct imsg *imsg)
{
	struct msg_reader	 rd;
	struct request		*r;
	uint64_t		 id;

	msg_reader_init(&rd, imsg->data, imsg->datalen);
	if (msg_get_id(&rd, &id) == -1) {
		/* Cannot tell which request: its deadline will fail it. */
		log_warnx("helper %s: reply type %u without a request id: %s",
		    p->name, imsg->hdr.type, msg_reader_error(&rd));
		return;
	}
	log_trace(TRACE_IMSG, "helper %s: < reply type %u len %u id %" PRIu64,
	    p->name, imsg->hdr.type, imsg->hdr.len, id);
	if ((r = request_find(&p->pending, id)) == NULL || !r->sent) {
		log_debug("helper %s: reply type %u to unknown request %" PRIu64
		    " dropped", p->name, imsg->hdr.type, id);
		return;
	}
	TAILQ_REMOVE(&p->pending, r, entry);
	evtimer_del(r->timer);
	if (imsg->hdr.type != r->type) {
		log_warnx("helper %s: request type %u answered with type %u",
		    p->name, r->type, imsg->hdr.type);
		r->cb(p, IMSGPROC_MALFORMED, NULL, NULL, r->arg);
	} else
		r->cb(p, IMSGPROC_REPLY, imsg, &rd, r->arg);
	request_free(r);
}

/*
 * The helper is gone or must go.  Requests it had fail; queued ones wait
 * for the restart, or fail too when there will be none.
 */
static void
proc_down(struct imsgproc *p, const char *why, enum reap_how how)
{
	struct timespec	 now;
	struct timeval	 tv;

	if (p->pid > 0)
		log_warnx("helper %s (pid %ld): %s", p->name, (long)p->pid,
		    why);
	else
		log_warnx("helper %s: %s", p->name, why);
	if (p->state == IMSGPROC_RUNNING) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - p->ready_at.tv_sec >= BACKOFF_RESET_SEC)
			p->backoff_ms = 0;
	}
	proc_close_channel(p, how, how == REAP_TERM);
	proc_fail_requests(p, IMSGPROC_DOWN, 0);
	if (p->restart) {
		if (p->backoff_ms == 0)
			p->backoff_ms = p->backoff_min_ms;
		else if (p->backoff_ms > p->backoff_max_ms / 2)
			p->backoff_ms = p->backoff_max_ms;
		else
			p->backoff_ms *= 2;
		p->state = IMSGPROC_BACKOFF;
		ms_to_timeval(p->backoff_ms, &tv);
		evtimer_add(p->ev_restart, &tv);
		log_info("helper %s: restart in %d ms", p->name, p->backoff_ms);
	} else {
		p->state = IMSGPROC_STOPPED;
		proc_fail_requests(p, IMSGPROC_DOWN, 1);
	}
	if (p->on_down != NULL)
		p->on_down(p, why, p->arg);
}

/* The handshake went wrong: this helper is never used again. */
static void
proc_failed(struct imsgproc *p, const char *why)
{
	log_warnx("helper %s: %s", p->name, why);
	p->state = IMSGPROC_FAILED;
	proc_close_channel(p, REAP_WAIT, 0);
	proc_fail_requests(p, IMSGPROC_UNUSABLE, 1);
	if (p->on_down != NULL)
		p->on_down(p, why, p->arg);
}

/*
 * Move requests to the done list; their callbacks run from the event
 * loop (proc_on_done).  Unsent ones only when all is set.
 */
static void
proc_fail_requests(struct imsgproc *p, int result, int all)
{
	struct request	*r, *next;

	for (r = TAILQ_FIRST(&p->pending); r != NULL; r = next) {
		next = TAILQ_NEXT(r, entry);
		if (r->sent || all)
			request_complete(r, result);
	}
}

/* Call pending completions, one at a time: a callback may cancel others. */
static void
proc_run_done(struct imsgproc *p)
{
	struct request	*r;

	while ((r = TAILQ_FIRST(&p->done)) != NULL) {
		TAILQ_REMOVE(&p->done, r, entry);
		r->cb(p, r->result, NULL, NULL, r->arg);
		request_free(r);
	}
}

static void
proc_leave(struct imsgproc *p)
{
	if (--p->depth == 0 && p->free_pending)
		proc_release(p);
}

static void
proc_release(struct imsgproc *p)
{
	struct request	*r;
	char		**av;

	/* Requests made by the last callbacks still get their answer. */
	p->depth++;
	proc_fail_requests(p, IMSGPROC_DOWN, 1);
	proc_run_done(p);
	p->depth--;
	while ((r = TAILQ_FIRST(&p->pending)) != NULL) {
		TAILQ_REMOVE(&p->pending, r, entry);
		request_free(r);
	}
	proc_close_channel(p, REAP_TERM, 1);
	if (p->ev_handshake != NULL)
		event_free(p->ev_handshake);
	if (p->ev_restart != NULL)
		event_free(p->ev_restart);
	if (p->ev_done != NULL)
		event_free(p->ev_done);
	if (p->argv != NULL) {
		for (av = p->argv; *av != NULL; av++)
			free(*av);
		free(p->argv);
	}
	free(p->role);
	free(p->name);
	free(p->config);
	free(p->helper_name);
	free(p);
}

void
imsgproc_stop(struct imsgproc *p)
{
	int	 was_up;

	if (p->state == IMSGPROC_STOPPED && TAILQ_EMPTY(&p->done))
		return;
	p->depth++;
	was_up = p->state == IMSGPROC_STARTING ||
	    p->state == IMSGPROC_RUNNING;
	if (p->state != IMSGPROC_STOPPED)
		log_debug("helper %s: stopping", p->name);
	p->state = IMSGPROC_STOPPED;
	evtimer_del(p->ev_restart);
	/*
	 * Frames already queued (a filter's last disconnect event, say)
	 * still go out as far as the socket takes them; the helper then
	 * reads them, sees the channel close and gets REAP_GRACE_MS to
	 * exit by itself before SIGTERM.
	 */
	if (was_up && p->ibuf != NULL)
		(void)imsgbuf_write(p->ibuf);
	proc_close_channel(p, was_up ? REAP_WAIT : REAP_TERM, 1);
	proc_fail_requests(p, IMSGPROC_DOWN, 1);
	/* The owner asked: it gets the consequences now, not later. */
	proc_run_done(p);
	if (was_up && p->on_down != NULL)
		p->on_down(p, "stopped", p->arg);
	proc_leave(p);
}

void
imsgproc_free(struct imsgproc *p)
{
	if (p == NULL || p->free_pending)
		return;
	p->free_pending = 1;
	p->depth++;
	imsgproc_stop(p);
	proc_leave(p);	/* releases it unless a handler is running */
}

enum imsgproc_state
imsgproc_state(struct imsgproc *p)
{
	return p->state;
}

const char *
imsgproc_name(struct imsgproc *p)
{
	return p->name;
}

pid_t
imsgproc_pid(struct imsgproc *p)
{
	return p->pid;
}

uint64_t
imsgproc_capabilities(struct imsgproc *p)
{
	return p->capabilities;
}

unsigned int
imsgproc_restarts(struct imsgproc *p)
{
	return p->restarts;
}

uint64_t
imsgproc_request(struct imsgproc *p, uint32_t type, const struct msg *body,
    int fd, int timeout_ms, imsgproc_reply_cb cb, void *arg)
{
	struct request	*r;
	struct msg	 idf;
	struct timeval	 tv;
	size_t		 bodylen;

	if ((r = calloc(1, sizeof(*r))) == NULL) {
		/* No way to call it back later: say so loudly. */
		log_warn("helper %s: request %u: calloc", p->name, type);
		if (fd != -1)
			close(fd);
		return 0;
	}
	r->proc = p;
	r->type = type;
	r->cb = cb;
	r->arg = arg;
	r->fd = fd;
	r->timeout_ms = timeout_ms > 0 ? timeout_ms : p->timeout_ms;
	r->id = request_next_id();
	TAILQ_INSERT_TAIL(&p->pending, r, entry);

	if ((r->timer = evtimer_new(p->base, request_on_timeout, r)) == NULL) {
		log_warnx("helper %s: request %u: no timer", p->name, type);
		request_complete(r, IMSGPROC_DOWN);
		return 0;
	}
	switch (p->state) {
	case IMSGPROC_FAILED:
		request_complete(r, IMSGPROC_UNUSABLE);
		return 0;
	case IMSGPROC_STOPPED:
		request_complete(r, IMSGPROC_DOWN);
		return 0;
	default:
		break;
	}

	bodylen = body != NULL ? body->len : 0;
	if (body != NULL && msg_error(body) != 0) {
		log_warnx("helper %s: request %u: %s", p->name, type,
		    strerror(msg_error(body)));
		request_complete(r, IMSGPROC_DOWN);
		return 0;
	}
	msg_init(&idf);
	msg_add_id(&idf, r->id);
	r->framelen = idf.len + bodylen;
	if (msg_error(&idf) != 0 || r->framelen > IMSG_MAX_BODY ||
	    (r->frame = malloc(r->framelen)) == NULL) {
		log_warnx("helper %s: request %u: body of %zu bytes refused",
		    p->name, type, bodylen);
		msg_free(&idf);
		request_complete(r, IMSGPROC_DOWN);
		return 0;
	}
	memcpy(r->frame, idf.buf, idf.len);
	if (bodylen > 0)
		memcpy(r->frame + idf.len, body->buf, bodylen);
	msg_free(&idf);

	ms_to_timeval(r->timeout_ms, &tv);
	evtimer_add(r->timer, &tv);
	/* Queued until READY when the helper is starting or restarting. */
	if (p->state == IMSGPROC_RUNNING)
		proc_send_request(p, r);
	return r->id;
}

void
imsgproc_cancel(struct imsgproc *p, uint64_t reqid)
{
	struct request	*r;

	if ((r = request_find(&p->pending, reqid)) != NULL)
		TAILQ_REMOVE(&p->pending, r, entry);
	else if ((r = request_find(&p->done, reqid)) != NULL)
		TAILQ_REMOVE(&p->done, r, entry);
	else
		return;
	request_free(r);
}

int
imsgproc_send(struct imsgproc *p, uint32_t type, const struct msg *body,
    int fd)
{
	if (p->state != IMSGPROC_RUNNING ||
	    (body != NULL && msg_error(body) != 0)) {
		if (fd != -1)
			close(fd);
		return -1;
	}
	log_trace(TRACE_IMSG, "helper %s: > type %u len %zu", p->name, type,
	    body != NULL ? body->len : 0);
	if (proc_compose(p, type, 0, fd, body != NULL ? body->buf : NULL,
	    body != NULL ? body->len : 0) == -1) {
		log_warn("helper %s: frame type %u", p->name, type);
		if (fd != -1)
			close(fd);
		return -1;
	}
	return 0;
}

const char *
imsgproc_result_name(int result)
{
	switch (result) {
	case IMSGPROC_REPLY:
		return "reply";
	case IMSGPROC_TIMEOUT:
		return "timeout";
	case IMSGPROC_DOWN:
		return "helper down";
	case IMSGPROC_MALFORMED:
		return "malformed reply";
	case IMSGPROC_UNUSABLE:
		return "helper unusable";
	default:
		return "unknown result";
	}
}

/* Put a request on the done list; its callback runs from the loop. */
static void
request_complete(struct request *r, int result)
{
	struct imsgproc	*p = r->proc;

	TAILQ_REMOVE(&p->pending, r, entry);
	if (r->timer != NULL)
		evtimer_del(r->timer);
	r->result = result;
	TAILQ_INSERT_TAIL(&p->done, r, entry);
	event_active(p->ev_done, EV_TIMEOUT, 1);
}

static void
request_free(struct request *r)
{
	if (r->timer != NULL)
		event_free(r->timer);
	if (r->fd != -1)
		close(r->fd);
	free(r->frame);
	free(r);
}

static void
request_on_timeout(evutil_socket_t fd, short events, void *arg)
{
	struct request	*r = arg;
	struct imsgproc	*p = r->proc;

	p->depth++;
	log_warnx("helper %s: request type %u id %" PRIu64 " not answered "
	    "within %d ms", p->name, r->type, r->id, r->timeout_ms);
	TAILQ_REMOVE(&p->pending, r, entry);
	r->cb(p, IMSGPROC_TIMEOUT, NULL, NULL, r->arg);
	request_free(r);
	proc_leave(p);
}

static struct request *
request_find(struct request_list *list, uint64_t id)
{
	struct request	*r;

	TAILQ_FOREACH(r, list, entry)
		if (r->id == id)
			return r;
	return NULL;
}

/* Ids start at a random point so that ids of two runs do not mix in logs. */
static uint64_t
request_next_id(void)
{
	static uint64_t	 next;

	if (next == 0)
		next = ((uint64_t)arc4random() << 24) + 1;
	if (next == 0)
		next = 1;
	return next++;
}

static void
reaper_start(struct event_base *base, pid_t pid, const char *name,
    enum reap_how how, int expected)
{
	struct reaper	*rp;

	if ((rp = calloc(1, sizeof(*rp))) == NULL ||
	    (rp->timer = evtimer_new(base, reaper_on_timer, rp)) == NULL) {
		/* Better a zombie than a child left running. */
		log_warn("helper %s (pid %ld): cannot watch it; killing it",
		    name, (long)pid);
		kill(pid, SIGKILL);
		free(rp);
		return;
	}
	rp->pid = pid;
	strlcpy(rp->name, name, sizeof(rp->name));
	rp->expected = expected;
	rp->term_at_ms = how == REAP_TERM ? 0 : REAP_GRACE_MS;
	rp->kill_at_ms = rp->term_at_ms + REAP_KILL_MS;
	/* The first look at once, so that the log tells how it died early. */
	reaper_on_timer(-1, 0, rp);
}

static void
reaper_on_timer(evutil_socket_t fd, short events, void *arg)
{
	struct reaper	*rp = arg;
	struct timeval	 tv;
	pid_t		 r;
	int		 status;

	while ((r = waitpid(rp->pid, &status, WNOHANG)) == -1 &&
	    errno == EINTR)
		;
	if (r == rp->pid || r == -1) {
		if (r == -1)	/* reaped elsewhere, or SIGCHLD ignored */
			log_debug("helper %s (pid %ld): reaped elsewhere",
			    rp->name, (long)rp->pid);
		else
			reaper_report(rp, status);
		event_free(rp->timer);
		free(rp);
		return;
	}
	/* Still ours and unreaped, so the pid cannot be someone else's. */
	if (rp->term_at_ms >= 0 && rp->elapsed_ms >= rp->term_at_ms) {
		kill(rp->pid, SIGTERM);
		rp->term_at_ms = -1;
	} else if (rp->kill_at_ms >= 0 && rp->elapsed_ms >= rp->kill_at_ms) {
		log_warnx("helper %s (pid %ld): still there %d ms after "
		    "SIGTERM; killing it", rp->name, (long)rp->pid,
		    REAP_KILL_MS);
		kill(rp->pid, SIGKILL);
		rp->kill_at_ms = -1;
	}
	rp->elapsed_ms += REAP_POLL_MS;
	ms_to_timeval(REAP_POLL_MS, &tv);
	evtimer_add(rp->timer, &tv);
}

static void
reaper_report(struct reaper *rp, int status)
{
	void	(*say)(const char *, ...);

	say = rp->expected ? log_debug : log_warnx;
	if (WIFEXITED(status))
		say("helper %s (pid %ld): exited with status %d", rp->name,
		    (long)rp->pid, WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		say("helper %s (pid %ld): killed by signal %d (%s)%s",
		    rp->name, (long)rp->pid, WTERMSIG(status),
		    strsignal(WTERMSIG(status)),
		    WCOREDUMP(status) ? ", core dumped" : "");
	else
		say("helper %s (pid %ld): ended with status %#x", rp->name,
		    (long)rp->pid, status);
}

/*
 * Checked before forking so that a mistyped path is one clear line at
 * start-up rather than a helper dying at each restart.  errno is set.
 */
static int
executable_exists(const char *prog)
{
	const char	*path, *dir, *end;
	char		 buf[4096];
	size_t		 len;
	int		 saved_errno = ENOENT;

	if (strchr(prog, '/') != NULL)
		return access(prog, X_OK) == 0;
	if ((path = getenv("PATH")) == NULL)
		path = "/usr/bin:/bin";
	for (dir = path; ; dir = end + 1) {
		end = strchr(dir, ':');
		len = end != NULL ? (size_t)(end - dir) : strlen(dir);
		if (snprintf(buf, sizeof(buf), "%.*s%s%s", (int)len, dir,
		    len > 0 ? "/" : "", prog) < (int)sizeof(buf)) {
			if (access(buf, X_OK) == 0)
				return 1;
			if (errno != ENOENT && errno != ENOTDIR)
				saved_errno = errno;
		}
		if (end == NULL)
			break;
	}
	errno = saved_errno;
	return 0;
}

static void
ms_to_timeval(int ms, struct timeval *tv)
{
	tv->tv_sec = ms / 1000;
	tv->tv_usec = (ms % 1000) * 1000;
}

static char **
argv_copy(char *const *argv)
{
	char	**copy;
	size_t	 n, i;

	for (n = 0; argv[n] != NULL; n++)
		;
	if ((copy = calloc(n + 1, sizeof(*copy))) == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		if ((copy[i] = strdup(argv[i])) == NULL) {
			imsgproc_argv_free(copy);
			return NULL;
		}
	return copy;
}

/*
 * Words are separated by blanks.  Inside single quotes every character
 * stands for itself; outside them a backslash takes the next character
 * literally, inside double quotes too.
 */
char **
imsgproc_argv_split(const char *cmdline, char *err, size_t errsz)
{
	char		**argv = NULL, **nargv, *word = NULL;
	const char	*s;
	size_t		 argc = 0, len = 0;
	char		 quote = '\0';
	int		 inword = 0;

	if ((word = malloc(strlen(cmdline) + 1)) == NULL)
		goto nomem;
	for (s = cmdline; ; s++) {
		if (*s == '\0' && quote != '\0') {
			snprintf(err, errsz, "unbalanced %s quote",
			    quote == '\'' ? "single" : "double");
			goto fail;
		}
		if (quote == '\0' && (*s == '\0' || *s == ' ' || *s == '\t' ||
		    *s == '\n')) {
			if (inword) {
				nargv = reallocarray(argv, argc + 2,
				    sizeof(*argv));
				if (nargv == NULL)
					goto nomem;
				argv = nargv;
				word[len] = '\0';
				if ((argv[argc] = strdup(word)) == NULL)
					goto nomem;
				argv[++argc] = NULL;
				inword = 0;
				len = 0;
			}
			if (*s == '\0')
				break;
			continue;
		}
		inword = 1;
		if (quote == '\'' && *s != '\'')
			word[len++] = *s;
		else if (*s == '\\') {
			if (*++s == '\0') {
				snprintf(err, errsz, "backslash at the end");
				goto fail;
			}
			word[len++] = *s;
		} else if (quote != '\0' && *s == quote)
			quote = '\0';
		else if (quote == '\0' && (*s == '\'' || *s == '"'))
			quote = *s;
		else
			word[len++] = *s;
	}
	free(word);
	if (argc == 0) {
		snprintf(err, errsz, "empty command");
		free(argv);
		return NULL;
	}
	return argv;

nomem:
	snprintf(err, errsz, "%s", strerror(ENOMEM));
fail:
	free(word);
	if (argv != NULL) {
		argv[argc] = NULL;
		imsgproc_argv_free(argv);
	}
	return NULL;
}

void
imsgproc_argv_free(char **argv)
{
	char	**av;

	if (argv == NULL)
		return;
	for (av = argv; *av != NULL; av++)
		free(*av);
	free(argv);
}
