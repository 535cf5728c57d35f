/*~ import: accounts added to the wallet (lnd's accounts export), the
 * birthday, and the rescan rows of accounts imported with a birthday below
 * the wallet's tip: those are scanned for from their birthday while the
 * tip stays (docs/wallet.md, "Birthday"); what the other accounts hold is
 * never touched.
 */
#include "wallet/wallet_priv.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
			if (rescan && wallet_scanned_purpose(a->purpose)) {
				sqlite3_bind_int64(resc, 1,
					sqlite3_last_insert_rowid(w->db));
				sqlite3_bind_int64(resc, 2, birthday);
				if (!wallet_step_done(resc))
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
	if (!wallet_reload(w) && ok) {
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
