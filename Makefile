# Outflow - build, test, benchmark.
#
#   make              build/outflow (and the tools)
#   make test         the whole test suite (tests/run.sh)
#   make asan         ASan+UBSan+LSan build in build/asan/ (sensor and unit tests)
#   make bench        the benchmark (not a test): outflow vs libpcap loop vs ndpiReader
#   make bench-live   (root) the mixed capture replayed live into a veth pair: drops, alerts
#   make fuzz         every libFuzzer target for FUZZ_SECONDS (default 300) each
#   make soak         replay the sample captures in a loop, watch memory (SOAK_MINUTES)
#   make clean
#
# Every module in sensor/ except main.c goes into build/liboutflow.a, so unit
# tests link exactly the code the sensor runs.

BUILD    ?= build
CC       ?= cc
OPT      ?= -O2
SAN      ?=
NDPI_INC := $(patsubst -I%,-isystem %,$(shell pkg-config --cflags-only-I libndpi 2>/dev/null || echo -I/usr/include/ndpi))
NDPI_LIB := $(shell pkg-config --libs libndpi 2>/dev/null || echo -lndpi -lgcrypt)

WARN     := -Wall -Wextra -Werror -Wshadow -Wmissing-prototypes -Wstrict-prototypes \
            -Wsign-compare -Wpointer-arith -Wformat=2 -Wundef -Wvla
CFLAGS   ?= $(OPT) -g
ALL_CFLAGS = -std=gnu11 $(CFLAGS) $(WARN) $(SAN) -D_GNU_SOURCE -Isensor $(NDPI_INC) -MMD -MP
LDLIBS   := -lpcap $(NDPI_LIB) -lhiredis -lpsl -lpthread -lm

LIB_SRC  := $(filter-out sensor/main.c,$(wildcard sensor/*.c))
LIB_OBJ  := $(LIB_SRC:sensor/%.c=$(BUILD)/obj/%.o)
TEST_SRC := $(wildcard tests/unit/test_*.c)
TEST_BIN := $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)
TOOL_SRC := $(wildcard tools/*.c)
TOOL_BIN := $(TOOL_SRC:tools/%.c=$(BUILD)/tools/%)

.PHONY: all tests tools test asan bench bench-live fuzz soak clean
all: $(BUILD)/outflow tools tests

$(BUILD)/obj/%.o: sensor/%.c | $(BUILD)/obj
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/liboutflow.a: $(LIB_OBJ)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/outflow: $(BUILD)/obj/main.o $(BUILD)/liboutflow.a
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/liboutflow.a | $(BUILD)/tests
	$(CC) $(ALL_CFLAGS) -Itests/unit -o $@ $< $(BUILD)/liboutflow.a $(LDLIBS)

# Tools are standalone (header-only helpers from sensor/ at most), so they
# build even while a sensor module is being changed.
$(BUILD)/tools/%: tools/%.c | $(BUILD)/tools
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LDLIBS)

tests: $(TEST_BIN)
tools: $(TOOL_BIN)

$(BUILD)/obj $(BUILD)/tests $(BUILD)/tools:
	mkdir -p $@

test: all
	tests/run.sh

asan:
	$(MAKE) BUILD=build/asan OPT=-O1 \
	    SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer" all

bench: all
	tests/bench/run.sh

bench-live: all
	tests/bench/live.sh

fuzz:
	tests/fuzz/run.sh $(or $(FUZZ_SECONDS),300)

soak: all
	tests/soak.sh $(or $(SOAK_MINUTES),10)

clean:
	rm -rf build

-include $(LIB_OBJ:.o=.d) $(BUILD)/obj/main.d $(TEST_BIN:=.d) $(TOOL_BIN:=.d)
