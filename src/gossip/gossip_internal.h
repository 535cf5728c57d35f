/*~ Internals shared by the gossip manager's files (gossip.c: ingestion and
 * validation; sync.c: queries asked and answered; relay.c: batched
 * forwarding).  Not for other modules. */
#ifndef COLDNODE_GOSSIP_INTERNAL_H
#define COLDNODE_GOSSIP_INTERNAL_H

#include "gossip/gossip.h"
#include "gossip/ratelimit.h"
#include "gossip/store.h"

#include <ev.h>

#define GOSSIP_SUB "GOSP"
/* BOLT 7: "if the timestamp of the latest channel_update in either
 * direction is older than two weeks (1209600 seconds): MAY prune the
 * channel." */
#define GOSSIP_STALE_SECS 1209600
/* CLN's timestamp_reasonable: at most a day ahead of our clock. */
#define GOSSIP_FUTURE_SECS 86400
/* A completed sync counts as "synced" across a restart this long. */
#define GOSSIP_SYNC_FRESH_SECS 3600
#define GOSSIP_MAX_MSG 65535

/* Our range sync with one peer. */
enum gossip_sync_state {
	GSYNC_NONE,   /* not syncing with this peer */
	GSYNC_RANGE,  /* query_channel_range sent, collecting replies */
	GSYNC_SCIDS,  /* asking for what we lack, one query at a time */
	GSYNC_DONE,
	GSYNC_FAILED,
};

/* An exact set of node ids (sync.c). */
struct gossip_node_set {
	uint8_t (*slots)[33]; /* owned; cap entries, first byte 0: free */
	size_t cap, n;
};
void node_set_clear(struct gossip_node_set *ns);
bool node_set_add(struct gossip_node_set *ns, const uint8_t id[33]);

/* Per-session state, hung on the peer with set_user. */
struct gossip_peer {
	struct gossip *g;
	struct peer *p; /* borrowed until gossip_peer_gone */
	struct gossip_peer *next;
	/* Session gone while gossip code was running (a failed send closes
	 * the session at once): unlinked, never sent to again, freed when
	 * the outermost entry into the manager returns. */
	bool gone;
	struct gossip_peer *dead_next;
	uint8_t id[33];

	/* Their gossip_timestamp_filter: [first, end). */
	bool has_filter;
	uint32_t f_first;
	uint64_t f_end;

	/* Relay: next log sequence to consider, next flush time. */
	uint64_t relay_seq;
	double next_flush;

	/* Backfill after a filter: updates by (ts, scid, dir), then nodes. */
	bool bf_active;
	int bf_phase;
	uint32_t bf_ts;
	uint64_t bf_scid;
	int bf_dir;
	bool bf_have_node;
	uint8_t bf_node[33];

	/* Answering their query_channel_range. */
	bool qcr_active;
	struct gossip_query_range qcr;
	uint64_t qcr_next_block, qcr_end_block;
	uint64_t qcr_next_scid; /* in a block split across replies, else 0 */

	/* Answering their query_short_channel_ids. */
	bool qsi_active;
	struct gossip_query_scids qsi;
	size_t qsi_idx;
	struct gossip_node_set qsi_nodes; /* node_announcements sent */

	/* Our sync with them. */
	enum gossip_sync_state sync;
	struct gossip_query_range my_qcr;
	uint64_t range_prev_first;
	size_t range_scids;
	bool range_have_ts;
	uint64_t *want_scids, *want_flags;
	size_t num_want, want_cap, want_sent;
	bool scid_query_out;
	/* Next query held back while funding checks are queued. */
	bool sync_waiting;
	double sync_deadline;
	/* Round of our syncs this peer was last tried in (0: never), and
	 * when: rounds go to the peer least recently synced with. */
	unsigned sync_round;
	double sync_last;

	/* Flood accounting. */
	double flood_start;
	unsigned flood_count;
	bool flood_warned;
	/* Warnings sent this minute, and those not sent. */
	double warn_start;
	unsigned warn_count, warn_dropped;
};

/* One relayable item, most recent last.  Raw bytes are read back from the
 * store at flush time, so the log stays small. */
enum gossip_relay_kind { GRELAY_CHAN, GRELAY_UPD, GRELAY_NODE };
struct gossip_relay_ent {
	enum gossip_relay_kind kind;
	int dir;
	uint32_t ts;
	uint64_t scid;
	uint8_t node_id[33];
	uint8_t origin[33]; /* peer it came from, zero if local */
	bool own;           /* made by us: sent whatever a peer's filter */
};

struct gossip_held {
	uint64_t scid;
	double since;
	uint8_t *msg;
	size_t len;
};

struct gossip {
	struct ev_loop *loop;
	struct gossip_config cfg;
	char *datadir;
	const struct gossip_cbs *cbs;
	void *cbarg;
	struct gossip_store *store;
	bool failed;
	/* Entries into the manager on the stack, and peers whose freeing
	 * waits for it to reach zero (see gossip_peer.gone). */
	unsigned depth;
	struct gossip_peer *dead;
	/* Our node id (gossip_set_own_id): its node_announcement is kept
	 * without a channel. */
	bool have_own;
	uint8_t own_id[33];

	ev_timer commit_timer; /* one-shot after the first write of a batch */
	ev_timer tick;         /* 1 s: relay flushes, sync timeouts, holds */
	ev_timer pace;         /* answering queries, while any is active */
	ev_timer prune_timer;
	unsigned ticks;
	size_t pace_turn; /* rotates the first peer served by pace_cb */

	uint64_t rejects[GOSSIP_NUM_REASONS];
	/* A sync completed (this run, or recently before a restart). */
	bool synced;
	/* Sync rounds (sync.c): a round asks one peer at a time until one
	 * completes.  sync_due: a round is open; next_sync: when the next
	 * opens (periodic, or soon after refusals); sync_again: one more
	 * after the running one (a return happened meanwhile). */
	bool sync_due, sync_again;
	unsigned sync_round;
	double next_sync;
	double round_retry; /* every peer failed this round: retry then */
	/* Wall clock of the last completed sync (persisted as synced_at):
	 * the prune cutoff is two weeks before it, never before now. */
	uint32_t synced_at;
	/* Announcements refused for capacity since the running sync began
	 * (they are asked for again by a sync soon after). */
	uint64_t refused_capacity;
	struct gossip_sync_stats sstats;
	double cap_log_next; /* ev_now before which the cap is not logged */

	struct gossip_peer *peers;
	struct gossip_peer *syncing;

	struct gossip_rl *rl;
	struct gossip_keycache *keys;

	struct gossip_held *held;
	size_t num_held, held_cap;
	/* channel_announcements waiting for the chain source's answer
	 * (gossip_utxo_done); the same struct as held updates. */
	struct gossip_held *checks;
	size_t num_checks, checks_cap;
	/* Spent channels (gossip_channel_spent), sorted: not relayed. */
	uint64_t *spent;
	size_t num_spent, spent_cap;
	double checks_log_next;

	uint64_t handled[GOSSIP_REJ_TRUNCATED]; /* accepted / ignored */
	struct gossip_relay_ent *log;
	size_t log_len, log_cap;
	uint64_t log_base; /* sequence number of log[0] */

	uint8_t buf[GOSSIP_MAX_MSG]; /* scratch for one outgoing message */
};

/* sig.c: parsed node keys, so repeat signers skip the decompression.
 * Funding keys (one per channel) go through the cache-less path. */
struct gossip_keycache;
struct gossip_keycache *gossip_keycache_new(void);
void gossip_keycache_free(struct gossip_keycache *kc);
bool gossip_sig_ok_kc(struct gossip_keycache *kc, const uint8_t hash[32],
		      const uint8_t sig64[64], const uint8_t pubkey33[33]);
enum gossip_reason gossip_chan_ann_check_sigs_kc(
	struct gossip_keycache *kc, const uint8_t *msg, size_t len,
	const struct gossip_chan_ann *ca);

uint32_t gossip_now(const struct gossip *g);
/* Bracket work that may send (a failed send frees its peer): peers are
 * freed when the outermost bracket leaves. */
void gossip_enter(struct gossip *g);
void gossip_leave(struct gossip *g);
/* Called after every store write: commit now or arm the batch timer.
 * Returns false (and stops gossip) on a store failure. */
bool gossip_wrote(struct gossip *g, bool ok);
void gossip_pace_start(struct gossip *g);
/* Bytes queued to every peer now; what may be sent to @gp now, at most
 * @want, given @total queued to all (queue_high, queue_total). */
size_t gossip_queued_total(const struct gossip *g);
size_t gossip_send_budget(const struct gossip *g,
			  const struct gossip_peer *gp, size_t want,
			  size_t total);
bool gossip_send(struct gossip_peer *gp, const uint8_t *msg, size_t len);

/* relay.c */
void gossip_relay_add(struct gossip *g, enum gossip_relay_kind kind,
		      uint64_t scid, int dir, const uint8_t *node_id,
		      uint32_t ts, const struct gossip_peer *origin, bool own);
void gossip_relay_flush(struct gossip_peer *gp, size_t budget);
void gossip_relay_trim(struct gossip *g);
uint64_t gossip_relay_end(const struct gossip *g);

/* sync.c */
enum gossip_reason gossip_sync_handle(struct gossip *g,
				      struct gossip_peer *gp,
				      const uint8_t *msg, size_t len);
void gossip_sync_maybe_start(struct gossip *g);
/* Once a second: opens a due round, times out a silent peer, resumes a
 * sync waiting for funding checks. */
void gossip_sync_tick(struct gossip *g);
/* Funding checks were answered: a waiting sync may go on. */
void gossip_sync_absorbed(struct gossip *g);
/* Something was refused for capacity (checks or hold queue full): ask a
 * sync to fetch it again soon. */
void gossip_sync_refused(struct gossip *g);
void gossip_sync_abandon(struct gossip *g, struct gossip_peer *gp,
			 const char *why);
/* Runs answer jobs for @gp within @budget bytes; true if work remains. */
bool gossip_sync_pace(struct gossip_peer *gp, size_t budget);
void gossip_sync_peer_free(struct gossip_peer *gp);

#endif /* COLDNODE_GOSSIP_INTERNAL_H */
