/* chain module: the funding-output checker (funding.c), an opaque
 * struct chain_checker with its own functions.  Calls come down from the
 * follower (chain.c); what the checker needs to know of the follower it
 * asks through chain_funding_ops.view, and its results go up through
 * the other callbacks. */
#ifndef COLDNODE_CHAIN_FUNDING_H
#define COLDNODE_CHAIN_FUNDING_H

#include "chain/chain.h"
#include "chain/http.h"
#include "chain/store.h"

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct chain_checker;

/* The follower as the checker sees it. */
struct chain_funding_view {
	bool usable;            /* syncing or synced, node not behind */
	bool have_tip;
	uint32_t tip_height;    /* our tip (have_tip) */
	uint32_t node_blocks;   /* the node's height, last answer */
	uint32_t best_seen;     /* the highest node height ever seen */
};

struct chain_funding_ops {
	void *ctx;
	void (*view)(void *ctx, struct chain_funding_view *out);
	/* A check passed: the output joins the watch set. */
	void (*passed)(void *ctx, uint64_t scid, const uint8_t txid[32],
		       uint32_t vout, uint64_t value);
	/* A re-check at 6 failed: the channel is forgotten. */
	void (*forget)(void *ctx, uint64_t scid);
};

/* The limits the checker keeps to (from the chain's config). */
struct chain_funding_limits {
	size_t max_checks, check_batch, check_inflight, max_response;
};

/* http and store are borrowed. */
struct chain_checker *chain_checker_new(struct ev_loop *loop,
					struct chain_http *http,
					struct chain_store *store,
					const struct chain_funding_limits *lim,
					const struct chain_funding_ops *ops);
/* Drops the checks, no callbacks (before the http is freed).  NULL: ok. */
void chain_checker_free(struct chain_checker *ck);
bool chain_checker_check(struct chain_checker *ck, uint64_t scid,
			 const uint8_t key1[33], const uint8_t key2[33],
			 chain_check_cb cb, void *ctx);
/* The follower's status changed: resume waiting checks when usable. */
void chain_checker_status(struct chain_checker *ck);
/* Blocks from height up left the chain: forget them from the cache. */
void chain_checker_drop_blocks(struct chain_checker *ck, uint32_t height);
/* The re-check at 6 confirmations (BOLT 7): load the list with the watch
 * set; queue the checks that are due (our tip reached their 6th
 * confirmation), after each connected block; drop scid from the list
 * (the channel was forgotten another way). */
void chain_checker_recheck_load(struct chain_checker *ck);
void chain_checker_recheck_due(struct chain_checker *ck);
void chain_checker_recheck_drop(struct chain_checker *ck, uint64_t scid);
/* Its counters added into out: checks, checks_queued, rechecks,
 * rechecks_pending, errors, requests. */
void chain_checker_counters(const struct chain_checker *ck,
			    struct chain_info *out);

#endif
