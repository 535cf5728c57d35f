/*~ listunspent: `bitcoin-cli listunspent` output read with jansson (a
 * maintained parser rather than our own): an array of objects, of which we
 * keep txid, vout, address, amount, confirmations (and our own optional
 * "account" and "locked").  Everything else is skipped whatever its shape.
 * Pure: text in, structs out; fuzzed by tests/fuzz/fuzz_wallet_listunspent.c.
 *
 * Amounts: jansson reads numbers as doubles.  A JSON number with at most 17
 * significant digits round-trips through a double exactly, so the double's
 * shortest decimal form is the number that was written: from it we take
 * the satoshis and refuse more than 8 decimals, exactly as if we had read
 * the text (bitcoind prints fixed 8-decimal amounts).
 */
#include "wallet/wallet.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool fail(char *err, size_t errlen, const char *fmt, ...)
	CN_PRINTF(3, 4);
static bool fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return false;
}

/* Decimal BTC to satoshis, exactly (see the top). */
static bool btc_to_sat(int64_t *out, char *err, size_t errlen,
		       const json_t *v)
{
	if (json_is_integer(v)) {
		json_int_t i = json_integer_value(v);
		if (i < 0)
			return fail(err, errlen, "negative amount");
		if (i > WALLET_MAX_SAT / 100000000)
			return fail(err, errlen, "amount above 21 million BTC");
		*out = (int64_t)i * 100000000;
		return true;
	}
	if (!json_is_real(v))
		return fail(err, errlen, "amount must be a number");
	double d = json_real_value(v);
	if (d < 0)
		return fail(err, errlen, "negative amount");
	if (!isfinite(d) || d > 21e6 + 1)
		return fail(err, errlen, "amount above 21 million BTC");
	/* Shortest "%.*e" form that reads back as d: its digits and
	 * exponent are the number's. */
	char s[40];
	int p;
	for (p = 1; p <= 17; p++) {
		snprintf(s, sizeof(s), "%.*e", p - 1, d);
		if (strtod(s, NULL) == d)
			break;
	}
	char *e = strchr(s, 'e');
	if (!e)
		return fail(err, errlen, "amount out of range");
	long exp10 = strtol(e + 1, NULL, 10);
	int64_t digits = 0;
	int nd = 0;
	for (const char *c = s; c < e; c++)
		if (*c >= '0' && *c <= '9') {
			digits = digits * 10 + (*c - '0');
			nd++;
		}
	/* value = digits * 10^(exp10 - (nd-1)); decimals = (nd-1) - exp10 */
	long decimals = (nd - 1) - exp10;
	if (decimals > 8)
		return fail(err, errlen, "amount has more than 8 decimals");
	for (long k = decimals; k < 8; k++) {
		if (digits > WALLET_MAX_SAT)
			return fail(err, errlen, "amount above 21 million BTC");
		digits *= 10;
	}
	if (digits > WALLET_MAX_SAT)
		return fail(err, errlen, "amount above 21 million BTC");
	*out = digits;
	return true;
}

static bool integer(int64_t *out, char *err, size_t errlen, const json_t *v,
		    int64_t max, const char *what)
{
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return fail(err, errlen, "%s: expected a non-negative integer",
			    what);
	if (json_integer_value(v) > max)
		return fail(err, errlen, "%s: integer out of range", what);
	*out = json_integer_value(v);
	return true;
}

static bool str(char *out, size_t outlen, char *err, size_t errlen,
		const json_t *v, const char *what)
{
	if (!json_is_string(v))
		return fail(err, errlen, "%s: expected a string", what);
	if (json_string_length(v) >= outlen ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return fail(err, errlen, "%s: string too long", what);
	memcpy(out, json_string_value(v), json_string_length(v) + 1);
	return true;
}

static bool utxo(struct wallet_utxo *u, char *err, size_t errlen,
		 const json_t *o, size_t i)
{
	const json_t *v;
	int64_t x;

	memset(u, 0, sizeof(*u));
	if (!json_is_object(o))
		return fail(err, errlen, "entry %zu: expected an object per "
			    "output", i);
	if (!json_object_get(o, "txid") || !json_object_get(o, "vout") ||
	    !json_object_get(o, "amount"))
		return fail(err, errlen, "entry %zu: output without txid, vout "
			    "or amount", i);
	if (!str(u->txid, sizeof(u->txid), err, errlen,
		 json_object_get(o, "txid"), "txid") ||
	    !integer(&x, err, errlen, json_object_get(o, "vout"), UINT32_MAX,
		     "vout") ||
	    !btc_to_sat(&u->amount_sat, err, errlen,
			json_object_get(o, "amount")))
		return false;
	u->vout = (uint32_t)x;
	if ((v = json_object_get(o, "confirmations")) &&
	    !integer(&u->confirmations, err, errlen, v, INT32_MAX,
		     "confirmations"))
		return false;
	if ((v = json_object_get(o, "address")) &&
	    !str(u->address, sizeof(u->address), err, errlen, v, "address"))
		return false;
	if ((v = json_object_get(o, "account")) &&
	    !str(u->account, sizeof(u->account), err, errlen, v, "account"))
		return false;
	if ((v = json_object_get(o, "locked"))) {
		if (!json_is_boolean(v))
			return fail(err, errlen, "locked: want bool");
		u->locked = json_is_true(v);
	}
	if (strlen(u->txid) != 64 || strspn(u->txid, "0123456789abcdef") != 64)
		return fail(err, errlen, "entry %zu: txid must be 64 lowercase "
			    "hex digits", i);
	return true;
}

bool wallet_parse_listunspent(struct wallet_utxo **out, size_t *num,
			      char *err, size_t errlen,
			      const char *json, size_t len)
{
	json_error_t jerr;
	json_t *root;
	struct wallet_utxo *v = NULL;
	size_t n;

	*out = NULL;
	*num = 0;
	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return fail(err, errlen, "not valid JSON: %s (line %d)",
			    jerr.text, jerr.line);
	if (!json_is_array(root)) {
		fail(err, errlen, "expected a JSON array (bitcoin-cli "
		     "listunspent)");
		goto bad;
	}
	n = json_array_size(root);
	v = calloc(n ? n : 1, sizeof(*v));
	if (!v) {
		fail(err, errlen, "out of memory");
		goto bad;
	}
	for (size_t i = 0; i < n; i++)
		if (!utxo(&v[i], err, errlen, json_array_get(root, i), i))
			goto bad;
	json_decref(root);
	*out = v;
	*num = n;
	return true;
bad:
	free(v);
	json_decref(root);
	return false;
}
