# bench/: "make bench" runs one workload against our smtpd and the two
# anchors, OpenSMTPD and Postfix (Debian packages, installed by the
# bench itself, never by "make deps" or "make test"), and prints the
# medians and the ratios.  See bench/README.md.  Speed is measured
# here, never in the tests.
PROGRAMS	+= bench/smtp-blast/smtp-blast
bench/smtp-blast/smtp-blast: bench/smtp-blast/smtp_blast.o \
    bench/smtp-blast/blast_session.o
bench/smtp-blast/smtp-blast: LDLIBS += -pthread

# The workload; override on the command line (make bench BENCH_RUNS=5).
BENCH_SESSIONS	?= 8
BENCH_MESSAGES	?= 2000
BENCH_SIZE	?= 4096
BENCH_RUNS	?= 3
BENCH_MTAS	?= smtpd opensmtpd postfix

bench: all bench/smtp-blast/smtp-blast
	BENCH_SESSIONS=$(BENCH_SESSIONS) BENCH_MESSAGES=$(BENCH_MESSAGES) \
	BENCH_SIZE=$(BENCH_SIZE) BENCH_RUNS=$(BENCH_RUNS) \
	BENCH_MTAS="$(BENCH_MTAS)" sh bench/run.sh

.PHONY: bench

# Where the time goes in ours: the workload with deliveries paused and
# with the queue in memory, then under strace (see bench/profile.sh).
bench-profile: all bench/smtp-blast/smtp-blast
	BENCH_SESSIONS=$(BENCH_SESSIONS) BENCH_MESSAGES=$(BENCH_MESSAGES) \
	BENCH_SIZE=$(BENCH_SIZE) sh bench/profile.sh

.PHONY: bench-profile
