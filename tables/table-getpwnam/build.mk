# table-getpwnam: userinfo from the system's password database.
PROGRAMS	+= tables/table-getpwnam/table-getpwnam
HELPERS		+= tables/table-getpwnam/table-getpwnam

tables/table-getpwnam/table-getpwnam: \
    tables/table-getpwnam/table_getpwnam.o $(LIBAPI)
