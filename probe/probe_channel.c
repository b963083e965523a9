/*
 * probe_channel.c: channels smtpd-probe makes itself instead of letting
 * imsgproc spawn the helper.
 *
 * -S: the helper is started by hand (in another terminal, under a
 * debugger...) and connects to a UNIX socket the probe listens on.
 *
 * A helper run under a debugger or a tracer (gdb, valgrind...): the
 * probe forks it itself, with the same layout imsgproc gives (channel
 * on descriptor 3, stdin, stdout and stderr left alone), because when
 * the requests are done it must only close the channel and wait: the
 * helper then exits on its own, valgrind writes its leak report and
 * gdb stays at its prompt until the user quits.  imsgproc_stop would
 * send SIGTERM, which is right for the daemon and wrong here.
 */
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "smtpd-api.h"
#include "probe_channel.h"

static char	 socket_path[sizeof(((struct sockaddr_un *)0)->sun_path)];

int
probe_listen_accept(const char *path, int deadline_ms,
    volatile sig_atomic_t *interrupted)
{
	struct sockaddr_un	 sun;
	struct pollfd		 pfd;
	int			 s, fd, n;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path)) {
		log_warnx("%s: socket path too long", path);
		return -1;
	}
	if ((s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		log_warn("socket");
		return -1;
	}
	if (bind(s, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		log_warn("%s", path);
		close(s);
		return -1;
	}
	strlcpy(socket_path, path, sizeof(socket_path));
	if (listen(s, 1) == -1) {
		log_warn("listen");
		close(s);
		probe_socket_cleanup();
		return -1;
	}
	fprintf(stderr, "waiting for a helper on %s\n", path);
	pfd.fd = s;
	pfd.events = POLLIN;
	while ((n = poll(&pfd, 1, deadline_ms)) == -1 && errno == EINTR &&
	    !*interrupted)
		;
	if (n == 0)
		log_warnx("no helper connected to %s within %d ms", path,
		    deadline_ms);
	else if (n == -1 && !*interrupted)
		log_warn("poll");
	if (n <= 0) {
		close(s);
		probe_socket_cleanup();
		return -1;
	}
	if ((fd = accept4(s, NULL, NULL, SOCK_CLOEXEC)) == -1)
		log_warn("accept");
	close(s);
	/* One helper per probe: nobody else may connect. */
	probe_socket_cleanup();
	return fd;
}

/* Called from a signal handler too: async-signal-safe calls only. */
void
probe_socket_cleanup(void)
{
	if (socket_path[0] != '\0') {
		unlink(socket_path);
		socket_path[0] = '\0';
	}
}

int
probe_spawn(char **argv, pid_t *pidp)
{
	sigset_t	 mask;
	int		 sp[2], sig;
	pid_t		 pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1) {
		log_warn("socketpair");
		return -1;
	}
	switch ((pid = fork())) {
	case -1:
		log_warn("fork");
		close(sp[0]);
		close(sp[1]);
		return -1;
	case 0:
		for (sig = 1; sig < NSIG; sig++)
			signal(sig, SIG_DFL);
		sigemptyset(&mask);
		sigprocmask(SIG_SETMASK, &mask, NULL);
		if (sp[1] == 3) {
			if (fcntl(3, F_SETFD, 0) == -1)
				_exit(127);
		} else if (dup2(sp[1], 3) == -1)
			_exit(127);
		closefrom(4);
		execvp(argv[0], argv);
		dprintf(STDERR_FILENO, "smtpd-probe: cannot execute %s: %s\n",
		    argv[0], strerror(errno));
		_exit(127);
	default:
		break;
	}
	close(sp[1]);
	*pidp = pid;
	return sp[0];
}

int
probe_wait(pid_t pid)
{
	int	 status;

	while (waitpid(pid, &status, 0) == -1) {
		if (errno != EINTR) {
			log_warn("waitpid");
			return -1;
		}
	}
	/* valgrind --error-exitcode says what it found this way. */
	if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
		log_warnx("helper (pid %ld) exited with status %d", (long)pid,
		    WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		log_warnx("helper (pid %ld) killed by signal %d (%s)",
		    (long)pid, WTERMSIG(status), strsignal(WTERMSIG(status)));
	return status;
}
