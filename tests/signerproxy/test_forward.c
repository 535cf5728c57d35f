/* sv_forward on a real loop with a fake transport: coldsigner's core does
 * the registration and key check, and an echo signer here answers the
 * forwarded members (6..13) with "ans:" + the request's bytes in the same
 * member.  Sent at once, held until a signer is ready, held too long,
 * lost in flight, wrong member, cancelled, an answer for an id never
 * sent, a 2 MiB answer (past the node's own SV_MAX_MSG). */
#include "supervisor/supervisor.h"

#include <ev.h>
#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "fake_signer.h"
#include "signerproxy.pb-c.h"

static struct ev_loop *loop;

struct ans {
	int count;
	struct sv_fwd_answer a;
	uint8_t *body;
	char error[256];
};

static void fwd_cb(void *arg, const struct sv_fwd_answer *a)
{
	struct ans *x = arg;

	x->count++;
	x->a = *a;
	free(x->body);
	x->body = NULL;
	if (a->body) {
		x->body = malloc(a->len + 1);
		memcpy(x->body, a->body, a->len);
	}
	snprintf(x->error, sizeof(x->error), "%s", a->error ? a->error : "");
}

static void reset(struct ans *x)
{
	free(x->body);
	memset(x, 0, sizeof(*x));
}

/* Modes of the echo signer. */
static bool echo_pong;     /* answer with a pong instead */
static bool echo_error;    /* answer with a SignerError */
static bool echo_bogus;    /* first answer an id never sent */
static bool echo_hold;     /* answer nothing forwarded */
static size_t echo_big;    /* answer this many bytes instead */

/* Answer one forwarded message (@q, member @c). */
static void answer(struct fake *f, Coldnode__Signerproxy__ForwardRequest *q,
		   unsigned c)
{
	const ProtobufCFieldDescriptor *fd =
		protobuf_c_message_descriptor_get_field(
			&coldnode__signerproxy__forward_request__descriptor, c);
	const ProtobufCBinaryData *b =
		(const ProtobufCBinaryData *)((char *)q + fd->offset);
	Coldnode__Signerproxy__ForwardResponse r;
	Coldnode__Signerproxy__ForwardSignerError se;
	size_t alen = echo_big ? echo_big : b->len + 4;
	uint8_t *abody = calloc(1, alen + 1), *out;
	size_t n;

	/* _init: the INIT macros' oneof braces warn. */
	coldnode__signerproxy__forward_response__init(&r);
	coldnode__signerproxy__forward_signer_error__init(&se);
	memcpy(abody, "ans:", 4);
	if (!echo_big)
		memcpy(abody + 4, b->data, b->len);
	r.ref_request_id = q->request_id;
	if (echo_pong) {
		r.sign_response_type_case =
			COLDNODE__SIGNERPROXY__FORWARD_RESPONSE__SIGN_RESPONSE_TYPE_PONG;
		r.pong = true;
	} else if (echo_error) {
		r.sign_response_type_case =
			COLDNODE__SIGNERPROXY__FORWARD_RESPONSE__SIGN_RESPONSE_TYPE_SIGNER_ERROR;
		se.error = "error processing the request in the remote "
			   "signer: nope";
		r.signer_error = &se;
	} else {
		const ProtobufCFieldDescriptor *rd =
			protobuf_c_message_descriptor_get_field(
				&coldnode__signerproxy__forward_response__descriptor,
				c);
		ProtobufCBinaryData *rb =
			(ProtobufCBinaryData *)((char *)&r + rd->offset);
		rb->data = abody;
		rb->len = alen;
		r.sign_response_type_case = c;
	}
	if (echo_bogus) {
		/* The same answer for an id never sent: dropped. */
		r.ref_request_id = q->request_id + 1000000;
		n = coldnode__signerproxy__forward_response__get_packed_size(&r);
		out = malloc(n);
		coldnode__signerproxy__forward_response__pack(&r, out);
		sv_stream_recv(f->st, out, n);
		free(out);
		r.ref_request_id = q->request_id;
	}
	n = coldnode__signerproxy__forward_response__get_packed_size(&r);
	out = malloc(n);
	coldnode__signerproxy__forward_response__pack(&r, out);
	sv_stream_recv(f->st, out, n);
	free(out);
	free(abody);
}

/* Answer what was sent, oldest first: forwarded members (6..13) here,
 * the rest (key check, pings) with coldsigner's core as fake_pump does. */
static void pump(struct fake *f)
{
	while (f->nq && f->st) {
		struct fake_msg m = f->q[0];
		Coldnode__Signerproxy__ForwardRequest *q;
		unsigned c;

		memmove(f->q, f->q + 1, (f->nq - 1) * sizeof(f->q[0]));
		f->nq--;
		q = coldnode__signerproxy__forward_request__unpack(NULL, m.len,
								   m.buf);
		c = q ? (unsigned)q->sign_request_type_case : 0;
		if (c >= 6 && c <= 13) {
			if (!echo_hold)
				answer(f, q, c);
		} else {
			uint8_t *out;
			size_t outlen;
			char err[128];
			if (cs_handle(f->key, &out, &outlen, err, sizeof(err),
				      m.buf, m.len) == CS_REPLY && out)
				sv_stream_recv(f->st, out, outlen);
			free(out);
		}
		if (q)
			coldnode__signerproxy__forward_request__free_unpacked(q, NULL);
		free(m.buf);
	}
}

#define RUN_UNTIL(f, cond)                                                    \
	do {                                                                  \
		double _end = cn_now() + 5;                                   \
		while (!(cond) && cn_now() < _end) {                          \
			if ((f) != NULL)                                      \
				pump(f);                                      \
			ev_run(loop, EVRUN_ONCE);                             \
		}                                                             \
	} while (0)

static struct cn_nodekey *key7(void)
{
	uint8_t priv[32] = { 0 };
	priv[31] = 7;
	return cn_nodekey_from_secret(priv);
}

static void activate(struct fake *f, struct supervisor *sv,
		     struct cn_nodekey *k)
{
	CHECK(fake_open(f, sv, k));
	fake_register(f);
	RUN_UNTIL(f, sv_get_state(sv) == SV_ACTIVE);
	CHECK(sv_get_state(sv) == SV_ACTIVE);
}

int main(void)
{
	struct sv_config cfg;
	struct supervisor *sv;
	struct cn_nodekey *k;
	struct fake f = { 0 };
	struct ans a1 = { 0 }, a2 = { 0 }, a3 = { 0 }, a4 = { 0 };
	bool q;
	ev_timer t;

	(void)fake_pump; /* pump() does its job here */
	cn_crypto_init();
	loop = EV_DEFAULT;
	ev_timer_init(&t, fake_tick, 0.01, 0.01);
	ev_timer_start(loop, &t);
	sv_config_default(&cfg);
	cfg.ping_interval = 60;
	sv = sv_new(loop, &cfg, NULL);
	k = key7();

	/* No signer, no wait: refused (not sent), never inside the call. */
	sv_forward(sv, &q, 6, (const uint8_t *)"x", 1, 0, fwd_cb, &a1);
	CHECK(!q && a1.count == 0);
	RUN_UNTIL(NULL, a1.count);
	CHECK(a1.a.result == SV_ERR_UNAVAILABLE && !a1.a.sent && !a1.a.queued);

	/* Held past its wait: UNAVAILABLE, queued, not sent, waited ~0.2 s. */
	sv_forward(sv, &q, 7, (const uint8_t *)"y", 1, 0.2, fwd_cb, &a2);
	CHECK(q);
	RUN_UNTIL(NULL, a2.count);
	CHECK(a2.a.result == SV_ERR_UNAVAILABLE && a2.a.queued && !a2.a.sent);
	CHECK(a2.a.waited >= 0.19 && a2.a.waited < 1);

	/* Held, then a signer arrives: sent and answered. */
	sv_forward(sv, &q, 13, (const uint8_t *)"psbt", 4, 5, fwd_cb, &a3);
	CHECK(q);
	activate(&f, sv, k);
	RUN_UNTIL(&f, a3.count);
	CHECK(a3.a.result == SV_OK && a3.a.sent && a3.a.queued &&
	      a3.a.field == 13 && a3.a.len == 8 &&
	      !memcmp(a3.body, "ans:psbt", 8));

	/* Sent at once; an answer for an id never sent first is dropped. */
	echo_bogus = true;
	reset(&a1);
	sv_forward(sv, &q, 10, (const uint8_t *)"sig", 3, 5, fwd_cb, &a1);
	CHECK(!q);
	RUN_UNTIL(&f, a1.count);
	CHECK(a1.count == 1 && a1.a.result == SV_OK && !a1.a.queued &&
	      a1.a.field == 10 && !memcmp(a1.body, "ans:sig", 7));
	echo_bogus = false;
	CHECK(sv_get_state(sv) == SV_ACTIVE);

	/* A 2 MiB answer (a big signed PSBT). */
	echo_big = 2 * 1024 * 1024;
	reset(&a1);
	sv_forward(sv, NULL, 13, (const uint8_t *)"p", 1, 5, fwd_cb, &a1);
	RUN_UNTIL(&f, a1.count);
	CHECK(a1.a.result == SV_OK && a1.a.len == echo_big);
	echo_big = 0;

	/* The signer's error text; a pong where a member was due. */
	echo_error = true;
	reset(&a1);
	sv_forward(sv, NULL, 8, (const uint8_t *)"n", 1, 5, fwd_cb, &a1);
	RUN_UNTIL(&f, a1.count);
	CHECK(a1.a.result == SV_ERR_SIGNER &&
	      !strcmp(a1.error, "error processing the request in the "
				"remote signer: nope"));
	echo_error = false;
	echo_pong = true;
	reset(&a1);
	sv_forward(sv, NULL, 9, (const uint8_t *)"n", 1, 5, fwd_cb, &a1);
	RUN_UNTIL(&f, a1.count);
	CHECK(a1.a.result == SV_ERR_BAD_REPLY);
	echo_pong = false;

	/* Cancel: fires at once with CANCELLED; its late answer dropped. */
	echo_hold = true;
	reset(&a1);
	uint64_t id = sv_forward(sv, NULL, 11, (const uint8_t *)"c", 1, 5,
				 fwd_cb, &a1);
	for (int i = 0; i < 5; i++) {
		pump(&f);
		ev_run(loop, EVRUN_NOWAIT);
	}
	sv_cancel(sv, id);
	CHECK(a1.count == 1 && a1.a.result == SV_ERR_CANCELLED && a1.a.sent);

	/* Lost with requests in flight: UNAVAILABLE, sent. */
	reset(&a4);
	sv_forward(sv, NULL, 12, (const uint8_t *)"", 0, 5, fwd_cb, &a4);
	struct sv_info si;
	sv_get_info(sv, &si);
	CHECK(si.requests_sent == 1);
	fake_gone(&f, "killed");
	CHECK(a4.count == 1 && a4.a.result == SV_ERR_UNAVAILABLE && a4.a.sent);
	CHECK(sv_get_state(sv) == SV_SAFE_MODE);
	echo_hold = false;

	/* Back: the next one goes through. */
	activate(&f, sv, k);
	reset(&a1);
	sv_forward(sv, NULL, 6, (const uint8_t *)"again", 5, 1, fwd_cb, &a1);
	RUN_UNTIL(&f, a1.count);
	CHECK(a1.a.result == SV_OK && !memcmp(a1.body, "ans:again", 9));

	/* Shutdown fails the held ones (not sent). */
	fake_gone(&f, "killed again");
	reset(&a1);
	sv_forward(sv, &q, 6, (const uint8_t *)"z", 1, 5, fwd_cb, &a1);
	CHECK(q);
	sv_shutdown(sv, "test over");
	CHECK(a1.count == 1 && a1.a.result == SV_ERR_UNAVAILABLE && !a1.a.sent);

	free(a1.body);
	free(a2.body);
	free(a3.body);
	free(a4.body);
	fake_clear(&f);
	sv_free(sv);
	cn_nodekey_free(k);
	ev_timer_stop(loop, &t);
	return check_exit();
}
