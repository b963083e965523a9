/*
 * mda.c: delivery coordination, in the network process.
 *
 * For each envelope the queue hands over, pick the method (the one an
 * alias or .forward forced, else the action's), expand its format, and
 * ask the parent to fork the delivery as the user.  Deliveries are
 * limited in total and per user; the others wait here, in order.  The
 * parent's answer is logged and passed on to the queue.
 */
#include <sys/types.h>
#include <sys/queue.h>

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "smtpd-api.h"
#include "config.h"
#include "delivery.h"
#include "envelope.h"
#include "frames.h"
#include "mda.h"
#include "mda_format.h"
#include "proc.h"

/* Results, as frames.h spells them. */
#define RESULT_OK	1
#define RESULT_PERM	0
#define RESULT_TEMP	(-1)

/* Beyond this many waiting, answer tempfail rather than hold more fds. */
#define MDA_MAX_WAITING	256

#define MDA_DEFAULT_MAILDIR	"~/Maildir"
#define MDA_MBOX_FORMAT		"/var/mail/%{user.username}"

struct mda_job {
	TAILQ_ENTRY(mda_job)	 entry;
	uint64_t		 evpid;
	uint64_t		 sid;		/* for the log line */
	struct envelope		 env;
	enum mda_method		 method;
	char			 buffer[ENVELOPE_PATH_MAX];
	char			 wrapper[ENVELOPE_PATH_MAX];
	int			 fd;
};
TAILQ_HEAD(mda_job_list, mda_job);

static struct mda_job_list	 waiting = TAILQ_HEAD_INITIALIZER(waiting);
static struct mda_job_list	 running = TAILQ_HEAD_INITIALIZER(running);
static int			 nwaiting;
static int			 nrunning;
static int			 paused;

static int	 mda_prepare(struct mda_job *, char *, size_t);
static void	 mda_schedule(void);
static int	 mda_user_running(const char *);
static void	 mda_fork(struct mda_job *);
static void	 mda_finish(struct mda_job *, int, const char *);
static void	 mda_log(const struct mda_job *, int, const char *);
static const char *mda_split_esc(const char *, int, char *, size_t);
static size_t	 esc_length(const char *);
static void	 mda_fail_early(uint64_t, int);
static void	 mda_duration(time_t, char *, size_t);
static void	 mda_job_free(struct mda_job *);

void
mda_init(void)
{
	TAILQ_INIT(&waiting);
	TAILQ_INIT(&running);
	nwaiting = nrunning = paused = 0;
}

void
mda_deliver(struct imsg *imsg, struct msg_reader *r)
{
	struct mda_job	*job;
	const void	*text;
	size_t		 len;
	uint64_t	 evpid;
	char		 err[256], reason[512];
	int		 fd, result;

	fd = imsg->fd;
	imsg->fd = -1;
	if (msg_get_id(r, &evpid) == -1 || msg_get_data(r, &text, &len) == -1 ||
	    msg_end(r) == -1)
		fatalx("mda: IMSG_MDA_DELIVER from queue: %s",
		    msg_reader_error(r));

	if ((job = calloc(1, sizeof(*job))) == NULL) {
		log_warn("mda: %016" PRIx64 ": calloc", evpid);
		mda_fail_early(evpid, fd);
		return;
	}
	job->evpid = evpid;
	job->fd = fd;
	job->sid = ((uint64_t)arc4random() << 32) | arc4random();
	if (envelope_load(&job->env, text, len, err, sizeof(err)) == -1) {
		/* The queue wrote it: a bug or a hand-edited envelope. */
		log_warnx("mda: %016" PRIx64 ": bad envelope: %s", evpid, err);
		snprintf(reason, sizeof(reason), "4.3.0 Bad envelope: %s",
		    err);
		memset(&job->env, 0, sizeof(job->env));
		mda_finish(job, RESULT_TEMP, reason);
		return;
	}
	job->env.id = evpid;
	if (fd == -1) {
		log_warnx("mda: %016" PRIx64 ": no message fd from queue",
		    evpid);
		mda_finish(job, RESULT_TEMP, "4.3.0 Message not available");
		return;
	}
	if ((result = mda_prepare(job, reason, sizeof(reason))) != RESULT_OK) {
		mda_finish(job, result, reason);
		return;
	}
	if (nwaiting >= MDA_MAX_WAITING) {
		log_warnx("mda: %016" PRIx64 ": %d deliveries waiting already",
		    evpid, nwaiting);
		mda_finish(job, RESULT_TEMP, "4.3.0 Too many deliveries "
		    "waiting");
		return;
	}
	TAILQ_INSERT_TAIL(&waiting, job, entry);
	nwaiting++;
	mda_schedule();
}

void
mda_done(struct imsg *imsg, struct msg_reader *r)
{
	struct mda_job	*job;
	uint64_t	 evpid;
	int32_t		 result;
	char		*text = NULL;

	if (msg_get_id(r, &evpid) == -1 || msg_get_int32(r, &result) == -1 ||
	    msg_get_string(r, &text) == -1 || msg_end(r) == -1)
		fatalx("mda: IMSG_MDA_DONE from parent: %s",
		    msg_reader_error(r));
	if (imsg->fd != -1) {
		close(imsg->fd);
		imsg->fd = -1;
	}
	TAILQ_FOREACH(job, &running, entry)
		if (job->evpid == evpid)
			break;
	if (job == NULL) {
		log_warnx("mda: IMSG_MDA_DONE for unknown envelope %016"
		    PRIx64, evpid);
		free(text);
		return;
	}
	TAILQ_REMOVE(&running, job, entry);
	nrunning--;
	if (result != RESULT_OK && result != RESULT_PERM)
		result = RESULT_TEMP;
	mda_finish(job, result, text);
	free(text);
	mda_schedule();
}

void
mda_pause(int on)
{
	paused = on;
	if (!paused)
		mda_schedule();
}

/*
 * Pick method, buffer and wrapper.  RESULT_OK, or a failure with its
 * reason (starting with an enhanced status code) in reason.
 */
static int
mda_prepare(struct mda_job *job, char *reason, size_t reasonsz)
{
	struct smtpd_config	*conf = smtpd_env.conf;
	struct config_action	*action;
	const struct envelope	*env = &job->env;
	const char		*fmt = NULL, *prefix = "";
	char			 err[256], expanded[ENVELOPE_PATH_MAX];

	if (env->type != D_MDA) {
		snprintf(reason, reasonsz, "4.3.0 Not a local delivery (%s)",
		    delivery_type_name(env->type));
		log_warnx("mda: %016" PRIx64 ": envelope of type %s",
		    job->evpid, delivery_type_name(env->type));
		return RESULT_TEMP;
	}
	/* Temporary: an admin who changed the config may put it back. */
	if ((action = config_action_find(conf, env->dispatcher)) == NULL) {
		log_warnx("mda: %016" PRIx64 ": action \"%s\" is not in the "
		    "configuration any more", job->evpid, env->dispatcher);
		snprintf(reason, reasonsz, "4.3.0 Unknown action \"%s\"",
		    env->dispatcher);
		return RESULT_TEMP;
	}
	if (env->mda_user[0] == '\0') {
		log_warnx("mda: %016" PRIx64 ": no user to deliver as",
		    job->evpid);
		snprintf(reason, reasonsz, "4.3.0 No delivery user");
		return RESULT_TEMP;
	}

	job->method = env->mda_method;
	if (job->method == M_NONE) {
		switch (action->method) {
		case ACTION_MBOX:
			job->method = M_MBOX;
			fmt = MDA_MBOX_FORMAT;
			break;
		case ACTION_MAILDIR:
			job->method = M_MAILDIR;
			fmt = action->maildir ? action->maildir :
			    MDA_DEFAULT_MAILDIR;
			if (action->junk)
				prefix = DELIVERY_JUNK_PREFIX;
			break;
		case ACTION_LMTP:
			job->method = M_LMTP;
			if (snprintf(job->buffer, sizeof(job->buffer), "%s%s",
			    action->lmtp, action->lmtp_rcpt_to ?
			    DELIVERY_LMTP_RCPT_TO : "") >=
			    (int)sizeof(job->buffer))
				goto toolong;
			break;
		case ACTION_MDA:
			job->method = M_MDA;
			fmt = action->mda;
			break;
		default:
			log_warnx("mda: %016" PRIx64 ": action \"%s\" (%s) "
			    "does not deliver locally", job->evpid,
			    action->name, config_method_name(action->method));
			snprintf(reason, reasonsz, "4.3.0 Action \"%s\" does "
			    "not deliver locally", action->name);
			return RESULT_TEMP;
		}
		if (fmt != NULL) {
			if (mda_format(expanded, sizeof(expanded), fmt, env,
			    NULL, conf->sub_addr_delim, err,
			    sizeof(err)) == -1)
				goto badformat;
			if (snprintf(job->buffer, sizeof(job->buffer), "%s%s",
			    prefix, expanded) >= (int)sizeof(job->buffer))
				goto toolong;
		}
	} else {
		/*
		 * Forced by an alias or a .forward: the target is taken
		 * as written (no %{} expansion of what users wrote), but a
		 * file in the home may be written "~/file".
		 */
		if (env->mda_buffer[0] == '\0') {
			snprintf(reason, reasonsz, "5.3.0 Empty %s target",
			    mda_method_name(job->method));
			return RESULT_PERM;
		}
		if (strncmp(env->mda_buffer, "~/", 2) == 0 &&
		    (job->method == M_FILE || job->method == M_MAILDIR ||
		    job->method == M_MBOX)) {
			if (snprintf(job->buffer, sizeof(job->buffer), "%s/%s",
			    env->mda_home, env->mda_buffer + 2) >=
			    (int)sizeof(job->buffer))
				goto toolong;
		} else if (strlcpy(job->buffer, env->mda_buffer,
		    sizeof(job->buffer)) >= sizeof(job->buffer))
			goto toolong;
	}

	if (job->method == M_MDA && action->wrapper != NULL) {
		fmt = action->wrapper->command;
		if (mda_format(job->wrapper, sizeof(job->wrapper), fmt, env,
		    job->buffer, conf->sub_addr_delim, err, sizeof(err)) == -1)
			goto badformat;
	}
	return RESULT_OK;

badformat:
	log_warnx("mda: %016" PRIx64 ": action \"%s\": cannot expand \"%s\": "
	    "%s", job->evpid, action->name, fmt, err);
	snprintf(reason, reasonsz, "4.3.0 Cannot expand the delivery format: "
	    "%s", err);
	return RESULT_TEMP;
toolong:
	log_warnx("mda: %016" PRIx64 ": action \"%s\": delivery target too "
	    "long", job->evpid, action->name);
	snprintf(reason, reasonsz, "5.3.0 Delivery target too long");
	return RESULT_PERM;
}

/* Start what the limits allow, oldest first. */
static void
mda_schedule(void)
{
	struct mda_job	*job, *next;

	for (job = TAILQ_FIRST(&waiting); job != NULL; job = next) {
		next = TAILQ_NEXT(job, entry);
		if (paused || nrunning >= MDA_MAX_RUNNING)
			return;
		if (mda_user_running(job->env.mda_user) >= MDA_MAX_PER_USER)
			continue;
		TAILQ_REMOVE(&waiting, job, entry);
		nwaiting--;
		TAILQ_INSERT_TAIL(&running, job, entry);
		nrunning++;
		mda_fork(job);
	}
}

static int
mda_user_running(const char *user)
{
	struct mda_job	*job;
	int		 n = 0;

	TAILQ_FOREACH(job, &running, entry)
		if (strcmp(job->env.mda_user, user) == 0)
			n++;
	return n;
}

static void
mda_fork(struct mda_job *job)
{
	struct msg	 m;
	char		 text[ENVELOPE_TEXT_MAX];

	if (envelope_dump(&job->env, text, sizeof(text)) == -1) {
		/* It was loaded from a text that fitted: cannot happen. */
		TAILQ_REMOVE(&running, job, entry);
		nrunning--;
		mda_finish(job, RESULT_TEMP, "4.3.0 Envelope too large");
		return;
	}
	log_debug("mda: %016" PRIx64 ": %s \"%s\"%s%s%s as %s", job->evpid,
	    mda_method_name(job->method), job->buffer,
	    job->wrapper[0] ? " wrapped in \"" : "", job->wrapper,
	    job->wrapper[0] ? "\"" : "", job->env.mda_user);
	msg_init(&m);
	msg_add_id(&m, job->evpid);
	msg_add_data(&m, text, strlen(text));
	msg_add_string(&m, mda_method_name(job->method));
	msg_add_string(&m, job->buffer);
	msg_add_string(&m, job->wrapper);
	proc_send(PROC_PARENT, IMSG_MDA_FORK, &m, job->fd);
	job->fd = -1;	/* proc_send closes it once sent */
	msg_free(&m);
}

/* Log, answer the queue, forget the job. */
static void
mda_finish(struct mda_job *job, int result, const char *text)
{
	struct msg	 m;
	char		 esc[16];
	const char	*rest;

	rest = mda_split_esc(text, result, esc, sizeof(esc));
	mda_log(job, result, rest);
	proc_stat(result == RESULT_OK ? "mda.delivery.ok" :
	    result == RESULT_PERM ? "mda.delivery.permfail" :
	    "mda.delivery.tempfail", 1);
	msg_init(&m);
	msg_add_id(&m, job->evpid);
	msg_add_int32(&m, result);
	msg_add_string(&m, rest);
	msg_add_string(&m, esc);
	proc_send(PROC_QUEUE, IMSG_MDA_RESULT, &m, -1);
	msg_free(&m);
	mda_job_free(job);
}

static void
mda_log(const struct mda_job *job, int result, const char *stat)
{
	const struct envelope	*env = &job->env;
	char			 from[MAILADDR_USER_MAX + MAILADDR_DOMAIN_MAX];
	char			 to[sizeof(from)], rcpt[sizeof(from)];
	char			 delay[32];

	if (mailaddr_to_text(&env->sender, from, sizeof(from)) == -1)
		from[0] = '\0';
	if (mailaddr_to_text(&env->dest, to, sizeof(to)) == -1)
		to[0] = '\0';
	if (mailaddr_to_text(&env->rcpt, rcpt, sizeof(rcpt)) == -1)
		rcpt[0] = '\0';
	mda_duration(env->creation ? time(NULL) - env->creation : 0, delay,
	    sizeof(delay));
	log_info("%016" PRIx64 " mda delivery evpid=%016" PRIx64 " from=<%s> "
	    "to=<%s> rcpt=<%s> user=%s delay=%s result=%s stat=%s", job->sid,
	    job->evpid, from, to, rcpt,
	    env->mda_user[0] ? env->mda_user : "-", delay,
	    result == RESULT_OK ? "Ok" : result == RESULT_PERM ? "PermFail" :
	    "TempFail", stat[0] ? stat : "-");
}

/*
 * The text a delivery reports may start with an enhanced status code
 * ("5.1.1 No such mailbox"): split it off.  When there is none, or it
 * does not agree with the result, one is made from the result.
 * Returns the rest of the text.
 */
static const char *
mda_split_esc(const char *text, int result, char *esc, size_t escsz)
{
	const char	*p = text;
	char		 class;
	size_t		 n;

	class = result == RESULT_OK ? '2' : result == RESULT_PERM ? '5' : '4';
	if (p[0] == class && (n = esc_length(p)) > 0 && n < escsz) {
		memcpy(esc, p, n);
		esc[n] = '\0';
		p += n;
		while (*p == ' ')
			p++;
	} else
		snprintf(esc, escsz, "%c.%s", class,
		    result == RESULT_OK ? "0.0" : "3.0");
	if (*p == '\0' && result == RESULT_OK)
		p = "Delivered";
	return p;
}

/* Length of "c.sss.ddd" (RFC 3463) at the start of s, then a space or
 * the end; 0 if there is none. */
static size_t
esc_length(const char *s)
{
	size_t	 i = 2, n;
	int	 part;

	if (strchr("245", s[0]) == NULL || s[0] == '\0' || s[1] != '.')
		return 0;
	for (part = 0; part < 2; part++) {
		n = strspn(s + i, "0123456789");
		if (n < 1 || n > 3)
			return 0;
		i += n;
		if (part == 0) {
			if (s[i] != '.')
				return 0;
			i++;
		}
	}
	return (s[i] == ' ' || s[i] == '\0') ? i : 0;
}

/* "1d2h3m4s", "0s" */
static void
mda_duration(time_t t, char *buf, size_t bufsz)
{
	long long	 s = t < 0 ? 0 : (long long)t;
	size_t		 len = 0;
	int		 n;

	buf[0] = '\0';
	if (s >= 86400) {
		n = snprintf(buf + len, bufsz - len, "%lldd", s / 86400);
		len += n > 0 ? (size_t)n : 0;
		s %= 86400;
	}
	if (s >= 3600 && len < bufsz) {
		n = snprintf(buf + len, bufsz - len, "%lldh", s / 3600);
		len += n > 0 ? (size_t)n : 0;
		s %= 3600;
	}
	if (s >= 60 && len < bufsz) {
		n = snprintf(buf + len, bufsz - len, "%lldm", s / 60);
		len += n > 0 ? (size_t)n : 0;
		s %= 60;
	}
	if ((s > 0 || len == 0) && len < bufsz)
		snprintf(buf + len, bufsz - len, "%llds", s);
}

/* Out of memory before a job exists: tempfail, with what we know. */
static void
mda_fail_early(uint64_t evpid, int fd)
{
	struct msg	 m;

	if (fd != -1)
		close(fd);
	msg_init(&m);
	msg_add_id(&m, evpid);
	msg_add_int32(&m, RESULT_TEMP);
	msg_add_string(&m, "Out of memory");
	msg_add_string(&m, "4.3.0");
	proc_send(PROC_QUEUE, IMSG_MDA_RESULT, &m, -1);
	msg_free(&m);
}

static void
mda_job_free(struct mda_job *job)
{
	if (job->fd != -1)
		close(job->fd);
	free(job);
}
