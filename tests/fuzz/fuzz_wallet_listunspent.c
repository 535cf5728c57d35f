/* Fuzz the `bitcoin-cli listunspent` JSON reader: no crash, and every
 * accepted entry is within the documented bounds. */
#include "wallet/wallet.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wallet_utxo *u;
	size_t n;
	char err[200];

	if (wallet_parse_listunspent(&u, &n, err, sizeof(err),
				     (const char *)data, size)) {
		for (size_t i = 0; i < n; i++)
			if (u[i].amount_sat < 0 ||
			    u[i].amount_sat > WALLET_MAX_SAT ||
			    strlen(u[i].txid) != 64 || u[i].confirmations < 0)
				abort();
		free(u);
	}
	return 0;
}
