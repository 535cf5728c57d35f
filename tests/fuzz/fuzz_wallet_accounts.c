/* Fuzz lnd's accounts JSON reader (jansson underneath plus our checks) on
 * every network: no crash, and every accepted account is self-consistent
 * (its key parses, public, at depth 3; purpose and type agree). */
#include "wallet/wallet_internal.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	cn_crypto_init();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *nets[] = { "mainnet", "testnet", "signet", "regtest" };
	for (size_t n = 0; n < 4; n++) {
		struct wallet_account *a;
		size_t num;
		char err[300];
		if (!wallet_parse_accounts_json(&a, &num, err, sizeof(err),
						nets[n], (const char *)data,
						size))
			continue;
		for (size_t i = 0; i < num; i++) {
			struct wallet_xpub k;
			enum wallet_xkey_family f;
			bool mainnet;
			if (!wallet_xpub_parse(&k, &f, &mainnet, err,
					       sizeof(err), a[i].xpub) ||
			    k.depth != 3 || !wallet_addr_type_name(a[i].type) ||
			    mainnet != (n == 0))
				abort();
		}
		free(a);
	}
	return 0;
}
