/*~ The gossip store: the channel graph in one SQLite file in the data dir.
 *
 * Why SQLite in WAL mode with synchronous=NORMAL: in WAL mode a transaction
 * is committed once its frames are written to the WAL file, so a process
 * crash (kill -9) never loses a committed transaction and the next open
 * replays the WAL.  Only a power loss can drop the last transactions before
 * a checkpoint, and gossip is re-learned from peers anyway.  Writes are
 * batched into one transaction per commit interval, which is what makes
 * ingestion fast.
 *
 * Counters (nodes, channels, updates, unverified channels) live in a meta
 * table that triggers keep in step inside the same transactions, so opening
 * the store reads four rows instead of counting the graph.
 *
 * short_channel_ids are u64 but SQLite integers are signed: we store
 * scid ^ 2^63, which keeps unsigned order under signed comparison.
 */
#include "common/common.h"
#include "gossip/gossip.h"
#include "gossip/store.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#define SUB "GSTO"

enum stmt_id {
	ST_BEGIN,
	ST_COMMIT,
	ST_GET_CHAN,
	ST_ADD_CHAN,
	ST_PUT_UPD,
	ST_GET_NODE,
	ST_NODE_HAS_CHAN,
	ST_PUT_NODE,
	ST_CHAN_RAW,
	ST_UPD_RAW,
	ST_NODE_RAW,
	ST_COUNTS,
	ST_RANGE,
	ST_UPDS_BY_TS,
	ST_NODES_BY_TS,
	ST_PRUNE,
	ST_META_GET,
	ST_META_SET,
	ST_DEL_CHAN,
	ST_SET_VERIFIED,
	ST_UNVERIFIED_DEC,
	ST_UNVERIFIED_LIST,
	ST_NODES_NEWEST,
	ST_NUM
};

static const char *const stmt_sql[ST_NUM] = {
	[ST_BEGIN] = "BEGIN",
	[ST_COMMIT] = "COMMIT",
	[ST_GET_CHAN] =
		"SELECT c.node1, c.node2, c.unverified,"
		" u0.ts, u0.csum, u0.mflags, u1.ts, u1.csum, u1.mflags"
		" FROM channels c"
		" LEFT JOIN updates u0 ON u0.scid = c.scid AND u0.dir = 0"
		" LEFT JOIN updates u1 ON u1.scid = c.scid AND u1.dir = 1"
		" WHERE c.scid = ?1",
	[ST_ADD_CHAN] =
		"INSERT INTO channels (scid, node1, node2, unverified, added,"
		" last_update, raw) VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6)",
	[ST_PUT_UPD] =
		"INSERT INTO updates (scid, dir, ts, csum, mflags, raw)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
		" ON CONFLICT (scid, dir) DO UPDATE SET ts = excluded.ts,"
		" csum = excluded.csum, mflags = excluded.mflags,"
		" raw = excluded.raw",
	[ST_GET_NODE] = "SELECT ts FROM nodes WHERE node_id = ?1",
	[ST_NODE_HAS_CHAN] =
		"SELECT EXISTS (SELECT 1 FROM channels WHERE node1 = ?1)"
		" OR EXISTS (SELECT 1 FROM channels WHERE node2 = ?1)",
	[ST_PUT_NODE] =
		"INSERT INTO nodes (node_id, ts, raw) VALUES (?1, ?2, ?3)"
		" ON CONFLICT (node_id) DO UPDATE SET ts = excluded.ts,"
		" raw = excluded.raw",
	[ST_CHAN_RAW] = "SELECT raw FROM channels WHERE scid = ?1",
	[ST_UPD_RAW] = "SELECT raw FROM updates WHERE scid = ?1 AND dir = ?2",
	[ST_NODE_RAW] = "SELECT raw FROM nodes WHERE node_id = ?1",
	[ST_COUNTS] = "SELECT k, v FROM meta WHERE k IN"
		      " ('nodes', 'channels', 'updates', 'unverified')",
	[ST_RANGE] =
		"SELECT c.scid, u0.ts, u0.csum, u1.ts, u1.csum FROM channels c"
		" LEFT JOIN updates u0 ON u0.scid = c.scid AND u0.dir = 0"
		" LEFT JOIN updates u1 ON u1.scid = c.scid AND u1.dir = 1"
		" WHERE c.scid >= ?1 AND c.scid <= ?2 ORDER BY c.scid"
		" LIMIT ?3",
	[ST_UPDS_BY_TS] =
		"SELECT scid, dir, ts FROM updates"
		" WHERE (ts, scid, dir) > (?1, ?2, ?3) AND ts < ?4"
		" ORDER BY ts, scid, dir LIMIT ?5",
	/* Dial candidates: the freshest announcements first (nodes_ts). */
	[ST_NODES_NEWEST] =
		"SELECT node_id FROM nodes ORDER BY ts DESC, node_id LIMIT ?1",
	[ST_NODES_BY_TS] =
		"SELECT node_id, ts FROM nodes"
		" WHERE (ts, node_id) > (?1, ?2) AND ts < ?3"
		" ORDER BY ts, node_id LIMIT ?4",
	/* The older direction decides (BOLT 7: the latest update "in
	 * either direction"); a direction without an update counts from
	 * when the channel was stored. */
	[ST_PRUNE] =
		"DELETE FROM channels WHERE scid IN (SELECT c.scid FROM"
		" channels c WHERE COALESCE((SELECT ts FROM updates u"
		"  WHERE u.scid = c.scid AND u.dir = 0), c.added) < ?1"
		" OR COALESCE((SELECT ts FROM updates u"
		"  WHERE u.scid = c.scid AND u.dir = 1), c.added) < ?1"
		" LIMIT ?2)",
	[ST_META_GET] = "SELECT v FROM meta WHERE k = ?1",
	/* Chain source (chain module): forget a spent or failed channel,
	 * mark a background-checked one verified, list the unchecked. */
	[ST_DEL_CHAN] = "DELETE FROM channels WHERE scid = ?1",
	[ST_SET_VERIFIED] =
		"UPDATE channels SET unverified = 0 WHERE scid = ?1"
		" AND unverified = 1",
	[ST_UNVERIFIED_DEC] =
		"UPDATE meta SET v = v - 1 WHERE k = 'unverified'",
	[ST_UNVERIFIED_LIST] =
		"SELECT scid, raw FROM channels WHERE unverified = 1"
		" AND scid > ?1 ORDER BY scid LIMIT ?2",
	[ST_META_SET] = "INSERT INTO meta (k, v) VALUES (?1, ?2)"
			" ON CONFLICT (k) DO UPDATE SET v = excluded.v",
};

/* Version 1.  Triggers keep meta counters and channels.last_update exact. */
static const char schema_v1[] =
	"CREATE TABLE meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL)"
	" WITHOUT ROWID;"
	"INSERT INTO meta VALUES ('nodes', 0), ('channels', 0),"
	" ('updates', 0), ('unverified', 0);"
	"CREATE TABLE channels ("
	" scid INTEGER PRIMARY KEY,"
	" node1 BLOB NOT NULL, node2 BLOB NOT NULL,"
	" unverified INTEGER NOT NULL," /* 1: no UTXO check was possible */
	" added INTEGER NOT NULL,"      /* our clock when stored */
	" last_update INTEGER NOT NULL," /* newest update ts, else added */
	" has_upd INTEGER NOT NULL DEFAULT 0,"
	" raw BLOB NOT NULL);"
	"CREATE INDEX channels_node1 ON channels (node1);"
	"CREATE INDEX channels_node2 ON channels (node2);"
	"CREATE INDEX channels_last ON channels (last_update);"
	"CREATE TABLE updates ("
	" scid INTEGER NOT NULL, dir INTEGER NOT NULL, ts INTEGER NOT NULL,"
	" csum INTEGER NOT NULL, mflags INTEGER NOT NULL, raw BLOB NOT NULL,"
	" PRIMARY KEY (scid, dir)) WITHOUT ROWID;"
	"CREATE INDEX updates_ts ON updates (ts, scid, dir);"
	"CREATE TABLE nodes ("
	" node_id BLOB PRIMARY KEY, ts INTEGER NOT NULL, raw BLOB NOT NULL)"
	" WITHOUT ROWID;"
	"CREATE INDEX nodes_ts ON nodes (ts, node_id);"
	"CREATE TRIGGER chan_ins AFTER INSERT ON channels BEGIN"
	" UPDATE meta SET v = v + 1 WHERE k = 'channels';"
	" UPDATE meta SET v = v + NEW.unverified WHERE k = 'unverified';"
	" END;"
	"CREATE TRIGGER chan_del AFTER DELETE ON channels BEGIN"
	" UPDATE meta SET v = v - 1 WHERE k = 'channels';"
	" UPDATE meta SET v = v - OLD.unverified WHERE k = 'unverified';"
	" DELETE FROM updates WHERE scid = OLD.scid;"
	" DELETE FROM nodes WHERE node_id = OLD.node1"
	"  AND NOT EXISTS (SELECT 1 FROM channels WHERE node1 = OLD.node1)"
	"  AND NOT EXISTS (SELECT 1 FROM channels WHERE node2 = OLD.node1);"
	" DELETE FROM nodes WHERE node_id = OLD.node2"
	"  AND NOT EXISTS (SELECT 1 FROM channels WHERE node1 = OLD.node2)"
	"  AND NOT EXISTS (SELECT 1 FROM channels WHERE node2 = OLD.node2);"
	" END;"
	"CREATE TRIGGER upd_ins AFTER INSERT ON updates BEGIN"
	" UPDATE meta SET v = v + 1 WHERE k = 'updates';"
	" UPDATE channels SET last_update = CASE WHEN has_upd"
	"  THEN MAX(last_update, NEW.ts) ELSE NEW.ts END, has_upd = 1"
	"  WHERE scid = NEW.scid;"
	" END;"
	"CREATE TRIGGER upd_upd AFTER UPDATE OF ts ON updates BEGIN"
	" UPDATE channels SET last_update = MAX(last_update, NEW.ts)"
	"  WHERE scid = NEW.scid;"
	" END;"
	"CREATE TRIGGER upd_del AFTER DELETE ON updates BEGIN"
	" UPDATE meta SET v = v - 1 WHERE k = 'updates';"
	" END;"
	"CREATE TRIGGER node_ins AFTER INSERT ON nodes BEGIN"
	" UPDATE meta SET v = v + 1 WHERE k = 'nodes';"
	" END;"
	"CREATE TRIGGER node_del AFTER DELETE ON nodes BEGIN"
	" UPDATE meta SET v = v - 1 WHERE k = 'nodes';"
	" END;";

struct gossip_store {
	sqlite3 *db;
	sqlite3_stmt *st[ST_NUM];
	unsigned pending; /* writes in the open transaction */
};

static int64_t scid_key(uint64_t scid)
{
	return (int64_t)(scid ^ (1ULL << 63));
}

static uint64_t scid_from_key(int64_t key)
{
	return (uint64_t)key ^ (1ULL << 63);
}

static bool fail(struct gossip_store *s, const char *what)
{
	log_unusual(SUB, "%s: %s", what, sqlite3_errmsg(s->db));
	return false;
}

static bool exec(struct gossip_store *s, const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(s->db, sql, NULL, NULL, &err) != SQLITE_OK) {
		log_unusual(SUB, "%s: %s", sql, err ? err : "?");
		sqlite3_free(err);
		return false;
	}
	return true;
}

static sqlite3_stmt *stmt(struct gossip_store *s, enum stmt_id id)
{
	sqlite3_stmt *st = s->st[id];

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return st;
}

/* Run a statement that returns no rows. */
static bool step_done(struct gossip_store *s, sqlite3_stmt *st,
		      const char *what)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return fail(s, what);
	return true;
}

static bool begin_write(struct gossip_store *s)
{
	if (s->pending == 0 && !step_done(s, stmt(s, ST_BEGIN), "BEGIN"))
		return false;
	s->pending++;
	return true;
}

static bool setup_schema(struct gossip_store *s)
{
	sqlite3_stmt *st;
	int version = -1;

	if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL))
		return fail(s, "user_version");
	if (sqlite3_step(st) == SQLITE_ROW)
		version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (version == GOSSIP_STORE_VERSION)
		return true;
	if (version != 0) {
		log_unusual(SUB, "store schema version %d, expected %d",
			    version, GOSSIP_STORE_VERSION);
		return false;
	}
	/* One transaction: a crash mid-creation leaves version 0 and an
	 * empty database, created again next time. */
	return exec(s, "BEGIN") && exec(s, schema_v1) &&
	       exec(s, "PRAGMA user_version = 1") && exec(s, "COMMIT");
}

struct gossip_store *gossip_store_open(const char *path)
{
	struct gossip_store *s = calloc(1, sizeof(*s));

	if (!s)
		abort();
	if (sqlite3_open_v2(path, &s->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
				    SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		log_unusual(SUB, "cannot open %s: %s", path,
			    s->db ? sqlite3_errmsg(s->db) : "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(s->db, 2000);
	/* See the file comment for why NORMAL is safe against kill -9. */
	if (!exec(s, "PRAGMA journal_mode = WAL") ||
	    !exec(s, "PRAGMA synchronous = NORMAL") ||
	    !exec(s, "PRAGMA cache_size = -8192") ||
	    !exec(s, "PRAGMA temp_store = MEMORY") || !setup_schema(s))
		goto fail;
	for (size_t i = 0; i < ST_NUM; i++) {
		if (sqlite3_prepare_v3(s->db, stmt_sql[i], -1,
				       SQLITE_PREPARE_PERSISTENT, &s->st[i],
				       NULL) != SQLITE_OK) {
			fail(s, stmt_sql[i]);
			goto fail;
		}
	}
	return s;
fail:
	gossip_store_free(s);
	return NULL;
}

void gossip_store_free(struct gossip_store *s)
{
	if (!s)
		return;
	if (s->pending)
		gossip_store_commit(s);
	for (size_t i = 0; i < ST_NUM; i++)
		sqlite3_finalize(s->st[i]);
	sqlite3_close(s->db);
	free(s);
}

unsigned gossip_store_pending(const struct gossip_store *s)
{
	return s->pending;
}

bool gossip_store_commit(struct gossip_store *s)
{
	if (!s->pending)
		return true;
	if (!step_done(s, stmt(s, ST_COMMIT), "COMMIT")) {
		/* Leave no half-open transaction behind. */
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		s->pending = 0;
		return false;
	}
	s->pending = 0;
	return true;
}

static void col_mem(sqlite3_stmt *st, int col, uint8_t *out, size_t len)
{
	const void *p = sqlite3_column_blob(st, col);

	if (p && (size_t)sqlite3_column_bytes(st, col) == len)
		memcpy(out, p, len);
	else
		memset(out, 0, len);
}

int gossip_store_get_chan(struct gossip_store *s, struct gossip_store_chan *out,
			  uint64_t scid)
{
	sqlite3_stmt *st = stmt(s, ST_GET_CHAN);
	int rc;

	sqlite3_bind_int64(st, 1, scid_key(scid));
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		sqlite3_reset(st);
		return 0;
	}
	if (rc != SQLITE_ROW) {
		fail(s, "get channel");
		sqlite3_reset(st);
		return -1;
	}
	memset(out, 0, sizeof(*out));
	col_mem(st, 0, out->node_id_1, 33);
	col_mem(st, 1, out->node_id_2, 33);
	out->unverified = sqlite3_column_int(st, 2) != 0;
	for (int d = 0; d < 2; d++) {
		if (sqlite3_column_type(st, 3 + 3 * d) == SQLITE_NULL)
			continue;
		out->has_upd[d] = true;
		out->ts[d] = (uint32_t)sqlite3_column_int64(st, 3 + 3 * d);
		out->csum[d] = (uint32_t)sqlite3_column_int64(st, 4 + 3 * d);
		out->msg_flags[d] = (uint8_t)sqlite3_column_int(st, 5 + 3 * d);
	}
	sqlite3_reset(st);
	return 1;
}

bool gossip_store_add_chan(struct gossip_store *s, uint64_t scid,
			   const uint8_t node_id_1[33],
			   const uint8_t node_id_2[33], bool unverified,
			   uint32_t now, const uint8_t *raw, size_t len)
{
	sqlite3_stmt *st;

	if (!begin_write(s))
		return false;
	st = stmt(s, ST_ADD_CHAN);
	sqlite3_bind_int64(st, 1, scid_key(scid));
	sqlite3_bind_blob(st, 2, node_id_1, 33, SQLITE_STATIC);
	sqlite3_bind_blob(st, 3, node_id_2, 33, SQLITE_STATIC);
	sqlite3_bind_int(st, 4, unverified);
	sqlite3_bind_int64(st, 5, now);
	sqlite3_bind_blob(st, 6, raw, (int)len, SQLITE_STATIC);
	return step_done(s, st, "add channel");
}

bool gossip_store_put_upd(struct gossip_store *s, uint64_t scid, int dir,
			  uint32_t ts, uint32_t csum, uint8_t msg_flags,
			  const uint8_t *raw, size_t len)
{
	sqlite3_stmt *st;

	if (!begin_write(s))
		return false;
	st = stmt(s, ST_PUT_UPD);
	sqlite3_bind_int64(st, 1, scid_key(scid));
	sqlite3_bind_int(st, 2, dir);
	sqlite3_bind_int64(st, 3, ts);
	sqlite3_bind_int64(st, 4, csum);
	sqlite3_bind_int(st, 5, msg_flags);
	sqlite3_bind_blob(st, 6, raw, (int)len, SQLITE_STATIC);
	return step_done(s, st, "put update");
}

int gossip_store_get_node(struct gossip_store *s, uint32_t *ts,
			  const uint8_t node_id[33])
{
	sqlite3_stmt *st = stmt(s, ST_GET_NODE);
	int rc;

	sqlite3_bind_blob(st, 1, node_id, 33, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*ts = (uint32_t)sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	fail(s, "get node");
	return -1;
}

int gossip_store_node_has_chan(struct gossip_store *s,
			       const uint8_t node_id[33])
{
	sqlite3_stmt *st = stmt(s, ST_NODE_HAS_CHAN);
	int rc, found = 0;

	sqlite3_bind_blob(st, 1, node_id, 33, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		found = sqlite3_column_int(st, 0) != 0;
	sqlite3_reset(st);
	if (rc != SQLITE_ROW) {
		fail(s, "node has channel");
		return -1;
	}
	return found;
}

bool gossip_store_put_node(struct gossip_store *s, const uint8_t node_id[33],
			   uint32_t ts, const uint8_t *raw, size_t len)
{
	sqlite3_stmt *st;

	if (!begin_write(s))
		return false;
	st = stmt(s, ST_PUT_NODE);
	sqlite3_bind_blob(st, 1, node_id, 33, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, ts);
	sqlite3_bind_blob(st, 3, raw, (int)len, SQLITE_STATIC);
	return step_done(s, st, "put node");
}

/* One blob column of one row into @buf. */
static int get_raw(struct gossip_store *s, sqlite3_stmt *st, uint8_t *buf,
		   size_t cap, size_t *len)
{
	int rc = sqlite3_step(st), ret = 0;

	if (rc == SQLITE_ROW) {
		size_t n = (size_t)sqlite3_column_bytes(st, 0);
		const void *p = sqlite3_column_blob(st, 0);
		if (n > cap || !p) {
			ret = -1;
		} else {
			memcpy(buf, p, n);
			*len = n;
			ret = 1;
		}
	} else if (rc != SQLITE_DONE) {
		fail(s, "read raw");
		ret = -1;
	}
	sqlite3_reset(st);
	return ret;
}

int gossip_store_chan_raw(struct gossip_store *s, uint8_t *buf, size_t cap,
			  size_t *len, uint64_t scid)
{
	sqlite3_stmt *st = stmt(s, ST_CHAN_RAW);

	sqlite3_bind_int64(st, 1, scid_key(scid));
	return get_raw(s, st, buf, cap, len);
}

int gossip_store_upd_raw(struct gossip_store *s, uint8_t *buf, size_t cap,
			 size_t *len, uint64_t scid, int dir)
{
	sqlite3_stmt *st = stmt(s, ST_UPD_RAW);

	sqlite3_bind_int64(st, 1, scid_key(scid));
	sqlite3_bind_int(st, 2, dir);
	return get_raw(s, st, buf, cap, len);
}

int gossip_store_node_raw(struct gossip_store *s, uint8_t *buf, size_t cap,
			  size_t *len, const uint8_t node_id[33])
{
	sqlite3_stmt *st = stmt(s, ST_NODE_RAW);

	sqlite3_bind_blob(st, 1, node_id, 33, SQLITE_STATIC);
	return get_raw(s, st, buf, cap, len);
}

bool gossip_store_counts(struct gossip_store *s,
			 struct gossip_store_counts *out)
{
	sqlite3_stmt *st = stmt(s, ST_COUNTS);
	int rc;

	memset(out, 0, sizeof(*out));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *k = (const char *)sqlite3_column_text(st, 0);
		uint64_t v = (uint64_t)sqlite3_column_int64(st, 1);
		if (!k)
			continue;
		if (!strcmp(k, "nodes"))
			out->nodes = v;
		else if (!strcmp(k, "channels"))
			out->channels = v;
		else if (!strcmp(k, "updates"))
			out->updates = v;
		else if (!strcmp(k, "unverified"))
			out->unverified = v;
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE || fail(s, "counts");
}

size_t gossip_store_range(struct gossip_store *s,
			  struct gossip_store_range_ent *out, size_t max,
			  uint64_t from, uint64_t last)
{
	sqlite3_stmt *st = stmt(s, ST_RANGE);
	size_t n = 0;
	int rc;

	sqlite3_bind_int64(st, 1, scid_key(from));
	sqlite3_bind_int64(st, 2, scid_key(last));
	sqlite3_bind_int64(st, 3, (int64_t)max);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < max) {
		struct gossip_store_range_ent *e = &out[n++];
		e->scid = scid_from_key(sqlite3_column_int64(st, 0));
		e->ts[0] = (uint32_t)sqlite3_column_int64(st, 1);
		e->csum[0] = (uint32_t)sqlite3_column_int64(st, 2);
		e->ts[1] = (uint32_t)sqlite3_column_int64(st, 3);
		e->csum[1] = (uint32_t)sqlite3_column_int64(st, 4);
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		fail(s, "range");
	sqlite3_reset(st);
	return n;
}

size_t gossip_store_upds_by_ts(struct gossip_store *s,
			       struct gossip_store_upd_ent *out, size_t max,
			       uint32_t ts_lo, uint64_t ts_hi,
			       uint32_t cur_ts, uint64_t cur_scid, int cur_dir)
{
	sqlite3_stmt *st = stmt(s, ST_UPDS_BY_TS);
	size_t n = 0;
	int rc;

	/* The cursor starts just below (ts_lo, smallest scid, dir 0). */
	if (cur_ts < ts_lo) {
		cur_ts = ts_lo;
		cur_scid = 0;
		cur_dir = -1;
	}
	sqlite3_bind_int64(st, 1, cur_ts);
	sqlite3_bind_int64(st, 2, scid_key(cur_scid));
	sqlite3_bind_int(st, 3, cur_dir);
	sqlite3_bind_int64(st, 4, (int64_t)ts_hi);
	sqlite3_bind_int64(st, 5, (int64_t)max);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < max) {
		out[n].scid = scid_from_key(sqlite3_column_int64(st, 0));
		out[n].dir = sqlite3_column_int(st, 1);
		out[n].ts = (uint32_t)sqlite3_column_int64(st, 2);
		n++;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		fail(s, "updates by timestamp");
	sqlite3_reset(st);
	return n;
}

size_t gossip_store_nodes_by_ts(struct gossip_store *s, uint8_t (*out)[33],
				uint32_t *out_ts, size_t max, uint32_t ts_lo,
				uint64_t ts_hi, uint32_t cur_ts,
				const uint8_t cur_id[33])
{
	sqlite3_stmt *st = stmt(s, ST_NODES_BY_TS);
	static const uint8_t none[1];
	size_t n = 0;
	int rc;

	/* An empty blob sorts before every node id. */
	if (cur_ts < ts_lo || !cur_id) {
		cur_ts = ts_lo;
		sqlite3_bind_blob(st, 2, none, 0, SQLITE_STATIC);
	} else {
		sqlite3_bind_blob(st, 2, cur_id, 33, SQLITE_TRANSIENT);
	}
	sqlite3_bind_int64(st, 1, cur_ts);
	sqlite3_bind_int64(st, 3, (int64_t)ts_hi);
	sqlite3_bind_int64(st, 4, (int64_t)max);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < max) {
		col_mem(st, 0, out[n], 33);
		out_ts[n] = (uint32_t)sqlite3_column_int64(st, 1);
		n++;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		fail(s, "nodes by timestamp");
	sqlite3_reset(st);
	return n;
}

size_t gossip_store_nodes_newest(struct gossip_store *s, uint8_t (*out)[33],
				 size_t max)
{
	sqlite3_stmt *st = stmt(s, ST_NODES_NEWEST);
	size_t n = 0;
	int rc;

	sqlite3_bind_int64(st, 1, (int64_t)max);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < max)
		col_mem(st, 0, out[n++], 33);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		fail(s, "newest nodes");
	sqlite3_reset(st);
	return n;
}

size_t gossip_store_prune(struct gossip_store *s, uint32_t cutoff, size_t max)
{
	sqlite3_stmt *st;
	size_t n;

	if (!begin_write(s))
		return 0;
	st = stmt(s, ST_PRUNE);
	sqlite3_bind_int64(st, 1, cutoff);
	sqlite3_bind_int64(st, 2, (int64_t)max);
	if (!step_done(s, st, "prune"))
		return 0;
	n = (size_t)sqlite3_changes(s->db);
	s->pending += (unsigned)n;
	return n;
}

bool gossip_store_del_chan(struct gossip_store *s, uint64_t scid)
{
	sqlite3_stmt *st;

	if (!begin_write(s))
		return false;
	st = stmt(s, ST_DEL_CHAN);
	sqlite3_bind_int64(st, 1, scid_key(scid));
	return step_done(s, st, "delete channel");
}

bool gossip_store_set_verified(struct gossip_store *s, uint64_t scid)
{
	sqlite3_stmt *st;

	if (!begin_write(s))
		return false;
	st = stmt(s, ST_SET_VERIFIED);
	sqlite3_bind_int64(st, 1, scid_key(scid));
	if (!step_done(s, st, "set verified"))
		return false;
	/* The counter triggers watch inserts and deletes only. */
	if (sqlite3_changes(s->db) == 1)
		return step_done(s, stmt(s, ST_UNVERIFIED_DEC), "unverified");
	return true;
}

size_t gossip_store_unverified(struct gossip_store *s, uint64_t after,
			       uint64_t *scids, uint8_t (*keys)[2][33],
			       size_t max)
{
	sqlite3_stmt *st = stmt(s, ST_UNVERIFIED_LIST);
	size_t n = 0;
	int rc;

	/* The first page starts below every key (after == 0). */
	sqlite3_bind_int64(st, 1, after ? scid_key(after) : INT64_MIN);
	sqlite3_bind_int64(st, 2, (int64_t)max);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < max) {
		struct gossip_chan_ann ca;
		const uint8_t *raw = sqlite3_column_blob(st, 1);
		size_t len = (size_t)sqlite3_column_bytes(st, 1);
		scids[n] = scid_from_key(sqlite3_column_int64(st, 0));
		if (!raw || gossip_chan_ann_parse(&ca, raw, len) != GOSSIP_OK)
			memset(keys[n], 0, sizeof(keys[n]));
		else {
			memcpy(keys[n][0], ca.btc_key_1, 33);
			memcpy(keys[n][1], ca.btc_key_2, 33);
		}
		n++;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		fail(s, "unverified list");
	sqlite3_reset(st);
	return n;
}

bool gossip_store_meta_get(struct gossip_store *s, int64_t *v,
			   const char *key)
{
	sqlite3_stmt *st = stmt(s, ST_META_GET);
	bool found;

	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	found = sqlite3_step(st) == SQLITE_ROW;
	if (found)
		*v = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return found;
}

bool gossip_store_meta_set(struct gossip_store *s, const char *key, int64_t v)
{
	sqlite3_stmt *st;

	if (!begin_write(s))
		return false;
	st = stmt(s, ST_META_SET);
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, v);
	return step_done(s, st, "meta set");
}
