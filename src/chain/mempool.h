/* chain/mempool.h: the node's mempool as parsed transactions, kept between
 * polls so only new txids are fetched (getrawtransaction).  Internal to
 * the chain module; pure (no I/O). */
#ifndef COLDNODE_CHAIN_MEMPOOL_H
#define COLDNODE_CHAIN_MEMPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct chain_tx;
struct chain_mempool;

/* No cap on the txids followed: every txid of getrawmempool is kept (the
 * HTTP response cap bounds the answer: 32 MiB is ~500,000 txids), so no
 * watched payment is dropped by an arbitrary cut.  What is bounded is the
 * work per poll: at most CHAIN_MEMPOOL_PER_POLL new transactions are
 * fetched per poll (CHAIN_MEMPOOL_PER_POLL / MEMPOOL_BATCH requests), the
 * rest in the following polls, in txid order, never dropped
 * (docs/chain.md "Mempool"). */
#define CHAIN_MEMPOOL_PER_POLL 10000

struct chain_mempool *chain_mempool_new(void);
void chain_mempool_free(struct chain_mempool *m);
/* A new getrawmempool answer (txids internal order, borrowed): entries
 * not in it are dropped, new ones queued for fetching.  Returns how many
 * distinct txids are followed (all of them). */
size_t chain_mempool_set(struct chain_mempool *m, const uint8_t (*ids)[32],
			 size_t n);
/* Up to @max txids still to fetch into @out; 0 when all are in. */
size_t chain_mempool_next(struct chain_mempool *m, uint8_t (*out)[32],
			  size_t max);
/* The raw transaction for @id (@raw NULL: could not be fetched, e.g.
 * mined or evicted meanwhile: left out of this round). */
void chain_mempool_add(struct chain_mempool *m, const uint8_t id[32],
		       const uint8_t *raw, size_t len);
/* A getrawmempool request is sent: transactions pushed from now on are
 * kept by the next chain_mempool_set even if its answer lacks them (it
 * was taken before they arrived). */
void chain_mempool_mark(struct chain_mempool *m);
/* A transaction pushed by the node (ZMQ rawtx; @raw borrowed, copied):
 * joins the set as fetched, until a getrawmempool answer without it.
 * False: it does not parse (left out). */
bool chain_mempool_push(struct chain_mempool *m, const uint8_t *raw,
			size_t len);
/* The current set's parsed transactions; borrowed until the next call. */
const struct chain_tx *const *chain_mempool_txs(struct chain_mempool *m,
						size_t *n);

/* The transactions not handed up yet (pushed, or fetched since the last
 * chain_mempool_txs); borrowed until the next call. */
const struct chain_tx *const *chain_mempool_new_txs(struct chain_mempool *m,
						    size_t *n);

#endif
