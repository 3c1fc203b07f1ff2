# tether -- the only build entry.  make | make test | make run | make bench | make fuzz | make install
# Knobs: SANITIZE=address,undefined  BUILD=dir  OPT="-O2 -g"  PREFIX=/usr/local  CC=gcc

CC       ?= gcc
BUILD    ?= build
PREFIX   ?= /usr/local
SANITIZE ?=
VERSION  := 0.1.0

PKGS     := libmicrohttpd jansson libsodium libcurl sqlite3 libpq
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wpointer-arith \
            -Wno-unused-parameter
OPT      ?= -O2 -g
override CFLAGS := $(OPT) $(CFLAGS) -std=gnu17 $(WARN) -fPIC -D_GNU_SOURCE -DTETHER_VERSION='"$(VERSION)"' \
            -Isrc -Iinclude -I. -I$(BUILD)/gen $(PKG_CFLAGS)
LDLIBS   += $(PKG_LIBS) -lpthread -lm
ifneq ($(SANITIZE),)
override CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS  += -fsanitize=$(SANITIZE)
endif

SERVER_SRC := $(sort $(wildcard src/*/*.c))
LIB_SRC    := $(sort $(wildcard lib/*.c))
CLI_SRC    := $(sort $(wildcard cli/*.c))
GEN_SRC    := $(BUILD)/gen/embedded.c
UNIT_SRC   := $(sort $(wildcard tests/unit/test_*.c))

SERVER_OBJ := $(SERVER_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/embedded.o
LIB_OBJ    := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ    := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
UNIT_BIN   := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
EMBED_IN   := $(sort $(wildcard catalog/toolkits/*.json catalog/logos/* templates/*))

.PHONY: all deps test test-suite unit integration run bench fuzz install demo clean format examples

all: $(BUILD)/tether $(BUILD)/libtether.a $(BUILD)/libtether.so $(BUILD)/tether.pc

deps:
	@scripts/deps.sh build

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/obj/gen/embedded.o: $(GEN_SRC)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Wno-missing-prototypes -c $< -o $@

$(BUILD)/embed: tools/embed.c
	@mkdir -p $(dir $@)
	$(CC) -O1 -std=gnu17 -Wall -Werror -o $@ $<

$(GEN_SRC): $(BUILD)/embed $(EMBED_IN)
	@mkdir -p $(dir $@)
	$(BUILD)/embed $(EMBED_IN) > $@.tmp && mv $@.tmp $@

$(BUILD)/libtether.a: $(LIB_OBJ)
	$(AR) rcs $@ $^

$(BUILD)/libtether.so: $(LIB_OBJ)
	$(CC) -shared -Wl,-soname,libtether.so.0 $(LDFLAGS) -o $@ $^ $(shell pkg-config --libs libcurl jansson) -lpthread

$(BUILD)/tether.pc: tools/tether.pc.in
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' $< > $@

$(BUILD)/tether: $(BUILD)/obj/src/main.o $(SERVER_OBJ) $(CLI_OBJ) $(BUILD)/libtether.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Unit tests link against an archive, so each pulls in only the modules it uses.
$(BUILD)/libserver.a: $(SERVER_OBJ)
	$(AR) rcs $@ $^

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libserver.a $(BUILD)/libtether.a tests/harness/test.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -o $@ $< $(BUILD)/libserver.a $(BUILD)/libtether.a $(LDFLAGS) $(LDLIBS)

# make test: deps, build, the whole suite, then the whole suite again under ASan+UBSan.
test:
	@scripts/deps.sh test
	$(MAKE) test-suite
	$(MAKE) BUILD=build/asan SANITIZE=address,undefined OPT="-O1 -g" test-suite

test-suite: all $(UNIT_BIN) examples
	@BUILD=$(BUILD) SANITIZE=$(SANITIZE) tests/run.sh

unit: all $(UNIT_BIN)
	@BUILD=$(BUILD) tests/run.sh unit

integration: all examples
	@BUILD=$(BUILD) tests/run.sh integration

run:
	@scripts/deps.sh build
	@$(MAKE) --no-print-directory all >/dev/null
	@scripts/run.sh

bench:
	@scripts/deps.sh bench
	$(MAKE) all
	@BUILD=$(BUILD) bench/run.sh

fuzz:
	@scripts/deps.sh test
	@fuzz/run.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include \
	    $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 0755 $(BUILD)/tether $(DESTDIR)$(PREFIX)/bin/tether
	install -m 0644 $(BUILD)/libtether.a $(DESTDIR)$(PREFIX)/lib/libtether.a
	install -m 0755 $(BUILD)/libtether.so $(DESTDIR)$(PREFIX)/lib/libtether.so.0
	ln -sf libtether.so.0 $(DESTDIR)$(PREFIX)/lib/libtether.so
	install -m 0644 include/tether.h $(DESTDIR)$(PREFIX)/include/tether.h
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' tools/tether.pc.in \
	    > $(DESTDIR)$(PREFIX)/lib/pkgconfig/tether.pc
	install -m 0644 docs/tether.1 $(DESTDIR)$(PREFIX)/share/man/man1/tether.1

EXAMPLES := $(patsubst examples/%.c,$(BUILD)/examples/%,$(wildcard examples/*.c))
examples: $(EXAMPLES)
$(BUILD)/examples/%: examples/%.c $(BUILD)/libtether.a include/tether.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libtether.a $(LDFLAGS) $(shell pkg-config --libs libcurl jansson) -lpthread

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# make demo: tether + a local OAuth provider + the C example, end to end, with no internet.
demo: all examples
	@scripts/deps.sh test
	@cd tests/node && { [ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error; }
	@BUILD=$(BUILD) node scripts/demo.mjs
