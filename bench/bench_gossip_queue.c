/*~ bench_gossip_queue: send-queue memory when many peers ask for a full
 * backfill at once (issue 21, item 4).
 *
 * The full synthetic graph's size (60,000 channels, 120,000 updates,
 * 16,000 nodes; written straight into the store, unsigned: answering does
 * not look at signatures) and P peers (default 1,000), each sending
 * gossip_timestamp_filter(0, max), each reading at R bytes/s (default
 * 300 KB/s: Tor, mobile).  A peer is a counter, not a socket: what the
 * manager sends is added to its queue, which drains at R; the manager
 * sees the queue through gossip_peer_ops.queued, as it sees a real
 * session's through peer_queued.  Runs T seconds (default 20) and prints
 * the peak queue of one peer and of all together against the documented
 * bound (queue_total + queue_high + one message) and against what the
 * old pacing allowed (the peer layer's 4 MiB cap per peer).
 *
 *   bench_gossip_queue [--peers P] [--rate BYTES_PER_S] [--secs T]
 *                      [--channels C]
 */
#include "common/common.h"
#include "gossip/gossip.h"
#include "gossip/store.h"

#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct peer {
	uint8_t id[33];
	void *user;
	double rate, t;
	size_t queue, peak;
	uint64_t sent_msgs, sent_bytes;
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static size_t p_queued(const struct peer *cp)
{
	struct peer *p = (struct peer *)cp;
	double t = now_s(), out = (t - p->t) * p->rate;

	p->queue = out >= (double)p->queue ? 0 : p->queue - (size_t)out;
	p->t = t;
	return p->queue;
}

static bool p_send(struct peer *p, const uint8_t *m, size_t l)
{
	p_queued(p);
	p->queue += l;
	if (p->queue > p->peak)
		p->peak = p->queue;
	p->sent_msgs++;
	p->sent_bytes += l;
	return true;
}
static void p_warn(struct peer *p, const char *w) {}
static void p_set(struct peer *p, void *u) { p->user = u; }
static void *p_get(const struct peer *p) { return p->user; }
static const uint8_t *p_id(const struct peer *p) { return p->id; }
static const struct gossip_peer_ops ops = {
	p_send, p_warn, p_warn, p_set, p_get, p_id, p_queued,
};

static uint32_t clock_now = 1767225600;
static uint32_t fixed_clock(void *arg) { return clock_now; }

static void node_id(uint8_t id[33], unsigned k)
{
	uint64_t x = 0x9e3779b97f4a7c15ULL * (k + 1);

	id[0] = 0x02;
	for (int i = 0; i < 4; i++) {
		uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
		be64_put(id + 1 + 8 * i, z ^ (z >> 31));
	}
}

static bool fill(const char *dir, const uint8_t chain[32], unsigned nodes,
		 unsigned channels)
{
	char path[512];
	struct gossip_store *s;
	uint8_t m[1000];
	bool ok = true;

	snprintf(path, sizeof(path), "%s/%s", dir, GOSSIP_STORE_FILE);
	s = gossip_store_open(path);
	if (!s)
		return false;
	for (unsigned i = 0; i < channels && ok; i++) {
		struct gossip_chan_ann ca;
		struct gossip_chan_upd cu;
		size_t len;

		memset(&ca, 0, sizeof(ca));
		memcpy(ca.chain_hash, chain, 32);
		ca.scid = ((600000ULL + i / 4) << 40) | ((uint64_t)(i % 4) << 16);
		node_id(ca.node_id_1, i % nodes);
		node_id(ca.node_id_2, (i * 7 + 1) % nodes);
		len = gossip_chan_ann_write(m, sizeof(m), &ca);
		ok &= gossip_store_add_chan(s, ca.scid, ca.node_id_1,
					    ca.node_id_2, true, clock_now, m,
					    len);
		for (int d = 0; d < 2; d++) {
			memset(&cu, 0, sizeof(cu));
			memcpy(cu.chain_hash, chain, 32);
			cu.scid = ca.scid;
			cu.timestamp = clock_now - 1 - (i * 13 + d) % 604800;
			cu.message_flags = 1;
			cu.channel_flags = (uint8_t)d;
			len = gossip_chan_upd_write(m, sizeof(m), &cu);
			ok &= gossip_store_put_upd(s, ca.scid, d, cu.timestamp,
						   1, 1, m, len);
		}
		if (i % 5000 == 4999)
			ok &= gossip_store_commit(s);
	}
	for (unsigned k = 0; k < nodes && ok; k++) {
		struct gossip_node_ann na;
		size_t len;
		memset(&na, 0, sizeof(na));
		na.timestamp = clock_now - 1 - k % 604800;
		node_id(na.node_id, k);
		len = gossip_node_ann_write(m, sizeof(m), &na);
		ok &= gossip_store_put_node(s, na.node_id, na.timestamp, m,
					    len);
	}
	ok &= gossip_store_commit(s);
	gossip_store_free(s);
	return ok;
}

int main(int argc, char **argv)
{
	unsigned peers = 1000, channels = 60000, nodes;
	double rate = 300e3, secs = 20, t0;
	char tmpl[] = "/tmp/cn-bench-queue-XXXXXX", *dir, cmd[600];
	uint8_t chain[32], f[100];
	struct gossip_config cfg;
	struct gossip_ts_filter tf;
	struct ev_loop *loop;
	struct gossip *g;
	struct peer *ps;
	size_t peak_total = 0, len, bound;
	uint64_t msgs = 0, bytes = 0;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--peers"))
			peers = (unsigned)atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--rate"))
			rate = atof(argv[i + 1]);
		else if (!strcmp(argv[i], "--secs"))
			secs = atof(argv[i + 1]);
		else if (!strcmp(argv[i], "--channels"))
			channels = (unsigned)atoi(argv[i + 1]);
	}
	nodes = channels * 16 / 60 > 2 ? channels * 16 / 60 : 2;
	cn_crypto_init();
	log_set_level(NULL, LOG_UNUSUAL);
	dir = mkdtemp(tmpl);
	memset(chain, 6, 32);
	if (!dir || !fill(dir, chain, nodes, channels)) {
		fprintf(stderr, "bench_gossip_queue: cannot fill the store\n");
		return 1;
	}
	loop = ev_loop_new(0);
	gossip_config_default(&cfg);
	cfg.datadir = dir;
	memcpy(cfg.chain_hash, chain, 32);
	cfg.peer_ops = &ops;
	cfg.clock = fixed_clock;
	cfg.resync_interval = 0;
	g = gossip_new(loop, &cfg, NULL, NULL);
	ps = calloc(peers, sizeof(*ps));
	memcpy(tf.chain_hash, chain, 32);
	tf.first_timestamp = 0;
	tf.timestamp_range = UINT32_MAX;
	len = gossip_ts_filter_write(f, sizeof(f), &tf);
	for (unsigned i = 0; i < peers; i++) {
		ps[i].id[0] = 2;
		be32_put(ps[i].id + 1, i + 1);
		ps[i].rate = rate;
		ps[i].t = now_s();
		gossip_peer_connected(g, &ps[i]);
		gossip_handle_msg(g, &ps[i], f, len);
	}
	t0 = now_s();
	while (now_s() - t0 < secs) {
		size_t total = 0;
		ev_run(loop, EVRUN_ONCE);
		for (unsigned i = 0; i < peers; i++)
			total += p_queued(&ps[i]);
		if (total > peak_total)
			peak_total = total;
	}
	bound = cfg.queue_total + cfg.queue_high + 65535;
	{
		size_t peak_one = 0;
		for (unsigned i = 0; i < peers; i++) {
			if (ps[i].peak > peak_one)
				peak_one = ps[i].peak;
			msgs += ps[i].sent_msgs;
			bytes += ps[i].sent_bytes;
		}
		printf("graph: %u channels, %u nodes; %u peers reading at %.0f "
		       "B/s each, %.0f s\n", channels, nodes, peers, rate, secs);
		printf("sent: %llu messages, %.1f MB (%.1f MB/s; the peers "
		       "read at most %.1f MB/s)\n",
		       (unsigned long long)msgs, bytes / 1e6,
		       bytes / 1e6 / secs, peers * rate / 1e6);
		printf("peak send queue, one peer: %.1f KiB (bound queue_high "
		       "+ one message: %.1f KiB)\n", peak_one / 1024.0,
		       (cfg.queue_high + 65535) / 1024.0);
		printf("peak send queue, all peers: %.1f MiB (bound "
		       "queue_total + queue_high + one message: %.1f MiB; "
		       "before: up to 4 MiB x %u = %.0f MiB)\n",
		       peak_total / 1048576.0, bound / 1048576.0, peers,
		       4.0 * peers);
		printf("RATIO peak/bound: %.2f (goal <= 1.00)\n",
		       (double)peak_total / (double)bound);
	}
	for (unsigned i = 0; i < peers; i++)
		gossip_peer_gone(g, &ps[i]);
	gossip_free(g);
	free(ps);
	ev_loop_destroy(loop);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		return 1;
	return 0;
}
