/* Standby signers (issue #19) on a real libev loop with fake transports
 * and coldsigner's core as the signers: a second signer with the node key
 * waits as standby (pinged, no requests); losing the active one (stream
 * closed, request or ping timeout) hands every unanswered request to the
 * standby in the same call, and the node never leaves ACTIVE; a standby
 * with another key is refused; --signer.maxsigners caps the set; and 200
 * rounds of random flapping keep every request answered exactly once. */
#include "supervisor/supervisor.h"

#include <ev.h>
#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "fake_signer.h"

static struct ev_loop *loop;

struct res {
	int count;
	enum sv_result r;
	uint8_t data[32];
};

static void ecdh_cb(void *arg, enum sv_result r, const uint8_t *secret)
{
	struct res *x = arg;

	x->count++;
	x->r = r;
	if (secret)
		memcpy(x->data, secret, 32);
}

/* Pump every fake, then one loop iteration. */
static void spin(struct fake **fs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (fs[i]->st)
			fake_pump(fs[i]);
	ev_run(loop, EVRUN_NOWAIT);
}

#define RUN_UNTIL(fs, n, cond)                                                \
	do {                                                                  \
		double _end = cn_now() + 5;                                   \
		while (!(cond) && cn_now() < _end) {                          \
			spin(fs, n);                                          \
			ev_run(loop, EVRUN_ONCE);                             \
		}                                                             \
	} while (0)

static struct supervisor *new_sv(struct cn_nodekey *k, size_t max,
				 double ping, double timeout)
{
	struct sv_config cfg;

	sv_config_default(&cfg);
	cn_nodekey_pub(k, cfg.node_pubkey);
	cfg.have_node_pubkey = true;
	cfg.max_signers = max;
	cfg.ping_interval = ping;
	cfg.ping_timeout = timeout;
	cfg.request_timeout = timeout;
	return sv_new(loop, &cfg, NULL);
}

/* Open @f as @peer, register it, run its key check to the end. */
static void attach(struct supervisor *sv, struct fake *f,
		   struct cn_nodekey *k, const char *peer)
{
	struct fake *fs[] = { f };

	CHECK(fake_open_as(f, sv, k, peer));
	fake_register(f);
	RUN_UNTIL(fs, 1, f->finished || f->registered);
	spin(fs, 1);
}

static size_t signers(struct supervisor *sv, struct sv_signer_info *out)
{
	return sv_get_signers(sv, out, SV_MAX_SIGNERS);
}

/* Killed with requests in flight: the standby gets them all, in the same
 * call, and answers them; nothing fails, the state never moves. */
static void test_failover_resends(void)
{
	enum { N = 50 };
	struct cn_nodekey *k = fake_key(7);
	struct supervisor *sv = new_sv(k, 2, 60, 5);
	struct fake f1 = { 0 }, f2 = { 0 };
	struct fake *fs[] = { &f1, &f2 };
	static struct res r[N];
	struct sv_signer_info sg[SV_MAX_SIGNERS];
	struct sv_info info;
	uint8_t point[33], want[32];

	attach(sv, &f1, k, "127.0.0.1:1001");
	CHECK(sv_get_state(sv) == SV_ACTIVE);
	attach(sv, &f2, k, "127.0.0.1:1002");
	CHECK(!f2.finished);
	CHECK(sv_get_state(sv) == SV_ACTIVE);
	CHECK(signers(sv, sg) == 2);
	CHECK(sg[0].role == SV_ROLE_ACTIVE &&
	      strcmp(sg[0].peer, "127.0.0.1:1001") == 0);
	CHECK(sg[1].role == SV_ROLE_STANDBY &&
	      strcmp(sg[1].peer, "127.0.0.1:1002") == 0);
	sv_get_info(sv, &info);
	CHECK(info.standby_registrations == 1 && info.signer_registrations == 2);

	fake_point(point, 3);
	CHECK(fake_expect_ecdh(want, k, 3));
	memset(r, 0, sizeof(r));
	fake_clear(&f1);
	fake_clear(&f2);
	f1.hold = f2.hold = true;
	for (int i = 0; i < N; i++)
		sv_ecdh(sv, point, 5, ecdh_cb, &r[i]);
	/* Only the active one is asked. */
	CHECK(f1.nq == N && f2.nq == 0);

	fake_clear(&f1);
	fake_gone(&f1, "killed");
	/* Same call: the standby is active and has every request. */
	CHECK(sv_get_state(sv) == SV_ACTIVE);
	CHECK(f2.nq == N);
	CHECK(signers(sv, sg) == 1 && sg[0].role == SV_ROLE_ACTIVE &&
	      strcmp(sg[0].peer, "127.0.0.1:1002") == 0);
	sv_get_info(sv, &info);
	CHECK(info.failovers == 1 && info.requests_resent == N);
	CHECK(info.transitions[SV_SAFE_MODE] == 0);
	CHECK(sv_allow_full(sv));
	for (int i = 0; i < N; i++)
		CHECK(r[i].count == 0);
	f2.hold = false;
	RUN_UNTIL(fs, 2, r[N - 1].count);
	for (int i = 0; i < N; i++)
		CHECK(r[i].count == 1 && r[i].r == SV_OK &&
		      memcmp(r[i].data, want, 32) == 0);
	CHECK(signers(sv, sg) == 1 && sg[0].requests_answered == N);
	sv_get_info(sv, &info);
	CHECK(info.requests_failed == 0);

	/* The last one goes: SAFE_MODE, as with one signer. */
	fake_gone(&f2, "killed");
	CHECK(sv_get_state(sv) == SV_SAFE_MODE);
	sv_free(sv);
	fake_clear(&f1);
	fake_clear(&f2);
	cn_nodekey_free(k);
}

/* A standby answers pings and gets nothing else; losing it changes
 * nothing; a third signer over --signer.maxsigners=2 is refused as lnd
 * refuses a second; another key is refused. */
static void test_standby_rules(void)
{
	struct cn_nodekey *k = fake_key(7), *bad = fake_key(8);
	struct supervisor *sv = new_sv(k, 2, 0.02, 5);
	struct fake f1 = { 0 }, f2 = { 0 }, f3 = { 0 };
	struct fake *fs[] = { &f1, &f2 };
	static struct res r[20];
	struct sv_signer_info sg[SV_MAX_SIGNERS];
	struct sv_info info;
	uint8_t point[33];
	double end;

	attach(sv, &f1, k, "127.0.0.1:1001");
	/* The wrong key as the would-be standby: refused, nothing moves. */
	attach(sv, &f3, bad, "127.0.0.1:1003");
	CHECK(f3.finished && f3.code == SV_CODE_PERMISSION_DENIED);
	CHECK(strstr(f3.msg, "expected") != NULL);
	CHECK(sv_get_state(sv) == SV_ACTIVE);
	sv_get_info(sv, &info);
	CHECK(info.key_mismatches == 1 && info.transitions[SV_SAFE_MODE] == 0);
	CHECK(signers(sv, sg) == 1);

	attach(sv, &f2, k, "127.0.0.1:1002");
	CHECK(signers(sv, sg) == 2);
	/* A third: over the cap. */
	CHECK(!fake_open_as(&f3, sv, k, "127.0.0.1:1004"));
	CHECK(f3.code == SV_CODE_ALREADY_EXISTS);

	fake_point(point, 3);
	memset(r, 0, sizeof(r));
	for (int i = 0; i < 20; i++)
		sv_ecdh(sv, point, 5, ecdh_cb, &r[i]);
	/* Pings flow to both for a while. */
	end = cn_now() + 0.3;
	while (cn_now() < end) {
		spin(fs, 2);
		ev_run(loop, EVRUN_ONCE);
	}
	for (int i = 0; i < 20; i++)
		CHECK(r[i].count == 1 && r[i].r == SV_OK);
	CHECK(signers(sv, sg) == 2);
	CHECK(sg[0].requests_answered == 20);
	CHECK(sg[1].role == SV_ROLE_STANDBY && sg[1].requests_answered == 0);
	CHECK(!f1.finished && !f2.finished);

	/* The standby goes: nobody notices. */
	fake_gone(&f2, "standby gone");
	sv_get_info(sv, &info);
	CHECK(sv_get_state(sv) == SV_ACTIVE && info.failovers == 0);
	CHECK(signers(sv, sg) == 1);
	sv_free(sv);
	fake_clear(&f1);
	fake_clear(&f2);
	fake_clear(&f3);
	cn_nodekey_free(k);
	cn_nodekey_free(bad);
}

/* Cut off silently: the active signer stops answering.  A request it
 * sits on moves to the standby at the request timeout (not failed); a
 * ping it sits on hands over at the ping timeout. */
static void test_silent_active(bool by_ping)
{
	struct cn_nodekey *k = fake_key(7);
	struct supervisor *sv = new_sv(k, 2, by_ping ? 0.05 : 60, 0.2);
	struct fake f1 = { 0 }, f2 = { 0 };
	struct fake *fs[] = { &f1, &f2 };
	struct res r = { 0 };
	struct sv_signer_info sg[SV_MAX_SIGNERS];
	struct sv_info info;
	uint8_t point[33];

	attach(sv, &f1, k, "127.0.0.1:1001");
	attach(sv, &f2, k, "127.0.0.1:1002");
	f1.hold = true;
	fake_point(point, 3);
	if (!by_ping)
		sv_ecdh(sv, point, 5, ecdh_cb, &r);
	RUN_UNTIL(fs, 2, f1.finished);
	CHECK(f1.finished && f1.code == SV_CODE_DEADLINE_EXCEEDED);
	CHECK(strstr(f1.msg, by_ping ? "ping" : "timeout") != NULL);
	CHECK(sv_get_state(sv) == SV_ACTIVE);
	CHECK(signers(sv, sg) == 1 &&
	      strcmp(sg[0].peer, "127.0.0.1:1002") == 0);
	if (!by_ping) {
		RUN_UNTIL(fs, 2, r.count);
		CHECK(r.count == 1 && r.r == SV_OK);
	}
	sv_get_info(sv, &info);
	CHECK(info.failovers == 1 && info.requests_failed == 0 &&
	      info.transitions[SV_SAFE_MODE] == 0);
	sv_free(sv);
	fake_clear(&f1);
	fake_clear(&f2);
	cn_nodekey_free(k);
}

/* Random flapping: three slots, each round a random signer comes, goes
 * or stalls, with requests in between.  While one slot is kept (never
 * both down) nothing fails and the state never leaves ACTIVE; in the
 * second phase all may go, and the state is SAFE_MODE exactly when no
 * key-checked signer is left.  Every request fires exactly once. */
static void test_flapping(int rounds, bool keep_one)
{
	enum { SLOTS = 3, PER = 8 };
	struct cn_nodekey *k = fake_key(7);
	struct supervisor *sv = new_sv(k, SLOTS, 60, 5);
	struct fake f[SLOTS];
	struct fake *fs[SLOTS];
	struct res *r = calloc((size_t)rounds * PER, sizeof(*r));
	struct sv_signer_info sg[SV_MAX_SIGNERS];
	struct sv_info info;
	uint8_t point[33], want[32];
	size_t nreq = 0;
	char peer[32];

	memset(f, 0, sizeof(f));
	for (int i = 0; i < SLOTS; i++)
		fs[i] = &f[i];
	fake_point(point, 3);
	CHECK(fake_expect_ecdh(want, k, 3));
	attach(sv, &f[0], k, "127.0.0.1:2000");
	srand(19);
	for (int round = 0; round < rounds; round++) {
		int slot = rand() % SLOTS;
		size_t up = 0;
		for (int i = 0; i < SLOTS; i++)
			up += f[i].st != NULL;
		if (f[slot].st) {
			if (!keep_one || up > 1) {
				/* Requests in flight on it, then it dies. */
				f[slot].hold = true;
				for (int i = 0; i < PER / 2; i++)
					sv_ecdh(sv, point, 5, ecdh_cb,
						&r[nreq++]);
				fake_clear(&f[slot]);
				fake_gone(&f[slot], "flap");
			}
		} else {
			snprintf(peer, sizeof(peer), "127.0.0.1:%d",
				 3000 + round);
			attach(sv, &f[slot], k, peer);
		}
		while (nreq < (size_t)(round + 1) * PER)
			sv_ecdh(sv, point, 5, ecdh_cb, &r[nreq++]);
		for (int i = 0; i < 3; i++)
			spin(fs, SLOTS);
		up = 0;
		for (int i = 0; i < SLOTS; i++)
			up += f[i].st != NULL;
		sv_get_info(sv, &info);
		CHECK((sv_get_state(sv) == SV_ACTIVE) == (up > 0));
		CHECK(signers(sv, sg) == up);
		if (keep_one)
			CHECK(info.transitions[SV_SAFE_MODE] == 0);
	}
	/* Bring one back so that nothing is left waiting, then settle. */
	if (!f[0].st && !f[1].st && !f[2].st)
		attach(sv, &f[0], k, "127.0.0.1:2999");
	RUN_UNTIL(fs, SLOTS, ({
		bool all = true;
		for (size_t i = 0; i < nreq; i++)
			all &= r[i].count > 0;
		all;
	}));
	for (size_t i = 0; i < nreq; i++) {
		CHECK(r[i].count == 1);
		if (keep_one)
			CHECK(r[i].r == SV_OK &&
			      memcmp(r[i].data, want, 32) == 0);
		else
			/* Those in flight when the last signer went fail,
			 * as with one signer; queued ones wait. */
			CHECK(r[i].r == SV_OK || r[i].r == SV_ERR_UNAVAILABLE);
	}
	sv_get_info(sv, &info);
	if (keep_one)
		CHECK(info.requests_failed == 0);
	else
		CHECK(info.requests_failed == 0 ||
		      info.transitions[SV_SAFE_MODE] > 0);
	if (keep_one)
		CHECK(info.failovers > 0);
	sv_free(sv);
	for (int i = 0; i < SLOTS; i++)
		fake_clear(&f[i]);
	free(r);
	cn_nodekey_free(k);
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 200;

	ev_timer t;

	cn_crypto_init();
	log_set_level(NULL, LOG_BROKEN);
	loop = ev_loop_new(0);
	/* Keep EVRUN_ONCE from blocking long. */
	ev_timer_init(&t, fake_tick, 0.001, 0.001);
	ev_timer_start(loop, &t);
	test_failover_resends();
	test_standby_rules();
	test_silent_active(false);
	test_silent_active(true);
	test_flapping(rounds, true);
	test_flapping(rounds, false);
	ev_timer_stop(loop, &t);
	ev_loop_destroy(loop);
	return check_exit();
}
