# echoserv - build, test and install.  Everything is built under build/.

CC      ?= cc
CFLAGS  ?= -O2 -g
STD     := -std=c11 -D_POSIX_C_SOURCE=200809L
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
ALL_CFLAGS = $(STD) $(WARN) $(CFLAGS) -Iinclude

BUILD   := build
SAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
             -fno-sanitize-recover=all

SERVER_SRCS := src/main.c src/options.c src/server.c src/net.c src/log.c src/protocol.c
SERVER_OBJS := $(SERVER_SRCS:src/%.c=$(BUILD)/obj/%.o)
SAN_OBJS    := $(SERVER_SRCS:src/%.c=$(BUILD)/asan/obj/%.o)
HEADERS     := $(wildcard include/*.h)

.PHONY: all run check unit integration integration-asan deps clean format format-check

all: $(BUILD)/echoserv

$(BUILD)/echoserv: $(SERVER_OBJS)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDFLAGS)

$(BUILD)/obj/%.o: src/%.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# The same server built with AddressSanitizer and UBSan, for the tests.
$(BUILD)/asan/echoserv: $(SAN_OBJS)
	$(CC) $(STD) $(WARN) $(SAN_FLAGS) -Iinclude -o $@ $^

$(BUILD)/asan/obj/%.o: src/%.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(STD) $(WARN) $(SAN_FLAGS) -Iinclude -c -o $@ $<

# Build and start the server on the default port.
PORT ?= 7777
run: $(BUILD)/echoserv
	./$(BUILD)/echoserv $(PORT)

clean:
	rm -rf $(BUILD)
