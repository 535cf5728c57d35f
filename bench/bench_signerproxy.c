/* bench_signerproxy: DeriveSharedKey calls per second through the signer
 * proxy (a watch-only lnd's unary calls, played by h2load over TLS on one
 * connection) against the same requests on the signer stream used
 * directly (sv_ecdh, the node's own path), with the same signer: the real
 * coldsigner, over TLS on loopback.  Goal: proxy/direct >= 0.8.  Also the
 * latency one call at a time (coldnode's own gRPC client, one connection),
 * p50/p99, against the direct stream and against the same client calling
 * a method answered at once (health Check): the proxy's own share is the
 * difference with the latter.
 *
 *   <builddir>/bench/bench_signerproxy [REQUESTS] [IN_FLIGHT]
 *       (default 20000 requests, 100 in flight; COLDSIGNER=path)
 *
 * Supervisor, signer port and proxy run in this process on their own
 * thread and loop, as in coldnode; coldsigner and h2load are children.
 * Each measurement runs three times, alternating proxy and direct so
 * background load hits both alike; the best of each is kept.
 */
#include "rpc/rpc.h"
#include "signerproxy/signerproxy.h"
#include "supervisor/supervisor.h"

#include <ev.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "signrpc.pb-c.h"
#include "h2load_run.h"

static struct ev_loop *loop;
static struct supervisor *sv;
static atomic_int active;
static uint8_t point[33];

/* ---- direct runs, on the loop thread ---- */
static struct {
	int n, inflight, started, done, ok;
	double *lat, *t0;
	double begin, end;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool finished;
} run;
static ev_async start_direct, stop_async;

static void issue(void);

static void ecdh_done(void *arg, enum sv_result r, const uint8_t *secret)
{
	int i = (int)(intptr_t)arg;

	(void)secret;
	run.lat[i] = cn_now() - run.t0[i];
	run.done++;
	run.ok += r == SV_OK;
	if (run.done == run.n) {
		run.end = cn_now();
		pthread_mutex_lock(&run.mu);
		run.finished = true;
		pthread_cond_signal(&run.cv);
		pthread_mutex_unlock(&run.mu);
		return;
	}
	issue();
}

static void issue(void)
{
	while (run.started < run.n &&
	       run.started - run.done < run.inflight) {
		int i = run.started++;
		run.t0[i] = cn_now();
		sv_ecdh(sv, point, 1, ecdh_done, (void *)(intptr_t)i);
	}
}

static void start_cb(struct ev_loop *l, ev_async *w, int revents)
{
	run.begin = cn_now();
	issue();
}

static void stop_cb(struct ev_loop *l, ev_async *w, int revents)
{
	ev_break(l, EVBREAK_ALL);
}

static void changed(void *arg, struct supervisor *s)
{
	atomic_store(&active, sv_get_state(s) == SV_ACTIVE);
}

static void *loop_thread(void *arg)
{
	ev_run(loop, 0);
	return NULL;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

struct result {
	double rps, p50_ms, p99_ms;
	long ok;
};

static void pct(struct result *r, double *lat, size_t n)
{
	qsort(lat, n, sizeof(*lat), cmp_d);
	r->p50_ms = lat[n / 2] * 1000;
	r->p99_ms = lat[(n * 99) / 100] * 1000;
}

static void direct(struct result *r, int n, int inflight)
{
	run.started = run.done = run.ok = 0;
	run.n = n;
	run.inflight = inflight;
	run.lat = calloc(n, sizeof(double));
	run.t0 = calloc(n, sizeof(double));
	run.finished = false;
	pthread_mutex_lock(&run.mu);
	ev_async_send(loop, &start_direct);
	while (!run.finished)
		pthread_cond_wait(&run.cv, &run.mu);
	pthread_mutex_unlock(&run.mu);
	r->rps = n / (run.end - run.begin);
	r->ok = run.ok;
	pct(r, run.lat, n);
	free(run.lat);
	free(run.t0);
}

static bool h2load(struct result *r, uint16_t port, const char *mac_hex,
		   const char *body, const char *logf, int inflight, int n)
{
	struct h2load_run h;
	/* lnd's grpc-go sends its 5 s deadline with every call. */
	bool ok = h2load_run(&h, port, "/signrpc.Signer/DeriveSharedKey",
			     mac_hex, "grpc-timeout: 5S", body, logf,
			     inflight, n);

	memset(r, 0, sizeof(*r));
	r->rps = h.rps;
	r->ok = h.ok;
	if (h.nlat)
		pct(r, h.lat, h.nlat);
	free(h.lat);
	return ok;
}

/* One call at a time through the proxy with coldnode's own blocking gRPC
 * client (TLS, one connection), alternating call by call with a method
 * answered at once (health Check) on the same connection, so both see the
 * same machine load: @r the proxied calls, @h the health calls, @add the
 * median of (proxied - the health call just before it). */
static bool sequential(struct result *r, struct result *h, double *add,
		       uint16_t port, const char *cert, const char *mac_hex,
		       const uint8_t *req, size_t reqlen, int n)
{
	struct rpc_client_config cc;
	char target[64], err[256], smsg[256];
	double *lat = calloc(n, sizeof(double));
	double *hl = calloc(n, sizeof(double));
	double *d = calloc(n, sizeof(double));
	double t0 = cn_now();
	struct rpc_client *c;

	snprintf(target, sizeof(target), "127.0.0.1:%u", port);
	rpc_client_config_default(&cc);
	cc.target = target;
	cc.tls_cert_path = cert;
	cc.macaroon_hex = mac_hex;
	c = rpc_client_new(err, sizeof(err), &cc);
	if (!c) {
		fprintf(stderr, "client: %s\n", err);
		return false;
	}
	memset(r, 0, sizeof(*r));
	memset(h, 0, sizeof(*h));
	for (int i = 0; i < n; i++) {
		uint8_t *resp = NULL;
		size_t rlen = 0;
		double t = cn_now();
		enum rpc_status st = rpc_client_unary(
			c, &resp, &rlen, smsg, sizeof(smsg),
			"/grpc.health.v1.Health/Check", (const uint8_t *)"", 0);
		hl[i] = cn_now() - t;
		h->ok += st == RPC_STATUS_OK;
		free(resp);
		resp = NULL;
		t = cn_now();
		st = rpc_client_unary(c, &resp, &rlen, smsg, sizeof(smsg),
				      "/signrpc.Signer/DeriveSharedKey", req,
				      reqlen);
		lat[i] = cn_now() - t;
		d[i] = lat[i] - hl[i];
		r->ok += st == RPC_STATUS_OK;
		free(resp);
	}
	r->rps = n / (cn_now() - t0);
	pct(r, lat, n);
	pct(h, hl, n);
	qsort(d, n, sizeof(*d), cmp_d);
	*add = d[n / 2] * 1000;
	free(lat);
	free(hl);
	free(d);
	rpc_client_free(c);
	return true;
}

static char *read_hex(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t buf[4096];
	size_t n = f ? fread(buf, 1, sizeof(buf), f) : 0;
	char *hex = malloc(2 * n + 1);

	if (f)
		fclose(f);
	hex_encode(hex, buf, n);
	return hex;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 20000;
	int inflight = argc > 2 ? atoi(argv[2]) : 100;
	const char *cs = getenv("COLDSIGNER");
	char dir[] = "/tmp/bench-spx-XXXXXX", cert[128], key[128], smac[128];
	char pmac[128], body[128], logf[128], keyf[128], target[64];
	uint8_t root[32], priv[32];
	const char *listen[] = { "127.0.0.1:0" };
	pthread_t th;

	if (!cs || !mkdtemp(dir)) {
		fprintf(stderr, "bench_signerproxy: set COLDSIGNER\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	cn_crypto_init();
	log_set_level(NULL, LOG_UNUSUAL);
	/* Not the default loop: it would reap h2load and coldsigner. */
	loop = ev_loop_new(EVFLAG_AUTO);
	snprintf(cert, sizeof(cert), "%s/tls.cert", dir);
	snprintf(key, sizeof(key), "%s/tls.key", dir);
	snprintf(smac, sizeof(smac), "%s/signer.macaroon", dir);
	snprintf(pmac, sizeof(pmac), "%s/signerproxy.macaroon", dir);
	snprintf(body, sizeof(body), "%s/body", dir);
	snprintf(logf, sizeof(logf), "%s/h2load.log", dir);
	snprintf(keyf, sizeof(keyf), "%s/node.key", dir);
	randombytes_buf(root, sizeof(root));
	struct rpc_macaroon_svc *macs = rpc_macaroon_svc_from_key(root);
	if (!rpc_tls_ensure(cert, key, NULL, 0) ||
	    !sv_server_bake_macaroon(macs, smac) ||
	    !signerproxy_bake_macaroon(macs, pmac))
		return 1;

	/* The request lnd's RPCKeyRing.ECDH sends, gRPC-framed. */
	memset(priv, 0, sizeof(priv));
	priv[31] = 3;
	struct cn_nodekey *pk = cn_nodekey_from_secret(priv);
	cn_nodekey_pub(pk, point);
	cn_nodekey_free(pk);
	Signrpc__SharedKeyRequest sk = SIGNRPC__SHARED_KEY_REQUEST__INIT;
	Signrpc__KeyDescriptor kd = SIGNRPC__KEY_DESCRIPTOR__INIT;
	Signrpc__KeyLocator kl = SIGNRPC__KEY_LOCATOR__INIT;
	kl.key_family = 6;
	kd.key_loc = &kl;
	sk.key_desc = &kd;
	sk.ephemeral_pubkey.data = point;
	sk.ephemeral_pubkey.len = 33;
	static uint8_t frame[128];
	size_t blen = signrpc__shared_key_request__pack(&sk, frame + 5);
	frame[0] = 0;
	frame[1] = frame[2] = frame[3] = 0;
	frame[4] = (uint8_t)blen;
	FILE *bf = fopen(body, "wb");
	fwrite(frame, 1, blen + 5, bf);
	fclose(bf);

	/* The node side, as coldnode runs it. */
	struct sv_config sc;
	struct sv_cbs cbs = { .changed = changed };
	sv_config_default(&sc);
	sc.ping_interval = 60;
	sv = sv_new(loop, &sc, &cbs);
	struct sv_server_limits lim = { .max_msg = SV_MAX_FORWARD_MSG };
	struct rpc_server *ssrv = sv_server_new_limits(loop, sv, listen, 1,
						       NULL, cert, key, macs,
						       &lim);
	struct signerproxy_config pc;
	signerproxy_config_default(&pc);
	pc.listen = listen;
	pc.num_listen = 1;
	pc.tls_cert_path = cert;
	pc.tls_key_path = key;
	pc.macaroons = macs;
	struct signerproxy *proxy = signerproxy_new(loop, sv, &pc);
	if (!sv || !ssrv || !proxy)
		return 1;
	ev_async_init(&start_direct, start_cb);
	ev_async_start(loop, &start_direct);
	ev_async_init(&stop_async, stop_cb);
	ev_async_start(loop, &stop_async);
	pthread_mutex_init(&run.mu, NULL);
	pthread_cond_init(&run.cv, NULL);
	uint16_t sport = rpc_server_port(ssrv, 0);
	uint16_t pport = signerproxy_port(proxy, 0);
	pthread_create(&th, NULL, loop_thread, NULL);

	/* The signer: coldsigner, dialing in. */
	snprintf(target, sizeof(target), "127.0.0.1:%u", sport);
	pid_t spid = fork();
	if (spid == 0) {
		char a1[100], a2[200], a3[200], a4[200];
		snprintf(a1, sizeof(a1), "--rpcserver=%s", target);
		snprintf(a2, sizeof(a2), "--tlscertpath=%s", cert);
		snprintf(a3, sizeof(a3), "--macaroonpath=%s", smac);
		snprintf(a4, sizeof(a4), "--keyfile=%s", keyf);
		execl(cs, "coldsigner", a1, a2, a3, a4, "--debuglevel=unusual",
		      (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 1000 && !atomic_load(&active); i++)
		usleep(10000);
	if (!atomic_load(&active)) {
		fprintf(stderr, "bench_signerproxy: signer never ready\n");
		kill(spid, SIGTERM);
		return 1;
	}
	char *mac_hex = read_hex(pmac);

	printf("signerproxy: DeriveSharedKey, coldsigner over TLS on "
	       "loopback, %d calls per run, %d in flight, 1 connection\n", n,
	       inflight);
	struct result bp = { 0 }, bd = { 0 }, sp = { 0 }, sd = { 0 }, sh = { 0 };
	struct result r, h;
	double adds[3];
	int seq = n / 10 > 2000 ? 2000 : n / 10;
	for (int round = 0; round < 3; round++) {
		if (!h2load(&r, pport, mac_hex, body, logf, inflight, n) ||
		    r.ok != n) {
			fprintf(stderr, "bench_signerproxy: h2load failed or "
				"calls failed (%ld of %d ok, %.0f/s)\n", r.ok,
				n, r.rps);
			kill(spid, SIGTERM);
			return 1;
		}
		printf("  round %d proxy  %9.0f calls/s\n", round, r.rps);
		if (r.rps > bp.rps)
			bp = r;
		direct(&r, n, inflight);
		printf("  round %d direct %9.0f calls/s (%ld ok)\n", round,
		       r.rps, r.ok);
		if (r.rps > bd.rps)
			bd = r;
		/* One at a time: the latency the proxy adds. */
		double add;
		if (!sequential(&r, &h, &add, pport, cert, mac_hex, frame + 5,
				blen, seq) || r.ok != seq) {
			fprintf(stderr, "bench_signerproxy: sequential calls "
				"failed\n");
			kill(spid, SIGTERM);
			return 1;
		}
		printf("  round %d one at a time: proxy p50 %.3f ms, health "
		       "p50 %.3f ms, paired difference p50 %.3f ms\n", round,
		       r.p50_ms, h.p50_ms, add);
		adds[round] = add;
		if (!sp.rps || r.p50_ms < sp.p50_ms) {
			sp = r;
			sh = h;
		}
		direct(&r, seq, 1);
		if (!sd.rps || r.p50_ms < sd.p50_ms)
			sd = r;
	}
	printf("DeriveSharedKey through the proxy: %.0f calls/s; signer "
	       "stream direct: %.0f calls/s; ratio %.2f (goal >= 0.8)\n",
	       bp.rps, bd.rps, bp.rps / bd.rps);
	printf("one at a time: proxy p50 %.3f ms p99 %.3f ms; direct p50 "
	       "%.3f ms p99 %.3f ms; added p50 %.3f ms p99 %.3f ms\n",
	       sp.p50_ms, sp.p99_ms, sd.p50_ms, sd.p99_ms,
	       sp.p50_ms - sd.p50_ms, sp.p99_ms - sd.p99_ms);
	qsort(adds, 3, sizeof(double), cmp_d);
	printf("same client, health Check answered at once: p50 %.3f ms p99 "
	       "%.3f ms; proxy over it p50 %.3f ms (median of the rounds' "
	       "paired differences)\n", sh.p50_ms, sh.p99_ms, adds[1]);

	kill(spid, SIGTERM);
	waitpid(spid, NULL, 0);
	ev_async_send(loop, &stop_async);
	pthread_join(th, NULL);
	free(mac_hex);
	char cmd[200];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		return 1;
	return 0;
}
