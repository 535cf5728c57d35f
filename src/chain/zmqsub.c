/*~ chain/zmqsub: bitcoind's rawtx/rawblock ZMQ notifications, as lnd uses
 * them (--bitcoind.zmqpubrawtx, --bitcoind.zmqpubrawblock).  libzmq does
 * the protocol (ZMTP, reconnects); we decode its frames and join its
 * ZMQ_FD to the one libev loop.  ZMQ_FD is edge-triggered: after every
 * wakeup the socket is drained until ZMQ_EVENTS has no POLLIN, otherwise
 * a message already queued would wait for the next edge forever. */
#include "chain/zmqsub.h"

#include <ev.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

/* ---- pure part ---- */

enum chain_zmq_kind chain_zmq_decode(size_t nframes,
				     const uint8_t *const *f,
				     const size_t *len, const uint8_t **body,
				     size_t *blen, uint32_t *seq)
{
	enum chain_zmq_kind k;

	/* "Each PUB notification has a topic and body, where the header
	 * corresponds to the notification type" ... "a 4 byte little
	 * endian sequence number" (bitcoind doc/zmq.md). */
	if (nframes != 3 || len[2] != 4)
		return CHAIN_ZMQ_BAD;
	if (len[0] == 5 && !memcmp(f[0], "rawtx", 5))
		k = CHAIN_ZMQ_RAWTX;
	else if (len[0] == 8 && !memcmp(f[0], "rawblock", 8))
		k = CHAIN_ZMQ_RAWBLOCK;
	else
		return CHAIN_ZMQ_BAD;
	if (!len[1])
		return CHAIN_ZMQ_BAD; /* no transaction or block is empty */
	*body = f[1];
	*blen = len[1];
	*seq = (uint32_t)f[2][0] | (uint32_t)f[2][1] << 8 |
	       (uint32_t)f[2][2] << 16 | (uint32_t)f[2][3] << 24;
	return k;
}

uint32_t chain_zmq_seq_check(struct chain_zmq_seq *s, uint32_t seq)
{
	uint32_t gap = 0;

	if (s->have && seq != s->next)
		/* Modulo 2^32: a bitcoind restarted at 0 shows as a gap
		 * of (0 - next), never 0. */
		gap = seq - s->next;
	s->have = true;
	s->next = seq + 1;
	return gap;
}

bool chain_zmq_seq_restarted(uint32_t gap)
{
	return gap >= UINT32_C(0x80000000);
}

/* ---- libev adapter ---- */

/* Frames kept per message: one more than bitcoind sends, so that a
 * longer message is seen as such (the rest is read and dropped). */
#define MAX_FRAMES 4
/* Largest frame accepted: a block is at most 4 MB of weight units' bytes;
 * libzmq drops a peer that sends more (ZMQ_MAXMSGSIZE). */
#define MAX_MSG_SIZE (8 << 20)
/* Messages queued in libzmq at most: past it bitcoind's messages are
 * dropped, which the sequence numbers show (then a full poll). */
#define RCV_HWM 100000
/* The longest wait between two reconnection attempts (libzmq doubles from
 * its 100 ms default up to this). */
#define RECONNECT_MAX_MS 5000

struct chain_zmq {
	struct ev_loop *loop; /* borrowed */
	void *sock;           /* owned (zmq SUB socket) */
	ev_io io;
	struct chain_zmq_seq seq;
	chain_zmq_cb cb;
	void *ctx;
};

/* One whole message; false when none is waiting. */
static bool recv_one(struct chain_zmq *z)
{
	zmq_msg_t m[MAX_FRAMES];
	const uint8_t *f[MAX_FRAMES];
	size_t len[MAX_FRAMES], n = 0, total = 0;
	int more = 1;

	while (more) {
		zmq_msg_t tmp, *msg = n < MAX_FRAMES ? &m[n] : &tmp;
		size_t ml = sizeof(more);
		zmq_msg_init(msg);
		if (zmq_msg_recv(msg, z->sock, n ? 0 : ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(msg);
			/* EAGAIN on the first frame: nothing waiting (the
			 * others arrive atomically with it). */
			for (size_t i = 0; i < n && i < MAX_FRAMES; i++)
				zmq_msg_close(&m[i]);
			return false;
		}
		if (zmq_getsockopt(z->sock, ZMQ_RCVMORE, &more, &ml))
			more = 0;
		if (n < MAX_FRAMES) {
			f[n] = zmq_msg_data(msg);
			len[n] = zmq_msg_size(msg);
		} else {
			zmq_msg_close(msg);
		}
		n++;
		total++;
	}
	const uint8_t *body = NULL;
	size_t blen = 0;
	uint32_t seq = 0, gap = 0;
	enum chain_zmq_kind k = chain_zmq_decode(total, f, len, &body,
						 &blen, &seq);
	if (k != CHAIN_ZMQ_BAD)
		gap = chain_zmq_seq_check(&z->seq, seq);
	z->cb(z->ctx, k, k == CHAIN_ZMQ_BAD ? NULL : body, blen, gap);
	for (size_t i = 0; i < n && i < MAX_FRAMES; i++)
		zmq_msg_close(&m[i]);
	return true;
}

static bool readable(struct chain_zmq *z)
{
	int ev = 0;
	size_t l = sizeof(ev);

	if (zmq_getsockopt(z->sock, ZMQ_EVENTS, &ev, &l))
		return false;
	return ev & ZMQ_POLLIN;
}

static void on_io(struct ev_loop *loop, ev_io *w, int revents)
{
	struct chain_zmq *z = w->data;
	(void)loop;
	(void)revents;
	/* Edge-triggered: drain until ZMQ_EVENTS says nothing is left
	 * (checked after every recv, which also resets the edge). */
	while (readable(z))
		if (!recv_one(z))
			break;
}

struct chain_zmq *chain_zmq_new(struct ev_loop *loop, void *zctx,
				const char *endpoint, const char *topic,
				chain_zmq_cb cb, void *ctx, char *err,
				size_t errlen)
{
	struct chain_zmq *z;
	int hwm = RCV_HWM, ivl_max = RECONNECT_MAX_MS, fd;
	int64_t max = MAX_MSG_SIZE;
	size_t fl = sizeof(fd);

	if (strncmp(endpoint, "tcp://", 6)) {
		snprintf(err, errlen, "%s: not tcp://HOST:PORT", endpoint);
		return NULL;
	}
	z = calloc(1, sizeof(*z));
	if (!z)
		abort();
	z->loop = loop;
	z->cb = cb;
	z->ctx = ctx;
	z->sock = zmq_socket(zctx, ZMQ_SUB);
	if (!z->sock)
		abort(); /* only fails for a bad context or out of memory */
	zmq_setsockopt(z->sock, ZMQ_RCVHWM, &hwm, sizeof(hwm));
	zmq_setsockopt(z->sock, ZMQ_MAXMSGSIZE, &max, sizeof(max));
	zmq_setsockopt(z->sock, ZMQ_SUBSCRIBE, topic, strlen(topic));
	/* libzmq retries a refused connection every 100 ms by default, for
	 * as long as bitcoind is down (days, if an operator stops it); double
	 * the interval up to RECONNECT_MAX_MS instead.  Polling covers the
	 * wait (docs/chain.md, "bitcoind restarted"). */
	zmq_setsockopt(z->sock, ZMQ_RECONNECT_IVL_MAX, &ivl_max,
		       sizeof(ivl_max));
	/* zmq_connect does not wait for the peer: libzmq connects and
	 * reconnects in the background; it fails only on a bad address. */
	if (zmq_connect(z->sock, endpoint)) {
		snprintf(err, errlen, "%s: %s", endpoint,
			 zmq_strerror(zmq_errno()));
		zmq_close(z->sock);
		free(z);
		return NULL;
	}
	if (zmq_getsockopt(z->sock, ZMQ_FD, &fd, &fl))
		abort();
	ev_io_init(&z->io, on_io, fd, EV_READ);
	z->io.data = z;
	ev_io_start(loop, &z->io);
	/* Messages may already be queued (the edge came before the
	 * watcher): look once now. */
	ev_feed_event(loop, &z->io, EV_READ);
	return z;
}

void chain_zmq_free(struct chain_zmq *z)
{
	if (!z)
		return;
	ev_io_stop(z->loop, &z->io);
	int linger = 0;
	zmq_setsockopt(z->sock, ZMQ_LINGER, &linger, sizeof(linger));
	zmq_close(z->sock);
	free(z);
}
