/* The signer stream codec and the key check, without sockets. */
#include "supervisor/supervisor.h"
#include "coldsigner/coldsigner.h"

#include <secp256k1.h>
#include <stdlib.h>

#include "check.h"
#include "watchonly.pb-c.h"

static uint8_t *pack_resp(size_t *len,
			  const Watchonlyrpc__SignCoordinatorResponse *m)
{
	uint8_t *b = malloc(watchonlyrpc__sign_coordinator_response__get_packed_size(m) + 1);
	*len = watchonlyrpc__sign_coordinator_response__pack(m, b);
	return b;
}

static void test_registration(void)
{
	struct sv_resp r;
	const char *err;
	char buf[160];
	size_t len;
	uint8_t *b = cs_registration(&len);

	CHECK(sv_proto_decode(&r, &err, b, len));
	CHECK(r.kind == SV_RESP_REGISTRATION);
	CHECK(r.ref_id == 1);
	CHECK(strcmp(r.text, "outboundSigner") == 0);
	CHECK(r.challenge_len == strlen("registrationChallenge"));
	CHECK(sv_proto_check_registration(buf, sizeof(buf), &r) == NULL);
	free(b);

	/* lnd's three error texts. */
	r.ref_id = 7;
	CHECK(strcmp(sv_proto_check_registration(buf, sizeof(buf), &r),
		     "initial request ID must be 1, but is: 7") == 0);
	r.ref_id = 1;
	r.kind = SV_RESP_PONG;
	CHECK(strcmp(sv_proto_check_registration(buf, sizeof(buf), &r),
		     "expected registration message, but got: "
		     "*watchonlyrpc.SignCoordinatorResponse_Pong") == 0);
	r.kind = SV_RESP_UNKNOWN;
	CHECK(strstr(sv_proto_check_registration(buf, sizeof(buf), &r),
		     "but got: <nil>") != NULL);
	r.kind = SV_RESP_REGISTRATION;
	r.text[0] = '\0';
	CHECK(strcmp(sv_proto_check_registration(buf, sizeof(buf), &r),
		     "invalid remote signer registration info") == 0);
}

static void test_decode_bad(void)
{
	Watchonlyrpc__SignCoordinatorResponse m =
		WATCHONLYRPC__SIGN_COORDINATOR_RESPONSE__INIT;
	Signrpc__SharedKeyResponse sk = SIGNRPC__SHARED_KEY_RESPONSE__INIT;
	Signrpc__SignMessageResp sm = SIGNRPC__SIGN_MESSAGE_RESP__INIT;
	Watchonlyrpc__SignerError se = WATCHONLYRPC__SIGNER_ERROR__INIT;
	uint8_t key[33] = { 0 }, sig[66] = { 0 };
	struct sv_resp r;
	const char *err;
	size_t len;
	uint8_t *b;

	/* Garbage: a truncated varint. */
	static const uint8_t garbage[] = { 0x08, 0xff, 0xff };
	CHECK(!sv_proto_decode(&r, &err, garbage, sizeof(garbage)));
	CHECK(err != NULL);

	/* Unknown oneof: field 6 (a MuSig2 session response), length 0. */
	static const uint8_t unknown[] = { 0x08, 0x05, 0x32, 0x00 };
	CHECK(sv_proto_decode(&r, &err, unknown, sizeof(unknown)));
	CHECK(r.kind == SV_RESP_UNKNOWN);
	CHECK(r.ref_id == 5);

	/* Empty message: ref 0, nothing set. */
	CHECK(sv_proto_decode(&r, &err, (const uint8_t *)"", 0));
	CHECK(r.kind == SV_RESP_UNKNOWN && r.ref_id == 0);

	/* Shared key of the wrong size. */
	sk.shared_key.data = key;
	sk.shared_key.len = 33;
	m.ref_request_id = 2;
	m.sign_response_type_case =
		WATCHONLYRPC__SIGN_COORDINATOR_RESPONSE__SIGN_RESPONSE_TYPE_SHARED_KEY_RESPONSE;
	m.shared_key_response = &sk;
	b = pack_resp(&len, &m);
	CHECK(!sv_proto_decode(&r, &err, b, len));
	CHECK(strcmp(err, "shared key must be 32 bytes") == 0);
	free(b);
	sk.shared_key.len = 32;
	b = pack_resp(&len, &m);
	CHECK(sv_proto_decode(&r, &err, b, len));
	CHECK(r.kind == SV_RESP_SHARED_KEY);
	free(b);

	/* Signatures: 64 and 65 fine, 66 not. */
	sm.signature.data = sig;
	m.sign_response_type_case =
		WATCHONLYRPC__SIGN_COORDINATOR_RESPONSE__SIGN_RESPONSE_TYPE_SIGN_MESSAGE_RESP;
	m.sign_message_resp = &sm;
	for (size_t n = 63; n <= 66; n++) {
		sm.signature.len = n;
		b = pack_resp(&len, &m);
		CHECK(sv_proto_decode(&r, &err, b, len) == (n == 64 || n == 65));
		free(b);
	}

	/* Signer error text is sanitised for logs. */
	se.error = (char *)"bad\x01\x7f" "thing";
	m.sign_response_type_case =
		WATCHONLYRPC__SIGN_COORDINATOR_RESPONSE__SIGN_RESPONSE_TYPE_SIGNER_ERROR;
	m.signer_error = &se;
	b = pack_resp(&len, &m);
	CHECK(sv_proto_decode(&r, &err, b, len));
	CHECK(r.kind == SV_RESP_SIGNER_ERROR);
	CHECK(strcmp(r.text, "bad??thing") == 0);
	free(b);

	/* Oversize. */
	b = calloc(1, SV_MAX_MSG + 1);
	CHECK(!sv_proto_decode(&r, &err, b, SV_MAX_MSG + 1));
	free(b);
}

/* Our requests, answered by the reference signer, decode as expected. */
static void test_round_trip(void)
{
	static const uint8_t priv[32] = { [31] = 7 };
	struct cn_nodekey *k = cn_nodekey_from_secret(priv);
	uint8_t pub[33], point[33], *req, *resp, challenge[SV_CHALLENGE_LEN];
	size_t rlen, plen;
	struct sv_resp r;
	const char *err;
	char e[128];
	secp256k1_pubkey pk;
	static const uint8_t two[32] = { [31] = 2 };
	size_t n = 33;

	cn_nodekey_pub(k, pub);
	CHECK(secp256k1_ec_pubkey_create(cn_secp(), &pk, two));
	secp256k1_ec_pubkey_serialize(cn_secp(), point, &n, &pk,
				      SECP256K1_EC_COMPRESSED);

	req = sv_proto_ping(&rlen, 9);
	CHECK(cs_handle(k, &resp, &plen, e, sizeof(e), req, rlen) == CS_REPLY);
	CHECK(sv_proto_decode(&r, &err, resp, plen));
	CHECK(r.kind == SV_RESP_PONG && r.pong && r.ref_id == 9);
	free(req);
	free(resp);

	/* ECDH: 7*(2G) and 2*(7G) agree. */
	req = sv_proto_shared_key(&rlen, 10, point, pub);
	{
		/* As lnd's RPCKeyRing.ECDH: key_desc{key_loc{6,0},
		 * raw_key_bytes} and never the deprecated key_loc (lnd's
		 * signer: "use either key_desc or key_loc"). */
		Watchonlyrpc__SignCoordinatorRequest *m =
			watchonlyrpc__sign_coordinator_request__unpack(NULL, rlen,
								       req);
		const Signrpc__SharedKeyRequest *sk;
		CHECK(m && m->sign_request_type_case ==
			   WATCHONLYRPC__SIGN_COORDINATOR_REQUEST__SIGN_REQUEST_TYPE_SHARED_KEY_REQUEST);
		sk = m->shared_key_request;
		CHECK(sk->key_loc == NULL);
		CHECK(sk->key_desc && sk->key_desc->key_loc);
		CHECK(sk->key_desc->key_loc->key_family == 6 &&
		      sk->key_desc->key_loc->key_index == 0);
		CHECK(sk->key_desc->raw_key_bytes.len == 33 &&
		      memcmp(sk->key_desc->raw_key_bytes.data, pub, 33) == 0);
		CHECK(sk->ephemeral_pubkey.len == 33);
		watchonlyrpc__sign_coordinator_request__free_unpacked(m, NULL);
	}
	CHECK(cs_handle(k, &resp, &plen, e, sizeof(e), req, rlen) == CS_REPLY);
	CHECK(sv_proto_decode(&r, &err, resp, plen));
	CHECK(r.kind == SV_RESP_SHARED_KEY && r.ref_id == 10);
	{
		struct cn_nodekey *k2 = cn_nodekey_from_secret(two);
		uint8_t *req2, *resp2;
		size_t l2, p2;
		struct sv_resp r2;
		req2 = sv_proto_shared_key(&l2, 11, pub, NULL);
		CHECK(cs_handle(k2, &resp2, &p2, e, sizeof(e), req2, l2) == CS_REPLY);
		CHECK(sv_proto_decode(&r2, &err, resp2, p2));
		CHECK_MEM(r2.shared_key, r.shared_key, 32);
		free(req2);
		free(resp2);
		cn_nodekey_free(k2);
	}
	free(req);
	free(resp);

	/* ECDH naming another key: SignerError. */
	{
		uint8_t other[33];
		memcpy(other, point, 33);
		req = sv_proto_shared_key(&rlen, 12, point, other);
		CHECK(cs_handle(k, &resp, &plen, e, sizeof(e), req, rlen) == CS_REPLY);
		CHECK(sv_proto_decode(&r, &err, resp, plen));
		CHECK(r.kind == SV_RESP_SIGNER_ERROR);
		free(req);
		free(resp);
	}

	/* Key check: compact signature recovers our key. */
	sv_keycheck_challenge(challenge);
	CHECK(memcmp(challenge + 32, SV_CHALLENGE_TAG, SV_CHALLENGE_LEN - 32) == 0);
	req = sv_proto_sign_message(&rlen, 13, challenge, sizeof(challenge), true);
	CHECK(cs_handle(k, &resp, &plen, e, sizeof(e), req, rlen) == CS_REPLY);
	CHECK(sv_proto_decode(&r, &err, resp, plen));
	CHECK(r.kind == SV_RESP_SIGNATURE && r.sig_len == 65);
	{
		uint8_t got[33];
		CHECK(sv_keycheck_verify(got, &err, challenge, r.sig, r.sig_len));
		CHECK_MEM(got, pub, 33);
		/* A different challenge recovers some other key (or none). */
		challenge[0] ^= 1;
		CHECK(!sv_keycheck_verify(got, &err, challenge, r.sig, r.sig_len) ||
		      memcmp(got, pub, 33) != 0);
		challenge[0] ^= 1;
		/* Bad header, wrong length. */
		r.sig[0] = 26;
		CHECK(!sv_keycheck_verify(got, &err, challenge, r.sig, 65));
		CHECK(!sv_keycheck_verify(got, &err, challenge, r.sig, 64));
	}
	free(req);
	free(resp);

	/* Plain signature: 64 bytes, verifies over double SHA-256. */
	req = sv_proto_sign_message(&rlen, 14, (const uint8_t *)"hi", 2, false);
	CHECK(cs_handle(k, &resp, &plen, e, sizeof(e), req, rlen) == CS_REPLY);
	CHECK(sv_proto_decode(&r, &err, resp, plen));
	CHECK(r.kind == SV_RESP_SIGNATURE && r.sig_len == 64);
	free(req);
	free(resp);

	/* Registration answers. */
	req = sv_proto_registration_complete(&rlen, "coldnode");
	CHECK(cs_handle(k, &resp, &plen, e, sizeof(e), req, rlen) == CS_REGISTERED);
	CHECK(resp == NULL);
	free(req);
	req = sv_proto_registration_error(&rlen, "nope");
	CHECK(cs_handle(k, &resp, &plen, e, sizeof(e), req, rlen) == CS_REFUSED);
	CHECK(strstr(e, "nope") != NULL);
	free(req);
	cn_nodekey_free(k);
}

static void test_backoff(void)
{
	struct cs_backoff b;
	double d = 0;

	cs_backoff_reset(&b);
	CHECK(cs_backoff_next(&b) == 1.0);
	CHECK(cs_backoff_next(&b) == 1.5);
	CHECK(cs_backoff_next(&b) == 2.25);
	/* Transport failures: 0.1 s doubling to 2 s, independent of the
	 * registration backoff; a message from the node resets it. */
	cs_backoff_reset(&b);
	CHECK(cs_backoff_next_transport(&b) == 0.1);
	CHECK(cs_backoff_next_transport(&b) == 0.2);
	for (int i = 0; i < 10; i++)
		cs_backoff_next_transport(&b);
	CHECK(cs_backoff_next_transport(&b) == 2.0);
	CHECK(cs_backoff_next(&b) == 1.0);
	cs_backoff_heard(&b);
	CHECK(cs_backoff_next_transport(&b) == 0.1);
	for (int i = 0; i < 50; i++)
		d = cs_backoff_next(&b);
	CHECK(d == 60.0);
	cs_backoff_reset(&b);
	CHECK(cs_backoff_next(&b) == 1.0);
}

/* Issue 22: coldsigner's policy lets the supervisor's key check through
 * (the two modules agree on the challenge's shape). */
static void test_challenge_passes_policy(void)
{
	uint8_t challenge[SV_CHALLENGE_LEN], pub[33] = { 2 };
	struct cs_sign_ask a = { .msg = challenge, .len = SV_CHALLENGE_LEN,
				 .double_hash = true, .compact = true };
	const char *why;

	CHECK(strcmp(SV_CHALLENGE_TAG, CS_CHALLENGE_TAG) == 0);
	for (int i = 0; i < 16; i++) {
		sv_keycheck_challenge(challenge);
		CHECK(cs_policy_sign(&a, pub, &why) == CS_SIGN_KEYCHECK);
	}
}

int main(void)
{
	cn_crypto_init();
	test_registration();
	test_decode_bad();
	test_round_trip();
	test_backoff();
	test_challenge_passes_policy();
	return check_exit();
}
