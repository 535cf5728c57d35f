/*~ What each module contributes to /metrics.  Names follow Prometheus'
 * naming guide (coldnode_ prefix, base units, _total on counters) and
 * lnd's lndmon where there is an equivalent.  Every family is declared on
 * every scrape, even with no samples yet, so docs/operations.md can list
 * them all and a test can check each one appears.
 *
 * Each collector reads counters kept by its module: O(labels), never the
 * graph.  peer_mgr_count walks the session list (pointer chasing, as
 * GetInfo does).
 */
#include "daemon/collectors.h"
#include "signerproxy/signerproxy.h"

#include "admit/admit.h"
#include "chain/chain.h"
#include "cluster/cluster.h"
#include "gossip/gossip.h"
#include "metrics/metrics.h"
#include "peer/peer.h"
#include "rpc/rpc.h"
#include "supervisor/supervisor.h"
#include "wallet/wallet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Label values in snake case (sv_result_str is lnd's error text). */
static const char *result_label(enum sv_result r)
{
	switch (r) {
	case SV_OK:
		return "ok";
	case SV_ERR_SIGNER:
		return "signer_error";
	case SV_ERR_UNAVAILABLE:
		return "unavailable";
	case SV_ERR_TIMEOUT:
		return "timeout";
	case SV_ERR_CANCELLED:
		return "cancelled";
	case SV_ERR_BAD_REPLY:
		return "bad_reply";
	case SV_ERR_BUSY:
		return "busy";
	}
	return "invalid";
}

/* Standby signers (issue #19): every attached signer and the failovers. */
static void collect_signer_set(struct metrics_page *pg,
			       const struct supervisor *sv,
			       const struct sv_info *si)
{
	static const enum sv_role roles[] = { SV_ROLE_ACTIVE, SV_ROLE_STANDBY,
					      SV_ROLE_CHECKING };
	struct sv_signer_info sg[SV_MAX_SIGNERS];
	size_t n = sv ? sv_get_signers(sv, sg, SV_MAX_SIGNERS) : 0;

	metrics_family(pg, "coldnode_signer_failovers_total", METRICS_COUNTER,
		       "Active signer lost and a standby took over (the node "
		       "stayed ACTIVE).");
	metrics_sample(pg, (double)si->failovers, NULL);
	metrics_family(pg, "coldnode_signer_requests_resent_total",
		       METRICS_COUNTER,
		       "Requests the lost active signer had not answered, sent "
		       "to the standby that took over.");
	metrics_sample(pg, (double)si->requests_resent, NULL);
	metrics_family(pg, "coldnode_signer_requests_early_total",
		       METRICS_COUNTER,
		       "Requests sent together with a key check (their answers "
		       "used once it passes).");
	metrics_sample(pg, (double)si->early_sent, NULL);
	metrics_family(pg, "coldnode_signer_requests_early_dropped_total",
		       METRICS_COUNTER,
		       "Answers to requests sent with a key check, dropped: the "
		       "check failed or the stream ended first.");
	metrics_sample(pg, (double)si->early_dropped, NULL);
	metrics_family(pg, "coldnode_signers", METRICS_GAUGE,
		       "Attached signer streams by role.");
	for (size_t r = 0; r < CN_ARRAY_SIZE(roles); r++) {
		size_t c = 0;
		for (size_t i = 0; i < n; i++)
			c += sg[i].role == roles[r];
		metrics_sample(pg, (double)c, "role", sv_role_str(roles[r]),
			       NULL);
	}
	metrics_family(pg, "coldnode_signer_requests_answered_total",
		       METRICS_COUNTER,
		       "Answers given by each attached signer stream.");
	for (size_t i = 0; i < n; i++)
		metrics_sample(pg, (double)sg[i].requests_answered, "peer",
			       sg[i].peer, "role", sv_role_str(sg[i].role),
			       NULL);
}

static void collect_supervisor(void *arg, struct metrics_page *pg)
{
	const struct daemon_sources *src = arg;
	const struct supervisor *sv = *src->sv;
	struct sv_req_stats rs[SV_NUM_REQ_KINDS];
	struct sv_info si;
	int64_t seen;

	metrics_family(pg, "coldnode_build_info", METRICS_GAUGE,
		       "Always 1; the version in a label.");
	metrics_sample(pg, 1, "version", src->version, NULL);
	if (sv)
		sv_get_info(sv, &si);
	else
		memset(&si, 0, sizeof(si)); /* WAITING_FOR_SIGNER */

	metrics_family(pg, "coldnode_supervisor_state", METRICS_GAUGE,
		       "1 for the supervisor's current state, 0 for the others.");
	for (int s = 0; s < SV_NUM_STATES; s++)
		metrics_sample(pg, si.state == (enum sv_state)s,
			       "state", sv_state_str((enum sv_state)s), NULL);
	metrics_family(pg, "coldnode_supervisor_transitions_total",
		       METRICS_COUNTER, "Entries into each state since start.");
	for (int s = 0; s < SV_NUM_STATES; s++)
		metrics_sample(pg, (double)si.transitions[s], "state",
			       sv_state_str((enum sv_state)s), NULL);
	metrics_family(pg, "coldnode_supervisor_generation", METRICS_GAUGE,
		       "Signer generation: grows by one on each transition.");
	metrics_sample(pg, (double)si.generation, NULL);
	metrics_family(pg, "coldnode_supervisor_state_since_seconds",
		       METRICS_GAUGE,
		       "Unix time of the last state transition.");
	metrics_sample(pg, (double)(si.since_unix ? si.since_unix
						  : src->started_unix), NULL);

	metrics_family(pg, "coldnode_signer_connected", METRICS_GAUGE,
		       "1 while a registered, key-checked signer is attached.");
	metrics_sample(pg, si.signer_ready || (sv && si.state == SV_ACTIVE &&
					       !si.signer_connected),
		       NULL);
	metrics_family(pg, "coldnode_signer_sessions_total", METRICS_COUNTER,
		       "Signer streams accepted.");
	metrics_sample(pg, (double)si.signer_sessions, NULL);
	metrics_family(pg, "coldnode_signer_losses_total", METRICS_COUNTER,
		       "Accepted signer streams that ended.");
	metrics_sample(pg, (double)si.signer_losses, NULL);
	metrics_family(pg, "coldnode_signer_refused_total", METRICS_COUNTER,
		       "Signer streams refused (a second signer, bad input).");
	metrics_sample(pg, (double)si.signer_refused, NULL);
	metrics_family(pg, "coldnode_signer_arrivals_total", METRICS_COUNTER,
		       "Signer-port connections admitted while no signer was "
		       "ready (each may start early peer dials).");
	metrics_sample(pg, (double)si.signer_arrivals, NULL);
	metrics_family(pg, "coldnode_signer_key_mismatches_total",
		       METRICS_COUNTER,
		       "Signers refused for holding another node key.");
	metrics_sample(pg, (double)si.key_mismatches, NULL);
	collect_signer_set(pg, sv, &si);
	seen = sv ? sv_signer_last_seen(sv) : 0;
	if (!seen)
		seen = src->started_unix;
	metrics_family(pg, "coldnode_signer_last_seen_seconds", METRICS_GAUGE,
		       "Seconds since a signer was last attached (0 while one "
		       "is; since start if none ever came).");
	metrics_sample(pg, (double)(time(NULL) - seen), NULL);

	if (sv)
		sv_get_req_stats(sv, rs);
	else
		memset(rs, 0, sizeof(rs));
	metrics_family(pg, "coldnode_signer_requests_total", METRICS_COUNTER,
		       "Signer requests (ECDH, SignMessage) by kind and result.");
	for (int k = 0; k < SV_NUM_REQ_KINDS; k++)
		for (int r = 0; r < SV_NUM_RESULTS; r++)
			metrics_sample(pg, (double)rs[k].results[r], "kind",
				       sv_req_kind_str((enum sv_req_kind)k),
				       "result",
				       result_label((enum sv_result)r), NULL);
	metrics_family(pg, "coldnode_signer_request_duration_seconds",
		       METRICS_HISTOGRAM,
		       "Time from a request sent to the signer to its answer.");
	for (int k = 0; k < SV_NUM_REQ_KINDS; k++)
		metrics_histogram(pg, &rs[k].latency, "kind",
				  sv_req_kind_str((enum sv_req_kind)k), NULL);
	metrics_family(pg, "coldnode_signer_requests_in_flight", METRICS_GAUGE,
		       "Requests sent to the signer and not yet answered.");
	metrics_sample(pg, (double)si.requests_sent, NULL);
	metrics_family(pg, "coldnode_signer_requests_queued", METRICS_GAUGE,
		       "Requests waiting for a signer.");
	metrics_sample(pg, (double)si.requests_queued, NULL);
	/* Issue 22: strangers' act ones at the signer (--signer.maxinboundecdh);
	 * the refusals are requests_total{kind="ecdh",result="busy"}. */
	metrics_family(pg, "coldnode_signer_inbound_ecdh", METRICS_GAUGE,
		       "ECDH requests of inbound handshakes (before act three) "
		       "queued or at the signer, cancelled ones included until "
		       "answered.");
	metrics_sample(pg, (double)si.inbound_ecdh, NULL);
}

/* Persistent-peer dials made ahead of the signer (docs/signer.md,
 * "Reconnecting fast"); GetState's `dials` (field 11) has the same. */
static void peer_dial_families(struct metrics_page *pg,
			       const struct peer_mgr *pm)
{
	struct peer_mgr_dial_stats ds;

	if (pm)
		peer_mgr_dial_stats(pm, &ds);
	else
		memset(&ds, 0, sizeof(ds));
	metrics_family(pg, "coldnode_peer_early_dials_total", METRICS_COUNTER,
		       "Persistent peers dialed ahead of the signer, by "
		       "outcome: ready (reached init), failed (closed before), "
		       "skipped (not dialed: --maxpeers).");
	metrics_sample(pg, (double)ds.early_ready, "result", "ready", NULL);
	metrics_sample(pg, (double)ds.early_failed, "result", "failed", NULL);
	metrics_sample(pg, (double)ds.early_refused, "result", "skipped",
		       NULL);
	metrics_family(pg, "coldnode_peer_early_dials_started_total",
		       METRICS_COUNTER,
		       "Early dials started (ready + failed + in progress).");
	metrics_sample(pg, (double)ds.early_dials, NULL);
	metrics_family(pg, "coldnode_peer_park_timeouts_total",
		       METRICS_COUNTER,
		       "Outbound handshakes closed after waiting the park "
		       "deadline for the node-key ECDH.");
	metrics_sample(pg, (double)ds.park_timeouts, NULL);
}

static void collect_peers(void *arg, struct metrics_page *pg)
{
	const struct daemon_sources *src = arg;
	const struct peer_mgr *pm = *src->peers;
	struct peer_mgr_stats st;
	static const char *const dir[2] = { "outbound", "inbound" };
	static const char *const res[2] = { "failed", "ok" };

	if (pm)
		peer_mgr_get_stats(pm, &st);
	else
		memset(&st, 0, sizeof(st));
	metrics_family(pg, "coldnode_peers", METRICS_GAUGE,
		       "Ready peer sessions by mode.");
	metrics_sample(pg, pm ? (double)peer_mgr_count(pm, PEER_MODE_GOSSIP_ONLY)
			      : 0,
		       "mode", peer_mode_str(PEER_MODE_GOSSIP_ONLY), NULL);
	metrics_sample(pg, pm ? (double)peer_mgr_count(pm, PEER_MODE_FULL) : 0,
		       "mode", peer_mode_str(PEER_MODE_FULL), NULL);
	metrics_family(pg, "coldnode_peer_pending_handshakes", METRICS_GAUGE,
		       "Sessions not yet ready (connect, BOLT 8, init).");
	metrics_sample(pg, pm ? (double)peer_mgr_count_pending(pm) : 0, NULL);
	metrics_family(pg, "coldnode_peer_handshakes_total", METRICS_COUNTER,
		       "Sessions that reached init (ok) or closed before it "
		       "(failed), by direction.");
	for (int i = 0; i < 2; i++)
		for (int ok = 0; ok < 2; ok++)
			metrics_sample(pg, (double)st.handshakes[i][ok],
				       "direction", dir[i], "result", res[ok],
				       NULL);
	metrics_family(pg, "coldnode_peer_closes_total", METRICS_COUNTER,
		       "Closed sessions by reason.");
	for (int r = 0; r < PEER_NUM_CLOSE_REASONS; r++)
		metrics_sample(pg, (double)st.closes[r], "reason",
			       peer_close_reason_str((enum peer_close_reason)r),
			       NULL);
	peer_dial_families(pg, pm);
	metrics_family(pg, "coldnode_peer_received_bytes_total",
		       METRICS_COUNTER,
		       "Lightning message bytes received (decrypted).");
	metrics_sample(pg, (double)st.bytes_in, NULL);
	metrics_family(pg, "coldnode_peer_sent_bytes_total", METRICS_COUNTER,
		       "Lightning message bytes queued to peers.");
	metrics_sample(pg, (double)st.bytes_out, NULL);
}

static void collect_gossip(void *arg, struct metrics_page *pg)
{
	const struct daemon_sources *src = arg;
	struct gossip *g = *src->gossip;
	struct gossip_stats st;
	uint64_t nodes = 0, chans = 0, upds = 0;

	if (g) {
		gossip_counts(g, &nodes, &chans, &upds);
		gossip_get_stats(g, &st);
	} else {
		memset(&st, 0, sizeof(st));
	}
	metrics_family(pg, "coldnode_gossip_nodes", METRICS_GAUGE,
		       "Nodes in the graph store.");
	metrics_sample(pg, (double)nodes, NULL);
	metrics_family(pg, "coldnode_gossip_channels", METRICS_GAUGE,
		       "Channels in the graph store.");
	metrics_sample(pg, (double)chans, NULL);
	metrics_family(pg, "coldnode_gossip_channel_updates", METRICS_GAUGE,
		       "Channel updates in the graph store.");
	metrics_sample(pg, (double)upds, NULL);
	metrics_family(pg, "coldnode_gossip_channels_unverified", METRICS_GAUGE,
		       "Channels stored without a funding-output check.");
	metrics_sample(pg, g ? (double)gossip_unverified_channels(g) : 0, NULL);
	metrics_family(pg, "coldnode_gossip_synced", METRICS_GAUGE,
		       "1 once a range sync with a peer has completed.");
	metrics_sample(pg, g && gossip_synced(g), NULL);
	metrics_family(pg, "coldnode_gossip_messages_total", METRICS_COUNTER,
		       "Gossip messages handled, by verdict and reason.");
	for (int r = 0; r < GOSSIP_NUM_REASONS; r++) {
		const char *verdict =
			r == GOSSIP_OK ? "accepted"
			: r < GOSSIP_REJ_TRUNCATED ? "ignored" : "rejected";
		metrics_sample(pg, (double)st.verdicts[r], "verdict", verdict,
			       "reason", gossip_reason_label((enum gossip_reason)r),
			       NULL);
	}
	metrics_family(pg, "coldnode_gossip_relay_queue", METRICS_GAUGE,
		       "Messages in the relay log waiting to go to peers.");
	metrics_sample(pg, (double)st.relay_queue, NULL);
	metrics_family(pg, "coldnode_gossip_held_updates", METRICS_GAUGE,
		       "Channel updates held until their channel arrives.");
	metrics_sample(pg, (double)st.held, NULL);
	{
		struct gossip_sync_stats ss;
		if (g)
			gossip_get_sync_stats(g, &ss);
		else
			memset(&ss, 0, sizeof(ss));
		metrics_family(pg, "coldnode_gossip_syncs_total",
			       METRICS_COUNTER,
			       "Graph syncs with a peer, by result.");
		metrics_sample(pg, (double)ss.completed, "result",
			       "completed", NULL);
		metrics_sample(pg, (double)ss.failed, "result", "failed",
			       NULL);
		metrics_family(pg, "coldnode_gossip_sync_waits_total",
			       METRICS_COUNTER,
			       "Times the sync's next query waited for funding "
			       "checks.");
		metrics_sample(pg, (double)ss.waits, NULL);
		metrics_family(pg, "coldnode_gossip_refused_capacity_total",
			       METRICS_COUNTER,
			       "Gossip refused for capacity, asked for again by "
			       "a sync.");
		metrics_sample(pg, (double)ss.refused_capacity, NULL);
		metrics_family(pg, "coldnode_gossip_last_sync_timestamp_seconds",
			       METRICS_GAUGE,
			       "Unix time of the last completed graph sync.");
		metrics_sample(pg, (double)ss.last_completed, NULL);
	}
}

struct rpc_walk {
	struct metrics_page *pg;
	int pass; /* 0: calls, 1: latency */
};

/* "/lnrpc.Lightning/GetInfo" -> service "lnrpc.Lightning", method
 * "GetInfo", grpc-prometheus' labels. */
static void rpc_one(void *arg, const struct rpc_method_stats *ms)
{
	struct rpc_walk *w = arg;
	char service[128] = "";
	const char *slash = strrchr(ms->method, '/');
	const char *method = slash ? slash + 1 : ms->method;

	if (slash && slash > ms->method)
		snprintf(service, sizeof(service), "%.*s",
			 (int)(slash - ms->method - 1), ms->method + 1);
	if (w->pass == 1) {
		metrics_histogram(w->pg, &ms->latency, "service", service,
				  "method", method, NULL);
		return;
	}
	for (int c = 0; c < RPC_NUM_STATUS; c++) {
		/* OK always, so each method shows; other codes once seen. */
		if (c && !ms->calls[c])
			continue;
		metrics_sample(w->pg, (double)ms->calls[c], "service", service,
			       "method", method, "code",
			       rpc_status_str((enum rpc_status)c), NULL);
	}
}

static void collect_rpc(void *arg, struct metrics_page *pg)
{
	const struct daemon_sources *src = arg;
	struct rpc_walk w = { .pg = pg };

	metrics_family(pg, "coldnode_rpc_calls_total", METRICS_COUNTER,
		       "gRPC calls finished, by method and status code.");
	if (src->rpc)
		rpc_server_foreach_stats(src->rpc, rpc_one, &w);
	metrics_family(pg, "coldnode_rpc_call_duration_seconds",
		       METRICS_HISTOGRAM,
		       "Time from a call's request headers to its status.");
	w.pass = 1;
	if (src->rpc)
		rpc_server_foreach_stats(src->rpc, rpc_one, &w);
	metrics_family(pg, "coldnode_rpc_connections", METRICS_GAUGE,
		       "gRPC connections open now.");
	metrics_sample(pg, src->rpc ? (double)rpc_server_num_conns(src->rpc) : 0,
		       NULL);
}

/* Closes and refusals by the budget, as labels (admit_reason_str);
 * ADMIT_AUTH_FULL keeps its connection, so it is a family of its own. */
static const enum admit_reason closed_reasons[] = {
	ADMIT_REFUSED_SOURCE, ADMIT_EVICTED, ADMIT_TIMED_OUT
};

#define MAX_LISTENERS 8

/* Every listener's connection budget (src/admit): rpc, rpc-unix, signer,
 * signer-unix, p2p, as GetState's `listeners` (field 9).  p2p starts
 * once the node id is known: until then it shows zeros, not a gap. */
static void collect_listeners(void *arg, struct metrics_page *pg)
{
	const struct daemon_sources *src = arg;
	const struct peer_mgr *pm = *src->peers;
	struct admit_stats ls[MAX_LISTENERS];
	size_t n = 0;

	if (src->rpc)
		n += rpc_server_admit_stats(src->rpc, ls + n,
					    MAX_LISTENERS - n);
	if (src->signer_srv && *src->signer_srv)
		n += rpc_server_admit_stats(*src->signer_srv, ls + n,
					    MAX_LISTENERS - n);
	if (n < MAX_LISTENERS) {
		if (!pm || !peer_mgr_admit_stats(pm, &ls[n])) {
			memset(&ls[n], 0, sizeof(ls[n]));
			ls[n].name = "p2p";
		}
		n++;
	}

	metrics_family(pg, "coldnode_listener_connections", METRICS_GAUGE,
		       "Open connections per listener, by class: "
		       "unauthenticated (pre-auth budget) or authenticated.");
	for (size_t i = 0; i < n; i++) {
		metrics_sample(pg, ls[i].unauthenticated, "listener",
			       ls[i].name, "class", "unauthenticated", NULL);
		metrics_sample(pg, ls[i].authenticated, "listener", ls[i].name,
			       "class", "authenticated", NULL);
	}
	metrics_family(pg, "coldnode_listener_accepted_total",
		       METRICS_COUNTER,
		       "Connections admitted by the listener's budget.");
	for (size_t i = 0; i < n; i++)
		metrics_sample(pg, (double)ls[i].accepted, "listener",
			       ls[i].name, NULL);
	metrics_family(pg, "coldnode_listener_closed_total", METRICS_COUNTER,
		       "Connections the budget closed, by reason: "
		       "refused_source (at accept), evicted, timed_out.");
	for (size_t i = 0; i < n; i++)
		for (size_t r = 0; r < sizeof(closed_reasons) /
					       sizeof(closed_reasons[0]);
		     r++)
			metrics_sample(pg,
				       (double)ls[i].count[closed_reasons[r]],
				       "listener", ls[i].name, "reason",
				       admit_reason_str(closed_reasons[r]),
				       NULL);
	metrics_family(pg, "coldnode_listener_auth_full_total",
		       METRICS_COUNTER,
		       "Connections that proved themselves while the "
		       "authenticated slots were full (kept pre-auth).");
	for (size_t i = 0; i < n; i++)
		metrics_sample(pg, (double)ls[i].count[ADMIT_AUTH_FULL],
			       "listener", ls[i].name, NULL);
	/* Issue 22: what the gRPC ports refused before authentication. */
	metrics_family(pg, "coldnode_listener_headers_refused_total",
		       METRICS_COUNTER,
		       "gRPC requests refused for their header list (over "
		       "32 KiB, or a pre-auth connection over its header "
		       "budget).");
	for (size_t i = 0; i < n; i++)
		metrics_sample(pg, (double)ls[i].headers_refused, "listener",
			       ls[i].name, NULL);
	metrics_family(pg, "coldnode_listener_unauth_calls_refused_total",
		       METRICS_COUNTER,
		       "gRPC calls without a macaroon (health) refused: "
		       "pre-auth caps or request size.");
	for (size_t i = 0; i < n; i++)
		metrics_sample(pg, (double)ls[i].unauth_calls_refused,
			       "listener", ls[i].name, NULL);
}

bool daemon_collectors_add(struct metrics *m, const struct daemon_sources *src)
{
	void *arg = (void *)src;

	return metrics_add_collector(m, collect_supervisor, arg) &&
	       metrics_add_collector(m, collect_peers, arg) &&
	       metrics_add_collector(m, collect_gossip, arg) &&
	       metrics_add_collector(m, collect_rpc, arg) &&
	       metrics_add_collector(m, collect_listeners, arg) &&
	       metrics_add_collector(m, metrics_collect_process, NULL);
}

/* ---- chain view and wallet (docs/operations.md "Chain and wallet") ----
 *
 * Families are declared whether or not a backend is configured.  With
 * --bitcoin.node=none the status is "off", backend_up 0, the counters 0,
 * and the height gauges have no sample (no height is known: a 0 would be
 * a lie a dashboard could plot).  The wallet's balances are one SQLite
 * sum over its outputs (as WalletBalance): linear in the wallet's coins. */

/* Snake-case labels for enum chain_check (chain_check_name is a sentence
 * for logs). */
static const char *check_label(enum chain_check r)
{
	switch (r) {
	case CHAIN_CHECK_OK: return "ok";
	case CHAIN_CHECK_NO_BLOCK: return "no_block";
	case CHAIN_CHECK_NO_TX: return "no_tx";
	case CHAIN_CHECK_NO_OUTPUT: return "no_output";
	case CHAIN_CHECK_NOT_P2WSH: return "not_p2wsh";
	case CHAIN_CHECK_WRONG_KEYS: return "wrong_keys";
	case CHAIN_CHECK_SPENT: return "spent";
	case CHAIN_CHECK_UNCONFIRMED: return "unconfirmed";
	case CHAIN_CHECK_UNAVAILABLE: return "unavailable";
	case CHAIN_CHECK_NUM: break;
	}
	abort();
}

static void chain_counter(struct metrics_page *pg, const char *name,
			  const char *help, uint64_t v)
{
	metrics_family(pg, name, METRICS_COUNTER, help);
	metrics_sample(pg, (double)v, NULL);
}

static void collect_chain(void *arg, struct metrics_page *pg)
{
	const struct daemon_chain_sources *src = arg;
	const struct chain *c = *src->chain;
	static const enum chain_status all[] = {
		CHAIN_OFF, CHAIN_CONNECTING, CHAIN_SYNCING, CHAIN_SYNCED,
		CHAIN_LOST, CHAIN_WRONG_NET,
	};
	struct chain_info ci;

	memset(&ci, 0, sizeof(ci));
	if (c)
		chain_get_info(c, &ci);
	else
		ci.status = CHAIN_OFF;

	metrics_family(pg, "coldnode_chain_backend_up", METRICS_GAUGE,
		       "1 while the bitcoin node answers on the right network.");
	metrics_sample(pg, c && ci.connected && ci.status != CHAIN_LOST &&
			   ci.status != CHAIN_WRONG_NET, NULL);
	metrics_family(pg, "coldnode_chain_backend_status", METRICS_GAUGE,
		       "1 for the chain backend's current status, 0 for the "
		       "others.");
	for (size_t i = 0; i < CN_ARRAY_SIZE(all); i++)
		metrics_sample(pg, ci.status == all[i], "status",
			       chain_status_name(all[i]), NULL);

	metrics_family(pg, "coldnode_chain_tip_height", METRICS_GAUGE,
		       "Height of the last block coldnode has followed.");
	if (c)
		metrics_sample(pg, (double)ci.height, NULL);
	metrics_family(pg, "coldnode_chain_node_height", METRICS_GAUGE,
		       "The bitcoin node's best height, as last seen.");
	if (c && ci.node_height)
		metrics_sample(pg, (double)ci.node_height, NULL);
	metrics_family(pg, "coldnode_chain_blocks_behind", METRICS_GAUGE,
		       "Blocks between the node's best height and ours.");
	if (c && ci.node_height)
		metrics_sample(pg, ci.node_height > ci.height
					   ? (double)(ci.node_height - ci.height)
					   : 0,
			       NULL);
	metrics_family(pg, "coldnode_chain_tip_timestamp_seconds",
		       METRICS_GAUGE, "Header time of our tip block.");
	if (c && ci.tip_time)
		metrics_sample(pg, (double)ci.tip_time, NULL);
	metrics_family(pg, "coldnode_chain_synced_to_chain", METRICS_GAUGE,
		       "lnd's synced_to_chain: at the node's tip, node not in "
		       "initial block download, tip under 2 hours old.");
	metrics_sample(pg, c && ci.synced, NULL);

	chain_counter(pg, "coldnode_chain_blocks_connected_total",
		      "Blocks connected to the followed chain.",
		      ci.blocks_connected);
	chain_counter(pg, "coldnode_chain_blocks_disconnected_total",
		      "Blocks disconnected in reorganisations.",
		      ci.blocks_disconnected);
	chain_counter(pg, "coldnode_chain_reorgs_total",
		      "Reorganisations of the followed chain.", ci.reorgs);
	chain_counter(pg, "coldnode_chain_requests_total",
		      "JSON-RPC requests sent to the bitcoin node.",
		      ci.requests);
	chain_counter(pg, "coldnode_chain_request_errors_total",
		      "JSON-RPC requests that failed (transport or node error).",
		      ci.errors);
	chain_counter(pg, "coldnode_chain_backend_losses_total",
		      "Times the bitcoin node was lost.", ci.lost_count);

	metrics_family(pg, "coldnode_chain_funding_checks_total",
		       METRICS_COUNTER,
		       "Channel funding output checks, by result.");
	for (int r = 0; r < CHAIN_CHECK_NUM; r++)
		metrics_sample(pg, (double)ci.checks[r], "result",
			       check_label((enum chain_check)r), NULL);
	metrics_family(pg, "coldnode_chain_funding_checks_queued",
		       METRICS_GAUGE, "Funding checks waiting now.");
	metrics_sample(pg, (double)ci.checks_queued, NULL);
	metrics_family(pg, "coldnode_chain_watched_outpoints", METRICS_GAUGE,
		       "Channel funding outpoints watched for a spend.");
	metrics_sample(pg, (double)ci.watched, NULL);
	chain_counter(pg, "coldnode_chain_channels_spent_total",
		      "Watched funding outpoints seen spent.", ci.spent);
	chain_counter(pg, "coldnode_chain_channels_forgotten_total",
		      "Spent channels forgotten after the delay.",
		      ci.forgotten);
	metrics_family(pg, "coldnode_chain_funding_rechecks_pending",
		       METRICS_GAUGE, "Channels accepted short of 6 "
		       "confirmations, waiting for their re-check at 6.");
	metrics_sample(pg, (double)ci.rechecks_pending, NULL);
	metrics_family(pg, "coldnode_chain_funding_rechecks_total",
		       METRICS_COUNTER, "Re-checks at 6 confirmations, by "
		       "result (a failure forgets the channel).");
	for (int r = 0; r < CHAIN_CHECK_NUM; r++)
		metrics_sample(pg, (double)ci.rechecks[r], "result",
			       check_label((enum chain_check)r), NULL);

	/* bitcoind's ZMQ (docs/chain.md): 0 without --bitcoind.zmqpub*. */
	metrics_family(pg, "coldnode_chain_zmq_messages_total",
		       METRICS_COUNTER, "bitcoind ZMQ messages received, by "
		       "topic.");
	metrics_sample(pg, (double)ci.zmq_rawtx, "topic", "rawtx", NULL);
	metrics_sample(pg, (double)ci.zmq_rawblock, "topic", "rawblock",
		       NULL);
	chain_counter(pg, "coldnode_chain_zmq_sequence_gaps_total",
		      "ZMQ sequence gaps (messages lost), each a resync.",
		      ci.zmq_gaps);
	chain_counter(pg, "coldnode_chain_zmq_sequence_restarts_total",
		      "ZMQ sequences that went back (bitcoind restarted), per "
		      "topic, each a resync.", ci.zmq_restarts);
	chain_counter(pg, "coldnode_chain_zmq_malformed_total",
		      "ZMQ messages dropped as malformed.", ci.zmq_bad);
	chain_counter(pg, "coldnode_chain_mempool_full_polls_total",
		      "Full getrawmempool polls.", ci.mempool_full_polls);
	metrics_family(pg, "coldnode_chain_zmq_rawtx_silent", METRICS_GAUGE,
		       "1 while no ZMQ rawtx has arrived for 10 poll "
		       "intervals: every mempool poll is a full one.");
	metrics_sample(pg, ci.zmq_rawtx_silent, NULL);
}

static void collect_wallet(void *arg, struct metrics_page *pg)
{
	const struct daemon_chain_sources *src = arg;
	struct wallet *w = src->wallet;
	const struct chain *c = *src->chain;
	struct wallet_balance b;
	bool have_bal = false;
	int64_t tip = -1, updated = 0;
	uint8_t hash[32];

	memset(&b, 0, sizeof(b));
	if (w) {
		/* min_confs 1: lnd's WalletBalance default. */
		have_bal = wallet_get_balance(w, &b, NULL, 1);
		if (!wallet_tip(w, &tip, hash))
			tip = -1;
		updated = wallet_updated_unix(w);
	}
	metrics_family(pg, "coldnode_wallet_balance_satoshis", METRICS_GAUGE,
		       "Wallet balance as lnd's WalletBalance (min_confs 1).");
	if (have_bal) {
		metrics_sample(pg, (double)b.confirmed, "state", "confirmed",
			       NULL);
		metrics_sample(pg, (double)b.unconfirmed, "state",
			       "unconfirmed", NULL);
		metrics_sample(pg, (double)b.locked, "state", "locked", NULL);
	}
	metrics_family(pg, "coldnode_wallet_account_balance_satoshis",
		       METRICS_GAUGE,
		       "Wallet balance per account (lnd's account_balance).");
	for (size_t i = 0; have_bal && i < b.num_accounts; i++) {
		metrics_sample(pg, (double)b.accounts[i].confirmed, "account",
			       b.accounts[i].account, "state", "confirmed",
			       NULL);
		metrics_sample(pg, (double)b.accounts[i].unconfirmed,
			       "account", b.accounts[i].account, "state",
			       "unconfirmed", NULL);
	}
	if (have_bal)
		wallet_balance_clear(&b);
	metrics_family(pg, "coldnode_wallet_tip_height", METRICS_GAUGE,
		       "Last block the wallet has scanned.");
	if (tip >= 0)
		metrics_sample(pg, (double)tip, NULL);
	metrics_family(pg, "coldnode_wallet_watched_scripts", METRICS_GAUGE,
		       "Scripts the wallet watches (all accounts, both "
		       "branches).");
	metrics_sample(pg, w ? (double)wallet_watched(w) : 0, NULL);
	/* As GetState's wallet.stale: balances are the last known. */
	metrics_family(pg, "coldnode_wallet_stale", METRICS_GAUGE,
		       "1 while the chain backend is lost: balances are the "
		       "last known.");
	{
		struct chain_info ci;
		bool lost = false;
		if (c) {
			chain_get_info(c, &ci);
			lost = ci.status == CHAIN_LOST;
		}
		metrics_sample(pg, lost, NULL);
	}
	metrics_family(pg, "coldnode_wallet_last_update_seconds",
		       METRICS_GAUGE,
		       "Seconds since the wallet last took a block or mempool "
		       "change.");
	if (updated > 0)
		metrics_sample(pg, (double)(time(NULL) - updated), NULL);
}

bool daemon_collectors_add_chain(struct metrics *m,
				 const struct daemon_chain_sources *src)
{
	void *arg = (void *)src;

	return metrics_add_collector(m, collect_chain, arg) &&
	       metrics_add_collector(m, collect_wallet, arg);
}

/* ---- cluster (docs/cluster.md) ---- */

static void collect_cluster(void *arg, struct metrics_page *pg)
{
	const struct daemon_cluster_sources *src = arg;
	const struct cluster *cl = *src->cluster;
	const struct supervisor *sv = *src->sv;
	struct cluster_info ci;

	if (!cl)
		return;
	cluster_get_info(cl, &ci);
	metrics_family(pg, "coldnode_cluster_leader", METRICS_GAUGE,
		       "1 while this instance leads the cluster, 0 standby.");
	metrics_sample(pg, ci.role == CL_LEADER, "id", ci.id, NULL);
	metrics_family(pg, "coldnode_cluster_info", METRICS_GAUGE,
		       "Always 1; this instance's id and the leader's.");
	metrics_sample(pg, 1, "id", ci.id, "leader_id", ci.leader_id, NULL);
	metrics_family(pg, "coldnode_cluster_token", METRICS_GAUGE,
		       "This instance's fencing token (its election key's "
		       "create revision; 0: none).");
	metrics_sample(pg, (double)ci.token, NULL);
	metrics_family(pg, "coldnode_cluster_leader_token", METRICS_GAUGE,
		       "The leader's fencing token as last seen.");
	metrics_sample(pg, (double)ci.leader_token, NULL);
	metrics_family(pg, "coldnode_cluster_lease_left_seconds",
		       METRICS_GAUGE,
		       "How long the last confirmed lease renewal lets this "
		       "instance act (TTL minus margin from when it was sent).");
	metrics_sample(pg, ci.lease_left, NULL);
	metrics_family(pg, "coldnode_cluster_renewals_total", METRICS_COUNTER,
		       "etcd lease renewals by result.");
	metrics_sample(pg, (double)ci.renewals_ok, "result", "ok", NULL);
	metrics_sample(pg, (double)ci.renewals_failed, "result", "failed",
		       NULL);
	metrics_family(pg, "coldnode_cluster_renewal_duration_seconds",
		       METRICS_HISTOGRAM,
		       "Time from a lease renewal sent to its confirmation.");
	metrics_histogram(pg, &ci.renew_latency, NULL);
	metrics_family(pg, "coldnode_cluster_leadership_changes_total",
		       METRICS_COUNTER, "Changes of the leader seen.");
	metrics_sample(pg, (double)ci.leadership_changes, NULL);
	metrics_family(pg, "coldnode_cluster_elected_total", METRICS_COUNTER,
		       "Times this instance became the leader.");
	metrics_sample(pg, (double)ci.elected, NULL);
	metrics_family(pg, "coldnode_cluster_stood_down_total",
		       METRICS_COUNTER, "Times this instance stopped leading.");
	metrics_sample(pg, (double)ci.stood_down, NULL);
	metrics_family(pg, "coldnode_cluster_fencing_refusals_total",
		       METRICS_COUNTER,
		       "Signer streams ended because the signer had seen a "
		       "higher fencing token.");
	metrics_sample(pg, sv ? (double)sv_fencing_refusals(sv) : 0, NULL);
}

bool daemon_collectors_add_cluster(struct metrics *m,
				   const struct daemon_cluster_sources *src)
{
	return metrics_add_collector(m, collect_cluster, (void *)src);
}

/* ---- signer proxy (docs/signerproxy.md) ---- */

static void collect_signerproxy(void *arg, struct metrics_page *pg)
{
	struct signerproxy *const *pp = arg;
	static struct spx_stats st; /* big: not on the stack */

	/* Off (no --signerproxy.listen): the families are listed without
	 * samples, so a scrape shows what exists; nothing to count. */
	const bool on = *pp != NULL;

	if (on)
		signerproxy_get_stats(*pp, &st);
	metrics_family(pg, "coldnode_signerproxy_calls_total", METRICS_COUNTER,
		       "Calls a watch-only lnd made through the signer proxy, "
		       "by method and outcome: ok, signer_error (UNKNOWN), "
		       "signer_away (FAILED_PRECONDITION), signer_lost and "
		       "signer_slow (ABORTED), bad_reply (INTERNAL), "
		       "cancelled.");
	if (on)
		for (unsigned m = 0; m < SPX_NUM_METHODS; m++)
			for (unsigned o = 0; o < SPX_NUM_OUTCOMES; o++)
				metrics_sample(pg, (double)st.m[m].outcomes[o],
					       "method", spx_method_info(m)->name,
					       "outcome",
					       spx_outcome_str((enum spx_outcome)o),
					       NULL);
	metrics_family(pg, "coldnode_signerproxy_forwarded_total",
		       METRICS_COUNTER,
		       "Proxied calls sent to the signer, by method.");
	if (on)
		for (unsigned m = 0; m < SPX_NUM_METHODS; m++)
			metrics_sample(pg, (double)st.m[m].forwarded, "method",
				       spx_method_info(m)->name, NULL);
	metrics_family(pg, "coldnode_signerproxy_held_total", METRICS_COUNTER,
		       "Proxied calls that had to wait for a signer, by "
		       "method.");
	if (on)
		for (unsigned m = 0; m < SPX_NUM_METHODS; m++)
			metrics_sample(pg, (double)st.m[m].held, "method",
				       spx_method_info(m)->name, NULL);
	metrics_family(pg, "coldnode_signerproxy_wait_seconds",
		       METRICS_HISTOGRAM,
		       "Time a held call waited for a signer.");
	if (on)
		for (unsigned m = 0; m < SPX_NUM_METHODS; m++)
			metrics_histogram(pg, &st.m[m].wait, "method",
					  spx_method_info(m)->name, NULL);
	metrics_family(pg, "coldnode_signerproxy_signer_seconds",
		       METRICS_HISTOGRAM,
		       "Time from a proxied call sent to the signer to its "
		       "answer.");
	if (on)
		for (unsigned m = 0; m < SPX_NUM_METHODS; m++)
			metrics_histogram(pg, &st.m[m].signer, "method",
					  spx_method_info(m)->name, NULL);
	metrics_family(pg, "coldnode_signerproxy_held", METRICS_GAUGE,
		       "Proxied calls waiting for a signer now.");
	if (on)
		metrics_sample(pg, (double)st.held_now, NULL);
	metrics_family(pg, "coldnode_signerproxy_in_flight", METRICS_GAUGE,
		       "Proxied calls at the signer now.");
	if (on)
		metrics_sample(pg, (double)st.in_flight_now, NULL);
	metrics_family(pg, "coldnode_signerproxy_connections", METRICS_GAUGE,
		       "Watch-only lnd connections open now.");
	if (on)
		metrics_sample(pg, (double)st.connections, NULL);
}

bool daemon_collectors_add_signerproxy(struct metrics *m,
				       struct signerproxy *const *proxy)
{
	return metrics_add_collector(m, collect_signerproxy, (void *)proxy);
}
