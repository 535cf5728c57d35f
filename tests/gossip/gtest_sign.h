/* Hand-made signed gossip with known keys, for rule tests. */
#ifndef COLDNODE_GTEST_SIGN_H
#define COLDNODE_GTEST_SIGN_H

#include "common/common.h"
#include "gossip/gossip.h"

#include <secp256k1.h>
#include <string.h>

struct tkey {
	uint8_t sk[32];
	uint8_t pk[33];
};

static inline void tkey_init(struct tkey *k, uint8_t b)
{
	secp256k1_pubkey pub;
	size_t len = 33;
	memset(k->sk, b, 32);
	if (!secp256k1_ec_pubkey_create(cn_secp(), &pub, k->sk))
		abort();
	secp256k1_ec_pubkey_serialize(cn_secp(), k->pk, &len, &pub,
				      SECP256K1_EC_COMPRESSED);
}

static inline bool tkey_sign(void *arg, uint8_t sig64[64],
			     const uint8_t hash[32])
{
	const struct tkey *k = arg;
	secp256k1_ecdsa_signature sig;
	if (!secp256k1_ecdsa_sign(cn_secp(), &sig, hash, k->sk, NULL, NULL))
		return false;
	secp256k1_ecdsa_signature_serialize_compact(cn_secp(), sig64, &sig);
	return true;
}

/* A channel between @a and @b (ordered for node_id_1 < node_id_2), using
 * the node keys as funding keys too.  Returns the length. */
static inline size_t tmake_chan(uint8_t *out, const uint8_t chain[32],
				uint64_t scid, const struct tkey *a,
				const struct tkey *b)
{
	struct gossip_chan_ann ca;
	const struct tkey *k1 = a, *k2 = b;
	uint8_t h[32];
	size_t len;

	if (memcmp(a->pk, b->pk, 33) > 0)
		k1 = b, k2 = a;
	memset(&ca, 0, sizeof(ca));
	memcpy(ca.chain_hash, chain, 32);
	ca.scid = scid;
	memcpy(ca.node_id_1, k1->pk, 33);
	memcpy(ca.node_id_2, k2->pk, 33);
	memcpy(ca.btc_key_1, k1->pk, 33);
	memcpy(ca.btc_key_2, k2->pk, 33);
	len = gossip_chan_ann_write(out, 1000, &ca);
	gossip_sighash(h, out, len);
	tkey_sign((void *)k1, ca.node_sig_1, h);
	tkey_sign((void *)k2, ca.node_sig_2, h);
	tkey_sign((void *)k1, ca.btc_sig_1, h);
	tkey_sign((void *)k2, ca.btc_sig_2, h);
	return gossip_chan_ann_write(out, 1000, &ca);
}

static inline size_t tmake_upd(uint8_t *out, const uint8_t chain[32],
			       uint64_t scid, int dir, uint32_t ts,
			       uint32_t fee, uint8_t mflags,
			       const struct tkey *signer)
{
	struct gossip_chan_upd cu;
	memset(&cu, 0, sizeof(cu));
	memcpy(cu.chain_hash, chain, 32);
	cu.scid = scid;
	cu.timestamp = ts;
	cu.message_flags = mflags;
	cu.channel_flags = (uint8_t)dir;
	cu.cltv_expiry_delta = 40;
	cu.htlc_minimum_msat = 1;
	cu.fee_base_msat = fee;
	cu.fee_proportional_millionths = 10;
	cu.htlc_maximum_msat = 100000;
	return gossip_chan_upd_sign(out, 1000, &cu, tkey_sign, (void *)signer);
}

static inline size_t tmake_node(uint8_t *out, uint32_t ts,
				const struct tkey *k)
{
	struct gossip_node_ann na;
	memset(&na, 0, sizeof(na));
	na.timestamp = ts;
	memcpy(na.node_id, k->pk, 33);
	memcpy(na.alias, "test", 4);
	return gossip_node_ann_sign(out, 1000, &na, tkey_sign, (void *)k);
}

/* Direction whose update @k signs in a channel with @other. */
static inline int tdir(const struct tkey *k, const struct tkey *other)
{
	return memcmp(k->pk, other->pk, 33) > 0;
}

#endif
