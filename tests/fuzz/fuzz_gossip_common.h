/* Shared by the BOLT 7 message fuzzers (fuzz_gossip_{chan_ann,chan_upd,
 * node_ann}.c): each forces the 2-byte type onto the input so every input
 * exercises its parser, and demands that a successful parse re-serializes
 * to the same bytes.  One fuzz target per program, so the libFuzzer
 * initializer can live here. */
#ifndef COLDNODE_FUZZ_GOSSIP_COMMON_H
#define COLDNODE_FUZZ_GOSSIP_COMMON_H

#include "common/common.h"
#include "gossip/gossip.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Signature checks need the shared secp256k1 context. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	cn_crypto_init();
	return 0;
}

/* @type then @data (borrowed): a malloc'd message of @size + 2 bytes that
 * the caller frees. */
static inline uint8_t *fuzz_gossip_msg(uint16_t type, const uint8_t *data,
				       size_t size)
{
	uint8_t *msg = malloc(size + 2);

	if (!msg)
		abort();
	be16_put(msg, type);
	if (size)
		memcpy(msg + 2, data, size);
	return msg;
}

/* A writer's output (@out, @written bytes; freed here) must be exactly the
 * message it was parsed from. */
static inline void fuzz_gossip_same(uint8_t *out, size_t written,
				    const uint8_t *msg, size_t len)
{
	if (written != len || memcmp(out, msg, len))
		abort();
	free(out);
}

#endif /* COLDNODE_FUZZ_GOSSIP_COMMON_H */
