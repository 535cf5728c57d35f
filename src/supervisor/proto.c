/*~ The signer stream's messages, as pure encode/decode functions.
 *
 * The node sends SignCoordinatorRequest and reads SignCoordinatorResponse
 * (lnd's watchonlyrpc; the signer is the gRPC client).  Everything the
 * signer says goes through sv_proto_decode, which copies the few fields we
 * use into a fixed struct and checks their sizes, so nothing past this file
 * ever sees protobuf-c memory or an unchecked length.  This is what the
 * fuzz target hits.
 */
#include "supervisor/supervisor.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "signerproxy.pb-c.h"
#include "watchonly.pb-c.h"

/* Copy a peer's string for logs: printable ASCII only, bounded. */
static void copy_text(char *dst, size_t cap, const char *src)
{
	size_t i;

	for (i = 0; src && src[i] && i + 1 < cap; i++) {
		unsigned char c = (unsigned char)src[i];
		dst[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	dst[i] = '\0';
}

bool sv_proto_decode(struct sv_resp *out, const char **err,
		     const uint8_t *buf, size_t len)
{
	Watchonlyrpc__SignCoordinatorResponse *m;
	bool ok = true;
	int c;

	memset(out, 0, sizeof(*out));
	out->kind = SV_RESP_UNKNOWN;
	*err = NULL;
	if (len > SV_MAX_MSG) {
		*err = "message too large";
		return false;
	}
	m = watchonlyrpc__sign_coordinator_response__unpack(NULL, len, buf);
	if (!m) {
		*err = "malformed SignCoordinatorResponse";
		return false;
	}
	out->ref_id = m->ref_request_id;
	/* Generated enums carry an INT_SIZE sentinel, so no switch here. */
	c = m->sign_response_type_case;
	if (c == WATCHONLYRPC__SIGN_COORDINATOR_RESPONSE__SIGN_RESPONSE_TYPE_SIGNER_REGISTRATION) {
		out->kind = SV_RESP_REGISTRATION;
		copy_text(out->text, sizeof(out->text),
			  m->signer_registration->registration_info);
		out->challenge_len =
			m->signer_registration->registration_challenge.len;
	} else if (c == WATCHONLYRPC__SIGN_COORDINATOR_RESPONSE__SIGN_RESPONSE_TYPE_PONG) {
		out->kind = SV_RESP_PONG;
		out->pong = m->pong;
	} else if (c == WATCHONLYRPC__SIGN_COORDINATOR_RESPONSE__SIGN_RESPONSE_TYPE_SHARED_KEY_RESPONSE) {
		const ProtobufCBinaryData *k =
			&m->shared_key_response->shared_key;
		out->kind = SV_RESP_SHARED_KEY;
		if (k->len != sizeof(out->shared_key)) {
			*err = "shared key must be 32 bytes";
			ok = false;
		} else {
			memcpy(out->shared_key, k->data, k->len);
		}
		/* Wipe protobuf-c's copy of the ECDH result. */
		if (k->data && k->len)
			sodium_memzero(k->data, k->len);
	} else if (c == WATCHONLYRPC__SIGN_COORDINATOR_RESPONSE__SIGN_RESPONSE_TYPE_SIGN_MESSAGE_RESP) {
		const ProtobufCBinaryData *s = &m->sign_message_resp->signature;
		out->kind = SV_RESP_SIGNATURE;
		if (s->len != 64 && s->len != 65) {
			*err = "signature must be 64 or 65 bytes";
			ok = false;
		} else {
			memcpy(out->sig, s->data, s->len);
			out->sig_len = s->len;
		}
	} else if (c == WATCHONLYRPC__SIGN_COORDINATOR_RESPONSE__SIGN_RESPONSE_TYPE_SIGNER_ERROR) {
		out->kind = SV_RESP_SIGNER_ERROR;
		copy_text(out->text, sizeof(out->text),
			  m->signer_error->error);
	}
	/* Anything else (a MuSig2 or PSBT answer we never asked for, or no
	 * member at all) stays SV_RESP_UNKNOWN: it is the caller's to
	 * refuse, with lnd's "unexpected response type". */
	watchonlyrpc__sign_coordinator_response__free_unpacked(m, NULL);
	return ok;
}

/* What Go's %T prints for the oneof wrapper, as in lnd's error text. */
static const char *go_type_name(enum sv_resp_kind kind)
{
	switch (kind) {
	case SV_RESP_REGISTRATION:
		return "*watchonlyrpc.SignCoordinatorResponse_SignerRegistration";
	case SV_RESP_PONG:
		return "*watchonlyrpc.SignCoordinatorResponse_Pong";
	case SV_RESP_SHARED_KEY:
		return "*watchonlyrpc.SignCoordinatorResponse_SharedKeyResponse";
	case SV_RESP_SIGNATURE:
		return "*watchonlyrpc.SignCoordinatorResponse_SignMessageResp";
	case SV_RESP_SIGNER_ERROR:
		return "*watchonlyrpc.SignCoordinatorResponse_SignerError";
	case SV_RESP_UNKNOWN:
		return "<nil>";
	}
	return "<nil>";
}

const char *sv_proto_check_registration(char *buf, size_t buflen,
					const struct sv_resp *r)
{
	/* lnd: the first message must answer handshakeRequestID = 1. */
	if (r->ref_id != SV_REGISTRATION_ID) {
		snprintf(buf, buflen, "initial request ID must be 1, but is: %llu",
			 (unsigned long long)r->ref_id);
		return buf;
	}
	if (r->kind != SV_RESP_REGISTRATION) {
		snprintf(buf, buflen, "expected registration message, but got: %s",
			 go_type_name(r->kind));
		return buf;
	}
	if (r->text[0] == '\0') {
		snprintf(buf, buflen, "invalid remote signer registration info");
		return buf;
	}
	return NULL;
}

static uint8_t *pack(size_t *len, const Watchonlyrpc__SignCoordinatorRequest *m)
{
	size_t n = watchonlyrpc__sign_coordinator_request__get_packed_size(m);
	/* +1: a zero-length message must still be a valid pointer. */
	uint8_t *out = malloc(n + 1);

	if (!out)
		return NULL;
	*len = watchonlyrpc__sign_coordinator_request__pack(m, out);
	return out;
}

uint8_t *sv_proto_registration_complete(size_t *len, const char *info)
{
	Watchonlyrpc__SignCoordinatorRequest m =
		WATCHONLYRPC__SIGN_COORDINATOR_REQUEST__INIT;
	Watchonlyrpc__RegistrationResponse rr =
		WATCHONLYRPC__REGISTRATION_RESPONSE__INIT;
	Watchonlyrpc__RegistrationComplete rc =
		WATCHONLYRPC__REGISTRATION_COMPLETE__INIT;

	/* lnd leaves the signature empty: "signing the challenge is not
	 * done yet".  We check the key with our own request instead. */
	rc.registration_info = (char *)info;
	rr.registration_response_type_case =
		WATCHONLYRPC__REGISTRATION_RESPONSE__REGISTRATION_RESPONSE_TYPE_REGISTRATION_COMPLETE;
	rr.registration_complete = &rc;
	m.request_id = SV_REGISTRATION_ID;
	m.sign_request_type_case =
		WATCHONLYRPC__SIGN_COORDINATOR_REQUEST__SIGN_REQUEST_TYPE_REGISTRATION_RESPONSE;
	m.registration_response = &rr;
	return pack(len, &m);
}

uint8_t *sv_proto_registration_error(size_t *len, const char *error)
{
	Watchonlyrpc__SignCoordinatorRequest m =
		WATCHONLYRPC__SIGN_COORDINATOR_REQUEST__INIT;
	Watchonlyrpc__RegistrationResponse rr =
		WATCHONLYRPC__REGISTRATION_RESPONSE__INIT;

	rr.registration_response_type_case =
		WATCHONLYRPC__REGISTRATION_RESPONSE__REGISTRATION_RESPONSE_TYPE_REGISTRATION_ERROR;
	rr.registration_error = (char *)error;
	m.request_id = SV_REGISTRATION_ID;
	m.sign_request_type_case =
		WATCHONLYRPC__SIGN_COORDINATOR_REQUEST__SIGN_REQUEST_TYPE_REGISTRATION_RESPONSE;
	m.registration_response = &rr;
	return pack(len, &m);
}

uint8_t *sv_proto_ping(size_t *len, uint64_t id)
{
	Watchonlyrpc__SignCoordinatorRequest m =
		WATCHONLYRPC__SIGN_COORDINATOR_REQUEST__INIT;

	m.request_id = id;
	m.sign_request_type_case =
		WATCHONLYRPC__SIGN_COORDINATOR_REQUEST__SIGN_REQUEST_TYPE_PING;
	m.ping = true;
	return pack(len, &m);
}

uint8_t *sv_proto_shared_key(size_t *len, uint64_t id,
			     const uint8_t point[33], const uint8_t *node_pub)
{
	Watchonlyrpc__SignCoordinatorRequest m =
		WATCHONLYRPC__SIGN_COORDINATOR_REQUEST__INIT;
	Signrpc__SharedKeyRequest sk = SIGNRPC__SHARED_KEY_REQUEST__INIT;
	Signrpc__KeyDescriptor kd = SIGNRPC__KEY_DESCRIPTOR__INIT;
	Signrpc__KeyLocator kl = SIGNRPC__KEY_LOCATOR__INIT;

	kl.key_family = SV_NODE_KEY_FAMILY;
	kl.key_index = SV_NODE_KEY_INDEX;
	kd.key_loc = &kl;
	/* rpcwallet.go: "if keyDesc.Index == 0 && keyDesc.PubKey != nil"
	 * then RawKeyBytes; our index is always 0. */
	if (node_pub) {
		kd.raw_key_bytes.data = (uint8_t *)node_pub;
		kd.raw_key_bytes.len = 33;
	}
	sk.ephemeral_pubkey.data = (uint8_t *)point;
	sk.ephemeral_pubkey.len = 33;
	/* key_desc only, never the deprecated key_loc too: lnd's signer
	 * refuses "use either key_desc or key_loc" (signer_server.go
	 * DeriveSharedKey), and lnd's own RPCKeyRing.ECDH sends key_desc
	 * alone. */
	sk.key_desc = &kd;
	m.request_id = id;
	m.sign_request_type_case =
		WATCHONLYRPC__SIGN_COORDINATOR_REQUEST__SIGN_REQUEST_TYPE_SHARED_KEY_REQUEST;
	m.shared_key_request = &sk;
	return pack(len, &m);
}

uint8_t *sv_proto_sign_message(size_t *len, uint64_t id,
			       const uint8_t *msg, size_t msglen,
			       bool compact)
{
	Watchonlyrpc__SignCoordinatorRequest m =
		WATCHONLYRPC__SIGN_COORDINATOR_REQUEST__INIT;
	Signrpc__SignMessageReq sm = SIGNRPC__SIGN_MESSAGE_REQ__INIT;
	Signrpc__KeyLocator kl = SIGNRPC__KEY_LOCATOR__INIT;

	kl.key_family = SV_NODE_KEY_FAMILY;
	kl.key_index = SV_NODE_KEY_INDEX;
	sm.msg.data = (uint8_t *)msg;
	sm.msg.len = msglen;
	sm.key_loc = &kl;
	/* As netann signs gossip through RPCKeyRing.SignMessage: double
	 * SHA-256, 64-byte wire signature.  compact_sig as
	 * RPCKeyRing.SignMessageCompact sets it (node key only).  Never
	 * schnorr_sig, tweak or tag. */
	sm.double_hash = true;
	sm.compact_sig = compact;
	m.request_id = id;
	m.sign_request_type_case =
		WATCHONLYRPC__SIGN_COORDINATOR_REQUEST__SIGN_REQUEST_TYPE_SIGN_MESSAGE_REQ;
	m.sign_message_req = &sm;
	return pack(len, &m);
}

/* ---- forwarded requests (proto/signerproxy.proto) ----------------------- */

/* The view's oneof members are found by field number through protobuf-c's
 * descriptor (offset of the member, and of the oneof's case), so one
 * function serves all ten without a table of our own. */
uint8_t *sv_proto_forward(size_t *len, uint64_t id, unsigned field,
			  const uint8_t *body, size_t blen)
{
	Coldnode__Signerproxy__ForwardRequest m;
	const ProtobufCFieldDescriptor *fd;
	ProtobufCBinaryData *member;
	uint8_t *out;
	size_t n;

	if (field < SV_FWD_FIELD_MIN || field > SV_FWD_FIELD_MAX)
		abort();
	fd = protobuf_c_message_descriptor_get_field(
		&coldnode__signerproxy__forward_request__descriptor, field);
	if (!fd || fd->type != PROTOBUF_C_TYPE_BYTES)
		abort();
	/* The _init function: the INIT macro's oneof braces warn. */
	coldnode__signerproxy__forward_request__init(&m);
	m.request_id = id;
	member = (ProtobufCBinaryData *)((char *)&m + fd->offset);
	member->data = (uint8_t *)body;
	member->len = blen;
	*(uint32_t *)((char *)&m + fd->quantifier_offset) = field;
	n = coldnode__signerproxy__forward_request__get_packed_size(&m);
	out = malloc(n + 1);
	if (!out)
		return NULL;
	*len = coldnode__signerproxy__forward_request__pack(&m, out);
	return out;
}

bool sv_proto_decode_forward(struct sv_fwd_resp *out, const uint8_t *buf,
			     size_t len)
{
	Coldnode__Signerproxy__ForwardResponse *m;
	const ProtobufCFieldDescriptor *fd;
	unsigned c;

	memset(out, 0, sizeof(*out));
	if (len > SV_MAX_FORWARD_MSG)
		return false;
	m = coldnode__signerproxy__forward_response__unpack(NULL, len, buf);
	if (!m)
		return false;
	out->unpacked = m;
	out->ref_id = m->ref_request_id;
	c = (unsigned)m->sign_response_type_case;
	out->field = c;
	if (c == COLDNODE__SIGNERPROXY__FORWARD_RESPONSE__SIGN_RESPONSE_TYPE_SIGNER_ERROR) {
		char *e = m->signer_error->error;
		size_t i;
		/* Printable and bounded: it goes into a grpc-message and a
		 * log line. */
		for (i = 0; e && e[i] && i < 1023; i++)
			if ((unsigned char)e[i] < 0x20 ||
			    (unsigned char)e[i] >= 0x7f)
				e[i] = '?';
		/* Truncate only: an empty text is protobuf-c's read-only
		 * default string (found by fuzz_signerproxy_forward). */
		if (e && e[i])
			e[i] = '\0';
		out->error = e ? e : "";
	} else if (c >= SV_FWD_FIELD_MIN && c <= SV_FWD_FIELD_MAX) {
		const ProtobufCBinaryData *b;
		fd = protobuf_c_message_descriptor_get_field(
			&coldnode__signerproxy__forward_response__descriptor,
			c);
		b = (const ProtobufCBinaryData *)((const char *)m +
						  fd->offset);
		out->body = b->data;
		out->len = b->len;
	}
	return true;
}

void sv_proto_fwd_resp_clear(struct sv_fwd_resp *r)
{
	if (r->unpacked) {
		Coldnode__Signerproxy__ForwardResponse *m = r->unpacked;
		/* A shared key answer holds an ECDH result. */
		if (r->body && r->len)
			sodium_memzero((uint8_t *)r->body, r->len);
		coldnode__signerproxy__forward_response__free_unpacked(m,
								       NULL);
	}
	memset(r, 0, sizeof(*r));
}
