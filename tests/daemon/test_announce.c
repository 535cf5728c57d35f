/* Our own node_announcement (src/daemon/announce.c, addrdesc.c): the BOLT 7
 * address descriptors built from --listen, and the announcer on a real
 * loop with a real supervisor, a real gossip store and a fake signer
 * stream (coldsigner's core): nothing in WAITING_FOR_SIGNER or SAFE_MODE,
 * one signed announcement per entry into ACTIVE, nothing stored when the
 * signer is lost mid-request, and the local key path. */
#include "daemon/announce.h"
#include "gossip/gossip.h"
#include "supervisor/supervisor.h"

#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "fake_signer.h"
#include "test_peer_double.h"

static struct ev_loop *loop;
static char tmpdir[64];

/* ---- address descriptors ---- */

static void test_addresses(void)
{
	const char *listen[] = {
		"203.0.113.5:0",      /* index 0, port 0: the bound port */
		"0.0.0.0:9735",       /* wildcard: not announced */
		"127.0.0.1:9736",     /* loopback: not announced */
		"[2001:db8::2]:9737",
		"[::]:9735",
		"[::1]:9735",
		"192.0.2.1:9738",
		"198.51.100.7:0",     /* port 0, not the first: unknown */
		"example.com:9735",   /* host name: skipped */
		"garbage",
	};
	/* IPv4 first, then IPv6 (ascending type order). */
	static const uint8_t want[] = {
		1, 203, 0, 113, 5, 0x26, 0x07,                /* port 9735 */
		1, 192, 0, 2, 1, 0x26, 0x0a,                  /* 9738 */
		2, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		0x02, 0x26, 0x09,                             /* 9737 */
	};
	uint8_t out[DAEMON_ANNOUNCE_MAX_ADDR];
	size_t len;

	len = daemon_announce_addresses(out, sizeof(out), listen,
					CN_ARRAY_SIZE(listen), 9735);
	CHECK(len == sizeof(want));
	CHECK_MEM(out, want, sizeof(want));
	CHECK(gossip_addresses_check_origin(out, len) == GOSSIP_OK);

	/* Bound port unknown: the port-0 listener is left out. */
	len = daemon_announce_addresses(out, sizeof(out), listen, 1, 0);
	CHECK(len == 0);
	/* What does not fit is left out, whole. */
	len = daemon_announce_addresses(out, 10, listen,
					CN_ARRAY_SIZE(listen), 9735);
	CHECK(len == 7);
	CHECK(gossip_addresses_check_origin(out, len) == GOSSIP_OK);
}

/* ---- the announcer ---- */

struct world {
	struct supervisor *sv;
	struct gossip *g;
	struct daemon_announce *a;
};

static void changed(void *arg, struct supervisor *sv)
{
	struct world *w = arg;

	if (w->a)
		daemon_announce_sv_changed(w->a);
}

static void pump_maybe(struct fake *f)
{
	if (f)
		fake_pump(f);
}

#define RUN_UNTIL(f, cond)                                                    \
	do {                                                                  \
		double _end = cn_now() + 5;                                   \
		while (!(cond) && cn_now() < _end) {                          \
			pump_maybe(f);                                        \
			ev_run(loop, EVRUN_NOWAIT);                           \
			usleep(1000);                                         \
		}                                                             \
	} while (0)

static void run_a_bit(struct fake *f)
{
	for (int i = 0; i < 50; i++) {
		pump_maybe(f);
		ev_run(loop, EVRUN_NOWAIT);
	}
}

static uint64_t nodes(struct gossip *g)
{
	uint64_t n;

	gossip_commit(g);
	gossip_counts(g, &n, NULL, NULL);
	return n;
}

/* Sign requests the supervisor has completed, either way / with a
 * signature (ECDH never happens here: no peers). */
static uint64_t sign_done(struct supervisor *sv)
{
	struct sv_info si;

	sv_get_info(sv, &si);
	return si.requests_ok + si.requests_failed;
}

static uint64_t sign_ok(struct supervisor *sv)
{
	struct sv_info si;

	sv_get_info(sv, &si);
	return si.requests_ok;
}

static struct gossip *gossip_open(const char *dir, const uint8_t id[33])
{
	struct gossip_config gc;
	struct gossip *g;

	gossip_config_default(&gc);
	gc.datadir = dir;
	memset(gc.chain_hash, 0x06, 32);
	gc.peer_ops = &test_peer_double_ops;
	g = gossip_new(loop, &gc, NULL, NULL);
	if (g)
		gossip_set_own_id(g, id);
	return g;
}

static const uint8_t test_addr[] = { 1, 192, 0, 2, 1, 0x26, 0x07 };

static struct daemon_announce *announcer(struct world *w,
					 const uint8_t id[33])
{
	struct daemon_announce_config ac = {
		.alias = "cold-test", .rgb = { 0x33, 0x99, 0xff },
		.addresses = test_addr, .addresses_len = sizeof(test_addr),
	};

	return daemon_announce_new(loop, w->g, w->sv, id, &ac);
}

static void test_remote(void)
{
	struct world w = { 0 };
	struct sv_cbs cbs = { .changed = changed, .arg = &w };
	struct sv_config cfg;
	uint8_t priv[32] = { 0 }, id[33];
	struct cn_nodekey *k;
	struct fake f = { 0 };
	uint64_t done;
	char dir[128];

	priv[31] = 9;
	k = cn_nodekey_from_secret(priv);
	cn_nodekey_pub(k, id);
	snprintf(dir, sizeof(dir), "%s/remote", tmpdir);
	sv_config_default(&cfg);
	cfg.have_node_pubkey = true;
	memcpy(cfg.node_pubkey, id, 33);
	cfg.ping_interval = 60;
	w.sv = sv_new(loop, &cfg, &cbs);
	w.g = gossip_open(dir, id);
	CHECK(w.sv && w.g);
	w.a = announcer(&w, id);
	daemon_announce_sv_changed(w.a);

	/* WAITING_FOR_SIGNER: nothing is attempted. */
	run_a_bit(NULL);
	CHECK(sv_get_state(w.sv) == SV_WAITING_FOR_SIGNER);
	CHECK(sign_done(w.sv) == 0);
	CHECK(nodes(w.g) == 0);

	/* ACTIVE: one announcement, signed by the signer's key (gossip
	 * checks the signature against our node id before storing it). */
	CHECK(fake_open(&f, w.sv, k));
	fake_register(&f);
	RUN_UNTIL(&f, nodes(w.g) == 1);
	CHECK(sv_get_state(w.sv) == SV_ACTIVE);
	CHECK(nodes(w.g) == 1);
	run_a_bit(&f);
	CHECK(sign_done(w.sv) == 1); /* once per entry, not per change */
	CHECK(sign_ok(w.sv) == 1);

	/* SAFE_MODE: nothing. */
	fake_gone(&f, "TCP closed");
	run_a_bit(NULL);
	CHECK(sv_get_state(w.sv) == SV_SAFE_MODE);
	CHECK(sign_done(w.sv) == 1);

	/* ACTIVE again, lost again before the next loop iteration: the
	 * announcement is not attempted outside ACTIVE. */
	CHECK(fake_open(&f, w.sv, k));
	fake_register(&f);
	while (sv_get_state(w.sv) != SV_ACTIVE && fake_pump(&f))
		;
	CHECK(sv_get_state(w.sv) == SV_ACTIVE);
	fake_gone(&f, "gone at once");
	run_a_bit(NULL);
	CHECK(sign_done(w.sv) == 1);

	/* ACTIVE, and the signer is lost while it holds our request: the
	 * callback gets UNAVAILABLE and nothing is stored. */
	CHECK(fake_open(&f, w.sv, k));
	fake_register(&f);
	while (sv_get_state(w.sv) != SV_ACTIVE && fake_pump(&f))
		;
	f.hold = true;
	RUN_UNTIL(NULL, f.nq > 0);
	CHECK(f.nq == 1); /* our SignMessage, held */
	done = sign_done(w.sv);
	fake_gone(&f, "lost mid-request");
	run_a_bit(NULL);
	CHECK(sign_done(w.sv) == done + 1);
	CHECK(sign_ok(w.sv) == 1);
	CHECK(nodes(w.g) == 1);
	{
		struct sv_info si;
		sv_get_info(w.sv, &si);
		CHECK(si.requests_unavailable == 1);
	}

	/* Back: a newer one replaces it. */
	fake_clear(&f);
	CHECK(fake_open(&f, w.sv, k));
	fake_register(&f);
	RUN_UNTIL(&f, sign_done(w.sv) == done + 2);
	CHECK(sign_ok(w.sv) == 2);
	CHECK(nodes(w.g) == 1);

	/* Freed with a request in flight: cancelled, nothing stored. */
	f.hold = true;
	fake_gone(&f, "again");
	CHECK(fake_open(&f, w.sv, k));
	f.hold = false;
	fake_register(&f);
	while (sv_get_state(w.sv) != SV_ACTIVE && fake_pump(&f))
		;
	f.hold = true;
	RUN_UNTIL(NULL, f.nq > 0);
	done = sign_done(w.sv);
	daemon_announce_free(w.a);
	w.a = NULL;
	CHECK(sign_done(w.sv) == done + 1); /* cancelled */
	CHECK(sign_ok(w.sv) == 2);

	sv_shutdown(w.sv, "test over");
	fake_clear(&f);
	sv_free(w.sv);
	gossip_free(w.g);
	cn_nodekey_free(k);
}

static void test_local(void)
{
	struct world w = { 0 };
	struct sv_cbs cbs = { .changed = changed, .arg = &w };
	struct sv_config cfg;
	char dir[128], key[160];
	uint8_t id[33];

	snprintf(dir, sizeof(dir), "%s/local", tmpdir);
	snprintf(key, sizeof(key), "%s/node.key", tmpdir);
	sv_config_default(&cfg);
	cfg.local = true;
	cfg.local_key_path = key;
	w.sv = sv_new(loop, &cfg, &cbs);
	CHECK(w.sv && sv_node_pubkey(w.sv, id));
	w.g = gossip_open(dir, id);
	w.a = announcer(&w, id);
	/* ACTIVE before the announcer existed: the first call catches up. */
	daemon_announce_sv_changed(w.a);
	RUN_UNTIL(NULL, nodes(w.g) == 1);
	CHECK(nodes(w.g) == 1);
	daemon_announce_free(w.a);
	w.a = NULL;
	sv_shutdown(w.sv, "test over");
	sv_free(w.sv);
	gossip_free(w.g);
}

int main(void)
{
	char cmd[128];

	cn_crypto_init();
	log_set_level(NULL, LOG_BROKEN);
	loop = ev_loop_new(0);
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/cn-announce-XXXXXX");
	if (!mkdtemp(tmpdir))
		abort();
	test_addresses();
	test_remote();
	test_local();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", tmpdir);
	ev_loop_destroy(loop);
	return check_exit();
}
