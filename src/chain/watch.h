/* chain module: the watch set of funding outpoints (watch.c), an opaque
 * set with its own functions.  Calls come down from the follower
 * (chain.c); what happens in the set goes up through chain_watch_ops. */
#ifndef COLDNODE_CHAIN_WATCH_H
#define COLDNODE_CHAIN_WATCH_H

#include "chain/block.h"
#include "chain/chain.h"
#include "chain/store.h"

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct chain_watch;

struct chain_watch_ops {
	void *ctx;
	/* scid's funding output was spent at height (0: not spent after
	 * all, its block left the chain); also said again for the spent
	 * ones on load. */
	void (*spent)(void *ctx, uint64_t scid, uint32_t height);
	/* A connected block's spends are recorded: before the forgets. */
	void (*spends_done)(void *ctx);
	/* scid left the set CHAIN_FORGET_DELAY blocks after its spend. */
	void (*forgotten)(void *ctx, uint64_t scid);
	/* The set is loaded from the store (chain_watch_load). */
	void (*loaded)(void *ctx);
};

/* store is borrowed (the set's writes go to it). */
struct chain_watch *chain_watch_new(struct ev_loop *loop,
				    struct chain_store *store,
				    const struct chain_watch_ops *ops);
void chain_watch_destroy(struct chain_watch *w); /* NULL: nothing */
size_t chain_watch_size(const struct chain_watch *w); /* NULL: 0 */
/* Spends seen and channels forgotten in blocks since chain_watch_new. */
uint64_t chain_watch_spent_count(const struct chain_watch *w);
uint64_t chain_watch_forgotten_count(const struct chain_watch *w);
/* A checked output joins the set (and the store). */
void chain_watch_insert(struct chain_watch *w, uint64_t scid,
			const uint8_t txid[32], uint32_t vout,
			uint64_t capacity);
/* scid leaves the set (and the store); unknown: nothing. */
void chain_watch_remove(struct chain_watch *w, uint64_t scid);
/* Block connected/disconnected: spends and delayed forgets. */
void chain_watch_connect(struct chain_watch *w, uint32_t height,
			 const struct chain_block *b);
void chain_watch_disconnect(struct chain_watch *w, uint32_t height);
/* Loaded from the store a page per idle loop iteration (60,000 outpoints
 * take ~30 ms of CPU): ops.loaded when complete. */
void chain_watch_start_load(struct chain_watch *w);
bool chain_watch_loaded(const struct chain_watch *w);

#endif
