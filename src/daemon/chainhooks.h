/* chainhooks: the daemon's wiring between the chain module and the gossip
 * manager (funding checks, spent channels, background checks of channels
 * stored unverified).  Internal to the daemon. */
#ifndef COLDNODE_DAEMON_CHAINHOOKS_H
#define COLDNODE_DAEMON_CHAINHOOKS_H

#include "chain/chain.h"
#include "gossip/gossip.h"

struct daemon_chain;

/* Order: daemon_chain_new(NULL); chain_new(..., daemon_chain_events());
 * daemon_chain_set_chain(); gossip_new with daemon_chain_gossip_hooks();
 * daemon_chain_set_gossip().  chain and gossip are borrowed (NULL: absent)
 * and must be detached (set to NULL) or outlive dc. */
struct daemon_chain *daemon_chain_new(struct chain *chain);
void daemon_chain_free(struct daemon_chain *dc);
/* chain_events for chain_new (ctx = dc). */
struct chain_events daemon_chain_events(struct daemon_chain *dc);
void daemon_chain_set_chain(struct daemon_chain *dc, struct chain *chain);
/* Fills the gossip config's chain hook (left zero with no backend). */
void daemon_chain_gossip_hooks(struct daemon_chain *dc,
			       struct gossip_chain_hooks *out);
void daemon_chain_set_gossip(struct daemon_chain *dc, struct gossip *g);
/* Another consumer of the block stream (the wallet view): its
 * block_connected, block_disconnected and mempool_txs are called, in
 * order, with its own ctx.  ev copied; NULL removes it.  The mempool is
 * polled only while its mempool_wanted says so (one getrawmempool per
 * poll, getrawtransaction for new txids). */
void daemon_chain_set_block_listener(struct daemon_chain *dc,
				     const struct chain_events *ev);

#endif
