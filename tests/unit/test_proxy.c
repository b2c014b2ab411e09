/*
 * test_proxy.c - unit tests of the PROXY protocol parser and the
 * --proxy-from list (proxy.h; docs/protocol.md, the draft of section 8),
 * one per rule, with no sockets: bytes go in, the exact verdict comes out.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "proxy.h"

/* ============================== helpers ============================== */

/* Parse len bytes of text with the recommended limit. */
static enum proxy_status parse(const void *text, size_t len,
			       struct proxy_header *hdr)
{
	return proxy_parse(text, len, PROXY_HEADER_RECOMMENDED, hdr);
}

/* Parse a NUL-terminated string. */
static enum proxy_status parse_str(const char *text, struct proxy_header *hdr)
{
	return parse(text, strlen(text), hdr);
}

/* text is malformed for reason, and every shorter prefix that is not
 * malformed needs more (so the verdict does not depend on the split). */
static void assert_malformed(const char *text, size_t len, const char *reason)
{
	struct proxy_header hdr;

	assert_int_equal(parse(text, len, &hdr), PROXY_MALFORMED);
	assert_string_equal(hdr.reason, reason);
	assert_int_equal(hdr.length, 0);
	for (size_t k = 0; k < len; k++) {
		enum proxy_status st = parse(text, k, &hdr);
		if (st == PROXY_MALFORMED)
			assert_string_equal(hdr.reason, reason);
		else
			assert_int_equal(st, PROXY_NEED_MORE);
	}
}

static void assert_malformed_str(const char *text, const char *reason)
{
	assert_malformed(text, strlen(text), reason);
}

/* ss is the IPv4 address text with port. */
static void assert_in4(const struct sockaddr_storage *ss, const char *text,
		       unsigned port)
{
	const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
	char got[INET_ADDRSTRLEN];

	assert_int_equal(ss->ss_family, AF_INET);
	assert_non_null(inet_ntop(AF_INET, &in->sin_addr, got, sizeof(got)));
	assert_string_equal(got, text);
	assert_int_equal(ntohs(in->sin_port), port);
}

/* ss is the IPv6 address text with port. */
static void assert_in6(const struct sockaddr_storage *ss, const char *text,
		       unsigned port)
{
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
	char got[INET6_ADDRSTRLEN];

	assert_int_equal(ss->ss_family, AF_INET6);
	assert_non_null(inet_ntop(AF_INET6, &in6->sin6_addr, got, sizeof(got)));
	assert_string_equal(got, text);
	assert_int_equal(ntohs(in6->sin6_port), port);
}

/* A LOCAL result of len bytes: no addresses. */
static void assert_local(const struct proxy_header *hdr, int version,
			 size_t len)
{
	assert_int_equal(hdr->version, version);
	assert_int_equal(hdr->command, PROXY_CMD_LOCAL);
	assert_int_equal(hdr->length, len);
	assert_int_equal(hdr->src.ss_family, AF_UNSPEC);
	assert_int_equal(hdr->dst.ss_family, AF_UNSPEC);
	assert_null(hdr->reason);
}

/* The fixed part of a v2 header: signature, byte 12, byte 13, length. */
static size_t v2_fixed(unsigned char *out, unsigned char ver_cmd,
		       unsigned char family, unsigned len)
{
	static const unsigned char sig[12] = {0x0d, 0x0a, 0x0d, 0x0a,
					      0x00, 0x0d, 0x0a, 0x51,
					      0x55, 0x49, 0x54, 0x0a};
	memcpy(out, sig, sizeof(sig));
	out[12] = ver_cmd;
	out[13] = family;
	out[14] = (unsigned char)(len >> 8);
	out[15] = (unsigned char)len;
	return 16;
}

/* A v2 PROXY TCP4 header from 192.0.2.1:56324 to 198.51.100.7:443, with
 * extra bytes of block after the addresses (TLVs, copied from tlv). */
static size_t v2_tcp4(unsigned char *out, const unsigned char *tlv,
		      size_t tlv_len)
{
	static const unsigned char addrs[12] = {192, 0, 2,    1,    198,  51,
						100, 7, 0xdc, 0x04, 0x01, 0xbb};
	size_t n = v2_fixed(out, 0x21, 0x11, (unsigned)(12 + tlv_len));
	memcpy(out + n, addrs, sizeof(addrs));
	n += sizeof(addrs);
	if (tlv_len > 0)
		memcpy(out + n, tlv, tlv_len);
	return n + tlv_len;
}

/* =============================== v1 =============================== */

static void test_v1_tcp4_gives_the_client_addresses(void **state)
{
	(void)state;
	struct proxy_header hdr;
	const char *h = "PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n";
	assert_int_equal(parse_str(h, &hdr), PROXY_COMPLETE);
	assert_int_equal(hdr.version, 1);
	assert_int_equal(hdr.command, PROXY_CMD_PROXY);
	assert_int_equal(hdr.length, strlen(h));
	assert_null(hdr.reason);
	assert_in4(&hdr.src, "192.0.2.1", 56324);
	assert_in4(&hdr.dst, "198.51.100.7", 443);
}

static void test_v1_tcp6_gives_the_client_addresses(void **state)
{
	(void)state;
	struct proxy_header hdr;
	const char *h =
	    "PROXY TCP6 2001:db8::1 ::ffff:198.51.100.7 0 65535\r\n";
	assert_int_equal(parse_str(h, &hdr), PROXY_COMPLETE);
	assert_int_equal(hdr.version, 1);
	assert_int_equal(hdr.command, PROXY_CMD_PROXY);
	assert_int_equal(hdr.length, strlen(h));
	assert_in6(&hdr.src, "2001:db8::1", 0);
	assert_in6(&hdr.dst, "::ffff:198.51.100.7", 65535);
}

static void test_v1_unknown_keeps_the_real_peer(void **state)
{
	(void)state;
	struct proxy_header hdr;
	assert_int_equal(parse_str("PROXY UNKNOWN\r\n", &hdr), PROXY_COMPLETE);
	assert_local(&hdr, 1, 15);
}

/* The specification: after UNKNOWN the receiver ignores the rest of the
 * line, whatever it holds. */
static void test_v1_unknown_ignores_the_rest_of_the_line(void **state)
{
	(void)state;
	struct proxy_header hdr;
	const char *h = "PROXY UNKNOWN ffff::1  not checked 99999 \r\n";
	assert_int_equal(parse_str(h, &hdr), PROXY_COMPLETE);
	assert_local(&hdr, 1, strlen(h));
}

static void test_v1_split_byte_by_byte_needs_more_until_the_crlf(void **state)
{
	(void)state;
	struct proxy_header hdr;
	const char *h = "PROXY TCP4 10.1.2.3 10.0.0.1 40000 7\r\n";
	size_t n = strlen(h);
	for (size_t k = 0; k < n; k++) {
		assert_int_equal(parse(h, k, &hdr), PROXY_NEED_MORE);
		assert_null(hdr.reason);
		assert_int_equal(hdr.length, 0);
	}
	assert_int_equal(parse(h, n, &hdr), PROXY_COMPLETE);
	assert_int_equal(hdr.length, n);
	assert_in4(&hdr.src, "10.1.2.3", 40000);
	assert_in4(&hdr.dst, "10.0.0.1", 7);
}

static void test_v1_data_after_the_header_is_left_for_the_caller(void **state)
{
	(void)state;
	struct proxy_header hdr;
	const char h[] = "PROXY TCP4 192.0.2.1 192.0.2.2 1 2\r\nhello\nquit\n";
	assert_int_equal(parse(h, sizeof(h) - 1, &hdr), PROXY_COMPLETE);
	assert_int_equal(hdr.length, 36);
	assert_string_equal(h + hdr.length, "hello\nquit\n");
}

/* A v1 header is at most 107 bytes, CRLF included: 107 is accepted. */
static void test_v1_header_of_107_bytes_is_accepted(void **state)
{
	(void)state;
	struct proxy_header hdr;
	char h[PROXY_V1_MAX + 1];
	memset(h, 'x', sizeof(h));
	memcpy(h, "PROXY UNKNOWN ", 14);
	memcpy(h + PROXY_V1_MAX - 2, "\r\n", 2);
	assert_int_equal(parse(h, PROXY_V1_MAX, &hdr), PROXY_COMPLETE);
	assert_local(&hdr, 1, PROXY_V1_MAX);
}

static void test_v1_longer_than_107_bytes_is_malformed(void **state)
{
	(void)state;
	char h[PROXY_V1_MAX + 2];
	memset(h, 'x', sizeof(h));
	memcpy(h, "PROXY UNKNOWN ", 14);
	memcpy(h + PROXY_V1_MAX - 1, "\r\n", 2);
	/* Refused at byte 107, before the CRLF that would end it. */
	assert_malformed(h, sizeof(h), "v1: header longer than 107 bytes");
	struct proxy_header hdr;
	assert_int_equal(parse(h, PROXY_V1_MAX - 1, &hdr), PROXY_NEED_MORE);
	assert_int_equal(parse(h, PROXY_V1_MAX, &hdr), PROXY_MALFORMED);
}

/* A full IPv6 header with IPv4 tails does not fit in 107 bytes. */
static void test_v1_longest_addresses_do_not_fit(void **state)
{
	(void)state;
	assert_malformed_str("PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:"
			     "255.255.255.255 ffff:ffff:ffff:ffff:ffff:ffff:"
			     "255.255.255.255 65535 65535\r\n",
			     "v1: header longer than 107 bytes");
}

static void test_v1_fields_are_separated_by_single_spaces(void **state)
{
	(void)state;
	const char *spacing = "v1: fields must be separated by single spaces";
	assert_malformed_str("PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n", spacing);
	assert_malformed_str("PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n", spacing);
	assert_malformed_str("PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n", spacing);
	assert_malformed_str("PROXY TCP4 1.2.3.4 5.6.7.8 1  2\r\n", spacing);
	assert_malformed_str("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n",
			     "v1: a space after the last field");
	assert_malformed_str("PROXY TCP4 1.2.3.4\t5.6.7.8 1 2\r\n",
			     "v1: bad source address");
	/* "PROXY" must be followed by exactly one space, or it is not the
	 * signature at all. */
	assert_malformed_str("PROXY\tTCP4", "not a PROXY protocol header");
}

static void test_v1_too_few_fields(void **state)
{
	(void)state;
	const char *few = "v1: too few fields";
	assert_malformed_str("PROXY TCP4\r\n", few);
	assert_malformed_str("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", few);
	assert_malformed_str("PROXY TCP4 1.2.3.4 5.6.7.8 1 \r\n", few);
	assert_malformed_str("PROXY TCP6 ::1 ::1\n", few);
}

static void test_v1_bad_port(void **state)
{
	(void)state;
	const char *src = "v1: bad source port";
	const char *dst = "v1: bad destination port";
	assert_malformed_str("PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n", src);
	assert_malformed_str("PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n", src);
	assert_malformed_str("PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n", src);
	assert_malformed_str("PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n", src);
	assert_malformed_str("PROXY TCP4 1.2.3.4 5.6.7.8 123456 2\r\n", src);
	assert_malformed_str("PROXY TCP4 1.2.3.4 5.6.7.8 0x10 2\r\n", src);
	assert_malformed_str("PROXY TCP4 1.2.3.4 5.6.7.8 1 00\r\n", dst);
	assert_malformed_str("PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n", dst);
	assert_malformed_str("PROXY TCP4 1.2.3.4 5.6.7.8 1 http\r\n", dst);
}

static void test_v1_ports_0_and_65535_are_accepted(void **state)
{
	(void)state;
	struct proxy_header hdr;
	assert_int_equal(
	    parse_str("PROXY TCP4 1.2.3.4 5.6.7.8 0 65535\r\n", &hdr),
	    PROXY_COMPLETE);
	assert_in4(&hdr.src, "1.2.3.4", 0);
	assert_in4(&hdr.dst, "5.6.7.8", 65535);
}

static void test_v1_bad_address(void **state)
{
	(void)state;
	const char *src = "v1: bad source address";
	const char *dst = "v1: bad destination address";
	assert_malformed_str("PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n", src);
	assert_malformed_str("PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n", src);
	assert_malformed_str("PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n", src);
	assert_malformed_str("PROXY TCP4 localhost 5.6.7.8 1 2\r\n", src);
	assert_malformed_str("PROXY TCP4 1.2.3.4 5.6.7.8.9 1 2\r\n", dst);
	assert_malformed_str("PROXY TCP6 ::1 2001:db8:::1 1 2\r\n", dst);
	assert_malformed_str("PROXY TCP6 ::1 [::1] 1 2\r\n", dst);
	assert_malformed_str("PROXY TCP6 fe80::1%lo ::1 1 2\r\n", src);
}

static void test_v1_family_mismatch(void **state)
{
	(void)state;
	assert_malformed_str("PROXY TCP4 ::1 5.6.7.8 1 2\r\n",
			     "v1: source address is not of the protocol's "
			     "family");
	assert_malformed_str("PROXY TCP6 ::1 5.6.7.8 1 2\r\n",
			     "v1: destination address is not of the "
			     "protocol's family");
}

static void test_v1_missing_crlf(void **state)
{
	(void)state;
	const char *crlf = "v1: line does not end with CRLF";
	assert_malformed_str("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", crlf);
	assert_malformed_str("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\r\n", crlf);
	assert_malformed_str("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX", crlf);
	assert_malformed_str("PROXY UNKNOWN\n", crlf);
	assert_malformed_str("PROXY UNKNOWN whatever\n", crlf);
}

/* "PROXY HTTP" is refused at the H, without waiting for the line. */
static void test_v1_unknown_protocol_is_refused_early(void **state)
{
	(void)state;
	const char *proto = "v1: unknown protocol (not TCP4, TCP6 or UNKNOWN)";
	struct proxy_header hdr;
	assert_int_equal(parse_str("PROXY H", &hdr), PROXY_MALFORMED);
	assert_string_equal(hdr.reason, proto);
	assert_int_equal(hdr.version, 1);
	assert_malformed_str("PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n", proto);
	assert_malformed_str("PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n", proto);
	assert_malformed_str("PROXY TCP 1.2.3.4 5.6.7.8 1 2\r\n", proto);
	assert_malformed_str("PROXY UNKNOWNX\r\n", proto);
	assert_malformed_str("PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n", proto);
}

/* =============================== v2 =============================== */

static void test_v2_proxy_ipv4_gives_the_client_addresses(void **state)
{
	(void)state;
	unsigned char h[64];
	struct proxy_header hdr;
	size_t n = v2_tcp4(h, NULL, 0);
	assert_int_equal(n, 28);
	assert_int_equal(parse(h, n, &hdr), PROXY_COMPLETE);
	assert_int_equal(hdr.version, 2);
	assert_int_equal(hdr.command, PROXY_CMD_PROXY);
	assert_int_equal(hdr.length, 28);
	assert_null(hdr.reason);
	assert_in4(&hdr.src, "192.0.2.1", 56324);
	assert_in4(&hdr.dst, "198.51.100.7", 443);
}

static void test_v2_proxy_ipv6_gives_the_client_addresses(void **state)
{
	(void)state;
	unsigned char h[64];
	struct proxy_header hdr;
	size_t n = v2_fixed(h, 0x21, 0x21, 36);
	assert_int_equal(inet_pton(AF_INET6, "2001:db8::1", h + n), 1);
	assert_int_equal(inet_pton(AF_INET6, "2001:db8::2", h + n + 16), 1);
	memcpy(h + n + 32, "\x00\x50\xff\xff", 4); /* 80, 65535 */
	n += 36;
	assert_int_equal(parse(h, n, &hdr), PROXY_COMPLETE);
	assert_int_equal(hdr.version, 2);
	assert_int_equal(hdr.command, PROXY_CMD_PROXY);
	assert_int_equal(hdr.length, 52);
	assert_in6(&hdr.src, "2001:db8::1", 80);
	assert_in6(&hdr.dst, "2001:db8::2", 65535);
}

/* LOCAL (a health check from the balancer itself): the block is ignored,
 * whatever its family says. */
static void test_v2_local_keeps_the_real_peer(void **state)
{
	(void)state;
	unsigned char h[64];
	struct proxy_header hdr;
	size_t n = v2_fixed(h, 0x20, 0x00, 0);
	assert_int_equal(parse(h, n, &hdr), PROXY_COMPLETE);
	assert_local(&hdr, 2, 16);

	/* LOCAL with addresses (and a stray byte): ignored all the same. */
	n = v2_tcp4(h, (const unsigned char *)"\x01", 1);
	h[12] = 0x20;
	assert_int_equal(parse(h, n, &hdr), PROXY_COMPLETE);
	assert_local(&hdr, 2, 29);
}

/* PROXY whose client has no IP address: UNSPEC, or a Unix-domain stream on
 * the balancer.  The real peer stands for it. */
static void test_v2_unspec_and_unix_stream_keep_the_real_peer(void **state)
{
	(void)state;
	unsigned char h[300];
	struct proxy_header hdr;
	size_t n = v2_fixed(h, 0x21, 0x00, 0);
	assert_int_equal(parse(h, n, &hdr), PROXY_COMPLETE);
	assert_local(&hdr, 2, 16);

	n = v2_fixed(h, 0x21, 0x31, 216);
	memset(h + n, 0, 216);
	memcpy(h + n, "/run/lb.sock", 12);
	n += 216;
	assert_int_equal(parse(h, n, &hdr), PROXY_COMPLETE);
	assert_local(&hdr, 2, 232);
}

static void test_v2_dgram_is_malformed(void **state)
{
	(void)state;
	const char *dgram = "v2: datagram transport on a stream connection";
	unsigned char fam[] = {0x12, 0x22, 0x32};
	for (size_t i = 0; i < sizeof(fam); i++) {
		unsigned char h[300] = {0};
		size_t n = v2_fixed(h, 0x21, fam[i], 216);
		assert_malformed((const char *)h, n + 216, dgram);
		/* Refused at byte 13, before the length arrives. */
		struct proxy_header hdr;
		assert_int_equal(parse(h, 14, &hdr), PROXY_MALFORMED);
	}
}

static void test_v2_undefined_family_byte_is_malformed(void **state)
{
	(void)state;
	const char *fam = "v2: unknown address family or transport";
	unsigned char bad[] = {0x01, 0x10, 0x13, 0x41, 0xff};
	for (size_t i = 0; i < sizeof(bad); i++) {
		unsigned char h[64] = {0};
		size_t n = v2_fixed(h, 0x21, bad[i], 36);
		assert_malformed((const char *)h, n + 36, fam);
		n = v2_fixed(h, 0x20, bad[i], 36); /* LOCAL too */
		assert_malformed((const char *)h, n + 36, fam);
	}
}

static void test_v2_tlvs_are_skipped(void **state)
{
	(void)state;
	/* PP2_TYPE_ALPN "h2", PP2_TYPE_NOOP of 0 bytes, a type 0xee of 5. */
	static const unsigned char tlv[] = {0x01, 0x00, 0x02, 'h',  '2',  0x04,
					    0x00, 0x00, 0xee, 0x00, 0x05, 1,
					    2,    3,    4,    5};
	unsigned char h[64];
	struct proxy_header hdr;
	size_t n = v2_tcp4(h, tlv, sizeof(tlv));
	assert_int_equal(parse(h, n, &hdr), PROXY_COMPLETE);
	assert_int_equal(hdr.command, PROXY_CMD_PROXY);
	assert_int_equal(hdr.length, 28 + sizeof(tlv));
	assert_in4(&hdr.src, "192.0.2.1", 56324);
}

static void test_v2_tlv_overrunning_the_header_is_malformed(void **state)
{
	(void)state;
	const char *overrun = "v2: TLV overruns the header";
	unsigned char h[64];
	/* A TLV saying 3 bytes, with 2. */
	size_t n = v2_tcp4(h, (const unsigned char *)"\x01\x00\x03xy", 5);
	assert_malformed((const char *)h, n, overrun);
	/* Two bytes that cannot be a TLV's head. */
	n = v2_tcp4(h, (const unsigned char *)"\x01\x00", 2);
	assert_malformed((const char *)h, n, overrun);
}

/* The length field says more than the caller will hold: refused as soon as
 * it arrives, not after the bytes it announces. */
static void test_v2_length_beyond_the_limit_is_malformed(void **state)
{
	(void)state;
	const char *longer = "v2: header longer than the limit";
	unsigned char h[PROXY_V2_FIXED];
	struct proxy_header hdr;
	v2_fixed(h, 0x21, 0x11, PROXY_HEADER_RECOMMENDED - 16 + 1);
	assert_malformed((const char *)h, sizeof(h), longer);
	/* Exactly the limit is fine so far; the largest limit takes all. */
	v2_fixed(h, 0x21, 0x11, PROXY_HEADER_RECOMMENDED - 16);
	assert_int_equal(parse(h, sizeof(h), &hdr), PROXY_NEED_MORE);
	v2_fixed(h, 0x21, 0x11, 65535);
	assert_int_equal(proxy_parse(h, sizeof(h), PROXY_HEADER_MAX, &hdr),
			 PROXY_NEED_MORE);
}

/* A limit below PROXY_V1_MAX counts as PROXY_V1_MAX. */
static void test_limit_is_at_least_107(void **state)
{
	(void)state;
	unsigned char h[PROXY_V2_FIXED];
	struct proxy_header hdr;
	v2_fixed(h, 0x21, 0x11, PROXY_V1_MAX - 16);
	assert_int_equal(proxy_parse(h, sizeof(h), 0, &hdr), PROXY_NEED_MORE);
	v2_fixed(h, 0x21, 0x11, PROXY_V1_MAX - 16 + 1);
	assert_int_equal(proxy_parse(h, sizeof(h), 0, &hdr), PROXY_MALFORMED);
	assert_string_equal(hdr.reason, "v2: header longer than the limit");
}

static void test_v2_block_too_short_for_its_family(void **state)
{
	(void)state;
	const char *shrt = "v2: address block too short for its family";
	unsigned char h[64] = {0};
	size_t n = v2_fixed(h, 0x21, 0x11, 11);
	assert_malformed((const char *)h, n + 11, shrt);
	n = v2_fixed(h, 0x21, 0x21, 12);
	assert_malformed((const char *)h, n + 12, shrt);
	n = v2_fixed(h, 0x21, 0x31, 36);
	assert_malformed((const char *)h, n + 36, shrt);
}

static void test_v2_bad_version(void **state)
{
	(void)state;
	unsigned char h[64];
	size_t n = v2_tcp4(h, NULL, 0);
	h[12] = 0x11; /* version 1 in binary: no such thing */
	assert_malformed((const char *)h, n, "v2: unsupported version");
	h[12] = 0x31;
	assert_malformed((const char *)h, n, "v2: unsupported version");
}

static void test_v2_bad_command(void **state)
{
	(void)state;
	unsigned char h[64];
	size_t n = v2_tcp4(h, NULL, 0);
	h[12] = 0x22;
	assert_malformed((const char *)h, n, "v2: unknown command");
	h[12] = 0x2f;
	assert_malformed((const char *)h, n, "v2: unknown command");
}

/* Every proper prefix of a valid header needs more, never a verdict. */
static void test_v2_truncated_needs_more(void **state)
{
	(void)state;
	static const unsigned char tlv[] = {0x05, 0x00, 0x01, 0x42};
	unsigned char h[64];
	struct proxy_header hdr;
	size_t n = v2_tcp4(h, tlv, sizeof(tlv));
	for (size_t k = 0; k < n; k++) {
		assert_int_equal(parse(h, k, &hdr), PROXY_NEED_MORE);
		assert_int_equal(hdr.version, k >= 12 ? 2 : 0);
		assert_null(hdr.reason);
	}
	assert_int_equal(parse(h, n, &hdr), PROXY_COMPLETE);
}

static void test_v2_data_after_the_header_is_left_for_the_caller(void **state)
{
	(void)state;
	unsigned char h[64];
	struct proxy_header hdr;
	size_t n = v2_tcp4(h, NULL, 0);
	memcpy(h + n, "hello\n", 6);
	assert_int_equal(parse(h, n + 6, &hdr), PROXY_COMPLETE);
	assert_int_equal(hdr.length, n);
	assert_memory_equal(h + hdr.length, "hello\n", 6);
}

/* A signature wrong in any byte is refused at that byte. */
static void test_v2_bad_signature_is_refused_at_the_wrong_byte(void **state)
{
	(void)state;
	unsigned char h[64];
	struct proxy_header hdr;
	size_t n = v2_tcp4(h, NULL, 0);
	for (size_t i = 1; i < 12; i++) {
		unsigned char good = h[i];
		h[i] ^= 0x20;
		assert_int_equal(parse(h, i, &hdr), PROXY_NEED_MORE);
		assert_int_equal(parse(h, i + 1, &hdr), PROXY_MALFORMED);
		assert_string_equal(hdr.reason, "not a PROXY protocol header");
		assert_int_equal(hdr.version, 0);
		assert_malformed((const char *)h, n,
				 "not a PROXY protocol header");
		h[i] = good;
	}
}

/* =========================== early refusal =========================== */

/* A listed peer that sends no header is told at its first byte. */
static void test_hello_is_refused_at_its_first_byte(void **state)
{
	(void)state;
	struct proxy_header hdr;
	assert_int_equal(parse_str("h", &hdr), PROXY_MALFORMED);
	assert_string_equal(hdr.reason, "not a PROXY protocol header");
	assert_int_equal(hdr.version, 0);
	assert_malformed_str("hello\n", "not a PROXY protocol header");
	assert_malformed_str("\n", "not a PROXY protocol header");
	assert_malformed_str("PING\r\n", "not a PROXY protocol header");
	assert_malformed_str("\r\nhello", "not a PROXY protocol header");
}

static void test_nothing_yet_needs_more(void **state)
{
	(void)state;
	struct proxy_header hdr;
	assert_int_equal(proxy_parse(NULL, 0, PROXY_HEADER_RECOMMENDED, &hdr),
			 PROXY_NEED_MORE);
	assert_int_equal(hdr.version, 0);
	assert_null(hdr.reason);
	assert_int_equal(parse_str("PROXY", &hdr), PROXY_NEED_MORE);
	assert_int_equal(hdr.version, 0);
	assert_int_equal(parse_str("PROXY ", &hdr), PROXY_NEED_MORE);
	assert_int_equal(hdr.version, 1);
}

/* ============================ --proxy-from ============================ */

static struct sockaddr_storage peer4(const char *text)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;
	memset(&ss, 0, sizeof(ss));
	in->sin_family = AF_INET;
	in->sin_port = htons(4000);
	assert_int_equal(inet_pton(AF_INET, text, &in->sin_addr), 1);
	return ss;
}

static struct sockaddr_storage peer6(const char *text)
{
	struct sockaddr_storage ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	memset(&ss, 0, sizeof(ss));
	in6->sin6_family = AF_INET6;
	in6->sin6_port = htons(4000);
	assert_int_equal(inet_pton(AF_INET6, text, &in6->sin6_addr), 1);
	return ss;
}

/* Does the list text (which must parse) match the peer? */
static bool matches(const char *text, struct sockaddr_storage peer)
{
	struct proxy_from list;
	char err[256];
	assert_int_equal(proxy_from_parse(text, &list, err, sizeof(err)), 0);
	return proxy_from_match(&list, (const struct sockaddr *)&peer);
}

/* text is refused with exactly message. */
static void assert_list_refused(const char *text, const char *message)
{
	struct proxy_from list;
	char err[256];
	assert_int_equal(proxy_from_parse(text, &list, err, sizeof(err)), -1);
	assert_string_equal(err, message);
}

static void test_list_bare_ipv4_is_the_whole_address(void **state)
{
	(void)state;
	struct proxy_from list;
	char err[256];
	assert_int_equal(proxy_from_parse("10.0.0.1", &list, err, sizeof(err)),
			 0);
	assert_int_equal(list.count, 1);
	assert_int_equal(list.net[0].bits, 128); /* ::ffff:10.0.0.1/128 */
	assert_true(matches("10.0.0.1", peer4("10.0.0.1")));
	assert_false(matches("10.0.0.1", peer4("10.0.0.2")));
	assert_true(matches("10.0.0.1/32", peer4("10.0.0.1")));
	assert_false(matches("10.0.0.1/32", peer4("10.0.0.0")));
}

static void test_list_ipv4_prefix(void **state)
{
	(void)state;
	assert_true(matches("10.0.0.0/8", peer4("10.255.1.2")));
	assert_false(matches("10.0.0.0/8", peer4("11.0.0.1")));
	/* A prefix that does not end on a byte. */
	assert_true(matches("192.168.0.0/23", peer4("192.168.1.255")));
	assert_false(matches("192.168.0.0/23", peer4("192.168.2.0")));
}

/* Bits past the prefix are ignored, not refused. */
static void test_list_host_bits_past_the_prefix_are_ignored(void **state)
{
	(void)state;
	assert_true(matches("10.1.2.3/8", peer4("10.9.9.9")));
	assert_true(matches("2001:db8::1/32", peer6("2001:db8:ffff::1")));
}

static void test_list_ipv4_slash_0_is_every_ipv4_peer(void **state)
{
	(void)state;
	assert_true(matches("0.0.0.0/0", peer4("203.0.113.9")));
	assert_true(matches("0.0.0.0/0", peer6("::ffff:203.0.113.9")));
	assert_false(matches("0.0.0.0/0", peer6("2001:db8::1")));
}

static void test_list_ipv6_slash_0_is_every_peer(void **state)
{
	(void)state;
	assert_true(matches("::/0", peer6("2001:db8::1")));
	assert_true(matches("::/0", peer4("203.0.113.9")));
}

static void test_list_ipv6_slash_128_and_prefixes(void **state)
{
	(void)state;
	assert_true(matches("2001:db8::1/128", peer6("2001:db8::1")));
	assert_false(matches("2001:db8::1/128", peer6("2001:db8::2")));
	assert_true(matches("::1", peer6("::1")));
	assert_false(matches("::1", peer6("::2")));
	assert_true(matches("2001:db8::/33", peer6("2001:db8:7fff::1")));
	assert_false(matches("2001:db8::/33", peer6("2001:db8:8000::1")));
}

/* A dual-stack socket reports an IPv4 client as ::ffff:a.b.c.d. */
static void test_list_mapped_peer_matches_ipv4_entries(void **state)
{
	(void)state;
	assert_true(matches("192.0.2.7", peer6("::ffff:192.0.2.7")));
	assert_true(matches("192.0.2.0/24", peer6("::ffff:192.0.2.99")));
	assert_false(matches("192.0.2.0/24", peer6("::ffff:192.0.3.1")));
	/* ... and an IPv6 entry written in mapped form matches plain IPv4. */
	assert_true(matches("::ffff:192.0.2.0/120", peer4("192.0.2.5")));
}

static void test_list_of_several_items(void **state)
{
	(void)state;
	const char *list = "127.0.0.1,10.0.0.0/8,2001:db8::/32,::1";
	assert_true(matches(list, peer4("127.0.0.1")));
	assert_true(matches(list, peer4("10.2.3.4")));
	assert_true(matches(list, peer6("2001:db8::5")));
	assert_true(matches(list, peer6("::1")));
	assert_false(matches(list, peer4("127.0.0.2")));
	assert_false(matches(list, peer6("2001:db9::5")));
}

static void test_list_other_families_never_match(void **state)
{
	(void)state;
	struct proxy_from list;
	struct sockaddr_un un;
	char err[256];
	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	assert_int_equal(proxy_from_parse("::/0", &list, err, sizeof(err)), 0);
	assert_false(proxy_from_match(&list, (const struct sockaddr *)&un));
}

static void test_list_bad_items_are_named(void **state)
{
	(void)state;
	const char *addr = "expected an IPv4 or IPv6 address, optionally /BITS";
	char want[256];
#define REFUSED(text, item, why)                                               \
	do {                                                                   \
		snprintf(want, sizeof(want),                                   \
			 "invalid --proxy-from item '%s' (%s)", item, why);    \
		assert_list_refused(text, want);                               \
	} while (0)
	REFUSED("10.0.0.256", "10.0.0.256", addr);
	REFUSED("10.0.0.1,bogus", "bogus", addr);
	REFUSED("localhost", "localhost", addr);
	REFUSED("127.1", "127.1", addr);
	REFUSED("[::1]", "[::1]", addr);
	REFUSED(" 10.0.0.1", " 10.0.0.1", addr);
	REFUSED("/8", "/8", addr);
	assert_list_refused(
	    "10.0.0.1,,::1",
	    "invalid --proxy-from '10.0.0.1,,::1' (empty item)");
	assert_list_refused("10.0.0.1,",
			    "invalid --proxy-from '10.0.0.1,' (empty item)");
	assert_list_refused(",::1", "invalid --proxy-from ',::1' (empty item)");
	assert_list_refused("", "invalid --proxy-from '' (empty item)");
	REFUSED("10.0.0.0/33", "10.0.0.0/33",
		"prefix length 0..32 for an IPv4 address");
	REFUSED("10.0.0.0/", "10.0.0.0/",
		"prefix length 0..32 for an IPv4 address");
	REFUSED("10.0.0.0/08", "10.0.0.0/08",
		"prefix length 0..32 for an IPv4 address");
	REFUSED("10.0.0.0/+8", "10.0.0.0/+8",
		"prefix length 0..32 for an IPv4 address");
	REFUSED("10.0.0.0/8/8", "10.0.0.0/8/8",
		"prefix length 0..32 for an IPv4 address");
	REFUSED("::1/129", "::1/129",
		"prefix length 0..128 for an IPv6 address");
	REFUSED("::1/1000", "::1/1000",
		"prefix length 0..128 for an IPv6 address");
#undef REFUSED
}

static void test_list_holds_at_most_32_items(void **state)
{
	(void)state;
	char text[32 * 16 + 16] = "";
	struct proxy_from list;
	char err[256];
	for (int i = 0; i < PROXY_FROM_MAX; i++)
		snprintf(text + strlen(text), sizeof(text) - strlen(text),
			 "%s10.0.0.%d", i ? "," : "", i);
	assert_int_equal(proxy_from_parse(text, &list, err, sizeof(err)), 0);
	assert_int_equal(list.count, PROXY_FROM_MAX);
	struct sockaddr_storage last = peer4("10.0.0.31");
	assert_true(proxy_from_match(&list, (const struct sockaddr *)&last));
	snprintf(text + strlen(text), sizeof(text) - strlen(text),
		 ",10.0.0.32");
	assert_list_refused(text, "invalid --proxy-from: more than 32 items");
}

/* A long bad item is quoted in part, so the message stays one line. */
static void test_list_long_bad_item_is_cut_in_the_message(void **state)
{
	(void)state;
	char text[200], want[256];
	memset(text, 'x', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	snprintf(want, sizeof(want),
		 "invalid --proxy-from item '%.64s'... (expected an IPv4 or "
		 "IPv6 address, optionally /BITS)",
		 text);
	assert_list_refused(text, want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_v1_tcp4_gives_the_client_addresses),
	    cmocka_unit_test(test_v1_tcp6_gives_the_client_addresses),
	    cmocka_unit_test(test_v1_unknown_keeps_the_real_peer),
	    cmocka_unit_test(test_v1_unknown_ignores_the_rest_of_the_line),
	    cmocka_unit_test(
		test_v1_split_byte_by_byte_needs_more_until_the_crlf),
	    cmocka_unit_test(
		test_v1_data_after_the_header_is_left_for_the_caller),
	    cmocka_unit_test(test_v1_header_of_107_bytes_is_accepted),
	    cmocka_unit_test(test_v1_longer_than_107_bytes_is_malformed),
	    cmocka_unit_test(test_v1_longest_addresses_do_not_fit),
	    cmocka_unit_test(test_v1_fields_are_separated_by_single_spaces),
	    cmocka_unit_test(test_v1_too_few_fields),
	    cmocka_unit_test(test_v1_bad_port),
	    cmocka_unit_test(test_v1_ports_0_and_65535_are_accepted),
	    cmocka_unit_test(test_v1_bad_address),
	    cmocka_unit_test(test_v1_family_mismatch),
	    cmocka_unit_test(test_v1_missing_crlf),
	    cmocka_unit_test(test_v1_unknown_protocol_is_refused_early),
	    cmocka_unit_test(test_v2_proxy_ipv4_gives_the_client_addresses),
	    cmocka_unit_test(test_v2_proxy_ipv6_gives_the_client_addresses),
	    cmocka_unit_test(test_v2_local_keeps_the_real_peer),
	    cmocka_unit_test(test_v2_unspec_and_unix_stream_keep_the_real_peer),
	    cmocka_unit_test(test_v2_dgram_is_malformed),
	    cmocka_unit_test(test_v2_undefined_family_byte_is_malformed),
	    cmocka_unit_test(test_v2_tlvs_are_skipped),
	    cmocka_unit_test(test_v2_tlv_overrunning_the_header_is_malformed),
	    cmocka_unit_test(test_v2_length_beyond_the_limit_is_malformed),
	    cmocka_unit_test(test_limit_is_at_least_107),
	    cmocka_unit_test(test_v2_block_too_short_for_its_family),
	    cmocka_unit_test(test_v2_bad_version),
	    cmocka_unit_test(test_v2_bad_command),
	    cmocka_unit_test(test_v2_truncated_needs_more),
	    cmocka_unit_test(
		test_v2_data_after_the_header_is_left_for_the_caller),
	    cmocka_unit_test(
		test_v2_bad_signature_is_refused_at_the_wrong_byte),
	    cmocka_unit_test(test_hello_is_refused_at_its_first_byte),
	    cmocka_unit_test(test_nothing_yet_needs_more),
	    cmocka_unit_test(test_list_bare_ipv4_is_the_whole_address),
	    cmocka_unit_test(test_list_ipv4_prefix),
	    cmocka_unit_test(test_list_host_bits_past_the_prefix_are_ignored),
	    cmocka_unit_test(test_list_ipv4_slash_0_is_every_ipv4_peer),
	    cmocka_unit_test(test_list_ipv6_slash_0_is_every_peer),
	    cmocka_unit_test(test_list_ipv6_slash_128_and_prefixes),
	    cmocka_unit_test(test_list_mapped_peer_matches_ipv4_entries),
	    cmocka_unit_test(test_list_of_several_items),
	    cmocka_unit_test(test_list_other_families_never_match),
	    cmocka_unit_test(test_list_bad_items_are_named),
	    cmocka_unit_test(test_list_holds_at_most_32_items),
	    cmocka_unit_test(test_list_long_bad_item_is_cut_in_the_message),
	};
	return cmocka_run_group_tests_name("proxy", tests, NULL, NULL);
}
