/*
 * smtpd-api.h: the one public header of libsmtpd-api.
 *
 * The daemon and every helper program (filters, tables, queue backends)
 * speak one protocol over a UNIX socket: imsg frames whose bodies are
 * typed fields written and read with the msg_* functions.  A helper
 * includes this header, registers a few callbacks and enters its loop;
 * the daemon (and smtpd-probe) drive helpers with imsgproc.
 *
 * Sections:
 *	1. log		logging and trace subsystems
 *	2. imsg		framing over a socket, with descriptor passing
 *	3. msg		typed encoding of frame bodies
 *	4. protocol	frame types shared by the daemon and helpers
 *	5. imsgproc	the owner's side of a helper (spawn, requests, deadlines)
 *	6. helper	the helper's side of the channel (handshake, loop)
 *	7. table_api	table backends
 *	8. queue_api	queue backends
 *	9. filter_api	filters
 */
#ifndef SMTPD_API_H
#define SMTPD_API_H

#include <sys/types.h>
#include <sys/socket.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct event_base;

/* Bumped on any incompatible change of a frame layout or meaning. */
#define SMTPD_API_VERSION	1

/* ------------------------------------------------------------------ */
/* 1. log                                                              */
/* ------------------------------------------------------------------ */

/*
 * Messages go to stderr (foreground, helpers) or syslog (daemon).
 * log_debug is shown only when verbose; log_trace only when its
 * subsystem is enabled.
 */
enum trace_subsystem {
	TRACE_IMSG	= 0x0001,
	TRACE_IO	= 0x0002,
	TRACE_SMTP	= 0x0004,
	TRACE_FILTERS	= 0x0008,
	TRACE_MTA	= 0x0010,
	TRACE_BOUNCE	= 0x0020,
	TRACE_SCHEDULER	= 0x0040,
	TRACE_EXPAND	= 0x0080,
	TRACE_LOOKUP	= 0x0100,
	TRACE_STAT	= 0x0200,
	TRACE_RULES	= 0x0400,
	TRACE_TABLES	= 0x0800,
	TRACE_QUEUE	= 0x1000,
	TRACE_HELPERS	= 0x2000,
	TRACE_ALL	= 0xffff,
};

/* to_stderr: 1 for stderr, 0 for syslog(LOG_MAIL); ident is the tag. */
void		 log_init(int to_stderr, const char *ident);
void		 log_setverbose(int verbose);
int		 log_getverbose(void);
void		 log_settrace(uint32_t mask);
uint32_t	 log_gettrace(void);
/* "imsg" -> TRACE_IMSG, "all" -> TRACE_ALL, unknown -> 0 */
uint32_t	 log_trace_from_name(const char *name);
const char	*log_trace_name(uint32_t subsystem);

void		 log_warn(const char *, ...)
		    __attribute__((__format__(printf, 1, 2)));
void		 log_warnx(const char *, ...)
		    __attribute__((__format__(printf, 1, 2)));
void		 log_info(const char *, ...)
		    __attribute__((__format__(printf, 1, 2)));
void		 log_debug(const char *, ...)
		    __attribute__((__format__(printf, 1, 2)));
void		 log_trace(uint32_t subsystem, const char *, ...)
		    __attribute__((__format__(printf, 2, 3)));
void		 vlog(int priority, const char *, va_list)
		    __attribute__((__format__(printf, 2, 0)));
/* fatal appends strerror(errno); both exit(1).  Start-up only. */
void		 fatal(const char *, ...)
		    __attribute__((__format__(printf, 1, 2), __noreturn__));
void		 fatalx(const char *, ...)
		    __attribute__((__format__(printf, 1, 2), __noreturn__));

/* ------------------------------------------------------------------ */
/* 2. imsg                                                             */
/* ------------------------------------------------------------------ */

/*
 * A frame is a fixed 20-byte header in host byte order (the channel
 * never leaves the machine) followed by len - IMSG_HEADER_SIZE bytes
 * of body.  At most one descriptor rides with a frame, flagged by
 * IMSGF_HASFD.  A frame shorter than the header or longer than
 * IMSG_MAX_SIZE is malformed: the reader reports an error and the
 * channel must be dropped.
 */
#define IMSG_HEADER_SIZE	20
#define IMSG_MAX_SIZE		(64 * 1024)	/* header included */
#define IMSG_MAX_BODY		(IMSG_MAX_SIZE - IMSG_HEADER_SIZE)

#define IMSGF_HASFD		0x0001	/* a descriptor came with this frame */
#define IMSGF_REPLY		0x0002	/* body starts with the request id */

struct imsg_hdr {
	uint32_t	 type;
	uint32_t	 len;		/* header included */
	uint16_t	 flags;
	uint16_t	 reserved;	/* zero */
	uint32_t	 peerid;
	uint32_t	 pid;
};

struct imsg {
	struct imsg_hdr	 hdr;
	int		 fd;		/* -1 when none */
	void		*data;		/* body, owned by the imsg */
	size_t		 datalen;
};

struct imsgbuf;

/* The imsgbuf does not own fd: the caller closes it after imsgbuf_free. */
struct imsgbuf	*imsgbuf_new(int fd);
void		 imsgbuf_free(struct imsgbuf *);
int		 imsgbuf_fd(struct imsgbuf *);

/*
 * Queue a frame.  fd (or -1) is passed to the peer and closed here once
 * sent.  Returns 0, or -1 (errno EMSGSIZE when too large, ENOMEM).
 */
int		 imsg_compose(struct imsgbuf *, uint32_t type, uint32_t peerid,
		    uint16_t flags, int fd, const void *data, size_t datalen);
/* Bytes queued for writing. */
size_t		 imsgbuf_queued(struct imsgbuf *);
/*
 * Write what the socket takes now: 1 when everything is written,
 * 0 when some remains (EAGAIN), -1 on error (errno set; EPIPE when the
 * peer is gone).
 */
int		 imsgbuf_write(struct imsgbuf *);
/* Blocking variant: loops until all is written or an error. */
int		 imsgbuf_flush(struct imsgbuf *);
/*
 * Read what the socket has: >0 bytes read, 0 end of file, -1 error
 * (errno EAGAIN when nothing was there on a non-blocking socket).
 * Descriptors received are kept until the frame they belong to is got.
 */
ssize_t		 imsgbuf_read(struct imsgbuf *);
/*
 * Take the next complete frame: 1 one frame got (free it with
 * imsg_free), 0 need more input, -1 malformed input (see
 * imsgbuf_error; the channel must be dropped).
 */
int		 imsg_get(struct imsgbuf *, struct imsg *);
void		 imsg_free(struct imsg *);
/* Text of the last error on this buffer, never NULL. */
const char	*imsgbuf_error(struct imsgbuf *);

/* ------------------------------------------------------------------ */
/* 3. msg                                                              */
/* ------------------------------------------------------------------ */

/*
 * A body is a sequence of fields.  Each field is one tag byte then its
 * value, integers little-endian whatever the host:
 *	MSG_INT32	4 bytes, signed
 *	MSG_UINT32	4 bytes
 *	MSG_UINT64	8 bytes
 *	MSG_ID		8 bytes: request ids, session ids, evpids
 *	MSG_TIME	8 bytes, signed seconds since the epoch
 *	MSG_STRING	4-byte length, then that many bytes, no NUL inside
 *	MSG_DATA	4-byte length, then that many bytes
 *	MSG_SOCKADDR	1-byte family (0 unspec, 1 inet, 2 inet6, 3 unix),
 *			2-byte port, then 4 or 16 address bytes, or for
 *			unix a 4-byte length and the path
 * The reader checks every tag and length: a wrong type, a truncated
 * field or (with msg_end) trailing bytes is a decode error, reported
 * with a message naming the field position and what was expected.
 */
enum msg_type {
	MSG_INT32	= 1,
	MSG_UINT32	= 2,
	MSG_UINT64	= 3,
	MSG_ID		= 4,
	MSG_TIME	= 5,
	MSG_STRING	= 6,
	MSG_DATA	= 7,
	MSG_SOCKADDR	= 8,
};

/* A body under construction.  Errors are sticky: check msg_error once. */
struct msg {
	unsigned char	*buf;
	size_t		 len;
	size_t		 cap;
	int		 error;		/* ENOMEM or EMSGSIZE, 0 if fine */
};

void		 msg_init(struct msg *);
void		 msg_reset(struct msg *);	/* len = 0, keeps memory */
void		 msg_free(struct msg *);
int		 msg_error(const struct msg *);
void		 msg_add_int32(struct msg *, int32_t);
void		 msg_add_uint32(struct msg *, uint32_t);
void		 msg_add_uint64(struct msg *, uint64_t);
void		 msg_add_id(struct msg *, uint64_t);
void		 msg_add_time(struct msg *, time_t);
void		 msg_add_string(struct msg *, const char *);
void		 msg_add_data(struct msg *, const void *, size_t);
void		 msg_add_sockaddr(struct msg *, const struct sockaddr *);

/* Reading a received body.  Errors are sticky too. */
struct msg_reader {
	const unsigned char	*buf;
	size_t			 len;
	size_t			 off;
	int			 field;		/* index of the next field */
	int			 failed;
	char			 error[128];
};

void		 msg_reader_init(struct msg_reader *, const void *, size_t);
/* Each returns 0, or -1 and sets the reader's error text. */
int		 msg_get_int32(struct msg_reader *, int32_t *);
int		 msg_get_uint32(struct msg_reader *, uint32_t *);
int		 msg_get_uint64(struct msg_reader *, uint64_t *);
int		 msg_get_id(struct msg_reader *, uint64_t *);
int		 msg_get_time(struct msg_reader *, time_t *);
/*
 * Strings are copied into a freshly allocated NUL-terminated buffer the
 * caller frees (the wire form has no NUL).  A string with a NUL inside
 * is a decode error.
 */
int		 msg_get_string(struct msg_reader *, char **);
/* Points into the body: valid as long as the frame is. */
int		 msg_get_data(struct msg_reader *, const void **, size_t *);
int		 msg_get_sockaddr(struct msg_reader *, struct sockaddr_storage *);
/* Type tag of the next field, or 0 at the end of the body. */
int		 msg_peek_type(const struct msg_reader *);
int		 msg_remaining(const struct msg_reader *);
/* -1 (with an error) if bytes remain unread. */
int		 msg_end(struct msg_reader *);
const char	*msg_reader_error(const struct msg_reader *);
const char	*msg_type_name(int);

/* ------------------------------------------------------------------ */
/* 4. protocol                                                         */
/* ------------------------------------------------------------------ */

/*
 * Frame types, one numbering space for every role so that a frame sent
 * to the wrong kind of helper is recognisably foreign.
 *
 * HELLO	owner -> helper	uint32 api version, string role,
 *				string instance name, string configuration,
 *				uint32 verbose, uint32 trace mask
 * READY	helper -> owner	uint32 api version, uint64 capabilities
 *				(services of a table, hooks of a filter,
 *				zero for a queue), string helper name
 * Requests carry IMSGF_REPLY-less frames whose body starts with an
 * MSG_ID request id; the answer has the same type, IMSGF_REPLY set and
 * starts with that id.  Anything else (events, streamed data) is a
 * frame without a request id, documented with its role.
 */
enum helper_frame {
	IMSG_HELLO		= 1,
	IMSG_READY		= 2,

	IMSG_TABLE_CHECK	= 100,
	IMSG_TABLE_LOOKUP	= 101,
	IMSG_TABLE_FETCH	= 102,
	IMSG_TABLE_UPDATE	= 103,

	/* 200..299: queue, see section 8 */
	/* 300..399: filter, see section 9 */
};

#define HELPER_ROLE_TABLE	"table"
#define HELPER_ROLE_QUEUE	"queue"
#define HELPER_ROLE_FILTER	"filter"

/* ------------------------------------------------------------------ */
/* 5. imsgproc: the owner's side                                       */
/* ------------------------------------------------------------------ */

/*
 * An imsgproc runs one helper program: fork+exec of argv with the
 * helper's end of a socketpair on descriptor 3, the HELLO/READY
 * handshake, requests with 64-bit ids and deadlines, and a restart with
 * exponential back-off when the helper dies.  Everything is driven by
 * the caller's libevent base; nothing blocks.
 *
 * Request completion: every request's callback is called exactly once,
 * with IMSGPROC_REPLY and a reader positioned after the request id, or
 * with a temporary failure (timeout, helper down, malformed reply,
 * helper not usable) and reader NULL.
 */
enum imsgproc_result {
	IMSGPROC_REPLY		= 0,
	IMSGPROC_TIMEOUT	= 1,
	IMSGPROC_DOWN		= 2,	/* helper died or was not running */
	IMSGPROC_MALFORMED	= 3,	/* reply could not be decoded */
	IMSGPROC_UNUSABLE	= 4,	/* handshake failed, e.g. version */
};

enum imsgproc_state {
	IMSGPROC_STARTING,	/* spawned, waiting for READY */
	IMSGPROC_RUNNING,	/* READY received */
	IMSGPROC_BACKOFF,	/* died, waiting to restart */
	IMSGPROC_FAILED,	/* handshake refused; will not restart */
	IMSGPROC_STOPPED,	/* stopped by its owner */
};

struct imsgproc;

typedef void	(*imsgproc_reply_cb)(struct imsgproc *, int result,
		    struct imsg *, struct msg_reader *, void *arg);

struct imsgproc_params {
	const char	*role;		/* HELPER_ROLE_* */
	const char	*name;		/* instance name, for logs and HELLO */
	char *const	*argv;		/* program and arguments */
	const char	*config;	/* configuration string for HELLO */
	int		 timeout_ms;	/* default deadline, 0 = 5000 */
	int		 handshake_ms;	/* deadline for READY, 0 = 10000 */
	int		 backoff_min_ms; /* first restart delay, 0 = 250 */
	int		 backoff_max_ms; /* cap, 0 = 30000 */
	int		 restart;	/* restart when it dies (default on
					   unless IMSGPROC_NO_RESTART) */
	int		 fd;		/* >= 0: already-connected channel
					   (no spawn; used by -S and tests) */

	/* Called when READY arrives (after a restart too). */
	void		(*on_ready)(struct imsgproc *, uint64_t capabilities,
			    const char *helper_name, void *arg);
	/* Called when the helper goes down (dies, bad frame, stopped). */
	void		(*on_down)(struct imsgproc *, const char *why,
			    void *arg);
	/* Frames that are neither READY nor a reply. */
	void		(*on_frame)(struct imsgproc *, struct imsg *,
			    struct msg_reader *, void *arg);
	void		*arg;
};

#define IMSGPROC_NO_RESTART	(-1)

/* Copies what it needs from params.  NULL and a log line on failure. */
struct imsgproc	*imsgproc_start(struct event_base *,
		    const struct imsgproc_params *);
void		 imsgproc_stop(struct imsgproc *);	/* fails requests */
void		 imsgproc_free(struct imsgproc *);
enum imsgproc_state imsgproc_state(struct imsgproc *);
const char	*imsgproc_name(struct imsgproc *);
pid_t		 imsgproc_pid(struct imsgproc *);
uint64_t	 imsgproc_capabilities(struct imsgproc *);
unsigned int	 imsgproc_restarts(struct imsgproc *);

/*
 * Send a request: body holds the fields after the request id (the id
 * is prepended here).  timeout_ms 0 uses the default.  Returns the
 * request id, or 0 when it could not even be queued (the callback is
 * then still called, from the event loop, with a temporary failure).
 */
uint64_t	 imsgproc_request(struct imsgproc *, uint32_t type,
		    const struct msg *body, int fd, int timeout_ms,
		    imsgproc_reply_cb, void *arg);
/* Forget a request: its callback will not be called. */
void		 imsgproc_cancel(struct imsgproc *, uint64_t reqid);
/* Send a frame that expects no reply.  0, or -1 when not running. */
int		 imsgproc_send(struct imsgproc *, uint32_t type,
		    const struct msg *body, int fd);
const char	*imsgproc_result_name(int);

/*
 * Split a command line into argv: whitespace separates words, single
 * and double quotes group, backslash escapes the next character.  No
 * shell is involved.  Returns a NULL-terminated array to free with
 * imsgproc_argv_free, or NULL with err filled (unbalanced quote).
 */
char		**imsgproc_argv_split(const char *cmdline, char *err,
		    size_t errsz);
void		 imsgproc_argv_free(char **);

/* ------------------------------------------------------------------ */
/* 6. helper: the helper's side                                        */
/* ------------------------------------------------------------------ */

/*
 * The helper finds its channel on descriptor 3, or connects to a UNIX
 * socket given with helper_set_socket() (the -S option every shipped
 * helper accepts, to be started by hand against smtpd-probe -S).
 * stdin, stdout and stderr are left alone.
 *
 * The *_api_dispatch() functions of each role call these; a helper
 * author normally uses only helper_set_socket() and the getters.
 */
struct helper_request {
	uint64_t		 reqid;
	uint32_t		 type;
	int			 fd;	/* received descriptor or -1 */
	struct msg_reader	*body;	/* positioned after the request id */
};

typedef void	(*helper_frame_cb)(struct imsg *, struct msg_reader *,
		    void *arg);

void		 helper_set_socket(const char *path);
/*
 * Open the channel, wait for HELLO (checking role and version: a
 * mismatch is a clear message on stderr and exit status 1 after the
 * READY that lets the owner log it too) and answer READY.
 */
int		 helper_init(const char *role, uint64_t capabilities,
		    const char *helper_name);
struct event_base *helper_event_base(void);
const char	*helper_instance_name(void);
const char	*helper_config(void);
/* Every frame that is not HELLO goes to cb; returns when the owner
 * closes the channel (0) or on a channel error (-1). */
int		 helper_loop(helper_frame_cb, void *arg);
/* Answer request reqid; the body holds the fields after the id. */
int		 helper_reply(uint32_t type, uint64_t reqid,
		    const struct msg *body, int fd);
/* A frame that is not an answer (events, streamed data). */
int		 helper_send(uint32_t type, const struct msg *body, int fd);

/* ------------------------------------------------------------------ */
/* 7. table_api                                                        */
/* ------------------------------------------------------------------ */

/*
 * Services a table may serve; READY announces the set.  The value a
 * lookup returns is one line:
 *	alias		comma-separated aliases(5) list
 *	domain		a domain (check)
 *	credentials	user:crypt-hash, or a bare hash
 *	netaddr		an address or CIDR (check)
 *	userinfo	uid:gid:homedir
 *	source		an address (fetch, rotated)
 *	mailaddr	user, @domain or user@domain (check)
 *	addrname	key is an address, value a hostname
 *	mailaddrmap	comma-separated addresses a user may send as
 *	relayhost	a relay URL
 *	string		any string
 *	regex		the table holds regexes; check tells if one matches
 */
enum table_service {
	K_NONE		= 0x000,
	K_ALIAS		= 0x001,
	K_DOMAIN	= 0x002,
	K_CREDENTIALS	= 0x004,
	K_NETADDR	= 0x008,
	K_USERINFO	= 0x010,
	K_SOURCE	= 0x020,
	K_MAILADDR	= 0x040,
	K_ADDRNAME	= 0x080,
	K_MAILADDRMAP	= 0x100,
	K_RELAYHOST	= 0x200,
	K_STRING	= 0x400,
	K_REGEX		= 0x800,
	K_ANY		= 0xfff,
};

/*
 * Wire forms (request id first, see section 4):
 *	CHECK	uint32 service, string key
 *		-> int32 result
 *	LOOKUP	uint32 service, string key
 *		-> int32 result [, string value when result is 1]
 *	FETCH	uint32 service
 *		-> int32 result [, string value when result is 1]
 *	UPDATE	(nothing)
 *		-> int32 result
 * result: 1 found or done, 0 not found, -1 temporary failure.
 * Keys arrive lowercased by the daemon; at most TABLE_KEY_MAX bytes.
 */
#define TABLE_KEY_MAX		1024
#define TABLE_VALUE_MAX		4096

const char	*table_service_name(enum table_service);
/* "alias" -> K_ALIAS; 0 when unknown */
enum table_service table_service_from_name(const char *);

/* Callbacks return 1, 0 or -1 as above; a missing one answers -1. */
void		 table_api_on_update(int (*)(void));
void		 table_api_on_check(int (*)(enum table_service,
		    const char *key));
void		 table_api_on_lookup(int (*)(enum table_service,
		    const char *key, char *dst, size_t dstsz));
void		 table_api_on_fetch(int (*)(enum table_service,
		    char *dst, size_t dstsz));
/* Instance name and configuration string received in HELLO. */
const char	*table_api_get_name(void);
const char	*table_api_get_config(void);
/* Handshake announcing services, then serve until the channel closes.
 * Returns the process exit status. */
int		 table_api_dispatch(uint64_t services);

/*
 * A backend's own configuration file: "key value" lines, '#' comments,
 * blank lines ignored, a key given twice is an error.  Errors read
 * "file:line: what is wrong".
 */
struct table_config;

struct table_config *table_config_load(const char *path, char *err,
		    size_t errsz);
const char	*table_config_get(const struct table_config *,
		    const char *key);
/* Names the first key not in the NULL-terminated allowed list. */
const char	*table_config_unknown(const struct table_config *,
		    const char *const *allowed);
/* line number of key, 0 if absent (for the caller's own errors) */
int		 table_config_line(const struct table_config *, const char *);
void		 table_config_free(struct table_config *);

/* ------------------------------------------------------------------ */
/* 8. queue_api                                                        */
/* ------------------------------------------------------------------ */

/* QUEUE-API-BEGIN (owned by the queue backend work) */
/*
 * A queue backend stores messages (the body, written once, then read
 * many times) and their envelopes (one per recipient: the ASCII
 * "key: value" lines the daemon gives, opaque to the backend, at most
 * QUEUE_ENVELOPE_MAX bytes).  Identity: a msgid is 32 random non-zero
 * bits, unique in the queue; an evpid is msgid << 32 | 32 random
 * non-zero bits.  The backend chooses both.
 *
 * Wire forms (every request starts with its MSG_ID request id, every
 * answer with the same id, see section 4; "fd" is the descriptor that
 * rides with the frame):
 *	MESSAGE_CREATE	(nothing)
 *			-> int32 result [, uint32 msgid] + fd
 *			   fd: the body, open for writing; the body never
 *			   travels through the channel
 *	MESSAGE_COMMIT	uint32 msgid		-> int32 result
 *			   answered once the body and every envelope of
 *			   the message are durable; envelopes created
 *			   before the commit become visible with it
 *	MESSAGE_DELETE	uint32 msgid		-> int32 result
 *	MESSAGE_FD_R	uint32 msgid		-> int32 result + fd
 *			   fd: the body of a committed message, read-only
 *	MESSAGE_CORRUPT	uint32 msgid		-> int32 result
 *			   quarantine: out of the queue, kept for a human
 *	ENVELOPE_CREATE	uint32 msgid, data text	-> int32 result [, id evpid]
 *	ENVELOPE_UPDATE	id evpid, data text	-> int32 result
 *			   durable (if the message is committed) when
 *			   answered
 *	ENVELOPE_LOAD	id evpid		-> int32 result [, data text]
 *	ENVELOPE_DELETE	id evpid		-> int32 result
 *			   the message goes with its last envelope
 *	WALK		id cursor		-> int32 result, id next
 *			   cursor, uint32 done, uint32 count, then count
 *			   times (id evpid, data text)
 *			   committed envelopes with evpid > cursor in
 *			   ascending order; start with cursor 0, go on
 *			   with the next cursor until done is 1.  Used at
 *			   start-up to reload the scheduler.
 *	STATS		(nothing)		-> int32 result, uint32
 *			   count, then count times (string name, uint64
 *			   value): the backend's counters
 * The bracketed fields are present only when result is 1.  result: 1
 * done or found, 0 not found (or permanently refused), -1 temporary
 * failure: try again later, nothing was lost.  Before its commit a
 * message is seen only by ENVELOPE_CREATE, ENVELOPE_UPDATE,
 * ENVELOPE_DELETE, MESSAGE_DELETE and MESSAGE_COMMIT: LOAD, FD_R and
 * WALK do not find it.  The daemon finishes writing the body before it
 * sends MESSAGE_COMMIT.
 */
enum queue_frame {
	IMSG_QUEUE_MESSAGE_CREATE	= 200,
	IMSG_QUEUE_MESSAGE_COMMIT	= 201,
	IMSG_QUEUE_MESSAGE_DELETE	= 202,
	IMSG_QUEUE_MESSAGE_FD_R		= 203,
	IMSG_QUEUE_MESSAGE_CORRUPT	= 204,
	IMSG_QUEUE_ENVELOPE_CREATE	= 205,
	IMSG_QUEUE_ENVELOPE_UPDATE	= 206,
	IMSG_QUEUE_ENVELOPE_LOAD	= 207,
	IMSG_QUEUE_ENVELOPE_DELETE	= 208,
	IMSG_QUEUE_WALK			= 209,
	IMSG_QUEUE_STATS		= 210,
};

#define QUEUE_ENVELOPE_MAX	8192	/* bytes of one envelope's text */

/* "create", "commit", ... "stats"; "unknown" for other types. */
const char	*queue_frame_name(uint32_t type);

static inline uint32_t
queue_evpid_to_msgid(uint64_t evpid)
{
	return (uint32_t)(evpid >> 32);
}

/* Fresh random ids; the backend checks uniqueness in its store. */
uint32_t	 queue_generate_msgid(void);
uint64_t	 queue_generate_evpid(uint32_t msgid);

/*
 * The helper side.  A backend registers callbacks, then calls
 * queue_api_dispatch(), which does the handshake, calls the init
 * callback with HELLO's configuration string, then serves until the
 * channel closes.  Callbacks return 1, 0 or -1 as above (a missing one
 * answers -1).  Frames are decoded and checked here: callbacks see
 * only well-formed requests.
 *
 * Answering later: the callbacks of the operations whose answer is a
 * result alone (COMMIT, DELETE, CORRUPT, ENVELOPE_UPDATE,
 * ENVELOPE_DELETE) may call queue_api_defer() and return
 * QUEUE_API_DEFERRED; the backend then calls queue_api_done() exactly
 * once, from any later event (a group commit answers a whole batch
 * after its syncs).
 */
#define QUEUE_API_DEFERRED	2

struct queue_api_pending;
struct queue_api_walk;
struct queue_api_stats;

void		 queue_api_on_init(int (*)(const char *config));
/* *fd: a descriptor open for writing, handed over (closed once sent) */
void		 queue_api_on_message_create(int (*)(uint32_t *msgid,
		    int *fd));
void		 queue_api_on_message_commit(int (*)(uint32_t msgid));
void		 queue_api_on_message_delete(int (*)(uint32_t msgid));
void		 queue_api_on_message_fd_r(int (*)(uint32_t msgid, int *fd));
void		 queue_api_on_message_corrupt(int (*)(uint32_t msgid));
void		 queue_api_on_envelope_create(int (*)(uint32_t msgid,
		    const void *text, size_t len, uint64_t *evpid));
void		 queue_api_on_envelope_update(int (*)(uint64_t evpid,
		    const void *text, size_t len));
/* Fill buf (QUEUE_ENVELOPE_MAX bytes) and *len. */
void		 queue_api_on_envelope_load(int (*)(uint64_t evpid,
		    void *buf, size_t bufsz, size_t *len));
void		 queue_api_on_envelope_delete(int (*)(uint64_t evpid));
/*
 * Add committed envelopes with evpid > cursor, in ascending order, with
 * queue_api_walk_add() until it returns -1 (batch full: that envelope
 * goes in the next batch).  Return 1 when the walk reached the end, 0
 * when the batch is full, -1 on a temporary failure.
 */
void		 queue_api_on_walk(int (*)(uint64_t cursor,
		    struct queue_api_walk *));
int		 queue_api_walk_add(struct queue_api_walk *, uint64_t evpid,
		    const void *text, size_t len);
void		 queue_api_on_stats(void (*)(struct queue_api_stats *));
int		 queue_api_stats_add(struct queue_api_stats *,
		    const char *name, uint64_t value);

struct queue_api_pending *queue_api_defer(void);
void		 queue_api_done(struct queue_api_pending *, int result);

const char	*queue_api_get_name(void);
const char	*queue_api_get_config(void);
/* Returns the process exit status. */
int		 queue_api_dispatch(void);
/* QUEUE-API-END */

/* ------------------------------------------------------------------ */
/* 9. filter_api                                                       */
/* ------------------------------------------------------------------ */

/* FILTER-API-BEGIN (owned by the filter work) */

/*
 * A filter is a program that sees every SMTP session of the listeners it
 * is attached to and decides at each step.  It registers one callback
 * per hook it cares about and calls filter_api_loop(); READY announces
 * those hooks and the owner (the daemon, or smtpd-probe) sends nothing
 * else.  The library adds the lifecycle events (FILTER_HOOK_LIFECYCLE)
 * to the announced set because it needs them to free session state, and
 * FILTER_HOOK_EOM when FILTER_HOOK_DATALINE is registered (the line
 * count check lives there).
 */
enum filter_hook {
	FILTER_HOOK_CONNECT	= 0x0001,
	FILTER_HOOK_HELO	= 0x0002,
	FILTER_HOOK_MAIL	= 0x0004,
	FILTER_HOOK_RCPT	= 0x0008,
	FILTER_HOOK_DATA	= 0x0010,
	FILTER_HOOK_DATALINE	= 0x0020,
	FILTER_HOOK_EOM		= 0x0040,
	FILTER_HOOK_RESET	= 0x0080,
	FILTER_HOOK_DISCONNECT	= 0x0100,
	FILTER_HOOK_TX_BEGIN	= 0x0200,
	FILTER_HOOK_TX_COMMIT	= 0x0400,
	FILTER_HOOK_TX_ROLLBACK	= 0x0800,
};
#define FILTER_HOOK_LIFECYCLE	(FILTER_HOOK_RESET | FILTER_HOOK_DISCONNECT | \
				 FILTER_HOOK_TX_BEGIN | FILTER_HOOK_TX_COMMIT | \
				 FILTER_HOOK_TX_ROLLBACK)
#define FILTER_HOOK_ALL		0x0fff

/*
 * Wire protocol (frame types 300..399, section 4).  "session" is the
 * daemon's 64-bit SMTP session id, "reqid" the request id imsgproc
 * prepends (section 4); strings are MSG_STRING fields.
 *
 * Queries: requests, one reply each, same type with IMSGF_REPLY.
 *   CONNECT   reqid, session, sockaddr local, sockaddr remote,
 *             string rdns ("" when none), int32 fcrdns (1 forward-
 *             confirmed, 0 not, -1 unknown)
 *   HELO      reqid, session, string helo name
 *   MAIL      reqid, session, string user, string domain
 *   RCPT      reqid, session, string user, string domain
 *             (the null sender <> is "" and ""; RCPT TO:<postmaster>
 *             is "postmaster" and "")
 *   DATA      reqid, session
 *   EOM       reqid, session, uint32 lines, uint64 bytes
 *             (lines: how many lines this filter was sent in DATALINES
 *             frames, or, for a filter without FILTER_HOOK_DATALINE,
 *             how many the owner passed through for it; bytes: the sum
 *             of those lines' lengths plus 2 per line, i.e. with CRLF)
 *   reply     reqid, int32 status, uint32 code, string enhanced,
 *             string message [, uint32 lines_out for EOM only]
 *             (accept: code 0, "" and ""; lines_out is the number of
 *             lines the filter sent in DATAOUT frames for this message,
 *             or for a filter without FILTER_HOOK_DATALINE the
 *             query's lines, which the owner passed through itself)
 *
 * Events: frames without request id and without reply.
 *   RESET        session			(RSET)
 *   DISCONNECT   session			(session closed; last frame,
 *						after TX_ROLLBACK if a
 *						transaction was open)
 *   TX_BEGIN     session, uint32 msgid	(MAIL FROM accepted)
 *   TX_COMMIT    session, uint32 msgid	(message queued, 250 sent)
 *   TX_ROLLBACK  session, uint32 msgid	(transaction abandoned)
 *
 * Message data, in band, only to filters with FILTER_HOOK_DATALINE:
 *   DATALINES  owner -> filter, request: reqid, session, then one
 *              string per line (dot-unstuffed, without CRLF), as many
 *              as fit in FILTER_BATCH_MAX bytes of body.  The reply,
 *              sent once the filter's dataline callback has run for
 *              every line of the batch, is: reqid, uint32 lines.  The
 *              owner keeps at most FILTER_DATA_WINDOW batches of one
 *              session unacknowledged, and may send EOM right after
 *              its last batch.
 *   DATAOUT    filter -> owner, no reply: session, then one string per
 *              output line.  Every DATAOUT of a message arrives before
 *              the EOM reply (one ordered channel), so the owner counts
 *              them and compares with lines_out.
 * A message's data phase, for the filter, starts with its first
 * DATALINES (or with EOM for an empty message) and ends with its EOM
 * reply, a RESET, TX_BEGIN, MAIL, TX_ROLLBACK or DISCONNECT.  A line
 * is never longer than FILTER_LINE_MAX nor holds a CR or LF, either
 * way: the owner refuses such a message, the decoder such a frame.
 *
 * Ordering: the owner sends at most one query per session at a time,
 * in SMTP order: CONNECT; HELO; TX_BEGIN and MAIL; RCPT...; DATA;
 * DATALINES...; EOM; TX_COMMIT or TX_ROLLBACK; RESET on RSET (after a
 * TX_ROLLBACK when a transaction was open); DISCONNECT last.  An event
 * may arrive while a query of the same session is pending (the client
 * went away): the owner has cancelled that query, and after DISCONNECT
 * the library ignores decisions for the session and cancels its timers.
 *
 * Replies allowed (both sides check with filter_reply_normalize(), which
 * coerces what is wrong and says why so the caller logs it):
 *   accept      everything else ignored
 *   reject      5xx and enhanced 5.x.y; default per query:
 *               CONNECT 554 5.7.1 "Connection rejected"
 *               HELO    550 5.7.1 "Hello rejected"
 *               MAIL    550 5.7.1 "Sender rejected"
 *               RCPT    550 5.7.1 "Recipient rejected"
 *               DATA, EOM 554 5.7.1 "Message rejected"
 *   tempfail    4xx and 4.x.y; default 451 4.7.1 "Temporary failure,
 *               try again later" (CONNECT: 421 4.7.0)
 *   disconnect  4xx or 5xx, the session is closed after the reply;
 *               default 421 4.7.0 "Closing connection"
 * A code of the wrong class becomes the default of its status, an
 * enhanced code of the wrong class or form becomes the default's, and
 * a message is one line of at most FILTER_MESSAGE_MAX - 1 printable
 * bytes (control characters become '?', the excess is cut).
 *
 * What the OWNER must do when a filter fails.  A query or DATALINES
 * request that ends in IMSGPROC_TIMEOUT, _DOWN, _MALFORMED or
 * _UNUSABLE, a frame that does not decode, or an EOM whose lines_out
 * differs from the DATAOUT lines received, is never a 5xx:
 *   CONNECT, HELO           421 4.7.0 and the session is closed
 *   MAIL, RCPT, DATA        451 4.7.1, the session goes on
 *   DATALINES, EOM, count   451 4.3.0, the message is not queued
 * (filter_reply_failure() fills exactly these).  A filter that dies has
 * lost the state of every session it knew: the owner answers 421 4.7.0
 * at the next command of each of those sessions and closes them; new
 * sessions use the restarted instance.
 */
enum filter_frame {
	IMSG_FILTER_CONNECT	= 300,
	IMSG_FILTER_HELO	= 301,
	IMSG_FILTER_MAIL	= 302,
	IMSG_FILTER_RCPT	= 303,
	IMSG_FILTER_DATA	= 304,
	IMSG_FILTER_EOM		= 305,
	IMSG_FILTER_RESET	= 310,
	IMSG_FILTER_DISCONNECT	= 311,
	IMSG_FILTER_TX_BEGIN	= 312,
	IMSG_FILTER_TX_COMMIT	= 313,
	IMSG_FILTER_TX_ROLLBACK	= 314,
	IMSG_FILTER_DATALINES	= 320,
	IMSG_FILTER_DATAOUT	= 321,
};

enum filter_status {
	FILTER_ACCEPT		= 0,
	FILTER_REJECT		= 1,
	FILTER_TEMPFAIL		= 2,
	FILTER_DISCONNECT	= 3,
};

#define FILTER_LINE_MAX		16384	/* bytes of one data line, no CRLF */
#define FILTER_BATCH_MAX	32768	/* body bytes of a DATALINES/DATAOUT */
#define FILTER_DATA_WINDOW	4	/* unacknowledged DATALINES a session */
#define FILTER_MESSAGE_MAX	256	/* reply text, NUL included */
#define FILTER_ENHANCED_MAX	16	/* "5.7.1", NUL included */

/* Typed views handed to the callbacks, valid during the callback. */
struct filter_connect {
	struct sockaddr_storage	 local;
	struct sockaddr_storage	 remote;
	const char		*local_addr;	/* numeric text, or "local" */
	const char		*remote_addr;	/* numeric text, or "local" */
	const char		*rdns;		/* "" when no name */
	int			 fcrdns;	/* 1 confirmed, 0 not, -1 unknown */
};

struct filter_mailaddr {
	const char	*user;		/* local part; "" for the null sender */
	const char	*domain;	/* "" when none */
	const char	*address;	/* user@domain, user, or "" for <> */
};

struct filter_eom {
	uint32_t	 lines;		/* lines of the message, as received */
	uint64_t	 bytes;		/* their size with CRLF */
};

/* ---- helper side: writing a filter ---- */

/* Callbacks of queries must end in exactly one decision for the id,
 * now or later (from a timer or the filter's own I/O). */
typedef void	(*filter_connect_cb)(uint64_t id,
		    const struct filter_connect *, void *arg);
typedef void	(*filter_helo_cb)(uint64_t id, const char *helo, void *arg);
typedef void	(*filter_mailaddr_cb)(uint64_t id,
		    const struct filter_mailaddr *, void *arg);
typedef void	(*filter_data_cb)(uint64_t id, void *arg);
typedef void	(*filter_eom_cb)(uint64_t id, const struct filter_eom *,
		    void *arg);
/* Data lines: synchronous, no decision; write output with writeln. */
typedef void	(*filter_dataline_cb)(uint64_t id, const char *line,
		    void *arg);
/* Events: no decision. */
typedef void	(*filter_event_cb)(uint64_t id, void *arg);
typedef void	(*filter_tx_cb)(uint64_t id, uint32_t msgid, void *arg);

/* Log ident (stderr) and the helper name sent in READY. */
void		 filter_api_init(const char *name);
void		 filter_api_on_connect(filter_connect_cb, void *arg);
void		 filter_api_on_helo(filter_helo_cb, void *arg);
void		 filter_api_on_mail(filter_mailaddr_cb, void *arg);
void		 filter_api_on_rcpt(filter_mailaddr_cb, void *arg);
void		 filter_api_on_data(filter_data_cb, void *arg);
/* Registering it makes this filter see (and re-emit) every line. */
void		 filter_api_on_dataline(filter_dataline_cb, void *arg);
void		 filter_api_on_eom(filter_eom_cb, void *arg);
void		 filter_api_on_reset(filter_event_cb, void *arg);
void		 filter_api_on_disconnect(filter_event_cb, void *arg);
void		 filter_api_on_tx_begin(filter_tx_cb, void *arg);
void		 filter_api_on_tx_commit(filter_tx_cb, void *arg);
void		 filter_api_on_tx_rollback(filter_tx_cb, void *arg);
/* Handshake (announcing the hooks), then serve until the owner closes
 * the channel.  Returns the process exit status. */
int		 filter_api_loop(void);

/*
 * Decisions for the pending query of session id.  code 0, enhanced
 * NULL or message NULL take the defaults listed above; wrong values are
 * coerced with a log line.  0, or -1 (logged) when id has no pending
 * query (already decided, or the session is gone).
 */
int		 filter_api_accept(uint64_t id);
int		 filter_api_reject(uint64_t id, int code, const char *enhanced,
		    const char *message);
int		 filter_api_tempfail(uint64_t id, int code,
		    const char *enhanced, const char *message);
int		 filter_api_disconnect(uint64_t id, int code,
		    const char *enhanced, const char *message);

/*
 * Output of the data phase: one line, without CRLF, dot-unstuffed.
 * Allowed from the first dataline until the EOM decision; 0, or -1
 * (logged) out of the data phase or for a line over FILTER_LINE_MAX or
 * with a CR or LF inside, which also turns the message's EOM decision
 * into a 451 4.3.0.
 */
int		 filter_api_writeln(uint64_t id, const char *line);
int		 filter_api_printf(uint64_t id, const char *fmt, ...)
		    __attribute__((__format__(printf, 2, 3)));

/*
 * Per-session and per-transaction data.  The allocator runs when the
 * library first sees the session (or, for a transaction, at the first
 * filter_api_transaction() call of that transaction); the destructor
 * at DISCONNECT (transaction: TX_BEGIN, MAIL, TX_COMMIT, TX_ROLLBACK,
 * RESET, DISCONNECT).  Both return NULL for an unknown session, and
 * filter_api_transaction() NULL without an allocator.
 */
void		 filter_api_session_allocator(void *(*)(uint64_t id));
void		 filter_api_session_destructor(void (*)(uint64_t id, void *));
void		*filter_api_session(uint64_t id);
void		 filter_api_transaction_allocator(void *(*)(uint64_t id));
void		 filter_api_transaction_destructor(void (*)(uint64_t id,
		    void *));
void		*filter_api_transaction(uint64_t id);

/*
 * One-shot timer tied to session id: cancelled (cb not called) if the
 * session disconnects first.  0, or -1.  For other I/O use
 * helper_event_base() (section 6).
 */
int		 filter_api_timer(uint64_t id, unsigned int ms,
		    void (*cb)(uint64_t id, void *arg), void *arg);

/* Numeric text of an address (static buffer): "192.0.2.1", "::1",
 * "local" for unix or unspecified. */
const char	*filter_api_sockaddr_to_text(const struct sockaddr *);

/* ---- filter_proto: frame bodies, shared by both sides ---- */

/* A decoded query or event (everything but DATALINES and DATAOUT). */
struct filter_event {
	uint32_t		 type;		/* IMSG_FILTER_* */
	uint64_t		 session;
	struct filter_connect	 connect;	/* CONNECT */
	char			*helo;		/* HELO */
	struct filter_mailaddr	 mailaddr;	/* MAIL, RCPT */
	struct filter_eom	 eom;		/* EOM */
	uint32_t		 msgid;		/* TX_* */
	/* storage the views above point into */
	char			*str[3];
	char			 addrbuf[2][64];
};

struct filter_reply {
	int32_t		 status;			/* FILTER_* */
	uint32_t	 code;
	char		 enhanced[FILTER_ENHANCED_MAX];
	char		 message[FILTER_MESSAGE_MAX];
	uint32_t	 lines_out;			/* EOM only */
};

/* Encoders fill the body after the request id; 0, or -1 (msg_error). */
int		 filter_proto_connect_encode(struct msg *, uint64_t session,
		    const struct sockaddr *local, const struct sockaddr *remote,
		    const char *rdns, int fcrdns);
int		 filter_proto_helo_encode(struct msg *, uint64_t session,
		    const char *helo);
/* MAIL and RCPT */
int		 filter_proto_mailaddr_encode(struct msg *, uint64_t session,
		    const char *user, const char *domain);
/* DATA, RESET, DISCONNECT */
int		 filter_proto_session_encode(struct msg *, uint64_t session);
int		 filter_proto_tx_encode(struct msg *, uint64_t session,
		    uint32_t msgid);
int		 filter_proto_eom_encode(struct msg *, uint64_t session,
		    uint32_t lines, uint64_t bytes);
/*
 * Decode a query or event of the given type (the reader is past the
 * request id for queries).  0, or -1 with the reason in err.  Free with
 * filter_event_free() in both cases.
 */
int		 filter_proto_event_decode(uint32_t type, struct msg_reader *,
		    struct filter_event *, char *err, size_t errsz);
void		 filter_event_free(struct filter_event *);

/*
 * Decision replies; lines_out is on the wire for EOM only.  The decoder
 * also runs filter_reply_normalize(): 0 fine, 1 decoded but coerced
 * (err says why: log it, use the reply), -1 malformed (err says why:
 * treat as a failed filter).
 */
int		 filter_proto_reply_encode(struct msg *, uint32_t type,
		    const struct filter_reply *);
int		 filter_proto_reply_decode(uint32_t type, struct msg_reader *,
		    struct filter_reply *, char *err, size_t errsz);

/*
 * DATALINES and DATAOUT bodies: start, then add lines until add says
 * the batch is full (0: send it, start another, add the line again);
 * add returns 1 when added, -1 for a line over FILTER_LINE_MAX or with
 * a CR or LF inside.
 */
void		 filter_proto_lines_start(struct msg *, uint64_t session);
int		 filter_proto_lines_add(struct msg *, const char *line);
/* Reading: session first, then next gives 1 and a line (caller frees),
 * 0 at the end of the body, -1 on a decode error. */
int		 filter_proto_lines_session(struct msg_reader *,
		    uint64_t *session);
int		 filter_proto_lines_next(struct msg_reader *, char **line);
/* DATALINES acknowledgement */
int		 filter_proto_ack_encode(struct msg *, uint32_t lines);
int		 filter_proto_ack_decode(struct msg_reader *, uint32_t *lines,
		    char *err, size_t errsz);

/* Fill the default reply of a status for a query type. */
void		 filter_reply_default(uint32_t type, int status,
		    struct filter_reply *);
/* Fill what the owner answers when a filter failed at this query
 * (DATALINES counts as EOM). */
void		 filter_reply_failure(uint32_t type, struct filter_reply *);
/* Check and coerce a reply: 0 fine, 1 coerced (why says what), -1 an
 * unknown status (made a tempfail). */
int		 filter_reply_normalize(uint32_t type, struct filter_reply *,
		    char *why, size_t whysz);

/* Queries need a decision reply; 0 for events and data frames. */
int		 filter_frame_is_query(uint32_t type);
/* The hook bit a frame type belongs to (DATALINES: DATALINE), or 0. */
uint64_t	 filter_frame_hook(uint32_t type);
/* "connect", "tx-begin", "datalines"...; "unknown" */
const char	*filter_frame_name(uint32_t type);
/* "accept", "reject", "tempfail", "disconnect"; "unknown" */
const char	*filter_status_name(int);
/* One hook bit to its name, same spelling as the frame names. */
const char	*filter_hook_name(uint64_t hook);

/* FILTER-API-END */

#endif /* SMTPD_API_H */
