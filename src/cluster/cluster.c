/*~ The cluster session: etcd's election recipe on the daemon's loop.
 *
 * Control calls go one at a time, each step leading to the next:
 * (authenticate) -> lease grant -> campaign txn -> range of the prefix.
 * The range gives the view (lowest create revision = leader, the key just
 * before ours = the one to watch).  Beside them run the renewal (every
 * TTL/3, retried after 0.25 s on the next member when it fails) and one
 * watch stream on the key before ours.  After each event cl_decide says
 * what we are; a MAXPRI timer re-decides when our leadership runs out.
 */
#include "cluster/cluster.h"
#include "cluster/cluster_internal.h"

#include <curl/curl.h>
#include <ev.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SUBSYS "CLUS"
#define RETRY 0.5      /* a failed control call, on the next member */
#define KA_RETRY 0.25  /* a failed renewal, on the next member */

enum ctl_kind { CTL_AUTH, CTL_GRANT, CTL_CAMPAIGN, CTL_RANGE };

struct cluster {
	struct ev_loop *loop;
	struct cluster_cbs cbs;
	char *id, *prefix, *signer_addr, *user;
	char *pass;  /* sodium_malloc'd */
	char **urls; /* "http(s)://host:port", one per member */
	size_t n_urls, ep;
	double ttl_req;
	struct cl_http *http;
	char *auth;  /* etcd's token, NULL if none */

	int64_t lease;
	double ttl, confirmed_sent;
	int64_t my_rev;
	char my_key[256];
	/* The view. */
	int64_t lowest_rev, leader_rev;
	char leader_id[128], leader_signer[128];
	char pred_key[256];

	struct cl_http_req *ctl, *ka, *watch;
	enum ctl_kind ctl_kind;
	double ctl_sent, ka_sent;
	bool kick_again;
	bool ctl_failing; /* the last control call failed (log once) */
	ev_timer ka_timer, retry_timer, deadline;

	enum cl_role role;
	double until;
	int64_t role_since_unix;
	char last_error[200];
	char watched[256];
	uint64_t renewals_ok, renewals_failed, leadership_changes, elected,
		stood_down, campaigns;
	struct cn_hist renew_latency;
};

static void ctl_kick(struct cluster *cl);

static const char *url(const struct cluster *cl)
{
	return cl->urls[cl->ep];
}

static void rotate(struct cluster *cl)
{
	if (cl->n_urls > 1) {
		cl->ep = (cl->ep + 1) % cl->n_urls;
		log_debug(SUBSYS, "next etcd member: %s", url(cl));
	}
}

static void set_error(struct cluster *cl, const char *what, const char *err)
{
	snprintf(cl->last_error, sizeof(cl->last_error), "%s: %s", what, err);
}

static void notify(struct cluster *cl)
{
	if (cl->cbs.changed)
		cl->cbs.changed(cl->cbs.arg, cl);
}

/* Re-decide; on a change of role tell the daemon. */
static void evaluate(struct cluster *cl)
{
	struct cl_input in = {
		.now = cn_now(),
		.have_lease = cl->lease != 0,
		.confirmed_sent = cl->confirmed_sent,
		.ttl = cl->ttl,
		.margin = cl_margin(cl->ttl),
		.my_rev = cl->my_rev,
		.lowest_rev = cl->lowest_rev,
	};
	struct cl_decision d = cl_decide(&in);

	ev_timer_stop(cl->loop, &cl->deadline);
	cl->until = d.until;
	if (d.role == CL_LEADER) {
		ev_timer_set(&cl->deadline, d.until - in.now, 0.);
		ev_timer_start(cl->loop, &cl->deadline);
	}
	if (d.role == cl->role)
		return;
	cl->role = d.role;
	cl->role_since_unix = (int64_t)time(NULL);
	if (d.role == CL_LEADER) {
		cl->elected++;
		log_info(SUBSYS, "leading: %s (token %" PRId64 ", %.2f s of "
			 "lease left)", d.why, cl->my_rev, d.until - in.now);
		if (cl->cbs.lead)
			cl->cbs.lead(cl->cbs.arg, cl, (uint64_t)cl->my_rev);
	} else {
		cl->stood_down++;
		log_unusual(SUBSYS, "standing down: %s", d.why);
		if (cl->cbs.stand_down)
			cl->cbs.stand_down(cl->cbs.arg, cl, d.why);
	}
	notify(cl);
}

static void deadline_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	evaluate(w->data);
}

/* Our lease is gone (expired, revoked): a new campaign, a new key. */
static void lease_lost(struct cluster *cl, const char *why)
{
	log_unusual(SUBSYS, "lease %" PRIx64 " lost: %s: campaigning again",
		    (uint64_t)cl->lease, why);
	set_error(cl, "lease lost", why);
	cl->lease = 0;
	cl->my_rev = 0;
	cl->my_key[0] = '\0';
	ev_timer_stop(cl->loop, &cl->ka_timer);
	cl_http_cancel(cl->http, cl->ka);
	cl->ka = NULL;
	cl_http_cancel(cl->http, cl->watch);
	cl->watch = NULL;
	cl->watched[0] = '\0';
	evaluate(cl);
	ctl_kick(cl);
}

/* ---- the watch on the key before ours ---- */

/* Look at the prefix again from the loop: watch lines arrive inside
 * libcurl's write callback, where no new transfer may be added. */
static void kick_soon(struct cluster *cl)
{
	ev_timer_stop(cl->loop, &cl->retry_timer);
	ev_timer_set(&cl->retry_timer, 0., 0.);
	ev_timer_start(cl->loop, &cl->retry_timer);
}

static void watch_line(void *ctx, const char *line, size_t len)
{
	struct cluster *cl = ctx;

	switch (cl_gw_parse_watch(line, len)) {
	case CL_GW_WATCH_DELETED:
		log_info(SUBSYS, "%s deleted: looking again", cl->watched);
		kick_soon(cl);
		break;
	case CL_GW_WATCH_ENDED:
		/* Cancelled or compacted: the range will set a new one. */
		kick_soon(cl);
		break;
	case CL_GW_WATCH_CREATED:
	case CL_GW_WATCH_OTHER:
		break;
	}
}

static void watch_done(void *ctx, bool ok, long status, const char *body,
		       size_t len, const char *err)
{
	struct cluster *cl = ctx;

	cl->watch = NULL;
	cl->watched[0] = '\0';
	log_debug(SUBSYS, "watch ended: %s", ok ? "closed" : err);
	if (!ok)
		rotate(cl);
	/* Look again soon; the range re-arms a watch. */
	if (!ev_is_active(&cl->retry_timer)) {
		ev_timer_set(&cl->retry_timer, RETRY, 0.);
		ev_timer_start(cl->loop, &cl->retry_timer);
	}
}

static void watch_set(struct cluster *cl, const char *key, int64_t from)
{
	char *body, *u = NULL;

	if (cl->watch && !strcmp(cl->watched, key))
		return;
	cl_http_cancel(cl->http, cl->watch);
	cl->watch = NULL;
	cl->watched[0] = '\0';
	if (!*key)
		return;
	body = cl_gw_watch(key, from);
	if (!body || asprintf(&u, "%s/v3/watch", url(cl)) < 0)
		abort();
	cl->watch = cl_http_post(cl->http, u, body, 0, cl->auth, watch_done,
				 watch_line, cl);
	snprintf(cl->watched, sizeof(cl->watched), "%s", key);
	free(body);
	free(u);
}

/* ---- control calls ---- */

static void ctl_done(void *ctx, bool ok, long status, const char *body,
		     size_t len, const char *err);

static void ctl_send(struct cluster *cl, enum ctl_kind kind)
{
	const char *path = NULL;
	char *b = NULL, *u = NULL, *val = NULL;

	switch (kind) {
	case CTL_AUTH:
		path = "/v3/auth/authenticate";
		b = cl_gw_authenticate(cl->user, cl->pass);
		break;
	case CTL_GRANT:
		path = "/v3/lease/grant";
		b = cl_gw_grant(cl->ttl_req);
		break;
	case CTL_CAMPAIGN:
		path = "/v3/kv/txn";
		if (!cl->my_key[0])
			snprintf(cl->my_key, sizeof(cl->my_key), "%s%" PRIx64,
				 cl->prefix, (uint64_t)cl->lease);
		val = cl_gw_value(cl->id, cl->signer_addr);
		b = val ? cl_gw_campaign(cl->my_key, val, cl->lease) : NULL;
		break;
	case CTL_RANGE:
		path = "/v3/kv/range";
		b = cl_gw_range_prefix(cl->prefix);
		break;
	}
	if (!b || asprintf(&u, "%s%s", url(cl), path) < 0)
		abort();
	cl->ctl_kind = kind;
	cl->ctl_sent = cn_now();
	/* A call must finish well inside the lease: TTL/3. */
	cl->ctl = cl_http_post(cl->http, u, b, cl->ttl_req / 3, cl->auth,
			       ctl_done, NULL, cl);
	if (kind == CTL_AUTH)
		sodium_memzero(b, strlen(b));
	free(b);
	free(u);
	free(val);
}

/* The next control call this state needs, unless one is in flight. */
static void ctl_kick(struct cluster *cl)
{
	if (cl->ctl) {
		cl->kick_again = true;
		return;
	}
	cl->kick_again = false;
	ev_timer_stop(cl->loop, &cl->retry_timer);
	if (cl->user && !cl->auth)
		ctl_send(cl, CTL_AUTH);
	else if (!cl->lease)
		ctl_send(cl, CTL_GRANT);
	else if (!cl->my_rev)
		ctl_send(cl, CTL_CAMPAIGN);
	else
		ctl_send(cl, CTL_RANGE);
}

static void retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	ctl_kick(w->data);
}

static void ka_tick(struct ev_loop *loop, ev_timer *w, int revents);

static void range_done(struct cluster *cl, const char *body, size_t len)
{
	struct cl_gw_range *r = malloc(sizeof(*r));
	const struct cl_gw_kv *pred = NULL, *lead;

	if (!r)
		abort();
	cl_gw_parse_range(r, body, len);
	if (!r->ok) {
		set_error(cl, "range", r->error);
		free(r);
		rotate(cl);
		ev_timer_set(&cl->retry_timer, RETRY, 0.);
		ev_timer_start(cl->loop, &cl->retry_timer);
		return;
	}
	lead = r->n ? &r->kv[0] : NULL;
	{
		bool mine = false;
		for (size_t i = 0; i < r->n; i++)
			mine |= !strcmp(r->kv[i].key, cl->my_key);
		if (!mine && cl->my_rev) {
			/* Deleted under us (an operator's etcdctl del): a new
			 * key on the same lease, at the back of the line. */
			log_unusual(SUBSYS, "our election key %s is gone: "
				    "campaigning again", cl->my_key);
			cl->my_rev = 0;
			cl->kick_again = true;
		}
	}
	if ((lead ? lead->create_rev : 0) != cl->leader_rev) {
		cl->leadership_changes++;
		log_info(SUBSYS, "leader is now %s (token %" PRId64 ")",
			 lead ? lead->id : "nobody",
			 lead ? lead->create_rev : 0);
	}
	cl->leader_rev = lead ? lead->create_rev : 0;
	snprintf(cl->leader_id, sizeof(cl->leader_id), "%s",
		 lead ? lead->id : "");
	snprintf(cl->leader_signer, sizeof(cl->leader_signer), "%s",
		 lead ? lead->signer : "");
	/* An empty prefix after our put: our key is gone (view 0 would read
	 * as "no view"; any value above ours says "missing"). */
	cl->lowest_rev = lead ? lead->create_rev : INT64_MAX;
	for (size_t i = 0; i < r->n; i++)
		if (r->kv[i].create_rev < cl->my_rev)
			pred = &r->kv[i];
	snprintf(cl->pred_key, sizeof(cl->pred_key), "%s",
		 pred ? pred->key : "");
	watch_set(cl, cl->pred_key, r->revision + 1);
	free(r);
	evaluate(cl);
	notify(cl);
}

static void ctl_done(void *ctx, bool ok, long status, const char *body,
		     size_t len, const char *err)
{
	struct cluster *cl = ctx;
	enum ctl_kind kind = cl->ctl_kind;
	struct cl_gw_answer a;
	static const char *names[] = { "authenticate", "lease grant",
				       "campaign", "range" };

	cl->ctl = NULL;
	if (!ok) {
		set_error(cl, names[kind], err);
		/* Once per outage at UNUSUAL (a wrong address or certificate
		 * must be visible), then at DEBUG: it is retried every 0.5 s. */
		if (!cl->ctl_failing)
			log_unusual(SUBSYS, "%s on %s failed: %s (retrying on "
				    "every member)", names[kind], url(cl), err);
		else
			log_debug(SUBSYS, "%s on %s failed: %s", names[kind],
				  url(cl), err);
		cl->ctl_failing = true;
		goto retry;
	}
	cl->ctl_failing = false;
	if (kind == CTL_RANGE) {
		range_done(cl, body, len);
		if (cl->kick_again)
			ctl_kick(cl);
		return;
	}
	cl_gw_parse(&a, body, len, kind == CTL_CAMPAIGN ? cl->my_key : NULL);
	if (!a.ok) {
		set_error(cl, names[kind], a.error);
		log_unusual(SUBSYS, "%s on %s: %s", names[kind], url(cl),
			    a.error);
		if (strstr(a.error, "token")) {
			free(cl->auth);
			cl->auth = NULL;
		}
		if (strstr(a.error, "lease not found")) {
			lease_lost(cl, a.error);
			return;
		}
		goto retry;
	}
	switch (kind) {
	case CTL_AUTH:
		free(cl->auth);
		cl->auth = strdup(a.token);
		break;
	case CTL_GRANT:
		if (a.lease == 0 || a.ttl <= 0) {
			set_error(cl, "lease grant", "no lease in answer");
			goto retry;
		}
		cl->lease = a.lease;
		cl->ttl = (double)a.ttl;
		cl->confirmed_sent = cl->ctl_sent;
		log_info(SUBSYS, "lease %" PRIx64 " granted, TTL %" PRId64
			 " s, on %s", (uint64_t)a.lease, a.ttl, url(cl));
		ev_timer_stop(cl->loop, &cl->ka_timer);
		ev_timer_set(&cl->ka_timer, cl->ttl / 3, cl->ttl / 3);
		ev_timer_start(cl->loop, &cl->ka_timer);
		break;
	case CTL_CAMPAIGN:
		if (a.create_rev <= 0) {
			/* Put refused and nothing read back: the lease is
			 * gone with its key. */
			lease_lost(cl, "campaign put did not create our key");
			return;
		}
		cl->my_rev = a.create_rev;
		cl->campaigns++;
		log_info(SUBSYS, "campaigning as %s: key %s, create revision "
			 "%" PRId64, cl->id, cl->my_key, cl->my_rev);
		break;
	case CTL_RANGE:
		break;
	}
	cl->last_error[0] = '\0';
	ctl_kick(cl);
	return;
retry:
	rotate(cl);
	ev_timer_set(&cl->retry_timer, RETRY, 0.);
	ev_timer_start(cl->loop, &cl->retry_timer);
}

/* ---- renewal ---- */

static void ka_done(void *ctx, bool ok, long status, const char *body,
		    size_t len, const char *err)
{
	struct cluster *cl = ctx;
	struct cl_gw_answer a;
	double sent = cl->ka_sent;

	cl->ka = NULL;
	if (ok)
		cl_gw_parse(&a, body, len, NULL);
	if (!ok || !a.ok) {
		const char *why = ok ? a.error : err;
		if (ok && strstr(why, "lease not found")) {
			lease_lost(cl, why);
			return;
		}
		cl->renewals_failed++;
		set_error(cl, "lease keepalive", why);
		log_unusual(SUBSYS, "renewal on %s failed: %s", url(cl), why);
		rotate(cl);
		ev_timer_stop(cl->loop, &cl->ka_timer);
		ev_timer_set(&cl->ka_timer, KA_RETRY, cl->ttl / 3);
		ev_timer_start(cl->loop, &cl->ka_timer);
		evaluate(cl);
		return;
	}
	if (a.ttl <= 0) {
		/* A default-valued TTL is left out: the lease is gone. */
		lease_lost(cl, "keepalive answered TTL 0 (lease expired)");
		return;
	}
	cl->renewals_ok++;
	cn_hist_observe(&cl->renew_latency, cn_now() - sent);
	if (sent > cl->confirmed_sent)
		cl->confirmed_sent = sent;
	cl->ttl = (double)a.ttl;
	cl->last_error[0] = '\0';
	/* Refresh the view at the renewal's pace too: a lost watch costs
	 * at most TTL/3. */
	ctl_kick(cl);
	evaluate(cl);
}

static void ka_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct cluster *cl = w->data;
	char *b, *u = NULL;

	if (!cl->lease || cl->ka)
		return;
	b = cl_gw_keepalive(cl->lease);
	if (!b || asprintf(&u, "%s/v3/lease/keepalive", url(cl)) < 0)
		abort();
	cl->ka_sent = cn_now();
	/* A renewal takes milliseconds; a member that does not answer within
	 * TTL/6 is abandoned for the next one while there is time left. */
	cl->ka = cl_http_post(cl->http, u, b,
			      cl->ttl / 6 > 0.3 ? cl->ttl / 6 : 0.3, cl->auth,
			      ka_done, NULL, cl);
	free(b);
	free(u);
}

/* ---- life cycle ---- */

struct cluster *cluster_new(struct ev_loop *loop,
			    const struct cluster_config *cfg,
			    const struct cluster_cbs *cbs)
{
	struct cluster *cl;
	bool tls = cfg->cacert || cfg->cert;

	if (!cfg->num_endpoints || !cfg->id || !*cfg->id || !cfg->prefix ||
	    !*cfg->prefix || cfg->ttl < CL_MIN_TTL) {
		log_broken(SUBSYS, "bad cluster configuration");
		return NULL;
	}
	cl = calloc(1, sizeof(*cl));
	if (!cl)
		abort();
	cl->loop = loop;
	if (cbs)
		cl->cbs = *cbs;
	cl->id = strdup(cfg->id);
	cl->prefix = strdup(cfg->prefix);
	cl->signer_addr = strdup(cfg->signer_addr ? cfg->signer_addr : "");
	cl->ttl_req = cfg->ttl;
	cl->ttl = cfg->ttl;
	if (cfg->user) {
		size_t n = strlen(cfg->pass ? cfg->pass : "") + 1;
		cl->user = strdup(cfg->user);
		cl->pass = sodium_malloc(n);
		if (!cl->pass)
			abort();
		memcpy(cl->pass, cfg->pass ? cfg->pass : "", n);
	}
	cl->urls = calloc(cfg->num_endpoints, sizeof(*cl->urls));
	if (!cl->urls)
		abort();
	for (size_t i = 0; i < cfg->num_endpoints; i++)
		if (asprintf(&cl->urls[cl->n_urls++], "%s://%s",
			     tls ? "https" : "http", cfg->endpoints[i]) < 0)
			abort();
	cl->http = cl_http_new(loop, cfg->cacert, cfg->cert, cfg->key);
	cl->role = CL_STANDBY;
	cl->role_since_unix = (int64_t)time(NULL);
	ev_timer_init(&cl->ka_timer, ka_tick, 0., 0.);
	cl->ka_timer.data = cl;
	ev_set_priority(&cl->ka_timer, EV_MAXPRI);
	ev_timer_init(&cl->retry_timer, retry_cb, 0., 0.);
	cl->retry_timer.data = cl;
	ev_timer_init(&cl->deadline, deadline_cb, 0., 0.);
	cl->deadline.data = cl;
	/* Fires before any other watcher pending in the same iteration
	 * (a process resumed after SIGSTOP stands down first). */
	ev_set_priority(&cl->deadline, EV_MAXPRI);
	log_info(SUBSYS, "cluster member %s: election prefix %s, TTL %.1f s, "
		 "etcd %s%s", cl->id, cl->prefix, cfg->ttl, cl->urls[0],
		 cl->n_urls > 1 ? " (and others)" : "");
	/* First call from the loop. */
	ev_timer_set(&cl->retry_timer, 0., 0.);
	ev_timer_start(loop, &cl->retry_timer);
	return cl;
}

/* Best effort, bounded: a clean stop lets a standby lead at once instead
 * of after the TTL. */
static void lease_revoke(struct cluster *cl)
{
	CURL *e = curl_easy_init();
	struct curl_slist *h = NULL;
	char *b = cl_gw_revoke(cl->lease), *u = NULL, *a = NULL;

	if (!e || !b || asprintf(&u, "%s/v3/lease/revoke", url(cl)) < 0)
		goto out;
	h = curl_slist_append(h, "Content-Type: application/json");
	if (cl->auth && asprintf(&a, "Authorization: %s", cl->auth) >= 0)
		h = curl_slist_append(h, a);
	curl_easy_setopt(e, CURLOPT_URL, u);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, b);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 1000L);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, NULL);
	{
		FILE *devnull = fopen("/dev/null", "w");
		if (devnull)
			curl_easy_setopt(e, CURLOPT_WRITEDATA, devnull);
		if (curl_easy_perform(e) == CURLE_OK)
			log_info(SUBSYS, "lease %" PRIx64 " revoked",
				 (uint64_t)cl->lease);
		if (devnull)
			fclose(devnull);
	}
out:
	curl_slist_free_all(h);
	if (e)
		curl_easy_cleanup(e);
	free(a);
	free(b);
	free(u);
}

void cluster_free(struct cluster *cl)
{
	if (!cl)
		return;
	if (cl->lease)
		lease_revoke(cl);
	ev_timer_stop(cl->loop, &cl->ka_timer);
	ev_timer_stop(cl->loop, &cl->retry_timer);
	ev_timer_stop(cl->loop, &cl->deadline);
	cl_http_free(cl->http);
	for (size_t i = 0; i < cl->n_urls; i++)
		free(cl->urls[i]);
	free(cl->urls);
	if (cl->pass) {
		sodium_memzero(cl->pass, strlen(cl->pass));
		sodium_free(cl->pass);
	}
	free(cl->user);
	free(cl->auth);
	free(cl->id);
	free(cl->prefix);
	free(cl->signer_addr);
	free(cl);
}

bool cluster_may_act(const struct cluster *cl)
{
	return cl->role == CL_LEADER && cn_now() < cl->until;
}

enum cl_role cluster_role(const struct cluster *cl)
{
	return cl->role;
}

void cluster_get_info(const struct cluster *cl, struct cluster_info *out)
{
	double now = cn_now();

	memset(out, 0, sizeof(*out));
	out->role = cl->role;
	out->id = cl->id;
	out->leader_id = cl->leader_id;
	out->leader_signer = cl->leader_signer;
	out->token = (uint64_t)cl->my_rev;
	out->leader_token = (uint64_t)cl->leader_rev;
	if (cl->lease) {
		double left = cl->confirmed_sent + cl->ttl -
			      cl_margin(cl->ttl) - now;
		out->lease_left = left > 0 ? left : 0;
	}
	out->ttl = cl->ttl;
	out->endpoint = url(cl);
	out->last_error = cl->last_error;
	out->role_since_unix = cl->role_since_unix;
	out->renewals_ok = cl->renewals_ok;
	out->renewals_failed = cl->renewals_failed;
	out->renew_latency = cl->renew_latency;
	out->leadership_changes = cl->leadership_changes;
	out->elected = cl->elected;
	out->stood_down = cl->stood_down;
	out->campaigns = cl->campaigns;
}
