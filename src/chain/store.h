/* chain module: the tip store (store.c), with the watch set's and the
 * re-check list's tables in the same SQLite file (one transaction per
 * block). */
#ifndef COLDNODE_CHAIN_STORE_H
#define COLDNODE_CHAIN_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- Tip store (store.c): the last CHAIN_KEEP blocks in SQLite ---- */

#define CHAIN_KEEP 100
struct chain_store;
struct chain_store *chain_store_open(const char *path, char *err,
				     size_t errlen);
void chain_store_close(struct chain_store *s);
/* False: store empty. */
bool chain_store_tip(struct chain_store *s, uint32_t *height,
		     uint8_t hash[32], uint32_t *time);
/* The stored block at height (false: not among the stored ones). */
bool chain_store_hash_at(struct chain_store *s, uint32_t height,
			 uint8_t hash[32]);
bool chain_store_put(struct chain_store *s, uint32_t height,
		     const uint8_t hash[32], const uint8_t prev[32],
		     uint32_t time);
/* Remove the block at height (our tip, disconnected). */
bool chain_store_drop(struct chain_store *s, uint32_t height);
/* Watched funding outputs: (scid, outpoint, capacity, spent height or 0). */
bool chain_store_watch_put(struct chain_store *s, uint64_t scid,
			   const uint8_t txid[32], uint32_t vout,
			   uint64_t capacity, uint32_t spent);
bool chain_store_watch_del(struct chain_store *s, uint64_t scid);
bool chain_store_watch_spent(struct chain_store *s, uint64_t scid,
			     uint32_t spent);
typedef void (*chain_store_watch_fn)(void *arg, uint64_t scid,
				     const uint8_t txid[32], uint32_t vout,
				     uint64_t capacity, uint32_t spent);
/* Up to max rows with a key after *cursor (start: (uint64_t)INT64_MIN),
 * *cursor advanced; returns the rows read (< max: the end). */
size_t chain_store_watch_page(struct chain_store *s, uint64_t *cursor,
			      size_t max, chain_store_watch_fn fn, void *arg,
			      bool *err);
/* Channels to check again at 6 confirmations (funding.c): scid and the
 * P2WSH script of its keys (34 bytes). */
bool chain_store_recheck_put(struct chain_store *s, uint64_t scid,
			     const uint8_t script[34]);
bool chain_store_recheck_del(struct chain_store *s, uint64_t scid);
typedef void (*chain_store_recheck_fn)(void *arg, uint64_t scid,
				       const uint8_t script[34]);
/* Up to max rows, all at once (the list is bounded); returns them. */
size_t chain_store_recheck_load(struct chain_store *s, size_t max,
				chain_store_recheck_fn fn, void *arg,
				bool *err);
/* False (and nothing left open) when the database fails. */
bool chain_store_begin(struct chain_store *s);
bool chain_store_commit(struct chain_store *s);

#endif
