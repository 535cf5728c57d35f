/*~ gossip store (internal to src/gossip; tests include it): the channel
 * graph in SQLite.  One connection, prepared statements, writes batched in
 * an explicit transaction that the manager commits on a timer.  Raw message
 * bytes are kept so a message can be re-sent exactly as signed.
 *
 * Lookups return 1 (found), 0 (not found) or -1 (SQLite error, logged).
 */
#ifndef COLDNODE_GOSSIP_STORE_H
#define COLDNODE_GOSSIP_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct gossip_store;

#define GOSSIP_STORE_FILE "gossip.sqlite3"
#define GOSSIP_STORE_VERSION 1

/* Opens (creating if needed) @path (borrowed).  NULL on failure, logged. */
struct gossip_store *gossip_store_open(const char *path);
/* Commits any open batch, finalizes statements, closes.  NULL is fine. */
void gossip_store_free(struct gossip_store *s);

/* Writes since the batch began (0: no open transaction). */
unsigned gossip_store_pending(const struct gossip_store *s);
bool gossip_store_commit(struct gossip_store *s);

struct gossip_store_chan {
	uint8_t node_id_1[33], node_id_2[33];
	bool unverified;
	bool has_upd[2];
	uint32_t ts[2];
	uint32_t csum[2];
	uint8_t msg_flags[2];
};

int gossip_store_get_chan(struct gossip_store *s, struct gossip_store_chan *out,
			  uint64_t scid);
bool gossip_store_add_chan(struct gossip_store *s, uint64_t scid,
			   const uint8_t node_id_1[33],
			   const uint8_t node_id_2[33], bool unverified,
			   uint32_t now, const uint8_t *raw, size_t len);
bool gossip_store_put_upd(struct gossip_store *s, uint64_t scid, int dir,
			  uint32_t ts, uint32_t csum, uint8_t msg_flags,
			  const uint8_t *raw, size_t len);
/* Node timestamp (1), or 0 if we have no node_announcement for it. */
int gossip_store_get_node(struct gossip_store *s, uint32_t *ts,
			  const uint8_t node_id[33]);
/* 1 if some stored channel has @node_id as an endpoint. */
int gossip_store_node_has_chan(struct gossip_store *s,
			       const uint8_t node_id[33]);
bool gossip_store_put_node(struct gossip_store *s, const uint8_t node_id[33],
			   uint32_t ts, const uint8_t *raw, size_t len);

/* Raw bytes into @buf (cap bytes; 65535 always suffices). */
int gossip_store_chan_raw(struct gossip_store *s, uint8_t *buf, size_t cap,
			  size_t *len, uint64_t scid);
int gossip_store_upd_raw(struct gossip_store *s, uint8_t *buf, size_t cap,
			 size_t *len, uint64_t scid, int dir);
int gossip_store_node_raw(struct gossip_store *s, uint8_t *buf, size_t cap,
			  size_t *len, const uint8_t node_id[33]);

struct gossip_store_counts {
	uint64_t nodes, channels, updates, unverified;
};
bool gossip_store_counts(struct gossip_store *s,
			 struct gossip_store_counts *out);

/* Channels with from <= scid < end, ascending, at most @max.  ts/csum
 * are 0 for a direction without an update. */
struct gossip_store_range_ent {
	uint64_t scid;
	uint32_t ts[2], csum[2];
};
size_t gossip_store_range(struct gossip_store *s,
			  struct gossip_store_range_ent *out, size_t max,
			  uint64_t from, uint64_t end);

/* Updates with ts_lo <= timestamp < ts_hi, ordered by (timestamp, scid,
 * dir), strictly after the cursor (*ts, *scid, *dir), which is advanced. */
struct gossip_store_upd_ent {
	uint64_t scid;
	int dir;
	uint32_t ts;
};
size_t gossip_store_upds_by_ts(struct gossip_store *s,
			       struct gossip_store_upd_ent *out, size_t max,
			       uint32_t ts_lo, uint64_t ts_hi,
			       uint32_t cur_ts, uint64_t cur_scid, int cur_dir);
/* Same for nodes, cursor (ts, node_id); out holds node ids. */
size_t gossip_store_nodes_by_ts(struct gossip_store *s, uint8_t (*out)[33],
				uint32_t *out_ts, size_t max, uint32_t ts_lo,
				uint64_t ts_hi, uint32_t cur_ts,
				const uint8_t cur_id[33]);

/* Up to @max node ids with a stored node_announcement, newest first. */
size_t gossip_store_nodes_newest(struct gossip_store *s, uint8_t (*out)[33],
				 size_t max);

/* Delete at most @max channels with a direction whose update (or, with
 * none, the channel's arrival) is before @cutoff, with their updates and
 * orphaned nodes. */
size_t gossip_store_prune(struct gossip_store *s, uint32_t cutoff, size_t max);

/* For the chain source: delete a channel (its updates and orphaned nodes
 * go by trigger), mark one verified, page through the unverified ones
 * (scid > after; their two bitcoin keys, zero if the raw does not parse). */
bool gossip_store_del_chan(struct gossip_store *s, uint64_t scid);
bool gossip_store_set_verified(struct gossip_store *s, uint64_t scid);
size_t gossip_store_unverified(struct gossip_store *s, uint64_t after,
			       uint64_t *scids, uint8_t (*keys)[2][33],
			       size_t max);
bool gossip_store_meta_get(struct gossip_store *s, int64_t *v,
			   const char *key);
bool gossip_store_meta_set(struct gossip_store *s, const char *key, int64_t v);

#endif /* COLDNODE_GOSSIP_STORE_H */
