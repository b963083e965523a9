# smtpctl: the administration tool, also installed as sendmail,
# send-mail, mailq, newaliases and makemap (it looks at its name).
# It reads smtpd.conf (-f) with the daemon's parser, and makemap checks
# tables with table-static's parser and the daemon's aliases parser.
PROGRAMS	+= smtpctl/smtpctl
SBIN_PROGRAMS	+= smtpctl/smtpctl
SMTPCTL_OBJS	 = smtpctl/smtpctl.o smtpctl/commands.o smtpctl/client.o \
		   smtpctl/enqueue.o smtpctl/headers.o smtpctl/makemap.o
SMTPCTL_SHARED	 = smtpd/parse.o smtpd/config.o smtpd/config_check.o \
		   smtpd/config_dump.o smtpd/aliases.o smtpd/envelope.o \
		   tables/table-static/static_file.o \
		   tables/table-static/static_index.o \
		   tables/table-static/static_match.o
SMTPCTL_NAMES	 = sendmail send-mail mailq newaliases makemap

smtpctl/smtpctl: $(SMTPCTL_OBJS) $(SMTPCTL_SHARED) $(LIBAPI)
$(SMTPCTL_OBJS) regress/unit/test_smtpctl.o: \
    CFLAGS += -I smtpd -I tables/table-static

# The pure parts, tested directly.
regress/unit/test_smtpctl: smtpctl/commands.o smtpctl/headers.o \
    smtpctl/makemap.o smtpd/aliases.o smtpd/envelope.o \
    smtpd/control_stats.o tables/table-static/static_file.o \
    tables/table-static/static_index.o tables/table-static/static_match.o
# (the generic rule puts the library before these objects: name it again)
regress/unit/test_smtpctl: LDLIBS += $(LIBAPI)

# The other names of smtpctl, as symbolic links next to it; "make
# install" runs this after installing smtpctl.
install-smtpctl-links:
	for n in $(SMTPCTL_NAMES); do \
		ln -sf smtpctl $(DESTDIR)$(SBINDIR)/$$n; \
	done

.PHONY: install-smtpctl-links
