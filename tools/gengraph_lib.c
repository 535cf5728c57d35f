/*~ The synthetic graph generator (see gengraph.h).  Keys: node i's node
 * key is SHA256("gengraph node" || seed || i), its funding key the same
 * with "gengraph btc"; signatures are libsecp256k1's deterministic ones. */
#include "tools/gengraph.h"
#include "common/common.h"
#include "gossip/gossip.h"

#include <secp256k1.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct gnode {
	uint8_t sk[32], btc_sk[32];
	uint8_t id[33], btc[33];
};

static const uint8_t mainnet_hash[32] = {
	0x6f, 0xe2, 0x8c, 0x0a, 0xb6, 0xf1, 0xb3, 0x72, 0xc1, 0xa6, 0xa2,
	0x46, 0xae, 0x63, 0xf7, 0x4f, 0x93, 0x1e, 0x83, 0x65, 0xe1, 0x5a,
	0x08, 0x9c, 0x68, 0xd6, 0x19, 0x00, 0x00, 0x00, 0x00, 0x00,
};

void gengraph_params_full(struct gengraph_params *p)
{
	memset(p, 0, sizeof(*p));
	p->nodes = 16000;
	p->channels = 60000;
	p->seed = 1;
	p->now = 1767225600; /* 2026-01-01 */
	memcpy(p->chain_hash, mainnet_hash, 32);
	p->first_block = 600000;
}

void gengraph_params_small(struct gengraph_params *p)
{
	gengraph_params_full(p);
	p->nodes = 40;
	p->channels = 120;
}

uint64_t gengraph_num_sigs(const struct gengraph_params *p)
{
	return (uint64_t)p->channels * 6 + p->nodes;
}

/* xorshift64*: a fixed, portable stream from the seed. */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

static bool derive(uint8_t sk[32], uint8_t pk[33], const char *tag,
		   uint64_t seed, uint32_t i)
{
	const secp256k1_context *ctx = cn_secp();
	crypto_hash_sha256_state st;
	secp256k1_pubkey pub;
	uint8_t b[12];
	size_t len = 33;

	be64_put(b, seed);
	be32_put(b + 8, i);
	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, (const uint8_t *)tag, strlen(tag));
	crypto_hash_sha256_update(&st, b, sizeof(b));
	crypto_hash_sha256_final(&st, sk);
	if (!secp256k1_ec_pubkey_create(ctx, &pub, sk))
		return false;
	secp256k1_ec_pubkey_serialize(ctx, pk, &len, &pub,
				      SECP256K1_EC_COMPRESSED);
	return true;
}

static void sign(uint8_t sig64[64], const uint8_t h[32], const uint8_t sk[32])
{
	const secp256k1_context *ctx = cn_secp();
	secp256k1_ecdsa_signature sig;

	if (!secp256k1_ecdsa_sign(ctx, &sig, h, sk, NULL, NULL))
		abort();
	secp256k1_ecdsa_signature_serialize_compact(ctx, sig64, &sig);
}

static bool sign_cb(void *arg, uint8_t sig64[64], const uint8_t hash[32])
{
	sign(sig64, hash, arg);
	return true;
}

bool gengraph_run(const struct gengraph_params *p,
		  void (*emit)(void *arg, const uint8_t *msg, size_t len),
		  void *arg)
{
	struct gnode *n = calloc(p->nodes, sizeof(*n));
	uint8_t msg[1024], h[32];
	uint64_t s = p->seed * 0x9E3779B97F4A7C15ULL + 1;
	bool ok = false;

	if (!n)
		abort();
	for (uint32_t i = 0; i < p->nodes; i++)
		if (!derive(n[i].sk, n[i].id, "gengraph node", p->seed, i) ||
		    !derive(n[i].btc_sk, n[i].btc, "gengraph btc", p->seed, i))
			goto out;

	for (uint32_t c = 0; c < p->channels; c++) {
		struct gossip_chan_ann ca;
		struct gossip_chan_upd cu;
		uint32_t a, b;
		const struct gnode *n1, *n2;
		size_t len;

		if (c < p->nodes) {
			a = c;
			b = (c + 1) % p->nodes;
		} else {
			a = (uint32_t)(rnd(&s) % p->nodes);
			do
				b = (uint32_t)(rnd(&s) % p->nodes);
			while (b == a);
		}
		/* BOLT 7: node_id_1 is the lexicographically lesser. */
		if (memcmp(n[a].id, n[b].id, 33) < 0)
			n1 = &n[a], n2 = &n[b];
		else
			n1 = &n[b], n2 = &n[a];

		if (p->funding) {
			/* The same random stream as the signed run (three
			 * draws per update), so channel c pairs the same
			 * nodes. */
			for (int k = 0; k < 6; k++)
				rnd(&s);
			p->funding(p->funding_arg, c, n1->btc, n2->btc);
			continue;
		}
		memset(&ca, 0, sizeof(ca));
		memcpy(ca.chain_hash, p->chain_hash, 32);
		ca.scid = ((uint64_t)(p->first_block + c / 4) << 40) |
			  ((uint64_t)(1 + (c % 4) * 37) << 16) | (c & 1);
		if (p->scids)
			ca.scid = p->scids[c];
		memcpy(ca.node_id_1, n1->id, 33);
		memcpy(ca.node_id_2, n2->id, 33);
		memcpy(ca.btc_key_1, n1->btc, 33);
		memcpy(ca.btc_key_2, n2->btc, 33);
		len = gossip_chan_ann_write(msg, sizeof(msg), &ca);
		gossip_sighash(h, msg, len);
		sign(ca.node_sig_1, h, n1->sk);
		sign(ca.node_sig_2, h, n2->sk);
		sign(ca.btc_sig_1, h, n1->btc_sk);
		sign(ca.btc_sig_2, h, n2->btc_sk);
		len = gossip_chan_ann_write(msg, sizeof(msg), &ca);
		emit(arg, msg, len);

		for (int d = 0; d < 2; d++) {
			memset(&cu, 0, sizeof(cu));
			memcpy(cu.chain_hash, p->chain_hash, 32);
			cu.scid = ca.scid;
			cu.timestamp = p->now - 60 - (uint32_t)(rnd(&s) % 604800);
			cu.message_flags = 1; /* must_be_one */
			cu.channel_flags = (uint8_t)d;
			cu.cltv_expiry_delta = (uint16_t)(40 + rnd(&s) % 105);
			cu.htlc_minimum_msat = 1000;
			cu.fee_base_msat = 1000;
			cu.fee_proportional_millionths =
				(uint32_t)(rnd(&s) % 1000);
			cu.htlc_maximum_msat = 990000000;
			len = gossip_chan_upd_sign(msg, sizeof(msg), &cu,
						   sign_cb,
						   (void *)(d ? n2 : n1)->sk);
			emit(arg, msg, len);
		}
	}

	for (uint32_t i = 0; i < p->nodes && !p->funding; i++) {
		struct gossip_node_ann na;
		uint8_t addr[7] = { 1, 10, 0, 0, 0, 0x26, 0x07 };
		size_t len;

		memset(&na, 0, sizeof(na));
		na.timestamp = p->now - 60 - (uint32_t)(rnd(&s) % 604800);
		memcpy(na.node_id, n[i].id, 33);
		memcpy(na.rgb, n[i].id + 1, 3);
		snprintf((char *)na.alias, sizeof(na.alias), "gengraph-%u", i);
		addr[3] = (uint8_t)(i >> 8);
		addr[4] = (uint8_t)i;
		if (i < p->num_loopback_ports) {
			addr[1] = 127, addr[2] = 0, addr[3] = 0, addr[4] = 1;
			addr[5] = (uint8_t)(p->loopback_ports[i] >> 8);
			addr[6] = (uint8_t)p->loopback_ports[i];
		}
		na.addresses = addr;
		na.addresses_len = sizeof(addr);
		len = gossip_node_ann_sign(msg, sizeof(msg), &na, sign_cb,
					   n[i].sk);
		emit(arg, msg, len);
	}
	ok = true;
out:
	sodium_memzero(n, p->nodes * sizeof(*n));
	free(n);
	return ok;
}

static void write_one(void *arg, const uint8_t *msg, size_t len)
{
	uint8_t l[2];

	be16_put(l, (uint16_t)len);
	fwrite(l, 1, 2, arg);
	fwrite(msg, 1, len, arg);
}

bool gengraph_write_file(const struct gengraph_params *p, const char *path)
{
	FILE *f = fopen(path, "wb");
	bool ok;

	if (!f)
		return false;
	ok = gengraph_run(p, write_one, f);
	return fclose(f) == 0 && ok;
}

bool gengraph_read_file(const char *path,
			void (*emit)(void *arg, const uint8_t *msg, size_t len),
			void *arg)
{
	FILE *f = fopen(path, "rb");
	uint8_t l[2], *msg = malloc(65535);
	bool ok = true;

	if (!f || !msg) {
		free(msg);
		if (f)
			fclose(f);
		return false;
	}
	while (fread(l, 1, 2, f) == 2) {
		size_t len = be16_get(l);
		if (fread(msg, 1, len, f) != len) {
			ok = false;
			break;
		}
		emit(arg, msg, len);
	}
	free(msg);
	fclose(f);
	return ok;
}
