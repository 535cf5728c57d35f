/* Fuzz the follower's decisions (chain/follow.c) against a backend that
 * lies: every round the input says what the node answers (its height,
 * headers, IBD flag, best hash, hashes at our height and the next, all
 * drawn from a few values so they collide and contradict), and a
 * simulated follower applies the decision the way chain.c does.
 * Invariants:
 *  - no crash, every decision has a name;
 *  - no request loop without a backoff: at most CHAIN_FOLLOW_MAX_REPOLLS
 *    immediate re-polls in a row;
 *  - no stored state contradicting the replies: a block is connected
 *    only on a tip the node just confirmed (its hash at our height is
 *    ours) and only the block the node named next; a block is stepped
 *    back only when the node is not catching up and either is below us
 *    or holds another block at our height;
 *  - the consumer cursor never fetches while the consumer's tip is
 *    above ours or known to differ from the chain's block. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chain/follow.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t H[8][32];

static const uint8_t *hash_of(uint8_t k)
{
	return H[k & 7];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Our stored chain: the hash id at each height (<= 40). */
	uint8_t ours[64];
	bool have_tip = false;
	uint32_t height = 0;
	unsigned repolls = 0;

	for (int i = 0; i < 8; i++)
		memset(H[i], 0x11 * (i + 1), 32);
	memset(ours, 0, sizeof(ours));
	for (size_t off = 0; off + 7 <= size; off += 7) {
		const uint8_t *d = data + off;
		struct chain_follow_view v = {
			.have_tip = have_tip,
			.height = height,
			.hash = hash_of(ours[height]),
			.node_blocks = d[0] % 48,
			.node_ibd = d[2] & 1,
			.node_best = hash_of(d[3]),
			.at_tip = (enum chain_follow_hash)(d[4] & 3),
			.at_tip_hash = hash_of(d[4] >> 2),
			.next = (enum chain_follow_hash)(d[5] & 3),
			.next_hash = hash_of(d[5] >> 2),
			.repolls = repolls,
		};
		v.node_headers = v.node_blocks + (d[1] % 4 == 0 ? d[1] % 7 : 0);
		enum chain_follow_do x = chain_follow_decide(&v);
		if (!chain_follow_name(x))
			abort();
		switch (x) {
		case FOLLOW_START:
			if (have_tip)
				abort();
			have_tip = true;
			height = v.node_blocks;
			ours[height] = d[6] & 7;
			repolls = 0;
			break;
		case FOLLOW_FORWARD:
			if (!have_tip || v.at_tip != FH_GOT ||
			    memcmp(v.at_tip_hash, v.hash, 32) ||
			    v.next != FH_GOT)
				abort(); /* a block on an unconfirmed tip */
			if (height + 1 >= sizeof(ours))
				return 0;
			height++;
			ours[height] = (uint8_t)(d[5] >> 2) & 7;
			repolls = 0;
			break;
		case FOLLOW_BACK:
			if (!have_tip || chain_follow_catching_up(&v))
				abort();
			if (!(v.node_blocks < height ||
			      (v.at_tip == FH_GOT &&
			       memcmp(v.at_tip_hash, v.hash, 32))))
				abort(); /* a step back the node did not ask */
			if (height == 0)
				have_tip = false;
			else
				height--;
			repolls = 0;
			break;
		case FOLLOW_REPOLL:
			if (++repolls > CHAIN_FOLLOW_MAX_REPOLLS)
				abort(); /* a request loop */
			break;
		case FOLLOW_AT_TIP:
			if (!have_tip || memcmp(v.hash, v.node_best, 32))
				abort();
			/* fall through */
		case FOLLOW_WAIT:
		case FOLLOW_LOST:
			repolls = 0; /* a poll interval or a backoff */
			break;
		case FOLLOW_ASK:
			break;
		}
		/* The consumer cursor on the same round. */
		if (have_tip) {
			struct chain_consumer_view cv = {
				.chain_height = height,
				.has_tip = d[6] & 1,
				.tip_height = d[6] % 50,
				.tip_hash = hash_of(d[1]),
				.chain_at = (enum chain_follow_hash)((d[6] >> 1) & 3),
				.chain_at_hash = hash_of(d[2] >> 1),
				.next = (int64_t)(d[3] % 60) - 5,
			};
			enum chain_consumer_do y = chain_consumer_decide(&cv);
			if (!chain_consumer_name(y))
				abort();
			if (y == CONS_FETCH && cv.has_tip &&
			    (cv.tip_height > height || cv.chain_at != FH_GOT ||
			     memcmp(cv.tip_hash, cv.chain_at_hash, 32)))
				abort();
			if (y == CONS_FETCH &&
			    (cv.next < 0 || cv.next > (int64_t)height))
				abort();
		}
	}
	return 0;
}
