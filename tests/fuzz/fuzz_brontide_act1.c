/* Fuzz the BOLT 8 responder with arbitrary act-one bytes.  Keys are the
 * spec's test vector keys, so the spec's act one is a valid seed and the
 * fuzzer can reach the MAC check and act two. */
#include <secp256k1.h>
#include <secp256k1_ecdh.h>
#include <stdlib.h>
#include <string.h>

#include "brontide/brontide.h"
#include "common/common.h"

static uint8_t ls_priv[32], ls_pub[33], e_priv[32];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const secp256k1_context *ctx;
	secp256k1_pubkey pk;
	size_t len = 33;

	cn_crypto_init();
	ctx = (const secp256k1_context *)cn_secp();
	/* BOLT 8 Appendix A responder: ls.priv = 0x21.., e.priv = 0x22.. */
	memset(ls_priv, 0x21, 32);
	memset(e_priv, 0x22, 32);
	if (!secp256k1_ec_pubkey_create(ctx, &pk, ls_priv))
		abort();
	secp256k1_ec_pubkey_serialize(ctx, ls_pub, &len, &pk,
				      SECP256K1_EC_COMPRESSED);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const secp256k1_context *ctx = (const secp256k1_context *)cn_secp();
	struct brontide_hs *hs;
	enum brontide_err err;
	secp256k1_pubkey pk;
	uint8_t ss[32], act2[50];

	if (!ctx)
		LLVMFuzzerInitialize(NULL, NULL);
	ctx = (const secp256k1_context *)cn_secp();
	hs = brontide_hs_new(BRONTIDE_RESPONDER, ls_pub, NULL, e_priv);
	if (!hs)
		abort();
	err = brontide_hs_recv_act1(hs, data, size);
	if (err == BRONTIDE_NEED_ECDH) {
		/* The point passed act one's checks: it must parse. */
		if (!secp256k1_ec_pubkey_parse(ctx, &pk,
					       brontide_hs_ecdh_point(hs), 33) ||
		    !secp256k1_ecdh(ctx, ss, &pk, ls_priv, NULL, NULL))
			abort();
		brontide_hs_ecdh_done(hs, ss);
		err = brontide_hs_act2(hs, act2);
		if (err != BRONTIDE_OK && err != BRONTIDE_ERR_ACT1_BAD_TAG)
			abort();
	} else if (err != BRONTIDE_ERR_ACT1_READ_FAILED &&
		   err != BRONTIDE_ERR_ACT1_BAD_VERSION &&
		   err != BRONTIDE_ERR_ACT1_BAD_PUBKEY) {
		abort();
	}
	brontide_hs_free(hs);
	return 0;
}
