/* Store tests: raw bytes come back identical, counters follow inserts,
 * replacements and deletes, ordered walks, the scid sign trick, and crash
 * safety: a child ingesting is killed with SIGKILL at several points; the
 * store must open cleanly with every reported commit in it. */
#include "../common/check.h"
#include "gossip/store.h"
#include "gtest_util.h"
#include "test_peer_double.h"

#include <ev.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>

static void test_roundtrip(void)
{
	char *dir = tmpdir_new(), path[512];
	struct gossip_store *s;
	struct gossip_store_counts c;
	struct gossip_store_chan sc;
	struct gossip_store_range_ent ents[8];
	struct gossip_store_upd_ent ue[8];
	uint8_t n1[33], n2[33], raw[300], buf[70000], ids[4][33];
	uint32_t ts[4];
	size_t len;
	uint64_t hi = 0xFFFFFF0000000001ULL, lo = 5ULL << 40;
	int64_t v;

	snprintf(path, sizeof(path), "%s/" GOSSIP_STORE_FILE, dir);
	memset(n1, 2, 33);
	memset(n2, 3, 33);
	for (size_t i = 0; i < sizeof(raw); i++)
		raw[i] = (uint8_t)(i * 7);
	s = gossip_store_open(path);
	CHECK(s != NULL);
	CHECK(gossip_store_add_chan(s, hi, n1, n2, true, 100, raw, 250));
	CHECK(gossip_store_add_chan(s, lo, n1, n2, false, 100, raw + 1, 240));
	CHECK(gossip_store_put_upd(s, lo, 1, 500, 0xdeadbeef, 2, raw + 2, 138));
	CHECK(gossip_store_put_upd(s, hi, 0, 400, 7, 1, raw + 3, 140));
	CHECK(gossip_store_put_node(s, n1, 300, raw + 4, 200));
	CHECK(gossip_store_pending(s) == 5);
	CHECK(gossip_store_commit(s));
	CHECK(gossip_store_pending(s) == 0);
	gossip_store_free(s);

	s = gossip_store_open(path);
	CHECK(gossip_store_counts(s, &c));
	CHECK(c.nodes == 1 && c.channels == 2 && c.updates == 2 &&
	      c.unverified == 1);
	CHECK(gossip_store_chan_raw(s, buf, sizeof(buf), &len, hi) == 1);
	CHECK(len == 250 && !memcmp(buf, raw, 250));
	CHECK(gossip_store_upd_raw(s, buf, sizeof(buf), &len, lo, 1) == 1);
	CHECK(len == 138 && !memcmp(buf, raw + 2, 138));
	CHECK(gossip_store_upd_raw(s, buf, sizeof(buf), &len, lo, 0) == 0);
	CHECK(gossip_store_node_raw(s, buf, sizeof(buf), &len, n1) == 1);
	CHECK(len == 200 && !memcmp(buf, raw + 4, 200));
	CHECK(gossip_store_node_has_chan(s, n2) == 1);
	CHECK(gossip_store_node_has_chan(s, raw) == 0);
	CHECK(gossip_store_get_chan(s, &sc, lo) == 1);
	CHECK(!sc.unverified && !sc.has_upd[0] && sc.has_upd[1] &&
	      sc.ts[1] == 500 && sc.csum[1] == 0xdeadbeef &&
	      sc.msg_flags[1] == 2 && !memcmp(sc.node_id_2, n2, 33));
	CHECK(gossip_store_get_chan(s, &sc, 12345) == 0);
	/* Unsigned order kept for scids with the top bit set. */
	CHECK(gossip_store_range(s, ents, 8, 0, UINT64_MAX) == 2);
	CHECK(ents[0].scid == lo && ents[1].scid == hi);
	CHECK(ents[0].ts[1] == 500 && ents[1].ts[0] == 400);
	CHECK(gossip_store_range(s, ents, 8, lo + 1, UINT64_MAX) == 1);
	/* Replacing an update keeps the count, moves the timestamp. */
	CHECK(gossip_store_put_upd(s, lo, 1, 600, 1, 0, raw + 5, 138));
	CHECK(gossip_store_upds_by_ts(s, ue, 8, 0, 1000, 0, 0, -1) == 2);
	CHECK(ue[0].ts == 400 && ue[1].ts == 600 && ue[1].scid == lo);
	CHECK(gossip_store_upds_by_ts(s, ue, 8, 0, 1000, 400, hi, 0) == 1);
	CHECK(gossip_store_upds_by_ts(s, ue, 8, 0, 600, 0, 0, -1) == 1);
	CHECK(gossip_store_nodes_by_ts(s, ids, ts, 4, 0, 1000, 0, NULL) == 1);
	CHECK(gossip_store_nodes_by_ts(s, ids, ts, 4, 301, 1000, 301, NULL) ==
	      0);
	CHECK(gossip_store_meta_set(s, "synced_at", 42));
	CHECK(gossip_store_meta_get(s, &v, "synced_at") && v == 42);
	CHECK(gossip_store_counts(s, &c) && c.updates == 2);
	/* Prune by the older direction (BOLT 7: the latest update "in
	 * either direction"): lo has 550 and 600, hi 400 and 650; a
	 * direction without an update would count from the arrival. */
	CHECK(gossip_store_put_upd(s, lo, 0, 550, 1, 0, raw + 6, 138));
	CHECK(gossip_store_put_upd(s, hi, 1, 650, 1, 0, raw + 7, 138));
	CHECK(gossip_store_prune(s, 400, 10) == 0);
	CHECK(gossip_store_prune(s, 500, 10) == 1);
	CHECK(gossip_store_counts(s, &c));
	CHECK(c.channels == 1 && c.updates == 2 && c.nodes == 1 &&
	      c.unverified == 0);
	CHECK(gossip_store_prune(s, 560, 10) == 1);
	CHECK(gossip_store_counts(s, &c));
	CHECK(c.channels == 0 && c.updates == 0 && c.nodes == 0);
	/* A channel with one side only: that side, or its arrival. */
	CHECK(gossip_store_add_chan(s, lo, n1, n2, false, 100, raw + 1, 240));
	CHECK(gossip_store_put_upd(s, lo, 1, 900, 1, 0, raw + 2, 138));
	CHECK(gossip_store_prune(s, 100, 10) == 0);
	CHECK(gossip_store_prune(s, 700, 10) == 1);
	CHECK(gossip_store_counts(s, &c));
	CHECK(c.channels == 0 && c.updates == 0 && c.nodes == 0);
	gossip_store_free(s);
	tmpdir_rm(dir);
}

static struct gossip *mgr(struct ev_loop *loop, const char *dir,
			  const uint8_t chain[32])
{
	struct gossip_config cfg;

	double_gossip_config(&cfg, dir, chain, test_clock);
	cfg.commit_batch = 1000000; /* only explicit commits */
	cfg.commit_interval = 1000;
	return gossip_new(loop, &cfg, NULL, NULL);
}

/* Child: ingest, commit every 37 messages, report the total committed. */
static void child(int fd, const char *dir, const struct gmsgs *graph,
		  const uint8_t chain[32])
{
	struct ev_loop *loop = ev_loop_new(0);
	struct gossip *g = mgr(loop, dir, chain);
	uint32_t done = 0;

	for (size_t i = 0; i < graph->n; i++) {
		gossip_handle_msg(g, NULL, graph->m[i], graph->len[i]);
		if ((i + 1) % 37 == 0) {
			gossip_commit(g);
			done = (uint32_t)(i + 1);
			if (write(fd, &done, 4) != 4)
				_exit(3);
		}
	}
	gossip_commit(g);
	done = (uint32_t)graph->n;
	if (write(fd, &done, 4) != 4)
		_exit(3);
	for (;;)
		pause();
}

static void test_crash(const struct gmsgs *graph, const uint8_t chain[32])
{
	/* Kill after the k-th report (mid-ingestion) each time, fresh
	 * store, and once more into an existing store. */
	static const int kill_after[] = { 1, 2, 4, 7 };
	char *dir = tmpdir_new();

	for (size_t k = 0; k < CN_ARRAY_SIZE(kill_after); k++) {
		int fds[2], status;
		uint32_t done = 0, got;
		pid_t pid;
		struct ev_loop *loop;
		struct gossip *g;
		uint64_t n, c, u, expect_c = 0, expect_u = 0;

		CHECK(pipe(fds) == 0);
		pid = fork();
		if (pid == 0) {
			close(fds[0]);
			child(fds[1], dir, graph, chain);
		}
		close(fds[1]);
		for (int r = 0; r < kill_after[k]; r++)
			if (read(fds[0], &got, 4) == 4)
				done = got;
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		close(fds[0]);
		CHECK(WIFSIGNALED(status));

		/* Everything reported committed must be there. */
		for (size_t i = 0; i < done; i++) {
			uint16_t t = be16_get(graph->m[i]);
			expect_c += t == GOSSIP_CHANNEL_ANNOUNCEMENT;
			expect_u += t == GOSSIP_CHANNEL_UPDATE;
		}
		loop = ev_loop_new(0);
		g = mgr(loop, dir, chain);
		CHECK(g != NULL);
		if (!g)
			break;
		gossip_counts(g, &n, &c, &u);
		CHECK(c >= expect_c && u >= expect_u);
		gossip_free(g);
		ev_loop_destroy(loop);
		{
			char path[512];
			sqlite3 *db;
			sqlite3_stmt *st;
			snprintf(path, sizeof(path), "%s/gossip.sqlite3", dir);
			CHECK(sqlite3_open(path, &db) == SQLITE_OK);
			CHECK(sqlite3_prepare_v2(db, "PRAGMA integrity_check",
						 -1, &st, NULL) == SQLITE_OK);
			CHECK(sqlite3_step(st) == SQLITE_ROW &&
			      !strcmp((const char *)sqlite3_column_text(st, 0),
				      "ok"));
			sqlite3_finalize(st);
			sqlite3_close(db);
		}
	}
	tmpdir_rm(dir);
}

int main(void)
{
	struct gengraph_params p;
	struct gmsgs graph = { 0 };
	uint8_t chain[32];

	cn_crypto_init();
	log_set_level(NULL, LOG_UNUSUAL);
	test_roundtrip();
	memset(chain, 0x06, 32);
	gengraph_params_small(&p);
	memcpy(p.chain_hash, chain, 32);
	test_now = p.now;
	CHECK(gengraph_run(&p, gmsgs_add, &graph));
	test_crash(&graph, chain);
	gmsgs_free(&graph);
	return check_exit();
}
