/*
 * helper_filter_liar: a filter for test_filter_chain that breaks the
 * filter protocol on purpose, speaking the frames itself (section 6 of
 * smtpd-api.h and filter_proto.c) instead of using filter_api, which
 * would not let it lie.
 *
 *	helper_filter_liar count	EOM says one line more than it sent
 *	helper_filter_liar ack		acknowledges one line less per batch
 *	helper_filter_liar malformed	answers MAIL with a body that does
 *					not decode
 *	helper_filter_liar dataout	sends DATAOUT for a session it was
 *					never told about
 *
 * Everything else is accepted, and lines are echoed back unchanged.
 */
#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtpd-api.h"

static void	 usage(void) __attribute__((__noreturn__));
static void	 dispatch(struct imsg *, struct msg_reader *, void *);
static void	 datalines(uint64_t, struct msg_reader *);

static const char	*mode;
static uint32_t		 lines_out;	/* of the message in progress */

static void
usage(void)
{
	fprintf(stderr, "usage: helper_filter_liar "
	    "count|ack|malformed|dataout\n");
	exit(1);
}

int
main(int argc, char *argv[])
{
	if (argc != 2)
		usage();
	mode = argv[1];
	if (strcmp(mode, "count") != 0 && strcmp(mode, "ack") != 0 &&
	    strcmp(mode, "malformed") != 0 && strcmp(mode, "dataout") != 0)
		usage();
	log_init(1, "helper_filter_liar");
	if (helper_init(HELPER_ROLE_FILTER, FILTER_HOOK_ALL,
	    "helper_filter_liar") == -1)
		return 1;
	return helper_loop(dispatch, NULL) == 0 ? 0 : 1;
}

static void
dispatch(struct imsg *imsg, struct msg_reader *r, void *arg)
{
	struct filter_reply	 rep;
	struct msg		 m;
	uint32_t		 type = imsg->hdr.type;
	uint64_t		 reqid;

	if (type == IMSG_FILTER_TX_BEGIN)
		lines_out = 0;
	if (!filter_frame_is_query(type) && type != IMSG_FILTER_DATALINES)
		return;				/* events */
	if (msg_get_id(r, &reqid) == -1)
		fatalx("no request id");
	if (type == IMSG_FILTER_DATALINES) {
		datalines(reqid, r);
		return;
	}
	msg_init(&m);
	if (type == IMSG_FILTER_MAIL && strcmp(mode, "malformed") == 0)
		msg_add_string(&m, "not a reply");
	else {
		filter_reply_default(type, FILTER_ACCEPT, &rep);
		rep.lines_out = lines_out;
		if (type == IMSG_FILTER_EOM && strcmp(mode, "count") == 0)
			rep.lines_out++;
		filter_proto_reply_encode(&m, type, &rep);
	}
	if (helper_reply(type, reqid, &m, -1) == -1)
		fatalx("reply");
	msg_free(&m);
}

/* Echo the batch; acknowledge it (or not quite). */
static void
datalines(uint64_t reqid, struct msg_reader *r)
{
	struct msg	 out, ack;
	uint64_t	 session;
	uint32_t	 n = 0;
	char		*line;

	if (filter_proto_lines_session(r, &session) == -1)
		fatalx("datalines: %s", msg_reader_error(r));
	msg_init(&out);
	filter_proto_lines_start(&out, strcmp(mode, "dataout") == 0 ?
	    session + 1 : session);
	while (filter_proto_lines_next(r, &line) == 1) {
		if (filter_proto_lines_add(&out, line) != 1)
			fatalx("datalines: batch too big to echo");
		free(line);
		n++;
	}
	lines_out += n;
	if (helper_send(IMSG_FILTER_DATAOUT, &out, -1) == -1)
		fatalx("dataout");
	msg_free(&out);
	msg_init(&ack);
	filter_proto_ack_encode(&ack, strcmp(mode, "ack") == 0 ? n - 1 : n);
	if (helper_reply(IMSG_FILTER_DATALINES, reqid, &ack, -1) == -1)
		fatalx("ack");
	msg_free(&ack);
}
