/*~ wallet: coldnode's view of its on-chain funds in
 * <datadir>/wallet.sqlite (WAL mode).
 *
 * Two sources.  With accounts imported (lnd's `lncli wallet accounts list`
 * of the signer: coldctl wallet importaccounts), the wallet derives their
 * scripts (BIP32 public derivation, gap limit per branch) and follows the
 * chain: the daemon feeds it every block (wallet_block_connected /
 * _disconnected, pure calls: parsed block in, SQLite transaction out) and
 * the mempool (wallet_mempool).  Without accounts, the set is loaded from a
 * `bitcoin-cli listunspent` JSON dump (coldctl wallet import, via
 * /coldrpc.Wallet/ImportUnspent).  Balances follow lnd's WalletBalance:
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
struct chain_block;
struct chain_tx;

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
	bool not_found;  /* the account filter names no account (lnd:
			    "account not found"); returned false */
};

/* lnd's walletrpc.AddressType, same numbers. */
enum wallet_addr_type {
	WALLET_ADDR_UNKNOWN = 0,
	WALLET_ADDR_P2WKH = 1,         /* WITNESS_PUBKEY_HASH, BIP84 */
	WALLET_ADDR_NP2WKH = 2,        /* NESTED_WITNESS_PUBKEY_HASH, BIP49 */
	WALLET_ADDR_HYBRID_NP2WKH = 3, /* HYBRID_...: np2wkh receive, p2wkh
					  change (lnd's default m/49') */
	WALLET_ADDR_P2TR = 4,          /* TAPROOT_PUBKEY, BIP86 */
};
/* "WITNESS_PUBKEY_HASH", ...; NULL for UNKNOWN. */
const char *wallet_addr_type_name(enum wallet_addr_type t);

/* One account of lnd's `wallet accounts list`. */
struct wallet_account {
	char name[64];
	enum wallet_addr_type type;
	char xpub[120];         /* as given (SLIP-132 version kept) */
	char path[64];          /* "m/84'/0'/0'" */
	uint32_t purpose, coin, index; /* hardened path elements, no flag */
	char master_fp[9];      /* 8 hex digits, "" unknown */
	uint32_t external_count, internal_count; /* addresses lnd handed out */
};

struct wallet_import_result {
	size_t added, already;  /* accounts new / already stored (same key and
				   address type: idempotent) */
	size_t watched;         /* scripts watched after the import */
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
 * wallet_get_balance - the balances, as lnd's WalletBalance.
 * @out: filled; free out->accounts with wallet_balance_clear.
 * @account: borrowed; NULL or "" for all accounts, else just that one.
 * @min_confs: 0 or less means 1 (lnd's rpcserver.go: "if in.MinConfs <= 0
 * { in.MinConfs = 1 }").
 * Served from a cache kept until the wallet changes (a block connected or
 * disconnected, accounts or a listunspent set imported, a mempool view
 * that differs from the last), so a metrics scrape or a monitor's poll
 * costs O(accounts), not a pass over every coin.  min_confs other than 1,
 * and an account filter on a listunspent set, compute from SQLite.
 */
bool wallet_get_balance(struct wallet *w, struct wallet_balance *out,
			const char *account, int32_t min_confs) CN_WARN_UNUSED;
/* The same, always computed from SQLite (the cache's reference: tests and
 * bench/bench_wallet_scrape compare the two). */
bool wallet_balance_compute(struct wallet *w, struct wallet_balance *out,
			    const char *account,
			    int32_t min_confs) CN_WARN_UNUSED;
/* Full computations the cache has made so far (tests: an unchanged
 * mempool poll must not cause one). */
uint64_t wallet_balance_computes(const struct wallet *w);
void wallet_balance_clear(struct wallet_balance *b);

/* Number of stored outputs, or -1 on error. */
int64_t wallet_count(struct wallet *w);

/**
 * wallet_configure - the network accounts must be for and the gap limit
 * (unused scripts watched past the last used one, per branch; 0: the
 * default, WALLET_DEFAULT_GAP).  Loads the stored accounts and derives
 * their scripts.  Call once after wallet_open.
 */
#define WALLET_DEFAULT_GAP 20
bool wallet_configure(struct wallet *w, const char *network,
		      uint32_t gap_limit) CN_WARN_UNUSED;

/**
 * wallet_import_accounts - add @accounts (borrowed; parse them with
 * wallet_parse_accounts_json) in one transaction.  An account already
 * stored (same extended key and address type) is counted in
 * res->already and left as it is.  @birthday: first height to scan for
 * new accounts; -1: from the wallet's current tip.  @err on failure.
 */
bool wallet_import_accounts(struct wallet *w, struct wallet_import_result *res,
			    char *err, size_t errlen,
			    const struct wallet_account *accounts, size_t num,
			    int64_t birthday) CN_WARN_UNUSED;
/* Reads @path (lnd's accounts JSON), checks it for the configured network
 * and imports it (wallet_import_accounts).  The file's bytes are wiped
 * after use: a refused file may hold a private key. */
bool wallet_import_accounts_file(struct wallet *w,
				 struct wallet_import_result *res, char *err,
				 size_t errlen, const char *path,
				 int64_t birthday) CN_WARN_UNUSED;
/* Parses lnd's accounts JSON for @network (see wallet_internal.h).
 * @json: borrowed, never kept or quoted in @err (it may hold a refused
 * xprv: the caller wipes it).  @out: malloc'd array, caller frees with
 * free(). */
bool wallet_parse_accounts_json(struct wallet_account **out, size_t *num,
				char *err, size_t errlen, const char *network,
				const char *json, size_t len) CN_WARN_UNUSED;
/* Stored accounts (malloc'd array, free()). */
bool wallet_list_accounts(struct wallet *w, struct wallet_account **out,
			  size_t *num) CN_WARN_UNUSED;

/* True when accounts are stored: balances then come from the chain scan,
 * not from an imported listunspent set. */
bool wallet_has_accounts(const struct wallet *w);
/* Number of scripts watched (all accounts, both branches). */
size_t wallet_watched(const struct wallet *w);

/**
 * wallet_tip - the last block the wallet has scanned.
 * Returns false when none yet (then *height is the birthday, or -1 if
 * there is no birthday: start at the chain's tip).
 */
bool wallet_tip(const struct wallet *w, int64_t *height, uint8_t hash[32]);

/* What applying a block did (docs/wallet.md, "Applying a block").  Every
 * call is idempotent against the wallet's stored chain: the caller may
 * deliver a block twice (a replay after a kill -9) and learns from the
 * result what the wallet needs next. */
enum wallet_apply {
	WALLET_APPLIED, /* done, in one SQLite transaction with its undo */
	WALLET_ALREADY, /* nothing to do: already so (or not wanted) */
	WALLET_FORK,    /* the wallet is on another branch at that height:
			   disconnect its blocks (wallet_tip) first */
	WALLET_GAP,     /* earlier blocks first: from wallet_next_height (a
			   disconnect: the blocks above it first) */
	WALLET_FAILED,  /* SQLite error: nothing changed */
};
/* "applied", "already", "fork", "gap", "failed". */
const char *wallet_apply_name(enum wallet_apply r);

/**
 * wallet_block_connected - scan block @height (@hash, @blk borrowed):
 * outputs to watched scripts become coins, inputs spending coins mark
 * them spent, gap limits are extended (the block is scanned again when
 * they move), and the wallet tip moves to @height: all in one SQLite
 * transaction, so a crash never half-applies a block.
 * APPLIED: scanned and committed.  Also a block below the tip that a
 * rescan (accounts imported with a past birthday) was waiting for: it is
 * scanned for those accounts only.
 * ALREADY: the wallet already scanned this very block (same hash at that
 * height; for a height older than the hashes kept, the height alone), or
 * the block is below the birthday: nothing done.
 * FORK: the wallet holds another block at @height, or its tip is not
 * @blk's parent: disconnect first.
 * GAP: @height is above wallet_next_height: deliver earlier blocks first.
 * FAILED: database error, nothing changed.
 */
enum wallet_apply wallet_block_connected(struct wallet *w, uint32_t height,
					 const uint8_t hash[32],
					 const struct chain_block *blk);
/**
 * wallet_block_disconnected - undo block @height (@hash) in a reorg: coins
 * it created are removed, coins it spent are unspent again, the tip moves
 * back to @height-1.
 * APPLIED: the tip was that block and is undone.  ALREADY: the tip is
 * below @height (or nothing is scanned).  FORK: the wallet's block at
 * @height has another hash.  GAP: that block is the wallet's but below
 * its tip: disconnect the blocks above first.  FAILED: database error.
 */
enum wallet_apply wallet_block_disconnected(struct wallet *w, uint32_t height,
					    const uint8_t hash[32]);
/**
 * wallet_next_height - the next block the wallet wants: its tip + 1; the
 * next height of a rescan (accounts imported with a birthday below the
 * tip: the blocks from there to the tip are scanned again for them, the
 * tip does not move); the birthday when nothing is scanned yet; -1: start
 * at the chain's tip (no history wanted).
 */
int64_t wallet_next_height(const struct wallet *w);
/* Next height of a pending rescan (below or at the tip), -1 none. */
int64_t wallet_rescan_height(const struct wallet *w);

/**
 * wallet_mempool - replace the unconfirmed view with @txs (borrowed, the
 * node's whole mempool as far as it was fetched): their outputs to
 * watched scripts are unconfirmed coins, their inputs mark coins as spent
 * (the change comes back as unconfirmed), as btcwallet counts them.
 */
bool wallet_mempool(struct wallet *w, const struct chain_tx *const *txs,
		    size_t n) CN_WARN_UNUSED;
/* wallet_mempool_add - @txs (borrowed) join the unconfirmed view, the rest
 * of it kept: transactions pushed by the node (bitcoind's ZMQ rawtx), so
 * the cost is theirs, not the whole mempool's.  Removals come with the
 * next wallet_mempool. */
bool wallet_mempool_add(struct wallet *w, const struct chain_tx *const *txs,
			size_t n) CN_WARN_UNUSED;

/* The first height scanned (lnd's wallet birthday), -1: none (the scan
 * started at the chain's tip). */
int64_t wallet_birthday(const struct wallet *w);

/* Unix time of the last change of the wallet's chain view (block or
 * mempool), 0 never: how old the balances are when the chain is lost. */
int64_t wallet_updated_unix(const struct wallet *w);

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
