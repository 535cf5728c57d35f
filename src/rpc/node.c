/*~ node: the monitoring surface monitors poll, served from the generic
 * server core: lnrpc.Lightning GetInfo/WalletBalance (wire-compatible with
 * lnd), coldrpc.Supervisor GetState/SubscribeState, coldrpc.Wallet
 * ImportUnspent and grpc.health.v1.Health.  Nothing here waits for the
 * signer: every answer comes from the provider callbacks (daemon state in
 * memory) or the local wallet table, so safe mode and "waiting for signer"
 * answer exactly like ACTIVE.
 */
#include "rpc/rpc_internal.h"
#include "wallet/wallet.h"

#include "coldrpc.pb-c.h"
#include "health.pb-c.h"
#include "lightning.pb-c.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SUBSYS "RPC"
#define DEFAULT_SIGNER_SERVICE "coldnode.signer"

/* A live SubscribeState or Health/Watch call. */
struct watcher {
	struct watcher *next, *prev;
	struct rpc_call *call;
	struct rpc_node *node;
	bool health;
	char *service; /* health: the watched service name */
	int last;      /* health: last status sent, -1 none */
};

struct rpc_node {
	struct ev_loop *loop;
	struct rpc_server *srv;
	struct rpc_macaroon_svc *macs;
	struct wallet *wallet;
	struct rpc_provider prov;
	char *version;
	char *network;
	char *signer_service;
	struct watcher *watchers;
};

static const struct rpc_perm perm_info_read[] = { { "info", "read" } };
static const struct rpc_perm perm_onchain_read[] = { { "onchain", "read" } };
static const struct rpc_perm perm_onchain_write[] = { { "onchain", "write" } };

/* Packs @msg and sends it; finishes the call on failure. */
static bool send_pb(struct rpc_call *call, const ProtobufCMessage *msg)
{
	size_t len = protobuf_c_message_get_packed_size(msg);
	uint8_t stackbuf[1024];
	uint8_t *buf = len <= sizeof(stackbuf) ? stackbuf : malloc(len);
	bool ok;
	if (!buf) {
		rpc_call_finish(call, RPC_STATUS_RESOURCE_EXHAUSTED,
				"out of memory");
		return false;
	}
	protobuf_c_message_pack(msg, buf);
	ok = rpc_call_send(call, buf, len);
	if (buf != stackbuf)
		free(buf);
	return ok;
}

static void reply_pb(struct rpc_call *call, const ProtobufCMessage *msg)
{
	if (send_pb(call, msg))
		rpc_call_finish(call, RPC_STATUS_OK, NULL);
}

/* Checks that @msg parses as @desc: a client must not get an answer to a
 * request it did not make. */
static ProtobufCMessage *parse_req(struct rpc_call *call,
				   const ProtobufCMessageDescriptor *desc,
				   const uint8_t *msg, size_t len)
{
	ProtobufCMessage *m = protobuf_c_message_unpack(desc, NULL, len, msg);
	if (!m)
		rpc_call_finish(call, RPC_STATUS_INVALID_ARGUMENT,
				"cannot parse request message");
	return m;
}

/* ---- lnrpc.Lightning/GetInfo ---------------------------------------------- */

static void get_info(void *arg, struct rpc_call *call, const uint8_t *msg,
		     size_t len)
{
	struct rpc_node *node = arg;
	struct rpc_node_info info;
	Lnrpc__GetInfoResponse r = LNRPC__GET_INFO_RESPONSE__INIT;
	Lnrpc__Chain chain = LNRPC__CHAIN__INIT;
	Lnrpc__Chain *chains[1] = { &chain };
	char pubkey[67] = "", color[8] = "#000000", hash[65] = "";
	ProtobufCMessage *req;

	/* The request has no fields: an empty message needs no parsing. */
	if (len) {
		req = parse_req(call, &lnrpc__get_info_request__descriptor,
				msg, len);
		if (!req)
			return;
		protobuf_c_message_free_unpacked(req, NULL);
	}

	memset(&info, 0, sizeof(info));
	if (node->prov.get_info)
		node->prov.get_info(node->prov.arg, &info);

	r.version = node->version;
	if (info.have_identity)
		r.identity_pubkey = hex_encode(pubkey, info.identity_pubkey, 33);
	if (info.alias)
		r.alias = (char *)info.alias;
	snprintf(color, sizeof(color), "#%02x%02x%02x", info.color[0],
		 info.color[1], info.color[2]);
	r.color = color;
	r.num_peers = info.num_peers;
	if (info.have_block) {
		r.block_height = info.block_height;
		r.block_hash = hex_encode_reversed(hash, info.block_hash, 32);
	}
	r.synced_to_chain = info.synced_to_chain;
	r.best_header_timestamp = info.best_header_timestamp;
	r.synced_to_graph = info.synced_to_graph;
	chain.chain = "bitcoin";
	chain.network = (char *)(info.network ? info.network : "mainnet");
	r.testnet = strcmp(chain.network, "testnet") == 0;
	r.n_chains = 1;
	r.chains = chains;
	r.n_uris = info.num_uris;
	r.uris = (char **)info.uris;

	/* Feature bits fit on the stack (BOLT 9 defines well under 64). */
	Lnrpc__GetInfoResponse__FeaturesEntry ents_s[64], *ents = ents_s,
		*entp_s[64], **entp = entp_s;
	Lnrpc__Feature feats_s[64], *feats = feats_s;
	if (info.num_features > CN_ARRAY_SIZE(feats_s)) {
		ents = calloc(info.num_features, sizeof(*ents));
		entp = calloc(info.num_features, sizeof(*entp));
		feats = calloc(info.num_features, sizeof(*feats));
	}
	if (info.num_features) {
		if (!ents || !entp || !feats) {
			rpc_call_finish(call, RPC_STATUS_RESOURCE_EXHAUSTED,
					"out of memory");
			goto out;
		}
		for (size_t i = 0; i < info.num_features; i++) {
			lnrpc__get_info_response__features_entry__init(&ents[i]);
			lnrpc__feature__init(&feats[i]);
			feats[i].name = (char *)(info.features[i].name
						 ? info.features[i].name : "");
			feats[i].is_required = info.features[i].is_required;
			feats[i].is_known = info.features[i].is_known;
			ents[i].key = info.features[i].bit;
			ents[i].value = &feats[i];
			entp[i] = &ents[i];
		}
		r.n_features = info.num_features;
		r.features = entp;
	}
	reply_pb(call, &r.base);
out:
	if (ents != ents_s) {
		free(ents);
		free(entp);
		free(feats);
	}
}

/* ---- lnrpc.Lightning/WalletBalance ---------------------------------------- */

static void wallet_balance(void *arg, struct rpc_call *call,
			   const uint8_t *msg, size_t len)
{
	struct rpc_node *node = arg;
	Lnrpc__WalletBalanceRequest *req;
	Lnrpc__WalletBalanceResponse r = LNRPC__WALLET_BALANCE_RESPONSE__INIT;
	struct wallet_balance b;

	req = (Lnrpc__WalletBalanceRequest *)parse_req(
		call, &lnrpc__wallet_balance_request__descriptor, msg, len);
	if (!req)
		return;
	/* min_confs <= 0 is 1, as lnd's rpcserver.go: "if in.MinConfs <= 0
	 * { in.MinConfs = 1 }" (wallet_get_balance does it). */
	bool ok = wallet_get_balance(node->wallet, &b, req->account,
				     req->min_confs);
	if (!ok) {
		char emsg[128];
		/* lnd: ListAccounts fails with "account %v not found". */
		snprintf(emsg, sizeof(emsg), "account %.64s not found",
			 req->account);
		rpc_call_finish(call, b.not_found ? RPC_STATUS_UNKNOWN
						  : RPC_STATUS_INTERNAL,
				b.not_found ? emsg : "wallet database error");
		lnrpc__wallet_balance_request__free_unpacked(req, NULL);
		return;
	}
	lnrpc__wallet_balance_request__free_unpacked(req, NULL);
	r.total_balance = b.total;
	r.confirmed_balance = b.confirmed;
	r.unconfirmed_balance = b.unconfirmed;
	/* locked_balance: lnd's leased outputs (LeaseOutput, funding
	 * reservations); a watch-only node never leases, so with accounts it
	 * is 0 (an imported listunspent set may mark outputs locked).
	 * reserved_balance_anchor_chan: lnd's reserve for anchor channels'
	 * fee bumping; coldnode has no channels: 0. */
	r.locked_balance = b.locked;
	Lnrpc__WalletBalanceResponse__AccountBalanceEntry *ents =
		calloc(b.num_accounts + 1, sizeof(*ents));
	Lnrpc__WalletBalanceResponse__AccountBalanceEntry **entp =
		calloc(b.num_accounts + 1, sizeof(*entp));
	Lnrpc__WalletAccountBalance *vals =
		calloc(b.num_accounts + 1, sizeof(*vals));
	if (!ents || !entp || !vals) {
		rpc_call_finish(call, RPC_STATUS_RESOURCE_EXHAUSTED,
				"out of memory");
		goto out;
	}
	for (size_t i = 0; i < b.num_accounts; i++) {
		lnrpc__wallet_balance_response__account_balance_entry__init(
			&ents[i]);
		lnrpc__wallet_account_balance__init(&vals[i]);
		vals[i].confirmed_balance = b.accounts[i].confirmed;
		vals[i].unconfirmed_balance = b.accounts[i].unconfirmed;
		ents[i].key = b.accounts[i].account;
		ents[i].value = &vals[i];
		entp[i] = &ents[i];
	}
	r.n_account_balance = b.num_accounts;
	r.account_balance = entp;
	reply_pb(call, &r.base);
out:
	free(ents);
	free(entp);
	free(vals);
	wallet_balance_clear(&b);
}

/* ---- coldrpc.Wallet/ImportUnspent ----------------------------------------- */

static void import_unspent(void *arg, struct rpc_call *call,
			   const uint8_t *msg, size_t len)
{
	struct rpc_node *node = arg;
	Coldrpc__ImportUnspentRequest *req;
	Coldrpc__ImportUnspentResponse r = COLDRPC__IMPORT_UNSPENT_RESPONSE__INIT;
	struct wallet_utxo *u;

	req = (Coldrpc__ImportUnspentRequest *)parse_req(
		call, &coldrpc__import_unspent_request__descriptor, msg, len);
	if (!req)
		return;
	u = calloc(req->n_utxos + 1, sizeof(*u));
	if (!u) {
		rpc_call_finish(call, RPC_STATUS_RESOURCE_EXHAUSTED,
				"out of memory");
		goto out;
	}
	for (size_t i = 0; i < req->n_utxos; i++) {
		const Coldrpc__Utxo *in = req->utxos[i];
		if (strlen(in->txid) >= sizeof(u[i].txid) ||
		    strlen(in->address) >= sizeof(u[i].address) ||
		    strlen(in->account) >= sizeof(u[i].account)) {
			rpc_call_finish(call, RPC_STATUS_INVALID_ARGUMENT,
					"utxo field too long");
			goto out;
		}
		strcpy(u[i].txid, in->txid);
		strcpy(u[i].address, in->address);
		strcpy(u[i].account, in->account);
		u[i].vout = in->vout;
		u[i].amount_sat = in->amount_sat;
		u[i].confirmations = in->confirmations;
		u[i].locked = in->locked;
		if (in->amount_sat < 0 || in->amount_sat > WALLET_MAX_SAT) {
			rpc_call_finish(call, RPC_STATUS_INVALID_ARGUMENT,
					"amount out of range");
			goto out;
		}
		r.total_sat += in->amount_sat;
	}
	if (!wallet_import(node->wallet, u, req->n_utxos, req->append)) {
		rpc_call_finish(call, RPC_STATUS_INVALID_ARGUMENT,
				"import rejected (invalid txid or database "
				"error; see the node's log)");
		goto out;
	}
	r.imported = (uint32_t)req->n_utxos;
	log_info(SUBSYS, "imported %zu unspent outputs (%s) from %s",
		 req->n_utxos, req->append ? "appended" : "replacing",
		 rpc_call_peer(call));
	reply_pb(call, &r.base);
out:
	free(u);
	coldrpc__import_unspent_request__free_unpacked(req, NULL);
}

/* ---- coldrpc.Wallet/ImportAccounts ---------------------------------------- */

static void import_accounts(void *arg, struct rpc_call *call,
			    const uint8_t *msg, size_t len)
{
	struct rpc_node *node = arg;
	Coldrpc__ImportAccountsRequest *req;
	Coldrpc__ImportAccountsResponse r =
		COLDRPC__IMPORT_ACCOUNTS_RESPONSE__INIT;
	struct wallet_account *a = NULL;
	struct wallet_import_result res;
	size_t n = 0;
	char err[300];

	req = (Coldrpc__ImportAccountsRequest *)parse_req(
		call, &coldrpc__import_accounts_request__descriptor, msg, len);
	if (!req)
		return;
	if (!wallet_parse_accounts_json(&a, &n, err, sizeof(err),
					node->network, req->accounts_json,
					strlen(req->accounts_json))) {
		log_info(SUBSYS, "accounts import from %s refused: %s",
			 rpc_call_peer(call), err);
		rpc_call_finish(call, RPC_STATUS_INVALID_ARGUMENT, err);
		goto out;
	}
	if (!wallet_import_accounts(node->wallet, &res, err, sizeof(err), a,
				    n, req->birthday_height
					       ? (int64_t)req->birthday_height
					       : -1)) {
		rpc_call_finish(call, RPC_STATUS_INTERNAL, err);
		goto out;
	}
	r.added = (uint32_t)res.added;
	r.already_present = (uint32_t)res.already;
	r.watched_scripts = res.watched;
	/* New accounts are scanned from their birthday below the tip. */
	r.rescan = wallet_rescan_height(node->wallet) >= 0;
	r.birthday = wallet_birthday(node->wallet);
	log_info(SUBSYS, "accounts import from %s: %zu added, %zu already "
		 "present, %zu scripts watched%s", rpc_call_peer(call),
		 res.added, res.already, res.watched,
		 r.rescan ? "; rescanning from the birthday" : "");
	reply_pb(call, &r.base);
out:
	free(a);
	/* The request may have carried a private key that was refused. */
	if (req->accounts_json)
		sodium_memzero(req->accounts_json, strlen(req->accounts_json));
	coldrpc__import_accounts_request__free_unpacked(req, NULL);
}

/* ---- coldrpc.Supervisor --------------------------------------------------- */

static void state_fill(struct rpc_node *node, struct rpc_sv_state *st)
{
	memset(st, 0, sizeof(*st));
	if (node->prov.get_state)
		node->prov.get_state(node->prov.arg, st);
	if (st->num_listeners > RPC_MAX_LISTENER_STATS)
		abort();
	if (node->srv)
		st->num_listeners += rpc_server_admit_stats(
			node->srv, st->listeners + st->num_listeners,
			RPC_MAX_LISTENER_STATS - st->num_listeners);
}


/* ChainChecks from rpc_chain_state's counters, in chain_check order: ok,
 * no_block, no_tx, no_output, not_p2wsh, wrong_keys, spent, unconfirmed,
 * unavailable (the first checks and the 6-confirmation re-checks alike). */
static void fill_chain_checks(Coldrpc__ChainChecks *c, const uint64_t n[9])
{
	c->ok = n[0];
	c->no_block = n[1];
	c->no_tx = n[2];
	c->no_output = n[3];
	c->not_p2wsh = n[4];
	c->wrong_keys = n[5];
	c->spent = n[6];
	c->unconfirmed = n[7];
	c->unavailable = n[8];
}
static bool send_state(struct rpc_node *node, struct rpc_call *call)
{
	struct rpc_sv_state st;
	Coldrpc__SupervisorState r = COLDRPC__SUPERVISOR_STATE__INIT;
	Coldrpc__SignerInfo si = COLDRPC__SIGNER_INFO__INIT;
	Coldrpc__PeerCounts pc = COLDRPC__PEER_COUNTS__INIT;
	Coldrpc__GossipCounts gc = COLDRPC__GOSSIP_COUNTS__INIT;
	Coldrpc__SupervisorCounters sc = COLDRPC__SUPERVISOR_COUNTERS__INIT;
	Coldrpc__StateTransitions tr = COLDRPC__STATE_TRANSITIONS__INIT;
	Coldrpc__PeerDialCounters dc = COLDRPC__PEER_DIAL_COUNTERS__INIT;
	Coldrpc__WalletInfo wi = COLDRPC__WALLET_INFO__INIT;
	char tiphex[65] = "";
	uint8_t tiphash[32];
	Coldrpc__ChainState ch = COLDRPC__CHAIN_STATE__INIT;
	Coldrpc__ChainChecks cc = COLDRPC__CHAIN_CHECKS__INIT;
	Coldrpc__ChainChecks rc = COLDRPC__CHAIN_CHECKS__INIT;
	char chash[65] = "";
	static const uint8_t zero[32];

	state_fill(node, &st);
	wi.source = (char *)(wallet_has_accounts(node->wallet) ? "accounts"
			     : wallet_count(node->wallet) > 0 ? "listunspent"
			     : "empty");
	{
		struct wallet_account *accts;
		size_t na;
		if (wallet_list_accounts(node->wallet, &accts, &na)) {
			wi.accounts = (uint32_t)na;
			free(accts);
		}
	}
	wi.watched_scripts = wallet_watched(node->wallet);
	if (wallet_tip(node->wallet, &wi.tip_height, tiphash)) {
		/* display order, as bitcoin-cli prints hashes */
		hex_encode_reversed(tiphex, tiphash, 32);
	} else {
		wi.tip_height = -1;
	}
	wi.birthday = wallet_birthday(node->wallet);
	wi.rescan_height = wallet_rescan_height(node->wallet);
	wi.tip_hash = tiphex;
	wi.updated_unix = wallet_updated_unix(node->wallet);
	/* The chain backend is lost: these are the last known. */
	wi.stale = st.chain.status && strcmp(st.chain.status, "lost") == 0;
	if (wi.updated_unix)
		wi.age_seconds = (int64_t)time(NULL) - wi.updated_unix;
	r.wallet = &wi;
	r.state = (char *)(st.state ? st.state : "UNKNOWN");
	r.since_unix = st.since_unix;
	r.last_cause = (char *)(st.last_cause ? st.last_cause : "");
	si.connected = st.signer_connected;
	si.registration_info = (char *)(st.signer_info ? st.signer_info : "");
	si.peer = (char *)(st.signer_peer ? st.signer_peer : "");
	si.since_unix = st.signer_since_unix;
	pc.gossip_only = st.peers_gossip_only;
	pc.full = st.peers_full;
	gc.channels = st.gossip_channels;
	gc.nodes = st.gossip_nodes;
	gc.channel_updates = st.gossip_updates;
	gc.channels_unverified = st.gossip_channels_unverified;
	gc.sync_phase = (char *)(st.gossip_sync_phase ? st.gossip_sync_phase
						      : "");
	gc.syncs_started = st.gossip_syncs_started;
	gc.syncs_completed = st.gossip_syncs_completed;
	gc.syncs_failed = st.gossip_syncs_failed;
	gc.last_sync_unix = st.gossip_last_sync_unix;
	gc.next_sync_in_seconds = st.gossip_next_sync_in;
	gc.scid_queries_sent = st.gossip_scid_queries;
	gc.scids_asked = st.gossip_scids_asked;
	gc.sync_waits_for_checks = st.gossip_sync_waits;
	gc.refused_for_capacity = st.gossip_refused_capacity;
	tr.waiting_for_signer = st.to_waiting_for_signer;
	tr.active = st.to_active;
	tr.safe_mode = st.to_safe_mode;
	tr.shutting_down = st.to_shutting_down;
	sc.generation = st.generation;
	sc.transitions = &tr;
	sc.signer_sessions = st.signer_sessions;
	sc.signer_registrations = st.signer_registrations;
	sc.signer_losses = st.signer_losses;
	sc.signer_refused = st.signer_refused;
	sc.key_mismatches = st.key_mismatches;
	sc.requests_ok = st.requests_ok;
	sc.requests_failed = st.requests_failed;
	sc.requests_unavailable = st.requests_unavailable;
	sc.requests_timed_out = st.requests_timed_out;
	sc.full_sessions_closed = st.full_sessions_closed;
	sc.requests_in_flight = st.requests_in_flight;
	sc.requests_queued = st.requests_queued;
	sc.failovers = st.failovers;
	sc.requests_resent = st.requests_resent;
	sc.standby_registrations = st.standby_registrations;
	sc.requests_early = st.requests_early;
	sc.requests_early_dropped = st.requests_early_dropped;
	sc.inbound_ecdh = st.inbound_ecdh;
	sc.inbound_ecdh_refused = st.inbound_ecdh_refused;
	Coldrpc__SignerEntry se[RPC_MAX_SIGNERS];
	Coldrpc__SignerEntry *sep[RPC_MAX_SIGNERS];
	for (size_t i = 0; i < st.num_signers && i < RPC_MAX_SIGNERS; i++) {
		const struct rpc_signer_entry *e = &st.signers[i];
		coldrpc__signer_entry__init(&se[i]);
		se[i].role = (char *)(e->role ? e->role : "");
		se[i].peer = (char *)(e->peer ? e->peer : "");
		se[i].registration_info = (char *)(e->info ? e->info : "");
		se[i].since_unix = e->since_unix;
		se[i].role_since_unix = e->role_since_unix;
		se[i].requests_answered = e->requests_answered;
		se[i].requests_in_flight = e->requests_in_flight;
		sep[i] = &se[i];
	}
	r.n_signers = st.num_signers < RPC_MAX_SIGNERS ? st.num_signers
						       : RPC_MAX_SIGNERS;
	r.signers = sep;
	r.signer = &si;
	r.peers = &pc;
	r.gossip = &gc;
	r.counters = &sc;
	dc.signer_arrivals = st.dial_signer_arrivals;
	dc.early_dials = st.dial_early;
	dc.early_ready = st.dial_early_ready;
	dc.early_refused = st.dial_early_refused;
	dc.park_timeouts = st.dial_park_timeouts;
	dc.pending_now = st.dial_pending_now;
	r.dials = &dc;
	Coldrpc__ClusterState cl = COLDRPC__CLUSTER_STATE__INIT;
	if (st.cluster.enabled) {
		const struct rpc_cluster_state *c = &st.cluster;
#define CLSTR(x) ((char *)((x) ? (x) : ""))
		cl.role = CLSTR(c->role);
		cl.id = CLSTR(c->id);
		cl.leader_id = CLSTR(c->leader_id);
		cl.leader_signer = CLSTR(c->leader_signer);
		cl.etcd_endpoint = CLSTR(c->endpoint);
		cl.last_error = CLSTR(c->last_error);
#undef CLSTR
		cl.token = c->token;
		cl.leader_token = c->leader_token;
		cl.lease_left_seconds = c->lease_left;
		cl.ttl_seconds = c->ttl;
		cl.renewals = c->renewals;
		cl.renewals_failed = c->renewals_failed;
		cl.renewal_latency_avg_seconds = c->renewal_latency_avg;
		cl.leadership_changes = c->leadership_changes;
		cl.elected = c->elected;
		cl.stood_down = c->stood_down;
		cl.fencing_refusals = c->fencing_refusals;
		cl.role_since_unix = c->role_since_unix;
		r.cluster = &cl;
	}
	Coldrpc__SignerProxyState sp = COLDRPC__SIGNER_PROXY_STATE__INIT;
	Coldrpc__SignerProxyMethod spm[16];
	Coldrpc__SignerProxyMethod *spmp[16];
	if (st.signer_proxy.enabled) {
		const struct rpc_signerproxy_state *ps = &st.signer_proxy;
		sp.listen = (char *)(ps->listen ? ps->listen : "");
		sp.hold_time = ps->hold_time;
		sp.held_now = ps->held_now;
		sp.in_flight_now = ps->in_flight_now;
		sp.connections = (uint32_t)ps->connections;
		for (size_t i = 0; i < ps->num_methods && i < 16; i++) {
			const struct rpc_signerproxy_method *m =
				&ps->methods[i];
			coldrpc__signer_proxy_method__init(&spm[i]);
			spm[i].method = (char *)m->method;
			spm[i].calls = m->calls;
			spm[i].forwarded = m->forwarded;
			spm[i].held = m->held;
			spm[i].ok = m->ok;
			spm[i].signer_error = m->signer_error;
			spm[i].signer_away = m->signer_away;
			spm[i].signer_lost = m->signer_lost;
			spm[i].signer_slow = m->signer_slow;
			spm[i].bad_reply = m->bad_reply;
			spm[i].cancelled = m->cancelled;
			spm[i].wait_seconds_sum = m->wait_sum;
			spm[i].wait_count = m->wait_count;
			spm[i].signer_seconds_sum = m->signer_sum;
			spm[i].signer_count = m->signer_count;
			spmp[i] = &spm[i];
			sp.n_methods = i + 1;
		}
		sp.methods = spmp;
		r.signer_proxy = &sp;
	}
	Coldrpc__ListenerCounters lc[RPC_MAX_LISTENER_STATS];
	Coldrpc__ListenerCounters *lcp[RPC_MAX_LISTENER_STATS];
	for (size_t i = 0; i < st.num_listeners; i++) {
		const struct admit_stats *a = &st.listeners[i];
		coldrpc__listener_counters__init(&lc[i]);
		lc[i].name = (char *)a->name;
		lc[i].unauthenticated = a->unauthenticated;
		lc[i].authenticated = a->authenticated;
		lc[i].accepted = a->accepted;
		lc[i].refused_source = a->count[ADMIT_REFUSED_SOURCE];
		lc[i].evicted = a->count[ADMIT_EVICTED];
		lc[i].timed_out = a->count[ADMIT_TIMED_OUT];
		lc[i].auth_full = a->count[ADMIT_AUTH_FULL];
		lc[i].headers_refused = a->headers_refused;
		lc[i].unauth_calls_refused = a->unauth_calls_refused;
		lcp[i] = &lc[i];
	}
	r.n_listeners = st.num_listeners;
	r.listeners = lcp;
	ch.backend = (char *)(st.chain.backend ? st.chain.backend : "none");
	ch.status = (char *)(st.chain.status ? st.chain.status : "off");
	ch.connected = st.chain.connected;
	ch.height = st.chain.height;
	if (memcmp(st.chain.hash, zero, 32))
		hex_encode_reversed(chash, st.chain.hash, 32);
	ch.hash = chash;
	ch.tip_time = st.chain.tip_time;
	ch.node_height = st.chain.node_height;
	ch.blocks_behind = st.chain.node_height > st.chain.height
			   ? st.chain.node_height - st.chain.height : 0;
	ch.synced_to_chain = st.chain.synced;
	ch.last_error = (char *)(st.chain.last_error ? st.chain.last_error : "");
	ch.node_chain = (char *)(st.chain.node_chain ? st.chain.node_chain : "");
	ch.blocks_connected = st.chain.blocks_connected;
	ch.blocks_disconnected = st.chain.blocks_disconnected;
	ch.requests = st.chain.requests;
	ch.errors = st.chain.errors;
	ch.lost_count = st.chain.lost_count;
	fill_chain_checks(&cc, st.chain.checks);
	ch.checks = &cc;
	ch.checks_queued = st.chain.checks_queued;
	ch.watched = st.chain.watched;
	ch.spent = st.chain.spent;
	ch.forgotten = st.chain.forgotten;
	ch.reorgs = st.chain.reorgs;
	ch.rechecks_pending = st.chain.rechecks_pending;
	fill_chain_checks(&rc, st.chain.rechecks);
	ch.rechecks = &rc;
	ch.zmq_rawtx = st.chain.zmq_rawtx;
	ch.zmq_rawblock = st.chain.zmq_rawblock;
	ch.zmq_gaps = st.chain.zmq_gaps;
	ch.zmq_restarts = st.chain.zmq_restarts;
	ch.zmq_malformed = st.chain.zmq_malformed;
	ch.zmq_rawtx_silent = st.chain.zmq_rawtx_silent;
	ch.mempool_full_polls = st.chain.mempool_full_polls;
	r.chain = &ch;
	return send_pb(call, &r.base);
}

static void get_state(void *arg, struct rpc_call *call, const uint8_t *msg,
		      size_t len)
{
	if (len) {
		ProtobufCMessage *req = parse_req(
			call, &coldrpc__get_state_request__descriptor, msg,
			len);
		if (!req)
			return;
		protobuf_c_message_free_unpacked(req, NULL);
	}
	if (send_state(arg, call))
		rpc_call_finish(call, RPC_STATUS_OK, NULL);
}

static struct watcher *watcher_add(struct rpc_node *node,
				   struct rpc_call *call, bool health)
{
	struct watcher *w = calloc(1, sizeof(*w));
	if (!w) {
		rpc_call_finish(call, RPC_STATUS_RESOURCE_EXHAUSTED,
				"out of memory");
		return NULL;
	}
	w->call = call;
	w->node = node;
	w->health = health;
	w->last = -1;
	w->next = node->watchers;
	if (node->watchers)
		node->watchers->prev = w;
	node->watchers = w;
	rpc_call_set_data(call, w);
	return w;
}

static void watcher_closed(void *arg, struct rpc_call *call,
			   enum rpc_status st)
{
	struct rpc_node *node = arg;
	struct watcher *w = rpc_call_data(call);
	if (!w)
		return;
	if (w->prev)
		w->prev->next = w->next;
	else
		node->watchers = w->next;
	if (w->next)
		w->next->prev = w->prev;
	free(w->service);
	free(w);
}

static void subscribe_state(void *arg, struct rpc_call *call,
			    const uint8_t *msg, size_t len)
{
	struct rpc_node *node = arg;
	ProtobufCMessage *req = parse_req(
		call, &coldrpc__get_state_request__descriptor, msg, len);
	if (!req)
		return;
	protobuf_c_message_free_unpacked(req, NULL);
	if (watcher_add(node, call, false))
		send_state(node, call);
}

/* ---- grpc.health.v1.Health ------------------------------------------------ */

/* Everything we serve answers in every state; only the signer service
 * follows the signer. */
static int health_of(struct rpc_node *node, const char *service)
{
	if (!service[0] || strcmp(service, "lnrpc.Lightning") == 0 ||
	    strcmp(service, "coldrpc.Supervisor") == 0 ||
	    strcmp(service, "coldrpc.Wallet") == 0 ||
	    strcmp(service, "grpc.health.v1.Health") == 0)
		return GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
	if (strcmp(service, node->signer_service) == 0) {
		struct rpc_sv_state st;
		state_fill(node, &st);
		return st.signer_connected
		       ? GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING
		       : GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING;
	}
	/* "chain": SERVING while the backend answers on the right network
	 * (syncing or synced); registered only with a backend configured. */
	if (strcmp(service, "chain") == 0) {
		struct rpc_sv_state st;
		state_fill(node, &st);
		if (!st.chain.backend || !strcmp(st.chain.backend, "none"))
			return GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVICE_UNKNOWN;
		return st.chain.status && (!strcmp(st.chain.status, "synced") ||
					   !strcmp(st.chain.status, "syncing"))
		       ? GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING
		       : GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING;
	}
	return GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVICE_UNKNOWN;
}

static bool send_health(struct rpc_call *call, int status)
{
	Grpc__Health__V1__HealthCheckResponse r =
		GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
	r.status = (Grpc__Health__V1__HealthCheckResponse__ServingStatus)status;
	return send_pb(call, &r.base);
}

static void health_check(void *arg, struct rpc_call *call,
			 const uint8_t *msg, size_t len)
{
	Grpc__Health__V1__HealthCheckRequest *req =
		(Grpc__Health__V1__HealthCheckRequest *)parse_req(
			call, &grpc__health__v1__health_check_request__descriptor,
			msg, len);
	if (!req)
		return;
	int h = health_of(arg, req->service);
	grpc__health__v1__health_check_request__free_unpacked(req, NULL);
	/* health-checking.md: "If the service name is not registered, the
	 * server returns a NOT_FOUND GRPC status." */
	if (h == GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVICE_UNKNOWN) {
		rpc_call_finish(call, RPC_STATUS_NOT_FOUND, "unknown service");
		return;
	}
	if (send_health(call, h))
		rpc_call_finish(call, RPC_STATUS_OK, NULL);
}

static void health_watch(void *arg, struct rpc_call *call,
			 const uint8_t *msg, size_t len)
{
	struct rpc_node *node = arg;
	Grpc__Health__V1__HealthCheckRequest *req =
		(Grpc__Health__V1__HealthCheckRequest *)parse_req(
			call, &grpc__health__v1__health_check_request__descriptor,
			msg, len);
	if (!req)
		return;
	struct watcher *w = watcher_add(node, call, true);
	if (w) {
		w->service = strdup(req->service);
		if (!w->service) {
			rpc_call_finish(call, RPC_STATUS_RESOURCE_EXHAUSTED,
					"out of memory");
		} else {
			/* "SERVICE_UNKNOWN" is sent, not an error: the
			 * service may appear later. */
			w->last = health_of(node, w->service);
			send_health(call, w->last);
		}
	}
	grpc__health__v1__health_check_request__free_unpacked(req, NULL);
}

void rpc_node_state_changed(struct rpc_node *node)
{
	for (struct watcher *w = node->watchers; w; w = w->next) {
		if (rpc_call_finished(w->call))
			continue;
		if (!w->health) {
			send_state(node, w->call);
			continue;
		}
		int h = health_of(node, w->service);
		if (h != w->last) {
			w->last = h;
			send_health(w->call, h);
		}
	}
}

/* ---- setup ---------------------------------------------------------------- */

static void register_methods(struct rpc_node *node)
{
	const struct rpc_method methods[] = {
		{ .path = "/lnrpc.Lightning/GetInfo", .kind = RPC_KIND_UNARY,
		  .perms = perm_info_read, .num_perms = 1,
		  .on_message = get_info },
		{ .path = "/lnrpc.Lightning/WalletBalance",
		  .kind = RPC_KIND_UNARY, .perms = perm_onchain_read,
		  .num_perms = 1, .on_message = wallet_balance },
		{ .path = "/coldrpc.Supervisor/GetState",
		  .kind = RPC_KIND_UNARY, .perms = perm_info_read,
		  .num_perms = 1, .on_message = get_state },
		{ .path = "/coldrpc.Supervisor/SubscribeState",
		  .kind = RPC_KIND_SERVER_STREAM, .perms = perm_info_read,
		  .num_perms = 1, .on_message = subscribe_state,
		  .on_closed = watcher_closed },
		{ .path = "/coldrpc.Wallet/ImportAccounts",
		  .kind = RPC_KIND_UNARY, .perms = perm_onchain_write,
		  .num_perms = 1, .on_message = import_accounts },
		{ .path = "/coldrpc.Wallet/ImportUnspent",
		  .kind = RPC_KIND_UNARY, .perms = perm_onchain_write,
		  .num_perms = 1, .on_message = import_unspent },
		{ .path = "/grpc.health.v1.Health/Check",
		  .kind = RPC_KIND_UNARY, .no_macaroon = true,
		  .on_message = health_check },
		{ .path = "/grpc.health.v1.Health/Watch",
		  .kind = RPC_KIND_SERVER_STREAM, .no_macaroon = true,
		  .on_message = health_watch, .on_closed = watcher_closed },
	};
	for (size_t i = 0; i < CN_ARRAY_SIZE(methods); i++) {
		struct rpc_method m = methods[i];
		m.arg = node;
		rpc_server_add_method(node->srv, &m);
	}
}

struct rpc_node *rpc_node_new(struct ev_loop *loop,
			      const struct rpc_node_config *cfg,
			      const struct rpc_provider *prov)
{
	struct rpc_node *node = calloc(1, sizeof(*node));
	char *cert = NULL, *key = NULL, *rootkey = NULL, *wpath = NULL;
	const char **hosts = NULL;
	size_t nhosts = 0;
	char (*hostbuf)[256] = NULL;

	if (!node)
		return NULL;
	node->loop = loop;
	node->prov = *prov;
	node->version = strdup(cfg->version ? cfg->version : "");
	node->network = strdup(cfg->network ? cfg->network : "mainnet");
	node->signer_service = strdup(cfg->signer_health_service
				      ? cfg->signer_health_service
				      : DEFAULT_SIGNER_SERVICE);
	cert = cfg->tls_cert_path ? strdup(cfg->tls_cert_path)
				  : rpc_path_join(cfg->datadir, "tls.cert");
	key = cfg->tls_key_path ? strdup(cfg->tls_key_path)
				: rpc_path_join(cfg->datadir, "tls.key");
	rootkey = rpc_path_join(cfg->datadir, "macaroons.key");
	wpath = rpc_path_join(cfg->datadir, "wallet.sqlite");
	hosts = calloc(cfg->num_listen + cfg->num_tls_extra_hosts + 1,
		       sizeof(*hosts));
	hostbuf = calloc(cfg->num_listen + 1, sizeof(*hostbuf));
	if (!node->version || !node->network || !node->signer_service || !cert || !key ||
	    !rootkey || !wpath || !hosts || !hostbuf)
		goto fail;
	if (!rpc_datadir_ensure(cfg->datadir))
		goto fail;
	for (size_t i = 0; i < cfg->num_listen; i++) {
		uint16_t port;
		/* A malformed one is reported by the listener itself. */
		if (cn_split_hostport(hostbuf[i], sizeof(hostbuf[i]), &port,
				      cfg->listen[i]))
			hosts[nhosts++] = hostbuf[i];
	}
	for (size_t i = 0; i < cfg->num_tls_extra_hosts; i++)
		hosts[nhosts++] = cfg->tls_extra_hosts[i];
	if (!rpc_tls_ensure_names(cert, key, hosts, nhosts,
				  cfg->tls_autorefresh))
		goto fail;
	node->macs = rpc_macaroon_svc_new(rootkey, true);
	if (!node->macs || !rpc_datadir_macaroons(node->macs, cfg->datadir))
		goto fail;
	node->wallet = wallet_open(wpath);
	if (!node->wallet ||
	    !wallet_configure(node->wallet, node->network, cfg->wallet_gap))
		goto fail;

	struct rpc_server_config scfg;
	rpc_server_config_default(&scfg);
	scfg.listen = cfg->listen;
	scfg.num_listen = cfg->num_listen;
	scfg.unix_path = cfg->unix_path;
	scfg.tls_cert_path = cert;
	scfg.tls_key_path = key;
	scfg.macaroons = node->macs;
	if (cfg->max_send_queue)
		scfg.max_send_queue = cfg->max_send_queue;
	if (cfg->max_streams)
		scfg.max_streams = cfg->max_streams;
	if (cfg->max_conns)
		scfg.max_conns = cfg->max_conns;
	if (cfg->handshake_timeout > 0)
		scfg.handshake_timeout = cfg->handshake_timeout;
	if (cfg->idle_timeout > 0)
		scfg.idle_timeout = cfg->idle_timeout;
	scfg.max_streams_flag = "--rpc.maxstreams";
	if (cfg->max_preauth)
		scfg.max_preauth = cfg->max_preauth;
	if (cfg->max_preauth_per_source || cfg->no_per_source_cap)
		scfg.max_preauth_per_source = cfg->max_preauth_per_source;
	scfg.preauth_flag = "--rpc.maxpreauth";
	scfg.per_source_flag = "--rpc.maxpreauthpersource";
	node->srv = rpc_server_new(loop, &scfg);
	if (!node->srv)
		goto fail;
	register_methods(node);
	goto out;
fail:
	rpc_node_free(node);
	node = NULL;
out:
	free(cert);
	free(key);
	free(rootkey);
	free(wpath);
	free(hosts);
	free(hostbuf);
	return node;
}

void rpc_node_free(struct rpc_node *node)
{
	if (!node)
		return;
	/* Ends every call (watchers unlink themselves in on_closed). */
	rpc_server_free(node->srv);
	wallet_free(node->wallet);
	rpc_macaroon_svc_free(node->macs);
	free(node->version);
	free(node->network);
	free(node->signer_service);
	free(node);
}

struct rpc_server *rpc_node_server(struct rpc_node *node)
{
	return node->srv;
}

struct wallet *rpc_node_wallet(struct rpc_node *node)
{
	return node->wallet;
}

const struct rpc_macaroon_svc *rpc_node_macaroons(const struct rpc_node *node)
{
	return node->macs;
}
