/*~ Safe mode: gossip-only sessions with a local key.
 *
 * With no signer, the node key can make no BOLT 8 session (acts one and
 * three of the responder, act three of the initiator need it), so the
 * gossip-only sessions kept from ACTIVE are all there is, and over days
 * they die as peers restart.  A BOLT 8 initiator's static key is just a
 * key, and gossip queries need no identity: while the supervisor asks for
 * it (peer_mgr_keep_gossip_sessions), this file keeps at least that many
 * gossip-only sessions by dialing known peers with a key of our own, made
 * at random once per process and never written anywhere.  It signs
 * nothing.  The peer sees an unknown node id with no channels and no
 * announcement (docs/gossip.md, "Safe mode keeps the graph fresh").
 *
 * The decision is peer_gossip_dial_plan, pure; the timer here applies it
 * once a second.
 */
#include "peer/peer_internal.h"

#include "common/common.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEEP_TICK 1.0
/* A target that failed: retried after this, doubling, capped. */
#define CAND_RETRY_FIRST 5.0
#define CAND_RETRY_MAX 300.0
#define MAX_CANDS 256

size_t peer_gossip_dial_plan(size_t *out, size_t max,
			     const struct peer_gossip_cand *c, size_t n,
			     size_t have, size_t min, double now)
{
	size_t k = 0;

	for (size_t i = 0; i < n && have + k < min && k < max; i++) {
		if (c[i].connected || c[i].retry_at > now)
			continue;
		out[k++] = i;
	}
	return k;
}

/* Any session with @id, of any kind, in any state. */
static bool connected(const struct peer_mgr *mgr, const uint8_t id[33])
{
	for (const struct peer *p = mgr->peers; p; p = p->next)
		if (p->state != PEER_ST_CLOSED && p->node_id_known &&
		    memcmp(p->node_id, id, 33) == 0)
			return true;
	return false;
}

static void ensure_key(struct peer_mgr *mgr)
{
	uint8_t priv[32];

	while (!mgr->local_key) {
		randombytes_buf(priv, sizeof(priv));
		mgr->local_key = cn_nodekey_from_secret(priv);
	}
	sodium_memzero(priv, sizeof(priv));
	cn_nodekey_pub(mgr->local_key, mgr->local_pub);
}

/* A persistent peer's retry state lives here too, by node id. */
static struct gossip_cand *cand_for(struct peer_mgr *mgr,
				    const uint8_t id[33], const char *host,
				    uint16_t port)
{
	struct gossip_cand *c, **tail = &mgr->cands;
	size_t n = 0;

	for (; *tail; tail = &(*tail)->next, n++)
		if (memcmp((*tail)->node_id, id, 33) == 0)
			return *tail;
	if (n >= MAX_CANDS)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	memcpy(c->node_id, id, 33);
	snprintf(c->host, sizeof(c->host), "%s", host);
	c->port = port;
	c->backoff = CAND_RETRY_FIRST;
	/* At the end: the dial plan takes candidates in the order they
	 * came (the operator's peers before the graph's). */
	*tail = c;
	return c;
}

static void keep_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct peer_mgr *mgr = w->data;
	struct peer_gossip_cand view[MAX_CANDS];
	struct gossip_cand *cands[MAX_CANDS];
	size_t pick[MAX_CANDS], n = 0, have = 0, k;
	double now = ev_now(loop);

	if (!mgr->keep_min || mgr->freeing)
		return;
	for (const struct peer *p = mgr->peers; p; p = p->next) {
		if (p->state == PEER_ST_READY &&
		    p->mode == PEER_MODE_GOSSIP_ONLY)
			have++;
		else if (p->local_key && p->state != PEER_ST_CLOSED)
			have++; /* on its way */
	}
	/* The operator's persistent peers first, then added candidates
	 * (those from the graph may have come before the first dialer's). */
	for (struct gossip_cand *c = mgr->cands; c; c = c->next)
		c->listed = false;
	for (struct peer_dialer *d = mgr->dialers; d && n < MAX_CANDS;
	     d = d->next) {
		struct gossip_cand *c =
			cand_for(mgr, d->node_id, d->host, d->port);
		if (!c || c->listed)
			continue;
		c->port = d->port; /* the dialer's newest address */
		c->listed = true;
		cands[n++] = c;
	}
	for (struct gossip_cand *c = mgr->cands; c && n < MAX_CANDS;
	     c = c->next)
		if (!c->listed)
			cands[n++] = c;
	for (size_t i = 0; i < n; i++) {
		view[i].connected = connected(mgr, cands[i]->node_id);
		view[i].retry_at = cands[i]->retry_at;
	}
	k = peer_gossip_dial_plan(pick, MAX_CANDS, view, n, have,
				  mgr->keep_min, now);
	if (k)
		ensure_key(mgr);
	for (size_t i = 0; i < k; i++) {
		struct gossip_cand *c = cands[pick[i]];
		struct peer *p;
		mgr->local_stats.dials++;
		p = peer_mgr_dial_local_key(mgr, c->node_id, c->host, c->port);
		if (p && p->state != PEER_ST_CLOSED)
			p->cand = c;
		else
			c->retry_at = now + c->backoff;
	}
}

void peer_anon_session_closed(struct peer *p)
{
	struct gossip_cand *c = p->cand;
	struct peer_mgr *mgr = p->mgr;

	p->cand = NULL;
	if (!c)
		return;
	if (p->announced) {
		/* It worked: a peer that hangs up is dialed again soon. */
		c->backoff = CAND_RETRY_FIRST;
		c->retry_at = ev_now(mgr->loop) + CAND_RETRY_FIRST;
		return;
	}
	c->retry_at = ev_now(mgr->loop) + c->backoff;
	c->backoff = c->backoff * 2 > CAND_RETRY_MAX ? CAND_RETRY_MAX
						     : c->backoff * 2;
}

void peer_anon_init(struct peer_mgr *mgr)
{
	ev_init(&mgr->keep_timer, keep_tick);
	mgr->keep_timer.data = mgr;
}

void peer_anon_free(struct peer_mgr *mgr)
{
	mgr->keep_min = 0;
	ev_timer_stop(mgr->loop, &mgr->keep_timer);
	/* The candidates' sessions are closed with the rest. */
	for (struct peer *p = mgr->peers; p; p = p->next)
		p->cand = NULL;
}

void peer_mgr_hold_redials(struct peer_mgr *mgr, bool hold)
{
	if (mgr->hold_redials != hold)
		log_info("PEER", "%s persistent redials", hold
			 ? "holding (no signer: a dial would park)"
			 : "resuming");
	mgr->hold_redials = hold;
}

void peer_mgr_keep_gossip_sessions(struct peer_mgr *mgr, size_t min)
{
	if (min && !mgr->keep_min)
		log_info("PEER", "keeping at least %zu gossip-only session(s) "
			 "with a local key while no signer is there", min);
	mgr->keep_min = min;
	if (!min) {
		ev_timer_stop(mgr->loop, &mgr->keep_timer);
		return;
	}
	/* First look at once, then once a second. */
	ev_timer_stop(mgr->loop, &mgr->keep_timer);
	ev_timer_set(&mgr->keep_timer, 0., KEEP_TICK);
	ev_timer_start(mgr->loop, &mgr->keep_timer);
}

size_t peer_mgr_close_local_key(struct peer_mgr *mgr, const char *why)
{
	size_t n = 0;

	for (struct peer *p = mgr->peers; p; p = p->next) {
		if (!p->local_key || p->state == PEER_ST_CLOSED)
			continue;
		p->cand = NULL;
		peer_close(p, why);
		n++;
	}
	return n;
}

bool peer_mgr_add_gossip_candidate(struct peer_mgr *mgr, const char *uri)
{
	uint8_t id[33];
	char host[256];
	uint16_t port;

	if (!peer_addr_parse_uri(id, host, sizeof(host), &port, uri))
		return false;
	return cand_for(mgr, id, host, port) != NULL;
}

void peer_mgr_local_gossip_pub(struct peer_mgr *mgr, uint8_t out[33])
{
	ensure_key(mgr);
	memcpy(out, mgr->local_pub, 33);
}

void peer_mgr_local_stats(const struct peer_mgr *mgr,
			  struct peer_mgr_local_stats *out)
{
	*out = mgr->local_stats;
	out->now = 0;
	for (const struct peer *p = mgr->peers; p; p = p->next)
		out->now += p->local_key && p->state == PEER_ST_READY;
}
