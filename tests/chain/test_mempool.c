/* chain/mempool: the mempool cache fetches each txid once, drops what left
 * the mempool, asks again for what was not answered, and leaves out
 * transactions that do not parse or are not the one asked for. */
#include "chain/block.h"
#include "chain/mempool.h"
#include "check.h"
#include "../wallet/rawblock.h"

#include <stdlib.h>
#include <string.h>

/* A one-input, one-output transaction; its txid in @id. */
static void make_tx(struct rb_buf *b, uint8_t id[32], uint32_t nonce)
{
	struct rb_in in = { { 0 }, 0 };
	static const uint8_t s[] = { 0x51 };
	struct rb_out out = { 1000 + nonce, s, 1 };
	char err[96];
	memset(b, 0, sizeof(*b));
	in.txid[0] = (uint8_t)nonce;
	rb_tx(b, &in, 1, &out, 1, nonce);
	struct chain_tx *tx = chain_tx_parse(b->p, b->len, err, sizeof(err));
	if (!tx)
		abort();
	memcpy(id, tx->txid, 32);
	chain_tx_free(tx);
}

int main(void)
{
	struct rb_buf raw[4];
	uint8_t ids[4][32], want[8][32];
	size_t n;
	for (uint32_t i = 0; i < 4; i++)
		make_tx(&raw[i], ids[i], i + 1);

	struct chain_mempool *m = chain_mempool_new();
	/* Poll 1: txs 0, 1, 2 (and a duplicate). */
	uint8_t p1[4][32];
	memcpy(p1[0], ids[0], 32);
	memcpy(p1[1], ids[1], 32);
	memcpy(p1[2], ids[2], 32);
	memcpy(p1[3], ids[1], 32);
	CHECK(chain_mempool_set(m, (const uint8_t (*)[32])p1, 4) == 3);
	CHECK(chain_mempool_next(m, want, 2) == 2);
	CHECK(chain_mempool_next(m, want + 2, 8) == 1);
	CHECK(chain_mempool_next(m, want, 8) == 0);
	chain_mempool_add(m, ids[0], raw[0].p, raw[0].len);
	/* tx 1 answered with tx 3's bytes: not the one asked for. */
	chain_mempool_add(m, ids[1], raw[3].p, raw[3].len);
	/* tx 2 not fetched (gone meanwhile). */
	chain_mempool_add(m, ids[2], NULL, 0);
	const struct chain_tx *const *txs = chain_mempool_txs(m, &n);
	CHECK(n == 1 && memcmp(txs[0]->txid, ids[0], 32) == 0);

	/* Poll 2: tx 0 stays (not fetched again), 2 left, 3 is new. */
	uint8_t p2[2][32];
	memcpy(p2[0], ids[3], 32);
	memcpy(p2[1], ids[0], 32);
	CHECK(chain_mempool_set(m, (const uint8_t (*)[32])p2, 2) == 2);
	CHECK(chain_mempool_next(m, want, 8) == 1);
	CHECK(memcmp(want[0], ids[3], 32) == 0);
	/* Not answered before the next poll: asked again then. */
	CHECK(chain_mempool_set(m, (const uint8_t (*)[32])p2, 2) == 2);
	CHECK(chain_mempool_next(m, want, 8) == 1);
	chain_mempool_add(m, ids[3], raw[3].p, raw[3].len);
	/* garbage bytes are left out */
	chain_mempool_add(m, ids[0], (const uint8_t *)"xx", 2);
	txs = chain_mempool_txs(m, &n);
	CHECK(n == 2);
	/* Empty mempool. */
	CHECK(chain_mempool_set(m, NULL, 0) == 0);
	txs = chain_mempool_txs(m, &n);
	CHECK(n == 0);
	chain_mempool_free(m);
	chain_mempool_free(NULL);

	/* A mempool larger than the old 50,000 cap (mainnet peaks hold
	 * 100,000 to 300,000): every txid is followed and asked for once,
	 * in bounded batches, none dropped by a cut before sorting. */
	size_t big = 120000;
	uint8_t (*bids)[32] = calloc(big, 32), (*got)[32] = calloc(big, 32);
	CHECK(bids && got);
	for (size_t i = 0; i < big; i++) {
		/* reverse order: the last ones would be cut */
		size_t v = big - 1 - i;
		bids[i][0] = (uint8_t)v;
		bids[i][1] = (uint8_t)(v >> 8);
		bids[i][2] = (uint8_t)(v >> 16);
		bids[i][31] = 0x5a;
	}
	m = chain_mempool_new();
	CHECK(chain_mempool_set(m, (const uint8_t (*)[32])bids, big) == big);
	size_t total = 0, k;
	while ((k = chain_mempool_next(m, got + total, 100)) > 0) {
		CHECK(k <= 100);
		total += k;
		if (total > big)
			break;
	}
	CHECK(total == big);
	/* each exactly once */
	bool *seen = calloc(big, 1);
	size_t once = 0;
	for (size_t i = 0; i < total && i < big; i++) {
		size_t v = got[i][0] | (size_t)got[i][1] << 8 |
			   (size_t)got[i][2] << 16;
		if (v < big && !seen[v]) {
			seen[v] = true;
			once++;
		}
	}
	CHECK(once == big);
	/* The next poll with the same mempool asks for nothing again that
	 * was answered, and again for what was not. */
	for (size_t i = 0; i < big / 2; i++)
		chain_mempool_add(m, got[i], NULL, 0);
	CHECK(chain_mempool_set(m, (const uint8_t (*)[32])bids, big) == big);
	total = 0;
	while ((k = chain_mempool_next(m, got, 100)) > 0)
		total += k;
	CHECK(total == big - big / 2);
	chain_mempool_free(m);
	free(seen);

	/* Pushed transactions (ZMQ rawtx): in the view at once, without a
	 * fetch; pushed twice, once; garbage refused; a poll answer asked
	 * before a push (chain_mempool_mark) keeps it, the next one without
	 * it drops it; a pushed txid is never fetched. */
	m = chain_mempool_new();
	CHECK(chain_mempool_set(m, (const uint8_t (*)[32])ids, 2) == 2);
	CHECK(chain_mempool_next(m, want, 8) == 2);
	CHECK(chain_mempool_push(m, raw[1].p, raw[1].len)); /* answers 1 */
	CHECK(chain_mempool_push(m, raw[2].p, raw[2].len));
	CHECK(chain_mempool_push(m, raw[2].p, raw[2].len));
	CHECK(!chain_mempool_push(m, (const uint8_t *)"xx", 2));
	txs = chain_mempool_txs(m, &n);
	CHECK(n == 2); /* 1 and 2; 0 still being fetched */
	chain_mempool_add(m, ids[0], raw[0].p, raw[0].len);
	chain_mempool_add(m, ids[1], NULL, 0); /* the push stays */
	txs = chain_mempool_txs(m, &n);
	CHECK(n == 3);
	/* Handed up whole: nothing new until the next push. */
	txs = chain_mempool_new_txs(m, &n);
	CHECK(n == 0);
	chain_mempool_mark(m);
	CHECK(chain_mempool_push(m, raw[3].p, raw[3].len)); /* after mark */
	CHECK(chain_mempool_push(m, raw[3].p, raw[3].len));
	txs = chain_mempool_new_txs(m, &n);
	CHECK(n == 1 && !memcmp(txs[0]->txid, ids[3], 32));
	txs = chain_mempool_new_txs(m, &n);
	CHECK(n == 0);
	/* The answer (taken before 3 arrived) holds 0 and 2 only. */
	uint8_t p3[2][32];
	memcpy(p3[0], ids[0], 32);
	memcpy(p3[1], ids[2], 32);
	CHECK(chain_mempool_set(m, (const uint8_t (*)[32])p3, 2) == 3);
	CHECK(chain_mempool_next(m, want, 8) == 0);
	txs = chain_mempool_txs(m, &n);
	CHECK(n == 3);
	chain_mempool_mark(m);
	CHECK(chain_mempool_set(m, (const uint8_t (*)[32])p3, 2) == 2);
	txs = chain_mempool_txs(m, &n);
	CHECK(n == 2);
	chain_mempool_free(m);
	free(bids);
	free(got);
	for (int i = 0; i < 4; i++)
		free(raw[i].p);
	return check_exit();
}
