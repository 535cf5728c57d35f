/*~ peer_internal: the structures shared by the session adapter (session.c)
 * and the manager (mgr.c).  Not for use outside src/peer.
 */
#ifndef COLDNODE_PEER_INTERNAL_H
#define COLDNODE_PEER_INTERNAL_H

#include "peer/peer.h"
#include "peer/peer_proto.h"
#include "admit/admit.h"
#include "common/common.h"

#include <ev.h>
#include <sys/socket.h>

struct brontide_conn;

enum peer_state {
	PEER_ST_CONNECTING, /* outbound TCP connect in progress */
	PEER_ST_HANDSHAKE,  /* BOLT 8 acts */
	PEER_ST_INIT,       /* handshake done, our init sent, waiting theirs */
	PEER_ST_READY,      /* init exchanged */
	PEER_ST_CLOSED,     /* dead, freed by the manager's reaper */
};

/* A persistent outbound peer (--connect): redialed with backoff. */
struct peer_dialer {
	struct peer_mgr *mgr;
	struct peer_dialer *next;
	uint8_t node_id[33];
	char host[256];
	uint16_t port;
	double backoff;     /* seconds until the next redial */
	ev_timer timer;
	struct peer *peer;  /* current session (any state), or NULL */
	/* An early dial of it failed: no more early dials until its backoff
	 * timer or ACTIVE redials it, so a signer that keeps connecting and
	 * never registers costs each peer no more than the backoff does. */
	bool early_failed;
};

struct peer {
	struct peer_mgr *mgr;
	struct peer *prev, *next; /* mgr->peers, closed ones included */
	struct peer *next_pending; /* mgr->pending_ecdh */
	enum peer_state state;
	enum peer_mode mode;
	bool inbound;
	bool announced; /* peer_ready was called: peer_gone will be too */
	bool early;     /* dialed by peer_mgr_dial_early */
	bool node_id_known;
	bool local_key; /* dialed with the local gossip key (anon.c) */
	struct gossip_cand *cand; /* ... for this candidate (borrowed) */
	uint8_t node_id[33];
	char addr[64]; /* remote "ip:port" for logs */
	/* Our view of their address, sent as init's remote_addr. */
	uint8_t remote_addr[19];
	size_t remote_addr_len;
	int fd; /* CONNECTING only; then owned by conn */
	struct brontide_conn *conn;
	struct peer_proto proto;
	ev_io connect_io;
	ev_timer timer;      /* connect/init timeout, then the ping interval */
	ev_timer pong_timer; /* running while a ping is outstanding */
	ev_timer park_timer; /* outbound: waiting for the ECDH (act three) */
	uint64_t ecdh_id;    /* pending keysource request, 0 if none */
	struct peer_dialer *dialer; /* borrowed, NULL if not persistent */
	void *user;
	struct admit_slot *admit_slot; /* owned; inbound only, until closed */
	ev_timer act1_timer; /* inbound: accept until act one (its ECDH) */
};

struct peer_listener {
	struct peer_listener *next;
	int fd;
	uint16_t port;
	ev_io io;
};

struct peer_mgr {
	struct ev_loop *loop;
	struct peer_mgr_config cfg; /* cfg.full_peers points at full_peers */
	uint8_t (*full_peers)[33];
	struct peer_keysource keys;
	const struct peer_mgr_cbs *cbs;
	void *arg;
	struct peer_listener *listeners;
	struct peer *peers;
	struct peer *pending_ecdh;
	struct peer_dialer *dialers;
	uint64_t next_ecdh_id;
	/* Refusals at a limit, logged at most once per LIMIT_LOG_INTERVAL. */
	struct peer_limit_log {
		double last;       /* ev_now of the last line, 0: never */
		uint64_t refused;  /* since that line */
	} log_maxpeers;
	/* "closed ... inbound (before init)" lines: anyone can cause them. */
	struct log_burst log_preinit;
	struct peer_mgr_stats stats;
	/* Set by mgr.c around its own peer_close calls; else the reason
	 * follows from the session's state. */
	int close_reason; /* enum peer_close_reason, or -1 */
	struct admit *admit; /* owned: inbound budget (src/admit) */
	ev_prepare reaper; /* frees closed peers between loop iterations */
	struct peer_mgr_dial_stats dial_stats;
	bool freeing;
	/* Safe mode (anon.c). */
	bool hold_redials;
	size_t keep_min;
	struct cn_nodekey *local_key; /* owned; made on first use */
	uint8_t local_pub[33];
	struct gossip_cand *cands;    /* added candidates, owned */
	ev_timer keep_timer;
	struct peer_mgr_local_stats local_stats;
};

/* A dial target of the local-key policy besides the persistent peers. */
struct gossip_cand {
	struct gossip_cand *next;
	uint8_t node_id[33];
	char host[256];
	uint16_t port;
	double retry_at, backoff;
	bool listed; /* keep_tick: already in this tick's view */
};

/* session.c */
/* Allocate a session on the manager's list.  @node_id NULL if unknown
 * (inbound); @sa borrowed. */
struct peer *peer_session_alloc(struct peer_mgr *mgr, bool inbound,
				const uint8_t *node_id,
				const struct sockaddr *sa);
/* TCP is connected: start the BOLT 8 handshake on @fd (takes it). */
void peer_session_start(struct peer *p, int fd);
/* peer_close with its log line at @level: evictions are counted and
 * logged once a second by the budget (src/admit), so their own lines are
 * debug, not one per flooded connection. */
void peer_close_level(struct peer *p, enum log_level level, const char *why);
/* Free a closed session's memory (from the reaper). */
void peer_session_destroy(struct peer *p);

/* mgr.c, called by session.c */
void peer_mgr_ecdh_start(struct peer *p, const uint8_t point[33]);
void peer_mgr_ecdh_forget(struct peer *p);
/* The park timer fired: the ECDH did not come in time. */
void peer_mgr_park_timeout(struct peer *p);
/* After a session reached READY: full mode, duplicates, dialer reset. */
void peer_mgr_session_ready(struct peer *p);
/* After a session closed: schedule the reaper and any redial. */
void peer_mgr_session_closed(struct peer *p);
bool peer_mgr_is_full_peer(const struct peer_mgr *mgr,
			   const uint8_t node_id[33]);

/* mgr.c, for anon.c: dial @node_id at @host:@port with the local gossip
 * key (a one-off, never persistent).  Returns the session or NULL. */
struct peer *peer_mgr_dial_local_key(struct peer_mgr *mgr,
				     const uint8_t node_id[33],
				     const char *host, uint16_t port);
/* anon.c: the manager's safe-mode state, set up and torn down. */
void peer_anon_init(struct peer_mgr *mgr);
void peer_anon_free(struct peer_mgr *mgr);
/* anon.c: a local-key session closed before init: back off its target. */
void peer_anon_session_closed(struct peer *p);

/* addr.c */
/* "PUBKEY@host:port" with a 33-byte compressed hex PUBKEY. */
bool peer_addr_parse_uri(uint8_t node_id[33], char *host, size_t hostcap,
			 uint16_t *port, const char *uri);
/* Socket address to "ip:port" / "[ip]:port"; returns @out. */
const char *peer_addr_str(char *out, size_t cap, const struct sockaddr *sa);

#endif /* COLDNODE_PEER_INTERNAL_H */
