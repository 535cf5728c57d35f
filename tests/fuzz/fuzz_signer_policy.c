/* Fuzz coldsigner's policy (issue 22): any message bytes with any flags.
 * The first byte picks the flags; the rest is the message, tried three
 * ways: as it is, with our key written at the node_id offset its own
 * flen implies (so the parser gets past that check and into the alias
 * and addresses), and cut at every length up to 80 bytes.  Whatever the
 * shape: no crash, a reason exactly when refused, and what is allowed
 * really is one of coldnode's two requests. */
#include "coldsigner/coldsigner.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t pub[33];

static void one(const uint8_t *msg, size_t len, uint8_t flags)
{
	struct cs_sign_ask a = {
		.msg = msg,
		.len = len,
		.double_hash = flags & 1,
		.compact = flags & 2,
		.schnorr = flags & 4,
		.tag_len = (flags & 8) ? 1 : 0,
		.tweak_len = (flags & 16) ? 32 : 0,
	};
	const char *why;
	enum cs_sign_kind k = cs_policy_sign(&a, pub, &why);

	assert((k == CS_SIGN_REFUSED) == (why != NULL));
	if (k != CS_SIGN_REFUSED)
		assert(a.double_hash && !a.schnorr && !a.tag_len &&
		       !a.tweak_len);
	if (k == CS_SIGN_KEYCHECK)
		assert(a.compact && len == 53 &&
		       memcmp(msg + 32, CS_CHALLENGE_TAG, 21) == 0);
	if (k == CS_SIGN_NODE_ANN) {
		size_t flen = (size_t)msg[0] << 8 | msg[1];
		assert(!a.compact && flen <= CS_ANN_MAX_FEATURES);
		assert(len >= 2 + flen + 4 + 33 + 3 + 32 + 2);
		assert(memcmp(msg + 2 + flen + 4, pub, 33) == 0);
		assert(cs_node_ann_check(msg, len, pub) == NULL);
	}
	{
		const char *e;
		bool ok = cs_policy_ecdh(msg, len, &e);
		assert(ok == (e == NULL));
		if (ok)
			assert(len == 33 && (msg[0] == 2 || msg[0] == 3));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool init;
	uint8_t *copy;
	size_t len;
	uint8_t flags;

	if (!init) {
		static const uint8_t priv[32] = { [31] = 1 };
		struct cn_nodekey *k;
		cn_crypto_init();
		k = cn_nodekey_from_secret(priv);
		cn_nodekey_pub(k, pub);
		cn_nodekey_free(k);
		init = true;
	}
	if (size == 0)
		return 0;
	flags = data[0];
	len = size - 1;
	/* An exact-size heap copy, so reads past the end are caught. */
	copy = malloc(len ? len : 1);
	memcpy(copy, data + 1, len);
	one(copy, len, flags);
	/* Our key at the node_id offset this flen implies. */
	if (len >= 2) {
		size_t off = 2 + ((size_t)copy[0] << 8 | copy[1]) + 4;
		if (off + 33 <= len) {
			memcpy(copy + off, pub, 33);
			one(copy, len, flags);
		}
	}
	for (size_t cut = 0; cut < len && cut <= 80; cut++) {
		uint8_t *c = malloc(cut ? cut : 1);
		memcpy(c, copy, cut);
		one(c, cut, flags);
		free(c);
	}
	free(copy);
	return 0;
}
