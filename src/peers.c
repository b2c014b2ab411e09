/*
 * peers.c - per-address client counts in an open-addressing hash table
 * (see peers.h).  Linear probing; removal shifts later entries of the same
 * chain back, so there are no tombstones and lookups never slow down.
 */
#include "peers.h"

#include <assert.h>
#include <netinet/in.h>
#include <string.h>

#define MASK (PEER_SLOTS - 1)

bool peer_key_of(const struct sockaddr *sa, struct peer_key *key)
{
	memset(key, 0, sizeof(*key));
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		/* ::ffff:a.b.c.d, as a dual-stack socket reports it */
		key->addr[10] = key->addr[11] = 0xff;
		memcpy(key->addr + 12, &in->sin_addr, 4);
		return true;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 =
		    (const struct sockaddr_in6 *)sa;
		memcpy(key->addr, &in6->sin6_addr, 16);
		return true;
	}
	return false;
}

/* FNV-1a over the 16 bytes. */
static size_t hash(const struct peer_key *key)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < sizeof(key->addr); i++) {
		h ^= key->addr[i];
		h *= 16777619u;
	}
	return h & MASK;
}

/* The slot holding key, or the free slot that ends its chain. */
static size_t find(const struct peer_table *t, const struct peer_key *key)
{
	size_t i = hash(key);

	while (t->slot[i].count > 0 &&
	       memcmp(&t->slot[i].key, key, sizeof(*key)) != 0)
		i = (i + 1) & MASK;
	return i;
}

void peers_init(struct peer_table *t)
{
	memset(t, 0, sizeof(*t));
}

size_t peers_count(const struct peer_table *t, const struct peer_key *key)
{
	return t->slot[find(t, key)].count;
}

bool peers_add(struct peer_table *t, const struct peer_key *key)
{
	size_t i = find(t, key);

	if (t->slot[i].count == 0) {
		if (t->used >= PEER_SLOTS / 2)
			return false;
		t->slot[i].key = *key;
		t->used++;
	}
	t->slot[i].count++;
	return true;
}

/* Is slot j's home (where its hash points) cyclically in (hole, j]?  Then
 * it may not move back into the hole: it would fall before its home. */
static bool home_between(size_t hole, size_t home, size_t j)
{
	return hole <= j ? (hole < home && home <= j)
			 : (hole < home || home <= j);
}

void peers_remove(struct peer_table *t, const struct peer_key *key)
{
	size_t hole = find(t, key);

	assert(t->slot[hole].count > 0);
	if (--t->slot[hole].count > 0)
		return;
	t->used--;
	/* Close the gap: move back each later entry of the chain that may
	 * live in the hole, so every chain stays unbroken. */
	for (size_t j = (hole + 1) & MASK; t->slot[j].count > 0;
	     j = (j + 1) & MASK) {
		if (home_between(hole, hash(&t->slot[j].key), j))
			continue;
		t->slot[hole] = t->slot[j];
		t->slot[j].count = 0;
		hole = j;
	}
}
