/*
 * test_dkim.c: the DKIM signing core (filters/filter-dkim-sign/dkim.c).
 *
 * Messages are signed with both algorithms and the four
 * canonicalisation pairs, then checked by an independent verifier,
 * regress/dkim/verify.py (python3-dkim, no DNS).  Keys are made at
 * start-up in a private temporary directory.  RFC 8463's example is
 * checked byte for byte: Ed25519 is deterministic.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <check.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "../../filters/filter-dkim-sign/dkim.h"

#define T_DOMAIN	"example.org"
#define T_SELECTOR	"sel2024"
#define T_TIME		1700000000

struct combo {
	enum dkim_algorithm	 alg;
	enum dkim_canon		 hc;
	enum dkim_canon		 bc;
};

static char	 tmpdir[] = "/tmp/test_dkim.XXXXXX";
static char	 verify_py[PATH_MAX];
static char	 rsa_path[PATH_MAX], ed_path[PATH_MAX];

static const struct combo combos[] = {
	{ DKIM_RSA_SHA256, DKIM_CANON_SIMPLE, DKIM_CANON_SIMPLE },
	{ DKIM_RSA_SHA256, DKIM_CANON_SIMPLE, DKIM_CANON_RELAXED },
	{ DKIM_RSA_SHA256, DKIM_CANON_RELAXED, DKIM_CANON_SIMPLE },
	{ DKIM_RSA_SHA256, DKIM_CANON_RELAXED, DKIM_CANON_RELAXED },
	{ DKIM_ED25519_SHA256, DKIM_CANON_SIMPLE, DKIM_CANON_SIMPLE },
	{ DKIM_ED25519_SHA256, DKIM_CANON_SIMPLE, DKIM_CANON_RELAXED },
	{ DKIM_ED25519_SHA256, DKIM_CANON_RELAXED, DKIM_CANON_SIMPLE },
	{ DKIM_ED25519_SHA256, DKIM_CANON_RELAXED, DKIM_CANON_RELAXED },
};
#define NCOMBOS	(sizeof(combos) / sizeof(combos[0]))

static const char *const msg_basic[] = {
	"From: Joe SixPack <joe@example.org>",
	"To: Suzie Q <suzie@shopping.example.net>",
	"Subject: Is dinner ready?",
	"Date: Fri, 11 Jul 2003 21:00:37 -0700",
	"Message-ID: <20030712040037.46341.5F8J@example.org>",
	"",
	"Hi.",
	"",
	"We lost the game.  Are you hungry yet?",
	"",
	"Joe.",
	NULL
};

static void	 write_file(const char *, const char *, size_t);
static void	 make_key(const char *, const char *, size_t);
static struct dkim_key *load(enum dkim_algorithm);
static char	*sign_lines(const char *const *, const struct combo *,
		    const char *const *, int, char **);
static char	*join_message(const char *, const char *const *);
static int	 run_verify(enum dkim_algorithm, const char *const *, size_t);
static void	 sign_and_verify_all(const char *, const char *const *);
static int	 sign_verify_one(const char *const *, const struct combo *,
		    const char *, const char *);
static char	*tag_value(const char *, const char *);
static void	 body_hash_b64(const char *const *, enum dkim_canon, char *);
static char	*replace(const char *, const char *, const char *);
static Suite	*dkim_suite(void);

static void
write_file(const char *path, const char *data, size_t len)
{
	FILE	*fp;

	fp = fopen(path, "w");
	ck_assert_msg(fp != NULL, "%s: %s", path, strerror(errno));
	ck_assert_uint_eq(fwrite(data, 1, len, fp), len);
	ck_assert_int_eq(fclose(fp), 0);
}

static void
make_key(const char *path, const char *type, size_t bits)
{
	EVP_PKEY	*pkey;
	FILE		*fp;

	if (strcmp(type, "EC") == 0)
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, type, "P-256");
	else if (bits)
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, type, bits);
	else
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, type);
	if (pkey == NULL) {
		fprintf(stderr, "keygen %s failed\n", type);
		exit(1);
	}
	if ((fp = fopen(path, "w")) == NULL ||
	    PEM_write_PrivateKey(fp, pkey, NULL, NULL, 0, NULL, NULL) != 1 ||
	    fclose(fp) != 0) {
		fprintf(stderr, "%s: cannot write key\n", path);
		exit(1);
	}
	EVP_PKEY_free(pkey);
}

static struct dkim_key *
load(enum dkim_algorithm alg)
{
	struct dkim_key	*key;
	char		 err[256];

	key = dkim_key_load(alg == DKIM_RSA_SHA256 ? rsa_path : ed_path,
	    err, sizeof(err));
	ck_assert_msg(key != NULL, "%s", err);
	ck_assert_int_eq(dkim_key_algorithm(key), alg);
	return key;
}

/* The message as the filter emits it: signature lines, then the lines. */
static char *
join_message(const char *sig, const char *const *lines)
{
	size_t	 len = 0, i, off = 0;
	char	*out;

	len = sig ? strlen(sig) + 2 : 0;
	for (i = 0; lines[i]; i++)
		len += strlen(lines[i]) + 2;
	out = malloc(len + 1);
	ck_assert_ptr_nonnull(out);
	if (sig)
		off += sprintf(out, "%s\r\n", sig);
	for (i = 0; lines[i]; i++)
		off += sprintf(out + off, "%s\r\n", lines[i]);
	return out;
}

/* Sign; returns the full message, *sigp (if asked) the field alone. */
static char *
sign_lines(const char *const *lines, const struct combo *c,
    const char *const *headers, int oversign, char **sigp)
{
	struct dkim_signer_params	 p;
	struct dkim_sign		*s;
	struct dkim_key			*key;
	char				 err[256], *sig, *msg;
	size_t				 i;

	key = load(c->alg);
	memset(&p, 0, sizeof(p));
	p.key = key;
	p.algorithm = c->alg;
	p.header_canon = c->hc;
	p.body_canon = c->bc;
	p.selector = T_SELECTOR;
	p.headers = headers ? headers : dkim_default_headers;
	p.oversign_from = oversign;
	s = dkim_sign_new(&p);
	ck_assert_ptr_nonnull(s);
	for (i = 0; lines[i]; i++)
		ck_assert_int_eq(dkim_sign_line(s, lines[i],
		    strlen(lines[i])), 0);
	sig = dkim_sign_finish(s, T_DOMAIN, T_TIME, err, sizeof(err));
	ck_assert_msg(sig != NULL, "%s", err);
	dkim_sign_free(s);
	dkim_key_free(key);

	ck_assert_msg(strncmp(sig, "DKIM-Signature: v=1; a=", 23) == 0,
	    "%s", sig);
	msg = join_message(sig, lines);
	if (sigp)
		*sigp = sig;
	else
		free(sig);
	return msg;
}

/* verify.py over files signed with alg's key: its exit status. */
static int
run_verify(enum dkim_algorithm alg, const char *const *files, size_t n)
{
	struct dkim_key	*key;
	char		*rec, cmd[8192];
	size_t		 i, off;
	int		 st;

	key = load(alg);
	rec = dkim_key_dns_record(key);
	ck_assert_ptr_nonnull(rec);
	dkim_key_free(key);
	off = snprintf(cmd, sizeof(cmd), "python3 '%s' -r '%s' -d %s -s %s",
	    verify_py, rec, T_DOMAIN, T_SELECTOR);
	free(rec);
	for (i = 0; i < n; i++)
		off += snprintf(cmd + off, sizeof(cmd) - off, " '%s'",
		    files[i]);
	ck_assert_uint_lt(off, sizeof(cmd));
	fflush(stdout);
	st = system(cmd);
	ck_assert_msg(st != -1 && WIFEXITED(st), "cannot run %s", cmd);
	ck_assert_msg(WEXITSTATUS(st) <= 1, "verify.py failed: %s", cmd);
	return WEXITSTATUS(st);
}

/* Every algorithm and canonicalisation: each must verify. */
static void
sign_and_verify_all(const char *name, const char *const *lines)
{
	char		 paths[NCOMBOS][PATH_MAX];
	const char	*files[NCOMBOS / 2];
	char		*msg;
	size_t		 i, k;

	for (i = 0; i < NCOMBOS; i++) {
		snprintf(paths[i], sizeof(paths[i]), "%s/%s-%zu.eml", tmpdir,
		    name, i);
		msg = sign_lines(lines, &combos[i], NULL, 0, NULL);
		write_file(paths[i], msg, strlen(msg));
		free(msg);
	}
	/* one verifier run per key */
	for (k = 0; k < 2; k++) {
		for (i = 0; i < NCOMBOS / 2; i++)
			files[i] = paths[k * NCOMBOS / 2 + i];
		ck_assert_msg(run_verify(combos[k * NCOMBOS / 2].alg, files,
		    NCOMBOS / 2) == 0, "%s: a signature did not verify", name);
	}
}

/*
 * Sign, apply a change to the output (from -> to, NULL for none) and
 * verify: 1 when it verifies.
 */
static int
sign_verify_one(const char *const *lines, const struct combo *c,
    const char *from, const char *to)
{
	static int	 n;
	char		 path[PATH_MAX], *msg, *changed;
	const char	*files[1];

	msg = sign_lines(lines, c, NULL, 0, NULL);
	if (from != NULL) {
		changed = replace(msg, from, to);
		free(msg);
		msg = changed;
	}
	snprintf(path, sizeof(path), "%s/one-%d.eml", tmpdir, n++);
	write_file(path, msg, strlen(msg));
	free(msg);
	files[0] = path;
	return run_verify(c->alg, files, 1) == 0;
}

static char *
replace(const char *s, const char *from, const char *to)
{
	const char	*at;
	char		*out;

	at = strstr(s, from);
	ck_assert_msg(at != NULL, "'%s' not in the message", from);
	out = malloc(strlen(s) - strlen(from) + strlen(to) + 1);
	ck_assert_ptr_nonnull(out);
	memcpy(out, s, at - s);
	strcpy(out + (at - s), to);
	strcat(out, at + strlen(from));
	return out;
}

/* A tag's value in a signature, with all white space removed. */
static char *
tag_value(const char *sig, const char *tag)
{
	char	*flat, *p, *q, *v, want[16];
	size_t	 n = 0;

	flat = strdup(sig);
	ck_assert_ptr_nonnull(flat);
	for (p = flat; *p; p++)
		if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
			flat[n++] = *p;
	flat[n] = '\0';
	snprintf(want, sizeof(want), ";%s=", tag);
	if ((p = strstr(flat, want)) == NULL) {
		free(flat);
		return NULL;
	}
	p += strlen(want);
	if ((q = strchr(p, ';')) != NULL)
		*q = '\0';
	v = strdup(p);
	free(flat);
	return v;
}

static void
body_hash_b64(const char *const *lines, enum dkim_canon bc, char *out)
{
	struct dkim_signer_params	 p;
	struct dkim_sign		*s;
	unsigned char			 h[DKIM_HASH_LEN];
	size_t				 i;

	memset(&p, 0, sizeof(p));
	p.body_canon = bc;
	s = dkim_sign_new(&p);
	ck_assert_ptr_nonnull(s);
	for (i = 0; lines[i]; i++)
		ck_assert_int_eq(dkim_sign_line(s, lines[i],
		    strlen(lines[i])), 0);
	ck_assert_int_eq(dkim_sign_body_hash(s, h), 0);
	EVP_EncodeBlock((unsigned char *)out, h, sizeof(h));
	dkim_sign_free(s);
}

START_TEST(test_basic)
{
	sign_and_verify_all("basic", msg_basic);
}
END_TEST

START_TEST(test_dot_lines)
{
	/* on the wire these were dot-stuffed; the signer sees them bare */
	static const char *const lines[] = {
		"From: joe@example.org",
		"To: suzie@example.net",
		"Subject: dots",
		"",
		".",
		"..",
		".hidden line",
		"...three",
		"a line. with. dots.",
		".",
		NULL
	};

	sign_and_verify_all("dots", lines);
}
END_TEST

START_TEST(test_long_lines)
{
	const char	*lines[8];
	char		*longbody, *longsubj;

	longbody = malloc(5001);
	longsubj = malloc(1501);
	ck_assert_ptr_nonnull(longbody);
	ck_assert_ptr_nonnull(longsubj);
	memset(longbody, 'x', 5000);
	longbody[5000] = '\0';
	memcpy(longsubj, "Subject: ", 9);
	memset(longsubj + 9, 'y', 1491);
	longsubj[1500] = '\0';
	lines[0] = "From: joe@example.org";
	lines[1] = longsubj;
	lines[2] = "";
	lines[3] = longbody;
	lines[4] = "short";
	lines[5] = longbody;
	lines[6] = NULL;
	sign_and_verify_all("long", lines);
	free(longbody);
	free(longsubj);
}
END_TEST

START_TEST(test_8bit)
{
	static const char *const lines[] = {
		"From: J\xc3\xb6rg <jorg@example.org>",
		"To: Ren\xc3\xa9" "e <renee@example.net>",
		"Subject: Gr\xc3\xbc\xc3\x9f" "e aus K\xc3\xb6ln \xe2\x82\xac",
		"MIME-Version: 1.0",
		"Content-Type: text/plain; charset=utf-8",
		"Content-Transfer-Encoding: 8bit",
		"",
		"Sch\xc3\xb6ne Gr\xc3\xbc\xc3\x9f" "e \xe2\x80\x94 \xe6\x97\xa5\xe6\x9c\xac",
		"\xf0\x9f\x98\x80 \xc3\xa9\xc3\xa8\t\xc3\xa0  ",
		NULL
	};

	sign_and_verify_all("8bit", lines);
}
END_TEST

START_TEST(test_empty_bodies)
{
	static const char *const blank[] = {
		"From: joe@example.org",
		"Subject: nothing",
		"",
		NULL
	};
	static const char *const noseparator[] = {
		"From: joe@example.org",
		"Subject: nothing at all",
		NULL
	};
	static const char *const onlyempty[] = {
		"From: joe@example.org",
		"Subject: empty lines",
		"",
		"",
		"",
		"   ",
		"",
		NULL
	};

	sign_and_verify_all("blank", blank);
	sign_and_verify_all("nosep", noseparator);
	sign_and_verify_all("onlyempty", onlyempty);
}
END_TEST

START_TEST(test_folded_headers)
{
	static const char *const lines[] = {
		"From: \"Joe Q. Public\"",
		"  <joe@example.org>",
		"To: a@example.net,",
		"\tb@example.net,",
		"        c@example.net",
		"Subject: a subject",
		"\tfolded over",
		" three lines",
		"Received: from a by b;",
		"\tFri, 11 Jul 2003 21:00:37 -0700",
		"",
		"body",
		NULL
	};

	sign_and_verify_all("folded", lines);
}
END_TEST

START_TEST(test_whitespace)
{
	static const char *const lines[] = {
		"From:joe@example.org",
		"To:    suzie@example.net    ",
		"Subject: \t lots \t of   space\t ",
		"Cc: x@example.net\t",
		"",
		"  leading spaces",
		"trailing spaces   ",
		"trailing tab\t",
		"inner \t\t  mixed   \t space",
		"\t",
		"",
		"after an empty line",
		"",
		"   ",
		"\t \t",
		"",
		"",
		NULL
	};

	sign_and_verify_all("space", lines);
}
END_TEST

START_TEST(test_repeated_headers)
{
	static const char *const lines[] = {
		"From: joe@example.org",
		"To: one@example.net",
		"Subject: first",
		"To: two@example.net",
		"Cc: c1@example.net",
		"Cc: c2@example.net",
		"Cc: c3@example.net",
		"",
		"body",
		NULL
	};
	char	*msg, *sig, *h;

	sign_and_verify_all("repeat", lines);
	msg = sign_lines(lines, &combos[3], NULL, 0, &sig);
	h = tag_value(sig, "h");
	ck_assert_ptr_nonnull(h);
	ck_assert_str_eq(h, "from:to:to:cc:cc:cc:subject");
	free(h);
	free(sig);
	free(msg);
}
END_TEST

START_TEST(test_header_list)
{
	static const char *const only_subject[] = { "subject", NULL };
	static const char *const custom[] = { "X-Custom", "subject",
	    "x-missing", "from", "x-custom", NULL };
	static const char *const lines[] = {
		"From: joe@example.org",
		"X-Custom: 1",
		"Subject: s",
		"x-custom: 2",
		"",
		"body",
		NULL
	};
	char	*msg, *sig, *h, path[PATH_MAX];
	const char	*files[1];

	/* From is signed even when the list forgets it */
	msg = sign_lines(lines, &combos[7], only_subject, 0, &sig);
	h = tag_value(sig, "h");
	ck_assert_str_eq(h, "subject:from");
	free(h);
	free(sig);
	free(msg);

	/* names as configured, counted as present, duplicates once */
	msg = sign_lines(lines, &combos[7], custom, 0, &sig);
	h = tag_value(sig, "h");
	ck_assert_str_eq(h, "X-Custom:X-Custom:subject:from");
	snprintf(path, sizeof(path), "%s/custom.eml", tmpdir);
	write_file(path, msg, strlen(msg));
	files[0] = path;
	ck_assert_int_eq(run_verify(combos[7].alg, files, 1), 0);
	free(h);
	free(sig);
	free(msg);

	/* oversigning names From once more than present */
	msg = sign_lines(lines, &combos[7], only_subject, 1, &sig);
	h = tag_value(sig, "h");
	ck_assert_str_eq(h, "subject:from:from");
	snprintf(path, sizeof(path), "%s/oversign.eml", tmpdir);
	write_file(path, msg, strlen(msg));
	ck_assert_int_eq(run_verify(combos[7].alg, files, 1), 0);
	free(h);
	free(sig);
	free(msg);
}
END_TEST

START_TEST(test_signature_form)
{
	char		*msg, *sig, *v, *line, *save;
	size_t		 i;

	for (i = 0; i < NCOMBOS; i++) {
		msg = sign_lines(msg_basic, &combos[i], NULL, 0, &sig);
		v = tag_value(sig, "a");
		ck_assert_str_eq(v, dkim_algorithm_name(combos[i].alg));
		free(v);
		v = tag_value(sig, "c");
		ck_assert_str_eq(v, combos[i].hc == DKIM_CANON_RELAXED ?
		    (combos[i].bc == DKIM_CANON_RELAXED ? "relaxed/relaxed" :
		    "relaxed/simple") : (combos[i].bc == DKIM_CANON_RELAXED ?
		    "simple/relaxed" : "simple/simple"));
		free(v);
		v = tag_value(sig, "d");
		ck_assert_str_eq(v, T_DOMAIN);
		free(v);
		v = tag_value(sig, "s");
		ck_assert_str_eq(v, T_SELECTOR);
		free(v);
		v = tag_value(sig, "t");
		ck_assert_str_eq(v, "1700000000");
		free(v);
		v = tag_value(sig, "h");
		ck_assert_str_eq(v, "from:to:subject:date:message-id");
		free(v);
		ck_assert_ptr_null(tag_value(sig, "l"));
		/* folded: every line within the width, continuations start
		 * with white space, no bare CR or LF */
		for (line = strtok_r(sig, "\n", &save); line != NULL;
		    line = strtok_r(NULL, "\n", &save)) {
			ck_assert_uint_le(strcspn(line, "\r"),
			    DKIM_FOLD_WIDTH);
			if (line != sig)
				ck_assert(line[0] == '\t');
		}
		free(sig);
		free(msg);
	}
}
END_TEST

START_TEST(test_tampering)
{
	const struct combo	*ss = &combos[0], *rr = &combos[3];
	const struct combo	*ed_ss = &combos[4], *ed_rr = &combos[7];

	/* untouched: verifies */
	ck_assert(sign_verify_one(msg_basic, ss, NULL, NULL));
	ck_assert(sign_verify_one(msg_basic, ed_rr, NULL, NULL));
	/* a changed body fails for every combination */
	ck_assert(!sign_verify_one(msg_basic, ss, "We lost", "We won"));
	ck_assert(!sign_verify_one(msg_basic, rr, "We lost", "We won"));
	ck_assert(!sign_verify_one(msg_basic, ed_ss, "Joe.\r\n",
	    "Joe!\r\n"));
	ck_assert(!sign_verify_one(msg_basic, ed_rr, "Hi.", "Hi?"));
	/* so does a changed signed header, or an added line of body */
	ck_assert(!sign_verify_one(msg_basic, rr, "dinner ready",
	    "dinner burnt"));
	ck_assert(!sign_verify_one(msg_basic, ed_rr, "Joe.\r\n",
	    "Joe.\r\nP.S.\r\n"));
	/* relaxed tolerates what it should, simple does not */
	ck_assert(sign_verify_one(msg_basic, rr, "game.  Are",
	    "game. \t Are"));
	ck_assert(!sign_verify_one(msg_basic, ss, "game.  Are",
	    "game. \t Are"));
	ck_assert(sign_verify_one(msg_basic, ed_rr, "Subject: Is",
	    "subject:    Is"));
	ck_assert(!sign_verify_one(msg_basic, ed_ss, "Subject: Is",
	    "subject:    Is"));
	/* trailing empty lines are ignored by both */
	ck_assert(sign_verify_one(msg_basic, ss, "Joe.\r\n",
	    "Joe.\r\n\r\n\r\n"));
	ck_assert(sign_verify_one(msg_basic, ed_rr, "Joe.\r\n",
	    "Joe.\r\n\r\n"));
}
END_TEST

START_TEST(test_body_hash)
{
	static const char *const rfc[] = {
		"From: x@example.org", "",
		"Hi.", "", "We lost the game. Are you hungry yet?", "",
		"Joe.", NULL
	};
	static const char *const rfc_trailing[] = {
		"From: x@example.org", "",
		"Hi.", "", "We lost the game. Are you hungry yet?", "",
		"Joe.", "", "", NULL
	};
	static const char *const rfc_spaces[] = {
		"From: x@example.org", "",
		"Hi.  ", "\t", "We  lost the\tgame. Are   you hungry yet?",
		" ", "Joe.\t ", "   ", NULL
	};
	static const char *const empty[] = { "From: x@example.org", NULL };
	static const char *const empty2[] = { "From: x@example.org", "",
	    "", "  ", NULL };
	char	 b64[64];

	/* RFC 6376 appendix A's body */
	body_hash_b64(rfc, DKIM_CANON_SIMPLE, b64);
	ck_assert_str_eq(b64, "2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=");
	body_hash_b64(rfc_trailing, DKIM_CANON_SIMPLE, b64);
	ck_assert_str_eq(b64, "2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=");
	body_hash_b64(rfc, DKIM_CANON_RELAXED, b64);
	ck_assert_str_eq(b64, "2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=");
	body_hash_b64(rfc_spaces, DKIM_CANON_RELAXED, b64);
	ck_assert_str_eq(b64, "2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=");
	body_hash_b64(rfc_spaces, DKIM_CANON_SIMPLE, b64);
	ck_assert_str_ne(b64, "2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=");
	/* empty: simple hashes one CRLF, relaxed nothing (RFC 6376 3.4) */
	body_hash_b64(empty, DKIM_CANON_SIMPLE, b64);
	ck_assert_str_eq(b64, "frcCV1k9oG9oKj3dpUqdJg1PxRT2RSN/XKdLCPjaYaY=");
	body_hash_b64(empty, DKIM_CANON_RELAXED, b64);
	ck_assert_str_eq(b64, "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
	body_hash_b64(empty2, DKIM_CANON_RELAXED, b64);
	ck_assert_str_eq(b64, "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
	/* "  " is a line of content for simple */
	body_hash_b64(empty2, DKIM_CANON_SIMPLE, b64);
	ck_assert_str_ne(b64, "frcCV1k9oG9oKj3dpUqdJg1PxRT2RSN/XKdLCPjaYaY=");
}
END_TEST

/* RFC 8463 appendix A: key, message and ed25519 signature. */
START_TEST(test_rfc8463_vector)
{
	static const char	 pem[] =
	    "-----BEGIN PRIVATE KEY-----\n"
	    "MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n"
	    "-----END PRIVATE KEY-----\n";
	static const char *const lines[] = {
		"From: Joe SixPack <joe@football.example.com>",
		"To: Suzie Q <suzie@shopping.example.net>",
		"Subject: Is dinner ready?",
		"Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)",
		"Message-ID: <20030712040037.46341.5F8J@football.example.com>",
		"",
		"Hi.",
		"",
		"We lost the game.  Are you hungry yet?",
		"",
		"Joe.",
		NULL
	};
	static const char *const names[] = { "from", "to", "subject",
	    "date", "message-id", "from", "subject", "date" };
	static const char	 sigfield[] =
	    "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n"
	    " d=football.example.com; i=@football.example.com;\r\n"
	    " q=dns/txt; s=brisbane; t=1528637909; h=from : to :\r\n"
	    " subject : date : message-id : from : subject : date;\r\n"
	    " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
	    " b=";
	struct dkim_signer_params	 p;
	struct dkim_sign		*s;
	struct dkim_key			*key;
	unsigned char			 bh[DKIM_HASH_LEN];
	char				 path[PATH_MAX], err[256], b64[64];
	char				*data, *sig, *rec;
	size_t				 len, i;

	snprintf(path, sizeof(path), "%s/rfc8463.pem", tmpdir);
	write_file(path, pem, strlen(pem));
	key = dkim_key_load(path, err, sizeof(err));
	ck_assert_msg(key != NULL, "%s", err);
	ck_assert_int_eq(dkim_key_algorithm(key), DKIM_ED25519_SHA256);
	rec = dkim_key_dns_record(key);
	ck_assert_str_eq(rec,
	    "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=");
	free(rec);

	memset(&p, 0, sizeof(p));
	p.key = key;
	p.algorithm = DKIM_ED25519_SHA256;
	p.header_canon = p.body_canon = DKIM_CANON_RELAXED;
	p.selector = "brisbane";
	s = dkim_sign_new(&p);
	ck_assert_ptr_nonnull(s);
	for (i = 0; lines[i]; i++)
		ck_assert_int_eq(dkim_sign_line(s, lines[i],
		    strlen(lines[i])), 0);
	ck_assert_int_eq(dkim_sign_body_hash(s, bh), 0);
	EVP_EncodeBlock((unsigned char *)b64, bh, sizeof(bh));
	ck_assert_str_eq(b64, "2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=");
	ck_assert_int_eq(dkim_sign_header_data(s, names, 8, sigfield, &data,
	    &len), 0);
	ck_assert_int_eq(dkim_key_sign(key, DKIM_ED25519_SHA256, data, len,
	    &sig, err, sizeof(err)), 0);
	ck_assert_str_eq(sig, "/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus"
	    "Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==");
	/* the wrong algorithm for the key is refused */
	ck_assert_int_eq(dkim_key_sign(key, DKIM_RSA_SHA256, data, len,
	    &rec, err, sizeof(err)), -1);
	free(sig);
	free(data);
	dkim_sign_free(s);
	dkim_key_free(key);
}
END_TEST

START_TEST(test_keys)
{
	struct dkim_key	*key;
	EVP_PKEY	*pkey;
	FILE		*fp;
	char		 path[PATH_MAX], err[256], *rec;

	key = dkim_key_load("/nonexistent/key.pem", err, sizeof(err));
	ck_assert_ptr_null(key);
	ck_assert_msg(strstr(err, "/nonexistent/key.pem") &&
	    strstr(err, strerror(ENOENT)), "%s", err);

	snprintf(path, sizeof(path), "%s/garbage.pem", tmpdir);
	write_file(path, "not a key\n", 10);
	ck_assert_ptr_null(dkim_key_load(path, err, sizeof(err)));
	ck_assert_msg(strstr(err, path) != NULL, "%s", err);

	snprintf(path, sizeof(path), "%s/ec.pem", tmpdir);
	make_key(path, "EC", 0);
	ck_assert_ptr_null(dkim_key_load(path, err, sizeof(err)));
	ck_assert_msg(strstr(err, "not an RSA or Ed25519") != NULL, "%s",
	    err);

	snprintf(path, sizeof(path), "%s/small.pem", tmpdir);
	make_key(path, "RSA", 512);
	ck_assert_ptr_null(dkim_key_load(path, err, sizeof(err)));
	ck_assert_msg(strstr(err, "512 bits") != NULL, "%s", err);

	/* an encrypted key is an error, never a passphrase prompt */
	snprintf(path, sizeof(path), "%s/encrypted.pem", tmpdir);
	pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	ck_assert_ptr_nonnull(pkey);
	fp = fopen(path, "w");
	ck_assert_ptr_nonnull(fp);
	ck_assert_int_eq(PEM_write_PrivateKey(fp, pkey, EVP_aes_128_cbc(),
	    (unsigned char *)"secret", 6, NULL, NULL), 1);
	fclose(fp);
	EVP_PKEY_free(pkey);
	ck_assert_ptr_null(dkim_key_load(path, err, sizeof(err)));

	key = load(DKIM_RSA_SHA256);
	rec = dkim_key_dns_record(key);
	ck_assert_msg(strncmp(rec, "v=DKIM1; k=rsa; p=MII", 21) == 0, "%s",
	    rec);
	free(rec);
	dkim_key_free(key);
}
END_TEST

START_TEST(test_names)
{
	enum dkim_algorithm	 a;
	enum dkim_canon		 h, b;

	ck_assert_int_eq(dkim_algorithm_from_name("rsa-sha256", &a), 0);
	ck_assert_int_eq(a, DKIM_RSA_SHA256);
	ck_assert_int_eq(dkim_algorithm_from_name("ed25519-sha256", &a), 0);
	ck_assert_int_eq(a, DKIM_ED25519_SHA256);
	ck_assert_int_eq(dkim_algorithm_from_name("rsa-sha1", &a), -1);

	ck_assert_int_eq(dkim_canon_from_name("relaxed/relaxed", &h, &b), 0);
	ck_assert(h == DKIM_CANON_RELAXED && b == DKIM_CANON_RELAXED);
	ck_assert_int_eq(dkim_canon_from_name("simple/relaxed", &h, &b), 0);
	ck_assert(h == DKIM_CANON_SIMPLE && b == DKIM_CANON_RELAXED);
	ck_assert_int_eq(dkim_canon_from_name("relaxed", &h, &b), 0);
	ck_assert(h == DKIM_CANON_RELAXED && b == DKIM_CANON_SIMPLE);
	ck_assert_int_eq(dkim_canon_from_name("relaxed/", &h, &b), -1);
	ck_assert_int_eq(dkim_canon_from_name("relax/simple", &h, &b), -1);
	ck_assert_int_eq(dkim_canon_from_name("simple/nowsp", &h, &b), -1);

	ck_assert(dkim_valid_domain("example.org"));
	ck_assert(dkim_valid_domain("sel_2024-a"));
	ck_assert(!dkim_valid_domain(""));
	ck_assert(!dkim_valid_domain("a..b"));
	ck_assert(!dkim_valid_domain(".a"));
	ck_assert(!dkim_valid_domain("a;b"));
	ck_assert(!dkim_valid_domain("a b"));
	ck_assert(dkim_valid_header_name("X-Custom"));
	ck_assert(!dkim_valid_header_name("X Custom"));
	ck_assert(!dkim_valid_header_name("X:"));
	ck_assert(!dkim_valid_header_name(""));
}
END_TEST

START_TEST(test_header_list_parse)
{
	const char	*names[4];
	char		 list[] = "From:X-Custom,,subject:", err[64];
	char		 bad[] = "from:x y", many[] = "a:b:c:d";

	ck_assert_int_eq(dkim_header_list(list, names, 4, err,
	    sizeof(err)), 0);
	ck_assert_str_eq(names[0], "from");
	ck_assert_str_eq(names[1], "x-custom");
	ck_assert_str_eq(names[2], "subject");
	ck_assert_ptr_null(names[3]);
	ck_assert_int_eq(dkim_header_list(bad, names, 4, err,
	    sizeof(err)), -1);
	ck_assert_msg(strstr(err, "x y") != NULL, "%s", err);
	ck_assert_int_eq(dkim_header_list(many, names, 4, err,
	    sizeof(err)), -1);
}
END_TEST

START_TEST(test_address_domain)
{
	static const struct {
		const char	*in;
		const char	*out;	/* NULL: none */
	} cases[] = {
		{ "Joe <joe@Example.ORG>", "example.org" },
		{ "joe@example.org (Joe)", "example.org" },
		{ "joe@example.org", "example.org" },
		{ "<joe@example.org>", "example.org" },
		{ "\"Doe, Joe\" <joe@example.org>", "example.org" },
		{ "\"a@evil.com\" <x@example.net>", "example.net" },
		{ "(x@evil.com) joe@example.org", "example.org" },
		{ "Joe <joe@example.org> (x@evil.com)", "example.org" },
		{ "a@one.example, b@two.example", "one.example" },
		{ "\"quoted\\\"@local\"@example.org", "example.org" },
		{ "Joe < joe @ example.org >", "example.org" },
		{ "joe", NULL },
		{ "", NULL },
		{ "joe@", NULL },
		{ "@example.org", NULL },
		{ "joe@[192.0.2.1]", NULL },
		{ "Joe <joe>", NULL },
	};
	char	 dom[DKIM_DOMAIN_MAX + 1];
	size_t	 i;
	int	 r;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		r = dkim_address_domain(cases[i].in, dom, sizeof(dom));
		if (cases[i].out == NULL)
			ck_assert_msg(r == -1, "%s gave %s", cases[i].in, dom);
		else {
			ck_assert_msg(r == 0, "%s gave nothing", cases[i].in);
			ck_assert_str_eq(dom, cases[i].out);
		}
	}
	ck_assert_int_eq(dkim_address_domain("joe@example.org", dom, 5), -1);
}
END_TEST

START_TEST(test_header_values)
{
	struct dkim_signer_params	 p;
	struct dkim_sign		*s;
	static const char *const lines[] = {
		"From: Joe", "\t<joe@example.org>",
		"Subject:  one", "FROM : x@example.net", "", "body", NULL
	};
	char		 line[100];
	size_t		 i;

	memset(&p, 0, sizeof(p));
	s = dkim_sign_new(&p);
	for (i = 0; lines[i]; i++)
		ck_assert_int_eq(dkim_sign_line(s, lines[i],
		    strlen(lines[i])), 0);
	ck_assert_uint_eq(dkim_sign_header_count(s, "from"), 2);
	ck_assert_uint_eq(dkim_sign_header_count(s, "Subject"), 1);
	ck_assert_uint_eq(dkim_sign_header_count(s, "to"), 0);
	ck_assert_str_eq(dkim_sign_header_value(s, "from", 0),
	    "Joe\t<joe@example.org>");
	ck_assert_str_eq(dkim_sign_header_value(s, "from", 1),
	    "x@example.net");
	ck_assert_str_eq(dkim_sign_header_value(s, "subject", 0), "one");
	ck_assert_ptr_null(dkim_sign_header_value(s, "from", 2));
	dkim_sign_free(s);

	/* a header section over the limit cannot be signed */
	s = dkim_sign_new(&p);
	memset(line, 'h', sizeof(line));
	memcpy(line, "X-Filler: ", 10);
	line[sizeof(line) - 1] = '\0';
	for (i = 0; i < DKIM_HEADER_MAX / 90; i++)
		if (dkim_sign_line(s, line, strlen(line)) == -1)
			break;
	ck_assert_int_eq(errno, EFBIG);
	ck_assert_int_eq(dkim_sign_line(s, "", 0), -1);
	dkim_sign_free(s);
}
END_TEST

static Suite *
dkim_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("dkim");
	tc = tcase_create("core");
	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_header_list_parse);
	tcase_add_test(tc, test_address_domain);
	tcase_add_test(tc, test_header_values);
	tcase_add_test(tc, test_body_hash);
	tcase_add_test(tc, test_keys);
	tcase_add_test(tc, test_rfc8463_vector);
	suite_add_tcase(s, tc);

	tc = tcase_create("verify");
	tcase_set_timeout(tc, 240);
	tcase_add_test(tc, test_basic);
	tcase_add_test(tc, test_dot_lines);
	tcase_add_test(tc, test_long_lines);
	tcase_add_test(tc, test_8bit);
	tcase_add_test(tc, test_empty_bodies);
	tcase_add_test(tc, test_folded_headers);
	tcase_add_test(tc, test_whitespace);
	tcase_add_test(tc, test_repeated_headers);
	tcase_add_test(tc, test_header_list);
	tcase_add_test(tc, test_signature_form);
	tcase_add_test(tc, test_tampering);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner		*sr;
	const char	*top;
	char		 cmd[PATH_MAX + 16];
	int		 failed;

	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	top = getenv("TOP") ? getenv("TOP") : ".";
	snprintf(verify_py, sizeof(verify_py), "%s/regress/dkim/verify.py",
	    top);
	if (access(verify_py, R_OK) == -1) {
		fprintf(stderr, "%s: %s (run from the top of the tree)\n",
		    verify_py, strerror(errno));
		return 1;
	}
	snprintf(rsa_path, sizeof(rsa_path), "%s/rsa.pem", tmpdir);
	snprintf(ed_path, sizeof(ed_path), "%s/ed25519.pem", tmpdir);
	make_key(rsa_path, "RSA", 2048);
	make_key(ed_path, "ED25519", 0);

	sr = srunner_create(dkim_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
	return failed == 0 ? 0 : 1;
}
