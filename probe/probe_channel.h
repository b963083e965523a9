/*
 * probe_channel.h: channels smtpd-probe makes itself (-S, and helpers
 * wrapped in a debugger); see probe_channel.c for why.
 */
#ifndef PROBE_CHANNEL_H
#define PROBE_CHANNEL_H

#include <signal.h>
#include <sys/types.h>

/* Listen on path, accept one helper: its descriptor, or -1. */
int		 probe_listen_accept(const char *path, int deadline_ms,
		    volatile sig_atomic_t *interrupted);
/* Removes the -S socket if still there; async-signal-safe. */
void		 probe_socket_cleanup(void);
/* Fork+exec argv with the channel on descriptor 3: our end, or -1. */
int		 probe_spawn(char **argv, pid_t *pid);
/* Wait for it to exit; its wait status, or -1. */
int		 probe_wait(pid_t pid);

#endif /* PROBE_CHANNEL_H */
