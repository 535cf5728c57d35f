/* Funding outputs: the BOLT 7 check of each channel_announcement's output
 * (a passing one joins the watch set, watch.c).
 *
 * A check walks short_channel_id -> block hash (getblockhash) -> the raw
 * block (getblock HASH 0, parsed by block.h, a few cached) -> the output
 * at (tx index, vout), whose script must be P2WSH of the BOLT 3 funding
 * script -> gettxout for "unspent" and the confirmations.  Checks are
 * sent as JSON-RPC batches (check_batch calls, check_inflight batches at
 * once), repeated lookups of one block are merged, and nothing is sent
 * while the backend is lost: the checks wait (at most max_checks) and go
 * on when it is back.  This is Core Lightning's bcli path (getblockhash,
 * getblock, gettxout), batched.
 *
 * A channel accepted short of 6 confirmations (4 or 5) is remembered
 * (struct recheck, and the store's recheck table) and checked again, the
 * same check in the same queue and batches, once our tip gives its
 * funding block 6: a failure then forgets the channel. */
#include "chain/block.h"
#include "chain/funding.h"
#include "chain/rpcjson.h"
#include "common/common.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SUB "CHAIN"
#define CACHE_BLOCKS 8
#define MAX_TRIES 3
/* Announcements for blocks up to this far above the node's tip wait. */
#define PREMATURE_BLOCKS 12

enum cstage { NEED_HASH, NEED_BLOCK, NEED_TXOUT };

struct check {
	uint64_t scid;
	uint8_t script[34];     /* the P2WSH the keys make */
	chain_check_cb cb;
	void *ctx;
	enum cstage st;
	uint8_t bhash[32];
	uint8_t txid[32];
	uint64_t value;
	int tries;
	uint32_t conf;          /* gettxout's confirmations */
	bool inflight;
	bool recheck;           /* the re-check at 6: no cb, see recheck_done */
	struct check *next, *prev; /* FIFO, O(1) removal */
};

struct cblock {
	uint32_t height;
	uint8_t *raw;           /* owned; b points into it */
	struct chain_block *b;
	uint64_t used;
};

enum ckind { CALL_HASH, CALL_BLOCK, CALL_TXOUT };
struct call {
	enum ckind kind;
	uint32_t height;        /* CALL_HASH */
	uint8_t hash[32];       /* CALL_BLOCK */
	struct check *chk;      /* CALL_TXOUT */
};

struct batch {
	struct chain_checker *ck;
	struct batch *next, *prev; /* in flight, freed with the checker */
	size_t n;
	struct call calls[CHAIN_BATCH_MAX];
};

/* A channel accepted short of CHAIN_WANT_CONF. */
struct recheck {
	uint64_t scid;
	uint8_t script[34];
	bool queued;            /* its check is in the queue */
};

struct chain_checker {
	struct recheck *rc;     /* unordered; removal swaps the last in */
	size_t rc_n, rc_cap;
	struct check *head, *tail;
	size_t n;
	size_t inflight;        /* batches */
	struct batch *batches;  /* those in flight */
	struct cblock cache[CACHE_BLOCKS];
	uint64_t clock;
	ev_timer kick;
	struct ev_loop *loop;       /* borrowed */
	struct chain_http *http;    /* borrowed */
	struct chain_store *store;  /* borrowed */
	struct chain_funding_limits lim;
	struct chain_funding_ops ops;
	/* Counters (chain_checker_counters). */
	uint64_t checks[CHAIN_CHECK_NUM], rechecks[CHAIN_CHECK_NUM];
	uint64_t errors, requests;
};

const char *chain_check_name(enum chain_check r)
{
	switch (r) {
	case CHAIN_CHECK_OK: return "ok";
	case CHAIN_CHECK_NO_BLOCK: return "no such block";
	case CHAIN_CHECK_NO_TX: return "no such transaction";
	case CHAIN_CHECK_NO_OUTPUT: return "no such output";
	case CHAIN_CHECK_NOT_P2WSH: return "output not P2WSH";
	case CHAIN_CHECK_WRONG_KEYS: return "output not the 2-of-2 of the bitcoin keys";
	case CHAIN_CHECK_SPENT: return "output spent";
	case CHAIN_CHECK_UNCONFIRMED: return "too few confirmations";
	case CHAIN_CHECK_UNAVAILABLE: return "chain backend unavailable";
	case CHAIN_CHECK_NUM: break;
	}
	abort();
}

/* ---- checks ---------------------------------------------------------- */

static void pump(struct chain_checker *ck);

static void kick(struct chain_checker *ck)
{
	ev_timer_stop(ck->loop, &ck->kick);
	ev_timer_set(&ck->kick, 0., 0.);
	ev_timer_start(ck->loop, &ck->kick);
}

static void on_kick(struct ev_loop *loop, ev_timer *w, int revents)
{
	pump(w->data);
}

static void recheck_done(struct chain_checker *ck, uint64_t scid,
			 enum chain_check r, uint32_t conf);
static bool recheck_add(struct chain_checker *ck, uint64_t scid,
			const uint8_t script[34]);

static void finish(struct chain_checker *ck, struct check *k,
		   enum chain_check r)
{
	if (k->prev)
		k->prev->next = k->next;
	else
		ck->head = k->next;
	if (k->next)
		k->next->prev = k->prev;
	else
		ck->tail = k->prev;
	ck->n--;
	if (k->recheck) {
		recheck_done(ck, k->scid, r, k->conf);
		free(k);
		return;
	}
	/* BOLT 7: "SHOULD ignore it below 6 confirmations; MAY accept it
	 * if close to 6": accepted at 4 or 5, checked again at 6. */
	if (r == CHAIN_CHECK_OK && k->conf < CHAIN_WANT_CONF &&
	    !recheck_add(ck, k->scid, k->script))
		r = CHAIN_CHECK_UNCONFIRMED;
	ck->checks[r]++;
	if (r == CHAIN_CHECK_OK)
		ck->ops.passed(ck->ops.ctx, k->scid, k->txid,
			       (uint32_t)(k->scid & 0xffff), k->value);
	log_debug(SUB, "channel %ux%ux%u: %s", (unsigned)(k->scid >> 40),
		  (unsigned)(k->scid >> 16) & 0xffffff,
		  (unsigned)k->scid & 0xffff, chain_check_name(r));
	k->cb(k->ctx, k->scid, r, r == CHAIN_CHECK_OK ? k->value : 0);
	free(k);
}

static struct cblock *cache_find(struct chain_checker *ck,
				 const uint8_t *hash)
{
	for (size_t i = 0; i < CACHE_BLOCKS; i++) {
		struct cblock *cb = &ck->cache[i];
		if (cb->b && !memcmp(cb->b->hash, hash, 32)) {
			cb->used = ++ck->clock;
			return cb;
		}
	}
	return NULL;
}

/* The output at the scid's position in the block: the script tells. */
static bool resolve(struct chain_checker *ck, struct check *k,
		    const struct cblock *cb)
{
	uint32_t txi = (uint32_t)(k->scid >> 16) & 0xffffff;
	uint32_t vout = (uint32_t)(k->scid & 0xffff);
	const struct chain_txout *o;

	if (txi >= cb->b->n_tx) {
		finish(ck, k, CHAIN_CHECK_NO_TX);
		return false;
	}
	if (vout >= cb->b->tx[txi].n_out) {
		finish(ck, k, CHAIN_CHECK_NO_OUTPUT);
		return false;
	}
	o = &cb->b->tx[txi].out[vout];
	/* BOLT 7: "if the short_channel_id's output does NOT correspond to
	 * a P2WSH (using bitcoin_key_1 and bitcoin_key_2, as specified in
	 * BOLT #3) ... MUST ignore the message." */
	if (o->script_len != 34 || o->script[0] != 0 || o->script[1] != 0x20) {
		finish(ck, k, CHAIN_CHECK_NOT_P2WSH);
		return false;
	}
	if (memcmp(o->script, k->script, 34)) {
		finish(ck, k, CHAIN_CHECK_WRONG_KEYS);
		return false;
	}
	memcpy(k->txid, cb->b->tx[txi].txid, 32);
	k->value = o->value_sat;
	k->st = NEED_TXOUT;
	return true;
}

static void cache_put(struct chain_checker *ck, uint32_t height,
		      uint8_t *raw, struct chain_block *b)
{
	struct cblock *victim = &ck->cache[0];

	for (size_t i = 0; i < CACHE_BLOCKS; i++) {
		struct cblock *cb = &ck->cache[i];
		if (!cb->b) {
			victim = cb;
			break;
		}
		if (cb->used < victim->used)
			victim = cb;
	}
	if (victim->b) {
		chain_block_free(victim->b);
		free(victim->raw);
	}
	victim->height = height;
	victim->raw = raw;
	victim->b = b;
	victim->used = ++ck->clock;
}

static struct chain_funding_view view(const struct chain_checker *ck)
{
	struct chain_funding_view v = { 0 };

	ck->ops.view(ck->ops.ctx, &v);
	return v;
}

static bool usable(const struct chain_checker *ck)
{
	return view(ck).usable;
}

static void retry_or_give_up(struct chain_checker *ck, struct check *k)
{
	k->inflight = false;
	if (++k->tries >= MAX_TRIES)
		finish(ck, k, CHAIN_CHECK_UNAVAILABLE);
}

static void batch_unlink(struct chain_checker *ck, struct batch *bt)
{
	if (bt->prev)
		bt->prev->next = bt->next;
	else
		ck->batches = bt->next;
	if (bt->next)
		bt->next->prev = bt->prev;
}

static void on_batch(void *ctx, enum chain_http_result r, long status,
		     const char *body, size_t len, const char *errtext)
{
	struct batch *bt = ctx;
	struct chain_checker *ck = bt->ck;
	struct chain_batch rb = { 0 };
	struct chain_reply *rep = NULL;
	char err[160];
	json_t *root = NULL;

	ck->inflight--;
	batch_unlink(ck, bt);
	if (r != CHAIN_HTTP_OK || (status != 200 && status != 500))
		snprintf(err, sizeof(err), "%s",
			 r == CHAIN_HTTP_OK ? "HTTP error" : errtext);
	else if (chain_json_batch(body, len, bt->n, &rb, err, sizeof(err)) ==
		 CHAIN_BATCH_OK) {
		root = rb.root;
		rep = rb.rep;
	}
	if (!root)
		chain_batch_clear(&rb);
	if (!root) {
		log_unusual(SUB, "funding check batch failed: %s", err);
		ck->errors++;
		/* Every check of this batch: once more, then unavailable. */
		for (struct check *k = ck->head, *nx; k; k = nx) {
			nx = k->next;
			for (size_t i = 0; i < bt->n; i++)
				if ((bt->calls[i].kind == CALL_TXOUT &&
				     bt->calls[i].chk == k) ||
				    (bt->calls[i].kind == CALL_HASH &&
				     k->st == NEED_HASH &&
				     (uint32_t)(k->scid >> 40) ==
				     bt->calls[i].height) ||
				    (bt->calls[i].kind == CALL_BLOCK &&
				     k->st == NEED_BLOCK &&
				     !memcmp(k->bhash, bt->calls[i].hash, 32))) {
					retry_or_give_up(ck, k);
					break;
				}
		}
		free(bt);
		kick(ck);
		return;
	}
	/* Without a transaction each write commits alone: slower, no less
	 * right. */
	bool in_tx = chain_store_begin(ck->store);
	if (!in_tx)
		log_unusual(SUB, "watch store: cannot begin a transaction");
	for (size_t i = 0; i < bt->n; i++) {
		struct call *cl = &bt->calls[i];
		struct chain_reply *rp = &rep[i];
		switch (cl->kind) {
		case CALL_HASH: {
			uint8_t h[32];
			bool ok = !rp->code && chain_json_hash(rp->result, h);
			for (struct check *k = ck->head, *nx; k;
			     k = nx) {
				nx = k->next;
				if (k->st != NEED_HASH ||
				    (uint32_t)(k->scid >> 40) != cl->height)
					continue;
				k->inflight = false;
				if (rp->code == -8)
					finish(ck, k, CHAIN_CHECK_NO_BLOCK);
				else if (!ok)
					retry_or_give_up(ck, k);
				else {
					memcpy(k->bhash, h, 32);
					k->st = NEED_BLOCK;
				}
			}
			break;
		}
		case CALL_BLOCK: {
			uint8_t *raw = NULL;
			size_t rlen = 0;
			struct chain_block *b = NULL;
			if (!rp->code && chain_json_hex(rp->result, &raw, &rlen,
							ck->lim.max_response))
				b = chain_block_parse(raw, rlen, err,
						      sizeof(err));
			if (b && (memcmp(b->hash, cl->hash, 32) ||
				  !chain_block_check_merkle(b, err,
							    sizeof(err)))) {
				chain_block_free(b);
				b = NULL;
			}
			if (b)
				cache_put(ck, cl->height, raw, b);
			else {
				free(raw);
				log_unusual(SUB, "funding check: getblock "
					    "%u unusable", cl->height);
			}
			struct cblock *cb = b ? cache_find(ck, cl->hash) : NULL;
			for (struct check *k = ck->head, *nx; k;
			     k = nx) {
				nx = k->next;
				if (k->st != NEED_BLOCK ||
				    memcmp(k->bhash, cl->hash, 32))
					continue;
				k->inflight = false;
				if (!cb)
					retry_or_give_up(ck, k);
				else
					resolve(ck, k, cb);
			}
			break;
		}
		case CALL_TXOUT: {
			struct check *k = cl->chk;
			struct chain_txout_info ti;
			k->inflight = false;
			if (rp->code ||
			    !chain_json_txout(rp->result, &ti, err, sizeof(err)))
				retry_or_give_up(ck, k);
			else if (!ti.found)
				/* It was in the block: so it is spent. */
				finish(ck, k, CHAIN_CHECK_SPENT);
			else if ((k->conf = ti.confirmations) <
				 (k->recheck ? CHAIN_WANT_CONF
					     : CHAIN_MIN_CONF))
				finish(ck, k, CHAIN_CHECK_UNCONFIRMED);
			else
				finish(ck, k, CHAIN_CHECK_OK);
			break;
		}
		}
	}
	if (in_tx && !chain_store_commit(ck->store))
		log_broken(SUB, "watch store: cannot commit a batch of checks");
	chain_batch_clear(&rb);
	free(bt);
	pump(ck);
}

static void add_call(struct batch *bt, const struct call *cl, json_t *arr,
		     const char *method, json_t *params)
{
	bt->calls[bt->n] = *cl;
	json_array_append_new(arr, json_pack("{s:s, s:o, s:I, s:s}",
		"jsonrpc", "1.0", "params", params, "id", (json_int_t)bt->n,
		"method", method));
	bt->n++;
}

static void pump(struct chain_checker *ck)
{
	size_t max = ck->lim.check_batch;

	if (max > CHAIN_BATCH_MAX)
		max = CHAIN_BATCH_MAX;
	while (usable(ck) && ck->inflight < ck->lim.check_inflight) {
		struct batch *bt = calloc(1, sizeof(*bt));
		json_t *arr = json_array();
		bool have_block = false;

		if (!bt)
			abort();
		bt->ck = ck;
		for (struct check *k = ck->head, *nx; k && bt->n < max;
		     k = nx) {
			nx = k->next;
			if (k->inflight)
				continue;
			uint32_t h = (uint32_t)(k->scid >> 40);
			/* A block the node does not have yet: wait for it
			 * (lnd keeps such "premature" announcements too), if
			 * it is at most a few blocks past the best height
			 * known (the node's or our own: a restarted node may
			 * be catching up); far beyond that there is none. */
			struct chain_funding_view v = view(ck);
			if (k->st == NEED_HASH && h > v.node_blocks) {
				uint32_t known = v.node_blocks > v.tip_height
						 ? v.node_blocks : v.tip_height;
				/* The highest ever seen: a node restarted
				 * empty (bcoin's in-memory chain) and our tip
				 * stepped back with it must not turn a
				 * waiting check into "no such block". */
				if (v.best_seen > known)
					known = v.best_seen;
				if (h > known + PREMATURE_BLOCKS)
					finish(ck, k, CHAIN_CHECK_NO_BLOCK);
				continue;
			}
			/* The cache is by hash only: the block at a
			 * height changes in a reorg (one deeper than the
			 * blocks the follower keeps drops nothing here), so
			 * the height is always asked (getblockhash). */
			if (k->st == NEED_BLOCK) {
				struct cblock *cb = cache_find(ck, k->bhash);
				if (cb && !resolve(ck, k, cb))
					continue;
			}
			struct call cl = { .height = h, .chk = k };
			bool dup = false;
			switch (k->st) {
			case NEED_HASH:
				for (size_t i = 0; i < bt->n; i++)
					dup |= bt->calls[i].kind == CALL_HASH &&
					       bt->calls[i].height == h;
				if (!dup) {
					cl.kind = CALL_HASH;
					add_call(bt, &cl, arr, "getblockhash",
						 json_pack("[I]", (json_int_t)h));
				}
				break;
			case NEED_BLOCK: {
				char hex[65];
				for (size_t i = 0; i < bt->n; i++)
					dup |= bt->calls[i].kind == CALL_BLOCK &&
					       !memcmp(bt->calls[i].hash,
						       k->bhash, 32);
				/* One new block per batch: a block can be
				 * most of max_response. */
				if (dup)
					break;
				if (have_block)
					continue;
				have_block = true;
				cl.kind = CALL_BLOCK;
				memcpy(cl.hash, k->bhash, 32);
				hex_encode_reversed(hex, k->bhash, 32);
				add_call(bt, &cl, arr, "getblock",
					 json_pack("[s, i]", hex, 0));
				break;
			}
			case NEED_TXOUT: {
				char hex[65];
				hex_encode_reversed(hex, k->txid, 32);
				cl.kind = CALL_TXOUT;
				/* include_mempool=false: BOLT 7 and lnd
				 * mean the UTXO set; a spend only in the
				 * mempool does not close the channel. */
				add_call(bt, &cl, arr, "gettxout",
					 json_pack("[s, I, b]", hex,
						   (json_int_t)(k->scid &
								0xffff), 0));
				break;
			}
			}
			k->inflight = true;
		}
		if (!bt->n) {
			json_decref(arr);
			free(bt);
			return;
		}
		char *body = json_dumps(arr, JSON_COMPACT);
		json_decref(arr);
		if (!body)
			abort();
		ck->requests++;
		ck->inflight++;
		bt->next = ck->batches;
		if (ck->batches)
			ck->batches->prev = bt;
		ck->batches = bt;
		if (!chain_http_post(ck->http, body, strlen(body), on_batch,
				     bt)) {
			ck->inflight--;
			batch_unlink(ck, bt);
			/* A TXOUT check is in one batch only (its pointer is
			 * in the call): release just this batch's.  Hash and
			 * block stages are matched by value, so releasing
			 * them all is safe. */
			for (size_t i = 0; i < bt->n; i++)
				if (bt->calls[i].kind == CALL_TXOUT)
					bt->calls[i].chk->inflight = false;
			for (struct check *k = ck->head; k; k = k->next)
				if (k->st != NEED_TXOUT)
					k->inflight = false;
			free(bt);
			free(body);
			return;
		}
		free(body);
	}
}

static void enqueue(struct chain_checker *ck, struct check *k);

bool chain_checker_check(struct chain_checker *ck, uint64_t scid,
			 const uint8_t key1[33], const uint8_t key2[33],
			 chain_check_cb cb, void *ctx)
{
	struct check *k;

	if (ck->n >= ck->lim.max_checks)
		return false;
	k = calloc(1, sizeof(*k));
	if (!k)
		abort();
	k->scid = scid;
	chain_funding_script(k->script, key1, key2);
	k->cb = cb;
	k->ctx = ctx;
	enqueue(ck, k);
	return true;
}

static void enqueue(struct chain_checker *ck, struct check *k)
{
	/* FIFO: append. */
	k->prev = ck->tail;
	if (ck->tail)
		ck->tail->next = k;
	else
		ck->head = k;
	ck->tail = k;
	ck->n++;
	kick(ck);
}

/* ---- the re-check at 6 confirmations ---------------------------------- */

static struct recheck *recheck_find(struct chain_checker *ck, uint64_t scid)
{
	for (size_t i = 0; i < ck->rc_n; i++)
		if (ck->rc[i].scid == scid)
			return &ck->rc[i];
	return NULL;
}

static void recheck_put(struct chain_checker *ck, uint64_t scid,
			const uint8_t script[34])
{
	struct recheck *e = recheck_find(ck, scid);

	if (!e) {
		if (ck->rc_n == ck->rc_cap) {
			ck->rc_cap = ck->rc_cap ? ck->rc_cap * 2 : 64;
			ck->rc = realloc(ck->rc, ck->rc_cap * sizeof(*ck->rc));
			if (!ck->rc)
				abort();
		}
		e = &ck->rc[ck->rc_n++];
	}
	memset(e, 0, sizeof(*e));
	e->scid = scid;
	memcpy(e->script, script, 34);
}

/* False: the list is full (the caller refuses the channel). */
static bool recheck_add(struct chain_checker *ck, uint64_t scid,
			const uint8_t script[34])
{
	if (ck->rc_n >= CHAIN_MAX_RECHECKS && !recheck_find(ck, scid)) {
		log_unusual(SUB, "re-check list full (%d): channel refused "
			    "short of %d confirmations", CHAIN_MAX_RECHECKS,
			    CHAIN_WANT_CONF);
		return false;
	}
	recheck_put(ck, scid, script);
	/* Written in the batch's transaction (on_batch) when there is one. */
	if (!chain_store_recheck_put(ck->store, scid, script))
		log_broken(SUB, "watch store: cannot add the re-check of "
			   "channel %ux%ux%u", (unsigned)(scid >> 40),
			   (unsigned)(scid >> 16) & 0xffffff,
			   (unsigned)scid & 0xffff);
	return true;
}

void chain_checker_recheck_drop(struct chain_checker *ck, uint64_t scid)
{
	struct recheck *e = recheck_find(ck, scid);

	if (!e)
		return;
	*e = ck->rc[--ck->rc_n];
	if (!chain_store_recheck_del(ck->store, scid))
		log_broken(SUB, "watch store: cannot drop the re-check of "
			   "channel %ux%ux%u", (unsigned)(scid >> 40),
			   (unsigned)(scid >> 16) & 0xffffff,
			   (unsigned)scid & 0xffff);
}

/* The re-check's answer.  BOLT 7: "if the short_channel_id's output does
 * NOT correspond to a P2WSH (using bitcoin_key_1 and bitcoin_key_2, as
 * specified in BOLT #3) OR the output is spent: MUST ignore the message"
 * and "SHOULD ignore it below 6 confirmations; MAY accept it if close to
 * 6": accepted close to 6, it is held to the first rule again at 6. */
static void recheck_done(struct chain_checker *ck, uint64_t scid,
			 enum chain_check r, uint32_t conf)
{
	struct recheck *e = recheck_find(ck, scid);
	const char *why = chain_check_name(r);

	if (!e)
		return; /* forgotten meanwhile (spent 72 blocks, unwatched) */
	e->queued = false;
	ck->rechecks[r]++;
	if (r == CHAIN_CHECK_OK) {
		log_debug(SUB, "channel %ux%ux%u: re-checked at %u "
			  "confirmations", (unsigned)(scid >> 40),
			  (unsigned)(scid >> 16) & 0xffffff,
			  (unsigned)scid & 0xffff, conf);
		chain_checker_recheck_drop(ck, scid);
		return;
	}
	/* The node answered with a tip short of ours, or not at all: again
	 * at the next block. */
	if (r == CHAIN_CHECK_UNAVAILABLE || r == CHAIN_CHECK_UNCONFIRMED)
		return;
	log_info(SUB, "channel %ux%ux%u forgotten: its re-check at %d "
		 "confirmations says %s", (unsigned)(scid >> 40),
		 (unsigned)(scid >> 16) & 0xffffff, (unsigned)scid & 0xffff,
		 CHAIN_WANT_CONF, why);
	chain_checker_recheck_drop(ck, scid);
	ck->ops.forget(ck->ops.ctx, scid);
}

void chain_checker_recheck_due(struct chain_checker *ck)
{
	struct chain_funding_view v = view(ck);

	if (!v.have_tip)
		return;
	for (size_t i = 0; i < ck->rc_n; i++) {
		struct recheck *e = &ck->rc[i];
		uint32_t h = (uint32_t)(e->scid >> 40);
		if (e->queued || (uint64_t)v.tip_height + 1 <
				 (uint64_t)h + CHAIN_WANT_CONF)
			continue;
		struct check *k = calloc(1, sizeof(*k));
		if (!k)
			abort();
		k->scid = e->scid;
		memcpy(k->script, e->script, 34);
		k->recheck = true;
		e->queued = true;
		/* Not bounded by max_checks: the list itself is bounded. */
		enqueue(ck, k);
	}
}

static void rload(void *arg, uint64_t scid, const uint8_t script[34])
{
	struct chain_checker *ck = arg;

	recheck_put(ck, scid, script);
}

void chain_checker_recheck_load(struct chain_checker *ck)
{
	bool err;

	chain_store_recheck_load(ck->store, CHAIN_MAX_RECHECKS, rload, ck,
				 &err);
	if (err)
		log_broken(SUB, "reading the channels to re-check failed");
}

void chain_checker_status(struct chain_checker *ck)
{
	if (ck && ck->head && usable(ck))
		kick(ck);
}

/* Blocks from height up left the chain: drop them from the cache. */
void chain_checker_drop_blocks(struct chain_checker *ck, uint32_t height)
{
	for (size_t i = 0; i < CACHE_BLOCKS; i++) {
		struct cblock *cb = &ck->cache[i];
		if (cb->b && cb->height >= height) {
			chain_block_free(cb->b);
			free(cb->raw);
			memset(cb, 0, sizeof(*cb));
		}
	}
}

struct chain_checker *chain_checker_new(struct ev_loop *loop,
					struct chain_http *http,
					struct chain_store *store,
					const struct chain_funding_limits *lim,
					const struct chain_funding_ops *ops)
{
	struct chain_checker *ck = calloc(1, sizeof(*ck));

	if (!ck)
		abort();
	ck->loop = loop;
	ck->http = http;
	ck->store = store;
	ck->lim = *lim;
	ck->ops = *ops;
	ev_timer_init(&ck->kick, on_kick, 0., 0.);
	ck->kick.data = ck;
	return ck;
}

void chain_checker_counters(const struct chain_checker *ck,
			    struct chain_info *out)
{
	if (!ck)
		return;
	for (size_t i = 0; i < CHAIN_CHECK_NUM; i++) {
		out->checks[i] += ck->checks[i];
		out->rechecks[i] += ck->rechecks[i];
	}
	out->checks_queued += ck->n;
	out->rechecks_pending += ck->rc_n;
	out->errors += ck->errors;
	out->requests += ck->requests;
}

void chain_checker_free(struct chain_checker *ck)
{
	if (ck) {
		ev_timer_stop(ck->loop, &ck->kick);
		/* Pending checks are dropped without callbacks: the owner is
		 * going away too. */
		while (ck->head) {
			struct check *k = ck->head;
			ck->head = k->next;
			free(k);
		}
		/* Their HTTP requests are cancelled by chain_http_free next,
		 * without callbacks. */
		while (ck->batches) {
			struct batch *bt = ck->batches;
			ck->batches = bt->next;
			free(bt);
		}
		for (size_t i = 0; i < CACHE_BLOCKS; i++)
			if (ck->cache[i].b) {
				chain_block_free(ck->cache[i].b);
				free(ck->cache[i].raw);
			}
		free(ck->rc);
		free(ck);
	}
}
