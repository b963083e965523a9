/*
 * smtpd.c: the parent process.
 *
 * Reads the flags and the configuration, prepares the spool, forks the
 * other processes (proc.c) and then only watches: signals, a child that
 * dies (which takes the daemon down: nothing is acknowledged before it
 * is durable, so the next start finds everything), and the local
 * deliveries it forks as each user (parent_mda.c).  It stays root, when
 * started as root, for that last job only.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <event.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "smtpd-api.h"
#include "config.h"
#include "frames.h"
#include "parent_mda.h"
#include "proc.h"

#ifndef PATH_SMTPD_CONF
#define PATH_SMTPD_CONF		"/etc/smtpd.conf"
#endif
#define PATH_MAILNAME		"/etc/mailname"
#define PATH_SOCKET_SYSTEM	"/var/run/smtpd.sock"
#define SMTPD_USER		"_smtpd"
#define SHUTDOWN_GRACE		10	/* seconds before SIGKILL */

static void	usage(void) __attribute__((noreturn));
static void	smtpd_trace_flags(const char *);
static void	smtpd_hostname(void);
static void	smtpd_user(void);
static void	smtpd_paths(const char *);
static void	smtpd_absolute(const char *, char *, size_t);
static void	smtpd_mkdirs(const char *);
static void	smtpd_mkdir(const char *, mode_t, uid_t, gid_t);
static void	smtpd_check_running(void);
static void	smtpd_signals(void);
static void	smtpd_on_signal(int, short, void *);
static void	smtpd_reap(void);
static const char *smtpd_status_text(int, char *, size_t);
static void	smtpd_shutdown(int);
static void	smtpd_on_grace(int, short, void *);
static int	smtpd_children_alive(void);
static void	smtpd_finish(void);
static void	parent_dispatch(enum proc_id, struct imsg *,
		    struct msg_reader *);
static void	parent_broadcast(uint32_t, const struct msg *);

extern char	**environ;

static int		 alive[PROC_MAX];
static int		 shutting_down;
static int		 shutdown_requested; /* signal or smtpctl stop */
static int		 lost_logged;	/* "lost child" written */
static int		 first_gone = -1;	/* first process to end */
static int		 exit_status;
static struct event	 ev_grace;
static struct event	*ev_signals[5];

static void
usage(void)
{
	fprintf(stderr, "usage: smtpd [-dFhnv] [-D name=value] [-f file] "
	    "[-P system] [-T trace]\n");
	exit(1);
}

int
main(int argc, char *argv[])
{
	struct macro_list	 macros;
	struct smtpd_config	*conf;
	sigset_t		 set;
	const char		*conffile = PATH_SMTPD_CONF;
	int			 ch, checkonly = 0, foreground = 0;
	int			 verbose = 0;
	int			 syslog_foreground = 0;

	setproctitle_init(argc, argv, environ);
	log_init(1, "smtpd");
	macro_list_init(&macros);

	while ((ch = getopt(argc, argv, "dD:f:FhnP:T:v")) != -1) {
		switch (ch) {
		case 'd':
			foreground = 1;
			break;
		case 'D':
			if (macro_list_define(&macros, optarg) == -1) {
				fprintf(stderr, "smtpd: -D %s: expected "
				    "name=value\n", optarg);
				exit(1);
			}
			break;
		case 'f':
			conffile = optarg;
			break;
		case 'F':
			syslog_foreground = 1;
			break;
		case 'h':
			printf("usage: smtpd [-dFhnv] [-D name=value] "
			    "[-f file] [-P system] [-T trace]\n");
			exit(0);
		case 'n':
			checkonly = 1;
			break;
		case 'P':
			if (strcmp(optarg, "smtp") == 0)
				smtpd_env.paused_smtp = 1;
			else if (strcmp(optarg, "mda") == 0)
				smtpd_env.paused_mda = 1;
			else {
				fprintf(stderr, "smtpd: -P %s: unknown system "
				    "(smtp or mda)\n", optarg);
				exit(1);
			}
			break;
		case 'T':
			smtpd_trace_flags(optarg);
			break;
		case 'v':
			verbose++;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	log_setverbose(verbose);

	conf = config_parse(conffile, &macros, stderr);
	macro_list_clear(&macros);
	if (conf == NULL) {
		if (!checkonly)
			fprintf(stderr, "smtpd: %s: invalid configuration, "
			    "not starting\n", conffile);
		exit(1);
	}
	if (checkonly) {
		if (verbose)
			config_dump(conf, stdout);
		printf("configuration OK\n");
		config_free(conf);
		exit(0);
	}

	smtpd_env.conf = conf;
	smtpd_env.foreground = foreground;
	smtpd_env.start_time = time(NULL);
	smtpd_env.privileged = geteuid() == 0;
	smtpd_user();
	smtpd_hostname();
	smtpd_paths(conffile);
	smtpd_check_running();

	if (!foreground) {
		log_init(0, "smtpd");
		if (!syslog_foreground && daemon(0, 0) == -1)
			fatal("daemon");
	}
	log_info("smtpd starting: hostname %s, spool %s, control socket %s",
	    smtpd_env.hostname, smtpd_env.spool, smtpd_env.sockpath);
	if (!smtpd_env.privileged)
		log_warnx("running unprivileged as %s: no privilege "
		    "separation", getpwuid(getuid()) != NULL ?
		    getpwuid(getuid())->pw_name : "an unknown user");

	/*
	 * Signals wait (blocked) until the event loop can take them; the
	 * children unblock theirs in proc.c.  SIGPIPE is for no one: a
	 * peer that went away shows as EPIPE.
	 */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) == -1)
		fatal("sigprocmask");

	proc_spawn_all();
	for (ch = PROC_PARENT + 1; ch < PROC_MAX; ch++)
		alive[ch] = 1;
	proc_init(PROC_PARENT);
	setproctitle("parent");
	smtpd_signals();
	parent_mda_init();
	if (sigprocmask(SIG_UNBLOCK, &set, NULL) == -1)
		fatal("sigprocmask");

	log_info("smtpd ready: control pid %d, lookup %d, queue %d, "
	    "scheduler %d, network %d", (int)proc_pid(PROC_CONTROL),
	    (int)proc_pid(PROC_LOOKUP), (int)proc_pid(PROC_QUEUE),
	    (int)proc_pid(PROC_SCHEDULER), (int)proc_pid(PROC_NETWORK));
	proc_loop(parent_dispatch);
}

/* -T imsg,smtp: trace subsystems, added to what earlier -T gave. */
static void
smtpd_trace_flags(const char *arg)
{
	char		*copy, *word, *rest;
	uint32_t	 mask, bit;

	if ((copy = strdup(arg)) == NULL)
		fatal("strdup");
	mask = log_gettrace();
	for (rest = copy; (word = strsep(&rest, ",")) != NULL; ) {
		if (*word == '\0')
			continue;
		if ((bit = log_trace_from_name(word)) == 0) {
			fprintf(stderr, "smtpd: -T %s: unknown trace "
			    "subsystem\n", word);
			exit(1);
		}
		mask |= bit;
	}
	free(copy);
	log_settrace(mask);
}

/*
 * The server name: /etc/mailname when there is one (the Debian way),
 * else the host name as it is.  A listener's hostname option overrides
 * it for that listener.  No DNS: start-up never waits on the network.
 */
static void
smtpd_hostname(void)
{
	char	 line[256];
	FILE	*fp;
	size_t	 len;

	if ((fp = fopen(PATH_MAILNAME, "r")) != NULL) {
		if (fgets(line, sizeof(line), fp) != NULL) {
			len = strcspn(line, " \t\r\n");
			line[len] = '\0';
			if (len > 0) {
				strlcpy(smtpd_env.hostname, line,
				    sizeof(smtpd_env.hostname));
				fclose(fp);
				return;
			}
		}
		fclose(fp);
	}
	if (gethostname(smtpd_env.hostname, sizeof(smtpd_env.hostname)) == -1)
		fatal("gethostname");
	smtpd_env.hostname[sizeof(smtpd_env.hostname) - 1] = '\0';
	if (smtpd_env.hostname[0] == '\0')
		strlcpy(smtpd_env.hostname, "localhost",
		    sizeof(smtpd_env.hostname));
}

/* Who the unprivileged processes run as. */
static void
smtpd_user(void)
{
	struct passwd	*pw;

	if (!smtpd_env.privileged) {
		smtpd_env.smtpd_uid = getuid();
		smtpd_env.smtpd_gid = getgid();
		return;
	}
	if ((pw = getpwnam(SMTPD_USER)) == NULL)
		fatalx("user %s missing: create it or run make install",
		    SMTPD_USER);
	if (pw->pw_uid == 0)
		fatalx("user %s must not have uid 0", SMTPD_USER);
	smtpd_env.smtpd_uid = pw->pw_uid;
	smtpd_env.smtpd_gid = pw->pw_gid;
}

static void
smtpd_absolute(const char *path, char *buf, size_t bufsz)
{
	char	 cwd[PATH_MAX];
	int	 r;

	if (path[0] == '/')
		r = snprintf(buf, bufsz, "%s", path);
	else {
		if (getcwd(cwd, sizeof(cwd)) == NULL)
			fatal("getcwd");
		r = snprintf(buf, bufsz, "%s/%s", cwd, path);
	}
	if (r < 0 || (size_t)r >= bufsz)
		fatalx("path too long: %s", path);
}

/*
 * The spool: root's and mode 0711 when privileged, with queue/ owned by
 * _smtpd for the queue backend; everything the user's own otherwise.
 * The control socket is at the system place only for the system
 * instance (root with the default spool).
 */
static void
smtpd_paths(const char *conffile)
{
	static char	 conf_abs[PATH_MAX];
	struct sockaddr_un sun;
	size_t		 len;
	int		 r;

	smtpd_absolute(conffile, conf_abs, sizeof(conf_abs));
	smtpd_env.conffile = conf_abs;
	smtpd_absolute(smtpd_env.conf->spool, smtpd_env.spool,
	    sizeof(smtpd_env.spool));
	len = strlen(smtpd_env.spool);
	while (len > 1 && smtpd_env.spool[len - 1] == '/')
		smtpd_env.spool[--len] = '\0';

	r = snprintf(smtpd_env.queue_dir, sizeof(smtpd_env.queue_dir),
	    "%s/queue", smtpd_env.spool);
	if (r < 0 || (size_t)r >= sizeof(smtpd_env.queue_dir))
		fatalx("spool path too long: %s", smtpd_env.spool);
	if (smtpd_env.privileged &&
	    strcmp(smtpd_env.conf->spool, CONFIG_SPOOL_DEFAULT) == 0)
		r = snprintf(smtpd_env.sockpath, sizeof(smtpd_env.sockpath),
		    "%s", PATH_SOCKET_SYSTEM);
	else
		r = snprintf(smtpd_env.sockpath, sizeof(smtpd_env.sockpath),
		    "%s/smtpd.sock", smtpd_env.spool);
	if (r < 0 || (size_t)r >= sizeof(smtpd_env.sockpath) ||
	    (size_t)r >= sizeof(sun.sun_path))
		fatalx("control socket path too long (a UNIX socket name "
		    "holds %zu bytes): %s/smtpd.sock", sizeof(sun.sun_path) - 1,
		    smtpd_env.spool);

	smtpd_mkdirs(smtpd_env.spool);
	if (smtpd_env.privileged) {
		smtpd_mkdir(smtpd_env.spool, 0711, 0, 0);
		smtpd_mkdir(smtpd_env.queue_dir, 0700, smtpd_env.smtpd_uid,
		    smtpd_env.smtpd_gid);
		smtpd_mkdir(PROC_CHROOT_DIR, 0755, 0, 0);
	} else {
		smtpd_mkdir(smtpd_env.spool, 0700, getuid(), getgid());
		smtpd_mkdir(smtpd_env.queue_dir, 0700, getuid(), getgid());
	}
}

/* The parents of the spool, made as needed (mode 0755). */
static void
smtpd_mkdirs(const char *path)
{
	char	 buf[PATH_MAX];
	char	*p;

	if (strlcpy(buf, path, sizeof(buf)) >= sizeof(buf))
		fatalx("path too long: %s", path);
	for (p = buf + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		if (mkdir(buf, 0755) == -1 && errno != EEXIST)
			fatal("mkdir %s", buf);
		*p = '/';
	}
}

/* Make dir, or bring an existing one to the owner and mode we need. */
static void
smtpd_mkdir(const char *path, mode_t mode, uid_t uid, gid_t gid)
{
	struct stat	 sb;
	int		 created = 0;

	if (mkdir(path, mode) == 0) {
		log_debug("created %s", path);
		created = 1;
	} else if (errno != EEXIST)
		fatal("mkdir %s", path);
	if (stat(path, &sb) == -1)
		fatal("stat %s", path);
	if (!S_ISDIR(sb.st_mode))
		fatalx("%s: not a directory", path);
	if (sb.st_uid != uid || sb.st_gid != gid) {
		if (chown(path, uid, gid) == -1)
			fatal("%s: owned by uid %u, cannot give it to uid %u",
			    path, (unsigned int)sb.st_uid, (unsigned int)uid);
		if (!created)
			log_info("%s: owner set to uid %u gid %u", path,
			    (unsigned int)uid, (unsigned int)gid);
	}
	/* mkdir's mode went through the umask */
	if ((sb.st_mode & 07777) != mode) {
		if (chmod(path, mode) == -1)
			fatal("chmod %s", path);
		if (!created)
			log_info("%s: mode set to %04o", path,
			    (unsigned int)mode);
	}
}

/*
 * One instance per control socket: if something answers there, another
 * smtpd is running.  A socket nobody listens on is what a crash left.
 */
static void
smtpd_check_running(void)
{
	struct sockaddr_un	 sun;
	int			 s;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strlcpy(sun.sun_path, smtpd_env.sockpath, sizeof(sun.sun_path));
	if ((s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		fatal("socket");
	if (connect(s, (struct sockaddr *)&sun, sizeof(sun)) == 0)
		fatalx("another smtpd is running: its control socket %s "
		    "answers", smtpd_env.sockpath);
	if (errno == ECONNREFUSED) {
		if (unlink(smtpd_env.sockpath) == -1 && errno != ENOENT)
			fatal("unlink stale %s", smtpd_env.sockpath);
		log_debug("removed stale control socket %s",
		    smtpd_env.sockpath);
	}
	close(s);
}

static void
smtpd_signals(void)
{
	static const int signals[] = { SIGCHLD, SIGTERM, SIGINT, SIGHUP };
	size_t	 i;

	for (i = 0; i < sizeof(signals) / sizeof(signals[0]); i++) {
		ev_signals[i] = evsignal_new(proc_base, signals[i],
		    smtpd_on_signal, NULL);
		if (ev_signals[i] == NULL ||
		    evsignal_add(ev_signals[i], NULL) == -1)
			fatalx("cannot handle signal %d", signals[i]);
	}
	evtimer_assign(&ev_grace, proc_base, smtpd_on_grace, NULL);
}

static void
smtpd_on_signal(int sig, short events, void *arg)
{
	switch (sig) {
	case SIGCHLD:
		smtpd_reap();
		break;
	case SIGTERM:
	case SIGINT:
		if (!shutting_down) {
			log_info("smtpd stopping: received %s",
			    sig == SIGTERM ? "SIGTERM" : "SIGINT");
			shutdown_requested = 1;
		}
		smtpd_shutdown(0);
		break;
	case SIGHUP:
		log_warnx("SIGHUP: reloading the configuration is not "
		    "supported; restart smtpd to apply changes");
		break;
	}
}

static const char *
smtpd_status_text(int status, char *buf, size_t bufsz)
{
	if (WIFSIGNALED(status))
		snprintf(buf, bufsz, "terminated by signal %d",
		    WTERMSIG(status));
	else if (WIFEXITED(status))
		snprintf(buf, bufsz, "exited with status %d",
		    WEXITSTATUS(status));
	else
		snprintf(buf, bufsz, "stopped (status 0x%x)", status);
	return buf;
}

/*
 * Every child that ended: a delivery is parent_mda's; a daemon process
 * outside a shutdown takes the daemon down.
 */
static void
smtpd_reap(void)
{
	char		 how[64];
	enum proc_id	 id;
	pid_t		 pid;
	int		 status;

	for (;;) {
		pid = waitpid(-1, &status, WNOHANG);
		if (pid == -1 && errno == EINTR)
			continue;
		if (pid <= 0)
			break;
		if (parent_mda_reaped(pid, status))
			continue;
		for (id = PROC_PARENT + 1; id < PROC_MAX; id++)
			if (alive[id] && proc_pid(id) == pid)
				break;
		if (id == PROC_MAX) {
			log_debug("reaped unknown child %d", (int)pid);
			continue;
		}
		alive[id] = 0;
		smtpd_status_text(status, how, sizeof(how));
		/*
		 * A process whose peer died exits quietly (status 0) and
		 * may be reaped before the one that died: only an abnormal
		 * end names the culprit.
		 */
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			log_debug("%s exited", proc_name(id));
		else if (!shutdown_requested) {
			log_warnx("lost child: %s %s", proc_name(id), how);
			lost_logged = 1;
		} else
			log_warnx("%s %s during shutdown", proc_name(id), how);
		if (!shutdown_requested && first_gone == -1)
			first_gone = id;
		if (!shutting_down)
			smtpd_shutdown(1);
	}
	if (shutting_down && !smtpd_children_alive())
		smtpd_finish();
}

static int
smtpd_children_alive(void)
{
	enum proc_id	 id;

	for (id = PROC_PARENT + 1; id < PROC_MAX; id++)
		if (alive[id])
			return 1;
	return 0;
}

/*
 * Tell everyone to stop and close the channels (either is enough for a
 * child); the ones that do not go within the grace period are killed.
 * Deliveries under way are left to finish: their result is lost, so
 * the envelope is tried again at the next start.
 */
static void
smtpd_shutdown(int status)
{
	struct timeval	 tv = { SHUTDOWN_GRACE, 0 };
	enum proc_id	 id;

	if (shutting_down)
		return;
	shutting_down = 1;
	exit_status = status;
	for (id = PROC_PARENT + 1; id < PROC_MAX; id++)
		if (alive[id])
			proc_send(id, IMSG_PARENT_SHUTDOWN, NULL, -1);
	proc_close_all();
	if (!smtpd_children_alive())
		smtpd_finish();
	evtimer_add(&ev_grace, &tv);
}

static void
smtpd_on_grace(int fd, short events, void *arg)
{
	enum proc_id	 id;

	for (id = PROC_PARENT + 1; id < PROC_MAX; id++)
		if (alive[id]) {
			log_warnx("%s did not stop within %ds: killing it",
			    proc_name(id), SHUTDOWN_GRACE);
			kill(proc_pid(id), SIGKILL);
		}
}

static void
smtpd_finish(void)
{
	if (!shutdown_requested && !lost_logged && first_gone != -1)
		log_warnx("lost child: %s exited", proc_name(first_gone));
	if (unlink(smtpd_env.sockpath) == -1 && errno != ENOENT)
		log_warn("unlink %s", smtpd_env.sockpath);
	log_info("smtpd exiting");
	exit(exit_status);
}

static void
parent_dispatch(enum proc_id from, struct imsg *imsg, struct msg_reader *r)
{
	struct msg	 m;
	int32_t		 verbose;
	uint32_t	 mask;

	switch (imsg->hdr.type) {
	case IMSG_MDA_FORK:
		if (from != PROC_NETWORK)
			break;
		parent_mda_fork(imsg, r);
		return;
	case IMSG_PARENT_LOG_VERBOSE:
		if (from != PROC_CONTROL)
			break;
		if (msg_get_int32(r, &verbose) == -1 || msg_end(r) == -1)
			fatalx("parent: bad IMSG_PARENT_LOG_VERBOSE from "
			    "control: %s", msg_reader_error(r));
		log_setverbose(verbose);
		log_info("log level set to %s", verbose ? "verbose" : "brief");
		msg_init(&m);
		msg_add_int32(&m, verbose);
		parent_broadcast(IMSG_PARENT_LOG_VERBOSE, &m);
		msg_free(&m);
		return;
	case IMSG_PARENT_TRACE:
		if (from != PROC_CONTROL)
			break;
		if (msg_get_uint32(r, &mask) == -1 || msg_end(r) == -1)
			fatalx("parent: bad IMSG_PARENT_TRACE from control: "
			    "%s", msg_reader_error(r));
		log_settrace(mask);
		log_info("trace mask set to 0x%04x", (unsigned int)mask);
		msg_init(&m);
		msg_add_uint32(&m, mask);
		parent_broadcast(IMSG_PARENT_TRACE, &m);
		msg_free(&m);
		return;
	case IMSG_PARENT_SHUTDOWN:
		if (from != PROC_CONTROL)
			break;
		if (!shutting_down) {
			log_info("smtpd stopping: requested by smtpctl");
			shutdown_requested = 1;
		}
		smtpd_shutdown(0);
		return;
	}
	fatalx("parent: unexpected frame %u from %s", imsg->hdr.type,
	    proc_name(from));
}

static void
parent_broadcast(uint32_t type, const struct msg *m)
{
	enum proc_id	 id;

	for (id = PROC_PARENT + 1; id < PROC_MAX; id++)
		if (alive[id])
			proc_send(id, type, m, -1);
}
