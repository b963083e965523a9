/*
 * static_file.h: a table(5) file held in memory, and how each lookup
 * service matches a key against it.
 *
 * static_file.c reads the lines, static_index.c checks and indexes
 * them, static_match.c answers check, lookup and fetch; table_static.c
 * only wires them to the table API.  The unit tests link the three
 * objects directly.
 */
#ifndef STATIC_FILE_H
#define STATIC_FILE_H

#include <sys/types.h>

#include <regex.h>
#include <stddef.h>
#include <stdint.h>

#include "smtpd-api.h"

#define STATIC_LINE_MAX		8192		/* bytes per line */
#define STATIC_FILE_MAX		(256 * 1024 * 1024)

enum static_form {
	STATIC_EMPTY,		/* no entries: answers "not found" to all */
	STATIC_LIST,		/* one entry per line */
	STATIC_MAPPING,		/* key, separator, value */
};

struct static_entry {
	char		*key;		/* lowercased */
	char		*raw;		/* as written: regexes keep case */
	char		*value;		/* NULL in a list */
	int		 line;
};

/* A key read as an address or network (netaddr, source, addrname). */
struct static_net {
	int		 family;	/* AF_INET or AF_INET6 */
	unsigned char	 addr[16];	/* host bits cleared */
	int		 prefix;	/* bits; 32 or 128 for an address */
	size_t		 entry;		/* index into entries */
};

struct static_table {
	char			*source;	/* file name or label */
	enum static_form	 form;
	int			 forced;	/* "# @list" or "# @regex" */
	int			 regex_only;	/* "# @regex" */
	struct static_entry	*entries;	/* sorted by key */
	size_t			 count;
	size_t			 cap;
	size_t			*order;		/* entries in file order */
	struct static_net	*nets;
	size_t			 nnets;
	regex_t			*regexes;	/* one per entry, or NULL */
	uint64_t		 services;
	size_t			 next;		/* fetch rotation */
};

/*
 * Load a table: from a file, or from text (the inline table of the
 * HELLO configuration string) with label standing for the file name
 * in errors.  NULL with err set to "file:line: what is wrong".
 */
struct static_table *static_table_load_file(const char *path, char *err,
		    size_t errsz);
struct static_table *static_table_load_text(const char *text, size_t len,
		    const char *label, char *err, size_t errsz);
void		 static_table_free(struct static_table *);
uint64_t	 static_table_services(const struct static_table *);
const char	*static_form_name(enum static_form);

/* 1 found, 0 not found, -1 when the table cannot answer (logged). */
int		 static_table_check(struct static_table *, enum table_service,
		    const char *key);
int		 static_table_lookup(struct static_table *, enum table_service,
		    const char *key, char *dst, size_t dstsz);
int		 static_table_fetch(struct static_table *, enum table_service,
		    char *dst, size_t dstsz);

/* Internal to the three files. */
int		 static_table_index(struct static_table *, char *, size_t);
void		 static_error(char *, size_t, const char *, int, const char *,
		    ...) __attribute__((__format__(printf, 5, 6)));

/*
 * Read text as an address or CIDR network, with or without [brackets]
 * and an "IPv6:" prefix.  1 parsed, 0 not an address at all, -1 looks
 * like one but is wrong (why says how).
 */
int		 static_net_parse(const char *text, struct static_net *,
		    const char **why);
/* "uid:gid:/home" with decimal ids and an absolute directory. */
int		 static_userinfo_valid(const char *value);

#endif /* STATIC_FILE_H */
