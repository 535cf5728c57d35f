/* brontide_conn over real TCP on 127.0.0.1 in one libev loop.
 *   test_conn good: handshakes with ECDH answered synchronously and later,
 *     messages both ways (up to 65535 bytes, past key rotation), send limits,
 *     freeing the connection from inside each callback.
 *   test_conn bad: a scripted peer sends bad acts and frames; each case must
 *     close only that connection with the right error while a healthy pair
 *     keeps working. */
#include <arpa/inet.h>
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <secp256k1.h>
#include <secp256k1_ecdh.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "brontide/brontide.h"
#include "check.h"
#include "common/common.h"

static struct ev_loop *loop;
static int events; /* sequence counter, to check callback order */

/* Let the loop run until @expr holds (10 s guard against hangs; not a
 * timing assertion). */
#define RUN_UNTIL(expr)                                                       \
	do {                                                                  \
		double deadline_ = cn_now() + 10;                             \
		while (!(expr) && cn_now() < deadline_)                       \
			ev_run(loop, EVRUN_ONCE);                             \
		CHECK(expr);                                                  \
	} while (0)

enum ecdh_mode { ECDH_SYNC, ECDH_ASYNC, ECDH_REFUSE, ECDH_NEVER };
enum free_in { FREE_NONE, FREE_IN_ECDH, FREE_IN_READY, FREE_IN_RECV };

struct node {
	uint8_t priv[32], pub[33];
};

/* One brontide_conn and what its callbacks saw. */
struct side {
	const char *name;
	const struct node *key;
	struct brontide_conn *c;
	enum ecdh_mode mode;
	enum free_in free_in;
	ev_timer ecdh_timer;
	uint8_t point[33];
	int ecdh_calls, cancel_calls, ready_calls, closed_calls;
	int cancel_seq, closed_seq;
	enum brontide_err closed_err;
	uint8_t remote[33];
	size_t recv_count, recv_bad;
};

static struct node node_a, node_b;

static void node_init(struct node *n)
{
	secp256k1_pubkey pk;
	size_t len = 33;

	do {
		randombytes_buf(n->priv, 32);
	} while (!secp256k1_ec_seckey_verify((const secp256k1_context *)cn_secp(),
					     n->priv));
	if (!secp256k1_ec_pubkey_create((const secp256k1_context *)cn_secp(),
					&pk, n->priv))
		abort();
	secp256k1_ec_pubkey_serialize((const secp256k1_context *)cn_secp(),
				      n->pub, &len, &pk, SECP256K1_EC_COMPRESSED);
}

static void node_ecdh(uint8_t out[32], const struct node *n,
		      const uint8_t point[33])
{
	secp256k1_pubkey pk;

	if (!secp256k1_ec_pubkey_parse((const secp256k1_context *)cn_secp(),
				       &pk, point, 33) ||
	    !secp256k1_ecdh((const secp256k1_context *)cn_secp(), out, &pk,
			    n->priv, NULL, NULL))
		abort();
}

/* Message @i: its length cycles through edge sizes, its bytes depend on i. */
static size_t msg_len(size_t i)
{
	static const size_t lens[] = { 2, 0, 1, 100, 1000, 65535, 17 };
	return lens[i % CN_ARRAY_SIZE(lens)];
}

static void msg_fill(uint8_t *buf, size_t i)
{
	for (size_t j = 0; j < msg_len(i); j++)
		buf[j] = (uint8_t)(i * 7 + j);
}

static void answer_ecdh(struct side *s, bool ok)
{
	uint8_t ss[32];

	node_ecdh(ss, s->key, s->point);
	brontide_conn_ecdh_done(s->c, ok, ss);
	sodium_memzero(ss, sizeof(ss));
}

static void ecdh_timer_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	struct side *s = w->data;

	answer_ecdh(s, s->mode != ECDH_REFUSE);
}

static void cb_ecdh(void *arg, struct brontide_conn *c, const uint8_t point[33])
{
	struct side *s = arg;

	CHECK(c == s->c);
	s->ecdh_calls++;
	memcpy(s->point, point, 33);
	if (s->free_in == FREE_IN_ECDH) {
		brontide_conn_free(c);
		s->c = NULL;
		return;
	}
	switch (s->mode) {
	case ECDH_SYNC:
		answer_ecdh(s, true);
		return;
	case ECDH_ASYNC:
	case ECDH_REFUSE:
		ev_timer_init(&s->ecdh_timer, ecdh_timer_cb, 0.005, 0.);
		s->ecdh_timer.data = s;
		ev_timer_start(loop, &s->ecdh_timer);
		return;
	case ECDH_NEVER:
		return;
	}
}

static void cb_ecdh_cancel(void *arg, struct brontide_conn *c)
{
	struct side *s = arg;

	s->cancel_calls++;
	s->cancel_seq = ++events;
	ev_timer_stop(loop, &s->ecdh_timer);
}

static void cb_ready(void *arg, struct brontide_conn *c,
		     const uint8_t remote_pub[33])
{
	struct side *s = arg;

	s->ready_calls++;
	memcpy(s->remote, remote_pub, 33);
	CHECK(brontide_conn_is_ready(c));
	CHECK(memcmp(brontide_conn_remote_pub(c), remote_pub, 33) == 0);
	if (s->free_in == FREE_IN_READY) {
		brontide_conn_free(c);
		s->c = NULL;
	}
}

static void cb_recv(void *arg, struct brontide_conn *c, const uint8_t *msg,
		    size_t len)
{
	struct side *s = arg;
	static uint8_t want[BRONTIDE_MAX_MSG];

	msg_fill(want, s->recv_count);
	if (len != msg_len(s->recv_count) || memcmp(msg, want, len) != 0)
		s->recv_bad++;
	s->recv_count++;
	if (s->free_in == FREE_IN_RECV) {
		brontide_conn_free(c);
		s->c = NULL;
	}
}

static void cb_closed(void *arg, struct brontide_conn *c,
		      enum brontide_err err, const char *detail)
{
	struct side *s = arg;

	CHECK(c == s->c);
	s->closed_calls++;
	s->closed_seq = ++events;
	s->closed_err = err;
	s->c = NULL;
}

static const struct brontide_conn_cbs cbs = {
	.ecdh = cb_ecdh,
	.ecdh_cancel = cb_ecdh_cancel,
	.ready = cb_ready,
	.recv = cb_recv,
	.closed = cb_closed,
};

/* A connected TCP pair on 127.0.0.1 (ephemeral port), both non-blocking. */
static void tcp_pair(int fds[2])
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int l = socket(AF_INET, SOCK_STREAM, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (l < 0 || bind(l, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    listen(l, 4) != 0 || getsockname(l, (struct sockaddr *)&sa, &len))
		abort();
	fds[0] = socket(AF_INET, SOCK_STREAM, 0);
	if (fds[0] < 0 || connect(fds[0], (struct sockaddr *)&sa, sizeof(sa)))
		abort();
	fds[1] = accept(l, NULL, NULL);
	if (fds[1] < 0)
		abort();
	close(l);
	for (int i = 0; i < 2; i++)
		fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
}

static void side_init(struct side *s, const char *name, const struct node *key,
		      enum ecdh_mode mode)
{
	memset(s, 0, sizeof(*s));
	s->name = name;
	s->key = key;
	s->mode = mode;
	ev_timer_init(&s->ecdh_timer, ecdh_timer_cb, 0.005, 0.);
	s->ecdh_timer.data = s;
}

static void start_initiator(struct side *s, int fd, const struct node *remote,
			    double timeout)
{
	s->c = brontide_conn_new(loop, fd, BRONTIDE_INITIATOR, s->key->pub,
				 remote->pub, timeout, &cbs, s);
	CHECK(s->c != NULL);
}

static void start_responder(struct side *s, int fd, double timeout)
{
	s->c = brontide_conn_new(loop, fd, BRONTIDE_RESPONDER, s->key->pub,
				 NULL, timeout, &cbs, s);
	CHECK(s->c != NULL);
}

/* A handshaken pair: @i initiator (node A) to @r responder (node B). */
static void make_pair(struct side *i, struct side *r, enum ecdh_mode im,
		      enum ecdh_mode rm)
{
	int fds[2];

	tcp_pair(fds);
	side_init(i, "init", &node_a, im);
	side_init(r, "resp", &node_b, rm);
	start_initiator(i, fds[0], &node_b, 5);
	start_responder(r, fds[1], 5);
	RUN_UNTIL(i->ready_calls == 1 && r->ready_calls == 1);
	CHECK_MEM(i->remote, node_b.pub, 33);
	CHECK_MEM(r->remote, node_a.pub, 33);
	CHECK(i->ecdh_calls == 1 && r->ecdh_calls == 1);
}

static void send_msgs(struct side *from, size_t first, size_t n)
{
	static uint8_t buf[BRONTIDE_MAX_MSG];

	for (size_t i = first; i < first + n; i++) {
		msg_fill(buf, i);
		CHECK(brontide_conn_send(from->c, buf, msg_len(i)) == BRONTIDE_OK);
	}
}

static void free_side(struct side *s)
{
	brontide_conn_free(s->c);
	s->c = NULL;
}

/* Handshake, then 600 messages each way (1200 nonces: past rotation). */
static void test_traffic(enum ecdh_mode im, enum ecdh_mode rm)
{
	struct side i, r;

	make_pair(&i, &r, im, rm);
	for (size_t round = 0; round < 6; round++) {
		send_msgs(&i, round * 100, 100);
		send_msgs(&r, round * 100, 100);
		RUN_UNTIL(i.recv_count == (round + 1) * 100 &&
			  r.recv_count == (round + 1) * 100);
	}
	CHECK(i.recv_bad == 0 && r.recv_bad == 0);
	CHECK(i.closed_calls == 0 && r.closed_calls == 0);
	free_side(&i);
	free_side(&r);
}

static void test_send_limits(void)
{
	struct side i, r;
	static uint8_t buf[BRONTIDE_MAX_MSG + 1];

	make_pair(&i, &r, ECDH_SYNC, ECDH_SYNC);
	CHECK(brontide_conn_send(i.c, buf, BRONTIDE_MAX_MSG + 1) ==
	      BRONTIDE_ERR_MSG_TOO_LONG);
	brontide_conn_set_send_cap(i.c, 1000);
	CHECK(brontide_conn_send(i.c, buf, 2000) == BRONTIDE_ERR_BUFFER_FULL);
	CHECK(brontide_conn_queued(i.c) == 0);
	/* Nothing refused reached the wire or used a nonce. */
	msg_fill(buf, 0);
	CHECK(brontide_conn_send(i.c, buf, msg_len(0)) == BRONTIDE_OK);
	RUN_UNTIL(r.recv_count == 1);
	CHECK(r.recv_bad == 0);
	free_side(&i);
	free_side(&r);
}

/* The test hook fixes the ephemeral key: act one is then exactly what the
 * pure handshake computes with the same key. */
static void test_fixed_ephemeral(void)
{
	struct side i;
	struct brontide_hs *hs;
	uint8_t e[32], want[50], got[50];
	int fds[2];

	memset(e, 0x12, sizeof(e));
	hs = brontide_hs_new(BRONTIDE_INITIATOR, node_a.pub, node_b.pub, e);
	CHECK(brontide_hs_act1(hs, want) == BRONTIDE_OK);
	brontide_hs_free(hs);

	brontide_conn_test_set_ephemeral(e);
	tcp_pair(fds);
	side_init(&i, "init", &node_a, ECDH_SYNC);
	start_initiator(&i, fds[0], &node_b, 5);
	brontide_conn_test_set_ephemeral(NULL);
	RUN_UNTIL(recv(fds[1], got, sizeof(got), MSG_PEEK | MSG_DONTWAIT) ==
		  (ssize_t)sizeof(got));
	CHECK(read(fds[1], got, sizeof(got)) == (ssize_t)sizeof(got));
	CHECK_MEM(got, want, sizeof(want));
	free_side(&i);
	close(fds[1]);
}

/* The owner frees the connection from inside each callback. */
static void test_free_in_callbacks(void)
{
	struct side i, r;
	int fds[2];

	/* recv: three messages arrive together, the first one frees. */
	make_pair(&i, &r, ECDH_SYNC, ECDH_SYNC);
	r.free_in = FREE_IN_RECV;
	send_msgs(&i, 0, 3);
	RUN_UNTIL(r.c == NULL);
	CHECK(r.recv_count == 1 && r.closed_calls == 0);
	RUN_UNTIL(i.closed_calls == 1);
	CHECK(i.closed_err == BRONTIDE_ERR_EOF || i.closed_err == BRONTIDE_ERR_IO);

	/* ready */
	tcp_pair(fds);
	side_init(&i, "init", &node_a, ECDH_ASYNC);
	side_init(&r, "resp", &node_b, ECDH_SYNC);
	r.free_in = FREE_IN_READY;
	start_initiator(&i, fds[0], &node_b, 5);
	start_responder(&r, fds[1], 5);
	RUN_UNTIL(r.ready_calls == 1 && r.c == NULL);
	CHECK(r.closed_calls == 0);
	RUN_UNTIL(i.c == NULL);
	free_side(&i);

	/* ecdh, before answering: brontide cancels the ECDH it asked for. */
	tcp_pair(fds);
	side_init(&i, "init", &node_a, ECDH_SYNC);
	side_init(&r, "resp", &node_b, ECDH_SYNC);
	r.free_in = FREE_IN_ECDH;
	start_initiator(&i, fds[0], &node_b, 5);
	start_responder(&r, fds[1], 5);
	RUN_UNTIL(i.closed_calls == 1);
	CHECK(r.ecdh_calls == 1 && r.cancel_calls == 1 && r.closed_calls == 0);
	CHECK(i.closed_err == BRONTIDE_ERR_ACT2_READ_FAILED);

	/* Freed from outside while an ECDH is pending. */
	tcp_pair(fds);
	side_init(&i, "init", &node_a, ECDH_SYNC);
	side_init(&r, "resp", &node_b, ECDH_ASYNC);
	start_initiator(&i, fds[0], &node_b, 5);
	start_responder(&r, fds[1], 5);
	RUN_UNTIL(r.ecdh_calls == 1);
	free_side(&r);
	CHECK(r.cancel_calls == 1 && r.closed_calls == 0);
	RUN_UNTIL(i.closed_calls == 1);
	CHECK(i.closed_err == BRONTIDE_ERR_ACT2_READ_FAILED);
}

/* ------------------------------------------------------------------------
 * Bad input from a scripted peer.
 */
static struct side healthy_i, healthy_r;
static size_t healthy_sent;

/* The healthy pair still moves a message each way. */
static void check_healthy(void)
{
	send_msgs(&healthy_i, healthy_sent, 1);
	send_msgs(&healthy_r, healthy_sent, 1);
	healthy_sent++;
	RUN_UNTIL(healthy_i.recv_count == healthy_sent &&
		  healthy_r.recv_count == healthy_sent);
	CHECK(healthy_i.recv_bad == 0 && healthy_r.recv_bad == 0);
	CHECK(healthy_i.closed_calls == 0 && healthy_r.closed_calls == 0);
}

static void raw_write(int fd, const uint8_t *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EAGAIN) {
			ev_run(loop, EVRUN_ONCE);
			continue;
		}
		if (n <= 0)
			abort();
		p += n;
		len -= (size_t)n;
	}
}

static ssize_t raw_avail(int fd, size_t want)
{
	uint8_t tmp[128];

	return recv(fd, tmp, want, MSG_PEEK | MSG_DONTWAIT);
}

static void raw_read(int fd, uint8_t *p, size_t len)
{
	RUN_UNTIL(raw_avail(fd, len) == (ssize_t)len);
	CHECK(read(fd, p, len) == (ssize_t)len);
}

/* A responder conn under test, fed by a raw socket we script. */
static int raw_responder(struct side *r, enum ecdh_mode mode, double timeout)
{
	int fds[2];

	tcp_pair(fds);
	side_init(r, "resp", &node_b, mode);
	start_responder(r, fds[1], timeout);
	return fds[0];
}

/* Our scripted initiator (node A) up to act three, which it returns. */
static struct brontide_hs *raw_act1(int fd, uint8_t act1[50])
{
	struct brontide_hs *hs;

	hs = brontide_hs_new(BRONTIDE_INITIATOR, node_a.pub, node_b.pub, NULL);
	CHECK(brontide_hs_act1(hs, act1) == BRONTIDE_OK);
	return hs;
}

static void raw_act3(int fd, struct brontide_hs *hs, uint8_t act3[66])
{
	uint8_t act2[50], ss[32];

	raw_read(fd, act2, sizeof(act2));
	CHECK(brontide_hs_recv_act2(hs, act2, sizeof(act2)) == BRONTIDE_NEED_ECDH);
	node_ecdh(ss, &node_a, brontide_hs_ecdh_point(hs));
	brontide_hs_ecdh_done(hs, ss);
	CHECK(brontide_hs_act3(hs, act3) == BRONTIDE_OK);
}

/* Expect @r closed with @err, nothing else broken. */
static void expect_closed(struct side *r, enum brontide_err err, int fd)
{
	RUN_UNTIL(r->closed_calls == 1);
	if (r->closed_err != err)
		fprintf(stderr, "  got %s, want %s\n",
			brontide_errname(r->closed_err), brontide_errname(err));
	CHECK(r->closed_err == err);
	CHECK(r->ready_calls == 0 || err == BRONTIDE_ERR_BAD_LENGTH_TAG ||
	      err == BRONTIDE_ERR_BAD_BODY_TAG);
	close(fd);
	check_healthy();
}

static void bad_act1(void)
{
	struct side r;
	uint8_t act1[50];
	struct brontide_hs *hs;
	int fd;

	/* All zero: version 0, then a "pubkey" with prefix 00. */
	fd = raw_responder(&r, ECDH_SYNC, 5);
	memset(act1, 0, sizeof(act1));
	raw_write(fd, act1, sizeof(act1));
	expect_closed(&r, BRONTIDE_ERR_ACT1_BAD_PUBKEY, fd);
	CHECK(r.ecdh_calls == 0);

	/* Random garbage. */
	fd = raw_responder(&r, ECDH_SYNC, 5);
	randombytes_buf(act1, sizeof(act1));
	act1[0] = 0x42;
	raw_write(fd, act1, sizeof(act1));
	expect_closed(&r, BRONTIDE_ERR_ACT1_BAD_VERSION, fd);

	/* A good act one with version 1. */
	fd = raw_responder(&r, ECDH_SYNC, 5);
	hs = raw_act1(fd, act1);
	act1[0] = 1;
	raw_write(fd, act1, sizeof(act1));
	expect_closed(&r, BRONTIDE_ERR_ACT1_BAD_VERSION, fd);
	brontide_hs_free(hs);

	/* Truncated, then EOF. */
	fd = raw_responder(&r, ECDH_SYNC, 5);
	hs = raw_act1(fd, act1);
	raw_write(fd, act1, 30);
	shutdown(fd, SHUT_WR);
	expect_closed(&r, BRONTIDE_ERR_ACT1_READ_FAILED, fd);
	brontide_hs_free(hs);

	/* Bad MAC: only found after the ECDH. */
	fd = raw_responder(&r, ECDH_ASYNC, 5);
	hs = raw_act1(fd, act1);
	act1[49] ^= 1;
	raw_write(fd, act1, sizeof(act1));
	expect_closed(&r, BRONTIDE_ERR_ACT1_BAD_TAG, fd);
	CHECK(r.ecdh_calls == 1 && r.cancel_calls == 0);
	brontide_hs_free(hs);
}

static void bad_act3(void)
{
	struct side r;
	uint8_t act1[50], act3[66];
	struct brontide_hs *hs;
	int fd;

	/* Bad final MAC. */
	fd = raw_responder(&r, ECDH_SYNC, 5);
	hs = raw_act1(fd, act1);
	raw_write(fd, act1, sizeof(act1));
	raw_act3(fd, hs, act3);
	act3[65] ^= 1;
	raw_write(fd, act3, sizeof(act3));
	expect_closed(&r, BRONTIDE_ERR_ACT3_BAD_TAG, fd);
	brontide_hs_free(hs);

	/* Bad static key ciphertext. */
	fd = raw_responder(&r, ECDH_ASYNC, 5);
	hs = raw_act1(fd, act1);
	raw_write(fd, act1, sizeof(act1));
	raw_act3(fd, hs, act3);
	act3[10] ^= 1;
	raw_write(fd, act3, sizeof(act3));
	expect_closed(&r, BRONTIDE_ERR_ACT3_BAD_CIPHERTEXT, fd);
	brontide_hs_free(hs);

	/* Truncated act three, then EOF. */
	fd = raw_responder(&r, ECDH_SYNC, 5);
	hs = raw_act1(fd, act1);
	raw_write(fd, act1, sizeof(act1));
	raw_act3(fd, hs, act3);
	raw_write(fd, act3, 65);
	shutdown(fd, SHUT_WR);
	expect_closed(&r, BRONTIDE_ERR_ACT3_READ_FAILED, fd);
	brontide_hs_free(hs);
}

/* After a good handshake, one frame with a flipped byte at @flip. */
static void bad_frame(size_t flip, enum brontide_err want)
{
	struct side r;
	uint8_t act1[50], act3[66], msg[40], wire[BRONTIDE_WIRE_SIZE(40)];
	struct brontide_hs *hs;
	struct brontide_cipher *c;
	int fd;

	fd = raw_responder(&r, ECDH_SYNC, 5);
	hs = raw_act1(fd, act1);
	raw_write(fd, act1, sizeof(act1));
	raw_act3(fd, hs, act3);
	c = brontide_hs_split(hs);
	raw_write(fd, act3, sizeof(act3));
	RUN_UNTIL(r.ready_calls == 1);
	/* One good frame first, so the bad one is not simply the first. */
	msg_fill(msg, 0);
	CHECK(brontide_cipher_encrypt(c, wire, msg, msg_len(0)) == BRONTIDE_OK);
	raw_write(fd, wire, BRONTIDE_WIRE_SIZE(msg_len(0)));
	memset(msg, 9, sizeof(msg));
	CHECK(brontide_cipher_encrypt(c, wire, msg, sizeof(msg)) == BRONTIDE_OK);
	wire[flip] ^= 0x10;
	raw_write(fd, wire, sizeof(wire));
	expect_closed(&r, want, fd);
	CHECK(r.recv_count == 1 && r.recv_bad == 0);
	brontide_cipher_free(c);
	brontide_hs_free(hs);
}

static void stalled(void)
{
	struct side r;
	uint8_t act1[50];
	struct brontide_hs *hs;
	int fd;

	/* The peer says nothing. */
	fd = raw_responder(&r, ECDH_SYNC, 0.2);
	expect_closed(&r, BRONTIDE_ERR_HANDSHAKE_TIMEOUT, fd);

	/* The peer is fine but our key source never answers: the timeout
	 * covers the ECDH wait, and the ECDH is cancelled before closed. */
	fd = raw_responder(&r, ECDH_NEVER, 0.2);
	hs = raw_act1(fd, act1);
	raw_write(fd, act1, sizeof(act1));
	expect_closed(&r, BRONTIDE_ERR_HANDSHAKE_TIMEOUT, fd);
	CHECK(r.ecdh_calls == 1 && r.cancel_calls == 1);
	CHECK(r.cancel_seq < r.closed_seq);
	brontide_hs_free(hs);

	/* Key source refuses. */
	fd = raw_responder(&r, ECDH_REFUSE, 5);
	hs = raw_act1(fd, act1);
	raw_write(fd, act1, sizeof(act1));
	expect_closed(&r, BRONTIDE_ERR_ECDH_FAILED, fd);
	CHECK(r.ecdh_calls == 1 && r.cancel_calls == 0);
	brontide_hs_free(hs);
}

/* The initiator side against a responder sending junk act two. */
static void bad_act2(void)
{
	struct side i;
	uint8_t act1[50], act2[50];
	int fds[2];

	tcp_pair(fds);
	side_init(&i, "init", &node_a, ECDH_SYNC);
	start_initiator(&i, fds[0], &node_b, 5);
	raw_read(fds[1], act1, sizeof(act1));
	memset(act2, 0, sizeof(act2));
	act2[1] = 0x04;
	raw_write(fds[1], act2, sizeof(act2));
	expect_closed(&i, BRONTIDE_ERR_ACT2_BAD_PUBKEY, fds[1]);

	tcp_pair(fds);
	side_init(&i, "init", &node_a, ECDH_SYNC);
	start_initiator(&i, fds[0], &node_b, 5);
	raw_read(fds[1], act1, sizeof(act1));
	raw_write(fds[1], act1, 20);
	shutdown(fds[1], SHUT_WR);
	expect_closed(&i, BRONTIDE_ERR_ACT2_READ_FAILED, fds[1]);
}

static void wake_cb(struct ev_loop *l, ev_timer *w, int revents)
{
}

int main(int argc, char **argv)
{
	ev_timer wake;
	bool bad = argc > 1 && strcmp(argv[1], "bad") == 0;

	cn_crypto_init();
	loop = ev_default_loop(0);
	/* RUN_UNTIL re-checks at least this often. */
	ev_timer_init(&wake, wake_cb, 0.01, 0.01);
	ev_timer_start(loop, &wake);
	node_init(&node_a);
	node_init(&node_b);

	if (!bad) {
		test_traffic(ECDH_SYNC, ECDH_SYNC);
		test_traffic(ECDH_ASYNC, ECDH_ASYNC);
		test_traffic(ECDH_SYNC, ECDH_ASYNC);
		test_send_limits();
		test_fixed_ephemeral();
		test_free_in_callbacks();
	} else {
		make_pair(&healthy_i, &healthy_r, ECDH_ASYNC, ECDH_SYNC);
		check_healthy();
		bad_act1();
		bad_act2();
		bad_act3();
		bad_frame(0, BRONTIDE_ERR_BAD_LENGTH_TAG);
		bad_frame(BRONTIDE_HDR_SIZE - 1, BRONTIDE_ERR_BAD_LENGTH_TAG);
		bad_frame(BRONTIDE_HDR_SIZE + 3, BRONTIDE_ERR_BAD_BODY_TAG);
		bad_frame(BRONTIDE_WIRE_SIZE(40) - 1, BRONTIDE_ERR_BAD_BODY_TAG);
		stalled();
		free_side(&healthy_i);
		free_side(&healthy_r);
	}
	ev_timer_stop(loop, &wake);
	return check_exit();
}
