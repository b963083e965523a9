# smtpd.conf parser: the objects the daemon (later) and the tests link.
# parse.c and parse.h are generated from parse.y (ignored by git).
CONFIG_OBJS	 = smtpd/parse.o smtpd/config.o smtpd/config_check.o \
		   smtpd/config_dump.o

smtpd/parse.c: smtpd/parse.y
	bison -d -o smtpd/parse.c smtpd/parse.y

regress/unit/test_parse: $(CONFIG_OBJS)
regress/unit/test_parse.o: CFLAGS += -I smtpd
regress/unit/test_envelope: smtpd/envelope.o
