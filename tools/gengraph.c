/*~ gengraph: write a synthetic signed BOLT 7 graph (see gengraph.h), to a
 * file of length-prefixed messages, or straight into a coldnode gossip
 * store (the "injector" used by integration tests).
 *
 *   gengraph [--full|--small] [--nodes N] [--channels C] [--seed S]
 *            [--now UNIXTIME] [--network NET] [--out FILE] [--datadir DIR]
 *            [--keys] [--scids FILE] [--first-block B]
 *
 * --keys prints each channel's two funding keys ("c key1 key2", hex) and
 * nothing else; --scids reads channel c's short_channel_id from line c of
 * FILE (decimal): a test mines real funding outputs for the keys, then
 * makes the graph on them.
 *
 * --now defaults to the current time, so a daemon accepts the timestamps;
 * pass it for byte-identical output across runs. */
#include "common/common.h"
#include "gossip/gossip.h"
#include "tools/gengraph.h"

#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static bool chain_hash(uint8_t out[32], const char *net)
{
	/* Genesis hashes in wire (internal byte) order. */
	static const char *const nets[][2] = {
		{ "mainnet", "6fe28c0ab6f1b372c1a6a246ae63f74f931e8365e15a089c68d6190000000000" },
		{ "testnet", "43497fd7f826957108f4a30fd9cec3aeba79972084e90ead01ea330900000000" },
		{ "signet", "f61eee3b63a380a477a063af32b2bbc97c9ff9f01f2c4225e973988108000000" },
		{ "regtest", "06226e46111a0b59caaf126043eb5bbf28c34f3a5e332a1fc7b2b73cf188910f" },
	};

	for (size_t i = 0; i < CN_ARRAY_SIZE(nets); i++)
		if (!strcmp(net, nets[i][0]))
			return hex_decode(out, 32, nets[i][1]);
	return false;
}

/* The injector has no peers: these are never called. */
static bool no_send(struct peer *p, const uint8_t *m, size_t l) { abort(); }
static void no_warn(struct peer *p, const char *w) { abort(); }
static void no_set(struct peer *p, void *u) { abort(); }
static void *no_get(const struct peer *p) { return NULL; }
static const uint8_t *no_id(const struct peer *p) { abort(); }

static const struct gossip_peer_ops no_peers = {
	no_send, no_warn, no_warn, no_set, no_get, no_id, NULL,
};

struct inject {
	struct gossip *g;
	uint64_t ok, bad;
};

static void inject_one(void *arg, const uint8_t *msg, size_t len)
{
	struct inject *in = arg;

	if (gossip_handle_msg(in->g, NULL, msg, len) == GOSSIP_OK)
		in->ok++;
	else
		in->bad++;
}

static void print_keys(void *arg, uint32_t c, const uint8_t k1[33],
		       const uint8_t k2[33])
{
	char h1[67], h2[67];

	hex_encode(h1, k1, 33);
	hex_encode(h2, k2, 33);
	printf("%u %s %s\n", c, h1, h2);
}

/* One decimal scid per line; NULL (and a message) unless exactly @n. */
static uint64_t *read_scids(const char *path, unsigned n)
{
	FILE *f = fopen(path, "r");
	uint64_t *v = calloc(n ? n : 1, sizeof(*v));
	unsigned long long x;
	unsigned got = 0;

	if (!f || !v) {
		fprintf(stderr, "gengraph: cannot read %s\n", path);
		free(v);
		if (f)
			fclose(f);
		return NULL;
	}
	while (got < n && fscanf(f, "%llu", &x) == 1)
		v[got++] = x;
	fclose(f);
	if (got != n) {
		fprintf(stderr, "gengraph: %s has %u scids, want %u\n", path,
			got, n);
		free(v);
		return NULL;
	}
	return v;
}

static uint32_t fixed_clock(void *arg)
{
	return *(uint32_t *)arg;
}

int main(int argc, char **argv)
{
	struct gengraph_params p;
	const char *out = NULL, *datadir = NULL, *scids = NULL;
	bool have_now = false, keys = false;
	uint16_t lports[16];

	cn_crypto_init();
	gengraph_params_small(&p);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--full")) {
			gengraph_params_full(&p);
			continue;
		}
		if (!strcmp(a, "--small")) {
			gengraph_params_small(&p);
			continue;
		}
		if (!strcmp(a, "--keys")) {
			keys = true;
			continue;
		}
		if (!v)
			goto usage;
		i++;
		if (!strcmp(a, "--nodes"))
			p.nodes = (unsigned)strtoul(v, NULL, 10);
		else if (!strcmp(a, "--channels"))
			p.channels = (unsigned)strtoul(v, NULL, 10);
		else if (!strcmp(a, "--seed"))
			p.seed = strtoull(v, NULL, 10);
		else if (!strcmp(a, "--now"))
			p.now = (uint32_t)strtoul(v, NULL, 10), have_now = true;
		else if (!strcmp(a, "--network")) {
			if (!chain_hash(p.chain_hash, v))
				goto usage;
		} else if (!strcmp(a, "--out"))
			out = v;
		else if (!strcmp(a, "--datadir"))
			datadir = v;
		else if (!strcmp(a, "--scids"))
			scids = v;
		else if (!strcmp(a, "--first-block"))
			p.first_block = (unsigned)strtoul(v, NULL, 10);
		else if (!strcmp(a, "--loopback-ports")) {
			/* "P0,P1,...": nodes 0.. announce 127.0.0.1:Pi. */
			char *end;
			p.num_loopback_ports = 0;
			for (const char *c = v; *c;) {
				unsigned long port = strtoul(c, &end, 10);
				if (end == c || !port || port > 65535 ||
				    p.num_loopback_ports == 16 ||
				    (*end && *end != ','))
					goto usage;
				lports[p.num_loopback_ports++] =
					(uint16_t)port;
				c = *end ? end + 1 : end;
			}
			p.loopback_ports = lports;
		}
		else
			goto usage;
	}
	if (!have_now)
		p.now = (uint32_t)time(NULL);
	if (p.nodes < 2 || p.channels < p.nodes || (!out && !datadir && !keys))
		goto usage;
	if (keys) {
		p.funding = print_keys;
		return gengraph_run(&p, NULL, NULL) ? 0 : 1;
	}
	uint64_t *scid_list = NULL; /* owned; p.scids borrows it */
	int rc = 1;

	if (scids && !(p.scids = scid_list = read_scids(scids, p.channels)))
		return 1;
	if (out && !gengraph_write_file(&p, out)) {
		fprintf(stderr, "gengraph: cannot write %s\n", out);
		goto out;
	}
	if (datadir) {
		struct gossip_config cfg;
		struct inject in = { 0 };
		struct ev_loop *loop = ev_default_loop(0);

		gossip_config_default(&cfg);
		cfg.datadir = datadir;
		memcpy(cfg.chain_hash, p.chain_hash, 32);
		cfg.peer_ops = &no_peers;
		cfg.clock = fixed_clock;
		cfg.clock_arg = &p.now;
		cfg.update_burst = 1000;
		in.g = gossip_new(loop, &cfg, NULL, NULL);
		if (!in.g)
			goto out;
		if (!gengraph_run(&p, inject_one, &in)) {
			gossip_free(in.g);
			goto out;
		}
		gossip_free(in.g);
		printf("gengraph: stored %llu messages (%llu refused) in %s\n",
		       (unsigned long long)in.ok, (unsigned long long)in.bad,
		       datadir);
		if (in.bad)
			goto out;
	}
	rc = 0;
out:
	free(scid_list);
	return rc;
usage:
	fprintf(stderr,
		"usage: gengraph [--full|--small] [--nodes N] [--channels C] "
		"[--seed S] [--now T] [--network NET] [--out FILE] "
		"[--datadir DIR] [--keys] [--scids FILE] [--first-block B] "
		"[--loopback-ports P0,P1,...]\n");
	return 2;
}
