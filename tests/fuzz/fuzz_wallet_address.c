/* Fuzz the address decoders (bech32/bech32m segwit, base58check P2SH) and
 * the extended-key parser: no crash; whatever decodes re-encodes to the
 * same address (lowercased for bech32). */
#include "wallet/wallet_internal.h"

#include <ctype.h>
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
	static const char *nets[] = { "mainnet", "testnet", "regtest" };
	char s[256], low[256], back[128], err[200];
	uint8_t script[64];
	size_t len;

	if (size >= sizeof(s))
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (strlen(s) != size)
		return 0;
	for (size_t n = 0; n < 3; n++) {
		const struct wallet_net *net = wallet_net_find(nets[n]);
		len = sizeof(script);
		if (!wallet_address_script(script, &len, err, sizeof(err), net, s))
			continue;
		if (!wallet_script_address(back, sizeof(back), net, script, len))
			abort();
		for (size_t i = 0; i <= size; i++)
			low[i] = script[0] == 0xa9 ? s[i]
				 : (char)tolower((unsigned char)s[i]);
		if (strcmp(back, low) != 0)
			abort();
	}
	struct wallet_xpub k;
	enum wallet_xkey_family f;
	bool mainnet;
	if (wallet_xpub_parse(&k, &f, &mainnet, err, sizeof(err), s)) {
		if (!wallet_xpub_format(back, sizeof(back), &k, f, mainnet) ||
		    strcmp(back, s) != 0)
			abort();
	}
	return 0;
}
