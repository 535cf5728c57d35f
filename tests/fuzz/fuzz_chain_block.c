/* Fuzz the bitcoin block and transaction parser (chain/block.c).  The
 * first byte picks block or lone transaction; every view of an accepted
 * input must lie inside that input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chain/block.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_tx(const struct chain_tx *tx, const uint8_t *lo,
		     const uint8_t *hi)
{
	for (size_t i = 0; i < tx->n_out; i++) {
		const struct chain_txout *o = &tx->out[i];
		if (o->script_len &&
		    (o->script < lo || o->script + o->script_len > hi))
			abort();
	}
	for (size_t i = 0; i < tx->n_in; i++)
		if (tx->in[i].prevout.vout == 0xdeadbeef &&
		    tx->in[i].prevout.txid[0] == 0xde)
			continue; /* touch every input */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[128];

	if (size < 1)
		return 0;
	if (data[0] & 1) {
		struct chain_block *b =
			chain_block_parse(data + 1, size - 1, err, sizeof(err));
		if (b) {
			if (b->n_tx == 0)
				abort();
			for (size_t i = 0; i < b->n_tx; i++)
				check_tx(&b->tx[i], data + 1, data + size);
			chain_block_free(b);
		} else if (!err[0]) {
			abort(); /* a refusal always says why */
		}
	} else {
		struct chain_tx *tx =
			chain_tx_parse(data + 1, size - 1, err, sizeof(err));
		if (tx) {
			check_tx(tx, data + 1, data + size);
			chain_tx_free(tx);
		} else if (!err[0]) {
			abort();
		}
	}
	return 0;
}
