/*
 * helper.c: the helper's side of the channel.
 *
 * The channel is descriptor 3, set up by smtpd (or smtpd-probe) before
 * exec, or a UNIX socket given with -S when the helper is started by
 * hand.  helper_init waits for HELLO and answers READY; helper_loop
 * then hands every frame to the role's callback from a libevent loop
 * and writes answers as the socket takes them.
 *
 * What a role API can rely on:
 *	- the callback gets the frame and a reader at the START of its
 *	  body: for a request that is the MSG_ID request id, which the
 *	  role reads itself (msg_get_id), then the request's fields;
 *	- a descriptor that came with the frame is in imsg->fd; it is
 *	  closed after the callback unless the callback took it by
 *	  setting imsg->fd to -1;
 *	- helper_reply prepends the id and sets IMSGF_REPLY; replies and
 *	  other frames are queued and written from the loop, in order.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <event.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "smtpd-api.h"

#define HELPER_CHANNEL_FD	3

static int	 helper_open_channel(const char *);
static int	 helper_wait_hello(const char *, struct imsg *);
static int	 helper_send_ready(uint64_t, const char *);
static int	 helper_flush_blocking(void);
static int	 helper_compose(uint32_t, uint16_t, uint64_t, int,
		    const struct msg *, int);
static void	 helper_dispatch_buffered(void);
static void	 helper_on_read(evutil_socket_t, short, void *);
static void	 helper_on_write(evutil_socket_t, short, void *);
static void	 helper_loop_end(int);

static char		*socket_path;
static int		 channel = -1;
static struct imsgbuf	*ibuf;
static struct event_base *base;
static struct event	*ev_read;
static struct event	*ev_write;
static char		*instance_name;
static char		*config;
static helper_frame_cb	 frame_cb;
static void		*frame_arg;
static int		 loop_result;
static int		 loop_done;

void
helper_set_socket(const char *path)
{
	free(socket_path);
	if ((socket_path = strdup(path)) == NULL)
		fatal("strdup");
}

struct event_base *
helper_event_base(void)
{
	/* Made on first use so that a helper can add events before init. */
	if (base == NULL && (base = event_base_new()) == NULL)
		fatalx("cannot create an event base");
	return base;
}

const char *
helper_instance_name(void)
{
	return instance_name != NULL ? instance_name : "";
}

const char *
helper_config(void)
{
	return config != NULL ? config : "";
}

int
helper_init(const char *role, uint64_t capabilities, const char *helper_name)
{
	struct msg_reader	 rd;
	struct imsg		 imsg;
	uint32_t		 version, verbose, trace;
	char			*hrole = NULL, *hname = NULL, *hconfig = NULL;
	int			 flags;

	if (helper_name == NULL)
		helper_name = getprogname();
	/* A dead owner is an error on write, not a silent death. */
	signal(SIGPIPE, SIG_IGN);

	if (helper_open_channel(helper_name) == -1)
		return -1;
	if ((flags = fcntl(channel, F_GETFL)) == -1 ||
	    fcntl(channel, F_SETFL, flags | O_NONBLOCK) == -1 ||
	    fcntl(channel, F_SETFD, FD_CLOEXEC) == -1) {
		log_warn("channel");
		return -1;
	}
	if ((ibuf = imsgbuf_new(channel)) == NULL) {
		log_warn("imsgbuf_new");
		return -1;
	}
	helper_event_base();

	if (helper_wait_hello(helper_name, &imsg) == -1)
		return -1;
	msg_reader_init(&rd, imsg.data, imsg.datalen);
	if (msg_get_uint32(&rd, &version) == -1) {
		log_warnx("malformed HELLO: %s", msg_reader_error(&rd));
		goto fail;
	}
	if (version != SMTPD_API_VERSION) {
		/* READY anyway, so that the daemon's log says it too. */
		helper_send_ready(capabilities, helper_name);
		fprintf(stderr, "%s: the daemon speaks helper API version %u, "
		    "this program speaks %d: rebuild it against the daemon's "
		    "libsmtpd-api\n", helper_name, version, SMTPD_API_VERSION);
		exit(1);
	}
	if (msg_get_string(&rd, &hrole) == -1 ||
	    msg_get_string(&rd, &hname) == -1 ||
	    msg_get_string(&rd, &hconfig) == -1 ||
	    msg_get_uint32(&rd, &verbose) == -1 ||
	    msg_get_uint32(&rd, &trace) == -1 || msg_end(&rd) == -1) {
		log_warnx("malformed HELLO: %s", msg_reader_error(&rd));
		goto fail;
	}
	if (strcmp(hrole, role) != 0) {
		log_warnx("started as a %s helper, but this program is a %s "
		    "helper", hrole, role);
		goto fail;
	}
	log_setverbose((int)verbose);
	log_settrace(trace);
	log_trace(TRACE_IMSG, "< HELLO instance %s", hname);
	imsg_free(&imsg);
	free(hrole);
	instance_name = hname;
	config = hconfig;

	if (helper_send_ready(capabilities, helper_name) == -1)
		return -1;
	log_debug("instance %s ready", instance_name);
	return 0;

fail:
	imsg_free(&imsg);
	free(hrole);
	free(hname);
	free(hconfig);
	return -1;
}

static int
helper_open_channel(const char *helper_name)
{
	struct sockaddr_un	 sun;
	struct stat		 sb;

	if (socket_path == NULL) {
		if (fstat(HELPER_CHANNEL_FD, &sb) == -1 ||
		    !S_ISSOCK(sb.st_mode)) {
			fprintf(stderr, "%s: no channel on descriptor 3: this "
			    "program is started by smtpd (or smtpd-probe); to "
			    "start it by hand use -S socket\n", helper_name);
			exit(1);
		}
		channel = HELPER_CHANNEL_FD;
		return 0;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, socket_path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path)) {
		log_warnx("socket path too long: %s", socket_path);
		return -1;
	}
	if ((channel = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		log_warn("socket");
		return -1;
	}
	if (connect(channel, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		log_warn("connect to %s", socket_path);
		close(channel);
		channel = -1;
		return -1;
	}
	return 0;
}

/*
 * Nothing else can happen before HELLO, so wait for it blocking; the
 * owner's handshake deadline ends a wait that lasts too long.
 */
static int
helper_wait_hello(const char *helper_name, struct imsg *imsg)
{
	struct pollfd	 pfd;
	ssize_t		 n;
	int		 r;

	for (;;) {
		if ((r = imsg_get(ibuf, imsg)) == -1) {
			log_warnx("malformed frame: %s", imsgbuf_error(ibuf));
			return -1;
		}
		if (r == 1)
			break;
		pfd.fd = channel;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, -1) == -1) {
			if (errno == EINTR)
				continue;
			log_warn("poll");
			return -1;
		}
		if ((n = imsgbuf_read(ibuf)) == 0) {
			log_warnx("channel closed before HELLO");
			return -1;
		}
		if (n == -1 && errno != EAGAIN && errno != EINTR) {
			log_warn("read");
			return -1;
		}
	}
	if (imsg->hdr.type != IMSG_HELLO || (imsg->hdr.flags & IMSGF_REPLY)) {
		log_warnx("expected HELLO first, got frame type %u: is this "
		    "really a %s helper's channel?", imsg->hdr.type,
		    helper_name);
		if (imsg->fd != -1)
			close(imsg->fd);
		imsg_free(imsg);
		return -1;
	}
	if (imsg->fd != -1) {
		close(imsg->fd);
		imsg->fd = -1;
	}
	return 0;
}

static int
helper_send_ready(uint64_t capabilities, const char *helper_name)
{
	struct msg	 m;
	int		 r;

	msg_init(&m);
	msg_add_uint32(&m, SMTPD_API_VERSION);
	msg_add_uint64(&m, capabilities);
	msg_add_string(&m, helper_name);
	r = -1;
	if (msg_error(&m) != 0)
		log_warnx("READY: %s", strerror(msg_error(&m)));
	else if (imsg_compose(ibuf, IMSG_READY, 0, 0, -1, m.buf,
	    m.len) == -1)
		log_warn("READY");
	else {
		log_trace(TRACE_IMSG, "> READY len %zu", m.len);
		r = helper_flush_blocking();
	}
	msg_free(&m);
	return r;
}

/* Only READY is written this way, before the loop runs. */
static int
helper_flush_blocking(void)
{
	struct pollfd	 pfd;
	int		 r;

	while ((r = imsgbuf_write(ibuf)) == 0) {
		pfd.fd = channel;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, -1) == -1 && errno != EINTR) {
			log_warn("poll");
			return -1;
		}
	}
	if (r == -1) {
		log_warn("write");
		return -1;
	}
	return 0;
}

int
helper_loop(helper_frame_cb cb, void *arg)
{
	if (ibuf == NULL) {
		log_warnx("helper_loop called before helper_init");
		return -1;
	}
	frame_cb = cb;
	frame_arg = arg;
	loop_done = 0;
	loop_result = 0;
	ev_read = event_new(base, channel, EV_READ | EV_PERSIST,
	    helper_on_read, NULL);
	ev_write = event_new(base, channel, EV_WRITE | EV_PERSIST,
	    helper_on_write, NULL);
	if (ev_read == NULL || ev_write == NULL ||
	    event_add(ev_read, NULL) == -1) {
		log_warnx("cannot watch the channel");
		return -1;
	}
	if (imsgbuf_queued(ibuf) > 0)
		event_add(ev_write, NULL);
	/* Frames that came along with HELLO are already buffered. */
	helper_dispatch_buffered();
	if (!loop_done && event_base_dispatch(base) == -1) {
		log_warnx("event loop failed");
		loop_result = -1;
	}
	event_free(ev_read);
	event_free(ev_write);
	ev_read = ev_write = NULL;
	return loop_result;
}

static void
helper_loop_end(int result)
{
	if (loop_done)
		return;
	loop_done = 1;
	loop_result = result;
	event_del(ev_read);
	event_del(ev_write);
	event_base_loopbreak(base);
}

static void
helper_on_read(evutil_socket_t fd, short events, void *unused)
{
	ssize_t	 n;

	if ((n = imsgbuf_read(ibuf)) == -1) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		log_warn("read");
		helper_loop_end(-1);
		return;
	}
	if (n == 0) {
		log_debug("channel closed by the owner");
		helper_loop_end(0);
		return;
	}
	helper_dispatch_buffered();
}

static void
helper_dispatch_buffered(void)
{
	struct msg_reader	 rd;
	struct imsg		 imsg;
	int			 r;

	while (!loop_done) {
		if ((r = imsg_get(ibuf, &imsg)) == 0)
			break;
		if (r == -1) {
			log_warnx("malformed frame: %s", imsgbuf_error(ibuf));
			helper_loop_end(-1);
			break;
		}
		log_trace(TRACE_IMSG, "< type %u len %u%s", imsg.hdr.type,
		    imsg.hdr.len, imsg.fd != -1 ? " with fd" : "");
		if (imsg.hdr.type == IMSG_HELLO)
			log_warnx("second HELLO ignored");
		else {
			msg_reader_init(&rd, imsg.data, imsg.datalen);
			frame_cb(&imsg, &rd, frame_arg);
		}
		if (imsg.fd != -1)
			close(imsg.fd);
		imsg_free(&imsg);
	}
}

static void
helper_on_write(evutil_socket_t fd, short events, void *unused)
{
	switch (imsgbuf_write(ibuf)) {
	case -1:
		if (errno == EPIPE) {
			log_debug("channel closed by the owner");
			helper_loop_end(0);
		} else {
			log_warn("write");
			helper_loop_end(-1);
		}
		break;
	case 1:
		event_del(ev_write);
		break;
	default:
		break;
	}
}

int
helper_reply(uint32_t type, uint64_t reqid, const struct msg *body, int fd)
{
	return helper_compose(type, IMSGF_REPLY, reqid, 1, body, fd);
}

int
helper_send(uint32_t type, const struct msg *body, int fd)
{
	return helper_compose(type, 0, 0, 0, body, fd);
}

/* fd is ours from here on: passed to the owner, or closed on failure. */
static int
helper_compose(uint32_t type, uint16_t flags, uint64_t reqid, int with_id,
    const struct msg *body, int fd)
{
	struct msg	 idf;
	unsigned char	*frame = NULL;
	size_t		 bodylen, len;
	int		 saved_errno;

	bodylen = body != NULL ? body->len : 0;
	msg_init(&idf);
	if (ibuf == NULL || loop_done) {
		errno = EPIPE;
		goto fail;
	}
	if (body != NULL && msg_error(body) != 0) {
		errno = msg_error(body);
		log_warn("frame type %u", type);
		goto fail;
	}
	/* The request id leads the body of an answer (section 4). */
	if (with_id)
		msg_add_id(&idf, reqid);
	if (msg_error(&idf) != 0) {
		errno = msg_error(&idf);
		goto fail;
	}
	len = idf.len + bodylen;
	if (len > IMSG_MAX_BODY) {
		errno = EMSGSIZE;
		log_warn("frame type %u of %zu bytes", type, len);
		goto fail;
	}
	if (len > 0 && (frame = malloc(len)) == NULL)
		goto fail;
	if (idf.len > 0)
		memcpy(frame, idf.buf, idf.len);
	if (bodylen > 0)
		memcpy(frame + idf.len, body->buf, bodylen);
	if (imsg_compose(ibuf, type, 0, flags, fd, frame, len) == -1) {
		log_warn("frame type %u", type);
		goto fail;
	}
	log_trace(TRACE_IMSG, "> type %u len %zu%s%s", type, len,
	    with_id ? " reply" : "", fd != -1 ? " with fd" : "");
	free(frame);
	msg_free(&idf);
	if (ev_write != NULL && event_add(ev_write, NULL) == -1)
		log_warnx("cannot watch the channel");
	return 0;

fail:
	saved_errno = errno;
	if (fd != -1)
		close(fd);
	free(frame);
	msg_free(&idf);
	errno = saved_errno;
	return -1;
}
