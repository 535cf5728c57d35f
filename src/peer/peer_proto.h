/*~ peer_proto: the BOLT 1 rules of one session, as a pure state machine
 * (internal to src/peer).  The session adapter (session.c) feeds it each
 * decrypted message and acts on the verdict: reply, close, hand up.
 * No sockets and no clock: timers live in the adapter, which passes the
 * time of each message in.
 */
#ifndef COLDNODE_PEER_PROTO_H
#define COLDNODE_PEER_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "peer/peer_wire.h"

/* What the adapter must do with a received message. */
enum peer_proto_verdict {
	PEER_PROTO_IGNORE,   /* nothing (unknown odd type, warning, ...) */
	PEER_PROTO_CLOSE,    /* drop the connection; see out->why */
	PEER_PROTO_READY,    /* their init was good: the session is usable */
	PEER_PROTO_PONG,     /* send a pong of out->pong_len bytes */
	PEER_PROTO_PONG_OK,  /* our outstanding ping was answered */
	PEER_PROTO_GOSSIP,   /* BOLT 7 message: hand it up */
	PEER_PROTO_CHANNEL,  /* channel message (32..255): peer wants full mode */
};

/* Ping rate limit: a 40-byte ping can ask for a ~64 KiB pong, so a peer
 * sending more than PEER_PROTO_PING_MAX pings in one PEER_PROTO_PING_WINDOW
 * second window is closed (BOLT #1: "SHOULD fail the channels if it has
 * received significantly in excess of one `ping` per 30 seconds").
 * Honest nodes ping about once a minute; the cap sits far above that and
 * above our own fastest test setting (one ping per 50 ms, 600 per window),
 * and bounds what one peer can make us send at ~2 MiB/s. */
#define PEER_PROTO_PING_MAX 1000
#define PEER_PROTO_PING_WINDOW 30.0

struct peer_proto_out {
	char why[160];     /* PEER_PROTO_CLOSE: reason for the log line */
	uint16_t pong_len; /* PEER_PROTO_PONG */
	uint16_t type;     /* the message type, for every verdict */
};

/* Plain value type: embedded in struct peer, no allocation. */
struct peer_proto {
	uint8_t chain_hash[32];
	bool got_init;
	/* Feature bits from the peer's init (globalfeatures | features),
	 * little-endian bitmap: bit i is features[i / 8] & (1 << i % 8). */
	uint8_t features[PEER_WIRE_MAX_FEATURE_BITS / 8];
	/* Outstanding ping, if any, and the pong length it asked for. */
	bool ping_outstanding;
	uint16_t ping_expect;
	uint64_t pings_received;
	/* Ping rate limit: start (adapter's clock, seconds) and count of the
	 * current window. */
	double ping_window_start;
	uint32_t ping_window_count;
};

/* @chain_hash copied. */
void peer_proto_init(struct peer_proto *pp, const uint8_t chain_hash[32]);

/* Judge one received message (@msg borrowed, type included) that arrived
 * at @now (seconds, any monotonic clock; only differences are used). */
enum peer_proto_verdict peer_proto_recv(struct peer_proto *pp,
					struct peer_proto_out *out,
					const uint8_t *msg, size_t len,
					double now);

/* We are about to send a ping asking for @num_pong_bytes (< 65532). */
void peer_proto_ping_sent(struct peer_proto *pp, uint16_t num_pong_bytes);

bool peer_proto_has_feature(const struct peer_proto *pp, unsigned bit);

#endif /* COLDNODE_PEER_PROTO_H */
