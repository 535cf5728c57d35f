/*~ horizon: the gap limit.  Each account's two branches (0 external, 1
 * change; BIP44 "change") are derived up to `gap` scripts past the highest
 * index seen used (or past the count lnd had handed out), and every script
 * is in an in-memory table (script -> account, branch, index).  A payment
 * to a new index moves its branch's horizon (match.c), which derives the
 * scripts now inside it.
 */
#include "wallet/wallet_priv.h"

#include <string.h>

enum wallet_addr_type wallet_branch_type(enum wallet_addr_type t, int branch)
{
	/* lnd's hybrid m/49' account: "receives to np2wkh and uses p2wkh
	 * change" (btcwallet's KeyScopeBIP0049Plus address schema). */
	if (t == WALLET_ADDR_HYBRID_NP2WKH)
		return branch ? WALLET_ADDR_P2WKH : WALLET_ADDR_NP2WKH;
	return t;
}

/* The purposes whose addresses hold the wallet's funds; lnd's m/1017'
 * key families are kept (they are part of the export) but not watched. */
bool wallet_scanned_purpose(uint32_t p)
{
	return p == 49 || p == 84 || p == 86;
}

uint64_t wallet_script_val(size_t acct, int branch, uint32_t idx)
{
	return ((uint64_t)acct << 40) | ((uint64_t)branch << 32) | idx;
}

bool wallet_derive_to(struct wallet *w, size_t ai, int branch, uint32_t n)
{
	struct wacct *a = &w->accts[ai];
	while (a->derived[branch] < n) {
		struct wallet_xpub k;
		uint8_t script[WALLET_MAX_SCRIPT];
		size_t len;
		uint32_t i = a->derived[branch]++;
		/* BIP32: an invalid child (p < 2^-127) is skipped. */
		if (!wallet_xpub_child(&k, &a->branch[branch], i))
			continue;
		len = wallet_script_for_key(script,
					    wallet_branch_type(a->a.type, branch),
					    k.pubkey);
		if (!len || !wmap_put(&w->scripts, script, len,
				      wallet_script_val(ai, branch, i)))
			return false;
	}
	return true;
}

uint32_t wallet_want_derived(const struct wallet *w, const struct wacct *a,
			     int branch)
{
	uint32_t base = a->used_next[branch];
	uint32_t lnd = branch ? a->a.internal_count : a->a.external_count;
	if (lnd > base)
		base = lnd;
	return base + w->gap;
}

uint64_t wallet_derived_total(const struct wallet *w)
{
	uint64_t n = 0;
	for (size_t i = 0; i < w->num_accts; i++)
		n += (uint64_t)w->accts[i].derived[0] + w->accts[i].derived[1];
	return n;
}
