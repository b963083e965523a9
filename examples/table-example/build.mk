# table-example: the smallest table, to copy when writing a new one.
PROGRAMS	+= examples/table-example/table-example

examples/table-example/table-example: \
    examples/table-example/table_example.o $(LIBAPI)

# test_table_api runs it as table_api(3) shows.
regress/unit/test_table_api: examples/table-example/table-example
