/* chain: coldnode's view of the bitcoin chain, from a bitcoind-compatible
 * JSON-RPC node (bitcoind, or bcoin in the tests).
 *
 * The module follows the node's best chain block by block from its own
 * stored tip, detects reorganisations (prev-hash mismatch against the last
 * 100 blocks it keeps in SQLite) and reports each change as an event, in
 * order: every block disconnected (newest first) before the blocks of the
 * new branch are connected (oldest first).  Transport: libcurl's
 * multi-socket API on the one libev loop, JSON through jansson.  When the
 * node goes away coldnode keeps running (status CHAIN_LOST, the cause
 * kept) and catches up from its stored tip when the node is back; unlike
 * lnd, which shuts down (docs/chain.md).
 *
 * The raw block/transaction parser is src/chain/block.h. */
#ifndef COLDNODE_CHAIN_H
#define COLDNODE_CHAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ev_loop;
struct chain;        /* opaque */
struct chain_block;  /* block.h: a parsed block, views into the raw bytes */
struct chain_tx;     /* block.h: a parsed transaction */

enum chain_status {
	CHAIN_OFF,        /* --bitcoin.node=none */
	CHAIN_CONNECTING, /* first contact not made yet */
	CHAIN_SYNCING,    /* connected, behind the node's tip */
	CHAIN_SYNCED,     /* at the node's tip */
	CHAIN_LOST,       /* node unreachable or failing; retrying with backoff */
	CHAIN_WRONG_NET,  /* node is on another chain than --network; stays so */
};
const char *chain_status_name(enum chain_status s); /* "synced", ... static */

/* Events up to the owner (daemon).  Every pointer is borrowed for the
 * duration of the call; copy what you keep.  A callback (these and
 * chain_check_cb) must not call chain_free.  Heights and hashes: hashes in
 * internal byte order (as on the wire), 32 bytes. */
struct chain_events {
	void *ctx;
	/* Block `height` is now part of the followed chain.  blk is the parsed
	 * block (block.h), raw/raw_len its serialisation.  Called in height
	 * order, each block exactly once per connection. */
	void (*block_connected)(void *ctx, uint32_t height,
				const struct chain_block *blk,
				const uint8_t *raw, size_t raw_len);
	/* Block `height` (hash) left the followed chain in a reorg: called from
	 * the old tip down to the fork point + 1, before the new branch is
	 * connected. */
	void (*block_disconnected)(void *ctx, uint32_t height,
				   const uint8_t hash[32]);
	/* Status changed (cause: human text, "" when none).  Optional. */
	void (*status_changed)(void *ctx, enum chain_status st,
			       const char *cause);
	/* Mempool poll (optional; NULL: the mempool is not polled): the node's
	 * mempool txids (internal byte order), polled after each tip poll. */
	void (*mempool)(void *ctx, const uint8_t (*txids)[32], size_t n);
	/* Mempool poll with the transactions (optional): the node's whole
	 * mempool, parsed (block.h), after each tip poll; only txids not seen
	 * in the previous poll are fetched (getrawtransaction).  Those that
	 * cannot be fetched or parsed are left out of that round. */
	void (*mempool_txs)(void *ctx, const struct chain_tx *const *txs,
			    size_t n);
	/* Transactions pushed by bitcoind's ZMQ rawtx since the last
	 * mempool_txs / mempool_tx_added call, to add to that view
	 * (optional; NULL: mempool_txs gets the whole view each time, an
	 * O(mempool) call per hand-up).  Removals come with the next
	 * mempool_txs (a full poll). */
	void (*mempool_tx_added)(void *ctx, const struct chain_tx *const *txs,
				 size_t n);
	/* Asked before each mempool_txs poll (optional, NULL: always): false
	 * skips it (the wallet has no accounts to match). */
	bool (*mempool_wanted)(void *ctx);
	/* A watched funding output was spent in block height, or its funding
	 * block was disconnected (height: that block's); height 0: the spend
	 * was reorganised out.  Also called for every output recorded spent
	 * when the watch set is loaded after a restart.  Optional. */
	void (*funding_spent)(void *ctx, uint64_t scid, uint32_t height);
	/* CHAIN_FORGET_DELAY blocks after funding_spent, or when the re-check
	 * at 6 confirmations of a channel accepted with fewer fails: forget
	 * the channel.
	 * The watch entry is gone after this call.  Optional. */
	void (*funding_forget)(void *ctx, uint64_t scid);
};

/* BOLT 7: "once its funding output has been spent ... SHOULD forget a
 * channel after a 72-block delay" (the delay lets splices re-announce). */
#define CHAIN_FORGET_DELAY 72

struct chain_config {
	const char *network;    /* "mainnet", "testnet", "signet", "regtest" */
	const char *rpchost;    /* host[:port]; port default by network */
	const char *rpcuser;    /* NULL with rpccookie */
	const char *rpcpass;    /* not kept: chain_new copies user:pass into
				   sodium_malloc memory (wiped at free) */
	const char *rpccookie;  /* path of bitcoind's .cookie; re-read on 401 */
	const char *db_path;    /* SQLite file for the last blocks (tip) */
	double poll_interval;   /* best-block poll, default 10 s */
	double timeout;         /* one HTTP request, default 30 s */
	size_t max_response;    /* bytes per HTTP response, default 32 MiB */
	uint32_t start_height;  /* empty store: start at the node's tip minus
				   this many blocks; default 0 (the tip) */
	size_t max_checks;      /* funding checks queued at most, 20000 */
	size_t check_batch;     /* calls per JSON-RPC batch, default 32 */
	size_t check_inflight;  /* batches in flight at once, default 2 */
	/* bitcoind's ZMQ publishers, "tcp://HOST:PORT", NULL: none (lnd's
	 * --bitcoind.zmqpubrawtx / zmqpubrawblock).  rawtx feeds
	 * mempool_txs without polling (the full poll then runs every 10th
	 * poll and after each block); rawblock polls the tip at once.
	 * Polling stays the fallback when ZMQ is silent or gaps. */
	const char *zmq_rawtx;
	const char *zmq_rawblock;
	/* Unix time now; NULL: the wall clock.  For tests. */
	uint32_t (*clock)(void *arg);
	void *clock_arg;
};
void chain_config_defaults(struct chain_config *cfg);
/* Default RPC port for a network name (8332, 18332, 38332, 18443), 0 if
 * unknown. */
uint16_t chain_default_port(const char *network);

/* loop: borrowed, owned by main().  cfg strings are copied; ev copied.
 * NULL with err filled on a bad config or an unusable db_path. */
struct chain *chain_new(struct ev_loop *loop, const struct chain_config *cfg,
			const struct chain_events *ev, char *err, size_t errlen);
/* Starts polling (first request in this loop iteration). */
void chain_start(struct chain *c);
/* ---- A consumer with its own stored chain (the wallet) ----
 *
 * The one rule for applying a block (docs/chain.md "Applying a block"):
 * the chain commits its own tip and the funding watch set in one SQLite
 * transaction per block, then tells the consumer, which keeps its chain
 * in another file and must be idempotent against ours: every call
 * compares hashes.  The chain drives the consumer from the consumer's own
 * next height: blocks it lacks (a birthday in the past, a kill -9 between
 * the two commits) are fetched from the node and delivered without moving
 * the chain's tip; a consumer tip that is not on the followed chain (above
 * it, or another block at its height) is disconnected, one block per
 * step, however deep, before anything else is delivered. */
enum chain_apply {
	CHAIN_APPLIED, /* done */
	CHAIN_ALREADY, /* nothing to do: it already had it so */
	CHAIN_FORK,    /* it holds another block there: disconnect first */
	CHAIN_GAP,     /* earlier blocks first (from next_height) */
	CHAIN_FAILED,  /* its store failed: nothing changed, retried later */
};
struct chain_consumer {
	void *ctx;
	/* The next block it wants: its tip + 1, or an earlier height (a
	 * rescan), or where it starts; -1: from the chain's tip on. */
	int64_t (*next_height)(void *ctx);
	/* Its last block; false: none yet. */
	bool (*tip)(void *ctx, uint32_t *height, uint8_t hash[32]);
	/* Block height (hash; blk borrowed for the call). */
	enum chain_apply (*connect)(void *ctx, uint32_t height,
				    const uint8_t hash[32],
				    const struct chain_block *blk);
	/* Undo block height (hash): APPLIED only if it was its tip. */
	enum chain_apply (*disconnect)(void *ctx, uint32_t height,
				       const uint8_t hash[32]);
};
/* Copied; set before chain_start.  The callbacks may not call back into
 * the chain. */
void chain_set_consumer(struct chain *c, const struct chain_consumer *cons);

void chain_free(struct chain *c);

/* ---- Funding output checks (BOLT 7 channel_announcement) ---- */

enum chain_check {
	CHAIN_CHECK_OK,          /* P2WSH 2-of-2 of the keys, unspent, deep */
	CHAIN_CHECK_NO_BLOCK,    /* no block at the scid's height (more than
				    12 past the best known height, or -8) */
	CHAIN_CHECK_NO_TX,       /* no transaction at that index */
	CHAIN_CHECK_NO_OUTPUT,   /* no output at that index */
	CHAIN_CHECK_NOT_P2WSH,   /* output script is not P2WSH */
	CHAIN_CHECK_WRONG_KEYS,  /* P2WSH, but not of the 2-of-2 of the keys */
	CHAIN_CHECK_SPENT,       /* gettxout: spent */
	CHAIN_CHECK_UNCONFIRMED, /* fewer than CHAIN_MIN_CONF confirmations */
	CHAIN_CHECK_UNAVAILABLE, /* its batch failed 3 times: not checked */
	CHAIN_CHECK_NUM
};
const char *chain_check_name(enum chain_check r); /* static text */

/* BOLT 7 wants 6 confirmations and allows accepting a block or two
 * short of that (the sender's view may be ahead of ours). */
#define CHAIN_WANT_CONF 6
#define CHAIN_MIN_CONF 4
/* Channels accepted short of CHAIN_WANT_CONF waiting for their re-check,
 * at most (past it, such a channel is refused as UNCONFIRMED). */
#define CHAIN_MAX_RECHECKS 10000

/* capacity_sat: the output's value (0 unless OK). */
typedef void (*chain_check_cb)(void *ctx, uint64_t scid, enum chain_check r,
			       uint64_t capacity_sat);
/**
 * chain_check_funding - check the funding output of scid against the keys
 * (BOLT 3 funding script: 2 <key1> <key2> 2 CHECKMULTISIG, keys in
 * lexicographic order), asynchronously.  A passing output is added to the
 * watch set (spends are then reported by funding_spent).
 * @cb: called later from the loop, never inside this call.  ctx borrowed.
 * Checks wait (queued) while the backend is lost, on the wrong network or
 * catching up.  Returns false (no callback) if max_checks are queued.
 */
bool chain_check_funding(struct chain *c, uint64_t scid,
			 const uint8_t key1[33], const uint8_t key2[33],
			 chain_check_cb cb, void *ctx);
/* Stop watching scid (the channel was forgotten another way). */
void chain_unwatch(struct chain *c, uint64_t scid);
size_t chain_watch_count(const struct chain *c);

struct chain_info {
	enum chain_status status;
	bool connected;             /* last request got an answer */
	uint32_t height;            /* our tip (0 and zero hash: none yet) */
	uint8_t hash[32];           /* internal byte order */
	uint32_t tip_time;          /* header time of our tip */
	uint32_t node_height;       /* node's best height, last seen */
	bool node_ibd;              /* node says initialblockdownload */
	bool synced;                /* lnd's synced_to_chain: at the node's
				       tip, node not in IBD, tip < 2 h old */
	char backend[16];           /* "bitcoind" or "none" */
	char node_chain[16];        /* getblockchaininfo.chain */
	char last_error[160];       /* "" when none */
	uint64_t blocks_connected, blocks_disconnected, reorgs;
	uint64_t requests, errors, lost_count;
	uint64_t checks[CHAIN_CHECK_NUM]; /* results by reason */
	uint64_t checks_queued;           /* waiting now */
	uint64_t watched, spent, forgotten;
	/* The re-check at 6 confirmations of channels accepted with
	 * fewer: waiting for it now, and its results by reason (OK: kept;
	 * UNAVAILABLE and UNCONFIRMED: tried again at the next block; the
	 * others: the channel was forgotten). */
	uint64_t rechecks_pending;
	uint64_t rechecks[CHAIN_CHECK_NUM];
	/* bitcoind's ZMQ: messages received, sequence gaps seen (each
	 * forces a full mempool poll), sequences that went back (a
	 * restarted bitcoind, counted per topic, not in zmq_gaps; a full
	 * poll too), malformed ones dropped; and the full getrawmempool
	 * polls made. */
	uint64_t zmq_rawtx, zmq_rawblock, zmq_gaps, zmq_restarts, zmq_bad;
	/* rawtx configured but none for 10 poll intervals (never
	 * connected, publisher gone, quiet mempool): every mempool poll is
	 * a full one, as without ZMQ, until the next rawtx. */
	bool zmq_rawtx_silent;
	uint64_t mempool_full_polls;
};
void chain_get_info(const struct chain *c, struct chain_info *out);

#endif
