# filter-trace: logs every event it sees; the reference filter to read.
PROGRAMS	+= filters/filter-trace/filter-trace
HELPERS		+= filters/filter-trace/filter-trace

filters/filter-trace/filter-trace: filters/filter-trace/filter_trace.o \
    $(LIBAPI)
