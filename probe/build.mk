# smtpd-probe: plays the daemon's side for one helper, for tests and gdb.
# A role is one file: the queue and filter owners each add their
# probe/probe_<role>.o to PROBE_OBJS here and one line to roles[] in
# probe.c.
PROGRAMS	+= probe/smtpd-probe
SBIN_PROGRAMS	+= probe/smtpd-probe
PROBE_OBJS	 = probe/probe.o probe/probe_channel.o probe/probe_input.o \
		   probe/probe_table.o probe/probe_queue.o probe/probe_filter.o

probe/smtpd-probe: $(PROBE_OBJS) $(LIBAPI)
