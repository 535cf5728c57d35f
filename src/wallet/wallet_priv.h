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
	/* scan state (scan.c) */
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
/* Ends the transaction a "BEGIN IMMEDIATE;" opened: COMMIT when @ok, else
 * ROLLBACK; a failed COMMIT is rolled back too, so no transaction is left
 * open.  Returns whether the writes are in. */
bool wallet_tx_end(struct wallet *w, bool ok);
void wallet_scan_clear(struct wallet *w);
bool wallet_scan_balance(struct wallet *w, struct wallet_balance *out,
			 const char *account, int32_t min_confs);
/* balance.c: every change of coins, tip or accounts calls
 * wallet_balance_invalidate before it touches anything; wallet_mempool
 * calls wallet_balance_mempool_done after its transaction instead, which
 * invalidates only when the mempool part of the coins really changed. */
void wallet_balance_invalidate(struct wallet *w);
void wallet_balance_mempool_done(struct wallet *w);

#endif
