/*
 * fuzz_proxy.c - libFuzzer target for the PROXY protocol parser and the
 * --proxy-from list (proxy.h).
 *
 * The input is a two-byte header and then the bytes a connection sends:
 *
 *     byte 0      the limit passed to proxy_parse(): 0 PROXY_HEADER_MAX,
 *                 1 PROXY_HEADER_RECOMMENDED, else 4 times the byte (those
 *                 below PROXY_V1_MAX try the clamp)
 *     byte 1      where the stream is cut in two: after n * byte / 255
 *                 of its n bytes
 *     bytes 2-    the stream
 *
 * The stream is parsed whole, and its first piece alone from a buffer of
 * exactly that size (so AddressSanitizer catches a read past the bytes
 * given), as a caller does that reads the header in two pieces.  Checked:
 *
 *   - the result is well formed: a complete header lies within the input
 *     and the limit, has addresses of one IP family for PROXY and none for
 *     LOCAL; a malformed one has a reason; a stream that needs more is
 *     shorter than the limit (a caller holding that much gets an answer);
 *   - the first piece says "need more" or exactly what the whole says (a
 *     verdict never changes as bytes arrive), and "need more" when the
 *     whole header is longer than the piece;
 *   - the addresses are the ones in the header: a v2 block's bytes; a v1
 *     TCP4 line printed again from them is the line itself;
 *   - the same bytes as a --proxy-from value parse without harm: a list
 *     of 1..PROXY_FROM_MAX entries each matching its own address, or one
 *     line of complaint.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy.h"

#define HEADER_LEN 2

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

_Noreturn static void fail(const char *what, size_t n,
			   const struct proxy_header *hdr)
{
	fprintf(stderr,
		"fuzz_proxy: %s (%zu stream bytes, version %d, length %zu, "
		"reason %s)\n",
		what, n, hdr->version, hdr->length,
		hdr->reason ? hdr->reason : "none");
	abort();
}

static size_t limit_of(uint8_t b)
{
	if (b == 0)
		return PROXY_HEADER_MAX;
	if (b == 1)
		return PROXY_HEADER_RECOMMENDED;
	return (size_t)b * 4;
}

static int all_zero(const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i] != 0)
			return 0;
	return 1;
}

/* A v1 TCP4 line printed again from what the parser found. */
static int v1_tcp4_line(const struct proxy_header *hdr, char *out, size_t len)
{
	const struct sockaddr_in *src = (const struct sockaddr_in *)&hdr->src;
	const struct sockaddr_in *dst = (const struct sockaddr_in *)&hdr->dst;
	char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];

	if (inet_ntop(AF_INET, &src->sin_addr, a, sizeof(a)) == NULL ||
	    inet_ntop(AF_INET, &dst->sin_addr, b, sizeof(b)) == NULL)
		return -1;
	return snprintf(out, len, "PROXY TCP4 %s %s %u %u\r\n", a, b,
			(unsigned)ntohs(src->sin_port),
			(unsigned)ntohs(dst->sin_port));
}

/* A v2 PROXY header's addresses are its block's bytes, in order. */
static void check_v2_addresses(const uint8_t *in, size_t n,
			       const struct proxy_header *hdr)
{
	const uint8_t *b = in + PROXY_V2_FIXED;

	if (hdr->src.ss_family == AF_INET) {
		const struct sockaddr_in *s = (const void *)&hdr->src;
		const struct sockaddr_in *d = (const void *)&hdr->dst;
		if (in[13] != 0x11 || memcmp(&s->sin_addr, b, 4) != 0 ||
		    memcmp(&d->sin_addr, b + 4, 4) != 0 ||
		    memcmp(&s->sin_port, b + 8, 2) != 0 ||
		    memcmp(&d->sin_port, b + 10, 2) != 0)
			fail("v2 IPv4 addresses differ from the header", n,
			     hdr);
	} else {
		const struct sockaddr_in6 *s = (const void *)&hdr->src;
		const struct sockaddr_in6 *d = (const void *)&hdr->dst;
		if (in[13] != 0x21 || memcmp(&s->sin6_addr, b, 16) != 0 ||
		    memcmp(&d->sin6_addr, b + 16, 16) != 0 ||
		    memcmp(&s->sin6_port, b + 32, 2) != 0 ||
		    memcmp(&d->sin6_port, b + 34, 2) != 0)
			fail("v2 IPv6 addresses differ from the header", n,
			     hdr);
	}
}

/* The bytes of a v2 header's block after the addresses, for byte 13. */
static size_t v2_address_len(uint8_t family)
{
	switch (family >> 4) {
	case 1:
		return 12;
	case 2:
		return 36;
	case 3:
		return 216;
	}
	return 0;
}

/* Do the TLVs after the addresses of the v2 header in[0..total) fill it
 * exactly?  Written apart from the parser's own walk, as an oracle. */
static int v2_tlvs_fill(const uint8_t *in, size_t total)
{
	size_t pos = PROXY_V2_FIXED + v2_address_len(in[13]);

	while (pos + 3 <= total) {
		size_t len = (size_t)in[pos + 1] * 256 + in[pos + 2];
		pos += 3 + len;
	}
	return pos == total;
}

/* A complete header: within the input and the limit, and saying what the
 * bytes say. */
static void check_complete(const uint8_t *in, size_t n, size_t limit,
			   const struct proxy_header *hdr)
{
	if (hdr->length == 0 || hdr->length > n)
		fail("consumed length outside the input", n, hdr);
	if (hdr->reason != NULL)
		fail("a reason on a complete header", n, hdr);
	if (hdr->version == 1 && hdr->length > PROXY_V1_MAX)
		fail("v1 header longer than PROXY_V1_MAX", n, hdr);
	if (hdr->version == 2 && hdr->length > limit)
		fail("v2 header longer than the limit", n, hdr);
	if (hdr->version != 1 && hdr->version != 2)
		fail("complete header of no version", n, hdr);
	if (hdr->version == 2 &&
	    hdr->length != PROXY_V2_FIXED + ((size_t)in[14] << 8 | in[15]))
		fail("v2 length is not its length field's", n, hdr);
	if (hdr->version == 2 && (in[12] & 0x0f) == 1 &&
	    !v2_tlvs_fill(in, hdr->length))
		fail("v2 PROXY header accepted with TLVs that do not fit", n,
		     hdr);
	if (hdr->command == PROXY_CMD_LOCAL) {
		if (!all_zero(&hdr->src, sizeof(hdr->src)) ||
		    !all_zero(&hdr->dst, sizeof(hdr->dst)))
			fail("addresses on a LOCAL header", n, hdr);
		return;
	}
	int fam = hdr->src.ss_family;
	if ((fam != AF_INET && fam != AF_INET6) || hdr->dst.ss_family != fam)
		fail("PROXY header without one IP family", n, hdr);
	if (hdr->version == 2) {
		check_v2_addresses(in, n, hdr);
	} else if (fam == AF_INET) {
		/* Strict v1 has one spelling of each IPv4 line. */
		char line[PROXY_V1_MAX + 1];
		int len = v1_tcp4_line(hdr, line, sizeof(line));
		if (len < 0 || (size_t)len != hdr->length ||
		    memcmp(line, in, hdr->length) != 0)
			fail("v1 TCP4 line differs from its addresses", n, hdr);
	}
}

/* Whatever the answer, its shape. */
static void check_shape(const uint8_t *in, size_t n, size_t limit,
			enum proxy_status st, const struct proxy_header *hdr)
{
	/* proxy_parse() takes a limit below PROXY_V1_MAX as PROXY_V1_MAX. */
	size_t final_at = limit > PROXY_V1_MAX ? limit : PROXY_V1_MAX;

	switch (st) {
	case PROXY_COMPLETE:
		check_complete(in, n, final_at, hdr);
		return;
	case PROXY_MALFORMED:
		if (hdr->reason == NULL || hdr->length != 0)
			fail("malformed without a reason", n, hdr);
		if (strcmp(hdr->reason, "v2: TLV overruns the header") != 0)
			return;
		if (n < PROXY_V2_FIXED)
			fail("TLVs judged before the fixed part", n, hdr);
		if (v2_tlvs_fill(in, PROXY_V2_FIXED +
					 ((size_t)in[14] << 8 | in[15])))
			fail("v2 TLVs that fit refused", n, hdr);
		return;
	case PROXY_NEED_MORE:
		if (hdr->reason != NULL || hdr->length != 0)
			fail("need-more with a verdict's fields", n, hdr);
		if (n >= final_at)
			fail("need-more with the limit's worth held", n, hdr);
		if (n > 0 && in[0] == 'P' && n >= PROXY_V1_MAX)
			fail("need-more with PROXY_V1_MAX bytes of v1", n, hdr);
		return;
	}
	fail("unknown status", n, hdr);
}

/* The stream in two pieces: the first alone must say "more" or the
 * whole's verdict. */
static void check_split(const uint8_t *in, size_t n, size_t k, size_t limit,
			enum proxy_status whole, const struct proxy_header *w)
{
	struct proxy_header hdr;
	uint8_t *first = malloc(k > 0 ? k : 1);

	if (first == NULL)
		abort(); /* the fuzzer's own memory: nothing to test */
	if (k > 0)
		memcpy(first, in, k);
	enum proxy_status st =
	    proxy_parse(k > 0 ? first : NULL, k, limit, &hdr);
	check_shape(first, k, limit, st, &hdr);
	if (st != PROXY_NEED_MORE &&
	    (st != whole || memcmp(&hdr, w, sizeof(hdr)) != 0))
		fail("the first piece's verdict differs from the whole's", n,
		     &hdr);
	if (whole == PROXY_COMPLETE && k < w->length && st != PROXY_NEED_MORE)
		fail("a verdict before the whole header arrived", n, &hdr);
	if (whole == PROXY_NEED_MORE && st != PROXY_NEED_MORE)
		fail("a verdict on a prefix of a stream that needs more", n,
		     &hdr);
	free(first);
}

/* The stream as a --proxy-from value (up to its first NUL), and the
 * client a complete header named, matched against it. */
static void check_list(const uint8_t *in, size_t n,
		       const struct proxy_header *hdr)
{
	struct proxy_from list;
	char err[256];
	char *text = malloc(n + 1);

	if (text == NULL)
		abort();
	memcpy(text, in, n);
	text[n] = '\0';
	memset(err, 0x55, sizeof(err));
	if (proxy_from_parse(text, &list, err, sizeof(err)) != 0) {
		if (memchr(err, '\0', sizeof(err)) == NULL || err[0] == '\0')
			fail("list refused without a message", n, hdr);
		free(text);
		return;
	}
	if (list.count == 0 || list.count > PROXY_FROM_MAX)
		fail("list of a count out of range", n, hdr);
	for (size_t i = 0; i < list.count; i++) {
		struct sockaddr_in6 own;
		memset(&own, 0, sizeof(own));
		own.sin6_family = AF_INET6;
		memcpy(&own.sin6_addr, list.net[i].addr.addr, 16);
		if (list.net[i].bits > 128 ||
		    !proxy_from_match(&list, (const struct sockaddr *)&own))
			fail("a list entry that does not match itself", n, hdr);
	}
	if (hdr->command == PROXY_CMD_PROXY)
		(void)proxy_from_match(&list,
				       (const struct sockaddr *)&hdr->src);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proxy_header whole;

	if (size < HEADER_LEN)
		return 0;
	size_t limit = limit_of(data[0]);
	const uint8_t *in = data + HEADER_LEN;
	size_t n = size - HEADER_LEN;
	size_t k = n * data[1] / 255;

	enum proxy_status st = proxy_parse(in, n, limit, &whole);
	check_shape(in, n, limit, st, &whole);
	check_split(in, n, k, limit, st, &whole);
	check_list(in, n, &whole);
	return 0;
}
