/* chain/rpcjson.c: JSON-RPC replies to structs, good and bad bodies. */
#include "chain/chain_internal.h"
#include "check.h"

static json_t *parse(const char *s, bool single, struct chain_reply *r,
		     size_t n, char *err)
{
	err[0] = '\0';
	return chain_json_replies(s, strlen(s), single, r, n, err, 160);
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
	return check_exit();
}
