/*~ chain: follows a bitcoind-compatible node's best chain.
 *
 * One step at a time, like Core Lightning's bcli poller: ask the node for
 * its tip (getblockchaininfo + the genesis hash, one batch); if it differs
 * from ours, check our tip is still on its chain (getblockhash at our
 * height, batched with the next height), disconnect it if not (reorg), or
 * fetch the next block raw (getblock HASH 0), parse it (block.h), check its
 * prev hash against our tip and connect it.  Repeat until at the tip, then
 * wait --bitcoind.blockpollinginterval.  Any transport or node failure
 * moves to CHAIN_LOST with the cause and retries with a doubling backoff
 * (1 s .. 30 s); the next success resumes from the stored tip, so blocks
 * mined meanwhile are connected in order.
 */
#include "chain/block.h"
#include "chain/chain_internal.h"
#include "chain/follow.h"
#include "chain/funding.h"
#include "chain/http.h"
#include "chain/rpcjson.h"
#include "chain/store.h"
#include "chain/watch.h"
#include "chain/mempool.h"
#include "chain/zmqsub.h"
#include "common/common.h"

#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

/* ---- The follower's state: chain.c's own ---- */

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
	bool zsilent;           /* zmq_silent was logged, not ended since */
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

#define SUB "CHAIN"
#define BACKOFF_MIN 1.0
#define BACKOFF_MAX 30.0
/* lnd's synced_to_chain: the best block is at most 2 hours old. */
#define SYNC_MAX_AGE (2 * 3600)

static const struct {
	const char *net;
	uint16_t port;
	const char *genesis; /* display order */
} nets[] = {
	{ "mainnet", 8332, "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f" },
	{ "testnet", 18332, "000000000933ea01ad0ee984209779baaec3ced90fa3f408719526f8d77f4943" },
	{ "signet", 38332, "00000008819873e925422c1ff0f99f7cc9bbb232af63a077a480a3633bee1ef6" },
	{ "regtest", 18443, "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206" },
};

const char *chain_status_name(enum chain_status s)
{
	switch (s) {
	case CHAIN_OFF: return "off";
	case CHAIN_CONNECTING: return "connecting";
	case CHAIN_SYNCING: return "syncing";
	case CHAIN_SYNCED: return "synced";
	case CHAIN_LOST: return "lost";
	case CHAIN_WRONG_NET: return "wrong-network";
	}
	abort();
}

uint16_t chain_default_port(const char *network)
{
	for (size_t i = 0; i < CN_ARRAY_SIZE(nets); i++)
		if (!strcmp(nets[i].net, network))
			return nets[i].port;
	return 0;
}

void chain_config_defaults(struct chain_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->network = "mainnet";
	cfg->poll_interval = 10.0;
	cfg->timeout = 30.0;
	/* A 4 MB block is 8 MB of hex, plus the JSON envelope; a 300,000-tx
	 * getrawmempool is 20 MB. */
	cfg->max_response = 32u << 20;
	cfg->max_checks = 20000;
	cfg->check_batch = 32;
	cfg->check_inflight = 2;
}

static uint32_t now_unix(const struct chain *c)
{
	if (c->cfg.clock)
		return c->cfg.clock(c->cfg.clock_arg);
	return (uint32_t)time(NULL);
}

static void update_synced(struct chain *c)
{
	struct chain_info *i = &c->info;

	i->height = c->height;
	memcpy(i->hash, c->hash, 32);
	i->tip_time = c->tip_time;
	i->node_height = c->node.blocks;
	i->node_ibd = c->node.ibd;
	i->synced = (i->status == CHAIN_SYNCED || i->status == CHAIN_SYNCING) &&
		    c->have_tip && c->node_known &&
		    !memcmp(c->hash, c->node.best, 32) && !c->node.ibd &&
		    c->tip_time + SYNC_MAX_AGE > now_unix(c);
}

static void set_status(struct chain *c, enum chain_status st,
		       const char *cause)
{
	enum chain_status prev = c->info.status;
	bool changed = prev != st;

	if (cause)
		snprintf(c->info.last_error, sizeof(c->info.last_error), "%s",
			 cause);
	if (st == CHAIN_LOST && changed)
		c->info.lost_count++;
	c->info.status = st;
	update_synced(c);
	if (!changed)
		return;
	chain_checker_status(c->checker);
	if (st == CHAIN_LOST || st == CHAIN_WRONG_NET)
		log_unusual(SUB, "chain backend %s: %s", chain_status_name(st),
			    cause ? cause : "");
	else
		/* syncing <-> synced happens at every new block: debug. */
		log_msg(SUB, (st == CHAIN_SYNCED || st == CHAIN_SYNCING) &&
			(prev == CHAIN_SYNCED || prev == CHAIN_SYNCING)
			? LOG_DEBUG : LOG_INFO,
			"chain backend %s (height %u)", chain_status_name(st),
			c->height);
	if (c->ev.status_changed)
		c->ev.status_changed(c->ev.ctx, st, cause ? cause : "");
}

static void schedule(struct chain *c, double after)
{
	/* A rawblock arrived during this round: poll again at once (never
	 * instead of a backoff: a lost node is not asked in a loop). */
	if (c->zblock_hint && after == c->cfg.poll_interval) {
		c->zblock_hint = false;
		after = 0.;
	}
	c->step = STEP_IDLE;
	ev_timer_stop(c->loop, &c->poll);
	ev_timer_set(&c->poll, after, 0.);
	ev_timer_start(c->loop, &c->poll);
}

/* Node gone or misbehaving: say why, back off, try again later. */
static void lost(struct chain *c, const char *fmt, ...) CN_PRINTF(2, 3);
static void lost(struct chain *c, const char *fmt, ...)
{
	char cause[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cause, sizeof(cause), fmt, ap);
	va_end(ap);
	c->info.errors++;
	c->info.connected = false;
	c->repolls = 0;
	set_status(c, CHAIN_LOST, cause);
	c->backoff = c->backoff ? c->backoff * 2 : BACKOFF_MIN;
	if (c->backoff > BACKOFF_MAX)
		c->backoff = BACKOFF_MAX;
	schedule(c, c->backoff);
}

static void on_reply(void *ctx, enum chain_http_result r, long status,
		     const char *body, size_t len, const char *errtext);
static void advance(struct chain *c);

/* Send a batch of calls "method(params)" with ids 0..n-1. */
static void send_calls(struct chain *c, enum step step, size_t n,
		       const char *const *methods, json_t *const *params)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, json_pack("{s:s, s:o, s:I, s:s}",
			"jsonrpc", "1.0", "params", params[i], "id",
			(json_int_t)i, "method", methods[i]));
	char *body = json_dumps(arr, JSON_COMPACT);
	json_decref(arr);
	if (!body)
		abort();
	c->step = step;
	c->sent = n;
	c->info.requests++;
	if (!chain_http_post(c->http, body, strlen(body), on_reply, c))
		lost(c, "cannot start an HTTP request");
	free(body);
}

static void poll_info(struct chain *c)
{
	const char *m[] = { "getblockchaininfo", "getblockhash" };
	json_t *p[] = { json_array(), json_pack("[i]", 0) };

	send_calls(c, STEP_INFO, 2, m, p);
}

/* Ask the node's tip again at once, after an answer that contradicts an
 * earlier one; a node that keeps doing so is lost (backoff), not asked in
 * a loop (the same bound as chain_follow_decide's). */
static void repoll(struct chain *c, const char *why)
{
	if (++c->repolls > CHAIN_FOLLOW_MAX_REPOLLS) {
		lost(c, "the node's answers keep contradicting each other "
		     "(%s)", why);
		return;
	}
	poll_info(c);
}

static void ask_hash(struct chain *c, enum step step, uint32_t h)
{
	const char *m[] = { "getblockhash", "getblockhash" };
	json_t *p[] = { json_pack("[I]", (json_int_t)h),
			json_pack("[I]", (json_int_t)h + 1) };
	/* STEP_HASHES: is our tip (h) still there, and what comes next. */
	send_calls(c, step, step == STEP_HASHES && h < c->node.blocks ? 2 : 1,
		   m, p);
	if (!(step == STEP_HASHES && h < c->node.blocks))
		json_decref(p[1]);
}

static void ask_block(struct chain *c)
{
	char hex[65];
	const char *m[] = { "getblock" };

	hex_encode_reversed(hex, c->next_hash, 32);
	json_t *p[] = { json_pack("[s, i]", hex, 0) };
	send_calls(c, STEP_BLOCK, 1, m, p);
}

/* Asks for the next batch of new mempool transactions; when all are in,
 * hands the whole set up (ev.mempool_txs) and waits for the next poll. */
static void mempool_fetch(struct chain *c)
{
	const char *m[MEMPOOL_BATCH];
	json_t *p[MEMPOOL_BATCH];
	size_t n;

	/* Bounded work per poll: the rest is fetched in the next polls. */
	size_t room = c->mp_per_poll > c->mp_polled
		      ? c->mp_per_poll - c->mp_polled : 0;
	c->mp_nbatch = chain_mempool_next(c->mp, c->mp_batch,
					  room < MEMPOOL_BATCH ? room
							       : MEMPOOL_BATCH);
	c->mp_polled += c->mp_nbatch;
	if (!c->mp_nbatch) {
		const struct chain_tx *const *txs = chain_mempool_txs(c->mp, &n);
		c->ev.mempool_txs(c->ev.ctx, txs, n);
		schedule(c, c->cfg.poll_interval);
		return;
	}
	for (size_t i = 0; i < c->mp_nbatch; i++) {
		char hex[65];
		m[i] = "getrawtransaction";
		p[i] = json_pack("[s, b]",
				 hex_encode_reversed(hex, c->mp_batch[i], 32),
				 0);
	}
	send_calls(c, STEP_MEMPOOL_TX, c->mp_nbatch, m, p);
}

/* Test hook (docs/chain.md "Crash points"): with
 * COLDNODE_TEST_HOOK_CRASH_AT=NAME[@HEIGHT] in the environment the
 * process kills itself (SIGKILL, as kill -9) at the named point between
 * two writes of a block's connect or disconnect, for the crash-point test
 * (tests/crash/test_crash_points.py).  Never set in production. */
static void crash_hook_init(struct chain *c)
{
	const char *v = getenv("COLDNODE_TEST_HOOK_CRASH_AT");
	const char *pp = getenv("COLDNODE_TEST_HOOK_MEMPOOL_PER_POLL");
	const char *at;

	/* Test hook: a smaller per-poll bound, so a test mempool of a few
	 * hundred transactions is "larger than the cap". */
	c->mp_per_poll = CHAIN_MEMPOOL_PER_POLL;
	if (pp && atoi(pp) > 0) {
		c->mp_per_poll = (size_t)atoi(pp);
		log_unusual(SUB, "test hook: at most %zu new mempool "
			    "transactions per poll", c->mp_per_poll);
	}

	if (!v || !*v)
		return;
	snprintf(c->crash_at, sizeof(c->crash_at), "%s", v);
	at = strchr(c->crash_at, '@');
	c->crash_height = -1;
	if (at) {
		c->crash_height = strtoll(at + 1, NULL, 10);
		c->crash_at[at - c->crash_at] = '\0';
	}
	log_unusual(SUB, "test hook: will be killed at crash point %s",
		    v);
}

static void crash_point(struct chain *c, const char *name, uint32_t height)
{
	if (!c->crash_at[0] || strcmp(c->crash_at, name) ||
	    (c->crash_height >= 0 && c->crash_height != (int64_t)height))
		return;
	log_unusual(SUB, "test hook: crash point %s at block %u: kill -9",
		    name, height);
	raise(SIGKILL);
}

/* With a healthy rawtx stream (a message within this many poll
 * intervals, no gap) the whole mempool is polled only this often, or
 * after a block: ZMQ brings the additions, the full poll the removals
 * (mined, evicted, replaced). */
#define ZMQ_FULL_POLL_EVERY 10

/* The fallback: rawtx configured, but none for ZMQ_FULL_POLL_EVERY
 * intervals. */
static bool zmq_silent(const struct chain *c)
{
	double slow = ZMQ_FULL_POLL_EVERY * c->cfg.poll_interval;

	return c->ztx && !(c->ztx_last > 0 &&
			   ev_now(c->loop) - c->ztx_last < slow);
}

static bool zmq_healthy(struct chain *c)
{
	double now = ev_now(c->loop);
	double slow = ZMQ_FULL_POLL_EVERY * c->cfg.poll_interval;

	return c->ztx && !zmq_silent(c) && !c->mp_full_due &&
	       now - c->mp_last_full < slow;
}

static void mempool_or_wait(struct chain *c)
{
	bool txs = c->ev.mempool_txs &&
		   (!c->ev.mempool_wanted || c->ev.mempool_wanted(c->ev.ctx));

	if (zmq_silent(c) && !c->zsilent) {
		c->zsilent = true;
		if (c->ztx_last > 0)
			log_info(SUB, "zmq rawtx: none for %d poll intervals: "
				 "every mempool poll is a full one until the "
				 "next", ZMQ_FULL_POLL_EVERY);
		else
			log_info(SUB, "zmq rawtx: none yet: every mempool "
				 "poll is a full one until the first");
	}

	if (c->ev.mempool || (txs && !zmq_healthy(c))) {
		const char *m[] = { "getrawmempool" };
		json_t *p[] = { json_array() };
		if (c->mp) /* pushes from now on are newer than the answer */
			chain_mempool_mark(c->mp);
		c->mp_last_full = ev_now(c->loop);
		c->mp_full_due = false;
		c->info.mempool_full_polls++;
		send_calls(c, STEP_MEMPOOL, 1, m, p);
		return;
	}
	schedule(c, c->cfg.poll_interval);
}

/* ---- bitcoind's ZMQ (zmqsub.c) ---- */

/* Pushed transactions are handed up together, at most this often: one
 * consumer call (one wallet SQLite transaction) per batch of a flood, not
 * per transaction. */
#define ZMQ_FLUSH_DELAY 0.25

static void on_zflush(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct chain *c = w->data;
	size_t n;
	(void)loop;
	(void)revents;
	/* During a full poll's fetch the set is handed up at its end. */
	if (!c->mp || c->step == STEP_MEMPOOL || c->step == STEP_MEMPOOL_TX)
		return;
	if (c->ev.mempool_tx_added) {
		/* Only what is new: the cost of a 300,000-tx mempool is not
		 * paid per transaction. */
		const struct chain_tx *const *txs =
			chain_mempool_new_txs(c->mp, &n);
		if (n)
			c->ev.mempool_tx_added(c->ev.ctx, txs, n);
		return;
	}
	const struct chain_tx *const *txs = chain_mempool_txs(c->mp, &n);
	c->ev.mempool_txs(c->ev.ctx, txs, n);
}

/* A restart is reported as such, not as 4 billion messages missed. */
static void zmq_gap_log(struct chain *c, const char *topic, uint32_t gap,
			const char *then)
{
	if (chain_zmq_seq_restarted(gap)) {
		c->info.zmq_restarts++;
		log_unusual(SUB, "zmq %s: sequence went back by %u (the "
			    "publisher restarted: bitcoind counts from 0 at "
			    "its start): %s", topic, 0u - gap, then);
	} else {
		c->info.zmq_gaps++;
		log_unusual(SUB, "zmq %s: %u message(s) missed (sequence "
			    "gap): %s", topic, gap, then);
	}
}

static void zmq_gap(struct chain *c, const char *topic, uint32_t gap)
{
	zmq_gap_log(c, topic, gap, "full mempool poll");
	c->mp_full_due = true;
	if (c->step == STEP_IDLE && c->started &&
	    c->info.status != CHAIN_LOST)
		schedule(c, 0.);
	else
		c->zblock_hint = true;
}

static void on_zmq_tx(void *ctx, enum chain_zmq_kind k, const uint8_t *body,
		      size_t len, uint32_t gap)
{
	struct chain *c = ctx;

	if (k != CHAIN_ZMQ_RAWTX) {
		c->info.zmq_bad++;
		log_unusual(SUB, "zmq rawtx: malformed message dropped");
		return;
	}
	c->info.zmq_rawtx++;
	c->ztx_last = ev_now(c->loop);
	if (c->zsilent) {
		c->zsilent = false;
		log_info(SUB, "zmq rawtx: messages again: full mempool polls "
			 "only after blocks and every %dth poll interval",
			 ZMQ_FULL_POLL_EVERY);
	}
	if (gap)
		zmq_gap(c, "rawtx", gap);
	/* A node on another network: its transactions are not ours. */
	if (!c->mp || c->info.status == CHAIN_WRONG_NET ||
	    (c->ev.mempool_wanted && !c->ev.mempool_wanted(c->ev.ctx)))
		return;
	if (!chain_mempool_push(c->mp, body, len)) {
		c->info.zmq_bad++;
		log_unusual(SUB, "zmq rawtx: a transaction that does not "
			    "parse (%zu bytes) dropped", len);
		return;
	}
	if (!ev_is_active(&c->zflush)) {
		ev_timer_set(&c->zflush, ZMQ_FLUSH_DELAY, 0.);
		ev_timer_start(c->loop, &c->zflush);
	}
}

static void on_zmq_block(void *ctx, enum chain_zmq_kind k,
			 const uint8_t *body, size_t len, uint32_t gap)
{
	struct chain *c = ctx;
	(void)body;
	(void)len;

	if (k != CHAIN_ZMQ_RAWBLOCK) {
		c->info.zmq_bad++;
		log_unusual(SUB, "zmq rawblock: malformed message dropped");
		return;
	}
	c->info.zmq_rawblock++;
	if (gap) /* the tip poll below catches up anyway */
		zmq_gap_log(c, "rawblock", gap, "tip poll");
	/* Only a hint: the block is fetched and applied by the follower
	 * (chain_follow_decide, connect_block) as any polled one. */
	if (c->step == STEP_IDLE && c->started &&
	    c->info.status != CHAIN_LOST)
		schedule(c, 0.);
	else
		c->zblock_hint = true;
}

/* ---- the consumer cursor (chain_set_consumer, follow.c) ---- */

/* Blocks delivered to the consumer per round before the node's tip is
 * polled again (a 1,000-block rescan must not hide new blocks). */
#define CONS_PER_ROUND 50

static enum chain_consumer_do cons_decide(struct chain *c, uint32_t *th,
					  uint8_t thash[32], int64_t *next)
{
	uint8_t at[32];
	struct chain_consumer_view v = {
		.chain_height = c->height,
		.chain_at = FH_UNASKED,
	};

	v.has_tip = c->cons.tip(c->cons.ctx, th, thash);
	v.tip_height = *th;
	v.tip_hash = thash;
	v.next = *next = c->cons.next_height(c->cons.ctx);
	if (v.has_tip && *th <= c->height) {
		if (*th == c->height) {
			memcpy(at, c->hash, 32);
			v.chain_at = FH_GOT;
		} else if (chain_store_hash_at(c->store, *th, at)) {
			v.chain_at = FH_GOT;
		} else if (c->cons_ok && c->cons_ok_height == *th &&
			   !memcmp(c->cons_ok_hash, thash, 32)) {
			memcpy(at, thash, 32);
			v.chain_at = FH_GOT;
		}
		v.chain_at_hash = at;
	}
	return chain_consumer_decide(&v);
}

static void cons_ask_hash(struct chain *c, enum step step, uint32_t h)
{
	const char *m[] = { "getblockhash" };
	json_t *p[] = { json_pack("[I]", (json_int_t)h) };

	c->cons_height = h;
	send_calls(c, step, 1, m, p);
}

/* One step of the consumer cursor.  True: a request is out (its answer
 * continues); false: nothing (more) to do this round. */
static bool cons_step(struct chain *c)
{
	if (!c->cons.connect || !c->have_tip)
		return false;
	while (c->cons_round < CONS_PER_ROUND) {
		uint32_t th = 0;
		uint8_t thash[32];
		int64_t next;
		enum chain_apply r;

		switch (cons_decide(c, &th, thash, &next)) {
		case CONS_IDLE:
			return false;
		case CONS_DISCONNECT:
			r = c->cons.disconnect(c->cons.ctx, th, thash);
			crash_point(c, "consumer.disconnect", th);
			c->cons_round++;
			if (r != CHAIN_APPLIED) {
				/* Retried at the next poll, not in a loop. */
				log_unusual(SUB, "consumer could not undo its "
					    "block %u (result %d)", th, (int)r);
				return false;
			}
			log_info(SUB, "consumer's block %u undone: not on the "
				 "chain followed", th);
			continue;
		case CONS_VERIFY:
			memcpy(c->cons_hash, thash, 32);
			cons_ask_hash(c, STEP_CONS_VERIFY, th);
			return true;
		case CONS_FETCH:
			c->cons_next = next;
			cons_ask_hash(c, STEP_CONS_HASH, (uint32_t)next);
			return true;
		}
	}
	/* A full round: look at the node's tip, then go on. */
	c->cons_round = 0;
	poll_info(c);
	return true;
}

static void after_tip(struct chain *c)
{
	if (cons_step(c))
		return;
	mempool_or_wait(c);
}

/* A historical block for the consumer (our tip does not move). */
static void cons_block(struct chain *c, const uint8_t *raw, size_t len)
{
	char err[128];
	struct chain_block *b = chain_block_parse(raw, len, err, sizeof(err));
	enum chain_apply r;
	uint32_t th;
	uint8_t thash[32];

	if (!b) {
		lost(c, "block %u does not parse: %s", c->cons_height, err);
		return;
	}
	if (!chain_block_check_merkle(b, err, sizeof(err))) {
		chain_block_free(b);
		lost(c, "block %u: %s", c->cons_height, err);
		return;
	}
	if (memcmp(b->hash, c->cons_hash, 32)) {
		chain_block_free(b);
		lost(c, "getblock %u returned another block", c->cons_height);
		return;
	}
	r = c->cons.connect(c->cons.ctx, c->cons_height, b->hash, b);
	crash_point(c, "consumer.rescan", c->cons_height);
	chain_block_free(b);
	c->cons_round++;
	switch (r) {
	case CHAIN_APPLIED:
	case CHAIN_ALREADY:
		/* It must move on, or we would fetch it forever. */
		if (c->cons.next_height(c->cons.ctx) == c->cons_next) {
			log_unusual(SUB, "consumer stays at block %u: retried "
				    "at the next poll", c->cons_height);
			mempool_or_wait(c);
			return;
		}
		break;
	case CHAIN_FORK:
		/* Its tip is not this block's parent: undo its tip. */
		if (c->cons.tip(c->cons.ctx, &th, thash) &&
		    c->cons.disconnect(c->cons.ctx, th, thash) ==
		    CHAIN_APPLIED) {
			crash_point(c, "consumer.disconnect", th);
			log_info(SUB, "consumer's block %u undone: not the "
				 "parent of block %u", th, c->cons_height);
			break;
		}
		log_unusual(SUB, "consumer refused block %u (fork) and its "
			    "tip could not be undone", c->cons_height);
		mempool_or_wait(c);
		return;
	case CHAIN_GAP:
		break; /* its next height moved: decided again */
	case CHAIN_FAILED:
		log_unusual(SUB, "consumer failed on block %u: retried at the "
			    "next poll", c->cons_height);
		mempool_or_wait(c);
		return;
	}
	after_tip(c);
}

/* The node's tip is ours: synced; the consumer's blocks, then the
 * mempool if asked for. */
static void at_tip(struct chain *c)
{
	c->backoff = 0;
	c->repolls = 0;
	set_status(c, CHAIN_SYNCED, NULL);
	after_tip(c);
}

/* Our tip left the node's chain.  One transaction: the tip store and the
 * watch set's undo; then the consumer (its own file, idempotent). */
static void disconnect_tip(struct chain *c)
{
	uint8_t old[32];
	uint32_t h = c->height;
	bool in_tx = chain_store_begin(c->store);

	memcpy(old, c->hash, 32);
	if (!chain_store_drop(c->store, h))
		log_broken(SUB, "tip store: cannot drop block %u", h);
	crash_point(c, "disconnect.store", h);
	chain_watch_disconnect(c->watch, h);
	chain_checker_drop_blocks(c->checker, h);
	if (in_tx && !chain_store_commit(c->store))
		log_broken(SUB, "tip store: cannot commit the disconnect of "
			   "block %u", h);
	crash_point(c, "disconnect.chain", h);
	c->info.blocks_disconnected++;
	c->repolls = 0;
	log_info(SUB, "block %u disconnected (reorg)", h);
	if (c->cons.disconnect) {
		enum chain_apply r = c->cons.disconnect(c->cons.ctx, h, old);
		/* Not its tip (FORK, GAP): the cursor at the tip compares
		 * hashes and undoes what is left. */
		if (r == CHAIN_FAILED)
			log_unusual(SUB, "consumer could not undo block %u: "
				    "retried at the tip", h);
		crash_point(c, "disconnect.consumer", h);
	}
	if (c->ev.block_disconnected)
		c->ev.block_disconnected(c->ev.ctx, h, old);
	c->have_tip = chain_store_tip(c->store, &c->height, c->hash,
				      &c->tip_time);
	if (!c->have_tip) {
		log_unusual(SUB, "reorg deeper than the %d stored blocks: "
			    "restarting from the node's tip", CHAIN_KEEP);
		c->height = 0;
		c->tip_time = 0;
		memset(c->hash, 0, 32);
	}
}

/* The view chain_follow_decide() decides on: our tip, the node's last
 * getblockchaininfo, and (at_tip/next) its hashes at our tip and the next
 * height when just asked. */
static struct chain_follow_view follow_view(const struct chain *c)
{
	struct chain_follow_view v = {
		.have_tip = c->have_tip,
		.height = c->height,
		.hash = c->hash,
		.node_blocks = c->node.blocks,
		.node_headers = c->node.headers,
		.node_ibd = c->node.ibd,
		.node_best = c->node.best,
		.at_tip = FH_UNASKED,
		.next = FH_UNASKED,
		.repolls = c->repolls,
	};
	return v;
}

static void step_back(struct chain *c)
{
	if (!c->in_reorg)
		c->info.reorgs++;
	c->in_reorg = true;
	disconnect_tip(c);
}

/* Do what chain_follow_decide() says (the only place that acts on it). */
static void follow(struct chain *c, const struct chain_follow_view *v,
		   const char *cause)
{
	enum chain_follow_do d = chain_follow_decide(v);

	if (d != FOLLOW_WAIT)
		c->behind_logged = false;
	switch (d) {
	case FOLLOW_START: {
		uint32_t start = c->node.blocks > c->cfg.start_height
				 ? c->node.blocks - c->cfg.start_height : 0;
		c->next_height = start;
		ask_hash(c, STEP_START, start);
		return;
	}
	case FOLLOW_AT_TIP:
		at_tip(c);
		return;
	case FOLLOW_WAIT:
		c->repolls = 0;
		if (c->info.status != CHAIN_SYNCING)
			set_status(c, CHAIN_SYNCING, NULL);
		if (!c->behind_logged)
			log_info(SUB, "node at height %u (headers %u%s), our tip "
				 "%u: waiting for it to catch up",
				 c->node.blocks, c->node.headers,
				 c->node.ibd ? ", initial block download" : "",
				 c->height);
		c->behind_logged = true;
		schedule(c, c->cfg.poll_interval);
		return;
	case FOLLOW_ASK:
		if (c->info.status != CHAIN_SYNCING)
			set_status(c, CHAIN_SYNCING, NULL);
		ask_hash(c, STEP_HASHES, c->height);
		return;
	case FOLLOW_FORWARD:
		memcpy(c->next_hash, v->next_hash, 32);
		c->next_height = c->height + 1;
		ask_block(c);
		return;
	case FOLLOW_BACK:
		if (c->info.status != CHAIN_SYNCING)
			set_status(c, CHAIN_SYNCING, NULL);
		if (c->node.blocks < c->height && !c->in_reorg)
			log_info(SUB, "node's chain is shorter (height %u, our "
				 "tip %u) and it is not catching up: stepping "
				 "back to it", c->node.blocks, c->height);
		step_back(c);
		advance(c);
		return;
	case FOLLOW_REPOLL:
		c->repolls++;
		poll_info(c);
		return;
	case FOLLOW_LOST:
		if (v->repolls >= CHAIN_FOLLOW_MAX_REPOLLS && !cause)
			lost(c, "the node's answers keep contradicting each "
			     "other (%u re-polls in a row)", v->repolls);
		else
			lost(c, "getblockhash: %s", cause ? cause
			     : "not a hash");
		return;
	}
	abort();
}

/* After the tip moved: next step towards the node's tip. */
static void advance(struct chain *c)
{
	struct chain_follow_view v = follow_view(c);

	follow(c, &v, NULL);
}

static void connect_block(struct chain *c, const uint8_t *raw, size_t len)
{
	char err[128];
	struct chain_block *b = chain_block_parse(raw, len, err, sizeof(err));

	if (!b) {
		lost(c, "block %u does not parse: %s", c->next_height, err);
		return;
	}
	if (!chain_block_check_merkle(b, err, sizeof(err))) {
		chain_block_free(b);
		lost(c, "block %u: %s", c->next_height, err);
		return;
	}
	if (memcmp(b->hash, c->next_hash, 32)) {
		chain_block_free(b);
		lost(c, "getblock %u returned another block", c->next_height);
		return;
	}
	if (c->have_tip && memcmp(b->prev_hash, c->hash, 32)) {
		/* The node reorganised between our two calls: look again. */
		chain_block_free(b);
		repoll(c, "a block not on our tip");
		return;
	}
	/* One transaction: the tip store and the watch set (spends,
	 * forgets); then the consumer (its own file, idempotent). */
	bool in_tx = chain_store_begin(c->store);
	if (!chain_store_put(c->store, c->next_height, b->hash, b->prev_hash,
			     b->time))
		log_broken(SUB, "tip store: cannot write block %u",
			   c->next_height);
	crash_point(c, "connect.store", c->next_height);
	c->have_tip = true;
	c->in_reorg = false;
	c->height = c->next_height;
	memcpy(c->hash, b->hash, 32);
	c->tip_time = b->time;
	chain_watch_connect(c->watch, c->height, b);
	if (in_tx && !chain_store_commit(c->store))
		log_broken(SUB, "tip store: cannot commit block %u", c->height);
	crash_point(c, "connect.chain", c->height);
	c->info.blocks_connected++;
	c->repolls = 0;
	log_debug(SUB, "block %u connected (%zu txs)", c->height, b->n_tx);
	update_synced(c);
	if (c->cons.connect) {
		int64_t next = c->cons.next_height(c->cons.ctx);
		/* Only the block it wants next; a consumer behind or on
		 * another branch is brought here by the cursor at the tip. */
		if (next < 0 || next == (int64_t)c->height) {
			enum chain_apply r = c->cons.connect(c->cons.ctx,
							     c->height,
							     b->hash, b);
			if (r == CHAIN_FAILED)
				log_unusual(SUB, "consumer failed on block "
					    "%u: retried at the tip",
					    c->height);
			crash_point(c, "connect.consumer", c->height);
		}
	}
	if (c->ev.block_connected)
		c->ev.block_connected(c->ev.ctx, c->height, b, raw, len);
	chain_block_free(b);
	c->mp_full_due = true; /* its transactions left the mempool */
	advance(c);
}

/* bitcoind's .cookie is "__cookie__:PASSWORD": read with read(2) into
 * guarded memory (stdio would leave a copy in its heap buffer). */
#define COOKIE_MAX 256
static bool read_cookie(struct chain *c)
{
	char *buf;
	size_t n = 0;
	ssize_t r;
	int fd;
	bool ok;

	if (!c->cfg.rpccookie)
		return false;
	fd = open(c->cfg.rpccookie, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	buf = sodium_malloc(COOKIE_MAX);
	if (!buf)
		abort();
	while (n < COOKIE_MAX - 1 &&
	       (r = read(fd, buf + n, COOKIE_MAX - 1 - n)) != 0) {
		if (r < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		n += (size_t)r;
	}
	close(fd);
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	ok = strchr(buf, ':') != NULL;
	if (ok)
		chain_http_set_auth(c->http, buf);
	sodium_memzero(buf, COOKIE_MAX);
	sodium_free(buf);
	return ok;
}

static void handle(struct chain *c, struct chain_reply *rep, size_t n)
{
	char err[160];

	switch (c->step) {
	case STEP_INFO: {
		uint8_t genesis[32], want[32];
		if (rep[0].code || rep[1].code) {
			struct chain_reply *e = rep[0].code ? &rep[0] : &rep[1];
			/* -28: bitcoind is warming up (loading the index). */
			lost(c, "node error %lld: %s", e->code, e->message);
			return;
		}
		if (!chain_json_bci(rep[0].result, &c->node, err, sizeof(err))) {
			lost(c, "%s", err);
			return;
		}
		snprintf(c->info.node_chain, sizeof(c->info.node_chain), "%s",
			 c->node.chain);
		if (c->node.blocks > c->best_seen)
			c->best_seen = c->node.blocks;
		if (!chain_json_hash(rep[1].result, genesis)) {
			lost(c, "getblockhash 0: not a hash");
			return;
		}
		for (size_t i = 0; i < CN_ARRAY_SIZE(nets); i++)
			if (!strcmp(nets[i].net, c->cfg.network)) {
				json_t *s = json_string(nets[i].genesis);
				chain_json_hash(s, want);
				json_decref(s);
			}
		c->info.connected = true;
		if (memcmp(genesis, want, 32)) {
			c->node_known = false;
			char cause[160];
			snprintf(cause, sizeof(cause),
				 "node is on chain \"%s\", not --network=%s",
				 c->node.chain, c->cfg.network);
			c->info.errors++;
			set_status(c, CHAIN_WRONG_NET, cause);
			schedule(c, c->cfg.poll_interval);
			return;
		}
		c->node_known = true;
		c->backoff = 0;
		if (c->info.status == CHAIN_LOST ||
		    c->info.status == CHAIN_CONNECTING ||
		    c->info.status == CHAIN_WRONG_NET) {
			c->info.last_error[0] = '\0';
			set_status(c, CHAIN_SYNCING, NULL);
		}
		/* Checks wait while the node catches up (below our tip, or in
		 * initial block download): its confirmation counts would be
		 * too low and its blocks missing. */
		c->node_behind = (c->have_tip && c->node.blocks < c->height) ||
				 c->node.ibd || c->node.headers > c->node.blocks;
		chain_checker_status(c->checker); /* waiting checks may go now */
		/* A block's spends must meet the whole watch set: load it
		 * first (its loader polls again when done). */
		if (!chain_watch_loaded(c->watch)) {
			c->step = STEP_IDLE;
			chain_watch_start_load(c->watch);
			return;
		}
		advance(c);
		return;
	}
	case STEP_START:
		if (rep[0].code || !chain_json_hash(rep[0].result, c->next_hash)) {
			lost(c, "getblockhash: %s", rep[0].code ? rep[0].message
				 : "not a hash");
			return;
		}
		/* next_height: set by advance() with the request. */
		ask_block(c);
		return;
	case STEP_HASHES: {
		uint8_t at[32], next[32];
		struct chain_follow_view v = follow_view(c);
		/* -8: height out of range (the node's chain got shorter). */
		v.at_tip = rep[0].code == -8 ? FH_NONE
			   : !rep[0].code && chain_json_hash(rep[0].result, at)
			   ? FH_GOT : FH_ERROR;
		v.at_tip_hash = at;
		v.next = n < 2 ? FH_UNASKED : rep[1].code == -8 ? FH_NONE
			 : !rep[1].code && chain_json_hash(rep[1].result, next)
			 ? FH_GOT : FH_ERROR;
		v.next_hash = next;
		char cause[120] = "not a hash";
		const struct chain_reply *bad =
			v.at_tip == FH_ERROR ? &rep[0]
			: v.next == FH_ERROR ? &rep[1] : NULL;
		if (bad && bad->code)
			snprintf(cause, sizeof(cause), "%lld %s", bad->code,
				 bad->message);
		follow(c, &v, cause);
		return;
	}
	case STEP_BLOCK: {
		uint8_t *raw;
		size_t len;
		if (rep[0].code) {
			/* Block gone (reorg between calls): start over. */
			repoll(c, "getblock failed");
			return;
		}
		if (!chain_json_hex(rep[0].result, &raw, &len,
				    c->cfg.max_response / 2)) {
			lost(c, "getblock %u: result is not block hex",
			     c->next_height);
			return;
		}
		connect_block(c, raw, len);
		free(raw);
		return;
	}
	case STEP_CONS_VERIFY: {
		uint8_t h[32];
		if (rep[0].code && rep[0].code != -8) {
			lost(c, "getblockhash %u: %lld %s", c->cons_height,
			     rep[0].code, rep[0].message);
			return;
		}
		if (!rep[0].code && !chain_json_hash(rep[0].result, h)) {
			lost(c, "getblockhash %u: not a hash", c->cons_height);
			return;
		}
		if (!rep[0].code && !memcmp(h, c->cons_hash, 32)) {
			/* On the node's chain: not asked again. */
			c->cons_ok = true;
			c->cons_ok_height = c->cons_height;
			memcpy(c->cons_ok_hash, h, 32);
		} else {
			enum chain_apply r = c->cons.disconnect(
				c->cons.ctx, c->cons_height, c->cons_hash);
			crash_point(c, "consumer.disconnect", c->cons_height);
			c->cons_round++;
			if (r != CHAIN_APPLIED) {
				log_unusual(SUB, "consumer could not undo its "
					    "block %u: retried at the next "
					    "poll", c->cons_height);
				mempool_or_wait(c);
				return;
			}
			log_info(SUB, "consumer's block %u undone: not on the "
				 "node's chain", c->cons_height);
		}
		after_tip(c);
		return;
	}
	case STEP_CONS_HASH:
		if (rep[0].code == -8) {
			/* The node's chain got shorter meanwhile. */
			repoll(c, "no block at the consumer's height");
			return;
		}
		if (rep[0].code || !chain_json_hash(rep[0].result,
						    c->cons_hash)) {
			lost(c, "getblockhash %u: %s", c->cons_height,
			     rep[0].code ? rep[0].message : "not a hash");
			return;
		}
		{
			char hex[65];
			const char *m[] = { "getblock" };
			hex_encode_reversed(hex, c->cons_hash, 32);
			json_t *p[] = { json_pack("[s, i]", hex, 0) };
			send_calls(c, STEP_CONS_BLOCK, 1, m, p);
		}
		return;
	case STEP_CONS_BLOCK: {
		uint8_t *raw;
		size_t len;
		if (rep[0].code) {
			repoll(c, "getblock failed"); /* gone in a reorg */
			return;
		}
		if (!chain_json_hex(rep[0].result, &raw, &len,
				    c->cfg.max_response / 2)) {
			lost(c, "getblock %u: result is not block hex",
			     c->cons_height);
			return;
		}
		cons_block(c, raw, len);
		free(raw);
		return;
	}
	case STEP_MEMPOOL: {
		const json_t *a = rep[0].result;
		size_t k = json_is_array(a) ? json_array_size(a) : 0;
		uint8_t (*ids)[32] = k ? calloc(k, 32) : NULL;
		size_t m = 0;
		if (k && !ids)
			abort(); /* out of memory, as everywhere in the module */
		for (size_t i = 0; i < k; i++)
			if (chain_json_hash(json_array_get(a, i), ids[m]))
				m++;
		if (!rep[0].code && c->ev.mempool)
			c->ev.mempool(c->ev.ctx, (const uint8_t (*)[32])ids, m);
		if (!rep[0].code && c->mp) {
			chain_mempool_set(c->mp, (const uint8_t (*)[32])ids, m);
			c->mp_polled = 0;
			free(ids);
			mempool_fetch(c);
			return;
		}
		free(ids);
		schedule(c, c->cfg.poll_interval);
		return;
	}
	case STEP_MEMPOOL_TX:
		for (size_t i = 0; i < c->mp_nbatch; i++) {
			uint8_t *raw = NULL;
			size_t len = 0;
			if (!rep[i].code &&
			    !chain_json_hex(rep[i].result, &raw, &len,
					    c->cfg.max_response / 2))
				raw = NULL;
			chain_mempool_add(c->mp, c->mp_batch[i], raw, len);
			free(raw);
		}
		mempool_fetch(c);
		return;
	case STEP_IDLE:
		break;
	}
	abort(); /* a reply without a request */
}

static void on_reply(void *ctx, enum chain_http_result r, long status,
		     const char *body, size_t len, const char *errtext)
{
	struct chain *c = ctx;
	char err[160];

	switch (r) {
	case CHAIN_HTTP_FAILED:
		lost(c, "%s", errtext);
		return;
	case CHAIN_HTTP_TOO_BIG:
		lost(c, "response over %zu bytes", c->cfg.max_response);
		return;
	case CHAIN_HTTP_OK:
		break;
	}
	if (status == 401 || status == 403) {
		/* bitcoind writes a new .cookie at each start: read it again
		 * once before calling it lost. */
		if (!c->auth_retried && read_cookie(c)) {
			c->auth_retried = true;
			poll_info(c);
			return;
		}
		lost(c, "HTTP %ld: authentication failed", status);
		return;
	}
	c->auth_retried = false;
	/* bitcoind answers a batch with 200 and a failed single call with
	 * 500 + a JSON error; other statuses are the node failing. */
	if (status != 200 && status != 500) {
		lost(c, "HTTP %ld", status);
		return;
	}
	struct chain_batch b;
	switch (chain_json_batch(body, len, c->sent, &b, err, sizeof(err))) {
	case CHAIN_BATCH_OK:
		handle(c, b.rep, b.n);
		break;
	case CHAIN_BATCH_NODE_ERROR:
		lost(c, "%s", err);
		break;
	case CHAIN_BATCH_BAD:
		lost(c, "HTTP %ld: %s", status, err);
		break;
	}
	chain_batch_clear(&b);
}

static void on_poll(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct chain *c = w->data;

	if (c->step != STEP_IDLE)
		return; /* fed by the loader while a request is out */
	c->auth_retried = false; /* one cookie re-read per poll */
	poll_info(c);
}

static char *dup_opt(const char *s)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		abort();
	return d;
}

/* ---- The checker and the watch set: calls down, events up ---- */

static void funding_view(void *ctx, struct chain_funding_view *out)
{
	const struct chain *c = ctx;

	out->usable = (c->info.status == CHAIN_SYNCING ||
		       c->info.status == CHAIN_SYNCED) && !c->node_behind;
	out->have_tip = c->have_tip;
	out->tip_height = c->height;
	out->node_blocks = c->node.blocks;
	out->best_seen = c->best_seen;
}

static void funding_passed(void *ctx, uint64_t scid, const uint8_t txid[32],
			   uint32_t vout, uint64_t value)
{
	struct chain *c = ctx;

	chain_watch_insert(c->watch, scid, txid, vout, value);
}

static void funding_forget(void *ctx, uint64_t scid)
{
	struct chain *c = ctx;

	chain_unwatch(c, scid);
	if (c->ev.funding_forget)
		c->ev.funding_forget(c->ev.ctx, scid);
}

static void watch_spent(void *ctx, uint64_t scid, uint32_t height)
{
	struct chain *c = ctx;

	if (c->ev.funding_spent)
		c->ev.funding_spent(c->ev.ctx, scid, height);
}

/* Channels accepted short of 6 confirmations that have 6 now. */
static void watch_spends_done(void *ctx)
{
	struct chain *c = ctx;

	chain_checker_recheck_due(c->checker);
}

static void watch_forgotten(void *ctx, uint64_t scid)
{
	struct chain *c = ctx;

	chain_checker_recheck_drop(c->checker, scid);
	if (c->ev.funding_forget)
		c->ev.funding_forget(c->ev.ctx, scid);
}

static void watch_loaded(void *ctx)
{
	struct chain *c = ctx;

	chain_checker_recheck_load(c->checker);
	chain_checker_recheck_due(c->checker);
	if (c->started)
		ev_feed_event(c->loop, &c->poll, EV_TIMER); /* poll now */
}

bool chain_check_funding(struct chain *c, uint64_t scid,
			 const uint8_t key1[33], const uint8_t key2[33],
			 chain_check_cb cb, void *ctx)
{
	return chain_checker_check(c->checker, scid, key1, key2, cb, ctx);
}

void chain_unwatch(struct chain *c, uint64_t scid)
{
	chain_checker_recheck_drop(c->checker, scid);
	if (scid)
		chain_watch_remove(c->watch, scid);
}

size_t chain_watch_count(const struct chain *c)
{
	return chain_watch_size(c->watch);
}

void chain_watch_add(struct chain *c, uint64_t scid, const uint8_t txid[32],
		     uint32_t vout, uint64_t capacity)
{
	chain_watch_insert(c->watch, scid, txid, vout, capacity);
}

void chain_watch_block(struct chain *c, uint32_t height,
		       const struct chain_block *b)
{
	chain_watch_connect(c->watch, height, b);
}

void chain_watch_unblock(struct chain *c, uint32_t height)
{
	chain_watch_disconnect(c->watch, height);
	chain_checker_drop_blocks(c->checker, height);
}

void chain_watch_load(struct chain *c)
{
	chain_watch_start_load(c->watch);
}

bool chain_watch_ready(const struct chain *c)
{
	return chain_watch_loaded(c->watch);
}

struct chain *chain_new(struct ev_loop *loop, const struct chain_config *cfg,
			const struct chain_events *ev, char *err, size_t errlen)
{
	char host[256], url[300];
	uint16_t port = chain_default_port(cfg->network);
	struct chain *c;
	struct chain_watch_ops watch_ops;
	struct chain_funding_ops funding_ops;
	struct chain_funding_limits lim;

	if (!port) {
		snprintf(err, errlen, "unknown network %s", cfg->network);
		return NULL;
	}
	if (!cfg->rpchost || !*cfg->rpchost) {
		snprintf(host, sizeof(host), "127.0.0.1");
	} else if (strchr(cfg->rpchost, ':') && cfg->rpchost[0] != '[' &&
		   strchr(cfg->rpchost, ':') == strrchr(cfg->rpchost, ':')) {
		if (!cn_split_hostport(host, sizeof(host), &port,
				       cfg->rpchost)) {
			snprintf(err, errlen, "bad --bitcoind.rpchost %s",
				 cfg->rpchost);
			return NULL;
		}
	} else if (cfg->rpchost[0] == '[') {
		if (!cn_split_hostport(host, sizeof(host), &port,
				       cfg->rpchost)) {
			snprintf(err, errlen, "bad --bitcoind.rpchost %s",
				 cfg->rpchost);
			return NULL;
		}
	} else {
		snprintf(host, sizeof(host), "%s", cfg->rpchost);
	}
	if (!cfg->rpccookie && (!cfg->rpcuser || !cfg->rpcpass)) {
		snprintf(err, errlen, "--bitcoind.rpcuser and "
			 "--bitcoind.rpcpass, or --bitcoind.rpccookie, needed");
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		abort();
	c->loop = loop;
	c->cfg = *cfg;
	c->cfg.network = dup_opt(cfg->network);
	c->cfg.rpchost = dup_opt(cfg->rpchost);
	c->cfg.zmq_rawtx = NULL; /* used in chain_new only */
	c->cfg.zmq_rawblock = NULL;
	c->cfg.rpcuser = NULL; /* only kept inside the HTTP client */
	c->cfg.rpcpass = NULL;
	c->cfg.rpccookie = dup_opt(cfg->rpccookie);
	c->cfg.db_path = dup_opt(cfg->db_path);
	if (ev)
		c->ev = *ev;
	if (c->ev.mempool_txs) {
		c->mp = chain_mempool_new();
		if (!c->mp)
			abort();
	}
	if (c->cfg.poll_interval <= 0)
		c->cfg.poll_interval = 10.0;
	if (c->cfg.timeout <= 0)
		c->cfg.timeout = 30.0;
	if (!c->cfg.max_response)
		c->cfg.max_response = 32u << 20;
	if (!c->cfg.max_checks)
		c->cfg.max_checks = 20000;
	if (!c->cfg.check_batch)
		c->cfg.check_batch = 32;
	if (!c->cfg.check_inflight)
		c->cfg.check_inflight = 2;
	c->store = chain_store_open(cfg->db_path, err, errlen);
	if (!c->store) {
		chain_free(c);
		return NULL;
	}
	watch_ops = (struct chain_watch_ops){
		.ctx = c,
		.spent = watch_spent,
		.spends_done = watch_spends_done,
		.forgotten = watch_forgotten,
		.loaded = watch_loaded,
	};
	c->watch = chain_watch_new(loop, c->store, &watch_ops);
	snprintf(url, sizeof(url), strchr(host, ':') ? "http://[%s]:%u/"
		 : "http://%s:%u/", host, port);
	c->http = chain_http_new(loop, url, c->cfg.timeout,
				 c->cfg.max_response);
	lim = (struct chain_funding_limits){
		.max_checks = c->cfg.max_checks,
		.check_batch = c->cfg.check_batch,
		.check_inflight = c->cfg.check_inflight,
		.max_response = c->cfg.max_response,
	};
	funding_ops = (struct chain_funding_ops){
		.ctx = c,
		.view = funding_view,
		.passed = funding_passed,
		.forget = funding_forget,
	};
	c->checker = chain_checker_new(loop, c->http, c->store, &lim,
				       &funding_ops);
	if (cfg->rpcuser && cfg->rpcpass) {
		size_t n = strlen(cfg->rpcuser) + strlen(cfg->rpcpass) + 2;
		char *up = sodium_malloc(n);
		if (!up)
			abort();
		snprintf(up, n, "%s:%s", cfg->rpcuser, cfg->rpcpass);
		chain_http_set_auth(c->http, up);
		sodium_memzero(up, n);
		sodium_free(up);
	} else {
		read_cookie(c); /* missing now: maybe there once bitcoind runs */
	}
	c->have_tip = chain_store_tip(c->store, &c->height, c->hash,
				      &c->tip_time);
	ev_timer_init(&c->zflush, on_zflush, 0., 0.);
	c->zflush.data = c;
	if ((cfg->zmq_rawtx && *cfg->zmq_rawtx) ||
	    (cfg->zmq_rawblock && *cfg->zmq_rawblock)) {
		c->zctx = zmq_ctx_new();
		if (!c->zctx)
			abort();
	}
	if (cfg->zmq_rawtx && *cfg->zmq_rawtx) {
		char e[200];
		c->ztx = chain_zmq_new(loop, c->zctx, cfg->zmq_rawtx, "rawtx",
				       on_zmq_tx, c, e, sizeof(e));
		if (!c->ztx) {
			snprintf(err, errlen, "--bitcoind.zmqpubrawtx %s", e);
			chain_free(c);
			return NULL;
		}
	}
	if (cfg->zmq_rawblock && *cfg->zmq_rawblock) {
		char e[200];
		c->zblock = chain_zmq_new(loop, c->zctx, cfg->zmq_rawblock,
					  "rawblock", on_zmq_block, c, e,
					  sizeof(e));
		if (!c->zblock) {
			snprintf(err, errlen, "--bitcoind.zmqpubrawblock %s",
				 e);
			chain_free(c);
			return NULL;
		}
	}
	crash_hook_init(c);
	ev_timer_init(&c->poll, on_poll, 0., 0.);
	c->poll.data = c;
	c->info.status = CHAIN_CONNECTING;
	snprintf(c->info.backend, sizeof(c->info.backend), "bitcoind");
	snprintf(c->info.last_error, sizeof(c->info.last_error), "%s", "");
	update_synced(c);
	log_info(SUB, "bitcoind backend %s, stored tip %u", url,
		 c->have_tip ? c->height : 0);
	return c;
}

void chain_set_consumer(struct chain *c, const struct chain_consumer *cons)
{
	c->cons = *cons;
}

void chain_start(struct chain *c)
{
	c->started = true;
	schedule(c, 0.);
}

void chain_free(struct chain *c)
{
	if (!c)
		return;
	ev_timer_stop(c->loop, &c->poll);
	ev_timer_stop(c->loop, &c->zflush);
	chain_zmq_free(c->ztx);
	chain_zmq_free(c->zblock);
	if (c->zctx)
		zmq_ctx_term(c->zctx);
	chain_checker_free(c->checker);
	chain_watch_destroy(c->watch);
	chain_http_free(c->http);
	chain_store_close(c->store);
	chain_mempool_free(c->mp);
	free((char *)c->cfg.network);
	free((char *)c->cfg.rpchost);
	free((char *)c->cfg.rpccookie);
	free((char *)c->cfg.db_path);
	free(c);
}

void chain_get_info(const struct chain *c, struct chain_info *out)
{
	*out = c->info;
	chain_checker_counters(c->checker, out);
	out->watched = chain_watch_size(c->watch);
	out->spent = c->watch ? chain_watch_spent_count(c->watch) : 0;
	out->forgotten = c->watch ? chain_watch_forgotten_count(c->watch) : 0;
	/* synced_to_chain ages with the clock, not only with events. */
	out->synced = c->info.synced && c->tip_time + SYNC_MAX_AGE > now_unix(c);
	out->zmq_rawtx_silent = zmq_silent(c);
}
