/* Transport cipher: framing round trip, key rotation at exactly 1000
 * nonces in each direction, tag failures, the 65535-byte limit, in-place
 * decryption. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "brontide/brontide.h"
#include "brontide/brontide_internal.h"
#include "check.h"
#include "common/common.h"

static uint8_t sk[32], rk[32], ck[32];

/* Independent HKDF (RFC 5869, empty info) for the rotation check. */
static void ref_hkdf(uint8_t o1[32], uint8_t o2[32], const uint8_t salt[32],
		     const uint8_t ikm[32])
{
	uint8_t prk[32], t[33];

	crypto_auth_hmacsha256(prk, ikm, 32, salt);
	t[0] = 1;
	crypto_auth_hmacsha256(o1, t, 1, prk);
	memcpy(t, o1, 32);
	t[32] = 2;
	crypto_auth_hmacsha256(o2, t, 33, prk);
}

/* a->b one message, checks the plaintext survives. */
static void roundtrip(struct brontide_cipher *a, struct brontide_cipher *b,
		      const uint8_t *msg, size_t len)
{
	uint8_t *wire = malloc(BRONTIDE_WIRE_SIZE(len));
	uint8_t *dec = malloc(len + 1);
	uint16_t got;

	CHECK(brontide_cipher_encrypt(a, wire, msg, len) == BRONTIDE_OK);
	CHECK(brontide_cipher_decrypt_len(b, &got, wire) == BRONTIDE_OK);
	CHECK(got == len);
	CHECK(brontide_cipher_decrypt_body(b, dec, wire + BRONTIDE_HDR_SIZE,
					   len) == BRONTIDE_OK);
	CHECK(memcmp(dec, msg, len) == 0);
	free(wire);
	free(dec);
}

static void test_roundtrip(void)
{
	static const size_t lens[] = { 0, 1, 2, 17, 1000, 4096, 65534, 65535 };
	struct brontide_cipher *a = brontide_cipher_new(sk, rk, ck);
	struct brontide_cipher *b = brontide_cipher_new(rk, sk, ck);
	uint8_t *msg = malloc(BRONTIDE_MAX_MSG);

	randombytes_buf(msg, BRONTIDE_MAX_MSG);
	for (size_t i = 0; i < CN_ARRAY_SIZE(lens); i++) {
		roundtrip(a, b, msg, lens[i]);
		roundtrip(b, a, msg, lens[i]);
	}
	free(msg);
	brontide_cipher_free(a);
	brontide_cipher_free(b);
}

/* BOLT #8: rotate when the nonce reaches 1000, each direction alone. */
static void test_rotation(void)
{
	struct brontide_cipher *a = brontide_cipher_new(sk, rk, ck);
	struct brontide_cipher *b = brontide_cipher_new(rk, sk, ck);
	uint8_t want_ck[32], want_k[32], b_sk[32];
	const uint8_t msg[3] = { 1, 2, 3 };

	memcpy(b_sk, brontide_cipher_sk(b), 32);
	/* 499 messages = 998 nonces: no rotation yet. */
	for (int i = 0; i < 499; i++)
		roundtrip(a, b, msg, sizeof(msg));
	CHECK_MEM(brontide_cipher_sk(a), sk, 32);
	CHECK_MEM(brontide_cipher_sck(a), ck, 32);
	CHECK_MEM(brontide_cipher_test_rk(b), sk, 32);

	/* The 500th message uses nonces 998 and 999, then rotates. */
	roundtrip(a, b, msg, sizeof(msg));
	ref_hkdf(want_ck, want_k, ck, sk);
	CHECK_MEM(brontide_cipher_sk(a), want_k, 32);
	CHECK_MEM(brontide_cipher_sck(a), want_ck, 32);
	CHECK_MEM(brontide_cipher_test_rk(b), want_k, 32);
	CHECK_MEM(brontide_cipher_test_rck(b), want_ck, 32);
	/* The other direction has not moved. */
	CHECK_MEM(brontide_cipher_sk(b), b_sk, 32);
	CHECK_MEM(brontide_cipher_test_rk(a), rk, 32);

	/* Now b -> a past its own 1000 nonces: rotates independently. */
	for (int i = 0; i < 500; i++)
		roundtrip(b, a, msg, sizeof(msg));
	ref_hkdf(want_ck, want_k, ck, rk);
	CHECK_MEM(brontide_cipher_sk(b), want_k, 32);
	CHECK_MEM(brontide_cipher_sck(b), want_ck, 32);
	CHECK_MEM(brontide_cipher_test_rk(a), want_k, 32);
	/* And both keep working across further rotations. */
	for (int i = 0; i < 1100; i++) {
		roundtrip(a, b, msg, sizeof(msg));
		roundtrip(b, a, msg, sizeof(msg));
	}
	brontide_cipher_free(a);
	brontide_cipher_free(b);
}

static void test_bad_tags(void)
{
	struct brontide_cipher *a = brontide_cipher_new(sk, rk, ck);
	struct brontide_cipher *b = brontide_cipher_new(rk, sk, ck);
	uint8_t wrong[32], wire[BRONTIDE_WIRE_SIZE(100)], msg[100], dec[100];
	struct brontide_cipher *w;
	uint16_t len;

	memset(msg, 7, sizeof(msg));
	memcpy(wrong, sk, 32);
	wrong[31] ^= 1;
	w = brontide_cipher_new(rk, wrong, ck);
	CHECK(brontide_cipher_encrypt(a, wire, msg, sizeof(msg)) == BRONTIDE_OK);
	/* Wrong key: the length MAC fails first. */
	CHECK(brontide_cipher_decrypt_len(w, &len, wire) ==
	      BRONTIDE_ERR_BAD_LENGTH_TAG);
	/* Right key, flipped length byte. */
	wire[0] ^= 1;
	CHECK(brontide_cipher_decrypt_len(b, &len, wire) ==
	      BRONTIDE_ERR_BAD_LENGTH_TAG);
	wire[0] ^= 1;
	/* A failed header check leaves b in step: now it decrypts. */
	CHECK(brontide_cipher_decrypt_len(b, &len, wire) == BRONTIDE_OK);
	CHECK(len == sizeof(msg));
	/* Flipped body byte, then flipped body MAC byte. */
	wire[BRONTIDE_HDR_SIZE + 5] ^= 0x80;
	CHECK(brontide_cipher_decrypt_body(b, dec, wire + BRONTIDE_HDR_SIZE,
					   len) == BRONTIDE_ERR_BAD_BODY_TAG);
	wire[BRONTIDE_HDR_SIZE + 5] ^= 0x80;
	wire[sizeof(wire) - 1] ^= 1;
	CHECK(brontide_cipher_decrypt_body(b, dec, wire + BRONTIDE_HDR_SIZE,
					   len) == BRONTIDE_ERR_BAD_BODY_TAG);
	/* Wrong key on the body alone (header decrypted with the right one). */
	wire[sizeof(wire) - 1] ^= 1;
	CHECK(brontide_cipher_decrypt_body(w, dec, wire + BRONTIDE_HDR_SIZE,
					   len) == BRONTIDE_ERR_BAD_BODY_TAG);
	CHECK(brontide_cipher_decrypt_body(b, dec, wire + BRONTIDE_HDR_SIZE,
					   len) == BRONTIDE_OK);
	CHECK_MEM(dec, msg, sizeof(msg));
	brontide_cipher_free(w);
	brontide_cipher_free(a);
	brontide_cipher_free(b);
}

static void test_max_len(void)
{
	struct brontide_cipher *a = brontide_cipher_new(sk, rk, ck);
	struct brontide_cipher *twin = brontide_cipher_new(sk, rk, ck);
	struct brontide_cipher *b = brontide_cipher_new(rk, sk, ck);
	uint8_t *msg = calloc(1, BRONTIDE_MAX_MSG + 1);
	uint8_t *wire = malloc(BRONTIDE_WIRE_SIZE(BRONTIDE_MAX_MSG + 1));
	uint8_t *wire2 = malloc(BRONTIDE_WIRE_SIZE(BRONTIDE_MAX_MSG + 1));

	roundtrip(a, b, msg, BRONTIDE_MAX_MSG);
	CHECK(brontide_cipher_encrypt(twin, wire2, msg, BRONTIDE_MAX_MSG) ==
	      BRONTIDE_OK);
	CHECK(brontide_cipher_encrypt(a, wire, msg, BRONTIDE_MAX_MSG + 1) ==
	      BRONTIDE_ERR_MSG_TOO_LONG);
	CHECK(brontide_cipher_encrypt(a, wire, msg, SIZE_MAX) ==
	      BRONTIDE_ERR_MSG_TOO_LONG);
	/* No nonce used: a still produces what its twin produces. */
	CHECK(brontide_cipher_encrypt(a, wire, msg, 10) == BRONTIDE_OK);
	CHECK(brontide_cipher_encrypt(twin, wire2, msg, 10) == BRONTIDE_OK);
	CHECK_MEM(wire, wire2, BRONTIDE_WIRE_SIZE(10));
	free(msg);
	free(wire);
	free(wire2);
	brontide_cipher_free(a);
	brontide_cipher_free(twin);
	brontide_cipher_free(b);
}

static void test_in_place(void)
{
	struct brontide_cipher *a = brontide_cipher_new(sk, rk, ck);
	struct brontide_cipher *b = brontide_cipher_new(rk, sk, ck);
	uint8_t msg[300], wire[BRONTIDE_WIRE_SIZE(300)];
	uint16_t len;

	randombytes_buf(msg, sizeof(msg));
	CHECK(brontide_cipher_encrypt(a, wire, msg, sizeof(msg)) == BRONTIDE_OK);
	CHECK(brontide_cipher_decrypt_len(b, &len, wire) == BRONTIDE_OK);
	CHECK(brontide_cipher_decrypt_body(b, wire + BRONTIDE_HDR_SIZE,
					   wire + BRONTIDE_HDR_SIZE,
					   len) == BRONTIDE_OK);
	CHECK_MEM(wire + BRONTIDE_HDR_SIZE, msg, sizeof(msg));
	brontide_cipher_free(a);
	brontide_cipher_free(b);
}

int main(void)
{
	cn_crypto_init();
	randombytes_buf(sk, sizeof(sk));
	randombytes_buf(rk, sizeof(rk));
	randombytes_buf(ck, sizeof(ck));
	test_roundtrip();
	test_rotation();
	test_bad_tags();
	test_max_len();
	test_in_place();
	return check_exit();
}
