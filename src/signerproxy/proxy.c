/*~ The signer proxy's listener: a thin adapter from the rpc module's
 * server core to sv_forward.
 *
 * One struct fcall per unary call.  Its life: on_message submits it to the
 * supervisor (sent now, or held until a signer is ready) and arms the
 * answer-by timer; it ends exactly once, by the supervisor's callback
 * (answer, signer error, away, lost) or by the timer (sv_cancel, then the
 * "slow" verdict), and the call is finished with spx_decide's status.
 * on_closed (the caller cancelled, or the connection died) cancels what is
 * still pending and frees it.
 */
#include "signerproxy/signerproxy.h"

#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "health.pb-c.h"

#define SUBSYS "SPXY"

struct signerproxy;

/* The arg of one registered method. */
struct method_arg {
	struct signerproxy *p;
	enum spx_method m;
};

struct fcall {
	struct signerproxy *p;
	struct rpc_call *call; /* NULL once closed */
	enum spx_method m;
	uint64_t id;           /* supervisor handle; 0: not pending */
	bool queued;
	bool was_sent;         /* the supervisor's last word: it was sent */
	bool expiring;         /* our timer is cancelling it */
	ev_timer timer;        /* answer-by */
};

/* A health Watch stream. */
struct watcher {
	struct watcher *next;
	struct rpc_call *call;
	char *service;
	int last;
};

struct signerproxy {
	struct ev_loop *loop;
	struct supervisor *sv;
	struct signerproxy_config cfg;
	struct rpc_server *srv;
	struct method_arg args[SPX_NUM_METHODS];
	struct spx_stats stats;
	struct watcher *watchers;
};

/* ---- forwarding ---------------------------------------------------------- */

static void fcall_end(struct fcall *fc, const struct spx_verdict *v,
		      const uint8_t *body, size_t len)
{
	struct spx_method_stats *ms = &fc->p->stats.m[fc->m];

	ms->outcomes[v->outcome]++;
	ev_timer_stop(fc->p->loop, &fc->timer);
	if (!fc->call)
		return;
	if (v->outcome != SPX_OUT_OK && v->outcome != SPX_OUT_SIGNER_ERROR &&
	    v->outcome != SPX_OUT_CANCELLED)
		log_info(SUBSYS, "%s from %s: %s: %s",
			 spx_method_info(fc->m)->name, rpc_call_peer(fc->call),
			 rpc_status_str(v->status), v->msg);
	/* An empty answer (MuSig2CleanupResponse{}) has no bytes at all. */
	static const uint8_t none[1];
	if (v->outcome == SPX_OUT_OK)
		rpc_call_send(fc->call, body ? body : none, len);
	rpc_call_finish(fc->call, v->status, v->msg[0] ? v->msg : NULL);
}

static void fwd_cb(void *arg, const struct sv_fwd_answer *a)
{
	struct fcall *fc = arg;
	struct spx_method_stats *ms = &fc->p->stats.m[fc->m];
	struct spx_verdict v;

	fc->id = 0;
	fc->was_sent = a->sent;
	if (a->sent)
		ms->forwarded++;
	if (a->queued)
		cn_hist_observe(&ms->wait, a->waited);
	if (a->sent && (a->result == SV_OK || a->result == SV_ERR_SIGNER))
		cn_hist_observe(&ms->signer, a->signer_time);
	if (fc->expiring)
		return; /* the timer finishes it */
	spx_decide(&v, fc->m, a, fc->p->cfg.hold_time);
	fcall_end(fc, &v, a->body, a->len);
}

static void timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct fcall *fc = w->data;
	struct spx_verdict v;

	(void)loop;
	(void)revents;
	if (!fc->id)
		return;
	/* Held or in flight at the caller's deadline (less the margin). */
	fc->expiring = true;
	sv_cancel(fc->p->sv, fc->id); /* fwd_cb fires: stats, was_sent */
	fc->expiring = false;
	spx_decide_slow(&v, fc->m, fc->was_sent);
	fcall_end(fc, &v, NULL, 0);
}

static void on_message(void *arg, struct rpc_call *call, const uint8_t *msg,
		       size_t len)
{
	struct method_arg *ma = arg;
	struct signerproxy *p = ma->p;
	const struct spx_method_info *mi = spx_method_info(ma->m);
	struct fcall *fc = rpc_call_data(call);
	double budget, t;

	if (fc || rpc_call_finished(call))
		return; /* the core refuses a second message */
	fc = calloc(1, sizeof(*fc));
	if (!fc) {
		rpc_call_finish(call, RPC_STATUS_RESOURCE_EXHAUSTED,
				"out of memory");
		return;
	}
	fc->p = p;
	fc->call = call;
	fc->m = ma->m;
	rpc_call_set_data(call, fc);
	p->stats.m[ma->m].calls++;
	/* Answer before the caller's deadline: lnd treats its own
	 * context.DeadlineExceeded as fatal too. */
	t = rpc_call_timeout(call);
	budget = t > 0 ? t - p->cfg.margin : p->cfg.default_deadline;
	if (budget < 0.01)
		budget = 0.01;
	ev_timer_init(&fc->timer, timer_cb, budget, 0.);
	fc->timer.data = fc;
	fc->id = sv_forward(p->sv, &fc->queued, mi->field, msg, len,
			    budget < p->cfg.hold_time ? budget
						      : p->cfg.hold_time,
			    fwd_cb, fc);
	if (fc->queued)
		p->stats.m[ma->m].held++;
	ev_timer_start(p->loop, &fc->timer);
}

static void on_closed(void *arg, struct rpc_call *call, enum rpc_status st)
{
	struct method_arg *ma = arg;
	struct fcall *fc = rpc_call_data(call);

	(void)st;
	if (!fc)
		return;
	fc->call = NULL;
	if (fc->id) {
		/* The caller went away first (cancelled, connection lost). */
		fc->expiring = true;
		sv_cancel(ma->p->sv, fc->id);
		ma->p->stats.m[fc->m].outcomes[SPX_OUT_CANCELLED]++;
	}
	ev_timer_stop(ma->p->loop, &fc->timer);
	rpc_call_set_data(call, NULL);
	free(fc);
}

/* ---- grpc.health.v1 -------------------------------------------------------- */

enum { H_UNKNOWN = 0, H_SERVING = 1, H_NOT_SERVING = 2, H_NOT_FOUND = -1 };

static int health_of(const struct signerproxy *p, const char *service)
{
	if (!service || !*service)
		return H_SERVING;
	if (strcmp(service, SPX_HEALTH_SERVICE) == 0 ||
	    strcmp(service, "signrpc.Signer") == 0 ||
	    strcmp(service, "walletrpc.WalletKit") == 0)
		return sv_get_state(p->sv) == SV_ACTIVE ? H_SERVING
							: H_NOT_SERVING;
	return H_NOT_FOUND;
}

static bool send_health(struct rpc_call *call, int status)
{
	Grpc__Health__V1__HealthCheckResponse r =
		GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
	uint8_t buf[16];
	size_t n;

	r.status = (Grpc__Health__V1__HealthCheckResponse__ServingStatus)status;
	n = grpc__health__v1__health_check_response__pack(&r, buf);
	return rpc_call_send(call, buf, n);
}

static char *health_service(struct rpc_call *call, const uint8_t *msg,
			    size_t len)
{
	Grpc__Health__V1__HealthCheckRequest *req =
		grpc__health__v1__health_check_request__unpack(NULL, len, msg);
	char *s;

	if (!req) {
		rpc_call_finish(call, RPC_STATUS_INVALID_ARGUMENT,
				"malformed HealthCheckRequest");
		return NULL;
	}
	s = strdup(req->service ? req->service : "");
	grpc__health__v1__health_check_request__free_unpacked(req, NULL);
	if (!s)
		rpc_call_finish(call, RPC_STATUS_RESOURCE_EXHAUSTED,
				"out of memory");
	return s;
}

static void health_check(void *arg, struct rpc_call *call,
			 const uint8_t *msg, size_t len)
{
	struct signerproxy *p = arg;
	char *svc = health_service(call, msg, len);
	int h;

	if (!svc)
		return;
	h = health_of(p, svc);
	free(svc);
	/* health-checking.md: an unknown service is NOT_FOUND. */
	if (h == H_NOT_FOUND) {
		rpc_call_finish(call, RPC_STATUS_NOT_FOUND, "unknown service");
		return;
	}
	send_health(call, h);
	rpc_call_finish(call, RPC_STATUS_OK, NULL);
}

static void health_watch(void *arg, struct rpc_call *call,
			 const uint8_t *msg, size_t len)
{
	struct signerproxy *p = arg;
	struct watcher *w;
	char *svc = health_service(call, msg, len);

	if (!svc)
		return;
	w = calloc(1, sizeof(*w));
	if (!w) {
		free(svc);
		rpc_call_finish(call, RPC_STATUS_RESOURCE_EXHAUSTED,
				"out of memory");
		return;
	}
	w->call = call;
	w->service = svc;
	/* health-checking.md: Watch of an unknown service sends
	 * SERVICE_UNKNOWN (3) and keeps the stream open. */
	w->last = health_of(p, svc);
	if (w->last == H_NOT_FOUND)
		w->last = 3;
	send_health(call, w->last);
	w->next = p->watchers;
	p->watchers = w;
	rpc_call_set_data(call, w);
}

static void watch_closed(void *arg, struct rpc_call *call, enum rpc_status st)
{
	struct signerproxy *p = arg;
	struct watcher *w = rpc_call_data(call), **pp;

	(void)st;
	if (!w)
		return;
	for (pp = &p->watchers; *pp; pp = &(*pp)->next) {
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	}
	free(w->service);
	free(w);
	rpc_call_set_data(call, NULL);
}

void signerproxy_signer_changed(struct signerproxy *p)
{
	if (!p)
		return;
	for (struct watcher *w = p->watchers; w; w = w->next) {
		int h = health_of(p, w->service);
		if (h == H_NOT_FOUND || h == w->last)
			continue;
		w->last = h;
		send_health(w->call, h);
	}
}

/* ---- life cycle -------------------------------------------------------------- */

void signerproxy_config_default(struct signerproxy_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->hold_time = 3;
	cfg->margin = 0.25;
	cfg->default_deadline = 4.5;
	cfg->max_msg = SV_MAX_FORWARD_MSG;
	cfg->max_streams = 2048;
}

struct signerproxy *signerproxy_new(struct ev_loop *loop,
				    struct supervisor *sv,
				    const struct signerproxy_config *cfg)
{
	struct signerproxy *p = calloc(1, sizeof(*p));
	struct rpc_server_config sc;

	if (!p)
		return NULL;
	p->loop = loop;
	p->sv = sv;
	p->cfg = *cfg;
	p->cfg.listen = NULL;
	p->cfg.num_listen = 0;
	p->cfg.tls_cert_path = p->cfg.tls_key_path = NULL;
	rpc_server_config_default(&sc);
	sc.listen = cfg->listen;
	sc.num_listen = cfg->num_listen;
	sc.tls_cert_path = cfg->tls_cert_path;
	sc.tls_key_path = cfg->tls_key_path;
	sc.macaroons = cfg->macaroons;
	sc.max_recv_msg = cfg->max_msg;
	/* One lnd keeps one connection and multiplexes every call on it. */
	sc.max_streams = cfg->max_streams;
	sc.max_streams_flag = "--signerproxy.maxstreams";
	sc.admit_name = "signerproxy";
	sc.log_subsys = SUBSYS;
	p->srv = rpc_server_new(loop, &sc);
	if (!p->srv) {
		free(p);
		return NULL;
	}
	for (unsigned i = 0; i < SPX_NUM_METHODS; i++) {
		const struct spx_method_info *mi = spx_method_info(i);
		p->args[i].p = p;
		p->args[i].m = (enum spx_method)i;
		struct rpc_method m = {
			.path = mi->path,
			.kind = RPC_KIND_UNARY,
			.perms = &mi->perm,
			.num_perms = 1,
			.on_message = on_message,
			.on_closed = on_closed,
			.arg = &p->args[i],
		};
		rpc_server_add_method(p->srv, &m);
	}
	struct rpc_method hc = {
		.path = "/grpc.health.v1.Health/Check",
		.kind = RPC_KIND_UNARY,
		.no_macaroon = true,
		.on_message = health_check,
		.arg = p,
	};
	struct rpc_method hw = {
		.path = "/grpc.health.v1.Health/Watch",
		.kind = RPC_KIND_SERVER_STREAM,
		.no_macaroon = true,
		.max_calls = 64,
		.on_message = health_watch,
		.on_closed = watch_closed,
		.arg = p,
	};
	rpc_server_add_method(p->srv, &hc);
	rpc_server_add_method(p->srv, &hw);
	return p;
}

void signerproxy_free(struct signerproxy *p)
{
	if (!p)
		return;
	/* Calls still pending are cancelled in on_closed. */
	rpc_server_free(p->srv);
	free(p);
}

uint16_t signerproxy_port(const struct signerproxy *p, size_t idx)
{
	return rpc_server_port(p->srv, idx);
}

void signerproxy_get_stats(const struct signerproxy *p, struct spx_stats *out)
{
	struct sv_info si;

	*out = p->stats;
	out->connections = rpc_server_num_conns(p->srv);
	/* In proxy mode every supervisor request is a forwarded one (no
	 * p2p: no ECDH or gossip signature of the node's own). */
	sv_get_info(p->sv, &si);
	out->held_now = si.requests_queued;
	out->in_flight_now = si.requests_sent;
}

struct rpc_server *signerproxy_server(struct signerproxy *p)
{
	return p->srv;
}

/* lnd's docs/remote-signing.md: "lncli bakemacaroon ... message:write
 * signer:generate address:read onchain:write"; signer:read added for
 * MuSig2GetCombinedNonce (signer_server.go macPermissions). */
static const struct rpc_perm proxy_perms[] = {
	{ "message", "write" }, { "signer", "generate" },
	{ "address", "read" },  { "onchain", "write" },
	{ "signer", "read" },
};

bool signerproxy_bake_macaroon(const struct rpc_macaroon_svc *macaroons,
			       const char *path)
{
	bool wrote;
	bool ok = rpc_macaroon_bake_file(macaroons, path, proxy_perms,
					 CN_ARRAY_SIZE(proxy_perms), &wrote);

	if (wrote)
		log_info(SUBSYS, "wrote %s for the watch-only lnd "
			 "(remotesigner.macaroonpath)", path);
	return ok;
}
