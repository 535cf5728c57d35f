/*~ base58: base58check (Bitcoin's address and extended-key text form):
 * payload || first 4 bytes of SHA256d(payload), as a base-58 number with one
 * '1' per leading zero byte.  Quadratic, but our inputs are at most 82
 * bytes. */
#include "chain/block.h"
#include "wallet/wallet_internal.h"

#include <sodium.h>
#include <string.h>

static const char alphabet[] =
	"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

#define MAX_PAYLOAD 128

bool wallet_base58check_encode(char *out, size_t outlen, const uint8_t *in,
			       size_t len)
{
	uint8_t buf[MAX_PAYLOAD + 4], h[32];
	uint8_t digits[(MAX_PAYLOAD + 4) * 138 / 100 + 1];
	size_t n = len + 4, ndig = 0, zeros = 0, pos = 0;

	if (len > MAX_PAYLOAD)
		return false;
	memcpy(buf, in, len);
	chain_sha256d(h, in, len);
	memcpy(buf + len, h, 4);
	while (zeros < n && buf[zeros] == 0)
		zeros++;
	/* digits[] holds the number in base 58, least significant first. */
	for (size_t i = zeros; i < n; i++) {
		unsigned carry = buf[i];
		for (size_t j = 0; j < ndig; j++) {
			carry += (unsigned)digits[j] << 8;
			digits[j] = carry % 58;
			carry /= 58;
		}
		while (carry) {
			digits[ndig++] = carry % 58;
			carry /= 58;
		}
	}
	if (zeros + ndig + 1 > outlen)
		return false;
	for (size_t i = 0; i < zeros; i++)
		out[pos++] = '1';
	for (size_t i = 0; i < ndig; i++)
		out[pos++] = alphabet[digits[ndig - 1 - i]];
	out[pos] = '\0';
	return true;
}

bool wallet_base58check_decode(uint8_t *out, size_t *outlen, const char *str)
{
	uint8_t bytes[MAX_PAYLOAD + 4], h[32];
	size_t nbytes = 0, zeros = 0, slen = strlen(str);
	bool ok = false;

	/* 128+4 bytes need at most 181 characters. */
	if (slen == 0 || slen > 181)
		return false;
	while (zeros < slen && str[zeros] == '1')
		zeros++;
	/* bytes[] holds the number in base 256, least significant first. */
	for (size_t i = zeros; i < slen; i++) {
		const char *p = strchr(alphabet, str[i]);
		if (!p || !*p)
			goto out;
		unsigned carry = (unsigned)(p - alphabet);
		for (size_t j = 0; j < nbytes; j++) {
			carry += (unsigned)bytes[j] * 58;
			bytes[j] = carry & 0xff;
			carry >>= 8;
		}
		while (carry) {
			if (nbytes >= sizeof(bytes))
				goto out;
			bytes[nbytes++] = carry & 0xff;
			carry >>= 8;
		}
	}
	size_t total = zeros + nbytes;
	if (total < 4 || total > sizeof(bytes))
		goto out;
	uint8_t full[MAX_PAYLOAD + 4];
	memset(full, 0, zeros);
	for (size_t i = 0; i < nbytes; i++)
		full[zeros + i] = bytes[nbytes - 1 - i];
	chain_sha256d(h, full, total - 4);
	if (sodium_memcmp(h, full + total - 4, 4) != 0 ||
	    total - 4 > *outlen) {
		sodium_memzero(full, sizeof(full));
		goto out;
	}
	memcpy(out, full, total - 4);
	*outlen = total - 4;
	/* The text may be an xprv: leave no copy of it behind. */
	sodium_memzero(full, sizeof(full));
	ok = true;
out:
	sodium_memzero(bytes, sizeof(bytes));
	return ok;
}
