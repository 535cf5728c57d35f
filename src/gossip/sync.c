/*~ Graph sync, both ways (BOLT 7 "Query Messages").
 *
 * Asking: with one peer at a time we send query_channel_range (with
 * timestamps), collect every reply_channel_range, work out which
 * announcements and updates we lack or hold older, and fetch them with
 * query_short_channel_ids, one query outstanding at a time.
 *
 * Answering: a query or a gossip_timestamp_filter starts a job on that
 * peer, which the pace timer runs a budget of bytes at a time, so a peer
 * asking for the whole graph never blocks the loop or blows its send
 * buffer. */
#include "common/common.h"
#include "gossip/gossip_internal.h"

#include <stdlib.h>
#include <string.h>

/* Scids per outgoing query_short_channel_ids. */
#define SCIDS_PER_QUERY 1000
/* Scids per reply_channel_range, by what each carries: 8 bytes per scid,
 * +8 with timestamps, +8 with checksums, under 65535. */
#define RANGE_PER_MSG_PLAIN 8000
#define RANGE_PER_MSG_TS 4000
#define RANGE_PER_MSG_TS_CS 2600
/* Largest block number a scid can hold. */
#define MAX_BLOCK (1ULL << 24)

static bool chain_ok(const struct gossip *g, const uint8_t chain[32])
{
	return memcmp(chain, g->cfg.chain_hash, 32) == 0;
}

/* Last scid of the blocks before @end_block. */
static uint64_t last_scid_before(uint64_t end_block)
{
	return end_block >= MAX_BLOCK ? UINT64_MAX : (end_block << 40) - 1;
}

/* ---- asking ---------------------------------------------------------- */

static void want_add(struct gossip_peer *gp, uint64_t scid, uint64_t flags)
{
	if (gp->num_want == gp->want_cap) {
		gp->want_cap = gp->want_cap ? gp->want_cap * 2 : 1024;
		gp->want_scids = realloc(gp->want_scids,
					 gp->want_cap * sizeof(uint64_t));
		gp->want_flags = realloc(gp->want_flags,
					 gp->want_cap * sizeof(uint64_t));
		if (!gp->want_scids || !gp->want_flags)
			abort();
	}
	gp->want_scids[gp->num_want] = scid;
	gp->want_flags[gp->num_want++] = flags;
}

static void sync_done(struct gossip *g, struct gossip_peer *gp)
{
	double now = ev_now(g->loop);

	gp->sync = GSYNC_DONE;
	g->syncing = NULL;
	log_info(GOSSIP_SUB, "graph sync done: asked for %zu channels",
		 gp->num_want);
	free(gp->want_scids);
	free(gp->want_flags);
	gp->want_scids = gp->want_flags = NULL;
	gp->num_want = gp->want_cap = gp->want_sent = 0;
	g->sstats.completed++;
	g->synced_at = gossip_now(g);
	g->sstats.last_completed = g->synced_at;
	g->sync_due = false;
	g->next_sync = g->cfg.resync_interval > 0
			       ? now + g->cfg.resync_interval
			       : 0;
	/* Refused for capacity meanwhile, or a return while it ran: what
	 * went missing is asked for again (by scid) soon. */
	if (g->refused_capacity || g->sync_again) {
		double soon = now + (g->sync_again ? 0 : g->cfg.resync_retry);
		if (!g->next_sync || soon < g->next_sync)
			g->next_sync = soon;
	}
	g->sync_again = false;
	g->refused_capacity = 0;
	if (!gossip_wrote(g, gossip_store_meta_set(g->store, "synced_at",
						   g->synced_at)))
		return;
	if (!g->synced) {
		g->synced = true;
		if (g->cbs && g->cbs->synced)
			g->cbs->synced(g->cbarg);
	}
}

/* Our next query may go while the funding checks it causes can be taken
 * in: each channel asked for is one check, and past max_pending_checks
 * announcements are refused. */
static bool can_absorb(const struct gossip *g)
{
	return !g->cfg.chain.check_utxo ||
	       g->num_checks <= g->cfg.sync_checks_low;
}

/* Next query_short_channel_ids, or done. */
static void send_next_query(struct gossip *g, struct gossip_peer *gp)
{
	struct gossip_query_scids q;
	size_t n = gp->num_want - gp->want_sent, len;

	if (n == 0) {
		sync_done(g, gp);
		return;
	}
	if (!can_absorb(g)) {
		if (!gp->sync_waiting)
			g->sstats.waits++;
		gp->sync_waiting = true;
		return;
	}
	gp->sync_waiting = false;
	if (n > SCIDS_PER_QUERY)
		n = SCIDS_PER_QUERY;
	/* Never more new channels than can wait for their checks. */
	if (g->cfg.chain.check_utxo &&
	    g->cfg.max_pending_checks > g->cfg.sync_checks_low &&
	    n > g->cfg.max_pending_checks - g->cfg.sync_checks_low)
		n = g->cfg.max_pending_checks - g->cfg.sync_checks_low;
	memcpy(q.chain_hash, g->cfg.chain_hash, 32);
	q.num_scids = n;
	q.scids = gp->want_scids + gp->want_sent;
	q.flags = gp->want_flags + gp->want_sent;
	len = gossip_query_scids_write(g->buf, sizeof(g->buf), &q);
	gp->want_sent += n;
	gp->scid_query_out = true;
	gp->sync_deadline = ev_now(g->loop) + g->cfg.sync_timeout;
	g->sstats.scid_queries++;
	g->sstats.scids_asked += n;
	gossip_send(gp, g->buf, len);
}

void gossip_sync_absorbed(struct gossip *g)
{
	struct gossip_peer *gp = g->syncing;

	if (gp && gp->sync == GSYNC_SCIDS && gp->sync_waiting &&
	    !gp->scid_query_out && can_absorb(g)) {
		gossip_enter(g);
		send_next_query(g, gp);
		gossip_leave(g);
	}
}

static void start_sync(struct gossip *g, struct gossip_peer *gp)
{
	size_t len;

	gp->sync = GSYNC_RANGE;
	gp->sync_round = g->sync_round;
	gp->sync_last = ev_now(g->loop);
	gp->sync_waiting = false;
	gp->range_prev_first = 0;
	gp->range_scids = 0;
	g->syncing = gp;
	g->sstats.rounds++;
	memcpy(gp->my_qcr.chain_hash, g->cfg.chain_hash, 32);
	gp->my_qcr.first_blocknum = 0;
	gp->my_qcr.number_of_blocks = UINT32_MAX;
	gp->my_qcr.has_query_option = true;
	gp->my_qcr.query_option = GOSSIP_QUERY_OPT_TIMESTAMPS;
	gp->sync_deadline = ev_now(g->loop) + g->cfg.sync_timeout;
	len = gossip_query_range_write(g->buf, sizeof(g->buf), &gp->my_qcr);
	log_debug(GOSSIP_SUB, "graph sync: query_channel_range sent");
	gossip_send(gp, g->buf, len);
}

/* A new round: every peer may be asked again. */
static void open_round(struct gossip *g, const char *why)
{
	g->sync_due = true;
	g->sync_round++;
	g->round_retry = 0;
	log_debug(GOSSIP_SUB, "graph sync round %u: %s", g->sync_round, why);
}

void gossip_sync_maybe_start(struct gossip *g)
{
	struct gossip_peer *best = NULL;
	bool any = false;

	if (g->syncing || g->failed || !g->sync_due)
		return;
	/* lnd's historical sync goes to one peer; rotating to the one least
	 * recently synced with spreads it (and a lying peer is not asked
	 * every time). */
	for (struct gossip_peer *gp = g->peers; gp; gp = gp->next) {
		if (gp->gone)
			continue;
		any = true;
		if (gp->sync_round == g->sync_round)
			continue;
		if (!best || gp->sync_last < best->sync_last)
			best = gp;
	}
	if (best) {
		start_sync(g, best);
		return;
	}
	/* Every peer failed this round: a new one after resync_retry. */
	if (any && !g->round_retry)
		g->round_retry = ev_now(g->loop) + g->cfg.resync_retry;
}

void gossip_sync_tick(struct gossip *g)
{
	double now = ev_now(g->loop);
	struct gossip_peer *gp = g->syncing;

	if (gp && gp->sync_waiting) {
		/* Waiting on our own checks is not the peer's silence. */
		gp->sync_deadline = now + g->cfg.sync_timeout;
		gossip_sync_absorbed(g);
	} else if (gp && now > gp->sync_deadline) {
		gossip_sync_abandon(g, gp, "timed out");
	}
	if (!g->sync_due && g->next_sync && now >= g->next_sync)
		open_round(g, g->synced ? "periodic" : "first");
	else if (g->sync_due && g->round_retry && now >= g->round_retry)
		open_round(g, "retry: every peer failed");
	gossip_sync_maybe_start(g);
}

void gossip_resync(struct gossip *g, const char *why)
{
	if (g->failed)
		return;
	log_info(GOSSIP_SUB, "graph sync requested: %s", why);
	if (g->syncing)
		g->sync_again = true;
	else
		open_round(g, why);
	gossip_enter(g);
	gossip_sync_maybe_start(g);
	gossip_leave(g);
}

void gossip_sync_refused(struct gossip *g)
{
	double soon = ev_now(g->loop) + g->cfg.resync_retry;

	g->refused_capacity++;
	g->sstats.refused_capacity++;
	/* Not syncing: the refused came by relay; a sync soon fetches it. */
	if (!g->syncing && !g->sync_due &&
	    (!g->next_sync || soon < g->next_sync))
		g->next_sync = soon;
}

void gossip_sync_abandon(struct gossip *g, struct gossip_peer *gp,
			 const char *why)
{
	log_info(GOSSIP_SUB, "graph sync with a peer abandoned: %s", why);
	gp->sync = GSYNC_FAILED;
	gp->scid_query_out = false;
	gp->sync_waiting = false;
	free(gp->want_scids);
	free(gp->want_flags);
	gp->want_scids = gp->want_flags = NULL;
	gp->num_want = gp->want_cap = gp->want_sent = 0;
	if (g->syncing == gp) {
		g->syncing = NULL;
		g->sstats.failed++;
	}
}

/* What we want of one channel the peer has, given its update times. */
static uint64_t want_flags(struct gossip *g, struct gossip_peer *gp,
			   uint64_t scid, const uint32_t *ts)
{
	struct gossip_store_chan sc;
	uint64_t f = 0;
	int found = gossip_store_get_chan(g->store, &sc, scid);

	if (found < 0)
		return 0;
	if (!found)
		return GOSSIP_QF_CHAN_ANN | GOSSIP_QF_UPD_1 | GOSSIP_QF_UPD_2 |
		       GOSSIP_QF_NODE_1 | GOSSIP_QF_NODE_2;
	if (ts) {
		for (int d = 0; d < 2; d++)
			if (ts[d] && (!sc.has_upd[d] || ts[d] > sc.ts[d]))
				f |= d ? GOSSIP_QF_UPD_2 : GOSSIP_QF_UPD_1;
	}
	/* A node_announcement missed (refused, lost with a pruned channel):
	 * asked for with the channel's query flags. */
	for (int k = 0; k < 2; k++) {
		uint32_t nts;
		if (gossip_store_get_node(g->store, &nts,
					  k ? sc.node_id_2 : sc.node_id_1) == 0)
			f |= k ? GOSSIP_QF_NODE_2 : GOSSIP_QF_NODE_1;
	}
	return f;
}

static enum gossip_reason on_reply_range(struct gossip *g,
					 struct gossip_peer *gp,
					 const uint8_t *msg, size_t len)
{
	struct gossip_reply_range r;
	enum gossip_reason why;
	uint64_t q_end, end;

	if (g->syncing != gp || gp->sync != GSYNC_RANGE)
		return GOSSIP_REJ_UNEXPECTED;
	why = gossip_reply_range_parse(&r, msg, len);
	if (why != GOSSIP_OK)
		return why;
	why = GOSSIP_REJ_BAD_REPLY;
	if (!chain_ok(g, r.chain_hash))
		goto out;
	q_end = (uint64_t)gp->my_qcr.first_blocknum +
		gp->my_qcr.number_of_blocks;
	end = (uint64_t)r.first_blocknum + r.number_of_blocks;
	/* BOLT 7: replies cover the query, in non-decreasing first_blocknum
	 * order. */
	if (r.first_blocknum < gp->range_prev_first ||
	    (uint64_t)r.first_blocknum > q_end || end < gp->my_qcr.first_blocknum)
		goto out;
	gp->range_prev_first = r.first_blocknum;
	/* A peer answering with more than any graph has is wasting us. */
	gp->range_scids += r.num_scids;
	if (gp->range_scids > g->cfg.max_range_scids)
		goto out;
	for (size_t i = 0; i < r.num_scids; i++) {
		uint32_t b = gossip_scid_block(r.scids[i]);
		uint64_t f;
		if (b < r.first_blocknum || b >= end)
			goto out;
		f = want_flags(g, gp, r.scids[i],
			       r.timestamps ? r.timestamps[i] : NULL);
		if (f)
			want_add(gp, r.scids[i], f);
	}
	why = GOSSIP_OK;
	gp->sync_deadline = ev_now(g->loop) + g->cfg.sync_timeout;
	/* BOLT 7: the final reply has "first_blocknum plus number_of_blocks
	 * equal or greater than the query_channel_range first_blocknum plus
	 * number_of_blocks". */
	if (end >= q_end) {
		gp->sync = GSYNC_SCIDS;
		log_debug(GOSSIP_SUB, "graph sync: %zu scids, want %zu",
			  gp->range_scids, gp->num_want);
		send_next_query(g, gp);
	}
out:
	gossip_reply_range_clear(&r);
	if (why != GOSSIP_OK)
		gossip_sync_abandon(g, gp, gossip_reason_str(why));
	return why;
}

static enum gossip_reason on_reply_end(struct gossip *g,
				       struct gossip_peer *gp,
				       const uint8_t *msg, size_t len)
{
	struct gossip_reply_scids_end r;
	enum gossip_reason why = gossip_reply_scids_end_parse(&r, msg, len);

	if (why != GOSSIP_OK)
		return why;
	if (!gp->scid_query_out || g->syncing != gp)
		return GOSSIP_REJ_UNEXPECTED;
	if (!chain_ok(g, r.chain_hash))
		return GOSSIP_REJ_BAD_REPLY;
	gp->scid_query_out = false;
	send_next_query(g, gp);
	return GOSSIP_OK;
}

/* ---- answering ------------------------------------------------------- */

static enum gossip_reason on_filter(struct gossip *g, struct gossip_peer *gp,
				    const uint8_t *msg, size_t len)
{
	struct gossip_ts_filter f;
	enum gossip_reason why = gossip_ts_filter_parse(&f, msg, len);

	if (why != GOSSIP_OK)
		return why;
	if (!chain_ok(g, f.chain_hash))
		return GOSSIP_REJ_WRONG_CHAIN;
	/* BOLT 7: "SHOULD send all gossip messages whose timestamp is
	 * greater or equal to first_timestamp, and less than
	 * first_timestamp plus timestamp_range"; a new filter replaces the
	 * old one. */
	gp->has_filter = true;
	gp->f_first = f.first_timestamp;
	gp->f_end = (uint64_t)f.first_timestamp + f.timestamp_range;
	gp->relay_seq = gossip_relay_end(g);
	gp->bf_active = gp->f_end > gp->f_first;
	gp->bf_phase = 0;
	gp->bf_ts = gp->f_first;
	gp->bf_scid = 0;
	gp->bf_dir = -1;
	gp->bf_have_node = false;
	if (gp->bf_active)
		gossip_pace_start(g);
	return GOSSIP_OK;
}

static enum gossip_reason on_query_range(struct gossip *g,
					 struct gossip_peer *gp,
					 const uint8_t *msg, size_t len)
{
	struct gossip_query_range q;
	enum gossip_reason why = gossip_query_range_parse(&q, msg, len);

	if (why != GOSSIP_OK)
		return why;
	if (gp->qcr_active)
		return GOSSIP_REJ_BUSY;
	gp->qcr = q;
	gp->qcr_active = true;
	gp->qcr_next_block = q.first_blocknum;
	gp->qcr_next_scid = 0;
	gp->qcr_end_block = (uint64_t)q.first_blocknum + q.number_of_blocks;
	gossip_pace_start(g);
	return GOSSIP_OK;
}

/* One reply_channel_range; false when the answer is complete. */
static bool range_step(struct gossip_peer *gp, size_t *budget)
{
	struct gossip *g = gp->g;
	struct gossip_reply_range r;
	struct gossip_store_range_ent *ents;
	bool ts = gp->qcr.query_option & GOSSIP_QUERY_OPT_TIMESTAMPS;
	bool cs = gp->qcr.query_option & GOSSIP_QUERY_OPT_CHECKSUMS;
	size_t max = ts && cs ? RANGE_PER_MSG_TS_CS
		   : ts || cs ? RANGE_PER_MSG_TS : RANGE_PER_MSG_PLAIN;
	size_t n = 0, len;
	uint64_t end_block = gp->qcr_end_block;
	bool final = true;

	memset(&r, 0, sizeof(r));
	memcpy(r.chain_hash, gp->qcr.chain_hash, 32);
	ents = calloc(max + 1, sizeof(*ents));
	if (!ents)
		abort();
	/* BOLT 7: "if it does not maintain up-to-date channel information
	 * for chain_hash: MUST set sync_complete to false" — one empty
	 * reply covering the query. */
	/* An empty range (number_of_blocks 0) has no scids: last_scid_before
	 * would wrap to "everything" for block 0. */
	if (chain_ok(g, gp->qcr.chain_hash) && gp->qcr_next_block < MAX_BLOCK &&
	    gp->qcr_next_block < end_block) {
		uint64_t from = gp->qcr_next_block << 40;
		/* Inside a block split across replies: after the last sent. */
		if (gp->qcr_next_scid > from)
			from = gp->qcr_next_scid;
		n = gossip_store_range(g->store, ents, max + 1, from,
				       last_scid_before(end_block));
	}
	gp->qcr_next_scid = 0;
	if (n > max) {
		/* More remain: end this reply on a block boundary when one
		 * block is not more than a reply holds. */
		uint32_t last_block = gossip_scid_block(ents[max].scid);
		size_t keep = max;
		while (keep > 0 && gossip_scid_block(ents[keep - 1].scid) ==
					   last_block)
			keep--;
		n = keep;
		end_block = last_block;
		final = false;
		if (keep == 0) {
			/* One block with more channels than a reply holds.
			 * BOLT 7: "MAY split block contents across multiple
			 * reply_channel_range"; this reply covers the block,
			 * the next one starts on it again, after ents[max-1]
			 * (first_blocknum stays non-decreasing). */
			n = max;
			end_block = (uint64_t)last_block + 1;
			gp->qcr_next_scid = ents[max - 1].scid + 1;
		}
	}
	r.first_blocknum = (uint32_t)gp->qcr_next_block;
	r.number_of_blocks = (uint32_t)(end_block - gp->qcr_next_block);
	r.sync_complete = final && chain_ok(g, gp->qcr.chain_hash);
	r.num_scids = n;
	r.scids = malloc((n ? n : 1) * sizeof(uint64_t));
	if (ts)
		r.timestamps = malloc((n ? n : 1) * sizeof(*r.timestamps));
	if (cs)
		r.checksums = malloc((n ? n : 1) * sizeof(*r.checksums));
	for (size_t i = 0; i < n; i++) {
		r.scids[i] = ents[i].scid;
		if (ts) {
			r.timestamps[i][0] = ents[i].ts[0];
			r.timestamps[i][1] = ents[i].ts[1];
		}
		if (cs) {
			r.checksums[i][0] = ents[i].csum[0];
			r.checksums[i][1] = ents[i].csum[1];
		}
	}
	len = gossip_reply_range_write(g->buf, sizeof(g->buf), &r);
	if (len <= sizeof(g->buf)) {
		gossip_send(gp, g->buf, len);
		*budget = *budget > len ? *budget - len : 0;
	}
	gossip_reply_range_clear(&r);
	free(ents);
	gp->qcr_next_block = gp->qcr_next_scid ? end_block - 1 : end_block;
	if (final)
		gp->qcr_active = false;
	return !final;
}

/* ---- node ids sent in one query answer -------------------------------
 * Open addressing over whole 33-byte ids (a zero first byte marks a free
 * slot: node ids start with 02 or 03), doubled at half full. */

void node_set_clear(struct gossip_node_set *ns)
{
	free(ns->slots);
	ns->slots = NULL;
	ns->cap = ns->n = 0;
}

static size_t node_slot(const struct gossip_node_set *ns, const uint8_t id[33])
{
	/* Node ids are hashes' worth of random bytes: eight of them index. */
	size_t i = (size_t)be64_get(id + 1) & (ns->cap - 1);

	while (ns->slots[i][0] && memcmp(ns->slots[i], id, 33))
		i = (i + 1) & (ns->cap - 1);
	return i;
}

/* True if @id was not in the set (it is now). */
bool node_set_add(struct gossip_node_set *ns, const uint8_t id[33])
{
	size_t i;

	if ((ns->n + 1) * 2 > ns->cap) {
		struct gossip_node_set big = { NULL, ns->cap ? ns->cap * 2 : 256,
					       0 };
		big.slots = calloc(big.cap, 33);
		if (!big.slots)
			abort();
		for (size_t k = 0; k < ns->cap; k++)
			if (ns->slots[k][0])
				memcpy(big.slots[node_slot(&big, ns->slots[k])],
				       ns->slots[k], 33);
		big.n = ns->n;
		free(ns->slots);
		*ns = big;
	}
	/* Not a key (stored ids passed a signature check): nothing to do. */
	if (!id[0])
		return true;
	i = node_slot(ns, id);
	if (ns->slots[i][0])
		return false;
	memcpy(ns->slots[i], id, 33);
	ns->n++;
	return true;
}

static enum gossip_reason on_query_scids(struct gossip *g,
					 struct gossip_peer *gp,
					 const uint8_t *msg, size_t len)
{
	struct gossip_query_scids q;
	enum gossip_reason why = gossip_query_scids_parse(&q, msg, len);

	if (why != GOSSIP_OK)
		return why;
	/* BOLT 7: "MUST NOT send query_short_channel_ids if it has sent a
	 * previous query_short_channel_ids to this peer and not received
	 * reply_short_channel_ids_end." */
	if (gp->qsi_active) {
		gossip_query_scids_clear(&q);
		return GOSSIP_REJ_BUSY;
	}
	gp->qsi = q;
	gp->qsi_idx = 0;
	gp->qsi_active = true;
	node_set_clear(&gp->qsi_nodes);
	gossip_pace_start(g);
	return GOSSIP_OK;
}

/* Send a node_announcement once per query.  The set is exact: BOLT 7
 * allows up to 8,191 scids in one query, so up to 16,382 nodes, and a
 * "already sent" that was not would leave the peer without that node. */
static size_t send_node_once(struct gossip_peer *gp, const uint8_t id[33])
{
	struct gossip *g = gp->g;
	size_t len;

	if (!node_set_add(&gp->qsi_nodes, id))
		return 0;
	if (gossip_store_node_raw(g->store, g->buf, sizeof(g->buf), &len, id) <=
	    0)
		return 0;
	gossip_send(gp, g->buf, len);
	return len;
}

static size_t send_chan_raw(struct gossip_peer *gp, uint64_t scid)
{
	struct gossip *g = gp->g;
	size_t len;

	if (gossip_channel_is_spent(g, scid)) /* not sent while dying */
		return 0;
	if (gossip_store_chan_raw(g->store, g->buf, sizeof(g->buf), &len,
				  scid) <= 0)
		return 0;
	gossip_send(gp, g->buf, len);
	return len;
}

static size_t send_upd_raw(struct gossip_peer *gp, uint64_t scid, int dir)
{
	struct gossip *g = gp->g;
	size_t len;

	if (gossip_channel_is_spent(g, scid))
		return 0;
	if (gossip_store_upd_raw(g->store, g->buf, sizeof(g->buf), &len, scid,
				 dir) <= 0)
		return 0;
	gossip_send(gp, g->buf, len);
	return len;
}

static bool scids_step(struct gossip_peer *gp, size_t *budget)
{
	struct gossip *g = gp->g;
	struct gossip_reply_scids_end end;
	bool ok = chain_ok(g, gp->qsi.chain_hash);
	size_t len;

	while (ok && gp->qsi_idx < gp->qsi.num_scids && *budget &&
	       !gp->gone) {
		uint64_t scid = gp->qsi.scids[gp->qsi_idx];
		/* BOLT 7: no query_flags means everything about it. */
		uint64_t f = gp->qsi.flags ? gp->qsi.flags[gp->qsi_idx]
					   : GOSSIP_QF_CHAN_ANN |
						     GOSSIP_QF_UPD_1 |
						     GOSSIP_QF_UPD_2 |
						     GOSSIP_QF_NODE_1 |
						     GOSSIP_QF_NODE_2;
		struct gossip_store_chan sc;
		size_t sent = 0;

		gp->qsi_idx++;
		if (gossip_store_get_chan(g->store, &sc, scid) <= 0)
			continue;
		if (f & GOSSIP_QF_CHAN_ANN)
			sent += send_chan_raw(gp, scid);
		for (int d = 0; d < 2; d++) {
			/* dont_forward updates stay with us. */
			if ((f & (d ? GOSSIP_QF_UPD_2 : GOSSIP_QF_UPD_1)) &&
			    sc.has_upd[d] &&
			    !(sc.msg_flags[d] & GOSSIP_UPD_DONT_FORWARD))
				sent += send_upd_raw(gp, scid, d);
		}
		if (f & GOSSIP_QF_NODE_1)
			sent += send_node_once(gp, sc.node_id_1);
		if (f & GOSSIP_QF_NODE_2)
			sent += send_node_once(gp, sc.node_id_2);
		*budget = *budget > sent ? *budget - sent : 0;
	}
	if (ok && gp->qsi_idx < gp->qsi.num_scids)
		return true;
	/* BOLT 7: "MUST set full_information to 0 if it does not maintain
	 * up-to-date channel information for chain_hash". */
	memcpy(end.chain_hash, gp->qsi.chain_hash, 32);
	end.full_information = ok;
	len = gossip_reply_scids_end_write(g->buf, sizeof(g->buf), &end);
	gossip_send(gp, g->buf, len);
	gossip_query_scids_clear(&gp->qsi);
	node_set_clear(&gp->qsi_nodes);
	gp->qsi_active = false;
	return false;
}

/* Backfill for a filter: updates in timestamp order, each channel's
 * announcement just before its first update in range, then nodes. */
static bool backfill_step(struct gossip_peer *gp, size_t *budget)
{
	struct gossip *g = gp->g;
	enum { BATCH = 64 };

	/* A failed send may close the session mid-walk: stop there. */
	while (*budget && !gp->gone) {
		size_t n, sent = 0;

		if (gp->bf_phase == 0) {
			struct gossip_store_upd_ent e[BATCH];
			n = gossip_store_upds_by_ts(g->store, e, BATCH,
						    gp->f_first, gp->f_end,
						    gp->bf_ts, gp->bf_scid,
						    gp->bf_dir);
			for (size_t i = 0; i < n; i++) {
				struct gossip_store_chan sc;
				int o = !e[i].dir;
				gp->bf_ts = e[i].ts;
				gp->bf_scid = e[i].scid;
				gp->bf_dir = e[i].dir;
				if (gossip_store_get_chan(g->store, &sc,
							  e[i].scid) <= 0 ||
				    (sc.msg_flags[e[i].dir] &
				     GOSSIP_UPD_DONT_FORWARD))
					continue;
				/* Is the other direction's update earlier in
				 * this walk?  Then the announcement went. */
				if (!(sc.has_upd[o] && sc.ts[o] >= gp->f_first &&
				      sc.ts[o] < gp->f_end &&
				      !(sc.msg_flags[o] &
					GOSSIP_UPD_DONT_FORWARD) &&
				      (sc.ts[o] < e[i].ts ||
				       (sc.ts[o] == e[i].ts && o < e[i].dir))))
					sent += send_chan_raw(gp, e[i].scid);
				sent += send_upd_raw(gp, e[i].scid, e[i].dir);
			}
			if (n < BATCH) {
				gp->bf_phase = 1;
				gp->bf_ts = gp->f_first;
				gp->bf_have_node = false;
			}
		} else {
			uint8_t ids[BATCH][33];
			uint32_t ts[BATCH];
			n = gossip_store_nodes_by_ts(
				g->store, ids, ts, BATCH, gp->f_first,
				gp->f_end, gp->bf_ts,
				gp->bf_have_node ? gp->bf_node : NULL);
			for (size_t i = 0; i < n; i++) {
				size_t len;
				gp->bf_ts = ts[i];
				memcpy(gp->bf_node, ids[i], 33);
				gp->bf_have_node = true;
				if (gossip_store_node_raw(g->store, g->buf,
							  sizeof(g->buf), &len,
							  ids[i]) > 0 &&
				    gossip_send(gp, g->buf, len))
					sent += len;
			}
			if (n < BATCH) {
				gp->bf_active = false;
				return false;
			}
		}
		*budget = *budget > sent ? *budget - sent : 0;
	}
	return true;
}

bool gossip_sync_pace(struct gossip_peer *gp, size_t budget)
{
	bool more = false;

	if (gp->qcr_active && budget && !gp->gone)
		more |= range_step(gp, &budget);
	if (gp->qsi_active && budget && !gp->gone)
		more |= scids_step(gp, &budget);
	if (gp->bf_active && budget && !gp->gone)
		more |= backfill_step(gp, &budget);
	if (gp->gone)
		return false;
	return more || gp->qcr_active || gp->qsi_active || gp->bf_active;
}

enum gossip_reason gossip_sync_handle(struct gossip *g,
				      struct gossip_peer *gp,
				      const uint8_t *msg, size_t len)
{
	switch ((enum gossip_type)be16_get(msg)) {
	case GOSSIP_TIMESTAMP_FILTER:
		return on_filter(g, gp, msg, len);
	case GOSSIP_QUERY_CHANNEL_RANGE:
		return on_query_range(g, gp, msg, len);
	case GOSSIP_REPLY_CHANNEL_RANGE:
		return on_reply_range(g, gp, msg, len);
	case GOSSIP_QUERY_SHORT_CHANNEL_IDS:
		return on_query_scids(g, gp, msg, len);
	case GOSSIP_REPLY_SHORT_CHANNEL_IDS_END:
		return on_reply_end(g, gp, msg, len);
	case GOSSIP_CHANNEL_ANNOUNCEMENT:
	case GOSSIP_NODE_ANNOUNCEMENT:
	case GOSSIP_CHANNEL_UPDATE:
	case GOSSIP_ANNOUNCEMENT_SIGNATURES:
		break;
	}
	return GOSSIP_IGN_NOT_GOSSIP;
}

void gossip_sync_peer_free(struct gossip_peer *gp)
{
	gossip_query_scids_clear(&gp->qsi);
	node_set_clear(&gp->qsi_nodes);
	free(gp->want_scids);
	free(gp->want_flags);
}
