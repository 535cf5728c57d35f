/* Fuzz the chain module's JSON-RPC reply layer (chain/rpcjson.c): a reply
 * body from the node, parsed as a single reply and as a batch of two, and
 * through chain_json_batch as the answer to a batch of every size the
 * module sends (the first byte picks it, 1 .. CHAIN_BATCH_MAX), each
 * result read as every struct the follower and the funding check use. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chain/rpcjson.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void read_all(json_t *v)
{
	char err[160];
	struct chain_bci bci;
	struct chain_txout_info txo;
	uint8_t h[32], *raw;
	size_t len;

	(void)chain_json_bci(v, &bci, err, sizeof(err));
	if (chain_json_txout(v, &txo, err, sizeof(err)) &&
	    txo.script_len > sizeof(txo.script))
		abort();
	(void)chain_json_hash(v, h);
	if (chain_json_hex(v, &raw, &len, 1 << 20)) {
		if (len > 1 << 20)
			abort();
		free(raw);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct chain_reply rep[2];
	char err[160];
	json_t *root;

	for (int single = 0; single < 2; single++) {
		size_t n = single ? 1 : 2;
		root = chain_json_replies((const char *)data, size, single, rep,
					  n, err, sizeof(err));
		if (!root) {
			if (!err[0])
				abort(); /* a refusal always says why */
			continue;
		}
		for (size_t i = 0; i < n; i++)
			if (rep[i].result)
				read_all(rep[i].result);
			else if (rep[i].code == 0)
				abort(); /* an error always has a code */
		json_decref(root);
	}
	if (size) {
		struct chain_batch b;
		size_t n = 1 + data[0] % CHAIN_BATCH_MAX;
		err[0] = '\0';
		switch (chain_json_batch((const char *)data + 1, size - 1, n, &b,
					 err, sizeof(err))) {
		case CHAIN_BATCH_OK:
			if (b.n != n)
				abort();
			for (size_t i = 0; i < n; i++)
				if (b.rep[i].result)
					read_all(b.rep[i].result);
				else if (b.rep[i].code == 0)
					abort();
			break;
		case CHAIN_BATCH_NODE_ERROR:
			if (b.n != 1 || !b.rep[0].code || !err[0])
				abort();
			break;
		case CHAIN_BATCH_BAD:
			if (!err[0] || b.root || b.rep)
				abort();
			break;
		}
		chain_batch_clear(&b);
	}
	return 0;
}
