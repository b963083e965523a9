/*
 * parent_mda.h: local deliveries, forked by the parent as the user.
 */
#ifndef SMTPD_PARENT_MDA_H
#define SMTPD_PARENT_MDA_H

#include <sys/types.h>

#include "smtpd-api.h"

/* A delivery that runs longer than this is killed: temporary failure. */
#define PARENT_MDA_TIMEOUT	600	/* seconds */

/* After proc_init(PROC_PARENT). */
void	parent_mda_init(void);
/* IMSG_MDA_FORK from network: fork the delivery, answer MDA_DONE later. */
void	parent_mda_fork(struct imsg *, struct msg_reader *);
/*
 * The parent reaped pid: 1 when it was a delivery (now answered), 0 when
 * it is not one of ours.
 */
int	parent_mda_reaped(pid_t, int status);
/* Deliveries still running. */
int	parent_mda_running(void);

#endif /* SMTPD_PARENT_MDA_H */
