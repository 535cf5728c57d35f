/* The chain module's block stream, printed: a tiny program around
 * chain_new/chain_start for test_chain_stream.py (against bcoin).
 *
 *   chain_stream HOST:PORT PASS DBPATH START_BACK
 *
 * One line per event on stdout (flushed): "C height hash", "D height
 * hash" (hash in display order), "S status cause", and "M n" for a
 * mempool poll.  Exits cleanly when stdin closes. */
#include "chain/block.h"
#include "chain/chain.h"
#include "common/common.h"

#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void on_conn(void *ctx, uint32_t height, const struct chain_block *b,
		    const uint8_t *raw, size_t len)
{
	char h[65];
	uint8_t check[32];

	/* The raw bytes are the block: its header hashes to its hash. */
	chain_sha256d(check, raw, 80);
	if (memcmp(check, b->hash, 32) || len < 81)
		abort();
	hex_encode_reversed(h, b->hash, 32);
	printf("C %u %s %zu\n", height, h, b->n_tx);
	fflush(stdout);
}

static void on_disc(void *ctx, uint32_t height, const uint8_t hash[32])
{
	char h[65];

	hex_encode_reversed(h, hash, 32);
	printf("D %u %s\n", height, h);
	fflush(stdout);
}

static void on_status(void *ctx, enum chain_status st, const char *cause)
{
	printf("S %s %s\n", chain_status_name(st), cause);
	fflush(stdout);
}

static void on_mempool(void *ctx, const uint8_t (*txids)[32], size_t n)
{
	printf("M %zu\n", n);
	fflush(stdout);
}

static void on_stdin(struct ev_loop *loop, ev_io *w, int revents)
{
	char buf[64];

	if (read(0, buf, sizeof(buf)) <= 0)
		ev_break(loop, EVBREAK_ALL);
}

int main(int argc, char **argv)
{
	struct ev_loop *loop = ev_default_loop(0);
	struct chain_config cc;
	struct chain_events ev = {
		.block_connected = on_conn,
		.block_disconnected = on_disc,
		.status_changed = on_status,
		.mempool = on_mempool,
	};
	char err[256];
	ev_io in;

	if (argc != 5)
		return 2;
	cn_crypto_init();
	log_set_level(NULL, LOG_BROKEN);
	chain_config_defaults(&cc);
	cc.network = "regtest";
	cc.rpchost = argv[1];
	cc.rpcuser = "test";
	cc.rpcpass = argv[2];
	cc.db_path = argv[3];
	cc.start_height = (uint32_t)atoi(argv[4]);
	cc.poll_interval = 0.1;
	struct chain *c = chain_new(loop, &cc, &ev, err, sizeof(err));
	if (!c) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	chain_start(c);
	ev_io_init(&in, on_stdin, 0, EV_READ);
	ev_io_start(loop, &in);
	ev_run(loop, 0);
	chain_free(c);
	return 0;
}
