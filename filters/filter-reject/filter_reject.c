/*
 * filter-reject: refuse sessions, senders, recipients or messages by
 * rules read from a file (see filter-reject(8)).
 *
 * Rules are checked in file order at the step they belong to; the
 * first that matches gives its reply (5xx rejects, 4xx fails
 * temporarily).  Only the hooks the rules need are registered, so a
 * file of sender rules costs one query per MAIL FROM and nothing else.
 * Header rules read the header lines of each message (folded lines
 * joined) and decide at the end of the message.
 */
#include <sys/types.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "smtpd-api.h"
#include "static_file.h"
#include "reject_rules.h"

/* What the header rules know of the message being received. */
struct message {
	int			 in_headers;
	int			 failed;	/* a table could not answer */
	const struct reject_rule *matched;
	char			 header[TABLE_KEY_MAX + 1];	/* unfolded */
	size_t			 len;
};

static void	 usage(void) __attribute__((__noreturn__));
static void	 on_connect(uint64_t, const struct filter_connect *, void *);
static void	 on_helo(uint64_t, const char *, void *);
static void	 on_mail(uint64_t, const struct filter_mailaddr *, void *);
static void	 on_rcpt(uint64_t, const struct filter_mailaddr *, void *);
static void	 on_dataline(uint64_t, const char *, void *);
static void	 on_eom(uint64_t, const struct filter_eom *, void *);
static void	*message_new(uint64_t);
static void	 message_free(uint64_t, void *);
static void	 header_done(uint64_t, struct message *);
static int	 rule_matches(const struct reject_rule *, const char *,
		    const struct filter_connect *, const char **);
static int	 first_match(uint64_t, uint32_t, const char *,
		    const struct filter_connect *, const struct reject_rule **);
static void	 decide(uint64_t, uint32_t, const char *,
		    const struct filter_connect *);
static void	 answer(uint64_t, int, const struct reject_rule *);

static struct reject_rules	*rules;

static void
usage(void)
{
	fprintf(stderr, "usage: filter-reject [-n] [-S socket] rules-file\n");
	exit(1);
}

int
main(int argc, char *argv[])
{
	char	 err[1024];
	int	 ch, check_only = 0, r;

	filter_api_init("filter-reject");
	while ((ch = getopt(argc, argv, "nS:")) != -1) {
		switch (ch) {
		case 'n':
			check_only = 1;
			break;
		case 'S':
			helper_set_socket(optarg);
			break;
		default:
			usage();
		}
	}
	if (argc - optind != 1)
		usage();
	if ((rules = reject_rules_load(argv[optind], err,
	    sizeof(err))) == NULL) {
		log_warnx("%s", err);
		return 1;
	}
	if (check_only) {
		printf("%s: %zu rules OK\n", rules->path, rules->count);
		reject_rules_free(rules);
		return 0;
	}

	if (rules->hooks & FILTER_HOOK_CONNECT)
		filter_api_on_connect(on_connect, NULL);
	if (rules->hooks & FILTER_HOOK_HELO)
		filter_api_on_helo(on_helo, NULL);
	if (rules->hooks & FILTER_HOOK_MAIL)
		filter_api_on_mail(on_mail, NULL);
	if (rules->hooks & FILTER_HOOK_RCPT)
		filter_api_on_rcpt(on_rcpt, NULL);
	if (rules->hooks & FILTER_HOOK_DATALINE) {
		filter_api_on_dataline(on_dataline, NULL);
		filter_api_on_eom(on_eom, NULL);
		filter_api_transaction_allocator(message_new);
		filter_api_transaction_destructor(message_free);
	}
	r = filter_api_loop();
	reject_rules_free(rules);
	return r;
}

static void
on_connect(uint64_t id, const struct filter_connect *c, void *arg)
{
	decide(id, IMSG_FILTER_CONNECT, c->remote_addr, c);
}

static void
on_helo(uint64_t id, const char *helo, void *arg)
{
	decide(id, IMSG_FILTER_HELO, helo, NULL);
}

static void
on_mail(uint64_t id, const struct filter_mailaddr *sender, void *arg)
{
	decide(id, IMSG_FILTER_MAIL, sender->address, NULL);
}

static void
on_rcpt(uint64_t id, const struct filter_mailaddr *rcpt, void *arg)
{
	decide(id, IMSG_FILTER_RCPT, rcpt->address, NULL);
}

/* Every line goes out unchanged; header lines are also looked at. */
static void
on_dataline(uint64_t id, const char *line, void *arg)
{
	struct message	*m;

	filter_api_writeln(id, line);
	if ((m = filter_api_transaction(id)) == NULL || !m->in_headers)
		return;
	if (*line == '\0') {
		header_done(id, m);
		m->in_headers = 0;
	} else if ((*line == ' ' || *line == '\t') && m->len > 0) {
		/* A folded line continues the header (RFC 5322 2.2.3);
		 * what does not fit the key is not matched. */
		strlcat(m->header, line, sizeof(m->header));
		m->len = strlen(m->header);
	} else {
		header_done(id, m);
		strlcpy(m->header, line, sizeof(m->header));
		m->len = strlen(m->header);
	}
}

static void
on_eom(uint64_t id, const struct filter_eom *eom, void *arg)
{
	struct message	*m;

	if ((m = filter_api_transaction(id)) == NULL) {
		filter_api_accept(id);
		return;
	}
	if (m->in_headers)
		header_done(id, m);	/* a message of headers only */
	answer(id, m->failed, m->matched);
}

static void *
message_new(uint64_t id)
{
	struct message	*m;

	if ((m = calloc(1, sizeof(*m))) == NULL)
		fatal("calloc");
	m->in_headers = 1;
	return m;
}

static void
message_free(uint64_t id, void *m)
{
	free(m);
}

/* The header just completed is matched, unless one already matched. */
static void
header_done(uint64_t id, struct message *m)
{
	if (m->len == 0 || m->matched != NULL || m->failed)
		return;
	if (first_match(id, IMSG_FILTER_EOM, m->header, NULL,
	    &m->matched) == -1)
		m->failed = 1;
	m->len = 0;
	m->header[0] = '\0';
}

/* Answer a query by the first rule of its step that matches key. */
static void
decide(uint64_t id, uint32_t query, const char *key,
    const struct filter_connect *c)
{
	const struct reject_rule	*rule = NULL;
	int				 r;

	r = first_match(id, query, key, c, &rule);
	answer(id, r == -1, rule);
}

static void
answer(uint64_t id, int failed, const struct reject_rule *rule)
{
	if (failed) {
		filter_api_tempfail(id, 451, "4.3.0", "Rules temporarily "
		    "unavailable, try again later");
		return;
	}
	if (rule == NULL) {
		filter_api_accept(id);
		return;
	}
	if (rule->status == FILTER_TEMPFAIL)
		filter_api_tempfail(id, rule->code, rule->enhanced,
		    rule->message);
	else
		filter_api_reject(id, rule->code, rule->code ? rule->enhanced :
		    NULL, rule->code ? rule->message : NULL);
}

/*
 * 1 and *match set when a rule matches (logged: the admin wants to
 * know which line refused whom), 0 when none, -1 on failure.
 */
static int
first_match(uint64_t id, uint32_t query, const char *key,
    const struct filter_connect *c, const struct reject_rule **match)
{
	const char	*used;
	size_t		 i;
	int		 r;

	*match = NULL;
	for (i = 0; i < rules->count; i++) {
		if (reject_criterion_query(rules->rules[i].criterion) != query)
			continue;
		if ((r = rule_matches(&rules->rules[i], key, c, &used)) == 0)
			continue;
		if (r == 1) {
			*match = &rules->rules[i];
			log_info("session %016" PRIx64 ": %s:%d: %s %s \"%s\"",
			    id, rules->path, (*match)->line,
			    filter_status_name((*match)->status),
			    reject_criterion_name((*match)->criterion), used);
		}
		return r;
	}
	return 0;
}

/* *used is what was matched, for the log. */
static int
rule_matches(const struct reject_rule *rule, const char *key,
    const struct filter_connect *c, const char **used)
{
	char	 cut[TABLE_KEY_MAX + 1];

	*used = key;
	switch (rule->criterion) {
	case CRIT_NO_RDNS:
		return c->rdns[0] == '\0';
	case CRIT_NO_FCRDNS:
		/* -1, the DNS could not tell, is no reason to reject. */
		return c->fcrdns == 0;
	case CRIT_RDNS:
		if (c->rdns[0] == '\0')
			return 0;
		*used = key = c->rdns;
		break;
	default:
		break;
	}
	/* The matcher takes keys of TABLE_KEY_MAX bytes at most. */
	strlcpy(cut, key, sizeof(cut));
	return static_table_check(rule->table, rule->service, cut);
}
