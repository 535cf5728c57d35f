/* Fuzz the signer-stream decoder and the registration rules: whatever a
 * signer sends must decode or fail cleanly, never crash or over-read. */
#include "supervisor/supervisor.h"

#include <assert.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sv_resp r;
	const char *err;
	char buf[160];

	if (sv_proto_decode(&r, &err, data, size)) {
		const char *why = sv_proto_check_registration(buf, sizeof(buf), &r);
		assert(why == NULL || strlen(why) < sizeof(buf));
		assert(strlen(r.text) < sizeof(r.text));
		assert(r.kind != SV_RESP_SIGNATURE || r.sig_len == 64 ||
		       r.sig_len == 65);
	} else {
		assert(err != NULL);
	}
	return 0;
}
