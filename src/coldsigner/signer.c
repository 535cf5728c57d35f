/*~ coldsigner's pure core: one request in, one reply out.
 *
 * This is where the node key is used.  It signs only with the node key
 * (family 6, index 0): anything else gets a SignerError, so a confused or
 * compromised node cannot make it sign with keys it was never meant to.
 */
#include "coldsigner/coldsigner.h"

#include <secp256k1.h>
#include <sodium.h>
#include <stdarg.h>
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

/* lnd's signer wraps every refusal the same way (remote_signer_client.go,
 * formResponse): "error processing the request in the remote signer: "
 * followed by the signrpc server's own text. */
#define LND_ERR_PREFIX "error processing the request in the remote signer: "

static uint8_t *refuse(size_t *len, uint64_t id, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static uint8_t *refuse(size_t *len, uint64_t id, const char *fmt, ...)
{
	char text[256];
	size_t n = strlen(LND_ERR_PREFIX);
	va_list ap;

	memcpy(text, LND_ERR_PREFIX, n);
	va_start(ap, fmt);
	vsnprintf(text + n, sizeof(text) - n, fmt, ap);
	va_end(ap);
	return signer_error(len, id, text);
}

/* secp256k1's field prime p, big-endian. */
static const uint8_t field_p[32] = {
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xfe, 0xff, 0xff, 0xfc, 0x2f,
};

/* lnd's parseRawKeyBytes (signer_server.go) over btcec.ParsePubKey: empty
 * is "no key" (NULL error, *present false); 33 bytes must parse; any other
 * length is refused.  Writes btcec's text for a bad key into @buf. */
static const char *parse_raw_key(char *buf, size_t cap, bool *present,
				 const ProtobufCBinaryData *b)
{
	secp256k1_pubkey pk;

	*present = false;
	if (b->len == 0)
		return NULL;
	if (b->len != 33)
		return "pubkey must be serialized in compressed format if "
		       "specified";
	/* dcrd secp256k1 ParsePubKey, compressed case, in its order. */
	if (b->data[0] != 0x02 && b->data[0] != 0x03) {
		snprintf(buf, cap, "invalid public key: unsupported format: %x",
			 b->data[0]);
		return buf;
	}
	if (memcmp(b->data + 1, field_p, 32) >= 0)
		return "invalid public key: x >= field prime";
	if (!secp256k1_ec_pubkey_parse(cn_secp(), &pk, b->data, 33)) {
		int n = snprintf(buf, cap, "invalid public key: x coordinate ");
		for (int i = 1; i < 33 && n + 2 < (int)cap; i++, n += 2)
			snprintf(buf + n, cap - n, "%02x", b->data[i]);
		snprintf(buf + n, cap - n, " is not on the secp256k1 curve");
		return buf;
	}
	*present = true;
	return NULL;
}

/*
 * DeriveSharedKey with lnd's checks, in lnd's order (signer_server.go):
 * ephemeral key valid and present, key_desc xor key_loc, key_desc needs
 * key_desc.key_loc, raw_key_bytes only with index 0, raw key valid.  lnd
 * then derives the key by locator, or scans the family for the raw key;
 * coldsigner holds only the node key, so anything that does not name it
 * fails as lnd's keyring fails to find a key: "unable to derive private
 * key" (keychain.ErrCannotDerivePrivKey).
 */
/* What the policy needs while one request is handled. */
struct pol {
	enum cs_policy p;
	const char *refused; /* static reason, set when the policy refuses */
};

#define POLICY_REFUSAL "refused by coldsigner's policy: "

static uint8_t *shared_key(const struct cn_nodekey *k, struct pol *pol,
			   size_t *len, uint64_t id,
			   const Signrpc__SharedKeyRequest *r)
{
	Watchonlyrpc__SignCoordinatorResponse m =
		WATCHONLYRPC__SIGN_COORDINATOR_RESPONSE__INIT;
	Signrpc__SharedKeyResponse resp = SIGNRPC__SHARED_KEY_RESPONSE__INIT;
	static const Signrpc__KeyLocator node_loc = {
		.key_family = NODE_KEY_FAMILY, .key_index = NODE_KEY_INDEX
	};
	const Signrpc__KeyLocator *loc;
	const ProtobufCBinaryData *raw = NULL;
	uint8_t secret[32], pub[33];
	char why[160];
	const char *e;
	bool present;
	uint8_t *out;

	e = parse_raw_key(why, sizeof(why), &present, &r->ephemeral_pubkey);
	if (e)
		return refuse(len, id, "error in ephemeral pubkey: %s", e);
	if (!present)
		return refuse(len, id, "must provide ephemeral pubkey");
	/* "The caller either specifies the old key_loc field, or the new
	 * key_desc field, but not both." */
	if (r->key_desc && r->key_loc)
		return refuse(len, id, "use either key_desc or key_loc");
	if (r->key_desc && !r->key_desc->key_loc)
		return refuse(len, id, "when setting key_desc the field "
			      "key_desc.key_loc must also be set");
	loc = r->key_loc;
	if (r->key_desc) {
		loc = r->key_desc->key_loc;
		raw = &r->key_desc->raw_key_bytes;
	}
	/* "When no keyLoc is supplied, defaults to the node's identity
	 * private key." */
	if (!loc)
		loc = &node_loc;
	if (raw && raw->len && loc->key_index != 0)
		return refuse(len, id, "use either raw_key_bytes or key_index");
	if (raw) {
		e = parse_raw_key(why, sizeof(why), &present, raw);
		if (e)
			return refuse(len, id, "error in raw pubkey: %s", e);
	}
	cn_nodekey_pub(k, pub);
	/* lnd's keyring: with a raw key, scan the family for it; without,
	 * derive family/index.  Either way, only the node key is here. */
	if (loc->key_family != NODE_KEY_FAMILY ||
	    (raw && raw->len ? memcmp(raw->data, pub, 33) != 0
			     : loc->key_index != NODE_KEY_INDEX))
		return refuse(len, id, "unable to derive shared key: unable "
			      "to derive private key");
	/* lnd's checks above refuse a bad point already; the policy does
	 * not depend on them staying so. */
	if (pol->p == CS_POLICY_CHECK &&
	    !cs_policy_ecdh(r->ephemeral_pubkey.data, r->ephemeral_pubkey.len,
			    &pol->refused))
		return refuse(len, id, POLICY_REFUSAL "%s", pol->refused);
	if (!cn_nodekey_ecdh(k, secret, r->ephemeral_pubkey.data)) {
		sodium_memzero(secret, sizeof(secret));
		return refuse(len, id, "unable to derive shared key: ECDH "
			      "failed");
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

static bool has_prefix(const ProtobufCBinaryData *b, const char *p)
{
	size_t n = strlen(p);

	return b->len >= n && memcmp(b->data, p, n) == 0;
}

/*
 * SignMessage with lnd's checks, in lnd's order (signer_server.go).  Go
 * decodes an empty proto3 bytes field as nil, hence "msg.len == 0" for
 * "in.Msg == nil".
 */
static uint8_t *sign_message(const struct cn_nodekey *k, struct pol *pol,
			     size_t *len, uint64_t id,
			     const Signrpc__SignMessageReq *r)
{
	Watchonlyrpc__SignCoordinatorResponse m =
		WATCHONLYRPC__SIGN_COORDINATOR_RESPONSE__INIT;
	Signrpc__SignMessageResp resp = SIGNRPC__SIGN_MESSAGE_RESP__INIT;
	uint8_t sig[65];
	bool ok;

	if (r->msg.len == 0)
		return refuse(len, id, "a message to sign MUST be passed in");
	if (!r->key_loc)
		return refuse(len, id, "a key locator MUST be passed in");
	if (r->schnorr_sig && r->compact_sig)
		return refuse(len, id, "compact format can not be used for "
			      "Schnorr signatures");
	if (!r->schnorr_sig && r->tag.len > 0)
		return refuse(len, id, "tag can only be used when the Schnorr "
			      "signature option is set");
	if (has_prefix(&r->tag, "BIP0340"))
		return refuse(len, id, "tag cannot have BIP0340 prefix");
	if (has_prefix(&r->tag, "TapSighash"))
		return refuse(len, id, "tag cannot be TapSighash");
	if (r->double_hash && r->tag.len > 0)
		return refuse(len, id, "double hash and tag can't be set at "
			      "the same time");
	/* lnd's keyring derives any family/index; only the node key is
	 * here. */
	if (!is_node_key(r->key_loc))
		return refuse(len, id, "can't sign the hash: unable to derive "
			      "private key");
	/* lnd would sign now; coldsigner signs only what it can check. */
	if (pol->p == CS_POLICY_CHECK) {
		struct cs_sign_ask a = {
			.msg = r->msg.data,
			.len = r->msg.len,
			.double_hash = r->double_hash,
			.compact = r->compact_sig,
			.schnorr = r->schnorr_sig,
			.tag_len = r->tag.len,
			.tweak_len = r->schnorr_sig_tap_tweak.len,
		};
		uint8_t pub[33];
		cn_nodekey_pub(k, pub);
		if (cs_policy_sign(&a, pub, &pol->refused) == CS_SIGN_REFUSED)
			return refuse(len, id, POLICY_REFUSAL "%s",
				      pol->refused);
	}
	/* compact_sig: btcec's recoverable 65-byte form; schnorr_sig:
	 * BIP 340 over lnd's digest (tagged hash with a tag, else single or
	 * double SHA-256), key tweaked by schnorr_sig_tap_tweak; else the
	 * 64-byte LN wire format. */
	if (r->schnorr_sig) {
		uint8_t digest[32];
		if (r->tag.len) {
			uint8_t th[32];
			crypto_hash_sha256_state st;
			crypto_hash_sha256(th, r->tag.data, r->tag.len);
			crypto_hash_sha256_init(&st);
			crypto_hash_sha256_update(&st, th, 32);
			crypto_hash_sha256_update(&st, th, 32);
			crypto_hash_sha256_update(&st, r->msg.data, r->msg.len);
			crypto_hash_sha256_final(&st, digest);
		} else {
			crypto_hash_sha256(digest, r->msg.data, r->msg.len);
			if (r->double_hash)
				crypto_hash_sha256(digest, digest, 32);
		}
		ok = cn_nodekey_sign_schnorr(k, sig, digest,
					     r->schnorr_sig_tap_tweak.data,
					     r->schnorr_sig_tap_tweak.len);
		resp.signature.len = 64;
	} else if (r->compact_sig) {
		ok = cn_nodekey_sign_recoverable(k, sig, r->msg.data,
						 r->msg.len, r->double_hash);
		resp.signature.len = 65;
	} else {
		ok = cn_nodekey_sign(k, sig, r->msg.data, r->msg.len,
				     r->double_hash);
		resp.signature.len = 64;
	}
	if (!ok)
		return refuse(len, id, "can't sign the hash: signing failed");
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
	const char *refused;

	return cs_handle_policy(k, CS_POLICY_NONE, &refused, out, outlen, err,
				errlen, req, len);
}

enum cs_verdict cs_handle_policy(const struct cn_nodekey *k,
				 enum cs_policy policy, const char **refused,
				 uint8_t **out, size_t *outlen, char *err,
				 size_t errlen, const uint8_t *req, size_t len)
{
	Watchonlyrpc__SignCoordinatorRequest *m;
	enum cs_verdict v = CS_REPLY;
	struct pol pol = { .p = policy };
	int c;

	*refused = NULL;
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
		/* lnd's signer, after sending its registration. */
		if (m->request_id != 1) {
			snprintf(err, errlen, "initial response request id "
				 "must be 1, but is: %llu",
				 (unsigned long long)m->request_id);
			v = CS_REFUSED;
		} else if (rr->registration_response_type_case ==
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
		*out = shared_key(k, &pol, outlen, m->request_id,
				  m->shared_key_request);
	} else if (c == WATCHONLYRPC__SIGN_COORDINATOR_REQUEST__SIGN_REQUEST_TYPE_SIGN_MESSAGE_REQ) {
		*out = sign_message(k, &pol, outlen, m->request_id,
				    m->sign_message_req);
	} else {
		/* lnd's signer: ErrRequestType, through formResponse. */
		*out = refuse(outlen, m->request_id, "%s",
			      "unimplemented request by watch-only node");
	}
	watchonlyrpc__sign_coordinator_request__free_unpacked(m, NULL);
	*refused = pol.refused;
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

bool cs_peek(struct cs_meta *out, const uint8_t *req, size_t len)
{
	Watchonlyrpc__SignCoordinatorRequest *m =
		watchonlyrpc__sign_coordinator_request__unpack(NULL, len, req);

	memset(out, 0, sizeof(*out));
	if (!m)
		return false;
	out->request_id = m->request_id;
	out->token = m->coldnode_fencing_token;
	out->registration = m->sign_request_type_case ==
		WATCHONLYRPC__SIGN_COORDINATOR_REQUEST__SIGN_REQUEST_TYPE_REGISTRATION_RESPONSE;
	watchonlyrpc__sign_coordinator_request__free_unpacked(m, NULL);
	return true;
}

enum cs_fence cs_fence_check(uint64_t *highest, uint64_t token)
{
	if (token > *highest) {
		*highest = token;
		return CS_FENCE_NEWER;
	}
	return token == *highest ? CS_FENCE_OK : CS_FENCE_STALE;
}

uint8_t *cs_fence_refusal(size_t *len, uint64_t id, uint64_t token,
			  uint64_t highest)
{
	return refuse(len, id, "fencing token %llu is lower than %llu: a "
		      "newer cluster leader exists", (unsigned long long)token,
		      (unsigned long long)highest);
}

bool cs_leader_hint(char *out, size_t cap, const char *err)
{
	const char *p = strstr(err, "the leader is ");
	const char *at;
	size_t n;

	if (!p || !(at = strstr(p, " at ")))
		return false;
	at += 4;
	n = strcspn(at, " ;,\n");
	if (!n || n >= cap || (n == 1 && *at == '?'))
		return false;
	memcpy(out, at, n);
	out[n] = '\0';
	return true;
}
