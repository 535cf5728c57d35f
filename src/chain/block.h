/*~ chain/block: bitcoin's consensus serialization of blocks and
 * transactions (BIP 144 witness encoding included), parsed into views.
 * Pure: bytes in, structs out, no I/O.  The chain module uses it to find
 * spent funding outputs, the wallet to find its own outputs and spends;
 * one parser for both, fuzzed (tests/fuzz/fuzz_chain_block.c).
 *
 * Every view points into the caller's raw bytes (borrowed): keep them
 * alive as long as the parsed result.  txids and block hashes are in
 * internal byte order, as on the wire; reverse them for display.
 */
#ifndef COLDNODE_CHAIN_BLOCK_H
#define COLDNODE_CHAIN_BLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/common.h"

struct chain_outpoint {
	uint8_t txid[32];
	uint32_t vout;
};

struct chain_txin {
	struct chain_outpoint prevout;
};

struct chain_txout {
	uint64_t value_sat;
	const uint8_t *script; /* borrowed from the raw bytes */
	size_t script_len;
};

struct chain_tx {
	uint8_t txid[32];
	size_t n_in, n_out;
	const struct chain_txin *in;
	const struct chain_txout *out;
};

struct chain_block {
	uint8_t hash[32];
	uint8_t prev_hash[32];
	uint8_t merkle_root[32]; /* the header's, internal byte order */
	uint32_t time;
	size_t n_tx;
	const struct chain_tx *tx;
};

/**
 * chain_block_parse - parse a whole serialized block.
 * @raw/@len: the block (borrowed; must outlive the result).
 * @err/@errlen: a clear message on failure.
 * Returns NULL on malformed input (truncated, trailing bytes, counts that
 * cannot fit, non-canonical sizes, unknown witness flags).  Caller frees
 * with chain_block_free().
 */
struct chain_block *chain_block_parse(const uint8_t *raw, size_t len,
				      char *err, size_t errlen)
	CN_WARN_UNUSED;
void chain_block_free(struct chain_block *b);

/**
 * chain_block_check_merkle - the block's txids against its header's merkle
 * root (the block hash covers the header only: without this, a node could
 * hand us other transactions under a real header).  Also refuses a
 * "mutated" tree (CVE-2012-2459: a duplicated last pair of hashes gives
 * the same root for another list of transactions), as Core's
 * ComputeMerkleRoot does.  False with @err filled on a mismatch.
 */
bool chain_block_check_merkle(const struct chain_block *b, char *err,
			      size_t errlen) CN_WARN_UNUSED;

/* One serialized transaction (e.g. getrawtransaction), same rules. */
struct chain_tx *chain_tx_parse(const uint8_t *raw, size_t len, char *err,
				size_t errlen) CN_WARN_UNUSED;
void chain_tx_free(struct chain_tx *tx);

/* An 80-byte header: fills @hdr_out's hash, prev_hash, merkle_root and
 * time (n_tx 0,
 * tx NULL).  Never fails on 80 bytes; returns true for symmetry. */
bool chain_header_parse(const uint8_t raw[80], struct chain_block *hdr_out);

/* SHA256(SHA256(@in)), the hash of headers and transactions. */
void chain_sha256d(uint8_t out[32], const uint8_t *in, size_t len);

/* The P2WSH scriptPubKey (OP_0 <32 bytes>) of a channel's funding output,
 * the BOLT 3 2-of-2 of the two compressed bitcoin keys (either order). */
void chain_funding_script(uint8_t out[34], const uint8_t k1[33],
			  const uint8_t k2[33]);

#endif
