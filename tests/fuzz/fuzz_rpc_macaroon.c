/* Fuzz the macaroon decoder and verifier.  Each input is tried as is (it
 * almost never carries a valid signature) and, when it decodes, re-signed
 * with the fuzzer's root key so the identifier (MacaroonId protobuf) and
 * caveat checks run too.  Nothing may crash or leak; a re-signed
 * macaroon may only be accepted if its ops grant the permission. */
#include "rpc/rpc_internal.h"

#include <stdlib.h>
#include <string.h>

static struct rpc_macaroon_svc *svc;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	uint8_t key[32];
	cn_crypto_init();
	log_set_level(NULL, LOG_BROKEN);
	memset(key, 0x42, sizeof(key));
	svc = rpc_macaroon_svc_from_key(key);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rpc_perm need = { "info", "read" };
	struct rpc_mac m;
	char why[160];
	uint8_t *copy;

	if (!svc)
		LLVMFuzzerInitialize(NULL, NULL);
	/* as is: must never be accepted (the key is not in any seed) */
	if (rpc_macaroon_verify(svc, why, sizeof(why), data, size, "/a.B/C",
				&need, 1, "127.0.0.1", 1800000000) ==
	    RPC_STATUS_OK) {
		/* only possible if the input was made with our key */
	}
	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	if (rpc_mac_decode(&m, copy, size)) {
		uint8_t sig[32];
		rpc_mac_expected_sig(sig, svc, &m);
		memcpy((uint8_t *)m.sig.p, sig, 32);
		enum rpc_status st = rpc_macaroon_verify(
			svc, why, sizeof(why), copy, size, "/a.B/C", &need, 1,
			"127.0.0.1", 1800000000);
		struct rpc_mac_ops *ops = rpc_mac_ops_parse(m.id.p, m.id.len);
		if (st == RPC_STATUS_OK &&
		    !(ops && (rpc_mac_ops_allows(ops, "info", "read") ||
			      rpc_mac_ops_allows(ops, "uri", "/a.B/C"))))
			abort(); /* accepted without the permission */
		rpc_mac_ops_free(ops);
	}
	free(copy);
	return 0;
}
