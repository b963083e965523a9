# filter-monkey: random latency and temporary failures, never a 5xx.
PROGRAMS	+= filters/filter-monkey/filter-monkey
HELPERS		+= filters/filter-monkey/filter-monkey

filters/filter-monkey/filter-monkey: filters/filter-monkey/filter_monkey.o \
    $(LIBAPI)
