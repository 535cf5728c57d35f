/*~ coldnode: a Lightning "cold node".  main() owns the one libev loop and
 * every module handle; modules register their watchers on the loop and talk
 * upward through callbacks that land here.  Start order: config, data dir,
 * log file, pid file, RPC (so monitors are answered within milliseconds),
 * gossip store, metrics endpoint, signals, supervisor and signer port,
 * p2p if the node id is known (--signer=local or a pinned key), then
 * systemd's READY=1; else p2p starts when the first signer registers.
 * With --cluster.enable-leader-election (docs/cluster.md) the signer port
 * refuses (naming the leader) and p2p stays off until etcd elects this
 * instance; standing down ends the signer stream and stops p2p.
 * Shutdown (SIGINT/SIGTERM) sends STOPPING=1 and frees in reverse, the
 * metrics first so no scrape reads a module being freed.
 */
#include "chain/block.h"
#include "chain/chain.h"
#include "cluster/cluster.h"
#include "common/common.h"
#include "daemon/announce.h"
#include "daemon/collectors.h"
#include "daemon/chainhooks.h"
#include "daemon/config.h"
#include "daemon/notify.h"
#include "gossip/gossip.h"
#include "metrics/metrics.h"
#include "peer/peer.h"
#include "rpc/rpc.h"
#include "signerproxy/signerproxy.h"
#include "supervisor/supervisor.h"
#include "wallet/wallet.h"

#include <errno.h>
#include <inttypes.h>
#include <ev.h>
#include <secp256k1.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct coldnode {
	struct ev_loop *loop;
	struct daemon_config *cfg;

	/* Keeper of the node key (local file or remote signer) and of the
	 * safe-mode rules; the peer manager's key source. */
	struct supervisor *sv;
	struct rpc_server *signer_srv; /* --signerlisten, remote mode only */
	/* --signerproxy.listen: a watch-only lnd's signer; NULL: off.  In
	 * this mode lnd owns the p2p identity: coldnode runs no p2p. */
	struct signerproxy *proxy;
	uint8_t node_id[33];
	bool have_node_id;

	struct peer_mgr *peers; /* NULL until the node id is known */
	struct gossip *gossip;  /* BOLT 7 graph; NULL if its store failed */
	bool gossip_sv_was_active, gossip_sv_lost; /* resync on return */
	/* Our node_announcement, made in ACTIVE; NULL: nothing to announce
	 * (no --alias, no public --listen address) or no gossip. */
	struct daemon_announce *announce;
	struct rpc_node *rpc;   /* gRPC for monitors; up before anything else */
	struct chain *chain;    /* NULL: --bitcoin.node=none */
	struct daemon_chain *chain_hooks; /* chain <-> gossip wiring */
	int64_t started;        /* unix time, for GetState.since_unix */

	char *pidfile;
	ev_signal sigint, sigterm;

	/* Operations: systemd notifications, Prometheus metrics. */
	struct daemon_notify *notify;
	struct metrics *metrics;         /* NULL unless --prometheus.* */
	struct metrics_http *prom;
	struct metrics_loop *loopstat;   /* loop busy time, for the metrics */
	struct daemon_sources msrc;      /* what the collectors read */
	struct daemon_chain_sources mchain; /* chain and wallet collectors */
	/* --cluster.enable-leader-election: NULL otherwise (docs/cluster.md). */
	struct cluster *cluster;
	struct daemon_cluster_sources mcluster;
	/* A standby's gossip-only sessions with a local key (docs/cluster.md,
	 * "What a standby keeps"); owned; NULL while leading or with
	 * --gossip.minsessions=0.  Never given to the supervisor. */
	struct peer_mgr *warm;
	bool sv_was_safe; /* SAFE_MODE at the last sv_changed */
	ev_timer cand_timer; /* --gossip.candidaterefresh */
};

/* ---- peer events ---- */

/* Gossip flows on every session, full or gossip-only, in every state. */
static void peer_ready(void *arg, struct peer *p)
{
	struct coldnode *cn = arg;

	if (cn->gossip)
		gossip_peer_connected(cn->gossip, p);
}

static void peer_gone(void *arg, struct peer *p, const char *why)
{
	struct coldnode *cn = arg;

	(void)why;
	if (cn->gossip)
		gossip_peer_gone(cn->gossip, p);
}

static void peer_gossip(void *arg, struct peer *p, const uint8_t *msg,
			size_t len)
{
	struct coldnode *cn = arg;

	if (cn->gossip)
		gossip_handle_msg(cn->gossip, p, msg, len);
}

/* Full sessions need signatures: only while the signer is ACTIVE. */
static bool peer_allow_full(void *arg)
{
	struct coldnode *cn = arg;

	return sv_allow_full(cn->sv);
}

static const struct peer_mgr_cbs peer_cbs = {
	.peer_ready = peer_ready,
	.peer_gone = peer_gone,
	.gossip_msg = peer_gossip,
	.allow_full = peer_allow_full,
};

/* ---- start / stop ---- */

/* More dial candidates for the local-key sessions than the --connect
 * peers (issue 19's gap): the freshest addresses in the graph, never our
 * own node (a standby would dial its leader).  Globally routable
 * addresses only, loopback only on regtest (docs/gossip.md, "More peers
 * than the persistent ones"). */
#define GRAPH_CANDIDATES_MIN 16
#define GRAPH_CANDIDATES_MAX 64
static void feed_graph_candidates(struct coldnode *cn, struct peer_mgr *mgr,
				  bool quiet)
{
	const struct daemon_config *cfg = cn->cfg;
	char(*uris)[GOSSIP_DIAL_URI_MAX];
	uint8_t self[2][33];
	size_t ns = 0, want, n, added = 0;

	if (!mgr || !cn->gossip || !cfg->gossip_minsessions)
		return;
	want = (size_t)cfg->gossip_minsessions * 4;
	want = want < GRAPH_CANDIDATES_MIN ? GRAPH_CANDIDATES_MIN
		: want > GRAPH_CANDIDATES_MAX ? GRAPH_CANDIDATES_MAX : want;
	if (cn->have_node_id)
		memcpy(self[ns++], cn->node_id, 33);
	if (cn->sv && sv_node_pubkey(cn->sv, self[ns]))
		ns++;
	uris = calloc(want, sizeof(*uris));
	if (!uris)
		return;
	n = gossip_dial_targets(cn->gossip, uris, want,
				(const uint8_t(*)[33])self, ns,
				!strcmp(cfg->network, "regtest")
					? GOSSIP_DIAL_LOOPBACK
					: GOSSIP_DIAL_PUBLIC);
	for (size_t i = 0; i < n; i++)
		added += peer_mgr_add_gossip_candidate(mgr, uris[i]);
	free(uris);
	if (quiet)
		log_debug("MAIN", "%zu dial candidate(s) from the graph for "
			  "the local-key gossip sessions", added);
	else
		log_info("MAIN", "%zu dial candidate(s) from the graph for the "
			 "local-key gossip sessions", added);
}

/* Short of local-key sessions (safe mode or standby): the graph may know
 * more peers by now (a standby that started with an empty store learns
 * them through its first session). */
static void cand_refresh(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct coldnode *cn = w->data;
	struct peer_mgr *mgr = cn->warm;
	struct peer_mgr_local_stats ls;

	(void)loop;
	(void)revents;
	if (!mgr && cn->peers && cn->sv && sv_get_state(cn->sv) == SV_SAFE_MODE)
		mgr = cn->peers;
	if (!mgr)
		return;
	peer_mgr_local_stats(mgr, &ls);
	if (ls.now < (size_t)cn->cfg->gossip_minsessions)
		feed_graph_candidates(cn, mgr, true);
}

/* Our node_announcement, once the node id and the listeners are known;
 * made by the supervisor's `changed` callback on each entry into ACTIVE. */
static void coldnode_start_announce(struct coldnode *cn)
{
	const struct daemon_config *cfg = cn->cfg;
	uint8_t addr[DAEMON_ANNOUNCE_MAX_ADDR];
	struct daemon_announce_config ac = { .alias = cfg->alias,
					     .addresses = addr };

	if (!cn->gossip)
		return;
	gossip_set_own_id(cn->gossip, cn->node_id);
	if (!cfg->nolisten)
		ac.addresses_len = daemon_announce_addresses(
			addr, sizeof(addr),
			(const char *const *)cfg->listen.v, cfg->listen.n,
			cfg->listen.n ? peer_mgr_listen_port(cn->peers) : 0);
	memcpy(ac.rgb, cfg->rgb, 3);
	if (!cfg->alias[0] && !ac.addresses_len) {
		log_info("MAIN", "no --alias and no public --listen address: "
			 "no node_announcement");
		return;
	}
	cn->announce = daemon_announce_new(cn->loop, cn->gossip, cn->sv,
					   cn->node_id, &ac);
	if (!cn->announce)
		log_unusual("MAIN", "out of memory: no node_announcement");
}

/* The peer manager's settings from the options (local_pub left zero). */
static void p2p_config(const struct daemon_config *cfg,
		       struct peer_mgr_config *pc)
{
	peer_mgr_config_default(pc);
	memcpy(pc->chain_hash, cfg->chain_hash, 32);
	pc->handshake_timeout = cfg->handshaketimeout;
	pc->ping_interval = cfg->pinginterval;
	if (pc->pong_timeout > pc->ping_interval && pc->ping_interval > 0)
		pc->pong_timeout = pc->ping_interval;
	pc->max_peers = (size_t)cfg->maxpeers;
	pc->max_pending = (size_t)cfg->maxpendinghandshakes;
	pc->max_pending_per_source = (size_t)cfg->peer_maxpreauthpersource;
	pc->act1_timeout = cfg->peer_actonetimeout;
	pc->send_cap = (size_t)cfg->peer_maxbuffer;
	pc->full_peers = (const uint8_t(*)[33])cfg->fullpeer_ids;
	pc->num_full_peers = cfg->fullpeer.n;
}

/**
 * coldnode_start_p2p - start the peer manager once the node id is known.
 * @node_id: 33 bytes, copied.  @keys: copied (keys->arg borrowed).
 * Returns false if a listen address is unusable.
 */
static bool coldnode_start_p2p(struct coldnode *cn, const uint8_t node_id[33],
			       const struct peer_keysource *keys)
{
	const struct daemon_config *cfg = cn->cfg;
	struct peer_mgr_config pc;
	char hex[67], where[512] = "";
	size_t off = 0;

	memcpy(cn->node_id, node_id, 33);
	cn->have_node_id = true;
	log_info("MAIN", "node id %s", hex_encode(hex, node_id, 33));

	p2p_config(cfg, &pc);
	memcpy(pc.local_pub, node_id, 33);
	cn->peers = peer_mgr_new(cn->loop, &pc, keys, &peer_cbs, cn);
	if (!cn->peers) {
		log_broken("MAIN", "out of memory starting p2p");
		return false;
	}
	sv_set_peer_mgr(cn->sv, cn->peers);
	if (!cfg->nolisten) {
		for (size_t i = 0; i < cfg->listen.n; i++) {
			if (!peer_mgr_listen(cn->peers, cfg->listen.v[i]))
				return false;
		}
		/* The first listener's real port (port 0 picks one). */
		if (cfg->listen.n)
			off += (size_t)snprintf(
				where, sizeof(where), "port %u",
				peer_mgr_listen_port(cn->peers));
	}
	for (size_t i = 0; i < cfg->connect.n; i++)
		if (!peer_mgr_connect(cn->peers, cfg->connect.v[i], true))
			return false;
	coldnode_start_announce(cn);
	log_info("MAIN", "p2p started: node id %s, listening %s, %zu "
			 "persistent peers",
		 hex, off ? where : "off", cfg->connect.n);
	return true;
}

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	log_info("MAIN", "%s received: shutting down",
		 w->signum == SIGINT ? "SIGINT" : "SIGTERM");
	ev_break(loop, EVBREAK_ALL);
}

/* mkdir -p with mode 0700 for the parts we create. */
static bool make_datadir(const char *dir)
{
	char *tmp = strdup(dir);
	struct stat st;

	if (!tmp)
		return false;
	for (char *s = tmp + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(tmp, 0700) != 0 && errno != EEXIST) {
			free(tmp);
			return false;
		}
		*s = '/';
	}
	free(tmp);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return false;
	return stat(dir, &st) == 0 && S_ISDIR(st.st_mode);
}

static void write_pidfile(struct coldnode *cn)
{
	FILE *f;

	if (asprintf(&cn->pidfile, "%s/coldnode.pid", cn->cfg->datadir) < 0) {
		cn->pidfile = NULL;
		return;
	}
	f = fopen(cn->pidfile, "w");
	if (!f) {
		log_unusual("MAIN", "cannot write %s: %s", cn->pidfile,
			    strerror(errno));
		free(cn->pidfile);
		cn->pidfile = NULL;
		return;
	}
	fprintf(f, "%ld\n", (long)getpid());
	fclose(f);
}

/* ---- rpc provider: what monitors see (read from memory, never blocks) ---- */

/* The sessions a monitor sees: the node's, or a standby's local-key ones. */
static struct peer_mgr *cn_p2p(const struct coldnode *cn)
{
	return cn->peers ? cn->peers : cn->warm;
}

static void rpc_get_info(void *arg, struct rpc_node_info *out)
{
	struct coldnode *cn = arg;

	out->have_identity = cn->have_node_id;
	memcpy(out->identity_pubkey, cn->node_id, 33);
	out->alias = cn->cfg->alias;
	memcpy(out->color, cn->cfg->rgb, 3);
	out->num_peers = cn_p2p(cn)
		? (uint32_t)(peer_mgr_count(cn_p2p(cn), PEER_MODE_GOSSIP_ONLY) +
			     peer_mgr_count(cn_p2p(cn), PEER_MODE_FULL))
		: 0;
	out->network = cn->cfg->network;
	out->synced_to_graph = cn->gossip && gossip_synced(cn->gossip);
	if (cn->chain) {
		struct chain_info ci;
		chain_get_info(cn->chain, &ci);
		if (ci.height || ci.tip_time) {
			out->have_block = true;
			out->block_height = ci.height;
			memcpy(out->block_hash, ci.hash, 32);
			out->best_header_timestamp = ci.tip_time;
		}
		out->synced_to_chain = ci.synced;
	}
}

static void chain_state_fill(struct coldnode *cn, struct rpc_sv_state *out)
{
	static struct chain_info ci; /* strings borrowed until we return */

	if (!cn->chain) {
		out->chain.backend = "none";
		out->chain.status = "off";
		return;
	}
	chain_get_info(cn->chain, &ci);
	out->chain.backend = ci.backend;
	out->chain.status = chain_status_name(ci.status);
	out->chain.connected = ci.connected;
	out->chain.height = ci.height;
	if (ci.height || ci.tip_time)
		memcpy(out->chain.hash, ci.hash, 32);
	out->chain.tip_time = ci.tip_time;
	out->chain.node_height = ci.node_height;
	out->chain.synced = ci.synced;
	out->chain.last_error = ci.last_error;
	out->chain.node_chain = ci.node_chain;
	out->chain.blocks_connected = ci.blocks_connected;
	out->chain.blocks_disconnected = ci.blocks_disconnected;
	out->chain.requests = ci.requests;
	out->chain.errors = ci.errors;
	out->chain.lost_count = ci.lost_count;
	for (size_t i = 0; i < CHAIN_CHECK_NUM && i < 9; i++)
		out->chain.checks[i] = ci.checks[i];
	out->chain.checks_queued = ci.checks_queued;
	out->chain.watched = ci.watched;
	out->chain.spent = ci.spent;
	out->chain.forgotten = ci.forgotten;
	out->chain.reorgs = ci.reorgs;
	out->chain.rechecks_pending = ci.rechecks_pending;
	for (size_t i = 0; i < CHAIN_CHECK_NUM && i < 9; i++)
		out->chain.rechecks[i] = ci.rechecks[i];
	out->chain.zmq_rawtx = ci.zmq_rawtx;
	out->chain.zmq_rawblock = ci.zmq_rawblock;
	out->chain.zmq_gaps = ci.zmq_gaps;
	out->chain.zmq_restarts = ci.zmq_restarts;
	out->chain.zmq_malformed = ci.zmq_bad;
	out->chain.zmq_rawtx_silent = ci.zmq_rawtx_silent;
	out->chain.mempool_full_polls = ci.mempool_full_polls;
}

/* SupervisorState.signer_proxy (coldctl state). */
static void signerproxy_state_fill(struct coldnode *cn,
				   struct rpc_signerproxy_state *out)
{
	struct spx_stats st;

	if (!cn->proxy)
		return;
	signerproxy_get_stats(cn->proxy, &st);
	out->enabled = true;
	out->listen = cn->cfg->signerproxy_listen;
	out->hold_time = cn->cfg->signerproxy_holdtime;
	out->held_now = st.held_now;
	out->in_flight_now = st.in_flight_now;
	out->connections = st.connections;
	for (unsigned i = 0; i < SPX_NUM_METHODS &&
			     i < CN_ARRAY_SIZE(out->methods); i++) {
		const struct spx_method_stats *m = &st.m[i];
		struct rpc_signerproxy_method *o = &out->methods[i];
		o->method = spx_method_info(i)->name;
		o->calls = m->calls;
		o->forwarded = m->forwarded;
		o->held = m->held;
		o->ok = m->outcomes[SPX_OUT_OK];
		o->signer_error = m->outcomes[SPX_OUT_SIGNER_ERROR];
		o->signer_away = m->outcomes[SPX_OUT_AWAY];
		o->signer_lost = m->outcomes[SPX_OUT_LOST];
		o->signer_slow = m->outcomes[SPX_OUT_SLOW];
		o->bad_reply = m->outcomes[SPX_OUT_BAD_REPLY];
		o->cancelled = m->outcomes[SPX_OUT_CANCELLED];
		o->wait_sum = m->wait.sum;
		o->wait_count = m->wait.count;
		o->signer_sum = m->signer.sum;
		o->signer_count = m->signer.count;
		out->num_methods = i + 1;
	}
}

/* The supervisor's state, as GetState / SubscribeState / health report it. */
static void rpc_get_state(void *arg, struct rpc_sv_state *out)
{
	struct coldnode *cn = arg;
	struct sv_info si;

	/* Connection budgets: the signer port's here, p2p's, then the RPC
	 * node appends its own. */
	if (cn->signer_srv)
		out->num_listeners += rpc_server_admit_stats(
			cn->signer_srv, out->listeners + out->num_listeners,
			RPC_MAX_LISTENER_STATS - out->num_listeners);
	if (cn->proxy)
		out->num_listeners += rpc_server_admit_stats(
			signerproxy_server(cn->proxy),
			out->listeners + out->num_listeners,
			RPC_MAX_LISTENER_STATS - out->num_listeners);
	signerproxy_state_fill(cn, &out->signer_proxy);
	if (cn->peers && out->num_listeners < RPC_MAX_LISTENER_STATS &&
	    peer_mgr_admit_stats(cn->peers,
				 &out->listeners[out->num_listeners]))
		out->num_listeners++;
	chain_state_fill(cn, out);
	if (cn->cluster) {
		struct cluster_info ci;
		cluster_get_info(cn->cluster, &ci);
		out->cluster.enabled = true;
		out->cluster.role = cl_role_str(ci.role);
		out->cluster.id = ci.id;
		out->cluster.leader_id = ci.leader_id;
		out->cluster.leader_signer = ci.leader_signer;
		out->cluster.endpoint = ci.endpoint;
		out->cluster.last_error = ci.last_error;
		out->cluster.token = ci.token;
		out->cluster.leader_token = ci.leader_token;
		out->cluster.lease_left = ci.lease_left;
		out->cluster.ttl = ci.ttl;
		out->cluster.renewals = ci.renewals_ok;
		out->cluster.renewals_failed = ci.renewals_failed;
		out->cluster.renewal_latency_avg =
			ci.renew_latency.count
				? ci.renew_latency.sum /
					  (double)ci.renew_latency.count
				: 0;
		out->cluster.leadership_changes = ci.leadership_changes;
		out->cluster.elected = ci.elected;
		out->cluster.stood_down = ci.stood_down;
		out->cluster.fencing_refusals =
			cn->sv ? sv_fencing_refusals(cn->sv) : 0;
		out->cluster.role_since_unix = ci.role_since_unix;
	}
	if (!cn->sv) {
		out->state = sv_state_str(SV_WAITING_FOR_SIGNER);
		out->since_unix = cn->started;
		out->last_cause = "startup";
		return;
	}
	sv_get_info(cn->sv, &si);
	out->state = sv_state_str(si.state);
	out->since_unix = si.since_unix;
	out->last_cause = si.cause;
	if (cn->cfg->signer_kind == DAEMON_SIGNER_LOCAL) {
		out->signer_connected = true;
		out->signer_info = "local node.key";
	} else {
		out->signer_connected = si.signer_ready;
		out->signer_info = si.signer_info;
		out->signer_peer = si.signer_peer;
		out->signer_since_unix = si.signer_since_unix;
	}
	out->generation = si.generation;
	out->to_waiting_for_signer = si.transitions[SV_WAITING_FOR_SIGNER];
	out->to_active = si.transitions[SV_ACTIVE];
	out->to_safe_mode = si.transitions[SV_SAFE_MODE];
	out->to_shutting_down = si.transitions[SV_SHUTTING_DOWN];
	out->signer_sessions = si.signer_sessions;
	out->signer_registrations = si.signer_registrations;
	out->signer_losses = si.signer_losses;
	out->signer_refused = si.signer_refused;
	out->key_mismatches = si.key_mismatches;
	out->requests_ok = si.requests_ok;
	out->requests_failed = si.requests_failed;
	out->requests_unavailable = si.requests_unavailable;
	out->requests_timed_out = si.requests_timed_out;
	out->full_sessions_closed = si.full_closed;
	out->requests_in_flight = si.requests_sent;
	out->requests_queued = si.requests_queued;
	out->failovers = si.failovers;
	out->requests_resent = si.requests_resent;
	out->standby_registrations = si.standby_registrations;
	out->requests_early = si.early_sent;
	out->requests_early_dropped = si.early_dropped;
	out->inbound_ecdh = si.inbound_ecdh;
	out->inbound_ecdh_refused = si.inbound_ecdh_refused;
	{
		/* Borrowed by @out until this returns: loop thread only. */
		static struct sv_signer_info sg[SV_MAX_SIGNERS];
		size_t n = sv_get_signers(cn->sv, sg, SV_MAX_SIGNERS);
		for (size_t i = 0; i < n && i < RPC_MAX_SIGNERS; i++) {
			struct rpc_signer_entry *e = &out->signers[i];
			e->role = sv_role_str(sg[i].role);
			e->peer = sg[i].peer;
			e->info = sg[i].info;
			e->since_unix = sg[i].since_unix;
			e->role_since_unix = sg[i].role_since_unix;
			e->requests_answered = sg[i].requests_answered;
			e->requests_in_flight = sg[i].requests_in_flight;
			out->num_signers++;
		}
	}
	if (cn->gossip) {
		gossip_counts(cn->gossip, &out->gossip_nodes,
			      &out->gossip_channels, &out->gossip_updates);
		/* No chain backend: say how many were never checked. */
		out->gossip_channels_unverified =
			gossip_unverified_channels(cn->gossip);
		{
			struct gossip_sync_stats ss;
			gossip_get_sync_stats(cn->gossip, &ss);
			out->gossip_sync_phase = gossip_sync_phase_str(ss.phase);
			out->gossip_syncs_started = ss.rounds;
			out->gossip_syncs_completed = ss.completed;
			out->gossip_syncs_failed = ss.failed;
			out->gossip_last_sync_unix = ss.last_completed;
			out->gossip_next_sync_in = (uint64_t)ss.next_in;
			out->gossip_scid_queries = ss.scid_queries;
			out->gossip_scids_asked = ss.scids_asked;
			out->gossip_sync_waits = ss.waits;
			out->gossip_refused_capacity = ss.refused_capacity;
		}
	}
	if (cn_p2p(cn)) {
		out->peers_gossip_only = (uint32_t)peer_mgr_count(
			cn_p2p(cn), PEER_MODE_GOSSIP_ONLY);
		out->peers_full = (uint32_t)peer_mgr_count(cn_p2p(cn),
							   PEER_MODE_FULL);
	}
	out->dial_signer_arrivals = si.signer_arrivals;
	if (cn->peers) {
		struct peer_mgr_dial_stats ds;
		peer_mgr_dial_stats(cn->peers, &ds);
		out->dial_early = ds.early_dials;
		out->dial_early_ready = ds.early_ready;
		out->dial_early_refused = ds.early_refused;
		out->dial_park_timeouts = ds.park_timeouts;
		out->dial_pending_now = peer_mgr_count_pending(cn->peers);
	}
}

/* Start the gRPC surface: right after the data dir exists, before any key,
 * signer or graph work, so it answers within milliseconds of start. */
static bool coldnode_start_rpc(struct coldnode *cn)
{
	const struct daemon_config *cfg = cn->cfg;
	char *unix_path = NULL;
	struct rpc_provider prov = {
		.get_info = rpc_get_info,
		.get_state = rpc_get_state,
		.arg = cn,
	};
	/* tls.cert names: the signer port's host too, so a signer on
	 * another machine can verify it, and --tlsextraip/--tlsextradomain.
	 * The rpc module adds the --rpclisten hosts. */
	size_t ntls = cfg->tlsextradomain.n + cfg->tlsextraip.n + 2;
	const char **tls_hosts = calloc(ntls, sizeof(*tls_hosts));
	char signer_host[256];
	uint16_t signer_port;
	size_t nt = 0;

	if (!tls_hosts)
		return false;
	for (size_t i = 0; i < cfg->tlsextradomain.n; i++)
		tls_hosts[nt++] = cfg->tlsextradomain.v[i];
	for (size_t i = 0; i < cfg->tlsextraip.n; i++)
		tls_hosts[nt++] = cfg->tlsextraip.v[i];
	if (cn_split_hostport(signer_host, sizeof(signer_host), &signer_port,
			      cfg->signerlisten))
		tls_hosts[nt++] = signer_host;
	/* The watch-only lnd verifies the proxy's host too. */
	char proxy_host[256];
	if (cfg->signerproxy_listen &&
	    cn_split_hostport(proxy_host, sizeof(proxy_host), &signer_port,
			      cfg->signerproxy_listen))
		tls_hosts[nt++] = proxy_host;
	struct rpc_node_config rc = {
		.datadir = cfg->datadir,
		.listen = (const char *const *)cfg->rpclisten.v,
		.num_listen = cfg->rpclisten.n,
		.tls_cert_path = cfg->tlscertpath,
		.tls_key_path = cfg->tlskeypath,
		.tls_extra_hosts = tls_hosts,
		.num_tls_extra_hosts = nt,
		.tls_autorefresh = cfg->tlsautorefresh,
		.version = "0.1.0-coldnode",
		.max_streams = (size_t)cfg->rpc_maxstreams,
		.max_preauth = (size_t)cfg->rpc_maxpreauth,
		.max_preauth_per_source = (size_t)cfg->rpc_maxpreauthpersource,
		.no_per_source_cap = cfg->rpc_maxpreauthpersource == 0,
		.handshake_timeout = cfg->rpc_preauthtimeout,
		.network = cfg->network,
		.wallet_gap = (uint32_t)cfg->wallet_gaplimit,
	};

	if (!cfg->rpcunix) {
		if (asprintf(&unix_path, "%s/rpc.sock", cfg->datadir) < 0) {
			free(tls_hosts);
			return false;
		}
		/* sun_path holds 108 bytes: a deep default path is skipped. */
		if (strlen(unix_path) >= 100) {
			log_unusual("MAIN", "gRPC unix socket %s: path too long, "
				    "not listening on it", unix_path);
			free(unix_path);
			unix_path = NULL;
		}
		rc.unix_path = unix_path;
	} else if (strcmp(cfg->rpcunix, "none") != 0) {
		rc.unix_path = cfg->rpcunix;
	}
	cn->started = (int64_t)time(NULL);
	cn->rpc = rpc_node_new(cn->loop, &rc, &prov);
	free(unix_path);
	free(tls_hosts);
	if (!cn->rpc) {
		log_unusual("MAIN", "cannot start the gRPC server: exiting");
		return false;
	}
	return true;
}

/* ---- supervisor: the node key's keeper ---- */

static void sv_changed(void *arg, struct supervisor *sv)
{
	struct coldnode *cn = arg;
	uint8_t id[33];

	signerproxy_signer_changed(cn->proxy);
	/* No key configured or pinned: the first signer told us who we are. */
	if (cn->sv && !cn->peers && !cn->cfg->signerproxy_listen &&
	    sv_get_state(sv) == SV_ACTIVE &&
	    (!cn->cluster || cluster_may_act(cn->cluster)) &&
	    sv_node_pubkey(sv, id)) {
		struct peer_keysource ks;
		sv_keysource(sv, &ks, cn->cfg->handshaketimeout);
		if (!coldnode_start_p2p(cn, id, &ks)) {
			log_unusual("MAIN", "cannot start p2p: exiting");
			ev_break(cn->loop, EVBREAK_ALL);
		}
	}
	/* Into safe mode: the graph's addresses join the --connect peers
	 * as candidates for the local-key sessions (docs/gossip.md). */
	if (cn->peers && sv_get_state(sv) == SV_SAFE_MODE && !cn->sv_was_safe)
		feed_graph_candidates(cn, cn->peers, false);
	cn->sv_was_safe = sv_get_state(sv) == SV_SAFE_MODE;
	/* Our node_announcement needs a signature: made only in ACTIVE. */
	if (cn->announce)
		daemon_announce_sv_changed(cn->announce);
	/* Signer back after a loss: gossip missed meanwhile is synced again
	 * (docs/gossip.md, "When the sync runs again"). */
	if (cn->gossip) {
		bool active = sv_get_state(sv) == SV_ACTIVE;
		if (active && cn->gossip_sv_lost)
			gossip_resync(cn->gossip, "signer back");
		if (active)
			cn->gossip_sv_was_active = true;
		cn->gossip_sv_lost = !active && cn->gossip_sv_was_active;
	}
	if (cn->rpc)
		rpc_node_state_changed(cn->rpc);
	/* systemd's STATUS= line: "SAFE_MODE: signer lost: ...". */
	if (cn->notify) {
		struct sv_info si;
		sv_get_info(sv, &si);
		daemon_notify_status(cn->notify, sv_state_str(si.state),
				     si.cause);
	}
}

/* A signer is connecting: start the persistent peers' handshakes now, up
 * to act two, so that only the ECDH and act three are left at ACTIVE. */
static void sv_signer_arriving(void *arg, struct supervisor *sv)
{
	struct coldnode *cn = arg;

	(void)sv;
	if (cn->peers)
		peer_mgr_dial_early(cn->peers);
}

/* Default file in the data dir unless @opt is set; "none" gives NULL. */
static char *datadir_file(const struct coldnode *cn, const char *opt,
			  const char *name)
{
	char *p = NULL;

	if (opt)
		return strcmp(opt, "none") ? strdup(opt) : NULL;
	if (asprintf(&p, "%s/%s", cn->cfg->datadir, name) < 0)
		return NULL;
	return p;
}

/* The signer port: TLS with the node's cert, the node's macaroons. */
static bool coldnode_start_signer_port(struct coldnode *cn)
{
	const struct daemon_config *cfg = cn->cfg;
	const struct rpc_macaroon_svc *macs = rpc_node_macaroons(cn->rpc);
	char *cert = datadir_file(cn, cfg->tlscertpath, "tls.cert");
	char *key = datadir_file(cn, cfg->tlskeypath, "tls.key");
	char *sock = datadir_file(cn, cfg->signer_unix, "signer.sock");
	char *mac = datadir_file(cn, NULL, "signer.macaroon");
	const char *listen[] = { cfg->signerlisten };
	bool ok = false;

	/* sun_path holds 108 bytes: a deep default path is skipped. */
	if (sock && !cfg->signer_unix && strlen(sock) >= 100) {
		log_unusual("MAIN", "signer unix socket %s: path too long, "
			    "not listening on it", sock);
		free(sock);
		sock = NULL;
	}
	if (cert && key && mac && sv_server_bake_macaroon(macs, mac)) {
		struct sv_server_limits lim = {
			.max_preauth = (size_t)cfg->signer_maxpreauth,
			.max_preauth_per_source =
				(size_t)cfg->signer_maxpreauthpersource,
			.preauth_timeout = cfg->signer_preauthtimeout,
			/* Forwarded answers (signed PSBTs) are bigger. */
			.max_msg = cfg->signerproxy_listen ? SV_MAX_FORWARD_MSG
							   : 0,
		};
		cn->signer_srv = sv_server_new_limits(cn->loop, cn->sv, listen,
						      1, sock, cert, key, macs,
						      &lim);
		ok = cn->signer_srv != NULL;
	}
	if (ok)
		log_info("MAIN", "waiting for the signer on %s%s%s",
			 cfg->signerlisten, sock ? " and " : "",
			 sock ? sock : "");
	else
		log_unusual("MAIN", "cannot serve the signer on %s: exiting",
			    cfg->signerlisten);
	free(cert);
	free(key);
	free(sock);
	free(mac);
	return ok;
}

/* ---- cluster: leader or standby (docs/cluster.md) ---- */

/* The supervisor asks before each message to the signer. */
static bool sv_may_act(void *arg, struct supervisor *sv)
{
	struct coldnode *cn = arg;

	(void)sv;
	return cn->cluster && cluster_may_act(cn->cluster);
}

/* What a standby's signer port answers: who leads, and where. */
static void cluster_standby_text(struct coldnode *cn)
{
	struct cluster_info ci = { .leader_id = "", .leader_signer = "" };
	char text[384];

	if (cn->cluster)
		cluster_get_info(cn->cluster, &ci);
	if (ci.leader_id[0] && strcmp(ci.leader_id, cn->cfg->cluster_id))
		snprintf(text, sizeof(text), "coldnode %s is a standby, not "
			 "the leader; the leader is %s at %s",
			 cn->cfg->cluster_id, ci.leader_id,
			 ci.leader_signer[0] ? ci.leader_signer : "?");
	else
		snprintf(text, sizeof(text), "coldnode %s is a standby, not "
			 "the leader; the leader is unknown",
			 cn->cfg->cluster_id);
	sv_set_standby(cn->sv, text);
}

/* A standby's key source: nothing of the standby may ever ask the signer
 * for the node key's ECDH (fencing: only the leader acts as the node).
 * Its manager has no listener and no node-key dialer, so this is never
 * called; if it were, the handshake fails here. */
static void warm_no_ecdh(void *arg, uint64_t id, const uint8_t point[33])
{
	struct coldnode *cn = arg;
	static const uint8_t zero[32];

	(void)point;
	log_broken("MAIN", "a standby asked for the node key's ECDH: refused");
	peer_mgr_ecdh_done(cn->warm, id, false, zero);
}

static void warm_no_cancel(void *arg, uint64_t id)
{
	(void)arg;
	(void)id;
}

/* Gossip only: a local-key session is never full, whatever it sends. */
static bool warm_allow_full(void *arg)
{
	(void)arg;
	return false;
}

static const struct peer_mgr_cbs warm_cbs = {
	.peer_ready = peer_ready,
	.peer_gone = peer_gone,
	.gossip_msg = peer_gossip,
	.allow_full = warm_allow_full,
};

/* A standby keeps its gossip store warm without the node identity: issue
 * 19's safe-mode sessions (src/peer/anon.c) on a manager of its own with
 * no listener (nobody may reach the node id here), no node-key dialer and
 * no node_announcement; the --connect peers are only dial candidates for
 * --gossip.minsessions sessions with an in-memory local key. */
static void coldnode_start_warm(struct coldnode *cn)
{
	const struct daemon_config *cfg = cn->cfg;
	struct peer_keysource ks = { .ecdh = warm_no_ecdh,
				     .cancel = warm_no_cancel,
				     .arg = cn };
	struct peer_mgr_config pc;
	size_t n = 0;

	if (cn->warm || cn->peers || !cfg->gossip_minsessions || !cn->gossip)
		return;
	p2p_config(cfg, &pc);
	/* No node-key session exists here: local_pub stays zero. */
	pc.full_peers = NULL;
	pc.num_full_peers = 0;
	cn->warm = peer_mgr_new(cn->loop, &pc, &ks, &warm_cbs, cn);
	if (!cn->warm) {
		log_unusual("MAIN", "out of memory: the standby's gossip "
			    "goes cold");
		return;
	}
	for (size_t i = 0; i < cfg->connect.n; i++)
		n += peer_mgr_add_gossip_candidate(cn->warm, cfg->connect.v[i]);
	feed_graph_candidates(cn, cn->warm, false);
	peer_mgr_keep_gossip_sessions(cn->warm,
				      (size_t)cfg->gossip_minsessions);
	log_info("MAIN", "standby gossip: up to %lld gossip-only session(s) "
		 "with a local key, %zu candidate(s); no listener, no node id",
		 (long long)cfg->gossip_minsessions, n);
}

static void coldnode_stop_warm(struct coldnode *cn, const char *why)
{
	size_t n;

	if (!cn->warm)
		return;
	n = peer_mgr_close_local_key(cn->warm, why);
	peer_mgr_free(cn->warm);
	cn->warm = NULL;
	log_info("MAIN", "standby gossip stopped (%s): closed %zu local-key "
		 "session(s)", why, n);
}

/* Stop everything that speaks as the node: the p2p identity goes with
 * the signer stream (sv_set_standby closed full sessions already). */
static void coldnode_stop_p2p(struct coldnode *cn)
{
	if (!cn->peers)
		return;
	daemon_announce_free(cn->announce);
	cn->announce = NULL;
	sv_set_peer_mgr(cn->sv, NULL);
	peer_mgr_free(cn->peers);
	cn->peers = NULL;
	log_info("MAIN", "p2p stopped: this instance is a standby");
}

static void cluster_lead(void *arg, struct cluster *cl, uint64_t token)
{
	struct coldnode *cn = arg;
	struct peer_keysource ks;
	uint8_t id[33];

	/* The local-key sessions close before the node identity is used. */
	coldnode_stop_warm(cn, "leading: the node's identity is used");
	sv_set_leader(cn->sv, token);
	log_info("MAIN", "leading the cluster with token %llu: signer port "
		 "open, p2p %s", (unsigned long long)token,
		 sv_node_pubkey(cn->sv, id) ? "starting"
					     : "starts with the signer");
	/* Known key: p2p now (handshakes wait for the signer); else when
	 * the first signer registers (sv_changed). */
	if (!cn->peers && sv_node_pubkey(cn->sv, id)) {
		sv_keysource(cn->sv, &ks, cn->cfg->handshaketimeout);
		if (!coldnode_start_p2p(cn, id, &ks)) {
			log_unusual("MAIN", "cannot start p2p: exiting");
			ev_break(cn->loop, EVBREAK_ALL);
		}
	}
	rpc_node_state_changed(cn->rpc);
}

static void cluster_stand_down(void *arg, struct cluster *cl,
			       const char *why)
{
	struct coldnode *cn = arg;

	log_info("MAIN", "standby: %s", why);
	cluster_standby_text(cn);
	coldnode_stop_p2p(cn);
	coldnode_start_warm(cn);
	rpc_node_state_changed(cn->rpc);
}

static void cluster_changed(void *arg, struct cluster *cl)
{
	struct coldnode *cn = arg;

	if (cluster_role(cl) == CL_STANDBY)
		cluster_standby_text(cn);
	rpc_node_state_changed(cn->rpc);
}

static bool coldnode_start_cluster(struct coldnode *cn)
{
	const struct daemon_config *cfg = cn->cfg;
	struct cluster_cbs cbs = { .lead = cluster_lead,
				   .stand_down = cluster_stand_down,
				   .changed = cluster_changed,
				   .arg = cn };
	struct cluster_config cc = {
		.id = cfg->cluster_id,
		.prefix = cfg->cluster_prefix,
		.ttl = cfg->cluster_ttl,
		.endpoints = (const char *const *)cfg->cluster_etcd_host.v,
		.num_endpoints = cfg->cluster_etcd_host.n,
		.user = cfg->cluster_etcd_user,
		.pass = cfg->cluster_etcd_pass,
		.cacert = cfg->cluster_etcd_cacert,
		.cert = cfg->cluster_etcd_cert,
		.key = cfg->cluster_etcd_key,
		.signer_addr = cfg->signerlisten,
	};

	cn->cluster = cluster_new(cn->loop, &cc, &cbs);
	if (!cn->cluster) {
		log_unusual("MAIN", "cannot start the cluster member: exiting");
		return false;
	}
	log_info("MAIN", "cluster member %s: standby until elected",
		 cfg->cluster_id);
	coldnode_start_warm(cn);
	return true;
}

/* --signerproxy.listen: lnd's remote-signer API for a watch-only lnd,
 * TLS with the node's cert, the node's macaroon root key. */
static bool coldnode_start_signerproxy(struct coldnode *cn)
{
	const struct daemon_config *cfg = cn->cfg;
	const struct rpc_macaroon_svc *macs = rpc_node_macaroons(cn->rpc);
	char *cert = datadir_file(cn, cfg->tlscertpath, "tls.cert");
	char *key = datadir_file(cn, cfg->tlskeypath, "tls.key");
	char *mac = datadir_file(cn, NULL, "signerproxy.macaroon");
	const char *listen[] = { cfg->signerproxy_listen };
	struct signerproxy_config pc;

	signerproxy_config_default(&pc);
	pc.listen = listen;
	pc.num_listen = 1;
	pc.tls_cert_path = cert;
	pc.tls_key_path = key;
	pc.macaroons = macs;
	pc.hold_time = cfg->signerproxy_holdtime;
	pc.max_streams = (size_t)cfg->signerproxy_maxstreams;
	if (cert && key && mac && signerproxy_bake_macaroon(macs, mac))
		cn->proxy = signerproxy_new(cn->loop, cn->sv, &pc);
	if (cn->proxy)
		log_info("MAIN", "signer proxy for a watch-only lnd on %s "
			 "(macaroon %s); p2p is lnd's: coldnode runs none",
			 cfg->signerproxy_listen, mac);
	else
		log_unusual("MAIN", "cannot serve the signer proxy on %s: "
			    "exiting", cfg->signerproxy_listen);
	free(cert);
	free(key);
	free(mac);
	return cn->proxy != NULL;
}

static bool coldnode_start_supervisor(struct coldnode *cn)
{
	const struct daemon_config *cfg = cn->cfg;
	struct sv_cbs cbs = { .changed = sv_changed,
			      .signer_arriving = sv_signer_arriving,
			      .may_act = cfg->cluster_enable ? sv_may_act
							     : NULL,
			      .arg = cn };
	struct peer_keysource ks;
	struct sv_config sc;
	char *keypath = NULL, *pinpath = NULL;
	uint8_t id[33];

	sv_config_default(&sc);
	sc.ping_interval = cfg->signer_pinginterval;
	sc.ping_timeout = cfg->signer_pingtimeout;
	sc.request_timeout = cfg->signer_requesttimeout;
	sc.max_signers = (size_t)cfg->signer_maxsigners;
	sc.gossip_min_sessions = (size_t)cfg->gossip_minsessions;
	sc.max_inbound_ecdh = (size_t)cfg->signer_maxinboundecdh;
	switch (cfg->signer_kind) {
	case DAEMON_SIGNER_LOCAL:
		sc.local = true;
		keypath = datadir_file(cn, NULL, "node.key");
		sc.local_key_path = keypath;
		break;
	case DAEMON_SIGNER_REMOTE:
		if (cfg->signer_nodepubkey) {
			secp256k1_pubkey pk;
			if (!hex_decode(sc.node_pubkey, 33,
					cfg->signer_nodepubkey) ||
			    !secp256k1_ec_pubkey_parse(cn_secp(), &pk,
						       sc.node_pubkey, 33)) {
				log_unusual("MAIN", "--signer.nodepubkey is not "
					    "a compressed public key in hex");
				return false;
			}
			sc.have_node_pubkey = true;
		}
		pinpath = datadir_file(cn, NULL, "coldnode.sqlite");
		sc.pin_db_path = pinpath;
		break;
	}
	cn->sv = sv_new(cn->loop, &sc, &cbs);
	free(keypath);
	free(pinpath);
	if (!cn->sv) {
		log_unusual("MAIN", "cannot start the supervisor: exiting");
		return false;
	}
	/* A cluster member is a standby until etcd says otherwise: its
	 * signer port refuses from the first connection. */
	if (cfg->cluster_enable)
		cluster_standby_text(cn);
	if (cfg->signer_kind == DAEMON_SIGNER_REMOTE &&
	    !coldnode_start_signer_port(cn))
		return false;
	if (cfg->signerproxy_listen) {
		/* lnd owns the p2p identity: no p2p, no announcement. */
		rpc_node_state_changed(cn->rpc);
		return coldnode_start_signerproxy(cn);
	}
	rpc_node_state_changed(cn->rpc);
	if (cfg->cluster_enable)
		return coldnode_start_cluster(cn);
	if (!sv_node_pubkey(cn->sv, id)) {
		log_info("MAIN", "node key unknown until the first signer "
			 "registers: p2p stays off until then");
		return true;
	}
	/* Known key: p2p starts now; handshakes wait for the signer. */
	sv_keysource(cn->sv, &ks, cfg->handshaketimeout);
	if (!coldnode_start_p2p(cn, id, &ks))
		return false;
	/* --signer=local entered ACTIVE inside sv_new, before any hook. */
	if (cn->announce)
		daemon_announce_sv_changed(cn->announce);
	return true;
}

/* The graph store: opening reads a few counters, never the graph, so it
 * does not hold up the RPC server started just before.  Without it the
 * node still runs (no graph), as an environment failure says. */
static void coldnode_start_gossip(struct coldnode *cn)
{
	struct gossip_config gc;

	gossip_config_default(&gc);
	gc.datadir = cn->cfg->datadir;
	memcpy(gc.chain_hash, cn->cfg->chain_hash, 32);
	gc.peer_ops = gossip_peer_ops_bolt1();
	gc.max_unverified = cn->cfg->gossip_maxunverified;
	gc.resync_interval = cn->cfg->gossip_historicalsyncinterval;
	/* Bulk gossip stays well under the per-peer cap that drops a peer. */
	if (gc.queue_high > cn->cfg->peer_maxbuffer / 4)
		gc.queue_high = cn->cfg->peer_maxbuffer / 4;
	if (cn->chain_hooks)
		daemon_chain_gossip_hooks(cn->chain_hooks, &gc.chain);
	cn->gossip = gossip_new(cn->loop, &gc, NULL, cn);
	if (cn->chain_hooks)
		daemon_chain_set_gossip(cn->chain_hooks, cn->gossip);
	if (!cn->gossip)
		log_broken("MAIN", "gossip store unusable: running without "
			   "the channel graph");
}

/* lnd's --logdir: a copy of every line in <logdir>/coldnode.log. */
static bool coldnode_open_log(struct coldnode *cn)
{
	const struct daemon_config *cfg = cn->cfg;
	char *dir = NULL;
	bool ok;

	if (cfg->logdir && strcmp(cfg->logdir, "none") == 0)
		return true;
	if (cfg->logdir)
		dir = strdup(cfg->logdir);
	else if (asprintf(&dir, "%s/logs", cfg->datadir) < 0)
		dir = NULL;
	if (!dir)
		return false;
	ok = log_open_file(dir, cfg->maxlogfilesize * 1024 * 1024,
			   (unsigned)(cfg->maxlogfiles > 1000
					      ? 1000 : cfg->maxlogfiles));
	free(dir);
	return ok;
}

/* --prometheus.listen: the registry, one collector per module, and the
 * HTTP endpoint on our loop. */
static bool coldnode_start_metrics(struct coldnode *cn)
{
	const struct daemon_config *cfg = cn->cfg;

	if (!cfg->prometheus_enable)
		return true;
	cn->msrc = (struct daemon_sources){
		.sv = &cn->sv,
		.peers = &cn->peers,
		.gossip = &cn->gossip,
		.rpc = rpc_node_server(cn->rpc),
		.signer_srv = &cn->signer_srv,
		.started_unix = cn->started,
		.version = "0.1.0-coldnode",
	};
	cn->metrics = metrics_new();
	cn->loopstat = metrics_loop_new(cn->loop);
	if (!cn->metrics || !cn->loopstat ||
	    !daemon_collectors_add(cn->metrics, &cn->msrc) ||
	    !metrics_add_collector(cn->metrics, metrics_collect_loop,
				   cn->loopstat)) {
		log_broken("MAIN", "out of memory starting the metrics");
		return false;
	}
	/* Chain view and wallet (started before us; the chain may be NULL). */
	cn->mchain = (struct daemon_chain_sources){
		.chain = &cn->chain,
		.wallet = rpc_node_wallet(cn->rpc),
	};
	if (!daemon_collectors_add_chain(cn->metrics, &cn->mchain)) {
		log_broken("MAIN", "out of memory starting the metrics");
		return false;
	}
	cn->mcluster = (struct daemon_cluster_sources){
		.cluster = &cn->cluster,
		.sv = &cn->sv,
	};
	if (cfg->cluster_enable &&
	    !daemon_collectors_add_cluster(cn->metrics, &cn->mcluster)) {
		log_broken("MAIN", "out of memory starting the metrics");
		return false;
	}
	if (!daemon_collectors_add_signerproxy(cn->metrics, &cn->proxy)) {
		log_broken("MAIN", "out of memory starting the metrics");
		return false;
	}
	/* lnd's default address. */
	cn->prom = metrics_http_new(cn->loop, cn->metrics,
				    cfg->prometheus_listen
					    ? cfg->prometheus_listen
					    : "127.0.0.1:8989");
	if (!cn->prom) {
		log_unusual("MAIN", "cannot serve metrics: exiting");
		return false;
	}
	return true;
}

/* ---- the wallet follows the chain (docs/wallet.md) ---- */

/* The wallet is the chain's consumer (chain.h "A consumer with its own
 * stored chain"): the chain delivers every block from the wallet's own
 * next height and undoes the wallet's blocks that left the chain; the
 * wallet compares hashes and answers what it needs.  No rewind of the
 * chain from here. */
static enum chain_apply wallet_apply_to_chain(enum wallet_apply r)
{
	switch (r) {
	case WALLET_APPLIED: return CHAIN_APPLIED;
	case WALLET_ALREADY: return CHAIN_ALREADY;
	case WALLET_FORK: return CHAIN_FORK;
	case WALLET_GAP: return CHAIN_GAP;
	case WALLET_FAILED: return CHAIN_FAILED;
	}
	abort();
}

static int64_t wallet_cons_next(void *ctx)
{
	return wallet_next_height(ctx);
}

static bool wallet_cons_tip(void *ctx, uint32_t *height, uint8_t hash[32])
{
	int64_t h;

	if (!wallet_tip(ctx, &h, hash) || h < 0)
		return false;
	*height = (uint32_t)h;
	return true;
}

static enum chain_apply wallet_cons_connect(void *ctx, uint32_t height,
					    const uint8_t hash[32],
					    const struct chain_block *blk)
{
	enum wallet_apply r = wallet_block_connected(ctx, height, hash, blk);

	if (r == WALLET_FAILED)
		log_unusual("MAIN", "wallet did not take block %u", height);
	return wallet_apply_to_chain(r);
}

static enum chain_apply wallet_cons_disconnect(void *ctx, uint32_t height,
					       const uint8_t hash[32])
{
	enum wallet_apply r = wallet_block_disconnected(ctx, height, hash);

	if (r == WALLET_FAILED)
		log_unusual("MAIN", "wallet could not undo block %u", height);
	return wallet_apply_to_chain(r);
}

static void wallet_on_mempool(void *ctx, const struct chain_tx *const *txs,
			      size_t n)
{
	struct coldnode *cn = ctx;

	if (!wallet_mempool(rpc_node_wallet(cn->rpc), txs, n))
		log_unusual("MAIN", "wallet could not take the mempool");
}

static void wallet_on_mempool_added(void *ctx,
				    const struct chain_tx *const *txs,
				    size_t n)
{
	struct coldnode *cn = ctx;

	if (!wallet_mempool_add(rpc_node_wallet(cn->rpc), txs, n))
		log_unusual("MAIN", "wallet could not take %zu pushed "
			    "mempool transactions", n);
}

/* The mempool is fetched only for a wallet with accounts. */
static bool wallet_wants_mempool(void *ctx)
{
	struct coldnode *cn = ctx;
	return wallet_has_accounts(rpc_node_wallet(cn->rpc));
}

/* --wallet.accounts: imported at each start; the same accounts again
 * change nothing. */
static bool coldnode_wallet_accounts(struct coldnode *cn)
{
	const struct daemon_config *cfg = cn->cfg;
	struct wallet_import_result res;
	char err[320];

	if (!cfg->wallet_accounts)
		return true;
	if (!wallet_import_accounts_file(rpc_node_wallet(cn->rpc), &res, err,
					 sizeof(err), cfg->wallet_accounts,
					 cfg->wallet_birthday
						 ? (int64_t)cfg->wallet_birthday
						 : -1)) {
		log_unusual("MAIN", "--wallet.accounts: %s: exiting", err);
		return false;
	}
	log_info("MAIN", "--wallet.accounts: %zu added, %zu already present, "
		 "%zu scripts watched", res.added, res.already, res.watched);
	return true;
}

/* The chain backend: configured here, first request from the loop, so
 * nothing waits for the node (it may be down: CHAIN_LOST, retried). */
static void coldnode_start_chain(struct coldnode *cn)
{
	const struct daemon_config *cfg = cn->cfg;
	struct chain_config cc;
	char err[256], *db;

	if (strcmp(cfg->bitcoin_node, "bitcoind") != 0)
		return;
	chain_config_defaults(&cc);
	if (asprintf(&db, "%s/chain.sqlite3", cfg->datadir) < 0)
		abort();
	cc.network = cfg->network;
	cc.rpchost = cfg->bitcoind_rpchost;
	cc.rpcuser = cfg->bitcoind_rpcuser;
	cc.rpcpass = cfg->bitcoind_rpcpass;
	cc.rpccookie = cfg->bitcoind_rpccookie;
	cc.poll_interval = cfg->bitcoind_pollinterval;
	cc.zmq_rawtx = cfg->bitcoind_zmqpubrawtx;
	cc.zmq_rawblock = cfg->bitcoind_zmqpubrawblock;
	cc.timeout = cfg->bitcoind_rpctimeout;
	cc.max_checks = (size_t)cfg->bitcoind_maxfundingchecks;
	cc.db_path = db;
	cn->chain_hooks = daemon_chain_new(NULL);
	struct chain_events ev = daemon_chain_events(cn->chain_hooks);
	cn->chain = chain_new(cn->loop, &cc, &ev, err, sizeof(err));
	daemon_chain_set_chain(cn->chain_hooks, cn->chain);
	/* The wallet view follows the same block stream (docs/wallet.md). */
	struct chain_events wev = {
		.ctx = cn,
		.mempool_txs = wallet_on_mempool,
		.mempool_tx_added = wallet_on_mempool_added,
		.mempool_wanted = wallet_wants_mempool,
	};
	daemon_chain_set_block_listener(cn->chain_hooks, &wev);
	free(db);
	if (!cn->chain) {
		log_broken("MAIN", "chain backend: %s: running without it", err);
		return;
	}
	struct chain_consumer cons = {
		.ctx = rpc_node_wallet(cn->rpc),
		.next_height = wallet_cons_next,
		.tip = wallet_cons_tip,
		.connect = wallet_cons_connect,
		.disconnect = wallet_cons_disconnect,
	};
	chain_set_consumer(cn->chain, &cons);
	chain_start(cn->chain);
}

static bool coldnode_start(struct coldnode *cn)
{
	const struct daemon_config *cfg = cn->cfg;

	log_info("MAIN", "coldnode starting: datadir %s, network %s, signer %s",
		 cfg->datadir, cfg->network, cfg->signer);
	if (!make_datadir(cfg->datadir)) {
		log_broken("MAIN", "cannot create data directory %s: %s",
			   cfg->datadir, strerror(errno));
		return false;
	}
	if (!coldnode_open_log(cn))
		return false;
	write_pidfile(cn);
	if (!coldnode_start_rpc(cn))
		return false;
	if (!coldnode_wallet_accounts(cn))
		return false;
	coldnode_start_chain(cn); /* first: gossip takes its hooks */
	coldnode_start_gossip(cn);
	if (!coldnode_start_metrics(cn))
		return false;

	ev_signal_init(&cn->sigint, on_signal, SIGINT);
	ev_signal_start(cn->loop, &cn->sigint);
	ev_timer_init(&cn->cand_timer, cand_refresh,
		      cn->cfg->gossip_candidaterefresh,
		      cn->cfg->gossip_candidaterefresh);
	cn->cand_timer.data = cn;
	if (cn->cfg->gossip_candidaterefresh > 0 && cn->cfg->gossip_minsessions)
		ev_timer_start(cn->loop, &cn->cand_timer);
	ev_signal_init(&cn->sigterm, on_signal, SIGTERM);
	ev_signal_start(cn->loop, &cn->sigterm);

	return coldnode_start_supervisor(cn);
}

/* Free everything in reverse order of coldnode_start. */
static void coldnode_stop(struct coldnode *cn)
{
	if (cn->notify)
		daemon_notify_stopping(cn->notify);
	/* No scrape may read a module being freed. */
	metrics_http_free(cn->prom);
	cn->prom = NULL;
	metrics_free(cn->metrics);
	cn->metrics = NULL;
	metrics_loop_free(cn->loopstat);
	cn->loopstat = NULL;
	/* Signer first (fails what waits on it), then the peers it acts on. */
	if (cn->sv)
		sv_shutdown(cn->sv, "coldnode stopping");
	/* Its pending calls were just failed by the shutdown. */
	signerproxy_free(cn->proxy);
	cn->proxy = NULL;
	daemon_announce_free(cn->announce); /* uses sv and gossip */
	cn->announce = NULL;
	rpc_server_free(cn->signer_srv);
	cn->signer_srv = NULL;
	if (cn->sv)
		sv_set_peer_mgr(cn->sv, NULL);
	peer_mgr_free(cn->peers);
	cn->peers = NULL;
	coldnode_stop_warm(cn, "shutting down");
	log_info("PEER", "peer manager stopped");
	/* Nothing acts as the node any more: give the lease back so a
	 * standby leads now rather than after the TTL. */
	cluster_free(cn->cluster);
	cn->cluster = NULL;
	if (cn->chain_hooks)
		daemon_chain_set_chain(cn->chain_hooks, NULL);
	chain_free(cn->chain); /* drops pending checks, no callbacks */
	cn->chain = NULL;
	gossip_free(cn->gossip); /* after the peers: they report peer_gone */
	cn->gossip = NULL;
	daemon_chain_free(cn->chain_hooks);
	cn->chain_hooks = NULL;
	sv_free(cn->sv);
	cn->sv = NULL;
	rpc_node_free(cn->rpc);
	cn->rpc = NULL;
	ev_timer_stop(cn->loop, &cn->cand_timer);
	ev_signal_stop(cn->loop, &cn->sigterm);
	ev_signal_stop(cn->loop, &cn->sigint);
	if (cn->pidfile) {
		unlink(cn->pidfile);
		free(cn->pidfile);
		cn->pidfile = NULL;
	}
	daemon_notify_free(cn->notify);
	cn->notify = NULL;
}

/* Each peer is a socket: use all the descriptors we are allowed. */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			log_unusual("MAIN", "cannot raise the open file limit");
	}
}

int main(int argc, char *argv[])
{
	struct coldnode cn = { 0 };
	int code = 0;

	switch (daemon_config_load(&cn.cfg, argc, argv, stderr)) {
	case DAEMON_CONFIG_OK:
		break;
	case DAEMON_CONFIG_HELP:
		return 0;
	case DAEMON_CONFIG_ERROR:
		return 2;
	}
	/* A peer closing its socket must not kill us. */
	signal(SIGPIPE, SIG_IGN);
	raise_fd_limit();
	cn_crypto_init();
	cn.loop = EV_DEFAULT;
	if (!cn.loop) {
		fprintf(stderr, "coldnode: cannot start libev\n");
		daemon_config_free(cn.cfg);
		return 1;
	}
	cn.notify = daemon_notify_new(cn.loop);
	if (coldnode_start(&cn)) {
		/* Up: the RPC port listens (and the signer port); a signer
		 * need not be there yet. */
		struct sv_info si;
		sv_get_info(cn.sv, &si);
		char status[512];
		snprintf(status, sizeof(status), "%s: %s",
			 sv_state_str(si.state), si.cause);
		if (cn.notify)
			daemon_notify_ready(cn.notify, status);
		ev_run(cn.loop, 0);
	} else {
		code = 1;
	}
	coldnode_stop(&cn);
	daemon_config_free(cn.cfg);
	ev_loop_destroy(cn.loop);
	log_info("MAIN", "coldnode stopped");
	log_close_file();
	return code;
}
