/*~ The BOLT 8 transport cipher: length-prefixed ChaCha20-Poly1305 frames,
 * each direction with its own key, nonce and chaining key, rotated every
 * 1000 nonces.  Pure: bytes in, bytes out.  Keys live in sodium_malloc'd
 * memory (secmem.c: guard pages, mlock, wiped on free). */
#include "brontide/brontide_internal.h"
#include "common/common.h"

/* BOLT #8: "A key is to be rotated after a party sends or decrypts 1000
 * messages with it." (lnd and CLN count nonces: rotate when n reaches 1000.) */
#define ROTATE_AT 1000

struct brontide_dir {
	uint8_t k[32];
	uint8_t ck[32];
	uint64_t n;
};

struct brontide_cipher {
	struct brontide_dir s;
	struct brontide_dir r;
};

struct brontide_cipher *brontide_cipher_new(const uint8_t sk[32],
					    const uint8_t rk[32],
					    const uint8_t ck[32])
{
	struct brontide_cipher *c;

	cn_crypto_init();
	c = brontide_secmem_alloc(sizeof(*c));
	if (!c)
		return NULL;
	memcpy(c->s.k, sk, 32);
	memcpy(c->r.k, rk, 32);
	/* BOLT #8 Appendix A: both directions start from the final ck. */
	memcpy(c->s.ck, ck, 32);
	memcpy(c->r.ck, ck, 32);
	c->s.n = c->r.n = 0;
	return c;
}

void brontide_cipher_free(struct brontide_cipher *c)
{
	brontide_secmem_free(c);
}

/* BOLT #8: "The nonce `sn` MUST be incremented after this step.", and
 * key rotation: "ck', k' = HKDF(ck, k)", "Reset the nonce for the key to
 * n = 0", "k = k'", "ck = ck'". */
static void step(struct brontide_dir *d)
{
	if (++d->n == ROTATE_AT) {
		brontide_hkdf(d->ck, d->k, d->ck, d->k, 32);
		d->n = 0;
	}
}

enum brontide_err brontide_cipher_encrypt(struct brontide_cipher *c,
					  uint8_t *out, const uint8_t *msg,
					  size_t len)
{
	uint8_t l[2];

	/* BOLT #8: "The *maximum* size of _any_ Lightning message MUST NOT
	 * exceed `65535` bytes." */
	if (len > BRONTIDE_MAX_MSG)
		return BRONTIDE_ERR_MSG_TOO_LONG;
	/* BOLT #8: "Serialize `l` into 2 bytes encoded as a big-endian
	 * integer." "Encrypt `l` ... to obtain `lc` (18 bytes)" */
	be16_put(l, (uint16_t)len);
	brontide_aead_encrypt(out, c->s.k, c->s.n, NULL, 0, l, sizeof(l));
	step(&c->s);
	brontide_aead_encrypt(out + BRONTIDE_HDR_SIZE, c->s.k, c->s.n, NULL, 0,
			      msg, len);
	step(&c->s);
	return BRONTIDE_OK;
}

enum brontide_err brontide_cipher_decrypt_len(struct brontide_cipher *c,
					      uint16_t *len,
					      const uint8_t hdr[18])
{
	uint8_t l[2];

	/* A failed check leaves the nonce alone: the session is dead anyway. */
	if (!brontide_aead_decrypt(l, c->r.k, c->r.n, NULL, 0, hdr, sizeof(l)))
		return BRONTIDE_ERR_BAD_LENGTH_TAG;
	step(&c->r);
	*len = be16_get(l);
	return BRONTIDE_OK;
}

enum brontide_err brontide_cipher_decrypt_body(struct brontide_cipher *c,
					       uint8_t *out, const uint8_t *in,
					       size_t len)
{
	BRONTIDE_ASSERT(len <= BRONTIDE_MAX_MSG);
	/* libsodium checks the tag (constant time) before decrypting, so
	 * @out == @in is fine. */
	if (!brontide_aead_decrypt(out, c->r.k, c->r.n, NULL, 0, in, len))
		return BRONTIDE_ERR_BAD_BODY_TAG;
	step(&c->r);
	return BRONTIDE_OK;
}

const uint8_t *brontide_cipher_sk(const struct brontide_cipher *c)
{
	return c->s.k;
}

const uint8_t *brontide_cipher_sck(const struct brontide_cipher *c)
{
	return c->s.ck;
}

const uint8_t *brontide_cipher_test_rk(const struct brontide_cipher *c)
{
	return c->r.k;
}

const uint8_t *brontide_cipher_test_rck(const struct brontide_cipher *c)
{
	return c->r.ck;
}
