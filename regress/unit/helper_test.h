/*
 * helper_test.h: frame types the fake helpers of the unit tests answer.
 * They sit outside every role's range so that they never collide.
 */
#ifndef HELPER_TEST_H
#define HELPER_TEST_H

#define TEST_ROLE		"test"
#define TEST_CAPABILITIES	0x1234
#define TEST_HELPER_NAME	"helper_echo"

enum test_frame {
	T_ECHO		= 900,	/* string -> same string; an fd gets it
				   written into it and comes back */
	T_SILENT	= 901,	/* never answered */
	T_GARBAGE	= 902,	/* the helper writes a malformed frame */
	T_WRONGTYPE	= 903,	/* answered with type T_ECHO */
	T_EVENT		= 904,	/* an event frame T_NOTICE, then the answer */
	T_NOTICE	= 905,
	T_INFO		= 906,	/* -> instance name, config, verbose, trace */
	T_EXIT		= 907,	/* the helper exits with status 3 */
};

#endif
