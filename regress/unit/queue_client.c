/*
 * queue_client.c: a synchronous client of a queue backend, for the unit
 * tests (see queue_client.h).  Every wait is on a condition with a
 * generous deadline; a deadline missed fails the test.
 */
#include <sys/types.h>

#include <check.h>
#include <errno.h>
#include <event.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "smtpd-api.h"
#include "queue_client.h"

static void	on_ready(struct imsgproc *, uint64_t, const char *, void *);
static void	on_down(struct imsgproc *, const char *, void *);
static void	on_reply(struct imsgproc *, int, struct imsg *,
		    struct msg_reader *, void *);
static void	wait_flag(struct qc *, const int *);
static int	call(struct qc *, uint32_t, struct msg *, struct qc_reply *);

void
qc_start(struct qc *c, char *const argv[], const char *config)
{
	struct imsgproc_params	 params;
	time_t			 end;

	memset(c, 0, sizeof(*c));
	c->base = event_base_new();
	ck_assert_ptr_nonnull(c->base);
	memset(&params, 0, sizeof(params));
	params.role = HELPER_ROLE_QUEUE;
	params.name = "queue";
	params.argv = argv;
	params.config = config;
	params.timeout_ms = QC_WAIT_SEC * 1000;
	params.handshake_ms = QC_WAIT_SEC * 1000;
	params.restart = IMSGPROC_NO_RESTART;
	params.fd = -1;
	params.on_ready = on_ready;
	params.on_down = on_down;
	params.arg = c;
	c->proc = imsgproc_start(c->base, &params);
	ck_assert_ptr_nonnull(c->proc);
	end = time(NULL) + QC_WAIT_SEC;
	while (!c->ready && !c->down && time(NULL) < end)
		event_base_loop(c->base, EVLOOP_ONCE);
	ck_assert_msg(c->ready, "queue helper %s did not become ready",
	    argv[0]);
}

void
qc_stop(struct qc *c)
{
	imsgproc_free(c->proc);
	c->proc = NULL;
	/* Only the reaper is left: the helper is gone when it returns. */
	event_base_dispatch(c->base);
	event_base_free(c->base);
	c->base = NULL;
}

void
qc_kill(struct qc *c)
{
	ck_assert_int_eq(kill(imsgproc_pid(c->proc), SIGKILL), 0);
	wait_flag(c, &c->down);
	qc_stop(c);
}

void
qc_wait_down(struct qc *c)
{
	wait_flag(c, &c->down);
}

pid_t
qc_pid(struct qc *c)
{
	return imsgproc_pid(c->proc);
}

void
qc_send(struct qc *c, uint32_t type, struct msg *body, struct qc_reply *r)
{
	memset(r, 0, sizeof(*r));
	r->result = -2;
	r->fd = -1;
	imsgproc_request(c->proc, type, body, -1, 0, on_reply, r);
}

void
qc_wait(struct qc *c, struct qc_reply *r, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		wait_flag(c, &r[i].done);
}

void
qc_reply_free(struct qc_reply *r)
{
	if (r->fd != -1)
		close(r->fd);
	r->fd = -1;
	free(r->raw);
	r->raw = NULL;
}

int
qc_create(struct qc *c, const char *body, uint32_t *msgid)
{
	struct qc_reply		 r;
	struct msg_reader	 rd;
	size_t			 len = strlen(body);
	ssize_t			 n;
	int			 res;

	*msgid = 0;
	if ((res = call(c, IMSG_QUEUE_MESSAGE_CREATE, NULL, &r)) == 1) {
		msg_reader_init(&rd, r.raw, r.rawlen);
		ck_assert_int_eq(msg_get_uint32(&rd, msgid), 0);
		ck_assert_int_eq(msg_end(&rd), 0);
		ck_assert_int_ne(r.fd, -1);
		while (len > 0) {
			n = write(r.fd, body, len);
			ck_assert_int_gt(n, 0);
			body += n;
			len -= n;
		}
	}
	qc_reply_free(&r);
	return res;
}

int
qc_commit(struct qc *c, uint32_t msgid)
{
	struct qc_reply	 r;
	struct msg	 m;
	int		 res;

	msg_init(&m);
	msg_add_uint32(&m, msgid);
	res = call(c, IMSG_QUEUE_MESSAGE_COMMIT, &m, &r);
	msg_free(&m);
	qc_reply_free(&r);
	return res;
}

int
qc_delmsg(struct qc *c, uint32_t msgid)
{
	struct qc_reply	 r;
	struct msg	 m;
	int		 res;

	msg_init(&m);
	msg_add_uint32(&m, msgid);
	res = call(c, IMSG_QUEUE_MESSAGE_DELETE, &m, &r);
	msg_free(&m);
	qc_reply_free(&r);
	return res;
}

int
qc_corrupt(struct qc *c, uint32_t msgid)
{
	struct qc_reply	 r;
	struct msg	 m;
	int		 res;

	msg_init(&m);
	msg_add_uint32(&m, msgid);
	res = call(c, IMSG_QUEUE_MESSAGE_CORRUPT, &m, &r);
	msg_free(&m);
	qc_reply_free(&r);
	return res;
}

int
qc_envelope(struct qc *c, uint32_t msgid, const char *text, uint64_t *evpid)
{
	struct qc_reply		 r;
	struct msg_reader	 rd;
	struct msg		 m;
	int			 res;

	*evpid = 0;
	msg_init(&m);
	msg_add_uint32(&m, msgid);
	msg_add_data(&m, text, strlen(text));
	if ((res = call(c, IMSG_QUEUE_ENVELOPE_CREATE, &m, &r)) == 1) {
		msg_reader_init(&rd, r.raw, r.rawlen);
		ck_assert_int_eq(msg_get_id(&rd, evpid), 0);
		ck_assert_int_eq(msg_end(&rd), 0);
	}
	msg_free(&m);
	qc_reply_free(&r);
	return res;
}

int
qc_update(struct qc *c, uint64_t evpid, const char *text)
{
	struct qc_reply	 r;
	struct msg	 m;
	int		 res;

	msg_init(&m);
	msg_add_id(&m, evpid);
	msg_add_data(&m, text, strlen(text));
	res = call(c, IMSG_QUEUE_ENVELOPE_UPDATE, &m, &r);
	msg_free(&m);
	qc_reply_free(&r);
	return res;
}

int
qc_load(struct qc *c, uint64_t evpid, char *buf, size_t bufsz)
{
	struct qc_reply		 r;
	struct msg_reader	 rd;
	struct msg		 m;
	const void		*text;
	size_t			 len;
	int			 res;

	buf[0] = '\0';
	msg_init(&m);
	msg_add_id(&m, evpid);
	if ((res = call(c, IMSG_QUEUE_ENVELOPE_LOAD, &m, &r)) == 1) {
		msg_reader_init(&rd, r.raw, r.rawlen);
		ck_assert_int_eq(msg_get_data(&rd, &text, &len), 0);
		ck_assert_int_eq(msg_end(&rd), 0);
		ck_assert_uint_lt(len, bufsz);
		memcpy(buf, text, len);
		buf[len] = '\0';
	}
	msg_free(&m);
	qc_reply_free(&r);
	return res;
}

int
qc_delete(struct qc *c, uint64_t evpid)
{
	struct qc_reply	 r;
	struct msg	 m;
	int		 res;

	msg_init(&m);
	msg_add_id(&m, evpid);
	res = call(c, IMSG_QUEUE_ENVELOPE_DELETE, &m, &r);
	msg_free(&m);
	qc_reply_free(&r);
	return res;
}

int
qc_cat(struct qc *c, uint32_t msgid, char *buf, size_t bufsz)
{
	struct qc_reply	 r;
	struct msg	 m;
	size_t		 len = 0;
	ssize_t		 n;
	int		 res;

	buf[0] = '\0';
	msg_init(&m);
	msg_add_uint32(&m, msgid);
	if ((res = call(c, IMSG_QUEUE_MESSAGE_FD_R, &m, &r)) == 1) {
		ck_assert_int_ne(r.fd, -1);
		while ((n = read(r.fd, buf + len, bufsz - 1 - len)) > 0)
			len += n;
		ck_assert_int_eq(n, 0);
		buf[len] = '\0';
	}
	msg_free(&m);
	qc_reply_free(&r);
	return res;
}

int
qc_walk(struct qc *c, uint64_t *evpids, size_t max, size_t *n,
    size_t *batches)
{
	struct qc_reply		 r;
	struct msg_reader	 rd;
	struct msg		 m;
	const void		*text;
	size_t			 len;
	uint64_t		 cursor = 0, next, evpid;
	uint32_t		 done = 0, count, i;
	int			 res = 1;

	*n = 0;
	if (batches != NULL)
		*batches = 0;
	while (!done) {
		msg_init(&m);
		msg_add_id(&m, cursor);
		res = call(c, IMSG_QUEUE_WALK, &m, &r);
		msg_free(&m);
		if (res != 1) {
			qc_reply_free(&r);
			return res;
		}
		msg_reader_init(&rd, r.raw, r.rawlen);
		ck_assert_int_eq(msg_get_id(&rd, &next), 0);
		ck_assert_int_eq(msg_get_uint32(&rd, &done), 0);
		ck_assert_int_eq(msg_get_uint32(&rd, &count), 0);
		for (i = 0; i < count; i++) {
			ck_assert_int_eq(msg_get_id(&rd, &evpid), 0);
			ck_assert_int_eq(msg_get_data(&rd, &text, &len), 0);
			ck_assert_msg(evpid > cursor, "walk not ascending");
			cursor = evpid;
			ck_assert_uint_lt(*n, max);
			evpids[(*n)++] = evpid;
		}
		ck_assert_int_eq(msg_end(&rd), 0);
		ck_assert_msg(done || count > 0, "walk made no progress");
		if (count > 0)
			ck_assert_msg(next == cursor, "walk cursor is not the "
			    "last evpid");
		cursor = next;
		qc_reply_free(&r);
		if (batches != NULL)
			(*batches)++;
	}
	return res;
}

int64_t
qc_stat(struct qc *c, const char *name)
{
	struct qc_reply		 r;
	struct msg_reader	 rd;
	uint64_t		 value;
	uint32_t		 count, i;
	int64_t			 found = -1;
	char			*key;

	ck_assert_int_eq(call(c, IMSG_QUEUE_STATS, NULL, &r), 1);
	msg_reader_init(&rd, r.raw, r.rawlen);
	ck_assert_int_eq(msg_get_uint32(&rd, &count), 0);
	for (i = 0; i < count; i++) {
		ck_assert_int_eq(msg_get_string(&rd, &key), 0);
		ck_assert_int_eq(msg_get_uint64(&rd, &value), 0);
		if (strcmp(key, name) == 0)
			found = (int64_t)value;
		free(key);
	}
	ck_assert_int_eq(msg_end(&rd), 0);
	qc_reply_free(&r);
	return found;
}

int
qc_raw(struct qc *c, uint32_t type, struct msg *body)
{
	struct qc_reply	 r;
	int		 res;

	res = call(c, type, body, &r);
	qc_reply_free(&r);
	return res;
}

static int
call(struct qc *c, uint32_t type, struct msg *body, struct qc_reply *r)
{
	struct msg	 empty;

	msg_init(&empty);
	qc_send(c, type, body != NULL ? body : &empty, r);
	qc_wait(c, r, 1);
	msg_free(&empty);
	return r->result;
}

static void
on_ready(struct imsgproc *p, uint64_t caps, const char *name, void *arg)
{
	struct qc	*c = arg;

	c->ready = 1;
}

static void
on_down(struct imsgproc *p, const char *why, void *arg)
{
	struct qc	*c = arg;

	c->down = 1;
}

static void
on_reply(struct imsgproc *p, int status, struct imsg *imsg,
    struct msg_reader *rd, void *arg)
{
	struct qc_reply	*r = arg;
	int32_t		 res;

	r->done = 1;
	r->status = status;
	if (imsg != NULL) {
		r->fd = imsg->fd;
		imsg->fd = -1;
	}
	if (status != IMSGPROC_REPLY || rd == NULL ||
	    msg_get_int32(rd, &res) == -1)
		return;
	r->result = res;
	r->rawlen = rd->len - rd->off;
	if ((r->raw = malloc(r->rawlen ? r->rawlen : 1)) == NULL)
		abort();
	memcpy(r->raw, rd->buf + rd->off, r->rawlen);
}

static void
wait_flag(struct qc *c, const int *flag)
{
	time_t	 end = time(NULL) + QC_WAIT_SEC;

	while (!*flag) {
		ck_assert_msg(time(NULL) < end, "no answer in %d s",
		    QC_WAIT_SEC);
		event_base_loop(c->base, EVLOOP_ONCE);
	}
}
