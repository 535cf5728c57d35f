/*~ The peer manager: listening sockets, outbound dials (non-blocking
 * connect), persistent peers redialed with backoff, the table of ECDH
 * requests waiting on the key source, and the reaper that frees closed
 * sessions once no callback can still hold them.
 */
#include "peer/peer_internal.h"

#include "brontide/brontide.h"
#include "common/common.h"

#include <assert.h>
#include <sodium.h>
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Redial backoff: 1 s doubling, capped. */
#define REDIAL_FIRST 1.0
#define REDIAL_MAX 60.0
/* Seconds between two log lines about one limit: a flood of refused
 * connections must not turn into a flood of log lines. */
#define LIMIT_LOG_INTERVAL 10.0
/* Bytes queued per peer before it is dropped (brontide's default too). */
#define DEFAULT_SEND_CAP (4 * 1024 * 1024)
/* Below lnd's 5 s act-three read deadline (brontide handshakeReadTimeout),
 * with a second to spare for the act to cross the network. */
#define DEFAULT_PARK_TIMEOUT 4.0

void peer_mgr_config_default(struct peer_mgr_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->handshake_timeout = 10;
	cfg->ping_interval = 60;
	cfg->pong_timeout = 30;
	cfg->max_peers = 0;
	cfg->max_pending = 0;
	cfg->send_cap = DEFAULT_SEND_CAP;
	cfg->park_timeout = DEFAULT_PARK_TIMEOUT;
	cfg->act1_timeout = 5;
	/* gossip_queries (optional): we answer and send BOLT 7 queries. */
	cfg->our_features = 1u << 7;
}

bool peer_mgr_is_full_peer(const struct peer_mgr *mgr,
			   const uint8_t node_id[33])
{
	for (size_t i = 0; i < mgr->cfg.num_full_peers; i++)
		if (memcmp(mgr->full_peers[i], node_id, 33) == 0)
			return true;
	return false;
}

/* ---- reaper ---- */

static void reap(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct peer_mgr *mgr = w->data;
	struct peer *p = mgr->peers, *next;

	for (; p; p = next) {
		next = p->next;
		if (p->state != PEER_ST_CLOSED)
			continue;
		if (p->prev)
			p->prev->next = p->next;
		else
			mgr->peers = p->next;
		if (p->next)
			p->next->prev = p->prev;
		peer_session_destroy(p);
	}
	ev_prepare_stop(loop, w);
}

/* ---- ECDH table ---- */

void peer_mgr_ecdh_start(struct peer *p, const uint8_t point[33])
{
	struct peer_mgr *mgr = p->mgr;

	assert(p->ecdh_id == 0);
	if (p->local_key) {
		/* Our own key for this session: no signer involved. */
		uint8_t secret[32];
		bool ok = cn_nodekey_ecdh(mgr->local_key, secret, point);
		brontide_conn_ecdh_done(p->conn, ok, secret);
		sodium_memzero(secret, sizeof(secret));
		return;
	}
	/* Act one arrived (the responder's ECDH is on its ephemeral key). */
	ev_timer_stop(mgr->loop, &p->act1_timer);
	p->ecdh_id = ++mgr->next_ecdh_id;
	p->next_pending = mgr->pending_ecdh;
	mgr->pending_ecdh = p;
	/* We are the initiator and the responder is waiting for act three:
	 * give up before it does, rather than leave it a half-open
	 * handshake (the redial comes back when the signer is there). */
	if (!p->inbound && mgr->cfg.park_timeout > 0) {
		ev_timer_set(&p->park_timer, mgr->cfg.park_timeout, 0.);
		ev_timer_start(mgr->loop, &p->park_timer);
	}
	/* May answer right here (local key) through peer_mgr_ecdh_done. */
	mgr->keys.ecdh(mgr->keys.arg, p->ecdh_id, point);
}

void peer_mgr_park_timeout(struct peer *p)
{
	char why[128];

	p->mgr->dial_stats.park_timeouts++;
	snprintf(why, sizeof(why),
		 "no node-key ECDH within %.1fs: closing before the peer's "
		 "act-three deadline",
		 p->mgr->cfg.park_timeout);
	peer_close(p, why);
}

static struct peer *pending_take(struct peer_mgr *mgr, uint64_t id)
{
	for (struct peer **pp = &mgr->pending_ecdh; *pp;
	     pp = &(*pp)->next_pending) {
		struct peer *p = *pp;
		if (p->ecdh_id == id) {
			ev_timer_stop(mgr->loop, &p->park_timer);
			*pp = p->next_pending;
			p->next_pending = NULL;
			p->ecdh_id = 0;
			return p;
		}
	}
	return NULL;
}

void peer_mgr_ecdh_forget(struct peer *p)
{
	struct peer_mgr *mgr = p->mgr;
	uint64_t id = p->ecdh_id;

	if (!id)
		return;
	pending_take(mgr, id);
	if (mgr->keys.cancel)
		mgr->keys.cancel(mgr->keys.arg, id);
}

bool peer_mgr_ecdh_inbound(const struct peer_mgr *mgr, uint64_t id)
{
	for (const struct peer *p = mgr->pending_ecdh; p; p = p->next_pending)
		if (p->ecdh_id == id)
			return p->inbound;
	return false;
}

void peer_mgr_ecdh_done(struct peer_mgr *mgr, uint64_t id, bool ok,
			const uint8_t secret[32])
{
	struct peer *p = pending_take(mgr, id);

	/* Cancelled (the peer went away): nothing to do. */
	if (!p) {
		log_debug("PEER", "ECDH answer for forgotten request %" PRIu64,
			  id);
		return;
	}
	/* Inbound: anyone can make it happen (the key source's ECDH budget
	 * for strangers), so not one line each. */
	if (!ok)
		log_msg("PEER", p->inbound ? LOG_DEBUG : LOG_UNUSUAL,
			"%s: key source refused ECDH", p->addr);
	brontide_conn_ecdh_done(p->conn, ok, secret);
}

void peer_mgr_fail_pending_ecdh(struct peer_mgr *mgr)
{
	size_t n = 0;

	/* Inbound handshakes stay up until the handshake timeout.  An
	 * outbound one cannot send act three without its ECDH, and its
	 * responder is waiting for it: close it now (redialed with backoff). */
	while (mgr->pending_ecdh) {
		struct peer *p = mgr->pending_ecdh;
		if (p->inbound)
			peer_mgr_ecdh_forget(p);
		else
			peer_close(p, "node-key ECDH dropped (signer gone)");
		n++;
	}
	if (n)
		log_unusual("PEER",
			    "dropped %zu pending ECDH requests: those "
			    "handshakes will time out",
			    n);
}

/* ---- counting ---- */

static size_t count_live(const struct peer_mgr *mgr)
{
	size_t n = 0;

	for (const struct peer *p = mgr->peers; p; p = p->next)
		n += (p->state != PEER_ST_CLOSED);
	return n;
}

/* Log a refusal at a limit ("max peers (1000) reached (--maxpeers)"): the
 * first one, then at most one line per LIMIT_LOG_INTERVAL, counting those
 * in between.  @what names the limit, @flag the daemon option setting it. */
static void limit_refused(struct peer_mgr *mgr, struct peer_limit_log *ll,
			  const char *what, const char *flag, size_t limit,
			  const char *who)
{
	double now = ev_now(mgr->loop);

	if (ll->last != 0 && now - ll->last < LIMIT_LOG_INTERVAL) {
		ll->refused++;
		return;
	}
	if (ll->refused)
		log_unusual("PEER",
			    "refusing %s: %s (%zu) reached (--%s; and %" PRIu64
			    " more since the previous such line)",
			    who, what, limit, flag, ll->refused);
	else
		log_unusual("PEER", "refusing %s: %s (%zu) reached (--%s)", who,
			    what, limit, flag);
	ll->last = now;
	ll->refused = 0;
}

size_t peer_mgr_count(const struct peer_mgr *mgr, enum peer_mode mode)
{
	size_t n = 0;

	for (const struct peer *p = mgr->peers; p; p = p->next)
		n += (p->state == PEER_ST_READY && p->mode == mode);
	return n;
}

static size_t count_inbound_pending(const struct peer_mgr *mgr)
{
	size_t n = 0;

	for (const struct peer *p = mgr->peers; p; p = p->next)
		n += p->inbound && (p->state == PEER_ST_HANDSHAKE ||
				    p->state == PEER_ST_INIT);
	return n;
}

/* What --maxpeers counts: ready sessions and outbound dials.  Inbound
 * sessions not yet ready have their own budget (--maxpendinghandshakes,
 * src/admit) and are checked again when they become ready. */
static size_t count_ours_and_ready(const struct peer_mgr *mgr)
{
	return count_live(mgr) - count_inbound_pending(mgr);
}

/* An inbound connection sent no act one in time.  BOLT #8: Act One
 * (`-> e, es`, 50 bytes) goes from initiator to responder first, so an
 * honest initiator sends it right after connecting; lnd gives each act 5 s
 * (handshakeReadTimeout).  Counted and logged once a second by the
 * budget. */
static void act1_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct peer *p = w->data;
	char why[64];

	/* Armed with the shorter of the two deadlines: if that was the whole
	 * handshake's, say so as brontide would. */
	if (p->mgr->cfg.handshake_timeout < p->mgr->cfg.act1_timeout) {
		peer_close(p, brontide_strerror(BRONTIDE_ERR_HANDSHAKE_TIMEOUT));
		return;
	}

	snprintf(why, sizeof(why), "no act one within %gs",
		 p->mgr->cfg.act1_timeout);
	admit_note(p->mgr->admit, ADMIT_TIMED_OUT, p->addr, why, cn_now());
	peer_close_level(p, LOG_DEBUG, why);
}

/* Act one's first bytes are here: start the BOLT 8 handshake (its own
 * deadline, --handshaketimeout, runs from now; the act one deadline keeps
 * running until act one is complete). */
static void inbound_readable(struct ev_loop *loop, ev_io *w, int revents)
{
	struct peer *p = w->data;
	int fd = p->fd;

	ev_io_stop(loop, &p->connect_io);
	p->fd = -1;
	peer_session_start(p, fd);
}

/* The budget chose this inbound session (not ready) for a newcomer. */
static void admit_evict(void *arg, void *owner)
{
	struct peer *p = owner;

	(void)arg;
	peer_close_level(p, LOG_DEBUG, "evicted: pending handshakes full "
			 "(--maxpendinghandshakes)");
}

bool peer_mgr_admit_stats(const struct peer_mgr *mgr, struct admit_stats *out)
{
	if (!mgr->admit)
		return false;
	admit_get_stats(mgr->admit, out);
	return true;
}

size_t peer_mgr_count_pending(const struct peer_mgr *mgr)
{
	size_t n = 0;

	for (const struct peer *p = mgr->peers; p; p = p->next)
		n += (p->state == PEER_ST_CONNECTING ||
		      p->state == PEER_ST_HANDSHAKE || p->state == PEER_ST_INIT);
	return n;
}

size_t peer_mgr_close_mode(struct peer_mgr *mgr, enum peer_mode mode,
			   const char *why)
{
	size_t n = 0;

	for (struct peer *p = mgr->peers; p; p = p->next) {
		if (p->state == PEER_ST_READY && p->mode == mode) {
			mgr->close_reason = PEER_CLOSE_SIGNER_LOST;
			peer_close(p, why);
			mgr->close_reason = -1;
			n++;
		}
	}
	return n;
}

static struct peer *find_ready(struct peer_mgr *mgr, const uint8_t id[33],
			       const struct peer *except)
{
	/* Sessions with the local gossip key are not the node's: they
	 * neither replace nor stand for a session with our identity. */
	for (struct peer *p = mgr->peers; p; p = p->next)
		if (p != except && p->state == PEER_ST_READY &&
		    !p->local_key && memcmp(p->node_id, id, 33) == 0)
			return p;
	return NULL;
}

static struct peer_dialer *find_dialer(struct peer_mgr *mgr,
				       const uint8_t id[33])
{
	for (struct peer_dialer *d = mgr->dialers; d; d = d->next)
		if (memcmp(d->node_id, id, 33) == 0)
			return d;
	return NULL;
}

/* ---- dialing ---- */

static bool dial(struct peer_mgr *mgr, const uint8_t node_id[33],
		 const char *host, uint16_t port, struct peer_dialer *d);

static void schedule_redial(struct peer_dialer *d)
{
	struct peer_mgr *mgr = d->mgr;
	char hex[67];

	log_info("PEER", "redialing %s@%s:%u in %.0fs",
		 hex_encode(hex, d->node_id, 33), d->host, d->port, d->backoff);
	ev_timer_stop(mgr->loop, &d->timer);
	ev_timer_set(&d->timer, d->backoff, 0.);
	ev_timer_start(mgr->loop, &d->timer);
	d->backoff *= 2;
	if (d->backoff > REDIAL_MAX)
		d->backoff = REDIAL_MAX;
}

/* Dial @d now unless its node is already connected (e.g. it dialed us),
 * in which case follow that session instead. */
static void dialer_go(struct peer_dialer *d)
{
	struct peer_mgr *mgr = d->mgr;
	struct peer *live = find_ready(mgr, d->node_id, NULL);

	ev_timer_stop(mgr->loop, &d->timer);
	if (live) {
		d->peer = live;
		live->dialer = d;
		return;
	}
	dial(mgr, d->node_id, d->host, d->port, d);
}

static void redial_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct peer_dialer *d = w->data;
	char hex[67];

	d->early_failed = false;
	if (d->mgr->hold_redials) {
		/* Safe mode: the dial would park until the park deadline and
		 * the peer would log a failed handshake.  A signer's arrival
		 * or ACTIVE dials it. */
		log_debug("PEER", "redial of %s held: no signer",
			  hex_encode(hex, d->node_id, 33));
		return;
	}
	dialer_go(d);
}

static void connect_done(struct ev_loop *loop, ev_io *w, int revents)
{
	struct peer *p = w->data;
	int err = 0, fd = p->fd;
	socklen_t len = sizeof(err);
	char why[128];

	ev_io_stop(loop, w);
	ev_timer_stop(loop, &p->timer);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
		err = errno;
	if (err) {
		snprintf(why, sizeof(why), "connect failed: %s", strerror(err));
		peer_close(p, why);
		return;
	}
	p->fd = -1;
	peer_session_start(p, fd);
}

static struct peer *dial_session(struct peer_mgr *mgr,
				 const uint8_t node_id[33], const char *host,
				 uint16_t port, struct peer_dialer *d,
				 bool local_key, bool *refused);

/* Returns false only when a one-off dial is refused at max_peers; every
 * other failure is a closed session (and a redial for persistent ones). */
static bool dial(struct peer_mgr *mgr, const uint8_t node_id[33],
		 const char *host, uint16_t port, struct peer_dialer *d)
{
	bool refused = false;

	dial_session(mgr, node_id, host, port, d, false, &refused);
	return !refused;
}

struct peer *peer_mgr_dial_local_key(struct peer_mgr *mgr,
				     const uint8_t node_id[33],
				     const char *host, uint16_t port)
{
	bool refused = false;

	return dial_session(mgr, node_id, host, port, NULL, true, &refused);
}

/* The session (NULL if none was made: *@refused at max_peers, or a name
 * that does not resolve, or no memory).  The session may be closed
 * already when this returns (connect failed at once). */
static struct peer *dial_session(struct peer_mgr *mgr,
				 const uint8_t node_id[33], const char *host,
				 uint16_t port, struct peer_dialer *d,
				 bool local_key, bool *refused)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL;
	char portstr[8], hex[67];
	struct peer *p;
	int fd, rc;

	/* Persistent peers are the operator's own choice: always dialed. */
	if (!d && mgr->cfg.max_peers && count_live(mgr) >= mgr->cfg.max_peers) {
		char who[300];
		snprintf(who, sizeof(who), "dial to %s:%u", host, port);
		limit_refused(mgr, &mgr->log_maxpeers, "max peers", "maxpeers",
			      mgr->cfg.max_peers, who);
		*refused = true;
		return NULL;
	}
	snprintf(portstr, sizeof(portstr), "%u", port);
	/* FIXME: getaddrinfo blocks for names; numeric addresses do not. */
	rc = getaddrinfo(host, portstr, &hints, &res);
	if (rc != 0) {
		log_unusual("PEER", "cannot resolve %s: %s", host,
			    gai_strerror(rc));
		if (d && !mgr->freeing)
			schedule_redial(d);
		return NULL;
	}
	p = peer_session_alloc(mgr, false, node_id, res->ai_addr);
	if (!p) {
		freeaddrinfo(res);
		log_broken("PEER", "out of memory dialing %s", host);
		return NULL;
	}
	p->local_key = local_key;
	if (d) {
		d->peer = p;
		p->dialer = d;
	}
	log_info("PEER", "dialing %s@%s%s", hex_encode(hex, node_id, 33),
		 p->addr, local_key ? " with the local gossip key" : "");
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0) {
		freeaddrinfo(res);
		peer_close(p, strerror(errno));
		return p;
	}
	p->fd = fd;
	rc = connect(fd, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	if (rc == 0) {
		p->fd = -1;
		peer_session_start(p, fd);
		return p;
	}
	if (errno != EINPROGRESS) {
		char why[128];
		snprintf(why, sizeof(why), "connect failed: %s",
			 strerror(errno));
		peer_close(p, why);
		return p;
	}
	ev_io_init(&p->connect_io, connect_done, fd, EV_WRITE);
	p->connect_io.data = p;
	ev_io_start(mgr->loop, &p->connect_io);
	ev_timer_set(&p->timer, mgr->cfg.handshake_timeout, 0.);
	ev_timer_start(mgr->loop, &p->timer);
	return p;
}

bool peer_mgr_connect(struct peer_mgr *mgr, const char *uri, bool persistent)
{
	uint8_t id[33];
	char host[256];
	uint16_t port;
	struct peer_dialer *d;

	if (!peer_addr_parse_uri(id, host, sizeof(host), &port, uri)) {
		log_unusual("PEER", "bad peer address '%s' (want "
				    "PUBKEY@host:port)", uri);
		return false;
	}
	if (!persistent)
		return dial(mgr, id, host, port, NULL);
	d = find_dialer(mgr, id);
	if (d) {
		/* Same node again: the newest address wins. */
		snprintf(d->host, sizeof(d->host), "%s", host);
		d->port = port;
		if (!d->peer)
			dialer_go(d);
		return true;
	}
	d = calloc(1, sizeof(*d));
	if (!d)
		return false;
	d->mgr = mgr;
	memcpy(d->node_id, id, 33);
	snprintf(d->host, sizeof(d->host), "%s", host);
	d->port = port;
	d->backoff = REDIAL_FIRST;
	ev_init(&d->timer, redial_timer);
	d->timer.data = d;
	d->next = mgr->dialers;
	mgr->dialers = d;
	dialer_go(d);
	return true;
}

void peer_mgr_redial_now(struct peer_mgr *mgr)
{
	for (struct peer_dialer *d = mgr->dialers; d; d = d->next) {
		d->early_failed = false;
		if (!d->peer)
			dialer_go(d);
	}
}

size_t peer_mgr_dial_early(struct peer_mgr *mgr)
{
	size_t n = 0, skipped = 0;

	for (struct peer_dialer *d = mgr->dialers; d; d = d->next) {
		if (d->peer || d->early_failed)
			continue;
		/* Early dials are ours, not a flooder's: inbound handshakes
		 * (--maxpendinghandshakes, the inbound pre-auth budget) must
		 * not hold them back, and they take no slot of that budget.
		 * They are bounded by the persistent peers (one dial each,
		 * d->peer) and, being a bet on a signer that may never
		 * register, by --maxpeers as a one-off dial is (ready
		 * sessions plus outbound dials); what is left is dialed at
		 * ACTIVE by peer_mgr_redial_now, or by its backoff. */
		if (mgr->cfg.max_peers &&
		    count_ours_and_ready(mgr) >= mgr->cfg.max_peers) {
			skipped++;
			continue;
		}
		dialer_go(d);
		if (d->peer && d->peer->state != PEER_ST_READY &&
		    d->peer->state != PEER_ST_CLOSED) {
			d->peer->early = true;
			n++;
		}
	}
	mgr->dial_stats.early_dials += n;
	mgr->dial_stats.early_refused += skipped;
	if (n || skipped)
		log_info("PEER", "dialing %zu persistent peer(s) ahead of the "
			 "signer%s", n,
			 skipped ? " (some left for later: max peers "
				   "reached, --maxpeers)"
				 : "");
	return n;
}

void peer_mgr_dial_stats(const struct peer_mgr *mgr,
			 struct peer_mgr_dial_stats *out)
{
	*out = mgr->dial_stats;
}

/* ---- session events ---- */

void peer_mgr_session_ready(struct peer *p)
{
	struct peer_mgr *mgr = p->mgr;
	struct peer *old = find_ready(mgr, p->node_id, p);
	struct peer_dialer *d;
	char hex[67], hex2[67];

	mgr->stats.handshakes[p->inbound][1]++;
	if (p->local_key) {
		/* Not the node's identity: no duplicate rule, no dialer. */
		mgr->local_stats.ready++;
		log_info("PEER", "peer %s@%s ready (outbound, gossip-only, "
			 "local gossip key %s)",
			 hex_encode(hex, p->node_id, 33), p->addr,
			 hex_encode(hex2, mgr->local_pub, 33));
		p->announced = true;
		if (mgr->cbs->peer_ready)
			mgr->cbs->peer_ready(mgr->arg, p);
		return;
	}
	if (old) {
		/* Two sessions with one node.  Same direction: the old one is
		 * probably dead, keep the new.  Crossed dials: both sides
		 * keep the one opened by the smaller node id, so they agree. */
		bool keep_new;
		if (old->inbound == p->inbound)
			keep_new = true;
		else {
			bool we_smaller =
				memcmp(mgr->cfg.local_pub, p->node_id, 33) < 0;
			keep_new = (p->inbound != we_smaller);
		}
		mgr->close_reason = PEER_CLOSE_DUPLICATE;
		if (keep_new)
			peer_close(old, "replaced by a newer connection");
		else
			peer_close(p, "duplicate connection");
		mgr->close_reason = -1;
		if (!keep_new)
			return;
	}
	if (p->inbound) {
		/* Handshakes in flight are not counted at accept: the cap on
		 * sessions is enforced as each becomes ready. */
		size_t ready = 0;
		for (const struct peer *q = mgr->peers; q; q = q->next)
			ready += q != p && q->state == PEER_ST_READY;
		if (mgr->cfg.max_peers && ready >= mgr->cfg.max_peers) {
			char who[96];
			snprintf(who, sizeof(who), "connection from %s",
				 p->addr);
			limit_refused(mgr, &mgr->log_maxpeers, "max peers",
				      "maxpeers", mgr->cfg.max_peers, who);
			peer_close(p, "max peers reached (--maxpeers)");
			return;
		}
		admit_authenticated(mgr->admit, p->admit_slot, p->addr);
	}
	d = find_dialer(mgr, p->node_id);
	if (d) {
		/* BOLT-free policy: a working session resets the backoff. */
		d->backoff = REDIAL_FIRST;
		d->early_failed = false;
		ev_timer_stop(mgr->loop, &d->timer);
		d->peer = p;
		p->dialer = d;
	}
	log_info("PEER", "peer %s@%s ready (%s, %s)",
		 hex_encode(hex, p->node_id, 33), p->addr,
		 p->inbound ? "inbound" : "outbound", peer_mode_str(p->mode));
	p->announced = true;
	if (p->early)
		mgr->dial_stats.early_ready++;
	if (mgr->cbs->peer_ready)
		mgr->cbs->peer_ready(mgr->arg, p);
}

void peer_mgr_session_closed(struct peer *p)
{
	struct peer_mgr *mgr = p->mgr;
	struct peer_dialer *d = p->dialer;

	ev_prepare_start(mgr->loop, &mgr->reaper);
	if (p->local_key)
		peer_anon_session_closed(p);
	if (p->early && !p->announced)
		mgr->dial_stats.early_failed++;
	if (!d || d->peer != p)
		return;
	d->peer = NULL;
	p->dialer = NULL;
	if (p->early && !p->announced)
		d->early_failed = true;
	if (mgr->freeing)
		return;
	/* If another session with this node lives on, follow it instead. */
	d->peer = find_ready(mgr, d->node_id, NULL);
	if (d->peer) {
		d->peer->dialer = d;
		return;
	}
	schedule_redial(d);
}

/* ---- listening ---- */

/* Accepts one connection; false when there is none left to accept. */
static bool accept_one(struct peer_mgr *mgr, int lfd)
{
	struct sockaddr_storage ss;
	socklen_t slen = sizeof(ss);
	char addr[64], who[96];
	struct peer *p;
	int fd;

	fd = accept4(lfd, (struct sockaddr *)&ss, &slen,
		     SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			log_unusual("PEER", "accept: %s", strerror(errno));
		return false;
	}
	peer_addr_str(addr, sizeof(addr), (struct sockaddr *)&ss);
	/* Refused before any work: no handshake state, no ECDH request.
	 * Inbound sessions not yet ready are not counted here: they have
	 * their own budget below, so a flood of them never fills max_peers
	 * for honest peers (they are checked again when ready). */
	if (mgr->cfg.max_peers &&
	    count_ours_and_ready(mgr) >= mgr->cfg.max_peers) {
		snprintf(who, sizeof(who), "connection from %s", addr);
		limit_refused(mgr, &mgr->log_maxpeers, "max peers", "maxpeers",
			      mgr->cfg.max_peers, who);
		close(fd);
		return true;
	}
	p = peer_session_alloc(mgr, true, NULL, (struct sockaddr *)&ss);
	if (!p) {
		log_unusual("PEER", "out of memory: dropping %s", addr);
		close(fd);
		return true;
	}
	/* Handshakes waiting for the signer hold a queued ECDH request until
	 * the handshake timeout: bound them, or a flood of act ones in safe
	 * mode would queue without limit.  Over the budget a newcomer evicts
	 * one (OpenSSH MaxStartups, Bitcoin Core's eviction; src/admit); a
	 * source over its cap is closed now, before act one's ECDH. */
	p->admit_slot = admit_accept(mgr->admit, (struct sockaddr *)&ss, p,
				     p->addr, cn_now());
	if (!p->admit_slot) {
		/* Never started: no line of its own (admit logged it). */
		p->state = PEER_ST_CLOSED;
		close(fd);
		ev_prepare_start(mgr->loop, &mgr->reaper);
		return true;
	}
	log_debug("PEER", "inbound connection from %s", p->addr);
	if (mgr->cfg.act1_timeout <= 0) {
		peer_session_start(p, fd);
		return true;
	}
	/* No handshake state (ephemeral key, brontide buffers) until the
	 * first byte of act one: a connection that never sends one costs
	 * the accept, this watcher and the close. */
	ev_timer_init(&p->act1_timer, act1_timeout_cb,
		      mgr->cfg.handshake_timeout < mgr->cfg.act1_timeout
		      ? mgr->cfg.handshake_timeout : mgr->cfg.act1_timeout, 0.);
	p->act1_timer.data = p;
	ev_timer_start(mgr->loop, &p->act1_timer);
	p->fd = fd;
	ev_io_init(&p->connect_io, inbound_readable, fd, EV_READ);
	p->connect_io.data = p;
	ev_io_start(mgr->loop, &p->connect_io);
	return true;
}

/* Drains the backlog a batch at a time: under a flood the kernel's queue
 * fills, and an honest peer's SYN that finds it full waits for its 1 s
 * retransmit. */
static void listener_ready(struct ev_loop *loop, ev_io *w, int revents)
{
	struct peer_mgr *mgr = w->data;

	for (int i = 0; i < 64 && accept_one(mgr, w->fd); i++)
		;
}

bool peer_mgr_listen(struct peer_mgr *mgr, const char *hostport)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE },
			*res = NULL;
	struct sockaddr_storage ss;
	socklen_t slen = sizeof(ss);
	struct peer_listener *l;
	char host[256], portstr[8];
	uint16_t port;
	int fd, one = 1, rc;

	if (!cn_split_hostport(host, sizeof(host), &port, hostport)) {
		log_unusual("PEER", "bad listen address '%s'", hostport);
		return false;
	}
	snprintf(portstr, sizeof(portstr), "%u", port);
	rc = getaddrinfo(host, portstr, &hints, &res);
	if (rc != 0) {
		log_unusual("PEER", "cannot listen on %s: %s", hostport,
			    gai_strerror(rc));
		return false;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0)
		goto fail;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (res->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, res->ai_addr, res->ai_addrlen) != 0 ||
	    listen(fd, SOMAXCONN) != 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &slen) != 0)
		goto fail;
	freeaddrinfo(res);
	l = calloc(1, sizeof(*l));
	if (!l) {
		close(fd);
		return false;
	}
	l->fd = fd;
	l->port = ntohs(ss.ss_family == AF_INET6
				? ((struct sockaddr_in6 *)&ss)->sin6_port
				: ((struct sockaddr_in *)&ss)->sin_port);
	ev_io_init(&l->io, listener_ready, fd, EV_READ);
	l->io.data = mgr;
	ev_io_start(mgr->loop, &l->io);
	/* Keep the first listener first: peer_mgr_listen_port reports it. */
	struct peer_listener **tail = &mgr->listeners;
	while (*tail)
		tail = &(*tail)->next;
	*tail = l;
	log_info("PEER", "listening on %s (port %u)", hostport, l->port);
	return true;

fail:
	log_unusual("PEER", "cannot listen on %s: %s", hostport,
		    strerror(errno));
	if (fd >= 0)
		close(fd);
	freeaddrinfo(res);
	return false;
}

uint16_t peer_mgr_listen_port(const struct peer_mgr *mgr)
{
	return mgr->listeners ? mgr->listeners->port : 0;
}

/* ---- life cycle ---- */

struct peer_mgr *peer_mgr_new(struct ev_loop *loop,
			      const struct peer_mgr_config *cfg,
			      const struct peer_keysource *keys,
			      const struct peer_mgr_cbs *cbs, void *arg)
{
	struct peer_mgr *mgr = calloc(1, sizeof(*mgr));

	if (!mgr)
		return NULL;
	mgr->loop = loop;
	mgr->close_reason = -1;
	mgr->cfg = *cfg;
	if (!mgr->cfg.send_cap)
		mgr->cfg.send_cap = DEFAULT_SEND_CAP;
	if (cfg->num_full_peers) {
		mgr->full_peers = calloc(cfg->num_full_peers, 33);
		if (!mgr->full_peers) {
			free(mgr);
			return NULL;
		}
		memcpy(mgr->full_peers, cfg->full_peers,
		       cfg->num_full_peers * 33);
	}
	mgr->cfg.full_peers = (const uint8_t(*)[33])mgr->full_peers;
	mgr->keys = *keys;
	mgr->cbs = cbs;
	mgr->arg = arg;
	struct admit_config acfg = {
		.name = "p2p", .subsys = "PEER",
		.max_unauth = cfg->max_pending ? cfg->max_pending : SIZE_MAX,
		.max_auth = SIZE_MAX, /* max_peers is checked by us */
		.max_per_source = cfg->max_pending_per_source,
		.unauth_flag = "--maxpendinghandshakes",
		.per_source_flag = "--peer.maxpreauthpersource",
	};
	struct admit_cbs acbs = { .evict = admit_evict, .arg = mgr };
	mgr->admit = admit_new(&acfg, &acbs);
	ev_prepare_init(&mgr->reaper, reap);
	mgr->reaper.data = mgr;
	peer_anon_init(mgr);
	return mgr;
}

void peer_mgr_free(struct peer_mgr *mgr)
{
	if (!mgr)
		return;
	mgr->freeing = true;
	peer_anon_free(mgr);
	while (mgr->listeners) {
		struct peer_listener *l = mgr->listeners;
		mgr->listeners = l->next;
		ev_io_stop(mgr->loop, &l->io);
		close(l->fd);
		free(l);
	}
	mgr->close_reason = PEER_CLOSE_SHUTDOWN;
	for (struct peer *p = mgr->peers; p; p = p->next)
		peer_close(p, "shutting down");
	mgr->close_reason = -1;
	reap(mgr->loop, &mgr->reaper, 0);
	assert(!mgr->peers);
	while (mgr->dialers) {
		struct peer_dialer *d = mgr->dialers;
		mgr->dialers = d->next;
		ev_timer_stop(mgr->loop, &d->timer);
		free(d);
	}
	admit_free(mgr->admit);
	cn_nodekey_free(mgr->local_key);
	while (mgr->cands) {
		struct gossip_cand *c = mgr->cands;
		mgr->cands = c->next;
		free(c);
	}
	free(mgr->full_peers);
	free(mgr);
}

void peer_mgr_get_stats(const struct peer_mgr *mgr, struct peer_mgr_stats *out)
{
	*out = mgr->stats;
}

const char *peer_close_reason_str(enum peer_close_reason r)
{
	switch (r) {
	case PEER_CLOSE_HANDSHAKE:
		return "handshake";
	case PEER_CLOSE_SESSION:
		return "session";
	case PEER_CLOSE_SIGNER_LOST:
		return "signer_lost";
	case PEER_CLOSE_DUPLICATE:
		return "duplicate";
	case PEER_CLOSE_SHUTDOWN:
		return "shutdown";
	}
	abort();
}
