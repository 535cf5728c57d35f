/* wallet_priv.h: what the wallet's own files share (not for tests). */
#ifndef COLDNODE_WALLET_PRIV_H
#define COLDNODE_WALLET_PRIV_H

#include "wallet/wallet_internal.h"
#include "wallet/wmap.h"

#include <sqlite3.h>

#define SUBSYS "WLLT"
/* Blocks remembered for reorg undo; deeper reorgs are not undone (the
 * chain module keeps 100). */
#define WALLET_KEEP_BLOCKS 1000
/* Consensus: coinbase outputs spendable after 100 blocks; btcwallet's
 * ListUnspent (so lnd's balance) leaves immature ones out. */
#define COINBASE_MATURITY 100

/* An account being scanned, with its two branch keys m/.../0 and .../1. */
struct wacct {
	int64_t id;
	struct wallet_account a;
	struct wallet_xpub branch[2];
	uint32_t used_next[2]; /* one past the highest used index */
	uint32_t derived[2];   /* scripts derived (and watched) so far */
	int64_t rescan_next;   /* imported with a past birthday: next height
				  to scan for it below the tip; -1 none */
};

struct wallet {
	sqlite3 *db;
	char *path;
	/* scan state (state.c, horizon.c, match.c, connect.c) */
	const struct wallet_net *net;
	uint32_t gap;
	struct wacct *accts; /* owned */
	size_t num_accts;
	bool any_accounts;   /* accounts stored (scanned or not) */
	/* script -> acct index << 40 | branch << 32 | child index */
	struct wmap scripts;
	/* txid||vout(le) of coins not spent in the chain -> 1 */
	struct wmap outpoints;
	bool have_tip;
	int64_t tip_height, birthday, updated_unix;
	int64_t rescan_next;  /* min of the accounts' rescan_next, -1 none */
	uint8_t tip_hash[32];
	/* balance cache (balance.c): the all-accounts, min_confs 1 answer,
	 * valid until the wallet changes. */
	struct wallet_balance bal;
	bool bal_valid;
	bool mp_digest_valid;   /* mp_digest is of the current coins */
	uint8_t mp_digest[32];  /* SHA256 of the mempool part of coins */
	uint64_t bal_computes;  /* full computations made for the cache */
};

bool wallet_exec(struct wallet *w, const char *sql);
/* sqlite3_step to SQLITE_DONE, then reset @st for its next use. */
bool wallet_step_done(sqlite3_stmt *st);
/* Ends the transaction a "BEGIN IMMEDIATE;" opened: COMMIT when @ok, else
 * ROLLBACK; a failed COMMIT is rolled back too, so no transaction is left
 * open.  Returns whether the writes are in. */
bool wallet_tx_end(struct wallet *w, bool ok);

/* ---- horizon.c: the gap limit ---- */
/* The script type of @branch of an account of type @t (lnd's hybrid m/49'
 * account: np2wkh receive, p2wkh change). */
enum wallet_addr_type wallet_branch_type(enum wallet_addr_type t, int branch);
/* BIP49/84/86: the purposes whose addresses hold the wallet's funds. */
bool wallet_scanned_purpose(uint32_t purpose);
/* The script table's value: account index << 40 | branch << 32 | index. */
uint64_t wallet_script_val(size_t acct, int branch, uint32_t idx);
/* Derives (and watches) @branch of account @ai up to @n scripts. */
bool wallet_derive_to(struct wallet *w, size_t ai, int branch, uint32_t n);
/* How far @branch of @a must be derived: past the used or handed-out
 * indices by the gap. */
uint32_t wallet_want_derived(const struct wallet *w, const struct wacct *a,
			     int branch);
/* Scripts derived so far, all accounts: a block pass that changed it
 * moved a horizon. */
uint64_t wallet_derived_total(const struct wallet *w);

/* ---- state.c: memory rebuilt from SQLite ---- */
void wallet_scan_clear(struct wallet *w);
/* txid || vout (little-endian): the outpoint table's key. */
void wallet_outpoint_key(uint8_t key[36], const uint8_t txid[32],
			 uint32_t vout);
/* w->rescan_next from the accounts'. */
void wallet_rescan_refresh(struct wallet *w);
/* Everything: accounts, scripts, then wallet_reload_coins. */
bool wallet_reload(struct wallet *w);
/* Outpoints, tip, birthday (the scripts stay). */
bool wallet_reload_coins(struct wallet *w);
/* The decision's input without the stored hashes (apply.c). */
void wallet_pos_of(const struct wallet *w, struct wallet_pos *p);

/* ---- match.c: transactions against scripts and outpoints ---- */
struct wallet_stmts {
	sqlite3_stmt *ins_coin, *spend, *used;
};
bool wallet_stmts_prepare(struct wallet *w, struct wallet_stmts *s);
void wallet_stmts_free(struct wallet_stmts *s);
/* Output @vout of @tx pays the watched script @val: stored at @height (0:
 * mempool), its branch's horizon moved when it uses a new index. */
bool wallet_add_coin(struct wallet *w, struct wallet_stmts *s,
		     const struct chain_tx *tx, uint32_t vout, uint64_t val,
		     int64_t height, bool coinbase);
/* Block @blk at @height: spends and coins of the accounts @how scans,
 * passed over again while the gap limit moves.  Inside a transaction. */
bool wallet_scan_block(struct wallet *w, struct wallet_stmts *s,
		       uint32_t height, const struct chain_block *blk,
		       enum wallet_scan_how how);

/* ---- connect.c ---- */
/* scan_state.updated_unix = now, inside the caller's transaction. */
bool wallet_set_updated(struct wallet *w);

bool wallet_scan_balance(struct wallet *w, struct wallet_balance *out,
			 const char *account, int32_t min_confs);
/* balance.c: every change of coins, tip or accounts calls
 * wallet_balance_invalidate before it touches anything; wallet_mempool
 * calls wallet_balance_mempool_done after its transaction instead, which
 * invalidates only when the mempool part of the coins really changed. */
void wallet_balance_invalidate(struct wallet *w);
void wallet_balance_mempool_done(struct wallet *w);

#endif
