# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# warmpath build, in the libbpf-bootstrap manner:
#   bpf/*.bpf.c --clang -target bpf--> .output/*.tmp.bpf.o --bpftool gen object-->
#   .output/*.bpf.o --bpftool gen skeleton--> .output/*.skel.h <-- user/**/*.c
# user/ has one folder per concern (cli, agent, probe, discovery, wireguard,
# drops, export, datapath, util); every folder is on the include path.
# Quiet by default; `make V=1` shows every command.

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo 0.1.0)
OUTPUT := .output
# `make test SANITIZE=address,undefined`: user space and the unit tests built
# with ASan/UBSan into their own directory, so sanitized and normal objects
# never mix (the BPF objects are rebuilt there too).
SANITIZE ?=
ifneq ($(SANITIZE),)
OUTPUT := .output-san
BIN := $(OUTPUT)/warmpath
else
BIN := warmpath
endif
# Any sanitizer report fails the run (exit status 1 or abort, never just a log).
SAN_ENV := ASAN_OPTIONS=halt_on_error=1:abort_on_error=1:detect_leaks=1:strict_string_checks=1 \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
CLANG ?= clang
BPFTOOL ?= bpftool
CC ?= gcc
ARCH := $(shell uname -m | sed 's/x86_64/x86/' | sed 's/aarch64/arm64/')
MULTIARCH := $(shell $(CC) -print-multiarch 2>/dev/null)

# bpf/: the programs warmpath ships; bench/*.bpf.c: programs only benchmarks load
BPF_SRCS := $(wildcard bpf/*.bpf.c)
BENCH_BPF_SRCS := $(wildcard bench/*.bpf.c)
SKELS := $(patsubst bpf/%.bpf.c,$(OUTPUT)/%.skel.h,$(BPF_SRCS))
BENCH_SKELS := $(patsubst bench/%.bpf.c,$(OUTPUT)/%.skel.h,$(BENCH_BPF_SRCS))
USER_DIRS := $(sort $(dir $(wildcard user/*/*.c)))
USER_SRCS := $(wildcard user/*/*.c)
USER_OBJS := $(patsubst user/%.c,$(OUTPUT)/user/%.o,$(USER_SRCS))
# everything but the CLI's main.c, linked into the test programs too
LIB_OBJS := $(filter-out $(OUTPUT)/user/cli/main.o,$(USER_OBJS))
TEST_SRCS := $(wildcard selftests/unit/*.c) $(filter-out %.bpf.c,$(wildcard bench/*.c))
TEST_OBJS := $(patsubst %.c,$(OUTPUT)/%.o,$(TEST_SRCS))

INCLUDES := -I$(OUTPUT) -Iheaders $(patsubst %/,-I%,$(USER_DIRS)) -Ivmlinux/$(ARCH)
BPF_CFLAGS := -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) -Wall -Werror $(INCLUDES) \
	-I/usr/include/$(MULTIARCH)
CFLAGS ?= -g -O2
CFLAGS += -Wall -Wextra -Wno-unused-parameter -Werror -Werror=undef \
	-Wmissing-field-initializers -D_GNU_SOURCE -DWARMPATH_VERSION='"$(VERSION)"' \
	-MMD -MP $(INCLUDES)
ifneq ($(SANITIZE),)
CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
endif
PKGS := libbpf libelf zlib libmicrohttpd jansson libcurl libcrypto
LDLIBS := $$(pkg-config --libs $(PKGS)) -lpthread -lm

ifeq ($(V),1)
	Q =
	msg =
else
	Q = @
	msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

.PHONY: all deps vmlinux bpf-arm64 test unit-test netns-test vmtest bench bench-lab demo clean format check-format
.DELETE_ON_ERROR:
.SECONDARY:

all: $(BIN)

# Install missing Debian packages once (order-only: never forces a rebuild).
$(OUTPUT)/.deps-ok: | $(OUTPUT)
	$(call msg,DEPS,scripts/install-deps.sh)
	$(Q)scripts/install-deps.sh
	$(Q)touch $@

deps:
	$(Q)scripts/install-deps.sh
	$(Q)mkdir -p $(OUTPUT) && touch $(OUTPUT)/.deps-ok

$(OUTPUT):
	$(Q)mkdir -p $@

# vmlinux.h from the running kernel's BTF; checked in, regenerate on purpose only.
vmlinux: | $(OUTPUT)/.deps-ok
	$(call msg,GEN,vmlinux/$(ARCH)/vmlinux.h)
	$(Q)mkdir -p vmlinux/$(ARCH)
	$(Q)$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > vmlinux/$(ARCH)/vmlinux.h

# CO-RE objects for another architecture's vmlinux.h: a compile check (make bpf-arm64).
bpf-arm64: | $(OUTPUT)/.deps-ok
	$(call msg,BPF,arm64 compile check)
	$(Q)mkdir -p $(OUTPUT)/arm64
	$(Q)for f in $(BPF_SRCS) $(BENCH_BPF_SRCS); do \
		$(CLANG) $(subst __TARGET_ARCH_$(ARCH),__TARGET_ARCH_arm64,$(subst vmlinux/$(ARCH),vmlinux/arm64,$(BPF_CFLAGS))) \
			-c $$f -o $(OUTPUT)/arm64/$$(basename $$f .c).o || exit 1; done

$(OUTPUT)/%.tmp.bpf.o: bpf/%.bpf.c | $(OUTPUT) $(OUTPUT)/.deps-ok
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -MMD -MP -MT $@ -c $< -o $@

$(OUTPUT)/%.tmp.bpf.o: bench/%.bpf.c | $(OUTPUT) $(OUTPUT)/.deps-ok
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -MMD -MP -MT $@ -c $< -o $@

$(OUTPUT)/%.bpf.o: $(OUTPUT)/%.tmp.bpf.o
	$(call msg,GEN-OBJ,$@)
	$(Q)$(BPFTOOL) gen object $@ $<

$(OUTPUT)/%.skel.h: $(OUTPUT)/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst -,_,$*)_bpf > $@

# Skeletons are order-only: the first build generates them all, and from then
# on -MMD records which object includes which skeleton, so a changed BPF
# program rebuilds only the user objects that embed it.
$(OUTPUT)/user/%.o: user/%.c | $(SKELS) $(OUTPUT)/.deps-ok
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(BIN): $(USER_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ $(LDLIBS) -o $@

$(OUTPUT)/selftests/%.o: selftests/%.c | $(SKELS) $(OUTPUT)/.deps-ok
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -Iselftests/unit -c $< -o $@

$(OUTPUT)/bench/%.o: bench/%.c | $(SKELS) $(BENCH_SKELS) $(OUTPUT)/.deps-ok
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -Iselftests/unit -c $< -o $@

$(OUTPUT)/test_progs: $(TEST_OBJS) $(LIB_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ $(LDLIBS) -o $@

# The whole suite: unit (BPF_PROG_TEST_RUN) then netns/device tests, one summary.
ifneq ($(SANITIZE),)
# Sanitized: the unit suite and a datapath mutation run under ASan/UBSan.
# The netns suites can drive the sanitized agent too (they are not run here:
# they take minutes and need no other build):
#   ASAN_OPTIONS=detect_leaks=0 WARMPATH=$(BIN) selftests/run.sh veth
test: $(BIN) $(OUTPUT)/test_progs $(OUTPUT)/fuzz_datapath
	$(Q)$(SAN_ENV) $(OUTPUT)/test_progs
	$(Q)$(SAN_ENV) $(OUTPUT)/fuzz_datapath -n $(FUZZ_SMOKE_DATAPATH_RUNS) -o $(OUTPUT)
else
# Everything, then every fuzz target a few seconds over its corpus (and its
# crash reproducers), then a short datapath mutation run.
test: warmpath $(OUTPUT)/test_progs fuzz-build $(OUTPUT)/fuzz_datapath
	$(Q)rc=0; selftests/run.sh || rc=1; \
	selftests/fuzz/run.sh --smoke $(FUZZ_SMOKE_SECONDS) $(FUZZ_SMOKE_DATAPATH_RUNS) || rc=1; \
	exit $$rc
endif

# ---- fuzzing: selftests/fuzz/ (README.md there) ----
# libFuzzer targets, one per parser, built with clang into their own
# directory (-fsanitize=fuzzer,address,undefined, user space included), and
# fuzz_datapath (BPF_PROG_TEST_RUN on mutated packets) built like the tests.
FUZZ_OUTPUT := .output-fuzz
FUZZ_TARGETS := $(patsubst selftests/fuzz/fuzz_%.c,%,$(filter-out \
	selftests/fuzz/fuzz_datapath.c,$(wildcard selftests/fuzz/fuzz_*.c)))
FUZZ_SECONDS ?= 60
FUZZ_DATAPATH_RUNS ?= 1000000
FUZZ_SMOKE_SECONDS ?= 3
FUZZ_SMOKE_DATAPATH_RUNS ?= 50000
# Targets that include the file they fuzz (for its static parser) link without its object.
FUZZ_OWN_events := user/agent/events.o
FUZZ_OWN_links := user/datapath/links.o
FUZZ_OWN_kube_watch := user/discovery/kube.o
FUZZ_OWN_kube_list := user/discovery/kube.o
FUZZ_DATAPATH_OBJS := $(addprefix $(OUTPUT)/selftests/,fuzz/fuzz_datapath.o \
	unit/datapath_check.o unit/datapath_fixture.o unit/packet_builder.o)

.PHONY: fuzz fuzz-build fuzz-bins
fuzz-build: | $(OUTPUT)/.deps-ok
	$(Q)$(MAKE) --no-print-directory FUZZ_BUILD=1 OUTPUT=$(FUZZ_OUTPUT) CC=$(CLANG) SANITIZE= \
		fuzz-bins

fuzz: fuzz-build $(OUTPUT)/fuzz_datapath
	$(Q)selftests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_DATAPATH_RUNS)

$(OUTPUT)/fuzz_datapath: $(FUZZ_DATAPATH_OBJS) $(LIB_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ $(LDLIBS) -o $@

ifeq ($(FUZZ_BUILD),1)
CFLAGS += -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=all
fuzz-bins: $(addprefix $(OUTPUT)/fuzz/fuzz_,$(FUZZ_TARGETS))

$(OUTPUT)/fuzz/fuzz_%: selftests/fuzz/fuzz_%.c $(LIB_OBJS) | $(SKELS)
	$(call msg,FUZZ,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -fsanitize=fuzzer -Iselftests/fuzz $< \
		$(filter-out $(addprefix $(OUTPUT)/,$(FUZZ_OWN_$*)),$(LIB_OBJS)) $(LDLIBS) -o $@
endif

# The kernel-facing tests inside a qemu guest running another kernel (Debian
# 12's 6.1 by default; KERNEL=package-name or KERNEL=path/to/vmlinuz).
vmtest: warmpath
	$(Q)scripts/vmtest.sh $(KERNEL)

unit-test: $(OUTPUT)/test_progs
	$(Q)$(OUTPUT)/test_progs

bench: warmpath $(OUTPUT)/test_progs
	$(Q)$(OUTPUT)/test_progs --bench
	$(Q)$(OUTPUT)/test_progs --bench-kube
	$(Q)bench/agent_bench.sh
	$(Q)bench/throughput.sh

demo: warmpath
	$(Q)scripts/demo.sh

bench-lab: warmpath
	$(Q)bench/lab_bench.sh

CLANG_FORMAT_FILES = $(shell git ls-files '*.c' '*.h' | grep -v '^vmlinux/')
format:
	$(Q)clang-format -i $(CLANG_FORMAT_FILES)

check-format:
	$(Q)clang-format --dry-run -Werror $(CLANG_FORMAT_FILES)

clean:
	$(call msg,CLEAN)
	$(Q)rm -rf $(OUTPUT)/*.o $(OUTPUT)/*.skel.h $(OUTPUT)/*.d $(OUTPUT)/user $(OUTPUT)/selftests \
		$(OUTPUT)/bench $(OUTPUT)/test_progs $(OUTPUT)/fuzz_datapath warmpath .output-san \
		$(FUZZ_OUTPUT)

-include $(shell find $(OUTPUT) -name '*.d' 2>/dev/null)
