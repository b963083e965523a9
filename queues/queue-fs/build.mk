# queue-fs: the default queue backend, a spool directory on disk.
# queue_api.o is listed until it joins LIBAPI_OBJS in libsmtpd-api/build.mk.
PROGRAMS	+= queues/queue-fs/queue-fs
HELPERS		+= queues/queue-fs/queue-fs
QUEUE_FS_OBJS	 = queues/queue-fs/queue_fs.o queues/queue-fs/queue_fs_spool.o \
		   queues/queue-fs/queue_fs_message.o \
		   queues/queue-fs/queue_fs_envelope.o \
		   queues/queue-fs/queue_fs_walk.o \
		   queues/queue-fs/queue_fs_commit.o \
		   queues/queue-fs/queue_fs_purge.o

queues/queue-fs/queue-fs: $(QUEUE_FS_OBJS) libsmtpd-api/queue_api.o $(LIBAPI)

# The queue unit tests (queue-fs and queue-ram alike) share a client and
# run the backends they test.  The client needs LIBAPI after it.
regress/unit/test_queue_ops: regress/unit/queue_client.o \
	queues/queue-fs/queue-fs queues/queue-ram/queue-ram
regress/unit/test_queue_fs: regress/unit/queue_client.o \
	queues/queue-fs/queue-fs
regress/unit/test_queue_ops regress/unit/test_queue_fs: LDLIBS += $(LIBAPI)
