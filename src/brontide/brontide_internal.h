/* Internal to src/brontide and its tests: the Noise primitives shared by the
 * handshake and the transport cipher, and a test-only trace hook. */
#ifndef COLDNODE_BRONTIDE_INTERNAL_H
#define COLDNODE_BRONTIDE_INTERNAL_H

#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "brontide/brontide.h"

/* Programmer errors (API misuse) abort even with NDEBUG. */
#define BRONTIDE_ASSERT(cond)                                                 \
	do {                                                                  \
		if (!(cond))                                                  \
			brontide_abort(__FILE__, __LINE__, #cond);            \
	} while (0)
void brontide_abort(const char *file, int line, const char *what)
	__attribute__((noreturn));

/* Secret memory (secmem.c): zeroed-on-release slots inside sodium_malloc'd
 * slabs, for handshake and cipher state (at most 640 bytes).  Slots come
 * zeroed; NULL on allocation failure; free accepts NULL and wipes the slot. */
void *brontide_secmem_alloc(size_t size);
void brontide_secmem_free(void *ptr);

/**
 * brontide_hkdf - RFC 5869 HKDF-SHA256, empty info, 64 bytes out.
 * @out1, @out2: the two 32-byte halves.  Either may alias @salt or @ikm:
 *   BOLT 8 writes "ck, k = HKDF(ck, k)".
 * @salt: 32 bytes (always a chaining key in BOLT 8).
 * @ikm: @ikm_len bytes (0 for the final split).
 */
void brontide_hkdf(uint8_t out1[32], uint8_t out2[32], const uint8_t salt[32],
		   const uint8_t *ikm, size_t ikm_len);

/* BOLT #8: "The nonce n is encoded as 32 zero bits, followed by a
 * *little-endian* 64-bit value." */
static inline void brontide_nonce(uint8_t npub[12], uint64_t n)
{
	memset(npub, 0, 4);
	for (int i = 0; i < 8; i++)
		npub[4 + i] = (uint8_t)(n >> (8 * i));
}

/* encryptWithAD: @out gets @len + 16 bytes. */
static inline void brontide_aead_encrypt(uint8_t *out, const uint8_t k[32],
					 uint64_t n, const uint8_t *ad,
					 size_t ad_len, const uint8_t *pt,
					 size_t len)
{
	uint8_t npub[12];

	brontide_nonce(npub, n);
	crypto_aead_chacha20poly1305_ietf_encrypt(out, NULL, pt, len, ad,
						  ad_len, NULL, npub, k);
}

/* decryptWithAD: @in holds @len + 16 bytes, @out gets @len.  The MAC check
 * is libsodium's (constant time).  Returns false on a bad MAC. */
static inline bool brontide_aead_decrypt(uint8_t *out, const uint8_t k[32],
					 uint64_t n, const uint8_t *ad,
					 size_t ad_len, const uint8_t *in,
					 size_t len)
{
	uint8_t npub[12];

	brontide_nonce(npub, n);
	return crypto_aead_chacha20poly1305_ietf_decrypt(
		       out, NULL, NULL, in, len + crypto_aead_chacha20poly1305_ietf_ABYTES,
		       ad, ad_len, npub, k) == 0;
}

/* Test hook: when set, the handshake reports each intermediate value under
 * the name the spec vectors use ("act1_es", "temp_k1", ...).  It exposes
 * secrets, so only test programs set it; production code never does. */
typedef void (*brontide_trace_fn)(const char *name, const uint8_t *v,
				  size_t len);
void brontide_test_set_trace(brontide_trace_fn fn);

/* Test hooks: the receive side's current key and chaining key (borrowed). */
const uint8_t *brontide_cipher_test_rk(const struct brontide_cipher *c);
const uint8_t *brontide_cipher_test_rck(const struct brontide_cipher *c);

#endif /* COLDNODE_BRONTIDE_INTERNAL_H */
