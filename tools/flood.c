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
 *              [--rate R] [--interval S]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <netinet/in.h>
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

struct fconn {
	int idx;
	int fd;
	SSL *ssl;
	ev_io io;
	ev_timer act1_timer; /* --act1: close this long after act one */
	bool connected, tls_ok;
};

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
	       "\"closed\":%llu,\"refused_fast\":%llu,\"connect_err\":%llu,"
	       "\"act2\":%llu}\n",
	       now() - F.start, open, (unsigned long long)F.connects,
	       (unsigned long long)F.tls_ok, (unsigned long long)F.closed,
	       (unsigned long long)F.refused_fast,
	       (unsigned long long)F.connect_err,
	       (unsigned long long)F.act2);
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
		"[--sources K<=59] "
		"[--duration S<=600] [--rate R] [--interval S]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	F.conns = 20;
	F.sources = 1;
	F.duration = 10;
	F.interval = 1;
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
		} else {
			usage();
		}
	}
	if ((!F.use_unix && !F.target.sin_port) || F.conns < 1 ||
	    F.conns > MAX_CONNS || F.sources < 1 || F.sources > MAX_SOURCES ||
	    F.duration <= 0 || F.duration > MAX_DURATION || F.interval <= 0)
		usage();
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
	SSL_CTX_free(F.ctx);
	return 0;
}
