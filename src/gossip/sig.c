/*~ Gossip signatures: the double SHA-256 of the signed part of a message,
 * ECDSA checks through libsecp256k1, and signing our own messages through a
 * callback (the signer holds the node key, never this process). */
#include "common/common.h"
#include "gossip/gossip_internal.h"

#include <assert.h>
#include <secp256k1.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* BOLT 7: channel_announcement "the double-SHA256 of the entire remaining
 * packet after the signatures" (offset 2 + 4*64); the other two sign
 * everything after their one signature (offset 2 + 64). */
static size_t signed_offset(const uint8_t *msg)
{
	return be16_get(msg) == GOSSIP_CHANNEL_ANNOUNCEMENT ? 258 : 66;
}

void gossip_sighash(uint8_t hash[32], const uint8_t *msg, size_t len)
{
	size_t off = signed_offset(msg);
	uint8_t once[32];

	assert(len >= off);
	crypto_hash_sha256(once, msg + off, len - off);
	crypto_hash_sha256(hash, once, sizeof(once));
}

/* Parsing a compressed key costs a field square root, about a tenth of a
 * verify; node keys sign again and again (every update), so the manager
 * keeps the parsed form in a small direct-mapped cache. */
#define KEYCACHE_SIZE 16384 /* power of two: ~1.6 MB */

struct kc_ent {
	uint8_t id[33];
	bool used;
	secp256k1_pubkey pk;
};

struct gossip_keycache {
	struct kc_ent e[KEYCACHE_SIZE];
};

struct gossip_keycache *gossip_keycache_new(void)
{
	struct gossip_keycache *kc = calloc(1, sizeof(*kc));

	if (!kc)
		abort();
	return kc;
}

void gossip_keycache_free(struct gossip_keycache *kc)
{
	free(kc);
}

static bool key_parse(struct gossip_keycache *kc, secp256k1_pubkey *pk,
		      const uint8_t pubkey33[33])
{
	struct kc_ent *e;

	if (!kc)
		return secp256k1_ec_pubkey_parse(cn_secp(), pk, pubkey33, 33);
	/* Bytes 1..4 of a key are uniformly distributed. */
	e = &kc->e[be32_get(pubkey33 + 1) & (KEYCACHE_SIZE - 1)];
	if (e->used && !memcmp(e->id, pubkey33, 33)) {
		*pk = e->pk;
		return true;
	}
	if (!secp256k1_ec_pubkey_parse(cn_secp(), pk, pubkey33, 33))
		return false;
	memcpy(e->id, pubkey33, 33);
	e->pk = *pk;
	e->used = true;
	return true;
}

bool gossip_sig_ok_kc(struct gossip_keycache *kc, const uint8_t hash[32],
		      const uint8_t sig64[64], const uint8_t pubkey33[33])
{
	const secp256k1_context *ctx = cn_secp();
	secp256k1_ecdsa_signature sig;
	secp256k1_pubkey pk;

	if (!key_parse(kc, &pk, pubkey33))
		return false;
	if (!secp256k1_ecdsa_signature_parse_compact(ctx, &sig, sig64))
		return false;
	/* BOLT 7 notes ECDSA malleability is not grounds for rejection, but
	 * secp256k1_ecdsa_verify refuses high-S: normalize first. */
	secp256k1_ecdsa_signature_normalize(ctx, &sig, &sig);
	return secp256k1_ecdsa_verify(ctx, &sig, hash, &pk) == 1;
}

bool gossip_sig_ok(const uint8_t hash[32], const uint8_t sig64[64],
		   const uint8_t pubkey33[33])
{
	return gossip_sig_ok_kc(NULL, hash, sig64, pubkey33);
}

enum gossip_reason gossip_chan_ann_check_sigs(const uint8_t *msg, size_t len,
					      const struct gossip_chan_ann *ca)
{
	return gossip_chan_ann_check_sigs_kc(NULL, msg, len, ca);
}

enum gossip_reason gossip_chan_ann_check_sigs_kc(
	struct gossip_keycache *kc, const uint8_t *msg, size_t len,
	const struct gossip_chan_ann *ca)
{
	uint8_t h[32];

	gossip_sighash(h, msg, len);
	/* BOLT 7: "if bitcoin_signature_1, bitcoin_signature_2,
	 * node_signature_1 OR node_signature_2 are invalid OR NOT correct:
	 * SHOULD send a warning. MAY close the connection. MUST ignore the
	 * message." */
	if (!gossip_sig_ok_kc(kc, h, ca->node_sig_1, ca->node_id_1))
		return GOSSIP_REJ_BAD_NODE_SIG_1;
	if (!gossip_sig_ok_kc(kc, h, ca->node_sig_2, ca->node_id_2))
		return GOSSIP_REJ_BAD_NODE_SIG_2;
	if (!gossip_sig_ok(h, ca->btc_sig_1, ca->btc_key_1))
		return GOSSIP_REJ_BAD_BTC_SIG_1;
	if (!gossip_sig_ok(h, ca->btc_sig_2, ca->btc_key_2))
		return GOSSIP_REJ_BAD_BTC_SIG_2;
	return GOSSIP_OK;
}

/* Write, hash, sign in place at offset 2 (the one signature). */
static size_t sign_in_place(uint8_t *out, size_t len, gossip_sign_fn sign,
			    void *arg)
{
	uint8_t h[32], sig[64];

	gossip_sighash(h, out, len);
	if (!sign(arg, sig, h))
		return 0;
	memcpy(out + 2, sig, 64);
	return len;
}

size_t gossip_node_ann_sign(uint8_t *out, size_t cap,
			    const struct gossip_node_ann *na,
			    gossip_sign_fn sign, void *arg)
{
	size_t len = gossip_node_ann_write(out, cap, na);

	if (len > cap)
		return 0;
	return sign_in_place(out, len, sign, arg);
}

size_t gossip_node_ann_prepare(uint8_t *out, size_t cap, size_t *signed_off,
			       const struct gossip_node_ann *na)
{
	struct gossip_node_ann unsigned_na = *na;
	size_t len;

	memset(unsigned_na.sig, 0, sizeof(unsigned_na.sig));
	len = gossip_node_ann_write(out, cap, &unsigned_na);
	if (len > cap)
		return 0;
	*signed_off = signed_offset(out);
	return len;
}

size_t gossip_chan_upd_sign(uint8_t *out, size_t cap,
			    const struct gossip_chan_upd *cu,
			    gossip_sign_fn sign, void *arg)
{
	size_t len = gossip_chan_upd_write(out, cap, cu);

	if (len > cap)
		return 0;
	return sign_in_place(out, len, sign, arg);
}
