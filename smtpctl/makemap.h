/*
 * makemap.h: checking table(5) files.
 *
 * smtpd reads static tables as text (table-static), so there is no
 * database to build: makemap checks a file with the very parser
 * table-static uses, and can write a checked copy.
 */
#ifndef SMTPCTL_MAKEMAP_H
#define SMTPCTL_MAKEMAP_H

#include <stdio.h>

enum makemap_type {
	MAKEMAP_ANY,		/* a list or a mapping */
	MAKEMAP_ALIASES,	/* a mapping of aliases(5) lists */
	MAKEMAP_SET,		/* a list */
};

/*
 * Check path ("-" for stdin) as a table of that type; every error is
 * printed to errors as "file:line: what is wrong".  0 when the file is
 * fine, -1 otherwise.
 */
int		 makemap_check(const char *path, enum makemap_type,
		    FILE *errors);
int		 makemap_main(int, char **);

#endif /* SMTPCTL_MAKEMAP_H */
