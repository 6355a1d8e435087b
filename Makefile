# luksfs — top-level GNU Makefile.
#
#   make            build build/luksfs
#   make deps       install every Debian package needed (apt, as root or via sudo)
#   make check      install missing deps, build, run every test; ends with "N passed, N failed"
#   make demo       build, make a small LUKS2 image, mount it, round-trip, info, unmount
#   make install    install to $(DESTDIR)$(PREFIX) (default /usr/local)
#   make fuzz       build the libFuzzer targets (clang)
#   make fuzz-long  run every fuzzer FUZZ_LONG_SECONDS (default 600) and print a table
#   make bench      performance benchmarks (not part of check)
#
# Variables: MODE=release|debug, SANITIZE=address,undefined (gcc), PREFIX, DESTDIR.

SHELL := /bin/bash
PREFIX ?= /usr/local
DESTDIR ?=
MODE ?= release
BUILD := build

CXX ?= g++
PKGS := fuse3 openssl libsodium libargon2 libcurl liburing
PKGS += libsystemd
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
BOOST_LIBS ?= -lboost_program_options

OPT_release := -O2
OPT_debug := -O0
CXXFLAGS ?= $(OPT_$(MODE)) -g
CXXFLAGS += -std=c++20 -Wall -Wextra -Werror -pthread -fstack-protector-strong \
            -D_FILE_OFFSET_BITS=64 -DFUSE_USE_VERSION=314 -I. $(PKG_CFLAGS)
ifneq ($(SANITIZE),)
CXXFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer
LDFLAGS += -fsanitize=$(SANITIZE)
endif
LDFLAGS += -pthread

# Modules, lowest first. Dependencies point one way: fs -> kms-client -> crypto -> common.
srcs = $(filter-out %_test.cc %_fuzz.cc %/main.cc,$(wildcard $(1)/*.cc))
COMMON_SRCS := $(call srcs,common)
# The one HTTP transport (libcurl): the only part of common/ that may use curl.
COMMON_SRCS += $(call srcs,common/http)
CRYPTO_SRCS := $(call srcs,crypto)
KMS_SRCS    := $(call srcs,kms-client)
FS_SRCS     := $(call srcs,fs) $(call srcs,fs/storage) $(call srcs,fs/fuse) $(call srcs,fs/cli)
FS_SRCS     += $(call srcs,fs/image)
FS_SRCS     += $(call srcs,fs/prep)
MAIN_SRC    := fs/cli/main.cc
# The qcow2+LUKS container (fs/image/qcow2_*, part of FS_SRCS): the fuzz
# build links it alone.
QCOW2_SRCS  := $(filter-out %_test.cc %_fuzz.cc,$(wildcard fs/image/qcow2_*.cc))

obj = $(patsubst %.cc,$(BUILD)/obj/%.o,$(1))
LIB_COMMON := $(BUILD)/libcommon.a
LIB_CRYPTO := $(BUILD)/libcrypto.a
LIB_KMS    := $(BUILD)/libkms.a
LIB_FS     := $(BUILD)/libfs.a
# Link order: dependents first.
ALL_LIBS := $(LIB_FS) $(LIB_KMS) $(LIB_CRYPTO) $(LIB_COMMON)

# Unit tests sit beside their code (foo_test.cc); one binary per module.
COMMON_TESTS := $(wildcard common/*_test.cc)
COMMON_TESTS += $(wildcard common/http/*_test.cc)
CRYPTO_TESTS := $(wildcard crypto/*_test.cc)
KMS_TESTS    := $(wildcard kms-client/*_test.cc)
FS_TESTS     := $(wildcard fs/*_test.cc fs/storage/*_test.cc fs/fuse/*_test.cc fs/cli/*_test.cc)
FS_TESTS     += $(wildcard fs/image/*_test.cc)
FS_TESTS     += $(wildcard fs/prep/*_test.cc)
TEST_BINS := $(if $(COMMON_TESTS),$(BUILD)/tests/common_test) \
             $(if $(CRYPTO_TESTS),$(BUILD)/tests/crypto_test) \
             $(if $(KMS_TESTS),$(BUILD)/tests/kms_test) \
             $(if $(FS_TESTS),$(BUILD)/tests/fs_test)
GTEST_LIBS := -lgtest -lgtest_main

ALL_OBJS := $(call obj,$(COMMON_SRCS) $(CRYPTO_SRCS) $(KMS_SRCS) $(FS_SRCS) $(MAIN_SRC) \
              $(COMMON_TESTS) $(CRYPTO_TESTS) $(KMS_TESTS) $(FS_TESTS))

.PHONY: all deps check unit integration demo install uninstall clean fuzz bench check-layering man
.PHONY: fuzz-long
.DEFAULT_GOAL := all

all: $(BUILD)/luksfs

$(BUILD)/obj/%.o: %.cc
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -MMD -MP -c $< -o $@

$(LIB_COMMON): $(call obj,$(COMMON_SRCS))
$(LIB_CRYPTO): $(call obj,$(CRYPTO_SRCS))
$(LIB_KMS):    $(call obj,$(KMS_SRCS))
$(LIB_FS):     $(call obj,$(FS_SRCS))
$(BUILD)/lib%.a:
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/luksfs: $(call obj,$(MAIN_SRC)) $(ALL_LIBS)
	$(CXX) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(BOOST_LIBS)

$(BUILD)/tests/common_test: $(call obj,$(COMMON_TESTS)) $(ALL_LIBS)
$(BUILD)/tests/crypto_test: $(call obj,$(CRYPTO_TESTS)) $(ALL_LIBS)
$(BUILD)/tests/kms_test:    $(call obj,$(KMS_TESTS)) $(ALL_LIBS)
$(BUILD)/tests/fs_test:     $(call obj,$(FS_TESTS)) $(ALL_LIBS)
$(BUILD)/tests/%_test:
	@mkdir -p $(dir $@)
	$(CXX) $(LDFLAGS) -o $@ $^ $(GTEST_LIBS) $(PKG_LIBS) $(BOOST_LIBS)

deps:
	@contrib/install-deps.sh

# The README's test command. Installs what is missing, builds, runs every
# unit test binary and integration script, and prints "N passed, N failed".
NPROC := $(shell nproc 2>/dev/null || echo 2)
# The sanitizer daemon (ASan+UBSan, LSan at exit) is $(BUILD)/luksfs-asan,
# linked from the objects the fuzz build already compiled with clang's
# ASan+UBSan (no second compile of every source); run-all.sh runs a subset
# of the integration tests against it (asan/NAME). A gcc sanitizer build of
# everything is still `make BUILD=build-asan SANITIZE=address,undefined`.
check: deps
	@$(MAKE) --no-print-directory -j$(NPROC) all $(TEST_BINS) fuzz $(BUILD)/luksfs-asan
	@ASAN_LUKSFS=$(CURDIR)/$(BUILD)/luksfs-asan tests/run-all.sh $(TEST_BINS)

check-layering:
	@tests/check-layering.sh

demo: deps
	@$(MAKE) --no-print-directory -j$(NPROC) all
	@contrib/demo.sh

# libFuzzer targets (*_fuzz.cc), built with clang; `make check` runs each
# one for a short time over a seed corpus made at test time. The library
# sources are compiled once, instrumented, and shared by every target.
FUZZ_SRCS := $(wildcard crypto/*_fuzz.cc kms-client/*_fuzz.cc fs/*_fuzz.cc fs/*/*_fuzz.cc)
FUZZ_SRCS += $(wildcard common/http/*_fuzz.cc)
FUZZ_BINS := $(patsubst %_fuzz.cc,$(BUILD)/fuzz/%_fuzz,$(notdir $(FUZZ_SRCS)))
FUZZ_CXX ?= clang++
FUZZ_CFLAGS := -std=c++20 -O1 -g -I. -D_FILE_OFFSET_BITS=64 -DFUSE_USE_VERSION=314 $(PKG_CFLAGS)
FUZZ_SAN := -fsanitize=address,undefined
# Every library source, fs/ included (main.cc is not a library source).
FUZZ_LIB_SRCS := $(COMMON_SRCS) $(CRYPTO_SRCS) $(KMS_SRCS) $(FS_SRCS)
FUZZ_LIB_OBJS := $(patsubst %.cc,$(BUILD)/fuzzobj/%.o,$(FUZZ_LIB_SRCS))
FUZZ_OBJS := $(patsubst %.cc,$(BUILD)/fuzzobj/%.o,$(FUZZ_SRCS))
fuzz: $(FUZZ_BINS)
# Objects are kept between runs, not deleted as intermediates.
.SECONDARY: $(FUZZ_LIB_OBJS) $(FUZZ_OBJS)
$(BUILD)/fuzzobj/%.o: %.cc
	@mkdir -p $(dir $@)
	$(FUZZ_CXX) $(FUZZ_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@
$(BUILD)/fuzz/libfuzzlib.a: $(FUZZ_LIB_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^
# One binary per DIR/NAME_fuzz.cc: its own object and the shared library.
$(foreach f,$(FUZZ_SRCS),$(eval $(BUILD)/fuzz/$(basename $(notdir $(f))): \
    $(patsubst %.cc,$(BUILD)/fuzzobj/%.o,$(f)) $(BUILD)/fuzz/libfuzzlib.a))
$(BUILD)/fuzz/%_fuzz:
	@mkdir -p $(dir $@)
	$(FUZZ_CXX) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(PKG_LIBS) $(BOOST_LIBS)
# The daemon with the same instrumented objects and main.cc, without libFuzzer's
# main (the coverage hooks fall back to the sanitizer runtime's no-ops).
$(BUILD)/luksfs-asan: $(BUILD)/fuzzobj/$(MAIN_SRC:.cc=.o) $(BUILD)/fuzz/libfuzzlib.a
	$(FUZZ_CXX) $(FUZZ_SAN) -o $@ $^ $(PKG_LIBS) $(BOOST_LIBS)
-include $(BUILD)/fuzzobj/$(MAIN_SRC:.cc=.d)
-include $(FUZZ_OBJS:.o=.d)

# Each fuzzer for FUZZ_LONG_SECONDS (default 600), then a table of exec/s,
# execs, coverage (cov, ft) and findings per target (tests/fuzz-long.sh).
FUZZ_LONG_SECONDS ?= 600
fuzz-long: fuzz
	@FUZZ_LONG_SECONDS=$(FUZZ_LONG_SECONDS) BUILD=$(BUILD) tests/fuzz-long.sh
-include $(FUZZ_LIB_OBJS:.o=.d)

bench: deps all
	@contrib/bench/run.sh
	@contrib/bench/convert.sh | tee -a $${BENCH_RESULTS:-contrib/bench/RESULTS.md}

install: $(BUILD)/luksfs
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/share/man/man8
	install -s -m 0755 $(BUILD)/luksfs $(DESTDIR)$(PREFIX)/bin/luksfs
	ln -sf ../bin/luksfs $(DESTDIR)$(PREFIX)/sbin/mount.luksfs
	install -m 0644 man/luksfs.8 $(DESTDIR)$(PREFIX)/share/man/man8/luksfs.8
	ln -sf luksfs.8 $(DESTDIR)$(PREFIX)/share/man/man8/mount.luksfs.8
	install -d $(DESTDIR)$(PREFIX)/share/bash-completion/completions
	install -m 0644 contrib/completion/luksfs.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/luksfs
	ln -sf luksfs $(DESTDIR)$(PREFIX)/share/bash-completion/completions/mount.luksfs
	install -d $(DESTDIR)$(PREFIX)/lib/systemd/system $(DESTDIR)$(PREFIX)/share/doc/luksfs/examples
	sed 's|/usr/bin/luksfs|$(PREFIX)/bin/luksfs|' contrib/systemd/luksfs@.service \
	    >$(DESTDIR)$(PREFIX)/lib/systemd/system/luksfs@.service
	chmod 0644 $(DESTDIR)$(PREFIX)/lib/systemd/system/luksfs@.service
	install -m 0644 contrib/systemd/mnt-vm1.mount contrib/systemd/fstab.example \
	    contrib/systemd/vm1.conf.example $(DESTDIR)$(PREFIX)/share/doc/luksfs/examples/

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/luksfs $(DESTDIR)$(PREFIX)/sbin/mount.luksfs \
	      $(DESTDIR)$(PREFIX)/share/man/man8/luksfs.8
	rm -f $(DESTDIR)$(PREFIX)/share/man/man8/mount.luksfs.8 \
	      $(DESTDIR)$(PREFIX)/share/bash-completion/completions/luksfs \
	      $(DESTDIR)$(PREFIX)/share/bash-completion/completions/mount.luksfs \
	      $(DESTDIR)$(PREFIX)/lib/systemd/system/luksfs@.service
	rm -rf $(DESTDIR)$(PREFIX)/share/doc/luksfs/examples

clean:
	rm -rf $(BUILD) $(SAN_BUILD)

-include $(ALL_OBJS:.o=.d)
