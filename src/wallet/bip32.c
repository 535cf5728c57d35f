/*~ bip32: extended public keys (BIP32 serialisation, SLIP-132 versions)
 * and public child derivation, CKDpub:
 *   BIP32: "I = HMAC-SHA512(Key = cpar, Data = serP(Kpar) || ser32(i))
 *           ... Ki is point(parse256(IL)) + Kpar".
 * point(IL) + Kpar is libsecp256k1's ec_pubkey_tweak_add; the HMAC is
 * libsodium's.  Nothing here ever holds a private key: an xprv is
 * recognised by its version and refused, its decoded bytes wiped. */
#include "wallet/wallet_internal.h"

#include <secp256k1.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

struct version {
	uint32_t v;
	bool priv, mainnet, multisig;
	enum wallet_xkey_family family;
	const char *name;
};

/* BIP32 and SLIP-0132 "Registered HD version bytes". */
static const struct version versions[] = {
	{ 0x0488B21E, false, true, false, XKEY_ANY, "xpub" },
	{ 0x049D7CB2, false, true, false, XKEY_NESTED, "ypub" },
	{ 0x04B24746, false, true, false, XKEY_NATIVE, "zpub" },
	{ 0x043587CF, false, false, false, XKEY_ANY, "tpub" },
	{ 0x044A5262, false, false, false, XKEY_NESTED, "upub" },
	{ 0x045F1CF6, false, false, false, XKEY_NATIVE, "vpub" },
	{ 0x0488ADE4, true, true, false, XKEY_ANY, "xprv" },
	{ 0x049D7878, true, true, false, XKEY_NESTED, "yprv" },
	{ 0x04B2430C, true, true, false, XKEY_NATIVE, "zprv" },
	{ 0x04358394, true, false, false, XKEY_ANY, "tprv" },
	{ 0x044A4E28, true, false, false, XKEY_NESTED, "uprv" },
	{ 0x045F18BC, true, false, false, XKEY_NATIVE, "vprv" },
	{ 0x0295B43F, false, true, true, XKEY_NESTED, "Ypub" },
	{ 0x02AA7ED3, false, true, true, XKEY_NATIVE, "Zpub" },
	{ 0x024289EF, false, false, true, XKEY_NESTED, "Upub" },
	{ 0x02575483, false, false, true, XKEY_NATIVE, "Vpub" },
	{ 0x0295B005, true, true, true, XKEY_NESTED, "Yprv" },
	{ 0x02AA7A99, true, true, true, XKEY_NATIVE, "Zprv" },
	{ 0x024285B5, true, false, true, XKEY_NESTED, "Uprv" },
	{ 0x02575048, true, false, true, XKEY_NATIVE, "Vprv" },
};

#define FAIL(...) do { snprintf(err, errlen, __VA_ARGS__); goto out; } while (0)

bool wallet_xpub_parse(struct wallet_xpub *out,
		       enum wallet_xkey_family *family, bool *mainnet,
		       char *err, size_t errlen, const char *str)
{
	uint8_t raw[82];
	size_t len = sizeof(raw);
	const struct version *ver = NULL;
	secp256k1_pubkey pk;
	bool ok = false;

	if (!wallet_base58check_decode(raw, &len, str))
		FAIL("extended key is not valid base58check");
	/* BIP32: 4 version + 1 depth + 4 fingerprint + 4 child + 32 chain
	 * code + 33 key = 78 bytes. */
	if (len != 78)
		FAIL("extended key has %zu bytes, want 78", len);
	for (size_t i = 0; i < CN_ARRAY_SIZE(versions); i++)
		if (versions[i].v == be32_get(raw))
			ver = &versions[i];
	/* A private key in any version, or a public version with a private
	 * key's 0x00 prefix: refuse without keeping any of it. */
	if ((ver && ver->priv) || raw[45] == 0x00)
		FAIL("extended key is private (%s): export the account's "
		     "public key (lncli wallet accounts list); nothing was "
		     "stored", ver ? ver->name : "private key data");
	if (!ver)
		FAIL("unknown extended key version %08x", be32_get(raw));
	if (ver->multisig)
		FAIL("%s is a multisig key version; lnd accounts are "
		     "single-key", ver->name);
	/* BIP32 test vector 5: "zero depth with non-zero parent
	 * fingerprint" / "zero depth with non-zero index" are invalid. */
	if (raw[4] == 0 && (be32_get(raw + 5) != 0 || be32_get(raw + 9) != 0))
		FAIL("depth 0 with a parent fingerprint or child number");
	if (!secp256k1_ec_pubkey_parse((const secp256k1_context *)cn_secp(),
				       &pk, raw + 45, 33) ||
	    (raw[45] != 0x02 && raw[45] != 0x03))
		FAIL("extended key's public key is not a valid point");
	out->depth = raw[4];
	memcpy(out->parent_fp, raw + 5, 4);
	out->child_num = be32_get(raw + 9);
	memcpy(out->chain_code, raw + 13, 32);
	memcpy(out->pubkey, raw + 45, 33);
	*family = ver->family;
	*mainnet = ver->mainnet;
	ok = true;
out:
	sodium_memzero(raw, sizeof(raw));
	return ok;
}

bool wallet_xpub_format(char *out, size_t outlen, const struct wallet_xpub *k,
			enum wallet_xkey_family family, bool mainnet)
{
	uint8_t raw[78];
	const struct version *ver = NULL;
	for (size_t i = 0; i < CN_ARRAY_SIZE(versions); i++)
		if (!versions[i].priv && !versions[i].multisig &&
		    versions[i].family == family &&
		    versions[i].mainnet == mainnet)
			ver = &versions[i];
	if (!ver)
		return false;
	be32_put(raw, ver->v);
	raw[4] = k->depth;
	memcpy(raw + 5, k->parent_fp, 4);
	be32_put(raw + 9, k->child_num);
	memcpy(raw + 13, k->chain_code, 32);
	memcpy(raw + 45, k->pubkey, 33);
	return wallet_base58check_encode(out, outlen, raw, sizeof(raw));
}

bool wallet_xpub_child(struct wallet_xpub *child,
		       const struct wallet_xpub *parent, uint32_t i)
{
	const secp256k1_context *ctx = (const secp256k1_context *)cn_secp();
	crypto_auth_hmacsha512_state st;
	uint8_t data[37], I[64], id[20];
	secp256k1_pubkey pk;
	size_t len = 33;
	bool ok = false;

	/* BIP32: "If so (hardened child): return failure". */
	if (i >= 0x80000000u || parent->depth == 255)
		return false;
	memcpy(data, parent->pubkey, 33);
	be32_put(data + 33, i);
	crypto_auth_hmacsha512_init(&st, parent->chain_code, 32);
	crypto_auth_hmacsha512_update(&st, data, sizeof(data));
	crypto_auth_hmacsha512_final(&st, I);
	/* tweak_add fails when "parse256(IL) >= n or Ki is the point at
	 * infinity": BIP32 says to proceed with the next i; we report it
	 * (probability below 2^-127) and the caller skips that index. */
	if (!secp256k1_ec_pubkey_parse(ctx, &pk, parent->pubkey, 33) ||
	    !secp256k1_ec_pubkey_tweak_add(ctx, &pk, I))
		goto out;
	secp256k1_ec_pubkey_serialize(ctx, child->pubkey, &len, &pk,
				      SECP256K1_EC_COMPRESSED);
	memcpy(child->chain_code, I + 32, 32);
	wallet_hash160(id, parent->pubkey, 33);
	memcpy(child->parent_fp, id, 4);
	child->depth = parent->depth + 1;
	child->child_num = i;
	ok = true;
out:
	sodium_memzero(I, sizeof(I));
	return ok;
}
