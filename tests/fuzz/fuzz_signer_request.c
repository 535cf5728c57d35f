/* Fuzz coldsigner's request handler: whatever a node sends must get a
 * reply, a refusal or a clean CS_BAD, never a crash, with lnd's rules
 * alone and with coldsigner's policy. */
#include "coldsigner/coldsigner.h"

#include <assert.h>
#include <stdlib.h>

#include "common/common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct cn_nodekey *k;
	static const uint8_t priv[32] = { [31] = 1 };
	uint8_t *out;
	size_t outlen;
	char err[128];

	if (!k) {
		cn_crypto_init();
		k = cn_nodekey_from_secret(priv);
	}
	switch (cs_handle(k, &out, &outlen, err, sizeof(err), data, size)) {
	case CS_REPLY:
		assert(out != NULL);
		break;
	case CS_REGISTERED:
	case CS_REFUSED:
	case CS_BAD:
		assert(out == NULL);
		break;
	}
	free(out);
	/* Issue 22: the same with coldsigner's policy on (its default). */
	{
		const char *refused;
		enum cs_verdict v = cs_handle_policy(k, CS_POLICY_CHECK,
						     &refused, &out, &outlen,
						     err, sizeof(err), data,
						     size);
		assert((v == CS_REPLY) == (out != NULL));
		assert(!refused || v == CS_REPLY);
		free(out);
	}
	return 0;
}
