/* A signer stream without gRPC, for tests and benchmarks: the supervisor
 * talks to it through struct sv_stream_ops, and fake_pump() answers what it
 * was sent with coldsigner's pure core (or holds the messages back). */
#ifndef COLDNODE_TEST_FAKE_SIGNER_H
#define COLDNODE_TEST_FAKE_SIGNER_H

#include <ev.h>
#include <secp256k1.h>
#include <secp256k1_ecdh.h>
#include <stdlib.h>
#include <string.h>

#include "coldsigner/coldsigner.h"
#include "supervisor/supervisor.h"

struct fake_msg {
	uint8_t *buf;
	size_t len;
};

struct fake {
	struct supervisor *sv;
	struct sv_stream *st;
	struct cn_nodekey *key;
	bool finished;
	enum sv_code code;
	char msg[400];
	bool hold;        /* keep what was sent, answer nothing */
	bool no_pong;     /* answer everything but pings */
	bool fail_send;   /* the transport refuses to send */
	struct fake_msg q[4096];
	size_t nq;
	size_t registered; /* RegistrationComplete seen */
	size_t authenticated; /* ops->authenticated calls */
	size_t conn_closed;   /* ops->close_connection calls */
	const void *connection; /* what ops->connection answers (NULL: own) */
};

static bool fake_send(void *conn, const uint8_t *msg, size_t len)
{
	struct fake *f = conn;

	if (f->fail_send)
		return false;
	if (f->nq < sizeof(f->q) / sizeof(f->q[0])) {
		f->q[f->nq].buf = malloc(len + 1);
		memcpy(f->q[f->nq].buf, msg, len);
		f->q[f->nq].len = len;
		f->nq++;
	}
	return true;
}

static void fake_finish(void *conn, enum sv_code code, const char *msg)
{
	struct fake *f = conn;

	f->finished = true;
	f->code = code;
	snprintf(f->msg, sizeof(f->msg), "%s", msg ? msg : "");
	f->st = NULL;
}

static void fake_authenticated(void *conn)
{
	struct fake *f = conn;

	f->authenticated++;
}

static const void *fake_connection(void *conn)
{
	struct fake *f = conn;

	return f->connection ? f->connection : (const void *)f;
}

static void fake_close_connection(void *conn)
{
	struct fake *f = conn;

	f->conn_closed++;
}

static const struct sv_stream_ops fake_ops = {
	.send = fake_send,
	.finish = fake_finish,
	.authenticated = fake_authenticated,
	.connection = fake_connection,
	.close_connection = fake_close_connection,
};

static void fake_clear(struct fake *f)
{
	for (size_t i = 0; i < f->nq; i++)
		free(f->q[i].buf);
	f->nq = 0;
}

/* Open a stream from @peer; returns false if refused (code/msg in f). */
static bool fake_open_as(struct fake *f, struct supervisor *sv,
			 struct cn_nodekey *key, const char *peer)
{
	const char *msg;

	fake_clear(f);
	memset(f, 0, sizeof(*f));
	f->sv = sv;
	f->key = key;
	f->st = sv_stream_open(sv, &f->code, &msg, &fake_ops, f, peer);
	if (!f->st)
		snprintf(f->msg, sizeof(f->msg), "%s", msg);
	return f->st != NULL;
}
static inline bool fake_open(struct fake *f, struct supervisor *sv,
			     struct cn_nodekey *key)
{
	return fake_open_as(f, sv, key, "127.0.0.1:4242");
}

static void fake_register(struct fake *f)
{
	size_t len;
	uint8_t *b = cs_registration(&len);

	sv_stream_recv(f->st, b, len);
	free(b);
}

/* Answer everything queued (unless held).  Returns replies delivered. */
static size_t fake_pump(struct fake *f)
{
	size_t n = 0;

	while (f->nq && f->st && !f->hold) {
		struct fake_msg m = f->q[0];
		uint8_t *out;
		size_t outlen;
		char err[128];
		enum cs_verdict v;

		memmove(f->q, f->q + 1, (f->nq - 1) * sizeof(f->q[0]));
		f->nq--;
		v = cs_handle(f->key, &out, &outlen, err, sizeof(err), m.buf,
			      m.len);
		if (v == CS_REGISTERED)
			f->registered++;
		if (v == CS_REPLY && f->no_pong) {
			struct sv_resp r;
			const char *e;
			if (sv_proto_decode(&r, &e, out, outlen) &&
			    r.kind == SV_RESP_PONG) {
				free(out);
				out = NULL;
			}
		}
		if (out && f->st) {
			sv_stream_recv(f->st, out, outlen);
			n++;
		}
		free(out);
		free(m.buf);
	}
	return n;
}

/* Answer only the oldest message queued (a signer that works through a
 * backlog in order).  Returns false if nothing was queued. */
static inline bool fake_pump_one(struct fake *f)
{
	bool hold = f->hold;
	size_t nq = f->nq;
	struct fake_msg rest[64];

	if (!f->nq || nq - 1 > 64)
		return false;
	/* Pump a queue of one, then put the rest back. */
	memcpy(rest, f->q + 1, (nq - 1) * sizeof(f->q[0]));
	f->nq = 1;
	f->hold = false;
	fake_pump(f);
	f->hold = hold;
	memmove(f->q + (nq - 1), f->q, f->nq * sizeof(f->q[0]));
	memcpy(f->q, rest, (nq - 1) * sizeof(f->q[0]));
	f->nq += nq - 1;
	return true;
}

static void fake_gone(struct fake *f, const char *why)
{
	struct sv_stream *st = f->st;

	f->st = NULL;
	sv_stream_gone(st, why);
}

/* Helpers shared by the tests that drive a supervisor with fakes. */

/* A 1 ms repeating timer's callback: it keeps ev_run(EVRUN_ONCE) from
 * blocking while a fake holds what it was sent. */
static inline void fake_tick(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)l;
	(void)w;
	(void)revents;
}

/* Run @loop, answering @f (NULL: no fake) after each iteration, until
 * @cond or 5 s. */
#define FAKE_RUN_UNTIL(loop, f, cond)                                         \
	do {                                                                  \
		double _end = cn_now() + 5;                                   \
		while (!(cond) && cn_now() < _end) {                          \
			if ((f) != NULL)                                      \
				fake_pump(f);                                 \
			ev_run((loop), EVRUN_ONCE);                           \
		}                                                             \
	} while (0)

/* The key whose secret is the scalar @n (so that a test can have several
 * signers, right and wrong). */
static inline struct cn_nodekey *fake_key(uint8_t n)
{
	uint8_t priv[32] = { 0 };

	priv[31] = n;
	return cn_nodekey_from_secret(priv);
}

/* The point n*G: an ECDH request's input whose answer the test knows. */
static inline void fake_point(uint8_t out[33], uint8_t n)
{
	struct cn_nodekey *k = fake_key(n);

	cn_nodekey_pub(k, out);
	cn_nodekey_free(k);
}

/* What ECDH of @k with fake_point(@n) must answer: secp256k1's hash of
 * n*K, computed from the other side.  False if secp256k1 refuses. */
static inline bool fake_expect_ecdh(uint8_t out[32],
				    const struct cn_nodekey *k, uint8_t n)
{
	uint8_t pub[33], priv[32] = { 0 };
	secp256k1_pubkey pk;

	cn_nodekey_pub(k, pub);
	priv[31] = n;
	return secp256k1_ec_pubkey_parse(cn_secp(), &pk, pub, 33) &&
	       secp256k1_ecdh(cn_secp(), out, &pk, priv, NULL, NULL);
}

#endif
