/* Chain module benchmarks (docs/benchmarks.md, "chain").
 *
 *   bench_chain parse [MB]
 *       raw block parse + outpoint matching against a 60,000-outpoint
 *       watch set, per MB, vs SHA256d of the same bytes (the hashing the
 *       parse cannot avoid: every txid is a SHA256d); and the memory the
 *       watch set takes (VmRSS before/after loading it).
 *   bench_chain keys N
 *       N funding scripts for bench_chain_checks.py: "key1 key2 p2wsh" hex
 *       lines, keys derived from small secrets (deterministic).
 *   bench_chain check HOST:PORT PASS HEIGHT TXINDEX N TXID
 *       N channel checks (chain_check_funding) of the outputs 0..N-1 of
 *       the transaction at HEIGHT/TXINDEX, against a running node, vs the
 *       raw gettxout rate of the same node for the same outputs with the
 *       same concurrency (batches of 32, 2 in flight).
 *   bench_chain mempool HOST:PORT PASS N
 *       one mempool poll of a node holding N new transactions
 *       (chain_events.mempool_txs: getrawmempool, then getrawtransaction
 *       in batches of 100): requests, response bytes, wall and CPU time,
 *       vs the node's own cost of the same calls made by a bare client
 *       (same batches, one in flight); best of 3, interleaved.
 *   bench_chain mempool-synth N
 *       a mainnet-sized mempool (N txids, e.g. 300,000) without a node:
 *       the CPU of one poll that brings nothing new (the 20 MB
 *       getrawmempool answer parsed, the txid table rebuilt) and the
 *       memory of N followed transactions (VmRSS).
 */
#include "chain/block.h"
#include "chain/chain_internal.h"
#include "chain/http.h"
#include "chain/rpcjson.h"
#include "chain/store.h"
#include "common/common.h"

#include <ev.h>
#include <secp256k1.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static long rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = -1;

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmRSS:", 6))
			v = atol(line + 6);
	if (f)
		fclose(f);
	return v;
}

/* ---- synthetic block ---- */

static size_t put_varint(uint8_t *p, uint64_t v)
{
	if (v < 0xfd) {
		p[0] = (uint8_t)v;
		return 1;
	}
	p[0] = 0xfd;
	p[1] = v & 0xff;
	p[2] = (v >> 8) & 0xff;
	return 3;
}

/* ~mb MB of 2-in 2-out transactions spending random outpoints. */
static uint8_t *make_block(double mb, size_t *len_out)
{
	size_t ntx = (size_t)(mb * 1e6 / 178); /* 2-in 2-out: 178 B */
	size_t cap = 100 + ntx * 240;
	uint8_t *b = malloc(cap), *p;

	if (!b)
		abort();
	memset(b, 0, 80);
	le32_put(b, 0x20000000);
	p = b + 80;
	p += put_varint(p, ntx);
	for (size_t t = 0; t < ntx; t++) {
		le32_put(p, 2);
		p += 4;
		*p++ = 2;
		for (int i = 0; i < 2; i++) {
			randombytes_buf(p, 32);
			le32_put(p + 32, (uint32_t)i);
			p += 36;
			*p++ = 0;
			le32_put(p, 0xffffffff);
			p += 4;
		}
		*p++ = 2;
		for (int o = 0; o < 2; o++) {
			memset(p, 0, 8);
			p[0] = 0x10;
			p += 8;
			*p++ = 34;
			p[0] = 0;
			p[1] = 0x20;
			randombytes_buf(p + 2, 32);
			p += 34;
		}
		le32_put(p, 0);
		p += 4;
	}
	*len_out = (size_t)(p - b);
	return b;
}

static struct chain *make_chain(struct ev_loop *loop, const char *db,
				const char *host, const char *pass)
{
	struct chain_config cc;
	char err[256];
	struct chain *c;

	chain_config_defaults(&cc);
	cc.network = "regtest";
	cc.rpchost = host;
	cc.rpcuser = "bench";
	cc.rpcpass = pass;
	cc.db_path = db;
	cc.poll_interval = 0.2;
	c = chain_new(loop, &cc, NULL, err, sizeof(err));
	if (!c) {
		fprintf(stderr, "chain_new: %s\n", err);
		exit(1);
	}
	return c;
}

static int cmd_parse(double mb)
{
	char dir[] = "/tmp/bench-chain-XXXXXX", db[300];
	struct ev_loop *loop = ev_default_loop(0);
	size_t len;
	uint8_t *raw = make_block(mb, &len);
	char err[128];
	struct chain_store *s;

	if (!mkdtemp(dir))
		return 1;
	snprintf(db, sizeof(db), "%s/chain.sqlite3", dir);
	s = chain_store_open(db, err, sizeof(err));
	if (!s)
		return 1;
	/* 60,000 outpoints, as many as mainnet's public channels. */
	for (uint32_t i = 0; i < 60000; i++) {
		uint8_t txid[32];
		randombytes_buf(txid, 32);
		chain_store_watch_put(s, ((uint64_t)(700000 + i / 1000) << 40) |
					 ((uint64_t)(i % 1000) << 16),
				      txid, i % 2, 100000, 0);
	}
	chain_store_close(s);
	long before = rss_kib();
	double tl = cn_now();
	struct chain *c = make_chain(loop, db, "127.0.0.1:1", "x");
	double tn = cn_now() - tl;
	double worst = 0;
	chain_watch_load(c); /* the daemon starts it on the first answer */
	/* The watch set loads a page per loop iteration: the longest
	 * iteration is how long an RPC call can wait behind it. */
	while (!chain_watch_ready(c)) {
		double t = cn_now();
		ev_run(loop, EVRUN_NOWAIT);
		if (cn_now() - t > worst)
			worst = cn_now() - t;
	}
	tl = cn_now() - tl;
	long after = rss_kib();
	printf("chain_new %.2f ms; watch set loaded in %.1f ms, longest loop "
	       "iteration %.2f ms\n", tn * 1000, tl * 1000, worst * 1000);
	printf("watch set: %zu outpoints, VmRSS +%ld KiB (%.1f B each)\n",
	       chain_watch_count(c), after - before,
	       (after - before) * 1024.0 / (double)chain_watch_count(c));

	/* Interleave the two so machine load hits both alike; best of N. */
	double best_parse = 1e9, best_hash = 1e9;
	uint8_t h[32];
	for (int r = 0; r < 15; r++) {
		double t0 = cn_now();
		struct chain_block *b = chain_block_parse(raw, len, err,
							  sizeof(err));
		if (!b) {
			fprintf(stderr, "parse: %s\n", err);
			return 1;
		}
		chain_watch_block(c, 1, b);
		chain_block_free(b);
		double t1 = cn_now();
		/* The floor: SHA256d over the same bytes. */
		chain_sha256d(h, raw, len);
		double t2 = cn_now();
		if (t1 - t0 < best_parse)
			best_parse = t1 - t0;
		if (t2 - t1 < best_hash)
			best_hash = t2 - t1;
	}
	double mbs = len / 1e6;
	printf("block %.2f MB: parse+match %.1f MB/s, SHA256d %.1f MB/s, "
	       "ratio %.2f\n", mbs, mbs / best_parse, mbs / best_hash,
	       best_hash / best_parse);
	chain_free(c);
	free(raw);
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) != 0;
}

static void make_keys(uint32_t i, uint8_t k1[33], uint8_t k2[33])
{
	uint8_t sec[32] = { 0 };
	secp256k1_pubkey pk;
	size_t n = 33;

	for (int j = 0; j < 2; j++) {
		memset(sec, 0, 32);
		be32_put(sec + 28, 2 * i + (uint32_t)j + 1);
		if (!secp256k1_ec_pubkey_create(cn_secp(), &pk, sec))
			abort();
		n = 33;
		secp256k1_ec_pubkey_serialize(cn_secp(), j ? k2 : k1, &n, &pk,
					      SECP256K1_EC_COMPRESSED);
	}
}

static int cmd_keys(uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		uint8_t k1[33], k2[33], spk[34];
		char a[67], b[67], c[69];
		make_keys(i, k1, k2);
		chain_funding_script(spk, k1, k2);
		printf("%s %s %s\n", hex_encode(a, k1, 33),
		       hex_encode(b, k2, 33), hex_encode(c, spk, 34));
	}
	return 0;
}

/* ---- check vs raw gettxout ---- */

static size_t answered, ok_count;
static struct ev_loop *bloop;

static void check_cb(void *ctx, uint64_t scid, enum chain_check r,
		     uint64_t cap)
{
	answered++;
	ok_count += r == CHAIN_CHECK_OK;
	if (answered == *(size_t *)ctx)
		ev_break(bloop, EVBREAK_ALL);
}

struct raw_run {
	struct chain_http *http;
	char txid[65];
	size_t n, next, done, inflight;
	double t0;
};

static void raw_pump(struct raw_run *rr);

static void raw_done(void *ctx, enum chain_http_result r, long status,
		     const char *body, size_t len, const char *errtext)
{
	struct raw_run *rr = ctx;
	struct chain_reply rep[32];
	char err[160];
	size_t n = 0;

	/* Count the calls of this batch from the reply itself. */
	json_t *root = r == CHAIN_HTTP_OK ? json_loadb(body, len, 0, NULL)
					  : NULL;
	if (root && json_is_array(root))
		n = json_array_size(root);
	if (root) {
		json_decref(root);
		root = chain_json_replies(body, len, false, rep, n, err,
					  sizeof(err));
		if (root) {
			for (size_t i = 0; i < n; i++) {
				struct chain_txout_info ti;
				if (!chain_json_txout(rep[i].result, &ti, err,
						      sizeof(err)) || !ti.found)
					fprintf(stderr, "gettxout failed\n");
			}
			json_decref(root);
		}
	}
	if (!n) {
		fprintf(stderr, "raw batch failed: %s\n", errtext);
		exit(1);
	}
	rr->done += n;
	rr->inflight--;
	if (rr->done == rr->n)
		ev_break(bloop, EVBREAK_ALL);
	else
		raw_pump(rr);
}

static void raw_pump(struct raw_run *rr)
{
	while (rr->inflight < 2 && rr->next < rr->n) {
		json_t *arr = json_array();
		for (size_t i = 0; i < 32 && rr->next < rr->n; i++)
			json_array_append_new(arr, json_pack(
				"{s:s, s:[s, I], s:I, s:s}", "jsonrpc", "1.0",
				"params", rr->txid, (json_int_t)rr->next++,
				"id", (json_int_t)i, "method", "gettxout"));
		char *body = json_dumps(arr, JSON_COMPACT);
		json_decref(arr);
		rr->inflight++;
		chain_http_post(rr->http, body, strlen(body), raw_done, rr);
		free(body);
	}
}

static void wait_synced(struct chain *c)
{
	struct chain_info ci;

	for (int i = 0; i < 3000; i++) {
		ev_run(bloop, EVRUN_ONCE);
		chain_get_info(c, &ci);
		if (ci.status == CHAIN_SYNCED)
			return;
	}
	fprintf(stderr, "chain not synced: %s\n", ci.last_error);
	exit(1);
}

static int cmd_check(const char *host, const char *pass, uint32_t height,
		     uint32_t txi, size_t n, const char *txid)
{
	char dir[] = "/tmp/bench-chain-XXXXXX", db[300], url[300];
	uint8_t (*keys)[2][33] = calloc(n, sizeof(*keys));
	double best_chk = 1e9, best_raw = 1e9;

	bloop = ev_default_loop(0);
	if (!mkdtemp(dir) || !keys)
		return 1;
	for (size_t i = 0; i < n; i++)
		make_keys((uint32_t)i, keys[i][0], keys[i][1]);
	snprintf(url, sizeof(url), "http://%s/", host);
	for (int r = 0; r < 5; r++) {
		/* A fresh chain (empty block cache) each round. */
		snprintf(db, sizeof(db), "%s/chain%d.sqlite3", dir, r);
		struct chain *c = make_chain(bloop, db, host, pass);
		chain_start(c);
		wait_synced(c);
		answered = ok_count = 0;
		double t0 = cn_now();
		for (size_t i = 0; i < n; i++)
			chain_check_funding(c, ((uint64_t)height << 40) |
					       ((uint64_t)txi << 16) | i,
					    keys[i][0], keys[i][1], check_cb, &n);
		ev_run(bloop, 0);
		double t1 = cn_now();
		if (ok_count != n) {
			fprintf(stderr, "only %zu of %zu checks ok\n", ok_count,
				n);
			return 1;
		}
		chain_free(c);

		struct raw_run rr = { .n = n };
		char up[300];
		snprintf(rr.txid, sizeof(rr.txid), "%s", txid);
		rr.http = chain_http_new(bloop, url, 30, 16u << 20);
		snprintf(up, sizeof(up), "bench:%s", pass);
		chain_http_set_auth(rr.http, up);
		double t2 = cn_now();
		raw_pump(&rr);
		ev_run(bloop, 0);
		double t3 = cn_now();
		chain_http_free(rr.http);
		if (t1 - t0 < best_chk)
			best_chk = t1 - t0;
		if (t3 - t2 < best_raw)
			best_raw = t3 - t2;
	}
	printf("%zu channel checks: %.0f/s; raw gettxout same node, same "
	       "concurrency: %.0f/s; ratio %.2f\n", n, n / best_chk,
	       n / best_raw, best_raw / best_chk);
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	free(keys);
	return system(cmd) != 0;
}

/* ---- mempool poll ---- */

#include "chain/mempool.h"
#include <sys/resource.h>

static size_t mp_want, mp_got;
static bool mp_on;
static bool mp_wanted(void *ctx)
{
	return mp_on;
}
static void mp_cb(void *ctx, const struct chain_tx *const *txs, size_t n)
{
	mp_got = n;
	if (n >= mp_want)
		ev_break(bloop, EVBREAK_ALL);
}

static double cpu_now(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

struct mp_raw {
	struct chain_http *http;
	json_t *ids;      /* getrawmempool's answer */
	size_t next, requests, bytes;
	bool failed;
};

static void mp_raw_send(struct mp_raw *m);

static void mp_raw_done(void *ctx, enum chain_http_result r, long status,
			const char *body, size_t len, const char *errtext)
{
	struct mp_raw *m = ctx;

	m->bytes += len;
	if (r != CHAIN_HTTP_OK || status != 200) {
		m->failed = true;
		ev_break(bloop, EVBREAK_ALL);
		return;
	}
	if (!m->ids) {
		json_t *root = json_loadb(body, len, 0, NULL);
		m->ids = json_incref(json_object_get(json_array_get(root, 0),
						     "result"));
		json_decref(root);
	}
	if (m->next >= json_array_size(m->ids)) {
		ev_break(bloop, EVBREAK_ALL);
		return;
	}
	mp_raw_send(m);
}

static void mp_raw_send(struct mp_raw *m)
{
	json_t *arr = json_array();

	if (!m->ids)
		json_array_append_new(arr, json_pack("{s:s, s:[], s:i, s:s}",
			"jsonrpc", "1.0", "params", "id", 0, "method",
			"getrawmempool"));
	for (size_t i = 0; m->ids && i < MEMPOOL_BATCH &&
	     m->next < json_array_size(m->ids); i++)
		json_array_append_new(arr, json_pack("{s:s, s:[O, b], s:I, s:s}",
			"jsonrpc", "1.0", "params",
			json_array_get(m->ids, m->next++), 0, "id",
			(json_int_t)i, "method", "getrawtransaction"));
	char *body = json_dumps(arr, JSON_COMPACT);
	json_decref(arr);
	m->requests++;
	chain_http_post(m->http, body, strlen(body), mp_raw_done, m);
	free(body);
}

static int cmd_mempool(const char *host, const char *pass, size_t n)
{
	char dir[] = "/tmp/bench-chain-XXXXXX", db[300], url[300], up[300];
	double best_w = 1e9, best_c = 1e9, best_rw = 1e9, best_rc = 1e9;
	uint64_t reqs = 0;
	size_t rreqs = 0, rbytes = 0;

	bloop = ev_default_loop(0);
	if (!mkdtemp(dir))
		return 1;
	snprintf(url, sizeof(url), "http://%s/", host);
	snprintf(up, sizeof(up), "bench:%s", pass);
	for (int r = 0; r < 3; r++) {
		struct chain_config cc;
		struct chain_events ev = { .mempool_txs = mp_cb,
					   .mempool_wanted = mp_wanted };
		struct chain_info ci;
		char err[256];

		snprintf(db, sizeof(db), "%s/chain%d.sqlite3", dir, r);
		chain_config_defaults(&cc);
		cc.network = "regtest";
		cc.rpchost = host;
		cc.rpcuser = "bench";
		cc.rpcpass = pass;
		cc.db_path = db;
		cc.poll_interval = 0.01;
		struct chain *c = chain_new(bloop, &cc, &ev, err, sizeof(err));
		if (!c) {
			fprintf(stderr, "chain_new: %s\n", err);
			return 1;
		}
		mp_want = n;
		mp_got = 0;
		mp_on = false;
		chain_start(c);
		wait_synced(c);
		chain_get_info(c, &ci);
		uint64_t req0 = ci.requests;
		/* The next poll: tip, then the whole mempool (all new). */
		mp_on = true;
		double t0 = cn_now(), c0 = cpu_now();
		ev_run(bloop, 0);
		double w = cn_now() - t0, cpu = cpu_now() - c0;
		chain_get_info(c, &ci);
		chain_free(c);
		if (mp_got < n) {
			fprintf(stderr, "mempool poll: %zu of %zu\n", mp_got, n);
			return 1;
		}
		reqs = ci.requests - req0;

		struct mp_raw m = { 0 };
		m.http = chain_http_new(bloop, url, 30, 32u << 20);
		chain_http_set_auth(m.http, up);
		t0 = cn_now();
		c0 = cpu_now();
		mp_raw_send(&m);
		ev_run(bloop, 0);
		double rw = cn_now() - t0, rc = cpu_now() - c0;
		chain_http_free(m.http);
		if (m.failed || json_array_size(m.ids) < n) {
			fprintf(stderr, "bare client failed\n");
			return 1;
		}
		json_decref(m.ids);
		rreqs = m.requests;
		rbytes = m.bytes;
		if (w < best_w) best_w = w;
		if (cpu < best_c) best_c = cpu;
		if (rw < best_rw) best_rw = rw;
		if (rc < best_rc) best_rc = rc;
	}
	printf("mempool poll of %zu new transactions: coldnode %llu requests "
	       "(with the tip poll) "
	       "(%zu of them the mempool's, %zu bytes), %.0f ms wall, %.0f ms "
	       "CPU; the node's own getrawmempool + getrawtransaction from a "
	       "bare client: %zu requests, %.0f ms wall (client CPU %.0f "
	       "ms); ratio %.2f\n", n, (unsigned long long)reqs, rreqs,
	       rbytes, best_w * 1e3, best_c * 1e3, rreqs, best_rw * 1e3,
	       best_rc * 1e3, best_rw / best_w);
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) != 0;
}

static int cmd_mempool_synth(size_t n)
{
	uint8_t (*ids)[32] = calloc(n, 32);
	char *body = malloc(n * 67 + 64), err[160];
	size_t off = 0;
	struct chain_mempool *m = chain_mempool_new();
	static const uint8_t spk[22] = { 0x00, 0x14 };

	if (!ids || !body || !m)
		return 1;
	/* n distinct one-input, one-output transactions (~85 bytes). */
	uint8_t tx[85];
	memset(tx, 0, sizeof(tx));
	tx[0] = 2;                      /* version */
	tx[4] = 1;                      /* 1 input */
	tx[41] = 0;                     /* empty scriptSig */
	memset(tx + 42, 0xff, 4);       /* sequence */
	tx[46] = 1;                     /* 1 output */
	tx[55] = 22;                    /* P2WPKH script */
	memcpy(tx + 56, spk, 22);
	off += (size_t)sprintf(body, "{\"result\":[");
	for (size_t i = 0; i < n; i++) {
		memcpy(tx + 5, &i, sizeof(i)); /* prevout txid */
		chain_sha256d(ids[i], tx, 82);
		char hx[65];
		hex_encode_reversed(hx, ids[i], 32);
		off += (size_t)sprintf(body + off, "%s\"%s\"", i ? "," : "",
				       hx);
	}
	off += (size_t)sprintf(body + off, "],\"error\":null,\"id\":0}");
	long rss0 = rss_kib(); /* the answer and the txids already there */
	chain_mempool_set(m, (const uint8_t (*)[32])ids, n);
	/* Fill every entry (the memory of n followed transactions). */
	for (size_t i = 0; i < n; i++) {
		memcpy(tx + 5, &i, sizeof(i));
		chain_mempool_add(m, ids[i], tx, 82);
	}
	size_t have;
	chain_mempool_txs(m, &have);
	long rss1 = rss_kib();
	/* A poll with nothing new: parse the answer, rebuild the table. */
	double best = 1e9, best_json = 1e9;
	for (int r = 0; r < 3; r++) {
		double c0 = cpu_now();
		json_t *root = json_loadb(body, off, 0, NULL);
		const json_t *a = json_object_get(root, "result");
		size_t cnt = json_array_size(a), got = 0;
		for (size_t i = 0; i < cnt; i++)
			if (chain_json_hash(json_array_get(a, i), ids[got]))
				got++;
		double c1 = cpu_now();
		json_decref(root);
		chain_mempool_set(m, (const uint8_t (*)[32])ids, got);
		chain_mempool_txs(m, &have);
		double c2 = cpu_now();
		if (c2 - c0 < best)
			best = c2 - c0;
		if (c1 - c0 < best_json)
			best_json = c1 - c0;
	}
	printf("mainnet-sized mempool of %zu txids (getrawmempool %.1f MB): "
	       "a poll with nothing new takes %.0f ms CPU (%.0f ms of it "
	       "parsing the JSON); %zu transactions followed take %.1f MiB "
	       "(%.0f bytes each, raw %d + parse + table)\n", n,
	       off / 1e6, best * 1e3, best_json * 1e3, have,
	       (rss1 - rss0) / 1024.0, (rss1 - rss0) * 1024.0 / n, 82);
	(void)err;
	chain_mempool_free(m);
	free(ids);
	free(body);
	return 0;
}

/* ---- ZMQ rawtx (issue 17) ---- */

#include <sys/wait.h>
#include <zmq.h>

/* The publisher, in a child process (its CPU is not coldnode's): binds,
 * writes its endpoint on @ep_fd, then publishes, for each count k read
 * from @cmd_fd, the next k messages (bitcoind's three frames): first
 * @preload synthetic 82-byte transactions, then the @n real ones; k 0
 * ends it. */
static void zmq_child(int ep_fd, int cmd_fd, size_t preload,
		      uint8_t **txs, size_t *lens, size_t n)
{
	void *ctx = zmq_ctx_new(), *ps = zmq_socket(ctx, ZMQ_PUB);
	char ep[128];
	size_t el = sizeof(ep);
	int hwm = 0;
	uint32_t seq = 0, k;
	size_t next = 0;
	uint8_t tx[85];

	zmq_setsockopt(ps, ZMQ_SNDHWM, &hwm, sizeof(hwm));
	if (zmq_bind(ps, "tcp://127.0.0.1:*") ||
	    zmq_getsockopt(ps, ZMQ_LAST_ENDPOINT, ep, &el))
		_exit(1);
	if (write(ep_fd, ep, sizeof(ep)) != (ssize_t)sizeof(ep))
		_exit(1);
	memset(tx, 0, sizeof(tx));
	tx[0] = 2;
	tx[4] = 1;
	memset(tx + 42, 0xff, 4);
	tx[46] = 1;
	tx[55] = 22;
	tx[57] = 0x14;
	while (read(cmd_fd, &k, 4) == 4 && k) {
		for (uint32_t j = 0; j < k && next < preload + n; j++, next++) {
			const uint8_t *b = tx;
			size_t bl = 82;
			if (next < preload) {
				memcpy(tx + 5, &next, sizeof(next));
				tx[13] = 0xb5; /* not a real prevout */
			} else {
				b = txs[next - preload];
				bl = lens[next - preload];
			}
			uint8_t s[4] = { (uint8_t)seq, (uint8_t)(seq >> 8),
					 (uint8_t)(seq >> 16),
					 (uint8_t)(seq >> 24) };
			seq++;
			zmq_send(ps, "rawtx", 5, ZMQ_SNDMORE);
			zmq_send(ps, b, bl, ZMQ_SNDMORE);
			zmq_send(ps, s, 4, 0);
		}
	}
	int linger = 2000;
	zmq_setsockopt(ps, ZMQ_LINGER, &linger, sizeof(linger));
	zmq_close(ps);
	zmq_ctx_term(ctx);
	_exit(0);
}

static void mp_add_cb(void *ctx, const struct chain_tx *const *txs,
		      size_t n)
{
	mp_got += n;
	if (mp_got >= mp_want)
		ev_break(bloop, EVBREAK_ALL);
}

static void zmq_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	ev_break(loop, EVBREAK_ALL);
}

/* Run the loop until the mempool view holds @target transactions
 * (false: not within @secs). */
static bool zmq_wait(size_t target, double secs)
{
	ev_timer t;
	double end = cn_now() + secs;
	mp_want = target;
	ev_timer_init(&t, zmq_tick, 0.5, 0.);
	while (mp_got < target && cn_now() < end) {
		ev_timer_start(bloop, &t);
		ev_run(bloop, 0);
		ev_timer_stop(bloop, &t);
	}
	return mp_got >= target;
}

/* bench_chain zmq FILE PRELOAD: the transactions of FILE (hex, one a
 * line) arrive as rawtx into a mempool view already holding PRELOAD
 * pushed transactions; coldnode's CPU (process, libzmq's I/O thread
 * included, the publisher not) per transaction until all are handed up. */
static int cmd_zmq(const char *file, size_t preload)
{
	FILE *f = fopen(file, "r");
	size_t n = 0, cap = 0, *lens = NULL;
	uint8_t **txs = NULL;
	char *line = NULL;
	size_t ll = 0;
	int epp[2], cmdp[2];
	char ep[128], dir[] = "/tmp/bench-zmq-XXXXXX", db[300], err[256];

	if (!f || !mkdtemp(dir))
		return 1;
	while (getline(&line, &ll, f) > 0) {
		size_t hl = strcspn(line, "\r\n");
		if (n == cap) {
			cap = cap ? cap * 2 : 1024;
			txs = realloc(txs, cap * sizeof(*txs));
			lens = realloc(lens, cap * sizeof(*lens));
		}
		txs[n] = malloc(hl / 2 + 1);
		lens[n] = hl / 2;
		line[hl] = '\0';
		if (!hex_decode(txs[n], lens[n], line))
			return 1;
		n++;
	}
	fclose(f);
	free(line);
	if (pipe(epp) || pipe(cmdp))
		return 1;
	pid_t pid = fork();
	if (pid == 0)
		zmq_child(epp[1], cmdp[0], preload, txs, lens, n);
	if (read(epp[0], ep, sizeof(ep)) != (ssize_t)sizeof(ep))
		return 1;

	bloop = ev_default_loop(0);
	struct chain_config cc;
	struct chain_events ev = { .mempool_txs = mp_cb,
				   .mempool_tx_added = mp_add_cb,
				   .mempool_wanted = mp_wanted };
	snprintf(db, sizeof(db), "%s/chain.sqlite3", dir);
	chain_config_defaults(&cc);
	cc.network = "regtest";
	cc.rpcuser = "bench";
	cc.rpcpass = "unused";
	cc.db_path = db;
	cc.zmq_rawtx = ep;
	mp_on = true;
	mp_got = 0;
	struct chain *c = chain_new(bloop, &cc, &ev, err, sizeof(err));
	if (!c) {
		fprintf(stderr, "chain_new: %s\n", err);
		return 1;
	}
	/* Not started: no node is asked; rawtx is taken all the same.  The
	 * subscription reaches the publisher within the first wait. */
	zmq_wait(1, 0.5);
	uint32_t k = 20000;
	for (size_t done = 0; done < preload; done += k) {
		if (k > preload - done)
			k = (uint32_t)(preload - done);
		if (write(cmdp[1], &k, 4) != 4 ||
		    !zmq_wait(done + k, 60)) {
			fprintf(stderr, "preload: %zu of %zu\n", mp_got,
				done + k);
			return 1;
		}
	}
	long rss0 = rss_kib();
	double t0 = cn_now(), c0 = cpu_now();
	k = (uint32_t)n;
	if (write(cmdp[1], &k, 4) != 4 || !zmq_wait(preload + n, 120)) {
		fprintf(stderr, "zmq: %zu of %zu\n", mp_got, preload + n);
		return 1;
	}
	double w = cn_now() - t0, cpu = cpu_now() - c0;
	long rss1 = rss_kib();
	struct chain_info ci;
	chain_get_info(c, &ci);
	k = 0;
	if (write(cmdp[1], &k, 4) != 4)
		return 1;
	waitpid(pid, NULL, 0);
	printf("zmq rawtx: %zu transactions into a mempool of %zu: %.0f ms "
	       "CPU (%.1f us each, hand-ups of only the new ones included), "
	       "%.0f ms wall, %llu messages, %llu gaps, 0 requests; +%.1f MiB "
	       "RSS\n", n, preload, cpu * 1e3, cpu * 1e6 / n, w * 1e3,
	       (unsigned long long)ci.zmq_rawtx,
	       (unsigned long long)ci.zmq_gaps, (rss1 - rss0) / 1024.0);
	chain_free(c);
	for (size_t i = 0; i < n; i++)
		free(txs[i]);
	free(txs);
	free(lens);
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) != 0;
}

int main(int argc, char **argv)
{
	cn_crypto_init();
	log_set_level(NULL, LOG_BROKEN);
	if (argc >= 2 && !strcmp(argv[1], "parse"))
		return cmd_parse(argc > 2 ? atof(argv[2]) : 1.0);
	if (argc == 3 && !strcmp(argv[1], "keys"))
		return cmd_keys((uint32_t)atoi(argv[2]));
	if (argc == 8 && !strcmp(argv[1], "check"))
		return cmd_check(argv[2], argv[3], (uint32_t)atoi(argv[4]),
				 (uint32_t)atoi(argv[5]),
				 (size_t)atoi(argv[6]), argv[7]);
	if (argc == 5 && !strcmp(argv[1], "mempool"))
		return cmd_mempool(argv[2], argv[3], (size_t)atoi(argv[4]));
	if (argc == 4 && !strcmp(argv[1], "zmq"))
		return cmd_zmq(argv[2], (size_t)atoi(argv[3]));
	if (argc == 3 && !strcmp(argv[1], "mempool-synth"))
		return cmd_mempool_synth((size_t)atoi(argv[2]));
	fprintf(stderr, "usage: bench_chain parse [MB] | keys N | check "
		"HOST:PORT PASS HEIGHT TXINDEX N TXID | mempool HOST:PORT "
		"PASS N | mempool-synth N\n");
	return 2;
}
