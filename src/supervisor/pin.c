/*~ Pinning the node key learnt from the first signer.
 *
 * Without --signer.nodepubkey, the first signer that passes the key check
 * defines the node key; it is stored here so that a later signer holding
 * another key is refused, across restarts.  One row in one table of
 * <datadir>/coldnode.sqlite, which only this file opens.
 */
#include "supervisor/sv_priv.h"

#include <sqlite3.h>
#include <string.h>

#include "common/common.h"

static sqlite3 *open_db(const char *path)
{
	sqlite3 *db = NULL;
	char *err = NULL;

	if (sqlite3_open_v2(path, &db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
			    NULL) != SQLITE_OK) {
		log_unusual("SUPV", "cannot open %s: %s", path,
			    db ? sqlite3_errmsg(db) : "out of memory");
		sqlite3_close(db);
		return NULL;
	}
	sqlite3_busy_timeout(db, 5000);
	if (sqlite3_exec(db,
			 "CREATE TABLE IF NOT EXISTS supervisor_signer ("
			 " id INTEGER PRIMARY KEY CHECK (id = 1),"
			 " node_pubkey BLOB NOT NULL,"
			 " pinned_at INTEGER NOT NULL)",
			 NULL, NULL, &err) != SQLITE_OK) {
		log_unusual("SUPV", "cannot create pin table in %s: %s", path,
			    err ? err : "?");
		sqlite3_free(err);
		sqlite3_close(db);
		return NULL;
	}
	return db;
}

bool sv_pin_load(const char *path, uint8_t pub[33], bool *found)
{
	sqlite3 *db = open_db(path);
	sqlite3_stmt *st = NULL;
	bool ok = false;
	int rc;

	*found = false;
	if (!db)
		return false;
	if (sqlite3_prepare_v2(db,
			       "SELECT node_pubkey FROM supervisor_signer"
			       " WHERE id = 1", -1, &st, NULL) != SQLITE_OK)
		goto out;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		if (sqlite3_column_bytes(st, 0) != 33) {
			log_unusual("SUPV", "pinned node key in %s is not 33 bytes",
				    path);
			goto out;
		}
		memcpy(pub, sqlite3_column_blob(st, 0), 33);
		*found = true;
	} else if (rc != SQLITE_DONE) {
		goto out;
	}
	ok = true;
out:
	if (!ok)
		log_unusual("SUPV", "reading pinned key from %s: %s", path,
			    sqlite3_errmsg(db));
	sqlite3_finalize(st);
	sqlite3_close(db);
	return ok;
}

bool sv_pin_store(const char *path, const uint8_t pub[33])
{
	sqlite3 *db = open_db(path);
	sqlite3_stmt *st = NULL;
	bool ok = false;

	if (!db)
		return false;
	if (sqlite3_prepare_v2(db,
			       "INSERT OR REPLACE INTO supervisor_signer"
			       " (id, node_pubkey, pinned_at)"
			       " VALUES (1, ?, strftime('%s','now'))",
			       -1, &st, NULL) != SQLITE_OK)
		goto out;
	sqlite3_bind_blob(st, 1, pub, 33, SQLITE_STATIC);
	ok = sqlite3_step(st) == SQLITE_DONE;
out:
	if (!ok)
		log_unusual("SUPV", "pinning node key in %s: %s", path,
			    sqlite3_errmsg(db));
	sqlite3_finalize(st);
	sqlite3_close(db);
	return ok;
}
