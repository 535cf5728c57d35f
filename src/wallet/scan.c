/*~ scan: the wallet follows the chain for its accounts.
 *
 * Each account's two branches (0 external, 1 change; BIP44 "change")
 * are derived up to `gap` scripts past the highest index seen used (or
 * past the count lnd had handed out), and every script is in an
 * in-memory table.  A block is matched output by output (script lookup)
 * and input by input (outpoint lookup); what matches changes SQLite in
 * one transaction together with the wallet tip, so a kill -9 leaves the
 * block either fully applied or not at all, and a block at or below the
 * tip is skipped on replay.  A reorg undoes by height: coins created at
 * the height go, coins spent there come back.  After a failed transaction
 * the in-memory tables are rebuilt from SQLite (the truth).
 */
#include "wallet/wallet_priv.h"
#include "chain/block.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static enum wallet_addr_type branch_type(enum wallet_addr_type t, int branch)
{
	/* lnd's hybrid m/49' account: "receives to np2wkh and uses p2wkh
	 * change" (btcwallet's KeyScopeBIP0049Plus address schema). */
	if (t == WALLET_ADDR_HYBRID_NP2WKH)
		return branch ? WALLET_ADDR_P2WKH : WALLET_ADDR_NP2WKH;
	return t;
}

/* The purposes whose addresses hold the wallet's funds; lnd's m/1017'
 * key families are kept (they are part of the export) but not watched. */
static bool scanned_purpose(uint32_t p)
{
	return p == 49 || p == 84 || p == 86;
}

static uint64_t pack(size_t acct, int branch, uint32_t idx)
{
	return ((uint64_t)acct << 40) | ((uint64_t)branch << 32) | idx;
}

static bool derive_to(struct wallet *w, size_t ai, int branch, uint32_t n)
{
	struct wacct *a = &w->accts[ai];
	while (a->derived[branch] < n) {
		struct wallet_xpub k;
		uint8_t script[WALLET_MAX_SCRIPT];
		size_t len;
		uint32_t i = a->derived[branch]++;
		/* BIP32: an invalid child (p < 2^-127) is skipped. */
		if (!wallet_xpub_child(&k, &a->branch[branch], i))
			continue;
		len = wallet_script_for_key(script,
					    branch_type(a->a.type, branch),
					    k.pubkey);
		if (!len || !wmap_put(&w->scripts, script, len,
				      pack(ai, branch, i)))
			return false;
	}
	return true;
}

static uint32_t want_derived(const struct wallet *w, const struct wacct *a,
			     int branch)
{
	uint32_t base = a->used_next[branch];
	uint32_t lnd = branch ? a->a.internal_count : a->a.external_count;
	if (lnd > base)
		base = lnd;
	return base + w->gap;
}

void wallet_scan_clear(struct wallet *w)
{
	free(w->accts);
	w->accts = NULL;
	w->num_accts = 0;
	wmap_clear(&w->scripts);
	wmap_clear(&w->outpoints);
}

static void outpoint_key(uint8_t key[36], const uint8_t txid[32],
			 uint32_t vout)
{
	memcpy(key, txid, 32);
	le32_put(key + 32, vout);
}

static bool step_done(sqlite3_stmt *st)
{
	bool ok = sqlite3_step(st) == SQLITE_DONE;
	sqlite3_reset(st);
	return ok;
}

static bool reload_coins(struct wallet *w);

/* w->rescan_next from the accounts' (an account whose key is unusable, or
 * not scanned, never holds a rescan back). */
static void rescan_refresh(struct wallet *w)
{
	w->rescan_next = -1;
	for (size_t i = 0; i < w->num_accts; i++) {
		int64_t r = w->accts[i].rescan_next;
		if (r >= 0 && (w->rescan_next < 0 || r < w->rescan_next))
			w->rescan_next = r;
	}
}

/* Rebuilds everything in memory from SQLite: accounts and their scripts,
 * then reload_coins(). */
static bool reload(struct wallet *w)
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
		if (!scanned_purpose(a.a.purpose))
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
			if (!derive_to(w, i, b, want_derived(w, &w->accts[i], b)))
				goto out;

	rescan_refresh(w);
	ok = reload_coins(w);
out:
	if (!ok)
		log_unusual(SUBSYS, "loading the wallet from %s failed: %s",
			    w->path, sqlite3_errmsg(w->db));
	sqlite3_finalize(st);
	return ok;
}

/* Rebuilds the outpoint table, the tip and the scan state from SQLite
 * (after a reorg undo or a new mempool view; the scripts stay). */
static bool reload_coins(struct wallet *w)
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
		outpoint_key(key, sqlite3_column_blob(st, 0),
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
	return reload(w);
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

static void pos_base(const struct wallet *w, struct wallet_pos *p)
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
	pos_base(w, &p);
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

/* ---- accounts -------------------------------------------------------------- */

static bool key_id(char out[2 * 65 + 1], const char *xpub)
{
	struct wallet_xpub k;
	enum wallet_xkey_family fam;
	bool mainnet;
	char err[160];
	uint8_t raw[65];
	if (!wallet_xpub_parse(&k, &fam, &mainnet, err, sizeof(err), xpub))
		return false;
	memcpy(raw, k.chain_code, 32);
	memcpy(raw + 32, k.pubkey, 33);
	hex_encode(out, raw, sizeof(raw));
	return true;
}

bool wallet_import_accounts(struct wallet *w, struct wallet_import_result *res,
			    char *err, size_t errlen,
			    const struct wallet_account *accounts, size_t num,
			    int64_t birthday)
{
	sqlite3_stmt *ins = NULL, *resc = NULL;
	bool ok = false;

	wallet_balance_invalidate(w);
	memset(res, 0, sizeof(*res));
	if (!w->net) {
		snprintf(err, errlen, "wallet not configured");
		return false;
	}
	if (!wallet_exec(w, "BEGIN IMMEDIATE;")) {
		snprintf(err, errlen, "wallet database busy or failing");
		return false;
	}
	/* lnd's wallet birthday: blocks before it are not scanned.  New
	 * accounts with a birthday at or below the tip are rescanned from it
	 * (the blocks from the birthday to the tip are delivered again and
	 * scanned for them only, wallet_next_height); what the other
	 * accounts hold is kept as it is. */
	bool rescan = birthday >= 0 && w->have_tip &&
		      birthday <= w->tip_height;
	if (sqlite3_prepare_v2(w->db,
			       "INSERT OR IGNORE INTO accounts (name, "
			       "addr_type, xpub, key_id, path, purpose, coin, "
			       "acct_index, master_fp, ext_count, int_count) "
			       "VALUES (?,?,?,?,?,?,?,?,?,?,?)",
			       -1, &ins, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(w->db,
			       "INSERT OR REPLACE INTO rescans (account_id, "
			       "next_height) VALUES (?,?)",
			       -1, &resc, NULL) != SQLITE_OK)
		goto dberr;
	for (size_t i = 0; i < num; i++) {
		const struct wallet_account *a = &accounts[i];
		char kid[2 * 65 + 1];
		if (!key_id(kid, a->xpub)) {
			snprintf(err, errlen, "account %zu: bad key", i);
			goto out;
		}
		sqlite3_bind_text(ins, 1, a->name, -1, SQLITE_STATIC);
		sqlite3_bind_int(ins, 2, a->type);
		sqlite3_bind_text(ins, 3, a->xpub, -1, SQLITE_STATIC);
		sqlite3_bind_text(ins, 4, kid, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(ins, 5, a->path, -1, SQLITE_STATIC);
		sqlite3_bind_int64(ins, 6, a->purpose);
		sqlite3_bind_int64(ins, 7, a->coin);
		sqlite3_bind_int64(ins, 8, a->index);
		sqlite3_bind_text(ins, 9, a->master_fp, -1, SQLITE_STATIC);
		sqlite3_bind_int64(ins, 10, a->external_count);
		sqlite3_bind_int64(ins, 11, a->internal_count);
		if (sqlite3_step(ins) != SQLITE_DONE)
			goto dberr;
		if (sqlite3_changes(w->db)) {
			res->added++;
			if (rescan && scanned_purpose(a->purpose)) {
				sqlite3_bind_int64(resc, 1,
					sqlite3_last_insert_rowid(w->db));
				sqlite3_bind_int64(resc, 2, birthday);
				if (!step_done(resc))
					goto dberr;
			}
		} else {
			res->already++;
		}
		sqlite3_reset(ins);
	}
	/* The birthday shown is the earliest height scanned for any
	 * account; one above the tip changes nothing (the scan is past
	 * it). */
	if (res->added && birthday >= 0 &&
	    (!w->have_tip || birthday <= w->tip_height) &&
	    (w->birthday < 0 || birthday < w->birthday)) {
		char sql[160];
		snprintf(sql, sizeof(sql),
			 "UPDATE scan_state SET birthday = %" PRId64
			 " WHERE id = 1;", birthday);
		if (!wallet_exec(w, sql))
			goto dberr;
	}
	ok = true;
	goto out;
dberr:
	snprintf(err, errlen, "wallet database error: %s",
		 sqlite3_errmsg(w->db));
out:
	sqlite3_finalize(ins);
	sqlite3_finalize(resc);
	if (!wallet_tx_end(w, ok) && ok) {
		/* wallet_exec logged SQLite's words for the COMMIT. */
		snprintf(err, errlen, "wallet database error: the import "
			 "could not be committed");
		ok = false;
	}
	if (!reload(w) && ok) {
		snprintf(err, errlen, "reloading the wallet failed");
		ok = false;
	}
	res->watched = w->scripts.n;
	return ok;
}

bool wallet_list_accounts(struct wallet *w, struct wallet_account **out,
			  size_t *num)
{
	sqlite3_stmt *st = NULL;
	int rc;
	*out = NULL;
	*num = 0;
	if (sqlite3_prepare_v2(w->db, "SELECT name, addr_type, xpub, path, "
			       "purpose, coin, acct_index, master_fp, "
			       "ext_count, int_count FROM accounts ORDER BY id",
			       -1, &st, NULL) != SQLITE_OK)
		return false;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct wallet_account *n = realloc(*out, (*num + 1) * sizeof(*n));
		if (!n)
			break;
		*out = n;
		n = &n[(*num)++];
		memset(n, 0, sizeof(*n));
		snprintf(n->name, sizeof(n->name), "%s",
			 (const char *)sqlite3_column_text(st, 0));
		n->type = sqlite3_column_int(st, 1);
		snprintf(n->xpub, sizeof(n->xpub), "%s",
			 (const char *)sqlite3_column_text(st, 2));
		snprintf(n->path, sizeof(n->path), "%s",
			 (const char *)sqlite3_column_text(st, 3));
		n->purpose = (uint32_t)sqlite3_column_int64(st, 4);
		n->coin = (uint32_t)sqlite3_column_int64(st, 5);
		n->index = (uint32_t)sqlite3_column_int64(st, 6);
		snprintf(n->master_fp, sizeof(n->master_fp), "%s",
			 (const char *)sqlite3_column_text(st, 7));
		n->external_count = (uint32_t)sqlite3_column_int64(st, 8);
		n->internal_count = (uint32_t)sqlite3_column_int64(st, 9);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		free(*out);
		*out = NULL;
		*num = 0;
		return false;
	}
	return true;
}

/* ---- blocks ------------------------------------------------------------------ */

struct stmts {
	sqlite3_stmt *ins_coin, *spend, *used;
};

static void stmts_free(struct stmts *s)
{
	sqlite3_finalize(s->ins_coin);
	sqlite3_finalize(s->spend);
	sqlite3_finalize(s->used);
}

static bool stmts_prepare(struct wallet *w, struct stmts *s)
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

/* Output @vout of @tx pays a watched script: store it, and move the
 * branch's gap forward when it uses a new index. */
static bool add_coin(struct wallet *w, struct stmts *s, const struct chain_tx *tx,
		     uint32_t vout, uint64_t val, int64_t height, bool coinbase)
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
	if (!step_done(s->ins_coin))
		return false;
	outpoint_key(key, tx->txid, vout);
	if (!wmap_put(&w->outpoints, key, sizeof(key), 1))
		return false;
	if (idx + 1 > a->used_next[branch]) {
		a->used_next[branch] = idx + 1;
		sqlite3_bind_int64(s->used, 1, a->id);
		sqlite3_bind_int(s->used, 2, branch);
		sqlite3_bind_int64(s->used, 3, a->used_next[branch]);
		if (!step_done(s->used) ||
		    !derive_to(w, ai, branch, want_derived(w, a, branch)))
			return false;
	}
	return true;
}

static bool set_updated(struct wallet *w)
{
	char sql[96];
	w->updated_unix = (int64_t)time(NULL);
	snprintf(sql, sizeof(sql), "UPDATE scan_state SET updated_unix = %"
		 PRId64 " WHERE id = 1;", w->updated_unix);
	return wallet_exec(w, sql);
}

/* The wallet's stored hash of block @height: 1 found, 0 not kept, -1 a
 * database error. */
static int stored_hash(struct wallet *w, int64_t height, uint8_t hash[32])
{
	sqlite3_stmt *st = NULL;
	int rc, found = -1;

	if (sqlite3_prepare_v2(w->db, "SELECT hash FROM scan_blocks WHERE "
			       "height = ?", -1, &st, NULL) != SQLITE_OK)
		goto out;
	sqlite3_bind_int64(st, 1, height);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_bytes(st, 0) == 32) {
		memcpy(hash, sqlite3_column_blob(st, 0), 32);
		found = 1;
	} else if (rc == SQLITE_DONE || rc == SQLITE_ROW) {
		found = 0;
	}
out:
	if (found < 0)
		log_unusual(SUBSYS, "scan_blocks: %s", sqlite3_errmsg(w->db));
	sqlite3_finalize(st);
	return found;
}

/* The decision's input for block @height (apply.c). */
static bool get_pos(struct wallet *w, uint32_t height, struct wallet_pos *p)
{
	int r;
	pos_base(w, p);
	if (!w->have_tip || (int64_t)height > w->tip_height)
		return true;
	if ((r = stored_hash(w, height, p->at_hash)) < 0)
		return false;
	p->have_at = r;
	if (height == 0)
		return true;
	if ((r = stored_hash(w, (int64_t)height - 1, p->below_hash)) < 0)
		return false;
	p->have_below = r;
	return true;
}

static uint64_t derived_total(const struct wallet *w)
{
	uint64_t n = 0;
	for (size_t i = 0; i < w->num_accts; i++)
		n += (uint64_t)w->accts[i].derived[0] + w->accts[i].derived[1];
	return n;
}

/* One pass over @blk's transactions in block order: inputs spending our
 * coins, then outputs paying watched scripts of the accounts @how scans.
 * @seen: outpoints stored by an earlier pass over this block (skipped). */
static bool scan_pass(struct wallet *w, struct stmts *s, uint32_t height,
		      const struct chain_block *blk, enum wallet_scan_how how,
		      struct wmap *seen)
{
	for (size_t t = 0; t < blk->n_tx; t++) {
		const struct chain_tx *tx = &blk->tx[t];
		/* The coinbase's one input spends nothing.  A spend of a
		 * coin we hold is a spend whatever the pass: the block is
		 * in the node's chain. */
		for (size_t i = 0; t > 0 && i < tx->n_in; i++) {
			uint8_t key[36];
			outpoint_key(key, tx->in[i].prevout.txid,
				     tx->in[i].prevout.vout);
			if (!wmap_del(&w->outpoints, key, sizeof(key)))
				continue;
			sqlite3_bind_blob(s->spend, 1, key, 32, SQLITE_STATIC);
			sqlite3_bind_int64(s->spend, 2, tx->in[i].prevout.vout);
			sqlite3_bind_int64(s->spend, 3, height);
			if (!step_done(s->spend))
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
			outpoint_key(key, tx->txid, (uint32_t)o);
			if (seen->n && wmap_get(seen, key, sizeof(key), NULL))
				continue;
			if (!add_coin(w, s, tx, (uint32_t)o, val, height,
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
static bool scan_block(struct wallet *w, struct stmts *s, uint32_t height,
		       const struct chain_block *blk, enum wallet_scan_how how)
{
	struct wmap seen;
	uint64_t before;
	bool ok = true;

	if (!wmap_init(&seen))
		return false;
	do {
		before = derived_total(w);
		ok = scan_pass(w, s, height, blk, how, &seen);
	} while (ok && derived_total(w) != before);
	wmap_clear(&seen);
	return ok;
}

enum wallet_apply wallet_block_connected(struct wallet *w, uint32_t height,
					 const uint8_t hash[32],
					 const struct chain_block *blk)
{
	struct wallet_pos pos;
	enum wallet_scan_how how;
	enum wallet_apply r;
	struct stmts s;
	sqlite3_stmt *tip = NULL;
	bool ok = false;
	char hex[65], sql[200];

	if (!get_pos(w, height, &pos))
		return WALLET_FAILED;
	r = wallet_connect_decide(&pos, height, hash, blk->prev_hash, &how);
	if (r != WALLET_APPLIED) {
		if (r != WALLET_ALREADY)
			log_debug(SUBSYS, "block %u %s: %s (wallet tip %" PRId64
				  ", next %" PRId64 ")", height,
				  hex_encode_reversed(hex, hash, 32),
				  wallet_apply_name(r),
				  w->have_tip ? w->tip_height : -1,
				  wallet_next_height(w));
		return r;
	}
	wallet_balance_invalidate(w);
	if (!stmts_prepare(w, &s)) {
		stmts_free(&s);
		log_unusual(SUBSYS, "scan: %s", sqlite3_errmsg(w->db));
		return WALLET_FAILED;
	}
	if (!wallet_exec(w, "BEGIN IMMEDIATE;")) {
		stmts_free(&s);
		return WALLET_FAILED;
	}
	if (!scan_block(w, &s, height, blk, how))
		goto out;
	/* The block's hash, the undo's key (coins carry their heights). A
	 * rescan keeps the tip's rows and fills the heights below the first
	 * scan, so that its next block's parent is checked. */
	if (sqlite3_prepare_v2(w->db, how == WALLET_SCAN_TIP
			       ? "INSERT OR REPLACE INTO scan_blocks "
				 "(height, hash) VALUES (?,?)"
			       : "INSERT OR IGNORE INTO scan_blocks "
				 "(height, hash) VALUES (?,?)", -1, &tip,
			       NULL) != SQLITE_OK)
		goto out;
	sqlite3_bind_int64(tip, 1, height);
	sqlite3_bind_blob(tip, 2, hash, 32, SQLITE_STATIC);
	if (!step_done(tip))
		goto out;
	if (how == WALLET_SCAN_TIP)
		snprintf(sql, sizeof(sql), "DELETE FROM scan_blocks WHERE "
			 "height < %" PRId64 ";",
			 (int64_t)height - WALLET_KEEP_BLOCKS);
	else
		snprintf(sql, sizeof(sql), "UPDATE rescans SET next_height = "
			 "%" PRId64 " WHERE next_height = %u; DELETE FROM "
			 "rescans WHERE next_height > %" PRId64 ";",
			 (int64_t)height + 1, height, w->tip_height);
	if (!wallet_exec(w, sql) || !set_updated(w))
		goto out;
	ok = true;
out:
	sqlite3_finalize(tip);
	stmts_free(&s);
	if (!ok)
		log_unusual(SUBSYS, "block %u: %s", height,
			    sqlite3_errmsg(w->db));
	ok = wallet_tx_end(w, ok);
	if (!ok) {
		/* Memory may be ahead of the rolled-back database. */
		if (!reload(w))
			log_broken(SUBSYS, "wallet state lost after a failed "
				   "block");
		return WALLET_FAILED;
	}
	if (how == WALLET_SCAN_TIP) {
		w->have_tip = true;
		w->tip_height = height;
		memcpy(w->tip_hash, hash, 32);
	} else {
		for (size_t i = 0; i < w->num_accts; i++) {
			struct wacct *a = &w->accts[i];
			if (a->rescan_next != (int64_t)height)
				continue;
			a->rescan_next = (int64_t)height + 1 > w->tip_height
					 ? -1 : (int64_t)height + 1;
		}
		rescan_refresh(w);
		if (w->rescan_next < 0)
			log_info(SUBSYS, "rescan done at block %u", height);
	}
	/* Display order, as bitcoin-cli and block explorers print it. */
	log_debug(SUBSYS, "scanned block %u %s%s", height,
		  hex_encode_reversed(hex, hash, 32),
		  how == WALLET_SCAN_RESCAN ? " (rescan)" : "");
	return WALLET_APPLIED;
}

enum wallet_apply wallet_block_disconnected(struct wallet *w, uint32_t height,
					    const uint8_t hash[32])
{
	struct wallet_pos pos;
	enum wallet_apply r;
	char sql[320];
	bool ok;

	if (!get_pos(w, height, &pos))
		return WALLET_FAILED;
	r = wallet_disconnect_decide(&pos, height, hash);
	if (r != WALLET_APPLIED) {
		if (r != WALLET_ALREADY)
			log_unusual(SUBSYS, "disconnect of block %u: %s "
				    "(wallet tip %" PRId64 ")", height,
				    wallet_apply_name(r), w->tip_height);
		return r;
	}
	wallet_balance_invalidate(w);
	if (!wallet_exec(w, "BEGIN IMMEDIATE;"))
		return WALLET_FAILED;
	/* A rescan at or past the new tip is done: it scanned every block
	 * left below. */
	snprintf(sql, sizeof(sql),
		 "DELETE FROM coins WHERE height = %u;"
		 "UPDATE coins SET spent_height = NULL WHERE spent_height = %u;"
		 "DELETE FROM scan_blocks WHERE height >= %u;"
		 "DELETE FROM rescans WHERE next_height >= %u;", height, height,
		 height, height);
	ok = wallet_exec(w, sql) && set_updated(w);
	ok = wallet_tx_end(w, ok);
	if (ok)
		for (size_t i = 0; i < w->num_accts; i++)
			if (w->accts[i].rescan_next >= (int64_t)height)
				w->accts[i].rescan_next = -1;
	rescan_refresh(w);
	/* Outpoints come back and go: rebuild from the database. */
	if (!reload_coins(w))
		return WALLET_FAILED;
	if (!ok)
		return WALLET_FAILED;
	log_info(SUBSYS, "block %u disconnected: its wallet changes undone",
		 height);
	return WALLET_APPLIED;
}

bool wallet_mempool(struct wallet *w, const struct chain_tx *const *txs,
		    size_t n)
{
	struct stmts s;
	sqlite3_stmt *mspend = NULL, *mhave = NULL;
	bool ok = false;

	if (!stmts_prepare(w, &s) ||
	    sqlite3_prepare_v2(w->db, "UPDATE coins SET spent_mempool = 1 "
			       "WHERE txid = ? AND vout = ?", -1, &mspend,
			       NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(w->db, "SELECT 1 FROM coins WHERE txid = ? "
			       "AND vout = ?", -1, &mhave, NULL) != SQLITE_OK) {
		stmts_free(&s);
		sqlite3_finalize(mspend);
		sqlite3_finalize(mhave);
		return false;
	}
	if (!wallet_exec(w, "BEGIN IMMEDIATE;"))
		goto fail;
	if (!wallet_exec(w, "DELETE FROM coins WHERE height = 0;"
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
			if (!add_coin(w, &s, txs[t], (uint32_t)o, val, 0, false))
				goto out;
		}
	for (size_t t = 0; t < n; t++)
		for (size_t i = 0; i < txs[t]->n_in; i++) {
			const struct chain_outpoint *p = &txs[t]->in[i].prevout;
			uint8_t key[36];
			outpoint_key(key, p->txid, p->vout);
			if (!wmap_get(&w->outpoints, key, sizeof(key), NULL))
				continue;
			sqlite3_bind_blob(mspend, 1, p->txid, 32, SQLITE_STATIC);
			sqlite3_bind_int64(mspend, 2, p->vout);
			if (!step_done(mspend))
				goto out;
		}
	ok = set_updated(w);
out:
	ok = wallet_tx_end(w, ok);
fail:
	stmts_free(&s);
	sqlite3_finalize(mspend);
	sqlite3_finalize(mhave);
	/* Mempool coins that left are still in the outpoint table. */
	if (!reload_coins(w))
		ok = false;
	wallet_balance_mempool_done(w);
	return ok;
}

/* ---- balance ------------------------------------------------------------------- */

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
