# filter-dkim-sign: DKIM signing filter (RFC 6376, RFC 8463).
# filter_api.o and filter_proto.o are named until libsmtpd-api.a has them.
PROGRAMS	+= filters/filter-dkim-sign/filter-dkim-sign
HELPERS		+= filters/filter-dkim-sign/filter-dkim-sign

filters/filter-dkim-sign/filter-dkim-sign: \
    filters/filter-dkim-sign/filter_dkim_sign.o \
    filters/filter-dkim-sign/dkim.o \
    libsmtpd-api/filter_api.o libsmtpd-api/filter_proto.o $(LIBAPI)
filters/filter-dkim-sign/filter-dkim-sign: \
    LDLIBS += $(shell pkg-config --libs libcrypto)

# The unit test links the signing core alone.
regress/unit/test_dkim: filters/filter-dkim-sign/dkim.o
regress/unit/test_dkim: LDLIBS += $(shell pkg-config --libs libcrypto)
