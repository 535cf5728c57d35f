/*~ soakload: the p2p side of the soak and crash tests.  It holds many
 * BOLT 8 + BOLT 1 sessions to one coldnode from 127.0.0.1, each with its own
 * key, and streams a synthetic signed gossip graph (a tools/gengraph file)
 * into the gossip-only ones at a fixed rate.  "Full" sessions send one
 * channel message after init, which makes coldnode treat them as full, so
 * they are closed on every signer loss; they then reconnect, as a real
 * channel peer would.  Every session that is closed is redialed with a
 * short backoff.
 *
 * It is a test tool, not a peer implementation: it answers pings, answers
 * coldnode's graph sync queries with "nothing here", and ignores the rest.
 * Once a second, and at the end (SIGTERM, SIGINT or --duration), it prints
 * one JSON line of counters on stdout, for the test scripts:
 *
 *   soakload --connect PUBKEY@127.0.0.1:PORT [--gossip N] [--full M]
 *            [--graph FILE] [--rate MSGS_PER_S] [--duration S]
 *            [--network NET] [--inflight K] [--repeat]
 *
 * --churn N keeps N more sessions that close themselves as soon as init
 * is exchanged and dial again at once, at most --churnrate handshakes per
 * second in all: each is one ECDH with the node key on the node (BOLT 8
 * act one), so this drives the node's signer at that rate (the standby
 * signer test, issue #19).  "churn_ok" counts those that reached init,
 * "churn_fail" those closed before.
 *
 * --repeat starts the stream over at its end (the node ignores what it
 * already has and takes what a crash lost).  SIGUSR1 pauses the stream, and
 * the next one resumes it (the sessions stay up either way).
 */
#include "brontide/brontide.h"
#include "common/common.h"
#include "gossip/gossip.h"
#include "peer/peer_wire.h"
#include "tools/gengraph.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ev.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <secp256k1.h>
#include <secp256k1_ecdh.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define RETRY_FIRST 0.2
#define RETRY_MAX 2.0
#define TICK 0.01 /* gossip pacing */

enum sess_state {
	SS_IDLE,       /* waiting to (re)connect */
	SS_CONNECTING, /* TCP connect in progress */
	SS_HANDSHAKE,  /* BOLT 8 acts, then our init sent */
	SS_READY,      /* init exchanged */
};

struct load;

struct sess {
	struct load *ld;
	bool full;
	bool churn; /* --churn: close at init, dial again */
	uint8_t priv[32];
	uint8_t pub[33];
	enum sess_state st;
	int fd;
	ev_io cio;
	struct brontide_conn *conn;
	double retry_at, backoff;
};

struct stats {
	uint64_t connects;      /* TCP connects started */
	uint64_t ready;         /* sessions that reached init */
	uint64_t fail_pre;      /* closed before init */
	uint64_t gossip_lost;   /* ready gossip-only sessions closed by node */
	uint64_t full_closed;   /* ready full sessions closed by node */
	uint64_t gossip_sent;   /* gossip messages queued to the node */
	uint64_t pings;         /* pings answered */
	uint64_t queries;       /* sync queries answered */
	uint64_t warnings;      /* warning / error messages received */
	uint64_t passes;        /* times the stream started over (--repeat) */
	uint64_t churn_ok;      /* --churn handshakes that reached init */
	uint64_t churn_fail;    /* ... closed before init */
};

struct load {
	struct ev_loop *loop;
	uint8_t node_id[33];
	struct sockaddr_in sa;
	uint8_t chain[32];
	struct sess *s;
	unsigned n, n_gossip, n_full, n_churn;
	double churn_rate, churn_tokens, churn_last;
	unsigned inflight, max_inflight;
	/* Gossip to send, in file order. */
	uint8_t **msgs;
	size_t *lens, nmsgs, cap, next;
	double rate, budget;
	bool repeat, paused;
	unsigned rr;
	struct stats st;
	double t0, duration;
	ev_timer starter, gossip, report, stop;
	ev_signal sigterm, sigint, sigusr1;
};

/* ---- helpers ---- */

static unsigned count_state(const struct load *ld, bool full,
			    enum sess_state st)
{
	unsigned n = 0;

	/* --churn sessions are counted apart (churn_ok/churn_fail): one
	 * waiting in READY for the starter to close it is no gossip peer. */
	for (unsigned i = 0; i < ld->n; i++)
		n += (!ld->s[i].churn && ld->s[i].full == full &&
		      ld->s[i].st == st);
	return n;
}

static void report(struct load *ld, bool final)
{
	printf("{\"t\": %.3f, \"final\": %s, \"gossip_ready\": %u, "
	       "\"full_ready\": %u, \"pending\": %u, \"connects\": %" PRIu64
	       ", \"ready\": %" PRIu64 ", \"fail_pre\": %" PRIu64
	       ", \"gossip_lost\": %" PRIu64 ", \"full_closed\": %" PRIu64
	       ", \"gossip_sent\": %" PRIu64 ", \"gossip_total\": %zu"
	       ", \"pings\": %" PRIu64 ", \"queries\": %" PRIu64
	       ", \"warnings\": %" PRIu64 ", \"passes\": %" PRIu64
	       ", \"churn_ok\": %" PRIu64 ", \"churn_fail\": %" PRIu64
	       ", \"paused\": %s}\n",
	       ev_now(ld->loop) - ld->t0, final ? "true" : "false",
	       count_state(ld, false, SS_READY), count_state(ld, true, SS_READY),
	       ld->inflight, ld->st.connects, ld->st.ready, ld->st.fail_pre,
	       ld->st.gossip_lost, ld->st.full_closed, ld->st.gossip_sent,
	       ld->nmsgs, ld->st.pings, ld->st.queries, ld->st.warnings,
	       ld->st.passes, ld->st.churn_ok, ld->st.churn_fail,
	       ld->paused ? "true" : "false");
	fflush(stdout);
}

static void sess_drop(struct sess *s, const char *why)
{
	struct load *ld = s->ld;

	if (s->churn && s->st != SS_READY && s->st != SS_IDLE)
		ld->st.churn_fail++;
	if (s->st == SS_READY && s->churn) {
		/* We close it ourselves: dial again at once. */
		s->backoff = 0;
	} else if (s->st == SS_READY) {
		if (s->full)
			ld->st.full_closed++;
		else
			ld->st.gossip_lost++;
		s->backoff = RETRY_FIRST;
	} else {
		ld->st.fail_pre++;
		ld->inflight--;
		s->backoff = s->backoff * 2 > RETRY_MAX ? RETRY_MAX
							: s->backoff * 2;
	}
	if (s->st == SS_CONNECTING) {
		ev_io_stop(ld->loop, &s->cio);
		close(s->fd);
	}
	s->fd = -1;
	if (s->conn) {
		struct brontide_conn *c = s->conn;
		s->conn = NULL;
		brontide_conn_free(c);
	}
	s->st = SS_IDLE;
	s->retry_at = ev_now(ld->loop) + s->backoff;
	(void)why;
}

static void sess_send(struct sess *s, const uint8_t *msg, size_t len)
{
	enum brontide_err e = brontide_conn_send(s->conn, msg, len);

	if (e != BRONTIDE_OK)
		sess_drop(s, brontide_strerror(e));
}

/* ---- brontide callbacks ---- */

static void on_ecdh(void *arg, struct brontide_conn *c, const uint8_t point[33])
{
	struct sess *s = arg;
	secp256k1_pubkey pk;
	uint8_t secret[32];
	bool ok = secp256k1_ec_pubkey_parse(cn_secp(), &pk, point, 33) &&
		  secp256k1_ecdh(cn_secp(), secret, &pk, s->priv, NULL, NULL);

	/* libsecp256k1's default hash is BOLT 8's: SHA256(compressed). */
	brontide_conn_ecdh_done(c, ok, secret);
	sodium_memzero(secret, sizeof(secret));
}

static void on_ecdh_cancel(void *arg, struct brontide_conn *c)
{
}

static void on_hs_ready(void *arg, struct brontide_conn *c,
			const uint8_t remote_pub[33])
{
	struct sess *s = arg;
	uint8_t init[128];
	/* gossip_queries, optional (bit 7): the node then relays nothing to
	 * us unless we ask (we never send gossip_timestamp_filter). */
	size_t len = peer_wire_build_init(init, sizeof(init), 1u << 7,
					  s->ld->chain, NULL, 0);

	sess_send(s, init, len);
}

/* Answer a query_channel_range: we hold no channels. */
static void answer_range(struct sess *s, const uint8_t *msg, size_t len)
{
	struct gossip_query_range q;
	struct gossip_reply_range r = { 0 };
	uint8_t out[128];
	size_t n;

	if (gossip_query_range_parse(&q, msg, len) != GOSSIP_OK)
		return;
	memcpy(r.chain_hash, q.chain_hash, 32);
	r.first_blocknum = q.first_blocknum;
	r.number_of_blocks = q.number_of_blocks;
	r.sync_complete = 1;
	n = gossip_reply_range_write(out, sizeof(out), &r);
	if (n && n <= sizeof(out)) {
		s->ld->st.queries++;
		sess_send(s, out, n);
	}
}

/* Answer a query_short_channel_ids: reply_short_channel_ids_end. */
static void answer_scids(struct sess *s, const uint8_t *msg, size_t len)
{
	uint8_t out[2 + 32 + 1];

	if (len < 2 + 32)
		return;
	be16_put(out, GOSSIP_REPLY_SHORT_CHANNEL_IDS_END);
	memcpy(out + 2, msg + 2, 32);
	out[34] = 1; /* full_information */
	s->ld->st.queries++;
	sess_send(s, out, sizeof(out));
}

static void on_recv(void *arg, struct brontide_conn *c, const uint8_t *msg,
		    size_t len)
{
	struct sess *s = arg;
	struct load *ld = s->ld;
	uint16_t type, num;
	uint8_t *pong;

	if (len < 2)
		return;
	type = be16_get(msg);
	switch (type) {
	case 16: /* init */
		if (s->st != SS_HANDSHAKE)
			return;
		s->st = SS_READY;
		ld->inflight--;
		ld->st.ready++;
		s->backoff = RETRY_FIRST;
		if (s->churn)
			ld->st.churn_ok++; /* closed by the starter */
		if (s->full) {
			/* channel_ready (36): any channel message makes us a
			 * full peer; coldnode logs it and has no handler. */
			uint8_t m[2 + 32 + 33] = { 0 };
			be16_put(m, 36);
			memcpy(m + 2 + 32, s->pub, 33);
			sess_send(s, m, sizeof(m));
		}
		return;
	case 18: /* ping */
		if (peer_wire_parse_ping(&num, msg, len) != PEER_WIRE_OK ||
		    num >= 65532)
			return;
		pong = malloc(4 + (size_t)num);
		if (!pong)
			abort();
		peer_wire_build_pong(pong, 4 + (size_t)num, num);
		ld->st.pings++;
		sess_send(s, pong, 4 + (size_t)num);
		free(pong);
		return;
	case 1:  /* warning */
	case 17: /* error */
		ld->st.warnings++;
		return;
	case GOSSIP_QUERY_CHANNEL_RANGE:
		answer_range(s, msg, len);
		return;
	case GOSSIP_QUERY_SHORT_CHANNEL_IDS:
		answer_scids(s, msg, len);
		return;
	}
}

static void on_closed(void *arg, struct brontide_conn *c,
		      enum brontide_err err, const char *detail)
{
	struct sess *s = arg;

	/* brontide frees @c after we return. */
	s->conn = NULL;
	sess_drop(s, brontide_strerror(err));
}

static const struct brontide_conn_cbs conn_cbs = {
	.ecdh = on_ecdh,
	.ecdh_cancel = on_ecdh_cancel,
	.ready = on_hs_ready,
	.recv = on_recv,
	.closed = on_closed,
};

/* ---- connecting ---- */

static void start_handshake(struct sess *s, int fd)
{
	struct load *ld = s->ld;

	s->fd = -1;
	s->st = SS_HANDSHAKE;
	s->conn = brontide_conn_new(ld->loop, fd, BRONTIDE_INITIATOR, s->pub,
				    ld->node_id, 30, &conn_cbs, s);
	if (!s->conn)
		sess_drop(s, "brontide_conn_new failed");
}

static void connect_done(struct ev_loop *loop, ev_io *w, int revents)
{
	struct sess *s = w->data;
	int err = 0, fd = s->fd;
	socklen_t len = sizeof(err);

	ev_io_stop(loop, w);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err) {
		sess_drop(s, "connect failed");
		return;
	}
	start_handshake(s, fd);
}

static void sess_connect(struct sess *s)
{
	struct load *ld = s->ld;
	int fd, one = 1;

	ld->inflight++;
	ld->st.connects++;
	s->st = SS_CONNECTING;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		s->fd = -1;
		s->st = SS_HANDSHAKE; /* nothing to stop */
		sess_drop(s, "socket");
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	s->fd = fd;
	if (connect(fd, (struct sockaddr *)&ld->sa, sizeof(ld->sa)) == 0) {
		start_handshake(s, fd);
		return;
	}
	if (errno != EINPROGRESS) {
		sess_drop(s, "connect");
		return;
	}
	ev_io_init(&s->cio, connect_done, fd, EV_WRITE);
	s->cio.data = s;
	ev_io_start(ld->loop, &s->cio);
}

/* Start idle sessions that are due, a bounded number at a time (the node
 * caps handshakes in flight too: --maxpendinghandshakes). */
static void starter(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct load *ld = w->data;
	double now = ev_now(loop);

	if (ld->churn_rate > 0) {
		ld->churn_tokens += (now - ld->churn_last) * ld->churn_rate;
		if (ld->churn_tokens > ld->churn_rate * 0.1 + 1)
			ld->churn_tokens = ld->churn_rate * 0.1 + 1;
		ld->churn_last = now;
	}
	for (unsigned i = 0; i < ld->n; i++) {
		struct sess *s = &ld->s[i];
		/* Not from inside brontide's callbacks: here. */
		if (s->churn && s->st == SS_READY)
			sess_drop(s, "churn");
		if (ld->inflight >= ld->max_inflight)
			continue;
		if (s->st != SS_IDLE || s->retry_at > now)
			continue;
		if (s->churn) {
			if (ld->churn_tokens < 1)
				continue;
			ld->churn_tokens -= 1;
		}
		sess_connect(s);
	}
}

/* ---- gossip stream ---- */

static void gossip_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct load *ld = w->data;

	if (ld->paused)
		return;
	ld->budget += ld->rate * TICK;
	if (ld->budget > ld->rate) /* no catching up after a long stall */
		ld->budget = ld->rate;
	while (ld->budget >= 1 && ld->next < ld->nmsgs) {
		struct sess *s = NULL;
		for (unsigned k = 0; k < ld->n_gossip; k++) {
			struct sess *c = &ld->s[(ld->rr + k) % ld->n_gossip];
			if (c->st == SS_READY) {
				s = c;
				ld->rr = (ld->rr + k + 1) % ld->n_gossip;
				break;
			}
		}
		if (!s)
			return;
		/* A channel's announcement and its two updates go together
		 * on one session, so they arrive in order. */
		for (int k = 0; k < 3 && ld->next < ld->nmsgs &&
				s->st == SS_READY;
		     k++) {
			sess_send(s, ld->msgs[ld->next], ld->lens[ld->next]);
			ld->next++;
			ld->st.gossip_sent++;
			ld->budget--;
		}
		if (ld->next == ld->nmsgs && ld->repeat) {
			ld->next = 0;
			ld->st.passes++;
		}
	}
}

static void add_msg(void *arg, const uint8_t *msg, size_t len)
{
	struct load *ld = arg;

	if (ld->nmsgs == ld->cap) {
		ld->cap = ld->cap ? ld->cap * 2 : 1024;
		ld->msgs = realloc(ld->msgs, ld->cap * sizeof(*ld->msgs));
		ld->lens = realloc(ld->lens, ld->cap * sizeof(*ld->lens));
		if (!ld->msgs || !ld->lens)
			abort();
	}
	ld->msgs[ld->nmsgs] = malloc(len);
	if (!ld->msgs[ld->nmsgs])
		abort();
	memcpy(ld->msgs[ld->nmsgs], msg, len);
	ld->lens[ld->nmsgs++] = len;
}

/* ---- main ---- */

static void on_report(struct ev_loop *loop, ev_timer *w, int revents)
{
	report(w->data, false);
}

static void on_stop(struct ev_loop *loop, ev_timer *w, int revents)
{
	ev_break(loop, EVBREAK_ALL);
}

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	ev_break(loop, EVBREAK_ALL);
}

static void on_pause(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct load *ld = w->data;

	ld->paused = !ld->paused;
	ld->budget = 0;
	report(ld, false);
}

static bool parse_target(struct load *ld, const char *uri)
{
	const char *at = strchr(uri, '@'), *colon;
	char host[64], hex[67];

	if (!at || at - uri != 66)
		return false;
	memcpy(hex, uri, 66);
	hex[66] = '\0';
	if (!hex_decode(ld->node_id, 33, hex))
		return false;
	colon = strrchr(at, ':');
	if (!colon || (size_t)(colon - at - 1) >= sizeof(host))
		return false;
	memcpy(host, at + 1, (size_t)(colon - at - 1));
	host[colon - at - 1] = '\0';
	ld->sa.sin_family = AF_INET;
	ld->sa.sin_port = htons((uint16_t)atoi(colon + 1));
	return inet_pton(AF_INET, host, &ld->sa.sin_addr) == 1;
}

static void new_key(struct sess *s)
{
	secp256k1_pubkey pk;
	size_t len = 33;

	do
		randombytes_buf(s->priv, 32);
	while (!secp256k1_ec_pubkey_create(cn_secp(), &pk, s->priv));
	secp256k1_ec_pubkey_serialize(cn_secp(), s->pub, &len, &pk,
				      SECP256K1_EC_COMPRESSED);
}

static int usage(void)
{
	fprintf(stderr,
		"usage: soakload --connect PUBKEY@127.0.0.1:PORT [--gossip N] "
		"[--full M] [--graph FILE] [--rate MSGS_PER_S] "
		"[--duration S] [--network NET] [--inflight K] [--repeat] "
		"[--churn N] [--churnrate HANDSHAKES_PER_S]\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct load ld = { .n_gossip = 10, .rate = 0, .max_inflight = 64 };
	const char *target = NULL, *graph = NULL, *net = "regtest";
	struct rlimit rl;

	cn_crypto_init();
	signal(SIGPIPE, SIG_IGN);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--repeat")) {
			ld.repeat = true;
			continue;
		}
		if (!v)
			return usage();
		i++;
		if (!strcmp(a, "--connect"))
			target = v;
		else if (!strcmp(a, "--gossip"))
			ld.n_gossip = (unsigned)strtoul(v, NULL, 10);
		else if (!strcmp(a, "--full"))
			ld.n_full = (unsigned)strtoul(v, NULL, 10);
		else if (!strcmp(a, "--graph"))
			graph = v;
		else if (!strcmp(a, "--rate"))
			ld.rate = strtod(v, NULL);
		else if (!strcmp(a, "--duration"))
			ld.duration = strtod(v, NULL);
		else if (!strcmp(a, "--network"))
			net = v;
		else if (!strcmp(a, "--churn"))
			ld.n_churn = (unsigned)strtoul(v, NULL, 10);
		else if (!strcmp(a, "--churnrate"))
			ld.churn_rate = strtod(v, NULL);
		else if (!strcmp(a, "--inflight"))
			ld.max_inflight = (unsigned)strtoul(v, NULL, 10);
		else
			return usage();
	}
	if (!target || !parse_target(&ld, target) || ld.n_gossip == 0 ||
	    ld.max_inflight == 0)
		return usage();
	/* BOLT 0 chain hashes, genesis hash in wire byte order. */
	if (!hex_decode(ld.chain, 32,
			!strcmp(net, "mainnet")
				? "6fe28c0ab6f1b372c1a6a246ae63f74f931e8365e15a089c68d6190000000000"
			: !strcmp(net, "regtest")
				? "06226e46111a0b59caaf126043eb5bbf28c34f3a5e332a1fc7b2b73cf188910f"
				: ""))
		return usage();
	if (graph && !gengraph_read_file(graph, add_msg, &ld)) {
		fprintf(stderr, "soakload: cannot read %s\n", graph);
		return 1;
	}
	/* Each session is a socket. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}

	ld.loop = EV_DEFAULT;
	ld.n = ld.n_gossip + ld.n_full + ld.n_churn;
	ld.s = calloc(ld.n, sizeof(*ld.s));
	if (!ld.s)
		return 1;
	/* Gossip-only sessions first: the stream round-robins over them. */
	for (unsigned i = 0; i < ld.n; i++) {
		ld.s[i].ld = &ld;
		ld.s[i].full = i >= ld.n_gossip && i < ld.n_gossip + ld.n_full;
		ld.s[i].churn = i >= ld.n_gossip + ld.n_full;
		ld.s[i].fd = -1;
		ld.s[i].backoff = RETRY_FIRST;
		new_key(&ld.s[i]);
	}
	ld.t0 = ld.churn_last = ev_now(ld.loop);
	if (ld.n_churn && ld.churn_rate <= 0)
		ld.churn_rate = 1000;
	ev_timer_init(&ld.starter, starter, 0, 0.02);
	ld.starter.data = &ld;
	ev_timer_start(ld.loop, &ld.starter);
	ev_timer_init(&ld.gossip, gossip_tick, TICK, TICK);
	ld.gossip.data = &ld;
	if (ld.rate > 0 && ld.nmsgs)
		ev_timer_start(ld.loop, &ld.gossip);
	ev_timer_init(&ld.report, on_report, 1, 1);
	ld.report.data = &ld;
	ev_timer_start(ld.loop, &ld.report);
	if (ld.duration > 0) {
		ev_timer_init(&ld.stop, on_stop, ld.duration, 0);
		ev_timer_start(ld.loop, &ld.stop);
	}
	ev_signal_init(&ld.sigterm, on_signal, SIGTERM);
	ev_signal_start(ld.loop, &ld.sigterm);
	ev_signal_init(&ld.sigint, on_signal, SIGINT);
	ev_signal_start(ld.loop, &ld.sigint);
	ev_signal_init(&ld.sigusr1, on_pause, SIGUSR1);
	ld.sigusr1.data = &ld;
	ev_signal_start(ld.loop, &ld.sigusr1);

	ev_run(ld.loop, 0);

	report(&ld, true);
	for (unsigned i = 0; i < ld.n; i++) {
		if (ld.s[i].st == SS_CONNECTING) {
			ev_io_stop(ld.loop, &ld.s[i].cio);
			close(ld.s[i].fd);
		}
		brontide_conn_free(ld.s[i].conn);
		sodium_memzero(ld.s[i].priv, 32);
	}
	free(ld.s);
	for (size_t i = 0; i < ld.nmsgs; i++)
		free(ld.msgs[i]);
	free(ld.msgs);
	free(ld.lens);
	return 0;
}
