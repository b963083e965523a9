/*
 * proc.c: the daemon's processes and the channels between them.
 *
 * Every pair of processes that talk gets one socketpair, made by the
 * parent before it forks anybody; each process then keeps only its own
 * ends.  A channel carries imsg frames with msg bodies; writes are
 * queued and flushed from the event loop.  A channel that closes means
 * the daemon is going down: a child exits quietly and the parent learns
 * the why from SIGCHLD.
 */
#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <event.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "smtpd-api.h"
#include "control.h"
#include "frames.h"
#include "proc.h"

#ifndef PATH_LIBEXEC
#define PATH_LIBEXEC	"/usr/local/libexec/smtpd"
#endif

/* One end of a channel, as seen by the process that holds it. */
struct peer {
	int		 fd;		/* -1: no channel */
	struct imsgbuf	*ibuf;
	struct event	 ev_read;
	struct event	 ev_write;
	int		 writing;	/* ev_write is added */
};

static void	proc_channels_make(void);
static int	proc_talks(enum proc_id, enum proc_id);
static void	proc_keep_own_ends(enum proc_id);
static void	proc_child(enum proc_id);
static void	proc_on_read(int, short, void *);
static void	proc_on_write(int, short, void *);
static void	proc_peer_closed(enum proc_id, const char *);
static int	proc_builtin(enum proc_id, struct imsg *,
		    struct msg_reader *);
static void	proc_set_title(enum proc_id);

struct smtpd_env	 smtpd_env;
enum proc_id		 proc_self = PROC_PARENT;
struct event_base	*proc_base;

static const char *const proc_names[PROC_MAX] = {
	[PROC_PARENT] = "parent",
	[PROC_CONTROL] = "control",
	[PROC_LOOKUP] = "lookup",
	[PROC_QUEUE] = "queue",
	[PROC_SCHEDULER] = "scheduler",
	[PROC_NETWORK] = "network",
};

/* chan[a][b]: a's end of the a<->b channel, -1 when they do not talk. */
static int		 chan[PROC_MAX][PROC_MAX];
static int		 chan_made;
static struct peer	 peers[PROC_MAX];
static pid_t		 pids[PROC_MAX];
static int		 initialised;
static proc_dispatch_cb	 dispatch_cb;

/*
 * Who talks to whom: the parent to everyone, and the pairs of the
 * frames in frames.h.
 */
static int
proc_talks(enum proc_id a, enum proc_id b)
{
	static const enum proc_id pairs[][2] = {
		{ PROC_NETWORK, PROC_LOOKUP },
		{ PROC_NETWORK, PROC_QUEUE },
		{ PROC_QUEUE, PROC_SCHEDULER },
		{ PROC_QUEUE, PROC_LOOKUP },	/* routing of bounces */
		{ PROC_CONTROL, PROC_LOOKUP },
		{ PROC_CONTROL, PROC_QUEUE },
		{ PROC_CONTROL, PROC_SCHEDULER },
		{ PROC_CONTROL, PROC_NETWORK },
	};
	size_t	 i;

	if (a == b)
		return 0;
	if (a == PROC_PARENT || b == PROC_PARENT)
		return 1;
	for (i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++)
		if ((pairs[i][0] == a && pairs[i][1] == b) ||
		    (pairs[i][0] == b && pairs[i][1] == a))
			return 1;
	return 0;
}

const char *
proc_name(enum proc_id id)
{
	if ((int)id < 0 || id >= PROC_MAX)
		return "unknown";
	return proc_names[id];
}

pid_t
proc_pid(enum proc_id id)
{
	if ((int)id < 0 || id >= PROC_MAX)
		return -1;
	if (id == PROC_PARENT)
		return proc_self == PROC_PARENT ? getpid() : getppid();
	return pids[id];
}

/*
 * Non-blocking so that no process ever waits on a slow peer; close on
 * exec so that helper programs inherit none of them.
 */
static void
proc_channels_make(void)
{
	int	 a, b, sv[2];

	for (a = 0; a < PROC_MAX; a++)
		for (b = 0; b < PROC_MAX; b++)
			chan[a][b] = -1;
	for (a = 0; a < PROC_MAX; a++)
		for (b = a + 1; b < PROC_MAX; b++) {
			if (!proc_talks(a, b))
				continue;
			if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
			    SOCK_CLOEXEC, 0, sv) == -1)
				fatal("socketpair %s<->%s", proc_name(a),
				    proc_name(b));
			chan[a][b] = sv[0];
			chan[b][a] = sv[1];
		}
	chan_made = 1;
}

/* Close every end that is not self's, including others' parent ends. */
static void
proc_keep_own_ends(enum proc_id self)
{
	int	 a, b;

	if (!chan_made)
		return;
	for (a = 0; a < PROC_MAX; a++)
		for (b = 0; b < PROC_MAX; b++) {
			if (a == (int)self || chan[a][b] == -1)
				continue;
			close(chan[a][b]);
			chan[a][b] = -1;
		}
}

void
proc_spawn_all(void)
{
	static void	(*const mains[PROC_MAX])(void) = {
		[PROC_CONTROL] = control_main,
		[PROC_LOOKUP] = lookup_main,
		[PROC_QUEUE] = queue_main,
		[PROC_SCHEDULER] = scheduler_main,
		[PROC_NETWORK] = network_main,
	};
	enum proc_id	 id;
	pid_t		 pid;

	if (proc_self != PROC_PARENT || initialised)
		fatalx("proc_spawn_all: called twice or from a child");
	proc_channels_make();
	for (id = PROC_PARENT + 1; id < PROC_MAX; id++) {
		switch (pid = fork()) {
		case -1:
			fatal("fork %s", proc_name(id));
		case 0:
			proc_child(id);
			mains[id]();
			/* NOTREACHED */
			fatalx("%s: main returned", proc_name(id));
		default:
			pids[id] = pid;
		}
	}
}

/*
 * First steps of a child: its name, the signals a terminal sends to the
 * whole process group (the parent alone decides when to stop), an empty
 * signal mask, its own channels.
 */
static void
proc_child(enum proc_id id)
{
	sigset_t	 set;
	int		 i;

	proc_self = id;
	for (i = 0; i < PROC_MAX; i++)
		pids[i] = 0;
	proc_set_title(id);
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGCHLD, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	/* The parent blocks signals around the forks; helpers inherit this. */
	sigemptyset(&set);
	if (sigprocmask(SIG_SETMASK, &set, NULL) == -1)
		fatal("%s: sigprocmask", proc_name(id));
	proc_init(id);
}

/* "smtpd: queue" in ps, "smtpd-queue" for pgrep and top. */
static void
proc_set_title(enum proc_id id)
{
	char	 comm[16];

	setproctitle("%s", proc_name(id));
	snprintf(comm, sizeof(comm), "smtpd-%s", proc_name(id));
	(void)prctl(PR_SET_NAME, comm, 0, 0, 0);
}

void
proc_init(enum proc_id self)
{
	enum proc_id	 id;
	struct peer	*p;

	if (initialised) {
		if (self != proc_self)
			fatalx("proc_init(%s) in process %s", proc_name(self),
			    proc_name(proc_self));
		return;
	}
	proc_self = self;
	proc_keep_own_ends(self);
	if ((proc_base = event_base_new()) == NULL)
		fatalx("%s: event_base_new failed", proc_name(self));
	for (id = 0; id < PROC_MAX; id++) {
		p = &peers[id];
		p->fd = chan_made ? chan[self][id] : -1;
		p->ibuf = NULL;
		p->writing = 0;
		if (p->fd == -1)
			continue;
		if ((p->ibuf = imsgbuf_new(p->fd)) == NULL)
			fatal("%s: imsgbuf_new", proc_name(self));
		event_assign(&p->ev_read, proc_base, p->fd,
		    EV_READ | EV_PERSIST, proc_on_read, &peers[id]);
		event_assign(&p->ev_write, proc_base, p->fd, EV_WRITE,
		    proc_on_write, &peers[id]);
	}
	initialised = 1;
}

void
proc_loop(proc_dispatch_cb dispatch)
{
	enum proc_id	 id;

	if (!initialised)
		fatalx("proc_loop before proc_init");
	if (proc_self != PROC_PARENT && smtpd_env.privileged &&
	    (geteuid() == 0 || getuid() == 0))
		fatalx("%s: still root: proc_drop_privileges was not called",
		    proc_name(proc_self));
	dispatch_cb = dispatch;
	for (id = 0; id < PROC_MAX; id++)
		if (peers[id].ibuf != NULL &&
		    event_add(&peers[id].ev_read, NULL) == -1)
			fatalx("%s: event_add", proc_name(proc_self));
	event_base_dispatch(proc_base);
	/* Nothing left to wait for: every channel is gone. */
	if (proc_self == PROC_PARENT)
		fatalx("parent: event loop ended");
	exit(0);
}

void
proc_send(enum proc_id to, uint32_t type, const struct msg *body, int fd)
{
	struct peer	*p;

	if ((int)to < 0 || to >= PROC_MAX || !initialised)
		fatalx("proc_send: bad destination or not initialised");
	p = &peers[to];
	if (!proc_talks(proc_self, to))
		fatalx("proc_send: %s has no channel to %s",
		    proc_name(proc_self), proc_name(to));
	if (body != NULL && msg_error(body) != 0)
		fatalx("proc_send: %s -> %s frame %u: body: %s",
		    proc_name(proc_self), proc_name(to), type,
		    strerror(msg_error(body)));
	if (p->ibuf == NULL) {
		/* The peer is gone; we are about to go down as well. */
		if (fd != -1)
			close(fd);
		return;
	}
	if (imsg_compose(p->ibuf, type, 0, 0, fd,
	    body != NULL ? body->buf : NULL,
	    body != NULL ? body->len : 0) == -1)
		fatal("proc_send: %s -> %s frame %u", proc_name(proc_self),
		    proc_name(to), type);
	log_trace(TRACE_IMSG, "imsg: %s -> %s: type %u, %zu bytes%s",
	    proc_name(proc_self), proc_name(to), type,
	    body != NULL ? body->len : 0, fd != -1 ? ", fd" : "");
	if (!p->writing) {
		if (event_add(&p->ev_write, NULL) == -1)
			fatalx("proc_send: event_add");
		p->writing = 1;
	}
}

static void
proc_on_write(int fd, short events, void *arg)
{
	struct peer	*p = arg;
	enum proc_id	 id = (enum proc_id)(p - peers);

	p->writing = 0;
	switch (imsgbuf_write(p->ibuf)) {
	case 1:
		return;
	case 0:
		if (event_add(&p->ev_write, NULL) == -1)
			fatalx("%s: event_add", proc_name(proc_self));
		p->writing = 1;
		return;
	default:
		if (errno == EAGAIN || errno == EINTR) {
			if (event_add(&p->ev_write, NULL) == -1)
				fatalx("%s: event_add", proc_name(proc_self));
			p->writing = 1;
			return;
		}
		proc_peer_closed(id, strerror(errno));
	}
}

static void
proc_on_read(int fd, short events, void *arg)
{
	struct peer		*p = arg;
	enum proc_id		 id = (enum proc_id)(p - peers);
	struct imsg		 imsg;
	struct msg_reader	 reader;
	struct timespec		 t0, t1;
	ssize_t			 n;
	int			 r, profiling;

	n = imsgbuf_read(p->ibuf);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n == -1) {
		proc_peer_closed(id, strerror(errno));
		return;
	}
	if (n == 0) {
		proc_peer_closed(id, "closed");
		return;
	}
	for (;;) {
		r = imsg_get(p->ibuf, &imsg);
		if (r == -1)
			fatalx("%s: bad frame from %s: %s",
			    proc_name(proc_self), proc_name(id),
			    imsgbuf_error(p->ibuf));
		if (r == 0)
			return;
		log_trace(TRACE_IMSG, "imsg: %s <- %s: type %u, %zu bytes%s",
		    proc_name(proc_self), proc_name(id), imsg.hdr.type,
		    imsg.datalen, imsg.fd != -1 ? ", fd" : "");
		/* Only while profiling: no clock reads otherwise. */
		profiling = (log_gettrace() & PROFILE_IMSG) != 0;
		if (profiling)
			clock_gettime(CLOCK_MONOTONIC, &t0);
		msg_reader_init(&reader, imsg.data, imsg.datalen);
		if (!proc_builtin(id, &imsg, &reader))
			dispatch_cb(id, &imsg, &reader);
		if (profiling) {
			clock_gettime(CLOCK_MONOTONIC, &t1);
			log_trace(PROFILE_IMSG, "profile: imsg: %s <- %s: %s "
			    "(%u), %zu bytes, %lld us", proc_name(proc_self),
			    proc_name(id), proc_frame_name(imsg.hdr.type),
			    imsg.hdr.type, imsg.datalen,
			    (long long)(t1.tv_sec - t0.tv_sec) * 1000000 +
			    (t1.tv_nsec - t0.tv_nsec) / 1000);
		}
		imsg_free(&imsg);
		/* dispatch may have dropped the channel (parent) */
		if (p->ibuf == NULL)
			return;
	}
}

/* For the profile lines; a frame added since is shown as "frame". */
const char *
proc_frame_name(uint32_t type)
{
	static const struct {
		uint32_t	 type;
		const char	*name;
	} names[] = {
		{ IMSG_RECV_CREATE, "RECV_CREATE" },
		{ IMSG_RECV_SUBMIT, "RECV_SUBMIT" },
		{ IMSG_RECV_COMMIT, "RECV_COMMIT" },
		{ IMSG_RECV_ROLLBACK, "RECV_ROLLBACK" },
		{ IMSG_LOOKUP_RCPT, "LOOKUP_RCPT" },
		{ IMSG_LOOKUP_RCPT_ENVELOPE, "LOOKUP_RCPT_ENVELOPE" },
		{ IMSG_LOOKUP_RCPT_DONE, "LOOKUP_RCPT_DONE" },
		{ IMSG_LOOKUP_RDNS, "LOOKUP_RDNS" },
		{ IMSG_LOOKUP_UPDATE_TABLE, "LOOKUP_UPDATE_TABLE" },
		{ IMSG_SCHED_ENVELOPE, "SCHED_ENVELOPE" },
		{ IMSG_SCHED_COMMIT, "SCHED_COMMIT" },
		{ IMSG_SCHED_ROLLBACK, "SCHED_ROLLBACK" },
		{ IMSG_SCHED_DELIVER, "SCHED_DELIVER" },
		{ IMSG_SCHED_EXPIRE, "SCHED_EXPIRE" },
		{ IMSG_SCHED_DELIVERED, "SCHED_DELIVERED" },
		{ IMSG_SCHED_TEMPFAIL, "SCHED_TEMPFAIL" },
		{ IMSG_SCHED_PERMFAIL, "SCHED_PERMFAIL" },
		{ IMSG_SCHED_REMOVED, "SCHED_REMOVED" },
		{ IMSG_SCHED_LIST, "SCHED_LIST" },
		{ IMSG_MDA_DELIVER, "MDA_DELIVER" },
		{ IMSG_MDA_FORK, "MDA_FORK" },
		{ IMSG_MDA_DONE, "MDA_DONE" },
		{ IMSG_MDA_RESULT, "MDA_RESULT" },
		{ IMSG_CTL_REQUEST, "CTL_REQUEST" },
		{ IMSG_CTL_REPLY, "CTL_REPLY" },
		{ IMSG_CTL_SMTP_SESSION, "CTL_SMTP_SESSION" },
		{ IMSG_CTL_STAT, "CTL_STAT" },
		{ IMSG_PARENT_SHUTDOWN, "PARENT_SHUTDOWN" },
		{ IMSG_PARENT_LOG_VERBOSE, "PARENT_LOG_VERBOSE" },
		{ IMSG_PARENT_TRACE, "PARENT_TRACE" },
	};
	size_t	 i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].type == type)
			return names[i].name;
	return "frame";
}

/*
 * The parent's orders every child obeys the same way.  Returns 1 when
 * the frame was one of them.
 */
static int
proc_builtin(enum proc_id from, struct imsg *imsg, struct msg_reader *r)
{
	int32_t		 verbose;
	uint32_t	 mask;

	if (proc_self == PROC_PARENT || from != PROC_PARENT)
		return 0;
	switch (imsg->hdr.type) {
	case IMSG_PARENT_SHUTDOWN:
		exit(0);
	case IMSG_PARENT_LOG_VERBOSE:
		if (msg_get_int32(r, &verbose) == -1 || msg_end(r) == -1)
			fatalx("%s: bad IMSG_PARENT_LOG_VERBOSE from parent: "
			    "%s", proc_name(proc_self), msg_reader_error(r));
		log_setverbose(verbose);
		break;
	case IMSG_PARENT_TRACE:
		if (msg_get_uint32(r, &mask) == -1 || msg_end(r) == -1)
			fatalx("%s: bad IMSG_PARENT_TRACE from parent: %s",
			    proc_name(proc_self), msg_reader_error(r));
		log_settrace(mask);
		break;
	default:
		return 0;
	}
	if (imsg->fd != -1)
		close(imsg->fd);
	return 1;
}

/*
 * A child exits quietly: the daemon is going down, and the parent
 * reports which process started it.  The parent only drops the channel
 * and lets its SIGCHLD handling tell what happened.
 */
static void
proc_peer_closed(enum proc_id id, const char *why)
{
	struct peer	*p = &peers[id];

	if (proc_self != PROC_PARENT)
		exit(0);
	if (strcmp(why, "shutdown") != 0)
		log_debug("parent: channel to %s: %s", proc_name(id), why);
	event_del(&p->ev_read);
	event_del(&p->ev_write);
	p->writing = 0;
	imsgbuf_free(p->ibuf);
	p->ibuf = NULL;
	close(p->fd);
	p->fd = -1;
}

/*
 * Parent only, at shutdown: push what the sockets take now (never wait:
 * a hung child must not hang the parent), then close every channel so
 * that each child sees the end.
 */
void
proc_close_all(void)
{
	enum proc_id	 id;
	struct peer	*p;

	for (id = 0; id < PROC_MAX; id++) {
		p = &peers[id];
		if (p->ibuf == NULL)
			continue;
		(void)imsgbuf_write(p->ibuf);
		proc_peer_closed(id, "shutdown");
	}
}

void
proc_drop_privileges(const char *chroot_dir)
{
	struct stat	 sb;
	uid_t		 uid = smtpd_env.smtpd_uid;
	gid_t		 gid = smtpd_env.smtpd_gid;

	if (!smtpd_env.privileged)
		return;
	if (chroot_dir != NULL) {
		if (stat(chroot_dir, &sb) == -1)
			fatal("%s: %s", proc_name(proc_self), chroot_dir);
		if (sb.st_uid != 0 || (sb.st_mode & (S_IWGRP | S_IWOTH)))
			fatalx("%s: %s must be owned by root and not "
			    "writable by others", proc_name(proc_self),
			    chroot_dir);
		if (chroot(chroot_dir) == -1)
			fatal("%s: chroot %s", proc_name(proc_self),
			    chroot_dir);
		if (chdir("/") == -1)
			fatal("%s: chdir /", proc_name(proc_self));
	}
	if (setgroups(1, &gid) == -1)
		fatal("%s: setgroups", proc_name(proc_self));
	if (setresgid(gid, gid, gid) == -1)
		fatal("%s: setresgid", proc_name(proc_self));
	if (setresuid(uid, uid, uid) == -1)
		fatal("%s: setresuid", proc_name(proc_self));
	/* Paranoia: no way back. */
	if (uid != 0 && setuid(0) != -1)
		fatalx("%s: could regain root", proc_name(proc_self));
	log_debug("%s: running as uid %u%s%s", proc_name(proc_self),
	    (unsigned int)uid, chroot_dir != NULL ? " in " : "",
	    chroot_dir != NULL ? chroot_dir : "");
}

char *
helper_path(const char *name, char *buf, size_t bufsz)
{
	const char	*dir;
	int		 r;

	if (strchr(name, '/') != NULL) {
		if (strlcpy(buf, name, bufsz) >= bufsz) {
			errno = ENAMETOOLONG;
			return NULL;
		}
		return buf;
	}
	dir = getenv("SMTPD_LIBEXEC");
	if (dir == NULL || *dir == '\0')
		dir = PATH_LIBEXEC;
	r = snprintf(buf, bufsz, "%s/%s", dir, name);
	if (r < 0 || (size_t)r >= bufsz) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	return buf;
}

void
proc_stat(const char *key, int64_t delta)
{
	struct msg	 m;

	if (!initialised || proc_self == PROC_CONTROL ||
	    peers[PROC_CONTROL].ibuf == NULL)
		return;
	/* msg has no signed 64-bit field: two's complement in a UINT64. */
	msg_init(&m);
	msg_add_string(&m, key);
	msg_add_uint64(&m, (uint64_t)delta);
	proc_send(PROC_CONTROL, IMSG_CTL_STAT, &m, -1);
	msg_free(&m);
}
