/* Fuzz the BOLT 8 responder with arbitrary act-three bytes, after a valid
 * act one and act two.  Spec test vector keys on both sides, so the spec's
 * act three (and its bad variants) are meaningful seeds. */
#include <secp256k1.h>
#include <secp256k1_ecdh.h>
#include <stdlib.h>
#include <string.h>

#include "brontide/brontide.h"
#include "common/common.h"

static uint8_t r_priv[32], r_pub[33], r_e[32], act1[50];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void pub_of(uint8_t pub[33], const uint8_t priv[32])
{
	secp256k1_pubkey pk;
	size_t len = 33;

	if (!secp256k1_ec_pubkey_create((const secp256k1_context *)cn_secp(),
					&pk, priv))
		abort();
	secp256k1_ec_pubkey_serialize((const secp256k1_context *)cn_secp(), pub,
				      &len, &pk, SECP256K1_EC_COMPRESSED);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	uint8_t i_priv[32], i_pub[33], i_e[32];
	struct brontide_hs *hs;

	cn_crypto_init();
	/* BOLT 8 Appendix A: initiator 0x11../0x12.., responder 0x21../0x22.. */
	memset(i_priv, 0x11, 32);
	memset(i_e, 0x12, 32);
	memset(r_priv, 0x21, 32);
	memset(r_e, 0x22, 32);
	pub_of(i_pub, i_priv);
	pub_of(r_pub, r_priv);
	hs = brontide_hs_new(BRONTIDE_INITIATOR, i_pub, r_pub, i_e);
	if (!hs || brontide_hs_act1(hs, act1) != BRONTIDE_OK)
		abort();
	brontide_hs_free(hs);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const secp256k1_context *ctx;
	struct brontide_hs *hs;
	struct brontide_cipher *c;
	enum brontide_err err;
	secp256k1_pubkey pk;
	uint8_t ss[32], act2[50];

	if (!cn_secp())
		LLVMFuzzerInitialize(NULL, NULL);
	ctx = (const secp256k1_context *)cn_secp();
	hs = brontide_hs_new(BRONTIDE_RESPONDER, r_pub, NULL, r_e);
	if (!hs || brontide_hs_recv_act1(hs, act1, sizeof(act1)) !=
			   BRONTIDE_NEED_ECDH)
		abort();
	if (!secp256k1_ec_pubkey_parse(ctx, &pk, brontide_hs_ecdh_point(hs), 33) ||
	    !secp256k1_ecdh(ctx, ss, &pk, r_priv, NULL, NULL))
		abort();
	brontide_hs_ecdh_done(hs, ss);
	if (brontide_hs_act2(hs, act2) != BRONTIDE_OK)
		abort();

	err = brontide_hs_recv_act3(hs, data, size);
	switch (err) {
	case BRONTIDE_OK:
		c = brontide_hs_split(hs);
		if (!c || !secp256k1_ec_pubkey_parse(ctx, &pk,
						     brontide_hs_remote_pub(hs), 33))
			abort();
		brontide_cipher_free(c);
		break;
	case BRONTIDE_ERR_ACT3_READ_FAILED:
	case BRONTIDE_ERR_ACT3_BAD_VERSION:
	case BRONTIDE_ERR_ACT3_BAD_CIPHERTEXT:
	case BRONTIDE_ERR_ACT3_BAD_PUBKEY:
	case BRONTIDE_ERR_ACT3_BAD_TAG:
		break;
	case BRONTIDE_NEED_ECDH:
	case BRONTIDE_ERR_ACT1_READ_FAILED:
	case BRONTIDE_ERR_ACT1_BAD_VERSION:
	case BRONTIDE_ERR_ACT1_BAD_PUBKEY:
	case BRONTIDE_ERR_ACT1_BAD_TAG:
	case BRONTIDE_ERR_ACT2_READ_FAILED:
	case BRONTIDE_ERR_ACT2_BAD_VERSION:
	case BRONTIDE_ERR_ACT2_BAD_PUBKEY:
	case BRONTIDE_ERR_ACT2_BAD_TAG:
	case BRONTIDE_ERR_ECDH_FAILED:
	case BRONTIDE_ERR_HANDSHAKE_TIMEOUT:
	case BRONTIDE_ERR_BAD_LENGTH_TAG:
	case BRONTIDE_ERR_BAD_BODY_TAG:
	case BRONTIDE_ERR_MSG_TOO_LONG:
	case BRONTIDE_ERR_IO:
	case BRONTIDE_ERR_EOF:
	case BRONTIDE_ERR_BUFFER_FULL:
	case BRONTIDE_ERR_NOMEM:
		abort();
	}
	brontide_hs_free(hs);
	return 0;
}
