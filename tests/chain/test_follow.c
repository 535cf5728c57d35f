/* chain/follow: every decision of the follower, by table (as
 * tests/supervisor/test_fsm.c does for the signer).  Hashes: A is our
 * tip, B the node's best, C another block. */
#include "chain/follow.h"
#include "check.h"

static uint8_t A[32] = { 0xaa }, B[32] = { 0xbb }, C[32] = { 0xcc };

struct row {
	const char *what;
	bool have_tip;
	uint32_t height;
	uint32_t blocks, headers;
	bool ibd;
	const uint8_t *best;
	enum chain_follow_hash at_tip;
	const uint8_t *at_hash;
	enum chain_follow_hash next;
	enum chain_follow_do want;
};

static const struct row rows[] = {
	{ "empty store", false, 0, 10, 10, false, B, FH_UNASKED, NULL,
	  FH_UNASKED, FOLLOW_START },
	{ "empty store, node in IBD", false, 0, 10, 50, true, B, FH_UNASKED,
	  NULL, FH_UNASKED, FOLLOW_START },
	{ "at the node's tip", true, 10, 10, 10, false, A, FH_UNASKED, NULL,
	  FH_UNASKED, FOLLOW_AT_TIP },
	{ "at its tip, node in IBD", true, 10, 10, 12, true, A, FH_UNASKED,
	  NULL, FH_UNASKED, FOLLOW_AT_TIP },
	/* The issue: invalidateblock of the tip, or a branch with more
	 * work but fewer blocks: the node is shorter and synced. */
	{ "node shorter, synced", true, 10, 9, 9, false, B, FH_UNASKED, NULL,
	  FH_UNASKED, FOLLOW_BACK },
	{ "node much shorter, synced", true, 10, 1, 1, false, B, FH_UNASKED,
	  NULL, FH_UNASKED, FOLLOW_BACK },
	{ "node shorter, in IBD", true, 10, 9, 9, true, B, FH_UNASKED, NULL,
	  FH_UNASKED, FOLLOW_WAIT },
	{ "node shorter, headers ahead", true, 10, 9, 11, false, B,
	  FH_UNASKED, NULL, FH_UNASKED, FOLLOW_WAIT },
	{ "node restarted empty, headers ahead", true, 10, 0, 10, false, B,
	  FH_UNASKED, NULL, FH_UNASKED, FOLLOW_WAIT },
	{ "node ahead: ask", true, 10, 12, 12, false, B, FH_UNASKED, NULL,
	  FH_UNASKED, FOLLOW_ASK },
	{ "node ahead in IBD: ask", true, 10, 12, 90, true, B, FH_UNASKED,
	  NULL, FH_UNASKED, FOLLOW_ASK },
	{ "same height, other tip: ask", true, 10, 10, 10, false, B,
	  FH_UNASKED, NULL, FH_UNASKED, FOLLOW_ASK },
	{ "our tip on its chain: forward", true, 10, 12, 12, false, B,
	  FH_GOT, A, FH_GOT, FOLLOW_FORWARD },
	{ "our tip on its chain, IBD: forward", true, 10, 12, 40, true, B,
	  FH_GOT, A, FH_GOT, FOLLOW_FORWARD },
	{ "our tip not on its chain: back", true, 10, 12, 12, false, B,
	  FH_GOT, C, FH_GOT, FOLLOW_BACK },
	{ "same height, other block: back", true, 10, 10, 10, false, B,
	  FH_GOT, C, FH_UNASKED, FOLLOW_BACK },
	{ "other block, node catching up: wait", true, 10, 12, 20, false,
	  B, FH_GOT, C, FH_GOT, FOLLOW_WAIT },
	{ "no block at our height now: repoll", true, 10, 12, 12, false, B,
	  FH_NONE, NULL, FH_NONE, FOLLOW_REPOLL },
	{ "no block at our height, IBD: repoll", true, 10, 12, 12, true, B,
	  FH_NONE, NULL, FH_NONE, FOLLOW_REPOLL },
	{ "error at our height: lost", true, 10, 12, 12, false, B, FH_ERROR,
	  NULL, FH_GOT, FOLLOW_LOST },
	{ "error at the next height: lost", true, 10, 12, 12, false, B,
	  FH_GOT, A, FH_ERROR, FOLLOW_LOST },
	{ "next gone meanwhile: repoll", true, 10, 12, 12, false, B, FH_GOT,
	  A, FH_NONE, FOLLOW_REPOLL },
	{ "next not asked (its tip was ours): repoll", true, 10, 10, 10,
	  false, B, FH_GOT, A, FH_UNASKED, FOLLOW_REPOLL },
};

/* The consumer cursor (a wallet in its own file) by table: chain tip
 * 100; the consumer's tip and next height; the chain's hash at the
 * consumer's tip height (stored/verified, none, unknown). */
struct crow {
	const char *what;
	bool has_tip;
	uint32_t tip;
	const uint8_t *tip_hash;
	enum chain_follow_hash at;
	const uint8_t *at_hash;
	int64_t next;
	enum chain_consumer_do want;
};

static const struct crow crows[] = {
	{ "caught up", true, 100, A, FH_GOT, A, 101, CONS_IDLE },
	{ "no history wanted", false, 0, NULL, FH_UNASKED, NULL, -1,
	  CONS_IDLE },
	{ "birthday in the past, nothing scanned", false, 0, NULL,
	  FH_UNASKED, NULL, 40, CONS_FETCH },
	{ "birthday at our tip", false, 0, NULL, FH_UNASKED, NULL, 100,
	  CONS_FETCH },
	{ "birthday in the future", false, 0, NULL, FH_UNASKED, NULL, 150,
	  CONS_IDLE },
	{ "behind, tip on our chain", true, 60, A, FH_GOT, A, 61,
	  CONS_FETCH },
	{ "rescan below its tip", true, 100, A, FH_GOT, A, 30, CONS_FETCH },
	{ "behind, tip older than the store: verify", true, 2, A,
	  FH_UNASKED, NULL, 3, CONS_VERIFY },
	{ "tip another block (missed reorg)", true, 100, C, FH_GOT, A, 101,
	  CONS_DISCONNECT },
	{ "tip another block, deep", true, 3, C, FH_GOT, A, 4,
	  CONS_DISCONNECT },
	{ "node has no block at its tip", true, 90, A, FH_NONE, NULL, 91,
	  CONS_DISCONNECT },
	{ "tip above ours (node got shorter)", true, 101, A, FH_UNASKED,
	  NULL, 102, CONS_DISCONNECT },
	{ "node failed on verify: next poll", true, 5, A, FH_ERROR, NULL, 6,
	  CONS_IDLE },
};

int main(void)
{
	for (size_t i = 0; i < sizeof(crows) / sizeof(crows[0]); i++) {
		const struct crow *r = &crows[i];
		struct chain_consumer_view v = {
			.chain_height = 100, .has_tip = r->has_tip,
			.tip_height = r->tip, .tip_hash = r->tip_hash,
			.chain_at = r->at, .chain_at_hash = r->at_hash,
			.next = r->next,
		};
		enum chain_consumer_do got = chain_consumer_decide(&v);
		CHECK(got == r->want);
		if (got != r->want)
			fprintf(stderr, "%s: %s, want %s\n", r->what,
				chain_consumer_name(got),
				chain_consumer_name(r->want));
	}
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];
		struct chain_follow_view v = {
			.have_tip = r->have_tip, .height = r->height, .hash = A,
			.node_blocks = r->blocks, .node_headers = r->headers,
			.node_ibd = r->ibd, .node_best = r->best,
			.at_tip = r->at_tip, .at_tip_hash = r->at_hash,
			.next = r->next, .next_hash = C,
		};
		enum chain_follow_do got = chain_follow_decide(&v);
		CHECK(got == r->want);
		if (got != r->want)
			fprintf(stderr, "%s: %s, want %s\n", r->what,
				chain_follow_name(got),
				chain_follow_name(r->want));
	}
	/* A node whose tip keeps moving under us (or lies): re-polled at
	 * most CHAIN_FOLLOW_MAX_REPOLLS times in a row, then lost (with a
	 * backoff), never a request loop. */
	for (unsigned k = 0; k <= CHAIN_FOLLOW_MAX_REPOLLS + 2; k++) {
		struct chain_follow_view v = {
			.have_tip = true, .height = 10, .hash = A,
			.node_blocks = 12, .node_headers = 12,
			.node_best = B, .at_tip = FH_GOT, .at_tip_hash = A,
			.next = FH_NONE, .repolls = k,
		};
		CHECK(chain_follow_decide(&v) ==
		      (k < CHAIN_FOLLOW_MAX_REPOLLS ? FOLLOW_REPOLL
						    : FOLLOW_LOST));
	}
	/* Exhaustive over the small domain: never FORWARD without our tip
	 * confirmed on the node's chain, never BACK while it catches up. */
	const uint8_t *hs[] = { A, B, C };
	for (int ht = 0; ht < 2; ht++)
	for (uint32_t bl = 8; bl <= 12; bl++)
	for (uint32_t hd = 8; hd <= 13; hd++)
	for (int ibd = 0; ibd < 2; ibd++)
	for (int best = 0; best < 3; best++)
	for (int at = FH_UNASKED; at <= FH_GOT; at++)
	for (int ah = 0; ah < 3; ah++)
	for (int nx = FH_UNASKED; nx <= FH_GOT; nx++) {
		struct chain_follow_view v = {
			.have_tip = ht, .height = 10, .hash = A,
			.node_blocks = bl, .node_headers = hd < bl ? bl : hd,
			.node_ibd = ibd, .node_best = hs[best],
			.at_tip = at, .at_tip_hash = hs[ah], .next = nx,
			.next_hash = C,
		};
		enum chain_follow_do d = chain_follow_decide(&v);
		(void)chain_follow_name(d);
		if (d == FOLLOW_FORWARD)
			CHECK(ht && at == FH_GOT && hs[ah] == A &&
			      nx == FH_GOT);
		if (d == FOLLOW_BACK)
			CHECK(ht && !chain_follow_catching_up(&v) &&
			      hs[best] != A);
		if (d == FOLLOW_AT_TIP)
			CHECK(ht && hs[best] == A);
		if (!ht)
			CHECK(d == FOLLOW_START);
	}
	return check_exit();
}
