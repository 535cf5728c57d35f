/*~ bech32: BIP173 bech32 and BIP350 bech32m strings, and segwit addresses
 * on top of them.  Written from the BIPs' specification text (a maintained
 * C library for it is not packaged in Debian 12). */
#include "wallet/wallet_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static const char charset[] = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

/* BIP350: "M = 0x2bc830a3"; bech32's constant is 1. */
#define BECH32_CONST 1u
#define BECH32M_CONST 0x2bc830a3u
/* BIP173: "a Bech32 string is at most 90 characters long". */
#define MAX_LEN 90

static uint32_t polymod_step(uint32_t pre)
{
	uint8_t b = pre >> 25;
	return ((pre & 0x1ffffff) << 5) ^
	       (-((b >> 0) & 1) & 0x3b6a57b2u) ^
	       (-((b >> 1) & 1) & 0x26508e6du) ^
	       (-((b >> 2) & 1) & 0x1ea119fau) ^
	       (-((b >> 3) & 1) & 0x3d4233ddu) ^
	       (-((b >> 4) & 1) & 0x2a1462b3u);
}

static uint32_t hrp_polymod(const char *hrp)
{
	uint32_t chk = 1;
	size_t n = strlen(hrp);
	for (size_t i = 0; i < n; i++)
		chk = polymod_step(chk) ^ ((unsigned char)hrp[i] >> 5);
	chk = polymod_step(chk);
	for (size_t i = 0; i < n; i++)
		chk = polymod_step(chk) ^ ((unsigned char)hrp[i] & 0x1f);
	return chk;
}

static bool bech32_encode(char *out, size_t outlen, const char *hrp,
			  const uint8_t *data, size_t len,
			  enum bech32_kind kind)
{
	uint32_t chk = hrp_polymod(hrp);
	size_t hl = strlen(hrp), pos = 0;

	if (hl + 1 + len + 6 > MAX_LEN || hl + 1 + len + 6 + 1 > outlen)
		return false;
	memcpy(out, hrp, hl);
	pos = hl;
	out[pos++] = '1';
	for (size_t i = 0; i < len; i++) {
		chk = polymod_step(chk) ^ data[i];
		out[pos++] = charset[data[i]];
	}
	for (int i = 0; i < 6; i++)
		chk = polymod_step(chk);
	chk ^= kind == BECH32M ? BECH32M_CONST : BECH32_CONST;
	for (int i = 0; i < 6; i++)
		out[pos++] = charset[(chk >> ((5 - i) * 5)) & 31];
	out[pos] = '\0';
	return true;
}

enum bech32_kind wallet_bech32_decode(char *hrp, size_t hrplen,
				      uint8_t *data, size_t *data_len,
				      const char *str)
{
	size_t n = strlen(str), sep;
	bool lower = false, upper = false;
	uint32_t chk;

	if (n < 8 || n > MAX_LEN)
		return BECH32_NONE;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)str[i];
		/* BIP173: "characters in the range 33-126". */
		if (c < 33 || c > 126)
			return BECH32_NONE;
		lower |= islower(c) != 0;
		upper |= isupper(c) != 0;
	}
	/* BIP173: "Decoders MUST NOT accept strings where some characters are
	 * uppercase and some are lowercase". */
	if (lower && upper)
		return BECH32_NONE;
	sep = n;
	while (sep > 0 && str[sep - 1] != '1')
		sep--;
	if (sep == 0)
		return BECH32_NONE;
	sep--;
	/* Empty HRP, or fewer than 6 checksum characters. */
	if (sep < 1 || n - sep - 1 < 6 || sep + 1 > hrplen ||
	    n - sep - 1 - 6 > *data_len)
		return BECH32_NONE;
	for (size_t i = 0; i < sep; i++)
		hrp[i] = (char)tolower((unsigned char)str[i]);
	hrp[sep] = '\0';
	chk = hrp_polymod(hrp);
	size_t nd = 0;
	for (size_t i = sep + 1; i < n; i++) {
		const char *p = strchr(charset, tolower((unsigned char)str[i]));
		if (!p || !*p)
			return BECH32_NONE;
		uint8_t v = (uint8_t)(p - charset);
		chk = polymod_step(chk) ^ v;
		if (i < n - 6)
			data[nd++] = v;
	}
	*data_len = nd;
	if (chk == BECH32_CONST)
		return BECH32;
	if (chk == BECH32M_CONST)
		return BECH32M;
	return BECH32_NONE;
}

/* Regroups bits; @pad false is the strict decoding direction (BIP173:
 * "Any incomplete group at the end MUST be 4 bits or less, MUST be all
 * zeroes, and is discarded"). */
static bool convert_bits(uint8_t *out, size_t *outlen, size_t cap, int outbits,
			 const uint8_t *in, size_t inlen, int inbits, bool pad)
{
	uint32_t val = 0, maxv = (1u << outbits) - 1;
	int bits = 0;
	size_t n = 0;
	for (size_t i = 0; i < inlen; i++) {
		val = (val << inbits) | in[i];
		bits += inbits;
		while (bits >= outbits) {
			bits -= outbits;
			if (n >= cap)
				return false;
			out[n++] = (val >> bits) & maxv;
		}
	}
	if (pad) {
		if (bits) {
			if (n >= cap)
				return false;
			out[n++] = (val << (outbits - bits)) & maxv;
		}
	} else if (bits >= inbits || ((val << (outbits - bits)) & maxv)) {
		return false;
	}
	*outlen = n;
	return true;
}

bool wallet_segwit_encode(char *out, size_t outlen, const char *hrp,
			  int witver, const uint8_t *prog, size_t prog_len)
{
	uint8_t data[1 + 65];
	size_t n;
	if (witver < 0 || witver > 16 || prog_len < 2 || prog_len > 40 ||
	    (witver == 0 && prog_len != 20 && prog_len != 32))
		return false;
	data[0] = (uint8_t)witver;
	if (!convert_bits(data + 1, &n, sizeof(data) - 1, 5, prog, prog_len, 8,
			  true))
		return false;
	return bech32_encode(out, outlen, hrp, data, n + 1,
			     witver ? BECH32M : BECH32);
}

#define FAIL(...) do { if (err) snprintf(err, errlen, __VA_ARGS__); \
		return false; } while (0)

bool wallet_segwit_decode(int *witver, uint8_t *prog, size_t *prog_len,
			  char *err, size_t errlen, const char *hrp,
			  const char *addr)
{
	char got[MAX_LEN + 1];
	uint8_t data[MAX_LEN];
	size_t dl = sizeof(data), pl;
	enum bech32_kind k = wallet_bech32_decode(got, sizeof(got), data, &dl,
						  addr);
	if (k == BECH32_NONE)
		FAIL("not a valid bech32/bech32m string");
	if (strcmp(got, hrp) != 0)
		FAIL("address is for another network (prefix %s, want %s)",
		     got, hrp);
	if (dl < 1)
		FAIL("empty data section");
	if (data[0] > 16)
		FAIL("invalid witness version %u", data[0]);
	/* BIP350: "version 0 ... MUST use Bech32; 1 and higher Bech32m". */
	if ((data[0] == 0) != (k == BECH32))
		FAIL("wrong checksum variant for witness version %u", data[0]);
	if (!convert_bits(prog, &pl, *prog_len, 8, data + 1, dl - 1, 5, false))
		FAIL("invalid padding or program too long");
	/* BIP141: program "between 2 and 40 bytes"; v0 is 20 or 32. */
	if (pl < 2 || pl > 40)
		FAIL("invalid program length %zu", pl);
	if (data[0] == 0 && pl != 20 && pl != 32)
		FAIL("invalid program length %zu for witness version 0", pl);
	*witver = data[0];
	*prog_len = pl;
	return true;
}
