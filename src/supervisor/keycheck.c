/*~ Does the signer hold our node key?
 *
 * lnd's registration carries a challenge but signs nothing yet ("TODO"),
 * so TLS + macaroon are its only authentication.  A signer with the wrong
 * key would make every handshake fail in a confusing way, so coldnode asks
 * it to sign a fresh challenge with key_loc{6,0} in lnd's compact
 * (recoverable) format, recovers the public key, verifies the signature
 * against it, and the caller compares the key with the expected one.  The
 * same request works when no key is known yet (first contact: the result
 * is pinned), so there is one path, not two.
 */
#include "supervisor/supervisor.h"

#include <secp256k1.h>
#include <secp256k1_recovery.h>
#include <sodium.h>
#include <string.h>

void sv_keycheck_challenge(uint8_t challenge[SV_CHALLENGE_LEN])
{
	randombytes_buf(challenge, 32);
	memcpy(challenge + 32, SV_CHALLENGE_TAG, SV_CHALLENGE_LEN - 32);
}

bool sv_keycheck_verify(uint8_t pub[33], const char **err,
			const uint8_t challenge[SV_CHALLENGE_LEN],
			const uint8_t *sig, size_t siglen)
{
	const secp256k1_context *ctx = cn_secp();
	secp256k1_ecdsa_recoverable_signature rsig;
	secp256k1_ecdsa_signature nsig;
	secp256k1_pubkey pk;
	uint8_t digest[32];
	size_t publen = 33;
	int recid;

	*err = NULL;
	if (siglen != 65) {
		*err = "key check: signature is not 65-byte compact";
		return false;
	}
	/* btcec SignCompact: header = 27 + recid, +4 for a compressed key. */
	if (sig[0] < 27 || sig[0] > 34) {
		*err = "key check: bad compact signature header";
		return false;
	}
	recid = (sig[0] - 27) & 3;
	if (!secp256k1_ecdsa_recoverable_signature_parse_compact(ctx, &rsig,
								 sig + 1,
								 recid)) {
		*err = "key check: unparsable signature";
		return false;
	}
	/* lnd SignMessage with double_hash: SHA256(SHA256(msg)). */
	crypto_hash_sha256(digest, challenge, SV_CHALLENGE_LEN);
	crypto_hash_sha256(digest, digest, sizeof(digest));
	if (!secp256k1_ecdsa_recover(ctx, &pk, &rsig, digest)) {
		*err = "key check: signature does not recover a key";
		return false;
	}
	/* Recovery accepts high-S; verify insists on low-S like lnd's
	 * wire format, so normalise first, then verify for good measure. */
	secp256k1_ecdsa_recoverable_signature_convert(ctx, &nsig, &rsig);
	secp256k1_ecdsa_signature_normalize(ctx, &nsig, &nsig);
	if (!secp256k1_ecdsa_verify(ctx, &nsig, digest, &pk)) {
		*err = "key check: signature does not verify";
		return false;
	}
	secp256k1_ec_pubkey_serialize(ctx, pub, &publen, &pk,
				      SECP256K1_EC_COMPRESSED);
	return true;
}
