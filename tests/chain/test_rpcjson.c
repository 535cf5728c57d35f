/* chain/rpcjson.c: JSON-RPC replies to structs, good and bad bodies. */
#include "chain/rpcjson.h"
#include "check.h"

static json_t *parse(const char *s, bool single, struct chain_reply *r,
		     size_t n, char *err)
{
	err[0] = '\0';
	return chain_json_replies(s, strlen(s), single, r, n, err, 160);
}

/* The answer to a batch of n calls as a node writes it: ids in a
 * shuffled order, every 7th call an error (-5, as getrawtransaction for a
 * txid that left the mempool), the others a txid-sized hex result;
 * @answers replies in all (n: a good answer). */
static char *batch_body(size_t n, size_t answers, unsigned seed)
{
	size_t *ids = calloc(answers ? answers : 1, sizeof(*ids));
	size_t cap = 120 * (answers + 1), off = 0;
	char *s = malloc(cap);

	if (!ids || !s)
		abort();
	for (size_t i = 0; i < answers; i++)
		ids[i] = i % (n ? n : 1);
	for (size_t i = answers; i > 1; i--) {
		seed = seed * 1103515245u + 12345u;
		size_t j = (seed >> 8) % i, t = ids[i - 1];
		ids[i - 1] = ids[j];
		ids[j] = t;
	}
	off += (size_t)snprintf(s + off, cap - off, "[");
	for (size_t i = 0; i < answers; i++) {
		if (ids[i] % 7 == 3)
			off += (size_t)snprintf(s + off, cap - off,
				"%s{\"result\":null,\"error\":{\"code\":-5,"
				"\"message\":\"No such mempool tx\"},\"id\":%zu}",
				i ? "," : "", ids[i]);
		else
			off += (size_t)snprintf(s + off, cap - off,
				"%s{\"result\":\"%064zx\",\"error\":null,"
				"\"id\":%zu}", i ? "," : "", ids[i], ids[i]);
	}
	snprintf(s + off, cap - off, "]");
	free(ids);
	return s;
}

/* Every batch size the module sends (1 .. CHAIN_BATCH_MAX), answered in
 * any order: each call gets its own reply; a batch answered with one
 * reply too few or too many is refused, never read past its end. */
static void test_batch_sizes(void)
{
	char err[160];

	for (size_t n = 1; n <= CHAIN_BATCH_MAX; n++) {
		struct chain_batch b;
		char *body = batch_body(n, n, (unsigned)n);
		struct chain_reply *r = calloc(n, sizeof(*r));
		size_t good = 0;

		CHECK(r);
		/* The reply layer itself, for a batch of n. */
		json_t *root = chain_json_replies(body, strlen(body), false, r,
						  n, err, sizeof(err));
		CHECK(root);
		json_decref(root);
		free(r);
		CHECK(chain_json_batch(body, strlen(body), n, &b, err,
				       sizeof(err)) == CHAIN_BATCH_OK);
		CHECK(b.n == n && b.rep);
		for (size_t i = 0; b.rep && i < b.n; i++) {
			uint8_t h[32];
			if (i % 7 == 3) {
				CHECK(b.rep[i].code == -5 && !b.rep[i].result);
				continue;
			}
			CHECK(b.rep[i].code == 0 &&
			      chain_json_hash(b.rep[i].result, h) &&
			      h[0] == (uint8_t)i && h[1] == (uint8_t)(i >> 8));
			good++;
		}
		CHECK(good == n - (n + 3) / 7);
		chain_batch_clear(&b);
		free(body);
		for (size_t k = 0; k < 2; k++) {
			size_t answers = k ? n + 1 : n - 1;
			body = batch_body(n, answers, (unsigned)(n * 31 + k));
			err[0] = '\0';
			CHECK(chain_json_batch(body, strlen(body), n, &b, err,
					       sizeof(err)) == CHAIN_BATCH_BAD);
			CHECK(err[0] && !b.root && !b.rep);
			chain_batch_clear(&b);
			free(body);
		}
	}
	/* A whole-request error (bitcoind: HTTP 500) for a batch of any
	 * size: its words come through. */
	const char *warm = "{\"result\":null,\"error\":{\"code\":-28,"
			   "\"message\":\"Loading block index...\"},\"id\":null}";
	for (size_t n = 1; n <= CHAIN_BATCH_MAX; n++) {
		struct chain_batch b;
		CHECK(chain_json_batch(warm, strlen(warm), n, &b, err,
				       sizeof(err)) == CHAIN_BATCH_NODE_ERROR);
		CHECK(b.n == 1 && b.rep[0].code == -28 &&
		      strstr(err, "Loading block index"));
		chain_batch_clear(&b);
	}
}

int main(void)
{
	struct chain_reply r[2];
	char err[160];
	json_t *root;
	uint8_t h[32];
	struct chain_bci bci;
	struct chain_txout_info txo;

	/* A batch answered out of order is matched by id. */
	root = parse("[{\"result\":\"0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206\",\"error\":null,\"id\":1},"
		     "{\"result\":{\"chain\":\"regtest\",\"blocks\":7,\"bestblockhash\":\"0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206\"},\"error\":null,\"id\":0}]",
		     false, r, 2, err);
	CHECK(root);
	CHECK(chain_json_bci(r[0].result, &bci, err, sizeof(err)));
	CHECK(bci.blocks == 7 && !strcmp(bci.chain, "regtest") && !bci.ibd);
	CHECK(chain_json_hash(r[1].result, h));
	/* display order reversed: the last display byte is first */
	CHECK(h[0] == 0x06 && h[31] == 0x0f);
	json_decref(root);

	/* Errors: code and message kept. */
	root = parse("{\"result\":null,\"error\":{\"code\":-28,\"message\":\"Loading block index...\"},\"id\":0}",
		     true, r, 1, err);
	CHECK(root && r[0].code == -28 && !r[0].result &&
	      strstr(r[0].message, "Loading"));
	json_decref(root);

	/* Refusals, each with a reason. */
	const char *bad[] = {
		"", "{", "not json", "[{\"result\":1,\"id\":0}]",
		"[{\"result\":1,\"id\":0},{\"result\":2,\"id\":0}]",
		"[{\"result\":1,\"id\":0},{\"result\":2,\"id\":7}]",
		"[{\"result\":1,\"id\":0},{\"id\":1}]",
		"{\"result\":1,\"result\":2,\"id\":0}",
		"[1,2]", "{\"result\":{\"a\":1}", "[{\"result\":1,\"id\":\"0\"},{\"result\":2,\"id\":1}]",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		root = parse(bad[i], false, r, 2, err);
		CHECK(!root && err[0]);
		if (root)
			fprintf(stderr, "accepted: %s\n", bad[i]);
		json_decref(root);
	}

	/* gettxout: null (spent/unknown), an output, bad shapes. */
	json_t *v = json_null();
	CHECK(chain_json_txout(v, &txo, err, sizeof(err)) && !txo.found);
	json_decref(v);
	v = json_loads("{\"confirmations\":6,\"value\":0.29,\"scriptPubKey\":{\"hex\":\"0020aa\"}}", 0, NULL);
	CHECK(chain_json_txout(v, &txo, err, sizeof(err)) && txo.found &&
	      txo.value_sat == 29000000 && txo.confirmations == 6 &&
	      txo.script_len == 3);
	json_decref(v);
	v = json_loads("{\"confirmations\":-1,\"value\":0.29,\"scriptPubKey\":{\"hex\":\"00\"}}", 0, NULL);
	CHECK(!chain_json_txout(v, &txo, err, sizeof(err)));
	json_decref(v);
	v = json_loads("{\"confirmations\":1,\"value\":1e300,\"scriptPubKey\":{\"hex\":\"00\"}}", 0, NULL);
	CHECK(!chain_json_txout(v, &txo, err, sizeof(err)));
	json_decref(v);

	/* Hashes and hex. */
	v = json_string("zz9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206");
	CHECK(!chain_json_hash(v, h));
	json_decref(v);
	uint8_t *raw;
	size_t len;
	v = json_string("00ff");
	CHECK(chain_json_hex(v, &raw, &len, 2) && len == 2 && raw[1] == 0xff);
	free(raw);
	CHECK(!chain_json_hex(v, &raw, &len, 1)); /* over the cap */
	json_decref(v);
	v = json_string("0");
	CHECK(!chain_json_hex(v, &raw, &len, 10));
	json_decref(v);
	test_batch_sizes();
	return check_exit();
}
