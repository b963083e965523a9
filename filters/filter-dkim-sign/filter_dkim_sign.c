/*
 * filter-dkim-sign: add a DKIM-Signature to mail from our domains.
 *
 * Every message line is hashed as it comes (dkim.c) and kept in an
 * unlinked temporary file, because the signature goes first and can
 * only be made at the end.  At EOM the From: header (or, with -E, the
 * envelope sender) picks the signing domain; the signature lines, then
 * the message unchanged, are written out.  Mail from other domains
 * comes out unchanged.
 */
#include <sys/types.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "smtpd-api.h"
#include "dkim.h"

#define MAX_DOMAINS	64

struct tx {
	struct dkim_sign	*sign;
	FILE			*spool;		/* lines, NUL-terminated */
	uint32_t		 lines;
	int			 failed;	/* could not keep a line */
	int			 unsignable;	/* header section too large */
};

static void	 usage(void) __attribute__((__noreturn__));
static void	*session_new(uint64_t);
static void	 session_free(uint64_t, void *);
static void	*tx_new(uint64_t);
static void	 tx_free(uint64_t, void *);
static int	 our_domain(const char *);
static const char *signing_domain(uint64_t, struct tx *);
static int	 emit_signature(uint64_t, const char *);
static int	 replay(uint64_t, struct tx *);
static void	 on_mail(uint64_t, const struct filter_mailaddr *, void *);
static void	 on_dataline(uint64_t, const char *, void *);
static void	 on_eom(uint64_t, const struct filter_eom *, void *);
static void	 tempfail(uint64_t);

static struct dkim_signer_params params;
static const char	*domains[MAX_DOMAINS];
static size_t		 ndomains;
static const char	*header_names[DKIM_HEADER_NAMES_MAX + 1];
static int		 use_envelope;

static void
usage(void)
{
	fprintf(stderr, "usage: filter-dkim-sign [-Eop] [-a algorithm] "
	    "[-c canonicalization] [-h headers]\n"
	    "\t-d domain [-d domain ...] -k keyfile -s selector "
	    "[-S socket]\n");
	exit(1);
}

int
main(int argc, char *argv[])
{
	struct dkim_key		*key;
	enum dkim_algorithm	 alg = DKIM_ALG_NONE;
	char			 err[512], *keyfile = NULL, *rec;
	int			 ch, print = 0;

	filter_api_init("filter-dkim-sign");
	params.header_canon = params.body_canon = DKIM_CANON_RELAXED;
	params.headers = dkim_default_headers;
	while ((ch = getopt(argc, argv, "a:c:d:Eh:k:ops:S:")) != -1) {
		switch (ch) {
		case 'a':
			if (dkim_algorithm_from_name(optarg, &alg) == -1)
				fatalx("-a %s: rsa-sha256 or ed25519-sha256",
				    optarg);
			break;
		case 'c':
			if (dkim_canon_from_name(optarg, &params.header_canon,
			    &params.body_canon) == -1)
				fatalx("-c %s: simple or relaxed, "
				    "header/body", optarg);
			break;
		case 'd':
			if (!dkim_valid_domain(optarg))
				fatalx("-d %s: not a domain name", optarg);
			if (ndomains == MAX_DOMAINS)
				fatalx("-d: at most %d domains", MAX_DOMAINS);
			domains[ndomains++] = optarg;
			break;
		case 'E':
			use_envelope = 1;
			break;
		case 'h':
			if (dkim_header_list(optarg, header_names,
			    DKIM_HEADER_NAMES_MAX + 1, err, sizeof(err)) == -1)
				fatalx("-h: %s", err);
			params.headers = header_names;
			break;
		case 'k':
			keyfile = optarg;
			break;
		case 'o':
			params.oversign_from = 1;
			break;
		case 'p':
			print = 1;
			break;
		case 's':
			if (!dkim_valid_domain(optarg))
				fatalx("-s %s: not a valid selector", optarg);
			params.selector = optarg;
			break;
		case 'S':
			helper_set_socket(optarg);
			break;
		default:
			usage();
		}
	}
	if (optind != argc || keyfile == NULL)
		usage();

	if ((key = dkim_key_load(keyfile, err, sizeof(err))) == NULL)
		fatalx("cannot use key %s", err);
	if (alg != DKIM_ALG_NONE && alg != dkim_key_algorithm(key))
		fatalx("-a %s: the key %s is for %s",
		    dkim_algorithm_name(alg), keyfile,
		    dkim_algorithm_name(dkim_key_algorithm(key)));
	params.key = key;
	params.algorithm = dkim_key_algorithm(key);
	if (print) {
		/* The TXT record to publish at <selector>._domainkey. */
		if ((rec = dkim_key_dns_record(key)) == NULL)
			fatalx("cannot make the key record");
		printf("%s\n", rec);
		free(rec);
		return 0;
	}
	if (ndomains == 0 || params.selector == NULL)
		usage();

	filter_api_session_allocator(session_new);
	filter_api_session_destructor(session_free);
	filter_api_transaction_allocator(tx_new);
	filter_api_transaction_destructor(tx_free);
	if (use_envelope)
		filter_api_on_mail(on_mail, NULL);
	filter_api_on_dataline(on_dataline, NULL);
	filter_api_on_eom(on_eom, NULL);
	return filter_api_loop();
}

/* A session keeps the domain of its current MAIL FROM (-E). */
static void *
session_new(uint64_t id)
{
	return calloc(1, DKIM_DOMAIN_MAX + 1);
}

static void
session_free(uint64_t id, void *envelope)
{
	free(envelope);
}

static void *
tx_new(uint64_t id)
{
	struct tx	*tx;

	if ((tx = calloc(1, sizeof(*tx))) == NULL)
		return NULL;
	if ((tx->sign = dkim_sign_new(&params)) == NULL ||
	    (tx->spool = tmpfile()) == NULL) {
		log_warn("session %016" PRIx64 ": message spool", id);
		tx->failed = 1;
	}
	return tx;
}

static void
tx_free(uint64_t id, void *arg)
{
	struct tx	*tx = arg;

	dkim_sign_free(tx->sign);
	if (tx->spool != NULL)
		fclose(tx->spool);
	free(tx);
}

static int
our_domain(const char *domain)
{
	size_t	 i;

	for (i = 0; i < ndomains; i++)
		if (strcasecmp(domains[i], domain) == 0)
			return 1;
	return 0;
}

static void
on_mail(uint64_t id, const struct filter_mailaddr *m, void *arg)
{
	char		*envelope = filter_api_session(id);

	if (envelope != NULL &&
	    dkim_address_domain(m->address, envelope, DKIM_DOMAIN_MAX + 1) == -1)
		envelope[0] = '\0';
	filter_api_accept(id);
}

static void
on_dataline(uint64_t id, const char *line, void *arg)
{
	struct tx	*tx = filter_api_transaction(id);
	size_t		 len = strlen(line);

	if (tx == NULL || tx->failed)
		return;		/* EOM will tempfail */
	if (fwrite(line, 1, len + 1, tx->spool) != len + 1) {
		log_warn("session %016" PRIx64 ": message spool", id);
		tx->failed = 1;
		return;
	}
	tx->lines++;
	if (!tx->unsignable && dkim_sign_line(tx->sign, line, len) == -1) {
		if (errno != EFBIG) {
			log_warn("session %016" PRIx64 ": signer", id);
			tx->failed = 1;
		} else
			tx->unsignable = 1;
	}
}

/*
 * The From: domain if it is ours (one From field, as RFC 5322 wants),
 * else with -E the envelope sender's; NULL: do not sign.
 */
static const char *
signing_domain(uint64_t id, struct tx *tx)
{
	static char	 domain[DKIM_DOMAIN_MAX + 1];
	const char	*from, *envelope;

	if (dkim_sign_header_count(tx->sign, "from") == 1 &&
	    (from = dkim_sign_header_value(tx->sign, "from", 0)) != NULL &&
	    dkim_address_domain(from, domain, sizeof(domain)) == 0 &&
	    our_domain(domain))
		return domain;
	envelope = filter_api_session(id);
	if (use_envelope && envelope != NULL && our_domain(envelope))
		return envelope;
	return NULL;
}

/* The field's lines, split where dkim.c joined them with CRLF. */
static int
emit_signature(uint64_t id, const char *sig)
{
	char	*copy, *line, *save;
	int	 r = -1;

	if ((copy = strdup(sig)) == NULL)
		return -1;
	for (line = strtok_r(copy, "\r\n", &save); line != NULL;
	    line = strtok_r(NULL, "\r\n", &save))
		if ((r = filter_api_writeln(id, line)) == -1)
			break;
	free(copy);
	return r;
}

/* The message as it came, from the spool. */
static int
replay(uint64_t id, struct tx *tx)
{
	char		*line = NULL;
	size_t		 cap = 0;
	uint32_t	 n = 0;
	ssize_t		 len;

	if (fflush(tx->spool) == EOF || fseek(tx->spool, 0, SEEK_SET) == -1) {
		log_warn("session %016" PRIx64 ": message spool", id);
		return -1;
	}
	while (n < tx->lines &&
	    (len = getdelim(&line, &cap, '\0', tx->spool)) > 0) {
		if (filter_api_writeln(id, line) == -1)
			break;
		n++;
	}
	free(line);
	if (n != tx->lines) {
		log_warnx("session %016" PRIx64 ": message spool gave %u "
		    "lines of %u", id, n, tx->lines);
		return -1;
	}
	return 0;
}

static void
on_eom(uint64_t id, const struct filter_eom *eom, void *arg)
{
	struct tx	*tx = filter_api_transaction(id);
	const char	*domain;
	char		*sig = NULL, err[256];

	if (tx == NULL || tx->failed || tx->lines != eom->lines) {
		tempfail(id);
		return;
	}
	if ((domain = signing_domain(id, tx)) == NULL)
		log_debug("session %016" PRIx64 ": not from a signing "
		    "domain, passed unsigned", id);
	else if (tx->unsignable)
		log_warnx("session %016" PRIx64 ": header section over %d "
		    "bytes, passed unsigned", id, DKIM_HEADER_MAX);
	else if ((sig = dkim_sign_finish(tx->sign, domain, time(NULL), err,
	    sizeof(err))) == NULL) {
		log_warnx("session %016" PRIx64 ": signing for %s: %s", id,
		    domain, err);
		tempfail(id);
		return;
	} else
		log_info("session %016" PRIx64 ": signed d=%s s=%s a=%s",
		    id, domain, params.selector,
		    dkim_algorithm_name(params.algorithm));

	/* A failed writeln already makes the library answer 451. */
	if ((sig == NULL || emit_signature(id, sig) == 0) &&
	    replay(id, tx) == 0)
		filter_api_accept(id);
	else
		tempfail(id);
	free(sig);
}

static void
tempfail(uint64_t id)
{
	filter_api_tempfail(id, 451, "4.3.0",
	    "DKIM signer failed, try again later");
}
