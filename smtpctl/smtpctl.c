/*
 * smtpctl.c: the administration tool of smtpd, and the programs that
 * share its binary, chosen by the name it is run as: sendmail and
 * send-mail (enqueue.c), mailq, newaliases, makemap (makemap.c).
 */
#include <sys/types.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "smtpd-api.h"
#include "config.h"
#include "client.h"
#include "commands.h"
#include "enqueue.h"
#include "makemap.h"

#define STOP_WAIT	60	/* seconds for smtpd to go after stop */

static int	smtpctl_main(int, char **);
static int	run_command(const char *, const char *, const char *,
		    const struct command *);
static void	print_error(const char *, const char *, size_t);
static void	smtpctl_usage(void) __attribute__((noreturn));

int
main(int argc, char *argv[])
{
	const char	*name;

	if ((name = strrchr(argv[0], '/')) != NULL)
		name++;
	else
		name = argv[0];
	log_init(1, name);
	if (strcmp(name, "sendmail") == 0 || strcmp(name, "send-mail") == 0)
		return enqueue_main(argc, argv);
	if (strcmp(name, "mailq") == 0)
		return mailq_main(argc, argv);
	if (strcmp(name, "newaliases") == 0)
		return newaliases_main(argc, argv);
	if (strcmp(name, "makemap") == 0)
		return makemap_main(argc, argv);
	return smtpctl_main(argc, argv);
}

static void
smtpctl_usage(void)
{
	fprintf(stderr, "usage: smtpctl [-f file | -s socket] command "
	    "[argument ...]\ncommands (any unambiguous prefix of each "
	    "word will do):\n");
	command_list(stderr);
	exit(1);
}

static int
smtpctl_main(int argc, char *argv[])
{
	struct command	 cmd;
	const char	*conffile = NULL, *sockpath = NULL;
	char		 err[512];
	int		 ch;

	while ((ch = getopt(argc, argv, "+f:hs:")) != -1) {
		switch (ch) {
		case 'f':
			conffile = optarg;
			break;
		case 's':
			sockpath = optarg;
			break;
		default:
			smtpctl_usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0)
		smtpctl_usage();
	if (command_parse(argc, argv, &cmd, err, sizeof(err)) == -1) {
		fprintf(stderr, "smtpctl: %s\n", err);
		return 1;
	}
	return run_command("smtpctl", sockpath, conffile, &cmd);
}

/* mailq: smtpctl show queue. */
int
mailq_main(int argc, char *argv[])
{
	struct command	 cmd;
	const char	*conffile = NULL, *sockpath = NULL;
	int		 ch;

	while ((ch = getopt(argc, argv, "+f:s:v")) != -1) {
		switch (ch) {
		case 'f':
			conffile = optarg;
			break;
		case 's':
			sockpath = optarg;
			break;
		case 'v':
			break;
		default:
			fprintf(stderr, "usage: mailq [-v] [-f file | "
			    "-s socket]\n");
			return 1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "usage: mailq [-v] [-f file | -s socket]\n");
		return 1;
	}
	memset(&cmd, 0, sizeof(cmd));
	cmd.verb = "show queue";
	cmd.kind = CMD_REQUEST;
	return run_command("mailq", sockpath, conffile, &cmd);
}

/*
 * newaliases: an aliases table is a text file read as it is, so there
 * is nothing to build; check it, then have the daemon read it again.
 */
int
newaliases_main(int argc, char *argv[])
{
	struct smtpd_config	*conf;
	struct config_table	*t;
	struct command		 cmd;
	const char		*conffile = NULL, *sockpath = NULL;
	int			 ch, r;

	while ((ch = getopt(argc, argv, "+f:s:")) != -1) {
		switch (ch) {
		case 'f':
			conffile = optarg;
			break;
		case 's':
			sockpath = optarg;
			break;
		default:
			fprintf(stderr, "usage: newaliases [-f file | "
			    "-s socket]\n");
			return 1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "usage: newaliases [-f file | -s socket]\n");
		return 1;
	}
	if (conffile != NULL || (sockpath == NULL &&
	    access(CLIENT_CONF_DEFAULT, R_OK) == 0)) {
		if (conffile == NULL)
			conffile = CLIENT_CONF_DEFAULT;
		if ((conf = config_parse(conffile, NULL, stderr)) == NULL) {
			fprintf(stderr, "newaliases: %s: invalid "
			    "configuration\n", conffile);
			return 1;
		}
		t = config_table_find(conf, "aliases");
		if (t == NULL) {
			fprintf(stderr, "newaliases: %s declares no table "
			    "named aliases\n", conffile);
			config_free(conf);
			return 1;
		}
		r = 0;
		if (t->path != NULL && strcmp(t->backend, "static") == 0)
			r = makemap_check(t->path, MAKEMAP_ALIASES, stderr);
		config_free(conf);
		if (r == -1)
			return 1;
	}
	memset(&cmd, 0, sizeof(cmd));
	cmd.verb = "update table";
	strlcpy(cmd.args, "aliases", sizeof(cmd.args));
	cmd.kind = CMD_REQUEST;
	return run_command("newaliases", sockpath, conffile, &cmd);
}

static void
print_error(const char *prog, const char *data, size_t len)
{
	if (len > 0 && data[len - 1] == '\n')
		len--;
	if (len == 0)
		fprintf(stderr, "%s: request failed\n", prog);
	else
		fprintf(stderr, "%s: %.*s\n", prog, (int)len, data);
}

/*
 * Send one command and print its replies: the text of a done request
 * on stdout, a refusal on stderr (then the exit status is 1).
 */
static int
run_command(const char *prog, const char *sockpath, const char *conffile,
    const struct command *cmd)
{
	struct client_where	 where;
	struct client_reply	 reply;
	struct client		*c;
	char			 err[1024];
	int			 notrunning, n, failed = 0;

	if (client_where(sockpath, conffile, &where, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s: %s\n", prog, err);
		return 1;
	}
	if ((c = client_open(&where, &notrunning, err, sizeof(err))) == NULL) {
		if (notrunning && strcmp(prog, "newaliases") == 0) {
			printf("newaliases: smtpd is not running: the "
			    "aliases are read when it starts\n");
			return 0;
		}
		fprintf(stderr, "%s: %s\n", prog, err);
		return 1;
	}
	if (client_request(c, cmd->verb, cmd->args) == -1) {
		fprintf(stderr, "%s: %s: %s\n", prog, client_path(c),
		    strerror(errno));
		client_close(c);
		return 1;
	}
	for (;;) {
		n = client_reply(c, &reply, cmd->kind == CMD_MONITOR ? 0 :
		    CLIENT_REPLY_TIMEOUT, err, sizeof(err));
		if (n == 0) {
			if (cmd->kind != CMD_MONITOR) {
				fprintf(stderr, "%s: smtpd closed the "
				    "connection\n", prog);
				failed = 1;
			}
			break;
		}
		if (n == -1) {
			fprintf(stderr, "%s: %s\n", prog, err);
			failed = 1;
			break;
		}
		if (reply.result == 1) {
			if (reply.len > 0 &&
			    fwrite(reply.data, 1, reply.len, stdout) !=
			    reply.len) {
				failed = 1;
				break;
			}
			if (cmd->kind == CMD_MONITOR)
				fflush(stdout);
		} else {
			print_error(prog, reply.data, reply.len);
			failed = 1;
		}
		if (!reply.more)
			break;
	}
	/* stop: done when the daemon drops the connection on its way out */
	if (cmd->kind == CMD_STOP && !failed) {
		fflush(stdout);
		while ((n = client_reply(c, &reply, STOP_WAIT, err,
		    sizeof(err))) == 1)
			;
		if (n == -1) {
			fprintf(stderr, "%s: %s\n", prog, err);
			failed = 1;
		}
	}
	client_close(c);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		fprintf(stderr, "%s: stdout: %s\n", prog, strerror(errno));
		failed = 1;
	}
	return failed ? 1 : 0;
}
