/*~ The gossip manager: checks each announcement and update against BOLT 7
 * and the store, writes what is new in batched transactions, and hands it
 * to the relay log.  Sync queries live in sync.c, forwarding in relay.c.
 *
 * Nothing here needs the signer, so gossip keeps flowing in every
 * supervisor state; only gossip_own_* produce signatures, through the
 * caller's signing callback. */
#include "common/common.h"
#include "gossip/gossip_internal.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

void gossip_config_default(struct gossip_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->commit_interval = 0.1;
	cfg->commit_batch = 2000;
	cfg->flush_interval = 30;
	cfg->flush_budget = 256 * 1024;
	cfg->pace_interval = 0.05;
	cfg->pace_budget = 64 * 1024;
	cfg->queue_high = 256 * 1024;
	cfg->queue_total = 32 * 1024 * 1024;
	cfg->update_burst = 10;
	cfg->update_interval = 60;
	cfg->hold_time = 60;
	cfg->hold_max = 10000;
	cfg->prune_interval = 3600;
	cfg->prune_batch = 500;
	cfg->max_range_scids = 500000;
	cfg->sync_timeout = 60;
	cfg->max_unverified = 200000;
	cfg->max_pending_checks = 10000;
	cfg->resync_interval = 3600;
	cfg->resync_retry = 60;
	cfg->sync_checks_low = 500;
}

uint32_t gossip_now(const struct gossip *g)
{
	if (g->cfg.clock)
		return g->cfg.clock(g->cfg.clock_arg);
	return (uint32_t)time(NULL);
}

static void gossip_store_failed(struct gossip *g, const char *what)
{
	if (g->failed)
		return;
	g->failed = true;
	log_broken(GOSSIP_SUB, "gossip store failed (%s): gossip stopped",
		   what);
	if (g->cbs && g->cbs->store_failed)
		g->cbs->store_failed(g->cbarg, what);
}

static void commit_now(struct gossip *g)
{
	ev_timer_stop(g->loop, &g->commit_timer);
	if (g->store && gossip_store_pending(g->store) &&
	    !gossip_store_commit(g->store))
		gossip_store_failed(g, "commit");
}

static void commit_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	commit_now(w->data);
}

bool gossip_wrote(struct gossip *g, bool ok)
{
	if (!ok) {
		gossip_store_failed(g, "write");
		return false;
	}
	if (gossip_store_pending(g->store) >= g->cfg.commit_batch)
		commit_now(g);
	else if (!ev_is_active(&g->commit_timer))
		ev_timer_start(g->loop, &g->commit_timer);
	return true;
}

bool gossip_send(struct gossip_peer *gp, const uint8_t *msg, size_t len)
{
	if (gp->gone)
		return false;
	return gp->g->cfg.peer_ops->send(gp->p, msg, len);
}

/* A send that fails closes its session, and peer_gone comes back into
 * gossip_peer_gone while a caller up the stack still holds that peer (a
 * pace or relay loop, a query being answered).  So every entry point
 * brackets its work with enter/leave, and peers are freed only when the
 * outermost one leaves. */
void gossip_enter(struct gossip *g)
{
	g->depth++;
}

void gossip_leave(struct gossip *g)
{
	assert(g->depth > 0);
	if (--g->depth)
		return;
	while (g->dead) {
		struct gossip_peer *gp = g->dead;
		g->dead = gp->dead_next;
		gossip_sync_peer_free(gp);
		free(gp);
	}
}

/* ---- held updates for channels we don't know yet -------------------- */

/* A channel_update is 136 bytes plus any extension.  Any peer can make us
 * hold one (its signature cannot be checked yet), so bound the bytes as
 * well as the count: hold_max messages of 64 KiB would be ~650 MB. */
#define HOLD_MAX_LEN 1024

/* Appends a copy of @msg to one of the two waiting lists (updates held for
 * an unknown channel, announcements waiting for their UTXO check). */
static void waiting_add(struct gossip *g, struct gossip_held **list,
			size_t *num, size_t *cap, uint64_t scid,
			const uint8_t *msg, size_t len)
{
	struct gossip_held *h;

	if (*num == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		*list = realloc(*list, *cap * sizeof(**list));
		if (!*list)
			abort();
	}
	h = &(*list)[(*num)++];
	h->scid = scid;
	h->since = ev_now(g->loop);
	h->msg = malloc(len);
	if (!h->msg)
		abort();
	memcpy(h->msg, msg, len);
	h->len = len;
}

static void hold(struct gossip *g, uint64_t scid, const uint8_t *msg,
		 size_t len)
{
	waiting_add(g, &g->held, &g->num_held, &g->held_cap, scid, msg, len);
}

static void held_remove(struct gossip *g, size_t i)
{
	free(g->held[i].msg);
	g->held[i] = g->held[--g->num_held];
}

static enum gossip_reason handle_chan_upd(struct gossip *g,
					  struct gossip_peer *from,
					  const uint8_t *msg, size_t len);
static enum gossip_reason handle_node_ann(struct gossip *g,
					  struct gossip_peer *from,
					  const uint8_t *msg, size_t len);

/* The channel just arrived: its held updates go through the checks now,
 * without their sender (who may be gone). */
static void held_release(struct gossip *g, uint64_t scid)
{
	for (size_t i = 0; i < g->num_held;) {
		if (g->held[i].scid == scid) {
			struct gossip_held h = g->held[i];
			enum gossip_reason r;
			g->held[i] = g->held[--g->num_held];
			r = be16_get(h.msg) == GOSSIP_NODE_ANNOUNCEMENT
				    ? handle_node_ann(g, NULL, h.msg, h.len)
				    : handle_chan_upd(g, NULL, h.msg, h.len);
			if (r >= GOSSIP_REJ_TRUNCATED)
				g->rejects[r]++;
			free(h.msg);
		} else {
			i++;
		}
	}
}

static ssize_t check_find(const struct gossip *g, uint64_t scid);

static void held_expire(struct gossip *g)
{
	double now = ev_now(g->loop);

	for (size_t i = 0; i < g->num_held;) {
		/* Its announcement waits for a funding check: the channel is
		 * coming (or its failure drops these), so the update waits
		 * with it instead of being lost. */
		if (now - g->held[i].since >= g->cfg.hold_time &&
		    check_find(g, g->held[i].scid) < 0) {
			/* Held briefly, then dropped. */
			g->rejects[GOSSIP_REJ_UNKNOWN_CHANNEL]++;
			held_remove(g, i);
		} else {
			i++;
		}
	}
}

/* ---- announcements waiting for a UTXO check -------------------------- */

/* A channel_announcement is 432 bytes plus its features. */
#define CHECK_MAX_LEN 2048

static ssize_t check_find(const struct gossip *g, uint64_t scid)
{
	for (size_t i = 0; i < g->num_checks; i++)
		if (g->checks[i].scid == scid)
			return (ssize_t)i;
	return -1;
}

/* Held updates arrive from every peer that has them: one copy each.  Only
 * byte-identical ones are merged: a different update for the same channel
 * cannot be judged before its announcement (a forger's could otherwise
 * push the real one out).  True if @msg is held already. */
static bool held_dup(const struct gossip *g, uint64_t scid,
		     const uint8_t *msg, size_t len)
{
	for (size_t i = 0; i < g->num_held; i++)
		if (g->held[i].scid == scid && g->held[i].len == len &&
		    !memcmp(g->held[i].msg, msg, len))
			return true;
	return false;
}

static void check_hold(struct gossip *g, uint64_t scid, const uint8_t *msg,
		       size_t len)
{
	waiting_add(g, &g->checks, &g->num_checks, &g->checks_cap, scid, msg,
		    len);
}

/* Updates held for a channel that failed its check go too. */
static void held_drop(struct gossip *g, uint64_t scid)
{
	for (size_t i = 0; i < g->num_held;) {
		if (g->held[i].scid == scid)
			held_remove(g, i);
		else
			i++;
	}
}

/* ---- validation ------------------------------------------------------ */

/* Made by us (our node id, gossip_set_own_id). */
static bool is_own(const struct gossip *g, const uint8_t node_id[33])
{
	return g->have_own && !memcmp(node_id, g->own_id, 33);
}

static enum gossip_reason check_ts(struct gossip *g, uint32_t ts)
{
	uint32_t now = gossip_now(g);

	if (ts > now && ts - now > GOSSIP_FUTURE_SECS)
		return GOSSIP_REJ_TS_FUTURE;
	if (ts < now && now - ts > GOSSIP_STALE_SECS)
		return GOSSIP_REJ_TS_STALE;
	return GOSSIP_OK;
}

/* A message with the same timestamp as the one we hold, which reading it
 * back into g->buf gave (@got: <0 error, 0 none, else @olen bytes).
 * BOLT 7: "if the fields below timestamp are equal: SHOULD ignore this
 * message; otherwise MAY blacklist" -- compared without the type and
 * signature (66 bytes), as signatures are malleable. */
static enum gossip_reason same_timestamp(const struct gossip *g, int got,
					 size_t olen, const uint8_t *msg,
					 size_t len)
{
	if (got < 0)
		return GOSSIP_REJ_STORE;
	if (got && olen == len && !memcmp(g->buf + 66, msg + 66, len - 66))
		return GOSSIP_IGN_DUPLICATE;
	return GOSSIP_REJ_TS_CONFLICT;
}

/* Unverified channels cost an attacker nothing but signatures over keys
 * of their own, so their number is capped; channels already stored (and
 * their updates and nodes) are unaffected.  Logged at most once a minute:
 * a flood over the cap must not become a flood of log lines. */
static enum gossip_reason unverified_cap_check(struct gossip *g)
{
	struct gossip_store_counts c;

	if (!g->cfg.max_unverified)
		return GOSSIP_OK;
	if (!gossip_store_counts(g->store, &c))
		return GOSSIP_REJ_STORE;
	if (c.unverified < g->cfg.max_unverified)
		return GOSSIP_OK;
	if (ev_now(g->loop) >= g->cap_log_next) {
		log_unusual(GOSSIP_SUB,
			    "unverified channel cap %llu reached "
			    "(--gossip.maxunverified): ignoring new channel "
			    "announcements",
			    (unsigned long long)g->cfg.max_unverified);
		g->cap_log_next = ev_now(g->loop) + 60;
	}
	return GOSSIP_REJ_UNVERIFIED_CAP;
}

static enum gossip_reason handle_chan_ann(struct gossip *g,
					  struct gossip_peer *from,
					  const uint8_t *msg, size_t len)
{
	struct gossip_chan_ann ca;
	struct gossip_store_chan sc;
	enum gossip_reason r;
	enum gossip_utxo utxo = GOSSIP_UTXO_UNVERIFIED;
	int found;

	r = gossip_chan_ann_parse(&ca, msg, len);
	if (r != GOSSIP_OK)
		return r;
	/* BOLT 7: "if the specified chain_hash is unknown to the receiver:
	 * MUST ignore the message." */
	if (memcmp(ca.chain_hash, g->cfg.chain_hash, 32))
		return GOSSIP_REJ_WRONG_CHAIN;
	/* BOLT 7: "MUST set node_id_1 and node_id_2 to the public keys of
	 * the two nodes ... node_id_1 is the lexicographically-lesser". */
	if (memcmp(ca.node_id_1, ca.node_id_2, 33) >= 0)
		return GOSSIP_REJ_NODE_ORDER;
	/* Known already: no need to spend four signature checks. */
	found = gossip_store_get_chan(g->store, &sc, ca.scid);
	if (found < 0)
		return GOSSIP_REJ_STORE;
	if (found || check_find(g, ca.scid) >= 0)
		return GOSSIP_IGN_DUPLICATE;
	r = gossip_chan_ann_check_sigs_kc(g->keys, msg, len, &ca);
	if (r != GOSSIP_OK)
		return r;
	/* BOLT 7: "if the short_channel_id's output does NOT correspond to
	 * a P2WSH ... OR the output is spent: MUST ignore the message."
	 * Without a chain source we cannot tell: stored as unverified. */
	if (g->cfg.chain.check_utxo) {
		/* Bounded before asking: a flood of made-up channels costs
		 * the sender signatures only. */
		if (g->num_checks >= g->cfg.max_pending_checks ||
		    len > CHECK_MAX_LEN) {
			if (ev_now(g->loop) >= g->checks_log_next) {
				log_unusual(GOSSIP_SUB, "%zu channel "
					    "announcements wait for a funding "
					    "check: ignoring new ones",
					    g->num_checks);
				g->checks_log_next = ev_now(g->loop) + 60;
			}
			/* Not lost: a sync soon asks for it again by scid. */
			gossip_sync_refused(g);
			return GOSSIP_REJ_CHECKS_FULL;
		}
		utxo = g->cfg.chain.check_utxo(g->cfg.chain.arg, ca.scid,
					       ca.btc_key_1, ca.btc_key_2);
	}
	switch (utxo) {
	case GOSSIP_UTXO_BAD:
		return GOSSIP_REJ_UTXO;
	case GOSSIP_UTXO_PENDING:
		check_hold(g, ca.scid, msg, len);
		return GOSSIP_IGN_PENDING;
	case GOSSIP_UTXO_OK:
		break;
	case GOSSIP_UTXO_UNVERIFIED:
		r = unverified_cap_check(g);
		if (r != GOSSIP_OK)
			return r;
		break;
	}
	if (!gossip_wrote(g, gossip_store_add_chan(
				     g->store, ca.scid, ca.node_id_1,
				     ca.node_id_2,
				     utxo == GOSSIP_UTXO_UNVERIFIED,
				     gossip_now(g), msg, len)))
		return GOSSIP_REJ_STORE;
	/* Relayed with its first channel_update: BOLT 7 says a
	 * channel_announcement is never sent without one. */
	held_release(g, ca.scid);
	return GOSSIP_OK;
}

static enum gossip_reason handle_chan_upd(struct gossip *g,
					  struct gossip_peer *from,
					  const uint8_t *msg, size_t len)
{
	struct gossip_chan_upd cu;
	struct gossip_store_chan sc;
	enum gossip_reason r;
	uint8_t h[32];
	int dir, found;
	bool own;

	r = gossip_chan_upd_parse(&cu, msg, len);
	if (r != GOSSIP_OK)
		return r;
	if (memcmp(cu.chain_hash, g->cfg.chain_hash, 32))
		return GOSSIP_REJ_WRONG_CHAIN;
	r = check_ts(g, cu.timestamp);
	if (r != GOSSIP_OK)
		return r;
	found = gossip_store_get_chan(g->store, &sc, cu.scid);
	if (found < 0)
		return GOSSIP_REJ_STORE;
	if (!found) {
		/* BOLT 7: "if the short_channel_id does NOT match a previous
		 * channel_announcement ... MUST ignore".  It may be racing
		 * its announcement, so hold it a little first. */
		if (len > HOLD_MAX_LEN)
			return GOSSIP_REJ_UNKNOWN_CHANNEL;
		if (held_dup(g, cu.scid, msg, len))
			return GOSSIP_IGN_DUPLICATE;
		if (g->num_held >= g->cfg.hold_max) {
			/* Full: a sync fetches it again once there is room. */
			gossip_sync_refused(g);
			return GOSSIP_REJ_UNKNOWN_CHANNEL;
		}
		hold(g, cu.scid, msg, len);
		return GOSSIP_IGN_HELD;
	}
	dir = cu.channel_flags & GOSSIP_UPD_DIRECTION;
	if (sc.has_upd[dir]) {
		/* BOLT 7: "if the timestamp is NOT greater than that of the
		 * last-received channel_update for this short_channel_id AND
		 * for node_id: SHOULD ignore the message." */
		if (cu.timestamp < sc.ts[dir])
			return GOSSIP_IGN_OLDER;
		if (cu.timestamp == sc.ts[dir]) {
			size_t olen = 0;
			int got = gossip_store_upd_raw(g->store, g->buf,
						       sizeof(g->buf), &olen,
						       cu.scid, dir);
			return same_timestamp(g, got, olen, msg, len);
		}
	}
	gossip_sighash(h, msg, len);
	if (!gossip_sig_ok_kc(g->keys, h, cu.sig,
			      dir ? sc.node_id_2 : sc.node_id_1))
		return GOSSIP_REJ_BAD_SIG;
	/* Only valid updates spend a token, so forged ones cannot starve
	 * the real channel. */
	if (!gossip_rl_take(g->rl, (cu.scid << 1) | (uint64_t)dir,
			    (double)gossip_now(g)))
		return GOSSIP_REJ_RATE_LIMITED;
	if (!gossip_wrote(g, gossip_store_put_upd(
				     g->store, cu.scid, dir, cu.timestamp,
				     gossip_chan_upd_checksum(msg, len),
				     cu.message_flags, msg, len)))
		return GOSSIP_REJ_STORE;
	/* BOLT 7: dont_forward "MUST NOT" be relayed: kept local. */
	if (cu.message_flags & GOSSIP_UPD_DONT_FORWARD)
		return GOSSIP_OK;
	own = !from && is_own(g, dir ? sc.node_id_2 : sc.node_id_1);
	if (!sc.has_upd[0] && !sc.has_upd[1])
		gossip_relay_add(g, GRELAY_CHAN, cu.scid, 0, NULL,
				 cu.timestamp, from, own);
	gossip_relay_add(g, GRELAY_UPD, cu.scid, dir, NULL, cu.timestamp,
			 from, own);
	return GOSSIP_OK;
}

/* A channel_announcement waiting for its check that names @node_id: its
 * scid in *@scid.  (Offsets: BOLT 7, node_id_1 at 300 + flen.) */
static bool pending_names_node(const struct gossip *g,
			       const uint8_t node_id[33], uint64_t *scid)
{
	for (size_t i = 0; i < g->num_checks; i++) {
		const struct gossip_held *c = &g->checks[i];
		size_t off = 300 + (size_t)be16_get(c->msg + 258);
		if (c->len < off + 66)
			continue;
		if (!memcmp(c->msg + off, node_id, 33) ||
		    !memcmp(c->msg + off + 33, node_id, 33)) {
			*scid = c->scid;
			return true;
		}
	}
	return false;
}

/* BOLT 7: ignore a node_announcement whose node_id is "NOT previously known
 * from a channel_announcement".  One known from an announcement still
 * waiting for its funding check is held with it (released or dropped with
 * it), else it would be lost: a query answer sends each node once. */
static enum gossip_reason hold_node_ann(struct gossip *g,
					const struct gossip_node_ann *na,
					const uint8_t *msg, size_t len)
{
	uint64_t scid;
	uint8_t h[32];

	if (len > CHECK_MAX_LEN || !pending_names_node(g, na->node_id, &scid))
		return GOSSIP_REJ_UNKNOWN_NODE;
	if (held_dup(g, scid, msg, len))
		return GOSSIP_IGN_DUPLICATE;
	/* Checked now so a forger cannot fill the queue. */
	gossip_sighash(h, msg, len);
	if (!gossip_sig_ok_kc(g->keys, h, na->sig, na->node_id))
		return GOSSIP_REJ_BAD_SIG;
	if (g->num_held >= g->cfg.hold_max) {
		gossip_sync_refused(g);
		return GOSSIP_REJ_UNKNOWN_NODE;
	}
	hold(g, scid, msg, len);
	return GOSSIP_IGN_HELD;
}

static enum gossip_reason handle_node_ann(struct gossip *g,
					  struct gossip_peer *from,
					  const uint8_t *msg, size_t len)
{
	struct gossip_node_ann na;
	enum gossip_reason r;
	uint32_t old_ts;
	uint8_t h[32];
	int found;

	r = gossip_node_ann_parse(&na, msg, len);
	if (r != GOSSIP_OK)
		return r;
	/* Ours must follow the origin's rules; a peer's only be whole. */
	r = from ? gossip_addresses_check(na.addresses, na.addresses_len)
		 : gossip_addresses_check_origin(na.addresses,
						 na.addresses_len);
	if (r != GOSSIP_OK)
		return r;
	/* Only too far ahead: BOLT 7 has no age limit for a
	 * node_announcement (a node that changes nothing need not announce
	 * again), and refusing old ones loses quiet nodes for good. */
	r = check_ts(g, na.timestamp);
	if (r != GOSSIP_OK && r != GOSSIP_REJ_TS_STALE)
		return r;
	/* BOLT 7: "if node_id is NOT previously known from a
	 * channel_announcement message ... SHOULD ignore the message." */
	found = gossip_store_node_has_chan(g->store, na.node_id);
	if (found < 0)
		return GOSSIP_REJ_STORE;
	/* Except our own, made here: a watch-only node has no channel, and
	 * its store still keeps what it announces. */
	if (!found && !from && g->have_own &&
	    memcmp(na.node_id, g->own_id, 33) == 0)
		found = 1;
	if (!found)
		return hold_node_ann(g, &na, msg, len);
	found = gossip_store_get_node(g->store, &old_ts, na.node_id);
	if (found < 0)
		return GOSSIP_REJ_STORE;
	if (found) {
		/* "if timestamp is NOT greater than the last-received
		 * node_announcement from this node_id: SHOULD ignore". */
		if (na.timestamp < old_ts)
			return GOSSIP_IGN_OLDER;
		if (na.timestamp == old_ts) {
			size_t olen = 0;
			int got = gossip_store_node_raw(g->store, g->buf,
							sizeof(g->buf), &olen,
							na.node_id);
			return same_timestamp(g, got, olen, msg, len);
		}
	}
	gossip_sighash(h, msg, len);
	/* BOLT 7: "if signature is not a valid signature, using node_id of
	 * the double-SHA256 of the entire message following the signature
	 * field ... SHOULD send a warning". */
	if (!gossip_sig_ok_kc(g->keys, h, na.sig, na.node_id))
		return GOSSIP_REJ_BAD_SIG;
	if (!gossip_wrote(g, gossip_store_put_node(g->store, na.node_id,
						   na.timestamp, msg, len)))
		return GOSSIP_REJ_STORE;
	/* BOLT 7: a repeated DNS name: "SHOULD ignore the additional data"
	 * and "MUST not forward the node_announcement" (answers to an
	 * explicit query still carry it: it is in the store). */
	if (gossip_addresses_dns_count(na.addresses, na.addresses_len) > 1)
		return GOSSIP_OK;
	gossip_relay_add(g, GRELAY_NODE, 0, 0, na.node_id, na.timestamp,
			 from, !from && is_own(g, na.node_id));
	return GOSSIP_OK;
}

/* ---- the entry point ------------------------------------------------- */

/* A peer whose updates keep hitting the rate limit is flooding: warn it
 * once, then drop it. */
#define FLOOD_WINDOW 60.0
#define FLOOD_WARN 100
#define FLOOD_CLOSE 1000

static void flood_check(struct gossip *g, struct gossip_peer *gp)
{
	double now = ev_now(g->loop);
	const struct gossip_peer_ops *ops = g->cfg.peer_ops;

	if (gp->gone)
		return;
	if (now - gp->flood_start > FLOOD_WINDOW) {
		gp->flood_start = now;
		gp->flood_count = 0;
	}
	gp->flood_count++;
	if (gp->flood_count == FLOOD_WARN && !gp->flood_warned) {
		gp->flood_warned = true;
		ops->warn(gp->p, "gossip: too many channel_updates, slow down");
	} else if (gp->flood_count == FLOOD_CLOSE) {
		ops->close(gp->p, "gossip: flooding channel_updates");
	}
}

/* Warnings to one peer: at most WARN_BURST a minute (each is a message
 * and a log line); the rest counted, said once when the minute ends. */
#define WARN_BURST 10

static bool warn_allowed(struct gossip *g, struct gossip_peer *gp)
{
	double now = ev_now(g->loop);

	if (now - gp->warn_start > FLOOD_WINDOW) {
		if (gp->warn_dropped)
			log_unusual(GOSSIP_SUB, "%u more gossip warnings to a "
				    "peer were not sent", gp->warn_dropped);
		gp->warn_start = now;
		gp->warn_count = 0;
		gp->warn_dropped = 0;
	}
	if (gp->warn_count < WARN_BURST) {
		gp->warn_count++;
		return true;
	}
	gp->warn_dropped++;
	return false;
}

static enum gossip_reason dispatch(struct gossip *g, struct gossip_peer *gp,
				   const uint8_t *msg, size_t len)
{
	if (len < 2)
		return GOSSIP_REJ_TRUNCATED;
	switch ((enum gossip_type)be16_get(msg)) {
	case GOSSIP_CHANNEL_ANNOUNCEMENT:
		return handle_chan_ann(g, gp, msg, len);
	case GOSSIP_NODE_ANNOUNCEMENT:
		return handle_node_ann(g, gp, msg, len);
	case GOSSIP_CHANNEL_UPDATE:
		return handle_chan_upd(g, gp, msg, len);
	case GOSSIP_QUERY_SHORT_CHANNEL_IDS:
	case GOSSIP_REPLY_SHORT_CHANNEL_IDS_END:
	case GOSSIP_QUERY_CHANNEL_RANGE:
	case GOSSIP_REPLY_CHANNEL_RANGE:
	case GOSSIP_TIMESTAMP_FILTER:
		if (!gp)
			return GOSSIP_IGN_NOT_GOSSIP;
		return gossip_sync_handle(g, gp, msg, len);
	/* Channel business (the channel owner's), not the graph's. */
	case GOSSIP_ANNOUNCEMENT_SIGNATURES:
		return GOSSIP_IGN_NOT_GOSSIP;
	}
	return GOSSIP_IGN_NOT_GOSSIP;
}

enum gossip_reason gossip_handle_msg(struct gossip *g, struct peer *from,
				     const uint8_t *msg, size_t len)
{
	const struct gossip_peer_ops *ops = g->cfg.peer_ops;
	struct gossip_peer *gp = from ? ops->get_user(from) : NULL;
	enum gossip_reason r;
	char why[160];

	if (g->failed)
		return GOSSIP_REJ_STORE;
	gossip_enter(g);
	r = dispatch(g, gp, msg, len);
	gossip_leave(g);
	if (r < GOSSIP_REJ_TRUNCATED) {
		g->handled[r]++;
		return r;
	}
	g->rejects[r]++;
	if (!from)
		return r;
	snprintf(why, sizeof(why), "gossip: type %u: %s",
		 len >= 2 ? be16_get(msg) : 0, gossip_reason_str(r));
	log_debug(GOSSIP_SUB, "%s", why);
	switch (gossip_reason_action(r)) {
	case GOSSIP_ACT_NONE:
		if (r == GOSSIP_REJ_RATE_LIMITED && gp)
			flood_check(g, gp);
		break;
	case GOSSIP_ACT_WARN:
		if (gp && !warn_allowed(g, gp))
			break;
		ops->warn(from, why);
		break;
	case GOSSIP_ACT_CLOSE:
		ops->close(from, why);
		break;
	}
	return r;
}

/* ---- our own messages ------------------------------------------------ */

enum gossip_reason gossip_own_node_ann(struct gossip *g,
				       const struct gossip_node_ann *na,
				       gossip_sign_fn sign, void *arg)
{
	uint8_t msg[GOSSIP_MAX_MSG];
	size_t len = gossip_node_ann_sign(msg, sizeof(msg), na, sign, arg);

	if (!len)
		return GOSSIP_REJ_BAD_SIG;
	return gossip_handle_msg(g, NULL, msg, len);
}

void gossip_set_own_id(struct gossip *g, const uint8_t node_id[33])
{
	memcpy(g->own_id, node_id, 33);
	g->have_own = true;
}

uint32_t gossip_own_node_ann_timestamp(struct gossip *g)
{
	uint32_t now = gossip_now(g), last;

	assert(g->have_own);
	/* A store error reads as "none": the ingest reports it anyway. */
	if (!g->failed &&
	    gossip_store_get_node(g->store, &last, g->own_id) == 1 &&
	    last >= now && last < UINT32_MAX)
		return last + 1;
	return now;
}

enum gossip_reason gossip_own_finish(struct gossip *g, const uint8_t *msg,
				     size_t len, const uint8_t sig64[64])
{
	uint8_t buf[GOSSIP_MAX_MSG];

	/* Programmer errors: only these two carry one signature at 2. */
	assert(len >= 66 && len <= sizeof(buf));
	assert(be16_get(msg) == GOSSIP_NODE_ANNOUNCEMENT ||
	       be16_get(msg) == GOSSIP_CHANNEL_UPDATE);
	memcpy(buf, msg, len);
	memcpy(buf + 2, sig64, 64);
	return gossip_handle_msg(g, NULL, buf, len);
}

enum gossip_reason gossip_own_chan_upd(struct gossip *g,
				       const struct gossip_chan_upd *cu,
				       gossip_sign_fn sign, void *arg)
{
	uint8_t msg[GOSSIP_MAX_MSG];
	struct gossip_chan_upd c = *cu;
	size_t len;

	memcpy(c.chain_hash, g->cfg.chain_hash, 32);
	len = gossip_chan_upd_sign(msg, sizeof(msg), &c, sign, arg);
	if (!len)
		return GOSSIP_REJ_BAD_SIG;
	return gossip_handle_msg(g, NULL, msg, len);
}

/* ---- peers ----------------------------------------------------------- */

void gossip_peer_connected(struct gossip *g, struct peer *p)
{
	const struct gossip_peer_ops *ops = g->cfg.peer_ops;
	struct gossip_peer *gp = calloc(1, sizeof(*gp));
	struct gossip_ts_filter f;
	size_t len;

	if (!gp)
		abort();
	gossip_enter(g);
	gp->g = g;
	gp->p = p;
	memcpy(gp->id, ops->node_id(p), 33);
	gp->relay_seq = gossip_relay_end(g);
	/* Stagger flushes so peers don't all burst at once. */
	gp->next_flush = ev_now(g->loop) +
			 g->cfg.flush_interval * (0.5 + (gp->id[1] % 64) / 128.0);
	gp->next = g->peers;
	g->peers = gp;
	ops->set_user(p, gp);

	/* BOLT 7: "a node ... SHOULD send a gossip_timestamp_filter ...
	 * otherwise the peer will not send any gossip".  From now on: what
	 * we missed comes through the range sync. */
	memcpy(f.chain_hash, g->cfg.chain_hash, 32);
	f.first_timestamp = gossip_now(g);
	f.timestamp_range = UINT32_MAX;
	len = gossip_ts_filter_write(g->buf, sizeof(g->buf), &f);
	gossip_send(gp, g->buf, len);
	gossip_sync_maybe_start(g);
	gossip_leave(g);
}

void gossip_peer_gone(struct gossip *g, struct peer *p)
{
	struct gossip_peer *gp = g->cfg.peer_ops->get_user(p), **pp;

	if (!gp)
		return;
	gossip_enter(g);
	for (pp = &g->peers; *pp; pp = &(*pp)->next) {
		if (*pp == gp) {
			*pp = gp->next;
			break;
		}
	}
	g->cfg.peer_ops->set_user(p, NULL);
	if (g->syncing == gp)
		gossip_sync_abandon(g, gp, "peer gone");
	/* gp->next stays as it was: a loop standing on gp goes on. */
	gp->gone = true;
	gp->p = NULL;
	gp->dead_next = g->dead;
	g->dead = gp;
	gossip_relay_trim(g);
	gossip_sync_maybe_start(g);
	gossip_leave(g);
}

/* ---- timers ---------------------------------------------------------- */

/* Bytes queued to @gp's session (0 if the session layer does not say). */
static size_t queued(const struct gossip_peer *gp)
{
	const struct gossip_peer_ops *ops = gp->g->cfg.peer_ops;

	return !gp->gone && ops->queued ? ops->queued(gp->p) : 0;
}

size_t gossip_queued_total(const struct gossip *g)
{
	size_t total = 0;

	for (const struct gossip_peer *gp = g->peers; gp; gp = gp->next)
		total += queued(gp);
	return total;
}

size_t gossip_send_budget(const struct gossip *g,
			  const struct gossip_peer *gp, size_t want,
			  size_t total)
{
	size_t q = queued(gp);

	/* Whatever the socket drains: a peer reading at 300 KB/s gets 300
	 * KB/s, its queue stays under queue_high (plus one message), and
	 * all queues together under queue_total. */
	if (q >= g->cfg.queue_high || total >= g->cfg.queue_total)
		return 0;
	if (want > g->cfg.queue_high - q)
		want = g->cfg.queue_high - q;
	if (want > g->cfg.queue_total - total)
		want = g->cfg.queue_total - total;
	return want;
}

static void pace_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct gossip *g = w->data;
	bool more = false;
	size_t total, n = 0, k;
	struct gossip_peer *gp, **order;

	gossip_enter(g);
	total = gossip_queued_total(g);
	for (gp = g->peers; gp; gp = gp->next)
		n++;
	order = malloc((n ? n : 1) * sizeof(*order));
	if (!order)
		abort();
	n = 0;
	for (gp = g->peers; gp; gp = gp->next)
		order[n++] = gp;
	/* Under the total bound the first peers served would take it all:
	 * start one further along the list each tick.  (Peers that go
	 * meanwhile are only marked gone until gossip_leave.) */
	k = n ? g->pace_turn++ % n : 0;
	for (size_t i = 0; i < n; i++) {
		size_t before, budget;
		gp = order[(k + i) % n];
		if (gp->gone)
			continue;
		before = queued(gp);
		budget = gossip_send_budget(g, gp, g->cfg.pace_budget, total);
		if (!budget) {
			/* Waiting for the socket: work remains. */
			more |= gp->qcr_active || gp->qsi_active ||
				gp->bf_active;
			continue;
		}
		more |= gossip_sync_pace(gp, budget);
		if (queued(gp) > before)
			total += queued(gp) - before;
	}
	free(order);
	gossip_leave(g);
	commit_now(g);
	if (!more)
		ev_timer_stop(loop, w);
}

void gossip_pace_start(struct gossip *g)
{
	if (!ev_is_active(&g->pace))
		ev_timer_again(g->loop, &g->pace);
}

static void tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct gossip *g = w->data;
	double now = ev_now(loop);
	size_t total = SIZE_MAX;

	gossip_enter(g);
	for (struct gossip_peer *gp = g->peers; gp; gp = gp->next) {
		if (!gp->gone && gp->has_filter && now >= gp->next_flush) {
			size_t b;
			/* Once per tick, and only if someone flushes. */
			if (total == SIZE_MAX)
				total = gossip_queued_total(g);
			b = gossip_send_budget(g, gp, g->cfg.flush_budget,
					       total);
			/* A full queue: try again in a second. */
			gp->next_flush = now + (b ? g->cfg.flush_interval : 1);
			if (b)
				gossip_relay_flush(gp, b);
		}
	}
	gossip_relay_trim(g);
	gossip_sync_tick(g);
	held_expire(g);
	/* Full buckets are forgotten once a minute: O(active buckets). */
	if (++g->ticks % 60 == 0)
		gossip_rl_sweep(g->rl, (double)gossip_now(g));
	gossip_leave(g);
}

size_t gossip_prune_now(struct gossip *g)
{
	uint32_t now = gossip_now(g), upto = now;
	size_t n;

	/* Stale as of the last completed sync, not as of now: after two
	 * weeks offline (or a clock jump) the fresh updates of live
	 * channels are still on their way, and deleting those channels
	 * first would refuse the updates as unknown.  Never synced: no
	 * evidence that anything is stale. */
	if (g->synced_at < upto)
		upto = g->synced_at;
	if (g->failed || upto < GOSSIP_STALE_SECS)
		return 0;
	/* BOLT 7: "if the timestamp of the latest channel_update in either
	 * direction is older than two weeks (1209600 seconds): MAY prune
	 * the channel" -- "the oldest channel_update is used to prune the
	 * channel since both sides need to be active". */
	n = gossip_store_prune(g->store, upto - GOSSIP_STALE_SECS,
			       g->cfg.prune_batch);
	commit_now(g);
	if (n)
		log_info(GOSSIP_SUB, "pruned %zu stale channels", n);
	return n;
}

static void prune_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct gossip *g = w->data;

	/* Bounded: one batch per run; a full batch means more are waiting,
	 * so come back soon instead of looping here. */
	if (gossip_prune_now(g) == g->cfg.prune_batch)
		w->repeat = 1.0;
	else
		w->repeat = g->cfg.prune_interval;
	ev_timer_again(loop, w);
}

/* ---- lifetime -------------------------------------------------------- */

struct gossip *gossip_new(struct ev_loop *loop, const struct gossip_config *cfg,
			  const struct gossip_cbs *cbs, void *arg)
{
	struct gossip *g;
	char *path;
	int64_t synced_at;

	assert(cfg->peer_ops && cfg->datadir && cfg->pace_interval > 0 &&
	       cfg->commit_interval > 0);
	g = calloc(1, sizeof(*g));
	if (!g)
		abort();
	g->loop = loop;
	g->cfg = *cfg;
	g->datadir = strdup(cfg->datadir);
	g->cfg.datadir = g->datadir;
	g->cbs = cbs;
	g->cbarg = arg;
	if (mkdir(g->datadir, 0700) != 0 && errno != EEXIST)
		log_unusual(GOSSIP_SUB, "mkdir %s: %s", g->datadir,
			    strerror(errno));
	if (asprintf(&path, "%s/%s", g->datadir, GOSSIP_STORE_FILE) < 0)
		abort();
	g->store = gossip_store_open(path);
	free(path);
	if (!g->store) {
		free(g->datadir);
		free(g);
		return NULL;
	}
	if (gossip_store_meta_get(g->store, &synced_at, "synced_at") &&
	    synced_at > 0 && synced_at <= UINT32_MAX)
		g->synced_at = (uint32_t)synced_at;
	g->sstats.last_completed = g->synced_at;
	if (g->synced_at &&
	    (int64_t)gossip_now(g) - g->synced_at < GOSSIP_SYNC_FRESH_SECS) {
		/* Recent: the next sync when the periodic one is due. */
		g->synced = true;
		if (cfg->resync_interval > 0)
			g->next_sync = ev_now(loop) + cfg->resync_interval -
				       ((int64_t)gossip_now(g) - g->synced_at);
	} else {
		g->sync_due = true;
		g->sync_round = 1;
	}
	g->rl = gossip_rl_new(cfg->update_burst, cfg->update_interval);
	g->keys = gossip_keycache_new();
	{
		struct gossip_store_counts c;
		if (gossip_store_counts(g->store, &c))
			log_info(GOSSIP_SUB,
				 "gossip store: %llu nodes, %llu channels "
				 "(%llu unverified: no chain source checks "
				 "funding outputs), %llu updates%s",
				 (unsigned long long)c.nodes,
				 (unsigned long long)c.channels,
				 (unsigned long long)c.unverified,
				 (unsigned long long)c.updates,
				 g->synced ? ", synced recently" : "");
	}

	ev_timer_init(&g->commit_timer, commit_cb, cfg->commit_interval, 0);
	g->commit_timer.data = g;
	ev_timer_init(&g->tick, tick_cb, 1.0, 1.0);
	g->tick.data = g;
	ev_timer_start(loop, &g->tick);
	ev_timer_init(&g->pace, pace_cb, 0, cfg->pace_interval);
	g->pace.data = g;
	/* First prune a minute in: start-up does no graph work. */
	ev_timer_init(&g->prune_timer, prune_cb, 0, 60);
	g->prune_timer.data = g;
	ev_timer_again(loop, &g->prune_timer);
	return g;
}

void gossip_free(struct gossip *g)
{
	if (!g)
		return;
	assert(g->depth == 0 && !g->dead);
	while (g->peers) {
		struct gossip_peer *gp = g->peers;
		g->peers = gp->next;
		g->cfg.peer_ops->set_user(gp->p, NULL);
		gossip_sync_peer_free(gp);
		free(gp);
	}
	ev_timer_stop(g->loop, &g->commit_timer);
	ev_timer_stop(g->loop, &g->tick);
	ev_timer_stop(g->loop, &g->pace);
	ev_timer_stop(g->loop, &g->prune_timer);
	gossip_store_free(g->store); /* commits the open batch */
	while (g->num_held)
		held_remove(g, g->num_held - 1);
	free(g->held);
	for (size_t i = 0; i < g->num_checks; i++)
		free(g->checks[i].msg);
	free(g->checks);
	free(g->spent);
	free(g->log);
	gossip_rl_free(g->rl);
	gossip_keycache_free(g->keys);
	free(g->datadir);
	free(g);
}

/* ---- counters -------------------------------------------------------- */

void gossip_counts(struct gossip *g, uint64_t *nodes, uint64_t *channels,
		   uint64_t *updates)
{
	struct gossip_store_counts c;

	if (!gossip_store_counts(g->store, &c))
		memset(&c, 0, sizeof(c));
	if (nodes)
		*nodes = c.nodes;
	if (channels)
		*channels = c.channels;
	if (updates)
		*updates = c.updates;
}

void gossip_utxo_done(struct gossip *g, uint64_t scid, enum gossip_utxo r)
{
	ssize_t i = check_find(g, scid);
	struct gossip_chan_ann ca;
	struct gossip_held h;

	if (i < 0)
		return;
	h = g->checks[i];
	g->checks[i] = g->checks[--g->num_checks];
	gossip_enter(g);
	switch (r) {
	case GOSSIP_UTXO_BAD:
	case GOSSIP_UTXO_PENDING: /* not an answer: programmer error */
		assert(r == GOSSIP_UTXO_BAD);
		/* BOLT 7: "if the short_channel_id's output does NOT
		 * correspond to a P2WSH ... OR the output is spent: MUST
		 * ignore the message." */
		g->rejects[GOSSIP_REJ_UTXO]++;
		held_drop(g, scid);
		break;
	case GOSSIP_UTXO_UNVERIFIED:
		if (unverified_cap_check(g) != GOSSIP_OK) {
			g->rejects[GOSSIP_REJ_UNVERIFIED_CAP]++;
			held_drop(g, scid);
			break;
		}
		/* fall through */
	case GOSSIP_UTXO_OK:
		if (!g->failed && gossip_chan_ann_parse(&ca, h.msg, h.len) ==
				  GOSSIP_OK &&
		    gossip_wrote(g, gossip_store_add_chan(
				     g->store, scid, ca.node_id_1,
				     ca.node_id_2, r == GOSSIP_UTXO_UNVERIFIED,
				     gossip_now(g), h.msg, h.len)))
			held_release(g, scid);
		break;
	}
	free(h.msg);
	/* Room for more: a sync waiting for checks goes on. */
	gossip_sync_absorbed(g);
	gossip_leave(g);
}

size_t gossip_pending_checks(const struct gossip *g)
{
	return g->num_checks;
}

/* Index of scid in the sorted spent array, or where it would go. */
static size_t spent_pos(const struct gossip *g, uint64_t scid)
{
	size_t lo = 0, hi = g->num_spent;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (g->spent[mid] < scid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

bool gossip_channel_is_spent(const struct gossip *g, uint64_t scid)
{
	size_t i = spent_pos(g, scid);

	return i < g->num_spent && g->spent[i] == scid;
}

void gossip_channel_spent(struct gossip *g, uint64_t scid, bool spent)
{
	size_t i = spent_pos(g, scid);
	bool have = i < g->num_spent && g->spent[i] == scid;

	if (spent && !have) {
		if (g->num_spent == g->spent_cap) {
			g->spent_cap = g->spent_cap ? g->spent_cap * 2 : 64;
			g->spent = realloc(g->spent,
					   g->spent_cap * sizeof(*g->spent));
			if (!g->spent)
				abort();
		}
		memmove(g->spent + i + 1, g->spent + i,
			(g->num_spent - i) * sizeof(*g->spent));
		g->spent[i] = scid;
		g->num_spent++;
	} else if (!spent && have) {
		memmove(g->spent + i, g->spent + i + 1,
			(g->num_spent - i - 1) * sizeof(*g->spent));
		g->num_spent--;
	}
}

bool gossip_forget_channel(struct gossip *g, uint64_t scid)
{
	gossip_channel_spent(g, scid, false);
	if (g->failed)
		return false;
	held_drop(g, scid);
	return gossip_wrote(g, gossip_store_del_chan(g->store, scid));
}

void gossip_set_verified(struct gossip *g, uint64_t scid, bool ok)
{
	if (g->failed)
		return;
	if (ok)
		gossip_wrote(g, gossip_store_set_verified(g->store, scid));
	else
		gossip_wrote(g, gossip_store_del_chan(g->store, scid));
}

size_t gossip_unverified_page(struct gossip *g, uint64_t after,
			      uint64_t *scids, uint8_t (*keys)[2][33],
			      size_t max)
{
	if (g->failed)
		return 0;
	return gossip_store_unverified(g->store, after, scids, keys, max);
}

uint64_t gossip_unverified_channels(struct gossip *g)
{
	struct gossip_store_counts c;

	return gossip_store_counts(g->store, &c) ? c.unverified : 0;
}

bool gossip_synced(const struct gossip *g)
{
	return g->synced;
}

void gossip_get_sync_stats(const struct gossip *g,
			   struct gossip_sync_stats *out)
{
	const struct gossip_peer *gp = g->syncing;

	*out = g->sstats;
	out->phase = !gp ? GOSSIP_SYNC_IDLE
		   : gp->sync == GSYNC_RANGE ? GOSSIP_SYNC_RANGE
		   : gp->sync_waiting ? GOSSIP_SYNC_WAITING
				      : GOSSIP_SYNC_QUERYING;
	out->next_in = 0;
	if (g->next_sync > ev_now(g->loop))
		out->next_in = g->next_sync - ev_now(g->loop);
}

void gossip_get_stats(const struct gossip *g, struct gossip_stats *out)
{
	for (size_t r = 0; r < GOSSIP_NUM_REASONS; r++)
		out->verdicts[r] = r < GOSSIP_REJ_TRUNCATED ? g->handled[r]
							    : g->rejects[r];
	out->relay_queue = g->log_len;
	out->held = g->num_held;
}

uint64_t gossip_rejects(const struct gossip *g, enum gossip_reason r)
{
	return r < GOSSIP_NUM_REASONS ? g->rejects[r] : 0;
}

void gossip_commit(struct gossip *g)
{
	commit_now(g);
}

const char *gossip_sync_phase_str(enum gossip_sync_phase p)
{
	switch (p) {
	case GOSSIP_SYNC_IDLE: return "idle";
	case GOSSIP_SYNC_RANGE: return "range";
	case GOSSIP_SYNC_QUERYING: return "querying";
	case GOSSIP_SYNC_WAITING: return "waiting_for_checks";
	}
	return "idle";
}
