/*~ gengraph: a synthetic BOLT 7 channel graph with valid signatures, from
 * fixed seeds, for tests and benchmarks.  Every message is signed with
 * keys derived from the seed (RFC 6979 nonces), so the same parameters give
 * the same bytes on every run and machine.
 *
 * Order of emitted messages: for each channel, its channel_announcement
 * then the two channel_updates (direction 0, 1); then every
 * node_announcement.  Each node has at least one channel.
 */
#ifndef COLDNODE_TOOLS_GENGRAPH_H
#define COLDNODE_TOOLS_GENGRAPH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct gengraph_params {
	unsigned nodes;      /* >= 2 */
	unsigned channels;   /* >= nodes: the first @nodes form a ring */
	uint64_t seed;
	uint32_t now;        /* timestamps fall in the week before this */
	uint8_t chain_hash[32];
	unsigned first_block; /* scids start here */
	/* Optional: channel c's scid is scids[c] (@channels entries,
	 * borrowed), e.g. real funding outputs mined in a test's chain. */
	const uint64_t *scids;
	/* Optional: called per channel with its two funding keys (bitcoin_key
	 * 1 and 2) instead of making any message: a test funds the outputs
	 * first, then runs the same parameters with @scids. */
	void (*funding)(void *arg, uint32_t c, const uint8_t k1[33],
			const uint8_t k2[33]);
	void *funding_arg;
	/* Optional: node i < @num_loopback_ports announces 127.0.0.1 with
	 * port loopback_ports[i] (borrowed) instead of 10.0.x.y:9735, so a
	 * test's listeners holding those nodes' keys can be dialed from the
	 * graph. */
	const uint16_t *loopback_ports;
	unsigned num_loopback_ports;
};

/* Mainnet size per the issue: 16,000 nodes, 60,000 channels (120,000
 * channel updates). */
void gengraph_params_full(struct gengraph_params *p);
/* A small graph for tests: 40 nodes, 120 channels. */
void gengraph_params_small(struct gengraph_params *p);

/* Emit every message; @msg borrowed until the callback returns.
 * Needs cn_crypto_init().  Returns false if a key could not be made. */
bool gengraph_run(const struct gengraph_params *p,
		  void (*emit)(void *arg, const uint8_t *msg, size_t len),
		  void *arg);

/* Number of ECDSA signatures in the graph (4 per channel, 1 per update
 * and node). */
uint64_t gengraph_num_sigs(const struct gengraph_params *p);

/* Files: each message as u16 big-endian length then the message. */
bool gengraph_write_file(const struct gengraph_params *p, const char *path);
/* Calls @emit for each message of a file; false on a malformed file. */
bool gengraph_read_file(const char *path,
			void (*emit)(void *arg, const uint8_t *msg, size_t len),
			void *arg);

#endif
