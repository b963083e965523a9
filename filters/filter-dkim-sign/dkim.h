/*
 * dkim.h: DKIM signing (RFC 6376, RFC 8463), independent of the filter
 * API: keys, canonicalisation, body hash, header selection and the
 * DKIM-Signature header field.
 *
 * A message is fed one line at a time, as the filter sees it: without
 * its CRLF and already dot-unstuffed.  The signer keeps the header
 * section (it is small and needed at the end) and hashes the body as it
 * comes, so the body is never held here.
 */
#ifndef DKIM_H
#define DKIM_H

#include <stddef.h>
#include <time.h>

#define DKIM_HASH_LEN		32		/* SHA-256 */
#define DKIM_HEADER_MAX		(1024 * 1024)	/* header section, bytes */
#define DKIM_HEADER_NAMES_MAX	64		/* names in the signed list */
#define DKIM_FOLD_WIDTH		78		/* DKIM-Signature line width */
#define DKIM_DOMAIN_MAX		255

enum dkim_algorithm {
	DKIM_ALG_NONE = 0,	/* derive it from the key */
	DKIM_RSA_SHA256,
	DKIM_ED25519_SHA256,
};

enum dkim_canon {
	DKIM_CANON_SIMPLE,
	DKIM_CANON_RELAXED,
};

/* Keys: a PEM private key, RSA (1024 bits at least) or Ed25519. */
struct dkim_key;

struct dkim_key	*dkim_key_load(const char *path, char *err, size_t errsz);
void		 dkim_key_free(struct dkim_key *);
enum dkim_algorithm dkim_key_algorithm(const struct dkim_key *);
/* The TXT record to publish: "v=DKIM1; k=rsa; p=...".  Caller frees. */
char		*dkim_key_dns_record(const struct dkim_key *);
/*
 * Sign data: rsa-sha256 is RSASSA-PKCS1-v1_5 over SHA-256(data);
 * ed25519-sha256 is PureEd25519 over the 32 bytes of SHA-256(data)
 * (RFC 8463 section 3).  *b64 is the base64 signature, caller frees.
 */
int		 dkim_key_sign(const struct dkim_key *, enum dkim_algorithm,
		    const void *data, size_t len, char **b64,
		    char *err, size_t errsz);

/* "rsa-sha256" and "ed25519-sha256"; 0 or -1 for an unknown name. */
const char	*dkim_algorithm_name(enum dkim_algorithm);
int		 dkim_algorithm_from_name(const char *, enum dkim_algorithm *);
/*
 * "relaxed/simple", "simple", ...; a single word is the header
 * canonicalisation with a simple body, as the c= tag reads.
 */
int		 dkim_canon_from_name(const char *, enum dkim_canon *header,
		    enum dkim_canon *body);
const char	*dkim_canon_name(enum dkim_canon);

/* A domain or selector as a DNS name: letters, digits, '-', '_', '.' */
int		 dkim_valid_domain(const char *);
/* A header field name: printable ASCII without ':'. */
int		 dkim_valid_header_name(const char *);
/*
 * Split a list of header names ("from:to:subject", ',' works too) in
 * place into names, lowercased, NULL-terminated; namesz counts the
 * NULL.  0, or -1 and err for a bad name or too many.
 */
int		 dkim_header_list(char *list, const char **names,
		    size_t namesz, char *err, size_t errsz);
/*
 * The domain of the first mailbox in an address header value or an
 * envelope address ("Joe <joe@Example.org>", "joe@example.org (Joe)",
 * "<joe@example.org>"), lowercased.  Quoted strings and comments are
 * skipped.  0, or -1 when no domain is found or it does not fit.
 */
int		 dkim_address_domain(const char *value, char *domain,
		    size_t domainsz);

/* The header fields signed when not told otherwise, NULL-terminated. */
extern const char *const dkim_default_headers[];

struct dkim_signer_params {
	const struct dkim_key	*key;
	enum dkim_algorithm	 algorithm;
	enum dkim_canon		 header_canon;
	enum dkim_canon		 body_canon;
	const char		*selector;
	/* Lowercase names to sign, NULL-terminated; From is always added. */
	const char *const	*headers;
	/* Name From once more than present, so no From can be added. */
	int			 oversign_from;
};

/* One message being signed.  The params (and key) must outlive it. */
struct dkim_sign;

struct dkim_sign *dkim_sign_new(const struct dkim_signer_params *);
void		 dkim_sign_free(struct dkim_sign *);
/*
 * One message line without CRLF.  -1 with errno: ENOMEM, or EFBIG when
 * the header section passes DKIM_HEADER_MAX (the message cannot be
 * signed; keep feeding is harmless).
 */
int		 dkim_sign_line(struct dkim_sign *, const char *, size_t);
/* How many header fields are named name (case-insensitive). */
size_t		 dkim_sign_header_count(const struct dkim_sign *,
		    const char *name);
/*
 * Unfolded value of the nth (0-based) field named name, without
 * leading white space; NULL if there is none.  Valid until the next
 * call that feeds or frees the signer.
 */
const char	*dkim_sign_header_value(struct dkim_sign *, const char *name,
		    size_t nth);
/*
 * The DKIM-Signature header field for domain d= signed at time t: its
 * lines joined with CRLF, no final CRLF, the first line starting with
 * "DKIM-Signature:".  Caller frees.  NULL and err on failure.
 */
char		*dkim_sign_finish(struct dkim_sign *, const char *domain,
		    time_t t, char *err, size_t errsz);

/*
 * The steps dkim_sign_finish is made of, public for the test vectors.
 * The body hash ends the body: feed no line after it.  header_data
 * builds the header hash input: the fields named in names (picked from
 * the bottom, a missing one contributing nothing) canonicalised, then
 * sigfield (the DKIM-Signature field with an empty b= value, lines
 * joined with CRLF) canonicalised without its final CRLF.
 */
int		 dkim_sign_body_hash(struct dkim_sign *,
		    unsigned char hash[DKIM_HASH_LEN]);
int		 dkim_sign_header_data(struct dkim_sign *,
		    const char *const *names, size_t nnames,
		    const char *sigfield, char **data, size_t *len);

#endif /* DKIM_H */
