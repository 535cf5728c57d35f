/*~ apply: whether a block the chain hands the wallet is applied, already
 * in, on another branch, or too far ahead.  Pure: the wallet's position
 * in, a result out; scan.c gathers the position from SQLite and does what
 * this says.  The caller may deliver any block any number of times (a
 * replay after a kill -9, a rewind, a history pass for a rescan): the
 * result is always what the wallet's stored chain says, never a guess
 * from the height alone.
 */
#include "wallet/wallet_internal.h"

#include <string.h>

const char *wallet_apply_name(enum wallet_apply r)
{
	switch (r) {
	case WALLET_APPLIED:
		return "applied";
	case WALLET_ALREADY:
		return "already";
	case WALLET_FORK:
		return "fork";
	case WALLET_GAP:
		return "gap";
	case WALLET_FAILED:
		return "failed";
	}
	return "?";
}

int64_t wallet_pos_next(const struct wallet_pos *p)
{
	if (!p->have_tip)
		return p->birthday;
	if (p->rescan_next >= 0 && p->rescan_next <= p->tip_height)
		return p->rescan_next;
	return p->tip_height + 1;
}

enum wallet_apply wallet_connect_decide(const struct wallet_pos *p,
					uint32_t height, const uint8_t hash[32],
					const uint8_t prev[32],
					enum wallet_scan_how *how)
{
	int64_t h = height;
	bool rescanning = p->have_tip && p->rescan_next >= 0 &&
			  p->rescan_next <= p->tip_height;

	*how = WALLET_SCAN_NONE;
	if (!p->have_tip) {
		/* No birthday: the first block delivered starts the scan. */
		if (p->birthday >= 0 && h < p->birthday)
			return WALLET_ALREADY; /* before the wallet existed */
		if (p->birthday >= 0 && h > p->birthday)
			return WALLET_GAP;
		*how = WALLET_SCAN_TIP;
		return WALLET_APPLIED;
	}
	if (h > p->tip_height + 1)
		return WALLET_GAP;
	if (h == p->tip_height + 1) {
		/* History for a rescan comes first: a tip block scanned
		 * before it would miss spends of coins the rescan finds. */
		if (rescanning)
			return WALLET_GAP;
		if (memcmp(prev, p->tip_hash, 32) != 0)
			return WALLET_FORK;
		*how = WALLET_SCAN_TIP;
		return WALLET_APPLIED;
	}
	/* At or below the tip: the same block, or another branch. */
	if (p->have_at && memcmp(p->at_hash, hash, 32) != 0)
		return WALLET_FORK;
	if (h == p->tip_height && memcmp(p->tip_hash, hash, 32) != 0)
		return WALLET_FORK;
	if (!rescanning || h < p->rescan_next)
		return WALLET_ALREADY;
	if (h > p->rescan_next)
		return WALLET_GAP;
	if (p->have_below && memcmp(p->below_hash, prev, 32) != 0)
		return WALLET_FORK;
	*how = WALLET_SCAN_RESCAN;
	return WALLET_APPLIED;
}

enum wallet_apply wallet_disconnect_decide(const struct wallet_pos *p,
					   uint32_t height,
					   const uint8_t hash[32])
{
	int64_t h = height;

	if (!p->have_tip || h > p->tip_height)
		return WALLET_ALREADY;
	if (h == p->tip_height)
		return memcmp(p->tip_hash, hash, 32) == 0 ? WALLET_APPLIED
							  : WALLET_FORK;
	if (p->have_at && memcmp(p->at_hash, hash, 32) != 0)
		return WALLET_FORK;
	return WALLET_GAP;
}
