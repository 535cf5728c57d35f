/* bench_wallet: blocks scanned per second by the wallet (3 accounts x 2
 * branches x gap limit of scripts watched, every block in its own SQLite
 * transaction, as the daemon does) as a ratio to parsing the same raw
 * blocks alone (the floor: the scan parses each block too); and the RSS
 * of 10,000 watched scripts.
 *
 * Blocks are synthetic mainnet-sized ones (5,000 transactions of 2 inputs
 * and 2 P2WPKH outputs, ~0.8 MB), one output per block paying the wallet
 * and one spending an earlier wallet coin.  Parse and scan are measured in
 * interleaved slices; each figure is the best slice.
 *
 * Then the same ratio on real mainnet blocks (tests/data/blocks: 2,500 and
 * 2,967 transactions): each round parses the block alone, and parses and
 * scans it (wallet_block_connected: every output looked up, every input
 * looked up, one SQLite transaction; undone untimed), in alternating
 * order; each figure is the best of its rounds (default 100).
 * None of a real block's outputs are the wallet's: the synthetic blocks
 * above measure the matches.
 *   bench_wallet [BLOCKS_PER_SLICE] [SLICES] [REAL_ROUNDS] [BLOCKS_DIR]
 */
#include "chain/block.h"
#include "wallet/wallet_internal.h"
#include "../tests/wallet/rawblock.h"
#include "../tests/wallet/tkey.h"

#include <inttypes.h>
#include <secp256k1.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TXS 5000

#ifndef CN_BLOCKS_DIR
#define CN_BLOCKS_DIR "tests/data/blocks"
#endif

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static long rss_kib(const char *field)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = -1;
	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, field, strlen(field)) == 0)
			v = strtol(line + strlen(field) + 1, NULL, 10);
	if (f)
		fclose(f);
	return v;
}

static struct wallet *make_wallet(const char *path, uint32_t gap,
				  struct tkey *k84)
{
	struct tkey k49, k86;
	char json[2048], err[300];
	struct wallet_account *a;
	struct wallet_import_result res;
	size_t n;
	tkey_random(&k49, XKEY_NESTED, false, 0);
	tkey_random(k84, XKEY_NATIVE, false, 0);
	tkey_random(&k86, XKEY_ANY, false, 0);
	snprintf(json, sizeof(json),
		 "{\"accounts\":["
		 "{\"name\":\"default\",\"address_type\":\"HYBRID_NESTED_WITNESS_PUBKEY_HASH\","
		 "\"extended_public_key\":\"%s\",\"derivation_path\":\"m/49'/1'/0'\"},"
		 "{\"name\":\"default\",\"address_type\":\"WITNESS_PUBKEY_HASH\","
		 "\"extended_public_key\":\"%s\",\"derivation_path\":\"m/84'/1'/0'\"},"
		 "{\"name\":\"default\",\"address_type\":\"TAPROOT_PUBKEY\","
		 "\"extended_public_key\":\"%s\",\"derivation_path\":\"m/86'/1'/0'\"}]}",
		 k49.str, k84->str, k86.str);
	unlink(path);
	struct wallet *w = wallet_open(path);
	if (!w || !wallet_configure(w, "regtest", gap) ||
	    !wallet_parse_accounts_json(&a, &n, err, sizeof(err), "regtest",
					json, strlen(json)) ||
	    !wallet_import_accounts(w, &res, err, sizeof(err), a, n, 1)) {
		fprintf(stderr, "wallet setup failed: %s\n", err);
		exit(1);
	}
	free(a);
	return w;
}

/* Block @h: TXS transactions, one paying 84/0/(h % 15), one spending the
 * wallet coin of block h-1 (its tx 1 output 0). */
static void build(struct rb_buf *b, uint32_t h, const uint8_t prev[32],
		  const struct tkey *k84, const uint8_t prevpay[32])
{
	uint8_t ours[34], other[22] = { 0x00, 20 };
	struct wallet_xpub br, c;
	size_t ol;
	if (!wallet_xpub_child(&br, &k84->k, 0) ||
	    !wallet_xpub_child(&c, &br, h % 15))
		abort();
	ol = wallet_script_for_key(ours, WALLET_ADDR_P2WKH, c.pubkey);
	memset(b, 0, sizeof(*b));
	rb_header(b, prev, 1700000000 + h, TXS);
	struct rb_out cb = { 625000000, other, sizeof(other) };
	rb_tx(b, NULL, 0, &cb, 1, h);
	for (uint32_t t = 1; t < TXS; t++) {
		struct rb_in in[2];
		struct rb_out out[2];
		randombytes_buf(in, sizeof(in));
		in[0].vout = in[1].vout = 0;
		randombytes_buf(other + 2, 20);
		out[0] = (struct rb_out){ 10000 + t, other, sizeof(other) };
		out[1] = (struct rb_out){ 20000 + t, other, sizeof(other) };
		if (t == 1)
			out[0] = (struct rb_out){ 50000, ours, ol };
		if (t == 2 && h > 1)
			memcpy(in[0].txid, prevpay, 32);
		rb_tx(b, in, 2, out, 2, h * TXS + t);
	}
}

/* Seconds to parse (and with @w, scan) blocks lo..hi, after touching
 * their bytes; -1 on failure. */
static double timed(const struct rb_buf *raw, uint32_t lo, uint32_t hi,
		    struct wallet *w)
{
	volatile uint8_t sink = 0;
	char err[128];
	for (uint32_t h = lo; h <= hi; h++)
		for (size_t i = 0; i < raw[h].len; i += 64)
			sink ^= raw[h].p[i];
	(void)sink;
	double t0 = now();
	for (uint32_t h = lo; h <= hi; h++) {
		struct chain_block *b = chain_block_parse(raw[h].p, raw[h].len,
							  err, sizeof(err));
		if (!b || (w && wallet_block_connected(w, h, b->hash, b) != WALLET_APPLIED)) {
			fprintf(stderr, "block %u: %s\n", h, b ? "scan" : err);
			chain_block_free(b);
			return -1;
		}
		chain_block_free(b);
	}
	return now() - t0;
}

static uint8_t *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *p = NULL;
	long n;
	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 &&
	    fseek(f, 0, SEEK_SET) == 0 && (p = malloc((size_t)n)) &&
	    fread(p, 1, (size_t)n, f) == (size_t)n)
		*len = (size_t)n;
	else {
		free(p);
		p = NULL;
	}
	fclose(f);
	return p;
}

/* Ratio scan/parse on one real block (see the header); 0 on failure. */
static double real_block(const char *dir, const char *name, int rounds,
			 const char *tmpdir)
{
	char path[512], err[128];
	size_t len = 0;
	struct tkey k84;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	uint8_t *raw = read_all(path, &len);
	if (!raw) {
		fprintf(stderr, "%s: cannot read\n", path);
		return 0;
	}
	snprintf(path, sizeof(path), "%s/real.sqlite", tmpdir);
	struct wallet *w = make_wallet(path, WALLET_DEFAULT_GAP, &k84);
	/* Nothing scanned: at the birthday (1) the block is the first. */
	double best_parse = 1e9, best_scan = 1e9;
	size_t ntx = 0;
	for (int r = 0; r < rounds; r++) {
		volatile uint8_t sink = 0;
		for (size_t i = 0; i < len; i += 64)
			sink ^= raw[i];
		(void)sink;
		/* parse-first and scan-first alternate (the machine's load
		 * drifts); each is the best of its rounds */
		for (int k = 0; k < 2; k++) {
			bool scan = (k == 0) == (r % 2 == 1);
			double t0 = now();
			struct chain_block *b = chain_block_parse(raw, len, err,
								  sizeof(err));
			enum wallet_apply a = WALLET_APPLIED;
			if (b && scan)
				a = wallet_block_connected(w, 1, b->hash, b);
			double t1 = now();
			if (!b || a != WALLET_APPLIED ||
			    (scan && wallet_block_disconnected(w, 1, b->hash) !=
					     WALLET_APPLIED)) {
				fprintf(stderr, "%s: %s\n", name,
					b ? wallet_apply_name(a) : err);
				return 0;
			}
			ntx = b->n_tx;
			chain_block_free(b);
			if (scan && t1 - t0 < best_scan)
				best_scan = t1 - t0;
			if (!scan && t1 - t0 < best_parse)
				best_parse = t1 - t0;
		}
	}
	wallet_free(w);
	free(raw);
	printf("real block %s (%zu txs, %.2f MB): parse alone %.2f ms, parse "
	       "+ scan %.2f ms; ratio scan/parse %.2f (goal >= 0.8)\n", name,
	       ntx, len / 1e6, best_parse * 1e3, best_scan * 1e3,
	       best_parse / best_scan);
	return best_parse / best_scan;
}

int main(int argc, char **argv)
{
	uint32_t per = argc > 1 ? (uint32_t)atoi(argv[1]) : 20;
	int slices = argc > 2 ? atoi(argv[2]) : 7;
	uint32_t nblocks = per * (uint32_t)slices;
	char dir[] = "/tmp/cn-bench-wallet-XXXXXX", path[128], err[128];
	struct tkey k84;
	uint8_t prev[32] = { 0 }, prevpay[32] = { 0 };

	cn_crypto_init();
	log_set_level(NULL, LOG_BROKEN);
	if (!mkdtemp(dir))
		return 1;
	snprintf(path, sizeof(path), "%s/wallet.sqlite", dir);
	struct wallet *w = make_wallet(path, WALLET_DEFAULT_GAP, &k84);
	printf("watched scripts: %zu (3 accounts x 2 branches x gap %d)\n",
	       wallet_watched(w), WALLET_DEFAULT_GAP);

	struct rb_buf *raw = calloc(nblocks + 1, sizeof(*raw));
	size_t bytes = 0;
	for (uint32_t h = 1; h <= nblocks; h++) {
		build(&raw[h], h, prev, &k84, prevpay);
		struct chain_block *b = chain_block_parse(raw[h].p, raw[h].len,
							  err, sizeof(err));
		if (!b) {
			fprintf(stderr, "parse: %s\n", err);
			return 1;
		}
		memcpy(prev, b->hash, 32);
		memcpy(prevpay, b->tx[1].txid, 32);
		chain_block_free(b);
		bytes += raw[h].len;
	}
	printf("blocks: %u of %zu txs, %.2f MB each\n", nblocks, (size_t)TXS,
	       bytes / (double)nblocks / 1e6);

	/* Interleaved: slice s parses blocks [s*per+1, (s+1)*per] alone and
	 * scans the same blocks (parse + wallet), in alternating order, each
	 * after a pass that brings the slice's bytes into the cache. */
	double best_parse = 1e9, best_scan = 1e9;
	for (int s = 0; s < slices; s++) {
		uint32_t lo = (uint32_t)s * per + 1;
		for (int round = 0; round < 2; round++) {
			bool scan = (round == 0) == (s % 2 == 1);
			double t = timed(raw, lo, lo + per - 1, scan ? w : NULL);
			if (t < 0)
				return 1;
			if (scan && t < best_scan)
				best_scan = t;
			if (!scan && t < best_parse)
				best_parse = t;
		}
	}
	struct wallet_balance bal;
	if (!wallet_get_balance(w, &bal, NULL, 1))
		return 1;
	double parse_bps = per / best_parse, scan_bps = per / best_scan;
	printf("parse alone:  %.1f blocks/s\n", parse_bps);
	printf("wallet scan:  %.1f blocks/s (parse + match + one SQLite "
	       "transaction per block)\n", scan_bps);
	printf("ratio scan/parse: %.2f (goal >= 0.8); balance %" PRId64
	       " sat in %zu account(s)\n", scan_bps / parse_bps, bal.total,
	       bal.num_accounts);
	wallet_balance_clear(&bal);
	wallet_free(w);
	for (uint32_t h = 1; h <= nblocks; h++)
		free(raw[h].p);
	free(raw);

	/* RSS of 10,000 watched scripts: 3 x 2 x 1667. */
	long before = rss_kib("VmRSS:");
	snprintf(path, sizeof(path), "%s/wallet10k.sqlite", dir);
	double d0 = now();
	w = make_wallet(path, 1667, &k84);
	double d1 = now();
	long after = rss_kib("VmRSS:");
	printf("10k scripts: %zu watched, derived in %.3f s; RSS %ld KiB "
	       "(+%ld KiB for the wallet, %.0f B per script; the raw blocks "
	       "above are freed)\n", wallet_watched(w), d1 - d0, after,
	       after - before,
	       (after - before) * 1024.0 / (double)wallet_watched(w));
	wallet_free(w);

	int rounds = argc > 3 ? atoi(argv[3]) : 100;
	const char *bdir = argc > 4 ? argv[4] : CN_BLOCKS_DIR;
	if (rounds > 0 &&
	    (!real_block(bdir, "mainnet-702861.raw", rounds, dir) ||
	     !real_block(bdir, "mainnet-713126.raw", rounds, dir)))
		return 1;
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : 1;
}
