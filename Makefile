# petrocs — GNU make with pkg-config. See README.md for the two commands:
#   make run    install what is missing, build, start PostgreSQL and every service
#   make test   install what is missing, build, run the whole test suite
SHELL    := /bin/bash
VERSION  := 0.1.0
BUILD    ?= build
CC       ?= gcc
OPT      ?= -O2
SAN      ?=
PKGS     := libczmq libzmq libprotobuf-c libpq libmicrohttpd jansson gmime-3.0 libcurl openssl

CFLAGS   = -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -g $(OPT) -MMD -MP \
           -DCS_VERSION='"$(VERSION)"'
LDFLAGS  =
ifeq ($(SAN),1)
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   = $(shell pkg-config --libs $(PKGS)) -lpthread -lm
CPPFLAGS   = -I$(BUILD)/proto -Icommon $(PKG_CFLAGS)

PROTOS    := $(wildcard proto/*.proto)
PROTO_C   := $(patsubst proto/%.proto,$(BUILD)/proto/%.pb-c.c,$(PROTOS))
COMMON_C  := $(wildcard common/*.c)
SERVICES  := $(patsubst services/%/main.c,%,$(wildcard services/*/main.c))

LIBCS_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(COMMON_C)) \
             $(patsubst %.c,%.o,$(PROTO_C)) $(BUILD)/gen/bus_migrations.o
LIBCS     := $(BUILD)/lib/libcs.a

.PHONY: all deps test-deps build run test test-fault test-unit test-integration test-e2e asan demo clean \
        bench-binaries \
        fmt fuzz fuzz-binaries fuzz-corpus
.DEFAULT_GOAL := build

all: build

deps:
	@tools/deps

test-deps:
	@tools/deps --test

# The fuzzers come along when clang is there (make test then runs them briefly).
HAVE_CLANG := $(shell command -v clang 2>/dev/null)
build: $(LIBCS) $(foreach s,$(SERVICES),$(BUILD)/bin/cs-$(s)) $(BUILD)/bin/csctl test-binaries \
       bench-binaries \
       $(if $(HAVE_CLANG),fuzz-binaries)

# ---- generated sources -------------------------------------------------------
$(BUILD)/proto/.stamp: $(PROTOS)
	@mkdir -p $(BUILD)/proto
	protoc-c --c_out=$(BUILD)/proto -Iproto $(PROTOS)
	@touch $@
$(PROTO_C): $(BUILD)/proto/.stamp
$(BUILD)/proto/%.pb-c.o: $(BUILD)/proto/%.pb-c.c
	$(CC) $(CFLAGS) -Wno-unused-parameter $(CPPFLAGS) -c $< -o $@

$(BUILD)/gen/bus_migrations.c: $(wildcard common/schema/*.sql) tools/embed-sql
	@mkdir -p $(dir $@)
	tools/embed-sql cs_bus_migrations $@ $(sort $(wildcard common/schema/*.sql))
$(BUILD)/gen/%.o: $(BUILD)/gen/%.c
	$(CC) $(CFLAGS) $(CPPFLAGS) -c $< -o $@

# ---- objects -------------------------------------------------------------------
$(BUILD)/obj/%.o: %.c $(BUILD)/proto/.stamp
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(CPPFLAGS) -c $< -o $@

$(LIBCS): $(LIBCS_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# ---- services: services/<s>/*.c + schema/*.sql -> build/bin/cs-<s> ------------------
define SERVICE_template
$(1)_SRC := $$(filter-out services/$(1)/main.c,$$(wildcard services/$(1)/*.c))
$(1)_OBJ := $$(patsubst %.c,$(BUILD)/obj/%.o,$$($(1)_SRC)) $(BUILD)/gen/$(1)_migrations.o
$(BUILD)/gen/$(1)_migrations.c: $$(wildcard services/$(1)/schema/*.sql) tools/embed-sql
	@mkdir -p $$(dir $$@)
	tools/embed-sql $(1)_migrations $$@ $$(sort $$(wildcard services/$(1)/schema/*.sql))
$(BUILD)/lib/$(1).a: $$($(1)_OBJ)
	@mkdir -p $$(dir $$@)
	rm -f $$@ && ar rcs $$@ $$^
$(BUILD)/bin/cs-$(1): $(BUILD)/obj/services/$(1)/main.o $(BUILD)/lib/$(1).a $(LIBCS)
	@mkdir -p $$(dir $$@)
	$(CC) $(LDFLAGS) -o $$@ $$^ $(PKG_LIBS)
endef
$(foreach s,$(SERVICES),$(eval $(call SERVICE_template,$(s))))

# sla's holiday files (services/sla/calendars/*.txt) ride in the binary like migrations.
SLA_CALENDAR_TXT := $(sort $(wildcard services/sla/calendars/*.txt))
$(BUILD)/gen/sla_calendar_files.c: $(SLA_CALENDAR_TXT) tools/embed-sql
	@mkdir -p $(dir $@)
	tools/embed-sql sla_calendar_files $@ $(SLA_CALENDAR_TXT)
$(BUILD)/lib/sla.a: $(BUILD)/gen/sla_calendar_files.o

$(BUILD)/bin/csctl: $(BUILD)/obj/tools/csctl.o $(LIBCS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

# ---- tests ------------------------------------------------------------------------
# tests/unit/common/test_x.c links libcs; tests/unit/<s>/test_x.c links <s>.a too and
# includes the service's headers by name (-Iservices/<s>).
UNIT_C    := $(wildcard $(foreach a,common $(SERVICES),tests/unit/$(a)/test_*.c))
UNIT_BIN  := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(UNIT_C))
ITEST_C   := $(wildcard tests/integration/*.c)
ITEST_BIN := $(patsubst tests/integration/%.c,$(BUILD)/tests/integration/%,$(ITEST_C))

test-binaries: $(UNIT_BIN) $(ITEST_BIN)

$(BUILD)/tests/unit/common/%: $(BUILD)/obj/tests/unit/common/%.o $(LIBCS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lcmocka
define UNIT_template
$(BUILD)/obj/tests/unit/$(1)/%.o: CPPFLAGS += -Iservices/$(1)
$(BUILD)/tests/unit/$(1)/%: $(BUILD)/obj/tests/unit/$(1)/%.o $(BUILD)/lib/$(1).a $(LIBCS)
	@mkdir -p $$(dir $$@)
	$(CC) $(LDFLAGS) -o $$@ $$^ $(PKG_LIBS) -lcmocka
endef
$(foreach s,$(SERVICES),$(eval $(call UNIT_template,$(s))))
$(BUILD)/tests/integration/%: $(BUILD)/obj/tests/integration/%.o $(LIBCS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

# ---- benchmarks: bench/*.c -> build/bench/<name> (bench/*.py run them) ----------------------
BENCH_BIN := $(patsubst bench/%.c,$(BUILD)/bench/%,$(wildcard bench/*.c))
bench-binaries: $(BENCH_BIN)
$(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(LIBCS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)
# intake_parse measures intake's own parser: it links the service's objects
$(BUILD)/obj/bench/intake_parse.o: CPPFLAGS += -Iservices/intake
$(BUILD)/bench/intake_parse: $(BUILD)/obj/bench/intake_parse.o $(BUILD)/lib/intake.a $(LIBCS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

# ---- fuzzing: libFuzzer targets tests/fuzz/fuzz_*.c --------------------------------------
# Built with clang into $(BUILD)/fuzz/ (common and generated code too, so no gcc object is
# mixed in). `make fuzz FUZZ_SECONDS=n` runs each target n seconds on its seeds
# (tests/fuzz/corpus/<name>/); tests/run replays the seeds and fuzzes 15 s in `make test`.
FUZZ_SECONDS ?= 300
FUZZ_DIR     := $(BUILD)/fuzz
FUZZ_SAN     := -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
                -fno-omit-frame-pointer -g -O1
FUZZ_CFLAGS   = -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -MMD -MP \
                -DCS_VERSION='"$(VERSION)"' $(FUZZ_SAN)
FUZZ_C       := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN     := $(patsubst tests/fuzz/%.c,$(FUZZ_DIR)/bin/%,$(FUZZ_C))
FUZZ_LIB_OBJ := $(patsubst %.c,$(FUZZ_DIR)/obj/%.o,$(COMMON_C)) \
                $(patsubst $(BUILD)/%.c,$(FUZZ_DIR)/obj/%.o,$(PROTO_C)) \
                $(FUZZ_DIR)/obj/gen/bus_migrations.o
FUZZ_LIBCS   := $(FUZZ_DIR)/lib/libcs.a

fuzz-binaries: $(FUZZ_BIN)

$(FUZZ_DIR)/obj/proto/%.o: $(BUILD)/proto/%.c $(BUILD)/proto/.stamp
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -Wno-unused-parameter $(CPPFLAGS) -c $< -o $@
$(FUZZ_DIR)/obj/gen/%.o: $(BUILD)/gen/%.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) $(CPPFLAGS) -c $< -o $@
$(FUZZ_DIR)/obj/%.o: %.c $(BUILD)/proto/.stamp
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) $(CPPFLAGS) -c $< -o $@
$(FUZZ_LIBCS): $(FUZZ_LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^
$(FUZZ_DIR)/bin/%: $(FUZZ_DIR)/obj/tests/fuzz/%.o $(FUZZ_LIBCS)
	@mkdir -p $(dir $@)
	clang $(FUZZ_SAN) -o $@ $^ $(PKG_LIBS)

fuzz: $(BUILD)/proto/.stamp
	@$(MAKE) --no-print-directory fuzz-binaries
	@BUILD=$(BUILD) tests/fuzz/run $(FUZZ_SECONDS) $(FUZZ_BIN)

# Rewrite the committed seeds from proto/ (after a message changes).
$(BUILD)/fuzz/gen_corpus: $(BUILD)/obj/tests/fuzz/gen_corpus.o $(LIBCS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)
fuzz-corpus: $(BUILD)/fuzz/gen_corpus
	$(BUILD)/fuzz/gen_corpus tests/fuzz/corpus

# ---- the two commands ---------------------------------------------------------------
run: deps
	@$(MAKE) --no-print-directory build
	@tools/run-local

test: test-deps
	@$(MAKE) --no-print-directory build
	@BUILD=$(BUILD) tests/run

# the fault test alone, ten minutes of load (make test runs a short one)
test-fault: test-deps
	@$(MAKE) --no-print-directory build
	@BUILD=$(BUILD) FAULT_SECONDS=600 TESTS=fault/ tests/run

asan: test-deps
	@$(MAKE) --no-print-directory BUILD=build/asan SAN=1 OPT=-O1 build
	@BUILD=build/asan ASAN_OPTIONS=detect_leaks=0 tests/run

demo:
	@tools/demo

fmt:
	clang-format -i common/*.[ch] services/*/*.[ch] tools/*.c tests/*/*/*.c

clean:
	rm -rf $(BUILD)

.SECONDARY:
-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
