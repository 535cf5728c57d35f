/*~ script: output scripts for the address types lnd's accounts use, and
 * their addresses.
 *   BIP84 p2wkh:  OP_0 <hash160(K)>
 *   BIP49 np2wkh: OP_HASH160 <hash160(OP_0 <hash160(K)>)> OP_EQUAL
 *   BIP86 p2tr:   OP_1 <Q>, "Q = P + int(hashTapTweak(bytes(P)))G" with
 *                 no script path (libsecp256k1 extrakeys). */
#include "wallet/wallet_internal.h"

#include <secp256k1.h>
#include <secp256k1_extrakeys.h>
#include <stdio.h>
#include <string.h>

static const struct wallet_net nets[] = {
	{ "mainnet", "bc", 0x05, 0, true },
	{ "testnet", "tb", 0xc4, 1, false },
	{ "signet", "tb", 0xc4, 1, false },
	{ "regtest", "bcrt", 0xc4, 1, false },
};

const struct wallet_net *wallet_net_find(const char *name)
{
	for (size_t i = 0; i < CN_ARRAY_SIZE(nets); i++)
		if (strcmp(nets[i].name, name) == 0)
			return &nets[i];
	return NULL;
}

bool wallet_bip86_output_key(uint8_t out32[32], const uint8_t pubkey33[33])
{
	const secp256k1_context *ctx = (const secp256k1_context *)cn_secp();
	secp256k1_pubkey pk, tweaked;
	secp256k1_xonly_pubkey xp;
	uint8_t px[32], t[32];
	static const uint8_t tag[] = "TapTweak";

	if (!secp256k1_ec_pubkey_parse(ctx, &pk, pubkey33, 33) ||
	    !secp256k1_xonly_pubkey_from_pubkey(ctx, &xp, NULL, &pk) ||
	    !secp256k1_xonly_pubkey_serialize(ctx, px, &xp) ||
	    !secp256k1_tagged_sha256(ctx, t, tag, sizeof(tag) - 1, px, 32) ||
	    !secp256k1_xonly_pubkey_tweak_add(ctx, &tweaked, &xp, t) ||
	    !secp256k1_xonly_pubkey_from_pubkey(ctx, &xp, NULL, &tweaked) ||
	    !secp256k1_xonly_pubkey_serialize(ctx, out32, &xp))
		return false;
	return true;
}

size_t wallet_script_for_key(uint8_t script[WALLET_MAX_SCRIPT],
			     enum wallet_addr_type type,
			     const uint8_t pubkey33[33])
{
	uint8_t wkh[22];
	switch (type) {
	case WALLET_ADDR_P2WKH:
		script[0] = 0x00;
		script[1] = 20;
		wallet_hash160(script + 2, pubkey33, 33);
		return 22;
	case WALLET_ADDR_NP2WKH:
	case WALLET_ADDR_HYBRID_NP2WKH:
		wkh[0] = 0x00;
		wkh[1] = 20;
		wallet_hash160(wkh + 2, pubkey33, 33);
		script[0] = 0xa9;
		script[1] = 20;
		wallet_hash160(script + 2, wkh, sizeof(wkh));
		script[22] = 0x87;
		return 23;
	case WALLET_ADDR_P2TR:
		script[0] = 0x51;
		script[1] = 32;
		return wallet_bip86_output_key(script + 2, pubkey33) ? 34 : 0;
	case WALLET_ADDR_UNKNOWN:
		break;
	}
	return 0;
}

bool wallet_script_address(char *out, size_t outlen,
			   const struct wallet_net *net, const uint8_t *script,
			   size_t len)
{
	if (len == 23 && script[0] == 0xa9 && script[1] == 20 &&
	    script[22] == 0x87) {
		uint8_t p[21];
		p[0] = net->p2sh_version;
		memcpy(p + 1, script + 2, 20);
		return wallet_base58check_encode(out, outlen, p, sizeof(p));
	}
	/* OP_0 / OP_1..OP_16, one push of 2..40 bytes. */
	if (len >= 4 && len <= 42 && script[1] == len - 2 &&
	    (script[0] == 0 || (script[0] >= 0x51 && script[0] <= 0x60)))
		return wallet_segwit_encode(out, outlen, net->hrp,
					    script[0] ? script[0] - 0x50 : 0,
					    script + 2, len - 2);
	return false;
}

bool wallet_address_script(uint8_t *script, size_t *len, char *err,
			   size_t errlen, const struct wallet_net *net,
			   const char *addr)
{
	uint8_t prog[40], raw[32];
	size_t pl = sizeof(prog), rl = sizeof(raw);
	int v;

	if (*len < 42) {
		snprintf(err, errlen, "script buffer too small");
		return false;
	}
	/* A bech32 address starts with its network's HRP and '1'. */
	size_t hl = strlen(net->hrp);
	if (strncasecmp(addr, net->hrp, hl) == 0 && addr[hl] == '1') {
		if (!wallet_segwit_decode(&v, prog, &pl, err, errlen, net->hrp,
					  addr))
			return false;
		script[0] = v ? (uint8_t)(0x50 + v) : 0;
		script[1] = (uint8_t)pl;
		memcpy(script + 2, prog, pl);
		*len = pl + 2;
		return true;
	}
	if (wallet_base58check_decode(raw, &rl, addr)) {
		if (rl != 21 || raw[0] != net->p2sh_version) {
			snprintf(err, errlen, "not a %s P2SH address",
				 net->name);
			return false;
		}
		script[0] = 0xa9;
		script[1] = 20;
		memcpy(script + 2, raw + 1, 20);
		script[22] = 0x87;
		*len = 23;
		return true;
	}
	snprintf(err, errlen, "not a %s address (bech32 with prefix %s, or "
		 "base58 P2SH)", net->name, net->hrp);
	return false;
}
