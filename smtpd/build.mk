# smtpd.conf parser: the objects the daemon (later) and the tests link.
# parse.c and parse.h are generated from parse.y (ignored by git).
CONFIG_OBJS	 = smtpd/parse.o smtpd/config.o smtpd/config_check.o \
		   smtpd/config_dump.o

smtpd/parse.c: smtpd/parse.y
	bison -d -o smtpd/parse.c smtpd/parse.y

regress/unit/test_parse: $(CONFIG_OBJS)
regress/unit/test_parse.o: CFLAGS += -I smtpd
regress/unit/test_envelope: smtpd/envelope.o

# lookup process (owned by the lookup work): objects the smtpd program
# links (add $(LOOKUP_OBJS) to its prerequisites) and its unit tests.
LOOKUP_OBJS	 = smtpd/lookup.o smtpd/lookup_tables.o smtpd/lookup_dns.o \
		   smtpd/ruleset.o smtpd/expand.o smtpd/aliases.o \
		   smtpd/forward.o
LOOKUP_TEST_OBJS = smtpd/lookup_tables.o smtpd/ruleset.o smtpd/expand.o \
		   smtpd/aliases.o smtpd/forward.o smtpd/envelope.o \
		   $(CONFIG_OBJS)
smtpd/smtpd: LDLIBS += $(shell $(PKG_CONFIG) --libs libcares 2>/dev/null)
regress/unit/test_aliases: smtpd/aliases.o smtpd/forward.o smtpd/envelope.o
regress/unit/test_ruleset regress/unit/test_expand: $(LOOKUP_TEST_OBJS) \
    tables/table-static/table-static tables/table-getpwnam/table-getpwnam
regress/unit/test_lookup_dns: smtpd/lookup_dns.o
regress/unit/test_lookup_dns: LDLIBS += \
    $(shell $(PKG_CONFIG) --libs libcares 2>/dev/null)
regress/unit/test_aliases.o regress/unit/test_ruleset.o \
    regress/unit/test_expand.o regress/unit/test_lookup_dns.o: \
    CFLAGS += -I smtpd

# delivery (owned by the mda work): mda.c and mda_format.c run in the
# network process, delivery.c in the child the parent forks per delivery.
# The smtpd program links $(MDA_OBJS).
MDA_OBJS	 = smtpd/mda.o smtpd/mda_format.o smtpd/delivery.o
regress/unit/test_mda_format: smtpd/mda_format.o smtpd/envelope.o
regress/unit/test_delivery: smtpd/delivery.o smtpd/envelope.o
regress/unit/test_mda: smtpd/mda.o smtpd/mda_format.o smtpd/envelope.o \
    $(CONFIG_OBJS)
regress/unit/test_mda_format.o regress/unit/test_delivery.o \
    regress/unit/test_mda.o: CFLAGS += -I smtpd

# The daemon (owned by the parent work): one program, every .c of smtpd/
# (each process's files, the parser, the envelope code).  A file of this
# folder that is not part of the daemon does not belong in this folder.
PROGRAMS	+= smtpd/smtpd
SBIN_PROGRAMS	+= smtpd/smtpd
SMTPD_OBJS	 = $(sort $(patsubst %.c,%.o,$(wildcard smtpd/*.c)) \
		   $(CONFIG_OBJS))
smtpd/smtpd: $(SMTPD_OBJS) $(LIBAPI)
# test_proc runs proc.c with its own fake processes.
regress/unit/test_proc: smtpd/proc.o
regress/unit/test_proc.o: CFLAGS += -I smtpd

# queue and scheduler (owned by the queue work): the unit tests of the
# pure modules, the in-memory schedule and the DSN text.
regress/unit/test_scheduler: smtpd/scheduler_ram.o
regress/unit/test_bounce: smtpd/bounce.o smtpd/envelope.o
regress/unit/test_scheduler.o regress/unit/test_bounce.o: \
    CFLAGS += -I smtpd

# network (owned by the network work): the unit tests of the pure parts
# of an SMTP session (smtp_parse.c).
regress/unit/test_smtp_parse: smtpd/smtp_parse.o
regress/unit/test_smtp_parse.o: CFLAGS += -I smtpd
# test_smtp_session plays the lookup and queue processes itself.
regress/unit/test_smtp_session: smtpd/smtp_session.o smtpd/smtp_parse.o \
    smtpd/envelope.o
regress/unit/test_smtp_session.o: CFLAGS += -I smtpd

# filter chain (owned by the filter-chain work): filter_chain.c is part of
# the daemon (network process); its unit test runs the real filter
# programs and two test filters, one slow, one breaking the protocol.
PROGRAMS	+= regress/unit/helper_filter_slow regress/unit/helper_filter_liar
regress/unit/helper_filter_slow: regress/unit/helper_filter_slow.o $(LIBAPI)
regress/unit/helper_filter_liar: regress/unit/helper_filter_liar.o $(LIBAPI)
regress/unit/test_filter_chain: smtpd/filter_chain.o smtpd/proc.o \
    $(CONFIG_OBJS) regress/unit/helper_filter_slow \
    regress/unit/helper_filter_liar \
    filters/filter-trace/filter-trace filters/filter-reject/filter-reject \
    filters/filter-monkey/filter-monkey examples/filter-example/filter-example
regress/unit/test_filter_chain.o: CFLAGS += -I smtpd
# smtp_session.c calls the chain: its test links it (never started there).
regress/unit/test_smtp_session: smtpd/filter_chain.o

