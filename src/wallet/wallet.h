/*~ wallet: coldnode's view of its on-chain funds, a SQLite table of
 * unspent outputs in <datadir>/wallet.sqlite (WAL mode).
 *
 * Until a chain source exists the set is loaded from a `bitcoin-cli
 * listunspent` JSON dump (coldctl wallet import, via the
 * /coldrpc.Wallet/ImportUnspent RPC).  Balances follow lnd's WalletBalance:
 * confirmed = unlocked outputs with at least min_confs confirmations,
 * unconfirmed = the other unlocked outputs, locked = leased outputs
 * (counted in neither), total = confirmed + unconfirmed.
 *
 * Argument order: context first, then outputs, then inputs.
 */
#ifndef COLDNODE_WALLET_H
#define COLDNODE_WALLET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/common.h"

struct wallet;

#define WALLET_DEFAULT_ACCOUNT "default"
/* 21 million BTC in satoshis: no single amount can be above it. */
#define WALLET_MAX_SAT 2100000000000000LL

struct wallet_utxo {
	char txid[65];         /* lowercase hex, display order */
	uint32_t vout;
	int64_t amount_sat;    /* 0..WALLET_MAX_SAT */
	int64_t confirmations; /* 0: in the mempool */
	char address[128];
	char account[64];      /* "" is stored as "default" */
	bool locked;
};

struct wallet_account_balance {
	char account[64];
	int64_t confirmed;
	int64_t unconfirmed;
};

struct wallet_balance {
	int64_t total, confirmed, unconfirmed, locked;
	struct wallet_account_balance *accounts; /* owned; wallet_balance_clear */
	size_t num_accounts;
};

/**
 * wallet_open - open (creating if needed) the wallet database at @path.
 * @path: borrowed.  Returns NULL (and logs) on failure.
 */
struct wallet *wallet_open(const char *path);
/* NULL ok. */
void wallet_free(struct wallet *w);

/**
 * wallet_import - store @utxos (borrowed), replacing the current set unless
 * @append (then same txid:vout rows are overwritten).  One transaction:
 * all or nothing.  Returns false (and logs) on a database error or an
 * invalid entry (bad txid, amount out of range).
 */
bool wallet_import(struct wallet *w, const struct wallet_utxo *utxos,
		   size_t num, bool append) CN_WARN_UNUSED;

/**
 * wallet_get_balance - compute balances.
 * @out: filled; free out->accounts with wallet_balance_clear.
 * @account: borrowed; NULL or "" for all accounts, else just that one.
 * @min_confs: 0 or less means 1 (lnd's default).
 */
bool wallet_get_balance(struct wallet *w, struct wallet_balance *out,
			const char *account, int32_t min_confs) CN_WARN_UNUSED;
void wallet_balance_clear(struct wallet_balance *b);

/* Number of stored outputs, or -1 on error. */
int64_t wallet_count(struct wallet *w);

/**
 * wallet_parse_listunspent - parse `bitcoin-cli listunspent` JSON.
 * @out, @num: *out malloc'd array, caller frees with free().
 * @err, @errlen: a reason on failure.
 * @json, @len: borrowed.
 * Amounts are decimal BTC with at most 8 decimals, converted exactly.
 * Unknown keys are ignored; an entry without txid/vout/amount is an error.
 */
bool wallet_parse_listunspent(struct wallet_utxo **out, size_t *num,
			      char *err, size_t errlen,
			      const char *json, size_t len) CN_WARN_UNUSED;

#endif /* COLDNODE_WALLET_H */
