/*
 * script.h: the SMTP scenario tool's pieces.
 *
 * smtp_script.c reads the script into a tree of commands (script_parse)
 * and runs it (script_run); script_io.c holds the connection: connect,
 * write everything, read one reply, wait for the close.  The language
 * is documented at the top of smtp_script.c.
 */
#ifndef SMTP_SCRIPT_H
#define SMTP_SCRIPT_H

#include <stddef.h>
#include <stdio.h>

enum script_op {
	OP_CONNECT,		/* connect HOST PORT */
	OP_CONNECT_UNIX,	/* connect-unix PATH */
	OP_CLOSE,		/* close */
	OP_SEND,		/* send LINE */
	OP_SEND_RAW,		/* send-raw BYTES */
	OP_DATA_FILE,		/* data-file FILE */
	OP_EXPECT,		/* expect CODE [REGEX] */
	OP_EXPECT_CLOSE,	/* expect-close */
	OP_EXPECT_SILENCE,	/* expect-silence SECONDS */
	OP_SLEEP_UNTIL_CLOSED,	/* sleep-until-closed */
	OP_TIMEOUT,		/* timeout SECONDS */
	OP_WAIT_FILE,		/* wait-file PATH */
	OP_PRINT,		/* print TEXT */
	OP_PIPELINE,		/* pipeline ... end */
	OP_REPEAT,		/* repeat N ... end */
};

struct script_cmd {
	int			 line;
	enum script_op		 op;
	char			*arg;	/* the rest of the line, unexpanded */
	struct script_cmd	*body;	/* pipeline, repeat */
	struct script_cmd	*next;
};

/* ---- script_parse.c ---- */

/*
 * The script in fp as a list of commands; NULL after a syntax error,
 * printed as "name:line: what is wrong".
 */
struct script_cmd *script_parse(FILE *fp, const char *name, int *error);
/* -D name=value; -1 when malformed. */
int	vars_define(const char *definition);
/*
 * Expand ${name} in src into dst: the innermost repeat's counter for
 * ${n}, a -D definition, else the environment.  -1 (message in err)
 * for an unknown name or an overflow.
 */
int	vars_expand(const char *src, int counter, char *dst, size_t dstsz,
	    char *err, size_t errsz);
/* Decode \r \n \t \0 \\ \xHH in src; the length, or -1. */
int	unescape(const char *src, char *dst, size_t dstsz);

/* ---- script_io.c ---- */

/* Seconds every wait may last (timeout command, -t). */
extern int	 io_timeout;
/* Print the transcript ("C: " sent, "S: " received) on stdout. */
extern int	 io_verbose;

/*
 * Each returns 0, or -1 with a message in err (what happened: "got
 * connection closed", "got nothing within 30 s", a system error).
 */
int	io_connect_tcp(const char *host, const char *port, char *err,
	    size_t errsz);
int	io_connect_unix(const char *path, char *err, size_t errsz);
void	io_close(void);
int	io_connected(void);
/* Write all of buf (reading what arrives meanwhile, so that a long
 * pipeline cannot dead-lock with the server's replies). */
int	io_write(const char *buf, size_t len, char *err, size_t errsz);
/*
 * Read one complete reply (every "CODE-" line and the final "CODE "
 * line).  *code gets the final line's code (three characters), text
 * the reply's lines joined by '\n' (codes included).
 */
int	io_read_reply(char code[4], char *text, size_t textsz, char *err,
	    size_t errsz);
/* 0 when the server closes; -1 if data comes first (when strict) or
 * the timeout passes. */
int	io_wait_close(int strict, char *err, size_t errsz);
/* 0 when nothing arrives within seconds; -1 otherwise. */
int	io_expect_silence(int seconds, char *err, size_t errsz);

#endif /* SMTP_SCRIPT_H */
