/*~ coldsigner: a reference remote signer that dials coldnode.
 *
 * It holds one node key, opens /watchonlyrpc.WatchOnly/SignCoordinatorStreams
 * on coldnode's --signerlisten port (TLS with the node's pinned cert, a
 * macaroon with remotesigner:generate), registers the way lnd's outbound
 * signer does, and answers DeriveSharedKey (ECDH with the node key) and
 * SignMessage (node key: 64-byte wire, 65-byte compact or BIP 340
 * signatures) after lnd's signer-side checks, with lnd's error texts
 * (docs/signer.md), redialling with backoff when the stream drops.
 *
 * This header is the pure core (bytes in, bytes out, no sockets) that
 * main.c drives and tests use as a well-behaved signer.
 */
#ifndef COLDNODE_COLDSIGNER_H
#define COLDNODE_COLDSIGNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The node key: common/common.h (cn_nodekey_load, cn_nodekey_from_secret). */
struct cn_nodekey;

/* lnd's outbound signer registration: ref_request_id 1,
 * registration_challenge "registrationChallenge", registration_info
 * "outboundSigner".  malloc'd; the caller takes it. */
uint8_t *cs_registration(size_t *len);

enum cs_verdict {
	CS_REPLY,      /* *out holds the reply to send */
	CS_REGISTERED, /* registration complete: now serving */
	CS_REFUSED,    /* the node refused our registration (@err says why) */
	CS_BAD,        /* undecodable request (@err says why): drop stream */
};

/**
 * cs_handle - answer one SignCoordinatorRequest, with lnd's rules only
 * (CS_POLICY_NONE): what tests use as an lnd-like signer.
 * @out, @outlen: out; *out malloc'd (caller takes it) for CS_REPLY, else
 *   NULL.  Requests are checked with lnd's signer-side rules and refused
 *   with lnd's texts in a SignerError ("error processing the request in
 *   the remote signer: use either key_desc or key_loc", ...); request types
 *   we do not serve get "...: unimplemented request by watch-only node".
 * @err, @errlen: out; a reason for CS_REFUSED / CS_BAD.
 * @k: borrowed.  @req: borrowed.
 */
enum cs_verdict cs_handle(const struct cn_nodekey *k, uint8_t **out,
			  size_t *outlen, char *err, size_t errlen,
			  const uint8_t *req, size_t len);

/* ---- Cluster fencing (docs/cluster.md) ----
 * A coldnode cluster leader puts its fencing token (its etcd election
 * key's create revision; later leaders have higher ones) on every message
 * in field 100 (coldnode_fencing_token).  The signer keeps the highest it
 * has seen and refuses anything lower. */
struct cs_meta {
	uint64_t request_id;
	uint64_t token;    /* 0: none (not a cluster member) */
	bool registration; /* a RegistrationResponse */
};
/* Reads the envelope of a SignCoordinatorRequest; false if malformed. */
bool cs_peek(struct cs_meta *out, const uint8_t *req, size_t len);

enum cs_fence {
	CS_FENCE_OK,    /* the highest token seen (or 0 and none seen) */
	CS_FENCE_NEWER, /* higher than any seen: *highest updated */
	CS_FENCE_STALE, /* lower than one seen: refuse, close the stream */
};
enum cs_fence cs_fence_check(uint64_t *highest, uint64_t token);
/* SignerError for request @id: "... fencing token T is lower than H ...";
 * malloc'd, the caller takes it. */
uint8_t *cs_fence_refusal(size_t *len, uint64_t id, uint64_t token,
			  uint64_t highest);
/* A standby's registration_error names the leader's signer address
 * ("... the leader is ID at HOST:PORT"): copy HOST:PORT into @out.  false
 * if there is none. */
bool cs_leader_hint(char *out, size_t cap, const char *err);

/* ---- Policy (policy.c, docs/signer.md): what the node key signs ----- */

enum cs_policy {
	CS_POLICY_CHECK, /* default: only what coldnode legitimately asks */
	CS_POLICY_NONE,  /* --policy=none: lnd's rules only, as lnd signs */
};
/* "check" / "none" into @out; false for anything else. */
bool cs_policy_parse(enum cs_policy *out, const char *s);
const char *cs_policy_str(enum cs_policy p); /* static */

/* The key check's challenge: 32 random bytes then this tag (the same as
 * the supervisor's SV_CHALLENGE_TAG; tests/supervisor checks they agree). */
#define CS_CHALLENGE_TAG "coldnode-signer-check"
/* node_announcement features coldsigner signs at most (BOLT 9 bits 0..63). */
#define CS_ANN_MAX_FEATURES 8

/* One SignMessage, as the policy sees it (lnd's checks passed already:
 * a message, the node key). */
struct cs_sign_ask {
	const uint8_t *msg; /* borrowed */
	size_t len;
	bool double_hash, compact, schnorr;
	size_t tag_len, tweak_len;
};
enum cs_sign_kind {
	CS_SIGN_KEYCHECK, /* the key check's challenge: sign (compact) */
	CS_SIGN_NODE_ANN, /* our node_announcement: sign */
	CS_SIGN_REFUSED,
};
const char *cs_sign_kind_str(enum cs_sign_kind k); /* static */

/**
 * cs_policy_sign - the policy's decision on one SignMessage.  Pure.
 * @node_pub: our key, 33 bytes, borrowed.
 * @why: out; on CS_SIGN_REFUSED a static short reason that never quotes
 *   the message, else NULL.
 */
enum cs_sign_kind cs_policy_sign(const struct cs_sign_ask *a,
				 const uint8_t node_pub[33], const char **why);
/* A node_announcement's bytes after its signature, checked per BOLT 7 as
 * cs_policy_sign does: NULL if it is ours and well formed, else a static
 * reason. */
const char *cs_node_ann_check(const uint8_t *msg, size_t len,
			      const uint8_t node_pub[33]);
/* ECDH only with a 33-byte compressed point on the curve; false with a
 * static reason in @why. */
bool cs_policy_ecdh(const uint8_t *point, size_t len, const char **why);

/**
 * cs_handle_policy - cs_handle under @pol.  A request the policy refuses
 * gets a SignerError (lnd's prefix, then "refused by coldsigner's policy:
 * <reason>"), and *@refused is set to the static reason for the caller's
 * log line (else NULL).
 */
enum cs_verdict cs_handle_policy(const struct cn_nodekey *k,
				 enum cs_policy pol, const char **refused,
				 uint8_t **out, size_t *outlen, char *err,
				 size_t errlen, const uint8_t *req, size_t len);

/* Redial backoff, as lnd's signer client: 1 s, x1.5 per failure, capped at
 * 60 s; reset to 1 s after a successful registration.  That backoff is for
 * a signer the node refuses on purpose.  A dial that fails before the node
 * said anything (TCP refused, TLS failed, closed before the stream opened:
 * a full or flooded port that evicted us) waits much less: 0.1 s doubling
 * to 2 s, reset by any message from the node, so a flood evicting us
 * costs seconds, not minutes (docs/hardening.md). */
struct cs_backoff {
	double next;
	double transport_next;
};
void cs_backoff_reset(struct cs_backoff *b);
/* The delay to wait now; grows the next one. */
double cs_backoff_next(struct cs_backoff *b);
/* The same after a transport failure (the short schedule above). */
double cs_backoff_next_transport(struct cs_backoff *b);
/* The node answered: the next transport failure starts at 0.1 s again. */
void cs_backoff_heard(struct cs_backoff *b);

#endif /* COLDNODE_COLDSIGNER_H */
