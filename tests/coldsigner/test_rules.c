/* coldsigner refuses what lnd's signer refuses, with lnd's texts
 * (lnrpc/signrpc/signer_server.go DeriveSharedKey and SignMessage, wrapped by
 * lnwallet/rpcwallet/remote_signer_client.go formResponse), and serves the
 * requests lnd's watch-only node sends. */
#include "coldsigner/coldsigner.h"

#include <secp256k1.h>
#include <secp256k1_extrakeys.h>
#include <secp256k1_schnorrsig.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "common/common.h"
#include "watchonly.pb-c.h"

#define PFX "error processing the request in the remote signer: "

#define KIND(x) WATCHONLYRPC__SIGN_COORDINATOR_RESPONSE__SIGN_RESPONSE_TYPE_##x

static struct cn_nodekey *key;
static uint8_t node_pub[33];
static uint8_t point[33]; /* 2G: a valid ephemeral key */

/* The reply to one request: *kind is the response oneof case; the signer
 * error text or the payload bytes are copied out. */
struct reply {
	int kind;
	uint64_t ref;
	char text[300];
	uint8_t data[65];
	size_t len;
};

static enum cs_verdict run(struct reply *rep,
			   const Watchonlyrpc__SignCoordinatorRequest *m)
{
	size_t n = watchonlyrpc__sign_coordinator_request__get_packed_size(m);
	uint8_t *buf = malloc(n + 1), *out;
	size_t outlen;
	char err[200];
	enum cs_verdict v;

	n = watchonlyrpc__sign_coordinator_request__pack(m, buf);
	v = cs_handle(key, &out, &outlen, err, sizeof(err), buf, n);
	free(buf);
	memset(rep, 0, sizeof(*rep));
	if (v != CS_REPLY) {
		snprintf(rep->text, sizeof(rep->text), "%s", err);
		return v;
	}
	{
		Watchonlyrpc__SignCoordinatorResponse *r =
			watchonlyrpc__sign_coordinator_response__unpack(
				NULL, outlen, out);
		CHECK(r != NULL);
		rep->kind = r->sign_response_type_case;
		rep->ref = r->ref_request_id;
		/* The oneof members share a union: go by the case. */
		if (rep->kind == KIND(SIGNER_ERROR))
			snprintf(rep->text, sizeof(rep->text), "%s",
				 r->signer_error->error);
		if (rep->kind == KIND(SHARED_KEY_RESPONSE)) {
			rep->len = r->shared_key_response->shared_key.len;
			memcpy(rep->data, r->shared_key_response->shared_key.data,
			       rep->len <= 65 ? rep->len : 65);
		}
		if (rep->kind == KIND(SIGN_MESSAGE_RESP)) {
			rep->len = r->sign_message_resp->signature.len;
			memcpy(rep->data, r->sign_message_resp->signature.data,
			       rep->len <= 65 ? rep->len : 65);
		}
		watchonlyrpc__sign_coordinator_response__free_unpacked(r, NULL);
	}
	free(out);
	return v;
}

/* ---- DeriveSharedKey ---- */

struct skr {
	const uint8_t *eph;
	size_t eph_len;
	bool top_loc;          /* the deprecated key_loc */
	int top_fam, top_idx;
	bool desc;             /* key_desc present */
	bool desc_loc;         /* key_desc.key_loc present */
	int fam, idx;
	const uint8_t *raw;
	size_t raw_len;
};

static void ecdh(struct reply *rep, const struct skr *q)
{
	Watchonlyrpc__SignCoordinatorRequest m =
		WATCHONLYRPC__SIGN_COORDINATOR_REQUEST__INIT;
	Signrpc__SharedKeyRequest sk = SIGNRPC__SHARED_KEY_REQUEST__INIT;
	Signrpc__KeyDescriptor kd = SIGNRPC__KEY_DESCRIPTOR__INIT;
	Signrpc__KeyLocator kl = SIGNRPC__KEY_LOCATOR__INIT;
	Signrpc__KeyLocator top = SIGNRPC__KEY_LOCATOR__INIT;

	sk.ephemeral_pubkey.data = (uint8_t *)q->eph;
	sk.ephemeral_pubkey.len = q->eph_len;
	if (q->top_loc) {
		top.key_family = q->top_fam;
		top.key_index = q->top_idx;
		sk.key_loc = &top;
	}
	if (q->desc) {
		if (q->desc_loc) {
			kl.key_family = q->fam;
			kl.key_index = q->idx;
			kd.key_loc = &kl;
		}
		kd.raw_key_bytes.data = (uint8_t *)q->raw;
		kd.raw_key_bytes.len = q->raw_len;
		sk.key_desc = &kd;
	}
	m.request_id = 5;
	m.sign_request_type_case =
		WATCHONLYRPC__SIGN_COORDINATOR_REQUEST__SIGN_REQUEST_TYPE_SHARED_KEY_REQUEST;
	m.shared_key_request = &sk;
	CHECK(run(rep, &m) == CS_REPLY);
	CHECK(rep->ref == 5);
}

static void expect_err(const struct reply *rep, const char *text)
{
	CHECK(rep->kind == KIND(SIGNER_ERROR));
	if (strcmp(rep->text, text) != 0) {
		fprintf(stderr, "want: %s\n got: %s\n", text, rep->text);
		CHECK(!"signer error text");
	}
}

static void test_shared_key(void)
{
	struct reply rep, want;
	uint8_t bad[33];
	/* lnd's watch-only node: key_desc{key_loc{6,0}, raw_key_bytes}. */
	struct skr lnd = { point, 33, false, 0, 0, true, true, 6, 0,
			   node_pub, 33 };
	struct skr q;

	ecdh(&want, &lnd);
	CHECK(want.kind == KIND(SHARED_KEY_RESPONSE) && want.len == 32);

	/* key_desc{key_loc{6,0}} without the raw key: the same key. */
	q = lnd;
	q.raw = NULL, q.raw_len = 0;
	ecdh(&rep, &q);
	CHECK(rep.kind == KIND(SHARED_KEY_RESPONSE));
	CHECK_MEM(rep.data, want.data, 32);

	/* Old callers: the deprecated key_loc alone, or nothing at all
	 * ("defaults to the node's identity private key"). */
	q = (struct skr){ .eph = point, .eph_len = 33, .top_loc = true,
			   .top_fam = 6 };
	ecdh(&rep, &q);
	CHECK(rep.kind == KIND(SHARED_KEY_RESPONSE));
	CHECK_MEM(rep.data, want.data, 32);
	q = (struct skr){ .eph = point, .eph_len = 33 };
	ecdh(&rep, &q);
	CHECK(rep.kind == KIND(SHARED_KEY_RESPONSE));
	CHECK_MEM(rep.data, want.data, 32);

	/* Ephemeral key: missing, wrong length, bad format, x >= p, not on
	 * the curve (dcrd's ParsePubKey texts). */
	q = lnd;
	q.eph = NULL, q.eph_len = 0;
	ecdh(&rep, &q);
	expect_err(&rep, PFX "must provide ephemeral pubkey");
	q.eph = point, q.eph_len = 32;
	ecdh(&rep, &q);
	expect_err(&rep, PFX "error in ephemeral pubkey: pubkey must be "
		   "serialized in compressed format if specified");
	memcpy(bad, point, 33);
	bad[0] = 0x04;
	q.eph = bad, q.eph_len = 33;
	ecdh(&rep, &q);
	expect_err(&rep, PFX "error in ephemeral pubkey: invalid public key: "
		   "unsupported format: 4");
	memset(bad + 1, 0xff, 32);
	bad[0] = 0x02;
	ecdh(&rep, &q);
	expect_err(&rep, PFX "error in ephemeral pubkey: invalid public key: "
		   "x >= field prime");
	/* x = 5 has no y on secp256k1 (5^3 + 7 = 132 is not a square mod p). */
	memset(bad + 1, 0, 32);
	bad[32] = 5;
	ecdh(&rep, &q);
	expect_err(&rep, PFX "error in ephemeral pubkey: invalid public key: "
		   "x coordinate 00000000000000000000000000000000000000000000"
		   "00000000000000000005 is not on the secp256k1 curve");

	/* Both key_desc and key_loc: what coldnode used to send. */
	q = lnd;
	q.top_loc = true, q.top_fam = 6, q.top_idx = 0;
	ecdh(&rep, &q);
	expect_err(&rep, PFX "use either key_desc or key_loc");

	/* key_desc without its key_loc. */
	q = lnd;
	q.desc_loc = false;
	ecdh(&rep, &q);
	expect_err(&rep, PFX "when setting key_desc the field key_desc.key_loc "
		   "must also be set");

	/* raw key with a non-zero index. */
	q = lnd;
	q.idx = 1;
	ecdh(&rep, &q);
	expect_err(&rep, PFX "use either raw_key_bytes or key_index");

	/* raw key malformed. */
	q = lnd;
	q.raw_len = 20;
	ecdh(&rep, &q);
	expect_err(&rep, PFX "error in raw pubkey: pubkey must be serialized "
		   "in compressed format if specified");

	/* A valid raw key that is not ours, a locator that is not the node
	 * key, the node key under another family: lnd's keyring cannot find
	 * them either. */
	q = lnd;
	q.raw = point;
	ecdh(&rep, &q);
	expect_err(&rep, PFX "unable to derive shared key: unable to derive "
		   "private key");
	q = lnd;
	q.raw = NULL, q.raw_len = 0, q.idx = 3;
	ecdh(&rep, &q);
	expect_err(&rep, PFX "unable to derive shared key: unable to derive "
		   "private key");
	q = lnd;
	q.fam = 0;
	ecdh(&rep, &q);
	expect_err(&rep, PFX "unable to derive shared key: unable to derive "
		   "private key");
	q = (struct skr){ .eph = point, .eph_len = 33, .top_loc = true,
			   .top_fam = 6, .top_idx = 1 };
	ecdh(&rep, &q);
	expect_err(&rep, PFX "unable to derive shared key: unable to derive "
		   "private key");
}

/* ---- SignMessage ---- */

struct smr {
	const char *msg;
	bool loc;
	int fam, idx;
	bool dbl, compact, schnorr;
	const char *tag;
	const char *tweak;
};

static void sign(struct reply *rep, const struct smr *q)
{
	Watchonlyrpc__SignCoordinatorRequest m =
		WATCHONLYRPC__SIGN_COORDINATOR_REQUEST__INIT;
	Signrpc__SignMessageReq sm = SIGNRPC__SIGN_MESSAGE_REQ__INIT;
	Signrpc__KeyLocator kl = SIGNRPC__KEY_LOCATOR__INIT;

	if (q->msg) {
		sm.msg.data = (uint8_t *)q->msg;
		sm.msg.len = strlen(q->msg);
	}
	if (q->loc) {
		kl.key_family = q->fam;
		kl.key_index = q->idx;
		sm.key_loc = &kl;
	}
	sm.double_hash = q->dbl;
	sm.compact_sig = q->compact;
	sm.schnorr_sig = q->schnorr;
	if (q->tag) {
		sm.tag.data = (uint8_t *)q->tag;
		sm.tag.len = strlen(q->tag);
	}
	if (q->tweak) {
		sm.schnorr_sig_tap_tweak.data = (uint8_t *)q->tweak;
		sm.schnorr_sig_tap_tweak.len = strlen(q->tweak);
	}
	m.request_id = 9;
	m.sign_request_type_case =
		WATCHONLYRPC__SIGN_COORDINATOR_REQUEST__SIGN_REQUEST_TYPE_SIGN_MESSAGE_REQ;
	m.sign_message_req = &sm;
	CHECK(run(rep, &m) == CS_REPLY);
	CHECK(rep->ref == 9);
}

static void test_sign_message(void)
{
	struct reply rep;
	struct smr q;
	/* netann through RPCKeyRing.SignMessage. */
	const struct smr lnd = { .msg = "announcement", .loc = true,
				 .fam = 6, .dbl = true };

	sign(&rep, &lnd);
	CHECK(rep.kind == KIND(SIGN_MESSAGE_RESP) && rep.len == 64);
	/* RPCKeyRing.SignMessageCompact: 65 bytes, header 27+recid+4. */
	q = lnd;
	q.compact = true;
	sign(&rep, &q);
	CHECK(rep.kind == KIND(SIGN_MESSAGE_RESP) && rep.len == 65);
	CHECK(rep.data[0] >= 31 && rep.data[0] <= 34);

	q = lnd;
	q.msg = NULL;
	sign(&rep, &q);
	expect_err(&rep, PFX "a message to sign MUST be passed in");
	q = lnd;
	q.loc = false;
	sign(&rep, &q);
	expect_err(&rep, PFX "a key locator MUST be passed in");
	q = lnd;
	q.schnorr = q.compact = true;
	sign(&rep, &q);
	expect_err(&rep, PFX "compact format can not be used for Schnorr "
		   "signatures");
	q = lnd;
	q.tag = "mytag";
	sign(&rep, &q);
	expect_err(&rep, PFX "tag can only be used when the Schnorr signature "
		   "option is set");
	q = lnd;
	q.schnorr = true, q.dbl = false, q.tag = "BIP0340/challenge";
	sign(&rep, &q);
	expect_err(&rep, PFX "tag cannot have BIP0340 prefix");
	q.tag = "TapSighash";
	sign(&rep, &q);
	expect_err(&rep, PFX "tag cannot be TapSighash");
	q.tag = "mytag", q.dbl = true;
	sign(&rep, &q);
	expect_err(&rep, PFX "double hash and tag can't be set at the same "
		   "time");
	/* Schnorr, as lnd's keyring signs it: BIP 340 over a tagged hash,
	 * a double or a single SHA-256, with an optional BIP 341 tweak. */
	{
		secp256k1_xonly_pubkey xo, out;
		secp256k1_pubkey full;
		uint8_t digest[32], th[32], t[32], xb[32];
		crypto_hash_sha256_state st;
		const char *m = "announcement";

		CHECK(secp256k1_xonly_pubkey_parse(cn_secp(), &xo, node_pub + 1));
		q = lnd;
		q.schnorr = true, q.dbl = false, q.tag = "mytag";
		sign(&rep, &q);
		CHECK(rep.kind == KIND(SIGN_MESSAGE_RESP) && rep.len == 64);
		crypto_hash_sha256(th, (const uint8_t *)"mytag", 5);
		crypto_hash_sha256_init(&st);
		crypto_hash_sha256_update(&st, th, 32);
		crypto_hash_sha256_update(&st, th, 32);
		crypto_hash_sha256_update(&st, (const uint8_t *)m, strlen(m));
		crypto_hash_sha256_final(&st, digest);
		CHECK(secp256k1_schnorrsig_verify(cn_secp(), rep.data, digest,
						  32, &xo));

		q.tag = NULL, q.dbl = true;
		sign(&rep, &q);
		crypto_hash_sha256(digest, (const uint8_t *)m, strlen(m));
		crypto_hash_sha256(digest, digest, 32);
		CHECK(rep.len == 64 && secp256k1_schnorrsig_verify(
			cn_secp(), rep.data, digest, 32, &xo));

		/* Tweaked: verifies under the BIP 341 output key
		 * P + hash_TapTweak(xonly(P) || root)G, not under P. */
		q.tweak = "root";
		sign(&rep, &q);
		crypto_hash_sha256(th, (const uint8_t *)"TapTweak", 8);
		crypto_hash_sha256_init(&st);
		crypto_hash_sha256_update(&st, th, 32);
		crypto_hash_sha256_update(&st, th, 32);
		crypto_hash_sha256_update(&st, node_pub + 1, 32);
		crypto_hash_sha256_update(&st, (const uint8_t *)"root", 4);
		crypto_hash_sha256_final(&st, t);
		CHECK(secp256k1_xonly_pubkey_tweak_add(cn_secp(), &full, &xo, t));
		CHECK(secp256k1_xonly_pubkey_from_pubkey(cn_secp(), &out, NULL,
							 &full));
		CHECK(secp256k1_xonly_pubkey_serialize(cn_secp(), xb, &out));
		CHECK(rep.len == 64 && secp256k1_schnorrsig_verify(
			cn_secp(), rep.data, digest, 32, &out));
		CHECK(!secp256k1_schnorrsig_verify(cn_secp(), rep.data, digest,
						   32, &xo));
	}

	/* Not the node key. */
	q = lnd;
	q.idx = 1;
	sign(&rep, &q);
	expect_err(&rep, PFX "can't sign the hash: unable to derive private "
		   "key");
}

/* ---- Everything else ---- */

static void test_other(void)
{
	Watchonlyrpc__SignCoordinatorRequest m =
		WATCHONLYRPC__SIGN_COORDINATOR_REQUEST__INIT;
	Watchonlyrpc__RegistrationResponse rr =
		WATCHONLYRPC__REGISTRATION_RESPONSE__INIT;
	Watchonlyrpc__RegistrationComplete rc =
		WATCHONLYRPC__REGISTRATION_COMPLETE__INIT;
	struct reply rep;
	/* A MuSig2 request (lnd field 6) we do not implement: an unknown
	 * field to our proto, no oneof member set. */
	static const uint8_t musig[] = { 0x08, 0x07, 0x32, 0x00 };
	uint8_t *out;
	size_t outlen;
	char err[200];

	CHECK(cs_handle(key, &out, &outlen, err, sizeof(err), musig,
			sizeof(musig)) == CS_REPLY);
	{
		Watchonlyrpc__SignCoordinatorResponse *r =
			watchonlyrpc__sign_coordinator_response__unpack(
				NULL, outlen, out);
		CHECK(r && r->ref_request_id == 7 &&
		      r->sign_response_type_case == KIND(SIGNER_ERROR));
		CHECK(strcmp(r->signer_error->error, PFX "unimplemented "
			     "request by watch-only node") == 0);
		watchonlyrpc__sign_coordinator_response__free_unpacked(r, NULL);
	}
	free(out);

	/* Ping: pong, same id. */
	m.request_id = 3;
	m.sign_request_type_case =
		WATCHONLYRPC__SIGN_COORDINATOR_REQUEST__SIGN_REQUEST_TYPE_PING;
	m.ping = true;
	CHECK(run(&rep, &m) == CS_REPLY);
	CHECK(rep.kind == KIND(PONG) && rep.ref == 3);

	/* Registration complete must carry request id 1 (lnd's signer:
	 * "initial response request id must be 1, but is: N"). */
	rc.registration_info = (char *)"watch-only registration info";
	rr.registration_response_type_case =
		WATCHONLYRPC__REGISTRATION_RESPONSE__REGISTRATION_RESPONSE_TYPE_REGISTRATION_COMPLETE;
	rr.registration_complete = &rc;
	m.sign_request_type_case =
		WATCHONLYRPC__SIGN_COORDINATOR_REQUEST__SIGN_REQUEST_TYPE_REGISTRATION_RESPONSE;
	m.registration_response = &rr;
	m.request_id = 1;
	CHECK(run(&rep, &m) == CS_REGISTERED);
	m.request_id = 4;
	CHECK(run(&rep, &m) == CS_REFUSED);
	CHECK(strcmp(rep.text, "initial response request id must be 1, but "
		     "is: 4") == 0);
}

int main(void)
{
	static const uint8_t priv[32] = { [31] = 9 };
	static const uint8_t two[32] = { [31] = 2 };
	secp256k1_pubkey pk;
	size_t n = 33;

	cn_crypto_init();
	key = cn_nodekey_from_secret(priv);
	CHECK(key != NULL);
	cn_nodekey_pub(key, node_pub);
	CHECK(secp256k1_ec_pubkey_create(cn_secp(), &pk, two));
	secp256k1_ec_pubkey_serialize(cn_secp(), point, &n, &pk,
				      SECP256K1_EC_COMPRESSED);
	test_shared_key();
	test_sign_message();
	test_other();
	cn_nodekey_free(key);
	return check_exit();
}
