/*
 * static_match.c: how each service matches a key against a static
 * table (the rules table(5) documents).
 *
 * Exact keys are found by binary search over the sorted entries;
 * wildcard domains and address patterns are found the same way by
 * trying each candidate the key allows (a.b.org: "*.b.org", "*.org"),
 * so a large aliases or domains file costs a few searches per request.
 * Only networks and regexes are scanned.
 */
#include <sys/types.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "static_file.h"

/* Longest candidate built from a key: "*." or "@" added around it. */
#define CANDIDATE_MAX	(TABLE_KEY_MAX + 4)

static int	static_prepare(struct static_table *, enum table_service,
		    const char *, const char *, char *);
static ssize_t	static_match(struct static_table *, enum table_service,
		    const char *, const char *);
static ssize_t	static_find(const struct static_table *, const char *);
static ssize_t	static_match_domain(const struct static_table *,
		    const char *);
static ssize_t	static_match_mailaddr(const struct static_table *,
		    const char *);
static ssize_t	static_match_user(const struct static_table *,
		    const char *, const char *);
static ssize_t	static_match_net(const struct static_table *, const char *,
		    int);
static int	static_net_contains(const struct static_net *,
		    const struct static_net *);
static ssize_t	static_match_regex(const struct static_table *,
		    const char *);

int
static_table_check(struct static_table *t, enum table_service service,
    const char *key)
{
	char	 lkey[TABLE_KEY_MAX + 1];

	if (static_prepare(t, service, "check", key, lkey) == -1)
		return -1;
	return static_match(t, service, key, lkey) >= 0 ? 1 : 0;
}

int
static_table_lookup(struct static_table *t, enum table_service service,
    const char *key, char *dst, size_t dstsz)
{
	const struct static_entry	*e;
	char				 lkey[TABLE_KEY_MAX + 1];
	const char			*found;
	ssize_t				 i;

	if (static_prepare(t, service, "lookup", key, lkey) == -1)
		return -1;
	if ((i = static_match(t, service, key, lkey)) < 0)
		return 0;
	/* A list answers with the entry that matched. */
	e = &t->entries[i];
	found = e->value != NULL ? e->value : e->raw;
	if (strlcpy(dst, found, dstsz) >= dstsz) {
		log_warnx("%s:%d: value longer than the %zu bytes the "
		    "caller takes", t->source, e->line, dstsz - 1);
		return -1;
	}
	return 1;
}

/* Fetch hands out the entries of a list in turn, in file order. */
int
static_table_fetch(struct static_table *t, enum table_service service,
    char *dst, size_t dstsz)
{
	const struct static_entry	*e;

	if (static_prepare(t, service, "fetch", NULL, NULL) == -1)
		return -1;
	if (t->count == 0)
		return 0;
	if (t->form != STATIC_LIST) {
		log_warnx("%s: fetch %s needs a list, this table is a %s",
		    t->source, table_service_name(service),
		    static_form_name(t->form));
		return -1;
	}
	e = &t->entries[t->order[t->next++ % t->count]];
	if (strlcpy(dst, e->raw, dstsz) >= dstsz) {
		log_warnx("%s:%d: entry longer than the %zu bytes the caller "
		    "takes", t->source, e->line, dstsz - 1);
		return -1;
	}
	return 1;
}

/* The service must be one this form serves, the key short enough. */
static int
static_prepare(struct static_table *t, enum table_service service,
    const char *what, const char *key, char *lkey)
{
	size_t	 i, len;

	if ((t->services & service) == 0) {
		log_warnx("%s: %s %s: a %s table does not serve %s",
		    t->source, what, table_service_name(service),
		    static_form_name(t->form), table_service_name(service));
		return -1;
	}
	if (key == NULL)
		return 0;
	if ((len = strlen(key)) > TABLE_KEY_MAX) {
		log_warnx("%s: %s %s: key longer than %d bytes", t->source,
		    what, table_service_name(service), TABLE_KEY_MAX);
		return -1;
	}
	/* The daemon lowercases keys; a hand-made request may not. */
	for (i = 0; i <= len; i++)
		lkey[i] = tolower((unsigned char)key[i]);
	return 0;
}

/* Index of the entry that matches, or -1. */
static ssize_t
static_match(struct static_table *t, enum table_service service,
    const char *key, const char *lkey)
{
	if (t->form == STATIC_EMPTY)
		return -1;
	switch (service) {
	case K_DOMAIN:
		return static_match_domain(t, lkey);
	case K_RELAYHOST:
		/* A mapping gives the relay of a domain. */
		if (t->form == STATIC_MAPPING)
			return static_match_domain(t, lkey);
		return static_find(t, lkey);
	case K_NETADDR:
		return static_match_net(t, lkey, 0);
	case K_SOURCE:
	case K_ADDRNAME:
		return static_match_net(t, lkey, 1);
	case K_MAILADDR:
		return static_match_mailaddr(t, lkey);
	case K_REGEX:
		return static_match_regex(t, key);
	default:
		/* alias, credentials, userinfo, mailaddrmap, string */
		return static_find(t, lkey);
	}
}

static ssize_t
static_find(const struct static_table *t, const char *key)
{
	size_t	 lo = 0, hi = t->count, mid;
	int	 r;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if ((r = strcmp(key, t->entries[mid].key)) == 0)
			return mid;
		if (r < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -1;
}

/* example.org matches "example.org"; a.b.example.org "*.example.org". */
static ssize_t
static_match_domain(const struct static_table *t, const char *domain)
{
	char		 name[CANDIDATE_MAX], candidate[CANDIDATE_MAX];
	const char	*dot;
	size_t		 len;
	ssize_t		 i;

	strlcpy(name, domain, sizeof(name));
	len = strlen(name);
	if (len > 1 && name[len - 1] == '.')	/* absolute form */
		name[len - 1] = '\0';
	if ((i = static_find(t, name)) >= 0)
		return i;
	for (dot = strchr(name, '.'); dot != NULL; dot = strchr(dot + 1, '.')) {
		snprintf(candidate, sizeof(candidate), "*%s", dot);
		if ((i = static_find(t, candidate)) >= 0)
			return i;
	}
	return -1;
}

/*
 * An address matches the entries "user@domain", "user" (any domain),
 * "@domain" (any user) and "@" (anything), where the domain may be a
 * wildcard "*.example.org" and a "+tag" in the address is ignored by
 * entries that have none.
 */
static ssize_t
static_match_mailaddr(const struct static_table *t, const char *addr)
{
	char		 user[CANDIDATE_MAX], *tag;
	const char	*at;
	ssize_t		 i;

	if ((i = static_find(t, addr)) >= 0)
		return i;
	if ((at = strrchr(addr, '@')) == NULL) {
		/* A bare user. */
		if ((tag = strchr(addr, '+')) != NULL) {
			strlcpy(user, addr, sizeof(user));
			user[tag - addr] = '\0';
			if ((i = static_find(t, user)) >= 0)
				return i;
		}
		return static_find(t, "@");
	}
	snprintf(user, sizeof(user), "%.*s", (int)(at - addr), addr);
	if ((i = static_match_user(t, user, at + 1)) >= 0)
		return i;
	if ((tag = strchr(user, '+')) != NULL) {
		*tag = '\0';
		if ((i = static_match_user(t, user, at + 1)) >= 0)
			return i;
	}
	/* "@domain" and "@*.domain", then "@" */
	if ((i = static_match_user(t, "", at + 1)) >= 0)
		return i;
	return static_find(t, "@");
}

/* user@domain, user@*.parent..., then user alone. */
static ssize_t
static_match_user(const struct static_table *t, const char *user,
    const char *domain)
{
	char		 candidate[2 * CANDIDATE_MAX];
	const char	*dot;
	ssize_t		 i;

	snprintf(candidate, sizeof(candidate), "%s@%s", user, domain);
	if ((i = static_find(t, candidate)) >= 0)
		return i;
	for (dot = strchr(domain, '.'); dot != NULL;
	    dot = strchr(dot + 1, '.')) {
		snprintf(candidate, sizeof(candidate), "%s@*%s", user, dot);
		if ((i = static_find(t, candidate)) >= 0)
			return i;
	}
	if (*user != '\0')
		return static_find(t, user);
	return -1;
}

/*
 * netaddr: the most specific network that holds the address.
 * source and addrname (exact): the same address, however written.
 */
static ssize_t
static_match_net(const struct static_table *t, const char *key, int exact)
{
	struct static_net	 want;
	const char		*why;
	size_t			 i;
	ssize_t			 best = -1;
	int			 bestlen = -1;

	if (static_net_parse(key, &want, &why) != 1)
		return static_find(t, key);
	for (i = 0; i < t->nnets; i++) {
		if (exact) {
			if (t->nets[i].family == want.family &&
			    t->nets[i].prefix == want.prefix &&
			    memcmp(t->nets[i].addr, want.addr, 16) == 0)
				return t->nets[i].entry;
			continue;
		}
		if (static_net_contains(&t->nets[i], &want) &&
		    t->nets[i].prefix > bestlen) {
			best = t->nets[i].entry;
			bestlen = t->nets[i].prefix;
		}
	}
	return best;
}

static int
static_net_contains(const struct static_net *net, const struct static_net *a)
{
	int	 full = net->prefix / 8, bits = net->prefix % 8;

	if (net->family != a->family || net->prefix > a->prefix)
		return 0;
	if (memcmp(net->addr, a->addr, full) != 0)
		return 0;
	if (bits == 0)
		return 1;
	return (net->addr[full] ^ a->addr[full]) >> (8 - bits) == 0;
}

/* The first regex of the file that matches the key as received. */
static ssize_t
static_match_regex(const struct static_table *t, const char *key)
{
	size_t	 i, n;

	if (t->regexes == NULL)
		return -1;
	for (i = 0; i < t->count; i++) {
		n = t->order[i];
		if (regexec(&t->regexes[n], key, 0, NULL, 0) == 0)
			return n;
	}
	return -1;
}
