/*
 * parent_mda.c: local deliveries, forked by the parent.
 *
 * The network process cannot become another user; the parent can.  For
 * each IMSG_MDA_FORK it forks a child that becomes the recipient (when
 * smtpd runs as root), goes to the user's home and runs delivery_run()
 * with the message on its standard input.  The child tells why it
 * failed on a pipe and says how with its exit status; the parent turns
 * both into IMSG_MDA_DONE.  Any number run at once, each with a
 * deadline.
 */
#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <event.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "smtpd-api.h"
#include "config.h"
#include "delivery.h"
#include "envelope.h"
#include "frames.h"
#include "parent_mda.h"
#include "proc.h"

/* The child's descriptors: the message on stdin, the reason pipe here. */
#define MDA_REASON_FD	3

struct delivery {
	TAILQ_ENTRY(delivery)	 entry;
	pid_t			 pid;
	uint64_t		 evpid;
	int			 reasonfd;	/* -1 at end of file */
	struct event		 ev_reason;
	struct event		 ev_timeout;
	char			 reason[ENVELOPE_ERROR_MAX];
	size_t			 reasonlen;
	int			 timed_out;
	time_t			 started;
};
TAILQ_HEAD(delivery_list, delivery);

static void	parent_mda_answer(uint64_t, int32_t, const char *);
static void	parent_mda_child(const struct envelope *, enum mda_method,
		    const char *, const char *, int, int)
		    __attribute__((noreturn));
static void	parent_mda_make_mbox(const struct envelope *, const char *);
static int	parent_mda_groups(const struct envelope *);
static void	parent_mda_child_fail(int, int, const char *, ...)
		    __attribute__((noreturn, __format__(printf, 3, 4)));
static int	parent_mda_fd_above(int, int);
static void	parent_mda_on_reason(int, short, void *);
static void	parent_mda_on_timeout(int, short, void *);
static void	parent_mda_drain(struct delivery *);
static void	parent_mda_reason_line(const char *, size_t, char *, size_t);
static void	parent_mda_free(struct delivery *);

static struct delivery_list	 deliveries =
    TAILQ_HEAD_INITIALIZER(deliveries);
static int			 ndeliveries;
static int			 timeout_seconds = PARENT_MDA_TIMEOUT;

/* SMTPD_MDA_TIMEOUT (seconds) shortens the deadline, for the tests. */
void
parent_mda_init(void)
{
	const char	*s;
	const char	*errstr;
	long long	 v;

	/* EXTENSION and LOCAL of mda commands split at the configured one */
	if (smtpd_env.conf != NULL)
		delivery_sub_addr_delim = smtpd_env.conf->sub_addr_delim;
	if ((s = getenv("SMTPD_MDA_TIMEOUT")) == NULL || *s == '\0')
		return;
	v = strtonum(s, 1, 24 * 3600, &errstr);
	if (errstr != NULL)
		fatalx("SMTPD_MDA_TIMEOUT=%s: %s", s, errstr);
	timeout_seconds = (int)v;
}

int
parent_mda_running(void)
{
	return ndeliveries;
}

void
parent_mda_fork(struct imsg *imsg, struct msg_reader *r)
{
	struct envelope	 env;
	struct delivery	*d;
	struct timeval	 tv;
	const void	*text;
	size_t		 textlen;
	uint64_t	 evpid;
	char		*method = NULL, *buffer = NULL, *wrapper = NULL;
	char		 err[256];
	enum mda_method	 mda_method;
	int		 fd = imsg->fd, pfd[2];

	if (msg_get_id(r, &evpid) == -1 ||
	    msg_get_data(r, &text, &textlen) == -1 ||
	    msg_get_string(r, &method) == -1 ||
	    msg_get_string(r, &buffer) == -1 ||
	    msg_get_string(r, &wrapper) == -1 ||
	    msg_end(r) == -1)
		fatalx("parent: bad IMSG_MDA_FORK from network: %s",
		    msg_reader_error(r));
	if (envelope_load(&env, text, textlen, err, sizeof(err)) == -1)
		fatalx("parent: IMSG_MDA_FORK from network: envelope: %s",
		    err);
	if (fd == -1) {
		log_warnx("%016" PRIx64 " mda: no message descriptor came "
		    "with the delivery request", evpid);
		parent_mda_answer(evpid, -1,
		    "4.3.0 internal error: no message");
		goto done;
	}
	/* network's mistake: no reason to bounce the mail */
	if ((mda_method = delivery_method(method)) == M_NONE) {
		log_warnx("%016" PRIx64 " mda: unknown method \"%s\"", evpid,
		    method);
		parent_mda_answer(evpid, -1, "4.3.0 internal error: unknown "
		    "delivery method");
		goto done;
	}
	if (pipe2(pfd, O_CLOEXEC) == -1) {
		log_warn("%016" PRIx64 " mda: pipe", evpid);
		parent_mda_answer(evpid, -1, "cannot start the delivery");
		goto done;
	}
	if ((d = calloc(1, sizeof(*d))) == NULL) {
		log_warn("%016" PRIx64 " mda", evpid);
		close(pfd[0]);
		close(pfd[1]);
		parent_mda_answer(evpid, -1, "cannot start the delivery");
		goto done;
	}
	switch (d->pid = fork()) {
	case -1:
		log_warn("%016" PRIx64 " mda: fork", evpid);
		close(pfd[0]);
		close(pfd[1]);
		free(d);
		parent_mda_answer(evpid, -1, "cannot start the delivery");
		goto done;
	case 0:
		close(pfd[0]);
		free(d);	/* the parent's record, no use here */
		env.id = evpid;	/* for the child's log lines */
		parent_mda_child(&env, mda_method, buffer, wrapper, fd,
		    pfd[1]);
	}
	close(pfd[1]);
	if (fcntl(pfd[0], F_SETFL, O_NONBLOCK) == -1)
		log_warn("mda: fcntl");
	d->evpid = evpid;
	d->reasonfd = pfd[0];
	d->started = time(NULL);
	event_assign(&d->ev_reason, proc_base, d->reasonfd,
	    EV_READ | EV_PERSIST, parent_mda_on_reason, d);
	event_add(&d->ev_reason, NULL);
	evtimer_assign(&d->ev_timeout, proc_base, parent_mda_on_timeout, d);
	tv.tv_sec = timeout_seconds;
	tv.tv_usec = 0;
	evtimer_add(&d->ev_timeout, &tv);
	TAILQ_INSERT_TAIL(&deliveries, d, entry);
	ndeliveries++;
	log_debug("%016" PRIx64 " mda: delivery process %d for %s (%s)",
	    evpid, (int)d->pid, env.mda_user, method);
done:
	if (fd != -1)
		close(fd);
	free(method);
	free(buffer);
	free(wrapper);
}

static void
parent_mda_answer(uint64_t evpid, int32_t result, const char *text)
{
	struct msg	 m;

	msg_init(&m);
	msg_add_id(&m, evpid);
	msg_add_int32(&m, result);
	msg_add_string(&m, text);
	proc_send(PROC_NETWORK, IMSG_MDA_DONE, &m, -1);
	msg_free(&m);
}

/*
 * The delivery child: a fresh session (so that a timeout kills the
 * command it may run as well), default signals, only the message and
 * the reason pipe open, the user's ids and home.
 */
static void
parent_mda_child(const struct envelope *env, enum mda_method method,
    const char *buffer, const char *wrapper, int msgfd, int reasonfd)
{
	static const int signals[] = {
		SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGPIPE
	};
	sigset_t	 set;
	size_t		 i;
	int		 devnull, status;

	for (i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
		signal(signals[i], SIG_DFL);
	sigemptyset(&set);
	sigprocmask(SIG_SETMASK, &set, NULL);
	(void)setsid();
	setproctitle("delivery %016" PRIx64, env->id);
	(void)prctl(PR_SET_NAME, "smtpd-delivery", 0, 0, 0);

	/* Out of the way of 0, 1 and 3 first, then into place. */
	if ((msgfd = parent_mda_fd_above(msgfd, MDA_REASON_FD)) == -1 ||
	    (reasonfd = parent_mda_fd_above(reasonfd, MDA_REASON_FD)) == -1)
		_exit(EX_OSERR);
	if ((devnull = open("/dev/null", O_RDWR)) == -1 ||
	    (devnull = parent_mda_fd_above(devnull, MDA_REASON_FD)) == -1)
		parent_mda_child_fail(reasonfd, EX_OSERR, "4.3.0 /dev/null: "
		    "%s", strerror(errno));
	if (dup2(msgfd, STDIN_FILENO) == -1 ||
	    dup2(devnull, STDOUT_FILENO) == -1 ||
	    dup2(reasonfd, MDA_REASON_FD) == -1)
		parent_mda_child_fail(reasonfd, EX_OSERR, "4.3.0 dup2: %s",
		    strerror(errno));
	reasonfd = MDA_REASON_FD;
	/* for delivery_run, not for a command it runs */
	(void)fcntl(reasonfd, F_SETFD, FD_CLOEXEC);
	closefrom(MDA_REASON_FD + 1);
	log_init(smtpd_env.foreground, "smtpd");

	if (smtpd_env.privileged) {
		if (env->mda_user[0] == '\0')
			parent_mda_child_fail(reasonfd, EX_TEMPFAIL,
			    "4.3.0 internal error: no user to deliver as");
		if (method == M_MBOX)
			parent_mda_make_mbox(env, buffer);
		if (env->mda_uid == 0)
			log_info("%016" PRIx64 " mda: delivering as root "
			    "(user %s)", env->id, env->mda_user);
		if (parent_mda_groups(env) == -1)
			parent_mda_child_fail(reasonfd, EX_OSERR,
			    "4.3.0 cannot set the groups of %s: %s",
			    env->mda_user, strerror(errno));
		if (setresgid(env->mda_gid, env->mda_gid, env->mda_gid) == -1 ||
		    setresuid(env->mda_uid, env->mda_uid, env->mda_uid) == -1)
			parent_mda_child_fail(reasonfd, EX_OSERR,
			    "4.3.0 cannot become %s (uid %u): %s",
			    env->mda_user, (unsigned int)env->mda_uid,
			    strerror(errno));
	}
	if (env->mda_home[0] == '\0' || chdir(env->mda_home) == -1)
		(void)chdir("/");
	/* Mail is private: what the delivery creates is the user's alone. */
	umask(077);

	status = delivery_run(env, method, buffer, wrapper, STDIN_FILENO,
	    reasonfd);
	_exit(status);
}

/*
 * A user cannot create a mailbox in a root-owned spool such as
 * /var/mail: while still root, create it empty and give it to the user.
 * Only in a directory that is root's and writable by no one else, and
 * never through a symbolic link, so that no user can steer this to a
 * file of their choosing.  Anything unusual: leave it to delivery_run.
 */
static void
parent_mda_make_mbox(const struct envelope *env, const char *path)
{
	struct stat	 sb;
	const char	*base;
	char		 dir[ENVELOPE_PATH_MAX];
	int		 dfd, fd;

	if (path[0] != '/' || (base = strrchr(path, '/')) == NULL ||
	    base[1] == '\0' || (size_t)(base - path) >= sizeof(dir))
		return;
	memcpy(dir, path, base - path);
	dir[base - path] = '\0';
	if (dir[0] == '\0')
		strlcpy(dir, "/", sizeof(dir));
	base++;
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1)
		return;
	if (fstat(dfd, &sb) == -1 || sb.st_uid != 0 ||
	    (sb.st_mode & S_IWOTH) != 0) {
		close(dfd);
		return;
	}
	fd = openat(dfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	if (fd != -1) {
		if (fchown(fd, env->mda_uid, env->mda_gid) == -1)
			log_warn("mda: chown %s", path);
		else
			log_info("%016" PRIx64 " mda: created mailbox %s",
			    env->id, path);
		close(fd);
	}
	close(dfd);
}

/*
 * The supplementary groups: a system account's own (initgroups), but
 * only the gid for anybody else, such as a virtual user of a userbase
 * table: its name may be that of a system account whose groups (adm,
 * shadow, ssl-cert...) this uid must not get.  0, or -1 with errno.
 */
static int
parent_mda_groups(const struct envelope *env)
{
	struct passwd	*pw;

	if ((pw = getpwnam(env->mda_user)) != NULL &&
	    pw->pw_uid == env->mda_uid &&
	    initgroups(env->mda_user, env->mda_gid) == 0)
		return 0;
	return setgroups(1, &env->mda_gid);
}

/* Before the child has become anybody: say why, and end. */
static void
parent_mda_child_fail(int reasonfd, int status, const char *fmt, ...)
{
	char	 line[ENVELOPE_ERROR_MAX];
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n > 0) {
		if ((size_t)n > sizeof(line) - 2)
			n = sizeof(line) - 2;
		line[n++] = '\n';
		(void)write(reasonfd, line, n);
	}
	_exit(status);
}

/* fd itself when above min, else a copy that is (the original closed). */
static int
parent_mda_fd_above(int fd, int min)
{
	int	 nfd;

	if (fd > min)
		return fd;
	if ((nfd = fcntl(fd, F_DUPFD, min + 1)) == -1)
		return -1;
	close(fd);
	return nfd;
}

static void
parent_mda_on_reason(int fd, short events, void *arg)
{
	parent_mda_drain(arg);
}

/* Keep what fits of the reason text; the rest is read and dropped. */
static void
parent_mda_drain(struct delivery *d)
{
	char	 buf[1024];
	size_t	 room;
	ssize_t	 n;

	while (d->reasonfd != -1) {
		n = read(d->reasonfd, buf, sizeof(buf));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return;
		if (n <= 0) {
			event_del(&d->ev_reason);
			close(d->reasonfd);
			d->reasonfd = -1;
			return;
		}
		room = sizeof(d->reason) - 1 - d->reasonlen;
		if ((size_t)n < room)
			room = (size_t)n;
		memcpy(d->reason + d->reasonlen, buf, room);
		d->reasonlen += room;
		d->reason[d->reasonlen] = '\0';
	}
}

/* Killing the session takes the command the delivery runs along. */
static void
parent_mda_on_timeout(int fd, short events, void *arg)
{
	struct delivery	*d = arg;

	log_warnx("%016" PRIx64 " mda: delivery process %d still running "
	    "after %ds: killing it", d->evpid, (int)d->pid, timeout_seconds);
	d->timed_out = 1;
	(void)kill(-d->pid, SIGKILL);
	(void)kill(d->pid, SIGKILL);
}

/* The first non-empty line, printable, without its end of line. */
static void
parent_mda_reason_line(const char *text, size_t len, char *out,
    size_t outsz)
{
	size_t	 i, o = 0;

	while (len > 0 && (*text == '\n' || *text == '\r')) {
		text++;
		len--;
	}
	for (i = 0; i < len && text[i] != '\n' && o + 1 < outsz; i++) {
		if (text[i] == '\r')
			continue;
		out[o++] = ((unsigned char)text[i] < 0x20 ||
		    (unsigned char)text[i] == 0x7f) ? '?' : text[i];
	}
	out[o] = '\0';
}

int
parent_mda_reaped(pid_t pid, int status)
{
	struct delivery	*d;
	char		 reason[ENVELOPE_ERROR_MAX];
	char		 text[ENVELOPE_ERROR_MAX];
	int32_t		 result;

	TAILQ_FOREACH(d, &deliveries, entry)
		if (d->pid == pid)
			break;
	if (d == NULL)
		return 0;
	/*
	 * Whatever the child wrote is in the pipe now; do not wait for the
	 * end of file, which a command left in the background may delay.
	 */
	parent_mda_drain(d);
	parent_mda_reason_line(d->reason, d->reasonlen, reason,
	    sizeof(reason));

	if (d->timed_out) {
		result = -1;
		snprintf(text, sizeof(text), "4.3.0 delivery timed out after "
		    "%ds", timeout_seconds);
	} else if (WIFSIGNALED(status)) {
		result = -1;
		snprintf(text, sizeof(text), "4.3.0 delivery killed by signal "
		    "%d", WTERMSIG(status));
	} else if (WIFEXITED(status) && WEXITSTATUS(status) == EX_OK) {
		result = 1;
		strlcpy(text, reason[0] != '\0' ? reason : "2.0.0 Delivered",
		    sizeof(text));
	} else if (WIFEXITED(status) && (WEXITSTATUS(status) == EX_TEMPFAIL ||
	    WEXITSTATUS(status) == EX_OSERR)) {
		result = -1;
		if (reason[0] != '\0')
			strlcpy(text, reason, sizeof(text));
		else
			snprintf(text, sizeof(text), "4.3.0 temporary "
			    "failure (exit status %d)", WEXITSTATUS(status));
	} else {
		result = 0;
		if (reason[0] != '\0')
			strlcpy(text, reason, sizeof(text));
		else
			snprintf(text, sizeof(text), "5.3.0 permanent "
			    "failure (exit status %d)", WIFEXITED(status) ?
			    WEXITSTATUS(status) : -1);
	}
	log_debug("%016" PRIx64 " mda: delivery process %d: result %d: %s",
	    d->evpid, (int)pid, (int)result, text);
	parent_mda_answer(d->evpid, result, text);
	parent_mda_free(d);
	return 1;
}

static void
parent_mda_free(struct delivery *d)
{
	TAILQ_REMOVE(&deliveries, d, entry);
	ndeliveries--;
	evtimer_del(&d->ev_timeout);
	if (d->reasonfd != -1) {
		event_del(&d->ev_reason);
		close(d->reasonfd);
	}
	free(d);
}
