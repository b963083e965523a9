/*
 * helper_raw: a fake helper for the unit tests that botches the
 * handshake on purpose, speaking imsg directly on descriptor 3.
 *	helper_raw badversion	READY with API version 999
 *	helper_raw badready	READY without its fields
 *	helper_raw mute		never answers HELLO
 * It then waits for the owner to close the channel.
 */
#include <sys/types.h>

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "smtpd-api.h"

static int	raw_wait_frame(struct imsgbuf *, struct imsg *);

int
main(int argc, char *argv[])
{
	struct imsgbuf	*ib;
	struct imsg	 imsg;
	struct msg	 m;
	const char	*mode;
	char		 buf[256];

	if (argc != 2) {
		fprintf(stderr, "usage: helper_raw badversion|badready|mute\n");
		return 1;
	}
	mode = argv[1];
	if ((ib = imsgbuf_new(3)) == NULL)
		fatal("imsgbuf_new");
	if (raw_wait_frame(ib, &imsg) == -1 || imsg.hdr.type != IMSG_HELLO)
		fatalx("no HELLO");
	imsg_free(&imsg);

	msg_init(&m);
	if (strcmp(mode, "badversion") == 0) {
		msg_add_uint32(&m, 999);
		msg_add_uint64(&m, 0);
		msg_add_string(&m, "helper_raw");
	} else if (strcmp(mode, "badready") == 0)
		msg_add_uint32(&m, SMTPD_API_VERSION);
	else if (strcmp(mode, "mute") != 0)
		fatalx("unknown mode %s", mode);
	if (strcmp(mode, "mute") != 0) {
		if (imsg_compose(ib, IMSG_READY, 0, 0, -1, m.buf, m.len) == -1 ||
		    imsgbuf_flush(ib) == -1)
			fatal("READY");
	}
	msg_free(&m);

	/* Until the owner closes the channel (or kills us). */
	while (read(3, buf, sizeof(buf)) > 0)
		;
	imsgbuf_free(ib);
	return 0;
}

static int
raw_wait_frame(struct imsgbuf *ib, struct imsg *imsg)
{
	int	 r;

	while ((r = imsg_get(ib, imsg)) == 0)
		if (imsgbuf_read(ib) <= 0)
			return -1;
	return r == 1 ? 0 : -1;
}
