/* Unit tests for the session rules (src/peer/proto.c): init must come
 * first, networks must match, ping/pong matching, the ping rate limit,
 * odd/even unknown types, gossip and channel classification. */
#include "check.h"

#include "common/common.h"
#include "peer/peer_proto.h"

static uint8_t chain[32];
/* The clock handed to the session rules: tests move it by hand. */
static double now;

static enum peer_proto_verdict feed(struct peer_proto *pp,
				    struct peer_proto_out *out,
				    const uint8_t *msg, size_t len)
{
	return peer_proto_recv(pp, out, msg, len, now);
}

static void ready(struct peer_proto *pp)
{
	uint8_t init[128];
	struct peer_proto_out out;
	size_t n = peer_wire_build_init(init, sizeof(init), 1u << 7, chain,
					NULL, 0);

	peer_proto_init(pp, chain);
	CHECK(feed(pp, &out, init, n) == PEER_PROTO_READY);
}

static void test_init_first(void)
{
	struct peer_proto pp;
	struct peer_proto_out out;
	uint8_t msg[128];
	size_t n;

	peer_proto_init(&pp, chain);
	n = peer_wire_build_ping(msg, sizeof(msg), 4, 0);
	CHECK(feed(&pp, &out, msg, n) == PEER_PROTO_CLOSE);
	CHECK(strstr(out.why, "not init") != NULL);

	peer_proto_init(&pp, chain);
	CHECK(feed(&pp, &out, msg, 1) == PEER_PROTO_CLOSE);

	/* Wrong chain in networks. */
	{
		uint8_t other[32];
		memset(other, 0x42, sizeof(other));
		n = peer_wire_build_init(msg, sizeof(msg), 0, other, NULL, 0);
		peer_proto_init(&pp, chain);
		CHECK(feed(&pp, &out, msg, n) == PEER_PROTO_CLOSE);
		CHECK(strstr(out.why, "no chain in common") != NULL);
	}
	/* Unknown even feature bit. */
	n = peer_wire_build_init(msg, sizeof(msg), 1u << 30, chain, NULL, 0);
	peer_proto_init(&pp, chain);
	CHECK(feed(&pp, &out, msg, n) == PEER_PROTO_CLOSE);
	CHECK(strstr(out.why, "feature bit 30") != NULL);
	/* Unknown odd feature bit is fine and remembered. */
	n = peer_wire_build_init(msg, sizeof(msg), (1u << 31) | (1u << 7),
				 chain, NULL, 0);
	peer_proto_init(&pp, chain);
	CHECK(feed(&pp, &out, msg, n) == PEER_PROTO_READY);
	CHECK(peer_proto_has_feature(&pp, 31));
	CHECK(peer_proto_has_feature(&pp, 7));
	CHECK(!peer_proto_has_feature(&pp, 6));
	CHECK(!peer_proto_has_feature(&pp, 100000));
	/* A second init closes. */
	CHECK(feed(&pp, &out, msg, n) == PEER_PROTO_CLOSE);

	/* globalfeatures and features are ORed. */
	{
		static const uint8_t both[] = { 0x00, 0x10, 0x00, 0x01, 0x02,
						0x00, 0x02, 0x80, 0x00 };
		peer_proto_init(&pp, chain);
		CHECK(feed(&pp, &out, both, sizeof(both)) == PEER_PROTO_READY);
		CHECK(peer_proto_has_feature(&pp, 1));
		CHECK(peer_proto_has_feature(&pp, 15));
	}
	/* Malformed init. */
	{
		static const uint8_t bad[] = { 0x00, 0x10, 0x00, 0x05 };
		peer_proto_init(&pp, chain);
		CHECK(feed(&pp, &out, bad, sizeof(bad)) == PEER_PROTO_CLOSE);
		CHECK(strstr(out.why, "bad init") != NULL);
	}
}

static void test_ping_pong(void)
{
	struct peer_proto pp;
	struct peer_proto_out out;
	uint8_t msg[128];
	size_t n;

	ready(&pp);
	n = peer_wire_build_ping(msg, sizeof(msg), 42, 3);
	CHECK(feed(&pp, &out, msg, n) == PEER_PROTO_PONG);
	CHECK(out.pong_len == 42);
	n = peer_wire_build_ping(msg, sizeof(msg), 65531, 0);
	CHECK(feed(&pp, &out, msg, n) == PEER_PROTO_PONG &&
	      out.pong_len == 65531);
	/* BOLT #1: num_pong_bytes >= 65532 is ignored. */
	n = peer_wire_build_ping(msg, sizeof(msg), 65532, 0);
	CHECK(feed(&pp, &out, msg, n) == PEER_PROTO_IGNORE);
	n = peer_wire_build_ping(msg, sizeof(msg), 65535, 0);
	CHECK(feed(&pp, &out, msg, n) == PEER_PROTO_IGNORE);
	/* Malformed ping. */
	CHECK(feed(&pp, &out, msg, 4) == PEER_PROTO_CLOSE);

	/* Unsolicited pong. */
	n = peer_wire_build_pong(msg, sizeof(msg), 5);
	CHECK(feed(&pp, &out, msg, n) == PEER_PROTO_CLOSE);
	CHECK(strstr(out.why, "unsolicited") != NULL);
	/* Matching pong, then another one is unsolicited. */
	ready(&pp);
	peer_proto_ping_sent(&pp, 5);
	CHECK(feed(&pp, &out, msg, n) == PEER_PROTO_PONG_OK);
	CHECK(feed(&pp, &out, msg, n) == PEER_PROTO_CLOSE);
	/* Wrong length. */
	ready(&pp);
	peer_proto_ping_sent(&pp, 6);
	CHECK(feed(&pp, &out, msg, n) == PEER_PROTO_CLOSE);
	CHECK(strstr(out.why, "asked for 6") != NULL);
}

/* A peer may not make us send pongs as fast as it likes. */
static void test_ping_flood(void)
{
	struct peer_proto pp;
	struct peer_proto_out out;
	uint8_t msg[16];
	size_t n = peer_wire_build_ping(msg, sizeof(msg), 65531, 0);
	bool closed;

	/* The cap within one window, then one more: closed, with a reason. */
	now = 1000;
	ready(&pp);
	for (unsigned i = 0; i < PEER_PROTO_PING_MAX; i++) {
		now = 1000 + i * (PEER_PROTO_PING_WINDOW / 2) /
				     PEER_PROTO_PING_MAX;
		CHECK(feed(&pp, &out, msg, n) == PEER_PROTO_PONG);
	}
	CHECK(feed(&pp, &out, msg, n) == PEER_PROTO_CLOSE);
	CHECK(strstr(out.why, "ping flood: more than") != NULL);
	CHECK(strstr(out.why, " pings in 30 s") != NULL);

	/* Ignored pings (num_pong_bytes >= 65532) count too. */
	now = 1000;
	ready(&pp);
	n = peer_wire_build_ping(msg, sizeof(msg), 65535, 0);
	for (unsigned i = 0; i < PEER_PROTO_PING_MAX; i++)
		CHECK(feed(&pp, &out, msg, n) == PEER_PROTO_IGNORE);
	CHECK(feed(&pp, &out, msg, n) == PEER_PROTO_CLOSE);

	/* A new window starts a new count. */
	n = peer_wire_build_ping(msg, sizeof(msg), 1, 0);
	now = 1000;
	ready(&pp);
	for (unsigned i = 0; i < PEER_PROTO_PING_MAX; i++)
		CHECK(feed(&pp, &out, msg, n) == PEER_PROTO_PONG);
	now += PEER_PROTO_PING_WINDOW;
	CHECK(feed(&pp, &out, msg, n) == PEER_PROTO_PONG);
	/* A clock stepping back does not leave the count stuck. */
	now -= 5 * PEER_PROTO_PING_WINDOW;
	CHECK(feed(&pp, &out, msg, n) == PEER_PROTO_PONG);

	/* Our fastest test setting (one ping per 50 ms, for two minutes)
	 * stays under the limit, as does an honest once-a-minute peer. */
	now = 1000;
	ready(&pp);
	closed = false;
	for (unsigned i = 0; i < 20 * 120 && !closed; i++) {
		now = 1000 + i * 0.05;
		closed = feed(&pp, &out, msg, n) != PEER_PROTO_PONG;
	}
	CHECK(!closed);
	now = 0;
}

static void test_types(void)
{
	struct peer_proto pp;
	struct peer_proto_out out;
	uint8_t msg[64] = { 0 };

	ready(&pp);
	/* Unknown odd: ignored; unknown even: close. */
	be16_put(msg, 33333);
	CHECK(feed(&pp, &out, msg, 10) == PEER_PROTO_IGNORE);
	be16_put(msg, 11);
	CHECK(feed(&pp, &out, msg, 10) == PEER_PROTO_IGNORE);
	be16_put(msg, 32768);
	CHECK(feed(&pp, &out, msg, 10) == PEER_PROTO_CLOSE);
	CHECK(strstr(out.why, "unknown even message type 32768") != NULL);
	ready(&pp);
	be16_put(msg, 2);
	CHECK(feed(&pp, &out, msg, 2) == PEER_PROTO_CLOSE);
	/* Gossip range. */
	ready(&pp);
	for (unsigned t = 256; t <= 265; t++) {
		be16_put(msg, (uint16_t)t);
		CHECK(feed(&pp, &out, msg, 10) == PEER_PROTO_GOSSIP);
	}
	be16_put(msg, 266);
	CHECK(feed(&pp, &out, msg, 10) == PEER_PROTO_CLOSE);
	/* Channel and commitment range. */
	ready(&pp);
	be16_put(msg, 32);
	CHECK(feed(&pp, &out, msg, 10) == PEER_PROTO_CHANNEL &&
	      out.type == 32);
	be16_put(msg, 136);
	CHECK(feed(&pp, &out, msg, 10) == PEER_PROTO_CHANNEL);
	be16_put(msg, 255);
	CHECK(feed(&pp, &out, msg, 10) == PEER_PROTO_CHANNEL);
	/* Warning: logged, kept.  Error: close. */
	{
		uint8_t w[64];
		size_t n = peer_wire_build_errmsg(w, sizeof(w),
						  PEER_WIRE_WARNING, NULL,
						  (const uint8_t *)"hm\x01", 3);
		CHECK(feed(&pp, &out, w, n) == PEER_PROTO_IGNORE);
		CHECK(feed(&pp, &out, w, 20) == PEER_PROTO_CLOSE);
		ready(&pp);
		n = peer_wire_build_errmsg(w, sizeof(w), PEER_WIRE_ERROR,
					   NULL, (const uint8_t *)"bye", 3);
		CHECK(feed(&pp, &out, w, n) == PEER_PROTO_CLOSE);
		CHECK(strstr(out.why, "bye") != NULL);
	}
}

int main(void)
{
	memset(chain, 0xaa, sizeof(chain));
	test_init_first();
	test_ping_pong();
	test_ping_flood();
	test_types();
	return check_exit();
}
