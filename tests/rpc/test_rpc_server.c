/* The generic server core and both clients, over real sockets and TLS:
 * grpc-timeout, the per-method call cap and counts, bidi streaming through
 * rpc_client_stream (the signer-port shape), client streaming, server
 * shutdown with live calls, cleartext mode, unknown methods. */
#include "rpc/rpc.h"
#include "check.h"

#include <ev.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const struct rpc_perm perm_gen[] = { { "remotesigner", "generate" } };

struct rec {
	pthread_mutex_t lock;
	int closed_count;
	enum rpc_status last_closed;
	int half_closes;
	size_t client_stream_bytes;
};
static struct rec rec = { PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, 0 };

static void rec_closed(void *arg, struct rpc_call *call, enum rpc_status st)
{
	pthread_mutex_lock(&rec.lock);
	rec.closed_count++;
	rec.last_closed = st;
	pthread_mutex_unlock(&rec.lock);
}

/* never answers: the deadline must end it */
static void hang_msg(void *arg, struct rpc_call *call, const uint8_t *m,
		     size_t len)
{
}

/* echo each message; finish when the client half-closes */
static void echo_msg(void *arg, struct rpc_call *call, const uint8_t *m,
		     size_t len)
{
	rpc_call_send(call, m, len);
}

static void echo_half_close(void *arg, struct rpc_call *call)
{
	pthread_mutex_lock(&rec.lock);
	rec.half_closes++;
	pthread_mutex_unlock(&rec.lock);
	rpc_call_finish(call, RPC_STATUS_OK, NULL);
}

/* client streaming: sum lengths, answer once at half-close */
static void sum_msg(void *arg, struct rpc_call *call, const uint8_t *m,
		    size_t len)
{
	pthread_mutex_lock(&rec.lock);
	rec.client_stream_bytes += len;
	pthread_mutex_unlock(&rec.lock);
}

static void sum_half_close(void *arg, struct rpc_call *call)
{
	uint8_t out[8];
	pthread_mutex_lock(&rec.lock);
	be64_put(out, rec.client_stream_bytes);
	pthread_mutex_unlock(&rec.lock);
	rpc_call_send(call, out, sizeof(out));
	rpc_call_finish(call, RPC_STATUS_OK, NULL);
}

/* A server whose grpc-message would forge a log line and drive a
 * terminal (issue 22): the client must not pass it on as it is. */
static void forge_msg(void *arg, struct rpc_call *call, const uint8_t *m,
		      size_t len)
{
	rpc_call_finish(call, RPC_STATUS_INTERNAL,
			"oops\n2026-01-01 00:00:00.000 [BRK] forged\x1b[2J");
}

static void fail_msg(void *arg, struct rpc_call *call, const uint8_t *m,
		     size_t len)
{
	rpc_call_finish(call, RPC_STATUS_FAILED_PRECONDITION,
			"signer not ready: \xe2\x9c\x97 100%");
}

static void add_methods(struct rpc_server *srv)
{
	const struct rpc_method ms[] = {
		{ .path = "/test.T/Hang", .kind = RPC_KIND_UNARY,
		  .perms = perm_gen, .num_perms = 1, .on_message = hang_msg,
		  .on_closed = rec_closed },
		{ .path = "/test.T/Echo", .kind = RPC_KIND_BIDI_STREAM,
		  .perms = perm_gen, .num_perms = 1, .max_calls = 1,
		  .on_message = echo_msg, .on_half_close = echo_half_close,
		  .on_closed = rec_closed },
		{ .path = "/test.T/Sum", .kind = RPC_KIND_CLIENT_STREAM,
		  .no_macaroon = true, .on_message = sum_msg,
		  .on_half_close = sum_half_close },
		{ .path = "/test.T/Fail", .kind = RPC_KIND_UNARY,
		  .no_macaroon = true, .on_message = fail_msg },
		{ .path = "/test.T/Forge", .kind = RPC_KIND_UNARY,
		  .no_macaroon = true, .on_message = forge_msg },
	};
	for (size_t i = 0; i < CN_ARRAY_SIZE(ms); i++)
		rpc_server_add_method(srv, &ms[i]);
}

static char dir[] = "/tmp/cn-rpcsrv-XXXXXX";
static char cert[128], key[128];
static struct rpc_macaroon_svc *svc;
static char *mac_hex;

static void setup(void)
{
	uint8_t *mac;
	size_t len;
	CHECK(mkdtemp(dir) != NULL);
	snprintf(cert, sizeof(cert), "%s/tls.cert", dir);
	snprintf(key, sizeof(key), "%s/tls.key", dir);
	CHECK(rpc_tls_ensure(cert, key, NULL, 0));
	char rk[128];
	snprintf(rk, sizeof(rk), "%s/macaroons.key", dir);
	svc = rpc_macaroon_svc_new(rk, true);
	CHECK(svc != NULL);
	CHECK(rpc_macaroon_bake(svc, &mac, &len, perm_gen, 1, NULL, 0));
	mac_hex = malloc(2 * len + 1);
	hex_encode(mac_hex, mac, len);
	free(mac);
}

/* ---- part 1: server loop in a thread, blocking unary client ---------- */

struct stats_seen {
	uint64_t hang_deadline, hang_unauth, fail_precondition;
	uint64_t unknown_unimplemented, calls, timed;
};

static void stats_cb(void *arg, const struct rpc_method_stats *ms)
{
	struct stats_seen *s = arg;

	if (!strcmp(ms->method, "/test.T/Hang")) {
		s->hang_deadline += ms->calls[RPC_STATUS_DEADLINE_EXCEEDED];
		s->hang_unauth += ms->calls[RPC_STATUS_UNAUTHENTICATED];
	} else if (!strcmp(ms->method, "/test.T/Fail")) {
		s->fail_precondition += ms->calls[RPC_STATUS_FAILED_PRECONDITION];
	} else if (!strcmp(ms->method, "unknown")) {
		s->unknown_unimplemented += ms->calls[RPC_STATUS_UNIMPLEMENTED];
	}
	for (int c = 0; c < RPC_NUM_STATUS; c++)
		s->calls += ms->calls[c];
	s->timed += ms->latency.count;
}

struct srv_thread {
	struct ev_loop *loop;
	struct rpc_server *srv;
	ev_async stop;
};

static void stop_cb(struct ev_loop *loop, ev_async *w, int revents)
{
	ev_break(loop, EVBREAK_ALL);
}

static void *srv_run(void *arg)
{
	struct srv_thread *t = arg;
	ev_run(t->loop, 0);
	return NULL;
}

static enum rpc_status unary(uint16_t port, const char *path, double timeout,
			     bool tls, const char *mac, char *msg,
			     uint8_t **resp, size_t *rlen)
{
	struct rpc_client_config cc;
	char target[64], err[200];
	rpc_client_config_default(&cc);
	snprintf(target, sizeof(target), "127.0.0.1:%u", port);
	cc.target = target;
	cc.tls_cert_path = tls ? cert : NULL;
	cc.macaroon_hex = mac;
	cc.timeout = timeout;
	struct rpc_client *c = rpc_client_new(err, sizeof(err), &cc);
	CHECK(c != NULL);
	if (!c)
		return RPC_STATUS_UNKNOWN;
	enum rpc_status st = rpc_client_unary(c, resp, rlen, msg, 200, path,
					      (const uint8_t *)"", 0);
	rpc_client_free(c);
	return st;
}

static void part_threaded(bool tls)
{
	struct srv_thread t;
	struct rpc_server_config cfg;
	const char *listen[] = { "127.0.0.1:0" };
	pthread_t th;
	char msg[200];
	uint8_t *resp;
	size_t rlen;

	t.loop = ev_loop_new(EVFLAG_AUTO);
	rpc_server_config_default(&cfg);
	cfg.listen = listen;
	cfg.num_listen = 1;
	cfg.tls_cert_path = tls ? cert : NULL;
	cfg.tls_key_path = tls ? key : NULL;
	cfg.macaroons = svc;
	t.srv = rpc_server_new(t.loop, &cfg);
	CHECK(t.srv != NULL);
	if (!t.srv)
		return;
	add_methods(t.srv);
	uint16_t port = rpc_server_port(t.srv, 0);
	CHECK(port != 0);
	ev_async_init(&t.stop, stop_cb);
	ev_async_start(t.loop, &t.stop);
	pthread_create(&th, NULL, srv_run, &t);

	/* grpc-timeout: the server ends the call with DEADLINE_EXCEEDED */
	int before = rec.closed_count;
	CHECK(unary(port, "/test.T/Hang", 0.3, tls, mac_hex, msg, &resp,
		    &rlen) == RPC_STATUS_DEADLINE_EXCEEDED);
	CHECK(strcmp(msg, "deadline exceeded") == 0);
	for (int i = 0; i < 200 && rec.closed_count == before; i++)
		usleep(10000);
	pthread_mutex_lock(&rec.lock);
	CHECK(rec.closed_count == before + 1);
	CHECK(rec.last_closed == RPC_STATUS_DEADLINE_EXCEEDED);
	pthread_mutex_unlock(&rec.lock);

	/* status + percent-encoded message round trip */
	CHECK(unary(port, "/test.T/Fail", 5, tls, NULL, msg, &resp, &rlen) ==
	      RPC_STATUS_FAILED_PRECONDITION);
	CHECK(strcmp(msg, "signer not ready: \xe2\x9c\x97 100%") == 0);
	/* control characters in grpc-message never reach the caller */
	CHECK(unary(port, "/test.T/Forge", 5, tls, NULL, msg, &resp, &rlen) ==
	      RPC_STATUS_INTERNAL);
	CHECK(strcmp(msg, "oops?2026-01-01 00:00:00.000 [BRK] forged?[2J") ==
	      0);
	/* unknown method */
	CHECK(unary(port, "/test.T/Nope", 5, tls, mac_hex, msg, &resp, &rlen)
	      == RPC_STATUS_UNIMPLEMENTED);
	CHECK(strstr(msg, "/test.T/Nope") != NULL);
	/* a macaroon-protected method without one */
	CHECK(unary(port, "/test.T/Hang", 5, tls, NULL, msg, &resp, &rlen) ==
	      RPC_STATUS_UNAUTHENTICATED);

	ev_async_send(t.loop, &t.stop);
	pthread_join(th, NULL);
	/* The metrics' view: each call under its method and code (an
	 * unregistered path under "unknown"), each one timed. */
	{
		struct stats_seen seen = { 0 };
		rpc_server_foreach_stats(t.srv, stats_cb, &seen);
		CHECK(seen.hang_deadline == 1 && seen.hang_unauth == 1);
		CHECK(seen.fail_precondition == 1);
		CHECK(seen.unknown_unimplemented == 1);
		CHECK(seen.timed == seen.calls && seen.calls >= 4);
	}
	rpc_server_free(t.srv);
	ev_loop_destroy(t.loop);
}

/* ---- part 2: one loop, streaming clients ------------------------------ */

struct sc {
	struct rpc_client_stream *s;
	int msgs;
	bool closed;
	enum rpc_status st;
	char msg[200];
	uint8_t last[16];
	size_t last_len;
};

static void sc_msg(void *arg, struct rpc_client_stream *s, const uint8_t *m,
		   size_t len)
{
	struct sc *c = arg;
	c->msgs++;
	c->last_len = len < sizeof(c->last) ? len : sizeof(c->last);
	memcpy(c->last, m, c->last_len);
}

static void sc_close(void *arg, struct rpc_client_stream *s,
		     enum rpc_status st, const char *msg)
{
	struct sc *c = arg;
	c->closed = true;
	c->st = st;
	snprintf(c->msg, sizeof(c->msg), "%s", msg);
}

static const struct rpc_client_stream_cbs sc_cbs = {
	.on_message = sc_msg,
	.on_close = sc_close,
};

/* Runs the loop until @cond or 5 s of loop time (a hang guard, not a
 * timing assertion: each condition is reached in a few iterations). */
#define RUN_UNTIL(loop, cond)                                                \
	do {                                                                 \
		double end_ = cn_now() + 5;                                  \
		while (!(cond) && cn_now() < end_)                           \
			ev_run((loop), EVRUN_ONCE);                          \
	} while (0)

static void wait_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
}

static void part_streams(void)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct rpc_server_config cfg;
	const char *listen[] = { "127.0.0.1:0" };
	char target[64];
	struct sc a = { 0 }, b = { 0 }, s = { 0 };

	rpc_server_config_default(&cfg);
	cfg.listen = listen;
	cfg.num_listen = 1;
	cfg.tls_cert_path = cert;
	cfg.tls_key_path = key;
	cfg.macaroons = svc;
	struct rpc_server *srv = rpc_server_new(loop, &cfg);
	CHECK(srv != NULL);
	if (!srv)
		return;
	add_methods(srv);
	snprintf(target, sizeof(target), "127.0.0.1:%u",
		 rpc_server_port(srv, 0));

	struct rpc_client_config cc;
	rpc_client_config_default(&cc);
	cc.target = target;
	cc.tls_cert_path = cert;
	cc.macaroon_hex = mac_hex;

	/* bidi echo, the signer-port shape */
	a.s = rpc_client_stream_open(loop, &cc, "/test.T/Echo", &sc_cbs, &a);
	CHECK(a.s != NULL);
	CHECK(rpc_client_stream_send(a.s, (const uint8_t *)"one", 3));
	RUN_UNTIL(loop, a.msgs >= 1 || a.closed);
	CHECK(a.msgs == 1 && a.last_len == 3 && memcmp(a.last, "one", 3) == 0);
	CHECK(rpc_server_method_calls(srv, "/test.T/Echo") == 1);

	/* a second stream is over the cap of 1 */
	b.s = rpc_client_stream_open(loop, &cc, "/test.T/Echo", &sc_cbs, &b);
	RUN_UNTIL(loop, b.closed);
	CHECK(b.closed && b.st == RPC_STATUS_RESOURCE_EXHAUSTED);
	CHECK(strstr(b.msg, "too many concurrent calls") != NULL);
	rpc_client_stream_free(b.s);
	CHECK(rpc_server_method_calls(srv, "/test.T/Echo") == 1);

	/* more messages, then half-close: the server finishes OK */
	CHECK(rpc_client_stream_send(a.s, (const uint8_t *)"two", 3));
	CHECK(rpc_client_stream_send(a.s, (const uint8_t *)"", 0));
	rpc_client_stream_close_send(a.s);
	RUN_UNTIL(loop, a.closed);
	CHECK(a.msgs == 3 && a.closed && a.st == RPC_STATUS_OK);
	CHECK(rec.half_closes == 1);
	rpc_client_stream_free(a.s);
	RUN_UNTIL(loop, rpc_server_method_calls(srv, "/test.T/Echo") == 0);
	CHECK(rpc_server_method_calls(srv, "/test.T/Echo") == 0);

	/* client streaming */
	s.s = rpc_client_stream_open(loop, &cc, "/test.T/Sum", &sc_cbs, &s);
	for (int i = 0; i < 10; i++)
		CHECK(rpc_client_stream_send(s.s, (const uint8_t *)"0123456789",
					     10));
	rpc_client_stream_close_send(s.s);
	RUN_UNTIL(loop, s.closed);
	CHECK(s.closed && s.st == RPC_STATUS_OK && s.msgs == 1 &&
	      s.last_len == 8 && be64_get(s.last) == 100);
	rpc_client_stream_free(s.s);

	/* Calls refused for their macaroon are anyone's: at most 10 lines a
	 * second, the rest summed up at the next second's first one, every
	 * one accounted for (log_burst). */
	{
		struct rpc_client_config junk = cc;
		char *out = NULL, *at;
		size_t sz = 0, lines = 0, summed = 0, n = 25;
		FILE *f = open_memstream(&out, &sz);

		junk.macaroon_hex = "00ff";
		log_set_stream(f);
		log_set_level("RPC", LOG_INFO);
		for (size_t i = 0; i <= n; i++) {
			struct sc j = { 0 };
			if (i == n) { /* the last one in a new second */
				ev_timer wait;
				ev_timer_init(&wait, wait_cb, 1.1, 0.);
				ev_timer_start(loop, &wait);
				while (ev_is_active(&wait))
					ev_run(loop, EVRUN_ONCE);
			}
			j.s = rpc_client_stream_open(loop, &junk, "/test.T/Echo",
						     &sc_cbs, &j);
			RUN_UNTIL(loop, j.closed);
			CHECK(j.closed && j.st == RPC_STATUS_UNAUTHENTICATED);
			rpc_client_stream_free(j.s);
		}
		log_set_level("RPC", LOG_BROKEN);
		log_set_stream(NULL);
		fclose(f);
		for (at = out; (at = strstr(at, "/test.T/Echo refused: ")); at++)
			lines++;
		for (at = out; (at = strstr(at, "RPC: ")); at++) {
			unsigned long k;
			int end = 0;
			if (sscanf(at, "RPC: %lu more refused calls%n", &k,
				   &end) == 1 && end)
				summed += k;
		}
		CHECK(lines < n + 1 && lines + summed == n + 1);
		free(out);
	}

	/* connection refused is reported through on_close, from the loop */
	struct sc r = { 0 };
	struct rpc_client_config bad = cc;
	bad.target = "127.0.0.1:1";
	r.s = rpc_client_stream_open(loop, &bad, "/test.T/Echo", &sc_cbs, &r);
	CHECK(r.s != NULL && !r.closed);
	RUN_UNTIL(loop, r.closed);
	CHECK(r.closed && r.st == RPC_STATUS_UNAVAILABLE);
	rpc_client_stream_free(r.s);

	/* the server going away with a live call: on_closed(UNAVAILABLE) */
	struct sc d = { 0 };
	d.s = rpc_client_stream_open(loop, &cc, "/test.T/Echo", &sc_cbs, &d);
	rpc_client_stream_send(d.s, (const uint8_t *)"x", 1);
	RUN_UNTIL(loop, d.msgs == 1 || d.closed);
	int before = rec.closed_count;
	rpc_server_free(srv);
	CHECK(rec.closed_count == before + 1 &&
	      rec.last_closed == RPC_STATUS_UNAVAILABLE);
	RUN_UNTIL(loop, d.closed);
	CHECK(d.closed && d.st == RPC_STATUS_UNAVAILABLE);
	rpc_client_stream_free(d.s);
	ev_loop_destroy(loop);
}

int main(void)
{
	cn_crypto_init();
	log_set_level(NULL, LOG_BROKEN);
	setup();
	part_threaded(true);
	part_threaded(false);
	part_streams();
	rpc_macaroon_svc_free(svc);
	free(mac_hex);
	char cmd[200];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK(system(cmd) == 0);
	return check_exit();
}
