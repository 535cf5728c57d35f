/* wallet_internal.h: the wallet's pure parts (no I/O, no SQLite), for the
 * module's own files, its unit tests and fuzz targets.  Bytes in, bytes out.
 *
 * Address encodings: base58check (BIP13 P2SH), bech32 (BIP173, witness v0)
 * and bech32m (BIP350, v1+).  Keys: BIP32 public derivation on
 * libsecp256k1 with libsodium's HMAC-SHA512; extended keys in every
 * SLIP-132 version lnd writes.  Scripts: BIP49 (np2wkh), BIP84 (p2wkh),
 * BIP86 (p2tr, key path only).
 */
#ifndef COLDNODE_WALLET_INTERNAL_H
#define COLDNODE_WALLET_INTERNAL_H

#include "wallet/wallet.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- hashes ---------------------------------------------------------------- */
/* SHA256d is chain_sha256d (chain/block.h), the one the block parser uses. */
/* RIPEMD160(SHA256(in)), OpenSSL's RIPEMD-160. */
void wallet_hash160(uint8_t out[20], const uint8_t *in, size_t len);

/* ---- base58check ----------------------------------------------------------- */
/* Encodes @in (payload incl. version bytes) plus its 4-byte checksum into
 * @out (NUL-terminated).  False if @outlen is too small. */
bool wallet_base58check_encode(char *out, size_t outlen, const uint8_t *in,
			       size_t len) CN_WARN_UNUSED;
/* Decodes @str into @out (payload without checksum), *@outlen in: capacity,
 * out: length.  False on a bad character, bad checksum or too long. */
bool wallet_base58check_decode(uint8_t *out, size_t *outlen,
			       const char *str) CN_WARN_UNUSED;

/* ---- bech32 / bech32m ------------------------------------------------------ */
/* Segwit address: witness version 0..16, program 2..40 bytes (v0: 20 or
 * 32), bech32 for v0, bech32m for v1+ (BIP350).  @hrp lowercase. */
bool wallet_segwit_encode(char *out, size_t outlen, const char *hrp,
			  int witver, const uint8_t *prog,
			  size_t prog_len) CN_WARN_UNUSED;
/* Decodes @addr for @hrp; *@prog_len in: capacity (>= 40), out: length.
 * @err (may be NULL) gets the reason on failure. */
bool wallet_segwit_decode(int *witver, uint8_t *prog, size_t *prog_len,
			  char *err, size_t errlen, const char *hrp,
			  const char *addr) CN_WARN_UNUSED;

enum bech32_kind { BECH32_NONE, BECH32, BECH32M };
/* Generic bech32/bech32m string (BIP173/BIP350 checksum vectors): hrp
 * (lowercased) into @hrp, 5-bit values into @data.  Returns the encoding
 * that validated, BECH32_NONE on any error. */
enum bech32_kind wallet_bech32_decode(char *hrp, size_t hrplen,
				      uint8_t *data, size_t *data_len,
				      const char *str);

/* ---- networks ---------------------------------------------------------------- */
struct wallet_net {
	const char *name;    /* "mainnet", "testnet", "signet", "regtest" */
	const char *hrp;     /* bc, tb, tb, bcrt */
	uint8_t p2sh_version;/* 0x05 mainnet, 0xc4 the test networks */
	uint32_t coin_type;  /* BIP44 coin: 0 mainnet, 1 the test networks */
	bool mainnet;        /* xpub/ypub/zpub vs tpub/upub/vpub */
};
/* NULL for an unknown name. */
const struct wallet_net *wallet_net_find(const char *name);

/* ---- BIP32 extended public keys -------------------------------------------- */
struct wallet_xpub {
	uint8_t depth;
	uint8_t parent_fp[4];
	uint32_t child_num;
	uint8_t chain_code[32];
	uint8_t pubkey[33];  /* compressed */
};

/* The script family an extended key's SLIP-132 version implies. */
enum wallet_xkey_family {
	XKEY_ANY,     /* xpub / tpub: any address type (lnd writes them for
			 BIP86 and its m/1017' key families) */
	XKEY_NESTED,  /* ypub / upub: BIP49 */
	XKEY_NATIVE,  /* zpub / vpub: BIP84 */
};

/**
 * wallet_xpub_parse - decode a base58check extended public key.
 * @family: the SLIP-132 family of its version bytes.
 * @mainnet: true for xpub/ypub/zpub, false for tpub/upub/vpub.
 * @err: reason on failure: a private key (xprv, tprv, ...; its bytes are
 * wiped, never copied out), an unknown version, a bad checksum or length,
 * a point not on the curve.
 */
bool wallet_xpub_parse(struct wallet_xpub *out,
		       enum wallet_xkey_family *family, bool *mainnet,
		       char *err, size_t errlen, const char *str) CN_WARN_UNUSED;
/* Serialises @k with the version for @family / @mainnet. */
bool wallet_xpub_format(char *out, size_t outlen, const struct wallet_xpub *k,
			enum wallet_xkey_family family,
			bool mainnet) CN_WARN_UNUSED;
/* CKDpub: non-hardened child @i (< 2^31) of @parent.  False if @i is
 * hardened or the (2^-127 likely) derived key is invalid. */
bool wallet_xpub_child(struct wallet_xpub *child,
		       const struct wallet_xpub *parent,
		       uint32_t i) CN_WARN_UNUSED;

/* ---- scripts ----------------------------------------------------------------- */
#define WALLET_MAX_SCRIPT 34

/* Output script for @type from the compressed public key @pubkey33:
 * p2wkh 0x0014{hash160}, np2wkh 0xa914{hash160(0014{hash160})}87,
 * p2tr 0x5120{BIP86 output key}.  Returns the length, 0 on error. */
size_t wallet_script_for_key(uint8_t script[WALLET_MAX_SCRIPT],
			     enum wallet_addr_type type,
			     const uint8_t pubkey33[33]);
/* The address of @script on @net (p2sh, p2wkh/p2wsh, p2tr), false for
 * other scripts. */
bool wallet_script_address(char *out, size_t outlen,
			   const struct wallet_net *net, const uint8_t *script,
			   size_t script_len) CN_WARN_UNUSED;
/* The output script an address pays on @net; *@len in: capacity (>= 42).
 * @err gets the reason on failure. */
bool wallet_address_script(uint8_t *script, size_t *len, char *err,
			   size_t errlen, const struct wallet_net *net,
			   const char *addr) CN_WARN_UNUSED;

/* BIP86 output key Q = P + int(hashTapTweak(bytes(P)))G, x-only. */
bool wallet_bip86_output_key(uint8_t out32[32],
			     const uint8_t pubkey33[33]) CN_WARN_UNUSED;

/* ---- accounts file ------------------------------------------------------------ */
/**
 * wallet_parse_accounts - parse lnd's `lncli wallet accounts list` JSON.
 * @out, @num: *out malloc'd array (caller frees with free()).
 * @net: accounts must be for it (key version and BIP44 coin type).
 * Refuses private keys, wrong networks, unknown address types and
 * accounts whose derivation path, address type and key version disagree.
 */
bool wallet_parse_accounts(struct wallet_account **out, size_t *num,
			   char *err, size_t errlen,
			   const struct wallet_net *net, const char *json,
			   size_t len) CN_WARN_UNUSED;

/* ---- applying a block (apply.c) -------------------------------------------- */
/* What the wallet knows when a block is connected or disconnected: the
 * whole input of the decision, gathered by the caller (scan.c) from its
 * tables. */
struct wallet_pos {
	bool have_tip;         /* a block is scanned */
	int64_t tip_height;
	uint8_t tip_hash[32];
	int64_t birthday;      /* -1: none (start at the chain's tip) */
	int64_t rescan_next;   /* next height of a pending rescan, -1 none;
				  at or below tip_height */
	bool have_at;          /* the wallet's block at the asked height */
	uint8_t at_hash[32];
	bool have_below;       /* ... and at the height below (rescans) */
	uint8_t below_hash[32];
};

/* How an APPLIED connect scans the block. */
enum wallet_scan_how {
	WALLET_SCAN_NONE,   /* not APPLIED */
	WALLET_SCAN_TIP,    /* every account; the tip moves to the block */
	WALLET_SCAN_RESCAN, /* the accounts whose rescan is at this height;
			       the tip stays */
};

/* tip + 1, the rescan's next height, the birthday, or -1. */
int64_t wallet_pos_next(const struct wallet_pos *p);
/* The one place that decides whether block @height (@hash, child of
 * @prev) is applied, already in, on another branch or too far ahead.
 * Never FAILED.  Table-tested in tests/wallet/test_apply.c. */
enum wallet_apply wallet_connect_decide(const struct wallet_pos *p,
					uint32_t height, const uint8_t hash[32],
					const uint8_t prev[32],
					enum wallet_scan_how *how);
/* The same for undoing block @height (@hash). */
enum wallet_apply wallet_disconnect_decide(const struct wallet_pos *p,
					   uint32_t height,
					   const uint8_t hash[32]);

#endif /* COLDNODE_WALLET_INTERNAL_H */
