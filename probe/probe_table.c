/*
 * probe_table.c: the table role of smtpd-probe.
 *
 *	check SERVICE KEY	-> "found" / "not found"
 *	lookup SERVICE KEY	-> "found \"value\"" / "not found"
 *	fetch SERVICE		-> "found \"value\"" / "not found"
 *	update			-> "done" / "not done"
 * and "temporary failure" for a helper's -1.
 *
 * Keys are lowercased, as the daemon lowercases every table key before
 * asking: what the probe sends is what the daemon would send.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtpd-api.h"
#include "probe.h"

static int	 table_parse(int, char **, uint32_t *, struct msg *, int *,
		    char *, size_t);
static int	 table_print(uint32_t, struct msg_reader *, FILE *);
static void	 table_describe(uint64_t, FILE *);
static int	 service_arg(const char *, enum table_service *, char *,
		    size_t);

const struct probe_role probe_role_table = {
	.name = HELPER_ROLE_TABLE,
	.usage =
	    "\tcheck SERVICE KEY\n"
	    "\tlookup SERVICE KEY\n"
	    "\tfetch SERVICE\n"
	    "\tupdate\n"
	    "\tSERVICE: alias, domain, credentials, netaddr, userinfo, "
	    "source,\n"
	    "\tmailaddr, addrname, mailaddrmap, relayhost, string, regex\n",
	.parse = table_parse,
	.print = table_print,
	.describe = table_describe,
};

static int
service_arg(const char *word, enum table_service *service, char *err,
    size_t errsz)
{
	if ((*service = table_service_from_name(word)) == 0) {
		snprintf(err, errsz, "unknown table service \"%s\"", word);
		return -1;
	}
	return 0;
}

static int
table_parse(int argc, char **argv, uint32_t *type, struct msg *body,
    int *fd, char *err, size_t errsz)
{
	enum table_service	 service;
	char			*c;
	const char		*verb = argv[0];

	if (strcmp(verb, "check") == 0 || strcmp(verb, "lookup") == 0) {
		if (argc != 3) {
			snprintf(err, errsz, "usage: %s SERVICE KEY", verb);
			return -1;
		}
		if (service_arg(argv[1], &service, err, errsz) == -1)
			return -1;
		if (strlen(argv[2]) > TABLE_KEY_MAX) {
			snprintf(err, errsz, "key longer than %d bytes",
			    TABLE_KEY_MAX);
			return -1;
		}
		for (c = argv[2]; *c != '\0'; c++)
			*c = tolower((unsigned char)*c);
		*type = verb[0] == 'c' ? IMSG_TABLE_CHECK : IMSG_TABLE_LOOKUP;
		msg_add_uint32(body, service);
		msg_add_string(body, argv[2]);
		return 0;
	}
	if (strcmp(verb, "fetch") == 0) {
		if (argc != 2) {
			snprintf(err, errsz, "usage: fetch SERVICE");
			return -1;
		}
		if (service_arg(argv[1], &service, err, errsz) == -1)
			return -1;
		*type = IMSG_TABLE_FETCH;
		msg_add_uint32(body, service);
		return 0;
	}
	if (strcmp(verb, "update") == 0) {
		if (argc != 1) {
			snprintf(err, errsz, "usage: update");
			return -1;
		}
		*type = IMSG_TABLE_UPDATE;
		return 0;
	}
	snprintf(err, errsz, "unknown table request \"%s\" "
	    "(check, lookup, fetch, update)", verb);
	return -1;
}

static int
table_print(uint32_t type, struct msg_reader *r, FILE *out)
{
	int32_t	 result;
	char	*value;

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
	switch (type) {
	case IMSG_TABLE_UPDATE:
		fputs(result ? "done" : "not done", out);
		break;
	case IMSG_TABLE_CHECK:
		fputs(result ? "found" : "not found", out);
		break;
	default:
		if (result == 0) {
			fputs("not found", out);
			break;
		}
		if (msg_get_string(r, &value) == -1)
			return PROBE_MALFORMED;
		fputs("found ", out);
		probe_print_quoted(out, value, strlen(value));
		free(value);
		break;
	}
	return PROBE_ANSWERED;
}

static void
table_describe(uint64_t services, FILE *out)
{
	uint64_t	 bit;
	const char	*sep = "";

	fputs("services ", out);
	if (services == 0) {
		fputs("none", out);
		return;
	}
	for (bit = 1; bit != 0; bit <<= 1) {
		if ((services & bit) == 0)
			continue;
		if (bit <= K_ANY)
			fprintf(out, "%s%s", sep,
			    table_service_name((enum table_service)bit));
		else
			fprintf(out, "%sunknown 0x%llx", sep,
			    (unsigned long long)bit);
		sep = ", ";
	}
}
