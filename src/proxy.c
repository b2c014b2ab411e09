/*
 * proxy.c - the PROXY protocol parser and the --proxy-from list (see
 * proxy.h).
 *
 * No system calls: inet_pton() is a conversion in the C library, and the
 * rest is byte arithmetic.  Every step of the parser looks only at bytes it
 * has, and says "more" when the next one it needs is missing; a verdict is
 * reached at the first byte that decides it, and the same byte decides it
 * however many bytes follow.  That is what makes the answer independent of
 * how the stream was split into reads (the fuzzer checks it).
 */
#include "proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Where the first bytes fit neither signature. */
static const char NOT_PROXY[] = "not a PROXY protocol header";

/* The outcome of one step of the parser. */
enum step {
	STEP_OK,   /* done: go on with the next step */
	STEP_MORE, /* the next byte needed has not arrived */
	STEP_BAD   /* malformed; the reason is set */
};

/* ================================ v1 ================================ */

/*
 * Version 1 is one line of text:
 *
 *     PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n
 *     PROXY TCP6 2001:db8::1 2001:db8::2 56324 443\r\n
 *     PROXY UNKNOWN[ anything]\r\n
 *
 * at most PROXY_V1_MAX bytes.  It is read strictly: one space between
 * fields, no space at the end, the line ended by CRLF and nothing else,
 * addresses inet_pton() takes for the protocol named, ports 0..65535 in
 * decimal without a sign or a leading zero.  After UNKNOWN the rest of the
 * line is ignored, as the specification asks (a balancer that cannot name
 * the client may still send addresses, or nothing).
 */

/* The longest address text: an IPv6 address with an IPv4 tail. */
#define V1_ADDR_MAX (INET6_ADDRSTRLEN - 1)
#define V1_PORT_MAX 5 /* "65535" */

/* The line being read: p[0..n), n at most PROXY_V1_MAX. */
struct v1 {
	const unsigned char *p;
	size_t n;
	size_t pos; /* the next byte to look at */
	const char *reason;
};

/* Where a field lies in the line. */
struct span {
	size_t at, len;
};

static enum step v1_bad(struct v1 *v, const char *reason)
{
	v->reason = reason;
	return STEP_BAD;
}

/* The bytes of text, in order, from v->pos. */
static enum step v1_literal(struct v1 *v, const char *text, const char *reason)
{
	for (; *text != '\0'; text++, v->pos++) {
		if (v->pos == v->n)
			return STEP_MORE;
		if (v->p[v->pos] != (unsigned char)*text)
			return v1_bad(v, reason);
	}
	return STEP_OK;
}

static bool is_addr_char(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	       (c >= 'A' && c <= 'F') || c == ':' || c == '.';
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static bool is_protocol_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || is_digit(c);
}

/* How a field is read: the bytes it may hold, how many, and what to say
 * about one that does not fit. */
struct field_rule {
	bool (*allowed)(unsigned char c);
	size_t max;
	const char *bad;
};

/*
 * One field from v->pos: one or more bytes that the rule allows, then a
 * space, or CR if the field is the last of the line.  On STEP_OK *out is
 * the field and v->pos is past the byte that ended it.  Spacing is checked
 * here, so every field reports the same mistakes in the same words.
 */
static enum step v1_field(struct v1 *v, const struct field_rule *rule,
			  bool last, struct span *out)
{
	out->at = v->pos;
	for (;; v->pos++) {
		if (v->pos == v->n)
			return STEP_MORE;
		unsigned char c = v->p[v->pos];
		if (c != ' ' && c != '\r' && c != '\n') {
			if (!rule->allowed(c) || v->pos - out->at >= rule->max)
				return v1_bad(v, rule->bad);
			continue;
		}
		out->len = v->pos - out->at;
		if (out->len == 0 && c == ' ')
			return v1_bad(v, "v1: fields must be separated by "
					 "single spaces");
		if (!last && c != ' ')
			return v1_bad(v, "v1: too few fields");
		if (last && c == ' ')
			return v1_bad(v, "v1: a space after the last field");
		if (c == '\n')
			return v1_bad(v, "v1: line does not end with CRLF");
		if (out->len == 0)
			return v1_bad(v, "v1: too few fields");
		v->pos++;
		return STEP_OK;
	}
}

/* The LF of the CRLF that ends the line (the CR is read). */
static enum step v1_end(struct v1 *v)
{
	return v1_literal(v, "\n", "v1: line does not end with CRLF");
}

/* The protocol names v1 knows. */
enum v1_protocol { V1_TCP4, V1_TCP6, V1_UNKNOWN };
static const char *const V1_PROTOCOLS[] = {"TCP4", "TCP6", "UNKNOWN"};
#define V1_PROTOCOL_COUNT (sizeof(V1_PROTOCOLS) / sizeof(V1_PROTOCOLS[0]))

static const char UNKNOWN_PROTOCOL[] = "v1: unknown protocol (not TCP4, TCP6 "
				       "or UNKNOWN)";

/* Is p[0..len) the start of a protocol name? */
static bool protocol_prefix(const unsigned char *p, size_t len)
{
	for (size_t i = 0; i < V1_PROTOCOL_COUNT; i++)
		if (strlen(V1_PROTOCOLS[i]) >= len &&
		    memcmp(V1_PROTOCOLS[i], p, len) == 0)
			return true;
	return false;
}

/*
 * The protocol name after "PROXY " and the byte after it, which is read
 * too: a space, or the CR of "PROXY UNKNOWN\r\n".  A name is refused at
 * its first byte that no name has there ("PROXY HTTP" at the H).
 */
static enum step v1_protocol(struct v1 *v, enum v1_protocol *proto)
{
	size_t start = v->pos;

	for (; v->pos < v->n && is_protocol_char(v->p[v->pos]); v->pos++)
		if (!protocol_prefix(v->p + start, v->pos - start + 1))
			return v1_bad(v, UNKNOWN_PROTOCOL);
	if (v->pos == v->n)
		return STEP_MORE;
	unsigned char c = v->p[v->pos];
	size_t len = v->pos - start;
	if (len == 0 && c == ' ')
		return v1_bad(v, "v1: fields must be separated by single "
				 "spaces");
	size_t i = 0;
	while (i < V1_PROTOCOL_COUNT &&
	       !(strlen(V1_PROTOCOLS[i]) == len &&
		 memcmp(V1_PROTOCOLS[i], v->p + start, len) == 0))
		i++;
	if (i == V1_PROTOCOL_COUNT || (c != ' ' && c != '\r' && c != '\n'))
		return v1_bad(v, UNKNOWN_PROTOCOL);
	*proto = (enum v1_protocol)i;
	if (c == '\n')
		return v1_bad(v, "v1: line does not end with CRLF");
	if (c == '\r' && *proto != V1_UNKNOWN)
		return v1_bad(v, "v1: too few fields");
	v->pos++;
	return STEP_OK;
}

/* The rest of a line after "PROXY UNKNOWN" and the byte after it: ignored
 * up to the CRLF (nothing, if that byte was the CR). */
static enum step v1_unknown_rest(struct v1 *v)
{
	if (v->p[v->pos - 1] == ' ') {
		for (; v->pos < v->n && v->p[v->pos] != '\r'; v->pos++)
			if (v->p[v->pos] == '\n')
				return v1_bad(v, "v1: line does not end with "
						 "CRLF");
		if (v->pos == v->n)
			return STEP_MORE;
		v->pos++;
	}
	return v1_end(v);
}

/* What each field of a TCP4 or TCP6 line says when it is wrong. */
struct v1_field_words {
	const char *bad;          /* not an address, or not a port */
	const char *wrong_family; /* an address of the other family */
};

static const struct v1_field_words SRC_ADDR = {
    "v1: bad source address",
    "v1: source address is not of the protocol's family"};
static const struct v1_field_words DST_ADDR = {
    "v1: bad destination address",
    "v1: destination address is not of the protocol's family"};

/* An address field for family (AF_INET or AF_INET6) into *ss, port 0. */
static enum step v1_address(struct v1 *v, int family,
			    const struct v1_field_words *words,
			    struct sockaddr_storage *ss)
{
	const struct field_rule rule = {is_addr_char, V1_ADDR_MAX, words->bad};
	char text[V1_ADDR_MAX + 1];
	unsigned char other[sizeof(struct in6_addr)];
	struct span s;

	enum step st = v1_field(v, &rule, false, &s);
	if (st != STEP_OK)
		return st;
	memcpy(text, v->p + s.at, s.len);
	text[s.len] = '\0';
	if (family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;
		in->sin_family = AF_INET;
		if (inet_pton(AF_INET, text, &in->sin_addr) == 1)
			return STEP_OK;
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
		in6->sin6_family = AF_INET6;
		if (inet_pton(AF_INET6, text, &in6->sin6_addr) == 1)
			return STEP_OK;
	}
	/* Say so when the address is good but of the other family: a
	 * balancer that mislabels its lines is a different bug from one that
	 * sends garbage. */
	int other_family = family == AF_INET ? AF_INET6 : AF_INET;
	return v1_bad(v, inet_pton(other_family, text, other) == 1
			     ? words->wrong_family
			     : words->bad);
}

/* A port field: 0..65535 in decimal, no sign, no leading zero ("0" itself
 * is a port). */
static enum step v1_port(struct v1 *v, bool last, const char *bad,
			 uint16_t *port)
{
	const struct field_rule rule = {is_digit, V1_PORT_MAX, bad};
	struct span s;
	unsigned long value = 0;

	enum step st = v1_field(v, &rule, last, &s);
	if (st != STEP_OK)
		return st;
	if (s.len > 1 && v->p[s.at] == '0')
		return v1_bad(v, bad);
	for (size_t i = 0; i < s.len; i++)
		value = value * 10 + (unsigned long)(v->p[s.at + i] - '0');
	if (value > UINT16_MAX)
		return v1_bad(v, bad);
	*port = (uint16_t)value;
	return STEP_OK;
}

static void set_port(struct sockaddr_storage *ss, uint16_t port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
}

/* The whole line, into *hdr. */
static enum step v1_line(struct v1 *v, struct proxy_header *hdr)
{
	enum v1_protocol proto;
	uint16_t sport, dport;
	enum step st;

	if ((st = v1_literal(v, "PROXY ", NOT_PROXY)) != STEP_OK)
		return st;
	hdr->version = 1;
	if ((st = v1_protocol(v, &proto)) != STEP_OK)
		return st;
	if (proto == V1_UNKNOWN) {
		hdr->command = PROXY_CMD_LOCAL;
		return v1_unknown_rest(v);
	}
	int family = proto == V1_TCP4 ? AF_INET : AF_INET6;
	if ((st = v1_address(v, family, &SRC_ADDR, &hdr->src)) != STEP_OK ||
	    (st = v1_address(v, family, &DST_ADDR, &hdr->dst)) != STEP_OK ||
	    (st = v1_port(v, false, "v1: bad source port", &sport)) !=
		STEP_OK ||
	    (st = v1_port(v, true, "v1: bad destination port", &dport)) !=
		STEP_OK ||
	    (st = v1_end(v)) != STEP_OK)
		return st;
	set_port(&hdr->src, sport);
	set_port(&hdr->dst, dport);
	hdr->command = PROXY_CMD_PROXY;
	return STEP_OK;
}

/* ================================ v2 ================================ */

/*
 * Version 2 is binary: a 16-byte fixed part, then a block of as many bytes
 * as its length field says.
 *
 *     0..11   the signature, \r\n\r\n\0\r\nQUIT\n
 *     12      version (high 4 bits, 2) and command (low 4: 0 LOCAL, 1 PROXY)
 *     13      address family (high 4: 0 UNSPEC, 1 INET, 2 INET6, 3 UNIX)
 *             and transport (low 4: 0 UNSPEC, 1 STREAM, 2 DGRAM)
 *     14..15  the block's length, big-endian
 *     16..    the addresses (INET 12 bytes, INET6 36, UNIX 216, UNSPEC 0):
 *             source, destination, source port, destination port; then
 *             TLVs (a type byte, a 16-bit big-endian length, the value)
 *
 * LOCAL (the balancer's own connection, a health check) keeps the real
 * peer and ignores the block, as the specification says.  PROXY over
 * TCP/IPv4 or TCP/IPv6 gives the client's addresses.  PROXY with UNSPEC
 * (a client the balancer cannot describe) or UNIX over STREAM (a client on
 * one of the balancer's local sockets, which has no IP address to log or
 * count) keeps the real peer too: the specification lets a receiver do
 * either, and the balancer's own address is the honest name for such a
 * client.  DGRAM is malformed: this is a stream connection, so a header
 * saying it relays datagrams comes from a misconfigured balancer, which is
 * better told at once than quietly believed.  Byte 13 values the
 * specification does not define are malformed, LOCAL or not, as it asks.
 */

/* \r\n\r\n\0\r\nQUIT\n: no text protocol begins like that. */
static const unsigned char V2_SIGNATURE[12] = {
    0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};

/* The commands of byte 12. */
enum { V2_LOCAL = 0x0, V2_PROXY = 0x1 };

/* The values of byte 13 the specification defines. */
enum {
	V2_UNSPEC = 0x00,
	V2_TCP4 = 0x11,
	V2_UDP4 = 0x12,
	V2_TCP6 = 0x21,
	V2_UDP6 = 0x22,
	V2_UNIX_STREAM = 0x31,
	V2_UNIX_DGRAM = 0x32
};

/* The size of the address part for byte 13, or -1 if byte 13 is not one
 * the specification defines. */
static long v2_address_len(unsigned char family)
{
	switch (family) {
	case V2_UNSPEC:
		return 0;
	case V2_TCP4:
	case V2_UDP4:
		return 12;
	case V2_TCP6:
	case V2_UDP6:
		return 36;
	case V2_UNIX_STREAM:
	case V2_UNIX_DGRAM:
		return 216;
	}
	return -1;
}

/* Do the TLVs in p[at..end) fit: each a 3-byte head and as many bytes as
 * it says, the last ending exactly at end?  Their content is not read. */
static bool v2_tlvs_fit(const unsigned char *p, size_t at, size_t end)
{
	while (at < end) {
		if (end - at < 3)
			return false;
		size_t n = (size_t)p[at + 1] << 8 | p[at + 2];
		if (end - at - 3 < n)
			return false;
		at += 3 + n;
	}
	return true;
}

/* The addresses of a TCP4 or TCP6 block at p into *hdr.  The ports are in
 * network order in the header, as in a sockaddr. */
static void v2_addresses(const unsigned char *p, unsigned char family,
			 struct proxy_header *hdr)
{
	if (family == V2_TCP4) {
		struct sockaddr_in *src = (struct sockaddr_in *)&hdr->src;
		struct sockaddr_in *dst = (struct sockaddr_in *)&hdr->dst;
		src->sin_family = dst->sin_family = AF_INET;
		memcpy(&src->sin_addr, p, 4);
		memcpy(&dst->sin_addr, p + 4, 4);
		memcpy(&src->sin_port, p + 8, 2);
		memcpy(&dst->sin_port, p + 10, 2);
	} else {
		struct sockaddr_in6 *src = (struct sockaddr_in6 *)&hdr->src;
		struct sockaddr_in6 *dst = (struct sockaddr_in6 *)&hdr->dst;
		src->sin6_family = dst->sin6_family = AF_INET6;
		memcpy(&src->sin6_addr, p, 16);
		memcpy(&dst->sin6_addr, p + 16, 16);
		memcpy(&src->sin6_port, p + 32, 2);
		memcpy(&dst->sin6_port, p + 34, 2);
	}
}

/* A v2 header in p[0..len), into *hdr.  Each check is made as soon as the
 * byte it needs is there, in the order of the bytes. */
static enum step v2_header(const unsigned char *p, size_t len, size_t limit,
			   struct proxy_header *hdr)
{
	size_t sig = len < sizeof(V2_SIGNATURE) ? len : sizeof(V2_SIGNATURE);

	if (memcmp(p, V2_SIGNATURE, sig) != 0) {
		hdr->reason = NOT_PROXY;
		return STEP_BAD;
	}
	if (len < sizeof(V2_SIGNATURE))
		return STEP_MORE;
	hdr->version = 2;
	if (len == sizeof(V2_SIGNATURE))
		return STEP_MORE;
	unsigned version = p[12] >> 4, command = p[12] & 0x0f;
	if (version != 2)
		hdr->reason = "v2: unsupported version";
	else if (command != V2_LOCAL && command != V2_PROXY)
		hdr->reason = "v2: unknown command";
	if (hdr->reason != NULL)
		return STEP_BAD;
	if (len <= 13)
		return STEP_MORE;
	unsigned char family = p[13];
	long addr_len = v2_address_len(family);
	if (addr_len < 0)
		hdr->reason = "v2: unknown address family or transport";
	else if (command == V2_PROXY && (family & 0x0f) == 0x2)
		hdr->reason = "v2: datagram transport on a stream connection";
	if (hdr->reason != NULL)
		return STEP_BAD;
	if (len < PROXY_V2_FIXED)
		return STEP_MORE;
	size_t total = PROXY_V2_FIXED + ((size_t)p[14] << 8 | p[15]);
	if (total > limit)
		hdr->reason = "v2: header longer than the limit";
	else if (command == V2_PROXY &&
		 total < PROXY_V2_FIXED + (size_t)addr_len)
		hdr->reason = "v2: address block too short for its family";
	if (hdr->reason != NULL)
		return STEP_BAD;
	if (len < total)
		return STEP_MORE;

	hdr->length = total;
	hdr->command = PROXY_CMD_LOCAL;
	if (command == V2_LOCAL)
		return STEP_OK; /* the block is ignored, TLVs and all */
	if (!v2_tlvs_fit(p, PROXY_V2_FIXED + (size_t)addr_len, total)) {
		hdr->reason = "v2: TLV overruns the header";
		return STEP_BAD;
	}
	if (family == V2_TCP4 || family == V2_TCP6) {
		v2_addresses(p + PROXY_V2_FIXED, family, hdr);
		hdr->command = PROXY_CMD_PROXY;
	}
	return STEP_OK;
}

/* ============================== either ============================== */

enum proxy_status proxy_parse(const void *buf, size_t len, size_t limit,
			      struct proxy_header *hdr)
{
	const unsigned char *p = buf;
	enum step st;

	memset(hdr, 0, sizeof(*hdr));
	if (limit < PROXY_V1_MAX)
		limit = PROXY_V1_MAX;
	if (limit > PROXY_HEADER_MAX)
		limit = PROXY_HEADER_MAX;
	if (len == 0)
		return PROXY_NEED_MORE;

	/* The first byte says which version it can be: "PROXY " and the v2
	 * signature begin differently. */
	if (p[0] == 'P') {
		struct v1 v = {p, len < PROXY_V1_MAX ? len : PROXY_V1_MAX, 0,
			       NULL};
		st = v1_line(&v, hdr);
		hdr->reason = v.reason;
		hdr->length = v.pos;
		/* Wanting more after PROXY_V1_MAX bytes: the CRLF is not
		 * within the limit. */
		if (st == STEP_MORE && len >= PROXY_V1_MAX) {
			st = STEP_BAD;
			hdr->reason = "v1: header longer than 107 bytes";
		}
	} else if (p[0] == '\r') {
		st = v2_header(p, len, limit, hdr);
	} else {
		st = STEP_BAD;
		hdr->reason = NOT_PROXY;
	}

	if (st == STEP_OK)
		return PROXY_COMPLETE;
	/* Only the version and the reason mean anything now. */
	int version = hdr->version;
	const char *reason = hdr->reason;
	memset(hdr, 0, sizeof(*hdr));
	hdr->version = version;
	hdr->reason = st == STEP_BAD ? reason : NULL;
	return st == STEP_BAD ? PROXY_MALFORMED : PROXY_NEED_MORE;
}

/* ============================ --proxy-from ============================ */

/* The longest item worth quoting in a message. */
#define QUOTE_MAX 64

/* "invalid --proxy-from item 'ITEM' (why)" into err; returns -1. */
static int bad_item(const char *item, size_t len, const char *why, char *err,
		    size_t err_len)
{
	snprintf(err, err_len, "invalid --proxy-from item '%.*s'%s (%s)",
		 (int)(len < QUOTE_MAX ? len : QUOTE_MAX), item,
		 len > QUOTE_MAX ? "..." : "", why);
	return -1;
}

/* A prefix length: decimal digits, no sign, no leading zero, at most max.
 * Returns -1 if text[0..len) is not one. */
static int parse_bits(const char *text, size_t len, unsigned max)
{
	unsigned value = 0;

	if (len == 0 || len > 3 || (len > 1 && text[0] == '0'))
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (!is_digit((unsigned char)text[i]))
			return -1;
		value = value * 10 + (unsigned)(text[i] - '0');
	}
	return value <= max ? (int)value : -1;
}

/* One ADDR[/BITS] item, item[0..len), into *net. */
static int parse_item(const char *item, size_t len, struct proxy_net *net,
		      char *err, size_t err_len)
{
	static const char ADDR_WANTED[] = "expected an IPv4 or IPv6 address, "
					  "optionally /BITS";
	char text[INET6_ADDRSTRLEN];
	const char *slash = memchr(item, '/', len);
	size_t addr_len = slash != NULL ? (size_t)(slash - item) : len;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
	unsigned max;

	if (addr_len == 0 || addr_len >= sizeof(text))
		return bad_item(item, len, ADDR_WANTED, err, err_len);
	memcpy(text, item, addr_len);
	text[addr_len] = '\0';
	memset(&in, 0, sizeof(in));
	memset(&in6, 0, sizeof(in6));
	in.sin_family = AF_INET;
	in6.sin6_family = AF_INET6;
	if (inet_pton(AF_INET, text, &in.sin_addr) == 1) {
		/* Kept in IPv6 form, as the peers table keeps addresses. */
		peer_key_of((const struct sockaddr *)&in, &net->addr);
		max = 32;
	} else if (inet_pton(AF_INET6, text, &in6.sin6_addr) == 1) {
		peer_key_of((const struct sockaddr *)&in6, &net->addr);
		max = 128;
	} else {
		return bad_item(item, len, ADDR_WANTED, err, err_len);
	}
	int bits = max;
	if (slash != NULL) {
		bits = parse_bits(slash + 1, len - addr_len - 1, max);
		if (bits < 0)
			return bad_item(item, len,
					max == 32 ? "prefix length 0..32 for "
						    "an IPv4 address"
						  : "prefix length 0..128 for "
						    "an IPv6 address",
					err, err_len);
	}
	net->bits = (unsigned)bits + (128 - max);
	return 0;
}

int proxy_from_parse(const char *text, struct proxy_from *list, char *err,
		     size_t err_len)
{
	const char *item = text;

	memset(list, 0, sizeof(*list));
	for (;;) {
		size_t len = strcspn(item, ",");
		if (len == 0) {
			/* Nothing to quote but the list itself. */
			snprintf(err, err_len,
				 "invalid --proxy-from '%.*s'%s (empty item)",
				 QUOTE_MAX, text,
				 strlen(text) > QUOTE_MAX ? "..." : "");
			return -1;
		}
		if (list->count == PROXY_FROM_MAX) {
			snprintf(err, err_len,
				 "invalid --proxy-from: more than %d items",
				 PROXY_FROM_MAX);
			return -1;
		}
		if (parse_item(item, len, &list->net[list->count], err,
			       err_len) != 0)
			return -1;
		list->count++;
		if (item[len] == '\0')
			return 0;
		item += len + 1;
	}
}

/* Do a and b agree in their first bits bits? */
static bool prefix_equal(const unsigned char *a, const unsigned char *b,
			 unsigned bits)
{
	unsigned whole = bits / 8, rest = bits % 8;

	if (memcmp(a, b, whole) != 0)
		return false;
	if (rest == 0)
		return true;
	unsigned char mask = (unsigned char)(0xff << (8 - rest));
	return ((a[whole] ^ b[whole]) & mask) == 0;
}

bool proxy_from_match(const struct proxy_from *list,
		      const struct sockaddr *peer)
{
	struct peer_key key;

	if (!peer_key_of(peer, &key))
		return false;
	for (size_t i = 0; i < list->count; i++)
		if (prefix_equal(key.addr, list->net[i].addr.addr,
				 list->net[i].bits))
			return true;
	return false;
}
