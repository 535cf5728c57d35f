/* wmap.h: hash table of short byte keys to 64-bit values (wallet-internal:
 * watched scripts and outpoints). */
#ifndef COLDNODE_WALLET_WMAP_H
#define COLDNODE_WALLET_WMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WMAP_MAX_KEY 36 /* a txid and vout; scripts are at most 34 */

struct wmap_entry {
	uint8_t key[WMAP_MAX_KEY];
	uint8_t klen; /* 0: empty slot */
	uint64_t val;
};

struct wmap {
	struct wmap_entry *e; /* owned */
	size_t cap, n;        /* cap a power of two, at most half full */
	uint8_t k[16];        /* SipHash key */
};

bool wmap_init(struct wmap *m);
void wmap_clear(struct wmap *m);
/* Inserts or replaces; false when out of memory. */
bool wmap_put(struct wmap *m, const uint8_t *key, size_t klen, uint64_t val);
bool wmap_get(const struct wmap *m, const uint8_t *key, size_t klen,
	      uint64_t *val);
bool wmap_del(struct wmap *m, const uint8_t *key, size_t klen);

#endif
