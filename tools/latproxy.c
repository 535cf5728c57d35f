/*~ latproxy: a TCP proxy that adds a fixed one-way delay in each
 * direction, so benchmarks and tests on loopback see the round trips a
 * real network costs.  127.0.0.0/8 only, both sides.
 *
 *   latproxy --delay-ms D [--rate-kbps R | --kbps K] TARGET [TARGET...]
 *
 * TARGET is 127.x.y.z:PORT.  For each, it listens on 127.0.0.1 (a free
 * port) and prints one line "MAP <listen-port> <target-port>", then
 * "READY" once every listener is up; it runs until SIGTERM or SIGINT.
 *
 * The model, with d the one-way delay (RTT = 2d): a byte read from one
 * side is written to the other d later, in order; an EOF travels the same
 * way (shutdown(SHUT_WR) on the far side).  A TCP connect costs a round
 * trip: the client's connect() completes at once on loopback, so the
 * proxy opens the upstream connection only 3d after accepting (when the
 * server would see the handshake's final ACK: SYN at d, SYN-ACK back at
 * 2d, ACK at 3d), and holds the client's first bytes until then.  Every
 * protocol here (BOLT 8, TLS) has the client speak first, so each side
 * sees each act at the time it would on a real link.  Loss is not
 * modelled.
 *
 * --rate-kbps R limits each direction to R kilobytes (1000 bytes) per
 * second (--kbps K: K kilobits, the same as --rate-kbps K/8), a slow
 * link (Tor, mobile): bytes leave at that rate (a token bucket of 50
 * ms), and the proxy stops reading from the sender while 64 KiB wait in
 * it, with a small receive buffer on its sockets, so the sender sees the
 * slow reader as its own send queue filling up.
 *
 * An upstream that refuses closes the client.  One libev loop; a
 * connection costs two sockets and the bytes in flight.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ev.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct chunk {
	struct chunk *next;
	double due;   /* ev_now when it may be written */
	bool eof;     /* the sender shut its side */
	size_t len, off;
	unsigned char data[];
};

struct conn;

/* One direction: bytes read from @from, written to @to. */
struct dir {
	struct conn *c;
	int *from, *to;
	ev_io rd, wr;
	ev_timer release;
	struct chunk *head, *tail;
	bool eof_read, eof_sent;
	/* --rate-kbps: tokens (bytes) and when they were counted; bytes
	 * waiting here; reading stopped for the window. */
	double tokens, t_tokens;
	size_t buffered;
	bool paused;
};

struct conn {
	struct proxy *px;
	struct sockaddr_in target;
	int cfd, sfd;
	double accepted;
	ev_timer dial;
	ev_io connecting;
	bool up;             /* upstream connected */
	struct dir c2s, s2c;
	struct conn *next, **pprev;
};

struct proxy {
	struct ev_loop *loop;
	double delay; /* one way, seconds */
	double rate;  /* bytes per second per direction, 0: unlimited */
	struct conn *conns;
};

/* Bytes waiting in one direction before the proxy stops reading. */
#define RATE_WINDOW (64 * 1024)

static struct proxy px;

static void conn_free(struct conn *c)
{
	struct dir *ds[] = { &c->c2s, &c->s2c };

	for (size_t i = 0; i < 2; i++) {
		struct dir *d = ds[i];
		ev_io_stop(px.loop, &d->rd);
		ev_io_stop(px.loop, &d->wr);
		ev_timer_stop(px.loop, &d->release);
		while (d->head) {
			struct chunk *k = d->head;
			d->head = k->next;
			free(k);
		}
	}
	ev_timer_stop(px.loop, &c->dial);
	ev_io_stop(px.loop, &c->connecting);
	if (c->cfd >= 0)
		close(c->cfd);
	if (c->sfd >= 0)
		close(c->sfd);
	*c->pprev = c->next;
	if (c->next)
		c->next->pprev = c->pprev;
	free(c);
}

static void dir_arm(struct dir *d);

/* Token bucket: R bytes a second, at most 50 ms of them saved up. */
static void rate_refill(struct dir *d, double now)
{
	double cap = px.rate / 20 > 1500 ? px.rate / 20 : 1500;

	d->tokens += (now - d->t_tokens) * px.rate;
	if (d->tokens > cap)
		d->tokens = cap;
	d->t_tokens = now;
}

/* Can @d write?  Upstream only once its connect completed. */
static bool dir_open(const struct dir *d)
{
	return *d->to >= 0 && (d != &d->c->c2s || d->c->up);
}

/* Write every chunk that is due; false if the connection was freed. */
static bool dir_flush(struct dir *d)
{
	struct conn *c = d->c;
	double now = ev_now(px.loop);

	while (d->head && d->head->due <= now && dir_open(d)) {
		struct chunk *k = d->head;
		if (k->eof) {
			shutdown(*d->to, SHUT_WR);
			d->eof_sent = true;
		} else {
			size_t want = k->len - k->off;
			ssize_t n;
			if (px.rate > 0) {
				rate_refill(d, now);
				if (d->tokens < 1) {
					/* Out of tokens: the timer comes back. */
					ev_io_stop(px.loop, &d->wr);
					dir_arm(d);
					return true;
				}
				if (want > (size_t)d->tokens)
					want = (size_t)d->tokens;
			}
			n = write(*d->to, k->data + k->off, want);
			if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
				ev_io_start(px.loop, &d->wr);
				return true;
			}
			if (n < 0) {
				conn_free(c);
				return false;
			}
			k->off += (size_t)n;
			if (px.rate > 0) {
				d->tokens -= (double)n;
				d->buffered -= (size_t)n;
				if (d->paused && d->buffered < RATE_WINDOW / 2 &&
				    !d->eof_read) {
					d->paused = false;
					ev_io_start(px.loop, &d->rd);
				}
			}
			if (k->off < k->len) {
				if (px.rate > 0 && d->tokens < 1) {
					ev_io_stop(px.loop, &d->wr);
					dir_arm(d);
				} else {
					ev_io_start(px.loop, &d->wr);
				}
				return true;
			}
		}
		d->head = k->next;
		if (!d->head)
			d->tail = NULL;
		free(k);
	}
	ev_io_stop(px.loop, &d->wr);
	if (c->c2s.eof_sent && c->s2c.eof_sent) {
		conn_free(c);
		return false;
	}
	dir_arm(d);
	return true;
}

/* Run the release timer for the head chunk, if not due yet. */
static void dir_arm(struct dir *d)
{
	double wait;

	ev_timer_stop(px.loop, &d->release);
	if (!d->head || !dir_open(d))
		return;
	wait = d->head->due - ev_now(px.loop);
	if (px.rate > 0 && !d->head->eof) {
		rate_refill(d, ev_now(px.loop));
		if (d->tokens < 1 && (1 - d->tokens) / px.rate > wait)
			wait = (1 - d->tokens) / px.rate;
	}
	ev_timer_set(&d->release, wait > 0 ? wait : 0, 0.);
	ev_timer_start(px.loop, &d->release);
}

static void release_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	dir_flush(w->data);
}

static void writable_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	dir_flush(w->data);
}

static void dir_push(struct dir *d, const unsigned char *buf, size_t len,
		     bool eof)
{
	struct conn *c = d->c;
	struct chunk *k = malloc(sizeof(*k) + len);
	double due = ev_now(px.loop) + px.delay;

	if (!k)
		abort();
	/* The client's first bytes wait for the emulated TCP handshake. */
	if (d == &c->c2s && due < c->accepted + 3 * px.delay)
		due = c->accepted + 3 * px.delay;
	k->next = NULL;
	k->due = due;
	k->eof = eof;
	k->len = len;
	k->off = 0;
	memcpy(k->data, buf, len);
	if (px.rate > 0) {
		d->buffered += len;
		if (d->buffered >= RATE_WINDOW && !d->paused) {
			d->paused = true;
			ev_io_stop(px.loop, &d->rd);
		}
	}
	if (d->tail)
		d->tail->next = k;
	else
		d->head = k;
	d->tail = k;
	if (!ev_is_active(&d->release) && !ev_is_active(&d->wr))
		dir_arm(d);
}

static void readable_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct dir *d = w->data;
	unsigned char buf[65536];
	ssize_t n = read(*d->from, buf, sizeof(buf));

	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0) {
		/* EOF or reset: pass the end on, after the delay. */
		ev_io_stop(loop, &d->rd);
		d->eof_read = true;
		dir_push(d, buf, 0, true);
		return;
	}
	dir_push(d, buf, (size_t)n, false);
}

static void upstream_ready(struct ev_loop *loop, ev_io *w, int revents)
{
	struct conn *c = w->data;
	int err = 0;
	socklen_t len = sizeof(err);

	ev_io_stop(loop, w);
	if (getsockopt(c->sfd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err) {
		conn_free(c);
		return;
	}
	c->up = true;
	ev_io_start(loop, &c->s2c.rd);
	dir_arm(&c->c2s);
}

/* Rate-limited: small kernel buffers, so the sender's own queue is what
 * fills (loopback buffers otherwise hold megabytes). */
static void small_buffers(int fd)
{
	int sz = 32 * 1024;

	if (px.rate > 0) {
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	}
}

static void dial_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct conn *c = w->data;
	int one = 1, fd;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		conn_free(c);
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	small_buffers(fd);
	c->sfd = fd;
	if (connect(fd, (struct sockaddr *)&c->target, sizeof(c->target)) != 0 &&
	    errno != EINPROGRESS) {
		conn_free(c);
		return;
	}
	ev_io_init(&c->connecting, upstream_ready, fd, EV_WRITE);
	c->connecting.data = c;
	ev_io_start(loop, &c->connecting);
	ev_io_init(&c->s2c.rd, readable_cb, fd, EV_READ);
	ev_io_init(&c->c2s.wr, writable_cb, fd, EV_WRITE);
}

static void dir_init(struct conn *c, struct dir *d, int *from, int *to)
{
	d->c = c;
	d->from = from;
	d->to = to;
	ev_init(&d->rd, readable_cb);
	d->rd.data = d;
	ev_init(&d->wr, writable_cb);
	d->wr.data = d;
	ev_init(&d->release, release_cb);
	d->release.data = d;
}

struct listener {
	ev_io io;
	struct sockaddr_in target;
};

static void accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct listener *l = (struct listener *)w;
	struct conn *c;
	int one = 1;
	int fd = accept4(w->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return;
	c = calloc(1, sizeof(*c));
	if (!c)
		abort();
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	small_buffers(fd);
	c->px = &px;
	c->target = l->target;
	c->cfd = fd;
	c->sfd = -1;
	c->accepted = ev_now(loop);
	dir_init(c, &c->c2s, &c->cfd, &c->sfd);
	dir_init(c, &c->s2c, &c->sfd, &c->cfd);
	ev_io_set(&c->c2s.rd, fd, EV_READ);
	ev_io_set(&c->s2c.wr, fd, EV_WRITE);
	ev_io_start(loop, &c->c2s.rd);
	ev_timer_init(&c->dial, dial_cb, 3 * px.delay, 0.);
	c->dial.data = c;
	ev_timer_start(loop, &c->dial);
	c->next = px.conns;
	if (c->next)
		c->next->pprev = &c->next;
	c->pprev = &px.conns;
	px.conns = c;
}

/* "127.x.y.z:PORT" into @out; only loopback is accepted. */
static bool parse_target(struct sockaddr_in *out, const char *s)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	long port;
	char *end;

	if (!colon || (size_t)(colon - s) >= sizeof(host))
		return false;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	port = strtol(colon + 1, &end, 10);
	if (*end || port <= 0 || port > 65535)
		return false;
	memset(out, 0, sizeof(*out));
	out->sin_family = AF_INET;
	out->sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &out->sin_addr) != 1)
		return false;
	return (ntohl(out->sin_addr.s_addr) >> 24) == 127;
}

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	ev_break(loop, EVBREAK_ALL);
}

static int usage(void)
{
	fprintf(stderr, "usage: latproxy --delay-ms D [--rate-kbps R | --kbps K] "
		"127.0.0.1:PORT...\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct listener *ls;
	ev_signal sint, sterm;
	int first = 3, n;
	char *end;
	double ms;

	if (argc < 4 || strcmp(argv[1], "--delay-ms") != 0)
		return usage();
	ms = strtod(argv[2], &end);
	if (*end || ms < 0 || ms > 60000)
		return usage();
	signal(SIGPIPE, SIG_IGN);
	px.loop = ev_default_loop(0);
	px.delay = ms / 1000.0;
	/* --rate-kbps: kilobytes a second; --kbps: kilobits, as mobile
	 * links are quoted. */
	if (argc > 5 && (strcmp(argv[3], "--rate-kbps") == 0 ||
			 strcmp(argv[3], "--kbps") == 0)) {
		double r = strtod(argv[4], &end);
		if (*end || r <= 0 || r > 1e7)
			return usage();
		px.rate = strcmp(argv[3], "--kbps") == 0 ? r * 1000 / 8
							 : r * 1000;
		first = 5;
	}
	n = argc - first;
	ls = calloc((size_t)n, sizeof(*ls));
	if (!ls)
		return 1;
	for (int i = 0; i < n; i++) {
		struct sockaddr_in a = { .sin_family = AF_INET };
		socklen_t alen = sizeof(a);
		int fd;

		if (!parse_target(&ls[i].target, argv[first + i])) {
			fprintf(stderr, "latproxy: '%s' is not 127.x.y.z:PORT\n",
				argv[first + i]);
			free(ls);
			return 2;
		}
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			    0);
		if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
		    listen(fd, 512) != 0 ||
		    getsockname(fd, (struct sockaddr *)&a, &alen) != 0) {
			perror("latproxy: listen");
			free(ls);
			return 1;
		}
		ev_io_init(&ls[i].io, accept_cb, fd, EV_READ);
		ev_io_start(px.loop, &ls[i].io);
		printf("MAP %u %u\n", ntohs(a.sin_port),
		       ntohs(ls[i].target.sin_port));
	}
	printf("READY\n");
	fflush(stdout);
	ev_signal_init(&sint, on_signal, SIGINT);
	ev_signal_init(&sterm, on_signal, SIGTERM);
	ev_signal_start(px.loop, &sint);
	ev_signal_start(px.loop, &sterm);
	ev_run(px.loop, 0);
	while (px.conns)
		conn_free(px.conns);
	for (int i = 0; i < n; i++)
		close(ls[i].io.fd);
	free(ls);
	return 0;
}
