/*~ wallet: the balance cache.  A metrics scrape (collect_wallet) and every
 * monitor's WalletBalance poll ask for the same answer (all accounts,
 * min_confs 1); computing it is a SQLite pass over every coin (46 ms at
 * 100,000 outputs, docs/benchmarks.md), so it is computed once and kept
 * until the wallet changes.
 *
 * Why a cache and not balances kept up to date row by row: the answer then
 * comes from the one SQL query that defines it (wallet_balance_compute), so
 * the cache is right whenever its invalidation is; and invalidation is
 * simple to check: every function that writes coins, accounts, the
 * listunspent set or the tip calls wallet_balance_invalidate first.  The
 * one exception is wallet_mempool, which the chain module calls on every
 * poll with the whole mempool, changed or not: it rewrites the unconfirmed
 * rows each time, so it keeps a SHA256 of the rows it may touch (coins at
 * height 0 and coins marked spent by a mempool transaction, all columns,
 * in key order) and invalidates only when that digest changed.
 */
#include "wallet/wallet_priv.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

void wallet_balance_invalidate(struct wallet *w)
{
	wallet_balance_clear(&w->bal);
	w->bal_valid = false;
	w->mp_digest_valid = false;
}

static void put_i64(crypto_hash_sha256_state *h, sqlite3_stmt *st, int col)
{
	uint8_t le[9];
	int64_t v = sqlite3_column_int64(st, col);
	/* NULL (spent_height) hashes apart from every number. */
	le[8] = sqlite3_column_type(st, col) == SQLITE_NULL;
	for (int i = 0; i < 8; i++)
		le[i] = (uint8_t)((uint64_t)v >> (8 * i));
	crypto_hash_sha256_update(h, le, sizeof(le));
}

/* SHA256 of every row wallet_mempool may write, in key order. */
static bool mempool_digest(struct wallet *w, uint8_t out[32])
{
	crypto_hash_sha256_state h;
	sqlite3_stmt *st = NULL;
	uint64_t rows = 0;
	uint8_t n[8];
	int rc;

	if (sqlite3_prepare_v2(w->db,
			       "SELECT txid, vout, value, account_id, height,"
			       " coinbase, spent_height, spent_mempool"
			       " FROM coins WHERE height = 0 OR"
			       " spent_mempool != 0 ORDER BY txid, vout",
			       -1, &st, NULL) != SQLITE_OK) {
		sqlite3_finalize(st);
		return false;
	}
	crypto_hash_sha256_init(&h);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		uint8_t len = (uint8_t)sqlite3_column_bytes(st, 0);
		crypto_hash_sha256_update(&h, &len, 1);
		crypto_hash_sha256_update(&h, sqlite3_column_blob(st, 0), len);
		for (int c = 1; c < 8; c++)
			put_i64(&h, st, c);
		rows++;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return false;
	for (int i = 0; i < 8; i++)
		n[i] = (uint8_t)(rows >> (8 * i));
	crypto_hash_sha256_update(&h, n, sizeof(n));
	crypto_hash_sha256_final(&h, out);
	return true;
}

void wallet_balance_mempool_done(struct wallet *w)
{
	uint8_t d[32];

	if (!mempool_digest(w, d)) {
		wallet_balance_invalidate(w);
		return;
	}
	/* Unchanged since the last digest, and nothing else written since
	 * (that would have cleared mp_digest_valid): the coins are the same
	 * rows as when the cache was filled. */
	if (w->mp_digest_valid && memcmp(d, w->mp_digest, 32) == 0)
		return;
	wallet_balance_invalidate(w);
	memcpy(w->mp_digest, d, 32);
	w->mp_digest_valid = true;
}

uint64_t wallet_balance_computes(const struct wallet *w)
{
	return w->bal_computes;
}

bool wallet_get_balance(struct wallet *w, struct wallet_balance *out,
			const char *account, int32_t min_confs)
{
	bool all = !account || !account[0];
	const struct wallet_account_balance *a = NULL;

	memset(out, 0, sizeof(*out));
	/* lnd's rpcserver.go WalletBalance: "if in.MinConfs <= 0 {
	 * in.MinConfs = 1 }". */
	if (min_confs <= 0)
		min_confs = 1;
	/* Other min_confs are rare (coldctl --min_confs): computed.  So is a
	 * filter on a listunspent set, whose per-account locked amount the
	 * cached answer does not keep. */
	if (min_confs != 1 || (!all && !wallet_has_accounts(w)))
		return wallet_balance_compute(w, out, account, min_confs);
	if (!w->bal_valid) {
		if (!wallet_balance_compute(w, &w->bal, NULL, 1))
			return false;
		w->bal_valid = true;
		w->bal_computes++;
	}
	if (all) {
		*out = w->bal;
		out->accounts = NULL;
		if (w->bal.num_accounts) {
			out->accounts = malloc(w->bal.num_accounts *
					       sizeof(*out->accounts));
			if (!out->accounts) {
				memset(out, 0, sizeof(*out));
				return false;
			}
			memcpy(out->accounts, w->bal.accounts,
			       w->bal.num_accounts * sizeof(*out->accounts));
		}
		return true;
	}
	for (size_t i = 0; i < w->bal.num_accounts; i++)
		if (strcmp(w->bal.accounts[i].account, account) == 0)
			a = &w->bal.accounts[i];
	/* lnd: ListAccounts(name) fails with "account %v not found". */
	if (!a) {
		out->not_found = true;
		return false;
	}
	out->accounts = malloc(sizeof(*out->accounts));
	if (!out->accounts)
		return false;
	out->accounts[0] = *a;
	out->num_accounts = 1;
	out->confirmed = a->confirmed;
	out->unconfirmed = a->unconfirmed;
	out->total = a->confirmed + a->unconfirmed;
	return true;
}

/* ---- balances from the chain scan ---- */

bool wallet_scan_balance(struct wallet *w, struct wallet_balance *out,
			 const char *account, int32_t min_confs)
{
	sqlite3_stmt *st = NULL;
	bool all = !account || !account[0];
	int64_t tip = w->have_tip ? w->tip_height : 0;
	int rc;

	/* btcwallet's ListUnspent, which lnd's ConfirmedBalance sums: unspent
	 * outputs not spent by a mempool transaction, immature coinbase
	 * outputs left out; confirmations = tip - height + 1. */
	if (sqlite3_prepare_v2(
		    w->db,
		    "SELECT a.name,"
		    " TOTAL(CASE WHEN c.height > 0 AND ?1 - c.height + 1 >= ?2"
		    "  THEN c.value ELSE 0 END),"
		    " TOTAL(c.value)"
		    " FROM accounts a LEFT JOIN coins c ON c.account_id = a.id"
		    "  AND c.spent_height IS NULL AND c.spent_mempool = 0"
		    "  AND NOT (c.coinbase AND (c.height = 0 OR"
		    "   ?1 - c.height + 1 < ?3))"
		    " WHERE a.purpose IN (49, 84, 86) AND (?4 OR a.name = ?5)"
		    " GROUP BY a.name ORDER BY a.name",
		    -1, &st, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_bind_int64(st, 1, tip);
	sqlite3_bind_int(st, 2, min_confs);
	sqlite3_bind_int(st, 3, COINBASE_MATURITY);
	sqlite3_bind_int(st, 4, all);
	sqlite3_bind_text(st, 5, all ? "" : account, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct wallet_account_balance *a = realloc(
			out->accounts, (out->num_accounts + 1) * sizeof(*a));
		if (!a)
			goto fail;
		out->accounts = a;
		a = &a[out->num_accounts++];
		memset(a, 0, sizeof(*a));
		snprintf(a->account, sizeof(a->account), "%s",
			 (const char *)sqlite3_column_text(st, 0));
		a->confirmed = (int64_t)sqlite3_column_double(st, 1);
		a->unconfirmed = (int64_t)sqlite3_column_double(st, 2) -
				 a->confirmed;
		out->confirmed += a->confirmed;
		out->unconfirmed += a->unconfirmed;
	}
	if (rc != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(st);
	out->total = out->confirmed + out->unconfirmed;
	/* lnd: ListAccounts(name) fails with "account %v not found". */
	if (!all && out->num_accounts == 0) {
		out->not_found = true;
		return false;
	}
	return true;
fail:
	log_unusual(SUBSYS, "balance query on %s failed: %s", w->path,
		    sqlite3_errmsg(w->db));
	sqlite3_finalize(st);
	wallet_balance_clear(out);
	return false;
}

