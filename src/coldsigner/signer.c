/*~ coldsigner's pure core: one request in, one reply out.
 *
 * This is where the node key is used.  It signs only with the node key
 * (family 6, index 0): anything else gets a SignerError, so a confused or
 * compromised node cannot make it sign with keys it was never meant to.
 */
#include "coldsigner/coldsigner.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "watchonly.pb-c.h"

#define NODE_KEY_FAMILY 6
#define NODE_KEY_INDEX 0

static uint8_t *pack(size_t *len, const Watchonlyrpc__SignCoordinatorResponse *m)
{
	size_t n = watchonlyrpc__sign_coordinator_response__get_packed_size(m);
	uint8_t *out = malloc(n + 1);

	if (!out)
		abort();
	*len = watchonlyrpc__sign_coordinator_response__pack(m, out);
	return out;
}

uint8_t *cs_registration(size_t *len)
{
	Watchonlyrpc__SignCoordinatorResponse m =
		WATCHONLYRPC__SIGN_COORDINATOR_RESPONSE__INIT;
	Watchonlyrpc__SignerRegistration reg =
		WATCHONLYRPC__SIGNER_REGISTRATION__INIT;
	static const char challenge[] = "registrationChallenge";

	reg.registration_challenge.data = (uint8_t *)challenge;
	reg.registration_challenge.len = sizeof(challenge) - 1;
	reg.registration_info = (char *)"outboundSigner";
	m.ref_request_id = 1;
	m.sign_response_type_case =
		WATCHONLYRPC__SIGN_COORDINATOR_RESPONSE__SIGN_RESPONSE_TYPE_SIGNER_REGISTRATION;
	m.signer_registration = &reg;
	return pack(len, &m);
}

static uint8_t *signer_error(size_t *len, uint64_t id, const char *text)
{
	Watchonlyrpc__SignCoordinatorResponse m =
		WATCHONLYRPC__SIGN_COORDINATOR_RESPONSE__INIT;
	Watchonlyrpc__SignerError e = WATCHONLYRPC__SIGNER_ERROR__INIT;

	e.error = (char *)text;
	m.ref_request_id = id;
	m.sign_response_type_case =
		WATCHONLYRPC__SIGN_COORDINATOR_RESPONSE__SIGN_RESPONSE_TYPE_SIGNER_ERROR;
	m.signer_error = &e;
	return pack(len, &m);
}

static bool is_node_key(const Signrpc__KeyLocator *kl)
{
	return kl->key_family == NODE_KEY_FAMILY &&
	       kl->key_index == NODE_KEY_INDEX;
}

/* DeriveSharedKey: lnd picks key_desc, else the deprecated key_loc, else
 * the node key. */
static uint8_t *shared_key(const struct cn_nodekey *k, size_t *len,
			   uint64_t id, const Signrpc__SharedKeyRequest *r)
{
	Watchonlyrpc__SignCoordinatorResponse m =
		WATCHONLYRPC__SIGN_COORDINATOR_RESPONSE__INIT;
	Signrpc__SharedKeyResponse resp = SIGNRPC__SHARED_KEY_RESPONSE__INIT;
	uint8_t secret[32], pub[33];
	uint8_t *out;

	if (r->key_desc) {
		const Signrpc__KeyDescriptor *kd = r->key_desc;
		cn_nodekey_pub(k, pub);
		if (kd->raw_key_bytes.len &&
		    (kd->raw_key_bytes.len != 33 ||
		     memcmp(kd->raw_key_bytes.data, pub, 33) != 0))
			return signer_error(len, id, "unknown raw key: coldsigner "
					    "only holds the node key");
		if (kd->key_loc && !is_node_key(kd->key_loc))
			return signer_error(len, id, "coldsigner only holds the "
					    "node key (family 6, index 0)");
	} else if (r->key_loc && !is_node_key(r->key_loc)) {
		return signer_error(len, id, "coldsigner only holds the node "
				    "key (family 6, index 0)");
	}
	if (r->ephemeral_pubkey.len != 33 ||
	    !cn_nodekey_ecdh(k, secret, r->ephemeral_pubkey.data)) {
		sodium_memzero(secret, sizeof(secret));
		return signer_error(len, id, "invalid ephemeral pubkey");
	}
	resp.shared_key.data = secret;
	resp.shared_key.len = sizeof(secret);
	m.ref_request_id = id;
	m.sign_response_type_case =
		WATCHONLYRPC__SIGN_COORDINATOR_RESPONSE__SIGN_RESPONSE_TYPE_SHARED_KEY_RESPONSE;
	m.shared_key_response = &resp;
	out = pack(len, &m);
	sodium_memzero(secret, sizeof(secret));
	return out;
}

static uint8_t *sign_message(const struct cn_nodekey *k, size_t *len,
			     uint64_t id, const Signrpc__SignMessageReq *r)
{
	Watchonlyrpc__SignCoordinatorResponse m =
		WATCHONLYRPC__SIGN_COORDINATOR_RESPONSE__INIT;
	Signrpc__SignMessageResp resp = SIGNRPC__SIGN_MESSAGE_RESP__INIT;
	uint8_t sig[65];
	bool ok;

	/* lnd: "a key locator MUST be passed in". */
	if (!r->key_loc)
		return signer_error(len, id, "a key locator MUST be passed in");
	if (!is_node_key(r->key_loc))
		return signer_error(len, id, "coldsigner only holds the node "
				    "key (family 6, index 0)");
	if (r->schnorr_sig)
		return signer_error(len, id, "schnorr signatures are not "
				    "supported by coldsigner");
	/* compact_sig: btcec's recoverable 65-byte form; else the 64-byte
	 * LN wire format. */
	if (r->compact_sig) {
		ok = cn_nodekey_sign_recoverable(k, sig, r->msg.data,
						 r->msg.len, r->double_hash);
		resp.signature.len = 65;
	} else {
		ok = cn_nodekey_sign(k, sig, r->msg.data, r->msg.len,
				     r->double_hash);
		resp.signature.len = 64;
	}
	if (!ok)
		return signer_error(len, id, "signing failed");
	resp.signature.data = sig;
	m.ref_request_id = id;
	m.sign_response_type_case =
		WATCHONLYRPC__SIGN_COORDINATOR_RESPONSE__SIGN_RESPONSE_TYPE_SIGN_MESSAGE_RESP;
	m.sign_message_resp = &resp;
	return pack(len, &m);
}

static uint8_t *pong(size_t *len, uint64_t id)
{
	Watchonlyrpc__SignCoordinatorResponse m =
		WATCHONLYRPC__SIGN_COORDINATOR_RESPONSE__INIT;

	m.ref_request_id = id;
	m.sign_response_type_case =
		WATCHONLYRPC__SIGN_COORDINATOR_RESPONSE__SIGN_RESPONSE_TYPE_PONG;
	m.pong = true;
	return pack(len, &m);
}

enum cs_verdict cs_handle(const struct cn_nodekey *k, uint8_t **out,
			  size_t *outlen, char *err, size_t errlen,
			  const uint8_t *req, size_t len)
{
	Watchonlyrpc__SignCoordinatorRequest *m;
	enum cs_verdict v = CS_REPLY;
	int c;

	*out = NULL;
	*outlen = 0;
	if (errlen)
		err[0] = '\0';
	m = watchonlyrpc__sign_coordinator_request__unpack(NULL, len, req);
	if (!m) {
		snprintf(err, errlen, "malformed SignCoordinatorRequest");
		return CS_BAD;
	}
	c = m->sign_request_type_case;
	if (c == WATCHONLYRPC__SIGN_COORDINATOR_REQUEST__SIGN_REQUEST_TYPE_REGISTRATION_RESPONSE) {
		const Watchonlyrpc__RegistrationResponse *rr =
			m->registration_response;
		if (rr->registration_response_type_case ==
		    WATCHONLYRPC__REGISTRATION_RESPONSE__REGISTRATION_RESPONSE_TYPE_REGISTRATION_COMPLETE) {
			v = CS_REGISTERED;
		} else {
			snprintf(err, errlen, "registration refused: %s",
				 rr->registration_response_type_case ==
						 WATCHONLYRPC__REGISTRATION_RESPONSE__REGISTRATION_RESPONSE_TYPE_REGISTRATION_ERROR
					 ? rr->registration_error
					 : "no reason given");
			v = CS_REFUSED;
		}
	} else if (c == WATCHONLYRPC__SIGN_COORDINATOR_REQUEST__SIGN_REQUEST_TYPE_PING) {
		*out = pong(outlen, m->request_id);
	} else if (c == WATCHONLYRPC__SIGN_COORDINATOR_REQUEST__SIGN_REQUEST_TYPE_SHARED_KEY_REQUEST) {
		*out = shared_key(k, outlen, m->request_id,
				  m->shared_key_request);
	} else if (c == WATCHONLYRPC__SIGN_COORDINATOR_REQUEST__SIGN_REQUEST_TYPE_SIGN_MESSAGE_REQ) {
		*out = sign_message(k, outlen, m->request_id,
				    m->sign_message_req);
	} else {
		/* lnd's signer: ErrRequestType. */
		*out = signer_error(outlen, m->request_id,
				    "unimplemented request by watch-only node");
	}
	watchonlyrpc__sign_coordinator_request__free_unpacked(m, NULL);
	return v;
}

void cs_backoff_reset(struct cs_backoff *b)
{
	b->next = 1.0;
	b->transport_next = 0.1;
}

double cs_backoff_next_transport(struct cs_backoff *b)
{
	double now = b->transport_next;

	b->transport_next *= 2;
	if (b->transport_next > 2.0)
		b->transport_next = 2.0;
	return now;
}

void cs_backoff_heard(struct cs_backoff *b)
{
	b->transport_next = 0.1;
}

double cs_backoff_next(struct cs_backoff *b)
{
	double now = b->next;

	b->next *= 1.5;
	if (b->next > 60.0)
		b->next = 60.0;
	return now;
}
