/*~ The libev adapter: drives a brontide_hs and then a brontide_cipher over a
 * non-blocking socket.  It reads exactly one act, frame header or frame body
 * at a time (the spec's "Read _exactly_ N bytes"), so bytes of the next unit
 * are never consumed early, and it queues outgoing bytes under a byte cap.
 *
 * Re-entrancy: the owner may free the connection from inside any of its
 * callbacks.  Every entry point from libev (and brontide_conn_ecdh_done)
 * bumps @depth; brontide_conn_free only marks the connection while @depth is
 * non-zero and the outermost entry point frees it on the way out.
 *
 * Failures and the "ready" event are delivered from a zero-delay timer
 * (@kick), never from inside a call the owner made into us: after
 * brontide_conn_ecdh_done or brontide_conn_send returns, @c is still valid.
 * The only exception is the owner's own brontide_conn_free. */
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "brontide/brontide_internal.h"
#include "common/common.h"

#define DEFAULT_SEND_CAP ((size_t)4 << 20)
/* Messages handled per readable event before letting other connections
 * run; libev calls us again while the socket stays readable. */
#define MAX_MSGS_PER_EVENT 32

enum conn_stage {
	CONN_ACT1,	   /* responder: reading act one */
	CONN_ACT2,	   /* initiator: reading act two */
	CONN_ECDH,	   /* waiting for brontide_conn_ecdh_done */
	CONN_ACT3,	   /* responder: reading act three */
	CONN_READY_KICK,   /* handshake done, ready not yet delivered */
	CONN_HDR,	   /* transport: reading a frame header */
	CONN_BODY,	   /* transport: reading a frame body */
	CONN_CLOSING,	   /* failed, closed not yet delivered */
	CONN_DEAD,	   /* closed delivered */
};

struct brontide_conn {
	struct ev_loop *loop;
	int fd;
	enum brontide_role role;
	enum conn_stage stage;
	const struct brontide_conn_cbs *cbs;
	void *arg;
	struct brontide_hs *hs;
	struct brontide_cipher *cipher;

	ev_io rio, wio;
	ev_timer hs_timer; /* deadline for the whole handshake */
	ev_timer kick;	   /* deferred delivery of ready / closed */

	/* Reading: exactly @rneed bytes into @rdst. */
	uint8_t unit[BRONTIDE_ACT3_SIZE]; /* an act or a frame header */
	uint8_t *body;
	size_t body_cap;
	uint8_t *rdst;
	size_t rneed, rhave;
	uint16_t body_len;

	/* Writing: bytes [whead, wlen) of wbuf are queued. */
	uint8_t *wbuf;
	size_t wcap, whead, wlen, send_cap;

	enum brontide_err err; /* why we are CLOSING */
	char detail[96];
	bool ecdh_pending;
	bool free_pending;
	unsigned depth;
	uint8_t remote_pub[33];
};

static uint8_t test_e_priv[32];
static bool test_e_set;

void brontide_conn_test_set_ephemeral(const uint8_t *e_priv)
{
	test_e_set = e_priv != NULL;
	if (e_priv)
		memcpy(test_e_priv, e_priv, 32);
	else
		sodium_memzero(test_e_priv, sizeof(test_e_priv));
}

static void destroy(struct brontide_conn *c)
{
	ev_io_stop(c->loop, &c->rio);
	ev_io_stop(c->loop, &c->wio);
	ev_timer_stop(c->loop, &c->hs_timer);
	ev_timer_stop(c->loop, &c->kick);
	close(c->fd);
	brontide_hs_free(c->hs);
	brontide_cipher_free(c->cipher);
	free(c->body);
	free(c->wbuf);
	free(c);
}

static void enter(struct brontide_conn *c)
{
	c->depth++;
}

static void leave(struct brontide_conn *c)
{
	if (--c->depth == 0 && c->free_pending)
		destroy(c);
}

/* Stop processing: the owner freed us, or we failed. */
static bool halted(const struct brontide_conn *c)
{
	return c->free_pending || c->stage == CONN_CLOSING ||
	       c->stage == CONN_DEAD;
}

static void fail(struct brontide_conn *c, enum brontide_err err,
		 const char *detail)
{
	if (halted(c))
		return;
	c->stage = CONN_CLOSING;
	c->err = err;
	snprintf(c->detail, sizeof(c->detail), "%s", detail ? detail : "");
	ev_io_stop(c->loop, &c->rio);
	ev_io_stop(c->loop, &c->wio);
	ev_timer_stop(c->loop, &c->hs_timer);
	log_debug("BRON", "fd %d: %s%s%s", c->fd, brontide_strerror(err),
		  detail ? ": " : "", detail ? detail : "");
	ev_timer_set(&c->kick, 0., 0.);
	ev_timer_start(c->loop, &c->kick);
}

static void expect(struct brontide_conn *c, enum conn_stage stage,
		   uint8_t *dst, size_t len)
{
	c->stage = stage;
	c->rdst = dst;
	c->rneed = len;
	c->rhave = 0;
	ev_io_start(c->loop, &c->rio);
}

/* Room for @len more bytes at the end of the write queue, or NULL. */
static uint8_t *queue_reserve(struct brontide_conn *c, size_t len)
{
	if (c->whead == c->wlen)
		c->whead = c->wlen = 0;
	if (c->wcap - c->wlen < len && c->whead) {
		memmove(c->wbuf, c->wbuf + c->whead, c->wlen - c->whead);
		c->wlen -= c->whead;
		c->whead = 0;
	}
	if (c->wcap - c->wlen < len) {
		size_t cap = c->wcap ? c->wcap * 2 : 1024;
		uint8_t *p;

		while (cap < c->wlen + len)
			cap *= 2;
		p = realloc(c->wbuf, cap);
		if (!p)
			return NULL;
		c->wbuf = p;
		c->wcap = cap;
	}
	return c->wbuf + c->wlen;
}

/* Write what the socket takes now; wait for EV_WRITE for the rest. */
static void flush(struct brontide_conn *c)
{
	while (c->whead < c->wlen) {
		ssize_t n = send(c->fd, c->wbuf + c->whead, c->wlen - c->whead,
				 MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				ev_io_start(c->loop, &c->wio);
				return;
			}
			fail(c, BRONTIDE_ERR_IO, strerror(errno));
			return;
		}
		c->whead += (size_t)n;
	}
	/* Drained: give the buffer back, so idle sessions stay small. */
	c->whead = c->wlen = 0;
	ev_io_stop(c->loop, &c->wio);
	free(c->wbuf);
	c->wbuf = NULL;
	c->wcap = 0;
}

static bool queue_raw(struct brontide_conn *c, const uint8_t *p, size_t len)
{
	uint8_t *dst = queue_reserve(c, len);

	if (!dst)
		return false;
	memcpy(dst, p, len);
	c->wlen += len;
	flush(c);
	return true;
}

static void start_ecdh(struct brontide_conn *c)
{
	c->stage = CONN_ECDH;
	c->ecdh_pending = true;
	/* The peer must wait for our next act: read nothing meanwhile. */
	ev_io_stop(c->loop, &c->rio);
	c->cbs->ecdh(c->arg, c, brontide_hs_ecdh_point(c->hs));
}

static void handshake_done(struct brontide_conn *c)
{
	memcpy(c->remote_pub, brontide_hs_remote_pub(c->hs), 33);
	c->cipher = brontide_hs_split(c->hs);
	brontide_hs_free(c->hs);
	c->hs = NULL;
	if (!c->cipher) {
		fail(c, BRONTIDE_ERR_NOMEM, "transport keys");
		return;
	}
	ev_timer_stop(c->loop, &c->hs_timer);
	ev_io_stop(c->loop, &c->rio);
	c->stage = CONN_READY_KICK;
	ev_timer_set(&c->kick, 0., 0.);
	ev_timer_start(c->loop, &c->kick);
}

static void got_body(struct brontide_conn *c)
{
	enum brontide_err err;
	uint16_t len = c->body_len;

	err = brontide_cipher_decrypt_body(c->cipher, c->body, c->body, len);
	if (err != BRONTIDE_OK) {
		fail(c, err, NULL);
		return;
	}
	expect(c, CONN_HDR, c->unit, BRONTIDE_HDR_SIZE);
	c->cbs->recv(c->arg, c, c->body, len);
}

static void got_header(struct brontide_conn *c)
{
	enum brontide_err err;
	size_t need;

	err = brontide_cipher_decrypt_len(c->cipher, &c->body_len, c->unit);
	if (err != BRONTIDE_OK) {
		fail(c, err, NULL);
		return;
	}
	/* BOLT #8: "Read _exactly_ `l+16` bytes from the network buffer" */
	need = (size_t)c->body_len + BRONTIDE_MAC_SIZE;
	if (c->body_cap < need) {
		free(c->body);
		c->body = malloc(need);
		c->body_cap = c->body ? need : 0;
		if (!c->body) {
			fail(c, BRONTIDE_ERR_NOMEM, "frame body");
			return;
		}
	}
	expect(c, CONN_BODY, c->body, need);
}

/* A whole act, header or body has arrived. */
static void got_unit(struct brontide_conn *c)
{
	enum brontide_err err;

	switch (c->stage) {
	case CONN_ACT1:
		err = brontide_hs_recv_act1(c->hs, c->unit, c->rhave);
		if (err == BRONTIDE_NEED_ECDH)
			start_ecdh(c);
		else
			fail(c, err, NULL);
		return;
	case CONN_ACT2:
		err = brontide_hs_recv_act2(c->hs, c->unit, c->rhave);
		if (err == BRONTIDE_NEED_ECDH)
			start_ecdh(c);
		else
			fail(c, err, NULL);
		return;
	case CONN_ACT3:
		err = brontide_hs_recv_act3(c->hs, c->unit, c->rhave);
		if (err == BRONTIDE_OK)
			handshake_done(c);
		else
			fail(c, err, NULL);
		return;
	case CONN_HDR:
		got_header(c);
		return;
	case CONN_BODY:
		got_body(c);
		return;
	case CONN_ECDH:
	case CONN_READY_KICK:
	case CONN_CLOSING:
	case CONN_DEAD:
		break;
	}
	BRONTIDE_ASSERT(!"read while not reading");
}

/* BOLT #8 names a READ_FAILED error for each act. */
static enum brontide_err read_failed(const struct brontide_conn *c,
				     enum brontide_err transport)
{
	switch (c->stage) {
	case CONN_ACT1:
		return BRONTIDE_ERR_ACT1_READ_FAILED;
	case CONN_ACT2:
		return BRONTIDE_ERR_ACT2_READ_FAILED;
	case CONN_ACT3:
		return BRONTIDE_ERR_ACT3_READ_FAILED;
	case CONN_ECDH:
	case CONN_READY_KICK:
	case CONN_HDR:
	case CONN_BODY:
	case CONN_CLOSING:
	case CONN_DEAD:
		break;
	}
	return transport;
}

static bool reading(const struct brontide_conn *c)
{
	return !c->free_pending &&
	       (c->stage == CONN_ACT1 || c->stage == CONN_ACT2 ||
		c->stage == CONN_ACT3 || c->stage == CONN_HDR ||
		c->stage == CONN_BODY);
}

static void read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct brontide_conn *c = w->data;
	int msgs = 0;

	enter(c);
	while (reading(c) && msgs < MAX_MSGS_PER_EVENT) {
		ssize_t n = read(c->fd, c->rdst + c->rhave, c->rneed - c->rhave);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			fail(c, read_failed(c, BRONTIDE_ERR_IO), strerror(errno));
			break;
		}
		if (n == 0) {
			fail(c, read_failed(c, BRONTIDE_ERR_EOF),
			     c->rhave || c->stage == CONN_BODY
				     ? "peer closed mid-unit"
				     : "peer closed");
			break;
		}
		c->rhave += (size_t)n;
		if (c->rhave < c->rneed)
			continue;
		if (c->stage == CONN_BODY)
			msgs++;
		got_unit(c);
	}
	/* Between frames: release the body buffer while we wait, so idle
	 * sessions stay small; a burst reuses it. */
	if (c->stage == CONN_HDR && c->rhave == 0 && !c->free_pending) {
		free(c->body);
		c->body = NULL;
		c->body_cap = 0;
	}
	leave(c);
}

static void write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct brontide_conn *c = w->data;

	enter(c);
	flush(c);
	leave(c);
}

static void timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct brontide_conn *c = w->data;

	enter(c);
	fail(c, BRONTIDE_ERR_HANDSHAKE_TIMEOUT,
	     c->stage == CONN_ECDH ? "waiting for ECDH" : "waiting for peer");
	leave(c);
}

static void kick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct brontide_conn *c = w->data;

	enter(c);
	if (c->free_pending) {
		/* Freed meanwhile: nothing to deliver. */
	} else if (c->stage == CONN_CLOSING) {
		/* The pending ECDH answer will never be used: say so before
		 * closed, after which the owner's state may be gone. */
		if (c->ecdh_pending) {
			c->ecdh_pending = false;
			if (c->cbs->ecdh_cancel)
				c->cbs->ecdh_cancel(c->arg, c);
		}
		if (!c->free_pending) {
			c->stage = CONN_DEAD;
			c->cbs->closed(c->arg, c, c->err,
				       c->detail[0] ? c->detail : NULL);
		}
		c->free_pending = true;
	} else if (c->stage == CONN_READY_KICK) {
		expect(c, CONN_HDR, c->unit, BRONTIDE_HDR_SIZE);
		if (c->cbs->ready)
			c->cbs->ready(c->arg, c, c->remote_pub);
	}
	leave(c);
}

struct brontide_conn *brontide_conn_new(struct ev_loop *loop, int fd,
					enum brontide_role role,
					const uint8_t ls_pub[33],
					const uint8_t *rs_pub,
					double handshake_timeout,
					const struct brontide_conn_cbs *cbs,
					void *arg)
{
	struct brontide_conn *c;
	uint8_t act1[BRONTIDE_ACT1_SIZE];
	int flags;

	BRONTIDE_ASSERT(cbs && cbs->ecdh && cbs->recv && cbs->closed);
	cn_crypto_init();
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return NULL;
	}
	c->loop = loop;
	c->fd = fd;
	c->role = role;
	c->cbs = cbs;
	c->arg = arg;
	c->send_cap = DEFAULT_SEND_CAP;
	c->hs = brontide_hs_new(role, ls_pub, rs_pub,
				test_e_set ? test_e_priv : NULL);
	if (!c->hs) {
		close(fd);
		free(c);
		return NULL;
	}
	flags = fcntl(fd, F_GETFL);
	if (flags >= 0 && !(flags & O_NONBLOCK))
		fcntl(fd, F_SETFL, flags | O_NONBLOCK);

	ev_io_init(&c->rio, read_cb, fd, EV_READ);
	ev_io_init(&c->wio, write_cb, fd, EV_WRITE);
	ev_timer_init(&c->hs_timer, timeout_cb, handshake_timeout, 0.);
	ev_timer_init(&c->kick, kick_cb, 0., 0.);
	c->rio.data = c->wio.data = c->hs_timer.data = c->kick.data = c;
	ev_timer_start(loop, &c->hs_timer);

	if (role == BRONTIDE_INITIATOR) {
		brontide_hs_act1(c->hs, act1);
		expect(c, CONN_ACT2, c->unit, BRONTIDE_ACT2_SIZE);
		if (!queue_raw(c, act1, sizeof(act1))) {
			destroy(c);
			return NULL;
		}
	} else {
		expect(c, CONN_ACT1, c->unit, BRONTIDE_ACT1_SIZE);
	}
	return c;
}

void brontide_conn_ecdh_done(struct brontide_conn *c, bool ok,
			     const uint8_t secret[32])
{
	uint8_t act[BRONTIDE_ACT3_SIZE];
	enum brontide_err err;

	if (c->free_pending)
		return;
	/* Failed meanwhile (timeout): the answer is simply dropped. */
	if (c->stage == CONN_CLOSING) {
		c->ecdh_pending = false;
		return;
	}
	BRONTIDE_ASSERT(c->ecdh_pending && c->stage == CONN_ECDH);
	c->ecdh_pending = false;
	enter(c);
	if (!ok) {
		fail(c, BRONTIDE_ERR_ECDH_FAILED, "key source refused");
		goto out;
	}
	brontide_hs_ecdh_done(c->hs, secret);
	if (c->role == BRONTIDE_RESPONDER) {
		err = brontide_hs_act2(c->hs, act);
		if (err != BRONTIDE_OK) {
			fail(c, err, NULL);
			goto out;
		}
		expect(c, CONN_ACT3, c->unit, BRONTIDE_ACT3_SIZE);
		if (!queue_raw(c, act, BRONTIDE_ACT2_SIZE))
			fail(c, BRONTIDE_ERR_NOMEM, "act two");
	} else {
		brontide_hs_act3(c->hs, act);
		if (!queue_raw(c, act, BRONTIDE_ACT3_SIZE))
			fail(c, BRONTIDE_ERR_NOMEM, "act three");
		else
			handshake_done(c);
	}
out:
	leave(c);
}

enum brontide_err brontide_conn_send(struct brontide_conn *c,
				     const uint8_t *msg, size_t len)
{
	size_t wire;
	uint8_t *dst;
	bool was_empty;

	if (c->stage == CONN_CLOSING || c->stage == CONN_DEAD)
		return c->err;
	if (len > BRONTIDE_MAX_MSG)
		return BRONTIDE_ERR_MSG_TOO_LONG;
	/* Sending before the handshake finished is our caller's bug. */
	BRONTIDE_ASSERT(c->cipher != NULL && !c->free_pending);
	wire = BRONTIDE_WIRE_SIZE(len);
	if (c->wlen - c->whead + wire > c->send_cap)
		return BRONTIDE_ERR_BUFFER_FULL;
	was_empty = c->wlen == c->whead;
	dst = queue_reserve(c, wire);
	if (!dst)
		return BRONTIDE_ERR_NOMEM;
	brontide_cipher_encrypt(c->cipher, dst, msg, len);
	c->wlen += wire;
	/* Try the socket now; a failure is reported later through closed. */
	if (was_empty)
		flush(c);
	return BRONTIDE_OK;
}

size_t brontide_conn_queued(const struct brontide_conn *c)
{
	return c->wlen - c->whead;
}

size_t brontide_conn_unsent(const struct brontide_conn *c)
{
	int n = 0;

	/* TIOCOUTQ (SIOCOUTQ): bytes in the socket not yet acknowledged. */
	if (c->fd >= 0 && ioctl(c->fd, TIOCOUTQ, &n) == 0 && n > 0)
		return brontide_conn_queued(c) + (size_t)n;
	return brontide_conn_queued(c);
}

void brontide_conn_set_send_cap(struct brontide_conn *c, size_t cap)
{
	c->send_cap = cap;
}

bool brontide_conn_is_ready(const struct brontide_conn *c)
{
	return c->stage == CONN_HDR || c->stage == CONN_BODY;
}

const uint8_t *brontide_conn_remote_pub(const struct brontide_conn *c)
{
	return brontide_conn_is_ready(c) ? c->remote_pub : NULL;
}

void brontide_conn_free(struct brontide_conn *c)
{
	if (!c || c->free_pending)
		return;
	c->free_pending = true;
	ev_io_stop(c->loop, &c->rio);
	ev_io_stop(c->loop, &c->wio);
	ev_timer_stop(c->loop, &c->hs_timer);
	ev_timer_stop(c->loop, &c->kick);
	if (c->ecdh_pending) {
		c->ecdh_pending = false;
		if (c->cbs->ecdh_cancel)
			c->cbs->ecdh_cancel(c->arg, c);
	}
	if (c->depth == 0)
		destroy(c);
}
