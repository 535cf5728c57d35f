/* chain/follow.h: the follower's decisions as one pure function (like
 * src/supervisor/fsm.c for the signer).  Internal to the chain module:
 * chain.c gathers what it knows into a chain_follow_view, asks
 * chain_follow_decide() what to do and only does it; tests/chain/
 * test_follow.c checks every case by table. */
#ifndef COLDNODE_CHAIN_FOLLOW_H
#define COLDNODE_CHAIN_FOLLOW_H

#include <stdbool.h>
#include <stdint.h>

/* What the node said the block hash at a height is. */
enum chain_follow_hash {
	FH_UNASKED,  /* not asked yet (this round) */
	FH_NONE,     /* -8: no block at that height (its chain is shorter) */
	FH_ERROR,    /* another error, or not a hash */
	FH_GOT,      /* a hash: in the view */
};

struct chain_follow_view {
	/* ours */
	bool have_tip;
	uint32_t height;
	const uint8_t *hash;       /* 32 bytes, when have_tip */
	/* the node's getblockchaininfo */
	uint32_t node_blocks, node_headers;
	bool node_ibd;
	const uint8_t *node_best;  /* 32 bytes */
	/* getblockhash(height) and getblockhash(height + 1), when asked */
	enum chain_follow_hash at_tip, next;
	const uint8_t *at_tip_hash, *next_hash; /* 32 bytes when FH_GOT */
	/* Immediate re-polls in a row without a block connected or
	 * disconnected: a node whose answers keep contradicting each other
	 * (its tip moving every call, or lying) must not keep us in a
	 * request loop without a backoff. */
	unsigned repolls;
};

/* Past this many re-polls in a row: FOLLOW_LOST (backoff). */
#define CHAIN_FOLLOW_MAX_REPOLLS 5

enum chain_follow_do {
	FOLLOW_START,      /* no stored block: start at a height (chain.c) */
	FOLLOW_AT_TIP,     /* our tip is the node's best block: synced */
	FOLLOW_WAIT,       /* the node is catching up: poll again later */
	FOLLOW_ASK,        /* ask the node's hashes at our tip and tip + 1 */
	FOLLOW_FORWARD,    /* fetch and connect the block next_hash */
	FOLLOW_BACK,       /* disconnect our tip: not on the node's chain */
	FOLLOW_REPOLL,     /* the node's tip moved under us: ask it again
			      (at most CHAIN_FOLLOW_MAX_REPOLLS in a row) */
	FOLLOW_LOST,       /* the node failed: back off */
};
const char *chain_follow_name(enum chain_follow_do d); /* static text */

/* The node says it is still catching up: in initial block download, or
 * with headers it has not got the blocks of yet (bitcoind's
 * getblockchaininfo "headers" > "blocks"). */
bool chain_follow_catching_up(const struct chain_follow_view *v);

/* The one rule for the next step.  Pure: no I/O, no state. */
enum chain_follow_do chain_follow_decide(const struct chain_follow_view *v);

/* ---- The consumer cursor (chain_set_consumer) ----
 * A consumer with its own stored chain (the wallet) is driven from its own
 * next height; the chain's tip does not move for it. */
struct chain_consumer_view {
	uint32_t chain_height;      /* our tip (the chain has one) */
	bool has_tip;               /* the consumer scanned a block */
	uint32_t tip_height;
	const uint8_t *tip_hash;    /* 32 bytes when has_tip */
	/* The chain's block at tip_height: from the store (or our tip),
	 * from the node (a verified earlier answer), FH_NONE: the node has
	 * none, FH_UNASKED: neither stored nor asked yet. */
	enum chain_follow_hash chain_at;
	const uint8_t *chain_at_hash; /* 32 bytes when FH_GOT */
	int64_t next;               /* consumer's next height, -1: none */
};

enum chain_consumer_do {
	CONS_IDLE,       /* nothing to do (or try again at the next poll) */
	CONS_DISCONNECT, /* its tip is not on the chain: undo it */
	CONS_VERIFY,     /* ask the node for the hash at its tip's height */
	CONS_FETCH,      /* fetch the block at next (not moving our tip) */
};
const char *chain_consumer_name(enum chain_consumer_do d);
enum chain_consumer_do
chain_consumer_decide(const struct chain_consumer_view *v);

#endif
