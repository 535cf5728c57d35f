/* chain/zmqsub.h: bitcoind's ZMQ notifications (rawtx, rawblock), internal
 * to the chain module.  A pure part (frame and sequence decoding, tested
 * by table) and a thin libev adapter around one libzmq SUB socket. */
#ifndef COLDNODE_CHAIN_ZMQSUB_H
#define COLDNODE_CHAIN_ZMQSUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ev_loop;

/* bitcoind (doc/zmq.md): every message is three frames, "topic", the
 * body, and a 4-byte little-endian sequence number counted per topic. */
enum chain_zmq_kind {
	CHAIN_ZMQ_RAWTX,
	CHAIN_ZMQ_RAWBLOCK,
	CHAIN_ZMQ_BAD, /* not three frames, unknown topic, bad sequence */
};
/* nframes frames f[i] of len[i] bytes (borrowed).  RAWTX/RAWBLOCK:
 * @body and @blen point into frame 1, @seq is frame 2. */
enum chain_zmq_kind chain_zmq_decode(size_t nframes,
				     const uint8_t *const *f,
				     const size_t *len, const uint8_t **body,
				     size_t *blen, uint32_t *seq);

/* Per-topic sequence: how many messages were missed before seq (0: in
 * order, or the first one seen).  bitcoind counts from 0 at its start
 * and wraps at 2^32; a restarted bitcoind (back to 0) is a gap too: what
 * it published while we were away is lost.  The next message is compared
 * with the new sequence, so a restart is one gap, not one per message. */
struct chain_zmq_seq {
	bool have;
	uint32_t next;
};
uint32_t chain_zmq_seq_check(struct chain_zmq_seq *s, uint32_t seq);
/* Whether a gap is the sequence going back (a gap of 2^31 or more modulo
 * 2^32: the publisher restarted, or a repeat, which only a new publisher
 * sends) rather than messages lost: a bitcoind that lost 2^31 messages
 * between two we saw is not a case. */
bool chain_zmq_seq_restarted(uint32_t gap);

/* ---- the adapter: one SUB socket on the loop ---- */
struct chain_zmq;
/* A decoded message (body borrowed for the call); gap: messages missed
 * before it (chain_zmq_seq_check); bad: a malformed message (body
 * NULL). */
typedef void (*chain_zmq_cb)(void *ctx, enum chain_zmq_kind kind,
			     const uint8_t *body, size_t len, uint32_t gap);
/* zctx: a libzmq context (borrowed); endpoint "tcp://HOST:PORT"; topic
 * "rawtx" or "rawblock".  NULL with err filled if libzmq refuses it. */
struct chain_zmq *chain_zmq_new(struct ev_loop *loop, void *zctx,
				const char *endpoint, const char *topic,
				chain_zmq_cb cb, void *ctx, char *err,
				size_t errlen);
void chain_zmq_free(struct chain_zmq *z);

#endif
