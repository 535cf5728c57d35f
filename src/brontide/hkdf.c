/*~ HKDF-SHA256 as BOLT 8 uses it: salt is always a chaining key, info is
 * empty and exactly two 32-byte blocks come out.  Written out with
 * libsodium's HMAC so every intermediate lives on our stack and is wiped. */
#include "brontide/brontide_internal.h"

void brontide_hkdf(uint8_t out1[32], uint8_t out2[32], const uint8_t salt[32],
		   const uint8_t *ikm, size_t ikm_len)
{
	crypto_auth_hmacsha256_state st;
	uint8_t prk[32], t1[32], t2[32];
	const uint8_t one = 0x01, two = 0x02;

	/* BOLT #8: "HKDF(salt,ikm): a function defined in RFC 5869,
	 * evaluated with a zero-length info field" */
	crypto_auth_hmacsha256_init(&st, salt, 32);
	if (ikm_len)
		crypto_auth_hmacsha256_update(&st, ikm, ikm_len);
	crypto_auth_hmacsha256_final(&st, prk);

	/* T(1) = HMAC(prk, 0x01), T(2) = HMAC(prk, T(1) || 0x02) */
	crypto_auth_hmacsha256_init(&st, prk, sizeof(prk));
	crypto_auth_hmacsha256_update(&st, &one, 1);
	crypto_auth_hmacsha256_final(&st, t1);

	crypto_auth_hmacsha256_init(&st, prk, sizeof(prk));
	crypto_auth_hmacsha256_update(&st, t1, sizeof(t1));
	crypto_auth_hmacsha256_update(&st, &two, 1);
	crypto_auth_hmacsha256_final(&st, t2);

	/* Copy out last: the outputs may alias the inputs. */
	memcpy(out1, t1, 32);
	memcpy(out2, t2, 32);
	sodium_memzero(&st, sizeof(st));
	sodium_memzero(prk, sizeof(prk));
	sodium_memzero(t1, sizeof(t1));
	sodium_memzero(t2, sizeof(t2));
}
