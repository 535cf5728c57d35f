/* What a client without a macaroon can make the server core hold or do
 * (issue 22, docs/hardening.md), driven through one server session
 * (src/rpc/call.c, sans-I/O) by a real HTTP/2 client: nghttp2's client
 * session, its HPACK deflater included, in the same process.
 *
 *  - 100 Health-Watch-shaped streams with a 4,000,000-byte request on one
 *    connection: every call RESOURCE_EXHAUSTED, nothing buffered;
 *  - macaroon-less calls capped per pre-auth connection, lifted once a
 *    macaroon passed on it;
 *  - the header list size (RFC 9113 §6.5.2) enforced per stream, also when
 *    HPACK sends one 4 KB value as 1-byte references; the pre-auth header
 *    budget closes the connection;
 *  - a repeated macaroon header refused;
 *  - a :path longer than any method is not copied (UNIMPLEMENTED).
 */
#include "rpc/rpc_internal.h"
#include "check.h"

#include <ev.h>
#include <nghttp2/nghttp2.h>
#include <openssl/ssl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct rpc_perm perm_info[] = { { "info", "read" } };

static struct ev_loop *loop;
static struct rpc_server *srv;
static struct rpc_macaroon_svc *svc;
static char mac_hex[2048];
static size_t watch_msgs_seen; /* bytes of request messages handed over */
static size_t watch_max_len;

/* A server stream like Health/Watch: one message back, then stays open. */
static void watch_msg(void *arg, struct rpc_call *call, const uint8_t *m,
		      size_t len)
{
	watch_msgs_seen++;
	if (len > watch_max_len)
		watch_max_len = len;
	CHECK(rpc_call_send(call, (const uint8_t *)"\x08\x01", 2));
}

static void unary_msg(void *arg, struct rpc_call *call, const uint8_t *m,
		      size_t len)
{
	rpc_call_send(call, m, len);
	rpc_call_finish(call, RPC_STATUS_OK, NULL);
}

/* ---- the client side ----------------------------------------------------- */

#define MAX_STREAMS 256

struct cstream {
	int32_t id;
	int status;        /* grpc-status, -1 none yet */
	char message[256]; /* grpc-message */
	bool closed;
	uint32_t rst;      /* RST_STREAM error code, if reset */
	size_t data;       /* response DATA bytes */
	/* request body: a 5-byte prefix declaring decl bytes, then send
	 * bytes of zeros */
	uint32_t decl;
	size_t send, off;
	bool hold; /* after the body: keep the stream open (no END_STREAM) */
};

struct client {
	nghttp2_session *h2;
	struct rpc_session *s;
	struct cstream st[MAX_STREAMS];
	size_t n;
	bool server_failed;
};

static struct cstream *cs_find(struct client *cl, int32_t id)
{
	for (size_t i = 0; i < cl->n; i++)
		if (cl->st[i].id == id)
			return &cl->st[i];
	return NULL;
}

static int c_on_header(nghttp2_session *h2, const nghttp2_frame *frame,
		       const uint8_t *name, size_t namelen,
		       const uint8_t *value, size_t valuelen, uint8_t flags,
		       void *user)
{
	struct cstream *st = cs_find(user, frame->hd.stream_id);
	if (!st)
		return 0;
	if (namelen == 11 && memcmp(name, "grpc-status", 11) == 0)
		st->status = atoi((const char *)value);
	if (namelen == 12 && memcmp(name, "grpc-message", 12) == 0)
		snprintf(st->message, sizeof(st->message), "%.*s",
			 (int)valuelen, (const char *)value);
	return 0;
}

static int c_on_data(nghttp2_session *h2, uint8_t flags, int32_t sid,
		     const uint8_t *data, size_t len, void *user)
{
	struct cstream *st = cs_find(user, sid);
	if (st)
		st->data += len;
	return 0;
}

static int c_on_close(nghttp2_session *h2, int32_t sid, uint32_t err,
		      void *user)
{
	struct cstream *st = cs_find(user, sid);
	if (st) {
		st->closed = true;
		st->rst = err;
	}
	return 0;
}

static ssize_t c_body(nghttp2_session *h2, int32_t sid, uint8_t *buf,
		      size_t length, uint32_t *flags,
		      nghttp2_data_source *src, void *user)
{
	struct cstream *st = src->ptr;
	size_t total = RPC_FRAME_HDR + st->send, n = 0;
	while (n < length && st->off < total) {
		if (st->off < RPC_FRAME_HDR) {
			uint8_t hdr[RPC_FRAME_HDR];
			rpc_frame_prefix(hdr, st->decl);
			buf[n++] = hdr[st->off++];
		} else {
			size_t k = total - st->off;
			if (k > length - n)
				k = length - n;
			memset(buf + n, 'a', k);
			n += k;
			st->off += k;
		}
	}
	if (st->off == total && st->hold && n == 0)
		return NGHTTP2_ERR_DEFERRED;
	if (st->off == total && !st->hold)
		*flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)n;
}

static void client_init(struct client *cl)
{
	static const uint8_t preface_settings[] = "";
	nghttp2_session_callbacks *cbs;
	nghttp2_option *opt;

	memset(cl, 0, sizeof(*cl));
	CHECK(nghttp2_session_callbacks_new(&cbs) == 0);
	nghttp2_session_callbacks_set_on_header_callback(cbs, c_on_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs,
								  c_on_data);
	nghttp2_session_callbacks_set_on_stream_close_callback(cbs,
								c_on_close);
	CHECK(nghttp2_option_new(&opt) == 0);
	/* The attacks below send header blocks far over any sane size. */
	nghttp2_option_set_max_send_header_block_length(opt, 1 << 24);
	nghttp2_option_set_peer_max_concurrent_streams(opt, 1000);
	CHECK(nghttp2_session_client_new2(&cl->h2, cbs, cl, opt) == 0);
	nghttp2_session_callbacks_del(cbs);
	nghttp2_option_del(opt);
	(void)preface_settings;
	nghttp2_submit_settings(cl->h2, NGHTTP2_FLAG_NONE, NULL, 0);
	cl->s = rpc_session_new(srv, NULL, "test", "127.0.0.1");
	CHECK(cl->s != NULL);
}

/* Moves bytes both ways until neither side has anything to say. */
static void pump(struct client *cl)
{
	for (int round = 0; round < 100000; round++) {
		bool moved = false;
		const uint8_t *p;
		ssize_t n;
		while (!cl->server_failed &&
		       (n = nghttp2_session_mem_send(cl->h2, &p)) > 0) {
			moved = true;
			if (!rpc_session_recv(cl->s, p, (size_t)n))
				cl->server_failed = true;
		}
		while ((n = rpc_session_pull(cl->s, &p)) > 0) {
			moved = true;
			nghttp2_session_mem_recv(cl->h2, p, (size_t)n);
		}
		ev_run(loop, EVRUN_NOWAIT);
		if (!moved || cl->server_failed)
			break;
	}
}

static void client_free(struct client *cl)
{
	rpc_session_free(cl->s, RPC_STATUS_UNAVAILABLE);
	nghttp2_session_del(cl->h2);
}

#define NVS(n, v, vl) { (uint8_t *)(n), (uint8_t *)(v), strlen(n), (vl), \
			NGHTTP2_NV_FLAG_NONE }

/* Opens a POST to @path with @extra headers; body as in struct cstream. */
static struct cstream *call(struct client *cl, const char *path,
			    const char *mac, const nghttp2_nv *extra,
			    size_t nextra, uint32_t decl, size_t send)
{
	nghttp2_nv nv[8 + 4096];
	size_t n = 0;
	nv[n++] = (nghttp2_nv)NVS(":method", "POST", 4);
	nv[n++] = (nghttp2_nv)NVS(":scheme", "https", 5);
	nv[n++] = (nghttp2_nv)NVS(":path", path, strlen(path));
	nv[n++] = (nghttp2_nv)NVS(":authority", "localhost", 9);
	nv[n++] = (nghttp2_nv)NVS("content-type", "application/grpc", 16);
	nv[n++] = (nghttp2_nv)NVS("te", "trailers", 8);
	if (mac)
		nv[n++] = (nghttp2_nv)NVS("macaroon", mac, strlen(mac));
	CHECK(nextra <= 4096);
	for (size_t i = 0; i < nextra; i++)
		nv[n++] = extra[i];
	if (cl->n >= MAX_STREAMS)
		abort();
	struct cstream *st = &cl->st[cl->n];
	memset(st, 0, sizeof(*st));
	st->status = -1;
	st->decl = decl;
	st->send = send;
	nghttp2_data_provider prd = { .source.ptr = st,
				      .read_callback = c_body };
	st->id = nghttp2_submit_request(cl->h2, NULL, nv, n, &prd, NULL);
	CHECK(st->id > 0);
	cl->n++;
	return st;
}

/* ---- the cases ---------------------------------------------------------- */

/* The TCP listener's counters (GetState's ListenerCounters 9 and 10). */
static struct admit_stats counters(void)
{
	struct admit_stats a[2];
	memset(a, 0, sizeof(a));
	CHECK(rpc_server_admit_stats(srv, a, 2) == 1);
	return a[0];
}

/* Issue 22 item 1: one connection, 100 Watch streams each sending a
 * 4,000,000-byte request.  Before: 4 MiB allocated per stream, every call
 * started.  Now: RESOURCE_EXHAUSTED at the 5-byte prefix. */
static void test_watch_big(void)
{
	struct client cl;
	struct admit_stats before = counters();
	client_init(&cl);
	watch_msgs_seen = 0;
	for (int i = 0; i < 100; i++)
		call(&cl, "/t.T/Watch", NULL, NULL, 0, 4000000, 4000000);
	pump(&cl);
	size_t exhausted = 0, reset = 0;
	for (size_t i = 0; i < cl.n; i++) {
		if (cl.st[i].status == RPC_STATUS_RESOURCE_EXHAUSTED)
			exhausted++;
		else if (cl.st[i].closed && cl.st[i].status < 0)
			reset++;
	}
	fprintf(stderr, "watch 4 MB x100: %zu RESOURCE_EXHAUSTED, %zu reset, "
		"%zu messages delivered\n", exhausted, reset, watch_msgs_seen);
	CHECK(exhausted + reset == 100);
	CHECK(exhausted >= 90);
	CHECK(watch_msgs_seen == 0);
	CHECK(counters().unauth_calls_refused - before.unauth_calls_refused ==
	      100);
	client_free(&cl);
}

/* The per-connection cap; a macaroon that passes lifts it. */
static void test_unauth_cap(void)
{
	struct client cl;
	client_init(&cl);
	watch_msgs_seen = 0;
	watch_max_len = 0;
	for (int i = 0; i < 6; i++)
		call(&cl, "/t.T/Watch", NULL, NULL, 0, 900, 900);
	pump(&cl);
	size_t open = 0, capped = 0;
	for (size_t i = 0; i < cl.n; i++) {
		if (!cl.st[i].closed && cl.st[i].data > 0)
			open++;
		if (cl.st[i].status == RPC_STATUS_RESOURCE_EXHAUSTED &&
		    strstr(cl.st[i].message, "on this connection"))
			capped++;
	}
	fprintf(stderr, "6 small watches: %zu open, %zu capped\n", open,
		capped);
	CHECK(open == 4);
	CHECK(capped == 2);
	CHECK(watch_max_len == 900);
	/* A 1 KiB + 1 request is refused even on a fresh stream slot. */
	struct cstream *big = call(&cl, "/t.T/Watch", NULL, NULL, 0, 1025,
				   1025);
	pump(&cl);
	CHECK(big->status == RPC_STATUS_RESOURCE_EXHAUSTED);
	/* Authenticate: a call whose macaroon passes. */
	struct cstream *a = call(&cl, "/t.T/Auth", mac_hex, NULL, 0, 3, 3);
	pump(&cl);
	CHECK(a->status == RPC_STATUS_OK);
	struct cstream *more[4];
	for (int i = 0; i < 4; i++)
		more[i] = call(&cl, "/t.T/Watch", NULL, NULL, 0, 10, 10);
	pump(&cl);
	for (int i = 0; i < 4; i++)
		CHECK(!more[i]->closed && more[i]->data > 0);
	client_free(&cl);

	/* A Watch that carries a valid macaroon authenticates its
	 * connection (a monitor sending its macaroon on every call); a bad
	 * one is ignored (the method is public) and lifts nothing. */
	client_init(&cl);
	struct cstream *bad[6], *good[6];
	for (int i = 0; i < 6; i++)
		bad[i] = call(&cl, "/t.T/Watch", "00", NULL, 0, 10, 10);
	pump(&cl);
	size_t served = 0;
	for (int i = 0; i < 6; i++)
		served += !bad[i]->closed && bad[i]->data > 0;
	CHECK(served == 4);
	client_free(&cl);
	client_init(&cl);
	for (int i = 0; i < 6; i++)
		good[i] = call(&cl, "/t.T/Watch", mac_hex, NULL, 0, 10, 10);
	pump(&cl);
	for (int i = 0; i < 6; i++)
		CHECK(!good[i]->closed && good[i]->data > 0);
	client_free(&cl);
}

/* nghttp2's deflater indexes an entry only up to 3/4 of its 4 KiB table:
 * 3,000 bytes is indexed once and then sent as 1-byte references. */
static char bigval[3000];

/* Issue 22 item 2: 4,000 references to one 3 KB header value (12 MB of
 * header list in about 7 KB on the wire). */
static void test_header_list(bool authed)
{
	static nghttp2_nv extra[4000];
	struct client cl;
	struct admit_stats before = counters();
	client_init(&cl);
	memset(bigval, 'v', sizeof(bigval));
	for (size_t i = 0; i < CN_ARRAY_SIZE(extra); i++)
		extra[i] = (nghttp2_nv)NVS("x-pad", bigval, sizeof(bigval));
	if (authed) {
		struct cstream *a = call(&cl, "/t.T/Auth", mac_hex, NULL, 0,
					 3, 3);
		pump(&cl);
		CHECK(a->status == RPC_STATUS_OK);
	}
	struct cstream *st = call(&cl, "/t.T/Auth", mac_hex, extra,
				  CN_ARRAY_SIZE(extra), 3, 3);
	pump(&cl);
	fprintf(stderr, "header list 12 MB (%s): status %d \"%s\", rst %u, "
		"server failed %d\n", authed ? "authenticated" : "pre-auth",
		st->status, st->message, st->rst, cl.server_failed);
	/* Refused either way: RESOURCE_EXHAUSTED / reset, or (pre-auth, once
	 * over the connection's header budget) the connection closed. */
	CHECK(st->status != RPC_STATUS_OK);
	CHECK(st->status == RPC_STATUS_RESOURCE_EXHAUSTED ||
	      (st->closed && st->rst != 0) || cl.server_failed);
	/* Before authentication the connection is closed at once. */
	CHECK(authed || cl.server_failed);
	CHECK(counters().headers_refused - before.headers_refused == 1);
	if (authed) {
		/* The connection still serves. */
		CHECK(!cl.server_failed);
		struct cstream *b = call(&cl, "/t.T/Auth", mac_hex, NULL, 0,
					 3, 3);
		pump(&cl);
		CHECK(b->status == RPC_STATUS_OK);
	}
	client_free(&cl);
}

/* Trailers count too: on an authenticated connection a started Watch whose
 * client sends 12 MB of trailers is reset; the connection still serves. */
static void test_trailers(void)
{
	static nghttp2_nv extra[4000];
	struct client cl;
	client_init(&cl);
	for (size_t i = 0; i < CN_ARRAY_SIZE(extra); i++)
		extra[i] = (nghttp2_nv)NVS("x-pad", bigval, sizeof(bigval));
	struct cstream *a = call(&cl, "/t.T/Auth", mac_hex, NULL, 0, 3, 3);
	pump(&cl);
	CHECK(a->status == RPC_STATUS_OK);
	/* A Watch whose stream stays open after its request. */
	struct cstream *w = call(&cl, "/t.T/Watch", NULL, NULL, 0, 10, 10);
	w->hold = true;
	pump(&cl);
	CHECK(w->data > 0);
	CHECK(!w->closed);
	struct admit_stats before = counters();
	CHECK(nghttp2_submit_trailer(cl.h2, w->id, extra,
				     CN_ARRAY_SIZE(extra)) == 0);
	pump(&cl);
	CHECK(w->closed && w->rst != 0);
	CHECK(!cl.server_failed);
	CHECK(counters().headers_refused - before.headers_refused == 1);
	struct cstream *b = call(&cl, "/t.T/Auth", mac_hex, NULL, 0, 3, 3);
	pump(&cl);
	CHECK(b->status == RPC_STATUS_OK);
	client_free(&cl);
}

/* 64 streams of 21 KB headers each (under the per-stream limit): a
 * pre-auth connection runs out of its header budget and is closed. */
static void test_preauth_budget(void)
{
	static nghttp2_nv extra[7];
	struct client cl;
	client_init(&cl);
	for (size_t i = 0; i < CN_ARRAY_SIZE(extra); i++)
		extra[i] = (nghttp2_nv)NVS("x-pad", bigval, sizeof(bigval));
	for (int i = 0; i < 64; i++)
		call(&cl, "/t.T/Unknown", NULL, extra, CN_ARRAY_SIZE(extra),
		     3, 3);
	pump(&cl);
	fprintf(stderr, "pre-auth header budget: server failed %d\n",
		cl.server_failed);
	CHECK(cl.server_failed);
	client_free(&cl);
}

static void test_two_macaroons(void)
{
	struct client cl;
	client_init(&cl);
	nghttp2_nv extra[] = { NVS("macaroon", mac_hex, strlen(mac_hex)) };
	struct cstream *st = call(&cl, "/t.T/Auth", mac_hex, extra, 1, 3, 3);
	pump(&cl);
	CHECK(st->status == RPC_STATUS_UNAUTHENTICATED);
	CHECK(strstr(st->message, "expected 1 macaroon, got 2") != NULL);
	client_free(&cl);
}

static void test_long_path(void)
{
	char path[2000];
	struct client cl;
	client_init(&cl);
	memset(path, 'p', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	struct cstream *st = call(&cl, path, NULL, NULL, 0, 3, 3);
	pump(&cl);
	CHECK(st->status == RPC_STATUS_UNIMPLEMENTED);
	client_free(&cl);
}

static size_t count_lines(FILE *f, const char *needle, const char *level)
{
	char line[2048];
	size_t n = 0;
	fflush(f);
	rewind(f);
	while (fgets(line, sizeof(line), f))
		if (strstr(line, needle) && (!level || strstr(line, level)))
			n++;
	return n;
}

/* Issue 22 item 5: a connection's refused calls write at most a few INFO
 * lines (the global cap of 10 a second let one connection take them
 * all), and a caveat's text cannot forge a log line. */
static void test_logs(void)
{
	FILE *f = tmpfile();
	struct client cl;
	uint8_t *mac;
	size_t maclen;
	char hex[2048];
	const char *cav[] = { "x\n2026-01-01T00:00:00.000[BRK]forged" };

	CHECK(f != NULL);
	if (!f)
		return;
	log_set_stream(f);
	log_set_level(NULL, LOG_DEBUG);
	client_init(&cl);
	for (int i = 0; i < 50; i++)
		call(&cl, "/t.T/Auth", "0011223344", NULL, 0, 3, 3);
	pump(&cl);
	size_t info = count_lines(f, "refused:", "[INF]");
	fprintf(stderr, "50 refused calls on one connection: %zu INFO lines\n",
		info);
	CHECK(info >= 1 && info <= 3);
	CHECK(rpc_macaroon_bake(svc, &mac, &maclen, perm_info, 1, cav, 1));
	hex_encode(hex, mac, maclen);
	free(mac);
	struct cstream *st = call(&cl, "/t.T/Auth", hex, NULL, 0, 3, 3);
	pump(&cl);
	CHECK(st->status == RPC_STATUS_UNAUTHENTICATED);
	CHECK(count_lines(f, "\\x0a2026-01-01T00:00:00.000[BRK]forged",
			  NULL) >= 1);
	fflush(f);
	rewind(f);
	char line[2048];
	while (fgets(line, sizeof(line), f))
		CHECK(strncmp(line, "2026-01-01T", 11) != 0);
	client_free(&cl);
	log_set_stream(stderr);
	log_set_level(NULL, getenv("TEST_DEBUG") ? LOG_DEBUG : LOG_BROKEN);
	fclose(f);
}

/* TLS contexts (issue 22): TLS 1.2 suites ECDHE + AEAD only, decrypted
 * records wiped by OpenSSL, a tls.key others can read refused. */
static void test_tls_ctx(void)
{
	char dir[] = "/tmp/cn-rpclimits-XXXXXX", cert[64], key[64];
	CHECK(mkdtemp(dir) != NULL);
	snprintf(cert, sizeof(cert), "%s/tls.cert", dir);
	snprintf(key, sizeof(key), "%s/tls.key", dir);
	CHECK(rpc_tls_ensure(cert, key, NULL, 0));
	SSL_CTX *ctxs[2] = { rpc_tls_server_ctx(cert, key),
			     rpc_tls_client_ctx(cert) };
	for (int k = 0; k < 2; k++) {
		SSL_CTX *ctx = ctxs[k];
		CHECK(ctx != NULL);
		if (!ctx)
			continue;
		CHECK(SSL_CTX_get_options(ctx) & SSL_OP_CLEANSE_PLAINTEXT);
		STACK_OF(SSL_CIPHER) *cs = SSL_CTX_get_ciphers(ctx);
		int n12 = 0;
		for (int i = 0; i < sk_SSL_CIPHER_num(cs); i++) {
			const SSL_CIPHER *c = sk_SSL_CIPHER_value(cs, i);
			if (strcmp(SSL_CIPHER_get_version(c), "TLSv1.3") == 0)
				continue;
			n12++;
			CHECK(SSL_CIPHER_is_aead(c));
			CHECK(SSL_CIPHER_get_kx_nid(c) == NID_kx_ecdhe);
		}
		CHECK(n12 == 6);
		SSL_CTX_free(ctx);
	}
	CHECK(chmod(key, 0640) == 0);
	CHECK(rpc_tls_server_ctx(cert, key) == NULL);
	unlink(cert);
	unlink(key);
	rmdir(dir);
}

int main(void)
{
	struct rpc_server_config cfg;
	uint8_t key[32], *mac;
	size_t maclen;

	cn_crypto_init();
	log_set_level(NULL, getenv("TEST_DEBUG") ? LOG_DEBUG : LOG_BROKEN);
	memset(key, 7, sizeof(key));
	svc = rpc_macaroon_svc_from_key(key);
	CHECK(rpc_macaroon_bake(svc, &mac, &maclen, perm_info, 1, NULL, 0));
	CHECK(maclen * 2 < sizeof(mac_hex));
	hex_encode(mac_hex, mac, maclen);
	free(mac);
	loop = ev_loop_new(EVFLAG_AUTO);
	rpc_server_config_default(&cfg);
	cfg.macaroons = svc;
	srv = rpc_server_new(loop, &cfg);
	const struct rpc_method ms[] = {
		{ .path = "/t.T/Watch", .kind = RPC_KIND_SERVER_STREAM,
		  .no_macaroon = true, .on_message = watch_msg },
		{ .path = "/t.T/Auth", .kind = RPC_KIND_UNARY,
		  .perms = perm_info, .num_perms = 1,
		  .on_message = unary_msg },
	};
	for (size_t i = 0; i < CN_ARRAY_SIZE(ms); i++)
		rpc_server_add_method(srv, &ms[i]);

	test_watch_big();
	test_unauth_cap();
	test_header_list(false);
	test_header_list(true);
	test_preauth_budget();
	test_trailers();
	test_two_macaroons();
	test_long_path();
	test_logs();
	test_tls_ctx();

	rpc_server_free(srv);
	rpc_macaroon_svc_free(svc);
	ev_loop_destroy(loop);
	return check_exit();
}
