/*
 * proxy.h - the PROXY protocol (versions 1 and 2) and the peers trusted to
 * speak it, for --proxy-from (docs/protocol.md, the draft of section 8).
 *
 * A load balancer in front of the server opens its own TCP connection, so
 * the peer the server sees is the balancer.  With the PROXY protocol the
 * balancer starts each connection with a header naming the client it
 * relays; the server reads the header, then treats the rest of the stream
 * as that client's conversation.  Only peers listed with --proxy-from may
 * do this: from anyone else a header is ordinary data.
 *
 * This module is the parsing half and nothing else.  It makes no system
 * calls, holds no state between calls and knows nothing of sockets beyond
 * the address structures, so the connection core decides when to call it,
 * the unit tests and the fuzzer drive it directly.
 *
 * The parser is incremental in the simplest way: the caller keeps the bytes
 * received so far at the start of the connection and asks again after each
 * read.  The answer depends only on those bytes, so it is the same however
 * they arrived, and once it is final (complete or malformed) more bytes do
 * not change it.  It is final early: a stream whose first bytes cannot
 * begin either header (a client that sends "hello") is refused at its first
 * byte, not after a timeout; a bad v2 version, command, family or length
 * as soon as that byte arrives; a bad character in a v1 field at once, and
 * a bad v1 address or port when the space or CR after it arrives.
 */
#ifndef ECHOSERV_PROXY_H
#define ECHOSERV_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "peers.h"

/* The longest v1 header, "PROXY ...\r\n" included, as its specification
 * fixes it. */
#define PROXY_V1_MAX 107

/* A v2 header: a 16-byte fixed part, then as many bytes as its length field
 * says (at most 65535): addresses, then TLVs. */
#define PROXY_V2_FIXED   16
#define PROXY_HEADER_MAX (PROXY_V2_FIXED + 65535)

/*
 * The limit a caller should pass to proxy_parse() unless it has a reason
 * not to: every v1 header fits, and a v2 header with IPv6 addresses and
 * about 480 bytes of TLVs.  It is the bound HAProxy suggests (536 bytes,
 * TCP's default segment size for IPv4, so a header sent in one segment
 * fits); a balancer sends far less unless told to add TLVs (16 + 12 bytes
 * for IPv4, 16 + 36 for IPv6).
 */
#define PROXY_HEADER_RECOMMENDED 536

/* Where the header stands after the bytes seen so far. */
enum proxy_status {
	PROXY_NEED_MORE, /* so far so good: read more and ask again */
	PROXY_MALFORMED, /* not a valid header, whatever follows */
	PROXY_COMPLETE   /* a whole header: see struct proxy_header */
};

/* What a complete header asks for. */
enum proxy_command {
	PROXY_CMD_LOCAL, /* keep the real peer (v2 LOCAL, v1 UNKNOWN, ...) */
	PROXY_CMD_PROXY  /* the client is src; the balancer reached dst */
};

struct proxy_header {
	int version; /* 1 or 2 once its signature has arrived; else 0 */
	enum proxy_command command;
	size_t length; /* COMPLETE: bytes of the header, to be consumed */
	/* PROXY_CMD_PROXY: AF_INET or AF_INET6 addresses with their ports,
	 * like a peer accept() returns; otherwise zeroed (AF_UNSPEC). */
	struct sockaddr_storage src, dst;
	const char *reason; /* MALFORMED: why, a short static string */
};

/*
 * Parse the first len bytes of a connection, buf[0..len) (buf may be NULL
 * when len is 0).  Fills *hdr (zeroed first, so two results compare with
 * memcmp) and returns:
 *
 *   PROXY_NEED_MORE  buf is a proper prefix of a valid header: read more;
 *   PROXY_MALFORMED  no bytes added to buf can make a valid header;
 *                    hdr->reason says why;
 *   PROXY_COMPLETE   buf begins with a whole header of hdr->length bytes;
 *                    buf[hdr->length..len) is the client's first data.
 *
 * limit is the most bytes the caller will hold for a header: a v2 header
 * longer than that is malformed as soon as its length field arrives.  It
 * is taken to be at least PROXY_V1_MAX and at most PROXY_HEADER_MAX, so a
 * caller holding limit bytes (or PROXY_V1_MAX, if more) always has a final
 * answer.  A v1 header is at most PROXY_V1_MAX bytes, whatever limit says.
 */
enum proxy_status proxy_parse(const void *buf, size_t len, size_t limit,
			      struct proxy_header *hdr);

/* ============================ --proxy-from ============================ */

/* The most ADDR[/BITS] items one --proxy-from list may hold. */
#define PROXY_FROM_MAX 32

/* The trusted peers.  An entry is a prefix of an address in IPv6 form
 * (peers.h): an IPv4 entry a.b.c.d/n is kept as ::ffff:a.b.c.d/(96 + n),
 * so it matches IPv4 peers however the socket reports them. */
struct proxy_from {
	struct proxy_net {
		struct peer_key addr;
		unsigned bits; /* 0..128: leading bits that must match */
	} net[PROXY_FROM_MAX];
	size_t count;
};

/*
 * Parse a --proxy-from value, "ADDR[/BITS][,ADDR[/BITS]...]", into *list:
 * ADDR an IPv4 dotted quad or an IPv6 literal (no brackets, no names), BITS
 * a decimal prefix length, 0..32 for IPv4 and 0..128 for IPv6 (a bare
 * address is the whole address).  Bits of ADDR past the prefix are
 * ignored.  Returns 0, or -1 with one line naming the bad item in err.
 */
int proxy_from_parse(const char *text, struct proxy_from *list, char *err,
		     size_t err_len);

/* Is peer (an accepted socket's address) in the list?  IPv4 peers, plain
 * or IPv4-mapped, match IPv4 entries; other families never match. */
bool proxy_from_match(const struct proxy_from *list,
		      const struct sockaddr *peer);

#endif
