/*
 * commands.c: the grammar of smtpctl, as a table of patterns matched
 * word by word.
 *
 * At each place the words every remaining pattern allows there are
 * the choices: an exact word wins, else a prefix must fit exactly one.
 * Arguments (ids, names) are checked here, so that a typo is told at
 * once and not after a trip through the daemon.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "smtpd-api.h"
#include "commands.h"

enum token_kind {
	T_END = 0,
	T_WORD,			/* a keyword */
	T_ID,			/* msgid or evpid */
	T_ID_OPT,		/* the same, may be left out (last only) */
	T_ID_ALL,		/* msgid, evpid or "all" */
	T_EVPID,
	T_SUBSYSTEM,		/* a trace subsystem */
	T_NAME,			/* a table name */
};

struct token {
	enum token_kind	 kind;
	const char	*word;	/* T_WORD: the word; else its name in help */
};

#define PATTERN_MAX	3

struct pattern {
	struct token		 tokens[PATTERN_MAX + 1];
	int			 nverb;	/* leading words forming the verb */
	const char		*verb;
	enum command_kind	 kind;
};

#define W(w)	{ T_WORD, w }
#define A(k, n)	{ k, n }

static const struct pattern patterns[] = {
	{ { W("show"), W("queue"), A(T_ID_OPT, "[id]") }, 2, "show queue",
	    CMD_REQUEST },
	{ { W("show"), W("envelope"), A(T_EVPID, "evpid") }, 2,
	    "show envelope", CMD_REQUEST },
	{ { W("show"), W("message"), A(T_ID, "id") }, 2, "show message",
	    CMD_REQUEST },
	{ { W("show"), W("stats") }, 2, "show stats", CMD_REQUEST },
	{ { W("show"), W("status") }, 2, "show status", CMD_REQUEST },
	{ { W("pause"), W("smtp") }, 2, "pause smtp", CMD_REQUEST },
	{ { W("pause"), W("mda") }, 2, "pause mda", CMD_REQUEST },
	{ { W("pause"), W("envelope"), A(T_ID_ALL, "id|all") }, 2,
	    "pause envelope", CMD_REQUEST },
	{ { W("resume"), W("smtp") }, 2, "resume smtp", CMD_REQUEST },
	{ { W("resume"), W("mda") }, 2, "resume mda", CMD_REQUEST },
	{ { W("resume"), W("envelope"), A(T_ID_ALL, "id|all") }, 2,
	    "resume envelope", CMD_REQUEST },
	{ { W("schedule"), A(T_ID_ALL, "id|all") }, 1, "schedule",
	    CMD_REQUEST },
	{ { W("remove"), A(T_ID_ALL, "id|all") }, 1, "remove", CMD_REQUEST },
	{ { W("log"), W("verbose") }, 1, "log", CMD_REQUEST },
	{ { W("log"), W("brief") }, 1, "log", CMD_REQUEST },
	{ { W("trace"), A(T_SUBSYSTEM, "subsystem") }, 1, "trace",
	    CMD_REQUEST },
	{ { W("untrace"), A(T_SUBSYSTEM, "subsystem") }, 1, "untrace",
	    CMD_REQUEST },
	{ { W("profile"), W("imsg") }, 1, "profile", CMD_REQUEST },
	{ { W("profile"), W("queue") }, 1, "profile", CMD_REQUEST },
	{ { W("unprofile"), W("imsg") }, 1, "unprofile", CMD_REQUEST },
	{ { W("unprofile"), W("queue") }, 1, "unprofile", CMD_REQUEST },
	{ { W("monitor") }, 1, "monitor", CMD_MONITOR },
	{ { W("update"), W("table"), A(T_NAME, "name") }, 2, "update table",
	    CMD_REQUEST },
	{ { W("stop") }, 1, "stop", CMD_STOP },
};

#define NPATTERNS	(sizeof(patterns) / sizeof(patterns[0]))

static int	 valid_name(const char *);
static int	 check_arg(const struct token *, const char *, char *, size_t);
static void	 append_word(char *, size_t, const char *);

int
command_valid_id(const char *s, int allow_all, int evpid_only)
{
	size_t	 i, len = strlen(s);

	if (allow_all && strcmp(s, "all") == 0)
		return 1;
	if (len == 0 || len > 16 || (evpid_only && len < 9))
		return 0;
	for (i = 0; i < len; i++)
		if (!isxdigit((unsigned char)s[i]))
			return 0;
	return 1;
}

/* The characters smtpd.conf allows in a table name. */
static int
valid_name(const char *s)
{
	size_t	 i, len = strlen(s);

	if (len == 0 || len >= 256)
		return 0;
	for (i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' &&
		    s[i] != '.' && s[i] != '-')
			return 0;
	return 1;
}

static int
check_arg(const struct token *t, const char *arg, char *err, size_t errsz)
{
	switch (t->kind) {
	case T_ID:
	case T_ID_OPT:
		if (command_valid_id(arg, 0, 0))
			return 0;
		snprintf(err, errsz, "invalid id: %s (a msgid or an evpid, "
		    "in hexadecimal)", arg);
		return -1;
	case T_ID_ALL:
		if (command_valid_id(arg, 1, 0))
			return 0;
		snprintf(err, errsz, "invalid id: %s (a msgid, an evpid or "
		    "\"all\")", arg);
		return -1;
	case T_EVPID:
		if (command_valid_id(arg, 0, 1))
			return 0;
		snprintf(err, errsz, "invalid evpid: %s (9 to 16 hexadecimal "
		    "digits)", arg);
		return -1;
	case T_SUBSYSTEM:
		if (log_trace_from_name(arg) != 0)
			return 0;
		snprintf(err, errsz, "unknown subsystem: %s (imsg, io, smtp, "
		    "filters, mta, bounce, scheduler, expand, lookup, stat, "
		    "rules, tables, queue, helpers or all)", arg);
		return -1;
	case T_NAME:
		if (valid_name(arg))
			return 0;
		snprintf(err, errsz, "invalid table name: %s", arg);
		return -1;
	default:
		snprintf(err, errsz, "internal error: bad pattern");
		return -1;
	}
}

static void
append_word(char *buf, size_t bufsz, const char *word)
{
	if (buf[0] != '\0')
		strlcat(buf, " ", bufsz);
	strlcat(buf, word, bufsz);
}

int
command_parse(int argc, char *const argv[], struct command *cmd,
    char *err, size_t errsz)
{
	const struct pattern	*p;
	const struct token	*t;
	const char		*choice, *words[NPATTERNS];
	char			 list[512], matches[512];
	int			 alive[NPATTERNS], pos, nwords, nmatch, i, j;
	size_t			 k, len;

	memset(cmd, 0, sizeof(*cmd));
	for (k = 0; k < NPATTERNS; k++)
		alive[k] = 1;
	for (pos = 0; pos <= PATTERN_MAX; pos++) {
		/* The keywords possible here, each once. */
		nwords = 0;
		for (k = 0; k < NPATTERNS; k++) {
			t = &patterns[k].tokens[pos];
			if (!alive[k] || t->kind != T_WORD)
				continue;
			for (j = 0; j < nwords; j++)
				if (strcmp(words[j], t->word) == 0)
					break;
			if (j == nwords)
				words[nwords++] = t->word;
		}
		if (nwords == 0)
			break;		/* arguments, or the end */
		list[0] = '\0';
		for (j = 0; j < nwords; j++) {
			if (j > 0)
				strlcat(list, ", ", sizeof(list));
			strlcat(list, words[j], sizeof(list));
		}
		if (pos >= argc) {
			if (pos == 0)
				snprintf(err, errsz, "no command given");
			else
				snprintf(err, errsz, "incomplete command: "
				    "expected %s%s after \"%s\"",
				    nwords > 1 ? "one of " : "", list,
				    argv[pos - 1]);
			return -1;
		}
		len = strlen(argv[pos]);
		choice = NULL;
		nmatch = 0;
		for (j = 0; j < nwords; j++)
			if (strcmp(words[j], argv[pos]) == 0) {
				choice = words[j];
				nmatch = 1;
				break;
			}
		if (choice == NULL) {
			matches[0] = '\0';
			for (j = 0; j < nwords; j++) {
				if (len == 0 ||
				    strncmp(words[j], argv[pos], len) != 0)
					continue;
				if (nmatch++ > 0)
					strlcat(matches, ", ", sizeof(matches));
				strlcat(matches, words[j], sizeof(matches));
				choice = words[j];
			}
		}
		if (nmatch == 0) {
			snprintf(err, errsz, "unknown %s: %s (expected %s%s)",
			    pos == 0 ? "command" : "word", argv[pos],
			    nwords > 1 ? "one of " : "", list);
			return -1;
		}
		if (nmatch > 1) {
			snprintf(err, errsz, "ambiguous %s: %s (%s)",
			    pos == 0 ? "command" : "word", argv[pos], matches);
			return -1;
		}
		for (k = 0; k < NPATTERNS; k++) {
			t = &patterns[k].tokens[pos];
			if (alive[k] && (t->kind != T_WORD ||
			    strcmp(t->word, choice) != 0))
				alive[k] = 0;
		}
	}
	/* The words have picked one pattern; the rest are its arguments. */
	for (k = 0; k < NPATTERNS && !alive[k]; k++)
		;
	if (k == NPATTERNS) {
		snprintf(err, errsz, "internal error: no pattern");
		return -1;
	}
	p = &patterns[k];
	for (i = p->nverb; i < PATTERN_MAX && p->tokens[i].kind != T_END;
	    i++) {
		t = &p->tokens[i];
		if (t->kind == T_WORD) {
			append_word(cmd->args, sizeof(cmd->args), t->word);
			continue;
		}
		if (i >= argc) {
			if (t->kind == T_ID_OPT)
				break;
			snprintf(err, errsz, "%s: argument missing: %s",
			    p->verb, t->word);
			return -1;
		}
		if (check_arg(t, argv[i], err, errsz) == -1)
			return -1;
		append_word(cmd->args, sizeof(cmd->args), argv[i]);
	}
	if (argc > i) {
		snprintf(err, errsz, "%s: too many arguments, from \"%s\"",
		    p->verb, argv[i]);
		return -1;
	}
	cmd->verb = p->verb;
	cmd->kind = p->kind;
	return 0;
}

void
command_list(FILE *fp)
{
	const struct token	*t;
	size_t			 k;
	int			 i;

	for (k = 0; k < NPATTERNS; k++) {
		fprintf(fp, "\t");
		for (i = 0; i < PATTERN_MAX && patterns[k].tokens[i].kind !=
		    T_END; i++) {
			t = &patterns[k].tokens[i];
			fprintf(fp, "%s%s", i > 0 ? " " : "", t->word);
		}
		fprintf(fp, "\n");
	}
}
