/* The chain module checks what gossip receives, and tells gossip what to
 * forget.  Three paths:
 *  - a new channel_announcement: gossip's check_utxo hook starts
 *    chain_check_funding and says PENDING; the answer goes back through
 *    gossip_utxo_done (OK stores it verified, a failure drops it and its
 *    held updates, "unavailable" stores it unverified under the cap);
 *  - funding_spent: the channel is no longer relayed (CLN does the same);
 *    funding_forget (72 blocks later): gossip_forget_channel;
 *  - channels stored unverified (before a backend was configured, or
 *    while it was away: checks refused with the queue full, or
 *    unavailable): once the chain is synced, and again each time the
 *    backend comes back (lost -> synced), checked a page at a time in
 *    the background (never before the first RPC: it waits for the sync).
 *    A page the checker refuses part of (queue full) goes on from the
 *    first refused channel, after the outstanding checks or at the next
 *    block, never skipped. */
#include "daemon/chainhooks.h"
#include "common/common.h"

#include <stdlib.h>
#include <string.h>

#define PAGE 64

struct daemon_chain {
	struct chain *chain;   /* borrowed */
	struct gossip *gossip; /* borrowed */
	/* background checks of channels stored unverified */
	bool bg_started, bg_done;
	bool bg_paused;        /* queue full, none of ours out: next block */
	bool bg_again;         /* the backend came back during a sweep */
	enum chain_status last_status;
	uint64_t bg_cursor;
	size_t bg_outstanding;
	uint64_t bg_checked;
	bool have_listener;
	struct chain_events listener; /* block stream consumer (wallet) */
};

static enum gossip_utxo to_gossip(enum chain_check r)
{
	switch (r) {
	case CHAIN_CHECK_OK:
		return GOSSIP_UTXO_OK;
	case CHAIN_CHECK_UNAVAILABLE:
		return GOSSIP_UTXO_UNVERIFIED;
	case CHAIN_CHECK_NO_BLOCK:
	case CHAIN_CHECK_NO_TX:
	case CHAIN_CHECK_NO_OUTPUT:
	case CHAIN_CHECK_NOT_P2WSH:
	case CHAIN_CHECK_WRONG_KEYS:
	case CHAIN_CHECK_SPENT:
	case CHAIN_CHECK_UNCONFIRMED:
	case CHAIN_CHECK_NUM:
		break;
	}
	return GOSSIP_UTXO_BAD;
}

static void check_done(void *ctx, uint64_t scid, enum chain_check r,
		       uint64_t capacity_sat)
{
	struct daemon_chain *dc = ctx;

	if (r != CHAIN_CHECK_OK && r != CHAIN_CHECK_UNAVAILABLE)
		log_debug("CHAIN", "channel_announcement %ux%ux%u ignored: %s",
			  (unsigned)(scid >> 40),
			  (unsigned)(scid >> 16) & 0xffffff,
			  (unsigned)scid & 0xffff, chain_check_name(r));
	if (dc->gossip)
		gossip_utxo_done(dc->gossip, scid, to_gossip(r));
}

static enum gossip_utxo check_utxo(void *arg, uint64_t scid,
				   const uint8_t k1[33], const uint8_t k2[33])
{
	struct daemon_chain *dc = arg;

	if (!dc->chain || !chain_check_funding(dc->chain, scid, k1, k2,
					       check_done, dc))
		return GOSSIP_UTXO_UNVERIFIED;
	return GOSSIP_UTXO_PENDING;
}

static void bg_page(struct daemon_chain *dc);
static void bg_start(struct daemon_chain *dc, const char *why);

static void bg_done_cb(void *ctx, uint64_t scid, enum chain_check r,
		       uint64_t capacity_sat)
{
	struct daemon_chain *dc = ctx;

	dc->bg_outstanding--;
	/* Unavailable: stays unverified; the others settle it. */
	if (r != CHAIN_CHECK_UNAVAILABLE && dc->gossip) {
		gossip_set_verified(dc->gossip, scid, r == CHAIN_CHECK_OK);
		dc->bg_checked++;
	}
	if (!dc->bg_outstanding)
		bg_page(dc);
}

static void bg_page(struct daemon_chain *dc)
{
	uint64_t scids[PAGE];
	uint8_t keys[PAGE][2][33];
	size_t n;

	if (!dc->gossip || !dc->chain || dc->bg_done)
		return;
	n = gossip_unverified_page(dc->gossip, dc->bg_cursor, scids, keys,
				   PAGE);
	if (!n) {
		dc->bg_done = true;
		dc->bg_paused = false;
		log_info("CHAIN", "background check of channels stored "
			 "unverified done: %llu checked",
			 (unsigned long long)dc->bg_checked);
		if (dc->bg_again && gossip_unverified_channels(dc->gossip)) {
			dc->bg_again = false;
			bg_start(dc, "the backend came back meanwhile");
		}
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (!chain_check_funding(dc->chain, scids[i], keys[i][0],
					 keys[i][1], bg_done_cb, dc))
			break; /* queue full: the rest of the page later */
		dc->bg_cursor = scids[i];
		dc->bg_outstanding++;
	}
	/* None of ours out to call us back: the next block resumes. */
	dc->bg_paused = !dc->bg_outstanding;
}

static void bg_start(struct daemon_chain *dc, const char *why)
{
	if (dc->bg_started && !dc->bg_done) {
		dc->bg_again = true; /* after this sweep, once more */
		return;
	}
	dc->bg_started = true;
	dc->bg_done = false;
	dc->bg_paused = false;
	dc->bg_cursor = 0;
	dc->bg_checked = 0;
	log_info("CHAIN", "checking %llu channels stored unverified in the "
		 "background (%s)",
		 (unsigned long long)gossip_unverified_channels(dc->gossip),
		 why);
	bg_page(dc);
}

static void on_status(void *ctx, enum chain_status st, const char *cause)
{
	struct daemon_chain *dc = ctx;

	enum chain_status prev = dc->last_status;
	/* The backend's return: first contact, or back from lost or the
	 * wrong network (not the syncing <-> synced flip of every block). */
	bool back = prev == CHAIN_OFF || prev == CHAIN_CONNECTING ||
		    prev == CHAIN_LOST || prev == CHAIN_WRONG_NET;

	if (st == CHAIN_SYNCED || st == CHAIN_LOST || st == CHAIN_CONNECTING ||
	    st == CHAIN_WRONG_NET)
		dc->last_status = st;
	/* Back after a loss: announcements refused or waiting meanwhile are
	 * asked for again by a gossip sync (docs/gossip.md). */
	if (st == CHAIN_SYNCED && dc->gossip &&
	    (prev == CHAIN_LOST || prev == CHAIN_WRONG_NET))
		gossip_resync(dc->gossip, "chain backend back");
	if (st == CHAIN_SYNCED && dc->gossip && dc->chain &&
	    (back || !dc->bg_started) &&
	    gossip_unverified_channels(dc->gossip))
		bg_start(dc, dc->bg_started ? "the chain backend is back"
					    : "the chain is synced");
}

/* Spent: kept 72 blocks for a splice, but not relayed meanwhile. */
static void on_spent(void *ctx, uint64_t scid, uint32_t height)
{
	struct daemon_chain *dc = ctx;

	if (dc->gossip)
		gossip_channel_spent(dc->gossip, scid, height != 0);
}

static void on_forget(void *ctx, uint64_t scid)
{
	struct daemon_chain *dc = ctx;

	if (dc->gossip)
		gossip_forget_channel(dc->gossip, scid);
}

static void on_block(void *ctx, uint32_t height, const struct chain_block *b,
		     const uint8_t *raw, size_t len)
{
	struct daemon_chain *dc = ctx;

	if (dc->bg_paused && !dc->bg_done) {
		dc->bg_paused = false;
		bg_page(dc);
	}
	if (dc->have_listener && dc->listener.block_connected)
		dc->listener.block_connected(dc->listener.ctx, height, b, raw,
					     len);
}

static void on_unblock(void *ctx, uint32_t height, const uint8_t hash[32])
{
	struct daemon_chain *dc = ctx;

	if (dc->have_listener && dc->listener.block_disconnected)
		dc->listener.block_disconnected(dc->listener.ctx, height, hash);
}

static void on_mempool_txs(void *ctx, const struct chain_tx *const *txs,
			   size_t n)
{
	struct daemon_chain *dc = ctx;

	if (dc->have_listener && dc->listener.mempool_txs)
		dc->listener.mempool_txs(dc->listener.ctx, txs, n);
}

static bool mempool_wanted(void *ctx)
{
	struct daemon_chain *dc = ctx;

	return dc->have_listener && dc->listener.mempool_txs &&
	       (!dc->listener.mempool_wanted ||
		dc->listener.mempool_wanted(dc->listener.ctx));
}

void daemon_chain_set_block_listener(struct daemon_chain *dc,
				     const struct chain_events *ev)
{
	dc->have_listener = ev != NULL;
	if (ev)
		dc->listener = *ev;
}

struct daemon_chain *daemon_chain_new(struct chain *chain)
{
	struct daemon_chain *dc = calloc(1, sizeof(*dc));

	if (!dc)
		abort();
	dc->chain = chain;
	return dc;
}

void daemon_chain_free(struct daemon_chain *dc)
{
	free(dc);
}

void daemon_chain_set_chain(struct daemon_chain *dc, struct chain *chain)
{
	dc->chain = chain;
}

void daemon_chain_gossip_hooks(struct daemon_chain *dc,
			       struct gossip_chain_hooks *out)
{
	if (!dc->chain)
		return;
	out->check_utxo = check_utxo;
	out->arg = dc;
}

void daemon_chain_set_gossip(struct daemon_chain *dc, struct gossip *g)
{
	dc->gossip = g;
}

struct chain_events daemon_chain_events(struct daemon_chain *dc)
{
	struct chain_events ev = {
		.ctx = dc,
		.status_changed = on_status,
		.block_connected = on_block,
		.block_disconnected = on_unblock,
		.funding_spent = on_spent,
		.funding_forget = on_forget,
		/* The listener's (the wallet's) mempool view. */
		.mempool_txs = on_mempool_txs,
		.mempool_wanted = mempool_wanted,
	};
	return ev;
}
