/*
 * dkim.c: DKIM signing core (RFC 6376, RFC 8463).
 *
 * Lines come in without CRLF; the canonical forms put CRLF back, as the
 * RFC defines them on the wire form of the message.
 */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "dkim.h"

#define RSA_MIN_BITS	1024	/* RFC 8301: verifiers refuse less */

struct buf {
	char		*data;
	size_t		 len;
	size_t		 cap;
};

struct dkim_key {
	EVP_PKEY		*pkey;
	enum dkim_algorithm	 algorithm;
};

/* A header field: one or more lines joined with CRLF, in hdrs. */
struct field {
	size_t		 off;
	size_t		 len;
};

struct dkim_sign {
	const struct dkim_signer_params	*params;
	int			 in_body;
	int			 error;		/* sticky errno */
	struct buf		 hdrs;
	struct field		*fields;
	size_t			 nfields;
	size_t			 fieldcap;
	EVP_MD_CTX		*body_md;
	size_t			 empty_lines;	/* pending, maybe trailing */
	int			 body_started;
	int			 body_done;
	unsigned char		 body_hash[DKIM_HASH_LEN];
	struct buf		 scratch;	/* a relaxed body line */
	char			*value;		/* header_value's answer */
};

const char *const dkim_default_headers[] = {
	"from", "to", "cc", "subject", "date", "message-id", "reply-to",
	"in-reply-to", "references", "mime-version", "content-type",
	"content-transfer-encoding", NULL
};

static int	 buf_add(struct buf *, const void *, size_t);
static int	 buf_addstr(struct buf *, const char *);
static void	 buf_free(struct buf *);
static char	*base64(const unsigned char *, size_t);
static void	 ssl_error(char *, size_t, const char *);
static int	 pem_no_password(char *, int, int, void *);
static int	 is_wsp(int);
static int	 field_name_is(const struct dkim_sign *, size_t,
		    const char *);
static int	 canon_field(enum dkim_canon, const char *, size_t, int,
		    struct buf *);
static int	 body_update(struct dkim_sign *, const void *, size_t);
static int	 body_line(struct dkim_sign *, const char *, size_t);
static int	 header_line(struct dkim_sign *, const char *, size_t);
static int	 signed_names(struct dkim_sign *, const char ***, size_t *);
static int	 fold_add(struct buf *, size_t *, const char *, int);
static int	 fold_base64(struct buf *, size_t *, const char *);

static int
buf_add(struct buf *b, const void *data, size_t len)
{
	char	*p;
	size_t	 cap;

	if (len > SIZE_MAX / 2 - b->len) {
		errno = ENOMEM;
		return -1;
	}
	if (b->len + len + 1 > b->cap) {
		cap = b->cap ? b->cap : 256;
		while (cap < b->len + len + 1)
			cap *= 2;
		if ((p = realloc(b->data, cap)) == NULL)
			return -1;
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';	/* always a string too */
	return 0;
}

static int
buf_addstr(struct buf *b, const char *s)
{
	return buf_add(b, s, strlen(s));
}

static void
buf_free(struct buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

static char *
base64(const unsigned char *in, size_t len)
{
	char	*out;

	if (len > INT32_MAX / 2)
		return NULL;
	if ((out = malloc((len + 2) / 3 * 4 + 1)) == NULL)
		return NULL;
	EVP_EncodeBlock((unsigned char *)out, in, (int)len);
	return out;
}

static void
ssl_error(char *err, size_t errsz, const char *what)
{
	char		 text[256];
	unsigned long	 e;

	e = ERR_get_error();
	if (e == 0)
		strlcpy(text, "unknown error", sizeof(text));
	else
		ERR_error_string_n(e, text, sizeof(text));
	ERR_clear_error();
	snprintf(err, errsz, "%s: %s", what, text);
}

/* Never prompt on a terminal: an encrypted key is an error. */
static int
pem_no_password(char *buf, int size, int rwflag, void *arg)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)arg;
	return -1;
}

static int
is_wsp(int c)
{
	return c == ' ' || c == '\t';
}

/* ---- keys ---- */

struct dkim_key *
dkim_key_load(const char *path, char *err, size_t errsz)
{
	struct dkim_key	*key;
	FILE		*fp;
	EVP_PKEY	*pkey;
	int		 bits;

	if ((fp = fopen(path, "r")) == NULL) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		return NULL;
	}
	pkey = PEM_read_PrivateKey(fp, NULL, pem_no_password, NULL);
	fclose(fp);
	if (pkey == NULL) {
		ssl_error(err, errsz, path);
		return NULL;
	}
	if ((key = calloc(1, sizeof(*key))) == NULL) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		EVP_PKEY_free(pkey);
		return NULL;
	}
	key->pkey = pkey;
	switch (EVP_PKEY_base_id(pkey)) {
	case EVP_PKEY_RSA:
		bits = EVP_PKEY_bits(pkey);
		if (bits < RSA_MIN_BITS) {
			snprintf(err, errsz, "%s: RSA key of %d bits, "
			    "at least %d needed", path, bits, RSA_MIN_BITS);
			dkim_key_free(key);
			return NULL;
		}
		key->algorithm = DKIM_RSA_SHA256;
		break;
	case EVP_PKEY_ED25519:
		key->algorithm = DKIM_ED25519_SHA256;
		break;
	default:
		snprintf(err, errsz, "%s: not an RSA or Ed25519 private key",
		    path);
		dkim_key_free(key);
		return NULL;
	}
	return key;
}

void
dkim_key_free(struct dkim_key *key)
{
	if (key == NULL)
		return;
	EVP_PKEY_free(key->pkey);
	free(key);
}

enum dkim_algorithm
dkim_key_algorithm(const struct dkim_key *key)
{
	return key->algorithm;
}

char *
dkim_key_dns_record(const struct dkim_key *key)
{
	unsigned char	*der = NULL, raw[32];
	size_t		 rawlen = sizeof(raw);
	char		*p, *rec = NULL;
	int		 len;

	if (key->algorithm == DKIM_RSA_SHA256) {
		/* p= is the DER SubjectPublicKeyInfo for RSA. */
		if ((len = i2d_PUBKEY(key->pkey, &der)) <= 0)
			return NULL;
		p = base64(der, (size_t)len);
		OPENSSL_free(der);
	} else {
		/* and the bare 32-byte key for Ed25519 (RFC 8463 4.2). */
		if (EVP_PKEY_get_raw_public_key(key->pkey, raw, &rawlen) != 1)
			return NULL;
		p = base64(raw, rawlen);
	}
	if (p == NULL)
		return NULL;
	if (asprintf(&rec, "v=DKIM1; k=%s; p=%s",
	    key->algorithm == DKIM_RSA_SHA256 ? "rsa" : "ed25519", p) == -1)
		rec = NULL;
	free(p);
	return rec;
}

int
dkim_key_sign(const struct dkim_key *key, enum dkim_algorithm alg,
    const void *data, size_t len, char **b64, char *err, size_t errsz)
{
	EVP_MD_CTX	*ctx;
	const EVP_MD	*md;
	unsigned char	 digest[EVP_MAX_MD_SIZE], *sig = NULL;
	unsigned int	 digestlen;
	size_t		 siglen;
	int		 ret = -1;

	if (alg != key->algorithm) {
		snprintf(err, errsz, "algorithm %s does not match the key",
		    dkim_algorithm_name(alg));
		return -1;
	}
	if (alg == DKIM_ED25519_SHA256) {
		/* RFC 8463: Ed25519 signs the SHA-256 hash, not the data. */
		if (EVP_Digest(data, len, digest, &digestlen, EVP_sha256(),
		    NULL) != 1) {
			ssl_error(err, errsz, "SHA-256");
			return -1;
		}
		data = digest;
		len = digestlen;
		md = NULL;	/* PureEdDSA: no digest of its own */
	} else
		md = EVP_sha256();

	if ((ctx = EVP_MD_CTX_new()) == NULL) {
		ssl_error(err, errsz, "EVP_MD_CTX_new");
		return -1;
	}
	if (EVP_DigestSignInit(ctx, NULL, md, NULL, key->pkey) != 1 ||
	    EVP_DigestSign(ctx, NULL, &siglen, data, len) != 1) {
		ssl_error(err, errsz, "signature");
		goto done;
	}
	if ((sig = malloc(siglen)) == NULL) {
		snprintf(err, errsz, "signature: %s", strerror(errno));
		goto done;
	}
	if (EVP_DigestSign(ctx, sig, &siglen, data, len) != 1) {
		ssl_error(err, errsz, "signature");
		goto done;
	}
	if ((*b64 = base64(sig, siglen)) == NULL) {
		snprintf(err, errsz, "signature: out of memory");
		goto done;
	}
	ret = 0;
done:
	free(sig);
	EVP_MD_CTX_free(ctx);
	return ret;
}

/* ---- names ---- */

const char *
dkim_algorithm_name(enum dkim_algorithm alg)
{
	switch (alg) {
	case DKIM_RSA_SHA256:
		return "rsa-sha256";
	case DKIM_ED25519_SHA256:
		return "ed25519-sha256";
	default:
		return "none";
	}
}

int
dkim_algorithm_from_name(const char *name, enum dkim_algorithm *alg)
{
	if (strcmp(name, "rsa-sha256") == 0)
		*alg = DKIM_RSA_SHA256;
	else if (strcmp(name, "ed25519-sha256") == 0)
		*alg = DKIM_ED25519_SHA256;
	else
		return -1;
	return 0;
}

const char *
dkim_canon_name(enum dkim_canon c)
{
	return c == DKIM_CANON_RELAXED ? "relaxed" : "simple";
}

int
dkim_canon_from_name(const char *name, enum dkim_canon *header,
    enum dkim_canon *body)
{
	const char	*slash;
	size_t		 hlen;

	slash = strchr(name, '/');
	hlen = slash ? (size_t)(slash - name) : strlen(name);
	if (hlen == 7 && strncmp(name, "relaxed", 7) == 0)
		*header = DKIM_CANON_RELAXED;
	else if (hlen == 6 && strncmp(name, "simple", 6) == 0)
		*header = DKIM_CANON_SIMPLE;
	else
		return -1;
	if (slash == NULL || strcmp(slash + 1, "simple") == 0)
		*body = DKIM_CANON_SIMPLE;
	else if (strcmp(slash + 1, "relaxed") == 0)
		*body = DKIM_CANON_RELAXED;
	else
		return -1;
	return 0;
}

int
dkim_valid_domain(const char *s)
{
	size_t	 i, len;

	len = strlen(s);
	if (len == 0 || len > DKIM_DOMAIN_MAX - 2 || s[0] == '.' ||
	    s[len - 1] == '.')
		return 0;
	for (i = 0; i < len; i++) {
		if (isalnum((unsigned char)s[i]) || s[i] == '-' ||
		    s[i] == '_')
			continue;
		if (s[i] == '.' && s[i + 1] != '.')
			continue;
		return 0;
	}
	return 1;
}

int
dkim_valid_header_name(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s; s++)
		if (*s < 0x21 || *s > 0x7e || *s == ':')
			return 0;
	return 1;
}

int
dkim_header_list(char *list, const char **names, size_t namesz, char *err,
    size_t errsz)
{
	char	*name, *p;
	size_t	 n = 0;

	while ((name = strsep(&list, ":,")) != NULL) {
		if (*name == '\0')
			continue;
		for (p = name; *p; p++)
			*p = tolower((unsigned char)*p);
		if (!dkim_valid_header_name(name)) {
			snprintf(err, errsz, "\"%s\" is not a header name",
			    name);
			return -1;
		}
		if (n + 1 >= namesz) {
			snprintf(err, errsz, "at most %zu names", namesz - 1);
			return -1;
		}
		names[n++] = name;
	}
	if (n == 0) {
		snprintf(err, errsz, "no header names");
		return -1;
	}
	names[n] = NULL;
	return 0;
}

int
dkim_address_domain(const char *value, char *domain, size_t domainsz)
{
	char		 cand[1024];
	const char	*p, *at;
	size_t		 n = 0, i;
	int		 depth = 0, quoted = 0, angle = 0;

	for (p = value; *p; p++) {
		if (quoted) {
			if (*p == '\\' && p[1] != '\0')
				p++;
			else if (*p == '"')
				quoted = 0;
			continue;
		}
		if (depth > 0) {
			if (*p == '\\' && p[1] != '\0')
				p++;
			else if (*p == '(')
				depth++;
			else if (*p == ')')
				depth--;
			continue;
		}
		if (*p == '(') {
			depth = 1;
			continue;
		}
		if (*p == '"') {
			/* The local part may be quoted: keep its place. */
			quoted = 1;
			if (n < sizeof(cand) - 1)
				cand[n++] = 'q';
			continue;
		}
		if (*p == '<' && !angle) {
			/* The display name was not the address after all. */
			angle = 1;
			n = 0;
			continue;
		}
		if ((*p == '>' && angle) || (*p == ',' && !angle))
			break;	/* end of the first mailbox */
		if (isspace((unsigned char)*p))
			continue;
		if (n >= sizeof(cand) - 1)
			return -1;
		cand[n++] = *p;
	}
	cand[n] = '\0';
	if ((at = strrchr(cand, '@')) == NULL || at == cand)
		return -1;
	at++;
	if (strlen(at) >= domainsz || !dkim_valid_domain(at))
		return -1;
	for (i = 0; at[i]; i++)
		domain[i] = tolower((unsigned char)at[i]);
	domain[i] = '\0';
	return 0;
}

/* ---- canonicalisation ---- */

/*
 * Append the canonical form of a header field (lines joined by CRLF).
 * crlf: end it with CRLF, as every field but the signature's own.
 */
static int
canon_field(enum dkim_canon canon, const char *f, size_t len, int crlf,
    struct buf *out)
{
	const char	*colon, *p, *end = f + len;
	size_t		 namelen, start;
	char		 c;
	int		 space = 0;

	if (canon == DKIM_CANON_SIMPLE) {
		if (buf_add(out, f, len) == -1)
			return -1;
		return crlf ? buf_add(out, "\r\n", 2) : 0;
	}

	/* relaxed: name lowercased, no white space around the colon, */
	if ((colon = memchr(f, ':', len)) == NULL)
		colon = end;
	namelen = colon - f;
	while (namelen > 0 && is_wsp(f[namelen - 1]))
		namelen--;
	for (p = f; p < f + namelen; p++) {
		c = tolower((unsigned char)*p);
		if (buf_add(out, &c, 1) == -1)
			return -1;
	}
	if (buf_add(out, ":", 1) == -1)
		return -1;
	/* the value unfolded, white space runs as one space, trimmed. */
	start = out->len;
	for (p = colon + 1; p < end; p++) {
		if (*p == '\r' && p + 1 < end && p[1] == '\n') {
			p++;
			continue;
		}
		if (is_wsp(*p)) {
			space = 1;
			continue;
		}
		if (space && out->len > start && buf_add(out, " ", 1) == -1)
			return -1;
		space = 0;
		if (buf_add(out, p, 1) == -1)
			return -1;
	}
	return crlf ? buf_add(out, "\r\n", 2) : 0;
}

static int
body_update(struct dkim_sign *s, const void *data, size_t len)
{
	if (EVP_DigestUpdate(s->body_md, data, len) != 1) {
		s->error = EIO;
		return -1;
	}
	return 0;
}

/*
 * Empty lines are held back: both canonicalisations drop the empty
 * lines at the end of the body, so they count only once a non-empty
 * line follows.
 */
static int
body_line(struct dkim_sign *s, const char *line, size_t len)
{
	size_t	 i;
	int	 space = 0;

	if (s->params->body_canon == DKIM_CANON_RELAXED) {
		s->scratch.len = 0;
		for (i = 0; i < len; i++) {
			if (is_wsp(line[i])) {
				space = 1;
				continue;
			}
			if (space && buf_add(&s->scratch, " ", 1) == -1)
				return -1;
			space = 0;
			if (buf_add(&s->scratch, line + i, 1) == -1)
				return -1;
		}
		/* trailing white space (space still set) is dropped */
		line = s->scratch.data;
		len = s->scratch.len;
	}
	if (len == 0) {
		s->empty_lines++;
		return 0;
	}
	for (; s->empty_lines > 0; s->empty_lines--)
		if (body_update(s, "\r\n", 2) == -1)
			return -1;
	s->body_started = 1;
	if (body_update(s, line, len) == -1 || body_update(s, "\r\n", 2) == -1)
		return -1;
	return 0;
}

static int
header_line(struct dkim_sign *s, const char *line, size_t len)
{
	struct field	*f;
	size_t		 cap;

	if (s->hdrs.len + len + 2 > DKIM_HEADER_MAX) {
		s->error = EFBIG;
		return -1;
	}
	if (len > 0 && is_wsp(line[0]) && s->nfields > 0) {
		/* continuation: the field is the last thing in hdrs */
		if (buf_add(&s->hdrs, "\r\n", 2) == -1 ||
		    buf_add(&s->hdrs, line, len) == -1)
			return -1;
		s->fields[s->nfields - 1].len += 2 + len;
		return 0;
	}
	if (s->nfields == s->fieldcap) {
		cap = s->fieldcap ? s->fieldcap * 2 : 32;
		f = reallocarray(s->fields, cap, sizeof(*f));
		if (f == NULL)
			return -1;
		s->fields = f;
		s->fieldcap = cap;
	}
	f = &s->fields[s->nfields];
	f->off = s->hdrs.len;
	f->len = len;
	if (buf_add(&s->hdrs, line, len) == -1)
		return -1;
	s->nfields++;
	return 0;
}

/* ---- a message ---- */

struct dkim_sign *
dkim_sign_new(const struct dkim_signer_params *params)
{
	struct dkim_sign	*s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->params = params;
	if ((s->body_md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(s->body_md, EVP_sha256(), NULL) != 1) {
		dkim_sign_free(s);
		errno = ENOMEM;
		return NULL;
	}
	return s;
}

void
dkim_sign_free(struct dkim_sign *s)
{
	if (s == NULL)
		return;
	EVP_MD_CTX_free(s->body_md);
	buf_free(&s->hdrs);
	buf_free(&s->scratch);
	free(s->fields);
	free(s->value);
	free(s);
}

int
dkim_sign_line(struct dkim_sign *s, const char *line, size_t len)
{
	int	 r;

	if (s->error) {
		errno = s->error;
		return -1;
	}
	if (s->body_done) {
		s->error = EINVAL;
		errno = s->error;
		return -1;
	}
	if (s->in_body)
		r = body_line(s, line, len);
	else if (len == 0) {
		s->in_body = 1;
		r = 0;
	} else
		r = header_line(s, line, len);
	if (r == -1) {
		if (s->error == 0)
			s->error = errno ? errno : ENOMEM;
		errno = s->error;
	}
	return r;
}

static int
field_name_is(const struct dkim_sign *s, size_t i, const char *name)
{
	const char	*f = s->hdrs.data + s->fields[i].off;
	size_t		 len = s->fields[i].len, n = strlen(name);

	if (len <= n || strncasecmp(f, name, n) != 0)
		return 0;
	for (; n < len && is_wsp(f[n]); n++)
		;
	return n < len && f[n] == ':';
}

size_t
dkim_sign_header_count(const struct dkim_sign *s, const char *name)
{
	size_t	 i, count = 0;

	for (i = 0; i < s->nfields; i++)
		if (field_name_is(s, i, name))
			count++;
	return count;
}

const char *
dkim_sign_header_value(struct dkim_sign *s, const char *name, size_t nth)
{
	const char	*f, *p, *end;
	char		*v;
	size_t		 i, n = 0;

	for (i = 0; i < s->nfields; i++) {
		if (!field_name_is(s, i, name) || n++ != nth)
			continue;
		f = s->hdrs.data + s->fields[i].off;
		end = f + s->fields[i].len;
		p = (const char *)memchr(f, ':', s->fields[i].len) + 1;
		while (p < end && is_wsp(*p))
			p++;
		if ((v = malloc(end - p + 1)) == NULL)
			return NULL;
		free(s->value);
		s->value = v;
		for (; p < end; p++)
			if (*p != '\r' && *p != '\n')
				*v++ = *p;
		*v = '\0';
		return s->value;
	}
	return NULL;
}

int
dkim_sign_body_hash(struct dkim_sign *s, unsigned char hash[DKIM_HASH_LEN])
{
	unsigned int	 len;

	if (s->error) {
		errno = s->error;
		return -1;
	}
	if (!s->body_done) {
		/* simple: an empty body is one CRLF; relaxed: nothing */
		if (!s->body_started &&
		    s->params->body_canon == DKIM_CANON_SIMPLE &&
		    body_update(s, "\r\n", 2) == -1)
			return -1;
		if (EVP_DigestFinal_ex(s->body_md, s->body_hash, &len) != 1 ||
		    len != DKIM_HASH_LEN) {
			s->error = EIO;
			errno = s->error;
			return -1;
		}
		s->body_done = 1;
	}
	memcpy(hash, s->body_hash, DKIM_HASH_LEN);
	return 0;
}

int
dkim_sign_header_data(struct dkim_sign *s, const char *const *names,
    size_t nnames, const char *sigfield, char **data, size_t *len)
{
	struct buf	 out = { NULL, 0, 0 };
	size_t		*next, i, j;
	enum dkim_canon	 canon = s->params->header_canon;

	/* next[i]: where the search for names[i] resumes, going up */
	if ((next = calloc(nnames ? nnames : 1, sizeof(*next))) == NULL)
		return -1;
	for (i = 0; i < nnames; i++) {
		next[i] = s->nfields;
		for (j = 0; j < i; j++)
			if (strcasecmp(names[j], names[i]) == 0)
				next[i] = next[j];
		while (next[i] > 0) {
			next[i]--;
			if (!field_name_is(s, next[i], names[i]))
				continue;
			if (canon_field(canon, s->hdrs.data +
			    s->fields[next[i]].off, s->fields[next[i]].len, 1,
			    &out) == -1)
				goto fail;
			break;
		}
	}
	if (canon_field(canon, sigfield, strlen(sigfield), 0, &out) == -1)
		goto fail;
	/* relaxed strips the end of the value: the empty b= has none */
	free(next);
	if (out.data == NULL && buf_add(&out, "", 0) == -1)
		return -1;
	*data = out.data;
	*len = out.len;
	return 0;
fail:
	free(next);
	buf_free(&out);
	return -1;
}

/*
 * The h= list: every configured name as many times as it is present,
 * From at least once (RFC 6376 5.4), plus once more when oversigning.
 */
static int
signed_names(struct dkim_sign *s, const char ***namesp, size_t *np)
{
	const char *const	*h = s->params->headers;
	const char		**names = NULL, **tmp;
	const char		*name;
	size_t			 n = 0, cap = 0, count, i, k, nh = 0;
	int			 seen_from = 0, dup;

	while (h != NULL && h[nh] != NULL)
		nh++;
	/* the configured names, then From if they did not have it */
	for (i = 0; i <= nh; i++) {
		if (i < nh)
			name = h[i];
		else if (!seen_from)
			name = "from";
		else
			break;
		for (dup = 0, k = 0; k < i && k < nh; k++)
			if (strcasecmp(h[k], name) == 0)
				dup = 1;
		if (dup)
			continue;
		count = dkim_sign_header_count(s, name);
		if (strcasecmp(name, "from") == 0) {
			seen_from = 1;
			if (count == 0)
				count = 1;
			if (s->params->oversign_from)
				count++;
		}
		if (n + count + 1 > cap) {
			cap = (n + count + 1) * 2;
			if ((tmp = reallocarray(names, cap,
			    sizeof(*names))) == NULL) {
				free(names);
				return -1;
			}
			names = tmp;
		}
		while (count-- > 0)
			names[n++] = name;
	}
	*namesp = names;
	*np = n;
	return 0;
}

/*
 * Fold: a token goes on the current line if it fits in the width, else
 * on a new continuation line.  space: put a space before it when it
 * stays on the line.
 */
static int
fold_add(struct buf *b, size_t *col, const char *tok, int space)
{
	size_t	 len = strlen(tok);

	if (*col + (space ? 1 : 0) + len > DKIM_FOLD_WIDTH && *col > 1) {
		if (buf_add(b, "\r\n\t", 3) == -1)
			return -1;
		*col = 1;
	} else if (space) {
		if (buf_add(b, " ", 1) == -1)
			return -1;
		(*col)++;
	}
	*col += len;
	return buf_add(b, tok, len);
}

static int
fold_base64(struct buf *b, size_t *col, const char *s)
{
	size_t	 len = strlen(s), room;

	while (len > 0) {
		if (*col >= DKIM_FOLD_WIDTH) {
			if (buf_add(b, "\r\n\t", 3) == -1)
				return -1;
			*col = 1;
		}
		room = DKIM_FOLD_WIDTH - *col;
		if (room > len)
			room = len;
		if (buf_add(b, s, room) == -1)
			return -1;
		s += room;
		len -= room;
		*col += room;
	}
	return 0;
}

char *
dkim_sign_finish(struct dkim_sign *s, const char *domain, time_t t,
    char *err, size_t errsz)
{
	const struct dkim_signer_params	*p = s->params;
	struct buf			 out = { NULL, 0, 0 };
	unsigned char			 bh[DKIM_HASH_LEN];
	const char			**names = NULL;
	char				 tok[512], *bh64 = NULL, *data = NULL;
	char				*sig = NULL;
	size_t				 col, n, i, len;

	if (dkim_sign_body_hash(s, bh) == -1) {
		snprintf(err, errsz, "%s", s->error == EFBIG ?
		    "header section too large" : strerror(s->error));
		return NULL;
	}
	if (signed_names(s, &names, &n) == -1 ||
	    (bh64 = base64(bh, sizeof(bh))) == NULL) {
		snprintf(err, errsz, "out of memory");
		goto fail;
	}

	col = strlen("DKIM-Signature:");
	if (buf_addstr(&out, "DKIM-Signature:") == -1 ||
	    fold_add(&out, &col, "v=1;", 1) == -1)
		goto nomem;
	snprintf(tok, sizeof(tok), "a=%s;", dkim_algorithm_name(p->algorithm));
	if (fold_add(&out, &col, tok, 1) == -1)
		goto nomem;
	snprintf(tok, sizeof(tok), "c=%s/%s;", dkim_canon_name(p->header_canon),
	    dkim_canon_name(p->body_canon));
	if (fold_add(&out, &col, tok, 1) == -1)
		goto nomem;
	if ((size_t)snprintf(tok, sizeof(tok), "d=%s;", domain) >= sizeof(tok))
		goto toolong;
	if (fold_add(&out, &col, tok, 1) == -1)
		goto nomem;
	if ((size_t)snprintf(tok, sizeof(tok), "s=%s;", p->selector) >=
	    sizeof(tok))
		goto toolong;
	if (fold_add(&out, &col, tok, 1) == -1)
		goto nomem;
	snprintf(tok, sizeof(tok), "t=%lld;", (long long)t);
	if (fold_add(&out, &col, tok, 1) == -1)
		goto nomem;
	/* h=: a fold may come after any colon */
	for (i = 0; i < n; i++) {
		if ((size_t)snprintf(tok, sizeof(tok), "%s%s%s",
		    i == 0 ? "h=" : "", names[i], i + 1 < n ? ":" : ";") >=
		    sizeof(tok))
			goto toolong;
		if (fold_add(&out, &col, tok, i == 0) == -1)
			goto nomem;
	}
	snprintf(tok, sizeof(tok), "bh=%s;", bh64);
	if (fold_add(&out, &col, tok, 1) == -1)
		goto nomem;
	/* b= starts its own line; the field up to "b=" is what is signed */
	if (buf_add(&out, "\r\n\tb=", 5) == -1)
		goto nomem;
	col = 3;
	if (dkim_sign_header_data(s, names, n, out.data, &data, &len) == -1)
		goto nomem;
	if (dkim_key_sign(p->key, p->algorithm, data, len, &sig, err,
	    errsz) == -1)
		goto fail;
	if (fold_base64(&out, &col, sig) == -1)
		goto nomem;
	free(names);
	free(bh64);
	free(data);
	free(sig);
	return out.data;

toolong:
	snprintf(err, errsz, "a tag of the signature is too long");
	goto fail;
nomem:
	snprintf(err, errsz, "out of memory");
fail:
	free(names);
	free(bh64);
	free(data);
	free(sig);
	buf_free(&out);
	return NULL;
}
