/*
 * proc.h: the daemon's processes and the channels between them.
 *
 * The parent parses the configuration, then forks one process per job
 * (no exec: they share the binary and the parsed configuration).  Each
 * pair of processes that talk has a socketpair made before the forks;
 * frames are imsg frames with msg bodies, the types in frames.h.
 * Helpers (tables, queue backend, filters) are NOT processes of this
 * list: each is an imsgproc owned by one process (lookup owns tables,
 * queue owns the queue backend, network owns filters).
 */
#ifndef SMTPD_PROC_H
#define SMTPD_PROC_H

#include <sys/types.h>
#include <stdint.h>

#include "smtpd-api.h"

struct smtpd_config;
struct event_base;

enum proc_id {
	PROC_PARENT = 0,
	PROC_CONTROL,
	PROC_LOOKUP,
	PROC_QUEUE,
	PROC_SCHEDULER,
	PROC_NETWORK,
	PROC_MAX
};

/*
 * Everything a process knows about the instance.  Set by the parent
 * before the forks and inherited.
 */
struct smtpd_env {
	struct smtpd_config	*conf;
	const char		*conffile;
	char			 hostname[256];	/* server name: banners,
						   Received, bounces */
	char			 spool[1024];	/* conf->spool, absolute */
	char			 sockpath[1024]; /* control socket */
	int			 foreground;	/* -d */
	int			 privileged;	/* started as root */
	uid_t			 smtpd_uid;	/* _smtpd, or the invoking */
	gid_t			 smtpd_gid;	/* user when not root */
	int			 paused_smtp;	/* -P smtp */
	int			 paused_mda;	/* -P mda */
	time_t			 start_time;
	/*
	 * spool/queue, made by the parent (owned by _smtpd, mode 0700
	 * when root; the spool itself is root's, 0711): the directory to
	 * give the queue backend (argv[1] of queue-fs).
	 */
	char			 queue_dir[1024];
};

extern struct smtpd_env	 smtpd_env;
extern enum proc_id	 proc_self;
extern struct event_base *proc_base;

typedef void	(*proc_dispatch_cb)(enum proc_id from, struct imsg *,
		    struct msg_reader *);

/*
 * Parent only: make the channels, fork every process (each runs its
 * *_main below, which never returns), keep the parent's ends.
 */
void		 proc_spawn_all(void);
/* pid of a process, from the parent's point of view */
pid_t		 proc_pid(enum proc_id);
/* Parent only, at shutdown: flush and close every channel. */
void		 proc_close_all(void);

/*
 * In every process: after its own set-up, hand frames from every peer
 * to dispatch and run the event loop.  A peer that closes its channel
 * means the daemon is going down: the process exits quietly.  A frame
 * that cannot be decoded is a bug: fatalx with the peer's name.
 */
void		 proc_loop(proc_dispatch_cb dispatch) __attribute__((noreturn));
/* Set-up before proc_loop: create proc_base, keep only own channels. */
void		 proc_init(enum proc_id self);
/*
 * Queue a frame to a peer; it is written from the event loop.  fd (or
 * -1) is passed along and closed here once sent.  A process that has
 * no channel to `to' is a programming error (fatalx).
 */
void		 proc_send(enum proc_id to, uint32_t type,
		    const struct msg *body, int fd);
const char	*proc_name(enum proc_id);
/* "RECV_CREATE" for IMSG_RECV_CREATE ...; "frame" for an unknown type. */
const char	*proc_frame_name(uint32_t type);
/*
 * Privilege drop for the unprivileged processes; chroot if dir.  Call
 * it in each *_main once the privileged set-up is done (control binds
 * its socket, network its ports first).  A no-op when smtpd was not
 * started as root.  control and scheduler pass PROC_CHROOT_DIR; the
 * processes that spawn helpers (lookup, queue, network) pass NULL, so
 * that a helper that dies can be exec'd again.  proc_loop refuses to
 * run a child process that is still root.
 */
void		 proc_drop_privileges(const char *chroot_dir);
#define PROC_CHROOT_DIR		"/var/empty"

/*
 * The frames IMSG_PARENT_SHUTDOWN, IMSG_PARENT_LOG_VERBOSE and
 * IMSG_PARENT_TRACE are handled by proc_loop itself in every child
 * (exit(0), log_setverbose, log_settrace): they never reach dispatch.
 * A process that must clean up at exit uses atexit(3).
 */

/*
 * Where the helper program `name' (e.g. "table-static", "queue-fs")
 * lives: $SMTPD_LIBEXEC/name when that environment variable is set and
 * not empty, else PATH_LIBEXEC/name.  A name holding a '/' is returned
 * as it is.  Returns buf, or NULL (errno ENAMETOOLONG) if it does not
 * fit.
 */
char		*helper_path(const char *name, char *buf, size_t bufsz);

/*
 * Count an event for smtpctl show stats / monitor: sends IMSG_CTL_STAT
 * (key, delta) to control.  A no-op in control itself and where there
 * is no channel to control.  Keys are dotted words: "smtp.session",
 * "mda.delivery.ok", ...
 */
void		 proc_stat(const char *key, int64_t delta);

/* Each process's entry point, in the file named for it. */
void		 control_main(void) __attribute__((noreturn));
void		 lookup_main(void) __attribute__((noreturn));
void		 queue_main(void) __attribute__((noreturn));
void		 scheduler_main(void) __attribute__((noreturn));
void		 network_main(void) __attribute__((noreturn));

#endif /* SMTPD_PROC_H */
