/* tkey.h: account keys of our own making for the wallet's tests and
 * benchmark: a random point and chain code at depth 3, child index @acct'
 * (the shape lnd exports), and its extended-key string.  Test data only. */
#ifndef COLDNODE_TEST_TKEY_H
#define COLDNODE_TEST_TKEY_H

#include "wallet/wallet_internal.h"

#include <secp256k1.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

struct tkey {
	struct wallet_xpub k;
	char str[120];
};

static inline void tkey_random(struct tkey *t, enum wallet_xkey_family fam,
			       bool mainnet, uint32_t acct)
{
	const secp256k1_context *ctx = (const secp256k1_context *)cn_secp();
	uint8_t sk[32];
	secp256k1_pubkey pk;
	size_t len = 33;

	do
		randombytes_buf(sk, sizeof(sk));
	while (!secp256k1_ec_pubkey_create(ctx, &pk, sk));
	secp256k1_ec_pubkey_serialize(ctx, t->k.pubkey, &len, &pk,
				      SECP256K1_EC_COMPRESSED);
	randombytes_buf(t->k.chain_code, 32);
	t->k.depth = 3;
	memset(t->k.parent_fp, 0x11, 4);
	t->k.child_num = 0x80000000u | acct;
	if (!wallet_xpub_format(t->str, sizeof(t->str), &t->k, fam, mainnet))
		abort();
}

#endif
