/*~ rpc: coldnode's gRPC surface.
 *
 * Three layers, all behind this one header:
 *
 *  1. A generic gRPC server core (rpc_server_*, rpc_call_*): HTTP/2 over TLS
 *     (ALPN "h2") on TCP listeners and/or a unix socket, on the caller's libev
 *     loop.  Methods are registered by full path ("/lnrpc.Lightning/GetInfo")
 *     with a kind, the macaroon permissions they need and callbacks.  The
 *     core does framing (5-byte prefix), trailers (grpc-status,
 *     grpc-message), grpc-timeout, macaroon checks, UNIMPLEMENTED for unknown
 *     paths and RESOURCE_EXHAUSTED for oversized messages.  The signer port
 *     (/watchonlyrpc.WatchOnly/SignCoordinatorStreams) is served by the same
 *     core on its own rpc_server.
 *
 *  2. Macaroons compatible with lnd (rpc_macaroon_*): binary v2, location
 *     "lnd", identifier 0x03 + MacaroonId protobuf, HMAC-SHA256 chain,
 *     first-party caveats "time-before" and "ipaddr".
 *
 *  3. The node's monitoring surface (rpc_node_*): GetInfo, WalletBalance,
 *     Supervisor GetState/SubscribeState, Wallet ImportUnspent and the gRPC
 *     health service, on an rpc_server it owns.  Data comes from a provider
 *     callbacks struct the daemon fills; nothing here needs the signer.
 *
 * Plus a small gRPC client (rpc_client_*) for coldctl and coldsigner.
 *
 * Argument order: context first, then outputs, then inputs; a length follows
 * its buffer.  Ownership of every pointer crossing this header is written
 * next to it: "borrowed" (caller keeps it; valid for the stated time),
 * "copied" (we copy it before returning), "takes" (we free it).
 */
#ifndef COLDNODE_RPC_H
#define COLDNODE_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "admit/admit.h"
#include "common/common.h"

struct ev_loop;
struct rpc_server;
struct rpc_call;
struct rpc_macaroon_svc;
struct rpc_node;
struct rpc_client;
struct rpc_client_stream;

/* gRPC status codes (grpc/doc/statuscodes.md); values are on the wire. */
enum rpc_status {
	RPC_STATUS_OK = 0,
	RPC_STATUS_CANCELLED = 1,
	RPC_STATUS_UNKNOWN = 2,
	RPC_STATUS_INVALID_ARGUMENT = 3,
	RPC_STATUS_DEADLINE_EXCEEDED = 4,
	RPC_STATUS_NOT_FOUND = 5,
	RPC_STATUS_ALREADY_EXISTS = 6,
	RPC_STATUS_PERMISSION_DENIED = 7,
	RPC_STATUS_RESOURCE_EXHAUSTED = 8,
	RPC_STATUS_FAILED_PRECONDITION = 9,
	RPC_STATUS_ABORTED = 10,
	RPC_STATUS_OUT_OF_RANGE = 11,
	RPC_STATUS_UNIMPLEMENTED = 12,
	RPC_STATUS_INTERNAL = 13,
	RPC_STATUS_UNAVAILABLE = 14,
	RPC_STATUS_DATA_LOSS = 15,
	RPC_STATUS_UNAUTHENTICATED = 16,
};

/* "OK", "CANCELLED", ... ; static string.  Unknown values give "UNKNOWN". */
const char *rpc_status_str(enum rpc_status st);

/*
 * ---------------------------------------------------------------------------
 * Permissions (lnd's bakery ops: entity + action).
 */
struct rpc_perm {
	const char *entity; /* borrowed; e.g. "info" */
	const char *action; /* borrowed; e.g. "read" */
};

/*
 * ---------------------------------------------------------------------------
 * Macaroon service: holds one 32-byte root key (sodium_malloc memory).
 */

/**
 * rpc_macaroon_svc_new - load the root key from @rootkey_path.
 * @rootkey_path: borrowed.  A file of exactly 32 bytes, mode 0600.
 * @create: if the file does not exist, create it with fresh random bytes.
 * Returns NULL (and logs) if the file is unreadable, the wrong size, or
 * cannot be created.
 */
struct rpc_macaroon_svc *rpc_macaroon_svc_new(const char *rootkey_path,
					      bool create);
/* Same, from a key in memory. @rootkey: copied (into sodium_malloc memory). */
struct rpc_macaroon_svc *rpc_macaroon_svc_from_key(const uint8_t rootkey[32]);
/* Zeroes and frees the key. NULL ok. */
void rpc_macaroon_svc_free(struct rpc_macaroon_svc *svc);

/**
 * rpc_macaroon_bake - mint an lnd-compatible binary v2 macaroon.
 * @svc: borrowed.
 * @out, @outlen: *out is malloc'd; the caller takes it (free()).
 * @perms, @num_perms: borrowed; grouped by entity into MacaroonId ops.
 * @caveats, @num_caveats: borrowed; first-party caveats, e.g.
 *    "time-before 2030-01-01T00:00:00Z" or "ipaddr 127.0.0.1".  May be 0.
 * Returns false on allocation failure or an over-long input.
 */
bool rpc_macaroon_bake(const struct rpc_macaroon_svc *svc,
		       uint8_t **out, size_t *outlen,
		       const struct rpc_perm *perms, size_t num_perms,
		       const char *const *caveats, size_t num_caveats)
	CN_WARN_UNUSED;

/**
 * rpc_macaroon_verify - check a macaroon for a request.
 * @svc: borrowed.
 * @why, @whylen: out; a human-readable reason on failure (never secrets).
 * @mac, @maclen: borrowed; the binary macaroon (already hex-decoded).
 * @method: borrowed; the full gRPC path, accepted as "uri:<method>" op too.
 * @required, @num_required: borrowed; every one must be granted.
 * @peer_ip: borrowed; textual client IP for "ipaddr" caveats, NULL for a
 *    unix-socket client (an ipaddr caveat then fails).
 * @now: unix time, for "time-before".
 * Returns RPC_STATUS_OK, RPC_STATUS_UNAUTHENTICATED (malformed, bad
 * signature, failed caveat) or RPC_STATUS_PERMISSION_DENIED (valid but
 * lacking a permission).
 */
enum rpc_status rpc_macaroon_verify(const struct rpc_macaroon_svc *svc,
				    char *why, size_t whylen,
				    const uint8_t *mac, size_t maclen,
				    const char *method,
				    const struct rpc_perm *required,
				    size_t num_required,
				    const char *peer_ip, int64_t now);

/* Writes @mac to @path with mode 0600 (atomically: temp file + rename).
 * @path, @mac: borrowed.  Logs and returns false on failure. */
bool rpc_macaroon_write_file(const char *path, const uint8_t *mac,
			     size_t maclen) CN_WARN_UNUSED;

/* A macaroon file made once: when @path does not exist yet, bakes a
 * macaroon with @perms (no caveats) from @svc's root key and writes it
 * with rpc_macaroon_write_file; an existing file is left as it is (the
 * operator may have replaced it).  @wrote (may be NULL): set true when a
 * file was written.  False on failure (logged).  All pointers borrowed. */
bool rpc_macaroon_bake_file(const struct rpc_macaroon_svc *svc,
			    const char *path, const struct rpc_perm *perms,
			    size_t num_perms, bool *wrote) CN_WARN_UNUSED;

/*
 * ---------------------------------------------------------------------------
 * TLS material.
 */

/**
 * rpc_tls_ensure - create a self-signed ECDSA P-256 certificate and key at
 * @cert_path / @key_path (0600) unless both exist already; an expired one
 * is renewed (see rpc_tls_ensure_names).
 * @hosts, @num_hosts: borrowed; host names and IP literals for the SANs
 *    ("localhost" and 127.0.0.1 / ::1 are always added).
 * Returns false (and logs) on failure.
 */
bool rpc_tls_ensure(const char *cert_path, const char *key_path,
		    const char *const *hosts, size_t num_hosts) CN_WARN_UNUSED;

/**
 * rpc_tls_ensure_names - rpc_tls_ensure, renewing like lnd at startup.
 * @hosts: listener hosts and extra names/IPs (borrowed); "0.0.0.0" or "::"
 *    adds every interface address (getifaddrs) and the host name.
 * An existing pair is moved to <path>.old and a new one made when the
 * certificate has expired, or (only if @autorefresh, lnd's
 * --tlsautorefresh) when it lacks one of those names; without
 * @autorefresh a missing name is logged.  rpc_tls_ensure is this with
 * @autorefresh false.  Returns false (and logs) on failure.
 */
bool rpc_tls_ensure_names(const char *cert_path, const char *key_path,
			  const char *const *hosts, size_t num_hosts,
			  bool autorefresh) CN_WARN_UNUSED;

/*
 * ---------------------------------------------------------------------------
 * Generic gRPC server core.
 */

enum rpc_kind {
	RPC_KIND_UNARY,         /* one request, one response */
	RPC_KIND_SERVER_STREAM, /* one request, many responses */
	RPC_KIND_CLIENT_STREAM, /* many requests, one response */
	RPC_KIND_BIDI_STREAM,   /* many both ways */
};

/*
 * Callbacks of one method.  @arg is rpc_method.arg.  @call is borrowed and
 * valid from on_start until on_closed returns.
 */
struct rpc_method {
	const char *path;   /* borrowed during rpc_server_add_method (copied) */
	enum rpc_kind kind;
	/* Permissions, all required.  Copied.  num_perms == 0 is only allowed
	 * with no_macaroon = true (a deliberate public method). */
	const struct rpc_perm *perms;
	size_t num_perms;
	bool no_macaroon;
	/* Refuse new calls beyond this many at once with RESOURCE_EXHAUSTED
	 * ("too many concurrent calls"); 0 = no cap.  Owners that want their
	 * own status can leave 0 and check rpc_server_method_calls() in
	 * on_start instead. */
	size_t max_calls;

	/* Headers accepted and macaroon verified; may call rpc_call_finish to
	 * refuse.  May be NULL. */
	void (*on_start)(void *arg, struct rpc_call *call);
	/* One complete request message; @msg borrowed until return.  For
	 * UNARY/SERVER_STREAM it is called once, as soon as the message is
	 * complete (no message at all: the core answers INTERNAL; a second
	 * one: INTERNAL unless the call was already finished). */
	void (*on_message)(void *arg, struct rpc_call *call,
			   const uint8_t *msg, size_t len);
	/* The client half-closed (no more messages).  May be NULL. */
	void (*on_half_close)(void *arg, struct rpc_call *call);
	/* The call is over: finished by us, cancelled/reset by the client,
	 * deadline passed, connection lost or server freed.  @st is the status
	 * sent (or CANCELLED / DEADLINE_EXCEEDED / UNAVAILABLE).  The handle is
	 * invalid after return: free any rpc_call_set_data() data here. */
	void (*on_closed)(void *arg, struct rpc_call *call, enum rpc_status st);
	void *arg; /* borrowed; must outlive the server */
};

struct rpc_server_config {
	/* TCP listeners "host:port" ("127.0.0.1:10009", "[::1]:0"); borrowed
	 * during rpc_server_new.  Port 0 picks a free port (rpc_server_addr). */
	const char *const *listen;
	size_t num_listen;
	/* Unix socket path or NULL; borrowed during rpc_server_new.  An
	 * existing socket file is replaced. */
	const char *unix_path;
	/* PEM certificate and key; borrowed during rpc_server_new.  Both NULL
	 * means cleartext HTTP/2 (prior knowledge), for tests only. */
	const char *tls_cert_path;
	const char *tls_key_path;
	/* Borrowed; must outlive the server.  NULL: every method that needs a
	 * macaroon is refused with UNAUTHENTICATED. */
	const struct rpc_macaroon_svc *macaroons;
	size_t max_recv_msg;    /* bytes per request message; default 4 MiB */
	/* Limits on what a connection can make us hold before a macaroon
	 * passed on it (docs/hardening.md, issue 22).  "Authenticated" here:
	 * a call on this connection whose macaroon passed its signature,
	 * caveat and permission checks (on the signer port too, where the
	 * budget's authenticated class waits for the owner).
	 * max_unauth_msg: bytes per request message of a macaroon-less
	 *   (no_macaroon) method, on any connection; default 1 KiB (a
	 *   health request is a few bytes).
	 * max_unauth_calls: macaroon-less calls open at once on one pre-auth
	 *   connection; default 4.  max_unauth_calls_total: on all pre-auth
	 *   connections together; default 256.  Beyond: RESOURCE_EXHAUSTED.
	 * max_header_list: RFC 9113 §6.5.2 size of one request's header
	 *   list, advertised as SETTINGS_MAX_HEADER_LIST_SIZE and enforced:
	 *   beyond it the stream is reset (RESOURCE_EXHAUSTED when it can
	 *   still be answered); default 32 KiB (a 16 KiB-hex macaroon fits).
	 * max_preauth_header_bytes: header bytes (same measure) one
	 *   connection may send in all its requests before it is
	 *   authenticated; beyond it the connection is closed; default
	 *   256 KiB. */
	size_t max_unauth_msg;
	size_t max_unauth_calls;
	size_t max_unauth_calls_total;
	size_t max_header_list;
	size_t max_preauth_header_bytes;
	/* Streams open at once per connection, advertised as
	 * SETTINGS_MAX_CONCURRENT_STREAMS; a stream beyond it is refused
	 * (REFUSED_STREAM, or a connection error if the client had already
	 * acknowledged the limit) with a rate-limited log line.  Default 128. */
	size_t max_streams;
	/* The option that sets max_streams, named in that log line (e.g.
	 * "--rpc.maxstreams"); borrowed (static).  NULL: none. */
	const char *max_streams_flag;
	/* Connection budget (src/admit, docs/hardening.md).  TCP and the unix
	 * socket each have their own.  max_conns: authenticated connections
	 * (a call whose macaroon passed); default 256.  max_preauth: the
	 * rest (TLS, preface, no call or only macaroon-less calls yet), full
	 * means a newcomer evicts one of them; default 128.
	 * max_preauth_per_source: pre-auth TCP connections per IPv4 address
	 * or IPv6 /64, refused at accept before TLS beyond it; default 32.
	 * max_unix_preauth: the unix socket's pre-auth budget; default 32. */
	size_t max_conns;
	size_t max_preauth;
	size_t max_preauth_per_source;
	size_t max_unix_preauth;
	/* false (default): a call whose macaroon passed makes its connection
	 * authenticated.  true: only the method's owner does, with
	 * rpc_call_authenticated (the signer port: registration accepted). */
	bool owner_authenticates;
	/* Listener names in counters and log lines; borrowed (static).
	 * Default "rpc" and "rpc-unix". */
	const char *admit_name, *admit_unix_name;
	/* Options named in the budget's log lines; borrowed (static). */
	const char *preauth_flag, *per_source_flag;
	size_t max_send_queue;  /* bytes queued per connection before it is
				 * dropped as a slow reader; default 16 MiB */
	/* Seconds from accept to the first authorised call (TLS handshake,
	 * HTTP/2 preface, then a call whose macaroon check passed or that
	 * needs none); a connection that makes none in time is closed, so
	 * idle sockets cannot hold the max_conns slots.  Default 10. */
	double handshake_timeout;
	/* Seconds a connection may stay with no open stream before it is
	 * closed with a GOAWAY (clients reconnect); 0: never.  Default 300. */
	double idle_timeout;
	const char *log_subsys;   /* borrowed (static); default "RPC" */
	/* A connection was accepted (TCP or unix, before TLS: nothing about
	 * it is proven yet), for owners that can start slow work early
	 * (the signer port dials peers ahead of registration).  Only
	 * connections the budget admitted: one refused at accept is never
	 * reported, and an eviction is not reported again.  @peer
	 * ("ip:port" / "unix") borrowed for the call.  NULL: none. */
	void (*on_accept)(void *arg, const char *peer);
	void *on_accept_arg; /* borrowed */
};

/* Fills @cfg with the defaults above (no listeners, no TLS, no macaroons). */
void rpc_server_config_default(struct rpc_server_config *cfg);

/**
 * rpc_server_new - bind the listeners and start accepting on @loop.
 * @loop: borrowed; must outlive the server.  @cfg: copied.
 * Returns NULL (and logs) if a listener cannot be bound or TLS material
 * cannot be loaded.
 */
struct rpc_server *rpc_server_new(struct ev_loop *loop,
				  const struct rpc_server_config *cfg);

/* Closes every connection (each live call gets on_closed with UNAVAILABLE),
 * the listeners and the unix socket file.  NULL ok. */
void rpc_server_free(struct rpc_server *srv);

/* Registers a method (at any time).  @m: copied (strings and perms too).
 * Aborts on a duplicate path, a path not starting with '/', no on_message,
 * or a method that needs a macaroon but lists no perms (programmer
 * errors). */
void rpc_server_add_method(struct rpc_server *srv, const struct rpc_method *m);

/* Calls of @path in progress (0 for an unknown path).  @path borrowed. */
size_t rpc_server_method_calls(const struct rpc_server *srv, const char *path);
/* Bound TCP port of listener @idx (in cfg.listen order), 0 if none. */
uint16_t rpc_server_port(const struct rpc_server *srv, size_t idx);

/* Per-method statistics, for metrics.  A call is counted when it is
 * finished with a status (rpc_call_finish); its latency runs from its
 * request headers to that status.  Calls of unregistered paths are counted
 * under the method "unknown" (the path a client chose is no label). */
#define RPC_NUM_STATUS 17
struct rpc_method_stats {
	const char *method; /* borrowed: valid for the callback only */
	uint64_t calls[RPC_NUM_STATUS]; /* by enum rpc_status */
	struct cn_hist latency;
};
/* @fn called once per registered method, then once for "unknown". */
void rpc_server_foreach_stats(const struct rpc_server *srv,
			      void (*fn)(void *arg,
					 const struct rpc_method_stats *st),
			      void *arg);
/* Connections open now (TCP and unix, TLS handshake included). */
size_t rpc_server_num_conns(const struct rpc_server *srv);
/* Connection-budget counters of the TCP listeners ([0]) and the unix
 * socket ([1], if any).  Returns how many were written (at most @max). */
size_t rpc_server_admit_stats(const struct rpc_server *srv,
			      struct admit_stats *out, size_t max);

/* --- One call (stream) ---------------------------------------------------- */

/**
 * rpc_call_send - queue one response message (framed with the 5-byte gRPC
 * prefix).  @msg: copied.  Returns false if the call is already finished or
 * closed (the message is dropped).  Not for UNARY/CLIENT_STREAM calls more
 * than once.  Neither this nor rpc_call_finish calls back into any owner:
 * bytes are written after the current read, or from the loop.
 */
bool rpc_call_send(struct rpc_call *call, const uint8_t *msg, size_t len);

/**
 * rpc_call_finish - end the call with trailers grpc-status / grpc-message.
 * @msg: copied; may be NULL.  Idempotent (later calls are ignored).  The
 * handle stays valid until on_closed.
 */
void rpc_call_finish(struct rpc_call *call, enum rpc_status st,
		     const char *msg);

/* The client behind @call proved itself (rpc_server_config
 * .owner_authenticates): its connection leaves the pre-auth class of the
 * connection budget and is never evicted by a flood. */
void rpc_call_authenticated(struct rpc_call *call);

/* The connection @call came on, as an identity to compare (two calls on
 * one connection give the same pointer; valid while the call lives).
 * Never dereferenced by owners. */
const void *rpc_call_connection(const struct rpc_call *call);
/* End @call's whole connection once the call's status is sent (call it
 * before rpc_call_finish): the owner found the client untrustworthy (the
 * signer port: a key check failed), so it must connect again, through the
 * pre-auth budget, rather than retry on a connection that got past it. */
void rpc_call_close_connection(struct rpc_call *call);

/* User data: borrowed pointer the owner frees in on_closed. */
void rpc_call_set_data(struct rpc_call *call, void *data);
void *rpc_call_data(const struct rpc_call *call);

/* "ip:port" of the client, or "unix" for the unix socket; borrowed, valid
 * until on_closed. */
const char *rpc_call_peer(const struct rpc_call *call);
/* Whether rpc_call_finish was called (or the call was cancelled). */
bool rpc_call_finished(const struct rpc_call *call);
/* The client's grpc-timeout in seconds (its deadline, counted from the
 * request headers), or 0 if it sent none.  The core ends the call with
 * DEADLINE_EXCEEDED then; an owner that must answer first (the signer
 * proxy) reads it here. */
double rpc_call_timeout(const struct rpc_call *call);

/*
 * ---------------------------------------------------------------------------
 * Node monitoring surface.
 */

/* One BOLT 9 feature for GetInfo.features (map key = bit). */
struct rpc_feature {
	uint32_t bit;
	const char *name; /* borrowed until get_info returns */
	bool is_required;
	bool is_known;
};

/*
 * What GetInfo reports.  The rpc module zeroes it before get_info; fields
 * left zero are sent as proto3 zero values (absent), as documented in
 * docs/rpc.md.  Strings/arrays are borrowed until get_info returns.
 */
struct rpc_node_info {
	bool have_identity;
	uint8_t identity_pubkey[33];
	const char *alias;
	uint8_t color[3];
	uint32_t num_peers;
	bool have_block;
	uint32_t block_height;
	uint8_t block_hash[32]; /* internal byte order; shown reversed */
	bool synced_to_chain;
	int64_t best_header_timestamp; /* header time of block_height */
	bool synced_to_graph;
	const char *network;    /* "mainnet", "testnet", "regtest", "signet" */
	const struct rpc_feature *features;
	size_t num_features;
	const char *const *uris; /* "pubkey@host:port" */
	size_t num_uris;
};

/*
 * Supervisor state for /coldrpc.Supervisor/GetState and SubscribeState.
 * Zeroed before get_state; strings borrowed until get_state returns.
 */
#define RPC_MAX_LISTENER_STATS 8
struct rpc_sv_state {
	const char *state;        /* e.g. "ACTIVE", "WAITING_FOR_SIGNER",
				   * "SAFE_MODE" (supervisor's names) */
	int64_t since_unix;       /* when this state was entered */
	const char *last_cause;   /* why the last transition happened */
	bool signer_connected;
	const char *signer_info;  /* registration_info, "" if none */
	const char *signer_peer;  /* "ip:port" of the signer stream */
	int64_t signer_since_unix;
	uint32_t peers_gossip_only;
	uint32_t peers_full;
	uint64_t gossip_channels;
	uint64_t gossip_nodes;
	uint64_t gossip_updates;
	uint64_t gossip_channels_unverified; /* no UTXO check possible */
	/* The graph sync (GossipCounts 5-14). */
	const char *gossip_sync_phase; /* static string, NULL: "" */
	uint64_t gossip_syncs_started, gossip_syncs_completed;
	uint64_t gossip_syncs_failed;
	int64_t gossip_last_sync_unix;
	uint64_t gossip_next_sync_in;
	uint64_t gossip_scid_queries, gossip_scids_asked;
	uint64_t gossip_sync_waits, gossip_refused_capacity;
	/* Supervisor counters since start (SupervisorState.counters). */
	uint64_t generation;
	uint64_t to_waiting_for_signer; /* entries into each state */
	uint64_t to_active;
	uint64_t to_safe_mode;
	uint64_t to_shutting_down;
	uint64_t signer_sessions;
	uint64_t signer_registrations;
	uint64_t signer_losses;
	uint64_t signer_refused;
	uint64_t key_mismatches;
	uint64_t requests_ok;
	uint64_t requests_failed;
	uint64_t requests_unavailable;
	uint64_t requests_timed_out;
	uint64_t full_sessions_closed;
	uint64_t requests_in_flight;
	uint64_t requests_queued;
	/* Early persistent-peer dials (SupervisorState.dials). */
	uint64_t dial_signer_arrivals;
	uint64_t dial_early;
	uint64_t dial_early_ready;
	uint64_t dial_early_refused;
	uint64_t dial_park_timeouts;
	uint64_t dial_pending_now;
	/* Standby signers (SupervisorCounters 15-19, SupervisorState.signers,
	 * issue #19). */
	uint64_t failovers;
	uint64_t requests_resent;
	uint64_t standby_registrations;
	uint64_t requests_early;
	uint64_t requests_early_dropped;
	/* Strangers' ECDH budget (SupervisorCounters 20-21). */
	uint64_t inbound_ecdh, inbound_ecdh_refused;
#define RPC_MAX_SIGNERS 16
	struct rpc_signer_entry {
		const char *role; /* "active", "standby", "checking" */
		const char *peer;
		const char *info;
		int64_t since_unix, role_since_unix;
		uint64_t requests_answered, requests_in_flight;
	} signers[RPC_MAX_SIGNERS];
	size_t num_signers;
	/* Connection budgets (SupervisorState.listeners): the provider fills
	 * the first ones (signer port, p2p), the node appends its own. */
	struct admit_stats listeners[RPC_MAX_LISTENER_STATS];
	size_t num_listeners;
	/* Chain backend (SupervisorState.chain; health service "chain"). */
	struct rpc_chain_state {
		const char *backend;    /* NULL or "none": no backend */
		const char *status;     /* chain_status_name() */
		bool connected;
		uint32_t height;
		uint8_t hash[32];       /* internal byte order; zero: none */
		int64_t tip_time;
		uint32_t node_height;
		bool synced;
		const char *last_error;
		const char *node_chain;
		uint64_t blocks_connected, blocks_disconnected;
		uint64_t requests, errors, lost_count;
		/* By chain_check: ok, no_block, no_tx, no_output,
		 * not_p2wsh, wrong_keys, spent, unconfirmed, unavailable. */
		uint64_t checks[9];
		uint64_t checks_queued, watched, spent, forgotten, reorgs;
		/* The re-check at 6 confirmations: waiting, and results
		 * (same order as checks). */
		uint64_t rechecks_pending;
		uint64_t rechecks[9];
		/* bitcoind's ZMQ (ChainState 25-31). */
		uint64_t zmq_rawtx, zmq_rawblock, zmq_gaps, zmq_restarts;
		uint64_t zmq_malformed, mempool_full_polls;
		bool zmq_rawtx_silent;
	} chain;
	/* Leader election (SupervisorState.cluster, docs/cluster.md);
	 * enabled false: no cluster object.  Strings borrowed. */
	struct rpc_cluster_state {
		bool enabled;
		const char *role, *id, *leader_id, *leader_signer;
		const char *endpoint, *last_error;
		uint64_t token, leader_token;
		double lease_left, ttl, renewal_latency_avg;
		uint64_t renewals, renewals_failed, leadership_changes;
		uint64_t elected, stood_down, fencing_refusals;
		int64_t role_since_unix;
	} cluster;
	/* The signer proxy (SupervisorState.signer_proxy); absent unless
	 * enabled.  Strings borrowed until get_state returns. */
	struct rpc_signerproxy_state {
		bool enabled;
		const char *listen;
		double hold_time;
		uint64_t held_now, in_flight_now, connections;
		size_t num_methods;
		struct rpc_signerproxy_method {
			const char *method;
			uint64_t calls, forwarded, held, ok, signer_error;
			uint64_t signer_away, signer_lost, signer_slow;
			uint64_t bad_reply, cancelled;
			double wait_sum, signer_sum;
			uint64_t wait_count, signer_count;
		} methods[16];
	} signer_proxy;
};

/* Filled by the daemon; every callback may be NULL (fields stay zero).
 * Called on the loop thread at request time: must not block. */
struct rpc_provider {
	void (*get_info)(void *arg, struct rpc_node_info *out);
	void (*get_state)(void *arg, struct rpc_sv_state *out);
	void *arg; /* borrowed; must outlive the rpc_node */
};

struct rpc_node_config {
	/* Data dir: tls.cert, tls.key, macaroons.key, *.macaroon and
	 * wallet.sqlite live here unless overridden.  Borrowed during _new. */
	const char *datadir;
	const char *const *listen; /* as rpc_server_config; borrowed */
	size_t num_listen;
	const char *unix_path;     /* NULL: none; borrowed */
	const char *tls_cert_path; /* NULL: <datadir>/tls.cert; borrowed */
	const char *tls_key_path;  /* NULL: <datadir>/tls.key; borrowed */
	/* Extra SAN entries for a newly created cert; borrowed. */
	const char *const *tls_extra_hosts;
	size_t num_tls_extra_hosts;
	bool tls_autorefresh; /* see rpc_tls_ensure_names */
	const char *version;       /* GetInfo.version; borrowed (static) */
	/* Health service name that is NOT_SERVING while the signer is away.
	 * NULL: "coldnode.signer".  Borrowed (static). */
	const char *signer_health_service;
	/* Slow-reader cap per connection (rpc_server_config.max_send_queue);
	 * 0: the default. */
	size_t max_send_queue;
	/* Streams per connection (rpc_server_config.max_streams); 0: the
	 * default.  The daemon's flag for it is --rpc.maxstreams. */
	size_t max_streams;
	/* rpc_server_config.max_conns, .handshake_timeout and .idle_timeout;
	 * 0: the default. */
	size_t max_conns;
	double handshake_timeout;
	double idle_timeout;
	/* rpc_server_config.max_preauth and .max_preauth_per_source; 0: the
	 * default (per source: set no_per_source_cap for none). */
	size_t max_preauth, max_preauth_per_source;
	bool no_per_source_cap;
	/* Wallet: the network accounts must be for (NULL: "mainnet") and the
	 * gap limit (0: the wallet's default).  Borrowed during _new. */
	const char *network;
	uint32_t wallet_gap;
};

/**
 * rpc_node_new - prepare the data dir (TLS cert/key, macaroon root key and
 * admin/readonly/monitor macaroons on first start, wallet.sqlite) and start
 * serving on @loop.
 * @loop: borrowed.  @cfg: copied.  @prov: copied; prov->arg borrowed.
 * Returns NULL (and logs) on any failure.
 */
struct rpc_node *rpc_node_new(struct ev_loop *loop,
			      const struct rpc_node_config *cfg,
			      const struct rpc_provider *prov);
/* Ends every call and frees everything the node owns. NULL ok. */
void rpc_node_free(struct rpc_node *node);

/* The supervisor state changed: push it to SubscribeState streams and the
 * health Watch streams (reads it again through prov->get_state). */
void rpc_node_state_changed(struct rpc_node *node);

/* The node's server (e.g. to add methods) and macaroon service; borrowed,
 * owned by @node. */
struct rpc_server *rpc_node_server(struct rpc_node *node);
const struct rpc_macaroon_svc *rpc_node_macaroons(const struct rpc_node *node);
/* The wallet the node serves (wallet.sqlite), for the daemon to feed
 * blocks into; borrowed, owned by @node. */
struct wallet *rpc_node_wallet(struct rpc_node *node);

/*
 * ---------------------------------------------------------------------------
 * gRPC client (HTTP/2 over TLS, the server verified against a given cert).
 */

struct rpc_client_config {
	/* "host:port" or "unix:/path"; borrowed during _new. */
	const char *target;
	/* PEM cert the server must present (pinned, like lncli); NULL means
	 * cleartext HTTP/2 (tests only).  Borrowed during _new. */
	const char *tls_cert_path;
	/* Macaroon hex for the "macaroon" header, or NULL; copied. */
	const char *macaroon_hex;
	double timeout; /* seconds for connect and each call; default 30 */
};

void rpc_client_config_default(struct rpc_client_config *cfg);

/**
 * rpc_client_new - connect (blocking) and complete TLS + HTTP/2 setup.
 * @cfg: copied.  @err, @errlen: out, a reason on failure.
 */
struct rpc_client *rpc_client_new(char *err, size_t errlen,
				  const struct rpc_client_config *cfg);
void rpc_client_free(struct rpc_client *c);

/**
 * rpc_client_unary - blocking unary call.
 * @resp, @resplen: out; *resp malloc'd, caller takes it (NULL on failure).
 * @status_msg, @msglen: out; grpc-message text ("" if none).
 * @path, @req: borrowed.
 * Returns the grpc-status (UNAVAILABLE on transport failure,
 * DEADLINE_EXCEEDED on timeout).
 */
enum rpc_status rpc_client_unary(struct rpc_client *c,
				 uint8_t **resp, size_t *resplen,
				 char *status_msg, size_t msglen,
				 const char *path,
				 const uint8_t *req, size_t reqlen);

/*
 * Event-driven streaming client on a libev loop (one connection per stream),
 * for long-lived streams such as coldsigner's SignCoordinatorStreams.
 * Callbacks get @arg; @stream is borrowed.
 */
struct rpc_client_stream_cbs {
	/* The stream is open (TLS + HTTP/2 up, request headers sent). NULL ok */
	void (*on_open)(void *arg, struct rpc_client_stream *stream);
	/* One response message; @msg borrowed until return. */
	void (*on_message)(void *arg, struct rpc_client_stream *stream,
			   const uint8_t *msg, size_t len);
	/* The stream ended: grpc-status and message (UNAVAILABLE if the
	 * connection failed).  @msg borrowed until return.  The caller must
	 * still call rpc_client_stream_free (not from inside this callback is
	 * fine too: it is safe either way). */
	void (*on_close)(void *arg, struct rpc_client_stream *stream,
			 enum rpc_status st, const char *msg);
};

/**
 * rpc_client_stream_open - start connecting and open a stream on @path.
 * @loop: borrowed.  @cfg: copied.  @path: copied.  @cbs: copied.
 * @arg: borrowed.  Connection errors are reported through on_close (never
 * from inside this function).  Returns NULL only on allocation failure or a
 * bad target string.
 */
struct rpc_client_stream *rpc_client_stream_open(
	struct ev_loop *loop, const struct rpc_client_config *cfg,
	const char *path, const struct rpc_client_stream_cbs *cbs, void *arg);
/* Queue one message (framed). @msg copied.  False if the stream is closed. */
bool rpc_client_stream_send(struct rpc_client_stream *s, const uint8_t *msg,
			    size_t len);
/* Half-close our side (END_STREAM). */
void rpc_client_stream_close_send(struct rpc_client_stream *s);
/* Cancel (RST_STREAM if open) and free; no callback fires. NULL ok. */
void rpc_client_stream_free(struct rpc_client_stream *s);

#endif /* COLDNODE_RPC_H */
