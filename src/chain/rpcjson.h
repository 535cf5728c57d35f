/* chain module: the JSON-RPC reply layer (rpcjson.c), pure: bytes in,
 * structs out. */
#ifndef COLDNODE_CHAIN_RPCJSON_H
#define COLDNODE_CHAIN_RPCJSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

#endif
