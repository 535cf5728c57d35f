/* wallet: the balance cache (src/wallet/balance.c).  After every step of a
 * scan, mempool, reorg and import sequence the cached answer
 * (wallet_get_balance) must equal the full SQLite computation
 * (wallet_balance_compute), for every account filter and for min_confs
 * 0, negative (lnd: "if in.MinConfs <= 0 { in.MinConfs = 1 }") and 1.  A
 * missing invalidation leaves the cache on the previous answer and fails
 * the comparison.  A mempool poll that changes nothing must not cause a
 * new computation. */
#include "wallet/wallet_internal.h"
#include "chain/block.h"
#include "check.h"
#include "rawblock.h"
#include "tkey.h"

#include <inttypes.h>
#include <secp256k1.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[] = "/tmp/cn-wallet-balance-XXXXXX";

struct script {
	uint8_t s[WALLET_MAX_SCRIPT];
	size_t len;
};

static struct script p2wkh(const struct wallet_xpub *k, uint32_t branch,
			   uint32_t idx)
{
	struct wallet_xpub b, c;
	struct script r;
	if (!wallet_xpub_child(&b, k, branch) || !wallet_xpub_child(&c, &b, idx))
		abort();
	r.len = wallet_script_for_key(r.s, WALLET_ADDR_P2WKH, c.pubkey);
	return r;
}

static uint32_t nonce;

struct tblock {
	struct rb_buf raw;
	struct chain_block *blk;
};

/* A block on @prev: coinbase paying @cb (NULL: OP_TRUE), then @n
 * transactions of one input (@in[i]) and one output (@out[i]). */
static void make_block(struct tblock *b, const uint8_t prev[32],
		       const struct rb_out *cb, const struct rb_in *in,
		       const struct rb_out *out, size_t n)
{
	static const uint8_t op_true[] = { 0x51 };
	struct rb_out cbo = { 50 * 100000000ull, op_true, 1 };
	char err[200];
	memset(b, 0, sizeof(*b));
	rb_header(&b->raw, prev, 1700000000 + nonce, 1 + n);
	rb_tx(&b->raw, NULL, 0, cb ? cb : &cbo, 1, ++nonce);
	for (size_t i = 0; i < n; i++)
		rb_tx(&b->raw, &in[i], 1, &out[i], 1, ++nonce);
	b->blk = chain_block_parse(b->raw.p, b->raw.len, err, sizeof(err));
	if (!b->blk) {
		fprintf(stderr, "block parse: %s\n", err);
		abort();
	}
}

static enum wallet_apply conn(struct wallet *w, uint32_t h,
			      const struct chain_block *b)
{
	return wallet_block_connected(w, h, b->hash, b);
}

static void free_block(struct tblock *b)
{
	chain_block_free(b->blk);
	free(b->raw.p);
}

static bool equal(const struct wallet_balance *a, bool oka,
		  const struct wallet_balance *b, bool okb)
{
	if (oka != okb || a->total != b->total ||
	    a->confirmed != b->confirmed || a->unconfirmed != b->unconfirmed ||
	    a->locked != b->locked || a->not_found != b->not_found ||
	    a->num_accounts != b->num_accounts)
		return false;
	for (size_t i = 0; i < a->num_accounts; i++)
		if (strcmp(a->accounts[i].account, b->accounts[i].account) ||
		    a->accounts[i].confirmed != b->accounts[i].confirmed ||
		    a->accounts[i].unconfirmed != b->accounts[i].unconfirmed)
			return false;
	return true;
}

/* The cached answer equals the full computation, for each filter and
 * min_confs; @step names the step in a failure. */
static void same(struct wallet *w, const char *step)
{
	static const char *const filters[] = { NULL, "", "default", "savings",
					       "later", "nosuch" };
	static const int32_t confs[] = { 1, 0, -7, 2 };
	for (size_t f = 0; f < sizeof(filters) / sizeof(*filters); f++)
		for (size_t c = 0; c < sizeof(confs) / sizeof(*confs); c++) {
			struct wallet_balance fast, slow;
			/* lnd maps min_confs <= 0 to 1: the reference for
			 * 0 and negative is the computation at 1. */
			int32_t ref = confs[c] <= 0 ? 1 : confs[c];
			bool okf = wallet_get_balance(w, &fast, filters[f],
						      confs[c]);
			bool oks = wallet_balance_compute(w, &slow, filters[f],
							  ref);
			if (!equal(&fast, okf, &slow, oks)) {
				fprintf(stderr, "%s: account %s min_confs %d: "
					"cached %d %" PRId64 "/%" PRId64
					" computed %d %" PRId64 "/%" PRId64
					"\n", step,
					filters[f] ? filters[f] : "(all)",
					confs[c], okf, fast.confirmed,
					fast.unconfirmed, oks, slow.confirmed,
					slow.unconfirmed);
				CHECK(!"cached balance == computed balance");
			}
			wallet_balance_clear(&fast);
			wallet_balance_clear(&slow);
		}
}

static void totals(struct wallet *w, int64_t *conf, int64_t *unconf)
{
	struct wallet_balance b;
	CHECK(wallet_get_balance(w, &b, NULL, 1));
	*conf = b.confirmed;
	*unconf = b.unconfirmed;
	wallet_balance_clear(&b);
}

static void import(struct wallet *w, const char *name, const char *xpub,
		   uint32_t acct)
{
	char json[1024], err[256];
	struct wallet_account *a;
	size_t n;
	struct wallet_import_result res;
	snprintf(json, sizeof(json),
		 "{\"accounts\":[{\"name\":\"%s\",\"address_type\":"
		 "\"WITNESS_PUBKEY_HASH\",\"extended_public_key\":\"%s\","
		 "\"derivation_path\":\"m/84'/1'/%u'\"}]}", name, xpub, acct);
	CHECK(wallet_parse_accounts_json(&a, &n, err, sizeof(err), "regtest",
					 json, strlen(json)));
	CHECK(wallet_import_accounts(w, &res, err, sizeof(err), a, n, -1));
	CHECK(res.added == 1);
	free(a);
}

static void test_scan_sequence(void)
{
	char path[300];
	struct tkey kd, ks, kl;
	int64_t conf, unconf;
	uint64_t n0;
	uint8_t zero[32] = { 0 };

	snprintf(path, sizeof(path), "%s/scan.sqlite", dir);
	struct wallet *w = wallet_open(path);
	CHECK(w != NULL);
	CHECK(wallet_configure(w, "regtest", 5));
	tkey_random(&kd, XKEY_NATIVE, false, 0);
	tkey_random(&ks, XKEY_NATIVE, false, 1);
	tkey_random(&kl, XKEY_NATIVE, false, 2);
	same(w, "empty");
	import(w, "default", kd.str, 0);
	same(w, "default imported");
	import(w, "savings", ks.str, 1);
	same(w, "savings imported");

	struct script d0 = p2wkh(&kd.k, 0, 0), d1 = p2wkh(&kd.k, 0, 1),
		      d2 = p2wkh(&kd.k, 0, 2), dc = p2wkh(&kd.k, 1, 0),
		      s0 = p2wkh(&ks.k, 0, 0), s1 = p2wkh(&ks.k, 0, 1);

	/* Block 1: default/0/0 100000, savings/0/0 50000; the coinbase pays
	 * default/0/1 (immature for 100 blocks). */
	struct rb_out cb = { 5000000000ull, d1.s, d1.len };
	struct rb_in in1[2];
	struct rb_out out1[2] = { { 100000, d0.s, d0.len },
				  { 50000, s0.s, s0.len } };
	memset(in1, 0, sizeof(in1));
	memset(in1[0].txid, 0xa1, 32);
	memset(in1[1].txid, 0xa2, 32);
	struct tblock b1, b2, b3, b3x;
	make_block(&b1, zero, &cb, in1, out1, 2);
	CHECK(conn(w, 1, b1.blk) == WALLET_APPLIED);
	same(w, "block 1");
	totals(w, &conf, &unconf);
	CHECK(conf == 150000 && unconf == 0);

	/* Block 2: default/0/2 20000. */
	struct rb_in in2 = { .vout = 0 };
	struct rb_out out2 = { 20000, d2.s, d2.len };
	memset(in2.txid, 0xb1, 32);
	make_block(&b2, b1.blk->hash, NULL, &in2, &out2, 1);
	CHECK(conn(w, 2, b2.blk) == WALLET_APPLIED);
	same(w, "block 2");

	/* Block 3 (first seen in the mempool): default/0/0 spent to change
	 * default/1/0 70000; a payment of 5000 to savings/0/1. */
	struct rb_in in3[2];
	struct rb_out out3[2] = { { 70000, dc.s, dc.len },
				  { 5000, s1.s, s1.len } };
	memset(in3, 0, sizeof(in3));
	memcpy(in3[0].txid, b1.blk->tx[1].txid, 32);
	memset(in3[1].txid, 0xc2, 32);
	make_block(&b3, b2.blk->hash, NULL, in3, out3, 2);
	const struct chain_tx *mp[2] = { &b3.blk->tx[1], &b3.blk->tx[2] };
	const struct chain_tx *mprev[2] = { &b3.blk->tx[2], &b3.blk->tx[1] };

	CHECK(wallet_mempool(w, mp, 2));
	same(w, "mempool: spend and payment");
	totals(w, &conf, &unconf);
	CHECK(conf == 70000 && unconf == 75000);

	/* The same mempool again, and in another order: no new
	 * computation, same answer. */
	n0 = wallet_balance_computes(w);
	CHECK(wallet_mempool(w, mp, 2));
	same(w, "mempool unchanged");
	/* The second poll of the same mempool keeps its coins (it used to
	 * drop them, taking the previous poll's for confirmed ones). */
	totals(w, &conf, &unconf);
	CHECK(conf == 70000 && unconf == 75000);
	CHECK(wallet_mempool(w, mprev, 2));
	same(w, "mempool unchanged, other order");
	CHECK(wallet_balance_computes(w) == n0);
	/* Emptied and refilled between two reads: one computation. */
	CHECK(wallet_mempool(w, NULL, 0) && wallet_mempool(w, mp, 2));
	totals(w, &conf, &unconf);
	CHECK(wallet_balance_computes(w) == n0 + 1);
	n0 = wallet_balance_computes(w);
	CHECK(wallet_mempool(w, mp, 2));
	totals(w, &conf, &unconf);
	CHECK(wallet_balance_computes(w) == n0);

	/* Only the payment left (the spend evicted): changed. */
	CHECK(wallet_mempool(w, &mp[1], 1));
	same(w, "mempool: payment only");
	totals(w, &conf, &unconf);
	CHECK(conf == 170000 && unconf == 5000);
	CHECK(wallet_balance_computes(w) == n0 + 1);
	CHECK(wallet_mempool(w, NULL, 0));
	same(w, "mempool emptied");
	CHECK(wallet_mempool(w, mp, 2));
	same(w, "mempool again");

	/* Mined; the mempool list is stale for one poll, then empty. */
	CHECK(conn(w, 3, b3.blk) == WALLET_APPLIED);
	same(w, "block 3");
	CHECK(wallet_mempool(w, mp, 2));
	same(w, "block 3, stale mempool");
	CHECK(wallet_mempool(w, NULL, 0));
	same(w, "block 3, mempool empty");
	totals(w, &conf, &unconf);
	CHECK(conf == 145000 && unconf == 0);

	/* A replayed block changes nothing. */
	CHECK(conn(w, 2, b2.blk) == WALLET_ALREADY);
	same(w, "block 2 replayed");

	/* Reorg: block 3 goes, its transactions back in the mempool, then
	 * 3' without them. */
	CHECK(wallet_block_disconnected(w, 3, b3.blk->hash) ==
	      WALLET_APPLIED);
	same(w, "block 3 disconnected");
	totals(w, &conf, &unconf);
	CHECK(conf == 170000 && unconf == 0);
	CHECK(wallet_mempool(w, mp, 2));
	same(w, "reorg: back in the mempool");
	make_block(&b3x, b2.blk->hash, NULL, NULL, NULL, 0);
	CHECK(conn(w, 3, b3x.blk) == WALLET_APPLIED);
	same(w, "block 3'");
	CHECK(wallet_mempool(w, mp, 2));
	same(w, "block 3', mempool");

	/* An account imported while running: a new name at zero. */
	import(w, "later", kl.str, 2);
	same(w, "later imported");

	/* Up to coinbase maturity: every tip move changes confirmations. */
	uint8_t prev[32];
	memcpy(prev, b3x.blk->hash, 32);
	for (uint32_t h = 4; h <= 101; h++) {
		struct tblock e;
		char step[32];
		make_block(&e, prev, NULL, NULL, NULL, 0);
		CHECK(conn(w, h, e.blk) == WALLET_APPLIED);
		memcpy(prev, e.blk->hash, 32);
		free_block(&e);
		snprintf(step, sizeof(step), "block %u", h);
		if (h >= 98)
			same(w, step);
	}
	totals(w, &conf, &unconf);
	/* block 3's transactions still in the mempool: default/0/0 spent */
	CHECK(conf == 5000000000LL + 50000 + 20000 && unconf == 75000);

	/* A fresh handle (restart): same answers. */
	wallet_free(w);
	w = wallet_open(path);
	CHECK(w != NULL && wallet_configure(w, "regtest", 5));
	same(w, "reopened");

	free_block(&b1);
	free_block(&b2);
	free_block(&b3);
	free_block(&b3x);
	wallet_free(w);
}

/* Without accounts: a listunspent set (locked outputs counted apart). */
static void test_listunspent(void)
{
	char path[300];
	struct wallet_utxo u[6];
	static const char *const acct[3] = { "default", "savings", "later" };

	snprintf(path, sizeof(path), "%s/lu.sqlite", dir);
	struct wallet *w = wallet_open(path);
	CHECK(w != NULL);
	CHECK(wallet_configure(w, "regtest", 5));
	memset(u, 0, sizeof(u));
	for (int i = 0; i < 6; i++) {
		snprintf(u[i].txid, sizeof(u[i].txid), "%064x", i + 1);
		u[i].amount_sat = 1000 * (i + 1);
		u[i].confirmations = i % 3;
		snprintf(u[i].account, sizeof(u[i].account), "%s",
			 acct[i % 3]);
		u[i].locked = i == 4;
	}
	same(w, "listunspent: empty");
	CHECK(wallet_import(w, u, 4, false));
	same(w, "listunspent: 4");
	CHECK(wallet_import(w, &u[4], 2, true));
	same(w, "listunspent: appended");
	u[0].amount_sat = 77;
	CHECK(wallet_import(w, u, 1, true));
	same(w, "listunspent: overwritten");
	CHECK(wallet_import(w, u, 2, false));
	same(w, "listunspent: replaced");
	wallet_free(w);
}

int main(void)
{
	cn_crypto_init();
	if (!mkdtemp(dir))
		return 2;
	test_scan_sequence();
	test_listunspent();
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		CHECK(!"temporary directory removed");
	return check_exit();
}
