/*
 * helper_echo: a fake helper for the unit tests, built on helper.c.
 * It answers the frame types of helper_test.h; -S socket connects to a
 * socket instead of using descriptor 3.
 */
#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "smtpd-api.h"
#include "helper_test.h"

static void	echo_frame(struct imsg *, struct msg_reader *, void *);
static void	echo_garbage(void);

int
main(int argc, char *argv[])
{
	int	 ch;

	while ((ch = getopt(argc, argv, "S:")) != -1) {
		switch (ch) {
		case 'S':
			helper_set_socket(optarg);
			break;
		default:
			fprintf(stderr, "usage: helper_echo [-S socket]\n");
			return 1;
		}
	}
	if (helper_init(TEST_ROLE, TEST_CAPABILITIES, TEST_HELPER_NAME) == -1)
		return 1;
	return helper_loop(echo_frame, NULL) == -1 ? 1 : 0;
}

static void
echo_frame(struct imsg *imsg, struct msg_reader *rd, void *arg)
{
	struct msg	 m;
	uint64_t	 reqid;
	char		*s = NULL;
	int		 fd = -1;
	ssize_t		 n;

	/* Requests start with their id (section 4 of smtpd-api.h). */
	if (msg_get_id(rd, &reqid) == -1) {
		log_warnx("frame type %u: %s", imsg->hdr.type,
		    msg_reader_error(rd));
		return;
	}
	msg_init(&m);
	switch (imsg->hdr.type) {
	case T_ECHO:
		if (msg_get_string(rd, &s) == -1 || msg_end(rd) == -1) {
			log_warnx("T_ECHO: %s", msg_reader_error(rd));
			break;
		}
		if (imsg->fd != -1) {
			n = write(imsg->fd, s, strlen(s));
			if (n != (ssize_t)strlen(s))
				log_warn("write to the descriptor");
			fd = imsg->fd;		/* taken: goes back */
			imsg->fd = -1;
		}
		msg_add_string(&m, s);
		helper_reply(T_ECHO, reqid, &m, fd);
		break;
	case T_SILENT:
		break;
	case T_GARBAGE:
		echo_garbage();
		break;
	case T_WRONGTYPE:
		msg_add_string(&m, "wrong");
		helper_reply(T_ECHO, reqid, &m, -1);
		break;
	case T_EVENT:
		msg_add_string(&m, "notice");
		helper_send(T_NOTICE, &m, -1);
		msg_reset(&m);
		helper_reply(T_EVENT, reqid, &m, -1);
		break;
	case T_INFO:
		msg_add_string(&m, helper_instance_name());
		msg_add_string(&m, helper_config());
		msg_add_uint32(&m, (uint32_t)log_getverbose());
		msg_add_uint32(&m, log_gettrace());
		helper_reply(T_INFO, reqid, &m, -1);
		break;
	case T_EXIT:
		exit(3);
	default:
		log_warnx("unexpected frame type %u", imsg->hdr.type);
		break;
	}
	free(s);
	msg_free(&m);
}

/* A header announcing less than itself: the owner must drop us. */
static void
echo_garbage(void)
{
	struct imsg_hdr	 hdr;

	memset(&hdr, 0, sizeof(hdr));
	hdr.type = T_ECHO;
	hdr.len = 4;
	if (write(3, &hdr, sizeof(hdr)) != (ssize_t)sizeof(hdr))
		log_warn("write garbage");
}
