# The one entry point: make, make deps, make test, make run, make install.
#
# Every folder that holds a program or a library has a build.mk of a few
# lines, included below, that adds its program to PROGRAMS and names its
# objects.  This file holds the flags, the generic rules and the targets.

PREFIX		?= /usr/local
BINDIR		?= $(PREFIX)/bin
SBINDIR		?= $(PREFIX)/sbin
LIBDIR		?= $(PREFIX)/lib
LIBEXECDIR	?= $(PREFIX)/libexec/smtpd
INCLUDEDIR	?= $(PREFIX)/include
MANDIR		?= $(PREFIX)/share/man
DESTDIR		?=

CC		?= cc
PKG_CONFIG	?= pkg-config
INSTALL		?= install

# Debian packages the build, the tests and make run need.
DEB_PACKAGES	 = build-essential pkg-config bison libevent-dev libtls-dev \
		   libbsd-dev libssl-dev check libc-ares-dev mandoc gdb \
		   valgrind swaks python3 python3-dkim openssl procps

PKGS		 = libevent libbsd-overlay
WARNINGS	 = -Wall -Wextra -Werror -Wshadow -Wpointer-arith \
		   -Wmissing-prototypes -Wstrict-prototypes -Wno-unused-parameter
CFLAGS		?= -O2 -g
CFLAGS		+= -std=c11 -D_GNU_SOURCE $(WARNINGS) -I libsmtpd-api \
		   -DPATH_LIBEXEC='"$(LIBEXECDIR)"' -MMD -MP
LDFLAGS		?=
LDLIBS		 =

ifeq ($(SANITIZE),1)
CFLAGS		+= -fsanitize=address,undefined -fno-omit-frame-pointer \
		   -fno-sanitize-recover=undefined
LDFLAGS		+= -fsanitize=address,undefined
endif

# pkg-config runs only when the packages are there, so that "make deps"
# works on a bare machine.
PKG_CFLAGS	:= $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS	:= $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)
CHECK_CFLAGS	:= $(shell $(PKG_CONFIG) --cflags check 2>/dev/null)
CHECK_LIBS	:= $(shell $(PKG_CONFIG) --libs check 2>/dev/null)
CFLAGS		+= $(PKG_CFLAGS)

LIBAPI		 = libsmtpd-api/libsmtpd-api.a
PROGRAMS	 =	# every program built by "make"
HELPERS		 =	# installed in LIBEXECDIR
SBIN_PROGRAMS	 =	# installed in SBINDIR
UNIT_TESTS	 = $(patsubst %.c,%,$(wildcard regress/unit/test_*.c))
MANPAGES	 = $(wildcard man/*.[1-8])

include libsmtpd-api/build.mk
include $(wildcard tables/*/build.mk queues/*/build.mk filters/*/build.mk)
include $(wildcard probe/build.mk smtpd/build.mk smtpctl/build.mk \
	examples/*/build.mk)
include $(wildcard regress/build.mk regress/*/build.mk bench/build.mk)

# Programs only the tests use (fake helpers and the like) go in PROGRAMS
# too, so that "make" builds them; only HELPERS and SBIN_PROGRAMS are
# installed.

all: $(LIBAPI) $(PROGRAMS)

# Rebuild everything when the flags change (SANITIZE=1 and back).
FLAGS_STAMP	 = .build-flags
FLAGS_NOW	 = $(CC) $(CFLAGS) $(LDFLAGS)
$(shell echo '$(FLAGS_NOW)' | cmp -s - $(FLAGS_STAMP) || \
	echo '$(FLAGS_NOW)' > $(FLAGS_STAMP))

%.o: %.c $(FLAGS_STAMP)
	$(CC) $(CFLAGS) -c -o $@ $<

# Archives go last so that objects listed before them can use them.
$(PROGRAMS):
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(filter %.a,$^) $(LDLIBS) \
	    $(PKG_LIBS)

regress/unit/test_%.o: regress/unit/test_%.c $(FLAGS_STAMP)
	$(CC) $(CFLAGS) $(CHECK_CFLAGS) -c -o $@ $<

regress/unit/test_%: regress/unit/test_%.o $(LIBAPI)
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(filter %.a,$^) $(LDLIBS) \
	    $(CHECK_LIBS) $(PKG_LIBS)

# Installs what is missing; quiet and quick when everything is there.
deps:
	@missing=$$(dpkg-query -W -f='$${Package} $${Status}\n' \
	    $(DEB_PACKAGES) 2>/dev/null | awk '$$NF == "installed" { print $$1 }' | \
	    sort > .deps-have; for p in $(DEB_PACKAGES); do \
	    grep -qx "$$p" .deps-have || echo $$p; done; rm -f .deps-have); \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" != 0 ]; then \
			echo "missing packages; run:"; \
			echo "  sudo apt-get install $$(echo $$missing)"; \
			exit 1; \
		fi; \
		echo "installing: $$(echo $$missing)"; \
		apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		    $$missing >/dev/null; \
	fi

test: deps
	$(MAKE) all $(UNIT_TESTS)
	sh regress/run.sh $(UNIT_TESTS)

# make run: smtpd in the foreground with examples/smtpd.conf, listening on
# 127.0.0.1:2525 and delivering every recipient to a maildir under
# run/maildir.  The spool lives in run/spool, unless the daemon's _smtpd
# user could not reach it there (a tree under a private home directory),
# in which case it goes to /var/tmp.
RUN_DIR		 = $(CURDIR)/run
run: deps
	$(MAKE) all
	@if [ "$$(id -u)" = 0 ]; then $(MAKE) -s users; fi
	@mkdir -p $(RUN_DIR)/maildir $(RUN_DIR)/libexec
	@for h in $(HELPERS); do ln -sf $(CURDIR)/$$h $(RUN_DIR)/libexec/; done
	@spool=$(RUN_DIR)/spool; \
	if [ "$$(id -u)" = 0 ] && ! setpriv --reuid=_smtpd --regid=_smtpd \
	    --clear-groups test -x $(CURDIR) 2>/dev/null; then \
		spool=/var/tmp/smtpd-run-spool; \
	fi; \
	echo "smtpd on 127.0.0.1:2525, mail lands in $(RUN_DIR)/maildir/<user>/new"; \
	echo "try: swaks --server 127.0.0.1:2525 --to alice@localhost"; \
	SMTPD_LIBEXEC=$(RUN_DIR)/libexec exec smtpd/smtpd -d \
	    -f examples/smtpd.conf -D run_dir=$(RUN_DIR) -D spool_dir=$$spool \
	    -D delivery_user=$$(id -un)

# The unprivileged user the daemon runs as when started as root, and the
# empty directory its chrooted processes live in.
users:
	@getent passwd _smtpd >/dev/null || useradd --system --no-create-home \
	    --home-dir /var/empty --shell /usr/sbin/nologin _smtpd
	@install -d -m 0755 /var/empty

lint-man:
	mandoc -Tlint -Wwarning $(MANPAGES)

install: all
	$(INSTALL) -d $(DESTDIR)$(LIBEXECDIR) $(DESTDIR)$(SBINDIR) \
	    $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR)
	$(INSTALL) -m 0755 $(HELPERS) $(DESTDIR)$(LIBEXECDIR)/
	$(INSTALL) -m 0755 $(SBIN_PROGRAMS) $(DESTDIR)$(SBINDIR)/
	$(INSTALL) -m 0644 $(LIBAPI) $(DESTDIR)$(LIBDIR)/
	$(INSTALL) -m 0644 libsmtpd-api/smtpd-api.h $(DESTDIR)$(INCLUDEDIR)/
	for m in $(MANPAGES); do \
		s=$${m##*.}; \
		$(INSTALL) -d $(DESTDIR)$(MANDIR)/man$$s; \
		$(INSTALL) -m 0644 $$m $(DESTDIR)$(MANDIR)/man$$s/; \
	done
	$(MAKE) install-smtpctl-links
	if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ]; then $(MAKE) users; fi

clean:
	rm -f $(LIBAPI) $(PROGRAMS) $(UNIT_TESTS) $(FLAGS_STAMP) \
	    smtpd/parse.c smtpd/parse.h
	find . -name '*.o' -o -name '*.d' | xargs rm -f

.PHONY: all deps test run users install clean lint-man

-include $(shell find . -name '*.d' 2>/dev/null)
