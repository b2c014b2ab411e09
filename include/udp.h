/*
 * udp.h - RFC 862 over UDP (--udp): every datagram goes back to its sender
 * unchanged, from the same event loop as the TCP clients.
 *
 * A datagram is answered at once or not at all: the reply is sent with a
 * nonblocking sendto(), and if the socket cannot take it the datagram is
 * dropped, so a TCP client is never delayed for UDP.  Some datagrams are
 * dropped on purpose, because answering them could start a loop between
 * two servers that answer everything (docs/protocol.md rule 3.10):
 *
 *   source port 0          not a port anyone can receive on
 *   source port 7, 13,     the classic small services (echo, daytime,
 *   17, 19, 37             qotd, chargen, time): a forged datagram from
 *                          one of them to us would bounce for ever
 *   the server's own port  our own reply, or a twin echo server's
 *
 * Drops are counted and reported in the summary; the trace (-T) names
 * each datagram.
 */
#ifndef ECHOSERV_UDP_H
#define ECHOSERV_UDP_H

#include <stdbool.h>
#include <stdint.h>

/* The largest datagram echoed: the most a UDP datagram over IPv4 holds. */
#define UDP_MAX_DATAGRAM 65507

/* Datagrams read from one socket per call of udp_echo_ready() at most, so
 * a flood cannot starve the TCP clients. */
#define UDP_BATCH 64

struct udp_stats {
	uint64_t echoed, bytes; /* datagrams sent back, and their bytes */
	uint64_t dropped_guard; /* from port 0, a small service, our own */
	uint64_t dropped_busy;  /* the socket could not take the reply */
	uint64_t dropped_other; /* too big, or another send error */
};

/* The socket fd (nonblocking, bound to port) is readable: echo up to
 * UDP_BATCH datagrams.  Returns true if the batch was used up. */
bool udp_echo_ready(int fd, unsigned port, struct udp_stats *st);

/* "udp: echoed N datagrams, N bytes; dropped N (...)", with the summary. */
void udp_log_summary(const struct udp_stats *st);

#endif
