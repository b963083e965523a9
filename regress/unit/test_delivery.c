/*
 * test_delivery.c: delivery_run for each method, as the current user,
 * in the process check forks for each test: maildir (and junk), mbox
 * and file (From_ line and quoting), mda commands (exit codes,
 * environment, wrapper), lmtp against a small server forked here, and
 * Delivered-To loop detection.  fsync is defined here, in front of the
 * C library's, so that a test can see what a delivery made durable.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "delivery.h"

static char		 dir[256];
static struct envelope	 env;
static char		 reason[DELIVERY_REASON_MAX + 2];

/* What the code under test fsync()ed, by path, in order. */
#define SYNCED_MAX	64
static char		 synced[SYNCED_MAX][PATH_MAX];
static int		 nsynced;

/*
 * delivery.o's calls to fsync come here (the program's own definition
 * comes before the C library's): note the path, then do the real call.
 */
int
fsync(int fd)
{
	char	 link[64];
	ssize_t	 n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	if (nsynced < SYNCED_MAX &&
	    (n = readlink(link, synced[nsynced], PATH_MAX - 1)) > 0) {
		synced[nsynced][n] = '\0';
		nsynced++;
	}
	return (int)syscall(SYS_fsync, fd);
}

/* 1 if name (under dir) was synced; a trailing '*' matches any end. */
static int
was_synced(const char *name)
{
	char	 real[PATH_MAX], want[PATH_MAX + 16];
	size_t	 len;
	int	 i, prefix;

	ck_assert_ptr_nonnull(realpath(dir, real));
	snprintf(want, sizeof(want), "%s%s%s", real, name[0] ? "/" : "",
	    name);
	len = strlen(want);
	if ((prefix = len > 0 && want[len - 1] == '*'))
		want[--len] = '\0';
	for (i = 0; i < nsynced; i++)
		if (prefix ? strncmp(synced[i], want, len) == 0 :
		    strcmp(synced[i], want) == 0)
			return 1;
	return 0;
}

#define MESSAGE \
	"Received: from x by y\n" \
	"Subject: hello\n" \
	"\n" \
	"From the start of a line\n" \
	".a line with a dot\n" \
	"the end\n"

static void
setup(void)
{
	strlcpy(dir, "/tmp/test_delivery.XXXXXX", sizeof(dir));
	ck_assert_ptr_nonnull(mkdtemp(dir));
	/*
	 * Deliveries run as the user: as root, become nobody (check runs
	 * each test and its fixture in a process of its own).
	 */
	if (geteuid() == 0) {
		struct passwd	*pw = getpwnam("nobody");

		ck_assert_ptr_nonnull(pw);
		ck_assert_int_eq(chown(dir, pw->pw_uid, pw->pw_gid), 0);
		ck_assert_int_eq(setgroups(0, NULL), 0);
		ck_assert_int_eq(setgid(pw->pw_gid), 0);
		ck_assert_int_eq(setuid(pw->pw_uid), 0);
	}
	memset(&env, 0, sizeof(env));
	env.id = 0x1122334455667788ULL;
	env.type = D_MDA;
	mailaddr_from_text(&env.sender, "alice@example.net");
	mailaddr_from_text(&env.rcpt, "Bob+lists@example.org");
	mailaddr_from_text(&env.dest, "bob@example.org");
	strlcpy(env.mda_user, "bob", sizeof(env.mda_user));
	strlcpy(env.mda_home, dir, sizeof(env.mda_home));
	env.mda_uid = getuid();
	env.mda_gid = getgid();
	reason[0] = '\0';
	nsynced = 0;
}

static void
teardown(void)
{
	char	 cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

/* dir/name, in a static buffer (one at a time). */
static const char *
path(const char *name)
{
	static char	 buf[2][512];
	static int	 i;

	i = !i;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", dir, name);
	return buf[i];
}

static char *
slurp(const char *file)
{
	FILE	*fp;
	char	*buf;
	long	 len;

	fp = fopen(file, "r");
	ck_assert_msg(fp != NULL, "%s: %s", file, strerror(errno));
	fseek(fp, 0, SEEK_END);
	len = ftell(fp);
	rewind(fp);
	buf = calloc(1, len + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(fread(buf, 1, len, fp), len);
	fclose(fp);
	return buf;
}

/* The message in a file, opened read-only and positioned at its end. */
static int
message_fd(const char *text)
{
	const char	*file = path("message");
	int		 fd;

	fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	fd = open(file, O_RDONLY);
	ck_assert_int_ne(fd, -1);
	lseek(fd, 0, SEEK_END);		/* delivery_run must not care */
	return fd;
}

/* delivery_run with the reason read back into `reason'. */
static int
run(enum mda_method method, const char *buffer, const char *wrapper,
    const char *text)
{
	int	 p[2], msgfd, status;
	ssize_t	 n;

	ck_assert_int_eq(pipe(p), 0);
	msgfd = message_fd(text);
	status = delivery_run(&env, method, buffer, wrapper, msgfd, p[1]);
	close(p[1]);
	close(msgfd);
	n = read(p[0], reason, sizeof(reason) - 1);
	close(p[0]);
	reason[n > 0 ? n : 0] = '\0';
	/* exactly one line */
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(reason[n - 1], '\n');
	ck_assert_ptr_eq(strchr(reason, '\n'), reason + n - 1);
	return status;
}

/* The one file in a directory (NULL if empty), and how many there are. */
static const char *
only_file(const char *d, int *count)
{
	static char	 name[1024];
	DIR		*dp;
	struct dirent	*de;

	*count = 0;
	name[0] = '\0';
	dp = opendir(d);
	ck_assert_msg(dp != NULL, "%s: %s", d, strerror(errno));
	while ((de = readdir(dp)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		(*count)++;
		snprintf(name, sizeof(name), "%s/%s", d, de->d_name);
	}
	closedir(dp);
	return name[0] ? name : NULL;
}

START_TEST(test_method_names)
{
	ck_assert_int_eq(delivery_method("mbox"), M_MBOX);
	ck_assert_int_eq(delivery_method("maildir"), M_MAILDIR);
	ck_assert_int_eq(delivery_method("lmtp"), M_LMTP);
	ck_assert_int_eq(delivery_method("mda"), M_MDA);
	ck_assert_int_eq(delivery_method("file"), M_FILE);
	ck_assert_int_eq(delivery_method(""), M_NONE);
	ck_assert_int_eq(delivery_method("relay"), M_NONE);
}
END_TEST

START_TEST(test_maildir)
{
	struct stat	 sb;
	const char	*file;
	char		*got, want[512];
	int		 n;

	/* the maildir and its missing parents are made, private */
	ck_assert_int_eq(run(M_MAILDIR, path("mail/Maildir"), NULL, MESSAGE),
	    0);
	ck_assert_ptr_nonnull(strstr(reason, "2.0.0 Delivered"));
	ck_assert_int_eq(stat(path("mail/Maildir/cur"), &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0700);
	ck_assert_int_eq(stat(path("mail/Maildir/tmp"), &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0700);
	ck_assert_ptr_null(only_file(path("mail/Maildir/tmp"), &n));
	file = only_file(path("mail/Maildir/new"), &n);
	ck_assert_int_eq(n, 1);
	ck_assert_int_eq(stat(file, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0600);
	got = slurp(file);
	ck_assert_str_eq(got, "Return-Path: <alice@example.net>\n"
	    "Delivered-To: bob@example.org\n" MESSAGE);
	free(got);
	/* <time>.<pid>_<counter>.<host> */
	snprintf(want, sizeof(want), ".%ld_", (long)getpid());
	ck_assert_ptr_nonnull(strstr(strrchr(file, '/'), want));

	/* a second message lands next to the first */
	ck_assert_int_eq(run(M_MAILDIR, path("mail/Maildir"), NULL, MESSAGE),
	    0);
	only_file(path("mail/Maildir/new"), &n);
	ck_assert_int_eq(n, 2);
}
END_TEST

/*
 * Delivered means on disk: the message file, new/, and every directory
 * the delivery made, in its parent.
 */
START_TEST(test_maildir_durable)
{
	ck_assert_int_eq(mkdir(path("mail"), 0700), 0);
	ck_assert_int_eq(run(M_MAILDIR, path("mail/box/Maildir"), NULL,
	    MESSAGE), 0);
	ck_assert_msg(was_synced("mail/box/Maildir/tmp/*"), "message file");
	ck_assert_msg(was_synced("mail/box/Maildir/new"), "new/");
	ck_assert_msg(was_synced("mail/box/Maildir"), "the maildir");
	ck_assert_msg(was_synced("mail/box"), "box/, parent of the maildir");
	ck_assert_msg(was_synced("mail"), "mail/, parent of box/");
	ck_assert_msg(!was_synced(""), "nothing was made in the top dir");

	/* the second time, nothing new but the message */
	nsynced = 0;
	ck_assert_int_eq(run(M_MAILDIR, path("mail/box/Maildir"), NULL,
	    MESSAGE), 0);
	ck_assert_msg(was_synced("mail/box/Maildir/new"), "new/");
	ck_assert_msg(!was_synced("mail/box/Maildir"), "maildir synced again");
}
END_TEST

/* A mailbox or file made by the delivery is synced into its directory. */
START_TEST(test_file_durable)
{
	ck_assert_int_eq(run(M_FILE, path("archive"), NULL, MESSAGE), 0);
	ck_assert_msg(was_synced("archive"), "the file");
	ck_assert_msg(was_synced(""), "its directory, where it was made");
	nsynced = 0;
	ck_assert_int_eq(run(M_MBOX, path("archive"), NULL, MESSAGE), 0);
	ck_assert_msg(was_synced("archive"), "the file");
	ck_assert_msg(!was_synced(""), "the directory, for an old file");
	nsynced = 0;
	ck_assert_int_eq(run(M_MBOX, path("mbox"), NULL, MESSAGE), 0);
	ck_assert_msg(was_synced("mbox") && was_synced(""), "new mbox");
}
END_TEST

START_TEST(test_maildir_bounce_sender)
{
	const char	*file;
	char		*got;
	int		 n;

	memset(&env.sender, 0, sizeof(env.sender));
	ck_assert_int_eq(run(M_MAILDIR, path("Maildir"), NULL, "a: b\n\nx"),
	    0);
	file = only_file(path("Maildir/new"), &n);
	got = slurp(file);
	/* a last line without its newline stays as it was */
	ck_assert_str_eq(got, "Return-Path: <>\nDelivered-To: "
	    "bob@example.org\na: b\n\nx");
	free(got);
}
END_TEST

START_TEST(test_maildir_junk)
{
	const char	*spam = "Subject: buy\nX-Spam: YES\n\nbody\n";
	const char	*ham = "Subject: hi\nX-Spam-Score: 0\n\nX-Spam: yes\n";
	char		 buf[512];
	int		 n;

	snprintf(buf, sizeof(buf), "%s%s", DELIVERY_JUNK_PREFIX,
	    path("Maildir"));
	ck_assert_int_eq(run(M_MAILDIR, buf, NULL, spam), 0);
	only_file(path("Maildir/.Junk/new"), &n);
	ck_assert_int_eq(n, 1);
	/* X-Spam in the body is not a header */
	ck_assert_int_eq(run(M_MAILDIR, buf, NULL, ham), 0);
	only_file(path("Maildir/new"), &n);
	ck_assert_int_eq(n, 1);
	only_file(path("Maildir/.Junk/new"), &n);
	ck_assert_int_eq(n, 1);
	/* without junk, spam is mail like any other */
	ck_assert_int_eq(run(M_MAILDIR, path("Maildir"), NULL, spam), 0);
	only_file(path("Maildir/new"), &n);
	ck_assert_int_eq(n, 2);
	only_file(path("Maildir/.Junk/new"), &n);
	ck_assert_int_eq(n, 1);
}
END_TEST

START_TEST(test_maildir_failure)
{
	int	 fd;

	/* a file where the maildir should be: temporary (admin's to fix) */
	fd = open(path("Maildir"), O_WRONLY | O_CREAT, 0600);
	ck_assert_int_ne(fd, -1);
	close(fd);
	ck_assert_int_eq(run(M_MAILDIR, path("Maildir"), NULL, MESSAGE),
	    EX_TEMPFAIL);
	ck_assert_msg(strncmp(reason, "4.2.0 Maildir: cannot create", 28) == 0,
	    "%s", reason);
}
END_TEST

/* From_ line, >From quoting, a blank line after each message. */
static void
check_mbox(const char *file, int nmessages)
{
	char	*got, *p, from[128];
	int	 i;

	got = slurp(file);
	p = got;
	for (i = 0; i < nmessages; i++) {
		ck_assert_msg(sscanf(p, "From %127s ", from) == 1, "%s", p);
		ck_assert_str_eq(from, i == 0 ? "alice@example.net" :
		    "MAILER-DAEMON");
		/* "From alice@example.net Mon Jan  1 00:00:00 2024\n" */
		p = strchr(p, '\n');
		ck_assert_ptr_nonnull(p);
		p++;
		ck_assert_msg(strncmp(p, i == 0 ?
		    "Return-Path: <alice@example.net>\n" :
		    "Return-Path: <>\n", i == 0 ? 33 : 16) == 0, "%s", p);
		p = strstr(p, "\nDelivered-To: bob@example.org\n"
		    "Received: from x by y\nSubject: hello\n\n"
		    ">From the start of a line\n"
		    ".a line with a dot\nthe end\n\n");
		ck_assert_msg(p != NULL, "%s", got);
		p = strstr(p, "the end\n\n") + 9;
	}
	ck_assert_str_eq(p, "");
	free(got);
}

START_TEST(test_mbox)
{
	struct stat	 sb;

	ck_assert_int_eq(run(M_MBOX, path("bob"), NULL, MESSAGE), 0);
	ck_assert_ptr_nonnull(strstr(reason, "2.0.0 Delivered"));
	ck_assert_int_eq(stat(path("bob"), &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0600);
	memset(&env.sender, 0, sizeof(env.sender));
	ck_assert_int_eq(run(M_MBOX, path("bob"), NULL, MESSAGE), 0);
	check_mbox(path("bob"), 2);
	/* the dotlock is gone */
	ck_assert_int_eq(access(path("bob.lock"), F_OK), -1);
}
END_TEST

START_TEST(test_mbox_refuses_symlink)
{
	ck_assert_int_eq(symlink(path("elsewhere"), path("bob")), 0);
	ck_assert_int_eq(run(M_MBOX, path("bob"), NULL, MESSAGE),
	    EX_TEMPFAIL);
	ck_assert_msg(strncmp(reason, "4.2.0 ", 6) == 0, "%s", reason);
	ck_assert_int_eq(access(path("elsewhere"), F_OK), -1);
}
END_TEST

START_TEST(test_mbox_missing_unwritable_dir)
{
	ck_assert_int_eq(mkdir(path("spool"), 0555), 0);
	ck_assert_int_eq(run(M_MBOX, path("spool/bob"), NULL, MESSAGE),
	    EX_TEMPFAIL);
	ck_assert_msg(strstr(reason, "does not exist") != NULL, "%s", reason);
	ck_assert_msg(strncmp(reason, "4.2.0 ", 6) == 0, "%s", reason);
}
END_TEST

START_TEST(test_mbox_stale_dotlock)
{
	struct timespec	 old[2] = { { 1000, 0 }, { 1000, 0 } };
	int		 fd;

	fd = open(path("bob.lock"), O_WRONLY | O_CREAT, 0600);
	ck_assert_int_ne(fd, -1);
	close(fd);
	ck_assert_int_eq(utimensat(AT_FDCWD, path("bob.lock"), old, 0), 0);
	ck_assert_int_eq(run(M_MBOX, path("bob"), NULL, MESSAGE), 0);
	check_mbox(path("bob"), 1);
}
END_TEST

START_TEST(test_file)
{
	ck_assert_int_eq(run(M_FILE, path("archive"), NULL, MESSAGE), 0);
	memset(&env.sender, 0, sizeof(env.sender));
	ck_assert_int_eq(run(M_FILE, path("archive"), NULL, MESSAGE), 0);
	check_mbox(path("archive"), 2);
	/* the classic alias target */
	ck_assert_int_eq(run(M_FILE, "/dev/null", NULL, MESSAGE), 0);
	/* a directory is no file: temporary, the admin may fix it */
	ck_assert_int_eq(run(M_FILE, dir, NULL, MESSAGE), EX_TEMPFAIL);
}
END_TEST

START_TEST(test_mda)
{
	char	 cmd[512], *got;

	snprintf(cmd, sizeof(cmd), "cat > '%s'", path("out"));
	ck_assert_int_eq(run(M_MDA, cmd, NULL, MESSAGE), 0);
	ck_assert_ptr_nonnull(strstr(reason, "2.0.0 Delivered"));
	got = slurp(path("out"));
	ck_assert_str_eq(got, "Return-Path: <alice@example.net>\n"
	    "Delivered-To: bob@example.org\n" MESSAGE);
	free(got);
}
END_TEST

START_TEST(test_mda_environment)
{
	char	 cmd[512], *got;

	snprintf(cmd, sizeof(cmd), "cat >/dev/null; env > '%s'; pwd >> '%s'",
	    path("env"), path("env"));
	ck_assert_int_eq(run(M_MDA, cmd, NULL, MESSAGE), 0);
	got = slurp(path("env"));
	ck_assert_ptr_nonnull(strstr(got, "SENDER=alice@example.net\n"));
	ck_assert_ptr_nonnull(strstr(got, "RECIPIENT=bob@example.org\n"));
	ck_assert_ptr_nonnull(strstr(got,
	    "ORIGINAL_RECIPIENT=Bob+lists@example.org\n"));
	ck_assert_ptr_nonnull(strstr(got, "LOCAL=Bob\n"));
	ck_assert_ptr_nonnull(strstr(got, "EXTENSION=lists\n"));
	ck_assert_ptr_nonnull(strstr(got, "DOMAIN=example.org\n"));
	ck_assert_ptr_nonnull(strstr(got, "USER=bob\n"));
	ck_assert_ptr_nonnull(strstr(got, "LOGNAME=bob\n"));
	ck_assert_ptr_nonnull(strstr(got, "SHELL=/bin/sh\n"));
	ck_assert_ptr_nonnull(strstr(got, "PATH=/usr/bin:/bin\n"));
	ck_assert_ptr_nonnull(strstr(got, "HOME="));
	ck_assert_ptr_nonnull(strstr(got, dir));
	/* nothing of ours leaks: the environment is made from scratch */
	ck_assert_ptr_null(strstr(got, "CK_"));
	free(got);
}
END_TEST

START_TEST(test_mda_exit_codes)
{
	/* 75 and 71: temporary, with the first line of what it said */
	ck_assert_int_eq(run(M_MDA, "cat >/dev/null; echo 'over quota' >&2; "
	    "echo second line >&2; exit 75", NULL, MESSAGE), EX_TEMPFAIL);
	ck_assert_str_eq(reason, "4.3.0 mda exited 75: over quota\n");
	ck_assert_int_eq(run(M_MDA, "exit 71", NULL, MESSAGE), EX_TEMPFAIL);
	ck_assert_str_eq(reason, "4.3.0 mda exited 71\n");
	/* anything else: permanent */
	ck_assert_int_eq(run(M_MDA, "echo no such folder; exit 1", NULL,
	    MESSAGE), EX_UNAVAILABLE);
	ck_assert_str_eq(reason, "5.3.0 mda exited 1: no such folder\n");
	ck_assert_int_eq(run(M_MDA, "exit 67", NULL, MESSAGE), EX_NOUSER);
	ck_assert_str_eq(reason, "5.1.1 mda exited 67\n");
	/* killed: temporary */
	ck_assert_int_eq(run(M_MDA, "kill -TERM $$", NULL, MESSAGE),
	    EX_TEMPFAIL);
	ck_assert_str_eq(reason, "4.3.0 mda killed by signal 15\n");
	/* a command that reads nothing is judged by its status */
	ck_assert_int_eq(run(M_MDA, "true", NULL, MESSAGE), 0);
}
END_TEST

START_TEST(test_mda_big_output)
{
	char	*big;
	size_t	 i, len = 1024 * 1024;

	/* output and input far beyond a pipe's buffer: no deadlock */
	big = malloc(len + 16);
	ck_assert_ptr_nonnull(big);
	strlcpy(big, "Subject: x\n\n", len);
	for (i = strlen(big); i < len - 1; i++)
		big[i] = (i % 64 == 63) ? '\n' : 'a';
	big[len - 1] = '\n';
	big[len] = '\0';
	ck_assert_int_eq(run(M_MDA, "cat; cat /dev/zero | head -c 1000000; "
	    "exit 1", NULL, big), EX_UNAVAILABLE);
	ck_assert_str_eq(reason, "5.3.0 mda exited 1: Return-Path: "
	    "<alice@example.net>\n");
	free(big);
}
END_TEST

START_TEST(test_mda_wrapper)
{
	char	 wrapper[512], *got;

	/* the wrapper runs instead of the command it wraps */
	snprintf(wrapper, sizeof(wrapper), "echo wrapped > '%s'; cat > '%s'",
	    path("w"), path("out"));
	ck_assert_int_eq(run(M_MDA, "exit 1", wrapper, MESSAGE), 0);
	got = slurp(path("w"));
	ck_assert_str_eq(got, "wrapped\n");
	free(got);
	/* "" is no wrapper */
	ck_assert_int_eq(run(M_MDA, "exit 1", "", MESSAGE), EX_UNAVAILABLE);
}
END_TEST

START_TEST(test_loop)
{
	const char	*looping = "Delivered-To: someone@else.org\n"
	    "Delivered-To:   <BOB@Example.ORG>  \nSubject: x\n\nbody\n";
	const char	*body_only = "Subject: x\n\n"
	    "Delivered-To: bob@example.org\n";
	int		 n;

	ck_assert_int_eq(run(M_MAILDIR, path("Maildir"), NULL, looping),
	    EX_DATAERR);
	ck_assert_str_eq(reason, "5.4.6 Loop detected: Delivered-To: "
	    "bob@example.org already\n");
	ck_assert_int_eq(access(path("Maildir"), F_OK), -1);
	/* before any method runs */
	ck_assert_int_eq(run(M_MDA, "exit 0", NULL, looping), EX_DATAERR);
	/* only headers count */
	ck_assert_int_eq(run(M_MAILDIR, path("Maildir"), NULL, body_only), 0);
	only_file(path("Maildir/new"), &n);
	ck_assert_int_eq(n, 1);
	/* another Delivered-To is no loop */
	mailaddr_from_text(&env.dest, "carol@example.org");
	ck_assert_int_eq(run(M_MAILDIR, path("Maildir"), NULL, looping), 0);
}
END_TEST

START_TEST(test_no_target)
{
	ck_assert_int_eq(run(M_MAILDIR, "", NULL, MESSAGE), EX_TEMPFAIL);
	ck_assert_int_eq(run(M_NONE, "x", NULL, MESSAGE), EX_TEMPFAIL);
}
END_TEST

/*
 * A tiny LMTP server: one connection, every line it gets written to
 * dir/transcript; rcpt_reply answers RCPT, data_reply the final dot.
 */
static void
lmtp_serve(int lfd, const char *rcpt_reply, const char *data_reply)
{
	FILE	*rd, *wr, *log;
	char	 line[2048];
	int	 s, in_data = 0;

	if ((s = accept(lfd, NULL, NULL)) == -1)
		_exit(1);
	rd = fdopen(s, "r");
	wr = fdopen(dup(s), "w");
	log = fopen(path("transcript"), "w");
	if (rd == NULL || wr == NULL || log == NULL)
		_exit(1);
	fprintf(wr, "220 test LMTP\r\n");
	fflush(wr);
	while (fgets(line, sizeof(line), rd) != NULL) {
		fputs(line, log);
		if (in_data) {
			if (strcmp(line, ".\r\n") != 0)
				continue;
			in_data = 0;
			fprintf(wr, "%s\r\n", data_reply);
		} else if (strncmp(line, "LHLO ", 5) == 0)
			fprintf(wr, "250-test\r\n250-PIPELINING\r\n"
			    "250 ENHANCEDSTATUSCODES\r\n");
		else if (strncmp(line, "MAIL FROM:", 10) == 0)
			fprintf(wr, "250 2.1.0 Ok\r\n");
		else if (strncmp(line, "RCPT TO:", 8) == 0)
			fprintf(wr, "%s\r\n", rcpt_reply);
		else if (strcmp(line, "DATA\r\n") == 0) {
			fprintf(wr, "354 go ahead\r\n");
			in_data = 1;
		} else if (strcmp(line, "QUIT\r\n") == 0) {
			fprintf(wr, "221 2.0.0 bye\r\n");
			fflush(wr);
			break;
		} else
			fprintf(wr, "500 5.5.1 what?\r\n");
		fflush(wr);
	}
	fclose(log);
	_exit(0);
}

/* A listening socket: UNIX at dir/lmtp.sock, or TCP on a free port. */
static int
lmtp_listen(int unix_socket, char *dest, size_t destsz)
{
	struct sockaddr_un	 sun;
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);
	int			 s;

	if (unix_socket) {
		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		strlcpy(sun.sun_path, path("lmtp.sock"), sizeof(sun.sun_path));
		s = socket(AF_UNIX, SOCK_STREAM, 0);
		ck_assert_int_ne(s, -1);
		ck_assert_int_eq(bind(s, (struct sockaddr *)&sun,
		    sizeof(sun)), 0);
		strlcpy(dest, sun.sun_path, destsz);
	} else {
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		s = socket(AF_INET, SOCK_STREAM, 0);
		ck_assert_int_ne(s, -1);
		ck_assert_int_eq(bind(s, (struct sockaddr *)&sin,
		    sizeof(sin)), 0);
		ck_assert_int_eq(getsockname(s, (struct sockaddr *)&sin,
		    &len), 0);
		snprintf(dest, destsz, "127.0.0.1:%d", ntohs(sin.sin_port));
	}
	ck_assert_int_eq(listen(s, 5), 0);
	return s;
}

/* Runs one delivery against a fresh server; returns the status. */
static int
lmtp_run(int unix_socket, const char *suffix, const char *rcpt_reply,
    const char *data_reply)
{
	char	 dest[512], buffer[600];
	pid_t	 pid;
	int	 s, status, wstatus;

	s = lmtp_listen(unix_socket, dest, sizeof(dest));
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0)
		lmtp_serve(s, rcpt_reply, data_reply);
	close(s);
	snprintf(buffer, sizeof(buffer), "%s%s", dest, suffix);
	status = run(M_LMTP, buffer, NULL, MESSAGE);
	ck_assert_int_eq(waitpid(pid, &wstatus, 0), pid);
	ck_assert(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0);
	unlink(path("lmtp.sock"));
	return status;
}

START_TEST(test_lmtp_unix)
{
	char	*got;

	ck_assert_int_eq(lmtp_run(1, "", "250 2.1.5 Ok",
	    "250 2.0.0 <bob> Saved"), 0);
	ck_assert_msg(strncmp(reason, "2.0.0 Delivered by LMTP", 23) == 0,
	    "%s", reason);
	got = slurp(path("transcript"));
	ck_assert_msg(strncmp(got, "LHLO ", 5) == 0, "%s", got);
	/* the user name, CRLF, dot-stuffing, the final dot, QUIT */
	ck_assert_ptr_nonnull(strstr(got, "\r\nMAIL FROM:<alice@example.net>"
	    "\r\nRCPT TO:<bob>\r\nDATA\r\n"
	    "Return-Path: <alice@example.net>\r\n"
	    "Delivered-To: bob@example.org\r\n"
	    "Received: from x by y\r\nSubject: hello\r\n\r\n"
	    "From the start of a line\r\n"
	    "..a line with a dot\r\nthe end\r\n.\r\nQUIT\r\n"));
	free(got);
}
END_TEST

START_TEST(test_lmtp_tcp_rcpt_to)
{
	char	*got;

	ck_assert_int_eq(lmtp_run(0, DELIVERY_LMTP_RCPT_TO, "250 2.1.5 Ok",
	    "250 2.0.0 Ok"), 0);
	got = slurp(path("transcript"));
	ck_assert_ptr_nonnull(strstr(got, "\r\nRCPT TO:<bob@example.org>\r\n"));
	free(got);
}
END_TEST

START_TEST(test_lmtp_failures)
{
	char	 dest[512];
	int	 s;

	ck_assert_int_eq(lmtp_run(1, "", "550 5.1.1 <bob>: no such user",
	    "250 2.0.0 Ok"), EX_UNAVAILABLE);
	ck_assert_str_eq(reason, "5.1.1 LMTP RCPT: 550 5.1.1 <bob>: no such "
	    "user\n");
	ck_assert_int_eq(lmtp_run(0, "", "250 2.1.5 Ok",
	    "452 4.2.2 Mailbox full"), EX_TEMPFAIL);
	ck_assert_str_eq(reason, "4.2.2 LMTP after data: 452 4.2.2 Mailbox "
	    "full\n");
	/* no enhanced code: one from the class */
	ck_assert_int_eq(lmtp_run(1, "", "451 try later", "250 2.0.0 Ok"),
	    EX_TEMPFAIL);
	ck_assert_str_eq(reason, "4.0.0 LMTP RCPT: 451 try later\n");

	/* nobody listening: temporary */
	s = lmtp_listen(0, dest, sizeof(dest));
	close(s);
	ck_assert_int_eq(run(M_LMTP, dest, NULL, MESSAGE), EX_TEMPFAIL);
	ck_assert_msg(strncmp(reason, "4.4.1 LMTP: connect to", 22) == 0,
	    "%s", reason);
	ck_assert_int_eq(run(M_LMTP, path("no.sock"), NULL, MESSAGE),
	    EX_TEMPFAIL);
	ck_assert_msg(strncmp(reason, "4.4.1 LMTP: connect to", 22) == 0,
	    "%s", reason);
}
END_TEST

START_TEST(test_lmtp_server_hangs_up)
{
	char	 dest[512];
	pid_t	 pid;
	int	 s, c;

	s = lmtp_listen(1, dest, sizeof(dest));
	if ((pid = fork()) == 0) {
		c = accept(s, NULL, NULL);
		_exit(write(c, "220 hi\r\n", 8) == 8 ? 0 : 1);
	}
	close(s);
	ck_assert_int_eq(run(M_LMTP, dest, NULL, MESSAGE), EX_TEMPFAIL);
	ck_assert_msg(strncmp(reason, "4.4.2 LMTP", 10) == 0, "%s", reason);
	waitpid(pid, NULL, 0);
}
END_TEST

/* A server that greets, then never answers: a temporary failure. */
START_TEST(test_lmtp_server_silent)
{
	char	 dest[512], buf[512];
	pid_t	 pid;
	int	 s, c;

	delivery_lmtp_timeout = 1;
	s = lmtp_listen(1, dest, sizeof(dest));
	if ((pid = fork()) == 0) {
		if ((c = accept(s, NULL, NULL)) == -1 ||
		    write(c, "220 hi\r\n", 8) != 8)
			_exit(1);
		/* read what comes, answer nothing, until the client leaves */
		while (read(c, buf, sizeof(buf)) > 0)
			;
		_exit(0);
	}
	close(s);
	ck_assert_int_eq(run(M_LMTP, dest, NULL, MESSAGE), EX_TEMPFAIL);
	ck_assert_str_eq(reason, "4.4.2 LMTP: no answer within 1s\n");
	waitpid(pid, NULL, 0);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("delivery");
	TCase	*tc = tcase_create("delivery");
	SRunner	*sr;
	int	 failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_method_names);
	tcase_add_test(tc, test_maildir);
	tcase_add_test(tc, test_maildir_durable);
	tcase_add_test(tc, test_file_durable);
	tcase_add_test(tc, test_maildir_bounce_sender);
	tcase_add_test(tc, test_maildir_junk);
	tcase_add_test(tc, test_maildir_failure);
	tcase_add_test(tc, test_mbox);
	tcase_add_test(tc, test_mbox_refuses_symlink);
	tcase_add_test(tc, test_mbox_missing_unwritable_dir);
	tcase_add_test(tc, test_mbox_stale_dotlock);
	tcase_add_test(tc, test_file);
	tcase_add_test(tc, test_mda);
	tcase_add_test(tc, test_mda_environment);
	tcase_add_test(tc, test_mda_exit_codes);
	tcase_add_test(tc, test_mda_big_output);
	tcase_add_test(tc, test_mda_wrapper);
	tcase_add_test(tc, test_loop);
	tcase_add_test(tc, test_no_target);
	tcase_add_test(tc, test_lmtp_unix);
	tcase_add_test(tc, test_lmtp_tcp_rcpt_to);
	tcase_add_test(tc, test_lmtp_failures);
	tcase_add_test(tc, test_lmtp_server_hangs_up);
	tcase_add_test(tc, test_lmtp_server_silent);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
