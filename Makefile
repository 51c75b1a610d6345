# twshim - per-program TCP close and port policy, by LD_PRELOAD.
#
# make			library and launcher, in build/
# make test		unit, integration, sanitizer and stress tests (as root)
# make demo		TIME_WAIT and port exhaustion, without and with twshim
# make matrix		measure every close strategy; write the table into the docs
# make faults		late duplicates and lost packets, at length (FAULTS_CONNS=20000)
# make bench		costs, in instructions and connections per second
# make fuzz		fuzz the policy parser (FUZZ_SECONDS=600)
# make install		PREFIX=/usr/local DESTDIR=
# make deb		build/twshim_VERSION_ARCH.deb (dpkg-buildpackage, lintian)

VERSION = 0.1.0

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
MANDIR ?= $(PREFIX)/share/man
DOCDIR ?= $(PREFIX)/share/doc/twshim

CC ?= cc
CFLAGS ?= -O2 -g
LDFLAGS ?=
WERROR ?= -Werror

# The project's own flags; CFLAGS and LDFLAGS stay the user's.
TW_CFLAGS = -std=gnu11 -Wall -Wextra $(WERROR) -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wpointer-arith -Wno-unused-result \
	-D_GNU_SOURCE -fPIC -fvisibility=hidden -fexceptions -Ipolicy -Ishim \
	-DTWSHIM_VERSION='"$(VERSION)"' -DTWSHIM_LIBDIR='"$(LIBDIR)"'

B = build

POLICY_SRC = $(sort $(wildcard policy/*.c))
SHIM_SRC = $(sort $(wildcard shim/*.c))
# The parts of the shim that need no hooks around them, for unit tests.
CORE_SRC = shim/fdtable.c shim/logline.c shim/mem.c shim/state.c
LAUNCHER_SRC = $(sort $(wildcard launcher/*.c))
UNIT_SRC = $(sort $(wildcard tests/unit/*.c))
HELPER_SRC = $(sort $(wildcard tests/helpers/*.c))
EXAMPLE_SRC = $(sort $(wildcard examples/*.c))

obj = $(patsubst %.c,$(B)/$(1)/%.o,$(2))

POLICY_OBJ = $(call obj,o,$(POLICY_SRC))
SHIM_OBJ = $(call obj,o,$(SHIM_SRC))
LAUNCHER_OBJ = $(call obj,o,$(LAUNCHER_SRC))
HELPERS = $(patsubst tests/helpers/%.c,$(B)/helpers/%,$(HELPER_SRC))
EXAMPLES = $(patsubst examples/%.c,$(B)/examples/%,$(EXAMPLE_SRC))

HEADERS = $(wildcard policy/*.h shim/*.h shim/*.def launcher/*.h)

all: $(B)/libtwshim.so $(B)/twshim $(EXAMPLES)

$(B)/o/%.o: %.c $(HEADERS)
	@mkdir -p $(@D)
	$(CC) $(TW_CFLAGS) $(CPPFLAGS) $(CFLAGS) $(TW_LATE_CFLAGS) -c $< -o $@

# vfork.c keeps no shadow stack: the library must not claim CET, whatever
# CFLAGS say (last on the line, so that it wins).
$(B)/o/shim/vfork.o: TW_LATE_CFLAGS = -fcf-protection=none

$(B)/libtwshim.map: shim/hooks.def shim/mkmap.sh
	@mkdir -p $(@D)
	sh shim/mkmap.sh shim/hooks.def > $@

$(B)/libtwshim.so: $(SHIM_OBJ) $(POLICY_OBJ) $(B)/libtwshim.map
	$(CC) -shared -Wl,-soname,libtwshim.so -Wl,--version-script=$(B)/libtwshim.map \
		-Wl,-z,now -Wl,-z,relro $(LDFLAGS) -o $@ $(SHIM_OBJ) $(POLICY_OBJ) -ldl -lpthread

# The launcher has LIBDIR built in: rebuild it when LIBDIR changes
# (make install LIBDIR=... after a plain make).
$(B)/libdir.stamp: FORCE
	@mkdir -p $(@D)
	@echo '$(LIBDIR)' | cmp -s - $@ || echo '$(LIBDIR)' > $@

$(B)/o/launcher/env.o: $(B)/libdir.stamp

# ---- the kernel backend (twshim --cgroup): only the launcher links libbpf ----

BPFTOOL ?= $(shell PATH="$$PATH:/usr/sbin:/sbin" command -v bpftool)
BPF_CLANG ?= clang
BPF_ARCH = $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/' -e 's/ppc64le/powerpc/' \
	-e 's/s390x/s390/' -e 's/riscv64/riscv/')

# The kernel's types, from the running kernel's BTF.
$(B)/bpf/vmlinux.h:
	@mkdir -p $(@D)
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@.tmp && mv $@.tmp $@

$(B)/bpf/cgroup.bpf.o: bpf/cgroup.bpf.c bpf/cgroup_abi.h $(B)/bpf/vmlinux.h
	$(BPF_CLANG) -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_$(BPF_ARCH) -Wall $(WERROR) \
		-I$(B)/bpf -Ibpf -c $< -o $@.full
	$(BPFTOOL) gen object $@ $@.full

$(B)/bpf/cgroup.skel.h: $(B)/bpf/cgroup.bpf.o
	$(BPFTOOL) gen skeleton $< name cgroup_bpf > $@.tmp && mv $@.tmp $@

CGROUP_HEADERS = bpf/cgroup_abi.h launcher/cgroup.h
$(LAUNCHER_OBJ): TW_LATE_CFLAGS = -Ibpf -I$(B)/bpf
$(LAUNCHER_OBJ): $(CGROUP_HEADERS) launcher/launcher.h
$(B)/o/launcher/cgroup.o: $(B)/bpf/cgroup.skel.h

$(B)/twshim: $(LAUNCHER_OBJ) $(POLICY_OBJ)
	$(CC) $(LDFLAGS) -o $@ $(LAUNCHER_OBJ) $(POLICY_OBJ) -lbpf

$(B)/examples/%: examples/%.c
	@mkdir -p $(@D)
	$(CC) -std=gnu11 -Wall -Wextra $(WERROR) -D_GNU_SOURCE $(CFLAGS) $(LDFLAGS) -o $@ $< -lpthread

$(B)/helpers/%: tests/helpers/%.c tests/helpers/helper.h
	@mkdir -p $(@D)
	$(CC) -std=gnu11 -Wall -Wextra $(WERROR) -D_GNU_SOURCE $(CFLAGS) $(LDFLAGS) -o $@ $< -lpthread -ldl

# Helper libraries loaded by the tests (a constructor that opens sockets, ...).
$(B)/helpers/lib%.so: tests/helpers/lib%.c
	@mkdir -p $(@D)
	$(CC) -std=gnu11 -Wall -Wextra $(WERROR) -D_GNU_SOURCE -fPIC -shared $(CFLAGS) -o $@ $<

HELPER_LIBS = $(patsubst tests/helpers/lib%.c,$(B)/helpers/lib%.so,$(wildcard tests/helpers/lib*.c))
HELPERS := $(filter-out $(B)/helpers/lib% $(B)/helpers/ctorprog,$(HELPERS)) $(B)/helpers/ctorprog \
	$(B)/helpers/sockops64

# sockops again, with 64-bit file offsets: its fcntl() is glibc's fcntl64.
$(B)/helpers/sockops64: tests/helpers/sockops.c tests/helpers/helper.h
	@mkdir -p $(@D)
	$(CC) -std=gnu11 -Wall -Wextra $(WERROR) -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 $(CFLAGS) \
		$(LDFLAGS) -o $@ $< -lpthread -ldl

# A program whose library's constructor makes a socket before ours runs.
$(B)/helpers/ctorprog: tests/helpers/ctorprog.c $(B)/helpers/libctor.so
	$(CC) -std=gnu11 -Wall -Wextra $(WERROR) -D_GNU_SOURCE $(CFLAGS) -o $@ $< \
		-Wl,--no-as-needed -L$(B)/helpers -lctor -Wl,-rpath,'$$ORIGIN'


# ---- tests ----

$(B)/unit_tests: $(UNIT_SRC) $(POLICY_SRC) $(CORE_SRC) $(HEADERS)
	@mkdir -p $(@D)
	$(CC) -std=gnu11 -Wall -Wextra $(WERROR) -D_GNU_SOURCE -Ipolicy -Ishim -g -O1 \
		-fsanitize=address,undefined -fno-omit-frame-pointer \
		$(UNIT_SRC) $(POLICY_SRC) $(CORE_SRC) -o $@ -lcriterion -lpthread

# The shim built with ASan+UBSan, preloaded after libasan by the integration suite.
$(B)/asan/libtwshim.so: $(SHIM_SRC) $(POLICY_SRC) $(HEADERS) $(B)/libtwshim.map
	@mkdir -p $(@D)
	$(CC) $(TW_CFLAGS) -g -O1 -fsanitize=address,undefined -fno-omit-frame-pointer \
		-shared -Wl,-soname,libtwshim.so -Wl,--version-script=$(B)/libtwshim.map \
		-o $@ $(SHIM_SRC) $(POLICY_SRC) -ldl -lpthread

# Threaded stress test with the whole shim linked in, under ThreadSanitizer.
$(B)/tsan/stress: tests/stress/stress.c $(SHIM_SRC) $(POLICY_SRC) $(HEADERS)
	@mkdir -p $(@D)
	$(CC) $(TW_CFLAGS) -g -O1 -fsanitize=thread \
		tests/stress/stress.c $(SHIM_SRC) $(POLICY_SRC) -o $@ -ldl -lpthread

$(B)/stress: tests/stress/stress.c $(SHIM_SRC) $(POLICY_SRC) $(HEADERS)
	@mkdir -p $(@D)
	$(CC) $(TW_CFLAGS) -g -O2 tests/stress/stress.c $(SHIM_SRC) $(POLICY_SRC) -o $@ -ldl -lpthread

$(B)/fuzz_policy: tests/fuzz/fuzz_policy.c $(POLICY_SRC) $(HEADERS)
	@mkdir -p $(@D)
	clang -std=gnu11 -g -O1 -D_GNU_SOURCE -Ipolicy -fsanitize=fuzzer,address,undefined \
		tests/fuzz/fuzz_policy.c $(POLICY_SRC) -o $@

# The kernel backend's test clients: a Go one and a static C one, which
# LD_PRELOAD cannot reach.
STATIC_HELPERS = $(patsubst tests/helpers/static/%.c,$(B)/helpers/static/%,\
	$(wildcard tests/helpers/static/*.c))
$(B)/helpers/static/%: tests/helpers/static/%.c
	@mkdir -p $(@D)
	$(CC) -std=gnu11 -Wall -Wextra $(WERROR) -D_GNU_SOURCE -O2 -static -o $@ $<

GO_HELPERS = $(patsubst tests/helpers/go/%.go,$(B)/helpers/go/%,$(wildcard tests/helpers/go/*.go))
$(B)/helpers/go/%: tests/helpers/go/%.go
	@mkdir -p $(@D) $(B)/gocache
	GOCACHE=$(abspath $(B))/gocache GOPATH=$(abspath $(B))/gopath GO111MODULE=off \
		go build -o $@ $<

test-build: all $(STATIC_HELPERS) $(GO_HELPERS) $(B)/unit_tests $(HELPERS) $(HELPER_LIBS) $(B)/asan/libtwshim.so $(B)/tsan/stress $(B)/stress

FUZZ_SECONDS ?= 600

test: deps
	@$(MAKE) --no-print-directory test-build
	@echo "make deb (log: $(B)/deb.log)"
	@$(MAKE) --no-print-directory deb >$(B)/deb.log 2>&1 || tail -n 20 $(B)/deb.log
	@sh tests/run-all.sh $(B)

unit: $(B)/unit_tests
	$(B)/unit_tests

fuzz: deps $(B)/fuzz_policy
	@mkdir -p $(B)/fuzz-corpus
	$(B)/fuzz_policy -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
		-artifact_prefix=$(B)/ $(B)/fuzz-corpus tests/fuzz/corpus

demo: deps all
	@sh examples/demo.sh $(B)

# Every close strategy against every usage pattern, in a network namespace;
# the measured table goes into README.md and man/twshim.conf.5.
matrix: all $(B)/helpers/closematrix
	@B=$(B) MATRIX_UPDATE=1 $$([ "$$(id -u)" -eq 0 ] && echo "unshare -n" || echo "unshare -rn") \
		sh -c 'ip link set lo up && exec bash "$$0"' tests/integration/t_strategy_matrix.sh

# The fault-injection tests (tests/integration/t_faults_*.sh) with many more
# connections in each cell than make test runs; not part of make test.
FAULTS_CONNS ?= 20000
FAULTS_CELL_SECONDS ?= 30

faults: all $(B)/helpers/faultnet $(B)/helpers/tagpeer
	@failed=""; for t in tests/integration/t_faults_*.sh; do \
		echo "== $$t"; \
		B=$(B) FAULTS_CONNS=$(FAULTS_CONNS) FAULTS_CELL_SECONDS=$(FAULTS_CELL_SECONDS) \
		    $$([ "$$(id -u)" -eq 0 ] && echo "unshare -n" || echo "unshare -rn") \
		    sh -c 'ip link set lo up && exec bash "$$0"' $$t || failed="$$failed $$t"; \
	done; [ -z "$$failed" ] || { echo "failed:$$failed"; exit 1; }

$(B)/bench/benchops: tests/bench/benchops.c
	@mkdir -p $(@D)
	$(CC) -std=gnu11 -Wall -Wextra $(WERROR) -D_GNU_SOURCE -O2 -g -o $@ $< -lpthread

$(B)/bench/legacy_client_native: examples/legacy_client.c
	@mkdir -p $(@D)
	$(CC) -std=gnu11 -Wall -Wextra $(WERROR) -D_GNU_SOURCE -DNATIVE_ABORT $(CFLAGS) -o $@ $<

$(B)/bench/tablemem: tests/bench/tablemem.c $(CORE_SRC) $(HEADERS)
	@mkdir -p $(@D)
	$(CC) $(TW_CFLAGS) -O2 -g -o $@ tests/bench/tablemem.c $(CORE_SRC) -lpthread

# The library again, adding up the time its threads wait for a lock.
$(B)/bench/libtwshim-spin.so: $(SHIM_SRC) $(POLICY_SRC) $(HEADERS) $(B)/libtwshim.map
	@mkdir -p $(@D)
	$(CC) $(TW_CFLAGS) $(CFLAGS) -DTW_SPIN_STATS -shared -Wl,-soname,libtwshim.so \
		-Wl,--version-script=$(B)/libtwshim.map -o $@ $(SHIM_SRC) $(POLICY_SRC) -ldl -lpthread

$(B)/bench/reaperload: tests/bench/reaperload.c
	@mkdir -p $(@D)
	$(CC) -std=gnu11 -Wall -Wextra $(WERROR) -D_GNU_SOURCE -O2 -g -o $@ $<

bench: deps all $(B)/helpers/go/gochurn $(B)/helpers/static/twserver $(B)/bench/benchops $(B)/bench/legacy_client_native $(B)/bench/tablemem \
	$(B)/bench/reaperload $(B)/bench/libtwshim-spin.so
	@sh tests/bench/bench.sh $(B)
	@sh tests/bench/cgroup-bench.sh $(B)

# Debian packages the build, the tests, the demo and the benchmarks use.
DEBS = build-essential clang libclang-rt-14-dev uthash-dev libcriterion-dev \
	valgrind iproute2 socat netcat-openbsd curl python3 strace libcap2-bin \
	util-linux procps libsocket-wrapper libkeepalive0 libjemalloc2 \
	debhelper dpkg-dev fakeroot lintian python3-prometheus-client
# twshim --cgroup: the BPF object, its skeleton, libbpf; Go for a test client.
DEBS += bpftool libbpf-dev libelf-dev zlib1g-dev linux-libc-dev golang-go
# The example policies' test runs them under real servers and clients.
DEBS += nginx redis-server redis-tools
# systemd-analyze, for the drop-in twshim --systemd writes (t_systemd).
DEBS += systemd
# CPython's own socket tests, and more real servers (t_real_servers).
DEBS += libpython3.11-testsuite memcached postgresql
# t_stats_attach_unlocked looks inside the library with gdb.
DEBS += gdb

deps:
	@sh tests/deps.sh $(DEBS)

# ---- install ----

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(MANDIR)/man1 \
		$(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(DOCDIR)/examples
	install -m 755 $(B)/twshim $(DESTDIR)$(BINDIR)/twshim
	install -m 755 $(B)/libtwshim.so $(DESTDIR)$(LIBDIR)/libtwshim.so
	install -m 644 man/twshim.1 $(DESTDIR)$(MANDIR)/man1/twshim.1
	install -m 644 man/twshim.conf.5 $(DESTDIR)$(MANDIR)/man5/twshim.conf.5
	install -m 644 README.md $(DESTDIR)$(DOCDIR)/README.md
	install -m 644 examples/policies/* $(DESTDIR)$(DOCDIR)/examples/

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/twshim $(DESTDIR)$(LIBDIR)/libtwshim.so \
		$(DESTDIR)$(MANDIR)/man1/twshim.1 $(DESTDIR)$(MANDIR)/man5/twshim.conf.5
	rm -rf $(DESTDIR)$(DOCDIR)

# ---- Debian package ----

# Built in a copy under $(B)/deb, since dpkg-buildpackage writes its results
# next to the source tree; only the .deb comes out, to $(B).
DEB_ARCH = $(shell dpkg-architecture -qDEB_HOST_ARCH 2>/dev/null)
DEB = $(B)/twshim_$(VERSION)_$(DEB_ARCH).deb

deb: deps
	@test "$$(dpkg-parsechangelog -SVersion)" = "$(VERSION)" || \
		{ echo "debian/changelog does not start with version $(VERSION)" >&2; exit 1; }
	@rm -rf $(B)/deb $(DEB) && mkdir -p $(B)/deb/twshim-$(VERSION)
	@tar -cf - --exclude=./$(B) --exclude=./.git . | tar -xf - -C $(B)/deb/twshim-$(VERSION)
	@echo "dpkg-buildpackage -b -us -uc (log: $(B)/deb/build.log)"
	@cd $(B)/deb/twshim-$(VERSION) && dpkg-buildpackage -b -us -uc >../build.log 2>&1 || \
		{ tail -n 30 ../build.log >&2; exit 1; }
	@mv $(B)/deb/twshim_$(VERSION)_$(DEB_ARCH).deb $(DEB)
	@echo "lintian $(DEB)"
	@lintian --fail-on error,warning $(DEB)
	@echo "$(DEB)"

clean:
	rm -rf $(B)

FORCE:

.PHONY: all test test-build unit fuzz demo bench matrix faults deps install uninstall deb clean FORCE
