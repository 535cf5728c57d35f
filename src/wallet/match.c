/*~ match: a block's or the mempool's transactions against the watched
 * scripts (outputs become coins) and our outpoints (inputs spend them),
 * written through prepared statements inside the caller's transaction.  A
 * block is passed over again while the gap limit moved (horizon.c).
 */
#include "wallet/wallet_priv.h"
#include "chain/block.h"

#include <stdlib.h>
#include <string.h>

void wallet_stmts_free(struct wallet_stmts *s)
{
	sqlite3_finalize(s->ins_coin);
	sqlite3_finalize(s->spend);
	sqlite3_finalize(s->used);
}

bool wallet_stmts_prepare(struct wallet *w, struct wallet_stmts *s)
{
	memset(s, 0, sizeof(*s));
	return sqlite3_prepare_v2(w->db,
				  "INSERT OR REPLACE INTO coins (txid, vout, "
				  "value, script, account_id, height, coinbase, "
				  "spent_height, spent_mempool) VALUES "
				  "(?,?,?,?,?,?,?,NULL,0)",
				  -1, &s->ins_coin, NULL) == SQLITE_OK &&
	       sqlite3_prepare_v2(w->db,
				  "UPDATE coins SET spent_height = ?3 WHERE "
				  "txid = ?1 AND vout = ?2",
				  -1, &s->spend, NULL) == SQLITE_OK &&
	       sqlite3_prepare_v2(w->db,
				  "INSERT OR REPLACE INTO branches (account_id, "
				  "branch, used_next) VALUES (?,?,?)",
				  -1, &s->used, NULL) == SQLITE_OK;
}

bool wallet_add_coin(struct wallet *w, struct wallet_stmts *s,
		     const struct chain_tx *tx, uint32_t vout, uint64_t val,
		     int64_t height, bool coinbase)
{
	const struct chain_txout *o = &tx->out[vout];
	size_t ai = val >> 40;
	int branch = (val >> 32) & 0xff;
	uint32_t idx = val & 0xffffffffu;
	struct wacct *a = &w->accts[ai];
	uint8_t key[36];

	/* Values above 21e6 BTC cannot be valid; a block the node accepted
	 * never has them, a bad mempool entry is ignored. */
	if (o->value_sat > (uint64_t)WALLET_MAX_SAT)
		return true;
	sqlite3_bind_blob(s->ins_coin, 1, tx->txid, 32, SQLITE_STATIC);
	sqlite3_bind_int64(s->ins_coin, 2, vout);
	sqlite3_bind_int64(s->ins_coin, 3, (int64_t)o->value_sat);
	sqlite3_bind_blob(s->ins_coin, 4, o->script, (int)o->script_len,
			  SQLITE_STATIC);
	sqlite3_bind_int64(s->ins_coin, 5, a->id);
	sqlite3_bind_int64(s->ins_coin, 6, height);
	sqlite3_bind_int(s->ins_coin, 7, coinbase);
	if (!wallet_step_done(s->ins_coin))
		return false;
	wallet_outpoint_key(key, tx->txid, vout);
	if (!wmap_put(&w->outpoints, key, sizeof(key), 1))
		return false;
	if (idx + 1 > a->used_next[branch]) {
		a->used_next[branch] = idx + 1;
		sqlite3_bind_int64(s->used, 1, a->id);
		sqlite3_bind_int(s->used, 2, branch);
		sqlite3_bind_int64(s->used, 3, a->used_next[branch]);
		if (!wallet_step_done(s->used) ||
		    !wallet_derive_to(w, ai, branch, wallet_want_derived(w, a, branch)))
			return false;
	}
	return true;
}

/* One pass over @blk's transactions in block order: inputs spending our
 * coins, then outputs paying watched scripts of the accounts @how scans.
 * @seen: outpoints stored by an earlier pass over this block (skipped). */
static bool scan_pass(struct wallet *w, struct wallet_stmts *s,
		      uint32_t height, const struct chain_block *blk,
		      enum wallet_scan_how how, struct wmap *seen)
{
	for (size_t t = 0; t < blk->n_tx; t++) {
		const struct chain_tx *tx = &blk->tx[t];
		/* The coinbase's one input spends nothing.  A spend of a
		 * coin we hold is a spend whatever the pass: the block is
		 * in the node's chain. */
		for (size_t i = 0; t > 0 && i < tx->n_in; i++) {
			uint8_t key[36];
			wallet_outpoint_key(key, tx->in[i].prevout.txid,
				     tx->in[i].prevout.vout);
			if (!wmap_del(&w->outpoints, key, sizeof(key)))
				continue;
			sqlite3_bind_blob(s->spend, 1, key, 32, SQLITE_STATIC);
			sqlite3_bind_int64(s->spend, 2, tx->in[i].prevout.vout);
			sqlite3_bind_int64(s->spend, 3, height);
			if (!wallet_step_done(s->spend))
				return false;
		}
		for (size_t o = 0; o < tx->n_out; o++) {
			uint64_t val;
			uint8_t key[36];
			if (tx->out[o].script_len > WALLET_MAX_SCRIPT ||
			    !wmap_get(&w->scripts, tx->out[o].script,
				      tx->out[o].script_len, &val))
				continue;
			if (how == WALLET_SCAN_RESCAN &&
			    w->accts[val >> 40].rescan_next != (int64_t)height)
				continue;
			wallet_outpoint_key(key, tx->txid, (uint32_t)o);
			if (seen->n && wmap_get(seen, key, sizeof(key), NULL))
				continue;
			if (!wallet_add_coin(w, s, tx, (uint32_t)o, val, height,
				      t == 0) ||
			    !wmap_put(seen, key, sizeof(key), 1))
				return false;
		}
	}
	return true;
}

/* The gap limit moves as payments are found, and a block may pay index 25
 * before index 5 (which brings 25 inside the gap): while a pass derived new
 * scripts, pass again, as btcwallet rescans a block whose addresses grew.
 * Ends: each further pass needs a coin at an index never seen before. */
bool wallet_scan_block(struct wallet *w, struct wallet_stmts *s,
		       uint32_t height, const struct chain_block *blk,
		       enum wallet_scan_how how)
{
	struct wmap seen;
	uint64_t before;
	bool ok = true;

	if (!wmap_init(&seen))
		return false;
	do {
		before = wallet_derived_total(w);
		ok = scan_pass(w, s, height, blk, how, &seen);
	} while (ok && wallet_derived_total(w) != before);
	wmap_clear(&seen);
	return ok;
}

/* replace: @txs are the whole mempool (the previous view is dropped);
 * otherwise they join the view (pushed by ZMQ rawtx). */
static bool mempool_match(struct wallet *w, const struct chain_tx *const *txs,
			  size_t n, bool replace)
{
	struct wallet_stmts s;
	sqlite3_stmt *mspend = NULL, *mhave = NULL;
	bool ok = false;

	if (!wallet_stmts_prepare(w, &s) ||
	    sqlite3_prepare_v2(w->db, "UPDATE coins SET spent_mempool = 1 "
			       "WHERE txid = ? AND vout = ?", -1, &mspend,
			       NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(w->db, "SELECT 1 FROM coins WHERE txid = ? "
			       "AND vout = ?", -1, &mhave, NULL) != SQLITE_OK) {
		wallet_stmts_free(&s);
		sqlite3_finalize(mspend);
		sqlite3_finalize(mhave);
		return false;
	}
	if (!wallet_exec(w, "BEGIN IMMEDIATE;"))
		goto fail;
	if (replace &&
	    !wallet_exec(w, "DELETE FROM coins WHERE height = 0;"
			 "UPDATE coins SET spent_mempool = 0 WHERE "
			 "spent_mempool != 0;"))
		goto out;
	/* Outputs first: a mempool transaction may spend another's output
	 * listed after it. */
	for (size_t t = 0; t < n; t++)
		for (size_t o = 0; o < txs[t]->n_out; o++) {
			uint64_t val;
			const struct chain_txout *out = &txs[t]->out[o];
			int rc;
			if (out->script_len > WALLET_MAX_SCRIPT ||
			    !wmap_get(&w->scripts, out->script,
				      out->script_len, &val))
				continue;
			/* Already confirmed (a stale mempool list): keep the
			 * confirmed row, spent or not.  Asked of the table:
			 * the outpoint map still holds the previous poll's
			 * mempool coins, deleted above, and skipping those
			 * lost them on every other poll. */
			sqlite3_bind_blob(mhave, 1, txs[t]->txid, 32,
					  SQLITE_STATIC);
			sqlite3_bind_int64(mhave, 2, (int64_t)o);
			rc = sqlite3_step(mhave);
			sqlite3_reset(mhave);
			if (rc == SQLITE_ROW)
				continue;
			if (rc != SQLITE_DONE)
				goto out;
			if (!wallet_add_coin(w, &s, txs[t], (uint32_t)o, val, 0, false))
				goto out;
		}
	for (size_t t = 0; t < n; t++)
		for (size_t i = 0; i < txs[t]->n_in; i++) {
			const struct chain_outpoint *p = &txs[t]->in[i].prevout;
			uint8_t key[36];
			wallet_outpoint_key(key, p->txid, p->vout);
			if (!wmap_get(&w->outpoints, key, sizeof(key), NULL))
				continue;
			sqlite3_bind_blob(mspend, 1, p->txid, 32, SQLITE_STATIC);
			sqlite3_bind_int64(mspend, 2, p->vout);
			if (!wallet_step_done(mspend))
				goto out;
		}
	ok = wallet_set_updated(w);
out:
	ok = wallet_tx_end(w, ok);
fail:
	wallet_stmts_free(&s);
	sqlite3_finalize(mspend);
	sqlite3_finalize(mhave);
	/* Mempool coins that left are still in the outpoint table. */
	if (!wallet_reload_coins(w))
		ok = false;
	wallet_balance_mempool_done(w);
	return ok;
}

bool wallet_mempool(struct wallet *w, const struct chain_tx *const *txs,
		    size_t n)
{
	return mempool_match(w, txs, n, true);
}

bool wallet_mempool_add(struct wallet *w, const struct chain_tx *const *txs,
			size_t n)
{
	return mempool_match(w, txs, n, false);
}
