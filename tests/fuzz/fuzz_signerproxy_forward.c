/* libFuzzer: the signer proxy's byte-level codec (proto/signerproxy.proto).
 * Any bytes as a signer's answer: decoded or refused, never trusted past
 * their length; a decoded member re-encoded as a request round-trips; the
 * status decision for any answer is never UNAVAILABLE/DEADLINE_EXCEEDED. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "signerproxy/signerproxy.h"
#include "signerproxy.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sv_fwd_resp fr;

	if (sv_proto_decode_forward(&fr, data, size)) {
		if (fr.field >= SV_FWD_FIELD_MIN && fr.field <= SV_FWD_FIELD_MAX) {
			size_t len;
			uint8_t *q = sv_proto_forward(&len, fr.ref_id, fr.field,
						      fr.body, fr.len);
			Coldnode__Signerproxy__ForwardRequest *m =
				coldnode__signerproxy__forward_request__unpack(
					NULL, len, q);
			if (!m || m->request_id != fr.ref_id ||
			    (unsigned)m->sign_request_type_case != fr.field)
				abort();
			coldnode__signerproxy__forward_request__free_unpacked(m, NULL);
			free(q);
		}
		if (fr.error && strlen(fr.error) > 1023)
			abort();
		struct sv_fwd_answer a = {
			.result = fr.field == 14 ? SV_ERR_SIGNER : SV_OK,
			.sent = true, .field = fr.field, .body = fr.body,
			.len = fr.len, .error = fr.error,
		};
		struct spx_verdict v;
		spx_decide(&v, (enum spx_method)(fr.ref_id % SPX_NUM_METHODS),
			   &a, 3);
		if (v.status == RPC_STATUS_UNAVAILABLE ||
		    v.status == RPC_STATUS_DEADLINE_EXCEEDED)
			abort();
		sv_proto_fwd_resp_clear(&fr);
	}
	return 0;
}
