/* The signer port for real: the supervisor served on the rpc core over TLS
 * on 127.0.0.1, signers as gRPC clients on the same loop.  Every kind of
 * bad input is refused with a clear status and the port keeps serving. */
#include "supervisor/supervisor.h"
#include "coldsigner/coldsigner.h"
#include "rpc/rpc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ev.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "grpc_signer.h"

static struct ev_loop *loop;

struct client {
	const char *name;
	struct rpc_client_stream *s;
	struct cn_nodekey *key;  /* answer requests with it (NULL: silent) */
	const uint8_t *first;    /* sent on open instead of a registration */
	size_t first_len;
	bool closed;
	enum rpc_status st;
	char msg[400];
	size_t msgs;
};

static void c_open(void *arg, struct rpc_client_stream *s)
{
	struct client *c = arg;

	if (c->first) {
		rpc_client_stream_send(s, c->first, c->first_len);
		return;
	}
	if (!c->key)
		return;
	signer_register(s);
}

static void c_message(void *arg, struct rpc_client_stream *s,
		      const uint8_t *msg, size_t len)
{
	struct client *c = arg;

	c->msgs++;
	if (!c->key)
		return;
	signer_answer(s, c->key, msg, len);
}

static void c_close(void *arg, struct rpc_client_stream *s, enum rpc_status st,
		    const char *msg)
{
	struct client *c = arg;

	c->closed = true;
	c->st = st;
	snprintf(c->msg, sizeof(c->msg), "%s", msg ? msg : "");
}

static const struct rpc_client_stream_cbs ccbs = { c_open, c_message, c_close };

static char target[64], cert[128], key[128];

static void dial(struct client *c, const char *mac_hex)
{
	c->closed = false;
	c->s = signer_dial_stream(loop, target, cert, mac_hex, &ccbs, c);
	CHECK(c->s != NULL);
}

static void tick(struct ev_loop *l, ev_timer *w, int revents)
{
}

#define RUN_UNTIL(cond)                                                       \
	do {                                                                  \
		double _end = cn_now() + 10;                                  \
		while (!(cond) && cn_now() < _end)                            \
			ev_run(loop, EVRUN_ONCE);                             \
	} while (0)

static struct cn_nodekey *key_n(uint8_t n)
{
	uint8_t priv[32] = { 0 };
	priv[31] = n;
	return cn_nodekey_from_secret(priv);
}

/* sv_cbs.signer_arriving: connections seen while no signer was ready. */
static size_t arrivals;
static void on_arriving(void *arg, struct supervisor *sv)
{
	arrivals++;
}

/* A raw TCP client sends @bytes and waits for the server to close. */
static bool raw_refused(uint16_t port, const void *bytes, size_t len)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct timeval tv = { .tv_sec = 10 };
	char buf[4096];
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	ssize_t n;
	bool closed = false;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		close(fd);
		return false;
	}
	if (write(fd, bytes, len) != (ssize_t)len) {
		close(fd);
		return true;
	}
	/* The server runs on our loop: turn it while we wait. */
	for (int i = 0; i < 2000 && !closed; i++) {
		ev_run(loop, EVRUN_NOWAIT);
		n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
			closed = true;
		else
			usleep(1000);
	}
	close(fd);
	return closed;
}

/* An idle TCP connection to 127.0.0.1:@port from @src (127.0.0.x). */
static int idle_conn(uint16_t port, const char *src)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct sockaddr_in from = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	CHECK(fd >= 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK(inet_pton(AF_INET, src, &from.sin_addr) == 1);
	CHECK(bind(fd, (struct sockaddr *)&from, sizeof(from)) == 0);
	CHECK(connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
	return fd;
}

/* The budget has decided on @n connections (admitted or refused). */
static bool budget_saw(struct rpc_server *srv, uint64_t n)
{
	struct admit_stats as;

	return rpc_server_admit_stats(srv, &as, 1) == 1 &&
	       as.accepted + as.count[ADMIT_REFUSED_SOURCE] >= n;
}

/* Issue 13 meets issue 14: a connection the signer port's budget refuses
 * at accept is not a signer arriving (it would start early dials), and
 * evicting a pre-auth connection announces nothing either; only admitted
 * connections are announced, once each. */
static void test_refused_not_arriving(const struct rpc_macaroon_svc *svc)
{
	const char *listen[] = { "127.0.0.1:0" };
	struct sv_server_limits lim = { .max_preauth = 2,
					.max_preauth_per_source = 2,
					.preauth_timeout = 30 };
	struct sv_cbs cbs = { .signer_arriving = on_arriving };
	struct rpc_server *srv;
	struct supervisor *sv;
	struct sv_config cfg;
	struct admit_stats as;
	struct sv_info info;
	int fd[4];

	sv_config_default(&cfg);
	arrivals = 0;
	sv = sv_new(loop, &cfg, &cbs);
	srv = sv_server_new_limits(loop, sv, listen, 1, NULL, cert, key, svc,
				   &lim);
	CHECK(sv && srv);
	/* Two from 127.0.0.1 are admitted and announced; the third is over
	 * the per-source cap: closed at accept, not announced. */
	for (int i = 0; i < 3; i++)
		fd[i] = idle_conn(rpc_server_port(srv, 0), "127.0.0.1");
	RUN_UNTIL(budget_saw(srv, 3));
	CHECK(rpc_server_admit_stats(srv, &as, 1) == 1);
	CHECK(as.accepted == 2 && as.count[ADMIT_REFUSED_SOURCE] == 1);
	CHECK(arrivals == 2);
	/* A newcomer from 127.0.0.2 with the budget full: admitted (and
	 * announced), one of 127.0.0.1's evicted (not announced again). */
	fd[3] = idle_conn(rpc_server_port(srv, 0), "127.0.0.2");
	RUN_UNTIL(budget_saw(srv, 4));
	CHECK(rpc_server_admit_stats(srv, &as, 1) == 1);
	CHECK(as.accepted == 3 && as.count[ADMIT_EVICTED] == 1);
	CHECK(as.unauthenticated == 2);
	CHECK(arrivals == 3);
	sv_get_info(sv, &info);
	CHECK(info.signer_arrivals == 3);
	for (int i = 0; i < 4; i++)
		close(fd[i]);
	rpc_server_free(srv);
	sv_free(sv);
}

int main(void)
{
	char dir[64] = "/tmp/svsrvXXXXXX", cmd[128];
	const char *listen[] = { "127.0.0.1:0" };
	static const uint8_t rootkey[32] = { 1, 2, 3 };
	struct rpc_macaroon_svc *svc;
	struct supervisor *sv;
	struct rpc_server *srv;
	struct sv_config cfg;
	struct cn_nodekey *good, *bad;
	char *mac_ok, *mac_wrong;
	struct sv_info info;
	ev_timer t;
	uint16_t port;

	/* As the daemon: a peer closing its socket must not kill us. */
	signal(SIGPIPE, SIG_IGN);
	cn_crypto_init();
	good = key_n(7);
	bad = key_n(8);
	log_set_level(NULL, LOG_UNUSUAL);
	loop = ev_loop_new(0);
	ev_timer_init(&t, tick, 0.005, 0.005);
	ev_timer_start(loop, &t);
	CHECK(mkdtemp(dir) != NULL);
	snprintf(cert, sizeof(cert), "%s/tls.cert", dir);
	snprintf(key, sizeof(key), "%s/tls.key", dir);
	CHECK(rpc_tls_ensure(cert, key, NULL, 0));
	svc = rpc_macaroon_svc_from_key(rootkey);
	mac_ok = signer_macaroon_hex(svc, "remotesigner", "generate");
	mac_wrong = signer_macaroon_hex(svc, "info", "read");
	CHECK(mac_ok && mac_wrong);

	sv_config_default(&cfg);
	/* Also the registration deadline the silent client runs into. */
	cfg.request_timeout = 2;
	cfg.have_node_pubkey = true;
	cn_nodekey_pub(good, cfg.node_pubkey);
	{
		struct sv_cbs cbs = { .signer_arriving = on_arriving };
		sv = sv_new(loop, &cfg, &cbs);
	}
	srv = sv_server_new(loop, sv, listen, 1, NULL, cert, key, svc);
	CHECK(srv != NULL);
	port = rpc_server_port(srv, 0);
	snprintf(target, sizeof(target), "127.0.0.1:%u", port);

	/* Garbage bytes and HTTP/1.1 on the TLS port: connection closed. */
	CHECK(raw_refused(port, "\x00\xff garbage \x01\x02\x03", 14));
	CHECK(raw_refused(port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27));
	/* Each connection was announced as soon as it was accepted, before
	 * TLS (issue 14: peers are dialed while the signer registers). */
	CHECK(arrivals == 2);

	/* Issue 13 meets issue 12's log files: failed TLS handshakes are
	 * anyone's, so their lines are capped (10 a second, the rest summed
	 * up when the next second's first one comes); every one is
	 * accounted for. */
	{
		char *out = NULL, *at;
		size_t sz = 0, lines = 0, summed = 0, n = 40;
		FILE *f = open_memstream(&out, &sz);
		double t0;

		log_set_stream(f);
		log_set_level("SUPV", LOG_INFO);
		for (size_t i = 0; i < n; i++)
			CHECK(raw_refused(port, "\x00\xff garbage \x01\x02\x03",
					  14));
		t0 = cn_now();
		while (cn_now() < t0 + 1.1)
			ev_run(loop, EVRUN_ONCE);
		CHECK(raw_refused(port, "\x00\xff garbage \x01\x02\x03", 14));
		log_set_level("SUPV", LOG_UNUSUAL);
		log_set_stream(NULL);
		fclose(f);
		for (at = out; (at = strstr(at, "[INF] SUPV: 127.0.0.1:")); at++)
			lines += strstr(at, "TLS handshake failed") &&
				 strstr(at, "TLS handshake failed") <
					 strchr(at, '\n');
		for (at = out; (at = strstr(at, "SUPV: ")); at++) {
			unsigned long k;
			int end = 0;
			if (sscanf(at, "SUPV: %lu more TLS handshake "
				       "failures%n", &k, &end) == 1 && end)
				summed += k;
		}
		CHECK(lines < n && lines + summed == n + 1);
		free(out);
	}

	/* Wrong macaroon: valid, but without remotesigner:generate. */
	{
		struct client c = { .name = "wrongmac", .key = good };
		dial(&c, mac_wrong);
		RUN_UNTIL(c.closed);
		CHECK(c.st == RPC_STATUS_PERMISSION_DENIED);
		rpc_client_stream_free(c.s);
	}
	/* Not a macaroon at all. */
	{
		struct client c = { .name = "junkmac", .key = good };
		dial(&c, "00ff");
		RUN_UNTIL(c.closed);
		CHECK(c.st == RPC_STATUS_UNAUTHENTICATED);
		rpc_client_stream_free(c.s);
	}
	/* No macaroon. */
	{
		struct client c = { .name = "nomac", .key = good };
		dial(&c, NULL);
		RUN_UNTIL(c.closed);
		CHECK(c.st == RPC_STATUS_UNAUTHENTICATED);
		rpc_client_stream_free(c.s);
	}
	/* A stream with no registration. */
	{
		struct client c = { .name = "silent" };
		dial(&c, mac_ok);
		RUN_UNTIL(c.closed);
		CHECK(c.st == RPC_STATUS_DEADLINE_EXCEEDED);
		CHECK(strstr(c.msg, "registration") != NULL);
		rpc_client_stream_free(c.s);
	}
	/* Wrong first request id. */
	{
		size_t len;
		uint8_t *reg = cs_registration(&len);
		struct client c = { .name = "wrongid", .first = reg,
				    .first_len = len };
		reg[1] = 3;
		dial(&c, mac_ok);
		RUN_UNTIL(c.closed);
		CHECK(c.st == RPC_STATUS_INVALID_ARGUMENT);
		CHECK(strcmp(c.msg, "initial request ID must be 1, but is: 3") == 0);
		rpc_client_stream_free(c.s);
		free(reg);
	}
	/* Unknown oneof member (a MuSig2 response, field 6). */
	{
		static const uint8_t unk[] = { 0x08, 0x01, 0x32, 0x00 };
		struct client c = { .name = "unknown", .first = unk,
				    .first_len = sizeof(unk) };
		dial(&c, mac_ok);
		RUN_UNTIL(c.closed);
		CHECK(c.st == RPC_STATUS_INVALID_ARGUMENT);
		CHECK(strstr(c.msg, "expected registration message") != NULL);
		rpc_client_stream_free(c.s);
	}
	/* Garbage protobuf. */
	{
		static const uint8_t junk[] = { 0x0f, 0xff, 0xff };
		struct client c = { .name = "junk", .first = junk,
				    .first_len = sizeof(junk) };
		dial(&c, mac_ok);
		RUN_UNTIL(c.closed);
		CHECK(c.st == RPC_STATUS_INVALID_ARGUMENT);
		rpc_client_stream_free(c.s);
	}
	/* Oversize message. */
	{
		uint8_t *big = calloc(1, SV_MAX_MSG + 100);
		struct client c = { .name = "big", .first = big,
				    .first_len = SV_MAX_MSG + 100 };
		dial(&c, mac_ok);
		RUN_UNTIL(c.closed);
		CHECK(c.st == RPC_STATUS_RESOURCE_EXHAUSTED);
		rpc_client_stream_free(c.s);
		free(big);
	}
	/* A signer with the wrong key.  Issue 22: it registered, but that
	 * proves nothing: never counted as authenticated, and its whole
	 * connection is closed (by us, while the client still holds it), so
	 * it cannot register again on it. */
	{
		struct client c = { .name = "wrongkey", .key = bad };
		struct admit_stats as;
		dial(&c, mac_ok);
		RUN_UNTIL(c.closed);
		CHECK(c.st == RPC_STATUS_PERMISSION_DENIED);
		CHECK(strstr(c.msg, "signer holds node key") != NULL);
		RUN_UNTIL(rpc_server_admit_stats(srv, &as, 1) == 1 &&
			  as.unauthenticated + as.authenticated == 0);
		CHECK(rpc_server_admit_stats(srv, &as, 1) == 1);
		CHECK(as.authenticated == 0 && as.unauthenticated == 0);
		CHECK(rpc_server_num_conns(srv) == 0);
		rpc_client_stream_free(c.s);
	}
	CHECK(sv_get_state(sv) == SV_WAITING_FOR_SIGNER);

	/* After all that, the right signer gets in ... */
	{
		struct client c = { .name = "good", .key = good };
		struct client c2 = { .name = "second", .key = good };
		size_t before = arrivals;
		dial(&c, mac_ok);
		RUN_UNTIL(sv_get_state(sv) == SV_ACTIVE);
		CHECK(sv_get_state(sv) == SV_ACTIVE);
		CHECK(arrivals == before + 1);
		/* ... a second one is refused (and, ACTIVE, not announced) ... */
		dial(&c2, mac_ok);
		RUN_UNTIL(c2.closed);
		CHECK(arrivals == before + 1);
		CHECK(c2.st == RPC_STATUS_ALREADY_EXISTS);
		CHECK(strcmp(c2.msg, "only one remote signer can be connected") == 0);
		rpc_client_stream_free(c2.s);
		CHECK(sv_get_state(sv) == SV_ACTIVE);
		/* ... and dropping the stream (RST_STREAM) is a loss. */
		rpc_client_stream_free(c.s);
		RUN_UNTIL(sv_get_state(sv) == SV_SAFE_MODE);
		CHECK(sv_get_state(sv) == SV_SAFE_MODE);
	}
	/* And back. */
	{
		struct client c = { .name = "again", .key = good };
		dial(&c, mac_ok);
		RUN_UNTIL(sv_get_state(sv) == SV_ACTIVE);
		CHECK(sv_get_state(sv) == SV_ACTIVE);
		sv_get_info(sv, &info);
		CHECK(info.signer_ready);
		CHECK(info.key_mismatches == 1);
		CHECK(info.signer_refused == 1);
		CHECK(info.signer_arrivals == arrivals);
		rpc_client_stream_free(c.s);
	}

	rpc_server_free(srv);
	sv_free(sv);
	test_refused_not_arriving(svc);
	rpc_macaroon_svc_free(svc);
	free(mac_ok);
	free(mac_wrong);
	cn_nodekey_free(good);
	cn_nodekey_free(bad);
	ev_timer_stop(loop, &t);
	ev_loop_destroy(loop);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK(system(cmd) == 0);
	return check_exit();
}
