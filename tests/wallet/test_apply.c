/* wallet: applying blocks (src/wallet/apply.c and scan.c).  The decision
 * by table; then the same results from a real wallet on synthetic blocks
 * read back by the real parser (replays, forks, gaps, disconnects in every
 * position); accounts imported later with a past birthday (nothing the
 * other accounts hold is lost, the new ones are rescanned, the tip stays);
 * payments in one block out of gap-limit order. */
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

static char dir[] = "/tmp/cn-wallet-apply-XXXXXX";
static char dbpath[320];

/* ---- the decision, by table ------------------------------------------------- */

/* Hashes are 32 copies of a small number: 0 means "not stored". */
struct decide_case {
	const char *name;
	int have_tip, tip_h, tip_id, birthday, rescan, at_id, below_id;
	uint32_t height;
	int hash_id, prev_id;
	enum wallet_apply want;
	enum wallet_scan_how how;
	enum wallet_apply want_disc;
};

static const struct decide_case cases[] = {
	/* name                  tip tip_h tip bd  resc at below  h  hash prev  connect             how                  disconnect */
	{ "empty, no birthday",   0,  0,   0, -1, -1,  0, 0,    7, 7, 6,  WALLET_APPLIED, WALLET_SCAN_TIP,    WALLET_ALREADY },
	{ "empty, at birthday",   0,  0,   0,  5, -1,  0, 0,    5, 5, 4,  WALLET_APPLIED, WALLET_SCAN_TIP,    WALLET_ALREADY },
	{ "empty, below bday",    0,  0,   0,  5, -1,  0, 0,    4, 4, 3,  WALLET_ALREADY, WALLET_SCAN_NONE,   WALLET_ALREADY },
	{ "empty, past bday",     0,  0,   0,  5, -1,  0, 0,    6, 6, 5,  WALLET_GAP,     WALLET_SCAN_NONE,   WALLET_ALREADY },
	{ "extends the tip",      1, 10,  10, -1, -1,  0, 0,   11, 11, 10, WALLET_APPLIED, WALLET_SCAN_TIP,   WALLET_ALREADY },
	{ "next, other parent",   1, 10,  10, -1, -1,  0, 0,   11, 11, 9, WALLET_FORK,    WALLET_SCAN_NONE,   WALLET_ALREADY },
	{ "two ahead",            1, 10,  10, -1, -1,  0, 0,   12, 12, 11, WALLET_GAP,    WALLET_SCAN_NONE,   WALLET_ALREADY },
	{ "the tip again",        1, 10,  10, -1, -1, 10, 9,   10, 10, 9, WALLET_ALREADY, WALLET_SCAN_NONE,   WALLET_APPLIED },
	{ "another tip",          1, 10,  10, -1, -1, 10, 9,   10, 20, 9, WALLET_FORK,    WALLET_SCAN_NONE,   WALLET_FORK },
	{ "below, same",          1, 10,  10, -1, -1,  8, 7,    8, 8, 7,  WALLET_ALREADY, WALLET_SCAN_NONE,   WALLET_GAP },
	{ "below, other",         1, 10,  10, -1, -1,  8, 7,    8, 18, 7, WALLET_FORK,    WALLET_SCAN_NONE,   WALLET_FORK },
	{ "below, not kept",      1, 10,  10, -1, -1,  0, 0,    2, 2, 1,  WALLET_ALREADY, WALLET_SCAN_NONE,   WALLET_GAP },
	{ "rescan: its block",    1, 10,  10,  3,  3,  0, 0,    3, 3, 2,  WALLET_APPLIED, WALLET_SCAN_RESCAN, WALLET_GAP },
	{ "rescan: kept, same",   1, 10,  10,  3,  6,  6, 5,    6, 6, 5,  WALLET_APPLIED, WALLET_SCAN_RESCAN, WALLET_GAP },
	{ "rescan: kept, other",  1, 10,  10,  3,  6,  6, 5,    6, 16, 5, WALLET_FORK,    WALLET_SCAN_NONE,   WALLET_FORK },
	{ "rescan: bad parent",   1, 10,  10,  3,  6,  6, 5,    6, 6, 15, WALLET_FORK,    WALLET_SCAN_NONE,   WALLET_GAP },
	{ "rescan: done below",   1, 10,  10,  3,  6,  0, 0,    4, 4, 3,  WALLET_ALREADY, WALLET_SCAN_NONE,   WALLET_GAP },
	{ "rescan: ahead of it",  1, 10,  10,  3,  6,  0, 0,    7, 7, 6,  WALLET_GAP,     WALLET_SCAN_NONE,   WALLET_GAP },
	{ "rescan: tip block",    1, 10,  10,  3, 10, 10, 9,   10, 10, 9, WALLET_APPLIED, WALLET_SCAN_RESCAN, WALLET_APPLIED },
	{ "rescan: tip + 1",      1, 10,  10,  3,  6,  0, 0,   11, 11, 10, WALLET_GAP,    WALLET_SCAN_NONE,   WALLET_ALREADY },
	{ "rescan: other tip",    1, 10,  10,  3,  6, 10, 9,   10, 20, 9, WALLET_FORK,    WALLET_SCAN_NONE,   WALLET_FORK },
	{ "disconnect above",     1, 10,  10, -1, -1,  0, 0,   11, 11, 10, WALLET_APPLIED, WALLET_SCAN_TIP,   WALLET_ALREADY },
};

static void fill(uint8_t h[32], int id)
{
	memset(h, id, 32);
}

static void test_decide(void)
{
	for (size_t i = 0; i < CN_ARRAY_SIZE(cases); i++) {
		const struct decide_case *c = &cases[i];
		struct wallet_pos p;
		enum wallet_scan_how how;
		uint8_t hash[32], prev[32];

		memset(&p, 0, sizeof(p));
		p.have_tip = c->have_tip;
		p.tip_height = c->tip_h;
		fill(p.tip_hash, c->tip_id);
		p.birthday = c->birthday;
		p.rescan_next = c->rescan;
		p.have_at = c->at_id != 0;
		fill(p.at_hash, c->at_id);
		p.have_below = c->below_id != 0;
		fill(p.below_hash, c->below_id);
		fill(hash, c->hash_id);
		fill(prev, c->prev_id);
		enum wallet_apply r = wallet_connect_decide(&p, c->height, hash,
							    prev, &how);
		enum wallet_apply d = wallet_disconnect_decide(&p, c->height,
							       hash);
		if (r != c->want || how != c->how || d != c->want_disc)
			fprintf(stderr, "case \"%s\": connect %s/%d (want "
				"%s/%d), disconnect %s (want %s)\n", c->name,
				wallet_apply_name(r), how,
				wallet_apply_name(c->want), c->how,
				wallet_apply_name(d),
				wallet_apply_name(c->want_disc));
		CHECK(r == c->want && how == c->how && d == c->want_disc);
		/* Only APPLIED scans; never FAILED without a database. */
		CHECK((r == WALLET_APPLIED) == (how != WALLET_SCAN_NONE));
	}
	/* wallet_pos_next */
	struct wallet_pos p = { .birthday = -1, .rescan_next = -1 };
	CHECK(wallet_pos_next(&p) == -1);
	p.birthday = 5;
	CHECK(wallet_pos_next(&p) == 5);
	p.have_tip = true;
	p.tip_height = 10;
	CHECK(wallet_pos_next(&p) == 11);
	p.rescan_next = 3;
	CHECK(wallet_pos_next(&p) == 3);
}

/* ---- a real wallet ----------------------------------------------------------- */

struct script {
	uint8_t s[WALLET_MAX_SCRIPT];
	size_t len;
};

static struct script p2wkh(const struct tkey *key, uint32_t branch,
			   uint32_t idx)
{
	struct wallet_xpub b, c;
	struct script s;
	if (!wallet_xpub_child(&b, &key->k, branch) ||
	    !wallet_xpub_child(&c, &b, idx))
		abort();
	s.len = wallet_script_for_key(s.s, WALLET_ADDR_P2WKH, c.pubkey);
	return s;
}

/* One account "name" of @key (BIP84 m/84'/1'/acct'). */
static void import(struct wallet *w, const char *name, const struct tkey *key,
		   uint32_t acct, int64_t birthday)
{
	char json[1024], err[300];
	struct wallet_account *a;
	struct wallet_import_result res;
	size_t n;
	snprintf(json, sizeof(json), "{\"accounts\": [{\"name\": \"%s\", "
		 "\"address_type\": \"WITNESS_PUBKEY_HASH\", "
		 "\"extended_public_key\": \"%s\", \"derivation_path\": "
		 "\"m/84'/1'/%u'\"}]}", name, key->str, acct);
	CHECK(wallet_parse_accounts_json(&a, &n, err, sizeof(err), "regtest",
					 json, strlen(json)));
	CHECK(wallet_import_accounts(w, &res, err, sizeof(err), a, n,
				     birthday));
	CHECK(res.added == 1);
	free(a);
}

struct tblock {
	struct rb_buf raw;
	struct chain_block *blk;
};

struct ttx {
	struct rb_in in[4];
	size_t nin;
	struct rb_out out[4];
	size_t nout;
};

static uint32_t tnonce;

static void make_block(struct tblock *b, const uint8_t prev[32],
		       const struct ttx *txs, size_t ntx)
{
	static const uint8_t op_true[] = { 0x51 };
	struct rb_out cbo = { 50 * 100000000ull, op_true, 1 };
	char err[200];
	memset(b, 0, sizeof(*b));
	rb_header(&b->raw, prev, 1700000000 + tnonce, 1 + ntx);
	rb_tx(&b->raw, NULL, 0, &cbo, 1, ++tnonce);
	for (size_t i = 0; i < ntx; i++)
		rb_tx(&b->raw, txs[i].in, txs[i].nin, txs[i].out, txs[i].nout,
		      ++tnonce);
	b->blk = chain_block_parse(b->raw.p, b->raw.len, err, sizeof(err));
	if (!b->blk) {
		fprintf(stderr, "block parse: %s\n", err);
		abort();
	}
}

static void free_block(struct tblock *b)
{
	chain_block_free(b->blk);
	free(b->raw.p);
}

static struct wallet *open_wallet(uint32_t gap)
{
	struct wallet *w = wallet_open(dbpath);
	CHECK(w != NULL);
	CHECK(wallet_configure(w, "regtest", gap));
	return w;
}

static void fresh_db(const char *name)
{
	snprintf(dbpath, sizeof(dbpath), "%s/%s.sqlite", dir, name);
}

static enum wallet_apply conn(struct wallet *w, uint32_t h,
			      const struct tblock *b)
{
	return wallet_block_connected(w, h, b->blk->hash, b->blk);
}

static enum wallet_apply disc(struct wallet *w, uint32_t h,
			      const struct tblock *b)
{
	return wallet_block_disconnected(w, h, b->blk->hash);
}

/* Confirmed balance of @account ("" all), min_confs 1. */
static int64_t confirmed(struct wallet *w, const char *account)
{
	struct wallet_balance b;
	int64_t c;
	CHECK(wallet_get_balance(w, &b, account, 1));
	c = b.confirmed;
	wallet_balance_clear(&b);
	/* the cache agrees with SQLite */
	CHECK(wallet_balance_compute(w, &b, account, 1));
	CHECK(b.confirmed == c);
	wallet_balance_clear(&b);
	return c;
}

static int64_t tip(struct wallet *w)
{
	int64_t h;
	uint8_t hash[32];
	return wallet_tip(w, &h, hash) ? h : -1;
}

/* Chain A 1..6 and branch B 4'..6' from A3, every block paying the
 * account 100 * height sat (B: 1000 * height), as a table of steps. */
static void test_results(void)
{
	struct tkey key;
	struct tblock a[7], b[7];
	uint8_t zero[32] = { 0 };
	struct script s = { 0 };

	tkey_random(&key, XKEY_NATIVE, false, 0);
	fresh_db("results");
	struct wallet *w = open_wallet(5);
	import(w, "default", &key, 0, -1);
	CHECK(wallet_next_height(w) == -1);
	for (int h = 1; h <= 6; h++) {
		struct ttx t = { .nin = 1, .nout = 1 };
		memset(t.in[0].txid, h, 32);
		s = p2wkh(&key, 0, (uint32_t)h % 3);
		t.out[0] = (struct rb_out){ 100u * h, s.s, s.len };
		make_block(&a[h], h == 1 ? zero : a[h - 1].blk->hash, &t, 1);
	}
	for (int h = 4; h <= 6; h++) {
		struct ttx t = { .nin = 1, .nout = 1 };
		memset(t.in[0].txid, 0x40 + h, 32);
		s = p2wkh(&key, 0, 1);
		t.out[0] = (struct rb_out){ 1000u * h, s.s, s.len };
		make_block(&b[h], h == 4 ? a[3].blk->hash : b[h - 1].blk->hash,
			   &t, 1);
	}
	static const struct step {
		char op;      /* c connect, d disconnect */
		char branch;  /* a or b */
		uint32_t h;
		enum wallet_apply want;
		int64_t tip, next, conf;
	} steps[] = {
		{ 'd', 'a', 1, WALLET_ALREADY, -1, -1, 0 },   /* nothing yet */
		{ 'c', 'a', 1, WALLET_APPLIED, 1, 2, 100 },  /* starts here */
		{ 'c', 'a', 1, WALLET_ALREADY, 1, 2, 100 },  /* replay */
		{ 'c', 'a', 3, WALLET_GAP, 1, 2, 100 },
		{ 'c', 'a', 2, WALLET_APPLIED, 2, 3, 300 },
		{ 'c', 'a', 3, WALLET_APPLIED, 3, 4, 600 },
		{ 'c', 'a', 4, WALLET_APPLIED, 4, 5, 1000 },
		{ 'c', 'b', 4, WALLET_FORK, 4, 5, 1000 },    /* same height */
		{ 'c', 'b', 5, WALLET_FORK, 4, 5, 1000 },    /* parent not tip */
		{ 'c', 'a', 2, WALLET_ALREADY, 4, 5, 1000 }, /* replay below */
		{ 'd', 'b', 4, WALLET_FORK, 4, 5, 1000 },    /* not ours */
		{ 'd', 'a', 3, WALLET_GAP, 4, 5, 1000 },     /* 4 first */
		{ 'd', 'a', 5, WALLET_ALREADY, 4, 5, 1000 }, /* above the tip */
		{ 'd', 'a', 4, WALLET_APPLIED, 3, 4, 600 },
		{ 'd', 'a', 4, WALLET_ALREADY, 3, 4, 600 },  /* replay */
		{ 'c', 'b', 4, WALLET_APPLIED, 4, 5, 4600 },
		{ 'c', 'b', 5, WALLET_APPLIED, 5, 6, 9600 },
		{ 'c', 'a', 5, WALLET_FORK, 5, 6, 9600 },
		{ 'c', 'b', 6, WALLET_APPLIED, 6, 7, 15600 },
		{ 'd', 'b', 6, WALLET_APPLIED, 5, 6, 9600 },
		{ 'd', 'b', 5, WALLET_APPLIED, 4, 5, 4600 },
		{ 'd', 'b', 4, WALLET_APPLIED, 3, 4, 600 },
		{ 'c', 'a', 4, WALLET_APPLIED, 4, 5, 1000 },
		{ 'c', 'a', 5, WALLET_APPLIED, 5, 6, 1500 },
		{ 'c', 'a', 6, WALLET_APPLIED, 6, 7, 2100 },
	};
	for (size_t i = 0; i < CN_ARRAY_SIZE(steps); i++) {
		const struct step *st = &steps[i];
		const struct tblock *blk = st->branch == 'a' ? &a[st->h]
							      : &b[st->h];
		enum wallet_apply r = st->op == 'c' ? conn(w, st->h, blk)
						    : disc(w, st->h, blk);
		if (r != st->want || tip(w) != st->tip ||
		    wallet_next_height(w) != st->next ||
		    confirmed(w, "") != st->conf)
			fprintf(stderr, "step %zu (%c %c%u): %s tip %" PRId64
				" next %" PRId64 " conf %" PRId64 "\n", i,
				st->op, st->branch, st->h,
				wallet_apply_name(r), tip(w),
				wallet_next_height(w), confirmed(w, ""));
		CHECK(r == st->want);
		CHECK(tip(w) == st->tip);
		CHECK(wallet_next_height(w) == st->next);
		CHECK(confirmed(w, "") == st->conf);
		/* Every step survives a reopen (what a kill -9 leaves). */
		if (i % 4 == 3) {
			wallet_free(w);
			w = open_wallet(5);
		}
	}
	wallet_free(w);
	for (int h = 1; h <= 6; h++) {
		free_block(&a[h]);
		if (h >= 4)
			free_block(&b[h]);
	}
}


/* Item 2 of issue 17: accounts imported with a birthday into a wallet
 * that has none (it started at the chain's tip) and is past it.  The
 * other accounts keep every coin (the scan used to be forgotten and
 * restarted from the birthday: coins before it were lost); the new one is
 * rescanned from its birthday while the tip stays, and ends as a wallet
 * that had both accounts from the start. */
static void test_import_later(void)
{
	struct tkey kx, ky;
	struct tblock a[8];
	uint8_t zero[32] = { 0 };
	struct script x0, x1, xc, y3, y4, y6;

	tkey_random(&kx, XKEY_NATIVE, false, 0);
	tkey_random(&ky, XKEY_NATIVE, false, 1);
	x0 = p2wkh(&kx, 0, 0);
	x1 = p2wkh(&kx, 0, 1);
	xc = p2wkh(&kx, 1, 0);
	y3 = p2wkh(&ky, 0, 3);
	y4 = p2wkh(&ky, 0, 4);
	y6 = p2wkh(&ky, 0, 6);
	struct ttx t[8][2];
	memset(t, 0, sizeof(t));
	for (int h = 1; h <= 7; h++) {
		t[h][0].nin = 1;
		memset(t[h][0].in[0].txid, 0x70 + h, 32);
	}
	t[1][0].nout = 1;
	t[1][0].out[0] = (struct rb_out){ 1000, x0.s, x0.len };
	t[2][0].nout = 1;
	t[2][0].out[0] = (struct rb_out){ 2000, x1.s, x1.len };
	t[3][0].nout = 2; /* y/0/4 moves y's gap: y/0/6 in block 5 is in */
	t[3][0].out[0] = (struct rb_out){ 10000, y3.s, y3.len };
	t[3][0].out[1] = (struct rb_out){ 20000, y4.s, y4.len };
	make_block(&a[1], zero, t[1], 1);
	make_block(&a[2], a[1].blk->hash, t[2], 1);
	make_block(&a[3], a[2].blk->hash, t[3], 1);
	/* block 4 spends y/0/3 with change to x/1/0 */
	t[4][0].nout = 1;
	memcpy(t[4][0].in[0].txid, a[3].blk->tx[1].txid, 32);
	t[4][0].in[0].vout = 0;
	t[4][0].out[0] = (struct rb_out){ 500, xc.s, xc.len };
	make_block(&a[4], a[3].blk->hash, t[4], 1);
	t[5][0].nout = 1;
	t[5][0].out[0] = (struct rb_out){ 30000, y6.s, y6.len };
	make_block(&a[5], a[4].blk->hash, t[5], 1);
	make_block(&a[6], a[5].blk->hash, NULL, 0);
	make_block(&a[7], a[6].blk->hash, NULL, 0);

	/* The reference: both accounts from block 1. */
	fresh_db("both");
	struct wallet *w = open_wallet(5);
	import(w, "x", &kx, 0, 1);
	import(w, "y", &ky, 1, 1);
	for (uint32_t h = 1; h <= 7; h++)
		CHECK(conn(w, h, &a[h]) == WALLET_APPLIED);
	int64_t want_x = confirmed(w, "x"), want_y = confirmed(w, "y");
	size_t want_watched = wallet_watched(w);
	CHECK(want_x == 3500 && want_y == 50000);
	wallet_free(w);

	/* x alone, no birthday: starts at the first block it is given. */
	fresh_db("later");
	w = open_wallet(5);
	import(w, "x", &kx, 0, -1);
	for (uint32_t h = 1; h <= 6; h++)
		CHECK(conn(w, h, &a[h]) == WALLET_APPLIED);
	CHECK(confirmed(w, "x") == 3500);
	/* y later, birthday 3. */
	import(w, "y", &ky, 1, 3);
	CHECK(confirmed(w, "x") == 3500); /* nothing lost */
	CHECK(tip(w) == 6);               /* the tip stays */
	CHECK(wallet_next_height(w) == 3 && wallet_rescan_height(w) == 3);
	CHECK(wallet_birthday(w) == 3);
	static const struct {
		uint32_t h;
		enum wallet_apply want;
		int64_t next;
	} steps[] = {
		{ 7, WALLET_GAP, 3 },     /* history first */
		{ 2, WALLET_ALREADY, 3 }, /* before the birthday */
		{ 4, WALLET_GAP, 3 },
		{ 3, WALLET_APPLIED, 4 },
		{ 3, WALLET_ALREADY, 4 }, /* replay */
		{ 4, WALLET_APPLIED, 5 },
		{ 0, WALLET_APPLIED, 5 }, /* 0: disconnect 6 (a reorg now) */
		{ 5, WALLET_APPLIED, 6 }, /* done: next is tip + 1 */
		{ 6, WALLET_APPLIED, 7 },
		{ 7, WALLET_APPLIED, 8 },
	};
	for (size_t i = 0; i < CN_ARRAY_SIZE(steps); i++) {
		enum wallet_apply r = steps[i].h ? conn(w, steps[i].h,
							&a[steps[i].h])
						 : disc(w, 6, &a[6]);
		if (r != steps[i].want || wallet_next_height(w) != steps[i].next)
			fprintf(stderr, "import later, step %zu: %s next %"
				PRId64 "\n", i, wallet_apply_name(r),
				wallet_next_height(w));
		CHECK(r == steps[i].want);
		CHECK(wallet_next_height(w) == steps[i].next);
		CHECK(confirmed(w, "x") == 3500);
		/* a kill -9 between any two blocks */
		wallet_free(w);
		w = open_wallet(5);
	}
	CHECK(wallet_rescan_height(w) == -1);
	CHECK(confirmed(w, "y") == want_y);
	CHECK(wallet_watched(w) == want_watched);
	wallet_free(w);
	for (int h = 1; h <= 7; h++)
		free_block(&a[h]);
}

/* Item 4 of issue 17: one block pays index 13, 8 and 3 of a gap-5 branch
 * in that order, then spends the index-13 coin to index 17.  Each found
 * payment brings the one before it into the gap: the block is scanned
 * again until nothing new is derived (btcwallet does the same). */
static void test_gap_order(void)
{
	struct tkey k;
	struct tblock b1, b2;
	uint8_t zero[32] = { 0 };
	struct script s13, s8, s3, s17, s22;

	tkey_random(&k, XKEY_NATIVE, false, 0);
	s13 = p2wkh(&k, 0, 13);
	s8 = p2wkh(&k, 0, 8);
	s3 = p2wkh(&k, 0, 3);
	s17 = p2wkh(&k, 0, 17);
	s22 = p2wkh(&k, 0, 22);
	struct ttx t[4];
	memset(t, 0, sizeof(t));
	for (int i = 0; i < 3; i++) {
		t[i].nin = 1;
		memset(t[i].in[0].txid, 0x90 + i, 32);
		t[i].nout = 1;
	}
	t[0].out[0] = (struct rb_out){ 1300, s13.s, s13.len };
	t[1].out[0] = (struct rb_out){ 800, s8.s, s8.len };
	t[2].out[0] = (struct rb_out){ 300, s3.s, s3.len };
	make_block(&b1, zero, t, 3);
	/* the spend needs the first transaction's id: build again with it */
	free_block(&b1);
	tnonce -= 4;
	t[3].nin = 1;
	t[3].nout = 1;
	t[3].out[0] = (struct rb_out){ 1700, s17.s, s17.len };
	make_block(&b1, zero, t, 3);
	memcpy(t[3].in[0].txid, b1.blk->tx[1].txid, 32);
	free_block(&b1);
	tnonce -= 4;
	make_block(&b1, zero, t, 4);
	CHECK(!memcmp(b1.blk->tx[4].in[0].prevout.txid, b1.blk->tx[1].txid,
		      32));
	/* next block: index 22, in the gap only once 17 is found */
	struct ttx u = { .nin = 1, .nout = 1 };
	memset(u.in[0].txid, 0x99, 32);
	u.out[0] = (struct rb_out){ 2200, s22.s, s22.len };
	make_block(&b2, b1.blk->hash, &u, 1);

	fresh_db("gap");
	struct wallet *w = open_wallet(5);
	import(w, "default", &k, 0, 1);
	CHECK(wallet_watched(w) == 10);
	CHECK(conn(w, 1, &b1) == WALLET_APPLIED);
	/* 13 spent in the block; 8, 3 and 17 ours */
	CHECK(confirmed(w, "") == 800 + 300 + 1700);
	CHECK(wallet_watched(w) == 18 + 5 + 5);
	CHECK(conn(w, 2, &b2) == WALLET_APPLIED);
	CHECK(confirmed(w, "") == 800 + 300 + 1700 + 2200);
	/* undone and applied again: the same */
	CHECK(disc(w, 2, &b2) == WALLET_APPLIED);
	CHECK(disc(w, 1, &b1) == WALLET_APPLIED);
	CHECK(confirmed(w, "") == 0);
	CHECK(conn(w, 1, &b1) == WALLET_APPLIED);
	CHECK(conn(w, 2, &b2) == WALLET_APPLIED);
	CHECK(confirmed(w, "") == 800 + 300 + 1700 + 2200);
	wallet_free(w);
	free_block(&b1);
	free_block(&b2);
}

/* Mainnet scale: a real 2,500-transaction mainnet block (none of its
 * outputs ours: applied, replayed, undone), then on top of it a
 * 2,500-transaction block paying 300 indexes of one branch in descending
 * order (each pass of the gap-limit loop finds the next 10) and spending
 * 100 of those coins later in the same block. */
#ifndef CN_BLOCKS_DIR
#define CN_BLOCKS_DIR "tests/data/blocks"
#endif
static void test_big_blocks(void)
{
	char path[512], err[200];
	FILE *f;
	struct rb_buf real = { 0 };
	uint8_t buf[65536];
	size_t n;
	struct tkey k;

	snprintf(path, sizeof(path), "%s/mainnet-702861.raw", CN_BLOCKS_DIR);
	f = fopen(path, "rb");
	CHECK(f != NULL);
	if (!f)
		return;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		rb_put(&real, buf, n);
	fclose(f);
	struct chain_block *rb = chain_block_parse(real.p, real.len, err,
						   sizeof(err));
	CHECK(rb != NULL && rb->n_tx == 2500);
	if (!rb)
		return;

	tkey_random(&k, XKEY_NATIVE, false, 0);
	fresh_db("big");
	struct wallet *w = open_wallet(10);
	import(w, "default", &k, 0, 702861);
	CHECK(wallet_block_connected(w, 702861, rb->hash, rb) ==
	      WALLET_APPLIED);
	CHECK(wallet_block_connected(w, 702861, rb->hash, rb) ==
	      WALLET_ALREADY);
	CHECK(confirmed(w, "") == 0);

	enum { NTX = 2500, PAID = 300, SPENT = 100 };
	struct script *sc = calloc(PAID, sizeof(*sc));
	struct ttx *t = calloc(NTX - 1, sizeof(*t));
	for (uint32_t i = 0; i < PAID; i++)
		sc[i] = p2wkh(&k, 0, i);
	uint8_t other[22] = { 0x00, 20 };
	int64_t want = 0;
	for (size_t i = 0; i < NTX - 1; i++) {
		t[i].nin = 1;
		randombytes_buf(t[i].in[0].txid, 32);
		t[i].nout = 1;
		if (i < PAID) {
			/* index 299 first, 0 last */
			uint32_t idx = PAID - 1 - (uint32_t)i;
			t[i].out[0] = (struct rb_out){ 1000 + idx, sc[idx].s,
						       sc[idx].len };
		} else {
			t[i].out[0] = (struct rb_out){ 5000, other,
						       sizeof(other) };
		}
	}
	/* The spends need the paying transactions' ids: build, read them,
	 * build again with the same nonces. */
	struct tblock big;
	uint32_t nonce0 = tnonce;
	make_block(&big, rb->hash, t, NTX - 1);
	for (size_t j = 0; j < SPENT; j++) {
		size_t spender = PAID + 50 + j, paid = j * 3;
		memcpy(t[spender].in[0].txid, big.blk->tx[1 + paid].txid, 32);
		t[spender].in[0].vout = 0;
	}
	free_block(&big);
	tnonce = nonce0;
	make_block(&big, rb->hash, t, NTX - 1);
	CHECK(big.blk->n_tx == NTX);
	for (size_t i = 0; i < PAID; i++)
		want += 1000 + (int64_t)(PAID - 1 - i);
	for (size_t j = 0; j < SPENT; j++)
		want -= 1000 + (int64_t)(PAID - 1 - j * 3);
	CHECK(conn(w, 702862, &big) == WALLET_APPLIED);
	CHECK(confirmed(w, "") == want);
	/* used 300, gap 10: both branches derived */
	CHECK(wallet_watched(w) == 310 + 10);
	CHECK(disc(w, 702862, &big) == WALLET_APPLIED);
	CHECK(confirmed(w, "") == 0);
	CHECK(wallet_block_disconnected(w, 702861, rb->hash) ==
	      WALLET_APPLIED);
	CHECK(wallet_next_height(w) == 702861);
	wallet_free(w);
	free_block(&big);
	free(t);
	free(sc);
	chain_block_free(rb);
	free(real.p);
}

/* The "scanned block" debug line names the block as bitcoin-cli and block
 * explorers do: display order (issue 17: it printed internal order). */
static void test_log_hash(void)
{
	struct tkey key;
	struct tblock b;
	uint8_t zero[32] = { 0 };
	char want[65], internal[65], line[512];
	bool found = false, wrong = false;
	FILE *f = tmpfile();

	CHECK(f != NULL);
	if (!f)
		return;
	tkey_random(&key, XKEY_NATIVE, false, 0);
	make_block(&b, zero, NULL, 0);
	hex_encode_reversed(want, b.blk->hash, 32);
	hex_encode(internal, b.blk->hash, 32);
	fresh_db("log");
	struct wallet *w = open_wallet(5);
	import(w, "default", &key, 0, 1);
	log_set_stream(f);
	CHECK(log_set_level("WLLT", LOG_DEBUG));
	CHECK(conn(w, 1, &b) == WALLET_APPLIED);
	CHECK(log_set_level("WLLT", LOG_INFO));
	log_set_stream(stderr);
	rewind(f);
	while (fgets(line, sizeof(line), f)) {
		if (!strstr(line, "scanned block 1 "))
			continue;
		found |= strstr(line, want) != NULL;
		wrong |= strstr(line, internal) != NULL;
	}
	fclose(f);
	CHECK(found && !wrong);
	wallet_free(w);
	free_block(&b);
}

int main(void)
{
	cn_crypto_init();
	if (!mkdtemp(dir))
		return 2;
	test_decide();
	test_results();
	test_import_later();
	test_gap_order();
	test_big_blocks();
	test_log_hash();
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		return 2;
	return check_exit();
}
