/*
 * client.c: the client side of the control socket.
 *
 * Blocking and one request at a time: these programs do nothing else
 * while they wait.  The frames are those of smtpd/control.h.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "smtpd-api.h"
#include "config.h"
#include "frames.h"
#include "client.h"

struct client {
	int		 fd;
	struct imsgbuf	*ibuf;
	struct imsg	 imsg;		/* the last frame read */
	int		 have_imsg;
	char		*text;		/* a MSG_STRING reply, copied */
	uint64_t	 next_id;
	char		 path[1024];
};

static int	 where_add(struct client_where *, const char *, const char *);
static int	 client_next(struct client *, struct imsg *, int, char *,
		    size_t);
static void	 client_release(struct client *);
static int	 client_get_u64(struct msg_reader *, uint64_t *);

static int
where_add(struct client_where *w, const char *dir, const char *name)
{
	char	 cwd[PATH_MAX];
	int	 r;

	if (w->npaths == 2)
		return 0;
	if (dir[0] == '/')
		r = snprintf(w->paths[w->npaths], sizeof(w->paths[0]), "%s%s",
		    dir, name);
	else {
		/* like smtpd: a relative spool is from where it starts */
		if (getcwd(cwd, sizeof(cwd)) == NULL)
			return -1;
		r = snprintf(w->paths[w->npaths], sizeof(w->paths[0]),
		    "%s/%s%s", cwd, dir, name);
	}
	if (r < 0 || (size_t)r >= sizeof(w->paths[0]))
		return -1;
	w->npaths++;
	return 0;
}

int
client_where(const char *sockopt, const char *conffile,
    struct client_where *w, char *err, size_t errsz)
{
	struct smtpd_config	*conf;
	const char		*env;
	char			 spool[1024];
	size_t			 len;
	int			 r = 0;

	memset(w, 0, sizeof(*w));
	if (sockopt != NULL)
		r = where_add(w, sockopt, "");
	else if (conffile != NULL) {
		if ((conf = config_parse(conffile, NULL, stderr)) == NULL) {
			snprintf(err, errsz, "%s: invalid configuration",
			    conffile);
			return -1;
		}
		strlcpy(spool, conf->spool, sizeof(spool));
		config_free(conf);
		len = strlen(spool);
		while (len > 1 && spool[len - 1] == '/')
			spool[--len] = '\0';
		if (strcmp(spool, CONFIG_SPOOL_DEFAULT) == 0)
			r = where_add(w, CLIENT_SOCKET_SYSTEM, "");
		if (r == 0)
			r = where_add(w, spool, "/smtpd.sock");
	} else if ((env = getenv("SMTPD_SOCKET")) != NULL && *env != '\0')
		r = where_add(w, env, "");
	else {
		r = where_add(w, CLIENT_SOCKET_SYSTEM, "");
		if (r == 0)
			r = where_add(w, CONFIG_SPOOL_DEFAULT, "/smtpd.sock");
	}
	if (r == -1) {
		snprintf(err, errsz, "control socket path too long");
		return -1;
	}
	return 0;
}

struct client *
client_open(const struct client_where *w, int *notrunning, char *err,
    size_t errsz)
{
	struct sockaddr_un	 sun;
	struct client		*c;
	int			 i, fd = -1, saved = ENOENT;
	const char		*failed = w->paths[0];

	*notrunning = 0;
	for (i = 0; i < w->npaths; i++) {
		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		if (strlcpy(sun.sun_path, w->paths[i], sizeof(sun.sun_path)) >=
		    sizeof(sun.sun_path)) {
			snprintf(err, errsz, "%s: socket path too long",
			    w->paths[i]);
			return NULL;
		}
		if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) ==
		    -1) {
			snprintf(err, errsz, "socket: %s", strerror(errno));
			return NULL;
		}
		if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
			break;
		/* the first real trouble (EACCES...) is worth telling */
		if (saved == ENOENT || saved == ECONNREFUSED) {
			saved = errno;
			failed = w->paths[i];
		}
		close(fd);
	}
	if (i == w->npaths) {
		if (saved == ENOENT || saved == ECONNREFUSED) {
			*notrunning = 1;
			snprintf(err, errsz, "smtpd is not running (nobody "
			    "listens at %s%s%s)", w->paths[0],
			    w->npaths > 1 ? " or " : "",
			    w->npaths > 1 ? w->paths[1] : "");
		} else
			snprintf(err, errsz, "%s: %s", failed,
			    strerror(saved));
		return NULL;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->ibuf = imsgbuf_new(fd)) == NULL) {
		snprintf(err, errsz, "out of memory");
		free(c);
		close(fd);
		return NULL;
	}
	c->fd = fd;
	c->next_id = 1;
	strlcpy(c->path, w->paths[i], sizeof(c->path));
	return c;
}

void
client_close(struct client *c)
{
	if (c == NULL)
		return;
	client_release(c);
	imsgbuf_free(c->ibuf);
	close(c->fd);
	free(c);
}

const char *
client_path(const struct client *c)
{
	return c->path;
}

static void
client_release(struct client *c)
{
	if (c->have_imsg) {
		if (c->imsg.fd != -1)
			close(c->imsg.fd);
		imsg_free(&c->imsg);
		c->have_imsg = 0;
	}
	free(c->text);
	c->text = NULL;
}

int
client_request(struct client *c, const char *verb, const char *args)
{
	struct msg	 m;
	int		 r;

	msg_init(&m);
	msg_add_uint64(&m, c->next_id++);
	msg_add_string(&m, verb);
	msg_add_string(&m, args);
	msg_add_uint32(&m, (uint32_t)getuid());
	r = (msg_error(&m) != 0 || imsg_compose(c->ibuf, IMSG_CTL_REQUEST, 0,
	    0, -1, m.buf, m.len) == -1 || imsgbuf_flush(c->ibuf) == -1) ?
	    -1 : 0;
	msg_free(&m);
	return r;
}

/* The next frame: 1, 0 at the end, -1 with err. */
static int
client_next(struct client *c, struct imsg *imsg, int timeout, char *err,
    size_t errsz)
{
	struct pollfd	 pfd;
	time_t		 deadline = time(NULL) + timeout;
	ssize_t		 n;
	int		 r, ms;

	for (;;) {
		if ((r = imsg_get(c->ibuf, imsg)) == 1)
			return 1;
		if (r == -1) {
			snprintf(err, errsz, "bad frame from smtpd: %s",
			    imsgbuf_error(c->ibuf));
			return -1;
		}
		pfd.fd = c->fd;
		pfd.events = POLLIN;
		ms = -1;
		if (timeout > 0) {
			if (time(NULL) >= deadline) {
				snprintf(err, errsz, "no answer from smtpd "
				    "within %d seconds", timeout);
				return -1;
			}
			ms = (int)(deadline - time(NULL)) * 1000;
		}
		if ((r = poll(&pfd, 1, ms)) == -1) {
			if (errno == EINTR)
				continue;
			snprintf(err, errsz, "poll: %s", strerror(errno));
			return -1;
		}
		if (r == 0)
			continue;
		if ((n = imsgbuf_read(c->ibuf)) == 0)
			return 0;
		if (n == -1) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			if (errno == ECONNRESET)
				return 0;
			snprintf(err, errsz, "read: %s", strerror(errno));
			return -1;
		}
	}
}

static int
client_get_u64(struct msg_reader *r, uint64_t *v)
{
	if (msg_peek_type(r) == MSG_ID)
		return msg_get_id(r, v);
	return msg_get_uint64(r, v);
}

int
client_reply(struct client *c, struct client_reply *reply, int timeout,
    char *err, size_t errsz)
{
	struct msg_reader	 r;
	const void		*data;
	uint64_t		 id;
	int32_t			 more;
	int			 n;

	client_release(c);
	if ((n = client_next(c, &c->imsg, timeout, err, errsz)) != 1)
		return n;
	c->have_imsg = 1;
	if (c->imsg.hdr.type != IMSG_CTL_REPLY) {
		snprintf(err, errsz, "unexpected frame %u from smtpd",
		    c->imsg.hdr.type);
		return -1;
	}
	msg_reader_init(&r, c->imsg.data, c->imsg.datalen);
	if (client_get_u64(&r, &id) == -1 ||
	    msg_get_int32(&r, &reply->result) == -1)
		goto bad;
	if (msg_peek_type(&r) == MSG_STRING) {
		if (msg_get_string(&r, &c->text) == -1)
			goto bad;
		data = c->text;
		reply->len = strlen(c->text);
	} else if (msg_get_data(&r, &data, &reply->len) == -1)
		goto bad;
	if (msg_get_int32(&r, &more) == -1 || msg_end(&r) == -1)
		goto bad;
	reply->data = data;
	reply->more = more != 0;
	return 1;
bad:
	snprintf(err, errsz, "malformed reply from smtpd: %s",
	    msg_reader_error(&r));
	return -1;
}

int
client_smtp_session(struct client *c, char *err, size_t errsz)
{
	struct msg_reader	 r;
	struct msg		 m;
	uint64_t		 id;
	int32_t			 result;
	char			*text = NULL;
	int			 n, fd;

	msg_init(&m);
	msg_add_uint64(&m, c->next_id++);
	msg_add_uint32(&m, (uint32_t)getuid());
	n = (msg_error(&m) != 0 || imsg_compose(c->ibuf,
	    IMSG_CTL_SMTP_SESSION, 0, 0, -1, m.buf, m.len) == -1 ||
	    imsgbuf_flush(c->ibuf) == -1) ? -1 : 0;
	msg_free(&m);
	if (n == -1) {
		snprintf(err, errsz, "%s: %s", c->path, strerror(errno));
		return -1;
	}
	client_release(c);
	if ((n = client_next(c, &c->imsg, CLIENT_REPLY_TIMEOUT, err,
	    errsz)) != 1) {
		if (n == 0)
			snprintf(err, errsz, "smtpd closed the connection");
		return -1;
	}
	c->have_imsg = 1;
	if (c->imsg.hdr.type != IMSG_CTL_SMTP_SESSION) {
		snprintf(err, errsz, "unexpected frame %u from smtpd",
		    c->imsg.hdr.type);
		return -1;
	}
	msg_reader_init(&r, c->imsg.data, c->imsg.datalen);
	if (client_get_u64(&r, &id) == -1 ||
	    msg_get_int32(&r, &result) == -1 ||
	    msg_get_string(&r, &text) == -1 || msg_end(&r) == -1) {
		snprintf(err, errsz, "malformed reply from smtpd: %s",
		    msg_reader_error(&r));
		free(text);
		return -1;
	}
	if (result != 1 || c->imsg.fd == -1) {
		snprintf(err, errsz, "%s", text[0] != '\0' ? text :
		    "smtpd refused a local session");
		free(text);
		return -1;
	}
	free(text);
	fd = c->imsg.fd;
	c->imsg.fd = -1;
	return fd;
}
