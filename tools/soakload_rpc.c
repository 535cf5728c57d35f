/*~ soakload_rpc: the RPC side of the soak test.  Pollers, each on its own
 * thread with its own TLS + HTTP/2 connection, call GetInfo and GetState
 * in turn with a given macaroon (the soak uses monitor.macaroon) at a fixed
 * total rate, and count what succeeded and what failed.  A failed call is
 * reported on stderr with its status, and the poller reconnects.
 *
 *   soakload_rpc --rpcserver HOST:PORT --tlscertpath F --macaroonpath F
 *                [--rate CALLS_PER_S] [--pollers N] [--duration S]
 *
 * Once a second, and at the end (SIGTERM, SIGINT or --duration), one JSON
 * line of counters goes to stdout.
 */
#include "common/common.h"
#include "rpc/rpc.h"

#include "coldrpc.pb-c.h"
#include "lightning.pb-c.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct shared {
	const char *target, *cert;
	char *mac_hex;
	double interval; /* seconds between two calls of one poller */
	double end;      /* monotonic deadline, 0: none */
	atomic_bool stop;
	atomic_uint_fast64_t ok, failed, connects;
};

static struct shared sh;

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_until(double t)
{
	double d = t - mono();
	struct timespec ts;

	if (d <= 0)
		return;
	ts.tv_sec = (time_t)d;
	ts.tv_nsec = (long)((d - (double)ts.tv_sec) * 1e9);
	nanosleep(&ts, NULL);
}

/* One call; true if it succeeded and the answer parses. */
static bool one_call(struct rpc_client *c, unsigned n, char *err,
		     size_t errlen)
{
	const char *path = (n % 2) ? "/coldrpc.Supervisor/GetState"
				   : "/lnrpc.Lightning/GetInfo";
	uint8_t *resp = NULL;
	size_t len = 0;
	enum rpc_status st = rpc_client_unary(c, &resp, &len, err, errlen,
					      path, NULL, 0);
	bool ok = false;

	if (st != RPC_STATUS_OK) {
		char msg[128];
		/* Keep the server's text short enough to prefix the path. */
		memcpy(msg, err, sizeof(msg) - 1);
		msg[sizeof(msg) - 1] = '\0';
		snprintf(err, errlen, "%s %s: %s", path, rpc_status_str(st),
			 msg);
	} else if (n % 2) {
		Coldrpc__SupervisorState *r =
			coldrpc__supervisor_state__unpack(NULL, len, resp);
		ok = r != NULL;
		coldrpc__supervisor_state__free_unpacked(r, NULL);
	} else {
		Lnrpc__GetInfoResponse *r =
			lnrpc__get_info_response__unpack(NULL, len, resp);
		ok = r != NULL;
		lnrpc__get_info_response__free_unpacked(r, NULL);
	}
	if (st == RPC_STATUS_OK && !ok)
		snprintf(err, errlen, "%s: unparsable response", path);
	free(resp);
	return ok;
}

static void *poller(void *arg)
{
	unsigned id = (unsigned)(uintptr_t)arg, n = id;
	struct rpc_client_config cc;
	struct rpc_client *c = NULL;
	char err[512];
	/* Spread the pollers over one interval. */
	double next = mono() + sh.interval * id / 8.0;

	rpc_client_config_default(&cc);
	cc.target = sh.target;
	cc.tls_cert_path = sh.cert;
	cc.macaroon_hex = sh.mac_hex;
	cc.timeout = 10;
	while (!atomic_load(&sh.stop) && (!sh.end || mono() < sh.end)) {
		sleep_until(next);
		next += sh.interval;
		if (!c) {
			atomic_fetch_add(&sh.connects, 1);
			c = rpc_client_new(err, sizeof(err), &cc);
			if (!c) {
				atomic_fetch_add(&sh.failed, 1);
				fprintf(stderr, "soakload_rpc: connect: %s\n",
					err);
				continue;
			}
		}
		if (one_call(c, n++, err, sizeof(err))) {
			atomic_fetch_add(&sh.ok, 1);
		} else {
			atomic_fetch_add(&sh.failed, 1);
			fprintf(stderr, "soakload_rpc: %s\n", err);
			rpc_client_free(c);
			c = NULL;
		}
	}
	rpc_client_free(c);
	return NULL;
}

static void on_signal(int sig)
{
	atomic_store(&sh.stop, true);
}

static void report(double t0, bool final)
{
	printf("{\"t\": %.3f, \"final\": %s, \"ok\": %" PRIuFAST64
	       ", \"failed\": %" PRIuFAST64 ", \"connects\": %" PRIuFAST64
	       "}\n",
	       mono() - t0, final ? "true" : "false", atomic_load(&sh.ok),
	       atomic_load(&sh.failed), atomic_load(&sh.connects));
	fflush(stdout);
}

static char *read_hex(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t buf[4096];
	size_t n;
	char *hex;

	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	if (n == 0 || n == sizeof(buf))
		return NULL;
	hex = malloc(2 * n + 1);
	if (hex)
		hex_encode(hex, buf, n);
	return hex;
}

int main(int argc, char **argv)
{
	const char *macpath = NULL;
	double rate = 100, duration = 0, t0 = mono();
	unsigned pollers = 4;
	pthread_t *th;
	struct sigaction sa = { .sa_handler = on_signal };

	cn_crypto_init();
	signal(SIGPIPE, SIG_IGN);
	for (int i = 1; i + 1 < argc; i += 2) {
		const char *a = argv[i], *v = argv[i + 1];
		if (!strcmp(a, "--rpcserver"))
			sh.target = v;
		else if (!strcmp(a, "--tlscertpath"))
			sh.cert = v;
		else if (!strcmp(a, "--macaroonpath"))
			macpath = v;
		else if (!strcmp(a, "--rate"))
			rate = strtod(v, NULL);
		else if (!strcmp(a, "--pollers"))
			pollers = (unsigned)strtoul(v, NULL, 10);
		else if (!strcmp(a, "--duration"))
			duration = strtod(v, NULL);
		else
			goto usage;
	}
	if (!sh.target || !sh.cert || !macpath || rate <= 0 || !pollers ||
	    pollers > 64)
		goto usage;
	sh.mac_hex = read_hex(macpath);
	if (!sh.mac_hex) {
		fprintf(stderr, "soakload_rpc: cannot read %s\n", macpath);
		return 1;
	}
	sh.interval = pollers / rate;
	sh.end = duration > 0 ? t0 + duration : 0;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	th = calloc(pollers, sizeof(*th));
	if (!th)
		return 1;
	for (unsigned i = 0; i < pollers; i++)
		if (pthread_create(&th[i], NULL, poller,
				   (void *)(uintptr_t)i) != 0)
			return 1;
	while (!atomic_load(&sh.stop) && (!sh.end || mono() < sh.end)) {
		sleep(1);
		report(t0, false);
	}
	atomic_store(&sh.stop, true);
	for (unsigned i = 0; i < pollers; i++)
		pthread_join(th[i], NULL);
	report(t0, true);
	free(th);
	free(sh.mac_hex);
	return 0;
usage:
	fprintf(stderr, "usage: soakload_rpc --rpcserver HOST:PORT "
			"--tlscertpath F --macaroonpath F [--rate N] "
			"[--pollers N] [--duration S]\n");
	return 2;
}
