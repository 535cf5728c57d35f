/*~ One peer session: the libev adapter around brontide_conn and the pure
 * BOLT 1 rules in proto.c.  It sends our init once the handshake is done,
 * waits for theirs, pings on a timer, answers pings, and hands gossip and
 * channel messages up.  Closing is immediate for the socket but the struct
 * lives on until the manager's reaper runs, so any callback up the stack
 * still holds a valid pointer.
 */
#include "peer/peer_internal.h"

#include "brontide/brontide.h"
#include "common/common.h"

#include <arpa/inet.h>
#include <assert.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *peer_mode_str(enum peer_mode mode)
{
	switch (mode) {
	case PEER_MODE_GOSSIP_ONLY:
		return "gossip-only";
	case PEER_MODE_FULL:
		return "full";
	}
	return "?";
}

/* "02ab...@1.2.3.4:9735", or just the address before the node id is
 * known (an inbound peer mid-handshake). */
static const char *peer_name(const struct peer *p, char buf[140])
{
	char hex[67];

	if (!p->node_id_known)
		snprintf(buf, 140, "%s", p->addr);
	else
		snprintf(buf, 140, "%s@%s", hex_encode(hex, p->node_id, 33),
			 p->addr);
	return buf;
}

static void pong_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct peer *p = w->data;
	char why[80];

	snprintf(why, sizeof(why), "no pong within %.1fs",
		 p->mgr->cfg.pong_timeout);
	peer_close(p, why);
}

static bool send_raw(struct peer *p, const uint8_t *msg, size_t len)
{
	enum brontide_err err = brontide_conn_send(p->conn, msg, len);
	char why[96];

	switch (err) {
	case BRONTIDE_OK:
		p->mgr->stats.bytes_out += len;
		return true;
	case BRONTIDE_ERR_MSG_TOO_LONG:
		return false;
	case BRONTIDE_ERR_BUFFER_FULL:
		/* A peer that does not read must not grow our memory: drop it
		 * alone, everyone else keeps going. */
		snprintf(why, sizeof(why),
			 "send buffer full: max buffer (%zu) reached "
			 "(--peer.maxbuffer; %zu bytes queued, %zu more)",
			 p->mgr->cfg.send_cap, brontide_conn_queued(p->conn),
			 len);
		log_unusual("PEER", "dropping %s: %s", p->addr, why);
		peer_close(p, why);
		return false;
	case BRONTIDE_NEED_ECDH:
	case BRONTIDE_ERR_ACT1_READ_FAILED:
	case BRONTIDE_ERR_ACT1_BAD_VERSION:
	case BRONTIDE_ERR_ACT1_BAD_PUBKEY:
	case BRONTIDE_ERR_ACT1_BAD_TAG:
	case BRONTIDE_ERR_ACT2_READ_FAILED:
	case BRONTIDE_ERR_ACT2_BAD_VERSION:
	case BRONTIDE_ERR_ACT2_BAD_PUBKEY:
	case BRONTIDE_ERR_ACT2_BAD_TAG:
	case BRONTIDE_ERR_ACT3_READ_FAILED:
	case BRONTIDE_ERR_ACT3_BAD_VERSION:
	case BRONTIDE_ERR_ACT3_BAD_CIPHERTEXT:
	case BRONTIDE_ERR_ACT3_BAD_PUBKEY:
	case BRONTIDE_ERR_ACT3_BAD_TAG:
	case BRONTIDE_ERR_ECDH_FAILED:
	case BRONTIDE_ERR_HANDSHAKE_TIMEOUT:
	case BRONTIDE_ERR_BAD_LENGTH_TAG:
	case BRONTIDE_ERR_BAD_BODY_TAG:
	case BRONTIDE_ERR_IO:
	case BRONTIDE_ERR_EOF:
	case BRONTIDE_ERR_NOMEM:
		break;
	}
	snprintf(why, sizeof(why), "send failed: %s", brontide_strerror(err));
	peer_close(p, why);
	return false;
}

static void ping_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct peer *p = w->data;
	uint8_t ping[6];
	uint16_t want;

	/* One ping at a time; the pong timer judges the outstanding one. */
	if (p->proto.ping_outstanding)
		return;
	/* A varying length, so a stale or made-up pong does not match. */
	want = (uint16_t)randombytes_uniform(256);
	peer_wire_build_ping(ping, sizeof(ping), want, 0);
	peer_proto_ping_sent(&p->proto, want);
	if (!send_raw(p, ping, sizeof(ping)))
		return;
	log_debug("PEER", "%s: sent ping asking for %u bytes", p->addr, want);
	ev_timer_set(&p->pong_timer, p->mgr->cfg.pong_timeout, 0.);
	ev_timer_start(p->mgr->loop, &p->pong_timer);
}

static void park_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	peer_mgr_park_timeout(w->data);
}

static void init_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct peer *p = w->data;
	char why[96];

	switch (p->state) {
	case PEER_ST_CONNECTING:
		snprintf(why, sizeof(why), "connect timed out after %.1fs",
			 p->mgr->cfg.handshake_timeout);
		break;
	case PEER_ST_INIT:
		snprintf(why, sizeof(why), "no init within %.1fs",
			 p->mgr->cfg.handshake_timeout);
		break;
	case PEER_ST_HANDSHAKE:
	case PEER_ST_READY:
	case PEER_ST_CLOSED:
		/* The timer is stopped in these states. */
		abort();
	}
	peer_close(p, why);
}

struct peer *peer_session_alloc(struct peer_mgr *mgr, bool inbound,
				const uint8_t *node_id,
				const struct sockaddr *sa)
{
	struct peer *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->mgr = mgr;
	p->inbound = inbound;
	p->state = inbound ? PEER_ST_HANDSHAKE : PEER_ST_CONNECTING;
	p->mode = PEER_MODE_GOSSIP_ONLY;
	p->fd = -1;
	if (node_id) {
		memcpy(p->node_id, node_id, 33);
		p->node_id_known = true;
	}
	peer_addr_str(p->addr, sizeof(p->addr), sa);
	if (sa->sa_family == AF_INET)
		p->remote_addr_len = peer_wire_addr_descriptor(
			p->remote_addr, 4,
			(const uint8_t *)&((const struct sockaddr_in *)sa)
				->sin_addr,
			ntohs(((const struct sockaddr_in *)sa)->sin_port));
	else if (sa->sa_family == AF_INET6)
		p->remote_addr_len = peer_wire_addr_descriptor(
			p->remote_addr, 6,
			(const uint8_t *)&((const struct sockaddr_in6 *)sa)
				->sin6_addr,
			ntohs(((const struct sockaddr_in6 *)sa)->sin6_port));
	peer_proto_init(&p->proto, mgr->cfg.chain_hash);
	ev_init(&p->timer, init_timeout);
	p->timer.data = p;
	ev_init(&p->pong_timer, pong_timeout);
	p->pong_timer.data = p;
	ev_init(&p->park_timer, park_timeout);
	p->park_timer.data = p;
	p->connect_io.data = p;

	p->next = mgr->peers;
	if (mgr->peers)
		mgr->peers->prev = p;
	mgr->peers = p;
	return p;
}

void peer_session_destroy(struct peer *p)
{
	assert(p->state == PEER_ST_CLOSED);
	free(p);
}

/* ---- brontide callbacks ---- */

static void on_ecdh(void *arg, struct brontide_conn *c, const uint8_t point[33])
{
	peer_mgr_ecdh_start(arg, point);
}

static void on_ecdh_cancel(void *arg, struct brontide_conn *c)
{
	peer_mgr_ecdh_forget(arg);
}

static void on_ready(void *arg, struct brontide_conn *c,
		     const uint8_t remote_pub[33])
{
	struct peer *p = arg;
	struct peer_mgr *mgr = p->mgr;
	uint8_t init[128];
	size_t len;
	char name[140];

	memcpy(p->node_id, remote_pub, 33);
	p->node_id_known = true;
	p->state = PEER_ST_INIT;
	log_debug("PEER", "handshake done with %s (%s)", peer_name(p, name),
		  p->inbound ? "inbound" : "outbound");
	/* BOLT #1: "SHOULD set `remote_addr` to reflect the remote IP address
	 * (and port) of an incoming connection, if the node is the receiver
	 * and the connection was done via IP." */
	len = peer_wire_build_init(init, sizeof(init), mgr->cfg.our_features,
				   mgr->cfg.chain_hash,
				   p->inbound && p->remote_addr_len
					   ? p->remote_addr
					   : NULL,
				   p->remote_addr_len);
	assert(len != 0);
	/* BOLT #1: "MUST send `init` as the first Lightning message for any
	 * connection." */
	if (!send_raw(p, init, len))
		return;
	ev_timer_set(&p->timer, mgr->cfg.handshake_timeout, 0.);
	ev_timer_start(mgr->loop, &p->timer);
}

static void become_ready(struct peer *p)
{
	struct peer_mgr *mgr = p->mgr;

	ev_timer_stop(mgr->loop, &p->timer);
	p->state = PEER_ST_READY;
	if (!p->local_key && peer_mgr_is_full_peer(mgr, p->node_id))
		p->mode = PEER_MODE_FULL;
	if (mgr->cfg.ping_interval > 0) {
		ev_init(&p->timer, ping_tick);
		ev_timer_set(&p->timer, mgr->cfg.ping_interval,
			     mgr->cfg.ping_interval);
		ev_timer_start(mgr->loop, &p->timer);
	}
	peer_mgr_session_ready(p);
}

static void send_pong(struct peer *p, uint16_t len)
{
	uint8_t *pong = malloc(4 + (size_t)len);

	if (!pong) {
		peer_close(p, "out of memory for pong");
		return;
	}
	peer_wire_build_pong(pong, 4 + (size_t)len, len);
	send_raw(p, pong, 4 + (size_t)len);
	free(pong);
}

/* A channel or commitment message: the peer wants more than gossip. */
static bool channel_message(struct peer *p, uint16_t type)
{
	struct peer_mgr *mgr = p->mgr;
	char why[128];

	if (p->mode == PEER_MODE_FULL)
		return true;
	if (p->local_key) {
		/* Channels are the node's, never the local gossip key's. */
		snprintf(why, sizeof(why),
			 "%s (%u) on a session made with the local gossip key",
			 peer_wire_type_name(type), type);
		peer_close(p, why);
		return false;
	}
	if (mgr->cbs->allow_full && !mgr->cbs->allow_full(mgr->arg)) {
		snprintf(why, sizeof(why),
			 "%s (%u) from gossip-only peer while full mode is not "
			 "allowed",
			 peer_wire_type_name(type), type);
		peer_close(p, why);
		return false;
	}
	p->mode = PEER_MODE_FULL;
	log_info("PEER", "peer %s is now full (sent %s)", p->addr,
		 peer_wire_type_name(type));
	if (mgr->cbs->mode_changed)
		mgr->cbs->mode_changed(mgr->arg, p, PEER_MODE_FULL);
	return p->state == PEER_ST_READY;
}

static void on_recv(void *arg, struct brontide_conn *c, const uint8_t *msg,
		    size_t len)
{
	struct peer *p = arg;
	struct peer_mgr *mgr = p->mgr;
	struct peer_proto_out out;
	enum peer_proto_verdict v;

	mgr->stats.bytes_in += len;
	if (p->state == PEER_ST_CLOSED)
		return;
	v = peer_proto_recv(&p->proto, &out, msg, len,
			    ev_now(mgr->loop));
	switch (v) {
	case PEER_PROTO_IGNORE:
		/* Debug only: a peer could send these in a loop. */
		if (out.type == PEER_WIRE_PING)
			log_debug("PEER",
				 "%s: ignoring ping asking for %u >= %u bytes",
				 p->addr, be16_get(msg + 2),
				 PEER_WIRE_PONG_LIMIT);
		else if (out.type != PEER_WIRE_WARNING)
			log_debug("PEER", "%s: ignoring unknown odd message "
					 "type %u",
				 p->addr, out.type);
		return;
	case PEER_PROTO_CLOSE:
		peer_close(p, out.why);
		return;
	case PEER_PROTO_READY:
		become_ready(p);
		return;
	case PEER_PROTO_PONG:
		log_debug("PEER", "%s: answering ping with %u bytes", p->addr,
			  out.pong_len);
		send_pong(p, out.pong_len);
		return;
	case PEER_PROTO_PONG_OK:
		log_debug("PEER", "%s: got matching pong", p->addr);
		ev_timer_stop(mgr->loop, &p->pong_timer);
		return;
	case PEER_PROTO_GOSSIP:
		if (mgr->cbs->gossip_msg)
			mgr->cbs->gossip_msg(mgr->arg, p, msg, len);
		return;
	case PEER_PROTO_CHANNEL:
		if (!channel_message(p, out.type))
			return;
		if (mgr->cbs->channel_msg)
			mgr->cbs->channel_msg(mgr->arg, p, msg, len);
		else
			log_debug("PEER", "%s: no channel handler for %s",
				  p->addr, peer_wire_type_name(out.type));
		return;
	}
}

static void on_closed(void *arg, struct brontide_conn *c,
		      enum brontide_err err, const char *detail)
{
	struct peer *p = arg;
	char why[200];

	/* brontide frees @c when we return. */
	p->conn = NULL;
	if (detail)
		snprintf(why, sizeof(why), "%s (%s)", brontide_strerror(err),
			 detail);
	else
		snprintf(why, sizeof(why), "%s", brontide_strerror(err));
	peer_close(p, why);
}

static const struct brontide_conn_cbs session_cbs = {
	.ecdh = on_ecdh,
	.ecdh_cancel = on_ecdh_cancel,
	.ready = on_ready,
	.recv = on_recv,
	.closed = on_closed,
};

void peer_session_start(struct peer *p, int fd)
{
	struct peer_mgr *mgr = p->mgr;

	p->state = PEER_ST_HANDSHAKE;
	p->conn = brontide_conn_new(mgr->loop, fd,
				    p->inbound ? BRONTIDE_RESPONDER
					       : BRONTIDE_INITIATOR,
				    p->local_key ? mgr->local_pub
						 : mgr->cfg.local_pub,
				    p->inbound ? NULL : p->node_id,
				    mgr->cfg.handshake_timeout, &session_cbs,
				    p);
	if (!p->conn) {
		/* brontide_conn_new closed @fd. */
		peer_close(p, "cannot start handshake (bad key or out of "
			      "memory)");
		return;
	}
	brontide_conn_set_send_cap(p->conn, mgr->cfg.send_cap);
}

/* ---- public per-peer API ---- */

bool peer_is_local_key(const struct peer *p)
{
	return p->local_key;
}

bool peer_send(struct peer *p, const uint8_t *msg, size_t len)
{
	if (p->state != PEER_ST_READY || len > BRONTIDE_MAX_MSG)
		return false;
	return send_raw(p, msg, len);
}

void peer_close(struct peer *p, const char *why)
{
	peer_close_level(p, LOG_INFO, why);
}

void peer_close_level(struct peer *p, enum log_level level, const char *why)
{
	struct peer_mgr *mgr = p->mgr;
	bool was_ready = (p->state == PEER_ST_READY);
	char name[140];

	if (p->state == PEER_ST_CLOSED)
		return;
	/* An inbound connection that never became a session is anyone's
	 * (a scanner, a flood of bad act ones): its line is capped, so a
	 * flood cannot rotate the log files away (docs/operations.md). */
	if (p->inbound && !was_ready && level == LOG_INFO &&
	    !log_burst_allow(&mgr->log_preinit, cn_now(), "PEER",
			     "inbound connections closed before init"))
		level = LOG_DEBUG;
	/* One line per closed connection, with its reason. */
	log_msg("PEER", level, "closed %s %s (%s): %s", peer_name(p, name),
		 p->inbound ? "inbound" : "outbound",
		 was_ready ? peer_mode_str(p->mode) : "before init", why);
	p->state = PEER_ST_CLOSED;
	if (!was_ready)
		mgr->stats.handshakes[p->inbound][0]++;
	mgr->stats.closes[mgr->close_reason >= 0
				  ? mgr->close_reason
				  : was_ready ? PEER_CLOSE_SESSION
					      : PEER_CLOSE_HANDSHAKE]++;
	ev_timer_stop(mgr->loop, &p->timer);
	ev_timer_stop(mgr->loop, &p->pong_timer);
	ev_timer_stop(mgr->loop, &p->park_timer);
	if (p->fd >= 0) {
		ev_io_stop(mgr->loop, &p->connect_io);
		close(p->fd);
		p->fd = -1;
	}
	peer_mgr_ecdh_forget(p);
	ev_timer_stop(mgr->loop, &p->act1_timer);
	admit_release(mgr->admit, p->admit_slot);
	p->admit_slot = NULL;
	if (p->conn) {
		struct brontide_conn *c = p->conn;
		p->conn = NULL;
		brontide_conn_free(c);
	}
	if (p->announced && mgr->cbs->peer_gone)
		mgr->cbs->peer_gone(mgr->arg, p, why);
	peer_mgr_session_closed(p);
}

void peer_warn(struct peer *p, const char *fmt, ...)
{
	char text[256];
	uint8_t msg[36 + sizeof(text)];
	va_list ap;
	size_t len;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	log_unusual("PEER", "warning to %s: %s", p->addr, text);
	len = peer_wire_build_errmsg(msg, sizeof(msg), PEER_WIRE_WARNING, NULL,
				     (const uint8_t *)text, strlen(text));
	if (p->state == PEER_ST_READY)
		send_raw(p, msg, len);
}

const uint8_t *peer_node_id(const struct peer *p)
{
	return p->node_id;
}

enum peer_mode peer_get_mode(const struct peer *p)
{
	return p->mode;
}

bool peer_is_inbound(const struct peer *p)
{
	return p->inbound;
}

bool peer_has_feature(const struct peer *p, unsigned bit)
{
	return peer_proto_has_feature(&p->proto, bit);
}

void peer_set_user(struct peer *p, void *user)
{
	p->user = user;
}

void *peer_get_user(const struct peer *p)
{
	return p->user;
}

size_t peer_queued(const struct peer *p)
{
	return p->conn ? brontide_conn_unsent(p->conn) : 0;
}
