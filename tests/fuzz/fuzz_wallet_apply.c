/* Fuzz the wallet's apply decision (src/wallet/apply.c) with every
 * position the bytes describe, heights near each other so that the edges
 * (tip, tip + 1, the rescan's height, the birthday) are hit.  Invariants:
 * never FAILED (no database here); a connect is APPLIED exactly when it
 * says how to scan; the wallet applies only the height it asks for
 * (wallet_pos_next) unless it asks for none; GAP only above that height;
 * FORK never for the hash the wallet holds at that height with the right
 * parent; a disconnect is APPLIED only for the tip's own hash. */
#include "wallet/wallet_internal.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wallet_pos p;
	enum wallet_scan_how how;
	uint8_t hash[32], prev[32];

	if (size < 12)
		return 0;
	memset(&p, 0, sizeof(p));
	/* heights in a window of 16 around 1000 */
	p.have_tip = data[0] & 1;
	p.tip_height = 1000 + (data[1] & 15);
	p.birthday = (data[2] & 16) ? -1 : 1000 + (data[2] & 15);
	p.rescan_next = (data[3] & 16) ? -1 : 1000 + (data[3] & 15);
	if (p.rescan_next > p.tip_height)
		p.rescan_next = -1; /* the wallet keeps it so */
	p.have_at = data[4] & 1;
	p.have_below = data[4] & 2;
	memset(p.tip_hash, data[5] & 3, 32);
	memset(p.at_hash, data[6] & 3, 32);
	memset(p.below_hash, data[7] & 3, 32);
	memset(hash, data[8] & 3, 32);
	memset(prev, data[9] & 3, 32);
	uint32_t height = 1000 + (data[10] & 31) - 8;
	if (data[11] & 1) {
		/* a consistent wallet: what it holds at height is the tip's
		 * own hash when height is the tip */
		if ((int64_t)height == p.tip_height) {
			p.have_at = true;
			memcpy(p.at_hash, p.tip_hash, 32);
		}
	}

	enum wallet_apply r = wallet_connect_decide(&p, height, hash, prev,
						    &how);
	int64_t next = wallet_pos_next(&p);
	if (r == WALLET_FAILED)
		abort();
	if ((r == WALLET_APPLIED) != (how != WALLET_SCAN_NONE))
		abort();
	if (r == WALLET_APPLIED && next >= 0 && (int64_t)height != next)
		abort();
	if (r == WALLET_GAP && (next < 0 || (int64_t)height <= next))
		abort();
	if (how == WALLET_SCAN_RESCAN && !p.have_tip)
		abort();
	if (how == WALLET_SCAN_TIP && p.have_tip &&
	    (int64_t)height != p.tip_height + 1)
		abort();
	/* the block the wallet holds, with the parent it holds: never FORK */
	if (p.have_tip && (int64_t)height <= p.tip_height && p.have_at &&
	    !memcmp(p.at_hash, hash, 32) &&
	    ((int64_t)height != p.tip_height ||
	     !memcmp(p.tip_hash, hash, 32)) &&
	    (!p.have_below || !memcmp(p.below_hash, prev, 32)) &&
	    r == WALLET_FORK)
		abort();

	r = wallet_disconnect_decide(&p, height, hash);
	if (r == WALLET_FAILED || (r == WALLET_GAP && !p.have_tip))
		abort();
	if (r == WALLET_APPLIED && ((int64_t)height != p.tip_height ||
				    memcmp(p.tip_hash, hash, 32) != 0))
		abort();
	if (r == WALLET_ALREADY && p.have_tip &&
	    (int64_t)height <= p.tip_height)
		abort();
	(void)wallet_apply_name(r);
	return 0;
}
