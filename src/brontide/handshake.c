/*~ The BOLT 8 handshake as a pure state machine: act bytes in, act bytes
 * out, no sockets and no clock.  The node's private key never comes here:
 * where the spec needs ECDH with it (responder act one, initiator act three)
 * we stop with BRONTIDE_NEED_ECDH and the caller hands in the result.
 *
 * Everything secret (ephemeral key, chaining key, temporary keys, the node
 * key ECDH result) lives in the struct, in sodium_malloc'd memory
 * (secmem.c); stack copies are wiped before each function returns. */
#include <secp256k1.h>
#include <secp256k1_ecdh.h>

#include "brontide/brontide_internal.h"
#include "common/common.h"

/* BOLT #8: "protocolName = "Noise_XK_secp256k1_ChaChaPoly_SHA256"" */
static const char protocol_name[] = "Noise_XK_secp256k1_ChaChaPoly_SHA256";
/* BOLT #8: "prologue = "lightning"" */
static const char prologue[] = "lightning";

enum hs_stage {
	HS_START,	 /* initiator: act1 next; responder: recv_act1 next */
	HS_WAIT_ACT2,	 /* initiator sent act one */
	HS_NEED_ECDH,	 /* waiting for brontide_hs_ecdh_done */
	HS_HAVE_ECDH,	 /* responder: act2 next; initiator: act3 next */
	HS_WAIT_ACT3,	 /* responder sent act two */
	HS_DONE,
	HS_FAILED,
};

struct brontide_hs {
	enum brontide_role role;
	enum hs_stage stage;
	uint8_t h[32];
	uint8_t ck[32];
	uint8_t temp_k[32];	/* temp_k1, then temp_k2, then temp_k3 */
	uint8_t e_priv[32];
	uint8_t node_ss[32];	/* node key ECDH answer from the caller */
	uint8_t e_pub[33];
	uint8_t ls_pub[33];
	uint8_t rs_pub[33];	/* known (initiator) or learnt in act three */
	uint8_t re_pub[33];
	uint8_t act1_c[16];	/* responder: act one MAC, checked after ECDH */
	secp256k1_pubkey rs;
	secp256k1_pubkey re;
};

static brontide_trace_fn trace_fn;

void brontide_test_set_trace(brontide_trace_fn fn)
{
	trace_fn = fn;
}

static void trace(const char *name, const uint8_t *v, size_t len)
{
	if (trace_fn)
		trace_fn(name, v, len);
}

static const secp256k1_context *secp(void)
{
	return (const secp256k1_context *)cn_secp();
}

/* h = SHA-256(h || data) */
static void mix_hash(struct brontide_hs *hs, const void *data, size_t len)
{
	crypto_hash_sha256_state st;

	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, hs->h, sizeof(hs->h));
	crypto_hash_sha256_update(&st, data, len);
	crypto_hash_sha256_final(&st, hs->h);
	sodium_memzero(&st, sizeof(st));
}

/* BOLT #8: "ECDH(k, rk): performs an Elliptic-Curve Diffie-Hellman operation
 * using k, which is a valid secp256k1 private key, and rk, which is a valid
 * public key" ... "The returned value is the SHA256 of the compressed format
 * of the generated point."  That is libsecp256k1's default ECDH hash. */
static void ecdh(uint8_t out[32], const secp256k1_pubkey *pub,
		 const uint8_t priv[32])
{
	/* Both keys were validated on the way in. */
	BRONTIDE_ASSERT(secp256k1_ecdh(secp(), out, pub, priv, NULL, NULL) == 1);
}

static void fail(struct brontide_hs *hs)
{
	hs->stage = HS_FAILED;
	sodium_memzero(hs->temp_k, sizeof(hs->temp_k));
	sodium_memzero(hs->e_priv, sizeof(hs->e_priv));
	sodium_memzero(hs->node_ss, sizeof(hs->node_ss));
	sodium_memzero(hs->ck, sizeof(hs->ck));
}

struct brontide_hs *brontide_hs_new(enum brontide_role role,
				    const uint8_t ls_pub[33],
				    const uint8_t *rs_pub,
				    const uint8_t *e_priv)
{
	struct brontide_hs *hs;
	secp256k1_pubkey pub;
	size_t outlen = 33;

	cn_crypto_init();
	BRONTIDE_ASSERT((role == BRONTIDE_INITIATOR) == (rs_pub != NULL));
	if (!secp256k1_ec_pubkey_parse(secp(), &pub, ls_pub, 33))
		return NULL;

	hs = brontide_secmem_alloc(sizeof(*hs));
	if (!hs)
		return NULL;
	memset(hs, 0, sizeof(*hs));
	hs->role = role;
	hs->stage = HS_START;
	memcpy(hs->ls_pub, ls_pub, 33);

	if (rs_pub) {
		if (!secp256k1_ec_pubkey_parse(secp(), &hs->rs, rs_pub, 33))
			goto bad;
		memcpy(hs->rs_pub, rs_pub, 33);
	}

	if (e_priv) {
		if (!secp256k1_ec_seckey_verify(secp(), e_priv))
			goto bad;
		memcpy(hs->e_priv, e_priv, 32);
	} else {
		/* BOLT #8: "generateKey(): generates and returns a fresh
		 * secp256k1 keypair" */
		do {
			randombytes_buf(hs->e_priv, 32);
		} while (!secp256k1_ec_seckey_verify(secp(), hs->e_priv));
	}
	if (!secp256k1_ec_pubkey_create(secp(), &pub, hs->e_priv))
		goto bad;
	secp256k1_ec_pubkey_serialize(secp(), hs->e_pub, &outlen, &pub,
				      SECP256K1_EC_COMPRESSED);

	/* BOLT #8: "h = SHA-256(protocolName)", "ck = h",
	 * "h = SHA-256(h || prologue)", then the responder's static key. */
	crypto_hash_sha256(hs->h, (const uint8_t *)protocol_name,
			   sizeof(protocol_name) - 1);
	memcpy(hs->ck, hs->h, 32);
	mix_hash(hs, prologue, sizeof(prologue) - 1);
	mix_hash(hs, role == BRONTIDE_INITIATOR ? hs->rs_pub : hs->ls_pub, 33);
	return hs;

bad:
	brontide_hs_free(hs);
	return NULL;
}

void brontide_hs_free(struct brontide_hs *hs)
{
	/* Wipes the whole struct. */
	brontide_secmem_free(hs);
}

/* Sender side of acts one and two: "e, es" or "e, ee".
 * BOLT #8: "h = SHA-256(h || e.pub.serializeCompressed())",
 * "ss = ECDH(...)", "ck, temp_k = HKDF(ck, ss)",
 * "c = encryptWithAD(temp_k, 0, h, zero)", "h = SHA-256(h || c)",
 * "Send m = 0 || e.pub.serializeCompressed() || c" */
static void send_e(struct brontide_hs *hs, uint8_t out[50],
		   const secp256k1_pubkey *remote, const char *names[5])
{
	uint8_t ss[32];

	mix_hash(hs, hs->e_pub, 33);
	trace(names[0], hs->h, 32);
	ecdh(ss, remote, hs->e_priv);
	trace(names[1], ss, 32);
	brontide_hkdf(hs->ck, hs->temp_k, hs->ck, ss, sizeof(ss));
	sodium_memzero(ss, sizeof(ss));
	trace(names[2], hs->ck, 32);
	trace(names[3], hs->temp_k, 32);
	out[0] = 0;
	memcpy(out + 1, hs->e_pub, 33);
	brontide_aead_encrypt(out + 34, hs->temp_k, 0, hs->h, 32, NULL, 0);
	mix_hash(hs, out + 34, 16);
	trace(names[4], hs->h, 32);
}

/* Receiver side of acts one and two, up to the ECDH: version and key. */
static enum brontide_err recv_e(struct brontide_hs *hs, const uint8_t *in,
				size_t len, enum brontide_err read_failed,
				enum brontide_err bad_version,
				enum brontide_err bad_pubkey)
{
	/* BOLT #8: "Read _exactly_ 50 bytes from the network buffer." */
	if (len != BRONTIDE_ACT1_SIZE)
		return read_failed;
	/* BOLT #8: "If `v` is an unrecognized handshake version, then the
	 * responder MUST abort the connection attempt." */
	if (in[0] != 0)
		return bad_version;
	/* BOLT #8: "The raw bytes of the remote party's ephemeral public key
	 * (`e`) are to be deserialized into a point on the curve" */
	if (!secp256k1_ec_pubkey_parse(secp(), &hs->re, in + 1, 33))
		return bad_pubkey;
	memcpy(hs->re_pub, in + 1, 33);
	/* BOLT #8: "h = SHA-256(h || re.serializeCompressed())" */
	mix_hash(hs, hs->re_pub, 33);
	return BRONTIDE_OK;
}

/* Receiver side of acts one and two after the ECDH: the MAC.
 * BOLT #8: "ck, temp_k = HKDF(ck, ss)", "p = decryptWithAD(temp_k, 0, h, c)"
 * "If the MAC check in this operation fails, then the [receiver] MUST
 * terminate the connection without any further messages.",
 * "h = SHA-256(h || c)" */
static bool recv_e_mac(struct brontide_hs *hs, const uint8_t ss[32],
		       const uint8_t c[16], const char *names[4])
{
	trace(names[0], ss, 32);
	brontide_hkdf(hs->ck, hs->temp_k, hs->ck, ss, 32);
	trace(names[1], hs->ck, 32);
	trace(names[2], hs->temp_k, 32);
	if (!brontide_aead_decrypt(NULL, hs->temp_k, 0, hs->h, 32, c, 0))
		return false;
	mix_hash(hs, c, 16);
	trace(names[3], hs->h, 32);
	return true;
}

enum brontide_err brontide_hs_act1(struct brontide_hs *hs, uint8_t out[50])
{
	static const char *names[5] = { "act1_h_after_e", "act1_es", "act1_ck",
					"temp_k1", "act1_h_final" };

	BRONTIDE_ASSERT(hs->role == BRONTIDE_INITIATOR && hs->stage == HS_START);
	/* BOLT #8: "ss = ECDH(rs, e.priv)" */
	send_e(hs, out, &hs->rs, names);
	trace("act1_c", out + 34, 16);
	hs->stage = HS_WAIT_ACT2;
	return BRONTIDE_OK;
}

enum brontide_err brontide_hs_recv_act1(struct brontide_hs *hs,
					const uint8_t *in, size_t len)
{
	enum brontide_err err;

	BRONTIDE_ASSERT(hs->role == BRONTIDE_RESPONDER && hs->stage == HS_START);
	err = recv_e(hs, in, len, BRONTIDE_ERR_ACT1_READ_FAILED,
		     BRONTIDE_ERR_ACT1_BAD_VERSION, BRONTIDE_ERR_ACT1_BAD_PUBKEY);
	if (err != BRONTIDE_OK) {
		fail(hs);
		return err;
	}
	trace("act1_h_after_e", hs->h, 32);
	/* The MAC needs "ss = ECDH(re, s.priv)": keep c until we have it. */
	memcpy(hs->act1_c, in + 34, 16);
	hs->stage = HS_NEED_ECDH;
	return BRONTIDE_NEED_ECDH;
}

enum brontide_err brontide_hs_recv_act2(struct brontide_hs *hs,
					const uint8_t *in, size_t len)
{
	static const char *names[4] = { "act2_ee", "act2_ck", "temp_k2",
					"act2_h_final" };
	enum brontide_err err;
	uint8_t ss[32];
	bool ok;

	BRONTIDE_ASSERT(hs->role == BRONTIDE_INITIATOR &&
			hs->stage == HS_WAIT_ACT2);
	err = recv_e(hs, in, len, BRONTIDE_ERR_ACT2_READ_FAILED,
		     BRONTIDE_ERR_ACT2_BAD_VERSION, BRONTIDE_ERR_ACT2_BAD_PUBKEY);
	if (err != BRONTIDE_OK) {
		fail(hs);
		return err;
	}
	trace("act2_re", hs->re_pub, 33);
	trace("act2_h_after_re", hs->h, 32);
	/* BOLT #8: "ss = ECDH(re, e.priv)" */
	ecdh(ss, &hs->re, hs->e_priv);
	ok = recv_e_mac(hs, ss, in + 34, names);
	sodium_memzero(ss, sizeof(ss));
	if (!ok) {
		fail(hs);
		return BRONTIDE_ERR_ACT2_BAD_TAG;
	}
	/* Act three needs "ss = ECDH(re, s.priv)": the node key. */
	hs->stage = HS_NEED_ECDH;
	return BRONTIDE_NEED_ECDH;
}

const uint8_t *brontide_hs_ecdh_point(const struct brontide_hs *hs)
{
	BRONTIDE_ASSERT(hs->stage == HS_NEED_ECDH);
	/* Both waits multiply the remote ephemeral key. */
	return hs->re_pub;
}

void brontide_hs_ecdh_done(struct brontide_hs *hs, const uint8_t secret[32])
{
	BRONTIDE_ASSERT(hs->stage == HS_NEED_ECDH);
	memcpy(hs->node_ss, secret, 32);
	hs->stage = HS_HAVE_ECDH;
}

enum brontide_err brontide_hs_act2(struct brontide_hs *hs, uint8_t out[50])
{
	static const char *mac_names[4] = { "act1_es", "act1_ck", "temp_k1",
					    "act1_h_final" };
	static const char *names[5] = { "act2_h_after_re", "act2_ee",
					 "act2_ck", "temp_k2", "act2_h_final" };
	bool ok;

	BRONTIDE_ASSERT(hs->role == BRONTIDE_RESPONDER &&
			hs->stage == HS_HAVE_ECDH);
	/* Finish act one now that we have ss = ECDH(re, s.priv). */
	ok = recv_e_mac(hs, hs->node_ss, hs->act1_c, mac_names);
	sodium_memzero(hs->node_ss, sizeof(hs->node_ss));
	if (!ok) {
		fail(hs);
		return BRONTIDE_ERR_ACT1_BAD_TAG;
	}
	/* BOLT #8: "ss = ECDH(re, e.priv)" */
	send_e(hs, out, &hs->re, names);
	hs->stage = HS_WAIT_ACT3;
	return BRONTIDE_OK;
}

enum brontide_err brontide_hs_act3(struct brontide_hs *hs, uint8_t out[66])
{
	BRONTIDE_ASSERT(hs->role == BRONTIDE_INITIATOR &&
			hs->stage == HS_HAVE_ECDH);
	/* BOLT #8: "c = encryptWithAD(temp_k2, 1, h, s.pub.serializeCompressed())" */
	out[0] = 0;
	brontide_aead_encrypt(out + 1, hs->temp_k, 1, hs->h, 32, hs->ls_pub, 33);
	trace("act3_c", out + 1, 49);
	/* BOLT #8: "h = SHA-256(h || c)" */
	mix_hash(hs, out + 1, 49);
	trace("act3_h", hs->h, 32);
	/* BOLT #8: "ss = ECDH(re, s.priv)", "ck, temp_k3 = HKDF(ck, ss)" */
	trace("act3_se", hs->node_ss, 32);
	brontide_hkdf(hs->ck, hs->temp_k, hs->ck, hs->node_ss, 32);
	sodium_memzero(hs->node_ss, sizeof(hs->node_ss));
	trace("act3_ck", hs->ck, 32);
	trace("temp_k3", hs->temp_k, 32);
	/* BOLT #8: "t = encryptWithAD(temp_k3, 0, h, zero)" */
	brontide_aead_encrypt(out + 50, hs->temp_k, 0, hs->h, 32, NULL, 0);
	trace("act3_t", out + 50, 16);
	sodium_memzero(hs->temp_k, sizeof(hs->temp_k));
	sodium_memzero(hs->e_priv, sizeof(hs->e_priv));
	hs->stage = HS_DONE;
	return BRONTIDE_OK;
}

enum brontide_err brontide_hs_recv_act3(struct brontide_hs *hs,
					const uint8_t *in, size_t len)
{
	uint8_t ss[32];
	enum brontide_err err;

	BRONTIDE_ASSERT(hs->role == BRONTIDE_RESPONDER &&
			hs->stage == HS_WAIT_ACT3);
	/* BOLT #8: "Read _exactly_ 66 bytes from the network buffer." */
	if (len != BRONTIDE_ACT3_SIZE) {
		err = BRONTIDE_ERR_ACT3_READ_FAILED;
		goto out;
	}
	/* BOLT #8: "If `v` is an unrecognized handshake version, then the
	 * responder MUST abort the connection attempt." */
	if (in[0] != 0) {
		err = BRONTIDE_ERR_ACT3_BAD_VERSION;
		goto out;
	}
	/* BOLT #8: "rs = decryptWithAD(temp_k2, 1, h, c)" */
	if (!brontide_aead_decrypt(hs->rs_pub, hs->temp_k, 1, hs->h, 32,
				   in + 1, 33)) {
		err = BRONTIDE_ERR_ACT3_BAD_CIPHERTEXT;
		goto out;
	}
	if (!secp256k1_ec_pubkey_parse(secp(), &hs->rs, hs->rs_pub, 33)) {
		err = BRONTIDE_ERR_ACT3_BAD_PUBKEY;
		goto out;
	}
	trace("act3_c", in + 1, 49);
	/* BOLT #8: "h = SHA-256(h || c)" */
	mix_hash(hs, in + 1, 49);
	trace("act3_h", hs->h, 32);
	/* BOLT #8: "ss = ECDH(rs, e.priv)", "ck, temp_k3 = HKDF(ck, ss)" */
	ecdh(ss, &hs->rs, hs->e_priv);
	trace("act3_se", ss, 32);
	brontide_hkdf(hs->ck, hs->temp_k, hs->ck, ss, sizeof(ss));
	sodium_memzero(ss, sizeof(ss));
	trace("act3_ck", hs->ck, 32);
	trace("temp_k3", hs->temp_k, 32);
	/* BOLT #8: "p = decryptWithAD(temp_k3, 0, h, t)" "If the MAC check in
	 * this operation fails, then the responder MUST terminate the
	 * connection without any further messages." */
	if (!brontide_aead_decrypt(NULL, hs->temp_k, 0, hs->h, 32, in + 50, 0)) {
		err = BRONTIDE_ERR_ACT3_BAD_TAG;
		goto out;
	}
	trace("act3_t", in + 50, 16);
	sodium_memzero(hs->temp_k, sizeof(hs->temp_k));
	sodium_memzero(hs->e_priv, sizeof(hs->e_priv));
	hs->stage = HS_DONE;
	return BRONTIDE_OK;

out:
	fail(hs);
	return err;
}

const uint8_t *brontide_hs_remote_pub(const struct brontide_hs *hs)
{
	BRONTIDE_ASSERT(hs->stage == HS_DONE);
	return hs->rs_pub;
}

struct brontide_cipher *brontide_hs_split(struct brontide_hs *hs)
{
	struct brontide_cipher *c;
	uint8_t k1[32], k2[32];

	BRONTIDE_ASSERT(hs->stage == HS_DONE);
	/* BOLT #8: initiator "sk, rk = HKDF(ck, zero)"; responder
	 * "rk, sk = HKDF(ck, zero)" */
	brontide_hkdf(k1, k2, hs->ck, NULL, 0);
	if (hs->role == BRONTIDE_INITIATOR)
		c = brontide_cipher_new(k1, k2, hs->ck);
	else
		c = brontide_cipher_new(k2, k1, hs->ck);
	sodium_memzero(k1, sizeof(k1));
	sodium_memzero(k2, sizeof(k2));
	return c;
}
