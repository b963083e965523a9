# filter-reject: rejects by sender, recipient, client, rdns, helo or
# header, from a rules file; matches with table-static's matcher
# (TABLE_STATIC_OBJS, from tables/table-static/build.mk, read before).
PROGRAMS	+= filters/filter-reject/filter-reject
HELPERS		+= filters/filter-reject/filter-reject

filters/filter-reject/filter-reject: \
    filters/filter-reject/filter_reject.o filters/filter-reject/reject_rules.o \
    $(TABLE_STATIC_OBJS) $(LIBAPI)

filters/filter-reject/filter_reject.o filters/filter-reject/reject_rules.o: \
    CFLAGS += -I tables/table-static
