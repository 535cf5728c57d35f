/*~ Relay: new valid gossip is appended to an in-memory log of references
 * (not bytes), and each peer that sent a gossip_timestamp_filter gets what
 * matches it in batches: a flush every flush_interval, at most flush_budget
 * bytes each.  Bytes are read back from the store at flush time, so an
 * item superseded in the meantime is sent once, in its newest form.
 *
 * BOLT 7: "SHOULD flush outgoing gossip messages once every 60 seconds";
 * "MUST NOT relay any gossip messages it did not generate itself, unless
 * explicitly requested" (the filter is that request). */
#include "common/common.h"
#include "gossip/gossip_internal.h"

#include <stdlib.h>
#include <string.h>

/* Bound on the log: a peer further behind than this skips ahead (it can
 * catch up with a range query). */
#define RELAY_LOG_MAX 50000

uint64_t gossip_relay_end(const struct gossip *g)
{
	return g->log_base + g->log_len;
}

static void drop_front(struct gossip *g, size_t n)
{
	if (!n)
		return;
	memmove(g->log, g->log + n, (g->log_len - n) * sizeof(*g->log));
	g->log_len -= n;
	g->log_base += n;
}

void gossip_relay_trim(struct gossip *g)
{
	uint64_t min = gossip_relay_end(g);

	/* Only peers with a filter will ever read the log. */
	for (struct gossip_peer *gp = g->peers; gp; gp = gp->next)
		if (gp->has_filter && gp->relay_seq < min)
			min = gp->relay_seq;
	if (min > g->log_base)
		drop_front(g, (size_t)(min - g->log_base));
}

void gossip_relay_add(struct gossip *g, enum gossip_relay_kind kind,
		      uint64_t scid, int dir, const uint8_t *node_id,
		      uint32_t ts, const struct gossip_peer *origin, bool own)
{
	struct gossip_relay_ent *e;
	bool wanted = false;

	for (struct gossip_peer *gp = g->peers; gp; gp = gp->next)
		wanted |= gp->has_filter;
	if (!wanted) {
		/* Nobody listens: keep the log empty and cursors at its end. */
		g->log_base += g->log_len + 1;
		g->log_len = 0;
		return;
	}
	if (g->log_len == RELAY_LOG_MAX)
		drop_front(g, RELAY_LOG_MAX / 4);
	if (g->log_len == g->log_cap) {
		g->log_cap = g->log_cap ? g->log_cap * 2 : 256;
		g->log = realloc(g->log, g->log_cap * sizeof(*g->log));
		if (!g->log)
			abort();
	}
	e = &g->log[g->log_len++];
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->scid = scid;
	e->dir = dir;
	e->ts = ts;
	e->own = own;
	if (node_id)
		memcpy(e->node_id, node_id, 33);
	if (origin)
		memcpy(e->origin, origin->id, 33);
}

/* Read the entry's current bytes into g->buf; 0 if gone or superseded. */
static size_t fetch(struct gossip *g, const struct gossip_relay_ent *e)
{
	size_t len = 0;
	int got = 0;

	/* A spent channel waits to be forgotten: not relayed meanwhile. */
	if (e->kind != GRELAY_NODE && gossip_channel_is_spent(g, e->scid))
		return 0;
	switch (e->kind) {
	case GRELAY_CHAN:
		got = gossip_store_chan_raw(g->store, g->buf, sizeof(g->buf),
					    &len, e->scid);
		break;
	case GRELAY_UPD:
		got = gossip_store_upd_raw(g->store, g->buf, sizeof(g->buf),
					   &len, e->scid, e->dir);
		if (got > 0 && (len < 110 || be32_get(g->buf + 106) != e->ts))
			got = 0;
		break;
	case GRELAY_NODE:
		got = gossip_store_node_raw(g->store, g->buf, sizeof(g->buf),
					    &len, e->node_id);
		break;
	}
	return got > 0 ? len : 0;
}

void gossip_relay_flush(struct gossip_peer *gp, size_t budget)
{
	struct gossip *g = gp->g;
	size_t sent = 0, msgs = 0;
	uint64_t seq = gp->relay_seq;

	if (seq < g->log_base) {
		log_debug(GOSSIP_SUB, "relay: peer fell %llu items behind",
			  (unsigned long long)(g->log_base - seq));
		seq = g->log_base;
	}
	for (; seq < gossip_relay_end(g) && sent < budget; seq++) {
		const struct gossip_relay_ent *e = &g->log[seq - g->log_base];
		size_t len;

		/* Not back to where it came from. */
		if (!memcmp(e->origin, gp->id, 33))
			continue;
		/* BOLT 7: "SHOULD send gossip messages as it generates them
		 * regardless of timestamp"; the filter restricts relayed
		 * gossip only. */
		if (!e->own && (e->ts < gp->f_first || e->ts >= gp->f_end))
			continue;
		len = fetch(g, e);
		if (!len)
			continue;
		if (!gossip_send(gp, g->buf, len))
			break;
		sent += len;
		msgs++;
	}
	gp->relay_seq = seq;
	if (msgs)
		log_debug(GOSSIP_SUB, "relay: flushed %zu messages, %zu bytes",
			  msgs, sent);
}
