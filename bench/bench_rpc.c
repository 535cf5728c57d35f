/* bench_rpc: GetInfo calls per second with a monitor macaroon, driven by
 * h2load over TLS with 1, 10 and 100 concurrent streams, against the same
 * h2load run on a static response from the same server (the bench-only
 * method /coldrpc.Bench/Static: no macaroon, no protobuf).  Prints req/s,
 * p99 latency and the ratio GetInfo / static (goal >= 0.8).
 *
 *   <builddir>/bench/bench_rpc [REQUESTS]      (default 20000 per run)
 *
 * The server runs in this process on its own thread and loop; h2load is a
 * child process.  Each configuration runs five times, alternating with
 * its baseline so background load hits both alike; the best of each is
 * kept.
 */
#include "rpc/rpc.h"

#include <ev.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "h2load_run.h"

static void info(void *arg, struct rpc_node_info *out)
{
	static const struct rpc_feature feats[] = {
		{ 1, "data-loss-protect", false, true },
		{ 7, "gossip-queries", false, true },
		{ 9, "tlv-onion", false, true },
		{ 13, "static-remote-key", false, true },
	};
	out->have_identity = true;
	memset(out->identity_pubkey, 0x02, 33);
	out->alias = "bench";
	out->num_peers = 12;
	out->network = "mainnet";
	out->features = feats;
	out->num_features = CN_ARRAY_SIZE(feats);
}

static void static_msg(void *arg, struct rpc_call *call, const uint8_t *msg,
		       size_t len)
{
	static const uint8_t resp[] = { 0x12, 0x05, 'b', 'e', 'n', 'c', 'h' };
	rpc_call_send(call, resp, sizeof(resp));
	rpc_call_finish(call, RPC_STATUS_OK, NULL);
}

static void stop_cb(struct ev_loop *loop, ev_async *w, int revents)
{
	ev_break(loop, EVBREAK_ALL);
}

static void *run(void *arg)
{
	ev_run(arg, 0);
	return NULL;
}

struct result {
	double rps, p99_ms;
	long done, ok;
};

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static bool h2load(struct result *r, uint16_t port, const char *path,
		   const char *mac_hex, const char *body, const char *logf,
		   int streams, int n)
{
	struct h2load_run h;
	bool ok = h2load_run(&h, port, path, mac_hex, NULL, body, logf,
			     streams, n);

	memset(r, 0, sizeof(*r));
	r->rps = h.rps;
	r->done = h.done;
	r->ok = h.ok;
	if (h.nlat) {
		qsort(h.lat, h.nlat, sizeof(*h.lat), cmp_d);
		r->p99_ms = h.lat[(h.nlat * 99) / 100] * 1000;
	}
	free(h.lat);
	return ok;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 20000;
	char dir[] = "/tmp/cn-bench-rpc-XXXXXX";
	char body[300], logf[300], macpath[300];
	const char *listen[] = { "127.0.0.1:0" };

	signal(SIGPIPE, SIG_IGN);
	cn_crypto_init();
	if (!log_parse_debuglevel("unusual") || !mkdtemp(dir))
		return 1;
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct rpc_node_config cfg = { .datadir = dir, .listen = listen,
				       .num_listen = 1, .version = "bench" };
	struct rpc_provider prov = { .get_info = info };
	struct rpc_node *node = rpc_node_new(loop, &cfg, &prov);
	if (!node)
		return 1;
	struct rpc_method m = { .path = "/coldrpc.Bench/Static",
				.kind = RPC_KIND_UNARY, .no_macaroon = true,
				.on_message = static_msg };
	rpc_server_add_method(rpc_node_server(node), &m);
	uint16_t port = rpc_server_port(rpc_node_server(node), 0);

	/* the request body: one empty message, 5-byte prefixed */
	snprintf(body, sizeof(body), "%s/empty.grpc", dir);
	snprintf(logf, sizeof(logf), "%s/h2load.log", dir);
	snprintf(macpath, sizeof(macpath), "%s/monitor.macaroon", dir);
	FILE *bf = fopen(body, "wb");
	fwrite("\0\0\0\0\0", 1, 5, bf);
	fclose(bf);
	uint8_t mac[4096];
	FILE *mf = fopen(macpath, "rb");
	size_t ml = fread(mac, 1, sizeof(mac), mf);
	fclose(mf);
	char *mac_hex = malloc(2 * ml + 1);
	hex_encode(mac_hex, mac, ml);

	ev_async stop;
	ev_async_init(&stop, stop_cb);
	ev_async_start(loop, &stop);
	pthread_t th;
	pthread_create(&th, NULL, run, loop);

	/* sanity: GetInfo really succeeds with this macaroon (h2load only
	 * sees HTTP 200, not grpc-status) */
	struct rpc_client_config cc;
	char target[64], err[200];
	uint8_t *resp;
	size_t rl;
	char certp[300];
	snprintf(certp, sizeof(certp), "%s/tls.cert", dir);
	snprintf(target, sizeof(target), "127.0.0.1:%u", port);
	rpc_client_config_default(&cc);
	cc.target = target;
	cc.tls_cert_path = certp;
	cc.macaroon_hex = mac_hex;
	struct rpc_client *c = rpc_client_new(err, sizeof(err), &cc);
	if (!c || rpc_client_unary(c, &resp, &rl, err, sizeof(err),
				   "/lnrpc.Lightning/GetInfo",
				   (const uint8_t *)"", 0) != RPC_STATUS_OK) {
		fprintf(stderr, "bench_rpc: GetInfo sanity call failed: %s\n",
			err);
		return 1;
	}
	free(resp);
	rpc_client_free(c);

	printf("rpc: h2load over TLS, %d requests per run, 1 connection, "
	       "%ld CPUs\n", n, sysconf(_SC_NPROCESSORS_ONLN));
	printf("%-8s %14s %12s %14s %12s %8s\n", "streams", "GetInfo req/s",
	       "p99 ms", "static req/s", "p99 ms", "ratio");
	const int streams[] = { 1, 10, 100 };
	bool ok = true;
	for (size_t i = 0; i < CN_ARRAY_SIZE(streams); i++) {
		struct result best_s = { 0 }, best_g = { 0 }, r;
		for (int rep = 0; rep < 5; rep++) {
			if (!h2load(&r, port, "/coldrpc.Bench/Static", mac_hex,
				    body, logf, streams[i], n)) {
				ok = false;
				break;
			}
			if (r.rps > best_s.rps)
				best_s = r;
			if (!h2load(&r, port, "/lnrpc.Lightning/GetInfo",
				    mac_hex, body, logf, streams[i], n)) {
				ok = false;
				break;
			}
			if (r.rps > best_g.rps)
				best_g = r;
		}
		if (!ok)
			break;
		printf("%-8d %14.0f %12.2f %14.0f %12.2f %8.2f\n", streams[i],
		       best_g.rps, best_g.p99_ms, best_s.rps, best_s.p99_ms,
		       best_g.rps / best_s.rps);
		if (best_g.ok != n || best_s.ok != n)
			printf("  (warning: %ld/%ld requests succeeded)\n",
			       best_g.ok, best_s.ok);
	}
	printf("goal: ratio >= 0.8 (GetInfo with macaroon + protobuf vs the "
	       "static response)\n");
	ev_async_send(loop, &stop);
	pthread_join(th, NULL);
	rpc_node_free(node);
	ev_loop_destroy(loop);
	free(mac_hex);
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		return 1;
	if (!ok)
		fprintf(stderr, "bench_rpc: h2load failed (is nghttp2-client "
			"installed?)\n");
	return ok ? 0 : 1;
}
