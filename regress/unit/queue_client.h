/*
 * queue_client.h: a synchronous client of a queue backend for the unit
 * tests, built on imsgproc: start a backend, send a request, turn the
 * event loop until its answer (or a generous deadline) comes.
 */
#ifndef QUEUE_CLIENT_H
#define QUEUE_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "smtpd-api.h"

#define QC_WAIT_SEC	60

struct qc {
	struct event_base	*base;
	struct imsgproc		*proc;
	int			 ready;
	int			 down;
};

/* One answer; pending requests keep theirs until done. */
struct qc_reply {
	int		 done;
	int		 status;	/* imsgproc_result */
	int32_t		 result;	/* -2 when no answer came */
	int		 fd;		/* the descriptor that came, or -1 */
	unsigned char	*raw;		/* the fields after the result */
	size_t		 rawlen;
};

/* Starts argv as a queue helper (no restart); fails the test if not ready. */
void	 qc_start(struct qc *, char *const argv[], const char *config);
/* Stops it and waits until the process is reaped. */
void	 qc_stop(struct qc *);
/* kill -9, then wait until imsgproc has seen it go. */
void	 qc_kill(struct qc *);
pid_t	 qc_pid(struct qc *);
/* Waits until the helper goes down by itself. */
void	 qc_wait_down(struct qc *);

/*
 * Sends without waiting; qc_wait() turns the loop until all n are done.
 * qc_reply_free() closes the descriptor and frees raw.
 */
void	 qc_send(struct qc *, uint32_t type, struct msg *, struct qc_reply *);
void	 qc_wait(struct qc *, struct qc_reply *, size_t n);
void	 qc_reply_free(struct qc_reply *);

/* Each returns the int32 result, or -2 when no answer came at all. */
int	 qc_create(struct qc *, const char *body, uint32_t *msgid);
int	 qc_commit(struct qc *, uint32_t msgid);
int	 qc_delmsg(struct qc *, uint32_t msgid);
int	 qc_corrupt(struct qc *, uint32_t msgid);
int	 qc_envelope(struct qc *, uint32_t msgid, const char *text,
	    uint64_t *evpid);
int	 qc_update(struct qc *, uint64_t evpid, const char *text);
int	 qc_load(struct qc *, uint64_t evpid, char *buf, size_t bufsz);
int	 qc_delete(struct qc *, uint64_t evpid);
/* The body of a committed message into buf (NUL-terminated). */
int	 qc_cat(struct qc *, uint32_t msgid, char *buf, size_t bufsz);
/* Every envelope, in order; *n set; texts are not kept. */
int	 qc_walk(struct qc *, uint64_t *evpids, size_t max, size_t *n,
	    size_t *batches);
/* A STATS counter; -1 when the backend does not report it. */
int64_t	 qc_stat(struct qc *, const char *name);
/* A request with a raw body, for malformed input tests. */
int	 qc_raw(struct qc *, uint32_t type, struct msg *);

#endif
