/*~ flood: a connection flood against one coldnode listener, for tests and
 * the flood benchmark.  It keeps --conns connections open, each sending
 * nothing (after the TLS handshake with --tls), and reopens each one as
 * soon as the node closes it, as an attacker holding slots would.
 *
 * Bounded: at most 4096 connections, at most 600 s, targets in 127.0.0.0/8
 * or a unix socket only, sources 127.0.0.2 .. 127.0.0.60 (Linux routes
 * 127/8 to lo).  --rate caps new connections per second (token bucket);
 * 0 means as fast as the node closes them.
 *
 * Prints one JSON line of counters every --interval seconds and at the
 * end:  {"t":..,"open":..,"connects":..,"tls_ok":..,"closed":..,
 *        "refused_fast":..,"connect_err":..}
 * "closed" counts connections the node closed; "refused_fast" those closed
 * before any TLS byte came back (a refusal at accept).
 *
 * --attack makes each connection (after TLS, ALPN h2) attack instead of
 * idling (issue 22, docs/hardening.md):
 *   watch  --streams N (default 100) grpc.health.v1.Health/Watch calls,
 *          no macaroon, each a HealthCheckRequest whose `service` is
 *          --size bytes (default 4,000,000), through nghttp2's client
 *          session.  Adds "watch_exhausted" (RESOURCE_EXHAUSTED),
 *          "watch_other" (another grpc-status), "watch_reset" (stream
 *          reset without a status), "watch_served" (a response message
 *          came back: the call was accepted) to the JSON lines.
 *   hpack  raw HTTP/2: one `macaroon` header with a --size byte value
 *          (default 4,000; at most 4,050 so that it fits the 4 KiB HPACK
 *          table) sent once with incremental indexing, then 1-byte
 *          references to it filling a HEADERS frame and --cont (default 7)
 *          CONTINUATION frames of 16 KiB, stream after stream.  Adds
 *          "hpack_streams" and "hpack_bytes".
 * Both reopen a connection the node closes, like the idle flood.
 *
 * --act1 NODEID (p2p, issue 22): each connection sends a fresh BOLT 8 act
 * one to NODEID (hex), the node asks its signer for an ECDH, and the
 * connection starts over as soon as act two comes back or --act1-wait-ms
 * (default 0: at once, before any answer) has passed: the cheapest way
 * to make an unauthenticated stranger cost the signer one request, and
 * closing early leaves the request with the signer while the slot is
 * free for the next one.  The JSON line then has "act2": act twos
 * received.
 *
 * Usage: flood --target 127.0.0.1:PORT | --unix PATH  [--tls]
 *              [--act1 NODEID] [--conns N] [--sources K] [--duration S]
 *              [--rate R] [--interval S] [--attack watch|hpack]
 *              [--streams N] [--size B] [--cont K]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <nghttp2/nghttp2.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "brontide/brontide.h"
#include "common/common.h"

#define MAX_CONNS 4096
#define MAX_SOURCES 59 /* 127.0.0.2 .. 127.0.0.60 */
#define MAX_DURATION 600.0

enum attack { ATTACK_NONE, ATTACK_WATCH, ATTACK_HPACK };

struct fconn {
	int idx;
	int fd;
	SSL *ssl;
	ev_io io;
	ev_timer act1_timer; /* --act1: close this long after act one */
	bool connected, tls_ok;
	/* --attack */
	nghttp2_session *h2; /* watch */
	uint8_t *out;        /* bytes for the socket (hpack; watch's pending) */
	size_t out_len, out_off;
	int32_t next_sid;    /* hpack */
	bool indexed;        /* hpack: the value is in the node's table */
};

#define MAX_STREAMS 1000
#define HPACK_FRAME 16384

static struct {
	struct sockaddr_in target;
	struct sockaddr_un unix_target;
	bool use_unix, tls;
	int conns, sources;
	double duration, rate, interval;
	SSL_CTX *ctx;
	struct ev_loop *loop;
	struct fconn *c;
	double tokens, last_refill, start;
	int waiting; /* connections waiting for a token */
	uint64_t connects, tls_ok, closed, refused_fast, connect_err;
	ev_timer tick, stop, retry;
	enum attack attack;
	int streams, cont;
	size_t size;
	uint8_t *body;   /* watch: the framed request, shared */
	size_t body_len;
	uint64_t w_exhausted, w_other, w_reset, w_served;
	uint64_t h_streams, h_bytes;
	/* --act1: the node's id, our (throwaway) static key, act twos. */
	bool act1;
	uint8_t act1_node[33], act1_ls[33];
	uint64_t act2;
	double act1_wait; /* seconds from act one to our close */
} F;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void report(void)
{
	int open = 0;
	for (int i = 0; i < F.conns; i++)
		open += F.c[i].fd >= 0;
	printf("{\"t\":%.2f,\"open\":%d,\"connects\":%llu,\"tls_ok\":%llu,"
	       "\"closed\":%llu,\"refused_fast\":%llu,\"connect_err\":%llu",
	       now() - F.start, open, (unsigned long long)F.connects,
	       (unsigned long long)F.tls_ok, (unsigned long long)F.closed,
	       (unsigned long long)F.refused_fast,
	       (unsigned long long)F.connect_err);
	if (F.act1)
		printf(",\"act2\":%llu", (unsigned long long)F.act2);
	if (F.attack == ATTACK_WATCH)
		printf(",\"watch_exhausted\":%llu,\"watch_other\":%llu,"
		       "\"watch_reset\":%llu,\"watch_served\":%llu",
		       (unsigned long long)F.w_exhausted,
		       (unsigned long long)F.w_other,
		       (unsigned long long)F.w_reset,
		       (unsigned long long)F.w_served);
	if (F.attack == ATTACK_HPACK)
		printf(",\"hpack_streams\":%llu,\"hpack_bytes\":%llu",
		       (unsigned long long)F.h_streams,
		       (unsigned long long)F.h_bytes);
	printf("}\n");
	fflush(stdout);
}

static void io_cb(struct ev_loop *loop, ev_io *w, int revents);
static void open_conn(struct fconn *c);

static void close_conn(struct fconn *c, bool by_peer)
{
	if (c->fd < 0)
		return;
	ev_io_stop(F.loop, &c->io);
	ev_timer_stop(F.loop, &c->act1_timer);
	if (c->ssl) {
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->h2) {
		nghttp2_session_del(c->h2);
		c->h2 = NULL;
	}
	free(c->out);
	c->out = NULL;
	c->out_len = c->out_off = 0;
	c->indexed = false;
	close(c->fd);
	c->fd = -1;
	if (by_peer) {
		F.closed++;
		if (!c->tls_ok)
			F.refused_fast++;
	}
	c->connected = c->tls_ok = false;
}

/* Token bucket: true if one new connection may start now. */
static bool take_token(void)
{
	if (F.rate <= 0)
		return true;
	double t = now();
	F.tokens += (t - F.last_refill) * F.rate;
	F.last_refill = t;
	if (F.tokens > F.rate / 10 + 1)
		F.tokens = F.rate / 10 + 1;
	if (F.tokens < 1)
		return false;
	F.tokens -= 1;
	return true;
}

static void reopen(struct fconn *c)
{
	close_conn(c, true);
	if (take_token())
		open_conn(c);
	else
		F.waiting++;
}

static void retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	for (int i = 0; i < F.conns && F.waiting > 0; i++) {
		if (F.c[i].fd >= 0)
			continue;
		if (!take_token())
			break;
		F.waiting--;
		open_conn(&F.c[i]);
	}
}

static void open_conn(struct fconn *c)
{
	int fd;
	if (F.use_unix) {
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			    0);
	} else {
		fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			    0);
		if (fd >= 0) {
			struct sockaddr_in src = { .sin_family = AF_INET };
			src.sin_addr.s_addr =
				htonl(0x7f000002u + (uint32_t)(c->idx %
							       F.sources));
			int one = 1;
			setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
				   sizeof(one));
			if (bind(fd, (struct sockaddr *)&src, sizeof(src)) != 0) {
				close(fd);
				fd = -1;
			}
		}
	}
	if (fd < 0) {
		F.connect_err++;
		F.waiting++;
		return;
	}
	int r = F.use_unix
		? connect(fd, (struct sockaddr *)&F.unix_target,
			  sizeof(F.unix_target))
		: connect(fd, (struct sockaddr *)&F.target, sizeof(F.target));
	if (r != 0 && errno != EINPROGRESS && errno != EAGAIN) {
		close(fd);
		F.connect_err++;
		F.waiting++;
		return;
	}
	F.connects++;
	c->fd = fd;
	c->connected = false;
	c->tls_ok = false;
	ev_io_init(&c->io, io_cb, fd, EV_WRITE);
	c->io.data = c;
	ev_io_start(F.loop, &c->io);
}

/* ---- attacks ---------------------------------------------------------- */

static bool out_add(struct fconn *c, const uint8_t *p, size_t n)
{
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	uint8_t *nb = realloc(c->out, c->out_len + n);
	if (!nb)
		return false;
	c->out = nb;
	memcpy(c->out + c->out_len, p, n);
	c->out_len += n;
	return true;
}

/* Writes what the socket takes; false on a fatal error. */
static bool out_flush(struct fconn *c)
{
	while (c->out_off < c->out_len) {
		int r = SSL_write(c->ssl, c->out + c->out_off,
				  (int)(c->out_len - c->out_off));
		if (r <= 0) {
			int e = SSL_get_error(c->ssl, r);
			return e == SSL_ERROR_WANT_WRITE ||
			       e == SSL_ERROR_WANT_READ;
		}
		c->out_off += (size_t)r;
	}
	return true;
}

static void frame_hdr(uint8_t *p, size_t len, uint8_t type, uint8_t flags,
		      int32_t sid)
{
	p[0] = (uint8_t)(len >> 16);
	p[1] = (uint8_t)(len >> 8);
	p[2] = (uint8_t)len;
	p[3] = type;
	p[4] = flags;
	p[5] = (uint8_t)((uint32_t)sid >> 24) & 0x7f;
	p[6] = (uint8_t)(sid >> 16);
	p[7] = (uint8_t)(sid >> 8);
	p[8] = (uint8_t)sid;
}

/* HPACK integer with an N-bit prefix (RFC 7541 §5.1). */
static size_t hpack_int(uint8_t *p, uint8_t first, int nbits, size_t v)
{
	size_t max = (1u << nbits) - 1, n = 0;
	if (v < max) {
		p[n++] = first | (uint8_t)v;
		return n;
	}
	p[n++] = first | (uint8_t)max;
	v -= max;
	while (v >= 128) {
		p[n++] = (uint8_t)(v % 128 + 128);
		v /= 128;
	}
	p[n++] = (uint8_t)v;
	return n;
}

/* One attack stream: HEADERS + --cont CONTINUATIONs, all but the pseudo
 * headers (and, once per connection, the indexed literal) 0xbe: "Indexed
 * Header Field" for dynamic index 62, the newest entry. */
static bool hpack_stream(struct fconn *c)
{
	static const char path[] = "/grpc.health.v1.Health/Check";
	uint8_t *blk = malloc(HPACK_FRAME + F.size + 64);
	size_t n = 0;
	if (!blk)
		return false;
	blk[n++] = 0x83; /* :method POST */
	blk[n++] = 0x87; /* :scheme https */
	n += hpack_int(blk + n, 0x00, 4, 4); /* :path, literal w/o indexing */
	n += hpack_int(blk + n, 0x00, 7, sizeof(path) - 1);
	memcpy(blk + n, path, sizeof(path) - 1);
	n += sizeof(path) - 1;
	if (!c->indexed) {
		/* "Literal Header Field with Incremental Indexing -- New
		 * Name" (RFC 7541 §6.2.1). */
		blk[n++] = 0x40;
		n += hpack_int(blk + n, 0x00, 7, 8);
		memcpy(blk + n, "macaroon", 8);
		n += 8;
		n += hpack_int(blk + n, 0x00, 7, F.size);
		memset(blk + n, 'a', F.size);
		n += F.size;
		c->indexed = true;
	}
	uint8_t fh[9];
	int32_t sid = c->next_sid;
	c->next_sid += 2;
	bool ok = true;
	for (int f = 0; ok && f <= F.cont; f++) {
		size_t len = f == 0 ? n : 0;
		if (f == 0 && n < HPACK_FRAME) {
			memset(blk + n, 0xbe, HPACK_FRAME - n);
			len = HPACK_FRAME;
		}
		uint8_t flags = f == F.cont ? 0x4 : 0; /* END_HEADERS */
		frame_hdr(fh, f == 0 ? len : HPACK_FRAME,
			  f == 0 ? 0x1 : 0x9, flags, sid);
		ok = out_add(c, fh, 9);
		if (f == 0) {
			ok = ok && out_add(c, blk, len);
			F.h_bytes += 9 + len;
		} else {
			memset(blk, 0xbe, HPACK_FRAME);
			ok = ok && out_add(c, blk, HPACK_FRAME);
			F.h_bytes += 9 + HPACK_FRAME;
		}
	}
	free(blk);
	F.h_streams++;
	return ok;
}

static void hpack_start(struct fconn *c)
{
	static const uint8_t preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
	uint8_t settings[9];
	frame_hdr(settings, 0, 0x4, 0, 0);
	c->next_sid = 1;
	out_add(c, preface, sizeof(preface) - 1);
	out_add(c, settings, 9);
}

static int w_on_header(nghttp2_session *h2, const nghttp2_frame *frame,
		       const uint8_t *name, size_t namelen,
		       const uint8_t *value, size_t valuelen, uint8_t flags,
		       void *user)
{
	if (namelen == 11 && memcmp(name, "grpc-status", 11) == 0) {
		nghttp2_session_set_stream_user_data(h2, frame->hd.stream_id,
						     (void *)1);
		if (valuelen == 1 && value[0] == '8')
			F.w_exhausted++;
		else
			F.w_other++;
	}
	return 0;
}

static int w_on_data(nghttp2_session *h2, uint8_t flags, int32_t sid,
		     const uint8_t *data, size_t len, void *user)
{
	if (nghttp2_session_get_stream_user_data(h2, sid) != (void *)2) {
		nghttp2_session_set_stream_user_data(h2, sid, (void *)2);
		F.w_served++;
	}
	return 0;
}

static int w_on_close(nghttp2_session *h2, int32_t sid, uint32_t err,
		      void *user)
{
	if (!nghttp2_session_get_stream_user_data(h2, sid))
		F.w_reset++;
	return 0;
}

struct wbody { size_t off; };

static ssize_t w_body(nghttp2_session *h2, int32_t sid, uint8_t *buf,
		      size_t length, uint32_t *flags,
		      nghttp2_data_source *src, void *user)
{
	struct wbody *b = src->ptr;
	size_t n = F.body_len - b->off;
	if (n > length)
		n = length;
	memcpy(buf, F.body + b->off, n);
	b->off += n;
	if (b->off == F.body_len) {
		*flags |= NGHTTP2_DATA_FLAG_EOF;
		free(b);
	}
	return (ssize_t)n;
}

static bool watch_start(struct fconn *c)
{
	nghttp2_session_callbacks *cbs;
	nghttp2_option *opt;
	if (nghttp2_session_callbacks_new(&cbs) != 0)
		return false;
	nghttp2_session_callbacks_set_on_header_callback(cbs, w_on_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs,
								  w_on_data);
	nghttp2_session_callbacks_set_on_stream_close_callback(cbs,
								w_on_close);
	nghttp2_option_new(&opt);
	/* Do not queue our streams behind the node's advertised limit:
	 * the attacker sends them all. */
	nghttp2_option_set_peer_max_concurrent_streams(opt, MAX_STREAMS);
	int r = nghttp2_session_client_new2(&c->h2, cbs, c, opt);
	nghttp2_session_callbacks_del(cbs);
	nghttp2_option_del(opt);
	if (r != 0)
		return false;
	nghttp2_settings_entry iv[] = {
		{ NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20 } };
	nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, iv, 1);
	nghttp2_nv nv[] = {
#define WNV(n, v) { (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, \
		    sizeof(v) - 1, NGHTTP2_NV_FLAG_NONE }
		WNV(":method", "POST"), WNV(":scheme", "https"),
		WNV(":path", "/grpc.health.v1.Health/Watch"),
		WNV(":authority", "localhost"),
		WNV("content-type", "application/grpc"), WNV("te", "trailers"),
	};
	for (int i = 0; i < F.streams; i++) {
		struct wbody *b = calloc(1, sizeof(*b));
		if (!b)
			return false;
		nghttp2_data_provider prd = { .source.ptr = b,
					      .read_callback = w_body };
		if (nghttp2_submit_request(c->h2, NULL, nv, 6, &prd, NULL) < 0)
			free(b);
	}
	return true;
}

/* Drives one attacking connection: returns false when it is over. */
static bool attack_step(struct fconn *c, int revents)
{
	uint8_t buf[16384];
	for (;;) {
		int r = SSL_read(c->ssl, buf, sizeof(buf));
		if (r <= 0) {
			int e = SSL_get_error(c->ssl, r);
			if (e == SSL_ERROR_WANT_READ ||
			    e == SSL_ERROR_WANT_WRITE)
				break;
			return false;
		}
		if (c->h2 && nghttp2_session_mem_recv(c->h2, buf,
						      (size_t)r) < 0)
			return false;
	}
	for (int round = 0; round < 64; round++) {
		if (!out_flush(c))
			return false;
		if (c->out_off < c->out_len)
			break;
		if (c->h2) {
			const uint8_t *p;
			ssize_t n = nghttp2_session_mem_send(c->h2, &p);
			if (n < 0)
				return false;
			if (n == 0)
				break;
			if (!out_add(c, p, (size_t)n))
				return false;
		} else if (!hpack_stream(c)) {
			return false;
		}
	}
	int want = EV_READ | (c->out_off < c->out_len ||
			      (c->h2 && nghttp2_session_want_write(c->h2))
			      ? EV_WRITE : 0);
	ev_io_stop(F.loop, &c->io);
	ev_io_set(&c->io, c->fd, want);
	ev_io_start(F.loop, &c->io);
	return true;
}

static void act1_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct fconn *c = w->data;

	/* Our choice, not the node's: not counted as "closed". */
	close_conn(c, false);
	if (take_token())
		open_conn(c);
	else
		F.waiting++;
}

/* A fresh act one (new ephemeral key each time, as a real dialer). */
static bool send_act1(struct fconn *c)
{
	struct brontide_hs *hs = brontide_hs_new(BRONTIDE_INITIATOR, F.act1_ls,
						 F.act1_node, NULL);
	uint8_t act[50];
	bool ok;

	if (!hs)
		return false;
	ok = brontide_hs_act1(hs, act) == BRONTIDE_OK &&
	     send(c->fd, act, sizeof(act), MSG_NOSIGNAL) == sizeof(act);
	brontide_hs_free(hs);
	return ok;
}

static void tls_step(struct fconn *c)
{
	ERR_clear_error();
	int r = SSL_connect(c->ssl);
	if (r == 1) {
		c->tls_ok = true;
		F.tls_ok++;
		if (F.attack != ATTACK_NONE) {
			bool ok = true;
			if (F.attack == ATTACK_WATCH)
				ok = watch_start(c);
			else
				hpack_start(c);
			if (!ok || !attack_step(c, EV_WRITE))
				reopen(c);
			return;
		}
		ev_io_stop(F.loop, &c->io);
		ev_io_set(&c->io, c->fd, EV_READ);
		ev_io_start(F.loop, &c->io);
		return;
	}
	int e = SSL_get_error(c->ssl, r);
	int want = e == SSL_ERROR_WANT_WRITE ? EV_WRITE
		 : e == SSL_ERROR_WANT_READ ? EV_READ : 0;
	if (!want) {
		reopen(c);
		return;
	}
	ev_io_stop(F.loop, &c->io);
	ev_io_set(&c->io, c->fd, want);
	ev_io_start(F.loop, &c->io);
}

static void io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct fconn *c = w->data;
	if (!c->connected) {
		int err = 0;
		socklen_t el = sizeof(err);
		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
		if (err) {
			F.connect_err++;
			reopen(c);
			return;
		}
		c->connected = true;
		if (F.tls) {
			c->ssl = SSL_new(F.ctx);
			SSL_set_fd(c->ssl, c->fd);
			SSL_set_tlsext_host_name(c->ssl, "localhost");
			tls_step(c);
		} else {
			c->tls_ok = true; /* nothing to do: idle */
			if (F.act1 && !send_act1(c)) {
				reopen(c);
				return;
			}
			if (F.act1) {
				ev_timer_set(&c->act1_timer, F.act1_wait, 0.);
				ev_timer_start(loop, &c->act1_timer);
			}
			ev_io_stop(loop, &c->io);
			ev_io_set(&c->io, c->fd, EV_READ);
			ev_io_start(loop, &c->io);
		}
		return;
	}
	if (F.tls && !c->tls_ok) {
		tls_step(c);
		return;
	}
	if (F.attack != ATTACK_NONE) {
		if (!attack_step(c, revents))
			reopen(c);
		return;
	}
	/* Idle: anything readable is either data we ignore or the close. */
	uint8_t buf[4096];
	ssize_t n;
	if (c->ssl) {
		int r = SSL_read(c->ssl, buf, sizeof(buf));
		if (r > 0)
			return;
		int e = SSL_get_error(c->ssl, r);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
			return;
		reopen(c);
		return;
	}
	n = recv(c->fd, buf, sizeof(buf), 0);
	if (F.act1 && n >= 50) {
		/* Act two: the node paid for an ECDH.  Again. */
		F.act2++;
		close_conn(c, false);
		if (take_token())
			open_conn(c);
		else
			F.waiting++;
		return;
	}
	if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EINTR)))
		return;
	reopen(c);
}

static void tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	report();
}

static void stop_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	ev_break(loop, EVBREAK_ALL);
}

static void usage(void)
{
	fprintf(stderr, "usage: flood --target 127.0.0.1:PORT | --unix PATH "
		"[--tls] [--act1 NODEID [--act1-wait-ms MS]] [--conns N<=4096] "
		"[--sources K<=59] [--duration S<=600] [--rate R] [--interval S] "
		"[--attack watch|hpack] [--streams N] [--size B] [--cont K]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	F.conns = 20;
	F.sources = 1;
	F.duration = 10;
	F.interval = 1;
	F.streams = 100;
	F.cont = 7;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--tls") == 0) {
			F.tls = true;
			continue;
		}
		if (!v)
			usage();
		i++;
		if (strcmp(a, "--target") == 0) {
			char host[64];
			const char *colon = strrchr(v, ':');
			if (!colon || colon - v >= (long)sizeof(host))
				usage();
			memcpy(host, v, (size_t)(colon - v));
			host[colon - v] = 0;
			F.target.sin_family = AF_INET;
			F.target.sin_port = htons((uint16_t)atoi(colon + 1));
			if (inet_pton(AF_INET, host, &F.target.sin_addr) != 1 ||
			    (ntohl(F.target.sin_addr.s_addr) >> 24) != 127) {
				fprintf(stderr, "flood: target must be in "
					"127.0.0.0/8\n");
				return 2;
			}
		} else if (strcmp(a, "--unix") == 0) {
			F.use_unix = true;
			F.unix_target.sun_family = AF_UNIX;
			if (strlen(v) >= sizeof(F.unix_target.sun_path))
				usage();
			strcpy(F.unix_target.sun_path, v);
		} else if (strcmp(a, "--act1") == 0) {
			uint8_t ls[32] = { 0 };
			struct cn_nodekey *k;
			ls[31] = 1;
			cn_crypto_init();
			k = cn_nodekey_from_secret(ls);
			if (strlen(v) != 66 || !k ||
			    !hex_decode(F.act1_node, 33, v))
				usage();
			cn_nodekey_pub(k, F.act1_ls);
			cn_nodekey_free(k);
			F.act1 = true;
		} else if (strcmp(a, "--act1-wait-ms") == 0) {
			F.act1_wait = atof(v) / 1000;
		} else if (strcmp(a, "--conns") == 0) {
			F.conns = atoi(v);
		} else if (strcmp(a, "--sources") == 0) {
			F.sources = atoi(v);
		} else if (strcmp(a, "--duration") == 0) {
			F.duration = atof(v);
		} else if (strcmp(a, "--rate") == 0) {
			F.rate = atof(v);
		} else if (strcmp(a, "--interval") == 0) {
			F.interval = atof(v);
		} else if (strcmp(a, "--attack") == 0) {
			if (strcmp(v, "watch") == 0)
				F.attack = ATTACK_WATCH;
			else if (strcmp(v, "hpack") == 0)
				F.attack = ATTACK_HPACK;
			else
				usage();
		} else if (strcmp(a, "--streams") == 0) {
			F.streams = atoi(v);
		} else if (strcmp(a, "--size") == 0) {
			F.size = strtoul(v, NULL, 10);
		} else if (strcmp(a, "--cont") == 0) {
			F.cont = atoi(v);
		} else {
			usage();
		}
	}
	if ((!F.use_unix && !F.target.sin_port) || F.conns < 1 ||
	    F.conns > MAX_CONNS || F.sources < 1 || F.sources > MAX_SOURCES ||
	    F.duration <= 0 || F.duration > MAX_DURATION || F.interval <= 0 ||
	    F.streams < 1 || F.streams > MAX_STREAMS || F.cont < 0 ||
	    F.cont > 64 || (F.attack != ATTACK_NONE && !F.tls))
		usage();
	if (F.attack == ATTACK_WATCH) {
		/* HealthCheckRequest { string service = 1; }, gRPC-framed. */
		if (!F.size)
			F.size = 4000000;
		if (F.size > 64u << 20)
			usage();
		F.body = malloc(F.size + 16);
		if (!F.body)
			return 1;
		size_t n = 5;
		F.body[n++] = 0x0a;
		for (size_t v = F.size; ; v >>= 7) {
			F.body[n++] = (uint8_t)((v & 0x7f) |
						(v > 0x7f ? 0x80 : 0));
			if (v <= 0x7f)
				break;
		}
		memset(F.body + n, 's', F.size);
		n += F.size;
		F.body[0] = 0;
		uint32_t ml = (uint32_t)(n - 5);
		F.body[1] = (uint8_t)(ml >> 24);
		F.body[2] = (uint8_t)(ml >> 16);
		F.body[3] = (uint8_t)(ml >> 8);
		F.body[4] = (uint8_t)ml;
		F.body_len = n;
	}
	if (F.attack == ATTACK_HPACK) {
		if (!F.size)
			F.size = 4000;
		/* Entry size: name + value + 32 <= 4096 (RFC 7541 §4.1). */
		if (F.size > 4096 - 32 - 8)
			usage();
	}
	signal(SIGPIPE, SIG_IGN);
	/* Up to 4096 sockets: a default soft limit of 1024 is too few. */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (F.tls) {
		F.ctx = SSL_CTX_new(TLS_client_method());
		/* The node's self-signed cert; we attack, we do not verify. */
		SSL_CTX_set_verify(F.ctx, SSL_VERIFY_NONE, NULL);
		SSL_CTX_set_mode(F.ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
				 SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
		static const unsigned char alpn[] = { 2, 'h', '2' };
		SSL_CTX_set_alpn_protos(F.ctx, alpn, sizeof(alpn));
	}
	F.c = calloc((size_t)F.conns, sizeof(*F.c));
	if (!F.c)
		return 1;
	F.loop = EV_DEFAULT;
	F.start = F.last_refill = now();
	F.tokens = 1;
	for (int i = 0; i < F.conns; i++) {
		F.c[i].idx = i;
		F.c[i].fd = -1;
		ev_timer_init(&F.c[i].act1_timer, act1_timer_cb, 0., 0.);
		F.c[i].act1_timer.data = &F.c[i];
		if (take_token())
			open_conn(&F.c[i]);
		else
			F.waiting++;
	}
	ev_timer_init(&F.tick, tick_cb, F.interval, F.interval);
	ev_timer_start(F.loop, &F.tick);
	ev_timer_init(&F.stop, stop_cb, F.duration, 0);
	ev_timer_start(F.loop, &F.stop);
	ev_timer_init(&F.retry, retry_cb, 0.005, 0.005);
	ev_timer_start(F.loop, &F.retry);
	ev_run(F.loop, 0);
	report();
	for (int i = 0; i < F.conns; i++)
		close_conn(&F.c[i], false);
	free(F.c);
	free(F.body);
	SSL_CTX_free(F.ctx);
	return 0;
}
