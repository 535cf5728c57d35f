/* test_peer_double: a recording stand-in for peer.h sessions, for gossip
 * tests.  struct peer is opaque to gossip, so tests define it here.  Each
 * double records what gossip sent, warned and closed; two doubles can be
 * "linked" so a pump delivers one side's output to the other manager. */
#ifndef COLDNODE_TEST_PEER_DOUBLE_H
#define COLDNODE_TEST_PEER_DOUBLE_H

#include "common/common.h"
#include "gossip/gossip.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct peer {
	uint8_t id[33];
	void *user;
	/* Recorded output (oldest first). */
	uint8_t **msgs;
	size_t *lens;
	size_t n, cap, head; /* head: first not yet pumped */
	size_t bytes_sent;
	unsigned warns, closes;
	char last_warn[256], last_close[256];
	bool refuse_send; /* simulate a full send buffer */
	/* A socket that drains @drain_rate bytes a second (0: at once, no
	 * queue): what is sent waits in @queue; past @send_cap (0: none) the
	 * session is dropped as peer.h does (closes, and refuse_send). */
	double drain_rate, queue_t;
	size_t queue, queue_peak, send_cap;
	unsigned cap_drops;
	/* With refuse_send: close at once, as peer.h does (peer_gone from
	 * inside the send), reported to this manager. */
	struct gossip *gone_to;
	bool gone;
};

static inline double double_clock(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline size_t double_queued(const struct peer *cp)
{
	struct peer *p = (struct peer *)cp;
	double now = double_clock(), out;

	if (!p->drain_rate)
		return 0;
	out = (now - p->queue_t) * p->drain_rate;
	p->queue = out >= (double)p->queue ? 0 : p->queue - (size_t)out;
	p->queue_t = now;
	return p->queue;
}

static inline bool double_send(struct peer *p, const uint8_t *msg, size_t len)
{
	if (p->gone)
		abort(); /* sent to a session that was reported gone */
	if (p->drain_rate) {
		double_queued(p);
		p->queue += len;
		if (p->queue > p->queue_peak)
			p->queue_peak = p->queue;
		if (p->send_cap && p->queue > p->send_cap) {
			p->cap_drops++;
			p->closes++;
			p->refuse_send = true;
		}
	}
	if (p->refuse_send) {
		if (p->gone_to) {
			p->gone = true;
			gossip_peer_gone(p->gone_to, p);
		}
		return false;
	}
	if (p->n == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 64;
		p->msgs = realloc(p->msgs, p->cap * sizeof(*p->msgs));
		p->lens = realloc(p->lens, p->cap * sizeof(*p->lens));
	}
	p->msgs[p->n] = malloc(len);
	memcpy(p->msgs[p->n], msg, len);
	p->lens[p->n++] = len;
	p->bytes_sent += len;
	return true;
}

static inline void double_warn(struct peer *p, const char *why)
{
	p->warns++;
	snprintf(p->last_warn, sizeof(p->last_warn), "%s", why);
}

static inline void double_close(struct peer *p, const char *why)
{
	p->closes++;
	snprintf(p->last_close, sizeof(p->last_close), "%s", why);
}

static inline void double_set_user(struct peer *p, void *u) { p->user = u; }
static inline void *double_get_user(const struct peer *p) { return p->user; }
static inline const uint8_t *double_node_id(const struct peer *p) { return p->id; }

static const struct gossip_peer_ops test_peer_double_ops = {
	double_send, double_warn, double_close,
	double_set_user, double_get_user, double_node_id, double_queued,
};

/* The manager config gossip tests start from: the store in @dir
 * (borrowed), @chain (copied), these doubles as sessions, and @clock
 * (gtest_util.h's test_clock; NULL: the wall clock). */
static inline void double_gossip_config(struct gossip_config *cfg,
					const char *dir,
					const uint8_t chain[32],
					uint32_t (*clock)(void *arg))
{
	gossip_config_default(cfg);
	cfg->datadir = dir;
	memcpy(cfg->chain_hash, chain, 32);
	cfg->peer_ops = &test_peer_double_ops;
	cfg->clock = clock;
}

static inline struct peer *double_new(uint8_t idbyte)
{
	struct peer *p = calloc(1, sizeof(*p));
	p->id[0] = 0x02;
	memset(p->id + 1, idbyte, 32);
	return p;
}

static inline void double_clear(struct peer *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->msgs[i]);
	p->n = p->head = 0;
}

static inline void double_free(struct peer *p)
{
	if (!p)
		return;
	double_clear(p);
	free(p->msgs);
	free(p->lens);
	free(p);
}

/* Count recorded messages of @type. */
static inline size_t double_count(const struct peer *p, uint16_t type)
{
	size_t c = 0;
	for (size_t i = 0; i < p->n; i++)
		if (p->lens[i] >= 2 && be16_get(p->msgs[i]) == type)
			c++;
	return c;
}

/* Deliver what @out recorded (since the last pump) to manager @to as if
 * sent by @as (the double representing the sender on @to's side).
 * Returns how many were delivered. */
static inline size_t double_pump(struct peer *out, struct gossip *to, struct peer *as)
{
	size_t n = 0;
	while (out->head < out->n) {
		size_t i = out->head++;
		gossip_handle_msg(to, as, out->msgs[i], out->lens[i]);
		n++;
	}
	return n;
}

#endif
