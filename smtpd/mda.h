/*
 * mda.h: delivery coordination in the network process.
 *
 * The queue hands an envelope and a read-only message fd over
 * (IMSG_MDA_DELIVER); mda.c picks the delivery method and expands its
 * format, then asks the parent to fork the delivery as the user
 * (IMSG_MDA_FORK).  The parent's answer (IMSG_MDA_DONE) is logged and
 * turned into IMSG_MDA_RESULT for the queue.
 */
#ifndef SMTPD_MDA_H
#define SMTPD_MDA_H

#include "smtpd-api.h"

/*
 * Deliveries in flight at once, in total and per user; the rest wait
 * in memory, in arrival order, until a slot frees up.
 */
#define MDA_MAX_RUNNING		50
#define MDA_MAX_PER_USER	7

/* In network_main, after proc_init(PROC_NETWORK). */
void	mda_init(void);
/*
 * IMSG_MDA_DELIVER from the queue: evpid, env + message fd.  Takes the
 * fd (imsg_get_fd); it is passed on to the parent or closed.  Always
 * answers the queue with IMSG_MDA_RESULT, sooner or later.
 */
void	mda_deliver(struct imsg *, struct msg_reader *);
/* IMSG_MDA_DONE from the parent: evpid, result, text. */
void	mda_done(struct imsg *, struct msg_reader *);
/*
 * 1: start no new delivery (those waiting stay queued here); 0: resume.
 * The scheduler already stops handing work on pause mda: this is only
 * for the envelopes already handed over.
 */
void	mda_pause(int);

#endif /* SMTPD_MDA_H */
