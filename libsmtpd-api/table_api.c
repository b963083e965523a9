/*
 * table_api.c: the helper side of a table backend.
 *
 * A table program registers up to four callbacks and calls
 * table_api_dispatch() with the services it serves.  This file decodes
 * each request (CHECK, LOOKUP, FETCH, UPDATE; wire forms in
 * smtpd-api.h section 7), refuses what the callbacks must never see
 * (unknown or unannounced service, overlong key, malformed body) with a
 * logged warning and a -1 answer, and answers with helper_reply().
 * Nothing a peer sends can crash the helper.
 */
#include <sys/types.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "smtpd-api.h"

static void	table_api_frame(struct imsg *, struct msg_reader *, void *);
static void	table_api_request(struct imsg *, uint64_t,
		    struct msg_reader *);
static int	table_api_service(uint32_t, const char *,
		    enum table_service *);
static int	table_api_key(const char *, const char *);
static int	table_api_result(const char *, int);
static void	table_api_answer(uint32_t, uint64_t, int, const char *);
static const char *table_api_frame_name(uint32_t);

static int	(*cb_update)(void);
static int	(*cb_check)(enum table_service, const char *);
static int	(*cb_lookup)(enum table_service, const char *, char *, size_t);
static int	(*cb_fetch)(enum table_service, char *, size_t);

/* What READY announced: a request for anything else is refused. */
static uint64_t	 table_services;

static const struct {
	enum table_service	 service;
	const char		*name;
} service_names[] = {
	{ K_ALIAS,		"alias" },
	{ K_DOMAIN,		"domain" },
	{ K_CREDENTIALS,	"credentials" },
	{ K_NETADDR,		"netaddr" },
	{ K_USERINFO,		"userinfo" },
	{ K_SOURCE,		"source" },
	{ K_MAILADDR,		"mailaddr" },
	{ K_ADDRNAME,		"addrname" },
	{ K_MAILADDRMAP,	"mailaddrmap" },
	{ K_RELAYHOST,		"relayhost" },
	{ K_STRING,		"string" },
	{ K_REGEX,		"regex" },
};

const char *
table_service_name(enum table_service service)
{
	size_t	 i;

	for (i = 0; i < sizeof(service_names) / sizeof(service_names[0]); i++)
		if (service_names[i].service == service)
			return service_names[i].name;
	if (service == K_ANY)
		return "any";
	return "unknown";
}

enum table_service
table_service_from_name(const char *name)
{
	size_t	 i;

	if (name == NULL)
		return K_NONE;
	for (i = 0; i < sizeof(service_names) / sizeof(service_names[0]); i++)
		if (strcmp(service_names[i].name, name) == 0)
			return service_names[i].service;
	return K_NONE;
}

void
table_api_on_update(int (*cb)(void))
{
	cb_update = cb;
}

void
table_api_on_check(int (*cb)(enum table_service, const char *))
{
	cb_check = cb;
}

void
table_api_on_lookup(int (*cb)(enum table_service, const char *, char *,
    size_t))
{
	cb_lookup = cb;
}

void
table_api_on_fetch(int (*cb)(enum table_service, char *, size_t))
{
	cb_fetch = cb;
}

const char *
table_api_get_name(void)
{
	return helper_instance_name();
}

const char *
table_api_get_config(void)
{
	return helper_config();
}

int
table_api_dispatch(uint64_t services)
{
	table_services = services & K_ANY;
	if (helper_init(HELPER_ROLE_TABLE, table_services,
	    getprogname()) == -1)
		return 1;
	if (helper_loop(table_api_frame, NULL) == -1)
		return 1;
	return 0;
}

/*
 * The body is decoded here from the frame itself rather than from the
 * reader helper_loop passes, so that this file does not depend on where
 * that reader stands.
 */
static void
table_api_frame(struct imsg *imsg, struct msg_reader *unused, void *arg)
{
	struct msg_reader	 body;
	uint64_t		 reqid;

	/* Tables take no descriptors: never keep one a peer sent. */
	if (imsg->fd != -1) {
		log_warnx("%s: %s frame came with a descriptor, closed",
		    table_api_get_name(), table_api_frame_name(imsg->hdr.type));
		close(imsg->fd);
		imsg->fd = -1;
	}
	if (imsg->hdr.flags & IMSGF_REPLY) {
		log_warnx("%s: unexpected answer frame of type %u, ignored",
		    table_api_get_name(), imsg->hdr.type);
		return;
	}

	msg_reader_init(&body, imsg->data, imsg->datalen);
	if (msg_get_id(&body, &reqid) == -1) {
		log_warnx("%s: malformed %s frame, no request id: %s",
		    table_api_get_name(), table_api_frame_name(imsg->hdr.type),
		    msg_reader_error(&body));
		return;
	}
	table_api_request(imsg, reqid, &body);
}

static void
table_api_request(struct imsg *imsg, uint64_t reqid, struct msg_reader *body)
{
	enum table_service	 service = K_NONE;
	uint32_t		 type = imsg->hdr.type, wire_service = 0;
	char			*key = NULL;
	char			 value[TABLE_VALUE_MAX];
	const char		*what = table_api_frame_name(type);
	int			 r;

	switch (type) {
	case IMSG_TABLE_CHECK:
	case IMSG_TABLE_LOOKUP:
		if (msg_get_uint32(body, &wire_service) == -1 ||
		    msg_get_string(body, &key) == -1 || msg_end(body) == -1)
			goto malformed;
		break;
	case IMSG_TABLE_FETCH:
		if (msg_get_uint32(body, &wire_service) == -1 ||
		    msg_end(body) == -1)
			goto malformed;
		break;
	case IMSG_TABLE_UPDATE:
		if (msg_end(body) == -1)
			goto malformed;
		break;
	default:
		/*
		 * Answer anyway: the owner learns at once, not at its
		 * deadline, that this helper does not know the frame.
		 */
		log_warnx("%s: unknown frame type %u (request %016llx), "
		    "answered -1", table_api_get_name(), type,
		    (unsigned long long)reqid);
		table_api_answer(type, reqid, -1, NULL);
		return;
	}

	if (type != IMSG_TABLE_UPDATE) {
		if (table_api_service(wire_service, what, &service) == -1 ||
		    (key != NULL && table_api_key(what, key) == -1)) {
			table_api_answer(type, reqid, -1, NULL);
			free(key);
			return;
		}
	}

	value[0] = '\0';
	switch (type) {
	case IMSG_TABLE_CHECK:
		r = cb_check ? cb_check(service, key) : -1;
		break;
	case IMSG_TABLE_LOOKUP:
		r = cb_lookup ? cb_lookup(service, key, value,
		    sizeof(value)) : -1;
		break;
	case IMSG_TABLE_FETCH:
		r = cb_fetch ? cb_fetch(service, value, sizeof(value)) : -1;
		break;
	default:	/* IMSG_TABLE_UPDATE */
		r = cb_update ? cb_update() : 1;
		break;
	}
	r = table_api_result(what, r);
	/* A callback that filled the whole buffer still gets a string. */
	value[sizeof(value) - 1] = '\0';

	/* Values are not traced: they may be credentials. */
	if (type == IMSG_TABLE_UPDATE)
		log_trace(TRACE_TABLES, "%s: update -> %d",
		    table_api_get_name(), r);
	else
		log_trace(TRACE_TABLES, "%s: %s %s \"%s\" -> %d",
		    table_api_get_name(), what, table_service_name(service),
		    key ? key : "", r);

	if (type == IMSG_TABLE_LOOKUP || type == IMSG_TABLE_FETCH)
		table_api_answer(type, reqid, r, r == 1 ? value : NULL);
	else
		table_api_answer(type, reqid, r, NULL);
	free(key);
	return;

malformed:
	log_warnx("%s: malformed %s request %016llx: %s, answered -1",
	    table_api_get_name(), what, (unsigned long long)reqid,
	    msg_reader_error(body));
	table_api_answer(type, reqid, -1, NULL);
	free(key);
}

/* One known service, and one this helper announced. */
static int
table_api_service(uint32_t wire, const char *what, enum table_service *out)
{
	size_t	 i;

	for (i = 0; i < sizeof(service_names) / sizeof(service_names[0]); i++)
		if ((uint32_t)service_names[i].service == wire)
			break;
	if (i == sizeof(service_names) / sizeof(service_names[0])) {
		log_warnx("%s: %s for unknown service 0x%x, answered -1",
		    table_api_get_name(), what, wire);
		return -1;
	}
	if ((table_services & wire) == 0) {
		log_warnx("%s: %s for service %s, which this table does "
		    "not serve, answered -1", table_api_get_name(), what,
		    service_names[i].name);
		return -1;
	}
	*out = service_names[i].service;
	return 0;
}

static int
table_api_key(const char *what, const char *key)
{
	size_t	 len = strlen(key);

	if (len > TABLE_KEY_MAX) {
		log_warnx("%s: %s key of %zu bytes, longer than the %d "
		    "allowed, answered -1", table_api_get_name(), what, len,
		    TABLE_KEY_MAX);
		return -1;
	}
	return 0;
}

/* Callbacks promise 1, 0 or -1; anything else is a bug made safe. */
static int
table_api_result(const char *what, int r)
{
	if (r == 1 || r == 0 || r == -1)
		return r;
	log_warnx("%s: %s callback returned %d (not 1, 0 or -1), "
	    "answered -1", table_api_get_name(), what, r);
	return -1;
}

static void
table_api_answer(uint32_t type, uint64_t reqid, int result, const char *value)
{
	struct msg	 m;

	msg_init(&m);
	msg_add_int32(&m, result);
	if (value != NULL)
		msg_add_string(&m, value);
	if (msg_error(&m)) {
		/* Out of memory: try the bare temporary failure. */
		log_warnx("%s: cannot encode answer to request %016llx",
		    table_api_get_name(), (unsigned long long)reqid);
		msg_reset(&m);
		m.error = 0;
		msg_add_int32(&m, -1);
	}
	if (helper_reply(type, reqid, &m, -1) == -1)
		log_warnx("%s: cannot answer request %016llx",
		    table_api_get_name(), (unsigned long long)reqid);
	msg_free(&m);
}

static const char *
table_api_frame_name(uint32_t type)
{
	switch (type) {
	case IMSG_TABLE_CHECK:
		return "check";
	case IMSG_TABLE_LOOKUP:
		return "lookup";
	case IMSG_TABLE_FETCH:
		return "fetch";
	case IMSG_TABLE_UPDATE:
		return "update";
	default:
		return "unknown";
	}
}
