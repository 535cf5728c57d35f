/* JSON-RPC reply bodies to structs, through jansson (a maintained parser:
 * the node's answers are untrusted bytes and we do not want our own JSON
 * parser).  Pure: no I/O, no globals; fuzzed by tests/fuzz/fuzz_chain_json.c.
 */
#include "chain/rpcjson.h"
#include "common/common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool fill_one(const json_t *obj, struct chain_reply *out)
{
	const json_t *err = json_object_get(obj, "error");
	const json_t *res = json_object_get(obj, "result");

	memset(out, 0, sizeof(*out));
	if (err && !json_is_null(err)) {
		const json_t *c = json_object_get(err, "code");
		const json_t *m = json_object_get(err, "message");

		out->code = json_is_integer(c) ? json_integer_value(c) : -1;
		if (out->code == 0)
			out->code = -1;
		snprintf(out->message, sizeof(out->message), "%s",
			 json_is_string(m) ? json_string_value(m) : "error");
		return true;
	}
	if (!res)
		return false;
	out->result = (json_t *)res;
	return true;
}

json_t *chain_json_replies(const char *body, size_t len, bool single,
			   struct chain_reply *out, size_t n,
			   char *err, size_t errlen)
{
	json_error_t je;
	json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);

	if (!root) {
		snprintf(err, errlen, "malformed JSON: %s (line %d)", je.text,
			 je.line);
		return NULL;
	}
	if (single) {
		if (n != 1 || !json_is_object(root) || !fill_one(root, &out[0])) {
			snprintf(err, errlen, "reply is not a JSON-RPC response");
			goto bad;
		}
		return root;
	}
	if (!json_is_array(root) || json_array_size(root) != n) {
		snprintf(err, errlen, "batch reply is not an array of %zu", n);
		goto bad;
	}
	/* Any batch size: one flag per call, on the heap (a fixed array
	 * here and in the caller once crashed on a 100-call mempool batch). */
	bool *seen = calloc(n ? n : 1, sizeof(*seen));
	if (!seen)
		abort();
	for (size_t i = 0; i < n; i++) {
		const json_t *o = json_array_get(root, i);
		const json_t *id = json_object_get(o, "id");
		if (!json_is_object(o) || !json_is_integer(id) ||
		    json_integer_value(id) < 0 ||
		    (size_t)json_integer_value(id) >= n ||
		    seen[json_integer_value(id)]) {
			snprintf(err, errlen, "batch reply %zu: bad or repeated id",
				 i);
			free(seen);
			goto bad;
		}
		size_t k = (size_t)json_integer_value(id);
		seen[k] = true;
		if (!fill_one(o, &out[k])) {
			snprintf(err, errlen, "batch reply %zu: no result", i);
			free(seen);
			goto bad;
		}
	}
	free(seen);
	return root;
bad:
	json_decref(root);
	return NULL;
}

enum chain_batch_result chain_json_batch(const char *body, size_t len,
					 size_t n, struct chain_batch *out,
					 char *err, size_t errlen)
{
	char err2[32];

	memset(out, 0, sizeof(*out));
	if (n == 0 || n > CHAIN_BATCH_MAX)
		abort(); /* we never send such a batch: programmer error */
	out->rep = calloc(n, sizeof(*out->rep));
	if (!out->rep)
		abort();
	out->root = chain_json_replies(body, len, false, out->rep, n, err,
				       errlen);
	if (out->root) {
		out->n = n;
		return CHAIN_BATCH_OK;
	}
	/* A whole-request failure is one error object (bitcoind: HTTP 500,
	 * e.g. -28 while warming up): its words are the cause. */
	out->root = chain_json_replies(body, len, true, out->rep, 1, err2,
				       sizeof(err2));
	if (out->root && out->rep[0].code) {
		out->n = 1;
		snprintf(err, errlen, "node error %lld: %s", out->rep[0].code,
			 out->rep[0].message);
		return CHAIN_BATCH_NODE_ERROR;
	}
	chain_batch_clear(out);
	return CHAIN_BATCH_BAD;
}

void chain_batch_clear(struct chain_batch *b)
{
	json_decref(b->root);
	free(b->rep);
	memset(b, 0, sizeof(*b));
}

bool chain_json_hash(const json_t *v, uint8_t out[32])
{
	return json_is_string(v) && json_string_length(v) == 64 &&
	       hex_decode_reversed(out, 32, json_string_value(v));
}

bool chain_json_hex(const json_t *v, uint8_t **out, size_t *len, size_t max)
{
	size_t n;

	*out = NULL;
	if (!json_is_string(v))
		return false;
	n = json_string_length(v);
	if (n % 2 || n / 2 > max || n == 0)
		return false;
	*out = malloc(n / 2);
	if (!*out)
		return false;
	if (!hex_decode(*out, n / 2, json_string_value(v))) {
		free(*out);
		*out = NULL;
		return false;
	}
	*len = n / 2;
	return true;
}

static bool get_u32(const json_t *o, const char *k, uint32_t *out)
{
	const json_t *v = json_object_get(o, k);

	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > UINT32_MAX)
		return false;
	*out = (uint32_t)json_integer_value(v);
	return true;
}

bool chain_json_bci(const json_t *v, struct chain_bci *out,
		    char *err, size_t errlen)
{
	const json_t *chain = json_object_get(v, "chain");
	const json_t *ibd = json_object_get(v, "initialblockdownload");

	memset(out, 0, sizeof(*out));
	if (!json_is_object(v) || !json_is_string(chain) ||
	    !get_u32(v, "blocks", &out->blocks) ||
	    !chain_json_hash(json_object_get(v, "bestblockhash"), out->best)) {
		snprintf(err, errlen, "getblockchaininfo: missing or bad "
			 "chain, blocks or bestblockhash");
		return false;
	}
	snprintf(out->chain, sizeof(out->chain), "%s",
		 json_string_value(chain));
	/* headers: absent (or bad) counts as blocks: not catching up. */
	if (!get_u32(v, "headers", &out->headers) || out->headers < out->blocks)
		out->headers = out->blocks;
	/* bcoin 1.0.2 has no initialblockdownload: absent counts as false. */
	out->ibd = json_is_true(ibd);
	return true;
}

bool chain_json_txout(const json_t *v, struct chain_txout_info *out,
		      char *err, size_t errlen)
{
	const json_t *val, *spk, *hex;

	memset(out, 0, sizeof(*out));
	if (json_is_null(v))
		return true; /* bitcoind: null when spent or unknown */
	val = json_object_get(v, "value");
	spk = json_object_get(v, "scriptPubKey");
	hex = json_object_get(spk, "hex");
	if (!json_is_object(v) || !json_is_number(val) ||
	    !get_u32(v, "confirmations", &out->confirmations) ||
	    !json_is_string(hex)) {
		snprintf(err, errlen, "gettxout: missing value, confirmations "
			 "or scriptPubKey.hex");
		return false;
	}
	double btc = json_number_value(val);
	if (!(btc >= 0 && btc <= 21e6)) {
		snprintf(err, errlen, "gettxout: value out of range");
		return false;
	}
	/* Round, not truncate: 0.29 BTC is 28999999.99... in binary. */
	out->value_sat = (uint64_t)(btc * 1e8 + 0.5);
	size_t n = json_string_length(hex);
	if (n % 2 == 0 && n / 2 <= sizeof(out->script) &&
	    hex_decode(out->script, n / 2, json_string_value(hex)))
		out->script_len = n / 2;
	else if (n % 2 || n / 2 <= sizeof(out->script)) {
		snprintf(err, errlen, "gettxout: bad scriptPubKey.hex");
		return false;
	}
	out->found = true;
	return true;
}
