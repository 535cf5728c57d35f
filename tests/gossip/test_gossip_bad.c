/* Bad input through the manager: every message truncated at every byte,
 * damaged signatures, wrong chain, garbage, huge or stray range replies,
 * zlib queries, a flood of updates for unknown channels.  Each is rejected
 * with a reason, counted, the peer warned or dropped per BOLT 7, and the
 * store is left as it was. */
#include "../common/check.h"
#include "gtest_util.h"
#include "test_peer_double.h"

#include <ev.h>
#include <sqlite3.h>

static struct ev_loop *loop;
static uint8_t chain[32];

static struct gossip *mgr_new(const char *dir)
{
	struct gossip_config cfg;

	double_gossip_config(&cfg, dir, chain, test_clock);
	cfg.max_range_scids = 10000;
	cfg.hold_max = 100;
	return gossip_new(loop, &cfg, NULL, NULL);
}

static bool store_intact(const char *dir)
{
	char path[512];
	sqlite3 *db;
	sqlite3_stmt *st;
	bool ok = false;

	snprintf(path, sizeof(path), "%s/gossip.sqlite3", dir);
	if (sqlite3_open(path, &db) != SQLITE_OK)
		return false;
	if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL) ==
		    SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		ok = !strcmp((const char *)sqlite3_column_text(st, 0), "ok");
	sqlite3_finalize(st);
	sqlite3_close(db);
	return ok;
}

static void test_bad_gossip(struct gossip *g, const struct gmsgs *graph)
{
	struct peer *x = double_new(0x66);
	uint64_t n0, c0, u0, n, c, u, truncs = 0;
	uint8_t buf[2000];

	gossip_peer_connected(g, x);
	gossip_counts(g, &n0, &c0, &u0);

	/* Truncated at every byte: closed, counted, nothing stored. */
	for (size_t i = 0; i < graph->n; i++) {
		for (size_t l = 0; l < graph->len[i]; l++) {
			enum gossip_reason r =
				gossip_handle_msg(g, x, graph->m[i], l);
			CHECK(r == GOSSIP_REJ_TRUNCATED);
			truncs++;
		}
	}
	CHECK(gossip_rejects(g, GOSSIP_REJ_TRUNCATED) == truncs);
	CHECK(x->closes == truncs);

	/* Damaged signatures / signed bytes: all refused. */
	for (size_t i = 0; i < graph->n; i++) {
		uint16_t t = be16_get(graph->m[i]);
		enum gossip_reason r;
		memcpy(buf, graph->m[i], graph->len[i]);
		buf[40] ^= 0x01; /* inside the first signature */
		r = gossip_handle_msg(g, x, buf, graph->len[i]);
		/* Already stored: a channel is skipped before any signature
		 * work; an update or node with the same content is a
		 * duplicate (the signature is not part of the comparison). */
		(void)t;
		CHECK(r == GOSSIP_IGN_DUPLICATE);
	}
	/* A new channel with a bad signature. */
	memcpy(buf, graph->m[0], graph->len[0]);
	buf[2 + 4 * 64 + 2 + 32 + 1] ^= 0x80; /* scid: a new channel */
	CHECK(gossip_handle_msg(g, x, buf, graph->len[0]) ==
	      GOSSIP_REJ_BAD_NODE_SIG_1);
	/* A newer update whose signature no longer matches. */
	for (size_t i = 0; i < graph->n; i++) {
		if (be16_get(graph->m[i]) != GOSSIP_CHANNEL_UPDATE)
			continue;
		memcpy(buf, graph->m[i], graph->len[i]);
		be32_put(buf + 106, be32_get(buf + 106) + 1);
		CHECK(gossip_handle_msg(g, x, buf, graph->len[i]) ==
		      GOSSIP_REJ_BAD_SIG);
		break;
	}
	/* Node id order reversed. */
	{
		struct gossip_chan_ann ca;
		uint8_t tmp[33];
		gossip_chan_ann_parse(&ca, graph->m[0], graph->len[0]);
		memcpy(tmp, ca.node_id_1, 33);
		memcpy(ca.node_id_1, ca.node_id_2, 33);
		memcpy(ca.node_id_2, tmp, 33);
		ca.scid ^= 1ULL << 50;
		size_t l = gossip_chan_ann_write(buf, sizeof(buf), &ca);
		CHECK(gossip_handle_msg(g, x, buf, l) ==
		      GOSSIP_REJ_NODE_ORDER);
	}
	/* Wrong chain for each kind. */
	for (size_t i = 0; i < graph->n; i++) {
		uint16_t t = be16_get(graph->m[i]);
		size_t off = t == GOSSIP_CHANNEL_ANNOUNCEMENT ? 260 + 0 : 66;
		if (t == GOSSIP_NODE_ANNOUNCEMENT)
			continue;
		memcpy(buf, graph->m[i], graph->len[i]);
		buf[off] ^= 0xff;
		CHECK(gossip_handle_msg(g, x, buf, graph->len[i]) ==
		      GOSSIP_REJ_WRONG_CHAIN);
	}
	/* Node announcement with broken addresses. */
	for (size_t i = 0; i < graph->n; i++) {
		size_t len = graph->len[i];
		if (be16_get(graph->m[i]) != GOSSIP_NODE_ANNOUNCEMENT)
			continue;
		memcpy(buf, graph->m[i], len);
		/* Last descriptor is ipv4 (7 bytes): claim type 2 (ipv6). */
		buf[len - 7] = 2;
		CHECK(gossip_handle_msg(g, x, buf, len) ==
		      GOSSIP_REJ_BAD_ADDRESS);
		break;
	}
	/* Garbage with every gossip type, every short length. */
	for (uint16_t t = 256; t <= 265; t++) {
		for (size_t l = 0; l < 80; l++) {
			memset(buf, 0xff, sizeof(buf));
			be16_put(buf, t);
			gossip_handle_msg(g, x, buf, l);
		}
	}
	gossip_counts(g, &n, &c, &u);
	CHECK(n == n0 && c == c0 && u == u0);
	gossip_peer_gone(g, x);
	double_free(x);
}

/* Updates for channels nobody announced: held up to hold_max, then
 * refused; memory stays bounded. */
static void test_unknown_flood(struct gossip *g, const struct gmsgs *graph)
{
	struct peer *x = double_new(0x67);
	uint8_t buf[200];
	size_t len = 0;
	const uint8_t *m = gmsgs_find(graph, GOSSIP_CHANNEL_UPDATE, 0, &len);
	uint64_t before = gossip_rejects(g, GOSSIP_REJ_UNKNOWN_CHANNEL);
	unsigned held = 0;

	gossip_peer_connected(g, x);
	memcpy(buf, m, len);
	for (uint32_t i = 0; i < 1000; i++) {
		be64_put(buf + 98, (900000ULL << 40) + i);
		if (gossip_handle_msg(g, x, buf, len) == GOSSIP_IGN_HELD)
			held++;
	}
	CHECK(held == 100);
	CHECK(gossip_rejects(g, GOSSIP_REJ_UNKNOWN_CHANNEL) - before == 900);
	gossip_peer_gone(g, x);
	double_free(x);
}

/* An update for an unknown channel padded to near the message maximum is
 * not held: the hold queue is bounded in bytes, not only in count. */
static void test_unknown_big(struct gossip *g, const struct gmsgs *graph)
{
	struct peer *x = double_new(0x6a);
	static uint8_t buf[65535];
	size_t len = 0;
	const uint8_t *m = gmsgs_find(graph, GOSSIP_CHANNEL_UPDATE, 0, &len);

	gossip_peer_connected(g, x);
	memset(buf, 0, sizeof(buf));
	memcpy(buf, m, len);
	be64_put(buf + 98, 950000ULL << 40);
	/* (At its normal size it would be held: test_unknown_flood.)  With
	 * 65 KB of trailing extension bytes: refused, nothing held. */
	CHECK(gossip_handle_msg(g, x, buf, sizeof(buf)) ==
	      GOSSIP_REJ_UNKNOWN_CHANNEL);
	gossip_peer_gone(g, x);
	double_free(x);
}

/* Range replies: unasked ones, ones outside the range, huge ones. */
static void test_bad_replies(const char *dir)
{
	struct gossip *g;
	struct peer *x = double_new(0x68), *y = double_new(0x69);
	struct gossip_reply_range r;
	static uint8_t buf[70000];
	size_t len;

	g = mgr_new(dir);
	/* x: we sync with it (first peer, never synced). */
	gossip_peer_connected(g, x);
	gossip_peer_connected(g, y);
	CHECK(double_count(x, GOSSIP_QUERY_CHANNEL_RANGE) == 1);
	CHECK(double_count(y, GOSSIP_QUERY_CHANNEL_RANGE) == 0);

	memset(&r, 0, sizeof(r));
	memcpy(r.chain_hash, chain, 32);
	r.first_blocknum = 0;
	r.number_of_blocks = 1000000;
	r.num_scids = 8000;
	r.scids = calloc(8000, 8);
	for (size_t i = 0; i < 8000; i++)
		r.scids[i] = ((uint64_t)(i + 1) << 40);
	len = gossip_reply_range_write(buf, sizeof(buf), &r);
	/* y never got a query from us. */
	CHECK(gossip_handle_msg(g, y, buf, len) == GOSSIP_REJ_UNEXPECTED);
	CHECK(y->closes == 1);
	/* x: first huge reply is fine, the second goes over the cap. */
	CHECK(gossip_handle_msg(g, x, buf, len) == GOSSIP_OK);
	r.first_blocknum = 1000000;
	for (size_t i = 0; i < 8000; i++)
		r.scids[i] = ((uint64_t)(1000000 + i) << 40);
	len = gossip_reply_range_write(buf, sizeof(buf), &r);
	CHECK(gossip_handle_msg(g, x, buf, len) == GOSSIP_REJ_BAD_REPLY);
	CHECK(x->closes == 1);
	gossip_peer_gone(g, x);
	gossip_peer_gone(g, y);
	double_clear(y);

	/* y now gets our sync; it answers with scids outside its range. */
	CHECK(double_count(y, GOSSIP_QUERY_CHANNEL_RANGE) == 0);
	gossip_peer_connected(g, y);
	CHECK(double_count(y, GOSSIP_QUERY_CHANNEL_RANGE) == 1);
	r.first_blocknum = 10;
	r.number_of_blocks = 5;
	r.num_scids = 1;
	r.scids[0] = 20ULL << 40;
	len = gossip_reply_range_write(buf, sizeof(buf), &r);
	CHECK(gossip_handle_msg(g, y, buf, len) == GOSSIP_REJ_BAD_REPLY);
	/* zlib-encoded query: refused, closed. */
	{
		struct gossip_query_scids q = { .num_scids = 1,
						.scids = r.scids };
		memcpy(q.chain_hash, chain, 32);
		len = gossip_query_scids_write(buf, sizeof(buf), &q);
		buf[36] = 1;
		CHECK(gossip_handle_msg(g, y, buf, len) == GOSSIP_REJ_ZLIB);
		CHECK(gossip_rejects(g, GOSSIP_REJ_ZLIB) == 1);
	}
	/* A stray reply_short_channel_ids_end. */
	{
		struct gossip_reply_scids_end e = { .full_information = 1 };
		memcpy(e.chain_hash, chain, 32);
		len = gossip_reply_scids_end_write(buf, sizeof(buf), &e);
		CHECK(gossip_handle_msg(g, y, buf, len) ==
		      GOSSIP_REJ_UNEXPECTED);
	}
	gossip_reply_range_clear(&r);
	gossip_peer_gone(g, y);
	gossip_free(g);
	double_free(x);
	double_free(y);
}

int main(void)
{
	struct gengraph_params p;
	struct gmsgs graph = { 0 };
	char *dir = tmpdir_new(), *dir2 = tmpdir_new();
	struct gossip *g;

	cn_crypto_init();
	log_set_level(NULL, LOG_UNUSUAL);
	loop = ev_loop_new(0);
	memset(chain, 0x06, 32);
	gengraph_params_small(&p);
	p.nodes = 6;
	p.channels = 10;
	memcpy(p.chain_hash, chain, 32);
	test_now = p.now;
	CHECK(gengraph_run(&p, gmsgs_add, &graph));
	g = mgr_new(dir);
	for (size_t i = 0; i < graph.n; i++)
		CHECK(gossip_handle_msg(g, NULL, graph.m[i], graph.len[i]) ==
		      GOSSIP_OK);
	test_bad_gossip(g, &graph);
	test_unknown_big(g, &graph);
	test_unknown_flood(g, &graph);
	gossip_free(g);
	CHECK(store_intact(dir));
	test_bad_replies(dir2);
	CHECK(store_intact(dir2));
	gmsgs_free(&graph);
	tmpdir_rm(dir);
	tmpdir_rm(dir2);
	ev_loop_destroy(loop);
	return check_exit();
}
