/*
 * imsg.c: frames over a UNIX stream socket, with descriptor passing.
 *
 * Writing: composed frames wait in a queue; imsgbuf_write sends what
 * the socket takes.  A frame that carries a descriptor always starts a
 * new sendmsg(2), with the descriptor in its control data, so that the
 * descriptor arrives with the frame's first byte.
 *
 * Reading: bytes go into one buffer of fixed size, a little more than
 * the largest frame, compacted as frames are taken, so memory stays
 * bounded whatever the peer sends.  A descriptor received belongs to
 * the first frame flagged IMSGF_HASFD whose first byte came in the same
 * recvmsg(2) (the OpenBSD imsg rule).  To apply it, the reader walks
 * frame headers as soon as they arrive ("scan"), remembering the stream
 * offset where each frame starts.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "smtpd-api.h"

_Static_assert(sizeof(struct imsg_hdr) == IMSG_HEADER_SIZE,
    "struct imsg_hdr must be exactly the wire header");

/* Read buffer: one maximal frame plus room to read ahead. */
#define IMSG_RBUF_SIZE		(IMSG_MAX_SIZE + 16 * 1024)
/* Compact the read buffer when less than this is free at its end. */
#define IMSG_RBUF_SLACK		(16 * 1024)
/* Descriptors waiting for their frame's header (see imsgbuf_scan). */
#define IMSG_PENDING_MAX	32
/* Extra descriptors a single recvmsg may bring (all but one closed). */
#define IMSG_CMSG_FDS		16
/* Frames gathered in one sendmsg. */
#define IMSG_IOV_MAX		64

/* A frame waiting to be written. */
struct obuf {
	struct obuf	*next;
	size_t		 len;
	size_t		 off;		/* bytes already written */
	int		 fd;		/* -1, or not sent yet */
	unsigned char	 data[];
};

/* A descriptor received in the recvmsg that read stream bytes [start, end). */
struct pending_fd {
	int		 fd;
	uint64_t	 start;
	uint64_t	 end;
};

/* The descriptor of the frame starting at stream offset start, or -1. */
struct frame_fd {
	uint64_t	 start;
	int		 fd;
};

struct imsgbuf {
	int			 fd;

	unsigned char		*rbuf;
	size_t			 rstart;	/* next frame to get */
	size_t			 rend;		/* end of data */
	uint64_t		 rtotal;	/* offset of rbuf[rend] */
	uint64_t		 scan;		/* next frame start */
	int			 scan_stopped;	/* bad header seen */
	struct pending_fd	 pending[IMSG_PENDING_MAX];
	size_t			 npending;
	struct frame_fd		*frame_fds;	/* in stream order */
	size_t			 frame_fds_head;
	size_t			 frame_fds_len;
	size_t			 frame_fds_cap;
	int			 failed;	/* malformed input: sticky */

	struct obuf		*ohead;
	struct obuf		*otail;
	size_t			 queued;

	char			 error[256];
};

static int	 imsg_hdr_check(const struct imsg_hdr *, char *, size_t);
static void	 imsgbuf_set_error(struct imsgbuf *, const char *, ...)
		    __attribute__((__format__(printf, 2, 3)));
static void	 imsgbuf_scan(struct imsgbuf *);
static void	 imsgbuf_drop_pending(struct imsgbuf *, uint64_t);
static int	 imsgbuf_add_pending(struct imsgbuf *, int, uint64_t,
		    uint64_t);
static int	 imsgbuf_push_frame_fd(struct imsgbuf *, uint64_t, int);
static int	 imsgbuf_recv_fds(struct msghdr *);
static void	 imsgbuf_consume(struct imsgbuf *, size_t);

struct imsgbuf *
imsgbuf_new(int fd)
{
	struct imsgbuf	*ib;

	if ((ib = calloc(1, sizeof(*ib))) == NULL)
		return NULL;
	if ((ib->rbuf = malloc(IMSG_RBUF_SIZE)) == NULL) {
		free(ib);
		return NULL;
	}
	ib->fd = fd;
	return ib;
}

void
imsgbuf_free(struct imsgbuf *ib)
{
	struct obuf	*b, *next;
	size_t		 i;
	int		 saved_errno = errno;

	if (ib == NULL)
		return;
	for (b = ib->ohead; b != NULL; b = next) {
		next = b->next;
		if (b->fd != -1)
			close(b->fd);
		free(b);
	}
	for (i = 0; i < ib->npending; i++)
		close(ib->pending[i].fd);
	for (i = ib->frame_fds_head; i < ib->frame_fds_len; i++)
		if (ib->frame_fds[i].fd != -1)
			close(ib->frame_fds[i].fd);
	free(ib->frame_fds);
	free(ib->rbuf);
	free(ib);
	errno = saved_errno;
}

int
imsgbuf_fd(struct imsgbuf *ib)
{
	return ib->fd;
}

const char *
imsgbuf_error(struct imsgbuf *ib)
{
	if (ib->error[0] == '\0')
		return "no error";
	return ib->error;
}

static void
imsgbuf_set_error(struct imsgbuf *ib, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(ib->error, sizeof(ib->error), fmt, ap);
	va_end(ap);
}

/* ------------------------------------------------------------------ */
/* writing                                                             */
/* ------------------------------------------------------------------ */

int
imsg_compose(struct imsgbuf *ib, uint32_t type, uint32_t peerid,
    uint16_t flags, int fd, const void *data, size_t datalen)
{
	struct imsg_hdr	 hdr;
	struct obuf	*b;

	if (datalen > IMSG_MAX_BODY) {
		imsgbuf_set_error(ib, "frame type %u: body of %zu bytes "
		    "exceeds maximum %d", type, datalen, IMSG_MAX_BODY);
		errno = EMSGSIZE;
		return -1;
	}
	if (data == NULL && datalen > 0) {
		errno = EINVAL;
		return -1;
	}
	if ((b = malloc(sizeof(*b) + IMSG_HEADER_SIZE + datalen)) == NULL)
		return -1;

	/* The flag always tells the truth about the descriptor. */
	flags &= ~IMSGF_HASFD;
	if (fd != -1)
		flags |= IMSGF_HASFD;
	memset(&hdr, 0, sizeof(hdr));
	hdr.type = type;
	hdr.len = (uint32_t)(IMSG_HEADER_SIZE + datalen);
	hdr.flags = flags;
	hdr.peerid = peerid;
	hdr.pid = (uint32_t)getpid();
	memcpy(b->data, &hdr, sizeof(hdr));
	if (datalen > 0)
		memcpy(b->data + IMSG_HEADER_SIZE, data, datalen);
	b->next = NULL;
	b->len = hdr.len;
	b->off = 0;
	b->fd = fd;

	if (ib->otail != NULL)
		ib->otail->next = b;
	else
		ib->ohead = b;
	ib->otail = b;
	ib->queued += b->len;
	log_trace(TRACE_IMSG, "imsg: fd %d: queued type %u len %u flags 0x%x%s",
	    ib->fd, type, hdr.len, flags, fd != -1 ? " with a descriptor" : "");
	return 0;
}

size_t
imsgbuf_queued(struct imsgbuf *ib)
{
	return ib->queued;
}

int
imsgbuf_write(struct imsgbuf *ib)
{
	struct iovec	 iov[IMSG_IOV_MAX];
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	} cmsgbuf;
	struct msghdr	 msg;
	struct cmsghdr	*cmsg;
	struct obuf	*b;
	size_t		 n;
	ssize_t		 sent;
	int		 i;

	while (ib->ohead != NULL) {
		/*
		 * Gather frames, but a frame with a descriptor must be
		 * first in its sendmsg: stop before the next one.
		 */
		i = 0;
		for (b = ib->ohead; b != NULL && i < IMSG_IOV_MAX;
		    b = b->next) {
			if (i > 0 && b->fd != -1)
				break;
			iov[i].iov_base = b->data + b->off;
			iov[i].iov_len = b->len - b->off;
			i++;
		}
		memset(&msg, 0, sizeof(msg));
		msg.msg_iov = iov;
		msg.msg_iovlen = i;
		if (ib->ohead->fd != -1) {
			memset(&cmsgbuf, 0, sizeof(cmsgbuf));
			msg.msg_control = cmsgbuf.buf;
			msg.msg_controllen = sizeof(cmsgbuf.buf);
			cmsg = CMSG_FIRSTHDR(&msg);
			cmsg->cmsg_len = CMSG_LEN(sizeof(int));
			cmsg->cmsg_level = SOL_SOCKET;
			cmsg->cmsg_type = SCM_RIGHTS;
			memcpy(CMSG_DATA(cmsg), &ib->ohead->fd, sizeof(int));
		}

		sent = sendmsg(ib->fd, &msg, MSG_NOSIGNAL);
		if (sent == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			imsgbuf_set_error(ib, "write: %s", strerror(errno));
			return -1;
		}

		/* The peer holds its own copy of the descriptor now. */
		if (ib->ohead->fd != -1) {
			close(ib->ohead->fd);
			ib->ohead->fd = -1;
		}
		n = (size_t)sent;
		ib->queued -= n;
		while (n > 0) {
			b = ib->ohead;
			if (n < b->len - b->off) {
				b->off += n;
				break;
			}
			n -= b->len - b->off;
			ib->ohead = b->next;
			if (ib->ohead == NULL)
				ib->otail = NULL;
			free(b);
		}
	}
	return 1;
}

int
imsgbuf_flush(struct imsgbuf *ib)
{
	struct pollfd	 pfd;
	int		 r;

	while ((r = imsgbuf_write(ib)) == 0) {
		pfd.fd = ib->fd;
		pfd.events = POLLOUT;
		pfd.revents = 0;
		if (poll(&pfd, 1, -1) == -1 && errno != EINTR) {
			imsgbuf_set_error(ib, "poll: %s", strerror(errno));
			return -1;
		}
	}
	return r == 1 ? 0 : -1;
}

/* ------------------------------------------------------------------ */
/* reading                                                             */
/* ------------------------------------------------------------------ */

/* 0 if the header is sane, else -1 with the reason in err. */
static int
imsg_hdr_check(const struct imsg_hdr *hdr, char *err, size_t errsz)
{
	if (hdr->len < IMSG_HEADER_SIZE) {
		snprintf(err, errsz, "frame length %u shorter than the "
		    "%d-byte header", hdr->len, IMSG_HEADER_SIZE);
		return -1;
	}
	if (hdr->len > IMSG_MAX_SIZE) {
		snprintf(err, errsz, "frame length %u exceeds maximum %d",
		    hdr->len, IMSG_MAX_SIZE);
		return -1;
	}
	if (hdr->reserved != 0) {
		snprintf(err, errsz, "frame type %u: reserved header field "
		    "is 0x%04x, not zero", hdr->type, hdr->reserved);
		return -1;
	}
	return 0;
}

/*
 * The first descriptor of the control data, with FD_CLOEXEC; others
 * are closed (a frame carries at most one).  -1 when none came.
 */
static int
imsgbuf_recv_fds(struct msghdr *msg)
{
	struct cmsghdr	*cmsg;
	size_t		 i, nfds;
	int		 fd, kept = -1;

	for (cmsg = CMSG_FIRSTHDR(msg); cmsg != NULL;
	    cmsg = CMSG_NXTHDR(msg, cmsg)) {
		if (cmsg->cmsg_level != SOL_SOCKET ||
		    cmsg->cmsg_type != SCM_RIGHTS)
			continue;
		nfds = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < nfds; i++) {
			memcpy(&fd, CMSG_DATA(cmsg) + i * sizeof(int),
			    sizeof(int));
			if (kept == -1)
				kept = fd;
			else
				close(fd);
		}
	}
#ifndef MSG_CMSG_CLOEXEC
	if (kept != -1)
		fcntl(kept, F_SETFD, FD_CLOEXEC);
#endif
	return kept;
}

/* Close descriptors whose recvmsg held no frame start before offset off. */
static void
imsgbuf_drop_pending(struct imsgbuf *ib, uint64_t off)
{
	size_t	 i, j;

	for (i = 0, j = 0; i < ib->npending; i++) {
		if (ib->pending[i].end <= off)
			close(ib->pending[i].fd);
		else
			ib->pending[j++] = ib->pending[i];
	}
	ib->npending = j;
}

static int
imsgbuf_add_pending(struct imsgbuf *ib, int fd, uint64_t start, uint64_t end)
{
	/*
	 * Only descriptors of reads inside a partial header can wait,
	 * so this never fills up with a sane peer.
	 */
	if (ib->npending == IMSG_PENDING_MAX) {
		close(fd);
		return -1;
	}
	ib->pending[ib->npending].fd = fd;
	ib->pending[ib->npending].start = start;
	ib->pending[ib->npending].end = end;
	ib->npending++;
	return 0;
}

static int
imsgbuf_push_frame_fd(struct imsgbuf *ib, uint64_t start, int fd)
{
	struct frame_fd	*p;
	size_t		 cap;

	if (ib->frame_fds_head == ib->frame_fds_len) {
		ib->frame_fds_head = 0;
		ib->frame_fds_len = 0;
	}
	if (ib->frame_fds_len == ib->frame_fds_cap && ib->frame_fds_head > 0) {
		memmove(ib->frame_fds, ib->frame_fds + ib->frame_fds_head,
		    (ib->frame_fds_len - ib->frame_fds_head) * sizeof(*p));
		ib->frame_fds_len -= ib->frame_fds_head;
		ib->frame_fds_head = 0;
	}
	if (ib->frame_fds_len == ib->frame_fds_cap) {
		cap = ib->frame_fds_cap ? ib->frame_fds_cap * 2 : 8;
		p = reallocarray(ib->frame_fds, cap, sizeof(*p));
		if (p == NULL)
			return -1;
		ib->frame_fds = p;
		ib->frame_fds_cap = cap;
	}
	ib->frame_fds[ib->frame_fds_len].start = start;
	ib->frame_fds[ib->frame_fds_len].fd = fd;
	ib->frame_fds_len++;
	return 0;
}

/*
 * Walk the headers that have arrived, giving each IMSGF_HASFD frame the
 * descriptor of the recvmsg that brought its first byte.
 */
static void
imsgbuf_scan(struct imsgbuf *ib)
{
	struct imsg_hdr	 hdr;
	char		 err[128];
	size_t		 i;
	int		 fd;

	while (!ib->scan_stopped) {
		imsgbuf_drop_pending(ib, ib->scan);
		if (ib->scan + IMSG_HEADER_SIZE > ib->rtotal)
			return;
		memcpy(&hdr, ib->rbuf + ib->rend - (ib->rtotal - ib->scan),
		    sizeof(hdr));
		/* imsg_get reports the error when it gets there. */
		if (imsg_hdr_check(&hdr, err, sizeof(err)) == -1) {
			ib->scan_stopped = 1;
			break;
		}
		if (hdr.flags & IMSGF_HASFD) {
			fd = -1;
			for (i = 0; i < ib->npending; i++)
				if (ib->pending[i].start <= ib->scan)
					break;
			if (i < ib->npending) {
				fd = ib->pending[i].fd;
				ib->npending--;
				memmove(ib->pending + i, ib->pending + i + 1,
				    (ib->npending - i) *
				    sizeof(ib->pending[0]));
			}
			if (imsgbuf_push_frame_fd(ib, ib->scan, fd) == -1) {
				/* out of memory: the frame will lack its fd */
				if (fd != -1)
					close(fd);
			}
		}
		ib->scan += hdr.len;
	}
	imsgbuf_drop_pending(ib, UINT64_MAX);
}

ssize_t
imsgbuf_read(struct imsgbuf *ib)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int) *
				    IMSG_CMSG_FDS)];
	} cmsgbuf;
	struct msghdr	 msg;
	struct iovec	 iov;
	ssize_t		 n;
	uint64_t	 start;
	int		 fd, flags = 0;

	if (ib->rstart == ib->rend) {
		ib->rstart = 0;
		ib->rend = 0;
	} else if (ib->rstart > 0 && IMSG_RBUF_SIZE - ib->rend <
	    IMSG_RBUF_SLACK) {
		memmove(ib->rbuf, ib->rbuf + ib->rstart, ib->rend - ib->rstart);
		ib->rend -= ib->rstart;
		ib->rstart = 0;
	}
	if (ib->rend == IMSG_RBUF_SIZE) {
		imsgbuf_set_error(ib, "read buffer full: frames must be "
		    "taken with imsg_get before reading more");
		errno = ENOBUFS;
		return -1;
	}

	iov.iov_base = ib->rbuf + ib->rend;
	iov.iov_len = IMSG_RBUF_SIZE - ib->rend;
	memset(&msg, 0, sizeof(msg));
	memset(&cmsgbuf, 0, sizeof(cmsgbuf));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cmsgbuf.buf;
	msg.msg_controllen = sizeof(cmsgbuf.buf);
#ifdef MSG_CMSG_CLOEXEC
	flags = MSG_CMSG_CLOEXEC;
#endif
	do {
		n = recvmsg(ib->fd, &msg, flags);
	} while (n == -1 && errno == EINTR);
	if (n == -1) {
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			imsgbuf_set_error(ib, "read: %s", strerror(errno));
		return -1;
	}
	fd = imsgbuf_recv_fds(&msg);
	if (n == 0) {
		if (fd != -1)
			close(fd);
		return 0;
	}

	start = ib->rtotal;
	ib->rend += (size_t)n;
	ib->rtotal += (uint64_t)n;
	if (fd != -1)
		imsgbuf_add_pending(ib, fd, start, ib->rtotal);
	imsgbuf_scan(ib);
	return n;
}

static void
imsgbuf_consume(struct imsgbuf *ib, size_t n)
{
	ib->rstart += n;
	if (ib->rstart == ib->rend) {
		ib->rstart = 0;
		ib->rend = 0;
	}
}

int
imsg_get(struct imsgbuf *ib, struct imsg *imsg)
{
	struct imsg_hdr	 hdr;
	struct frame_fd	*ff;
	uint64_t	 start;
	size_t		 avail, datalen;
	void		*data;
	int		 fd = -1;

	if (ib->failed)
		return -1;
	avail = ib->rend - ib->rstart;
	if (avail < IMSG_HEADER_SIZE)
		return 0;
	memcpy(&hdr, ib->rbuf + ib->rstart, sizeof(hdr));
	if (imsg_hdr_check(&hdr, ib->error, sizeof(ib->error)) == -1) {
		ib->failed = 1;
		return -1;
	}
	if (hdr.len > avail)
		return 0;

	start = ib->rtotal - avail;
	ff = NULL;
	if (ib->frame_fds_head < ib->frame_fds_len &&
	    ib->frame_fds[ib->frame_fds_head].start == start)
		ff = &ib->frame_fds[ib->frame_fds_head];
	if (hdr.flags & IMSGF_HASFD) {
		if (ff == NULL || ff->fd == -1) {
			imsgbuf_set_error(ib, "frame type %u is flagged with "
			    "a descriptor but none was received", hdr.type);
			ib->failed = 1;
			return -1;
		}
	}

	datalen = hdr.len - IMSG_HEADER_SIZE;
	/* Never NULL, so that callers may memcpy from it even when empty. */
	if ((data = malloc(datalen > 0 ? datalen : 1)) == NULL) {
		imsgbuf_set_error(ib, "out of memory for a frame of %u bytes",
		    hdr.len);
		return -1;
	}
	memcpy(data, ib->rbuf + ib->rstart + IMSG_HEADER_SIZE, datalen);
	if (ff != NULL) {
		fd = ff->fd;
		ib->frame_fds_head++;
	}
	imsgbuf_consume(ib, hdr.len);

	imsg->hdr = hdr;
	imsg->fd = fd;
	imsg->data = data;
	imsg->datalen = datalen;
	log_trace(TRACE_IMSG, "imsg: fd %d: got type %u len %u flags 0x%x%s",
	    ib->fd, hdr.type, hdr.len, hdr.flags,
	    fd != -1 ? " with a descriptor" : "");
	return 1;
}

/* The descriptor, if any, is the caller's: imsg_free leaves it open. */
void
imsg_free(struct imsg *imsg)
{
	free(imsg->data);
	imsg->data = NULL;
	imsg->datalen = 0;
}
