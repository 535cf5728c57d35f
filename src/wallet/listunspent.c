/*~ listunspent: a small, strict JSON reader for `bitcoin-cli listunspent`
 * output: an array of objects, of which we keep txid, vout, address,
 * amount, confirmations (and our own optional "account" and "locked").
 * Everything else is skipped whatever its shape.  Pure: text in, structs
 * out; fuzzed by tests/fuzz/fuzz_wallet_listunspent.c.
 */
#include "wallet/wallet.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 32

struct parser {
	const char *p, *end;
	char *err;
	size_t errlen;
	bool failed;
};

static bool fail(struct parser *ps, const char *fmt, ...) CN_PRINTF(2, 3);
static bool fail(struct parser *ps, const char *fmt, ...)
{
	if (!ps->failed) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(ps->err, ps->errlen, fmt, ap);
		va_end(ap);
		ps->failed = true;
	}
	return false;
}

static void ws(struct parser *ps)
{
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' ||
				   *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

static bool lit(struct parser *ps, char c)
{
	ws(ps);
	if (ps->p < ps->end && *ps->p == c) {
		ps->p++;
		return true;
	}
	return false;
}

/* A JSON string into @out (NUL-terminated, truncated to @outlen-1 bytes
 * would be an error); @out may be NULL to skip.  \u escapes other than
 * ASCII are rejected: none of the fields we keep can contain them. */
static bool string(struct parser *ps, char *out, size_t outlen)
{
	size_t n = 0;
	if (!lit(ps, '"'))
		return fail(ps, "expected a string");
	while (ps->p < ps->end && *ps->p != '"') {
		char c = *ps->p++;
		if ((unsigned char)c < 0x20)
			return fail(ps, "control character in string");
		if (c == '\\') {
			if (ps->p >= ps->end)
				break;
			char e = *ps->p++;
			switch (e) {
			case '"': case '\\': case '/': c = e; break;
			case 'b': c = '\b'; break;
			case 'f': c = '\f'; break;
			case 'n': c = '\n'; break;
			case 'r': c = '\r'; break;
			case 't': c = '\t'; break;
			case 'u': {
				unsigned v = 0;
				if (ps->end - ps->p < 4)
					return fail(ps, "bad \\u escape");
				for (int i = 0; i < 4; i++) {
					char h = *ps->p++;
					v <<= 4;
					if (h >= '0' && h <= '9') v |= (unsigned)(h - '0');
					else if (h >= 'a' && h <= 'f') v |= (unsigned)(h - 'a' + 10);
					else if (h >= 'A' && h <= 'F') v |= (unsigned)(h - 'A' + 10);
					else return fail(ps, "bad \\u escape");
				}
				/* Only skipped strings may hold non-ASCII. */
				c = v < 0x80 && v > 0 ? (char)v : '?';
				if (out && c == '?')
					return fail(ps, "non-ASCII escape");
				break;
			}
			default:
				return fail(ps, "bad escape");
			}
		}
		if (out) {
			if (n + 1 >= outlen)
				return fail(ps, "string too long");
			out[n++] = c;
		}
	}
	if (ps->p >= ps->end)
		return fail(ps, "unterminated string");
	ps->p++;
	if (out)
		out[n] = '\0';
	return true;
}

/* The raw text of a number: -?digits[.digits][e[+-]digits]. */
static bool number_text(struct parser *ps, const char **start, size_t *len)
{
	ws(ps);
	*start = ps->p;
	if (ps->p < ps->end && *ps->p == '-')
		ps->p++;
	const char *d = ps->p;
	while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
		ps->p++;
	if (ps->p == d)
		return fail(ps, "expected a number");
	if (ps->p < ps->end && *ps->p == '.') {
		ps->p++;
		d = ps->p;
		while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
			ps->p++;
		if (ps->p == d)
			return fail(ps, "bad number");
	}
	if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
		ps->p++;
		if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
			ps->p++;
		d = ps->p;
		while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
			ps->p++;
		if (ps->p == d)
			return fail(ps, "bad number");
	}
	*len = (size_t)(ps->p - *start);
	return true;
}

static bool skip_value(struct parser *ps, int depth);

static bool skip_container(struct parser *ps, char close, bool obj, int depth)
{
	if (depth > MAX_DEPTH)
		return fail(ps, "nested too deeply");
	if (lit(ps, close))
		return true;
	do {
		if (obj && (!string(ps, NULL, 0) || !lit(ps, ':')))
			return fail(ps, "expected \"key\":");
		if (!skip_value(ps, depth + 1))
			return false;
	} while (lit(ps, ','));
	if (!lit(ps, close))
		return fail(ps, "expected '%c'", close);
	return true;
}

static bool word(struct parser *ps, const char *w)
{
	size_t n = strlen(w);
	ws(ps);
	if ((size_t)(ps->end - ps->p) >= n && memcmp(ps->p, w, n) == 0) {
		ps->p += n;
		return true;
	}
	return false;
}

static bool skip_value(struct parser *ps, int depth)
{
	const char *s;
	size_t l;
	ws(ps);
	if (ps->p >= ps->end)
		return fail(ps, "unexpected end of input");
	switch (*ps->p) {
	case '"': return string(ps, NULL, 0);
	case '{': ps->p++; return skip_container(ps, '}', true, depth);
	case '[': ps->p++; return skip_container(ps, ']', false, depth);
	default:
		if (word(ps, "true") || word(ps, "false") || word(ps, "null"))
			return true;
		return number_text(ps, &s, &l);
	}
}

/* Decimal BTC ("0.00012345", "21") to satoshis, exactly. */
static bool btc_to_sat(struct parser *ps, int64_t *out)
{
	const char *s;
	size_t len;
	if (!number_text(ps, &s, &len))
		return false;
	int64_t whole = 0, frac = 0;
	size_t i = 0, fd = 0;
	if (s[0] == '-')
		return fail(ps, "negative amount");
	for (; i < len && s[i] != '.'; i++) {
		if (s[i] < '0' || s[i] > '9' || ++fd > 8)
			return fail(ps, "amount out of range");
		whole = whole * 10 + (s[i] - '0');
	}
	fd = 0;
	if (i < len && s[i] == '.') {
		for (i++; i < len; i++) {
			if (s[i] < '0' || s[i] > '9')
				return fail(ps, "amount must be plain decimal");
			if (++fd > 8)
				return fail(ps, "amount has more than 8 decimals");
			frac = frac * 10 + (s[i] - '0');
		}
	}
	for (; fd < 8; fd++)
		frac *= 10;
	*out = whole * 100000000 + frac;
	if (*out > WALLET_MAX_SAT)
		return fail(ps, "amount above 21 million BTC");
	return true;
}

static bool integer(struct parser *ps, int64_t *out, int64_t max)
{
	const char *s;
	size_t len;
	if (!number_text(ps, &s, &len))
		return false;
	int64_t v = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return fail(ps, "expected a non-negative integer");
		v = v * 10 + (s[i] - '0');
		if (v > max)
			return fail(ps, "integer out of range");
	}
	*out = v;
	return true;
}

static bool utxo(struct parser *ps, struct wallet_utxo *u)
{
	bool have_txid = false, have_vout = false, have_amount = false;
	char key[32];
	int64_t v;

	memset(u, 0, sizeof(*u));
	if (!lit(ps, '{'))
		return fail(ps, "expected an object per output");
	if (!lit(ps, '}')) {
		do {
			/* Keys are short names; a longer one is an error. */
			if (!string(ps, key, sizeof(key)))
				return false;
			if (!lit(ps, ':'))
				return fail(ps, "expected ':'");
			if (strcmp(key, "txid") == 0) {
				if (!string(ps, u->txid, sizeof(u->txid)))
					return false;
				have_txid = true;
			} else if (strcmp(key, "vout") == 0) {
				if (!integer(ps, &v, UINT32_MAX))
					return false;
				u->vout = (uint32_t)v;
				have_vout = true;
			} else if (strcmp(key, "amount") == 0) {
				if (!btc_to_sat(ps, &u->amount_sat))
					return false;
				have_amount = true;
			} else if (strcmp(key, "confirmations") == 0) {
				if (!integer(ps, &u->confirmations, INT32_MAX))
					return false;
			} else if (strcmp(key, "address") == 0) {
				if (!string(ps, u->address, sizeof(u->address)))
					return false;
			} else if (strcmp(key, "account") == 0) {
				if (!string(ps, u->account, sizeof(u->account)))
					return false;
			} else if (strcmp(key, "locked") == 0) {
				if (word(ps, "true"))
					u->locked = true;
				else if (!word(ps, "false"))
					return fail(ps, "locked: want bool");
			} else if (!skip_value(ps, 1)) {
				return false;
			}
		} while (lit(ps, ','));
		if (!lit(ps, '}'))
			return fail(ps, "expected '}'");
	}
	if (!have_txid || !have_vout || !have_amount)
		return fail(ps, "output without txid, vout or amount");
	if (strlen(u->txid) != 64 || strspn(u->txid, "0123456789abcdef") != 64)
		return fail(ps, "txid must be 64 lowercase hex digits");
	return true;
}

bool wallet_parse_listunspent(struct wallet_utxo **out, size_t *num,
			      char *err, size_t errlen,
			      const char *json, size_t len)
{
	struct parser ps = { json, json + len, err, errlen, false };
	struct wallet_utxo *v = NULL;
	size_t n = 0, cap = 0;

	*out = NULL;
	*num = 0;
	if (!lit(&ps, '[')) {
		fail(&ps, "expected a JSON array (bitcoin-cli listunspent)");
		goto bad;
	}
	if (!lit(&ps, ']')) {
		do {
			if (n == cap) {
				cap = cap ? cap * 2 : 16;
				struct wallet_utxo *nv = realloc(v, cap *
								 sizeof(*v));
				if (!nv) {
					fail(&ps, "out of memory");
					goto bad;
				}
				v = nv;
			}
			if (!utxo(&ps, &v[n]))
				goto bad;
			n++;
		} while (lit(&ps, ','));
		if (!lit(&ps, ']')) {
			fail(&ps, "expected ']'");
			goto bad;
		}
	}
	ws(&ps);
	if (ps.p != ps.end) {
		fail(&ps, "trailing data after the array");
		goto bad;
	}
	*out = v;
	*num = n;
	return true;
bad:
	free(v);
	return false;
}
