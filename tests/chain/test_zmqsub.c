/* chain/zmqsub: bitcoind's ZMQ frames decoded by table (every frame
 * count, every topic and sequence length, bodies of every small length),
 * the per-topic sequence (in order, gaps, wrap, restart at 0), and the
 * libev adapter against a real libzmq PUB socket on 127.0.0.1: a burst
 * of messages queued before the loop runs is drained in full (ZMQ_FD is
 * edge-triggered), a gap is reported, a malformed message dropped, and a
 * publisher restarted on the same endpoint is reconnected to by itself
 * and shows as one restart, then messages in order. */
#include "chain/zmqsub.h"
#include "check.h"

#include <ev.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

static void decode_table(void)
{
	static const uint8_t seq[8] = { 0x78, 0x56, 0x34, 0x12, 0, 0, 0, 0 };
	static const uint8_t body[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };
	static const struct {
		const char *topic;
		enum chain_zmq_kind want;
	} topics[] = {
		{ "rawtx", CHAIN_ZMQ_RAWTX },
		{ "rawblock", CHAIN_ZMQ_RAWBLOCK },
		{ "hashtx", CHAIN_ZMQ_BAD },   /* bitcoind's, not subscribed */
		{ "hashblock", CHAIN_ZMQ_BAD },
		{ "sequence", CHAIN_ZMQ_BAD },
		{ "rawtxx", CHAIN_ZMQ_BAD },
		{ "rawt", CHAIN_ZMQ_BAD },
		{ "RAWTX", CHAIN_ZMQ_BAD },
		{ "", CHAIN_ZMQ_BAD },
	};
	for (size_t t = 0; t < sizeof(topics) / sizeof(topics[0]); t++)
		for (size_t nf = 0; nf <= 6; nf++)
			for (size_t sl = 0; sl <= 8; sl++)
				for (size_t bl = 0; bl <= 16; bl++) {
		const uint8_t *f[6] = { (const uint8_t *)topics[t].topic, body,
					seq, body, body, body };
		size_t len[6] = { strlen(topics[t].topic), bl, sl, 1, 1, 1 };
		const uint8_t *b = NULL;
		size_t blen = 0;
		uint32_t s = 0;
		enum chain_zmq_kind k = chain_zmq_decode(nf, f, len, &b,
							 &blen, &s);
		enum chain_zmq_kind want = nf == 3 && sl == 4 && bl > 0
					   ? topics[t].want : CHAIN_ZMQ_BAD;
		CHECK(k == want);
		if (k != CHAIN_ZMQ_BAD)
			CHECK(b == body && blen == bl && s == 0x12345678);
	}
}

static void seq_table(void)
{
	static const struct {
		uint32_t seq;
		uint32_t gap;
		bool restarted; /* chain_zmq_seq_restarted(gap) */
	} steps[] = {
		{ 7, 0, false },   /* the first seen: nothing to compare */
		{ 8, 0, false },
		{ 9, 0, false },
		{ 12, 2, false },  /* 10, 11 missed */
		{ 13, 0, false },
		{ 13, 0xffffffff, true }, /* a repeat: a new publisher */
		{ 14, 0, false },
		{ 0x80000000u + 14, 0x7fffffff, false }, /* largest forward */
		{ 15, 0x80000000u, true }, /* smallest backward */
		{ 16, 0, false },
		{ 0xfffffffe, 0xfffffffe - 17, true }, /* 18 back, modulo
							* 2^32: a new one */
		{ 0xffffffff, 0, false },
		{ 0, 0, false },   /* wraps at 2^32 */
		{ 1, 0, false },
		{ 5, 3, false },   /* 2, 3, 4 missed */
		{ 0, 0xfffffffa, true }, /* bitcoind restarted: one gap, */
		{ 1, 0, false },   /* then in order again */
		{ 2, 0, false },
		{ 3, 0, false },
		{ 1000, 996, false },
		{ 2, 0xfffffc19, true }, /* restarted, 0 and 1 before we
					  * reconnected (slow joiner) */
		{ 3, 0, false },
	};
	struct chain_zmq_seq s = { 0 };
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		uint32_t g = chain_zmq_seq_check(&s, steps[i].seq);
		if (g != steps[i].gap)
			fprintf(stderr, "step %zu: gap %u want %u\n", i, g,
				steps[i].gap);
		CHECK(g == steps[i].gap);
		CHECK(chain_zmq_seq_restarted(g) == steps[i].restarted);
	}
}

/* ---- the adapter against libzmq ---- */

struct got {
	size_t tx, bad, gaps, missed, restarts;
	uint32_t last_first_byte;
	struct ev_loop *loop;
	size_t want;
};

static void on_msg(void *ctx, enum chain_zmq_kind k, const uint8_t *body,
		   size_t len, uint32_t gap)
{
	struct got *g = ctx;
	if (k == CHAIN_ZMQ_BAD) {
		CHECK(body == NULL);
		g->bad++;
	} else {
		CHECK(k == CHAIN_ZMQ_RAWTX && len == 100);
		g->tx++;
		g->last_first_byte = body[0];
	}
	if (gap && chain_zmq_seq_restarted(gap)) {
		g->restarts++;
	} else if (gap) {
		g->gaps++;
		g->missed += gap;
	}
	if (g->tx + g->bad >= g->want)
		ev_break(g->loop, EVBREAK_ALL);
}

static void on_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(loop, EVBREAK_ALL);
}

static void pub(void *sock, const char *topic, size_t blen, uint8_t first,
		uint32_t seq, bool short_seq)
{
	uint8_t body[100] = { first }, s[4] = { (uint8_t)seq,
		(uint8_t)(seq >> 8), (uint8_t)(seq >> 16), (uint8_t)(seq >> 24) };
	CHECK(zmq_send(sock, topic, strlen(topic), ZMQ_SNDMORE) >= 0);
	CHECK(zmq_send(sock, body, blen, ZMQ_SNDMORE) >= 0);
	CHECK(zmq_send(sock, s, short_seq ? 3 : 4, 0) >= 0);
}

static void run(struct ev_loop *loop, struct got *g, size_t want)
{
	g->tx = g->bad = 0;
	ev_timer t;
	g->want = want;
	ev_timer_init(&t, on_timeout, 10., 0.);
	ev_timer_start(loop, &t);
	ev_run(loop, 0);
	ev_timer_stop(loop, &t);
}

/* A PUB drops messages until the subscription has arrived ("slow
 * joiner"): publish probes until one is received, then let those still
 * in flight arrive. */
static void probe(struct ev_loop *loop, void *ps, struct got *g,
		  uint32_t *seq)
{
	for (int i = 0; i < 200 && !g->tx; i++) {
		pub(ps, "rawtx", 100, 0, (*seq)++, false);
		ev_run(loop, EVRUN_NOWAIT);
		if (!g->tx)
			zmq_poll(NULL, 0, 20);
	}
	CHECK(g->tx >= 1);
	for (int i = 0; i < 10; i++) {
		zmq_poll(NULL, 0, 20);
		ev_run(loop, EVRUN_NOWAIT);
	}
}

static void adapter(void)
{
	struct ev_loop *loop = ev_loop_new(0);
	void *zctx = zmq_ctx_new();
	void *pctx = zmq_ctx_new(); /* the publisher's: bitcoind's process */
	void *ps = zmq_socket(pctx, ZMQ_PUB);
	char ep[128], err[200];
	size_t el = sizeof(ep);
	int hwm = 100000;
	struct got g = { .loop = loop };

	zmq_setsockopt(ps, ZMQ_SNDHWM, &hwm, sizeof(hwm));
	CHECK(zmq_bind(ps, "tcp://127.0.0.1:*") == 0);
	CHECK(zmq_getsockopt(ps, ZMQ_LAST_ENDPOINT, ep, &el) == 0);
	CHECK(chain_zmq_new(loop, zctx, "ipc:///x", "rawtx", on_msg, &g, err,
			    sizeof(err)) == NULL);
	CHECK(chain_zmq_new(loop, zctx, "tcp://", "rawtx", on_msg, &g, err,
			    sizeof(err)) == NULL);
	struct chain_zmq *z = chain_zmq_new(loop, zctx, ep, "rawtx", on_msg,
					    &g, err, sizeof(err));
	CHECK(z != NULL);
	uint32_t seq = 0;
	probe(loop, ps, &g, &seq);
	g.tx = g.gaps = g.missed = g.restarts = 0;
	/* A burst queued while the loop does not run: every message is
	 * read, though ZMQ_FD signals the edge once. */
	uint32_t base = seq;
	for (int i = 0; i < 5000; i++)
		pub(ps, "rawtx", 100, (uint8_t)i, seq++, false);
	run(loop, &g, 5000);
	CHECK(g.tx == 5000);
	CHECK(g.gaps == 0 && g.bad == 0);
	CHECK(g.last_first_byte == (uint8_t)(4999));
	(void)base;
	/* Three messages missed (a full queue at bitcoind): one gap of 3;
	 * a hashtx topic is not subscribed (not delivered at all); a short
	 * sequence frame and a bad frame count are malformed. */
	seq += 3;
	pub(ps, "rawtx", 100, 1, seq++, false);
	pub(ps, "hashtx", 32, 1, 0, false);
	pub(ps, "rawtx", 100, 2, seq++, true);
	CHECK(zmq_send(ps, "rawtx", 5, 0) == 5); /* one frame */
	pub(ps, "rawtx", 100, 3, seq++, false);
	run(loop, &g, 4);
	CHECK(g.tx == 2 && g.bad == 2);
	CHECK(g.gaps == 2 && g.missed == 4); /* 3, then the one malformed */
	CHECK(g.restarts == 0);

	/* bitcoind restarted: its process gone (context ended, connections
	 * closed), a new one on the same endpoint counting from 0.  libzmq
	 * reconnects by itself; the first message received shows the
	 * sequence went back, once; the next ones are in order. */
	int linger = 0;
	zmq_setsockopt(ps, ZMQ_LINGER, &linger, sizeof(linger));
	zmq_close(ps);
	zmq_ctx_term(pctx);
	pctx = zmq_ctx_new();
	ps = zmq_socket(pctx, ZMQ_PUB);
	zmq_setsockopt(ps, ZMQ_SNDHWM, &hwm, sizeof(hwm));
	CHECK(zmq_bind(ps, ep) == 0);
	g.tx = g.bad = g.gaps = g.missed = g.restarts = 0;
	seq = 0;
	probe(loop, ps, &g, &seq);
	CHECK(g.restarts == 1 && g.gaps == 0 && g.bad == 0);
	g.tx = 0;
	for (int i = 0; i < 100; i++)
		pub(ps, "rawtx", 100, (uint8_t)i, seq++, false);
	run(loop, &g, 100);
	CHECK(g.tx == 100 && g.last_first_byte == 99);
	CHECK(g.restarts == 1 && g.gaps == 0 && g.bad == 0);

	chain_zmq_free(z);
	chain_zmq_free(NULL);
	zmq_close(ps);
	zmq_ctx_term(pctx);
	zmq_ctx_term(zctx);
	ev_loop_destroy(loop);
}

int main(void)
{
	decode_table();
	seq_table();
	adapter();
	return check_exit();
}
