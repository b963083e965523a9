# libsmtpd-api: the helper framework, linked into the daemon and every helper.
LIBAPI_OBJS = libsmtpd-api/log.o libsmtpd-api/imsg.o libsmtpd-api/msg.o \
	      libsmtpd-api/imsgproc.o libsmtpd-api/helper.o \
	      libsmtpd-api/table_api.o libsmtpd-api/table_config.o \
	      libsmtpd-api/queue_api.o libsmtpd-api/filter_api.o \
	      libsmtpd-api/filter_proto.o

$(LIBAPI): $(LIBAPI_OBJS)
	rm -f $@
	ar rcs $@ $^
