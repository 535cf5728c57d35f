/* The last CHAIN_KEEP blocks we connected, (height, hash, prev, time), in
 * SQLite: enough to find the fork point of any reorg up to that depth
 * after a restart, and our tip to catch up from. */
#include "chain/store.h"
#include "common/common.h"

#include <sqlite3.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct chain_store {
	sqlite3 *db;
	sqlite3_stmt *tip, *put, *trim, *drop, *wput, *wdel, *wspent;
	sqlite3_stmt *rput, *rdel, *at;
};

static const char schema[] =
	"PRAGMA journal_mode=WAL;"
	"PRAGMA synchronous=NORMAL;"
	"CREATE TABLE IF NOT EXISTS blocks("
	" height INTEGER PRIMARY KEY, hash BLOB NOT NULL,"
	" prev BLOB NOT NULL, time INTEGER NOT NULL);"
	/* Funding outputs of verified channels (BOLT 7 checks), with the
	 * height their spend was seen at (0: unspent). */
	"CREATE TABLE IF NOT EXISTS watch("
	" scid INTEGER PRIMARY KEY, txid BLOB NOT NULL, vout INTEGER NOT NULL,"
	" capacity INTEGER NOT NULL, spent INTEGER NOT NULL);"
	/* Channels accepted short of 6 confirmations, checked again once
	 * their funding block has 6 (funding.c), with the P2WSH script
	 * their keys make. */
	"CREATE TABLE IF NOT EXISTS recheck("
	" scid INTEGER PRIMARY KEY, script BLOB NOT NULL);";

struct chain_store *chain_store_open(const char *path, char *err,
				     size_t errlen)
{
	struct chain_store *s = calloc(1, sizeof(*s));

	if (!s)
		abort();
	if (sqlite3_open(path, &s->db) != SQLITE_OK ||
	    sqlite3_exec(s->db, schema, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(s->db, "SELECT height, hash, time FROM blocks "
			       "ORDER BY height DESC LIMIT 1", -1, &s->tip,
			       NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(s->db, "INSERT OR REPLACE INTO blocks VALUES "
			       "(?, ?, ?, ?)", -1, &s->put, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(s->db, "DELETE FROM blocks WHERE height <= ?",
			       -1, &s->trim, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(s->db, "DELETE FROM blocks WHERE height >= ?",
			       -1, &s->drop, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(s->db, "INSERT OR REPLACE INTO watch VALUES "
			       "(?, ?, ?, ?, ?)", -1, &s->wput, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(s->db, "DELETE FROM watch WHERE scid = ?", -1,
			       &s->wdel, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(s->db, "UPDATE watch SET spent = ? WHERE "
			       "scid = ?", -1, &s->wspent, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(s->db, "INSERT OR REPLACE INTO recheck VALUES "
			       "(?, ?)", -1, &s->rput, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(s->db, "DELETE FROM recheck WHERE scid = ?", -1,
			       &s->rdel, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(s->db, "SELECT hash FROM blocks WHERE "
			       "height = ?", -1, &s->at, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path,
			 s->db ? sqlite3_errmsg(s->db) : "cannot open");
		chain_store_close(s);
		return NULL;
	}
	return s;
}

void chain_store_close(struct chain_store *s)
{
	if (!s)
		return;
	sqlite3_finalize(s->tip);
	sqlite3_finalize(s->put);
	sqlite3_finalize(s->trim);
	sqlite3_finalize(s->drop);
	sqlite3_finalize(s->wput);
	sqlite3_finalize(s->wdel);
	sqlite3_finalize(s->wspent);
	sqlite3_finalize(s->rput);
	sqlite3_finalize(s->rdel);
	sqlite3_finalize(s->at);
	sqlite3_close(s->db);
	free(s);
}

bool chain_store_tip(struct chain_store *s, uint32_t *height,
		     uint8_t hash[32], uint32_t *time)
{
	bool ok = false;

	if (sqlite3_step(s->tip) == SQLITE_ROW &&
	    sqlite3_column_bytes(s->tip, 1) == 32) {
		*height = (uint32_t)sqlite3_column_int64(s->tip, 0);
		memcpy(hash, sqlite3_column_blob(s->tip, 1), 32);
		*time = (uint32_t)sqlite3_column_int64(s->tip, 2);
		ok = true;
	}
	sqlite3_reset(s->tip);
	return ok;
}

bool chain_store_hash_at(struct chain_store *s, uint32_t height,
			 uint8_t hash[32])
{
	bool ok = false;

	sqlite3_bind_int64(s->at, 1, height);
	if (sqlite3_step(s->at) == SQLITE_ROW &&
	    sqlite3_column_bytes(s->at, 0) == 32) {
		memcpy(hash, sqlite3_column_blob(s->at, 0), 32);
		ok = true;
	}
	sqlite3_reset(s->at);
	return ok;
}

bool chain_store_put(struct chain_store *s, uint32_t height,
		     const uint8_t hash[32], const uint8_t prev[32],
		     uint32_t time)
{
	int rc;

	sqlite3_bind_int64(s->put, 1, height);
	sqlite3_bind_blob(s->put, 2, hash, 32, SQLITE_STATIC);
	sqlite3_bind_blob(s->put, 3, prev, 32, SQLITE_STATIC);
	sqlite3_bind_int64(s->put, 4, time);
	rc = sqlite3_step(s->put);
	sqlite3_reset(s->put);
	if (rc != SQLITE_DONE)
		return false;
	if (height >= CHAIN_KEEP) {
		sqlite3_bind_int64(s->trim, 1, (int64_t)height - CHAIN_KEEP);
		rc = sqlite3_step(s->trim);
		sqlite3_reset(s->trim);
	}
	return rc == SQLITE_DONE;
}

bool chain_store_drop(struct chain_store *s, uint32_t height)
{
	int rc;

	sqlite3_bind_int64(s->drop, 1, height);
	rc = sqlite3_step(s->drop);
	sqlite3_reset(s->drop);
	return rc == SQLITE_DONE;
}

/* scids are unsigned 64-bit; SQLite integers signed: stored bit for bit. */
bool chain_store_watch_put(struct chain_store *s, uint64_t scid,
			   const uint8_t txid[32], uint32_t vout,
			   uint64_t capacity, uint32_t spent)
{
	int rc;

	sqlite3_bind_int64(s->wput, 1, (int64_t)scid);
	sqlite3_bind_blob(s->wput, 2, txid, 32, SQLITE_STATIC);
	sqlite3_bind_int64(s->wput, 3, vout);
	sqlite3_bind_int64(s->wput, 4, (int64_t)capacity);
	sqlite3_bind_int64(s->wput, 5, spent);
	rc = sqlite3_step(s->wput);
	sqlite3_reset(s->wput);
	return rc == SQLITE_DONE;
}

bool chain_store_watch_spent(struct chain_store *s, uint64_t scid,
			     uint32_t spent)
{
	int rc;

	sqlite3_bind_int64(s->wspent, 1, spent);
	sqlite3_bind_int64(s->wspent, 2, (int64_t)scid);
	rc = sqlite3_step(s->wspent);
	sqlite3_reset(s->wspent);
	return rc == SQLITE_DONE;
}

bool chain_store_watch_del(struct chain_store *s, uint64_t scid)
{
	int rc;

	sqlite3_bind_int64(s->wdel, 1, (int64_t)scid);
	rc = sqlite3_step(s->wdel);
	sqlite3_reset(s->wdel);
	return rc == SQLITE_DONE;
}

size_t chain_store_watch_page(struct chain_store *s, uint64_t *cursor,
			      size_t max, chain_store_watch_fn fn, void *arg,
			      bool *err)
{
	sqlite3_stmt *st;
	size_t n = 0;
	int rc;

	/* Keyset paging on the signed key: the first page starts at the
	 * lowest (*cursor is the last key seen, INT64_MIN before any). */
	*err = false;
	if (sqlite3_prepare_v2(s->db, "SELECT scid, txid, vout, capacity, "
			       "spent FROM watch WHERE scid > ? ORDER BY scid "
			       "LIMIT ?", -1, &st, NULL) != SQLITE_OK) {
		*err = true;
		return 0;
	}
	sqlite3_bind_int64(st, 1, (int64_t)*cursor);
	sqlite3_bind_int64(st, 2, (int64_t)max);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*cursor = (uint64_t)sqlite3_column_int64(st, 0);
		n++;
		if (sqlite3_column_bytes(st, 1) != 32)
			continue;
		fn(arg, (uint64_t)sqlite3_column_int64(st, 0),
		   sqlite3_column_blob(st, 1),
		   (uint32_t)sqlite3_column_int64(st, 2),
		   (uint64_t)sqlite3_column_int64(st, 3),
		   (uint32_t)sqlite3_column_int64(st, 4));
	}
	*err = rc != SQLITE_DONE;
	sqlite3_finalize(st);
	return n;
}

bool chain_store_recheck_put(struct chain_store *s, uint64_t scid,
			     const uint8_t script[34])
{
	int rc;

	sqlite3_bind_int64(s->rput, 1, (int64_t)scid);
	sqlite3_bind_blob(s->rput, 2, script, 34, SQLITE_STATIC);
	rc = sqlite3_step(s->rput);
	sqlite3_reset(s->rput);
	return rc == SQLITE_DONE;
}

bool chain_store_recheck_del(struct chain_store *s, uint64_t scid)
{
	int rc;

	sqlite3_bind_int64(s->rdel, 1, (int64_t)scid);
	rc = sqlite3_step(s->rdel);
	sqlite3_reset(s->rdel);
	return rc == SQLITE_DONE;
}

size_t chain_store_recheck_load(struct chain_store *s, size_t max,
				chain_store_recheck_fn fn, void *arg,
				bool *err)
{
	sqlite3_stmt *st;
	size_t n = 0;
	int rc;

	*err = false;
	if (sqlite3_prepare_v2(s->db, "SELECT scid, script FROM recheck "
			       "ORDER BY scid LIMIT ?", -1, &st,
			       NULL) != SQLITE_OK) {
		*err = true;
		return 0;
	}
	sqlite3_bind_int64(st, 1, (int64_t)max);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (sqlite3_column_bytes(st, 1) != 34)
			continue;
		fn(arg, (uint64_t)sqlite3_column_int64(st, 0),
		   sqlite3_column_blob(st, 1));
		n++;
	}
	*err = rc != SQLITE_DONE;
	sqlite3_finalize(st);
	return n;
}

/* Group the writes of one reply (up to a batch of checks) in one
 * transaction: one WAL append instead of one per row. */
bool chain_store_begin(struct chain_store *s)
{
	return sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK;
}

/* A failed COMMIT leaves the transaction open: roll it back, or every
 * later batch would pile into it (BEGIN inside a transaction fails). */
bool chain_store_commit(struct chain_store *s)
{
	if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK)
		return true;
	if (!sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	return false;
}
