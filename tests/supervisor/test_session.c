/* The supervisor session on a real libev loop, with a fake transport and
 * coldsigner's core as the signer: registration, key check and pinning,
 * request matching, loss, timeouts, pings, cancel, local mode. */
#include "supervisor/supervisor.h"

#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "fake_signer.h"

static struct ev_loop *loop;
static char tmpdir[64];

struct res {
	bool fired;
	int count;
	enum sv_result r;
	uint8_t data[64];
};

static void ecdh_cb(void *arg, enum sv_result r, const uint8_t *secret)
{
	struct res *x = arg;

	x->fired = true;
	x->count++;
	x->r = r;
	if (secret)
		memcpy(x->data, secret, 32);
}

static void sign_cb(void *arg, enum sv_result r, const uint8_t *sig)
{
	struct res *x = arg;

	x->fired = true;
	x->count++;
	x->r = r;
	if (sig)
		memcpy(x->data, sig, 64);
}

static struct supervisor *new_sv(const char *pin, double timeout)
{
	struct sv_config cfg;

	sv_config_default(&cfg);
	cfg.pin_db_path = pin;
	cfg.request_timeout = timeout;
	cfg.ping_interval = 60;
	cfg.ping_timeout = timeout;
	return sv_new(loop, &cfg, NULL);
}

static void test_first_contact_and_requests(const char *pin)
{
	struct supervisor *sv = new_sv(pin, 5);
	struct cn_nodekey *k = fake_key(7);
	struct fake f = { 0 };
	struct res now = { 0 }, queued = { 0 }, sig = { 0 };
	struct sv_info info;
	uint8_t point[33], want[32], pub[33];

	CHECK(sv_get_state(sv) == SV_WAITING_FOR_SIGNER);
	CHECK(!sv_node_pubkey(sv, pub));
	CHECK(!sv_allow_full(sv));
	fake_point(point, 3);

	/* No signer and no wait: UNAVAILABLE, but not from inside the call. */
	sv_ecdh(sv, point, 0, ecdh_cb, &now);
	CHECK(!now.fired);
	FAKE_RUN_UNTIL(loop, NULL, now.fired);
	CHECK(now.r == SV_ERR_UNAVAILABLE && now.count == 1);

	/* Signatures are never attempted without a signer. */
	sv_sign_message(sv, (const uint8_t *)"x", 1, sign_cb, &sig);
	FAKE_RUN_UNTIL(loop, NULL, sig.fired);
	CHECK(sig.r == SV_ERR_UNAVAILABLE);

	/* With a wait, the request waits for the signer. */
	sv_ecdh(sv, point, 5, ecdh_cb, &queued);
	sv_get_info(sv, &info);
	CHECK(info.requests_queued == 1);

	CHECK(fake_open(&f, sv, k));
	sv_get_info(sv, &info);
	CHECK(info.signer_connected && !info.signer_ready);
	/* Not authenticated (connection budget) before registration. */
	CHECK(f.authenticated == 0);
	fake_register(&f);
	FAKE_RUN_UNTIL(loop, &f, sv_get_state(sv) == SV_ACTIVE && queued.fired);
	CHECK(sv_get_state(sv) == SV_ACTIVE);
	CHECK(f.registered == 1);
	CHECK(f.authenticated == 1);
	CHECK(sv_allow_full(sv));
	CHECK(queued.fired && queued.r == SV_OK && queued.count == 1);
	CHECK(fake_expect_ecdh(want, k, 3));
	CHECK_MEM(queued.data, want, 32);

	/* First contact pinned the signer's key. */
	cn_nodekey_pub(k, pub);
	{
		uint8_t got[33];
		CHECK(sv_node_pubkey(sv, got));
		CHECK_MEM(got, pub, 33);
	}
	sv_get_info(sv, &info);
	CHECK(strcmp(info.signer_info, "outboundSigner") == 0);
	CHECK(strcmp(info.signer_peer, "127.0.0.1:4242") == 0);
	CHECK(info.signer_ready);
	CHECK(info.transitions[SV_ACTIVE] == 1);
	CHECK(strstr(info.cause, "ready") != NULL);

	/* Sign: 64-byte wire signature, checked against the node key. */
	memset(&sig, 0, sizeof(sig));
	sv_sign_message(sv, (const uint8_t *)"hello", 5, sign_cb, &sig);
	FAKE_RUN_UNTIL(loop, &f, sig.fired);
	CHECK(sig.r == SV_OK);

	/* A second signer is refused. */
	{
		struct fake f2 = { 0 };
		CHECK(!fake_open(&f2, sv, k));
		CHECK(f2.code == SV_CODE_ALREADY_EXISTS);
		CHECK(strcmp(f2.msg, "only one remote signer can be connected") == 0);
		sv_get_info(sv, &info);
		CHECK(info.signer_refused == 1);
	}

	/* Loss: requests in flight fail at once, generation moves on. */
	{
		struct res r[5] = { { 0 } };
		uint64_t gen = sv_generation(sv);
		f.hold = true;
		for (int i = 0; i < 5; i++)
			sv_ecdh(sv, point, 5, ecdh_cb, &r[i]);
		ev_run(loop, EVRUN_NOWAIT);
		sv_get_info(sv, &info);
		CHECK(info.requests_sent == 5);
		fake_gone(&f, "TCP closed");
		for (int i = 0; i < 5; i++)
			CHECK(r[i].fired && r[i].r == SV_ERR_UNAVAILABLE &&
			      r[i].count == 1);
		CHECK(sv_generation(sv) == gen + 1);
		CHECK(sv_get_state(sv) == SV_SAFE_MODE);
		CHECK(!sv_allow_full(sv));
		sv_get_info(sv, &info);
		CHECK(!info.signer_connected);
		CHECK(info.requests_sent == 0);
		CHECK(strstr(info.cause, "TCP closed") != NULL);
	}

	/* Back again: ACTIVE, counted. */
	CHECK(fake_open(&f, sv, k));
	fake_register(&f);
	FAKE_RUN_UNTIL(loop, &f, sv_get_state(sv) == SV_ACTIVE);
	sv_get_info(sv, &info);
	CHECK(info.transitions[SV_ACTIVE] == 2);
	CHECK(info.transitions[SV_SAFE_MODE] == 1);
	CHECK(info.signer_sessions == 2);
	CHECK(info.signer_registrations == 2);
	CHECK(info.signer_losses == 1);
	/* Two refused without a signer, five failed by the loss. */
	CHECK(info.requests_unavailable == 7);
	CHECK(info.requests_failed == 7);
	CHECK(info.requests_timed_out == 0);
	/* The metrics' per-kind view adds up to the same, and every answered
	 * request was timed. */
	{
		struct sv_req_stats rs[SV_NUM_REQ_KINDS];
		uint64_t unavail = 0, ok = 0;
		sv_get_req_stats(sv, rs);
		for (int kd = 0; kd < SV_NUM_REQ_KINDS; kd++) {
			unavail += rs[kd].results[SV_ERR_UNAVAILABLE];
			ok += rs[kd].results[SV_OK];
		}
		CHECK(unavail == 7);
		CHECK(ok == info.requests_ok);
		CHECK(rs[SV_REQ_ECDH].latency.count ==
		      rs[SV_REQ_ECDH].results[SV_OK] +
			      rs[SV_REQ_ECDH].results[SV_ERR_SIGNER] +
			      rs[SV_REQ_ECDH].results[SV_ERR_BAD_REPLY]);
		CHECK(sv_signer_last_seen(sv) > 0);
	}

	sv_shutdown(sv, "test over");
	CHECK(f.finished && f.code == SV_CODE_UNAVAILABLE);
	CHECK(sv_get_state(sv) == SV_SHUTTING_DOWN);
	fake_clear(&f);
	sv_free(sv);
	cn_nodekey_free(k);
}

/* The pinned key survives a restart; another key is refused. */
static void test_pinned_wrong_key(const char *pin)
{
	struct supervisor *sv = new_sv(pin, 5);
	struct cn_nodekey *good = fake_key(7), *bad = fake_key(8);
	struct fake f = { 0 };
	struct sv_info info;
	uint8_t pub[33], got[33];

	cn_nodekey_pub(good, pub);
	CHECK(sv_node_pubkey(sv, got));
	CHECK_MEM(got, pub, 33);

	CHECK(fake_open(&f, sv, bad));
	fake_register(&f);
	FAKE_RUN_UNTIL(loop, &f, f.finished);
	CHECK(f.finished && f.code == SV_CODE_PERMISSION_DENIED);
	CHECK(strstr(f.msg, "signer holds node key") != NULL);
	CHECK(sv_get_state(sv) == SV_WAITING_FOR_SIGNER);
	sv_get_info(sv, &info);
	CHECK(info.key_mismatches == 1);
	fake_clear(&f);

	/* The right one still gets in. */
	CHECK(fake_open(&f, sv, good));
	fake_register(&f);
	FAKE_RUN_UNTIL(loop, &f, sv_get_state(sv) == SV_ACTIVE);
	CHECK(sv_get_state(sv) == SV_ACTIVE);
	fake_clear(&f);
	sv_free(sv);
	CHECK(f.finished);
	cn_nodekey_free(good);
	cn_nodekey_free(bad);
}

/* --signer.nodepubkey without a pin database. */
static void test_configured_key(void)
{
	struct sv_config cfg;
	struct cn_nodekey *good = fake_key(9), *bad = fake_key(10);
	struct fake f = { 0 };
	struct supervisor *sv;

	sv_config_default(&cfg);
	cfg.have_node_pubkey = true;
	cn_nodekey_pub(good, cfg.node_pubkey);
	sv = sv_new(loop, &cfg, NULL);
	CHECK(fake_open(&f, sv, bad));
	fake_register(&f);
	FAKE_RUN_UNTIL(loop, &f, f.finished);
	CHECK(f.code == SV_CODE_PERMISSION_DENIED);
	fake_clear(&f);
	CHECK(fake_open(&f, sv, good));
	fake_register(&f);
	FAKE_RUN_UNTIL(loop, &f, sv_get_state(sv) == SV_ACTIVE);
	CHECK(sv_get_state(sv) == SV_ACTIVE);
	fake_clear(&f);
	sv_free(sv);
	cn_nodekey_free(good);
	cn_nodekey_free(bad);
}

static void test_bad_registration(void)
{
	struct supervisor *sv = new_sv(NULL, 0.05);
	struct cn_nodekey *k = fake_key(7);
	struct fake f = { 0 };
	uint8_t *b;
	size_t len;

	/* Wrong first request id. */
	CHECK(fake_open(&f, sv, k));
	b = cs_registration(&len);
	b[1] = 3; /* ref_request_id varint */
	sv_stream_recv(f.st, b, len);
	free(b);
	CHECK(f.finished && f.code == SV_CODE_INVALID_ARGUMENT);
	CHECK(strcmp(f.msg, "initial request ID must be 1, but is: 3") == 0);
	/* ... and the signer was told in-band too. */
	CHECK(f.nq == 1);
	fake_clear(&f);

	/* Not a registration. */
	CHECK(fake_open(&f, sv, k));
	{
		static const uint8_t pong[] = { 0x08, 0x01, 0x18, 0x01 };
		sv_stream_recv(f.st, pong, sizeof(pong));
	}
	CHECK(f.finished && strstr(f.msg, "expected registration message") != NULL);
	fake_clear(&f);

	/* Unknown oneof. */
	CHECK(fake_open(&f, sv, k));
	{
		static const uint8_t unk[] = { 0x08, 0x01, 0x32, 0x00 };
		sv_stream_recv(f.st, unk, sizeof(unk));
	}
	CHECK(f.finished && strstr(f.msg, "<nil>") != NULL);
	fake_clear(&f);

	/* Garbage. */
	CHECK(fake_open(&f, sv, k));
	{
		static const uint8_t junk[] = { 0xff, 0xff, 0xff };
		sv_stream_recv(f.st, junk, sizeof(junk));
	}
	CHECK(f.finished && f.code == SV_CODE_INVALID_ARGUMENT);
	fake_clear(&f);

	/* Nothing at all: registration times out. */
	CHECK(fake_open(&f, sv, k));
	FAKE_RUN_UNTIL(loop, NULL, f.finished);
	CHECK(f.finished && f.code == SV_CODE_DEADLINE_EXCEEDED);
	fake_clear(&f);

	CHECK(sv_get_state(sv) == SV_WAITING_FOR_SIGNER);
	sv_free(sv);
	cn_nodekey_free(k);
}

static void test_timeouts(void)
{
	struct sv_config cfg;
	struct cn_nodekey *k = fake_key(7);
	struct fake f = { 0 };
	struct res r = { 0 }, other = { 0 };
	struct supervisor *sv;
	uint8_t point[33];

	fake_point(point, 3);
	sv = new_sv(NULL, 0.05);
	CHECK(fake_open(&f, sv, k));
	fake_register(&f);
	FAKE_RUN_UNTIL(loop, &f, sv_get_state(sv) == SV_ACTIVE);

	/* A request past --signer.requesttimeout drops the signer. */
	f.hold = true;
	sv_ecdh(sv, point, 0, ecdh_cb, &r);
	sv_ecdh(sv, point, 0, ecdh_cb, &other);
	FAKE_RUN_UNTIL(loop, NULL, r.fired && other.fired);
	CHECK(r.r == SV_ERR_TIMEOUT);
	CHECK(other.r == SV_ERR_UNAVAILABLE);
	CHECK(f.finished && f.code == SV_CODE_DEADLINE_EXCEEDED);
	CHECK(sv_get_state(sv) == SV_SAFE_MODE);
	{
		struct sv_info info;
		sv_get_info(sv, &info);
		CHECK(info.requests_timed_out == 1);
		CHECK(info.requests_unavailable == 1);
		CHECK(info.signer_losses == 1);
		struct sv_req_stats rs[SV_NUM_REQ_KINDS];
		sv_get_req_stats(sv, rs);
		CHECK(rs[SV_REQ_ECDH].results[SV_ERR_TIMEOUT] == 1);
		/* Not answered: not in the latency histogram. */
		CHECK(rs[SV_REQ_ECDH].latency.count ==
		      rs[SV_REQ_ECDH].results[SV_OK]);
	}
	fake_clear(&f);

	/* Issue 22: a signer working through a backlog in order, each answer
	 * 0.6 timeouts after the previous one: the third request is answered
	 * 1.8 timeouts after it was sent, yet the signer was never silent for
	 * a whole timeout.  Not lost (today's main dropped it). */
	{
		struct res b[3] = { { 0 } };
		struct fake g = { 0 };
		struct supervisor *sv2 = new_sv(NULL, 0.25);
		CHECK(fake_open(&g, sv2, k));
		fake_register(&g);
		FAKE_RUN_UNTIL(loop, &g, sv_get_state(sv2) == SV_ACTIVE);
		g.hold = true;
		for (int i = 0; i < 3; i++)
			sv_ecdh(sv2, point, 0, ecdh_cb, &b[i]);
		for (int i = 0; i < 3; i++) {
			double until = cn_now() + 0.15;
			while (cn_now() < until)
				ev_run(loop, EVRUN_ONCE);
			CHECK(fake_pump_one(&g));
		}
		FAKE_RUN_UNTIL(loop, NULL, b[2].fired);
		for (int i = 0; i < 3; i++)
			CHECK(b[i].fired && b[i].r == SV_OK);
		CHECK(!g.finished && sv_get_state(sv2) == SV_ACTIVE);
		/* But silence for a whole timeout still drops it. */
		{
			struct res late = { 0 };
			sv_ecdh(sv2, point, 0, ecdh_cb, &late);
			FAKE_RUN_UNTIL(loop, NULL, late.fired);
			CHECK(late.r == SV_ERR_TIMEOUT);
			CHECK(g.finished && sv_get_state(sv2) == SV_SAFE_MODE);
		}
		fake_clear(&g);
		sv_free(sv2);
	}

	/* A queued request waits only as long as it was told to. */
	memset(&r, 0, sizeof(r));
	sv_ecdh(sv, point, 0.02, ecdh_cb, &r);
	FAKE_RUN_UNTIL(loop, NULL, r.fired);
	CHECK(r.r == SV_ERR_UNAVAILABLE && r.count == 1);
	sv_free(sv);

	/* An unanswered ping drops the signer. */
	sv_config_default(&cfg);
	/* Generous timeout: answered pings must never trip it on a busy
	 * machine; the unanswered case just waits a little longer. */
	cfg.ping_interval = 0.02;
	cfg.ping_timeout = 0.5;
	sv = sv_new(loop, &cfg, NULL);
	CHECK(fake_open(&f, sv, k));
	fake_register(&f);
	FAKE_RUN_UNTIL(loop, &f, sv_get_state(sv) == SV_ACTIVE);
	/* Answered pings keep it up for a while. */
	{
		double end = cn_now() + 0.2;
		while (cn_now() < end) {
			fake_pump(&f);
			ev_run(loop, EVRUN_ONCE);
		}
	}
	CHECK(sv_get_state(sv) == SV_ACTIVE && !f.finished);
	f.no_pong = true;
	FAKE_RUN_UNTIL(loop, &f, f.finished);
	CHECK(f.finished && f.code == SV_CODE_DEADLINE_EXCEEDED);
	CHECK(strstr(f.msg, "ping") != NULL);
	CHECK(sv_get_state(sv) == SV_SAFE_MODE);
	fake_clear(&f);
	sv_free(sv);
	cn_nodekey_free(k);
}

static void test_cancel_and_errors(void)
{
	struct supervisor *sv = new_sv(NULL, 5);
	struct cn_nodekey *k = fake_key(7);
	struct fake f = { 0 };
	struct res q = { 0 }, s = { 0 }, bad = { 0 };
	uint8_t point[33], badpoint[33];
	uint64_t id;

	fake_point(point, 3);
	/* Cancel a queued request: fires CANCELLED before returning. */
	id = sv_ecdh(sv, point, 5, ecdh_cb, &q);
	CHECK(id >= 2);
	sv_cancel(sv, id);
	CHECK(q.fired && q.r == SV_ERR_CANCELLED);
	sv_cancel(sv, id); /* unknown now: ignored */
	CHECK(q.count == 1);

	/* A refused request can still be cancelled before delivery. */
	memset(&q, 0, sizeof(q));
	id = sv_ecdh(sv, point, 0, ecdh_cb, &q);
	sv_cancel(sv, id);
	CHECK(q.r == SV_ERR_CANCELLED);
	ev_run(loop, EVRUN_NOWAIT);
	ev_run(loop, EVRUN_NOWAIT);
	CHECK(q.count == 1);

	CHECK(fake_open(&f, sv, k));
	fake_register(&f);
	FAKE_RUN_UNTIL(loop, &f, sv_get_state(sv) == SV_ACTIVE);

	/* Cancel a sent request: its late reply is dropped. */
	f.hold = true;
	id = sv_ecdh(sv, point, 0, ecdh_cb, &s);
	sv_cancel(sv, id);
	CHECK(s.r == SV_ERR_CANCELLED && s.count == 1);
	f.hold = false;
	fake_pump(&f);
	CHECK(s.count == 1);
	CHECK(!f.finished);

	/* The signer's own error. */
	memset(badpoint, 0x02, sizeof(badpoint));
	badpoint[0] = 0x05; /* no such prefix */
	sv_ecdh(sv, badpoint, 0, ecdh_cb, &bad);
	FAKE_RUN_UNTIL(loop, &f, bad.fired);
	CHECK(bad.r == SV_ERR_SIGNER);
	CHECK(sv_get_state(sv) == SV_ACTIVE);

	/* A reply of the wrong type fails that request only. */
	{
		struct res w = { 0 };
		uint8_t pong[] = { 0x08, 0x00, 0x18, 0x01 };
		f.hold = true;
		id = sv_ecdh(sv, point, 0, ecdh_cb, &w);
		CHECK(id < 128);
		pong[1] = (uint8_t)id;
		sv_stream_recv(f.st, pong, sizeof(pong));
		CHECK(w.fired && w.r == SV_ERR_BAD_REPLY);
		CHECK(!f.finished);
	}
	fake_clear(&f);
	sv_free(sv);
	CHECK(f.finished);
	cn_nodekey_free(k);
}

static void test_local(void)
{
	char path[128];
	struct sv_config cfg;
	struct supervisor *sv;
	struct res r = { 0 }, s = { 0 };
	struct fake f = { 0 };
	uint8_t point[33], pub1[33], pub2[33];
	struct stat stt;

	snprintf(path, sizeof(path), "%s/node.key", tmpdir);
	sv_config_default(&cfg);
	cfg.local = true;
	cfg.local_key_path = path;
	sv = sv_new(loop, &cfg, NULL);
	CHECK(sv && sv_get_state(sv) == SV_ACTIVE);
	CHECK(stat(path, &stt) == 0 && (stt.st_mode & 0777) == 0600);
	CHECK(sv_node_pubkey(sv, pub1));
	fake_point(point, 3);
	sv_ecdh(sv, point, 0, ecdh_cb, &r);
	sv_sign_message(sv, (const uint8_t *)"m", 1, sign_cb, &s);
	CHECK(!r.fired && !s.fired);
	FAKE_RUN_UNTIL(loop, NULL, r.fired && s.fired);
	CHECK(r.r == SV_OK && s.r == SV_OK);
	/* No remote signer in local mode. */
	CHECK(!fake_open(&f, sv, NULL));
	CHECK(f.code == SV_CODE_FAILED_PRECONDITION);
	sv_free(sv);
	/* Same key next time. */
	sv = sv_new(loop, &cfg, NULL);
	CHECK(sv_node_pubkey(sv, pub2));
	CHECK_MEM(pub1, pub2, 33);
	sv_free(sv);
}

/* Issue 14, then issue 19 (one flight): handshakes parked on the ECDH
 * while the signer registers go out together with the key check, before
 * any of it is answered; their answers are held until the key check
 * passes and are then all delivered within the one call that brings the
 * check's answer. */
static void test_burst_at_active(void)
{
	enum { N = 100 };
	struct supervisor *sv = new_sv(NULL, 5);
	struct cn_nodekey *k = fake_key(7);
	struct fake f = { 0 };
	static struct res r[N];
	struct sv_info info;
	uint8_t point[33], *out = NULL, want[32];
	size_t outlen = 0;
	char err[128];

	fake_point(point, 3);
	CHECK(fake_expect_ecdh(want, k, 3));
	memset(r, 0, sizeof(r));
	for (int i = 0; i < N; i++)
		sv_ecdh(sv, point, 5, ecdh_cb, &r[i]);
	sv_get_info(sv, &info);
	CHECK(info.requests_queued == N && info.requests_sent == 0);

	CHECK(fake_open(&f, sv, k));
	f.hold = true;
	fake_register(&f);
	/* RegistrationComplete, the key check, then every parked ECDH. */
	CHECK(f.nq == 2 + N);
	sv_get_info(sv, &info);
	CHECK(info.requests_queued == 0 && info.requests_sent == N);
	CHECK(info.early_sent == N);
	CHECK(cs_handle(k, &out, &outlen, err, sizeof(err), f.q[0].buf,
			f.q[0].len) == CS_REGISTERED);
	free(out);
	/* The ECDH answers first: held, nobody hears of them yet. */
	for (int i = 0; i < N; i++) {
		out = NULL;
		CHECK(cs_handle(k, &out, &outlen, err, sizeof(err),
				f.q[2 + i].buf, f.q[2 + i].len) == CS_REPLY);
		sv_stream_recv(f.st, out, outlen);
		free(out);
	}
	for (int i = 0; i < N; i++)
		CHECK(!r[i].fired);
	CHECK(sv_get_state(sv) == SV_WAITING_FOR_SIGNER);
	/* The key check's answer: ACTIVE, and every answer delivered. */
	out = NULL;
	CHECK(cs_handle(k, &out, &outlen, err, sizeof(err), f.q[1].buf,
			f.q[1].len) == CS_REPLY);
	fake_clear(&f);
	sv_stream_recv(f.st, out, outlen);
	free(out);
	CHECK(sv_get_state(sv) == SV_ACTIVE);
	for (int i = 0; i < N; i++)
		CHECK(r[i].fired && r[i].r == SV_OK && r[i].count == 1 &&
		      memcmp(r[i].data, want, 32) == 0);
	sv_get_info(sv, &info);
	CHECK(info.requests_sent == 0 && info.early_dropped == 0);
	sv_shutdown(sv, "test over");
	fake_clear(&f);
	sv_free(sv);
	cn_nodekey_free(k);
}

/* One flight with the wrong key: the signer answers the ECDH (with its
 * own key) and fails the check.  Its answers are dropped, never reach a
 * caller; the requests wait again and the right signer answers them. */
static void test_one_flight_wrong_key(void)
{
	enum { N = 20 };
	struct sv_config cfg;
	struct cn_nodekey *k = fake_key(7), *bad = fake_key(8);
	struct fake f = { 0 };
	static struct res r[N];
	struct sv_info info;
	struct supervisor *sv;
	uint8_t point[33], want[32];

	sv_config_default(&cfg);
	cn_nodekey_pub(k, cfg.node_pubkey);
	cfg.have_node_pubkey = true;
	cfg.ping_interval = 60;
	sv = sv_new(loop, &cfg, NULL);
	fake_point(point, 3);
	CHECK(fake_expect_ecdh(want, k, 3));
	memset(r, 0, sizeof(r));
	for (int i = 0; i < N; i++)
		sv_ecdh(sv, point, 5, ecdh_cb, &r[i]);

	/* Answer the ECDH before the key check: the worst order. */
	CHECK(fake_open(&f, sv, bad));
	f.hold = true;
	fake_register(&f);
	CHECK(f.nq == 2 + N);
	{
		struct fake_msg kc = f.q[1];
		memmove(&f.q[1], &f.q[2], N * sizeof(f.q[0]));
		f.q[1 + N] = kc;
	}
	f.hold = false;
	FAKE_RUN_UNTIL(loop, &f, f.finished);
	CHECK(f.finished && f.code == SV_CODE_PERMISSION_DENIED);
	for (int i = 0; i < N; i++)
		CHECK(!r[i].fired);
	sv_get_info(sv, &info);
	CHECK(info.key_mismatches == 1 && info.early_dropped == N);
	CHECK(info.requests_queued == N);
	CHECK(sv_get_state(sv) == SV_WAITING_FOR_SIGNER);

	/* The right one: every request answered with the node key. */
	CHECK(fake_open(&f, sv, k));
	fake_register(&f);
	FAKE_RUN_UNTIL(loop, &f, r[N - 1].fired);
	CHECK(sv_get_state(sv) == SV_ACTIVE);
	for (int i = 0; i < N; i++)
		CHECK(r[i].fired && r[i].r == SV_OK && r[i].count == 1 &&
		      memcmp(r[i].data, want, 32) == 0);
	sv_shutdown(sv, "test over");
	fake_clear(&f);
	sv_free(sv);
	cn_nodekey_free(k);
	cn_nodekey_free(bad);
}

/* Issue 22: the slot and the budget's authenticated class belong to a
 * stream that passed the key check, not to one that holds the macaroon.
 * A squatter with another key, registering again and again, or sitting on
 * its key check, never keeps the real signer out; each failure closes the
 * squatter's connection; one registration per stream and per connection
 * at a time. */
static void test_squatter_cannot_hold_slot(void)
{
	struct supervisor *sv = new_sv(NULL, 5);
	struct cn_nodekey *k = fake_key(7), *bad = fake_key(9);
	struct fake sq = { 0 }, silent = { 0 }, real = { 0 }, same = { 0 };
	struct sv_info info;
	uint8_t pub[33];

	/* The node key is known (as after first contact or from config). */
	{
		struct sv_config cfg;
		sv_free(sv);
		sv_config_default(&cfg);
		cfg.request_timeout = 5;
		cfg.ping_interval = 60;
		cn_nodekey_pub(k, cfg.node_pubkey);
		cfg.have_node_pubkey = true;
		sv = sv_new(loop, &cfg, NULL);
	}
	/* A silent squatter registers and never answers its key check: it
	 * is not authenticated and does not take the slot. */
	CHECK(fake_open(&silent, sv, bad));
	fake_register(&silent);
	silent.hold = true;
	ev_run(loop, EVRUN_NOWAIT);
	CHECK(silent.authenticated == 0);
	sv_get_info(sv, &info);
	CHECK(info.signer_connected && !info.signer_ready);

	/* A second registration on the same connection, while the first is
	 * pending: refused. */
	{
		const char *msg;
		same.connection = &silent;
		same.st = sv_stream_open(sv, &same.code, &msg, &fake_ops,
					 &same, "127.0.0.1:4242");
		CHECK(same.st == NULL);
		snprintf(same.msg, sizeof(same.msg), "%s", msg);
	}
	CHECK(same.code == SV_CODE_ALREADY_EXISTS);
	CHECK(strstr(same.msg, "already in progress on this connection"));

	/* A wrong-key squatter, twenty times over: each refused, each
	 * connection closed, nothing authenticated. */
	for (int i = 0; i < 20; i++) {
		CHECK(fake_open(&sq, sv, bad));
		fake_register(&sq);
		FAKE_RUN_UNTIL(loop, &sq, sq.finished);
		CHECK(sq.finished && sq.code == SV_CODE_PERMISSION_DENIED);
		CHECK(strstr(sq.msg, "signer holds node key") != NULL);
		CHECK(sq.conn_closed == 1);
		CHECK(sq.authenticated == 0);
	}
	/* Between two of its rounds the real signer arrives (the silent one
	 * still pending): accepted, checked, ACTIVE. */
	CHECK(fake_open(&sq, sv, bad));
	fake_register(&sq);
	CHECK(fake_open(&real, sv, k));
	fake_register(&real);
	FAKE_RUN_UNTIL(loop, &real, sv_get_state(sv) == SV_ACTIVE);
	CHECK(sv_get_state(sv) == SV_ACTIVE);
	CHECK(real.authenticated == 1 && !real.finished);
	CHECK(sv_node_pubkey(sv, pub));
	/* The squatter in flight fails its check after that: refused, the
	 * state stays ACTIVE. */
	FAKE_RUN_UNTIL(loop, &sq, sq.finished);
	CHECK(sq.code == SV_CODE_PERMISSION_DENIED && sq.conn_closed == 1);
	CHECK(sv_get_state(sv) == SV_ACTIVE);
	/* Newcomers now: lnd's ALREADY_EXISTS. */
	CHECK(!fake_open(&sq, sv, bad));
	CHECK(sq.code == SV_CODE_ALREADY_EXISTS);

	sv_get_info(sv, &info);
	CHECK(info.signer_ready);
	CHECK(strcmp(info.signer_peer, "127.0.0.1:4242") == 0);

	/* A second registration on the signer's own stream: refused. */
	{
		size_t len;
		uint8_t *b = cs_registration(&len);
		sv_stream_recv(real.st, b, len);
		free(b);
		CHECK(real.finished && real.code == SV_CODE_INVALID_ARGUMENT);
		CHECK(strstr(real.msg, "registered twice") != NULL);
		CHECK(sv_get_state(sv) == SV_SAFE_MODE);
	}
	sv_get_info(sv, &info);
	CHECK(info.key_mismatches == 21);
	CHECK(info.signer_registrations == 1);

	sv_free(sv);
	CHECK(silent.finished);
	fake_clear(&silent);
	fake_clear(&sq);
	fake_clear(&real);
	fake_clear(&same);
	cn_nodekey_free(k);
	cn_nodekey_free(bad);
}

/* Issues 19 and 22 together: with standby signers, streams still checking
 * hold no slot (--signer.maxsigners counts checked streams); the queued
 * ECDH sent with a squatter's key check go to the real signer's check as
 * soon as the squatter fails, and only its answers reach the callers; a
 * candidate that proves the key once the slots are full is refused but
 * keeps its connection; only checked streams are authenticated. */
static void test_candidates_with_standby(void)
{
	enum { N = 5 };
	struct sv_config cfg;
	struct cn_nodekey *k = fake_key(7), *bad = fake_key(8);
	static struct fake sq[3], real, standby, late;
	static struct res r[N];
	struct sv_signer_info si[8];
	struct sv_info info;
	struct supervisor *sv;
	uint8_t point[33], want[32];

	sv_config_default(&cfg);
	cn_nodekey_pub(k, cfg.node_pubkey);
	cfg.have_node_pubkey = true;
	cfg.ping_interval = 60;
	cfg.max_signers = 2;
	sv = sv_new(loop, &cfg, NULL);
	fake_point(point, 3);
	CHECK(fake_expect_ecdh(want, k, 3));
	memset(r, 0, sizeof(r));
	for (int i = 0; i < N; i++)
		sv_ecdh(sv, point, 5, ecdh_cb, &r[i]);

	/* Three squatters register first and sit on their checks: the
	 * first one's check carries the queued requests. */
	for (int i = 0; i < 3; i++) {
		CHECK(fake_open_as(&sq[i], sv, bad, "127.0.0.2:1"));
		sq[i].hold = true;
		fake_register(&sq[i]);
	}
	CHECK(sq[0].nq == 2 + N && sq[1].nq == 2 && sq[2].nq == 2);
	/* The real signer: three candidates do not fill two slots. */
	CHECK(fake_open_as(&real, sv, k, "127.0.0.3:1"));
	real.hold = true;
	fake_register(&real);
	CHECK(real.nq == 2);
	sv_get_info(sv, &info);
	CHECK(info.signer_connected && !info.signer_ready);
	CHECK(info.requests_queued == 0);

	/* The squatters fail one after the other; the queued requests go
	 * with the next check in flight in arrival order (who holds the key
	 * cannot be known before): the first fails its check before
	 * answering them, the second answers them first (with its key: the
	 * answers are dropped), the third fails; each connection closed. */
	for (int i = 0; i < 3; i++) {
		if (i == 1) {
			struct fake_msg kc = sq[1].q[1];
			memmove(&sq[1].q[1], &sq[1].q[2], N * sizeof(sq[1].q[0]));
			sq[1].q[1 + N] = kc;
		}
		sq[i].hold = false;
		FAKE_RUN_UNTIL(loop, &sq[i], sq[i].finished);
		CHECK(sq[i].code == SV_CODE_PERMISSION_DENIED);
		CHECK(sq[i].conn_closed == 1 && sq[i].authenticated == 0);
		if (i < 2)
			CHECK(sq[i + 1].nq == 2 + N);
	}
	for (int i = 0; i < N; i++)
		CHECK(!r[i].fired);
	sv_get_info(sv, &info);
	CHECK(info.early_dropped == N && info.requests_queued == 0);
	CHECK(real.nq == 2 + N);

	/* The real one passes: ACTIVE, every answer with the node key. */
	real.hold = false;
	FAKE_RUN_UNTIL(loop, &real, r[N - 1].fired);
	CHECK(sv_get_state(sv) == SV_ACTIVE);
	CHECK(real.authenticated == 1 && !real.finished);
	for (int i = 0; i < N; i++)
		CHECK(r[i].fired && r[i].r == SV_OK && r[i].count == 1 &&
		      memcmp(r[i].data, want, 32) == 0);

	/* The standby slot is free for a signer with the key, although two
	 * squatters are checking; a third with the key checks beside it
	 * (held). */
	for (int i = 0; i < 2; i++) {
		CHECK(fake_open_as(&sq[i], sv, bad, "127.0.0.2:2"));
		sq[i].hold = true;
		fake_register(&sq[i]);
	}
	CHECK(fake_open_as(&late, sv, k, "127.0.0.5:1"));
	late.hold = true;
	fake_register(&late);
	CHECK(fake_open_as(&standby, sv, k, "127.0.0.4:1"));
	fake_register(&standby);
	FAKE_RUN_UNTIL(loop, &standby, standby.authenticated == 1);
	CHECK(standby.authenticated == 1 && !standby.finished);
	CHECK(sv_get_signers(sv, si, 8) == 5);
	CHECK(si[0].role == SV_ROLE_ACTIVE && si[1].role == SV_ROLE_STANDBY);
	CHECK(si[2].role == SV_ROLE_CHECKING && si[4].role == SV_ROLE_CHECKING);
	/* The held one proves the key with both slots taken: refused, its
	 * connection kept (it holds the key), never authenticated. */
	late.hold = false;
	FAKE_RUN_UNTIL(loop, &late, late.finished);
	CHECK(late.code == SV_CODE_ALREADY_EXISTS);
	CHECK(late.conn_closed == 0 && late.authenticated == 0);
	/* Newcomers are refused at once now, as lnd refuses a second. */
	CHECK(!fake_open_as(&late, sv, k, "127.0.0.5:2"));
	CHECK(late.code == SV_CODE_ALREADY_EXISTS);

	/* The squatters fail: nothing moves. */
	sq[0].hold = sq[1].hold = false;
	FAKE_RUN_UNTIL(loop, &sq[0], sq[0].finished);
	FAKE_RUN_UNTIL(loop, &sq[1], sq[1].finished);
	CHECK(sq[0].conn_closed == 1 && sq[1].conn_closed == 1);
	CHECK(sv_get_state(sv) == SV_ACTIVE);
	CHECK(sv_get_signers(sv, si, 8) == 2);
	sv_get_info(sv, &info);
	CHECK(info.key_mismatches == 5 && info.signer_registrations == 2);

	/* The active one goes: the standby takes over, ACTIVE throughout. */
	fake_gone(&real, "test");
	CHECK(sv_get_state(sv) == SV_ACTIVE);
	sv_get_info(sv, &info);
	CHECK(info.failovers == 1);

	sv_shutdown(sv, "test over");
	for (int i = 0; i < 3; i++)
		fake_clear(&sq[i]);
	fake_clear(&real);
	fake_clear(&standby);
	fake_clear(&late);
	sv_free(sv);
	cn_nodekey_free(k);
	cn_nodekey_free(bad);
}

/* A candidate that never answers its key check is dropped at
 * --signer.requesttimeout with its connection. */
static void test_silent_candidate_times_out(void)
{
	struct supervisor *sv = new_sv(NULL, 0.2);
	struct cn_nodekey *bad = fake_key(9);
	struct fake f = { 0 };

	CHECK(fake_open(&f, sv, bad));
	fake_register(&f);
	f.hold = true;
	FAKE_RUN_UNTIL(loop, NULL, f.finished);
	CHECK(f.finished && f.code == SV_CODE_DEADLINE_EXCEEDED);
	CHECK(strstr(f.msg, "key check unanswered") != NULL);
	CHECK(f.conn_closed == 1 && f.authenticated == 0);
	CHECK(sv_get_state(sv) == SV_WAITING_FOR_SIGNER);
	sv_free(sv);
	fake_clear(&f);
	cn_nodekey_free(bad);
}

/* Issue 22: strangers' act ones are a request to the signer each; only
 * max_inbound_ecdh of them at once, counted until the signer answers
 * (a cancelled one is still with the signer); outbound ones never
 * refused. */
static void test_inbound_ecdh_budget(void)
{
	struct sv_config cfg;
	struct supervisor *sv;
	struct cn_nodekey *k = fake_key(7);
	struct fake f = { 0 };
	struct res in[4], out[3], more = { 0 };
	struct sv_info info;
	uint8_t point[33];

	memset(in, 0, sizeof(in));
	memset(out, 0, sizeof(out));
	fake_point(point, 3);
	sv_config_default(&cfg);
	CHECK(cfg.max_inbound_ecdh == 16);
	cfg.max_inbound_ecdh = 3;
	cfg.ping_interval = 60;
	sv = sv_new(loop, &cfg, NULL);
	CHECK(fake_open(&f, sv, k));
	fake_register(&f);
	FAKE_RUN_UNTIL(loop, &f, sv_get_state(sv) == SV_ACTIVE);
	f.hold = true;
	/* Three admitted, the fourth refused (not from inside the call). */
	uint64_t ids[4];
	for (int i = 0; i < 4; i++)
		ids[i] = sv_ecdh_inbound(sv, point, 0, ecdh_cb, &in[i]);
	CHECK(!in[3].fired);
	FAKE_RUN_UNTIL(loop, NULL, in[3].fired);
	CHECK(in[3].r == SV_ERR_BUSY && !in[0].fired);
	/* Ours are never refused. */
	for (int i = 0; i < 3; i++)
		sv_ecdh(sv, point, 0, ecdh_cb, &out[i]);
	ev_run(loop, EVRUN_NOWAIT);
	sv_get_info(sv, &info);
	CHECK(info.inbound_ecdh == 3 && info.inbound_ecdh_refused == 1);
	CHECK(info.requests_sent == 6);
	/* A handshake goes away: its caller hears CANCELLED now, but the
	 * signer still has the request, so no room yet. */
	sv_cancel(sv, ids[0]);
	CHECK(in[0].fired && in[0].r == SV_ERR_CANCELLED && in[0].count == 1);
	sv_ecdh_inbound(sv, point, 0, ecdh_cb, &more);
	FAKE_RUN_UNTIL(loop, NULL, more.fired);
	CHECK(more.r == SV_ERR_BUSY);
	sv_cancel(sv, ids[0]); /* twice: ignored */
	/* The signer answers everything: the cancelled one's answer is
	 * dropped silently, the others delivered, the budget empty. */
	f.hold = false;
	FAKE_RUN_UNTIL(loop, &f, in[1].fired && in[2].fired && out[2].fired);
	CHECK(in[0].count == 1);
	CHECK(in[1].r == SV_OK && in[2].r == SV_OK);
	for (int i = 0; i < 3; i++)
		CHECK(out[i].r == SV_OK);
	FAKE_RUN_UNTIL(loop, &f, ({ sv_get_info(sv, &info); info.inbound_ecdh == 0; }));
	sv_get_info(sv, &info);
	CHECK(info.inbound_ecdh == 0 && info.requests_sent == 0);
	CHECK(sv_get_state(sv) == SV_ACTIVE && !f.finished);
	memset(&more, 0, sizeof(more));
	sv_ecdh_inbound(sv, point, 0, ecdh_cb, &more);
	FAKE_RUN_UNTIL(loop, &f, more.fired);
	CHECK(more.r == SV_OK);
	/* Freed with a cancelled request still at the signer: its caller
	 * was told once, and is not told again. */
	f.hold = true;
	memset(&more, 0, sizeof(more));
	{
		uint64_t id = sv_ecdh_inbound(sv, point, 0, ecdh_cb, &more);
		ev_run(loop, EVRUN_NOWAIT);
		sv_cancel(sv, id);
	}
	sv_free(sv);
	CHECK(more.count == 1 && more.r == SV_ERR_CANCELLED);
	fake_clear(&f);
	cn_nodekey_free(k);
}

int main(void)
{
	ev_timer t;
	char pin[128];

	cn_crypto_init();
	log_set_level(NULL, LOG_UNUSUAL);
	loop = ev_loop_new(0);
	/* Keep EVRUN_ONCE from blocking long. */
	ev_timer_init(&t, fake_tick, 0.001, 0.001);
	ev_timer_start(loop, &t);
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/svtestXXXXXX");
	CHECK(mkdtemp(tmpdir) != NULL);
	snprintf(pin, sizeof(pin), "%s/coldnode.sqlite", tmpdir);

	test_first_contact_and_requests(pin);
	test_pinned_wrong_key(pin);
	test_configured_key();
	test_bad_registration();
	test_timeouts();
	test_cancel_and_errors();
	test_local();
	test_burst_at_active();
	test_one_flight_wrong_key();
	test_squatter_cannot_hold_slot();
	test_silent_candidate_times_out();
	test_inbound_ecdh_budget();
	test_candidates_with_standby();

	ev_timer_stop(loop, &t);
	ev_loop_destroy(loop);
	{
		char cmd[160];
		snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
		CHECK(system(cmd) == 0);
	}
	return check_exit();
}
