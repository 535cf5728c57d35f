/*~ bench_gossip: the gossip benchmarks of issue 4, in one run.
 *
 *  1. Ingest: the full synthetic graph (16,000 nodes, 60,000 channels,
 *     120,000 updates: 376,000 signatures) through gossip_handle_msg into a
 *     fresh SQLite store, against the bound: bare secp256k1_ecdsa_verify
 *     over the same signatures in the same run.  Goal: ratio >= 0.7.
 *  2. Store open (the gossip part of a cold start): gossip_new + counters
 *     with an empty store and with the full graph.  Goal: within 10 ms of
 *     each other, under 50 ms.
 *  3. Resident memory: a fresh process opens the full store, answers a
 *     whole-graph query_channel_range and a whole-graph timestamp-filter
 *     backfill; its peak RSS.  Goal: under 64 MiB.
 *
 *   bench_gossip [--small | --scale N]   (test-size graph, or 1/N)
 */
#include "common/common.h"
#include "gossip/gossip.h"
#include "tools/gengraph.h"

#include <ev.h>
#include <secp256k1.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

struct msgs {
	uint8_t **m;
	size_t *len;
	size_t n, cap;
};

static void add(void *arg, const uint8_t *msg, size_t len)
{
	struct msgs *g = arg;

	if (g->n == g->cap) {
		g->cap = g->cap ? g->cap * 2 : 4096;
		g->m = realloc(g->m, g->cap * sizeof(*g->m));
		g->len = realloc(g->len, g->cap * sizeof(*g->len));
	}
	g->m[g->n] = malloc(len);
	memcpy(g->m[g->n], msg, len);
	g->len[g->n++] = len;
}

/* A peer that counts what it is sent (used for the RSS run). */
struct peer {
	void *user;
	uint8_t id[33];
	size_t msgs, bytes;
};
static bool p_send(struct peer *p, const uint8_t *m, size_t l)
{
	p->msgs++;
	p->bytes += l;
	return true;
}
static void p_warn(struct peer *p, const char *w) {}
static void p_set(struct peer *p, void *u) { p->user = u; }
static void *p_get(const struct peer *p) { return p->user; }
static const uint8_t *p_id(const struct peer *p) { return p->id; }
static const struct gossip_peer_ops ops = {
	p_send, p_warn, p_warn, p_set, p_get, p_id, NULL,
};

static uint32_t clock_now;
static uint32_t fixed_clock(void *arg) { return clock_now; }

static struct gossip *open_store(struct ev_loop *loop, const char *dir,
				 const uint8_t chain[32])
{
	struct gossip_config cfg;

	gossip_config_default(&cfg);
	cfg.datadir = dir;
	memcpy(cfg.chain_hash, chain, 32);
	cfg.peer_ops = &ops;
	cfg.clock = fixed_clock;
	cfg.pace_interval = 0.0001;
	cfg.pace_budget = 1 << 20;
	return gossip_new(loop, &cfg, NULL, NULL);
}

/* The bound: verify every signature of the graph with libsecp256k1, keys
 * and signatures parsed beforehand (only the verify calls are timed). */
static double verify_time(const struct msgs *g, size_t from, size_t to,
			  uint64_t *nsigs)
{
	const secp256k1_context *ctx = cn_secp();
	double t = 0;
	uint64_t n = 0;

	for (size_t i = from; i < to; i++) {
		const uint8_t *m = g->m[i];
		secp256k1_pubkey pk[4];
		secp256k1_ecdsa_signature sig[4];
		uint8_t h[32];
		int k = 0;
		double t0;

		gossip_sighash(h, m, g->len[i]);
		switch (be16_get(m)) {
		case GOSSIP_CHANNEL_ANNOUNCEMENT: {
			struct gossip_chan_ann ca;
			gossip_chan_ann_parse(&ca, m, g->len[i]);
			const uint8_t *s[4] = { ca.node_sig_1, ca.node_sig_2,
						ca.btc_sig_1, ca.btc_sig_2 };
			const uint8_t *p[4] = { ca.node_id_1, ca.node_id_2,
						ca.btc_key_1, ca.btc_key_2 };
			for (; k < 4; k++) {
				if (!secp256k1_ec_pubkey_parse(ctx, &pk[k],
							       p[k], 33) ||
				    !secp256k1_ecdsa_signature_parse_compact(
					    ctx, &sig[k], s[k]))
					abort();
			}
			break;
		}
		case GOSSIP_NODE_ANNOUNCEMENT: {
			struct gossip_node_ann na;
			gossip_node_ann_parse(&na, m, g->len[i]);
			if (!secp256k1_ec_pubkey_parse(ctx, &pk[0],
						       na.node_id, 33) ||
			    !secp256k1_ecdsa_signature_parse_compact(
				    ctx, &sig[0], na.sig))
				abort();
			k = 1;
			break;
		}
		case GOSSIP_CHANNEL_UPDATE: {
			/* The key is the channel's node: take node 1 of the
			 * announcement before it (the generator's order). */
			const uint8_t *ann = g->m[i - 1 - (m[111] & 1)];
			if (!secp256k1_ec_pubkey_parse(
				    ctx, &pk[0],
				    ann + 2 + 256 + 2 + be16_get(ann + 258) +
					    40 + 33 * (m[111] & 1),
				    33) ||
			    !secp256k1_ecdsa_signature_parse_compact(
				    ctx, &sig[0], m + 2))
				abort();
			k = 1;
			break;
		}
		}
		t0 = cn_now();
		for (int j = 0; j < k; j++)
			if (!secp256k1_ecdsa_verify(ctx, &sig[j], h, &pk[j]))
				abort();
		t += cn_now() - t0;
		n += (uint64_t)k;
	}
	*nsigs += n;
	return t;
}

static double median(double *v, int n)
{
	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++)
			if (v[j] < v[i]) {
				double t = v[i];
				v[i] = v[j];
				v[j] = t;
			}
	return v[n / 2];
}

static double open_ms(const char *dir, const uint8_t chain[32],
		      uint64_t *channels)
{
	double v[9];

	for (int i = 0; i < 9; i++) {
		struct ev_loop *loop = ev_loop_new(0);
		double t0 = cn_now();
		struct gossip *g = open_store(loop, dir, chain);
		gossip_counts(g, NULL, channels, NULL);
		v[i] = (cn_now() - t0) * 1000;
		gossip_free(g);
		ev_loop_destroy(loop);
	}
	return median(v, 9);
}

static long peak_rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kib = -1;

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmHWM:", 6))
			kib = strtol(line + 6, NULL, 10);
	if (f)
		fclose(f);
	return kib;
}

/* Child mode: open the store, serve the whole graph twice, print RSS. */
static int rss_child(const char *dir, const char *chainhex, const char *now)
{
	struct ev_loop *loop = ev_default_loop(0);
	struct peer p = { 0 };
	uint8_t chain[32], msg[64];
	struct gossip *g;
	struct gossip_query_range q = { 0 };
	struct gossip_ts_filter f = { 0 };
	size_t len;

	cn_crypto_init();
	log_set_level(NULL, LOG_UNUSUAL);
	if (!hex_decode(chain, 32, chainhex))
		return 1;
	clock_now = (uint32_t)strtoul(now, NULL, 10);
	g = open_store(loop, dir, chain);
	memset(p.id, 3, 33);
	gossip_peer_connected(g, &p);
	memcpy(q.chain_hash, chain, 32);
	q.number_of_blocks = UINT32_MAX;
	q.has_query_option = true;
	q.query_option = 3;
	len = gossip_query_range_write(msg, sizeof(msg), &q);
	gossip_handle_msg(g, &p, msg, len);
	memcpy(f.chain_hash, chain, 32);
	f.timestamp_range = UINT32_MAX;
	len = gossip_ts_filter_write(msg, sizeof(msg), &f);
	gossip_handle_msg(g, &p, msg, len);
	/* Until everything is served: both jobs finish in the pace timer. */
	for (int i = 0; i < 200000; i++) {
		size_t before = p.msgs;
		ev_run(loop, EVRUN_ONCE);
		if (p.msgs == before && i > 2)
			break;
	}
	printf("%zu %zu %ld\n", p.msgs, p.bytes, peak_rss_kib());
	gossip_peer_gone(g, &p);
	gossip_free(g);
	return 0;
}

int main(int argc, char **argv)
{
	struct gengraph_params gp;
	struct msgs g = { 0 };
	char dir[] = "/tmp/bench-gossip-XXXXXX", empty[] = "/tmp/bench-gossip-e-XXXXXX";
	struct ev_loop *loop;
	struct gossip *gs;
	uint64_t nsigs, ok = 0, n, c, u;
	double t0, t_gen, vrate, t_verify, t_ingest, irate, o_empty, o_full;

	if (argc == 5 && !strcmp(argv[1], "--rss-child"))
		return rss_child(argv[2], argv[3], argv[4]);
	cn_crypto_init();
	log_set_level(NULL, LOG_UNUSUAL);
	gengraph_params_full(&gp);
	if (argc > 1 && !strcmp(argv[1], "--small"))
		gengraph_params_small(&gp);
	/* --scale N: 1/N of the full graph, for quick profiling. */
	if (argc > 2 && !strcmp(argv[1], "--scale")) {
		unsigned k = (unsigned)atoi(argv[2]);
		if (k > 1)
			gp.nodes /= k, gp.channels /= k;
	}
	clock_now = gp.now;
	if (!mkdtemp(dir) || !mkdtemp(empty))
		return 1;

	t0 = cn_now();
	gengraph_run(&gp, add, &g);
	t_gen = cn_now() - t0;
	printf("graph: %u nodes, %u channels, %u updates, %zu messages "
	       "(generated and signed in %.1f s)\n",
	       gp.nodes, gp.channels, 2 * gp.channels, g.n, t_gen);

	/* Bound and ingest interleaved chunk by chunk, so both see the same
	 * machine load (other processes, frequency scaling). */
	loop = ev_loop_new(0);
	gs = open_store(loop, dir, gp.chain_hash);
	nsigs = 0;
	t_verify = t_ingest = 0;
	for (size_t from = 0; from < g.n; from += 2000) {
		size_t to = from + 2000 < g.n ? from + 2000 : g.n;
		t_verify += verify_time(&g, from, to, &nsigs);
		t0 = cn_now();
		for (size_t i = from; i < to; i++)
			ok += gossip_handle_msg(gs, NULL, g.m[i], g.len[i]) ==
			      GOSSIP_OK;
		t_ingest += cn_now() - t0;
	}
	t0 = cn_now();
	gossip_commit(gs);
	t_ingest += cn_now() - t0;
	vrate = (double)nsigs / t_verify;
	printf("bound: libsecp256k1 ecdsa_verify: %llu signatures in %.2f s, "
	       "%.0f verifies/s\n", (unsigned long long)nsigs, t_verify,
	       vrate);
	gossip_counts(gs, &n, &c, &u);
	gossip_free(gs);
	ev_loop_destroy(loop);
	irate = (double)nsigs / t_ingest;
	printf("ingest: %llu/%zu accepted in %.2f s: %.0f messages/s, %.0f "
	       "signatures/s\n", (unsigned long long)ok, g.n, t_ingest,
	       g.n / t_ingest, irate);
	printf("ingest: store has %llu nodes, %llu channels, %llu updates\n",
	       (unsigned long long)n, (unsigned long long)c,
	       (unsigned long long)u);
	printf("RATIO ingest/verify-bound: %.2f (goal >= 0.70)\n",
	       irate / vrate);

	o_empty = open_ms(empty, gp.chain_hash, &c);
	o_full = open_ms(dir, gp.chain_hash, &c);
	printf("store open + counters (median of 9): empty %.2f ms, full "
	       "graph (%llu channels) %.2f ms, difference %.2f ms (goal < 10 "
	       "ms apart, < 50 ms)\n",
	       o_empty, (unsigned long long)c, o_full, o_full - o_empty);

	for (size_t i = 0; i < g.n; i++)
		free(g.m[i]);
	free(g.m);
	free(g.len);
	{
		char hex[65], nows[16], out[128] = "";
		char *args[] = { argv[0], "--rss-child", dir, hex, nows, NULL };
		int fds[2], st;
		pid_t pid;
		posix_spawn_file_actions_t fa;
		ssize_t r;

		hex_encode(hex, gp.chain_hash, 32);
		snprintf(nows, sizeof(nows), "%u", gp.now);
		if (pipe(fds))
			return 1;
		posix_spawn_file_actions_init(&fa);
		posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
		posix_spawn_file_actions_addclose(&fa, fds[0]);
		if (posix_spawn(&pid, "/proc/self/exe", &fa, NULL, args,
				environ) == 0) {
			size_t msgs, bytes;
			long kib;
			close(fds[1]);
			r = read(fds[0], out, sizeof(out) - 1);
			out[r > 0 ? r : 0] = 0;
			waitpid(pid, &st, 0);
			if (sscanf(out, "%zu %zu %ld", &msgs, &bytes, &kib) == 3)
				printf("memory: serving the whole graph twice "
				       "(%zu messages, %.1f MiB) from the store:"
				       " peak RSS %.1f MiB (goal < 64 MiB)\n",
				       msgs, bytes / 1048576.0, kib / 1024.0);
		}
		posix_spawn_file_actions_destroy(&fa);
	}
	{
		char cmd[128];
		snprintf(cmd, sizeof(cmd), "rm -rf %s %s", dir, empty);
		if (system(cmd) != 0)
			return 1;
	}
	return 0;
}
