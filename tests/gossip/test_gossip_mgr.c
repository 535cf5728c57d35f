/* Manager unit tests with a fixed clock and the recording peer double:
 * validation rules, holding, rate limiting, relay, our own messages, the
 * store behind it (restart, pruning) and a full sync between two managers. */
#include "../common/check.h"
#include "gtest_sign.h"
#include "gtest_util.h"
#include "test_peer_double.h"

#include <ev.h>
#include <sodium.h>
#include <time.h>

static struct ev_loop *loop;
static uint8_t chain[32];

static struct gossip *mgr_new(const char *dir)
{
	struct gossip_config cfg;

	double_gossip_config(&cfg, dir, chain, test_clock);
	cfg.flush_interval = 0.01;
	cfg.pace_interval = 0.001;
	cfg.update_burst = 3;
	cfg.update_interval = 60;
	cfg.hold_time = 0.05;
	cfg.prune_batch = 50;
	return gossip_new(loop, &cfg, NULL, NULL);
}

static void counts(struct gossip *g, uint64_t *n, uint64_t *c, uint64_t *u)
{
	gossip_counts(g, n, c, u);
}

static void run_a_bit(unsigned iters)
{
	for (unsigned i = 0; i < iters; i++)
		ev_run(loop, EVRUN_NOWAIT);
}

/* Answer the query_channel_range @g sent to @x (the latest one) with one
 * empty, complete reply: a sync with a peer that has nothing completes.
 * False if @g sent none since the last call. */
static bool answer_range_empty(struct gossip *g, struct peer *x)
{
	for (size_t k = x->n; k-- > x->head;) {
		struct gossip_query_range q;
		struct gossip_reply_range r;
		uint8_t m[200];
		size_t len;

		if (be16_get(x->msgs[k]) != GOSSIP_QUERY_CHANNEL_RANGE)
			continue;
		x->head = x->n;
		CHECK(gossip_query_range_parse(&q, x->msgs[k], x->lens[k]) ==
		      GOSSIP_OK);
		memset(&r, 0, sizeof(r));
		memcpy(r.chain_hash, chain, 32);
		r.first_blocknum = q.first_blocknum;
		r.number_of_blocks = q.number_of_blocks;
		r.sync_complete = 1;
		len = gossip_reply_range_write(m, sizeof(m), &r);
		CHECK(gossip_handle_msg(g, x, m, len) == GOSSIP_OK);
		return true;
	}
	x->head = x->n;
	return false;
}

/* ---- rules ---- */
static void test_rules(void)
{
	char *dir = tmpdir_new();
	struct gossip *g = mgr_new(dir);
	struct peer *x = double_new(0xaa);
	struct tkey a, b, c;
	uint8_t m[1000], m2[1000];
	size_t len, len2;
	uint64_t scid = (700000ULL << 40) | (1 << 16), n, ch, u;
	int da, db;

	test_now = 1767225600;
	tkey_init(&a, 0x11);
	tkey_init(&b, 0x22);
	tkey_init(&c, 0x33);
	da = tdir(&a, &b);
	db = !da;
	gossip_peer_connected(g, x);
	/* We sent our filter (and, never synced, a range query). */
	CHECK(double_count(x, GOSSIP_TIMESTAMP_FILTER) == 1);
	CHECK(double_count(x, GOSSIP_QUERY_CHANNEL_RANGE) == 1);

	/* A node announcement before any channel: unknown node. */
	len = tmake_node(m, test_now - 10, &a);
	CHECK(gossip_handle_msg(g, x, m, len) == GOSSIP_REJ_UNKNOWN_NODE);

	len = tmake_chan(m, chain, scid, &a, &b);
	CHECK(gossip_handle_msg(g, x, m, len) == GOSSIP_OK);
	CHECK(gossip_handle_msg(g, x, m, len) == GOSSIP_IGN_DUPLICATE);
	CHECK(gossip_unverified_channels(g) == 1);

	/* Wrong chain: ignored quietly. */
	{
		uint8_t other[32];
		memset(other, 0x99, 32);
		len = tmake_chan(m, other, scid + 1, &a, &c);
		CHECK(gossip_handle_msg(g, x, m, len) ==
		      GOSSIP_REJ_WRONG_CHAIN);
		len = tmake_upd(m, other, scid, da, test_now, 1, 1, &a);
		CHECK(gossip_handle_msg(g, x, m, len) ==
		      GOSSIP_REJ_WRONG_CHAIN);
		CHECK(x->warns == 0 && x->closes == 0);
	}

	/* Updates: newer replaces older, equal+same ignored, equal+different
	 * rejected, older ignored. */
	struct gossip_stats st0;
	gossip_get_stats(g, &st0);
	len = tmake_upd(m, chain, scid, da, test_now - 100, 1000, 1, &a);
	CHECK(gossip_handle_msg(g, x, m, len) == GOSSIP_OK);
	CHECK(gossip_handle_msg(g, x, m, len) == GOSSIP_IGN_DUPLICATE);
	len2 = tmake_upd(m2, chain, scid, da, test_now - 100, 2000, 1, &a);
	CHECK(gossip_handle_msg(g, x, m2, len2) == GOSSIP_REJ_TS_CONFLICT);
	CHECK(x->warns == 1);
	len2 = tmake_upd(m2, chain, scid, da, test_now - 50, 2000, 1, &a);
	CHECK(gossip_handle_msg(g, x, m2, len2) == GOSSIP_OK);
	CHECK(gossip_handle_msg(g, x, m, len) == GOSSIP_IGN_OLDER);
	counts(g, &n, &ch, &u);
	CHECK(n == 0 && ch == 1 && u == 1);

	/* Timestamps: a day ahead is fine, more is not; two weeks back. */
	len = tmake_upd(m, chain, scid, db, test_now + 86400 + 1, 1, 1, &b);
	CHECK(gossip_handle_msg(g, x, m, len) == GOSSIP_REJ_TS_FUTURE);
	len = tmake_upd(m, chain, scid, db, test_now - 1209600 - 1, 1, 1, &b);
	CHECK(gossip_handle_msg(g, x, m, len) == GOSSIP_REJ_TS_STALE);
	CHECK(gossip_rejects(g, GOSSIP_REJ_TS_STALE) == 1);
	/* The metrics' view: every verdict counted, accepted and ignored
	 * too, rejections as gossip_rejects. */
	{
		struct gossip_stats st;
		gossip_get_stats(g, &st);
		CHECK(st.verdicts[GOSSIP_IGN_DUPLICATE] ==
		      st0.verdicts[GOSSIP_IGN_DUPLICATE] + 1);
		CHECK(st.verdicts[GOSSIP_IGN_OLDER] ==
		      st0.verdicts[GOSSIP_IGN_OLDER] + 1);
		CHECK(st.verdicts[GOSSIP_OK] == st0.verdicts[GOSSIP_OK] + 2);
		CHECK(st.verdicts[GOSSIP_REJ_TS_STALE] ==
		      st0.verdicts[GOSSIP_REJ_TS_STALE] + 1);
		CHECK(st.verdicts[GOSSIP_REJ_TS_CONFLICT] ==
		      gossip_rejects(g, GOSSIP_REJ_TS_CONFLICT));
		CHECK(strcmp(gossip_reason_label(GOSSIP_REJ_BAD_NODE_SIG_1),
			     "bad_node_sig_1") == 0);
	}

	/* Signed by the wrong node: bad signature, the peer is closed. */
	len = tmake_upd(m, chain, scid, db, test_now - 10, 1, 1, &a);
	CHECK(gossip_handle_msg(g, x, m, len) == GOSSIP_REJ_BAD_SIG);
	CHECK(x->closes == 1);
	CHECK(strstr(x->last_close, "Bad signature") != NULL);

	/* The other direction, right signer. */
	len = tmake_upd(m, chain, scid, db, test_now - 10, 1, 1, &b);
	CHECK(gossip_handle_msg(g, x, m, len) == GOSSIP_OK);

	/* Node announcements: known node now; newer replaces. */
	len = tmake_node(m, test_now - 10, &a);
	CHECK(gossip_handle_msg(g, x, m, len) == GOSSIP_OK);
	CHECK(gossip_handle_msg(g, x, m, len) == GOSSIP_IGN_DUPLICATE);
	len = tmake_node(m, test_now - 20, &a);
	CHECK(gossip_handle_msg(g, x, m, len) == GOSSIP_IGN_OLDER);
	len = tmake_node(m, test_now - 5, &a);
	CHECK(gossip_handle_msg(g, x, m, len) == GOSSIP_OK);
	counts(g, &n, &ch, &u);
	CHECK(n == 1 && ch == 1 && u == 2);

	/* Update for an unknown channel: held, applied when the channel
	 * arrives. */
	len = tmake_upd(m, chain, scid + 2, tdir(&a, &c), test_now - 5, 1, 1,
			&a);
	CHECK(gossip_handle_msg(g, x, m, len) == GOSSIP_IGN_HELD);
	len = tmake_chan(m, chain, scid + 2, &a, &c);
	CHECK(gossip_handle_msg(g, x, m, len) == GOSSIP_OK);
	counts(g, &n, &ch, &u);
	CHECK(ch == 2 && u == 3);

	/* ... but only briefly: held past hold_time, then dropped. */
	len = tmake_upd(m, chain, scid + 3, tdir(&b, &c), test_now - 5, 1, 1,
			&b);
	CHECK(gossip_handle_msg(g, x, m, len) == GOSSIP_IGN_HELD);
	{
		struct timespec ts = { 0, 80 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	ev_now_update(loop);
	run_a_bit(1);
	/* The 1 s tick may not have run yet: another hold triggers nothing,
	 * so wait for the tick explicitly. */
	for (int i = 0; i < 300 &&
			gossip_rejects(g, GOSSIP_REJ_UNKNOWN_CHANNEL) == 0;
	     i++)
		ev_run(loop, EVRUN_ONCE);
	CHECK(gossip_rejects(g, GOSSIP_REJ_UNKNOWN_CHANNEL) == 1);
	len = tmake_chan(m, chain, scid + 3, &b, &c);
	CHECK(gossip_handle_msg(g, x, m, len) == GOSSIP_OK);
	counts(g, &n, &ch, &u);
	CHECK(ch == 3 && u == 3);

	/* Restart: same counts, nothing recomputed. */
	gossip_peer_gone(g, x);
	gossip_free(g);
	g = mgr_new(dir);
	CHECK(g != NULL);
	counts(g, &n, &ch, &u);
	CHECK(n == 1 && ch == 3 && u == 3);
	CHECK(gossip_unverified_channels(g) == 3);

	/* Pruning: three weeks later everything is stale; nodes go with
	 * their last channel.  But only once a sync has shown it: until
	 * then fresh updates may still be on their way. */
	test_now += 3 * 7 * 86400;
	CHECK(gossip_prune_now(g) == 0);
	gossip_peer_connected(g, x);
	CHECK(answer_range_empty(g, x));
	CHECK(gossip_synced(g));
	CHECK(gossip_prune_now(g) == 3);
	gossip_peer_gone(g, x);
	counts(g, &n, &ch, &u);
	CHECK(n == 0 && ch == 0 && u == 0);
	CHECK(gossip_prune_now(g) == 0);
	gossip_free(g);
	double_free(x);
	tmpdir_rm(dir);
}

/* Without a chain source anyone can sign channels for made-up outputs:
 * past max_unverified new ones are ignored (counted, the peer kept), while
 * the channels already stored keep taking updates and node
 * announcements, and a channel the chain source verified still goes in. */
static enum gossip_utxo utxo_ok_for(void *arg, uint64_t scid,
				    const uint8_t btc_key_1[33],
				    const uint8_t btc_key_2[33])
{
	const uint64_t *verified = arg;
	return scid == *verified ? GOSSIP_UTXO_OK : GOSSIP_UTXO_UNVERIFIED;
}

static void test_unverified_cap(void)
{
	char *dir = tmpdir_new();
	struct gossip_config cfg;
	struct gossip *g;
	struct peer *x = double_new(0xac);
	struct tkey a, b, c;
	uint8_t m[1000];
	size_t len;
	uint64_t base = 700100ULL << 40, verified = base + (9 << 16);
	uint64_t n, ch, u;

	test_now = 1767225600;
	tkey_init(&a, 0x11);
	tkey_init(&b, 0x22);
	tkey_init(&c, 0x33);
	double_gossip_config(&cfg, dir, chain, test_clock);
	cfg.max_unverified = 2;
	cfg.chain.check_utxo = utxo_ok_for;
	cfg.chain.arg = &verified;
	g = gossip_new(loop, &cfg, NULL, NULL);
	CHECK(g != NULL);
	gossip_peer_connected(g, x);

	len = tmake_chan(m, chain, base + (1 << 16), &a, &b);
	CHECK(gossip_handle_msg(g, x, m, len) == GOSSIP_OK);
	len = tmake_chan(m, chain, base + (2 << 16), &a, &c);
	CHECK(gossip_handle_msg(g, x, m, len) == GOSSIP_OK);
	CHECK(gossip_unverified_channels(g) == 2);
	/* Full: a third (and a fourth) unverified one is ignored. */
	len = tmake_chan(m, chain, base + (3 << 16), &b, &c);
	CHECK(gossip_handle_msg(g, x, m, len) == GOSSIP_REJ_UNVERIFIED_CAP);
	len = tmake_chan(m, chain, base + (4 << 16), &a, &b);
	CHECK(gossip_handle_msg(g, x, m, len) == GOSSIP_REJ_UNVERIFIED_CAP);
	CHECK(gossip_rejects(g, GOSSIP_REJ_UNVERIFIED_CAP) == 2);
	CHECK(gossip_unverified_channels(g) == 2);
	CHECK(x->warns == 0 && x->closes == 0);
	/* A known one is still just a duplicate. */
	len = tmake_chan(m, chain, base + (1 << 16), &a, &b);
	CHECK(gossip_handle_msg(g, x, m, len) == GOSSIP_IGN_DUPLICATE);
	/* Stored channels keep working: updates and node announcements. */
	len = tmake_upd(m, chain, base + (1 << 16), tdir(&a, &b),
			test_now - 100, 1000, 1, &a);
	CHECK(gossip_handle_msg(g, x, m, len) == GOSSIP_OK);
	len = tmake_upd(m, chain, base + (1 << 16), tdir(&a, &b),
			test_now - 50, 2000, 1, &a);
	CHECK(gossip_handle_msg(g, x, m, len) == GOSSIP_OK);
	len = tmake_node(m, test_now - 10, &c);
	CHECK(gossip_handle_msg(g, x, m, len) == GOSSIP_OK);
	/* A verified channel is not counted against the cap. */
	len = tmake_chan(m, chain, verified, &b, &c);
	CHECK(gossip_handle_msg(g, x, m, len) == GOSSIP_OK);
	counts(g, &n, &ch, &u);
	CHECK(ch == 3 && u == 1 && n == 1);
	CHECK(gossip_unverified_channels(g) == 2);
	CHECK(x->warns == 0 && x->closes == 0);

	gossip_peer_gone(g, x);
	gossip_free(g);
	double_free(x);
	tmpdir_rm(dir);
}

/* A chain source that answers later (the chain module): announcements
 * wait, bounded, neither stored nor relayed; the answer stores or drops
 * them, with the updates held for them. */
static enum gossip_utxo utxo_pending(void *arg, uint64_t scid,
				     const uint8_t btc_key_1[33],
				     const uint8_t btc_key_2[33])
{
	return GOSSIP_UTXO_PENDING;
}

static void test_pending_checks(void)
{
	char *dir = tmpdir_new();
	struct gossip_config cfg;
	struct gossip *g;
	struct peer *x = double_new(0xad);
	struct tkey a, b, c;
	uint8_t m[1000];
	size_t len;
	uint64_t base = 700200ULL << 40;
	uint64_t n, ch, u;

	test_now = 1767225600;
	tkey_init(&a, 0x11);
	tkey_init(&b, 0x22);
	tkey_init(&c, 0x33);
	double_gossip_config(&cfg, dir, chain, test_clock);
	cfg.max_pending_checks = 3;
	cfg.chain.check_utxo = utxo_pending;
	g = gossip_new(loop, &cfg, NULL, NULL);
	CHECK(g != NULL);
	gossip_peer_connected(g, x);

	for (uint64_t i = 1; i <= 3; i++) {
		len = tmake_chan(m, chain, base + (i << 16), &a, &b);
		CHECK(gossip_handle_msg(g, x, m, len) == GOSSIP_IGN_PENDING);
	}
	CHECK(gossip_pending_checks(g) == 3);
	/* Waiting is not stored; a repeat is a duplicate; past the bound a
	 * new one is ignored (counted, the peer kept). */
	counts(g, &n, &ch, &u);
	CHECK(ch == 0);
	len = tmake_chan(m, chain, base + (1 << 16), &a, &b);
	CHECK(gossip_handle_msg(g, x, m, len) == GOSSIP_IGN_DUPLICATE);
	len = tmake_chan(m, chain, base + (4 << 16), &a, &c);
	CHECK(gossip_handle_msg(g, x, m, len) == GOSSIP_REJ_CHECKS_FULL);
	CHECK(x->warns == 0 && x->closes == 0);
	/* Updates for waiting channels are held. */
	len = tmake_upd(m, chain, base + (1 << 16), tdir(&a, &b),
			test_now - 100, 1000, 1, &a);
	CHECK(gossip_handle_msg(g, x, m, len) == GOSSIP_IGN_HELD);
	len = tmake_upd(m, chain, base + (2 << 16), tdir(&a, &b),
			test_now - 100, 1000, 1, &a);
	CHECK(gossip_handle_msg(g, x, m, len) == GOSSIP_IGN_HELD);
	/* So is a node_announcement of a node known only from a waiting
	 * channel (a query answer sends each node once: refusing it would
	 * lose it); once, however many peers send it; a node of no channel
	 * at all is still refused. */
	len = tmake_node(m, test_now - 50, &b);
	CHECK(gossip_handle_msg(g, x, m, len) == GOSSIP_IGN_HELD);
	CHECK(gossip_handle_msg(g, x, m, len) == GOSSIP_IGN_DUPLICATE);
	{
		struct tkey d;
		tkey_init(&d, 0x3d);
		len = tmake_node(m, test_now - 50, &d);
		CHECK(gossip_handle_msg(g, x, m, len) ==
		      GOSSIP_REJ_UNKNOWN_NODE);
	}
	/* OK: stored verified, its held update and node applied. */
	gossip_utxo_done(g, base + (1 << 16), GOSSIP_UTXO_OK);
	counts(g, &n, &ch, &u);
	CHECK(ch == 1 && u == 1 && n == 1);
	CHECK(gossip_unverified_channels(g) == 0);
	/* BAD: dropped with its held update, counted. */
	gossip_utxo_done(g, base + (2 << 16), GOSSIP_UTXO_BAD);
	counts(g, &n, &ch, &u);
	CHECK(ch == 1 && u == 1);
	CHECK(gossip_rejects(g, GOSSIP_REJ_UTXO) == 1);
	len = tmake_upd(m, chain, base + (2 << 16), tdir(&a, &b),
			test_now - 90, 1000, 1, &a);
	CHECK(gossip_handle_msg(g, x, m, len) == GOSSIP_IGN_HELD);
	/* UNVERIFIED (backend lost): stored unverified. */
	gossip_utxo_done(g, base + (3 << 16), GOSSIP_UTXO_UNVERIFIED);
	CHECK(gossip_unverified_channels(g) == 1);
	CHECK(gossip_pending_checks(g) == 0);
	/* An answer nobody waits for is ignored. */
	gossip_utxo_done(g, base + (9 << 16), GOSSIP_UTXO_OK);
	counts(g, &n, &ch, &u);
	CHECK(ch == 2);
	/* Background check: the unverified one is listed, then verified;
	 * forgetting removes a channel with its updates. */
	uint64_t scids[4];
	uint8_t keys[4][2][33];
	CHECK(gossip_unverified_page(g, 0, scids, keys, 4) == 1);
	CHECK(scids[0] == base + (3 << 16));
	CHECK(gossip_unverified_page(g, scids[0], scids, keys, 4) == 0);
	gossip_set_verified(g, base + (3 << 16), true);
	CHECK(gossip_unverified_channels(g) == 0);
	CHECK(gossip_forget_channel(g, base + (1 << 16)));
	counts(g, &n, &ch, &u);
	CHECK(ch == 1 && u == 0);
	gossip_set_verified(g, base + (3 << 16), false);
	counts(g, &n, &ch, &u);
	CHECK(ch == 0);

	gossip_peer_gone(g, x);
	gossip_free(g);
	double_free(x);
	tmpdir_rm(dir);
}

/* A spent channel (the chain source says so) is kept but not sent: no
 * backfill, no relay; the spend undone, it is sent again. */
static void backfill(struct gossip *g, struct peer *r, size_t want)
{
	struct gossip_ts_filter f;
	uint8_t m[100];
	size_t len;

	double_clear(r);
	memcpy(f.chain_hash, chain, 32);
	f.first_timestamp = 0;
	f.timestamp_range = UINT32_MAX;
	len = gossip_ts_filter_write(m, sizeof(m), &f);
	CHECK(gossip_handle_msg(g, r, m, len) == GOSSIP_OK);
	/* Backfill is paced by a timer: let it tick (want 0: a few ticks). */
	for (int i = 0; i < (want ? 300 : 3) && r->n < (want ? want : 1);
	     i++)
		ev_run(loop, EVRUN_ONCE);
	run_a_bit(10);
}

static void test_spent_not_relayed(void)
{
	char *dir = tmpdir_new();
	struct gossip *g = mgr_new(dir);
	struct peer *x = double_new(0xac), *r = double_new(0xad);
	struct tkey a, b;
	uint8_t m[1000];
	size_t len;
	uint64_t scid = 700003ULL << 40;

	test_now = 1767225600;
	tkey_init(&a, 0x11);
	tkey_init(&b, 0x22);
	gossip_peer_connected(g, x);
	gossip_peer_connected(g, r);
	len = tmake_chan(m, chain, scid, &a, &b);
	CHECK(gossip_handle_msg(g, x, m, len) == GOSSIP_OK);
	len = tmake_upd(m, chain, scid, tdir(&a, &b), test_now - 30, 1, 1, &a);
	CHECK(gossip_handle_msg(g, x, m, len) == GOSSIP_OK);
	gossip_channel_spent(g, scid, true);
	CHECK(gossip_channel_is_spent(g, scid));
	backfill(g, r, 0);
	CHECK(double_count(r, GOSSIP_CHANNEL_ANNOUNCEMENT) == 0);
	CHECK(double_count(r, GOSSIP_CHANNEL_UPDATE) == 0);
	/* A newer update is stored but not relayed either. */
	len = tmake_upd(m, chain, scid, tdir(&a, &b), test_now - 20, 2, 1, &a);
	CHECK(gossip_handle_msg(g, x, m, len) == GOSSIP_OK);
	for (int i = 0; i < 3; i++) /* past a relay flush (1 s tick) */
		ev_run(loop, EVRUN_ONCE);
	CHECK(double_count(r, GOSSIP_CHANNEL_UPDATE) == 0);
	/* Undone: sent again. */
	gossip_channel_spent(g, scid, false);
	backfill(g, r, 2);
	CHECK(double_count(r, GOSSIP_CHANNEL_ANNOUNCEMENT) == 1);
	CHECK(double_count(r, GOSSIP_CHANNEL_UPDATE) == 1);
	/* Forgetting clears the mark. */
	gossip_channel_spent(g, scid, true);
	CHECK(gossip_forget_channel(g, scid));
	CHECK(!gossip_channel_is_spent(g, scid));

	gossip_peer_gone(g, x);
	gossip_peer_gone(g, r);
	gossip_free(g);
	double_free(x);
	double_free(r);
	tmpdir_rm(dir);
}

/* A burst, then one a minute, per channel direction; a flooding peer is
 * warned then dropped. */
static void test_ratelimit(void)
{
	char *dir = tmpdir_new();
	struct gossip *g = mgr_new(dir);
	struct peer *x = double_new(0xab);
	struct tkey a, b;
	uint8_t m[1000];
	size_t len;
	uint64_t scid = 700001ULL << 40;
	int da;
	uint32_t ts;

	test_now = 1767225600;
	ts = test_now - 5000;
	tkey_init(&a, 0x11);
	tkey_init(&b, 0x22);
	da = tdir(&a, &b);
	gossip_peer_connected(g, x);
	len = tmake_chan(m, chain, scid, &a, &b);
	CHECK(gossip_handle_msg(g, x, m, len) == GOSSIP_OK);
	for (int i = 0; i < 3; i++) {
		len = tmake_upd(m, chain, scid, da, ++ts, 1, 1, &a);
		CHECK(gossip_handle_msg(g, x, m, len) == GOSSIP_OK);
	}
	len = tmake_upd(m, chain, scid, da, ++ts, 1, 1, &a);
	CHECK(gossip_handle_msg(g, x, m, len) == GOSSIP_REJ_RATE_LIMITED);
	/* The other direction has its own bucket. */
	len = tmake_upd(m, chain, scid, !da, ++ts, 1, 1, &b);
	CHECK(gossip_handle_msg(g, x, m, len) == GOSSIP_OK);
	test_now += 60;
	len = tmake_upd(m, chain, scid, da, ++ts, 1, 1, &a);
	CHECK(gossip_handle_msg(g, x, m, len) == GOSSIP_OK);
	len = tmake_upd(m, chain, scid, da, ++ts, 1, 1, &a);
	CHECK(gossip_handle_msg(g, x, m, len) == GOSSIP_REJ_RATE_LIMITED);

	/* Flooding. */
	CHECK(x->warns == 0 && x->closes == 0);
	for (int i = 0; i < 1000; i++) {
		len = tmake_upd(m, chain, scid, da, ++ts, 1, 1, &a);
		gossip_handle_msg(g, x, m, len);
	}
	CHECK(x->warns == 1 && strstr(x->last_warn, "too many"));
	CHECK(x->closes == 1 && strstr(x->last_close, "flooding"));
	CHECK(gossip_rejects(g, GOSSIP_REJ_RATE_LIMITED) >= 1000);
	gossip_peer_gone(g, x);
	gossip_free(g);
	double_free(x);
	tmpdir_rm(dir);
}

/* Relay: a peer with a filter gets new gossip in a flush, not the sender,
 * never dont_forward ones; backfill sends stored gossip in order. */
static void test_relay(void)
{
	char *dir = tmpdir_new();
	struct gossip *g = mgr_new(dir);
	struct peer *x = double_new(0xac), *r = double_new(0xad);
	struct tkey a, b, c;
	uint8_t m[1000];
	size_t len;
	uint64_t scid = 700002ULL << 40;
	struct gossip_ts_filter f;

	test_now = 1767225600;
	tkey_init(&a, 0x11);
	tkey_init(&b, 0x22);
	tkey_init(&c, 0x33);
	gossip_peer_connected(g, x);
	gossip_peer_connected(g, r);
	/* Stored before r's filter: comes by backfill. */
	len = tmake_chan(m, chain, scid, &a, &b);
	gossip_handle_msg(g, x, m, len);
	len = tmake_upd(m, chain, scid, tdir(&a, &b), test_now - 30, 1, 1, &a);
	gossip_handle_msg(g, x, m, len);
	len = tmake_node(m, test_now - 30, &a);
	gossip_handle_msg(g, x, m, len);
	/* A dont_forward update in the other direction. */
	len = tmake_upd(m, chain, scid, tdir(&b, &a), test_now - 30, 1, 3, &b);
	CHECK(gossip_handle_msg(g, x, m, len) == GOSSIP_OK);

	double_clear(r);
	memcpy(f.chain_hash, chain, 32);
	f.first_timestamp = 0;
	f.timestamp_range = UINT32_MAX;
	len = gossip_ts_filter_write(m, sizeof(m), &f);
	CHECK(gossip_handle_msg(g, r, m, len) == GOSSIP_OK);
	for (int i = 0; i < 200 && r->n < 3; i++)
		ev_run(loop, EVRUN_ONCE);
	run_a_bit(10);
	CHECK(r->n == 3);
	if (r->n == 3) {
		CHECK(be16_get(r->msgs[0]) == GOSSIP_CHANNEL_ANNOUNCEMENT);
		CHECK(be16_get(r->msgs[1]) == GOSSIP_CHANNEL_UPDATE);
		CHECK(be16_get(r->msgs[2]) == GOSSIP_NODE_ANNOUNCEMENT);
	}

	/* New gossip from x: relayed to r at the next flush, not to x. */
	double_clear(r);
	double_clear(x);
	len = tmake_chan(m, chain, scid + 1, &a, &c);
	CHECK(gossip_handle_msg(g, x, m, len) == GOSSIP_OK);
	len = tmake_upd(m, chain, scid + 1, tdir(&c, &a), test_now - 3, 1, 1,
			&c);
	CHECK(gossip_handle_msg(g, x, m, len) == GOSSIP_OK);
	len = tmake_upd(m, chain, scid + 1, tdir(&a, &c), test_now - 3, 1, 3,
			&a); /* dont_forward */
	CHECK(gossip_handle_msg(g, x, m, len) == GOSSIP_OK);
	for (int i = 0; i < 300 && r->n < 2; i++)
		ev_run(loop, EVRUN_ONCE);
	CHECK(r->n == 2);
	CHECK(double_count(r, GOSSIP_CHANNEL_ANNOUNCEMENT) == 1);
	CHECK(double_count(r, GOSSIP_CHANNEL_UPDATE) == 1);
	/* x has no filter and is the origin: nothing relayed to it. */
	CHECK(double_count(x, GOSSIP_CHANNEL_UPDATE) == 0);

	gossip_peer_gone(g, x);
	gossip_peer_gone(g, r);
	gossip_free(g);
	double_free(x);
	double_free(r);
	tmpdir_rm(dir);
}

/* A send that fails closes the session at once (peer_gone from inside
 * the send, as peer.h does) while a backfill is walking the store for it:
 * the manager must stop using that peer, never send to it again, and keep
 * serving the others. */
static void test_gone_mid_send(void)
{
	char *dir = tmpdir_new();
	struct gossip *g = mgr_new(dir);
	struct peer *x = double_new(0xac), *r = double_new(0xad),
		    *s = double_new(0xae);
	struct tkey k[6];
	uint8_t m[1000];
	size_t len;
	uint64_t scid = 700010ULL << 40;
	struct gossip_ts_filter f;

	test_now = 1767225600;
	for (int i = 0; i < 6; i++)
		tkey_init(&k[i], (uint8_t)(0x41 + i));
	gossip_peer_connected(g, x);
	for (int i = 0; i < 5; i++) {
		len = tmake_chan(m, chain, scid + (uint64_t)i, &k[i], &k[i + 1]);
		CHECK(gossip_handle_msg(g, x, m, len) == GOSSIP_OK);
		len = tmake_upd(m, chain, scid + (uint64_t)i,
				tdir(&k[i], &k[i + 1]), test_now - 30, 1, 1,
				&k[i]);
		CHECK(gossip_handle_msg(g, x, m, len) == GOSSIP_OK);
	}
	gossip_commit(g);
	gossip_peer_connected(g, r);
	gossip_peer_connected(g, s);
	memcpy(f.chain_hash, chain, 32);
	f.first_timestamp = 0;
	f.timestamp_range = UINT32_MAX;
	len = gossip_ts_filter_write(m, sizeof(m), &f);
	/* r's buffer is full from its first backfill message on. */
	r->refuse_send = true;
	r->gone_to = g;
	CHECK(gossip_handle_msg(g, r, m, len) == GOSSIP_OK);
	CHECK(gossip_handle_msg(g, s, m, len) == GOSSIP_OK);
	double_clear(s);
	for (int i = 0; i < 300 && s->n < 10; i++)
		ev_run(loop, EVRUN_ONCE);
	run_a_bit(10);
	CHECK(r->gone);
	CHECK(r->user == NULL);
	/* s got the whole backfill all the same. */
	CHECK(double_count(s, GOSSIP_CHANNEL_ANNOUNCEMENT) == 5);
	CHECK(double_count(s, GOSSIP_CHANNEL_UPDATE) == 5);

	gossip_peer_gone(g, x);
	gossip_peer_gone(g, s);
	gossip_free(g);
	double_free(x);
	double_free(r);
	double_free(s);
	tmpdir_rm(dir);
}

/* Our own messages are signed through the callback and go through the
 * same checks. */
static void test_own(void)
{
	char *dir = tmpdir_new();
	struct gossip *g = mgr_new(dir);
	struct tkey a, b;
	uint8_t m[1000];
	size_t len;
	uint64_t scid = 700003ULL << 40;
	struct gossip_chan_upd cu;
	struct gossip_node_ann na;
	uint64_t n, ch, u;

	test_now = 1767225600;
	tkey_init(&a, 0x11);
	tkey_init(&b, 0x22);
	len = tmake_chan(m, chain, scid, &a, &b);
	CHECK(gossip_handle_msg(g, NULL, m, len) == GOSSIP_OK);
	memset(&cu, 0, sizeof(cu));
	cu.scid = scid;
	cu.timestamp = test_now;
	cu.message_flags = 1;
	cu.channel_flags = (uint8_t)tdir(&a, &b);
	cu.htlc_maximum_msat = 5000;
	CHECK(gossip_own_chan_upd(g, &cu, tkey_sign, &a) == GOSSIP_OK);
	/* Signed with the wrong key: refused like anyone's. */
	cu.timestamp++;
	CHECK(gossip_own_chan_upd(g, &cu, tkey_sign, &b) == GOSSIP_REJ_BAD_SIG);
	memset(&na, 0, sizeof(na));
	na.timestamp = test_now;
	memcpy(na.node_id, a.pk, 33);
	memcpy(na.alias, "own", 3);
	CHECK(gossip_own_node_ann(g, &na, tkey_sign, &a) == GOSSIP_OK);
	counts(g, &n, &ch, &u);
	CHECK(n == 1 && ch == 1 && u == 1);
	gossip_free(g);
	tmpdir_rm(dir);
}

/* A watch-only node has no channel: its own node_announcement is kept
 * anyway (only its own, only when made locally), with timestamps that
 * always move forward; the two-step form takes the signature later. */
static void test_own_no_channel(void)
{
	char *dir = tmpdir_new();
	struct gossip *g = mgr_new(dir);
	struct peer *x = double_new(0xac);
	struct tkey me, other;
	struct gossip_node_ann na, got;
	uint8_t m[1000], h[32], sig[64];
	size_t len, off;
	uint64_t n;

	test_now = 1767225600;
	tkey_init(&me, 0x51);
	tkey_init(&other, 0x52);
	gossip_peer_connected(g, x);
	memset(&na, 0, sizeof(na));
	memcpy(na.node_id, me.pk, 33);
	memcpy(na.alias, "cold", 4);
	na.rgb[0] = 0x33;

	/* Before we know who we are: the BOLT 7 rule applies to us too. */
	na.timestamp = test_now;
	CHECK(gossip_own_node_ann(g, &na, tkey_sign, &me) ==
	      GOSSIP_REJ_UNKNOWN_NODE);
	gossip_set_own_id(g, me.pk);
	CHECK(gossip_own_node_ann_timestamp(g) == test_now);
	CHECK(gossip_own_node_ann(g, &na, tkey_sign, &me) == GOSSIP_OK);
	gossip_counts(g, &n, NULL, NULL);
	CHECK(n == 1);
	/* Same second again: one past the last. */
	CHECK(gossip_own_node_ann_timestamp(g) == test_now + 1);

	/* Two steps: prepare, sign SHA256d(signed part) later, finish. */
	na.timestamp = gossip_own_node_ann_timestamp(g);
	len = gossip_node_ann_prepare(m, sizeof(m), &off, &na);
	CHECK(len > 66 && off == 66);
	CHECK(gossip_node_ann_prepare(m, 10, &off, &na) == 0);
	crypto_hash_sha256(h, m + off, len - off);
	crypto_hash_sha256(h, h, 32);
	CHECK(tkey_sign(&me, sig, h));
	/* A wrong signature is refused like anyone's. */
	{
		uint8_t bad[64];
		CHECK(tkey_sign(&other, bad, h));
		CHECK(gossip_own_finish(g, m, len, bad) == GOSSIP_REJ_BAD_SIG);
	}
	CHECK(gossip_own_finish(g, m, len, sig) == GOSSIP_OK);
	CHECK(gossip_own_node_ann_timestamp(g) == test_now + 2);
	gossip_commit(g);
	gossip_counts(g, &n, NULL, NULL);
	CHECK(n == 1);

	/* The same bytes from a peer: no channel, ignored as BOLT 7 says. */
	memcpy(m + 2, sig, 64);
	CHECK(gossip_handle_msg(g, x, m, len) == GOSSIP_REJ_UNKNOWN_NODE);
	/* And another node's, made locally: no exception either. */
	memcpy(na.node_id, other.pk, 33);
	na.timestamp = test_now;
	CHECK(gossip_own_node_ann(g, &na, tkey_sign, &other) ==
	      GOSSIP_REJ_UNKNOWN_NODE);
	CHECK(gossip_node_ann_parse(&got, m, len) == GOSSIP_OK);
	CHECK(got.timestamp == test_now + 1);

	/* The timestamp survives a restart (it comes from the store). */
	gossip_peer_gone(g, x);
	gossip_free(g);
	g = mgr_new(dir);
	gossip_set_own_id(g, me.pk);
	CHECK(gossip_own_node_ann_timestamp(g) == test_now + 2);
	test_now += 100;
	CHECK(gossip_own_node_ann_timestamp(g) == test_now);
	gossip_free(g);
	double_free(x);
	tmpdir_rm(dir);
}

/* Answer a query_channel_range with timestamps and checksums. */
static void test_answer_range(struct gossip *a, const struct gmsgs *graph,
			      uint64_t channels)
{
	struct peer *q = double_new(0xb0);
	struct gossip_query_range qr;
	uint8_t m[100];
	size_t len, total = 0;
	uint64_t prev = 0;
	bool complete = false;

	gossip_peer_connected(a, q);
	double_clear(q);
	memcpy(qr.chain_hash, chain, 32);
	qr.first_blocknum = 0;
	qr.number_of_blocks = UINT32_MAX;
	qr.has_query_option = true;
	qr.query_option = 3;
	len = gossip_query_range_write(m, sizeof(m), &qr);
	CHECK(gossip_handle_msg(a, q, m, len) == GOSSIP_OK);
	/* One outstanding query at a time. */
	CHECK(gossip_handle_msg(a, q, m, len) == GOSSIP_REJ_BUSY);
	for (int i = 0; i < 500 && !complete; i++) {
		ev_run(loop, EVRUN_ONCE);
		for (size_t k = 0; k < q->n; k++) {
			struct gossip_reply_range r;
			if (be16_get(q->msgs[k]) != GOSSIP_REPLY_CHANNEL_RANGE)
				continue;
			complete = false;
			CHECK(gossip_reply_range_parse(&r, q->msgs[k],
						       q->lens[k]) ==
			      GOSSIP_OK);
			if ((uint64_t)r.first_blocknum + r.number_of_blocks >=
			    UINT32_MAX)
				complete = r.sync_complete;
			gossip_reply_range_clear(&r);
		}
	}
	CHECK(complete);
	for (size_t k = 0; k < q->n; k++) {
		struct gossip_reply_range r;
		if (be16_get(q->msgs[k]) != GOSSIP_REPLY_CHANNEL_RANGE)
			continue;
		gossip_reply_range_parse(&r, q->msgs[k], q->lens[k]);
		CHECK(r.timestamps && r.checksums);
		for (size_t i = 0; i < r.num_scids; i++) {
			CHECK(r.scids[i] > prev);
			prev = r.scids[i];
			CHECK(r.timestamps[i][0] && r.timestamps[i][1]);
			CHECK(r.checksums[i][0] && r.checksums[i][1]);
		}
		total += r.num_scids;
		gossip_reply_range_clear(&r);
	}
	CHECK(total == channels);
	gossip_peer_gone(a, q);
	double_free(q);
}

/* A query_channel_range for zero blocks from block 0 covers no block:
 * one empty, complete reply (not the whole graph, which a wrapped "last
 * scid before block 0" would select). */
static void test_answer_empty_range(struct gossip *a)
{
	struct peer *q = double_new(0xb1);
	struct gossip_query_range qr;
	uint8_t m[100];
	size_t len, replies = 0;

	gossip_peer_connected(a, q);
	double_clear(q);
	memcpy(qr.chain_hash, chain, 32);
	qr.first_blocknum = 0;
	qr.number_of_blocks = 0;
	qr.has_query_option = false;
	qr.query_option = 0;
	len = gossip_query_range_write(m, sizeof(m), &qr);
	CHECK(gossip_handle_msg(a, q, m, len) == GOSSIP_OK);
	for (int i = 0; i < 50 && !replies; i++) {
		ev_run(loop, EVRUN_ONCE);
		replies = double_count(q, GOSSIP_REPLY_CHANNEL_RANGE);
	}
	CHECK(replies == 1);
	for (size_t k = 0; k < q->n; k++) {
		struct gossip_reply_range r;
		if (be16_get(q->msgs[k]) != GOSSIP_REPLY_CHANNEL_RANGE)
			continue;
		CHECK(gossip_reply_range_parse(&r, q->msgs[k], q->lens[k]) ==
		      GOSSIP_OK);
		CHECK(r.num_scids == 0);
		CHECK(r.first_blocknum == 0 && r.number_of_blocks == 0);
		CHECK(r.sync_complete);
		gossip_reply_range_clear(&r);
	}
	gossip_peer_gone(a, q);
	double_free(q);
}

/* Two managers, one with a graph: the empty one syncs it all through
 * query_channel_range / query_short_channel_ids. */
static void test_sync(void)
{
	char *da = tmpdir_new(), *db = tmpdir_new();
	struct gossip *A, *B;
	struct peer *pa, *pb; /* pa: A as seen by B; pb: B as seen by A */
	struct gengraph_params p;
	struct gmsgs graph = { 0 };
	uint64_t an, ac, au, bn, bc, bu;
	int i;

	gengraph_params_small(&p);
	memcpy(p.chain_hash, chain, 32);
	test_now = p.now;
	CHECK(gengraph_run(&p, gmsgs_add, &graph));
	A = mgr_new(da);
	B = mgr_new(db);
	for (size_t k = 0; k < graph.n; k++)
		CHECK(gossip_handle_msg(A, NULL, graph.m[k], graph.len[k]) ==
		      GOSSIP_OK);
	gossip_commit(A);
	counts(A, &an, &ac, &au);
	CHECK(an == p.nodes && ac == p.channels && au == 2 * p.channels);

	test_answer_range(A, &graph, ac);
	test_answer_empty_range(A);

	pa = double_new(0x0a);
	pb = double_new(0x0b);
	gossip_peer_connected(A, pb);
	gossip_peer_connected(B, pa);
	for (i = 0; i < 5000; i++) {
		size_t moved = double_pump(pb, B, pa) + double_pump(pa, A, pb);
		counts(B, &bn, &bc, &bu);
		if (!moved && gossip_synced(B) && bn == an && bc == ac &&
		    bu == au)
			break;
		ev_run(loop, moved ? EVRUN_NOWAIT : EVRUN_ONCE);
	}
	CHECK(gossip_synced(B));
	CHECK(bn == an && bc == ac && bu == au);
	CHECK(pa->warns == 0 && pa->closes == 0);
	CHECK(pb->warns == 0 && pb->closes == 0);
	/* B asked with timestamps then for what it lacked. */
	CHECK(double_count(pa, GOSSIP_QUERY_CHANNEL_RANGE) == 1);
	CHECK(double_count(pa, GOSSIP_QUERY_SHORT_CHANNEL_IDS) >= 1);

	gossip_peer_gone(A, pb);
	gossip_peer_gone(B, pa);
	gossip_free(B);
	/* Restart: the same graph, and synced (recently) without a peer. */
	B = mgr_new(db);
	counts(B, &bn, &bc, &bu);
	CHECK(bn == an && bc == ac && bu == au);
	CHECK(gossip_synced(B));
	gossip_free(A);
	gossip_free(B);
	double_free(pa);
	double_free(pb);
	gmsgs_free(&graph);
	tmpdir_rm(da);
	tmpdir_rm(db);
}

/* BOLT 7: prune when the latest update "in either direction" is older
 * than two weeks, and (ours) only as of a completed sync, so a clock jump
 * or two weeks offline deletes nothing whose fresh updates are coming. */
static void test_prune(void)
{
	char *dir = tmpdir_new();
	struct gossip *g = mgr_new(dir);
	struct peer *x = double_new(0xa7);
	struct tkey a, b, c;
	uint8_t m[1000];
	size_t len;
	uint64_t s1 = (710000ULL << 40) | (1 << 16), s2 = s1 + (1 << 16);
	uint64_t n, ch, u;
	uint32_t t0;

	test_now = t0 = 1767225600;
	tkey_init(&a, 0x51);
	tkey_init(&b, 0x52);
	tkey_init(&c, 0x53);
	gossip_peer_connected(g, x);
	/* s1: both sides fresh.  s2: one side 13 days old. */
	len = tmake_chan(m, chain, s1, &a, &b);
	CHECK(gossip_handle_msg(g, x, m, len) == GOSSIP_OK);
	len = tmake_upd(m, chain, s1, tdir(&a, &b), t0 - 86400, 1, 1, &a);
	CHECK(gossip_handle_msg(g, x, m, len) == GOSSIP_OK);
	len = tmake_upd(m, chain, s1, tdir(&b, &a), t0 - 86400, 1, 1, &b);
	CHECK(gossip_handle_msg(g, x, m, len) == GOSSIP_OK);
	len = tmake_chan(m, chain, s2, &a, &c);
	CHECK(gossip_handle_msg(g, x, m, len) == GOSSIP_OK);
	len = tmake_upd(m, chain, s2, tdir(&a, &c), t0 - 86400, 1, 1, &a);
	CHECK(gossip_handle_msg(g, x, m, len) == GOSSIP_OK);
	len = tmake_upd(m, chain, s2, tdir(&c, &a), t0 - 13 * 86400, 1, 1,
			&c);
	CHECK(gossip_handle_msg(g, x, m, len) == GOSSIP_OK);
	CHECK(answer_range_empty(g, x));
	CHECK(gossip_synced(g));
	CHECK(gossip_prune_now(g) == 0);

	/* Two days on, and a sync: s2's older side is 15 days old. */
	test_now = t0 + 2 * 86400;
	gossip_resync(g, "test");
	CHECK(answer_range_empty(g, x));
	CHECK(gossip_prune_now(g) == 1);
	counts(g, &n, &ch, &u);
	CHECK(ch == 1 && u == 2);

	/* The clock jumps three weeks (or we were away): nothing goes
	 * before a sync has had the chance to bring fresh updates ... */
	test_now = t0 + 23 * 86400;
	CHECK(gossip_prune_now(g) == 0);
	/* ... which here brings one for s1's side a, not for side b. */
	len = tmake_upd(m, chain, s1, tdir(&a, &b), test_now - 60, 2, 1, &a);
	CHECK(gossip_handle_msg(g, x, m, len) == GOSSIP_OK);
	CHECK(gossip_prune_now(g) == 0);
	gossip_resync(g, "signer back");
	CHECK(answer_range_empty(g, x));
	/* Side b silent for over two weeks: pruned, as BOLT 7 allows. */
	CHECK(gossip_prune_now(g) == 1);
	counts(g, &n, &ch, &u);
	CHECK(ch == 0 && u == 0 && n == 0);
	{
		struct gossip_sync_stats st;
		gossip_get_sync_stats(g, &st);
		CHECK(st.completed == 3 && st.rounds == 3);
		CHECK(st.last_completed == test_now);
		CHECK(st.phase == GOSSIP_SYNC_IDLE);
	}
	gossip_peer_gone(g, x);
	gossip_free(g);
	double_free(x);
	tmpdir_rm(dir);
}

/* Gossip missed while running comes back without a restart: B synced from
 * A, the link went down, A learnt new channels meanwhile (timestamped
 * before B's filter, so never relayed); B's periodic historical sync
 * (lnd's hourly one, here 0.2 s) fetches them by scid. */
static void test_missed_comes_back(void)
{
	char *da = tmpdir_new(), *db = tmpdir_new();
	struct gossip_config cfg;
	struct gossip *A, *B;
	struct peer *pa = double_new(0x1a), *pb = double_new(0x1b);
	struct gengraph_params p;
	struct gmsgs graph = { 0 };
	struct tkey k[6];
	uint64_t an, ac, au, bn, bc, bu;
	uint8_t m[1000];
	size_t len;
	int i;

	gengraph_params_small(&p);
	memcpy(p.chain_hash, chain, 32);
	test_now = p.now;
	CHECK(gengraph_run(&p, gmsgs_add, &graph));
	A = mgr_new(da);
	double_gossip_config(&cfg, db, chain, test_clock);
	cfg.pace_interval = 0.001;
	cfg.flush_interval = 0.01;
	cfg.resync_interval = 0.2;
	B = gossip_new(loop, &cfg, NULL, NULL);
	for (size_t j = 0; j < graph.n; j++)
		gossip_handle_msg(A, NULL, graph.m[j], graph.len[j]);
	gossip_commit(A);
	gossip_peer_connected(A, pb);
	gossip_peer_connected(B, pa);
	for (i = 0; i < 5000 && !gossip_synced(B); i++) {
		size_t moved = double_pump(pb, B, pa) + double_pump(pa, A, pb);
		ev_run(loop, moved ? EVRUN_NOWAIT : EVRUN_ONCE);
	}
	CHECK(gossip_synced(B));
	/* The outage: A learns 5 channels (and their nodes). */
	gossip_peer_gone(A, pb);
	gossip_peer_gone(B, pa);
	double_clear(pa);
	double_clear(pb);
	for (int j = 0; j < 6; j++)
		tkey_init(&k[j], (uint8_t)(0x61 + j));
	for (int j = 0; j < 5; j++) {
		uint64_t scid = (720000ULL + (uint64_t)j) << 40;
		len = tmake_chan(m, chain, scid, &k[j], &k[j + 1]);
		CHECK(gossip_handle_msg(A, NULL, m, len) == GOSSIP_OK);
		len = tmake_upd(m, chain, scid, tdir(&k[j], &k[j + 1]),
				test_now - 10, 1, 1, &k[j]);
		CHECK(gossip_handle_msg(A, NULL, m, len) == GOSSIP_OK);
		len = tmake_upd(m, chain, scid, tdir(&k[j + 1], &k[j]),
				test_now - 10, 1, 1, &k[j + 1]);
		CHECK(gossip_handle_msg(A, NULL, m, len) == GOSSIP_OK);
	}
	for (int j = 0; j < 6; j++) {
		len = tmake_node(m, test_now - 5, &k[j]);
		CHECK(gossip_handle_msg(A, NULL, m, len) == GOSSIP_OK);
	}
	gossip_commit(A);
	counts(A, &an, &ac, &au);
	/* Back: new sessions, filters from now on. */
	gossip_peer_connected(A, pb);
	gossip_peer_connected(B, pa);
	/* Bounded in time: the periodic sync is due within 0.2 s. */
	for (double end = ev_time() + 5; ev_time() < end;) {
		size_t moved = double_pump(pb, B, pa) + double_pump(pa, A, pb);
		counts(B, &bn, &bc, &bu);
		if (!moved && bn == an && bc == ac && bu == au)
			break;
		ev_run(loop, moved ? EVRUN_NOWAIT : EVRUN_ONCE);
	}
	CHECK(bn == an && bc == ac && bu == au);
	{
		struct gossip_sync_stats st;
		gossip_get_sync_stats(B, &st);
		CHECK(st.completed >= 2);
	}
	CHECK(pa->closes == 0 && pb->closes == 0);
	gossip_peer_gone(A, pb);
	gossip_peer_gone(B, pa);
	gossip_free(A);
	gossip_free(B);
	double_free(pa);
	double_free(pb);
	gmsgs_free(&graph);
	tmpdir_rm(da);
	tmpdir_rm(db);
}

/* Smaller BOLT 7 points of issue 21: our own gossip goes to a peer
 * whatever its filter; warnings to one peer are capped; a node
 * announcement older than two weeks is taken (no such rule); a repeated
 * DNS name is stored but not relayed; an update held for an unknown
 * channel is held once however many peers send it. */
static void test_small_rules(void)
{
	char *dir = tmpdir_new();
	struct gossip *g = mgr_new(dir);
	struct peer *x = double_new(0xe1), *r = double_new(0xe2);
	struct tkey me, b, c;
	uint8_t m[1000], m2[1000];
	size_t len, len2;
	uint64_t scid = 730000ULL << 40;
	struct gossip_ts_filter f;
	struct gossip_stats st0, st;

	test_now = 1767225600;
	tkey_init(&me, 0x71);
	tkey_init(&b, 0x72);
	tkey_init(&c, 0x73);
	gossip_set_own_id(g, me.pk);
	gossip_peer_connected(g, x);
	gossip_peer_connected(g, r);
	len = tmake_chan(m, chain, scid, &me, &b);
	CHECK(gossip_handle_msg(g, x, m, len) == GOSSIP_OK);
	len = tmake_chan(m, chain, scid + 1, &b, &c);
	CHECK(gossip_handle_msg(g, x, m, len) == GOSSIP_OK);

	/* r wants no relayed gossip at all (BOLT 7: first_timestamp
	 * 0xFFFFFFFF, range 0 for a peer without gossip_queries). */
	memcpy(f.chain_hash, chain, 32);
	f.first_timestamp = 0xFFFFFFFF;
	f.timestamp_range = 0;
	len = gossip_ts_filter_write(m, sizeof(m), &f);
	CHECK(gossip_handle_msg(g, r, m, len) == GOSSIP_OK);
	double_clear(r);
	/* Ours: "SHOULD send gossip messages as it generates them regardless
	 * of timestamp".  Someone else's: filtered. */
	{
		struct gossip_chan_upd cu;
		memset(&cu, 0, sizeof(cu));
		cu.scid = scid;
		cu.timestamp = test_now - 5;
		cu.message_flags = 1;
		cu.channel_flags = (uint8_t)tdir(&me, &b);
		cu.htlc_maximum_msat = 1000;
		CHECK(gossip_own_chan_upd(g, &cu, tkey_sign, &me) == GOSSIP_OK);
	}
	len = tmake_upd(m, chain, scid + 1, tdir(&b, &c), test_now - 5, 1, 1,
			&b);
	CHECK(gossip_handle_msg(g, x, m, len) == GOSSIP_OK);
	for (int i = 0; i < 300 && double_count(r, GOSSIP_CHANNEL_UPDATE) < 1;
	     i++)
		ev_run(loop, EVRUN_ONCE);
	run_a_bit(20);
	CHECK(double_count(r, GOSSIP_CHANNEL_UPDATE) == 1);
	CHECK(double_count(r, GOSSIP_CHANNEL_ANNOUNCEMENT) == 1);
	for (size_t k = 0; k < r->n; k++) {
		struct gossip_chan_upd cu;
		if (be16_get(r->msgs[k]) == GOSSIP_CHANNEL_UPDATE &&
		    gossip_chan_upd_parse(&cu, r->msgs[k], r->lens[k]) ==
			    GOSSIP_OK)
			CHECK(cu.scid == scid);
	}

	/* Node announcements three weeks old: taken. */
	len = tmake_node(m, test_now - 21 * 86400, &c);
	CHECK(gossip_handle_msg(g, x, m, len) == GOSSIP_OK);
	/* ... too far ahead still is not. */
	len = tmake_node(m, test_now + 2 * 86400, &c);
	CHECK(gossip_handle_msg(g, x, m, len) == GOSSIP_REJ_TS_FUTURE);

	/* Warnings: 100 conflicting updates, at most 10 warnings a minute. */
	len = tmake_upd(m, chain, scid + 1, tdir(&c, &b), test_now - 100, 1,
			1, &c);
	CHECK(gossip_handle_msg(g, x, m, len) == GOSSIP_OK);
	x->warns = 0;
	for (uint32_t i = 0; i < 100; i++) {
		len2 = tmake_upd(m2, chain, scid + 1, tdir(&c, &b),
				 test_now - 100, 2 + i, 1, &c);
		CHECK(gossip_handle_msg(g, x, m2, len2) ==
		      GOSSIP_REJ_TS_CONFLICT);
	}
	CHECK(x->warns == 10);
	CHECK(gossip_rejects(g, GOSSIP_REJ_TS_CONFLICT) == 100);
	CHECK(x->closes == 0);

	/* The same held update from two peers: held once. */
	gossip_get_stats(g, &st0);
	len = tmake_upd(m, chain, scid + 7, 0, test_now - 5, 1, 1, &b);
	CHECK(gossip_handle_msg(g, x, m, len) == GOSSIP_IGN_HELD);
	CHECK(gossip_handle_msg(g, r, m, len) == GOSSIP_IGN_DUPLICATE);
	gossip_get_stats(g, &st);
	CHECK(st.held == st0.held + 1);

	gossip_peer_gone(g, x);
	gossip_peer_gone(g, r);
	gossip_free(g);
	double_free(x);
	double_free(r);
	tmpdir_rm(dir);
}

/* ---- dial targets for the local-key sessions (targets.c) ---- */

static size_t node_with_addr(uint8_t *out, uint32_t ts, const struct tkey *k,
			     const uint8_t *addr, uint16_t addr_len)
{
	struct gossip_node_ann na;

	memset(&na, 0, sizeof(na));
	na.timestamp = ts;
	memcpy(na.node_id, k->pk, 33);
	memcpy(na.alias, "addr", 4);
	na.addresses = addr;
	na.addresses_len = addr_len;
	return gossip_node_ann_sign(out, 1000, &na, tkey_sign, (void *)k);
}

/* Every shape of address list: which descriptor becomes the dial target. */
#define P GOSSIP_DIAL_PUBLIC
#define L GOSSIP_DIAL_LOOPBACK
static void test_dial_uri_table(void)
{
	static const struct {
		const char *what;
		uint8_t addr[64];
		size_t len;
		enum gossip_dial_scope scope;
		const char *want; /* after "PUBKEY@"; NULL: none */
	} rows[] = {
		{ "empty", { 0 }, 0, L, NULL },
		{ "loopback v4, regtest", { 1, 127, 0, 0, 1, 0x26, 0x07 }, 7,
		  L, "127.0.0.1:9735" },
		{ "loopback v4, not regtest", { 1, 127, 0, 0, 1, 0x26, 0x07 },
		  7, P, NULL },
		{ "public v4", { 1, 8, 8, 8, 8, 0x26, 0x07 }, 7, P,
		  "8.8.8.8:9735" },
		{ "private v4s, then public", { 1, 10, 0, 0, 1, 0, 1,
		  1, 192, 168, 1, 1, 0, 1, 1, 172, 16, 0, 1, 0, 1,
		  1, 169, 254, 1, 1, 0, 1, 1, 100, 64, 0, 1, 0, 1,
		  1, 172, 32, 0, 1, 0, 2 }, 42, P, "172.32.0.1:2" },
		{ "port 0 skipped, then v6",
		  { 1, 8, 8, 8, 8, 0, 0,
		    2, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		    0, 1, 0x26, 0x08 }, 26, P, "[2001:db8::1]:9736" },
		{ "loopback and link-local v6, not regtest",
		  { 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1,
		    2, 0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
		    0, 1 }, 38, P, NULL },
		{ "loopback v6, regtest",
		  { 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1 },
		  19, L, "[::1]:1" },
		{ "DNS name skipped (would block), then v4",
		  { 5, 3, 'a', '.', 'b', 0x26, 0x07, 1, 1, 2, 3, 4, 0, 9 },
		  14, P, "1.2.3.4:9" },
		{ "Tor v3 skipped, then v4",
		  { 4, [38] = 1, 1, 2, 3, 4, 0, 9 }, 45, P, "1.2.3.4:9" },
		{ "Tor v2 skipped, then v4",
		  { 3, [13] = 1, 1, 2, 3, 4, 0, 9 }, 20, P, "1.2.3.4:9" },
		{ "unknown type ends the walk", { 9, 1, 1, 2, 3, 4, 0, 9 }, 8,
		  P, NULL },
		{ "truncated v4", { 1, 1, 2, 3, 4, 0 }, 6, L, NULL },
		{ "truncated DNS length", { 5 }, 1, L, NULL },
		{ "DNS longer than the list", { 5, 40, 'a' }, 3, L, NULL },
		{ "regtest: private (gengraph's) skipped, then loopback",
		  { 1, 10, 0, 0, 1, 0x26, 0x07, 1, 127, 0, 0, 1, 0x26, 0x07 },
		  14, L, "127.0.0.1:9735" },
		{ "regtest: public never", { 1, 8, 8, 8, 8, 0x26, 0x07 }, 7, L,
		  NULL },
	};
	struct tkey k;
	char hex[67], out[GOSSIP_DIAL_URI_MAX], want[GOSSIP_DIAL_URI_MAX];

	tkey_init(&k, 0x61);
	hex_encode(hex, k.pk, 33);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		bool ok = gossip_addr_dial_uri(out, k.pk, rows[i].addr,
					       rows[i].len, rows[i].scope);
		if (ok != (rows[i].want != NULL)) {
			fprintf(stderr, "row %zu (%s): got %d\n", i,
				rows[i].what, ok);
			CHECK(false);
			continue;
		}
		if (!ok)
			continue;
		snprintf(want, sizeof(want), "%s@%s", hex, rows[i].want);
		if (strcmp(out, want)) {
			fprintf(stderr, "row %zu (%s): %s\n", i, rows[i].what,
				out);
			CHECK(false);
		}
	}
}

#undef P
#undef L

/* The freshest announcements with a usable address, ourselves skipped. */
static void test_dial_targets(void)
{
	char *dir = tmpdir_new();
	struct gossip *g = mgr_new(dir);
	struct peer *x = double_new(0xad);
	struct tkey a, b, c;
	uint8_t m[1000];
	static const uint8_t aa[] = { 1, 127, 0, 0, 1, 0x03, 0xe9 };
	static const uint8_t ab[] = { 1, 127, 0, 0, 1, 0x03, 0xea };
	char out[4][GOSSIP_DIAL_URI_MAX], hex[67];
	uint8_t skip[1][33];
	uint64_t scid = (720000ULL << 40) | (1 << 16);
	size_t len;

	test_now = 1767225600;
	tkey_init(&a, 0x71);
	tkey_init(&b, 0x72);
	tkey_init(&c, 0x73);
	CHECK(gossip_dial_targets(g, out, 4, NULL, 0, GOSSIP_DIAL_LOOPBACK) == 0);
	gossip_peer_connected(g, x);
	len = tmake_chan(m, chain, scid, &a, &b);
	CHECK(gossip_handle_msg(g, x, m, len) == GOSSIP_OK);
	len = tmake_chan(m, chain, scid + (1 << 16), &b, &c);
	CHECK(gossip_handle_msg(g, x, m, len) == GOSSIP_OK);
	len = node_with_addr(m, test_now - 30, &a, aa, sizeof(aa));
	CHECK(gossip_handle_msg(g, x, m, len) == GOSSIP_OK);
	len = node_with_addr(m, test_now - 10, &b, ab, sizeof(ab));
	CHECK(gossip_handle_msg(g, x, m, len) == GOSSIP_OK);
	len = tmake_node(m, test_now - 5, &c); /* no address */
	CHECK(gossip_handle_msg(g, x, m, len) == GOSSIP_OK);
	run_a_bit(20);

	/* Newest first; c has nothing to dial. */
	CHECK(gossip_dial_targets(g, out, 4, NULL, 0, GOSSIP_DIAL_LOOPBACK) == 2);
	hex_encode(hex, b.pk, 33);
	CHECK(!strncmp(out[0], hex, 66) && !strcmp(out[0] + 66,
						   "@127.0.0.1:1002"));
	hex_encode(hex, a.pk, 33);
	CHECK(!strncmp(out[1], hex, 66) && !strcmp(out[1] + 66,
						   "@127.0.0.1:1001"));
	/* At most @max. */
	CHECK(gossip_dial_targets(g, out, 1, NULL, 0, GOSSIP_DIAL_LOOPBACK) == 1);
	hex_encode(hex, b.pk, 33);
	CHECK(!strncmp(out[0], hex, 66));
	/* Ourselves (a standby's leader) skipped. */
	memcpy(skip[0], b.pk, 33);
	CHECK(gossip_dial_targets(g, out, 4, (const uint8_t(*)[33])skip, 1,
				  GOSSIP_DIAL_LOOPBACK) == 1);
	hex_encode(hex, a.pk, 33);
	CHECK(!strncmp(out[0], hex, 66));
	/* Not regtest: loopback announced by others is never dialed. */
	CHECK(gossip_dial_targets(g, out, 4, NULL, 0, GOSSIP_DIAL_PUBLIC) == 0);
	gossip_peer_gone(g, x);
	gossip_free(g);
	double_free(x);
	tmpdir_rm(dir);
}

int main(void)
{
	cn_crypto_init();
	log_set_level(NULL, LOG_UNUSUAL);
	loop = ev_loop_new(0);
	memset(chain, 0x06, 32);
	test_rules();
	test_prune();
	test_unverified_cap();
	test_pending_checks();
	test_spent_not_relayed();
	test_ratelimit();
	test_relay();
	test_small_rules();
	test_gone_mid_send();
	test_own();
	test_own_no_channel();
	test_sync();
	test_missed_comes_back();
	test_dial_uri_table();
	test_dial_targets();
	ev_loop_destroy(loop);
	return check_exit();
}
