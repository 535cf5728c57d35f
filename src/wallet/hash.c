/*~ hash: HASH160 for addresses and BIP32 fingerprints (SHA256d is
 * chain_sha256d, shared with the block parser).  SHA-256
 * is libsodium's; RIPEMD-160 (which libsodium lacks) is OpenSSL's, already
 * linked for TLS, rather than a hand-written one. */
#include "wallet/wallet_internal.h"

#include <openssl/evp.h>
#include <sodium.h>
#include <stdlib.h>

void wallet_hash160(uint8_t out[20], const uint8_t *in, size_t len)
{
	uint8_t h[32];
	unsigned int n = 0;
	crypto_hash_sha256(h, in, len);
	/* RIPEMD-160 is in OpenSSL 3's default provider since 3.0.7; failing
	 * here means a broken installation, not bad input. */
	if (!EVP_Digest(h, sizeof(h), out, &n, EVP_ripemd160(), NULL) ||
	    n != 20)
		abort();
}
