/* Fuzz the transport cipher.  (1) The input as a wire stream: header and
 * body decrypt calls with fixed keys (the spec's message vector keys, so
 * the spec's frames are valid seeds).  (2) The input as plaintext: split
 * into messages by its own bytes, encrypted by one side, decrypted by the
 * other, which must give the same bytes back. */
#include <stdlib.h>
#include <string.h>

#include "brontide/brontide.h"
#include "common/common.h"

static uint8_t sk[32], rk[32], ck[32];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	cn_crypto_init();
	/* BOLT 8 Appendix A transport-message test keys. */
	if (!hex_decode(sk, 32, "969ab31b4d288cedf6218839b27a3e2140827047f2c0f01bf5c04435d43511a9") ||
	    !hex_decode(rk, 32, "bb9020b8965f4df047e07f955f3c4b88418984aadc5cdb35096b9ea8fa5c3442") ||
	    !hex_decode(ck, 32, "919219dbb2920afa8db80f9a51787a840bcf111ed8d588caf9ab4be716e42b01"))
		abort();
	return 0;
}

static void decrypt_stream(const uint8_t *data, size_t size)
{
	/* The receiving side of the spec's initiator. */
	struct brontide_cipher *b = brontide_cipher_new(rk, sk, ck);
	uint8_t *body;

	if (!b)
		abort();
	while (size >= BRONTIDE_HDR_SIZE) {
		uint16_t len;

		if (brontide_cipher_decrypt_len(b, &len, data) != BRONTIDE_OK)
			break;
		data += BRONTIDE_HDR_SIZE;
		size -= BRONTIDE_HDR_SIZE;
		if (size < (size_t)len + BRONTIDE_MAC_SIZE)
			break;
		/* Exact-size copy so ASan sees any overread. */
		body = malloc((size_t)len + BRONTIDE_MAC_SIZE);
		memcpy(body, data, (size_t)len + BRONTIDE_MAC_SIZE);
		if (brontide_cipher_decrypt_body(b, body, body, len) != BRONTIDE_OK) {
			free(body);
			break;
		}
		free(body);
		data += (size_t)len + BRONTIDE_MAC_SIZE;
		size -= (size_t)len + BRONTIDE_MAC_SIZE;
	}
	brontide_cipher_free(b);
}

static void roundtrip(const uint8_t *data, size_t size)
{
	struct brontide_cipher *a = brontide_cipher_new(sk, rk, ck);
	struct brontide_cipher *b = brontide_cipher_new(rk, sk, ck);

	if (!a || !b)
		abort();
	while (size) {
		/* First byte picks the message length (scaled to reach big
		 * messages with small inputs). */
		size_t len = (size_t)data[0] * 257 % (size + 1);
		uint8_t *wire = malloc(BRONTIDE_WIRE_SIZE(len));
		uint8_t *dec = malloc(len + 1);
		uint16_t got;

		if (brontide_cipher_encrypt(a, wire, data, len) != BRONTIDE_OK ||
		    brontide_cipher_decrypt_len(b, &got, wire) != BRONTIDE_OK ||
		    got != len ||
		    brontide_cipher_decrypt_body(b, dec, wire + BRONTIDE_HDR_SIZE,
						 got) != BRONTIDE_OK ||
		    memcmp(dec, data, len) != 0)
			abort();
		free(wire);
		free(dec);
		if (len == 0)
			len = 1;
		data += len;
		size -= len;
	}
	brontide_cipher_free(a);
	brontide_cipher_free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!cn_secp())
		LLVMFuzzerInitialize(NULL, NULL);
	decrypt_stream(data, size);
	roundtrip(data, size);
	return 0;
}
