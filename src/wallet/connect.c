/*~ connect: a block applied to the wallet or undone, each in one SQLite
 * transaction with the tip (scan_blocks) and the rescan's progress, so a
 * kill -9 leaves a block wholly applied or not at all.  Whether a block is
 * applied is decided by apply.c from the wallet's stored chain (hashes
 * compared, never the height alone); what it changes is matched by
 * match.c.  A reorg undoes by height: coins created at the height go,
 * coins spent there come back.  After a failed transaction the in-memory
 * tables are rebuilt from SQLite (the truth).
 */
#include "wallet/wallet_priv.h"
#include "chain/block.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

bool wallet_set_updated(struct wallet *w)
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
	wallet_pos_of(w, p);
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

enum wallet_apply wallet_block_connected(struct wallet *w, uint32_t height,
					 const uint8_t hash[32],
					 const struct chain_block *blk)
{
	struct wallet_pos pos;
	enum wallet_scan_how how;
	enum wallet_apply r;
	struct wallet_stmts s;
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
	if (!wallet_stmts_prepare(w, &s)) {
		wallet_stmts_free(&s);
		log_unusual(SUBSYS, "scan: %s", sqlite3_errmsg(w->db));
		return WALLET_FAILED;
	}
	if (!wallet_exec(w, "BEGIN IMMEDIATE;")) {
		wallet_stmts_free(&s);
		return WALLET_FAILED;
	}
	if (!wallet_scan_block(w, &s, height, blk, how))
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
	if (!wallet_step_done(tip))
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
	if (!wallet_exec(w, sql) || !wallet_set_updated(w))
		goto out;
	ok = true;
out:
	sqlite3_finalize(tip);
	wallet_stmts_free(&s);
	if (!ok)
		log_unusual(SUBSYS, "block %u: %s", height,
			    sqlite3_errmsg(w->db));
	ok = wallet_tx_end(w, ok);
	if (!ok) {
		/* Memory may be ahead of the rolled-back database. */
		if (!wallet_reload(w))
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
		wallet_rescan_refresh(w);
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
	ok = wallet_exec(w, sql) && wallet_set_updated(w);
	ok = wallet_tx_end(w, ok);
	if (ok)
		for (size_t i = 0; i < w->num_accts; i++)
			if (w->accts[i].rescan_next >= (int64_t)height)
				w->accts[i].rescan_next = -1;
	wallet_rescan_refresh(w);
	/* Outpoints come back and go: rebuild from the database. */
	if (!wallet_reload_coins(w))
		return WALLET_FAILED;
	if (!ok)
		return WALLET_FAILED;
	log_info(SUBSYS, "block %u disconnected: its wallet changes undone",
		 height);
	return WALLET_APPLIED;
}
