/*~ wallet: the SQLite table of unspent outputs and lnd-style balances.
 * Single writer (the daemon's loop thread); WAL so coldctl-style readers
 * never block it.
 */
#include "wallet/wallet_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS utxos ("
	" txid TEXT NOT NULL,"
	" vout INTEGER NOT NULL,"
	" amount_sat INTEGER NOT NULL CHECK (amount_sat >= 0),"
	" confirmations INTEGER NOT NULL CHECK (confirmations >= 0),"
	" address TEXT NOT NULL DEFAULT '',"
	" account TEXT NOT NULL DEFAULT 'default',"
	" locked INTEGER NOT NULL DEFAULT 0,"
	" PRIMARY KEY (txid, vout));"
	/* Accounts (scan.c): one row per lnd account; key_id is the key
	 * itself (chain code and point), whatever SLIP-132 version it came
	 * in, so the same account imported twice is one row. */
	"CREATE TABLE IF NOT EXISTS accounts ("
	" id INTEGER PRIMARY KEY,"
	" name TEXT NOT NULL,"
	" addr_type INTEGER NOT NULL,"
	" xpub TEXT NOT NULL,"
	" key_id TEXT NOT NULL,"
	" path TEXT NOT NULL,"
	" purpose INTEGER NOT NULL, coin INTEGER NOT NULL,"
	" acct_index INTEGER NOT NULL,"
	" master_fp TEXT NOT NULL DEFAULT '',"
	" ext_count INTEGER NOT NULL DEFAULT 0,"
	" int_count INTEGER NOT NULL DEFAULT 0,"
	" UNIQUE (key_id, addr_type));"
	/* One past the highest index seen used, per branch (0 external,
	 * 1 change): the gap limit counts from there. */
	"CREATE TABLE IF NOT EXISTS branches ("
	" account_id INTEGER NOT NULL, branch INTEGER NOT NULL,"
	" used_next INTEGER NOT NULL,"
	" PRIMARY KEY (account_id, branch));"
	/* Outputs paying watched scripts.  height 0: in the mempool.
	 * spent_height: the block spending it; spent_mempool: a mempool
	 * transaction spends it. */
	"CREATE TABLE IF NOT EXISTS coins ("
	" txid BLOB NOT NULL, vout INTEGER NOT NULL,"
	" value INTEGER NOT NULL CHECK (value >= 0),"
	" script BLOB NOT NULL,"
	" account_id INTEGER NOT NULL,"
	" height INTEGER NOT NULL,"
	" coinbase INTEGER NOT NULL DEFAULT 0,"
	" spent_height INTEGER,"
	" spent_mempool INTEGER NOT NULL DEFAULT 0,"
	" PRIMARY KEY (txid, vout));"
	"CREATE INDEX IF NOT EXISTS coins_height ON coins (height);"
	"CREATE INDEX IF NOT EXISTS coins_spent ON coins (spent_height);"
	/* Blocks scanned (the last WALLET_KEEP_BLOCKS): the wallet tip is the
	 * highest, written in the same transaction as the block's coins. */
	"CREATE TABLE IF NOT EXISTS scan_blocks ("
	" height INTEGER PRIMARY KEY, hash BLOB NOT NULL);"
	/* Accounts imported with a birthday below the wallet tip: the next
	 * height to scan for them (the tip does not move back; docs/wallet.md,
	 * "Importing accounts later"). */
	"CREATE TABLE IF NOT EXISTS rescans ("
	" account_id INTEGER PRIMARY KEY, next_height INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS scan_state ("
	" id INTEGER PRIMARY KEY CHECK (id = 1),"
	" birthday INTEGER NOT NULL DEFAULT -1,"
	" updated_unix INTEGER NOT NULL DEFAULT 0);"
	"INSERT OR IGNORE INTO scan_state (id) VALUES (1);"
	"PRAGMA user_version = 2;";

bool wallet_exec(struct wallet *w, const char *sql)
{
	char *err = NULL;
	if (sqlite3_exec(w->db, sql, NULL, NULL, &err) != SQLITE_OK) {
		log_unusual(SUBSYS, "%s: %s", w->path, err ? err : "?");
		sqlite3_free(err);
		return false;
	}
	return true;
}

bool wallet_step_done(sqlite3_stmt *st)
{
	bool ok = sqlite3_step(st) == SQLITE_DONE;
	sqlite3_reset(st);
	return ok;
}

bool wallet_tx_end(struct wallet *w, bool ok)
{
	if (ok && wallet_exec(w, "COMMIT;"))
		return true;
	/* A COMMIT that failed (I/O error, disk full) may leave the
	 * transaction open; every later BEGIN would fail. */
	if (!sqlite3_get_autocommit(w->db))
		wallet_exec(w, "ROLLBACK;");
	return false;
}

struct wallet *wallet_open(const char *path)
{
	struct wallet *w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->path = strdup(path);
	if (!w->path ||
	    sqlite3_open_v2(path, &w->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
			    SQLITE_OPEN_FULLMUTEX, NULL) != SQLITE_OK) {
		log_unusual(SUBSYS, "cannot open %s: %s", path,
			    w->db ? sqlite3_errmsg(w->db) : "out of memory");
		wallet_free(w);
		return NULL;
	}
	sqlite3_busy_timeout(w->db, 2000);
	if (!wmap_init(&w->scripts) || !wmap_init(&w->outpoints)) {
		wallet_free(w);
		return NULL;
	}
	/* WAL + synchronous=NORMAL: a commit survives a kill -9 (it is in the
	 * WAL file); an OS crash or power cut may lose the last commits but
	 * never half of one.  Block, coins and tip share a transaction, so
	 * the wallet is then simply at an earlier tip and the chain hands it
	 * those blocks again (docs/wallet.md).  Saves an fsync per block. */
	if (!wallet_exec(w, "PRAGMA journal_mode = WAL;") ||
	    !wallet_exec(w, "PRAGMA synchronous = NORMAL;") ||
	    !wallet_exec(w, schema)) {
		wallet_free(w);
		return NULL;
	}
	return w;
}

void wallet_free(struct wallet *w)
{
	if (!w)
		return;
	wallet_balance_invalidate(w);
	wallet_scan_clear(w);
	sqlite3_close(w->db);
	free(w->path);
	free(w);
}

static bool valid_txid(const char *t)
{
	size_t n = strlen(t);
	if (n != 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((t[i] >= '0' && t[i] <= '9') ||
		      (t[i] >= 'a' && t[i] <= 'f')))
			return false;
	return true;
}

bool wallet_import(struct wallet *w, const struct wallet_utxo *utxos,
		   size_t num, bool append)
{
	sqlite3_stmt *st = NULL;
	bool ok = false;

	wallet_balance_invalidate(w);
	for (size_t i = 0; i < num; i++) {
		if (!valid_txid(utxos[i].txid) || utxos[i].amount_sat < 0 ||
		    utxos[i].amount_sat > WALLET_MAX_SAT ||
		    utxos[i].confirmations < 0) {
			log_unusual(SUBSYS, "import: entry %zu is invalid", i);
			return false;
		}
	}
	if (!wallet_exec(w, "BEGIN IMMEDIATE;"))
		return false;
	if (!append && !wallet_exec(w, "DELETE FROM utxos;"))
		goto out;
	if (sqlite3_prepare_v2(w->db,
			       "INSERT OR REPLACE INTO utxos (txid, vout, "
			       "amount_sat, confirmations, address, account, "
			       "locked) VALUES (?,?,?,?,?,?,?)",
			       -1, &st, NULL) != SQLITE_OK)
		goto out;
	for (size_t i = 0; i < num; i++) {
		const struct wallet_utxo *u = &utxos[i];
		sqlite3_bind_text(st, 1, u->txid, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, u->vout);
		sqlite3_bind_int64(st, 3, u->amount_sat);
		sqlite3_bind_int64(st, 4, u->confirmations);
		sqlite3_bind_text(st, 5, u->address, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 6, u->account[0] ? u->account
				  : WALLET_DEFAULT_ACCOUNT, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 7, u->locked);
		if (sqlite3_step(st) != SQLITE_DONE)
			goto out;
		sqlite3_reset(st);
	}
	ok = true;
out:
	if (!ok)
		log_unusual(SUBSYS, "import into %s failed: %s", w->path,
			    sqlite3_errmsg(w->db));
	sqlite3_finalize(st);
	return wallet_tx_end(w, ok);
}

/* TOTAL() sums as a double; clamp before converting (an absurd import
 * must not be undefined behaviour). */
static int64_t sat_total(sqlite3_stmt *st, int col)
{
	double d = sqlite3_column_double(st, col);
	if (d > 9e18)
		return INT64_C(9000000000000000000);
	return d < 0 ? 0 : (int64_t)d;
}

bool wallet_balance_compute(struct wallet *w, struct wallet_balance *out,
			    const char *account, int32_t min_confs)
{
	sqlite3_stmt *st = NULL;
	bool all = !account || !account[0];
	int rc;

	memset(out, 0, sizeof(*out));
	if (min_confs <= 0)
		min_confs = 1;
	if (wallet_has_accounts(w))
		return wallet_scan_balance(w, out, account, min_confs);
	if (sqlite3_prepare_v2(
		    w->db,
		    "SELECT account,"
		    " TOTAL(CASE WHEN NOT locked AND confirmations >= ?1"
		    "  THEN amount_sat ELSE 0 END),"
		    " TOTAL(CASE WHEN NOT locked AND confirmations < ?1"
		    "  THEN amount_sat ELSE 0 END),"
		    " TOTAL(CASE WHEN locked THEN amount_sat ELSE 0 END)"
		    " FROM utxos WHERE ?2 OR account = ?3"
		    " GROUP BY account ORDER BY account",
		    -1, &st, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_bind_int(st, 1, min_confs);
	sqlite3_bind_int(st, 2, all);
	sqlite3_bind_text(st, 3, all ? "" : account, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct wallet_account_balance *a = realloc(
			out->accounts,
			(out->num_accounts + 1) * sizeof(*a));
		if (!a)
			goto fail;
		out->accounts = a;
		a = &a[out->num_accounts++];
		memset(a, 0, sizeof(*a));
		const unsigned char *name = sqlite3_column_text(st, 0);
		snprintf(a->account, sizeof(a->account), "%s",
			 name ? (const char *)name : "");
		a->confirmed = sat_total(st, 1);
		a->unconfirmed = sat_total(st, 2);
		out->confirmed += a->confirmed;
		out->unconfirmed += a->unconfirmed;
		out->locked += sat_total(st, 3);
	}
	if (rc != SQLITE_DONE)
		goto fail;
	out->total = out->confirmed + out->unconfirmed;
	sqlite3_finalize(st);
	return true;
fail:
	log_unusual(SUBSYS, "balance query on %s failed: %s", w->path,
		    sqlite3_errmsg(w->db));
	sqlite3_finalize(st);
	wallet_balance_clear(out);
	return false;
}

void wallet_balance_clear(struct wallet_balance *b)
{
	free(b->accounts);
	memset(b, 0, sizeof(*b));
}

int64_t wallet_count(struct wallet *w)
{
	sqlite3_stmt *st = NULL;
	int64_t n = -1;
	if (sqlite3_prepare_v2(w->db, "SELECT COUNT(*) FROM utxos", -1, &st,
			       NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

bool wallet_import_accounts_file(struct wallet *w,
				 struct wallet_import_result *res, char *err,
				 size_t errlen, const char *path,
				 int64_t birthday)
{
	/* lnd exports 3 + 256 accounts of ~400 bytes: 4 MiB is plenty. */
	enum { MAX_FILE = 4 * 1024 * 1024 };
	struct wallet_account *a = NULL;
	size_t n = 0, len = 0;
	char *buf = NULL;
	bool ok = false;
	ssize_t r = 0;
	/* read(2), not stdio: stdio's buffer would keep a copy of the tail
	 * of a file that may hold a private key. */
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	memset(res, 0, sizeof(*res));
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return false;
	}
	buf = malloc(MAX_FILE + 1);
	while (buf && len <= MAX_FILE &&
	       (r = read(fd, buf + len, MAX_FILE + 1 - len)) != 0) {
		if (r < 0 && errno != EINTR)
			break;
		if (r > 0)
			len += (size_t)r;
	}
	close(fd);
	if (!buf || r < 0 || len > MAX_FILE) {
		snprintf(err, errlen, "%s: %s", path,
			 !buf ? "out of memory"
			 : r < 0 ? "read error" : "larger than 4 MiB");
		goto out;
	}
	if (!w->net) {
		snprintf(err, errlen, "wallet not configured");
		goto out;
	}
	if (!wallet_parse_accounts(&a, &n, err, errlen, w->net, buf, len))
		goto out;
	ok = wallet_import_accounts(w, res, err, errlen, a, n, birthday);
out:
	if (buf) {
		sodium_memzero(buf, len);
		free(buf);
	}
	free(a);
	return ok;
}
