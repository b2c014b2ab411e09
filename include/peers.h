/*
 * peers.h - how many clients each peer address has, for --max-per-addr.
 *
 * A small open-addressing hash table of (address, count), so admitting a
 * client costs one lookup whatever the number connected, not a scan of
 * them all.  Addresses are kept in IPv6 form: an IPv4 client, whether it
 * came in on an IPv4 socket or as an IPv4-mapped address on a dual-stack
 * one, counts as the same peer.  No system calls.
 */
#ifndef ECHOSERV_PEERS_H
#define ECHOSERV_PEERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* A peer address, ports left out. */
struct peer_key {
	unsigned char addr[16];
};

/* Slots in the table: a power of two, at least twice the most addresses it
 * will hold, so probe chains stay short. */
#define PEER_SLOTS 4096

struct peer_table {
	struct peer_slot {
		struct peer_key key;
		uint32_t count; /* 0: the slot is free */
	} slot[PEER_SLOTS];
	size_t used; /* slots with count > 0 */
};

/* The key of an IPv4 or IPv6 socket address; false for other families
 * (they are not limited). */
bool peer_key_of(const struct sockaddr *sa, struct peer_key *key);

/* Empty the table. */
void peers_init(struct peer_table *t);

/* Clients counted for key (0 if none). */
size_t peers_count(const struct peer_table *t, const struct peer_key *key);

/* Count one more client for key.  False if the table is full (it holds at
 * most PEER_SLOTS / 2 addresses); nothing is counted then. */
bool peers_add(struct peer_table *t, const struct peer_key *key);

/* Count one client fewer for key, which must have been added. */
void peers_remove(struct peer_table *t, const struct peer_key *key);

#endif
