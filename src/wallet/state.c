/*~ state: the wallet's in-memory view rebuilt from SQLite (the truth):
 * accounts and their scripts, our unspent outpoints, the tip, the
 * birthday and pending rescans; and the getters on it.  Called at
 * configure time and after anything that may have left memory ahead of the
 * database (a failed transaction, an undo, a new mempool view).
 */
#include "wallet/wallet_priv.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void wallet_scan_clear(struct wallet *w)
{
	free(w->accts);
	w->accts = NULL;
	w->num_accts = 0;
	wmap_clear(&w->scripts);
	wmap_clear(&w->outpoints);
}

void wallet_outpoint_key(uint8_t key[36], const uint8_t txid[32],
			 uint32_t vout)
{
	memcpy(key, txid, 32);
	le32_put(key + 32, vout);
}

/* w->rescan_next from the accounts' (an account whose key is unusable, or
 * not scanned, never holds a rescan back). */
void wallet_rescan_refresh(struct wallet *w)
{
	w->rescan_next = -1;
	for (size_t i = 0; i < w->num_accts; i++) {
		int64_t r = w->accts[i].rescan_next;
		if (r >= 0 && (w->rescan_next < 0 || r < w->rescan_next))
			w->rescan_next = r;
	}
}

/* Rebuilds everything in memory from SQLite: accounts and their scripts,
 * then wallet_reload_coins(). */
bool wallet_reload(struct wallet *w)
{
	sqlite3_stmt *st = NULL;
	bool ok = false;
	int rc;

	wallet_balance_invalidate(w);
	wallet_scan_clear(w);
	if (!wmap_init(&w->scripts) || !wmap_init(&w->outpoints))
		return false;
	w->any_accounts = false;
	if (sqlite3_prepare_v2(w->db,
			       "SELECT a.id, a.name, a.addr_type, a.xpub, "
			       "a.path, a.purpose, a.coin, a.acct_index, "
			       "a.master_fp, a.ext_count, a.int_count, "
			       "(SELECT used_next FROM branches WHERE "
			       " account_id = a.id AND branch = 0), "
			       "(SELECT used_next FROM branches WHERE "
			       " account_id = a.id AND branch = 1), "
			       "(SELECT next_height FROM rescans WHERE "
			       " account_id = a.id) "
			       "FROM accounts a ORDER BY a.id",
			       -1, &st, NULL) != SQLITE_OK)
		goto out;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct wacct a;
		struct wallet_xpub root;
		enum wallet_xkey_family fam;
		bool mainnet;
		char err[160];

		w->any_accounts = true;
		memset(&a, 0, sizeof(a));
		a.id = sqlite3_column_int64(st, 0);
		snprintf(a.a.name, sizeof(a.a.name), "%s",
			 (const char *)sqlite3_column_text(st, 1));
		a.a.type = sqlite3_column_int(st, 2);
		snprintf(a.a.xpub, sizeof(a.a.xpub), "%s",
			 (const char *)sqlite3_column_text(st, 3));
		snprintf(a.a.path, sizeof(a.a.path), "%s",
			 (const char *)sqlite3_column_text(st, 4));
		a.a.purpose = (uint32_t)sqlite3_column_int64(st, 5);
		a.a.coin = (uint32_t)sqlite3_column_int64(st, 6);
		a.a.index = (uint32_t)sqlite3_column_int64(st, 7);
		snprintf(a.a.master_fp, sizeof(a.a.master_fp), "%s",
			 (const char *)sqlite3_column_text(st, 8));
		a.a.external_count = (uint32_t)sqlite3_column_int64(st, 9);
		a.a.internal_count = (uint32_t)sqlite3_column_int64(st, 10);
		a.used_next[0] = (uint32_t)sqlite3_column_int64(st, 11);
		a.used_next[1] = (uint32_t)sqlite3_column_int64(st, 12);
		a.rescan_next = sqlite3_column_type(st, 13) == SQLITE_NULL
				? -1 : sqlite3_column_int64(st, 13);
		if (!wallet_scanned_purpose(a.a.purpose))
			continue;
		if (!wallet_xpub_parse(&root, &fam, &mainnet, err, sizeof(err),
				       a.a.xpub) ||
		    !wallet_xpub_child(&a.branch[0], &root, 0) ||
		    !wallet_xpub_child(&a.branch[1], &root, 1)) {
			log_broken(SUBSYS, "stored account %" PRId64 " (%s) "
				   "has an unusable key: %s", a.id, a.a.name,
				   err);
			continue;
		}
		struct wacct *n = realloc(w->accts,
					  (w->num_accts + 1) * sizeof(*n));
		if (!n)
			goto out;
		w->accts = n;
		w->accts[w->num_accts++] = a;
	}
	if (rc != SQLITE_DONE)
		goto out;
	sqlite3_finalize(st);
	st = NULL;
	for (size_t i = 0; i < w->num_accts; i++)
		for (int b = 0; b < 2; b++)
			if (!wallet_derive_to(w, i, b, wallet_want_derived(w, &w->accts[i], b)))
				goto out;

	wallet_rescan_refresh(w);
	ok = wallet_reload_coins(w);
out:
	if (!ok)
		log_unusual(SUBSYS, "loading the wallet from %s failed: %s",
			    w->path, sqlite3_errmsg(w->db));
	sqlite3_finalize(st);
	return ok;
}

/* Rebuilds the outpoint table, the tip and the scan state from SQLite
 * (after a reorg undo or a new mempool view; the scripts stay). */
bool wallet_reload_coins(struct wallet *w)
{
	sqlite3_stmt *st = NULL;
	bool ok = false;
	int rc;

	wmap_clear(&w->outpoints);
	if (!wmap_init(&w->outpoints))
		return false;
	if (sqlite3_prepare_v2(w->db, "SELECT txid, vout FROM coins WHERE "
			       "spent_height IS NULL", -1, &st,
			       NULL) != SQLITE_OK)
		goto out;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		uint8_t key[36];
		if (sqlite3_column_bytes(st, 0) != 32)
			continue;
		wallet_outpoint_key(key, sqlite3_column_blob(st, 0),
			     (uint32_t)sqlite3_column_int64(st, 1));
		if (!wmap_put(&w->outpoints, key, sizeof(key), 1))
			goto out;
	}
	if (rc != SQLITE_DONE)
		goto out;
	sqlite3_finalize(st);
	st = NULL;

	w->have_tip = false;
	if (sqlite3_prepare_v2(w->db, "SELECT height, hash FROM scan_blocks "
			       "ORDER BY height DESC LIMIT 1", -1, &st,
			       NULL) != SQLITE_OK)
		goto out;
	if (sqlite3_step(st) == SQLITE_ROW &&
	    sqlite3_column_bytes(st, 1) == 32) {
		w->have_tip = true;
		w->tip_height = sqlite3_column_int64(st, 0);
		memcpy(w->tip_hash, sqlite3_column_blob(st, 1), 32);
	}
	sqlite3_finalize(st);
	st = NULL;
	if (sqlite3_prepare_v2(w->db, "SELECT birthday, updated_unix FROM "
			       "scan_state WHERE id = 1", -1, &st,
			       NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW)
		goto out;
	w->birthday = sqlite3_column_int64(st, 0);
	w->updated_unix = sqlite3_column_int64(st, 1);
	ok = true;
out:
	if (!ok)
		log_unusual(SUBSYS, "loading the wallet from %s failed: %s",
			    w->path, sqlite3_errmsg(w->db));
	sqlite3_finalize(st);
	return ok;
}

bool wallet_configure(struct wallet *w, const char *network,
		      uint32_t gap_limit)
{
	w->net = wallet_net_find(network);
	if (!w->net) {
		log_unusual(SUBSYS, "unknown network %s", network);
		return false;
	}
	w->gap = gap_limit ? gap_limit : WALLET_DEFAULT_GAP;
	return wallet_reload(w);
}

bool wallet_has_accounts(const struct wallet *w)
{
	return w->any_accounts;
}

size_t wallet_watched(const struct wallet *w)
{
	return w->scripts.n;
}

bool wallet_tip(const struct wallet *w, int64_t *height, uint8_t hash[32])
{
	if (!w->have_tip) {
		*height = w->birthday;
		memset(hash, 0, 32);
		return false;
	}
	*height = w->tip_height;
	memcpy(hash, w->tip_hash, 32);
	return true;
}

void wallet_pos_of(const struct wallet *w, struct wallet_pos *p)
{
	memset(p, 0, sizeof(*p));
	p->have_tip = w->have_tip;
	p->tip_height = w->tip_height;
	memcpy(p->tip_hash, w->tip_hash, 32);
	p->birthday = w->birthday;
	p->rescan_next = w->rescan_next;
}

int64_t wallet_next_height(const struct wallet *w)
{
	struct wallet_pos p;
	wallet_pos_of(w, &p);
	return wallet_pos_next(&p);
}

int64_t wallet_rescan_height(const struct wallet *w)
{
	return w->have_tip ? w->rescan_next : -1;
}

int64_t wallet_birthday(const struct wallet *w)
{
	return w->birthday;
}

int64_t wallet_updated_unix(const struct wallet *w)
{
	return w->updated_unix;
}
