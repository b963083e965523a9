# table-static: a table read from a table(5) file, or an inline table.
PROGRAMS	+= tables/table-static/table-static
HELPERS		+= tables/table-static/table-static
TABLE_STATIC_OBJS = tables/table-static/static_file.o \
		    tables/table-static/static_index.o \
		    tables/table-static/static_match.o

tables/table-static/table-static: tables/table-static/table_static.o \
    $(TABLE_STATIC_OBJS) $(LIBAPI)

# The parser and matcher are tested directly; the protocol test runs
# the programs themselves.
regress/unit/test_table_static: $(TABLE_STATIC_OBJS)
# (the generic rule puts the library before these objects: name it again)
regress/unit/test_table_static: LDLIBS += $(LIBAPI)
regress/unit/test_table_api: tables/table-static/table-static \
    tables/table-getpwnam/table-getpwnam
