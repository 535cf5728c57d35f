/* Unit tests for the BOLT 1 codec (src/peer/wire.c): BigSize vectors from
 * BOLT #1 Appendix A, TLV stream rules, init, ping/pong, feature bits,
 * warning/error and the printable-data rule. */
#include "check.h"

#include "common/common.h"
#include "peer/peer_wire.h"

static size_t unhex(uint8_t *out, size_t cap, const char *hex)
{
	size_t n = strlen(hex) / 2;
	char buf[3] = { 0 };

	if (n > cap)
		abort();
	for (size_t i = 0; i < n; i++) {
		buf[0] = hex[2 * i];
		buf[1] = hex[2 * i + 1];
		out[i] = (uint8_t)strtoul(buf, NULL, 16);
	}
	return n;
}

static void test_bigsize(void)
{
	static const struct {
		uint64_t v;
		const char *hex;
	} ok[] = {
		{ 0, "00" },
		{ 252, "fc" },
		{ 253, "fd00fd" },
		{ 65535, "fdffff" },
		{ 65536, "fe00010000" },
		{ 4294967295ULL, "feffffffff" },
		{ 4294967296ULL, "ff0000000100000000" },
		{ UINT64_MAX, "ffffffffffffffffff" },
	};
	/* BOLT #1 Appendix A failures. */
	static const char *const noncanon[] = { "fd00fc", "fe0000ffff",
						"ff00000000ffffffff" };
	static const char *const shorts[] = { "fd00", "feffff", "ffffffffff",
					      "", "fd", "fe", "ff" };

	for (size_t i = 0; i < CN_ARRAY_SIZE(ok); i++) {
		uint8_t buf[9], enc[9];
		size_t n = unhex(buf, sizeof(buf), ok[i].hex), left = n;
		const uint8_t *p = buf;
		uint64_t v = 0;

		CHECK(peer_wire_bigsize_get(&v, &p, &left) == PEER_WIRE_OK);
		CHECK(v == ok[i].v);
		CHECK(left == 0 && p == buf + n);
		CHECK(peer_wire_bigsize_put(enc, ok[i].v) == n);
		CHECK_MEM(enc, buf, n);
	}
	for (size_t i = 0; i < CN_ARRAY_SIZE(noncanon); i++) {
		uint8_t buf[9];
		size_t left = unhex(buf, sizeof(buf), noncanon[i]);
		const uint8_t *p = buf;
		uint64_t v;

		CHECK(peer_wire_bigsize_get(&v, &p, &left) ==
		      PEER_WIRE_ERR_BIGSIZE);
	}
	for (size_t i = 0; i < CN_ARRAY_SIZE(shorts); i++) {
		uint8_t buf[9];
		size_t left = unhex(buf, sizeof(buf), shorts[i]);
		const uint8_t *p = buf;
		uint64_t v;

		CHECK(peer_wire_bigsize_get(&v, &p, &left) ==
		      PEER_WIRE_ERR_SHORT);
	}
}

/* An init message: "0010" gflen gf flen f, then @tlvs (hex). */
static size_t make_init(uint8_t *out, const char *hex)
{
	return unhex(out, 1024, hex);
}

static void test_tlv_and_init(void)
{
	uint8_t msg[1024];
	struct peer_wire_init init;
	size_t n;
	uint8_t chain[32];

	memset(chain, 0xaa, sizeof(chain));

	/* Minimal init, no TLVs. */
	n = make_init(msg, "001000000000");
	CHECK(peer_wire_parse_init(&init, msg, n) == PEER_WIRE_OK);
	CHECK(init.gflen == 0 && init.flen == 0 && !init.has_networks);
	CHECK(peer_wire_init_has_chain(&init, chain));

	/* Truncations. */
	for (size_t i = 0; i < 6; i++)
		CHECK(peer_wire_parse_init(&init, msg, i) ==
		      PEER_WIRE_ERR_SHORT);
	n = make_init(msg, "0010000100");
	CHECK(peer_wire_parse_init(&init, msg, n) == PEER_WIRE_ERR_SHORT);
	n = make_init(msg, "00100000000201");
	CHECK(peer_wire_parse_init(&init, msg, n) == PEER_WIRE_ERR_SHORT);
	/* Wrong type. */
	n = make_init(msg, "001100000000");
	CHECK(peer_wire_parse_init(&init, msg, n) == PEER_WIRE_ERR_BAD_TYPE);

	/* Features in both fields. */
	n = make_init(msg, "0010000102000280a0");
	CHECK(peer_wire_parse_init(&init, msg, n) == PEER_WIRE_OK);
	CHECK(init.gflen == 1 && init.globalfeatures[0] == 0x02);
	CHECK(init.flen == 2 && init.features[0] == 0x80);

	/* networks with one chain, then remote_addr. */
	{
		char hex[400];
		strcpy(hex, "00100000000001"
			    "20"
			    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
			    "0307017f00000126ac");
		n = make_init(msg, hex);
		CHECK(peer_wire_parse_init(&init, msg, n) == PEER_WIRE_OK);
		CHECK(init.has_networks && init.num_networks == 1);
		CHECK(peer_wire_init_has_chain(&init, chain));
		CHECK(init.remote_addr_len == 7 && init.remote_addr[0] == 1);
		chain[0] = 0xbb;
		CHECK(!peer_wire_init_has_chain(&init, chain));
		chain[0] = 0xaa;
	}
	/* networks present but empty: no chain in common. */
	n = make_init(msg, "0010000000000100");
	CHECK(peer_wire_parse_init(&init, msg, n) == PEER_WIRE_OK);
	CHECK(init.has_networks && init.num_networks == 0);
	CHECK(!peer_wire_init_has_chain(&init, chain));
	/* networks length not a multiple of 32. */
	n = make_init(msg, "00100000000001021122");
	CHECK(peer_wire_parse_init(&init, msg, n) ==
	      PEER_WIRE_ERR_TLV_LENGTH);
	/* Unknown odd TLV skipped; unknown even fails. */
	n = make_init(msg, "001000000000050199");
	CHECK(peer_wire_parse_init(&init, msg, n) == PEER_WIRE_OK);
	n = make_init(msg, "001000000000040199");
	CHECK(peer_wire_parse_init(&init, msg, n) ==
	      PEER_WIRE_ERR_TLV_UNKNOWN_EVEN);
	/* Not strictly increasing: 3 then 1, and 5 twice. */
	n = make_init(msg, "00100000000003000100");
	CHECK(peer_wire_parse_init(&init, msg, n) == PEER_WIRE_ERR_TLV_ORDER);
	n = make_init(msg, "00100000000005000500");
	CHECK(peer_wire_parse_init(&init, msg, n) == PEER_WIRE_ERR_TLV_ORDER);
	/* Non-canonical type or length BigSize. */
	n = make_init(msg, "001000000000fd000100");
	CHECK(peer_wire_parse_init(&init, msg, n) == PEER_WIRE_ERR_BIGSIZE);
	n = make_init(msg, "00100000000005fd000100");
	CHECK(peer_wire_parse_init(&init, msg, n) == PEER_WIRE_ERR_BIGSIZE);
	/* Length past the end. */
	n = make_init(msg, "0010000000000505aabb");
	CHECK(peer_wire_parse_init(&init, msg, n) == PEER_WIRE_ERR_SHORT);
	/* Huge odd type with canonical encoding is fine. */
	n = make_init(msg, "001000000000ff000000010000000100");
	CHECK(peer_wire_parse_init(&init, msg, n) == PEER_WIRE_OK);

	/* Round trip of our own init, with and without remote_addr. */
	{
		uint8_t out[128], desc[19];
		uint8_t ip[4] = { 127, 0, 0, 1 };
		size_t dlen = peer_wire_addr_descriptor(desc, 4, ip, 9735);

		CHECK(dlen == 7);
		n = peer_wire_build_init(out, sizeof(out), 1u << 7, chain,
					 NULL, 0);
		CHECK(n == 2 + 2 + 2 + 1 + 2 + 32);
		CHECK(peer_wire_parse_init(&init, out, n) == PEER_WIRE_OK);
		CHECK(init.flen == 1 && init.features[0] == 0x80);
		CHECK(init.num_networks == 1 &&
		      memcmp(init.networks, chain, 32) == 0);
		n = peer_wire_build_init(out, sizeof(out), 0, chain, desc,
					 dlen);
		CHECK(peer_wire_parse_init(&init, out, n) == PEER_WIRE_OK);
		CHECK(init.flen == 0);
		CHECK(init.remote_addr_len == 7 &&
		      memcmp(init.remote_addr, desc, 7) == 0);
		CHECK(peer_wire_build_init(out, 20, 0, chain, NULL, 0) == 0);
	}
}

static void test_features(void)
{
	uint8_t f[4];
	size_t n;

	/* BOLT #9: bit 0 is the least significant bit of the last byte. */
	n = peer_wire_features_from_u32(f, (1u << 7) | (1u << 8));
	CHECK(n == 2 && f[0] == 0x01 && f[1] == 0x80);
	CHECK(peer_wire_feature_is_set(f, n, 7));
	CHECK(peer_wire_feature_is_set(f, n, 8));
	CHECK(!peer_wire_feature_is_set(f, n, 9));
	CHECK(!peer_wire_feature_is_set(f, n, 100));
	CHECK(peer_wire_features_from_u32(f, 0) == 0);
	/* Known even bits pass, unknown even bits are found, odd ignored. */
	CHECK(peer_wire_feature_unknown_even(f, n) == -1);
	n = peer_wire_features_from_u32(f, (1u << 14) | (1u << 12) | 1u);
	CHECK(peer_wire_feature_unknown_even(f, n) == -1);
	n = peer_wire_features_from_u32(f, 1u << 2);
	CHECK(peer_wire_feature_unknown_even(f, n) == 2);
	n = peer_wire_features_from_u32(f, 1u << 31); /* odd, unknown */
	CHECK(peer_wire_feature_unknown_even(f, n) == -1);
	n = peer_wire_features_from_u32(f, 1u << 30); /* even, unknown */
	CHECK(peer_wire_feature_unknown_even(f, n) == 30);
	{
		/* Bit 100 (even, unknown) in a long field. */
		uint8_t big[20] = { 0 };
		big[sizeof(big) - 1 - 100 / 8] = 1u << (100 % 8);
		CHECK(peer_wire_feature_unknown_even(big, sizeof(big)) == 100);
		big[sizeof(big) - 1 - 100 / 8] = 1u << (101 % 8);
		CHECK(peer_wire_feature_unknown_even(big, sizeof(big)) == -1);
	}
}

static void test_ping_pong(void)
{
	uint8_t msg[70000];
	uint16_t v;
	size_t n;

	n = peer_wire_build_ping(msg, sizeof(msg), 10, 3);
	CHECK(n == 9);
	CHECK(peer_wire_parse_ping(&v, msg, n) == PEER_WIRE_OK && v == 10);
	/* ignored bytes are zero (never uninitialised memory). */
	CHECK(msg[6] == 0 && msg[7] == 0 && msg[8] == 0);
	/* byteslen larger than what follows. */
	CHECK(peer_wire_parse_ping(&v, msg, n - 1) == PEER_WIRE_ERR_SHORT);
	CHECK(peer_wire_parse_ping(&v, msg, 5) == PEER_WIRE_ERR_SHORT);
	/* Trailing extension bytes are allowed. */
	CHECK(peer_wire_parse_ping(&v, msg, n) == PEER_WIRE_OK);
	n = peer_wire_build_ping(msg, sizeof(msg), 65532, 0);
	CHECK(peer_wire_parse_ping(&v, msg, n) == PEER_WIRE_OK &&
	      v == PEER_WIRE_PONG_LIMIT);
	CHECK(peer_wire_build_ping(msg, 8, 1, 3) == 0);

	n = peer_wire_build_pong(msg, sizeof(msg), 65531);
	CHECK(n == 65535);
	CHECK(peer_wire_parse_pong(&v, msg, n) == PEER_WIRE_OK && v == 65531);
	CHECK(peer_wire_parse_pong(&v, msg, n - 1) == PEER_WIRE_ERR_SHORT);
	CHECK(peer_wire_parse_pong(&v, msg, 3) == PEER_WIRE_ERR_SHORT);
	CHECK(peer_wire_parse_ping(&v, msg, n) == PEER_WIRE_ERR_BAD_TYPE);
	n = peer_wire_build_pong(msg, sizeof(msg), 0);
	CHECK(n == 4 && peer_wire_parse_pong(&v, msg, n) == PEER_WIRE_OK &&
	      v == 0);
}

static void test_errmsg(void)
{
	uint8_t msg[200];
	struct peer_wire_errmsg e;
	char out[64];
	size_t n;

	n = peer_wire_build_errmsg(msg, sizeof(msg), PEER_WIRE_WARNING, NULL,
				   (const uint8_t *)"hello", 5);
	CHECK(n == 41);
	CHECK(peer_wire_parse_errmsg(&e, msg, n) == PEER_WIRE_OK);
	CHECK(e.type == PEER_WIRE_WARNING && e.dlen == 5);
	CHECK(memcmp(e.data, "hello", 5) == 0);
	CHECK(e.channel_id[0] == 0 && e.channel_id[31] == 0);
	CHECK(peer_wire_parse_errmsg(&e, msg, n - 1) == PEER_WIRE_ERR_SHORT);
	CHECK(peer_wire_parse_errmsg(&e, msg, 35) == PEER_WIRE_ERR_SHORT);
	be16_put(msg, PEER_WIRE_ERROR);
	CHECK(peer_wire_parse_errmsg(&e, msg, n) == PEER_WIRE_OK &&
	      e.type == PEER_WIRE_ERROR);
	be16_put(msg, PEER_WIRE_PING);
	CHECK(peer_wire_parse_errmsg(&e, msg, n) == PEER_WIRE_ERR_BAD_TYPE);

	/* Printable data verbatim; anything else never verbatim. */
	CHECK(strcmp(peer_wire_printable(out, sizeof(out),
					 (const uint8_t *)"ok text", 7),
		     "ok text") == 0);
	CHECK(strcmp(peer_wire_printable(out, sizeof(out),
					 (const uint8_t *)"a\nb\x1b[31m", 8),
		     "hex:610a621b5b33316d") == 0);
	{
		uint8_t bin[100];
		memset(bin, 0xff, sizeof(bin));
		peer_wire_printable(out, sizeof(out), bin, sizeof(bin));
		CHECK(strncmp(out, "hex:ffff", 8) == 0 &&
		      strlen(out) < sizeof(out));
		memset(bin, 'x', sizeof(bin));
		peer_wire_printable(out, sizeof(out), bin, sizeof(bin));
		CHECK(strlen(out) == sizeof(out) - 1 &&
		      strcmp(out + strlen(out) - 3, "...") == 0);
	}
}

int main(void)
{
	test_bigsize();
	test_tlv_and_init();
	test_features();
	test_ping_pong();
	test_errmsg();
	return check_exit();
}
