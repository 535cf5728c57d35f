/* The manager at sizes real peers use: a query_short_channel_ids of 8,000
 * scids (BOLT 7 allows 8,191) over 6,000 nodes answered with every
 * node_announcement exactly once.
 *
 * The graph is written straight into the store (signatures are not
 * looked at when answering), so the test spends its time answering, not
 * signing. */
#include "../common/check.h"
#include "gtest_sign.h"
#include "gtest_util.h"
#include "test_peer_double.h"
#include "gossip/store.h"

#include <ev.h>
#include <stdio.h>

static struct ev_loop *loop;
static uint8_t chain[32];

static struct gossip *mgr_new(const char *dir)
{
	struct gossip_config cfg;

	double_gossip_config(&cfg, dir, chain, test_clock);
	cfg.pace_interval = 0.001;
	cfg.pace_budget = 1 << 20;
	return gossip_new(loop, &cfg, NULL, NULL);
}

/* A node id per index: 02 then splitmix64 bytes (random-looking, so
 * their prefixes spread like real keys'). */
static void node_id(uint8_t id[33], unsigned k)
{
	uint64_t x = 0x9e3779b97f4a7c15ULL * (k + 1);

	id[0] = 0x02;
	for (int i = 0; i < 4; i++) {
		uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
		z ^= z >> 31;
		be64_put(id + 1 + 8 * i, z);
	}
}

static uint64_t scid_of(unsigned i)
{
	return ((600000ULL + i / 10) << 40) | ((uint64_t)(i % 10) << 16);
}

/* @channels channels over @nodes nodes (channel i < nodes touches node i,
 * so every node has one), each with both updates, every node announced. */
static void store_graph(const char *dir, unsigned nodes, unsigned channels)
{
	char path[512];
	struct gossip_store *s;
	uint8_t m[1000];

	snprintf(path, sizeof(path), "%s/%s", dir, GOSSIP_STORE_FILE);
	s = gossip_store_open(path);
	CHECK(s != NULL);
	for (unsigned i = 0; i < channels; i++) {
		struct gossip_chan_ann ca;
		struct gossip_chan_upd cu;
		unsigned a = i % nodes, b = (i * 7 + 1) % nodes;
		size_t len;

		if (b == a)
			b = (a + 1) % nodes;
		memset(&ca, 0, sizeof(ca));
		memcpy(ca.chain_hash, chain, 32);
		ca.scid = scid_of(i);
		node_id(ca.node_id_1, a);
		node_id(ca.node_id_2, b);
		if (memcmp(ca.node_id_1, ca.node_id_2, 33) > 0) {
			node_id(ca.node_id_1, b);
			node_id(ca.node_id_2, a);
		}
		len = gossip_chan_ann_write(m, sizeof(m), &ca);
		CHECK(gossip_store_add_chan(s, ca.scid, ca.node_id_1,
					    ca.node_id_2, true, test_now, m,
					    len));
		for (int d = 0; d < 2; d++) {
			memset(&cu, 0, sizeof(cu));
			memcpy(cu.chain_hash, chain, 32);
			cu.scid = ca.scid;
			cu.timestamp = test_now - 1000 + i % 500;
			cu.message_flags = 1;
			cu.channel_flags = (uint8_t)d;
			cu.htlc_maximum_msat = 1000;
			len = gossip_chan_upd_write(m, sizeof(m), &cu);
			CHECK(gossip_store_put_upd(
				s, ca.scid, d, cu.timestamp,
				gossip_chan_upd_checksum(m, len), 1, m, len));
		}
	}
	for (unsigned k = 0; k < nodes; k++) {
		struct gossip_node_ann na;
		size_t len;

		memset(&na, 0, sizeof(na));
		na.timestamp = test_now - 500;
		node_id(na.node_id, k);
		len = gossip_node_ann_write(m, sizeof(m), &na);
		CHECK(gossip_store_put_node(s, na.node_id, na.timestamp, m,
					    len));
	}
	CHECK(gossip_store_commit(s));
	gossip_store_free(s);
}

static int cmp_id(const void *a, const void *b)
{
	return memcmp(a, b, 33);
}

/* Item: "large query_short_channel_ids answers skip node_announcements"
 * (the sent set had 4,096 slots and 64 probes). */
static void test_query_8000(void)
{
	enum { NODES = 6000, CHANNELS = 8000 };
	char *dir = tmpdir_new();
	struct gossip *g;
	struct peer *q = double_new(0xc1);
	struct gossip_query_scids qs;
	static uint8_t m[65535];
	uint64_t *scids = calloc(CHANNELS, sizeof(uint64_t));
	uint8_t (*seen)[33] = calloc(2 * CHANNELS, 33);
	size_t len, nseen = 0, chans = 0, upds = 0, unique = 0;
	bool ended = false;

	test_now = 1767225600;
	store_graph(dir, NODES, CHANNELS);
	g = mgr_new(dir);
	gossip_peer_connected(g, q);
	double_clear(q);
	for (unsigned i = 0; i < CHANNELS; i++)
		scids[i] = scid_of(i);
	memcpy(qs.chain_hash, chain, 32);
	qs.num_scids = CHANNELS;
	qs.scids = scids;
	qs.flags = NULL;
	len = gossip_query_scids_write(m, sizeof(m), &qs);
	CHECK(len <= 65535);
	CHECK(gossip_handle_msg(g, q, m, len) == GOSSIP_OK);
	for (int i = 0; i < 100000 && !ended; i++) {
		ev_run(loop, EVRUN_ONCE);
		ended = double_count(q, GOSSIP_REPLY_SHORT_CHANNEL_IDS_END);
	}
	CHECK(ended);
	for (size_t k = 0; k < q->n; k++) {
		struct gossip_node_ann na;
		uint16_t t = be16_get(q->msgs[k]);
		if (t == GOSSIP_CHANNEL_ANNOUNCEMENT)
			chans++;
		if (t == GOSSIP_CHANNEL_UPDATE)
			upds++;
		if (t != GOSSIP_NODE_ANNOUNCEMENT)
			continue;
		CHECK(gossip_node_ann_parse(&na, q->msgs[k], q->lens[k]) ==
		      GOSSIP_OK);
		if (nseen < 2 * CHANNELS)
			memcpy(seen[nseen++], na.node_id, 33);
	}
	qsort(seen, nseen, 33, cmp_id);
	for (size_t k = 0; k < nseen; k++)
		if (!k || memcmp(seen[k], seen[k - 1], 33))
			unique++;
	CHECK(chans == CHANNELS && upds == 2 * CHANNELS);
	/* Every node, each once. */
	if (unique != NODES || nseen != NODES)
		fprintf(stderr, "node_announcements: %zu sent, %zu unique, "
			"%u nodes\n", nseen, unique, NODES);
	CHECK(unique == NODES);
	CHECK(nseen == NODES);
	CHECK(q->closes == 0 && q->warns == 0);
	gossip_peer_gone(g, q);
	gossip_free(g);
	double_free(q);
	free(scids);
	free(seen);
	tmpdir_rm(dir);
}

/* ---- the first sync with a chain source that answers slowly ---- */

/* A chain source double: every check is PENDING, answered OK by a timer
 * a few at a time (a backend fetching one block per check). */
struct slow_chain {
	struct gossip *g;
	uint64_t *pending;
	size_t n, cap, per_tick, max_seen, asked;
	ev_timer t;
};

static enum gossip_utxo slow_check(void *arg, uint64_t scid,
				   const uint8_t k1[33], const uint8_t k2[33])
{
	struct slow_chain *sc = arg;

	if (sc->n == sc->cap) {
		sc->cap = sc->cap ? sc->cap * 2 : 256;
		sc->pending = realloc(sc->pending, sc->cap * sizeof(uint64_t));
	}
	sc->pending[sc->n++] = scid;
	sc->asked++;
	if (sc->n > sc->max_seen)
		sc->max_seen = sc->n;
	return GOSSIP_UTXO_PENDING;
}

static void slow_tick(struct ev_loop *l, ev_timer *w, int revents)
{
	struct slow_chain *sc = w->data;

	for (size_t k = 0; k < sc->per_tick && sc->n; k++) {
		uint64_t scid = sc->pending[0];
		memmove(sc->pending, sc->pending + 1,
			--sc->n * sizeof(uint64_t));
		gossip_utxo_done(sc->g, scid, GOSSIP_UTXO_OK);
	}
}

/* Item: "with a chain backend the first sync keeps only a fraction of
 * the graph".  B checks every announcement (at most 200 waiting, 5
 * answered per 2 ms); A has 1,500 channels.  B's queries wait while the
 * checks are queued, nothing is refused, and B ends with A's graph,
 * channels and updates. */
static void test_sync_paced_by_checks(void)
{
	char *da = tmpdir_new(), *db = tmpdir_new();
	struct gossip_config cfg;
	struct gossip *A, *B;
	struct peer *pa = double_new(0x2a), *pb = double_new(0x2b);
	struct gengraph_params p;
	struct gmsgs graph = { 0 };
	struct slow_chain sc = { .per_tick = 5 };
	struct gossip_sync_stats st;
	uint64_t an, ac, au, bn = 0, bc = 0, bu = 0;

	gengraph_params_small(&p);
	p.nodes = 300;
	p.channels = 1500;
	memcpy(p.chain_hash, chain, 32);
	test_now = p.now;
	CHECK(gengraph_run(&p, gmsgs_add, &graph));
	A = mgr_new(da);
	for (size_t j = 0; j < graph.n; j++)
		gossip_handle_msg(A, NULL, graph.m[j], graph.len[j]);
	gossip_commit(A);
	gossip_counts(A, &an, &ac, &au);
	CHECK(ac == p.channels && au == 2 * p.channels && an == p.nodes);

	double_gossip_config(&cfg, db, chain, test_clock);
	cfg.pace_interval = 0.001;
	cfg.flush_interval = 0.01;
	cfg.max_pending_checks = 200;
	cfg.sync_checks_low = 50;
	cfg.chain.check_utxo = slow_check;
	cfg.chain.arg = &sc;
	B = gossip_new(loop, &cfg, NULL, NULL);
	sc.g = B;
	ev_timer_init(&sc.t, slow_tick, 0.002, 0.002);
	sc.t.data = &sc;
	ev_timer_start(loop, &sc.t);

	gossip_peer_connected(A, pb);
	gossip_peer_connected(B, pa);
	for (double end = ev_time() + 30; ev_time() < end;) {
		size_t moved = double_pump(pb, B, pa) + double_pump(pa, A, pb);
		gossip_counts(B, &bn, &bc, &bu);
		if (!moved && gossip_synced(B) && bc == ac && bu == au &&
		    bn == an)
			break;
		ev_run(loop, moved ? EVRUN_NOWAIT : EVRUN_ONCE);
	}
	gossip_get_sync_stats(B, &st);
	if (bc != ac || bu != au || bn != an)
		fprintf(stderr, "paced sync: B has %llu/%llu/%llu of "
			"%llu/%llu/%llu; refused %llu, waits %llu\n",
			(unsigned long long)bn, (unsigned long long)bc,
			(unsigned long long)bu, (unsigned long long)an,
			(unsigned long long)ac, (unsigned long long)au,
			(unsigned long long)gossip_rejects(
				B, GOSSIP_REJ_CHECKS_FULL),
			(unsigned long long)st.waits);
	CHECK(bc == ac && bu == au && bn == an);
	CHECK(gossip_unverified_channels(B) == 0);
	/* Paced: never more waiting than the node takes, none refused,
	 * no update lost waiting for its channel's check. */
	CHECK(sc.max_seen <= cfg.max_pending_checks);
	CHECK(gossip_rejects(B, GOSSIP_REJ_CHECKS_FULL) == 0);
	CHECK(gossip_rejects(B, GOSSIP_REJ_UNKNOWN_CHANNEL) == 0);
	CHECK(st.waits > 0 && st.completed == 1);
	CHECK(sc.asked == ac);
	CHECK(pa->closes == 0 && pb->closes == 0);
	ev_timer_stop(loop, &sc.t);
	gossip_peer_gone(A, pb);
	gossip_peer_gone(B, pa);
	gossip_free(A);
	gossip_free(B);
	double_free(pa);
	double_free(pb);
	free(sc.pending);
	gmsgs_free(&graph);
	tmpdir_rm(da);
	tmpdir_rm(db);
}

/* BOLT 7: a block with more channels than one reply_channel_range holds
 * is split across replies ("MAY split block contents"), not cut short:
 * 9,000 channels in one block, 8,000 scids per plain reply. */
static void test_range_big_block(void)
{
	char *dir = tmpdir_new(), path[512];
	struct gossip_store *s;
	struct gossip *g;
	struct peer *q = double_new(0xc2);
	struct gossip_query_range qr;
	uint8_t m[1000];
	size_t len, total = 0, replies = 0;
	uint64_t prev = 0;
	bool complete = false, ordered = true;
	enum { N = 9000 };

	test_now = 1767225600;
	snprintf(path, sizeof(path), "%s/%s", dir, GOSSIP_STORE_FILE);
	s = gossip_store_open(path);
	for (unsigned i = 0; i < N; i++) {
		struct gossip_chan_ann ca;
		memset(&ca, 0, sizeof(ca));
		memcpy(ca.chain_hash, chain, 32);
		ca.scid = (650000ULL << 40) | ((uint64_t)(i + 1) << 16);
		node_id(ca.node_id_1, 2 * i);
		node_id(ca.node_id_2, 2 * i + 1);
		len = gossip_chan_ann_write(m, sizeof(m), &ca);
		CHECK(gossip_store_add_chan(s, ca.scid, ca.node_id_1,
					    ca.node_id_2, true, test_now, m,
					    len));
	}
	CHECK(gossip_store_commit(s));
	gossip_store_free(s);
	g = mgr_new(dir);
	gossip_peer_connected(g, q);
	double_clear(q);
	memcpy(qr.chain_hash, chain, 32);
	qr.first_blocknum = 600000;
	qr.number_of_blocks = 100000;
	qr.has_query_option = false;
	qr.query_option = 0;
	len = gossip_query_range_write(m, sizeof(m), &qr);
	CHECK(gossip_handle_msg(g, q, m, len) == GOSSIP_OK);
	for (int i = 0; i < 1000 && !complete; i++) {
		ev_run(loop, EVRUN_ONCE);
		for (size_t k = 0; k < q->n; k++) {
			struct gossip_reply_range r;
			if (be16_get(q->msgs[k]) != GOSSIP_REPLY_CHANNEL_RANGE)
				continue;
			gossip_reply_range_parse(&r, q->msgs[k], q->lens[k]);
			complete |= r.sync_complete;
			gossip_reply_range_clear(&r);
		}
	}
	CHECK(complete);
	prev = 0;
	for (size_t k = 0; k < q->n; k++) {
		struct gossip_reply_range r;
		if (be16_get(q->msgs[k]) != GOSSIP_REPLY_CHANNEL_RANGE)
			continue;
		CHECK(gossip_reply_range_parse(&r, q->msgs[k], q->lens[k]) ==
		      GOSSIP_OK);
		replies++;
		for (size_t i = 0; i < r.num_scids; i++) {
			uint32_t b = gossip_scid_block(r.scids[i]);
			ordered &= r.scids[i] > prev && b >= r.first_blocknum &&
				   b < (uint64_t)r.first_blocknum +
					       r.number_of_blocks;
			prev = r.scids[i];
		}
		total += r.num_scids;
		gossip_reply_range_clear(&r);
	}
	CHECK(total == N);
	CHECK(replies >= 2);
	CHECK(ordered);
	gossip_peer_gone(g, q);
	gossip_free(g);
	double_free(q);
	tmpdir_rm(dir);
}

/* Item 4: a peer reading at 1 MB/s asks for a full backfill of 1,500
 * channels (~1 MB): sent as its socket drains (its queue under
 * queue_high plus one message), never past the peer layer's cap (128 KiB
 * here), so it is not dropped and gets everything.  (Before: 64 KiB every
 * 50 ms whatever it drains, 1.3 MB/s.) */
static void test_backfill_slow_reader(void)
{
	enum { NODES = 400, CHANNELS = 1500 };
	char *dir = tmpdir_new();
	struct gossip_config cfg;
	struct gossip *g;
	struct peer *q = double_new(0xc3);
	struct gossip_ts_filter f;
	uint8_t m[100];
	size_t len, want = 3 * CHANNELS + NODES;

	test_now = 1767225600;
	store_graph(dir, NODES, CHANNELS);
	double_gossip_config(&cfg, dir, chain, test_clock);
	cfg.queue_high = 32 * 1024;
	g = gossip_new(loop, &cfg, NULL, NULL);
	q->drain_rate = 1e6;
	q->queue_t = double_clock();
	q->send_cap = 128 * 1024;
	gossip_peer_connected(g, q);
	double_clear(q);
	memcpy(f.chain_hash, chain, 32);
	f.first_timestamp = 0;
	f.timestamp_range = UINT32_MAX;
	len = gossip_ts_filter_write(m, sizeof(m), &f);
	CHECK(gossip_handle_msg(g, q, m, len) == GOSSIP_OK);
	for (double end = ev_time() + 20; ev_time() < end && q->n < want &&
					  !q->cap_drops;)
		ev_run(loop, EVRUN_ONCE);
	if (q->n != want || q->cap_drops)
		fprintf(stderr, "slow reader: %zu of %zu messages, %u drops, "
			"peak queue %zu\n", q->n, want, q->cap_drops,
			q->queue_peak);
	CHECK(q->cap_drops == 0);
	CHECK(q->n == want);
	CHECK(q->queue_peak <= cfg.queue_high + 65535);
	if (!q->cap_drops)
		gossip_peer_gone(g, q);
	gossip_free(g);
	double_free(q);
	tmpdir_rm(dir);
}

int main(void)
{
	cn_crypto_init();
	log_set_level(NULL, LOG_UNUSUAL);
	loop = ev_loop_new(0);
	memset(chain, 0x06, 32);
	test_query_8000();
	test_range_big_block();
	test_backfill_slow_reader();
	test_sync_paced_by_checks();
	ev_loop_destroy(loop);
	return check_exit();
}
