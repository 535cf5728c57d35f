/* Real peers' gossip through the manager: the mainnet sample
 * (tests/vectors/gossip-mainnet-sample.hex, provenance in its .md) all
 * accepted, and node_announcements shaped as real implementations send
 * them (addresses out of type order, repeated DNS names: lnd appends
 * without sorting) accepted with the connection kept.
 *
 * Usage: test_gossip_real SAMPLE.hex */
#include "../common/check.h"
#include "gtest_sign.h"
#include "gtest_util.h"
#include "test_peer_double.h"

#include <ev.h>
#include <stdio.h>

static struct ev_loop *loop;
static uint8_t chain[32];

static struct gossip *mgr_new(const char *dir)
{
	struct gossip_config cfg;

	double_gossip_config(&cfg, dir, chain, test_clock);
	return gossip_new(loop, &cfg, NULL, NULL);
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Timestamp a message carries (0 for a channel_announcement). */
static uint32_t msg_ts(const uint8_t *m, size_t len)
{
	struct gossip_node_ann na;
	struct gossip_chan_upd cu;

	if (gossip_node_ann_parse(&na, m, len) == GOSSIP_OK)
		return na.timestamp;
	if (gossip_chan_upd_parse(&cu, m, len) == GOSSIP_OK)
		return cu.timestamp;
	return 0;
}

static void test_mainnet_sample(const char *path)
{
	static const char mainnet[] =
		"6fe28c0ab6f1b372c1a6a246ae63f74f931e8365e15a089c68d6190000000000";
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0, total = 0, ok = 0;
	ssize_t n;
	char *dir = tmpdir_new();
	struct gossip *g;
	struct peer *x = double_new(0x77);
	uint8_t saved[32];

	CHECK(f != NULL);
	if (!f)
		return;
	memcpy(saved, chain, 32);
	for (int i = 0; i < 32; i++)
		chain[i] = (uint8_t)(hexval(mainnet[2 * i]) << 4 |
				     hexval(mainnet[2 * i + 1]));
	test_now = 1629070645;
	g = mgr_new(dir);
	gossip_peer_connected(g, x);
	while ((n = getline(&line, &cap, f)) > 0) {
		uint8_t m[65535];
		size_t len = 0;
		enum gossip_reason r;

		if (line[0] == '#' || line[0] == '\n')
			continue;
		for (ssize_t i = 0; i + 1 < n && hexval(line[i]) >= 0; i += 2)
			m[len++] = (uint8_t)(hexval(line[i]) << 4 |
					     hexval(line[i + 1]));
		total++;
		/* Updates from 2019-2021: the clock stands at each one's
		 * time, as at a node that received them then. */
		if (msg_ts(m, len))
			test_now = msg_ts(m, len);
		r = gossip_handle_msg(g, x, m, len);
		if (r == GOSSIP_OK)
			ok++;
		else
			fprintf(stderr, "sample line %zu: %s\n", total,
				gossip_reason_str(r));
	}
	free(line);
	fclose(f);
	CHECK(total == 1096);
	CHECK(ok == total);
	CHECK(x->warns == 0 && x->closes == 0);
	gossip_peer_gone(g, x);
	gossip_free(g);
	double_free(x);
	tmpdir_rm(dir);
	memcpy(chain, saved, 32);
}

static size_t node_with(uint8_t *out, uint32_t ts, const struct tkey *k,
			const uint8_t *addr, size_t alen)
{
	struct gossip_node_ann na;

	memset(&na, 0, sizeof(na));
	na.timestamp = ts;
	memcpy(na.node_id, k->pk, 33);
	memcpy(na.alias, "real", 4);
	na.addresses = addr;
	na.addresses_len = (uint16_t)alen;
	return gossip_node_ann_sign(out, 2000, &na, tkey_sign, (void *)k);
}

static void test_address_shapes(void)
{
	/* ipv6 before ipv4 (lnd appends as configured). */
	static const uint8_t v6_v4[] = {
		2, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
		0x26, 0x07,
		1, 203, 0, 113, 5, 0x26, 0x07 };
	/* DNS, ipv4, DNS again. */
	static const uint8_t dns_v4_dns[] = {
		5, 5, 'a', '.', 'c', 'o', 'm', 0x26, 0x07,
		1, 203, 0, 113, 6, 0x26, 0x07,
		5, 5, 'b', '.', 'c', 'o', 'm', 0x26, 0x07 };
	/* Two DNS names in a row, then Tor v3. */
	static const uint8_t dns_dns_tor[] = {
		5, 1, 'x', 0x26, 0x07,
		5, 1, 'y', 0x26, 0x07,
		4, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17,
		18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33,
		34, 35, 0x26, 0x07 };
	/* Out of order and then cut short: still a broken message. */
	static const uint8_t v4_cut[] = { 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
					  0, 0, 0, 0, 1, 0x26, 0x07, 1, 1, 2 };
	const struct { const uint8_t *a; size_t len; } ok[] = {
		{ v6_v4, sizeof(v6_v4) },
		{ dns_v4_dns, sizeof(dns_v4_dns) },
		{ dns_dns_tor, sizeof(dns_dns_tor) },
	};
	char *dir = tmpdir_new();
	struct gossip *g;
	struct peer *x = double_new(0x78);
	struct tkey a, b;
	uint8_t m[2000];
	size_t len;
	uint64_t scid = (800000ULL << 40) | (7 << 16), n;

	test_now = 1767225600;
	g = mgr_new(dir);
	tkey_init(&a, 0x41);
	tkey_init(&b, 0x42);
	gossip_peer_connected(g, x);
	len = tmake_chan(m, chain, scid, &a, &b);
	CHECK(gossip_handle_msg(g, x, m, len) == GOSSIP_OK);
	for (size_t i = 0; i < CN_ARRAY_SIZE(ok); i++) {
		len = node_with(m, test_now - 100 + (uint32_t)i, &a, ok[i].a,
				ok[i].len);
		CHECK(gossip_handle_msg(g, x, m, len) == GOSSIP_OK);
		CHECK(x->closes == 0 && x->warns == 0);
	}
	gossip_commit(g);
	gossip_counts(g, &n, NULL, NULL);
	CHECK(n == 1);
	/* Stored as signed: answered byte for byte. */
	len = node_with(m, test_now - 10, &b, dns_v4_dns, sizeof(dns_v4_dns));
	CHECK(gossip_handle_msg(g, x, m, len) == GOSSIP_OK);
	CHECK(gossip_handle_msg(g, x, m, len) == GOSSIP_IGN_DUPLICATE);
	/* A descriptor cut short still closes (BOLT 7: "SHOULD fail the
	 * connection if addrlen is insufficient"). */
	len = node_with(m, test_now - 5, &b, v4_cut, sizeof(v4_cut));
	CHECK(gossip_handle_msg(g, x, m, len) == GOSSIP_REJ_BAD_ADDRESS);
	CHECK(x->closes == 1);
	/* What we announce ourselves keeps the origin's rules. */
	{
		struct gossip_node_ann na;
		memset(&na, 0, sizeof(na));
		na.timestamp = test_now;
		memcpy(na.node_id, a.pk, 33);
		na.addresses = v6_v4;
		na.addresses_len = sizeof(v6_v4);
		CHECK(gossip_own_node_ann(g, &na, tkey_sign, &a) ==
		      GOSSIP_REJ_BAD_ADDRESS);
	}
	gossip_peer_gone(g, x);
	gossip_free(g);
	double_free(x);
	tmpdir_rm(dir);
}

int main(int argc, char **argv)
{
	cn_crypto_init();
	log_set_level(NULL, LOG_UNUSUAL);
	loop = ev_loop_new(0);
	memset(chain, 0x06, 32);
	test_address_shapes();
	if (argc > 1)
		test_mainnet_sample(argv[1]);
	else
		CHECK(!"usage: test_gossip_real SAMPLE.hex");
	ev_loop_destroy(loop);
	return check_exit();
}
