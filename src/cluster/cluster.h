/*~ cluster: one leader among several coldnode instances, elected through
 * etcd (docs/cluster.md).
 *
 * The recipe is etcd's own election: each instance grants a lease, puts
 * the key <prefix><lease-id in hex> with that lease (a txn that creates it
 * only if absent) and the instance whose key has the lowest create
 * revision under the prefix leads.  Everyone else watches the key just
 * before its own and looks again when it goes.  The leader's create
 * revision is its fencing token: a later leader's key was created after
 * every earlier leader's key was created, so tokens only grow.
 *
 * Never two leaders acting: the lease is renewed every TTL/3 and an
 * instance acts as leader only until (send time of the last CONFIRMED
 * renewal) + TTL - margin.  etcd starts counting the TTL when it handles
 * the renewal, which is after we sent it, so we stop before etcd can
 * expire the lease and let a standby in.
 *
 * Layers behind this one header:
 *   1. cl_decide: the pure decision (lease times, TTL, margin, create
 *      revisions -> role and how long it holds), tested by table.
 *   2. cl_gw_*: the pure etcd v3 JSON gateway codec (bodies to send,
 *      answers parsed), no sockets.
 *   3. struct cluster: the session on the daemon's libev loop, talking to
 *      etcd's gateway over libcurl's multi interface.
 *
 * Ownership is written next to each pointer.
 */
#ifndef COLDNODE_CLUSTER_H
#define COLDNODE_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/common.h"

struct ev_loop;
struct cluster;

/* etcd refuses nothing shorter, but grants at least its minimum (2 s for
 * the default 100 ms heartbeat); below 2 s the margin would eat the TTL. */
#define CL_MIN_TTL 2.0
#define CL_DEFAULT_TTL 10.0
#define CL_DEFAULT_PREFIX "/coldnode/leader/"

/* ------------------------------------------------------------------------
 * 1. The pure decision.
 */
enum cl_role {
	CL_STANDBY,
	CL_LEADER,
};
const char *cl_role_str(enum cl_role r); /* "standby", "leader"; static */

struct cl_input {
	double now;            /* monotonic seconds */
	bool have_lease;       /* a lease was granted and not seen lost */
	double confirmed_sent; /* when the last CONFIRMED grant/renewal was
				* sent (monotonic) */
	double ttl;            /* the TTL etcd granted, seconds */
	double margin;         /* stop this long before the TTL runs out */
	int64_t my_rev;        /* create revision of our key; 0: none */
	int64_t lowest_rev;    /* lowest create revision seen under the
				* prefix; 0: no view yet */
};

struct cl_decision {
	enum cl_role role;
	/* LEADER: act until this monotonic time at the latest (re-decide
	 * then).  STANDBY: 0. */
	double until;
	const char *why; /* static */
};

struct cl_decision cl_decide(const struct cl_input *in);
/* The safety margin for a TTL: max(0.5 s, TTL / 5). */
double cl_margin(double ttl);

/* ------------------------------------------------------------------------
 * 2. The pure gateway codec (etcd 3.4's grpc-gateway, /v3/ paths).  Keys
 * and values are base64, 64-bit numbers are strings, fields with default
 * values are left out (a missing TTL is 0).  Every builder returns a
 * malloc'd NUL-terminated JSON body the caller frees; NULL only on
 * allocation failure.
 */
char *cl_gw_grant(double ttl);
char *cl_gw_keepalive(int64_t lease);
/* txn: if create_revision(key) == 0 put key=value with @lease, else read
 * the key back. */
char *cl_gw_campaign(const char *key, const char *value, int64_t lease);
/* Every key under @prefix, sorted by create revision, ascending. */
char *cl_gw_range_prefix(const char *prefix);
/* One key's watch from @start_rev. */
char *cl_gw_watch(const char *key, int64_t start_rev);
char *cl_gw_authenticate(const char *user, const char *pass);
char *cl_gw_revoke(int64_t lease);

/* Our value under the election key: {"id":..,"signer":..}. */
char *cl_gw_value(const char *id, const char *signer);

struct cl_gw_answer {
	bool ok;            /* parsed and no "error" member */
	char error[160];    /* etcd's error text, or why parsing failed */
	int64_t revision;   /* header.revision */
	int64_t lease;      /* grant / keepalive: ID */
	int64_t ttl;        /* grant / keepalive: TTL (0: lease not found) */
	bool succeeded;     /* txn */
	int64_t create_rev; /* txn: our key's create revision */
	char token[256];    /* authenticate */
};
/* Parse the answer to a grant, keepalive, campaign or authenticate call.
 * For campaign, @my_key names the key (its create revision is the header
 * revision when the put ran, else the one read back). */
void cl_gw_parse(struct cl_gw_answer *out, const char *json, size_t len,
		 const char *my_key);

#define CL_GW_MAX_KEYS 64
struct cl_gw_kv {
	char key[256];
	int64_t create_rev;
	char id[128];       /* from our value; "" if not ours */
	char signer[128];
};
struct cl_gw_range {
	bool ok;
	char error[160];
	int64_t revision;
	size_t n;           /* at most CL_GW_MAX_KEYS kept */
	struct cl_gw_kv kv[CL_GW_MAX_KEYS];
};
void cl_gw_parse_range(struct cl_gw_range *out, const char *json,
		       size_t len);

/* One line of a watch stream: created, a DELETE of the watched key, or
 * the stream is cancelled/compacted. */
enum cl_gw_watch_ev {
	CL_GW_WATCH_OTHER,
	CL_GW_WATCH_CREATED,
	CL_GW_WATCH_DELETED,
	CL_GW_WATCH_ENDED,   /* canceled, compacted, or an error */
};
enum cl_gw_watch_ev cl_gw_parse_watch(const char *line, size_t len);

/* base64 of @s (malloc'd). */
char *cl_gw_b64(const char *s, size_t len);

/* ------------------------------------------------------------------------
 * 3. The session.
 */
struct cluster_config {
	const char *id;        /* --cluster.id; borrowed during cluster_new */
	const char *prefix;    /* --cluster.etcd-election-prefix; borrowed */
	double ttl;            /* --cluster.leader-session-ttl, >= CL_MIN_TTL */
	/* --cluster.etcd.host, "host:port" each; borrowed during the call. */
	const char *const *endpoints;
	size_t num_endpoints;
	const char *user, *pass;      /* NULL: no auth; borrowed */
	const char *cacert, *cert, *key; /* NULL: plain http; borrowed */
	/* Where a signer reaches this instance (--signerlisten), written in
	 * our value so a standby can name the leader's; borrowed. */
	const char *signer_addr;
};

struct cluster_cbs {
	/* We lead: act with @token (our key's create revision). */
	void (*lead)(void *arg, struct cluster *cl, uint64_t token);
	/* We must not act any more (or never did): @why borrowed. */
	void (*stand_down)(void *arg, struct cluster *cl, const char *why);
	/* Anything in cluster_info changed (leader seen, ...).  May be NULL. */
	void (*changed)(void *arg, struct cluster *cl);
	void *arg; /* borrowed */
};

struct cluster_info {
	enum cl_role role;
	const char *id;            /* ours; borrowed until the next call */
	const char *leader_id;     /* "" if unknown */
	const char *leader_signer; /* the leader's --signerlisten, "" */
	uint64_t token;            /* our key's create revision, 0: none */
	uint64_t leader_token;     /* the leader's, 0: unknown */
	double lease_left;         /* seconds we may still act (leader) or
				    * our lease is confirmed for; 0: none */
	double ttl;                /* granted */
	const char *endpoint;      /* the etcd member we talk to */
	const char *last_error;    /* "" if none */
	int64_t role_since_unix;
	uint64_t renewals_ok, renewals_failed;
	struct cn_hist renew_latency;
	uint64_t leadership_changes; /* leader seen changed (ours or not) */
	uint64_t elected;          /* times we became leader */
	uint64_t stood_down;       /* times we stopped leading */
	uint64_t campaigns;        /* keys created */
};

/**
 * cluster_new - start campaigning.
 * @loop: borrowed.  @cfg: copied.  @cbs: copied (arg borrowed).
 * Starts STANDBY; the first etcd call goes out from the loop.  Returns
 * NULL (logged) on a bad configuration.
 */
struct cluster *cluster_new(struct ev_loop *loop,
			    const struct cluster_config *cfg,
			    const struct cluster_cbs *cbs);
/* Revokes our lease (best effort, so a standby leads at once), frees.
 * NULL ok.  No callback fires. */
void cluster_free(struct cluster *cl);

/* Right before anything only a leader may do: true while our last
 * confirmed renewal still covers now (read from the clock, not from the
 * loop's cached time: a process resumed after SIGSTOP sees the truth). */
bool cluster_may_act(const struct cluster *cl);
enum cl_role cluster_role(const struct cluster *cl);
void cluster_get_info(const struct cluster *cl, struct cluster_info *out);

#endif /* COLDNODE_CLUSTER_H */
