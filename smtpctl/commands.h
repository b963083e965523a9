/*
 * commands.h: smtpctl's command line, the words and what they mean.
 *
 * Every word may be abbreviated to a prefix that no other word of the
 * same place starts with ("sh q" is "show queue"; "s" is ambiguous:
 * schedule, show, stop).  A parsed command is what goes to the control
 * socket: the verb and its arguments as smtpd/control.h lists them.
 */
#ifndef SMTPCTL_COMMANDS_H
#define SMTPCTL_COMMANDS_H

#include <stddef.h>
#include <stdio.h>

#define COMMAND_ARGS_MAX	1024

enum command_kind {
	CMD_REQUEST,		/* one request, its replies printed */
	CMD_MONITOR,		/* replies until interrupted */
	CMD_STOP,		/* then wait for the daemon to go */
};

struct command {
	const char		*verb;		/* e.g. "show queue" */
	char			 args[COMMAND_ARGS_MAX];
	enum command_kind	 kind;
};

/*
 * Parse argv (the words after the options).  0, or -1 with err saying
 * what is wrong ("ambiguous command: s (schedule, show, stop)").
 */
int		 command_parse(int argc, char *const argv[], struct command *,
		    char *err, size_t errsz);
/* Every command, one per line, for the usage message. */
void		 command_list(FILE *);

/* "all"; a msgid (1-8 hex digits) or an evpid (9-16): 1, else 0. */
int		 command_valid_id(const char *, int allow_all, int evpid_only);

#endif /* SMTPCTL_COMMANDS_H */
