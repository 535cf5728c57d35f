/* Interop helper for interop_gossip.js (@node-dlc/wire).
 *   interop_gossip gen FILE   write our messages (length-prefixed): a small
 *                             signed graph and every query message.
 *   interop_gossip dump FILE  parse each message with our parsers, print one
 *                             JSON object per line (fields, or the reason). */
#include "common/common.h"
#include "gossip/gossip.h"
#include "tools/gengraph.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void put(FILE *f, const uint8_t *m, size_t len)
{
	uint8_t l[2];
	be16_put(l, (uint16_t)len);
	fwrite(l, 1, 2, f);
	fwrite(m, 1, len, f);
}

static void emit(void *arg, const uint8_t *m, size_t len)
{
	put(arg, m, len);
}

static int gen(const char *path)
{
	FILE *f = fopen(path, "wb");
	struct gengraph_params p;
	uint8_t buf[4096];
	uint64_t scids[3] = { 0x8e, 0x3c69, (700000ULL << 40) | 5 };
	uint64_t flags[3] = { 1, 0x1f, 6 };
	uint32_t ts[3][2] = { { 1, 2 }, { 3, 4 }, { 5, 6 } };
	uint32_t cs[3][2] = { { 7, 8 }, { 9, 10 }, { 11, 0xffffffff } };
	size_t len;

	if (!f)
		return 1;
	gengraph_params_small(&p);
	p.nodes = 3;
	p.channels = 3;
	gengraph_run(&p, emit, f);
	{
		struct gossip_query_range q = { .first_blocknum = 600000,
						.number_of_blocks = 1000,
						.has_query_option = true,
						.query_option = 3 };
		memcpy(q.chain_hash, p.chain_hash, 32);
		len = gossip_query_range_write(buf, sizeof(buf), &q);
		put(f, buf, len);
	}
	{
		struct gossip_reply_range r = { .first_blocknum = 0,
						.number_of_blocks = 800000,
						.sync_complete = 1,
						.num_scids = 3,
						.scids = scids,
						.timestamps = ts,
						.checksums = cs };
		memcpy(r.chain_hash, p.chain_hash, 32);
		len = gossip_reply_range_write(buf, sizeof(buf), &r);
		put(f, buf, len);
	}
	{
		struct gossip_query_scids q = { .num_scids = 3,
						.scids = scids,
						.flags = flags };
		memcpy(q.chain_hash, p.chain_hash, 32);
		len = gossip_query_scids_write(buf, sizeof(buf), &q);
		put(f, buf, len);
	}
	{
		struct gossip_reply_scids_end e = { .full_information = 1 };
		memcpy(e.chain_hash, p.chain_hash, 32);
		len = gossip_reply_scids_end_write(buf, sizeof(buf), &e);
		put(f, buf, len);
	}
	{
		struct gossip_ts_filter t = { .first_timestamp = 1700000000,
					      .timestamp_range = 86400 };
		memcpy(t.chain_hash, p.chain_hash, 32);
		len = gossip_ts_filter_write(buf, sizeof(buf), &t);
		put(f, buf, len);
	}
	return fclose(f) != 0;
}

static void hexf(const char *name, const uint8_t *b, size_t len)
{
	char *h = malloc(2 * len + 1);
	printf("\"%s\":\"%s\",", name, hex_encode(h, b, len));
	free(h);
}

static void dump_one(const uint8_t *m, size_t len)
{
	enum gossip_reason r = GOSSIP_REJ_TRUNCATED;
	uint16_t t = len >= 2 ? be16_get(m) : 0;

	printf("{\"type\":%u,", t);
	switch (t) {
	case GOSSIP_CHANNEL_ANNOUNCEMENT: {
		struct gossip_chan_ann ca;
		r = gossip_chan_ann_parse(&ca, m, len);
		if (r != GOSSIP_OK)
			break;
		printf("\"scid\":\"%" PRIu64 "\",", ca.scid);
		hexf("node_id_1", ca.node_id_1, 33);
		hexf("node_id_2", ca.node_id_2, 33);
		hexf("features", ca.features, ca.features_len);
		printf("\"sigs\":\"%s\",",
		       gossip_reason_str(gossip_chan_ann_check_sigs(m, len, &ca)));
		break;
	}
	case GOSSIP_NODE_ANNOUNCEMENT: {
		struct gossip_node_ann na;
		uint8_t h[32];
		r = gossip_node_ann_parse(&na, m, len);
		if (r != GOSSIP_OK)
			break;
		r = gossip_addresses_check(na.addresses, na.addresses_len);
		if (r != GOSSIP_OK)
			break;
		gossip_sighash(h, m, len);
		printf("\"timestamp\":%u,\"sig_ok\":%s,", na.timestamp,
		       gossip_sig_ok(h, na.sig, na.node_id) ? "true" : "false");
		hexf("node_id", na.node_id, 33);
		hexf("alias", na.alias, 32);
		hexf("addresses", na.addresses, na.addresses_len);
		break;
	}
	case GOSSIP_CHANNEL_UPDATE: {
		struct gossip_chan_upd cu;
		r = gossip_chan_upd_parse(&cu, m, len);
		if (r != GOSSIP_OK)
			break;
		printf("\"scid\":\"%" PRIu64 "\",\"timestamp\":%u,"
		       "\"message_flags\":%u,\"channel_flags\":%u,\"cltv\":%u,"
		       "\"htlc_min\":\"%" PRIu64 "\",\"fee_base\":%u,"
		       "\"fee_ppm\":%u,\"htlc_max\":\"%" PRIu64 "\","
		       "\"checksum\":%u,",
		       cu.scid, cu.timestamp, cu.message_flags,
		       cu.channel_flags, cu.cltv_expiry_delta,
		       cu.htlc_minimum_msat, cu.fee_base_msat,
		       cu.fee_proportional_millionths, cu.htlc_maximum_msat,
		       gossip_chan_upd_checksum(m, len));
		break;
	}
	case GOSSIP_QUERY_CHANNEL_RANGE: {
		struct gossip_query_range q;
		r = gossip_query_range_parse(&q, m, len);
		if (r == GOSSIP_OK)
			printf("\"first\":%u,\"num\":%u,\"option\":%" PRIu64 ",",
			       q.first_blocknum, q.number_of_blocks,
			       q.query_option);
		break;
	}
	case GOSSIP_REPLY_CHANNEL_RANGE: {
		struct gossip_reply_range rr;
		r = gossip_reply_range_parse(&rr, m, len);
		if (r != GOSSIP_OK)
			break;
		printf("\"first\":%u,\"num\":%u,\"complete\":%u,\"scids\":[",
		       rr.first_blocknum, rr.number_of_blocks,
		       rr.sync_complete);
		for (size_t i = 0; i < rr.num_scids; i++)
			printf("%s\"%" PRIu64 "\"", i ? "," : "", rr.scids[i]);
		printf("],\"timestamps\":[");
		for (size_t i = 0; rr.timestamps && i < rr.num_scids; i++)
			printf("%s%u,%u", i ? "," : "", rr.timestamps[i][0],
			       rr.timestamps[i][1]);
		printf("],\"checksums\":[");
		for (size_t i = 0; rr.checksums && i < rr.num_scids; i++)
			printf("%s%u,%u", i ? "," : "", rr.checksums[i][0],
			       rr.checksums[i][1]);
		printf("],");
		gossip_reply_range_clear(&rr);
		break;
	}
	case GOSSIP_QUERY_SHORT_CHANNEL_IDS: {
		struct gossip_query_scids q;
		r = gossip_query_scids_parse(&q, m, len);
		if (r != GOSSIP_OK)
			break;
		printf("\"scids\":[");
		for (size_t i = 0; i < q.num_scids; i++)
			printf("%s\"%" PRIu64 "\"", i ? "," : "", q.scids[i]);
		printf("],\"flags\":[");
		for (size_t i = 0; q.flags && i < q.num_scids; i++)
			printf("%s%" PRIu64, i ? "," : "", q.flags[i]);
		printf("],");
		gossip_query_scids_clear(&q);
		break;
	}
	case GOSSIP_REPLY_SHORT_CHANNEL_IDS_END: {
		struct gossip_reply_scids_end e;
		r = gossip_reply_scids_end_parse(&e, m, len);
		if (r == GOSSIP_OK)
			printf("\"full\":%u,", e.full_information);
		break;
	}
	case GOSSIP_TIMESTAMP_FILTER: {
		struct gossip_ts_filter f;
		r = gossip_ts_filter_parse(&f, m, len);
		if (r == GOSSIP_OK)
			printf("\"first\":%u,\"range\":%u,", f.first_timestamp,
			       f.timestamp_range);
		break;
	}
	}
	printf("\"verdict\":\"%s\"}\n", gossip_reason_str(r));
}

static int dump(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t l[2], *m = malloc(65536);

	if (!f)
		return 1;
	while (fread(l, 1, 2, f) == 2) {
		size_t len = be16_get(l);
		if (fread(m, 1, len, f) != len)
			return 1;
		dump_one(m, len);
	}
	free(m);
	fclose(f);
	return 0;
}

int main(int argc, char **argv)
{
	cn_crypto_init();
	if (argc == 3 && !strcmp(argv[1], "gen"))
		return gen(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "dump"))
		return dump(argv[2]);
	fprintf(stderr, "usage: interop_gossip gen|dump FILE\n");
	return 2;
}
