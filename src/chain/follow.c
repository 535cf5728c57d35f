/*~ chain/follow: where the follower goes next, as one pure function.
 *
 * The node's best chain is the truth, except while the node says it is
 * still catching up: then a node below our tip, or without a block at our
 * height, may simply not have our blocks yet, and we wait (as Core
 * Lightning does, "bitcoind is behind").  Otherwise a node below our tip
 * means its chain got shorter (invalidateblock, or a branch with more work
 * but fewer blocks won): our tip is stepped back until it is on the node's
 * chain, then the node's blocks are connected from there.  (Whether the
 * node still knows our block tells nothing: bcoin forgets an invalidated
 * block, and a node restarted from an empty chain never had it; only the
 * node saying it is catching up does.)  Which
 * block is next is only trusted once the node confirmed our tip is still
 * on its chain (the hash at our height equals ours).
 */
#include "chain/follow.h"

#include <stdlib.h>
#include <string.h>

const char *chain_follow_name(enum chain_follow_do d)
{
	switch (d) {
	case FOLLOW_START: return "start";
	case FOLLOW_AT_TIP: return "at tip";
	case FOLLOW_WAIT: return "wait";
	case FOLLOW_ASK: return "ask";
	case FOLLOW_FORWARD: return "forward";
	case FOLLOW_BACK: return "back";
	case FOLLOW_REPOLL: return "repoll";
	case FOLLOW_LOST: return "lost";
	}
	abort();
}

bool chain_follow_catching_up(const struct chain_follow_view *v)
{
	return v->node_ibd || v->node_headers > v->node_blocks;
}

static enum chain_follow_do repoll(const struct chain_follow_view *v)
{
	return v->repolls >= CHAIN_FOLLOW_MAX_REPOLLS ? FOLLOW_LOST
						       : FOLLOW_REPOLL;
}

enum chain_follow_do chain_follow_decide(const struct chain_follow_view *v)
{
	bool behind = chain_follow_catching_up(v);

	if (!v->have_tip)
		return FOLLOW_START;
	if (!memcmp(v->hash, v->node_best, 32))
		return FOLLOW_AT_TIP;
	/* Below our tip: shorter chain, or not there yet. */
	if (v->node_blocks < v->height)
		return behind ? FOLLOW_WAIT : FOLLOW_BACK;
	switch (v->at_tip) {
	case FH_UNASKED:
		return FOLLOW_ASK;
	case FH_ERROR:
		return FOLLOW_LOST;
	case FH_NONE:
		/* Its chain got shorter between the two calls: look again
		 * (then it is below our tip, decided above). */
		return repoll(v);
	case FH_GOT:
		if (memcmp(v->at_tip_hash, v->hash, 32))
			/* Another block at our height: ours left its chain.
			 * A node catching up may still be on a branch it
			 * will leave: wait for it. */
			return behind ? FOLLOW_WAIT : FOLLOW_BACK;
		break;
	}
	switch (v->next) {
	case FH_UNASKED:
	case FH_NONE:
		/* Our tip is its tip after all, or its chain moved: look
		 * again from getblockchaininfo. */
		return repoll(v);
	case FH_ERROR:
		return FOLLOW_LOST;
	case FH_GOT:
		break;
	}
	return FOLLOW_FORWARD;
}

/*~ The consumer cursor: a consumer keeping its own chain (the wallet, in
 * another SQLite file, so not in our transaction) is made to agree with
 * ours by comparing hashes, never heights alone.  Its tip must be a block
 * of the chain we follow: above our tip (the node's chain got shorter),
 * or another block at that height (a reorg it missed, e.g. killed between
 * our commit and its own), it is disconnected, one block a step, however
 * deep (no rewind of our own chain, no loop: each step lowers its tip).
 * Then it gets the blocks it lacks from its own next height, fetched from
 * the node, while our tip stays where it is. */
const char *chain_consumer_name(enum chain_consumer_do d)
{
	switch (d) {
	case CONS_IDLE: return "idle";
	case CONS_DISCONNECT: return "disconnect";
	case CONS_VERIFY: return "verify";
	case CONS_FETCH: return "fetch";
	}
	abort();
}

enum chain_consumer_do
chain_consumer_decide(const struct chain_consumer_view *v)
{
	if (v->has_tip) {
		if (v->tip_height > v->chain_height)
			return CONS_DISCONNECT;
		switch (v->chain_at) {
		case FH_UNASKED:
			return CONS_VERIFY;
		case FH_NONE:
			return CONS_DISCONNECT;
		case FH_ERROR:
			return CONS_IDLE; /* the next poll asks again */
		case FH_GOT:
			if (memcmp(v->chain_at_hash, v->tip_hash, 32))
				return CONS_DISCONNECT;
			break;
		}
	}
	if (v->next >= 0 && v->next <= (int64_t)v->chain_height)
		return CONS_FETCH;
	return CONS_IDLE;
}
