/*~ gossip: BOLT 7 channel graph — messages, validation, the SQLite store,
 * sync with peers and batched relay.
 *
 * Two layers share this header:
 *   - a pure codec (gossip_*_parse / _write / _sighash): bytes in, structs
 *     and a reason code out, no allocation except where a query carries an
 *     array (documented), no I/O;
 *   - the manager (struct gossip): validates gossip from peers against the
 *     store, answers and asks sync queries, relays new gossip in batches.
 *     It takes the loop in gossip_new and only registers watchers.
 *
 * Gossip flows on every session and in every supervisor state: nothing here
 * needs the signer.  Only our own node_announcement / channel_update need a
 * signature, so gossip_own_* take a signing callback and the supervisor
 * calls them only in ACTIVE.
 *
 * Argument order: context first, then outputs, then inputs; a length follows
 * its buffer.  Messages always include their 2-byte type.
 */
#ifndef COLDNODE_GOSSIP_H
#define COLDNODE_GOSSIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ev_loop;
struct peer;
struct gossip;

/* Our graph sync, for state and metrics (gossip_get_sync_stats). */
enum gossip_sync_phase {
	GOSSIP_SYNC_IDLE,      /* no sync running */
	GOSSIP_SYNC_RANGE,     /* query_channel_range out, replies coming */
	GOSSIP_SYNC_QUERYING,  /* a query_short_channel_ids out */
	GOSSIP_SYNC_WAITING,   /* next query waits for funding checks */
};
struct gossip_sync_stats {
	enum gossip_sync_phase phase;
	uint64_t rounds;          /* syncs started */
	uint64_t completed;       /* ... completed */
	uint64_t failed;          /* ... abandoned (peer gone, timeout) */
	uint64_t scid_queries;    /* query_short_channel_ids sent */
	uint64_t scids_asked;     /* scids asked for in them */
	uint64_t waits;           /* times the next query waited for checks */
	uint64_t refused_capacity;/* announcements/updates refused for
				   * capacity (asked for again later) */
	uint32_t last_completed;  /* unix time, 0: never */
	double next_in;           /* seconds to the next periodic sync */
};

enum gossip_type {
	GOSSIP_CHANNEL_ANNOUNCEMENT = 256,
	GOSSIP_NODE_ANNOUNCEMENT = 257,
	GOSSIP_CHANNEL_UPDATE = 258,
	GOSSIP_ANNOUNCEMENT_SIGNATURES = 259,
	GOSSIP_QUERY_SHORT_CHANNEL_IDS = 261,
	GOSSIP_REPLY_SHORT_CHANNEL_IDS_END = 262,
	GOSSIP_QUERY_CHANNEL_RANGE = 263,
	GOSSIP_REPLY_CHANNEL_RANGE = 264,
	GOSSIP_TIMESTAMP_FILTER = 265,
};

/* Why a message was accepted, ignored or rejected.  Every rejection is
 * counted per reason (gossip_rejects). */
enum gossip_reason {
	GOSSIP_OK = 0,
	/* Ignored without blame. */
	GOSSIP_IGN_DUPLICATE,       /* same timestamp, same content */
	GOSSIP_IGN_OLDER,           /* older than what we store */
	GOSSIP_IGN_HELD,            /* update for a channel we don't know yet */
	GOSSIP_IGN_NOT_GOSSIP,      /* not ours to handle (e.g. 259) */
	GOSSIP_IGN_PENDING,         /* announcement waiting for its UTXO check */
	/* Rejected. */
	GOSSIP_REJ_TRUNCATED,
	GOSSIP_REJ_BAD_ENCODING,    /* TLV / bigsize / encoded array */
	GOSSIP_REJ_ZLIB,            /* encoding 1: deprecated, refused */
	GOSSIP_REJ_WRONG_CHAIN,
	GOSSIP_REJ_BAD_KEY,         /* not a valid secp256k1 point */
	GOSSIP_REJ_NODE_ORDER,      /* node_id_1 not the lesser */
	GOSSIP_REJ_BAD_NODE_SIG_1,
	GOSSIP_REJ_BAD_NODE_SIG_2,
	GOSSIP_REJ_BAD_BTC_SIG_1,
	GOSSIP_REJ_BAD_BTC_SIG_2,
	GOSSIP_REJ_BAD_SIG,         /* node_announcement / channel_update */
	GOSSIP_REJ_BAD_ADDRESS,     /* address descriptors malformed */
	GOSSIP_REJ_UTXO,            /* chain source says output bad/spent */
	GOSSIP_REJ_UNVERIFIED_CAP,  /* max_unverified channels stored */
	GOSSIP_REJ_CHECKS_FULL,     /* max_pending_checks waiting already */
	GOSSIP_REJ_TS_FUTURE,
	GOSSIP_REJ_TS_STALE,
	GOSSIP_REJ_TS_CONFLICT,     /* same timestamp, different content */
	GOSSIP_REJ_UNKNOWN_CHANNEL, /* held too long, or hold queue full */
	GOSSIP_REJ_UNKNOWN_NODE,    /* node_announcement without a channel */
	GOSSIP_REJ_RATE_LIMITED,
	GOSSIP_REJ_UNEXPECTED,      /* reply we never asked for */
	GOSSIP_REJ_BAD_REPLY,       /* reply outside the query, or too big */
	GOSSIP_REJ_BUSY,            /* a second query while one is answered */
	GOSSIP_REJ_STORE,           /* our store failed (not the peer's fault) */
	GOSSIP_NUM_REASONS
};

/* Short text, e.g. "Bad node_signature_1".  Never NULL. */
const char *gossip_reason_str(enum gossip_reason r);
/* The same as a metric label: "bad_node_sig_1".  Never NULL. */
const char *gossip_reason_label(enum gossip_reason r);

/* What the manager does to a peer that sent a message with this verdict. */
enum gossip_action {
	GOSSIP_ACT_NONE,  /* ignore (maybe counted) */
	GOSSIP_ACT_WARN,  /* BOLT 1 warning, keep the peer */
	GOSSIP_ACT_CLOSE, /* drop the connection */
};
enum gossip_action gossip_reason_action(enum gossip_reason r);

/* short_channel_id: block(3) | txindex(3) | output(2). */
static inline uint32_t gossip_scid_block(uint64_t scid)
{
	return (uint32_t)(scid >> 40);
}

/* ---- Codec ------------------------------------------------------------
 * Parsers take the whole message (type included) and borrow pointers into
 * it (features, addresses, trailing bytes).  Writers take a filled struct
 * and write into @out of @cap bytes; they return the message length, and
 * write nothing when that exceeds @cap (call with cap 0 to size). */

struct gossip_chan_ann {
	uint8_t node_sig_1[64], node_sig_2[64];
	uint8_t btc_sig_1[64], btc_sig_2[64];
	const uint8_t *features; /* borrowed */
	uint16_t features_len;
	uint8_t chain_hash[32];
	uint64_t scid;
	uint8_t node_id_1[33], node_id_2[33];
	uint8_t btc_key_1[33], btc_key_2[33];
	const uint8_t *extra; /* borrowed: trailing bytes (signed too) */
	size_t extra_len;
};

struct gossip_node_ann {
	uint8_t sig[64];
	const uint8_t *features; /* borrowed */
	uint16_t features_len;
	uint32_t timestamp;
	uint8_t node_id[33];
	uint8_t rgb[3];
	uint8_t alias[32];
	const uint8_t *addresses; /* borrowed, raw descriptors */
	uint16_t addresses_len;
	const uint8_t *extra; /* borrowed */
	size_t extra_len;
};

#define GOSSIP_UPD_DONT_FORWARD 0x02 /* message_flags bit 1 */
#define GOSSIP_UPD_DIRECTION 0x01    /* channel_flags bit 0 */
#define GOSSIP_UPD_DISABLED 0x02     /* channel_flags bit 1 */

struct gossip_chan_upd {
	uint8_t sig[64];
	uint8_t chain_hash[32];
	uint64_t scid;
	uint32_t timestamp;
	uint8_t message_flags, channel_flags;
	uint16_t cltv_expiry_delta;
	uint64_t htlc_minimum_msat;
	uint32_t fee_base_msat, fee_proportional_millionths;
	uint64_t htlc_maximum_msat;
	const uint8_t *extra; /* borrowed */
	size_t extra_len;
};

enum gossip_reason gossip_chan_ann_parse(struct gossip_chan_ann *out,
					 const uint8_t *msg, size_t len);
size_t gossip_chan_ann_write(uint8_t *out, size_t cap,
			     const struct gossip_chan_ann *ca);
enum gossip_reason gossip_node_ann_parse(struct gossip_node_ann *out,
					 const uint8_t *msg, size_t len);
size_t gossip_node_ann_write(uint8_t *out, size_t cap,
			     const struct gossip_node_ann *na);
enum gossip_reason gossip_chan_upd_parse(struct gossip_chan_upd *out,
					 const uint8_t *msg, size_t len);
size_t gossip_chan_upd_write(uint8_t *out, size_t cap,
			     const struct gossip_chan_upd *cu);

/* BOLT 7 address descriptors as a receiver checks them: every descriptor
 * of a known type whole (order and repeated DNS names are the sender's
 * rules, not grounds to refuse); parsing stops at the first unknown type. */
enum gossip_reason gossip_addresses_check(const uint8_t *addr, size_t len);
/* The same plus the origin node's rules (ascending type order, at most
 * one DNS name), for what we announce ourselves. */
enum gossip_reason gossip_addresses_check_origin(const uint8_t *addr,
						 size_t len);
/* Type 5 (DNS) descriptors in @addr (up to the first unknown type). */
size_t gossip_addresses_dns_count(const uint8_t *addr, size_t len);

/* Dial targets (targets.c): "PUBKEY@1.2.3.4:9735", "PUBKEY@[2001:db8::1]:9735". */
#define GOSSIP_DIAL_URI_MAX 128
/* Which announced addresses may be dialed. */
enum gossip_dial_scope {
	/* Globally routable only: another node's announcement must not make
	 * us dial our own network (loopback, private, link-local, ...). */
	GOSSIP_DIAL_PUBLIC,
	/* Loopback only: regtest, where every node is on this machine. */
	GOSSIP_DIAL_LOOPBACK,
};
/* The first IPv4 or IPv6 descriptor of @addr (a node_announcement's
 * addresses) with a port and in @scope, as a dial target for @node_id in
 * @out.  Tor and DNS descriptors are skipped (no Tor here; a name would
 * block the loop).  The walk stops at an unknown type or a truncated
 * descriptor.  Returns false if nothing is usable. */
bool gossip_addr_dial_uri(char out[GOSSIP_DIAL_URI_MAX],
			  const uint8_t node_id[33], const uint8_t *addr,
			  size_t len, enum gossip_dial_scope scope);

/* Double SHA-256 of the signed part of a raw 256/257/258 message
 * (msg[258:] for a channel_announcement, msg[66:] otherwise).  @len must
 * be at least the signed offset. */
void gossip_sighash(uint8_t hash[32], const uint8_t *msg, size_t len);
/* One ECDSA check: compact @sig64 (normalized first: BOLT 7 says
 * malleability is no ground for rejection) over @hash with @pubkey33. */
bool gossip_sig_ok(const uint8_t hash[32], const uint8_t sig64[64],
		   const uint8_t pubkey33[33]);
/* All four signatures of a parsed channel_announcement, in field order;
 * returns the first that fails (GOSSIP_REJ_BAD_*_SIG_*) or GOSSIP_OK. */
enum gossip_reason gossip_chan_ann_check_sigs(const uint8_t *msg, size_t len,
					      const struct gossip_chan_ann *ca);
/* CRC32C of a channel_update without signature and timestamp, as used by
 * reply_channel_range checksums. */
uint32_t gossip_chan_upd_checksum(const uint8_t *msg, size_t len);

/* Query messages.  Encoded scid arrays: only encoding 0 (uncompressed) is
 * accepted; encoding 1 (zlib) yields GOSSIP_REJ_ZLIB. */
#define GOSSIP_QUERY_OPT_TIMESTAMPS 0x1
#define GOSSIP_QUERY_OPT_CHECKSUMS 0x2

#define GOSSIP_QF_CHAN_ANN 0x1
#define GOSSIP_QF_UPD_1 0x2
#define GOSSIP_QF_UPD_2 0x4
#define GOSSIP_QF_NODE_1 0x8
#define GOSSIP_QF_NODE_2 0x10

struct gossip_query_range {
	uint8_t chain_hash[32];
	uint32_t first_blocknum, number_of_blocks;
	bool has_query_option;
	uint64_t query_option;
};

/* Arrays are malloc'd by the parser, owned by the struct; release with
 * gossip_reply_range_clear.  The writer borrows them. */
struct gossip_reply_range {
	uint8_t chain_hash[32];
	uint32_t first_blocknum, number_of_blocks;
	uint8_t sync_complete;
	size_t num_scids;
	uint64_t *scids;
	uint32_t (*timestamps)[2]; /* NULL if absent */
	uint32_t (*checksums)[2];  /* NULL if absent */
};

/* Same ownership as gossip_reply_range; gossip_query_scids_clear. */
struct gossip_query_scids {
	uint8_t chain_hash[32];
	size_t num_scids;
	uint64_t *scids;
	uint64_t *flags; /* NULL if absent, else num_scids entries */
};

struct gossip_reply_scids_end {
	uint8_t chain_hash[32];
	uint8_t full_information;
};

struct gossip_ts_filter {
	uint8_t chain_hash[32];
	uint32_t first_timestamp, timestamp_range;
};

enum gossip_reason gossip_query_range_parse(struct gossip_query_range *out,
					    const uint8_t *msg, size_t len);
size_t gossip_query_range_write(uint8_t *out, size_t cap,
				const struct gossip_query_range *q);
enum gossip_reason gossip_reply_range_parse(struct gossip_reply_range *out,
					    const uint8_t *msg, size_t len);
size_t gossip_reply_range_write(uint8_t *out, size_t cap,
				const struct gossip_reply_range *r);
void gossip_reply_range_clear(struct gossip_reply_range *r);
enum gossip_reason gossip_query_scids_parse(struct gossip_query_scids *out,
					    const uint8_t *msg, size_t len);
size_t gossip_query_scids_write(uint8_t *out, size_t cap,
				const struct gossip_query_scids *q);
void gossip_query_scids_clear(struct gossip_query_scids *q);
enum gossip_reason gossip_reply_scids_end_parse(
	struct gossip_reply_scids_end *out, const uint8_t *msg, size_t len);
size_t gossip_reply_scids_end_write(uint8_t *out, size_t cap,
				    const struct gossip_reply_scids_end *r);
enum gossip_reason gossip_ts_filter_parse(struct gossip_ts_filter *out,
					  const uint8_t *msg, size_t len);
size_t gossip_ts_filter_write(uint8_t *out, size_t cap,
			      const struct gossip_ts_filter *f);

/* ---- Our own messages -------------------------------------------------
 * The signer signs a 32-byte digest with the node key; returns false if it
 * cannot (then nothing is produced).  @sig64 is compact r||s. */
typedef bool (*gossip_sign_fn)(void *arg, uint8_t sig64[64],
			       const uint8_t hash[32]);

/* Serialize @na (its sig ignored) into @out, then sign it in place.
 * Returns the length, or 0 if it does not fit or the signer refused. */
size_t gossip_node_ann_sign(uint8_t *out, size_t cap,
			    const struct gossip_node_ann *na,
			    gossip_sign_fn sign, void *arg);
size_t gossip_chan_upd_sign(uint8_t *out, size_t cap,
			    const struct gossip_chan_upd *cu,
			    gossip_sign_fn sign, void *arg);

/* ---- Manager ------------------------------------------------------------ */

/* How the manager talks to sessions.  gossip_peer_ops_bolt1() wires these
 * to peer.h (link gossip_peer_dep); tests pass a double.  Every @p is
 * borrowed. */
struct gossip_peer_ops {
	bool (*send)(struct peer *p, const uint8_t *msg, size_t len);
	void (*warn)(struct peer *p, const char *why);
	void (*close)(struct peer *p, const char *why);
	void (*set_user)(struct peer *p, void *user);
	void *(*get_user)(const struct peer *p);
	const uint8_t *(*node_id)(const struct peer *p); /* 33 bytes */
	/* Bytes queued to @p and not yet taken by its socket; NULL: not
	 * known (then answers are paced by pace_budget alone). */
	size_t (*queued)(const struct peer *p);
};
const struct gossip_peer_ops *gossip_peer_ops_bolt1(void);

/* A chain source fills this later.  Without one, channel announcements are
 * stored as "unverified" (their funding output is not checked). */
enum gossip_utxo {
	GOSSIP_UTXO_UNVERIFIED, /* no chain backend: could not check */
	GOSSIP_UTXO_OK,         /* P2WSH 2-of-2 of the keys, unspent */
	GOSSIP_UTXO_BAD,        /* missing, wrong script or spent */
	/* The check was started; the answer comes later through
	 * gossip_utxo_done().  The announcement is held meanwhile (bounded
	 * by max_pending_checks), neither stored nor relayed. */
	GOSSIP_UTXO_PENDING,
};
struct gossip_chain_hooks {
	enum gossip_utxo (*check_utxo)(void *arg, uint64_t scid,
				       const uint8_t btc_key_1[33],
				       const uint8_t btc_key_2[33]);
	void *arg;
};

struct gossip_config {
	const char *datadir;     /* copied; store is <datadir>/gossip.sqlite3 */
	uint8_t chain_hash[32];
	const struct gossip_peer_ops *peer_ops; /* borrowed, required */
	struct gossip_chain_hooks chain;        /* copied; zero: unverified */
	/* Unix time in seconds; NULL: the wall clock.  For tests. */
	uint32_t (*clock)(void *arg);
	void *clock_arg;
	double commit_interval;   /* store batch commit, default 0.1 s */
	unsigned commit_batch;    /* or after this many writes, default 2000 */
	double flush_interval;    /* relay flush per peer, default 30 s */
	size_t flush_budget;      /* relay bytes per peer per flush, 256 KiB */
	double pace_interval;     /* answering queries: tick, default 0.05 s */
	size_t pace_budget;       /* bytes per peer per tick, default 64 KiB */
	/* Answers, backfill and relay go to a peer only while less than this
	 * is queued to it (default 256 KiB): a slow reader gets what it
	 * reads, and our pings wait behind at most this much. */
	size_t queue_high;
	/* ... and while less than this is queued to all peers together
	 * (default 32 MiB): memory is bounded by it, not by peers x the
	 * peer layer's send cap.  See docs/gossip.md for the bound. */
	size_t queue_total;
	unsigned update_burst;    /* per channel direction, default 10 */
	double update_interval;   /* then one per this, default 60 s */
	double hold_time;         /* updates for unknown channels, 60 s */
	size_t hold_max;          /* at most this many held, default 10000 */
	double prune_interval;    /* stale-channel job period, default 3600 s */
	size_t prune_batch;       /* channels per prune step, default 500 */
	size_t max_range_scids;   /* cap on one peer's range answer, 500000 */
	double sync_timeout;      /* a peer silent this long mid-sync, 60 s */
	/* Channels stored unverified (no chain source could check them) at
	 * most, default 200000 (mainnet has ~60k public channels); new
	 * ones over it are ignored.  Anyone can sign a channel for a
	 * made-up output, so without this the store has no bound.  0: no
	 * limit. */
	uint64_t max_unverified;
	/* Channel announcements held for an asynchronous UTXO check at most
	 * (default 10000; each holds its message, up to 2 KiB). */
	size_t max_pending_checks;
	/* Historical sync: a range sync with one peer this often (default
	 * 3600 s, lnd's DefaultHistoricalSyncInterval), besides the first
	 * one and one after every gossip_resync.  0: none periodic. */
	double resync_interval;
	/* A round in which every peer failed, or a sync that left
	 * announcements refused for capacity: again after this (60 s). */
	double resync_retry;
	/* Our sync sends its next query_short_channel_ids only while at most
	 * this many funding checks are pending (default 500): a query asks
	 * for up to 1,000 channels, each a check, so the node takes in what
	 * it can check and max_pending_checks is not reached. */
	size_t sync_checks_low;
};
/* Defaults; datadir NULL, chain_hash zero, peer_ops NULL. */
void gossip_config_default(struct gossip_config *cfg);

/* Events up; any may be NULL. */
struct gossip_cbs {
	/* First full graph sync finished (gossip_synced now true). */
	void (*synced)(void *arg);
	/* The store failed (disk full, corrupt): gossip is stopped. */
	void (*store_failed)(void *arg, const char *why);
};

/**
 * gossip_new - open the store and start.
 * @loop: borrowed.  @cfg: copied.  @cbs: borrowed.  @arg: passed to @cbs.
 *
 * Opening does no work proportional to the graph: counters come from a
 * meta table kept in step with the data by triggers.  Returns NULL (and
 * logs) if the store cannot be opened.
 */
struct gossip *gossip_new(struct ev_loop *loop, const struct gossip_config *cfg,
			  const struct gossip_cbs *cbs, void *arg);
/* Commits pending writes, closes the store.  NULL is fine. */
void gossip_free(struct gossip *g);

/**
 * gossip_handle_msg - one gossip message (types 256..265) from @from.
 * @from: borrowed; NULL means local (our own messages).  @msg: borrowed.
 * Acts on the peer as gossip_reason_action() says (warn / close), counts
 * rejections, and returns the verdict.
 */
enum gossip_reason gossip_handle_msg(struct gossip *g, struct peer *from,
				     const uint8_t *msg, size_t len);
/* A session is ready: send our timestamp filter and, if we need it, start
 * a range sync with it.  @p borrowed until gossip_peer_gone. */
void gossip_peer_connected(struct gossip *g, struct peer *p);
void gossip_peer_gone(struct gossip *g, struct peer *p);

/* Sign and ingest our own updates; call only in ACTIVE (needs the
 * signer).  Returns the verdict of ingesting it (GOSSIP_OK when relayed). */
enum gossip_reason gossip_own_node_ann(struct gossip *g,
				       const struct gossip_node_ann *na,
				       gossip_sign_fn sign, void *arg);
enum gossip_reason gossip_own_chan_upd(struct gossip *g,
				       const struct gossip_chan_upd *cu,
				       gossip_sign_fn sign, void *arg);

/* Our node id (33 bytes, copied), once known.  BOLT 7 has a receiver
 * ignore a node_announcement "if node_id is NOT previously known from a
 * channel_announcement"; a watch-only node has no channel, so the store
 * keeps our own announcement anyway (only ours, and only as ingested by
 * gossip_own_*: one arriving from a peer follows the rule). */
void gossip_set_own_id(struct gossip *g, const uint8_t node_id[33]);
/* The timestamp for our next node_announcement: now, or one past the last
 * one stored if that is not older (receivers ignore one whose timestamp
 * is "NOT greater than the last-received").  Needs gossip_set_own_id. */
uint32_t gossip_own_node_ann_timestamp(struct gossip *g);

/* The same in two steps, for a signer that answers later (the
 * supervisor's, which signs SHA256d of the bytes it is given):
 * gossip_node_ann_prepare writes @na with a zero signature into @out and
 * sets *@signed_off: the node key signs SHA256d(out[*signed_off..len]).
 * Returns the length, 0 if it exceeds @cap.  gossip_own_finish copies
 * @msg (borrowed), puts @sig64 (compact r||s) in place and ingests it as
 * gossip_own_node_ann does (node_announcement or channel_update only). */
size_t gossip_node_ann_prepare(uint8_t *out, size_t cap, size_t *signed_off,
			       const struct gossip_node_ann *na);
enum gossip_reason gossip_own_finish(struct gossip *g, const uint8_t *msg,
				     size_t len, const uint8_t sig64[64]);

/* Graph counters from the store (O(1): a meta table, not a count). */
void gossip_counts(struct gossip *g, uint64_t *nodes,
		   uint64_t *channels, uint64_t *updates);
/* Channels stored without a UTXO check (no chain backend). */
uint64_t gossip_unverified_channels(struct gossip *g);
/* Up to @max dial targets from the freshest stored node_announcements
 * (gossip_addr_dial_uri on each), skipping the @num_skip ids in @skip
 * (ourselves: a standby must not dial its own leader).  Returns how many
 * were written to @out.  Reads the store: call it rarely (on entering
 * safe mode or standby), never per message. */
size_t gossip_dial_targets(struct gossip *g, char (*out)[GOSSIP_DIAL_URI_MAX],
			   size_t max, const uint8_t (*skip)[33],
			   size_t num_skip, enum gossip_dial_scope scope);
/* True once a range sync with a peer completed (this run, or recently
 * before a restart). */
bool gossip_synced(const struct gossip *g);
/* Ask for a range sync with one peer now (or right after the running
 * one): after the chain backend or the signer returns, gossip that went
 * by meanwhile (refused, expired) is fetched again by scid. */
void gossip_resync(struct gossip *g, const char *why);
void gossip_get_sync_stats(const struct gossip *g,
			   struct gossip_sync_stats *out);
/* "idle", "range", "querying", "waiting_for_checks".  Never NULL. */
const char *gossip_sync_phase_str(enum gossip_sync_phase p);
uint64_t gossip_rejects(const struct gossip *g, enum gossip_reason r);
/* Counters for metrics (read-only copy). */
struct gossip_stats {
	/* Messages handled, by verdict: GOSSIP_OK (accepted), the ignored
	 * and the rejected reasons (rejected: as gossip_rejects). */
	uint64_t verdicts[GOSSIP_NUM_REASONS];
	uint64_t relay_queue; /* items in the relay log now */
	uint64_t held;        /* updates waiting for their channel now */
};
void gossip_get_stats(const struct gossip *g, struct gossip_stats *out);
/* ---- Chain source (the chain module, docs/chain.md) ---- */

/* The answer to a check_utxo that returned GOSSIP_UTXO_PENDING: OK stores
 * the held announcement (verified) and releases its held updates; BAD
 * drops it and its held updates (counted as GOSSIP_REJ_UTXO);
 * UNVERIFIED (the chain is lost) stores it as unverified, under the
 * max_unverified cap.  An unknown scid is ignored. */
void gossip_utxo_done(struct gossip *g, uint64_t scid, enum gossip_utxo r);
/* Announcements waiting for a check now. */
size_t gossip_pending_checks(const struct gossip *g);
/* The channel's funding output was spent (spent true) or the spend was
 * reorganised out (false).  A spent channel is kept (until
 * gossip_forget_channel, 72 blocks later) but no longer relayed, backfilled
 * or sent in query answers, as Core Lightning does.  In memory only: the
 * chain source says it again after a restart. */
void gossip_channel_spent(struct gossip *g, uint64_t scid, bool spent);
bool gossip_channel_is_spent(const struct gossip *g, uint64_t scid);
/* Forget a channel: its announcement, updates and nodes left without a
 * channel (BOLT 7: a spent channel is forgotten after 72 blocks).  False
 * if the store failed. */
bool gossip_forget_channel(struct gossip *g, uint64_t scid);
/* A channel stored unverified was checked in the background: ok marks
 * it verified, !ok forgets it. */
void gossip_set_verified(struct gossip *g, uint64_t scid, bool ok);
/* Page through channels stored unverified: scid > after (0: from the
 * start), up to max; their bitcoin keys.  Returns how many. */
size_t gossip_unverified_page(struct gossip *g, uint64_t after,
			      uint64_t *scids, uint8_t (*keys)[2][33],
			      size_t max);

/* Commit the pending batch now (tests, shutdown). */
void gossip_commit(struct gossip *g);
/* One bounded prune step now: channels whose update in either direction
 * is older than two weeks before the last completed sync (not before a
 * sync: see docs/gossip.md); returns how many were removed. */
size_t gossip_prune_now(struct gossip *g);

#endif /* COLDNODE_GOSSIP_H */
