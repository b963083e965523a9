# queue-ram: a queue backend in memory, for tests and throwaway setups.
# queue_api.o is listed until it joins LIBAPI_OBJS in libsmtpd-api/build.mk.
PROGRAMS	+= queues/queue-ram/queue-ram
HELPERS		+= queues/queue-ram/queue-ram

queues/queue-ram/queue-ram: queues/queue-ram/queue_ram.o \
	libsmtpd-api/queue_api.o $(LIBAPI)
