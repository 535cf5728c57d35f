/* The supervisor's cluster hooks on a real libev loop, with the fake
 * transport and coldsigner's core (tests/supervisor/fake_signer.h):
 * a standby answers registration with registration_error naming the
 * leader, a leader's messages carry its fencing token, nothing goes out
 * once may_act says no, standing down drops the signer, and a signer's
 * fencing refusal is counted and ends the stream.  Also coldsigner's
 * pure fencing helpers. */
#include "supervisor/supervisor.h"

#include <ev.h>
#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "fake_signer.h"

static struct ev_loop *loop;
static bool allowed = true;

static bool may_act(void *arg, struct supervisor *sv)
{
	return allowed;
}

struct res {
	bool fired;
	enum sv_result r;
};

static void ecdh_cb(void *arg, enum sv_result r, const uint8_t *secret)
{
	struct res *x = arg;
	x->fired = true;
	x->r = r;
}

static const char *STANDBY = "coldnode b is a standby, not the leader; the "
			     "leader is a at 127.0.0.1:10019";

static void test_standby_and_leader(void)
{
	struct sv_config cfg;
	struct sv_cbs cbs = { .may_act = may_act };
	struct supervisor *sv;
	struct cn_nodekey *k = fake_key(9);
	struct fake f = { 0 };
	struct sv_info si;
	struct cs_meta meta;
	struct res r = { 0 };
	char err[256], hint[64];
	uint8_t *out, point[33];
	size_t outlen;

	sv_config_default(&cfg);
	cfg.ping_interval = 60;
	sv = sv_new(loop, &cfg, &cbs);
	CHECK(sv != NULL);

	/* Standby: the stream is taken, its registration refused in-band
	 * and by status, naming the leader; no key check. */
	sv_set_standby(sv, STANDBY);
	CHECK(fake_open(&f, sv, k));
	fake_register(&f);
	CHECK(f.finished && f.code == SV_CODE_FAILED_PRECONDITION);
	CHECK(!strcmp(f.msg, STANDBY));
	CHECK(f.nq == 1);
	CHECK(cs_handle(k, &out, &outlen, err, sizeof(err), f.q[0].buf,
			f.q[0].len) == CS_REFUSED);
	CHECK(strstr(err, STANDBY) != NULL);
	CHECK(cs_leader_hint(hint, sizeof(hint), err) &&
	      !strcmp(hint, "127.0.0.1:10019"));
	sv_get_info(sv, &si);
	CHECK(si.state == SV_WAITING_FOR_SIGNER && si.signer_refused == 1 &&
	      !si.signer_connected && si.signer_sessions == 0);
	fake_clear(&f);

	/* Leader with token 42: every message carries it. */
	sv_set_leader(sv, 42);
	CHECK(fake_open(&f, sv, k));
	f.hold = true;
	fake_register(&f);
	CHECK(f.nq == 2); /* registration complete, key check */
	for (size_t i = 0; i < f.nq; i++)
		CHECK(cs_peek(&meta, f.q[i].buf, f.q[i].len) &&
		      meta.token == 42);
	CHECK(cs_peek(&meta, f.q[0].buf, f.q[0].len) && meta.registration);
	f.hold = false;
	FAKE_RUN_UNTIL(loop, &f, sv_get_state(sv) == SV_ACTIVE);
	CHECK(sv_get_state(sv) == SV_ACTIVE);

	/* Leadership ran out (may_act false): nothing more is sent. */
	allowed = false;
	f.hold = true;
	cn_nodekey_pub(k, point);
	sv_ecdh(sv, point, 0, ecdh_cb, &r);
	FAKE_RUN_UNTIL(loop, NULL, r.fired);
	CHECK(r.fired && r.r == SV_ERR_UNAVAILABLE);
	CHECK(f.nq == 0);

	/* Standing down ends the stream with the standby's text. */
	sv_set_standby(sv, STANDBY);
	CHECK(f.finished && !strcmp(f.msg, STANDBY));
	CHECK(sv_get_state(sv) == SV_SAFE_MODE);
	fake_clear(&f);
	allowed = true;

	/* A signer that has seen a newer leader (token 50) refuses our 42
	 * at the key check: counted, stream ended. */
	sv_set_leader(sv, 42);
	CHECK(fake_open(&f, sv, k));
	f.hold = true;
	fake_register(&f);
	CHECK(f.nq == 2 && cs_peek(&meta, f.q[1].buf, f.q[1].len));
	{
		uint64_t highest = 50;
		CHECK(cs_fence_check(&highest, meta.token) == CS_FENCE_STALE);
		out = cs_fence_refusal(&outlen, meta.request_id, meta.token,
				       highest);
		CHECK(out != NULL);
		sv_stream_recv(f.st, out, outlen);
		free(out);
	}
	CHECK(sv_fencing_refusals(sv) == 1);
	CHECK(f.finished && f.code == SV_CODE_PERMISSION_DENIED);
	CHECK(strstr(f.msg, "fencing token 42 is lower than 50") != NULL);
	CHECK(sv_get_state(sv) == SV_SAFE_MODE);
	fake_clear(&f);

	sv_free(sv);
	cn_nodekey_free(k);
}

static void test_fence_table(void)
{
	static const struct {
		uint64_t highest, token;
		enum cs_fence want;
		uint64_t after;
	} rows[] = {
		{ 0, 0, CS_FENCE_OK, 0 },       /* not a cluster */
		{ 0, 7, CS_FENCE_NEWER, 7 },    /* first leader */
		{ 7, 7, CS_FENCE_OK, 7 },       /* the same leader */
		{ 7, 9, CS_FENCE_NEWER, 9 },    /* a later leader */
		{ 9, 7, CS_FENCE_STALE, 9 },    /* the old leader again */
		{ 9, 0, CS_FENCE_STALE, 9 },    /* no token after a cluster */
		{ UINT64_MAX - 1, UINT64_MAX, CS_FENCE_NEWER, UINT64_MAX },
	};
	char hint[32];

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		uint64_t h = rows[i].highest;
		CHECK(cs_fence_check(&h, rows[i].token) == rows[i].want);
		CHECK(h == rows[i].after);
	}
	CHECK(!cs_leader_hint(hint, sizeof(hint), "the leader is unknown"));
	CHECK(!cs_leader_hint(hint, sizeof(hint), "the leader is a at ?"));
	CHECK(!cs_leader_hint(hint, sizeof(hint), "registration refused"));
	CHECK(!cs_leader_hint(hint, sizeof(hint),
			      "the leader is a at 127.0.0.1:1234567890123456"
			      "78901234567890"));
	CHECK(cs_leader_hint(hint, sizeof(hint),
			     "x; the leader is a at [::1]:9 now") &&
	      !strcmp(hint, "[::1]:9"));
}

int main(void)
{
	ev_timer t;

	(void)fake_gone;
	cn_crypto_init();
	log_set_level(NULL, LOG_BROKEN);
	loop = ev_loop_new(0);
	ev_timer_init(&t, fake_tick, 0.001, 0.001);
	ev_timer_start(loop, &t);
	test_standby_and_leader();
	test_fence_table();
	ev_timer_stop(loop, &t);
	ev_loop_destroy(loop);
	return check_exit();
}
