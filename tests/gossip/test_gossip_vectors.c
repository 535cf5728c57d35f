/* Vectors: the real mainnet channel_announcement from CLN's
 * run-check_channel_announcement.c (bolt8-vectors.json,
 * bolt7_gossip_signature_vector_cln), and the bolt07 extended-queries wire
 * vectors (bolts bolt07/extended-queries.json, as quoted in
 * bolt-digest.md section 3). */
#include "../common/check.h"
#include "gtest_util.h"
#include "test_peer_double.h"

#include <ev.h>

/* The string value of "key" inside the CLN vector object. */
static char *json_str(const char *json, const char *key)
{
	const char *obj = strstr(json, "\"bolt7_gossip_signature_vector_cln\"");
	char pat[128];
	const char *p, *e;
	char *out;

	snprintf(pat, sizeof(pat), "\"%s\"", key);
	if (!obj || !(p = strstr(obj, pat)))
		return NULL;
	p = strchr(p + strlen(pat), '"');
	if (!p)
		return NULL;
	e = strchr(++p, '"');
	out = strndup(p, (size_t)(e - p));
	return out;
}

/* "node_signature_1": true|false inside the "@which" object. */
static bool json_valid(const char *json, const char *which, const char *sig)
{
	const char *obj = strstr(json, "\"bolt7_gossip_signature_vector_cln\"");
	const char *p = strstr(obj, which), *q;
	char pat[64];

	snprintf(pat, sizeof(pat), "\"%s\"", sig);
	q = strstr(p, pat);
	q = strchr(q, ':') + 1;
	while (*q == ' ')
		q++;
	return strncmp(q, "true", 4) == 0;
}

static uint8_t *unhex(const char *hex, size_t *len)
{
	uint8_t *b;

	*len = strlen(hex) / 2;
	b = malloc(*len);
	if (!hex_decode(b, *len, hex))
		abort();
	return b;
}

static void check_vector(const char *json, const char *hexkey,
			 const char *hashkey, const char *validkey,
			 enum gossip_reason want)
{
	char *hex = json_str(json, hexkey), *hh = json_str(json, hashkey);
	static const char *const names[4] = {
		"node_signature_1", "node_signature_2", "bitcoin_signature_1",
		"bitcoin_signature_2",
	};
	struct gossip_chan_ann ca;
	uint8_t *msg, h[32], wanth[32], out[600];
	size_t len;

	CHECK(hex && hh);
	if (!hex || !hh)
		return;
	msg = unhex(hex, &len);
	CHECK(hex_decode(wanth, 32, hh));
	CHECK(gossip_chan_ann_parse(&ca, msg, len) == GOSSIP_OK);
	CHECK(gossip_chan_ann_write(out, sizeof(out), &ca) == len);
	CHECK_MEM(out, msg, len);
	/* The 258-byte offset: sighash as CLN computes it. */
	gossip_sighash(h, msg, len);
	CHECK_MEM(h, wanth, 32);
	{
		const uint8_t *sigs[4] = { ca.node_sig_1, ca.node_sig_2,
					   ca.btc_sig_1, ca.btc_sig_2 };
		const uint8_t *keys[4] = { ca.node_id_1, ca.node_id_2,
					   ca.btc_key_1, ca.btc_key_2 };
		for (int k = 0; k < 4; k++)
			CHECK(gossip_sig_ok(h, sigs[k], keys[k]) ==
			      json_valid(json, validkey, names[k]));
	}
	CHECK(gossip_chan_ann_check_sigs(msg, len, &ca) == want);
	free(msg);
	free(hex);
	free(hh);
}

/* Through the manager, the as-received message is refused with CLN's
 * reason and the peer is warned, nothing stored. */
static void check_manager(const char *json)
{
	char *hex = json_str(json, "as_received_hex"), dir[] = "/tmp/cn-gv-XXXXXX";
	struct ev_loop *loop = ev_loop_new(0);
	struct gossip_config cfg;
	struct gossip *g;
	struct peer *x = double_new(0x77);
	uint8_t *msg;
	size_t len;
	uint64_t ch;
	char cmd[64];

	CHECK(mkdtemp(dir) != NULL);
	gossip_config_default(&cfg);
	cfg.datadir = dir;
	CHECK(hex_decode(cfg.chain_hash, 32,
			 "6fe28c0ab6f1b372c1a6a246ae63f74f931e8365e15a089c68d6190000000000"));
	cfg.peer_ops = &test_peer_double_ops;
	g = gossip_new(loop, &cfg, NULL, NULL);
	gossip_peer_connected(g, x);
	msg = unhex(hex, &len);
	CHECK(gossip_handle_msg(g, x, msg, len) == GOSSIP_REJ_BAD_NODE_SIG_1);
	CHECK(x->warns == 1 && strstr(x->last_warn, "Bad node_signature_1"));
	CHECK(gossip_rejects(g, GOSSIP_REJ_BAD_NODE_SIG_1) == 1);
	gossip_counts(g, NULL, &ch, NULL);
	CHECK(ch == 0);
	gossip_peer_gone(g, x);
	gossip_free(g);
	double_free(x);
	free(msg);
	free(hex);
	ev_loop_destroy(loop);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK(system(cmd) == 0);
}

static void check_query_vectors(void)
{
	static const char *const vec[] = {
		/* query_channel_range regtest, 100000 + 1500 */
		"01070f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206000186a0000005dc",
		/* query_channel_range with query_option = 3 */
		"01070f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206000088b800000064010103",
		/* reply_channel_range, scids 0x0x142, 0x0x15465, 0x69x42692 */
		"01080f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206000b8a06000005dc01001900000000000000008e0000000000003c69000000000045a6c4",
		/* reply_channel_range with timestamps and checksums */
		"01080f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e22060001ddde000005dc01001900000000000000304300000000000778d6000000000046e1c1011900000282c1000e77c5000778ad00490ab00000b57800955bff031800000457000008ae00000d050000115c000015b300001a0a",
		/* query_short_channel_ids */
		"01050f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206001900000000000000008e0000000000003c69000000000045a6c4",
	};
	uint8_t out[1000];

	for (size_t i = 0; i < CN_ARRAY_SIZE(vec); i++) {
		size_t len, w = 0;
		uint8_t *m = unhex(vec[i], &len);
		switch (be16_get(m)) {
		case GOSSIP_QUERY_CHANNEL_RANGE: {
			struct gossip_query_range q;
			CHECK(gossip_query_range_parse(&q, m, len) == GOSSIP_OK);
			if (i == 0)
				CHECK(q.first_blocknum == 100000 &&
				      q.number_of_blocks == 1500 &&
				      !q.has_query_option);
			else
				CHECK(q.first_blocknum == 35000 &&
				      q.number_of_blocks == 100 &&
				      q.query_option == 3);
			w = gossip_query_range_write(out, sizeof(out), &q);
			break;
		}
		case GOSSIP_REPLY_CHANNEL_RANGE: {
			struct gossip_reply_range r;
			CHECK(gossip_reply_range_parse(&r, m, len) == GOSSIP_OK);
			CHECK(r.num_scids == 3 && r.sync_complete == 1);
			if (i == 2) {
				CHECK(r.scids[0] == 0x8e);
				/* 0x69x42692: block 0, tx 69, output 42692 */
				CHECK(r.scids[2] == ((69ULL << 16) | 42692));
				CHECK(!r.timestamps && !r.checksums);
			} else {
				CHECK(r.timestamps && r.checksums);
				CHECK(r.timestamps && r.timestamps[0][0] ==
							      164545);
				CHECK(r.checksums &&
				      r.checksums[2][1] == 0x1a0a);
			}
			w = gossip_reply_range_write(out, sizeof(out), &r);
			gossip_reply_range_clear(&r);
			/* The same with the zlib encoding: refused. */
			m[45] = 1;
			CHECK(gossip_reply_range_parse(&r, m, len) ==
			      GOSSIP_REJ_ZLIB);
			m[45] = 0;
			break;
		}
		case GOSSIP_QUERY_SHORT_CHANNEL_IDS: {
			struct gossip_query_scids q;
			CHECK(gossip_query_scids_parse(&q, m, len) == GOSSIP_OK);
			CHECK(q.num_scids == 3 && !q.flags);
			w = gossip_query_scids_write(out, sizeof(out), &q);
			gossip_query_scids_clear(&q);
			m[36] = 1;
			CHECK(gossip_query_scids_parse(&q, m, len) ==
			      GOSSIP_REJ_ZLIB);
			m[36] = 0;
			break;
		}
		default:
			CHECK(!"unexpected vector");
		}
		/* Byte-exact re-serialization. */
		CHECK(w == len);
		CHECK_MEM(out, m, len);
		free(m);
	}
}

int main(int argc, char **argv)
{
	char *json;

	cn_crypto_init();
	log_set_level(NULL, LOG_UNUSUAL);
	CHECK(argc == 2);
	json = argc == 2 ? check_slurp(argv[1], NULL) : NULL;
	CHECK(json != NULL);
	if (json) {
		/* As received: node 1 signed without the features. */
		check_vector(json, "as_received_hex", "as_received_sighash",
			     "as_received_valid", GOSSIP_REJ_BAD_NODE_SIG_1);
		CHECK(!strcmp(gossip_reason_str(GOSSIP_REJ_BAD_NODE_SIG_1),
			      "Bad node_signature_1"));
		/* Re-encoded without features: sig 1 verifies, sig 2 not. */
		check_vector(json, "reencoded_without_features_hex",
			     "reencoded_sighash", "reencoded_valid",
			     GOSSIP_REJ_BAD_NODE_SIG_2);
		check_manager(json);
	}
	check_query_vectors();
	free(json);
	return check_exit();
}
