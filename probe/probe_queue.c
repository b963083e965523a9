/*
 * probe_queue.c: the queue role of smtpd-probe.
 *
 *	create FILE		-> "msgid 1a2b3c4d" (FILE copied into the body)
 *	envelope MSGID FILE	-> "evpid 1a2b3c4d5e6f7a8b"
 *	commit MSGID		-> "done" / "not found"
 *	load EVPID		-> "found \"text\"" / "not found"
 *	update EVPID FILE	-> "done" / "not found"
 *	delete EVPID		-> "done" / "not found"
 *	delmsg MSGID		-> "done" / "not found"
 *	corrupt MSGID		-> "done" / "not found"
 *	cat MSGID		-> "found N bytes \"body\"" / "not found"
 *	walk			-> one line "EVPID \"text\"" per envelope, then
 *				   "N envelopes"
 *	stats			-> "name=value ..."
 * and "temporary failure" for a helper's -1.  Ids are hex; the word
 * $msgid stands for the msgid of the last create, $evpid for the evpid
 * of the last envelope, so that a script needs no shell to chain them.
 */
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "smtpd-api.h"
#include "probe.h"

#define CAT_MAX		(1024 * 1024)	/* body bytes cat prints */

static int	 queue_parse(int, char **, uint32_t *, struct msg *, int *,
		    char *, size_t);
static int	 queue_print(uint32_t, struct msg_reader *, FILE *);
static void	 queue_describe(uint64_t, FILE *);
static int	 queue_script(struct probe *, int, char **, char *, size_t);
static void	 queue_abort(struct probe *);
static void	 create_reply(struct probe *, int, struct imsg *,
		    struct msg_reader *, void *);
static void	 cat_reply(struct probe *, int, struct imsg *,
		    struct msg_reader *, void *);
static void	 walk_next(struct probe *);
static void	 walk_reply(struct probe *, int, struct imsg *,
		    struct msg_reader *, void *);
static int	 reply_result(struct probe *, int, struct msg_reader *,
		    int32_t *);
static int	 parse_id(const char *, int, uint64_t *, char *, size_t);
static int	 read_text(const char *, struct msg *, char *, size_t);
static int	 copy_file(const char *, int);
static char	*quoted(const char *, size_t);

const struct probe_role probe_role_queue = {
	.name = HELPER_ROLE_QUEUE,
	.usage =
	    "\tcreate FILE\n"
	    "\tenvelope MSGID FILE\n"
	    "\tcommit MSGID\n"
	    "\tload EVPID\n"
	    "\tupdate EVPID FILE\n"
	    "\tdelete EVPID\n"
	    "\tdelmsg MSGID\n"
	    "\tcorrupt MSGID\n"
	    "\tcat MSGID\n"
	    "\twalk\n"
	    "\tstats\n"
	    "\tMSGID, EVPID: hex, or $msgid, $evpid for the last ones made\n",
	.parse = queue_parse,
	.print = queue_print,
	.describe = queue_describe,
	.script = queue_script,
	.abort = queue_abort,
};

/* Ids the last create and envelope made, for $msgid and $evpid. */
static uint64_t	 last_msgid;
static uint64_t	 last_evpid;
/* The exchange in progress. */
static char	*script_file;
static uint64_t	 walk_cursor;
static size_t	 walk_count;

static int
queue_parse(int argc, char **argv, uint32_t *type, struct msg *body,
    int *fd, char *err, size_t errsz)
{
	static const struct {
		const char	*verb;
		uint32_t	 type;
		int		 id_bits;	/* 32 msgid, 64 evpid, 0 none */
		int		 file;		/* a text file follows */
	} verbs[] = {
		{ "envelope",	IMSG_QUEUE_ENVELOPE_CREATE,	32, 1 },
		{ "commit",	IMSG_QUEUE_MESSAGE_COMMIT,	32, 0 },
		{ "load",	IMSG_QUEUE_ENVELOPE_LOAD,	64, 0 },
		{ "update",	IMSG_QUEUE_ENVELOPE_UPDATE,	64, 1 },
		{ "delete",	IMSG_QUEUE_ENVELOPE_DELETE,	64, 0 },
		{ "delmsg",	IMSG_QUEUE_MESSAGE_DELETE,	32, 0 },
		{ "corrupt",	IMSG_QUEUE_MESSAGE_CORRUPT,	32, 0 },
		{ "stats",	IMSG_QUEUE_STATS,		0, 0 },
	};
	uint64_t	 id;
	size_t		 i;
	int		 want;

	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (strcmp(argv[0], verbs[i].verb) == 0)
			break;
	if (i == sizeof(verbs) / sizeof(verbs[0])) {
		snprintf(err, errsz, "unknown queue request \"%s\" (create, "
		    "envelope, commit, load, update, delete, delmsg, "
		    "corrupt, cat, walk, stats)", argv[0]);
		return -1;
	}
	want = 1 + (verbs[i].id_bits != 0) + verbs[i].file;
	if (argc != want) {
		snprintf(err, errsz, "usage: %s%s%s", verbs[i].verb,
		    verbs[i].id_bits == 0 ? "" : verbs[i].id_bits == 32 ?
		    " MSGID" : " EVPID", verbs[i].file ? " FILE" : "");
		return -1;
	}
	*type = verbs[i].type;
	if (verbs[i].id_bits != 0) {
		if (parse_id(argv[1], verbs[i].id_bits, &id, err, errsz) == -1)
			return -1;
		if (verbs[i].id_bits == 32)
			msg_add_uint32(body, (uint32_t)id);
		else
			msg_add_id(body, id);
	}
	if (verbs[i].file)
		return read_text(argv[2], body, err, errsz);
	return 0;
}

static int
queue_print(uint32_t type, struct msg_reader *r, FILE *out)
{
	int32_t		 result;
	uint32_t	 count, i;
	uint64_t	 evpid, value;
	const void	*text;
	size_t		 len;
	char		*name;

	if (msg_get_int32(r, &result) == -1)
		return PROBE_MALFORMED;
	if (result == -1) {
		fputs("temporary failure", out);
		return PROBE_FAILED;
	}
	if (result != 0 && result != 1) {
		fprintf(out, "unexpected result %d", result);
		return PROBE_FAILED;
	}
	if (result == 0) {
		fputs("not found", out);
		return PROBE_ANSWERED;
	}
	switch (type) {
	case IMSG_QUEUE_ENVELOPE_CREATE:
		if (msg_get_id(r, &evpid) == -1)
			return PROBE_MALFORMED;
		last_evpid = evpid;
		fprintf(out, "evpid %016llx", (unsigned long long)evpid);
		break;
	case IMSG_QUEUE_ENVELOPE_LOAD:
		if (msg_get_data(r, &text, &len) == -1)
			return PROBE_MALFORMED;
		fputs("found ", out);
		probe_print_quoted(out, text, len);
		break;
	case IMSG_QUEUE_STATS:
		if (msg_get_uint32(r, &count) == -1)
			return PROBE_MALFORMED;
		for (i = 0; i < count; i++) {
			if (msg_get_string(r, &name) == -1 ||
			    msg_get_uint64(r, &value) == -1)
				return PROBE_MALFORMED;
			fprintf(out, "%s%s=%llu", i ? " " : "", name,
			    (unsigned long long)value);
			free(name);
		}
		break;
	default:
		fputs("done", out);
		break;
	}
	return PROBE_ANSWERED;
}

static void
queue_describe(uint64_t capabilities, FILE *out)
{
	fputs("queue", out);
}

/* create, cat and walk take more than one frame or a descriptor. */
static int
queue_script(struct probe *p, int argc, char **argv, char *err, size_t errsz)
{
	enum { CREATE, CAT, WALK }	 verb;
	struct msg			 body;
	uint64_t			 id = 0;

	if (strcmp(argv[0], "create") == 0) {
		verb = CREATE;
		if (argc != 2) {
			snprintf(err, errsz, "usage: create FILE");
			return -1;
		}
		if (access(argv[1], R_OK) == -1) {
			snprintf(err, errsz, "%s: %s", argv[1],
			    strerror(errno));
			return -1;
		}
	} else if (strcmp(argv[0], "cat") == 0) {
		verb = CAT;
		if (argc != 2) {
			snprintf(err, errsz, "usage: cat MSGID");
			return -1;
		}
		if (parse_id(argv[1], 32, &id, err, errsz) == -1)
			return -1;
	} else if (strcmp(argv[0], "walk") == 0) {
		verb = WALK;
		if (argc != 1) {
			snprintf(err, errsz, "usage: walk");
			return -1;
		}
	} else
		return 0;
	if (p == NULL)
		return 1;

	msg_init(&body);
	switch (verb) {
	case CREATE:
		free(script_file);
		if ((script_file = strdup(argv[1])) == NULL) {
			msg_free(&body);
			snprintf(err, errsz, "out of memory");
			return -1;
		}
		probe_request(p, IMSG_QUEUE_MESSAGE_CREATE, &body, -1,
		    create_reply, NULL);
		break;
	case CAT:
		msg_add_uint32(&body, (uint32_t)id);
		probe_request(p, IMSG_QUEUE_MESSAGE_FD_R, &body, -1,
		    cat_reply, NULL);
		break;
	case WALK:
		walk_cursor = 0;
		walk_count = 0;
		walk_next(p);
		break;
	}
	msg_free(&body);
	return 1;
}

static void
queue_abort(struct probe *p)
{
	free(script_file);
	script_file = NULL;
}

static void
create_reply(struct probe *p, int result, struct imsg *imsg,
    struct msg_reader *r, void *arg)
{
	uint32_t	 msgid;
	int32_t		 res;
	int		 fd = -1;

	/* The descriptor is ours whatever happens next. */
	if (imsg != NULL) {
		fd = imsg->fd;
		imsg->fd = -1;
	}
	if (reply_result(p, result, r, &res) == -1)
		goto out;
	if (res == 0) {
		probe_done(p, PROBE_ANSWERED, "not created");
		goto out;
	}
	if (msg_get_uint32(r, &msgid) == -1 || msg_end(r) == -1) {
		probe_done(p, PROBE_FAILED, "malformed reply: %s",
		    msg_reader_error(r));
		goto out;
	}
	if (fd == -1) {
		probe_done(p, PROBE_FAILED, "no descriptor with the reply");
		goto out;
	}
	if (copy_file(script_file, fd) == -1) {
		probe_done(p, PROBE_FAILED, "%s: %s", script_file,
		    strerror(errno));
		goto out;
	}
	last_msgid = msgid;
	probe_done(p, PROBE_ANSWERED, "msgid %08x", msgid);
out:
	if (fd != -1)
		close(fd);
	free(script_file);
	script_file = NULL;
}

static void
cat_reply(struct probe *p, int result, struct imsg *imsg,
    struct msg_reader *r, void *arg)
{
	char	*body = NULL, *q;
	size_t	 len = 0;
	ssize_t	 n;
	int32_t	 res;
	int	 fd = -1;

	if (imsg != NULL) {
		fd = imsg->fd;
		imsg->fd = -1;
	}
	if (reply_result(p, result, r, &res) == -1)
		goto out;
	if (res == 0 || msg_end(r) == -1 || fd == -1) {
		if (res == 0)
			probe_done(p, PROBE_ANSWERED, "not found");
		else
			probe_done(p, PROBE_FAILED, "malformed reply");
		goto out;
	}
	if ((body = malloc(CAT_MAX)) == NULL) {
		probe_done(p, PROBE_FAILED, "out of memory");
		goto out;
	}
	while (len < CAT_MAX && (n = read(fd, body + len, CAT_MAX - len)) != 0) {
		if (n == -1) {
			if (errno == EINTR)
				continue;
			probe_done(p, PROBE_FAILED, "read: %s",
			    strerror(errno));
			goto out;
		}
		len += n;
	}
	if ((q = quoted(body, len)) == NULL) {
		probe_done(p, PROBE_FAILED, "out of memory");
		goto out;
	}
	probe_done(p, PROBE_ANSWERED, "found %zu bytes %s", len, q);
	free(q);
out:
	free(body);
	if (fd != -1)
		close(fd);
}

static void
walk_next(struct probe *p)
{
	struct msg	 body;

	msg_init(&body);
	msg_add_id(&body, walk_cursor);
	probe_request(p, IMSG_QUEUE_WALK, &body, -1, walk_reply, NULL);
	msg_free(&body);
}

static void
walk_reply(struct probe *p, int result, struct imsg *imsg,
    struct msg_reader *r, void *arg)
{
	const void	*text;
	size_t		 len;
	uint64_t	 next, evpid;
	uint32_t	 done, count, i;
	int32_t		 res;
	char		*q;

	if (reply_result(p, result, r, &res) == -1)
		return;
	if (res != 1 || msg_get_id(r, &next) == -1 ||
	    msg_get_uint32(r, &done) == -1 || msg_get_uint32(r, &count) == -1) {
		probe_done(p, PROBE_FAILED, "malformed reply: %s",
		    msg_reader_error(r));
		return;
	}
	for (i = 0; i < count; i++) {
		if (msg_get_id(r, &evpid) == -1 ||
		    msg_get_data(r, &text, &len) == -1)
			break;
		if ((q = quoted(text, len)) == NULL)
			break;
		probe_line(p, "%016llx %s", (unsigned long long)evpid, q);
		free(q);
		walk_count++;
	}
	if (i < count || msg_end(r) == -1) {
		probe_done(p, PROBE_FAILED, "malformed reply: %s",
		    msg_reader_error(r));
		return;
	}
	if (done) {
		probe_done(p, PROBE_ANSWERED, "%zu envelopes", walk_count);
		return;
	}
	if (next <= walk_cursor) {
		probe_done(p, PROBE_FAILED, "walk cursor did not advance");
		return;
	}
	walk_cursor = next;
	walk_next(p);
}

/* The int32 result of a scripted reply; -1 when the request is over. */
static int
reply_result(struct probe *p, int result, struct msg_reader *r, int32_t *res)
{
	if (result != IMSGPROC_REPLY || r == NULL) {
		probe_done(p, PROBE_FAILED, "failed: %s",
		    imsgproc_result_name(result));
		return -1;
	}
	if (msg_get_int32(r, res) == -1) {
		probe_done(p, PROBE_FAILED, "malformed reply: %s",
		    msg_reader_error(r));
		return -1;
	}
	if (*res == -1) {
		probe_done(p, PROBE_FAILED, "temporary failure");
		return -1;
	}
	return 0;
}

static int
parse_id(const char *word, int bits, uint64_t *id, char *err, size_t errsz)
{
	char		*end;

	if (strcmp(word, bits == 32 ? "$msgid" : "$evpid") == 0) {
		*id = bits == 32 ? last_msgid : last_evpid;
		return 0;
	}
	errno = 0;
	*id = strtoull(word, &end, 16);
	if (*word == '\0' || *end != '\0' || errno != 0 || *word == '-' ||
	    strlen(word) > (size_t)bits / 4) {
		snprintf(err, errsz, "\"%s\" is not a %s (%d hex digits)",
		    word, bits == 32 ? "msgid" : "evpid", bits / 4);
		return -1;
	}
	return 0;
}

/* An envelope's text from a file, at most QUEUE_ENVELOPE_MAX bytes. */
static int
read_text(const char *path, struct msg *body, char *err, size_t errsz)
{
	char	*buf;
	size_t	 len;
	FILE	*f;

	if ((f = fopen(path, "r")) == NULL) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		return -1;
	}
	if ((buf = malloc(QUEUE_ENVELOPE_MAX + 1)) == NULL) {
		fclose(f);
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	len = fread(buf, 1, QUEUE_ENVELOPE_MAX + 1, f);
	if (ferror(f) || len > QUEUE_ENVELOPE_MAX) {
		snprintf(err, errsz, "%s: %s", path, ferror(f) ?
		    "read error" : "longer than an envelope may be");
		free(buf);
		fclose(f);
		return -1;
	}
	fclose(f);
	msg_add_data(body, buf, len);
	free(buf);
	return 0;
}

static int
copy_file(const char *path, int fd)
{
	char	 buf[8192];
	ssize_t	 n, w, off;
	int	 in, saved;

	if ((in = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	while ((n = read(in, buf, sizeof(buf))) != 0) {
		if (n == -1) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		for (off = 0; off < n; off += w)
			if ((w = write(fd, buf + off, n - off)) == -1)
				goto fail;
	}
	close(in);
	return 0;
fail:
	saved = errno;
	close(in);
	errno = saved;
	return -1;
}

static char *
quoted(const char *s, size_t len)
{
	char	*text = NULL;
	size_t	 size = 0;
	FILE	*f;

	if ((f = open_memstream(&text, &size)) == NULL)
		return NULL;
	probe_print_quoted(f, s, len);
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}
