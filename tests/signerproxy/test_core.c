/* The signer proxy's pure parts: the method table, spx_decide by table
 * (never UNAVAILABLE or DEADLINE_EXCEEDED), and the forwarded-message
 * codec of the supervisor (proto/signerproxy.proto) against the typed
 * watchonly.proto: the same bytes. */
#include "signerproxy/signerproxy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "signerproxy.pb-c.h"
#include "watchonly.pb-c.h"

static void test_methods(void)
{
	bool seen[16] = { false };
	enum spx_method m;

	for (unsigned i = 0; i < SPX_NUM_METHODS; i++) {
		const struct spx_method_info *mi = spx_method_info(i);
		CHECK(mi->field >= SV_FWD_FIELD_MIN &&
		      mi->field <= SV_FWD_FIELD_MAX);
		CHECK(!seen[mi->field]);
		seen[mi->field] = true;
		CHECK(spx_method_lookup(&m, mi->path) && m == i);
		CHECK(strstr(mi->path, mi->name) != NULL);
	}
	/* lnd's watchonly.proto numbers. */
	CHECK(spx_method_info(SPX_DERIVE_SHARED_KEY)->field == 4);
	CHECK(spx_method_info(SPX_SIGN_MESSAGE)->field == 5);
	CHECK(spx_method_info(SPX_MUSIG2_CREATE_SESSION)->field == 6);
	CHECK(spx_method_info(SPX_MUSIG2_CLEANUP)->field == 12);
	CHECK(spx_method_info(SPX_SIGN_PSBT)->field == 13);
	/* lnd's permissions (signer_server.go, walletkit_server.go). */
	CHECK(!strcmp(spx_method_info(SPX_MUSIG2_GET_COMBINED_NONCE)->perm.action,
		      "read"));
	CHECK(!strcmp(spx_method_info(SPX_SIGN_PSBT)->perm.entity, "onchain"));
	CHECK(!spx_method_lookup(&m, "/signrpc.Signer/SignOutputRaw"));
	CHECK(!spx_method_lookup(&m, "/signrpc.Signer/ComputeInputScript"));
	CHECK(!spx_method_lookup(&m, "/walletrpc.WalletKit/DeriveKey"));
	CHECK(!spx_method_lookup(&m, ""));
}

/* Every result x sent x field: the status and outcome. */
static void test_decide(void)
{
	static const struct {
		enum sv_result r;
		bool sent;
		unsigned field; /* answer's member (SV_OK) */
		enum spx_outcome out;
		enum rpc_status st;
		const char *text; /* in the message */
	} t[] = {
		{ SV_OK, true, 4, SPX_OUT_OK, RPC_STATUS_OK, "" },
		{ SV_OK, true, 5, SPX_OUT_BAD_REPLY, RPC_STATUS_INTERNAL,
		  "unexpected response type" },
		{ SV_OK, true, 13, SPX_OUT_BAD_REPLY, RPC_STATUS_INTERNAL,
		  "member 13, expected 4" },
		{ SV_ERR_SIGNER, true, 0, SPX_OUT_SIGNER_ERROR,
		  RPC_STATUS_UNKNOWN, "no key here" },
		{ SV_ERR_UNAVAILABLE, false, 0, SPX_OUT_AWAY,
		  RPC_STATUS_FAILED_PRECONDITION, "signer is away" },
		{ SV_ERR_UNAVAILABLE, true, 0, SPX_OUT_LOST,
		  RPC_STATUS_ABORTED, "in flight" },
		{ SV_ERR_TIMEOUT, true, 0, SPX_OUT_SLOW, RPC_STATUS_ABORTED,
		  "did not answer" },
		{ SV_ERR_BAD_REPLY, true, 0, SPX_OUT_BAD_REPLY,
		  RPC_STATUS_INTERNAL, "non-signing" },
		{ SV_ERR_CANCELLED, false, 0, SPX_OUT_CANCELLED,
		  RPC_STATUS_CANCELLED, "cancelled" },
	};

	for (size_t i = 0; i < CN_ARRAY_SIZE(t); i++) {
		struct sv_fwd_answer a = { .result = t[i].r,
					   .sent = t[i].sent,
					   .field = t[i].field,
					   .error = "no key here" };
		struct spx_verdict v;
		spx_decide(&v, SPX_DERIVE_SHARED_KEY, &a, 3);
		CHECK(v.outcome == t[i].out);
		CHECK(v.status == t[i].st);
		CHECK(strstr(v.msg, t[i].text) != NULL);
		if (!strstr(v.msg, t[i].text))
			fprintf(stderr, "row %zu: \"%s\"\n", i, v.msg);
	}
	/* Whatever happens: never a status lnd's considerShutdown acts on. */
	for (int r = 0; r < SV_NUM_RESULTS; r++) {
		for (int s = 0; s < 2; s++) {
			for (unsigned m = 0; m < SPX_NUM_METHODS; m++) {
				struct sv_fwd_answer a = { .result = r,
							   .sent = s,
							   .field = 4 + (m % 10) };
				struct spx_verdict v;
				spx_decide(&v, m, &a, 3);
				CHECK(v.status != RPC_STATUS_UNAVAILABLE &&
				      v.status != RPC_STATUS_DEADLINE_EXCEEDED);
				spx_decide_slow(&v, m, s);
				CHECK(v.status == (s ? RPC_STATUS_ABORTED
						     : RPC_STATUS_FAILED_PRECONDITION));
			}
		}
	}
	/* The hold time is in the text. */
	struct sv_fwd_answer away = { .result = SV_ERR_UNAVAILABLE };
	struct spx_verdict v;
	spx_decide(&v, SPX_SIGN_PSBT, &away, 2.5);
	CHECK(strstr(v.msg, "2.5s hold time (SignPsbt not sent)") != NULL);
}

/* A forwarded request is byte for byte the typed message lnd would send. */
static void test_codec(void)
{
	Watchonlyrpc__SignCoordinatorRequest *typed;
	Signrpc__MuSig2SignRequest sr = SIGNRPC__MU_SIG2_SIGN_REQUEST__INIT;
	uint8_t inner[128], *fwd, *want;
	size_t ilen, flen, wlen;
	uint8_t digest[32];

	memset(digest, 0x5a, sizeof(digest));
	sr.session_id.data = digest;
	sr.session_id.len = 32;
	sr.message_digest.data = digest;
	sr.message_digest.len = 32;
	sr.cleanup = true;
	ilen = signrpc__mu_sig2_sign_request__pack(&sr, inner);
	fwd = sv_proto_forward(&flen, 77, 10, inner, ilen);
	CHECK(fwd != NULL);
	typed = watchonlyrpc__sign_coordinator_request__unpack(NULL, flen, fwd);
	CHECK(typed && typed->request_id == 77 &&
	      typed->sign_request_type_case ==
		      WATCHONLYRPC__SIGN_COORDINATOR_REQUEST__SIGN_REQUEST_TYPE_MU_SIG2_SIGN_REQUEST &&
	      typed->mu_sig2_sign_request->cleanup);
	/* Re-encoded from the typed view: the same bytes. */
	wlen = watchonlyrpc__sign_coordinator_request__get_packed_size(typed);
	want = malloc(wlen);
	watchonlyrpc__sign_coordinator_request__pack(typed, want);
	CHECK(wlen == flen && memcmp(want, fwd, flen) == 0);
	watchonlyrpc__sign_coordinator_request__free_unpacked(typed, NULL);
	free(want);
	free(fwd);

	/* An empty member (MuSig2CleanupRequest{}) is still sent. */
	fwd = sv_proto_forward(&flen, 3, 12, (const uint8_t *)"", 0);
	typed = watchonlyrpc__sign_coordinator_request__unpack(NULL, flen, fwd);
	CHECK(typed && typed->sign_request_type_case ==
		       WATCHONLYRPC__SIGN_COORDINATOR_REQUEST__SIGN_REQUEST_TYPE_MU_SIG2_CLEANUP_REQUEST);
	if (typed)
		watchonlyrpc__sign_coordinator_request__free_unpacked(typed,
								      NULL);
	free(fwd);

	/* Answers: member bytes, empty member, a sanitised SignerError. */
	Watchonlyrpc__SignCoordinatorResponse r =
		WATCHONLYRPC__SIGN_COORDINATOR_RESPONSE__INIT;
	Signrpc__MuSig2CleanupResponse cr = SIGNRPC__MU_SIG2_CLEANUP_RESPONSE__INIT;
	Watchonlyrpc__SignerError se = WATCHONLYRPC__SIGNER_ERROR__INIT;
	uint8_t buf[256];
	size_t n;
	struct sv_fwd_resp fr;

	r.ref_request_id = 9;
	r.sign_response_type_case =
		WATCHONLYRPC__SIGN_COORDINATOR_RESPONSE__SIGN_RESPONSE_TYPE_MU_SIG2_CLEANUP_RESPONSE;
	r.mu_sig2_cleanup_response = &cr;
	n = watchonlyrpc__sign_coordinator_response__pack(&r, buf);
	CHECK(sv_proto_decode_forward(&fr, buf, n));
	CHECK(fr.ref_id == 9 && fr.field == 12 && fr.len == 0);
	sv_proto_fwd_resp_clear(&fr);

	se.error = "bad\nthing\x01";
	r.sign_response_type_case =
		WATCHONLYRPC__SIGN_COORDINATOR_RESPONSE__SIGN_RESPONSE_TYPE_SIGNER_ERROR;
	r.signer_error = &se;
	n = watchonlyrpc__sign_coordinator_response__pack(&r, buf);
	CHECK(sv_proto_decode_forward(&fr, buf, n));
	CHECK(fr.field == 14 && !strcmp(fr.error, "bad?thing?"));
	sv_proto_fwd_resp_clear(&fr);

	/* An empty SignerError: protobuf-c's read-only "" (a crash found
	 * by fuzz_signerproxy_forward before the fix). */
	se.error = "";
	n = watchonlyrpc__sign_coordinator_response__pack(&r, buf);
	CHECK(sv_proto_decode_forward(&fr, buf, n));
	CHECK(fr.field == 14 && fr.error && fr.error[0] == '\0');
	sv_proto_fwd_resp_clear(&fr);

	/* No member; garbage; too big. */
	r.sign_response_type_case =
		WATCHONLYRPC__SIGN_COORDINATOR_RESPONSE__SIGN_RESPONSE_TYPE__NOT_SET;
	n = watchonlyrpc__sign_coordinator_response__pack(&r, buf);
	CHECK(sv_proto_decode_forward(&fr, buf, n) && fr.field == 0);
	sv_proto_fwd_resp_clear(&fr);
	memset(buf, 0xff, 16);
	CHECK(!sv_proto_decode_forward(&fr, buf, 16));
	uint8_t *big = calloc(1, SV_MAX_FORWARD_MSG + 1);
	CHECK(!sv_proto_decode_forward(&fr, big, SV_MAX_FORWARD_MSG + 1));
	free(big);
}

int main(void)
{
	test_methods();
	test_decide();
	test_codec();
	return check_exit();
}
