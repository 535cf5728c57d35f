/*~ supervisor: the node's relation to its signer.
 *
 * The signer dials in (lnd's outbound remote signer stream,
 * /watchonlyrpc.WatchOnly/SignCoordinatorStreams) and answers ECDH and
 * message-signing requests with the node key.  coldnode must not fall over
 * when it goes away: it drops what needs the signer at once (pending
 * requests, `full` peer sessions) and keeps its gossip-only sessions and
 * its restricted RPCs.
 *
 * Layers, all behind this one header:
 *   1. sv_fsm_step: the pure state machine, (state, event) -> (state,
 *      actions).  No sockets, no clock.
 *   2. sv_proto_*: the pure stream codec (protobuf SignCoordinatorResponse
 *      in, SignCoordinatorRequest out) with lnd's registration rules.
 *   3. sv_keycheck_*: the pure node-key check (challenge, recover, compare).
 *   1b. sv_set_*: the pure signer-set decisions (standby signers).
 *   4. struct supervisor: the session object on the daemon's libev loop.
 *      It owns the request table (ids, generations, timeouts), the ping
 *      timer, the registration and key-check steps, and applies the state
 *      machine's actions to the peer manager.  Streams reach it through a
 *      small transport interface (struct sv_stream_ops) so that tests and
 *      benchmarks can drive it without gRPC; sv_server_* plugs it into the
 *      rpc module's server core.
 *
 * Request callbacks ALWAYS fire exactly once: with the answer, the
 * signer's error, UNAVAILABLE (no signer / lost), DEADLINE_EXCEEDED or
 * CANCELLED.  They never fire from inside the call that started the
 * request (a refusal is delivered on the next loop iteration), so callers
 * need not fear re-entry.
 *
 * Argument order: context first, then outputs, then inputs; a length
 * follows its buffer.  Ownership is written next to each pointer.
 */
#ifndef COLDNODE_SUPERVISOR_H
#define COLDNODE_SUPERVISOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/common.h"

struct ev_loop;
struct peer_mgr;
struct peer_keysource;
struct supervisor;
struct sv_stream;

/* The node key's locator in lnd's keychain: family 6, index 0. */
#define SV_NODE_KEY_FAMILY 6
#define SV_NODE_KEY_INDEX 0
/* lnd: "handshakeRequestID = 1"; real requests count up from 2. */
#define SV_REGISTRATION_ID 1
/* A signer's messages are small; anything bigger is refused. */
#define SV_MAX_MSG 16384
/* The signer-check challenge: 32 random bytes then this tag. */
#define SV_CHALLENGE_TAG "coldnode-signer-check"
#define SV_CHALLENGE_LEN (32 + sizeof(SV_CHALLENGE_TAG) - 1)

/* gRPC status codes we use (same values as enum rpc_status). */
enum sv_code {
	SV_CODE_OK = 0,
	SV_CODE_CANCELLED = 1,
	SV_CODE_INVALID_ARGUMENT = 3,
	SV_CODE_DEADLINE_EXCEEDED = 4,
	SV_CODE_ALREADY_EXISTS = 6,
	SV_CODE_PERMISSION_DENIED = 7,
	SV_CODE_RESOURCE_EXHAUSTED = 8,
	SV_CODE_FAILED_PRECONDITION = 9,
	SV_CODE_UNIMPLEMENTED = 12,
	SV_CODE_UNAVAILABLE = 14,
};

/* ------------------------------------------------------------------------
 * 1. Pure state machine.
 */
enum sv_state {
	SV_WAITING_FOR_SIGNER, /* from start until the first good signer */
	SV_ACTIVE,             /* a checked signer is attached (or local key) */
	SV_SAFE_MODE,          /* the signer went away after being active */
	SV_SHUTTING_DOWN,
};
#define SV_NUM_STATES 4

enum sv_event {
	SV_EV_LOCAL_KEY,    /* --signer=local: the key is in the data dir */
	SV_EV_SIGNER_READY, /* registered and passed the key check */
	SV_EV_SIGNER_LOST,  /* the stream is gone, for any reason */
	SV_EV_SHUTDOWN,
	/* The active signer is gone but a checked standby took its place
	 * (signerset.c decides when): nothing the peers see changes. */
	SV_EV_FAILOVER,
};
#define SV_NUM_EVENTS 5

/* Actions, as bit flags, applied in this order by the session. */
enum sv_action {
	SV_ACT_NEXT_GENERATION = 1 << 0, /* generation++ */
	SV_ACT_FAIL_SENT = 1 << 1,       /* sent requests -> UNAVAILABLE */
	SV_ACT_FAIL_QUEUED = 1 << 2,     /* queued requests -> UNAVAILABLE */
	SV_ACT_DENY_FULL = 1 << 3,       /* no new full peer sessions */
	SV_ACT_CLOSE_FULL = 1 << 4,      /* close every full session */
	SV_ACT_DROP_SIGNER = 1 << 5,     /* end the signer stream */
	SV_ACT_ALLOW_FULL = 1 << 6,
	SV_ACT_SEND_QUEUED = 1 << 7,     /* send requests that waited */
	SV_ACT_REDIAL = 1 << 8,          /* redial persistent peers now */
	/* Requests the lost signer had not answered go to the new active
	 * one (ECDH and SignMessage are pure functions of their inputs:
	 * docs/signer.md, "Standby signers"). */
	SV_ACT_RESEND_SENT = 1 << 9,
	/* Answers that came with the key check (requests sent in one flight
	 * with the challenge) are used now that the key is known good. */
	SV_ACT_USE_EARLY = 1 << 10,
	/* No signer: hold persistent redials (each would park until the
	 * park deadline) and keep --gossip.minsessions gossip-only sessions
	 * with a local key (peer.h, "Safe mode"). */
	SV_ACT_SAFE_DIALS = 1 << 11,
	/* The node key is back: stop that, close the local-key sessions;
	 * persistent peers are dialed with the node's identity again. */
	SV_ACT_IDENTITY_DIALS = 1 << 12,
};

struct sv_step {
	enum sv_state next;
	unsigned actions; /* enum sv_action bits */
	bool valid;       /* false: this event cannot happen in this state
			   * (a programmer error; nothing changes) */
};

struct sv_step sv_fsm_step(enum sv_state state, enum sv_event ev);
const char *sv_state_str(enum sv_state state);  /* "ACTIVE", static */
const char *sv_event_str(enum sv_event ev);     /* "SIGNER_LOST", static */

/* ------------------------------------------------------------------------
 * 1b. Pure signer-set decisions (signerset.c).
 *
 * Up to --signer.maxsigners streams may be attached.  The first that
 * passes the key check is active (it gets every request); later ones that
 * prove the same node key are standby (pinged, no requests).  Losing the
 * active one promotes the longest-registered healthy standby in the same
 * loop iteration.
 */
#define SV_MAX_SIGNERS 16 /* --signer.maxsigners upper bound */

enum sv_role {
	SV_ROLE_CHECKING, /* attached, registration or key check not done */
	SV_ROLE_ACTIVE,
	SV_ROLE_STANDBY,
};
const char *sv_role_str(enum sv_role r); /* "active", static */

/* What the set needs to know about one attached stream. */
struct sv_set_member {
	enum sv_role role;
	bool healthy;       /* no failed send, no overdue ping */
	uint64_t ready_seq; /* order of passing the key check (1, 2, ...) */
};

/* May one more stream attach, @attached already there?  (lnd refuses a
 * second with ErrMultipleConnections: @max 1 keeps that.) */
bool sv_set_admit(size_t attached, size_t max);

/* The role a stream gets once its key check passes. */
enum sv_role sv_set_role_on_ready(bool have_active);

/* The member to promote: the healthy standby with the smallest
 * ready_seq; SIZE_MAX if none.  @m borrowed. */
size_t sv_set_pick(const struct sv_set_member *m, size_t n);

struct sv_set_loss {
	bool fsm;           /* feed @ev to sv_fsm_step */
	enum sv_event ev;
	size_t promote;     /* index into the members; SIZE_MAX: none */
	/* The lost stream's unanswered requests: resent to @promote
	 * (FAILOVER), failed (SIGNER_LOST of the active one), or back to the
	 * queue (a stream that never got active: requests sent with its key
	 * check). */
	bool requeue;
};

/**
 * sv_set_on_loss - stream @lost_role is gone.
 * @rest: the members still attached (borrowed), @n of them.
 */
struct sv_set_loss sv_set_on_loss(enum sv_role lost_role,
				  const struct sv_set_member *rest, size_t n);

/* ------------------------------------------------------------------------
 * 2. Pure stream codec.  Decoding never allocates beyond the call and
 * never trusts a length: every field is checked.
 */
enum sv_resp_kind {
	SV_RESP_REGISTRATION, /* signer_registration */
	SV_RESP_PONG,
	SV_RESP_SHARED_KEY,
	SV_RESP_SIGNATURE,
	SV_RESP_SIGNER_ERROR,
	SV_RESP_UNKNOWN,      /* no oneof member we know (or none at all) */
};

struct sv_resp {
	uint64_t ref_id;
	enum sv_resp_kind kind;
	bool pong;                 /* PONG: the value sent */
	uint8_t shared_key[32];    /* SHARED_KEY (exactly 32 bytes) */
	uint8_t sig[65];           /* SIGNATURE: 64 wire or 65 compact */
	size_t sig_len;
	/* REGISTRATION: registration_info; SIGNER_ERROR: the error text.
	 * Non-printable bytes replaced by '?', truncated, NUL-terminated. */
	char text[128];
	size_t challenge_len;      /* REGISTRATION: registration_challenge */
};

/**
 * sv_proto_decode - parse one SignCoordinatorResponse.
 * @out: filled on success.  @err: out, a static reason on failure.
 * @buf: borrowed.  Returns false on malformed protobuf, a shared key that
 * is not 32 bytes or a signature that is not 64/65 bytes.
 */
bool sv_proto_decode(struct sv_resp *out, const char **err,
		     const uint8_t *buf, size_t len) CN_WARN_UNUSED;

/**
 * sv_proto_check_registration - lnd's rules for the first message.
 * Returns NULL if @r is a valid registration, else lnd's error text
 * (written into @buf, @buflen bytes): "initial request ID must be 1, but
 * is: N", "expected registration message, but got: T",
 * "invalid remote signer registration info".
 */
const char *sv_proto_check_registration(char *buf, size_t buflen,
					const struct sv_resp *r);

/* Encoders: each returns a malloc'd SignCoordinatorRequest the caller
 * takes (free()), length in *len; NULL on allocation failure. */
uint8_t *sv_proto_registration_complete(size_t *len, const char *info);
uint8_t *sv_proto_registration_error(size_t *len, const char *error);
uint8_t *sv_proto_ping(size_t *len, uint64_t id);
/* DeriveSharedKey with the node key: key_desc{raw_key_bytes (if
 * @node_pub, 33 bytes, borrowed), key_loc{6,0}} and nothing in the
 * deprecated key_loc, as lnd's rpcwallet (RPCKeyRing.ECDH) sends it; lnd's
 * signer refuses a request with both. */
uint8_t *sv_proto_shared_key(size_t *len, uint64_t id,
			     const uint8_t point[33], const uint8_t *node_pub);
/* SignMessage with the node key, double SHA-256. */
uint8_t *sv_proto_sign_message(size_t *len, uint64_t id,
			       const uint8_t *msg, size_t msglen,
			       bool compact);

/* ------------------------------------------------------------------------
 * 3. Pure node-key check.
 *
 * On registration coldnode sends SignMessageReq{msg = 32 fresh random
 * bytes || "coldnode-signer-check", key_loc{6,0}, double_hash, compact_sig}.
 * The 65-byte recoverable signature gives the signer's public key; the
 * signature is then verified against it, and the key compared with the
 * expected one (--signer.nodepubkey, or the one pinned on first contact).
 */

/* Fill @challenge (SV_CHALLENGE_LEN bytes) with fresh randomness + tag. */
void sv_keycheck_challenge(uint8_t challenge[SV_CHALLENGE_LEN]);
/**
 * sv_keycheck_verify - recover and verify.
 * @pub: out, the signer's compressed public key.
 * @challenge: borrowed.  @sig: 65-byte lnd compact signature (header
 * 27 + recid + 4 for a compressed key, then r, s).
 * Returns false (with a static reason in @err) if the signature does not
 * recover or verify.  The caller compares @pub with what it expects.
 */
bool sv_keycheck_verify(uint8_t pub[33], const char **err,
			const uint8_t challenge[SV_CHALLENGE_LEN],
			const uint8_t *sig, size_t siglen) CN_WARN_UNUSED;

/* ------------------------------------------------------------------------
 * 4. The supervisor session.
 */

struct sv_config {
	bool local;              /* --signer=local */
	/* local only: the 32-byte node key file (created 0600 if missing);
	 * borrowed during sv_new. */
	const char *local_key_path;
	/* --signer.nodepubkey: expected node key, if set. */
	bool have_node_pubkey;
	uint8_t node_pubkey[33];
	/* SQLite file for the pinned key (table supervisor_signer); NULL: no
	 * pinning.  Borrowed during sv_new. */
	const char *pin_db_path;
	double ping_interval;    /* --signer.pinginterval, seconds (10) */
	double ping_timeout;     /* --signer.pingtimeout, seconds (5) */
	/* --signer.requesttimeout, seconds (5): a request unanswered this
	 * long after it was sent, or after the signer's last answer to
	 * anything if that came later (it was busy with requests sent before
	 * it), drops the signer; at most 3 times this in all. */
	double request_timeout;
	/* --signer.maxinboundecdh (16): node-key ECDH requests that inbound
	 * BOLT 8 handshakes (strangers, before act three) may have queued
	 * or at the signer at once, counted until the signer answers (a
	 * handshake that goes away leaves its request with the signer);
	 * over it, sv_ecdh_inbound fails at once with SV_ERR_BUSY.  Outbound
	 * handshakes, signatures and pings never count and are never
	 * refused.  0: no cap. */
	size_t max_inbound_ecdh;
	/* --signer.maxsigners: streams attached at once, 1 (lnd's rule:
	 * one signer) .. SV_MAX_SIGNERS.  Above 1, signers proving the same
	 * node key wait as standby. */
	size_t max_signers;
	/* --gossip.minsessions: gossip-only sessions kept in SAFE_MODE by
	 * dialing with a local key (0: off). */
	size_t gossip_min_sessions;
};

/* Defaults: remote, no key, ping every 10 s, 5 s timeouts, 16 inbound
 * ECDH requests. */
void sv_config_default(struct sv_config *cfg);

/* What GetState/SubscribeState/health report.  Strings borrowed until the
 * next call into the supervisor. */
struct sv_info {
	enum sv_state state;
	int64_t since_unix;        /* wall clock of the last transition */
	const char *cause;         /* why the last transition happened */
	uint64_t generation;
	bool node_pubkey_known;
	uint8_t node_pubkey[33];
	bool signer_connected;     /* a stream is attached (any phase) */
	bool signer_ready;         /* ... and registered + key-checked */
	const char *signer_peer;   /* "ip:port" / "unix", "" if none */
	const char *signer_info;   /* registration_info, "" if none */
	int64_t signer_since_unix;
	size_t requests_sent;      /* in flight now (not counting pings) */
	size_t requests_queued;    /* waiting for a signer now */
	/* Counters since start. */
	uint64_t transitions[SV_NUM_STATES]; /* entries into each state */
	uint64_t signer_sessions;  /* streams accepted */
	uint64_t signer_registrations; /* ... registered and key-checked */
	uint64_t signer_losses;    /* accepted streams that ended */
	uint64_t signer_refused;   /* streams refused (second, bad, ...) */
	uint64_t key_mismatches;
	uint64_t requests_ok;
	uint64_t requests_failed;  /* any error result (the next two too) */
	uint64_t requests_unavailable; /* no signer, or lost: UNAVAILABLE */
	uint64_t requests_timed_out;   /* past --signer.requesttimeout */
	uint64_t full_closed;      /* full sessions closed on signer loss */
	uint64_t signer_arrivals;  /* signer-port connections announced
				    * through signer_arriving */
	/* Standby signers (SupervisorCounters 15-19). */
	uint64_t failovers;        /* active lost, a standby took over */
	uint64_t requests_resent;  /* sent again to the new active signer */
	uint64_t standby_registrations; /* key-checked signers made standby */
	uint64_t early_sent;       /* requests sent with a key check */
	uint64_t early_dropped;    /* their answers dropped (check failed
				    * or stream lost before it passed) */
	size_t inbound_ecdh;       /* inbound handshakes' ECDH requests now
				    * (queued, sent, or cancelled but still
				    * with the signer) */
	uint64_t inbound_ecdh_refused; /* SV_ERR_BUSY since start */
};

/* One attached signer stream, for GetState's `signers`. */
struct sv_signer_info {
	enum sv_role role;
	char peer[64];             /* "ip:port" */
	char info[128];            /* registration_info */
	int64_t since_unix;        /* stream accepted */
	int64_t role_since_unix;   /* role taken (0 while checking) */
	uint64_t requests_answered; /* ECDH/SignMessage answers it gave */
	size_t requests_in_flight;
};
/* Fills up to @max entries (active first, then standbys by age, then
 * streams still checking); returns how many. */
size_t sv_get_signers(const struct supervisor *sv, struct sv_signer_info *out,
		      size_t max);

/* Results handed to request callbacks. */
enum sv_result {
	SV_OK,
	SV_ERR_SIGNER,      /* the signer answered with SignerError */
	SV_ERR_UNAVAILABLE, /* no signer, or it was lost: UNAVAILABLE */
	SV_ERR_TIMEOUT,     /* past --signer.requesttimeout */
	SV_ERR_CANCELLED,   /* sv_cancel */
	SV_ERR_BAD_REPLY,   /* wrong response type or size */
	SV_ERR_BUSY,        /* sv_ecdh_inbound over max_inbound_ecdh */
};
const char *sv_result_str(enum sv_result r);
#define SV_NUM_RESULTS 7

/* Per-kind request statistics, for metrics: results of ECDH and
 * SignMessage requests, and the signer's latency (request sent on the
 * stream to its answer; requests failed before being sent are counted in
 * results only). */
enum sv_req_kind {
	SV_REQ_ECDH,
	SV_REQ_SIGN_MESSAGE,
};
#define SV_NUM_REQ_KINDS 2
const char *sv_req_kind_str(enum sv_req_kind k);
struct sv_req_stats {
	uint64_t results[SV_NUM_RESULTS]; /* by enum sv_result */
	struct cn_hist latency;
};
/* Copies the counters into @out (one per enum sv_req_kind). */
void sv_get_req_stats(const struct supervisor *sv,
		      struct sv_req_stats out[SV_NUM_REQ_KINDS]);
/* Wall-clock time the signer was last seen: now while one is attached,
 * else when the last one went away; 0 if none ever came (or local mode,
 * which has no signer to lose: then it is always now). */
int64_t sv_signer_last_seen(const struct supervisor *sv);

/* @secret (32 bytes) borrowed for the call, only on SV_OK. */
typedef void (*sv_ecdh_cb)(void *arg, enum sv_result r,
			   const uint8_t *secret);
/* @sig (64-byte wire format) borrowed for the call, only on SV_OK. */
typedef void (*sv_sign_cb)(void *arg, enum sv_result r, const uint8_t *sig);

struct sv_cbs {
	/* State or signer info changed (any field of sv_info).  May be NULL. */
	void (*changed)(void *arg, struct supervisor *sv);
	/* A connection arrived on the signer port while no signer is ready
	 * (TCP accepted, before TLS and registration): the node key may be
	 * back in a few round trips, so work that needs it only at the end
	 * (outbound BOLT 8 handshakes: only act three needs the key) can
	 * start now.  May be NULL. */
	void (*signer_arriving)(void *arg, struct supervisor *sv);
	/* Cluster mode (docs/cluster.md): asked right before anything goes
	 * to the signer; false: not sent (the request fails UNAVAILABLE),
	 * the daemon is about to stand down.  May be NULL (always true). */
	bool (*may_act)(void *arg, struct supervisor *sv);
	void *arg; /* borrowed */
};

/**
 * sv_new - create the supervisor.
 * @loop: borrowed.  @cfg: copied.  @cbs: copied (cbs->arg borrowed); may
 * be NULL.  Local mode loads (or creates) the key and starts ACTIVE;
 * remote mode starts WAITING_FOR_SIGNER.  Returns NULL (and logs) if the
 * key file or pin database cannot be used.
 */
struct supervisor *sv_new(struct ev_loop *loop, const struct sv_config *cfg,
			  const struct sv_cbs *cbs);
/* Fails every request (UNAVAILABLE), drops the stream, frees.  NULL ok.
 * Not from inside a supervisor callback. */
void sv_free(struct supervisor *sv);

/* The peer manager to act on (borrowed; NULL detaches).  Set it once the
 * manager exists; the supervisor then closes full sessions on loss and
 * redials persistent peers on ACTIVE. */
void sv_set_peer_mgr(struct supervisor *sv, struct peer_mgr *mgr);
/* A key source for peer_mgr_new built on sv_ecdh (@out filled; it points
 * at @sv, which must outlive the manager).  Handshake ECDH waits for a
 * signer up to @wait seconds (use the handshake timeout). */
void sv_keysource(struct supervisor *sv, struct peer_keysource *out,
		  double wait);
/* For peer_mgr_cbs.allow_full: true only while ACTIVE.  @sv is the arg. */
bool sv_allow_full(void *sv);

void sv_get_info(const struct supervisor *sv, struct sv_info *out);
enum sv_state sv_get_state(const struct supervisor *sv);
uint64_t sv_generation(const struct supervisor *sv);
/* The node's public key, if known (configured, pinned, local, or learnt
 * from the first signer).  @out: 33 bytes. */
bool sv_node_pubkey(const struct supervisor *sv, uint8_t out[33]);

/* Move to SHUTTING_DOWN (fails everything, drops the signer).  @why
 * copied. */
void sv_shutdown(struct supervisor *sv, const char *why);

/**
 * sv_ecdh - SHA256(compressed(node_priv * @point)), from the signer (or the
 * local key).
 * @point: copied, 33 bytes.  @wait: seconds the request may wait for a
 * signer if none is active (0: fail at once with UNAVAILABLE).
 * @cb, @arg: fired exactly once.  Returns a request handle for sv_cancel
 * (never 0).
 */
uint64_t sv_ecdh(struct supervisor *sv, const uint8_t point[33], double wait,
		 sv_ecdh_cb cb, void *arg);
/**
 * sv_ecdh_inbound - sv_ecdh for an inbound handshake's act one: a
 * stranger's request, admitted only under sv_config.max_inbound_ecdh
 * (else the callback gets SV_ERR_BUSY, on the next loop iteration, and
 * nothing reaches the signer).  Cancelled after it was sent, it keeps its
 * place in the budget until the signer answers it.
 */
uint64_t sv_ecdh_inbound(struct supervisor *sv, const uint8_t point[33],
			 double wait, sv_ecdh_cb cb, void *arg);
/* Sign double-SHA256(@msg) with the node key; never waits (a signature is
 * not attempted in safe mode).  @msg copied. */
uint64_t sv_sign_message(struct supervisor *sv, const uint8_t *msg,
			 size_t len, sv_sign_cb cb, void *arg);
/* Cancel request @id: its callback fires with SV_ERR_CANCELLED before this
 * returns.  Unknown or finished ids are ignored. */
void sv_cancel(struct supervisor *sv, uint64_t id);

/* ---- Cluster: leader or standby (docs/cluster.md) ---------------------- */

/* Standby: the current signer stream (if any) ends with @refusal, which
 * closes full sessions as a signer loss does; every new stream's
 * registration is answered at once with registration_error @refusal
 * (copied; no key check).  Call again to change the text. */
void sv_set_standby(struct supervisor *sv, const char *refusal);
/* Leader: signers are accepted again, and every message sent on the
 * stream carries @token (coldnode_fencing_token, field 100). */
void sv_set_leader(struct supervisor *sv, uint64_t token);
/* Streams the signer ended because our token was older than one it had
 * seen ("fencing token" in its SignerError). */
uint64_t sv_fencing_refusals(const struct supervisor *sv);
/* ---- Forwarded requests (the signer proxy, src/signerproxy) ----------- */

/* A forwarded request or answer (a signed PSBT) may be much bigger than
 * the node's own; the signer port's message cap is raised to this when
 * the proxy runs (sv_server_limits.max_msg). */
#define SV_MAX_FORWARD_MSG (4 * 1024 * 1024)
/* SignCoordinatorRequest/Response oneof members that may be forwarded
 * (lnd's watchonly.proto: 4 shared key ... 13 sign PSBT). */
#define SV_FWD_FIELD_MIN 4
#define SV_FWD_FIELD_MAX 13

/* What a forwarded request's callback gets; every pointer borrowed for
 * the call. */
struct sv_fwd_answer {
	enum sv_result result;
	bool queued;      /* it waited for a signer before being sent */
	bool sent;        /* it reached a signer's stream */
	double waited;    /* seconds spent waiting for a signer */
	double signer_time; /* seconds from sent to answer (0: none) */
	unsigned field;   /* SV_OK: the answer's oneof member (4..13) */
	const uint8_t *body; /* SV_OK: that member's bytes */
	size_t len;
	const char *error; /* SV_ERR_SIGNER: the signer's text (printable
			    * ASCII, at most 1023 bytes), else NULL */
};
typedef void (*sv_fwd_cb)(void *arg, const struct sv_fwd_answer *a);

/**
 * sv_forward - send SignCoordinatorRequest{id, member @field = @body} to
 * the signer and hand back whatever member it answers with.
 * @queued: out (may be NULL): no signer ready, the request waits.
 * @field: SV_FWD_FIELD_MIN..MAX (else a programmer error: abort).
 * @body: copied; the member's bytes, never decoded here.
 * @wait: seconds it may wait for a signer (0: fail at once).
 * @cb, @arg: fired exactly once, never inside this call.  Results:
 * SV_OK (any member 4..13; the caller checks it is the one it expects),
 * SV_ERR_SIGNER (SignerError), SV_ERR_UNAVAILABLE (no signer within
 * @wait, or lost with the request sent: see .sent), SV_ERR_TIMEOUT
 * (--signer.requesttimeout; the signer is dropped), SV_ERR_BAD_REPLY
 * (a pong or registration), SV_ERR_CANCELLED (sv_cancel).
 * Returns the handle for sv_cancel.
 */
uint64_t sv_forward(struct supervisor *sv, bool *queued, unsigned field,
		    const uint8_t *body, size_t len, double wait,
		    sv_fwd_cb cb, void *arg);

/* Pure codec for forwarded requests (proto/signerproxy.proto). */
uint8_t *sv_proto_forward(size_t *len, uint64_t id, unsigned field,
			  const uint8_t *body, size_t blen);
struct sv_fwd_resp {
	uint64_t ref_id;
	unsigned field;      /* 2..14 as on the wire; 0: no member */
	const uint8_t *body; /* field 4..13: the member's bytes */
	size_t len;
	const char *error;   /* field 14: sanitised text */
	void *unpacked;      /* owner of the above */
};
/* false: not a SignCoordinatorResponse, or over SV_MAX_FORWARD_MSG.  On
 * true, free with sv_proto_fwd_resp_clear. */
bool sv_proto_decode_forward(struct sv_fwd_resp *out, const uint8_t *buf,
			     size_t len) CN_WARN_UNUSED;
void sv_proto_fwd_resp_clear(struct sv_fwd_resp *r);

/* ---- Stream transport interface ---------------------------------------- */

/* What a transport (the gRPC server glue, or a test) provides. */
struct sv_stream_ops {
	/* Queue one encoded SignCoordinatorRequest (@msg borrowed).  false:
	 * the stream is broken (the supervisor then treats it as lost). */
	bool (*send)(void *conn, const uint8_t *msg, size_t len);
	/* End the stream with a gRPC status; @msg borrowed for the call.
	 * After this the transport must not call sv_stream_* for it. */
	void (*finish)(void *conn, enum sv_code code, const char *msg);
	/* The signer passed the key check (a registration alone proves
	 * only the macaroon): the transport may stop counting this
	 * connection as unauthenticated (its connection budget,
	 * docs/hardening.md).  May be NULL. */
	void (*authenticated)(void *conn);
	/* The connection the stream came on, compared by pointer only: one
	 * registration at a time per connection.  May be NULL. */
	const void *(*connection)(void *conn);
	/* End the stream's whole connection once its status is out (called
	 * before finish, or as the stream goes): it failed before passing the
	 * key check, so it must connect again through the pre-auth budget.
	 * May be NULL. */
	void (*close_connection)(void *conn);
};

/* Signer streams that have not passed the key check yet (candidates, role
 * "checking") hold no signer slot: --signer.maxsigners counts checked
 * streams only, several candidates may register at once, and the first to
 * prove the node key takes a free slot (active, or standby behind one).
 * Bounded by the signer port's connection budget (one candidate per
 * connection) and by this. */
#define SV_MAX_CANDIDATES 128

/**
 * sv_stream_open - a signer stream arrived (macaroon already checked).
 * @code, @msg: out, why it was refused (static string).
 * @ops: borrowed, must outlive the stream.  @conn: borrowed, handed back
 * to @ops.  @peer: copied ("ip:port").
 * Returns NULL if refused (--signer.maxsigners key-checked signers are
 * attached, another registration is in progress on the same connection,
 * too many candidates, local mode, shutting down); the transport then ends
 * the call with @code/@msg itself.  The stream is a candidate until it
 * passes the key check: only then does it take a signer slot and call
 * ops->authenticated; a candidate that fails or ends has its connection
 * closed (ops->close_connection).
 */
struct sv_stream *sv_stream_open(struct supervisor *sv, enum sv_code *code,
				 const char **msg,
				 const struct sv_stream_ops *ops, void *conn,
				 const char *peer);
/* One message from the signer (@msg borrowed). */
void sv_stream_recv(struct sv_stream *st, const uint8_t *msg, size_t len);
/* The stream is gone (TCP close, RST_STREAM, GOAWAY, TLS error...): @why
 * copied.  @st is freed. */
void sv_stream_gone(struct sv_stream *st, const char *why);

/* ---- Serving the stream on the rpc module's server core --------------- */
struct rpc_server;
struct rpc_macaroon_svc;
#define SV_GRPC_PATH "/watchonlyrpc.WatchOnly/SignCoordinatorStreams"

/* Register SV_GRPC_PATH (permission remotesigner:generate) on @srv
 * (borrowed).  @sv must outlive @srv: free the server first. */
void sv_server_register(struct supervisor *sv, struct rpc_server *srv);

/* Write a macaroon with remotesigner:generate to @path (borrowed) unless
 * the file exists: what an operator hands to the signer.  Logs and returns
 * false on failure. */
bool sv_server_bake_macaroon(const struct rpc_macaroon_svc *macaroons,
			     const char *path);

/**
 * sv_server_new - the --signerlisten server: its own rpc_server (TLS with
 * the node's cert, the node's macaroon service, small message cap) serving
 * only the signer stream.
 * @loop, @sv: borrowed.  @listen, @num_listen, @unix_path, @cert, @key:
 * borrowed during the call (unix_path may be NULL; cert/key NULL only in
 * tests: cleartext).  @macaroons: borrowed, must outlive the server.
 * Returns NULL (logged) if it cannot listen.  Free with rpc_server_free.
 */
struct rpc_server *sv_server_new(struct ev_loop *loop, struct supervisor *sv,
				 const char *const *listen, size_t num_listen,
				 const char *unix_path, const char *cert,
				 const char *key,
				 const struct rpc_macaroon_svc *macaroons);

/* The signer port's connection budget (src/admit): pre-auth connections
 * (no registration accepted yet) at most, per IPv4 address or IPv6 /64
 * (0: no cap), and the deadline for a stream whose macaroon passes.
 * Authenticated connections (registration accepted) have 16 slots of
 * their own. */
struct sv_server_limits {
	size_t max_preauth;            /* default 64 */
	size_t max_preauth_per_source; /* default 4 */
	double preauth_timeout;        /* seconds; default 10 */
	/* Bytes per signer message; 0: SV_MAX_MSG.  The signer proxy raises
	 * it to SV_MAX_FORWARD_MSG (signed PSBTs). */
	size_t max_msg;
};
/* sv_server_new with @lim (borrowed; NULL: the defaults). */
struct rpc_server *sv_server_new_limits(struct ev_loop *loop,
					struct supervisor *sv,
					const char *const *listen,
					size_t num_listen,
					const char *unix_path,
					const char *cert, const char *key,
					const struct rpc_macaroon_svc *macaroons,
					const struct sv_server_limits *lim);

#endif /* COLDNODE_SUPERVISOR_H */
