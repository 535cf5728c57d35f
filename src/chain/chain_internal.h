/* chain module internals: chain.c's own interface for the module's tests
 * and benchmarks (the watch set driven through the follower, as a block
 * connect/disconnect drives it).  struct chain stays in chain.c; each
 * other file's interface is in its own header: rpcjson.h, http.h,
 * store.h, watch.h, funding.h. */
#ifndef COLDNODE_CHAIN_INTERNAL_H
#define COLDNODE_CHAIN_INTERNAL_H

#include "chain/block.h"
#include "chain/chain.h"
#include "chain/rpcjson.h"

#include <stdbool.h>
#include <stdint.h>

/* getrawtransaction calls per batch request (ev.mempool_txs). */
#define MEMPOOL_BATCH CHAIN_BATCH_MAX

/* A checked output joins the watch set (and the store). */
void chain_watch_add(struct chain *c, uint64_t scid, const uint8_t txid[32],
		     uint32_t vout, uint64_t capacity);
/* Block connected/disconnected: spends and delayed forgets (the funding
 * checker's cache forgets the disconnected block too). */
void chain_watch_block(struct chain *c, uint32_t height,
		       const struct chain_block *b);
void chain_watch_unblock(struct chain *c, uint32_t height);
/* Loaded from the store a page per idle loop iteration, started once the
 * node first answers on the right network (60,000 outpoints take ~30 ms
 * of CPU: not while the daemon starts, not at all while the node is
 * unreachable).  No block is connected before it is complete; when it
 * is, the follower polls again. */
void chain_watch_load(struct chain *c);
bool chain_watch_ready(const struct chain *c);

#endif
