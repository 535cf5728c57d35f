/* Codec unit tests: parse/write round trips of generated (signed) gossip,
 * truncation at every byte, trailing bytes, signatures incl. high-S,
 * address descriptors, query encodings and the update checksum. */
#include "../common/check.h"
#include "gtest_util.h"

#include <secp256k1.h>

static void test_roundtrip(const struct gmsgs *g)
{
	uint8_t out[2048], h[32];

	for (size_t i = 0; i < g->n; i++) {
		const uint8_t *m = g->m[i];
		size_t len = g->len[i], w = 0;
		uint16_t type = be16_get(m);

		if (type == GOSSIP_CHANNEL_ANNOUNCEMENT) {
			struct gossip_chan_ann ca;
			CHECK(gossip_chan_ann_parse(&ca, m, len) == GOSSIP_OK);
			CHECK(gossip_chan_ann_check_sigs(m, len, &ca) ==
			      GOSSIP_OK);
			CHECK(memcmp(ca.node_id_1, ca.node_id_2, 33) < 0);
			w = gossip_chan_ann_write(out, sizeof(out), &ca);
			/* Every shorter prefix is truncated. */
			for (size_t l = 0; l < len; l++)
				CHECK(gossip_chan_ann_parse(&ca, m, l) ==
				      GOSSIP_REJ_TRUNCATED);
		} else if (type == GOSSIP_CHANNEL_UPDATE) {
			struct gossip_chan_upd cu;
			CHECK(gossip_chan_upd_parse(&cu, m, len) == GOSSIP_OK);
			CHECK(len == 138 && cu.extra_len == 0);
			w = gossip_chan_upd_write(out, sizeof(out), &cu);
			for (size_t l = 0; l < len; l++)
				CHECK(gossip_chan_upd_parse(&cu, m, l) ==
				      GOSSIP_REJ_TRUNCATED);
		} else if (type == GOSSIP_NODE_ANNOUNCEMENT) {
			struct gossip_node_ann na;
			CHECK(gossip_node_ann_parse(&na, m, len) == GOSSIP_OK);
			gossip_sighash(h, m, len);
			CHECK(gossip_sig_ok(h, na.sig, na.node_id));
			CHECK(gossip_addresses_check(na.addresses,
						     na.addresses_len) ==
			      GOSSIP_OK);
			w = gossip_node_ann_write(out, sizeof(out), &na);
			for (size_t l = 0; l < len; l++)
				CHECK(gossip_node_ann_parse(&na, m, l) ==
				      GOSSIP_REJ_TRUNCATED);
		} else {
			CHECK(!"unexpected type");
		}
		CHECK(w == len);
		CHECK_MEM(out, m, len);
	}
}

/* Trailing bytes are kept, signed over, and written back. */
static void test_trailing(const struct gmsgs *g)
{
	size_t len;
	const uint8_t *m = gmsgs_find(g, GOSSIP_CHANNEL_UPDATE, 0, &len);
	uint8_t buf[300], out[300];
	struct gossip_chan_upd cu;

	memcpy(buf, m, len);
	memcpy(buf + len, "\x01\x02\x03", 3);
	CHECK(gossip_chan_upd_parse(&cu, buf, len + 3) == GOSSIP_OK);
	CHECK(cu.extra_len == 3 && cu.extra == buf + len);
	CHECK(gossip_chan_upd_write(out, sizeof(out), &cu) == len + 3);
	CHECK_MEM(out, buf, len + 3);
	/* Size query with cap 0 writes nothing. */
	CHECK(gossip_chan_upd_write(NULL, 0, &cu) == len + 3);
}

/* s -> n - s, big-endian 32 bytes. */
static void negate_s(uint8_t s[32])
{
	static const uint8_t n[32] = {
		0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
		0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE,
		0xBA, 0xAE, 0xDC, 0xE6, 0xAF, 0x48, 0xA0, 0x3B,
		0xBF, 0xD2, 0x5E, 0x8C, 0xD0, 0x36, 0x41, 0x41,
	};
	int borrow = 0;
	for (int i = 31; i >= 0; i--) {
		int d = n[i] - s[i] - borrow;
		borrow = d < 0;
		s[i] = (uint8_t)(d + (borrow ? 256 : 0));
	}
}

static void test_sigs(const struct gmsgs *g)
{
	size_t len;
	const uint8_t *m = gmsgs_find(g, GOSSIP_CHANNEL_ANNOUNCEMENT, 0, &len);
	uint8_t buf[600], h[32];
	struct gossip_chan_ann ca;
	struct gossip_node_ann na;

	/* Each of the four signatures is checked: damage each in turn. */
	static const enum gossip_reason want[4] = {
		GOSSIP_REJ_BAD_NODE_SIG_1, GOSSIP_REJ_BAD_NODE_SIG_2,
		GOSSIP_REJ_BAD_BTC_SIG_1, GOSSIP_REJ_BAD_BTC_SIG_2,
	};
	for (int k = 0; k < 4; k++) {
		memcpy(buf, m, len);
		buf[2 + 64 * k + 10] ^= 1;
		CHECK(gossip_chan_ann_parse(&ca, buf, len) == GOSSIP_OK);
		CHECK(gossip_chan_ann_check_sigs(buf, len, &ca) == want[k]);
	}
	/* A signed byte changed: the first signature fails. */
	memcpy(buf, m, len);
	buf[len - 1] ^= 1;
	gossip_chan_ann_parse(&ca, buf, len);
	CHECK(gossip_chan_ann_check_sigs(buf, len, &ca) ==
	      GOSSIP_REJ_BAD_NODE_SIG_1);

	/* BOLT 7: malleated (high-S) signatures are no ground to reject. */
	m = gmsgs_find(g, GOSSIP_NODE_ANNOUNCEMENT, 0, &len);
	memcpy(buf, m, len);
	negate_s(buf + 2 + 32);
	gossip_node_ann_parse(&na, buf, len);
	gossip_sighash(h, buf, len);
	CHECK(gossip_sig_ok(h, na.sig, na.node_id));
	/* An invalid key is just a failed check. */
	na.node_id[0] = 0x05;
	CHECK(!gossip_sig_ok(h, na.sig, na.node_id));
}

static void test_addresses(void)
{
	static const uint8_t ok1[] = { 1, 1, 2, 3, 4, 0x26, 0x07 };
	static const uint8_t ok_dns[] = { 1, 1, 2, 3, 4, 0, 1, 5, 3, 'a', '.',
					  'b', 0, 1 };
	static const uint8_t unknown_then_junk[] = { 1, 1, 2, 3, 4, 0, 1, 9,
						     0xff };
	static const uint8_t short_v4[] = { 1, 1, 2, 3 };
	static const uint8_t unordered[] = { 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
					     0, 0, 0, 0, 0, 0, 0, 1,
					     1, 1, 2, 3, 4, 0, 1 };
	static const uint8_t two_dns[] = { 5, 1, 'a', 0, 1, 5, 1, 'b', 0, 1 };
	static const uint8_t dns_short[] = { 5, 9, 'a', 0 };

	CHECK(gossip_addresses_check(NULL, 0) == GOSSIP_OK);
	CHECK(gossip_addresses_check(ok1, sizeof(ok1)) == GOSSIP_OK);
	CHECK(gossip_addresses_check(ok_dns, sizeof(ok_dns)) == GOSSIP_OK);
	CHECK(gossip_addresses_check(unknown_then_junk,
				     sizeof(unknown_then_junk)) == GOSSIP_OK);
	CHECK(gossip_addresses_check(short_v4, sizeof(short_v4)) ==
	      GOSSIP_REJ_BAD_ADDRESS);
	/* Order and a second DNS name are the sender's rules: a receiver
	 * takes them (BOLT 7: "SHOULD ignore the additional data"); we
	 * keep them for what we announce. */
	CHECK(gossip_addresses_check(unordered, sizeof(unordered)) ==
	      GOSSIP_OK);
	CHECK(gossip_addresses_check(two_dns, sizeof(two_dns)) == GOSSIP_OK);
	CHECK(gossip_addresses_check_origin(unordered, sizeof(unordered)) ==
	      GOSSIP_REJ_BAD_ADDRESS);
	CHECK(gossip_addresses_check_origin(two_dns, sizeof(two_dns)) ==
	      GOSSIP_REJ_BAD_ADDRESS);
	CHECK(gossip_addresses_check_origin(ok_dns, sizeof(ok_dns)) ==
	      GOSSIP_OK);
	CHECK(gossip_addresses_check_origin(short_v4, sizeof(short_v4)) ==
	      GOSSIP_REJ_BAD_ADDRESS);
	CHECK(gossip_addresses_check(dns_short, sizeof(dns_short)) ==
	      GOSSIP_REJ_BAD_ADDRESS);
}

static void test_checksum(const struct gmsgs *g)
{
	size_t len;
	const uint8_t *m = gmsgs_find(g, GOSSIP_CHANNEL_UPDATE, 0, &len);
	uint8_t buf[200];
	uint32_t c = gossip_chan_upd_checksum(m, len);

	memcpy(buf, m, len);
	buf[5] ^= 0xff;   /* signature */
	buf[107] ^= 0xff; /* timestamp */
	CHECK(gossip_chan_upd_checksum(buf, len) == c);
	buf[125] ^= 1;    /* fee_base_msat */
	CHECK(gossip_chan_upd_checksum(buf, len) != c);
}

static void test_queries(void)
{
	uint8_t chain[32], buf[70000];
	struct gossip_query_range q;
	struct gossip_reply_range r;
	struct gossip_query_scids qs;
	struct gossip_ts_filter f;
	struct gossip_reply_scids_end e;
	uint64_t scids[3] = { 1, 2, 3 }, flags[3] = { 1, 300, 0x10000 };
	size_t len;

	memset(chain, 0x42, 32);
	/* Round trips of what we produce. */
	memcpy(q.chain_hash, chain, 32);
	q.first_blocknum = 7;
	q.number_of_blocks = 9;
	q.has_query_option = true;
	q.query_option = 3;
	len = gossip_query_range_write(buf, sizeof(buf), &q);
	memset(&q, 0, sizeof(q));
	CHECK(gossip_query_range_parse(&q, buf, len) == GOSSIP_OK);
	CHECK(q.first_blocknum == 7 && q.number_of_blocks == 9 &&
	      q.has_query_option && q.query_option == 3);
	for (size_t l = 0; l < len; l++)
		CHECK(gossip_query_range_parse(&q, buf, l) != GOSSIP_OK ||
		      l == 42);

	memcpy(qs.chain_hash, chain, 32);
	qs.num_scids = 3;
	qs.scids = scids;
	qs.flags = flags;
	len = gossip_query_scids_write(buf, sizeof(buf), &qs);
	CHECK(gossip_query_scids_parse(&qs, buf, len) == GOSSIP_OK);
	CHECK(qs.num_scids == 3 && qs.scids[2] == 3 && qs.flags &&
	      qs.flags[1] == 300 && qs.flags[2] == 0x10000);
	gossip_query_scids_clear(&qs);
	/* Non-minimal bigsize in query_flags: 300 as fe0000012c. */
	{
		uint8_t bad[100];
		size_t bl;
		struct gossip_query_scids q2 = { .num_scids = 1,
						 .scids = scids };
		memcpy(q2.chain_hash, chain, 32);
		bl = gossip_query_scids_write(bad, sizeof(bad), &q2);
		memcpy(bad + bl, "\x01\x06\x00\xfe\x00\x00\x01\x2c", 8);
		CHECK(gossip_query_scids_parse(&q2, bad, bl + 8) ==
		      GOSSIP_REJ_BAD_ENCODING);
		/* Unknown even TLV fails, unknown odd is skipped. */
		memcpy(bad + bl, "\x02\x01\x00", 3);
		CHECK(gossip_query_scids_parse(&q2, bad, bl + 3) ==
		      GOSSIP_REJ_BAD_ENCODING);
		memcpy(bad + bl, "\x03\x01\x00", 3);
		CHECK(gossip_query_scids_parse(&q2, bad, bl + 3) == GOSSIP_OK);
		gossip_query_scids_clear(&q2);
		/* zlib encoding refused. */
		bad[36] = 1;
		CHECK(gossip_query_scids_parse(&q2, bad, bl) ==
		      GOSSIP_REJ_ZLIB);
	}

	memcpy(f.chain_hash, chain, 32);
	f.first_timestamp = 5;
	f.timestamp_range = 6;
	len = gossip_ts_filter_write(buf, sizeof(buf), &f);
	CHECK(len == 42);
	memset(&f, 0, sizeof(f));
	CHECK(gossip_ts_filter_parse(&f, buf, len) == GOSSIP_OK &&
	      f.first_timestamp == 5 && f.timestamp_range == 6);
	CHECK(gossip_ts_filter_parse(&f, buf, 41) == GOSSIP_REJ_TRUNCATED);

	memcpy(e.chain_hash, chain, 32);
	e.full_information = 1;
	len = gossip_reply_scids_end_write(buf, sizeof(buf), &e);
	CHECK(gossip_reply_scids_end_parse(&e, buf, len) == GOSSIP_OK &&
	      e.full_information == 1);
	CHECK(gossip_reply_scids_end_parse(&e, buf, 34) ==
	      GOSSIP_REJ_TRUNCATED);

	/* A big reply: 4000 scids with timestamps (TLV length needs 3-byte
	 * bigsize). */
	memset(&r, 0, sizeof(r));
	memcpy(r.chain_hash, chain, 32);
	r.num_scids = 4000;
	r.scids = calloc(4000, 8);
	r.timestamps = calloc(4000, 8);
	for (size_t i = 0; i < 4000; i++)
		r.scids[i] = i, r.timestamps[i][1] = (uint32_t)i;
	len = gossip_reply_range_write(buf, sizeof(buf), &r);
	CHECK(len < 65536);
	gossip_reply_range_clear(&r);
	CHECK(gossip_reply_range_parse(&r, buf, len) == GOSSIP_OK);
	CHECK(r.num_scids == 4000 && r.timestamps &&
	      r.timestamps[3999][1] == 3999 && !r.checksums);
	gossip_reply_range_clear(&r);
	/* Timestamps count must match the scids. */
	buf[len - 1] = 0;
	CHECK(gossip_reply_range_parse(&r, buf, len - 8) ==
	      GOSSIP_REJ_BAD_ENCODING);
	CHECK(r.scids == NULL); /* cleared on failure */
	/* Too many scids for one message: refused by the writer. */
	r.num_scids = 9000;
	CHECK(gossip_reply_range_write(buf, sizeof(buf), &r) > 65535);
	r.num_scids = 0;
}

int main(void)
{
	struct gengraph_params p;
	struct gmsgs g = { 0 };

	cn_crypto_init();
	gengraph_params_small(&p);
	p.nodes = 10;
	p.channels = 20;
	CHECK(gengraph_run(&p, gmsgs_add, &g));
	CHECK(g.n == 20 * 3 + 10);
	test_roundtrip(&g);
	test_trailing(&g);
	test_sigs(&g);
	test_addresses();
	test_checksum(&g);
	test_queries();
	gmsgs_free(&g);
	return check_exit();
}
