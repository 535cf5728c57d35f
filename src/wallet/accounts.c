/*~ accounts: lnd's `lncli wallet accounts list` JSON, read as it is, with
 * jansson.  Pure: text in, account structs out; fuzzed by
 * tests/fuzz/fuzz_wallet_accounts.c.
 *
 * Every account is checked against itself and the configured network:
 * the extended key must be public (an xprv is refused and never copied),
 * its version (xpub/ypub/zpub or tpub/upub/vpub) for our network, the BIP44
 * coin type of the path ours (0' mainnet, 1' test networks), and path
 * purpose, address type and SLIP-132 version must agree (49' nested,
 * 84' native segwit, 86' taproot; lnd's m/1017' key families are listed
 * as WITNESS_PUBKEY_HASH).  The key's depth and child number must be the
 * path's.
 */
#include "wallet/wallet_internal.h"

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ACCOUNTS 1024
/* lnd's keychain.BIP0043Purpose: the node's key families. */
#define PURPOSE_LND_KEYS 1017

static const struct {
	const char *name;
	enum wallet_addr_type t;
} type_names[] = {
	{ "WITNESS_PUBKEY_HASH", WALLET_ADDR_P2WKH },
	{ "NESTED_WITNESS_PUBKEY_HASH", WALLET_ADDR_NP2WKH },
	{ "HYBRID_NESTED_WITNESS_PUBKEY_HASH", WALLET_ADDR_HYBRID_NP2WKH },
	{ "TAPROOT_PUBKEY", WALLET_ADDR_P2TR },
};

const char *wallet_addr_type_name(enum wallet_addr_type t)
{
	for (size_t i = 0; i < CN_ARRAY_SIZE(type_names); i++)
		if (type_names[i].t == t)
			return type_names[i].name;
	return NULL;
}

/* "m/84'/0'/0'" (or h for ') into three hardened indices. */
static bool parse_path(uint32_t el[3], const char *s)
{
	if (s[0] != 'm')
		return false;
	s++;
	for (int i = 0; i < 3; i++) {
		char *end;
		if (*s != '/' || s[1] < '0' || s[1] > '9')
			return false;
		unsigned long v = strtoul(s + 1, &end, 10);
		if (v >= 0x80000000ul || (*end != '\'' && *end != 'h'))
			return false;
		el[i] = (uint32_t)v;
		s = end + 1;
	}
	return *s == '\0';
}

static bool purpose_fits(uint32_t purpose, enum wallet_addr_type t)
{
	switch (t) {
	case WALLET_ADDR_P2WKH:
		return purpose == 84 || purpose == PURPOSE_LND_KEYS;
	case WALLET_ADDR_NP2WKH:
	case WALLET_ADDR_HYBRID_NP2WKH:
		return purpose == 49;
	case WALLET_ADDR_P2TR:
		return purpose == 86;
	case WALLET_ADDR_UNKNOWN:
		break;
	}
	return false;
}

static bool family_fits(enum wallet_xkey_family f, enum wallet_addr_type t)
{
	switch (f) {
	case XKEY_ANY:
		return true;
	case XKEY_NESTED:
		return t == WALLET_ADDR_NP2WKH || t == WALLET_ADDR_HYBRID_NP2WKH;
	case XKEY_NATIVE:
		return t == WALLET_ADDR_P2WKH;
	}
	return false;
}

/* lncli prints bytes as hex; protojson would print base64: take both,
 * and null / "" for unknown. */
static bool parse_fp(char out[9], const json_t *v)
{
	uint8_t b[4];
	size_t n;
	const char *s;
	out[0] = '\0';
	if (!v || json_is_null(v))
		return true;
	if (!json_is_string(v))
		return false;
	s = json_string_value(v);
	if (!*s)
		return true;
	if (strlen(s) == 8 && hex_decode(b, 4, s)) {
		hex_encode(out, b, 4);
		return true;
	}
	if (sodium_base642bin(b, sizeof(b), s, strlen(s), NULL, &n, NULL,
			      sodium_base64_VARIANT_ORIGINAL) == 0 && n == 4) {
		hex_encode(out, b, 4);
		return true;
	}
	return false;
}

static bool get_count(uint32_t *out, const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);
	*out = 0;
	if (!v || json_is_null(v))
		return true;
	/* protojson prints uint32 as a number; accept a decimal string too. */
	if (json_is_integer(v) && json_integer_value(v) >= 0 &&
	    json_integer_value(v) <= 0x7fffffff) {
		*out = (uint32_t)json_integer_value(v);
		return true;
	}
	if (json_is_string(v)) {
		char *end;
		unsigned long x = strtoul(json_string_value(v), &end, 10);
		if (*json_string_value(v) && !*end && x <= 0x7fffffff) {
			*out = (uint32_t)x;
			return true;
		}
	}
	return false;
}

#define FAIL(...) do { snprintf(err, errlen, __VA_ARGS__); goto out; } while (0)

static bool parse_one(struct wallet_account *a, char *err, size_t errlen,
		      const struct wallet_net *net, const json_t *o, size_t i)
{
	const char *name, *type, *xpub, *path;
	uint32_t el[3];
	struct wallet_xpub k;
	enum wallet_xkey_family fam;
	bool mainnet, ok = false;
	char kerr[160];

	memset(a, 0, sizeof(*a));
	if (!json_is_object(o))
		FAIL("accounts[%zu] is not an object", i);
	name = json_string_value(json_object_get(o, "name"));
	type = json_string_value(json_object_get(o, "address_type"));
	xpub = json_string_value(json_object_get(o, "extended_public_key"));
	path = json_string_value(json_object_get(o, "derivation_path"));
	if (!name || !type || !xpub || !path)
		FAIL("accounts[%zu]: name, address_type, extended_public_key "
		     "and derivation_path are required strings", i);
	if (strlen(name) == 0 || strlen(name) >= sizeof(a->name))
		FAIL("accounts[%zu]: name must be 1..%zu characters", i,
		     sizeof(a->name) - 1);
	snprintf(a->name, sizeof(a->name), "%s", name);
	for (size_t t = 0; t < CN_ARRAY_SIZE(type_names); t++)
		if (strcmp(type, type_names[t].name) == 0)
			a->type = type_names[t].t;
	if (a->type == WALLET_ADDR_UNKNOWN)
		FAIL("accounts[%zu] (%s): unsupported address_type (want "
		     "WITNESS_PUBKEY_HASH, NESTED_WITNESS_PUBKEY_HASH, "
		     "HYBRID_NESTED_WITNESS_PUBKEY_HASH or TAPROOT_PUBKEY)",
		     i, a->name);
	if (strlen(xpub) >= sizeof(a->xpub) ||
	    !wallet_xpub_parse(&k, &fam, &mainnet, kerr, sizeof(kerr), xpub))
		FAIL("accounts[%zu] (%s): %s", i, a->name,
		     strlen(xpub) >= sizeof(a->xpub) ? "extended key too long"
						     : kerr);
	if (mainnet != net->mainnet)
		FAIL("accounts[%zu] (%s): extended key is for %s, coldnode "
		     "runs on %s", i, a->name,
		     mainnet ? "mainnet" : "a test network", net->name);
	if (strlen(path) >= sizeof(a->path) || !parse_path(el, path))
		FAIL("accounts[%zu] (%s): derivation_path must be "
		     "m/purpose'/coin'/account'", i, a->name);
	if (el[1] != net->coin_type)
		FAIL("accounts[%zu] (%s): derivation path coin type %u' is "
		     "not %s's (%u')", i, a->name, el[1], net->name,
		     net->coin_type);
	if (!purpose_fits(el[0], a->type))
		FAIL("accounts[%zu] (%s): derivation path purpose %u' does "
		     "not match address type %s", i, a->name, el[0], type);
	if (!family_fits(fam, a->type))
		FAIL("accounts[%zu] (%s): extended key version (%s) does not "
		     "match address type %s", i, a->name,
		     fam == XKEY_NESTED ? "ypub/upub, BIP49" : "zpub/vpub, BIP84",
		     type);
	if (k.depth != 3 || k.child_num != (0x80000000u | el[2]))
		FAIL("accounts[%zu] (%s): extended key is at depth %u, child "
		     "%u, not the account key of %s", i, a->name, k.depth,
		     k.child_num & 0x7fffffffu, path);
	if (!parse_fp(a->master_fp, json_object_get(o, "master_key_fingerprint")))
		FAIL("accounts[%zu] (%s): master_key_fingerprint must be 4 "
		     "bytes (hex or base64)", i, a->name);
	if (!get_count(&a->external_count, o, "external_key_count") ||
	    !get_count(&a->internal_count, o, "internal_key_count"))
		FAIL("accounts[%zu] (%s): key counts must be non-negative "
		     "integers", i, a->name);
	snprintf(a->xpub, sizeof(a->xpub), "%s", xpub);
	snprintf(a->path, sizeof(a->path), "%s", path);
	a->purpose = el[0];
	a->coin = el[1];
	a->index = el[2];
	ok = true;
out:
	return ok;
}

/* Zeroes every string value in @v before it is freed: a refused import may
 * have carried an xprv, and jansson frees without clearing. */
static void json_wipe(json_t *v)
{
	const char *key;
	json_t *m;
	size_t i;

	if (json_is_string(v)) {
		sodium_memzero((char *)json_string_value(v),
			       json_string_length(v));
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, m)
			json_wipe(m);
	} else if (json_is_object(v)) {
		json_object_foreach(v, key, m)
			json_wipe(m);
	}
}

bool wallet_parse_accounts(struct wallet_account **out, size_t *num,
			   char *err, size_t errlen,
			   const struct wallet_net *net, const char *json,
			   size_t len)
{
	json_error_t jerr;
	json_t *root, *arr;
	struct wallet_account *a = NULL;
	size_t n = 0;
	bool ok = false;

	*out = NULL;
	*num = 0;
	/* JSON_REJECT_DUPLICATES: two "extended_public_key" members in one
	 * account would make which one counts a guess. */
	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		/* Not jerr.text: it quotes the token it stopped at ("near
		 * '...'"), which may be a pasted private key cut short. */
		snprintf(err, errlen, "not valid JSON (line %d, column %d)",
			 jerr.line, jerr.column);
		sodium_memzero(&jerr, sizeof(jerr));
		return false;
	}
	arr = json_object_get(root, "accounts");
	if (!json_is_array(arr))
		FAIL("expected lncli wallet accounts list output: an object "
		     "with an \"accounts\" array");
	n = json_array_size(arr);
	if (n == 0)
		FAIL("the accounts array is empty");
	if (n > MAX_ACCOUNTS)
		FAIL("%zu accounts, at most %d", n, MAX_ACCOUNTS);
	a = calloc(n, sizeof(*a));
	if (!a)
		FAIL("out of memory");
	for (size_t i = 0; i < n; i++)
		if (!parse_one(&a[i], err, errlen, net,
			       json_array_get(arr, i), i))
			goto out;
	*out = a;
	*num = n;
	a = NULL;
	ok = true;
out:
	free(a);
	json_wipe(root);
	json_decref(root);
	return ok;
}

bool wallet_parse_accounts_json(struct wallet_account **out, size_t *num,
				char *err, size_t errlen, const char *network,
				const char *json, size_t len)
{
	const struct wallet_net *net = wallet_net_find(network);
	if (!net) {
		snprintf(err, errlen, "unknown network %s", network);
		*out = NULL;
		*num = 0;
		return false;
	}
	return wallet_parse_accounts(out, num, err, errlen, net, json, len);
}
