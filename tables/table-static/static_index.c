/*
 * static_index.c: what a table needs once its lines are read.
 *
 * Entries are sorted by key for binary search (and duplicates found),
 * keys that are addresses or networks are parsed once
 * (static_net_parse, also used on the keys of requests), lists are
 * compiled as regexes, and the services the table can serve are
 * decided from its form and contents.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "static_file.h"

#define LIST_SERVICES	(K_DOMAIN | K_NETADDR | K_SOURCE | K_MAILADDR | \
			 K_RELAYHOST | K_STRING)
#define MAPPING_SERVICES (K_ALIAS | K_DOMAIN | K_CREDENTIALS | K_NETADDR | \
			 K_MAILADDR | K_ADDRNAME | K_MAILADDRMAP | \
			 K_RELAYHOST | K_STRING)

static int	static_check_keys(struct static_table *, char *, size_t);
static int	static_compile_regexes(struct static_table *, char *,
		    size_t);
static int	static_regcomp(regex_t *, const char *, char *, size_t);
static int	static_cmp_key(const void *, const void *);
static int	static_cmp_line(const void *, const void *);
static int	static_looks_numeric(const char *, int);

/* static_cmp_line sorts indexes; qsort gives it no context. */
static const struct static_entry *sort_entries;

int
static_table_index(struct static_table *t, char *err, size_t errsz)
{
	size_t	 i;

	/* A "# @list" file with nothing in it yet is just empty. */
	if (t->count == 0)
		t->form = STATIC_EMPTY;
	if (t->count > 0) {
		if ((t->order = reallocarray(NULL, t->count,
		    sizeof(*t->order))) == NULL) {
			snprintf(err, errsz, "%s: %s", t->source,
			    strerror(errno));
			return -1;
		}
		/* Entries come in file order: remember it for fetch. */
		qsort(t->entries, t->count, sizeof(*t->entries),
		    static_cmp_key);
		for (i = 0; i < t->count; i++)
			t->order[i] = i;
		sort_entries = t->entries;
		qsort(t->order, t->count, sizeof(*t->order), static_cmp_line);
		sort_entries = NULL;
	}
	if (static_check_keys(t, err, errsz) == -1 ||
	    static_compile_regexes(t, err, errsz) == -1)
		return -1;

	switch (t->form) {
	case STATIC_EMPTY:
		/* Nothing to find, whatever the question. */
		t->services = K_ANY;
		break;
	case STATIC_LIST:
		t->services = t->regex_only ? K_STRING : LIST_SERVICES;
		if (t->regexes != NULL)
			t->services |= K_REGEX;
		break;
	case STATIC_MAPPING:
		t->services = MAPPING_SERVICES | K_USERINFO;
		for (i = 0; i < t->count; i++) {
			if (static_userinfo_valid(t->entries[i].value))
				continue;
			log_debug("%s:%d: value is not uid:gid:homedir, the "
			    "table does not serve userinfo", t->source,
			    t->entries[i].line);
			t->services &= ~K_USERINFO;
			break;
		}
		break;
	}
	return 0;
}

/*
 * Duplicates, and keys that look like addresses or networks but are
 * not (a typo in a CIDR must not silently match nothing).
 */
static int
static_check_keys(struct static_table *t, char *err, size_t errsz)
{
	struct static_net	 net, *nets;
	const char		*why;
	size_t			 i, dup = 0;
	int			 r;

	/*
	 * Equal keys sit side by side, in file order: report the pair
	 * whose second line comes first in the file.
	 */
	for (i = 1; i < t->count; i++) {
		if (strcmp(t->entries[i - 1].key, t->entries[i].key) != 0)
			continue;
		if (dup == 0 || t->entries[i].line < t->entries[dup].line)
			dup = i;
	}
	if (dup != 0) {
		static_error(err, errsz, t->source, t->entries[dup].line,
		    "duplicate %s \"%s\" (first on line %d)",
		    t->form == STATIC_MAPPING ? "key" : "entry",
		    t->entries[dup].key, t->entries[dup - 1].line);
		return -1;
	}

	if (t->regex_only)
		return 0;
	for (i = 0; i < t->count; i++) {
		if ((r = static_net_parse(t->entries[i].key, &net, &why)) == 0)
			continue;
		if (r == -1) {
			static_error(err, errsz, t->source,
			    t->entries[i].line, "bad %s \"%s\": %s",
			    strchr(t->entries[i].key, '/') ? "CIDR" :
			    "address", t->entries[i].raw, why);
			return -1;
		}
		nets = reallocarray(t->nets, t->nnets + 1, sizeof(*nets));
		if (nets == NULL) {
			snprintf(err, errsz, "%s: %s", t->source,
			    strerror(errno));
			return -1;
		}
		t->nets = nets;
		net.entry = i;
		t->nets[t->nnets++] = net;
	}
	return 0;
}

/*
 * Every entry of a list is compiled as a regex: a "# @regex" table
 * must compile whole (a bad regex is an error); any other list serves
 * regex only when all its entries happen to be regexes.
 */
static int
static_compile_regexes(struct static_table *t, char *err, size_t errsz)
{
	char	 why[256];
	size_t	 i, j;

	if (t->form != STATIC_LIST || t->count == 0)
		return 0;
	if ((t->regexes = calloc(t->count, sizeof(*t->regexes))) == NULL) {
		snprintf(err, errsz, "%s: %s", t->source, strerror(errno));
		return -1;
	}
	for (i = 0; i < t->count; i++) {
		if (static_regcomp(&t->regexes[i], t->entries[i].raw, why,
		    sizeof(why)) == 0)
			continue;
		for (j = 0; j < i; j++)
			regfree(&t->regexes[j]);
		free(t->regexes);
		t->regexes = NULL;
		if (t->regex_only) {
			static_error(err, errsz, t->source,
			    t->entries[i].line, "bad regex \"%s\": %s",
			    t->entries[i].raw, why);
			return -1;
		}
		log_debug("%s:%d: not a regex (%s), the table does not "
		    "serve regex", t->source, t->entries[i].line, why);
		return 0;
	}
	return 0;
}

/* POSIX extended, with a leading "(?i)" for a match ignoring case. */
static int
static_regcomp(regex_t *re, const char *text, char *why, size_t whysz)
{
	int	 flags = REG_EXTENDED | REG_NOSUB, r;

	if (strncmp(text, "(?i)", 4) == 0) {
		flags |= REG_ICASE;
		text += 4;
	}
	if ((r = regcomp(re, text, flags)) != 0) {
		regerror(r, re, why, whysz);
		regfree(re);
		return -1;
	}
	return 0;
}

static int
static_cmp_key(const void *a, const void *b)
{
	const struct static_entry *ea = a, *eb = b;
	int			 r;

	/* Equal keys stay in file order, for the duplicate error. */
	if ((r = strcmp(ea->key, eb->key)) != 0)
		return r;
	return ea->line - eb->line;
}

static int
static_cmp_line(const void *a, const void *b)
{
	const size_t	*ia = a, *ib = b;

	return sort_entries[*ia].line - sort_entries[*ib].line;
}

int
static_net_parse(const char *text, struct static_net *net, const char **why)
{
	char		 buf[INET6_ADDRSTRLEN + 16], *addr = buf, *close_b;
	char		*slash;
	unsigned char	 bytes[16];
	size_t		 len = strlen(text);
	int		 bracketed = 0, family, maxbits, prefix, i;

	*why = NULL;
	if (len >= sizeof(buf))
		return 0;
	memcpy(buf, text, len + 1);
	if (strncasecmp(addr, "ipv6:", 5) == 0)
		addr += 5;
	if (*addr == '[') {
		/* [addr], [addr]/len and [addr/len] */
		bracketed = 1;
		addr++;
		if ((close_b = strchr(addr, ']')) == NULL) {
			*why = "'[' without ']'";
			return -1;
		}
		if (close_b[1] != '\0' && close_b[1] != '/') {
			*why = "text after ']'";
			return -1;
		}
		memmove(close_b, close_b + 1, strlen(close_b + 1) + 1);
	}
	if ((slash = strchr(addr, '/')) != NULL)
		*slash++ = '\0';

	memset(bytes, 0, sizeof(bytes));
	if (inet_pton(AF_INET, addr, bytes) == 1) {
		family = AF_INET;
		maxbits = 32;
	} else if (inet_pton(AF_INET6, addr, bytes) == 1) {
		family = AF_INET6;
		maxbits = 128;
	} else {
		if (bracketed) {
			*why = "not an IPv6 or IPv4 address";
			return -1;
		}
		if (static_looks_numeric(addr, slash != NULL) &&
		    (slash == NULL || (*slash != '\0' &&
		    strspn(slash, "0123456789") == strlen(slash)))) {
			*why = slash ? "not an IPv4 or IPv6 network" :
			    strchr(addr, ':') != NULL ?
			    "not an IPv6 address" : "not an IPv4 address";
			return -1;
		}
		return 0;
	}

	prefix = maxbits;
	if (slash != NULL) {
		if (*slash == '\0' || strlen(slash) > 3 ||
		    strspn(slash, "0123456789") != strlen(slash) ||
		    (prefix = atoi(slash)) > maxbits) {
			*why = maxbits == 32 ? "prefix length must be 0 to 32" :
			    "prefix length must be 0 to 128";
			return -1;
		}
	}

	/* ::ffff:10.0.0.1 is 10.0.0.1, whichever way it is written. */
	if (family == AF_INET6 && prefix >= 96 &&
	    IN6_IS_ADDR_V4MAPPED((struct in6_addr *)bytes)) {
		family = AF_INET;
		memmove(bytes, bytes + 12, 4);
		memset(bytes + 4, 0, 12);
		maxbits = 32;
		prefix -= 96;
	}

	memset(net, 0, sizeof(*net));
	net->family = family;
	net->prefix = prefix;
	/* Host bits cleared: 10.1.2.3/8 is 10.0.0.0/8. */
	for (i = 0; i < maxbits / 8; i++) {
		if (prefix - i * 8 >= 8)
			net->addr[i] = bytes[i];
		else if (prefix - i * 8 > 0)
			net->addr[i] = bytes[i] &
			    (0xff << (8 - (prefix - i * 8)));
	}
	return 1;
}

int
static_userinfo_valid(const char *value)
{
	const char	*p = value;
	int		 field;
	size_t		 n;

	if (value == NULL)
		return 0;
	for (field = 0; field < 2; field++) {
		n = strspn(p, "0123456789");
		if (n == 0 || n > 10 || p[n] != ':')
			return 0;
		if (n == 10 && strncmp(p, "4294967295", 10) > 0)
			return 0;
		p += n + 1;
	}
	return p[0] == '/';
}

/*
 * Text that can only be a mistyped address: digits and dots such as
 * "10.0.0.300", hex digits and colons with a "::" such as
 * "2001:db8::12345", or before a '/' any hex digits and colons.
 */
static int
static_looks_numeric(const char *text, int with_prefix)
{
	size_t	 len = strlen(text), dots = 0, colons = 0, i;
	int	 digits_dots, hex_colons;

	for (i = 0; i < len; i++) {
		dots += text[i] == '.';
		colons += text[i] == ':';
	}
	digits_dots = dots > 0 && strspn(text, "0123456789.") == len;
	hex_colons = colons > 0 &&
	    strspn(text, "0123456789abcdefABCDEF:.") == len;
	if (with_prefix)
		return digits_dots || hex_colons;
	return (digits_dots && dots == 3) ||
	    (hex_colons && strstr(text, "::") != NULL);
}
