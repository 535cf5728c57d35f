/* Fuzz bitcoind's ZMQ frame decoder (chain/zmqsub.c): the input is cut
 * into 0..7 frames of any length (a length byte each, the rest the
 * last frame); an accepted message's body lies inside frame 1, its
 * sequence is frame 2's little-endian value, and the per-topic sequence
 * check never reports a gap for the next number in order. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chain/zmqsub.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *f[8] = { 0 };
	size_t len[8] = { 0 }, n = 0;

	if (!size)
		return 0;
	size_t nf = data[0] % 8;
	data++;
	size--;
	for (; n < nf; n++) {
		size_t l = size;
		if (n + 1 < nf && size) {
			l = data[0] % (size + 1);
			data++;
			size--;
			if (l > size)
				l = size;
		}
		f[n] = data;
		len[n] = l;
		data += l;
		size -= l;
	}
	const uint8_t *body = NULL;
	size_t blen = 0;
	uint32_t seq = 0;
	enum chain_zmq_kind k = chain_zmq_decode(n, f, len, &body, &blen,
						 &seq);
	if (k == CHAIN_ZMQ_BAD)
		return 0;
	if (n != 3 || len[2] != 4 || body != f[1] || blen != len[1] || !blen)
		abort();
	uint32_t le = (uint32_t)f[2][0] | (uint32_t)f[2][1] << 8 |
		      (uint32_t)f[2][2] << 16 | (uint32_t)f[2][3] << 24;
	if (seq != le)
		abort();
	struct chain_zmq_seq s = { 0 };
	if (chain_zmq_seq_check(&s, seq) != 0 ||
	    chain_zmq_seq_check(&s, seq + 1) != 0 ||
	    chain_zmq_seq_check(&s, seq + 1) == 0)
		abort();
	/* A restart (back to 0, or any step back) is one: the sequence
	 * after it is in order again. */
	uint32_t back = seq - le % 1000 - 1;
	if (!chain_zmq_seq_restarted(chain_zmq_seq_check(&s, back)) ||
	    chain_zmq_seq_check(&s, back + 1) != 0)
		abort();
	return 0;
}
