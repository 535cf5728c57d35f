/*~ peer: BOLT 1 sessions on top of brontide.
 *
 * The peer manager listens and dials, runs the handshake through brontide
 * (asking the key source for the one node-key ECDH), exchanges `init`,
 * answers pings, and hands gossip (BOLT 7, types 256..265) up to whoever
 * registered for it.  Each session has a mode:
 *   - PEER_MODE_GOSSIP_ONLY: only BOLT 1 control and BOLT 7 gossip flow; such
 *     a session survives signer loss (its cipher keys are its own).
 *   - PEER_MODE_FULL: the peer speaks channel messages (types 32..255) and so
 *     needs the signer; it is closed the moment the signer is lost.
 * A peer is full if configured so, or as soon as it sends a channel message
 * (if the owner allows that at the time; otherwise it is closed).
 *
 * Ownership: the manager owns every struct peer; pointers handed to
 * callbacks are borrowed and valid until peer_gone returns.
 */
#ifndef COLDNODE_PEER_H
#define COLDNODE_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ev_loop;
struct peer;
struct peer_mgr;

enum peer_mode {
	PEER_MODE_GOSSIP_ONLY,
	PEER_MODE_FULL,
};

const char *peer_mode_str(enum peer_mode mode);

/* Where the node-key ECDH comes from: the local key file or the signer.
 * ecdh() starts request @id; the answer comes back, now or later, through
 * peer_mgr_ecdh_done(mgr, id, ...).  cancel() says @id is no longer wanted. */
struct peer_keysource {
	void (*ecdh)(void *arg, uint64_t id, const uint8_t point[33]);
	void (*cancel)(void *arg, uint64_t id);
	void *arg;
};

/* Events up to the owner (daemon / supervisor / gossip).  Any may be NULL. */
struct peer_mgr_cbs {
	/* init exchanged: the session is usable. */
	void (*peer_ready)(void *arg, struct peer *p);
	/* A ready session is going away (any reason); @p still valid here.
	 * Sessions that never reached peer_ready go without this call. */
	void (*peer_gone)(void *arg, struct peer *p, const char *why);
	/* A gossip message (types 256..265), @msg borrowed until return.
	 * The callee may send to @p, or drop it with peer_close. */
	void (*gossip_msg)(void *arg, struct peer *p, const uint8_t *msg,
			   size_t len);
	/* May a gossip-only peer become full right now?  (false in safe mode:
	 * the peer is closed instead).  NULL means always. */
	bool (*allow_full)(void *arg);
	/* Mode changed (always gossip-only -> full). */
	void (*mode_changed)(void *arg, struct peer *p, enum peer_mode mode);
	/* A channel/commitment message (types 32..255) from a full peer, @msg
	 * borrowed until return.  NULL: logged and ignored. */
	void (*channel_msg)(void *arg, struct peer *p, const uint8_t *msg,
			    size_t len);
};

struct peer_mgr_config {
	uint8_t local_pub[33];  /* our node id */
	uint8_t chain_hash[32]; /* for init's networks TLV */
	double handshake_timeout; /* seconds, default 10 */
	double ping_interval;     /* seconds between our pings, default 60 */
	double pong_timeout;      /* seconds to wait for a pong, default 30 */
	/* Resource limits; each refusal or drop is logged (log_unusual). */
	size_t max_peers;   /* ready sessions plus outbound dials; when
			     * reached, inbound connections and one-off dials
			     * are refused, and an inbound session becoming
			     * ready over it is closed (persistent --connect
			     * peers are still dialed, but not early:
			     * peer_mgr_dial_early).  0: unlimited */
	size_t max_pending; /* inbound sessions not yet ready (BOLT 8 acts,
			     * including those waiting for the signer's ECDH,
			     * and init); when reached, a newcomer evicts one
			     * (src/admit).  0: unlimited */
	/* Inbound sessions not yet ready per IPv4 address or IPv6 /64; a
	 * source over it is closed at accept, before act one's ECDH (src/admit).
	 * 0: no cap.  Inbound sessions not yet ready are max_pending at most
	 * (0: unlimited): a newcomer over it evicts one of them (the oldest of
	 * the most crowded source), never a ready session. */
	size_t max_pending_per_source;
	/* Seconds from an inbound accept to act one (lnd's brontide reads
	 * each act with a 5 s deadline, handshakeReadTimeout); 0: only
	 * handshake_timeout applies.  Default 5. */
	double act1_timeout;
	size_t send_cap;    /* bytes queued per peer; a peer over it is
			     * dropped (only that peer).  0: 4 MiB */
	const uint8_t (*full_peers)[33]; /* node ids always in full mode */
	size_t num_full_peers;
	uint32_t our_features;    /* feature bits we set in init (default:
				   * gossip_queries, optional bit 7) */
	/* Seconds an outbound handshake may wait for the node-key ECDH (act
	 * three, BOLT 8 "se") before it is closed and redialed with backoff.
	 * lnd's responder drops a handshake whose act three has not come
	 * 5 s after its act two (brontide handshakeReadTimeout), so a wait
	 * longer than that only leaves the peer a half-open handshake.
	 * Default 4; 0: no limit of its own (handshake_timeout only). */
	double park_timeout;
};

/* Counters since start (peer_mgr_dial_stats). */
struct peer_mgr_dial_stats {
	uint64_t early_dials;   /* dials started by peer_mgr_dial_early */
	uint64_t early_ready;   /* ... that reached init (peer_ready) */
	uint64_t early_failed;  /* ... closed before that (park timeout,
				 * connect error, ...); early_dials minus
				 * these two are in progress */
	uint64_t early_refused; /* early dials skipped at max_peers */
	uint64_t park_timeouts; /* outbound handshakes closed at park_timeout */
};

/* Connection-budget counters of the inbound listeners ("p2p"). */
struct admit_stats;
bool peer_mgr_admit_stats(const struct peer_mgr *mgr, struct admit_stats *out);

/* Fills @cfg with defaults (local_pub/chain_hash zero). */
void peer_mgr_config_default(struct peer_mgr_config *cfg);

/**
 * peer_mgr_new - create the manager.
 * @loop: borrowed.  @cfg: copied (full_peers copied).
 * @keys: copied struct; keys->arg borrowed.  @cbs: borrowed.
 */
struct peer_mgr *peer_mgr_new(struct ev_loop *loop,
			      const struct peer_mgr_config *cfg,
			      const struct peer_keysource *keys,
			      const struct peer_mgr_cbs *cbs, void *arg);
/* Closes every session and listener, then frees.  NULL is fine.
 * peer_gone is still called for each ready session, so free the manager
 * before whatever its callbacks use. */
void peer_mgr_free(struct peer_mgr *mgr);

/* Listen on "host:port" ("0.0.0.0:9735", "[::1]:9735").  Returns false and
 * logs on failure. */
bool peer_mgr_listen(struct peer_mgr *mgr, const char *hostport);
/* Port actually bound by the first listener (for port 0 in tests). */
uint16_t peer_mgr_listen_port(const struct peer_mgr *mgr);

/* Dial "PUBKEY@host:port".  Persistent peers are redialed with backoff
 * (1 s doubling to 60 s) until peer_mgr_free.  Returns false on a bad
 * address, or for a one-off dial when max_peers is reached. */
bool peer_mgr_connect(struct peer_mgr *mgr, const char *uri, bool persistent);
/* Redial every persistent peer that is not connected, now, in parallel. */
void peer_mgr_redial_now(struct peer_mgr *mgr);
/* A signer is on its way (its connection arrived) or coldnode starts
 * without one: dial every persistent peer that is not connected now,
 * skipping its backoff, so TCP and acts one and two (which need no node
 * key) overlap the signer's registration; each handshake then waits for
 * the ECDH at most park_timeout.  Unlike peer_mgr_redial_now, it stays
 * within max_peers, counting ready sessions and outbound dials (what is
 * left is dialed at ACTIVE by peer_mgr_redial_now).  Inbound handshakes
 * (max_pending) never hold it back: those are whoever connects to us,
 * these are our own peers.  Returns how many dials it started. */
size_t peer_mgr_dial_early(struct peer_mgr *mgr);
void peer_mgr_dial_stats(const struct peer_mgr *mgr,
			 struct peer_mgr_dial_stats *out);

/* ---- Safe mode: gossip sessions with a local key (anon.c) -------------
 *
 * While no signer is there no BOLT 8 session can be made with the node key
 * (both acts need it), so the supervisor asks the manager (docs/gossip.md,
 * "Safe mode keeps the graph fresh"):
 *   - to hold persistent redials: a backoff timer that fires while held
 *     dials nothing (the dial would park until the park deadline and the
 *     peer would log a failed handshake); peer_mgr_dial_early and
 *     peer_mgr_redial_now still dial;
 *   - to keep at least @min gossip-only sessions, dialing persistent peers
 *     (and added candidates) that have no session with a separate local
 *     key, made at random for this process and kept in memory only: it
 *     signs nothing, and a BOLT 8 initiator's static key is just a key.
 *     Such a session is gossip-only for its whole life (a channel message
 *     closes it) and never follows a persistent peer's dialer.
 */
void peer_mgr_hold_redials(struct peer_mgr *mgr, bool hold);
/* 0: stop dialing (the sessions made stay until closed). */
void peer_mgr_keep_gossip_sessions(struct peer_mgr *mgr, size_t min);
/* Close every session made with the local gossip key; returns how many. */
size_t peer_mgr_close_local_key(struct peer_mgr *mgr, const char *why);
/* A dial target besides the persistent peers ("PUBKEY@host:port"). */
bool peer_mgr_add_gossip_candidate(struct peer_mgr *mgr, const char *uri);
/* The local gossip key's public half (made on first use). */
void peer_mgr_local_gossip_pub(struct peer_mgr *mgr, uint8_t out[33]);
bool peer_is_local_key(const struct peer *p);
struct peer_mgr_local_stats {
	uint64_t dials;   /* sessions dialed with the local gossip key */
	uint64_t ready;   /* ... that reached init */
	size_t now;       /* ready now */
};
void peer_mgr_local_stats(const struct peer_mgr *mgr,
			  struct peer_mgr_local_stats *out);

/* The dial policy, pure (tested by table): which candidates to dial now.
 * A candidate is dialed if it has no session of any kind, its retry time
 * has come, and fewer than @min gossip-only sessions are ready or being
 * dialed with the local key (@have).  Writes up to @max indexes into @out
 * (candidates in order, so the operator's --connect peers come first);
 * returns how many. */
struct peer_gossip_cand {
	bool connected;   /* a session with this node, any kind, any state */
	double retry_at;  /* not before (after a failed dial) */
};
size_t peer_gossip_dial_plan(size_t *out, size_t max,
			     const struct peer_gossip_cand *c, size_t n,
			     size_t have, size_t min, double now);

/* Is keysource ecdh(@id) for an inbound handshake (a stranger: act one
 * is all it has sent)?  false if @id is not pending. */
bool peer_mgr_ecdh_inbound(const struct peer_mgr *mgr, uint64_t id);
/* Answer to keysource ecdh(@id). @secret copied; @ok false fails it. */
void peer_mgr_ecdh_done(struct peer_mgr *mgr, uint64_t id, bool ok,
			const uint8_t secret[32]);
/* Fail every pending ECDH (the signer is gone).  Inbound handshakes
 * waiting for it are closed at their handshake timeout, not before, since
 * the signer may come back; outbound ones are closed now (their responder
 * waits for act three) and redialed with backoff. */
void peer_mgr_fail_pending_ecdh(struct peer_mgr *mgr);

/* Close every session in @mode; returns how many.  @why is logged. */
size_t peer_mgr_close_mode(struct peer_mgr *mgr, enum peer_mode mode,
			   const char *why);
/* Ready sessions in @mode. */
size_t peer_mgr_count(const struct peer_mgr *mgr, enum peer_mode mode);
/* Sessions still in handshake. */
size_t peer_mgr_count_pending(const struct peer_mgr *mgr);

/* Why a session closed, for metrics. */
enum peer_close_reason {
	PEER_CLOSE_HANDSHAKE,   /* before init completed: connect, BOLT 8, init */
	PEER_CLOSE_SESSION,     /* a ready session: peer error, timeout, hang-up */
	PEER_CLOSE_SIGNER_LOST, /* peer_mgr_close_mode (full peers, safe mode) */
	PEER_CLOSE_DUPLICATE,   /* a second connection to the same node */
	PEER_CLOSE_SHUTDOWN,
};
#define PEER_NUM_CLOSE_REASONS 5
const char *peer_close_reason_str(enum peer_close_reason r);

/* Counters since start, for metrics (read-only copy). */
struct peer_mgr_stats {
	/* [inbound][ok]: sessions that reached init (ok) or closed before. */
	uint64_t handshakes[2][2];
	uint64_t closes[PEER_NUM_CLOSE_REASONS];
	/* Lightning message bytes (decrypted) received and queued to send. */
	uint64_t bytes_in, bytes_out;
};
void peer_mgr_get_stats(const struct peer_mgr *mgr,
			struct peer_mgr_stats *out);

/* Send one message (type + payload, copied).  false if the peer's send
 * buffer is over its cap (the peer is then closed) or @len > 65535. */
bool peer_send(struct peer *p, const uint8_t *msg, size_t len);
/* Close @p with a reason; it is freed after peer_gone, later in this loop
 * iteration, so @p stays valid until the current callback returns. */
void peer_close(struct peer *p, const char *why);
/* Send a BOLT 1 warning (all channels) then keep going. */
void peer_warn(struct peer *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
const uint8_t *peer_node_id(const struct peer *p); /* 33 bytes, borrowed */
enum peer_mode peer_get_mode(const struct peer *p);
bool peer_is_inbound(const struct peer *p);
/* Feature bits the peer sent in init (globalfeatures | features). */
bool peer_has_feature(const struct peer *p, unsigned bit);
/* One pointer of per-peer state for the owner (e.g. gossip filters). */
void peer_set_user(struct peer *p, void *user);
void *peer_get_user(const struct peer *p);
/* Bytes sent but not yet taken by the remote: queued here (encrypted) and
 * in the socket's send queue.  An owner sending in bulk (gossip backfill)
 * paces itself by it. */
size_t peer_queued(const struct peer *p);

#endif /* COLDNODE_PEER_H */
