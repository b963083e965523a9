/*
 * network.c: the network process.  It holds every SMTP session (smtp.c
 * and smtp_session.c) and coordinates local deliveries (mda.c); this
 * file sets them up and routes each frame from the other processes to
 * the module it belongs to.
 */
#include <sys/types.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "smtpd-api.h"
#include "frames.h"
#include "mda.h"
#include "proc.h"
#include "smtp.h"
#include "smtp_session.h"
#include "filter_chain.h"

static void	 network_dispatch(enum proc_id, struct imsg *,
		    struct msg_reader *);
static void	 network_expect(enum proc_id, enum proc_id, struct imsg *);
static void	 network_ctl_session(struct msg_reader *);
static void	 network_ctl_request(struct msg_reader *);
static void	 network_ctl_reply(uint64_t, int, const char *);

void
network_main(void)
{
	proc_init(PROC_NETWORK);
	/* before the privilege drop: port 25 needs root */
	smtp_init();
	/* not chrooted: a filter helper that dies is exec'd again */
	proc_drop_privileges(NULL);
	/* after the drop: filters run unprivileged, restarts too */
	if (filter_chain_init(proc_base, smtpd_env.conf, helper_path) == -1)
		fatalx("network: cannot start the filters");
	mda_init();
	if (smtpd_env.paused_mda)
		mda_pause(1);
	proc_loop(network_dispatch);
}

static void
network_dispatch(enum proc_id from, struct imsg *imsg, struct msg_reader *r)
{
	switch (imsg->hdr.type) {
	case IMSG_RECV_CREATE:
	case IMSG_RECV_SUBMIT:
	case IMSG_RECV_COMMIT:
		network_expect(from, PROC_QUEUE, imsg);
		smtp_session_imsg(imsg, r);
		break;
	case IMSG_LOOKUP_RCPT_ENVELOPE:
	case IMSG_LOOKUP_RCPT_DONE:
	case IMSG_LOOKUP_RDNS:
		network_expect(from, PROC_LOOKUP, imsg);
		smtp_session_imsg(imsg, r);
		break;
	case IMSG_MDA_DELIVER:
		network_expect(from, PROC_QUEUE, imsg);
		mda_deliver(imsg, r);
		break;
	case IMSG_MDA_DONE:
		network_expect(from, PROC_PARENT, imsg);
		mda_done(imsg, r);
		break;
	case IMSG_CTL_SMTP_SESSION:
		network_expect(from, PROC_CONTROL, imsg);
		network_ctl_session(r);
		break;
	case IMSG_CTL_REQUEST:
		network_expect(from, PROC_CONTROL, imsg);
		network_ctl_request(r);
		break;
	default:
		fatalx("network: unexpected frame %u from %s", imsg->hdr.type,
		    proc_name(from));
	}
	/* a descriptor nobody took */
	if (imsg->fd != -1) {
		close(imsg->fd);
		imsg->fd = -1;
	}
}

static void
network_expect(enum proc_id from, enum proc_id want, struct imsg *imsg)
{
	if (from != want)
		fatalx("network: frame %u from %s, expected from %s",
		    imsg->hdr.type, proc_name(from), proc_name(want));
}

/* smtpctl/sendmail: a local SMTP session on a socketpair. */
static void
network_ctl_session(struct msg_reader *r)
{
	struct msg	 m;
	uint64_t	 ctlid;
	uint32_t	 uid;
	int		 fd;

	if (msg_get_uint64(r, &ctlid) == -1 || msg_get_uint32(r, &uid) == -1 ||
	    msg_end(r) == -1)
		fatalx("network: bad IMSG_CTL_SMTP_SESSION: %s",
		    msg_reader_error(r));
	fd = smtp_enqueue_session(uid);
	msg_init(&m);
	msg_add_uint64(&m, ctlid);
	msg_add_int32(&m, fd == -1 ? -1 : 1);
	proc_send(PROC_CONTROL, IMSG_CTL_SMTP_SESSION, &m, fd);
	msg_free(&m);
}

/*
 * The verbs the network process answers: pause/resume smtp|mda.  The
 * verb may come whole ("pause smtp") or split ("pause" + "smtp").
 * Control has checked that the requester may do it.
 */
static void
network_ctl_request(struct msg_reader *r)
{
	uint64_t	 ctlid;
	uint32_t	 uid;
	char		*verb = NULL, *args = NULL, full[256];

	if (msg_get_uint64(r, &ctlid) == -1 ||
	    msg_get_string(r, &verb) == -1 ||
	    msg_get_string(r, &args) == -1 ||
	    msg_get_uint32(r, &uid) == -1 || msg_end(r) == -1)
		fatalx("network: bad IMSG_CTL_REQUEST: %s",
		    msg_reader_error(r));
	snprintf(full, sizeof(full), "%s%s%s", verb, args[0] != '\0' ? " " :
	    "", args);
	if (strcmp(full, "pause smtp") == 0) {
		if (!smtp_paused())
			log_info("smtp: paused by uid %u: not accepting "
			    "connections", uid);
		smtp_pause();
		network_ctl_reply(ctlid, 1, "smtp paused\n");
	} else if (strcmp(full, "resume smtp") == 0) {
		if (smtp_paused())
			log_info("smtp: resumed by uid %u", uid);
		smtp_resume();
		network_ctl_reply(ctlid, 1, "smtp resumed\n");
	} else if (strcmp(full, "pause mda") == 0) {
		log_info("mda: paused by uid %u", uid);
		mda_pause(1);
		network_ctl_reply(ctlid, 1, "mda paused\n");
	} else if (strcmp(full, "resume mda") == 0) {
		log_info("mda: resumed by uid %u", uid);
		mda_pause(0);
		network_ctl_reply(ctlid, 1, "mda resumed\n");
	} else {
		log_warnx("network: unknown control request \"%s\"", full);
		network_ctl_reply(ctlid, 0, "unknown request\n");
	}
	free(verb);
	free(args);
}

static void
network_ctl_reply(uint64_t ctlid, int result, const char *text)
{
	struct msg	 m;

	msg_init(&m);
	msg_add_uint64(&m, ctlid);
	msg_add_int32(&m, result);
	msg_add_data(&m, text, strlen(text));
	msg_add_int32(&m, 0);
	proc_send(PROC_CONTROL, IMSG_CTL_REPLY, &m, -1);
	msg_free(&m);
}
