# filter-example: the smallest filter, to copy when writing your own.
# Built by make, not installed.
PROGRAMS	+= examples/filter-example/filter-example

examples/filter-example/filter-example: \
    examples/filter-example/filter_example.o $(LIBAPI)
