/* chain module internals: the JSON-RPC reply layer (rpcjson.c, pure), the
 * HTTP transport on libev (http.c) and the tip store (store.c). */
#ifndef COLDNODE_CHAIN_INTERNAL_H
#define COLDNODE_CHAIN_INTERNAL_H

#include "chain/chain.h"

#include <jansson.h>
#include <sqlite3.h>

/* ---- JSON-RPC replies (rpcjson.c): bytes in, structs out ---- */

/* One call's answer: result set (borrowed from the root) or an error. */
struct chain_reply {
	json_t *result;     /* NULL on error; JSON null is a result */
	long long code;     /* JSON-RPC error code; 0 when result set */
	char message[96];   /* error message, "" when result set */
};

/* Parse a reply body for a batch of n calls with ids 0..n-1 (n == 1 and
 * single: a plain object, not an array).  Fills out[n]; every id must be
 * answered exactly once.  Returns the root to json_decref() when done, or
 * NULL with err filled (malformed JSON, wrong shape, missing/duplicate id). */
json_t *chain_json_replies(const char *body, size_t len, bool single,
			   struct chain_reply *out, size_t n,
			   char *err, size_t errlen);

/* The largest batch any part of the module sends: the mempool's
 * getrawtransaction batches (MEMPOOL_BATCH); the funding checker's
 * check_batch is capped to it. */
#define CHAIN_BATCH_MAX 100

/* The answer to a batch request of n calls, as the follower reads it. */
struct chain_batch {
	json_t *root;             /* owned: chain_batch_clear() */
	struct chain_reply *rep;  /* owned, n entries */
	size_t n;
};
enum chain_batch_result {
	CHAIN_BATCH_OK,         /* rep[0..n-1] filled, by id */
	CHAIN_BATCH_NODE_ERROR, /* one error object for the whole request:
				   rep[0] (n == 1), err says it */
	CHAIN_BATCH_BAD,        /* not an answer to the batch: err says why */
};
/* Parse the answer to a batch of 1 <= n <= CHAIN_BATCH_MAX calls (ids
 * 0..n-1); n outside that range is a programmer error (abort).  The
 * replies are on the heap, sized by n.  Clear out after OK and
 * NODE_ERROR (BAD leaves nothing to clear; clearing is harmless). */
enum chain_batch_result chain_json_batch(const char *body, size_t len,
					 size_t n, struct chain_batch *out,
					 char *err, size_t errlen);
void chain_batch_clear(struct chain_batch *b);

struct chain_bci {
	char chain[16];        /* "main", "test", "regtest", ... */
	uint32_t blocks;
	uint32_t headers;      /* >= blocks (absent: blocks) */
	uint8_t best[32];      /* internal byte order */
	bool ibd;              /* initialblockdownload (absent: false) */
};
bool chain_json_bci(const json_t *v, struct chain_bci *out,
		    char *err, size_t errlen);
/* 64 hex chars in display order -> 32 bytes internal order. */
bool chain_json_hash(const json_t *v, uint8_t out[32]);
/* Hex string -> bytes (malloc'd, caller frees), at most max bytes. */
bool chain_json_hex(const json_t *v, uint8_t **out, size_t *len, size_t max);

struct chain_txout_info {
	bool found;            /* JSON null: spent or never existed */
	uint64_t value_sat;
	uint32_t confirmations;
	uint8_t script[64];    /* scriptPubKey.hex (longer ones: script_len 0) */
	size_t script_len;
};
bool chain_json_txout(const json_t *v, struct chain_txout_info *out,
		      char *err, size_t errlen);

/* ---- HTTP (http.c): libcurl multi-socket on the libev loop ---- */

enum chain_http_result {
	CHAIN_HTTP_OK,        /* a complete response (any status code) */
	CHAIN_HTTP_FAILED,    /* connect/transfer/timeout error */
	CHAIN_HTTP_TOO_BIG,   /* response over the cap: transfer aborted */
};
struct chain_http;
/* body: the response (NUL-terminated, borrowed for the call). */
typedef void (*chain_http_done)(void *ctx, enum chain_http_result r,
				long status, const char *body, size_t len,
				const char *errtext);
struct chain_http *chain_http_new(struct ev_loop *loop, const char *url,
				  double timeout, size_t max_response);
void chain_http_free(struct chain_http *h); /* cancels, no callbacks */
/* "user:pass" for basic auth (copied; the old one wiped). */
void chain_http_set_auth(struct chain_http *h, const char *userpwd);
/* POST body (copied).  done is called later from the loop, never from
 * inside this call.  False only if curl refuses the handle. */
bool chain_http_post(struct chain_http *h, const char *body, size_t len,
		     chain_http_done done, void *ctx);

/* ---- The follower's state (chain.c), shared with funding.c ---- */

#include <ev.h>

enum step {
	STEP_IDLE,
	STEP_INFO,   /* getblockchaininfo + getblockhash 0 */
	STEP_START,  /* empty store: getblockhash(start) */
	STEP_HASHES, /* getblockhash(tip), getblockhash(tip+1) */
	STEP_BLOCK,  /* getblock(next, 0) */
	STEP_MEMPOOL,
	STEP_MEMPOOL_TX, /* getrawtransaction(txid, false) x mp_nbatch */
	STEP_CONS_VERIFY, /* getblockhash(consumer's tip height) */
	STEP_CONS_HASH,   /* getblockhash(consumer's next height) */
	STEP_CONS_BLOCK,  /* getblock(that hash, 0) */
};

/* getrawtransaction calls per batch request (ev.mempool_txs). */
#define MEMPOOL_BATCH CHAIN_BATCH_MAX

struct chain {
	struct ev_loop *loop; /* borrowed */
	struct chain_config cfg; /* strings owned (copies) */
	struct chain_events ev;
	struct chain_http *http;
	struct chain_store *store;
	ev_timer poll;
	enum step step;
	bool auth_retried;
	bool in_reorg;          /* disconnecting: counts one reorg */
	bool node_behind;       /* node below our tip or in IBD: checks wait */
	bool behind_logged;     /* "waiting for it" logged this episode */
	size_t sent;            /* calls in the request out */

	/* our tip */
	bool have_tip;
	uint32_t height, tip_time;
	uint8_t hash[32];

	struct chain_bci node;
	uint32_t best_seen;     /* highest node height seen (funding.c) */
	unsigned repolls;       /* immediate re-polls in a row (follow.h) */
	bool node_known;
	uint8_t next_hash[32];
	uint32_t next_height;
	double backoff;

	struct chain_info info; /* counters, status, last_error */

	bool started;                  /* chain_start called */
	struct chain_checker *checker; /* funding.c */
	struct chain_watch *watch;     /* watch.c */

	/* ev.mempool_txs: the mempool's transactions, fetched once each
	 * (mempool.c). */
	struct chain_mempool *mp;
	uint8_t mp_batch[MEMPOOL_BATCH][32];
	size_t mp_nbatch;
	size_t mp_polled;       /* fetched this poll (mp_per_poll) */
	size_t mp_per_poll;     /* CHAIN_MEMPOOL_PER_POLL (or a test hook) */
	double mp_last_full;    /* ev_now of the last getrawmempool sent */
	bool mp_full_due;       /* a block, a ZMQ gap: poll it all next */

	/* bitcoind's ZMQ (zmqsub.c), both optional: rawtx pushed into mp,
	 * rawblock a hint to poll the tip at once. */
	void *zctx;             /* owned: libzmq context */
	struct chain_zmq *ztx, *zblock;
	double ztx_last;        /* ev_now of the last rawtx received */
	bool zblock_hint;       /* poll the tip again when this round ends */
	ev_timer zflush;        /* hands pushed transactions up, coalesced */

	/* The consumer (chain_set_consumer) and its cursor. */
	struct chain_consumer cons;
	uint32_t cons_height;   /* the height asked about */
	uint8_t cons_hash[32];  /* its tip's hash (verify) or the block's */
	int64_t cons_next;      /* its next height when the fetch began */
	unsigned cons_round;    /* blocks this round (CONS_PER_ROUND) */
	bool cons_ok;           /* cons_ok_*: a tip the node confirmed */
	uint32_t cons_ok_height;
	uint8_t cons_ok_hash[32];

	/* Test hook: crash point name and height (-1 any), "" none. */
	char crash_at[40];
	int64_t crash_height;
};


/* funding.c: the funding-output checker. */
void chain_funding_init(struct chain *c);
void chain_funding_free(struct chain *c); /* drops checks, no callbacks */
/* The follower's status changed: resume waiting checks when usable. */
void chain_funding_status(struct chain *c);
/* Blocks from height up left the chain: forget them from the cache. */
void chain_funding_drop_blocks(struct chain *c, uint32_t height);
/* The re-check at 6 confirmations (BOLT 7): load the list with the watch
 * set; queue the checks that are due (our tip reached their 6th
 * confirmation), after each connected block; drop scid from the list
 * (the channel was forgotten another way). */
void chain_funding_recheck_load(struct chain *c);
void chain_funding_recheck_due(struct chain *c);
void chain_funding_recheck_drop(struct chain *c, uint64_t scid);

/* watch.c: the watch set of funding outpoints. */
void chain_watch_init(struct chain *c);
void chain_watch_free(struct chain *c);
/* A checked output joins it (and the store). */
void chain_watch_add(struct chain *c, uint64_t scid, const uint8_t txid[32],
		     uint32_t vout, uint64_t capacity);
/* Block connected/disconnected: spends and delayed forgets. */
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
