/*
 * test_mda.c: the network side of deliveries (mda.c) with the process
 * plumbing faked: what IMSG_MDA_FORK it sends for each kind of action
 * and of alias target, the concurrency limits and pause, and how an
 * IMSG_MDA_DONE becomes a log line and an IMSG_MDA_RESULT.
 */
#include <sys/types.h>

#include <check.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "envelope.h"
#include "frames.h"
#include "mda.h"
#include "proc.h"

#define CONF \
	"mda wrapper sandbox \"/usr/bin/jail -u %{user.username} %{mda}\"\n" \
	"action box mbox\n" \
	"action md maildir\n" \
	"action mdj maildir \"/var/vmail/%{dest.domain}/%{dest.user}\" junk\n" \
	"action lm lmtp \"/run/lmtp.sock\" rcpt-to\n" \
	"action cmd mda \"/usr/bin/procmail -f %{sender}\" wrapper sandbox\n" \
	"action plain mda \"deliver %{rcpt.user:strip}\"\n" \
	"action fwd forward-only\n" \
	"match from any for any action md\n"

/* The fakes of proc.c: what mda.c sends is recorded here. */
struct smtpd_env	 smtpd_env;

struct frame {
	enum proc_id	 to;
	uint32_t	 type;
	unsigned char	 body[IMSG_MAX_BODY];
	size_t		 len;
	int		 had_fd;
};

#define NFRAMES	200
static struct frame	 frames[NFRAMES];
static int		 nframes;
static int		 stats_ok, stats_temp, stats_perm;

void
proc_send(enum proc_id to, uint32_t type, const struct msg *body, int fd)
{
	ck_assert_int_lt(nframes, NFRAMES);
	ck_assert_int_eq(msg_error(body), 0);
	frames[nframes].to = to;
	frames[nframes].type = type;
	memcpy(frames[nframes].body, body->buf, body->len);
	frames[nframes].len = body->len;
	frames[nframes].had_fd = fd != -1;
	nframes++;
	if (fd != -1)
		close(fd);
}

void
proc_stat(const char *key, int64_t delta)
{
	if (strcmp(key, "mda.delivery.ok") == 0)
		stats_ok += delta;
	else if (strcmp(key, "mda.delivery.tempfail") == 0)
		stats_temp += delta;
	else if (strcmp(key, "mda.delivery.permfail") == 0)
		stats_perm += delta;
}

static char	 logfile[] = "/tmp/test_mda.log.XXXXXX";

static void
setup(void)
{
	char	 conffile[] = "/tmp/test_mda.conf.XXXXXX";
	int	 fd;

	fd = mkstemp(conffile);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(write(fd, CONF, strlen(CONF)), (ssize_t)strlen(CONF));
	close(fd);
	smtpd_env.conf = config_parse(conffile, NULL, stderr);
	unlink(conffile);
	ck_assert_ptr_nonnull(smtpd_env.conf);

	/* log lines land in a file the tests read */
	strlcpy(logfile, "/tmp/test_mda.log.XXXXXX", sizeof(logfile));
	fd = mkstemp(logfile);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_ne(dup2(fd, STDERR_FILENO), -1);
	close(fd);
	log_init(1, "test_mda");
	nframes = 0;
	mda_init();
}

static void
teardown(void)
{
	unlink(logfile);
	config_free(smtpd_env.conf);
	smtpd_env.conf = NULL;
}

static struct envelope
sample(uint64_t evpid, const char *action, const char *user)
{
	struct envelope	 e;

	memset(&e, 0, sizeof(e));
	e.id = evpid;
	e.type = D_MDA;
	strlcpy(e.dispatcher, action, sizeof(e.dispatcher));
	mailaddr_from_text(&e.sender, "alice@example.net");
	mailaddr_from_text(&e.rcpt, "Bob+lists@example.org");
	mailaddr_from_text(&e.dest, "bob@example.org");
	strlcpy(e.mda_user, user, sizeof(e.mda_user));
	snprintf(e.mda_home, sizeof(e.mda_home), "/home/%s", user);
	e.mda_uid = 1000;
	e.mda_gid = 1000;
	e.creation = time(NULL) - 3723;		/* 1h2m3s ago */
	return e;
}

/* Hands an envelope to mda_deliver as the queue would. */
static void
deliver(const struct envelope *e)
{
	struct msg		 m;
	struct msg_reader	 r;
	struct imsg		 imsg;
	char			 text[ENVELOPE_TEXT_MAX];

	ck_assert_int_gt(envelope_dump(e, text, sizeof(text)), 0);
	msg_init(&m);
	msg_add_id(&m, e->id);
	msg_add_data(&m, text, strlen(text));
	memset(&imsg, 0, sizeof(imsg));
	imsg.hdr.type = IMSG_MDA_DELIVER;
	imsg.fd = open("/dev/null", O_RDONLY);
	ck_assert_int_ne(imsg.fd, -1);
	msg_reader_init(&r, m.buf, m.len);
	mda_deliver(&imsg, &r);
	/* the fd is mda.c's now */
	ck_assert_int_eq(imsg.fd, -1);
	msg_free(&m);
}

/* Answers as the parent would. */
static void
done(uint64_t evpid, int32_t result, const char *text)
{
	struct msg		 m;
	struct msg_reader	 r;
	struct imsg		 imsg;

	msg_init(&m);
	msg_add_id(&m, evpid);
	msg_add_int32(&m, result);
	msg_add_string(&m, text);
	memset(&imsg, 0, sizeof(imsg));
	imsg.hdr.type = IMSG_MDA_DONE;
	imsg.fd = -1;
	msg_reader_init(&r, m.buf, m.len);
	mda_done(&imsg, &r);
	msg_free(&m);
}

/* The IMSG_MDA_FORK frame number i, decoded. */
static void
fork_frame(int i, uint64_t *evpid, struct envelope *e, char **method,
    char **buffer, char **wrapper)
{
	struct msg_reader	 r;
	const void		*text;
	size_t			 len;
	char			 err[128];

	ck_assert_int_lt(i, nframes);
	ck_assert_int_eq(frames[i].to, PROC_PARENT);
	ck_assert_int_eq(frames[i].type, IMSG_MDA_FORK);
	ck_assert(frames[i].had_fd);
	msg_reader_init(&r, frames[i].body, frames[i].len);
	ck_assert_int_eq(msg_get_id(&r, evpid), 0);
	ck_assert_int_eq(msg_get_data(&r, &text, &len), 0);
	ck_assert_int_eq(envelope_load(e, text, len, err, sizeof(err)), 0);
	ck_assert_int_eq(msg_get_string(&r, method), 0);
	ck_assert_int_eq(msg_get_string(&r, buffer), 0);
	ck_assert_int_eq(msg_get_string(&r, wrapper), 0);
	ck_assert_int_eq(msg_end(&r), 0);
}

/* The IMSG_MDA_RESULT frame number i, decoded. */
static void
result_frame(int i, uint64_t *evpid, int32_t *result, char **text,
    char **esc)
{
	struct msg_reader	 r;

	ck_assert_int_lt(i, nframes);
	ck_assert_int_eq(frames[i].to, PROC_QUEUE);
	ck_assert_int_eq(frames[i].type, IMSG_MDA_RESULT);
	ck_assert(!frames[i].had_fd);
	msg_reader_init(&r, frames[i].body, frames[i].len);
	ck_assert_int_eq(msg_get_id(&r, evpid), 0);
	ck_assert_int_eq(msg_get_int32(&r, result), 0);
	ck_assert_int_eq(msg_get_string(&r, text), 0);
	ck_assert_int_eq(msg_get_string(&r, esc), 0);
	ck_assert_int_eq(msg_end(&r), 0);
}

/* Delivers e and checks the method, buffer and wrapper forked. */
static void
expect_fork(const struct envelope *e, const char *method,
    const char *buffer, const char *wrapper)
{
	struct envelope	 got;
	uint64_t	 evpid;
	char		*m, *b, *w;

	nframes = 0;
	deliver(e);
	ck_assert_int_eq(nframes, 1);
	fork_frame(0, &evpid, &got, &m, &b, &w);
	ck_assert_uint_eq(evpid, e->id);
	ck_assert_str_eq(got.mda_user, e->mda_user);
	ck_assert_str_eq(m, method);
	ck_assert_str_eq(b, buffer);
	ck_assert_str_eq(w, wrapper);
	free(m);
	free(b);
	free(w);
	done(e->id, 1, "2.0.0 Delivered");
}

static char *
read_log(void)
{
	FILE	*fp;
	char	*buf;
	long	 len;

	ck_assert_ptr_nonnull(fp = fopen(logfile, "r"));
	fseek(fp, 0, SEEK_END);
	len = ftell(fp);
	rewind(fp);
	ck_assert_ptr_nonnull(buf = calloc(1, len + 1));
	ck_assert_int_eq(fread(buf, 1, len, fp), len);
	fclose(fp);
	return buf;
}

START_TEST(test_action_methods)
{
	struct envelope	 e;

	e = sample(0x1111111100000001ULL, "box", "bob");
	expect_fork(&e, "mbox", "/var/mail/bob", "");
	e = sample(0x1111111100000002ULL, "md", "bob");
	expect_fork(&e, "maildir", "/home/bob/Maildir", "");
	e = sample(0x1111111100000003ULL, "mdj", "bob");
	expect_fork(&e, "maildir", "junk:/var/vmail/example.org/bob", "");
	e = sample(0x1111111100000004ULL, "lm", "bob");
	expect_fork(&e, "lmtp", "/run/lmtp.sock rcpt-to", "");
	e = sample(0x1111111100000005ULL, "cmd", "bob");
	expect_fork(&e, "mda", "/usr/bin/procmail -f alice@example.net",
	    "/usr/bin/jail -u bob /usr/bin/procmail -f alice@example.net");
	e = sample(0x1111111100000006ULL, "plain", "bob");
	expect_fork(&e, "mda", "deliver Bob", "");
}
END_TEST

START_TEST(test_forced_methods)
{
	struct envelope	 e;

	/* alias and .forward targets win over the action, as written */
	e = sample(0x2222222200000001ULL, "md", "bob");
	e.mda_method = M_FILE;
	strlcpy(e.mda_buffer, "/var/archive/%{rcpt}", sizeof(e.mda_buffer));
	expect_fork(&e, "file", "/var/archive/%{rcpt}", "");
	e.mda_method = M_FILE;
	strlcpy(e.mda_buffer, "~/saved", sizeof(e.mda_buffer));
	expect_fork(&e, "file", "/home/bob/saved", "");
	e.mda_method = M_MDA;
	strlcpy(e.mda_buffer, "/usr/bin/vacation bob", sizeof(e.mda_buffer));
	expect_fork(&e, "mda", "/usr/bin/vacation bob", "");
	/* the action's wrapper wraps a .forward command too */
	e = sample(0x2222222200000002ULL, "cmd", "bob");
	e.mda_method = M_MDA;
	strlcpy(e.mda_buffer, "/usr/bin/vacation bob", sizeof(e.mda_buffer));
	expect_fork(&e, "mda", "/usr/bin/vacation bob",
	    "/usr/bin/jail -u bob /usr/bin/vacation bob");
}
END_TEST

/* Delivers e, expects no fork but a result at once. */
static void
expect_result(const struct envelope *e, int32_t want, const char *esc,
    const char *text)
{
	uint64_t	 evpid;
	int32_t		 result;
	char		*t, *x;

	nframes = 0;
	deliver(e);
	ck_assert_int_eq(nframes, 1);
	result_frame(0, &evpid, &result, &t, &x);
	ck_assert_uint_eq(evpid, e->id);
	ck_assert_int_eq(result, want);
	ck_assert_str_eq(x, esc);
	ck_assert_msg(strstr(t, text) != NULL, "\"%s\" lacks \"%s\"", t, text);
	free(t);
	free(x);
}

START_TEST(test_refused_before_fork)
{
	struct envelope	 e;
	char		*log;

	/* the config changed: temporary, an admin may put it back */
	e = sample(0x3333333300000001ULL, "gone", "bob");
	expect_result(&e, -1, "4.3.0", "Unknown action \"gone\"");
	log = read_log();
	ck_assert_ptr_nonnull(strstr(log, "action \"gone\" is not in the "
	    "configuration"));
	free(log);
	e = sample(0x3333333300000002ULL, "fwd", "bob");
	expect_result(&e, -1, "4.3.0", "does not deliver locally");
	e = sample(0x3333333300000003ULL, "md", "");
	expect_result(&e, -1, "4.3.0", "No delivery user");
	e = sample(0x3333333300000004ULL, "md", "bob");
	e.mda_method = M_FILE;
	expect_result(&e, 0, "5.3.0", "Empty file target");
	ck_assert_int_eq(stats_temp, 3);
	ck_assert_int_eq(stats_perm, 1);
}
END_TEST

START_TEST(test_done_to_result)
{
	struct envelope	 e;
	uint64_t	 evpid;
	int32_t		 result;
	char		*t, *x, *log, want[256];

	e = sample(0x4444444400000001ULL, "md", "bob");
	nframes = 0;
	deliver(&e);
	done(e.id, 0, "5.4.6 Loop detected: Delivered-To: bob@example.org "
	    "already");
	ck_assert_int_eq(nframes, 2);
	result_frame(1, &evpid, &result, &t, &x);
	ck_assert_int_eq(result, 0);
	ck_assert_str_eq(x, "5.4.6");
	ck_assert_str_eq(t, "Loop detected: Delivered-To: bob@example.org "
	    "already");
	free(t);
	free(x);

	log = read_log();
	snprintf(want, sizeof(want), " mda delivery evpid=%016" PRIx64
	    " from=<alice@example.net> to=<bob@example.org> "
	    "rcpt=<Bob+lists@example.org> user=bob delay=1h2m", e.id);
	ck_assert_msg(strstr(log, want) != NULL, "%s", log);
	ck_assert_ptr_nonnull(strstr(log, "s result=PermFail stat=Loop "
	    "detected"));
	free(log);

	/* text without a code, or of the wrong class: one is made up */
	e.id++;
	nframes = 0;
	deliver(&e);
	done(e.id, -1, "delivery timed out");
	result_frame(1, &evpid, &result, &t, &x);
	ck_assert_int_eq(result, -1);
	ck_assert_str_eq(x, "4.3.0");
	ck_assert_str_eq(t, "delivery timed out");
	free(t);
	free(x);
	e.id++;
	nframes = 0;
	deliver(&e);
	done(e.id, 1, "");
	result_frame(1, &evpid, &result, &t, &x);
	ck_assert_int_eq(result, 1);
	ck_assert_str_eq(x, "2.0.0");
	ck_assert_str_eq(t, "Delivered");
	free(t);
	free(x);
	log = read_log();
	ck_assert_ptr_nonnull(strstr(log, "result=Ok stat=Delivered"));
	ck_assert_ptr_nonnull(strstr(log, "result=TempFail stat=delivery "
	    "timed out"));
	free(log);

	/* an answer for nothing we started is ignored */
	nframes = 0;
	done(0x9999, 1, "2.0.0 Delivered");
	ck_assert_int_eq(nframes, 0);
}
END_TEST

static int
count(uint32_t type)
{
	int	 i, n = 0;

	for (i = 0; i < nframes; i++)
		if (frames[i].type == type)
			n++;
	return n;
}

START_TEST(test_limits)
{
	struct envelope	 e;
	uint64_t	 base = 0x5555555500000000ULL, evpid;
	struct envelope	 got;
	char		*m, *b, *w, user[32];
	int		 i;

	/* one user: MDA_MAX_PER_USER at once, the rest wait */
	nframes = 0;
	for (i = 0; i < MDA_MAX_PER_USER + 3; i++) {
		e = sample(base + i, "md", "bob");
		deliver(&e);
	}
	ck_assert_int_eq(count(IMSG_MDA_FORK), MDA_MAX_PER_USER);
	/* another user is not held up by bob */
	e = sample(base + 100, "md", "carol");
	deliver(&e);
	ck_assert_int_eq(count(IMSG_MDA_FORK), MDA_MAX_PER_USER + 1);
	/* one of bob's ends: the oldest waiting one starts */
	done(base + 2, 1, "2.0.0 Delivered");
	ck_assert_int_eq(count(IMSG_MDA_FORK), MDA_MAX_PER_USER + 2);
	fork_frame(nframes - 1, &evpid, &got, &m, &b, &w);
	ck_assert_uint_eq(evpid, base + MDA_MAX_PER_USER);
	free(m);
	free(b);
	free(w);

	/* many users: MDA_MAX_RUNNING in all */
	nframes = 0;
	for (i = 0; i < MDA_MAX_RUNNING + 10; i++) {
		snprintf(user, sizeof(user), "u%d", i);
		e = sample(base + 1000 + i, "md", user);
		deliver(&e);
	}
	/* 8 run already: bob's 7 and carol's one */
	ck_assert_int_eq(count(IMSG_MDA_FORK), MDA_MAX_RUNNING -
	    (MDA_MAX_PER_USER + 1));
}
END_TEST

START_TEST(test_pause)
{
	struct envelope	 e;

	mda_pause(1);
	nframes = 0;
	e = sample(0x6666666600000001ULL, "md", "bob");
	deliver(&e);
	ck_assert_int_eq(nframes, 0);
	mda_pause(0);
	ck_assert_int_eq(count(IMSG_MDA_FORK), 1);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("mda");
	TCase	*tc = tcase_create("mda");
	SRunner	*sr;
	int	 failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_action_methods);
	tcase_add_test(tc, test_forced_methods);
	tcase_add_test(tc, test_refused_before_fork);
	tcase_add_test(tc, test_done_to_result);
	tcase_add_test(tc, test_limits);
	tcase_add_test(tc, test_pause);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
