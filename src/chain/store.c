/* The last CHAIN_KEEP blocks we connected, (height, hash, prev, time), in
 * SQLite: enough to find the fork point of any reorg up to that depth
 * after a restart, and our tip to catch up from. */
#include "chain/chain_internal.h"
#include "common/common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct chain_store {
	sqlite3 *db;
	sqlite3_stmt *tip, *put, *trim, *drop;
};

static const char schema[] =
	"PRAGMA journal_mode=WAL;"
	"PRAGMA synchronous=NORMAL;"
	"CREATE TABLE IF NOT EXISTS blocks("
	" height INTEGER PRIMARY KEY, hash BLOB NOT NULL,"
	" prev BLOB NOT NULL, time INTEGER NOT NULL);";

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
			       -1, &s->drop, NULL) != SQLITE_OK) {
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
