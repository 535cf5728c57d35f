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

#include "admit/admit.h"
#include "gossip/gossip.h"
#include "metrics/metrics.h"
#include "peer/peer.h"
#include "rpc/rpc.h"
#include "supervisor/supervisor.h"

#include <stdio.h>
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
	}
	return "invalid";
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
