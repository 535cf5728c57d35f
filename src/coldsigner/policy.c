/*~ coldsigner's policy: what it agrees to sign with the node key.
 *
 * lnd's signer signs what it is asked (lnd issue 6243): a node that is
 * compromised, or whoever drives its signer stream, gets ECDSA over the
 * double SHA-256 of any message, which is a valid signature for any
 * segwit v0 or legacy input paying the node key (their sighash is the
 * double SHA-256 of a preimage), recoverable proofs and Schnorr with any
 * tweak.  coldnode asks for two signatures only, so with the policy on
 * (the default) coldsigner signs exactly those two shapes:
 *
 *   - the key check's registration challenge (src/supervisor/keycheck.c):
 *     32 random bytes then "coldnode-signer-check", double SHA-256,
 *     compact (recoverable) signature;
 *   - the node's own node_announcement (src/daemon/announce.c): the bytes
 *     after the signature, BOLT 7's "signature of the double-SHA256 of the
 *     entire remaining packet after signature", 64-byte signature; parsed
 *     field by field, its node_id our key, every field well formed, and
 *     nothing after the addresses.
 *
 * Why the node_announcement is strict: its bytes are the only ones the
 * node chooses freely, so they must not be able to double as another
 * preimage.  With features at most 8 bytes the node key sits at offset 14
 * at most, where no transaction sighash preimage (BIP 143: version,
 * hashPrevouts, hashSequence, outpoint first, 104 bytes) has a public
 * key, nor a channel_announcement or channel_update (chain hash first);
 * the alias, addresses and trailing bytes, where a grinding node would
 * hide the rest of a preimage, are checked to be what BOLT 7 says.
 * A 53-byte challenge is shorter than any of those preimages.
 *
 * ECDH cannot be narrowed further: BOLT 8's responder multiplies the node
 * key by whatever ephemeral key a stranger sends.  It returns SHA-256 of
 * the shared point, never the point; the policy insists on a compressed
 * point on the curve (lnd's checks already do; the policy does not rely
 * on them), which rules out invalid-curve and small-subgroup points.
 *
 * Pure: bytes and flags in, a verdict and a static reason out.  The
 * reason never quotes the message.
 */
#include "coldsigner/coldsigner.h"

#include <secp256k1.h>
#include <string.h>

#include "common/common.h"

bool cs_policy_parse(enum cs_policy *out, const char *s)
{
	if (strcmp(s, "check") == 0)
		*out = CS_POLICY_CHECK;
	else if (strcmp(s, "none") == 0)
		*out = CS_POLICY_NONE;
	else
		return false;
	return true;
}

const char *cs_policy_str(enum cs_policy p)
{
	return p == CS_POLICY_NONE ? "none" : "check";
}

const char *cs_sign_kind_str(enum cs_sign_kind k)
{
	switch (k) {
	case CS_SIGN_KEYCHECK:
		return "key check";
	case CS_SIGN_NODE_ANN:
		return "node_announcement";
	case CS_SIGN_REFUSED:
		return "refused";
	}
	return "?";
}

bool cs_policy_ecdh(const uint8_t *point, size_t len, const char **why)
{
	secp256k1_pubkey pk;

	*why = NULL;
	/* Compressed only: 0x02/0x03 || x.  The point at infinity has no
	 * such encoding, so this also keeps it out. */
	if (len != 33 || (point[0] != 0x02 && point[0] != 0x03)) {
		*why = "ECDH point is not a 33-byte compressed key";
		return false;
	}
	if (!secp256k1_ec_pubkey_parse(cn_secp(), &pk, point, 33)) {
		*why = "ECDH point is not on the curve";
		return false;
	}
	return true;
}

/* ---- BOLT 7 node_announcement, the part after the signature ---------- */

struct rd {
	const uint8_t *p;
	size_t left;
};

static bool take(struct rd *r, const uint8_t **out, size_t n)
{
	if (r->left < n)
		return false;
	*out = r->p;
	r->p += n;
	r->left -= n;
	return true;
}

static bool take16(struct rd *r, uint16_t *v)
{
	const uint8_t *b;

	if (!take(r, &b, 2))
		return false;
	*v = (uint16_t)(b[0] << 8 | b[1]);
	return true;
}

/* BOLT 7: alias "MUST set ... to a 32-byte UTF-8 string, padded with
 * zeros if shorter". */
static bool alias_ok(const uint8_t alias[32])
{
	size_t n = 0;

	while (n < 32 && alias[n])
		n++;
	for (size_t i = n; i < 32; i++)
		if (alias[i])
			return false;
	return cn_utf8_valid(alias, n);
}

static bool hostname_ok(const uint8_t *h, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = h[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '.'))
			return false;
	}
	return true;
}

/* The address descriptors, per BOLT 7: known types in ascending order,
 * "MUST NOT create a type 1, type 2 or type 5 address descriptor with port
 * equal to 0", "MUST NOT include more than one address descriptor of type
 * 5", no deprecated Tor v2 (type 3). */
static const char *addresses_check(const uint8_t *a, size_t n)
{
	struct rd r = { a, n };
	int last = 0;

	while (r.left) {
		const uint8_t *t, *body, *port, *hl;
		size_t blen;

		if (!take(&r, &t, 1))
			return "node_announcement: truncated address";
		switch (t[0]) {
		case 1:
			blen = 4;
			break;
		case 2:
			blen = 16;
			break;
		case 4:
			blen = 35;
			break;
		case 5:
			if (!take(&r, &hl, 1))
				return "node_announcement: truncated address";
			blen = hl[0];
			break;
		default:
			return "node_announcement: unknown or deprecated "
			       "address type";
		}
		if (t[0] < last || (t[0] == 5 && last == 5))
			return "node_announcement: addresses out of order or "
			       "repeated DNS name";
		last = t[0];
		if (!take(&r, &body, blen) || !take(&r, &port, 2))
			return "node_announcement: truncated address";
		if (t[0] == 5 && !hostname_ok(body, blen))
			return "node_announcement: DNS name is not a host name";
		if (t[0] != 4 && port[0] == 0 && port[1] == 0)
			return "node_announcement: address with port 0";
	}
	return NULL;
}

const char *cs_node_ann_check(const uint8_t *m, size_t len,
			      const uint8_t node_pub[33])
{
	struct rd r = { m, len };
	const uint8_t *features, *ts, *node_id, *rgb, *alias, *addrs;
	uint16_t flen, alen;
	const char *e;

	/* A whole message, type and signature included, fits in 65535. */
	if (len > 65535 - 2 - 64)
		return "node_announcement: too long";
	if (!take16(&r, &flen) || !take(&r, &features, flen))
		return "node_announcement: truncated features";
	if (flen > CS_ANN_MAX_FEATURES)
		return "node_announcement: features longer than 8 bytes";
	/* BOLT 9 bits, minimally encoded: a leading zero byte is slack a
	 * grinding node could use. */
	if (flen && features[0] == 0)
		return "node_announcement: features not minimally encoded";
	if (!take(&r, &ts, 4) || !take(&r, &node_id, 33) ||
	    !take(&r, &rgb, 3) || !take(&r, &alias, 32) ||
	    !take16(&r, &alen) || !take(&r, &addrs, alen))
		return "node_announcement: truncated";
	if (r.left)
		return "node_announcement: bytes after the addresses";
	if (!ts[0] && !ts[1] && !ts[2] && !ts[3])
		return "node_announcement: zero timestamp";
	if (memcmp(node_id, node_pub, 33) != 0)
		return "node_announcement: node_id is not our key";
	if (!alias_ok(alias))
		return "node_announcement: alias is not zero-padded UTF-8";
	e = addresses_check(addrs, alen);
	if (e)
		return e;
	(void)rgb; /* any colour */
	return NULL;
}

enum cs_sign_kind cs_policy_sign(const struct cs_sign_ask *a,
				 const uint8_t node_pub[33], const char **why)
{
	static const char tag[] = CS_CHALLENGE_TAG;
	const size_t taglen = sizeof(tag) - 1;

	*why = NULL;
	if (a->schnorr || a->tag_len || a->tweak_len) {
		*why = "Schnorr signatures are never asked by coldnode";
		return CS_SIGN_REFUSED;
	}
	if (!a->double_hash) {
		*why = "single SHA-256 signatures are never asked by coldnode";
		return CS_SIGN_REFUSED;
	}
	if (a->compact) {
		/* The key check: 32 fresh bytes || tag, recoverable. */
		if (a->len == 32 + taglen &&
		    memcmp(a->msg + 32, tag, taglen) == 0)
			return CS_SIGN_KEYCHECK;
		*why = "compact signature of something other than the key "
		       "check's challenge";
		return CS_SIGN_REFUSED;
	}
	*why = cs_node_ann_check(a->msg, a->len, node_pub);
	return *why ? CS_SIGN_REFUSED : CS_SIGN_NODE_ANN;
}
